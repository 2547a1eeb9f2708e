"""Local faults: a full log disk, a read-only or damaged transcript database.

Real files and real processes: the log file is /dev/full (every write fails with ENOSPC), the
read-only database is a file the process truly cannot write, the damaged one has a page of
garbage in the middle of its messages table.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from dialogtui import exitcodes
from dialogtui.store import DB_FILENAME, TranscriptStore


def dialogtui(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dialogtui", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


# --- item 4: a full log disk ----------------------------------------------------------------


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_full_log_disk_stops_logging_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "dialogtui.log").symlink_to("/dev/full")  # every write: ENOSPC
    result = dialogtui("send", "--demo", "--no-save", "hello", env={"DIALOGTUI_LOG_DIR": str(logs)})
    assert result.returncode == exitcodes.OK, result.stderr
    assert "Logging error" not in result.stderr
    assert "Traceback" not in result.stderr
    warnings = [line for line in result.stderr.splitlines() if "logging stopped" in line]
    assert warnings == [
        f"dialogtui: logging stopped (no space left on device): {logs}/dialogtui.log"
    ]
    assert "You said" in result.stdout  # the reply itself is untouched


# --- items 2 and 3: the transcript database ---------------------------------------------------


def db_path() -> Path:
    return Path(os.environ["DIALOGTUI_DATA_DIR"]) / DB_FILENAME


def saved_conversations(count: int, *, text: str = "x" * 400) -> Path:
    path = db_path()
    with TranscriptStore.open(path) as store:
        for _ in range(count):
            conversation = store.start_conversation("demo", "demo")
            store.record_user_turn(conversation, text)
    # Everything into the main file: a damaged page there is what the test is about.
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return path


def asides(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.corrupt-*"))
