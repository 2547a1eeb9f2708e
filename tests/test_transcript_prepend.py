"""Older history put above what is shown: the document's bookkeeping (no Textual), and the
widget keeping the reader's place, selection, search and cursor (Pilot, 80x24)."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.geometry import Offset
from textual.selection import Selection

from dialogtui.api.models import TextPart
from dialogtui.conversation.outcome import Outcome
from dialogtui.ui.transcript import OlderEntry, Transcript, TranscriptDocument


def _doc_with(count: int, height: int = 3) -> TranscriptDocument:
    doc = TranscriptDocument()
    for number in range(count):
        doc.append(doc.new_entry("user", [TextPart(text=f"m{number}")], Outcome.DONE), height)
    return doc


def test_prepend_keeps_ids_and_moves_positions_heights_and_tables() -> None:
    doc = _doc_with(4)
    ids = [doc.entry_id(entry) for entry in doc.entries]
    doc.dirty[3] = doc.entries[3]
    doc.live[2] = doc.entries[2]
    line_of_third = doc.heights.prefix(2) + 1  # a line the reader looks at
    version = doc.version
    added = [doc.new_notice("older", "info"), doc.new_entry("assistant", [], Outcome.DONE)]
    grown = doc.prepend(added, lambda entry: 2 if entry.index == 0 else 5)
    assert grown == 2 + 5 + 1  # the estimates, and the gap line the old first entry gets
    assert [entry.index for entry in doc.entries] == list(range(6))
    assert [doc.entry_id(entry) for entry in doc.entries[2:]] == ids  # nothing renamed
    new_ids = [doc.entry_id(entry) for entry in added]
    assert new_ids == [ids[0] - 2, ids[0] - 1]
    assert doc.entry(new_ids[0]) is added[0] and doc.entry(ids[3]) is doc.entries[5]
    assert [doc.heights.value(i) for i in range(6)] == [2, 5, 4, 3, 3, 3]
    assert doc.heights.total == sum([2, 5, 4, 3, 3, 3])
    assert doc.entries[2].gen == -1  # its gap changed: laid out again
    assert doc.dirty == {5: doc.entries[5]} and doc.live == {4: doc.entries[4]}
    assert doc.version > version
    # The same line of the same entry is `grown` lines further down.
    assert doc.heights.find(line_of_third + grown) == (4, 1)


def test_prepend_on_an_empty_document_adds_no_gap() -> None:
    doc = TranscriptDocument()
    added = [doc.new_notice("a", "info"), doc.new_notice("b", "info")]
    assert doc.prepend(added, lambda entry: 1) == 2
    assert doc.heights.total == 2 and doc.prepend([], lambda entry: 1) == 0


def test_ids_are_never_reused_across_clear_and_prepend() -> None:
    doc = _doc_with(3)
    before = {doc.entry_id(entry) for entry in doc.entries}
    doc.prepend([doc.new_notice("x", "info")], lambda entry: 1)
    before |= {doc.entry_id(entry) for entry in doc.entries}
    doc.clear()
    assert all(doc.entry(entry_id) is None for entry_id in before)
    doc.append(doc.new_notice("after", "info"), 1)
    for _ in range(3):  # older pages after the clear take ids no one had
        doc.prepend([doc.new_notice("older", "info")], lambda entry: 1)
    after = {doc.entry_id(entry) for entry in doc.entries}
    assert len(after) == 4 and not after & before


class TranscriptApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Transcript()


def _older(first: int, count: int) -> list[OlderEntry]:
    return [
        OlderEntry("user" if number % 2 == 0 else "assistant", [TextPart(text=f"older {number}")])
        for number in range(first, first + count)
    ]


async def test_the_view_stays_on_the_lines_being_read_when_older_entries_arrive() -> None:
    async with TranscriptApp().run_test(size=(80, 24)) as pilot:
        transcript = pilot.app.query_one(Transcript)
        for number in range(40):
            transcript.add_entry("user", [TextPart(text=f"message {number}")])
        await pilot.pause()
        transcript.scroll_home(animate=False)
        await pilot.pause()
        before = transcript.visible_text()
        assert before.startswith("You\nmessage 0")
        ids = transcript.entry_ids
        new_ids = transcript.prepend(_older(0, 30))
        await pilot.pause()
        assert transcript.visible_text() == before  # the same lines, in the same place
        assert transcript.entry_ids == new_ids + ids
        assert not transcript.follow
        transcript.scroll_home(animate=False)
        await pilot.pause()
        assert transcript.visible_text().startswith("You\nolder 0")
        # The old first entry now has the gap line above it, as every entry but the first.
        assert transcript.entry_text(ids[0]) == "You\nmessage 0"
        # Mid-way, too: after scrolling a few lines into an entry.
        transcript.scroll_to(y=7, animate=False)
        await pilot.pause()
        before = transcript.visible_text()
        transcript.prepend(_older(100, 5))
        await pilot.pause()
        assert transcript.visible_text() == before
        # Everything laid out: the scrollable height is exact.
        for entry in transcript.document.entries:
            if entry.gen != transcript._gen:
                transcript._build(entry)
        transcript.visible_text()
        total = sum(entry.height for entry in transcript.document.entries)
        assert transcript.virtual_size.height == total


async def test_following_the_end_stays_at_the_end() -> None:
    async with TranscriptApp().run_test(size=(80, 24)) as pilot:
        transcript = pilot.app.query_one(Transcript)
        for number in range(40):
            transcript.add_entry("user", [TextPart(text=f"message {number}")])
        await pilot.pause()
        assert transcript.follow
        transcript.prepend(_older(0, 10))
        await pilot.pause()
        assert transcript.visible_text().splitlines()[-1] == "message 39"


async def test_selection_search_and_cursor_stay_on_their_text() -> None:
    async with TranscriptApp().run_test(size=(80, 24)) as pilot:
        transcript = pilot.app.query_one(Transcript)
        for number in range(30):
            transcript.add_entry("user", [TextPart(text=f"message {number} needle")])
        await pilot.pause()
        transcript.scroll_home(animate=False)
        await pilot.pause()
        # Select "message 1" (the first entry's text line).
        pilot.app.screen.selections = {transcript: Selection(Offset(0, 1), Offset(14, 1))}
        await pilot.pause()
        assert transcript.text_selection is not None
        selected = transcript.get_selection(transcript.text_selection)[0]  # type: ignore[index]
        assert selected.startswith("message 0")
        assert transcript.search("needle") == 30
        transcript.goto_match(1)  # wraps to the first match: in "message 0 needle"
        cursor = transcript.move_cursor(-1)
        transcript.prepend([OlderEntry("user", [TextPart(text="older needle")])])
        await pilot.pause()
        selection = transcript.text_selection
        assert selection is not None
        assert transcript.get_selection(selection)[0] == selected  # type: ignore[index]
        assert selection.start is not None and selection.start.y > 1  # it moved down
        assert transcript.search_matches == 31
        # The current match is still the one in "message 0": now the second of 31.
        assert transcript.goto_match(1) == (3, 31)
        assert "message 1 needle" in transcript.visible_text()
        assert transcript.cursor_entry == cursor
