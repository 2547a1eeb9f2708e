"""Live chat on the wire: the client's live-chat calls against the dev server's desk, real
sockets, the vendor's shapes and its faults."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from dialogtui.api import DialogClient
from dialogtui.api.errors import ApiHttpError
from dialogtui.api.models import plain_text
from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID, DevServer
from dialogtui.devserver.livechat import AgentScript, DeskSettings, LiveDesk, desk_of

FAST = AgentScript(join_after=0.0, typing_for=0.0)
"""The scripted agent with no waits: it joins at the first poll and answers at once."""


@pytest.fixture
def desk(server: DevServer) -> LiveDesk:
    desk = desk_of(server.app)
    desk.reset(DeskSettings(script=FAST))
    return desk


@pytest.fixture
async def client(server: DevServer, desk: LiveDesk) -> AsyncIterator[DialogClient]:
    async with DialogClient(server.base_url, DEMO_CHATBOT_ID, api_key=DEMO_API_KEY) as client:
        yield client


async def test_the_config_says_live_and_names_the_waiting_form(
    client: DialogClient, desk: LiveDesk
) -> None:
    config = await client.get_config()
    assert config.livechat is not None
    assert (config.livechat.enabled, config.livechat.availability_status) == (True, "live")
    [waiting] = [f for f in config.forms if f.trigger == "livechat_waiting"]
    definition = await client.get_form(waiting.form_id)
    assert [f.key for f in definition.fields] == ["email", "order_number"]
    desk.settings.fault = "offline"
    config = await client.get_config()
    assert config.livechat is not None and config.livechat.availability_status == "offline"


async def test_a_whole_live_chat_in_the_vendors_shapes(
    server: DevServer, client: DialogClient, desk: LiveDesk
) -> None:
    assert (await client.livechat_state()).status == "inactive"
    result = await client.livechat_handover("manual_button")
    assert result.status == "waiting" and result.livechat_session_id
    # While waiting the form's values are taken, and the bot still answers.
    desk.settings.script = None  # hold the agent back for a moment
    waiting = await client.livechat_state()
    assert waiting.status == "waiting" and waiting.state_version is not None
    await client.save_form_values("livechatWaiting", {"email": "a@example.com"})
    # The agent joins, greets; messages come in order, after a sequence number.
    desk.settings.script = FAST
    active = await client.livechat_state()
    assert active.status == "active" and active.agent_name == "Alice Jensen"
    assert active.state_version is not None and active.state_version > waiting.state_version
    [hello] = await client.livechat_messages(0)
    assert hello.role == "agent" and hello.agent is not None and hello.sequence_number == 1
    # A bot send while the agent has the conversation is refused, as the vendor's server does.
    with pytest.raises(ApiHttpError) as refused:
        async for _ in client.send_message("hello bot"):
            pass
    assert refused.value.status == 409
    mine = await client.livechat_send("Where is my parcel?")
    assert mine is not None and mine.role == "user" and mine.sequence_number == 2
    await client.livechat_typing(True)
    await client.livechat_typing(False)
    later = await client.livechat_messages(1)
    assert [m.sequence_number for m in later] == [2, 3]
    assert "Where is my parcel?" in plain_text(later[1].parts)
    assert await client.livechat_messages(3) == []
    # Feedback only after a close; the visitor closes; feedback once.
    with pytest.raises(ApiHttpError) as early:
        await client.livechat_feedback(5)
    assert early.value.status == 409
    closed = await client.livechat_close()
    assert closed is not None and closed.status == "closed" and closed.closed_by == "customer"
    assert closed.feedback.status == "pending"
    await client.livechat_feedback(4, "quick, thanks")
    with pytest.raises(ApiHttpError) as twice:
        await client.livechat_feedback(4)
    assert twice.value.status == 409
    final = await client.livechat_state()
    assert final.feedback.status == "submitted"
    [exported] = (await client.export())["livechat_sessions"]
    assert exported["status"] == "closed" and len(exported["messages"]) == 3
    assert exported["form_values"] == {"email": "a@example.com"}
    assert server.stats.count("POST /livechat/feedback") == 3  # early, given, twice


async def test_goodbye_makes_the_scripted_agent_close(client: DialogClient) -> None:
    await client.livechat_handover("assistant_marker", part_id="part_1")
    assert (await client.livechat_state()).status == "active"
    await client.livechat_send("thanks, bye")
    state = await client.livechat_state()
    assert (state.status, state.closed_by, state.feedback.status) == ("closed", "agent", "pending")


async def test_handover_faults_answer_409(client: DialogClient, desk: LiveDesk) -> None:
    desk.settings.fault = "offline"
    with pytest.raises(ApiHttpError) as offline:
        await client.livechat_handover("manual_button")
    assert offline.value.status == 409
    desk.settings.fault = "already_active"
    with pytest.raises(ApiHttpError) as active:
        await client.livechat_handover("manual_button")
    assert active.value.status == 409
    desk.settings.fault = None
    await client.livechat_handover("manual_button")
    with pytest.raises(ApiHttpError) as again:  # one session at a time
        await client.livechat_handover("manual_button")
    assert again.value.status == 409


async def test_polling_errors_then_answers(client: DialogClient, desk: LiveDesk) -> None:
    desk.settings.fault = "polling_errors"
    await client.livechat_handover("manual_button")
    statuses = []
    for _ in range(4):
        try:
            statuses.append((await client.livechat_state()).status)
        except ApiHttpError as error:
            statuses.append(error.status)
    assert statuses == [500, 500, 500, "active"]


async def test_out_of_order_serves_older_versions(client: DialogClient, desk: LiveDesk) -> None:
    desk.settings.fault = "out_of_order"
    desk.settings.script = None
    await client.livechat_handover("manual_button")
    desk.agent_says("Hello, Alice here.")
    versions = [(await client.livechat_state()).state_version for _ in range(4)]
    assert versions[0] is not None and versions[1] is not None
    assert versions[1] < versions[0] and versions[2] == versions[0]


async def test_bad_requests_get_the_envelope(client: DialogClient) -> None:
    with pytest.raises(ValueError):
        await client.livechat_handover("somewhere")
    with pytest.raises(ApiHttpError) as no_session:
        await client.livechat_send("anyone?")
    assert no_session.value.status == 409
    with pytest.raises(ApiHttpError) as not_waiting:
        await client.save_form_values("livechatWaiting", {"email": "a@example.com"})
    assert not_waiting.value.status == 409
    with pytest.raises(ApiHttpError) as unknown:
        await client.get_form("nope")
    assert unknown.value.status == 404


def test_the_state_reads_the_vendors_full_shape_and_odd_ones() -> None:
    import msgspec

    from dialogtui.api.models import to_livechat_state

    full = {
        "environment": "test",
        "status": "closed",
        "platform": "mobile_app",
        "active_agent": {"agent_id": "a1", "display_name": " Alice Jensen ", "avatar_url": None},
        "is_agent_typing": False,
        "language": "english",
        "feedback": {"status": "pending", "submitted_at": None},
        "updated_at": "2026-01-01T10:00:00.000Z",
        "agent_joined_at": "2026-01-01T09:58:00.000Z",
        "closed_at": "2026-01-01T10:00:00.000Z",
        "closed_by": "agent",
        "closed_by_agent_id": None,
        "close_reason": None,
        "state_version": 7,
    }
    state = to_livechat_state(full)
    assert (state.status, state.closed_by, state.state_version) == ("closed", "agent", 7)
    assert state.agent_name == "Alice Jensen" and state.feedback.status == "pending"
    bare = to_livechat_state({"status": "waiting"})
    assert bare.state_version is None and bare.feedback.status == "not_available"
    odd = to_livechat_state({"status": "queued", "is_agent_typing": "yes", "feedback": 3})
    assert odd.status == "inactive" and odd.is_agent_typing is False
    assert odd.feedback.status == "not_available"
    with pytest.raises(msgspec.ValidationError):
        to_livechat_state(["not", "an", "object"])


async def test_a_person_plays_the_agent_with_serve_agent() -> None:
    """`dialogtui serve --agent` as a child process: the visitor's doings on its stdout, each
    line on its stdin sent as the agent's message, /close closing the chat."""
    import asyncio
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    child = subprocess.Popen(
        [sys.executable, "-m", "dialogtui", "serve", "--agent", "--port", str(port)],
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    loop = asyncio.get_running_loop()

    async def line_with(text: str) -> str:
        assert child.stdout is not None
        while True:
            line = await loop.run_in_executor(None, child.stdout.readline)
            assert line, f"the server ended before saying {text!r}"
            if text in line:
                return line

    async def say(line: str) -> None:
        assert child.stdin is not None
        child.stdin.write(line + "\n")
        child.stdin.flush()

    try:
        await line_with("Ctrl-C stops it.")
        base_url = f"http://127.0.0.1:{port}"
        async with DialogClient(base_url, DEMO_CHATBOT_ID, api_key=DEMO_API_KEY) as client:
            await client.livechat_handover("manual_button")
            await line_with("The visitor asks for a human (manual_button)")
            await client.livechat_typing(True)
            await line_with("visitor is typing")
            await say("Hello, a person here")
            await line_with("sent.")
            state = await client.livechat_state()
            assert state.status == "active"
            [hello] = await client.livechat_messages(0)
            assert plain_text(hello.parts) == "Hello, a person here" and hello.role == "agent"
            await client.livechat_send("thanks")
            assert "visitor: thanks" in await line_with("visitor:")
            await say("/close")
            await line_with("closed.")
            closed = await client.livechat_state()
            assert (closed.status, closed.closed_by) == ("closed", "agent")
    finally:
        child.terminate()
        child.wait(timeout=10)
