"""Shared pytest fixtures. Add new fixtures in their own section below."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dialogtui.devserver import DevServer, DevServerConfig

# ---------------------------------------------------------------------------------------------
# Dev server: a real HTTP server (uvicorn on 127.0.0.1, ephemeral port) speaking the chat API.
# Use `server` in tests; `devserver` is the shared session instance behind it.


@pytest.fixture(scope="session")
def devserver() -> Iterator[DevServer]:
    """One dev server for the whole session; starting one per test would cost ~0.2 s each."""
    with DevServer() as server:
        yield server


@pytest.fixture
def server(devserver: DevServer) -> DevServer:
    """The session dev server with default config, zeroed stats and no scenario memory.

    Tests may change `server.config` freely (e.g. `server.config.scenario = "flaky"`); the
    next test gets defaults again. Conversations from earlier tests persist but are unreachable
    without their tokens.
    """
    devserver.config = DevServerConfig()
    devserver.reset_stats()
    return devserver


# ---------------------------------------------------------------------------------------------
# Isolation: no test reads or writes the real config, data or log directories.


@pytest.fixture(autouse=True)
def _private_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = tmp_path_factory.mktemp("dialogtui-home")
    for name in ("DIALOGTUI_CONFIG_DIR", "DIALOGTUI_DATA_DIR", "DIALOGTUI_LOG_DIR"):
        monkeypatch.setenv(name, str(base / name.rsplit("_", 2)[-2].lower()))
    for name in (
        "DIALOGTUI_API_KEY",
        "DIALOGTUI_VISITOR_TOKEN",
        "DIALOGTUI_BASE_URL",
        "DIALOGTUI_CHATBOT_ID",
    ):
        monkeypatch.delenv(name, raising=False)


# ---------------------------------------------------------------------------------------------
# Every app a test runs sends its frames to a virtual terminal (tests/vterm.py), which must show
# what the screen drawn whole shows once the test's last action has settled. Tests assert on the
# screen drawn whole; this catches a widget that forgets to repaint what it changed.


@pytest.fixture(autouse=True)
def _terminal_matches_the_screen(monkeypatch: pytest.MonkeyPatch) -> None:
    from contextlib import asynccontextmanager
    from typing import Any

    from textual._compositor import CompositorUpdate, LayoutUpdate
    from textual.app import App

    from .vterm import VirtualTerminal, on_frames, whole_screen

    run_test = App.run_test

    @asynccontextmanager
    async def run_test_into_a_terminal(self: App[Any], *args: Any, **kwargs: Any) -> Any:
        width, height = kwargs.get("size") or (80, 24)
        terminal = VirtualTerminal(width, height)

        def applied(update: CompositorUpdate) -> None:
            nonlocal terminal
            if isinstance(update, LayoutUpdate) and update.region.size != (
                terminal.width,
                terminal.height,
            ):
                # A resized terminal: Textual sends the whole screen at its new size.
                terminal = VirtualTerminal(*update.region.size)
            terminal.apply(update, self.console)

        on_frames(self, applied)
        async with run_test(self, *args, **kwargs) as pilot:
            yield pilot
            if self.is_running and not self._exit:
                for _ in range(50):  # a frame may still be due
                    await pilot.pause(0.02)
                    if (terminal.width, terminal.height) == tuple(
                        self.size
                    ) and terminal.cells == whole_screen(self).cells:
                        break
                else:
                    shown, whole = terminal.text(), whole_screen(self).text()
                    row = next(
                        (y for y in range(min(len(shown), len(whole))) if shown[y] != whole[y]),
                        None,
                    )
                    if (terminal.width, terminal.height) != tuple(self.size):
                        detail = (
                            f"it is {terminal.width}x{terminal.height}, the app "
                            f"{self.size.width}x{self.size.height}"
                        )
                    elif row is not None:
                        detail = f"row {row}: {shown[row]!r} vs {whole[row]!r}"
                    else:
                        detail = "styles differ"
                    raise AssertionError(f"the terminal does not show the screen: {detail}")

    monkeypatch.setattr(App, "run_test", run_test_into_a_terminal)


# ---------------------------------------------------------------------------------------------
# The client remembers, per process, API keys `/auth` refused: each test starts without that.


@pytest.fixture(autouse=True)
def _no_rejected_keys() -> None:
    from dialogtui.api.client import forget_rejected_keys

    forget_rejected_keys()
