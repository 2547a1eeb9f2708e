"""ChatSession against the real dev server: what `stream_turn` yields, and its figures."""

from __future__ import annotations

import msgspec

from dialogtui.api import DialogClient, DoneEvent
from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID, DevServer
from dialogtui.session import ChatSession, Turn, TurnUpdate


async def run(server: DevServer, text: str, *, every_delta: bool) -> tuple[Turn, list[TurnUpdate]]:
    async with DialogClient(server.base_url, DEMO_CHATBOT_ID, api_key=DEMO_API_KEY) as client:
        turn = Turn(text=text)
        updates = [
            update
            async for update in ChatSession(client).stream_turn(turn, every_delta=every_delta)
        ]
        return turn, updates


def content(turn: Turn) -> list[object]:
    """The reply's parts without their ids (the server makes new ones for each reply)."""
    return [
        {k: v for k, v in msgspec.to_builtins(part).items() if k != "part_id"}
        for part in turn.assembler.parts
    ]


async def test_without_every_delta_a_block_is_named_once_and_the_reply_is_the_same(
    server: DevServer,
) -> None:
    every, every_updates = await run(server, "hi !long:250", every_delta=True)
    once, once_updates = await run(server, "hi !long:250", every_delta=False)

    assert once.outcome == every.outcome == "done"
    assert content(once) == content(every)
    assert (once.figures.events, once.figures.chars) == (every.figures.events, every.figures.chars)
    assert once.figures.events == len(every_updates) > 250

    grown = [
        (u.change.part_index, u.change.block_index)
        for u in once_updates
        if u.change is not None and u.change.block_index is not None and not u.change.structural
    ]
    assert len(grown) == len(set(grown)), "each growing block is named once"
    blocks = sum(len(part.blocks) for part in once.assembler.parts if hasattr(part, "blocks"))
    assert len(once_updates) <= blocks + len(once.assembler.parts) + 2
    assert isinstance(once_updates[-1].event, DoneEvent)
    assert once_updates[-1].turn.figures.events == once.figures.events


async def test_without_every_delta_each_row_product_or_suggestion_is_still_yielded(
    server: DevServer,
) -> None:
    """A part that grows at its end (no block) has no block to follow: each growth is yielded."""
    _, every_updates = await run(server, "hi", every_delta=True)
    _, once_updates = await run(server, "hi", every_delta=False)

    def part_growth(updates: list[TurnUpdate]) -> list[int]:
        return [
            u.change.part_index
            for u in updates
            if u.change is not None and u.change.block_index is None and not u.change.structural
        ]

    assert part_growth(every_updates), "the demo reply streams rows, products or suggestions"
    assert part_growth(once_updates) == part_growth(every_updates)


async def test_a_stream_error_is_yielded_before_it_is_raised(server: DevServer) -> None:
    async with DialogClient(server.base_url, DEMO_CHATBOT_ID, api_key=DEMO_API_KEY) as client:
        turn = Turn(text="x !stream_error_retryable")
        seen: list[str] = []
        try:
            async for update in ChatSession(client).stream_turn(turn, every_delta=False):
                seen.append(type(update.event).__name__)
        except Exception as error:
            assert getattr(error, "kind", None) == "stream"
        else:
            raise AssertionError("the stream error was not raised")
    assert seen[-1] == "StreamErrorEvent"
    assert turn.outcome == "error" and turn.assembler.text_length > 0, "the partial reply stays"


async def test_a_turns_repr_never_shows_the_visitor_token_it_went_out_with(
    server: DevServer,
) -> None:
    # A turn lands in assertion messages, tracebacks with locals and debug logs by its repr.
    async with DialogClient(server.base_url, DEMO_CHATBOT_ID, api_key=DEMO_API_KEY) as client:
        session = ChatSession(client)
        client.add_observer(session.observe, sse=False)
        turn = Turn(text="hi")
        async for _ in session.stream_turn(turn):
            pass
    assert turn.token_used and turn.token_used not in repr(turn)
