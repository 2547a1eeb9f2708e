"""Streaming render: overhead of the UI, linearity, throughput, and the cost of local saving.

    .venv/bin/python bench/bench_render.py [--quick] [--rounds N]

Figures (issue "Benchmarks: streaming render, startup, long conversations", 1-3):

1. Render overhead. A `!long` reply (5,000 append_text deltas of 20 characters, ~100 KB of
   rich text, 5,411 SSE events with the statuses, the final part and `done`) streams from the
   dev server at full speed into
     * bare:    `DialogClient.send_message`, events consumed and dropped, no UI;
     * session: `ChatSession` (client + reply assembler), still no UI (for the breakdown);
     * app:     the headless `DialogApp` (`App.run_test`, 100x40), sent as Enter sends it
                (`_send`), timed until the turn's worker is done and one final frame painted;
     * app+store: the same app recording the turn in a `TranscriptStore` (SQLite in a temp dir).
   Each round runs every variant once, interleaved; each app variant is a fresh app that has
   finished starting (Ready) before the clock starts. Figure: app / bare per round, median.
   Also app+store / app: the cost of local saving inside the app.
   Wall time is the figure the issue asks for; the process CPU time (client + UI; the server
   is another process) is printed beside it because it is far less sensitive to other load.

2. Linearity. Per-event cost while streaming = (time the app applied the last event - time it
   applied the first) / (events - 1), for the 100 KB reply and for a 5 KB reply (`!long:250`),
   fresh apps, interleaved. Figure: 100 KB / 5 KB. Also: the last 275 events of the 100 KB
   reply against the 275 of the 5 KB one (cost late in a long reply), and the same two sizes
   with the whole reply in ONE paragraph (`@onepara`, see common.py): the worst case for any
   per-delta cost that grows with the block.

3. Throughput. Two methods:
   a. ceiling: 1 / per-event cost at full speed (from 2; bounded by the server and client too);
   b. paced: the server sends events on a fixed schedule at R events/s (common.py explains the
      pacing) for ~2 s; the app's lag behind the schedule is measured for every event (the
      server's and this process's CLOCK_MONOTONIC are the same clock). R is raised until the
      lag GROWS over the stream (a backlog: the app processes slower than events arrive).
      Sustained = lag growth from the first 10% of events to the last 10% <= 50 ms + 2% of
      the stream's duration. Each rate runs `reps` times in fresh apps and the best run counts
      (capacity is a best case: other load on the machine only makes a run worse).
      Also printed: time from the server sending the last event to the transcript drawing it.

Prints the figures and, last, one `RESULT {json}` line for run_all.py. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
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


# ---------------------------------------------------------------------------------------------
# One measurement each


async def measure_app(base_url: str, text: str, store: Any = None) -> dict[str, Any]:
    """A fresh app, Ready, then one turn: wall, CPU and the per-event application times."""
    app = make_app(base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        await pilot.pause()
        await asyncio.sleep(0.05)  # let start-up timers and layout settle
        cpu = time.process_time()
        timing = await app_turn(app, text)
        cpu = time.process_time() - cpu
    times = timing.event_times
    return {"wall": timing.total, "cpu": cpu, "events": timing.events, "times": times}


async def measure_bare(client: Any, text: str) -> dict[str, Any]:
    cpu = time.process_time()
    wall, events = await bare_turn(client, text)
    return {"wall": wall, "cpu": time.process_time() - cpu, "events": events}


async def measure_session(client: Any, text: str) -> dict[str, Any]:
    cpu = time.process_time()
    wall, events = await session_turn(client, text)
    return {"wall": wall, "cpu": time.process_time() - cpu, "events": events}


def per_event(times: list[float]) -> float:
    return (times[-1] - times[0]) / (len(times) - 1)


# ---------------------------------------------------------------------------------------------
# Figures 1 and 2


async def figures_1_2(server: ServerProcess, rounds: int, store_dir: Path) -> dict[str, Any]:
    from dialogtui.store import TranscriptStore

    url = server.base_url
    client = make_client(url)
    await client.authenticate()
    store = TranscriptStore.open(store_dir / "bench.sqlite3")
    variants = {
        "bare": lambda: measure_bare(client, LONG),
        "session": lambda: measure_session(client, LONG),
        "app": lambda: measure_app(url, LONG),
        "app+store": lambda: measure_app(url, LONG, store),
        "app 5KB": lambda: measure_app(url, SHORT),
        "bare 5KB": lambda: measure_bare(client, SHORT),
        "app 1para": lambda: measure_app(url, ONE_LONG),
        "app 1para 5KB": lambda: measure_app(url, ONE_SHORT),
    }
    results = await interleave(variants, rounds)
    await client.aclose()
    store.close()

    def col(name: str, key: str) -> list[float]:
        return [r[key] for r in results[name]]

    events_long = results["app"][0]["events"]
    events_short = results["app 5KB"][0]["events"]
    print(f"figure 1: render overhead. !long = {events_long:,} events (5,000 deltas, 100 KB); "
          f"{rounds} interleaved rounds, fresh app each\n")
    print(f"  {'variant':12} {'wall median':>12} {'wall min':>9} {'CPU median':>11}")
    for name in ("bare", "session", "app", "app+store"):
        print(f"  {name:12} {median(col(name, 'wall')) * 1e3:9.0f} ms {min(col(name, 'wall')) * 1e3:6.0f} ms"
              f" {median(col(name, 'cpu')) * 1e3:8.0f} ms")
    app_bare = Stat(ratios(col("app", "wall"), col("bare", "wall")))
    app_bare_cpu = Stat(ratios(col("app", "cpu"), col("bare", "cpu")))
    session_bare = Stat(ratios(col("session", "wall"), col("bare", "wall")))
    store_app = Stat(ratios(col("app+store", "wall"), col("app", "wall")))
    store_app_cpu = Stat(ratios(col("app+store", "cpu"), col("app", "cpu")))
    print(f"\n  app / bare (wall):        {app_bare.fmt()}   target <= 1.3x")
    print(f"  app / bare (CPU):         {app_bare_cpu.fmt()}")
    print(f"  session / bare (wall):    {session_bare.fmt()}   (client + assembler, no UI)")
    print(f"  app+store / app (wall):   {store_app.fmt()}   (local saving, in the app)")
    print(f"  app+store / app (CPU):    {store_app_cpu.fmt()}")

    long_pe = [per_event(r["times"]) for r in results["app"]]
    short_pe = [per_event(r["times"]) for r in results["app 5KB"]]
    late_pe = [per_event(r["times"][-events_short:]) for r in results["app"]]
    one_long = [per_event(r["times"]) for r in results["app 1para"]]
    one_short = [per_event(r["times"]) for r in results["app 1para 5KB"]]
    linear = Stat(ratios(long_pe, short_pe))
    late = Stat(ratios(late_pe, short_pe))
    one = Stat(ratios(one_long, one_short))
    print(f"\nfigure 2: linearity. Per event while streaming (first to last event applied), "
          f"{events_long:,} vs {events_short} events\n")
    print(f"  100 KB: median {median(long_pe) * 1e6:.1f} µs/event   5 KB: median {median(short_pe) * 1e6:.1f} µs/event"
          f"   last {events_short} events of 100 KB: median {median(late_pe) * 1e6:.1f} µs/event")
    print(f"  100 KB / 5 KB per event:             {linear.fmt()}   target <= 1.5x")
    print(f"  last {events_short} of 100 KB / 5 KB per event: {late.fmt()}")
    print(f"  one paragraph, 100 KB / 5 KB:        {one.fmt()}   "
          f"({median(one_long) * 1e6:.1f} vs {median(one_short) * 1e6:.1f} µs/event)")
    totals = Stat(ratios([r["wall"] / r["events"] for r in results["app"]],
                         [r["wall"] / r["events"] for r in results["app 5KB"]]))
    print(f"  whole turn / events, 100 KB / 5 KB:  {totals.fmt()}   (includes the request and the final frame)")

    bare_rate = [r["events"] / r["wall"] for r in results["bare"]]
    return {
        "app_bare": app_bare.median, "app_bare_min": app_bare.min,
        "app_bare_cpu": app_bare_cpu.median,
        "session_bare": session_bare.median,
        "store_app": store_app.median, "store_app_min": store_app.min, "store_app_cpu": store_app_cpu.median,
        "app_wall_ms": median(col("app", "wall")) * 1e3, "bare_wall_ms": median(col("bare", "wall")) * 1e3,
        "linear": linear.median, "linear_min": linear.min, "linear_late": late.median,
        "linear_onepara": one.median,
        "us_per_event_100k": median(long_pe) * 1e6, "us_per_event_5k": median(short_pe) * 1e6,
        "ceiling_rate": 1 / median(long_pe), "bare_rate": median(bare_rate),
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
        original = transcript.render_lines

        def render_lines(crop: Any) -> Any:
            renders.append(time.monotonic())
            return original(crop)

        transcript.render_lines = render_lines
        await app_turn(app, f"bench !long:{deltas} @rate={rate}")
        await pilot.pause()  # the frame that shows the end, as a terminal would get it
    report = server.pace_report()
    times = app.event_times
    if len(times) != report.frames:
        raise RuntimeError(f"{len(times)} events applied, {report.frames} sent")
    lags = [t - (report.t0 + k / rate) for k, t in enumerate(times)]
    tenth = max(1, len(lags) // 10)
    growth = median(lags[-tenth:]) - median(lags[:tenth])
    duration = (report.frames - 1) / rate
    shown = next((t for t in renders if t >= times[-1]), float("nan"))
    return {
        "rate": rate, "events": report.frames, "duration": duration,
        "growth": growth, "max_lag": max(lags), "end_lag": lags[-1],
        "achieved": (len(times) - 1) / (times[-1] - times[0]),
        "shown_after_sent": shown - report.last_sent,
        "server_late": report.max_late,
        "sustained": growth <= 0.05 + 0.02 * duration,
    }


async def figure_3(server: ServerProcess, rates: list[int], seconds: float, reps: int,
                   ceiling: float, bare_rate: float) -> dict[str, Any]:
    print(f"\nfigure 3: throughput\n\n  a. ceiling at full speed: 1 / per-event cost = {ceiling:,.0f} events/s "
          f"(the bare client alone reads {bare_rate:,.0f} events/s from this server)")
    print(f"  b. paced: ~{seconds:g} s streams on a fixed schedule; best of {reps} fresh app(s) per rate\n")
    print(f"  {'rate/s':>7} {'events':>7} {'achieved/s':>11} {'lag growth':>11} {'max lag':>8} "
          f"{'shown after last sent':>22} {'server late':>12}  sustained")
    best_sustained = 0
    rows = []
    failures = 0
    for rate in rates:
        runs = [await paced_run(server, rate, seconds) for _ in range(reps)]
        run = min(runs, key=lambda r: r["growth"])
        rows.append(run)
        print(f"  {rate:7,} {run['events']:7,} {run['achieved']:11,.0f} {run['growth'] * 1e3:8.1f} ms "
              f"{run['max_lag'] * 1e3:5.0f} ms {run['shown_after_sent'] * 1e3:19.1f} ms "
              f"{run['server_late'] * 1e3:9.1f} ms  {'yes' if run['sustained'] else 'NO'}")
        if run["sustained"]:
            if failures == 0:
                best_sustained = rate
        else:
            failures += 1
            if failures >= 2:
                break
    at_5000 = next((r for r in rows if r["rate"] == 5000), None)
    print(f"\n  highest sustained rate (every rate up to it sustained): {best_sustained:,}/s   target >= 5,000/s")
    return {
        "sustained_rate": best_sustained,
        "paced_5000_growth_ms": at_5000["growth"] * 1e3 if at_5000 else None,
        "paced_5000_shown_ms": at_5000["shown_after_sent"] * 1e3 if at_5000 else None,
        "paced": [{k: v for k, v in r.items()} for r in rows],
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and rates (~1 minute)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds for figures 1-2")
    args = parser.parse_args()
    rounds = args.rounds or (2 if args.quick else 5)
    rates = [2500, 5000, 10000] if args.quick else [2500, 5000, 7500, 10000, 12500, 15000, 20000]
    seconds = 1.0 if args.quick else 2.0
    reps = 1 if args.quick else 2
    info = machine()
    print(f"machine: {info['cpus']} CPUs ({info['cpu']}), Python {info['python']}, "
          f"Textual {info['textual']}, {info['date']}\n")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, ServerProcess() as server:
        result = await figures_1_2(server, rounds, Path(tmp))
        result.update(await figure_3(server, rates, seconds, reps, result["ceiling_rate"], result["bare_rate"]))
    result["rounds"] = rounds
    result["seconds"] = time.perf_counter() - started
    print(f"\n({result['seconds']:.0f} s)")
    emit(result)


if __name__ == "__main__":
    asyncio.run(main())
