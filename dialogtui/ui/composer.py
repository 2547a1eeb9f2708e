"""The message composer: Enter sends; Ctrl+J (or Shift+Enter where the terminal reports it) adds
a line."""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.message import Message
from textual.widgets import TextArea

from .standins import NEWLINE_KEYS, PLACEHOLDER


class Composer(TextArea):
    DEFAULT_CSS = """
    Composer {
        height: auto;
        min-height: 3;
        max-height: 10;
        border: tall $accent 40%;
        padding: 0 1;
    }
    Composer:focus {
        border: tall $accent;
    }
    """

    @dataclass
    class Submitted(Message):
        composer: Composer
        text: str

    def __init__(self, text: str = "", *, id: str | None = None) -> None:
        super().__init__(
            text,
            id=id,
            soft_wrap=True,
            show_line_numbers=False,
            tab_behavior="focus",
            compact=False,
            placeholder=PLACEHOLDER,
        )

    @dataclass
    class PathDropped(Message):
        """A path to an existing file was dropped or pasted (terminals paste dropped files)."""

        composer: Composer
        path: str

    async def _on_paste(self, event: events.Paste) -> None:
        # Runs before TextArea's own paste handler, which Textual calls next unless told not to.
        from ..attachments import dropped_file

        path = dropped_file(event.text)
        if path is not None:
            event.stop()
            event.prevent_default()
            self.post_message(self.PathDropped(self, path))

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            if self.text.strip():
                self.post_message(self.Submitted(self, self.text))
            return
        if event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        await super()._on_key(event)

    def restore(self, text: str) -> None:
        """Put back text whose send failed, unless the person has started typing again."""
        if not self.text.strip():
            self.load_text(text)
            self.move_cursor(self.document.end)
