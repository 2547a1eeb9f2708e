"""What the first frame shows where the transcript and the composer will be.

The transcript (with the renderer and the API models) and the composer (a TextArea) cost
~70 ms to import, mount and paint; the first frame shows an empty transcript and an empty
composer, so light widgets that look the same take their places, and the app swaps the real
ones in right after that frame. Keys typed meanwhile (often typed ahead, while the app was
starting) go into the composer stand-in and move over to the composer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from textual import events
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

PLACEHOLDER = "Type a message · Enter sends · Ctrl+J new line"
NEWLINE_KEYS = frozenset({"ctrl+j", "shift+enter", "alt+enter"})
_CURSOR = "$input-cursor-foreground on $input-cursor-background"
_CURSOR_LINE = "on $boost"


class TranscriptStandIn(Widget):
    """An empty transcript: the same surface and the same reserved scrollbar."""

    DEFAULT_CSS = """
    TranscriptStandIn {
        width: 1fr;
        height: 1fr;
        background: $surface;
        overflow-x: hidden;
        overflow-y: scroll;
        scrollbar-size-vertical: 1;
    }
    """

    def render(self) -> Content:
        return Content("")  # not Widget's default, which shows the class name


class ComposerStandIn(Widget, can_focus=True):
    """An empty composer that takes typed and pasted text (no editing beyond Backspace) until
    the real one replaces it and takes over the text."""

    DEFAULT_CSS = """
    ComposerStandIn {
        height: 3;
        border: tall $accent 40%;
        padding: 0 1;
        color: $foreground;
        background: $surface;
    }
    ComposerStandIn:focus {
        border: tall $accent;
    }
    """

    text: reactive[str] = reactive("")

    def __init__(self) -> None:
        super().__init__()
        self.successor: Editor | None = None
        """The composer, once it has taken over: keys still queued here go to it."""

    @dataclass
    class Submitted(Message):
        """Enter, as the composer's `Submitted`: the app answers it the same way."""

        stand_in: ComposerStandIn
        text: str

    def render(self) -> Content:
        # The text (its last line) and the cursor as the composer draws them, in its colours;
        # the cursor sits on the placeholder's first cell.
        line = self.text.rsplit("\n", 1)[-1]
        if line or self.text:
            rest = max(self.content_size.width - len(line) - 1, 0)
            return Content.assemble(
                (line, _CURSOR_LINE), (" ", _CURSOR), (" " * rest, _CURSOR_LINE)
            )
        return Content.assemble((PLACEHOLDER[0], _CURSOR), (PLACEHOLDER[1:], "$text 40%"))

    def on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            text = self.successor.text if self.successor is not None else self.text
            if text.strip():
                self.post_message(self.Submitted(self, text))
        elif event.key in NEWLINE_KEYS:
            self._type("\n")
        elif event.key == "backspace":
            if self.successor is not None:
                self.successor.action_delete_left()
            else:
                self.text = self.text[:-1]
        elif event.is_printable and event.character is not None:
            self._type(event.character)
        else:
            return  # the app's keys (Ctrl+N, F2…) still work
        event.stop()
        event.prevent_default()

    def on_paste(self, event: events.Paste) -> None:
        self._type(event.text)
        event.stop()

    def _type(self, text: str) -> None:
        if self.successor is not None:
            self.successor.insert(text)
        else:
            self.text += text


class Editor(Protocol):
    """What the stand-in needs of the composer that succeeds it (a `TextArea`, not imported
    here: the point of the stand-in is not to import it before the first frame)."""

    @property
    def text(self) -> str: ...

    def insert(self, text: str) -> object: ...

    def action_delete_left(self) -> None: ...
