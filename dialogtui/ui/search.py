"""Ctrl+F: a search bar above the transcript. Typing highlights every match in the whole
conversation (history included); Enter / Shift+Enter go to the next / previous; Esc closes."""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import Input

from .transcript import Transcript


class SearchBar(Input):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close search"),
        Binding("shift+enter,ctrl+p", "previous", "Previous match"),
        Binding("ctrl+n", "next", "Next match", show=False),
    ]
    DEFAULT_CSS = """
    SearchBar { height: 3; border: tall $warning; }
    """

    def __init__(self, transcript: Transcript) -> None:
        super().__init__(placeholder="Find in the conversation · Enter next · Esc closes")
        self.transcript = transcript

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        count = self.transcript.search(event.value)
        self.border_subtitle = f"{count} match{'es' if count != 1 else ''}" if event.value else ""

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.action_next()
            return
        await super()._on_key(event)

    def action_next(self) -> None:
        self._show(self.transcript.goto_match(-1))

    def action_previous(self) -> None:
        self._show(self.transcript.goto_match(1))

    def _show(self, where: tuple[int, int] | None) -> None:
        if where is not None:
            self.border_subtitle = f"{where[0]} of {where[1]}"

    def action_close(self) -> None:
        self.transcript.end_search()
        self.remove()
        self.app.call_later(self._focus_composer)

    def _focus_composer(self) -> None:
        from .composer import Composer

        composers = self.app.screen.query(Composer)
        if composers:
            composers.first().focus()


def open_search(transcript: Transcript) -> SearchBar:
    """Show (or focus) the search bar above `transcript`."""
    parent = transcript.parent
    assert isinstance(parent, Widget)
    existing = parent.query(SearchBar)
    if existing:
        bar = existing.first()
    else:
        bar = SearchBar(transcript)
        if parent.styles.layout is not None and parent.styles.layout.name == "horizontal":
            bar.styles.dock = "top"  # above the transcript, not beside it (the main pane)
        parent.mount(bar, before=transcript)
    bar.focus()
    return bar
