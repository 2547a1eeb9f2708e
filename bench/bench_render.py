"""Streaming render: overhead of the UI, linearity, throughput, and the cost of local saving.

    .venv/bin/python bench/bench_render.py [--quick] [--rounds N]

Figures (issue "Benchmarks: streaming render, startup, long conversations", 1-3):

1. Render overhead. A `!long` reply (5,000 append_text deltas of 20 characters, ~100 KB of
   rich text, 5,411 SSE events with the statuses, the final part and `done`) streams from the
   dev server at full speed into
     * bare:    `DialogClient.send_message`, events consumed and dropped, no UI;
     * session: `ChatSession` (client + reply assembler), still no UI (for the breakdown);
     * app:     the headless `DialogApp` (`App.run_test`, 100x40), sent as Enter sends it
                (`_send`), timed until the turn's worker is done and one final frame painted.
                The app as shipped: no instrumentation (the per-event clock of figure 2 runs
                in a separate variant, "app timed", so it is not charged to the app here);
     * app+store: the same app recording the turn in a `TranscriptStore` (SQLite in a temp dir);
                the time spent inside the store is also added up (`timed_store`).
   Each round runs every variant once, interleaved; each app variant is a fresh app that has
   finished starting (Ready) before the clock starts. Figure: app / bare per round, median.
   Also app+store / app: the cost of local saving inside the app.
   Wall time is the figure the issue asks for; the process CPU time (client + UI; the server
   is another process) is printed beside it because it is far less sensitive to other load.
   (The app calls `gc.freeze()` itself once start-up is done, and raises the collector's
   young-generation threshold while a reply streams, so no variant adds either.)

2. Linearity. Per-event cost while streaming = (time the app had processed the last delta -
   time it had processed the first event) / (events - 1), for the 100 KB reply and for a 5 KB
   reply (`!long:250`), fresh apps, interleaved. Figure: 100 KB / 5 KB. The final `part` and
   `done` events (the whole reply again, once per reply) are left out and their cost printed
   apart. Also: the last 273 deltas of the 100 KB reply against the 5 KB reply (cost late in
   a long reply), and the same two sizes
   with the whole reply in ONE paragraph (`@onepara`, see common.py): the worst case for any
   per-delta cost that grows with the block.

3. Throughput. Two methods:
   a. ceiling: 1 / per-event cost at full speed (from 2; bounded by the server and client too);
   b. paced: the server sends events on a fixed schedule at R events/s (common.py explains the
      pacing) for ~2 s; the app's lag behind the schedule is measured for every event (the
      server's and this process's CLOCK_MONOTONIC are the same clock). R is raised until the
      lag GROWS over the stream (a backlog: the app processes slower than events arrive).
      Growth = the smallest lag among the last fifth of the deltas minus the smallest among the
      first fifth (a stall the app recovers from, e.g. a GC pass, does not count; "max lag"
      shows it). Sustained = growth <= 50 ms + 2% of the stream's duration. Each rate runs
      `reps` times in fresh apps and the best run counts (capacity is a best case: other load
      on the machine only makes a run worse). The figure is the highest sustained rate.
      Also printed: time from the server sending the last event to the transcript drawing it
      (the first frame after the first layout that follows the app's processing of that event).

1b. Render overhead at a reading pace (a report, no target). Figure 1 is the worst case for
   the client and the best for the UI: thousands of events between two frames. A model that
   writes about 50 tokens a second sends a delta every 20 ms, so the app draws a frame for
   nearly every delta, and what the UI costs is its cost per second of streaming, not per
   event. The server paces `!long` at R deltas/s (R = 50 and 200, 20 characters each) for ~3 s;
   the bare client and a fresh app (Ready first) take the same stream in turns, 3 rounds each.
   Figure: the process CPU each used per second of streaming, as a share of one core, and the
   difference, which is what the UI costs while a reply streams at that pace.

--breakdown prints instead where the UI's time goes in a 100 KB turn (a diagnostic).

Prints the figures and, last, one `RESULT {json}` line for run_all.py. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import sys
import tempfile
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
    session_turn,
    wait_ready,
)

LONG = "bench !long"  # 5,000 deltas, 100 KB
SHORT = "bench !long:250"  # 250 deltas, 5 KB
ONE_LONG = "bench @onepara=5000"
ONE_SHORT = "bench @onepara=250"
PACES = (50, 200)  # deltas a second for figure 1b: a model writing ~50 tokens/s, and a fast one


# ---------------------------------------------------------------------------------------------
# One measurement each


async def measure_app(
    base_url: str, text: str, store: Any = None, timed: bool = False
) -> dict[str, Any]:
    """A fresh app, Ready, then one turn: wall, CPU and (`timed`) per-event application times."""
    app = make_app(base_url, store=store, record_events=timed)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        await pilot.pause()
        await asyncio.sleep(0.05)  # let start-up timers and layout settle
        if store is not None:
            store.spent = 0.0
        cpu = time.process_time()
        timing = await app_turn(app, text)
        cpu = time.process_time() - cpu
    times = timing.event_times
    return {
        "wall": timing.total,
        "cpu": cpu,
        "events": timing.events,
        "times": times,
        "in_store": store.spent if store is not None else 0.0,
    }


def timed_store(path: Path) -> Any:
    """A `TranscriptStore` that adds up the time the app spends in it (`spent`, seconds):
    `record_user_turn`, `begin_reply`, and the recorder's `update` and `finish` (the text
    supplier the app passes is called inside them, so it counts too)."""
    from dialogtui.store import TranscriptStore

    class TimedRecorder:
        def __init__(self, inner: Any, store: Any) -> None:
            self._inner, self._store = inner, store

        def _timed(self, name: str, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return getattr(self._inner, name)(*args, **kwargs)
            finally:
                self._store.spent += time.perf_counter() - started

        def update(self, supplier: Any) -> None:
            self._timed("update", supplier)

        def flush(self) -> None:
            self._timed("flush")

        def finish(self, *args: Any, **kwargs: Any) -> None:
            self._timed("finish", *args, **kwargs)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

    class TimedStore(TranscriptStore):
        spent = 0.0

        def record_user_turn(self, *args: Any, **kwargs: Any) -> int:
            started = time.perf_counter()
            try:
                return super().record_user_turn(*args, **kwargs)
            finally:
                self.spent += time.perf_counter() - started

        def begin_reply(self, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return TimedRecorder(super().begin_reply(*args, **kwargs), self)
            finally:
                self.spent += time.perf_counter() - started

    return TimedStore.open(path)


async def measure_bare(client: Any, text: str) -> dict[str, Any]:
    cpu = time.process_time()
    wall, events = await bare_turn(client, text)
    return {"wall": wall, "cpu": time.process_time() - cpu, "events": events}


async def measure_session(client: Any, text: str) -> dict[str, Any]:
    cpu = time.process_time()
    wall, events = await session_turn(client, text)
    return {"wall": wall, "cpu": time.process_time() - cpu, "events": events}


def per_event(times: list[float]) -> float:
    """Seconds per event from the first event to the last delta. The last two events are the
    final `part` and `done`, which carry the whole reply again: a cost per reply, not per
    delta, reported apart (`end_of_reply`)."""
    deltas = times[:-2]
    return (deltas[-1] - deltas[0]) / (len(deltas) - 1)


def late(times: list[float], count: int) -> list[float]:
    """The times of the last `count` deltas and the final `part` and `done` (which
    `per_event` leaves out)."""
    return times[-2 - count :]


def end_of_reply(times: list[float]) -> float:
    """From the last delta processed to `done` processed: the final part and message."""
    return times[-1] - times[-3]


# ---------------------------------------------------------------------------------------------
# Figures 1 and 2


async def figures_1_2(server: ServerProcess, rounds: int, store_dir: Path) -> dict[str, Any]:
    url = server.base_url
    client = make_client(url)
    await client.authenticate()
    store = timed_store(store_dir / "bench.sqlite3")
    variants = {
        "bare": lambda: measure_bare(client, LONG),
        "session": lambda: measure_session(client, LONG),
        "app": lambda: measure_app(url, LONG),
        "app+store": lambda: measure_app(url, LONG, store),
        "app timed": lambda: measure_app(url, LONG, timed=True),
        "app 5KB": lambda: measure_app(url, SHORT, timed=True),
        "bare 5KB": lambda: measure_bare(client, SHORT),
        "app 1para": lambda: measure_app(url, ONE_LONG, timed=True),
        "app 1para 5KB": lambda: measure_app(url, ONE_SHORT, timed=True),
    }
    results = await interleave(variants, rounds)
    await client.aclose()
    store.close()

    def col(name: str, key: str) -> list[float]:
        return [r[key] for r in results[name]]

    events_long = results["app timed"][0]["events"]
    events_short = results["app 5KB"][0]["events"]
    window = events_short - 2  # the 5 KB reply's events before its final part and done
    print(
        f"figure 1: render overhead. !long = {events_long:,} events (5,000 deltas, 100 KB); "
        f"{rounds} interleaved rounds, fresh app each\n"
    )
    print(f"  {'variant':12} {'wall median':>12} {'wall min':>9} {'CPU median':>11}")
    for name in ("bare", "session", "app", "app+store", "app timed"):
        print(
            f"  {name:12} {median(col(name, 'wall')) * 1e3:9.0f} ms "
            f"{min(col(name, 'wall')) * 1e3:6.0f} ms"
            f" {median(col(name, 'cpu')) * 1e3:8.0f} ms"
        )
    app_bare = Stat(ratios(col("app", "wall"), col("bare", "wall")))
    app_bare_cpu = Stat(ratios(col("app", "cpu"), col("bare", "cpu")))
    session_bare = Stat(ratios(col("session", "wall"), col("bare", "wall")))
    store_app = Stat(ratios(col("app+store", "wall"), col("app", "wall")))
    store_app_cpu = Stat(ratios(col("app+store", "cpu"), col("app", "cpu")))
    print(f"\n  app / bare (wall):        {app_bare.fmt()}   target <= 1.3x")
    print(f"  app / bare (CPU):         {app_bare_cpu.fmt()}")
    print(f"  session / bare (wall):    {session_bare.fmt()}   (client + assembler, no UI)")
    timed_bare = Stat(ratios(col("app timed", "wall"), col("bare", "wall")))
    print(f"  app timed / bare (wall):  {timed_bare.fmt()}   (with figure 2's per-event clock)")
    print(f"  app+store / app (wall):   {store_app.fmt()}   (local saving, in the app)")
    print(f"  app+store / app (CPU):    {store_app_cpu.fmt()}")
    in_store = Stat([r["in_store"] / r["wall"] for r in results["app+store"]])
    print(
        f"  time inside the store / app+store turn: {in_store.fmt('%', 100, 1)}   "
        f"({median([r['in_store'] for r in results['app+store']]) * 1e3:.1f} ms per turn: the "
        "store's own cost, "
        f"free of the noise in the ratios above)"
    )

    long_pe = [per_event(r["times"]) for r in results["app timed"]]
    short_pe = [per_event(r["times"]) for r in results["app 5KB"]]
    late_pe = [per_event(late(r["times"], window)) for r in results["app timed"]]
    one_long = [per_event(r["times"]) for r in results["app 1para"]]
    one_short = [per_event(r["times"]) for r in results["app 1para 5KB"]]
    linear = Stat(ratios(long_pe, short_pe))
    late_stat = Stat(ratios(late_pe, short_pe))
    one = Stat(ratios(one_long, one_short))
    print(
        f"\nfigure 2: linearity. Per event while streaming (first to last event applied), "
        f"{events_long:,} vs {events_short} events\n"
    )
    print(
        f"  100 KB: median {median(long_pe) * 1e6:.1f} µs/event   5 KB: median "
        f"{median(short_pe) * 1e6:.1f} µs/event"
        f"   last {window} of 100 KB: median {median(late_pe) * 1e6:.1f} µs/event"
    )
    print(f"  100 KB / 5 KB per event:             {linear.fmt()}   target <= 1.5x")
    print(f"  last {window} of 100 KB / 5 KB per event: {late_stat.fmt()}")
    print(
        f"  one paragraph, 100 KB / 5 KB:        {one.fmt()}   "
        f"({median(one_long) * 1e6:.1f} vs {median(one_short) * 1e6:.1f} µs/event)"
    )
    end_long = median([end_of_reply(r["times"]) for r in results["app timed"]])
    end_short = median([end_of_reply(r["times"]) for r in results["app 5KB"]])
    print(
        f"  end of reply (final part + done, once per reply): {end_long * 1e3:.1f} ms for 100 KB, "
        f"{end_short * 1e3:.1f} ms for 5 KB"
    )
    totals = Stat(
        ratios(
            [r["wall"] / r["events"] for r in results["app timed"]],
            [r["wall"] / r["events"] for r in results["app 5KB"]],
        )
    )
    print(
        f"  whole turn / events, 100 KB / 5 KB:  {totals.fmt()}   (includes the request and the "
        "final frame)"
    )

    bare_rate = [r["events"] / r["wall"] for r in results["bare"]]
    return {
        "app_bare": app_bare.median,
        "app_bare_min": app_bare.min,
        "app_bare_cpu": app_bare_cpu.median,
        "session_bare": session_bare.median,
        "store_app": store_app.median,
        "store_app_min": store_app.min,
        "store_app_cpu": store_app_cpu.median,
        "store_share": in_store.median,
        "app_wall_ms": median(col("app", "wall")) * 1e3,
        "bare_wall_ms": median(col("bare", "wall")) * 1e3,
        "linear": linear.median,
        "linear_min": linear.min,
        "linear_late": late_stat.median,
        "linear_onepara": one.median,
        "timed_bare": timed_bare.median,
        "us_per_event_100k": median(long_pe) * 1e6,
        "us_per_event_5k": median(short_pe) * 1e6,
        "end_of_reply_100k_ms": end_long * 1e3,
        "end_of_reply_5k_ms": end_short * 1e3,
        "ceiling_rate": 1 / median(long_pe),
        "bare_rate": median(bare_rate),
    }


# ---------------------------------------------------------------------------------------------
# Figure 3: paced streams


async def paced_run(server: ServerProcess, rate: int, seconds: float) -> dict[str, Any]:
    deltas = max(1000, int(rate * seconds))
    app = make_app(server.base_url)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        await pilot.pause()
        await asyncio.sleep(0.05)
        transcript = app.transcript
        renders: list[float] = []
        flushes: list[float] = []
        render_lines, flush = transcript.render_lines, transcript._flush

        def timed_render_lines(crop: Any) -> Any:
            renders.append(time.monotonic())
            return render_lines(crop)

        def timed_flush() -> None:
            flushes.append(time.monotonic())
            flush()

        transcript.render_lines = timed_render_lines
        transcript._flush = (
            timed_flush  # the widget schedules `self._flush`: the instance attribute
        )
        await app_turn(app, f"bench !long:{deltas} @rate={rate}", final_paint=False)
        await pilot.pause()  # the frame that shows the end, as a terminal would get it
        await asyncio.sleep(0.1)
    report = server.pace_report()
    times = app.event_times
    if len(times) != report.frames:
        raise RuntimeError(f"{len(times)} events applied, {report.frames} sent")
    lags = [t - (report.t0 + k / rate) for k, t in enumerate(times)]
    # The deltas only: the last two events are the final `part` and `done` (the whole reply again).
    deltas_lags = lags[:-2]
    fifth = max(1, len(deltas_lags) // 5)
    # A backlog that grows shows as a lag that never comes back down: compare the SMALLEST lag of
    # the last fifth with that of the first fifth. A transient stall (a GC pass, another process)
    # that the app catches up on does not count; its size shows in "max lag".
    growth = min(deltas_lags[-fifth:]) - min(deltas_lags[:fifth])
    duration = (report.frames - 1) / rate
    # Shown: the first frame drawn after the first layout that started after the last event.
    laid = next((t for t in flushes if t >= times[-1]), float("nan"))
    shown = next((t for t in renders if t >= laid), float("nan"))
    return {
        "rate": rate,
        "events": report.frames,
        "duration": duration,
        "growth": growth,
        "max_lag": max(lags),
        "end_lag": lags[-1],
        "achieved": (len(times) - 3) / (times[-3] - times[0]),
        "shown_after_sent": shown - report.last_sent,
        "server_late": report.max_late,
        "sustained": growth <= 0.05 + 0.02 * duration,
    }


async def figure_3(
    server: ServerProcess,
    rates: list[int],
    seconds: float,
    reps: int,
    ceiling: float,
    bare_rate: float,
) -> dict[str, Any]:
    print(
        "\nfigure 3: throughput\n\n  a. ceiling at full speed: 1 / per-event cost = "
        f"{ceiling:,.0f} events/s "
        f"(the bare client alone reads {bare_rate:,.0f} events/s from this server)"
    )
    print(
        f"  b. paced: ~{seconds:g} s streams on a fixed schedule; best of {reps} fresh app(s) "
        "per rate\n"
    )
    print(
        f"  {'rate/s':>7} {'events':>7} {'achieved/s':>11} {'lag growth':>11} {'max lag':>8} "
        f"{'shown after last sent':>22} {'server late':>12}  sustained"
    )
    best_sustained = 0
    rows = []
    failures = 0
    failed_below: list[int] = []
    for rate in rates:
        runs = [await paced_run(server, rate, seconds) for _ in range(reps)]
        run = min(runs, key=lambda r: r["growth"])
        rows.append(run)
        print(
            f"  {rate:7,} {run['events']:7,} {run['achieved']:11,.0f} "
            f"{run['growth'] * 1e3:8.1f} ms "
            f"{run['max_lag'] * 1e3:5.0f} ms {run['shown_after_sent'] * 1e3:19.1f} ms "
            f"{run['server_late'] * 1e3:9.1f} ms  {'yes' if run['sustained'] else 'NO'}"
        )
        if run["sustained"]:
            best_sustained = rate
            failures = 0
        else:
            failed_below.append(rate)
            failures += 1
            if failures >= 2:
                break  # two rates in a row with a growing backlog: past the capacity
    failed_below = [r for r in failed_below if r < best_sustained]
    at_5000 = next((r for r in rows if r["rate"] == 5000), None)
    note = f" (but not at {', '.join(f'{r:,}' for r in failed_below)}/s)" if failed_below else ""
    print(f"\n  highest sustained rate: {best_sustained:,}/s{note}   target >= 5,000/s")
    return {
        "sustained_rate": best_sustained,
        "failed_below": failed_below,
        "paced_5000_growth_ms": at_5000["growth"] * 1e3 if at_5000 else None,
        "paced_5000_shown_ms": at_5000["shown_after_sent"] * 1e3 if at_5000 else None,
        "paced": [{k: v for k, v in r.items()} for r in rows],
    }


# ---------------------------------------------------------------------------------------------
# Figure 1b (a report): the UI's CPU while a reply streams at a reading pace


async def paced_cpu(server: ServerProcess, client: Any, text: str, app: bool) -> float:
    """Process CPU seconds for one paced stream, with the bare client or in a fresh app."""
    if app:
        instance = make_app(server.base_url, record_events=False)
        async with instance.run_test(size=SIZE) as pilot:
            await wait_ready(instance)
            await pilot.pause()
            cpu = time.process_time()
            await app_turn(instance, text)
            cpu = time.process_time() - cpu
    else:
        cpu = time.process_time()
        await bare_turn(client, text)
        cpu = time.process_time() - cpu
    server.pace_report()  # each paced stream reports; keep the queue in step for figure 3
    return cpu


async def reading_pace(
    server: ServerProcess, paces: tuple[int, ...], seconds: float, rounds: int
) -> dict[str, Any]:
    print(
        f"\nfigure 1b (report): CPU while a reply streams at a reading pace; ~{seconds:g} s "
        "streams, "
        f"{rounds} interleaved rounds\n"
    )
    print(
        f"  {'deltas/s':>8} {'chars/s':>8} {'app CPU':>9} {'bare CPU':>9} "
        f"{'UI (app - bare)':>16}   (share of one core)"
    )
    client = make_client(server.base_url)
    await client.authenticate()
    out: dict[str, Any] = {}
    for pace in paces:
        deltas = int(pace * seconds)
        text = f"bench !long:{deltas} @rate={pace}"
        duration = (deltas - 1) / pace
        results = await interleave(
            {
                "bare": functools.partial(paced_cpu, server, client, text, app=False),
                "app": functools.partial(paced_cpu, server, client, text, app=True),
            },
            rounds,
        )
        app_share = median(results["app"]) / duration
        bare_share = median(results["bare"]) / duration
        ui_share = (
            median([a - b for a, b in zip(results["app"], results["bare"], strict=True)]) / duration
        )
        print(f"  {pace:8,} {pace * 20:8,} {app_share:9.1%} {bare_share:9.1%} {ui_share:16.1%}")
        out[f"pace_{pace}_app_share"] = app_share
        out[f"pace_{pace}_bare_share"] = bare_share
        out[f"pace_{pace}_ui_share"] = ui_share
    await client.aclose()
    return out


# ---------------------------------------------------------------------------------------------
# Where the UI's time goes (diagnostic, not a figure)


async def breakdown(rounds: int) -> None:
    """Time spent in the UI's parts during a 100 KB turn: wrappers around the hot functions,
    the Textual message loop and the garbage collector. The wrappers cost a little themselves,
    so the parts are shares of a slightly slower turn; the session's own CPU is measured apart."""
    import collections

    from textual.screen import Screen
    from dialogtui.api.assembler import ReplyAssembler
    from dialogtui.api.client import DialogClient
    from dialogtui.ui.scrollbar import StripScrollBar
    from dialogtui.ui.transcript import Transcript

    spent: collections.Counter[str] = collections.Counter()
    calls: collections.Counter[str] = collections.Counter()
    order: list[str] = []
    active = [False]

    def wrap(owner: Any, name: str, label: str) -> None:
        order.append(label)
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            if not active[0]:
                return original(*args, **kwargs)
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - started
                calls[label] += 1

        setattr(owner, name, timed)

    wrap(ReplyAssembler, "feed", "ReplyAssembler.feed (every event)")
    wrap(Transcript, "stream_block", "Transcript.stream_block (every block delta)")
    wrap(DialogClient, "_emit", "DialogClient._emit (the inspector's SSE append)")
    wrap(Transcript, "_flush", "Transcript._flush (layout)")
    wrap(ReplyAssembler, "block", "  of which ReplyAssembler.block (materialize)")
    wrap(Screen, "_on_timer_update", "Screen._on_timer_update (a frame)")
    wrap(Screen, "_refresh_layout", "  of which with a screen reflow")
    wrap(StripScrollBar, "render_lines", "  of which the scrollbar")
    wrap(Transcript, "render_lines", "  of which Transcript.render_lines")
    gc_time = [0.0, 0.0]

    def gc_clock(phase: str, info: dict[str, int]) -> None:
        if active[0]:
            if phase == "start":
                gc_time[1] = time.perf_counter()
            else:
                gc_time[0] += time.perf_counter() - gc_time[1]

    gc.callbacks.append(gc_clock)
    with ServerProcess() as server:
        client = make_client(server.base_url)
        await client.authenticate()
        bare_cpu: list[float] = []
        session_cpu: list[float] = []
        totals: list[float] = []
        for _ in range(rounds):  # interleaved: the machine's load drifts
            cpu = time.process_time()
            await bare_turn(client, LONG)
            bare_cpu.append(time.process_time() - cpu)
            cpu = time.process_time()
            await session_turn(client, LONG)
            session_cpu.append(time.process_time() - cpu)
            app = make_app(server.base_url, record_events=False)
            async with app.run_test(size=SIZE) as pilot:
                await wait_ready(app)
                await pilot.pause()
                active[0] = True
                cpu = time.process_time()
                await app_turn(app, LONG)
                totals.append(time.process_time() - cpu)
                active[0] = False
        await client.aclose()
    total = median(totals)
    print(f"breakdown of a 100 KB turn in a fresh app, {rounds} turns, per turn:\n")
    print(f"  app turn, process CPU (median):          {total * 1e3:7.1f} ms")
    print(f"  ChatSession alone (client + assembler):  {median(session_cpu) * 1e3:7.1f} ms")
    print(f"  bare client alone:                       {median(bare_cpu) * 1e3:7.1f} ms")
    print("  time inside (calls may nest; the garbage collector runs inside whatever allocates):")
    for label in order:
        print(
            f"  {label:48} {spent[label] / rounds * 1e3:7.1f} ms  ({calls[label] // rounds:,} "
            "calls)"
        )
    print(f"  {'garbage collector':48} {gc_time[0] / rounds * 1e3:7.1f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and rates (~1 minute)")
    parser.add_argument(
        "--rounds", type=int, default=None, help="interleaved rounds for figures 1-2"
    )
    parser.add_argument(
        "--pace", action="store_true", help="only: figure 1b, CPU at a reading pace"
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="only: where the UI's time goes in a 100 KB turn (diagnostic)",
    )
    args = parser.parse_args()
    if args.breakdown:
        await breakdown(args.rounds or 3)
        return
    if args.pace:
        with ServerProcess() as server:
            await reading_pace(server, PACES, 3.0, args.rounds or 3)
        return
    rounds = args.rounds or (2 if args.quick else 9)
    rates = [2500, 5000, 10000] if args.quick else [2500, 5000, 7500, 10000, 12500, 15000, 20000]
    seconds = 1.0 if args.quick else 2.0
    reps = 1 if args.quick else 2
    info = machine()
    print(
        f"machine: {info['cpus']} CPUs ({info['cpu']}), Python {info['python']}, "
        f"Textual {info['textual']}, {info['date']}\n"
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, ServerProcess() as server:
        result = await figures_1_2(server, rounds, Path(tmp))
        result.update(
            await figure_3(
                server, rates, seconds, reps, result["ceiling_rate"], result["bare_rate"]
            )
        )
        result.update(
            await reading_pace(server, PACES, 1.5 if args.quick else 3.0, 1 if args.quick else 3)
        )
    result["rounds"] = rounds
    result["seconds"] = time.perf_counter() - started
    print(f"\n({result['seconds']:.0f} s)")
    emit(result)


if __name__ == "__main__":
    asyncio.run(main())
