"""`dialogtui history` and `dialogtui export`: the conversations saved on this machine.

Neither creates a database: with nothing saved yet they say so and exit 0 (history) or 2
(export of an id that does not exist). Everything printed passes `sanitize`, and JSON goes
through `dumps_json`, so no raw control character reaches the terminal or a file.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import exitcodes
from ..conversation.outcome import Outcome
from ..text import sanitize_line
from .common import print_failure

HISTORY_LIMIT = 20
"""Conversations listed without --all."""


def _open_existing() -> Any:
    """The store if a database file exists, else None. Raises `StoreError`."""
    from ..store import TranscriptStore

    path = TranscriptStore.default_path()
    if not path.exists():
        return None
    store = TranscriptStore.open(path)
    if store.warning:
        print_failure(store.warning)
    return store


def run_history(args: argparse.Namespace) -> int:
    from ..store import StoreError, dumps_json

    try:
        store = _open_existing()
        if store is None:
            summaries = []
        else:
            with store:
                summaries = store.conversations(limit=None if args.all else HISTORY_LIMIT + 1)
    except StoreError as exc:
        print_failure(exc.safe_message)
        return exitcodes.FAILED
    more = not args.all and len(summaries) > HISTORY_LIMIT
    summaries = summaries[:HISTORY_LIMIT] if more else summaries

    if args.json:
        sys.stdout.write(dumps_json([_summary_record(s) for s in summaries]) + "\n")
        return exitcodes.OK
    if not summaries:
        print("No saved conversations yet.")
        return exitcodes.OK
    _print_table(summaries)
    if more:
        print(f"(the latest {HISTORY_LIMIT}; `dialogtui history --all` lists them all)")
    return exitcodes.OK


def _summary_record(summary: Any) -> dict[str, Any]:
    return {
        "id": summary.id,
        "bot": summary.title,
        "chatbot_id": summary.chatbot_id,
        "bot_name": summary.bot_name,
        "base_url": summary.base_url,
        "environment": summary.environment,
        "live": summary.live,
        "started_at": summary.started_at,
        "updated_at": summary.updated_at,
        "turns": summary.turns,
        "messages": summary.messages,
        "last_message": {
            "role": summary.last_role,
            "status": summary.last_status,
            "text": _shorten(summary.last_text, 200),
        }
        if summary.last_role is not None
        else None,
    }


def _shorten(text: str, width: int) -> str:
    line = " ".join(sanitize_line(text).split())
    return line if len(line) <= width else line[: max(width - 1, 0)].rstrip() + "…"


def _local_time(stamp: str) -> str:
    try:
        return datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return sanitize_line(stamp)[:16]


_STATUS_WORDS: dict[str, str] = {
    Outcome.INCOMPLETE: "reply incomplete",
    Outcome.ERROR: "reply failed",
    Outcome.CANCELLED: "reply cancelled",
}


def _last_message(summary: Any) -> str:
    who = "You" if summary.last_role == "user" else "Bot"
    text = " ".join(sanitize_line(summary.last_text).split())
    if summary.last_role != "user" and summary.last_status in _STATUS_WORDS:
        note = _STATUS_WORDS[summary.last_status]
        return f"{who}: {text} [{note}]" if text else f"{who}: [{note}]"
    return f"{who}: {text}"


def _print_table(summaries: list[Any]) -> None:
    headers = ("ID", "BOT", "WHERE", "STARTED", "TURNS", "LAST MESSAGE")
    rows = [
        (
            f"{s.id}{'*' if s.live else ''}",
            _shorten(s.title, 24),
            _shorten(s.environment, 24),
            _local_time(s.started_at),
            str(s.turns),
            _last_message(s),
        )
        for s in summaries
    ]
    widths = [max(len(headers[i]), *(len(r[i]) for r in rows)) for i in range(5)]
    total = shutil.get_terminal_size((100, 24)).columns
    last_width = max(total - sum(widths) - 2 * 5, 20)
    right = {0, 4}

    def line(cells: tuple[str, ...]) -> str:
        out = [
            c.rjust(widths[i]) if i in right else c.ljust(widths[i])
            for i, c in enumerate(cells[:5])
        ]
        return "  ".join([*out, _shorten(cells[5], last_width)]).rstrip()

    print(line(headers))
    for row in rows:
        print(line(row))
    if any(s.live for s in summaries):
        print("* latest: the conversation last started with that bot")


def run_export(args: argparse.Namespace) -> int:
    from ..store import StoreError, dumps_json, write_private

    try:
        store = _open_existing()
        if store is None:
            raise StoreError(
                f"There is no saved conversation {args.id}: nothing has been saved yet."
            )
        with store:
            if args.format == "json":
                text = dumps_json(store.export_json(args.id)) + "\n"
            else:
                text = store.export_markdown(args.id)
    except StoreError as exc:
        print_failure(exc.safe_message)
        return exitcodes.USAGE
    if not args.output:
        sys.stdout.write(text)
        return exitcodes.OK
    try:
        write_private(Path(args.output), text)
    except OSError as exc:
        print_failure(
            f"Could not write {sanitize_line(args.output)} ({(exc.strerror or 'error').lower()})."
        )
        return exitcodes.FAILED
    print(f"Wrote {sanitize_line(args.output)}", file=sys.stderr)
    return exitcodes.OK
