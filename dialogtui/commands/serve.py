"""`dialogtui serve`: the local Dialog API server, for demos and for testing other clients."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import threading
from typing import TYPE_CHECKING

from .. import exitcodes
from ..text import sanitize_line
from .common import print_failure

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from ..devserver.livechat import LiveDesk

AGENT_HELP = (
    "You are the live-chat agent. When a visitor asks for a human, type a line to join and "
    "answer; /typing shows you typing, /close ends the chat, Ctrl-D or Ctrl-C stops."
)


def run_serve(args: argparse.Namespace) -> int:
    from ..devserver import DEMO_API_KEY, DEMO_CHATBOT_ID, SCENARIOS, DevServerConfig, serve
    from ..devserver.livechat import FAULTS, desk_of
    from ..devserver.scenarios import parse_scenario

    if args.list:
        width = max(map(len, SCENARIOS))
        for name, description in SCENARIOS.items():
            print(f"{name:<{width}}  {description}")
        print("\nlive-chat faults (--livechat-fault):")
        for name, description in FAULTS.items():
            print(f"{name:<{width}}  {description}")
        return exitcodes.OK
    try:
        parse_scenario(args.scenario)
    except ValueError as exc:
        print_failure(str(exc))
        return exitcodes.USAGE
    fault = getattr(args, "livechat_fault", None)
    if fault is not None and fault not in FAULTS:
        print_failure(f"Unknown live-chat fault {fault!r}. See `dialogtui serve --list`.")
        return exitcodes.USAGE
    config = DevServerConfig(scenario=args.scenario, delta_delay=args.delay)
    agent = bool(getattr(args, "agent", False))

    def banner(bound_url: str) -> None:
        # Printed once listening, with the port really bound: `--port 0` picks a free one.
        base_url = sanitize_line(bound_url)  # the host is one's own input
        print(f"Dialog API on {base_url}/api/v1/chat  (scenario: {sanitize_line(args.scenario)})")
        print(f"  API key: {DEMO_API_KEY}   chatbot id: {DEMO_CHATBOT_ID}")
        print(
            f"  try: DIALOGTUI_API_KEY={DEMO_API_KEY} dialogtui send --base-url {base_url} "
            f"--chatbot-id {DEMO_CHATBOT_ID} 'hello !long:250'"
        )
        if agent:
            print("  " + AGENT_HELP)
        print("  Ctrl-C stops it.", flush=True)

    def prepare(app: Starlette) -> None:
        desk = desk_of(app)
        desk.settings.fault = fault
        if agent:
            desk.settings.script = None
            desk.on_visitor = lambda line: print(sanitize_line(line), flush=True)
            # A daemon thread: a blocked read of stdin must not hold the process at Ctrl-C.
            threading.Thread(
                target=_read_agent_lines, args=(desk,), name="dialogtui-agent", daemon=True
            ).start()

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(config, args.host, args.port, on_ready=banner, on_app=prepare))
    except OSError as exc:  # a host that does not resolve, a port taken or not ours to bind
        reason = (exc.strerror or type(exc).__name__).lower()
        print_failure(f"Cannot listen on {args.host}:{args.port} ({reason}).")
        return exitcodes.USAGE
    return exitcodes.OK


def _read_agent_lines(desk: LiveDesk) -> None:
    """The agent's terminal: each line is a message to the visitor, or a command."""
    for raw in sys.stdin:
        line = raw.strip()
        if not line:
            continue
        if line == "/close":
            print(desk.agent_closes(), flush=True)
        elif line == "/typing":
            print(desk.agent_typing(True), flush=True)
        elif line.startswith("/"):
            print("Commands: /typing, /close. Anything else is sent to the visitor.", flush=True)
        else:
            print(desk.agent_says(line), flush=True)
