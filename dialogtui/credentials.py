"""Secrets (the API key and the visitor token) in the OS keyring, and nowhere else.

Rules this module enforces:
- A secret is written only to a real OS keyring backend. A missing, null, failing,
  locked or plaintext-file backend is an error with a fix in the message, never a
  silent fallback.
- `DIALOGTUI_API_KEY` / `DIALOGTUI_VISITOR_TOKEN` supply secrets for one process.
  When either is set the store is in "environment mode": the keyring is neither read
  nor written, so CI boxes without a keyring work, a desktop keyring never pops an
  unlock prompt in a script, and nothing derived from a process-only secret persists.
- No value is ever part of a repr, a log line or an error message.

`keyring` is imported lazily: its backend discovery costs time that `--help` should
not pay.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar
from urllib.parse import urlsplit

from . import exitcodes
from .api.errors import InsecureTransportError
from .api.urls import is_loopback
from .config import ConfigError, normalize_base_url, shown_url

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

log = logging.getLogger(__name__)

ENV_API_KEY: Final = "DIALOGTUI_API_KEY"
ENV_VISITOR_TOKEN: Final = "DIALOGTUI_VISITOR_TOKEN"

API_KEY_USER: Final = "api_key"
VISITOR_TOKEN_USER: Final = "visitor_token"

_HOW_TO_FIX: Final = (
    "Fix: install and unlock a Secret Service (for example `apt install gnome-keyring` "
    "and run inside a desktop or D-Bus session), or set DIALOGTUI_API_KEY or "
    "DIALOGTUI_VISITOR_TOKEN to supply the secret for this process only."
)

Source = Literal["env", "keyring", "none"]
T = TypeVar("T")


class CredentialsError(Exception):
    """The keyring cannot be used. `safe_message` says what is wrong and how to fix it."""

    exit_code: int = exitcodes.KEYRING

    def __init__(self, problem: str) -> None:
        self.problem = problem
        self.safe_message = f"{problem} {_HOW_TO_FIX}"
        super().__init__(self.safe_message)


# --- naming ----------------------------------------------------------------------------


def service_name(base_url: str, chatbot_id: str) -> str:
    """Keyring service for one bot on one server, so bots and environments coexist."""
    bot = chatbot_id.strip()
    if not bot:
        raise ConfigError("A chatbot id is required.")
    return f"dialogtui:{normalize_base_url(base_url)}#{bot}"


# --- transport policy ------------------------------------------------------------------


def ensure_secure_url(base_url: str) -> None:
    """Refuse to send a secret over plain HTTP, except to this machine."""
    parts = urlsplit(base_url.strip())
    scheme = parts.scheme.lower()
    if scheme == "https":
        return
    if scheme == "http":
        if parts.hostname and is_loopback(parts.hostname):
            return
        raise InsecureTransportError()
    raise ConfigError(
        f"Not a valid base URL: {shown_url(base_url)!r}. It must start with https://."
    )


# --- backend checks --------------------------------------------------------------------


def _backend_name(backend: Any) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _writes_plaintext(backend: Any) -> bool:
    """keyrings.alt's file backends (other than the encrypted one) keep secrets readable on disk."""
    cls = type(backend)
    if "plaintext" in cls.__name__.lower():
        return True
    return cls.__module__.startswith("keyrings.alt") and "encrypted" not in cls.__name__.lower()


def _check_backend(backend: Any) -> tuple[bool, str]:
    from keyring.backends import chainer, fail, null

    name = _backend_name(backend)
    if isinstance(backend, fail.Keyring):
        return False, "No OS keyring is available (keyring found no usable backend)."
    if isinstance(backend, null.Keyring):
        return False, "The OS keyring is disabled (keyring's null backend is active)."
    if isinstance(backend, chainer.ChainerBackend):
        chained = list(backend.backends)
        if not chained:
            return False, "No OS keyring is available (keyring found no usable backend)."
        for inner in chained:
            ok, problem = _check_backend(inner)
            if not ok:
                return False, problem
        return True, name
    if _writes_plaintext(backend):
        return (
            False,
            f"The active keyring backend ({name}) stores secrets in a plain file; refusing to "
            "use it.",
        )
    return True, name


def keyring_backend_usable() -> tuple[bool, str]:
    """(usable, detail): detail is the backend's name when usable, else the problem."""
    try:
        import keyring

        backend = keyring.get_keyring()
    except Exception as exc:  # a broken keyring config file or backend import
        return False, f"The OS keyring could not be loaded ({type(exc).__name__})."
    return _check_backend(backend)


def _describe_failure(exc: BaseException) -> str:
    # Only the exception's type: backend messages are not ours to vouch for.
    from keyring import errors

    if isinstance(exc, errors.KeyringLocked):
        return "The OS keyring is locked. Unlock it (log in to your desktop session) and try again."
    if isinstance(exc, errors.NoKeyringError):
        return "No OS keyring is available (keyring found no usable backend)."
    if isinstance(exc, errors.InitError):
        return (
            "The OS keyring could not be opened (it may be locked, or the unlock prompt was "
            "dismissed)."
        )
    return f"The OS keyring failed ({type(exc).__name__})."


# --- secrets ---------------------------------------------------------------------------


def _env_secret(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


@dataclass(frozen=True)
class Secrets:
    api_key: str | None
    visitor_token: str | None
    source: Source

    @property
    def has_any(self) -> bool:
        return bool(self.api_key or self.visitor_token)

    def __repr__(self) -> str:
        key = "<set>" if self.api_key else None
        token = "<set>" if self.visitor_token else None
        return f"Secrets(api_key={key}, visitor_token={token}, source={self.source!r})"

    __str__ = __repr__


class CredentialStore:
    """The API key and visitor token of one bot on one server.

    `use_env=False` ignores the environment variables: `login` and `logout` act on the
    keyring explicitly, whatever the shell happens to export.
    """

    def __init__(self, base_url: str, chatbot_id: str, *, use_env: bool = True) -> None:
        self.base_url = normalize_base_url(base_url)
        self.chatbot_id = chatbot_id.strip()
        self.service = service_name(self.base_url, self.chatbot_id)
        self._use_env = use_env

    def __repr__(self) -> str:
        return f"CredentialStore(service={self.service!r})"

    # Environment mode ------------------------------------------------------------------

    @property
    def env_mode(self) -> bool:
        """True when a secret comes from the environment; the keyring is then left alone."""
        return self._use_env and bool(_env_secret(ENV_API_KEY) or _env_secret(ENV_VISITOR_TOKEN))

    # Keyring access --------------------------------------------------------------------

    def _keyring(self) -> KeyringBackend:
        ok, detail = keyring_backend_usable()
        if not ok:
            raise CredentialsError(detail)
        import keyring

        return keyring.get_keyring()

    def _guard(self, op: Callable[[], T]) -> T:
        try:
            return op()
        except CredentialsError:
            raise
        except Exception as exc:  # any backend failure: D-Bus errors, prompts, ...
            log.debug("keyring operation failed: %s", type(exc).__name__)
            raise CredentialsError(_describe_failure(exc)) from exc

    def _get(self, user: str) -> str | None:
        return self._guard(lambda: self._keyring().get_password(self.service, user))

    def _set(self, user: str, value: str) -> None:
        if not value or not value.strip():
            raise ValueError(f"refusing to store an empty {user}")
        self._guard(lambda: self._keyring().set_password(self.service, user, value.strip()))

    def _delete(self, user: str) -> bool:
        from keyring.errors import PasswordDeleteError

        backend = self._guard(self._keyring)

        def op() -> bool:
            # Read first: backends differ in whether deleting a missing entry raises.
            if backend.get_password(self.service, user) is None:
                return False
            try:
                backend.delete_password(self.service, user)
            except PasswordDeleteError:
                return False
            return True

        return self._guard(op)

    # Public API ------------------------------------------------------------------------

    def load(self) -> Secrets:
        """Secrets for this bot: from the environment if set there, else from the keyring."""
        if self.env_mode:
            return Secrets(_env_secret(ENV_API_KEY), _env_secret(ENV_VISITOR_TOKEN), "env")
        api_key = self._get(API_KEY_USER)
        token = self._get(VISITOR_TOKEN_USER)
        return Secrets(api_key, token, "keyring" if (api_key or token) else "none")

    def save_api_key(self, key: str) -> None:
        self._set(API_KEY_USER, key)

    def save_visitor_token(self, token: str) -> None:
        """Persist a new or rotated token; a no-op in environment mode (process-only)."""
        if self.env_mode:
            return
        self._set(VISITOR_TOKEN_USER, token)

    def forget_visitor_token(self) -> bool:
        """Drop only the token (the next start mints a fresh conversation)."""
        return self._delete(VISITOR_TOKEN_USER)

    def delete(self) -> bool:
        """Remove both secrets of this bot from the keyring; True if anything was removed."""
        removed_key = self._delete(API_KEY_USER)
        removed_token = self._delete(VISITOR_TOKEN_USER)
        return removed_key or removed_token

    def status(self) -> dict[str, Any]:
        """What is stored and where, as booleans, never a value. Never raises on keyring trouble."""
        ok, detail = keyring_backend_usable()
        info: dict[str, Any] = {
            "base_url": self.base_url,
            "chatbot_id": self.chatbot_id,
            "service": self.service,
            "keyring_usable": ok,
            "keyring_backend": detail if ok else None,
            "keyring_problem": None if ok else detail,
            "api_key_stored": None,
            "visitor_token_stored": None,
            "api_key_from_env": self._use_env and _env_secret(ENV_API_KEY) is not None,
            "visitor_token_from_env": self._use_env and _env_secret(ENV_VISITOR_TOKEN) is not None,
        }
        if ok:
            try:
                info["api_key_stored"] = self._get(API_KEY_USER) is not None
                info["visitor_token_stored"] = self._get(VISITOR_TOKEN_USER) is not None
            except CredentialsError as exc:
                info["keyring_usable"] = False
                info["keyring_problem"] = exc.problem
        return info
