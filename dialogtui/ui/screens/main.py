"""The main screen: the conversation core's events, shown as widgets; keys, as its operations.

Follow a keypress: the composer posts `Submitted`, `send` starts a turn worker, the core
(`conversation.core.Conversation`) records and streams it, and `on_core_event` puts what it
tells into the transcript, the action bar and the status line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.geometry import Size
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import AwaitMount, Widget
from textual.widgets import Footer, Header
from textual.worker import Worker

from ...background import in_daemon_thread
from ...target import Target, TargetError, configured_target, demo_target, with_secret
from ..choices import ActionBar, Choice
from ..standins import ComposerStandIn, TranscriptStandIn

if TYPE_CHECKING:
    # Imported where first used, after the first frame (see `ui.app`): the core brings the
    # session, the store and the wire models; the widgets bring TextArea and the renderer.
    from ...api.client import DialogClient
    from ...api.models import Config, FormMarker, Message
    from ...api.retry import Operation, RetryPolicy
    from ...api.timeouts import Timeouts
    from ...conversation.core import Conversation
    from ...conversation.events import (
        BlockGrew,
        ConversationChanged,
        Event,
        FollowUp,
        Notice,
        OlderHistory,
        PartChanged,
        TurnEnded,
        TurnStarted,
    )
    from ...session import ChatSession
    from ...store import Store
    from ..app import DialogApp
    from ..composer import Composer
    from ..forms import Rating, SubmitOutcome
    from ..inspector import Inspector
    from ..history_edge import HistoryEdge
    from ..recall import InputRecall
    from ..switch import SwitchRequest
    from ..transcript import Transcript


class StatusLine(Widget):
    """One line of state. Changing it repaints this line only: `Static.update` would ask for
    a layout of the whole screen, twice per turn."""

    DEFAULT_CSS = """
    StatusLine {
        height: 1;
        padding: 0 1;
        color: $text-muted;
        background: $panel;
    }
    """

    text: reactive[str] = reactive("")

    def render(self) -> Content:
        return Content(self.text)  # never markup: it can hold a file name


# While a reply streams, each frame repaints the transcript's part of the screen, and Textual
# renders every widget whose clip overlaps the part repainted, whether or not the widget
# itself does. A child of the screen is clipped by the whole screen: the header, the footer,
# the composer and the status line were rendered at every frame (over a quarter of its time),
# as were the screen and the pane behind the transcript. Hence the bars above and below the
# transcript sit in boxes of their own (their clip is then that box), and the widgets that
# only hold others are BLANK (Textual's flag for a widget with no content of its own: a
# blank line of its background, no styling pass per line).


class MainPane(Horizontal):
    """The transcript, and the inspector beside it once shown."""

    BLANK = True

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        # Textual lays the whole screen out again, a frame later, when a container's virtual
        # size changes; this pane never scrolls, and its children were just laid out at the
        # new size (on a terminal resize: three layouts instead of four).
        return super()._size_updated(size, virtual_size, container_size, layout=False)


class Bars(Vertical):
    """A box for bars above or below the transcript (see above)."""

    BLANK = True
    DEFAULT_CSS = """
    Bars {
        height: auto;
        /* Docked, a bar would not count towards this box's height. */
        & > Header, & > Footer { dock: none; }
    }
    """


class MainScreen(Screen[None]):
    """One conversation on screen. Its widgets cover it, so it draws no more than its
    background."""

    BLANK = True
    DEFAULT_CSS = """
    MainScreen {
        layout: vertical;
    }
    #main {
        height: 1fr;
    }
    Transcript {
        width: 1fr;
    }
    Inspector {
        width: 45%;
        display: none;
    }
    Inspector.-shown {
        display: block;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        # Not in the footer: the status line says "Esc cancels" while a reply arrives, and a
        # footer that changed at every turn would be rebuilt (and the screen reflowed) twice.
        Binding("escape", "cancel_reply", "Cancel reply", show=False),
        Binding("ctrl+r", "retry", "Retry"),
        # The footer's five with the app's F1 (and Retry when it applies); F1 lists them all.
        Binding("ctrl+f", "find", "Find"),
        Binding("f4", "copy_message(True)", "Copy", tooltip="Copy the reply as Markdown"),
        Binding("ctrl+n", "new_conversation", "New chat"),
        Binding("ctrl+b", "switch_bot", "Switch bot"),
        Binding("shift+f4", "copy_message(False)", "Copy the reply as plain text", show=False),
        Binding("alt+up", "message_cursor(-1)", "Point at the previous message", show=False),
        Binding("alt+down", "message_cursor(1)", "Point at the next message", show=False),
        Binding("f2", "rate", "Rate the conversation", show=False),
        Binding("f12", "toggle_inspector", "Inspector", show=False),
        Binding("f3", "fresh_visitor", "Fresh visitor", show=False),
        Binding("ctrl+l", "reload_history", "Reload the conversation's history", show=False),
        Binding("ctrl+o", "open_form", "Open form", show=False),
    ]

    def __init__(
        self,
        target: Target,
        *,
        timeouts: Timeouts | None = None,
        policies: Mapping[Operation, RetryPolicy] | None = None,
    ) -> None:
        super().__init__(id="_default")
        self.target = target
        self._timeouts = timeouts
        self._policies = policies
        self.conversation: Conversation | None = None
        from ..form_state import FormTracker

        self.forms = FormTracker()
        """The bot's forms: which are current, sent, or drafted (`ui/form_state.py`)."""
        self._before_first_user_turn = False
        """No user turn in this conversation yet: start prompts show (and follow the page)."""
        self._handlers: dict[type, Callable[[Any], None]] = {}
        self.turn_worker: Worker[None] | None = None
        self._entry = -1  # the transcript entry of the reply in flight
        self._streaming = False
        self._status = ""
        self._retry_shown = False
        self._inspector: Inspector | None = None
        self._transcript: Transcript | None = None
        self._composer: Composer | None = None
        self.secret_read = asyncio.Event()
        """Set once the target has its secret (at once, unless it is still in the keyring)."""
        if not target.secret_pending:
            self.secret_read.set()
        # The built-in server switched to, if any; stopped on switching away and on exit.
        self._servers = ExitStack()

    @property
    def dialog_app(self) -> DialogApp:
        return self.app  # type: ignore[return-value]

    # -- layout -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Bars():
            yield Header(show_clock=False)
        with MainPane(id="main"):
            # The transcript and the composer replace these right after the first frame.
            yield TranscriptStandIn()
            # The inspector joins on first F12 (see `inspector`): hidden, it was only work.
        with Bars():
            yield ActionBar(id="actions")
            yield ComposerStandIn()
            yield StatusLine(id="status")
            yield Footer()

    @property
    def transcript(self) -> Transcript:
        if self._transcript is None:
            self.replace_stand_ins()
            assert self._transcript is not None
        return self._transcript

    @property
    def composer(self) -> Composer:
        if self._composer is None:
            self.replace_stand_ins()
            assert self._composer is not None
        return self._composer

    @property
    def inspector(self) -> Inspector:
        """The inspector panel, built with the first session (it records every request and event
        from then on, shown or not, so opening it mid-conversation shows what already happened)
        and mounted when it is first shown: until then it costs the first frame nothing."""
        if self._inspector is None:
            from ..inspector import Inspector

            self._inspector = Inspector(id="inspector")
        return self._inspector

    @property
    def action_bar(self) -> ActionBar:
        return self.query_one(ActionBar)

    def replace_stand_ins(self) -> None:
        """Mount the transcript and the composer in place of the first frame's stand-ins. Right
        after the first frame, or sooner if anything asks for either (a key handled before
        that frame). The composer takes over from its stand-in once mounted (`_hand_over`)."""
        if self._composer is not None:
            return
        from ..composer import Composer
        from ..transcript import Transcript

        self._transcript = Transcript(id="transcript")
        stand_in = self.query_one(TranscriptStandIn)
        _mount_in_place(stand_in, self._transcript)
        stand_in.remove()
        composer_stand_in = self.query_one(ComposerStandIn)
        self._composer = composer = Composer(id="composer")
        composer.recall = self._recall()
        mounting = _mount_in_place(composer_stand_in, composer)
        self.call_later(self._hand_over, composer_stand_in, composer, mounting)

    async def _hand_over(
        self, stand_in: ComposerStandIn, composer: Composer, mounting: Awaitable[object]
    ) -> None:
        """What was typed, the focus, then the stand-in's place go to the mounted composer, in
        one step: no key can land in between. Keys and pastes still queued at the stand-in
        reach the composer through it (`successor`) before it goes."""
        await mounting
        if stand_in.text:
            composer.insert(stand_in.text)
        stand_in.successor = composer
        if self.focused in (stand_in, None):
            self.set_focus(composer)
        stand_in.remove()

    def on_mount(self) -> None:
        self.query_one(ComposerStandIn).focus()
        self.set_status("Connecting…")
        self._start()

    def set_status(self, text: str) -> None:
        self._status = text
        parts = [text]
        note = self.dialog_app.store_note
        if note:
            parts.append(note)
        # `query`, not `query_one`: a worker still loading as the app quits finds no status line.
        for line in self.query(StatusLine):
            line.text = " · ".join(p for p in parts if p)
        self._refresh_bindings_if_changed()

    def refresh_status(self) -> None:
        self.set_status(self._status)

    def _refresh_bindings_if_changed(self) -> None:
        # Every refresh rebuilds the Footer's widgets and reflows the screen: only when
        # Retry, the one footer key that comes and goes, does.
        shown = self.retry_text is not None
        if shown != self._retry_shown:
            self._retry_shown = shown
            self.app.refresh_bindings()

    # -- the core -----------------------------------------------------------------------------

    @property
    def session(self) -> ChatSession | None:
        return self.conversation.session if self.conversation is not None else None

    @property
    def client(self) -> DialogClient:
        return self.ensure_conversation().client

    @property
    def bot_config(self) -> Config | None:
        return self.conversation.config if self.conversation is not None else None

    @property
    def retry_text(self) -> str | None:
        return self.conversation.retry_text if self.conversation is not None else None

    @property
    def record_id(self) -> int:
        return self.conversation.record_id if self.conversation is not None else 0

    def ensure_conversation(self) -> Conversation:
        """The core, made now if the start worker has not made it yet (an action taken in the
        first frames, or a start cancelled by another start-group worker). Only once the secret
        is read: whatever needs it waits for `secret_read` first."""
        if self.conversation is None:
            from ...conversation.core import Conversation

            if self.target.secret_pending:
                raise RuntimeError("no conversation before the secret is read")
            self._handlers = self._make_handlers()
            self.conversation = Conversation(
                self.target,
                store=self.dialog_app.store,
                listener=self.on_core_event,
                timeouts=self._timeouts,
                policies=self._policies,
                on_session=self.session_opened,
            )
        self.conversation.client  # noqa: B018  (the session opens with the conversation)
        return self.conversation

    def session_opened(self, session: ChatSession) -> None:
        """Each new session (the first, and one per switch): the inspector listens from here
        on; tooling (the benchmarks) may wrap its client here too."""
        # The event list's own hooks: the inspector's would be one more call per SSE event.
        event_list = self.inspector.event_list
        session.add_listener(event_list.record, sse=False)
        session.add_sse_listener(event_list.record_sse)

    def on_core_event(self, event: Event) -> None:
        """The one place where what the core tells becomes widgets: one handler per event
        type. (Made with the core, after the first frame: so are the event classes.)"""
        self._handlers[type(event)](event)

    def _make_handlers(self) -> dict[type, Callable[[Any], None]]:
        from ...conversation import events

        return {
            events.BlockGrew: self._block_grew,
            events.PartChanged: self._part_changed,
            events.Streamed: lambda event: None,  # for views that print as they go
            events.TurnStarted: self._turn_started,
            events.TurnEnded: self._turn_ended,
            events.Notice: self._notice,
            events.ConversationChanged: self._conversation_changed,
            events.OlderHistory: self._older_history,
        }

    def _block_grew(self, event: BlockGrew) -> None:
        self._streams()
        self.transcript.stream_block(
            self._entry, event.part_index, event.block_index, event.turn.assembler
        )

    def _part_changed(self, event: PartChanged) -> None:
        self._streams()
        assembler = event.turn.assembler
        if event.everything:
            self.transcript.set_parts(self._entry, assembler.parts)
        else:
            self.transcript.set_part(
                self._entry, event.part_index, assembler.part(event.part_index)
            )

    def _turn_started(self, event: TurnStarted) -> None:
        self._before_first_user_turn = False
        self.action_bar.clear()
        self.set_status("Waiting for the reply… Esc cancels")
        self.inspector.begin_turn(event.turn.text)

    def _notice(self, event: Notice) -> None:
        self.transcript.add_notice(event.text, variant=event.level)

    def _streams(self) -> None:
        if not self._streaming:
            from ...conversation.outcome import Outcome

            self._streaming = True
            self.transcript.set_state(self._entry, Outcome.STREAMING)

    def _turn_ended(self, event: TurnEnded) -> None:
        from ...conversation.outcome import Outcome

        transcript, entry, error = self.transcript, self._entry, event.error
        summary = event.figures.summary()
        self.inspector.end_turn(summary)
        if error is not None:
            # A partial reply stays, marked incomplete; with nothing shown, the error stands alone.
            shown = Outcome.INCOMPLETE if event.turn.assembler.part_count else Outcome.ERROR
            transcript.set_state(entry, shown, note=error.safe_message)
            transcript.set_footer(entry, summary)
            self.composer.restore(event.turn.text)
            self.action_bar.show((), retry=event.retry is not None)
            self.set_status(
                "The reply failed · Ctrl+R retries" if event.retry else "The reply failed"
            )
            return
        transcript.set_state(entry, event.outcome)
        if event.outcome is Outcome.INCOMPLETE:
            return  # no `done` and no error: the client reports this as an error, but be safe
        transcript.set_footer(entry, summary)
        if event.outcome is Outcome.CANCELLED:
            self.set_status("Reply cancelled")
            self.composer.restore(event.turn.text)  # as a failed send does
            return
        self.set_status("Ready")
        self.action_bar.show(_choices(event.followups))
        message = event.turn.assembler.message
        offered = self.forms.bot_message(message.parts, entry) if message is not None else []
        self._show_superseded_forms()
        if offered:
            self.action_open_form()

    def _conversation_changed(self, event: ConversationChanged) -> None:
        from ...conversation.events import ChangeReason

        transcript = self.transcript
        if not event.clear:
            if event.note:
                transcript.add_notice(event.note, variant="info")
            return
        self._apply_branding()
        transcript.clear()
        if event.reason in (
            ChangeReason.NEW_CONVERSATION,
            ChangeReason.FRESH_VISITOR,
            ChangeReason.SWITCHED,
        ):
            self.inspector.clear()  # another conversation: its requests start afresh too
        if event.reason is ChangeReason.SWITCHED and self._composer is not None:
            self._composer.recall = self._recall()  # Up/Down recall what was sent to this bot
        self._before_first_user_turn = not any(m.role == "user" for m in event.history)
        if event.history:
            entries = [self._add_message(message) for message in event.history]
            # A form in history opens while it is the latest; older ones say they are not.
            self.forms.history(event.history, entries)
            self._show_superseded_forms()
            # Start prompts until the first user turn; none once there is one.
            self.action_bar.show(_choices(event.followups))
        else:
            from ...api.models import TextPart

            self.forms.clear()
            if event.welcome:
                transcript.add_entry("assistant", [TextPart(text=event.welcome)])
            about = _about_line(event.config)
            if about:
                transcript.add_notice(about)
            # Without a config, still show (no) prompts: what the bar held before goes.
            self.action_bar.show(_choices(event.followups))
        transcript.scroll_end(animate=False)
        self._refresh_bindings_if_changed()
        self.dialog_app.freeze_heap()

    def _add_message(self, message: Message) -> int | None:
        """A message from history: a system message reads as a note, an agent's by name.
        Returns the entry it became (None for a note)."""
        if message.role == "system":
            from ...plaintext import parts_text

            self.transcript.add_notice(parts_text(message.parts) or "(system note)")
            return None
        return self.transcript.add_entry(_role(message), message.parts, label=_speaker(message))

    # -- older history: loaded when the person scrolls to the top --------------------------------

    def _older_history(self, event: OlderHistory) -> None:
        """A page of older messages goes above what is shown; the view stays where it is."""
        from ..transcript import OlderEntry

        items = []
        for message in event.messages:
            if message.role == "system":
                from ...plaintext import parts_text

                note = parts_text(message.parts) or "(system note)"
                items.append(OlderEntry("notice", text=note))
            else:
                items.append(OlderEntry(_role(message), message.parts, _speaker(message)))
        self.transcript.prepend(items)

    # By name: the transcript is imported after the first frame.
    def on_transcript_near_top(self, event: Transcript.NearTop) -> None:
        if event.at_top:
            self._history_edge_update(at_top=True)
        self.action_load_older()

    def on_transcript_left_top(self, event: Transcript.LeftTop) -> None:
        self._history_edge_update(at_top=False)

    def action_load_older(self) -> None:
        """Load the page of history before the oldest message shown, if there is one."""
        conversation = self.conversation
        if conversation is None or not conversation.has_older or conversation.loading_older:
            return
        self.run_worker(self._load_older(conversation), group="older-history")

    async def _load_older(self, conversation: Conversation) -> None:
        from ..history_edge import LOADING

        self._history_edge().show(LOADING)
        try:
            await conversation.load_older()
        finally:
            self._history_edge_update(at_top=self.transcript.scroll_y < 1)

    def _history_edge(self) -> HistoryEdge:
        """The line above the transcript, mounted the first time it is needed."""
        from ..history_edge import HistoryEdge

        for edge in self.query(HistoryEdge):
            return edge
        edge = HistoryEdge(id="history-edge")
        self.query(Bars).first().mount(edge)
        return edge

    def _history_edge_update(self, *, at_top: bool) -> None:
        """What lies beyond the top, said while the top is in view (or older ones load)."""
        from ..history_edge import LOADING, MORE, START, STOPPED

        conversation = self.conversation
        if conversation is not None and conversation.loading_older:
            self._history_edge().show(LOADING)
        elif not at_top or conversation is None:
            for edge in self.query("#history-edge"):
                edge.display = False
        elif conversation.has_older:
            self._history_edge().show(MORE)
        else:
            self._history_edge().show(STOPPED if conversation.older_stopped else START)

    def _show_form_state(self, marker: FormMarker, state: str) -> None:
        """The form's line in the transcript says what became of it: sent, no longer current."""
        place = self.forms.places.get(marker.part_id)
        if place is None:
            return
        from ...api.models import TextPart
        from ...plaintext import marker_text

        line = f"📝 {marker_text(marker).removeprefix('[form] ')} — {state}"
        self.transcript.set_part(place[0], place[1], TextPart(text=line))

    def _show_superseded_forms(self) -> None:
        for marker in self.forms.superseded():
            self._show_form_state(marker, "no longer current")

    def _apply_branding(self) -> None:
        name = self.conversation.bot_name if self.conversation is not None else "Assistant"
        self.app.title = name
        self.transcript.bot_name = name

    # -- start-up -----------------------------------------------------------------------------

    @work(group="secret")
    async def read_secret(self) -> None:
        """The secret from the keyring, after the first frame: ~0.2 s, or as long as an unlock
        prompt takes. A worker of its own, so that no start-group action can cancel it."""
        pending = self.target
        self.set_status("Reading the keyring…")
        try:
            target = await in_daemon_thread(with_secret, pending, name="dialogtui-keyring")
        except TargetError as error:
            if self.target is pending:
                # Said on the terminal once the app has closed, with its exit code, as the
                # CLI says any problem found before the first request.
                self.dialog_app.startup_error = error
                self.app.exit(return_code=error.exit_code)
            return
        if self.target is pending:  # not switched to another bot meanwhile (Ctrl+B)
            self.target = target
            self.set_status("Connecting…")
            self.secret_read.set()

    @work(exclusive=True, group="start")
    async def _start(self) -> None:
        # The core (and its HTTP client) opens after the first frame: httpx's import and an
        # SSL context cost tens of ms that the person would otherwise see as a blank terminal.
        # Until then the running "start" worker makes a send wait, as it does for the history.
        await self.dialog_app.first_frame.wait()
        await self._connect()

    async def _connect(self) -> None:
        """Once the secret is read: the core, the bot's config and the history."""
        await self.secret_read.wait()
        if not await self.ensure_conversation().open():
            self._apply_branding()
            self.set_status("Not connected")
            return
        self.set_status("Ready · Ctrl+O opens the bot's form" if self.forms.openable() else "Ready")

    # -- sending ------------------------------------------------------------------------------

    # By name, not `@on(Composer.Submitted)`: the composer is imported after the first frame.
    def on_composer_submitted(self, event: Composer.Submitted) -> None:
        if self.send(event.text):
            self.composer.clear()

    def on_composer_stand_in_submitted(self, event: ComposerStandIn.Submitted) -> None:
        # Enter before the composer took over from its stand-in: the send is refused (the
        # start is still loading) or made, as from the composer.
        if self.send(event.text):
            event.stand_in.text = ""
            self.composer.clear()

    @on(ActionBar.Chosen)
    def _chosen(self, event: ActionBar.Chosen) -> None:
        if self.send(event.choice.send_text):
            self.composer.focus()  # for what the person types next

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Hidden, not just disabled: Retry exists only for an error the contract calls retryable.
        if action == "retry":
            return self.retry_text is not None
        if action == "cancel_reply":
            return self.turn_running
        return True

    @property
    def turn_running(self) -> bool:
        # Not `is_running`: a worker just created is still pending, and a second Enter must wait.
        return self.turn_worker is not None and not self.turn_worker.is_finished

    @on(ActionBar.RetryPressed)
    def action_retry(self) -> None:
        text = self.retry_text
        if text is None:
            return
        if self.composer.text.strip() == text.strip():
            self.composer.clear()
        if self.send(text):
            self.composer.focus()

    def send(self, text: str) -> bool:
        """Start a turn with `text`; False (and a word why) if one cannot start now."""
        if not self.secret_read.is_set() or any(
            worker.group == "start" and not worker.is_finished for worker in self.app.workers
        ):
            self.notify("One moment: the conversation is still loading.", severity="warning")
            return False
        if self.turn_running:
            self.notify(
                "A reply is still arriving. Wait for it, or press Esc to cancel it.",
                severity="warning",
            )
            return False
        from ...api.models import TextPart
        from ...conversation.outcome import Outcome

        conversation = self.ensure_conversation()  # a start cancelled before it made one
        self.transcript.add_entry("user", [TextPart(text=text)])
        self._entry = self.transcript.add_entry("assistant", state=Outcome.WAITING)
        self._streaming = False
        self.turn_worker = self._run_turn(conversation, text)
        return True

    @work(group="turn")
    async def _run_turn(self, conversation: Conversation, text: str) -> None:
        app = self.dialog_app
        hold = app.hold_young_collections()
        try:
            await conversation.send(text)
        finally:
            # The collection held back while the reply streamed runs once the reply's last
            # frame is on screen, not before it. (A callback lost with a screen popped before
            # its frame leaves it to the next turn, or to quitting.)
            self.call_after_refresh(app.release_young_collections, hold)

    # -- actions ------------------------------------------------------------------------------

    def action_cancel_reply(self) -> None:
        if self.conversation is not None:
            self.conversation.cancel()

    def action_open_form(self) -> None:
        """The bot's current form (a choice when it offers several); else the newest older
        one, read-only; else a word that there is none."""
        from ..forms import FormPickerScreen

        openable = self.forms.openable()
        if len(openable) > 1:
            picker = FormPickerScreen(self.forms.current, sorted(self.forms.sent))
            self.app.push_screen(picker, lambda m: self._open_form(m) if m is not None else None)
        elif openable:
            self._open_form(openable[0])
        elif self.forms.stale or self.forms.current:
            self._open_form((self.forms.stale + self.forms.current)[-1])
        else:
            self.notify("There is no form in this conversation.")

    def _open_form(self, marker: FormMarker) -> None:
        from ..forms import FormScreen

        current = self.forms.is_current(marker) and marker.part_id not in self.forms.sent
        screen = FormScreen(
            marker,
            self._submit_form,
            current=current,
            draft=self.forms.draft(marker),
            keep_draft=self.forms.keep_draft,
        )
        self.app.push_screen(screen, lambda confirmation: self._form_closed(marker, confirmation))

    def _form_closed(self, marker: FormMarker, confirmation: str | None) -> None:
        if confirmation is not None:
            self.forms.mark_sent(marker)
            self._show_form_state(marker, "sent")
            self.transcript.add_notice(f"Form sent. {confirmation}", variant="info")

    def action_set_page(self) -> None:
        from ..forms import PageScreen

        self.app.push_screen(PageScreen(self.target.settings.page), self._page_set)

    def _page_set(self, page: str | None) -> None:
        """From now on every message carries this page; start prompts follow it."""
        if page is None:
            return
        from dataclasses import replace

        settings = replace(self.target.settings, page=page or None)
        self.target = replace(self.target, settings=settings)
        conversation = self.conversation
        if conversation is not None:
            conversation.target = replace(conversation.target, settings=settings)
            if conversation.session is not None:
                conversation.client.context_page = page or None
        self.notify(f"Page: {page}" if page else "No page is sent now.")
        config = self.bot_config
        if conversation is not None and config is not None and self._before_first_user_turn:
            conversation.followups = conversation.start_prompts(config)
            self.action_bar.show(_choices(conversation.followups))

    async def _submit_form(self, marker: FormMarker, values: dict[str, Any]) -> SubmitOutcome:
        from ...api.errors import ApiHttpError, DialogError
        from ..forms import SubmitOutcome, action_for

        try:
            result = await self.ensure_conversation().submit_action(
                marker.part_id, action_for(marker, values)
            )
        except ApiHttpError as error:
            if error.status == 409:  # no longer the latest actionable part: read-only now
                self.forms.mark_stale(marker)
                self._show_superseded_forms()
                return SubmitOutcome(stale=True)
            if error.params:
                return SubmitOutcome(
                    field_errors={_field_key(p.field): p.message for p in error.params}
                )
            return SubmitOutcome(error=error.safe_message)
        except DialogError as error:
            return SubmitOutcome(error=error.safe_message)
        return SubmitOutcome(confirmation=result.confirmation_text)

    @work(exclusive=True, group="start")
    async def action_new_conversation(self) -> None:
        await self._restart(lambda c: c.new_conversation(), "New conversation")

    @work(exclusive=True, group="start")
    async def action_fresh_visitor(self) -> None:
        await self._restart(lambda c: c.fresh_visitor(), "Fresh visitor: a new conversation")

    async def _restart(
        self, operation: Callable[[Conversation], Awaitable[bool]], status: str
    ) -> None:
        """A new conversation on the server (reset, or a new visitor), and a clean screen."""
        await self.secret_read.wait()
        if await operation(self.ensure_conversation()):
            self.set_status(status)

    @work(exclusive=True, group="start")
    async def action_reload_history(self) -> None:
        await self.secret_read.wait()
        await self.ensure_conversation().reload()
        self.set_status("Ready")

    def action_switch_bot(self) -> None:
        from ..switch import SwitchScreen

        screen = SwitchScreen(
            self.target.base_url, self.target.chatbot_id, is_local=self.target.environment == "demo"
        )
        self.app.push_screen(screen, self.start_switch)

    def start_switch(self, request: SwitchRequest | None) -> None:
        if request is not None:  # Esc: nothing to start, and the start running goes on
            self._switch_requested(request)

    @work(exclusive=True, group="start")
    async def _switch_requested(self, request: SwitchRequest) -> None:
        from ..switch import LOCAL

        if self.conversation is not None:
            # The same bot again reads its token back from the keyring: the one rotated at
            # the last reply may still be on its way there.
            await self.conversation.settle_token()
        try:
            servers = ExitStack()
            if request.base_url == LOCAL:
                target = servers.enter_context(demo_target())
            else:
                target = configured_target(request.base_url, request.chatbot_id, defer_secret=True)
                target = await in_daemon_thread(with_secret, target, name="dialogtui-keyring")
        except TargetError as error:
            self.notify(error.safe_message, severity="error", timeout=8, markup=False)
            if self.bot_config is None:  # the start this worker cancelled, done here instead
                await self._connect()
            return
        self.target = target
        self.secret_read.set()  # the new target brought its own
        self.app.sub_title = target.environment
        try:
            if self.conversation is None:
                self._servers.close()
                self._servers = servers
                await self._connect()
                return
            self.set_status("Connecting…")
            old_servers, self._servers = self._servers, servers
            opened = await self.conversation.switch(target)
            old_servers.close()  # a built-in server switched away from stops here
        except BaseException:
            servers.close()  # cancelled (another start-group worker): the new server goes too
            raise
        if opened:
            self.set_status("Ready")
        else:
            self._apply_branding()
            self.set_status("Not connected")

    def action_rate(self) -> None:
        from ..forms import RateScreen

        self.app.push_screen(RateScreen(), self._start_rating)

    def _start_rating(self, rating: Rating | None) -> None:
        self._rated(rating)

    @work(group="rate")
    async def _rated(self, rating: Rating | None) -> None:
        from ...api.errors import DialogError

        if rating is None:
            return
        await self.secret_read.wait()
        try:
            await self.ensure_conversation().rate(rating.stars, rating.feedback)
        except DialogError as error:
            self.notify(error.safe_message, severity="error")
            return
        self.notify("Thanks for your rating.")

    # -- copy, find, the message cursor, recall (behaviour in ui/clipboard, search, recall) --

    def action_copy_message(self, markdown: bool = True) -> None:
        from ..clipboard import copy_message

        copy_message(self.app, self.transcript, markdown=markdown)

    def action_message_cursor(self, step: int) -> None:
        self.transcript.move_cursor(step)

    def action_find(self) -> None:
        from ..search import open_search

        open_search(self.transcript)

    def on_composer_help_requested(self) -> None:
        self.dialog_app.action_help()

    def _recall(self) -> InputRecall:
        """Earlier messages to this bot, on disk unless saving is off."""
        from ...config import data_dir
        from ...store import conversation_key
        from ..recall import InputRecall

        saving = self.dialog_app.store.saving
        return InputRecall.for_bot(data_dir() if saving else None, *conversation_key(self.target))

    @work(exclusive=True, group="data-export")
    async def action_download_data(self) -> None:
        """The visitor's data as the server keeps it (GET /export), to a private JSON file in
        the data directory: what `dialogtui data-export` writes, and `replay` reads."""
        import json

        from ...api.errors import DialogError
        from ...config import data_dir
        from ...store import write_private

        await self.secret_read.wait()
        try:
            data = await self.client.export()
        except DialogError as error:
            self.notify(error.safe_message, severity="error", markup=False)
            return
        folder = data_dir() / "exports"
        path = folder / f"server-data-{self.client.chatbot_id}.json"
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_private(path, json.dumps(data, ensure_ascii=True, indent=2) + "\n")
        except OSError:
            self.notify("The server's data could not be written.", severity="error")
            return
        self.notify(f"The server's data for this visitor: {path}", timeout=8, markup=False)

    def action_toggle_inspector(self) -> None:
        inspector = self.inspector
        if inspector.parent is None:
            self.query_one(MainPane).mount(inspector)
        inspector.toggle_class("-shown")

    async def shut_down(self) -> None:
        """Stop the turn, close the connections, stop a built-in server switched to."""
        if self.conversation is not None:
            await self.conversation.close()
        self._servers.close()

    @property
    def store(self) -> Store:
        return self.dialog_app.store


def _mount_in_place(stand_in: Widget, widget: Widget) -> AwaitMount:
    """Mount `widget` just before `stand_in`, in its parent (on the main screen, even under a
    modal one)."""
    parent = stand_in.parent
    assert isinstance(parent, Widget)
    return parent.mount(widget, before=stand_in)


def _role(message: Message) -> str:
    # A human agent and a system note keep their role: they are not the bot speaking.
    return message.role if message.role in ("user", "agent", "system") else "assistant"


def _about_line(config: Config | None) -> str:
    """The bot's subtitle and privacy link, as the vendor's header shows them."""
    if config is None:
        return ""
    display, pieces = config.display, []
    subtitle = display.subtitle
    if subtitle is not None and subtitle.text:
        pieces.append(subtitle.text.strip())
    if subtitle is not None and subtitle.link is not None:
        pieces.append(f"{subtitle.link.text.strip()}: {subtitle.link.url.strip()}")
    privacy = (display.privacy_policy_url or "").strip()
    if privacy and not any(privacy in piece for piece in pieces):
        pieces.append(f"Privacy policy: {privacy}")
    return " · ".join(piece for piece in pieces if piece)


def _speaker(message: Message) -> str | None:
    """A human agent's name for the entry's label ("Sofie (agent)"); None for the others."""
    if message.role != "agent" or message.agent is None:
        return None
    from ...plaintext import role_label

    return role_label("agent", None, message.agent)


def _choices(followups: tuple[FollowUp, ...]) -> list[Choice]:
    return [Choice(f.label, f.text) for f in followups]


def _field_key(field_path: str) -> str:
    """`fields.email` or `values.email` -> `email`: params name the body path."""
    return field_path.rsplit(".", 1)[-1]


__all__ = ["Bars", "MainPane", "MainScreen", "StatusLine"]
