"""Nothing the program writes contains a secret.

The app and the CLI run through their scenarios with a recognisable fake API key; every
visitor token the server handed out is collected; then every file written (log, transcript
database, exports, screenshot, config) and everything printed is searched for them.
"""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dialogtui.api.client import Timeouts
from dialogtui.api.retry import DEFAULT_POLICIES
from dialogtui.devserver import DEMO_CHATBOT_ID, DevServer, DevServerConfig
from dialogtui.logs import configure_file_logging
from dialogtui.store import TranscriptStore
from dialogtui.target import Target
from dialogtui.ui.app import DialogApp
from dialogtui.ui.forms import FormScreen

FAKE_KEY = "FAKEKEY-dialogtui-9c1f2e7a55"
FAST = {op: policy.with_delays(0.01, 0.02) for op, policy in DEFAULT_POLICIES.items()}


@pytest.fixture
def keyed_server() -> Iterator[DevServer]:
    with DevServer(DevServerConfig(api_key=FAKE_KEY, retry_after=0)) as server:
        yield server


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    path = configure_file_logging(tmp_path / "logs")
    assert path is not None
    yield path
    package_logger = logging.getLogger("dialogtui")
    for handler in list(package_logger.handlers):
        if getattr(handler, "baseFilename", None) == str(path):
            package_logger.removeHandler(handler)
            handler.close()


def secrets_of(server: DevServer) -> set[str]:
    basic = base64.b64encode(f"{FAKE_KEY}:".encode()).decode()
    tokens = {token for token in server.stats.tokens_used if token}
    assert tokens, "the scenarios must have used visitor tokens"
    return {FAKE_KEY, basic, *tokens}


def leaks_in(text: str, secrets: set[str]) -> list[str]:
    found = [secret[:12] + "…" for secret in secrets if secret in text]
    found += [
        marker for marker in ("Bearer ", "Authorization:", "authorization:") if marker in text
    ]
    return found


def scan_tree(root: Path, secrets: set[str]) -> dict[str, list[str]]:
    leaks: dict[str, list[str]] = {}
    for path in root.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", errors="replace")
            if found := leaks_in(text, secrets):
                leaks[str(path.relative_to(root))] = found
    return leaks


async def _until(pilot, condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("condition not met in time")


async def test_app_writes_no_secret(
    keyed_server: DevServer, tmp_path: Path, log_file: Path
) -> None:
    store = TranscriptStore.open(tmp_path / "data" / "transcripts.sqlite3")
    (tmp_path / "shots").mkdir()
    target = Target(keyed_server.base_url, DEMO_CHATBOT_ID, api_key=FAKE_KEY, environment="test")
    app = DialogApp(target, timeouts=Timeouts(read=3, stream_idle=3), policies=FAST, store=store)

    def finished() -> bool:
        return app._turn_worker is not None and app._turn_worker.is_finished

    async def say(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
        app.composer.load_text(text)
        app.composer.focus()
        await pilot.press("enter")
        await _until(pilot, finished)

    async with app.run_test(size=(100, 36)) as pilot:
        await _until(pilot, lambda: "Ready" in str(app.query_one("#status").render()))
        await pilot.press("f12")  # the inspector shows raw events, `done` with its token included
        for text in (
            "hello",
            "again !rate_limited_once",
            "oops !stream_error_fatal",
            "!escapes",
            "!drop",
        ):
            await say(pilot, text)
        keyed_server.config.scenario = "expired_token"  # a 401 and one re-authentication
        await say(pilot, "after expiry")
        keyed_server.config.scenario = "ok"
        await say(pilot, "the contact form please")
        await _until(pilot, lambda: isinstance(app.screen, FormScreen))
        app.screen.query_one("#field-name").value = "Ada"  # type: ignore[attr-defined]
        app.screen.query_one("#field-email").value = "ada@example.com"  # type: ignore[attr-defined]
        await pilot.click("#send")
        await _until(pilot, lambda: not isinstance(app.screen, FormScreen))
        app.save_screenshot(filename="app.svg", path=str(tmp_path / "shots"))
        app.inspector.query_one("EventList").focus()
        await pilot.press("end", "enter")  # the detail pane of the last event
        await pilot.pause()
        app.save_screenshot(filename="inspector-detail.svg", path=str(tmp_path / "shots"))
        inspector_text = app.inspector.detail_text
        await pilot.press("ctrl+n")
        await _until(pilot, lambda: keyed_server.stats.count("POST /auth/reset") == 1)
        conversations = [c.id for c in store.conversations()]
    exports = tmp_path / "exports"
    exports.mkdir()
    for conversation in conversations:
        (exports / f"{conversation}.json").write_text(str(store.export_json(conversation)))
        (exports / f"{conversation}.md").write_text(store.export_markdown(conversation))
    store.close()

    secrets = secrets_of(keyed_server)
    assert keyed_server.stats.count("POST /auth") >= 2, "the expired token was replaced"
    assert log_file.read_text().count("/api/v1/chat/messages") >= 6, "requests were logged"
    assert not leaks_in(inspector_text, secrets)
    assert scan_tree(tmp_path, secrets) == {}


def test_cli_writes_and_prints_no_secret(keyed_server: DevServer, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DIALOGTUI_API_KEY": FAKE_KEY,
        "DIALOGTUI_BASE_URL": keyed_server.base_url,
        "DIALOGTUI_CHATBOT_ID": DEMO_CHATBOT_ID,
        "DIALOGTUI_CONFIG_DIR": str(tmp_path / "config"),
        "DIALOGTUI_DATA_DIR": str(tmp_path / "data"),
        "DIALOGTUI_LOG_DIR": str(tmp_path / "logs"),
    }
    script = tmp_path / "script.txt"
    script.write_text("hello\nfail !stream_error_fatal\nlate !internal\n")

    def dialogtui(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "dialogtui", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    runs = [
        dialogtui("send", "hello there"),
        dialogtui("send", "--json", "json please !rate_limited_once"),
        dialogtui("send", "bad !forbidden"),
        dialogtui("run", str(script)),
        dialogtui("run", "--json", str(script)),
        dialogtui("status"),
        dialogtui("history", "--json"),
    ]
    assert runs[0].returncode == 0 and "You said" in runs[0].stdout
    assert runs[2].returncode == 3
    exported = dialogtui("export", "1", "--format", "json", "-o", str(tmp_path / "export.json"))
    assert exported.returncode == 0
    printed = "\n".join(run.stdout + run.stderr for run in [*runs, exported])

    secrets = secrets_of(keyed_server)
    assert not leaks_in(printed, secrets)
    assert (tmp_path / "logs" / "dialogtui.log").exists()
    assert scan_tree(tmp_path, secrets) == {}


async def test_crash_report_shows_no_locals(
    keyed_server: DevServer, capfd: pytest.CaptureFixture[str]
) -> None:
    target = Target(keyed_server.base_url, DEMO_CHATBOT_ID, api_key=FAKE_KEY, environment="test")
    app = DialogApp(target, policies=FAST)

    def crash() -> None:
        secret_header = f"Basic {FAKE_KEY}"  # a local a frame of the client could hold
        raise RuntimeError("boom" + secret_header[:0])

    with pytest.raises(RuntimeError, match="boom"):
        async with app.run_test() as pilot:
            await _until(pilot, lambda: app.session is not None)
            app.call_later(crash)
            await pilot.pause(0.2)
    printed = capfd.readouterr()
    report = printed.out + printed.err
    assert "RuntimeError" in report and "boom" in report
    assert FAKE_KEY not in report
