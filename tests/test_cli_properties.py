"""Every CLI command fed random bytes, Unicode and argument shapes: whatever comes in, the exit
code is one the README's table lists, no traceback is printed, and no raw control, bidi or
zero-width character reaches stdout or stderr.

In-process through `cli.main` with captured stdio, so a few hundred examples fit in seconds:
argv as Python hands it over (undecodable bytes as lone surrogates), stdin as a strict UTF-8
text stream over random bytes. The bot is the session's real local server; what cannot run
here is replaced: the OS keyring by an in-memory backend (keyring's own API), the terminal's
hidden prompt by stdin, and `serve`'s endless server by a no-op once its arguments passed.
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from typing import Any

import keyring
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from keyring.backend import KeyringBackend

from dialogtui.cli import main
from dialogtui.devserver import DEMO_API_KEY, DevServer
from dialogtui.text import FORMAT_CHARACTERS

README = Path(__file__).resolve().parent.parent / "README.md"
UNSAFE_OUTPUT = re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f{FORMAT_CHARACTERS}]")


def readme_exit_codes() -> set[int]:
    """The codes of the README's exit-code table (`128+N` rows: the app's signals)."""
    text = README.read_text(encoding="utf-8")
    table = text.split("### Exit codes", 1)[1].split("\n### ", 1)[0]
    codes = {int(code) for code in re.findall(r"^\| (\d+) \|", table, re.MULTILINE)}
    assert {0, 1, 2, 3, 4, 5, 6, 7, 8, 130} <= codes
    return codes


class MemoryKeyring(KeyringBackend):
    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


# --- what is fed in ---------------------------------------------------------------------------

hostile_text = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(list("\x1b\x07\x00\r\n\t\x7f\x9b\u202e\u2066\u200b\u200d\ufeff-=")),
    ),
    max_size=30,
)
undecodable = st.binary(max_size=20).map(os.fsdecode)  # argv bytes as Python keeps them
numbers_list = ["0", "-1", "1", "65536", "99999999999999999999999", "nan", "1e400"]
numbers = st.sampled_from(numbers_list)
paths = st.sampled_from(["-", "/dev/null", "/dev/zero", "/nonexistent/x", "/", "SCRIPT"])
value = st.one_of(hostile_text, undecodable, numbers, paths)

COMMON = ["--json", "--no-save", "--all", "--list", "--stop-on-error", "--help", "-o"]
TARGET = ["--base-url", "--chatbot-id", "--scenario", "--visitor-token-stdin"]
BY_COMMAND: dict[str, list[str]] = {
    "send": [*TARGET, "--json", "--no-save"],
    "run": [*TARGET, "--json", "--stop-on-error", "--no-save"],
    "replay": [*TARGET, "--json", "--no-save"],
    "history": ["--json", "--all"],
    "export": ["--format", "md", "json", "-o", "--output"],
    "serve": ["--host", "--port", "--scenario", "--delay", "--list"],
    "login": ["--base-url", "--chatbot-id", "--api-key-stdin", "--visitor-token-stdin"],
    "logout": ["--base-url", "--chatbot-id"],
    "status": ["--base-url", "--chatbot-id", "--json"],
    # Not --visitors or --repeat: a valid count plays that many conversations (slow, not wrong).
    "test": [*TARGET, "--json", "--junit", "--concurrency", "--record", "-o"],
}
BASE_URLS = [
    "LOCAL",  # the session's local server
    "http://127.0.0.1:1",  # nothing listens
    "https://256.256.256.256",
    "http://127.0.0.1:1/a\x7fb",
    "https://xn--a.com",
    "ftp://example",
    "http://example.com",  # plain HTTP off this machine: refused
]


message = st.one_of(
    hostile_text,
    undecodable,
    st.sampled_from(["!escapes", "!stream_error_fatal", "!drop", "table", "!malformed_json"]),
    st.tuples(hostile_text, st.sampled_from([" !escapes", " !no_terminal", ""])).map("".join),
)


@st.composite
def well_formed(draw: st.DrawFn) -> list[str]:
    """A command with the right options in the right places, the values hostile."""
    command = draw(st.sampled_from(sorted(BY_COMMAND)))
    local = ["--base-url", "LOCAL"]
    json = draw(st.sampled_from([[], ["--json"]]))
    if command == "send":
        return ["send", draw(message), *local, *json]
    if command in ("run", "replay"):
        return [command, draw(st.sampled_from(["SCRIPT", "-", "/dev/zero"])), *local, *json]
    if command == "history":
        return ["history", *json, *draw(st.sampled_from([[], ["--all"]]))]
    if command == "export":
        fmt = draw(st.sampled_from(["md", "json"]))
        return [
            "export",
            draw(st.sampled_from(["1", "2", "3", "0", *numbers_list])),
            "--format",
            fmt,
        ]
    if command == "serve":
        return [
            "serve",
            "--port",
            draw(numbers),
            "--host",
            draw(st.one_of(st.just("127.0.0.1"), hostile_text)),
            "--scenario",
            draw(st.one_of(st.just("ok"), hostile_text)),
        ]
    if command == "test":
        if draw(st.booleans()):
            return ["test", "--record", draw(st.sampled_from(["1", "2", *numbers_list]))]
        return ["test", draw(st.sampled_from(["SCRIPT", "/dev/zero", "/"])), *local, *json]
    if command == "login":
        return ["login", "--api-key-stdin", *local, "--chatbot-id", draw(hostile_text)]
    return [command, "--chatbot-id", draw(value), *draw(st.sampled_from([[], local]))]


@st.composite
def any_shape(draw: st.DrawFn) -> list[str]:
    """Options and values in any order, most of them wrong."""
    command = draw(st.sampled_from(sorted(BY_COMMAND)))
    options = BY_COMMAND[command] + COMMON
    argv = [command]
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.integers(0, 3))
        if kind == 0:
            argv.append(draw(st.sampled_from(options)))
        elif kind == 1:
            argv += ["--base-url", draw(st.sampled_from(BASE_URLS))]
        else:
            argv.append(draw(value))
    return argv


argv_shapes = st.one_of(well_formed(), well_formed(), any_shape())
export_json = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "assistant", "system", 7]), "text": message}
    ),
    max_size=3,
).map(lambda records: json.dumps({"messages": records}).encode())
environment = st.dictionaries(
    st.sampled_from(
        [
            "DIALOGTUI_BASE_URL",
            "DIALOGTUI_CHATBOT_ID",
            "DIALOGTUI_API_KEY",
            "DIALOGTUI_VISITOR_TOKEN",
        ]
    ),
    # The environment cannot hold NUL (nor can argv, but a NUL there is refused all the same).
    st.one_of(value, st.sampled_from(BASE_URLS)).map(lambda text: text.replace("\x00", "")),
    max_size=2,
)
config_file = st.one_of(
    st.none(),
    st.binary(max_size=100),
    st.tuples(st.sampled_from(["base_url", "chatbot_id", "read_timeout", "x"]), value).map(
        lambda pair: f"{pair[0]} = {json.dumps(pair[1])}\n".encode("utf-8", "surrogateescape")
    ),
)
test_file = st.tuples(message, message).map(
    lambda pair: (
        f"[[turns]]\nsend = {json.dumps(pair[0])}\n"
        f"[turns.expect]\ncontains = [{json.dumps(pair[1])}]\n"
    ).encode("utf-8", "surrogateescape")
)
file_content = st.one_of(
    st.binary(max_size=200), hostile_text.map(str.encode), export_json, test_file
)


# --- the property ------------------------------------------------------------------------------


@pytest.fixture
def cli_world(
    devserver: DevServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    monkeypatch.setenv("DIALOGTUI_API_KEY", DEMO_API_KEY)
    monkeypatch.setenv("DIALOGTUI_CHATBOT_ID", "demo")
    monkeypatch.setattr("getpass.getpass", lambda prompt="": input())

    async def no_server(*_args: object, **_kwargs: object) -> None:
        return None

    monkeypatch.setattr("dialogtui.devserver.serve", no_server)
    script = tmp_path / "script.txt"
    yield {"server": devserver, "script": script, "monkeypatch": monkeypatch}
    keyring.set_keyring(previous)


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    argv=argv_shapes,
    stdin=file_content,
    script=file_content,
    env=environment,
    config=config_file,
)
def test_every_command_exits_cleanly_on_anything(
    cli_world: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    stdin: bytes,
    script: bytes,
    env: dict[str, str],
    config: bytes | None,
) -> None:
    server: DevServer = cli_world["server"]
    monkeypatch: pytest.MonkeyPatch = cli_world["monkeypatch"]
    cli_world["script"].write_bytes(script)
    config_path = Path(os.environ["DIALOGTUI_CONFIG_DIR"]) / "config.toml"
    if config is None:
        config_path.unlink(missing_ok=True)
    else:
        config_path.parent.mkdir(parents=True, exist_ok=True)
        config_path.write_bytes(config)
    for name, text in {"DIALOGTUI_API_KEY": DEMO_API_KEY, **env}.items():
        monkeypatch.setenv(name, server.base_url if text == "LOCAL" else text)
    argv = [
        server.base_url if arg == "LOCAL" else str(cli_world["script"]) if arg == "SCRIPT" else arg
        for arg in argv
    ]
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))

    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse: --help, or a usage error
        code = exit_.code if isinstance(exit_.code, int) else 2
    out, err = capsys.readouterr()
    event(f"{argv[0]} exit {code}")

    assert code in readme_exit_codes(), (argv, code, err)
    assert "Traceback" not in err and "Traceback" not in out
    for stream in (out, err):
        found = UNSAFE_OUTPUT.search(stream)
        assert found is None, (argv, f"U+{ord(found.group()):04X}", stream[-300:])
