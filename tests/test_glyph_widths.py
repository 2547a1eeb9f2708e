"""Emoji sequences measured as the terminal draws them (`dialogtui/ui/glyph_widths.py`).

The end-to-end test runs the real `dialogtui --demo` in a pty whose far end is pyte, a terminal
emulator that draws every code point on its own (as xterm and Alacritty do): 👍🏽 takes four
cells there, not Rich's two. The probe must find that, and the composer's right border must
stay on the screen's last column."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

import pyte
import pytest
import rich.cells
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.segment import Segment
from rich.text import Text
from textual._cells import cell_len as textual_cell_len
from wcwidth import wcwidth

from dialogtui.ui import glyph_widths
from dialogtui.ui.glyph_widths import PROBE_SAMPLES, GlyphWidths, from_measured

THUMB, HEART, FAMILY, FLAG = PROBE_SAMPLES
CODER = "\U0001f469\U0001f3fd\u200d\U0001f4bb"  # 👩🏽‍💻 a skin tone inside a ZWJ sequence
RAINBOW = "\U0001f3f3\ufe0f\u200d\U0001f308"  # 🏳️‍🌈 VS16 inside a ZWJ sequence
TMUX = GlyphWidths(skin_tone=2, vs16_widens=False)  # as tmux 3.3 drew the samples
CODEPOINT_BY_CODEPOINT = GlyphWidths(
    skin_tone=2, vs16_widens=False, zwj_joins=False, regional_indicator=2
)
DEADLINE = 60.0  # seconds to wait for the app; never an assertion about speed


@pytest.fixture(autouse=True)
def rich_measure_afterwards() -> Iterator[None]:
    yield
    glyph_widths.apply(GlyphWidths())


def test_rich_still_measures_through_the_names_apply_replaces() -> None:
    # A Rich upgrade that renames these, or stops calling them, breaks the measure: this fails.
    for name in glyph_widths.RICH_PRIVATE_NAMES:
        assert hasattr(rich.cells, name), name
    glyph_widths.apply(CODEPOINT_BY_CODEPOINT)
    text = f"a{THUMB}b{FAMILY}c{HEART}"
    expected = 1 + 4 + 1 + 6 + 1 + 1
    assert rich.cells.cell_len(text) == expected
    assert rich.cells.cached_cell_len(text) == expected
    assert textual_cell_len(text) == expected
    assert Text(text).cell_len == expected
    assert Segment(text).cell_length == expected
    assert rich.cells.get_character_cell_size("\U0001f3fd") == 2
    assert rich.cells.chop_cells(THUMB * 3, 4) == [THUMB] * 3
    assert rich.cells.cell_len(rich.cells.set_cell_size(f"{THUMB}xyz", 5)) == 5


@pytest.mark.parametrize(
    ("widths", "measured"),
    [
        (GlyphWidths(), [2, 2, 2, 2, 2, 2]),
        (TMUX, [4, 1, 2, 2, 4, 1]),
        (CODEPOINT_BY_CODEPOINT, [4, 1, 6, 4, 6, 3]),
    ],
)
def test_each_measure_counts_the_samples_as_such_a_terminal_draws_them(
    widths: GlyphWidths, measured: list[int]
) -> None:
    # TMUX's figures are what tmux 3.3a reported for the cursor after each one.
    glyph_widths.apply(widths)
    samples = [THUMB, HEART, FAMILY, FLAG, CODER, RAINBOW]
    assert [rich.cells.cell_len(sample) for sample in samples] == measured
    assert glyph_widths.active() == widths


def test_the_probe_reading_gives_back_each_kind_of_terminal() -> None:
    assert from_measured([2, 2, 2, 2]) == GlyphWidths()
    assert from_measured([4, 1, 2, 2]) == TMUX
    assert from_measured([4, 1, 6, 4]) == CODEPOINT_BY_CODEPOINT
    # A width that fits neither reading keeps Rich's for that kind.
    assert from_measured([3, 7, 5, 1]) == GlyphWidths()


def test_rich_measure_is_back_after_apply_of_the_default() -> None:
    before = {name: getattr(rich.cells, name) for name in glyph_widths.RICH_PRIVATE_NAMES}
    glyph_widths.apply(TMUX)
    assert rich.cells.cell_len(THUMB) == 4
    glyph_widths.apply(GlyphWidths())
    assert rich.cells.cell_len(THUMB) == 2
    assert {name: getattr(rich.cells, name) for name in before} == before


_EMOJI_PARTS = st.sampled_from(
    [
        *("a", " ", "\u00e9", "\u4e00", "\u0301"),  # Latin, wide CJK, a combining mark
        *("\u200d", "\ufe0f", "\ufe0e", "\u20e3", "\u200b"),  # ZWJ, VS16, VS15, keycap, ZWSP
        *("\u2764", "\U0001f44d", "\U0001f3fd", "\U0001f1e9", "\U0001f468", "\U0001f3f4"),
        *("\U000e0067", "\U000e007f", "1", "\x07"),  # tag characters, a digit, a control
    ]
)
_TEXTS = st.lists(_EMOJI_PARTS, max_size=40).map("".join)


@pytest.mark.parametrize("widths", [GlyphWidths(), TMUX])
@settings(deadline=None)  # a loaded CI machine is slow, not wrong
@given(text=_TEXTS)
def test_our_grapheme_split_joining_zwj_is_rich_own(widths: GlyphWidths, text: str) -> None:
    # For a terminal that joins ZWJ sequences `apply` keeps Rich's functions, changing only
    # the cell table; for one that does not, it puts `_split_graphemes` in their place. So the
    # two must agree exactly where the ZWJ joins, whatever the table.
    glyph_widths.apply(widths)
    assert rich.cells.split_graphemes is glyph_widths._RICH_ORIGINALS["split_graphemes"]
    expected = rich.cells.split_graphemes(text)
    assert glyph_widths._split_graphemes(True, text) == expected
    # (Rich's own `cell_len` differs from its `split_graphemes` on odd strings such as a ZWJ
    # first; ours follows the split.)
    assert glyph_widths._cell_len(True, text) == expected[1]


@settings(deadline=None)
@given(text=_TEXTS, width=st.integers(1, 6))
def test_where_zwj_does_not_join_every_measure_agrees_with_the_split(text: str, width: int) -> None:
    # The terminals that draw each part of a ZWJ sequence get `_split_graphemes` in place of
    # Rich's: its glyphs must cover the text in order, and every measure must follow them.
    glyph_widths.apply(CODEPOINT_BY_CODEPOINT)
    spans, total = rich.cells.split_graphemes(text)
    assert [start for start, _, _ in spans] == [0, *(end for _, end, _ in spans)][: len(spans)]
    assert (spans[-1][1] if spans else 0) == len(text)
    assert rich.cells.cell_len(text) == total == sum(cells for _, _, cells in spans)
    pieces = rich.cells.chop_cells(text, width)
    assert "".join(pieces) == (text if total else "")  # (Rich's: no line of no width)
    widest = max((cells for _, _, cells in spans), default=0)
    assert all(rich.cells.cell_len(piece) <= max(width, widest) for piece in pieces)


# -- the probe, against a terminal on the far end of a real pty --------------------------------


class FakeTerminal:
    """The far end of a pty that answers cursor-position queries as a terminal drawing the
    probe's samples `widths` cells wide would, and can type."""

    def __init__(self, widths: list[int] | None, typed: bytes = b"") -> None:
        self.master, self.slave = pty.openpty()
        self.widths = widths
        self.typed = typed
        self.written = b""
        self._thread = threading.Thread(target=self._answer, daemon=True)
        self._thread.start()

    def _answer(self) -> None:
        answered = 0
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                return
            self.written += chunk
            while self.widths is not None and self.written.count(b"\x1b[6n") > answered:
                if answered == 0:
                    os.write(self.master, self.typed)
                os.write(self.master, f"\x1b[1;{self.widths[answered] + 1}R".encode())
                answered += 1

    def close(self) -> None:
        os.close(self.slave)
        os.close(self.master)


def test_the_probe_reads_the_widths_and_keeps_what_was_typed_meanwhile() -> None:
    typed = "hé\x1b[A!\r\x1bé\x07" + FAMILY  # an arrow key, Enter, Alt+é, a bell, a ZWJ emoji
    terminal = FakeTerminal([4, 1, 6, 4], typed=typed.encode())
    try:
        mode_before = termios.tcgetattr(terminal.slave)
        with glyph_widths.quiet_terminal(terminal.slave):
            assert termios.tcgetattr(terminal.slave) != mode_before  # no echo, no line mode
            result = glyph_widths.probe(terminal.slave, terminal.slave, timeout=DEADLINE)
        assert termios.tcgetattr(terminal.slave) == mode_before
    finally:
        terminal.close()
    assert result.widths == CODEPOINT_BY_CODEPOINT
    # Escape sequences and controls are dropped; a line end (the tty made Enter one), and the
    # joiners of an emoji sequence, are kept.
    assert result.typed == "hé!\n" + FAMILY
    # Each sample was written at column 1 of the alternate screen, which was left again.
    assert terminal.written.startswith(b"\x1b[?1049h\r" + THUMB.encode())
    assert terminal.written.endswith(b"\x1b[?1049l")


def test_a_terminal_that_does_not_answer_changes_nothing() -> None:
    terminal = FakeTerminal(None)
    try:
        with glyph_widths.quiet_terminal(terminal.slave):
            result = glyph_widths.probe(terminal.slave, terminal.slave, timeout=0.05)
    finally:
        terminal.close()
    assert result.widths is None


# -- the real app in a terminal that draws code point by code point ----------------------------


class CodepointScreen(pyte.Screen):
    """pyte's screen drawing as xterm does: each code point on its own. pyte stops drawing a
    chunk at a zero-width character that is not a combining mark (a ZWJ, a VS16); xterm draws
    nothing for it and goes on."""

    def draw(self, data: str) -> None:
        super().draw("".join(c for c in data if wcwidth(c) != 0 or unicodedata.combining(c)))


class PyteTerminal:
    """pyte on the far end of a pty running the real app: it draws what the app writes and
    answers cursor-position queries itself, as a terminal does."""

    def __init__(
        self,
        argv: list[str],
        env: dict[str, str],
        columns: int,
        rows: int,
        answer_delay: float = 0.0,
    ) -> None:
        self.answer_delay = answer_delay
        self.written = bytearray()
        self.screen = CodepointScreen(columns, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        self.screen.write_process_input = self._answer
        self.lock = threading.Lock()
        self.process = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
        )
        os.close(slave)
        threading.Thread(target=self._read, daemon=True).start()

    def _answer(self, data: str) -> None:
        if self.answer_delay:
            threading.Timer(self.answer_delay, os.write, (self.master, data.encode())).start()
        else:
            os.write(self.master, data.encode())

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self.lock:
                self.written += chunk
                self.stream.feed(chunk)

    def lines(self) -> list[str]:
        """The screen's rows, one string item per cell ("" in the cell after a wide one)."""
        with self.lock:
            buffer, columns = self.screen.buffer, self.screen.columns
            return [
                "".join(buffer[y][x].data or "\0" for x in range(columns))
                for y in range(self.screen.lines)
            ]

    def wait_for(self, condition: Callable[[list[str]], bool], what: str) -> list[str]:
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline and self.process.poll() is None:
            lines = self.lines()
            if condition(lines):
                return lines
            time.sleep(0.05)
        pytest.fail(f"gave up waiting for {what}; the screen:\n" + "\n".join(self.lines()))

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)


TYPED = f"{THUMB * 20}|{FAMILY}|{HEART}|{FLAG}|"
"""Rich measures this narrower than the composer (56 cells); the terminal draws it much wider."""


def composer_rows(lines: list[str]) -> list[str]:
    top = next((n for n, line in enumerate(lines) if line.startswith("▊▔")), 0)
    bottom = next((n for n, line in enumerate(lines) if line.startswith("▊▁")), 0)
    return lines[top + 1 : bottom]


def shown(rows: list[str]) -> str:
    """What the rows show of the typed text, without the border, blanks and wide cells' tails."""
    return "".join(row[2:-2] for row in rows).replace("\0", "").replace(" ", "")


def run_composer(tmp_path: Path, probe: bool) -> list[str]:
    """The composer's text rows once typing TYPED into the real app, in a 60-column pyte, has
    drawn its flag (the terminal may have lost the rest)."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.toml").write_text(f"probe_emoji_widths = {str(probe).lower()}\n")
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "DIALOGTUI_LOG_DIR": str(tmp_path),
        "DIALOGTUI_CONFIG_DIR": str(tmp_path / "config"),
    }
    terminal = PyteTerminal([sys.executable, "-m", "dialogtui", "--demo"], env, 60, 20)
    try:
        terminal.wait_for(lambda lines: any("Ready" in line for line in lines), "Ready")
        terminal.type(TYPED)
        flag_drawn = FLAG[1] + ("\0|" if probe else "")
        lines = terminal.wait_for(
            lambda lines: flag_drawn in "".join(composer_rows(lines)), "the flag"
        )
    finally:
        terminal.close()
    return composer_rows(lines)


def test_the_composer_shows_all_it_holds_within_its_border(tmp_path: Path) -> None:
    rows = run_composer(tmp_path, probe=True)
    assert all(row.startswith("▊ ") and row.endswith(" ▎") for row in rows), rows
    assert shown(rows) == TYPED.replace("\u200d", "").replace("\ufe0f", "")
    # pyte draws each code point as wide as wcwidth says.
    drawn = [sum(max(0, wcwidth(char)) for char in sample) for sample in PROBE_SAMPLES]
    log = (tmp_path / "dialogtui.log").read_text()
    assert f"terminal draws {from_measured(drawn).describe()}" in log


def test_without_the_probe_the_app_measures_as_rich_and_asks_nothing(tmp_path: Path) -> None:
    # What the probe fixes: Rich's measure puts TYPED on one row, which the terminal cuts off.
    rows = run_composer(tmp_path, probe=False)
    assert shown(rows).count(THUMB[0]) < 20, rows
    assert "terminal draws" not in (tmp_path / "dialogtui.log").read_text()


def test_late_answers_are_never_echoed_onto_the_screen(tmp_path: Path) -> None:
    # A slow link: the answers come after the probe has stopped waiting. They must reach the
    # app, which ignores cursor reports (no answer typed into the composer), and never the
    # terminal's echo (echo stays off from the probe until the app has ended).
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "DIALOGTUI_LOG_DIR": str(tmp_path),
        "DIALOGTUI_PROBE_TIMEOUT": "0.02",  # answers come 0.05 s late, as the app starts
    }
    argv = [sys.executable, "-m", "dialogtui", "--demo"]
    terminal = PyteTerminal(argv, env, 60, 20, answer_delay=0.07)
    try:
        terminal.wait_for(lambda lines: any("Ready" in line for line in lines), "Ready")
        time.sleep(1.0)  # the late answers have arrived (the assertions hold either way)
        terminal.type("x")
        rows = terminal.wait_for(lambda lines: "x" in shown(composer_rows(lines)), "x")
        with terminal.lock:
            written = bytes(terminal.written)
    finally:
        terminal.close()
    assert shown(composer_rows(rows)) == "x"  # no answer typed into the composer
    assert b"^[[" not in written  # what the terminal's echo of an answer would look like
    log = (tmp_path / "dialogtui.log").read_text()
    assert "did not report its cursor in time" in log
