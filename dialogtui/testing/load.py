"""Conversation test files as a Locust user (`pip install 'dialogtui[load]'`).

Past one machine: Locust's distributed mode (one master, many workers) plays the same test
files with its own statistics and web UI. A locustfile names the files:

    from dialogtui.testing.load import ConversationUser

    class ShopVisitor(ConversationUser):
        test_files = ["shop.toml"]

and runs with the bot's API key and chatbot id in the environment:

    DIALOGTUI_API_KEY=... DIALOGTUI_CHATBOT_ID=... locust -f locustfile.py --host https://...

Each task plays one file (in turn) as a new visitor, through the same runner as
`dialogtui test`: the same client, expectations and shared back-off on 429. Each turn is
reported to Locust as a request: type `turn` (the time to `done`) and `first text`, named
`file · turn N`; a turn whose expectations failed is a failure whose message names them.

Why a thread: Locust runs users as gevent greenlets, and asyncio keeps one running loop per
OS thread, so a greenlet cannot run a loop of its own beside another's. One asyncio loop runs
in a real thread for the whole process; a user's greenlet hands it a play and waits
cooperatively, reporting turns as they end.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any, ClassVar

import gevent
from gevent import monkey
from locust import User, task
from locust.exception import StopUser

from ..target import Target
from .expect import Failure, TurnResult
from .player import SharedConnections
from .report import CaseId, Report
from .runner import RateLimitGate, Runner, Stopped
from .testfile import TestFile, TestFileError, load_test_file

POLL_SECONDS = 0.01
"""How often a waiting user looks for ended turns (gevent cannot be woken from the thread)."""
CONNECTIONS_PER_PROCESS = 100


class ExpectationFailed(Exception):
    """A turn's expectations did not hold: Locust shows this message as the failure."""


class _Loop:
    """The process's asyncio loop, in a real thread (not a greenlet), with the connections
    and the rate-limit back-off every user of the process shares."""

    _lock = threading.Lock()
    _instance: ClassVar[_Loop | None] = None

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.gate = RateLimitGate()
        self.connections = SharedConnections(CONNECTIONS_PER_PROCESS)
        thread = monkey.get_original("threading", "Thread")  # a real one, under gevent too
        thread(target=self.loop.run_forever, name="dialogtui-load", daemon=True).start()

    @classmethod
    def get(cls) -> _Loop:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def submit(self, coroutine: Any) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)


class ConversationUser(User):
    """Plays `test_files` one by one, each time as a new visitor. Subclass it and set them."""

    abstract = True
    test_files: ClassVar[Sequence[str]] = ()
    chatbot_id: ClassVar[str | None] = None
    """Else DIALOGTUI_CHATBOT_ID."""

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self._files: list[TestFile] = []
        self._next = 0

    def on_start(self) -> None:
        if not self.test_files:
            raise StopUser("ConversationUser: set test_files in your user class")
        try:
            self._files = [load_test_file(path) for path in self.test_files]
        except TestFileError as exc:
            self.environment.events.user_error.fire(user_instance=self, exception=exc, tb=None)
            raise StopUser(str(exc)) from None

    def target(self) -> Target:
        api_key = os.environ.get("DIALOGTUI_API_KEY")
        chatbot_id = self.chatbot_id or os.environ.get("DIALOGTUI_CHATBOT_ID")
        if not api_key or not chatbot_id or not self.host:
            raise StopUser(
                "ConversationUser needs --host (the API base URL), DIALOGTUI_API_KEY and "
                "DIALOGTUI_CHATBOT_ID (or chatbot_id in the user class)"
            )
        return Target(self.host.rstrip("/"), chatbot_id, api_key=api_key)

    @task
    def play(self) -> None:
        test = self._files[self._next % len(self._files)]
        self._next += 1
        shared = _Loop.get()
        ended: deque[tuple[CaseId, TurnResult, Sequence[Failure]]] = deque()

        def on_turn(case: CaseId, result: TurnResult, failures: Sequence[Failure]) -> None:
            ended.append((case, result, failures))  # from the loop's thread: a deque is safe

        runner = Runner(
            self.target(),
            Report(),
            on_turn=on_turn,
            gate=shared.gate,
            connections=shared.connections,
        )
        future = shared.submit(runner.run([test]))
        try:
            while not future.done():
                gevent.sleep(POLL_SECONDS)
                self._report(ended)
            self._report(ended)
            future.result()
        except Stopped:
            pass  # the failed turn is reported; the next task starts afresh
        except BaseException:
            future.cancel()  # the user is stopping: end its conversation
            raise

    def _report(self, ended: deque[tuple[CaseId, TurnResult, Sequence[Failure]]]) -> None:
        fire = self.environment.events.request.fire
        while ended:
            case, result, failures = ended.popleft()
            name = f"{case.file.name} · turn {case.turn.number}"
            exception = ExpectationFailed("; ".join(map(str, failures))) if failures else None
            fire(
                request_type="turn",
                name=name,
                response_time=(result.total or 0.0) * 1000,
                response_length=len(result.reply),
                exception=exception,
                context={"outcome": result.outcome, "error_code": result.error_code},
            )
            if result.to_first_text is not None:
                fire(
                    request_type="first text",
                    name=name,
                    response_time=result.to_first_text * 1000,
                    response_length=0,
                    exception=None,
                    context={},
                )
