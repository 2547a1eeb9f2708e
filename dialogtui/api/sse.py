"""An incremental Server-Sent Events parser that works on bytes.

Why not `httpx_sse.EventSource.aiter_sse()` (the design card's package)? Checked against
httpx-sse 0.4.3, these behaviours do not fit this client:

* comment lines (`: keep-alive`) are swallowed inside the iterator, so a caller cannot see
  them and cannot count them as liveness for the stream idle timeout;
* a line has no size limit: a server that never sends a newline grows memory without bound;
* text is decoded with the response's declared charset, while SSE is always UTF-8, and a
  leading byte-order mark is not removed;
* it dispatches events the spec drops: one with no `data:` line, and, once any `id:` has been
  seen, an empty phantom event for every further blank line (`: keep-alive\n\n` included).

Truncated streams are handled the same way in both: an event without its closing blank line
is never dispatched (WHATWG HTML, "event stream interpretation"). The property tests check
that, for well-formed streams, this parser and httpx-sse produce the same events.

Only the characters CR, LF and CRLF end a line; U+2028, U+2029 and U+0085 are ordinary text
here (`str.splitlines()` would split on them and corrupt JSON data lines).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Final

DEFAULT_MAX_LINE_CHARS: Final = 16 * 1024 * 1024
"""Longest accepted line. A whole `done` message travels in one line, so this is generous."""

_LINE_END: Final = re.compile(r"\r\n|\r|\n")
_BOM: Final = "\ufeff"


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    event: str
    data: str
    id: str | None = None
    retry: int | None = None


class SSELineTooLong(Exception):
    """A single line exceeded the parser's limit; the stream cannot be trusted any further."""


class SSEParser:
    """Feed raw body chunks in any split; get complete events back in order.

    `lines` and `comments` count what has been seen: a caller uses `lines` to notice progress
    even when no event was completed (keep-alive comments, a long event arriving line by line).
    """

    def __init__(self, *, max_line_chars: int = DEFAULT_MAX_LINE_CHARS) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._max_line = max_line_chars
        # The unfinished line, kept as pieces: joining on every chunk would be quadratic.
        self._partial: list[str] = []
        self._partial_len = 0
        self._skip_lf = False  # the previous chunk ended in CR: a leading LF belongs to it
        self._at_start = True
        self._event = ""
        self._data: list[str] = []
        self._has_data = False
        self._last_id: str | None = None
        self._retry: int | None = None
        self.lines = 0
        self.comments = 0

    @property
    def has_partial_event(self) -> bool:
        """True if the input so far ends inside an event (useful to describe a truncation)."""
        return bool(self._partial) or self._has_data or bool(self._event)

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        text = self._decoder.decode(chunk)
        return self._feed_text(text) if text else []

    def close(self) -> list[ServerSentEvent]:
        """End of input. An event without its closing blank line is discarded, per the spec."""
        tail = self._decoder.decode(b"", final=True)
        events = self._feed_text(tail) if tail else []
        self._partial.clear()
        self._partial_len = 0
        return events

    def _feed_text(self, text: str) -> list[ServerSentEvent]:
        if self._at_start:
            self._at_start = False
            if text.startswith(_BOM):
                text = text[1:]
        if self._skip_lf:
            self._skip_lf = False
            if text.startswith("\n"):
                text = text[1:]
        events: list[ServerSentEvent] = []
        position = 0
        for match in _LINE_END.finditer(text):
            self._append_partial(text[position : match.start()])
            line = "".join(self._partial)
            self._partial.clear()
            self._partial_len = 0
            position = match.end()
            event = self._process_line(line)
            if event is not None:
                events.append(event)
        self._append_partial(text[position:])
        if text.endswith("\r"):
            # The CR already ended a line; if the next chunk starts with LF, that LF is its pair.
            self._skip_lf = True
        return events

    def _append_partial(self, piece: str) -> None:
        if not piece:
            return
        self._partial_len += len(piece)
        if self._partial_len > self._max_line:
            raise SSELineTooLong(f"an SSE line exceeded {self._max_line} characters")
        self._partial.append(piece)

    def _process_line(self, line: str) -> ServerSentEvent | None:
        self.lines += 1
        if not line:
            return self._dispatch()
        if line[0] == ":":
            self.comments += 1
            return None
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
            self._has_data = True
        elif field == "event":
            self._event = value
        elif field == "id":
            if "\0" not in value:
                self._last_id = value
        elif field == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)
        # Any other field name is ignored, as the spec says.
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        if not self._has_data:
            # The spec drops an event with no data lines (a lone `event:` line, say).
            self._event = ""
            return None
        event = ServerSentEvent(
            event=self._event or "message",
            data="\n".join(self._data),
            id=self._last_id,
            retry=self._retry,
        )
        self._event = ""
        self._data = []
        self._has_data = False
        self._retry = None
        return event
