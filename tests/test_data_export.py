"""`dialogtui data-export` (the server's GET /export, the vendor's shape) and `replay` of it:
the real CLI in child processes against the dev server."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from dialogtui import exitcodes
from dialogtui.commands.run import export_turns
from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID, DevServer

from . import vendor_payloads as vendor

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    child = {k: v for k, v in os.environ.items() if not k.startswith("DIALOGTUI_")}
    child.update(
        DIALOGTUI_CONFIG_DIR=str(tmp_path / "config"),
        DIALOGTUI_DATA_DIR=str(tmp_path / "data"),
        DIALOGTUI_LOG_DIR=str(tmp_path / "logs"),
        PYTHONPATH=str(ROOT),
        COLUMNS="120",
    )
    return child


def dialogtui(
    server: DevServer, env: dict[str, str], *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "dialogtui", "--base-url", server.base_url]
    command += ["--chatbot-id", DEMO_CHATBOT_ID, "--no-save", *args]
    return subprocess.run(command, env=env, input=stdin, capture_output=True, text=True, timeout=60)


def visitor_with_two_turns(server: DevServer) -> str:
    api = f"{server.base_url}/api/v1/chat"
    token: str = httpx.post(
        f"{api}/auth", auth=(DEMO_API_KEY, ""), json={"chatbot_id": DEMO_CHATBOT_ID}
    ).json()["token"]
    for text in ("first question", "second question"):
        body = {"message": {"parts": [{"type": "text", "text": text}]}}
        with httpx.stream(
            "POST", f"{api}/messages", headers={"Authorization": f"Bearer {token}"}, json=body
        ) as response:
            response.read()
    return token


def test_data_export_writes_the_servers_data_and_replay_reads_it(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    token = visitor_with_two_turns(server)
    out = tmp_path / "my-data.json"
    done = dialogtui(
        server, env, "data-export", "--visitor-token-stdin", "-o", str(out), stdin=token + "\n"
    )
    assert done.returncode == exitcodes.OK, done.stderr
    assert "1 conversation" in done.stderr and token not in done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    data = json.loads(out.read_text())
    assert data["chatbot_id"] == DEMO_CHATBOT_ID and token not in out.read_text()
    assert [t.text for t in export_turns(data)] == ["first question", "second question"]
    assert server.stats.count("GET /export") == 1

    env["DIALOGTUI_API_KEY"] = DEMO_API_KEY
    done = dialogtui(server, env, "replay", str(out))
    assert done.returncode == exitcodes.OK, done.stderr
    assert "2 turns replayed" in done.stdout


def test_replay_reads_the_vendors_export_shape() -> None:
    data = dict(vendor.EXPORT)
    data["conversations"] = [{"messages": vendor.HISTORY_PAGE["messages"][::-1]}]
    (turn,) = export_turns(data)
    assert turn.text == "Can you send me my receipt?"
    assert turn.before is not None and "Please fill one of the forms below." in turn.before


def test_data_export_without_a_secret_says_how_to_get_one(
    server: DevServer, env: dict[str, str]
) -> None:
    done = dialogtui(server, env, "data-export")
    assert done.returncode in (exitcodes.AUTH, exitcodes.KEYRING)
    assert done.stdout == ""


async def test_the_palettes_download_writes_the_servers_data(server: DevServer) -> None:
    from dialogtui.config import data_dir

    from .test_app import SIZE, make_app, ready, send, turn_finished, wait_for

    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "keep this")
        await wait_for(pilot, turn_finished(app))
        app.main.action_download_data()
        path = data_dir() / "exports" / f"server-data-{DEMO_CHATBOT_ID}.json"
        await wait_for(pilot, path.exists)
    data = json.loads(path.read_text())
    assert [t.text for t in export_turns(data)] == ["keep this"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
