"""Figure 1 for several versions of dialogtui at once, interleaved in one process.

    .venv/bin/python bench/ab_inprocess.py REV [REV ...] [--rounds N]

For telling whether a change to the app moved figure 1 on this noisy machine. Each REV (a
commit, a branch, or `.` for the work tree as it is) is exported into a temporary directory
as a package of its own (`dialogtui` at `.`, `dt_<rev>` otherwise, its absolute imports
renamed), so all of them run side by side. Each round, for every version in alternating
order: one `!long` turn of its bare client, then a fresh app, Ready, one `!long` turn; the
dev server and this process are pinned to a core each (Linux). Prints each version's
app / bare ratio against its own bare client (wall and CPU, median and min) and, for each
version after the first, its CPU per turn against the first version's (app and bare
client), round by round: the figure that is least sensitive to the minute's noise, since
both sides share the same round.

The dev server is this work tree's. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import io
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SIZE, ServerProcess, bare_turn, paint, wait_ready

ROOT = Path(__file__).resolve().parent.parent
LONG = "bench !long"


def export(rev: str, into: Path) -> str:
    """The package name under which `rev`'s dialogtui can be imported from `into`."""
    if rev == ".":
        return "dialogtui"
    name = "dt_" + re.sub(r"\W", "_", rev)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "dialogtui"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into / "export", filter="data")
    (into / "export" / "dialogtui").rename(into / name)
    for path in (into / name).rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        renamed = re.sub(r"\bdialogtui\.(?=[a-z_])", f"{name}.", text)
        renamed = re.sub(r"\bfrom dialogtui import\b", f"from {name} import", renamed)
        if renamed != text:
            path.write_text(renamed, encoding="utf-8")
    return name


def make_app(package: str, base_url: str) -> Any:
    app_module = importlib.import_module(f"{package}.ui.app")
    target_module = importlib.import_module(f"{package}.target")
    dev = importlib.import_module(f"{package}.devserver")
    target = target_module.Target(
        base_url, dev.DEMO_CHATBOT_ID, api_key=dev.DEMO_API_KEY, environment="bench"
    )
    return app_module.DialogApp(target)


async def app_turn(package: str, base_url: str, warm: bool = False) -> tuple[float, float]:
    app = make_app(package, base_url)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        await pilot.pause()
        await asyncio.sleep(0.05)
        cpu, wall = time.process_time(), time.perf_counter()
        assert app._send(LONG), "a turn was still running"
        await app._turn_worker.wait()
        paint(app)
        return time.perf_counter() - wall, time.process_time() - cpu


def make_bare_client(package: str, base_url: str) -> Any:
    client_module = importlib.import_module(f"{package}.api.client")
    dev = importlib.import_module(f"{package}.devserver")
    return client_module.DialogClient(base_url, dev.DEMO_CHATBOT_ID, api_key=dev.DEMO_API_KEY)


async def timed_bare_turn(client: Any) -> tuple[float, float]:
    cpu = time.process_time()
    wall, _ = await bare_turn(client, LONG)
    return wall, time.process_time() - cpu


async def run(packages: list[str], rounds: int) -> None:
    apps: dict[str, list[tuple[float, float]]] = {package: [] for package in packages}
    bares: dict[str, list[tuple[float, float]]] = {package: [] for package in packages}
    with ServerProcess() as server:
        pinned = len(os.sched_getaffinity(0)) >= 2  # a core each; a one-core runner shares it
        if pinned:
            os.sched_setaffinity(server.pid, {0})
            os.sched_setaffinity(0, {1})
        clients = {package: make_bare_client(package, server.base_url) for package in packages}
        for package in packages:  # imports and first-use costs out of the rounds
            await clients[package].authenticate()
            await timed_bare_turn(clients[package])
            await app_turn(package, server.base_url)
        for number in range(rounds):
            for package in packages if number % 2 == 0 else packages[::-1]:
                bares[package].append(await timed_bare_turn(clients[package]))
                apps[package].append(await app_turn(package, server.base_url))
        for client in clients.values():
            await client.aclose()
    where = "server on CPU 0, apps and bare clients on CPU 1" if pinned else "one CPU, unpinned"
    print(f"{rounds} rounds, {where}")
    for package in packages:
        bare = bares[package]
        walls = [app[0] / base[0] for app, base in zip(apps[package], bare, strict=True)]
        cpus = [app[1] / base[1] for app, base in zip(apps[package], bare, strict=True)]
        print(
            f"  {package:24} app / bare: wall {statistics.median(walls):.2f}x "
            f"(min {min(walls):.2f}x), CPU {statistics.median(cpus):.2f}x "
            f"(min {min(cpus):.2f}x); bare client: wall "
            f"{statistics.median(w for w, _ in bare) * 1e3:.0f} ms, "
            f"CPU {statistics.median(c for _, c in bare) * 1e3:.0f} ms"
        )
    first = packages[0]
    for package in packages[1:]:
        for label, results in (("app", apps), ("bare client", bares)):
            per_round = [
                mine[1] / theirs[1]
                for mine, theirs in zip(results[package], results[first], strict=True)
            ]
            print(
                f"  {package} / {first}, {label} CPU per turn: median "
                f"{statistics.median(per_round):.3f} "
                f"({', '.join(f'{x:.2f}' for x in per_round)})"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("revs", nargs="+", help="commits, branches, or . for the work tree")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dialogtui-ab-") as scratch:
        packages = [export(rev, Path(scratch)) for rev in args.revs]
        sys.path.insert(0, scratch)
        asyncio.run(run(packages, args.rounds))


if __name__ == "__main__":
    main()
