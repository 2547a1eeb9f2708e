"""Measure emoji sequences as this terminal draws them.

Rich, and so Textual, measures a skin-toned emoji (👍🏽), a ZWJ sequence (👨‍👩‍👧) and a character
made emoji-style by VS16 (❤️) as one glyph two cells wide. Terminals disagree: tmux draws 👍🏽 as
two glyphs (four cells) and ❤️ in one cell; xterm and Alacritty draw every part of a ZWJ
sequence. Where the app's measure and the terminal's differ, the rest of the line shifts: the
composer's right border is pushed off the screen, a table's columns no longer line up.

So before the app starts, `probe` writes one sample of each kind in the alternate screen and
asks the terminal where its cursor went (CSI 6n), which tells how wide it drew it. `apply` then
makes Rich's measuring functions, which Textual, Rich and dialogtui all call, count as the
terminal draws. A terminal that does not answer in time changes nothing.

Rich has no public way to change its measure; `apply` replaces three names in `rich.cells`
(`RICH_PRIVATE_NAMES`), and `tests/test_glyph_widths.py` checks they are still there and still
what every caller goes through. `GlyphWidths()` is Rich's own measure.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import select
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import rich.cells
from rich.cells import CellSpan, CellTable, _is_single_cell_widths
from rich.segment import Segment

log = logging.getLogger(__name__)

ZWJ = "\u200d"
VS16 = "\ufe0f"
SKIN_TONES = (0x1F3FB, 0x1F3FF)
REGIONAL_INDICATORS = (0x1F1E6, 0x1F1FF)

RICH_PRIVATE_NAMES = ("load_cell_table", "_cell_len", "split_graphemes")
"""The names `apply` replaces in `rich.cells`: its cell table, and the two functions that
every measure of a string (`cell_len`, `cached_cell_len`, `chop_cells`, `set_cell_size`,
`split_text`) calls. (`_is_single_cell_widths`, Rich's shortcut for Latin text, is used as is.)"""


@dataclass(frozen=True, slots=True)
class GlyphWidths:
    """How a terminal draws the emoji sequences terminals disagree on. The defaults are Rich's."""

    skin_tone: int = 0
    """Cells a skin-tone modifier adds after its emoji: 0 where the two make one glyph."""
    vs16_widens: bool = True
    """Whether VS16 makes a one-cell character (❤) a two-cell emoji (❤️)."""
    zwj_joins: bool = True
    """Whether a ZWJ sequence (👨‍👩‍👧) is one glyph, as wide as its first part."""
    regional_indicator: int = 1
    """Cells each regional indicator takes (a flag, 🇩🇰, is two of them)."""

    def describe(self) -> str:
        if self == GlyphWidths():
            return "emoji sequences as one glyph each"
        vs16 = "widens" if self.vs16_widens else "ignored"
        return (
            f"skin tones {self.skin_tone} cells, VS16 {vs16},"
            f" ZWJ sequences {'joined' if self.zwj_joins else 'drawn in parts'},"
            f" flags {2 * self.regional_indicator} cells"
        )


PROBE_SAMPLES: tuple[str, ...] = (
    "\U0001f44d\U0001f3fd",  # 👍🏽 thumbs up, medium skin tone
    "\u2764\ufe0f",  # ❤️ heavy black heart + VS16
    "\U0001f468\u200d\U0001f469\u200d\U0001f467",  # 👨‍👩‍👧 family: man, woman, girl
    "\U0001f1e9\U0001f1f0",  # 🇩🇰 a flag
)


def from_measured(widths: Sequence[int]) -> GlyphWidths:
    """The `GlyphWidths` a terminal has that drew `PROBE_SAMPLES` `widths` cells wide. A width
    that fits neither reading keeps Rich's."""
    thumb, heart, family, flag = widths
    rich_widths = GlyphWidths()
    return GlyphWidths(
        skin_tone={2: 0, 4: 2}.get(thumb, rich_widths.skin_tone),
        vs16_widens={1: False, 2: True}.get(heart, rich_widths.vs16_widens),
        zwj_joins={2: True, 6: False}.get(family, rich_widths.zwj_joins),
        regional_indicator={2: 1, 4: 2}.get(flag, rich_widths.regional_indicator),
    )


# -- the probe -------------------------------------------------------------------------------

_CURSOR_REPORT = re.compile(rb"\x1b\[(\d+);(\d+)R")
_ESCAPE_SEQUENCE = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|O.|.)?", re.DOTALL)
PROBE_TIMEOUT = 0.25
"""Seconds to wait for the answers (one round trip). A terminal that answers later is not
waited for: its answers reach the app, which ignores cursor reports, as long as the terminal
stays in `quiet_terminal` until the app has taken it (else they would be echoed)."""
MIN_COLUMNS = 8
"""The narrowest terminal probed: in a narrower one a sample could wrap and read wrong."""


@dataclass(frozen=True, slots=True)
class ProbeResult:
    widths: GlyphWidths | None
    """None when the terminal did not answer in time."""
    typed: str = ""
    """Text typed while the probe read the terminal: it goes to the composer."""


@contextmanager
def quiet_terminal(fd: int) -> Iterator[None]:
    """The terminal on `fd` without echo and line mode (so answers and keys can be read as
    they come, and nothing is echoed onto the screen) for the block; then as it was."""
    import termios

    saved = termios.tcgetattr(fd)
    quiet = termios.tcgetattr(fd)
    quiet[3] &= ~(termios.ICANON | termios.ECHO)
    quiet[6][termios.VMIN] = 0
    quiet[6][termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, quiet)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)


def probe(read_fd: int, write_fd: int, *, timeout: float = PROBE_TIMEOUT) -> ProbeResult:
    """Ask the terminal on `read_fd` / `write_fd` how wide it draws `PROBE_SAMPLES`. The caller
    makes sure it is a terminal, at least `MIN_COLUMNS` wide, in `quiet_terminal`."""
    # In the alternate screen, which the app is about to clear: nothing flashes in the
    # person's scrollback. Each sample starts at column 1, so the column after it is its width.
    query = "".join(f"\r{sample}\x1b[6n" for sample in PROBE_SAMPLES)
    os.write(write_fd, f"\x1b[?1049h{query}\r\x1b[2K\x1b[?1049l".encode())
    received = _read_reports(read_fd, len(PROBE_SAMPLES), timeout)
    reports = _CURSOR_REPORT.findall(received)
    typed = _typed_text(_CURSOR_REPORT.sub(b"", received))
    if len(reports) < len(PROBE_SAMPLES):
        log.info("terminal did not report its cursor in time: measuring emoji as Rich does")
        return ProbeResult(None, typed)
    widths = from_measured([int(column) - 1 for _row, column in reports])
    log.info("terminal draws %s", widths.describe())
    return ProbeResult(widths, typed)


def _read_reports(fd: int, count: int, timeout: float) -> bytes:
    received = b""
    deadline = time.monotonic() + timeout
    while len(_CURSOR_REPORT.findall(received)) < count:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        received += chunk
    return received


def _typed_text(data: bytes) -> str:
    """The text among bytes that were not the terminal's answers: keys typed during the
    probe. Escape sequences (an arrow key, Alt+key) and control characters other than a line
    end or a tab are dropped; everything else is kept, joiners and tags of emoji included."""
    text = _ESCAPE_SEQUENCE.sub("", data.decode("utf-8", "replace"))
    return "".join(char for char in text if char in "\n\t" or unicodedata.category(char) != "Cc")


# -- measuring as the terminal draws ---------------------------------------------------------

_RICH_ORIGINALS: dict[str, object] = {
    name: getattr(rich.cells, name) for name in RICH_PRIVATE_NAMES
}
_active = GlyphWidths()


def active() -> GlyphWidths:
    """The measure in force."""
    return _active


def apply(widths: GlyphWidths) -> None:
    """Make every Rich measure of text count as `widths` says (Rich's own for `GlyphWidths()`).
    Call before the app draws: widths measured earlier are not redone."""
    global _active
    _active = widths
    for name, original in _RICH_ORIGINALS.items():
        setattr(rich.cells, name, original)
    if widths != GlyphWidths():
        load = _RICH_ORIGINALS["load_cell_table"]
        assert callable(load)
        rich.cells.load_cell_table = functools.cache(  # type: ignore[attr-defined]
            functools.partial(_patched_table, load, widths)
        )
    if not widths.zwj_joins:
        # Rich's functions join a ZWJ sequence into one glyph; with the widths from the cell
        # table, they are right for every terminal that does (the tests check they agree).
        rich.cells.split_graphemes = functools.partial(_split_graphemes, widths.zwj_joins)
        rich.cells._cell_len = functools.partial(_cell_len, widths.zwj_joins)
    rich.cells.get_character_cell_size.cache_clear()
    rich.cells.cached_cell_len.cache_clear()
    Segment._split_cells.cache_clear()


def _patched_table(
    load: Callable[[str], CellTable], widths: GlyphWidths, unicode_version: str = "auto"
) -> CellTable:
    table = load(unicode_version)
    ranges = _override(list(table.widths), *SKIN_TONES, widths.skin_tone)
    ranges = _override(ranges, *REGIONAL_INDICATORS, widths.regional_indicator)
    narrow_to_wide = table.narrow_to_wide if widths.vs16_widens else frozenset[str]()
    return table._replace(widths=ranges, narrow_to_wide=narrow_to_wide)


def _override(
    ranges: list[tuple[int, int, int]], low: int, high: int, width: int
) -> list[tuple[int, int, int]]:
    """Sorted, non-overlapping (first, last, width) ranges with `low..high` set to `width`."""
    out: list[tuple[int, int, int]] = []
    for first, last, cells in ranges:
        if last < low or first > high:
            out.append((first, last, cells))
            continue
        if first < low:
            out.append((first, low - 1, cells))
        if last > high:
            out.append((high + 1, last, cells))
    out.append((low, high, width))
    out.sort()
    return out


def _split_graphemes(
    zwj_joins: bool, text: str, unicode_version: str = "auto"
) -> tuple[list[CellSpan], int]:
    """Rich's `split_graphemes` as the terminal counts: (start, end, cells) for each glyph, and
    the total. The cell table (through `get_character_cell_size`) gives each character's width;
    a ZWJ joins the next character into the glyph only where the terminal joins them."""
    narrow_to_wide = _cell_table(unicode_version).narrow_to_wide
    width_of = rich.cells.get_character_cell_size
    spans: list[CellSpan] = []
    total = 0
    widenable: str | None = None  # the last character given a width, which a VS16 may widen
    index, length = 0, len(text)
    while index < length:
        char = text[index]
        extra = 0
        if not spans and char in (ZWJ, VS16):  # nothing to join or widen: a glyph of its own
            end = index + 1
        elif char == ZWJ and zwj_joins:
            end = min(index + 2, length)
        elif char == VS16:
            end = index + 1
            if widenable is not None and widenable in narrow_to_wide:
                widenable, extra = None, 1
        elif cells := width_of(char, unicode_version):
            widenable = char
            spans.append((index, index + 1, cells))
            total += cells
            index += 1
            continue
        else:
            end = index + 1
        # Joined to the glyph before: a ZWJ and what it joins, a VS16, a zero-width character.
        if spans:
            start, _, cells = spans[-1]
            spans[-1] = (start, end, cells + extra)
            total += extra
        else:
            spans.append((index, end, 0))
        index = end
    return spans, total


def _cell_table(unicode_version: str) -> CellTable:
    table: CellTable = rich.cells.load_cell_table(unicode_version)  # type: ignore[attr-defined]
    return table


def _cell_len(zwj_joins: bool, text: str, unicode_version: str = "auto") -> int:
    # Rich's own shortcut first: most text is Latin, Greek, Cyrillic or box drawing.
    if _is_single_cell_widths(text):
        return len(text)
    if ZWJ not in text and VS16 not in text:
        width_of = rich.cells.get_character_cell_size
        return sum(width_of(char, unicode_version) for char in text)
    return _split_graphemes(zwj_joins, text, unicode_version)[1]
