"""The app's attachments and banners, driven with Pilot against the real local server: F5's
path picker, a path pasted into the composer, the bot's photo request, banners shown and
dismissed, and a server without banners."""

from __future__ import annotations

import base64
from pathlib import Path

from textual import events
from textual.pilot import Pilot

from dialogtui.config import Settings
from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID, DevServer
from dialogtui.target import Target
from dialogtui.ui.app import DialogApp
from dialogtui.ui.attach_ui import AttachScreen, BannerLine, BannerStrip, PendingAttachments

from .test_app import FAST_POLICIES, SIZE, all_text, ready, send, wait_for
from .test_attachments import jpeg


def make_app(server: DevServer, page: str | None = None) -> DialogApp:
    from dialogtui.api.client import Timeouts

    target = Target(
        server.base_url,
        DEMO_CHATBOT_ID,
        api_key=DEMO_API_KEY,
        environment="test",
        settings=Settings(page=page, save_transcripts=False),
    )
    return DialogApp(target, timeouts=Timeouts(read=5, stream_idle=5), policies=FAST_POLICIES)


def shown_lines(strip: BannerStrip) -> int:
    """Banner lines laid out on screen (mounted is not yet drawn)."""
    return sum(1 for line in strip.query(BannerLine) if line.region.height > 0)


def pending(app: DialogApp) -> PendingAttachments:
    return app.screen.query_one(PendingAttachments)


async def pick(pilot: Pilot[None], path: str) -> None:
    """F5, the path typed, Enter."""
    await pilot.press("f5")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, AttachScreen))
    picker = pilot.app.screen
    assert isinstance(picker, AttachScreen)
    picker.query_one("#path").value = path  # type: ignore[attr-defined]
    await pilot.press("enter")
    await wait_for(pilot, lambda: not isinstance(pilot.app.screen, AttachScreen))


async def test_f5_attaches_a_photo_that_goes_with_the_next_message(
    server: DevServer, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg(64, 48))
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, str(photo))
        strip = pending(app)
        assert [f.filename for f in strip.files] == ["photo.jpg"]
        assert strip.display and "photo.jpg (image/jpeg" in str(strip.render())
        await send(pilot, "what is this?")
        await wait_for(pilot, lambda: server.stats.attachments != [])
        await ready(pilot)
        assert server.stats.attachments[0]["pixels"] == "64x48"
        text = all_text(app)
        assert "📷 photo.jpg (image/jpeg" in text, "the user turn shows what it carried"
        assert "I received your photo: image/jpeg, 64x48" in text
        assert strip.files == [] and not strip.display, "sent: the pending line goes"


async def test_a_refused_file_is_said_and_nothing_is_attached(
    server: DevServer, tmp_path: Path
) -> None:
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, str(tmp_path / "missing.jpg"))
        await wait_for(
            pilot, lambda: any("missing.jpg" in str(n.message) for n in app._notifications)
        )
        assert pending(app).files == []
        await send(pilot, "hello")
        await ready(pilot)
        assert server.stats.attachments == []


async def test_the_pending_files_can_be_removed(server: DevServer, tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg())
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, str(photo))
        assert len(pending(app).files) == 1
        await pilot.click(PendingAttachments)
        assert pending(app).files == [] and not pending(app).display
        await send(pilot, "no photo after all")
        await ready(pilot)
        assert server.stats.attachments == []


async def test_a_path_pasted_into_the_composer_becomes_an_attachment(
    server: DevServer, tmp_path: Path
) -> None:
    photo = tmp_path / "my photo.jpg"
    photo.write_bytes(jpeg())
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        app.composer.focus()
        # A file dropped on a terminal arrives as a pasted path, often quoted (the app hands a
        # paste to the focused widget).
        app.post_message(events.Paste(f"'{photo}'"))
        await wait_for(pilot, lambda: len(pending(app).files) == 1)
        assert app.composer.text == "", "the path is not typed into the message"
        # Text that is not a file's path is pasted as text.
        app.post_message(events.Paste("just words"))
        await wait_for(pilot, lambda: app.composer.text == "just words")
        assert len(pending(app).files) == 1


async def test_the_photo_request_says_what_it_takes_and_checks_it(
    server: DevServer, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo\n")
    photo = tmp_path / "receipt.jpg"
    photo.write_bytes(jpeg())
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "please upload")
        await ready(pilot)
        assert "The bot asks for a photo: PNG, JPEG or WebP, up to 5 MiB" in all_text(app)
        await pilot.press("f5")
        await wait_for(pilot, lambda: isinstance(app.screen, AttachScreen))
        prompt = str(app.screen.query_one("#prompt").render())
        assert "PNG, JPEG or WebP, up to 5 MiB" in prompt
        await pilot.press("escape")
        await pick(pilot, str(notes))
        await wait_for(
            pilot,
            lambda: any("this accepts image/png" in str(n.message) for n in app._notifications),
        )
        assert pending(app).files == []
        await pick(pilot, str(photo))
        assert [f.filename for f in pending(app).files] == ["receipt.jpg"]
        await send(pilot, "here it is")
        await wait_for(pilot, lambda: server.stats.attachments != [])
        assert server.stats.attachments[0]["filename"] == "receipt.jpg"


async def test_banners_for_the_page_show_and_dismiss(server: DevServer) -> None:
    app = make_app(server, page="https://shop.test/products/tee")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        strip = app.screen.query_one(BannerStrip)
        await wait_for(pilot, lambda: shown_lines(strip) == 1)
        line = strip.query_one(BannerLine)
        assert line.banner.message == "Free shipping on every product page this week"
        assert "Shop the sale ↗" in str(line.query_one(".message").render())
        assert strip.display
        assert await pilot.click("#dismiss"), "the click reached the × button"
        await wait_for(pilot, lambda: len(strip.query(BannerLine)) == 0)
        assert not strip.display
        # A page with no banner of its own gets the default one.
        app.screen._page_set("https://shop.test/cart")  # type: ignore[attr-defined]
        await wait_for(pilot, lambda: len(strip.query(BannerLine)) == 1)
        assert strip.query_one(BannerLine).banner.id == "20"
        assert server.stats.count("GET /banners") == 2


async def test_a_server_without_banners_is_no_failure(server: DevServer) -> None:
    server.config.scenario = "no_banners"
    app = make_app(server, page="https://shop.test/products/tee")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: server.stats.count("GET /banners") == 1)
        await pilot.pause(0.1)
        strip = app.screen.query_one(BannerStrip)
        assert not strip.display and len(strip.query(BannerLine)) == 0
        assert not [n for n in app._notifications if n.severity == "error"]
        assert "✖" not in all_text(app), "no error notice in the transcript"


def test_banner_links_are_absolute_http_only() -> None:
    from dialogtui.api.page_models import decode_banners

    banners = decode_banners(
        {
            "banners": [
                {"id": "1", "message": "ok", "cta_url": "https://x.test/a", "cta_label": "Go"},
                {"id": "2", "message": "rel", "cta_url": "/sale", "cta_label": "Go"},
                {"id": "3", "message": "js", "cta_url": "javascript:alert(1)", "cta_label": "Go"},
                {"id": "4", "message": "  ", "cta_url": "https://x.test"},
                {"id": "5"},
                {"id": "6", "message": "style", "cta_style": "pill", "dismissible": None},
            ]
        }
    )
    assert [b.id for b in banners] == ["1", "2", "3", "6"]
    assert [b.cta for b in banners] == [("Go", "https://x.test/a"), None, None, None]
    assert banners[3].cta_style is None and banners[3].dismissible is False


# -- forms: a ticket's attachments, a custom form's file field ---------------------------------


async def test_a_support_ticket_sends_its_attachments_in_the_sdk_shape(
    server: DevServer, tmp_path: Path
) -> None:
    from textual.widgets import Input, TextArea

    from dialogtui.ui.forms import FormScreen

    photo, notes = tmp_path / "damage.jpg", tmp_path / "order.txt"
    photo.write_bytes(jpeg())
    notes.write_text("order 1234\n")
    big = tmp_path / "big.jpg"
    big.write_bytes(jpeg(padding=2 * 1024 * 1024))
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "I need a ticket")
        await wait_for(pilot, lambda: isinstance(app.screen, FormScreen))
        form = app.screen
        assert isinstance(form, FormScreen)
        form.query_one("#field-name", Input).value = "Ada"
        form.query_one("#field-email", Input).value = "ada@example.com"
        form.query_one("#field-message", TextArea).text = "It broke"
        field = form.query_one("#field-attachments", Input)
        assert "up to 2 MiB" in field.placeholder
        field.value = f"{big}"
        form.query_one("#send").press()
        await wait_for(
            pilot,
            lambda: (
                "big.jpg: it is 2.0 MiB" in str(form.query_one("#field-attachments-error").render())
            ),
        )
        assert server.stats.count("POST /actions") == 0, "a refused file sends nothing"
        field.value = f"{photo}; {notes}"
        form.query_one("#send").press()
        await wait_for(pilot, lambda: not isinstance(app.screen, FormScreen))
        action = server.stats.actions[-1]["action"]
        assert [(a["filename"], a["mime_type"]) for a in action["attachments"]] == [
            ("damage.jpg", "image/jpeg"),
            ("order.txt", "text/plain"),
        ]
        assert action["attachments"][0]["data_base64"] == base64.b64encode(jpeg()).decode()
        assert {k: action[k] for k in ("name", "email", "message")} == {
            "name": "Ada",
            "email": "ada@example.com",
            "message": "It broke",
        }


def test_a_custom_forms_file_field_goes_in_files(tmp_path: Path) -> None:
    from dialogtui.api.models import FormField, FormPart
    from dialogtui.ui.form_files import read_files
    from dialogtui.ui.forms import action_for

    photo = tmp_path / "receipt.png"
    photo.write_bytes(jpeg())
    marker = FormPart(
        part_id="p1",
        form_id="claim",
        fields=[
            FormField(key="email", type="email", required=True),
            FormField(key="photo", label="Photo", type="file"),
            FormField(key="empty", type="file"),
        ],
    )
    values, errors = read_files(
        marker, marker.fields, {"email": "a@b.dk", "photo": f"'{photo}'", "empty": ""}
    )
    assert errors == {}
    action = action_for(marker, values)
    assert action["values"] == {"email": "a@b.dk"}, "paths are not sent as values"
    assert action["files"] == {
        "photo": {
            "filename": "receipt.png",
            "mime_type": "image/jpeg",  # from the bytes, not the name
            "data_base64": base64.b64encode(jpeg()).decode(),
        }
    }
    _, errors = read_files(marker, marker.fields, {"photo": str(tmp_path / "gone.png")})
    assert "gone.png: no such file" in errors["photo"]


# -- session values and form definitions in the inspector --------------------------------------


async def test_session_values_and_form_definitions_show_in_the_inspector(
    server: DevServer,
) -> None:
    from textual.widgets import Input, Select

    from dialogtui.ui.forms import FormScreen

    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "a lead form please")
        await wait_for(pilot, lambda: isinstance(app.screen, FormScreen))
        form = app.screen
        assert isinstance(form, FormScreen)
        form.query_one("#field-email", Input).value = "ada@example.com"
        form.query_one("#field-distributor", Select).value = "dhl"
        await pilot.pause()
        form.query_one("#send").press()  # type: ignore[attr-defined]
        await wait_for(pilot, lambda: not isinstance(app.screen, FormScreen))
        app.screen.action_show_session()  # type: ignore[attr-defined]
        inspector = app.screen.inspector  # type: ignore[attr-defined]
        await wait_for(pilot, lambda: "Session values" in inspector.detail_text)
        detail = inspector.detail_text
        await pilot.pause()
        shown = str(inspector.query_one("#inspector-detail-text").render())
        assert "Session values (GET /session)" in shown, "on screen, not only kept"
        assert "E-mail (email) [email]: ada@example.com" in detail
        assert "Distributor (distributor) [dropdown]: dhl" in detail
        assert "Sales lead (salesLead)" in detail
        assert (
            "fields: E-mail*, Distributor*, Claim details* (when distributor is postnord)" in detail
        )
        assert inspector.has_class("-shown")
        rows = [inspector.event_list.row_text(i) for i in range(inspector.row_count)]
        assert any("GET /api/v1/chat/session" in row for row in rows)
        assert any("GET /api/v1/chat/forms/salesLead" in row for row in rows)


async def test_a_thin_form_marker_opens_with_the_fields_of_its_definition(
    server: DevServer,
) -> None:
    from dialogtui.api.models import FormPart
    from dialogtui.ui.forms import FormScreen

    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        thin = FormPart(part_id="p-thin", form_id="salesLead")  # as a marker may come: no fields
        assert thin.name == "salesLead" and thin.fields == []
        app.screen._open_form(thin)  # type: ignore[attr-defined]
        await wait_for(pilot, lambda: isinstance(app.screen, FormScreen))
        form = app.screen
        assert isinstance(form, FormScreen)
        assert server.stats.count("GET /forms/{form_id}") == 1
        assert form.marker.name == "Sales lead", "the definition's name, not the bare id"
        assert [f.key for f in form.marker.fields][:2] == ["email", "distributor"]
        assert form.marker.min_filled_fields == 1
        assert form.query_one("#field-email") is not None
        await pilot.press("escape")
        # An unknown form: a clear word, no empty form.
        app.screen._open_form(FormPart(part_id="p-gone", form_id="nope"))  # type: ignore[attr-defined]
        await wait_for(
            pilot,
            lambda: any("could not be loaded" in str(n.message) for n in app._notifications),
        )
        assert not isinstance(app.screen, FormScreen)
