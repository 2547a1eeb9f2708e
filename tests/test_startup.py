"""What loads before the first frame: the modules a first paint must not wait for.

Timings belong to `bench/bench_startup.py`; this pins the import graph they rest on (a stray
module-level import undoes them silently). The probe runs `dialogtui` as a person starts it,
through the CLI's `main`, in a fresh interpreter, with Textual's `App.run` replaced by a
function that records what is loaded at that moment and returns."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import json, sys
from textual.app import App

def run(self, *args, **kwargs):
    print(json.dumps(sorted(sys.modules)))

App.run = run
from dialogtui.cli import main
main(sys.argv[1:])
"""

# Each costs milliseconds to import and is first needed after the first frame: the HTTP
# client (httpx), the wire models (msgspec), the local store (sqlite3), the dev server
# (uvicorn), the session and the transcript's renderer.
AFTER_FIRST_FRAME = (
    "httpx",
    "msgspec",
    "sqlite3",
    "uvicorn",
    "starlette",
    "dialogtui.session",
    "dialogtui.store",
    "dialogtui.api.models",
    "dialogtui.ui.transcript",
    "dialogtui.ui.render",
    "PIL",
)


@pytest.mark.parametrize(
    "args",
    [
        ["--base-url", "http://127.0.0.1:9", "--chatbot-id", "bot", "--no-save"],
        ["--demo", "--no-save"],
    ],
    ids=["configured", "demo"],
)
def test_dialogtui_reaches_its_first_frame_without_what_the_frame_does_not_need(
    args: list[str], tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "DIALOGTUI_API_KEY": "key-for-the-probe",
        "DIALOGTUI_CONFIG_DIR": str(tmp_path / "c"),
        "DIALOGTUI_DATA_DIR": str(tmp_path / "d"),
        "DIALOGTUI_LOG_DIR": str(tmp_path / "l"),
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=True,
    )
    loaded = set(json.loads(result.stdout.splitlines()[-1]))
    assert {"textual.app", "dialogtui.ui.app", "dialogtui.logs"} <= loaded
    assert [name for name in AFTER_FIRST_FRAME if name in loaded] == []


def test_a_key_in_the_keyring_is_read_after_the_first_frame(tmp_path: Path) -> None:
    """A configured bot whose key is in the keyring (no key in the environment): the keyring
    (importing it, finding a backend, asking a Secret Service: ~0.2 s) is left to the app,
    after its first frame. Before, this probe never reached `App.run` here: the keyring was
    read first, and with none usable the CLI stopped with exit code 4."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DIALOGTUI_API_KEY", "DIALOGTUI_VISITOR_TOKEN")
    }
    env.update(
        DIALOGTUI_CONFIG_DIR=str(tmp_path / "c"),
        DIALOGTUI_DATA_DIR=str(tmp_path / "d"),
        DIALOGTUI_LOG_DIR=str(tmp_path / "l"),
    )
    args = ["--base-url", "http://127.0.0.1:9", "--chatbot-id", "bot", "--no-save"]
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=True,
    )
    loaded = set(json.loads(result.stdout.splitlines()[-1]))
    assert "dialogtui.ui.app" in loaded
    assert [
        name
        for name in loaded
        if name == "keyring" or name.startswith(("keyring.", "secretstorage"))
    ] == []
