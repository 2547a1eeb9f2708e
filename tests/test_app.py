"""The real Textual app, driven with Pilot, against the real local server over sockets."""

from __future__ import annotations

import json

import gc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual import events
from rich.style import Style
from textual._compositor import ChopsUpdate, CompositorUpdate
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Footer, Header, Input, Label, Select, Static

from dialogtui.api.models import ContactFormPart, FormField, FormMarker

from dialogtui.api.client import Timeouts
from dialogtui.api.retry import DEFAULT_POLICIES
from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID, DevServer
from dialogtui.store import Store, TranscriptStore
from dialogtui.target import Target
from dialogtui.ui.app import STREAMING_GC_THRESHOLD, DialogApp
from dialogtui.conversation.core import Conversation
from dialogtui.ui.screens.main import MainScreen
from dialogtui.ui.choices import ActionBar
from dialogtui.ui.composer import Composer
from dialogtui.ui.forms import FormScreen, RateScreen, SubmitOutcome
from dialogtui.ui.history import ConversationPicker, SavedConversationScreen
from dialogtui.ui.standins import ComposerStandIn, TranscriptStandIn
from dialogtui.ui.transcript import Transcript

from .vterm import VirtualTerminal, on_frames, whole_screen

FAST_POLICIES = {op: policy.with_delays(0.01, 0.02) for op, policy in DEFAULT_POLICIES.items()}
SIZE = (100, 40)


def make_app(
    server: DevServer,
    *,
    timeouts: Timeouts | None = None,
    api_key: str | None = DEMO_API_KEY,
    visitor_token: str | None = None,
    store: Store | None = None,
) -> DialogApp:
    target = Target(
        server.base_url,
        DEMO_CHATBOT_ID,
        api_key=api_key,
        visitor_token=visitor_token,
        environment="test",
    )
    return DialogApp(
        target,
        timeouts=timeouts or Timeouts(read=5, stream_idle=5),
        policies=FAST_POLICIES,
        store=store,
    )


async def wait_for(
    pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 10.0
) -> None:
    loops = int(timeout / 0.02)
    for _ in range(loops):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("condition not met in time")


def screen_text(app: DialogApp) -> str:
    return app.transcript.visible_text()


def all_text(app: DialogApp) -> str:
    transcript = app.transcript
    return "\n".join(transcript.entry_text(i) for i in transcript.entry_ids)


def last_entry_text(app: DialogApp) -> str:
    transcript = app.transcript
    return transcript.entry_text(transcript.entry_ids[-1])


async def ready(pilot: Pilot[None]) -> None:
    app = pilot.app
    assert isinstance(app, DialogApp)
    await wait_for(pilot, lambda: "Ready" in str(app.query_one("#status").render()))


async def send(pilot: Pilot[None], text: str) -> None:
    app = pilot.app
    assert isinstance(app, DialogApp)
    app.composer.focus()
    app.composer.load_text(text)
    await pilot.press("enter")


async def click(pilot: Pilot[None], selector: str) -> None:
    """Click a button; Textual ignores a second click on one within its 0.2 s press effect."""
    button = pilot.app.screen.query_one(selector, Button)
    await wait_for(pilot, lambda: not button.has_class("-active"))
    assert await pilot.click(selector), f"the click did not reach {selector}"


def turn_finished(app: DialogApp) -> Callable[[], bool]:
    return lambda: app._turn_worker is not None and app._turn_worker.is_finished


def choice_labels(app: DialogApp) -> list[str]:
    return app.action_bar.labels


async def click_item(pilot: Pilot[None], index: int) -> None:
    """Click item `index` of the action bar (Retry is item 0 when it is offered)."""
    bar = pilot.app.query_one(ActionBar)
    assert await pilot.click(ActionBar, offset=(bar.item_offset(index) + 1, 0)), (
        "the click missed the bar"
    )


def has_retry(app: DialogApp) -> bool:
    return app.action_bar.has_retry


async def test_keys_before_the_session_opens_are_refused_or_wait(server: DevServer) -> None:
    """The session (and its HTTP client) opens only after the first frame; what is pressed
    before then must not find it missing."""
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        # No pause first: the app has painted, but the start worker may not have run yet.
        early = app.client  # asked for before the session opened: opened now, and only once
        await send(pilot, "too early")
        await pilot.press("f2", "escape")  # rate, then change one's mind
        assert app.composer.text == "too early", "a send while loading is refused, the text kept"
        assert "too early" not in all_text(app)
        await ready(pilot)
        assert app.session is not None and app.session.client is early
        assert app.title == "Demo Bot"
        await pilot.press("enter")
        await wait_for(pilot, turn_finished(app))
        assert "too early" in all_text(app)
        assert "You said" in last_entry_text(app)

    # A start cancelled before it opened the session (another start-group worker replaced
    # it): a send afterwards opens one rather than failing.
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        app.workers.cancel_group(app.main, "start")  # the main screen runs the start
        await pilot.pause(0.05)
        await send(pilot, "hello")
        await wait_for(pilot, turn_finished(app))
        assert "You said" in last_entry_text(app)


async def test_keys_typed_before_the_composer_is_mounted_move_into_it(server: DevServer) -> None:
    """The first frame shows light stand-ins for the transcript and the composer; what was
    typed into the composer's stand-in (typed ahead, while the app started) moves into the
    composer when it replaces the stand-in, and an early Enter is refused as the composer's."""
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        stand_in = app.query_one(ComposerStandIn)  # the first frame has not been handled yet
        assert app.focused is stand_in
        for key, character in [("h", "h"), ("i", "i"), ("x", "x"), ("backspace", None)]:
            stand_in.on_key(events.Key(key, character))
        stand_in.on_paste(events.Paste(" there,\nfriend"))
        stand_in.on_key(events.Key("enter", None))
        _ = app.composer  # asking for the composer mounts it; it takes over once mounted
        await pilot.pause()
        assert app.composer.text == "hi there,\nfriend"
        assert app.focused is app.composer
        assert not app.query(ComposerStandIn) and not app.query(TranscriptStandIn)
        assert any("still loading" in str(n.message) for n in app._notifications)
        await ready(pilot)
        await pilot.press("enter")
        await wait_for(pilot, turn_finished(app))
        assert "You said" in last_entry_text(app) and app.composer.text == ""


async def test_text_typed_while_the_terminal_was_probed_lands_in_the_composer(
    server: DevServer,
) -> None:
    """`dialogtui` asks the terminal how it draws emoji before the app starts; keys typed
    meanwhile are read with the answers (`glyph_widths.probe`) and given to the app."""
    app = make_app(server)
    app.typed_ahead = "hé!"
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("x")
        assert app.composer.text == "hé!x"
        assert app.typed_ahead == ""


@pytest.mark.parametrize("where", ["queued at the stand-in", "sent to the app"])
async def test_keys_and_a_paste_around_the_swap_all_reach_the_composer(
    server: DevServer, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """Input the terminal delivers while the composer replaces its stand-in: already queued
    at the stand-in when the swap starts, or arriving at the app just after the first frame
    (as the driver delivers typed-ahead keys). None of it may be lost, and the order holds."""
    first_frame_shown, replace = DialogApp._first_frame_shown, MainScreen.replace_stand_ins
    keys = [events.Key(c, c) for c in "abc"] + [
        events.Paste(" pasted "),
        events.Key("backspace", None),
        events.Key("d", "d"),
    ]

    def frame_then_keys(self: DialogApp) -> None:
        first_frame_shown(self)
        if where == "sent to the app":
            for event in keys:
                self.post_message(event)

    def queue_then_replace(self: MainScreen) -> None:
        if where == "queued at the stand-in" and self._composer is None:
            stand_in = self.query_one(ComposerStandIn)
            for event in keys:
                stand_in.post_message(event)
        replace(self)

    monkeypatch.setattr(DialogApp, "_first_frame_shown", frame_then_keys)
    monkeypatch.setattr(MainScreen, "replace_stand_ins", queue_then_replace)
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.pause()
        assert app.composer.text == "abc pastedd"
        assert app.focused is app.composer and not app.query(ComposerStandIn)


async def test_the_composers_stand_in_looks_like_the_composer() -> None:
    """Every cell the same (colours, glyphs), empty and with text typed ahead: the swap after
    the first frame must not show."""

    class Both(App[None]):
        def compose(self) -> ComposeResult:
            yield ComposerStandIn()
            yield Composer()

    def cells(app: App[None], widget: Widget) -> list[tuple[str, Style | None]]:
        region = widget.region
        strips = app.screen._compositor.render_strips()[region.y : region.bottom]
        return [
            (char, segment.style.clear_meta_and_links() if segment.style else None)
            for strip in strips
            for segment in strip.crop(region.x, region.right)
            for char in segment.text
        ]

    app = Both()
    async with app.run_test(size=(60, 8)) as pilot:
        stand_in, composer = app.query_one(ComposerStandIn), app.query_one(Composer)
        for text in ("", "hi"):
            stand_in.text = text
            composer.load_text(text)
            composer.move_cursor(composer.document.end)
            drawn = []
            for widget in (stand_in, composer):
                widget.focus()
                await pilot.pause()
                drawn.append(cells(app, widget))
            assert drawn[0] == drawn[1]


async def test_a_modal_opened_before_the_composer_is_mounted(server: DevServer) -> None:
    """F2 handled before the stand-ins are replaced: they are replaced on the main screen,
    under the modal one, and the composer has the focus back when it closes."""
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        app.action_rate()
        await pilot.pause()
        assert isinstance(app.screen, RateScreen)
        await ready(pilot)
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is app.composer and not app.query(ComposerStandIn)
        await send(pilot, "after the modal")
        await wait_for(pilot, turn_finished(app))
        assert "You said" in last_entry_text(app)


async def test_garbage_collection_resumes_after_the_first_frame(server: DevServer) -> None:
    """`run_chat` turns collection off for start-up; the app must turn it back on."""
    app = make_app(server)
    gc.disable()
    try:
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            assert gc.isenabled()
    finally:
        gc.enable()


async def test_choosing_a_suggestion_sends_its_prompt(server: DevServer) -> None:
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        first_prompt = app.bot_config.start_prompts[0].prompt_text
        app.action_bar.focus()
        await pilot.press("enter")
        await wait_for(pilot, turn_finished(app))
        assert first_prompt in all_text(app)
        assert app.focused is app.composer, "what the person types next goes to the composer"
        assert server.stats.count("POST /messages") == 1


RETRYABLE = [
    "stream_error_retryable",
    "rate_limited",
    "internal",
    "unavailable",
    "drop",
    "no_terminal",
    "html_error",
    "empty_body",
]
NOT_RETRYABLE = [
    "stream_error_fatal",
    "stream_error_no_flag",
    "stream_error_unknown_code",
    "forbidden",
    "not_found",
    "validation",
    "bad_request",
    "conflict",
    "string_error",
    "unknown_code",
]


@pytest.mark.parametrize("scenario", RETRYABLE + NOT_RETRYABLE)
async def test_errors_show_safe_message_and_retry_only_when_allowed(
    server: DevServer, scenario: str
) -> None:
    server.config.retry_after = 0
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        typed = f"please fail !{scenario}"
        await send(pilot, typed)
        await wait_for(pilot, turn_finished(app))
        await pilot.pause()
        reply = last_entry_text(app)
        assert has_retry(app) is (scenario in RETRYABLE), reply
        # Nothing technical reaches the person.
        for leak in (
            "<html",
            "Traceback",
            "HTTP/1.1",
            '{"',
            "generation_failed",
            "teapot",
            "500",
            "502",
        ):
            assert leak not in reply, (leak, reply)
        assert "⚠" in reply or "✖" in reply
        # What was typed is back in the composer.
        assert app.composer.text == typed


async def test_retry_resends_and_succeeds(server: DevServer) -> None:
    server.config.scenario = "unavailable"
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "Ready" in str(app.query_one("#status").render()))
        server.config.scenario = "unavailable"
        await send(pilot, "try me")
        await wait_for(pilot, turn_finished(app))
        assert has_retry(app)
        # Bounded automatic retries happened before the Retry button appeared.
        assert (
            server.stats.count("POST /messages")
            == DEFAULT_POLICIES[next(iter(DEFAULT_POLICIES))].max_attempts
        )
        server.config.scenario = "ok"
        await click_item(pilot, 0)
        await wait_for(pilot, lambda: not has_retry(app) and turn_finished(app)())
        await wait_for(pilot, lambda: "You said" in last_entry_text(app))
        assert app.composer.text == ""


async def test_escape_cancels_and_keeps_partial(server: DevServer) -> None:
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "slowly !slow")
        await wait_for(pilot, lambda: "You said" in last_entry_text(app))
        await pilot.press("escape")
        await wait_for(pilot, turn_finished(app))
        reply = last_entry_text(app)
        assert "You said" in reply
        assert "cancelled" in reply


async def test_young_collections_wait_only_while_a_reply_streams(server: DevServer) -> None:
    before = gc.get_threshold()
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        while_streaming: list[int] = []
        app.session.add_listener(lambda trace: while_streaming.append(gc.get_threshold()[0]))
        for text, finish in [
            ("done !long:200", None),
            ("cancelled !slow", "escape"),
            ("failed !stream_error_fatal", None),
        ]:
            while_streaming.clear()
            await send(pilot, text)
            if finish == "escape":
                await wait_for(pilot, lambda: "You said" in last_entry_text(app))
                await pilot.press("escape")
            await wait_for(pilot, turn_finished(app))
            assert max(while_streaming) == max(STREAMING_GC_THRESHOLD, before[0]), text
            # Put back once the reply's last frame is on screen.
            await wait_for(pilot, lambda: gc.get_threshold() == before)
        assert "cancelled" in all_text(app)


async def test_the_held_back_collection_waits_for_the_reply_s_last_frame_and_never_sticks(
    server: DevServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = gc.get_threshold()
    raised = max(STREAMING_GC_THRESHOLD, before[0])
    frames = [0]
    marks: dict[str, int] = {}
    paint, play, release = (
        Screen._on_timer_update,
        Conversation.send,
        DialogApp.release_young_collections,
    )

    def painted(self: Screen[Any]) -> None:
        frames[0] += 1
        paint(self)

    async def played(self: Conversation, *args: Any) -> Any:
        turn = await play(self, *args)
        marks["turn ended"] = frames[0]
        return turn

    def released(self: DialogApp, hold: int | None = None) -> None:
        if gc.get_threshold()[0] == raised:
            marks.setdefault("released", frames[0])
        release(self, hold)

    monkeypatch.setattr(Screen, "_on_timer_update", painted)
    monkeypatch.setattr(Conversation, "send", played)
    monkeypatch.setattr(DialogApp, "release_young_collections", released)
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "done !long:100")
        await wait_for(pilot, lambda: gc.get_threshold() == before and "turn ended" in marks)
        assert marks["released"] > marks["turn ended"], (
            "put back only after a frame that followed the turn"
        )
        # A turn that starts before the last one's frame came: the threshold to put back is
        # kept, and the last turn's late callback does not end the new turn's hold.
        first = app.hold_young_collections()
        second = app.hold_young_collections()
        app.release_young_collections(first)
        assert gc.get_threshold()[0] == raised
        app.release_young_collections(second)
        assert gc.get_threshold() == before
        await send(pilot, "left streaming !slow")
        await wait_for(pilot, lambda: "You said" in last_entry_text(app))
        assert gc.get_threshold()[0] == raised
    assert gc.get_threshold() == before, "quitting mid-reply put it back"


async def test_escape_sequences_are_shown_inert(server: DevServer) -> None:
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "!escapes")
        await wait_for(pilot, turn_finished(app))
        reply = last_entry_text(app)
        assert "␛" in reply
        assert "\x1b" not in reply and "\x07" not in reply and "\x9b" not in reply
        svg = app.export_screenshot()
        assert "\x1b" not in svg


async def test_hung_server_shows_timeout_with_retry(server: DevServer) -> None:
    app = make_app(server, timeouts=Timeouts(read=0.5, stream_idle=0.5))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "anyone there? !hang_headers")
        await wait_for(pilot, turn_finished(app))
        assert "took too long" in last_entry_text(app)
        assert has_retry(app)


async def test_history_is_shown_oldest_first(server: DevServer) -> None:
    server.config.history_messages = 6
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.transcript.entry_count == 6
        assert not choice_labels(app), "start prompts are only for an empty conversation"


async def test_contact_form_validation_and_submit(server: DevServer) -> None:
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "I want the contact form")
        await wait_for(pilot, lambda: isinstance(app.screen, FormScreen))
        form = app.screen
        assert isinstance(form, FormScreen)
        await click(pilot, "#send")
        await pilot.pause()
        assert "required" in str(form.query_one("#field-name-error").render())
        assert server.stats.count("POST /actions") == 0, (
            "required fields are checked before sending"
        )
        form.query_one("#field-name", Input).value = "Ada"
        form.query_one("#field-email", Input).value = "not-an-email"
        await click(pilot, "#send")
        await pilot.pause()
        assert "valid e-mail" in str(form.query_one("#field-email-error").render())
        assert server.stats.count("POST /actions") == 0, "an e-mail is checked before sending"
        assert isinstance(app.screen, FormScreen)
        form.query_one("#field-email", Input).value = "ada@example.com"
        select = form.query_one("#field-topic", Select)
        select.value = "Support"
        await click(pilot, "#send")
        await wait_for(pilot, lambda: not isinstance(app.screen, FormScreen))
        assert "Thanks" in last_entry_text(app)


async def test_new_conversation_resets(server: DevServer) -> None:
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "remember me")
        await wait_for(pilot, turn_finished(app))
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: server.stats.count("POST /auth/reset") == 1)
        await wait_for(pilot, lambda: "remember me" not in all_text(app))


async def test_rate_conversation(server: DevServer) -> None:
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("f2")
        assert isinstance(app.screen, RateScreen)
        await pilot.press("4")
        app.screen.query_one("#feedback", Input).value = "nice"
        await click(pilot, "#send")
        await wait_for(pilot, lambda: server.stats.count("POST /rate") == 1)


async def test_expired_session_without_key_is_not_retried(server: DevServer) -> None:
    # A visitor token minted elsewhere, now dead: "session expired", no re-auth, no retry.
    app = make_app(server, api_key=None, visitor_token="not-a-valid-token")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.transcript.entry_count >= 1)
        await send(pilot, "hello?")
        await wait_for(pilot, turn_finished(app))
        assert "expired" in last_entry_text(app)
        assert not has_retry(app)
        assert server.stats.count("POST /auth") == 0
        assert server.stats.count("POST /messages") == 1


async def test_multiline_input_and_enter_sends(server: DevServer) -> None:
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        app.composer.focus()
        await pilot.press("l", "i", "n", "e", "1", "ctrl+j", "l", "i", "n", "e", "2")
        assert app.composer.text == "line1\nline2"
        await pilot.press("enter")
        await wait_for(pilot, turn_finished(app))
        assert "line1" in all_text(app) and "line2" in all_text(app)


async def test_growth_within_a_block_reaches_the_screen_and_the_store_while_it_streams(
    server: DevServer, tmp_path: Path
) -> None:
    """One paragraph in three deltas, 400 ms apart: the app hears of the block once (the
    session yields no update for a block's further growth), yet its growth reaches the screen
    at the next frames and the store on its clock, before the reply ends."""
    store = TranscriptStore.open(tmp_path / "transcripts.sqlite3")
    app = make_app(server, store=store)

    def stored_reply() -> str:
        return store.messages(app._conversation)[-1].text

    def on_screen() -> str:  # as the frames drew it: no flush is forced here
        return "\n".join(strip.text for strip in app.screen._compositor.render_strips())

    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "grow !slow:400")
        await wait_for(pilot, lambda: "You said" in on_screen())
        assert "took its time" not in on_screen() and not turn_finished(app)()
        await wait_for(pilot, lambda: "You said" in stored_reply())
        assert not stored_reply().endswith("took its time.") and not turn_finished(app)()
        await wait_for(pilot, lambda: "This reply" in on_screen())
        assert not turn_finished(app)()
        await wait_for(pilot, turn_finished(app))
        assert stored_reply().endswith("This reply took its time.")
    store.close()


async def test_the_header_footer_and_bars_frame_the_transcript(server: DevServer) -> None:
    """The bars sit in boxes of their own (see `Bars`) and still lay out as docked bars:
    the header on the first row, the footer on the last, the transcript between."""
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        header, footer = app.query_one(Header).region, app.query_one(Footer).region
        transcript, status = app.transcript.region, app.query_one("#status").region
        assert (header.y, header.height) == (0, 1) and (footer.y, footer.height) == (SIZE[1] - 1, 1)
        assert transcript.y == 1 and status.y == SIZE[1] - 2
        assert transcript.bottom <= app.composer.region.y
        await pilot.click(Header, offset=(SIZE[0] // 2, 0))  # a click on the title: a tall header
        await pilot.pause()
        assert app.query_one(Header).region.height > 1
        assert app.transcript.region.y == app.query_one(Header).region.height


async def test_the_frames_of_a_streaming_reply_render_the_transcript_not_the_bars(
    server: DevServer,
) -> None:
    """Mid-reply, each frame repaints the transcript's region, and Textual renders every
    widget whose clip overlaps it: the header, footer and status line stay out of it only
    because they sit in boxes of their own (`Bars`)."""
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        server.config.delta_delay = 0.03  # 30 deltas: a frame or more each
        # The composer's blinking cursor is drawn with the bars beside it (they share a clip):
        # not a frame of the reply, so it rests here.
        app.composer.cursor_blink = False
        await send(pilot, "frames !long:30")
        await wait_for(pilot, lambda: "lorem" in screen_text(app))
        await pilot.pause(0.1)  # the frame of the reply's start (the status line) has come
        renders: dict[str, int] = {}
        for widget in (
            app.query_one(Header),
            app.query_one(Footer),
            app.query_one("#status"),
            app.transcript,
        ):
            name, original = type(widget).__name__, widget.render_lines

            def counted(crop: Any, name: str = name, original: Any = original) -> Any:
                renders[name] = renders.get(name, 0) + 1
                return original(crop)

            widget.render_lines = counted  # type: ignore[method-assign]
        await wait_for(pilot, lambda: renders.get("Transcript", 0) >= 3 or turn_finished(app)())
        assert not turn_finished(app)(), "the reply ended before three frames: make it slower"
        assert renders.get("Transcript", 0) >= 3
        assert renders.keys() == {"Transcript"}, renders
        await wait_for(pilot, turn_finished(app))


async def test_a_reply_that_stalls_mid_block_is_on_screen_and_on_record_during_the_stall(
    server: DevServer, tmp_path: Path
) -> None:
    """Part, block and first words arrive together, then the server goes quiet (a model
    thinking mid-reply): the words are shown and saved while it is quiet, not at the end."""
    store = TranscriptStore.open(tmp_path / "transcripts.sqlite3")
    app = make_app(server, store=store)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "think !stall")
        await wait_for(pilot, lambda: "You said" in store.messages(app._conversation)[-1].text)
        assert "You said" in "\n".join(
            strip.text for strip in app.screen._compositor.render_strips()
        )
        assert not turn_finished(app)()
        await pilot.press("escape")
        await wait_for(pilot, turn_finished(app))
    store.close()


async def test_failed_send_keeps_text_in_composer_and_store(
    server: DevServer, tmp_path: Path
) -> None:
    store = TranscriptStore.open(tmp_path / "transcripts.sqlite3")
    app = make_app(server, store=store)
    typed = "keep this safe !stream_error_fatal"
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, typed)
        await wait_for(pilot, turn_finished(app))
        assert app.composer.text == typed
    user, reply = store.messages(app._conversation)[-2:]
    assert (user.role, user.text) == ("user", typed)
    assert reply.role == "assistant" and reply.status == "error"
    assert reply.text.startswith("You said"), "the partial reply is on record"
    assert reply.error is not None and (reply.error.kind, reply.error.code) == (
        "stream",
        "generation_failed",
    )
    store.close()


async def test_no_save_says_so_in_the_status_line(server: DevServer) -> None:
    app = make_app(server)  # no store given: nothing is saved
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert "Not saving" in str(app.query_one("#status").render())


async def test_store_opened_by_the_app_records_and_warns(server: DevServer, tmp_path: Path) -> None:
    """`dialogtui` hands the app a way to open the store, which it uses once, after the first
    frame: the turns are on record, and a warning from opening it is shown."""
    opened: list[Store] = []

    def open_store() -> Store:
        store = TranscriptStore.open(tmp_path / "transcripts.sqlite3")
        store.warning = "The old database was damaged; it was moved aside."
        opened.append(store)
        return store

    target = Target(server.base_url, DEMO_CHATBOT_ID, api_key=DEMO_API_KEY, environment="test")
    app = DialogApp(
        target,
        timeouts=Timeouts(read=5, stream_idle=5),
        policies=FAST_POLICIES,
        open_store=open_store,
    )
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "on record")
        await wait_for(pilot, turn_finished(app))
        assert any("moved aside" in str(n.message) for n in app._notifications)
    assert len(opened) == 1 and app.store is opened[0]
    user, reply = opened[0].messages(app._conversation)[-2:]
    assert (user.text, reply.status) == ("on record", "done")
    app.close_store()


async def test_inspector_shows_events_of_the_turn(server: DevServer) -> None:
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert not app.inspector.display or not app.inspector.has_class("-shown")
        await pilot.press("f12")
        assert app.inspector.has_class("-shown")
        before = app.inspector.row_count
        await send(pilot, "inspect me !rate_limited_once")
        await wait_for(pilot, turn_finished(app))
        await pilot.pause(0.1)
        rows = app.inspector.query_one("EventList").visible_rows()  # type: ignore[attr-defined]
        text = "\n".join(rows)
        assert app.inspector.row_count > before + 10
        assert "RETRY" in text or "retry" in text


async def test_panes_fill_the_screen_as_choices_the_composer_and_the_terminal_change(
    server: DevServer,
) -> None:
    # The main pane skips Textual's second layout pass after a resize: one pass must do.
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)

        async def assert_tiled() -> None:
            await pilot.pause()  # "Ready" can come a frame before the layout it asked for
            transcript, bar, composer = (
                app.transcript.region,
                app.action_bar.region,
                app.composer.region,
            )
            assert transcript.bottom == bar.y and bar.bottom == composer.y and transcript.height > 5
            # What a second layout pass would make of it: nothing moves.
            widgets = [
                app.transcript,
                app.transcript.vertical_scrollbar,
                app.action_bar,
                app.composer,
                *app.query("Inspector"),
            ]
            regions = [widget.region for widget in widgets]
            app.screen.refresh(layout=True)
            await pilot.pause()
            assert [widget.region for widget in widgets] == regions

        assert choice_labels(app)  # the start prompts
        await assert_tiled()
        transcript_region = app.transcript.region
        await send(pilot, "a long one !long:40")
        await wait_for(pilot, turn_finished(app))
        await pilot.pause()
        assert not choice_labels(app)
        await assert_tiled()
        # The bar keeps its row while empty: the transcript did not change height.
        assert app.transcript.region == transcript_region

        app.composer.focus()
        await pilot.press("a", "ctrl+j", "b", "ctrl+j", "c")  # the composer grows by two lines
        await pilot.pause()
        assert app.transcript.region.height == transcript_region.height - 2
        await assert_tiled()
        app.composer.clear()
        await pilot.pause()
        assert app.transcript.region == transcript_region
        await assert_tiled()

        await pilot.press("f12")
        await pilot.pause()
        inspector = app.inspector.region
        assert inspector.x == app.transcript.region.right
        assert (inspector.y, inspector.bottom) == (
            app.transcript.region.y,
            app.transcript.region.bottom,
        )

        await pilot.resize_terminal(80, 30)
        await pilot.pause()
        await assert_tiled()
        assert (
            app.inspector.region.bottom == app.transcript.region.bottom == app.action_bar.region.y
        )


async def test_inspector_opened_later_shows_what_happened_while_hidden(server: DevServer) -> None:
    app = make_app(server)

    async def unobserved_turn_then_open(text: str) -> str:
        await send(pilot, text)
        await wait_for(pilot, turn_finished(app))
        await pilot.press("f12")
        await pilot.pause(0.1)
        return "\n".join(app.inspector.query_one("EventList").visible_rows())  # type: ignore[attr-defined]

    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        rows = await unobserved_turn_then_open("first, unobserved")
        assert "END   Turn 1" in rows, rows
        await pilot.press("f12")  # hidden again: the next turn is recorded, not published
        rows = await unobserved_turn_then_open("second, unobserved")
        assert "END   Turn 2" in rows, rows


async def test_saved_conversation_opens_read_only_and_exports(
    server: DevServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIALOGTUI_DATA_DIR", str(tmp_path / "data"))
    store = TranscriptStore.open(tmp_path / "transcripts.sqlite3")
    app = make_app(server, store=store)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "remember this turn")
        await wait_for(pilot, turn_finished(app))
        app.action_export_conversation()
        exported = tmp_path / "data" / "exports" / f"conversation-{app._conversation}.md"
        await pilot.pause()
        app.action_saved_conversations()
        await wait_for(pilot, lambda: isinstance(app.screen, ConversationPicker))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SavedConversationScreen))
        saved = app.screen.query_one(Transcript)
        text = "\n".join(saved.entry_text(i) for i in saved.entry_ids)
        assert "remember this turn" in text and "You said" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, SavedConversationScreen)
    store.close()
    markdown = exported.read_text()
    assert "remember this turn" in markdown
    assert oct(exported.stat().st_mode & 0o777) == "0o600"


async def test_forbidden_bot_says_so_once_at_start(server: DevServer) -> None:
    server.config.scenario = "forbidden"
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "Not connected" in str(app.query_one("#status").render()))
        assert app.transcript.entry_count == 1
        assert "not available to you" in all_text(app)
        assert server.stats.count("GET /messages") == 0


async def test_second_send_waits_for_the_reply_in_flight(server: DevServer) -> None:
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "first !slow:200")
        app.composer.load_text("second")
        await pilot.press("enter")
        assert app.composer.text == "second", "what was typed stays while a reply is in flight"
        await pilot.press("escape")
        await wait_for(pilot, turn_finished(app))
        assert server.stats.count("POST /messages") == 1


async def test_form_from_the_server_is_never_markup(server: DevServer) -> None:
    marker = ContactFormPart(
        part_id="p1",
        fields=[
            FormField(key="første_navn", label="[bold]Name[/]", required=True),
            FormField(
                key="colour",
                label="Colour",
                type="dropdown",
                options=["x [/nope]", "[bold red]Red[/]"],
            ),
        ],
    )

    async def submit(marker: FormMarker, values: dict[str, Any]) -> SubmitOutcome:
        return SubmitOutcome(confirmation=str(values))

    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await app.push_screen(FormScreen(marker, submit))
        form = app.screen
        assert "[bold]Name[/]" in str(form.query(Label)[1].render())
        select = form.query_one(Select)
        select.value = "x [/nope]"
        await pilot.pause()
        assert "x [/nope]" in str(select.query_one("SelectCurrent").query_one(Static).render())


async def test_reload_mid_stream_stops_the_reply_first(server: DevServer) -> None:
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "a slow one !slow:100")
        await wait_for(pilot, lambda: "You said" in last_entry_text(app))
        await pilot.press("ctrl+l")
        await wait_for(pilot, turn_finished(app))
        await ready(pilot)
        await pilot.pause(0.3)  # any late update from the cancelled stream would land now
        assert "Thinking" not in all_text(app)
        assert "a slow one" not in all_text(app), "the server never stored the cancelled turn"


async def test_the_welcome_reaches_the_terminal_before_any_message(server: DevServer) -> None:
    """The welcome is the first entry on an empty screen, so no scroll repaints it: the
    transcript must mark its lines itself. (It did not: a terminal showed an empty transcript
    until the first reply, while every test that renders the screen whole saw the welcome.)
    Every frame from the first, full, one goes to a terminal."""
    app = make_app(server)
    terminal = VirtualTerminal(*SIZE)
    on_frames(app, lambda update: terminal.apply(update, app.console))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.pause(0.1)
        shown = "\n".join(terminal.text())
        assert "Hi! I'm the Dialog Intelligens demo bot" in shown, shown
        assert terminal.cells == whole_screen(app).cells


async def test_a_terminal_applying_each_frame_shows_the_screen_drawn_whole(
    server: DevServer,
) -> None:
    """A growing paragraph repaints only its changed lines, not the transcript: a terminal
    that applies each frame's update (as Textual sends it) must hold the same cells,
    characters and styles, as the screen drawn whole. Checked over the transcript at every
    frame of a reply slow enough for a frame per delta or two, under a full screen, so that it
    both grows lines in place and scrolls; and over the whole screen once the reply is done.
    (Another widget may change between two frames, its update due at the next: hence only the
    transcript, which marks what it changes as it changes it, is checked mid-reply.)"""
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "fill the screen !long:200")
        await wait_for(pilot, turn_finished(app))
        await pilot.pause()
        terminal = VirtualTerminal(*SIZE)
        terminal.load(app.screen._compositor.render_strips())
        region = app.transcript.region
        frames: list[bool] = []
        mismatch: list[tuple[int, str, str]] = []

        def transcript_rows(screen: VirtualTerminal) -> list[list[Any]]:
            return [row[region.x : region.right] for row in screen.cells[region.y : region.bottom]]

        def applied(update: CompositorUpdate) -> None:
            terminal.apply(update, app.console)
            frames.append(isinstance(update, ChopsUpdate))
            if app.transcript._repaint_regions:
                # The transcript changed lines whose repaint is on its way to the screen
                # (Textual posts it): another widget's frame went out first; the next has it.
                return
            shown, whole = transcript_rows(terminal), transcript_rows(whole_screen(app))
            if shown != whole and not mismatch:
                row = next(y for y, cells in enumerate(shown) if cells != whole[y])
                mismatch.append(
                    (row, "".join(c for c, _ in shown[row]), "".join(c for c, _ in whole[row]))
                )

        stop = on_frames(app, applied)
        server.config.delta_delay = 0.01
        await send(pilot, "now slowly !long:150")
        await wait_for(pilot, turn_finished(app))
        await pilot.pause(0.2)
        stop()
        assert not mismatch, (
            f"after frame {len(frames)}, transcript row {mismatch[0][0]}: {mismatch[0][1:]}"
        )
        assert terminal.text() == whole_screen(app).text()
        assert terminal.cells == whole_screen(app).cells
    assert frames.count(True) >= 20, frames  # partial updates, the case under test


async def test_restarts_and_new_conversations_never_mix_saved_turns(
    server: DevServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a saved conversation holds is what one screen showed: a restart without the
    token starts another (the server does), a restart with it goes on in the same one, and
    Ctrl+N begins another, which the export then holds alone."""
    monkeypatch.setenv("DIALOGTUI_DATA_DIR", str(tmp_path / "data"))
    store = TranscriptStore.open(tmp_path / "transcripts.sqlite3")
    app = make_app(server, store=store)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "first screen")
        await wait_for(pilot, turn_finished(app))
        first, token = app._conversation, app.client.visitor_token
    app = make_app(server, store=store)  # no token kept: the server starts afresh
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert "first screen" not in all_text(app)
        await send(pilot, "second screen")
        await wait_for(pilot, turn_finished(app))
        second = app._conversation
    app = make_app(server, store=store, visitor_token=token)  # the first one, resumed
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert "first screen" in all_text(app)
        await send(pilot, "first again")
        await wait_for(pilot, turn_finished(app))
        assert app._conversation == first
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: "New conversation" in str(app.query_one("#status").render()))
        await send(pilot, "after ctrl+n")
        await wait_for(pilot, turn_finished(app))
        third = app._conversation
        app.action_export_conversation()
        shown = [line for line in all_text(app).splitlines() if line]
    users = {
        record: [m.text for m in store.messages(record) if m.role == "user"]
        for record in (first, second, third)
    }
    assert users == {
        first: ["first screen", "first again"],
        second: ["second screen"],
        third: ["after ctrl+n"],
    }
    exported = json.loads(
        (tmp_path / "data" / "exports" / f"conversation-{third}.json").read_text()
    )
    assert [m["text"] for m in exported["messages"] if m["role"] == "user"] == ["after ctrl+n"]
    assert "after ctrl+n" in shown
    store.close()


async def test_a_token_renewed_under_a_turn_is_told_in_the_transcript(
    server: DevServer, tmp_path: Path
) -> None:
    store = TranscriptStore.open(tmp_path / "transcripts.sqlite3")
    app = make_app(server, store=store)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "before")
        await wait_for(pilot, turn_finished(app))
        before = app._conversation
        await send(pilot, "after !expired_token")
        await wait_for(pilot, turn_finished(app))
        assert "The server started a new conversation" in all_text(app)
        after = app._conversation
    assert after != before
    assert [m.text for m in store.messages(after) if m.role == "user"] == ["after !expired_token"]
    store.close()
