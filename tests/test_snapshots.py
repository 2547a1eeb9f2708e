"""Pictures of the main screens (pytest-textual-snapshot): each test drives the real app against
the local dev server over a real socket, and compares the SVG Textual renders with the one kept
in `tests/__snapshots__/test_snapshots/`.

Repeatable by construction: a fixed terminal size; a dev server of the test's own (nothing
another test did shows up); every duration the screen shows reads zero (`timing.frozen`);
cursors held still; each picture taken once the screen has stopped changing (a turn that has
ended, or a reply the server has stopped sending half way: `!stall`).

After an intended change to what a screen looks like, regenerate the pictures and look at the
difference before committing it (see tests/README.md):

    .venv/bin/python -m pytest tests/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from dialogtui import timing
from dialogtui.api.client import Timeouts
from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID, DevServer, DevServerConfig
from dialogtui.target import Target
from dialogtui.ui.app import DialogApp
from dialogtui.ui.forms import FormScreen

SIZE = (100, 40)

Compare = Callable[..., bool]


@pytest.fixture
def peer() -> Iterator[DevServer]:
    """A dev server of this test's own: request ids, conversations and scenario memory that no
    other test has touched."""
    with DevServer(DevServerConfig()) as server:
        yield server


@pytest.fixture(autouse=True)
def _no_wall_clock_in_the_picture() -> Iterator[None]:
    with timing.frozen():
        yield


def make_app(server: DevServer) -> DialogApp:
    target = Target(server.base_url, DEMO_CHATBOT_ID, api_key=DEMO_API_KEY, environment="demo")
    return DialogApp(target, timeouts=Timeouts(read=5, stream_idle=5))


async def until(pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 15.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise TimeoutError("the app did not reach the state to picture")


def hold_cursors_still(app: DialogApp) -> None:
    """A blinking cursor shows in either phase: hold it still (shown where there is focus)."""
    for screen in app.screen_stack:
        for widget in [*screen.query(Input), *screen.query(TextArea)]:
            widget.cursor_blink = False


async def settled(pilot: Pilot[Any]) -> None:
    """Until the screen stops changing: the transcript draws what it is told at its own frame
    rate, so a turn that has ended may still have a frame to show."""
    hold_cursors_still(pilot.app)  # those mounted since the start
    picture = ""
    for _ in range(100):
        await pilot.pause(0.1)
        previous, picture = picture, pilot.app.export_screenshot()
        if picture == previous:
            return
    raise TimeoutError("the screen did not settle")


async def ready(app: DialogApp, pilot: Pilot[Any]) -> None:
    # `query`, not `query_one`: the status line may not be composed yet when the pilot starts.
    await until(pilot, lambda: any("Ready" in str(s.render()) for s in app.query("#status")))


async def send(app: DialogApp, pilot: Pilot[Any], text: str) -> None:
    """Type `text` into the composer and press Enter, as a person does."""
    app.composer.load_text(text)
    app.composer.focus()
    await pilot.press("enter")


def turn_finished(app: DialogApp) -> Callable[[], bool]:
    return lambda: app._turn_worker is not None and app._turn_worker.is_finished


Steps = Callable[[DialogApp, Pilot[Any]], Awaitable[None]]


async def nothing(app: DialogApp, pilot: Pilot[Any]) -> None:
    pass


def picture(snap_compare: Compare, server: DevServer, steps: Steps = nothing) -> bool:
    """The app against `server`, Ready, after `steps`, once its screen has settled."""
    app = make_app(server)

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(app, pilot)
        _ = app.composer  # asking for it mounts it
        await pilot.pause()
        hold_cursors_still(app)
        await steps(app, pilot)
        await settled(pilot)

    return snap_compare(app, terminal_size=SIZE, run_before=run_before)


def after_turn(text: str) -> Steps:
    async def steps(app: DialogApp, pilot: Pilot[Any]) -> None:
        await send(app, pilot, text)
        await until(pilot, turn_finished(app))

    return steps


def test_welcome(snap_compare: Compare, peer: DevServer) -> None:
    assert picture(snap_compare, peer)


def test_a_reply_while_it_streams(snap_compare: Compare, peer: DevServer) -> None:
    async def steps(app: DialogApp, pilot: Pilot[Any]) -> None:
        await send(app, pilot, "Tell me everything !stall")
        await until(pilot, lambda: "You said" in app.transcript.visible_text())

    assert picture(snap_compare, peer, steps)


def test_a_streamed_reply(snap_compare: Compare, peer: DevServer) -> None:
    assert picture(snap_compare, peer, after_turn("What can you do?"))


def test_tables_and_product_cards(snap_compare: Compare, peer: DevServer) -> None:
    text = "Show me your plans as a table, and some products"
    assert picture(snap_compare, peer, after_turn(text))


def test_retryable_stream_error(snap_compare: Compare, peer: DevServer) -> None:
    text = "Tell me about delivery times !stream_error_retryable"
    assert picture(snap_compare, peer, after_turn(text))


def test_non_retryable_403(snap_compare: Compare, peer: DevServer) -> None:
    assert picture(snap_compare, peer, after_turn("Am I allowed in? !forbidden"))


def test_rate_limited(snap_compare: Compare, peer: DevServer) -> None:
    assert picture(snap_compare, peer, after_turn("Hello again !rate_limited"))


def test_dropped_connection(snap_compare: Compare, peer: DevServer) -> None:
    assert picture(snap_compare, peer, after_turn("Tell me a story !drop"))


def test_contact_form_with_a_field_error(snap_compare: Compare, peer: DevServer) -> None:
    async def steps(app: DialogApp, pilot: Pilot[Any]) -> None:
        await send(app, pilot, "I'd like to be contacted, show me the form")
        await until(pilot, lambda: isinstance(app.screen, FormScreen))
        form = app.screen
        form.query_one("#field-name", Input).value = "Ada Lovelace"
        form.query_one("#field-email", Input).value = "ada@"
        button = form.query_one("#send")
        await until(pilot, lambda: not button.has_class("-active"))
        assert await pilot.click("#send"), "the click did not reach Send"
        error = form.query_one("#field-email-error")
        await until(pilot, lambda: "mail" in str(error.render()).lower())
        # No pointer over the button, and its 0.2 s press effect over: both would show.
        await pilot.hover(offset=(0, 0))
        await until(pilot, lambda: not button.has_class("-active"))

    assert picture(snap_compare, peer, steps)


def test_inspector(snap_compare: Compare, peer: DevServer) -> None:
    async def steps(app: DialogApp, pilot: Pilot[Any]) -> None:
        await pilot.press("f12")
        await after_turn("Hello! !rate_limited_once")(app, pilot)

    assert picture(snap_compare, peer, steps)
