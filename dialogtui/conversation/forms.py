"""A form's rules without a screen: which fields a marker has, which are visible, what is
checked before sending and what the `/actions` body holds. The app's form screen, `dialogtui
test` and anything else that answers a form share these, so a hidden field is left out of
every submission alike.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..api.models import ContactFormPart, FormField, FormMarker, FormPart, SupportTicketPart
from ..text import sanitize_line

SUPPORT_TICKET_FIELDS = (
    FormField(key="name", label="Name", type="text", required=True),
    FormField(key="email", label="E-mail", type="email", required=True),
    FormField(key="message", label="Message", type="textarea", required=True),
)


EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def marker_fields(marker: FormMarker) -> Sequence[FormField]:
    if isinstance(marker, SupportTicketPart):
        return marker.fields or SUPPORT_TICKET_FIELDS  # a ticket names its own fields
    return marker.fields


def marker_title(marker: FormMarker) -> str:
    if isinstance(marker, SupportTicketPart):
        return "Create a support ticket"
    if isinstance(marker, FormPart):
        return sanitize_line(marker.name).strip() or "Form"
    return "Contact us"


def is_visible(form_field: FormField, values: Mapping[str, str]) -> bool:
    """`visible_when`: every condition holds. `equals` is the one operator there is; a
    condition with an operator this client does not know keeps the field hidden."""
    return all(
        condition.operator == "equals" and values.get(condition.field, "") == condition.value
        for condition in form_field.visible_when
    )


def submitted_values(fields: Sequence[FormField], values: Mapping[str, str]) -> dict[str, str]:
    """What is sent: the visible fields only, keys verbatim."""
    return {f.key: values[f.key] for f in fields if f.key in values and is_visible(f, values)}


def local_errors(
    marker: FormMarker, values: Mapping[str, str]
) -> tuple[dict[str, str], str | None]:
    """Problems found before sending: per field (required, e-mail) and for the whole form
    (`min_filled_fields`). Hidden fields are not checked."""
    fields = [f for f in marker_fields(marker) if is_visible(f, values)]
    errors: dict[str, str] = {}
    for f in fields:
        value = values.get(f.key, "")
        if f.required and f.type != "file" and not value:
            errors[f.key] = "This field is required."
        elif f.type == "email" and value and not EMAIL.match(value):
            errors[f.key] = "Enter a valid e-mail address."
    general = None
    if isinstance(marker, FormPart) and marker.min_filled_fields > 0:
        filled = sum(1 for f in fields if values.get(f.key))
        if filled < marker.min_filled_fields:
            count = marker.min_filled_fields
            general = f"Fill in at least {count} field{'s' if count != 1 else ''}."
    return errors, general


def action_body(marker: FormMarker, values: Mapping[str, Any]) -> dict[str, Any]:
    """The `/actions` body for `marker` with the text values of its visible fields (keys
    verbatim); a caller with files adds them (`ui.form_files.with_files`)."""
    sent = submitted_values(marker_fields(marker), values)
    texts = {key: value for key, value in sent.items() if isinstance(value, str)}
    if isinstance(marker, ContactFormPart):
        return {"type": "contact_form", "fields": texts}
    if isinstance(marker, FormPart):
        return {"type": "form_submission", "form_id": marker.form_id, "values": texts}
    return {
        "type": "support_ticket",
        **{key: texts.get(key, "") for key in ("name", "email", "message")},
    }
