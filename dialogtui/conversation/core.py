"""`Conversation`: one conversation with one bot, whatever shows it.

It owns the session (client, turn figures), the local record (which saved conversation the
turns go to, and every write, through `record.TurnRecord`), the outcome of each turn, what
Retry would resend, the follow-ups and the open form. Views call its operations and render
its events (`events`); they never touch the client or the store's writers.

One local conversation is one server conversation. The API has no conversation id: the
visitor token is the thread, and it rotates at every `done`. So a saved conversation is bound
to a fingerprint of the current token (`record.thread_of`), moved along at each rotation;
opening with a token resumes the saved conversation bound to it, and anything that makes the
server begin another conversation (no token yet, reset, a fresh visitor, a 401 that needed a
new token, the demo server started afresh) begins another saved one. Each process claims the
saved conversation it writes (`Store.claim`): a second process on the same token writes a
new one, and says so.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..api.errors import ApiHttpError, DialogError, TransportError
from ..api.retry import DEFAULT_POLICIES
from ..api.models import (
    ContactFormPart,
    FormPart,
    Message,
    QuickRepliesPart,
    StartPrompt,
    SuggestionsPart,
    SupportTicketPart,
    plain_text,
)
from ..session import ChatSession, Turn, open_session
from ..store import NullStore, Store, conversation_key
from ..target import Target
from ..text import sanitize_line
from .events import (
    BlockGrew,
    ChangeReason,
    ConversationChanged,
    Event,
    FollowUp,
    Notice,
    NoticeLevel,
    OlderHistory,
    PartChanged,
    Streamed,
    TurnEnded,
    TurnStarted,
)
from .outcome import Outcome
from .record import TurnRecord, thread_of

if TYPE_CHECKING:
    from ..api.client import DialogClient
    from ..attachments import Attachment
    from ..api.models import ActionResult, Config, FormMarker
    from ..api.retry import Operation, RetryPolicy
    from ..api.timeouts import Timeouts

HISTORY_LIMIT = 1000
"""Messages of history shown when a conversation opens."""
OLDER_PAGE_SIZE = 100
"""Messages per older page loaded at the top: the vendor's SDK asks for 100 (`limit=100`,
`ChatService.historyPageLimit`)."""

Listener = Callable[[Event], None]


class Busy(RuntimeError):
    """A turn is still running: one at a time."""


class Conversation:
    """One conversation with the bot of `target`. Open it (`open`), then send; close it.

    `every_event`: emit `Streamed` for each stream event (a view that prints as it goes);
    without it, a growing block is named once (`BlockGrew`) and followed by its version.
    `on_session` is called with each new session (the app's inspector listens there).
    """

    def __init__(
        self,
        target: Target,
        *,
        store: Store | None = None,
        listener: Listener | None = None,
        every_event: bool = False,
        timeouts: Timeouts | None = None,
        policies: Mapping[Operation, RetryPolicy] | None = None,
        on_session: Callable[[ChatSession], None] | None = None,
    ) -> None:
        self.target = target
        self.store: Store = store if store is not None else NullStore()
        self._listeners: list[Listener] = [listener] if listener is not None else []
        self._every_event = every_event
        self._timeouts = timeouts
        self._policies = policies
        self._on_session = on_session
        self.session: ChatSession | None = None
        self.config: Config | None = None
        self.turn: Turn | None = None
        """The turn running, or the last one."""
        self.retry_text: str | None = None
        """What Retry would send again: the last turn's text, if it failed retryably."""
        self._retry_attachments: tuple[Attachment, ...] = ()  # and the files sent with it
        self.followups: tuple[FollowUp, ...] = ()
        self.form: FormMarker | None = None
        """The last form the bot opened and the person has not submitted yet."""
        self.last_reply = ""
        """The plain text of the last whole reply (for copying)."""
        self.record_id = 0
        """The saved conversation turns go to (0: none yet, or saving is off)."""
        self._thread: str | None = None  # the server conversation `record_id` records
        self._record_has_turns = False
        self._record_chosen = False  # looked up for the token (`open`, or the first send)
        self._task: asyncio.Task[None] | None = None
        self._cancelling = False
        # Paging back through history: the cursor of the page before the oldest shown (None:
        # the start of the conversation is shown), the ids shown (a page never adds one twice),
        # and the load running, if any (one at a time).
        self.older_cursor: str | None = None
        self._shown_ids: set[str] = set()
        self._older_load: asyncio.Task[int] | None = None
        self._history_epoch = 0  # bumped whenever the history is shown afresh
        self.older_stopped = False
        """Paging back stopped short of the start (the server repeated a cursor)."""

    def start_prompts(self, config: Config) -> tuple[FollowUp, ...]:
        """The start prompts for the page in force (`context.page`), by the vendor's rule."""
        page = self.session.client.context_page if self.session is not None else None
        return _prompt_followups(config.start_prompts, page or self.target.settings.page)

    # -- listening ----------------------------------------------------------------------------

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _emit(self, event: Event) -> None:
        for listener in self._listeners:
            listener(event)

    def _notice(self, text: str, level: NoticeLevel = "info") -> None:
        self._emit(Notice(text, level))

    # -- state --------------------------------------------------------------------------------

    @property
    def client(self) -> DialogClient:
        return self._ensure_session().client

    @property
    def busy(self) -> bool:
        """A turn is running (one at a time)."""
        return self._task is not None and not self._task.done()

    @property
    def bot_name(self) -> str:
        config = self.config
        name = sanitize_line(config.display.name or "") if config is not None else ""
        return name or "Assistant"

    def _ensure_session(self) -> ChatSession:
        if self.session is None:
            if self.target.secret_pending:
                raise RuntimeError("no session before the target's secret is read")
            self.session = open_session(
                self.target,
                timeouts=self._timeouts,
                policies=self._policies if self._policies is not None else DEFAULT_POLICIES,
            )
            if self._on_session is not None:
                self._on_session(self.session)
        return self.session

    # -- opening and closing ----------------------------------------------------------------

    async def open(self, *, reason: ChangeReason = ChangeReason.OPENED) -> bool:
        """Connect: the saved conversation for the current token, the bot's config, the
        history. False if the bot refuses this client (401, 403 on the config) or cannot be
        reached."""
        self._ensure_session()
        note = self._resume_record()
        if not await self._load_config():
            return False
        await self._show_history(reason)
        if note is not None:
            self._notice(note)  # after the history: a view clears its screen for that
        return True

    async def close(self) -> None:
        """Stop the turn in flight, close the connections, give up the record's claim
        (`record_id` still names it)."""
        await self.stop()
        if self.record_id:
            self.store.release(self.record_id)
        if self.session is not None:
            await self.session.client.aclose()

    async def offer_start_prompts(self) -> None:
        """The bot's config, and its start prompts as the follow-ups, for a conversation used
        without `open` (`dialogtui test`, whose first turn may choose a start prompt). A
        failure is a notice, and nothing is offered."""
        if await self._load_config() and self.config is not None:
            self.followups = self.start_prompts(self.config)

    async def _load_config(self) -> bool:
        try:
            self.config = await self.client.get_config()
        except DialogError as error:
            self._notice(error.safe_message, "error")
            # Refused (401, 403), or unreachable (a timeout, no connection): history would
            # only wait as long again and fail with a second notice, and a welcome screen
            # would clear the first and look ready.
            refused = isinstance(error, ApiHttpError) and error.status in (401, 403)
            if refused or isinstance(error, TransportError):
                return False
        if self.record_id:
            self.store.set_bot_name(self.record_id, self.bot_name)
        return True

    async def _show_history(self, reason: ChangeReason) -> None:
        try:
            history = await self.client.get_history(max_messages=HISTORY_LIMIT)
        except DialogError as error:
            self._notice(error.safe_message, "error")
            history = []
        self._history_epoch += 1
        self.older_stopped = False
        self.older_cursor = self.client.history_cursor if history else None
        self._shown_ids = {m.message_id for m in history if m.message_id}
        self.form = None
        self.retry_text = None
        replies = [m for m in history if m.role != "user"]
        self.last_reply = plain_text(replies[-1].parts) if replies else ""
        if history:
            # The vendor shows start prompts until the first *user* turn (a welcome in history
            # is not one).
            config = self.config
            no_user_turn = not any(m.role == "user" for m in history)
            self.followups = self.start_prompts(config) if config and no_user_turn else ()
            self._emit(
                ConversationChanged(
                    reason, True, tuple(history), self.config, followups=self.followups
                )
            )
            if self.client.history_cursor is not None:  # a cap is said, never silent
                self._notice(
                    f"Showing the latest {len(history):,} messages; older ones load when you "
                    "scroll to the top (`dialogtui data-export` downloads them all)."
                )
            return
        self._show_welcome(reason)

    @property
    def has_older(self) -> bool:
        """Older messages are on the server, not shown yet."""
        return self.older_cursor is not None

    @property
    def loading_older(self) -> bool:
        return self._older_load is not None and not self._older_load.done()

    async def load_older(self) -> int:
        """Fetch the page before the oldest message shown and emit it (`OlderHistory`); the
        number of messages it brought. One load at a time (a second call waits for the first
        and brings nothing); nothing once the start of the conversation is shown. A failure
        is a `Notice` and keeps the cursor, so the same page can be asked again; what is
        shown stays."""
        running = self._older_load
        if running is not None and not running.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(running)
            return 0
        if self.older_cursor is None:
            return 0
        self._older_load = asyncio.ensure_future(self._load_older_page())
        return await asyncio.shield(self._older_load)

    async def _load_older_page(self) -> int:
        cursor, epoch = self.older_cursor, self._history_epoch
        try:
            newest_first, next_cursor = await self.client.get_history_page(
                limit=OLDER_PAGE_SIZE, cursor=cursor
            )
        except DialogError as error:
            self._notice(f"Older messages could not be loaded: {error.safe_message}", "error")
            return 0
        if epoch != self._history_epoch or cursor != self.older_cursor:
            return 0  # the history was shown afresh meanwhile: this page belongs to no one
        if next_cursor is not None and next_cursor == cursor:
            # A server that hands back the cursor it was given would page forever: stop, and
            # say so rather than claim the start was reached.
            self.older_stopped = True
            next_cursor = None
            self._notice(
                "The server sent the same page of history twice; older messages stop here.",
                "warning",
            )
        self.older_cursor = next_cursor
        older = []
        for message in reversed(newest_first):
            if message.message_id and message.message_id in self._shown_ids:
                continue  # a page that overlaps what is shown adds nothing twice
            if message.message_id:
                self._shown_ids.add(message.message_id)
            older.append(message)
        self._emit(OlderHistory(tuple(older), more=self.older_cursor is not None))
        return len(older)

    def _show_welcome(self, reason: ChangeReason) -> None:
        """A conversation with nothing in it yet: the bot's welcome and start prompts."""
        self._history_epoch += 1
        self.older_cursor = None
        self.older_stopped = False
        self._shown_ids = set()
        config = self.config
        self.followups = self.start_prompts(config) if config is not None else ()
        welcome = config.display.welcome_message if config is not None else None
        self._emit(
            ConversationChanged(
                reason, True, (), config, welcome=welcome or None, followups=self.followups
            )
        )

    # -- the local record ---------------------------------------------------------------------

    def _resume_record(self) -> str | None:
        """The saved conversation bound to the current token, if one is free to write; a
        note for the person if it is not (another process writes it)."""
        self._release_record()
        self._record_chosen = True
        thread = thread_of(self.client.visitor_token)
        self._thread = thread
        if thread is None:
            return None
        saved = self.store.thread_conversations(*conversation_key(self.target), thread)
        for conversation_id in saved:
            if self.store.claim(conversation_id):
                self.record_id = conversation_id
                self._record_has_turns = True
                return None
        if saved:
            return (
                "Another dialogtui is saving this conversation: the turns sent from here are "
                "saved as a new local conversation."
            )
        return None

    def _start_record(self, thread: str | None) -> int:
        self._release_record()
        conversation_id = self.store.start_conversation(
            *conversation_key(self.target), bot_name=self.bot_name, thread=thread
        )
        self.store.claim(conversation_id)  # new: no one else can hold it
        self.record_id = conversation_id
        self._thread = thread
        self._record_has_turns = False
        return conversation_id

    def _release_record(self) -> None:
        if self.record_id:
            self.store.release(self.record_id)
        self.record_id = 0
        self._thread = None
        self._record_has_turns = False

    def _bind_server_conversation(self, turn: Turn, record: TurnRecord) -> None:
        """Once the server answered: the saved conversation must be the one bound to the
        token the message went out with. A token it does not know means the server began
        another conversation (first send, or a 401 that needed a new token)."""
        thread = thread_of(turn.token_used)
        if thread is None or thread == self._thread:
            return
        if not self._record_has_turns:
            self._thread = thread
            self.store.bind_thread(self.record_id, thread)
            return
        self._start_record(thread)
        self.store.move_messages(record.rows, self.record_id)
        record.move_to(self.record_id)
        note = "The server started a new conversation (the visitor token had to be renewed)"
        saved = "; it is saved as a new local conversation." if self.record_id else "."
        self._emit(ConversationChanged(ChangeReason.NEW_TOKEN, False, note=note + saved))

    def _follow_rotation(self) -> None:
        """After a turn: a token rotated by `done` is the same conversation's next token."""
        thread = thread_of(self.client.visitor_token)
        if thread is not None and thread != self._thread:
            self._thread = thread
            if self.record_id:
                self.store.bind_thread(self.record_id, thread)

    # -- turns --------------------------------------------------------------------------------

    async def send(self, text: str, attachments: Sequence[Attachment] = ()) -> Turn:
        """Send `text` (with image/file `attachments`, read by `dialogtui.attachments`) and
        stream the reply to the listeners; returns the ended turn. Errors end the turn (see
        its outcome and error) and are not raised; a cancel from outside (Ctrl-C) is recorded,
        then raised; `cancel()` ends the turn as cancelled. Attachments the bot cannot take
        raise `AttachmentError` before anything is sent or recorded."""
        if self.busy:
            raise Busy("a reply is still arriving")
        if attachments:
            self.check_attachments(attachments)
        session = self._ensure_session()
        turn = Turn(text=text, attachments=tuple(attachments))
        self.turn = turn
        self.retry_text = None
        self.followups = ()
        if not self._record_chosen:  # `send` without `open`, as the CLI does
            note = self._resume_record()
            if note is not None:
                self._notice(note)
        if not self.record_id and not self._record_has_turns:  # (with saving off: once)
            self._start_record(thread_of(self.client.visitor_token))
        # On record before it is sent: a failed or killed send still has the text.
        record = TurnRecord(self.store, self.record_id, turn)
        self._emit(TurnStarted(turn))
        self._cancelling = False
        self._task = asyncio.ensure_future(self._play(session, turn, record))
        try:
            await self._task
        finally:
            self._task = None
        return turn

    def check_attachments(self, attachments: Sequence[Attachment]) -> None:
        """Refuse what the API would refuse: too many, or too large for a message part.
        Raises `AttachmentError`. (`config.image_enabled` is not read as a refusal: what it
        governs is not published, and the demo server turns it off yet takes photos.)"""
        from ..attachments import MESSAGE_MAX_BYTES, check_count, check_size

        check_count(len(attachments))
        for attachment in attachments:
            check_size(attachment, MESSAGE_MAX_BYTES, "the API's limit for a message")

    async def retry(self) -> Turn | None:
        """Send the failed turn's text again; None if there is nothing to retry."""
        text = self.retry_text
        return None if text is None else await self.send(text, self._retry_attachments)

    def cancel(self) -> bool:
        """Stop the reply in flight; what arrived stays, marked cancelled. False if none."""
        if not self.busy:
            return False
        assert self._task is not None
        self._cancelling = True
        self._task.cancel()
        return True

    async def stop(self) -> None:
        """Cancel the reply in flight and wait until it has ended and been recorded."""
        task = self._task
        if task is not None and not task.done() and self.cancel():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.shield(task)

    async def _play(self, session: ChatSession, turn: Turn, record: TurnRecord) -> None:
        emit, every_event = self._emit, self._every_event
        bound = False
        # Closed on the way out, whatever ends the loop: a listener that raises (a printer
        # whose reader went away) ends the stream as a cancel would, and the turn is settled.
        updates = session.stream_turn(turn, every_delta=every_event)
        try:
            async with contextlib.aclosing(updates):
                async for update in updates:
                    if not bound and turn.token_used is not None:
                        bound = True
                        self._bind_server_conversation(turn, record)
                    change = update.change
                    if every_event:
                        emit(Streamed(turn, update.event, change))
                    if change is None:
                        continue
                    block_index = change.block_index
                    if block_index is not None and not change.structural:
                        version = turn.assembler.block_version(change.part_index, block_index)
                        emit(BlockGrew(turn, change.part_index, block_index, version))
                    else:
                        emit(PartChanged(turn, change.part_index))
        except DialogError:
            pass  # the turn holds the error and its outcome
        except asyncio.CancelledError:
            self._end(turn, record, bound)
            if self._cancelling:
                return  # `cancel()`: the turn ended, the caller goes on
            raise
        except BaseException:
            self._end(turn, record, bound)  # what arrived is recorded; the failure goes on
            raise
        self._end(turn, record, bound)

    def _end(self, turn: Turn, record: TurnRecord, bound: bool) -> None:
        if not bound:
            self._bind_server_conversation(turn, record)
        turn.outcome = Outcome.settled(turn.outcome, failed=turn.error is not None)
        record.finish()
        self._record_has_turns = True
        self._follow_rotation()
        error = turn.error
        self.retry_text = turn.text if error is not None and error.retryable else None
        self._retry_attachments = turn.attachments if self.retry_text is not None else ()
        message = turn.assembler.message
        if turn.outcome is Outcome.DONE and message is not None:
            self.last_reply = plain_text(message.parts)
            self.followups = _message_followups(message)
            form = _form_of(message)
            if form is not None:
                self.form = form
        self._emit(
            TurnEnded(
                turn,
                turn.outcome,
                error,
                turn.figures,
                self.followups,
                self.form if turn.outcome is Outcome.DONE else None,
                self.retry_text,
            )
        )

    # -- starting over, switching -----------------------------------------------------------

    async def new_conversation(self) -> bool:
        """End the server conversation and start a new one (needs the API key)."""
        return await self._restart(
            lambda: self.client.reset_conversation(), ChangeReason.NEW_CONVERSATION
        )

    async def fresh_visitor(self) -> bool:
        """Start over as a new visitor: a new token from the API key."""
        return await self._restart(lambda: self.client.authenticate(), ChangeReason.FRESH_VISITOR)

    async def _restart(self, new_token: Callable[[], Awaitable[str]], reason: ChangeReason) -> bool:
        if not self.client.has_api_key:
            self._notice("Starting over needs an API key (`dialogtui login`).", "warning")
            return False
        await self.stop()
        try:
            await new_token()
        except DialogError as error:
            self._notice(error.safe_message, "error")
            return False
        if self.config is None:
            await self._load_config()
        # A new server conversation: a new saved one, begun with its first turn.
        self._release_record()
        self._record_chosen = True
        self._thread = thread_of(self.client.visitor_token)
        self.form = None
        self.retry_text = None
        self.last_reply = ""
        self._show_welcome(reason)
        return True

    async def reload(self) -> None:
        """Fetch the conversation again from the server and show it afresh."""
        await self.stop()
        if self.config is None:
            await self._load_config()
        await self._show_history(ChangeReason.RELOADED)

    async def settle_token(self) -> None:
        """Wait until the last rotated token is saved: before reading it back (a switch to
        the same bot reads the keyring)."""
        if self.session is not None:
            await self.session.client.wait_token_saved()

    async def switch(self, target: Target) -> bool:
        """Talk to another bot (its secret read already); as `open`."""
        await self.stop()
        old = self.session
        self._release_record()
        self.target = target
        self.session = None
        self.config = None
        self._ensure_session()
        if old is not None:
            await old.client.aclose()
        return await self.open(reason=ChangeReason.SWITCHED)

    # -- other calls ----------------------------------------------------------------------------

    async def rate(self, stars: int, feedback: str | None = None) -> None:
        """Rate the conversation. Raises `DialogError`."""
        await self.client.rate(stars, feedback)

    async def submit_action(self, part_id: str, action: Mapping[str, Any]) -> ActionResult:
        """Submit a form's values. Raises `DialogError`; on success the form is no longer open."""
        result = await self.client.submit_action(part_id, action)
        if self.form is not None and self.form.part_id == part_id:
            self.form = None
        return result


def _prompt_followups(prompts: list[StartPrompt], page: str | None) -> tuple[FollowUp, ...]:
    from ..api.models import select_start_prompts  # the vendor's rule: url_pattern vs the page

    return tuple(
        FollowUp(p.prompt_text, p.prompt_text) for p in select_start_prompts(prompts, page)
    )


def _message_followups(message: Message) -> tuple[FollowUp, ...]:
    choices: list[FollowUp] = []
    for part in message.parts:
        if isinstance(part, SuggestionsPart):
            choices.extend(
                FollowUp(s.title or s.prompt_text, s.prompt_text)
                for s in part.suggestions
                if s.prompt_text
            )
        elif isinstance(part, QuickRepliesPart):
            choices.extend(FollowUp(reply, reply) for reply in part.replies if reply)
    return tuple(choices)


def _form_of(message: Message) -> FormMarker | None:
    markers = [
        part
        for part in message.parts
        if isinstance(part, (ContactFormPart, FormPart, SupportTicketPart))
    ]
    return markers[-1] if markers else None
