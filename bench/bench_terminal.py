"""A reply at a reading pace in a real terminal: what the app's process spends, and writes.

    .venv/bin/python bench/bench_terminal.py [--quick] [--rounds N] [--vs DIR]

Figure 1c (a report, no target). Figure 1b measures the headless app, which renders every
frame but never turns it into the bytes a terminal reads. Here `dialogtui` runs as a person
runs it, in a pty (100x40, xterm-256color), against the benchmark's dev server (a child
process, as in the other scripts). Once it is Ready, this script types a message whose reply
the server paces at R deltas a second (`!long:N @rate=R`, 20 characters a delta), reads
everything the app writes, and takes the app process's CPU time (user + system, all its
threads, from /proc) from Enter to the status line's next `Ready`. The same stream is taken by
the bare client in this process, interleaved, as in figure 1b.

Printed per pace: the app's and the bare client's CPU per second of streaming (a share of one
core), their difference (what the UI costs, frames written included), and the bytes the app
wrote per second. `--vs DIR` runs a second copy of the package (a directory holding another
`dialogtui/`, e.g. an export of an earlier commit: `git archive REV dialogtui | tar -x -C DIR`)
in the same rounds, through PYTHONPATH, and prints its figures beside.

`--keys` measures figure 6 instead: keypress-to-screen latency. While the reply streams at
R deltas a second, this script types one character into the composer every ~120 ms (a
character the stream never contains, a different one each time) and times, per keypress,
from the write to the pty until the character's bytes come back in what the app writes:
the time a person waits to see what they typed. The same with no stream (idle) for
reference. Printed: median and p95 over all keypresses of all rounds; the goal is a p95 of
at most one 60 Hz frame (16 ms) while streaming at 50 and 200 deltas a second.

Prints the figures and, last, one `RESULT {json}` line. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import functools
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    ServerProcess,
    answer_cursor_queries,
    bare_turn,
    emit,
    interleave,
    machine,
    make_client,
    median,
)

DIALOGTUI = str(Path(sys.executable).parent / "dialogtui")
TICKS = os.sysconf("SC_CLK_TCK")
PACE_SECONDS = 3.0


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class TerminalApp:
    """`dialogtui` in a pty, read continuously."""

    def __init__(self, base_url: str, env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
        self.proc = subprocess.Popen(
            [DIALOGTUI, "--base-url", base_url, "--chatbot-id", "demo", "--no-save"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self.tail = b""

    def read_until(self, marker: bytes, timeout: float = 30.0) -> int:
        """Read until `marker` appears in what arrives from now on; the bytes read."""
        self.tail = b""
        count = 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not select.select([self.master], [], [], 0.05)[0]:
                if self.proc.poll() is not None:
                    break
                continue
            data = os.read(self.master, 65536)
            answer_cursor_queries(self.master, data)
            count += len(data)
            self.tail = self.tail[-64:] + data
            if marker in self.tail:
                return count
        raise RuntimeError(f"{marker!r} did not come within {timeout} s")

    def drain(self) -> None:
        """Read what has arrived, without waiting (the pty raises OSError once the app is gone)."""
        while select.select([self.master], [], [], 0)[0]:
            try:
                if not os.read(self.master, 65536):
                    break
            except OSError:
                break

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.drain()
        os.close(self.master)


def app_turn_in_a_pty(server: ServerProcess, env: dict[str, str], text: str) -> dict[str, float]:
    app = TerminalApp(server.base_url, env)
    try:
        app.read_until(b"Ready")
        # The message is typed before the clock starts, so that what is measured is the
        # stream: typing it in one burst costs a frame a key (keys paint at once, figure 6).
        app.type(text)
        time.sleep(0.3)  # the start's last frames, and the typed message's
        app.drain()
        cpu = process_cpu(app.proc.pid)
        started = time.monotonic()
        app.type("\r")
        written = app.read_until(b"Ready")
        wall = time.monotonic() - started
        cpu = process_cpu(app.proc.pid) - cpu
    finally:
        app.close()
    server.pace_report()  # keep the server's report queue in step
    return {"cpu": cpu, "bytes": written, "wall": wall}


async def bare_paced(server: ServerProcess, client: Any, text: str) -> dict[str, float]:
    cpu = time.process_time()
    await bare_turn(client, text)
    cpu = time.process_time() - cpu
    server.pace_report()
    return {"cpu": cpu}


async def figure_1c(paces: tuple[int, ...], rounds: int, other: Path | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, ServerProcess() as server:
        from dialogtui.devserver import DEMO_API_KEY

        env = dict(
            os.environ,
            TERM="xterm-256color",
            COLORTERM="truecolor",
            LINES="40",
            COLUMNS="100",
            DIALOGTUI_API_KEY=DEMO_API_KEY,
            DIALOGTUI_CONFIG_DIR=str(Path(tmp) / "config"),
            DIALOGTUI_DATA_DIR=str(Path(tmp) / "data"),
            DIALOGTUI_LOG_DIR=str(Path(tmp) / "log"),
            PYTHONPYCACHEPREFIX=str(Path(tmp) / "pycache"),
        )
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        variants_env = {"app": env}
        if other is not None:
            variants_env[f"app ({other.name})"] = dict(env, PYTHONPATH=str(other))
        client = make_client(server.base_url)
        await client.authenticate()
        print(
            "figure 1c (report): a reply at a reading pace in a pty (100x40); "
            f"~{PACE_SECONDS:g} s streams, "
            f"{rounds} interleaved rounds\n"
        )
        print(
            f"  {'deltas/s':>8} {'variant':24} {'CPU':>7} {'UI (- bare)':>12} {'written':>12}   "
            "(CPU: share of one core)"
        )
        for pace in paces:
            deltas = int(pace * PACE_SECONDS)
            text = f"bench !long:{deltas} @rate={pace}"
            duration = (deltas - 1) / pace

            def in_pty(variant_env: dict[str, str], text: str) -> Any:
                async def run() -> dict[str, float]:
                    return await asyncio.to_thread(app_turn_in_a_pty, server, variant_env, text)

                return run

            variants: dict[str, Any] = {"bare": functools.partial(bare_paced, server, client, text)}
            variants.update(
                {name: in_pty(variant_env, text) for name, variant_env in variants_env.items()}
            )
            results = await interleave(variants, rounds)
            bare = [r["cpu"] for r in results["bare"]]
            print(f"  {pace:8,} {'bare client':24} {median(bare) / duration:7.1%}")
            for name in variants_env:
                cpu = [r["cpu"] for r in results[name]]
                ui = median([a - b for a, b in zip(cpu, bare, strict=True)]) / duration
                written = median([r["bytes"] for r in results[name]]) / duration
                print(
                    f"  {pace:8,} {name:24} {median(cpu) / duration:7.1%} {ui:12.1%} "
                    f"{written / 1024:8.0f} KiB/s"
                )
                key = "app" if name == "app" else "other"
                out[f"pty_{pace}_{key}_share"] = median(cpu) / duration
                out[f"pty_{pace}_{key}_ui_share"] = ui
                out[f"pty_{pace}_{key}_kib_s"] = written / 1024
            out[f"pty_{pace}_bare_share"] = median(bare) / duration
        await client.aclose()
    return out


# Characters no stream contains, each drawn one cell wide: each keypress types the next one.
KEY_CHARS = "ʘʬʭʮʯʤʥʦʧʨʩʪʫ"


def _wait_for_bytes(app: TerminalApp, marker: bytes, timeout: float = 2.0) -> float | None:
    """Read until `marker` shows up; the monotonic time it did (None on a timeout)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not select.select([app.master], [], [], 0.002)[0]:
            continue
        data = os.read(app.master, 65536)
        now = time.monotonic()
        seen = seen[-8:] + data
        if marker in seen:
            return now
    return None


def keys_in_a_pty(
    server: ServerProcess, env: dict[str, str], text: str | None, keys: int
) -> list[float]:
    """Keypress-to-screen latencies (seconds) of `keys` keypresses while `text`'s reply
    streams (None: idle)."""
    app = TerminalApp(server.base_url, env)
    latencies: list[float] = []
    try:
        app.read_until(b"Ready")
        time.sleep(0.3)
        app.drain()
        if text is not None:
            app.type(text + "\r")
            app.read_until(b"Esc cancels")  # the status line while the reply comes
            time.sleep(0.3)  # and it streams from here
        for number in range(keys):
            char = KEY_CHARS[number % len(KEY_CHARS)]
            if number and number % len(KEY_CHARS) == 0:
                app.type("\x15")  # Ctrl+U: empty the composer, so every character is new
                time.sleep(0.05)
                app.drain()
            sent = time.monotonic()
            app.type(char)
            shown = _wait_for_bytes(app, char.encode())
            if shown is not None:
                latencies.append(shown - sent)
            time.sleep(0.08 + 0.04 * (number % 3) / 2)  # not in step with the frames
        if text is not None:
            app.read_until(b"Ready")
    finally:
        app.close()
    if text is not None:
        server.pace_report()
    return latencies


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def figure_6(paces: tuple[int, ...], rounds: int, other: Path | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, ServerProcess() as server:
        from dialogtui.devserver import DEMO_API_KEY

        env = dict(
            os.environ,
            TERM="xterm-256color",
            COLORTERM="truecolor",
            LINES="40",
            COLUMNS="100",
            DIALOGTUI_API_KEY=DEMO_API_KEY,
            DIALOGTUI_CONFIG_DIR=str(Path(tmp) / "config"),
            DIALOGTUI_DATA_DIR=str(Path(tmp) / "data"),
            DIALOGTUI_LOG_DIR=str(Path(tmp) / "log"),
            PYTHONPYCACHEPREFIX=str(Path(tmp) / "pycache"),
        )
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        variants = {"app": env}
        if other is not None:
            variants[f"app ({other.name})"] = dict(env, PYTHONPATH=str(other))
        keys = 30
        print(
            "figure 6: keypress-to-screen latency in a pty (100x40), "
            f"{keys} keypresses a round, {rounds} rounds (variants interleaved)\n"
        )
        print(f"  {'stream':>14} {'variant':24} {'median':>8} {'p95':>8} {'max':>8} {'keys':>6}")
        cases: list[tuple[str, str | None]] = [("idle", None)]
        for pace in paces:
            # Long enough for every keypress to land while the reply streams.
            deltas = int(pace * (keys * 0.14 + 2))
            cases.append((f"{pace} deltas/s", f"bench !long:{deltas} @rate={pace}"))
        for label, text in cases:
            latencies: dict[str, list[float]] = {name: [] for name in variants}
            for round_number in range(rounds):
                order = list(variants) if round_number % 2 == 0 else list(reversed(variants))
                for name in order:
                    latencies[name] += await asyncio.to_thread(
                        keys_in_a_pty, server, variants[name], text, keys
                    )
            for name, values in latencies.items():
                p50, p95 = median(values), percentile(values, 0.95)
                print(
                    f"  {label:>14} {name:24} {p50 * 1000:6.1f} ms {p95 * 1000:6.1f} ms "
                    f"{max(values) * 1000:6.1f} ms {len(values):6}"
                )
                key = label.split()[0]
                prefix = "keys" if name == "app" else "keys_other"
                out[f"{prefix}_{key}_p50_ms"] = p50 * 1000
                out[f"{prefix}_{key}_p95_ms"] = p95 * 1000
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round, one pace (~30 s)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 3)")
    parser.add_argument(
        "--vs", type=Path, default=None, help="a directory holding another dialogtui/ to compare"
    )
    parser.add_argument(
        "--keys", action="store_true", help="figure 6: keypress-to-screen latency instead"
    )
    args = parser.parse_args()
    info = machine()
    print(
        f"machine: {info['cpus']} CPUs ({info['cpu']}), Python {info['python']}, "
        f"Textual {info['textual']}, {info['date']}\n"
    )
    started = time.perf_counter()
    paces = (50,) if args.quick else (50, 200)
    rounds = args.rounds or (1 if args.quick else 3)
    if args.keys:
        result = await figure_6((50, 200), rounds, args.vs)
    else:
        result = await figure_1c(paces, rounds, args.vs)
    result["seconds"] = time.perf_counter() - started
    print(f"\n({result['seconds']:.0f} s)")
    emit(result)


if __name__ == "__main__":
    asyncio.run(main())
