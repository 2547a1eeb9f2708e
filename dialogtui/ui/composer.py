"""The message composer: Enter sends, Ctrl+J (or Shift+Enter where the terminal reports it)
adds a line, Up/Down in an empty composer recall earlier messages, `?` in an empty one opens
the help. `forward_typing` sends a printable key typed elsewhere to it, so no keystroke is
lost to a focus that moved."""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, TextArea

from .recall import InputRecall
from .textual_hooks import paint_now
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

    @dataclass
    class HelpRequested(Message):
        """`?` in an empty composer."""

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
        self.recall = InputRecall()
        """Earlier messages for Up/Down; the app gives it the one kept on disk for its bot."""

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
        key = event.key
        if key == "enter":
            event.stop()
            event.prevent_default()
            if self.text.strip():
                self.recall.add(self.text)
                self._show_the_end()
                self.post_message(self.Submitted(self, self.text))
            return
        if key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        if key == "up" and self._recall_previous():
            event.stop()
            event.prevent_default()
            return
        if key == "down" and self._recall_next():
            event.stop()
            event.prevent_default()
            return
        if event.character == "?" and not self.text:
            event.stop()
            event.prevent_default()
            self.post_message(self.HelpRequested())
            return
        if event.is_printable:
            self.recall.stop()  # an edited recalled message is a new draft
        await super()._on_key(event)
        if event.is_printable or key == "backspace":
            # Typed text shows now, not at the next 60 Hz tick a streaming reply keeps going.
            paint_now(self)

    def _recall_previous(self) -> bool:
        """Up: the earlier message, from an empty composer or while browsing (cursor on the
        first line, so Up still moves within a multi-line message)."""
        if self.text and not (self.recall.browsing and self.cursor_location[0] == 0):
            return False
        text = self.recall.previous(self.text)
        if text is None:
            return self.recall.browsing  # at the oldest: stay
        self._show(text)
        return True

    def _recall_next(self) -> bool:
        if not self.recall.browsing or self.cursor_location[0] != self.document.line_count - 1:
            return False
        text = self.recall.next()
        if text is None:
            return False
        self._show(text)
        return True

    def _show_the_end(self) -> None:
        """Sending brings the conversation's end into view, wherever the person was reading."""
        from .transcript import Transcript

        for transcript in self.screen.query(Transcript):
            transcript.follow = True

    def _show(self, text: str) -> None:
        self.load_text(text)
        self.move_cursor(self.document.end)

    def restore(self, text: str) -> None:
        """Put back text whose send failed, unless the person has started typing again."""
        if not self.text.strip():
            self._show(text)


def forward_typing(screen: Screen[object], event: events.Key) -> bool:
    """Send a printable key that reached the screen unhandled (focus on the transcript, a
    button, the inspector…) to the screen's composer, focusing it. True if it did."""
    if not event.is_printable or not event.character:
        return False
    focused = screen.focused
    if isinstance(focused, (Input, TextArea)):
        return False  # an editor of its own (a form field): it had its chance
    composers = screen.query(Composer)
    if not composers:
        return False
    composer = composers.first()
    if composer.disabled or not composer.display:
        return False
    event.stop()
    event.prevent_default()
    composer.focus()
    if event.character == "?" and not composer.text:
        composer.post_message(Composer.HelpRequested())
    else:
        composer.insert(event.character)
    return True
