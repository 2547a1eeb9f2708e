"""Take the README's screenshots from the running app, headless, against the local server.

    .venv/bin/python screenshots/capture.py

Each SVG is what Textual itself renders for the app in that state; nothing is drawn by hand.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.pilot import Pilot

from dialogtui.api.client import Timeouts
from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID, DevServer, DevServerConfig
from dialogtui.target import Target
from dialogtui.ui.app import DialogApp
from dialogtui.ui.forms import FormScreen

HERE = Path(__file__).parent
SIZE = (110, 38)


async def _until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 15.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise TimeoutError("the app did not reach the state to capture")


async def _ready(app: DialogApp, pilot: Pilot[None]) -> None:
    await _until(pilot, lambda: "Ready" in str(app.query_one("#status").render()))


async def _send(app: DialogApp, pilot: Pilot[None], text: str) -> None:
    app.composer.load_text(text)
    app.composer.focus()
    await pilot.press("enter")


def _finished(app: DialogApp) -> Callable[[], bool]:
    return lambda: app._turn_worker is not None and app._turn_worker.is_finished


async def streaming(app: DialogApp, pilot: Pilot[None]) -> None:
    await _send(app, pilot, "What can you do?")
    await _until(pilot, lambda: "•" in app.transcript.visible_text())


async def products(app: DialogApp, pilot: Pilot[None]) -> None:
    await _send(app, pilot, "Show me your plans as a table, and some products")
    await _until(pilot, _finished(app))
    await pilot.pause(0.3)


async def retryable_error(app: DialogApp, pilot: Pilot[None]) -> None:
    await _send(app, pilot, "Tell me about delivery times !stream_error_retryable")
    await _until(pilot, _finished(app))
    await pilot.pause(0.3)


async def non_retryable_error(app: DialogApp, pilot: Pilot[None]) -> None:
    await _send(app, pilot, "Am I allowed in? !forbidden")
    await _until(pilot, _finished(app))
    await pilot.pause(0.3)


async def contact_form(app: DialogApp, pilot: Pilot[None]) -> None:
    await _send(app, pilot, "I'd like to be contacted, show me the form")
    await _until(pilot, lambda: isinstance(app.screen, FormScreen))
    form = app.screen
    form.query_one("#field-name").value = "Ada Lovelace"  # type: ignore[attr-defined]
    form.query_one("#field-email").value = "ada@"  # type: ignore[attr-defined]
    await pilot.click("#send")
    await _until(
        pilot, lambda: "mail" in str(form.query_one("#field-email-error").render()).lower()
    )
    await pilot.pause(0.3)


async def agent_history(app: DialogApp, pilot: Pilot[None]) -> None:
    # History in the vendor's shapes: the bot's name, a system note, a human agent's turn.
    await pilot.pause(0.3)


async def custom_form(app: DialogApp, pilot: Pilot[None]) -> None:
    # The vendor's sample custom form, opened from history: a field shown by a dropdown choice.
    from dialogtui.ui.forms import FormPickerScreen

    await pilot.press("ctrl+o")
    await _until(pilot, lambda: isinstance(app.screen, FormPickerScreen))
    await pilot.press("down", "down", "enter")
    await _until(pilot, lambda: isinstance(app.screen, FormScreen))
    form = app.screen
    form.query_one("#field-email").value = "ada@example.com"  # type: ignore[attr-defined]
    form.query_one("#field-distributor").value = "postnord"  # type: ignore[attr-defined]
    await pilot.pause(0.3)


async def inspector(app: DialogApp, pilot: Pilot[None]) -> None:
    await pilot.press("f12")
    await _send(app, pilot, "Hello! !rate_limited_once")
    await _until(pilot, _finished(app))
    await pilot.pause(0.3)


async def escapes(app: DialogApp, pilot: Pilot[None]) -> None:
    await _send(app, pilot, "Try to mess with my terminal !escapes")
    await _until(pilot, _finished(app))
    await pilot.pause(0.3)


async def attachment(app: DialogApp, pilot: Pilot[None]) -> None:
    """A banner for the page; the bot asks for a photo; one is attached (F5) and sent."""
    import tempfile

    from dialogtui.ui.attach_ui import PendingAttachments

    await _send(app, pilot, "My order arrived damaged, can you help? Do you need an upload?")
    await _until(pilot, _finished(app))
    folder = Path(tempfile.mkdtemp())
    photo = folder / "damaged-mug.png"
    photo.write_bytes(_png(96, 64))
    assert app.screen.attach_path(str(photo))  # type: ignore[attr-defined]
    await _until(pilot, lambda: bool(app.screen.query_one(PendingAttachments).files))
    await _send(app, pilot, "Here is a photo of the mug")
    await _until(pilot, lambda: "I received your photo" in app.transcript.visible_text())
    await _until(pilot, _finished(app))
    await pilot.pause(0.3)


def _png(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(tag: bytes, data: bytes) -> bytes:
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xc8\x50\x30" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


async def live_chat(app: DialogApp, pilot: Pilot[None]) -> None:
    # The bot offers a human, the person takes it, the agent joins, answers and types again.
    from dialogtui.conversation.livechat import Phase
    from dialogtui.ui.livechat import LiveChatStatus

    live = app.main.live
    await _send(app, pilot, "My parcel never arrived. Can I talk to a human?")
    await _until(pilot, _finished(app))
    await pilot.press("f8")
    await _until(pilot, lambda: live is not None and live.phase is Phase.ACTIVE)
    await _until(pilot, lambda: "Hi, I'm Alice" in app.transcript.visible_text())
    await _send(app, pilot, "Order 10442, sent to Copenhagen last Monday.")
    await _until(pilot, lambda: "let me check" in app.transcript.visible_text())
    await _send(app, pilot, "It says delivered, but it isn't here.")
    await _until(pilot, lambda: "is typing" in app.query_one(LiveChatStatus).text)
    await pilot.pause(0.3)


SHOTS: dict[str, Callable[[DialogApp, Pilot[None]], Awaitable[None]]] = {
    "streaming": streaming,
    "products": products,
    "retryable-error": retryable_error,
    "non-retryable-error": non_retryable_error,
    "contact-form": contact_form,
    "inspector": inspector,
    "escapes-inert": escapes,
    "agent-history": agent_history,
    "custom-form": custom_form,
    "attachment": attachment,
    "live-chat": live_chat,
}
PAGES: dict[str, str] = {"attachment": "https://shop.example/products/mug"}
"""The page (`context.page`) a shot is taken on: banners and start prompts follow it."""
CONFIGS: dict[str, DevServerConfig] = {
    "agent-history": DevServerConfig(retry_after=1, history_messages=10),
    "custom-form": DevServerConfig(retry_after=1, seed_forms=True),
}


async def capture(name: str, server: DevServer) -> Path:
    server.config = CONFIGS.get(name, DevServerConfig(retry_after=1))
    # Slow enough to catch the reply half-way, as a person would see it.
    server.config.delta_delay = 0.08 if name == "streaming" else 0.0
    if name == "live-chat":  # a quicker agent than the demo's, polled a little faster
        from dialogtui.conversation.livechat import Cadence
        from dialogtui.devserver.livechat import AgentScript, DeskSettings, desk_of
        from dialogtui.ui.screens.main import MainScreen

        desk_of(server.app).reset(DeskSettings(script=AgentScript(join_after=1.0, typing_for=2.5)))
        MainScreen.livechat_cadence = Cadence().scaled(0.25)
    from dialogtui.config import Settings

    target = Target(
        server.base_url,
        DEMO_CHATBOT_ID,
        api_key=DEMO_API_KEY,
        environment="demo",
        settings=Settings(page=PAGES.get(name)),
    )
    app = DialogApp(target, timeouts=Timeouts(read=5, stream_idle=5))
    async with app.run_test(size=SIZE) as pilot:
        await _ready(app, pilot)
        await SHOTS[name](app, pilot)
        path = HERE / f"{name}.svg"
        app.save_screenshot(filename=path.name, path=str(HERE))
    return path


async def main(names: list[str]) -> None:
    """Every screenshot, or the ones named on the command line."""
    with DevServer(DevServerConfig(retry_after=1)) as server:
        for name in names or SHOTS:
            print(await capture(name, server))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
