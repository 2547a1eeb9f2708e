"""Older history in the app: scrolling to the top loads the page before the oldest message
shown, from the real dev server; the view stays on what the person was reading, and the line
above the transcript says what lies beyond its top."""

from __future__ import annotations

import pytest

from dialogtui.conversation import core
from dialogtui.conversation.events import ConversationChanged, Event
from dialogtui.devserver import DevServer

from .test_app import SIZE, make_app, ready, wait_for


def edge_text(app) -> str:  # type: ignore[no-untyped-def]
    edges = app.main.query("#history-edge")
    return edges.first().text if edges and edges.first().display else ""


def older_load_done(app) -> bool:  # type: ignore[no-untyped-def]
    """The load of older history has finished, the line above the transcript updated too (the
    conversation stops `loading_older` before the worker that updates that line ends)."""
    return not any(w.group == "older-history" and not w.is_finished for w in app.workers)


async def test_scrolling_to_the_top_loads_older_pages_and_keeps_the_view(
    server: DevServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.config.history_messages = 260
    monkeypatch.setattr(core, "HISTORY_LIMIT", 30)  # shown at open; 230 older to page through
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        transcript = app.transcript
        assert "older ones load when you scroll to the top" in transcript.entry_text(
            transcript.entry_ids[-1]
        )
        shown = transcript.entry_count
        requests = server.stats.count("GET /messages")
        expected = iter([100, 100, 30])
        while True:
            first = transcript.entry_ids[0]
            reading = transcript.entry_text(first)
            transcript.focus()
            # The keys go to the transcript (the composer takes focus once, as it takes over),
            # and Home has somewhere to go: the transcript is laid out, away from its top.
            await wait_for(pilot, lambda: app.focused is transcript and transcript.scroll_y > 0)
            await pilot.press("home")
            step = next(expected, 0)
            if not step:
                break
            shown += step
            await wait_for(pilot, lambda wanted=shown: transcript.entry_count == wanted)
            await wait_for(pilot, lambda: older_load_done(app))
            # What was at the top is still at the top: the page went above it, off screen.
            assert transcript.visible_text().startswith(reading)
            assert transcript.entry_ids[step] == first
            assert edge_text(app) == ""  # scrolled away from the top by the page above
        # Home glides: at the top, the line above says the conversation starts there.
        await wait_for(pilot, lambda: transcript.scroll_y == 0)
        await wait_for(pilot, lambda: edge_text(app) == "Start of the conversation")
        assert transcript.visible_text().startswith("You\nEarlier question #1")
        # One request per page, none once the start is shown (Home again asked nothing).
        assert server.stats.count("GET /messages") == requests + 3
        texts = [transcript.entry_text(i) for i in transcript.entry_ids]
        assert len(texts) == len(set(texts))  # nothing shown twice


async def test_a_near_top_that_arrives_after_the_page_moved_the_view_loads_nothing(
    server: DevServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Home glides to the top, the transcript saying "near the top" at every frame; on a busy
    machine one of those can still be queued when the page lands above and moves the view a
    page down. Handled then, it must not load the page after (the person never scrolled to
    it) nor say the top is in view."""
    server.config.history_messages = 260
    monkeypatch.setattr(core, "HISTORY_LIMIT", 30)
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        transcript = app.transcript
        shown = transcript.entry_count
        requests = server.stats.count("GET /messages")
        await wait_for(pilot, lambda: transcript.scroll_y > 2)  # laid out, at its end
        transcript.scroll_to(y=2, animate=False, immediate=True)  # near the top: a page loads
        await wait_for(pilot, lambda: transcript.entry_count == shown + 100)
        await wait_for(pilot, lambda: older_load_done(app))
        assert transcript.scroll_y >= transcript.scrollable_content_region.height
        assert server.stats.count("GET /messages") == requests + 1
        # The message posted at the top of the glide, handled only now.
        app.main.on_transcript_near_top(transcript.NearTop(at_top=True))
        assert older_load_done(app)  # no load started
        assert edge_text(app) == ""
        await pilot.pause()
        assert transcript.entry_count == shown + 100
        assert server.stats.count("GET /messages") == requests + 1
        # Scrolled near the top again, the next page loads.
        transcript.scroll_to(y=2, animate=False, immediate=True)
        await wait_for(pilot, lambda: transcript.entry_count == shown + 200)
        assert server.stats.count("GET /messages") == requests + 2


async def test_scrolling_up_right_after_the_history_shows_is_not_undone(
    server: DevServer,
) -> None:
    """Showing a conversation puts its end in view. A person who scrolls up (or presses
    Home) before the next frame, as on a busy machine, stays where they went: the end is not
    forced into view once more after that frame."""
    server.config.history_messages = 60
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        transcript = app.transcript
        conversation = app.main.conversation
        assert conversation is not None

        def scroll_up_at_once(event: Event) -> None:
            if isinstance(event, ConversationChanged):  # the history has just been shown
                transcript.visible_text()  # laid out
                assert transcript.scroll_y == transcript.max_scroll_y > 5  # at its end
                transcript.scroll_to(y=transcript.max_scroll_y - 5, animate=False, immediate=True)

        conversation.listen(scroll_up_at_once)
        await conversation.reload()
        place = transcript.scroll_y
        assert place > 0 and not transcript.follow
        # Whatever the showing left to run after the next frame has run now.
        await transcript.wait_for_refresh()
        await pilot.pause()
        assert transcript.scroll_y == place
        assert not transcript.follow


async def test_the_palette_command_loads_older_messages(
    server: DevServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.config.history_messages = 50
    monkeypatch.setattr(core, "HISTORY_LIMIT", 20)
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        shown = app.transcript.entry_count
        commands = {command.title: command for command in app.get_system_commands(app.main)}
        commands["Load older messages"].callback()
        await wait_for(pilot, lambda: app.transcript.entry_count == shown + 30)
        # The person stayed at the end, where they were.
        assert app.transcript.follow
        assert "older ones load" in app.transcript.visible_text()
