"""Run every benchmark of the issue and print one summary table with targets and pass/fail.

    .venv/bin/python bench/run_all.py [--quick | --smoke] [--skip NAME ...] [--json FILE]

Runs bench_render.py, bench_terminal.py (figure 1c, then `--keys` for figure 6), bench_long.py,
bench_startup.py and bench_peers.py in turn, each in its own process (their full output is
shown as it comes), then summarises. About 8 minutes on a 2-core machine; --quick about 2.5.
Every figure is a ratio or a median measured inside one run (see each script's docstring for
its method); nothing here asserts a time.

--smoke runs every script once with the least work (--quick with one round or run, and a
5 s budget for the peers' 100 KB replies), and `ab_inprocess.py .` for one round: what
.ci/run does, so that the scripts cannot rot. Its figures mean little. The exit status is 1
if a script failed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from collections.abc import Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import machine, parse_result  # noqa: E402

SCRIPTS = ("render", "terminal", "keys", "long", "startup", "peers")
# Names that run another script's mode: name -> (script, its arguments).
MODES: dict[str, tuple[str, list[str]]] = {"keys": ("terminal", ["--keys"])}
SMOKE: dict[str, list[str]] = {
    "render": ["--rounds", "1"],
    "terminal": ["--rounds", "1"],
    "keys": ["--rounds", "1"],
    "long": ["--rounds", "1"],
    "startup": ["--runs", "1"],
    "peers": ["--rounds", "1", "--budget", "5"],
}


def run(name: str, options: list[str]) -> dict[str, Any] | None:
    """The script's figures; None if it failed."""
    script, extra = MODES.get(name, (name, []))
    argv = [sys.executable, str(HERE / f"bench_{script}.py"), *extra, *options]
    print(
        f"\n{'=' * 100}\n$ {' '.join(Path(a).name if a.endswith('.py') else a for a in argv)}\n",
        flush=True,
    )
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=HERE.parent)
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if not line.startswith("RESULT "):
            print(line, end="", flush=True)
    if proc.wait() != 0:
        print(f"bench_{script}.py {' '.join(extra)} failed with exit code {proc.returncode}")
        return None
    return parse_result("".join(lines))


Row = tuple[str, str, str, str]  # figure, measured, target, verdict


def verdict(value: float | None, ok: Callable[[float], bool]) -> str:
    if value is None:
        return "n/a"
    return "PASS" if ok(value) else "FAIL"


def rows(results: dict[str, dict[str, Any]]) -> list[Row]:
    out: list[Row] = []
    r = results.get("render", {})
    if r:
        out += [
            (
                "1 render overhead: app / bare client, 100 KB (wall)",
                f"{r['app_bare']:.2f}x (min {r['app_bare_min']:.2f}x; CPU "
                f"{r['app_bare_cpu']:.2f}x)",
                "<= 1.3x",
                verdict(r["app_bare"], lambda v: v <= 1.3),
            ),
            (
                "1 local saving: app+store / app (wall)",
                f"{r['store_app']:.2f}x (CPU {r['store_app_cpu']:.2f}x; in store "
                f"{r['store_share']:.1%} of the turn)",
                "report",
                "-",
            ),
            (
                "2 linearity: per event 100 KB / 5 KB",
                f"{r['linear']:.2f}x (late {r['linear_late']:.2f}x, 1 para "
                f"{r['linear_onepara']:.2f}x)",
                "<= 1.5x",
                verdict(r["linear"], lambda v: v <= 1.5),
            ),
            (
                "3 throughput: highest sustained paced rate",
                f"{r['sustained_rate']:,}/s (ceiling {r['ceiling_rate']:,.0f}/s)",
                ">= 5,000/s",
                verdict(r["sustained_rate"], lambda v: v >= 5000),
            ),
        ]
        if "pace_50_ui_share" in r:
            out.append(
                (
                    "1b UI CPU at a reading pace (share of a core)",
                    f"{r['pace_50_ui_share']:.1%} at 50 deltas/s, {r['pace_200_ui_share']:.1%} "
                    "at 200/s "
                    f"(app {r['pace_50_app_share']:.1%}, {r['pace_200_app_share']:.1%})",
                    "report",
                    "-",
                )
            )
    t = results.get("terminal", {})
    if t:
        out.append(
            (
                "1c UI CPU at a reading pace, in a pty",
                f"{t['pty_50_app_ui_share']:.1%} at 50 deltas/s"
                + (
                    f", {t['pty_200_app_ui_share']:.1%} at 200/s"
                    if "pty_200_app_ui_share" in t
                    else ""
                )
                + f"; writes {t['pty_50_app_kib_s']:.0f} KiB/s",
                "report",
                "-",
            )
        )
    k = results.get("keys", {})
    if k:
        out.append(
            (
                "6 keypress to screen in a pty while streaming, p95",
                f"{k['keys_50_p95_ms']:.1f} ms at 50 deltas/s, {k['keys_200_p95_ms']:.1f} ms at "
                f"200/s (idle {k['keys_idle_p95_ms']:.1f} ms)",
                "<= 16 ms",
                verdict(max(k["keys_50_p95_ms"], k["keys_200_p95_ms"]), lambda v: v <= 16),
            )
        )
    lg = results.get("long", {})
    if lg:
        out += [
            (
                "4 open 1,000 messages (app start to shown)",
                f"{lg['open_s']:.3f} s ({lg['open_ratio']:.2f}x empty)",
                "<= 1 s",
                verdict(lg["open_s"], lambda v: v <= 1),
            ),
            (
                "4 memory per 1,000 messages (RSS / Python heap)",
                f"+{lg['rss_opened_mb']:.1f} / +{lg['tracemalloc_opened_mb']:.1f} MB open, "
                f"+{lg['rss_settled_mb']:.1f} / +{lg['tracemalloc_settled_mb']:.1f} MB laid out",
                "report",
                "-",
            ),
            (
                "4 append !long:1000 after 1,000 msgs / empty",
                f"{lg['append_ratio']:.2f}x (per event {lg['append_per_event_ratio']:.2f}x)",
                "<= 1.1x",
                verdict(lg["append_ratio"], lambda v: v <= 1.1),
            ),
        ]
    s = results.get("startup", {})
    if s:
        out += [
            (
                "5 dialogtui --help",
                f"{s['help_ms']:.0f} ms ({s['help_ratio']:.2f}x python -c pass)",
                "<= 150 ms",
                verdict(s["help_ms"], lambda v: v <= 150),
            ),
            (
                "5 first paint, configured bot (pty)",
                f"{s['paint_configured_ms']:.0f} ms ({s['paint_configured_ratio']:.2f}x minimal "
                "Textual app)",
                "<= 300 ms",
                verdict(s["paint_configured_ms"], lambda v: v <= 300),
            ),
            (
                "5 first paint, --demo (pty)",
                f"{s['paint_demo_ms']:.0f} ms ({s['paint_demo_ratio']:.2f}x minimal Textual app)",
                "<= 300 ms",
                verdict(s["paint_demo_ms"], lambda v: v <= 300),
            ),
        ]
        if "paint_keyring_ms" in s:
            out.append(
                (
                    "5 first paint, key in a Secret Service (pty)",
                    f"{s['paint_keyring_ms']:.0f} ms ({s['paint_keyring_ratio']:.2f}x key in "
                    "the environment)",
                    "<= 300 ms",
                    verdict(s["paint_keyring_ms"], lambda v: v <= 300),
                )
            )
    p = results.get("peers", {})
    if p:
        for key, label in (("para", "!long"), ("one", "one paragraph")):
            extrapolated = " extrapolated" if p[f"{key}_peer_100k_extrapolated"] else ""
            out.append(
                (
                    f"peers ({label}): Markdown+MarkdownStream / dialogtui",
                    f"5 KB {p[f'{key}_peer_5k_s']:.2f} s = {p[f'{key}_peer_ours_5k']:.1f}x; "
                    f"100 KB {p[f'{key}_peer_100k_s']:.1f} s{extrapolated} = "
                    f"{p[f'{key}_peer_ours_100k']:.0f}x",
                    "report",
                    "-",
                )
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="every script with --quick")
    mode.add_argument("--smoke", action="store_true", help="every script once, least work")
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=SCRIPTS, help="scripts to leave out"
    )
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args()
    info = machine()
    started = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    failed: list[str] = []
    for name in SCRIPTS:
        if name in args.skip:
            continue
        options = ["--quick", *SMOKE[name]] if args.smoke else ["--quick"] if args.quick else []
        result = run(name, options)
        if result is None:
            failed.append(name)
        results[name] = result or {}
    if args.smoke:
        argv = [sys.executable, str(HERE / "ab_inprocess.py"), ".", "--rounds", "1"]
        print(f"\n{'=' * 100}\n$ ab_inprocess.py . --rounds 1\n", flush=True)
        if subprocess.run(argv, cwd=HERE.parent).returncode != 0:
            failed.append("ab_inprocess")
    elapsed = time.perf_counter() - started
    kind = "smoke" if args.smoke else "quick" if args.quick else "full"
    table = rows(results)
    width = max(len(r[0]) for r in table) if table else 40
    measured = max(len(r[1]) for r in table) if table else 20
    print(
        f"\n{'=' * 100}\nSUMMARY ({kind} run, {elapsed:.0f} s): "
        f"{info['cpus']} CPUs ({info['cpu']}), Python {info['python']}, Textual {info['textual']}, "
        f"{info['date']}\n"
    )
    print(f"  {'figure':{width}}  {'measured (median)':{measured}}  {'target':10}  result")
    for figure, value, target, mark in table:
        shown = "-" if args.smoke else mark  # one round decides nothing
        print(f"  {figure:{width}}  {value:{measured}}  {target:10}  {shown}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"machine": info, "run": kind, "seconds": elapsed, "results": results},
                indent=2,
            )
        )
        print(f"\nfigures written to {args.json}")
    if failed:
        names = [name if name == "ab_inprocess" else f"bench_{name}" for name in failed]
        print(f"\nfailed: {', '.join(f'{name}.py' for name in names)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
