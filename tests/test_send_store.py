"""`dialogtui send` keeps its record: real sends against the dev server, real database files."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dialogtui.cli import main
from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID, DevServer
from dialogtui.store import DB_FILENAME, DEMO_BASE_URL, TranscriptStore

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private data dir (returned) and config dir; the API key comes from the environment."""
    data = tmp_path / "data"
    monkeypatch.setenv("DIALOGTUI_DATA_DIR", str(data))
    monkeypatch.setenv("DIALOGTUI_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DIALOGTUI_API_KEY", DEMO_API_KEY)
    monkeypatch.delenv("DIALOGTUI_VISITOR_TOKEN", raising=False)
    return data


def send(server: DevServer, text: str, *extra: str) -> int:
    return main(
        ["send", "--base-url", server.base_url, "--chatbot-id", DEMO_CHATBOT_ID, *extra, text]
    )


def only_conversation(store: TranscriptStore):
    [summary] = store.conversations()
    return summary, store.messages(summary.id)


def test_a_done_send_records_the_turn(
    server: DevServer, dirs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert send(server, "hello") == 0
    printed = capsys.readouterr().out
    with TranscriptStore.open(dirs / DB_FILENAME) as store:
        summary, (user, reply) = only_conversation(store)
        assert (summary.base_url, summary.chatbot_id, summary.live) == (
            server.base_url,
            DEMO_CHATBOT_ID,
            True,
        )
        assert (user.role, user.text) == ("user", "hello")
        assert (reply.status, reply.reply_to, reply.error) == ("done", user.id, None)
        assert reply.parts and reply.message_id
        assert reply.text.split("\n")[0] in printed  # the same text the person read
        assert reply.figures and reply.figures["events"] > 0 and reply.figures["total"] > 0


def test_a_failed_send_keeps_the_typed_text_and_the_error_but_no_secret(
    server: DevServer, dirs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert send(server, "please keep me !internal") == 6  # exit codes unchanged by recording
    assert (
        capsys.readouterr().err.strip() == "dialogtui: The chatbot had a problem. Please try again."
    )
    assert send(server, "and me !stream_error_fatal") == 7
    assert send(server, "cut !drop") == 8
    with TranscriptStore.open(dirs / DB_FILENAME) as store:
        # No visitor token is kept between these sends (the key comes from the environment):
        # each began a conversation of its own on the server, and so a saved one of its own.
        summaries = store.conversations()[::-1]
        assert [summary.turns for summary in summaries] == [1, 1, 1]
        rows = [row for summary in summaries for row in store.messages(summary.id)]
        assert [m.text for m in rows if m.role == "user"] == [
            "please keep me !internal",
            "and me !stream_error_fatal",
            "cut !drop",
        ]
        http, stream, drop = (m for m in rows if m.role == "assistant")
        assert (http.status, http.text, http.error.kind, http.error.status, http.error.code) == (
            "error",
            "",
            "http",
            500,
            "internal",
        )
        assert http.error.request_id and http.error.request_id.startswith("req_")
        assert (stream.status, stream.error.kind, stream.error.code, stream.error.retryable) == (
            "error",
            "stream",
            "generation_failed",
            False,
        )
        assert stream.text.startswith("You said:")  # the partial reply stays
        assert (drop.status, drop.error.kind) == ("incomplete", "interrupted") and drop.text
    everything = b"".join(p.read_bytes() for p in dirs.rglob("*") if p.is_file())
    secrets = {DEMO_API_KEY, *server.stats.tokens_used}
    assert all(secret.encode() not in everything for secret in secrets)
    assert b"An unexpected error occurred" not in everything  # the server's own error text


def test_no_save_writes_no_file_at_all(
    server: DevServer, dirs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert send(server, "private", "--no-save") == 0
    assert (
        main(
            [
                "--no-save",
                "send",
                "--base-url",
                server.base_url,
                "--chatbot-id",
                DEMO_CHATBOT_ID,
                "x",
            ]
        )
        == 0
    )
    assert send(server, "private !internal", "--no-save") == 6
    config = Path(os.environ["DIALOGTUI_CONFIG_DIR"])
    config.mkdir()
    (config / "config.toml").write_text("save_transcripts = false\n")
    assert send(server, "private by setting") == 0
    assert not dirs.exists()


def test_the_store_never_breaks_a_send(
    server: DevServer, dirs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dirs.parent.mkdir(exist_ok=True)
    dirs.write_text("a file where the data dir should be")
    assert send(server, "still works") == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("You said:")
    [line] = captured.err.splitlines()
    assert line.startswith("dialogtui: The transcript database cannot be created")


def test_a_corrupt_database_is_moved_aside_and_the_send_recorded(
    server: DevServer, dirs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dirs.mkdir()
    (dirs / DB_FILENAME).write_bytes(b"\x00garbage" * 500)
    assert send(server, "after corruption") == 0
    [line] = capsys.readouterr().err.splitlines()
    assert "moved to" in line and ".corrupt-" in line
    assert len(list(dirs.glob(f"{DB_FILENAME}.corrupt-*"))) == 1
    with TranscriptStore.open(dirs / DB_FILENAME) as store:
        _, rows = only_conversation(store)
        assert next(m.text for m in rows) == "after corruption"


def test_an_escapes_reply_exports_without_control_characters(
    server: DevServer, dirs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert send(server, "show me !escapes") == 0
    capsys.readouterr()
    with TranscriptStore.open(dirs / DB_FILENAME) as store:
        summary, (_, reply) = only_conversation(store)
        assert "\x1b]52;" in reply.text  # stored as received ...
    assert main(["export", str(summary.id), "--format", "md"]) == 0
    markdown = capsys.readouterr().out
    assert "OSC 52 clipboard write" in markdown and "␛]52;" in markdown
    assert not CONTROL.search(markdown)  # ... exported inert
    assert main(["export", str(summary.id), "--format", "json"]) == 0
    assert not CONTROL.search(capsys.readouterr().out)


def wait_for_partial(path: Path, deadline: float) -> str:
    while time.monotonic() < deadline:
        try:
            db = sqlite3.connect(path, timeout=1)
            try:
                row = db.execute("SELECT text FROM messages WHERE role = 'assistant'").fetchone()
            finally:
                db.close()
            if row and row[0]:
                return str(row[0])
        except sqlite3.OperationalError:
            pass  # not created or not migrated yet
        time.sleep(0.02)
    raise AssertionError("no partial reply reached the database in time")


def test_sigkill_mid_stream_leaves_the_text_and_the_partial_reply(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {
        **os.environ,
        "DIALOGTUI_DATA_DIR": str(data),
        "DIALOGTUI_CONFIG_DIR": str(tmp_path / "config"),
        "PYTHONPATH": str(ROOT),
    }
    # 400 ms between events: text arrives in the fourth, `done` comes a few events later.
    proc = subprocess.Popen(
        [sys.executable, "-m", "dialogtui", "send", "--demo", "kill me now !slow:400"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        partial = wait_for_partial(data / DB_FILENAME, time.monotonic() + 20)
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    with TranscriptStore.open(data / DB_FILENAME) as store:
        summary, (user, reply) = only_conversation(store)
        assert (summary.base_url, user.text) == (DEMO_BASE_URL, "kill me now !slow:400")
        assert reply.status == "incomplete" and reply.error is None and reply.figures is None
        assert reply.text.startswith(partial) and reply.text.startswith("You said:")
        assert not reply.text.endswith("took its time.")  # killed before the end
        # never more on record than the person saw: the store writes after the print
        assert out.decode().startswith(reply.text.rstrip())


def test_send_refuses_message_and_token_both_on_stdin(capsys: pytest.CaptureFixture[str]) -> None:
    from dialogtui.cli import main

    assert main(["send", "--chatbot-id", "bot", "--visitor-token-stdin", "-"]) == 2
    assert "stdin cannot carry both" in capsys.readouterr().err


def test_stdout_ends_with_the_reply_as_said_when_a_skipped_delta_made_them_differ() -> None:
    """Issue 19, item 6: a delta the reply skipped is not printed, and a final `part` that
    differs from what was printed is printed whole at the end, with a note on stderr."""
    import io

    from dialogtui.api.models import (
        Delta,
        DoneEvent,
        Message,
        PartDeltaEvent,
        PartEvent,
        RichTextPart,
        plain_text,
    )
    from dialogtui.commands.send import _PlainPrinter
    from dialogtui.conversation.events import Streamed, TurnEnded
    from dialogtui.session import Turn

    def delta(action: str, **fields: object) -> PartDeltaEvent:
        return PartDeltaEvent(
            part_id="r", delta=Delta(action=action, part_type="rich_text", **fields)
        )

    whole = RichTextPart(part_id="r", blocks=[paragraph_of("Hello, whole world.")])
    events = [
        delta("start_part"),
        delta("start_block", block_index=0, block_type="paragraph"),
        delta("append_text", block_index=0, text="Hello, "),
        delta("append_text", block_index=4, text="LOST "),  # no such block: skipped
        delta("append_text", block_index=0, text="world."),
        PartEvent(part=whole),
        DoneEvent(message=Message(message_id="m", parts=[whole])),
    ]
    out = io.StringIO()
    printer = _PlainPrinter(out)
    turn = Turn(text="hi")
    for event in events:
        printer.on_event(Streamed(turn, event, turn.assembler.feed(event)))
    printer.on_event(TurnEnded(turn, turn.outcome, None, turn.figures))
    printer.close()
    said = plain_text(turn.assembler.parts)
    assert said == "Hello, whole world."
    assert "LOST" not in out.getvalue()
    assert out.getvalue().rstrip("\n").endswith(said)
    assert out.getvalue().startswith("Hello, world.")  # what streamed, as it streamed


def paragraph_of(text: str):  # type: ignore[no-untyped-def]
    from dialogtui.api.models import Block, Span

    return Block(type="paragraph", spans=[Span(type="text", text=text)])
