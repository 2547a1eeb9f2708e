"""Server-Sent Events: httpx-sse parses them, behind a byte-level guard of our own.

httpx-sse (`EventSource.aiter_sse()`, the design card's package) turns the stream into events.
Checked against httpx-sse 0.4.3, on its own it does not give this client what it needs:

* comment lines (`: keep-alive`) are swallowed inside its iterator, so a caller cannot count
  them as liveness for the stream idle timeout;
* a line, or an event, has no size limit: a server that never sends a newline (or never ends
  an event) grows memory without bound;
* text is decoded with the response's declared charset, while SSE is always UTF-8, and a
  leading byte-order mark is not removed;
* it dispatches events the spec drops: one with no `data:` line, and, once any `id:` has been
  seen, an empty phantom event for every further blank line (`: keep-alive\\n\\n` included).

So the body's bytes pass through `SSEGuard` first. It splits lines on bytes (only CR, LF and
CRLF end a line; U+2028, U+2029 and U+0085 are multi-byte in UTF-8 and stay ordinary text),
counts every line (comments too: liveness), bounds the size of an event, drops the byte-order
mark, and passes on only complete events that have a data line, re-framed with LF line ends.
httpx-sse then reads those bytes from a response that declares UTF-8 (`event_source`).

An event without its closing blank line is never dispatched (WHATWG HTML, "event stream
interpretation"): the guard holds it back until that line, and drops it at the end of input.
The property tests check the pair against the spec and against httpx-sse alone on well-formed
streams, under any byte split.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Final

import httpx
import httpx_sse

ServerSentEvent = httpx_sse.ServerSentEvent

DEFAULT_MAX_EVENT_BYTES: Final = 16 * 1024 * 1024
"""Largest accepted event (its field lines). A whole `done` message is one event: generous."""

_LINE_END: Final = re.compile(rb"\r\n|\r|\n")
_BOM: Final = "\ufeff".encode()
_COLON: Final = ord(":")
_HEADERS: Final = {"content-type": "text/event-stream; charset=utf-8"}


class SSEEventTooLong(Exception):
    """An event (or a line) exceeded the guard's limit; the stream cannot be trusted further."""


class SSEGuard:
    """Feed raw body chunks in any split; get back the complete events in them, as bytes.

    `lines` and `comments` count what has been seen: a caller uses `lines` to notice progress
    even when no event was completed (keep-alive comments, a long event arriving line by line).
    """

    def __init__(self, *, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._max = max_event_bytes
        # The unfinished line, kept as pieces: joining on every chunk would be quadratic.
        self._partial: list[bytes] = []
        self._partial_len = 0
        self._skip_lf = False  # the previous chunk ended in CR: a leading LF belongs to it
        self._at_start = True
        self._block: list[bytes] = []  # the field lines of the event being read
        self._block_len = 0
        self._has_data = False
        self._carried: list[bytes] = []  # `id:` lines of dropped events (the id is sticky)
        self.lines = 0
        self.comments = 0

    @property
    def has_partial_event(self) -> bool:
        """True if the input so far ends inside an event (useful to describe a truncation)."""
        return bool(self._partial) or bool(self._block)

    def feed(self, chunk: bytes) -> bytes:
        """The events completed by `chunk`: their field lines, LF-ended, a blank line after each."""
        if self._passes_as_is(chunk):
            self.lines += chunk.count(b"\n")
            return chunk
        if self._skip_lf and chunk:
            self._skip_lf = False
            if chunk[0] == 0x0A:
                chunk = chunk[1:]
        if not chunk:
            return b""
        out: list[bytes] = []
        block = self._block
        position = 0
        for match in _LINE_END.finditer(chunk):
            line = chunk[position : match.start()]
            position = match.end()
            if self._partial:
                self._partial.append(line)
                line = b"".join(self._partial)
                self._partial.clear()
                self._partial_len = 0
            if self._at_start:
                self._at_start = False
                if line.startswith(_BOM):
                    line = line[len(_BOM) :]
            self.lines += 1
            if not line:
                if self._has_data:
                    if self._carried:
                        block[:0] = self._carried
                        self._carried.clear()
                    block.append(b"\n")
                    out.append(b"\n".join(block))
                else:
                    # The spec drops an event with no data line; its id still counts.
                    self._carried += [f for f in block if f == b"id" or f.startswith(b"id:")]
                block.clear()
                self._block_len = 0
                self._has_data = False
            elif line[0] == _COLON:
                self.comments += 1
            else:
                if not self._has_data and (
                    line == b"data" or (line.startswith(b"data") and line[4] == _COLON)
                ):
                    self._has_data = True
                block.append(line)
                self._block_len += len(line) + 1
                if self._block_len > self._max:
                    raise SSEEventTooLong(f"an SSE event exceeded {self._max} bytes")
        rest = chunk[position:]
        if rest:
            self._partial_len += len(rest)
            if self._partial_len + self._block_len > self._max:
                raise SSEEventTooLong(f"an SSE line exceeded {self._max} bytes")
            self._partial.append(rest)
        elif chunk[-1] == 0x0D:
            # The CR already ended a line; if the next chunk starts with LF, that LF is its pair.
            self._skip_lf = True
        return b"".join(out)

    def _passes_as_is(self, chunk: bytes) -> bool:
        """The usual chunk, and the fast path: whole events with LF line ends, each with a
        `data:` line, nothing held from before, no comments, no blank lines to drop."""
        if (
            self._partial
            or self._block
            or self._carried
            or self._skip_lf
            or self._at_start
            or len(chunk) > self._max
            or not chunk.endswith(b"\n\n")
            or chunk[0] in b"\n:"
            or b"\r" in chunk
            or b"\n:" in chunk
            or b"\n\n\n" in chunk
        ):
            return False
        for event in chunk[:-2].split(b"\n\n"):
            if not (event.startswith(b"data:") or b"\ndata:" in event):
                return False
        return True


class _Framed(httpx.AsyncByteStream):
    def __init__(self, framed: AsyncIterator[bytes]) -> None:
        self._framed = framed

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._framed


def event_source(framed: AsyncIterator[bytes]) -> AsyncGenerator[ServerSentEvent, None]:
    """httpx-sse's events from bytes `SSEGuard` has passed on, read as UTF-8 whatever the
    server declared. Close the returned generator when done with it; `framed` is not closed."""
    response = httpx.Response(200, headers=_HEADERS, stream=_Framed(framed))
    return httpx_sse.EventSource(response).aiter_sse()
