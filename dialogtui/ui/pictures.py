"""Small pictures of image parts, drawn with half-block cells.

Each cell is `▀` with the upper pixel as its colour and the lower as its background: two
pixels a cell, in any terminal with 256 colours or truecolor, and plain lines for the
transcript's Line API. Decoding (Pillow) is bounded: a picture that cannot be had is None,
and the part keeps its text line alone.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from rich.color import Color
from rich.console import Console
from rich.segment import Segment
from rich.style import Style

from .render import Frame, Line, frame_line

MAX_ROWS = 12  # cells: 24 pixels tall
MAX_COLUMNS = 32
MAX_PIXELS = 20_000_000  # a decompression bomb's header is refused before its pixels
UPPER_HALF = "▀"

RGB = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Picture:
    """Pixels, row by row, `width` a row; an even number of rows (two per cell)."""

    width: int
    rows: tuple[tuple[RGB, ...], ...]


def decode_picture(data: bytes, columns: int = MAX_COLUMNS, rows: int = MAX_ROWS) -> Picture | None:
    """A picture from PNG/JPEG/GIF/WebP bytes, or None for anything that does not decode
    (corrupt, not an image, too many pixels). Slow enough to belong off the event loop."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > MAX_PIXELS:
                    return None
                # Shrinks while decoding where it can (JPEG draft mode): never the full size.
                image.thumbnail((columns, 2 * rows), Image.Resampling.LANCZOS)
                rgba = image.convert("RGBA")
    except Exception:  # Pillow raises many kinds for bad input; any means "no picture"
        return None
    # Transparent pixels over black, as a dark terminal shows them.
    background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
    small = Image.alpha_composite(background, rgba).convert("RGB")
    width, height = small.size
    raw = small.tobytes()  # RGB, row by row
    pixels = [(raw[i], raw[i + 1], raw[i + 2]) for i in range(0, len(raw), 3)]
    grid = [tuple(pixels[y * width : (y + 1) * width]) for y in range(height)]
    if height % 2:
        grid.append(grid[-1])
    return Picture(width, tuple(grid))


def picture_lines(
    picture: Picture, frame: Frame, console: Console, indent: str = "   "
) -> list[Line]:
    """The picture as framed lines, two pixel rows a line."""
    lines: list[Line] = []
    for top, bottom in zip(picture.rows[::2], picture.rows[1::2], strict=True):
        cells = [
            Segment(UPPER_HALF, Style(color=Color.from_rgb(*up), bgcolor=Color.from_rgb(*down)))
            for up, down in zip(top, bottom, strict=True)
        ]
        lines.append(frame_line(frame, console, [Segment(indent), *cells]))
    return lines
