"""Pictures of image parts: fetched without the API's credentials, decoded with bounds,
drawn as half-block cells; anything broken leaves the text line alone."""

from __future__ import annotations

import base64
import io
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from PIL import Image
from rich.color import Color
from rich.console import Console

from dialogtui.api.images import ImageFetchError, fetch_image
from dialogtui.api.models import ImagePart
from dialogtui.config import Settings
from dialogtui.api.timeouts import Timeouts
from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID, DevServer, content
from dialogtui.target import Target
from dialogtui.ui.app import DialogApp
from dialogtui.ui.pictures import UPPER_HALF, decode_picture, picture_lines
from dialogtui.ui.render import Frame

from .test_app import FAST_POLICIES, SIZE, make_app, ready, send, turn_finished, wait_for


def image_url(server: DevServer, name: str = "demo.png", *, expired: bool = False) -> ImagePart:
    expires = datetime.now(UTC) + timedelta(hours=-1 if expired else 1)
    part = content.image_part(server.base_url, expires, name=name)
    return ImagePart(url=part["url"], url_expires_at=part["url_expires_at"])


def png(width: int, height: int, pixels: list[tuple[int, int, int]]) -> bytes:
    image = Image.new("RGB", (width, height))
    image.putdata(pixels)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


# --- fetching -------------------------------------------------------------------------------


async def test_the_signed_url_is_fetched_without_authorization_or_cookies(
    server: DevServer,
) -> None:
    part = image_url(server)
    data = await fetch_image(part.url, part.url_expires_at)
    assert data == content.DEMO_PNG
    assert server.stats.count("GET /cdn") == 1
    [headers] = server.stats.file_request_headers
    assert "authorization" not in headers and "cookie" not in headers
    assert server.stats.file_requests_with_authorization == 0


async def test_an_expired_link_is_not_fetched(server: DevServer) -> None:
    part = image_url(server, expired=True)
    with pytest.raises(ImageFetchError, match="expired"):
        await fetch_image(part.url, part.url_expires_at)
    assert server.stats.count("GET /cdn") == 0


async def test_an_image_over_the_size_limit_is_stopped(server: DevServer) -> None:
    part = image_url(server)
    with pytest.raises(ImageFetchError, match="too large"):
        await fetch_image(part.url, part.url_expires_at, max_bytes=len(content.DEMO_PNG) - 1)


@pytest.mark.parametrize(
    ("name", "message"), [("demo.txt", "not an image"), ("missing.png", "HTTP 404")]
)
async def test_what_is_not_an_image_answer_is_refused(
    server: DevServer, name: str, message: str
) -> None:
    part = image_url(server, name="demo.png")
    url = part.url.replace("/demo.png", f"/{name}")
    with pytest.raises(ImageFetchError, match=message):
        await fetch_image(url, part.url_expires_at)


async def test_html_served_as_an_image_gives_no_picture(server: DevServer) -> None:
    part = image_url(server, name="broken.png")
    data = await fetch_image(part.url, part.url_expires_at)  # the server says image/png
    assert data.startswith(b"<!doctype html>")
    assert decode_picture(data) is None


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A socket that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        yield listener.getsockname()[1]


async def test_a_host_that_never_answers_times_out(silent_port: int) -> None:
    with pytest.raises(ImageFetchError, match="Timeout"):
        await fetch_image(f"http://127.0.0.1:{silent_port}/x.png", timeout=httpx.Timeout(0.2))


async def test_data_urls_are_decoded_locally_and_other_schemes_refused() -> None:
    encoded = base64.b64encode(content.DEMO_PNG).decode()
    assert await fetch_image(f"data:image/png;base64,{encoded}") == content.DEMO_PNG
    with pytest.raises(ImageFetchError, match="not an image"):
        await fetch_image("data:text/html,<p>hi</p>")
    with pytest.raises(ImageFetchError, match="too large"):
        await fetch_image(f"data:image/png;base64,{encoded}", max_bytes=10)
    for url in ("file:///etc/passwd", "ftp://example.com/a.png", "/relative/a.png"):
        with pytest.raises(ImageFetchError, match="unsupported"):
            await fetch_image(url)


# --- decoding and drawing -------------------------------------------------------------------

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def test_a_2x2_image_is_one_line_of_two_half_block_cells() -> None:
    picture = decode_picture(png(2, 2, [RED, GREEN, BLUE, WHITE]))
    assert picture is not None
    frame = Frame(10)
    [line] = picture_lines(picture, frame, Console(), indent="")
    cells = [(text, frame.palette.styles[style]) for text, style in line if text == UPPER_HALF]
    assert [(style.color, style.bgcolor) for _, style in cells if style is not None] == [
        (Color.from_rgb(*RED), Color.from_rgb(*BLUE)),
        (Color.from_rgb(*GREEN), Color.from_rgb(*WHITE)),
    ]
    assert sum(len(text) for text, _ in line) == 10  # the frame's width, filled


def test_a_large_image_is_shrunk_to_the_box_with_its_aspect() -> None:
    picture = decode_picture(png(400, 100, [RED] * 40_000), columns=32, rows=12)
    assert picture is not None
    assert (picture.width, len(picture.rows)) == (32, 8)  # 4:1 kept; 8 pixel rows = 4 lines
    tall = decode_picture(png(10, 100, [RED] * 1000), columns=32, rows=12)
    assert tall is not None and len(tall.rows) == 24 and tall.width in (2, 3)


def test_corrupt_and_bomb_images_give_no_picture() -> None:
    good = png(4, 4, [RED] * 16)
    assert decode_picture(good[: len(good) // 2]) is None  # truncated
    assert decode_picture(b"\x89PNG\r\n\x1a\n garbage") is None
    # A header that claims 100 million pixels: refused before any pixel is decoded.
    bomb = bytearray(good)
    bomb[16:24] = (10_000).to_bytes(4, "big") * 2
    assert decode_picture(bytes(bomb)) is None


# --- the app --------------------------------------------------------------------------------


@pytest.fixture
def truecolor(monkeypatch: pytest.MonkeyPatch) -> None:
    """A terminal that says it draws 24-bit colour (read when the app makes its console)."""
    monkeypatch.setenv("COLORTERM", "truecolor")


def pictures_done(app: DialogApp) -> bool:
    return not [w for w in app.workers if w.group == "pictures" and not w.is_finished]


@pytest.mark.usefixtures("truecolor")
async def test_a_reply_with_an_image_shows_picture_rows_then_its_line(server: DevServer) -> None:
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "show me an image")
        transcript = app.transcript
        await wait_for(pilot, lambda: UPPER_HALF in transcript.entry_text(transcript.entry_ids[-1]))
        lines = transcript.entry_text(transcript.entry_ids[-1]).splitlines()
        rows = [number for number, line in enumerate(lines) if UPPER_HALF in line]
        caption = next(n for n, line in enumerate(lines) if "📷 A tiny demo image" in line)
        assert len(rows) == 12 and rows == list(range(rows[0], rows[0] + 12))
        assert caption == rows[-1] + 1  # the text line stays, right under the picture
        assert server.stats.file_requests_with_authorization == 0


@pytest.mark.usefixtures("truecolor")
async def test_a_broken_image_shows_only_its_line(server: DevServer) -> None:
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "a broken image")
        await wait_for(pilot, turn_finished(app))
        await wait_for(pilot, lambda: server.stats.count("GET /cdn") == 1)
        await wait_for(pilot, lambda: pictures_done(app))
        await pilot.pause()
        text = app.transcript.entry_text(app.transcript.entry_ids[-1])
        assert "📷 A broken image" in text and UPPER_HALF not in text


async def test_a_16_colour_terminal_gets_the_text_line_and_no_fetch(
    server: DevServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COLORTERM", raising=False)
    monkeypatch.setenv("TERM", "xterm")  # Rich reads this as 16 colours
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        assert app.console.color_system == "standard"
        await ready(pilot)
        await send(pilot, "show me an image")
        await wait_for(pilot, turn_finished(app))
        await wait_for(pilot, lambda: pictures_done(app))
        text = app.transcript.entry_text(app.transcript.entry_ids[-1])
        assert "📷 A tiny demo image" in text and UPPER_HALF not in text
        assert server.stats.count("GET /cdn") == 0


@pytest.mark.usefixtures("truecolor")
async def test_images_off_fetches_nothing(server: DevServer) -> None:
    target = Target(
        server.base_url,
        DEMO_CHATBOT_ID,
        api_key=DEMO_API_KEY,
        environment="test",
        settings=Settings(images=False),
    )
    app = DialogApp(target, timeouts=Timeouts(read=5, stream_idle=5), policies=FAST_POLICIES)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "show me an image")
        await wait_for(pilot, turn_finished(app))
        await wait_for(pilot, lambda: pictures_done(app))
        text = app.transcript.entry_text(app.transcript.entry_ids[-1])
        assert "📷 A tiny demo image" in text and UPPER_HALF not in text
        assert server.stats.count("GET /cdn") == 0
