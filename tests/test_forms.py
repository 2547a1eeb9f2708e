"""The bot's forms in the TUI, against the dev server's copies of the vendor's sample forms:
opened from history while they are the latest, `visible_when`, `min_filled_fields`, drafts,
"no longer current" (locally and on a 409), first field focused."""

from __future__ import annotations

import httpx
from textual.widgets import Input, OptionList, Select, Static, TextArea

from dialogtui.devserver import DEMO_API_KEY, DevServer
from dialogtui.ui.app import DialogApp
from dialogtui.ui.forms import FormPickerScreen, FormScreen

from .test_app import SIZE, all_text, click, make_app, ready, send, turn_finished, wait_for


def stale_lines(app: DialogApp) -> int:
    """Form markers the transcript shows as no longer current (wrapped lines joined)."""
    return " ".join(all_text(app).split()).count("— no longer current")


def stale_shown(form: FormScreen) -> bool:
    return form.query_one("#form-stale", Static).has_class("-shown")


async def open_from_history(pilot, app, title: str) -> FormScreen:  # type: ignore[no-untyped-def]
    await pilot.press("ctrl+o")
    await wait_for(pilot, lambda: isinstance(app.screen, FormPickerScreen))
    options = app.screen.query_one(OptionList)
    index = next(
        i
        for i in range(options.option_count)
        if title in str(options.get_option_at_index(i).prompt)
    )
    options.highlighted = index
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, FormScreen))
    assert isinstance(app.screen, FormScreen)
    return app.screen


async def test_the_vendors_sample_forms_open_from_history_and_send(server: DevServer) -> None:
    server.config.seed_forms = True
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert "Ctrl+O" in str(app.query_one("#status").render())
        assert app.title == "Demo Bot"

        # The custom form: its name is the title, `claim` shows only for postnord.
        form = await open_from_history(pilot, app, "Sales lead")
        assert "Sales lead" in str(form.query(".form-title").first().render())
        assert form.query_one("#field-email", Input).has_focus, "the first field has focus"
        assert form.query_one("#field-email", Input).placeholder == "you@example.com"
        assert form.query_one("#field-claim").has_class("-hidden")
        form.query_one("#field-email", Input).value = "ada@example.com"
        form.query_one("#field-distributor", Select).value = "postnord"
        await pilot.pause()
        assert not form.query_one("#field-claim").has_class("-hidden")
        await click(pilot, "#send")
        await pilot.pause()
        assert "required" in str(form.query_one("#field-claim-error").render())
        assert server.stats.count("POST /actions") == 0
        form.query_one("#field-claim", TextArea).text = "Lost parcel"
        form.query_one("#field-distributor", Select).value = "dhl"  # hides claim again
        await pilot.pause()
        assert form.query_one("#field-claim").has_class("-hidden")
        await click(pilot, "#send")
        await wait_for(pilot, lambda: not isinstance(app.screen, FormScreen))
        (sent,) = server.stats.actions
        assert sent["action"]["type"] == "form_submission"
        values = sent["action"]["values"]
        assert values == {"email": "ada@example.com", "distributor": "dhl", "phone": ""}
        assert "claim" not in values, "a hidden field is not sent"
        assert "Thanks — your lead is in." in app.transcript.entry_text(
            app.transcript.entry_ids[-1]
        )
        text = all_text(app)
        assert "📝 Form: Sales lead — E-mail*" in text and "— sent" in text, "the marker says so"

        # The support ticket, with its own fields; then the contact form.
        form = await open_from_history(pilot, app, "support ticket")
        assert [w.id for w in form.query(".field-label")] == [
            "field-name-label",
            "field-email-label",
            "field-message-label",
            "field-attachments-label",  # the ticket accepts attachments (form_files.py)
        ]
        form.query_one("#field-name", Input).value = "Ada"
        form.query_one("#field-email", Input).value = "ada@example.com"
        form.query_one("#field-message", TextArea).text = "It broke"
        await click(pilot, "#send")
        await wait_for(pilot, lambda: not isinstance(app.screen, FormScreen))
        assert server.stats.actions[-1]["action"] == {
            "type": "support_ticket",
            "name": "Ada",
            "email": "ada@example.com",
            "message": "It broke",
        }
        await pilot.press("ctrl+o")  # only the contact form is left: it opens directly
        await wait_for(pilot, lambda: isinstance(app.screen, FormScreen))
        assert isinstance(app.screen, FormScreen) and "Contact" in app.screen._title()


async def test_esc_keeps_a_draft_and_an_older_form_turns_read_only(server: DevServer) -> None:
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "the contact form please")
        await wait_for(pilot, lambda: isinstance(app.screen, FormScreen))
        form = app.screen
        assert isinstance(form, FormScreen)
        form.query_one("#field-name", Input).value = "Ada"
        form.query_one("#field-topic", Select).value = "Support"
        form.query_one("#field-message", TextArea).text = "Call me"
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, FormScreen))
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, FormScreen))
        form = app.screen
        assert isinstance(form, FormScreen)
        await pilot.pause()
        assert form.query_one("#field-name", Input).value == "Ada", "Esc kept the draft"
        assert form.query_one("#field-message", TextArea).text == "Call me"
        topic = form.query_one("#field-topic", Select)
        assert topic.value == "Support"
        shown = str(topic.query_one("SelectCurrent").query_one(Static).render())
        assert "Support" in shown, "the draft's choice is what the dropdown shows"
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, FormScreen))

        # A newer bot message without a form: the contact form is no longer current.
        await send(pilot, "thanks")
        await wait_for(pilot, turn_finished(app))
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, FormScreen))
        form = app.screen
        assert isinstance(form, FormScreen) and stale_shown(form)
        assert form.query_one("#send").disabled and form.query_one("#field-name").disabled
        assert "no longer current" in str(form.query_one("#form-stale", Static).render())
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, FormScreen))
        assert "📝 Contact form — Name*, E-mail*, Topic, Message — no longer current" in all_text(
            app
        ), "the transcript's marker says it is no longer current"


async def test_a_409_turns_the_form_read_only(server: DevServer) -> None:
    server.config.seed_forms = True
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        form = await open_from_history(pilot, app, "Contact")
        # Someone else answers it first (the same conversation, another tab).
        token = app.client.visitor_token
        response = httpx.post(
            f"{server.base_url}/api/v1/chat/actions",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "part_id": form.marker.part_id,
                "action": {
                    "type": "contact_form",
                    "fields": {"name": "X", "email": "x@example.com"},
                },
            },
        )
        assert response.status_code == 200
        form.query_one("#field-name", Input).value = "Ada"
        form.query_one("#field-email", Input).value = "ada@example.com"
        await click(pilot, "#send")
        await wait_for(pilot, lambda: stale_shown(form))
        assert isinstance(app.screen, FormScreen) and form.query_one("#send").disabled
        assert DEMO_API_KEY  # the app had a key; a 409 is not an auth matter


async def test_min_filled_fields_is_checked_before_sending(server: DevServer) -> None:
    from dialogtui.api.models import FormField, FormPart
    from dialogtui.ui.forms import SubmitOutcome

    marker = FormPart(
        part_id="p",
        form_id="f",
        name="Two of three",
        min_filled_fields=2,
        fields=[FormField(key=k, label=k.title()) for k in ("a", "b", "c")],
    )
    sent: list[dict[str, str]] = []

    async def submit(_marker: object, values: dict[str, str]) -> SubmitOutcome:
        sent.append(values)
        return SubmitOutcome()

    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        form = FormScreen(marker, submit)
        await app.push_screen(form)
        form.query_one("#field-a", Input).value = "1"
        await click(pilot, "#send")
        await pilot.pause()
        assert "at least 2 fields" in str(form.query_one("#form-error", Static).render())
        assert sent == []
        form.query_one("#field-c", Input).value = "3"
        await click(pilot, "#send")
        await wait_for(pilot, lambda: sent == [{"a": "1", "b": "", "c": "3"}])


async def test_forms_in_history_a_newer_bot_message_superseded_say_so(server: DevServer) -> None:
    server.config.seed_forms = True
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert "no longer current" not in all_text(app)
        await send(pilot, "thanks")
        await wait_for(pilot, turn_finished(app))
        assert stale_lines(app) == 3
        await pilot.press("ctrl+l")  # the conversation afresh from the server's history
        await wait_for(pilot, lambda: stale_lines(app) == 3)
        await ready(pilot)
        assert "Ctrl+O" not in str(app.query_one("#status").render()), "nothing to send now"
