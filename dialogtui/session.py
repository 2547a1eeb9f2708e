"""One turn on the wire: the reply assembled, its outcome set, its figures kept.

The conversation core (`conversation.core`) runs every turn of every front-end through
`ChatSession.stream_turn`; it knows nothing of Textual, nor of the store.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from . import timing
from .api.assembler import Change, ReplyAssembler
from .api.errors import DialogError
from .api.models import DoneEvent, PartDeltaEvent, PartEvent, StreamErrorEvent, StreamEvent
from .api.retry import DEFAULT_POLICIES, Operation, RetryPolicy
from .api.trace import ResponseReceived, RetryScheduled, SseEvent, TraceEvent
from .conversation.outcome import Outcome
from .target import Target

if TYPE_CHECKING:
    # The client imports httpx (tens of ms, click and pygments included): the app imports
    # this module on its way to the first frame; only opening a session needs the client.
    import httpx

    from .api.client import DialogClient
    from .api.timeouts import Timeouts
    from .attachments import Attachment


@dataclass
class TurnFigures:
    """What a developer testing a bot wants to see under each reply."""

    started: float
    to_headers: float | None = None
    to_first_content: float | None = None
    total: float | None = None
    events: int = 0
    chars: int = 0
    retries: int = 0

    def summary(self) -> str:
        bits: list[str] = []
        if self.to_headers is not None:
            bits.append(f"headers {self.to_headers * 1000:.0f} ms")
        if self.to_first_content is not None:
            bits.append(f"first text {self.to_first_content * 1000:.0f} ms")
        if self.total is not None:
            bits.append(f"total {self.total:.2f} s")
        bits.append(f"{self.events:,} events")
        bits.append(f"{self.chars:,} chars")
        if self.retries:
            bits.append(f"{self.retries} retr{'y' if self.retries == 1 else 'ies'}")
        return " · ".join(bits)


@dataclass
class Turn:
    text: str
    assembler: ReplyAssembler = field(default_factory=ReplyAssembler)
    outcome: Outcome = Outcome.WAITING
    error: DialogError | None = None
    figures: TurnFigures = field(default_factory=lambda: TurnFigures(started=timing.now()))
    token_used: str | None = field(default=None, repr=False)
    """The visitor token the message went out with (after any re-authentication), once the
    server answered: the server conversation this turn belongs to. Never written anywhere."""
    attachments: tuple[Attachment, ...] = ()
    """Files sent with the text (image/file parts), read and checked already."""


class TurnUpdate(NamedTuple):
    # A NamedTuple: one is made per event, and it builds about twice as fast as a frozen dataclass.
    turn: Turn
    event: StreamEvent
    change: Change | None


class ChatSession:
    """Runs turns on a `DialogClient` and keeps the figures of the turn in flight."""

    def __init__(self, client: DialogClient, *, clock: Callable[[], float] = timing.now) -> None:
        self.client = client
        self._clock = clock
        self._current: Turn | None = None

    def observe(self, trace: TraceEvent) -> None:
        """The client's observer (`add_observer(session.observe, sse=False)`): turn figures."""
        turn = self._current
        if turn is not None:
            if isinstance(trace, ResponseReceived):
                if turn.figures.to_headers is None:
                    turn.figures.to_headers = self._clock() - turn.figures.started
                if trace.op is Operation.SEND and 200 <= trace.status < 300:
                    turn.token_used = self.client.visitor_token
            elif isinstance(trace, RetryScheduled):
                turn.figures.retries += 1

    def add_listener(self, listener: Callable[[TraceEvent], None], *, sse: bool = True) -> None:
        """Call `listener` with every trace event of this session's requests from now on,
        SSE events included unless `sse=False` (for tooling such as the inspector)."""
        self.client.add_observer(listener, sse=sse)

    def add_sse_listener(self, listener: Callable[[SseEvent], None]) -> None:
        """Call `listener` with each SSE event only (see `DialogClient.add_sse_observer`)."""
        self.client.add_sse_observer(listener)

    async def stream_turn(
        self, turn: Turn, *, every_delta: bool = True
    ) -> AsyncGenerator[TurnUpdate, None]:
        """Send `turn.text` and yield each event with what it changed.

        With `every_delta=False`, for a consumer that follows growing blocks in
        `turn.assembler` at its own pace by their versions (a UI at its frame rate): only
        updates that change something and are not the further growth of the block the last
        yielded update grew (same part, same block, not structural) are yielded, and the
        `done` or `error` event. A reply of thousands of deltas then yields about one update
        per block.

        Errors propagate as `DialogError`; the turn's outcome is set before they do,
        so a caller that catches them still holds the partial reply.
        """
        figures = turn.figures
        figures.started = self._clock()
        self._current = turn
        assembler = turn.assembler
        feed = assembler.feed
        # Counted in locals and published on each update (and at the end): attribute writes on
        # the figures for each of thousands of events would be most of this loop's own cost.
        events = 0
        waiting = True
        # The growth of a block the consumer already follows, when updates are filtered: a
        # Change equal to this one is skipped (the `is` test first: the assembler's hot path
        # hands back the very same object, and that is most deltas).
        growing: Change | None = None
        try:
            # Only with files: a plain turn calls the client as it always has (stand-ins too).
            stream = (
                self.client.send_message(
                    turn.text, attachments=[a.message_part() for a in turn.attachments]
                )
                if turn.attachments
                else self.client.send_message(turn.text)
            )
            async for event in stream:
                events += 1
                change = feed(event)
                if change is not None and (change is growing or change == growing):
                    continue
                if waiting and isinstance(event, (PartDeltaEvent, PartEvent)):
                    figures.to_first_content = self._clock() - figures.started
                    turn.outcome = Outcome.STREAMING
                    waiting = False
                if type(event) is DoneEvent:
                    turn.outcome = Outcome.DONE
                elif not every_delta:
                    if change is None:
                        if type(event) is StreamErrorEvent:
                            yield TurnUpdate(turn, event, change)  # the client raises next
                        continue
                    growing = None if change.block_index is None or change.structural else change
                figures.events = events
                figures.chars = assembler.text_length
                yield TurnUpdate(turn, event, change)
            if turn.outcome is not Outcome.DONE:
                turn.outcome = Outcome.INCOMPLETE
        except DialogError as error:
            turn.error = error
            # "incomplete" means part of a reply arrived and the rest did not.
            turn.outcome = (
                Outcome.INCOMPLETE
                if turn.assembler.part_count and error.kind != "stream"
                else Outcome.ERROR
            )
            raise
        except BaseException:
            # Esc in the app, Ctrl-C in a script: whatever arrived stays. (A cancel that lands
            # while the connection drains after `done` leaves the reply whole: done.)
            if turn.outcome is not Outcome.DONE:
                turn.outcome = Outcome.CANCELLED
            raise
        finally:
            figures.events = events
            figures.chars = assembler.text_length
            figures.total = self._clock() - figures.started
            self._current = None


def open_session(
    target: Target,
    *,
    timeouts: Timeouts | None = None,
    policies: Mapping[Operation, RetryPolicy] = DEFAULT_POLICIES,
    transport: httpx.AsyncBaseTransport | None = None,
) -> ChatSession:
    """A session on a new client for `target`; close it with `session.client.aclose()`.
    `transport`: connections shared with other clients (the test runner's pool)."""
    from .api.client import DialogClient

    if target.before_connect is not None:
        target.before_connect()
    client = DialogClient(
        target.base_url,
        target.chatbot_id,
        api_key=target.api_key,
        visitor_token=target.visitor_token,
        timeouts=timeouts or target.timeouts(),
        policies=policies,
        on_token=target.save_token,
        context_page=target.settings.page,
        client_profile=target.settings.client_profile,
        transport=transport,
    )
    session = ChatSession(client)
    client.add_observer(session.observe, sse=False)
    return session
