"""Start-up: `dialogtui --help`, and the app's time to first paint in a real terminal (pty).

    .venv/bin/python bench/bench_startup.py [--quick] [--runs N]

Figure 5 of the issue.

* `dialogtui --help` (the installed console script), from spawning the process to its exit,
  measured here with `time.perf_counter()` around `subprocess.run`, interleaved with
  `python -c pass` (the same interpreter: start-up plus `site`, the floor any Python CLI
  pays). Target: median <= 0.15 s. The ratio to `python -c pass` and the difference are the
  part that is dialogtui's. `python -X importtime` then lists what the --help path imports:
  none of Textual, Rich, httpx, uvicorn, Starlette, keyring, msgspec or sqlite3 may be there.

* Time to first paint. Method: the real command runs in a pseudo-terminal (100x40,
  TERM=xterm-256color) and this script reads the pty; the clock runs from just before the
  process is spawned (so interpreter start-up and every import count) to the first bytes of
  the first frame, recognised by the cursor-home sequence `ESC[1;1H` with which Textual
  starts drawing a full screen (the terminal-mode set-up it writes before that is not a
  frame). Reading on goes until the status line says `Ready` (branding and history loaded).
  Then the process group is sent SIGTERM. Three commands, interleaved:
    - `dialogtui --demo --no-save`: the demo, which also starts the local server in-process
      (uvicorn and Starlette imported and started before the app);
    - `dialogtui --base-url http://127.0.0.1:PORT --chatbot-id demo --no-save` with
      DIALOGTUI_API_KEY set: the path of a configured bot (here the dev server, running in
      another process so its start is not counted);
    - a minimal Textual app (Header, Static, Footer): Textual's own floor on this machine.
  Target: first paint <= 0.3 s for the app. The ratio to the minimal Textual app shows what
  dialogtui adds. Config, data and log directories point to a temporary directory.

* First paint with the key where `dialogtui login` keeps it: a real Secret Service
  (gnome-keyring, unlocked, on a private D-Bus session in a throwaway HOME), against the same
  command with the key in DIALOGTUI_API_KEY, interleaved (`keyring_figures`). Reading a
  keyring in a fresh process takes ~0.2 s here; the app does it after its first frame.
  Skipped, with a line saying so, where `dbus-run-session` or `gnome-keyring-daemon` is
  missing.

Bytecode: every command runs with bytecode caching on, in a private cache directory
(PYTHONPYCACHEPREFIX; warm-up runs fill it), as an installed package runs. When the shell has
PYTHONDONTWRITEBYTECODE set (this workplace does), dialogtui's own modules would otherwise be
compiled from source at every start; that case is printed as an extra line.

Prints the figures and, last, one `RESULT {json}` line for run_all.py. Asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import pty
import select
import shutil
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

from common import ServerProcess, Stat, answer_cursor_queries, emit, machine, median, ratios

BIN = Path(sys.executable).parent
DIALOGTUI = str(BIN / "dialogtui")
HEAVY = (
    "textual",
    "rich",
    "httpx",
    "httpcore",
    "uvicorn",
    "starlette",
    "keyring",
    "msgspec",
    "sqlite3",
    "platformdirs",
    "asyncio",
)
FRAME = b"\x1b[1;1H"
MINIMAL_APP = """\
from textual.app import App
from textual.widgets import Footer, Header, Static

class Minimal(App):
    def compose(self):
        yield Header()
        yield Static("Hello")
        yield Footer()

Minimal().run()
"""


def cached_env(tmp: Path) -> dict[str, str]:
    """The environment with bytecode caching on, in a private cache (`PYTHONPYCACHEPREFIX`), as
    an installed package runs: a shell that sets PYTHONDONTWRITEBYTECODE=1 (this workplace
    does) would otherwise recompile every dialogtui module at every start."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    return env


def time_command(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - started


def help_figures(runs: int, env: dict[str, str]) -> dict[str, Any]:
    helps, passes = [], []
    time_command([DIALOGTUI, "--help"], env)  # fills the bytecode cache and the page cache
    time_command([sys.executable, "-c", "pass"], env)
    for number in range(runs):
        pair = [("help", [DIALOGTUI, "--help"]), ("pass", [sys.executable, "-c", "pass"])]
        for name, argv in pair if number % 2 == 0 else pair[::-1]:
            (helps if name == "help" else passes).append(time_command(argv, env))
    help_stat, pass_stat = Stat(helps), Stat(passes)
    ratio = Stat(ratios(helps, passes))
    excess = median([h - p for h, p in zip(helps, passes, strict=True)])
    print(f"figure 5a: `dialogtui --help`, {runs} runs interleaved with `python -c pass`\n")
    print(f"  dialogtui --help:  {help_stat.fmt(' ms', 1e3, 0)}   target <= 150 ms")
    print(f"  python -c pass:    {pass_stat.fmt(' ms', 1e3, 0)}")
    print(f"  ratio:             {ratio.fmt()}   (dialogtui's own part: {excess * 1e3:.0f} ms)")
    uncached = None
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        uncached = median(
            [
                time_command([DIALOGTUI, "--help"], dict(os.environ))
                for _ in range(max(3, runs // 4))
            ]
        )
        print(
            f"  as this shell runs it (PYTHONDONTWRITEBYTECODE set, no bytecode cache): "
            f"median {uncached * 1e3:.0f} ms"
        )

    importtime = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "dialogtui", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stderr
    imported = {}
    for line in importtime.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = (part.strip() for part in line[len("import time:") :].split("|"))
        if cumulative.isdigit():
            imported[name.strip()] = int(cumulative)
    heavy = sorted(name for name in imported if name.split(".")[0] in HEAVY)
    cli_ms = imported.get("dialogtui.cli", 0) / 1e3
    print(
        f"  imports on the --help path: dialogtui.cli {cli_ms:.1f} ms cumulative; "
        f"heavy modules imported: {', '.join(heavy) if heavy else 'none'}"
    )
    return {
        "help_ms": help_stat.median * 1e3,
        "help_min_ms": help_stat.min * 1e3,
        "help_uncached_ms": uncached * 1e3 if uncached is not None else None,
        "pass_ms": pass_stat.median * 1e3,
        "help_ratio": ratio.median,
        "help_excess_ms": excess * 1e3,
        "help_heavy_imports": heavy,
    }


# ---------------------------------------------------------------------------------------------
# First paint in a pty


def first_paint(
    argv: list[str], env: dict[str, str], timeout: float = 20.0
) -> tuple[float, float | None]:
    """(seconds to the first frame, seconds to `Ready` or None) from spawning `argv` in a pty."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    seen = b""
    painted: float | None = None
    ready: float | None = None
    wants_ready = "dialogtui" in argv[0]
    deadline = started + timeout
    try:
        while time.perf_counter() < deadline:
            readable, _, _ = select.select([master], [], [], 0.05)
            if not readable:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            now = time.perf_counter()
            answer_cursor_queries(master, data)
            seen = seen[-16:] + data
            if painted is None and FRAME in seen:
                painted = now - started
            if ready is None and b"Ready" in seen:
                ready = now - started
            if painted is not None and (ready is not None or not wants_ready):
                break
    finally:
        # Its own session: this signals the process and its children.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        # Drain so the child is not blocked writing its exit sequences; then close.
        while select.select([master], [], [], 0)[0]:
            try:
                if not os.read(master, 65536):
                    break
            except OSError:
                break
        os.close(master)
    if painted is None:
        raise RuntimeError(f"no frame from {argv[:3]} within {timeout} s")
    return painted, ready


def paint_figures(runs: int, tmp: Path, base_env: dict[str, str]) -> dict[str, Any]:
    with ServerProcess() as server:
        minimal = Path(tmp) / "minimal_app.py"
        minimal.write_text(MINIMAL_APP)
        env = dict(
            base_env,
            TERM="xterm-256color",
            COLORTERM="truecolor",
            LINES="40",
            COLUMNS="100",
            DIALOGTUI_CONFIG_DIR=str(Path(tmp) / "config"),
            DIALOGTUI_DATA_DIR=str(Path(tmp) / "data"),
            DIALOGTUI_LOG_DIR=str(Path(tmp) / "log"),
        )
        configured_env = dict(env, DIALOGTUI_API_KEY="demo-key")
        # The same demo without the start-up question to the terminal (ui/glyph_widths.py),
        # which this harness answers as a terminal would: its cost is the ratio of the two.
        no_probe = Path(tmp) / "config-no-probe"
        no_probe.mkdir(exist_ok=True)
        (no_probe / "config.toml").write_text("probe_emoji_widths = false\n")
        commands: dict[str, tuple[list[str], dict[str, str]]] = {
            "dialogtui --demo": ([DIALOGTUI, "--demo", "--no-save"], env),
            "dialogtui --demo, no emoji probe": (
                [DIALOGTUI, "--demo", "--no-save"],
                dict(env, DIALOGTUI_CONFIG_DIR=str(no_probe)),
            ),
            "dialogtui (configured bot)": (
                [DIALOGTUI, "--base-url", server.base_url, "--chatbot-id", "demo", "--no-save"],
                configured_env,
            ),
            "minimal Textual app": ([sys.executable, str(minimal)], env),
        }
        if os.environ.get("PYTHONDONTWRITEBYTECODE"):
            uncached = dict(configured_env)
            uncached.pop("PYTHONPYCACHEPREFIX", None)
            uncached["PYTHONDONTWRITEBYTECODE"] = "1"
            commands["configured, no bytecode cache"] = (
                commands["dialogtui (configured bot)"][0],
                uncached,
            )
        for argv, command_env in commands.values():  # warm-up, not counted
            first_paint(argv, command_env)
        results: dict[str, list[tuple[float, float | None]]] = {name: [] for name in commands}
        names = list(commands)
        for number in range(runs):
            for name in names if number % 2 == 0 else names[::-1]:
                argv, command_env = commands[name]
                results[name].append(first_paint(argv, command_env))
    print(
        f"\nfigure 5b: time to first paint in a pty (100x40), from spawning the process; "
        f"{runs} runs each, interleaved\n"
    )
    print(f"  {'command':32} {'first paint':>38}   {'Ready (history loaded)':>24}")
    base = [p for p, _ in results["minimal Textual app"]]
    out: dict[str, Any] = {}
    for name, rows in results.items():
        paints = Stat([p for p, _ in rows])
        readies = [r for _, r in rows if r is not None]
        ready_text = f"median {median(readies) * 1e3:.0f} ms" if readies else "-"
        print(f"  {name:32} {paints.fmt(' ms', 1e3, 0):>38}   {ready_text:>24}")
        key = {
            "dialogtui --demo": "demo",
            "dialogtui (configured bot)": "configured",
            "minimal Textual app": "minimal",
            "dialogtui --demo, no emoji probe": "demo_no_probe",
            "configured, no bytecode cache": "uncached",
        }[name]
        out[f"paint_{key}_ms"] = paints.median * 1e3
        out[f"paint_{key}_min_ms"] = paints.min * 1e3
        if readies:
            out[f"ready_{key}_ms"] = median(readies) * 1e3
    for name, key in (("dialogtui --demo", "demo"), ("dialogtui (configured bot)", "configured")):
        ratio = Stat(ratios([p for p, _ in results[name]], base))
        out[f"paint_{key}_ratio"] = ratio.median
        print(f"  {name} / minimal Textual app: {ratio.fmt()}")
    probe = Stat(
        ratios(
            [p for p, _ in results["dialogtui --demo"]],
            [p for p, _ in results["dialogtui --demo, no emoji probe"]],
        )
    )
    out["paint_probe_ratio"] = probe.median
    print(f"  the emoji-width probe: demo / demo without it: {probe.fmt()}")
    print("  target: first paint <= 300 ms")
    return out


KEYRING_TOOLS = ("dbus-run-session", "gnome-keyring-daemon")
KEYRING_CHILD = "--keyring-child"


def keyring_figures(runs: int, tmp: Path, base_env: dict[str, str]) -> dict[str, Any]:
    """First paint of the configured bot with its key where `dialogtui login` puts it: a real
    Secret Service (gnome-keyring on a private D-Bus session, in a throwaway HOME), against
    the same command with the key in the environment, interleaved. Needs the two programs
    `.ci/secret-service.sh` installs; without them this figure is skipped, and says so."""
    missing = [tool for tool in KEYRING_TOOLS if shutil.which(tool) is None]
    if missing:
        print(
            f"\n  key in a Secret Service: skipped, {', '.join(missing)} not installed "
            f"(`bash .ci/secret-service.sh` installs them)"
        )
        return {}
    home = tmp / "keyring-home"
    home.mkdir()
    env = {
        k: v
        for k, v in base_env.items()
        if not k.startswith(("DBUS_", "XDG_", "DIALOGTUI_API_KEY", "DIALOGTUI_VISITOR_TOKEN"))
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local/share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        TERM="xterm-256color",
        COLORTERM="truecolor",
        DIALOGTUI_CONFIG_DIR=str(tmp / "kconfig"),
        DIALOGTUI_DATA_DIR=str(tmp / "kdata"),
        DIALOGTUI_LOG_DIR=str(tmp / "klog"),
    )
    with ServerProcess() as server:
        done = subprocess.run(
            [
                "dbus-run-session",
                "--",
                sys.executable,
                __file__,
                KEYRING_CHILD,
                str(runs),
                server.base_url,
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    lines = [line for line in done.stdout.splitlines() if line.startswith("KEYRING ")]
    if done.returncode or not lines:
        raise RuntimeError(
            f"the Secret Service child failed ({done.returncode}): {done.stderr[-2000:]}"
        )
    paints = json.loads(lines[-1][len("KEYRING ") :])
    keyring_paint, env_paint = Stat(paints["keyring"]), Stat(paints["environment"])
    ratio = Stat(ratios(paints["keyring"], paints["environment"]))
    print(
        f"\n  configured bot, key in a Secret Service (gnome-keyring), {runs} runs each, "
        "interleaved:"
    )
    print(f"    key in the keyring:         {keyring_paint.fmt(' ms', 1e3, 0)}")
    print(f"    key in DIALOGTUI_API_KEY:   {env_paint.fmt(' ms', 1e3, 0)}")
    print(
        f"    keyring / environment:      {ratio.fmt()}   (the app reads the keyring after its "
        "first frame)"
    )
    return {"paint_keyring_ms": keyring_paint.median * 1e3, "paint_keyring_ratio": ratio.median}


def keyring_child(runs: int, base_url: str) -> None:
    """Inside `dbus-run-session`: an unlocked gnome-keyring holding the demo key, then both
    commands' first paints. Prints one `KEYRING {json}` line."""
    from jeepney import DBus
    from jeepney.io.blocking import open_dbus_connection

    from dialogtui.credentials import CredentialStore
    from dialogtui.devserver import DEMO_API_KEY

    daemon = subprocess.Popen(
        ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert daemon.stdin is not None
        daemon.stdin.write(os.urandom(16).hex().encode())  # creates and unlocks a throwaway keyring
        daemon.stdin.close()
        deadline = time.monotonic() + 15
        with open_dbus_connection(bus="SESSION") as bus:
            while not bus.send_and_get_reply(DBus().NameHasOwner("org.freedesktop.secrets")).body[
                0
            ]:
                if daemon.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("gnome-keyring-daemon did not start")
                time.sleep(0.02)
        CredentialStore(base_url, "demo").save_api_key(DEMO_API_KEY)
        argv = [DIALOGTUI, "--base-url", base_url, "--chatbot-id", "demo", "--no-save"]
        commands = {
            "keyring": dict(os.environ),
            "environment": dict(os.environ, DIALOGTUI_API_KEY=DEMO_API_KEY),
        }
        for env in commands.values():  # warm-up, not counted
            first_paint(argv, env)
        paints: dict[str, list[float]] = {name: [] for name in commands}
        for number in range(runs):
            for name in list(commands) if number % 2 == 0 else list(commands)[::-1]:
                painted, ready = first_paint(argv, commands[name])
                if ready is None:  # the app never connected: a keyring that failed, not a figure
                    raise RuntimeError(f"dialogtui with the key in the {name} never said Ready")
                paints[name].append(painted)
        print("KEYRING " + json.dumps(paints), flush=True)
    finally:
        daemon.terminate()
        try:
            daemon.wait(5)
        except subprocess.TimeoutExpired:
            daemon.kill()


def import_breakdown(env: dict[str, str]) -> dict[str, float]:
    """Cumulative import times of the modules the app path needs, from `python -X importtime`."""
    code = "import dialogtui.commands.chat, dialogtui.ui.app, dialogtui.store"
    stderr = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stderr
    stderr_demo = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import dialogtui.devserver.server"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stderr
    wanted = (
        "textual.app",
        "rich.console",
        "httpx",
        "msgspec",
        "dialogtui.ui.app",
        "dialogtui.store",
        "dialogtui.devserver.server",
        "uvicorn",
        "starlette.applications",
    )
    found: dict[str, float] = {}
    for text in (stderr, stderr_demo):
        for line in text.splitlines():
            if not line.startswith("import time:") or "|" not in line:
                continue
            _, cumulative, name = (part.strip() for part in line[len("import time:") :].split("|"))
            name = name.strip()
            if name in wanted and cumulative.isdigit() and name not in found:
                found[name] = int(cumulative) / 1e3
    print("\n  cumulative import times (python -X importtime, one run; the first importer pays):")
    print("    " + ", ".join(f"{name} {ms:.0f} ms" for name, ms in found.items()))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (~20 s)")
    parser.add_argument("--runs", type=int, default=None, help="runs of each first-paint command")
    parser.add_argument(
        KEYRING_CHILD, nargs=2, metavar=("RUNS", "BASE_URL"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.keyring_child:
        keyring_child(int(args.keyring_child[0]), args.keyring_child[1])
        return
    paint_runs = args.runs or (3 if args.quick else 7)
    help_runs = 8 if args.quick else 20
    info = machine()
    print(
        f"machine: {info['cpus']} CPUs ({info['cpu']}), Python {info['python']}, "
        f"Textual {info['textual']}, {info['date']}\n"
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        env = cached_env(Path(tmp))
        result = help_figures(help_runs, env)
        result.update(paint_figures(paint_runs, Path(tmp), env))
        result.update(keyring_figures(paint_runs, Path(tmp), env))
        result["imports_ms"] = import_breakdown(env)
    result["seconds"] = time.perf_counter() - started
    print(f"\n({result['seconds']:.0f} s)")
    emit(result)


if __name__ == "__main__":
    main()
