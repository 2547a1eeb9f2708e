"""The inspector panel, driven with Pilot and fed by a real DialogClient against the dev server."""

from __future__ import annotations

import asyncio
import gc
import json
from time import monotonic
from collections.abc import Callable

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from dialogtui.api.client import DialogClient
from dialogtui.api.errors import DialogError
from dialogtui.api.retry import Operation
from dialogtui.api.trace import RequestFinished, RequestStarted, ResponseReceived, SseEvent
from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID, DevServer
from dialogtui.session import ChatSession, Turn
from dialogtui.ui.inspector import MAX_DETAIL_CHARS, EventList, Inspector, InspectorRow, describe

SIZE = (110, 40)
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ2aXNpdG9yIn0.c2lnbmF0dXJlLXNlY3JldA"
BEARER = "Bearer sekrit-token-123"


class InspectorApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Inspector()

    @property
    def inspector(self) -> Inspector:
        return self.query_one(Inspector)


async def wait_for(
    pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 10.0
) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("condition not met in time")


async def published(pilot: Pilot[None], inspector: Inspector) -> None:
    """Wait until every recorded row is on the list (flushes are batched)."""
    events = inspector.event_list
    await wait_for(pilot, lambda: events.virtual_size.height == inspector.row_count)
    await pilot.pause()


def rendered(events: EventList) -> list[str]:
    """What the list paints, through its real render path."""
    return [
        events.render_line(y).text.rstrip() for y in range(events.scrollable_content_region.height)
    ]


def make_session(server: DevServer, inspector: Inspector) -> ChatSession:
    """Wired the way the app wires it: client -> session (figures) -> inspector."""
    client = DialogClient(server.base_url, DEMO_CHATBOT_ID, api_key=DEMO_API_KEY)
    session = ChatSession(client)
    client.add_observer(session.observe, sse=False)
    session.add_listener(inspector.event_list.record, sse=False)
    session.add_sse_listener(inspector.event_list.record_sse)
    return session


async def run_turn(inspector: Inspector, session: ChatSession, text: str) -> Turn:
    inspector.begin_turn(text)
    turn = Turn(text=text)
    try:
        async for _ in session.stream_turn(turn):
            pass
    except DialogError:
        pass
    inspector.end_turn(turn.figures.summary())
    return turn


async def test_an_ok_turn_lists_request_response_events_and_outcome(server: DevServer) -> None:
    app = InspectorApp()
    async with app.run_test(size=SIZE) as pilot:
        inspector = app.inspector
        session = make_session(server, inspector)
        async with session.client as client:
            turn = await run_turn(
                inspector, session, "hello inspector, this is a rather long first message"
            )
            token = client.visitor_token
        await published(pilot, inspector)
        events = inspector.event_list
        rows = [events.row_text(i) for i in range(inspector.row_count)]
        assert rows[0].startswith("── Turn 1 · 'hello inspector, this is a rather long") and rows[
            0
        ].endswith("…'")
        assert any("REQ   POST /api/v1/chat/auth #1" in row for row in rows)
        send = next(i for i, row in enumerate(rows) if "REQ   POST /api/v1/chat/messages #1" in row)
        response = rows[send + 1]
        assert "RESP  200 text/event-stream req_" in response
        sse = [row for row in rows if " SSE " in row]
        assert len(sse) == turn.figures.events
        assert "status 22 B" in sse[0] or "status" in sse[0]
        assert any("SSE   done " in row for row in rows)
        assert "DONE  finished ok" in rows[-2] and "0 retries" in rows[-2]
        assert rows[-1].strip().startswith("END   Turn 1: headers ")
        assert turn.figures.summary() in rows[-1]
        # Following: the end of the list is what is painted.
        assert rendered(events)[-1].strip() == rows[-1].strip()
        # The rotated visitor token rides in `done`: never displayed, in the row or its detail.
        assert token is not None
        done_index = next(i for i, row in enumerate(rows) if "SSE   done " in row)
        assert all(token not in row for row in rows)
        await pilot.click(EventList, offset=(5, 0))  # any row: focus the list
        events.move_cursor(done_index)
        await pilot.pause()
        assert '"visitor_token": "[REDACTED]"' in inspector.detail_text
        assert token not in inspector.detail_text
        assert '"message": {' in inspector.detail_text  # pretty-printed with indent=2


async def test_a_rate_limited_turn_shows_the_retry_and_its_wait(server: DevServer) -> None:
    server.config.retry_after = 2
    app = InspectorApp()
    async with app.run_test(size=SIZE) as pilot:
        inspector = app.inspector
        waits: list[float] = []

        session = make_session(server, inspector)

        async def no_sleep(delay: float) -> None:
            waits.append(delay)  # the wait is the subject, not something to sit through

        session.client._sleep = no_sleep
        async with session.client:
            turn = await run_turn(inspector, session, "slow down !rate_limited_once")
        assert turn.outcome == "done" and waits == [2.0]
        await published(pilot, inspector)
        events = inspector.event_list
        rows = [events.row_text(i) for i in range(inspector.row_count)]
        refused = next(i for i, row in enumerate(rows) if "RESP  429" in row)
        assert "application/json" in rows[refused] and "req_" in rows[refused]
        assert rows[refused].endswith("Retry-After: 2")
        assert "RETRY retry #1 in 2.00 s (status 429)" in rows[refused + 1]
        assert "REQ   POST /api/v1/chat/messages #2" in rows[refused + 2]
        assert "DONE  finished ok" in rows[-2] and "1 retry" in rows[-2]
        assert "1 retry" in rows[-1]  # the turn's figures count it too
        events.focus()
        events.move_cursor(refused + 1)
        await pilot.pause()
        assert "wait       2.00 s" in inspector.detail_text
        assert "reason     status 429" in inspector.detail_text


async def test_a_long_reply_is_virtualised_navigable_and_pretty(server: DevServer) -> None:
    app = InspectorApp()
    async with app.run_test(size=SIZE) as pilot:
        inspector = app.inspector
        session = make_session(server, inspector)
        async with session.client:
            turn = await run_turn(inspector, session, "go long !long")
        assert turn.outcome == "done" and turn.figures.events > 5000
        await published(pilot, inspector)
        events = inspector.event_list
        count = inspector.row_count
        assert count > 5000
        assert not events.children  # one Line API widget, not a widget per event
        assert events.follow and "END   Turn 1:" in rendered(events)[-1]

        events.focus()
        await pilot.press("home")
        assert events.cursor == 0 and not events.follow
        painted = rendered(events)
        assert painted[0].startswith("── Turn 1 · 'go long !long'")
        assert "REQ   POST /api/v1/chat/auth #1" in painted[1]

        await pilot.press("end")
        await pilot.pause()
        assert events.cursor == count - 1 and events.follow
        assert "END   Turn 1:" in rendered(events)[-1]

        await pilot.press("pageup", "pageup", "up")
        await pilot.pause()
        cursor = events.cursor
        assert cursor is not None and cursor < count - 2 * 10 and not events.follow
        top = events.scroll_offset.y
        assert events.row_text(cursor).startswith(
            rendered(events)[cursor - top]
        )  # in view, cut to width
        row = events.row(cursor)
        assert row.kind == "SSE"
        detail = inspector.detail_text
        assert detail.startswith("event: part_delta · ")
        assert '{\n  "part_id": "part_' in detail and '"action": "append_text"' in detail

        # A click selects the row under the pointer.
        await pilot.click(EventList, offset=(20, 3))
        await pilot.pause()
        assert events.cursor == top + 3
        assert inspector.detail_text == describe(events.row(top + 3))

        # A new turn while scrolled up does not yank the view; End follows again.
        session = make_session(server, inspector)
        async with session.client:
            await run_turn(inspector, session, "again")
        await published(pilot, inspector)
        assert events.scroll_offset.y == top and not events.follow
        await pilot.press("end")
        await pilot.pause()
        assert "END   Turn 2:" in rendered(events)[-1]


async def test_a_huge_event_detail_is_capped(server: DevServer) -> None:
    app = InspectorApp()
    async with app.run_test(size=SIZE) as pilot:
        inspector = app.inspector
        session = make_session(server, inspector)
        async with session.client:
            await run_turn(inspector, session, "big !huge_event:256")
        await published(pilot, inspector)
        events = inspector.event_list
        biggest = max(
            range(inspector.row_count), key=lambda i: getattr(events.row(i).event, "size", 0)
        )
        events.focus()
        events.move_cursor(biggest)
        await pilot.pause()
        assert len(inspector.detail_text) < MAX_DETAIL_CHARS + 100
        assert inspector.detail_text.endswith("more characters not shown")


async def test_secrets_and_controls_never_reach_the_screen() -> None:
    app = InspectorApp()
    async with app.run_test(size=SIZE) as pilot:
        inspector = app.inspector
        inspector.begin_turn(f"my token is {JWT}")
        inspector.record(RequestStarted(Operation.SEND, "POST", "/api/v1/chat/messages", 1))
        inspector.record(
            ResponseReceived(
                Operation.SEND,
                200,
                0.01,
                {"content-type": "text/event-stream", "x-request-id": BEARER},
            )
        )
        data = json.dumps(
            {
                "note": f"Authorization: {BEARER}",
                "jwt": JWT,
                "visitor_token": "vt_plain_secret",
                "evil": "\x1b]52;c;aGk=\x07\x1b[2J",
            }
        )
        inspector.record(SseEvent("done", len(data), 0.02, data))
        inspector.record(
            SseEvent("status", 12, 0.03, f"not json {BEARER} {JWT} \x1b]52;c;aGk=\x07\x9b2J")
        )
        inspector.record(
            RequestFinished(
                Operation.SEND,
                "ok",
                0.05,
                0,
                False,
                "POST",
                "/api/v1/chat/messages",
                200,
                request_id=JWT,
            )
        )
        inspector.end_turn(f"headers 1 ms · {JWT}")
        await published(pilot, inspector)
        events = inspector.event_list
        shown = rendered(events)
        for index in range(inspector.row_count):
            events.move_cursor(index)
            await pilot.pause()
            shown.append(inspector.detail_text)
            shown.append(describe(events.row(index)))
        screen = "\n".join(shown)
        for secret in (JWT, "sekrit-token-123", "vt_plain_secret", "eyJhbGciOi"):
            assert secret not in screen
        assert "\x1b" not in screen and "\x07" not in screen
        assert "[REDACTED]" in screen and "␛]52" in screen  # made visible, not obeyed
        assert '"visitor_token": "[REDACTED]"' in screen


async def test_clear_and_recording_before_mount() -> None:
    inspector = Inspector()
    for n in range(3):  # the app may record while the panel was never shown
        inspector.record(SseEvent("part_delta", 10, n / 1000, '{"a": 1}'))
    app = InspectorApp()
    async with app.run_test(size=SIZE) as pilot:
        await app.mount(inspector, before=0)
        await published(pilot, inspector)
        assert inspector.row_count == 3
        inspector.event_list.move_cursor(1)
        await pilot.pause()
        assert inspector.detail_text.startswith("event: part_delta · 10 B · +1 ms")
        inspector.clear()
        await published(pilot, inspector)
        assert inspector.row_count == 0 and inspector.event_list.cursor is None
        assert inspector.detail_text == "Select a row to see its detail."
        inspector.begin_turn("after clear")
        await published(pilot, inspector)
        assert inspector.event_list.row_text(0) == "── Turn 1 · 'after clear'"


async def test_rows_are_published_as_a_reply_streams_and_the_list_rests_when_hidden_or_idle(
    server: DevServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SSE events reach the list through a bare list append (`record_sse`): its ticker
    publishes (and trims) them as they come while it is on screen, and stops when the panel
    hides, or once nothing is open."""
    ticks: list[float] = []
    tick = EventList._tick

    def counted(self: EventList) -> None:
        ticks.append(monotonic())
        tick(self)

    monkeypatch.setattr(EventList, "_tick", counted)
    app = InspectorApp()
    async with app.run_test(size=SIZE) as pilot:
        inspector = app.inspector
        events = inspector.event_list
        session = make_session(server, inspector)
        async with session.client:
            turn = asyncio.ensure_future(run_turn(inspector, session, "slowly !slow:100"))
            await wait_for(pilot, lambda: events.virtual_size.height >= 6)
            shown = events.virtual_size.height
            await wait_for(pilot, lambda: events.virtual_size.height >= shown + 3)
            assert not turn.done(), "rows are published while the reply streams, not at its end"
            inspector.display = False
            await pilot.pause()
            hidden = len(ticks)
            await pilot.pause(0.3)
            assert len(ticks) == hidden, "hidden mid-reply, the ticker stops"
            inspector.display = True
            await turn
        await published(pilot, inspector)
        events.MAX_ROWS = 10
        for number in range(12):
            inspector.begin_turn(f"trimmed {number}")
        await published(pilot, inspector)
        assert events.row_count <= 10 and events.row_text(events.row_count - 1).startswith(
            "── Turn 13"
        )
        await pilot.pause(0.2)
        before = len(ticks)
        await pilot.pause(0.5)
        assert len(ticks) == before, "idle, and trimmed before, the ticker rests"
        inspector.begin_turn("wakes it")
        await published(pilot, inspector)
        assert events.row_text(events.row_count - 1).startswith("── Turn 14")


def test_events_appended_by_the_sse_hook_are_trimmed_at_the_next_record() -> None:
    events = EventList()
    events.MAX_ROWS = 100
    for n in range(150):
        events.record_sse(SseEvent("part_delta", 2, n / 1000, "{}"))
    events.record(RequestFinished(Operation.SEND, "ok", 0.2, 0, False))
    assert events.row_count <= 100
    assert events.row(events.row_count - 1).kind == "DONE"
    assert events.row(events.row_count - 2).ms == 149


def test_record_is_cheap_and_formats_nothing() -> None:
    events = EventList()
    data = '{"part_id": "p", "delta": {"action": "append_text", "text": "xxxxxxxxxxxxxxxxxxxx"}}'
    for n in range(20_000):
        events.record(SseEvent("part_delta", len(data), n / 1000, data))
    assert events.row_count == 20_000
    # Nor does the garbage collector scan them: a reply's thousands of rows and SSE events
    # would otherwise be walked at every collection while they are kept.
    assert not any(gc.is_tracked(row) for row in events._rows)
    rows = [events.row(index) for index in range(events.row_count)]
    assert all(row._line is None for row in rows)  # formatted only when painted
    assert not any(gc.is_tracked(row) or gc.is_tracked(row.event) for row in rows)


def test_the_oldest_tenth_goes_when_the_rows_are_full() -> None:
    events = EventList()
    events.MAX_ROWS = 100
    events.begin_turn("first")
    for n in range(150):
        events.record(SseEvent("part_delta", 2, n / 1000, "{}"))
    events.end_turn("done")
    # Each time the 101st row arrives, the oldest go, down to 90: five times for these 152.
    assert events.row_count == 152 - 5 * 11
    assert events.row(0).kind == "SSE" and events.row(0).ms == 54  # the turn row and 54 events went
    assert events.row(events.row_count - 1).kind == "END"


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            RequestStarted(Operation.SEND, "POST", "/api/v1/chat/messages", 1),
            "POST /api/v1/chat/messages #1",
        ),
        (
            ResponseReceived(
                Operation.SEND,
                200,
                0.1,
                {
                    "content-type": "text/event-stream; charset=utf-8",
                    "x-request-id": "req_abc",
                    "retry-after": "1",
                },
            ),
            "200 text/event-stream req_abc Retry-After: 1",
        ),
        (SseEvent("part_delta", 112, 0.2, "{}"), "part_delta 112 B"),
        (RequestFinished(Operation.SEND, "ok", 1.234, 0, False), "finished ok 1.23 s, 0 retries"),
        (
            RequestFinished(Operation.CONFIG, "http", 0.5, 2, True),
            "config: finished http 0.50 s, 2 retries, timed out",
        ),
    ],
)
def test_row_summaries(event: object, expected: str) -> None:
    events = EventList()
    events.record(event)  # type: ignore[arg-type]
    row: InspectorRow = events.row(0)
    assert row.line()[0] == expected


async def test_rows_waiting_unpublished_are_published_once_the_list_is_painted() -> None:
    """The safety net under the ticker: SSE rows appended (a bare list append) while the ticker
    rests reach the list at the next paint, whatever woke the paint."""
    app = InspectorApp()
    async with app.run_test(size=SIZE) as pilot:
        events = app.inspector.event_list
        await pilot.pause()
        assert events._ticker is not None
        events._ticker.pause()  # resting: nothing open, nothing new
        before = events.virtual_size.height
        for n in range(5):
            events.record_sse(SseEvent("part_delta", 2, n / 1000, "{}"))
        await pilot.pause(0.1)
        assert events.virtual_size.height == before, "no tick publishes them"
        events.refresh()  # any paint: a scroll, a resize, the panel shown again
        await wait_for(pilot, lambda: events.virtual_size.height == before + 5)


async def test_the_list_publishes_and_ticks_again_when_shown_after_a_refresh_while_hidden() -> None:
    """Textual sends no Show for a panel shown again after anything in it was refreshed while
    it was hidden (its layout map is rebuilt, holding the list already, before the layout that
    would have noticed). The list must still publish what came meanwhile, and tick again for
    a reply that streams in afterwards (bare appends, which only the ticker publishes)."""
    app = InspectorApp()
    async with app.run_test(size=SIZE) as pilot:
        inspector = app.inspector
        events = inspector.event_list
        inspector.begin_turn("before")
        await published(pilot, inspector)
        inspector.display = False
        await pilot.pause()
        inspector.clear()  # a new conversation while the panel is hidden: a refresh in it
        await pilot.pause()
        inspector.begin_turn("while hidden")
        inspector.record(RequestStarted(Operation.SEND, "POST", "/api/v1/chat/messages", 1))
        inspector.display = True
        await published(pilot, inspector)
        for n in range(5):
            events.record_sse(SseEvent("part_delta", 2, n / 1000, "{}"))
        await published(pilot, inspector)
        assert events.row_count == 7


def test_kept_sse_data_is_capped_by_bytes_the_newest_kept() -> None:
    """A reply of large events: the rows kept weigh at most `MAX_KEPT_BYTES` once trimmed,
    however few rows that is; the oldest go first and are counted as dropped."""
    events = EventList()
    events.MAX_KEPT_BYTES = 100_000
    data = "x" * 1000
    events.begin_turn("big")
    for n in range(500):  # 500 x 1.2 KB = 600 KB, far under MAX_ROWS
        events.record_sse(SseEvent("part_delta", len(data), n / 1000, data))
    events.record(RequestFinished(Operation.SEND, "ok", 0.6, 0, False))
    weight = sum(EventList._weight(events._rows[i]) for i in range(events.row_count))
    assert weight <= events.MAX_KEPT_BYTES
    assert events.row_count < 100 and events.dropped == 502 - events.row_count
    assert events.row(events.row_count - 1).kind == "DONE"
    assert events.row(events.row_count - 2).ms == 499  # the newest event is kept
    # Trimming keeps its own count right: more of the same stay within the cap too.
    for n in range(500, 1000):
        events.record(SseEvent("part_delta", len(data), n / 1000, data))
    assert events._kept_bytes == sum(
        EventList._weight(events._rows[i]) for i in range(events.row_count)
    )
    assert events._kept_bytes <= events.MAX_KEPT_BYTES
    events.clear()
    assert events.dropped == 0 and events._kept_bytes == 0


async def test_the_title_says_when_older_rows_were_dropped() -> None:
    app = InspectorApp()
    async with app.run_test(size=SIZE) as pilot:
        inspector = app.inspector
        events = inspector.event_list
        events.MAX_KEPT_BYTES = 50_000
        inspector.begin_turn("small")
        await published(pilot, inspector)
        title = app.query_one("#inspector-title").render()
        assert "dropped" not in str(title)
        data = "y" * 1000
        for n in range(200):
            inspector.record(SseEvent("part_delta", len(data), n / 1000, data))
        await published(pilot, inspector)
        title_text = str(app.query_one("#inspector-title").render())
        assert f"{events.dropped:,} older dropped" in title_text
        assert events.dropped > 100


async def test_page_and_client_profile_show_in_the_request_rows(server: DevServer) -> None:
    app = InspectorApp()
    async with app.run_test(size=SIZE) as pilot:
        inspector = app.inspector
        client = DialogClient(
            server.base_url,
            DEMO_CHATBOT_ID,
            api_key=DEMO_API_KEY,
            context_page="https://shop.test/products/tee",
            client_profile="product-recommendation",
        )
        session = ChatSession(client)
        client.add_observer(session.observe, sse=False)
        session.add_listener(inspector.event_list.record, sse=False)
        async with client:
            await run_turn(inspector, session, "hello")
        await published(pilot, inspector)
        events = inspector.event_list
        rows = [events.row_text(i) for i in range(inspector.row_count)]
        send = next(i for i, row in enumerate(rows) if "REQ   POST /api/v1/chat/messages" in row)
        assert rows[send].endswith(
            "page=https://shop.test/products/tee client profile=product-recommendation"
        )
        auth = next(row for row in rows if "REQ   POST /api/v1/chat/auth" in row)
        assert "client profile" not in auth, "a Basic call carries no profile"
        await pilot.click(EventList, offset=(5, 0))
        events.move_cursor(send)
        await pilot.pause()
        assert "page            https://shop.test/products/tee" in inspector.detail_text
        assert "client profile  product-recommendation" in inspector.detail_text
