"""`dialogtui login`'s prompts read stdin bounded: an endless line is refused after
`MAX_LINE_CHARS`, not read to its end. The real CLI in a child process with no terminal (as
under a pipe or a CI job), a real keyring backend (in memory, in the child) and the real server.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO

import pytest

from dialogtui import exitcodes
from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID, DevServer
from dialogtui.inputs import MAX_LINE_CHARS

ENDLESS_LIMIT = 256 * MAX_LINE_CHARS  # 16 MiB: where the test stops feeding a line with no end

MEMORY_KEYRING = '''
from keyring.backend import KeyringBackend


class Keyring(KeyringBackend):
    """Secrets kept in this process only: a working keyring for a child process."""

    priority = 1

    def __init__(self):
        super().__init__()
        self.entries = {}

    def get_password(self, service, username):
        return self.entries.get((service, username))

    def set_password(self, service, username, password):
        self.entries[(service, username)] = password

    def delete_password(self, service, username):
        self.entries.pop((service, username), None)
'''


@pytest.fixture
def login_env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "memory_keyring.py").write_text(MEMORY_KEYRING)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIALOGTUI_")}
    env |= {
        "DIALOGTUI_CONFIG_DIR": str(tmp_path / "config"),
        "DIALOGTUI_DATA_DIR": str(tmp_path / "data"),
        "PYTHON_KEYRING_BACKEND": "memory_keyring.Keyring",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), env.get("PYTHONPATH")])),
    }
    return env


def login(env: dict[str, str], out: IO[bytes], err: IO[bytes]) -> subprocess.Popen[bytes]:
    """`dialogtui login`, asking its questions: a new session, so no terminal to ask on."""
    return subprocess.Popen(
        [sys.executable, "-m", "dialogtui", "login"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=out,
        stderr=err,
        start_new_session=True,
    )


def feed_then_an_endless_line(child: subprocess.Popen[bytes], lines: list[str]) -> bool:
    """Write `lines`, then a line that never ends, until the child stops reading (True) or
    ENDLESS_LIMIT bytes of it were taken (False)."""
    assert child.stdin is not None
    chunk = b"x" * (64 * 1024)
    try:
        child.stdin.write("".join(line + "\n" for line in lines).encode())
        for _ in range(ENDLESS_LIMIT // len(chunk)):
            child.stdin.write(chunk)
            child.stdin.flush()
    except BrokenPipeError:
        return True
    finally:
        with contextlib.suppress(BrokenPipeError):
            child.stdin.close()
    return False


def run_feeding(env: dict[str, str], lines: list[str]) -> tuple[bool, int, str, str]:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = login(env, out, err)
        result: list[bool] = []
        feeder = threading.Thread(
            target=lambda: result.append(feed_then_an_endless_line(child, lines))
        )
        feeder.start()
        try:
            child.wait(timeout=120)  # a guard against a hang, not a measure
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            feeder.join()
        out.seek(0)
        err.seek(0)
        return result[0], child.returncode, out.read().decode(), err.read().decode()


def test_an_endless_answer_to_the_base_url_prompt_is_refused_unread(
    login_env: dict[str, str],
) -> None:
    stopped_reading, code, out, err = run_feeding(login_env, [])
    assert "Base URL" in out  # the question was asked
    assert code == exitcodes.USAGE, err
    assert f"longer than {MAX_LINE_CHARS:,} characters" in err and "Traceback" not in err
    assert stopped_reading, "the line was read on, past the limit"


def test_an_endless_api_key_is_refused_unread_and_nothing_sent(
    server: DevServer, login_env: dict[str, str]
) -> None:
    stopped_reading, code, out, err = run_feeding(login_env, [server.base_url, DEMO_CHATBOT_ID])
    assert "Chatbot id" in out and "API key" in out + err  # both asked
    assert code == exitcodes.USAGE, err
    assert "API key" in err and f"longer than {MAX_LINE_CHARS:,} characters" in err
    assert "Traceback" not in err
    assert stopped_reading, "the key was read on, past the limit"
    assert server.stats.count("POST /auth") == 0


def test_login_by_prompts_without_a_terminal_still_works(
    server: DevServer, login_env: dict[str, str]
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "dialogtui", "login"],
        env=login_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    answers = f"{server.base_url}\n{DEMO_CHATBOT_ID}\n{DEMO_API_KEY}\n".encode()
    out, err = child.communicate(answers, timeout=120)
    assert child.returncode == exitcodes.OK, err.decode()
    assert f"Logged in to chatbot {DEMO_CHATBOT_ID}" in out.decode()
    assert DEMO_API_KEY not in out.decode() + err.decode()  # read, never echoed back
    assert server.stats.count("POST /auth") == 1
