"""The main screen: the conversation core's events, shown as widgets; keys, as its operations.

Follow a keypress: the composer posts `Submitted`, `send` starts a turn worker, the core
(`conversation.core.Conversation`) records and streams it, and `on_core_event` puts what it
tells into the transcript, the action bar and the status line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
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
from ..attach_ui import BannerStrip, PendingAttachments
from ..choices import ActionBar, Choice
from ..livechat import NOT_ENABLED, HandoverChoice, LiveChatStatus, WaitingFormChoice
from ..standins import ComposerStandIn, TranscriptStandIn

if TYPE_CHECKING:
    # Imported where first used, after the first frame (see `ui.app`): the core brings the
    # session, the store and the wire models; the widgets bring TextArea and the renderer.
    from ...api.client import DialogClient
    from ...api.models import (
        Config,
        FormMarker,
        FormPart,
        ImagePart,
        ImageUploadPart,
        Message,
        Part,
    )
    from ...api.retry import Operation, RetryPolicy
    from ...api.timeouts import Timeouts
    from ...attachments import Attachment
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
    from ...conversation.livechat import Cadence, LiveChat, LiveChatEvent
    from ...session import ChatSession
    from ...store import Store
    from ..app import DialogApp
    from ..attach_ui import AttachRequest
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
        Binding("f5", "attach", "Attach a file to the next message", show=False),
        # In the footer while they apply (one of the two at a time; see check_action).
        Binding("f8", "ask_for_human", "Human", tooltip="Ask for a human agent (live chat)"),
        Binding("f9", "end_live_chat", "End chat", tooltip="End the live chat with the agent"),
    ]
    livechat_cadence: Cadence | None = None
    """The live chat's polling rhythm (None: the SDK's); tests make it faster."""

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
        self.live: LiveChat | None = None
        """The live chat with a human agent, beside the conversation (made with it)."""
        self._live_engaged = False
        from ..form_state import FormTracker

        self.forms = FormTracker()
        """The bot's forms: which are current, sent, or drafted (`ui/form_state.py`)."""
        self._before_first_user_turn = False
        """No user turn in this conversation yet: start prompts show (and follow the page)."""
        self.upload_prompt: ImageUploadPart | None = None
        """The photo the bot's newest reply asks for (F5 then checks against what it takes)."""
        self._handlers: dict[type, Callable[[Any], None]] = {}
        self.turn_worker: Worker[None] | None = None
        self._entry = -1  # the transcript entry of the reply in flight
        self._picture_slots = asyncio.Semaphore(2)
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
            yield BannerStrip(id="banners")
        with MainPane(id="main"):
            # The transcript and the composer replace these right after the first frame.
            yield TranscriptStandIn()
            # The inspector joins on first F12 (see `inspector`): hidden, it was only work.
        with Bars():
            yield ActionBar(id="actions")
            yield PendingAttachments(id="pending")
            yield ComposerStandIn()
            yield LiveChatStatus(id="livechat")
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
        stand_in = self.query_one(ComposerStandIn)
        stand_in.text, self.dialog_app.typed_ahead = self.dialog_app.typed_ahead, ""
        stand_in.focus()
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
            self._attach_live_chat(self.conversation)
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
            self._give_back(event.turn.text, event.turn.attachments)
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
            self._give_back(event.turn.text, event.turn.attachments)  # as a failed send does
            return
        self.set_status("Ready")
        self.action_bar.show(_choices(event.followups))
        self._load_pictures(entry, event.turn.assembler.parts)
        message = event.turn.assembler.message
        if message is not None:
            from ..attach_ui import upload_prompt_of

            self.upload_prompt = upload_prompt_of(message.parts)
            self._offer_handover(message, event.followups)
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
        from ..attach_ui import upload_prompt_of

        # A photo request in history stands while it is the newest message.
        last = event.history[-1] if event.history else None
        asks = last is not None and last.role == "assistant"
        self.upload_prompt = upload_prompt_of(last.parts) if last is not None and asks else None
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
        # The end is shown at the next layout. (Not `scroll_end`: Textual runs it after the
        # next refresh, which on a busy machine can come after the person pressed Home or
        # scrolled up, and it would throw them back to the end.)
        transcript.follow = True
        self._refresh_bindings_if_changed()
        self.dialog_app.freeze_heap()

    def _add_message(self, message: Message) -> int | None:
        """A message from history: a system message reads as a note, an agent's by name.
        Returns the entry it became (None for a note)."""
        if message.role == "system":
            from ...plaintext import parts_text

            self.transcript.add_notice(parts_text(message.parts) or "(system note)")
            return None
        entry = self.transcript.add_entry(_role(message), message.parts, label=_speaker(message))
        self._load_pictures(entry, message.parts)
        return entry

    def _load_pictures(self, entry: int, parts: Sequence[Part]) -> None:
        """Fetch and decode the entry's images in the background; each shows when ready."""
        if not self.target.settings.images:
            return
        if self.app.console.color_system not in ("256", "truecolor"):
            return  # in 16 colours or none, half blocks draw noise: the text line is better
        from ...api.models import ImagePart

        for index, part in enumerate(parts):
            if isinstance(part, ImagePart) and part.url:
                self.run_worker(
                    self._load_picture(entry, index, part), group="pictures", exit_on_error=False
                )

    async def _load_picture(self, entry: int, index: int, part: ImagePart) -> None:
        from ...api.images import ImageFetchError, fetch_image
        from ...api.models import is_data_url
        from ..pictures import decode_picture

        async with self._picture_slots:  # a history full of images fetches a few at a time
            try:
                # The thumbnail when there is one: the same picture, fewer bytes.
                source = (
                    part.thumbnail_url
                    if part.thumbnail_url and not is_data_url(part.url)
                    else part.url
                )
                data = await fetch_image(source, part.url_expires_at)
            except ImageFetchError:
                return  # the text line says what the image is; no picture
            picture = await asyncio.to_thread(decode_picture, data)
        if picture is not None:
            self.transcript.show_picture(entry, index, part.url, picture)

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
        entries = self.transcript.prepend(items)
        if len(entries) == len(event.messages):
            # Forms on an older page were superseded long ago: they say so, and open read-only.
            self.forms.older(event.messages, entries)
            self._show_superseded_forms()

    # By name: the transcript is imported after the first frame.
    def on_transcript_near_top(self, event: Transcript.NearTop) -> None:
        # Judged by where the view is now, not where it was when the message was posted: a
        # glide to the top posts one per frame, and one still queued when a page lands above
        # (the view moved down by that page) would load a page the person never scrolled to.
        transcript = self.transcript
        top = transcript.scroll_y
        if top >= transcript.scrollable_content_region.height:
            return
        if top < 1:
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
        await self.fetch_banners()  # before "Ready": the requests keep one order
        self.set_status("Ready · Ctrl+O opens the bot's form" if self.forms.openable() else "Ready")
        self._resume_live_chat()

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
        if isinstance(event.choice, HandoverChoice):
            self.action_ask_for_human(event.choice.part_id)
            return
        if isinstance(event.choice, WaitingFormChoice):
            self.action_waiting_form()
            return
        if self.send(event.choice.send_text):
            self.composer.focus()  # for what the person types next

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Hidden, not just disabled: Retry exists only for an error the contract calls retryable.
        if action == "retry":
            return self.retry_text is not None
        if action == "cancel_reply":
            return self.turn_running
        if action == "end_live_chat":
            return self.live is not None and self.live.engaged
        if action == "ask_for_human":  # shown for a bot with live chat, until one is open
            live = self.live
            return live is not None and not live.engaged and live.availability() != NOT_ENABLED
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
        if self.live is not None and self.live.active:
            return self._send_to_agent(text, self.live)
        if self.turn_running:
            self.notify(
                "A reply is still arriving. Wait for it, or press Esc to cancel it.",
                severity="warning",
            )
            return False
        from ...attachments import AttachmentError
        from ..attach_ui import sent_parts
        from ...conversation.outcome import Outcome

        conversation = self.ensure_conversation()  # a start cancelled before it made one
        pending = self.query_one(PendingAttachments)
        files = pending.files
        try:
            conversation.check_attachments(files)
        except AttachmentError as error:
            self.notify(error.safe_message, severity="error")
            return False
        pending.set_files([])
        self.transcript.add_entry("user", sent_parts(text, files))
        self._entry = self.transcript.add_entry("assistant", state=Outcome.WAITING)
        self._streaming = False
        self.upload_prompt = None
        self.turn_worker = self._run_turn(conversation, text, tuple(files))
        return True

    def _give_back(self, text: str, files: Sequence[Attachment]) -> None:
        """A message that did not go (failed, cancelled): its text back in the composer and
        its files attached again, unless the person has begun another message meanwhile."""
        pending = self.query_one(PendingAttachments)
        if self.composer.text.strip() or pending.files:
            return  # text or files of a new message: the old one must not mix with it
        self.composer.restore(text)
        if files:
            pending.set_files(list(files))

    @work(group="turn")
    async def _run_turn(
        self, conversation: Conversation, text: str, files: tuple[Attachment, ...] = ()
    ) -> None:
        app = self.dialog_app
        hold = app.hold_young_collections()
        try:
            await conversation.send(text, files)
        finally:
            # The collection held back while the reply streamed runs once the reply's last
            # frame is on screen, not before it. (A callback lost with a screen popped before
            # its frame leaves it to the next turn, or to quitting.)
            self.call_after_refresh(app.release_young_collections, hold)

    # -- attachments and banners (ui/attach_ui.py) ---------------------------------------------

    def action_attach(self) -> None:
        """F5: a file for the next message, from a path or the folder tree."""
        from ..attach_ui import AttachScreen, attach_start_folder

        pending = len(self.query_one(PendingAttachments).files)
        screen = AttachScreen(attach_start_folder(), prompt=self.upload_prompt, pending=pending)
        self.app.push_screen(screen, self._attach_chosen)

    def _attach_chosen(self, request: AttachRequest | None) -> None:
        if request is None:
            return
        if request.clear:
            self.query_one(PendingAttachments).set_files([])
            self.notify("Attachments removed.")
        elif request.path is not None:
            self.attach_path(request.path)

    def attach_path(self, path: str) -> bool:
        """Read and check file `path` for the next message (against the bot's photo request,
        if its newest reply made one); a clear word and nothing attached if it is refused."""
        from ...attachments import (
            MESSAGE_MAX_BYTES,
            AttachmentError,
            check_count,
            clean_path,
            load,
        )

        prompt = self.upload_prompt
        pending = self.query_one(PendingAttachments)
        try:
            check_count(len(pending.files) + 1)
            if prompt is not None:
                file = load(
                    clean_path(path),
                    limit=min(prompt.max_size_bytes, MESSAGE_MAX_BYTES),
                    accepted=prompt.accepted_types,
                    limit_source="the bot's limit for this photo",
                )
            else:
                file = load(clean_path(path))
        except AttachmentError as error:
            self.notify(error.safe_message, severity="error", timeout=8)
            return False
        pending.set_files([*pending.files, file])
        self.composer.focus()
        return True

    def on_composer_path_dropped(self, event: Composer.PathDropped) -> None:
        """A path dropped or pasted into the composer: the file goes with the next message."""
        self.attach_path(event.path)

    @work(exclusive=True, group="session-values")
    async def action_show_session(self) -> None:
        """The visitor's session values and the bot's form definitions, in the inspector
        (its rows show the requests; its detail pane what they answered)."""
        from ...api.errors import ApiHttpError, DialogError
        from ...api.models import FormPart
        from ..attach_ui import session_text

        await self.secret_read.wait()
        client = self.ensure_conversation().client
        try:
            state = await client.get_session_state()
        except ApiHttpError as error:
            if error.status != 404:
                self.notify(error.safe_message, severity="error")
                return
            state = None  # a server older than session values
        except DialogError as error:
            self.notify(error.safe_message, severity="error")
            return
        config = self.bot_config
        form_ids = [f.form_id for f in config.forms] if config is not None else []
        markers = [*self.forms.stale, *self.forms.current]
        form_ids += [m.form_id for m in markers if isinstance(m, FormPart) and m.form_id]
        forms: list[tuple[str, Any]] = []
        for form_id in dict.fromkeys(form_ids):  # each once, in order
            try:
                forms.append((form_id, await client.get_form(form_id)))
            except DialogError as error:
                forms.append((form_id, error.safe_message))
        if not self.inspector.has_class("-shown"):
            self.action_toggle_inspector()
        self.inspector.show_note(session_text(state, forms))

    @work(exclusive=True, group="banners")
    async def load_banners(self) -> None:
        """The banners for the page in force, in a worker (after the page changed)."""
        await self.fetch_banners()

    async def fetch_banners(self) -> None:
        """The banners for the page in force; none from a server older than banners."""
        from ...api.errors import DialogError

        conversation = self.conversation
        if conversation is None or conversation.session is None:
            return
        try:
            banners = await conversation.client.get_banners()
        except DialogError:
            return  # banners are an extra: a failure leaves the conversation as it is
        self.query_one(BannerStrip).set_banners(banners or [])

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
        from ...api.models import FormPart
        from ..forms import FormScreen

        if isinstance(marker, FormPart) and not marker.fields and marker.form_id:
            self._hydrate_form(marker)  # a thin marker: its fields come from GET /forms/{id}
            return

        current = self.forms.is_current(marker) and marker.part_id not in self.forms.sent
        screen = FormScreen(
            marker,
            self._submit_form,
            current=current,
            draft=self.forms.draft(marker),
            keep_draft=self.forms.keep_draft,
        )
        self.app.push_screen(screen, lambda confirmation: self._form_closed(marker, confirmation))

    @work(exclusive=True, group="form-definition")
    async def _hydrate_form(self, marker: FormPart) -> None:
        from ...api.errors import DialogError
        from ...api.page_models import hydrate

        try:
            definition = await self.ensure_conversation().client.get_form(marker.form_id)
        except DialogError as error:
            self.notify(f"The form could not be loaded. {error.safe_message}", severity="error")
            return
        if not definition.fields:
            self.notify("The server's definition of this form has no fields.", severity="error")
            return
        self._open_form(hydrate(marker, definition))

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
        self.load_banners()
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

        if self.live is not None and self.live.rating_due:
            self._prompt_live_rating()
            return
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
        if self.live is not None:
            await self.live.stop()
        if self.conversation is not None:
            await self.conversation.close()
        self._servers.close()

    @property
    def store(self) -> Store:
        return self.dialog_app.store

    # -- live chat: a human agent takes over (the core's `LiveChat`; widgets in `ui.livechat`) --

    def _attach_live_chat(self, conversation: Conversation) -> None:
        from ...conversation.livechat import LiveChat

        self.live = LiveChat(
            conversation, cadence=self.livechat_cadence, listener=self.on_live_event
        )

    def on_live_event(self, event: LiveChatEvent) -> None:
        """What the live chat tells, as widgets: the status line, agent turns, notes."""
        from ...conversation.livechat import AgentMessage, LiveChatChanged, LiveChatSent
        from ..livechat import status_text

        if isinstance(event, LiveChatChanged):
            self.query_one(LiveChatStatus).text = status_text(
                event.phase,
                event.agent_name,
                event.agent_typing,
                event.closed_by,
                event.rating_due,
            )
            engaged = self.live is not None and self.live.engaged
            if event.phase == "waiting" and self._live_phase != "waiting":
                self._offer_waiting_form()
            elif event.phase != "waiting" and self._live_phase == "waiting":
                self._withdraw_waiting_form()
            self._live_phase = event.phase
            if engaged != self._live_engaged:
                self._live_engaged = engaged
                self.app.refresh_bindings()  # F8 / F9 swap in the footer
            if event.rating_due and event.phase == "closed" and not self._rating_open:
                self._prompt_live_rating()
        elif isinstance(event, AgentMessage):
            self._add_message(event.message)
            self.transcript.follow = True  # to the end at the next layout, not a refresh later
        elif isinstance(event, LiveChatSent):
            if not event.ok:
                self.transcript.add_notice(
                    f"Not delivered to the agent: {event.error}", variant="error"
                )
                self._give_back(event.text, event.attachments)
        else:
            self.transcript.add_notice(event.text, variant=event.level)

    _rating_open = False
    _live_phase = "off"

    @work(group="livechat")
    async def _offer_waiting_form(self) -> None:
        """While waiting: the waiting-room form's button, if the bot has one."""
        from ...api.errors import DialogError
        from ..livechat import WaitingFormChoice

        live = self.live
        if live is None:
            return
        try:
            form = await live.waiting_form()
        except DialogError:
            return  # the form is a courtesy; the chat goes on without it
        if form is None or not form.fields or not live.engaged or live.active:
            return
        label = f"📝 While you wait: {form.name or 'leave your details'}"
        self.action_bar.show([WaitingFormChoice(label, "", form.form_id)])
        self.transcript.add_notice(
            "While you wait, you can leave details for the agent: the 📝 button above the "
            "composer, or the palette's “Waiting-room form”.",
            variant="info",
        )

    def _withdraw_waiting_form(self) -> None:
        """The wait is over (an agent joined, or it was withdrawn): its form's button goes."""
        from ..livechat import WaitingFormChoice

        bar = self.action_bar
        kept = [c for c in bar.choices if not isinstance(c, WaitingFormChoice)]
        if len(kept) != len(bar.choices):
            bar.show(kept, retry=bar.has_retry)

    @work(group="livechat")
    async def action_waiting_form(self) -> None:
        from ...api.errors import DialogError
        from ...api.models import FormPart
        from ..forms import FormScreen

        await self.secret_read.wait()
        self.ensure_conversation()
        live = self.live
        assert live is not None
        try:
            form = await live.waiting_form()
        except DialogError as error:
            self.notify(error.safe_message, severity="error", markup=False)
            return
        if form is None:
            self.notify("This bot has no waiting-room form.")
            return
        marker = FormPart(
            part_id=f"livechat-waiting-{form.form_id}",
            form_id=form.form_id,
            name=form.name or "While you wait",
            fields=form.fields,
            min_filled_fields=form.min_filled_fields,
        )
        self.app.push_screen(FormScreen(marker, self._save_waiting_form), self._waiting_form_closed)

    async def _save_waiting_form(self, marker: FormMarker, values: dict[str, Any]) -> SubmitOutcome:
        from ...api.errors import ApiHttpError, DialogError
        from ...api.models import FormPart
        from ..forms import SubmitOutcome

        live = self.live
        assert live is not None and isinstance(marker, FormPart)
        texts = {key: value for key, value in values.items() if isinstance(value, str)}
        try:
            await live.save_waiting_values(marker.form_id, texts)
        except ApiHttpError as error:
            if error.status == 409:
                return SubmitOutcome(error="This form is taken only while you wait for an agent.")
            if error.params:
                return SubmitOutcome(
                    field_errors={_field_key(p.field): p.message for p in error.params}
                )
            return SubmitOutcome(error=error.safe_message)
        except DialogError as error:
            return SubmitOutcome(error=error.safe_message)
        return SubmitOutcome(confirmation="The agent will see it when they join.")

    def _waiting_form_closed(self, confirmation: str | None) -> None:
        if confirmation is not None:
            self.transcript.add_notice(f"Details saved. {confirmation}", variant="info")

    def _offer_handover(self, message: Message, followups: tuple[FollowUp, ...]) -> None:
        """The bot's `request_human_agent` part gets a button in the action bar."""
        from ...api.models import HumanAgentPart
        from ..livechat import handover_choice

        markers = [p for p in message.parts if isinstance(p, HumanAgentPart)]
        if markers and self.live is not None and not self.live.engaged:
            self.action_bar.show([handover_choice(markers[-1].part_id), *_choices(followups)])

    @work(group="livechat")
    async def action_ask_for_human(self, part_id: str = "") -> None:
        await self.secret_read.wait()
        self.ensure_conversation()
        assert self.live is not None
        if await self.live.request(part_id=part_id or None):
            self.action_bar.clear()

    @work(group="livechat")
    async def action_end_live_chat(self) -> None:
        if self.live is not None and self.live.engaged:
            await self.live.end()

    @work(group="livechat")
    async def _resume_live_chat(self) -> None:
        self.app.refresh_bindings()  # the config says now whether F8 is offered
        if self.live is not None:
            await self.live.resume()

    def _send_to_agent(self, text: str, live: LiveChat) -> bool:
        """The composer's text, and the files attached (F5, a pasted path), to the agent:
        checked against the live chat's own limits first, so a refused file loses nothing."""
        from ...attachments import AttachmentError
        from ..attach_ui import sent_parts

        pending = self.query_one(PendingAttachments)
        files = tuple(pending.files)
        try:
            live.check_attachments(files)
        except AttachmentError as error:
            self.notify(error.safe_message, severity="error")
            return False
        pending.set_files([])
        self.transcript.add_entry("user", sent_parts(text, list(files)))
        self.transcript.follow = True
        self._agent_send(text, files)
        return True

    @work(group="livechat-send")
    async def _agent_send(self, text: str, files: tuple[Attachment, ...] = ()) -> None:
        from ...attachments import AttachmentError

        if self.live is not None and self.live.active:
            try:
                await self.live.send(text, files)
            except AttachmentError as error:  # the config changed since the check
                self.notify(error.safe_message, severity="error")
                self._give_back(text, files)  # nothing was sent

    def on_text_area_changed(self, event: object) -> None:
        # By name: the composer (a TextArea) is imported after the first frame.
        composer = self._composer
        live = self.live
        if live is None or composer is None or not live.active:
            return
        typed_in = getattr(event, "text_area", None)
        if composer.text.strip() and typed_in is composer:
            live.typed()

    def _prompt_live_rating(self) -> None:
        from ..livechat_rating import LiveChatRateScreen

        self._rating_open = True
        name = self.live.agent_name if self.live is not None else ""
        self.app.push_screen(LiveChatRateScreen(name), self._live_rated)

    def _live_rated(self, rating: Rating | None) -> None:
        self._rating_open = False
        if self.live is None:
            return
        if rating is None:
            self.live.dismiss_rating()
            return
        self._send_live_rating(rating)

    @work(group="livechat")
    async def _send_live_rating(self, rating: Rating) -> None:
        if self.live is not None:
            await self.live.rate(rating.stars, rating.feedback)


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
