"""Modal screens: the bot's forms (contact form, custom form, support ticket) and rating."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from ..api.models import ContactFormPart, FormField, FormMarker, FormPart, SupportTicketPart
from ..text import sanitize_line

SUPPORT_TICKET_FIELDS = (
    FormField(key="name", label="Name", type="text", required=True),
    FormField(key="email", label="E-mail", type="email", required=True),
    FormField(key="message", label="Message", type="textarea", required=True),
)


@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    """What the chat screen reports back after posting a form to `/actions`."""

    confirmation: str | None = None
    field_errors: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None
    """A safe message for a failure that is not about one field."""

    @property
    def ok(self) -> bool:
        return self.error is None and not self.field_errors


Submitter = Callable[[FormMarker, dict[str, Any]], Awaitable[SubmitOutcome]]


def marker_fields(marker: FormMarker) -> Sequence[FormField]:
    if isinstance(marker, SupportTicketPart):
        return SUPPORT_TICKET_FIELDS
    return marker.fields


def action_for(marker: FormMarker, values: dict[str, Any]) -> dict[str, Any]:
    """The `/actions` body for a marker; field keys are sent verbatim."""
    if isinstance(marker, ContactFormPart):
        return {"type": "contact_form", "fields": values}
    if isinstance(marker, FormPart):
        return {"type": "form_submission", "form_id": marker.form_id, "values": values}
    return {
        "type": "support_ticket",
        **{key: values.get(key, "") for key in ("name", "email", "message")},
    }


def _field_id(key: str) -> str:
    # Keys come from the server: keep ids valid and collision-free.
    return "field-" + "".join(
        ch if ch.isascii() and ch.isalnum() else f"_{ord(ch):x}_" for ch in key
    )


class FormScreen(ModalScreen[str | None]):
    """Dismissed with the confirmation text, or None when closed without sending."""

    DEFAULT_CSS = """
    FormScreen {
        align: center middle;
    }
    FormScreen > VerticalScroll {
        width: 72;
        max-width: 95%;
        height: auto;
        max-height: 90%;
        border: thick $accent;
        background: $surface;
        padding: 1 2;
    }
    FormScreen .form-title {
        text-style: bold;
        margin-bottom: 1;
    }
    FormScreen .field-label {
        margin-top: 1;
    }
    FormScreen .field-error {
        color: $error;
        display: none;
    }
    FormScreen .field-error.-shown {
        display: block;
    }
    FormScreen #form-error {
        color: $error;
        margin-top: 1;
    }
    FormScreen TextArea {
        height: 5;
    }
    FormScreen Horizontal {
        height: auto;
        margin-top: 1;
        align-horizontal: right;
    }
    FormScreen Horizontal Button {
        margin-left: 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, marker: FormMarker, submit: Submitter) -> None:
        super().__init__()
        self.marker = marker
        self._submit = submit
        self._fields = list(marker_fields(marker))

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Label(self._title(), classes="form-title")
            for form_field in self._fields:
                yield Label(self._label(form_field), classes="field-label")
                yield self._input_for(form_field)
                yield Static("", classes="field-error", id=_field_id(form_field.key) + "-error")
            yield Static("", id="form-error")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Send", variant="primary", id="send")

    def _title(self) -> str:
        if isinstance(self.marker, SupportTicketPart):
            return "Create a support ticket"
        if isinstance(self.marker, FormPart):
            return "Form"
        return "Contact us"

    @staticmethod
    def _label(form_field: FormField) -> Content:
        label = sanitize_line(form_field.label or form_field.key)
        if form_field.required:
            return Content.assemble(label, (" *", "bold $error"))
        return Content(label)

    @staticmethod
    def _input_for(form_field: FormField) -> Widget:
        widget_id = _field_id(form_field.key)
        if form_field.type == "dropdown":
            # Content, not str: an option's text must never be parsed as markup.
            options = [(Content(sanitize_line(option)), option) for option in form_field.options]
            return Select(options, id=widget_id, prompt="Choose…")
        if form_field.type == "textarea":
            return TextArea(id=widget_id, soft_wrap=True)
        if form_field.type == "file":
            return Input(
                id=widget_id,
                placeholder="File uploads are not supported in the terminal",
                disabled=True,
            )
        return Input(
            id=widget_id,
            placeholder={"email": "name@example.com", "tel": "+45 12 34 56 78"}.get(
                form_field.type, ""
            ),
        )

    def values(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for form_field in self._fields:
            widget = self.query_one(f"#{_field_id(form_field.key)}")
            if isinstance(widget, Select):
                value = "" if widget.is_blank() else str(widget.value)
            elif isinstance(widget, TextArea):
                value = widget.text
            elif isinstance(widget, Input) and not widget.disabled:
                value = widget.value
            else:
                continue
            values[form_field.key] = value.strip()
        return values

    def show_errors(self, field_errors: Mapping[str, str], general: str | None = None) -> None:
        for form_field in self._fields:
            error_label = self.query_one(f"#{_field_id(form_field.key)}-error", Static)
            message = field_errors.get(form_field.key)
            error_label.update(Content(sanitize_line(message)) if message else "")
            error_label.set_class(message is not None, "-shown")
        unknown = [key for key in field_errors if key not in {f.key for f in self._fields}]
        if unknown and general is None:
            general = "Some fields were not accepted: " + ", ".join(
                sanitize_line(k) for k in unknown
            )
        self.query_one("#form-error", Static).update(Content(general or ""))

    def _missing_required(self, values: Mapping[str, str]) -> dict[str, str]:
        return {
            f.key: "This field is required."
            for f in self._fields
            if f.required and f.type != "file" and not values.get(f.key)
        }

    @on(Button.Pressed, "#send")
    def _send_pressed(self) -> None:
        values = self.values()
        missing = self._missing_required(values)
        if missing:
            self.show_errors(missing)
            return
        self._send(values)

    @work(exclusive=True, group="form-submit")
    async def _send(self, values: dict[str, str]) -> None:
        send_button = self.query_one("#send", Button)
        send_button.disabled = True
        try:
            outcome = await self._submit(self.marker, dict(values))
        finally:
            send_button.disabled = False
        if outcome.ok:
            self.dismiss(outcome.confirmation or "Thanks, your form was sent.")
        else:
            self.show_errors(outcome.field_errors, outcome.error)

    @on(Button.Pressed, "#cancel")
    def action_close(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True, slots=True)
class Rating:
    stars: int
    feedback: str | None


class RateScreen(ModalScreen[Rating | None]):
    DEFAULT_CSS = """
    RateScreen {
        align: center middle;
    }
    RateScreen > VerticalScroll {
        width: 60;
        max-width: 95%;
        height: auto;
        border: thick $accent;
        background: $surface;
        padding: 1 2;
    }
    RateScreen #stars {
        height: auto;
        margin: 1 0;
    }
    RateScreen #stars Button {
        min-width: 7;
        margin-right: 1;
    }
    RateScreen #stars Button.-selected {
        background: $warning;
        color: $text;
    }
    RateScreen #rate-buttons {
        height: auto;
        align-horizontal: right;
        margin-top: 1;
    }
    RateScreen #rate-buttons Button {
        margin-left: 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        *(Binding(str(n), f"stars({n})", show=False) for n in range(1, 6)),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.stars = 0

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Label("How was this conversation? (1–5)")
            with Horizontal(id="stars"):
                for n in range(1, 6):
                    yield Button(f"{n} ★", id=f"star-{n}", compact=True)
            yield Input(placeholder="Feedback (optional)", id="feedback")
            with Horizontal(id="rate-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Send rating", variant="primary", id="send", disabled=True)

    def action_stars(self, stars: int) -> None:
        self.stars = stars
        for n in range(1, 6):
            self.query_one(f"#star-{n}", Button).set_class(n <= stars, "-selected")
        self.query_one("#send", Button).disabled = False

    @on(Button.Pressed, "#stars Button")
    def _star_pressed(self, event: Button.Pressed) -> None:
        assert event.button.id is not None
        self.action_stars(int(event.button.id.removeprefix("star-")))

    @on(Button.Pressed, "#send")
    def _send(self) -> None:
        feedback = self.query_one("#feedback", Input).value.strip()
        self.dismiss(Rating(self.stars, feedback or None))

    @on(Button.Pressed, "#cancel")
    def action_close(self) -> None:
        self.dismiss(None)
