"""Scenarios: the ways the dev server can answer, good and bad.

A scenario is chosen per message by a magic word in the user text (`hello !rate_limited`,
`!long:250`), else by the server-wide `DevServerConfig.scenario` (`NAME` or `NAME:N`, see
`parse_scenario`). This module says *what* to answer (an HttpFailure, or a StreamPlan of
frames); app.py does the HTTP and the state. The one exception is `TurnMemory`: the counts the
load-testing scenarios (per_visitor_limit, fail_one_in) keep between turns.
"""

from __future__ import annotations

import json
import math
import random
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from . import content
from .content import Event

SCENARIOS: dict[str, str] = {
    "ok": "normal streamed reply (mention table/form/contact/quick/image/broken/file: extra parts)",
    # HTTP errors before any stream; also applied to every Bearer route when set server-wide.
    "unauthorized": "401 unauthorized on Bearer routes (/auth still works)",
    "forbidden": "403 forbidden",
    "not_found": "404 not_found",
    "conflict": "409 conflict",
    "bad_request": "400 bad_request",
    "validation": "422 validation with params",
    "rate_limited": "429 rate_limited with Retry-After",
    "internal": "500 internal",
    "unavailable": "503 unavailable",
    "flaky": (
        "500 internal, then ok on retry (alternating: per conversation for messages, "
        "else per server)"
    ),
    "rate_limited_once": "429 with Retry-After, then ok on the retry (alternates like flaky)",
    "expired_token": "401 on a token's first use, which kills it; the replacement from /auth works",
    "html_error": "502 with a proxy's HTML page",
    "empty_body": "500 with an empty body",
    "string_error": '404 with {"error": "not_found"} (a string, not an object)',
    "unknown_code": "418 with an unknown error code",
    "hang_headers": "accept the request, never send headers (until the server stops)",
    # Streams (POST /messages only).
    "stream_error_retryable": "some deltas, then an error event with retryable: true",
    "stream_error_fatal": "some deltas, then an error event with retryable: false",
    "stream_error_no_flag": "some deltas, then an error event without `retryable`",
    "stream_error_unknown_code": "some deltas, then an error event with code content_filtered",
    "drop": "some deltas, then the connection is cut (truncated chunked body)",
    "no_terminal": "all deltas, then a clean end of the body without done or error",
    "malformed_json": "one event with broken JSON mid-stream, then the rest and done",
    "unknown_events": (
        "unknown events, delta actions, part/block/span types, comments, id:/retry: fields"
    ),
    "slow": "a short reply with 1 s between events (!slow:<ms> to choose the gap)",
    "hang_stream": "headers and one status event, then silence (until the server stops)",
    "stall": "a paragraph's first words, then silence mid-reply (until the server stops)",
    "long": "5,000 append_text deltas of 20 chars = 100 KB (!long:<deltas> for another size)",
    "escapes": "reply text full of terminal escapes (CSI, OSC 52, OSC 8, C0/C1 controls, bidi)",
    "split_joiners": (
        "reply text whose ZWJ emoji sequences and CR LF line ends are split across deltas"
    ),
    "line_separators": (
        "raw U+2028/U+2029/U+0085 inside a data line (legal SSE; breaks splitlines readers)"
    ),
    "form": "ok reply ending with a show_contact_form marker",
    "huge_event": "one ~1 MB data line (!huge_event:<KB> for another size)",
    "no_content_type": "200 with the SSE body but Content-Type: text/plain",
    "no_rotation": "ok reply whose done carries no visitor_token",
    "whole_parts": "parts arrive only whole (no deltas); done adds an attachment never streamed",
    "crlf": "ok reply framed with CRLF line endings",
    # Attachments and banners (devserver/attachments_banners.py).
    "upload_too_large": (
        "413 payload_too_large for a send that carries an attachment (a server whose limit "
        "is tighter than the client's)"
    ),
    "no_banners": "GET /banners answers 404 (a server older than banners)",
    # For load tests (`dialogtui test --visitors N`); N in NAME:N also works with --scenario.
    "slow_first_text": (
        "ok reply that waits 3 s after the status events before its first part "
        "(slow_first_text:<ms> for another wait)"
    ),
    "jitter": (
        "ok reply with a random 0-200 ms gap before each event, the same for the same text "
        "(jitter:<ms> for another most)"
    ),
    "per_visitor_limit": (
        "a visitor's 4th turn in a minute gets 429 rate_limited with Retry-After; after that "
        "wait, 3 more (per_visitor_limit:<turns>)"
    ),
    "fail_one_in": (
        "every 3rd turn of each conversation streams some deltas, then a retryable error "
        "(fail_one_in:<n>)"
    ),
}

DEFAULT_LONG_DELTAS, MAX_LONG_DELTAS = 5000, 200_000
DEFAULT_SLOW_MS, MAX_SLOW_MS = 1000, 60_000
DEFAULT_HUGE_KB, MAX_HUGE_KB = 1024, 16 * 1024
DEFAULT_FIRST_TEXT_MS, MAX_FIRST_TEXT_MS = 3000, 600_000
DEFAULT_JITTER_MS, MAX_JITTER_MS = 200, 60_000
DEFAULT_VISITOR_TURNS, MAX_VISITOR_TURNS = 3, 1_000_000
DEFAULT_FAIL_ONE_IN, MAX_FAIL_ONE_IN = 3, 1_000_000
VISITOR_LIMIT_WINDOW = 60.0  # seconds in which per_visitor_limit counts a visitor's turns

# Scenarios taking a number (`!NAME:N`, `--scenario NAME:N`): (default, least, most).
# A magic word's number is clamped to these; a server-wide one out of range is refused.
NUMBERED: dict[str, tuple[int, int, int]] = {
    "long": (DEFAULT_LONG_DELTAS, 1, MAX_LONG_DELTAS),
    "slow": (DEFAULT_SLOW_MS, 0, MAX_SLOW_MS),
    "huge_event": (DEFAULT_HUGE_KB, 1, MAX_HUGE_KB),
    "slow_first_text": (DEFAULT_FIRST_TEXT_MS, 0, MAX_FIRST_TEXT_MS),
    "jitter": (DEFAULT_JITTER_MS, 0, MAX_JITTER_MS),
    "per_visitor_limit": (DEFAULT_VISITOR_TURNS, 1, MAX_VISITOR_TURNS),
    "fail_one_in": (DEFAULT_FAIL_ONE_IN, 1, MAX_FAIL_ONE_IN),
}
STREAM_ERROR_AFTER = (
    8  # events streamed before a failure, so the client has a partial reply to keep
)


# ---------------------------------------------------------------------------------------------
# Magic words

_MAGIC = re.compile(r"(?<![\w!])!([a-z_]+)(?::(\d+))?\b")


@dataclass(frozen=True)
class Choice:
    name: str
    arg: int | None = None


def magic_word(text: str) -> Choice | None:
    """The first `!scenario` or `!scenario:<int>` in the text that names a known scenario."""
    for match in _MAGIC.finditer(text):
        if match.group(1) in SCENARIOS:
            arg = match.group(2)
            return Choice(match.group(1), int(arg) if arg is not None else None)
    return None


def parse_scenario(spec: str) -> Choice:
    """A server-wide scenario: `NAME` or `NAME:N` (N only for the numbered ones, in range).
    Raises ValueError with a message fit to show as it is."""
    name, colon, number = spec.partition(":")
    if name not in SCENARIOS:
        raise ValueError(f"Unknown scenario {name!r}. See `dialogtui serve --list`.")
    if not colon:
        return Choice(name)
    if name not in NUMBERED:
        numbered = ", ".join(sorted(NUMBERED))
        raise ValueError(f"Scenario {name!r} takes no :N (these do: {numbered}).")
    _, least, most = NUMBERED[name]
    if not number.isascii() or not number.isdigit() or not least <= int(number) <= most:
        raise ValueError(
            f"Scenario {name}:N needs a whole number from {least} to {most}, not {number!r}."
        )
    return Choice(name, int(number))


# ---------------------------------------------------------------------------------------------
# HTTP failures (before any stream)


@dataclass(frozen=True)
class HttpFailure:
    status: int
    body: bytes
    media_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def api_error(
    status: int,
    code: str,
    message: str,
    params: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> HttpFailure:
    """The contract's ApiError envelope."""
    error: dict[str, Any] = {"code": code, "message": message}
    if params is not None:
        error["params"] = params
    return HttpFailure(status, json.dumps({"error": error}).encode(), headers=headers or {})


def validation_error(field_name: str, message: str) -> HttpFailure:
    return api_error(
        422, "validation", "Validation failed", [{"field": field_name, "message": message}]
    )


PROXY_502_PAGE = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n"
    b"<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


def http_failure(name: str, retry_after: int) -> HttpFailure | None:
    """The fixed failure of a stateless HTTP scenario, or None if `name` is not one."""
    match name:
        case "unauthorized":
            return api_error(
                401, "unauthorized", "Missing, expired, or invalid authentication credentials."
            )
        case "forbidden":
            return api_error(403, "forbidden", "You are not allowed to access this resource.")
        case "not_found":
            return api_error(
                404, "not_found", "The requested resource does not exist or is unavailable."
            )
        case "conflict":
            return api_error(409, "conflict", "The request conflicts with the current state.")
        case "bad_request":
            return api_error(400, "bad_request", "The request could not be understood.")
        case "validation":
            return validation_error("message.parts.0.text", "Text is required")
        case "rate_limited":
            return rate_limited(retry_after)
        case "internal":
            return internal_error()
        case "unavailable":
            return api_error(503, "unavailable", "The service is temporarily unavailable.")
        case "html_error":
            return HttpFailure(502, PROXY_502_PAGE, "text/html")
        case "empty_body":
            return HttpFailure(500, b"", None)
        case "string_error":
            return HttpFailure(404, b'{"error":"not_found"}')
        case "unknown_code":
            return api_error(418, "teapot_mode", "The server is a teapot today.")
    return None


def rate_limited(retry_after: int) -> HttpFailure:
    return api_error(
        429,
        "rate_limited",
        "Too many requests. Please slow down.",
        headers={"Retry-After": str(retry_after)},
    )


def internal_error() -> HttpFailure:
    return api_error(500, "internal", "An unexpected error occurred.")


# ---------------------------------------------------------------------------------------------
# Stream plans (after a 200)


class Control(Enum):
    HANG = "hang"  # stop sending until the server shuts down, then cut the connection
    DROP = "drop"  # cut the connection now (no terminating chunk)


@dataclass(frozen=True)
class Done:
    """Where the stream commits the turn and sends `done` (built by app.py: it owns the history)."""

    rotate: bool = True
    extra_parts: tuple[dict[str, Any], ...] = ()


Frame = Event | bytes | Done | Control


@dataclass
class StreamPlan:
    frames: list[Frame]
    delay: float  # seconds between frames
    media_type: str = "text/event-stream"
    line_ending: str = "\n"
    gaps: dict[int, float] = field(default_factory=dict)  # frame index -> its own pause before

    def gap_before(self, index: int) -> float:
        return self.gaps.get(index, self.delay)


def sse(name: str, data: Any, line_ending: str = "\n") -> bytes:
    # ensure_ascii=False sends UTF-8 like real servers do; JSON still escapes C0 controls.
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"event: {name}{line_ending}data: {payload}{line_ending}{line_ending}".encode()


CONNECTED: Event = ("status", {"status": "connected"})
PROCESSING: Event = ("status", {"status": "processing"})


def stream_error(code: str, retryable: bool | None) -> Event:
    data: dict[str, Any] = {
        "code": code,
        "message": "Failed to generate a response. Please try again.",
    }
    if retryable is not None:
        data["retryable"] = retryable
    return ("error", data)


STREAM_ERRORS: dict[str, tuple[str, bool | None]] = {
    "stream_error_retryable": ("generation_failed", True),
    "stream_error_fatal": ("generation_failed", False),
    "stream_error_no_flag": ("generation_failed", None),
    "stream_error_unknown_code": ("content_filtered", False),
}

MALFORMED_EVENT = (
    b'event: part_delta\ndata: {"part_id": "part_broken", "delta": {"action": '
    b'"append_text", "te\n\n'
)


def _normal(events: list[Event], delay: float, done: Done | None = None) -> StreamPlan:
    return StreamPlan([CONNECTED, PROCESSING, *events, done or Done()], delay)


def _unknown_events_plan(user_text: str, delay: float) -> StreamPlan:
    events = content.unknown_things_reply(user_text).events
    # SSE-level oddities: a comment, an unnamed event, an unknown event, id:/retry: fields,
    # and a status value from the future. Spread out so they land between real deltas.
    oddities: list[Frame] = [
        b": keep-alive\n\n",
        ("typing", {"who": "assistant"}),
        b'id: 42\nretry: 3000\nevent: status\ndata: {"status":"thinking","message":"Hmm..."}\n\n',
        b'data: {"hello": "an event with no event: field is a \\"message\\" event"}\n\n',
        ("usage", {"tokens": 123}),
    ]
    frames: list[Frame] = [b": keep-alive\n\n", CONNECTED, PROCESSING]
    step = max(1, len(events) // len(oddities))
    for i, event in enumerate(events, start=1):
        frames.append(event)
        if i % step == 0 and oddities:
            frames.append(oddities.pop(0))
    frames.extend([*oddities, Done()])
    return StreamPlan(frames, delay)


def _arg(choice: Choice, default: int, maximum: int) -> int:
    # Clamped: a typo like !long:99999999 must not eat the machine's memory.
    return min(choice.arg if choice.arg is not None else default, maximum)


def numbered_arg(choice: Choice) -> int:
    """The N of a numbered scenario: its own, clamped into range, else the default."""
    default, least, most = NUMBERED[choice.name]
    return max(least, _arg(choice, default, most))


def first_text_index(frames: list[Frame]) -> int:
    """The frame that starts the reply (its first part or part delta, after the status events):
    what a client times as the first text. Else the last frame."""
    for index, frame in enumerate(frames):
        if isinstance(frame, tuple) and frame[0] in ("part", "part_delta"):
            return index
    return len(frames) - 1


def jitter_gaps(frame_count: int, most_ms: int, seed: str) -> dict[int, float]:
    """A random 0..most_ms gap before every frame but the first, seeded by `seed`: the same
    text gets the same gaps, so a test of it is repeatable."""
    rng = random.Random(zlib.crc32(seed.encode()))
    return {index: rng.uniform(0, most_ms) / 1000 for index in range(1, frame_count)}


def stream_plan(choice: Choice, user_text: str, base_url: str, delta_delay: float) -> StreamPlan:
    """What POST /messages streams for a scenario (HTTP scenarios never get here)."""
    name = choice.name
    if name in STREAM_ERRORS:
        events = content.ok_reply(user_text, base_url).events[:STREAM_ERROR_AFTER]
        return StreamPlan(
            [CONNECTED, PROCESSING, *events, stream_error(*STREAM_ERRORS[name])], delta_delay
        )
    match name:
        case "drop":
            events = content.ok_reply(user_text, base_url).events[:STREAM_ERROR_AFTER]
            return StreamPlan([CONNECTED, PROCESSING, *events, Control.DROP], delta_delay)
        case "no_terminal":
            return StreamPlan(
                [CONNECTED, PROCESSING, *content.ok_reply(user_text, base_url).events], delta_delay
            )
        case "malformed_json":
            frames: list[Frame] = list(content.ok_reply(user_text, base_url).events)
            frames.insert(len(frames) // 2, MALFORMED_EVENT)
            return StreamPlan([CONNECTED, PROCESSING, *frames, Done()], delta_delay)
        case "unknown_events":
            return _unknown_events_plan(user_text, delta_delay)
        case "slow":
            return _normal(
                content.short_reply(user_text).events,
                _arg(choice, DEFAULT_SLOW_MS, MAX_SLOW_MS) / 1000,
            )
        case "hang_stream":
            return StreamPlan([CONNECTED, Control.HANG], delta_delay)
        case "stall":
            # The short reply up to its first text delta: part, block, words; no `end_block`.
            first_words = content.short_reply(user_text).events[:3]
            return StreamPlan([CONNECTED, PROCESSING, *first_words, Control.HANG], delta_delay)
        case "long":
            return _normal(
                content.long_reply(_arg(choice, DEFAULT_LONG_DELTAS, MAX_LONG_DELTAS)).events,
                delta_delay,
            )
        case "escapes":
            return _normal(content.escapes_reply().events, delta_delay)
        case "split_joiners":
            return _normal(content.split_joiners_reply().events, delta_delay)
        case "line_separators":
            return _normal(content.line_separators_reply().events, delta_delay)
        case "form":
            return _normal(
                content.ok_reply(user_text, base_url, force_form=True).events, delta_delay
            )
        case "huge_event":
            kilobytes = _arg(choice, DEFAULT_HUGE_KB, MAX_HUGE_KB)
            return _normal(content.huge_reply(kilobytes * 1024).events, delta_delay)
        case "no_content_type":
            plan = _normal(content.ok_reply(user_text, base_url).events, delta_delay)
            plan.media_type = "text/plain"
            return plan
        case "no_rotation":
            return _normal(
                content.ok_reply(user_text, base_url).events, delta_delay, Done(rotate=False)
            )
        case "whole_parts":
            attachment = content.file_part(base_url)
            return _normal(
                content.whole_parts_reply(user_text).events,
                delta_delay,
                Done(extra_parts=(attachment,)),
            )
        case "crlf":
            plan = _normal(content.ok_reply(user_text, base_url).events, delta_delay)
            plan.line_ending = "\r\n"
            return plan
        case "slow_first_text":
            plan = _normal(content.ok_reply(user_text, base_url).events, delta_delay)
            plan.gaps[first_text_index(plan.frames)] = numbered_arg(choice) / 1000
            return plan
        case "jitter":
            plan = _normal(content.ok_reply(user_text, base_url).events, delta_delay)
            plan.gaps = jitter_gaps(len(plan.frames), numbered_arg(choice), user_text)
            return plan
    # ok, and the stateful HTTP scenarios on the request where they let the request through.
    return _normal(content.ok_reply(user_text, base_url).events, delta_delay)


# ---------------------------------------------------------------------------------------------
# Memory between turns: per_visitor_limit and fail_one_in

MAX_REMEMBERED = 10_000  # visitors or conversations; then forgotten, so the server stays bounded


@dataclass
class _VisitorWindow:
    started: float  # when the window's first turn came
    turns: int = 0
    refused_until: float | None = None  # set by the first refusal: the end of its Retry-After


class TurnMemory:
    """What the counting scenarios remember, per conversation (one visitor's, as each /auth and
    /auth/reset starts a conversation of a new visitor, and its rotated tokens stay with it).

    per_visitor_limit:N: a visitor may start N turns in VISITOR_LIMIT_WINDOW seconds; the next
    gets 429 rate_limited with Retry-After; once that wait is over, N more. Refusing by count
    (not by how fast the turns came) makes the refused turn the same on a slow or a fast machine.

    fail_one_in:N: a conversation's Nth, 2Nth, ... turn under the scenario fails with a retryable
    stream error; the others are normal replies. Counted per conversation, so which turn fails
    does not depend on how concurrent visitors interleave.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._windows: dict[str, _VisitorWindow] = {}
        self._turns: dict[str, int] = {}

    def before_turn(
        self, choice: Choice, conversation_id: str, retry_after: int
    ) -> Choice | HttpFailure:
        """The 429 that refuses this turn, or the scenario that plays it."""
        if choice.name == "per_visitor_limit":
            return self._limit(conversation_id, numbered_arg(choice), retry_after) or Choice("ok")
        if choice.name == "fail_one_in":
            turns = self._turns[conversation_id] = self._turns.get(conversation_id, 0) + 1
            _forget_oldest(self._turns)
            failing = turns % numbered_arg(choice) == 0
            return Choice("stream_error_retryable" if failing else "ok")
        return choice

    def _limit(self, visitor: str, allowed: int, retry_after: int) -> HttpFailure | None:
        now = self._clock()
        window = self._windows.get(visitor)
        if (
            window is None
            or now - window.started >= VISITOR_LIMIT_WINDOW
            or (window.refused_until is not None and now >= window.refused_until)
        ):
            window = self._windows[visitor] = _VisitorWindow(now)
            _forget_oldest(self._windows)
        if window.turns < allowed:
            window.turns += 1
            return None
        if window.refused_until is None:
            window.refused_until = now + max(retry_after, 1)
        return rate_limited(max(1, math.ceil(window.refused_until - now)))

    def clear(self) -> None:
        self._windows.clear()
        self._turns.clear()


def _forget_oldest(memory: dict[str, Any]) -> None:
    while len(memory) > MAX_REMEMBERED:
        del memory[next(iter(memory))]
