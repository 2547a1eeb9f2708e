"""Long conversations: open 1,000 messages, their memory, and appending a reply after them.

    .venv/bin/python bench/bench_long.py [--quick] [--rounds N]

Figure 4 of the issue. Two dev servers (child processes, see common.py): one whose every new
conversation is pre-seeded with 1,000 history messages (`DevServerConfig(history_messages=
1000)`: 500 questions and 500 one-paragraph answers), one with none.

* Open: a fresh headless `DialogApp` (100x40) is created and started; the clock runs from
  just before `DialogApp(...)` until the app says Ready (config read, the 1,000 messages
  fetched in pages of 50 and added to the transcript) and one frame is painted. Target <= 1 s.
  The same for the empty conversation, interleaved; their ratio and difference show what the
  1,000 messages cost. Also: the same 1,000 messages fetched by the bare client (no UI).
* Memory: each in a fresh child process (a process's heap only grows), for 0 and 1,000
  messages: RSS and, in separate children, tracemalloc's traced Python memory, right after
  the open and again once the transcript has laid out every entry in the background. Growth
  per 1,000 messages = (1,000 messages) - (empty conversation), same point, same kind.
* Append: a `!long:1000` reply (1,000 deltas, 20 KB) streamed at full speed into the app that
  shows the 1,000 messages versus into the app with the empty conversation, both after the
  background layout has finished; fresh apps, interleaved. Target: as fast (ratio <= 1.1x).
  Per-event streaming cost is compared as well.
* Search (a report): Ctrl+F's search over the 1,000 messages shown, timed in the same app
  before its append: a word in no message (first query, then again) and one in most.
* The local store: the app reads history from the server, not from the store, so there is no
  app figure for it; for reference, reading a 1,000-message conversation back from a
  `TranscriptStore` (`messages()` and each one's `display_parts`) is timed.

Prints the figures and, last, one `RESULT {json}` line for run_all.py. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
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
    emit,
    interleave,
    machine,
    make_app,
    make_client,
    median,
    paint,
    ratios,
    rss_bytes,
    wait_ready,
    wait_until,
)

HISTORY = 1000
APPEND = "bench !long:1000"


def laid_out(app: Any) -> bool:
    """Every entry laid out at the current width (the background layout has finished)."""
    transcript = app.transcript
    return all(entry.gen == transcript._gen for entry in transcript._entries)


async def open_app(base_url: str, expect: int) -> tuple[float, Any, Any]:
    """(seconds from creating the app to the conversation on screen, app, run_test context)."""
    started = time.perf_counter()
    app = make_app(base_url)
    context = app.run_test(size=SIZE)
    await context.__aenter__()
    await wait_ready(app, timeout=60)
    paint(app)
    seconds = time.perf_counter() - started
    count = app.transcript.entry_count
    if count < expect:
        raise RuntimeError(f"{count} entries shown, expected at least {expect}")
    return seconds, app, context


async def measure_open(base_url: str, expect: int) -> float:
    seconds, _app, context = await open_app(base_url, expect)
    await context.__aexit__(None, None, None)
    return seconds


async def measure_append(base_url: str, expect: int) -> dict[str, float]:
    _, app, context = await open_app(base_url, expect)
    try:
        await wait_until(lambda: laid_out(app), timeout=60)
        searches = time_searches(app.transcript)
        await asyncio.sleep(0.05)
        timing = await app_turn(app, APPEND)
    finally:
        await context.__aexit__(None, None, None)
    times = timing.event_times
    return {
        "wall": timing.total,
        "per_event": (times[-1] - times[0]) / (len(times) - 1),
        **searches,
    }


def time_searches(transcript: Any) -> dict[str, float]:
    """Ctrl+F over what is shown: a word in no message (the first query, when each entry's
    search text is made, then again), and a word in most of them (their lines scanned)."""
    out: dict[str, float] = {}
    for key, query in (
        ("search_first", "zqxjv"),
        ("search_again", "zqxjv"),
        ("search_common", "earlier"),
    ):
        transcript.end_search()
        started = time.perf_counter()
        transcript.search(query)
        out[key] = time.perf_counter() - started
    transcript.end_search()
    return out


async def measure_fetch(base_url: str) -> float:
    client = make_client(base_url)
    try:
        await client.authenticate()
        started = time.perf_counter()
        messages = await client.get_history(max_messages=HISTORY)
        seconds = time.perf_counter() - started
    finally:
        await client.aclose()
    if len(messages) < HISTORY:
        raise RuntimeError(f"fetched {len(messages)} messages")
    return seconds


# ---------------------------------------------------------------------------------------------
# Memory, in child processes


async def child_memory(base_url: str, expect: int, use_tracemalloc: bool) -> dict[str, float]:
    import tracemalloc

    def now() -> float:
        gc.collect()
        return float(tracemalloc.get_traced_memory()[0] if use_tracemalloc else rss_bytes())

    if use_tracemalloc:
        tracemalloc.start()
    before = now()
    _, app, context = await open_app(base_url, expect)
    opened = now()
    await wait_until(lambda: laid_out(app), timeout=120)
    settled = now()
    await context.__aexit__(None, None, None)
    return {"before": before, "opened": opened, "settled": settled}


def run_child(base_url: str, expect: int, kind: str) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, __file__, "--child", kind, base_url, str(expect)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def memory_figures(empty_url: str, full_url: str, runs: int) -> dict[str, float]:
    print(
        f"\n  memory (fresh child process per measurement, {runs} each; growth = 1,000 messages "
        "- empty):"
    )
    out: dict[str, float] = {}
    for kind, label, unit in (
        ("rss", "RSS", "MB"),
        ("tracemalloc", "tracemalloc (Python heap)", "MB"),
    ):
        rows = {"empty": [], "full": []}
        for _ in range(runs):
            rows["empty"].append(run_child(empty_url, 1, kind))
            rows["full"].append(run_child(full_url, HISTORY, kind))
        for point in ("opened", "settled"):
            growth = (
                median(
                    [f[point] - e[point] for f, e in zip(rows["full"], rows["empty"], strict=True)]
                )
                / 1e6
            )
            total = median([f[point] for f in rows["full"]]) / 1e6
            out[f"{kind}_{point}_mb"] = growth
            what = "right after the open" if point == "opened" else "after background layout"
            print(
                f"    {label:26} {what:24}: +{growth:5.1f} {unit} per 1,000 messages "
                f"(process {total:5.1f} {unit})"
            )
    return out


# ---------------------------------------------------------------------------------------------
# The local store, for reference


def store_read(rounds: int) -> float:
    from dialogtui.api.models import Block, Message, RichTextPart, Span
    from dialogtui.store import TranscriptStore

    with tempfile.TemporaryDirectory() as tmp:
        store = TranscriptStore.open(Path(tmp) / "long.sqlite3")
        conversation = store.start_conversation("bench", "demo", bot_name="Bench")
        for turn in range(HISTORY // 2):
            user = store.record_user_turn(conversation, f"Earlier question #{turn}")
            recorder = store.begin_reply(conversation, reply_to=user)
            part = RichTextPart(
                part_id=f"p{turn}",
                blocks=[
                    Block(
                        spans=[
                            Span(text=f"Earlier answer #{turn}. "),
                            Span(type="bold", text="Stored history."),
                        ]
                    )
                ],
            )
            recorder.finish("done", message=Message(role="assistant", parts=[part]))
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            messages = store.messages(conversation)
            for message in messages:
                _ = message.display_parts  # a property: the parts to render
            times.append(time.perf_counter() - started)
        store.close()
    if len(messages) != HISTORY:
        raise RuntimeError(f"read {len(messages)} stored messages")
    return median(times)


async def main_async(rounds: int, memory_runs: int) -> dict[str, Any]:
    result: dict[str, Any] = {}
    with ServerProcess(history=HISTORY) as full, ServerProcess(history=0) as empty:
        results = await interleave(
            {
                "open 1,000": lambda: measure_open(full.base_url, HISTORY),
                "open empty": lambda: measure_open(empty.base_url, 1),
                "fetch 1,000 (bare client)": lambda: measure_fetch(full.base_url),
            },
            rounds,
        )
        open_full = Stat(results["open 1,000"])
        open_empty = Stat(results["open empty"])
        open_ratio = Stat(ratios(results["open 1,000"], results["open empty"]))
        fetch = Stat(results["fetch 1,000 (bare client)"])
        print(f"figure 4: long conversations ({rounds} interleaved rounds, fresh app each)\n")
        print(f"  open with 1,000 messages: {open_full.fmt(' s', digits=3)}   target <= 1 s")
        print(f"  open, empty conversation: {open_empty.fmt(' s', digits=3)}")
        print(
            f"  1,000 / empty:            {open_ratio.fmt()}   "
            f"(the 1,000 messages add {(open_full.median - open_empty.median) * 1e3:.0f} ms)"
        )
        print(f"  of which fetching them (bare client, 20 pages of 50): {fetch.fmt(' ms', 1e3, 0)}")
        result.update(
            open_s=open_full.median,
            open_min_s=open_full.min,
            open_empty_s=open_empty.median,
            open_ratio=open_ratio.median,
            fetch_ms=fetch.median * 1e3,
        )

        result.update(memory_figures(empty.base_url, full.base_url, memory_runs))

        appended = await interleave(
            {
                "after 1,000": lambda: measure_append(full.base_url, HISTORY),
                "empty": lambda: measure_append(empty.base_url, 1),
            },
            rounds,
        )
        wall = Stat(
            ratios(
                [r["wall"] for r in appended["after 1,000"]], [r["wall"] for r in appended["empty"]]
            )
        )
        per_event = Stat(
            ratios(
                [r["per_event"] for r in appended["after 1,000"]],
                [r["per_event"] for r in appended["empty"]],
            )
        )
        print(
            "\n  append `!long:1000` (1,000 deltas) after 1,000 messages vs in an empty "
            "conversation:"
        )
        print(
            f"    whole turn:        {wall.fmt()}   target <= 1.1x   "
            f"({median([r['wall'] for r in appended['after 1,000']]) * 1e3:.0f} vs "
            f"{median([r['wall'] for r in appended['empty']]) * 1e3:.0f} ms)"
        )
        print(f"    per event:         {per_event.fmt()}")
        full_runs = appended["after 1,000"]
        search = {
            key: median([r[key] for r in full_runs]) * 1e3
            for key in full_runs[0]
            if key.startswith("search")
        }
        print(
            "\n  search (Ctrl+F) over the 1,000 messages: first query "
            f"{search['search_first']:.1f} ms, again {search['search_again']:.1f} ms, "
            f"a word in most messages {search['search_common']:.1f} ms"
        )
        result.update({f"{key}_ms": value for key, value in search.items()})
        result.update(
            append_ratio=wall.median,
            append_ratio_min=wall.min,
            append_per_event_ratio=per_event.median,
        )

    stored = store_read(rounds)
    print(
        "\n  local store, for reference: reading 1,000 stored messages back (messages() + "
        "display_parts): "
        f"median {stored * 1e3:.1f} ms"
    )
    result["store_read_ms"] = stored * 1e3
    return result


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        kind, url, expect = sys.argv[2], sys.argv[3], int(sys.argv[4])
        print(json.dumps(asyncio.run(child_memory(url, expect, kind == "tracemalloc"))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (~30 s)")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    rounds = args.rounds or (2 if args.quick else 9)
    info = machine()
    print(
        f"machine: {info['cpus']} CPUs ({info['cpu']}), Python {info['python']}, "
        f"Textual {info['textual']}, {info['date']}\n"
    )
    started = time.perf_counter()
    result = asyncio.run(main_async(rounds, 1 if args.quick else 2))
    result["rounds"] = rounds
    result["seconds"] = time.perf_counter() - started
    print(f"\n({result['seconds']:.0f} s)")
    emit(result)


if __name__ == "__main__":
    main()
