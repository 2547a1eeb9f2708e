"""The bot-test inspector: every request, response, retry and SSE event of the conversation.

Why a Line API list: a long reply is 5,000+ events and the inspector sees each one on the UI
thread while the transcript is streaming. One widget per event would re-lay-out the screen
on every event; here an SSE event is only appended to a list (`record_sse`, a list's own
`append`), and while the panel is on screen a ticker publishes the new row count every
`FLUSH_INTERVAL`. Rows are made and formatted only when they are on screen (and then kept),
so an event that is never looked at costs nothing beyond the event itself.

Everything shown is `redact`ed (tokens, JWTs, Authorization values) and sanitized: SSE data is
server text, and a `done` event carries the rotated visitor token.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from typing import Any, ClassVar, Final, Literal, TypeAlias

import msgspec
from rich.segment import Segment
from rich.style import Style
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.geometry import Size
from textual.message import Message
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Static

from .. import timing
from ..api.redaction import redact
from ..api.retry import Operation
from ..api.trace import (
    RequestFinished,
    RequestStarted,
    ResponseReceived,
    RetryScheduled,
    SseEvent,
    TraceEvent,
    request_id_of,
)
from ..text import sanitize, sanitize_line

RowKind: TypeAlias = Literal["REQ", "RESP", "RETRY", "SSE", "DONE", "TURN", "END"]

_KIND_OF: Final[dict[type, RowKind]] = {
    RequestStarted: "REQ",
    ResponseReceived: "RESP",
    RetryScheduled: "RETRY",
    SseEvent: "SSE",
    RequestFinished: "DONE",
}

MAX_DETAIL_CHARS: Final = 64 * 1024
"""The detail pane shows at most this much: a 1 MB event would make it sluggish to scroll."""
_PREVIEW_WINDOW: Final = 8 * 1024
"""SSE data redacted for a row preview. Wider than any preview so that a secret straddling the
preview's end is still recognised whole and replaced, not cut to a half that no pattern matches."""
_PREVIEW_CHARS: Final = 240
_LABEL_CHARS: Final = 40


class InspectorRow(msgspec.Struct, gc=False):
    """One row: a trace event, a turn separator or a turn's figures.

    `ms` is the time since the start of the request it belongs to (None for turn rows).
    `text` holds the label of turn rows; `line` caches the formatted summary and preview.
    A struct the garbage collector does not track: there is one per SSE event, and what a
    row holds (a trace event, strings) never refers back to it, so it can be in no cycle.
    """

    kind: RowKind
    ms: float | None
    event: TraceEvent | None = None
    text: str = ""
    _line: tuple[str, str] | None = None

    @property
    def is_error(self) -> bool:
        event = self.event
        if isinstance(event, ResponseReceived):
            return not 200 <= event.status < 300
        if isinstance(event, RequestFinished):
            return event.outcome not in ("ok", "cancelled")
        if isinstance(event, SseEvent):
            return event.name == "error"
        return False

    def line(self) -> tuple[str, str]:
        """(summary, dim preview), redacted and on one line. Formatted on first display only."""
        if self._line is None:
            summary, preview = _summarize(self)
            self._line = (sanitize_line(redact(summary)), preview)
        return self._line

    def plain(self) -> str:
        """The row as it reads on screen, without colours (for tests and copying)."""
        summary, preview = self.line()
        if self.kind == "TURN":
            return f"── {summary}"
        time = f"{self.ms:,.0f} ms" if self.ms is not None else ""
        return f"{time:>9} {self.kind:<5} {summary}" + (f"  {preview}" if preview else "")


def _summarize(row: InspectorRow) -> tuple[str, str]:
    event = row.event
    if isinstance(event, RequestStarted):
        sent = " ".join(f"{name}={value}" for name, value in event.sent.items())
        return f"{event.method} {event.path} #{event.attempt}", sanitize_line(sent)
    if isinstance(event, ResponseReceived):
        return _response_summary(event), ""
    if isinstance(event, RetryScheduled):
        return f"retry #{event.attempt} in {event.delay:.2f} s ({event.reason})", ""
    if isinstance(event, SseEvent):
        # Redact a wide window before cutting, so a cut never splits a secret past recognition.
        preview = sanitize_line(redact(event.data[:_PREVIEW_WINDOW]))[:_PREVIEW_CHARS]
        return f"{event.name or 'message'} {event.size:,} B", preview
    if isinstance(event, RequestFinished):
        retries = f"{event.retries} retr{'y' if event.retries == 1 else 'ies'}"
        summary = f"finished {event.outcome} {event.elapsed:.2f} s, {retries}"
        if event.op is not Operation.SEND:
            summary = f"{event.op.value}: {summary}"
        if event.timed_out:
            summary += ", timed out"
        return summary, ""
    return row.text, ""


def _response_summary(event: ResponseReceived) -> str:
    headers = event.headers
    bits = [str(event.status)]
    content_type = headers.get("content-type")
    if content_type:
        bits.append(content_type.partition(";")[0].strip())
    request_id = request_id_of(headers)
    if request_id:
        bits.append(request_id)
    retry_after = headers.get("retry-after")
    if retry_after:
        bits.append(f"Retry-After: {retry_after}")
    return " ".join(bits)


def describe(row: InspectorRow) -> str:
    """The detail pane's text for a row: every field, SSE data pretty-printed when it is JSON.
    Redacted and sanitized; at most `MAX_DETAIL_CHARS` long."""
    event = row.event
    at = f"+{row.ms:,.0f} ms" if row.ms is not None else ""
    if isinstance(event, RequestStarted):
        body = _fields(
            f"Request {event.method} {event.path}",
            ("operation", event.op.value),
            ("attempt", str(event.attempt)),
            *event.sent.items(),
            ("at", at),
        )
    elif isinstance(event, ResponseReceived):
        body = _fields(
            f"Response {event.status}",
            ("operation", event.op.value),
            ("to headers", f"{event.elapsed * 1000:,.0f} ms"),
            ("at", at),
        )
        body += "\nheaders:\n" + (
            "\n".join(f"  {name}: {value}" for name, value in event.headers.items())
            or "  (none of interest)"
        )
    elif isinstance(event, RetryScheduled):
        body = _fields(
            f"Retry after attempt {event.attempt}",
            ("operation", event.op.value),
            ("wait", f"{event.delay:.2f} s"),
            ("reason", event.reason),
            ("at", at),
        )
    elif isinstance(event, SseEvent):
        body = f"event: {event.name or 'message'} · {event.size:,} B · {at}\n\n" + _pretty(
            event.data
        )
    elif isinstance(event, RequestFinished):
        body = _fields(
            f"Finished {event.method} {event.path}",
            ("operation", event.op.value),
            ("outcome", event.outcome),
            ("status", str(event.status) if event.status is not None else "none"),
            ("total", f"{event.elapsed:.3f} s"),
            ("retries", str(event.retries)),
            ("timed out", "yes" if event.timed_out else "no"),
            ("request id", event.request_id or "none"),
        )
    else:
        body = row.text
    body = sanitize(redact(body))
    if len(body) > MAX_DETAIL_CHARS:
        body = (
            body[:MAX_DETAIL_CHARS]
            + f"\n… {len(body) - MAX_DETAIL_CHARS:,} more characters not shown"
        )
    return body


def _fields(title: str, *pairs: tuple[str, str]) -> str:
    width = max(len(name) for name, _ in pairs)
    return title + "\n" + "\n".join(f"{name:<{width}}  {value}" for name, value in pairs if value)


def _pretty(data: str) -> str:
    try:
        decoded = json.loads(data)
    except ValueError:  # JSONDecodeError, and lone surrogates
        return data
    return json.dumps(decoded, indent=2, ensure_ascii=False)


# ---------------------------------------------------------------------------------------------
# The event list


@dataclass(frozen=True, slots=True)
class _Styles:
    base: Style
    cursor: Style
    time: Style
    text: Style
    preview: Style
    error: Style
    turn: Style
    figures: Style
    kinds: dict[str, Style]


class EventList(ScrollView, can_focus=True):
    """Rows of the inspector on the Line API: O(1) to append, only visible rows are drawn."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "inspector--cursor",
        "inspector--time",
        "inspector--text",
        "inspector--preview",
        "inspector--error",
        "inspector--turn",
        "inspector--figures",
        "inspector--req",
        "inspector--resp",
        "inspector--retry",
        "inspector--sse",
        "inspector--done",
    }

    DEFAULT_CSS = """
    EventList {
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        /* Always reserve the scrollbar: one appearing would shift every row as events arrive. */
        overflow-y: scroll;
        scrollbar-size-vertical: 1;
        & > .inspector--cursor { background: $foreground 12%; }
        &:focus > .inspector--cursor { background: $accent 40%; }
        & > .inspector--time { color: $text-muted; }
        & > .inspector--text { color: $foreground; }
        & > .inspector--preview { color: $text-muted; }
        & > .inspector--error { color: $text-error; text-style: bold; }
        & > .inspector--turn { color: $text-accent; text-style: bold; }
        & > .inspector--figures { color: $text-success; }
        & > .inspector--req { color: $text-primary; }
        & > .inspector--resp { color: $text-secondary; }
        & > .inspector--retry { color: $text-warning; text-style: bold; }
        & > .inspector--sse { color: $text-muted; }
        & > .inspector--done { color: $text-success; text-style: bold; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Previous", show=False),
        Binding("down", "cursor(1)", "Next", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last (follow)", show=False),
        Binding("enter", "select", "Show detail", show=False),
    ]

    FLUSH_INTERVAL: ClassVar[float] = 1 / 30
    """Seconds between two publications of new rows while the list is on screen; rows
    arriving in between are shown together, so a burst of events costs one layout."""
    MAX_ROWS: ClassVar[int] = 200_000
    """Beyond this the oldest rows go, down to nine tenths of it (so trimming stays amortised
    O(1)), at the next `record` or tick: rows `record_sse` adds while the panel is hidden
    wait for the end of their request."""
    MAX_KEPT_BYTES: ClassVar[int] = 32 * 1024 * 1024
    """What the kept rows may weigh, counted as each SSE event's data plus `ROW_BYTES` per row:
    beyond it the oldest rows go, down to nine tenths, as for `MAX_ROWS`. A 10 MB reply is
    half a million events; without this cap their rows would stay until 200,000 later ones
    pushed them out."""
    ROW_BYTES: ClassVar[int] = 200
    """About what a row costs beside its data (the event's struct, its strings, the list slot)."""

    @dataclass
    class Highlighted(Message):
        """The cursor moved to a row, or it was chosen with Enter or a click."""

        event_list: EventList
        index: int
        row: InspectorRow

    @dataclass
    class Flushed(Message):
        """New rows were published (for a row count in a title)."""

        event_list: EventList
        count: int
        dropped: int = 0
        """Older rows dropped so far to keep within `MAX_ROWS` and `MAX_KEPT_BYTES`."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        # An SSE event stays as it came until its row is asked for (`row`): a reply brings
        # thousands, most never looked at.
        self._rows: list[InspectorRow | SseEvent] = []
        self.record_sse: Callable[[SseEvent], None] = self._rows.append
        """For the client's SSE observer (`add_sse_observer`): a list append, the cheapest
        hook there is for thousands of events a reply. The ticker publishes (and trims) what
        it adds while the list is on screen; `record` trims too."""
        self.cursor: int | None = None
        """The selected row, None until the person picks one (following moves no cursor)."""
        self.follow = True
        """Keep the last row in view. Scrolling up clears it; reaching the bottom restores it."""
        self._turns = 0
        self._starts: dict[Operation, float] = {}
        self._open: set[Operation] = set()
        """Requests started and not yet finished: while any is, the ticker keeps going."""
        self._published = 0
        self._flush_queued = False
        self._trimmed = False
        self._kept_bytes = 0
        """What the first `_counted` rows weigh (see `MAX_KEPT_BYTES`)."""
        self._counted = 0
        """Rows weighed so far: the ones `record_sse` appended since are weighed at a trim."""
        self.dropped = 0
        """Older rows dropped since the last `clear`, to keep within the caps."""
        self._programmatic_scroll = False
        self._styles: _Styles | None = None
        # On screen: while the panel is hidden, rows are only recorded, and published when
        # it shows (each publication would otherwise reflow the whole screen mid-stream).
        self._on_screen = False
        self._ticker: Timer | None = None

    # -- the model: cheap, callable before mount --------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._rows)

    def row(self, index: int) -> InspectorRow:
        """The row at `index` (made now for an SSE event recorded as it came)."""
        row = self._rows[index]
        if type(row) is SseEvent:
            row = self._rows[index] = InspectorRow("SSE", row.elapsed * 1000, row)
        return row  # type: ignore[return-value]  # made one just above if it was not

    def record(self, trace: TraceEvent) -> None:
        """Append one trace event. No formatting, no layout."""
        if type(trace) is SseEvent:
            self._append(trace)
        elif isinstance(trace, RequestFinished):
            self._open.discard(trace.op)
            self._append(InspectorRow("DONE", trace.elapsed * 1000, trace))
        elif isinstance(trace, (RequestStarted, ResponseReceived, RetryScheduled)):
            # These carry no request-relative time, so stamp them here.
            now = timing.now()
            if isinstance(trace, RequestStarted) and trace.attempt == 1:
                self._starts[trace.op] = now
                self._open.add(trace.op)
            ms = (now - self._starts.get(trace.op, now)) * 1000
            self._append(InspectorRow(_KIND_OF[type(trace)], ms, trace))

    def begin_turn(self, label: str) -> None:
        self._turns += 1
        # Redact before cutting: a cut secret would no longer match a pattern and half would show.
        text = " ".join(redact(label).split())
        if len(text) > _LABEL_CHARS:
            text = text[: _LABEL_CHARS - 1] + "…"
        row = InspectorRow("TURN", None, text=f"Turn {self._turns} · '{text}'")
        self._append(row)

    def end_turn(self, summary: str) -> None:
        self._append(InspectorRow("END", None, text=f"Turn {self._turns}: {summary}"))

    def clear(self) -> None:
        self._rows.clear()
        self._kept_bytes = self._counted = self.dropped = 0
        self.cursor = None
        self.follow = True
        self._turns = 0
        self._starts.clear()
        self._schedule()

    def _append(self, row: InspectorRow | SseEvent) -> None:
        self._rows.append(row)
        self._after_append()

    def _after_append(self) -> None:
        self._trim_to_fit()
        if self._on_screen and self._ticker is not None:
            self._ticker.resume()

    def _trim_to_fit(self) -> None:
        """Over MAX_ROWS or MAX_KEPT_BYTES, the oldest go, down to nine tenths of the cap (so
        trimming stays amortised O(1))."""
        excess = len(self._rows) - self.MAX_ROWS
        if excess > 0:
            self._trim(excess + self.MAX_ROWS // 10)
        rows = self._rows
        if self._counted < len(rows):
            self._kept_bytes += sum(map(self._weight, islice(rows, self._counted, None)))
            self._counted = len(rows)
        if self._kept_bytes > self.MAX_KEPT_BYTES:
            target = self._kept_bytes - self.MAX_KEPT_BYTES * 9 // 10
            freed = count = 0
            for row in rows:
                if freed >= target:
                    break
                freed += self._weight(row)
                count += 1
            self._trim(count)

    @classmethod
    def _weight(cls, row: InspectorRow | SseEvent) -> int:
        if type(row) is SseEvent:
            return row.size + cls.ROW_BYTES
        event = row.event  # type: ignore[union-attr]  # an InspectorRow, then
        return (event.size if type(event) is SseEvent else 0) + cls.ROW_BYTES

    def _trim(self, count: int) -> None:
        weighed = min(count, self._counted)
        self._kept_bytes -= sum(map(self._weight, islice(self._rows, weighed)))
        self._counted -= weighed
        self.dropped += min(count, len(self._rows))
        del self._rows[:count]
        if self.cursor is not None:
            self.cursor = self.cursor - count if self.cursor >= count else None
        if not self.follow and self.is_mounted:
            self._scroll_quietly(max(0, self.scroll_offset.y - count))
        self._published = min(self._published, len(self._rows))
        self._trimmed = True

    def _schedule(self) -> None:
        """A flush soon (not at the next tick): for changes the person just asked for."""
        if self.is_mounted:
            self.call_later(self._flush)

    def _tick(self) -> None:
        """While on screen: publish what arrived since the last tick. Idle (nothing new, no
        request open), the ticker rests until `record` hears of a request (every stream of
        SSE events is inside one)."""
        self._trim_to_fit()
        if self._trimmed or len(self._rows) != self._published:
            self._flush()
        elif not self._open and self._ticker is not None:
            self._ticker.pause()

    # -- publishing -------------------------------------------------------------------------------

    def _flush(self) -> None:
        """Publish the rows recorded since the last flush: one layout, one scroll, one repaint."""
        self._trimmed = self._flush_queued = False
        count = len(self._rows)
        width = self.scrollable_content_region.width
        self.virtual_size = Size(width, count)
        if self.follow:
            self._scroll_quietly(max(0, count - self.scrollable_content_region.height))
        self.refresh()
        if count != self._published:
            self._published = count
            self.post_message(self.Flushed(self, count, self.dropped))

    def _scroll_quietly(self, y: int) -> None:
        self._programmatic_scroll = True
        try:
            self.scroll_to(y=y, animate=False, force=True)
        finally:
            self._programmatic_scroll = False

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if not self._programmatic_scroll:
            self.follow = new_value >= self.max_scroll_y

    def on_mount(self) -> None:
        self._ticker = self.set_interval(self.FLUSH_INTERVAL, self._tick, pause=not self._on_screen)
        self._flush()  # rows recorded before mount (ScrollView's own on_mount runs as well)
        self.screen.screen_layout_refresh_signal.subscribe(self, self._layout_refreshed)

    def _layout_refreshed(self, screen: Screen[Any]) -> None:
        """After each layout: make up for a Show (or Hide) that Textual did not send.

        Textual sends Show to the widgets its layout map did not hold before. Showing the panel
        again measures it at once (`display = True` or a class refreshes it), and if anything in
        the panel was refreshed while it was hidden, that rebuilds the map before the layout
        runs, with the list in it already: no Show, and the ticker would rest for good."""
        displayed = all(
            node.display for node in self.ancestors_with_self if isinstance(node, Widget)
        )
        if displayed != self._on_screen:
            if displayed:
                self.on_show()
            else:
                self.on_hide()

    def on_resize(self) -> None:
        self._flush()

    def on_show(self) -> None:
        self._on_screen = True
        self._trim_to_fit()
        self._flush()
        if self._ticker is not None:
            self._ticker.resume()

    def on_hide(self) -> None:
        self._on_screen = False
        if self._ticker is not None:
            self._ticker.pause()

    # -- drawing ----------------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = None

    def on_focus(self, event: events.Focus) -> None:
        self._styles = None  # the cursor colour depends on focus
        self.refresh()

    def on_blur(self, event: events.Blur) -> None:
        self._styles = None
        self.refresh()

    def _get_styles(self) -> _Styles:
        if self._styles is None:

            def overlay(name: str) -> Style:
                # Colour and attributes only: the row's background (cursor or not) stays.
                full = self.get_component_rich_style(name)
                return Style(
                    color=full.color, bold=full.bold, italic=full.italic, underline=full.underline
                )

            cursor = self.get_component_rich_style("inspector--cursor")
            self._styles = _Styles(
                base=self.rich_style,
                cursor=Style(bgcolor=cursor.bgcolor),
                time=overlay("inspector--time"),
                text=overlay("inspector--text"),
                preview=overlay("inspector--preview"),
                error=overlay("inspector--error"),
                turn=overlay("inspector--turn"),
                figures=overlay("inspector--figures"),
                kinds={
                    kind: overlay(f"inspector--{kind.lower()}")
                    for kind in ("REQ", "RESP", "RETRY", "SSE", "DONE")
                },
            )
        return self._styles

    def render_line(self, y: int) -> Strip:
        if not self._flush_queued and len(self._rows) != self._published:
            # Painted with rows not yet published and no tick to come (a ticker that rested,
            # or a Show that came before the last rows): publish them after this frame.
            self._flush_queued = True
            self.call_later(self._flush)
        styles = self._get_styles()
        width = self.scrollable_content_region.width
        index = self.scroll_offset.y + y
        if not 0 <= index < len(self._rows):
            return Strip.blank(width, styles.base)
        row = self.row(index)
        base = styles.base + styles.cursor if index == self.cursor else styles.base
        return Strip(_row_segments(row, base, styles)).crop_extend(0, width, base)

    def row_text(self, index: int) -> str:
        return self.row(index).plain()

    def visible_rows(self) -> list[str]:
        """The plain text of the rows in the viewport."""
        top = self.scroll_offset.y
        end = min(len(self._rows), top + self.scrollable_content_region.height)
        return [self.row(i).plain() for i in range(top, end)]

    # -- navigation -------------------------------------------------------------------------------

    def move_cursor(self, index: int) -> None:
        """Select a row, bring it into view and announce it."""
        if not self._rows:
            return
        index = max(0, min(index, len(self._rows) - 1))
        old, self.cursor = self.cursor, index
        top, height = self.scroll_offset.y, self.scrollable_content_region.height
        if index < top:
            self.scroll_to(y=index, animate=False, force=True)
        elif index >= top + height:
            self.scroll_to(y=index - height + 1, animate=False, force=True)
        # A cursor on the last row follows; anywhere else it holds the view still.
        self.follow = index == len(self._rows) - 1
        for line in (old, index):
            if line is not None:
                self.refresh_line(line)
        self.post_message(self.Highlighted(self, index, self.row(index)))

    def _default_cursor(self) -> int:
        """Where the first key press starts: the last row (or the bottom of the view)."""
        top, height = self.scroll_offset.y, self.scrollable_content_region.height
        return min(len(self._rows), top + height) - 1

    def action_cursor(self, step: int) -> None:
        # The first key press selects a row in view; the next ones move from it.
        self.move_cursor(self._default_cursor() if self.cursor is None else self.cursor + step)

    def action_page(self, direction: int) -> None:
        height = max(1, self.scrollable_content_region.height - 1)
        start = self._default_cursor() if self.cursor is None else self.cursor
        self.move_cursor(start + direction * height)

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(len(self._rows) - 1)
        self.follow = True

    def action_select(self) -> None:
        self.move_cursor(self._default_cursor() if self.cursor is None else self.cursor)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        index = self.scroll_offset.y + offset.y
        if 0 <= index < len(self._rows):
            self.focus()
            self.move_cursor(index)


def _row_segments(row: InspectorRow, base: Style, styles: _Styles) -> list[Segment]:
    summary, preview = row.line()
    if row.kind == "TURN":
        return [Segment(f"── {summary} ", base + styles.turn)]
    time = f"{row.ms:,.0f} ms" if row.ms is not None else ""
    if row.kind == "END":
        kind_style = text_style = styles.figures
    elif row.is_error:
        kind_style = text_style = styles.error
    else:
        kind_style, text_style = styles.kinds[row.kind], styles.text
    segments = [
        Segment(f"{time:>9} ", base + styles.time),
        Segment(f"{row.kind:<5} ", base + kind_style),
        Segment(summary, base + text_style),
    ]
    if preview:
        segments.append(Segment("  " + preview, base + styles.preview))
    return segments


# ---------------------------------------------------------------------------------------------
# The panel


class Inspector(Widget):
    """The inspector panel: the event list above, the selected row's detail below.

    Feed it with `record` (pass it as, or call it from, the client's observer), and mark turns
    with `begin_turn` / `end_turn`. All four methods are for the app's thread.
    """

    DEFAULT_CSS = """
    Inspector {
        layout: vertical;
        width: 1fr;
        height: 1fr;
        border-left: vkey $foreground 20%;
        background: $surface;
        & > #inspector-title {
            height: 1;
            padding: 0 1;
            background: $panel;
            color: $text-muted;
            text-style: bold;
        }
        & > EventList { height: 3fr; }
        & > #inspector-detail {
            height: 2fr;
            border-top: solid $foreground 20%;
            padding: 0 1;
            background: $surface;
        }
        & #inspector-detail-text { width: 1fr; }
    }
    """

    TITLE: ClassVar[str] = "Inspector · ↑↓ select · Home/End · click for detail"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        # Built here, not in compose: the app may record before the panel is ever shown.
        self.event_list = EventList()
        self.detail_text = ""
        """The plain text in the detail pane (what is displayed, already redacted)."""

    def compose(self) -> ComposeResult:
        yield Static(Content(self.TITLE), id="inspector-title")
        yield self.event_list
        with VerticalScroll(id="inspector-detail"):
            # A note shown before the panel was first mounted (`show_note`) is kept.
            shown = self.detail_text or "Select a row to see its detail."
            yield Static(Content(shown), id="inspector-detail-text")

    # -- the API the app calls --------------------------------------------------------------------

    def record(self, trace: TraceEvent) -> None:
        """O(1): append the event; the list shows it at its next flush."""
        self.event_list.record(trace)

    def begin_turn(self, label: str) -> None:
        """A separator row `Turn N · 'label…'`; `label` is the turn's message text."""
        self.event_list.begin_turn(label)

    def end_turn(self, summary: str) -> None:
        """The turn's figures (`TurnFigures.summary()`) as a row under its events."""
        self.event_list.end_turn(summary)

    def clear(self) -> None:
        self.event_list.clear()
        self._show("Select a row to see its detail.")

    @property
    def row_count(self) -> int:
        return self.event_list.row_count

    def show_note(self, text: str) -> None:
        """Show `text` in the detail pane (session values, form definitions)."""
        self._show(redact(text))

    # -- detail -----------------------------------------------------------------------------------

    @on(EventList.Highlighted)
    def _highlighted(self, message: EventList.Highlighted) -> None:
        message.stop()
        self._show(describe(message.row))

    @on(EventList.Flushed)
    def _flushed(self, message: EventList.Flushed) -> None:
        message.stop()
        title = f"{self.TITLE} · {message.count:,} rows"
        if message.dropped:
            title += f" · {message.dropped:,} older dropped (kept: the latest)"
        self.query_one("#inspector-title", Static).update(Content(title))

    def _show(self, text: str) -> None:
        self.detail_text = text
        if self.is_mounted:
            # Content, not markup: server data must never be read as Textual markup.
            self.query_one("#inspector-detail-text", Static).update(Content(text))
            self.query_one("#inspector-detail", VerticalScroll).scroll_home(animate=False)
