"""`dialogtui serve`: the local Dialog API server, for demos and for testing other clients."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from .. import exitcodes
from ..text import sanitize_line
from .common import print_failure


def run_serve(args: argparse.Namespace) -> int:
    from ..devserver import DEMO_API_KEY, DEMO_CHATBOT_ID, SCENARIOS, DevServerConfig, serve
    from ..devserver.scenarios import parse_scenario

    if args.list:
        width = max(map(len, SCENARIOS))
        for name, description in SCENARIOS.items():
            print(f"{name:<{width}}  {description}")
        return exitcodes.OK
    try:
        parse_scenario(args.scenario)
    except ValueError as exc:
        print_failure(str(exc))
        return exitcodes.USAGE
    config = DevServerConfig(scenario=args.scenario, delta_delay=args.delay)
    base_url = sanitize_line(f"http://{args.host}:{args.port}")  # the host is one's own input
    print(f"Dialog API on {base_url}/api/v1/chat  (scenario: {sanitize_line(args.scenario)})")
    print(f"  API key: {DEMO_API_KEY}   chatbot id: {DEMO_CHATBOT_ID}")
    print(
        f"  try: DIALOGTUI_API_KEY={DEMO_API_KEY} dialogtui send --base-url {base_url} "
        f"--chatbot-id {DEMO_CHATBOT_ID} 'hello !long:250'"
    )
    print("  Ctrl-C stops it.", flush=True)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(config, args.host, args.port))
    except OSError as exc:  # a host that does not resolve, a port taken or not ours to bind
        reason = (exc.strerror or type(exc).__name__).lower()
        print_failure(f"Cannot listen on {args.host}:{args.port} ({reason}).")
        return exitcodes.USAGE
    return exitcodes.OK
