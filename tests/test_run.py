"""`dialogtui run` and `dialogtui replay` against the dev server: real processes, real sockets."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from dialogtui import exitcodes
from dialogtui.api.client import DialogClient
from dialogtui.api.errors import ApiHttpError, DialogError, StreamError, StreamInterrupted
from dialogtui.commands.run import (
    ExportedTurn,
    ScriptError,
    TurnResult,
    export_turns,
    latency_table,
    run_replay,
    run_script,
)
from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID, DevServer
from dialogtui.session import TurnFigures
from dialogtui.store import DB_FILENAME, TranscriptStore

ROOT = Path(__file__).resolve().parents[1]
RAW_STREAM_ERROR = "Failed to generate a response"  # the dev server's own text in its error event
SAFE_STREAM_ERROR = "The reply could not be finished. Try rephrasing, or start a new conversation."


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A child environment: the demo key from the environment, private config and data dirs."""
    child = {k: v for k, v in os.environ.items() if not k.startswith("DIALOGTUI_")}
    child.update(
        DIALOGTUI_API_KEY=DEMO_API_KEY,
        DIALOGTUI_CONFIG_DIR=str(tmp_path / "config"),
        DIALOGTUI_DATA_DIR=str(tmp_path / "data"),
        COLUMNS="160",
        PYTHONPATH=str(ROOT),
    )
    return child


def target_args(server: DevServer, **extra: Any) -> dict[str, Any]:
    return {
        "base_url": server.base_url,
        "chatbot_id": DEMO_CHATBOT_ID,
        "demo": False,
        "scenario": None,
        "visitor_token_stdin": False,
        "no_save": True,
        "json": False,
        **extra,
    }


def run_command(
    function: str, args: dict[str, Any], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """`dialogtui run|replay ...` in a child process (via the command functions, parser-free)."""
    code = (
        "import argparse, json, sys\n"
        f"from dialogtui.commands.run import {function}\n"
        f"sys.exit({function}(argparse.Namespace(**json.loads(sys.argv[1]))))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def script(tmp_path: Path, *lines: str) -> str:
    path = tmp_path / "script.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def table_rows(stdout: str) -> list[list[str]]:
    """The summary table's data rows (between its header and the tally), split on 2+ spaces."""
    lines = stdout.rstrip("\n").splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith("#  outcome"))
    assert re.match(r"\d+ turns?: ", lines[-1])
    return [re.split(r"\s{2,}", line.strip()) for line in lines[start + 1 : -1]]


# ---------------------------------------------------------------------------------------------
# run


def test_a_script_of_three_done_turns_exits_0_with_a_row_each(
    server: DevServer, tmp_path: Path, env: dict[str, str]
) -> None:
    path = script(tmp_path, "hello", "", "   ", "  how are you?  ", "bye")
    done = run_command("run_script", target_args(server, file=path, stop_on_error=False), env)
    assert done.returncode == exitcodes.OK, done.stderr
    assert done.stderr == ""
    rows = table_rows(done.stdout)
    assert [row[:2] for row in rows] == [["1", "done"], ["2", "done"], ["3", "done"]]
    assert [row[-1] for row in rows] == [
        "hello",
        "how are you?",
        "bye",
    ]  # blank lines skipped, text stripped
    for row in rows:
        assert (
            row[2].endswith(" s") and row[3].endswith(" ms") and int(row[4]) > 0 and int(row[5]) > 0
        )
    assert "3 turns: 3 done" in done.stdout
    assert "[2] > how are you?" in done.stdout and "You said: “how are you?”" in done.stdout

    # One conversation: each turn used the token the previous turn's `done` rotated in.
    used = server.stats.tokens_used
    assert len(used) == 3 and len(set(used)) == 3

    async def history() -> list[str]:
        async with DialogClient(server.base_url, DEMO_CHATBOT_ID, visitor_token=used[-1]) as client:
            return [m.role for m in await client.get_history()]

    assert asyncio.run(history()) == ["user", "assistant"] * 3


def test_a_failed_turn_is_reported_safely_and_the_run_goes_on(
    server: DevServer, tmp_path: Path, env: dict[str, str]
) -> None:
    path = script(tmp_path, "first", "then !stream_error_fatal", "last")
    done = run_command("run_script", target_args(server, file=path, stop_on_error=False), env)
    assert done.returncode == exitcodes.FAILED
    rows = table_rows(done.stdout)
    assert [row[1] for row in rows] == ["done", "error", "done"]
    assert rows[1][-1] == SAFE_STREAM_ERROR  # fits in 160 columns
    assert f"! {SAFE_STREAM_ERROR}" in done.stdout
    assert RAW_STREAM_ERROR not in done.stdout + done.stderr
    assert (
        done.stderr.strip() == "dialogtui: 1 of 3 turns did not end in done (first: turn 2, error)."
    )
    assert "You said: “then !stream_error_fatal”" in done.stdout  # the partial reply is kept
    assert len(server.stats.tokens_used) == 3


def test_stop_on_error_stops_after_the_failed_turn(
    server: DevServer, tmp_path: Path, env: dict[str, str]
) -> None:
    path = script(tmp_path, "one", "two !rate_limited", "three")
    server.config.retry_after = 0  # retried twice without waiting, then it surfaces
    done = run_command("run_script", target_args(server, file=path, stop_on_error=True), env)
    assert done.returncode == exitcodes.FAILED
    rows = table_rows(done.stdout)
    assert [row[1] for row in rows] == ["done", "error", "skipped"]
    assert "The chatbot is busy right now. Please wait a moment and try again." in rows[1][-1]
    assert "Too many requests" not in done.stdout  # the server's own message
    assert "[3]" not in done.stdout
    messages = [route for route, _ in server.stats.requests if route == "POST /messages"]
    assert len(messages) == 1 + 3  # turn 1, turn 2 and its two retries; never turn 3


def test_json_lines_parse_with_outcome_error_code_and_timings(
    server: DevServer, tmp_path: Path, env: dict[str, str]
) -> None:
    path = script(tmp_path, "hello", "oops !stream_error_fatal", "cut !drop", "after")
    done = run_command(
        "run_script", target_args(server, file=path, stop_on_error=False, json=True), env
    )
    assert done.returncode == exitcodes.FAILED
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["turn"] for r in records] == [1, 2, 3, 4]
    assert [r["outcome"] for r in records] == ["done", "error", "incomplete", "done"]
    assert [r["error_code"] for r in records] == [None, "generation_failed", None, None]
    first, failed, cut, _ = records
    assert first["message"] == "hello" and first["text"].startswith("You said: “hello”")
    timings = first["timings"]
    assert (
        timings["to_headers_ms"] >= 0 and timings["to_first_content_ms"] >= timings["to_headers_ms"]
    )
    assert (
        timings["total_ms"] >= timings["to_first_content_ms"]
        and timings["events"] > 0
        and timings["chars"] > 0
    )
    assert failed["error"] == {
        "kind": "stream",
        "code": "generation_failed",
        "status": None,
        "retryable": False,
        "message": SAFE_STREAM_ERROR,
    }
    assert cut["error"]["kind"] == "interrupted" and cut["text"]
    assert RAW_STREAM_ERROR not in done.stdout


def test_json_lists_skipped_turns_too(
    server: DevServer, tmp_path: Path, env: dict[str, str]
) -> None:
    path = script(tmp_path, "oops !stream_error_fatal", "never sent")
    done = run_command(
        "run_script", target_args(server, file=path, stop_on_error=True, json=True), env
    )
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["turn"], r["outcome"]) for r in records] == [(1, "error"), (2, "skipped")]
    assert done.returncode == exitcodes.FAILED


def test_ctrl_c_reports_the_turns_so_far_and_exits_130(
    server: DevServer, tmp_path: Path, env: dict[str, str]
) -> None:
    path = script(tmp_path, "hello", "slowly !slow:2000", "never")
    code = (
        "import argparse, json, sys\n"
        "from dialogtui.commands.run import run_script\n"
        "sys.exit(run_script(argparse.Namespace(**json.loads(sys.argv[1]))))\n"
    )
    args = json.dumps(target_args(server, file=path, stop_on_error=False))
    child = subprocess.Popen(
        [sys.executable, "-c", code, args],
        env=env | {"PYTHONUNBUFFERED": "1"},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith("[1] > hello"):
                break
        time.sleep(0.3)  # turn 2 is under way: its events are 2 s apart
        child.send_signal(signal.SIGINT)
        child.wait(timeout=20)
        out, err = child.stdout.read(), child.stderr.read() if child.stderr else ""
    finally:
        child.kill()
    assert child.returncode == exitcodes.INTERRUPTED
    rows = table_rows(out)
    assert [row[1] for row in rows] == ["done", "cancelled", "skipped"]
    assert err.strip() == "dialogtui: Interrupted."


def test_bad_scripts_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = script(tmp_path, "", "  ")
    args = argparse.Namespace(
        file=empty,
        json=False,
        stop_on_error=False,
        demo=True,
        scenario=None,
        base_url=None,
        chatbot_id=None,
        visitor_token_stdin=False,
        no_save=True,
    )
    assert run_script(args) == exitcodes.USAGE
    assert "has no non-empty lines" in capsys.readouterr().err
    args.file = str(tmp_path / "missing.txt")
    assert run_script(args) == exitcodes.USAGE
    assert "Cannot read" in capsys.readouterr().err


def test_demo_run_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--demo starts its own server: no key, no network."""
    args = argparse.Namespace(
        file=script(tmp_path, "hi"),
        json=True,
        stop_on_error=False,
        demo=True,
        scenario=None,
        base_url=None,
        chatbot_id=None,
        visitor_token_stdin=False,
        no_save=True,
    )
    assert run_script(args) == exitcodes.OK
    [record] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert record["outcome"] == "done"


def test_turns_are_saved_unless_no_save(
    server: DevServer, tmp_path: Path, env: dict[str, str]
) -> None:
    path = script(tmp_path, "saved one", "saved two !stream_error_fatal")
    done = run_command(
        "run_script", target_args(server, file=path, stop_on_error=False, no_save=False), env
    )
    assert done.returncode == exitcodes.FAILED
    with TranscriptStore.open(Path(env["DIALOGTUI_DATA_DIR"]) / DB_FILENAME) as store:
        [summary] = store.conversations()
        messages = store.messages(summary.id)
    assert [(m.role, m.status) for m in messages] == [
        ("user", messages[0].status),
        ("assistant", "done"),
        ("user", messages[2].status),
        ("assistant", "error"),
    ]
    assert [m.text for m in messages if m.role == "user"] == [
        "saved one",
        "saved two !stream_error_fatal",
    ]
    assert messages[3].error is not None and messages[3].error.message == SAFE_STREAM_ERROR


# ---------------------------------------------------------------------------------------------
# replay


def store_export(*turns: tuple[str, str]) -> dict[str, Any]:
    """The shape `dialogtui export ID --format json` writes."""
    messages: list[dict[str, Any]] = [{"role": "assistant", "status": "done", "text": "Welcome!"}]
    for index, (user, reply) in enumerate(turns):
        messages.append({"role": "user", "status": "sent", "text": user, "parts": None})
        messages.append(
            {"role": "assistant", "status": "done", "text": reply, "reply_to": 2 * index + 1}
        )
    return {
        "format": "dialogtui-transcript",
        "version": 1,
        "conversation": {"id": 1, "base_url": "https://example.invalid", "chatbot_id": "old"},
        "messages": messages,
    }


def api_export(*turns: tuple[str, str]) -> dict[str, Any]:
    """The shape of the API's GET /export."""
    messages = []
    for user, reply in turns:
        messages.append(
            {"message_id": "m1", "role": "user", "parts": [{"type": "text", "text": user}]}
        )
        messages.append(
            {
                "message_id": "m2",
                "role": "assistant",
                "parts": [
                    {
                        "type": "rich_text",
                        "part_id": "p",
                        "blocks": [
                            {"type": "paragraph", "spans": [{"type": "text", "text": reply}]}
                        ],
                    }
                ],
            }
        )
    return {"visitor": {"visitor_id": "v"}, "messages": messages, "ratings": []}


def current_reply(server: DevServer, text: str) -> str:
    """What the dev server answers to `text` today (its replies depend on the text only)."""
    from dialogtui.api.models import plain_text

    async def ask() -> str:
        async with DialogClient(server.base_url, DEMO_CHATBOT_ID, api_key=DEMO_API_KEY) as client:
            async for event in client.send_message(text):
                message = getattr(event, "message", None)
                if message is not None and hasattr(message, "parts"):
                    return plain_text(message.parts)
        raise AssertionError("no done")

    return asyncio.run(ask())


def test_replay_shows_old_and_new_side_by_side(
    server: DevServer, tmp_path: Path, env: dict[str, str]
) -> None:
    unchanged = current_reply(server, "tell me about prices")
    server.reset_stats()
    export = tmp_path / "export.json"
    export.write_text(
        json.dumps(
            store_export(
                ("tell me about prices", unchanged),
                ("and shipping?", "Shipping is free on Tuesdays."),
            )
        )
    )
    done = run_command(
        "run_replay", target_args(server, export_file=str(export)), env | {"COLUMNS": "100"}
    )
    assert done.returncode == exitcodes.OK, done.stderr
    out = done.stdout
    assert "── Turn 1 · = same" in out and "── Turn 2 · ≠ differs" in out
    assert "> and shipping?" in out
    assert "Shipping is free on Tuesdays." in out  # before
    assert "You said: “and shipping?”" in out  # after
    assert "2 turns replayed: 1 same, 1 different" in out
    columns = [line for line in out.splitlines() if " │ " in line]
    assert columns and all(len(line) <= 100 for line in out.splitlines())
    assert any(line.startswith("before") and line.rstrip().endswith("│ after") for line in columns)
    assert "Welcome!" not in out  # nothing to compare a greeting with
    assert len(server.stats.tokens_used) == 2  # one conversation, rotated between the turns


def test_replay_json_and_the_api_export_shape(
    server: DevServer, tmp_path: Path, env: dict[str, str]
) -> None:
    unchanged = current_reply(server, "hello there")
    export = tmp_path / "api-export.json"
    export.write_text(
        json.dumps(api_export(("hello there", unchanged), ("boom !stream_error_fatal", "old")))
    )
    done = run_command("run_replay", target_args(server, export_file=str(export), json=True), env)
    assert done.returncode == exitcodes.FAILED  # the second turn did not end in done
    first, second = (json.loads(line) for line in done.stdout.splitlines())
    assert (first["turn"], first["text"], first["same"], first["outcome"]) == (
        1,
        "hello there",
        True,
        "done",
    )
    assert first["before"] == unchanged == first["after"]
    assert (second["same"], second["outcome"], second["before"]) == (False, "error", "old")
    assert second["error"]["message"] == SAFE_STREAM_ERROR
    assert RAW_STREAM_ERROR not in done.stdout


def test_replay_rejects_what_is_not_an_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = argparse.Namespace(
        export_file="",
        json=False,
        demo=True,
        scenario=None,
        base_url=None,
        chatbot_id=None,
        visitor_token_stdin=False,
        no_save=True,
    )
    for content, message in [
        ("not json", "is not JSON"),
        ("[1, 2]", "Not a conversation export"),
        ('{"messages": [{"text": "no role"}]}', "has no role"),
        ('{"messages": []}', "no user messages"),
    ]:
        path = tmp_path / "bad.json"
        path.write_text(content)
        args.export_file = str(path)
        assert run_replay(args) == exitcodes.USAGE
        assert message in capsys.readouterr().err


def test_export_turns_pairs_replies_with_their_message() -> None:
    turns = export_turns(
        {
            "turns": [
                {"role": "assistant", "text": "hi, I'm a bot"},
                {"role": "user", "text": "a"},
                {"role": "assistant", "text": "one", "outcome": "done"},
                {"role": "assistant", "text": "two", "status": "error"},
                {"role": "system", "text": "ignored"},
                {"role": "user", "text": "b"},
                {"role": "user", "text": "c"},
                {
                    "role": "assistant",
                    "parts": [{"type": "text", "text": "from parts"}, {"type": "gizmo"}],
                },
            ]
        }
    )
    assert turns == [
        ExportedTurn("a", "one\n\ntwo", "error"),
        ExportedTurn("b", None, None),
        ExportedTurn("c", "from parts", "done"),
    ]
    with pytest.raises(ScriptError):
        export_turns({"conversation": {}})


def test_the_summary_table_fits_the_terminal() -> None:
    from dialogtui.api.errors import StreamError
    from dialogtui.commands.run import TurnResult, summary_table
    from dialogtui.session import TurnFigures

    error = StreamError("generation_failed", retryable=False, server_message=RAW_STREAM_ERROR)
    results = [
        TurnResult(
            1, "x" * 300, "reply", "done", figures=TurnFigures(0.0, 0.01, 0.02, 0.5, 10, 100)
        ),
        TurnResult(2, "boom\x1b[2J", "", "error", error, TurnFigures(0.0, 0.01, None, 0.1, 3, 0)),
        TurnResult(3, "never"),
    ]
    table = summary_table(results, 80)
    lines = table.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert lines[1].endswith("…") and "x" * 20 in lines[1]
    assert lines[2].split()[1] == "error" and "The reply could not be" in lines[2]
    assert lines[3].split()[:3] == ["3", "skipped", "-"]
    assert lines[-1] == "3 turns: 1 done, 1 error, 1 skipped"
    assert RAW_STREAM_ERROR not in table and "\x1b" not in table


def test_the_latency_table_names_failures_as_the_test_command_does() -> None:
    # One rule for both commands' "errors by code" line (`testing.player.error_code`): an
    # HTTP failure without a server code is named by its status, a 429 as rate_limited.
    def failed(number: int, error: DialogError, outcome: str = "error") -> TurnResult:
        figures = TurnFigures(started=0.0, to_headers=0.01, total=0.02)
        return TurnResult(number, "hi", outcome=outcome, error=error, figures=figures)

    table = latency_table(
        [
            failed(1, ApiHttpError(502)),
            failed(2, ApiHttpError(429)),
            failed(3, StreamError("generation_failed", retryable=False)),
            failed(4, StreamInterrupted(), "incomplete"),
        ]
    )
    assert "errors by code: http_502 1, rate_limited 1, generation_failed 1, interrupted 1" in (
        table
    )
