"""The dev server's Starlette app: the chat API of the contract under /api/v1/chat/, in memory.

Deliberately independent of the client package (no dialogtui.api imports): wire JSON is built
as plain dicts, so this server can also test other clients and cannot share the client's bugs.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import content
from .local import DEMO_API_KEY, DEMO_CHATBOT_ID
from .scenarios import (
    SCENARIOS,
    Choice,
    Control,
    Done,
    HttpFailure,
    StreamPlan,
    TurnMemory,
    api_error,
    http_failure,
    internal_error,
    magic_word,
    parse_scenario,
    rate_limited,
    sse,
    stream_plan,
    validation_error,
)

API_PREFIX = "/api/v1/chat"
REQUEST_ID_HEADER = "X-Request-Id"

# Memory bounds: a `dialogtui serve` left running for days must not grow without limit.
MAX_CONVERSATIONS = 1000
MAX_MESSAGES_PER_CONVERSATION = 10_000
MAX_TOKENS_PER_CONVERSATION = 100
MAX_RECORDS_PER_CONVERSATION = 100  # ratings, submissions
MAX_TOGGLES = 10_000
MAX_STATS_LOG = 10_000
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
DEFAULT_PAGE, MAX_PAGE = 20, 100
TOKEN_LIFETIME_SECONDS = 10 * 365 * 24 * 3600


@dataclass
class DevServerConfig:
    scenario: str = "ok"  # server-wide default scenario; "NAME:N" is split into it and scenario_arg
    api_key: str = field(default=DEMO_API_KEY, repr=False)  # secrets stay out of reprs
    chatbot_id: str = DEMO_CHATBOT_ID
    delta_delay: float = 0.0  # seconds between streamed events in normal scenarios
    history_messages: int = 0  # pre-seeded messages in every new conversation
    seed_forms: bool = False  # a new conversation opens with the vendor's three sample forms
    retry_after: int = 1  # seconds sent in Retry-After for rate_limited
    scenario_arg: int | None = None  # the N of a numbered scenario (long, fail_one_in, ...)

    def __post_init__(self) -> None:
        if ":" in self.scenario:
            choice = parse_scenario(self.scenario)  # ValueError: callers validate first
            self.scenario, self.scenario_arg = choice.name, choice.arg


@dataclass
class ServerStats:
    """What the server saw, for tests. Written by the server thread, read by tests: so, the lock."""

    # To prove the client sent Bearer; never display it (so, not in the repr either).
    last_authorization: str | None = field(default=None, repr=False)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (route, scenario), in order
    tokens_used: list[str] = field(default_factory=list, repr=False)  # each Bearer request's token
    context_pages: list[str | None] = field(default_factory=list)  # context.page of each send
    client_profiles: list[str | None] = field(default_factory=list)  # its client-profile header
    actions: list[dict[str, Any]] = field(default_factory=list)  # accepted /actions bodies
    file_requests_with_authorization: int = 0  # /cdn downloads that carried an Authorization header
    attachments: list[dict[str, Any]] = field(default_factory=list)  # image/file parts received
    file_request_headers: list[list[str]] = field(default_factory=list)  # names, each /cdn GET
    _routes: Counter[str] = field(default_factory=Counter, repr=False)
    _scenarios: Counter[str] = field(default_factory=Counter, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record(
        self, route: str, scenario: str, authorization: str | None, token: str | None
    ) -> None:
        with self._lock:
            self._routes[route] += 1
            self._scenarios[scenario] += 1
            self.requests.append((route, scenario))
            if authorization is not None:
                self.last_authorization = authorization
            if token is not None:
                self.tokens_used.append(token)
            # Trim in batches so long-running servers stay bounded without O(n) work per request.
            for log in (self.requests, self.tokens_used):
                if len(log) > 2 * MAX_STATS_LOG:
                    del log[:-MAX_STATS_LOG]

    def note_send(self, page: Any, client_profile: str | None) -> None:
        with self._lock:
            self.context_pages.append(page if isinstance(page, str) else None)
            self.client_profiles.append(client_profile)
            for log in (self.context_pages, self.client_profiles):
                if len(log) > 2 * MAX_STATS_LOG:
                    del log[:-MAX_STATS_LOG]

    def note_action(self, body: dict[str, Any]) -> None:
        with self._lock:
            self.actions.append(body)
            del self.actions[:-MAX_STATS_LOG]

    def note_attachments(self, summaries: list[dict[str, Any]]) -> None:
        with self._lock:
            self.attachments.extend(summaries)
            del self.attachments[:-MAX_STATS_LOG]

    def record_file_download(self, authorization: str | None, header_names: list[str]) -> None:
        with self._lock:
            self._routes["GET /cdn"] += 1
            if authorization is not None:
                self.file_requests_with_authorization += 1
            self.file_request_headers.append(header_names)
            del self.file_request_headers[:-MAX_STATS_LOG]

    def count(self, route: str) -> int:
        with self._lock:
            return self._routes[route]

    def scenario_count(self, scenario: str) -> int:
        with self._lock:
            return self._scenarios[scenario]

    def reset(self) -> None:
        with self._lock:
            self._routes.clear()
            self._scenarios.clear()
            self.requests.clear()
            self.tokens_used.clear()
            self.context_pages.clear()
            self.client_profiles.clear()
            self.actions.clear()
            self.attachments.clear()
            self.last_authorization = None
            self.file_requests_with_authorization = 0
            self.file_request_headers.clear()


class DeliberateDrop(Exception):
    """Raised inside a stream to cut the connection; server.py keeps it out of the error log."""


# ---------------------------------------------------------------------------------------------
# State


@dataclass
class TokenInfo:
    conversation_id: str
    immune: bool = False  # exempt from expired_token (a replacement token, or rotated from one)


@dataclass
class Conversation:
    id: str
    visitor_id: str
    created_at: str
    messages: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    dropped: int = 0  # messages trimmed from the front; cursors use absolute indexes
    tokens: list[str] = field(default_factory=list, repr=False)
    markers: dict[str, dict[str, Any]] = field(default_factory=dict)  # part_id -> marker part
    # The markers /actions accepts: those of the newest assistant message (the vendor's rule:
    # only the latest actionable parts). Each answers once.
    actionable: set[str] = field(default_factory=set)
    ratings: list[dict[str, Any]] = field(default_factory=list)
    submissions: list[dict[str, Any]] = field(default_factory=list)

    def note_markers(self, message: dict[str, Any]) -> None:
        """Remember the markers of an assistant message just added: they, and only they, are
        actionable now (a newer assistant message, markers or not, makes older ones stale)."""
        if message.get("role") != "assistant":
            return
        markers = [p for p in message["parts"] if p.get("type") in content.MARKER_TYPES]
        self.actionable = {part["part_id"] for part in markers}
        for part in markers:
            self.markers[part["part_id"]] = part

    def append(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        excess = len(self.messages) - MAX_MESSAGES_PER_CONVERSATION
        if excess > 0:
            del self.messages[:excess]
            self.dropped += excess


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_token(visitor_id: str) -> str:
    """An opaque random string shaped like an HS256 JWT with a far-future `exp` (not a secret)."""
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {
        "iss": "dialogtui-devserver",
        "sub": visitor_id,
        "iat": now,
        "exp": now + TOKEN_LIFETIME_SECONDS,
        "jti": secrets.token_hex(8),
    }
    segments = [_compact_json(header), _compact_json(claims), secrets.token_bytes(32)]
    return ".".join(_b64url(s) for s in segments)


def _compact_json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


class DevServerState:
    """Conversations, tokens and scenario memory. Only touched from the server's event loop,
    except `config` (tests assign fields between requests) and `stats` (locked)."""

    def __init__(self, config: DevServerConfig) -> None:
        self.config = config
        self.stats = ServerStats()
        self.conversations: dict[str, Conversation] = {}
        self.tokens: dict[str, TokenInfo] = {}
        self.toggles: dict[tuple[str, str], bool] = {}  # flaky / rate_limited_once memory
        self.turn_memory = TurnMemory()  # per_visitor_limit / fail_one_in memory
        self.pending_replacements = 0  # tokens killed by expired_token awaiting a replacement
        self.shutting_down = False
        self._released = asyncio.Event()
        self._ticks = 0

    # conversations and tokens

    def new_conversation(self) -> Conversation:
        while len(self.conversations) >= MAX_CONVERSATIONS:
            self.drop_conversation(next(iter(self.conversations)))
        conversation = Conversation(
            content.new_id("conv"), content.new_id("visitor"), content.iso_utc()
        )
        seeded = content.seed_history(
            min(self.config.history_messages, MAX_MESSAGES_PER_CONVERSATION)
        )
        conversation.messages.extend(seeded)
        if self.config.seed_forms:
            conversation.messages.append(content.forms_message())
        for message in conversation.messages:
            conversation.note_markers(message)
        self.conversations[conversation.id] = conversation
        return conversation

    def drop_conversation(self, conversation_id: str) -> None:
        conversation = self.conversations.pop(conversation_id, None)
        for token in conversation.tokens if conversation else []:
            self.tokens.pop(token, None)

    def mint_token(self, conversation: Conversation, immune: bool = False) -> str:
        token = make_token(conversation.visitor_id)
        self.tokens[token] = TokenInfo(conversation.id, immune)
        conversation.tokens.append(token)
        if len(conversation.tokens) > MAX_TOKENS_PER_CONVERSATION:
            self.tokens.pop(conversation.tokens.pop(0), None)
        return token

    def lookup(self, token: str | None) -> Conversation | None:
        info = self.tokens.get(token) if token else None
        return self.conversations.get(info.conversation_id) if info else None

    def take_replacement(self) -> bool:
        """Whether a token minted now replaces one that expired_token killed (and so is immune)."""
        if self.pending_replacements > 0:
            self.pending_replacements -= 1
            return True
        return False

    # scenario memory

    def should_fail(self, scenario: str, key: str) -> bool:
        """Alternates fail, pass, ... per (scenario, key): the first try fails, its retry passes."""
        if len(self.toggles) > MAX_TOGGLES:
            self.toggles.clear()
        fail = not self.toggles.get((scenario, key), False)
        self.toggles[(scenario, key)] = fail
        return fail

    def expire(self, token: str) -> bool:
        """expired_token: kill the token on its first use unless it is a replacement."""
        info = self.tokens.get(token)
        if info is None or info.immune:
            return False
        del self.tokens[token]
        self.pending_replacements += 1
        return True

    def reset_scenario_memory(self) -> None:
        self.toggles.clear()
        self.turn_memory.clear()
        self.pending_replacements = 0

    # shutdown: hung and slow handlers wait on this so stopping the server ends them promptly

    def rearm(self) -> None:
        """Undo release_all, for a server started again after a stop."""
        self.shutting_down = False
        self._released = asyncio.Event()

    def release_all(self) -> None:
        """Call from the server's event loop when it begins shutting down."""
        self.shutting_down = True
        self._released.set()

    async def wait_released(self) -> None:
        await self._released.wait()

    async def pause(self, seconds: float) -> None:
        if self.shutting_down:
            raise DeliberateDrop("server stopping")
        if seconds <= 0:
            # Full-speed streams still let other connections (and shutdown) run now and then.
            self._ticks += 1
            if self._ticks % 64 == 0:
                await asyncio.sleep(0)
            return
        try:
            await asyncio.wait_for(self._released.wait(), seconds)
        except TimeoutError:
            return
        raise DeliberateDrop("server stopping")

    def record(self, request: Request, route: str, scenario: str, token: str | None = None) -> None:
        self.stats.record(route, scenario, request.headers.get("authorization"), token)


def get_state(request: Request) -> DevServerState:
    state: DevServerState = request.app.state.devserver
    return state


def app_state(app: Starlette) -> DevServerState:
    state: DevServerState = app.state.devserver
    return state


# ---------------------------------------------------------------------------------------------
# Small HTTP helpers


def failure_response(failure: HttpFailure) -> Response:
    return Response(
        failure.body, failure.status, headers=failure.headers, media_type=failure.media_type
    )


def unauthorized(message: str) -> Response:
    return failure_response(api_error(401, "unauthorized", message))


async def read_json_object(request: Request) -> dict[str, Any] | HttpFailure:
    try:
        data = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return api_error(400, "bad_request", "Request body is not valid JSON.")
    if not isinstance(data, dict):
        return api_error(400, "bad_request", "Request body must be a JSON object.")
    return data


def bearer_token(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def basic_ok(request: Request, api_key: str) -> bool:
    """HTTP Basic with username = API key and an empty password."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    username, colon, password = decoded.partition(":")
    return (
        bool(colon)
        and password == ""
        and secrets.compare_digest(username.encode(), api_key.encode())
    )


class HangResponse(Response):
    """Never sends headers: waits for the server to stop (then a 503) or the client to leave."""

    def __init__(self, state: DevServerState) -> None:
        super().__init__(status_code=503)
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        released = asyncio.ensure_future(self.state.wait_released())
        gone = asyncio.ensure_future(_wait_disconnect(receive))
        try:
            finished, _ = await asyncio.wait({released, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            released.cancel()
            gone.cancel()
        if gone not in finished:
            stopping = api_error(503, "unavailable", "The server is shutting down.")
            await failure_response(stopping)(scope, receive, send)


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class RequestIdMiddleware:
    """Adds X-Request-Id to every response (pure ASGI, so streams pass through untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = f"req_{secrets.token_hex(8)}".encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER.lower().encode(), request_id),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


# ---------------------------------------------------------------------------------------------
# Scenario gate for Bearer routes


def scenario_gate(state: DevServerState, choice: Choice, token: str, key: str) -> Response | None:
    """The response an HTTP scenario forces instead of the normal one, or None to carry on.
    `key` scopes flaky/rate_limited_once memory (a conversation id, or "server")."""
    name = choice.name
    failure = http_failure(name, state.config.retry_after)
    if failure is not None:
        return failure_response(failure)
    if name == "flaky" and state.should_fail(name, key):
        return failure_response(internal_error())
    if name == "rate_limited_once" and state.should_fail(name, key):
        return failure_response(rate_limited(state.config.retry_after))
    if name == "expired_token" and state.expire(token):
        return unauthorized("The visitor token has expired.")
    if name == "hang_headers":
        return HangResponse(state)
    return None


BearerHandler = Callable[[Request, DevServerState, Conversation], Awaitable[Response]]


def bearer_route(route: str) -> Callable[[BearerHandler], Callable[[Request], Awaitable[Response]]]:
    """Bearer auth plus the server-wide scenario, for every Bearer route except POST /messages
    (which picks its scenario from the message text, so it has to read the body first)."""

    def wrap(handler: BearerHandler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            state = get_state(request)
            token = bearer_token(request)
            state.record(request, route, state.config.scenario, token)
            conversation = state.lookup(token)
            if token is None or conversation is None:
                return unauthorized("Missing or invalid visitor token.")
            forced = scenario_gate(state, Choice(state.config.scenario), token, key="server")
            return forced or await handler(request, state, conversation)

        return endpoint

    return wrap


# ---------------------------------------------------------------------------------------------
# /auth


async def post_auth(request: Request) -> Response:
    state = get_state(request)
    state.record(request, "POST /auth", "ok")
    if not basic_ok(request, state.config.api_key):
        return unauthorized("Invalid API key.")
    body = await read_json_object(request)
    if isinstance(body, HttpFailure):
        return failure_response(body)
    chatbot_id = body.get("chatbot_id")
    if not isinstance(chatbot_id, str) or not chatbot_id:
        return failure_response(validation_error("chatbot_id", "chatbot_id is required"))
    if chatbot_id != state.config.chatbot_id:
        return failure_response(api_error(404, "not_found", "Unknown chatbot."))
    conversation = state.new_conversation()
    return JSONResponse({"token": state.mint_token(conversation, immune=state.take_replacement())})


async def post_auth_reset(request: Request) -> Response:
    state = get_state(request)
    state.record(request, "POST /auth/reset", "ok")
    if not basic_ok(request, state.config.api_key):
        return unauthorized("Invalid API key.")
    body = await read_json_object(request)
    if isinstance(body, HttpFailure):
        return failure_response(body)
    old_token = body.get("visitor_token")
    if not isinstance(old_token, str) or not old_token:
        return failure_response(validation_error("visitor_token", "visitor_token is required"))
    # An unknown or dead token still gets a fresh conversation: that is what reset is for.
    old = state.tokens.get(old_token)
    immune = old.immune if old else state.take_replacement()
    if old:
        state.drop_conversation(old.conversation_id)
    conversation = state.new_conversation()
    return JSONResponse({"token": state.mint_token(conversation, immune=immune)})


# ---------------------------------------------------------------------------------------------
# /config, GET /messages, /actions, /rate, /export


@bearer_route("GET /config")
async def get_config(
    request: Request, state: DevServerState, conversation: Conversation
) -> Response:
    from .livechat import amend_config

    branding = content.branding(str(request.base_url).rstrip("/"))
    return JSONResponse(amend_config(request.app, branding))


def _encode_cursor(index: int) -> str:
    return _b64url(f"before:{index}".encode())


def _decode_cursor(cursor: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    prefix, _, number = text.partition(":")
    return int(number) if prefix == "before" and number.isdigit() else None


@bearer_route("GET /messages")
async def get_messages(
    request: Request, state: DevServerState, conversation: Conversation
) -> Response:
    raw_limit = request.query_params.get("limit", str(DEFAULT_PAGE))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_PAGE:
        return failure_response(
            validation_error("limit", f"limit must be a whole number from 1 to {MAX_PAGE}")
        )
    limit = int(raw_limit)
    total = conversation.dropped + len(conversation.messages)  # absolute index just past the newest
    end = total
    if "cursor" in request.query_params:
        decoded = _decode_cursor(request.query_params["cursor"])
        if decoded is None or decoded > total:
            return failure_response(validation_error("cursor", "Invalid cursor"))
        end = decoded
    start = max(conversation.dropped, end - limit)
    page = conversation.messages[start - conversation.dropped : max(0, end - conversation.dropped)]
    next_cursor = _encode_cursor(start) if start > conversation.dropped else None
    return JSONResponse({"messages": page[::-1], "next_cursor": next_cursor})


EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ACTION_FOR_MARKER = {
    "show_contact_form": "contact_form",
    "show_form": "form_submission",
    "show_support_ticket": "support_ticket",
}


def _field_problem(spec: dict[str, Any], value: Any) -> str | None:
    label = spec.get("label") or spec["key"]
    if value is not None and not isinstance(value, str):
        return f"{label} must be text"
    value = (value or "").strip()
    if not value:
        return (
            f"{label} is required" if spec.get("required") and spec.get("type") != "file" else None
        )
    if spec.get("type") == "email" and not EMAIL.match(value):
        return "Enter a valid e-mail address"
    options = spec.get("options")
    if spec.get("type") == "dropdown" and options and value not in options:
        return f"Choose one of: {', '.join(options)}"
    return None


def _visible(spec: dict[str, Any], values: dict[str, Any]) -> bool:
    """`visible_when`: every condition holds (only `equals` exists); a hidden field is not
    validated (and a client does not send it)."""
    conditions = spec.get("visible_when") or []
    return all(
        isinstance(c, dict) and values.get(str(c.get("field"))) == c.get("value")
        for c in conditions
    )


def action_problems(marker: dict[str, Any], action: dict[str, Any]) -> list[dict[str, str]]:
    """Field errors of an action against the marker it answers (params of a 422)."""
    values: Any
    specs: list[dict[str, Any]] = marker.get("fields") or []
    if action["type"] == "support_ticket":
        values = action
        specs = specs or content.SUPPORT_TICKET_FIELDS
    else:
        container = "fields" if action["type"] == "contact_form" else "values"
        values = action.get(container)
        if not isinstance(values, dict):
            return [{"field": container, "message": f"{container} must be an object"}]
        if action["type"] == "form_submission" and action.get("form_id") != marker.get("form_id"):
            return [{"field": "form_id", "message": "form_id does not match the form"}]
    problems: list[dict[str, str]] = []
    for spec in specs:
        if _visible(spec, values):
            problem = _field_problem(spec, values.get(spec["key"]))
            if problem:
                problems.append({"field": spec["key"], "message": problem})
    minimum = marker.get("min_filled_fields") or 0
    filled = sum(1 for v in values.values() if isinstance(v, str) and v.strip())
    if action["type"] == "form_submission" and filled < minimum:
        problems.append({"field": "values", "message": f"Fill at least {minimum} fields"})
    return problems


CONFIRMATIONS = {
    "contact_form": "Thanks, we'll be in touch.",
    "support_ticket": "Your ticket has been created.",
}


@bearer_route("POST /actions")
async def post_actions(
    request: Request, state: DevServerState, conversation: Conversation
) -> Response:
    body = await read_json_object(request)
    if isinstance(body, HttpFailure):
        return failure_response(body)
    part_id, action = body.get("part_id"), body.get("action")
    if not isinstance(part_id, str) or not part_id:
        return failure_response(validation_error("part_id", "part_id is required"))
    if not isinstance(action, dict) or not isinstance(action.get("type"), str):
        return failure_response(validation_error("action.type", "action.type is required"))
    marker = conversation.markers.get(part_id)
    if marker is None:
        return failure_response(api_error(404, "not_found", "Unknown part_id."))
    if part_id not in conversation.actionable:
        return failure_response(api_error(409, "conflict", "This form is no longer active."))
    expected = ACTION_FOR_MARKER.get(marker["type"])
    if action["type"] != expected:
        return failure_response(
            validation_error("action.type", f"This part expects a {expected} action")
        )
    problems = action_problems(marker, action)
    if problems:
        return failure_response(api_error(422, "validation", "Validation failed", problems))
    from .attachments_banners import action_attachment_problem

    refused = action_attachment_problem(action)
    if refused is not None:
        return failure_response(refused)
    # A marker answers once; a repeated submit is a duplicate and gets 409 like a stale one.
    conversation.actionable.discard(part_id)
    state.stats.note_action({"part_id": part_id, "action": action})
    submission_id = content.new_id("sub")
    conversation.submissions.append(
        {"submission_id": submission_id, "part_id": part_id, "action": action}
    )
    del conversation.submissions[:-MAX_RECORDS_PER_CONVERSATION]
    confirmation = marker.get("confirmation_text") or CONFIRMATIONS.get(
        action["type"], "Thanks, we'll be in touch."
    )
    return JSONResponse({"submission_id": submission_id, "confirmation_text": confirmation})


@bearer_route("POST /rate")
async def post_rate(
    request: Request, state: DevServerState, conversation: Conversation
) -> Response:
    body = await read_json_object(request)
    if isinstance(body, HttpFailure):
        return failure_response(body)
    rating, feedback = body.get("rating"), body.get("feedback")
    if (
        type(rating) is not int or not 1 <= rating <= 5
    ):  # bool is an int subclass: excluded on purpose
        return failure_response(
            validation_error("rating", "Rating must be a whole number from 1 to 5")
        )
    if feedback is not None and not isinstance(feedback, str):
        return failure_response(validation_error("feedback", "Feedback must be text"))
    conversation.ratings.append(
        {"rating": rating, "feedback": feedback, "created_at": content.iso_utc()}
    )
    del conversation.ratings[:-MAX_RECORDS_PER_CONVERSATION]
    return Response(status_code=200)


@bearer_route("GET /export")
async def get_export(
    request: Request, state: DevServerState, conversation: Conversation
) -> Response:
    """The visitor's data in the vendor's export shape (its SDK's stand-in). The shape of one
    entry of `conversations` is not published; ours holds the id, the start and the messages."""
    from .livechat import livechat_sessions

    return JSONResponse(
        {
            "generated_at": content.iso_utc(),
            "chatbot_id": state.config.chatbot_id,
            "visitor_id": conversation.visitor_id,
            "session": {"values": []},
            "conversations": [
                {
                    "conversation_id": conversation.id,
                    "created_at": conversation.created_at,
                    "messages": conversation.messages,
                    "ratings": conversation.ratings,
                }
            ],
            "livechat_sessions": livechat_sessions(request.app, conversation.id),
            "attachments": [],
            "support_tickets": [
                s for s in conversation.submissions if s["action"].get("type") == "support_ticket"
            ],
            "webhook_events": [],
        }
    )


# ---------------------------------------------------------------------------------------------
# POST /messages


def _attachment_problem(part: Any) -> tuple[str, str] | None:
    if not isinstance(part, dict) or part.get("type") not in ("image", "file"):
        return "type", "Only text, image and file parts are supported"
    if not isinstance(part.get("mime"), str) or not part["mime"]:
        return "mime", "mime is required"
    try:
        data = base64.b64decode(part.get("data") or "", validate=True)
    except (binascii.Error, TypeError, ValueError):
        return "data", "data must be base64"
    if not data:
        return "data", "data is required"
    if len(data) > MAX_ATTACHMENT_BYTES:
        return "data", "File is too large (max 5 MiB)"
    return None


def parse_message(body: dict[str, Any]) -> str | HttpFailure:
    """The user's text, or the 422 the request deserves."""
    message = body.get("message")
    parts = message.get("parts") if isinstance(message, dict) else None
    first = parts[0] if isinstance(parts, list) and parts else None
    text = first.get("text") if isinstance(first, dict) and first.get("type") == "text" else None
    if not isinstance(text, str) or not text.strip():
        return validation_error("message.parts.0.text", "Text is required")
    assert isinstance(parts, list)
    for index, part in enumerate(parts[1:], start=1):
        problem = _attachment_problem(part)
        if problem:
            return validation_error(f"message.parts.{index}.{problem[0]}", problem[1])
    if body.get("context") is not None and not isinstance(body["context"], dict):
        return validation_error("context", "context must be an object")
    return text


async def post_messages(request: Request) -> Response:
    state = get_state(request)
    route = "POST /messages"
    token = bearer_token(request)
    conversation = state.lookup(token)
    if token is None or conversation is None:
        state.record(request, route, state.config.scenario, token)
        return unauthorized("Missing or invalid visitor token.")
    body = await read_json_object(request)
    text = parse_message(body) if isinstance(body, dict) else body
    if isinstance(text, HttpFailure):
        state.record(request, route, state.config.scenario, token)
        return failure_response(text)
    choice = magic_word(text) or Choice(state.config.scenario, state.config.scenario_arg)
    state.record(request, route, choice.name, token)
    forced = scenario_gate(state, choice, token, key=conversation.id)
    if forced is not None:
        return forced
    from .livechat import bot_send_refused  # an agent has the conversation: 409

    refused = bot_send_refused(request.app, conversation.id)
    if refused is not None:
        return failure_response(refused)
    played = state.turn_memory.before_turn(choice, conversation.id, state.config.retry_after)
    if isinstance(played, HttpFailure):
        return failure_response(played)
    choice = played
    from . import attachments_banners as uploads  # (it imports this module)

    assert isinstance(body, dict)  # parse_message accepted it
    received = uploads.check_attachments(state, choice.name, body["message"]["parts"][1:])
    if isinstance(received, HttpFailure):
        return failure_response(received)
    plan = stream_plan(choice, text, str(request.base_url).rstrip("/"), state.config.delta_delay)
    if received and plan.frames and isinstance(plan.frames[-1], Done):
        # The reply says what arrived, just before `done`.
        ack = uploads.acknowledgement(received)
        plan.frames.insert(len(plan.frames) - 1, ("part", {"part": ack}))
    user = content.user_message(text)
    for part in body["message"]["parts"][1:]:
        if part["type"] == "image":  # history serves a visitor's photo back as a data: URL
            user["parts"].append(
                content.visitor_image_part(part["mime"], part["data"], part.get("filename"))
            )
        else:
            user["parts"].append(uploads.visitor_file_part(part))
    context = body.get("context")
    state.stats.note_send(
        context.get("page") if isinstance(context, dict) else None,
        request.headers.get("x-diverge-client-profile"),
    )
    turn = Turn(state, conversation, token, user, plan)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(
        stream_body(state, plan, turn.commit), headers=headers, media_type=plan.media_type
    )


@dataclass
class Turn:
    """One user turn in flight; committed to the history only when `done` is sent."""

    state: DevServerState
    conversation: Conversation
    token: str = field(repr=False)
    user: dict[str, Any]
    plan: StreamPlan

    def commit(self, done: Done) -> dict[str, Any]:
        streamed = [
            frame[1]["part"]
            for frame in self.plan.frames
            if isinstance(frame, tuple) and frame[0] == "part"
        ]
        assistant = content.assistant_message([*streamed, *done.extra_parts])
        self.conversation.append(self.user)
        self.conversation.append(assistant)
        self.conversation.note_markers(assistant)
        data: dict[str, Any] = {"message": assistant}
        if done.rotate:
            # The old token keeps working; stats.tokens_used shows whether the client moved on.
            info = self.state.tokens.get(self.token)
            data["visitor_token"] = self.state.mint_token(
                self.conversation, immune=bool(info and info.immune)
            )
        return data


async def stream_body(
    state: DevServerState, plan: StreamPlan, commit: Callable[[Done], dict[str, Any]]
) -> AsyncIterator[bytes]:
    for index, frame in enumerate(plan.frames):
        if index:
            await state.pause(plan.gap_before(index))
        if frame is Control.DROP:
            raise DeliberateDrop("drop scenario")
        if frame is Control.HANG:
            await state.wait_released()
            raise DeliberateDrop("server stopping")
        if isinstance(frame, Done):
            yield sse("done", commit(frame), plan.line_ending)
        elif isinstance(frame, bytes):
            yield frame
        else:
            yield sse(frame[0], frame[1], plan.line_ending)


# ---------------------------------------------------------------------------------------------
# Files (pre-signed URL stand-ins) and the index page


async def get_cdn_file(request: Request) -> Response:
    """Serves the demo image/file parts. Not an API route: a client must not send its token here."""
    state = get_state(request)
    state.stats.record_file_download(
        request.headers.get("authorization"), sorted(request.headers.keys())
    )
    found = content.CDN_FILES.get(request.path_params["name"])
    expires = request.query_params.get("expires", "")
    if found is None:
        return Response("Not found", 404, media_type="text/plain")
    if not expires.isdigit() or int(expires) < time.time():
        return Response("Request has expired", 403, media_type="text/plain")
    body, media_type = found
    return Response(body, media_type=media_type)


async def get_index(request: Request) -> Response:
    state = get_state(request)
    return JSONResponse(
        {
            "service": "dialogtui dev server",
            "api_base": API_PREFIX,
            "chatbot_id": state.config.chatbot_id,
            "scenario": state.config.scenario,
            "scenarios": SCENARIOS,
        }
    )


# ---------------------------------------------------------------------------------------------
# Errors Starlette raises itself (unknown path, wrong method) still use the envelope.

STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
}


async def http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = STATUS_CODES.get(
        exc.status_code, "internal" if exc.status_code >= 500 else "bad_request"
    )
    return failure_response(
        api_error(exc.status_code, code, str(exc.detail), headers=dict(exc.headers or {}))
    )


async def unexpected_exception(request: Request, exc: Exception) -> Response:
    return failure_response(internal_error())


def create_app(config: DevServerConfig | None = None) -> Starlette:
    """The ASGI app. Its state (conversations, stats) lives at `app.state.devserver`, the
    live-chat desk at `app.state.livechat`."""
    from . import livechat  # it imports this module's helpers

    api_routes = [
        Route("/auth", post_auth, methods=["POST"]),
        Route("/auth/reset", post_auth_reset, methods=["POST"]),
        Route("/config", get_config, methods=["GET"]),
        Route("/messages", post_messages, methods=["POST"]),
        Route("/messages", get_messages, methods=["GET"]),
        Route("/actions", post_actions, methods=["POST"]),
        Route("/rate", post_rate, methods=["POST"]),
        Route("/export", get_export, methods=["GET"]),
        *livechat.routes(),
    ]
    from .attachments_banners import ROUTES as ATTACHMENT_AND_BANNER_ROUTES

    api_routes.extend(ATTACHMENT_AND_BANNER_ROUTES)
    app = Starlette(
        routes=[
            Route("/", get_index, methods=["GET"]),
            Route("/cdn/{name}", get_cdn_file, methods=["GET"]),
            Mount(API_PREFIX, routes=api_routes),
        ],
        middleware=[Middleware(RequestIdMiddleware)],
        exception_handlers={HTTPException: http_exception, Exception: unexpected_exception},
    )
    app.state.devserver = DevServerState(config or DevServerConfig())
    livechat.install(app)
    return app
