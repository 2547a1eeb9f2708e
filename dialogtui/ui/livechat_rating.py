"""The satisfaction prompt after a live chat: the rating screen, asking about the agent.

Apart from `ui.livechat` so that the first frame does not import the forms."""

from __future__ import annotations

from textual.widgets import Label

from .forms import RateScreen


class LiveChatRateScreen(RateScreen):
    """1–5 stars and a comment for the agent (`POST /livechat/feedback`), not the bot."""

    def __init__(self, agent_name: str) -> None:
        super().__init__()
        about = f"your chat with {agent_name}" if agent_name else "the chat"
        self.question = f"How was {about}? (1–5)"

    def on_mount(self) -> None:
        self.query(Label).first().update(self.question)
