"""Demo content: assistant replies as wire-format events, plus branding and seed history.

Everything here is plain dicts in the shape of the API contract (no client models), so the
dev server stays a neutral peer that can test any client. Nothing here knows about HTTP.
"""

from __future__ import annotations

import itertools
import re
import secrets
import struct
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

JSON = dict[str, Any]
Event = tuple[str, JSON]  # (SSE event name, data object)

DOCS_URL = "https://example.com/dialog-intelligens/api-docs"
ECHO_LIMIT = 500  # long enough to tell replies apart, short enough to keep demo replies tidy
FILE_URL_LIFETIME = timedelta(minutes=15)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def iso_utc(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def text_span(text: str) -> JSON:
    return {"type": "text", "text": text}


def paragraph(*spans: JSON) -> JSON:
    return {"type": "paragraph", "spans": list(spans)}


def word_chunks(text: str) -> list[str]:
    """Split into word-ish pieces (word plus trailing space), the way a model streams tokens."""
    return re.findall(r"\S+\s*|\s+", text) or [text]


class Reply:
    """The events of one assistant reply (part_delta / part) and the parts it ends up with."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.parts: list[JSON] = []

    def delta(self, part_id: str, action: str, **fields: Any) -> None:
        self.events.append(
            ("part_delta", {"part_id": part_id, "delta": {"action": action, **fields}})
        )

    def whole(self, part: JSON) -> None:
        """Send a finished part; it is authoritative for its part_id."""
        self.events.append(("part", {"part": part}))
        self.parts.append(part)


class RichTextWriter:
    """Streams a rich_text part as deltas while building the authoritative part alongside."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.part_id = new_id("part")
        self.blocks: list[JSON] = []
        reply.delta(self.part_id, "start_part", part_type="rich_text")

    def _start(self, block: JSON) -> int:
        index = len(self.blocks)
        self.blocks.append(block)
        self.reply.delta(self.part_id, "start_block", block_index=index, block_type=block["type"])
        return index

    def paragraph(self) -> int:
        return self._start({"type": "paragraph", "spans": []})

    def bullet_list(self) -> int:
        return self._start({"type": "bullet_list", "items": []})

    def text(self, index: int, text: str) -> None:
        spans = self.blocks[index]["spans"]
        # Consecutive append_text deltas grow one plain span, which is what the final part holds.
        if spans and spans[-1]["type"] == "text":
            spans[-1]["text"] += text
        else:
            spans.append(text_span(text))
        self.reply.delta(self.part_id, "append_text", block_index=index, text=text)

    def words(self, index: int, text: str) -> None:
        for chunk in word_chunks(text):
            self.text(index, chunk)

    def span(self, index: int, span: JSON) -> None:
        self.blocks[index]["spans"].append(span)
        self.reply.delta(self.part_id, "append_span", block_index=index, span=span)

    def item(self, index: int, *spans: JSON) -> None:
        item = {"spans": list(spans)}
        self.blocks[index]["items"].append(item)
        self.reply.delta(self.part_id, "append_item", block_index=index, item=item)

    def end_block(self, index: int) -> None:
        self.reply.delta(self.part_id, "end_block", block_index=index)

    def finish(self, extra_blocks: list[JSON] | None = None) -> JSON:
        """Close the part and send the authoritative copy (optionally with unstreamed blocks)."""
        self.reply.delta(self.part_id, "end_part")
        part = {
            "type": "rich_text",
            "part_id": self.part_id,
            "blocks": self.blocks + (extra_blocks or []),
        }
        self.reply.whole(part)
        return part


# ---------------------------------------------------------------------------------------------
# Building blocks of the normal ("ok") reply


def _echo(user_text: str) -> str:
    text = " ".join(user_text.split())
    return text if len(text) <= ECHO_LIMIT else text[: ECHO_LIMIT - 1] + "…"


def _intro(reply: Reply, user_text: str) -> None:
    rich = RichTextWriter(reply)
    p = rich.paragraph()
    rich.words(p, f"You said: “{_echo(user_text)}”. ")
    rich.span(p, {"type": "bold", "text": "This is the Dialog Intelligens demo server"})
    rich.words(p, ", a local stand-in for the real API. Read more in ")
    rich.span(p, {"type": "link", "text": "the API docs", "url": DOCS_URL})
    rich.text(p, ".")
    rich.end_block(p)
    bullets = rich.bullet_list()
    rich.item(
        bullets,
        text_span("Replies stream as "),
        {"type": "bold", "text": "part deltas"},
        text_span(" and are then replaced by the final part."),
    )
    rich.item(
        bullets,
        text_span("Prices below are "),
        {"type": "strike", "text": "real"},
        text_span(" made up."),
    )
    rich.item(
        bullets,
        text_span("Mention "),
        {"type": "bold", "text": "table"},
        text_span(", "),
        {"type": "bold", "text": "form"},
        text_span(", "),
        {"type": "bold", "text": "quick"},
        text_span(" or "),
        {"type": "bold", "text": "image"},
        text_span(", or add a magic word such as !slow or !rate_limited."),
    )
    rich.end_block(bullets)
    rich.finish()


def _table_cell(text: str, bold: bool = False) -> JSON:
    return {"blocks": [paragraph({"type": "bold" if bold else "text", "text": text})]}


def _table(reply: Reply) -> None:
    part_id = new_id("part")
    headers = ["Plan", "Messages / month", "Price"]
    alignments = ["left", "right", "right"]
    caption = "Demo plans (made-up numbers)"
    rows = [
        [_table_cell("Starter"), _table_cell("1,000"), _table_cell("199 kr.")],
        [_table_cell("Business"), _table_cell("10,000"), _table_cell("999 kr.")],
        [_table_cell("Enterprise", bold=True), _table_cell("Unlimited"), _table_cell("Let's talk")],
    ]
    reply.delta(
        part_id,
        "start_part",
        part_type="table",
        headers=headers,
        alignments=alignments,
        caption=caption,
    )
    for row in rows:
        reply.delta(part_id, "append_row", row=row)
    reply.delta(part_id, "end_part")
    reply.whole(
        {
            "type": "table",
            "part_id": part_id,
            "caption": caption,
            "headers": headers,
            "alignments": alignments,
            "rows": rows,
        }
    )


DEMO_PRODUCTS: list[JSON] = [
    {
        "id": "prod_blanket",
        "title": "Nordic Wool Blanket",
        "description": "Soft merino wool, 130 × 170 cm. Now 20% off.",
        "image_url": "https://example.com/img/wool-blanket.jpg",
        "price": {"amount": 399.0, "currency": "DKK"},
        "original_price": {"amount": 499.0, "currency": "DKK"},
        "splash": "20% Deal",
        "url": "https://example.com/products/wool-blanket",
        "add_to_cart": {
            "sku": "SKU-BLANKET-130",
            "url": "https://example.com/cart/add/SKU-BLANKET-130",
        },
    },
    {
        "id": "prod_mug",
        "title": "Stoneware Coffee Mug",
        "description": "Hand-glazed, 35 cl, dishwasher safe.",
        "image_url": "https://example.com/img/coffee-mug.jpg",
        "price": {"amount": 89.95, "currency": "DKK"},
        "url": "https://example.com/products/coffee-mug",
        "add_to_cart": {"sku": "SKU-MUG-35"},
    },
]

DEMO_SUGGESTIONS: list[JSON] = [
    {
        "id": "sug_table",
        "title": "Compare plans",
        "description": "A small table",
        "image_url": "https://example.com/img/table.png",
        "prompt_text": "Show me a table of your plans",
    },
    {
        "id": "sug_contact",
        "title": "Talk to sales",
        "description": "Opens a contact form",
        "image_url": "https://example.com/img/contact.png",
        "prompt_text": "I'd like to contact sales",
    },
]


def _products(reply: Reply) -> None:
    part_id = new_id("part")
    reply.delta(part_id, "start_part", part_type="products")
    for product in DEMO_PRODUCTS:
        reply.delta(part_id, "append_product", product=product)
    reply.delta(part_id, "end_part")
    reply.whole({"type": "products", "part_id": part_id, "products": DEMO_PRODUCTS})


def _suggestions(reply: Reply, suggestions: list[JSON] = DEMO_SUGGESTIONS) -> None:
    part_id = new_id("part")
    reply.delta(part_id, "start_part", part_type="suggestions")
    for suggestion in suggestions:
        reply.delta(part_id, "append_suggestion", suggestion=suggestion)
    reply.delta(part_id, "end_part")
    reply.whole({"type": "suggestions", "part_id": part_id, "suggestions": suggestions})


def quick_replies_part() -> JSON:
    return {
        "type": "quick_replies",
        "part_id": new_id("part"),
        "replies": ["Yes, please", "No thanks", "Tell me more"],
    }


CONTACT_FORM_FIELDS: list[JSON] = [
    {"key": "name", "label": "Name", "type": "text", "required": True},
    {"key": "email", "label": "E-mail", "type": "email", "required": True},
    {"key": "topic", "label": "Topic", "type": "dropdown", "options": ["Sales", "Support"]},
    {"key": "message", "label": "Message", "type": "textarea"},
]

# The vendor's sample forms (its SDK's stand-in server): a ticket with its own fields, and a
# custom form whose `claim` shows only for one distributor, with placeholders and a minimum.
SUPPORT_TICKET_FIELDS: list[JSON] = [
    {"key": "name", "label": "Name", "type": "text", "required": True},
    {"key": "email", "label": "E-mail", "type": "email", "required": True},
    {"key": "message", "label": "Describe your issue", "type": "textarea", "required": True},
]
CUSTOM_FORM_FIELDS: list[JSON] = [
    {
        "key": "email",
        "label": "E-mail",
        "type": "email",
        "required": True,
        "placeholder": "you@example.com",
    },
    {
        "key": "distributor",
        "label": "Distributor",
        "type": "dropdown",
        "required": True,
        "options": ["postnord", "dhl"],
    },
    {
        "key": "claim",
        "label": "Claim details",
        "type": "textarea",
        "required": True,
        "placeholder": "What happened to the parcel?",
        "visible_when": [{"field": "distributor", "operator": "equals", "value": "postnord"}],
    },
    {"key": "phone", "label": "Phone", "type": "phone", "required": None},
]
CUSTOM_FORM_ID = "salesLead"
CUSTOM_FORM_NAME = "Sales lead"
CUSTOM_FORM_CONFIRMATION = "Thanks — your lead is in."

MARKER_TYPES = frozenset(
    {
        "show_contact_form",
        "show_support_ticket",
        "show_form",
        "request_human_agent",
        "request_image_upload",
    }
)


def contact_form_part() -> JSON:
    return {"type": "show_contact_form", "part_id": new_id("part"), "fields": CONTACT_FORM_FIELDS}


def support_ticket_part() -> JSON:
    return {
        "type": "show_support_ticket",
        "part_id": new_id("part"),
        "fields": SUPPORT_TICKET_FIELDS,
        "attachments_accepted": True,
        "max_attachment_size_bytes": 2 * 1024 * 1024,
    }


def custom_form_part() -> JSON:
    return {
        "type": "show_form",
        "part_id": new_id("part"),
        "form_id": CUSTOM_FORM_ID,
        "name": CUSTOM_FORM_NAME,
        "confirmation_text": CUSTOM_FORM_CONFIRMATION,
        "fields": CUSTOM_FORM_FIELDS,
        "min_filled_fields": 1,
        "submit_actions": [{"type": "save_lead"}],  # server-side routing; clients ignore it
    }


def human_agent_part() -> JSON:
    """The bot offers a human (live chat): the SDK shows a button that asks for one."""
    return {"type": "request_human_agent", "part_id": new_id("part")}


def image_upload_part() -> JSON:
    return {
        "type": "request_image_upload",
        "part_id": new_id("part"),
        "accepted_types": ["image/png", "image/jpeg", "image/webp"],
        "max_size_bytes": 5 * 1024 * 1024,
    }


def _signed_url(base_url: str, name: str, expires: datetime) -> str:
    # Looks like a pre-signed object-store URL; /cdn checks expiry, the signature is decoration.
    expiry = int(expires.timestamp())
    return f"{base_url}/cdn/{name}?expires={expiry}&signature={secrets.token_hex(16)}"


def image_part(
    base_url: str,
    expires: datetime | None = None,
    name: str = "demo.png",
    caption: str = "A tiny demo image",
) -> JSON:
    """An image as the API saves one: an attachment id, a signed URL and thumbnail that expire."""
    expires = expires or datetime.now(UTC) + FILE_URL_LIFETIME
    attachment_id = new_id("att")
    return {
        "type": "image",
        "part_id": new_id("part"),
        "attachment_id": attachment_id,
        "url": _signed_url(base_url, name, expires),
        "thumbnail_url": _signed_url(base_url, name, expires),
        "mime_type": "image/png",
        "size_bytes": len(CDN_FILES[name][0]),
        "url_expires_at": iso_utc(expires),
        "caption": caption,
    }


def file_part(base_url: str, expires: datetime | None = None) -> JSON:
    expires = expires or datetime.now(UTC) + FILE_URL_LIFETIME
    return {
        "type": "file",
        "part_id": new_id("part"),
        "attachment_id": new_id("att"),
        "url": _signed_url(base_url, "demo.txt", expires),
        "mime_type": "text/plain",
        "size_bytes": len(DEMO_TXT),
        "url_expires_at": iso_utc(expires),
        "filename": "demo.txt",
    }


def visitor_image_part(mime: str, data: str, filename: str | None) -> JSON:
    """A visitor's own photo as history serves it back: a `data:` URL, the filename as caption."""
    part: JSON = {"type": "image", "url": f"data:{mime};base64,{data}"}
    if filename:
        part["caption"] = filename
    return part


def _mentions(text: str, *words: str) -> bool:
    return re.search(r"\b(" + "|".join(words) + r")s?\b", text, re.IGNORECASE) is not None


def ok_reply(user_text: str, base_url: str, *, force_form: bool = False) -> Reply:
    """The normal reply; keywords in the user text add demo parts."""
    reply = Reply()
    _intro(reply, user_text)
    if _mentions(user_text, "table"):
        _table(reply)
    _products(reply)
    _suggestions(reply)
    if _mentions(user_text, "quick"):
        reply.whole(quick_replies_part())
    if _mentions(user_text, "broken"):
        reply.whole(image_part(base_url, name="broken.png", caption="A broken image"))
    elif _mentions(user_text, "image"):
        reply.whole(image_part(base_url))
    if _mentions(user_text, "file"):
        reply.whole(file_part(base_url))
    if _mentions(user_text, "upload", "photo"):
        reply.whole(image_upload_part())
    if _mentions(user_text, "human", "person"):
        reply.whole(human_agent_part())
    if _mentions(user_text, "forms"):
        # The vendor's three sample forms in one reply: each of them is the latest actionable.
        reply.whole(contact_form_part())
        reply.whole(support_ticket_part())
        reply.whole(custom_form_part())
    elif _mentions(user_text, "ticket"):
        reply.whole(support_ticket_part())
    elif _mentions(user_text, "lead", "custom"):
        reply.whole(custom_form_part())
    elif force_form or _mentions(user_text, "form", "contact"):
        reply.whole(contact_form_part())
    return reply


def short_reply(user_text: str) -> Reply:
    """One paragraph in a few deltas: for scenarios where every event costs wall-clock time."""
    reply = Reply()
    rich = RichTextWriter(reply)
    p = rich.paragraph()
    for chunk in (f"You said: “{_echo(user_text)}”. ", "This reply ", "took its time."):
        rich.text(p, chunk)
    rich.end_block(p)
    rich.finish()
    return reply


def whole_parts_reply(user_text: str) -> Reply:
    """The ok reply with its deltas removed: parts arrive only whole (the contract allows it)."""
    full = ok_reply(user_text, base_url="")
    reply = Reply()
    for part in full.parts:
        reply.whole(part)
    return reply


# ---------------------------------------------------------------------------------------------
# Stress content

LOREM = [
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua",
    "ut",
    "enim",
    "ad",
    "minim",
    "veniam",
    "quis",
    "nostrud",
    "exercitation",
    "ullamco",
]


def _lorem_chunks(size: int = 20) -> Iterator[str]:
    """Endless `size`-character slices of lorem ipsum: exact sizes keep benchmark volumes known."""
    text = " ".join(LOREM) + " "
    stream = itertools.cycle(text)
    while True:
        yield "".join(itertools.islice(stream, size))


def long_reply(deltas: int) -> Reply:
    """`deltas` append_text deltas of 20 chars each (5,000 -> 100 KB of text), in paragraphs
    of 40, with a three-item bullet list as every 4th block."""
    reply = Reply()
    rich = RichTextWriter(reply)
    chunks = _lorem_chunks()
    written = 0
    block_number = 0
    while written < deltas:
        block_number += 1
        if block_number % 4 == 0:
            bullets = rich.bullet_list()
            for n in range(1, 4):
                rich.item(
                    bullets,
                    {"type": "bold", "text": f"Point {block_number}.{n}: "},
                    text_span(next(chunks)),
                )
            rich.end_block(bullets)
        p = rich.paragraph()
        for _ in range(min(40, deltas - written)):
            rich.text(p, next(chunks))
            written += 1
        rich.end_block(p)
    rich.finish()
    return reply


def huge_reply(size: int = 1 << 20) -> Reply:
    """One append_text delta whose data line is about `size` bytes."""
    reply = Reply()
    rich = RichTextWriter(reply)
    p = rich.paragraph()
    sentence = "This is one very long line of streamed text. "
    rich.text(p, (sentence * (size // len(sentence) + 1))[:size])
    rich.end_block(p)
    rich.finish()
    return reply


# Terminal control sequences a client must never write raw to a terminal. JSON escapes C0
# controls on the wire (\u001b), so they arrive in the decoded string intact.
HOSTILE_STRINGS: list[tuple[str, str]] = [
    ("ANSI colour", "\x1b[31mred\x1b[0m"),
    ("Clear screen", "\x1b[2J\x1b[H"),
    ("OSC 52 clipboard write", "\x1b]52;c;aGFjaw==\x07"),
    ("OSC 8 hyperlink", "\x1b]8;;https://evil.example/\x1b\\click me\x1b]8;;\x1b\\"),
    ("Window title", "\x1b]0;pwned\x07"),
    ("Bell, backspace, carriage return", "ding\x07 abc\x08\x08 overwrite\rX"),
    (
        "Other C0 controls",
        "".join(chr(c) for c in [*range(1, 9), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]),
    ),
    ("C1 CSI", "\u009b31mred via C1\u009b0m"),
    ("Bidi override", "abc\u202edcba\u202c"),
]


def escapes_reply() -> Reply:
    reply = Reply()
    rich = RichTextWriter(reply)
    for label, hostile in HOSTILE_STRINGS:
        p = rich.paragraph()
        rich.span(p, {"type": "bold", "text": f"{label}: "})
        rich.text(p, f"[{hostile}]")
        rich.end_block(p)
    p = rich.paragraph()
    rich.span(
        p,
        {
            "type": "link",
            "text": "\x1b[5mblinking link\x1b[0m",
            "url": "https://example.com/\x1b[2J",
        },
    )
    rich.end_block(p)
    rich.finish()
    _suggestions(
        reply,
        [
            {
                "id": "sug_hostile",
                "title": "\x1b[31mRed title\x1b[0m",
                "image_url": "",
                "prompt_text": "ok \x1b]52;c;aGFjaw==\x07",
            }
        ],
    )
    return reply


# Text that a terminal shows differently in pieces than whole, each split where a model's
# tokens could split it: an emoji sequence's joiner (U+200D) belongs with both its neighbours,
# and CR LF is one line end. Pieces of one paragraph, streamed as separate append_text deltas.
SPLIT_JOINERS: list[list[str]] = [
    ["A family: \U0001f469", "\u200d\U0001f469\u200d\U0001f467 (split after an emoji)."],
    ["A coder: \U0001f469\u200d", "\U0001f4bb (split after a joiner)."],
    ["A heart on fire: \u2764\ufe0f", "\u200d\U0001f525 (split after a variation selector)."],
    ["A wave \U0001f44b\U0001f3fd", "\u200d and a stray joiner after it."],
    ["A stray joiner\u200d", "between words is still shown."],
    ["Line one\r", "\nline two (CR LF split)."],
    ["A lone CR\r", "in a line is still shown."],
    ["Ends with an emoji \U0001f44b"],
]


# The same splits between formatting spans, streamed as append_span deltas in the vendor's span
# shapes: a sequence half plain, half bold is still one sequence.
SPLIT_SPANS: list[list[JSON]] = [
    [
        {"type": "text", "text": "A coder in two spans: \U0001f469\u200d"},
        {"type": "bold", "text": "\U0001f4bb"},
        {"type": "text", "text": " (plain, then bold)."},
    ],
    [
        {"type": "text", "text": "A heart on fire, in bold: \u2764\ufe0f\u200d"},
        {"type": "bold", "text": "\U0001f525 fire"},
        {"type": "link", "text": "", "url": "https://example.com/fire"},
    ],
    [
        {"type": "strike", "text": "Struck line\r"},
        {"type": "text", "text": "\nthen plain (CR LF split between spans)."},
    ],
    [
        {"type": "bold", "text": "A stray joiner\u200d"},
        {"type": "text", "text": "after bold words is still shown."},
    ],
    # The joiner first in the next span (bold, then a link): the heart on fire is one glyph.
    [
        {"type": "text", "text": "Joiner first: \u2764\ufe0f"},
        {"type": "bold", "text": "\u200d\U0001f525 in bold"},
        {"type": "text", "text": ", \u2764\ufe0f"},
        {"type": "link", "text": "\u200d\U0001f525 linked", "url": "https://example.com/fire"},
        {"type": "text", "text": "."},
    ],
]


def split_joiners_text() -> str:
    """The split_joiners reply's whole text, raw (a link with no text read as its URL): what
    every way of showing it must read as once sanitized."""
    paragraphs = ["".join(pieces) for pieces in SPLIT_JOINERS]
    paragraphs += [
        "".join(str(span["text"] or span.get("url", "")) for span in spans) for spans in SPLIT_SPANS
    ]
    return "\n\n".join(paragraphs)


def split_joiners_reply() -> Reply:
    reply = Reply()
    rich = RichTextWriter(reply)
    for pieces in SPLIT_JOINERS:
        p = rich.paragraph()
        for piece in pieces:
            rich.text(p, piece)
        rich.end_block(p)
    for spans in SPLIT_SPANS:
        p = rich.paragraph()
        for span in spans:
            rich.span(p, span)
        rich.end_block(p)
    rich.finish()
    return reply


# Characters str.splitlines() (and so httpx.Response.iter_lines) treats as line breaks although
# SSE does not; JSON encoders that emit raw UTF-8 (JSON.stringify, ensure_ascii=False) leave them
# unescaped, so they can legally sit inside one `data:` line.
LINE_SEPARATORS = "\u2028\u2029\u0085"


def line_separators_reply() -> Reply:
    reply = Reply()
    rich = RichTextWriter(reply)
    p = rich.paragraph()
    rich.text(p, "Line separator [\u2028], paragraph separator [\u2029] and NEL [\u0085] ")
    rich.text(p, "are legal inside one SSE data line.")
    rich.end_block(p)
    rich.finish()
    return reply


def unknown_things_reply(user_text: str) -> Reply:
    """A normal reply salted with things from a future API version, all of which must be skipped:
    an unknown delta action, span type, block type and part type."""
    reply = Reply()
    rich = RichTextWriter(reply)
    p = rich.paragraph()
    rich.words(p, f"You said: “{_echo(user_text)}”. ")
    reply.delta(rich.part_id, "sparkle", block_index=p, intensity=11)
    rich.span(p, {"type": "sparkle", "text": "✨", "colour": "gold"})
    rich.words(p, " Everything odd in this reply should be skipped.")
    rich.end_block(p)
    # The unknown block goes last so that skipping it cannot shift the indexes of known blocks.
    quote_index = len(rich.blocks)
    quote_text = "A block type this client does not know."
    quote = {"type": "quote", "spans": [text_span(quote_text)]}
    reply.delta(rich.part_id, "start_block", block_index=quote_index, block_type="quote")
    reply.delta(rich.part_id, "append_text", block_index=quote_index, text=quote_text)
    reply.delta(rich.part_id, "end_block", block_index=quote_index)
    rich.finish(extra_blocks=[quote])
    reply.delta(new_id("part"), "start_part", part_type="hologram")
    reply.whole(
        {
            "type": "carousel",
            "part_id": new_id("part"),
            "items": [{"title": "Slide 1"}, {"title": "Slide 2"}],
        }
    )
    _suggestions(reply)
    return reply


# ---------------------------------------------------------------------------------------------
# Branding, history, files


BOT_NAME = "Demo Bot"


def branding(base_url: str = "") -> JSON:
    """`GET /config` in the vendor's shapes (avatar and subtitle are objects)."""
    return {
        "display": {
            "name": BOT_NAME,
            "avatar": {"url": f"{base_url}/cdn/demo.png" if base_url else None},
            "welcome_message": "Hi! I'm the Dialog Intelligens demo bot. Ask me anything, "
            "or try a message mentioning “table”, “form” or “quick”.",
            "subtitle": {
                "text": "Local demo server: nothing leaves your machine",
                "link": {"text": "Privacy", "url": "https://example.com/privacy"},
            },
            "privacy_policy_url": "https://example.com/privacy",
        },
        "theme": {
            "brand": {"primary_color": "#2F6FED"},
            "messages": {
                "assistant": {"background_color": "#F1F3F7", "text_color": "#1B1F24"},
                "user": {"background_color": "#2F6FED", "text_color": "#FFFFFF"},
            },
        },
        "dark_theme": {
            "brand": {"primary_color": "#7AA2F7"},
            "messages": {
                "assistant": {"background_color": "#24283B", "text_color": "#C0CAF5"},
                "user": {"background_color": "#3D59A1", "text_color": "#FFFFFF"},
            },
        },
        "start_prompts": [
            {"prompt_text": "What can you do?", "url_pattern": None},
            {"prompt_text": "Show me a table of your plans"},
            {"prompt_text": "I'd like to contact sales"},
            {"prompt_text": "Find a size", "url_pattern": "/products"},
            {"prompt_text": "Checkout help", "url_pattern": "/cart"},
            {"prompt_text": "   "},  # blank: skipped by clients
        ],
        "product_card": {"open_label": "See product", "add_to_cart": {"enabled": True}},
        "livechat": {
            "enabled": False,
            "configured": False,
            "availability_status": "offline",
            "availability_reason": "manual_offline",
            "show_livechat_logo": False,
            "attachments_enabled": False,
            "max_attachment_size_bytes": 5 * 1024 * 1024,
        },
        "forms": [{"form_id": CUSTOM_FORM_ID, "name": CUSTOM_FORM_NAME, "trigger": "llm"}],
        "popup_messages": [],
        "image_enabled": False,
    }


def user_message(text: str, created_at: str | None = None) -> JSON:
    return {
        "message_id": new_id("msg"),
        "role": "user",
        "parts": [text_span(text)],
        "created_at": created_at or iso_utc(),
    }


def assistant_message(
    parts: list[JSON], created_at: str | None = None, *, role: str = "assistant"
) -> JSON:
    return {
        "message_id": new_id("msg"),
        "role": role,
        "parts": parts,
        "created_at": created_at or iso_utc(),
    }


AGENT_NAME = "Sofie"


def _rich(text: str) -> JSON:
    return {"type": "rich_text", "part_id": new_id("part"), "blocks": [paragraph(text_span(text))]}


def system_note(text: str, created_at: str | None = None) -> JSON:
    return assistant_message([_rich(text)], created_at, role="system")


def agent_message(text: str, created_at: str | None = None) -> JSON:
    """A human agent's message (live chat), with the agent's identity as the SDK reads it."""
    message = assistant_message([_rich(text)], created_at, role="agent")
    message["agent"] = {"agent_id": "agent_1", "display_name": AGENT_NAME, "avatar_url": None}
    return message


def forms_message(created_at: str | None = None) -> JSON:
    """One assistant message holding the vendor's three sample forms, as its stand-in seeds."""
    parts = [
        _rich("Please fill one of the forms below."),
        contact_form_part(),
        support_ticket_part(),
        custom_form_part(),
    ]
    return assistant_message(parts, created_at)


def seed_history(count: int) -> list[JSON]:
    """`count` earlier messages, oldest first, a minute apart: user and assistant alternate,
    except that from 8 messages on, the fourth and third newest are a system note and a human
    agent's message (history need not alternate, and real bots' histories hold both)."""
    start = datetime.now(UTC) - timedelta(minutes=count + 1)
    messages = []
    for i in range(count):
        at = iso_utc(start + timedelta(minutes=i))
        turn = i // 2 + 1
        if count >= 8 and i == count - 4:
            messages.append(system_note("A human agent joined the conversation.", at))
        elif count >= 8 and i == count - 3:
            messages.append(agent_message(f"Hi, {AGENT_NAME} here. I can help with that.", at))
        elif i % 2 == 0:
            messages.append(user_message(f"Earlier question #{turn}", at))
        else:
            blocks = [
                paragraph(
                    text_span(f"Earlier answer #{turn}. "),
                    {"type": "bold", "text": "Seeded history."},
                )
            ]
            messages.append(
                assistant_message(
                    [{"type": "rich_text", "part_id": new_id("part"), "blocks": blocks}], at
                )
            )
    return messages


def _png(width: int, height: int, pixel: Callable[[int, int], tuple[int, int, int]]) -> bytes:
    """An RGB PNG written by hand (zlib and struct), so the server needs no image library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(
        b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _demo_pixel(x: int, y: int) -> tuple[int, int, int]:
    """A sunset: a sky going from blue to orange, a yellow sun, a dark green hill."""
    if (x - 22) ** 2 + (y - 9) ** 2 <= 16:
        return (0xFF, 0xD5, 0x4A)
    if y > 16 + ((x - 12) ** 2) // 40:
        return (0x1E, 0x5B, 0x2E)
    return (0x2F + 7 * y, 0x6F + y, max(0, 0xED - 9 * y))


DEMO_PNG = _png(32, 24, _demo_pixel)
DEMO_TXT = b"Hello from the dialogtui dev server.\n"
CDN_FILES: dict[str, tuple[bytes, str]] = {
    "demo.png": (DEMO_PNG, "image/png"),
    "demo.txt": (DEMO_TXT, "text/plain"),
    # A web page where an image should be (a CDN's error page): a client must show no picture.
    "broken.png": (b"<!doctype html><title>Oops</title><p>Not an image.</p>", "image/png"),
}
