"""Retry policy as data, one entry per operation, following the vendor's decision table.

Only 429 and 5xx are repeated, with bounded exponential backoff and full jitter,
honouring `Retry-After` up to a cap, and a connection that could not be made. A timed-out
attempt is not repeated by default: for a send, an action or a rating the server may already
have acted ("use care"), and for a read the person has already waited the whole configured
timeout (`retry_timeouts` turns it on for a policy that wants it).
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, replace
from datetime import datetime, UTC
from typing import Final

from .errors import ApiHttpError, DialogError, RequestTimeout


class Operation(enum.Enum):
    AUTH = "auth"
    RESET = "reset"
    CONFIG = "config"
    SEND = "send"
    HISTORY = "history"
    ACTION = "action"
    RATE = "rate"
    EXPORT = "export"
    BANNERS = "banners"
    SESSION = "session"
    FORM = "form"
    LIVECHAT = "livechat"
    """A live-chat write: handover, a message to the agent, typing, close, feedback."""
    LIVECHAT_POLL = "livechat poll"
    """A live-chat read while polling: not retried here, the poller backs off itself."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 3
    """Attempts in all, the first included: 3 means at most two retries."""
    base_delay: float = 0.5
    max_delay: float = 8.0
    retry_after_cap: float = 30.0
    """A larger `Retry-After` is not waited out: the error surfaces instead."""
    retry_timeouts: bool = False

    def should_retry(self, error: DialogError, attempt: int) -> bool:
        """`attempt` counts from 1: the attempt that just failed."""
        if attempt >= self.max_attempts:
            return False
        if isinstance(error, ApiHttpError):
            if not error.retryable:
                return False
            return error.retry_after is None or error.retry_after <= self.retry_after_cap
        if isinstance(error, RequestTimeout):
            return self.retry_timeouts
        # A connect failure means no byte reached the server: safe for every operation.
        return error.kind == "connect"

    def delay(
        self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait before attempt `attempt + 1`."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.retry_after_cap)
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return (rng or random).uniform(ceiling / 2, ceiling)

    def with_delays(self, base_delay: float, max_delay: float) -> RetryPolicy:
        """The same decisions with other waits: tests use near-zero waits."""
        return replace(self, base_delay=base_delay, max_delay=max_delay)


# A timed-out attempt is not retried, not even a read: it has already kept the person waiting
# the whole configured timeout, and a server that accepted the request and then said nothing
# mostly says nothing again (three attempts at start-up were minutes of silence). Connect
# failures, quick and with no byte sent, are still retried.
_READ = RetryPolicy()
_WRITE = RetryPolicy()

DEFAULT_POLICIES: Final[dict[Operation, RetryPolicy]] = {
    Operation.AUTH: _READ,
    Operation.RESET: _WRITE,
    Operation.CONFIG: _READ,
    Operation.SEND: _WRITE,
    Operation.HISTORY: _READ,
    Operation.ACTION: _WRITE,
    Operation.RATE: _WRITE,
    Operation.EXPORT: _READ,
    Operation.BANNERS: _READ,
    Operation.SESSION: _READ,
    Operation.FORM: _READ,
    Operation.LIVECHAT: _WRITE,
    Operation.LIVECHAT_POLL: RetryPolicy(max_attempts=1),
}


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or HTTP-date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    # Here, not at the top: the `email` package costs a few ms on the way to the app's first
    # frame, and an HTTP-date Retry-After is rare.
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)
