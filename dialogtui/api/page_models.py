"""Wire models of the calls around a conversation: banners, session values, form definitions.

Shapes from the vendor's SDK (`ChatBanner`, `ChatSessionState`, `ChatFormDefinition`), read as
leniently as `models` reads everything: a bad banner or value drops itself, a missing optional
field takes its default.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import Struct

from .models import FormField, FormPart, convert


class Banner(Struct, omit_defaults=True):
    """An in-chat promo strip. The server matched it to the page already."""

    id: str
    message: str
    background_color: str | None = None
    text_color: str | None = None
    cta_url: str | None = None
    cta_label: str | None = None
    cta_style: str | None = None
    """`link` or `button`; anything else reads as a link."""
    dismissible: bool = False

    def __post_init__(self) -> None:
        if self.cta_style not in ("link", "button"):
            self.cta_style = None

    @property
    def cta(self) -> tuple[str, str] | None:
        """(label, url) when both are usable: an absolute http(s) URL and a label (the SDK's
        rule; a relative or `javascript:` URL is dropped)."""
        from urllib.parse import urlsplit

        label = (self.cta_label or "").strip()
        url = (self.cta_url or "").strip()
        parts = urlsplit(url) if url else None
        if not label or parts is None or parts.scheme.lower() not in ("http", "https"):
            return None
        return (label, url) if parts.netloc else None

    @property
    def fingerprint(self) -> str:
        """Dismissing hides a banner until its content changes (the SDK's rule)."""
        return "|".join(
            [
                self.message,
                self.background_color or "",
                self.text_color or "",
                self.cta_url or "",
                self.cta_label or "",
                self.cta_style or "",
                "1" if self.dismissible else "0",
            ]
        )


class _BannerList(Struct):
    banners: list[Banner] = []


def decode_banners(data: Any) -> list[Banner]:
    """`{"banners": [...]}`; a banner with blank text is dropped (an empty bar is no banner)."""
    if not isinstance(data, dict):
        return []
    try:
        found: _BannerList = convert(data, _BannerList)
    except msgspec.ValidationError:
        return []
    return [b for b in found.banners if b.message.strip()]


class SessionValue(Struct, omit_defaults=True):
    key: str
    value: str
    label: str | None = None
    type: str | None = None
    updated_at: str | None = None


class SessionState(Struct, omit_defaults=True):
    """`GET /session`: the visitor's non-empty values (metadata kept as sent, for showing)."""

    values: list[SessionValue] = []
    metadata: dict[str, Any] | None = None
    verified_metadata: dict[str, Any] | None = None


def decode_session_state(data: Any) -> SessionState:
    if not isinstance(data, dict):
        return SessionState()
    try:
        state: SessionState = convert(data, SessionState)
    except msgspec.ValidationError:
        return SessionState()
    return state


class FormDefinition(Struct, omit_defaults=True):
    """`GET /forms/{form_id}`: what a thin `show_form` marker leaves out, and the live chat's
    waiting-room form (`trigger` `livechat_waiting`)."""

    form_id: str
    name: str | None = None
    trigger: str = ""
    fields: list[FormField] = []
    min_filled_fields: int = 0


def hydrate(marker: FormPart, definition: FormDefinition) -> FormPart:
    """A thin `show_form` marker (no fields) completed from its definition: the fields, and
    the name and minimum where the marker left them out."""
    name = marker.name if marker.name != marker.form_id else (definition.name or marker.name)
    minimum = marker.min_filled_fields or definition.min_filled_fields
    return msgspec.structs.replace(
        marker, fields=list(definition.fields), name=name, min_filled_fields=minimum
    )


def decode_form_definition(data: Any) -> FormDefinition:
    """Raises `ProtocolError` when the answer has no `form_id`."""
    from .errors import ProtocolError

    try:
        definition: FormDefinition = convert(data, FormDefinition)
    except msgspec.ValidationError:
        raise ProtocolError() from None
    return definition
