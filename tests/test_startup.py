"""What loads before the first frame: the modules a first paint must not wait for.

Timings belong to `bench/bench_startup.py`; this pins the import graph, which is what
those timings rest on (a stray module-level import undoes them silently)."""

from __future__ import annotations

import json
import subprocess
import sys

# Up to the app's construction, as `dialogtui` runs it; checked in a fresh interpreter.
PROBE = """
import json, sys
import dialogtui.cli, dialogtui.commands.chat
from dialogtui.target import Target
from dialogtui.ui.app import DialogApp
DialogApp(Target("http://127.0.0.1:9", "bot", api_key="k", environment="test"))
print(json.dumps(sorted(sys.modules)))
"""

# Each costs milliseconds to import and is first needed after the first frame: the HTTP
# client (httpx), the wire models (msgspec), the local store (sqlite3), the session and the
# transcript's renderer.
AFTER_FIRST_FRAME = ("httpx", "msgspec", "sqlite3", "dialogtui.session", "dialogtui.store",
                     "dialogtui.api.models", "dialogtui.ui.transcript", "dialogtui.ui.render")


def test_the_app_is_built_without_the_modules_its_first_frame_does_not_need() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True)
    loaded = set(json.loads(result.stdout))
    assert "textual.app" in loaded and "dialogtui.ui.app" in loaded
    assert [name for name in AFTER_FIRST_FRAME if name in loaded] == []
