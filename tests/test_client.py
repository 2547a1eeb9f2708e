"""DialogClient against the dev server over real sockets: every scenario, retries, re-auth,
token rotation, timeouts, cancellation, paging, actions and what reaches the logs.

No mocks of our own code. Retry waits are kept short with `RetryPolicy.with_delays`, or recorded
instead of slept through the client's injectable `_sleep` where the wait itself is the subject.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import socket
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dialogtui.api import (
    KeyRejectedError,
    DEFAULT_POLICIES,
    ActionResult,
    ApiHttpError,
    ConnectError,
    DialogClient,
    DialogError,
    DoneEvent,
    InsecureTransportError,
    MalformedEvent,
    MissingCredentialsError,
    Operation,
    PartDeltaEvent,
    PartEvent,
    ProtocolError,
    REQUEST_ID_HEADERS,
    RedactingFilter,
    RequestFinished,
    RequestStarted,
    RequestTimeout,
    ResponseReceived,
    RetryPolicy,
    RetryScheduled,
    SseEvent,
    StatusEvent,
    StreamError,
    StreamErrorEvent,
    StreamEvent,
    StreamInterrupted,
    Timeouts,
    TraceEvent,
    UnknownEvent,
    parse_api_error,
    redact,
)
from dialogtui.api.errors import GENERIC_MESSAGE, http_safe_message
from dialogtui.api.models import ContactFormPart, RichTextPart, UnknownPart, plain_text
from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID, DevServer

FAST = {op: policy.with_delays(0.001, 0.005) for op, policy in DEFAULT_POLICIES.items()}
MAX_ATTEMPTS = DEFAULT_POLICIES[Operation.SEND].max_attempts

# What servers say in bodies and that must never reach a person's screen.
SERVER_TEXTS = (
    "<html",
    "nginx",
    "Traceback",
    "teapot",
    "You are not allowed",
    "does not exist",
    "conflicts with",
    "could not be understood",
    "Too many requests",
    "unexpected error",
    "Failed to generate",
    "Missing, expired",
)


class SleepRecorder:
    """Stands in for asyncio.sleep: records each retry wait and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


def make_client(server: DevServer, **kwargs: Any) -> DialogClient:
    kwargs.setdefault("api_key", DEMO_API_KEY)
    kwargs.setdefault("policies", FAST)
    return DialogClient(server.base_url, DEMO_CHATBOT_ID, **kwargs)


async def collect(
    stream: AsyncIterator[StreamEvent],
) -> tuple[list[StreamEvent], DialogError | None]:
    events: list[StreamEvent] = []
    try:
        async for event in stream:
            events.append(event)
    except DialogError as exc:
        return events, exc
    return events, None


def assert_safe(error: DialogError) -> None:
    text = str(error)
    assert text == error.safe_message
    for server_text in SERVER_TEXTS:
        assert server_text.lower() not in text.lower()
    assert "{" not in text and "<" not in text


def finished(trace: list[TraceEvent]) -> list[RequestFinished]:
    return [event for event in trace if isinstance(event, RequestFinished)]


# ---------------------------------------------------------------------------------------------
# Authentication (contract: /auth Basic, /auth/reset, token-only users, 401 handling)


async def test_authenticate_stores_token_and_reports_it(server: DevServer) -> None:
    seen: list[str] = []
    async with make_client(server, on_token=seen.append) as client:
        token = await client.authenticate()
    assert token and client.visitor_token == token and seen == [token]
    assert server.stats.count("POST /auth") == 1
    expected = "Basic " + base64.b64encode(f"{DEMO_API_KEY}:".encode()).decode()
    assert server.stats.last_authorization == expected


async def test_first_bearer_call_authenticates_once(server: DevServer) -> None:
    async with make_client(server) as client:
        await asyncio.gather(client.get_config(), client.get_config(), client.get_config())
    assert server.stats.count("POST /auth") == 1
    assert server.stats.count("GET /config") == 3


async def test_bad_api_key_surfaces_401_from_auth_without_retry(server: DevServer) -> None:
    async with make_client(server, api_key="wrong-key") as client:
        with pytest.raises(KeyRejectedError) as info:
            await client.get_config()
    assert isinstance(info.value, ApiHttpError), "still an HTTP 401 for callers that ask"
    assert info.value.status == 401 and info.value.kind == "key_rejected"
    # Honest advice: the key was refused, and only `dialogtui login` can fix that.
    assert "not accepted" in info.value.safe_message
    assert "dialogtui login" in info.value.safe_message
    assert "expired" not in info.value.safe_message
    assert not info.value.retryable
    assert_safe(info.value)
    assert server.stats.count("POST /auth") == 1
    assert server.stats.count("GET /config") == 0


async def test_a_rejected_key_is_not_sent_again_in_this_process(server: DevServer) -> None:
    # `run` with 50 turns and a wrong key used to ask /auth 50 times.
    for _ in range(3):
        async with make_client(server, api_key="wrong-key") as client:
            with pytest.raises(KeyRejectedError):
                await client.get_config()
            _, error = await collect(client.send_message("hello"))
            assert isinstance(error, KeyRejectedError)
    assert server.stats.count("POST /auth") == 1
    async with make_client(server) as client:  # another key is asked as usual
        await client.get_config()
    assert server.stats.count("POST /auth") == 2


async def test_a_401_that_mints_a_new_token_is_reported(server: DevServer) -> None:
    minted: list[int] = []
    async with make_client(server, on_reauthenticated=lambda: minted.append(1)) as client:
        await client.get_config()
        first = client.visitor_token
        assert client.reauthentications == 0
        server.config.scenario = "unauthorized"
        with pytest.raises(ApiHttpError):
            await client.get_config()
    assert client.visitor_token != first
    assert client.reauthentications == 1 and minted == [1]


async def test_page_and_client_profile_reach_the_wire(server: DevServer) -> None:
    async with make_client(
        server,
        context_page="https://shop.test/products/tee",
        client_profile="product-recommendation",
    ) as client:
        await collect(client.send_message("hello"))
        await collect(client.send_message("again", context_page="https://shop.test/cart"))
    assert server.stats.context_pages == [
        "https://shop.test/products/tee",
        "https://shop.test/cart",
    ]
    assert server.stats.client_profiles == ["product-recommendation"] * 2
    async with make_client(server) as client:
        await collect(client.send_message("plain"))
    assert server.stats.context_pages[-1] is None and server.stats.client_profiles[-1] is None


async def test_no_credentials_fails_before_any_request(server: DevServer) -> None:
    async with make_client(server, api_key=None) as client:
        assert not client.has_api_key
        with pytest.raises(MissingCredentialsError):
            await client.get_config()
        _, error = await collect(client.send_message("hello"))
        assert isinstance(error, MissingCredentialsError)
        with pytest.raises(MissingCredentialsError):
            await client.reset_conversation()
    assert server.stats.requests == []


async def test_token_only_client_works(server: DevServer) -> None:
    async with make_client(server) as minting:
        token = await minting.authenticate()
    async with make_client(server, api_key=None, visitor_token=token) as client:
        events, error = await collect(client.send_message("hello"))
    assert error is None and isinstance(events[-1], DoneEvent)
    assert server.stats.count("POST /auth") == 1


async def test_reset_conversation_starts_a_new_one(server: DevServer) -> None:
    seen: list[str] = []
    async with make_client(server, on_token=seen.append) as client:
        first = await client.authenticate()
        await collect(client.send_message("remember me"))
        second = await client.reset_conversation()
        history = await client.get_history()
    assert second != first and client.visitor_token == second and seen[-1] == second
    assert history == []
    assert server.stats.count("POST /auth/reset") == 1


async def test_expired_token_reauthenticates_exactly_once(server: DevServer) -> None:
    server.config.scenario = "expired_token"
    seen: list[str] = []
    trace: list[TraceEvent] = []
    async with make_client(server, on_token=seen.append, observer=trace.append) as client:
        config = await client.get_config()
    assert config.display.name
    assert server.stats.count("POST /auth") == 2
    assert server.stats.count("GET /config") == 2
    assert len(seen) == 2 and client.visitor_token == seen[-1]
    assert [e.reason for e in trace if isinstance(e, RetryScheduled)] == [
        "unauthorized: re-authenticating"
    ]
    assert finished(trace)[-1].retries == 1


async def test_expired_token_on_send_is_repeated_with_the_new_token(server: DevServer) -> None:
    async with make_client(server) as client:
        await client.authenticate()
        events, error = await collect(client.send_message("hello !expired_token"))
    assert error is None and isinstance(events[-1], DoneEvent)
    assert server.stats.count("POST /messages") == 2
    assert server.stats.count("POST /auth") == 2


async def test_second_401_surfaces_and_never_loops(server: DevServer) -> None:
    server.config.scenario = "unauthorized"
    async with make_client(server) as client:
        with pytest.raises(ApiHttpError) as info:
            await client.get_config()
        events, error = await collect(client.send_message("hello !unauthorized"))
    assert info.value.status == 401 and isinstance(error, ApiHttpError) and error.status == 401
    assert events == []
    assert_safe(info.value)
    # get_config: first token + one re-auth; send: one re-auth more.
    assert server.stats.count("GET /config") == 2
    assert server.stats.count("POST /messages") == 2
    assert server.stats.count("POST /auth") == 3


async def test_401_without_api_key_surfaces_at_once(server: DevServer) -> None:
    async with make_client(server, api_key=None, visitor_token="not-a-valid-token") as client:
        with pytest.raises(ApiHttpError) as info:
            await client.get_config()
        _events, error = await collect(client.send_message("hello"))
    assert info.value.is_unauthorized and isinstance(error, ApiHttpError) and error.status == 401
    assert info.value.safe_message == http_safe_message(401, "unauthorized")
    assert server.stats.count("POST /auth") == 0
    assert server.stats.count("GET /config") == 1 and server.stats.count("POST /messages") == 1


# ---------------------------------------------------------------------------------------------
# HTTP errors before a stream (contract: ApiError envelope, defensive parsing, code table)

HTTP_CASES = [
    # scenario, status, code, retried
    ("forbidden", 403, "forbidden", False),
    ("not_found", 404, "not_found", False),
    ("conflict", 409, "conflict", False),
    ("bad_request", 400, "bad_request", False),
    ("validation", 422, "validation", False),
    ("internal", 500, "internal", True),
    ("unavailable", 503, "unavailable", True),
    ("html_error", 502, None, True),
    ("empty_body", 500, None, True),
    ("string_error", 404, "not_found", False),
    ("unknown_code", 418, "teapot_mode", False),
]


@pytest.mark.parametrize(("scenario", "status", "code", "retried"), HTTP_CASES)
async def test_http_error_on_send(
    server: DevServer, scenario: str, status: int, code: str | None, retried: bool
) -> None:
    async with make_client(server) as client:
        events, error = await collect(client.send_message(f"hello !{scenario}"))
    assert events == []
    assert isinstance(error, ApiHttpError)
    assert (error.status, error.code) == (status, code)
    assert error.retryable is retried
    assert error.request_id and error.request_id.startswith("req_")
    assert_safe(error)
    assert server.stats.scenario_count(scenario) == (MAX_ATTEMPTS if retried else 1)


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ("html_error", http_safe_message(502, None)),
        ("empty_body", http_safe_message(500, None)),
        ("string_error", http_safe_message(404, "not_found")),
        ("unknown_code", GENERIC_MESSAGE),
    ],
)
async def test_unusual_error_bodies_get_generic_messages(
    server: DevServer, scenario: str, expected: str
) -> None:
    server.config.scenario = scenario
    async with make_client(server) as client:
        with pytest.raises(ApiHttpError) as info:
            await client.get_config()
    assert info.value.safe_message == expected
    assert info.value.server_message in (None, "The server is a teapot today.")
    assert_safe(info.value)


async def test_validation_error_carries_params(server: DevServer) -> None:
    async with make_client(server) as client:
        _, error = await collect(client.send_message("hello !validation"))
    assert isinstance(error, ApiHttpError) and error.code == "validation"
    assert [(p.field, p.message) for p in error.params] == [
        ("message.parts.0.text", "Text is required")
    ]


async def test_blank_message_is_a_422_from_the_server(server: DevServer) -> None:
    async with make_client(server) as client:
        _, error = await collect(client.send_message("   "))
    assert isinstance(error, ApiHttpError) and error.status == 422 and error.params


# ---------------------------------------------------------------------------------------------
# Retries (contract: 429/5xx bounded backoff with jitter, Retry-After, sends only before the body)


async def test_flaky_send_succeeds_after_one_retry(server: DevServer) -> None:
    trace: list[TraceEvent] = []
    async with make_client(server, observer=trace.append) as client:
        events, error = await collect(client.send_message("hello !flaky"))
    assert error is None and isinstance(events[-1], DoneEvent)
    assert server.stats.count("POST /messages") == 2
    retries = [e for e in trace if isinstance(e, RetryScheduled)]
    assert [(r.op, r.attempt, r.reason) for r in retries] == [(Operation.SEND, 1, "status 500")]
    assert finished(trace)[-1].retries == 1 and finished(trace)[-1].outcome == "ok"


async def test_flaky_read_succeeds_after_one_retry(server: DevServer) -> None:
    server.config.scenario = "flaky"
    async with make_client(server) as client:
        await client.get_config()
    assert server.stats.count("GET /config") == 2


async def test_rate_limited_once_waits_for_retry_after(server: DevServer) -> None:
    server.config.retry_after = 2
    sleeper = SleepRecorder()
    async with make_client(server) as client:
        client._sleep = sleeper
        events, error = await collect(client.send_message("hello !rate_limited_once"))
    assert error is None and isinstance(events[-1], DoneEvent)
    assert sleeper.delays == [2.0]
    assert server.stats.count("POST /messages") == 2


async def test_rate_limited_is_bounded_and_honours_retry_after(server: DevServer) -> None:
    server.config.retry_after = 1
    sleeper = SleepRecorder()
    async with make_client(server) as client:
        client._sleep = sleeper
        _, error = await collect(client.send_message("hello !rate_limited"))
    assert isinstance(error, ApiHttpError) and error.status == 429 and error.retry_after == 1.0
    assert error.retryable
    assert_safe(error)
    assert sleeper.delays == [1.0] * (MAX_ATTEMPTS - 1)
    assert server.stats.count("POST /messages") == MAX_ATTEMPTS


async def test_retry_after_beyond_the_cap_surfaces_at_once(server: DevServer) -> None:
    server.config.retry_after = 31
    assert DEFAULT_POLICIES[Operation.SEND].retry_after_cap < 31
    sleeper = SleepRecorder()
    async with make_client(server) as client:
        client._sleep = sleeper
        _, error = await collect(client.send_message("hello !rate_limited"))
    assert isinstance(error, ApiHttpError) and error.retry_after == 31.0
    assert sleeper.delays == [] and server.stats.count("POST /messages") == 1


async def test_backoff_without_retry_after_is_bounded_by_policy(server: DevServer) -> None:
    server.config.scenario = "internal"
    policy = RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=0.75)
    sleeper = SleepRecorder()
    async with make_client(server, policies={**FAST, Operation.CONFIG: policy}) as client:
        client._sleep = sleeper
        with pytest.raises(ApiHttpError):
            await client.get_config()
    assert server.stats.count("GET /config") == 4
    assert len(sleeper.delays) == 3
    ceilings = [0.5, 0.75, 0.75]  # base * 2**n, capped by max_delay; jitter stays in [c/2, c]
    assert all(c / 2 <= d <= c for d, c in zip(sleeper.delays, ceilings, strict=True))


async def test_non_retryable_writes_are_not_repeated(server: DevServer) -> None:
    server.config.scenario = "forbidden"
    async with make_client(server) as client:
        await client.authenticate()
        with pytest.raises(ApiHttpError):
            await client.rate(5)
    assert server.stats.count("POST /rate") == 1


async def test_connect_failure_is_retried_then_surfaces() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    trace: list[TraceEvent] = []
    sleeper = SleepRecorder()
    client = DialogClient(
        f"http://127.0.0.1:{port}", "bot", visitor_token="t", policies=FAST, observer=trace.append
    )
    client._sleep = sleeper
    async with client:
        _, error = await collect(client.send_message("hello"))
    assert isinstance(error, ConnectError) and error.retryable
    assert_safe(error)
    assert len([e for e in trace if isinstance(e, RequestStarted)]) == MAX_ATTEMPTS
    assert len(sleeper.delays) == MAX_ATTEMPTS - 1
    assert finished(trace)[-1].outcome == "connect"


# ---------------------------------------------------------------------------------------------
# Timeouts (contract: every call has a timeout; stream idle; never retry a started stream)


async def test_hang_headers_times_out_and_send_is_not_repeated(server: DevServer) -> None:
    trace: list[TraceEvent] = []
    async with make_client(server, timeouts=Timeouts(read=0.3), observer=trace.append) as client:
        await client.authenticate()
        _, error = await collect(client.send_message("hello !hang_headers"))
    assert isinstance(error, RequestTimeout) and error.phase == "headers"
    assert_safe(error)
    assert server.stats.count("POST /messages") == 1
    assert finished(trace)[-1].timed_out and finished(trace)[-1].outcome == "timeout"


async def test_hang_headers_on_a_read_is_retried_when_the_policy_allows(server: DevServer) -> None:
    server.config.scenario = "hang_headers"
    policies = {
        **FAST,
        Operation.CONFIG: RetryPolicy(max_attempts=2, retry_timeouts=True).with_delays(
            0.001, 0.001
        ),
    }
    async with make_client(server, timeouts=Timeouts(read=0.2), policies=policies) as client:
        with pytest.raises(RequestTimeout):
            await client.get_config()
    assert server.stats.count("GET /config") == 2


async def test_hang_stream_times_out_in_stream_phase(server: DevServer) -> None:
    async with make_client(server, timeouts=Timeouts(stream_idle=0.3)) as client:
        events, error = await collect(client.send_message("hello !hang_stream"))
    assert isinstance(error, RequestTimeout) and error.phase == "stream"
    assert [type(e) for e in events] == [StatusEvent]
    assert server.stats.count("POST /messages") == 1


async def test_idle_timeout_is_per_line_and_not_the_header_wait(server: DevServer) -> None:
    # Gaps of 0.2 s: each longer than `read` (which only bounds the wait for headers), none as
    # long as stream_idle, and all together (11 gaps) longer than stream_idle.
    async with make_client(server, timeouts=Timeouts(read=0.1, stream_idle=0.5)) as client:
        await client.authenticate()
        events, error = await collect(client.send_message("hello !slow:200"))
    assert error is None and isinstance(events[-1], DoneEvent)


# ---------------------------------------------------------------------------------------------
# Streams (contract: event table, terminal events, transport failures, forward compatibility)


async def test_an_observer_can_leave_out_the_sse_events(server: DevServer) -> None:
    everything: list[TraceEvent] = []
    requests_only: list[TraceEvent] = []
    async with make_client(server) as client:
        client.add_observer(everything.append)
        client.add_observer(requests_only.append, sse=False)
        events, error = await collect(client.send_message("hello"))
    assert error is None
    assert sum(isinstance(e, SseEvent) for e in everything) == len(events)
    assert requests_only == [e for e in everything if not isinstance(e, SseEvent)]
    assert finished(requests_only)[-1].outcome == "ok"


async def test_an_sse_observer_hears_the_sse_events_only(server: DevServer) -> None:
    everything: list[TraceEvent] = []
    sse_only: list[SseEvent] = []
    async with make_client(server) as client:
        client.add_observer(everything.append)
        client.add_sse_observer(sse_only.append)
        events, error = await collect(client.send_message("hello"))
    assert error is None and len(sse_only) == len(events)
    assert sse_only == [e for e in everything if isinstance(e, SseEvent)]


async def test_ok_stream_yields_every_event_and_rotates_the_token(server: DevServer) -> None:
    seen: list[str] = []
    trace: list[TraceEvent] = []
    async with make_client(server, on_token=seen.append, observer=trace.append) as client:
        first = await client.authenticate()
        events, error = await collect(
            client.send_message("hello table", context_page="https://shop.example/p")
        )
        assert error is None
        done = events[-1]
        assert isinstance(done, DoneEvent) and done.visitor_token
        assert client.visitor_token == done.visitor_token != first
        sse = [e for e in trace if isinstance(e, SseEvent)]
        await collect(client.send_message("and again"))
    assert server.stats.tokens_used == [first, done.visitor_token]
    assert seen[:2] == [first, done.visitor_token] and seen[-1] == client.visitor_token
    kinds = {type(e) for e in events}
    assert {StatusEvent, PartDeltaEvent, PartEvent, DoneEvent} == kinds
    assert done.message.role == "assistant" and isinstance(done.message.parts[0], RichTextPart)
    assert len(sse) == len(events) and sse[-1].name == "done"
    response = next(e for e in trace if isinstance(e, ResponseReceived) and e.op is Operation.SEND)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-request-id"].startswith("req_")
    last = finished(trace)[1]
    assert (last.op, last.outcome, last.status, last.path) == (
        Operation.SEND,
        "ok",
        200,
        "/api/v1/chat/messages",
    )


async def test_a_slow_token_save_blocks_nothing_and_keeps_the_order(server: DevServer) -> None:
    # A keyring write can take long (Secret Service over D-Bus); it runs in a thread, each
    # save starts only once the one before it has finished, and closing the client waits.
    saved: list[str] = []
    log: list[str] = []
    release = threading.Event()

    def slow_save(token: str) -> None:
        number = len([entry for entry in log if entry.startswith("start")]) + 1
        log.append(f"start {number}")
        if number == 1:
            assert release.wait(10)
        saved.append(token)
        log.append(f"end {number}")

    async with make_client(server, on_token=slow_save) as client:
        first = await client.authenticate()
        events, error = await collect(client.send_message("hello"))
        rotated = client.visitor_token
        assert error is None and isinstance(events[-1], DoneEvent) and rotated != first
        assert saved == []  # a whole reply streamed while the first save was stuck
        assert not await client.wait_token_saved(timeout=0.05)
        release.set()
        assert await client.wait_token_saved(timeout=10)
    assert saved == [first, rotated]
    assert log == ["start 1", "end 1", "start 2", "end 2"]


async def test_done_without_token_keeps_the_current_one(server: DevServer) -> None:
    seen: list[str] = []
    async with make_client(server, on_token=seen.append) as client:
        token = await client.authenticate()
        events, _ = await collect(client.send_message("hello !no_rotation"))
    assert isinstance(events[-1], DoneEvent) and events[-1].visitor_token is None
    assert client.visitor_token == token and seen == [token]


STREAM_ERROR_CASES = [
    ("stream_error_retryable", "generation_failed", True),
    ("stream_error_fatal", "generation_failed", False),
    ("stream_error_no_flag", "generation_failed", False),
    ("stream_error_unknown_code", "content_filtered", False),
]


@pytest.mark.parametrize(("scenario", "code", "retryable"), STREAM_ERROR_CASES)
async def test_stream_error_event(
    server: DevServer, scenario: str, code: str, retryable: bool
) -> None:
    async with make_client(server) as client:
        events, error = await collect(client.send_message(f"hello !{scenario}"))
    assert isinstance(error, StreamError) and error.code == code and error.retryable is retryable
    assert isinstance(events[-1], StreamErrorEvent) and events[-1].retryable is retryable
    assert any(isinstance(e, PartDeltaEvent) for e in events)  # the partial reply is there to keep
    assert error.server_message == "Failed to generate a response. Please try again."
    assert_safe(error)
    assert server.stats.count("POST /messages") == 1


@pytest.mark.parametrize("scenario", ["drop", "no_terminal"])
async def test_stream_without_terminal_event_is_interrupted(
    server: DevServer, scenario: str
) -> None:
    trace: list[TraceEvent] = []
    async with make_client(server, observer=trace.append) as client:
        events, error = await collect(client.send_message(f"hello !{scenario}"))
    assert isinstance(error, StreamInterrupted) and error.retryable
    assert_safe(error)
    assert events and not any(isinstance(e, (DoneEvent, StreamErrorEvent)) for e in events)
    assert server.stats.count("POST /messages") == 1  # a started stream is never repeated
    assert finished(trace)[-1].outcome == "interrupted"


async def test_wrong_content_type_is_a_protocol_error(server: DevServer) -> None:
    async with make_client(server) as client:
        events, error = await collect(client.send_message("hello !no_content_type"))
    assert isinstance(error, ProtocolError) and not error.retryable and events == []
    assert server.stats.count("POST /messages") == 1


async def test_malformed_event_is_yielded_and_the_stream_still_ends_in_done(
    server: DevServer,
) -> None:
    async with make_client(server) as client:
        events, error = await collect(client.send_message("hello !malformed_json"))
    assert error is None and isinstance(events[-1], DoneEvent)
    malformed = [e for e in events if isinstance(e, MalformedEvent)]
    assert len(malformed) == 1 and malformed[0].name == "part_delta"
    assert_safe_reason = malformed[0].reason
    assert assert_safe_reason


async def test_unknown_events_are_yielded_and_skipped(server: DevServer) -> None:
    async with make_client(server) as client:
        events, error = await collect(client.send_message("hello !unknown_events"))
    assert error is None and isinstance(events[-1], DoneEvent)
    assert {e.name for e in events if isinstance(e, UnknownEvent)} == {"typing", "usage", "message"}
    assert "thinking" in {e.status for e in events if isinstance(e, StatusEvent)}
    parts = events[-1].message.parts
    assert any(isinstance(p, UnknownPart) and p.type == "carousel" for p in parts)


@pytest.mark.parametrize(
    "scenario", ["escapes", "line_separators", "crlf", "huge_event:64", "whole_parts"]
)
async def test_content_arrives_intact(server: DevServer, scenario: str) -> None:
    async with make_client(server) as client:
        events, error = await collect(client.send_message(f"hello !{scenario}"))
    assert error is None and isinstance(events[-1], DoneEvent)
    text = plain_text(events[-1].message.parts)
    if scenario == "escapes":
        assert (
            "\x1b[31mred\x1b[0m" in text and "\x1b]52;c;aGFjaw==\x07" in text and "\u009b" in text
        )
    elif scenario == "line_separators":
        assert "[\u2028]" in text and "[\u2029]" in text and "[\u0085]" in text
    elif scenario.startswith("huge_event"):
        assert len(text) == 64 * 1024
    elif scenario == "whole_parts":
        assert not any(isinstance(e, PartDeltaEvent) for e in events)
        assert len(events[-1].message.parts) == sum(isinstance(e, PartEvent) for e in events) + 1


async def test_long_stream(server: DevServer) -> None:
    async with make_client(server) as client:
        events, error = await collect(client.send_message("hello !long:2000"))
    assert error is None and isinstance(events[-1], DoneEvent)
    assert (
        sum(isinstance(e, PartDeltaEvent) and e.delta.action == "append_text" for e in events)
        == 2000
    )


# ---------------------------------------------------------------------------------------------
# Stopping early (the UI's Esc): the response is closed, the call is recorded as cancelled


async def test_stopping_early_closes_the_stream(server: DevServer) -> None:
    trace: list[TraceEvent] = []
    async with make_client(server, observer=trace.append) as client:
        stream = client.send_message("hello !slow:2000")
        first = await anext(stream)
        assert isinstance(first, StatusEvent)
        await stream.aclose()  # type: ignore[attr-defined]
        assert finished(trace)[-1].outcome == "cancelled"
        # The client is still usable after an abandoned stream.
        events, error = await collect(client.send_message("hello"))
    assert error is None and isinstance(events[-1], DoneEvent)


async def test_cancelling_the_reader_task_closes_the_stream(server: DevServer) -> None:
    trace: list[TraceEvent] = []
    started = asyncio.Event()

    async def read(client: DialogClient) -> None:
        async for _ in client.send_message("hello !hang_stream"):
            started.set()

    async with make_client(server, observer=trace.append) as client:
        task = asyncio.create_task(read(client))
        await asyncio.wait_for(started.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert finished(trace)[-1].outcome == "cancelled"


# ---------------------------------------------------------------------------------------------
# History, actions, rating, export (contract: endpoint table)


async def test_history_follows_cursors_and_returns_oldest_first(server: DevServer) -> None:
    server.config.history_messages = 7
    async with make_client(server) as client:
        history = await client.get_history(page_size=3)
    assert server.stats.count("GET /messages") == 3
    assert [m.role for m in history] == ["user", "assistant"] * 3 + ["user"]
    assert plain_text(history[0].parts) == "Earlier question #1"
    assert [m.created_at for m in history] == sorted(m.created_at for m in history)


async def test_history_max_messages_keeps_the_newest(server: DevServer) -> None:
    server.config.history_messages = 7
    async with make_client(server) as client:
        everything = await client.get_history(page_size=100)
        newest = await client.get_history(page_size=3, max_messages=4)
    assert newest == everything[-4:]
    assert server.stats.count("GET /messages") == 1 + 2


async def test_history_includes_the_turn_just_sent(server: DevServer) -> None:
    async with make_client(server) as client:
        events, _ = await collect(client.send_message("what is new?"))
        history = await client.get_history()
    assert isinstance(events[-1], DoneEvent)
    assert plain_text(history[-2].parts) == "what is new?"
    assert history[-1].message_id == events[-1].message.message_id


async def test_actions_submit_conflict_and_validation(server: DevServer) -> None:
    async with make_client(server) as client:
        first, _ = await collect(client.send_message("please show the contact form"))
        second, _ = await collect(client.send_message("the contact form again"))
        stale = _marker(first[-1])
        newest = _marker(second[-1])
        with pytest.raises(ApiHttpError) as conflict:
            await client.submit_action(
                stale.part_id, {"type": "contact_form", "fields": {"name": "A", "email": "a@b.dk"}}
            )
        with pytest.raises(ApiHttpError) as invalid:
            await client.submit_action(
                newest.part_id, {"type": "contact_form", "fields": {"name": "A", "email": "nope"}}
            )
        result = await client.submit_action(
            newest.part_id,
            {"type": "contact_form", "fields": {"name": "A", "email": "a@b.dk", "topic": "Sales"}},
        )
    assert (
        conflict.value.status == 409
        and conflict.value.code == "conflict"
        and not conflict.value.retryable
    )
    assert invalid.value.status == 422 and [p.field for p in invalid.value.params] == ["email"]
    assert_safe(conflict.value)
    assert_safe(invalid.value)
    assert isinstance(result, ActionResult) and result.submission_id and result.confirmation_text
    assert server.stats.count("POST /actions") == 3


def _marker(done: StreamEvent) -> ContactFormPart:
    assert isinstance(done, DoneEvent)
    return next(p for p in done.message.parts if isinstance(p, ContactFormPart))


async def test_rate_and_export(server: DevServer) -> None:
    async with make_client(server) as client:
        await collect(client.send_message("hello"))
        await client.rate(5, "   ")
        await client.rate(4, "Helpful")
        with pytest.raises(ApiHttpError) as invalid:
            await client.rate(9)
        exported = await client.export()
    assert invalid.value.status == 422 and [p.field for p in invalid.value.params] == ["rating"]
    assert [(r["rating"], r["feedback"]) for r in exported["conversations"][0]["ratings"]] == [
        (5, None),
        (4, "Helpful"),
    ]
    assert len(exported["conversations"][0]["messages"]) == 2


# ---------------------------------------------------------------------------------------------
# Transport security (contract: never send secrets over plain HTTP)


@pytest.mark.parametrize(
    "url", ["http://example.com", "http://10.0.0.1:8080", "http://localhost.example.com"]
)
def test_plain_http_to_a_remote_host_is_refused(url: str) -> None:
    with pytest.raises(InsecureTransportError):
        DialogClient(url, "bot", api_key="k")


@pytest.mark.parametrize(
    "url",
    [
        "https://api.dialogintelligens.dk",
        "http://127.0.0.1:8765",
        "http://127.5.6.7",
        "http://localhost:1",
        "http://[::1]:9",
    ],
)
async def test_https_and_loopback_are_accepted(url: str) -> None:
    async with DialogClient(url, "bot", api_key="k") as client:
        assert client.base_url == url


@pytest.mark.parametrize("url", ["ftp://example.com", "example.com", "https://"])
def test_malformed_base_url_is_rejected(url: str) -> None:
    with pytest.raises(ValueError):
        DialogClient(url, "bot", api_key="k")


# ---------------------------------------------------------------------------------------------
# Logging (contract: log the checklist's fields, never keys, tokens, Authorization, content)

FAKE_KEY = "sk-live-FAKEKEY-0123456789abcdef"
SECRET_TEXT = "my very private question 4711"


async def test_logs_have_the_fields_and_no_secrets(server: DevServer, tmp_path: Path) -> None:
    server.config.api_key = FAKE_KEY
    server.config.retry_after = 0
    log_file = tmp_path / "client.log"
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    handler.setLevel(logging.DEBUG)
    loggers = [logging.getLogger(name) for name in ("dialogtui", "httpx", "httpcore")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    tokens: list[str] = []
    try:
        async with make_client(server, api_key=FAKE_KEY, on_token=tokens.append) as client:
            for scenario in (
                "ok",
                "expired_token",
                "rate_limited_once",
                "html_error",
                "drop",
                "stream_error_fatal",
            ):
                await collect(client.send_message(f"{SECRET_TEXT} !{scenario}"))
            await client.get_history()
            await client.rate(5, SECRET_TEXT)
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)
        handler.close()
    text = log_file.read_text(encoding="utf-8")
    assert len(tokens) >= 3
    forbidden = [FAKE_KEY, base64.b64encode(f"{FAKE_KEY}:".encode()).decode(), SECRET_TEXT, *tokens]
    for secret in forbidden:
        assert secret not in text
    assert "authorization" not in text.lower() and "bearer" not in text.lower()
    records = [line for line in text.splitlines() if line.split(" ")[1:2] == ["dialogtui.api"]]
    sends = [line for line in records if "POST /api/v1/chat/messages" in line]
    assert len(sends) == 6  # one record per logical request, retries and re-auth included
    ok = sends[0]
    for fragment in (
        "status=200",
        "outcome=ok",
        f"chatbot_id={DEMO_CHATBOT_ID}",
        "request_id=req_",
        "retries=0",
        "latency_ms=",
        "timeout=false",
        "env=127.0.0.1:",
    ):
        assert fragment in ok
    assert "retries=1" in sends[1] and "retries=1" in sends[2]
    assert "status=502" in sends[3] and "outcome=http" in sends[3]
    assert "outcome=interrupted" in sends[4] and "outcome=stream" in sends[5]


def test_redact_scrubs_credentials() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ2aXNpdG9yIn0.c2lnbmF0dXJlLWJ5dGVz"
    samples = {
        f"Authorization: Bearer {jwt}": jwt,
        "headers={'authorization': 'Basic ZGVtby1rZXk6'}": "ZGVtby1rZXk6",
        f"token={jwt}&next=1": jwt,
        'api_key="sk-123456"': "sk-123456",
        f"stored {jwt} in keyring": jwt,
        "Bearer abc.def-ghi": "abc.def-ghi",
        '{"visitor_token": "opaque-token-value"}': "opaque-token-value",
    }
    for text, secret in samples.items():
        cleaned = redact(text)
        assert secret not in cleaned and "[REDACTED]" in cleaned
        assert redact(cleaned) == cleaned
    assert (
        redact("POST /api/v1/chat/messages status=200") == "POST /api/v1/chat/messages status=200"
    )


def test_redacting_filter_covers_args_and_tracebacks() -> None:
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "sent %s", ("Bearer secret-token-1",), None
    )
    try:
        raise RuntimeError("Authorization: Basic c2VjcmV0Og==")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    assert RedactingFilter().filter(record)
    formatted = logging.Formatter().format(record)
    assert "secret-token-1" not in formatted and "c2VjcmV0Og==" not in formatted


# ---------------------------------------------------------------------------------------------
# Defensive parsing of what the dev server cannot be made to send


@pytest.mark.parametrize(
    ("body", "code", "params", "message"),
    [
        (b"[1, 2]", None, [], None),
        (b'"just a string"', None, [], None),
        (b'{"error": null}', None, [], None),
        (b'{"error": {"code": 5, "message": ["x"], "params": "field"}}', None, [], None),
        (
            b'{"error": {"code": "<script>alert(1)</script>", "params": [1, {"field": 3, '
            b'"message": "m"}]}}',
            None,
            [("", "m")],
            None,
        ),
        (
            b'{"error": {"code": "validation", "message": "' + b"x" * 2000 + b'"}}',
            "validation",
            [],
            "x" * 500,
        ),
        (b"\xff\xfe not utf-8", None, [], None),
    ],
)
def test_parse_api_error_is_defensive(
    body: bytes, code: str | None, params: list[tuple[str, str]], message: str | None
) -> None:
    error = parse_api_error(
        400, {"CF-Ray": "abc123", "Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, body
    )
    assert error.code == code and error.server_message == message
    assert [(p.field, p.message) for p in error.params] == params
    assert error.request_id == "abc123" and error.retry_after == 0.0
    assert_safe(error)


def test_request_id_header_preference() -> None:
    headers = {"cf-ray": "ray", "x-correlation-id": "corr", "request-id": "rid"}
    assert parse_api_error(500, headers, b"").request_id == "rid"
    assert REQUEST_ID_HEADERS[0] == "x-request-id"


def _done_stream(token: str) -> httpx.MockTransport:
    body = (
        'event: done\ndata: {"message": {"message_id": "m", "parts": []}, "visitor_token": '
        + json.dumps(token)
        + "}\n\n"
    ).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    return httpx.MockTransport(handler)


async def test_a_rotated_token_unfit_for_a_header_is_not_adopted() -> None:
    async with DialogClient(
        "http://127.0.0.1", "bot", visitor_token="t0", transport=_done_stream("a b\r\nX-Evil: 1")
    ) as client:
        events, error = await collect(client.send_message("hi"))
    assert error is None and isinstance(events[-1], DoneEvent)
    assert client.visitor_token == "t0"


def test_an_unusable_visitor_token_is_refused_up_front() -> None:
    with pytest.raises(MissingCredentialsError):
        DialogClient("http://127.0.0.1", "bot", visitor_token="tøken with spaces")
    assert DialogClient("http://127.0.0.1", "bot", visitor_token="  tok  ").visitor_token == "tok"


async def test_failing_callbacks_never_break_a_conversation() -> None:
    def explode(_: object) -> None:
        raise RuntimeError("observer bug")

    transport = _done_stream("t1")
    async with DialogClient(
        "http://127.0.0.1",
        "bot",
        visitor_token="t0",
        transport=transport,
        observer=explode,
        on_token=explode,
    ) as client:
        events, error = await collect(client.send_message("hi"))
    assert error is None and isinstance(events[-1], DoneEvent) and client.visitor_token == "t1"


async def test_a_reset_during_a_stream_wins_over_its_rotation(server: DevServer) -> None:
    async with make_client(server) as client:
        await client.authenticate()
        stream = client.send_message("hello")
        assert isinstance(await anext(stream), StatusEvent)
        fresh = await client.reset_conversation()
        events, error = await collect(stream)
    assert error is None and isinstance(events[-1], DoneEvent) and events[-1].visitor_token
    assert client.visitor_token == fresh
