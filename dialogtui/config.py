"""Non-secret settings: a flat TOML file in the platform's config directory.

Secrets never live here (they go to the OS keyring, see `credentials`). The file is
read with `tomllib` and written by a tiny writer that only knows flat scalars, so no
TOML dependency is needed for the one shape we produce.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import tempfile
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

APP_NAME: Final = "dialogtui"
CONFIG_FILENAME: Final = "config.toml"

PRODUCTION_URL: Final = "https://api.dialogintelligens.dk"
DEVELOPMENT_URL: Final = "https://dev.api.dialogintelligens.dk"

ENV_CONFIG_DIR: Final = "DIALOGTUI_CONFIG_DIR"
ENV_DATA_DIR: Final = "DIALOGTUI_DATA_DIR"
ENV_LOG_DIR: Final = "DIALOGTUI_LOG_DIR"
ENV_BASE_URL: Final = "DIALOGTUI_BASE_URL"
ENV_CHATBOT_ID: Final = "DIALOGTUI_CHATBOT_ID"
ENV_PAGE: Final = "DIALOGTUI_PAGE"
ENV_CLIENT_PROFILE: Final = "DIALOGTUI_CLIENT_PROFILE"


class ConfigError(Exception):
    """A configuration problem a person can fix; `str()` is safe to print as is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.safe_message = message


@dataclass
class Settings:
    base_url: str = PRODUCTION_URL
    chatbot_id: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    stream_idle_timeout: float = 60.0
    theme: str = "textual-dark"
    save_transcripts: bool = True
    images: bool = True
    """Draw small pictures of images in replies (fetched from their signed URLs)."""
    probe_emoji_widths: bool = True
    """Ask the terminal at start-up how wide it draws emoji sequences (`ui/glyph_widths.py`)."""
    page: str | None = None
    """Sent as `context.page` with every message: the page the visitor is on (start prompts
    and banners match their `url_pattern` against it)."""
    client_profile: str | None = None
    """Sent as the `X-Diverge-Client-Profile` header: the features asked for (e.g.
    `product-recommendation`, which the vendor's app sends); the backend grants tools by it."""
    livechat_wait: float = 600.0
    """Seconds to wait for a live-chat agent before going back to the bot (polling must not
    run forever, says the vendor's integration guide)."""


# --- directories -----------------------------------------------------------------------


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def config_dir() -> Path:
    """Where config.toml lives. Not created here: reading must not leave traces."""
    override = _env_path(ENV_CONFIG_DIR)
    if override is not None:
        return override
    import platformdirs  # deferred: keeps `dialogtui --help` fast

    return platformdirs.user_config_path(APP_NAME)


def data_dir() -> Path:
    override = _env_path(ENV_DATA_DIR)
    if override is not None:
        return override
    import platformdirs

    return platformdirs.user_data_path(APP_NAME)


def log_dir() -> Path:
    override = _env_path(ENV_LOG_DIR)
    if override is not None:
        return override
    import platformdirs

    return platformdirs.user_log_path(APP_NAME)


def config_path() -> Path:
    return config_dir() / CONFIG_FILENAME


# --- URL -------------------------------------------------------------------------------


def normalize_base_url(url: str) -> str:
    """Canonical form of a base URL: lower-case scheme and host, no trailing slash.

    Both the keyring service name and the HTTP client derive from this, so the same
    server typed two ways ("HTTPS://Api.Example/", "https://api.example") maps to one
    set of stored secrets.
    """
    text = url.strip()
    shown = shown_url(text)
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        raise ConfigError(
            f"Not a valid base URL: {shown!r}. Use a full address such as {PRODUCTION_URL}."
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"Not a valid base URL: {shown!r}. Use a full address such as {PRODUCTION_URL}."
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"The base URL must not contain '?' or '#': {shown!r}.")
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal: brackets were stripped by urlsplit
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"Not a valid port in base URL {shown!r}.") from exc
    default_port = 443 if scheme == "https" else 80
    netloc = host if port in (None, default_port) else f"{host}:{port}"
    # Credentials in the URL would end up in the config file; refuse them outright.
    if parts.username or parts.password:
        raise ConfigError("The base URL must not contain a user name or password.")
    normalized = urlunsplit((scheme, netloc, parts.path.rstrip("/"), "", ""))
    if not _plainly_valid(normalized, host):
        problem = _httpx_refuses(normalized)
        if problem is not None:
            raise ConfigError(f"Not a valid base URL: {shown!r} ({problem}).")
    return normalized


_USERINFO: Final = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)?[^/?#]*@")


def shown_url(url: str) -> str:
    """`url` as an error message may quote it: a user name or password in it (which may be an
    API key typed in the wrong place) hidden, as `https://<hidden>@host`; and text that is no
    address at all (no scheme, nor a host name with a dot: an API key pasted in the wrong
    place) not quoted."""
    if "://" not in url and not _HOST_LIKE.fullmatch(url):
        return "<not an address>"
    return _USERINFO.sub(lambda match: f"{match.group(1) or ''}<hidden>@", url)


_HOST_LIKE: Final = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?::[0-9]*)?(?:/\S*)?")


# A host name of ASCII letters, digits and hyphens: what every HTTP client accepts as is.
_PLAIN_HOST: Final = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*"


def _plainly_valid(url: str, host: str) -> bool:
    """Whether `url` is of a shape the HTTP client surely accepts, so that checking it needs
    no httpx import (tens of ms before the app's first frame): printable ASCII, and a plain
    host name or a valid IP literal. Anything else is asked of httpx itself."""
    import ipaddress

    if not (url.isascii() and url.isprintable()) or "xn--" in host:
        return False
    try:
        if host.startswith("["):
            ipaddress.IPv6Address(host.strip("[]"))
            return True
        if re.fullmatch(r"[0-9.]+", host):
            ipaddress.IPv4Address(host)
            return True
    except ValueError:
        return False
    return re.fullmatch(_PLAIN_HOST, host) is not None


def _httpx_refuses(url: str) -> str | None:
    """httpx's own reason to refuse `url` (as the client will parse it), or None."""
    import httpx

    try:
        parsed = httpx.URL(url)
        parsed.host  # noqa: B018 -- decoding an IDNA ("xn--") host can fail only here
    except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
        from .text import sanitize_line

        return sanitize_line(str(exc)).rstrip(".") or type(exc).__name__
    return None


# --- reading ---------------------------------------------------------------------------

_FIELD_TYPES: Final[dict[str, tuple[type, ...]]] = {
    "base_url": (str,),
    "chatbot_id": (str,),
    "connect_timeout": (int, float),
    "read_timeout": (int, float),
    "stream_idle_timeout": (int, float),
    "theme": (str,),
    "save_transcripts": (bool,),
    "images": (bool,),
    "probe_emoji_widths": (bool,),
    "page": (str,),
    "client_profile": (str,),
    "livechat_wait": (int, float),
}
_TIMEOUT_FIELDS: Final = ("connect_timeout", "read_timeout", "stream_idle_timeout", "livechat_wait")


def _line_of_key(text: str, key: str) -> int | None:
    match = re.search(rf"^[ \t]*{re.escape(key)}[ \t]*=", text, re.MULTILINE)
    return text.count("\n", 0, match.start()) + 1 if match else None


def _where(path: Path, text: str, key: str) -> str:
    line = _line_of_key(text, key)
    return f"{path}, line {line}" if line else str(path)


def _type_name(types: tuple[type, ...]) -> str:
    return {str: "a string", bool: "true or false"}.get(types[0], "a number")


def _check_value(path: Path, text: str, key: str, value: Any) -> Any:
    types = _FIELD_TYPES[key]
    # bool is an int subclass: `read_timeout = true` must not pass as 1 second.
    if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
        raise ConfigError(f"{_where(path, text, key)}: '{key}' must be {_type_name(types)}.")
    try:
        return _normalise_value(key, value)
    except ConfigError as exc:
        raise ConfigError(f"{_where(path, text, key)}: {exc}") from None


def _normalise_value(key: str, value: Any) -> Any:
    if key in _TIMEOUT_FIELDS:
        seconds = float(value)  # TOML may give an int; the dataclass promises float
        if not (seconds > 0 and math.isfinite(seconds)):
            raise ConfigError(f"'{key}' must be a positive number of seconds.")
        return seconds
    if key == "base_url":
        return normalize_base_url(value)
    if key in ("chatbot_id", "page"):
        return value.strip() or None
    if key == "client_profile":
        return check_client_profile(value)
    return value


def check_client_profile(value: str) -> str | None:
    """A header value: printable ASCII without line breaks (comma-separated names)."""
    profile = value.strip()
    if not all(" " <= ch <= "~" for ch in profile):
        raise ConfigError("'client_profile' must be plain ASCII, e.g. product-recommendation.")
    return profile or None


def _parse(path: Path, text: str) -> Settings:
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message ends with "(at line N, column M)": exactly what a person needs.
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in _FIELD_TYPES:
            continue  # a newer version's setting, or a table we do not use: not fatal
        values[key] = _check_value(path, text, key, value)
    return Settings(**values)


def load_settings() -> Settings:
    """The settings in the config file; defaults when there is no file."""
    path = config_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Settings()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror}).") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the config file is not UTF-8 text.") from None
    return _parse(path, text)


def _env_value(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def resolve_settings(
    *,
    base_url: str | None = None,
    chatbot_id: str | None = None,
    page: str | None = None,
    client_profile: str | None = None,
) -> Settings:
    """Effective settings. Precedence: CLI flag > environment > config file > defaults."""
    settings = load_settings()
    page = (page or "").strip() or _env_value(ENV_PAGE)
    if page:
        settings = replace(settings, page=page)
    profile = (client_profile or "").strip() or _env_value(ENV_CLIENT_PROFILE)
    if profile:
        settings = replace(settings, client_profile=check_client_profile(profile))
    url = base_url or _env_value(ENV_BASE_URL)
    if url:
        settings = replace(settings, base_url=normalize_base_url(url))
    bot = (chatbot_id or "").strip() or _env_value(ENV_CHATBOT_ID)
    if bot:
        settings = replace(settings, chatbot_id=bot)
    return settings


# --- writing ---------------------------------------------------------------------------


def _toml_string(value: str) -> str:
    out = []
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_value(value: str | int | float | bool) -> str:
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)  # repr is round-trippable and always has '.' or 'e'
    if isinstance(value, str):
        return _toml_string(value)
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def dumps_settings(settings: Settings) -> str:
    lines = ["# dialogtui settings. Secrets are never stored here: they live in the OS keyring."]
    for f in fields(settings):
        value = getattr(settings, f.name)
        if value is None:
            continue  # TOML has no null; absence means "not set"
        lines.append(f"{f.name} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkstemp creates the file 0600 from the start, so there is no window in which
    # another user could read it; os.replace makes a crash leave old or new, never half.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def save_settings(settings: Settings) -> Path:
    """Write the settings atomically with mode 0600; returns the file's path."""
    path = config_path()
    try:
        _atomic_write(path, dumps_settings(settings))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the config file ({exc.strerror}).") from None
    return path
