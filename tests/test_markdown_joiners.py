"""`dialogtui export ID --format md` reads a reply as its whole text sanitized.

The reply's formatting spans are marked up one by one, but an emoji sequence split between a
plain and a bold span (👩‍ then **💻**) is still one sequence: its joiner is kept, not shown as
⟨U+200D⟩; a CR LF split between a struck and a plain span is still one line end.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from dialogtui.devserver import DEMO_CHATBOT_ID, DevServer

from .test_send_stream_text import cli_env

MARKER = "\u27e8U+200D\u27e9"


def dialogtui(tmp_path: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "dialogtui", *args],
        env=cli_env(tmp_path),
        capture_output=True,
        encoding="utf-8",
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_markdown_export_keeps_a_joiner_split_between_spans(
    server: DevServer, tmp_path: Path
) -> None:
    target = ("--base-url", server.base_url, "--chatbot-id", DEMO_CHATBOT_ID)
    dialogtui(tmp_path, "send", *target, "show me !split_joiners")
    assert server.stats.scenario_count("split_joiners") == 1
    [conversation] = json.loads(dialogtui(tmp_path, "history", "--json", "--all"))

    markdown = dialogtui(tmp_path, "export", str(conversation["id"]), "--format", "md")

    # Plain, then bold: the sequence joined, the bold markup around its second half.
    assert "A coder in two spans: \U0001f469\u200d**\U0001f4bb** (plain, then bold)." in markdown
    assert "in bold: \u2764\ufe0f\u200d**\U0001f525 fire**" in markdown
    # A link with no text reads as its URL, as in plain text (not an empty, invisible link).
    assert "fire**[https://example.com/fire](<https://example.com/fire>)" in markdown
    # Struck, then plain: the CR of the split CR LF is no marker, the markup still closes.
    assert "~~Struck line~~\nthen plain (CR LF split between spans)." in markdown
    # A joiner that joins nothing is still shown, inside its bold markup.
    assert f"**A stray joiner{MARKER}**after bold words" in markdown
    # The split_joiners paragraphs streamed as plain text read whole too.
    assert "A coder: \U0001f469\u200d\U0001f4bb (split after a joiner)." in markdown
    assert f"A wave \U0001f44b\U0001f3fd{MARKER} and a stray joiner" in markdown
