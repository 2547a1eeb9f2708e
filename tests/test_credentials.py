"""Secrets in the keyring and nowhere else: the store, the transport policy, login/logout/status.

Most tests run against an in-memory keyring backend installed through keyring's own
API (`keyring.set_keyring`); the real Secret Service is exercised in
test_secret_service.py.
"""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null
from keyring.errors import KeyringError, KeyringLocked, PasswordDeleteError

from dialogtui import exitcodes
from dialogtui.api.errors import InsecureTransportError
from dialogtui.commands import account
from dialogtui.config import PRODUCTION_URL, ConfigError, config_path, load_settings
from dialogtui.credentials import (
    CredentialsError,
    CredentialStore,
    Secrets,
    ensure_secure_url,
    keyring_backend_usable,
    service_name,
)
from dialogtui.devserver import DevServer
from dialogtui.target import TargetError, configured_target

SECRET_KEY = "sk-test-4f1c9e2a7b"
SECRET_TOKEN = "eyJ.visitor-token-8d3b.sig"
BOT = "bot123"


# --- backends --------------------------------------------------------------------------


class MemoryKeyring(KeyringBackend):
    """A real keyring backend that keeps secrets in a dict: nothing touches the disk."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}
        self.calls = 0

    def get_password(self, service: str, username: str) -> str | None:
        self.calls += 1
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.calls += 1
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.calls += 1
        try:
            del self.entries[(service, username)]
        except KeyError:
            raise PasswordDeleteError("not found") from None


class ErroringKeyring(MemoryKeyring):
    """Every operation fails the way a broken or locked backend does."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error

    def get_password(self, service: str, username: str) -> str | None:
        self.calls += 1
        raise self.error

    def set_password(self, service: str, username: str, password: str) -> None:
        self.calls += 1
        raise self.error

    def delete_password(self, service: str, username: str) -> None:
        self.calls += 1
        raise self.error


class PlaintextKeyring(MemoryKeyring):
    """Stands in for keyrings.alt.file.PlaintextKeyring: must be refused by name."""


class EmptyChainer(chainer.ChainerBackend):
    backends: ClassVar[list[Any]] = []


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every directory the program could write to lives under tmp_path; no secret env."""
    for name in (
        "DIALOGTUI_API_KEY",
        "DIALOGTUI_VISITOR_TOKEN",
        "DIALOGTUI_BASE_URL",
        "DIALOGTUI_CHATBOT_ID",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DIALOGTUI_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DIALOGTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DIALOGTUI_LOG_DIR", str(tmp_path / "log"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for xdg in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(xdg, str(tmp_path / "home" / xdg.lower()))
    previous = keyring.get_keyring()
    yield tmp_path
    keyring.set_keyring(previous)


@pytest.fixture
def memory() -> MemoryKeyring:
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    return backend


def use_backend(backend: Any) -> Any:
    keyring.set_keyring(backend)
    return backend


def files_containing(root: Path, *secrets: str) -> list[Path]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if any(s.encode() in data for s in secrets):
                hits.append(path)
    return hits


def store() -> CredentialStore:
    return CredentialStore(PRODUCTION_URL, BOT)


# --- naming ----------------------------------------------------------------------------


def test_service_name_includes_normalised_url_and_bot() -> None:
    assert service_name(PRODUCTION_URL, BOT) == "dialogtui:https://api.dialogintelligens.dk#bot123"
    assert service_name("HTTPS://API.DialogIntelligens.dk/", BOT) == service_name(
        PRODUCTION_URL, BOT
    )


def test_service_names_of_bots_and_environments_differ() -> None:
    names = {
        service_name(PRODUCTION_URL, "a"),
        service_name(PRODUCTION_URL, "b"),
        service_name("https://dev.api.dialogintelligens.dk", "a"),
        service_name("http://127.0.0.1:8765", "a"),
        service_name("http://127.0.0.1:8766", "a"),
    }
    assert len(names) == 5


def test_service_name_needs_a_bot() -> None:
    with pytest.raises(ConfigError):
        service_name(PRODUCTION_URL, "  ")


# --- the store -------------------------------------------------------------------------


def test_round_trip_through_the_keyring(memory: MemoryKeyring) -> None:
    assert store().load() == Secrets(None, None, "none")
    store().save_api_key(SECRET_KEY)
    store().save_visitor_token(SECRET_TOKEN)
    assert store().load() == Secrets(SECRET_KEY, SECRET_TOKEN, "keyring")
    assert set(memory.entries) == {
        ("dialogtui:https://api.dialogintelligens.dk#bot123", "api_key"),
        ("dialogtui:https://api.dialogintelligens.dk#bot123", "visitor_token"),
    }


def test_rotated_token_replaces_the_old_one(memory: MemoryKeyring) -> None:
    s = store()
    s.save_visitor_token("first")
    s.save_visitor_token("second")
    assert s.load().visitor_token == "second"
    assert s.forget_visitor_token() is True
    assert s.load().visitor_token is None


def test_two_bots_do_not_collide(memory: MemoryKeyring) -> None:
    a = CredentialStore(PRODUCTION_URL, "a")
    b = CredentialStore(PRODUCTION_URL, "b")
    dev = CredentialStore("https://dev.api.dialogintelligens.dk", "a")
    a.save_api_key("key-a")
    b.save_api_key("key-b")
    assert (a.load().api_key, b.load().api_key, dev.load().api_key) == ("key-a", "key-b", None)
    assert a.delete() is True
    assert b.load().api_key == "key-b"


def test_delete_removes_key_and_token(memory: MemoryKeyring) -> None:
    s = store()
    s.save_api_key(SECRET_KEY)
    s.save_visitor_token(SECRET_TOKEN)
    assert s.delete() is True
    assert memory.entries == {}
    assert s.delete() is False


def test_empty_secrets_are_not_stored(memory: MemoryKeyring) -> None:
    with pytest.raises(ValueError):
        store().save_api_key("   ")
    assert memory.entries == {}


def test_env_wins_over_keyring(memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch) -> None:
    store().save_api_key("stored-key")
    store().save_visitor_token("stored-token")
    monkeypatch.setenv("DIALOGTUI_API_KEY", SECRET_KEY)
    assert store().load() == Secrets(SECRET_KEY, None, "env")
    monkeypatch.setenv("DIALOGTUI_VISITOR_TOKEN", SECRET_TOKEN)
    assert store().load() == Secrets(SECRET_KEY, SECRET_TOKEN, "env")


def test_env_only_token(memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIALOGTUI_VISITOR_TOKEN", f"  {SECRET_TOKEN}\n")
    assert store().load() == Secrets(None, SECRET_TOKEN, "env")


@pytest.mark.parametrize("env", ["DIALOGTUI_API_KEY", "DIALOGTUI_VISITOR_TOKEN"])
def test_env_mode_never_touches_a_broken_keyring(
    env: str, monkeypatch: pytest.MonkeyPatch, isolated: Path
) -> None:
    backend = use_backend(ErroringKeyring(KeyringError("boom")))
    monkeypatch.setenv(env, SECRET_KEY)
    s = store()
    assert s.load().source == "env"
    s.save_visitor_token(SECRET_TOKEN)  # rotation in env mode: memory only
    assert backend.calls == 0
    assert files_containing(isolated, SECRET_KEY, SECRET_TOKEN) == []


def test_env_mode_never_writes_a_token(
    memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIALOGTUI_API_KEY", SECRET_KEY)
    store().save_visitor_token(SECRET_TOKEN)
    assert memory.entries == {} and memory.calls == 0


def test_use_env_false_ignores_the_environment(
    memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIALOGTUI_API_KEY", "from-env")
    s = CredentialStore(PRODUCTION_URL, BOT, use_env=False)
    s.save_visitor_token(SECRET_TOKEN)
    assert s.load() == Secrets(None, SECRET_TOKEN, "keyring")


def test_secrets_repr_hides_values() -> None:
    secrets = Secrets(SECRET_KEY, SECRET_TOKEN, "keyring")
    for text in (repr(secrets), str(secrets), f"{secrets}", repr([secrets])):
        assert SECRET_KEY not in text and SECRET_TOKEN not in text
    assert "<set>" in repr(secrets)
    assert "api_key=None" in repr(Secrets(None, SECRET_TOKEN, "env"))


# --- unusable keyrings -----------------------------------------------------------------

UNUSABLE: dict[str, type[Any]] = {
    "fail": fail.Keyring,
    "null": null.Keyring,
    "plaintext": PlaintextKeyring,
    "empty-chainer": EmptyChainer,
}


def assert_fix_in(message: str) -> None:
    assert "gnome-keyring" in message
    assert "DIALOGTUI_API_KEY" in message and "DIALOGTUI_VISITOR_TOKEN" in message


@pytest.mark.parametrize("kind", UNUSABLE)
def test_unusable_backend_is_detected(kind: str) -> None:
    use_backend(UNUSABLE[kind]())
    ok, problem = keyring_backend_usable()
    assert not ok and problem


def test_memory_backend_is_usable(memory: MemoryKeyring) -> None:
    ok, name = keyring_backend_usable()
    assert ok and name.endswith("MemoryKeyring")


@pytest.mark.parametrize("kind", UNUSABLE)
def test_unusable_backend_raises_with_the_fix_and_writes_nothing(kind: str, isolated: Path) -> None:
    backend = use_backend(UNUSABLE[kind]())
    s = store()
    for op in (
        s.load,
        lambda: s.save_api_key(SECRET_KEY),
        lambda: s.save_visitor_token(SECRET_TOKEN),
        s.delete,
    ):
        with pytest.raises(CredentialsError) as info:
            op()
        assert_fix_in(info.value.safe_message)
        assert info.value.exit_code == exitcodes.KEYRING
    if isinstance(backend, MemoryKeyring):
        assert backend.entries == {}  # the plaintext stand-in was never even called
    assert files_containing(isolated, SECRET_KEY, SECRET_TOKEN) == []


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (KeyringError("backend exploded"), "failed"),
        (KeyringLocked("locked"), "locked"),
        (RuntimeError("org.freedesktop.DBus.Error.ServiceUnknown"), "failed"),
        (OSError("no socket"), "failed"),
    ],
)
def test_erroring_backend_raises_with_the_fix(
    error: BaseException, words: str, isolated: Path
) -> None:
    use_backend(ErroringKeyring(error))
    s = store()
    for op in (s.load, lambda: s.save_api_key(SECRET_KEY), s.delete):
        with pytest.raises(CredentialsError) as info:
            op()
        assert words in info.value.safe_message
        assert_fix_in(info.value.safe_message)
    assert files_containing(isolated, SECRET_KEY, SECRET_TOKEN) == []


def test_backend_error_text_never_reaches_the_message() -> None:
    # A backend might echo what it was given; only the exception's type is reported.
    use_backend(ErroringKeyring(KeyringError(f"could not store {SECRET_KEY}")))
    with pytest.raises(CredentialsError) as info:
        store().save_api_key(SECRET_KEY)
    assert SECRET_KEY not in info.value.safe_message
    assert SECRET_KEY not in str(info.value)


# --- status ----------------------------------------------------------------------------


def test_status_reports_booleans_never_values(
    memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = store()
    assert s.status()["api_key_stored"] is False
    s.save_api_key(SECRET_KEY)
    s.save_visitor_token(SECRET_TOKEN)
    monkeypatch.setenv("DIALOGTUI_VISITOR_TOKEN", "env-" + SECRET_TOKEN)
    info = s.status()
    assert info["api_key_stored"] is True and info["visitor_token_stored"] is True
    assert info["visitor_token_from_env"] is True and info["api_key_from_env"] is False
    assert info["keyring_usable"] is True
    dumped = json.dumps(info)
    assert SECRET_KEY not in dumped and SECRET_TOKEN not in dumped


def test_status_survives_a_broken_keyring() -> None:
    use_backend(ErroringKeyring(KeyringLocked("locked")))
    info = store().status()
    assert info["keyring_usable"] is False
    assert "locked" in info["keyring_problem"]
    assert info["api_key_stored"] is None


# --- transport policy ------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://api.dialogintelligens.dk",
        "https://example.com:8443/x",
        "http://127.0.0.1:8765",
        "http://127.0.0.5",
        "http://127.255.255.254:80",
        "http://[::1]:8000",
        "http://localhost:8000",
        "http://LOCALHOST",
        "http://[::ffff:127.0.0.1]",
    ],
)
def test_secure_or_loopback_urls_are_allowed(url: str) -> None:
    ensure_secure_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com",
        "http://api.dialogintelligens.dk",
        "http://128.0.0.1",
        "http://10.0.0.1:8765",
        "http://[::2]",
        "http://localhost.example.com",
        "http://127.0.0.1.nip.io",
        "http://0.0.0.0:8765",
    ],
)
def test_plain_http_to_other_hosts_is_refused(url: str) -> None:
    with pytest.raises(InsecureTransportError) as info:
        ensure_secure_url(url)
    assert "https://" in info.value.safe_message


@pytest.mark.parametrize("url", ["ftp://example.com", "example.com", "ws://127.0.0.1"])
def test_other_schemes_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        ensure_secure_url(url)


# --- login / logout / status commands --------------------------------------------------


@pytest.fixture
def devserver() -> Iterator[Any]:
    from dialogtui.devserver import DevServer

    with DevServer() as server:
        yield server


def ns(**kwargs: Any) -> argparse.Namespace:
    defaults: dict[str, Any] = dict(
        base_url=None, chatbot_id=None, api_key_stdin=False, visitor_token_stdin=False, json=False
    )
    defaults.update(kwargs)
    return argparse.Namespace(**defaults)


def feed_stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def forbid_prompts(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: Any, **__: Any) -> str:
        raise AssertionError("must not prompt")

    monkeypatch.setattr("builtins.input", boom)
    monkeypatch.setattr("getpass.getpass", boom)


def test_login_interactive_stores_key_and_token(
    devserver: Any,
    memory: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    isolated: Path,
) -> None:
    from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID

    # The answers on stdin (not a terminal: read bounded, `inputs.read_line`); the key as
    # typed on a terminal, which cannot run here.
    feed_stdin(monkeypatch, f"{devserver.base_url}/\n{DEMO_CHATBOT_ID}\n")
    monkeypatch.setattr(account, "terminal_available", lambda: True)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": DEMO_API_KEY)

    assert account.run_login(ns()) == exitcodes.OK

    printed = capsys.readouterr()
    asked = printed.out
    assert asked.startswith(f"Base URL [{PRODUCTION_URL}]: ")  # the default is shown
    assert "Chatbot id: " in asked
    s = CredentialStore(devserver.base_url, DEMO_CHATBOT_ID)
    secrets = s.load()
    assert secrets.api_key == DEMO_API_KEY
    assert secrets.visitor_token and secrets.visitor_token.count(".") == 2  # the minted JWT
    assert devserver.stats.count("POST /auth") == 1  # exactly one verification call
    settings = load_settings()
    assert (settings.base_url, settings.chatbot_id) == (devserver.base_url, DEMO_CHATBOT_ID)
    assert DEMO_CHATBOT_ID in asked
    assert DEMO_API_KEY not in asked + printed.err
    assert secrets.visitor_token not in asked + printed.err
    assert files_containing(isolated, DEMO_API_KEY, secrets.visitor_token) == []


def test_login_key_from_stdin_never_prompts(
    devserver: Any, memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch, isolated: Path
) -> None:
    from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID

    forbid_prompts(monkeypatch)
    feed_stdin(monkeypatch, DEMO_API_KEY + "\n")
    code = account.run_login(
        ns(base_url=devserver.base_url, chatbot_id=DEMO_CHATBOT_ID, api_key_stdin=True)
    )
    assert code == exitcodes.OK
    assert CredentialStore(devserver.base_url, DEMO_CHATBOT_ID).load().api_key == DEMO_API_KEY
    assert files_containing(isolated, DEMO_API_KEY) == []


def test_login_with_a_wrong_key_fails_with_3_and_stores_nothing(
    devserver: Any,
    memory: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    isolated: Path,
) -> None:
    from dialogtui.devserver import DEMO_CHATBOT_ID

    feed_stdin(monkeypatch, "wrong-" + SECRET_KEY + "\n")
    code = account.run_login(
        ns(base_url=devserver.base_url, chatbot_id=DEMO_CHATBOT_ID, api_key_stdin=True)
    )
    assert code == exitcodes.AUTH
    assert memory.entries == {}
    assert not config_path().exists()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not accepted" in err
    assert SECRET_KEY not in err


def test_login_with_an_unknown_bot_fails_and_stores_nothing(
    devserver: Any, memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dialogtui.devserver import DEMO_API_KEY

    feed_stdin(monkeypatch, DEMO_API_KEY + "\n")
    code = account.run_login(ns(base_url=devserver.base_url, chatbot_id="nope", api_key_stdin=True))
    assert code != exitcodes.OK
    assert memory.entries == {}


def test_login_network_failure_is_5(memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    feed_stdin(monkeypatch, SECRET_KEY + "\n")
    code = account.run_login(
        ns(base_url=f"http://127.0.0.1:{port}", chatbot_id=BOT, api_key_stdin=True)
    )
    assert code == exitcodes.NETWORK
    assert memory.entries == {}


def test_login_without_keyring_fails_with_4_before_asking_for_the_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], isolated: Path
) -> None:
    use_backend(fail.Keyring())
    forbid_prompts(monkeypatch)
    code = account.run_login(ns(base_url=PRODUCTION_URL, chatbot_id=BOT, api_key_stdin=True))
    assert code == exitcodes.KEYRING
    err = capsys.readouterr().err
    assert err.startswith("dialogtui: ") and err.count("\n") == 1
    assert_fix_in(err)
    assert list(isolated.rglob("*.toml")) == []


def test_login_refuses_plain_http_to_remote_hosts(
    memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    forbid_prompts(monkeypatch)
    code = account.run_login(ns(base_url="http://example.com", chatbot_id=BOT, api_key_stdin=True))
    assert code == exitcodes.USAGE
    assert "https://" in capsys.readouterr().err
    assert memory.entries == {}


def test_login_from_stdin_needs_a_chatbot_id(
    memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    forbid_prompts(monkeypatch)
    feed_stdin(monkeypatch, SECRET_KEY + "\n")
    assert account.run_login(ns(api_key_stdin=True)) == exitcodes.USAGE


def test_login_with_empty_stdin_is_a_usage_error(
    memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_stdin(monkeypatch, "")
    assert account.run_login(ns(chatbot_id=BOT, api_key_stdin=True)) == exitcodes.USAGE


def test_login_with_visitor_token_only(
    memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch, isolated: Path
) -> None:
    forbid_prompts(monkeypatch)
    feed_stdin(monkeypatch, SECRET_TOKEN + "\n")
    code = account.run_login(ns(base_url=PRODUCTION_URL, chatbot_id=BOT, visitor_token_stdin=True))
    assert code == exitcodes.OK
    assert store().load() == Secrets(None, SECRET_TOKEN, "keyring")
    assert load_settings().chatbot_id == BOT
    assert files_containing(isolated, SECRET_TOKEN) == []


def test_login_rejects_an_expired_jwt(
    memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64

    claims = base64.urlsafe_b64encode(json.dumps({"exp": 1000}).encode()).decode().rstrip("=")
    feed_stdin(monkeypatch, f"e30.{claims}.sig\n")
    code = account.run_login(ns(chatbot_id=BOT, visitor_token_stdin=True))
    assert code == exitcodes.AUTH
    assert memory.entries == {}


def test_login_ignores_env_secrets(
    devserver: Any,
    memory: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An exported DIALOGTUI_API_KEY is neither verified nor stored by login."""
    from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID

    monkeypatch.setenv("DIALOGTUI_API_KEY", SECRET_KEY)
    feed_stdin(monkeypatch, DEMO_API_KEY + "\n")
    assert (
        account.run_login(
            ns(base_url=devserver.base_url, chatbot_id=DEMO_CHATBOT_ID, api_key_stdin=True)
        )
        == 0
    )
    assert SECRET_KEY not in memory.entries.values()
    assert "DIALOGTUI_API_KEY is set" in capsys.readouterr().err


def test_logout_removes_the_secrets(
    memory: MemoryKeyring, capsys: pytest.CaptureFixture[str]
) -> None:
    store().save_api_key(SECRET_KEY)
    store().save_visitor_token(SECRET_TOKEN)
    other = CredentialStore(PRODUCTION_URL, "other")
    other.save_api_key("other-key")
    assert account.run_logout(ns(chatbot_id=BOT)) == exitcodes.OK
    assert store().load().source == "none"
    assert other.load().api_key == "other-key"
    assert "Removed" in capsys.readouterr().out
    assert account.run_logout(ns(chatbot_id=BOT)) == exitcodes.OK
    assert "No secrets" in capsys.readouterr().out


def test_logout_without_a_bot_is_a_usage_error(memory: MemoryKeyring) -> None:
    assert account.run_logout(ns()) == exitcodes.USAGE


def test_logout_with_broken_keyring_is_4(capsys: pytest.CaptureFixture[str]) -> None:
    use_backend(ErroringKeyring(KeyringLocked("locked")))
    assert account.run_logout(ns(chatbot_id=BOT)) == exitcodes.KEYRING
    assert "locked" in capsys.readouterr().err


def test_status_text_and_json_never_show_values(
    memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert account.run_status(ns(chatbot_id=BOT)) == exitcodes.AUTH  # nothing stored yet
    capsys.readouterr()
    store().save_api_key(SECRET_KEY)
    store().save_visitor_token(SECRET_TOKEN)
    assert account.run_status(ns(chatbot_id=BOT)) == exitcodes.OK
    text = capsys.readouterr().out
    assert "stored in the keyring" in text and BOT in text and PRODUCTION_URL in text
    monkeypatch.setenv("DIALOGTUI_API_KEY", "env-" + SECRET_KEY)
    assert account.run_status(ns(chatbot_id=BOT, json=True)) == exitcodes.OK
    raw = capsys.readouterr().out
    data = json.loads(raw)
    assert data["api_key_stored"] is True and data["api_key_from_env"] is True
    assert data["chatbot_id"] == BOT and data["base_url"] == PRODUCTION_URL
    for output in (text, raw):
        assert SECRET_KEY not in output and SECRET_TOKEN not in output


def test_status_without_keyring_is_4(capsys: pytest.CaptureFixture[str]) -> None:
    use_backend(fail.Keyring())
    assert account.run_status(ns(chatbot_id=BOT)) == exitcodes.KEYRING
    assert "unavailable" in capsys.readouterr().out


def test_status_without_keyring_but_env_secret_is_0(monkeypatch: pytest.MonkeyPatch) -> None:
    use_backend(fail.Keyring())
    monkeypatch.setenv("DIALOGTUI_API_KEY", SECRET_KEY)
    assert account.run_status(ns(chatbot_id=BOT)) == exitcodes.OK


def test_status_without_a_bot_is_2(
    memory: MemoryKeyring, capsys: pytest.CaptureFixture[str]
) -> None:
    assert account.run_status(ns()) == exitcodes.USAGE
    assert "not set" in capsys.readouterr().out


def test_status_with_broken_config_is_2(
    memory: MemoryKeyring, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_path()
    path.parent.mkdir(parents=True)
    path.write_text("chatbot_id = = 1\n")
    assert account.run_status(ns()) == exitcodes.USAGE
    err = capsys.readouterr().err
    assert str(path) in err and "line 1" in err


# --- the app reads the keyring after its first frame ---------------------------------------


async def test_the_app_reads_a_key_from_the_keyring_after_its_first_frame_and_connects(
    isolated: Path, memory: MemoryKeyring, server: DevServer
) -> None:
    from dialogtui.devserver import DEMO_API_KEY
    from dialogtui.ui.app import DialogApp

    memory.set_password(service_name(server.base_url, "demo"), "api_key", DEMO_API_KEY)
    calls = memory.calls
    target = configured_target(server.base_url, "demo", defer_secret=True)
    assert target.secret_pending and target.api_key is None and memory.calls == calls
    app = DialogApp(target)
    painted_before_read: list[bool] = []
    read = memory.get_password

    def get_password(service: str, username: str) -> str | None:
        painted_before_read.append(app.first_frame.is_set())
        return read(service, username)

    memory.get_password = get_password  # type: ignore[method-assign]
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(250):
            if "Ready" in str(app.query_one("#status").render()):
                break
            await pilot.pause(0.02)
        assert "Ready" in str(app.query_one("#status").render())
        assert memory.calls > calls and not app.target.secret_pending
        assert painted_before_read and all(painted_before_read)
        assert app.target.api_key == DEMO_API_KEY and app.startup_error is None
    assert server.stats.count("GET /config") >= 1


@pytest.mark.parametrize("kind", ["no key stored", "no keyring"])
async def test_the_app_closes_with_the_cli_exit_code_when_the_keyring_has_no_key(
    isolated: Path, memory: MemoryKeyring, server: DevServer, kind: str
) -> None:
    from dialogtui.ui.app import DialogApp

    if kind == "no keyring":
        use_backend(fail.Keyring())
    app = DialogApp(configured_target(server.base_url, "demo", defer_secret=True))
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(250):
            if app.startup_error is not None:
                break
            await pilot.pause(0.02)
    expected = exitcodes.KEYRING if kind == "no keyring" else exitcodes.AUTH
    assert app.startup_error is not None and app.startup_error.exit_code == expected
    assert app.return_code == expected
    assert server.stats.count("GET /config") == 0  # nothing was sent without a secret


def test_dialogtui_says_why_it_closed_and_exits_with_its_code(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`run_chat` hands the app's start-up error to the terminal as the CLI does any other."""
    from dialogtui.commands import chat
    from dialogtui.ui.app import DialogApp

    use_backend(fail.Keyring())

    def run(self: DialogApp) -> None:  # the app, as far as it gets without a terminal
        self.startup_error = TargetError("The OS keyring is locked.", exitcodes.KEYRING)

    monkeypatch.setattr(DialogApp, "run", run)
    args = argparse.Namespace(
        demo=False,
        base_url="http://127.0.0.1:9",
        chatbot_id=BOT,
        visitor_token_stdin=False,
        no_save=True,
    )
    assert chat.run_chat(args) == exitcodes.KEYRING
    assert capsys.readouterr().err == "dialogtui: The OS keyring is locked.\n"


async def test_a_keyring_that_never_answers_leaves_the_app_responsive_and_quittable(
    isolated: Path, memory: MemoryKeyring, server: DevServer
) -> None:
    """A locked keyring can sit on an unlock prompt: the app waits for it beside its event
    loop, says so, and quits when asked, without waiting for the keyring."""
    import threading

    from dialogtui.ui.app import DialogApp

    answer = threading.Event()
    asked = threading.Event()

    def get_password(service: str, username: str) -> str | None:
        asked.set()
        answer.wait(30)
        return None

    memory.get_password = get_password  # type: ignore[method-assign]
    app = DialogApp(configured_target(server.base_url, "demo", defer_secret=True))
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            for _ in range(250):
                if asked.is_set():
                    break
                await pilot.pause(0.02)
            assert asked.is_set()
            await pilot.pause(0.1)  # frames still come while the keyring is asked
            assert "Reading the keyring" in str(app.query_one("#status").render())
            await pilot.press("ctrl+q")
            await pilot.pause()
        assert app.startup_error is None and app.return_code in (0, None)
        assert server.stats.count("GET /config") == 0
    finally:
        answer.set()


def _status(app: Any) -> str:
    return str(app.query_one("#status").render())


@pytest.mark.parametrize(
    "keys", [["ctrl+n"], ["f3"], ["ctrl+l"], ["ctrl+b", "escape"], ["enter"], ["switch"]]
)
async def test_start_keys_pressed_while_the_keyring_is_read_still_connect_with_the_key(
    isolated: Path, memory: MemoryKeyring, server: DevServer, keys: list[str]
) -> None:
    """Ctrl+N, F3, Ctrl+L or a switch to a bot with no key cancel the start worker, Ctrl+B
    then Esc might, and Enter tries to send: none of them may leave the app without its
    secret or the bot's config, or open a session before the secret is read."""
    import threading

    from dialogtui.devserver import DEMO_API_KEY
    from dialogtui.ui.app import DialogApp

    memory.set_password(service_name(server.base_url, "demo"), "api_key", DEMO_API_KEY)
    gate = threading.Event()
    read = memory.get_password

    def get_password(service: str, username: str) -> str | None:
        gate.wait(10)
        return read(service, username)

    memory.get_password = get_password  # type: ignore[method-assign]
    app = DialogApp(configured_target(server.base_url, "demo", defer_secret=True))
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause(0.3)
            assert "Reading the keyring" in _status(app)
            for key in keys:
                if key == "switch":
                    from dialogtui.ui.switch import SwitchRequest

                    app._start_switch(SwitchRequest(server.base_url, "a-bot-with-no-key"))
                else:
                    await pilot.press(key)
                await pilot.pause(0.2)
            assert app.session is None and app.target.secret_pending
            gate.set()

            def started() -> bool:
                return not any(w.group == "start" and not w.is_finished for w in app.workers)

            for _ in range(250):
                if started() and not app.target.secret_pending:
                    break
                await pilot.pause(0.02)
            assert not app.target.secret_pending and app.target.api_key == DEMO_API_KEY
            assert app.startup_error is None and app.target.chatbot_id == "demo"
            assert app.bot_config is not None, "the bot's config (branding, prompts) was loaded"
            # And the app works: a message sent now gets its reply.
            assert app._send("hello after the keyring")
            for _ in range(250):
                if app._turn_worker is not None and app._turn_worker.is_finished:
                    break
                await pilot.pause(0.02)
            assert app.session is not None and app.session.client.has_api_key
            assert "You said" in app.transcript.entry_text(app.transcript.entry_ids[-1])
    finally:
        gate.set()


async def test_switching_bot_reads_its_key_beside_the_event_loop(
    isolated: Path, memory: MemoryKeyring, server: DevServer
) -> None:
    """Ctrl+B to a configured bot: its key comes from the keyring, read in a thread while
    the app goes on drawing (it blocked the event loop before)."""
    import threading

    from dialogtui.devserver import DEMO_API_KEY
    from dialogtui.target import Target
    from dialogtui.ui.app import DialogApp
    from dialogtui.ui.switch import SwitchRequest

    memory.set_password(service_name(server.base_url, "demo"), "api_key", DEMO_API_KEY)
    gate, asked = threading.Event(), threading.Event()
    read = memory.get_password

    def get_password(service: str, username: str) -> str | None:
        asked.set()
        gate.wait(10)
        return read(service, username)

    app = DialogApp(Target(server.base_url, "demo", api_key=DEMO_API_KEY, environment="test"))
    opener = threading.Timer(3, gate.set)  # a blocked event loop would get its turn back only then
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            for _ in range(250):
                if "Ready" in _status(app):
                    break
                await pilot.pause(0.02)
            memory.get_password = get_password  # type: ignore[method-assign]
            ticks = 0

            def tick() -> None:
                nonlocal ticks
                ticks += 1

            app.set_interval(0.02, tick)
            opener.start()
            app._start_switch(SwitchRequest(server.base_url, "demo"))
            for _ in range(100):
                if asked.is_set():
                    break
                await pilot.pause(0.01)
            ticks_then = ticks
            await pilot.pause(0.3)
            # Had the keyring been read on the event loop, this coroutine would only run again
            # once the keyring answered: after the gate opened.
            assert asked.is_set() and not gate.is_set()
            assert ticks - ticks_then >= 5, "the event loop went on while the keyring was read"
            gate.set()
            for _ in range(250):
                if app.target.environment != "test" and not any(
                    w.group == "start" and not w.is_finished for w in app.workers
                ):
                    break
                await pilot.pause(0.02)
            assert app.target.api_key == DEMO_API_KEY and app.target.save_token is not None
            assert app.session is not None and app.session.client.has_api_key
    finally:
        gate.set()
        opener.cancel()


@pytest.mark.parametrize("third_party_backend", [False, True])
def test_the_secret_is_read_before_the_app_only_when_a_backend_may_ask_on_the_terminal(
    isolated: Path,
    memory: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    third_party_backend: bool,
) -> None:
    """keyrings.alt's and keyrings.cryptfile's encrypted files ask for a password with getpass:
    with such a package installed the CLI reads the secret first, as before, while it still
    has the terminal; otherwise the app reads it after its first frame."""
    from dialogtui.commands import chat
    from dialogtui.ui.app import DialogApp

    if third_party_backend:
        (tmp_path / "site" / "keyrings" / "alt").mkdir(parents=True)
        (tmp_path / "site" / "keyrings" / "alt" / "__init__.py").write_text("")
        monkeypatch.syspath_prepend(str(tmp_path / "site"))
    memory.set_password(service_name("http://127.0.0.1:9", BOT), "api_key", SECRET_KEY)
    seen: list[bool] = []

    def run(self: DialogApp) -> None:
        seen.append(self.target.secret_pending)

    monkeypatch.setattr(DialogApp, "run", run)
    args = argparse.Namespace(
        demo=False,
        base_url="http://127.0.0.1:9",
        chatbot_id=BOT,
        visitor_token_stdin=False,
        no_save=True,
    )
    assert chat.run_chat(args) == 0
    assert seen == [not third_party_backend]
