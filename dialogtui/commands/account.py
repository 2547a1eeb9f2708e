"""`dialogtui login`, `logout` and `status`: the secrets of a bot in the OS keyring.

Every failure ends in one safe line on stderr and a distinct exit code (see
`dialogtui.exitcodes`); no secret is ever printed, logged or written to a file.
"""

from __future__ import annotations

import argparse
import base64
import getpass
import json
import sys
import time
from dataclasses import replace
from typing import Any

from .. import exitcodes
from ..api.errors import DialogError, InsecureTransportError
from ..config import (
    ENV_BASE_URL,
    ENV_CHATBOT_ID,
    PRODUCTION_URL,
    ConfigError,
    Settings,
    config_path,
    load_settings,
    normalize_base_url,
    resolve_settings,
    save_settings,
)
from ..credentials import (
    ENV_API_KEY,
    ENV_VISITOR_TOKEN,
    CredentialsError,
    CredentialStore,
    ensure_secure_url,
    keyring_backend_usable,
)
from ..inputs import check_token, read_line, terminal_available
from ..text import sanitize_line
from .common import print_failure


def _say(line: str) -> None:
    """One line on stdout; it may hold one's own arguments or config, so made safe first."""
    print(sanitize_line(line))


class LoginFailed(Exception):
    """A login step failed; carries the safe line to print and the exit code."""

    def __init__(self, safe_message: str, exit_code: int) -> None:
        super().__init__(safe_message)
        self.safe_message = safe_message
        self.exit_code = exit_code


def _arg(args: argparse.Namespace, name: str, default: Any = None) -> Any:
    # The lead's parser may not define every option for every command.
    return getattr(args, name, default)


# --- verification (swappable) ----------------------------------------------------------


def verify_api_key(base_url: str, chatbot_id: str, api_key: str, settings: Settings) -> str:
    """One `/auth` call: the key is valid if it mints a visitor token, which is returned.

    Goes through the app's `DialogClient`, so login gets the same TLS, timeout, retry and
    error mapping as the chat. Raises `LoginFailed`.
    """
    import asyncio

    from ..api.client import DialogClient, forget_rejected_keys
    from ..target import Target

    timeouts = Target(base_url, chatbot_id, settings=settings).timeouts()
    forget_rejected_keys()  # a login asks /auth afresh, even for a key refused before

    async def auth() -> str:
        async with DialogClient(base_url, chatbot_id, api_key=api_key, timeouts=timeouts) as client:
            return await client.authenticate()

    try:
        token = asyncio.run(auth())
    except DialogError as error:
        raise LoginFailed(_login_message(error), _exit_code_for(error)) from None
    if not token:
        raise LoginFailed(
            "The server accepted the key but sent no visitor token.", exitcodes.HTTP_ERROR
        )
    return token


def _exit_code_for(error: DialogError) -> int:
    from ..api.errors import ApiHttpError, MissingCredentialsError, TransportError

    if isinstance(error, ApiHttpError):
        return exitcodes.AUTH if error.status in (401, 403) else exitcodes.HTTP_ERROR
    if isinstance(error, TransportError):
        return exitcodes.NETWORK
    if isinstance(error, MissingCredentialsError):
        return exitcodes.AUTH
    return exitcodes.USAGE


def _login_message(error: DialogError) -> str:
    from ..api.errors import ApiHttpError

    # The client's 401 text speaks of an expired session; at login it is the key.
    if isinstance(error, ApiHttpError) and error.status == 401:
        return "The API key was not accepted for this chatbot. Check the key and the chatbot id."
    if isinstance(error, ApiHttpError) and error.status == 404:
        return "This chatbot was not found at that address. Check the chatbot id and the base URL."
    return error.safe_message


# --- prompting -------------------------------------------------------------------------


def _ask(prompt: str, default: str | None) -> str:
    shown = f"{prompt} [{default}]: " if default else f"{prompt}: "
    answer = read_line(prompt.lower(), shown).strip()  # bounded, strict UTF-8: InputError
    return answer or (default or "")


def _read_stdin_secret(what: str) -> str:
    line = read_line(what).strip()
    if not line:
        raise LoginFailed(f"No {what} was given on stdin.", exitcodes.USAGE)
    return line


def _resolve_target(args: argparse.Namespace, interactive: bool) -> tuple[str, str]:
    """Base URL and chatbot id: flags, else env/config, asking only when interactive."""
    try:
        current = resolve_settings(base_url=None, chatbot_id=None)
        flag_url = _arg(args, "base_url")
        flag_bot = _arg(args, "chatbot_id")
        if flag_url:
            base_url = flag_url
        elif interactive:
            base_url = _ask("Base URL", current.base_url or PRODUCTION_URL)
        else:
            base_url = current.base_url
        base_url = normalize_base_url(base_url)
        if flag_bot:
            chatbot_id = flag_bot.strip()
        elif interactive:
            chatbot_id = _ask("Chatbot id", current.chatbot_id)
        else:
            chatbot_id = current.chatbot_id or ""
    except ConfigError as exc:
        raise LoginFailed(exc.safe_message, exitcodes.USAGE) from None
    if not chatbot_id:
        hint = "pass --chatbot-id" if not interactive else "enter the chatbot id"
        raise LoginFailed(f"A chatbot id is required: {hint}.", exitcodes.USAGE)
    return base_url, chatbot_id


def _token_expired(token: str) -> bool:
    """True only if the token is a JWT whose `exp` has passed; unreadable tokens pass."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        exp = claims.get("exp") if isinstance(claims, dict) else None
    except (IndexError, ValueError):
        return False
    return isinstance(exp, (int, float)) and exp < time.time()


# --- login -----------------------------------------------------------------------------


def run_login(args: argparse.Namespace) -> int:
    try:
        _login(args)
    except LoginFailed as exc:
        print_failure(exc.safe_message)
        return exc.exit_code
    except CredentialsError as exc:
        print_failure(exc.safe_message)
        return exitcodes.KEYRING
    return exitcodes.OK


def _login(args: argparse.Namespace) -> None:
    key_stdin = bool(_arg(args, "api_key_stdin", False))
    token_stdin = bool(_arg(args, "visitor_token_stdin", False))
    if key_stdin and token_stdin:
        raise LoginFailed(
            "Use either --api-key-stdin or --visitor-token-stdin, not both.", exitcodes.USAGE
        )
    # When the secret comes from stdin, stdin is not a person: never prompt there.
    base_url, chatbot_id = _resolve_target(args, interactive=not (key_stdin or token_stdin))
    try:
        ensure_secure_url(base_url)
    except InsecureTransportError as exc:
        raise LoginFailed(exc.safe_message, exitcodes.USAGE) from None

    # Before asking for a secret: there is no point taking one we cannot keep.
    ok, problem = keyring_backend_usable()
    if not ok:
        raise CredentialsError(problem)
    store = CredentialStore(base_url, chatbot_id, use_env=False)

    if token_stdin:
        token = check_token(_read_stdin_secret("visitor token"), "The visitor token")
        if _token_expired(token):
            raise LoginFailed(
                "That visitor token has already expired. Mint a new one.", exitcodes.AUTH
            )
        store.save_visitor_token(token)
        what = "visitor token"
    else:
        api_key = _read_stdin_secret("API key") if key_stdin else _prompt_api_key()
        settings = _settings_for_verify()
        token = verify_api_key(base_url, chatbot_id, api_key, settings)
        store.save_api_key(api_key)
        # The minted token starts a fresh conversation; it replaces any older one.
        store.save_visitor_token(token)
        what = "API key"

    path = _save_target(base_url, chatbot_id)
    _say(f"Logged in to chatbot {chatbot_id} at {base_url}.")
    _say(f"The {what} is stored in the OS keyring; settings are in {path}.")
    _warn_env_override()


def _prompt_api_key() -> str:
    if terminal_available():
        try:
            key = getpass.getpass("API key (input hidden): ").strip()
        except EOFError:
            key = ""
    else:
        key = read_line("API key", "API key: ").strip()  # bounded, like --api-key-stdin
    if not key:
        raise LoginFailed("No API key was entered.", exitcodes.USAGE)
    return key


def _settings_for_verify() -> Settings:
    try:
        return load_settings()
    except ConfigError:
        return Settings()  # only timeouts are used; a broken file must not block login


def _save_target(base_url: str, chatbot_id: str) -> str:
    try:
        settings = load_settings()
    except ConfigError as exc:
        # The secret is already stored; say why the settings are not.
        raise LoginFailed(
            f"The secret was stored, but the settings were not: {exc.safe_message}", exitcodes.USAGE
        ) from None
    try:
        path = save_settings(replace(settings, base_url=base_url, chatbot_id=chatbot_id))
    except ConfigError as exc:
        raise LoginFailed(
            f"The secret was stored, but the settings were not: {exc.safe_message}", exitcodes.USAGE
        ) from None
    return str(path)


def _warn_env_override() -> None:
    for name in (ENV_API_KEY, ENV_VISITOR_TOKEN):
        if _env_set(name):
            print(
                f"Note: {name} is set in this environment and overrides the keyring here.",
                file=sys.stderr,
            )


def _env_set(name: str) -> bool:
    import os

    return bool(os.environ.get(name, "").strip())


# --- logout ----------------------------------------------------------------------------


def _configured_target(args: argparse.Namespace) -> tuple[str, str]:
    try:
        settings = resolve_settings(
            base_url=_arg(args, "base_url"), chatbot_id=_arg(args, "chatbot_id")
        )
    except ConfigError as exc:
        raise LoginFailed(exc.safe_message, exitcodes.USAGE) from None
    if not settings.chatbot_id:
        raise LoginFailed(
            f"No chatbot is configured: pass --chatbot-id or set {ENV_CHATBOT_ID}.", exitcodes.USAGE
        )
    return settings.base_url, settings.chatbot_id


def run_logout(args: argparse.Namespace) -> int:
    try:
        base_url, chatbot_id = _configured_target(args)
        removed = CredentialStore(base_url, chatbot_id, use_env=False).delete()
    except LoginFailed as exc:
        print_failure(exc.safe_message)
        return exc.exit_code
    except CredentialsError as exc:
        print_failure(exc.safe_message)
        return exitcodes.KEYRING
    if removed:
        _say(f"Removed the stored secrets of chatbot {chatbot_id} at {base_url}.")
    else:
        _say(f"No secrets were stored for chatbot {chatbot_id} at {base_url}.")
    for name in (ENV_API_KEY, ENV_VISITOR_TOKEN):
        if _env_set(name):
            print(
                f"Note: {name} is still set in this environment; unset it to log out fully.",
                file=sys.stderr,
            )
    return exitcodes.OK


# --- status ----------------------------------------------------------------------------


def _status_info(args: argparse.Namespace) -> dict[str, Any]:
    settings = resolve_settings(
        base_url=_arg(args, "base_url"),
        chatbot_id=_arg(args, "chatbot_id"),
        page=_arg(args, "page"),
        client_profile=_arg(args, "client_profile"),
    )
    path = config_path()
    info: dict[str, Any] = {
        "config_file": str(path),
        "config_file_exists": path.exists(),
        "base_url": settings.base_url,
        "base_url_from_env": _env_set(ENV_BASE_URL) and not _arg(args, "base_url"),
        "chatbot_id": settings.chatbot_id,
        "page": settings.page,
        "client_profile": settings.client_profile,
    }
    if settings.chatbot_id:
        info.update(CredentialStore(settings.base_url, settings.chatbot_id).status())
    else:
        ok, detail = keyring_backend_usable()
        info.update(
            keyring_usable=ok,
            keyring_backend=detail if ok else None,
            keyring_problem=None if ok else detail,
            api_key_stored=None,
            visitor_token_stored=None,
            api_key_from_env=_env_set(ENV_API_KEY),
            visitor_token_from_env=_env_set(ENV_VISITOR_TOKEN),
        )
    return info


def _status_code(info: dict[str, Any]) -> int:
    """0: a secret is available; 3: none; 4: the keyring is unusable and nothing else helps."""
    if info["api_key_from_env"] or info["visitor_token_from_env"]:
        return exitcodes.OK
    if not info["chatbot_id"]:
        return exitcodes.USAGE
    if not info["keyring_usable"]:
        return exitcodes.KEYRING
    if info["api_key_stored"] or info["visitor_token_stored"]:
        return exitcodes.OK
    return exitcodes.AUTH


def _describe_secret(info: dict[str, Any], kind: str, env_name: str) -> str:
    if info[f"{kind}_from_env"]:
        return f"from {env_name} (this process only)"
    stored = info[f"{kind}_stored"]
    if stored is None:
        return "unknown (keyring unavailable)" if info["chatbot_id"] else "-"
    return "stored in the keyring" if stored else "not stored"


def _print_status(info: dict[str, Any]) -> None:
    config_state = "" if info["config_file_exists"] else " (not created yet)"
    keyring_state = (
        f"ok ({info['keyring_backend']})"
        if info["keyring_usable"]
        else f"unavailable: {info['keyring_problem']}"
    )
    rows = [
        ("Chatbot id", info["chatbot_id"] or "not set (run `dialogtui login`)"),
        (
            "Base URL",
            info["base_url"] + (" (from DIALOGTUI_BASE_URL)" if info["base_url_from_env"] else ""),
        ),
        ("Page", info["page"] or "not set (context.page is not sent; --page, setting page)"),
        (
            "Client profile",
            info["client_profile"] or "not set (no X-Diverge-Client-Profile; --client-profile)",
        ),
        ("Config file", info["config_file"] + config_state),
        ("Keyring", keyring_state),
        ("API key", _describe_secret(info, "api_key", ENV_API_KEY)),
        ("Visitor token", _describe_secret(info, "visitor_token", ENV_VISITOR_TOKEN)),
    ]
    width = max(len(label) for label, _ in rows) + 1
    for label, value in rows:
        _say(f"{label + ':':<{width}} {value}")


def run_status(args: argparse.Namespace) -> int:
    try:
        info = _status_info(args)
    except ConfigError as exc:
        print_failure(exc.safe_message)
        return exitcodes.USAGE
    code = _status_code(info)
    if _arg(args, "json", False):
        print(json.dumps({**info, "exit_code": code}, indent=2))
    else:
        _print_status(info)
    return code
