"""`dialogtui test` end to end: the real CLI in a child process against the dev server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from dialogtui import exitcodes
from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID, DevServer
from dialogtui.testing.testfile import parse_test_file

ROOT = Path(__file__).resolve().parents[1]

SHOP = """\
name = "Shop"

[[turns]]
send = "What do you sell?"
[turns.expect]
contains = ["wool blanket", "COFFEE MUG"]
parts = ["products", "suggestions"]
max_seconds = 30

[[turns]]
choose = "Talk to sales"
expect = { parts = ["show_contact_form"] }

[[turns]]
form = { name = "Ada", email = "ada@example.com" }
expect = { contains = ["thanks"] }
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    child = {k: v for k, v in os.environ.items() if not k.startswith("DIALOGTUI_")}
    child.update(
        DIALOGTUI_API_KEY=DEMO_API_KEY,
        DIALOGTUI_CONFIG_DIR=str(tmp_path / "config"),
        DIALOGTUI_DATA_DIR=str(tmp_path / "data"),
        DIALOGTUI_LOG_DIR=str(tmp_path / "log"),
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    return child


def bot(server: DevServer) -> list[str]:
    return ["--base-url", server.base_url, "--chatbot-id", DEMO_CHATBOT_ID]


def dialogtui(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dialogtui", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_test_file(tmp_path: Path, source: str, name: str = "suite.toml") -> str:
    path = tmp_path / name
    path.write_text(source, encoding="utf-8")
    return str(path)


def test_one_failing_expectation_exits_1_names_it_and_the_reply_and_junit_has_one_failure(
    server: DevServer, tmp_path: Path, env: dict[str, str]
) -> None:
    path = write_test_file(
        tmp_path,
        '[[turns]]\nsend = "hello"\nexpect = { contains = ["demo server"] }\n\n'
        '[[turns]]\nsend = "the price \\u001b[2J please"\n'
        'expect = { contains = ["a price that is not there"] }\n',
        "pricing.toml",
    )
    junit = tmp_path / "report" / "junit.xml"
    junit.parent.mkdir()
    done = dialogtui("test", *bot(server), path, "--junit", str(junit), env=env)
    assert done.returncode == exitcodes.FAILED, done.stderr
    out = done.stdout
    assert "ok   pricing · turn 1: hello" in out
    assert "FAIL pricing · turn 2: the price ␛[2J please" in out
    assert 'contains "a price that is not there": the reply does not contain it' in out
    assert 'reply: "You said: “the price ␛[2J please”.' in out
    assert "\x1b" not in out
    assert "2 turns: 1 passed, 1 failed" in out
    assert "p50" in out and "p95" in out
    root = ET.parse(junit).getroot()
    assert [c.get("name") for c in root.iter("testcase")] == [
        "turn 1: hello",
        "turn 2: the price ␛[2J please",
    ]
    failures = list(root.iter("failure"))
    assert len(failures) == 1
    assert (failures[0].get("message") or "").startswith('contains "a price that is not there"')
    assert "You said: “the price ␛[2J please”" in (failures[0].text or "")


def test_suggestions_forms_and_json_lines_one_object_per_turn(
    server: DevServer, tmp_path: Path, env: dict[str, str]
) -> None:
    done = dialogtui("test", *bot(server), write_test_file(tmp_path, SHOP), "--json", env=env)
    assert done.returncode == exitcodes.OK, done.stdout + done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["turn"], r["sent"], r["passed"], r["outcome"]) for r in records] == [
        (1, "What do you sell?", True, "done"),
        (2, "(choose) Talk to sales", True, "done"),
        (3, "(form) email, name", True, "done"),
    ]
    assert "show_contact_form" in records[1]["parts"]
    assert records[2]["reply"] == "Thanks, we'll be in touch."
    assert records[0]["timings"]["total_ms"] >= records[0]["timings"]["to_first_text_ms"] >= 0
    # The summary is on stderr, beside the JSON lines.
    assert "3 turns: 3 passed, 0 failed" in done.stderr
    # The chosen suggestion sent its prompt text, and the form went to /actions.
    assert server.stats.count("POST /actions") == 1


def test_steps_that_cannot_be_played_fail_with_what_was_offered(
    server: DevServer, tmp_path: Path, env: dict[str, str]
) -> None:
    source = (
        '[[turns]]\nsend = "hi"\n'
        '[[turns]]\nchoose = "Speak to a robot"\n'
        '[[turns]]\nform = { name = "Ada" }\n'
    )
    done = dialogtui("test", *bot(server), write_test_file(tmp_path, source), env=env)
    assert done.returncode == exitcodes.FAILED
    assert (
        'choose "Speak to a robot": the last reply has no such choice '
        '(offered: "Compare plans", "Talk to sales")'
    ) in done.stdout
    assert "form: no form is open (the last reply did not ask for one)" in done.stdout
    assert "errors by code: not_played 2" in done.stdout


def test_many_visitors_each_have_their_own_conversation(
    server: DevServer, tmp_path: Path, env: dict[str, str]
) -> None:
    junit = tmp_path / "junit.xml"
    done = dialogtui(
        "test",
        *bot(server),
        write_test_file(tmp_path, SHOP),
        "--visitors",
        "4",
        "--repeat",
        "2",
        "--concurrency",
        "3",
        "--junit",
        str(junit),
        env=env,
    )
    assert done.returncode == exitcodes.OK, done.stdout + done.stderr
    assert "24 turns: 24 passed, 0 failed" in done.stdout
    # Every play is a new visitor: 8 tokens minted, and each form was answered once (a form
    # shared between two conversations would have got a 409 the second time).
    assert server.stats.count("POST /auth") == 8
    assert server.stats.count("POST /actions") == 8
    names = [c.get("name") for c in ET.parse(junit).getroot().iter("testcase")]
    assert len(names) == len(set(names)) == 24
    assert "turn 3 (visitor 4, round 2): (form) email, name" in names


def test_a_rate_limit_slows_the_run_down_instead_of_failing_it(
    server: DevServer, tmp_path: Path, env: dict[str, str]
) -> None:
    source = (
        '[[turns]]\nsend = "hello !rate_limited_once"\n'
        '[[turns]]\nsend = "always !rate_limited"\nexpect = { error_code = "rate_limited" }\n'
    )
    done = dialogtui(
        "test", *bot(server), write_test_file(tmp_path, source), "--visitors", "3", env=env
    )
    assert done.returncode == exitcodes.OK, done.stdout + done.stderr
    assert "6 turns: 6 passed, 0 failed" in done.stdout
    # Each visitor's first turn was refused once, waited out (Retry-After: 1) and sent again;
    # the turn that expects the 429 was sent once and not retried.
    assert server.stats.scenario_count("rate_limited_once") == 6
    assert server.stats.scenario_count("rate_limited") == 3
    assert "rate limited: waited 3 times, 3.0 s in all" in done.stdout
    assert "errors by code: rate_limited 3" in done.stdout


def test_a_bad_test_file_exits_2_with_its_line(
    server: DevServer, tmp_path: Path, env: dict[str, str]
) -> None:
    good = write_test_file(tmp_path, '[[turns]]\nsend = "hi"\n', "good.toml")
    bad = write_test_file(tmp_path, '[[turns]]\nsend = "hi"\n[turns.expect]\ncontain = "x"\n')
    done = dialogtui("test", *bot(server), good, bad, env=env)
    assert done.returncode == exitcodes.USAGE
    assert done.stderr.startswith(f'dialogtui: {bad}:4: unknown key "contain" in turn 1\'s expect')
    assert done.stdout == ""
    assert server.stats.count("POST /messages") == 0  # nothing is played before all are read


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "Give at least one test file"),
        (("x.toml", "--visitors", "0"), "--visitors must be at least 1."),
        (("x.toml", "--junit", "/nonexistent/dir/j.xml"), "--junit: there is no folder"),
        (("x.toml", "--junit", "/tmp"), "--junit: /tmp is a folder; give a file name"),
        (("x.toml", "--junit", "reports/"), "--junit: reports/ is a folder; give a file name"),
        (("--record", "1", "x.toml"), "--record writes a test file: give no test files with it."),
    ],
)
def test_usage_errors_exit_2(
    server: DevServer, env: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    done = dialogtui("test", *bot(server), *args, env=env)
    assert done.returncode == exitcodes.USAGE
    assert message in done.stderr


def test_a_visitor_token_alone_is_one_visitor(
    server: DevServer, tmp_path: Path, env: dict[str, str]
) -> None:
    del env["DIALOGTUI_API_KEY"]
    path = write_test_file(tmp_path, '[[turns]]\nsend = "hi"\n')
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "dialogtui",
            "test",
            *bot(server),
            path,
            "--visitors",
            "2",
            "--visitor-token-stdin",
        ],
        env=env,
        cwd=ROOT,
        input="some-token\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == exitcodes.USAGE
    assert "--visitors and --repeat need an API key" in done.stderr


def test_rejected_credentials_exit_3_and_no_connection_exits_5(
    server: DevServer, tmp_path: Path, env: dict[str, str]
) -> None:
    path = write_test_file(tmp_path, '[[turns]]\nsend = "hi"\n[[turns]]\nsend = "again"\n')
    rejected = dialogtui("test", *bot(server), path, env=env | {"DIALOGTUI_API_KEY": "wrong"})
    assert rejected.returncode == exitcodes.AUTH, rejected.stdout + rejected.stderr
    assert "1 turn: 0 passed, 1 failed" in rejected.stdout  # it stopped after the first
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    unreachable = dialogtui(
        "test", "--base-url", f"http://127.0.0.1:{port}", "--chatbot-id", "x", path, env=env
    )
    assert unreachable.returncode == exitcodes.NETWORK, unreachable.stdout + unreachable.stderr
    assert "Could not reach the chatbot" in unreachable.stderr


def test_ctrl_c_stops_and_still_writes_the_report_and_junit(
    server: DevServer, tmp_path: Path, env: dict[str, str]
) -> None:
    path = write_test_file(
        tmp_path,
        '[[turns]]\nsend = "hello"\n[[turns]]\nsend = "slowly !slow:2000"\n'
        '[[turns]]\nsend = "never"\n',
    )
    junit = tmp_path / "junit.xml"
    child = subprocess.Popen(
        [sys.executable, "-m", "dialogtui", "test", *bot(server), path, "--junit", str(junit)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith("ok   suite · turn 1: hello"):
                break
        # Turn 2 is under way (its events are 2 s apart) once the server has its request.
        while server.stats.count("POST /messages") < 2:
            assert child.poll() is None
            subprocess.run(["sleep", "0.05"], check=True)
        child.send_signal(signal.SIGINT)
        rest, errors = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == exitcodes.INTERRUPTED, errors
    assert "1 turn: 1 passed, 0 failed (interrupted: the rest were not played)" in rest
    assert "Interrupted." in errors
    root = ET.parse(junit).getroot()
    assert [c.get("name") for c in root.iter("testcase")] == ["turn 1: hello"]


def test_record_writes_a_test_file_that_plays_back(
    server: DevServer, tmp_path: Path, env: dict[str, str]
) -> None:
    # A saved conversation, as `run` saves one.
    script = tmp_path / "script.txt"
    script.write_text("What do you sell?\noops !stream_error_fatal\n", encoding="utf-8")
    ran = dialogtui("run", *bot(server), str(script), env=env)
    assert ran.returncode == exitcodes.FAILED, ran.stderr  # the second turn failed, as meant
    history = json.loads(dialogtui("history", "--json", env=env).stdout)
    conversation_id = str(history[0]["id"])

    recorded = dialogtui("test", "--record", conversation_id, env=env)
    assert recorded.returncode == exitcodes.OK, recorded.stderr
    test = parse_test_file(recorded.stdout.encode(), "recorded.toml")
    assert [turn.send for turn in test.turns] == ["What do you sell?", "oops !stream_error_fatal"]
    first, second = (turn.expect for turn in test.turns)
    assert first.parts == ("products", "suggestions") and first.outcome == "done"
    assert first.max_seconds is not None and first.max_seconds >= 5
    assert (second.outcome, second.error_code) == ("error", "generation_failed")
    assert "# The bot replied:" in recorded.stdout

    output = tmp_path / "recorded.toml"
    written = dialogtui("test", "--record", conversation_id, "-o", str(output), env=env)
    assert written.returncode == exitcodes.OK
    assert output.read_text(encoding="utf-8") == recorded.stdout
    again = dialogtui("test", "--record", conversation_id, "-o", str(output), env=env)
    assert again.returncode == exitcodes.USAGE and "exists already" in again.stderr

    played = dialogtui("test", *bot(server), str(output), env=env)
    assert played.returncode == exitcodes.OK, played.stdout + played.stderr

    missing = dialogtui("test", "--record", "999", env=env)
    assert missing.returncode == exitcodes.USAGE
    assert "There is no saved conversation 999" in missing.stderr


def readme_example() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Conversation tests") :]
    return section[
        section.index("```toml\n") + 8 : section.index("```\n", section.index("```toml"))
    ]


def test_the_readmes_example_passes_and_its_misspelt_key_is_reported_as_it_says(
    server: DevServer, tmp_path: Path, env: dict[str, str]
) -> None:
    example = readme_example()
    done = dialogtui("test", *bot(server), write_test_file(tmp_path, example, "shop.toml"), env=env)
    assert done.returncode == exitcodes.OK, done.stdout + done.stderr
    assert "4 turns: 4 passed, 0 failed" in done.stdout
    misspelt = write_test_file(tmp_path, example.replace("contains =", "contain =", 1), "shop.toml")
    bad = dialogtui("test", *bot(server), misspelt, env=env)
    assert bad.returncode == exitcodes.USAGE
    said = 'shop.toml:7: unknown key "contain" in turn 1\'s expect (allowed: '
    assert said in bad.stderr
    assert said.replace(" (allowed: ", "") in (ROOT / "README.md").read_text(encoding="utf-8")


def test_run_ends_with_the_latency_figures_and_errors_by_code(
    server: DevServer, tmp_path: Path, env: dict[str, str]
) -> None:
    script = tmp_path / "script.txt"
    script.write_text("hello\noops !stream_error_fatal\nagain\n", encoding="utf-8")
    ran = dialogtui("run", *bot(server), "--no-save", str(script), env=env)
    assert ran.returncode == exitcodes.FAILED
    lines = ran.stdout.splitlines()
    header = lines.index(next(line for line in lines if line.startswith("latency")))
    assert lines[header].split() == ["latency", "p50", "p95", "max", "turns"]
    assert [line.split()[0] for line in lines[header + 1 : header + 4]] == [
        "headers",
        "first",
        "done",
    ]
    assert lines[header + 3].split()[-1] == "3"  # three turns timed to their end
    assert lines[header + 4] == "errors by code: generation_failed 1"
    assert lines[header + 5].startswith("#  outcome")  # then the table, its tally last
    assert lines[-1] == "3 turns: 2 done, 1 error"


def test_contains_sees_what_send_prints_table_cells_and_product_prices(
    server: DevServer, tmp_path: Path, env: dict[str, str]
) -> None:
    # A person checks what the bot showed: a table's cells and a card's price count as much
    # as the text (they were invisible to `contains` when it read the text parts only).
    source = """\
[[turns]]
send = "show me a table"
expect = { contains = ["Starter", "Let's talk", "399.00 DKK"], parts = ["table"] }
"""
    done = dialogtui("test", *bot(server), write_test_file(tmp_path, source), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 0 failed" in done.stdout


def test_a_first_turn_chooses_one_of_the_bots_start_prompts(
    server: DevServer, tmp_path: Path, env: dict[str, str]
) -> None:
    # Before any turn a chat window offers the start prompts of the bot's config; a test's
    # first turn can choose one, and a wrong title names those offered.
    first = '[[turns]]\nchoose = "what can you do?"\nexpect = { contains = ["You said"] }\n'
    done = dialogtui("test", *bot(server), write_test_file(tmp_path, first), "--json", env=env)
    assert done.returncode == exitcodes.OK, done.stdout + done.stderr
    [record] = [json.loads(line) for line in done.stdout.splitlines()]
    assert (record["sent"], record["passed"]) == ("(choose) what can you do?", True)
    assert "You said: “What can you do?”" in record["reply"]
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    path = write_test_file(wrong, '[[turns]]\nchoose = "Nope"\n')
    done = dialogtui("test", *bot(server), path, env=env)
    assert done.returncode != exitcodes.OK
    assert 'the bot\'s start prompts have no such choice (offered: "What can you do?"' in (
        done.stdout + done.stderr
    )
