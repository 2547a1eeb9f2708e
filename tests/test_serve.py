"""`dialogtui serve` as a person runs it: the banner's URL is where the server listens."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID


@pytest.fixture
def served_on_port_zero() -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """`dialogtui serve --port 0` in a child process, and its banner, up to "Ctrl-C stops it."."""
    child = subprocess.Popen(
        [sys.executable, "-m", "dialogtui", "serve", "--port", "0"],
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    try:
        banner: list[str] = []
        while not banner or "Ctrl-C stops it." not in banner[-1]:
            line = child.stdout.readline()
            assert line, f"serve ended before its banner: {banner} {child.stderr}"
            banner.append(line.rstrip("\n"))
        yield child, banner
    finally:
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def test_serve_on_port_zero_prints_the_port_it_really_bound(
    served_on_port_zero: tuple[subprocess.Popen[str], list[str]], tmp_path: Path
) -> None:
    _child, banner = served_on_port_zero
    text = "\n".join(banner)
    assert ":0/" not in text and ":0 " not in text, text
    found = re.search(r"Dialog API on (http://127\.0\.0\.1:(\d+))/api/v1/chat", text)
    assert found, text
    base_url, port = found.group(1), int(found.group(2))
    assert port > 0
    assert f"--base-url {base_url} " in text  # the command it suggests names the same URL

    # The command the banner suggests works as printed, against the URL it printed.
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIALOGTUI_")}
    env |= {
        "DIALOGTUI_API_KEY": DEMO_API_KEY,
        "DIALOGTUI_CONFIG_DIR": str(tmp_path / "config"),
        "DIALOGTUI_DATA_DIR": str(tmp_path / "data"),
    }
    sent = subprocess.run(
        [
            sys.executable,
            "-m",
            "dialogtui",
            "send",
            "--no-save",
            "--base-url",
            base_url,
            "--chatbot-id",
            DEMO_CHATBOT_ID,
            "hello from the banner",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sent.returncode == 0, sent.stderr
    assert "hello from the banner" in sent.stdout
