"""Saved conversations: pick one, read it (read-only)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Header, OptionList, Static
from textual.widgets.option_list import Option

from ..conversation.outcome import FINAL_OUTCOMES, Outcome
from ..store import ConversationSummary, StoredMessage
from ..text import sanitize_line
from .transcript import EntryState, Transcript

_STATES: dict[str, EntryState] = {outcome: outcome for outcome in FINAL_OUTCOMES}


def _summary_line(conversation: ConversationSummary) -> str:
    last = sanitize_line(conversation.last_text)[:60]
    return (
        f"#{conversation.id}  {sanitize_line(conversation.title)} · {conversation.environment} · "
        f"{conversation.started_at[:16].replace('T', ' ')} · {conversation.turns} "
        f"turn{'' if conversation.turns == 1 else 's'}" + (f" · {last}" if last else "")
    )


class ConversationPicker(ModalScreen[int | None]):
    """Dismissed with the chosen conversation's id."""

    DEFAULT_CSS = """
    ConversationPicker {
        align: center middle;
    }
    ConversationPicker > Vertical {
        width: 100;
        max-width: 95%;
        height: auto;
        max-height: 80%;
        border: thick $accent;
        background: $surface;
        padding: 1 2;
    }
    ConversationPicker OptionList {
        height: auto;
        max-height: 20;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, conversations: Sequence[ConversationSummary]) -> None:
        super().__init__()
        self._conversations = conversations

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Saved conversations (newest first) · Enter opens one read-only")
            if self._conversations:
                yield OptionList(
                    *(Option(Content(_summary_line(c)), id=str(c.id)) for c in self._conversations)
                )
            else:
                yield Static("Nothing is saved yet.")

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        assert event.option.id is not None
        self.dismiss(int(event.option.id))

    def action_close(self) -> None:
        self.dismiss(None)


class SavedConversationScreen(Screen[None]):
    """A past conversation from the local store, shown with the same transcript, read-only."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        # The live conversation's actions do not apply here: say so rather than act on it.
        Binding("f2", "read_only", "Rate (not for a saved conversation)", show=False),
        Binding("ctrl+r", "read_only", show=False),
        Binding("ctrl+o", "read_only", show=False),
        # What reads or copies works on what is on screen: this conversation.
        Binding("ctrl+f", "find", "Find"),
        Binding("f4", "copy_message(True)", "Copy", tooltip="Copy the reply as Markdown"),
        Binding("shift+f4", "copy_message(False)", "Copy the reply as plain text", show=False),
        Binding("alt+up", "message_cursor(-1)", "Point at the previous message", show=False),
        Binding("alt+down", "message_cursor(1)", "Point at the next message", show=False),
    ]

    def action_read_only(self) -> None:
        self.notify("This saved conversation is read-only: Esc goes back to the live one.")

    def action_find(self) -> None:
        from .search import open_search

        open_search(self.query_one(Transcript))

    def action_copy_message(self, markdown: bool = True) -> None:
        from .clipboard import copy_message

        copy_message(self.app, self.query_one(Transcript), markdown=markdown)

    def action_message_cursor(self, step: int) -> None:
        self.query_one(Transcript).move_cursor(step)

    def __init__(
        self, conversation: ConversationSummary, messages: Sequence[StoredMessage]
    ) -> None:
        super().__init__()
        self._conversation = conversation
        self._messages = messages

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Transcript(id="saved-transcript")
        yield Footer()

    def on_mount(self) -> None:
        self.title = (
            f"{sanitize_line(self._conversation.title)} · saved "
            f"#{self._conversation.id} (read-only)"
        )
        transcript = self.query_one(Transcript)
        transcript.bot_name = sanitize_line(self._conversation.title)
        for message in self._messages:
            role = "user" if message.role == "user" else "assistant"
            entry = transcript.add_entry(
                role, message.display_parts, state=_STATES.get(message.status, Outcome.DONE)
            )
            if message.error is not None:
                transcript.set_state(
                    entry,
                    Outcome.INCOMPLETE if message.text else Outcome.ERROR,
                    note=message.error.message,
                )
        transcript.focus()
