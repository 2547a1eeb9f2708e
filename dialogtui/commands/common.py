"""What every API-calling command shares: which bot, which secret, and how failures exit."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .. import exitcodes
from ..api.errors import (
    ApiHttpError,
    DialogError,
    InsecureTransportError,
    MissingCredentialsError,
    StreamError,
    StreamInterrupted,
    ProtocolError,
    TransportError,
)

DEMO_DELTA_DELAY = 0.02
"""Seconds between demo events: fast, but slow enough to see a reply stream in."""


class StartupError(Exception):
    """A problem found before any request: bad settings, no secret, no keyring."""

    def __init__(self, safe_message: str, exit_code: int) -> None:
        super().__init__(safe_message)
        self.safe_message = safe_message
        self.exit_code = exit_code


@dataclass(frozen=True)
class Target:
    """A bot to talk to, with the secret for it. `repr` never shows the secret."""

    base_url: str
    chatbot_id: str
    api_key: str | None
    visitor_token: str | None
    save_token: Callable[[str], None] | None
    environment: str
    """Shown to the person: "demo", "production", "development" or the host."""

    def __repr__(self) -> str:
        return f"Target(base_url={self.base_url!r}, chatbot_id={self.chatbot_id!r})"


def environment_label(base_url: str) -> str:
    from ..config import DEVELOPMENT_URL, PRODUCTION_URL

    url = base_url.rstrip("/")
    if url == PRODUCTION_URL:
        return "production"
    if url == DEVELOPMENT_URL:
        return "development"
    return url.split("://", 1)[-1]


@contextmanager
def open_target(args: argparse.Namespace) -> Iterator[Target]:
    """Resolve the bot and its secret; with --demo, run the local server for the duration."""
    if getattr(args, "demo", False):
        with _demo_target(getattr(args, "scenario", None)) as target:
            yield target
        return
    yield _configured_target(args)


@contextmanager
def _demo_target(scenario: str | None) -> Iterator[Target]:
    from ..devserver import DEMO_API_KEY, DEMO_CHATBOT_ID, SCENARIOS, DevServer, DevServerConfig

    if scenario is not None and scenario not in SCENARIOS:
        raise StartupError(f"Unknown scenario {scenario!r}. See `dialogtui serve --list`.", exitcodes.USAGE)
    config = DevServerConfig(scenario=scenario or "ok", delta_delay=DEMO_DELTA_DELAY)
    with DevServer(config) as server:
        yield Target(
            base_url=server.base_url,
            chatbot_id=DEMO_CHATBOT_ID,
            api_key=DEMO_API_KEY,
            visitor_token=None,
            save_token=None,
            environment="demo",
        )


def _configured_target(args: argparse.Namespace) -> Target:
    from ..config import ConfigError, resolve_settings
    from ..credentials import CredentialsError, CredentialStore, ensure_secure_url

    try:
        settings = resolve_settings(base_url=args.base_url, chatbot_id=args.chatbot_id)
    except ConfigError as exc:
        raise StartupError(str(exc), exitcodes.USAGE) from None
    if not settings.chatbot_id:
        raise StartupError(
            "No chatbot is configured. Run `dialogtui login`, pass --chatbot-id, "
            "or try `dialogtui --demo`.",
            exitcodes.USAGE,
        )
    try:
        ensure_secure_url(settings.base_url)
    except InsecureTransportError as exc:
        raise StartupError(exc.safe_message, exitcodes.USAGE) from None

    store = CredentialStore(settings.base_url, settings.chatbot_id)
    if getattr(args, "visitor_token_stdin", False):
        token = sys.stdin.readline().strip()
        if not token:
            raise StartupError("No visitor token was given on stdin.", exitcodes.USAGE)
        # A token handed in for one run is never stored: rotations stay in memory.
        return Target(settings.base_url, settings.chatbot_id, None, token, None,
                      environment_label(settings.base_url))
    try:
        secrets = store.load()
    except CredentialsError as exc:
        raise StartupError(exc.safe_message, exitcodes.KEYRING) from None
    if not secrets.api_key and not secrets.visitor_token:
        raise StartupError(MissingCredentialsError().safe_message, exitcodes.AUTH)
    return Target(
        base_url=settings.base_url,
        chatbot_id=settings.chatbot_id,
        api_key=secrets.api_key,
        visitor_token=secrets.visitor_token,
        save_token=store.save_visitor_token,
        environment=environment_label(settings.base_url),
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
    """One line on stderr: the safe message only, never a server body or a traceback."""
    print(f"dialogtui: {message}", file=sys.stderr)
