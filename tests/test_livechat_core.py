"""The live-chat state machine against the real dev server: no app, no Pilot, a fast clock
(the desk's script and the poller's cadence both sped up)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from dialogtui.api.errors import ApiHttpError
from dialogtui.api.models import plain_text
from dialogtui.conversation.core import Conversation
from dialogtui.conversation.events import Notice
from dialogtui.conversation.livechat import (
    AgentMessage,
    Cadence,
    LiveChat,
    LiveChatChanged,
    LiveChatEvent,
    LiveChatSent,
    Phase,
)
from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID, DevServer
from dialogtui.devserver.livechat import AgentScript, DeskSettings, LiveDesk, desk_of
from dialogtui.target import Target

FAST_CADENCE = Cadence().scaled(0.01)  # 20 ms waiting, 30 ms active, backoff up to 300 ms
QUICK_AGENT = AgentScript(join_after=0.1, typing_for=0.05)


class Seen(list[LiveChatEvent]):
    def of(self, kind: type) -> list[Any]:
        return [event for event in self if isinstance(event, kind)]

    def notices(self) -> str:
        return "\n".join(n.text for n in self.of(Notice))


async def until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    """Wait for what the poller does on its own; a deadline only against hanging forever."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "never happened"
        await asyncio.sleep(0.01)


@pytest.fixture
def desk(server: DevServer) -> LiveDesk:
    desk = desk_of(server.app)
    desk.reset(DeskSettings(script=QUICK_AGENT))
    return desk


@pytest.fixture
async def opened(server: DevServer, desk: LiveDesk) -> AsyncIterator[tuple[LiveChat, Seen]]:
    target = Target(server.base_url, DEMO_CHATBOT_ID, api_key=DEMO_API_KEY, environment="test")
    conversation = Conversation(target)
    seen = Seen()
    live = LiveChat(conversation, cadence=FAST_CADENCE, listener=seen.append)
    assert await conversation.open()
    yield live, seen
    await live.stop()
    await conversation.close()


async def test_a_live_chat_from_handover_to_rating(
    server: DevServer, opened: tuple[LiveChat, Seen]
) -> None:
    live, seen = opened
    assert await live.request()
    assert live.phase is Phase.WAITING and live.polling
    await until(lambda: live.active)
    assert live.agent_name == "Alice Jensen"
    await until(lambda: bool(seen.of(AgentMessage)))
    [hello] = seen.of(AgentMessage)
    assert hello.agent_name == "Alice Jensen" and "Alice" in plain_text(hello.message.parts)
    # The person's message goes to the agent; the answer comes once, after the greeting.
    assert await live.send("Where is my parcel?")
    assert seen.of(LiveChatSent) == [LiveChatSent("Where is my parcel?", True)]
    await until(lambda: len(seen.of(AgentMessage)) == 2)
    answers = [plain_text(m.message.parts) for m in seen.of(AgentMessage)]
    assert "Where is my parcel?" in answers[1]
    assert [m.message.sequence_number for m in seen.of(AgentMessage)] == [1, 3]
    # The agent was seen typing at some point before answering.
    assert any(c.agent_typing for c in seen.of(LiveChatChanged))
    # Polling goes on a while: nothing comes twice.
    polls = server.stats.count("GET /livechat/state")
    await until(lambda: server.stats.count("GET /livechat/state") >= polls + 3)
    assert len(seen.of(AgentMessage)) == 2
    # The person ends it; polling stops; the rating is due, and sent.
    assert await live.end()
    assert (live.phase, live.closed_by, live.rating_due) == (Phase.CLOSED, "customer", True)
    assert not live.polling
    assert await live.rate(5, "Very helpful")
    assert not live.rating_due
    assert desk_of(server.app).sessions  # the desk took the rating
    [session] = desk_of(server.app).sessions.values()
    assert session.feedback_given == {"rating": 5, "feedback": "Very helpful"}
    assert "joined the chat" in seen.notices() and "You ended the live chat" in seen.notices()


async def test_the_bots_part_asks_with_its_marker(
    server: DevServer, opened: tuple[LiveChat, Seen]
) -> None:
    live, _ = opened
    turn = await live.conversation.send("can I talk to a human?")
    message = turn.assembler.message
    assert message is not None
    [marker] = [p for p in message.parts if p.__class__.__name__ == "HumanAgentPart"]
    assert await live.request(part_id=marker.part_id)
    [session] = desk_of(server.app).sessions.values()
    assert session.source == "assistant_marker"


async def test_the_agent_closing_is_told_with_who(
    opened: tuple[LiveChat, Seen], desk: LiveDesk
) -> None:
    live, seen = opened
    desk.settings.fault = "agent_leaves"
    assert await live.request()
    await until(lambda: live.phase is Phase.CLOSED)
    assert live.closed_by == "agent" and live.rating_due and not live.polling
    assert len(seen.of(AgentMessage)) == 1  # the goodbye came before the close
    assert "The agent ended the live chat" in seen.notices()


async def test_goodbye_ends_it_from_the_agents_side(opened: tuple[LiveChat, Seen]) -> None:
    live, _ = opened
    assert await live.request()
    await until(lambda: live.active)
    assert await live.send("thanks, bye")
    await until(lambda: live.phase is Phase.CLOSED)
    assert live.closed_by == "agent"


async def test_typing_is_debounced_and_stops(
    server: DevServer, opened: tuple[LiveChat, Seen], desk: LiveDesk
) -> None:
    live, _ = opened
    desk.settings.script = None
    assert await live.request()
    desk.agent_says("Hello")
    await until(lambda: live.active)
    for _ in range(20):
        live.typed()
    session = next(iter(desk.sessions.values()))
    # One `true` for the burst, then one `false` once the keys stop.
    await until(lambda: server.stats.count("POST /livechat/typing") == 2)
    await until(lambda: session.visitor_typing is False)
    await asyncio.sleep(live.cadence.typing_idle * 3)
    assert server.stats.count("POST /livechat/typing") == 2
    live.typed()
    await until(lambda: session.visitor_typing)
    assert await live.send("here")  # sending ends the typing: `false` goes out at once
    await until(lambda: server.stats.count("POST /livechat/typing") == 4)
    assert not session.visitor_typing


async def test_offline_and_409_are_told_clearly(
    opened: tuple[LiveChat, Seen], desk: LiveDesk
) -> None:
    live, seen = opened
    desk.settings.fault = "offline"
    await live.conversation.reload()  # the config now says offline
    assert not await live.request()
    assert "offline" in seen.notices() and live.phase is Phase.OFF
    seen.clear()
    desk.settings.fault = "already_active"
    await live.conversation.reload()
    assert not await live.request()
    assert "409" in seen.notices() and live.phase is Phase.OFF and not live.polling


async def test_an_open_session_is_picked_up(opened: tuple[LiveChat, Seen], desk: LiveDesk) -> None:
    live, _ = opened
    desk.settings.script = None
    assert await live.request()
    await live.stop()
    live.phase = Phase.OFF  # as a second window would be
    assert await live.request()  # 409: already active, and picked up
    assert live.phase is Phase.WAITING and live.polling


async def test_older_states_are_dropped(opened: tuple[LiveChat, Seen], desk: LiveDesk) -> None:
    live, seen = opened
    desk.settings.fault = "out_of_order"
    desk.settings.script = None
    assert await live.request()
    desk.agent_says("Hi there")
    await until(lambda: live.dropped_states >= 2)
    assert live.active  # an older "waiting" never took the agent away
    phases = [c.phase for c in seen.of(LiveChatChanged)]
    assert Phase.WAITING not in phases[phases.index(Phase.ACTIVE) :]


async def test_polling_errors_back_off_then_recover(
    server: DevServer, opened: tuple[LiveChat, Seen], desk: LiveDesk
) -> None:
    live, seen = opened
    desk.settings.fault = "polling_errors"
    assert await live.request()
    await until(lambda: live.poll_errors == 3)
    await until(lambda: live.active)
    assert live.poll_errors == 0
    text = seen.notices()
    assert text.count("did not answer") == 1 and "answers again" in text


async def test_backoff_doubles_to_its_cap(
    server: DevServer, opened: tuple[LiveChat, Seen], desk: LiveDesk
) -> None:
    live, _ = opened
    waits: list[float] = []

    async def recorded(delay: float) -> None:
        waits.append(delay)
        await asyncio.sleep(0)

    live.sleep = recorded
    desk.settings.script = None
    assert await live.request()
    server.config.scenario = "internal"  # every poll now fails with a 500
    await until(lambda: len(waits) >= 8)
    await live.stop()
    step = live.cadence.waiting
    failing = [w for w in waits if w != step]
    assert failing[:3] == [step * 2, step * 4, step * 8]  # doubling, then the cap (0.3 s here)
    assert max(waits) == live.cadence.max_backoff and failing[-1] == live.cadence.max_backoff


async def test_waiting_has_a_budget(server: DevServer, desk: LiveDesk) -> None:
    desk.settings.script = None  # nobody answers
    target = Target(server.base_url, DEMO_CHATBOT_ID, api_key=DEMO_API_KEY, environment="test")
    conversation = Conversation(target)
    seen = Seen()
    live = LiveChat(conversation, cadence=FAST_CADENCE, wait_budget=0.2, listener=seen.append)
    assert await conversation.open()
    try:
        assert await live.request()
        await until(lambda: live.phase is Phase.OFF)
        assert not live.polling and "No agent answered within" in seen.notices()
        [session] = desk.sessions.values()
        assert session.status == "closed"  # the request was withdrawn
        assert await live.request()  # asking again is one call
        assert live.phase is Phase.WAITING
    finally:
        await live.stop()
        await conversation.close()


async def test_a_new_conversation_stops_polling(opened: tuple[LiveChat, Seen]) -> None:
    live, _ = opened
    assert await live.request()
    assert live.polling
    assert await live.conversation.new_conversation()
    assert not live.polling and live.phase is Phase.OFF


async def test_bot_answers_while_waiting_and_sends_go_to_the_agent_when_active(
    opened: tuple[LiveChat, Seen], desk: LiveDesk
) -> None:
    live, _ = opened
    desk.settings.script = None
    assert await live.request()
    turn = await live.conversation.send("still there, bot?")
    assert turn.error is None
    with pytest.raises(RuntimeError):
        await live.send("to nobody")
    desk.agent_says("I'm here")
    await until(lambda: live.active)
    assert await live.send("great")


async def test_the_waiting_room_form_is_fetched_once_and_saved(
    server: DevServer, opened: tuple[LiveChat, Seen], desk: LiveDesk
) -> None:
    live, _ = opened
    desk.settings.script = None
    assert await live.request()
    form = await live.waiting_form()
    assert form is not None and [f.key for f in form.fields] == ["email", "order_number"]
    assert await live.waiting_form() is form
    assert server.stats.count("GET /forms/{form_id}") == 1
    await live.save_waiting_values(form.form_id, {"email": " a@example.com ", "order_number": ""})
    [session] = desk.sessions.values()
    assert session.form_values == {"email": "a@example.com"}


async def test_a_bot_send_refused_because_an_agent_took_over(
    opened: tuple[LiveChat, Seen], desk: LiveDesk
) -> None:
    live, seen = opened
    desk.settings.script = None
    assert await live.request()
    await live.stop()  # as between two polls: the agent's join is not seen yet
    desk.agent_says("Hi, I'm here")
    turn = await live.conversation.send("hello bot")
    assert isinstance(turn.error, ApiHttpError) and turn.error.status == 409
    await until(lambda: len(seen.of(AgentMessage)) == 1)  # the state first, then the words
    assert live.active and "An agent has taken over" in seen.notices()


async def test_an_open_chat_is_picked_up_when_the_conversation_opens_again(
    server: DevServer, opened: tuple[LiveChat, Seen], desk: LiveDesk
) -> None:
    live, _ = opened
    desk.settings.script = None
    assert await live.request()
    token = live.client.visitor_token
    target = Target(
        server.base_url,
        DEMO_CHATBOT_ID,
        api_key=DEMO_API_KEY,
        visitor_token=token,
        environment="test",
    )
    again = Conversation(target)
    resumed = LiveChat(again, cadence=FAST_CADENCE)
    try:
        assert await again.open()
        assert await resumed.resume()
        assert resumed.phase is Phase.WAITING and resumed.polling
    finally:
        await resumed.stop()
        await again.close()


async def test_a_reload_keeps_the_chat_and_shows_the_agents_messages_again(
    opened: tuple[LiveChat, Seen],
) -> None:
    live, seen = opened
    assert await live.request()
    await until(lambda: len(seen.of(AgentMessage)) == 1)
    await live.conversation.reload()
    assert live.active and live.polling
    await until(lambda: len(seen.of(AgentMessage)) == 2)
    first, again = seen.of(AgentMessage)
    assert first.message.message_id == again.message.message_id
