"""What the conversation core tells its views, as a few typed events.

A view (the app's main screen, `send`, `run`, `replay`) registers one callable and renders
these; it never reads the wire. Growing text is not an event per delta: `BlockGrew` names a
block once it starts to grow, and a view follows it at its own pace by
`turn.assembler.block_version` (unless the core was made with `every_event=True`, for a view
that prints as it goes: then `Streamed` comes with each stream event).

Nothing is imported at run time but the standard library: the app's main screen imports this
module before its first frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Literal, NamedTuple, TypeAlias

if TYPE_CHECKING:
    from ..api.assembler import Change
    from ..api.errors import DialogError
    from ..api.models import Config, FormMarker, Message, StreamEvent
    from ..session import Turn, TurnFigures
    from .outcome import Outcome


class FollowUp(NamedTuple):
    """A choice offered after a reply (a suggestion, a quick reply, a start prompt)."""

    label: str
    text: str
    """What choosing it sends."""


@dataclass(frozen=True, slots=True)
class TurnStarted:
    """The user's text is on record and on its way."""

    turn: Turn


@dataclass(frozen=True, slots=True)
class PartChanged:
    """A part was added, replaced or grew at its end (a row, a product); `part_index` is
    `EVERYTHING` when the whole reply was replaced (the `done` message)."""

    turn: Turn
    part_index: int

    @property
    def everything(self) -> bool:
        # Imported here: a view's first frame must not wait for the wire models.
        from ..api.assembler import EVERYTHING

        return self.part_index == EVERYTHING


@dataclass(frozen=True, slots=True)
class BlockGrew:
    """Block `block_index` of rich_text part `part_index` was added or started to grow. It
    goes on growing without further events: follow `turn.assembler.block_version`."""

    turn: Turn
    part_index: int
    block_index: int
    version: int


@dataclass(frozen=True, slots=True)
class Streamed:
    """One stream event as decoded, and what it changed (None: nothing visible). Only from a
    core made with `every_event=True`, before the PartChanged or BlockGrew it causes."""

    turn: Turn
    event: StreamEvent
    change: Change | None


@dataclass(frozen=True, slots=True)
class TurnEnded:
    """The turn is over and its record written. `retry` is the text Retry would send again
    (None: the error is not one to retry, or there was none)."""

    turn: Turn
    outcome: Outcome
    error: DialogError | None
    figures: TurnFigures
    followups: tuple[FollowUp, ...] = ()
    form: FormMarker | None = None
    retry: str | None = None


NoticeLevel: TypeAlias = Literal["info", "warning", "error"]


@dataclass(frozen=True, slots=True)
class Notice:
    """Something to tell the person, in the transcript. Safe text only."""

    text: str
    level: NoticeLevel = "info"


class ChangeReason(StrEnum):
    OPENED = "opened"
    RELOADED = "reloaded"
    NEW_CONVERSATION = "new conversation"
    FRESH_VISITOR = "fresh visitor"
    SWITCHED = "switched"
    NEW_TOKEN = "new token"
    """The server began another conversation under a turn (a 401 that needed a new token)."""


@dataclass(frozen=True, slots=True)
class ConversationChanged:
    """Another conversation, or the same one shown afresh. With `clear`, a view starts a
    clean screen from `history` (oldest first), else from `welcome` and `followups`; without
    it (NEW_TOKEN) the screen stays and `note` says what happened."""

    reason: ChangeReason
    clear: bool
    history: tuple[Message, ...] = ()
    config: Config | None = None
    welcome: str | None = None
    followups: tuple[FollowUp, ...] = ()
    note: str | None = None


@dataclass(frozen=True, slots=True)
class OlderHistory:
    """A page of older history, loaded when the person scrolled to the top: `messages`
    (oldest first) go above what is shown. `more`: older ones are still on the server."""

    messages: tuple[Message, ...]
    more: bool


Event: TypeAlias = (
    TurnStarted
    | PartChanged
    | BlockGrew
    | Streamed
    | TurnEnded
    | Notice
    | ConversationChanged
    | OlderHistory
)
