"""Kill -9 a second after the stream goes quiet: what was typed and what was shown is on record.

Real processes, a real SIGKILL, the built-in server's `!stall` scenario (the first words of a
reply, then silence), and the store read back through the CLI a person would use.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def environment(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DIALOGTUI_DATA_DIR": str(tmp_path / "data"),
        "DIALOGTUI_CONFIG_DIR": str(tmp_path / "config"),
        "DIALOGTUI_LOG_DIR": str(tmp_path / "logs"),
        "PYTHONPATH": str(ROOT),
    }


class Output:
    """Collects a process's stdout as it comes, from a thread."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.data = b""
        self._proc = proc
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        while chunk := os.read(self._proc.stdout.fileno(), 4096):
            self.data += chunk

    def wait_for(self, text: bytes, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.data:
            assert time.monotonic() < deadline, f"{text!r} never came: {self.data!r}"
            assert self._proc.poll() is None, f"the process ended: {self.data!r}"
            time.sleep(0.02)

    def close(self) -> None:
        self._thread.join(timeout=10)


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "dialogtui", *args], env=env, capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.decode()


def saved(env: dict[str, str]) -> list[list[dict[str, object]]]:
    """Every saved conversation's messages, oldest conversation first, as `export` gives them
    (the ids from `history`)."""
    listed = json.loads(cli(env, "history", "--json", "--all"))
    return [
        json.loads(cli(env, "export", str(c["id"]), "--format", "json"))["messages"]
        for c in reversed(listed)
    ]


def killed_after_the_pause(proc: subprocess.Popen[bytes], output: Output, shown: bytes) -> None:
    """The stream's first words are out; a second of silence; then kill -9."""
    try:
        output.wait_for(shown)
        time.sleep(1.0)  # the pause itself: the scenario, not an assertion on time
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        output.close()
    assert proc.returncode == -signal.SIGKILL


def test_kill_9_of_send_after_the_stream_pauses_keeps_the_text_and_what_was_printed(
    tmp_path: Path,
) -> None:
    env = environment(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dialogtui", "send", "--demo", "stay with me !stall"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    output = Output(proc)
    killed_after_the_pause(proc, output, b"You said")
    printed = output.data.decode()
    [[user, reply]] = saved(env)
    assert (user["role"], user["text"]) == ("user", "stay with me !stall")
    assert (reply["status"], reply["text"]) == ("incomplete", printed)


def test_kill_9_of_run_after_the_stream_pauses_keeps_every_turn_so_far(tmp_path: Path) -> None:
    env = environment(tmp_path)
    script = tmp_path / "script.txt"
    script.write_text("first question\nsecond one !stall\n", encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dialogtui", "run", "--demo", str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    output = Output(proc)
    # `run` prints a turn once it has ended: turn 1 printed means turn 2 is on its way.
    killed_after_the_pause(proc, output, b"[1] > first question")
    [messages] = saved(env)
    assert [(m["role"], m["text"]) for m in messages if m["role"] == "user"] == [
        ("user", "first question"),
        ("user", "second one !stall"),
    ]
    first, second = (m for m in messages if m["role"] == "assistant")
    assert first["status"] == "done"
    # The first words, saved while the stream was quiet (nothing of turn 2 was printed).
    assert second["status"] == "incomplete"
    assert str(second["text"]).startswith("You said")


def test_kill_9_of_the_app_after_the_stream_pauses_keeps_the_text_and_what_was_shown(
    tmp_path: Path,
) -> None:
    import fcntl
    import pty
    import select
    import struct
    import termios

    env = {**environment(tmp_path), "TERM": "xterm-256color"}
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "dialogtui", "--demo"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    screen = b""

    def read_until(marker: bytes, timeout: float = 30) -> None:
        nonlocal screen
        deadline = time.monotonic() + timeout
        while marker not in screen:
            assert time.monotonic() < deadline, f"{marker!r} never showed"
            assert proc.poll() is None, "the app ended"
            if select.select([master], [], [], 0.05)[0]:
                screen += os.read(master, 65536)

    try:
        read_until(b"Ready")
        os.write(master, b"stay with me !stall\r")
        read_until(b"You said")
        time.sleep(1.0)  # the pause itself: the scenario, not an assertion on time
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)
    assert proc.returncode == -signal.SIGKILL
    [[user, reply]] = saved(env)
    assert (user["role"], user["text"]) == ("user", "stay with me !stall")
    assert reply["status"] == "incomplete"
    assert str(reply["text"]).startswith("You said: “stay with me !stall”.")  # as shown
