"""The conversation core against the real dev server and a real store: no app, no Pilot."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from dialogtui.api.models import plain_text
from dialogtui.conversation.core import Conversation
from dialogtui.conversation.events import (
    BlockGrew,
    ChangeReason,
    ConversationChanged,
    Event,
    Notice,
    PartChanged,
    Streamed,
    TurnEnded,
    TurnStarted,
)
from dialogtui.conversation.outcome import Outcome
from dialogtui.conversation.record import thread_of
from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID, DevServer
from dialogtui.store import TranscriptStore
from dialogtui.target import Target


def target(server: DevServer, token: str | None = None, *, key: bool = True) -> Target:
    return Target(
        server.base_url,
        DEMO_CHATBOT_ID,
        api_key=DEMO_API_KEY if key else None,
        visitor_token=token,
        environment="test",
    )


class Seen(list[Event]):
    def of(self, kind: type) -> list:  # type: ignore[type-arg]
        return [event for event in self if isinstance(event, kind)]


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    with TranscriptStore.open(tmp_path / "t.sqlite3") as store:
        yield store


async def opened(server: DevServer, store: TranscriptStore, token: str | None = None, **kw):  # type: ignore[no-untyped-def]
    seen = Seen()
    conversation = Conversation(target(server, token), store=store, listener=seen.append, **kw)
    assert await conversation.open()
    return conversation, seen


async def test_a_turn_is_told_as_events_and_recorded_once(
    server: DevServer, store: TranscriptStore
) -> None:
    conversation, seen = await opened(server, store)
    [changed] = seen.of(ConversationChanged)
    assert changed.reason is ChangeReason.OPENED and changed.clear and not changed.history
    assert changed.welcome and changed.followups  # the demo bot's welcome and start prompts
    seen.clear()
    turn = await conversation.send("hello table")
    assert turn.outcome is Outcome.DONE
    assert isinstance(seen[0], TurnStarted) and isinstance(seen[-1], TurnEnded)
    ended = seen[-1]
    assert (ended.outcome, ended.error, ended.retry) == (Outcome.DONE, None, None)
    assert ended.figures.events > 0 and ended.figures.total is not None
    # A block is named when it starts to grow, not per delta; its version moved since.
    grew = seen.of(BlockGrew)
    assert grew and len(grew) < turn.figures.events / 2
    assert len({(g.part_index, g.block_index) for g in grew}) == len(grew)
    last = grew[-1]
    assert turn.assembler.block_version(last.part_index, last.block_index) >= last.version
    assert any(p.everything for p in seen.of(PartChanged))  # `done` replaced everything
    assert not seen.of(Streamed)
    # On record: the text, the reply as done, one saved conversation bound to the new token.
    [summary] = store.conversations()
    user, reply = store.messages(summary.id)
    assert (user.text, reply.status, reply.reply_to) == ("hello table", "done", user.id)
    assert reply.text == conversation.last_reply and reply.parts
    assert store.thread_conversations(
        server.base_url, DEMO_CHATBOT_ID, thread_of(conversation.client.visitor_token) or ""
    ) == [summary.id]
    # The next turn follows the rotated token into the same saved conversation.
    await conversation.send("again")
    assert [c.id for c in store.conversations()] == [summary.id]
    assert len(store.messages(summary.id)) == 4
    await conversation.close()


async def test_every_event_mode_streams_each_event_before_its_change(
    server: DevServer, store: TranscriptStore
) -> None:
    conversation, seen = await opened(server, store, every_event=True)
    turn = await conversation.send("hi")
    streamed = seen.of(Streamed)
    assert len(streamed) == turn.figures.events
    assert len(seen.of(BlockGrew)) > len(
        {(g.part_index, g.block_index) for g in seen.of(BlockGrew)}
    )
    await conversation.close()


async def test_a_quiet_stream_has_its_partial_reply_on_record_and_cancel_keeps_it(
    server: DevServer, store: TranscriptStore
) -> None:
    conversation, seen = await opened(server, store)
    sending = asyncio.ensure_future(conversation.send("wait for it !stall"))
    deadline = time.monotonic() + 10
    text = ""
    while not text and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        rows = store.messages(store.conversations()[0].id) if store.conversations() else []
        text = rows[-1].text if len(rows) == 2 else ""
    shown = conversation.turn.assembler.parts if conversation.turn else []
    assert text and shown, "the stalled partial reply reached the store"
    assert conversation.busy and conversation.cancel()
    turn = await sending
    assert turn.outcome is Outcome.CANCELLED
    [ended] = seen.of(TurnEnded)
    assert ended.outcome is Outcome.CANCELLED
    user, reply = store.messages(store.conversations()[0].id)
    assert (user.text, reply.status, reply.text) == ("wait for it !stall", "cancelled", text)
    assert not conversation.busy
    await conversation.close()


async def test_a_view_that_fails_mid_reply_ends_the_turn_and_its_record(
    server: DevServer, store: TranscriptStore
) -> None:
    # `dialogtui send ... | head -c 10`: the printer's write raises once the reader is gone.
    # What arrived stays on record, as for a cancel, instead of an empty "incomplete" row.
    conversation, _ = await opened(server, store, every_event=True)

    def printer(event: Event) -> None:
        if isinstance(event, Streamed) and event.turn.assembler.text_length:
            raise BrokenPipeError(32, "Broken pipe")

    conversation.listen(printer)
    with pytest.raises(BrokenPipeError):
        await conversation.send("hello there")
    turn = conversation.turn
    assert turn is not None and turn.outcome is Outcome.CANCELLED and not conversation.busy
    user, reply = store.messages(store.conversations()[0].id)
    assert (user.text, reply.status) == ("hello there", "cancelled")
    assert reply.text and reply.text == plain_text(turn.assembler.parts)
    await conversation.close()


async def test_a_retryable_failure_offers_retry_and_retry_sends_it_again(
    server: DevServer, store: TranscriptStore
) -> None:
    conversation, seen = await opened(server, store)
    turn = await conversation.send("oops !stream_error_retryable")
    assert turn.outcome in (Outcome.INCOMPLETE, Outcome.ERROR) and turn.error is not None
    assert conversation.retry_text == "oops !stream_error_retryable"
    assert seen.of(TurnEnded)[-1].retry == conversation.retry_text
    again = await conversation.retry()
    assert again is not None and again.text == turn.text
    statuses = [m.status for m in store.messages(conversation.record_id) if m.role != "user"]
    assert statuses[0] == turn.outcome and len(statuses) == 2
    await conversation.close()


async def test_one_saved_conversation_is_one_server_conversation(
    server: DevServer, store: TranscriptStore
) -> None:
    first, _ = await opened(server, store)
    await first.send("one")
    token = first.client.visitor_token
    saved = first.record_id
    await first.close()

    # Opened again with its token: the server's history, and the same saved conversation.
    again, seen = await opened(server, store, token)
    [changed] = seen.of(ConversationChanged)
    assert [m.role for m in changed.history] == ["user", "assistant"]
    assert again.record_id == saved
    # A second process (here: a second claim) on the same token writes a record of its own.
    other, other_seen = await opened(server, store, token)
    assert other.record_id == 0 and other_seen.of(Notice)
    await again.send("two")
    await other.send("three")
    assert other.record_id not in (0, saved)
    assert [m.text for m in store.messages(saved) if m.role == "user"] == ["one", "two"]
    assert [m.text for m in store.messages(other.record_id) if m.role == "user"] == ["three"]
    await other.close()

    # A new conversation on the server is a new saved conversation, begun at its first turn.
    seen.clear()
    assert await again.new_conversation()
    [changed] = seen.of(ConversationChanged)
    assert changed.reason is ChangeReason.NEW_CONVERSATION and changed.clear
    assert again.record_id == 0
    await again.send("four")
    assert again.record_id not in (0, saved, other.record_id)
    assert [m.text for m in store.messages(again.record_id) if m.role == "user"] == ["four"]
    await again.fresh_visitor()
    await again.send("five")
    assert [m.text for m in store.messages(again.record_id) if m.role == "user"] == ["five"]
    await again.close()


async def test_a_token_renewed_under_a_turn_moves_that_turn_to_a_new_record(
    server: DevServer, store: TranscriptStore
) -> None:
    conversation, seen = await opened(server, store)
    await conversation.send("before")
    before = conversation.record_id
    seen.clear()
    turn = await conversation.send("after !expired_token")
    assert turn.outcome is Outcome.DONE
    [changed] = seen.of(ConversationChanged)
    assert changed.reason is ChangeReason.NEW_TOKEN and not changed.clear and changed.note
    assert conversation.record_id != before
    assert [m.text for m in store.messages(before) if m.role == "user"] == ["before"]
    moved = store.messages(conversation.record_id)
    assert [(m.role, m.status) for m in moved] == [("user", "sent"), ("assistant", "done")]
    await conversation.close()


async def test_another_process_on_the_same_token_writes_a_saved_conversation_of_its_own(
    server: DevServer, tmp_path: Path
) -> None:
    """Two processes, one server conversation: the second never writes into the first's
    record (a real `dialogtui send` in a subprocess, a real flock)."""
    import os
    import subprocess
    import sys

    data = tmp_path / "data"
    data.mkdir()
    with TranscriptStore.open(data / "transcripts.sqlite3") as store:
        conversation, _ = await opened(server, store)
        await conversation.send("from the app")
        token = conversation.client.visitor_token
        assert token is not None
        mine = conversation.record_id
        env = {
            **os.environ,
            "DIALOGTUI_DATA_DIR": str(data),
            "DIALOGTUI_CONFIG_DIR": str(tmp_path / "config"),
            "DIALOGTUI_LOG_DIR": str(tmp_path / "logs"),
        }
        args = ["--base-url", server.base_url, "--chatbot-id", DEMO_CHATBOT_ID]
        sent = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "dialogtui", "send", *args, "--visitor-token-stdin", "hi"],
            input=token + "\n",
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert sent.returncode == 0, sent.stderr
        assert "Another dialogtui is saving this conversation" in sent.stderr
        assert [m.text for m in store.messages(mine) if m.role == "user"] == ["from the app"]
        [theirs] = [c.id for c in store.conversations() if c.id != mine]
        assert [m.text for m in store.messages(theirs) if m.role == "user"] == ["hi"]
        await conversation.close()
        # Once the first has let go, the next process on that conversation's token writes on.
        rotated = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "dialogtui", "send", *args, "--visitor-token-stdin", "more"],
            input=token + "\n",
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert rotated.returncode == 0, rotated.stderr
        assert "Another dialogtui" not in rotated.stderr
        assert len(store.conversations()) == 2


def test_each_send_demo_is_a_saved_conversation_of_its_own(tmp_path: Path) -> None:
    """The built-in server starts afresh with each `send --demo`: a new server conversation,
    so a new saved one (they used to pile into one)."""
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "DIALOGTUI_DATA_DIR": str(tmp_path / "data"),
        "DIALOGTUI_CONFIG_DIR": str(tmp_path / "config"),
        "DIALOGTUI_LOG_DIR": str(tmp_path / "logs"),
    }
    for text in ("first", "second"):
        done = subprocess.run(
            [sys.executable, "-m", "dialogtui", "send", "--demo", text],
            capture_output=True,
            env=env,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
    with TranscriptStore.open(tmp_path / "data" / "transcripts.sqlite3") as store:
        saved = store.conversations()[::-1]
        assert [[m.text for m in store.messages(c.id) if m.role == "user"] for c in saved] == [
            ["first"],
            ["second"],
        ]


async def test_with_saving_off_the_person_is_still_told_when_the_server_starts_over(
    server: DevServer,
) -> None:
    seen = Seen()
    conversation = Conversation(target(server), listener=seen.append)  # no store: nothing saved
    assert await conversation.open()
    await conversation.send("before")
    await conversation.send("after !expired_token")
    [changed] = [c for c in seen.of(ConversationChanged) if not c.clear]
    assert changed.reason is ChangeReason.NEW_TOKEN
    assert changed.note and "saved" not in changed.note
    assert conversation.record_id == 0
    await conversation.close()


async def test_older_pages_load_in_order_never_twice_and_stop_at_the_start(
    server: DevServer, store: TranscriptStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dialogtui.conversation import core
    from dialogtui.conversation.events import OlderHistory

    server.config.history_messages = 260
    monkeypatch.setattr(core, "HISTORY_LIMIT", 30)  # the cap, small enough to page past
    token = await _seeded_token(server)
    conversation, seen = await opened(server, store, token)
    [changed] = seen.of(ConversationChanged)
    assert len(changed.history) == 30 and conversation.has_older
    assert any("older ones load when you scroll to the top" in n.text for n in seen.of(Notice))
    shown = [m.message_id for m in changed.history]
    # Two asks at once: one request, the second brings nothing.
    first, second = await asyncio.gather(conversation.load_older(), conversation.load_older())
    assert (first, second) == (core.OLDER_PAGE_SIZE, 0)
    while conversation.has_older:
        assert await conversation.load_older() > 0
    assert await conversation.load_older() == 0  # at the start: no request, nothing
    pages = seen.of(OlderHistory)
    assert [len(p.messages) for p in pages] == [100, 100, 30]
    assert [p.more for p in pages] == [True, True, False]
    for page in reversed(pages):  # each page goes above what is shown
        shown[:0] = [m.message_id for m in page.messages]
    assert len(shown) == len(set(shown)) == 260
    texts = [plain_text(m.parts) for p in reversed(pages) for m in p.messages]
    assert texts[0] == "Earlier question #1" and "Earlier answer #1." in texts[1]
    await conversation.close()


async def test_a_failed_older_page_is_a_notice_and_can_be_asked_again(
    server: DevServer, store: TranscriptStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dialogtui.conversation import core
    from dialogtui.conversation.events import OlderHistory

    server.config.history_messages = 60
    monkeypatch.setattr(core, "HISTORY_LIMIT", 20)
    token = await _seeded_token(server)
    conversation, seen = await opened(server, store, token)
    cursor = conversation.older_cursor
    server.config.scenario = "bad_request"
    assert await conversation.load_older() == 0
    assert conversation.older_cursor == cursor and not seen.of(OlderHistory)
    assert any("Older messages could not be loaded" in n.text for n in seen.of(Notice))
    server.config.scenario = "ok"
    assert await conversation.load_older() == 40 and not conversation.has_older
    await conversation.close()


async def _seeded_token(server: DevServer) -> str:
    """A visitor token whose conversation holds the seeded history."""
    from dialogtui.api.client import DialogClient

    async with DialogClient(server.base_url, DEMO_CHATBOT_ID, api_key=DEMO_API_KEY) as client:
        return await client.authenticate()
