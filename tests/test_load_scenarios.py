"""The dev server's load-testing scenarios (slow_first_text, jitter, per_visitor_limit,
fail_one_in): over real sockets, and under the real `dialogtui test --demo --visitors` CLI."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest

from dialogtui import exitcodes
from dialogtui.devserver import DevServer, DevServerConfig
from dialogtui.devserver.scenarios import (
    Choice,
    TurnMemory,
    first_text_index,
    parse_scenario,
    stream_plan,
)

from .test_devserver import api, assert_envelope, auth, bearer, message_body, send
from .test_testing_cli import dialogtui, env, write_test_file

__all__ = ["env"]  # the CLI tests' environment fixture, used here too

# ---------------------------------------------------------------------------------------------
# choosing them: NAME:N, checked


def test_numbered_scenarios_parse_and_bad_ones_say_why() -> None:
    assert parse_scenario("fail_one_in:4") == Choice("fail_one_in", 4)
    assert parse_scenario("per_visitor_limit") == Choice("per_visitor_limit")
    assert parse_scenario("long:250") == Choice("long", 250)
    for spec, message in [
        ("nope:3", "Unknown scenario 'nope'"),
        ("ok:3", "Scenario 'ok' takes no :N"),
        ("fail_one_in:0", "fail_one_in:N needs a whole number from 1 to 1000000, not '0'"),
        ("jitter:-5", "not '-5'"),
        ("jitter:", "not ''"),
        ("slow_first_text:٣", "not '٣'"),  # an Arabic-Indic digit: isdigit() alone says yes
    ]:
        with pytest.raises(ValueError, match=message):
            parse_scenario(spec)


def test_a_server_wide_numbered_scenario_is_split_into_name_and_number() -> None:
    config = DevServerConfig(scenario="fail_one_in:5")
    assert (config.scenario, config.scenario_arg) == ("fail_one_in", 5)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("serve", "--port", "0", "--scenario", "fail_one_in:x"), "not 'x'"),
        (("serve", "--port", "0", "--scenario", "crlf:2"), "Scenario 'crlf' takes no :N"),
        (("--demo", "--scenario", "per_visitor_limit:0", "send", "hi"), "from 1 to 1000000"),
    ],
)
def test_a_bad_scenario_on_the_command_line_exits_2(
    args: tuple[str, ...], message: str, env: dict[str, str]
) -> None:
    done = dialogtui(*args, env=env, timeout=30)
    assert done.returncode == exitcodes.USAGE, done.stdout + done.stderr
    assert message in done.stderr
    assert done.stdout == ""


# ---------------------------------------------------------------------------------------------
# over sockets


def first_text_wait(server: DevServer, text: str) -> tuple[float, list[str]]:
    """Seconds from sending the message to reading its first part, and the event names.
    (From the send, not from the status events: a busy client reading those late would shrink
    the wait it sees, so only this lower bound holds on any machine.)"""
    names: list[str] = []
    token = auth(server)
    first_text_at = 0.0
    started = time.monotonic()
    with (
        httpx.Client(timeout=10) as client,
        client.stream(
            "POST", api(server, "/messages"), headers=bearer(token), json=message_body(text)
        ) as response,
    ):
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("event:"):
                names.append(line.removeprefix("event:").strip())
                if names[-1].startswith("part") and not first_text_at:
                    first_text_at = time.monotonic()
    return first_text_at - started, names


def test_slow_first_text_holds_back_only_the_first_text(server: DevServer) -> None:
    waited, names = first_text_wait(server, "hello !slow_first_text:700")
    assert waited >= 0.7
    assert names[:2] == ["status", "status"] and names[-1] == "done"
    # The same wait, chosen server-wide.
    server.config = DevServerConfig(scenario="slow_first_text:500")
    waited, names = first_text_wait(server, "hello")
    assert waited >= 0.5 and names[-1] == "done"
    assert server.stats.scenario_count("slow_first_text") == 2
    # Only that frame waits: every other gap is the server's delta delay.
    plan = stream_plan(Choice("slow_first_text", 500), "hello", "http://x", 0.0)
    first = first_text_index(plan.frames)
    assert plan.gaps == {first: 0.5}
    assert plan.frames[first][1]["delta"]["action"] == "start_part"  # type: ignore[index]
    assert [frame[0] for frame in plan.frames[:first]] == ["status", "status"]  # type: ignore[index]


def test_jitter_is_random_but_the_same_for_the_same_text(server: DevServer) -> None:
    def gaps(text: str) -> list[float]:
        plan = stream_plan(Choice("jitter", 80), text, "http://x", 0.0)
        return [plan.gap_before(index) for index in range(1, len(plan.frames))]

    once = gaps("hello !jitter:80")
    assert once == gaps("hello !jitter:80") != gaps("other !jitter:80")
    assert all(0 <= gap <= 0.08 for gap in once) and len(set(once)) == len(once)
    started = time.monotonic()
    first = send(server, auth(server), "hello !jitter:80")
    elapsed = time.monotonic() - started
    second = send(server, auth(server), "hello !jitter:80")
    assert elapsed >= sum(once)  # the gaps were really waited
    assert first.names() == second.names() and first.names()[-1] == "done"
    assert first.deltas() == second.deltas()


def test_per_visitor_limit_refuses_the_turn_after_n_until_retry_after(server: DevServer) -> None:
    server.config = DevServerConfig(scenario="per_visitor_limit:2")
    visitor = auth(server)
    first = send(server, visitor, "one")
    assert first.status == 200
    # The rotated token is the same visitor: its turns count together.
    visitor = first.done["visitor_token"]
    assert send(server, visitor, "two").status == 200
    refused = httpx.post(api(server, "/messages"), headers=bearer(visitor), json=message_body("3"))
    assert_envelope(refused, 429, "rate_limited")
    assert refused.headers["retry-after"] == "1"
    again = httpx.post(api(server, "/messages"), headers=bearer(visitor), json=message_body("3"))
    assert_envelope(again, 429, "rate_limited")
    # Another visitor has a budget of its own; other routes are not limited.
    assert send(server, auth(server), "elsewhere").status == 200
    assert httpx.get(api(server, "/config"), headers=bearer(visitor)).status_code == 200
    time.sleep(1.05)  # what Retry-After asked for
    assert [send(server, visitor, t).status for t in ("3", "4", "5")] == [200, 200, 429]


def test_per_visitor_limit_forgets_a_window_after_a_minute() -> None:
    now = [0.0]
    memory = TurnMemory(clock=lambda: now[0])
    limit = Choice("per_visitor_limit", 1)
    assert memory.before_turn(limit, "visitor", retry_after=5) == Choice("ok")
    refused = memory.before_turn(limit, "visitor", retry_after=5)
    assert not isinstance(refused, Choice) and refused.headers == {"Retry-After": "5"}
    now[0] = 3.5
    refused = memory.before_turn(limit, "visitor", retry_after=5)
    assert not isinstance(refused, Choice) and refused.headers == {"Retry-After": "2"}
    now[0] = 5.0
    assert memory.before_turn(limit, "visitor", retry_after=5) == Choice("ok")
    now[0] = 65.0  # a new minute: a new budget, no refusal needed first
    assert memory.before_turn(limit, "visitor", retry_after=5) == Choice("ok")


def outcome(streamed_names: list[str]) -> str:
    """How a stream ended: its last event (`done` or `error`)."""
    return streamed_names[-1]


def test_fail_one_in_fails_every_nth_turn_of_each_conversation(server: DevServer) -> None:
    server.config = DevServerConfig(scenario="fail_one_in:3")
    alice, bob = auth(server), auth(server)
    alice_turns = [send(server, alice, f"turn {n}") for n in range(1, 8)]
    assert [outcome(t.names()) for t in alice_turns] == [
        "done", "done", "error", "done", "done", "error", "done"
    ]  # fmt: skip
    (error,) = alice_turns[2].data("error")
    assert error["code"] == "generation_failed" and error["retryable"] is True
    assert alice_turns[2].deltas()  # a partial reply came first
    # Bob's count is his own.
    assert [outcome(send(server, bob, "hi").names()) for _ in range(3)] == ["done", "done", "error"]
    # By magic word, with its own N.
    carol = auth(server)
    names = [outcome(send(server, carol, "hi !fail_one_in:2").names()) for _ in range(4)]
    assert names == ["done", "error", "done", "error"]


# ---------------------------------------------------------------------------------------------
# the real CLI: many visitors


def test_many_visitors_under_a_per_visitor_limit_wait_instead_of_failing(
    tmp_path: Path, env: dict[str, str]
) -> None:
    source = '[[turns]]\nsend = "one"\n[[turns]]\nsend = "two"\n[[turns]]\nsend = "three"\n'
    junit = tmp_path / "junit.xml"
    done = dialogtui(
        "test",
        "--demo",
        "--scenario",
        "per_visitor_limit:2",
        write_test_file(tmp_path, source),
        "--visitors",
        "4",
        "--repeat",
        "3",
        "--junit",
        str(junit),
        env=env,
    )
    assert done.returncode == exitcodes.OK, done.stdout + done.stderr
    assert "36 turns: 36 passed, 0 failed" in done.stdout
    # Each of the 12 plays is a new visitor whose third turn was refused once (Retry-After: 1),
    # waited out and sent again.
    assert "rate limited: waited 12 times, 12.0 s in all" in done.stdout
    cases = list(ET.parse(junit).getroot().iter("testcase"))
    assert len(cases) == 36 and not any(case.find("failure") is not None for case in cases)


def test_many_visitors_with_fail_one_in_fail_exactly_those_turns(
    tmp_path: Path, env: dict[str, str]
) -> None:
    source = '[[turns]]\nsend = "one"\n[[turns]]\nsend = "two"\n'
    junit = tmp_path / "junit.xml"
    done = dialogtui(
        "test",
        "--demo",
        "--scenario",
        "fail_one_in:2",
        write_test_file(tmp_path, source),
        "--visitors",
        "4",
        "--repeat",
        "3",
        "--junit",
        str(junit),
        env=env,
    )
    assert done.returncode == exitcodes.FAILED, done.stdout + done.stderr
    assert "24 turns: 12 passed, 12 failed" in done.stdout
    assert "errors by code: generation_failed 12" in done.stdout
    cases = list(ET.parse(junit).getroot().iter("testcase"))
    failed = sorted(str(c.get("name")) for c in cases if c.find("failure") is not None)
    plays = [(visitor, play) for visitor in (1, 2, 3, 4) for play in (1, 2, 3)]
    assert failed == sorted(f"turn 2 (visitor {v}, round {r}): two" for v, r in plays)


def test_a_slow_first_text_shows_in_the_runs_first_text_figure(
    tmp_path: Path, env: dict[str, str]
) -> None:
    # A lower bound only: the server waits 1.5 s, so the client cannot see its first text
    # sooner than that, however fast the machine.
    source = '[[turns]]\nsend = "hello"\nexpect = { max_first_text_seconds = 1 }\n'
    done = dialogtui(
        "test", "--demo", "--scenario", "slow_first_text:1500", write_test_file(tmp_path, source),
        env=env,
    )  # fmt: skip
    assert done.returncode == exitcodes.FAILED, done.stdout + done.stderr
    assert "max_first_text_seconds = 1: the first text took" in done.stdout
    assert "1 turn: 0 passed, 1 failed" in done.stdout
