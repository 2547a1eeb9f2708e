"""The runner in process against the dev server, and the shared back-off on its own clock."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from dialogtui.config import Settings
from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID, DevServer
from dialogtui.target import Target
from dialogtui.testing.expect import Failure, TurnResult
from dialogtui.testing.report import CaseId, Report
from dialogtui.testing.runner import (
    MAX_RETRY_AFTER,
    RateLimitGate,
    Runner,
    backoff_seconds,
)
from dialogtui.testing.testfile import parse_test_file


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


async def test_the_gate_holds_every_waiter_until_the_latest_back_off_ends() -> None:
    clock = FakeClock()
    gate = RateLimitGate(clock=clock, sleep=clock.sleep)
    await gate.wait()
    assert clock.slept == []  # no back-off: no wait at all
    gate.hold(2.0)
    gate.hold(0.5)  # a shorter hold never shortens a longer one
    await gate.wait()
    assert clock.now == 2.0
    gate.hold(1.0)
    first = asyncio.create_task(gate.wait())
    await asyncio.sleep(0)  # the waiter has slept its 1 s (the fake clock jumps): now = 3
    gate.hold(3.0)  # another visitor's 429 before the waiter woke: it waits on, to 6
    second = asyncio.create_task(gate.wait())  # and a new waiter waits for the same end
    await asyncio.gather(first, second)
    assert clock.now == 6.0
    assert clock.slept == [2.0, 1.0, 3.0]


def test_the_back_off_honours_retry_after_and_grows_without_it() -> None:
    assert backoff_seconds(2.5, 1) == 2.5
    assert backoff_seconds(10_000, 1) == MAX_RETRY_AFTER
    assert [backoff_seconds(None, attempt) for attempt in (1, 2, 3, 9)] == [0.5, 1.0, 2.0, 30.0]


class RecordingGate(RateLimitGate):
    def __init__(self) -> None:
        super().__init__()
        self.holds: list[float] = []

    def hold(self, seconds: float) -> None:
        self.holds.append(seconds)
        super().hold(seconds)


async def test_each_429_holds_every_visitor_for_the_servers_retry_after(server: DevServer) -> None:
    server.config.retry_after = 1
    test = parse_test_file(
        b'[[turns]]\nsend = "hello !rate_limited_once"\n[[turns]]\nsend = "and on"\n', "r.toml"
    )
    seen: list[tuple[int, int, str, int]] = []

    def on_turn(case: CaseId, result: TurnResult, failures: Sequence[Failure]) -> None:
        seen.append((case.visitor, case.turn.number, result.outcome, len(failures)))

    report = Report(many=True)
    gate = RecordingGate()
    target = Target(server.base_url, DEMO_CHATBOT_ID, api_key=DEMO_API_KEY)
    runner = Runner(target, report, on_turn=on_turn, visitors=2, gate=gate)
    await runner.run([test])
    assert gate.holds == [1.0, 1.0]
    assert (report.rate_limit_waits, report.rate_limit_seconds) == (2, 2.0)
    assert sorted(seen) == [
        (1, 1, "done", 0),
        (1, 2, "done", 0),
        (2, 1, "done", 0),
        (2, 2, "done", 0),
    ]
    assert report.figures.errors == {}  # the 429s waited out are not the turns' results


async def test_a_429_that_never_ends_becomes_the_turns_result(server: DevServer) -> None:
    server.config.retry_after = 0
    test = parse_test_file(b'[[turns]]\nsend = "hello !rate_limited"\n', "r.toml")
    report = Report()
    target = Target(server.base_url, DEMO_CHATBOT_ID, api_key=DEMO_API_KEY)
    runner = Runner(target, report, on_turn=lambda *_: None, gate=RecordingGate())
    await runner.run([test])
    assert report.failed == 1
    assert report.figures.errors == {"rate_limited": 1}
    assert report.rate_limit_waits == 10  # MAX_RATE_LIMIT_WAITS, then the 429 stands
    assert server.stats.scenario_count("rate_limited") == 11


async def test_no_reply_outlives_its_turn_while_many_visitors_play(server: DevServer) -> None:
    """Memory stays flat because nothing of a turn is kept once it is reported. Counted when a
    file ends (all its turns reported; files play one after another), the replies alive are
    at most the visitors' last ones, the same after 20 turns as after 40; once the run is
    over, with its runner and report still held, there are none. Keeping replies anywhere
    would make that 20 and 40.

    Only strings equal to a reported reply are counted (by hash: the test keeps no reply).
    Other big strings measure something else: the dev server's thread holds each stream's
    last SSE frame (the `done` event carries the whole message) until it gets round to
    closing that stream, so how many are alive at one instant depends on scheduling."""
    import gc

    visitors = 4
    source = "".join(f'[[turns]]\nsend = "turn {n} !long:400"\n' for n in range(5))
    files = [parse_test_file(source.encode(), name) for name in ("one.toml", "two.toml")]
    report = Report(many=True)
    reported: set[int] = set()
    alive: dict[int, int] = {}

    def replies_alive() -> int:
        gc.collect()
        replies = {
            id(referent)
            for holder in gc.get_objects()
            for referent in gc.get_referents(holder)
            if isinstance(referent, str) and len(referent) > 7_000 and hash(referent) in reported
        }
        return len(replies)

    def count(case: CaseId, result: TurnResult, failures: Sequence[Failure]) -> None:
        assert len(result.reply) > 7_000 and not failures, (result.outcome, result.error_code)
        reported.add(hash(result.reply))
        if report.turns in (20, 40):
            alive[report.turns] = replies_alive()

    target = Target(server.base_url, DEMO_CHATBOT_ID, api_key=DEMO_API_KEY)
    runner = Runner(target, report, on_turn=count, visitors=visitors)
    await runner.run(files)
    assert report.turns == 40
    # The reply being reported is seen (the count works); a visitor's conversation holds its
    # last reply (as the result and as its last reply) until it has closed, which can be a
    # moment after the file's last report.
    assert all(1 <= alive[turns] <= 2 * visitors for turns in (20, 40)), alive
    assert replies_alive() == 0, "a reply outlived the run"


class CountingRunner(Runner):
    """Counts the conversations open at once."""

    open_now = peak = 0

    async def _conversation(self, *args: Any) -> None:
        self.open_now += 1
        self.peak = max(self.peak, self.open_now)
        try:
            await super()._conversation(*args)
        finally:
            self.open_now -= 1


async def test_concurrency_is_bounded_and_every_play_is_played_once(server: DevServer) -> None:
    test = parse_test_file(b'[[turns]]\nsend = "hi"\n[[turns]]\nsend = "again"\n', "c.toml")
    target = Target(server.base_url, DEMO_CHATBOT_ID, api_key=DEMO_API_KEY)
    for visitors, concurrency, peak in ((6, 2, 2), (3, 20, 3)):
        plays: list[tuple[int, int, int]] = []
        runner = CountingRunner(
            target,
            Report(many=True),
            on_turn=lambda case, *_, plays=plays: plays.append(
                (case.visitor, case.round, case.turn.number)
            ),
            visitors=visitors,
            repeat=2,
            concurrency=concurrency,
        )
        await runner.run([test])
        assert runner.peak == peak
        assert sorted(plays) == [
            (v, r, t) for v in range(1, visitors + 1) for r in (1, 2) for t in (1, 2)
        ]


async def test_the_runner_sends_the_page_and_client_profile_in_force(server: DevServer) -> None:
    # The runner shares connections between visitors; its sessions still carry the target's
    # settings, as every other front-end's do.
    test = parse_test_file(b'[[turns]]\nsend = "hello"\n', "p.toml")
    settings = Settings(page="https://shop.test/cart", client_profile="product-recommendation")
    target = Target(server.base_url, DEMO_CHATBOT_ID, api_key=DEMO_API_KEY, settings=settings)
    await Runner(target, Report(), on_turn=lambda *_: None).run([test])
    assert server.stats.context_pages == ["https://shop.test/cart"]
    assert server.stats.client_profiles == ["product-recommendation"]
