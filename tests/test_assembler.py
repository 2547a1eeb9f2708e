"""ReplyAssembler: parity of delta-built parts with the authoritative ones (real dev server
streams), the replace rules, the skip rules, and that feeding stays O(delta)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialogtui.api import (
    EVERYTHING,
    Change,
    DialogClient,
    DoneEvent,
    MalformedEvent,
    Message,
    PartDeltaEvent,
    PartEvent,
    ReplyAssembler,
    StatusEvent,
    StreamErrorEvent,
    StreamEvent,
    UnknownEvent,
)
from dialogtui.api.models import (
    Block,
    Delta,
    ListItem,
    Product,
    ProductsPart,
    RichTextPart,
    Span,
    TablePart,
    TextPart,
    UnknownPart,
)
from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID, DevServer
from dialogtui.session import ChatSession, Turn


async def stream(server: DevServer, text: str) -> list[StreamEvent]:
    async with DialogClient(server.base_url, DEMO_CHATBOT_ID, api_key=DEMO_API_KEY) as client:
        return [event async for event in client.send_message(text)]


def delta(part_id: str, action: str, **fields: object) -> PartDeltaEvent:
    return PartDeltaEvent(part_id=part_id, delta=Delta(action=action, **fields))  # type: ignore[arg-type]


def rich_start(part_id: str = "p1") -> list[PartDeltaEvent]:
    return [
        delta(part_id, "start_part", part_type="rich_text"),
        delta(part_id, "start_block", block_index=0, block_type="paragraph"),
    ]


# ---------------------------------------------------------------------------------------------
# Parity with the dev server (contract: deltas build a part; `part` and `done` are authoritative)


@pytest.mark.parametrize(
    "text", ["hello table form quick image", "hi !long", "hi !unknown_events", "hi !escapes"]
)
async def test_deltas_build_what_the_authoritative_part_holds(server: DevServer, text: str) -> None:
    events = await stream(server, text)
    assembler = ReplyAssembler()
    compared = 0
    for event in events:
        if isinstance(event, PartEvent) and event.part.part_id in _streamed_ids(events):
            index = [getattr(p, "part_id", "") for p in assembler.parts].index(event.part.part_id)
            # Unknown actions, spans and block types included: skipping them keeps parity.
            assert assembler.part(index) == event.part
            compared += 1
        assembler.feed(event)
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert compared >= 1
    assert assembler.parts == done.message.parts
    assert assembler.message is done.message


def _streamed_ids(events: list[StreamEvent]) -> set[str]:
    return {
        e.part_id
        for e in events
        if isinstance(e, PartDeltaEvent) and e.delta.action == "start_part"
    }


async def test_parts_before_done_match_done_for_every_streamed_part(server: DevServer) -> None:
    events = await stream(server, "hello table")
    assembler = ReplyAssembler()
    for event in events[:-1]:
        assembler.feed(event)
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert assembler.parts == done.message.parts
    assert assembler.text_length == sum(len(t) for t in _texts(done.message))


def _texts(message: Message) -> list[str]:
    out: list[str] = []
    for part in message.parts:
        if isinstance(part, RichTextPart):
            for block in part.blocks:
                out += [s.text for s in block.spans] + [
                    s.text for i in block.items for s in i.spans
                ]
    return out


async def test_whole_parts_and_attachments(server: DevServer) -> None:
    events = await stream(server, "hi !whole_parts")
    assembler = ReplyAssembler()
    changes = [assembler.feed(e) for e in events]
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert changes[-1] == Change(EVERYTHING, structural=True) and changes[-1].everything
    assert (
        assembler.part_count
        == len(done.message.parts)
        == sum(isinstance(e, PartEvent) for e in events) + 1
    )


# ---------------------------------------------------------------------------------------------
# Incremental cost (the project forbids timing assertions: count work instead)


async def test_feeding_5000_deltas_joins_nothing_and_materializing_is_linear(
    server: DevServer,
) -> None:
    events = await stream(server, "hi !long")
    deltas = [e for e in events if isinstance(e, PartDeltaEvent)]
    appends = [e for e in deltas if e.delta.action == "append_text"]
    assert len(appends) == 5000
    assembler = ReplyAssembler()
    materializations = 0
    for number, event in enumerate(deltas, start=1):
        change = assembler.feed(event)
        if event.delta.action == "append_text":
            assert change is not None and change.block_index == event.delta.block_index
            assert not change.structural
        if number % 50 == 0 and change is not None and change.block_index is not None:
            # A renderer looking at the block it was told about, every 50 deltas.
            assembler.block(change.part_index, change.block_index)
            materializations += 1
    # Each materialization joins only the chunks added since the last one, plus the cached prefix.
    assert assembler.joined_chunks <= len(appends) + 2 * materializations + 50
    before = assembler.joined_chunks
    whole = assembler.parts
    again = assembler.parts
    assert whole == again and whole[0] is again[0]  # cached: no second materialization
    assert assembler.joined_chunks - before <= len(appends)
    rich = whole[0]
    assert isinstance(rich, RichTextPart)
    assert assembler.text_length == 5000 * 20 + sum(
        len(s.text) for b in rich.blocks for i in b.items for s in i.spans
    )


def test_feed_itself_never_joins_text() -> None:
    assembler = ReplyAssembler()
    for event in rich_start():
        assembler.feed(event)
    for _ in range(10_000):
        assembler.feed(delta("p1", "append_text", block_index=0, text="abc "))
    assert assembler.joined_chunks == 0
    assert assembler.text_length == 40_000
    assert assembler.block(0, 0).spans[0].text == "abc " * 10_000
    assert assembler.joined_chunks == 10_000
    assembler.block(0, 0)
    assembler.part(0)
    assert assembler.joined_chunks == 10_000  # both cached


def test_rendering_one_growing_block_while_streaming_stays_linear() -> None:
    assembler = ReplyAssembler()
    for event in rich_start():
        assembler.feed(event)
    deltas, every = 10_000, 100
    for number in range(1, deltas + 1):
        change = assembler.feed(delta("p1", "append_text", block_index=0, text="abc "))
        if number % every == 0:
            assert change is not None and change.block_index is not None
            assembler.block(change.part_index, change.block_index)
    # Re-joining the whole block each time would cost about deltas**2 / (2 * every) = 500,000.
    assert assembler.joined_chunks <= deltas + deltas // every


# ---------------------------------------------------------------------------------------------
# Replace and skip rules (contract: delta actions, unknowns are skipped, never fatal)


def test_part_event_replaces_what_deltas_built() -> None:
    assembler = ReplyAssembler()
    for event in [*rich_start(), delta("p1", "append_text", block_index=0, text="draft")]:
        assembler.feed(event)
    final = RichTextPart(part_id="p1", blocks=[Block(spans=[Span(text="Final")])])
    assert assembler.feed(PartEvent(part=final)) == Change(0, structural=True)
    assert assembler.parts == [final]
    assert assembler.text_length == len("Final")
    # Late deltas do not edit the authoritative part.
    assert assembler.feed(delta("p1", "append_text", block_index=0, text="late")) is None
    assert assembler.parts == [final]


def test_part_event_for_a_new_id_is_appended_in_order() -> None:
    assembler = ReplyAssembler()
    for event in rich_start("a"):
        assembler.feed(event)
    assert assembler.feed(PartEvent(part=TextPart(part_id="b", text="x"))) == Change(
        1, structural=True
    )
    assert assembler.feed(PartEvent(part=UnknownPart(type="carousel", part_id="c"))) == Change(
        2, structural=True
    )
    assert [p.part_id for p in assembler.parts] == ["a", "b", "c"]


def test_done_replaces_everything_and_ends_the_reply() -> None:
    assembler = ReplyAssembler()
    for event in [*rich_start(), delta("p1", "append_text", block_index=0, text="partial")]:
        assembler.feed(event)
    message = Message(message_id="m1", parts=[TextPart(part_id="x", text="hello")])
    assert assembler.feed(DoneEvent(message=message)) == Change(EVERYTHING, structural=True)
    assert assembler.parts == message.parts and assembler.message is message
    assert assembler.text_length == 5
    assert assembler.feed(delta("x", "append_text", block_index=0, text="after")) is None
    assert assembler.feed(PartEvent(part=TextPart(part_id="y"))) is None
    assert assembler.parts == message.parts


def test_reset_to_loads_a_message_from_history() -> None:
    assembler = ReplyAssembler()
    message = Message(parts=[RichTextPart(part_id="r", blocks=[Block(spans=[Span(text="hi")])])])
    assembler.reset_to(message)
    assert assembler.part_count == 1 and assembler.block(0, 0).spans[0].text == "hi"
    with pytest.raises(IndexError):
        assembler.block(0, 1)


def test_skipped_things_change_nothing() -> None:
    assembler = ReplyAssembler()
    for event in rich_start():
        assembler.feed(event)
    ignored: list[StreamEvent] = [
        StatusEvent(status="processing"),
        UnknownEvent(name="typing", data="{}"),
        MalformedEvent(name="part_delta", data="{", reason="bad"),
        StreamErrorEvent(code="generation_failed"),
        delta("nobody", "append_text", block_index=0, text="orphan"),  # no start_part
        delta("p1", "sparkle", block_index=0),  # unknown action
        delta("p1", "append_text", block_index=7, text="x"),  # bad block_index
        delta("p1", "append_text", block_index=-1, text="x"),
        delta("p1", "append_text", text="x"),  # no block_index
        delta("p1", "start_block", block_index=5, block_type="paragraph"),  # gap
        delta("p1", "start_block", block_index=0, block_type="paragraph"),  # repeat
        delta("p1", "append_item", block_index=0, item=ListItem()),  # item into a paragraph
        delta("p1", "append_product", product=Product(id="x")),  # wrong part kind
        delta("p1", "end_block", block_index=0),
        delta("p1", "start_part", part_type="rich_text"),  # repeat
        delta("h", "start_part", part_type="hologram"),  # unknown part type
        delta("h", "append_text", block_index=0, text="x"),
        delta("p1", "end_part"),
    ]
    for skipped in ignored:
        assert assembler.feed(skipped) is None, skipped
    assert assembler.parts == [RichTextPart(part_id="p1", blocks=[Block()])]
    assert assembler.text_length == 0


def test_unknown_block_and_span_types_keep_indexes_aligned() -> None:
    assembler = ReplyAssembler()
    events = [
        delta("p", "start_part", part_type="rich_text"),
        delta("p", "start_block", block_index=0, block_type="quote"),
        delta("p", "append_text", block_index=0, text="quoted"),
        delta("p", "start_block", block_index=1, block_type="paragraph"),
        delta("p", "append_text", block_index=1, text="a"),
        delta("p", "append_span", block_index=1, span=Span(type="sparkle", text="*")),
        delta("p", "append_text", block_index=1, text="b"),
        delta("p", "append_text", block_index=1, text="c"),
    ]
    for event in events:
        assembler.feed(event)
    blocks = assembler.part(0).blocks  # type: ignore[union-attr]
    assert blocks[0] == Block(type="quote", spans=[Span(text="quoted")])
    assert blocks[1].spans == [Span(text="a"), Span(type="sparkle", text="*"), Span(text="bc")]


def test_bullet_lists_products_and_tables() -> None:
    assembler = ReplyAssembler()
    item = ListItem(spans=[Span(type="bold", text="Point: "), Span(text="one")])
    changes = [
        assembler.feed(e)
        for e in [
            delta("r", "start_part", part_type="rich_text"),
            delta("r", "start_block", block_index=0, block_type="bullet_list"),
            delta("r", "append_item", block_index=0, item=item),
            delta("r", "append_text", block_index=0, text=" more"),
            delta("s", "start_part", part_type="products"),
            delta("s", "append_product", product=Product(id="p1", title="Mug")),
            delta(
                "t",
                "start_part",
                part_type="table",
                headers=["A"],
                alignments=["left"],
                caption="C",
            ),
            delta("t", "append_row", row=[]),
        ]
    ]
    assert changes == [
        Change(0, structural=True),
        Change(0, block_index=0),  # a new block is a block change, not a new part
        Change(0, block_index=0),
        Change(0, block_index=0),
        Change(1, structural=True),
        Change(1),
        Change(2, structural=True),
        Change(2),
    ]
    rich, products, table = assembler.parts
    assert rich == RichTextPart(
        part_id="r",
        blocks=[
            Block(
                type="bullet_list", items=[ListItem(spans=[item.spans[0], Span(text="one more")])]
            )
        ],
    )
    assert item.spans[1].text == "one"  # the event's own item was not mutated
    assert products == ProductsPart(part_id="s", products=[Product(id="p1", title="Mug")])
    assert table == TablePart(
        part_id="t", headers=["A"], alignments=["left"], caption="C", rows=[[]]
    )
    with pytest.raises(IndexError):
        assembler.block(1, 0)


def test_cache_is_invalidated_only_for_the_changed_part() -> None:
    assembler = ReplyAssembler()
    for event in [*rich_start("a"), *rich_start("b")]:
        assembler.feed(event)
    a1, b1 = assembler.parts
    assembler.feed(delta("b", "append_text", block_index=0, text="x"))
    a2, b2 = assembler.parts
    assert a1 is a2 and b1 is not b2


# ---------------------------------------------------------------------------------------------
# The hot path (`append_text` to the block the previous delta grew) against the general path


class GeneralPathAssembler(ReplyAssembler):
    """The same rules with the hot path never taken: the reference for the property test."""

    def feed(self, event: StreamEvent) -> Change | None:
        self._hot_id = None
        return super().feed(event)


_PART_IDS = ("p1", "p2")
_TEXT = st.tuples(
    st.just("text"), st.sampled_from(_PART_IDS), st.integers(0, 2), st.text(max_size=6)
)
# Mostly text: runs of appends to one block are what the hot path takes.
_ACTIONS = st.one_of(
    _TEXT,
    _TEXT,
    _TEXT,
    _TEXT,
    _TEXT,
    st.tuples(
        st.just("span"),
        st.sampled_from(_PART_IDS),
        st.integers(0, 2),
        st.sampled_from(["text", "bold", "link"]),
    ),
    st.tuples(st.just("item"), st.sampled_from(_PART_IDS), st.integers(0, 2), st.text(max_size=4)),
    st.tuples(
        st.just("block"),
        st.sampled_from(_PART_IDS),
        st.integers(0, 3),
        st.sampled_from(["paragraph", "bullet_list"]),
    ),
    st.tuples(
        st.just("start"),
        st.sampled_from(_PART_IDS),
        st.just(0),
        st.sampled_from(["rich_text", "table"]),
    ),
    st.tuples(st.just("part"), st.sampled_from(_PART_IDS), st.just(0), st.text(max_size=4)),
    st.tuples(st.just("status"), st.just(""), st.just(0), st.just("")),
)


def _event(action: tuple[str, str, int, str]) -> StreamEvent:
    kind, part_id, index, value = action
    if kind == "text":
        return delta(part_id, "append_text", block_index=index, text=value)
    if kind == "span":
        return delta(
            part_id,
            "append_span",
            block_index=index,
            span=Span(type=value, text="s", url="https://x.dk"),
        )
    if kind == "item":
        return delta(
            part_id, "append_item", block_index=index, item=ListItem(spans=[Span(text=value)])
        )
    if kind == "block":
        return delta(part_id, "start_block", block_index=index, block_type=value)
    if kind == "start":
        return delta(part_id, "start_part", part_type=value)
    if kind == "part":
        return PartEvent(
            part=RichTextPart(part_id=part_id, blocks=[Block(spans=[Span(text=value)])])
        )
    return StatusEvent(status="thinking")


@given(st.lists(_ACTIONS, max_size=60), st.sampled_from(["nothing", "length", "parts", "blocks"]))
@settings(max_examples=400, deadline=None)
def test_the_hot_path_builds_exactly_what_the_general_path_builds(
    actions: list[tuple[str, str, int, str]], read_as_it_grows: str
) -> None:
    """Event by event, the same changes; and after every event, as `read_as_it_grows` says,
    the same text length, parts, or block of the change (reading caches what the hot path's
    appends make stale), or nothing until the end (the hot path's counts wait for a read)."""
    fast, reference = ReplyAssembler(), GeneralPathAssembler()
    for event in [*rich_start("p1"), *rich_start("p2")]:
        assert fast.feed(event) == reference.feed(event)
    for action in actions:
        event = _event(action)
        change = fast.feed(event)
        assert change == reference.feed(event), action
        if read_as_it_grows == "length":
            assert fast.text_length == reference.text_length
        elif read_as_it_grows == "parts":
            assert fast.parts == reference.parts, action
        elif read_as_it_grows == "blocks" and change is not None and change.block_index is not None:
            assert fast.block(change.part_index, change.block_index) == reference.block(
                change.part_index, change.block_index
            ), action
    assert fast.text_length == reference.text_length
    assert fast.parts == reference.parts
    done = DoneEvent(message=Message(parts=[]))
    assert fast.feed(done) == reference.feed(done)
    late = delta("p1", "append_text", block_index=0, text="late")
    assert fast.feed(late) is None and fast.parts == []


class ScriptedClient:
    """Stands in for `DialogClient.send_message` with a given event sequence: the dev server
    cannot interleave parts and blocks in every order the contract allows."""

    def __init__(self, events: list[StreamEvent]) -> None:
        self.events = events

    async def send_message(self, text: str) -> AsyncIterator[StreamEvent]:
        for event in self.events:
            yield event


def _filtered(events: list[StreamEvent]) -> list[Change | None]:
    """The rule `stream_turn(every_delta=False)` documents, on the general path: every
    change but the further growth of the block the last yielded change grew."""
    assembler, growing, kept = GeneralPathAssembler(), None, []
    for event in events:
        change = assembler.feed(event)
        if change is None:
            continue
        if change.block_index is None or change.structural:
            growing = None
        elif (change.part_index, change.block_index) == growing:
            continue
        else:
            growing = (change.part_index, change.block_index)
        kept.append(change)
    return kept


@given(st.lists(_ACTIONS, max_size=60))
@settings(max_examples=300, deadline=None)
def test_the_session_skips_exactly_the_further_growth_of_the_block_it_last_named(
    actions: list[tuple[str, str, int, str]],
) -> None:
    events = [*rich_start("p1"), *rich_start("p2"), *(_event(action) for action in actions)]
    turn = Turn(text="scripted")

    async def updates() -> list[Change | None]:
        session = ChatSession(ScriptedClient(events))  # type: ignore[arg-type]
        return [update.change async for update in session.stream_turn(turn, every_delta=False)]

    assert asyncio.run(updates()) == _filtered(events)


def test_appends_to_one_block_return_the_same_change_until_another_event() -> None:
    """What lets a consumer skip a block's further growth with one `is` (the session does)."""
    assembler = ReplyAssembler()
    for event in rich_start():
        assembler.feed(event)
    first = assembler.feed(delta("p1", "append_text", block_index=0, text="a"))
    again = assembler.feed(delta("p1", "append_text", block_index=0, text="b"))
    assert first is not None and again is first
    assert assembler.text_length == 2 and assembler.block(0, 0).spans[0].text == "ab"
    assert assembler.feed(delta("p1", "append_text", block_index=0, text="c")) is first
    assert assembler.block(0, 0).spans[0].text == "abc", "a read in between sees the growth"
    assembler.feed(StatusEvent(status="thinking"))
    after = assembler.feed(delta("p1", "append_text", block_index=0, text="d"))
    assert after == first and after is not first
    assert assembler.text_length == 4


def test_a_message_loaded_from_history_ends_the_hot_path() -> None:
    assembler = ReplyAssembler()
    for event in [
        *rich_start(),
        delta("p1", "append_text", block_index=0, text="a"),
        delta("p1", "append_text", block_index=0, text="b"),
    ]:
        assembler.feed(event)
    assembler.reset_to(Message(parts=[TextPart(text="from history")]))
    assert assembler.text_length == len("from history")
    assert assembler.feed(delta("p1", "append_text", block_index=0, text="c")) is None
    assert assembler.parts == [TextPart(text="from history")]


def test_the_hot_path_follows_a_lists_newest_item() -> None:
    fast, reference = ReplyAssembler(), GeneralPathAssembler()
    events = [
        delta("p1", "start_part", part_type="rich_text"),
        delta("p1", "start_block", block_index=0, block_type="bullet_list"),
        delta("p1", "append_item", block_index=0, item=ListItem(spans=[Span(text="one")])),
        delta("p1", "append_text", block_index=0, text=" a"),
        delta("p1", "append_text", block_index=0, text=" b"),
        delta("p1", "append_item", block_index=0, item=ListItem(spans=[Span(text="two")])),
        delta("p1", "append_text", block_index=0, text=" c"),
        delta("p1", "append_text", block_index=0, text=" d"),
    ]
    for event in events:
        assert fast.feed(event) == reference.feed(event)
        assert fast.parts == reference.parts
    items = fast.block(0, 0).items
    assert [span.text for item in items for span in item.spans] == ["one a b", "two c d"]


def test_an_append_to_another_block_of_the_hot_part_goes_to_that_block() -> None:
    fast, reference = ReplyAssembler(), GeneralPathAssembler()
    events = [
        *rich_start("p1"),
        delta("p1", "append_text", block_index=0, text="zero"),
        delta("p1", "start_block", block_index=1, block_type="paragraph"),
        delta("p1", "append_text", block_index=0, text=" a"),  # heats block 0
        delta("p1", "append_text", block_index=1, text="one"),
    ]  # not block 0's run
    for event in events:
        assert fast.feed(event) == reference.feed(event)
    assert fast.parts == reference.parts


def test_appends_to_a_lists_newest_item_take_the_hot_path() -> None:
    assembler = ReplyAssembler()
    for event in [
        delta("p1", "start_part", part_type="rich_text"),
        delta("p1", "start_block", block_index=0, block_type="bullet_list"),
        delta("p1", "append_item", block_index=0, item=ListItem(spans=[Span(text="one")])),
        delta("p1", "append_text", block_index=0, text=" a"),
    ]:
        assembler.feed(event)
    assert assembler._hot_id == "p1", "the next append to the item is the hot path's"


def test_block_versions_move_with_each_change_and_only_then() -> None:
    from dialogtui.api.models import Delta, PartDeltaEvent, PartEvent, RichTextPart

    def delta(action: str, **fields: object) -> PartDeltaEvent:
        return PartDeltaEvent(
            part_id="r", delta=Delta(action=action, part_type="rich_text", **fields)
        )

    assembler = ReplyAssembler()
    assembler.feed(delta("start_part"))
    assembler.feed(delta("start_block", block_index=0, block_type="paragraph"))
    started = assembler.block_version(0, 0)
    assert assembler.block_version(0, 0) == started, "reading changes nothing"
    for word in ("a ", "b ", "c "):
        assembler.feed(delta("append_text", block_index=0, text=word))  # the hot path
    grown = assembler.block_version(0, 0)
    assert grown != started and assembler.block(0, 0).spans[0].text == "a b c "
    assembler.feed(delta("start_block", block_index=1, block_type="paragraph"))
    assert assembler.block_version(0, 0) == grown, "another block's growth is not this one's"
    whole = assembler.version
    assembler.feed(delta("append_text", block_index=7, text="nowhere"))  # skipped: no change
    assert assembler.version == whole
    assembler.feed(PartEvent(part=RichTextPart(part_id="r", blocks=[assembler.block(0, 0)])))
    assert assembler.block_version(0, 0) != grown and assembler.version != whole
    with pytest.raises(IndexError):
        assembler.block_version(0, 1)
