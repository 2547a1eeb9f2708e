"""Command-line entry points.

Only argparse is imported at module level: `dialogtui --help` must stay fast, so each
command imports what it needs (Textual, httpx, keyring, the server) when it runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

from . import __version__

Runner = Callable[[argparse.Namespace], int]

_PATH_ARGUMENTS = frozenset({"file", "export_file", "output", "junit"})
"""Arguments that name files: any bytes are a valid file name, so they are not checked as text."""


def _checked(name: str) -> Callable[[str], object]:
    """An argparse type from `inputs`, imported when an argument is parsed (not for --help)."""

    def convert(value: str) -> object:
        from . import inputs

        checker: Callable[[str], object] = getattr(inputs, name)
        return checker(value)

    convert.__name__ = name  # argparse names the type in its error message
    return convert


_TEXT_ENVIRONMENT = (
    "DIALOGTUI_BASE_URL",
    "DIALOGTUI_CHATBOT_ID",
    "DIALOGTUI_API_KEY",
    "DIALOGTUI_VISITOR_TOKEN",
)
"""Environment variables read as text (the `*_DIR` ones name directories: any bytes go)."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its messages (which quote one's own arguments) made safe for a terminal."""

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        if message:
            from .text import sanitize

            super()._print_message(sanitize(message), file)


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


def _add_target_options(parser: argparse.ArgumentParser, *, subcommand: bool = False) -> None:
    """Which bot to talk to: shared by every command that calls the API.

    On a subcommand the defaults are suppressed, so `dialogtui --demo send hi` keeps the
    `--demo` given before the command instead of having it overwritten by a default.
    """

    def default(value: object) -> object:
        return argparse.SUPPRESS if subcommand else value

    target = parser.add_argument_group("bot")
    target.add_argument(
        "--base-url",
        metavar="URL",
        default=default(None),
        help="API base URL (env DIALOGTUI_BASE_URL; default: production)",
    )
    target.add_argument(
        "--chatbot-id",
        metavar="ID",
        default=default(None),
        help="chatbot id (env DIALOGTUI_CHATBOT_ID)",
    )
    target.add_argument(
        "--demo",
        action="store_true",
        default=default(False),
        help="use the built-in local demo server: no key, no network",
    )
    target.add_argument(
        "--scenario",
        metavar="NAME[:N]",
        default=default(None),
        help="with --demo: the server's fault scenario (see `dialogtui serve --list`)",
    )
    target.add_argument(
        "--page",
        metavar="URL",
        default=default(None),
        help="the page the visitor is on, sent as context.page (env DIALOGTUI_PAGE; setting: page)",
    )
    target.add_argument(
        "--client-profile",
        metavar="NAME",
        default=default(None),
        help="sent as X-Diverge-Client-Profile, e.g. product-recommendation "
        "(env DIALOGTUI_CLIENT_PROFILE; setting: client_profile)",
    )
    target.add_argument(
        "--visitor-token-stdin",
        action="store_true",
        default=default(False),
        help="read a visitor token (minted by your backend) from stdin, for this run only",
    )


def _add_save_option(parser: argparse.ArgumentParser, *, subcommand: bool = False) -> None:
    # On a subcommand the default is suppressed: otherwise its False would overwrite a
    # `dialogtui --no-save send ...` given before the command, and a private session be saved.
    parser.add_argument(
        "--no-save",
        action="store_true",
        default=argparse.SUPPRESS if subcommand else False,
        help="do not save this conversation locally (setting: save_transcripts)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="dialogtui",
        description=_DESCRIPTION,
        epilog=_SECRETS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dialogtui {__version__}")
    _add_target_options(parser)
    _add_save_option(parser)
    parser.set_defaults(run=_lazy("dialogtui.commands.chat", "run_chat", logs=True))

    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    send = commands.add_parser(
        "send",
        help="send one message and stream the reply to stdout",
        description="Send one message and print the reply as plain text. "
        "Exit codes: 0 done, 2 usage, 3 credentials, 4 keyring, 5 network, "
        "6 refused by the server, 7 reply failed, 8 reply incomplete.",
    )
    send.add_argument("text", help="the message to send ('-' reads it from stdin)")
    send.add_argument(
        "--json", action="store_true", help="print the typed stream events as JSON lines"
    )
    send.add_argument(
        "--attach",
        metavar="PATH",
        action="append",
        default=[],
        help="send the file with the message: an image part for PNG, JPEG, WebP and GIF, "
        "a file part otherwise (at most 5 MiB each, 8 in all; repeatable)",
    )
    _add_target_options(send, subcommand=True)
    _add_save_option(send, subcommand=True)
    send.set_defaults(run=_lazy("dialogtui.commands.send", "run_send", logs=True))

    run_cmd = commands.add_parser(
        "run",
        help="send each line of a file as one turn of a conversation; print a summary",
        description="Send each non-empty line of FILE as a user turn of one conversation, "
        "stream the replies and print a summary table. Exit codes: 0 every turn ended in done, "
        "1 some did not, 2 usage, 3 credentials, 4 keyring, 130 interrupted.",
    )
    run_cmd.add_argument(
        "file", metavar="FILE", help="the script: one message per line ('-' reads stdin)"
    )
    run_cmd.add_argument(
        "--json", action="store_true", help="print one JSON object per turn instead of the table"
    )
    run_cmd.add_argument(
        "--stop-on-error",
        action="store_true",
        help="stop at the first turn that does not end in done (default: go on)",
    )
    _add_target_options(run_cmd, subcommand=True)
    _add_save_option(run_cmd, subcommand=True)
    run_cmd.set_defaults(run=_lazy("dialogtui.commands.run", "run_script", logs=True))

    test = commands.add_parser(
        "test",
        help="play conversation test files (TOML) against the bot; report, JSON or JUnit",
        description="Play each conversation test FILE (TOML: [[turns]] with send, choose or form, "
        "and what each reply must be) as a new visitor, check every expectation and report the "
        "ones that failed with the reply seen, then latency figures. Exit codes: 0 every "
        "expectation held, 1 some failed, 2 usage or a bad test file, 3 credentials, "
        "4 keyring, 5 network, 130 interrupted (the report is still written).",
    )
    test.add_argument("files", nargs="*", metavar="FILE", help="conversation test files (TOML)")
    test.add_argument(
        "--json", action="store_true", help="print one JSON object per turn (summary on stderr)"
    )
    test.add_argument("--junit", metavar="PATH", help="also write JUnit XML to PATH, for CI")
    test.add_argument(
        "--visitors",
        type=int,
        default=1,
        metavar="N",
        help="play each file as N visitors at once, each with a conversation of its own",
    )
    test.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="K",
        help="each visitor plays it K times",
    )
    test.add_argument(
        "--concurrency",
        type=int,
        default=20,
        metavar="C",
        help="at most C conversations at once (default 20)",
    )
    test.add_argument(
        "--record",
        type=_checked("record_id"),
        metavar="ID",
        help="instead: write a test file from saved conversation ID (see `dialogtui history`)",
    )
    test.add_argument(
        "-o", "--output", metavar="FILE", help="with --record: write to a new FILE, not stdout"
    )
    _add_target_options(test, subcommand=True)
    test.set_defaults(run=_lazy("dialogtui.commands.test", "run_test", logs=True))

    replay = commands.add_parser(
        "replay",
        help="re-send an exported conversation's messages and compare old and new replies",
        description="Re-send the user messages of EXPORT "
        "(from `dialogtui export ID --format json`, or the API's /export) to the chosen bot, "
        "in one new conversation, and show the old and new replies side by side. "
        "Exit codes as for `run`.",
    )
    replay.add_argument("export_file", metavar="EXPORT", help="the exported conversation (JSON)")
    replay.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per turn: turn, text, before, after, same, outcome",
    )
    _add_target_options(replay, subcommand=True)
    _add_save_option(replay, subcommand=True)
    replay.set_defaults(run=_lazy("dialogtui.commands.run", "run_replay", logs=True))

    serve = commands.add_parser(
        "serve",
        help="run the local Dialog API server (for demos and testing your own client)",
        description="Run a local server that speaks the Dialog chat API over real HTTP and SSE, "
        "with fault scenarios. A message containing !NAME picks scenario NAME for that reply.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument(
        "--port",
        type=_checked("port_number"),
        default=8765,
        help="port (default 8765; 0 picks a free one)",
    )
    serve.add_argument(
        "--scenario",
        default="ok",
        metavar="NAME[:N]",
        help="default scenario for every request; N for the numbered ones, e.g. fail_one_in:4",
    )
    serve.add_argument(
        "--delay",
        type=_checked("seconds"),
        default=0.02,
        metavar="SECONDS",
        help="pause between streamed events (default 0.02)",
    )
    serve.add_argument("--list", action="store_true", help="list the scenarios and exit")
    serve.add_argument(
        "--agent",
        action="store_true",
        help="play the live-chat agent from this terminal: lines you type go to the visitor "
        "who asked for a human; /close ends the chat, /typing shows you typing",
    )
    serve.add_argument(
        "--livechat-fault",
        default=None,
        metavar="FAULT",
        help="a live-chat fault to play: offline, already_active, out_of_order, agent_leaves, "
        "polling_errors",
    )
    serve.set_defaults(run=_lazy("dialogtui.commands.serve", "run_serve"))

    history = commands.add_parser(
        "history",
        help="list the conversations saved on this machine",
        description="List locally saved conversations, most recent first: id, bot, where, "
        "when started, turns and the last message.",
    )
    history.add_argument("--json", action="store_true", help="print them as JSON, for scripts")
    history.add_argument(
        "--all", action="store_true", help="list all of them (default: the latest 20)"
    )
    history.set_defaults(run=_lazy("dialogtui.commands.history", "run_history"))

    export = commands.add_parser(
        "export",
        help="export a saved conversation as Markdown or JSON",
        description="Write a saved conversation (an id from `dialogtui history`) as Markdown or "
        "JSON. Exports hold no secrets and no raw control characters.",
    )
    export.add_argument(
        "id", type=_checked("record_id"), metavar="ID", help="the conversation's id"
    )
    export.add_argument(
        "--format", choices=("md", "json"), default="md", help="md (default) or json"
    )
    export.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE (created private) instead of stdout"
    )
    export.set_defaults(run=_lazy("dialogtui.commands.history", "run_export"))

    data_export = commands.add_parser(
        "data-export",
        help="download the visitor's data from the server (GET /export) as JSON",
        description="Ask the server for everything it keeps about the current visitor "
        "(conversations, live-chat sessions, attachments, support tickets): the vendor's "
        "'download my data'. `dialogtui replay` reads the file back.",
    )
    _add_target_options(data_export, subcommand=True)
    data_export.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE (created private) instead of stdout"
    )
    data_export.set_defaults(run=_lazy("dialogtui.commands.data_export", "run_data_export"))

    login = commands.add_parser("login", help="verify an API key and store it in the OS keyring")
    login.add_argument("--base-url", metavar="URL", help="API base URL (asked if omitted)")
    login.add_argument("--chatbot-id", metavar="ID", help="chatbot id (asked if omitted)")
    login.add_argument("--api-key-stdin", action="store_true", help="read the API key from stdin")
    login.add_argument(
        "--visitor-token-stdin",
        action="store_true",
        help="store only a visitor token read from stdin (no API key)",
    )
    login.set_defaults(run=_lazy("dialogtui.commands.account", "run_login", logs=True))

    logout = commands.add_parser("logout", help="remove the stored key and token of a bot")
    logout.add_argument("--base-url", metavar="URL")
    logout.add_argument("--chatbot-id", metavar="ID")
    logout.set_defaults(run=_lazy("dialogtui.commands.account", "run_logout"))

    status = commands.add_parser(
        "status", help="show the configured bot and which secrets are stored"
    )
    status.add_argument("--base-url", metavar="URL")
    status.add_argument("--chatbot-id", metavar="ID")
    status.add_argument("--json", action="store_true")
    status.set_defaults(run=_lazy("dialogtui.commands.account", "run_status"))

    return parser


def _lazy(module: str, function: str, *, logs: bool = False) -> Runner:
    """Import the command only when it runs; `logs` for commands that call the API."""

    def run(args: argparse.Namespace) -> int:
        from importlib import import_module

        if logs:
            from .logs import configure_file_logging

            configure_file_logging()
        runner: Runner = getattr(import_module(module), function)
        return runner(args)

    return run


def _check_arguments(args: argparse.Namespace) -> None:
    """Every text argument is UTF-8 (checked before the command runs: nothing is recorded or
    sent for a refused one). File names may be any bytes, as the file system allows."""
    from .inputs import check_text, check_token

    for name, value in vars(args).items():
        if isinstance(value, str) and name not in _PATH_ARGUMENTS and value != "-":
            what = "The message" if name == "text" else f"--{name.replace('_', '-')}"
            check_text(value, what)
    for variable in _TEXT_ENVIRONMENT:
        check_text(os.environ.get(variable, ""), variable)
    token = os.environ.get("DIALOGTUI_VISITOR_TOKEN", "").strip()
    if token:
        check_token(token, "DIALOGTUI_VISITOR_TOKEN")


def main(argv: Sequence[str] | None = None) -> int:
    from .inputs import InputError

    args = build_parser().parse_args(argv)
    try:
        _check_arguments(args)
        return int(args.run(args))
    except InputError as exc:
        from .text import sanitize_line

        print(f"dialogtui: {sanitize_line(exc.safe_message)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as other Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    raise SystemExit(main())
