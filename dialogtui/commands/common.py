"""What every API-calling command shares: which bot, which secret, and how failures exit."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from .. import exitcodes
from ..api.errors import (
    ApiHttpError,
    DialogError,
    MissingCredentialsError,
    StreamError,
    ProtocolError,
    StreamInterrupted,
    TransportError,
)
from ..inputs import check_token, read_line
from ..target import Target, TargetError, configured_target, demo_target, with_switches

# Commands catch one error type for every problem found before the first request.
StartupError = TargetError


@contextmanager
def open_target(args: argparse.Namespace, *, defer_secret: bool = False) -> Iterator[Target]:
    """Resolve the bot and its secret (with `defer_secret`, only the bot: see
    `configured_target`); with --demo, run the local server for the duration."""
    page, profile = getattr(args, "page", None), getattr(args, "client_profile", None)
    if getattr(args, "demo", False):
        with demo_target(getattr(args, "scenario", None)) as target:
            yield with_switches(target, page, profile)
        return
    token = None
    if getattr(args, "visitor_token_stdin", False):
        token = read_line("the visitor token").strip()
        if not token:
            raise TargetError("No visitor token was given on stdin.", exitcodes.USAGE)
        check_token(token, "The visitor token on stdin")  # raises InputError (exit 2)
    yield configured_target(
        args.base_url,
        args.chatbot_id,
        visitor_token=token,
        defer_secret=defer_secret,
        page=page,
        client_profile=profile,
    )


def exit_code_for(error: DialogError) -> int:
    if isinstance(error, ApiHttpError):
        return exitcodes.AUTH if error.status in (401, 403) else exitcodes.HTTP_ERROR
    if isinstance(error, StreamError):
        return exitcodes.STREAM_ERROR
    if isinstance(error, (StreamInterrupted, ProtocolError)):
        return exitcodes.INCOMPLETE
    if isinstance(error, TransportError):
        return exitcodes.NETWORK
    if isinstance(error, (MissingCredentialsError,)):
        return exitcodes.AUTH
    return exitcodes.USAGE


def print_failure(message: str) -> None:
    """One line on stderr: the safe message only, never a server body or a traceback; it may
    quote one's own input, so it is made safe for the terminal."""
    from ..text import sanitize_line

    print(f"dialogtui: {sanitize_line(message)}", file=sys.stderr)
