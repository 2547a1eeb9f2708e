"""Copy that arrives: the system clipboard where a tool for it is reachable, else OSC 52.

OSC 52 asks the terminal to set its clipboard; inside tmux or GNU screen the sequence must be
wrapped to pass through, and some terminals ignore it. So a tool on this machine goes first:
`wl-copy` (Wayland), `xclip` or `xsel` (X11), `pbcopy` (macOS). `DIALOGTUI_CLIPBOARD` names
one way (`wl-copy`, `xclip`, `xsel`, `pbcopy`, `osc52`) to force it. The notice says which
way went and how many characters.
"""

from __future__ import annotations

from typing import Any

import base64
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from textual.app import App

from .textual_hooks import keep_local_clipboard, write_to_terminal
from .transcript import Transcript

ENV_CLIPBOARD = "DIALOGTUI_CLIPBOARD"

_TOOLS: dict[str, list[str]] = {
    "wl-copy": ["wl-copy"],
    "xclip": ["xclip", "-selection", "clipboard", "-in"],
    "xsel": ["xsel", "--clipboard", "--input"],
    "pbcopy": ["pbcopy"],
}
_SCREEN_CHUNK = 768  # GNU screen passes at most this much of one DCS string


@dataclass(frozen=True)
class CopyResult:
    way: str  # "wl-copy", "xclip", "xsel", "pbcopy", "OSC 52", "OSC 52 via tmux", …
    characters: int

    def notice(self) -> str:
        count = f"{self.characters:,} character{'s' if self.characters != 1 else ''}"
        if self.way.startswith("OSC 52"):
            hint = " (tmux: set-clipboard on or external)" if "tmux" in self.way else ""
            return f"Copied {count} through the terminal ({self.way}){hint}."
        return f"Copied {count} to the system clipboard ({self.way})."


def candidate_tools(env: Mapping[str, str], platform: str = sys.platform) -> list[str]:
    """The clipboard tools worth trying here, best first."""
    forced = env.get(ENV_CLIPBOARD, "").strip().lower()
    if forced:
        return [forced] if forced in _TOOLS else []
    tools: list[str] = []
    if platform == "darwin":
        tools.append("pbcopy")
    if env.get("WAYLAND_DISPLAY"):
        tools.append("wl-copy")
    if env.get("DISPLAY"):
        tools += ["xclip", "xsel"]
    return tools


def osc52(text: str, env: Mapping[str, str]) -> tuple[str, str]:
    """The OSC 52 sequence for `text`, wrapped for tmux or screen; and the way's name."""
    payload = base64.b64encode(text.encode("utf-8")).decode("ascii")
    sequence = f"\x1b]52;c;{payload}\x07"
    if env.get("TMUX"):
        # Both: tmux takes the plain one itself (`set-clipboard` on or external, its default,
        # passes it on to the terminal); the wrapped one passes through when
        # `allow-passthrough` is on. The terminal getting it twice sets the same text.
        wrapped = "\x1bPtmux;" + sequence.replace("\x1b", "\x1b\x1b") + "\x1b\\"
        return sequence + wrapped, "OSC 52 via tmux"
    if env.get("STY") or env.get("TERM", "").startswith("screen"):
        chunks = [sequence[i : i + _SCREEN_CHUNK] for i in range(0, len(sequence), _SCREEN_CHUNK)]
        return "".join(f"\x1bP{chunk}\x1b\\" for chunk in chunks), "OSC 52 via screen"
    return sequence, "OSC 52"


def _run_tool(name: str, text: str) -> bool:
    path = shutil.which(_TOOLS[name][0])
    if path is None:
        return False
    try:
        # No pipes kept: xclip and wl-copy stay behind to serve the selection, holding any
        # inherited stdout open.
        completed = subprocess.run(
            [path, *_TOOLS[name][1:]],
            input=text.encode("utf-8"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=2,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return completed.returncode == 0


def copy_text(app: App[Any], text: str, env: Mapping[str, str] | None = None) -> CopyResult:
    """Put `text` on the clipboard the best reachable way (also on Textual's own clipboard,
    for paste inside the app)."""
    env = os.environ if env is None else env
    keep_local_clipboard(app, text)
    forced = env.get(ENV_CLIPBOARD, "").strip().lower()
    if forced != "osc52":
        for name in candidate_tools(env):
            if _run_tool(name, text):
                return CopyResult(name, len(text))
    sequence, way = osc52(text, env)
    write_to_terminal(app, sequence)
    return CopyResult(way, len(text))


def copy_with_notice(app: App[Any], text: str) -> CopyResult:
    result = copy_text(app, text)
    app.notify(result.notice(), title="Copied")
    return result


def message_text(transcript: Transcript, entry_id: int, *, markdown: bool) -> str:
    """An entry's text for the clipboard: Markdown (tables, product cards with prices and
    links, strikethrough kept; the export's own writer) or the plain text as shown, with
    wrapped lines joined back as a selection's copy joins them: both the same at any width."""
    if markdown:
        from dialogtui.store import markdown_parts

        return markdown_parts(transcript.entry_parts(entry_id)[1])
    return transcript.copy_text(entry_id)


def copy_message(app: App[Any], transcript: Transcript, *, markdown: bool) -> None:
    """Copy the message under the message cursor (Alt+Up/Down), else the last reply."""
    entry_id = transcript.cursor_entry
    if entry_id is None:
        entry_id = transcript.last_entry("assistant")
    if entry_id is None:
        app.notify("There is no reply to copy yet.")
        return
    text = message_text(transcript, entry_id, markdown=markdown)
    if not text.strip():
        app.notify("That message has no text to copy.")
        return
    copy_with_notice(app, text)
