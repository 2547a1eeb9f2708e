"""Playing test files: each as N visitors at once, K rounds each, with a shared back-off on 429.

Every (visitor, round) is a conversation of its own (a new visitor: its own token), so
visitors never see each other's turns. As many conversations run at once as there are
visitors, at most `concurrency`. When
the server says 429, every visitor waits (as long as `Retry-After` says, else a growing pause)
before its next request and the turn is sent again: a rate limit slows a run down instead of
failing it, unless the turn expects `error_code = "rate_limited"`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Final

from ..text import sanitize_line
from .expect import Failure, TurnResult, evaluate
from .player import RATE_LIMITED, Played, SharedConnections, Visitor
from .report import CaseId, Report

if TYPE_CHECKING:
    from ..target import Target
    from .testfile import TestFile, TestTurn

DEFAULT_CONCURRENCY: Final = 20
MAX_RATE_LIMIT_WAITS: Final = 10
"""Times one step is sent again after a 429 before the 429 counts as its result."""
MAX_RETRY_AFTER: Final = 60.0
"""A longer `Retry-After` is waited out only this long at a time."""

TurnListener = Callable[[CaseId, TurnResult, Sequence[Failure]], None]


class RateLimitGate:
    """The shared back-off: one "not before" time for every visitor of the run."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._until = 0.0

    async def wait(self) -> None:
        """Return once the back-off (which may grow meanwhile) is over."""
        while (delay := self._until - self._clock()) > 0:
            await self._sleep(delay)

    def hold(self, seconds: float) -> None:
        self._until = max(self._until, self._clock() + seconds)


def backoff_seconds(retry_after: float | None, attempt: int) -> float:
    """What the server asked for, else 0.5 s doubling per attempt (capped)."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), MAX_RETRY_AFTER)
    return min(0.5 * 2.0 ** (attempt - 1), 30.0)


class Stopped(Exception):
    """A turn failed in a way that makes the rest pointless (rejected key, no connection)."""

    def __init__(self, exit_code: int, message: str) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.message = message


class Runner:
    def __init__(
        self,
        target: Target,
        report: Report,
        *,
        on_turn: TurnListener,
        visitors: int = 1,
        repeat: int = 1,
        concurrency: int = DEFAULT_CONCURRENCY,
        gate: RateLimitGate | None = None,
        connections: SharedConnections | None = None,
    ) -> None:
        """`gate` and `connections` may be shared with other runners (the Locust user does);
        by default each run has its own."""
        self.target = target
        self.report = report
        self.on_turn = on_turn
        self.visitors = visitors
        self.repeat = repeat
        self.concurrency = max(1, concurrency)
        self._gate = gate or RateLimitGate()
        self._connections = connections

    async def run(self, files: Sequence[TestFile]) -> None:
        """Play every file, one after another. Raises `Stopped` (the report holds what was
        played); Ctrl+C cancels, and the report still holds every turn that ended."""
        if self._connections is not None:
            await self._play_all(files, self._connections)
            return
        async with SharedConnections(self.concurrency) as connections:
            await self._play_all(files, connections)

    async def _play_all(self, files: Sequence[TestFile], connections: SharedConnections) -> None:
        for test in files:
            try:
                await self._play(test, connections)
            except* Stopped as stopped:
                raise stopped.exceptions[0] from None

    async def _play(self, test: TestFile, connections: SharedConnections) -> None:
        """Every (visitor, round) of `test`, round by round, by a fixed number of workers: as
        many conversations at once as there are visitors (at most `concurrency`), and memory
        that does not grow with the visitors or rounds asked for."""
        plays = (
            (visitor, round_number)
            for round_number in range(1, self.repeat + 1)
            for visitor in range(1, self.visitors + 1)
        )

        async def worker() -> None:
            for visitor, round_number in plays:  # one shared queue: each play taken once
                await self._conversation(test, visitor, round_number, connections)

        async with asyncio.TaskGroup() as group:
            for _ in range(min(self.concurrency, self.visitors)):
                group.create_task(worker())

    async def _conversation(
        self, test: TestFile, visitor: int, round_number: int, connections: SharedConnections
    ) -> None:
        async with Visitor(self.target, connections) as conversation:
            if test.turns and test.turns[0].choose is not None:
                await conversation.offer_start_prompts()
            for turn in test.turns:
                case = CaseId(test, turn, visitor, round_number)
                played = await self._step(conversation, turn)
                failures = evaluate(turn.expect, played.result)
                self.report.add(case, played.result, failures)
                self.on_turn(case, played.result, failures)
                if failures and played.fatal_exit is not None:
                    raise Stopped(played.fatal_exit, played.message or "")

    async def _step(self, conversation: Visitor, turn: TestTurn) -> Played:
        if turn.form is not None:
            if conversation.open_form() is None:
                return _not_played("form", "no form is open (the last reply did not ask for one)")
            values = dict(turn.form)
            return await self._rate_limited(lambda: conversation.submit_form(values), turn)
        text = turn.send
        if turn.choose is not None:
            offered = conversation.choices()
            wanted = turn.choose.casefold()
            text = next((sent for title, sent in offered if title.casefold() == wanted), None)
            if text is None:
                titles = ", ".join(f'"{title}"' for title, _ in offered)
                seen = f"offered: {titles}" if offered else "it offered none"
                offerer = (
                    "the bot's start prompts have" if turn.number == 1 else "the last reply has"
                )
                return _not_played(f'choose "{turn.choose}"', f"{offerer} no such choice ({seen})")
        assert text is not None
        sent = text
        return await self._rate_limited(lambda: conversation.send(sent), turn)

    async def _rate_limited(
        self, attempt: Callable[[], Awaitable[Played]], turn: TestTurn
    ) -> Played:
        waits = 0
        while True:
            await self._gate.wait()
            played = await attempt()
            if (
                not played.rate_limited
                or turn.expect.error_code == RATE_LIMITED
                or waits >= MAX_RATE_LIMIT_WAITS
            ):
                return played
            waits += 1
            seconds = backoff_seconds(played.retry_after, waits)
            self._gate.hold(seconds)
            self.report.rate_limited(seconds)


def _not_played(expectation: str, reason: str) -> Played:
    problem = Failure(sanitize_line(expectation), sanitize_line(reason))
    return Played(TurnResult("", "skipped", problem=problem))
