"""Older history in the app: scrolling to the top loads the page before the oldest message
shown, from the real dev server; the view stays on what the person was reading, and the line
above the transcript says what lies beyond its top."""

from __future__ import annotations

import pytest

from dialogtui.conversation import core
from dialogtui.devserver import DevServer

from .test_app import SIZE, make_app, ready, wait_for


def edge_text(app) -> str:  # type: ignore[no-untyped-def]
    edges = app.main.query("#history-edge")
    return edges.first().text if edges and edges.first().display else ""


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
        conversation = app.main.conversation
        assert conversation is not None
        shown = transcript.entry_count
        requests = server.stats.count("GET /messages")
        expected = iter([100, 100, 30])
        while True:
            first = transcript.entry_ids[0]
            reading = transcript.entry_text(first)
            transcript.focus()
            # The keys go to the transcript (the composer takes focus once, as it takes over).
            await wait_for(pilot, lambda: app.focused is transcript)
            await pilot.press("home")
            step = next(expected, 0)
            if not step:
                break
            shown += step
            await wait_for(pilot, lambda wanted=shown: transcript.entry_count == wanted)
            await wait_for(pilot, lambda: not conversation.loading_older)
            await pilot.pause()
            # What was at the top is still at the top: the page went above it, off screen.
            assert transcript.visible_text().startswith(reading)
            assert transcript.entry_ids[step] == first
            assert edge_text(app) == ""  # scrolled away from the top by the page above
        await pilot.pause()
        assert transcript.visible_text().startswith("You\nEarlier question #1")
        assert edge_text(app) == "Start of the conversation"
        # One request per page, none once the start is shown (Home again asked nothing).
        assert server.stats.count("GET /messages") == requests + 3
        texts = [transcript.entry_text(i) for i in transcript.entry_ids]
        assert len(texts) == len(set(texts))  # nothing shown twice


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
