"""The chat app: one conversation with one bot, streamed live."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import ExitStack, suppress
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.geometry import Size
from textual.screen import Screen
from textual.reactive import reactive
from textual.widget import AwaitMount, Widget
from textual.widgets import Footer, Header
from textual.worker import Worker

from ..api.errors import ApiHttpError, DialogError
from ..background import in_daemon_thread
from ..target import Target, TargetError, configured_target, demo_target, with_secret
from ..text import sanitize_line
from .choices import ActionBar, Choice
from .standins import ComposerStandIn, TranscriptStandIn

if TYPE_CHECKING:
    # The wire models import msgspec (~10 ms before the first frame): imported where used.
    from ..api.assembler import Change, ReplyAssembler
    from ..api.models import Config, FormMarker, Message, StartPrompt

    # Not at run time: httpx, which the client imports, would delay the first frame.
    from ..api.client import DialogClient
    from ..api.retry import Operation, RetryPolicy
    from ..api.timeouts import Timeouts

    # The session (with the trace and retry modules) and the store (sqlite3, json) are
    # imported where they are first used, after the first frame: ~30 ms before it otherwise.
    from ..session import ChatSession, Turn
    from ..store import Recorder, Store

    # The modal screens import where they open: their widgets (Input, Select, OptionList…)
    # are not needed for the first frame.
    from .forms import Rating, SubmitOutcome
    from .inspector import Inspector
    from .switch import SwitchRequest

    # Swapped in for their stand-ins after the first frame (see `standins`).
    from .composer import Composer
    from .transcript import EntryState, Transcript

HISTORY_LIMIT = 1000
# While a reply streams, the laid-out lines it adds are long-lived objects by the tens of
# thousands: at the default threshold (700) they set off ~60 young and ~6 older collections
# per 100 KB reply, 25-40 ms that each re-scan what the last one kept. Above this, none runs
# mid-reply; the one that is due runs once the reply's last frame is on screen.
STREAMING_GC_THRESHOLD = 50_000
FINAL_OUTCOMES = ("done", "error", "incomplete", "cancelled")


def _null_store() -> Store:
    from ..store import NullStore

    return NullStore()


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


class MainScreen(Screen[None]):
    """The app's first screen. Its widgets cover it, so it draws no more than its background."""

    BLANK = True


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


class DialogApp(App[None]):
    """`dialogtui` and `dialogtui --demo`."""

    TITLE = "dialogtui"
    CSS = """
    Screen {
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
        Binding("ctrl+n", "new_conversation", "New chat"),
        Binding("f2", "rate", "Rate"),
        Binding("f4", "copy_reply", "Copy reply"),
        Binding("ctrl+b", "switch_bot", "Switch bot"),
        Binding("f12", "toggle_inspector", "Inspector"),
        Binding("f3", "fresh_visitor", "Fresh visitor", show=False),
        Binding("ctrl+l", "reload_history", "Reload", show=False),
        Binding("ctrl+t", "toggle_theme", "Theme", show=False),
        Binding("ctrl+o", "open_form", "Open form", show=False),
    ]

    def __init__(
        self,
        target: Target,
        *,
        timeouts: Timeouts | None = None,
        policies: Mapping[Operation, RetryPolicy] | None = None,
        store: Store | None = None,
        open_store: Callable[[], Store] | None = None,
    ) -> None:
        """`store`, or else `open_store` to open one after the first frame, or else none."""
        super().__init__()
        self.target = target
        self._store = store
        self._open_store = open_store
        self._conversation = 0
        self._timeouts = timeouts
        self._policies = policies
        self.session: ChatSession | None = None
        self.bot_config: Config | None = None
        """The bot's config once loaded (None before, or if it could not be)."""
        self._turn_worker: Worker[None] | None = None
        self.startup_error: TargetError | None = None
        """Why the app closed before connecting (no secret, no keyring), for its caller to say."""
        self._retryable_text: str | None = None
        self._retry_shown = False
        from .form_state import FormTracker

        self.forms = FormTracker()
        self._start_prompts_live = False
        """Start prompts are on show: no user turn yet (they follow a page change)."""
        """The bot's forms: which are current, sent, or drafted (`ui/form_state.py`)."""
        self._last_reply: str = ""
        self._heap_frozen = False
        self._young_threshold: tuple[int, int, int] | None = None
        self._young_holds = 0
        self._status = ""
        self._first_frame = asyncio.Event()
        self._secret_read = asyncio.Event()
        """Set once the target has its secret (at once, unless it is still in the keyring)."""
        if not target.secret_pending:
            self._secret_read.set()
        self._inspector: Inspector | None = None
        self._transcript: Transcript | None = None
        self._composer: Composer | None = None
        # The built-in server switched to, if any; stopped on switching away and on exit.
        self._servers = ExitStack()

    def _fatal_error(self) -> None:
        """Textual's crash report, without local variables.

        Textual renders a crash with `show_locals=True`; a frame of the client may hold the API
        key or a visitor token, and that report lands on the terminal and in scrollback.
        """
        from rich.segment import Segments
        from rich.traceback import Traceback

        self.bell()
        traceback = Traceback(show_locals=False, width=None)
        self._exit_renderables.append(
            Segments(self.console.render(traceback, self.console.options))
        )
        self._close_messages_no_wait()

    # -- layout -----------------------------------------------------------

    def get_default_screen(self) -> Screen[None]:
        return MainScreen(id="_default")

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
            self._replace_stand_ins()
            assert self._transcript is not None
        return self._transcript

    @property
    def inspector(self) -> Inspector:
        """The inspector panel, built with the first session (it records every request and event
        from then on, shown or not, so opening it mid-conversation shows what already happened)
        and mounted when it is first shown: until then it costs the first frame nothing."""
        if self._inspector is None:
            from .inspector import Inspector

            self._inspector = Inspector(id="inspector")
        return self._inspector

    @property
    def composer(self) -> Composer:
        if self._composer is None:
            self._replace_stand_ins()
            assert self._composer is not None
        return self._composer

    def _replace_stand_ins(self) -> None:
        """Mount the transcript and the composer in place of the first frame's stand-ins. Right
        after the first frame, or sooner if anything asks for either (a key handled before
        that frame). The composer takes over from its stand-in once mounted (`_hand_over`)."""
        if self._composer is not None:
            return
        from .composer import Composer
        from .transcript import Transcript

        self._transcript = Transcript(id="transcript")
        stand_in = self.query_one(TranscriptStandIn)
        _mount_in_place(stand_in, self._transcript)
        stand_in.remove()
        composer_stand_in = self.query_one(ComposerStandIn)
        self._composer = composer = Composer(id="composer")
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
        screen = stand_in.screen  # the main screen, also under a modal one
        if screen.focused in (stand_in, None):
            screen.set_focus(composer)
        stand_in.remove()

    @property
    def action_bar(self) -> ActionBar:
        return self.query_one(ActionBar)

    @property
    def client(self) -> DialogClient:
        return self._ensure_session().client

    def _ensure_session(self) -> ChatSession:
        """The session, opened now if the start worker has not opened it yet (an action taken
        in the first frames, or a start cancelled by another start-group worker). Only once the
        secret is read: whatever needs the session waits for `_secret_read` first."""
        if self.session is None:
            if self.target.secret_pending:
                raise RuntimeError("no session before the secret is read")
            self.session = self._new_session()
        return self.session

    @property
    def store(self) -> Store:
        """The local store, opened on first use: the first frame does not wait for it."""
        return self._ensure_store()

    def _ensure_store(self) -> Store:
        if self._store is None:
            self._store = self._open_store() if self._open_store is not None else _null_store()
            # Store warnings name files: shown as plain text, never parsed as markup.
            self._store.on_warning = self._store_warning
            if self._store.warning:
                self._store_warning(self._store.warning)
        return self._store

    def close_store(self) -> None:
        """Close the store if it was opened (its owner calls this once the app has stopped)."""
        if self._store is not None:
            self._store.close()

    def _store_warning(self, warning: str) -> None:
        self.notify(warning, severity="warning", timeout=10, markup=False)

    def on_mount(self) -> None:
        if self.target.settings.theme in self.available_themes:
            self.theme = self.target.settings.theme
        self.sub_title = self.target.environment
        self.query_one(ComposerStandIn).focus()
        self._set_status("Connecting…")
        self.call_after_refresh(self._first_frame_shown)
        self._start()

    def _first_frame_shown(self) -> None:
        if not gc.isenabled():
            # `run_chat` turns collection off for start-up: the imports and the first layout
            # build Textual's long-lived objects, and the collections they set off (a full one
            # included) took ~50 ms before the first frame. What exists now lives as long as the
            # app, so it is frozen out of later collections rather than scanned again.
            gc.freeze()
            gc.enable()
        if self._store is None:
            self._ensure_store()
            self._set_status(self._status)  # with the store's note
        self._first_frame.set()
        if self.target.secret_pending:
            self._read_secret()
        # After the start worker has sent its first request: mounting overlaps the wait for it.
        self.call_later(self._replace_stand_ins)

    def _new_session(self) -> ChatSession:
        from ..api.retry import DEFAULT_POLICIES
        from ..session import open_session

        policies = DEFAULT_POLICIES if self._policies is None else self._policies
        session = open_session(self.target, timeouts=self._timeouts, policies=policies)
        # The event list's own hooks: the inspector's would be one more call per SSE event.
        event_list = self.inspector.event_list
        session.add_listener(event_list.record, sse=False)
        session.add_sse_listener(event_list.record_sse)
        return session

    async def on_unmount(self) -> None:
        self._release_young_collections()
        if self.session is not None:
            await self.session.client.aclose()
        self._servers.close()

    def _set_status(self, text: str) -> None:
        self._status = text
        parts = [text]
        # Not `self.store`: before the first frame the store is not open yet, and not waited for.
        if self._store is not None and self._store.status_note:
            parts.append(self._store.status_note)
        # `query`, not `query_one`: a worker still loading as the app quits finds no status line.
        for line in self.query(StatusLine):
            line.text = " · ".join(p for p in parts if p)
        self._refresh_bindings_if_changed()

    def _refresh_bindings_if_changed(self) -> None:
        # Every refresh rebuilds the Footer's widgets and reflows the screen: only when
        # Retry, the one footer key that comes and goes, does.
        shown = self._retryable_text is not None
        if shown != self._retry_shown:
            self._retry_shown = shown
            self.refresh_bindings()

    # -- start-up: branding and history ------------------------------------

    @work(group="secret")
    async def _read_secret(self) -> None:
        """The secret from the keyring, after the first frame: ~0.2 s, or as long as an unlock
        prompt takes. A worker of its own, so that no start-group action can cancel it."""
        pending = self.target
        self._set_status("Reading the keyring…")
        try:
            target = await in_daemon_thread(with_secret, pending, name="dialogtui-keyring")
        except TargetError as error:
            if self.target is pending:
                # Said on the terminal once the app has closed, with its exit code, as the
                # CLI says any problem found before the first request.
                self.startup_error = error
                self.exit(return_code=error.exit_code)
            return
        if self.target is pending:  # not switched to another bot meanwhile (Ctrl+B)
            self.target = target
            self._set_status("Connecting…")
            self._secret_read.set()

    @work(exclusive=True, group="start")
    async def _start(self) -> None:
        # The session opens after the first frame: the HTTP client (httpx's import, an SSL
        # context) costs tens of ms that the person would otherwise see as a blank terminal.
        # Until then the running "start" worker makes a send wait, as it does for the history.
        await self._first_frame.wait()
        await self._connect()

    async def _connect(self) -> None:
        """Once the secret is read: the session, the bot's config and the history."""
        await self._secret_read.wait()
        self._ensure_session()
        await self._start_conversation()

    async def _start_conversation(self) -> None:
        # The local record first: a turn sent while the bot's config loads is on record too.
        from ..store import conversation_key

        self._conversation = self.store.resume_or_start(*conversation_key(self.target))
        if not await self._load_config():
            return  # history would fail the same way; one message says it
        self.store.set_bot_name(self._conversation, self.title)
        await self._load_history()

    async def _ensure_config(self) -> None:
        """The config, if a start-group action cancelled the start before it came."""
        if self.bot_config is None:
            await self._load_config()

    async def _load_config(self) -> bool:
        """The bot's config and branding; False if the bot refuses this client (401, 403)."""
        try:
            self.bot_config = await self.client.get_config()
        except DialogError as error:
            self.transcript.add_notice(error.safe_message, variant="error")
            if isinstance(error, ApiHttpError) and error.status in (401, 403):
                self._apply_branding()
                self._set_status("Not connected")
                return False
        self._apply_branding()
        return True

    def _apply_branding(self) -> None:
        config = self.bot_config
        name = sanitize_line(config.display.name or "") if config is not None else ""
        name = name or "Assistant"
        self.title = name
        self.transcript.bot_name = name

    async def _load_history(self) -> None:
        self._set_status("Loading conversation…")
        try:
            messages = await self.client.get_history(max_messages=HISTORY_LIMIT)
        except DialogError as error:
            self.transcript.add_notice(error.safe_message, variant="error")
            messages = []
        if messages:
            if self.client.history_cursor is not None:  # the cap is said, never silent
                self.transcript.add_notice(
                    f"Showing the latest {len(messages):,} messages; older ones are on the "
                    "server (`dialogtui data-export` downloads them all)."
                )
            for message in messages:
                self._add_message(message)
            self._remember_reply(messages)
            self.forms.history(messages)  # a form in history opens while it is the latest
            if any(message.role == "user" for message in messages):
                self.action_bar.clear()
            else:  # the vendor shows start prompts until the first *user* turn
                self._show_start_prompts()
        else:
            self._show_welcome()
        self.transcript.scroll_end(animate=False)
        self._set_status(
            "Ready · Ctrl+O opens the bot's form" if self.forms.openable() else "Ready"
        )
        if not self._heap_frozen:
            # Textual's tens of thousands of long-lived objects made every full collection
            # scan them again, mid-stream (~20 ms each); after start-up they are left alone.
            gc.freeze()
            self._heap_frozen = True

    def _add_message(self, message: Message) -> None:
        """A message from history: a system message reads as a note, an agent's by name."""
        if message.role == "system":
            from ..plaintext import parts_text

            self.transcript.add_notice(parts_text(message.parts) or "(system note)")
        else:
            self.transcript.add_entry(_role(message), message.parts, label=_speaker(message))

    def _show_welcome(self) -> None:
        from ..api.models import TextPart

        config = self.bot_config
        welcome = config.display.welcome_message if config is not None else None
        if welcome:
            self.transcript.add_entry("assistant", [TextPart(text=welcome)])
        self._show_start_prompts()

    def _show_start_prompts(self) -> None:
        self._start_prompts_live = True
        # Without a config, still show (no) prompts: what the bar held before goes.
        config, page = self.bot_config, self.target.settings.page
        self.action_bar.show(_prompt_choices(config.start_prompts, page) if config else ())

    def _remember_reply(self, messages: Iterable[Message]) -> None:
        from ..api.models import plain_text

        for message in messages:
            if message.role != "user":
                self._last_reply = plain_text(message.parts)

    # -- sending -------------------------------------------------------------

    # By name, not `@on(Composer.Submitted)`: the composer is imported after the first frame.
    def on_composer_submitted(self, event: Composer.Submitted) -> None:
        if self._send(event.text):
            self.composer.clear()

    def on_composer_stand_in_submitted(self, event: ComposerStandIn.Submitted) -> None:
        # Enter before the composer took over from its stand-in: the send is refused (the
        # start is still loading) or made, as from the composer.
        if self._send(event.text):
            event.stand_in.text = ""
            self.composer.clear()

    @on(ActionBar.Chosen)
    def _chosen(self, event: ActionBar.Chosen) -> None:
        if self._send(event.choice.send_text):
            self.composer.focus()  # for what the person types next

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Hidden, not just disabled: Retry exists only for an error the contract calls retryable.
        if action == "retry":
            return self._retryable_text is not None
        if action == "cancel_reply":
            return self._turn_running
        return True

    @property
    def _turn_running(self) -> bool:
        # Not `is_running`: a worker just created is still pending, and a second Enter must wait.
        return self._turn_worker is not None and not self._turn_worker.is_finished

    @on(ActionBar.RetryPressed)
    def action_retry(self) -> None:
        text = self._retryable_text
        if text is None:
            return
        if self.composer.text.strip() == text.strip():
            self.composer.clear()
        if self._send(text):
            self.composer.focus()

    def _send(self, text: str) -> bool:
        if not self._secret_read.is_set() or any(
            worker.group == "start" and not worker.is_finished for worker in self.workers
        ):
            self.notify("One moment: the conversation is still loading.", severity="warning")
            return False
        if self._turn_running:
            self.notify(
                "A reply is still arriving. Wait for it, or press Esc to cancel it.",
                severity="warning",
            )
            return False
        from ..api.models import TextPart

        self._retryable_text = None
        self._start_prompts_live = False
        self.transcript.add_entry("user", [TextPart(text=text)])
        entry = self.transcript.add_entry("assistant", state="waiting")
        # On record before it is sent: a failed or killed send still has the text.
        user_record = self.store.record_user_turn(self._conversation, text)
        recorder = self.store.begin_reply(self._conversation, reply_to=user_record)
        self._ensure_session()  # a start cancelled before it opened one (Ctrl+B, then Esc)
        from ..session import Turn

        self._turn_worker = self._run_turn(Turn(text=text), entry, recorder)
        return True

    @work(group="turn")
    async def _run_turn(self, turn: Turn, entry: int, recorder: Recorder) -> None:
        hold = self._hold_young_collections()
        try:
            await self._play_turn(turn, entry, recorder)
        finally:
            # The collection held back while the reply streamed runs once the reply's last
            # frame is on screen, not before it. (A callback lost with a screen popped before
            # its frame leaves it to the next turn, or to quitting.)
            self.call_after_refresh(self._release_young_collections, hold)

    def _hold_young_collections(self) -> int:
        """Raise the collector's young-generation threshold (see STREAMING_GC_THRESHOLD).
        Returns the number of this hold, for `_release_young_collections`."""
        self._release_young_collections()  # the last turn's, if its last frame has not come
        previous = gc.get_threshold()
        gc.set_threshold(max(STREAMING_GC_THRESHOLD, previous[0]), *previous[1:])
        self._young_threshold = previous
        self._young_holds += 1
        return self._young_holds

    def _release_young_collections(self, hold: int | None = None) -> None:
        """Put the threshold back (tests run many apps in one process): any hold, or only
        hold number `hold` (a late callback must not end the next turn's)."""
        if self._young_threshold is not None and hold in (None, self._young_holds):
            gc.set_threshold(*self._young_threshold)
            self._young_threshold = None

    async def _play_turn(self, turn: Turn, entry: int, recorder: Recorder) -> None:
        from ..api.models import plain_text

        assert self.session is not None
        self.action_bar.clear()
        self._set_status("Waiting for the reply… Esc cancels")
        transcript = self.transcript
        self.inspector.begin_turn(turn.text)

        def reply_text() -> str:
            return plain_text(turn.assembler.parts)

        streaming = False
        assembler = turn.assembler
        saved_length = 0

        def save_growth() -> None:
            # Growth within a block yields no update (see below): save it on a clock. An
            # update the store held back (it writes at most once per interval) is written
            # at the next tick that brings nothing new, so a stalled stream has it on record.
            nonlocal saved_length
            if assembler.text_length != saved_length:
                saved_length = assembler.text_length
                recorder.update(reply_text)
            else:
                recorder.flush()

        saver = self.set_interval(self.store.flush_interval, save_growth)
        try:
            # One update per block, not per delta: the transcript follows a growing block
            # from the assembler at its frame rate (`stream_block`).
            async for update in self.session.stream_turn(turn, every_delta=False):
                change = update.change
                if change is None:
                    continue
                if not streaming:
                    transcript.set_state(entry, "streaming")
                    streaming = True
                if change.block_index is not None and not change.structural:
                    transcript.stream_block(
                        entry, change.part_index, change.block_index, assembler.block
                    )
                else:
                    self._apply(transcript, assembler, change, entry)
                recorder.update(reply_text)
        except DialogError as error:
            self._turn_failed(turn, entry, error)
            return
        except asyncio.CancelledError:
            # A cancel can land while the connection drains after `done`: the reply is whole.
            transcript.set_state(entry, "done" if turn.outcome == "done" else "cancelled")
            transcript.set_footer(entry, turn.figures.summary())
            self._set_status("Ready" if turn.outcome == "done" else "Reply cancelled")
            raise
        finally:
            saver.stop()
            recorder.finish(
                turn.outcome if turn.outcome in FINAL_OUTCOMES else "incomplete",
                message=turn.assembler.message,
                error=turn.error,
                figures=turn.figures,
                text=reply_text(),
            )
            self.inspector.end_turn(turn.figures.summary())
        if turn.outcome != "done":
            # No `done` and no error: the client reports this as an error, but be safe.
            transcript.set_state(entry, "incomplete")
            return
        transcript.set_state(entry, "done")
        transcript.set_footer(entry, turn.figures.summary())
        self._set_status("Ready")
        message = turn.assembler.message
        if message is not None:
            self._last_reply = plain_text(message.parts)
            self._offer_followups(message)

    @staticmethod
    def _apply(
        transcript: Transcript, assembler: ReplyAssembler, change: Change, entry: int
    ) -> None:
        """A change other than a block's growth: a new or replaced part, or the whole reply."""
        if change.everything:
            transcript.set_parts(entry, assembler.parts)
        else:
            transcript.set_part(entry, change.part_index, assembler.part(change.part_index))

    def _turn_failed(self, turn: Turn, entry: int, error: DialogError) -> None:
        # A partial reply stays, marked incomplete; with nothing shown, the error stands alone.
        state: EntryState = "incomplete" if turn.assembler.part_count else "error"
        self.transcript.set_state(entry, state, note=error.safe_message)
        self.transcript.set_footer(entry, turn.figures.summary())
        self._retryable_text = turn.text if error.retryable else None
        self.composer.restore(turn.text)
        self.action_bar.show((), retry=error.retryable)
        self._set_status(
            "The reply failed · Ctrl+R retries" if error.retryable else "The reply failed"
        )

    def _offer_followups(self, message: Message) -> None:
        from ..api.models import (
            QuickRepliesPart,
            SuggestionsPart,
        )

        choices: list[Choice] = []
        for part in message.parts:
            if isinstance(part, SuggestionsPart):
                choices.extend(
                    Choice(s.title or s.prompt_text, s.prompt_text)
                    for s in part.suggestions
                    if s.prompt_text
                )
            elif isinstance(part, QuickRepliesPart):
                choices.extend(Choice(reply, reply) for reply in part.replies if reply)
        self.action_bar.show(choices)
        if self.forms.bot_message(message.parts):
            self.action_open_form()

    # -- actions ---------------------------------------------------------------

    async def _stop_turn(self) -> None:
        """Cancel the reply in flight and wait until it has marked its entry, so a cleared
        transcript never receives a late update from it."""
        worker = self._turn_worker
        if worker is not None and not worker.is_finished:
            worker.cancel()
            with suppress(Exception):
                await worker.wait()

    def action_cancel_reply(self) -> None:
        if self._turn_worker is not None and self._turn_running:
            self._turn_worker.cancel()

    def action_open_form(self) -> None:
        """The bot's current form (a choice when it offers several); else the newest older
        one, read-only; else a word that there is none."""
        from .forms import FormPickerScreen

        openable = self.forms.openable()
        if len(openable) > 1:
            picker = FormPickerScreen(self.forms.current, sorted(self.forms.sent))
            self.push_screen(picker, lambda m: self._open_form(m) if m is not None else None)
        elif openable:
            self._open_form(openable[0])
        elif self.forms.stale or self.forms.current:
            self._open_form((self.forms.stale + self.forms.current)[-1])
        else:
            self.notify("There is no form in this conversation.")

    def action_set_page(self) -> None:
        from .forms import PageScreen

        self.push_screen(PageScreen(self.target.settings.page), self._page_set)

    def _page_set(self, page: str | None) -> None:
        """From now on every message carries this page; start prompts follow it."""
        if page is None:
            return
        from dataclasses import replace

        self.target = replace(
            self.target, settings=replace(self.target.settings, page=page or None)
        )
        if self.session is not None:
            self.client.context_page = page or None
        self.notify(f"Page: {page}" if page else "No page is sent now.")
        if self._start_prompts_live:  # still before the first user turn
            self._show_start_prompts()

    def _open_form(self, marker: FormMarker) -> None:
        from .forms import FormScreen

        current = self.forms.is_current(marker) and marker.part_id not in self.forms.sent
        screen = FormScreen(
            marker,
            self._submit_form,
            current=current,
            draft=self.forms.draft(marker),
            keep_draft=self.forms.keep_draft,
        )
        self.push_screen(screen, lambda confirmation: self._form_closed(marker, confirmation))

    def _form_closed(self, marker: FormMarker, confirmation: str | None) -> None:
        if confirmation is not None:
            self.forms.mark_sent(marker)
            self.transcript.add_notice(f"Form sent. {confirmation}", variant="info")

    async def _submit_form(self, marker: FormMarker, values: dict[str, Any]) -> SubmitOutcome:
        from .forms import SubmitOutcome, action_for

        try:
            result = await self.client.submit_action(marker.part_id, action_for(marker, values))
        except ApiHttpError as error:
            if error.status == 409:  # no longer the latest actionable part: read-only now
                self.forms.mark_stale(marker)
                return SubmitOutcome(stale=True)
            if error.params:
                return SubmitOutcome(
                    field_errors={_field_key(p.field): p.message for p in error.params}
                )
            return SubmitOutcome(error=error.safe_message)
        except DialogError as error:
            return SubmitOutcome(error=error.safe_message)
        return SubmitOutcome(confirmation=result.confirmation_text)

    # The client is asked for inside `_restart`, once the secret is read: hence the lambdas.
    @work(exclusive=True, group="start")
    async def action_new_conversation(self) -> None:
        await self._restart(lambda: self.client.reset_conversation(), "New conversation")

    @work(exclusive=True, group="start")
    async def action_fresh_visitor(self) -> None:
        await self._restart(lambda: self.client.authenticate(), "Fresh visitor: a new conversation")

    async def _restart(self, new_token: Callable[[], Awaitable[str]], status: str) -> None:
        """A new conversation on the server (reset, or a new visitor), and a clean screen."""
        await self._secret_read.wait()
        if not self.client.has_api_key:
            self.notify("Starting over needs an API key (`dialogtui login`).", severity="warning")
            return
        await self._stop_turn()
        try:
            await new_token()
        except DialogError as error:
            self.transcript.add_notice(error.safe_message, variant="error")
            return
        await self._ensure_config()
        self._forget_conversation()
        self._show_welcome()
        self._set_status(status)

    @work(exclusive=True, group="start")
    async def action_reload_history(self) -> None:
        await self._secret_read.wait()
        await self._stop_turn()
        await self._ensure_config()
        self.transcript.clear()
        await self._load_history()

    def action_switch_bot(self) -> None:
        from .switch import SwitchScreen

        screen = SwitchScreen(
            self.target.base_url, self.target.chatbot_id, is_local=self.target.environment == "demo"
        )
        self.push_screen(screen, self._start_switch)

    def _start_switch(self, request: SwitchRequest | None) -> None:
        if request is not None:  # Esc: nothing to start, and the start running goes on
            self._switch_requested(request)

    @work(exclusive=True, group="start")
    async def _switch_requested(self, request: SwitchRequest) -> None:
        from .switch import LOCAL

        if self.session is not None:
            # The same bot again reads its token back from the keyring: the one rotated at
            # the last reply may still be on its way there.
            await self.session.client.wait_token_saved()
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
        try:
            await self._stop_turn()
        except BaseException:
            servers.close()  # cancelled (another start-group worker): the new server goes too
            raise
        old = self.session
        self.target = target
        self._secret_read.set()  # the new target brought its own
        self.session = self._new_session()
        self._servers.close()  # a built-in server switched away from stops here
        self._servers = servers
        if old is not None:
            await old.client.aclose()
        self.sub_title = target.environment
        self._forget_conversation(new_record=False)
        await self._start_conversation()

    def _forget_conversation(self, *, new_record: bool = True) -> None:
        """Clear the screen for another conversation; `new_record` starts its local record too."""
        if new_record:
            from ..store import conversation_key

            self._conversation = self.store.start_conversation(
                *conversation_key(self.target), bot_name=self.title
            )
        self.transcript.clear()
        self.inspector.clear()
        self.forms.clear()
        self._retryable_text = None
        self._refresh_bindings_if_changed()
        self._last_reply = ""

    def action_rate(self) -> None:
        from .forms import RateScreen

        self.push_screen(RateScreen(), self._start_rating)

    def _start_rating(self, rating: Rating | None) -> None:
        self._rated(rating)

    @work(group="rate")
    async def _rated(self, rating: Rating | None) -> None:
        if rating is None:
            return
        await self._secret_read.wait()
        try:
            await self.client.rate(rating.stars, rating.feedback)
        except DialogError as error:
            self.notify(error.safe_message, severity="error")
            return
        self.notify("Thanks for your rating.")

    def action_copy_reply(self) -> None:
        if not self._last_reply:
            self.notify("There is no reply to copy yet.")
            return
        # OSC 52: the terminal, not this process, owns the clipboard.
        self.copy_to_clipboard(self._last_reply)
        self.notify("Copied the last reply.")

    def action_saved_conversations(self) -> None:
        if not self.store.saving:
            self.notify("Local saving is off: there are no saved conversations to open.")
            return
        from .history import ConversationPicker

        self.push_screen(ConversationPicker(self.store.conversations(limit=200)), self._open_saved)

    def _open_saved(self, conversation_id: int | None) -> None:
        if conversation_id is None:
            return
        summary = self.store.conversation(conversation_id)
        if summary is not None:
            from .history import SavedConversationScreen

            self.push_screen(SavedConversationScreen(summary, self.store.messages(conversation_id)))

    def action_export_conversation(self) -> None:
        if not self.store.saving:
            self.notify("Local saving is off: nothing to export.", severity="warning")
            return
        from ..config import data_dir
        from ..store import StoreError, dumps_json, write_private

        folder = data_dir() / "exports"
        stem = folder / f"conversation-{self._conversation}"
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_private(stem.with_suffix(".md"), self.store.export_markdown(self._conversation))
            write_private(
                stem.with_suffix(".json"),
                dumps_json(self.store.export_json(self._conversation)) + "\n",
            )
        except (StoreError, OSError) as error:
            message = (
                error.safe_message
                if isinstance(error, StoreError)
                else "The export could not be written."
            )
            self.notify(message, severity="error", markup=False)
            return
        self.notify(f"Exported to {stem}.md and .json", timeout=8, markup=False)

    def action_toggle_inspector(self) -> None:
        inspector = self.inspector
        if inspector.parent is None:
            self.query_one(MainPane).mount(inspector)
        inspector.toggle_class("-shown")

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield SystemCommand(
            "New conversation",
            "Start a fresh conversation with this bot",
            self.action_new_conversation,
        )
        yield SystemCommand(
            "Rate conversation", "Give this conversation 1–5 stars", self.action_rate
        )
        yield SystemCommand(
            "Reload history",
            "Fetch this conversation again from the server",
            self.action_reload_history,
        )
        yield SystemCommand(
            "Copy last reply", "Copy the last reply to the clipboard", self.action_copy_reply
        )
        yield SystemCommand("Open form", "Reopen the bot's form", self.action_open_form)
        yield SystemCommand(
            "Set page", "The page the visitor is on (context.page)", self.action_set_page
        )
        yield SystemCommand(
            "Switch bot or environment",
            "Talk to another bot, environment or the local server",
            self.action_switch_bot,
        )
        yield SystemCommand(
            "Fresh visitor",
            "Start over as a new visitor (a new token from the API key)",
            self.action_fresh_visitor,
        )
        yield SystemCommand(
            "Open a saved conversation",
            "Read a past conversation from the local store",
            self.action_saved_conversations,
        )
        yield SystemCommand(
            "Export conversation",
            "Write this conversation as Markdown and JSON",
            self.action_export_conversation,
        )
        yield SystemCommand(
            "Toggle inspector",
            "Show every request, SSE event, retry and timing",
            self.action_toggle_inspector,
        )
        yield SystemCommand(
            "Toggle dark/light theme", "Switch the colour theme", self.action_toggle_theme
        )
        yield SystemCommand("Quit", "Quit dialogtui", self.action_quit)


def _mount_in_place(stand_in: Widget, widget: Widget) -> AwaitMount:
    """Mount `widget` just before `stand_in`, in its parent (on the main screen, even under a
    modal one)."""
    parent = stand_in.parent
    assert isinstance(parent, Widget)
    return parent.mount(widget, before=stand_in)


def _speaker(message: Message) -> str | None:
    """A human agent's name for the entry's label ("Sofie (agent)"); None for the others."""
    if message.role != "agent" or message.agent is None:
        return None
    from ..plaintext import role_label

    return role_label("agent", None, message.agent)


def _role(message: Message) -> str:
    # A human agent and a system note keep their role: they are not the bot speaking.
    return message.role if message.role in ("user", "agent", "system") else "assistant"


def _prompt_choices(prompts: list[StartPrompt], page: str | None) -> list[Choice]:
    from ..api.models import select_start_prompts  # the vendor's rule, url_pattern vs page

    return [Choice(p.prompt_text, p.prompt_text) for p in select_start_prompts(prompts, page)]


def _field_key(field_path: str) -> str:
    """`fields.email` or `values.email` -> `email`: params name the body path."""
    return field_path.rsplit(".", 1)[-1]
