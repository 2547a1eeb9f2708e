"""Wire models of the Dialog Intelligens chat API, as `msgspec.Struct`s.

Decoding is lenient where the contract asks for forward compatibility: unknown fields
are ignored, and unknown part, block, span and event types are kept as neutral values
instead of failing the whole message. Strictness is kept where it changes behaviour:
a stream `error` without `retryable` is *not* retryable.
"""

from __future__ import annotations

from typing import Any, Final, TypeAlias

import msgspec
from msgspec import Struct

# ---------------------------------------------------------------------------
# Rich text

SPAN_TYPES: Final = frozenset({"text", "bold", "strike", "link"})
BLOCK_TYPES: Final = frozenset({"paragraph", "bullet_list"})


class Span(Struct, omit_defaults=True):
    """One run of inline text. `type` stays a plain string so unknown span types decode."""

    type: str = "text"
    text: str = ""
    url: str | None = None


class ListItem(Struct, omit_defaults=True):
    spans: list[Span] = []


class Block(Struct, omit_defaults=True):
    """A paragraph (`spans`) or a bullet list (`items`); other types are kept, not rendered."""

    type: str = "paragraph"
    spans: list[Span] = []
    items: list[ListItem] = []


# ---------------------------------------------------------------------------
# Parts. Each known kind is a tagged struct; anything else becomes `UnknownPart`.


class Price(Struct, omit_defaults=True):
    amount: float | str = 0
    currency: str = ""


class Product(Struct, omit_defaults=True):
    id: str = ""
    title: str = ""
    description: str | None = None
    image_url: str | None = None
    price: Price | None = None
    original_price: Price | None = None
    url: str | None = None


class Suggestion(Struct, omit_defaults=True):
    id: str = ""
    title: str = ""
    description: str | None = None
    image_url: str | None = None
    prompt_text: str = ""


class Cell(Struct, omit_defaults=True):
    blocks: list[Block] = []
    text: str | None = None


class FormField(Struct, omit_defaults=True):
    key: str
    label: str = ""
    type: str = "text"
    required: bool = False
    options: list[str] = []


class _Part(Struct, tag_field="type", omit_defaults=True):
    part_id: str = ""


class TextPart(_Part, tag="text"):
    """What a visitor sends; also how user turns come back in history."""

    text: str = ""


class RichTextPart(_Part, tag="rich_text"):
    blocks: list[Block] = []


class ProductsPart(_Part, tag="products"):
    products: list[Product] = []


class SuggestionsPart(_Part, tag="suggestions"):
    suggestions: list[Suggestion] = []


class QuickRepliesPart(_Part, tag="quick_replies"):
    replies: list[str] = []


class TablePart(_Part, tag="table"):
    headers: list[str | Cell] = []
    alignments: list[str] | None = None
    caption: str | None = None
    rows: list[list[Cell]] = []


class ImagePart(_Part, tag="image"):
    url: str = ""
    mime_type: str = ""
    size_bytes: int | None = None
    url_expires_at: str | None = None
    caption: str | None = None


class FilePart(_Part, tag="file"):
    url: str = ""
    mime_type: str = ""
    size_bytes: int | None = None
    url_expires_at: str | None = None
    filename: str | None = None


class ContactFormPart(_Part, tag="show_contact_form"):
    fields: list[FormField] = []


class FormPart(_Part, tag="show_form"):
    form_id: str = ""
    fields: list[FormField] = []


class SupportTicketPart(_Part, tag="show_support_ticket"):
    pass


class HumanAgentPart(_Part, tag="request_human_agent"):
    pass


class ImageUploadPart(_Part, tag="request_image_upload"):
    pass


class UnknownPart(Struct):
    """A part this client does not understand yet; kept so nothing is silently lost."""

    type: str
    part_id: str = ""
    raw: dict[str, Any] = {}


KnownPart: TypeAlias = (
    TextPart
    | RichTextPart
    | ProductsPart
    | SuggestionsPart
    | QuickRepliesPart
    | TablePart
    | ImagePart
    | FilePart
    | ContactFormPart
    | FormPart
    | SupportTicketPart
    | HumanAgentPart
    | ImageUploadPart
)
Part: TypeAlias = KnownPart | UnknownPart
FormMarker: TypeAlias = ContactFormPart | FormPart | SupportTicketPart

KNOWN_PART_TYPES: Final = frozenset(cls.__struct_config__.tag for cls in KnownPart.__args__)


def to_part(obj: Any) -> Part:
    """Convert a decoded JSON object to a typed part, or an `UnknownPart` if it does not fit."""
    if not isinstance(obj, dict):
        return UnknownPart(type="invalid")
    part_type = obj.get("type")
    # isinstance first: `[] in frozenset()` raises TypeError (unhashable), and this must not raise.
    if isinstance(part_type, str) and part_type in KNOWN_PART_TYPES:
        try:
            part: KnownPart = msgspec.convert(obj, KnownPart)
            return part
        except msgspec.ValidationError:
            pass
    return UnknownPart(
        type=part_type if isinstance(part_type, str) else "invalid",
        part_id=str(obj.get("part_id", "")),
        raw=obj,
    )


# ---------------------------------------------------------------------------
# Messages, config and plain responses


class Message(Struct, omit_defaults=True):
    message_id: str = ""
    role: str = "assistant"
    parts: list[Part] = []
    created_at: str = ""


class _WireMessage(Struct):
    message_id: str = ""
    role: str = "assistant"
    parts: list[Any] = []
    created_at: str = ""


def to_message(obj: Any) -> Message:
    """Convert a decoded JSON object to a `Message`, keeping unknown parts as `UnknownPart`."""
    wire = msgspec.convert(obj, _WireMessage)
    return Message(
        message_id=wire.message_id,
        role=wire.role,
        parts=[to_part(part) for part in wire.parts],
        created_at=wire.created_at,
    )


class Display(Struct, omit_defaults=True):
    name: str | None = None
    avatar: str | None = None
    welcome_message: str | None = None
    subtitle: str | None = None
    privacy_policy_url: str | None = None


class StartPrompt(Struct, omit_defaults=True):
    prompt_text: str = ""
    url_pattern: str | None = None


class Config(Struct, omit_defaults=True):
    display: Display = msgspec.field(default_factory=Display)
    theme: dict[str, Any] | None = None
    dark_theme: dict[str, Any] | None = None
    start_prompts: list[StartPrompt] = []
    livechat: Any = None
    forms: Any = None
    image_enabled: bool = False


class ActionResult(Struct, omit_defaults=True):
    submission_id: str = ""
    confirmation_text: str | None = None


class FieldError(Struct, omit_defaults=True):
    field: str = ""
    message: str = ""


# ---------------------------------------------------------------------------
# Stream events


class Delta(Struct, omit_defaults=True):
    """One incremental step of a part. One flat struct: each action uses a few fields."""

    action: str
    part_type: str | None = None
    block_index: int | None = None
    block_type: str | None = None
    text: str | None = None
    span: Span | None = None
    item: ListItem | None = None
    product: Product | None = None
    suggestion: Suggestion | None = None
    row: list[Cell] | None = None
    headers: list[str | Cell] | None = None
    alignments: list[str] | None = None
    caption: str | None = None


class StatusEvent(Struct, tag="status"):
    status: str = ""
    message: str | None = None


class PartDeltaEvent(Struct, tag="part_delta"):
    part_id: str
    delta: Delta


class PartEvent(Struct, tag="part"):
    part: Part


class DoneEvent(Struct, tag="done"):
    message: Message
    visitor_token: str | None = None


class StreamErrorEvent(Struct, tag="error"):
    code: str = "unknown"
    message: str | None = None
    # The contract: offer retry only when the server says so explicitly.
    retryable: bool = False


class UnknownEvent(Struct, tag="unknown"):
    """An event name this client does not know: ignored by the assembler, shown by tooling."""

    name: str
    data: str


class MalformedEvent(Struct, tag="malformed"):
    """A known event whose data could not be decoded; skipped, but never silently."""

    name: str
    data: str
    reason: str


StreamEvent: TypeAlias = (
    StatusEvent
    | PartDeltaEvent
    | PartEvent
    | DoneEvent
    | StreamErrorEvent
    | UnknownEvent
    | MalformedEvent
)


class _PartDeltaWire(Struct):
    part_id: str
    delta: Delta


class _PartWire(Struct):
    part: Any


class _DoneWire(Struct):
    message: Any
    visitor_token: str | None = None


_status_decoder = msgspec.json.Decoder(StatusEvent)
_delta_decoder = msgspec.json.Decoder(_PartDeltaWire)
_part_decoder = msgspec.json.Decoder(_PartWire)
_done_decoder = msgspec.json.Decoder(_DoneWire)
_error_decoder = msgspec.json.Decoder(StreamErrorEvent)


def decode_event(name: str, data: str) -> StreamEvent:
    """Decode one SSE event. Never raises: bad data becomes `MalformedEvent`."""
    try:
        if name == "part_delta":
            wire = _delta_decoder.decode(data)
            return PartDeltaEvent(part_id=wire.part_id, delta=wire.delta)
        if name == "part":
            return PartEvent(part=to_part(_part_decoder.decode(data).part))
        if name == "status":
            return _status_decoder.decode(data)
        if name == "done":
            done = _done_decoder.decode(data)
            return DoneEvent(message=to_message(done.message), visitor_token=done.visitor_token)
        if name == "error":
            return _error_decoder.decode(data)
    # UnicodeError: a str holding a lone surrogate cannot be decoded as UTF-8 JSON.
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeError) as exc:
        if name == "error":
            # Still the end of the stream: unreadable, so not retryable, and never "cut off".
            return StreamErrorEvent(code="unreadable", message="", retryable=False)
        return MalformedEvent(name=name, data=data, reason=str(exc))
    return UnknownEvent(name=name, data=data)


def plain_text(parts: list[Part]) -> str:
    """The readable text of some parts: what `send` prints and exports quote."""
    chunks: list[str] = []
    for part in parts:
        if isinstance(part, TextPart):
            chunks.append(part.text)
        elif isinstance(part, RichTextPart):
            chunks.append(blocks_text(part.blocks))
    return "\n\n".join(chunk for chunk in chunks if chunk)


def spans_text(spans: list[Span]) -> str:
    return "".join(span.text for span in spans if span.type in SPAN_TYPES)


def blocks_text(blocks: list[Block]) -> str:
    out: list[str] = []
    for block in blocks:
        if block.type == "paragraph":
            out.append(spans_text(block.spans))
        elif block.type == "bullet_list":
            out.append("\n".join(f"- {spans_text(item.spans)}" for item in block.items))
    return "\n\n".join(out)
