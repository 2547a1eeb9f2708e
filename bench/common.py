"""Shared helpers for the benchmarks in `bench/`: a dev server, the app on a Target, turns,
interleaved rounds, medians and ratios. Not a benchmark itself, except for one entry point:

    .venv/bin/python bench/common.py serve [--history N]

which the benchmarks start as a child process (see `ServerProcess`): the local dev server
(`dialogtui.devserver.DevServer`) in a process of its own, so that on a 2-core machine the
server does not take the GIL from the client or the app being measured, and the server's
time is not counted as the client's. It prints its URL as one JSON line, then, for every
paced stream, one JSON line with the stream's schedule; it exits when its stdin closes.

One paragraph. A message containing `@onepara=N` gets a reply of N append_text deltas of 20
characters in a single paragraph (see `one_paragraph_reply`).

Paced streams. A message containing `@rate=R` (besides the usual `!long:N`) is streamed at R
events per second on a fixed schedule: event k is due at t0 + k/R (CLOCK_MONOTONIC, which
`time.monotonic()` reads the same in every process); the server wakes at most every millisecond
and sends every event then due, each in its own write (one HTTP chunk per event, as a server
that flushes every event does, and as the full-speed stream is sent). Pacing by
`DevServerConfig.delta_delay` cannot do this: it sleeps between events, and an asyncio sleep
lasts at least a millisecond here, so it tops out near 1,000 events/s. The frames are encoded
before t0, so the server's own work never delays the schedule (the report says by how much it
fell behind, if at all).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import platform
import queue
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZE = (100, 40)
"""Terminal size of every headless app here (columns, rows)."""


# ---------------------------------------------------------------------------------------------
# Statistics: every figure is a median over interleaved rounds, with the min beside it.


CURSOR_QUERY = b"\x1b[6n"


def answer_cursor_queries(master: int, data: bytes) -> None:
    """Answer the cursor-position queries in `data` as a terminal would: the app asks them at
    start-up (how wide the terminal draws emoji, `dialogtui/ui/glyph_widths.py`) and waits for
    the answers. Each says column 3: every sample two cells wide, Rich's own measure."""
    for _ in range(data.count(CURSOR_QUERY)):
        os.write(master, b"\x1b[1;3R")


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def ratios(a: Sequence[float], b: Sequence[float]) -> list[float]:
    """Pairwise a[i]/b[i]: each pair was measured back to back, so machine drift cancels."""
    return [x / y for x, y in zip(a, b, strict=True)]


@dataclass
class Stat:
    """median and min of a list of values (and max, to show the spread)."""

    values: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def min(self) -> float:
        return min(self.values)

    @property
    def max(self) -> float:
        return max(self.values)

    def fmt(self, unit: str = "x", scale: float = 1.0, digits: int = 2) -> str:
        return (
            f"median {self.median * scale:.{digits}f}{unit} (min "
            f"{self.min * scale:.{digits}f}{unit}, "
            f"max {self.max * scale:.{digits}f}{unit}, n={len(self.values)})"
        )


async def interleave(
    variants: dict[str, Callable[[], Awaitable[Any]]],
    rounds: int,
    *,
    warmup: int = 1,
) -> dict[str, list[Any]]:
    """Run each variant once per round, A B C A B C ..., after `warmup` unrecorded rounds.

    The order within a round alternates (A B C, then C B A) so that a variant is not
    always the one that runs right after another's garbage.
    """
    results: dict[str, list[Any]] = {name: [] for name in variants}
    names = list(variants)
    for number in range(warmup + rounds):
        order = names if number % 2 == 0 else names[::-1]
        for name in order:
            gc.collect()
            value = await variants[name]()
            if number >= warmup:
                results[name].append(value)
    return results


# ---------------------------------------------------------------------------------------------
# Machine and process


def machine() -> dict[str, str]:
    import textual

    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        model = platform.processor() or "?"
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpus": str(os.cpu_count()),
        "cpu": model,
        "python": platform.python_version(),
        "textual": textual.__version__,
        "platform": platform.platform(),
    }


def rss_bytes() -> int:
    """Resident set size of this process now (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def emit(result: dict[str, Any]) -> None:
    """The last line of a benchmark's output: its figures as JSON, for `run_all.py`."""
    print("RESULT " + json.dumps(result), flush=True)


def parse_result(output: str) -> dict[str, Any]:
    for line in reversed(output.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise ValueError("no RESULT line in the output")


# ---------------------------------------------------------------------------------------------
# The dev server, in a child process


@dataclass
class PaceReport:
    """What the paced server did for one stream (times are CLOCK_MONOTONIC seconds)."""

    t0: float
    rate: float
    frames: int
    last_due: float
    last_sent: float
    max_late: float
    """The most the server itself fell behind its schedule (seconds)."""


class ServerProcess:
    """`bench/common.py serve` as a child process; `.base_url` once started."""

    def __init__(self, *, history: int = 0) -> None:
        self.history = history
        self.base_url = ""
        self._proc: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str] = queue.Queue()

    def __enter__(self) -> ServerProcess:
        self._proc = subprocess.Popen(
            [sys.executable, __file__, "serve", "--history", str(self.history)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        threading.Thread(target=self._read, daemon=True).start()
        first = self._lines.get(timeout=30)
        self.base_url = json.loads(first)["url"]
        return self

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            self._lines.put(line)

    def pace_report(self, timeout: float = 30) -> PaceReport:
        """The report of the next paced stream to finish."""
        return PaceReport(**json.loads(self._lines.get(timeout=timeout)))

    def __exit__(self, *exc: object) -> None:
        proc = self._proc
        if proc is None:
            return
        assert proc.stdin is not None
        proc.stdin.close()  # the server exits when its stdin closes
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _serve(history: int) -> None:
    """The child: DevServer with paced streams added, until stdin closes."""
    import dialogtui.devserver.app as devserver_app
    from dialogtui.devserver import DevServer, DevServerConfig
    from dialogtui.devserver.scenarios import CONNECTED, PROCESSING, Done, StreamPlan, sse

    rates: dict[int, float] = {}
    original_plan = devserver_app.stream_plan
    original_body = devserver_app.stream_body
    out_lock = threading.Lock()

    def stream_plan(choice: Any, text: str, base_url: str, delta_delay: float) -> Any:
        plan = original_plan(choice, text, base_url, delta_delay)
        one = re.search(r"@onepara=(\d+)", text)
        if one:
            plan = StreamPlan(
                [CONNECTED, PROCESSING, *one_paragraph_reply(int(one.group(1))), Done()],
                delta_delay,
            )
        found = re.search(r"@rate=(\d+)", text)
        if found:
            rates[id(plan)] = float(found.group(1))
        return plan

    async def stream_body(state: Any, plan: Any, commit: Callable[[Any], dict[str, Any]]) -> Any:
        rate = rates.pop(id(plan), None)
        if rate is None:
            async for chunk in original_body(state, plan, commit):
                yield chunk
            return
        frames = plan.frames
        encoded: list[bytes | None] = [
            None if isinstance(frame, Done) else sse(frame[0], frame[1], plan.line_ending)
            for frame in frames
        ]
        count = len(frames)
        t0 = time.monotonic()
        sent = 0
        max_late = 0.0
        last_sent = t0
        while sent < count:
            now = time.monotonic()
            due = min(count, int((now - t0) * rate) + 1)
            if due <= sent:
                await asyncio.sleep(t0 + sent / rate - now)
                continue
            max_late = max(max_late, now - (t0 + sent / rate))
            for index in range(sent, due):
                data = encoded[index]
                # One write (one HTTP chunk) per event, as a server that flushes every event
                # sends it, and as the full-speed stream does: the client's work is per chunk.
                yield (
                    data
                    if data is not None
                    else sse("done", commit(frames[index]), plan.line_ending)
                )
            sent = due
            last_sent = time.monotonic()
        report = {
            "t0": t0,
            "rate": rate,
            "frames": count,
            "last_due": t0 + (count - 1) / rate,
            "last_sent": last_sent,
            "max_late": max_late,
        }
        with out_lock:
            print(json.dumps(report), flush=True)

    devserver_app.stream_plan = stream_plan
    devserver_app.stream_body = stream_body
    with DevServer(DevServerConfig(history_messages=history)) as server:
        print(json.dumps({"url": server.base_url}), flush=True)
        sys.stdin.read()  # until the parent closes it


def one_paragraph_reply(deltas: int) -> list[Any]:
    """Like `!long:N` but the whole reply is ONE paragraph of `deltas` 20-character appends:
    the worst case for any per-delta cost that grows with the block (a paragraph from a
    model that never starts a new one). Built from the dev server's own content helpers."""
    from dialogtui.devserver import content

    reply = content.Reply()
    rich = content.RichTextWriter(reply)
    paragraph = rich.paragraph()
    chunks = content._lorem_chunks()
    for _ in range(deltas):
        rich.text(paragraph, next(chunks))
    rich.end_block(paragraph)
    rich.finish()
    return reply.events


# ---------------------------------------------------------------------------------------------
# The client and the app


def demo_target(base_url: str) -> Any:
    from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID
    from dialogtui.target import Target

    return Target(base_url, DEMO_CHATBOT_ID, api_key=DEMO_API_KEY, environment="bench")


def make_client(base_url: str) -> Any:
    from dialogtui.api.client import DialogClient
    from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID

    return DialogClient(base_url, DEMO_CHATBOT_ID, api_key=DEMO_API_KEY)


async def bare_turn(client: Any, text: str) -> tuple[float, int]:
    """One reply through the bare client, no UI: (seconds from send to the last event, events)."""
    events = 0
    started = time.perf_counter()
    async for _event in client.send_message(text):
        events += 1
    return time.perf_counter() - started, events


async def session_turn(client: Any, text: str) -> tuple[float, int]:
    """The same through `ChatSession` (client + reply assembler), still no UI; with
    `every_delta=False`, as the app consumes it."""
    from dialogtui.session import ChatSession, Turn

    session = ChatSession(client)
    turn = Turn(text=text)
    started = time.perf_counter()
    async for _update in session.stream_turn(turn, every_delta=False):
        pass
    assert turn.outcome == "done", turn.outcome
    return time.perf_counter() - started, turn.figures.events


def make_app(base_url: str, *, store: Any = None, record_events: bool = True) -> Any:
    """A `DialogApp` on the dev server; with `record_events`, `app_turn` fills
    `app.event_times` (see `_record_event_times`)."""
    from dialogtui.ui.app import DialogApp

    app = DialogApp(demo_target(base_url), store=store)
    app.event_times = []
    app.records_events = record_events
    return app


def _record_event_times(app: Any) -> None:
    """Record the monotonic time at which the app's client hands out each stream event,
    through the client's public SSE observer. The client reads event k+1 when the app asks
    for it, i.e. once the session and the app are done with event k (the app hears of a
    block's growth once, and reads the rest from the assembler at its frames, which run while
    the client waits for the network: between these times too)."""
    client = app.client
    if getattr(app, "recorded_client", None) is client:
        return
    times_of, clock = app, time.monotonic
    client.add_sse_observer(lambda _event: times_of.event_times.append(clock()))
    app.recorded_client = client


def status_text(app: Any) -> str:
    return str(app.query_one("#status").render())


async def wait_until(
    condition: Callable[[], bool], timeout: float = 30.0, step: float = 0.005
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(step)


async def wait_ready(app: Any, timeout: float = 30.0) -> None:
    """Until the app has loaded branding and history and says Ready."""
    await wait_until(lambda: "Ready" in status_text(app), timeout)


def paint(app: Any) -> None:
    """Lay out whatever the transcript has pending and render the screen now: what the next
    frame would do (and what `pilot.pause()` ends with), without waiting for it."""
    app.transcript._flush_now()
    app.screen._on_timer_update()


@dataclass
class TurnTiming:
    total: float
    """From `_send` to the reply fully on screen (the worker done, then one final paint)."""
    events: int
    first_event: float = 0.0
    last_event: float = 0.0
    event_times: list[float] = field(default_factory=list)


async def app_turn(app: Any, text: str, *, final_paint: bool = True) -> TurnTiming:
    """Send `text` in the app (as Enter in the composer does) and wait for the reply on screen
    (with `final_paint=False`, only until the turn's worker is done: the app paints on its own)."""
    app.event_times = []
    if app.records_events:
        _record_event_times(app)
    started = time.perf_counter()
    assert app._send(text), "a turn was still running"
    worker = app._turn_worker
    await worker.wait()
    if final_paint:
        paint(app)
    total = time.perf_counter() - started
    times = app.event_times
    assert app.transcript._entries[-1].state == "done", app.transcript._entries[-1].state
    return TurnTiming(
        total, len(times), times[0] if times else 0.0, times[-1] if times else 0.0, times
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        history = int(sys.argv[sys.argv.index("--history") + 1]) if "--history" in sys.argv else 0
        _serve(history)
    else:
        print(__doc__)
