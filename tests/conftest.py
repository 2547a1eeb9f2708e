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
def _private_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    base = tmp_path_factory.mktemp("dialogtui-home")
    for name in ("DIALOGTUI_CONFIG_DIR", "DIALOGTUI_DATA_DIR", "DIALOGTUI_LOG_DIR"):
        monkeypatch.setenv(name, str(base / name.rsplit("_", 2)[-2].lower()))
    for name in ("DIALOGTUI_API_KEY", "DIALOGTUI_VISITOR_TOKEN", "DIALOGTUI_BASE_URL", "DIALOGTUI_CHATBOT_ID"):
        monkeypatch.delenv(name, raising=False)
