"""Modal screens: the bot's forms (contact form, custom form, support ticket) and rating.

Forms follow the vendor's rules (its SDK): a field with `visible_when` shows only while the
dropdown it names has that value, and a hidden field is neither checked nor sent; a custom form
may need `min_filled_fields`; e-mail fields are checked before sending; the form's `name` is its
title and its `confirmation_text` the thanks. Only the markers of the newest assistant message
are current: an older one opens read-only ("no longer current"), as does one the server answers
with 409.
"""

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
from textual.widgets import Button, Input, Label, OptionList, Select, Static, TextArea
from textual.widgets.option_list import Option

from ..api.models import FormField, FormMarker, FormPart
from ..conversation.forms import (
    action_body,
    is_visible,
    local_errors,
    marker_fields,
    marker_title,
    submitted_values,
)
from ..text import sanitize_line


@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    """What the chat screen reports back after posting a form to `/actions`."""

    confirmation: str | None = None
    field_errors: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None
    """A safe message for a failure that is not about one field."""
    stale: bool = False
    """The server no longer accepts this form (409): it turns read-only."""

    @property
    def ok(self) -> bool:
        return self.error is None and not self.field_errors


Submitter = Callable[[FormMarker, dict[str, Any]], Awaitable[SubmitOutcome]]


STALE_MESSAGE = "This form is no longer current: the bot has moved on. It cannot be sent."


def action_for(marker: FormMarker, values: dict[str, Any]) -> dict[str, Any]:
    """The `/actions` body for a marker; field keys are sent verbatim, hidden fields not.
    Files read by `form_files.read_files` go in the SDK's `files` / `attachments`."""
    from .form_files import with_files

    action = action_body(marker, values)
    with_files(marker, action, {**values, **submitted_values(marker_fields(marker), values)})
    return action


def _field_id(key: str) -> str:
    # Keys come from the server: keep ids valid and collision-free.
    return "field-" + "".join(
        ch if ch.isascii() and ch.isalnum() else f"_{ord(ch):x}_" for ch in key
    )


class FormScreen(ModalScreen[str | None]):
    """Dismissed with the confirmation text, or None when closed without sending (Esc keeps
    what was typed: `keep_draft` gets it, and `draft` brings it back next time)."""

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
    FormScreen #form-stale {
        color: $warning;
        display: none;
    }
    FormScreen #form-stale.-shown {
        display: block;
    }
    FormScreen .field-label {
        margin-top: 1;
    }
    FormScreen .-hidden {
        display: none;
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

    def __init__(
        self,
        marker: FormMarker,
        submit: Submitter,
        *,
        current: bool = True,
        draft: Mapping[str, str] | None = None,
        keep_draft: Callable[[FormMarker, dict[str, str]], None] | None = None,
    ) -> None:
        super().__init__()
        self.marker = marker
        self._submit = submit
        self._fields = list(marker_fields(marker))
        from .form_files import ticket_attachments_field

        extra = ticket_attachments_field(marker)  # a ticket's attachments: a field of ours
        if extra is not None:
            self._fields.append(extra)
        self.current = current
        self._draft = dict(draft or {})
        self._keep_draft = keep_draft

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Label(Content(marker_title(self.marker)), classes="form-title")
            yield Static(STALE_MESSAGE, id="form-stale")
            for form_field in self._fields:
                yield Label(
                    self._label(form_field),
                    classes="field-label",
                    id=_field_id(form_field.key) + "-label",
                )
                yield self._input_for(form_field, self._draft.get(form_field.key, ""))
                yield Static("", classes="field-error", id=_field_id(form_field.key) + "-error")
            yield Static("", id="form-error")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Send", variant="primary", id="send")

    def on_mount(self) -> None:
        for form_field in self._fields:
            chosen = self._draft.get(form_field.key, "")
            if form_field.type == "dropdown" and chosen in form_field.options:
                self.query_one(f"#{_field_id(form_field.key)}", Select).value = chosen
        self._apply_visibility()
        if not self.current:
            self.make_read_only()
            return
        for widget in self._inputs():
            if widget.display and not widget.disabled:
                widget.focus()  # the first field: typing starts at once
                break

    def _title(self) -> str:
        return marker_title(self.marker)

    @staticmethod
    def _label(form_field: FormField) -> Content:
        label = sanitize_line(form_field.label or form_field.key)
        if form_field.required:
            return Content.assemble(label, (" *", "bold $error"))
        return Content(label)

    @staticmethod
    def _input_for(form_field: FormField, value: str = "") -> Widget:
        widget_id = _field_id(form_field.key)
        placeholder = sanitize_line(form_field.placeholder or "").strip()
        if form_field.type == "dropdown":
            # Content, not str: an option's text must never be parsed as markup.
            options = [(Content(sanitize_line(option)), option) for option in form_field.options]
            # A draft's choice is set once mounted (`on_mount`): set before, the Select shows its
            # prompt over the value it holds.
            return Select(options, id=widget_id, prompt=placeholder or "Choose…")
        if form_field.type == "textarea":
            area = TextArea(value, id=widget_id, soft_wrap=True)
            area.placeholder = placeholder
            return area
        if form_field.type == "file":
            # A path typed or pasted; read and checked on Send (`form_files`).
            several = "paths separated by ; " if form_field.key == "attachments" else "a path "
            return Input(value, id=widget_id, placeholder=f"{several}to a file, up to 2 MiB")
        return Input(
            value,
            id=widget_id,
            placeholder=placeholder
            or {"email": "name@example.com", "tel": "+45 12 34 56 78"}.get(form_field.type, ""),
        )

    def _inputs(self) -> list[Widget]:
        return [self.query_one(f"#{_field_id(f.key)}") for f in self._fields]

    def all_values(self) -> dict[str, str]:
        """What every field holds, hidden ones included (a draft keeps them)."""
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

    def values(self) -> dict[str, str]:
        """What would be sent: the visible fields only."""
        return submitted_values(self._fields, self.all_values())

    def _apply_visibility(self) -> None:
        values = self.all_values()
        for form_field in self._fields:
            hidden = not is_visible(form_field, values)
            base = _field_id(form_field.key)
            for suffix in ("-label", "", "-error"):
                self.query_one(f"#{base}{suffix}").set_class(hidden, "-hidden")

    @on(Select.Changed)
    def _choice_changed(self) -> None:
        self._apply_visibility()  # a dropdown may show or hide the fields that depend on it

    def make_read_only(self, message: str = STALE_MESSAGE) -> None:
        """The form can no longer be sent: everything disabled, the reason shown."""
        self.current = False
        stale = self.query_one("#form-stale", Static)
        stale.update(Content(message))
        stale.add_class("-shown")
        for widget in self._inputs():
            widget.disabled = True
        self.query_one("#send", Button).disabled = True
        self.query_one("#cancel", Button).label = "Close"
        self.query_one("#cancel", Button).focus()

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

    @on(Button.Pressed, "#send")
    def _send_pressed(self) -> None:
        if not self.current:
            return
        values = self.all_values()
        errors, general = local_errors(self.marker, values)
        if errors or general:
            self.show_errors(errors, general)
            return
        from .form_files import read_files

        sent, file_errors = read_files(
            self.marker, self._fields, submitted_values(self._fields, values)
        )
        if file_errors:
            self.show_errors(file_errors)
            return
        self._send(sent)

    @work(exclusive=True, group="form-submit")
    async def _send(self, values: dict[str, Any]) -> None:
        send_button = self.query_one("#send", Button)
        send_button.disabled = True
        try:
            outcome = await self._submit(self.marker, dict(values))
        finally:
            send_button.disabled = not self.current
        if outcome.stale:
            self.show_errors({})
            self.make_read_only()
        elif outcome.ok:
            if self._keep_draft is not None:
                self._keep_draft(self.marker, {})  # sent: the draft is done with
            confirmation = outcome.confirmation
            if not confirmation and isinstance(self.marker, FormPart):
                confirmation = self.marker.confirmation_text
            self.dismiss(confirmation or "Thanks, your form was sent.")
        else:
            self.show_errors(outcome.field_errors, outcome.error)

    @on(Button.Pressed, "#cancel")
    def action_close(self) -> None:
        if self.current and self._keep_draft is not None:
            self._keep_draft(self.marker, self.all_values())
        self.dismiss(None)


class FormPickerScreen(ModalScreen[FormMarker | None]):
    """Which form to open, when the bot's newest message offers more than one."""

    DEFAULT_CSS = """
    FormPickerScreen {
        align: center middle;
    }
    FormPickerScreen > VerticalScroll {
        width: 60;
        max-width: 95%;
        height: auto;
        border: thick $accent;
        background: $surface;
        padding: 1 2;
    }
    FormPickerScreen OptionList {
        height: auto;
        margin-top: 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, markers: Sequence[FormMarker], sent: Sequence[str] = ()) -> None:
        super().__init__()
        self.markers = list(markers)
        self._sent = set(sent)

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Label("The bot offers these forms:")
            yield OptionList(
                *(
                    Option(
                        Content(marker_title(m) + (" (sent)" if m.part_id in self._sent else "")),
                        id=str(i),
                        disabled=m.part_id in self._sent,
                    )
                    for i, m in enumerate(self.markers)
                )
            )

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        assert event.option.id is not None
        self.dismiss(self.markers[int(event.option.id)])

    def action_close(self) -> None:
        self.dismiss(None)


class PageScreen(ModalScreen[str | None]):
    """The page the visitor is on (`context.page`): dismissed with the new value ('' clears
    it), or None when closed without a change."""

    DEFAULT_CSS = """
    PageScreen {
        align: center middle;
    }
    PageScreen > VerticalScroll {
        width: 72;
        max-width: 95%;
        height: auto;
        border: thick $accent;
        background: $surface;
        padding: 1 2;
    }
    PageScreen Horizontal {
        height: auto;
        margin-top: 1;
        align-horizontal: right;
    }
    PageScreen Horizontal Button {
        margin-left: 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, page: str | None) -> None:
        super().__init__()
        self._page = page or ""

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Label("The page the visitor is on, sent as context.page with every message.")
            yield Label("Start prompts and banners match their url_pattern against it.")
            yield Input(self._page, placeholder="https://shop.example/products/…", id="page")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Set page", variant="primary", id="set")

    def on_mount(self) -> None:
        self.query_one("#page", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#set")
    def _set(self) -> None:
        self.dismiss(self.query_one("#page", Input).value.strip())

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

    @on(Input.Submitted, "#feedback")
    def _feedback_submitted(self) -> None:
        # Enter after the feedback sends the rating, as a person expects from a dialog.
        if self.stars:
            self._send()
        else:
            self.notify("Choose 1–5 stars first (the keys 1 to 5 work too).")

    @on(Button.Pressed, "#cancel")
    def action_close(self) -> None:
        self.dismiss(None)
