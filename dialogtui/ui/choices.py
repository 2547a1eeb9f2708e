"""The strip under the transcript: choices the bot offers, and Retry when a retry is allowed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import HorizontalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Button

from ..text import sanitize_line

MAX_LABEL = 40


@dataclass(frozen=True, slots=True)
class Choice:
    label: str
    send_text: str


class ChoiceButton(Button):
    def __init__(self, choice: Choice, index: int) -> None:
        label = sanitize_line(choice.label)
        if len(label) > MAX_LABEL:
            label = label[: MAX_LABEL - 1] + "…"
        # Content, not a str: server text must never be parsed as markup.
        super().__init__(Content(label), compact=True, classes="choice", id=f"choice-{index}")
        self.choice = choice


class ActionBar(HorizontalScroll):
    """Hidden while empty. Retry is shown only for an error the contract calls retryable."""

    DEFAULT_CSS = """
    ActionBar {
        height: auto;
        max-height: 3;
        padding: 0 1;
        display: none;
        scrollbar-size-horizontal: 0;
    }
    ActionBar Button {
        margin-right: 1;
        min-width: 8;
    }
    ActionBar #retry {
        text-style: bold;
    }
    """

    @dataclass
    class Chosen(Message):
        choice: Choice

    @dataclass
    class RetryPressed(Message):
        pass

    def compose(self) -> ComposeResult:
        yield from ()

    async def show(self, choices: Sequence[Choice], *, retry: bool = False) -> None:
        await self.remove_children()
        buttons: list[Button] = []
        if retry:
            buttons.append(Button("↻ Retry", variant="warning", compact=True, id="retry"))
        buttons.extend(ChoiceButton(choice, index) for index, choice in enumerate(choices))
        if buttons:
            await self.mount_all(buttons)
        self.display = bool(buttons)

    def clear(self) -> None:
        """Hide the bar. Its buttons go at the next `show`: removing them now would cost the
        screen a second reflow as a turn starts, for widgets nobody can see or focus.
        (`display`, not a CSS class: a class change restyles the bar and every button in
        it, milliseconds at the start of each turn.)"""
        self.display = False

    @property
    def has_retry(self) -> bool:
        return self.display and bool(self.query("#retry"))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if isinstance(event.button, ChoiceButton):
            self.post_message(self.Chosen(event.button.choice))
        elif event.button.id == "retry":
            self.post_message(self.RetryPressed())
