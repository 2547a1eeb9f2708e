"""Live chat on screen: the status line of a chat with a human agent, the action bar's
"Talk to a human" choice, and the satisfaction prompt after a close.

The state comes from the core's `conversation.livechat.LiveChat` (its `LiveChatChanged`);
the main screen wires the rest (`screens/main.py`, the "live chat" section). Light on
imports: the main screen composes the status line in its first frame.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from ..text import sanitize_line
from .choices import Choice

ASK_KEY = "F8"
END_KEY = "F9"
NOT_ENABLED = "This bot has no live chat."
"""What the core's `LiveChat.availability()` says of a bot without live chat."""


@dataclass(frozen=True, slots=True)
class HandoverChoice(Choice):
    """The action bar's button for the bot's `request_human_agent` part: asks for a human
    with the part's id (the handover's `assistant_marker`) instead of sending text."""

    part_id: str = ""


@dataclass(frozen=True, slots=True)
class WaitingFormChoice(Choice):
    """The action bar's button for the waiting-room form (`trigger: livechat_waiting`)."""

    form_id: str = ""


def handover_choice(part_id: str) -> HandoverChoice:
    return HandoverChoice("👤 Talk to a human", "", part_id)


def status_text(
    phase: str, agent_name: str, agent_typing: bool, closed_by: str | None, rating_due: bool
) -> str:
    """One line for the status area; empty when there is no live chat."""
    name = sanitize_line(agent_name) or "The agent"
    if phase == "requesting":
        return "👤 Asking for a human…"
    if phase == "waiting":
        return f"👤 Waiting for an agent… the bot answers meanwhile · {END_KEY} withdraws"
    if phase == "active":
        typing = f" · {name} is typing…" if agent_typing else ""
        return f"👤 Live chat with {name}{typing} · your messages go to them · {END_KEY} ends"
    if phase == "closed":
        who = "the agent" if closed_by == "agent" else "you"
        rate = " · F2 rates it" if rating_due else ""
        return f"👤 Live chat ended by {who}; the bot answers again{rate}"
    return ""


class LiveChatStatus(Widget):
    """The live chat's line in the status area: hidden while there is none."""

    DEFAULT_CSS = """
    LiveChatStatus {
        height: 1;
        padding: 0 1;
        background: $boost;
        color: $text-accent;
        display: none;
    }
    LiveChatStatus.-shown {
        display: block;
    }
    """

    text: reactive[str] = reactive("")

    def watch_text(self, text: str) -> None:
        self.set_class(bool(text), "-shown")

    def render(self) -> Content:
        return Content(self.text)  # never markup: it holds the agent's name
