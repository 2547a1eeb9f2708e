"""The dev server's side of attachments, banners, session values and form definitions.

Shapes from the vendor's SDK (its wire models and `Tests/Standin/servers/*.py`):
- a visitor's image/file part is checked (bare base64, the bytes match the declared MIME type)
  and acknowledged in the reply with what arrived, so a test can tell the bytes got here;
- `GET /banners?url=`: banners whose `url_pattern` is in the page, else the default ones;
- `GET /session`: the values the visitor's forms filled, `{"values": [...]}`;
- `GET /forms/{form_id}`: a form's definition (hydrates a thin `show_form` marker).

Fault scenarios (server-wide with `serve --scenario`, or a magic word in the message):
`upload_too_large` (413 in the API's envelope for a send carrying an attachment) and
`no_banners` (404 on `/banners`, as a server older than banners answers).
Registered by `app.create_app`; like app.py, this imports nothing of the client.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import content
from .app import (
    Conversation,
    DevServerState,
    bearer_route,
    failure_response,
)
from .scenarios import HttpFailure, api_error


# ---------------------------------------------------------------------------------------------
# Attachments on POST /messages


def _sniff(data: bytes) -> str | None:
    """The image type the bytes show, None if they are no image this server knows."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    return None


def _pixels(data: bytes, mime: str) -> str | None:
    """`WxH` of a PNG or JPEG, read from its header (what the SDK's stand-in reports)."""
    if mime == "image/png" and len(data) >= 24:
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        return f"{width}x{height}"
    if mime == "image/jpeg":
        index = 2
        while index + 9 <= len(data):
            if data[index] != 0xFF:
                index += 1
                continue
            marker = data[index + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                index += 2
                continue
            if marker in (0xC0, 0xC1, 0xC2):
                height = int.from_bytes(data[index + 5 : index + 7], "big")
                width = int.from_bytes(data[index + 7 : index + 9], "big")
                return f"{width}x{height}"
            if marker == 0xDA:
                return None
            index += 2 + int.from_bytes(data[index + 2 : index + 4], "big")
    return None


def attachment_summary(part: dict[str, Any]) -> dict[str, Any] | HttpFailure:
    """What arrived in one image/file part (app.py checked the base64 and the size), or the
    422 for an image whose bytes are not the declared type."""
    try:
        data = base64.b64decode(part["data"], validate=True)
    except (binascii.Error, ValueError):  # pragma: no cover - app.py refused it already
        return api_error(422, "validation", "data must be base64")
    mime = part["mime"]
    if part["type"] == "image" and _sniff(data) != mime:
        return api_error(
            422,
            "validation",
            "Validation failed",
            [{"field": "mime", "message": f"The image data is not {mime}"}],
        )
    return {
        "type": part["type"],
        "mime": mime,
        "filename": part.get("filename"),
        "bytes": len(data),
        "pixels": _pixels(data, mime) if part["type"] == "image" else None,
    }


def check_attachments(
    state: DevServerState, scenario: str, parts: list[dict[str, Any]]
) -> list[dict[str, Any]] | HttpFailure:
    """The summaries of a send's attachments, or the failure it gets instead."""
    if not parts:
        return []
    if scenario == "upload_too_large":
        return api_error(
            413, "payload_too_large", "The attachment is larger than this server accepts."
        )
    summaries: list[dict[str, Any]] = []
    for part in parts:
        summary = attachment_summary(part)
        if isinstance(summary, HttpFailure):
            return summary
        summaries.append(summary)
    state.stats.note_attachments(summaries)
    return summaries


def acknowledgement(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """A reply part saying what arrived, as the SDK's photo stand-in does."""
    lines = []
    for summary in summaries:
        what = "photo" if summary["type"] == "image" else "file"
        size = f"{summary['bytes']:,} bytes"
        pixels = f", {summary['pixels']}" if summary.get("pixels") else ""
        name = f", named {summary['filename']}" if summary.get("filename") else ", no filename"
        lines.append(f"I received your {what}: {summary['mime']}{pixels}, {size}{name}.")
    return {
        "type": "rich_text",
        "part_id": content.new_id("part"),
        "blocks": [content.paragraph(content.text_span(" ".join(lines)))],
    }


def visitor_file_part(part: dict[str, Any]) -> dict[str, Any]:
    """A visitor's file as history serves it back (a `data:` URL, like its photos)."""
    served: dict[str, Any] = {
        "type": "file",
        "url": f"data:{part['mime']};base64,{part['data']}",
        "mime_type": part["mime"],
        "filename": part.get("filename") or "attachment",
    }
    return served


ACTION_MAX_BYTES = 2 * 1024 * 1024  # an `/actions` Attachment (the SDK's TypeSpec cap)


def action_attachment_problem(action: dict[str, Any]) -> HttpFailure | None:
    """A ticket's `attachments` or a form's `files` that this server refuses: not the
    SDK's `{filename, mime_type, data_base64}`, not base64, or over 2 MiB (413)."""
    entries: list[tuple[str, Any]] = []
    attachments = action.get("attachments")
    if isinstance(attachments, list):
        entries += [(f"action.attachments.{i}", a) for i, a in enumerate(attachments)]
    elif attachments is not None:
        return api_error(422, "validation", "Validation failed", [_param("action.attachments")])
    files = action.get("files")
    if isinstance(files, dict):
        entries += [(f"action.files.{key}", a) for key, a in files.items()]
    elif files is not None:
        return api_error(422, "validation", "Validation failed", [_param("action.files")])
    for where, entry in entries:
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), str) and entry[k] for k in ("filename", "mime_type")
        ):
            return api_error(422, "validation", "Validation failed", [_param(where)])
        try:
            data = base64.b64decode(entry.get("data_base64") or "", validate=True)
        except (binascii.Error, ValueError):
            data = b""
        if not data:
            return api_error(422, "validation", "Validation failed", [_param(where, "base64")])
        if len(data) > ACTION_MAX_BYTES:
            return api_error(413, "payload_too_large", "The attachment is larger than 2 MiB.")
    return None


def _param(field: str, what: str = "an attachment") -> dict[str, str]:
    message = (
        "data_base64 must be base64"
        if what == "base64"
        else "Expected filename, mime_type and data_base64"
    )
    return {"field": field, "message": message}


# ---------------------------------------------------------------------------------------------
# Banners


CTA_URL = "https://shop.example/sale"
BANNERS: list[dict[str, Any]] = [
    {
        "id": "10",
        "message": "Free shipping on every product page this week",
        "url_pattern": "/products",
        "is_default": False,
        "is_enabled": True,
        "background_color": "#4F46E5",
        "text_color": "#FFFFFF",
        "cta_url": CTA_URL,
        "cta_label": "Shop the sale",
        "cta_style": "button",
        "dismissible": True,
        "sort_order": 1,
    },
    {
        "id": "20",
        "message": "Welcome offer: 10% off your first order",
        "url_pattern": None,
        "is_default": True,
        "is_enabled": True,
        "background_color": "#111827",
        "text_color": "#F9FAFB",
        "cta_url": CTA_URL,
        "cta_label": "See offer",
        "cta_style": "link",
        "dismissible": True,
        "sort_order": 2,
    },
    {
        "id": "30",
        "message": "Support hours: 9-17 on weekdays",
        "url_pattern": "/support",
        "is_default": False,
        "is_enabled": True,
        "background_color": None,
        "text_color": None,
        "cta_url": None,
        "cta_label": None,
        "cta_style": None,
        "dismissible": False,
        "sort_order": 3,
    },
    {
        "id": "99",
        "message": "Disabled: never shown",
        "url_pattern": None,
        "is_default": False,
        "is_enabled": False,
        "dismissible": False,
        "sort_order": 99,
    },
]
_WIRE_FIELDS = (
    "id",
    "message",
    "background_color",
    "text_color",
    "cta_url",
    "cta_label",
    "cta_style",
    "dismissible",
)


def select_banners(page: str | None) -> list[dict[str, Any]]:
    """The vendor's filter: enabled banners whose pattern is in the page (a banner with no
    pattern matches any page); the default ones only when none matched. Without a page this
    demo shows none (so `dialogtui --demo` without `--page` keeps its screen as it was)."""
    if not page:
        return []
    enabled = [b for b in BANNERS if b["is_enabled"]]
    matched = [
        b
        for b in enabled
        if not b["is_default"] and (b["url_pattern"] is None or (page and b["url_pattern"] in page))
    ]
    chosen = matched or [b for b in enabled if b["is_default"]]
    chosen.sort(key=lambda b: (b["sort_order"], b["id"]))
    return [{key: b.get(key) for key in _WIRE_FIELDS} for b in chosen]


@bearer_route("GET /banners")
async def get_banners(
    request: Request, state: DevServerState, conversation: Conversation
) -> Response:
    if state.config.scenario == "no_banners":
        return failure_response(api_error(404, "not_found", "Not found."))
    return JSONResponse({"banners": select_banners(request.query_params.get("url"))})


# ---------------------------------------------------------------------------------------------
# Session values and form definitions


def _forms() -> dict[str, dict[str, Any]]:
    """The definitions `GET /forms/{id}` knows: the sample custom form and the live chat's
    waiting-room form (one route serves both)."""
    from .livechat import WAITING_FORM

    form = content.custom_form_part()
    return {
        form["form_id"]: {
            "form_id": form["form_id"],
            "name": form["name"],
            "fields": form["fields"],
            "min_filled_fields": form["min_filled_fields"],
        },
        WAITING_FORM["form_id"]: WAITING_FORM,
    }


def session_values(conversation: Conversation) -> list[dict[str, Any]]:
    """The values the visitor's submitted forms hold, newest winning, in the SDK's shape
    (non-empty values only)."""
    values: dict[str, dict[str, Any]] = {}
    for submission in conversation.submissions:
        action = submission["action"]
        marker = conversation.markers.get(submission["part_id"], {})
        labels = {f.get("key"): f for f in marker.get("fields") or [] if isinstance(f, dict)}
        if action.get("type") == "support_ticket":
            filled = {k: action.get(k) for k in ("name", "email", "message")}
        else:
            filled = action.get("fields") or action.get("values") or {}
        for key, value in filled.items():
            if isinstance(value, str) and value.strip():
                spec = labels.get(key, {})
                values[key] = {
                    "key": key,
                    "label": spec.get("label") or key,
                    "type": spec.get("type") or "text",
                    "value": value,
                    "updated_at": submission.get("created_at") or content.iso_utc(),
                }
    return list(values.values())


@bearer_route("GET /session")
async def get_session(
    request: Request, state: DevServerState, conversation: Conversation
) -> Response:
    return JSONResponse(
        {
            "values": session_values(conversation),
            "metadata": {"visitor_id": conversation.visitor_id},
            "verified_metadata": {},
        }
    )


@bearer_route("GET /forms/{form_id}")
async def get_form(request: Request, state: DevServerState, conversation: Conversation) -> Response:
    form = _forms().get(request.path_params["form_id"])
    if form is None:
        return failure_response(api_error(404, "not_found", "Unknown form."))
    return JSONResponse(form)


ROUTES = [
    Route("/banners", get_banners, methods=["GET"]),
    Route("/session", get_session, methods=["GET"]),
    Route("/forms/{form_id}", get_form, methods=["GET"]),
]
