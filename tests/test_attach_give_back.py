"""A message that did not go comes back whole: its text to the composer and its files (F5, a
pasted path) attached again, ready to send once more. Pilot against the real local server."""

from __future__ import annotations

from pathlib import Path

import pytest

from textual import events
from textual.pilot import Pilot

from dialogtui.devserver import DevServer
from dialogtui.ui.app import DialogApp

from .test_app import SIZE, last_entry_text, ready, send, turn_finished, wait_for
from .test_attach_app import make_app, pending, pick
from .test_attachments import jpeg


async def attach_two(pilot: Pilot[None], tmp_path: Path) -> None:
    """A photo by F5 and a text file by a pasted path."""
    app = pilot.app
    assert isinstance(app, DialogApp)
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg(32, 24))
    notes = tmp_path / "notes.txt"
    notes.write_text("the serial number is 42\n")
    await pick(pilot, str(photo))
    app.composer.focus()
    app.post_message(events.Paste(f"'{notes}'"))
    await wait_for(pilot, lambda: len(pending(app).files) == 2)


def pending_names(app: DialogApp) -> list[str | None]:
    return [file.filename for file in pending(app).files]


async def test_a_failed_send_gives_back_its_text_and_its_files(
    server: DevServer, tmp_path: Path
) -> None:
    server.config.scenario = "upload_too_large"  # a send carrying a file gets 413
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await attach_two(pilot, tmp_path)
        await send(pilot, "what are these?")
        await wait_for(pilot, turn_finished(app))
        assert server.stats.attachments == [], "the server refused the send"
        assert app.composer.text == "what are these?"
        assert pending_names(app) == ["photo.jpg", "notes.txt"]
        assert pending(app).display and "photo.jpg" in str(pending(app).render())

        # Sent again as it came back, to a server that takes it: both files go.
        server.config.scenario = "ok"
        app.composer.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(server.stats.attachments) == 2)
        await ready(pilot)
        assert [a["filename"] for a in server.stats.attachments] == ["photo.jpg", "notes.txt"]
        assert pending(app).files == [] and app.composer.text == ""


async def test_retry_after_a_failed_stream_sends_the_files_again(
    server: DevServer, tmp_path: Path
) -> None:
    server.config.scenario = "stream_error_retryable"
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await attach_two(pilot, tmp_path)
        await send(pilot, "please look")
        await wait_for(pilot, turn_finished(app))
        assert len(server.stats.attachments) == 2  # received, then the reply failed
        assert pending_names(app) == ["photo.jpg", "notes.txt"]
        server.config.scenario = "ok"
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: len(server.stats.attachments) == 4)
        await ready(pilot)
        assert [a["filename"] for a in server.stats.attachments[2:]] == ["photo.jpg", "notes.txt"]
        assert pending(app).files == []


async def test_a_cancelled_send_gives_back_its_files(server: DevServer, tmp_path: Path) -> None:
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await attach_two(pilot, tmp_path)
        await send(pilot, "slowly !slow")
        await wait_for(pilot, lambda: "You said" in last_entry_text(app))
        await pilot.press("escape")
        await wait_for(pilot, turn_finished(app))
        assert app.composer.text == "slowly !slow"
        assert pending_names(app) == ["photo.jpg", "notes.txt"]


@pytest.mark.parametrize("typed", ["a new message", ""])
async def test_a_message_begun_meanwhile_keeps_the_cancelled_one_out(
    server: DevServer, tmp_path: Path, typed: str
) -> None:
    """Another message begun while the reply ran, with text or with files alone: what the
    person has now stays as it is, and the cancelled one's text and files do not join it
    (Enter would send a mix)."""
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await attach_two(pilot, tmp_path)
        await send(pilot, "slowly !slow")
        await wait_for(pilot, lambda: "You said" in last_entry_text(app))
        other = tmp_path / "other.jpg"
        other.write_bytes(jpeg(8, 8))
        await pick(pilot, str(other))
        app.composer.focus()
        if typed:
            app.composer.load_text(typed)
        await pilot.press("escape")
        await wait_for(pilot, turn_finished(app))
        assert app.composer.text == typed
        assert pending_names(app) == ["other.jpg"]
