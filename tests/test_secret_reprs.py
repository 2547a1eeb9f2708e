"""No object that carries a secret shows it in its repr, str, rich repr or a log line.

The log file's handler redacts again (`RedactingFilter`), but a repr reaches other places too
(a test failure, Textual's message log, a crash report): so the objects hide it themselves. The
loggers here have no redacting filter on purpose.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.pretty import pretty_repr

from dialogtui.api.client import _Call
from dialogtui.api.models import DoneEvent, _DoneWire, decode_event
from dialogtui.api.retry import Operation
from dialogtui.config import ConfigError, normalize_base_url
from dialogtui.conversation.core import Conversation
from dialogtui.conversation.events import Event, Streamed
from dialogtui.credentials import ensure_secure_url
from dialogtui.devserver import DEMO_CHATBOT_ID, DevServer, DevServerConfig
from dialogtui.session import Turn
from dialogtui.store import NullStore
from dialogtui.target import Target

TOKEN = "vt-KNOWN-SECRET-4f1c9a"
KEY = "KEY-KNOWN-SECRET-77b2e0"
DONE_JSON = (
    '{"message": {"message_id": "m1", "role": "assistant", "parts": []}, '
    f'"visitor_token": "{TOKEN}"}}'
)


def every_rendering(obj: object) -> str:
    """repr, str, rich's pretty repr and what a plain logger writes for `obj` (%r and %s)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("test_secret_reprs")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("as repr: %r", obj)
        logger.warning("as str: %s", obj)
    finally:
        logger.removeHandler(handler)
    return "\n".join((repr(obj), str(obj), f"{obj!r} {obj}", pretty_repr(obj), stream.getvalue()))


def test_a_done_event_hides_its_visitor_token() -> None:
    event = decode_event("done", DONE_JSON)
    assert isinstance(event, DoneEvent) and event.visitor_token == TOKEN  # still usable
    shown = every_rendering(event)
    assert TOKEN not in shown
    assert "visitor_token=<hidden>" in repr(event)
    assert "message_id='m1'" in repr(event)  # the rest is still shown
    assert "visitor_token=None" in repr(DoneEvent(message=event.message))
    # Inside the objects that carry it, too.
    assert TOKEN not in every_rendering([event, {"event": event}])


def test_the_decoders_wire_struct_hides_it_too() -> None:
    assert TOKEN not in every_rendering(_DoneWire(message={}, visitor_token=TOKEN))


def test_the_clients_call_bookkeeping_and_a_turn_hide_the_token_used() -> None:
    call = _Call(op=next(iter(Operation)), method="POST", path="/x", auth="bearer")
    call.token_used = TOKEN
    turn = Turn("hi")
    turn.token_used = TOKEN
    assert TOKEN not in every_rendering(call)
    assert TOKEN not in every_rendering(turn)


@pytest.fixture
def keyed_server() -> Iterator[DevServer]:
    with DevServer(DevServerConfig(api_key=KEY)) as server:
        yield server


async def test_a_real_turns_events_show_no_secret(keyed_server: DevServer) -> None:
    """A turn against the dev server: every event the core hands a front-end (the `done`
    among them, with the rotated token) is rendered every way without a secret."""
    seen: list[Event] = []
    target = Target(keyed_server.base_url, DEMO_CHATBOT_ID, api_key=KEY, environment="test")
    conversation = Conversation(target, store=NullStore(), listener=seen.append, every_event=True)
    try:
        turn = await conversation.send("hello")
    finally:
        await conversation.close()
    assert turn.error is None
    dones = [e.event for e in seen if isinstance(e, Streamed) and isinstance(e.event, DoneEvent)]
    assert dones and all(done.visitor_token for done in dones)
    secrets = {KEY, *(t for t in keyed_server.stats.tokens_used if t)}
    secrets |= {done.visitor_token for done in dones if done.visitor_token}
    assert len(secrets) >= 2
    for obj in [*seen, turn, target, keyed_server.stats, keyed_server.config]:
        shown = every_rendering(obj)
        assert not [secret for secret in secrets if secret in shown], type(obj).__name__


BAD_URLS_WITH_A_KEY = [
    f"https://bot:{KEY}@api.example/?x=1",  # refused for its query
    f"https://bot:{KEY}@api.example:port",  # for its port
    f"ftp://bot:{KEY}@api.example",  # for its scheme
    f"bot:{KEY}@api.example",  # for having none
    f"https://bot:{KEY}@api.example",  # for the password itself
    KEY,  # the key alone, pasted where the base URL goes
    f" {KEY} ",
]


@pytest.mark.parametrize("url", BAD_URLS_WITH_A_KEY)
def test_a_refused_base_url_is_quoted_without_its_password(url: str) -> None:
    with pytest.raises(ConfigError) as refused:
        normalize_base_url(url)
    assert KEY not in refused.value.safe_message and KEY not in str(refused.value)
    if not url.startswith("http"):
        with pytest.raises(ConfigError) as insecure:
            ensure_secure_url(url)
        assert KEY not in str(insecure.value)


def test_the_cli_quotes_a_bad_base_url_without_its_password(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIALOGTUI_")}
    env.update(
        DIALOGTUI_CONFIG_DIR=str(tmp_path / "config"), DIALOGTUI_DATA_DIR=str(tmp_path / "data")
    )
    for url in BAD_URLS_WITH_A_KEY:
        command = ["send", "--base-url", url, "--chatbot-id", "b", "hi"]
        done = subprocess.run(
            [sys.executable, "-m", "dialogtui", *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert "base URL" in done.stderr  # the error is still said...
        assert KEY not in done.stdout + done.stderr  # ...without the key
