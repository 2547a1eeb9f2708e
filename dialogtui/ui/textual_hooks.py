"""Every private Textual API dialogtui relies on, in one place, each with why it is needed.

Textual gives no public way to do these; each hook is a few lines over a private name, and
`tests/test_textual_hooks.py` has a test per hook that fails when an upgrade of Textual
renames or changes what it relies on. Upgrading Textual: run those tests first.
"""

from __future__ import annotations

from typing import Any

from collections.abc import Iterator

from textual.app import App
from textual.binding import Binding
from textual.dom import DOMNode
from textual.geometry import Size
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar
from textual.widget import Widget

# Names this module reads or calls on Textual objects: the tests check each still exists.
PRIVATE_NAMES: dict[type, tuple[str, ...]] = {
    Widget: (
        "_vertical_scrollbar",
        "_size_updated",
        "_on_click",
        "_repaint_required",
        "_layout_required",
    ),
    ScrollView: ("_scroll_update",),
    App: ("_start_widget", "_clipboard", "_driver"),
    DOMNode: ("_bindings",),
    Screen: ("_on_timer_update", "_dirty_widgets", "_compositor"),
}


def install_vertical_scrollbar(view: ScrollView, bar: ScrollBar) -> ScrollBar:
    """Use `bar` as the view's vertical scrollbar. Why: the transcript's scrollbar moves at
    every streamed frame and a strip-drawn one costs a tenth of Textual's (`ui/scrollbar.py`);
    Textual creates its `ScrollBar` in the `vertical_scrollbar` property, with no factory to
    override, and starts it with the app's private `_start_widget`."""
    bar.display = False
    view._vertical_scrollbar = bar
    view.app._start_widget(view, bar)
    return bar


def set_virtual_height_quietly(view: ScrollView, size: Size) -> None:
    """Set a scroll view's virtual size without asking the screen to lay out again. Why:
    setting `virtual_size` reflows the whole screen (a third of a streaming frame) though
    only the scrollbar depends on the height when it is always shown; `_scroll_update` is
    the part of that reflow that updates the scrollbar and the scroll limits."""
    view.set_reactive(type(view).virtual_size, size)
    view._scroll_update(size)


def size_updated_without_layout(
    widget: Widget, size: Size, virtual_size: Size, container_size: Size
) -> bool:
    """`Widget._size_updated` without the second layout it asks for when the virtual size
    changes. Why: for a widget that has nothing inside to lay out (a scrollbar, a pane that
    never scrolls) that layout is a whole-screen reflow for nothing. Call from an override
    of `_size_updated` (the method Textual calls when a widget's region changes)."""
    return Widget._size_updated(widget, size, virtual_size, container_size, layout=False)


def keep_local_clipboard(app: App[Any], text: str) -> None:
    """Set Textual's in-app clipboard (what `paste` in a TextArea or Input inserts). Why:
    `App.copy_to_clipboard` sets it and writes OSC 52 in one step, and dialogtui replaces the
    OSC 52 part (a system tool first, a sequence wrapped for tmux or screen)."""
    app._clipboard = text


def write_to_terminal(app: App[Any], data: str) -> None:
    """Write raw bytes to the terminal (an escape sequence). Why: Textual writes OSC 52 only
    in its own unwrapped form; inside tmux or screen it must be wrapped to get through.
    Headless (tests) the driver swallows it."""
    driver = app._driver
    if driver is not None:
        driver.write(data)


def bindings_of(node: DOMNode) -> Iterator[Binding]:
    """Every binding a node declares (its class's and its bases', merged). Why: the help
    screen lists every key from the bindings themselves so it cannot go stale, and Textual's
    public `active_bindings` holds only those of the focused chain."""
    for bindings in node._bindings.key_to_bindings.values():
        yield from bindings


def paint_now(widget: Widget) -> None:
    """Draw a widget's pending repaint now, not after the trip Textual gives it (an `Update`
    message to the screen, then the screen's next update tick). Why: while a reply streams
    the tick runs at 60 Hz and a keypress waited for it (0-17 ms) before its frame even
    started, so a typed character took up to 30 ms to show (bench figure 6). A widget whose
    layout changes (the composer growing a line) goes the usual way. `_on_timer_update` is
    what the tick calls; anything else already dirty is drawn in the same frame."""
    screen = widget.screen
    if not (widget._repaint_required and not widget._layout_required and screen.is_current):
        return
    if widget not in screen._compositor:
        return
    widget._repaint_required = False
    screen._dirty_widgets.add(widget)
    screen._on_timer_update()
