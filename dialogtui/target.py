"""Which bot to talk to, and with which secret.

Resolving a target reads settings and the keyring, or starts the built-in server; the
CLI does it once at start, the app again when the person switches bot or environment.
Reading the keyring can take a while (a fresh process spends ~0.2 s importing and asking a
Secret Service, longer if it must be unlocked): the app leaves it for after its first frame
(`defer_secret`, then `with_secret` off the event loop).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from . import exitcodes
from .config import DEVELOPMENT_URL, PRODUCTION_URL, Settings

if TYPE_CHECKING:
    from .api.timeouts import Timeouts

DEMO_DELTA_DELAY = 0.02
"""Seconds between demo events: fast, but slow enough to see a reply stream in."""


class TargetError(Exception):
    """A problem found before any request: bad settings, no secret, no keyring."""

    def __init__(self, safe_message: str, exit_code: int) -> None:
        super().__init__(safe_message)
        self.safe_message = safe_message
        self.exit_code = exit_code


@dataclass(frozen=True)
class Target:
    """A bot and the secret for it. `repr` never shows the secret."""

    base_url: str
    chatbot_id: str
    api_key: str | None = None
    visitor_token: str | None = None
    save_token: Callable[[str], None] | None = None
    """Where a new or rotated visitor token goes (the keyring), if anywhere."""
    environment: str = ""
    """Shown to the person: "demo", "production", "development" or the host."""
    settings: Settings = field(default_factory=Settings)
    """The non-secret settings in force: timeouts and theme."""
    before_connect: Callable[[], None] | None = None
    """Called by `open_session` before a client is made: the built-in server starts there (in
    the background), so `--demo` needs neither its imports nor its start before the first frame."""
    secret_pending: bool = False
    """The secret is still to be read (from the environment or the keyring): `with_secret`."""

    def __repr__(self) -> str:
        return f"Target(base_url={self.base_url!r}, chatbot_id={self.chatbot_id!r})"

    def timeouts(self) -> Timeouts:
        from .api.timeouts import Timeouts

        return Timeouts(
            connect=self.settings.connect_timeout,
            read=self.settings.read_timeout,
            stream_idle=self.settings.stream_idle_timeout,
        )


def environment_label(base_url: str) -> str:
    url = base_url.rstrip("/")
    if url == PRODUCTION_URL:
        return "production"
    if url == DEVELOPMENT_URL:
        return "development"
    return url.split("://", 1)[-1]


def with_switches(target: Target, page: str | None, client_profile: str | None) -> Target:
    """`target` with `--page` / `--client-profile` (and their environment variables) applied:
    for the demo, whose settings come from nowhere else."""
    from .config import ConfigError, ENV_CLIENT_PROFILE, ENV_PAGE, check_client_profile
    import os

    page = (page or "").strip() or os.environ.get(ENV_PAGE, "").strip() or None
    profile = (client_profile or "").strip() or os.environ.get(ENV_CLIENT_PROFILE, "").strip()
    try:
        checked = check_client_profile(profile) if profile else None
    except ConfigError as exc:
        raise TargetError(exc.safe_message, exitcodes.USAGE) from None
    settings = replace(
        target.settings,
        page=page or target.settings.page,
        client_profile=checked or target.settings.client_profile,
    )
    return replace(target, settings=settings)


@contextmanager
def demo_target(scenario: str | None = None) -> Iterator[Target]:
    """The built-in local server for as long as the block: listening from the start, serving
    from the first session on (see `Target.before_connect`)."""
    from .devserver.local import DEMO_API_KEY, DEMO_CHATBOT_ID, DeferredServer

    if scenario is not None:
        _check_scenario(scenario)
    with DeferredServer(scenario=scenario or "ok", delta_delay=DEMO_DELTA_DELAY) as server:
        yield Target(
            server.base_url,
            DEMO_CHATBOT_ID,
            api_key=DEMO_API_KEY,
            environment="demo",
            before_connect=server.start,
        )


def _check_scenario(spec: str) -> None:
    """`NAME` or `NAME:N`, else a usage error naming what is wrong."""
    from .devserver.scenarios import parse_scenario

    try:
        parse_scenario(spec)
    except ValueError as exc:
        raise TargetError(str(exc), exitcodes.USAGE) from None


def configured_target(
    base_url: str | None,
    chatbot_id: str | None,
    *,
    visitor_token: str | None = None,
    defer_secret: bool = False,
    page: str | None = None,
    client_profile: str | None = None,
) -> Target:
    """Settings (flag > env > file), then the secret: a given token, the env, or the keyring.

    A `visitor_token` handed in for one run is never stored: its rotations stay in memory.
    With `defer_secret`, the secret is not read yet (`secret_pending`): pass the target to
    `with_secret` before connecting. Bad settings raise `TargetError` either way.
    """
    from .api.errors import InsecureTransportError
    from .config import ConfigError, resolve_settings
    from .credentials import ensure_secure_url

    try:
        settings = resolve_settings(
            base_url=base_url, chatbot_id=chatbot_id, page=page, client_profile=client_profile
        )
        ensure_secure_url(settings.base_url)
    except ConfigError as exc:
        raise TargetError(exc.safe_message, exitcodes.USAGE) from None
    except InsecureTransportError as exc:
        raise TargetError(exc.safe_message, exitcodes.USAGE) from None
    if not settings.chatbot_id:
        raise TargetError(
            "No chatbot is configured. Run `dialogtui login`, pass --chatbot-id, "
            "or try `dialogtui --demo`.",
            exitcodes.USAGE,
        )
    environment = environment_label(settings.base_url)
    if visitor_token is not None:
        return Target(
            settings.base_url,
            settings.chatbot_id,
            visitor_token=visitor_token,
            environment=environment,
            settings=settings,
        )
    target = Target(
        settings.base_url,
        settings.chatbot_id,
        environment=environment,
        settings=settings,
        secret_pending=True,
    )
    return target if defer_secret else with_secret(target)


def with_secret(target: Target) -> Target:
    """`target` with its secret, from the environment or else the keyring; a `TargetError`
    (exit code 4) if the keyring cannot be used, or (3) if it holds no secret for the bot.
    Blocking: the keyring is a D-Bus service, which may even ask the person to unlock it."""
    from .api.errors import MissingCredentialsError
    from .credentials import CredentialsError, CredentialStore

    if not target.secret_pending:
        return target
    store = CredentialStore(target.base_url, target.chatbot_id)
    try:
        secrets = store.load()
    except CredentialsError as exc:
        raise TargetError(exc.safe_message, exitcodes.KEYRING) from None
    if not secrets.api_key and not secrets.visitor_token:
        raise TargetError(MissingCredentialsError().safe_message, exitcodes.AUTH)
    return replace(
        target,
        api_key=secrets.api_key,
        visitor_token=secrets.visitor_token,
        save_token=store.save_visitor_token,
        secret_pending=False,
    )
