"""Issue 21: copying a mouse selection gives the text as written, not as wrapped.

A paragraph the layout wrapped at the window width comes out of Ctrl+C as one line (the
wrap point is the space that was there, or nothing inside a word cut to fit), whatever
the width; real line breaks stay; band padding, hanging indents and trailing blanks are
not copied. Driven as a person would: the real app against the real dev server, a drag
with the mouse, Ctrl+C, the app's clipboard.
"""

from __future__ import annotations

from random import Random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.style import Style
from textual.geometry import Offset
from textual.pilot import Pilot
from textual.selection import Selection

from dialogtui.api.models import (
    Block,
    Cell,
    FilePart,
    FormPart,
    ImagePart,
    ListItem,
    Part,
    Price,
    Product,
    ProductsPart,
    QuickRepliesPart,
    RichTextPart,
    Span,
    Suggestion,
    SuggestionsPart,
    TablePart,
    TextPart,
    UnknownPart,
)
from dialogtui.devserver import DevServer
from dialogtui.devserver.content import DOCS_URL
from dialogtui.ui.app import DialogApp
from dialogtui.ui.clipboard import ENV_CLIPBOARD
from dialogtui.ui.search import SearchBar
from dialogtui.ui.render import (
    JOIN_CHOP,
    JOIN_HARD,
    Frame,
    ParagraphLayout,
    line_text,
    render_part,
)
from dialogtui.ui.transcript import Transcript

from .test_app import make_app, ready, send, turn_finished, wait_for
from .test_keys_and_copy import TranscriptApp
from .test_transcript import ASCII_PIECE, CONSOLE, STYLES

WIDTHS = [100, 52]
"""Two window widths: the same selection must copy the same text at both."""

HEIGHT = 40


@pytest.fixture(autouse=True)
def _osc52_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # No system clipboard tool is touched: the copy lands on the app's own clipboard.
    monkeypatch.setenv(ENV_CLIPBOARD, "osc52")


def _screen_lines(transcript: Transcript) -> list[str]:
    """Every line of the transcript as drawn, by line number (all laid out)."""
    total = transcript.document.heights.total
    return [line_text(transcript._entry_line_at(number)[1]) for number in range(total)]


def _find(transcript: Transcript, needle: str, *, after: int = 0) -> Offset:
    """The line and column where `needle` is drawn (the first time at or below line
    `after`); it must be on one line."""
    for number, text in enumerate(_screen_lines(transcript)):
        column = text.find(needle)
        if number >= after and column >= 0:
            return Offset(column, number)
    raise AssertionError(f"{needle!r} is not drawn on one line")


async def _reply_to(pilot: Pilot[None], app: DialogApp, message: str) -> None:
    await ready(pilot)
    await send(pilot, message)
    await wait_for(pilot, turn_finished(app))
    await pilot.pause()


async def _drag_copy(pilot: Pilot[None], app: DialogApp, start: Offset, end: Offset) -> str:
    """Drag from the cell at `start` to the cell at `end` (lines of the transcript; both
    cells selected), press Ctrl+C and return what reached the clipboard."""
    transcript = app.transcript
    transcript.scroll_to(y=max(0, start.y - 1), animate=False)
    await pilot.pause()
    top = transcript.scroll_offset.y
    assert end.y - top < transcript.scrollable_content_region.height, "both ends on screen"
    left = transcript.gutter.left
    down, up = (left + start.x, start.y - top), (left + end.x, end.y - top)
    await pilot.mouse_down(Transcript, offset=down)
    await pilot.hover(Transcript, offset=up)
    await pilot.mouse_up(Transcript, offset=up)
    await pilot.pause()
    await pilot.press("ctrl+c")
    await pilot.pause()
    return app.clipboard


def _last_cell(place: Offset, needle: str) -> Offset:
    return Offset(place.x + len(needle) - 1, place.y)


WORDS = " ".join(f"word{number}" for number in range(60))


@pytest.mark.parametrize("width", WIDTHS)
async def test_a_wrapped_paragraph_copies_as_one_line_at_any_width(
    server: DevServer, width: int
) -> None:
    app = make_app(server)
    async with app.run_test(size=(width, HEIGHT)) as pilot:
        await _reply_to(pilot, app, WORDS)
        transcript = app.transcript
        start = _find(transcript, "You said:")
        end_word = "final part."
        end = _last_cell(_find(transcript, end_word, after=start.y), end_word)
        assert end.y - start.y >= 5, "the paragraph is wrapped over several lines"
        copied = await _drag_copy(pilot, app, start, end)
        assert copied == (
            f"You said: “{WORDS}”. This is the Dialog Intelligens demo server, a local "
            f"stand-in for the real API. Read more in the API docs [{DOCS_URL}].\n"
            "\n"
            "• Replies stream as part deltas and are then replaced by the final part."
        )


@pytest.mark.parametrize("width", WIDTHS)
async def test_a_word_cut_to_fit_copies_whole(server: DevServer, width: int) -> None:
    long_word = "".join(f"{number:03d}" for number in range(70))  # 210 characters, no space
    message = f"before {long_word} after"
    app = make_app(server)
    async with app.run_test(size=(width, HEIGHT)) as pilot:
        await _reply_to(pilot, app, message)
        transcript = app.transcript
        # The message as sent, in its band (plain ASCII: the fast wrapping path).
        start = _find(transcript, "before")
        end = _last_cell(_find(transcript, "after", after=start.y), "after")
        assert end.y - start.y >= 3, "the word is cut over several lines"
        assert await _drag_copy(pilot, app, start, end) == message
        # A double click on a piece of it selects the word: all of it.
        middle = start.y + 2
        assert _screen_lines(transcript)[middle].strip().isdigit()
        y = middle - transcript.scroll_offset.y
        await pilot.click(Transcript, offset=(transcript.gutter.left + 9, y), times=2)
        await pilot.pause()
        assert app.screen.get_selected_text() == long_word
        # Echoed in the reply between curly quotes (the general wrapping path).
        start = _find(transcript, "You said:")
        end = _last_cell(_find(transcript, "after”.", after=start.y), "after”.")
        assert await _drag_copy(pilot, app, start, end) == f"You said: “{message}”."


ITEMS = [
    "• Replies stream as part deltas and are then replaced by the final part.",
    "• Prices below are real made up.",
    "• Mention table, form, quick or image, or add a magic word such as !slow or !rate_limited.",
]


async def test_a_list_item_copies_without_its_hanging_indent(server: DevServer) -> None:
    app = make_app(server)
    async with app.run_test(size=(WIDTHS[1], HEIGHT)) as pilot:
        await _reply_to(pilot, app, "a list, please")
        transcript = app.transcript
        first = _find(transcript, "• Replies")
        last_word = "!rate_limited."
        end = _last_cell(_find(transcript, last_word, after=first.y), last_word)
        lines = _screen_lines(transcript)[first.y : end.y + 1]
        hanging = [text for text in lines if text.startswith("  ") and text.strip()]
        assert hanging, "an item is wrapped under its bullet"
        assert await _drag_copy(pilot, app, first, end) == "\n".join(ITEMS)
        # From the middle of the last item's second line to its end.
        middle = _find(transcript, "magic", after=first.y)
        assert lines[middle.y - first.y].startswith("  "), "inside the wrapped item"
        copied = await _drag_copy(pilot, app, middle, end)
        assert copied == "magic word such as !slow or !rate_limited."
        # A triple click takes the whole list: one line per item.
        top = transcript.scroll_offset.y
        click = (transcript.gutter.left + 3, middle.y - top)
        await pilot.click(Transcript, offset=click, times=3)
        await pilot.pause()
        assert app.screen.get_selected_text() == "\n".join(ITEMS)


@pytest.mark.parametrize("width", WIDTHS)
async def test_a_selection_from_mid_line_to_mid_line_copies_exactly_that(
    server: DevServer, width: int
) -> None:
    app = make_app(server)
    async with app.run_test(size=(width, HEIGHT)) as pilot:
        await _reply_to(pilot, app, WORDS)
        transcript = app.transcript
        said = _find(transcript, "You said:")
        start = _find(transcript, "word12 ", after=said.y)
        # Up to the middle of "word47": "word4" of it.
        end = _last_cell(_find(transcript, "word47", after=start.y), "word4")
        lines = _screen_lines(transcript)
        assert lines[start.y][: start.x].strip(), "the selection starts mid-line"
        assert lines[end.y][end.x + 1 :].strip(), "and ends mid-line"
        assert end.y > start.y
        copied = await _drag_copy(pilot, app, start, end)
        assert copied == WORDS[WORDS.index("word12 ") : WORDS.index("word47") + 5]


# ---------------------------------------------------------------------------------------------
# The layout's record of wrapped lines (`joins`), which the copy reads


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(ASCII_PIECE, max_size=6), min_size=1, max_size=12),
    st.integers(1, 30),
    st.sampled_from(["", "• "]),
)
def test_the_fast_ascii_layout_records_the_joins_of_the_general_one(
    pushes: list[list[tuple[str, Style | None]]], width: int, prefix: str
) -> None:
    frame = Frame(width + 3, left=1, right=0)
    fast = ParagraphLayout(frame, STYLES, CONSOLE, prefix, " " * len(prefix))
    general = ParagraphLayout(frame, STYLES, CONSOLE, prefix, " " * len(prefix))
    general._runs = None  # the Rich `Text` path throughout
    for pieces in pushes:
        fast._push(list(pieces))
        general._push(list(pieces))
        assert fast.joins == general.joins
        assert len(fast.joins) == len(fast.lines)


LONG = "a sentence long enough to wrap at most widths, with a " + "verylongword" * 5
EVERY_PART: list[Part] = [
    TextPart(text=f"{LONG}\n\n{LONG}"),
    RichTextPart(
        blocks=[
            Block(type="paragraph", spans=[Span(text=LONG)]),
            Block(type="bullet_list", items=[ListItem(spans=[Span(text=LONG)])] * 2),
        ]
    ),
    ProductsPart(products=[Product(title=LONG, description=LONG, price=Price(1, "DKK"), url=LONG)]),
    TablePart(headers=["a", "b"], caption=LONG, rows=[[Cell(text=LONG), Cell(text="2")]]),
    ImagePart(url="https://e.example/i.png", caption=LONG),
    FilePart(url="https://e.example/f.pdf", filename=LONG),
    SuggestionsPart(suggestions=[Suggestion(title=LONG)] * 2),
    QuickRepliesPart(replies=[LONG, "q"]),
    FormPart(),
    UnknownPart(type=LONG),
]


def test_every_part_records_a_join_for_each_of_its_lines() -> None:
    for width in (3, 9, 30):
        frame = Frame(width, left=1, right=1)
        for part in EVERY_PART:
            joins = bytearray()
            lines = render_part(part, frame, STYLES, CONSOLE, joins)
            assert len(joins) == len(lines), (width, part)
            assert not joins or joins[0] == JOIN_HARD
    # Lines of their own: a table's rows and a card's lines; wrapped: a long file URL.
    frame = Frame(30)
    table = TablePart(headers=["a"], rows=[[Cell(text="one two three four five six")]] * 2)
    joins = bytearray()
    assert len(render_part(table, frame, STYLES, CONSOLE, joins)) > 4
    assert not any(joins)
    url = "https://files.example/" + "x" * 60
    joins = bytearray()
    render_part(FilePart(url=url, filename="f.pdf"), frame, STYLES, CONSOLE, joins)
    assert JOIN_CHOP in joins


def _random_text(random: Random) -> str:
    """Lines of words one space apart, as most text is (so copied whole they come back
    exact): short words, words longer than a line (cut to fit), wide and non-ASCII ones."""

    def word() -> str:
        kind = random.randrange(10)
        if kind == 0:
            return "".join(random.choice("xyz") for _ in range(random.randint(25, 70)))
        if kind == 1:
            return random.choice(["“quoted”", "界界界", "naïve", "-", "word,"])
        return "".join(random.choice("abcdefghij") for _ in range(random.randint(1, 9)))

    lines = [
        " ".join(word() for _ in range(random.randint(1, 30))) for _ in range(random.randint(1, 3))
    ]
    return "\n".join(lines)


async def test_whole_entries_copy_back_as_written_at_several_widths() -> None:
    """Entries selected whole give their text as written, at each width: a message in its
    band, the same lines as list items under bullets, a notice with a hanging indent.
    Random texts, seeded: the same every run."""
    random = Random(21)
    samples = [_random_text(random) for _ in range(25)]
    app = TranscriptApp()
    async with app.run_test(size=(90, 30)) as pilot:
        transcript = app.query_one(Transcript)
        for width in (90, 41, 23):
            await pilot.resize_terminal(width, 30)
            for text in samples:
                transcript.clear()
                transcript.add_entry("user", [TextPart(text=text)])
                items = [ListItem(spans=[Span(text=line)]) for line in text.split("\n")]
                transcript.add_entry(
                    "assistant", [RichTextPart(blocks=[Block(type="bullet_list", items=items)])]
                )
                first_line = text.split("\n")[0]
                transcript.add_notice(first_line, variant="warning")
                await pilot.pause()
                copied = transcript.get_selection(Selection(None, None))
                assert copied is not None
                bullets = "\n".join(f"• {line}" for line in text.split("\n"))
                expected = f"You\n{text}\n\nAssistant\n{bullets}\n\n⚠ {first_line}"
                assert copied[0] == expected, (width, text)


async def test_copy_as_plain_text_joins_wrapped_lines_and_is_the_same_at_any_width(
    server: DevServer,
) -> None:
    """Shift+F4 copies a reply as written: a paragraph on one line, each list item on one
    line without its hanging indent, a table and a product card as their lines (at their
    own width, not the window's); F4 (its Markdown) too is the same at two widths."""
    app = make_app(server)
    async with app.run_test(size=(100, HEIGHT)) as pilot:
        await _reply_to(pilot, app, f"a table, please {WORDS}")
        copies: dict[str, list[str]] = {"shift+f4": [], "f4": []}
        card_tops: list[str] = []
        for width in (100, 56):
            await pilot.resize_terminal(width, HEIGHT)
            await pilot.pause()
            transcript = app.transcript
            lines = _screen_lines(transcript)
            assert [text for text in lines if text.lstrip().startswith("word")], "wrapped"
            card_tops.append(
                next(text.strip() for text in lines if text.startswith("╭─") and "┬" not in text)
            )
            for key, made in copies.items():
                app.transcript.focus()
                await pilot.press(key)
                await pilot.pause()
                made.append(app.clipboard)
        assert len(card_tops[0]) > len(card_tops[1]), "a card drawn narrower on a narrow screen"
        plain, markdown = copies["shift+f4"], copies["f4"]
        assert plain[0] == plain[1]
        assert markdown[0] == markdown[1]
        copied = plain[0].split("\n")
        said = f"You said: “a table, please {WORDS}”."
        assert copied[0].startswith(said)  # the paragraph: one line
        assert copied[0].endswith(f"Read more in the API docs [{DOCS_URL}].")
        assert ITEMS[0] in copied  # an item: one line, no hanging indent
        assert ITEMS[2] in copied
        # The table and the card keep their lines (borders included).
        assert any(line.startswith("╭") and "┬" in line for line in copied)
        assert any(line.startswith("╭─") and "┬" not in line for line in copied)
        assert not any(line.startswith(" ") for line in copied)
        assert "headers" not in plain[0]  # the footer's timings are not the reply


def _marked(transcript: Transcript, name: str) -> dict[int, str]:
    """The text drawn in the style `name` (a search highlight), by row of the viewport."""
    style = transcript.get_component_rich_style(name, partial=True)
    strips = transcript.render_lines(transcript.region.reset_offset)
    rows: dict[int, str] = {}
    for row, strip in enumerate(strips):
        text = "".join(
            t
            for t, s, _ in strip
            if s is not None and (s.bgcolor, s.color) == (style.bgcolor, style.color)
        )
        if text:
            rows[row] = text
    return rows


async def test_search_finds_a_phrase_the_layout_wrapped(server: DevServer) -> None:
    """Ctrl+F finds a phrase split over two lines by the wrapping (at its space), counts it
    once, highlights both pieces, and Enter / Shift+Enter move to it."""
    app = make_app(server)
    async with app.run_test(size=(WIDTHS[1], HEIGHT)) as pilot:
        await _reply_to(pilot, app, WORDS)
        transcript = app.transcript
        lines = _screen_lines(transcript)
        echo = _find(transcript, "You said:").y
        # A line of the echoed paragraph ending in one word, the next starting with the next.
        split = next(
            number
            for number in range(echo, len(lines) - 1)
            if (words := lines[number].split())
            and words[-1].startswith("word")
            and lines[number + 1].split()[0] == f"word{int(words[-1][4:]) + 1}"
        )
        first, second = lines[split].split()[-1], lines[split + 1].split()[0]
        phrase = f"{first} {second}"
        await pilot.press("ctrl+f")
        await pilot.press(*phrase)
        await pilot.pause()
        bar = app.screen.query_one(SearchBar)
        # The message as sent and its echo in the reply: two matches, whatever the wrapping.
        assert transcript.search_matches == 2
        assert bar.border_subtitle == "2 matches"
        await pilot.pause()
        top = transcript.scroll_offset.y
        # The newest (the echo) is current: both its pieces are highlighted.
        current = _marked(transcript, "transcript--match-current")
        assert current == {split - top: first, split + 1 - top: second}
        await pilot.press("enter")  # to the next, wrapping round: the message as sent
        await pilot.pause()
        assert bar.border_subtitle == "1 of 2"
        await pilot.press("shift+enter")
        await pilot.pause()
        assert bar.border_subtitle == "2 of 2"
        top = transcript.scroll_offset.y
        current = _marked(transcript, "transcript--match-current")
        assert current == {split - top: first, split + 1 - top: second}


async def test_search_finds_text_across_a_word_cut_to_fit() -> None:
    long_word = "".join(f"{number:03d}" for number in range(70))  # 210 characters, no space
    app = TranscriptApp()
    async with app.run_test(size=(60, 20)) as pilot:
        transcript = app.query_one(Transcript)
        transcript.add_entry("assistant", [TextPart(text=f"before {long_word} after")])
        await pilot.pause()
        lines = _screen_lines(transcript)
        cut = next(number for number, text in enumerate(lines) if text.strip().isdigit())
        tail, head = lines[cut].rstrip()[-4:], lines[cut + 1].lstrip()[:5]
        assert long_word.count(tail + head) == 1
        assert transcript.search(tail + head) == 1
        await pilot.pause()
        top = transcript.scroll_offset.y
        current = _marked(transcript, "transcript--match-current")
        assert current == {cut - top: tail, cut + 1 - top: head}
