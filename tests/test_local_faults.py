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


def cannot_override_file_permissions() -> None:
    """For a child process: file permission bits bind it even if it runs as root.

    Root ignores them through CAP_DAC_OVERRIDE. Dropping that capability from the bounding set
    before exec leaves the new program (still uid 0) without it, so a 0444 file is as read-only
    for it as for anyone: a real read-only file, with no mount or second user needed.
    """
    if os.geteuid() != 0:
        return
    import ctypes

    pr_capbset_drop, cap_dac_override = 24, 1
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(pr_capbset_drop, cap_dac_override, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def as_a_process_bound_by_permissions(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dialogtui", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=cannot_override_file_permissions,
    )


def make_read_only(path: Path) -> None:
    path.chmod(0o444)
    probe = subprocess.run(
        [sys.executable, "-c", f"open({str(path)!r}, 'r+b')"],
        capture_output=True,
        text=True,
        preexec_fn=cannot_override_file_permissions,
    )
    assert "PermissionError" in probe.stderr, "the file must really be read-only for the test"


def test_a_healthy_read_only_database_is_read_not_moved_aside() -> None:
    path = saved_conversations(3, text="kept safe")
    make_read_only(path)
    before = path.read_bytes()

    history = as_a_process_bound_by_permissions("history")
    assert history.returncode == exitcodes.OK, history.stderr
    assert history.stdout.count("kept safe") == 3
    assert "read-only" in history.stderr and "nothing new is saved" in history.stderr
    assert "Traceback" not in history.stderr

    sent = as_a_process_bound_by_permissions("send", "--demo", "hello")
    assert sent.returncode == exitcodes.OK, sent.stderr
    assert "read-only" in sent.stderr

    assert asides(path) == []
    assert path.read_bytes() == before  # not moved, not written


def test_a_read_only_store_reads_and_refuses_writes_quietly() -> None:
    path = saved_conversations(1, text="kept safe")
    make_read_only(path)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from dialogtui.store import TranscriptStore as S\n"
            f"s = S.open(__import__('pathlib').Path({str(path)!r}))\n"
            "print(s.read_only, s.saving, s.status_note)\n"
            "print(s.record_user_turn(1, 'x'), len(s.messages(1)))\n",
        ],
        capture_output=True,
        text=True,
        preexec_fn=cannot_override_file_permissions,
    )
    assert result.stdout.splitlines() == [
        "True False Not saving: the transcript database is read-only",
        "0 1",
    ], result.stderr


def damage_a_page(path: Path, table: str) -> None:
    """Overwrite the root page of `table` (inside the file, past the schema) with noise."""
    db = sqlite3.connect(path)
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    [(root,)] = db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,))
    db.close()
    assert root > 1, "a page of its own, not the schema's"
    with open(path, "r+b") as fh:
        fh.seek(page_size * (root - 1))
        fh.write(bytes(range(256)) * (page_size // 256))
    check = sqlite3.connect(path)
    try:
        problems = check.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as exc:  # too damaged even to list its problems
        problems = [(str(exc),)]
    finally:
        check.close()
    assert problems != [("ok",)], "the page must really be damaged"


def test_a_damaged_page_is_moved_aside_and_the_next_run_saves_again() -> None:
    path = saved_conversations(60)
    damage_a_page(path, "messages")
    damaged_bytes = path.read_bytes()

    history = dialogtui("history", "--all")
    assert history.returncode == exitcodes.FAILED
    assert "damaged" in history.stderr and "moved to" in history.stderr
    assert "Traceback" not in history.stderr
    [aside] = asides(path)
    assert aside.read_bytes() == damaged_bytes  # never deleted, not changed

    sent = dialogtui("send", "--demo", "after the damage")
    assert sent.returncode == exitcodes.OK, sent.stderr
    assert sent.stderr == ""  # a fresh database: nothing to warn about
    listed = dialogtui("history")
    assert listed.returncode == exitcodes.OK
    assert "after the damage" in listed.stdout


def test_a_damaged_page_found_by_a_write_moves_the_file_aside_too() -> None:
    path = saved_conversations(60)
    damage_a_page(path, "conversations")
    store = TranscriptStore.open(path)  # the schema is intact: the damage is not seen yet
    assert store.saving and store.warning is None
    conversation = store.resume_or_start("demo", "demo")  # found in an intact index
    assert store.record_user_turn(conversation, "hello") == 0  # meets the damaged page
    assert not store.saving
    assert store.warning is not None and "damaged" in store.warning
    assert "next run starts a new one" in store.warning
    store.close()
    assert len(asides(path)) == 1
    with TranscriptStore.open(path) as fresh:
        assert fresh.warning is None and fresh.saving
        assert fresh.record_user_turn(fresh.start_conversation("demo", "demo"), "again") > 0


@pytest.mark.parametrize("file_too", [False, True], ids=["directory", "directory-and-file"])
def test_a_healthy_database_in_a_read_only_directory_is_read_not_moved_aside(
    file_too: bool,
) -> None:
    """No write-ahead log can be made beside it, so SQLite cannot even open it read-only in
    the usual way: it is read as immutable (there is no log, and no one can write it)."""
    path = saved_conversations(2, text="kept safe")
    if file_too:
        path.chmod(0o444)
    path.parent.chmod(0o555)
    try:
        before = path.read_bytes()
        history = as_a_process_bound_by_permissions("history")
        assert history.returncode == exitcodes.OK, history.stderr
        assert history.stdout.count("kept safe") == 2
        assert "read-only" in history.stderr
        sent = as_a_process_bound_by_permissions("send", "--demo", "hello")
        assert sent.returncode == exitcodes.OK, sent.stderr
        assert sorted(p.name for p in path.parent.iterdir()) == [DB_FILENAME]
        assert path.read_bytes() == before
    finally:
        path.parent.chmod(0o700)
