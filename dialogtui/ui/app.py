"""The chat app: app-wide concerns only.

What lives here: the first frame (stand-ins swapped for the real widgets right after it, the
collector tuned around it), the local store (opened after that frame), themes, the command
palette and the crash report. The conversation on screen, its keys and its widgets are the
main screen's (`screens/main.py`), which renders the conversation core's events.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from ..target import Target, TargetError
from .screens.main import MainScreen

if TYPE_CHECKING:
    from textual.worker import Worker

    # Not at run time: httpx, which the client imports, would delay the first frame.
    from ..api.client import DialogClient
    from ..api.models import Config
    from ..api.retry import Operation, RetryPolicy
    from ..api.timeouts import Timeouts
    from ..session import ChatSession

    # The store (sqlite3, json) is imported where it is first opened, after the first frame.
    from ..store import Store
    from .choices import ActionBar
    from .composer import Composer
    from .inspector import Inspector
    from .switch import SwitchRequest
    from .transcript import Transcript

# While a reply streams, the laid-out lines it adds are long-lived objects by the tens of
# thousands: at the default threshold (700) they set off ~60 young and ~6 older collections
# per 100 KB reply, 25-40 ms that each re-scan what the last one kept. Above this, none runs
# mid-reply; the one that is due runs once the reply's last frame is on screen.
STREAMING_GC_THRESHOLD = 50_000


class DialogApp(App[None]):
    """`dialogtui` and `dialogtui --demo`."""

    TITLE = "dialogtui"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help"),
        Binding("ctrl+t", "toggle_theme", "Toggle the dark / light theme", show=False),
    ]

    def __init__(
        self,
        target: Target,
        *,
        timeouts: Timeouts | None = None,
        policies: Mapping[Operation, RetryPolicy] | None = None,
        store: Store | None = None,
        open_store: Callable[[], Store] | None = None,
        typed_ahead: str = "",
    ) -> None:
        """`store`, or else `open_store` to open one after the first frame, or else none.
        `typed_ahead`: text typed before the app could read keys, for the composer."""
        super().__init__()
        self.typed_ahead = typed_ahead
        self._initial_target = target
        self._timeouts = timeouts
        self._policies = policies
        self._store = store
        self._open_store = open_store
        self.startup_error: TargetError | None = None
        """Why the app closed before connecting (no secret, no keyring), for its caller to say."""
        self.first_frame = asyncio.Event()
        self._main: MainScreen | None = None
        self._heap_frozen = False
        self._young_threshold: tuple[int, int, int] | None = None
        self._young_holds = 0

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

    # -- the main screen ----------------------------------------------------------------------

    def get_default_screen(self) -> Screen[None]:
        return self.main

    @property
    def main(self) -> MainScreen:
        if self._main is None:
            self._main = MainScreen(
                self._initial_target, timeouts=self._timeouts, policies=self._policies
            )
        return self._main

    # What tests, benchmarks and the screenshot script reach through the app.
    @property
    def target(self) -> Target:
        return self.main.target

    @property
    def transcript(self) -> Transcript:
        return self.main.transcript

    @property
    def composer(self) -> Composer:
        return self.main.composer

    @property
    def inspector(self) -> Inspector:
        return self.main.inspector

    @property
    def action_bar(self) -> ActionBar:
        return self.main.action_bar

    @property
    def session(self) -> ChatSession | None:
        return self.main.session

    @property
    def client(self) -> DialogClient:
        return self.main.client

    @property
    def bot_config(self) -> Config | None:
        return self.main.bot_config

    @property
    def _conversation(self) -> int:
        return self.main.record_id

    @property
    def _turn_worker(self) -> Worker[None] | None:
        return self.main.turn_worker

    def _send(self, text: str) -> bool:
        return self.main.send(text)

    def _start_switch(self, request: SwitchRequest | None) -> None:
        self.main.start_switch(request)

    # -- the store ----------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """The local store, opened on first use: the first frame does not wait for it."""
        if self._store is None:
            if self._open_store is not None:
                self._store = self._open_store()
            else:
                from ..store import NullStore

                self._store = NullStore()
            # Store warnings name files: shown as plain text, never parsed as markup.
            self._store.on_warning = self._store_warning
            if self._store.warning:
                self._store_warning(self._store.warning)
        return self._store

    @property
    def store_note(self) -> str | None:
        """For the status line: why nothing is saved, if so. Never opens the store."""
        return self._store.status_note if self._store is not None else None

    def close_store(self) -> None:
        """Close the store if it was opened (its owner calls this once the app has stopped)."""
        if self._store is not None:
            self._store.close()

    def _store_warning(self, warning: str) -> None:
        self.notify(warning, severity="warning", timeout=10, markup=False)

    # -- the first frame ----------------------------------------------------------------------

    def on_mount(self) -> None:
        target = self._initial_target
        if target.settings.theme in self.available_themes:
            self.theme = target.settings.theme
        self.sub_title = target.environment
        self.call_after_refresh(self._first_frame_shown)

    def _first_frame_shown(self) -> None:
        if not gc.isenabled():
            # `run_chat` turns collection off for start-up: the imports and the first layout
            # build Textual's long-lived objects, and the collections they set off (a full one
            # included) took ~50 ms before the first frame. What exists now lives as long as the
            # app, so it is frozen out of later collections rather than scanned again.
            gc.freeze()
            gc.enable()
        if self._store is None:
            self.store  # noqa: B018  (opened now, after the first frame)
            self.main.refresh_status()  # with the store's note
        self.first_frame.set()
        if self.main.target.secret_pending:
            self.main.read_secret()
        # After the start worker has sent its first request: mounting overlaps the wait for it.
        self.call_later(self.main.replace_stand_ins)

    async def on_unmount(self) -> None:
        self.release_young_collections()
        await self.main.shut_down()

    # -- the collector --------------------------------------------------------------------------

    def freeze_heap(self) -> None:
        """Once, when the first conversation is on screen: Textual's tens of thousands of
        long-lived objects made every full collection scan them again, mid-stream (~20 ms
        each); after start-up they are left alone."""
        if not self._heap_frozen:
            gc.freeze()
            self._heap_frozen = True

    def hold_young_collections(self) -> int:
        """Raise the collector's young-generation threshold (see STREAMING_GC_THRESHOLD).
        Returns the number of this hold, for `release_young_collections`."""
        self.release_young_collections()  # the last turn's, if its last frame has not come
        previous = gc.get_threshold()
        gc.set_threshold(max(STREAMING_GC_THRESHOLD, previous[0]), *previous[1:])
        self._young_threshold = previous
        self._young_holds += 1
        return self._young_holds

    def release_young_collections(self, hold: int | None = None) -> None:
        """Put the threshold back (tests run many apps in one process): any hold, or only
        hold number `hold` (a late callback must not end the next turn's)."""
        if self._young_threshold is not None and hold in (None, self._young_holds):
            gc.set_threshold(*self._young_threshold)
            self._young_threshold = None

    # -- app-wide actions and the palette -------------------------------------------------------

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"

    def watch_theme(self, theme: str) -> None:
        """Remember the theme for the next start (the config file; nothing secret in it)."""
        if not self.is_running or theme == self._initial_target.settings.theme:
            return
        from dataclasses import replace

        from ..config import ConfigError, load_settings, save_settings

        with suppress(ConfigError):  # unwritable: the theme is then this session's only
            save_settings(replace(load_settings(), theme=theme))

    # -- keys, copy and help (the behaviour: ui/composer, ui/clipboard, ui/help) ---------------

    def on_key(self, event: events.Key) -> None:
        if not self.screen.query("Composer"):
            return  # none here (yet): nothing to import for it
        from .composer import forward_typing

        forward_typing(self.screen, event)  # a printable key no widget took goes to the composer

    def copy_to_clipboard(self, text: str) -> None:
        from .clipboard import copy_with_notice

        copy_with_notice(self, text)  # a system tool first, else OSC 52 (wrapped for tmux)

    def action_help(self) -> None:
        from .help import show_help

        show_help(self)

    def action_rate(self) -> None:
        self.main.action_rate()

    def action_saved_conversations(self) -> None:
        store = self.store
        if not store.saving:
            self.notify("Local saving is off: there are no saved conversations to open.")
            return
        from .history import ConversationPicker

        self.push_screen(ConversationPicker(store.conversations(limit=200)), self._open_saved)

    def _open_saved(self, conversation_id: int | None) -> None:
        if conversation_id is None:
            return
        summary = self.store.conversation(conversation_id)
        if summary is not None:
            from .history import SavedConversationScreen

            self.push_screen(SavedConversationScreen(summary, self.store.messages(conversation_id)))

    def action_export_conversation(self) -> None:
        store = self.store
        if not store.saving:
            self.notify("Local saving is off: nothing to export.", severity="warning")
            return
        from ..config import data_dir
        from ..store import StoreError, dumps_json, write_private

        record = self.main.record_id
        folder = data_dir() / "exports"
        stem = folder / f"conversation-{record}"
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_private(stem.with_suffix(".md"), store.export_markdown(record))
            write_private(stem.with_suffix(".json"), dumps_json(store.export_json(record)) + "\n")
        except (StoreError, OSError) as error:
            message = (
                error.safe_message
                if isinstance(error, StoreError)
                else "The export could not be written."
            )
            self.notify(message, severity="error", markup=False)
            return
        self.notify(f"Exported to {stem}.md and .json", timeout=8, markup=False)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        main = self.main
        yield SystemCommand(
            "New conversation",
            "Start a fresh conversation with this bot",
            main.action_new_conversation,
        )
        yield SystemCommand(
            "Rate conversation", "Give this conversation 1–5 stars", main.action_rate
        )
        yield SystemCommand(
            "Ask for a human",
            "Hand the conversation to a live-chat agent (F8)",
            main.action_ask_for_human,
        )
        yield SystemCommand(
            "End live chat", "End the chat with the agent (F9)", main.action_end_live_chat
        )
        yield SystemCommand(
            "Waiting-room form",
            "Leave details for the live-chat agent while you wait",
            main.action_waiting_form,
        )
        yield SystemCommand(
            "Reload history",
            "Fetch this conversation again from the server",
            main.action_reload_history,
        )
        yield SystemCommand(
            "Copy last reply",
            "Copy the last reply (or the message pointed at) as Markdown",
            main.action_copy_message,
        )
        yield SystemCommand(
            "Load older messages",
            "Load the page of history before the oldest message shown",
            main.action_load_older,
        )
        yield SystemCommand("Find", "Find text in the conversation", main.action_find)
        yield SystemCommand("Keys", "Every key and what it does", self.action_help)
        yield SystemCommand("Open form", "Reopen the bot's form", main.action_open_form)
        yield SystemCommand(
            "Session values and form definitions",
            "Ask the server (GET /session, GET /forms/{id}); shown in the inspector",
            main.action_show_session,
        )
        yield SystemCommand(
            "Attach a file (F5)", "Send a photo or a file with the next message", main.action_attach
        )
        yield SystemCommand(
            "Set page", "The page the visitor is on (context.page)", main.action_set_page
        )
        yield SystemCommand(
            "Switch bot or environment",
            "Talk to another bot, environment or the local server",
            main.action_switch_bot,
        )
        yield SystemCommand(
            "Fresh visitor",
            "Start over as a new visitor (a new token from the API key)",
            main.action_fresh_visitor,
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
            "Download my data from the server",
            "Save what the server keeps about this visitor (GET /export) as JSON",
            main.action_download_data,
        )
        yield SystemCommand(
            "Toggle inspector",
            "Show every request, SSE event, retry and timing",
            main.action_toggle_inspector,
        )
        yield SystemCommand(
            "Toggle dark/light theme", "Switch the colour theme", self.action_toggle_theme
        )
        yield SystemCommand("Quit", "Quit dialogtui", self.action_quit)
