"""Live chat: a human agent takes the conversation over from the bot, for every front-end.

`LiveChat` is a state machine beside the conversation core (`core.Conversation`): it asks
for a human (`request`), polls the live-chat state and the agent's messages at the SDK's
cadence while waiting or active, sends the person's messages and typing to the agent while
active, ends the chat (`end`) and sends the satisfaction rating after a close (`rate`). It
tells its views what happened through its own typed events (`LiveChatChanged`,
`AgentMessage`, `LiveChatSent`, and the core's `Notice`). Nothing here knows of Textual.

Rules it keeps (the vendor's SDK and integration guide):
- polling every ~2 s while waiting and ~3 s while active; on errors it backs off, doubling,
  up to ~30 s; it stops on a close, on another conversation and on `stop()` (quit);
- a state older than the newest seen (`state_version`) is dropped;
- agent messages come after the last `sequence_number` seen: in order, never twice;
- waiting has an overall budget (`Settings.livechat_wait`): when it runs out the request is
  withdrawn, the person is told, and asking again is one call.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeAlias

from ..api.errors import ApiHttpError, DialogError
from .events import ChangeReason, ConversationChanged, Event, Notice, NoticeLevel, TurnEnded

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from ..api.client import DialogClient
    from ..api.models import LivechatState, Message
    from ..api.page_models import FormDefinition
    from ..attachments import Attachment
    from .core import Conversation


class Phase(StrEnum):
    OFF = "off"
    """No live chat: the bot answers."""
    REQUESTING = "requesting"
    WAITING = "waiting"
    ACTIVE = "active"
    CLOSED = "closed"
    """Ended (by `closed_by`); the bot answers again; a rating may be due."""


@dataclass(frozen=True, slots=True)
class Cadence:
    """The SDK's polling rhythm, in seconds. Tests pass a faster one."""

    waiting: float = 2.0
    active: float = 3.0
    max_backoff: float = 30.0
    typing_idle: float = 3.0
    """The person has stopped typing after this long without a key."""

    def scaled(self, factor: float) -> Cadence:
        return Cadence(
            self.waiting * factor,
            self.active * factor,
            self.max_backoff * factor,
            self.typing_idle * factor,
        )


@dataclass(frozen=True, slots=True)
class LiveChatChanged:
    """The live chat's state as the views show it (the status area)."""

    phase: Phase
    agent_name: str = ""
    agent_typing: bool = False
    closed_by: str | None = None
    """`customer` or `agent`, once closed."""
    rating_due: bool = False
    """The satisfaction prompt is due (the server's `feedback.status == pending`)."""


@dataclass(frozen=True, slots=True)
class AgentMessage:
    """A message from the agent, to show as an agent turn: in order, each once."""

    message: Message
    agent_name: str


@dataclass(frozen=True, slots=True)
class LiveChatSent:
    """The person's message went to the agent (`ok`), or did not (`error`, safe text)."""

    text: str
    ok: bool
    error: str | None = None
    attachments: tuple[Attachment, ...] = ()
    """The files sent with the text: a front-end gives them back with it when it failed."""


LiveChatEvent: TypeAlias = LiveChatChanged | AgentMessage | LiveChatSent | Notice
Listener = Callable[[LiveChatEvent], None]

_ANOTHER_CONVERSATION = frozenset(
    {ChangeReason.NEW_CONVERSATION, ChangeReason.FRESH_VISITOR, ChangeReason.SWITCHED}
)
"""Changes after which the live chat (if any) belongs to a conversation no longer shown."""

OFFLINE = "Live chat is offline right now: no agent can take the chat. The bot still answers."
NOT_ENABLED = "This bot has no live chat."  # ui.livechat has it too (no core import there)


class LiveChat:
    """The live chat of one `Conversation`. Listens to it: another conversation stops it."""

    def __init__(
        self,
        conversation: Conversation,
        *,
        cadence: Cadence | None = None,
        wait_budget: float | None = None,
        listener: Listener | None = None,
    ) -> None:
        self.conversation = conversation
        self.cadence = cadence or Cadence()
        self.wait_budget = (
            wait_budget if wait_budget is not None else conversation.target.settings.livechat_wait
        )
        self._listeners: list[Listener] = [listener] if listener is not None else []
        self.phase = Phase.OFF
        self.agent_name = ""
        self.agent_typing = False
        self.closed_by: str | None = None
        self.rating_due = False
        self.last_version: int | None = None
        self.last_sequence = 0
        self.dropped_states = 0
        """State answers dropped as older than one seen (for tests and the inspector)."""
        self.poll_errors = 0
        """Polls failed in a row."""
        self._seen_ids: set[str] = set()
        self._poller: asyncio.Task[None] | None = None
        self._waiting_since: float | None = None
        self._typing_sent = False
        self._typing_timer: asyncio.TimerHandle | None = None
        self._chores: set[asyncio.Task[object]] = set()
        self._waiting_form: FormDefinition | None = None
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        """How the poller waits between rounds (tests record the waits here)."""
        conversation.listen(self._on_conversation)

    # -- listening ----------------------------------------------------------------------------

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _emit(self, event: LiveChatEvent) -> None:
        for listener in self._listeners:
            listener(event)

    def _notice(self, text: str, level: NoticeLevel = "info") -> None:
        self._emit(Notice(text, level))

    def _changed(self) -> None:
        self._emit(
            LiveChatChanged(
                self.phase, self.agent_name, self.agent_typing, self.closed_by, self.rating_due
            )
        )

    def _on_conversation(self, event: Event) -> None:
        if isinstance(event, TurnEnded) and self.phase is Phase.WAITING:
            error = event.error
            if isinstance(error, ApiHttpError) and error.status == 409:
                # The agent joined between two polls: the bot's server refuses the send.
                self._notice(
                    "An agent has taken over: that message did not reach the bot. Send it "
                    "again: it goes to the agent.",
                    "warning",
                )
                if self.polling:
                    self._chore(self.poll_once())
                else:
                    self._start_polling()
            return
        if not isinstance(event, ConversationChanged):
            return
        if event.reason in _ANOTHER_CONVERSATION:
            if self.phase is not Phase.OFF or self.rating_due:
                self._halt()
                self._reset()
                self._changed()
        elif event.clear and self.engaged:
            # The same conversation shown afresh (reload): the agent's messages come again.
            self.last_sequence = 0
            self._seen_ids.clear()

    # -- state --------------------------------------------------------------------------------

    @property
    def client(self) -> DialogClient:
        return self.conversation.client

    @property
    def engaged(self) -> bool:
        """Asked for or talking with an agent: polling runs."""
        return self.phase in (Phase.REQUESTING, Phase.WAITING, Phase.ACTIVE)

    @property
    def active(self) -> bool:
        """An agent has the conversation: the person's messages go to the agent."""
        return self.phase is Phase.ACTIVE

    @property
    def polling(self) -> bool:
        return self._poller is not None and not self._poller.done()

    def availability(self) -> str | None:
        """Why a handover cannot be asked for now, from the config; None if it can."""
        config = self.conversation.config
        livechat = config.livechat if config is not None else None
        if livechat is None or not livechat.enabled:
            return NOT_ENABLED
        if livechat.availability_status != "live":
            return OFFLINE
        return None

    def _reset(self) -> None:
        self.phase = Phase.OFF
        self.agent_name = ""
        self.agent_typing = False
        self.closed_by = None
        self.rating_due = False
        self.last_version = None
        self.last_sequence = 0
        self.poll_errors = 0
        self._seen_ids.clear()
        self._waiting_since = None
        self._typing_sent = False

    # -- operations -----------------------------------------------------------------------------

    async def request(self, *, part_id: str | None = None) -> bool:
        """Ask for a human: from the bot's `request_human_agent` part (its `part_id`) or on the
        person's request. True if the request is in (waiting, or an agent already there)."""
        if self.engaged:
            self._notice("A live chat is already open.", "warning")
            return False
        unavailable = self.availability()
        if unavailable is not None:
            self._notice(unavailable, "warning")
            return False
        self._reset()
        self.phase = Phase.REQUESTING
        self._changed()
        source = "assistant_marker" if part_id else "manual_button"
        try:
            await self.client.livechat_handover(source, part_id=part_id)
        except DialogError as error:
            return await self._handover_refused(error)
        self._begin_waiting()
        self._notice("You asked for a human. Waiting for an agent; the bot answers meanwhile.")
        return True

    async def _handover_refused(self, error: DialogError) -> bool:
        if isinstance(error, ApiHttpError) and error.status == 409:
            # Offline, or a session is open already (another window?): if so, pick it up.
            state = await self._fetch_state()
            if state is not None and state.status in ("waiting", "active"):
                self._begin_waiting()
                self._apply(state)
                self._notice("A live chat was already open for this conversation: picked up.")
                return True
            self.phase = Phase.OFF
            self._changed()
            self._notice(
                "The server refused the handover (409): live chat is offline or a chat is "
                "already active. The bot still answers.",
                "warning",
            )
            return False
        self.phase = Phase.OFF
        self._changed()
        self._notice(f"Could not ask for a human: {error.safe_message}", "error")
        return False

    async def resume(self) -> bool:
        """After opening a conversation: pick up a live chat the server still has open."""
        if self.engaged or self.availability() == NOT_ENABLED:
            return False
        state = await self._fetch_state()
        if state is None or state.status not in ("waiting", "active"):
            return False
        self._reset()
        self._begin_waiting()
        self._apply(state)
        return True

    def _begin_waiting(self) -> None:
        self.phase = Phase.WAITING
        self._waiting_since = asyncio.get_running_loop().time()
        self._changed()
        self._start_polling()

    def check_attachments(self, attachments: Sequence[Attachment]) -> None:
        """Refuse what the live chat would refuse: any file when the bot's live chat takes
        none (`config.livechat.attachments_enabled`), or one over its
        `max_attachment_size_bytes` (or the API's limit for a message part). Raises
        `AttachmentError`."""
        from ..attachments import MESSAGE_MAX_BYTES, AttachmentError, check_count, check_size

        if not attachments:
            return
        config = self.conversation.config
        settings = config.livechat if config is not None else None
        if settings is None or not settings.attachments_enabled:
            raise AttachmentError("The live chat takes no attachments: send the text alone.")
        check_count(len(attachments))
        limit = settings.max_attachment_size_bytes or MESSAGE_MAX_BYTES
        for attachment in attachments:
            if limit < MESSAGE_MAX_BYTES:
                check_size(attachment, limit, "the live chat's limit")
            else:
                check_size(attachment, MESSAGE_MAX_BYTES, "the API's limit for a message")

    async def send(self, text: str, attachments: Sequence[Attachment] = ()) -> bool:
        """Send the person's message, and any files, to the agent (only while active). Tells
        `LiveChatSent`. Raises `AttachmentError` (nothing sent) for a file it refuses."""
        if not self.active:
            raise RuntimeError("no agent to send to")
        self.check_attachments(attachments)
        self._cancel_typing_timer()
        if self._typing_sent:  # a message ends the typing
            self._typing_sent = False
            self._chore(self._send_typing(False))
        try:
            sent = await self.client.livechat_send(
                text, [attachment.message_part() for attachment in attachments]
            )
        except DialogError as error:
            self._emit(LiveChatSent(text, False, error.safe_message, tuple(attachments)))
            if isinstance(error, ApiHttpError) and error.status == 409:
                await self.poll_once()  # most likely the agent closed meanwhile
            return False
        if sent is not None and sent.sequence_number is not None:
            # Our own message comes back in the poll: it is shown already.
            self._seen_ids.add(sent.message_id)
        self._emit(LiveChatSent(text, True))
        return True

    def typed(self) -> None:
        """The person typed in the composer: `is_typing: true` once per burst, `false` after
        `cadence.typing_idle` without a key (debounced: never a call per key)."""
        if not self.active:
            return
        if not self._typing_sent:
            self._typing_sent = True
            self._chore(self._send_typing(True))
        self._cancel_typing_timer()
        loop = asyncio.get_running_loop()
        self._typing_timer = loop.call_later(self.cadence.typing_idle, self._typing_stopped)

    def _typing_stopped(self) -> None:
        self._typing_timer = None
        if self._typing_sent and self.active:
            self._typing_sent = False
            self._chore(self._send_typing(False))

    def _cancel_typing_timer(self) -> None:
        if self._typing_timer is not None:
            self._typing_timer.cancel()
            self._typing_timer = None

    async def _send_typing(self, typing: bool) -> None:
        with contextlib.suppress(DialogError):  # a lost typing signal costs nothing
            await self.client.livechat_typing(typing)

    def _chore(self, coroutine: Coroutine[Any, Any, object]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    async def waiting_form(self) -> FormDefinition | None:
        """The waiting-room form (`config.forms`, `trigger: livechat_waiting`), its fields
        fetched once (`GET /forms/{id}`); None if the bot has none. Raises `DialogError`."""
        config = self.conversation.config
        forms = config.forms if config is not None else []
        refs = [form for form in forms if form.trigger == "livechat_waiting"]
        if not refs:
            return None
        ref = refs[0]
        cached = self._waiting_form
        if cached is None or cached.form_id != ref.form_id:
            definition = await self.client.get_form(ref.form_id)
            definition.form_id = ref.form_id
            definition.name = definition.name or ref.name
            self._waiting_form = cached = definition
        return cached

    async def save_waiting_values(self, form_id: str, values: dict[str, str]) -> None:
        """The waiting-room form's values, for the agent (`PATCH /forms/{id}/values`); only
        while waiting (the server answers 409 otherwise). Raises `DialogError`."""
        filled = {key: value.strip() for key, value in values.items() if value.strip()}
        await self.client.save_form_values(form_id, filled)

    async def end(self) -> bool:
        """The person ends the chat (or withdraws the request while waiting)."""
        if not self.engaged:
            return False
        waiting = self.phase is not Phase.ACTIVE
        self._halt()
        try:
            state = await self.client.livechat_close()
        except DialogError as error:
            self._notice(f"Could not end the live chat: {error.safe_message}", "error")
            self._start_polling()
            return False
        if waiting:  # no agent yet: nobody to rate
            self.phase, self.closed_by, self.rating_due = Phase.CLOSED, "customer", False
            if state is not None and state.state_version is not None:
                self.last_version = state.state_version
            self._changed()
            self._notice("You withdrew the request for a human. The bot answers again.")
            return True
        if state is not None:
            self._apply(state, closing=True)
        if self.phase is not Phase.CLOSED:  # an answer without a state, or an old one
            self.phase, self.closed_by, self.agent_typing = Phase.CLOSED, "customer", False
            self.rating_due = True
            self._changed()
            self._notice("You ended the live chat. The bot answers again.")
        return True

    async def rate(self, stars: int, comment: str | None = None) -> bool:
        """The satisfaction prompt's answer after a close."""
        try:
            await self.client.livechat_feedback(stars, comment)
        except DialogError as error:
            if isinstance(error, ApiHttpError) and error.status == 409:
                self.rating_due = False
                self._changed()
                self._notice("This chat was rated already, or is not closed.", "warning")
            else:
                self._notice(f"Could not send the rating: {error.safe_message}", "error")
            return False
        self.rating_due = False
        self._changed()
        self._notice("Thanks for rating the chat.")
        return True

    def dismiss_rating(self) -> None:
        if self.rating_due:
            self.rating_due = False
            self._changed()

    async def stop(self) -> None:
        """Stop polling and the typing timer (quit): the server's session stays as it is."""
        self._halt()
        chores = list(self._chores)
        for task in chores:
            task.cancel()
        for task in chores:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _halt(self) -> None:
        self._cancel_typing_timer()
        poller = self._poller
        self._poller = None
        if poller is not None and not poller.done() and poller is not asyncio.current_task():
            poller.cancel()

    # -- polling --------------------------------------------------------------------------------

    def _start_polling(self) -> None:
        if not self.polling:
            self._poller = asyncio.ensure_future(self._poll_loop())

    async def _poll_loop(self) -> None:
        delay = 0.0
        while self.engaged:
            if delay:
                await self.sleep(delay)
            if not self.engaged:
                return
            if self._waited_too_long():
                await self._give_up_waiting()
                return
            ok = await self.poll_once()
            if ok:
                delay = self.cadence.active if self.active else self.cadence.waiting
            else:
                base = self.cadence.waiting
                delay = min(self.cadence.max_backoff, base * 2**self.poll_errors)

    async def poll_once(self) -> bool:
        """One round: the state, then the agent's new messages. False if it failed."""
        try:
            state = await self.client.livechat_state()
        except DialogError as error:
            return self._poll_failed(error)
        if self.poll_errors:
            self.poll_errors = 0
            self._notice("Live chat: the server answers again.")
        # "Joined" reads before the agent's first words, and their last words before "ended".
        closing = state.status == "closed"
        if not closing:
            self._apply(state)
        if closing or self.phase is Phase.ACTIVE:
            try:
                await self._fetch_messages()
            except DialogError as error:
                return self._poll_failed(error)
        if closing:
            self._apply(state)
        return True

    def _poll_failed(self, error: DialogError) -> bool:
        self.poll_errors += 1
        if self.poll_errors == 1:
            self._notice(
                f"Live chat: the server did not answer ({error.safe_message}); "
                "trying again, less often.",
                "warning",
            )
        return False

    async def _fetch_state(self) -> LivechatState | None:
        try:
            return await self.client.livechat_state()
        except DialogError:
            return None

    async def _fetch_messages(self) -> None:
        messages = await self.client.livechat_messages(self.last_sequence)
        for message in messages:
            sequence = message.sequence_number
            if sequence is not None:
                if sequence <= self.last_sequence:
                    continue  # seen: a server that ignored after_sequence_number
                self.last_sequence = sequence
            if message.message_id and message.message_id in self._seen_ids:
                continue
            if message.message_id:
                self._seen_ids.add(message.message_id)
            if message.role == "user":
                continue  # the person's own, shown when sent
            agent = message.agent
            name = agent.display_name.strip() if agent is not None else ""
            self._emit(AgentMessage(message, name or self.agent_name or "Agent"))

    def _apply(self, state: LivechatState, *, closing: bool = False) -> None:
        version = state.state_version
        if version is not None and self.last_version is not None and version < self.last_version:
            self.dropped_states += 1
            return  # older than what we know: an answer overtaken by a newer one
        if version is not None:
            self.last_version = version
        before = (self.phase, self.agent_name, self.agent_typing, self.closed_by, self.rating_due)
        status = state.status
        if status == "waiting":
            self.phase = Phase.WAITING
        elif status == "active":
            if self.phase is not Phase.ACTIVE:
                self._waiting_since = None
            self.phase = Phase.ACTIVE
            self.agent_name = state.agent_name or self.agent_name or "Agent"
            self.agent_typing = state.is_agent_typing
        elif status == "closed":
            self.phase = Phase.CLOSED
            self.closed_by = state.closed_by or ("customer" if closing else None)
            self.agent_typing = False
            self.rating_due = state.feedback.status == "pending"
            self._halt()
        elif status == "inactive" and self.engaged:
            self.phase = Phase.OFF  # the server forgot the session (or never had one)
            self._halt()
        after = (self.phase, self.agent_name, self.agent_typing, self.closed_by, self.rating_due)
        if after != before:
            self._changed()
            if before[0] is not Phase.ACTIVE and self.phase is Phase.ACTIVE:
                self._notice(f"{self.agent_name} joined the chat. Your messages go to them now.")
            if self.phase is Phase.CLOSED and before[0] is not Phase.CLOSED:
                who = "The agent" if self.closed_by == "agent" else "You"
                self._notice(f"{who} ended the live chat. The bot answers again.")

    def _waited_too_long(self) -> bool:
        since = self._waiting_since
        if since is None or self.phase is not Phase.WAITING:
            return False
        return asyncio.get_running_loop().time() - since >= self.wait_budget

    async def _give_up_waiting(self) -> None:
        with contextlib.suppress(DialogError):  # withdraw the request; best effort
            await self.client.livechat_close()
        self._reset()
        self._changed()
        minutes = self.wait_budget / 60
        waited = f"{minutes:.0f} minutes" if minutes >= 1 else f"{self.wait_budget:.0f} seconds"
        self._notice(
            f"No agent answered within {waited}. You are back with the bot; ask for a human "
            "again whenever you like.",
            "warning",
        )
