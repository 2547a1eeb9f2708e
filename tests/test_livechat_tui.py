"""Live chat in the app, driven with Pilot against the real dev server: each state of the chat
and each fault the server can play. The desk's agent and the poller run on a fast clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from dialogtui.config import Settings
from dialogtui.conversation.livechat import Cadence, Phase
from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID, DevServer
from dialogtui.devserver.livechat import AgentScript, DeskSettings, LiveDesk, desk_of
from dialogtui.target import Target
from dialogtui.ui.app import DialogApp
from dialogtui.ui.livechat import LiveChatStatus
from dialogtui.ui.livechat_rating import LiveChatRateScreen
from dialogtui.ui.screens.main import MainScreen

from .test_app import (
    FAST_POLICIES,
    SIZE,
    Timeouts,
    all_text,
    click,
    click_item,
    ready,
    send,
    turn_finished,
    wait_for,
)


@pytest.fixture(autouse=True)
def fast_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MainScreen, "livechat_cadence", Cadence().scaled(0.02))


@pytest.fixture
def desk(server: DevServer) -> Iterator[LiveDesk]:
    desk = desk_of(server.app)
    desk.reset(DeskSettings(script=AgentScript(join_after=0.2, typing_for=0.15)))
    yield desk
    desk.reset()


def live_app(server: DevServer, *, wait: float = 600.0) -> DialogApp:
    target = Target(
        server.base_url,
        DEMO_CHATBOT_ID,
        api_key=DEMO_API_KEY,
        environment="test",
        settings=Settings(livechat_wait=wait),
    )
    return DialogApp(target, timeouts=Timeouts(read=5, stream_idle=5), policies=FAST_POLICIES)


def status(app: DialogApp) -> str:
    return app.query_one(LiveChatStatus).text


def phase(app: DialogApp) -> Phase:
    live = app.main.live
    assert live is not None
    return live.phase


async def ask_and_wait_for_the_agent(pilot: Pilot[None], app: DialogApp) -> None:
    await pilot.press("f8")
    await wait_for(pilot, lambda: phase(app) is Phase.ACTIVE)


async def test_a_live_chat_from_the_bots_button_to_the_rating(
    server: DevServer, desk: LiveDesk
) -> None:
    app = live_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert status(app) == "" and not app.query_one(LiveChatStatus).display
        await send(pilot, "can I talk to a human?")
        await wait_for(pilot, turn_finished(app))
        assert app.action_bar.labels[0] == "👤 Talk to a human"
        await click_item(pilot, 0)
        await wait_for(pilot, lambda: phase(app) is not Phase.OFF)
        [session] = desk.sessions.values()
        assert session.source == "assistant_marker"
        await wait_for(pilot, lambda: "Live chat with Alice Jensen" in status(app))
        assert app.query_one(LiveChatStatus).display
        await wait_for(pilot, lambda: "Alice Jensen (agent)\nHi, I'm Alice." in all_text(app))
        # While active, the composer sends to the agent, and typing is told (debounced).
        app.composer.focus()
        await pilot.press(*"Where is my parcel?")
        await wait_for(pilot, lambda: server.stats.count("POST /livechat/typing") >= 1)
        await pilot.press("enter")
        await wait_for(pilot, lambda: server.stats.count("POST /livechat/messages") == 1)
        assert server.stats.count("POST /messages") == 1  # the bot's turn only
        await wait_for(pilot, lambda: "let me check that for you" in all_text(app))
        text = all_text(app)
        assert text.count("Hi, I'm Alice. How can I help?") == 1  # never twice
        assert text.index("Where is my parcel?") < text.index("let me check that for you")
        # F9 ends the chat; the satisfaction prompt asks about the agent.
        await pilot.press("f9")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveChatRateScreen))
        assert "ended by you" in status(app) and "F2 rates it" in status(app)
        screen = app.screen
        assert isinstance(screen, LiveChatRateScreen)
        assert screen.question == "How was your chat with Alice Jensen? (1–5)"
        await pilot.press("4")
        await click(pilot, "#send")
        await wait_for(pilot, lambda: session.feedback_given is not None)
        assert session.feedback_given == {"rating": 4, "feedback": None}
        await wait_for(pilot, lambda: "Thanks for rating the chat." in all_text(app))
        assert "F2 rates it" not in status(app)
        # Every call of the chat is in the inspector.
        await pilot.press("f12")
        events = app.main.inspector.event_list
        rows = "\n".join(events.row_text(i) for i in range(events.row_count))
        for call in (
            "POST /api/v1/chat/livechat/handover",
            "GET /api/v1/chat/livechat/state",
            "GET /api/v1/chat/livechat/messages",
            "POST /api/v1/chat/livechat/messages",
            "POST /api/v1/chat/livechat/typing",
            "POST /api/v1/chat/livechat/close",
            "POST /api/v1/chat/livechat/feedback",
        ):
            assert call in rows, call


async def test_a_key_and_the_palette_ask_and_withdraw(server: DevServer, desk: LiveDesk) -> None:
    desk.settings.script = None  # nobody answers: it stays waiting
    app = live_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("f8")
        await wait_for(pilot, lambda: phase(app) is Phase.WAITING)
        assert status(app).startswith("👤 Waiting for an agent")
        # While waiting the bot still answers.
        await send(pilot, "still there?")
        await wait_for(pilot, turn_finished(app))
        assert server.stats.count("POST /messages") == 1
        await pilot.press("f9")
        await wait_for(pilot, lambda: phase(app) is Phase.CLOSED)
        assert "You withdrew the request" in all_text(app)
        assert not isinstance(app.screen, LiveChatRateScreen)  # nobody to rate
        # The palette asks again.
        await pilot.press("ctrl+p")
        await pilot.press(*"Ask for a human")
        await pilot.press("enter")
        await wait_for(pilot, lambda: phase(app) is Phase.WAITING)
        assert len(desk.sessions) == 1 and next(iter(desk.sessions.values())).status == "waiting"


async def test_the_agent_leaving_is_told_and_the_rating_can_wait(
    server: DevServer, desk: LiveDesk
) -> None:
    desk.settings.fault = "agent_leaves"
    app = live_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("f8")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveChatRateScreen))
        assert "ended by the agent" in status(app)
        assert "The agent ended the live chat" in all_text(app)
        assert "I have to go" in all_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, LiveChatRateScreen))
        assert "F2 rates it" not in status(app)
        # Back with the bot: a send streams from the bot again.
        await send(pilot, "hello again")
        await wait_for(pilot, turn_finished(app))
        assert server.stats.count("POST /messages") == 1


async def test_offline_is_told_and_nothing_is_asked(server: DevServer, desk: LiveDesk) -> None:
    desk.settings.fault = "offline"
    app = live_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("f8")
        await wait_for(pilot, lambda: "Live chat is offline right now" in all_text(app))
        assert server.stats.count("POST /livechat/handover") == 0 and phase(app) is Phase.OFF


async def test_a_409_on_handover_is_told(server: DevServer, desk: LiveDesk) -> None:
    desk.settings.fault = "already_active"
    app = live_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("f8")
        await wait_for(pilot, lambda: "refused the handover (409)" in all_text(app))
        assert phase(app) is Phase.OFF and status(app) == ""


async def test_states_out_of_order_never_take_the_agent_away(
    server: DevServer, desk: LiveDesk
) -> None:
    desk.settings.fault = "out_of_order"
    app = live_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await ask_and_wait_for_the_agent(pilot, app)
        live = app.main.live
        assert live is not None
        await wait_for(pilot, lambda: live.dropped_states >= 2)
        assert phase(app) is Phase.ACTIVE and "Live chat with Alice Jensen" in status(app)


async def test_polling_errors_are_told_once_and_recover(server: DevServer, desk: LiveDesk) -> None:
    desk.settings.fault = "polling_errors"
    app = live_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await ask_and_wait_for_the_agent(pilot, app)
        text = all_text(app)
        assert text.count("Live chat: the server did not answer") == 1
        assert "Live chat: the server answers again." in text


async def test_the_waiting_budget_sends_the_person_back_to_the_bot(
    server: DevServer, desk: LiveDesk
) -> None:
    desk.settings.script = None
    app = live_app(server, wait=0.3)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("f8")
        await wait_for(pilot, lambda: "No agent answered within" in all_text(app))
        assert phase(app) is Phase.OFF and status(app) == ""
        assert not app.main.live.polling  # type: ignore[union-attr]
        await pilot.press("f8")  # asking again is one key
        await wait_for(pilot, lambda: phase(app) is Phase.WAITING)


async def test_a_new_conversation_stops_the_live_chat(server: DevServer, desk: LiveDesk) -> None:
    app = live_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await ask_and_wait_for_the_agent(pilot, app)
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: phase(app) is Phase.OFF)
        assert status(app) == "" and not app.main.live.polling  # type: ignore[union-attr]
        polls = server.stats.count("GET /livechat/state")
        await send(pilot, "hello")
        await wait_for(pilot, turn_finished(app))
        assert server.stats.count("GET /livechat/state") == polls


async def test_the_waiting_room_form_is_offered_and_saved(
    server: DevServer, desk: LiveDesk
) -> None:
    from textual.widgets import Input

    from dialogtui.ui.forms import FormScreen

    desk.settings.script = None  # nobody joins: the form is for the wait
    app = live_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("f8")
        await wait_for(pilot, lambda: bool(app.action_bar.labels))
        assert app.action_bar.labels == ["📝 While you wait: Waiting contact"]
        await click_item(pilot, 0)
        await wait_for(pilot, lambda: isinstance(app.screen, FormScreen))
        app.screen.query_one("#field-email", Input).value = "ada@example.com"
        await click(pilot, "#send")
        await wait_for(pilot, lambda: "Details saved." in all_text(app))
        [session] = desk.sessions.values()
        assert session.form_values == {"email": "ada@example.com"}
        # The wait is over once the agent joins: the form's button goes with it.
        assert app.action_bar.labels == ["📝 While you wait: Waiting contact"]
        desk.agent_says("Hi, I'm Alice.")
        await wait_for(pilot, lambda: phase(app) is Phase.ACTIVE)
        await wait_for(pilot, lambda: app.action_bar.labels == [])


async def test_a_bot_without_live_chat_offers_no_key_and_says_so(
    server: DevServer, desk: LiveDesk
) -> None:
    desk.settings.enabled = False
    app = live_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.main.check_action("ask_for_human", ()) is False
        await pilot.press("f8")  # not offered: nothing happens
        await pilot.press("ctrl+p")
        await pilot.press(*"Ask for a human")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "This bot has no live chat." in all_text(app))
        assert server.stats.count("POST /livechat/handover") == 0


async def test_files_go_to_the_agent_within_the_live_chats_limits(
    server: DevServer, desk: LiveDesk, tmp_path: Path
) -> None:
    from dialogtui.ui.attach_ui import PendingAttachments

    desk.settings.max_attachment_size = 1024  # `max_attachment_size_bytes`, tighter than 5 MiB
    photo = tmp_path / "parcel.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 2000)
    app = live_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await ask_and_wait_for_the_agent(pilot, app)
        [session] = desk.sessions.values()
        pending = app.query_one(PendingAttachments)
        # Over the live chat's limit: refused with a word, the text and the file kept.
        assert app.main.attach_path(str(big))
        await send(pilot, "Too big?")
        await wait_for(
            pilot,
            lambda: any("the live chat's limit" in str(n.message) for n in app._notifications),
        )
        assert server.stats.count("POST /livechat/messages") == 0
        assert [f.filename for f in pending.files] == ["big.png"]
        assert app.composer.text == "Too big?"
        pending.set_files([])
        # Within it: the photo goes with the text, as the SDK's image part.
        assert app.main.attach_path(str(photo))
        await send(pilot, "Here is the parcel")
        await wait_for(pilot, lambda: server.stats.count("POST /livechat/messages") == 1)
        await wait_for(pilot, lambda: any(m["role"] == "user" for m in session.messages))
        [mine] = [m for m in session.messages if m["role"] == "user"]
        assert [p["type"] for p in mine["parts"]][1:] == ["image"]
        assert mine["parts"][1]["url"].startswith("data:image/png;base64,")
        assert pending.files == []


async def test_a_live_chat_without_attachments_refuses_files(
    server: DevServer, desk: LiveDesk, tmp_path: Path
) -> None:
    from dialogtui.ui.attach_ui import PendingAttachments

    desk.settings.attachments = False
    photo = tmp_path / "parcel.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)
    app = live_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await ask_and_wait_for_the_agent(pilot, app)
        assert app.main.attach_path(str(photo))
        await send(pilot, "A photo")
        await wait_for(
            pilot,
            lambda: any("takes no attachments" in str(n.message) for n in app._notifications),
        )
        assert server.stats.count("POST /livechat/messages") == 0
        assert len(app.query_one(PendingAttachments).files) == 1
