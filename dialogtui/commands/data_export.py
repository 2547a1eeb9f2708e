"""`dialogtui data-export`: the visitor's data as the server keeps it (`GET /export`).

What the vendor's app offers as "download my data": the conversations, live-chat sessions,
attachments, support tickets and session values of the current visitor (the visitor token in
the keyring, or a fresh one). Written as JSON to a private file or stdout; `dialogtui replay`
reads it back. The token stays valid: an export ends nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from .. import exitcodes
from ..api.errors import DialogError
from ..target import Target
from ..text import sanitize_line
from .common import StartupError, exit_code_for, open_target, print_failure


def run_data_export(args: argparse.Namespace) -> int:
    try:
        with open_target(args) as target:
            try:
                data = asyncio.run(_fetch(target))
            except DialogError as error:
                print_failure(error.safe_message)
                return exit_code_for(error)
    except StartupError as exc:
        print_failure(exc.safe_message)
        return exc.exit_code
    # ensure_ascii: control characters in the data stay escaped in the file and the terminal.
    text = json.dumps(data, ensure_ascii=True, indent=2) + "\n"
    output = getattr(args, "output", None)
    if not output:
        sys.stdout.write(text)
        return exitcodes.OK
    from ..store import write_private

    try:
        write_private(Path(output), text)
    except OSError as exc:
        reason = (exc.strerror or "error").lower()
        print_failure(f"Could not write {sanitize_line(output)} ({reason}).")
        return exitcodes.FAILED
    conversations = data.get("conversations")
    count = len(conversations) if isinstance(conversations, list) else 0
    print(
        f"Wrote {sanitize_line(output)}: the server's data for this visitor "
        f"({count} conversation{'s' if count != 1 else ''}).",
        file=sys.stderr,
    )
    return exitcodes.OK


async def _fetch(target: Target) -> dict[str, Any]:
    from ..session import open_session

    session = open_session(target)
    async with session.client as client:
        return await client.export()
