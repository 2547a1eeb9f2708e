"""The approach peers take, measured the same way: one Textual `Markdown` widget per reply,
fed through `MarkdownStream`, against the same stream, in the same run as dialogtui's app.

    .venv/bin/python bench/bench_peers.py [--quick] [--budget SECONDS] [--rounds N]

The peer app is what a typical Textual chat client does: a `VerticalScroll` (anchored to the
bottom) holding one `Static` per user message and one `Markdown` per reply, plus a Header,
an Input and a Footer, at 100x40 like ours. A reply is read with the same `DialogClient` from
the same dev server (a child process, full speed); every content delta becomes a Markdown
fragment (append_text -> the text; a new block -> a blank line; append_span bold -> **text**,
link -> [text](url); append_item -> "- item") written with `MarkdownStream.write`, which
batches fragments while the widget is busy (`Markdown.get_stream`). The reply counts as shown
when the stream has appended everything (`stop()` returned) and a frame has been painted.

Sizes: 5 KB (250 deltas) and 100 KB (5,000 deltas), each in two structures: `!long` (the dev
server's paragraphs of 40 deltas) and one paragraph (`@onepara`, see common.py). The 5 KB
replies are measured in interleaved rounds with dialogtui's app and the bare client (fresh
apps). Each 100 KB reply is run ONCE with a time budget (default 90 s, --quick 20 s): progress
(characters the widget has finished appending) is sampled every 0.25 s; if the budget runs out
first, the total time is EXTRAPOLATED from those samples by a power-law fit t = a * chars^p
over the second half of the run, and printed as such with p. Dialogtui's app and the bare
client get one 100 KB run each in the same process, for the ratios.

Prints the figures and, last, one `RESULT {json}` line for run_all.py. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    SIZE,
    ServerProcess,
    Stat,
    app_turn,
    bare_turn,
    emit,
    interleave,
    machine,
    make_app,
    make_client,
    median,
    ratios,
    wait_ready,
)

from textual.app import App, ComposeResult
from textual.await_complete import AwaitComplete
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Input, Markdown, Static

SHORT = "bench !long:250"
LONG = "bench !long"


class MarkdownFragments:
    """Stream events -> Markdown fragments, the way a peer client would write them."""

    def __init__(self) -> None:
        self.items: dict[int, int] = {}  # block index -> items so far

    def feed(self, event: Any) -> str:
        from dialogtui.api.models import PartDeltaEvent

        if not isinstance(event, PartDeltaEvent):
            return ""  # statuses; the final `part` and `done` repeat what the deltas built
        delta = event.delta
        action = delta.action
        if action == "start_block":
            self.items[delta.block_index or 0] = 0
            return "\n\n" if delta.block_index else ""
        if action == "append_text" and delta.text:
            return delta.text
        if action == "append_span" and delta.span is not None:
            return _span(delta.span)
        if action == "append_item" and delta.item is not None:
            index = delta.block_index or 0
            first = self.items.get(index, 0) == 0
            self.items[index] = self.items.get(index, 0) + 1
            return (
                ("" if first else "\n") + "- " + "".join(_span(span) for span in delta.item.spans)
            )
        return ""


def _span(span: Any) -> str:
    if span.type == "bold":
        return f"**{span.text}**"
    if span.type == "link" and span.url:
        return f"[{span.text}]({span.url})"
    return span.text


class TrackedMarkdown(Markdown):
    """`Markdown` that records how much of its source has finished appending (is on screen)."""

    shown = 0

    def append(self, markdown: str) -> AwaitComplete:
        pending = super().append(markdown)
        size = len(self.source)

        async def appended() -> None:
            await pending
            self.shown = size

        return AwaitComplete(appended())


class PeerApp(App[None]):
    CSS = """
    #chat { height: 1fr; }
    .user { background: $primary 12%; padding: 0 1; margin: 1 0 0 0; }
    """

    def compose(self) -> ComposeResult:
        yield Header()
        yield VerticalScroll(id="chat")
        yield Input(placeholder="Type a message")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#chat", VerticalScroll).anchor()


async def peer_turn(
    base_url: str,
    text: str,
    budget: float | None = None,
    samples: list[tuple[float, int]] | None = None,
) -> dict[str, Any]:
    """A fresh peer app, one reply. Returns wall seconds (or None past the budget) and progress."""
    client = make_client(base_url)
    await client.authenticate()
    app = PeerApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        chat = app.query_one("#chat", VerticalScroll)
        started = time.perf_counter()
        await chat.mount(Static(text, classes="user"))
        markdown = TrackedMarkdown("")
        await chat.mount(markdown)
        stream = Markdown.get_stream(markdown)
        fragments = MarkdownFragments()
        deltas = 0
        finished_reading = None

        async def consume() -> None:
            nonlocal deltas, finished_reading
            async for event in client.send_message(text):
                fragment = fragments.feed(event)
                if fragment:
                    deltas += 1
                    await stream.write(fragment)
            finished_reading = time.perf_counter() - started
            await stream.stop()

        async def sample() -> None:
            while True:
                await asyncio.sleep(0.25)
                if samples is not None:
                    samples.append((time.perf_counter() - started, markdown.shown))

        sampler = asyncio.create_task(sample())
        task = asyncio.create_task(consume())
        try:
            await asyncio.wait_for(asyncio.shield(task), budget)
            app.screen._on_timer_update()  # the final frame
            wall: float | None = time.perf_counter() - started
        except TimeoutError:
            wall = None
            stream._pending.clear()  # give up: do not append the backlog on the way out
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            if stream._task is not None:
                stream._task.cancel()
        finally:
            sampler.cancel()
        shown = markdown.shown
        elapsed = time.perf_counter() - started
    await client.aclose()
    return {
        "wall": wall,
        "elapsed": elapsed,
        "shown": shown,
        "deltas": deltas,
        "finished_reading": finished_reading,
    }


async def markdown_size(base_url: str, text: str) -> int:
    """Characters of Markdown the whole reply becomes (what the widget must end up holding)."""
    client = make_client(base_url)
    fragments = MarkdownFragments()
    total = 0
    async for event in client.send_message(text):
        total += len(fragments.feed(event))
    await client.aclose()
    return total


async def our_app(base_url: str, text: str) -> float:
    app = make_app(base_url)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        await pilot.pause()
        await asyncio.sleep(0.05)
        return (await app_turn(app, text)).total


def extrapolate(samples: list[tuple[float, int]], total: int) -> tuple[float, float]:
    """(seconds to show `total` characters, exponent p) from a least-squares fit of
    log t = log a + p log chars over the second half of the samples."""
    points = [(t, c) for t, c in samples if c > 0]
    points = points[len(points) // 2 :]
    if len(points) < 3:
        raise RuntimeError("too little progress to extrapolate")
    xs = [math.log(c) for _, c in points]
    ys = [math.log(t) for t, _ in points]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    p = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mean_x) ** 2 for x in xs
    )
    log_a = mean_y - p * mean_x
    return math.exp(log_a + p * math.log(total)), p


STRUCTURES = {
    # name: (5 KB message, 100 KB message)
    "paragraphs": (SHORT, LONG),
    "one paragraph": ("bench @onepara=250", "bench @onepara=5000"),
}
"""`!long` writes paragraphs of 40 deltas (800 characters) with a bullet list every 4th block;
the one-paragraph variant (common.py) puts the whole reply in one paragraph, which is what a
model that never starts a new paragraph produces, and the peers' worst case."""


async def main_async(rounds: int, budget: float) -> dict[str, Any]:
    result: dict[str, Any] = {}
    with ServerProcess() as server:
        url = server.base_url
        client = make_client(url)
        await client.authenticate()

        async def bare(text: str) -> float:
            return (await bare_turn(client, text))[0]

        variants: dict[str, Any] = {}
        for name, (short_text, _) in STRUCTURES.items():
            variants[f"peer {name}"] = lambda t=short_text: peer_turn(url, t)
            variants[f"dialogtui {name}"] = lambda t=short_text: our_app(url, t)
            variants[f"bare {name}"] = lambda t=short_text: bare(t)
        short = await interleave(variants, rounds)

        long_runs: dict[str, dict[str, Any]] = {}
        for name, (_, long_text) in STRUCTURES.items():
            samples: list[tuple[float, int]] = []
            long_runs[name] = {
                "total": await markdown_size(url, long_text),
                "dialogtui": await our_app(url, long_text),
                "bare": await bare(long_text),
                "peer": await peer_turn(url, long_text, budget=budget, samples=samples),
                "samples": samples,
            }
        await client.aclose()

    for key, (name, texts) in zip(("para", "one"), STRUCTURES.items(), strict=True):
        peer_short = [r["wall"] for r in short[f"peer {name}"]]
        ours_short = short[f"dialogtui {name}"]
        bare_short = short[f"bare {name}"]
        deltas = short[f"peer {name}"][0]["deltas"]
        print(
            f"== {name} ==\n\n5 KB reply (`{texts[0].split()[-1]}`, {deltas} content deltas), "
            f"{rounds} interleaved rounds, fresh apps:\n"
        )
        print(f"  peer app (Markdown + MarkdownStream): {Stat(peer_short).fmt(' s', digits=3)}")
        print(f"  dialogtui app:                        {Stat(ours_short).fmt(' s', digits=3)}")
        print(f"  bare client:                          {Stat(bare_short).fmt(' s', digits=3)}")
        peer_bare_short = Stat(ratios(peer_short, bare_short))
        ours_bare_short = Stat(ratios(ours_short, bare_short))
        peer_ours_short = Stat(ratios(peer_short, ours_short))
        print(f"  peer / bare:      {peer_bare_short.fmt()}")
        print(f"  dialogtui / bare: {ours_bare_short.fmt()}")
        print(f"  peer / dialogtui: {peer_ours_short.fmt()}")

        run = long_runs[name]
        peer, total = run["peer"], run["total"]
        ours_long, bare_long, samples = run["dialogtui"], run["bare"], run["samples"]
        print(
            f"\n100 KB reply (`{texts[1].split()[-1]}`, 5,000 deltas, {total:,} characters of "
            "Markdown), "
            f"one run each, peer budget {budget:.0f} s:\n"
        )
        exponent = None
        if peer["wall"] is not None:
            peer_long, how = peer["wall"], "measured"
        else:
            peer_long, exponent = extrapolate(samples, total)
            how = (
                f"EXTRAPOLATED: {peer['shown']:,} of {total:,} characters "
                f"({peer['shown'] / total:.0%}) "
                f"shown after {peer['elapsed']:.0f} s; fit t ~ chars^{exponent:.2f} over the "
                "second half"
            )
        rate_now = None
        if len(samples) >= 8:
            (t0, c0), (t1, c1) = samples[-len(samples) // 4], samples[-1]
            rate_now = (c1 - c0) / (t1 - t0) / 20 if t1 > t0 and c1 > c0 else None
        print(f"  peer app:      {peer_long:8.1f} s   ({how})")
        if peer["finished_reading"] is not None:
            print(
                "                 (the client had read the whole reply after "
                f"{peer['finished_reading']:.1f} s: "
                f"MarkdownStream.write yields to the widget at every delta)"
            )
        if rate_now is not None:
            print(
                f"                 appending ~{rate_now:,.0f} deltas/s over the last quarter of "
                "the run"
            )
        print(f"  dialogtui app: {ours_long:8.3f} s")
        print(f"  bare client:   {bare_long:8.3f} s")
        print(
            f"  peer / bare: {peer_long / bare_long:,.0f}x   dialogtui / bare: "
            f"{ours_long / bare_long:.2f}x   "
            f"peer / dialogtui: {peer_long / ours_long:,.0f}x"
        )
        peer_linear = (peer_long / 5000) / (median(peer_short) / deltas)
        ours_linear = (ours_long / 5000) / (median(ours_short) / deltas)
        print(
            f"  per delta, 100 KB / 5 KB (whole turn / deltas): peer {peer_linear:.1f}x, "
            f"dialogtui {ours_linear:.2f}x"
        )
        print(
            f"  deltas per second over the whole 100 KB reply: peer {5000 / peer_long:,.0f}/s, "
            f"dialogtui {5000 / ours_long:,.0f}/s\n"
        )
        result.update(
            {
                f"{key}_peer_5k_s": median(peer_short),
                f"{key}_ours_5k_s": median(ours_short),
                f"{key}_bare_5k_s": median(bare_short),
                f"{key}_peer_bare_5k": peer_bare_short.median,
                f"{key}_ours_bare_5k": ours_bare_short.median,
                f"{key}_peer_ours_5k": peer_ours_short.median,
                f"{key}_peer_100k_s": peer_long,
                f"{key}_peer_100k_extrapolated": peer["wall"] is None,
                f"{key}_peer_100k_exponent": exponent,
                f"{key}_peer_100k_shown_fraction": peer["shown"] / total,
                f"{key}_ours_100k_s": ours_long,
                f"{key}_bare_100k_s": bare_long,
                f"{key}_peer_bare_100k": peer_long / bare_long,
                f"{key}_ours_bare_100k": ours_long / bare_long,
                f"{key}_peer_ours_100k": peer_long / ours_long,
                f"{key}_peer_linear": peer_linear,
                f"{key}_ours_linear": ours_linear,
                f"{key}_peer_rate": 5000 / peer_long,
                f"{key}_ours_rate": 5000 / ours_long,
            }
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="budget 20 s, 2 rounds")
    parser.add_argument(
        "--budget", type=float, default=None, help="seconds allowed for the peers' 100 KB run"
    )
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    budget = args.budget or (20.0 if args.quick else 90.0)
    rounds = args.rounds or (2 if args.quick else 3)
    info = machine()
    print(
        f"machine: {info['cpus']} CPUs ({info['cpu']}), Python {info['python']}, "
        f"Textual {info['textual']}, {info['date']}\n"
    )
    started = time.perf_counter()
    result = asyncio.run(main_async(rounds, budget))
    result["budget_s"] = budget
    result["seconds"] = time.perf_counter() - started
    print(f"\n({result['seconds']:.0f} s)")
    emit(result)


if __name__ == "__main__":
    main()
