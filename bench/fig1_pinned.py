"""Figure 1 alone, with the dev server and this process each pinned to a core of its own.

    .venv/bin/python bench/fig1_pinned.py [--rounds N]

For comparing two checkouts of dialogtui (say, before and after a change): run this from each,
alternately, A B A B A B, and compare the medians. On this 2-core machine the server and the
app otherwise take turns on both cores with whatever else runs, and figure 1's per-round ratio
swings more than most changes move it; pinned, the spread is narrower. `bench_render.py`
remains the figure of record (unpinned, as a person's machine runs it).

Each round: a fresh app, Ready, then one `!long` turn in the app and one with the bare client,
in alternating order. Prints the per-round ratios' medians, wall and CPU. Linux only
(`os.sched_setaffinity`). Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    SIZE,
    ServerProcess,
    Stat,
    app_turn,
    bare_turn,
    make_app,
    make_client,
    ratios,
    wait_ready,
)

LONG = "bench !long"


async def run(rounds: int) -> None:
    walls: dict[str, list[float]] = {"bare": [], "app": []}
    cpus: dict[str, list[float]] = {"bare": [], "app": []}
    with ServerProcess() as server:
        os.sched_setaffinity(server.pid, {0})
        os.sched_setaffinity(0, {1})
        client = make_client(server.base_url)
        await client.authenticate()
        for number in range(rounds):
            app = make_app(server.base_url, record_events=False)
            async with app.run_test(size=SIZE) as pilot:
                await wait_ready(app)
                await pilot.pause()
                await asyncio.sleep(0.05)
                for name in ("bare", "app") if number % 2 == 0 else ("app", "bare"):
                    cpu = time.process_time()
                    wall = (
                        (await bare_turn(client, LONG))[0]
                        if name == "bare"
                        else (await app_turn(app, LONG)).total
                    )
                    walls[name].append(wall)
                    cpus[name].append(time.process_time() - cpu)
        await client.aclose()
    wall_ratio, cpu_ratio = (
        Stat(ratios(walls["app"], walls["bare"])),
        Stat(ratios(cpus["app"], cpus["bare"])),
    )
    print(f"{Path.cwd()}: {rounds} rounds, server on CPU 0, app and bare client on CPU 1")
    print(f"  app, wall:         {Stat(walls['app']).fmt(' ms', 1e3, 0)}")
    print(f"  bare client, wall: {Stat(walls['bare']).fmt(' ms', 1e3, 0)}")
    print(f"  app / bare (wall): {wall_ratio.fmt()}")
    print(f"  app / bare (CPU):  {cpu_ratio.fmt()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(run(parser.parse_args().rounds))


if __name__ == "__main__":
    main()
