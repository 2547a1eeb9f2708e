"""Files in forms: a custom form's `file` fields and a support ticket's attachments.

The person types (or pastes) a path; on Send each is read and checked here
(`dialogtui.attachments`: 2 MiB for an `/actions` attachment, or the ticket's own
`max_attachment_size_bytes` when tighter), and a refused one is shown under its field.
The action carries them in the SDK's shapes: `form_submission.files: {key: {filename,
mime_type, data_base64}}`, `support_ticket.attachments: [{...}]`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from ..api.models import FormField, FormMarker, SupportTicketPart
from ..attachments import ACTION_MAX_BYTES, Attachment, AttachmentError, clean_path, load

TICKET_ATTACHMENTS: Final = "attachments"
"""The ticket's own field for its attachments (paths separated by `;`)."""


def ticket_limit(marker: SupportTicketPart) -> int:
    return min(marker.max_attachment_size_bytes or ACTION_MAX_BYTES, ACTION_MAX_BYTES)


def ticket_attachments_field(marker: FormMarker) -> FormField | None:
    """The extra field a ticket that accepts attachments gets."""
    if isinstance(marker, SupportTicketPart) and marker.attachments_accepted:
        return FormField(key=TICKET_ATTACHMENTS, label="Attachments (optional)", type="file")
    return None


def read_files(
    marker: FormMarker, fields: Sequence[FormField], values: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """`values` with each file field's path(s) replaced by the file(s) read, and the errors
    of those that could not be (by field key). Empty file fields are left out."""
    out: dict[str, Any] = dict(values)
    errors: dict[str, str] = {}
    limit = ticket_limit(marker) if isinstance(marker, SupportTicketPart) else ACTION_MAX_BYTES
    for field in fields:
        if field.type != "file" or field.key not in values:
            continue
        text = values[field.key].strip()
        out.pop(field.key)
        if not text:
            continue
        paths = (
            [p for p in text.split(";") if p.strip()] if field.key == TICKET_ATTACHMENTS else [text]
        )
        try:
            files = [
                load(clean_path(p), limit=limit, limit_source="the form's limit") for p in paths
            ]
        except AttachmentError as error:
            errors[field.key] = error.safe_message
            continue
        out[field.key] = files if field.key == TICKET_ATTACHMENTS else files[0]
    return out, errors


def with_files(marker: FormMarker, action: dict[str, Any], values: Mapping[str, Any]) -> None:
    """Add the files read (`read_files`) to an `/actions` body, in the SDK's shapes."""
    if isinstance(marker, SupportTicketPart):
        attached = values.get(TICKET_ATTACHMENTS)
        if isinstance(attached, list) and attached:
            action["attachments"] = [a.action_attachment() for a in attached]
        return
    files = {k: v.action_attachment() for k, v in values.items() if isinstance(v, Attachment)}
    if files and action.get("type") == "form_submission":
        action["files"] = files
