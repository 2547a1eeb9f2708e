"""Bad input gets a clear error (exit 2), never a traceback, and leaves nothing behind.

The real CLI in a subprocess, with argv and stdin as bytes: what an outside run tried.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dialogtui import exitcodes
from dialogtui.config import ConfigError, normalize_base_url
from dialogtui.text import sanitize, sanitize_line


def dialogtui(*argv: str | bytes, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "dialogtui", *argv],
        input=stdin,
        capture_output=True,
        timeout=60,
        env={**os.environ, "PYTHONUTF8": "0", "LC_ALL": "C.UTF-8"},
    )


def assert_clear_refusal(result: subprocess.CompletedProcess[bytes], *words: str) -> str:
    err = result.stderr.decode("utf-8")
    assert result.returncode == exitcodes.USAGE, err
    assert "Traceback" not in err
    for word in words:
        assert word in err
    return err


def data_dir() -> Path:
    return Path(os.environ["DIALOGTUI_DATA_DIR"])


# --- item 7: non-UTF-8 messages -----------------------------------------------------------


def test_a_message_argument_with_non_utf8_bytes_is_refused_and_nothing_recorded() -> None:
    result = dialogtui(b"send", b"--demo", b"caf\xe9 au lait")
    assert_clear_refusal(result, "not valid UTF-8", "0xE9")
    assert not data_dir().exists()  # no database created, no turn recorded


def test_a_message_on_stdin_with_non_utf8_bytes_is_refused_with_its_line() -> None:
    for extra in ((), ("--no-save",)):
        result = dialogtui("send", "--demo", *extra, "-", stdin=b"fine\nnot \xff fine\n")
        assert_clear_refusal(result, "stdin", "not UTF-8", "line 2")
    assert not data_dir().exists()


def test_a_script_or_export_with_non_utf8_bytes_names_the_file_and_line(tmp_path: Path) -> None:
    script = tmp_path / "script.txt"
    script.write_bytes(b"one\ntwo\nth\x80ree\n")
    assert_clear_refusal(dialogtui("run", "--demo", str(script)), "script.txt", "line 3")


# --- item 7: unbounded reads, nesting, surrogates ------------------------------------------


@pytest.mark.parametrize("command", ["run", "replay"])
def test_reading_dev_zero_stops_at_the_size_cap(command: str) -> None:
    result = dialogtui(command, "--demo", "/dev/zero")
    assert_clear_refusal(result, "/dev/zero", "larger than", "MiB")


def test_a_message_on_stdin_is_read_up_to_the_cap_only() -> None:
    from dialogtui.inputs import MAX_INPUT_BYTES

    result = dialogtui("send", "--demo", "-", stdin=b"a" * (MAX_INPUT_BYTES + 1))
    assert_clear_refusal(result, "larger than")
    assert not data_dir().exists()


def test_an_export_nested_100000_deep_is_refused(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    assert_clear_refusal(dialogtui("replay", "--demo", str(deep)), "deep.json", "nested")
    # Deep, but not deep enough for Python's own recursion limit: refused by the depth cap.
    deep.write_text('{"messages": ' + "[" * 200 + "]" * 200 + "}")
    assert_clear_refusal(dialogtui("replay", "--demo", str(deep)), "nested more than 64")


def test_an_export_with_a_lone_surrogate_is_refused_with_its_line(tmp_path: Path) -> None:
    export = tmp_path / "export.json"
    export.write_text('{"messages": [\n{"role": "user",\n "text": "a\\ud800b"}]}')
    err = assert_clear_refusal(dialogtui("replay", "--demo", str(export)), "export.json")
    assert "surrogate" in err and "line 3" in err
    assert not data_dir().exists()


def test_a_well_formed_export_still_replays(tmp_path: Path) -> None:
    export = tmp_path / "export.json"
    export.write_text(json.dumps({"messages": [{"role": "user", "text": "hello 👩‍💻"}]}))
    result = dialogtui("replay", "--demo", "--no-save", "--json", str(export))
    assert result.returncode == exitcodes.OK, result.stderr.decode()


# --- item 7: numbers out of range ----------------------------------------------------------


def test_export_of_a_huge_id_is_a_usage_error() -> None:
    err = assert_clear_refusal(dialogtui("export", "99999999999999999999999"), "conversation id")
    assert "OverflowError" not in err


@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_serve_refuses_a_port_out_of_range(port: str) -> None:
    assert_clear_refusal(dialogtui("serve", "--port", port), "--port", "0 to 65535")


def test_serve_refuses_a_delay_that_is_not_a_number_of_seconds() -> None:
    assert_clear_refusal(dialogtui("serve", "--delay", "nan"), "--delay")


# --- item 7: base URLs httpx would refuse ---------------------------------------------------


BAD_URLS = ["http://127.0.0.1:1/a\x7fb", "https://256.256.256.256", "https://xn--a.com"]


@pytest.mark.parametrize("url", BAD_URLS)
def test_a_base_url_httpx_refuses_is_refused_when_configured(url: str) -> None:
    with pytest.raises(ConfigError):
        normalize_base_url(url)
    result = dialogtui("send", "--base-url", url, "--chatbot-id", "bot", "hi")
    err = assert_clear_refusal(result, "Not a valid base URL")
    assert "\x7f" not in err


@pytest.mark.parametrize(
    "url",
    [
        "https://api.dialogintelligens.dk",
        "http://127.0.0.1:8765",
        "https://[::1]:8443/base",
        "https://bücher.example",
        "https://xn--bcher-kva.example",
        "https://10.0.0.1",
    ],
)
def test_a_base_url_httpx_accepts_passes_and_agrees_with_httpx(url: str) -> None:
    import httpx

    normalized = normalize_base_url(url)
    assert httpx.URL(normalized).host


def test_the_app_refuses_a_bad_configured_url_before_it_starts() -> None:
    config = Path(os.environ["DIALOGTUI_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text(
        'base_url = "https://256.256.256.256"\nchatbot_id = "bot"\n'
    )
    result = dialogtui()  # the app: must say why, not crash with a traceback
    assert_clear_refusal(result, "Not a valid base URL")


# --- item 5: one rule for text reaching a terminal ------------------------------------------

BIDI_AND_INVISIBLE = (
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
    "\u200b\u200c\u200d\u2060\ufeff"
)


def test_sanitize_shows_bidi_and_zero_width_characters_as_markers() -> None:
    for char in BIDI_AND_INVISIBLE:
        shown = sanitize(f"a{char}b")
        assert char not in shown
        assert f"U+{ord(char):04X}" in shown
    assert sanitize("user\u202etxt.exe") == "user\u27e8U+202E\u27e9txt.exe"
    assert sanitize_line("\x1b]0;title\x07") == "\u241b]0;title\u2407"


def test_sanitize_keeps_the_joiner_of_an_emoji_sequence_and_ordinary_text() -> None:
    for text in ("👩\u200d💻", "👍🏽", "Grüße, 日本語, עברית", "tab\tand\nnewline"):
        assert sanitize(text) == text.replace("\t", "    ")


def test_sanitize_shows_undecodable_bytes_kept_as_surrogates() -> None:
    assert sanitize("caf\udce9") == "caf\u27e80xE9\u27e9"


def test_status_prints_no_raw_escape_from_its_own_arguments() -> None:
    hostile = "bot\x1b]0;pwned\x07\u202e"
    result = dialogtui("status", "--chatbot-id", hostile, "--base-url", "https://a.example")
    out = result.stdout.decode() + result.stderr.decode()
    assert "Traceback" not in out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "bot\u241b]0;pwned\u2407" in out
    as_json = dialogtui("status", "--json", "--chatbot-id", hostile)
    assert json.loads(as_json.stdout)["chatbot_id"] == hostile  # JSON keeps it, escaped
    assert b"\\u001b" in as_json.stdout and b"\x1b" not in as_json.stdout


def test_argparse_errors_do_not_echo_raw_escapes() -> None:
    result = dialogtui("send", "--demo", "hi", "--bogus\x1b[2J\u202e")
    err = result.stderr.decode()
    assert result.returncode == exitcodes.USAGE
    assert "\x1b" not in err and "\u202e" not in err


def test_send_history_and_markdown_export_show_bidi_as_markers() -> None:
    sent = dialogtui("send", "--demo", "open user\u202etxt.exe")
    assert sent.returncode == exitcodes.OK, sent.stderr.decode()
    # The demo server echoes the message in its reply.
    assert "\u202e" not in sent.stdout.decode() and "U+202E" in sent.stdout.decode()
    history = dialogtui("history").stdout.decode()
    assert "\u202e" not in history and "U+202E" in history
    markdown = dialogtui("export", "1").stdout.decode()
    assert "\u202e" not in markdown and "U+202E" in markdown
    exported = dialogtui("export", "1", "--format", "json").stdout
    assert "user\u202etxt.exe" in exported.decode() or b"\\u202e" in exported


async def test_the_app_shows_bidi_and_zero_width_characters_as_markers(server: object) -> None:
    from .test_app import SIZE, make_app, ready, send, turn_finished, wait_for

    app = make_app(server)  # type: ignore[arg-type]
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "open user\u202etxt.exe \u200bnow\u2066")
        await wait_for(pilot, turn_finished(app))
        await pilot.pause()
        shown = app.transcript.visible_text()
        # Both the message and the server's echo of it ("You said: ...") are on screen.
        assert shown.count("user\u27e8U+202E\u27e9txt.exe") >= 2
        assert "\u202e" not in shown and "\u200b" not in shown and "\u2066" not in shown


# --- found by the property test (tests/test_cli_properties.py) ----------------------------------


def run_with_env(
    env: dict[bytes, bytes], *argv: str, stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    environment = {os.fsencode(k): os.fsencode(v) for k, v in os.environ.items()}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "dialogtui", *argv],
        input=stdin,
        capture_output=True,
        timeout=60,
        env=environment,
    )


@pytest.mark.parametrize("variable", [b"DIALOGTUI_CHATBOT_ID", b"DIALOGTUI_API_KEY"])
def test_environment_text_that_is_not_utf8_is_refused_by_name(variable: bytes) -> None:
    result = run_with_env(
        {b"DIALOGTUI_API_KEY": b"k", variable: b"b\xff"},
        "send",
        "--base-url",
        "http://127.0.0.1:1",
        "--chatbot-id",
        "x",
        "hi",
    )
    assert_clear_refusal(result, variable.decode(), "not valid UTF-8")
    assert not data_dir().exists()


def test_a_visitor_token_that_cannot_be_sent_is_refused_before_anything_happens() -> None:
    result = run_with_env({b"DIALOGTUI_VISITOR_TOKEN": b"tok en"}, "send", "--demo", "hi")
    assert_clear_refusal(result, "DIALOGTUI_VISITOR_TOKEN", "visible ASCII")
    from_stdin = dialogtui(
        "send",
        "--base-url",
        "http://127.0.0.1:1",
        "--chatbot-id",
        "b",
        "--visitor-token-stdin",
        "hi",
        stdin="tök\n".encode(),
    )
    assert_clear_refusal(from_stdin, "visitor token", "visible ASCII")
    assert not data_dir().exists()


def test_login_refuses_a_non_utf8_or_unusable_secret_on_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    import keyring

    from dialogtui.cli import main

    from .test_cli_properties import MemoryKeyring

    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())  # a keyring that works: the secret is what is wrong
    try:
        base = ["login", "--base-url", "http://127.0.0.1:1", "--chatbot-id", "b"]
        for option, stdin, words in (
            ("--api-key-stdin", b"k\xff\n", "not UTF-8"),
            ("--visitor-token-stdin", b"a b\n", "visible ASCII"),
        ):
            monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
            assert main([*base, option]) == exitcodes.USAGE
            assert words in capsys.readouterr().err
    finally:
        keyring.set_keyring(previous)


def test_serve_says_why_it_cannot_listen() -> None:
    result = dialogtui("serve", "--host", "256.1.1.1\x1b", "--port", "0")
    err = assert_clear_refusal(result, "Cannot listen on 256.1.1.1")
    assert "\x1b" not in err and "\x1b" not in result.stdout.decode()


def test_the_log_file_keeps_each_record_on_one_line(server: Any) -> None:
    result = run_with_env(
        {b"DIALOGTUI_API_KEY": b"wrong-key"},
        "send",
        "--base-url",
        server.base_url,
        "--chatbot-id",
        "b\nFORGED\x1b",
        "hi",
    )
    assert result.returncode == exitcodes.AUTH, result.stderr
    log = Path(os.environ["DIALOGTUI_LOG_DIR"]) / "dialogtui.log"
    lines = log.read_text().splitlines()
    assert any("/auth" in line for line in lines)  # the request was logged
    assert not any(line.startswith("FORGED") or "\x1b" in line for line in lines)


def test_the_test_command_refuses_a_record_id_out_of_range() -> None:
    assert_clear_refusal(dialogtui("test", "--record", "99999999999999999999999"), "--record")
