"""A vertical scrollbar drawn straight to strips, for a view whose thumb moves at every frame."""

from __future__ import annotations

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.scrollbar import ScrollBar, ScrollBarRender
from textual.strip import Strip

from .textual_hooks import size_updated_without_layout

# ScrollBarRender's own fallbacks, for a style without colours.
DEFAULT_BACK = Color.parse("#555555")
DEFAULT_BAR = Color.parse("bright_magenta")


class StripScrollBar(ScrollBar):
    """Textual's vertical `ScrollBar` with the same cells, segments and mouse actions, made
    without the Rich render and the styles cache in between.

    While a reply streams the transcript grows at every frame, so the thumb moves and the
    whole bar is drawn again: the stock path took about 3 ms for a 40-line bar, more than the
    transcript's own lines. Anything but a plain vertical bar goes the stock way. (One
    difference, never seen: under a see-through widget background, the thumb's cells, spaces
    in reverse video, carry another background colour than the stock path gives them.)"""

    def render_lines(self, crop: Region) -> list[Strip]:
        bar = self.render()
        width, height = self.size
        if not (
            self.vertical
            and type(bar) is ScrollBarRender
            and isinstance(bar.style, Style)
            and width
            and height
        ):
            return super().render_lines(crop)
        segments = ScrollBarRender.render_bar(
            size=height,
            virtual_size=bar.virtual_size,
            window_size=bar.window_size,
            position=bar.position,
            thickness=width,
            vertical=True,
            back_color=bar.style.bgcolor or DEFAULT_BACK,
            bar_color=bar.style.color or DEFAULT_BAR,
        ).segments
        # The bar repeats a handful of segments: make each line once.
        base = self.rich_style  # under the bar's styles, as Textual's content render lays it
        filters = self.get_line_filters()
        background = self.background_colors[1]
        cropped = bool(crop.x) or crop.right != width
        made: dict[Segment, Strip] = {}
        strips: list[Strip] = []
        for segment in segments[crop.y : crop.bottom]:
            strip = made.get(segment)
            if strip is None:
                text, style, control = segment
                strip = Strip([Segment(text, base + style, control)], width)
                for line_filter in filters:
                    strip = strip.apply_filter(line_filter, background)
                if cropped:
                    strip = strip.crop(crop.x, crop.right)
                made[segment] = strip
            strips.append(strip)
        return strips

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        # Textual lays the screen out a second time when a widget's virtual size changes;
        # a scrollbar has nothing inside to lay out, and the transcript's grows with the view.
        return size_updated_without_layout(self, size, virtual_size, container_size)
