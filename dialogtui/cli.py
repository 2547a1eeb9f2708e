"""Command-line entry points.

Only argparse is imported at module level: `dialogtui --help` must stay fast, so each
command imports what it needs (Textual, httpx, keyring, the server) when it runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from . import __version__

Runner = Callable[[argparse.Namespace], int]

_DESCRIPTION = """\
A terminal chat client for the Dialog Intelligens chatbot API.

Run with no command to open the chat for the configured bot, or try it with
no key and no network on the built-in local server:

  dialogtui --demo
"""

_SECRETS_EPILOG = """\
secrets: the API key and visitor token live in the OS keyring (see `dialogtui login`).
DIALOGTUI_API_KEY or DIALOGTUI_VISITOR_TOKEN supply one for this process only.
"""


def _add_target_options(parser: argparse.ArgumentParser) -> None:
    """Which bot to talk to: shared by every command that calls the API."""
    target = parser.add_argument_group("bot")
    target.add_argument("--base-url", metavar="URL",
                        help="API base URL (env DIALOGTUI_BASE_URL; default: production)")
    target.add_argument("--chatbot-id", metavar="ID", help="chatbot id (env DIALOGTUI_CHATBOT_ID)")
    target.add_argument("--demo", action="store_true",
                        help="use the built-in local demo server: no key, no network")
    target.add_argument("--scenario", metavar="NAME", default=None,
                        help="with --demo: the server's fault scenario (see `dialogtui serve --list`)")
    target.add_argument("--visitor-token-stdin", action="store_true",
                        help="read a visitor token (minted by your backend) from stdin, for this run only")


def _add_save_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-save", action="store_true",
                        help="do not save this conversation locally")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dialogtui",
        description=_DESCRIPTION,
        epilog=_SECRETS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dialogtui {__version__}")
    _add_target_options(parser)
    _add_save_option(parser)
    parser.set_defaults(run=_lazy("dialogtui.commands.chat", "run_chat"))

    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    send = commands.add_parser(
        "send", help="send one message and stream the reply to stdout",
        description="Send one message and print the reply as plain text. "
                    "Exit codes: 0 done, 2 usage, 3 credentials, 4 keyring, 5 network, "
                    "6 refused by the server, 7 reply failed, 8 reply incomplete.",
    )
    send.add_argument("text", help="the message to send ('-' reads it from stdin)")
    send.add_argument("--json", action="store_true", help="print the typed stream events as JSON lines")
    _add_target_options(send)
    _add_save_option(send)
    send.set_defaults(run=_lazy("dialogtui.commands.send", "run_send"))

    serve = commands.add_parser(
        "serve", help="run the local Dialog API server (for demos and testing your own client)",
        description="Run a local server that speaks the Dialog chat API over real HTTP and SSE, "
                    "with fault scenarios. A message containing !NAME picks scenario NAME for that reply.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    serve.add_argument("--scenario", default="ok", metavar="NAME", help="default scenario for every request")
    serve.add_argument("--delay", type=float, default=0.02, metavar="SECONDS",
                       help="pause between streamed events (default 0.02)")
    serve.add_argument("--list", action="store_true", help="list the scenarios and exit")
    serve.set_defaults(run=_lazy("dialogtui.commands.serve", "run_serve"))

    login = commands.add_parser("login", help="verify an API key and store it in the OS keyring")
    login.add_argument("--base-url", metavar="URL", help="API base URL (asked if omitted)")
    login.add_argument("--chatbot-id", metavar="ID", help="chatbot id (asked if omitted)")
    login.add_argument("--api-key-stdin", action="store_true", help="read the API key from stdin")
    login.add_argument("--visitor-token-stdin", action="store_true",
                       help="store only a visitor token read from stdin (no API key)")
    login.set_defaults(run=_lazy("dialogtui.commands.account", "run_login"))

    logout = commands.add_parser("logout", help="remove the stored key and token of a bot")
    logout.add_argument("--base-url", metavar="URL")
    logout.add_argument("--chatbot-id", metavar="ID")
    logout.set_defaults(run=_lazy("dialogtui.commands.account", "run_logout"))

    status = commands.add_parser("status", help="show the configured bot and which secrets are stored")
    status.add_argument("--base-url", metavar="URL")
    status.add_argument("--chatbot-id", metavar="ID")
    status.add_argument("--json", action="store_true")
    status.set_defaults(run=_lazy("dialogtui.commands.account", "run_status"))

    return parser


def _lazy(module: str, function: str) -> Runner:
    def run(args: argparse.Namespace) -> int:
        from importlib import import_module

        runner: Runner = getattr(import_module(module), function)
        return runner(args)

    return run


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
