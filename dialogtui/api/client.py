"""The Dialog Intelligens chat API client: authentication, retries, streaming, errors.

Application code sees only `dialogtui.api` types: every httpx exception is translated into the
`DialogError` hierarchy at this module's boundary, and every error carries a safe message.

Decisions worth knowing:

* Retries follow `RetryPolicy` per `Operation`. A send is repeated automatically only while no
  byte of its stream has arrived (a non-2xx answer or a failed connect); once a stream has
  started, a failure surfaces and the person decides.
* A 401 on a Bearer route, with an API key at hand, re-authenticates once and repeats the request
  once. Without a key the 401 surfaces (the visitor token came from elsewhere).
* The stream idle timeout counts lines, comments included, so keep-alives keep a quiet stream
  alive; time the caller spends between two events does not count against the server.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import ssl
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import aclosing, suppress
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, Literal, TypeVar, cast
from urllib.parse import quote

import httpx
import msgspec

from .. import __version__, timing
from .errors import (
    ApiHttpError,
    ConnectError,
    DialogError,
    InsecureTransportError,
    KeyRejectedError,
    MissingCredentialsError,
    ProtocolError,
    RequestTimeout,
    StreamError,
    StreamInterrupted,
    TransportError,
)
from .models import (
    ActionResult,
    Config,
    DoneEvent,
    FieldError,
    HANDOVER_SOURCES,
    HandoverResult,
    LivechatState,
    Message,
    StreamErrorEvent,
    StreamEvent,
    UnknownPart,
    decode_event,
    to_config,
    to_livechat_state,
    to_message,
)
from .page_models import (
    Banner,
    FormDefinition,
    SessionState,
    decode_banners,
    decode_form_definition,
    decode_session_state,
)
from .retry import DEFAULT_POLICIES, Operation, RetryPolicy, parse_retry_after
from .sse import SSEEventTooLong, SSEGuard, event_source
from .timeouts import Timeouts as Timeouts  # its old home: callers still import it from here
from .urls import is_loopback
from .trace import (
    REQUEST_ID_HEADERS,
    LogObserver,
    RequestFinished,
    RequestStarted,
    ResponseReceived,
    RetryScheduled,
    SseEvent,
    TraceEvent,
    logger,
    request_id_of,
)

API_PREFIX: Final = "/api/v1/chat"
MAX_ERROR_BODY: Final = 64 * 1024
"""An error body beyond this is not read: the envelope is small, a proxy's page is not needed."""
MAX_JSON_BODY: Final = 64 * 1024 * 1024
TOKEN_SAVE_WAIT: Final = 5.0  # seconds `aclose` waits for the last token to be saved
DRAIN_AFTER_DONE: Final = 0.25
"""Seconds to wait for the end of the body after `done` before closing the connection."""
MAX_HISTORY_PAGES: Final = 10_000
"""A server that hands out fresh cursors forever must not keep `get_history` busy forever."""
_MAX_CODE_LENGTH: Final = 64
_MAX_SERVER_MESSAGE: Final = 500
_USER_AGENT: Final = f"dialogtui/{__version__}"
LIVECHAT_PLATFORM: Final = "mobile_app"
"""The `platform` of a handover: the value the vendor's SDK stand-in records (the only one on
record; a terminal client has no better-known value)."""

CLIENT_PROFILE_HEADER: Final = "X-Diverge-Client-Profile"
"""The vendor SDK's header naming the features a client asks for (e.g. `product-recommendation`);
the backend registers assistant tools for the profiles it grants."""
_REJECTED_KEYS: set[str] = set()
"""Fingerprints (never the keys) of API keys `/auth` refused in this process: a rejected key
is not sent again, so `run` does not ask `/auth` once per turn."""

AuthScheme = Literal["basic", "bearer"]
T = TypeVar("T")
Observer = Callable[[TraceEvent], None]


@dataclass(slots=True)
class _Call:
    """Bookkeeping of one logical request across its attempts, for the trace and the log."""

    op: Operation
    method: str
    path: str
    auth: AuthScheme
    started: float = field(default_factory=timing.now)
    attempts: int = 0
    retries: int = 0
    status: int | None = None
    request_id: str | None = None
    timed_out: bool = False
    token_used: str | None = field(default=None, repr=False)  # a secret: never in a repr

    def elapsed(self) -> float:
        return timing.now() - self.started


# ---------------------------------------------------------------------------------------------
# The client


class DialogClient:
    """One conversation's connection to the API. Use as an async context manager, or `aclose()`."""

    def __init__(
        self,
        base_url: str,
        chatbot_id: str,
        *,
        api_key: str | None = None,
        visitor_token: str | None = None,
        timeouts: Timeouts = Timeouts(),
        policies: Mapping[Operation, RetryPolicy] = DEFAULT_POLICIES,
        on_token: Callable[[str], None] | None = None,
        observer: Observer | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        context_page: str | None = None,
        client_profile: str | None = None,
        on_reauthenticated: Callable[[], None] | None = None,
    ) -> None:
        url, loopback = _check_base_url(base_url)
        self.context_page = context_page or None
        """Sent as `context.page` with every message unless a send names its own: the page the
        visitor is on, which start prompts and banners match against."""
        self.client_profile = client_profile or None
        """Sent as `X-Diverge-Client-Profile` on authenticated calls: the backend grants
        assistant tools (such as product search) by it."""
        self._on_reauthenticated = on_reauthenticated
        self.history_cursor: str | None = None
        """After `get_history(max_messages=…)`: the cursor of older messages it left out."""
        self.reauthentications = 0
        """How often a 401 made this client mint a new visitor token (and so start a new
        server conversation): the caller must tell the person, and move its local record."""
        self.base_url = str(url).rstrip("/")
        self.chatbot_id = chatbot_id
        self._api_key = api_key or None
        self._key_rejected: ApiHttpError | None = None
        """The server's 401/403 to this key on /auth: never sent again by this client."""
        self._token = _clean_token(visitor_token) if visitor_token else None
        self._timeouts = timeouts
        self._policies = policies
        self._on_token = on_token
        self._token_saved: asyncio.Task[None] | None = None
        self._observers: list[Observer] = [
            LogObserver(environment=_environment(url), chatbot_id=chatbot_id)
        ]
        self._sse_observers: list[Observer] = []
        if observer is not None:
            self.add_observer(observer)
        self._auth_lock = asyncio.Lock()
        # Injectable so a test or a simulation can run retries without waiting for real.
        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeouts.to_httpx(),
            transport=transport,
            follow_redirects=False,  # a redirect is an answer to report, not to follow with a token
            headers={"User-Agent": _USER_AGENT},
            # A proxy from the environment has no business with a loopback dev server.
            trust_env=not loopback,
        )

    # -- properties and lifecycle ---------------------------------------------------------------

    @property
    def visitor_token(self) -> str | None:
        return self._token

    @property
    def has_api_key(self) -> bool:
        return self._api_key is not None

    async def __aenter__(self) -> DialogClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def add_observer(self, observer: Observer, *, sse: bool = True) -> None:
        """Also call `observer` with every trace event from now on; with `sse=False`, with
        every one but the `SseEvent`s (one per server-sent event: thousands per reply)."""
        self._observers.append(observer)
        if sse:
            self._sse_observers.append(observer)

    def add_sse_observer(self, observer: Callable[[SseEvent], None]) -> None:
        """Call `observer` with each `SseEvent` only, from now on. For a recorder of every
        server-sent event, which can then be as cheap as a list's `append`."""
        self._sse_observers.append(observer)  # type: ignore[arg-type]  # only ever given SseEvents

    async def aclose(self) -> None:
        """Close the connections, once the last token handed to `on_token` is saved (or
        `TOKEN_SAVE_WAIT` has passed: a keyring waiting on an unlock prompt must not hold up
        closing without a word)."""
        if not await self.wait_token_saved(TOKEN_SAVE_WAIT):
            logger.warning("Closing before the visitor token was saved (%.0f s)", TOKEN_SAVE_WAIT)
        await self._http.aclose()

    async def wait_token_saved(self, timeout: float | None = None) -> bool:
        """Wait until the last token handed to `on_token` is saved; False if `timeout` (s)
        passed first. Before reading the token back from where `on_token` puts it."""
        if self._token_saved is None:
            return True
        done, _ = await asyncio.wait([self._token_saved], timeout=timeout)
        return bool(done)

    # -- authentication -------------------------------------------------------------------------

    async def authenticate(self) -> str:
        """Start a conversation: a fresh visitor token from the API key."""
        async with self._auth_lock:
            return await self._authenticate_locked()

    async def reset_conversation(self) -> str:
        """End the conversation and start a new one. Needs the API key.

        Without a current token there is nothing to end, so this just authenticates.
        """
        if self._api_key is None:
            raise MissingCredentialsError("Starting a new conversation needs an API key.")
        async with self._auth_lock:
            if self._token is None:
                return await self._authenticate_locked()
            self._refuse_a_rejected_key()
            try:
                body = await self._call(
                    Operation.RESET,
                    "POST",
                    "/auth/reset",
                    "basic",
                    json={"visitor_token": self._token},
                )
            except ApiHttpError as exc:
                if exc.status != 401:
                    raise
                # Said honestly, but not remembered: a reset's 401 might be about the token.
                raise KeyRejectedError(request_id=exc.request_id) from exc
            token = _decode_token(body)
            self._set_token(token)
            return token

    async def _authenticate_locked(self) -> str:
        if self._api_key is None:
            raise MissingCredentialsError("Starting a conversation needs an API key.")
        self._refuse_a_rejected_key()
        try:
            body = await self._call(
                Operation.AUTH, "POST", "/auth", "basic", json={"chatbot_id": self.chatbot_id}
            )
        except ApiHttpError as exc:
            if exc.status == 401:
                # The key itself was refused: said as such (it names `dialogtui login`), and
                # remembered for this client and, by fingerprint, for this process.
                rejected: ApiHttpError = KeyRejectedError(request_id=exc.request_id)
                self._key_rejected = rejected
                _REJECTED_KEYS.add(_key_fingerprint(self.base_url, self.chatbot_id, self._api_key))
                raise rejected from exc
            if exc.status == 403:
                self._key_rejected = exc
            raise
        token = _decode_token(body)
        self._set_token(token)
        return token

    def _refuse_a_rejected_key(self) -> None:
        """A key /auth refused is refused again without asking: the same key gets the same
        answer, and each try would cost a request (and count against the key's rate limit)."""
        if self._key_rejected is not None:
            raise self._key_rejected.with_traceback(None)
        if (
            self._api_key is not None
            and _key_fingerprint(self.base_url, self.chatbot_id, self._api_key) in _REJECTED_KEYS
        ):
            raise KeyRejectedError()  # refused to another client of this process

    async def _ensure_token(self) -> None:
        if self._token is not None:
            return
        if self._api_key is None:
            raise MissingCredentialsError()
        async with self._auth_lock:
            if self._token is None:  # another task may have authenticated meanwhile
                await self._authenticate_locked()

    async def _reauthenticate(self, failed_token: str | None) -> None:
        async with self._auth_lock:
            if self._token is not None and self._token != failed_token:
                return  # a concurrent request already replaced the dead token
            await self._authenticate_locked()
            self.reauthentications += 1
        if self._on_reauthenticated is not None:
            try:
                self._on_reauthenticated()
            except Exception:
                logger.exception("on_reauthenticated callback failed")

    def _set_token(self, token: str) -> None:
        if token == self._token:
            return
        self._token = token
        if self._on_token is not None:
            self._token_saved = asyncio.get_running_loop().create_task(
                self._save_token(token, self._token_saved)
            )

    async def _save_token(self, token: str, previous: asyncio.Task[None] | None) -> None:
        """`on_token(token)` in a thread: a keyring write can block for tens of ms (Secret
        Service over D-Bus), and a token rotates at every reply. After the save before it, so
        the last token saved is the last one adopted."""
        if previous is not None:
            await asyncio.wait([previous])
        assert self._on_token is not None
        try:
            await asyncio.to_thread(self._on_token, token)
        except Exception:
            # The token is adopted in memory either way; failing here would lose a reply.
            logger.exception("on_token callback failed")

    # -- plain endpoints ------------------------------------------------------------------------

    async def get_config(self) -> Config:
        body = await self._call(Operation.CONFIG, "GET", "/config", "bearer")
        return _decode_config(_decode_json(body))

    async def get_history_page(
        self, *, limit: int = 100, cursor: str | None = None
    ) -> tuple[list[Message], str | None]:
        """One page of history, NEWEST FIRST as the API sends it, and the cursor of the next
        (older) page, None at the start of the conversation: for loading older messages lazily,
        as the vendor's SDK does when the person scrolls to the top."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        params: dict[str, Any] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        body = await self._call(Operation.HISTORY, "GET", "/messages", "bearer", params=params)
        return _decode_history_page(_decode_json(body), self.base_url)

    async def get_history(
        self, *, page_size: int = 50, max_messages: int | None = None
    ) -> list[Message]:
        """The conversation so far, OLDEST FIRST, following `next_cursor` page by page.

        With `max_messages`, the newest that many; `history_cursor` is then the cursor of the
        older messages left out (None when nothing was left out), for saying so and for
        `get_history_page`."""
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        newest_first: list[Message] = []
        cursor: str | None = None
        seen: set[str] = set()
        self.history_cursor = None
        for _ in range(MAX_HISTORY_PAGES):
            remaining = None if max_messages is None else max_messages - len(newest_first)
            if remaining is not None and remaining <= 0:
                self.history_cursor = cursor
                break
            params: dict[str, Any] = {
                "limit": page_size if remaining is None else min(page_size, remaining)
            }
            if cursor is not None:
                params["cursor"] = cursor
            body = await self._call(Operation.HISTORY, "GET", "/messages", "bearer", params=params)
            messages, cursor = _decode_history_page(_decode_json(body), self.base_url)
            newest_first.extend(messages)
            if cursor is None or cursor in seen:  # a repeated cursor would loop forever
                break
            seen.add(cursor)
        if max_messages is not None:
            del newest_first[max_messages:]
        newest_first.reverse()
        return newest_first

    async def submit_action(self, part_id: str, action: Mapping[str, Any]) -> ActionResult:
        body = await self._call(
            Operation.ACTION,
            "POST",
            "/actions",
            "bearer",
            json={"part_id": part_id, "action": dict(action)},
        )
        # The submission succeeded (2xx): an empty or odd receipt must not turn that into a failure.
        try:
            data = _decode_json(body, allow_empty=True)
            return msgspec.convert(data, ActionResult) if data is not None else ActionResult()
        except (ProtocolError, msgspec.ValidationError):
            return ActionResult()

    async def rate(self, rating: int, feedback: str | None = None) -> None:
        payload: dict[str, Any] = {"rating": rating}
        if feedback is not None and feedback.strip():
            payload["feedback"] = feedback
        await self._call(Operation.RATE, "POST", "/rate", "bearer", json=payload)

    async def export(self) -> dict[str, Any]:
        data = _decode_json(await self._call(Operation.EXPORT, "GET", "/export", "bearer"))
        if not isinstance(data, dict):
            raise ProtocolError()
        return data

    # -- banners, session values, form definitions ---------------------------------------------

    async def get_banners(self, page: str | None = None) -> list[Banner] | None:
        """The banners for `page` (`context.page` when None); None from a server that has no
        banners (404: older than them), which is no failure."""
        page = page if page is not None else self.context_page
        params = {"url": page} if page else None
        try:
            body = await self._call(Operation.BANNERS, "GET", "/banners", "bearer", params=params)
        except ApiHttpError as exc:
            if exc.status == 404:
                return None
            raise
        return decode_banners(_decode_json(body))

    async def get_session_state(self) -> SessionState:
        """The visitor's session values (`GET /session`)."""
        body = await self._call(Operation.SESSION, "GET", "/session", "bearer")
        return decode_session_state(_decode_json(body))

    async def get_form(self, form_id: str) -> FormDefinition:
        """A form's definition (`GET /forms/{id}`): hydrates a thin `show_form` marker."""
        path = "/forms/" + quote(form_id, safe="")
        body = await self._call(Operation.FORM, "GET", path, "bearer")
        return decode_form_definition(_decode_json(body))

    # -- live chat: a human agent takes over (the poller is conversation/livechat.py) ------------

    async def livechat_handover(
        self, source: str, *, part_id: str | None = None, platform: str = LIVECHAT_PLATFORM
    ) -> HandoverResult:
        """Ask for a human. `source`: `manual_button` (the person asked) or `assistant_marker`
        (the bot's `request_human_agent` part, whose `part_id` goes along). A 409 means live
        chat is offline or a session is already active."""
        if source not in HANDOVER_SOURCES:
            raise ValueError(f"unknown handover source {source!r}")
        payload: dict[str, Any] = {"platform": platform, "source": source}
        if part_id:
            payload["part_id"] = part_id
        if self.context_page:
            payload["client_context"] = {"page": self.context_page}
        body = await self._call(
            Operation.LIVECHAT, "POST", "/livechat/handover", "bearer", json=payload
        )
        data = _decode_json(body, allow_empty=True)
        try:
            return msgspec.convert(data, HandoverResult) if data is not None else HandoverResult()
        except msgspec.ValidationError:
            return HandoverResult()  # the handover succeeded (2xx); the receipt is a detail

    async def livechat_state(self) -> LivechatState:
        body = await self._call(Operation.LIVECHAT_POLL, "GET", "/livechat/state", "bearer")
        try:
            return to_livechat_state(_decode_json(body))
        except msgspec.ValidationError as exc:
            raise ProtocolError() from exc

    async def livechat_messages(self, after_sequence_number: int = 0) -> list[Message]:
        """The live chat's messages after `after_sequence_number`, in sequence order."""
        body = await self._call(
            Operation.LIVECHAT_POLL,
            "GET",
            "/livechat/messages",
            "bearer",
            params={"after_sequence_number": after_sequence_number},
        )
        data = _decode_json(body)
        if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
            raise ProtocolError()
        messages = [_lenient_message(obj, self.base_url) for obj in data["messages"]]
        return sorted(messages, key=lambda m: m.sequence_number or 0)

    async def livechat_send(
        self, text: str, attachments: Sequence[Mapping[str, Any]] = ()
    ) -> Message | None:
        """A message to the agent: the body of `POST /messages` (`message_body`, attachments
        included), answered with JSON (the message as stored), not a stream. None if the
        receipt cannot be read."""
        payload = message_body(text, attachments, self.context_page)
        body = await self._call(
            Operation.LIVECHAT, "POST", "/livechat/messages", "bearer", json=payload
        )
        data = _decode_json(body, allow_empty=True)
        message = data.get("message") if isinstance(data, dict) else None
        return _lenient_message(message, self.base_url) if isinstance(message, dict) else None

    async def livechat_typing(self, is_typing: bool) -> None:
        await self._call(
            Operation.LIVECHAT, "POST", "/livechat/typing", "bearer", json={"is_typing": is_typing}
        )

    async def livechat_close(self, reason: str | None = None) -> LivechatState | None:
        """End the live chat (the person closes it). The new state, when the answer has one."""
        payload: dict[str, Any] = {} if reason is None else {"reason": reason}
        body = await self._call(
            Operation.LIVECHAT, "POST", "/livechat/close", "bearer", json=payload
        )
        try:
            data = _decode_json(body, allow_empty=True)
            return to_livechat_state(data) if isinstance(data, dict) and "status" in data else None
        except (ProtocolError, msgspec.ValidationError):
            return None

    async def livechat_feedback(self, rating: int, feedback: str | None = None) -> None:
        """The satisfaction prompt's answer, after a close (`feedback.status == pending`)."""
        if not 1 <= rating <= 5:
            raise ValueError("rating must be 1..5")
        payload: dict[str, Any] = {"rating": rating}
        if feedback is not None and feedback.strip():
            payload["feedback"] = feedback.strip()
        await self._call(Operation.LIVECHAT, "POST", "/livechat/feedback", "bearer", json=payload)

    async def save_form_values(self, form_id: str, values: Mapping[str, str]) -> None:
        """The waiting-room form's values (`PATCH /forms/{id}/values`), while waiting."""
        await self._call(
            Operation.LIVECHAT,
            "PATCH",
            f"/forms/{quote(form_id, safe='')}/values",
            "bearer",
            json={"values": dict(values)},
        )

    # -- streaming ------------------------------------------------------------------------------

    def send_message(
        self,
        text: str,
        *,
        context_page: str | None = None,
        attachments: Sequence[Mapping[str, Any]] = (),
    ) -> AsyncIterator[StreamEvent]:
        """Send one user turn and yield every stream event in order, the terminal one included.

        Nothing is sent until the first event is awaited. Ends after `done` (whose
        `visitor_token`, if any, is adopted before `done` is yielded); raises `StreamError` after
        yielding an `error` event, `StreamInterrupted` if the body ends without either. Stop early
        with `aclose()` on the returned generator (or cancel the task): the response is closed.
        """
        page = context_page if context_page is not None else self.context_page
        return self._stream(message_body(text, attachments, page))

    async def _stream(self, payload: dict[str, Any]) -> AsyncGenerator[StreamEvent, None]:
        await self._ensure_token()
        call = _Call(Operation.SEND, "POST", API_PREFIX + "/messages", "bearer")
        outcome = "cancelled"  # stays so if the caller stops reading before the end
        response: httpx.Response | None = None
        chunks: AsyncGenerator[bytes, None] | None = None
        try:
            response = await self._with_retries(call, lambda: self._open_stream(call, payload))
            # aiter_bytes is an async generator; typed as a plain iterator, which has no aclose().
            chunks = cast(AsyncGenerator[bytes, None], response.aiter_bytes())
            async with aclosing(self._events(call, chunks)) as events:
                async for event in events:
                    if isinstance(event, DoneEvent):
                        rotated = _valid_token(event.visitor_token)
                        # Unless the token was replaced meanwhile (a reset while this streamed):
                        # then this turn's conversation is no longer the current one.
                        if rotated and self._token == call.token_used:
                            self._set_token(rotated)
                        outcome = "ok"
                        yield event
                        await _drain(chunks)
                        return
                    if isinstance(event, StreamErrorEvent):
                        outcome = "stream"
                        yield event
                        raise StreamError(
                            event.code, retryable=event.retryable, server_message=event.message
                        )
                    yield event
            raise StreamInterrupted()
        except DialogError as exc:
            if outcome == "cancelled":
                outcome = exc.kind
            call.timed_out = call.timed_out or isinstance(exc, RequestTimeout)
            raise
        except Exception:
            outcome = "error"  # a bug, not a network condition; re-raised untouched
            raise
        finally:
            if chunks is not None:
                await _close_quietly(chunks)
            if response is not None:
                await _close_quietly(response)
            self._finish(call, outcome)

    async def _open_stream(self, call: _Call, payload: dict[str, Any]) -> httpx.Response:
        response = await self._send(
            call,
            json=payload,
            stream=True,
            headers={"Accept": "text/event-stream", "Cache-Control": "no-store"},
        )
        media_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media_type != "text/event-stream":
            await _close_quietly(response)
            raise ProtocolError()
        # From here on a quiet socket is governed by stream_idle, not by the header wait `read`.
        # httpcore reads this when the body starts; the line watchdog in `_events` is the rule.
        timeout = dict(response.request.extensions.get("timeout", {}))
        timeout["read"] = self._timeouts.stream_idle
        response.request.extensions["timeout"] = timeout
        return response

    async def _events(
        self, call: _Call, chunks: AsyncIterator[bytes]
    ) -> AsyncGenerator[StreamEvent, None]:
        """Decoded events from the body chunks: the guard's bytes, parsed by httpx-sse."""
        framed = self._guarded(chunks)
        try:
            async with aclosing(event_source(framed)) as source:
                async for sse in source:
                    sse_observers = self._sse_observers
                    if sse_observers:
                        self._emit(
                            SseEvent(sse.event, len(sse.data), call.elapsed(), sse.data),
                            sse_observers,
                        )
                    yield decode_event(sse.event, sse.data, base_url=self.base_url)
        finally:
            await framed.aclose()

    async def _guarded(self, chunks: AsyncIterator[bytes]) -> AsyncGenerator[bytes, None]:
        """The body's complete events (see `SSEGuard`), under the stream idle watchdog: every
        line counts as life, keep-alive comments included."""
        guard = SSEGuard()
        loop = asyncio.get_running_loop()
        idle = self._timeouts.stream_idle
        budget = idle
        while True:
            lines_before = guard.lines
            waited_from = loop.time()
            try:
                # Only the read is under the deadline: never the time the caller holds an event.
                async with asyncio.timeout(budget):
                    chunk = await anext(chunks)
            except StopAsyncIteration:
                return  # an unfinished last event is never passed on, as the spec says
            except (TimeoutError, httpx.TimeoutException) as exc:
                raise RequestTimeout(phase="stream") from exc
            except httpx.HTTPError as exc:
                raise _translate(exc, phase="stream") from exc
            try:
                framed = guard.feed(chunk)
            except SSEEventTooLong as exc:
                raise ProtocolError() from exc
            if guard.lines != lines_before:
                budget = idle
            else:
                budget -= loop.time() - waited_from
            if framed:
                yield framed

    # -- the request engine ---------------------------------------------------------------------

    async def _call(
        self,
        op: Operation,
        method: str,
        path: str,
        auth: AuthScheme,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> bytes:
        """One logical request with retries and re-authentication; returns the 2xx body."""
        if auth == "bearer":
            await self._ensure_token()
        call = _Call(op, method, API_PREFIX + path, auth)
        outcome = "cancelled"
        try:
            body = await self._with_retries(
                call, lambda: self._send_and_read(call, json=json, params=params)
            )
            outcome = "ok"
            return body
        except DialogError as exc:
            outcome = exc.kind
            call.timed_out = call.timed_out or isinstance(exc, RequestTimeout)
            raise
        except Exception:
            outcome = "error"
            raise
        finally:
            self._finish(call, outcome)

    async def _with_retries(self, call: _Call, attempt: Callable[[], Awaitable[T]]) -> T:
        policy = self._policies.get(call.op) or DEFAULT_POLICIES[call.op]
        policy_attempt = 0
        reauthenticated = False
        while True:
            policy_attempt += 1
            try:
                return await attempt()
            except ApiHttpError as exc:
                if self._may_reauthenticate(call, exc, reauthenticated):
                    reauthenticated = True
                    policy_attempt -= 1  # the repeat after a new token is not a policy retry
                    self._emit(
                        RetryScheduled(
                            call.op, call.attempts, 0.0, "unauthorized: re-authenticating"
                        )
                    )
                    call.retries += 1
                    await self._reauthenticate(call.token_used)
                    continue
                error: DialogError = exc
                retry_after = exc.retry_after
                reason = f"status {exc.status}"
            except TransportError as exc:
                error, retry_after, reason = exc, None, exc.kind
                call.timed_out = call.timed_out or isinstance(exc, RequestTimeout)
            if not policy.should_retry(error, policy_attempt):
                raise error
            delay = policy.delay(policy_attempt, retry_after)
            self._emit(RetryScheduled(call.op, call.attempts, delay, reason))
            call.retries += 1
            await self._sleep(delay)

    def _may_reauthenticate(self, call: _Call, exc: ApiHttpError, already: bool) -> bool:
        return (
            exc.status == 401
            and call.auth == "bearer"
            and not already
            and self._api_key is not None
        )

    async def _send_and_read(
        self, call: _Call, *, json: Any, params: Mapping[str, Any] | None
    ) -> bytes:
        response = await self._send(call, json=json, params=params, stream=True)
        try:
            return await _read_body(response, MAX_JSON_BODY, truncate=False)
        except httpx.HTTPError as exc:
            raise _translate(exc, phase="body") from exc
        finally:
            await _close_quietly(response)

    async def _send(
        self,
        call: _Call,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool,
    ) -> httpx.Response:
        """One attempt. Returns an open 2xx response; raises ApiHttpError for any other status."""
        call.attempts += 1
        request_headers = dict(headers or {})
        request_headers["Authorization"] = self._authorization(call)
        if call.auth == "bearer" and self.client_profile:
            request_headers[CLIENT_PROFILE_HEADER] = self.client_profile
        request = self._http.build_request(
            call.method, call.path, json=json, params=params, headers=request_headers
        )
        self._emit(
            RequestStarted(
                call.op, call.method, call.path, call.attempts, _sent_facts(request_headers, json)
            )
        )
        sent_at = timing.now()
        try:
            response = await self._http.send(request, stream=stream)
        except httpx.HTTPError as exc:
            raise _translate(exc, phase="headers") from exc
        call.status = response.status_code
        call.request_id = request_id_of(response.headers)
        self._emit(
            ResponseReceived(
                call.op, response.status_code, timing.now() - sent_at, _trace_headers(response)
            )
        )
        if response.is_success:
            return response
        try:
            body = await _read_body(response, MAX_ERROR_BODY, truncate=True)
        except httpx.HTTPError:
            body = b""  # the status alone still says what happened
        finally:
            await _close_quietly(response)
        raise parse_api_error(response.status_code, response.headers, body)

    def _authorization(self, call: _Call) -> str:
        if call.auth == "basic":
            if self._api_key is None:
                raise MissingCredentialsError()
            return "Basic " + base64.b64encode(f"{self._api_key}:".encode()).decode("ascii")
        if self._token is None:
            raise MissingCredentialsError()
        call.token_used = self._token
        return f"Bearer {self._token}"

    # -- tracing --------------------------------------------------------------------------------

    def _finish(self, call: _Call, outcome: str) -> None:
        self._emit(
            RequestFinished(
                op=call.op,
                method=call.method,
                path=call.path,
                outcome=outcome,
                elapsed=call.elapsed(),
                retries=call.retries,
                timed_out=call.timed_out,
                status=call.status,
                request_id=call.request_id,
            )
        )

    def _emit(self, event: TraceEvent, observers: list[Observer] | None = None) -> None:
        for observer in self._observers if observers is None else observers:
            try:
                observer(event)
            except Exception:
                # Tooling must never break a conversation.
                logger.log(logging.DEBUG, "trace observer failed", exc_info=True)


# ---------------------------------------------------------------------------------------------
# Helpers: URLs, bodies, errors


def _check_base_url(base_url: str) -> tuple[httpx.URL, bool]:
    try:
        url = httpx.URL(base_url.strip())
    except httpx.InvalidURL as exc:
        raise ValueError("base_url is not a valid URL") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("base_url must be an http:// or https:// URL with a host")
    loopback = is_loopback(url.host)
    if url.scheme == "http" and not loopback:
        raise InsecureTransportError()
    return url.copy_with(query=None, fragment=None), loopback


def message_body(
    text: str, attachments: Sequence[Mapping[str, Any]] = (), page: str | None = None
) -> dict[str, Any]:
    """The body of `POST /messages`: the text part first, then any image/file parts (bare
    base64, built by `dialogtui.attachments`), and the page as `context.page`."""
    parts: list[Mapping[str, Any]] = [{"type": "text", "text": text}, *attachments]
    payload: dict[str, Any] = {"message": {"parts": parts}}
    if page:
        payload["context"] = {"page": page}
    return payload


def _sent_facts(headers: Mapping[str, str], body: Any) -> dict[str, str]:
    """The page and client profile a request carries (for the inspector's request rows)."""
    facts: dict[str, str] = {}
    context = body.get("context") if isinstance(body, dict) else None
    if isinstance(context, dict) and isinstance(context.get("page"), str):
        facts["page"] = context["page"]
    profile = headers.get(CLIENT_PROFILE_HEADER)
    if profile:
        facts["client profile"] = profile
    attached = _attachment_facts(body)
    if attached:
        facts["attachments"] = attached
    return facts


def _attachment_facts(body: Any) -> str:
    """The image/file parts a send carries, named and sized (never their data)."""
    message = body.get("message") if isinstance(body, dict) else None
    parts = message.get("parts") if isinstance(message, dict) else None
    named: list[str] = []
    for part in parts if isinstance(parts, list) else []:
        if isinstance(part, Mapping) and part.get("type") in ("image", "file"):
            data = part.get("data")
            size = len(data) * 3 // 4 if isinstance(data, str) else 0
            name = part.get("filename") or part["type"]
            named.append(f"{name} ({part.get('mime')}, {size:,} bytes)")
    return ", ".join(named)


def forget_rejected_keys() -> None:
    """Let keys refused earlier in this process be tried again (tests; a fresh login)."""
    _REJECTED_KEYS.clear()


def _key_fingerprint(base_url: str, chatbot_id: str, api_key: str) -> str:
    return hashlib.sha256(f"{base_url}\0{chatbot_id}\0{api_key}".encode()).hexdigest()


def _environment(url: httpx.URL) -> str:
    """The host (and a non-default port) that names the environment in logs; never userinfo."""
    return f"{url.host}:{url.port}" if url.port else url.host


async def _drain(chunks: AsyncIterator[bytes]) -> None:
    """Read the little that follows `done` (the chunked terminator) so the connection can be
    reused; a server that keeps talking is cut off after a moment instead."""
    received = 0
    try:
        async with asyncio.timeout(DRAIN_AFTER_DONE):
            async for chunk in chunks:
                received += len(chunk)
                if received > MAX_ERROR_BODY:
                    return
    except (TimeoutError, httpx.HTTPError):
        pass


async def _close_quietly(closable: httpx.Response | AsyncGenerator[bytes, None]) -> None:
    """Closing a broken connection may fail too; that failure has nothing left to tell."""
    with suppress(httpx.HTTPError):
        await closable.aclose()


async def _read_body(response: httpx.Response, limit: int, *, truncate: bool) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            if truncate:
                chunks.append(chunk[: limit - (size - len(chunk))])
                break
            raise ProtocolError("The chatbot's answer was too large to read.")
        chunks.append(chunk)
    return b"".join(chunks)


def _decode_json(body: bytes, *, allow_empty: bool = False) -> Any:
    if allow_empty and not body.strip():
        return None
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise ProtocolError() from exc


def _decode_token(body: bytes) -> str:
    data = _decode_json(body)
    token = _valid_token(data.get("token") if isinstance(data, dict) else None)
    if token is None:
        raise ProtocolError("The chatbot did not return a usable session token.")
    return token


def _valid_token(value: Any) -> str | None:
    """A token fit for an Authorization header: visible ASCII only (no spaces, no CR/LF)."""
    if not isinstance(value, str):
        return None
    token = value.strip()
    if not token or not all("!" <= ch <= "~" for ch in token):
        return None
    return token


def _clean_token(value: str) -> str:
    token = _valid_token(value)
    if token is None:
        raise MissingCredentialsError(
            "The visitor token is not valid. Log in again to get a new one."
        )
    return token


def _decode_config(data: Any) -> Config:
    """Lenient: a field of the wrong shape is dropped, not the whole configuration."""
    if not isinstance(data, dict):
        raise ProtocolError()
    return to_config(data)


def _decode_history_page(
    data: Any, base_url: str | None = None
) -> tuple[list[Message], str | None]:
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        raise ProtocolError()
    cursor = data.get("next_cursor")
    messages = [_lenient_message(obj, base_url) for obj in data["messages"]]
    return messages, cursor if isinstance(cursor, str) and cursor else None


def _lenient_message(obj: Any, base_url: str | None = None) -> Message:
    """A message this client cannot read still holds its place in the history."""
    try:
        return to_message(obj, base_url=base_url)
    except msgspec.ValidationError:
        raw = obj if isinstance(obj, dict) else {}
        message_id = raw.get("message_id")
        return Message(
            message_id=message_id if isinstance(message_id, str) else "",
            role="system",
            parts=[UnknownPart(type="invalid", raw=raw)],
        )


def _trace_headers(response: httpx.Response) -> dict[str, str]:
    picked: dict[str, str] = {}
    for name in ("content-type", *REQUEST_ID_HEADERS, "retry-after"):
        value = response.headers.get(name)
        if value is not None:
            picked[name] = value
    return picked


def parse_api_error(
    status: int, headers: httpx.Headers | Mapping[str, str], body: bytes
) -> ApiHttpError:
    """An `ApiHttpError` from whatever came back: the envelope, a bare string, HTML or nothing."""
    hdrs = headers if isinstance(headers, httpx.Headers) else httpx.Headers(headers)
    code: str | None = None
    server_message: str | None = None
    params: list[FieldError] = []
    try:
        data = msgspec.json.decode(body) if body.strip() else None
    except msgspec.DecodeError:
        data = None  # a proxy's HTML page, say: the status has to speak for itself
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        code = _clean_code(error.get("code"))
        message = error.get("message")
        if isinstance(message, str):
            server_message = message[:_MAX_SERVER_MESSAGE]
        params = _field_errors(error.get("params"))
    elif isinstance(error, str):
        code = _clean_code(error)
    return ApiHttpError(
        status,
        code,
        params=params,
        request_id=request_id_of(hdrs),
        retry_after=parse_retry_after(hdrs.get("retry-after")),
        server_message=server_message,
    )


def _clean_code(value: Any) -> str | None:
    """Codes are identifiers; anything else is not trusted to be one."""
    if not isinstance(value, str) or not value or len(value) > _MAX_CODE_LENGTH:
        return None
    if not all(ch.isascii() and (ch.isalnum() or ch in "_.-:") for ch in value):
        return None
    return value


def _field_errors(value: Any) -> list[FieldError]:
    if not isinstance(value, list):
        return []
    out: list[FieldError] = []
    for item in value:
        if isinstance(item, dict):
            field_name, message = item.get("field"), item.get("message")
            out.append(
                FieldError(
                    field=field_name if isinstance(field_name, str) else "",
                    message=message[:_MAX_SERVER_MESSAGE] if isinstance(message, str) else "",
                )
            )
    return out


def _translate(exc: httpx.HTTPError, *, phase: str) -> DialogError:
    """httpx's exceptions, mapped to ours. `phase`: headers (before a response), body, stream."""
    if isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError)):
        return ConnectError()
    if isinstance(exc, httpx.ConnectError):
        if _is_certificate_error(exc):
            # Not a network hiccup: retrying or "check your connection" would mislead.
            return TransportError(
                "The chatbot's security certificate could not be verified. The connection was "
                "refused.",
                retryable=False,
            )
        return ConnectError()
    if isinstance(exc, httpx.WriteTimeout):
        return RequestTimeout(phase="write")
    if isinstance(exc, httpx.TimeoutException):
        return RequestTimeout(phase=phase)
    if isinstance(exc, httpx.DecodingError):
        return ProtocolError()
    if isinstance(
        exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.CloseError)
    ):
        return StreamInterrupted() if phase == "stream" else TransportError()
    if isinstance(exc, httpx.TransportError):
        return TransportError(retryable=False)
    return TransportError(retryable=False)


def _is_certificate_error(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(
            current
        ):
            return True
        current = current.__cause__ or current.__context__
    return False
