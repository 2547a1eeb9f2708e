"""Switch bot and environment without restarting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from ..config import DEVELOPMENT_URL, PRODUCTION_URL

LOCAL = "local"
CUSTOM = "custom"
ENVIRONMENTS: tuple[tuple[str, str], ...] = (
    ("Production", PRODUCTION_URL),
    ("Development", DEVELOPMENT_URL),
    ("Built-in local server (demo)", LOCAL),
    ("Custom URL", CUSTOM),
)


@dataclass(frozen=True, slots=True)
class SwitchRequest:
    base_url: str
    """A URL, or `LOCAL` for the built-in server."""
    chatbot_id: str


class SwitchScreen(ModalScreen[SwitchRequest | None]):
    DEFAULT_CSS = """
    SwitchScreen {
        align: center middle;
    }
    SwitchScreen > Vertical {
        width: 70;
        max-width: 95%;
        height: auto;
        border: thick $accent;
        background: $surface;
        padding: 1 2;
    }
    SwitchScreen Label {
        margin-top: 1;
    }
    SwitchScreen #custom-url {
        display: none;
    }
    SwitchScreen #custom-url.-shown {
        display: block;
    }
    SwitchScreen #switch-error {
        color: $error;
    }
    SwitchScreen Horizontal {
        height: auto;
        margin-top: 1;
        align-horizontal: right;
    }
    SwitchScreen Horizontal Button {
        margin-left: 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, base_url: str, chatbot_id: str, *, is_local: bool) -> None:
        super().__init__()
        self._base_url = base_url
        self._chatbot_id = chatbot_id
        self._is_local = is_local

    def compose(self) -> ComposeResult:
        known = {url for _, url in ENVIRONMENTS}
        current = (
            LOCAL if self._is_local else (self._base_url if self._base_url in known else CUSTOM)
        )
        with Vertical():
            yield Static("Switch bot or environment", classes="title")
            yield Label("Environment")
            yield Select(
                [(label, value) for label, value in ENVIRONMENTS],
                value=current,
                allow_blank=False,
                id="environment",
            )
            yield Input(
                self._base_url if current == CUSTOM else "",
                placeholder="https://…",
                id="custom-url",
                classes="-shown" if current == CUSTOM else "",
            )
            yield Label("Chatbot id")
            yield Input(
                "" if self._is_local else self._chatbot_id,
                placeholder="chatbot id",
                id="chatbot-id",
            )
            yield Static("", id="switch-error")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Switch", variant="primary", id="switch")

    @on(Select.Changed, "#environment")
    def _environment_changed(self, event: Select.Changed) -> None:
        self.query_one("#custom-url").set_class(event.value == CUSTOM, "-shown")

    @on(Button.Pressed, "#switch")
    @on(Input.Submitted)
    def _switch(self) -> None:
        environment = str(self.query_one("#environment", Select).value)
        base_url = (
            self.query_one("#custom-url", Input).value.strip()
            if environment == CUSTOM
            else environment
        )
        chatbot_id = self.query_one("#chatbot-id", Input).value.strip()
        error = self.query_one("#switch-error", Static)
        if not base_url:
            error.update("Enter the base URL of the API.")
            return
        if not chatbot_id and base_url != LOCAL:
            error.update("Enter the chatbot id.")
            return
        self.dismiss(SwitchRequest(base_url, chatbot_id))

    @on(Button.Pressed, "#cancel")
    def action_close(self) -> None:
        self.dismiss(None)
