"""Wire models of the Dialog Intelligens chat API, as `msgspec.Struct`s.

The shapes follow the vendor's own SDK (askdiverge/Diverge-SDK-iOS, its wire models), and so
does the leniency: unknown fields are ignored; unknown part, block, span and event types are
kept as neutral values; every list is read element by element (a bad element drops itself
only); a null or malformed optional field takes its default instead of failing its parent.
Strictness is kept where it changes behaviour: a stream `error` without `retryable` is *not*
retryable.
"""

from __future__ import annotations

import types
import typing
from datetime import UTC, datetime
from typing import Any, Final, TypeAlias
from urllib.parse import urljoin, urlsplit

import msgspec
from msgspec import Struct

# ---------------------------------------------------------------------------
# Lenient conversion: the SDK's "lossy" decoding, for every model here
#
# The vendor's SDK decodes each list element by element (a bad element drops itself only),
# turns an unknown part into `.unknown`, and reads a null where a default exists as that
# default. `convert` does the same for any struct below: first msgspec's fast, strict
# conversion; only when that fails, a field-by-field walk that keeps what fits.


class _Drop(Exception):
    """This value does not fit its type; the caller drops it (or its field takes the default)."""


_HINTS: dict[type, dict[str, Any]] = {}
_FAST: dict[type, bool] = {}
"""Structs msgspec cannot convert to in one go (they hold parts, which `to_part` reads)."""


def _hints(cls: type) -> dict[str, Any]:
    found = _HINTS.get(cls)
    if found is None:
        found = _HINTS[cls] = typing.get_type_hints(cls)
    return found


def convert(obj: Any, tp: Any, *, base_url: str | None = None) -> Any:
    """`obj` (decoded JSON) as `tp`, leniently; raises `msgspec.ValidationError` only when
    nothing usable is left (a required field missing or unreadable)."""
    try:
        return _convert(obj, tp, base_url)
    except _Drop as exc:
        raise msgspec.ValidationError(str(exc) or f"not a {tp!r}") from None


def _convert(obj: Any, tp: Any, base_url: str | None, element: bool = False) -> Any:
    if tp is Part or tp is KnownPart:
        return to_part(obj, base_url=base_url)
    if tp is Any:
        return obj
    origin = typing.get_origin(tp)
    if origin is list:
        if not isinstance(obj, list):
            raise _Drop("not a list")
        (item_type,) = typing.get_args(tp)
        out = []
        for item in obj:
            try:
                out.append(_convert(item, item_type, base_url, True))
            except _Drop:
                continue  # one bad element drops only itself
        return out
    if origin in (typing.Union, types.UnionType):
        arms = typing.get_args(tp)
        if any(isinstance(arm, type) and issubclass(arm, _Part) for arm in arms):
            return to_part(obj, base_url=base_url)  # parts are told apart by their tag
        if obj is None:
            if type(None) in arms:
                return None
            raise _Drop("null")
        for arm in arms:
            if arm is type(None):
                continue
            try:
                return _convert(obj, arm, base_url)
            except _Drop:
                continue
        raise _Drop("no arm fits")
    if isinstance(tp, type) and issubclass(tp, Struct):
        return _convert_struct(obj, tp, base_url, element)
    try:
        return msgspec.convert(obj, tp)
    except msgspec.ValidationError as exc:
        raise _Drop(str(exc)) from None


def _is_scalar(tp: Any) -> bool:
    return tp in (str, int, float, bool)


def _convert_struct(
    obj: Any, cls: type[Struct], base_url: str | None, element: bool = False
) -> Any:
    """Field by field. A null or unreadable field keeps its default, except that in a list
    element a scalar of the wrong type (a title that is a list, say) drops the element, as the
    SDK's lossy arrays do; a required field missing always fails the struct."""
    if not isinstance(obj, dict):
        raise _Drop(f"{cls.__name__}: not an object")
    if _FAST.get(cls, True):
        try:
            fast = msgspec.convert(obj, cls)
        except msgspec.ValidationError:
            pass  # something does not fit: the walk below keeps what does
        except TypeError:
            _FAST[cls] = False  # a type msgspec cannot convert to (a field holding parts)
        else:
            return _resolved(fast, base_url) if base_url is not None else fast
    hints = _hints(cls)
    tag_field = cls.__struct_config__.tag_field
    kwargs: dict[str, Any] = {}
    for name in cls.__struct_fields__:
        if name == tag_field or name not in obj or obj[name] is None:
            continue
        try:
            kwargs[name] = _convert(obj[name], hints[name], base_url)
        except _Drop:
            if element and _is_scalar(hints[name]):
                raise
            continue  # the field keeps its default; a required one fails below
    try:
        value = cls(**kwargs)
    except (TypeError, msgspec.ValidationError) as exc:
        raise _Drop(f"{cls.__name__}: {exc}") from None
    return _resolved(value, base_url) if base_url is not None else value


# ---------------------------------------------------------------------------
# Attachment URLs: relative ones resolve against the API base; `data:` URLs are absolute


def resolve_url(url: str, base_url: str | None) -> str:
    """`url` made absolute against `base_url` when it has no scheme (the API falls back to a
    bare path such as `/api/v1/chat/livechat/attachments/…` when it cannot name its own host)."""
    if not url or base_url is None or is_data_url(url):
        return url
    parsed = urlsplit(url)
    if parsed.scheme and parsed.netloc:
        return url
    return urljoin(base_url.rstrip("/") + "/", url)


def is_data_url(url: str | None) -> bool:
    """A `data:` URL (a visitor's own photo served back in history): never print its payload."""
    return bool(url) and url[:5].lower() == "data:"  # type: ignore[index]


def data_url_facts(url: str) -> tuple[str, int]:
    """The MIME type and the decoded size (bytes, estimated from the base64 length) of a
    `data:` URL, read from its header alone."""
    header, _, payload = url.partition(",")
    mime = header[5:].split(";", 1)[0].strip() or "application/octet-stream"
    base64_payload = ";base64" in header.lower()
    return mime, len(payload.rstrip("=")) * 3 // 4 if base64_payload else len(payload)


def parse_time(stamp: str | None) -> datetime | None:
    """An ISO-8601 time (with or without fractions, `Z` or an offset); None if unreadable."""
    if not stamp:
        return None
    try:
        parsed = datetime.fromisoformat(stamp.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def is_expired(expires_at: str | None, now: datetime | None = None) -> bool:
    """True once a signed URL's `url_expires_at` has passed; never when it is absent or
    unreadable (the SDK's rule: treated as not expiring)."""
    expiry = parse_time(expires_at)
    if expiry is None:
        return False
    return expiry <= (now or datetime.now(UTC))


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
    """A paragraph (`spans`) or a bullet list (`items`); other types are kept, not rendered.

    In a table cell a block may also be an `image` (`url`, `thumbnail_url`, `alt`).
    """

    type: str = "paragraph"
    spans: list[Span] = []
    items: list[ListItem] = []
    url: str | None = None
    thumbnail_url: str | None = None
    alt: str | None = None


# ---------------------------------------------------------------------------
# Parts. Each known kind is a tagged struct; anything else becomes `UnknownPart`.


class Price(Struct, omit_defaults=True):
    amount: float | str = 0
    currency: str = ""


class AddToCart(Struct, omit_defaults=True):
    """A product's cart identity; with `url`, the cart link to open."""

    sku: str
    url: str | None = None

    def __post_init__(self) -> None:
        if self.url is not None:
            self.url = self.url.strip() or None


class Product(Struct, omit_defaults=True):
    id: str = ""
    title: str = ""
    description: str | None = None
    image_url: str | None = None
    price: Price | None = None
    original_price: Price | None = None
    splash: str | None = None
    """A short badge over the product's image, e.g. "60% Deal"."""
    url: str | None = None
    add_to_cart: AddToCart | None = None


class Suggestion(Struct, omit_defaults=True):
    id: str = ""
    title: str = ""
    description: str | None = None
    image_url: str | None = None
    prompt_text: str = ""


class Cell(Struct, omit_defaults=True):
    blocks: list[Block] = []
    text: str | None = None


class FormCondition(Struct, omit_defaults=True):
    """`visible_when`: the field shows only while the answer to `field` equals `value`."""

    field: str
    value: str
    operator: str = "equals"


FIELD_TYPES: Final = frozenset({"text", "email", "tel", "textarea", "file", "dropdown"})


class FormField(Struct, omit_defaults=True):
    """One field of a form marker. A missing or unknown `type` reads as `text` (so a required
    field never vanishes), `phone` as `tel`; a null `required` as not required."""

    key: str
    label: str = ""
    type: str = "text"
    required: bool = False
    options: list[str] = []
    placeholder: str | None = None
    visible_when: list[FormCondition] = []

    def __post_init__(self) -> None:
        kind = self.type.strip().lower()
        self.type = "tel" if kind == "phone" else kind if kind in FIELD_TYPES else "text"


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
    """An image on a saved message: a pre-signed URL that expires (`url_expires_at`), a URL
    relative to the API base, or a `data:` URL (a visitor's own photo, in history)."""

    url: str = ""
    attachment_id: str | None = None
    mime_type: str | None = None
    size_bytes: int | None = None
    url_expires_at: str | None = None
    thumbnail_url: str | None = None
    caption: str | None = None

    def expired(self, now: datetime | None = None) -> bool:
        return is_expired(self.url_expires_at, now)


class FilePart(_Part, tag="file"):
    url: str = ""
    filename: str | None = None
    attachment_id: str | None = None
    mime_type: str | None = None
    size_bytes: int | None = None
    url_expires_at: str | None = None

    def expired(self, now: datetime | None = None) -> bool:
        return is_expired(self.url_expires_at, now)


class ContactFormPart(_Part, tag="show_contact_form"):
    fields: list[FormField] = []


class FormPart(_Part, tag="show_form"):
    """A custom form. `name` falls back to `form_id`; a thin marker may come without fields."""

    form_id: str = ""
    name: str = ""
    confirmation_text: str | None = None
    fields: list[FormField] = []
    min_filled_fields: int = 0

    def __post_init__(self) -> None:
        self.name = self.name.strip() or self.form_id


SUPPORT_TICKET_MAX_ATTACHMENT: Final = 2 * 1024 * 1024
UPLOAD_ACCEPTED_TYPES: Final = ("image/png", "image/jpeg", "image/webp")
UPLOAD_MAX_SIZE: Final = 5 * 1024 * 1024


class SupportTicketPart(_Part, tag="show_support_ticket"):
    fields: list[FormField] = []
    attachments_accepted: bool = True
    max_attachment_size_bytes: int = SUPPORT_TICKET_MAX_ATTACHMENT


class HumanAgentPart(_Part, tag="request_human_agent"):
    pass


class ImageUploadPart(_Part, tag="request_image_upload"):
    """The bot asks for a photo: which types it accepts and how large one may be."""

    accepted_types: list[str] = msgspec.field(default_factory=lambda: list(UPLOAD_ACCEPTED_TYPES))
    max_size_bytes: int = UPLOAD_MAX_SIZE

    def __post_init__(self) -> None:
        if not self.accepted_types:
            self.accepted_types = list(UPLOAD_ACCEPTED_TYPES)


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
ActionableMarker: TypeAlias = FormMarker | HumanAgentPart | ImageUploadPart

_PART_CLASSES: Final[dict[str, type[Struct]]] = {
    str(cls.__struct_config__.tag): cls for cls in typing.get_args(KnownPart)
}
KNOWN_PART_TYPES: Final = frozenset(_PART_CLASSES)
# Parts the SDK needs an id for: without `part_id` a marker cannot be answered (POST /actions).
_NEEDS_PART_ID: Final = frozenset(
    {"show_contact_form", "show_form", "show_support_ticket", "request_image_upload", "products"}
)


def to_part(obj: Any, *, base_url: str | None = None) -> Part:
    """Convert a decoded JSON object to a typed part, or an `UnknownPart` if it does not fit.

    Lenient inside the part (a bad product, field or row drops itself only); with `base_url`,
    relative attachment URLs become absolute.
    """
    if not isinstance(obj, dict):
        return UnknownPart(type="invalid")
    part_type = obj.get("type")
    # isinstance first: `[] in frozenset()` raises TypeError (unhashable), and this must not raise.
    cls = _PART_CLASSES.get(part_type) if isinstance(part_type, str) else None
    if cls is not None and not (part_type in _NEEDS_PART_ID and not obj.get("part_id")):
        part: Any = None
        try:
            part = msgspec.convert(obj, cls)
        except msgspec.ValidationError:
            try:
                part = _convert_struct(obj, cls, None)
            except _Drop:
                part = None
        if part is not None and _usable(part):
            known: KnownPart = _resolved(part, base_url) if base_url is not None else part
            return known
    return UnknownPart(
        type=part_type if isinstance(part_type, str) else "invalid",
        part_id=str(obj.get("part_id", "")),
        raw=obj,
    )


def _usable(part: Any) -> bool:
    """What the SDK itself requires of a part: an image or file needs a URL, a form its id."""
    if isinstance(part, (ImagePart, FilePart)):
        return bool(part.url)
    if isinstance(part, FormPart):
        return bool(part.form_id)
    if isinstance(part, QuickRepliesPart):
        return bool(part.replies)
    return True


def _resolved(value: Any, base_url: str | None) -> Any:
    if isinstance(value, ImagePart):
        return msgspec.structs.replace(
            value,
            url=resolve_url(value.url, base_url),
            thumbnail_url=resolve_url(value.thumbnail_url, base_url)
            if value.thumbnail_url
            else value.thumbnail_url,
        )
    if isinstance(value, FilePart):
        return msgspec.structs.replace(value, url=resolve_url(value.url, base_url))
    if isinstance(value, TablePart):
        rows = [[_resolved_cell(cell, base_url) for cell in row] for row in value.rows]
        return msgspec.structs.replace(value, rows=rows)
    return value


def _resolved_cell(cell: Cell, base_url: str | None) -> Cell:
    if not any(block.type == "image" for block in cell.blocks):
        return cell
    blocks = [
        msgspec.structs.replace(
            block,
            url=resolve_url(block.url, base_url) if block.url else block.url,
            thumbnail_url=resolve_url(block.thumbnail_url, base_url)
            if block.thumbnail_url
            else block.thumbnail_url,
        )
        if block.type == "image"
        else block
        for block in cell.blocks
    ]
    return msgspec.structs.replace(cell, blocks=blocks)


# ---------------------------------------------------------------------------
# Messages, config and plain responses

ROLES: Final = frozenset({"user", "assistant", "agent", "system"})


class AgentIdentity(Struct, omit_defaults=True):
    """The human agent behind a live-chat (`role: agent`) message."""

    agent_id: str = ""
    display_name: str = ""
    avatar_url: str | None = None


class Message(Struct, omit_defaults=True):
    message_id: str = ""
    role: str = "assistant"
    """`user`, `assistant`, `agent` (a human, in live chat) or `system` (a note); an unknown
    role is kept as sent."""
    parts: list[Part] = []
    created_at: str = ""
    agent: AgentIdentity | None = None
    sequence_number: int | None = None


def to_message(obj: Any, *, base_url: str | None = None) -> Message:
    """Convert a decoded JSON object to a `Message`: unknown parts kept as `UnknownPart`, bad
    fields left at their defaults. Raises `msgspec.ValidationError` only for a non-object."""
    if not isinstance(obj, dict):
        raise msgspec.ValidationError("a message must be an object")
    message: Message = convert(obj, Message, base_url=base_url)
    return message


class Avatar(Struct, omit_defaults=True):
    url: str | None = None


class SubtitleLink(Struct, omit_defaults=True):
    text: str
    url: str


class Subtitle(Struct, omit_defaults=True):
    text: str | None = None
    link: SubtitleLink | None = None


class Display(Struct, omit_defaults=True):
    """The bot's identity. `avatar` and `subtitle` are objects on the wire, as the SDK reads
    them: a decoder expecting strings there loses the bot's name and welcome with them."""

    name: str | None = None
    avatar: Avatar | None = None
    welcome_message: str | None = None
    subtitle: Subtitle | None = None
    privacy_policy_url: str | None = None


class StartPrompt(Struct, omit_defaults=True):
    prompt_text: str
    url_pattern: str | None = None


def select_start_prompts(prompts: list[StartPrompt], page: str | None) -> list[StartPrompt]:
    """The vendor's rule: blank prompts are skipped; with a page, the prompts whose
    `url_pattern` occurs in it (a literal substring) win and the global ones (no pattern) are
    hidden; with no page or no match, only the global ones show."""
    prompts = [prompt for prompt in prompts if prompt.prompt_text.strip()]
    if page:
        matching = [p for p in prompts if p.url_pattern and p.url_pattern in page]
        if matching:
            return matching
    return [prompt for prompt in prompts if not prompt.url_pattern]


class CartSwitch(Struct, omit_defaults=True):
    enabled: bool = False


class ProductCardSettings(Struct, omit_defaults=True):
    """`product_card` in the config: the open button's label and whether add-to-cart shows."""

    open_label: str | None = None
    add_to_cart: CartSwitch = msgspec.field(default_factory=CartSwitch)

    def __post_init__(self) -> None:
        if self.open_label is not None:
            self.open_label = self.open_label.strip() or None


class LivechatSettings(Struct, omit_defaults=True):
    enabled: bool = False
    configured: bool = False
    availability_status: str = "offline"
    availability_reason: str | None = None
    show_livechat_logo: bool = False
    attachments_enabled: bool = False
    max_attachment_size_bytes: int | None = None


class FormReference(Struct, omit_defaults=True):
    form_id: str
    name: str | None = None
    trigger: str = "llm"


class Config(Struct, omit_defaults=True):
    display: Display = msgspec.field(default_factory=Display)
    theme: dict[str, Any] | None = None
    dark_theme: dict[str, Any] | None = None
    start_prompts: list[StartPrompt] = []
    product_card: ProductCardSettings | None = None
    livechat: LivechatSettings | None = None
    forms: list[FormReference] = []
    image_enabled: bool = True


def to_config(obj: Any) -> Config:
    """The config, leniently: a field of the wrong shape falls back to its default, a bad
    start prompt or form reference drops itself, the rest is kept."""
    if not isinstance(obj, dict):
        raise msgspec.ValidationError("the config must be an object")
    config: Config = convert(obj, Config)
    return config


class ActionResult(Struct, omit_defaults=True):
    submission_id: str = ""
    confirmation_text: str | None = None
    livechat_session: dict[str, Any] | None = None


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


def _hidden(secret: str | None) -> str | None:
    """What a repr shows for a secret: whether it is there, never its value."""
    return None if secret is None else "<hidden>"


class DoneEvent(Struct, tag="done"):
    message: Message
    visitor_token: str | None = None
    """The rotated visitor token: a secret, so the reprs below hide it."""

    def __repr__(self) -> str:
        return f"DoneEvent(message={self.message!r}, visitor_token={_hidden(self.visitor_token)})"

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        # Rich (and Textual's devtools and message logs) use this instead of `__repr__`.
        return [("message", self.message), ("visitor_token", _hidden(self.visitor_token))]


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

    def __repr__(self) -> str:
        return f"_DoneWire(message={self.message!r}, visitor_token={_hidden(self.visitor_token)})"

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        return [("message", self.message), ("visitor_token", _hidden(self.visitor_token))]


_status_decoder = msgspec.json.Decoder(StatusEvent)
_delta_decoder = msgspec.json.Decoder(_PartDeltaWire)
_part_decoder = msgspec.json.Decoder(_PartWire)
_done_decoder = msgspec.json.Decoder(_DoneWire)
_error_decoder = msgspec.json.Decoder(StreamErrorEvent)


def decode_event(name: str, data: str, *, base_url: str | None = None) -> StreamEvent:
    """Decode one SSE event. Never raises: bad data becomes `MalformedEvent`. With `base_url`,
    relative attachment URLs in parts become absolute."""
    try:
        if name == "part_delta":
            wire = _delta_decoder.decode(data)
            return PartDeltaEvent(part_id=wire.part_id, delta=wire.delta)
        if name == "part":
            return PartEvent(part=to_part(_part_decoder.decode(data).part, base_url=base_url))
        if name == "status":
            return _status_decoder.decode(data)
        if name == "done":
            done = _done_decoder.decode(data)
            return DoneEvent(
                message=to_message(done.message, base_url=base_url),
                visitor_token=done.visitor_token,
            )
        if name == "error":
            return _error_decoder.decode(data)
    # UnicodeError: a str holding a lone surrogate cannot be decoded as UTF-8 JSON.
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeError) as exc:
        if name == "error":
            # Still the end of the stream: unreadable, so not retryable, and never "cut off".
            return StreamErrorEvent(code="unreadable", message="", retryable=False)
        if name == "done":
            data = ""  # it carries the rotated visitor token: never passed on
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


# ---------------------------------------------------------------------------
# Live chat: a human agent takes over (the SDK's shapes; see the contract's "Live chat")

LIVECHAT_STATUSES: Final = frozenset({"inactive", "waiting", "active", "closed"})
HANDOVER_SOURCES: Final = frozenset({"manual_button", "assistant_marker"})


class LivechatFeedback(Struct, omit_defaults=True):
    status: str = "not_available"
    """`not_available`, `pending` (the satisfaction prompt is due) or `submitted`."""
    submitted_at: str | None = None


class LivechatState(Struct, omit_defaults=True):
    """`GET /livechat/state` (and the state some writes answer with)."""

    status: str = "inactive"
    active_agent: AgentIdentity | None = None
    is_agent_typing: bool = False
    agent_joined_at: str | None = None
    closed_by: str | None = None
    """`customer` or `agent` once closed."""
    close_reason: str | None = None
    feedback: LivechatFeedback = msgspec.field(default_factory=LivechatFeedback)
    state_version: int | None = None
    """Grows with every change: an answer with a smaller one is older than one already seen."""

    @property
    def agent_name(self) -> str:
        agent = self.active_agent
        return agent.display_name.strip() if agent is not None else ""


def to_livechat_state(obj: Any) -> LivechatState:
    """The state, leniently: a field of the wrong shape falls back to its default; an
    unknown status reads as `inactive` (nothing to poll for)."""
    if not isinstance(obj, dict):
        raise msgspec.ValidationError("the live-chat state must be an object")
    state: LivechatState = convert(obj, LivechatState)
    if state.status not in LIVECHAT_STATUSES:
        state.status = "inactive"
    return state


class HandoverResult(Struct, omit_defaults=True):
    status: str = "waiting"
    livechat_session_id: str | None = None
