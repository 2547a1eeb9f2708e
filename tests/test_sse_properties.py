"""Property tests of the stream path: SSE parsing (our byte-level guard, then httpx-sse) under
any byte split or truncation, agreement with httpx-sse alone on well-formed streams, and garbage
that never makes the parser, the event decoder or the assembler raise.

Real streams are captured once from the dev server; the client path is then driven through an
`httpx.MockTransport` that replays them in the chunks Hypothesis picks (a transport stand-in,
not a mock of our own code).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any, NamedTuple

import httpx
import httpx_sse
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialogtui.api import (
    DialogClient,
    DoneEvent,
    MalformedEvent,
    PartDeltaEvent,
    PartEvent,
    ProtocolError,
    ReplyAssembler,
    RequestTimeout,
    StatusEvent,
    StreamErrorEvent,
    StreamEvent,
    StreamInterrupted,
    Timeouts,
    UnknownEvent,
    decode_event,
)
from dialogtui.api.models import (
    Block,
    Delta,
    ListItem,
    Message,
    Product,
    RichTextPart,
    Span,
    TextPart,
    UnknownPart,
)
from dialogtui.api.sse import SSEEventTooLong, SSEGuard, event_source
from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID, DevServer, DevServerConfig

STREAM_KINDS = (
    "hello table form quick image",
    "hi !escapes",
    "hi !unknown_events",
    "hi !crlf",
    "hi !line_separators",
    "hi !malformed_json",
)
EVENT_TYPES = (
    StatusEvent,
    PartDeltaEvent,
    PartEvent,
    DoneEvent,
    StreamErrorEvent,
    UnknownEvent,
    MalformedEvent,
)


@pytest.fixture(scope="module")
def real_streams(devserver: DevServer) -> list[bytes]:
    """Raw bodies of a few real replies, exactly as the server sent them."""
    devserver.config = DevServerConfig()
    bodies: list[bytes] = []
    with httpx.Client(base_url=f"{devserver.base_url}/api/v1/chat", timeout=10) as http:
        token = http.post(
            "/auth", auth=(DEMO_API_KEY, ""), json={"chatbot_id": DEMO_CHATBOT_ID}
        ).json()["token"]
        for text in STREAM_KINDS:
            body = {"message": {"parts": [{"type": "text", "text": text}]}}
            with http.stream(
                "POST", "/messages", json=body, headers={"Authorization": f"Bearer {token}"}
            ) as response:
                assert response.status_code == 200
                bodies.append(response.read())
    return bodies


class ServerSentEvent(NamedTuple):
    """What httpx-sse's event carries, comparable."""

    event: str
    data: str
    id: str = ""
    retry: int | None = None


async def guarded_events(chunks: list[bytes], guard: SSEGuard) -> list[ServerSentEvent]:
    """The client's parsing path: the guard, then httpx-sse."""

    async def framed() -> AsyncIterator[bytes]:
        for chunk in chunks:
            if out := guard.feed(chunk):
                yield out

    async with aclosing(event_source(framed())) as source:
        return [ServerSentEvent(e.event, e.data, e.id, e.retry) async for e in source]


def parse_chunks(chunks: list[bytes], guard: SSEGuard | None = None) -> list[ServerSentEvent]:
    return asyncio.run(guarded_events(chunks, guard or SSEGuard()))


def parse_whole(raw: bytes) -> list[ServerSentEvent]:
    return parse_chunks([raw])


def split(raw: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(max(c, 0), len(raw)) for c in cuts})
    edges = [0, *points, len(raw)]
    return [raw[a:b] for a, b in itertools.pairwise(edges) if b > a]


class Replay(httpx.AsyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            yield chunk


def replaying_client(chunks: list[bytes], content_type: str = "text/event-stream") -> DialogClient:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": content_type}, stream=Replay(chunks))

    return DialogClient(
        "http://127.0.0.1", "bot", visitor_token="t0", transport=httpx.MockTransport(handler)
    )


async def client_events(
    chunks: list[bytes], charset: str = "utf-8"
) -> tuple[list[StreamEvent], Exception | None, str | None]:
    async with replaying_client(chunks, f"text/event-stream; charset={charset}") as client:
        events: list[StreamEvent] = []
        try:
            async for event in client.send_message("hi"):
                events.append(event)
        except (StreamInterrupted, ProtocolError) as exc:
            return events, exc, client.visitor_token
        return events, None, client.visitor_token


cuts = st.lists(st.integers(min_value=0, max_value=200_000), max_size=40)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------------------------
# Any byte split gives the same events


@SETTINGS
@given(data=st.data())
def test_parser_is_split_invariant(real_streams: list[bytes], data: st.DataObject) -> None:
    raw = data.draw(st.sampled_from(real_streams))
    chunks = split(raw, data.draw(st.lists(st.integers(0, len(raw)), max_size=60)))
    assert parse_chunks(chunks) == parse_whole(raw)


def test_byte_by_byte_and_real_streams_parse_completely(real_streams: list[bytes]) -> None:
    for raw in real_streams:
        whole = parse_whole(raw)
        assert whole[-1].event == "done" and len(whole) > 5
        assert parse_chunks([raw[i : i + 1] for i in range(len(raw))]) == whole


@SETTINGS
@given(data=st.data())
def test_client_path_is_split_invariant(real_streams: list[bytes], data: st.DataObject) -> None:
    raw = data.draw(st.sampled_from(real_streams))
    chunks = split(raw, data.draw(st.lists(st.integers(0, len(raw)), max_size=30)))
    events, error, token = asyncio.run(client_events(chunks))
    expected = [decode_event(e.event, e.data) for e in parse_whole(raw)]
    assert error is None and events == expected
    done = events[-1]
    assert isinstance(done, DoneEvent) and token == done.visitor_token


@SETTINGS
@given(data=st.data())
def test_truncation_anywhere_yields_a_prefix_then_interrupted(
    real_streams: list[bytes], data: st.DataObject
) -> None:
    raw = data.draw(st.sampled_from(real_streams))
    cut = data.draw(st.integers(0, len(raw) - 1))
    chunks = split(raw[:cut], data.draw(st.lists(st.integers(0, cut), max_size=10)))
    events, error, _ = asyncio.run(client_events(chunks))
    expected = [decode_event(e.event, e.data) for e in parse_whole(raw)]
    assert events == expected[: len(events)]
    if len(events) == len(expected):  # only the very last blank line was cut: done was complete
        assert error is None
    else:
        assert isinstance(error, StreamInterrupted)


# ---------------------------------------------------------------------------------------------
# Agreement with httpx-sse (the design card's parser) on well-formed streams

field_text = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=30)
event_names = st.sampled_from(
    ["", "status", "part_delta", "done", "x-unknown", "mixed Case", "ünï"]
)
line_ends = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def sse_streams(draw: st.DrawFn) -> str:
    out: list[str] = []
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.booleans()):
            out.append(":" + draw(field_text) + draw(line_ends))
        name = draw(event_names)
        if name:
            out.append(f"event:{draw(st.sampled_from(['', ' ']))}{name}{draw(line_ends)}")
        for line in draw(st.lists(field_text, min_size=1, max_size=3)):
            out.append(f"data:{draw(st.sampled_from(['', ' ']))}{line}{draw(line_ends)}")
        out.append(draw(line_ends))
    return "".join(out)


async def httpx_sse_events(chunks: list[bytes], charset: str = "utf-8") -> list[tuple[str, str]]:
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": f"text/event-stream; charset={charset}"}
        return httpx.Response(200, headers=headers, stream=Replay(chunks))

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http,
        http.stream("GET", "http://127.0.0.1/") as response,
    ):
        return [(e.event, e.data) async for e in httpx_sse.EventSource(response).aiter_sse()]


@SETTINGS
@given(text=sse_streams(), data=st.data())
def test_agrees_with_httpx_sse(text: str, data: st.DataObject) -> None:
    raw = text.encode()
    chunks = split(raw, data.draw(st.lists(st.integers(0, len(raw)), max_size=20)))
    ours = [(e.event, e.data) for e in parse_chunks(chunks)]
    assert ours == asyncio.run(httpx_sse_events(chunks))


def test_sse_details_the_spec_asks_for() -> None:
    raw = (
        "\ufeff: keep-alive\n"
        "event: lonely\n\n"  # no data: not dispatched
        # `data` without a colon is an empty data line
        "id: 7\nretry: 250\nfield-from-the-future: x\ndata\n\n"
        'event: done\ndata: {"a":\n'
        "data: 1}\n\n"
        "data: never finished"
    ).encode()
    guard = SSEGuard()
    events = parse_chunks([raw], guard)
    assert events == [
        ServerSentEvent("message", "", "7", 250),
        ServerSentEvent("done", '{"a":\n1}', "7", None),
    ]
    assert guard.comments == 1 and guard.has_partial_event
    # No phantom event for a keep-alive after an id: (httpx-sse 0.4.3 alone dispatches one),
    # nor for an event without data; the id of a dropped event still counts, as it is sticky.
    assert parse_whole(b"id: 1\ndata: x\n\n: keep-alive\n\nid: 2\nevent: e\n\ndata: y\n\n") == [
        ServerSentEvent("message", "x", "1"),
        ServerSentEvent("message", "y", "2"),
    ]


def test_utf8_whatever_the_declared_charset_and_no_byte_order_mark() -> None:
    raw = "data: blåbær\n\n".encode()
    # httpx-sse alone decodes with the declared charset, and keeps a leading byte-order mark
    # (which then hides the first field's name).
    assert asyncio.run(httpx_sse_events([raw], charset="latin-1")) == [("message", "blÃ¥bÃ¦r")]
    assert asyncio.run(httpx_sse_events([b"\xef\xbb\xbf" + raw])) == []
    for chunks, charset in [([raw], "latin-1"), ([b"\xef", b"\xbb\xbf" + raw], "utf-8")]:
        events, error, _ = asyncio.run(client_events(chunks, charset=charset))
        assert events == [decode_event("message", "blåbær")]  # then cut off: no `done`
        assert isinstance(error, StreamInterrupted)


def test_utf8_split_inside_a_character_and_invalid_bytes() -> None:
    raw = "data: blåbærgrød ✨\n\n".encode()
    assert parse_chunks([raw[i : i + 1] for i in range(len(raw))]) == [
        ServerSentEvent("message", "blåbærgrød ✨")
    ]
    assert parse_whole(b"data: \xff\xfe ok\n\n") == [ServerSentEvent("message", "\ufffd\ufffd ok")]


def test_line_and_event_limit() -> None:
    guard = SSEGuard(max_event_bytes=100)
    assert guard.feed(b"data: " + b"x" * 90 + b"\n\n")
    with pytest.raises(SSEEventTooLong):
        for _ in range(10):
            guard.feed(b"y" * 20)
    guard = SSEGuard(max_event_bytes=100)
    assert guard.feed(b": " + b"c" * 200 + b"\n") == b""  # a whole comment line is not kept
    with pytest.raises(SSEEventTooLong):
        for _ in range(10):
            guard.feed(b"data: " + b"z" * 20 + b"\n")  # short lines, an event that never ends


class Paced(httpx.AsyncByteStream):
    """Chunks with a pause before each: (seconds, bytes)."""

    def __init__(self, paced: list[tuple[float, bytes]]) -> None:
        self._paced = paced

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for pause, chunk in self._paced:
            await asyncio.sleep(pause)
            yield chunk


async def paced_outcome(paced: list[tuple[float, bytes]]) -> Exception | None:
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(200, headers=headers, stream=Paced(paced))

    transport = httpx.MockTransport(handler)
    timeouts = Timeouts(stream_idle=0.5)
    async with DialogClient(
        "http://127.0.0.1", "bot", visitor_token="t0", transport=transport, timeouts=timeouts
    ) as client:
        try:
            async for _ in client.send_message("hi"):
                pass
        except (StreamInterrupted, RequestTimeout) as exc:
            return exc
    return None


def test_keep_alive_comments_count_as_life_for_the_idle_timeout() -> None:
    # 1.2 s with no event, longer than stream_idle (0.5 s): alive while comments arrive.
    status = b'event: status\ndata: {"state": "thinking"}\n\n'
    comments = [(0.2, b": keep-alive\n")] * 6
    assert isinstance(asyncio.run(paced_outcome([(0, status), *comments])), StreamInterrupted)
    silence = [(1.2, b": keep-alive\n")]
    assert isinstance(asyncio.run(paced_outcome([(0, status), *silence])), RequestTimeout)


def test_a_line_that_never_ends_is_a_protocol_error() -> None:
    chunks = [b"event: part_delta\ndata: "] + [b"z" * (1 << 20)] * 17
    events, error, _ = asyncio.run(client_events(chunks))
    assert events == [] and isinstance(error, ProtocolError)


@SETTINGS
@given(raw=st.binary(max_size=400), data=st.data())
def test_parser_never_raises_on_garbage(raw: bytes, data: st.DataObject) -> None:
    chunks = split(raw, data.draw(st.lists(st.integers(0, len(raw)), max_size=20)))
    events = parse_chunks(chunks)
    assert events == parse_whole(raw)
    for event in events:
        assert isinstance(decode_event(event.event, event.data), EVENT_TYPES)


# ---------------------------------------------------------------------------------------------
# Garbage payloads never make the decoder or the assembler raise

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
ACTIONS = [
    "start_part",
    "start_block",
    "append_text",
    "append_span",
    "append_item",
    "append_product",
    "append_suggestion",
    "append_row",
    "end_block",
    "end_part",
    "sparkle",
]


@st.composite
def plausible_payloads(draw: st.DrawFn) -> tuple[str, str]:
    """Event data shaped almost like the contract, with random holes and wrong types."""
    name = draw(st.sampled_from(["part_delta", "part", "done", "status", "error", "usage", ""]))
    payload: Any
    if name == "part_delta":
        payload = {
            "part_id": draw(st.sampled_from(["a", "b"]) | json_values),
            "delta": draw(plausible_deltas()),
        }
    elif name == "part":
        payload = {"part": draw(plausible_parts())}
    elif name == "done":
        payload = {
            "message": {"parts": [draw(plausible_parts())]},
            "visitor_token": draw(st.none() | json_values),
        }
    else:
        payload = draw(json_values)
    text = msgspec.json.encode(payload).decode()
    if draw(st.integers(0, 3)) == 0:
        text = text[: draw(st.integers(0, len(text)))]  # truncated JSON
    return name, text


@st.composite
def plausible_deltas(draw: st.DrawFn) -> dict[str, Any]:
    delta: dict[str, Any] = {"action": draw(st.sampled_from(ACTIONS) | json_values)}
    keys = (
        "part_type",
        "block_index",
        "block_type",
        "text",
        "span",
        "item",
        "product",
        "row",
        "headers",
    )
    for key in draw(st.lists(st.sampled_from(keys), max_size=3, unique=True)):
        delta[key] = draw(
            st.sampled_from(
                ["rich_text", "products", "table", "paragraph", "bullet_list", "hologram"]
            )
            | st.integers(-2, 3)
            | json_values
        )
    return delta


def plausible_parts() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "type": st.sampled_from(["rich_text", "text", "carousel"]) | json_values,
            "part_id": st.sampled_from(["a", "b"]) | json_values,
            "blocks": json_values,
        }
    )


@settings(max_examples=100, deadline=None)
@given(payloads=st.lists(plausible_payloads(), max_size=12))
def test_garbage_payloads_never_raise(payloads: list[tuple[str, str]]) -> None:
    assembler = ReplyAssembler()
    for name, text in payloads:
        event = decode_event(name, text)
        assert isinstance(event, EVENT_TYPES)
        assembler.feed(event)
        check_invariants(assembler)


@settings(max_examples=100, deadline=None)
@given(name=st.text(max_size=20), text=st.text(max_size=80))
def test_decode_event_never_raises(name: str, text: str) -> None:
    assert isinstance(decode_event(name, text), EVENT_TYPES)


spans = st.builds(
    Span, type=st.sampled_from(["text", "bold", "link", "sparkle"]), text=st.text(max_size=5)
)
deltas = st.builds(
    Delta,
    action=st.sampled_from(ACTIONS),
    part_type=st.none()
    | st.sampled_from(["rich_text", "products", "suggestions", "table", "hologram"]),
    block_index=st.none() | st.integers(-2, 4),
    block_type=st.none() | st.sampled_from(["paragraph", "bullet_list", "quote"]),
    text=st.none() | st.text(max_size=5),
    span=st.none() | spans,
    item=st.none() | st.builds(ListItem, spans=st.lists(spans, max_size=2)),
    product=st.none() | st.builds(Product, id=st.text(max_size=3)),
    row=st.none() | st.just([]),
)
part_ids = st.sampled_from(["a", "b", "c", ""])
parts = st.one_of(
    st.builds(TextPart, part_id=part_ids, text=st.text(max_size=5)),
    st.builds(
        RichTextPart,
        part_id=part_ids,
        blocks=st.lists(st.builds(Block, spans=st.lists(spans, max_size=2)), max_size=2),
    ),
    st.builds(UnknownPart, type=st.just("carousel"), part_id=part_ids),
)
events = st.one_of(
    st.builds(PartDeltaEvent, part_id=part_ids, delta=deltas),
    st.builds(PartDeltaEvent, part_id=part_ids, delta=deltas),
    st.builds(PartEvent, part=parts),
    st.builds(StatusEvent, status=st.text(max_size=5)),
    st.builds(UnknownEvent, name=st.text(max_size=5), data=st.text(max_size=5)),
    st.builds(DoneEvent, message=st.builds(Message, parts=st.lists(parts, max_size=3))),
)


@settings(max_examples=300, deadline=None)
@given(sequence=st.lists(events, max_size=40))
def test_assembler_survives_any_sequence(sequence: list[StreamEvent]) -> None:
    assembler = ReplyAssembler()
    for event in sequence:
        change = assembler.feed(event)
        if change is not None and not change.everything:
            assert 0 <= change.part_index < assembler.part_count
        check_invariants(assembler)
    done = next((e for e in sequence if isinstance(e, DoneEvent)), None)
    if done is not None:
        assert assembler.parts == done.message.parts and assembler.message is done.message


def check_invariants(assembler: ReplyAssembler) -> None:
    materialized = assembler.parts
    assert len(materialized) == assembler.part_count
    assert assembler.text_length >= 0
    for index, part in enumerate(materialized):
        if isinstance(part, RichTextPart):
            assert [assembler.block(index, j) for j in range(len(part.blocks))] == part.blocks
