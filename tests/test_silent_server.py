"""A server that accepts connections and never answers: the app says it is connecting, then,
after the configured timeouts (small here), the safe message. One request, not a retry per
start-up step: counted at a real socket that accepts and never reads or writes."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dialogtui import exitcodes
from dialogtui.api.timeouts import Timeouts
from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID
from dialogtui.target import Target
from dialogtui.ui.app import DialogApp

from .test_app import FAST_POLICIES, SIZE, wait_for


class SilentServer:
    """Listens on 127.0.0.1, accepts every connection, and never sends a byte."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self.accepted.append(connection)

    def close(self) -> None:
        self._listener.close()
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def status(app: DialogApp) -> str:
    return str(app.query_one("#status").render())


async def test_the_app_says_connecting_then_gives_up_after_the_timeouts(
    silent: SilentServer,
) -> None:
    target = Target(silent.base_url, DEMO_CHATBOT_ID, api_key=DEMO_API_KEY, environment="test")
    app = DialogApp(
        target, timeouts=Timeouts(connect=1, read=1, stream_idle=1), policies=FAST_POLICIES
    )
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: len(silent.accepted) >= 1)
        assert "Connecting" in status(app)  # visible while the server says nothing
        await wait_for(pilot, lambda: "Not connected" in status(app), timeout=30)
        text = app.transcript.visible_text()
        assert "took too long" in text
        await pilot.pause(0.3)
        # One request: no retry of the timed-out one, no history asked of a silent server.
        assert len(silent.accepted) == 1


def test_send_gives_up_after_one_timeout(
    silent: SilentServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from dialogtui.cli import main

    monkeypatch.setenv("DIALOGTUI_API_KEY", DEMO_API_KEY)
    config = Path(os.environ["DIALOGTUI_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text("read_timeout = 1\n")  # the configured timeout
    code = main(["send", "--no-save", "--base-url", silent.base_url, "--chatbot-id", "b", "hi"])
    assert code == exitcodes.NETWORK
    assert "took too long" in capsys.readouterr().err
    assert len(silent.accepted) == 1
