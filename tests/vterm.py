"""A terminal's screen, for tests: cells written by the updates Textual sends, as a terminal
would apply them, to compare with the screen drawn whole.

Textual sends a terminal only what changed since the last frame (a `ChopsUpdate`) unless the
whole screen changed (a `LayoutUpdate`). A widget that repaints too little leaves stale cells
on a real terminal, yet every test that renders the screen whole still passes: this catches it.
"""

from __future__ import annotations

from collections.abc import Callable

import rich.cells
from rich.console import Console
from rich.segment import ControlType, Segment
from rich.style import Style
from textual._compositor import CompositorUpdate
from textual.app import App
from textual.strip import Strip

Cell = tuple[str, Style | None]


class VirtualTerminal:
    """A width x height grid of (character, style) cells; the cursor moves only by `move_to`."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.cells: list[list[Cell]] = [[(" ", None)] * width for _ in range(height)]

    def write(self, segments: object, x: int = 0, y: int = 0) -> None:
        for segment in segments:  # type: ignore[attr-defined]
            assert isinstance(segment, Segment)
            if segment.control:
                for code in segment.control:
                    if code[0] == ControlType.CURSOR_MOVE_TO:
                        x, y = code[1], code[2]  # type: ignore[misc]
                continue
            if segment.text == "\n":
                x, y = 0, y + 1
                continue
            # Glyph by glyph, measured as the app measures them (an emoji ZWJ sequence is one
            # glyph where the terminal joins it: `dialogtui.ui.glyph_widths`).
            text = segment.text
            for start, end, width in rich.cells.split_graphemes(text)[0]:
                if 0 <= y < self.height and 0 <= x < self.width:
                    self.cells[y][x] = (text[start:end], segment.style)
                    if width == 2 and x + 1 < self.width:
                        self.cells[y][x + 1] = ("", segment.style)
                x += width

    def apply(self, update: object, console: Console) -> None:
        """Apply one of Textual's compositor updates (what `App._display` would send)."""
        self.write(update.__rich_console__(console, console.options))  # type: ignore[attr-defined]

    def load(self, strips: list[Strip]) -> None:
        """Start from a screen drawn whole."""
        self.cells = [[(" ", None)] * self.width for _ in range(self.height)]
        for y, strip in enumerate(strips):
            self.write(iter(strip), 0, y)

    def text(self) -> list[str]:
        return ["".join(char for char, _ in row) for row in self.cells]


def on_frames(app: App[object], callback: Callable[[CompositorUpdate], None]) -> Callable[[], None]:
    """Call `callback` with every update the app sends a terminal from now on (through
    `App._display`, which headless apps call too). Returns the function that stops it."""
    display = app._display

    def displayed(screen: object, update: object) -> None:
        display(screen, update)  # type: ignore[arg-type]
        if isinstance(update, CompositorUpdate):
            callback(update)

    app._display = displayed  # type: ignore[method-assign]

    def stop() -> None:
        app._display = display  # type: ignore[method-assign]

    return stop


def whole_screen(app: App[object]) -> VirtualTerminal:
    """The app's screen drawn whole, now."""
    width, height = app.size
    terminal = VirtualTerminal(width, height)
    terminal.load(app.screen._compositor.render_strips())
    return terminal
