"""The one rule for text that reaches a terminal (or a Markdown file a terminal may show).

Text from a server, a config file or one's own arguments may contain ESC, OSC or other
control characters. Shown raw, they could move the cursor, rewrite the screen, set the
clipboard, the window title or forge hyperlinks. Bidi overrides and isolates reorder what is
shown (`user<U+202E>txt.exe` reads as "userexe.txt"), and zero-width characters hide text.

So every one of them is replaced by a visible, harmless stand-in: C0 controls by their Unicode
"control pictures" (␛, ␇, ...), DEL by ␡, C1 controls by U+FFFD, and the invisible format
characters by a marker naming their code point, e.g. ⟨U+202E⟩. A developer still sees they were
there. A zero-width joiner between two pictographs stays: it only joins an emoji sequence.
JSON output is not passed through here; it keeps such characters as \\u escapes.
"""

from __future__ import annotations

import re
import unicodedata

TYPE_CHECKING = False  # not `typing`'s: argparse's `--help` output passes here (see cli.py)
if TYPE_CHECKING:
    from typing import Final

# Bidi embeddings, overrides, isolates and marks; zero-width characters and invisible
# operators; the line and paragraph separators (terminals differ on what they do).
_FORMAT: Final = (
    "\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    # Lone surrogates: bytes that were not UTF-8 (a file name, an argument), which a terminal
    # cannot even be sent. Shown as the byte they stand for.
    "\ud800-\udfff"
)
FORMAT_CHARACTERS: Final = _FORMAT
"""The invisible format characters (and lone surrogates), as a regex class fragment: JSON
output escapes these too (`store.dumps_json`)."""
# C0 controls except TAB and LF, DEL, and the C1 range (U+0080..U+009F).
_UNSAFE: Final = re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f{_FORMAT}]")
_UNSAFE_WITH_NEWLINES: Final = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{_FORMAT}]")
_ZWJ: Final = "\u200d"
_EMOJI_MODIFIERS: Final = "\ufe0f\ufe0e"


def marker(char: str) -> str:
    """The visible stand-in for one unsafe character."""
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # ␀..␟
    if code == 0x7F:
        return "\u2421"  # ␡
    if code <= 0x9F:
        return "\ufffd"
    if 0xDC80 <= code <= 0xDCFF:
        return f"\u27e80x{code - 0xDC00:02X}\u27e9"  # ⟨0xE9⟩: the byte Python kept
    return f"\u27e8U+{code:04X}\u27e9"  # ⟨U+202E⟩


def _is_pictograph(char: str) -> bool:
    return unicodedata.category(char) == "So" or 0x1F3FB <= ord(char) <= 0x1F3FF


def _joins_emoji(text: str, at: int) -> bool:
    """Whether the ZWJ at `at` sits inside an emoji sequence (👩‍💻), where it is harmless."""
    before = text[at - 1] if at > 0 else ""
    if before in _EMOJI_MODIFIERS and at > 1:
        before = text[at - 2]
    after = text[at + 1] if at + 1 < len(text) else ""
    return bool(before and after) and _is_pictograph(before) and _is_pictograph(after)


def sanitize(text: str, *, keep_newlines: bool = True) -> str:
    """Replace control, bidi and zero-width characters with visible stand-ins. Tabs become
    spaces; CR LF becomes LF."""
    return _sanitized(text, 0, len(text), keep_newlines=keep_newlines)


def _sanitized(whole: str, start: int, end: int, *, keep_newlines: bool = True) -> str:
    """`whole[start:end]` sanitized, the characters around it read as its context (a joiner
    looks at the characters beside it, a CR at the one after it)."""
    pattern = _UNSAFE if keep_newlines else _UNSAFE_WITH_NEWLINES
    first = pattern.search(whole, start, end)
    if first is None:  # most text: nothing to replace
        return whole[start:end].replace("\t", "    ")
    out: list[str] = []
    done = start
    for match in pattern.finditer(whole, first.start(), end):
        at = match.start()
        out.append(whole[done:at])
        done = at + 1
        char = match.group()
        if keep_newlines and char == "\r" and whole[at + 1 : at + 2] == "\n":
            continue  # CR LF is one line end: the LF's
        out.append(char if char == _ZWJ and _joins_emoji(whole, at) else marker(char))
    out.append(whole[done:end])
    return "".join(out).replace("\t", "    ")


def sanitize_line(text: str) -> str:
    """For one-line places (titles, labels, status lines): no newlines either."""
    return sanitize(text, keep_newlines=False)


if TYPE_CHECKING:
    from collections.abc import Sequence

HOLD_BACK: Final = "\r" + _ZWJ
"""The characters shown by what follows them: CR (CR LF is one line end) and the joiner
(kept between two pictographs). At the end of a text so far, their showing is not known yet."""


def sanitize_piece(text: str, before: str = "", after: str = "") -> str:
    """`sanitize` of `text` where it stands in a longer text, between the raw text `before`
    and `after` it (the last two characters before and the first one after are all that
    matter; `after` empty: the text ends here). Consecutive pieces, each sanitized with its
    neighbours, read as `sanitize` of the whole: an emoji sequence split between two spans
    or two streamed deltas keeps its joiner."""
    whole = before + text + after
    return _sanitized(whole, len(before), len(before) + len(text))


def sanitize_pieces(pieces: Sequence[str]) -> list[str]:
    """Each piece of a text (spans, say) sanitized where it stands in the whole: joined, they
    read as `sanitize` of the pieces joined (see `sanitize_piece`)."""
    afters: list[str] = []
    after = ""
    for piece in reversed(pieces):
        afters.append(after)
        after = piece[:1] or after
    afters.reverse()
    out: list[str] = []
    before = ""
    for piece, after in zip(pieces, afters, strict=True):
        out.append(sanitize_piece(piece, before, after))
        before = (before + piece)[-2:]
    return out


class StreamSanitizer:
    """`sanitize` for text that arrives in pieces (streamed deltas): the pieces `feed` and
    `flush` return, joined, equal `sanitize` of the whole text.

    Only CR and the joiner are shown depending on what follows them (CR LF is one line end; a
    joiner between two pictographs is kept), so only a piece's last character, if it is one of
    those, waits for the next piece or `flush`. Everything else is printed at once, sanitized
    in the light of the last two characters before it (what a joiner looks back at: a
    pictograph, perhaps with its variation selector): however long a run of symbols or emoji,
    the held part stays one character and each piece costs its own length.
    """

    def __init__(self) -> None:
        self._held = ""  # "", or a CR or joiner whose showing is not known yet
        self._before = ""  # the last two raw characters before it

    def feed(self, text: str) -> str:
        text = self._held + text
        cut = len(text) - 1 if text and text[-1] in HOLD_BACK else len(text)
        self._held = text[cut:]
        shown = sanitize_piece(text[:cut], self._before, self._held)
        self._before = (self._before + text[:cut])[-2:]
        return shown

    def flush(self) -> str:
        """The held character as the text's end shows it; what comes next starts a new text."""
        held, self._held = self._held, ""
        shown = sanitize_piece(held, self._before) if held else ""
        self._before = ""
        return shown
