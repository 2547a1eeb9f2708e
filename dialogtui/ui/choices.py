"""The row under the transcript: choices the bot offers, and Retry when a retry is allowed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from ..text import sanitize_line

MAX_LABEL = 40
MIN_WIDTH = 8
"""Cells of the narrowest choice, its padding included (a Textual compact button's look)."""
RETRY_LABEL = "↻ Retry"


@dataclass(frozen=True, slots=True)
class Choice:
    label: str
    send_text: str


@dataclass(frozen=True, slots=True)
class _Item:
    label: str
    """As shown: one line, no control characters, at most `MAX_LABEL` characters."""
    choice: Choice | None
    """None for Retry."""


def _shown(label: str) -> str:
    label = sanitize_line(label)
    return label[: MAX_LABEL - 1] + "…" if len(label) > MAX_LABEL else label


class ActionBar(Widget, can_focus=True):
    """The choices, drawn as one line rather than as a row of Buttons.

    What the bar offers changes as every turn starts and ends. A widget mounted or removed
    makes Textual lay the whole screen out again (twice, once more for the container's new
    size) and repaint it: a few milliseconds each time, in the middle of a streaming reply.
    Drawn here, a change repaints this row only. For the same reason the row stays while it
    is empty, so the transcript above keeps its height as turns come and go.

    Left and Right move between the choices, Enter or Space chooses; a click chooses too.
    Server text is shown as text: never parsed as markup, control characters removed.
    """

    DEFAULT_CSS = """
    ActionBar {
        height: 1;
        padding: 0 1;
    }
    ActionBar > .action-bar--choice {
        color: $button-foreground;
        background: $surface;
        text-style: bold;
    }
    ActionBar > .action-bar--retry {
        color: $button-color-foreground;
        background: $warning;
        text-style: bold;
    }
    ActionBar > .action-bar--hover {
        background: $surface-darken-1;
    }
    ActionBar > .action-bar--retry-hover {
        background: $warning-darken-1;
    }
    ActionBar > .action-bar--more {
        color: $text-muted;
    }
    ActionBar > .action-bar--cursor {
        text-style: $button-focus-text-style;
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "action-bar--choice",
        "action-bar--retry",
        "action-bar--hover",
        "action-bar--retry-hover",
        "action-bar--cursor",
        "action-bar--more",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "move(-1)", "Previous choice", show=False),
        Binding("right", "move(1)", "Next choice", show=False),
        Binding("home", "move_to(0)", "First choice", show=False),
        Binding("end", "move_to(-1)", "Last choice", show=False),
        Binding("enter,space", "choose", "Choose", show=False),
    ]

    @dataclass
    class Chosen(Message):
        choice: Choice

    @dataclass
    class RetryPressed(Message):
        pass

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._items: list[_Item] = []
        self._spans: list[tuple[int, int]] = []
        """Where each item lies on the unscrolled line, in cells: (start, end)."""
        self._cursor = 0
        self._hover: int | None = None
        self._scroll = 0
        """Cells of the line scrolled off to the left, so that the cursor's item shows."""

    # -- what it offers ----------------------------------------------------------------------

    def show(self, choices: Sequence[Choice], *, retry: bool = False) -> None:
        items = [_Item(RETRY_LABEL, None)] if retry else []
        items.extend(_Item(_shown(choice.label), choice) for choice in choices)
        if not items and self.is_attached and self.screen.focused is self:
            # Not `has_focus`: it follows a message that can still be on its way. And while
            # the bar still takes focus, so that the next in line is the widget after it.
            self.screen.focus_next()
        self._items = items
        spans, position = [], 0
        for item in items:
            width = max(MIN_WIDTH, cell_len(item.label) + 2)
            spans.append((position, position + width))
            position += width + 1
        self._spans = spans
        self._cursor, self._hover, self._scroll = 0, None, 0
        self.refresh()

    def clear(self) -> None:
        """Offer nothing (a turn is starting)."""
        self.show(())

    @property
    def choices(self) -> list[Choice]:
        """What it offers, Retry left out."""
        return [item.choice for item in self._items if item.choice is not None]

    @property
    def labels(self) -> list[str]:
        """The choices' labels as shown, Retry left out."""
        return [item.label for item in self._items if item.choice is not None]

    @property
    def has_retry(self) -> bool:
        return any(item.choice is None for item in self._items)

    def item_offset(self, index: int) -> int:
        """The x of item `index`'s first cell in this widget, as it is scrolled now (for
        tests and tools; `index` must be one of the items shown)."""
        return self.styles.padding.left + self._spans[index][0] - self._scroll

    def allow_focus(self) -> bool:
        return bool(self._items)

    # -- drawing -----------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.content_size.width
        base = self.rich_style
        if y or not self._items:
            return Strip.blank(width, base)
        choice_style = self.get_component_rich_style("action-bar--choice")
        retry_style = self.get_component_rich_style("action-bar--retry")
        hover = self.get_component_rich_style("action-bar--hover", partial=True)
        retry_hover = self.get_component_rich_style("action-bar--retry-hover", partial=True)
        cursor = self.get_component_rich_style("action-bar--cursor", partial=True)
        segments: list[Segment] = []
        gap = Segment(" ", base)
        for index, (item, (start, end)) in enumerate(zip(self._items, self._spans, strict=True)):
            style: Style = retry_style if item.choice is None else choice_style
            if index == self._hover:
                style += retry_hover if item.choice is None else hover
            if index == self._cursor and self.has_focus:
                style += cursor
            padding = end - start - cell_len(item.label)
            left = padding // 2
            if segments:
                segments.append(gap)
            segments.append(Segment(" " * left + item.label + " " * (padding - left), style))
        scroll, total = self._scroll, self._spans[-1][1]
        line = Strip(segments).crop(scroll, scroll + width).extend_cell_length(width, base)
        if width > 2 and (scroll or total > scroll + width):
            # Choices cut off at either end are said to be there.
            more = base + self.get_component_rich_style("action-bar--more", partial=True)
            before = Strip([Segment("‹" if scroll else " ", more)])
            after = Strip([Segment("›" if total > scroll + width else " ", more)])
            line = Strip.join([before, line.crop(1, width - 1), after])
        return line

    def _scroll_to_cursor(self) -> None:
        """Scroll as little as shows the cursor's item (its start, if it is wider than the
        row), and no further than the row's end allows."""
        start, end = self._spans[self._cursor]
        width = self.content_size.width
        if start < self._scroll:
            self._scroll = start
        elif end > self._scroll + width:
            self._scroll = start if end - start > width else end - width
        self._scroll = max(0, min(self._scroll, self._spans[-1][1] - width))

    # -- input -------------------------------------------------------------------------------

    def action_move(self, step: int) -> None:
        if self._items:
            self.action_move_to(max(0, min(len(self._items) - 1, self._cursor + step)))

    def action_move_to(self, index: int) -> None:
        if self._items:
            self._cursor = index % len(self._items)
            self._scroll_to_cursor()
            self.refresh()

    def action_choose(self) -> None:
        if self._items:
            self._choose(self._cursor)

    def _choose(self, index: int) -> None:
        choice = self._items[index].choice
        self.post_message(self.RetryPressed() if choice is None else self.Chosen(choice))

    def _item_at(self, event: events.MouseEvent) -> int | None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y:
            return None
        x = offset.x + self._scroll
        for index, (start, end) in enumerate(self._spans):
            if start <= x < end:
                return index
        return None

    def on_click(self, event: events.Click) -> None:
        event.stop()
        index = self._item_at(event)
        if index is not None:
            self._cursor = index
            self.refresh()
            self._choose(index)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        index = self._item_at(event)
        if index != self._hover:
            self._hover = index
            self.refresh()

    def on_leave(self) -> None:
        if self._hover is not None:
            self._hover = None
            self.refresh()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def on_resize(self) -> None:
        if self._items:
            self._scroll_to_cursor()
