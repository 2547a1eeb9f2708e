"""A key /auth rejected is never sent to /auth again by the same client: every later path
(start-up's history, each send, Retry, Ctrl+N, F3, each turn of `run`) reports the rejection
instead of asking again. Counted at the real local server."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from dialogtui import exitcodes
from dialogtui.commands.run import run_script
from dialogtui.devserver import DEMO_CHATBOT_ID, DevServer

from .test_app import SIZE, make_app, send, turn_finished, wait_for

WRONG_KEY = "not-the-demo-key"


def auth_calls(server: DevServer) -> int:
    return sum(1 for route, _ in server.stats.requests if route.endswith(("/auth", "/auth/reset")))


async def test_the_app_sends_a_rejected_key_to_auth_once(server: DevServer) -> None:
    app = make_app(server, api_key=WRONG_KEY)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: auth_calls(server) >= 1)
        await wait_for(pilot, lambda: "Not connected" in str(app.query_one("#status").render()))
        for text in ("hello", "hello again"):
            await send(pilot, text)
            await wait_for(pilot, turn_finished(app))
        await pilot.press("ctrl+r")  # retry the failed reply
        await pilot.pause(0.2)
        await pilot.press("ctrl+n")  # a new conversation: /auth/reset or /auth
        await pilot.pause(0.2)
        await pilot.press("f3")  # a fresh visitor: /auth
        await pilot.pause(0.3)
        assert app.transcript.visible_text().count("✖") >= 3  # each one said why
    assert auth_calls(server) == 1


def test_run_sends_a_rejected_key_to_auth_once(
    server: DevServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIALOGTUI_API_KEY", WRONG_KEY)
    script = tmp_path / "script.txt"
    script.write_text("one\ntwo\nthree\n")
    args = argparse.Namespace(
        file=str(script),
        json=True,
        stop_on_error=False,
        demo=False,
        scenario=None,
        base_url=server.base_url,
        chatbot_id=DEMO_CHATBOT_ID,
        visitor_token_stdin=False,
        no_save=True,
    )
    assert run_script(args) == exitcodes.FAILED
    assert auth_calls(server) == 1
