"""The app with real credentials: login stores a key, the app resumes the conversation,
rotated tokens land in the keyring, and the person can switch bot or start afresh."""

from __future__ import annotations

import argparse
import asyncio
import io
from collections.abc import Iterator

import keyring
import pytest
from keyring.backend import KeyringBackend

from dialogtui.commands.account import run_login
from dialogtui.credentials import CredentialStore
from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID, DevServer
from dialogtui.target import configured_target
from dialogtui.ui.app import DialogApp
from dialogtui.ui.switch import SwitchScreen

from .test_app import FAST_POLICIES, SIZE, all_text, ready, send, turn_finished, wait_for


class MemoryKeyring(KeyringBackend):
    """A real keyring backend (set through keyring's own API) that keeps secrets in memory."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


async def login(server: DevServer, monkeypatch: pytest.MonkeyPatch) -> int:
    """`dialogtui login --api-key-stdin`, in a thread: it runs its own event loop."""
    monkeypatch.setattr("sys.stdin", io.StringIO(DEMO_API_KEY + "\n"))
    args = argparse.Namespace(
        base_url=server.base_url,
        chatbot_id=DEMO_CHATBOT_ID,
        api_key_stdin=True,
        visitor_token_stdin=False,
    )
    return await asyncio.to_thread(run_login, args)


async def test_login_then_the_app_resumes_the_conversation(
    server: DevServer, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert await login(server, monkeypatch) == 0
    stored = CredentialStore(server.base_url, DEMO_CHATBOT_ID).load()
    assert stored.api_key == DEMO_API_KEY and stored.visitor_token

    first = DialogApp(configured_target(None, None), policies=FAST_POLICIES)
    async with first.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "please remember the blue bicycle")
        await wait_for(pilot, turn_finished(first))
    rotated = CredentialStore(server.base_url, DEMO_CHATBOT_ID).load().visitor_token
    assert rotated and rotated != stored.visitor_token, "the rotated token from `done` was stored"

    second = DialogApp(configured_target(None, None), policies=FAST_POLICIES)
    async with second.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert "please remember the blue bicycle" in all_text(second)
    assert server.stats.tokens_used[-1] == rotated, "the next start used the stored token"
    assert server.stats.count("POST /auth") == 1, "resuming needed no new visitor"


async def test_switch_to_the_built_in_server_and_fresh_visitor(
    server: DevServer, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert await login(server, monkeypatch) == 0
    app = DialogApp(configured_target(None, None), policies=FAST_POLICIES)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "a turn with the first server")
        await wait_for(pilot, turn_finished(app))

        await pilot.press("f3")  # a fresh visitor: new token, empty conversation
        await wait_for(pilot, lambda: server.stats.count("POST /auth") == 2)
        await wait_for(pilot, lambda: "a turn with the first server" not in all_text(app))

        await pilot.press("ctrl+b")
        assert isinstance(app.screen, SwitchScreen)
        app.screen.query_one("#environment").value = "local"  # type: ignore[attr-defined]
        app.screen.query_one("#switch").press()  # type: ignore[attr-defined]
        await wait_for(pilot, lambda: app.target.environment == "demo")
        await ready(pilot)
        assert app.target.base_url != server.base_url
        await send(pilot, "hello built-in server")
        await wait_for(pilot, turn_finished(app))
        assert "You said: “hello built-in server”" in all_text(app)
        assert server.stats.count("POST /messages") == 1, "the new turn went to the other server"
