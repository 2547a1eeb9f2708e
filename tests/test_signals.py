"""A real `dialogtui --demo` in a real pseudo-terminal, ended by a real signal mid-reply:
the terminal must be as it was before (termios attributes, main screen, no mouse reports)."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import sqlite3
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from dialogtui.signals import RESTORE_SEQUENCE
from dialogtui.store import DB_FILENAME

DEADLINE = 60.0  # seconds to wait for a condition; never an assertion about speed


class Terminal:
    """A pty whose far end runs the app; everything the app writes is kept."""

    def __init__(self, *argv: str) -> None:
        self.master, self.slave = pty.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        self.before = termios.tcgetattr(self.slave)
        self.output = bytearray()
        self._lock = threading.Lock()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dialogtui", *argv],
            stdin=self.slave,
            stdout=self.slave,
            stderr=self.slave,
            start_new_session=True,  # its own session, this pty its controlling terminal
            env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "24"},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self._lock:
                self.output += chunk

    def seen(self) -> bytes:
        with self._lock:
            return bytes(self.output)

    def wait_for(self, condition: object, what: str) -> None:
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            if callable(condition) and condition():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        pytest.fail(f"gave up waiting for {what}; the app wrote: {self.seen()[-2000:]!r}")

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.slave)
        os.close(self.master)


def reply_rows() -> int:
    path = Path(os.environ["DIALOGTUI_DATA_DIR"]) / DB_FILENAME
    if not path.exists():
        return 0
    db = sqlite3.connect(path)
    try:
        return int(
            db.execute(
                "SELECT count(*) FROM messages WHERE role = 'assistant' AND length(text) > 0"
            ).fetchone()[0]
        )
    except sqlite3.Error:
        return 0
    finally:
        db.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT])
def test_a_signal_mid_reply_gives_the_terminal_back(signum: int) -> None:
    terminal = Terminal("--demo")
    try:
        # The app owns the terminal: raw mode on, the alternate screen, mouse reports asked for
        # (Textual's; the emoji-width probe before it leaves the terminal as it found it).
        terminal.wait_for(lambda: b"\x1b[?1000h" in terminal.seen(), "mouse reports")
        assert terminal.seen().count(b"\x1b[?1049h") == 2  # the probe's, then the app's
        terminal.wait_for(lambda: termios.tcgetattr(terminal.slave) != terminal.before, "raw mode")
        terminal.wait_for(lambda: b"ype a message" in terminal.seen(), "the composer")
        terminal.wait_for(lambda: b"Demo Bot" in terminal.seen(), "the bot's config")
        terminal.type("hello !long")
        terminal.wait_for(lambda: b"hello !long" in terminal.seen(), "the typed text")
        terminal.type("\r")
        terminal.wait_for(lambda: reply_rows() > 0, "the reply to start streaming")
        mark = len(terminal.seen())

        terminal.process.send_signal(signum)
        terminal.process.wait(timeout=DEADLINE)
        terminal.wait_for(lambda: b"\x1b[?1049l" in terminal.seen()[mark:], "the main screen")

        after = terminal.seen()[mark:]
        assert termios.tcgetattr(terminal.slave) == terminal.before  # cooked mode, echo back
        for reset in ("\x1b[?1000l", "\x1b[?1003l", "\x1b[?1006l", "\x1b[?1049l", "\x1b[?25h"):
            assert reset.encode() in after, reset
        assert terminal.process.returncode == 128 + signum
        assert b"Traceback" not in terminal.seen()
    finally:
        terminal.close()


def test_the_fallback_restore_sequence_undoes_what_textual_turns_on() -> None:
    for mode in ("?1000", "?1003", "?1015", "?1006", "?2004", "?1049", "?1004"):
        assert f"\x1b[{mode}l" in RESTORE_SEQUENCE
    assert "\x1b[?25h" in RESTORE_SEQUENCE


STUCK_APP = """
import asyncio, os, signal, tty
from dialogtui.signals import exit_on_signals

class StuckApp:
    def exit(self, result=None, return_code=0, message=None):
        pass  # asked to exit, it never does: a worker that will not stop

async def main():
    tty.setraw(0)
    os.write(2, b"\\x1b[?1049h\\x1b[?1000h")
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.sleep(120)

with exit_on_signals(StuckApp()):
    asyncio.run(main())
"""


def test_an_app_that_does_not_exit_in_time_still_gives_the_terminal_back() -> None:
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    output = bytearray()
    process = subprocess.Popen(
        [sys.executable, "-c", STUCK_APP],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    try:
        process.wait(timeout=DEADLINE)
        while True:  # what it wrote, now that it has gone
            ready = select.select([master], [], [], 0.1)[0]
            if not ready:
                break
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        assert process.returncode == 128 + signal.SIGTERM
        assert termios.tcgetattr(slave) == before
        assert RESTORE_SEQUENCE.encode() in output
    finally:
        if process.poll() is None:
            process.kill()
        os.close(slave)
        os.close(master)
