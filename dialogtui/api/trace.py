"""What the client tells the outside world about its traffic: trace events and log records.

Trace events go to an optional observer (the UI's inspector). Independently, the client writes
one structured log record per finished request to the `dialogtui.api` logger, with exactly the
fields the vendor's logging checklist asks for and none of what it forbids: no message content,
no API keys, no tokens, no Authorization headers. `redaction.RedactingFilter`, on this logger,
is a second line of defence for anything else that reaches a log.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

import msgspec

from .redaction import RedactingFilter
from .retry import Operation

LOGGER_NAME: Final = "dialogtui.api"
# The contract does not name the request-id header: the first one present wins.
REQUEST_ID_HEADERS: Final = ("x-request-id", "request-id", "x-correlation-id", "cf-ray")
logger: Final = logging.getLogger(LOGGER_NAME)
# A library must not print to stderr when the application configured no logging: without a
# handler, Python's last-resort handler would write warnings over the terminal UI.
logger.addHandler(logging.NullHandler())


def request_id_of(headers: Mapping[str, str]) -> str | None:
    """The request id of a response, from whichever known header carries one."""
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value[:200]
    return None


# ---------------------------------------------------------------------------------------------
# Trace events


@dataclass(frozen=True, slots=True)
class RequestStarted:
    op: Operation
    method: str
    path: str
    attempt: int
    sent: dict[str, str] = field(default_factory=dict)
    """What this request carries that changes the bot's behaviour, for the inspector:
    `page` (context.page) and `client profile` (X-Diverge-Client-Profile). Never a secret."""


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    op: Operation
    status: int
    elapsed: float
    headers: dict[str, str] = field(default_factory=dict)
    """Only the headers that matter for diagnosis: content type, request id, Retry-After."""


@dataclass(frozen=True, slots=True)
class RetryScheduled:
    op: Operation
    attempt: int
    """The attempt that failed (counting from 1)."""
    delay: float
    reason: str
    """Short and safe: `status 503`, `connect`, `timeout`, `unauthorized: re-authenticating`."""


class SseEvent(msgspec.Struct, frozen=True, gc=False):
    """One server-sent event as it arrived. A struct the garbage collector does not track
    (its fields are strings and numbers, so it can be in no cycle): a reply makes thousands,
    and the inspector keeps them; as dataclasses each collection would scan them all."""

    name: str
    size: int
    elapsed: float
    data: str
    """The raw data line(s). Conversation content: for the inspector, never for logs."""


@dataclass(frozen=True, slots=True)
class RequestFinished:
    """One per logical request, after its last attempt (and, for a send, after its stream)."""

    op: Operation
    outcome: str
    """`ok`; `cancelled` (the caller stopped reading a stream, or the task was cancelled);
    `error` (a bug, not a network condition); else the failing `DialogError.kind`: `http`,
    `stream`, `interrupted`, `timeout`, `connect`, `transport`, `protocol`, `credentials`."""
    elapsed: float
    """Seconds for the whole call: retries, waits and, for a send, the whole stream."""
    retries: int
    """Repeats after the first attempt, the one after a re-authentication included."""
    timed_out: bool
    """Whether any attempt timed out."""
    method: str = ""
    path: str = ""
    """The endpoint path template, without query string."""
    status: int | None = None
    """The status of the last response, if one arrived."""
    request_id: str | None = None


TraceEvent: TypeAlias = (
    RequestStarted | ResponseReceived | RetryScheduled | SseEvent | RequestFinished
)


# ---------------------------------------------------------------------------------------------
# Structured log records


class LogObserver:
    """Turns `RequestFinished` into one log record; ignores everything else.

    The fields are in the message (key=value, for plain file handlers) and, for structured
    handlers, as a dict in `record.dialogtui_api`.
    """

    def __init__(self, *, environment: str, chatbot_id: str, log: logging.Logger = logger) -> None:
        self._environment = environment
        self._chatbot_id = chatbot_id
        self._log = log

    def __call__(self, event: TraceEvent) -> None:
        if not isinstance(event, RequestFinished):
            return
        fields = log_fields(event, environment=self._environment, chatbot_id=self._chatbot_id)
        if event.outcome not in ("ok", "cancelled"):
            level = logging.WARNING
        elif event.op is Operation.LIVECHAT_POLL:
            # Every 2-3 s while a live chat lasts: at INFO they would bury everything else.
            level = logging.DEBUG
        else:
            level = logging.INFO
        self._log.log(
            level,
            "%s %s outcome=%s status=%s env=%s chatbot_id=%s request_id=%s retries=%d "
            "latency_ms=%d timeout=%s",
            event.method,
            event.path,
            event.outcome,
            fields["status"],
            fields["environment"],
            fields["chatbot_id"],
            fields["request_id"],
            event.retries,
            fields["latency_ms"],
            "true" if event.timed_out else "false",
            extra={"dialogtui_api": fields},
        )


def log_fields(event: RequestFinished, *, environment: str, chatbot_id: str) -> dict[str, Any]:
    return {
        "environment": environment,
        "endpoint": event.path,
        "method": event.method,
        "operation": event.op.value,
        "outcome": event.outcome,
        "status": event.status,
        "chatbot_id": chatbot_id,
        "request_id": event.request_id,
        "retries": event.retries,
        "latency_ms": round(event.elapsed * 1000),
        "timeout": event.timed_out,
    }


logger.addFilter(RedactingFilter())
