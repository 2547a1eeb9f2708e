"""Benchmark the transcript widget's streaming and history paths. Prints figures, asserts nothing.

    .venv/bin/python bench/bench_transcript.py

A headless app holds only a `Transcript` (100x40). A reply is fed the way the app feeds the
widget: one `set_block` per delta (~20 characters) with the block's full current content,
and a "frame" every `FRAME_EVERY` deltas. Paragraphs are 500-2,000 characters with some bold
and link spans; every sixth block is a bullet list growing one item per delta.

Three ways to pace the frames, because they answer different questions:

A. `await pilot.pause()` every 50 deltas, and the widget lays out at every pause. The pause
   sleeps until the process is idle (~20 ms wall), so wall time is meaningless here; the
   figure is CPU time per delta, which includes one full screen render per 50 deltas.
B. `await asyncio.sleep(0)` every 50 deltas, as a stream does between network reads, with the
   throttle off (layout at every yield): the widget's own worst case, wall time.
C. As B with the default throttle (`Transcript.FLUSH_INTERVAL`): what the app gets.

B and C end with one explicit screen render, so a short reply pays for a frame too. Per-delta
figures are the best of several runs, each size measured in a fresh process. Python's cyclic
GC runs whenever it likes: its share is printed separately (a full collection costs 15-30 ms
here, mostly Textual's own objects, and whether one falls inside a short run is luck).
"""

from __future__ import annotations

import asyncio
import gc
import json
import random
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual.app import App, ComposeResult
from textual.pilot import Pilot

from dialogtui.api.models import Block, ListItem, RichTextPart, Span, TextPart
from dialogtui.ui.transcript import Transcript

FRAME_EVERY = 50
DELTA_CHARS = 20
RUNS = 5
WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "a",
    "lazy",
    "dog",
    "while",
    "our",
    "chatbot",
    "explains",
    "shipping",
    "returns",
    "warranty",
    "sizes",
    "colours",
    "prices",
    "delivery",
    "times",
    "and",
    "everything",
    "else",
    "a",
    "customer",
    "could",
    "possibly",
    "want",
    "to",
    "know",
    "about",
    "the",
    "jacket",
]


class BenchApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Transcript()


@dataclass
class Delta:
    block_index: int
    block: Block


def reply_deltas(total_chars: int, seed: int) -> Iterator[Delta]:
    """Deltas of one reply, mutating blocks in place like an assembler would."""
    rng = random.Random(seed)
    produced = 0
    block_index = -1
    while produced < total_chars:
        block_index += 1
        if block_index % 6 == 5:
            block = Block(type="bullet_list", items=[])
            for _ in range(rng.randint(3, 8)):
                text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 10)))
                block.items.append(ListItem(spans=[Span(text=text)]))
                produced += len(text)
                yield Delta(block_index, block)
            continue
        block = Block(type="paragraph", spans=[Span(text="")])
        size = rng.randint(500, 2000)
        written = 0
        while written < size and produced < total_chars:
            roll = rng.random()
            if roll < 0.03:
                block.spans.append(Span(type="bold", text=rng.choice(WORDS)))
                block.spans.append(Span(text=" "))
            elif roll < 0.04:
                block.spans.append(Span(type="link", text="details", url="https://example.com/p"))
                block.spans.append(Span(text=" "))
            else:
                chunk = "".join(rng.choice(WORDS) + " " for _ in range(4))[:DELTA_CHARS]
                block.spans[-1].text += chunk
                written += len(chunk)
                produced += len(chunk)
            yield Delta(block_index, block)


Pace = Callable[[Pilot[None]], Awaitable[None]]


async def pilot_pace(pilot: Pilot[None]) -> None:
    await pilot.pause()


async def stream_pace(pilot: Pilot[None]) -> None:
    await asyncio.sleep(0)


class GcClock:
    """Seconds spent in the cyclic garbage collector while running."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.full = 0
        self._start = 0.0
        self.running = False
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if not self.running:
            return
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._start
            self.full += info["generation"] == 2

    def reset(self) -> None:
        self.seconds, self.full = 0.0, 0


GC = GcClock()


@dataclass
class Run:
    deltas: int
    wall: float
    cpu: float
    gc: float
    full_gcs: int


async def run_reply(total_chars: int, pace: Pace, flush_interval: float) -> Run:
    deltas = list(reply_deltas(total_chars, seed=total_chars))
    app = BenchApp()
    async with app.run_test(size=(100, 40)) as pilot:
        transcript = app.query_one(Transcript)
        transcript.FLUSH_INTERVAL = flush_interval
        transcript.add_entry("user", [TextPart(text="Tell me everything.")])
        entry = transcript.add_entry("assistant", state="waiting")
        await pilot.pause()
        gc.collect()
        GC.reset()
        GC.running = True
        wall, cpu = time.perf_counter(), time.process_time()
        for number, delta in enumerate(deltas, 1):
            transcript.set_block(entry, 0, delta.block_index, delta.block)
            if number % FRAME_EVERY == 0:
                await pace(pilot)
        transcript.visible_text()  # lays out what is still pending
        app.screen._on_timer_update()  # and renders it (what pilot.pause() ends with)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        GC.running = False
        assert "details" in transcript.entry_text(entry)
    return Run(len(deltas), wall, cpu, GC.seconds, GC.full)


def us(seconds: float) -> str:
    return f"{seconds * 1e6:6.1f} µs"


PACES: dict[str, tuple[Pace, float | None, str]] = {
    # name: (pace, FLUSH_INTERVAL or None for the default, clock)
    "A": (pilot_pace, 0.0, "cpu"),
    "B": (stream_pace, 0.0, "wall"),
    "C": (stream_pace, None, "wall"),
}


async def measure(mode: str, size: int) -> None:
    """One (mode, size) in this process: a warm-up, then the best of RUNS, as one JSON line."""
    pace, interval, clock = PACES[mode]
    flush_interval = Transcript.FLUSH_INTERVAL if interval is None else interval
    await run_reply(size, pace, flush_interval)
    runs = [await run_reply(size, pace, flush_interval) for _ in range(RUNS)]
    best = min(runs, key=lambda run: run.cpu if clock == "cpu" else run.wall)
    print(json.dumps(asdict(best)))


def reply_figures(label: str, mode: str) -> None:
    """Each size in a fresh process: GC cost grows with whatever earlier runs left behind."""
    clock = PACES[mode][2]
    print(label)
    per_delta: dict[int, float] = {}
    for size in (5_000, 100_000):
        output = subprocess.run(
            [sys.executable, __file__, "measure", mode, str(size)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        best = Run(**json.loads(output.strip().splitlines()[-1]))
        chosen = best.cpu if clock == "cpu" else best.wall
        per_delta[size] = chosen / best.deltas
        print(
            f"  {size // 1000:>3} KB, {best.deltas:5,} deltas: {clock} {chosen * 1e3:7.1f} ms"
            f" = {us(chosen / best.deltas)}/delta"
            f"  (GC {best.gc * 1e3:5.1f} ms, {best.full_gcs} full; without GC"
            f" {us((chosen - best.gc) / best.deltas)}/delta)"
        )
    print(
        f"  ratio 100 KB / 5 KB per delta: {per_delta[100_000] / per_delta[5_000]:.2f} (target "
        "<= 1.5)\n"
    )


# ---------------------------------------------------------------------------
# History: many entries, resize, scroll


def history_parts(rng: random.Random, number: int) -> tuple[str, list[RichTextPart | TextPart]]:
    if number % 2 == 0:
        return "user", [
            TextPart(text=" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 30))))
        ]
    blocks = [
        Block(spans=[Span(text=" ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 80))))])
        for _ in range(rng.randint(1, 3))
    ]
    return "assistant", [RichTextPart(blocks=blocks)]


class Stopwatch:
    """Durations of the widget's own work (layout flushes, background slices, renders):
    each blocks the event loop for that long, which a user would feel as a freeze.
    Garbage collection is counted apart."""

    METHODS = ("_flush", "_background_layout", "render_lines")

    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []
        for name in self.METHODS:
            setattr(Transcript, name, self._wrap(name, getattr(Transcript, name)))

    def _wrap(self, name: str, original: Callable[..., object]) -> Callable[..., object]:
        def timed(*args: object, **kwargs: object) -> object:
            start, collecting = time.perf_counter(), GC.seconds
            try:
                return original(*args, **kwargs)
            finally:
                # A full GC landing inside a call is not the call's cost: reported apart.
                elapsed = time.perf_counter() - start - (GC.seconds - collecting)
                self.calls.append((name, elapsed))

        return timed

    def take(self) -> str:
        parts = [f"GC {GC.seconds * 1e3:.0f} ms ({GC.full} full)"]
        GC.reset()
        for name, short in zip(self.METHODS, ("layout", "background", "render"), strict=True):
            times = [seconds for called, seconds in self.calls if called == name]
            if times:
                parts.append(
                    f"{short} {len(times)}x {sum(times) * 1e3:.1f} ms"
                    f" (longest {max(times) * 1e3:.1f})"
                )
        self.calls.clear()
        return "; ".join(parts[1:] + parts[:1])


def laid_out(transcript: Transcript) -> bool:
    return all(entry.gen == transcript._gen for entry in transcript._entries)


async def until_laid_out(transcript: Transcript) -> float:
    start = time.perf_counter()
    while not laid_out(transcript):
        await asyncio.sleep(0.005)
    return time.perf_counter() - start


async def run_history(count: int) -> None:
    rng = random.Random(7)
    history = [history_parts(rng, number) for number in range(count)]
    watch = Stopwatch()
    app = BenchApp()
    async with app.run_test(size=(100, 40)) as pilot:
        transcript = app.query_one(Transcript)
        await pilot.pause()
        gc.collect()
        GC.running = True
        watch.take()
        print(
            f"history: {count:,} entries (~7,000 lines at 100 columns); how long our code holds "
            "the event loop"
        )
        start = time.perf_counter()
        for role, parts in history:
            transcript.add_entry(role, parts)
        added = time.perf_counter() - start
        print(f"  add_entry x{count:,}:   {added * 1e3:.1f} ms ({added / count * 1e6:.1f} µs each)")
        waited = await until_laid_out(transcript)
        print(
            f"  then, until every entry is laid out ({(added + waited) * 1e3:.0f} ms wall): "
            f"{watch.take()}"
        )

        start = time.perf_counter()
        await pilot.resize_terminal(70, 40)  # (this waits for idle: background work included)
        await until_laid_out(transcript)
        waited = time.perf_counter() - start
        print(
            f"  resize to 70 columns, until all re-wrapped ({waited * 1e3:.0f} ms wall): "
            f"{watch.take()}"
        )

        transcript.scroll_home(animate=False)
        await pilot.pause()
        first = transcript.visible_text().splitlines()[:1]
        print(f"  scroll_home: {watch.take()}; top line {first}")
        transcript.scroll_end(animate=False)
        await pilot.pause()
        print(f"  scroll_end:  {watch.take()}")


def main() -> None:
    if sys.argv[1:2] == ["measure"]:
        asyncio.run(measure(sys.argv[2], int(sys.argv[3])))
        return
    print(f"frames: one every {FRAME_EVERY} deltas of ~{DELTA_CHARS} chars; best of {RUNS} runs\n")
    default = Transcript.FLUSH_INTERVAL
    reply_figures(
        "A. pilot.pause() every 50 deltas, layout at every pause; CPU time (incl. a render per "
        "pause)",
        "A",
    )
    reply_figures(
        "B. asyncio.sleep(0) every 50 deltas, layout at every yield (FLUSH_INTERVAL=0); wall time",
        "B",
    )
    reply_figures(
        f"C. asyncio.sleep(0) every 50 deltas, default FLUSH_INTERVAL={default * 1e3:.1f} ms; "
        "wall time",
        "C",
    )
    asyncio.run(run_history(1000))


if __name__ == "__main__":
    main()
