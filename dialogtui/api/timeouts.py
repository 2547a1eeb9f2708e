"""How long the client waits, per phase of a request.

A module of its own so that the app and `Target` can name timeouts without importing the
HTTP client: httpx costs tens of milliseconds to import, before the app's first frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 5.0
    read: float = 30.0
    """Per socket read; for a send, the wait for the response headers."""
    write: float = 10.0
    pool: float = 5.0
    stream_idle: float = 60.0
    """Longest gap between two SSE lines (keep-alive comments count) once a stream is open."""

    def to_httpx(self) -> httpx.Timeout:
        import httpx  # only the client calls this, and it has imported httpx already

        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)
