"""The line above the transcript that says what lies beyond its top: older messages loading,
older ones still on the server, or the start of the conversation."""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget


class HistoryEdge(Widget):
    """One line, shown while older history loads or while the transcript's top is in view.
    Repaints itself only, like the status line."""

    DEFAULT_CSS = """
    HistoryEdge {
        height: 1;
        padding: 0 1;
        color: $text-muted;
        background: $panel;
        text-align: center;
        display: none;
    }
    """

    text: reactive[str] = reactive("")

    def show(self, text: str) -> None:
        self.text = text
        self.display = True

    def hide(self) -> None:
        self.display = False

    def render(self) -> Content:
        return Content(self.text)  # never markup


LOADING = "Loading older messages…"
MORE = "↑ Older messages are on the server · scroll up, Home, or “Load older messages” (Ctrl+P)"
START = "Start of the conversation"
STOPPED = "Older messages stop here: the server sent the same page twice"
