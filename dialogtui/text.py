"""Make server-sent text inert before it reaches a terminal.

A reply may contain ESC, OSC or other control characters. Shown raw, they could move
the cursor, rewrite the screen, set the clipboard or forge hyperlinks. They are replaced
by visible Unicode "control pictures" so a developer can still see they were there.
"""

from __future__ import annotations

import re
from typing import Final

# C0 controls except TAB and LF, DEL, and the C1 range (U+0080..U+009F).
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")
_CONTROL_WITH_NEWLINES: Final = re.compile(r"[\x00-\x1f\x7f\x80-\x9f]")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # ␀..␟
    if code == 0x7F:
        return "\u2421"  # ␡
    return "\ufffd"


def sanitize(text: str, *, keep_newlines: bool = True) -> str:
    """Replace control characters with visible, harmless stand-ins. Tabs become spaces."""
    pattern = _CONTROL if keep_newlines else _CONTROL_WITH_NEWLINES
    if keep_newlines:
        text = text.replace("\r\n", "\n")
    return pattern.sub(_picture, text).replace("\t", "    ")


def sanitize_line(text: str) -> str:
    """For one-line places (titles, labels, status lines): no newlines either."""
    return sanitize(text, keep_newlines=False)
