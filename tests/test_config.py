"""The TOML settings file: round trip, precedence, clear errors, safe writes."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import pytest

from dialogtui import config
from dialogtui.config import (
    DEVELOPMENT_URL,
    PRODUCTION_URL,
    ConfigError,
    Settings,
    config_path,
    load_settings,
    resolve_settings,
    save_settings,
)


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("DIALOGTUI_BASE_URL", "DIALOGTUI_CHATBOT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DIALOGTUI_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DIALOGTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DIALOGTUI_LOG_DIR", str(tmp_path / "log"))
    return tmp_path


def write_config(text: str) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_directories_follow_the_environment(tmp_path: Path) -> None:
    assert config.config_dir() == tmp_path / "config"
    assert config.data_dir() == tmp_path / "data"
    assert config.log_dir() == tmp_path / "log"
    assert config_path() == tmp_path / "config" / "config.toml"


def test_directories_default_to_platformdirs(monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    for name in ("DIALOGTUI_CONFIG_DIR", "DIALOGTUI_DATA_DIR", "DIALOGTUI_LOG_DIR"):
        monkeypatch.delenv(name)
    assert config.config_dir() == platformdirs.user_config_path("dialogtui")
    assert config.data_dir() == platformdirs.user_data_path("dialogtui")
    assert config.log_dir() == platformdirs.user_log_path("dialogtui")


def test_missing_file_gives_defaults_and_creates_nothing(tmp_path: Path) -> None:
    assert load_settings() == Settings()
    assert Settings().base_url == PRODUCTION_URL
    assert not (tmp_path / "config").exists()


def test_round_trip() -> None:
    settings = Settings(
        base_url=DEVELOPMENT_URL,
        chatbot_id='bot "quoted" \\ ø\tx',
        connect_timeout=2.5,
        read_timeout=45.0,
        stream_idle_timeout=90.0,
        theme="textual-light",
        save_transcripts=False,
    )
    path = save_settings(settings)
    assert path == config_path()
    assert load_settings() == settings
    # What we write is plain TOML any reader accepts.
    assert tomllib.loads(path.read_text(encoding="utf-8"))["save_transcripts"] is False


def test_none_chatbot_id_is_omitted() -> None:
    path = save_settings(Settings())
    assert "chatbot_id" not in tomllib.loads(path.read_text(encoding="utf-8"))
    assert load_settings().chatbot_id is None


def test_written_file_is_private_and_replaced_atomically() -> None:
    path = save_settings(Settings(chatbot_id="one"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    save_settings(Settings(chatbot_id="two"))
    assert load_settings().chatbot_id == "two"
    # No temporary files left next to it.
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]


def test_an_existing_world_readable_file_becomes_private() -> None:
    path = write_config('chatbot_id = "x"\n')
    os.chmod(path, 0o644)
    save_settings(load_settings())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_broken_toml_names_file_and_line() -> None:
    path = write_config('base_url = "https://api.dialogintelligens.dk"\nchatbot_id = \n')
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert str(path) in message
    assert "line 2" in message
    assert info.value.safe_message == message


def test_wrong_type_names_file_line_and_key() -> None:
    path = write_config('chatbot_id = "bot"\n\nread_timeout = "soon"\n')
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert f"{path}, line 3" in str(info.value)
    assert "read_timeout" in str(info.value)


@pytest.mark.parametrize(
    "line",
    [
        "read_timeout = true",
        "connect_timeout = 0",
        "stream_idle_timeout = -1",
        "save_transcripts = 1",
        'base_url = "ftp://example.com"',
        'base_url = "not a url"',
    ],
)
def test_invalid_values_are_config_errors(line: str) -> None:
    write_config(line + "\n")
    with pytest.raises(ConfigError):
        load_settings()


def test_unknown_keys_and_tables_are_ignored() -> None:
    write_config('chatbot_id = "b"\nfuture_option = 3\n[plugins]\nx = 1\n')
    assert load_settings() == Settings(chatbot_id="b")


def test_integer_timeouts_become_floats() -> None:
    write_config("read_timeout = 12\n")
    settings = load_settings()
    assert settings.read_timeout == 12.0 and isinstance(settings.read_timeout, float)


def test_non_utf8_file_is_a_config_error() -> None:
    path = config_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b'theme = "\xff"\n')
    with pytest.raises(ConfigError, match="UTF-8"):
        load_settings()


def test_base_url_is_normalised() -> None:
    write_config('base_url = "HTTPS://Api.DialogIntelligens.dk:443/"\n')
    assert load_settings().base_url == PRODUCTION_URL


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://api.dialogintelligens.dk/", PRODUCTION_URL),
        ("  https://API.dialogintelligens.dk  ", PRODUCTION_URL),
        ("http://127.0.0.1:8765/", "http://127.0.0.1:8765"),
        ("http://[::1]:80", "http://[::1]"),
        ("https://example.com/prefix/", "https://example.com/prefix"),
    ],
)
def test_normalize_base_url(raw: str, expected: str) -> None:
    assert config.normalize_base_url(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "api.dialogintelligens.dk",
        "https://",
        "https://u:p@example.com",
        "https://example.com/?x=1",
        "https://example.com:99999",
    ],
)
def test_normalize_base_url_rejects(raw: str) -> None:
    with pytest.raises(ConfigError):
        config.normalize_base_url(raw)


def test_precedence_flag_over_env_over_file_over_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_settings(base_url=None, chatbot_id=None) == Settings()

    write_config(f'base_url = "{DEVELOPMENT_URL}"\nchatbot_id = "from-file"\ntheme = "nord"\n')
    settings = resolve_settings(base_url=None, chatbot_id=None)
    assert (settings.base_url, settings.chatbot_id, settings.theme) == (
        DEVELOPMENT_URL,
        "from-file",
        "nord",
    )

    monkeypatch.setenv("DIALOGTUI_BASE_URL", "http://127.0.0.1:9000/")
    monkeypatch.setenv("DIALOGTUI_CHATBOT_ID", "from-env")
    settings = resolve_settings(base_url=None, chatbot_id=None)
    assert (settings.base_url, settings.chatbot_id, settings.theme) == (
        "http://127.0.0.1:9000",
        "from-env",
        "nord",
    )

    settings = resolve_settings(base_url=PRODUCTION_URL + "/", chatbot_id="from-flag")
    assert (settings.base_url, settings.chatbot_id) == (PRODUCTION_URL, "from-flag")


def test_empty_environment_values_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    write_config('chatbot_id = "from-file"\n')
    monkeypatch.setenv("DIALOGTUI_CHATBOT_ID", "  ")
    monkeypatch.setenv("DIALOGTUI_BASE_URL", "")
    settings = resolve_settings(base_url=None, chatbot_id=None)
    assert (settings.base_url, settings.chatbot_id) == (PRODUCTION_URL, "from-file")


def test_bad_flag_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        resolve_settings(base_url="example.com", chatbot_id=None)


def test_unwritable_directory_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("")
    monkeypatch.setenv("DIALOGTUI_CONFIG_DIR", str(blocker / "sub"))
    with pytest.raises(ConfigError, match="cannot write"):
        save_settings(Settings())


def test_unparseable_base_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Not a valid base URL"):
        config.normalize_base_url("https://[x")
