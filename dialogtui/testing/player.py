"""One visitor's conversation as a test plays it: the only module that talks to the client.

The runner asks for a few things (send a text, the choices and the form the last reply
offered, submit that form, and what each step produced as a `TurnResult`); a visitor is a
conversation of the core (`dialogtui/conversation/`), and everything about sessions, streams
and errors stays behind this module.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from types import TracebackType
from typing import TYPE_CHECKING, Final

from .. import exitcodes
from ..api.errors import ApiHttpError, ConnectError, DialogError, StreamError
from ..api.models import (
    FormMarker,
    Part,
    UnknownPart,
)
from ..api.retry import DEFAULT_POLICIES, RetryPolicy
from ..conversation.forms import action_body
from ..plaintext import parts_text
from .expect import TurnResult

if TYPE_CHECKING:
    from ..conversation.core import Conversation
    from ..target import Target
    from .testfile import FormValue

RATE_LIMITED: Final = "rate_limited"


class _LeaveRateLimitsToTheRunner(RetryPolicy):
    """The client's own policy, except that a 429 is not retried here: the runner waits it out
    for every visitor at once (a shared back-off), so twenty visitors do not each hammer on."""

    __slots__ = ()

    def should_retry(self, error: DialogError, attempt: int) -> bool:
        if isinstance(error, ApiHttpError) and error.status == 429:
            return False
        return super().should_retry(error, attempt)


_POLICIES: Final = {
    operation: _LeaveRateLimitsToTheRunner(**asdict(policy))
    for operation, policy in DEFAULT_POLICIES.items()
}


class SharedConnections:
    """One connection pool, and one TLS context, for every visitor of a run.

    A client of its own per visitor would make a TLS context each (with the system's CA
    certificates, most of a megabyte), and a closed client is freed only by a full garbage
    collection: a run of hundreds of conversations grew by about 0.7 MB per conversation.
    Visitors stay independent: each has its own token and conversation.
    Use as `async with SharedConnections(limit) as connections:`.
    """

    def __init__(self, limit: int) -> None:
        import httpx

        pool = httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=limit)
        )

        class Borrowed(httpx.AsyncBaseTransport):
            """The pool as a visitor's client sees it: closing that client leaves it open."""

            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                return await pool.handle_async_request(request)

            async def aclose(self) -> None:
                pass

        self._pool = pool
        self.transport: httpx.AsyncBaseTransport = Borrowed()

    async def __aenter__(self) -> SharedConnections:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._pool.aclose()


@dataclass(frozen=True, slots=True)
class Played:
    """A step's `TurnResult` and what the runner decides on."""

    result: TurnResult
    retry_after: float | None = None
    """Set when the server said 429: the seconds it asked to wait (None if it did not say)."""
    fatal_exit: int | None = None
    """An exit code when going on is pointless: rejected credentials (3), no connection (5)."""
    message: str | None = None
    """The client's safe message for that failure."""

    @property
    def rate_limited(self) -> bool:
        return self.result.error_code == RATE_LIMITED


class Visitor:
    """A new visitor with a conversation of its own (the core's `Conversation`): its own
    token and figures, on the run's shared connections.

    Use as `async with Visitor(target, connections) as visitor:`. A target with an API key
    gets a fresh visitor token (never stored); one with only a visitor token uses it and keeps
    its rotations where the target says. Nothing is saved locally: test conversations are
    many and synthetic.
    """

    def __init__(
        self,
        target: Target,
        connections: SharedConnections | None = None,
        *,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if target.api_key:
            target = replace(target, visitor_token=None, save_token=None)
        self._target = target
        self._connections = connections
        self._clock = clock
        self._conversation: Conversation | None = None

    async def __aenter__(self) -> Visitor:
        from ..conversation.core import Conversation
        from ..session import open_session

        target = self._target
        conversation = Conversation(target, policies=_POLICIES)
        if self._connections is not None:
            # The core opens a session of its own on new connections: given one on the pool.
            conversation.session = open_session(
                target, policies=_POLICIES, transport=self._connections.transport
            )
        self._conversation = conversation
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._conversation is not None:
            await self._conversation.close()

    @property
    def conversation(self) -> Conversation:
        assert self._conversation is not None, "use `async with Visitor(...)`"
        return self._conversation

    # -- what the last reply offered ----------------------------------------------------------

    def choices(self) -> list[tuple[str, str]]:
        """(title, text it sends) of each suggestion and quick reply of the last reply."""
        return [(followup.label, followup.text) for followup in self.conversation.followups]

    async def offer_start_prompts(self) -> None:
        """What the bot offers before any turn (its start prompts), as `choices`, the way a
        chat window shows them at its start: from the bot's config."""
        await self.conversation.offer_start_prompts()

    def open_form(self) -> FormMarker | None:
        """The last form the bot opened and the visitor has not sent yet."""
        return self.conversation.form

    # -- steps --------------------------------------------------------------------------------

    async def send(self, text: str) -> Played:
        turn = await self.conversation.send(text)
        message = turn.assembler.message
        parts = list(message.parts if message is not None else turn.assembler.parts)
        figures = turn.figures
        result = TurnResult(
            reply=readable_text(parts),
            outcome=str(turn.outcome),
            error_code=error_code(turn.error),
            part_types=frozenset(part_type(part) for part in parts),
            to_headers=figures.to_headers,
            to_first_text=figures.to_first_content,
            total=figures.total,
        )
        return _played(result, turn.error)

    async def submit_form(self, values: dict[str, FormValue]) -> Played:
        """Send `values` to the open form (the caller checked there is one); the confirmation
        text is the reply."""
        marker = self.open_form()
        assert marker is not None
        started = self._clock()
        try:
            receipt = await self.conversation.submit_action(
                marker.part_id, action_body(marker, values)
            )
        except DialogError as error:
            total = self._clock() - started
            return _played(
                TurnResult("", "error", error_code=error_code(error), total=total), error
            )
        total = self._clock() - started
        return Played(TurnResult(receipt.confirmation_text or "", "done", total=total))


def _played(result: TurnResult, error: DialogError | None) -> Played:
    if error is None:
        return Played(result)
    fatal = None
    if isinstance(error, ApiHttpError) and error.status in (401, 403):
        fatal = exitcodes.AUTH
    elif isinstance(error, ConnectError):
        fatal = exitcodes.NETWORK
    retry_after = None
    if isinstance(error, ApiHttpError) and error.status == 429:
        retry_after = error.retry_after
    return Played(result, retry_after=retry_after, fatal_exit=fatal, message=error.safe_message)


def error_code(error: DialogError | None) -> str | None:
    """The server's code when it gave one (`rate_limited`, `generation_failed`); else the HTTP
    status (`http_502`) or the client's kind of failure (`timeout`, `connect`, `interrupted`)."""
    if error is None:
        return None
    if isinstance(error, (ApiHttpError, StreamError)) and error.code:
        return error.code
    if isinstance(error, ApiHttpError):
        return RATE_LIMITED if error.status == 429 else f"http_{error.status}"
    return error.kind


def part_type(part: Part) -> str:
    if isinstance(part, UnknownPart):
        return part.type
    return str(type(part).__struct_config__.tag)


def readable_text(parts: list[Part]) -> str:
    """What `contains` and `regex` look at: the reply as `send` prints it (plaintext.py), so
    a table's cells, product cards with prices, suggestions, quick replies and attachments
    count as much as the text."""
    return parts_text(parts)
