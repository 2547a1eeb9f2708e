"""Every part and role as plain text: what `send`, `run`, `history` and the exports print.

One place decides how a product card, a table, an attachment or a form marker reads without a
screen: prices and links, cart links, attachments with their kind, name, size and expiry (an
expired link is marked), the upload prompt with what it accepts. A product card's price and
links are decided here for Markdown too (`product_markdown`: the export and a copied reply).
A `data:` URL (a visitor's own photo in history) is described, never printed: it is hundreds
of lines of base64.

Pure functions of the wire models; no Textual, no Rich. Every string from the server passes
`sanitize`/`sanitize_line`, so no control character reaches a terminal or a file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from .api.models import (
    AgentIdentity,
    Block,
    Cell,
    ContactFormPart,
    FilePart,
    FormField,
    FormPart,
    HumanAgentPart,
    ImagePart,
    ImageUploadPart,
    Part,
    Price,
    Product,
    ProductsPart,
    QuickRepliesPart,
    RichTextPart,
    Span,
    SuggestionsPart,
    SupportTicketPart,
    TablePart,
    TextPart,
    UnknownPart,
    data_url_facts,
    is_data_url,
    parse_time,
)
from .text import sanitize, sanitize_line, sanitize_pieces

BULLET: Final = "- "
CHOICE: Final = "→ "

# ---------------------------------------------------------------------------------------------
# Roles


def role_label(role: str, bot_name: str | None = None, agent: AgentIdentity | None = None) -> str:
    """Who speaks: "You", the bot's name, the human agent's name, or "System" (a note)."""
    if role == "user":
        return "You"
    if role == "assistant":
        return sanitize_line(bot_name or "").strip() or "Assistant"
    if role == "agent":
        name = sanitize_line(agent.display_name).strip() if agent is not None else ""
        return f"{name} (agent)" if name else "Agent"
    if role == "system":
        return "System"
    return sanitize_line(role).strip().title() or "Unknown"


# ---------------------------------------------------------------------------------------------
# Small facts


def format_size(size: int | None) -> str:
    """'14.2 KB', '5.0 MiB'-style sizes in decimal units; '' when unknown."""
    if size is None or size < 0:
        return ""
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in ("KB", "MB", "GB"):
        value /= 1000
        if value < 1000 or unit == "GB":
            return f"{value:.1f} {unit}"
    return ""  # pragma: no cover


def format_limit(size: int) -> str:
    """A size limit as the vendor states them: binary units (5 MiB, 2 MiB)."""
    if size >= 1024 * 1024 and size % (1024 * 1024) == 0:
        return f"{size // (1024 * 1024)} MiB"
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MiB"
    if size >= 1024:
        return f"{size / 1024:.0f} KiB"
    return f"{size} B"


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def format_price(price: Price) -> str:
    """'199.00 DKK' for numbers; a string amount as sent (made safe)."""
    amount = price.amount
    number = f"{amount:.2f}" if _is_number(amount) else sanitize_line(str(amount))
    return f"{number} {sanitize_line(price.currency)}".strip()


def discount_percent(price: Price, original: Price) -> int | None:
    """Whole-percent discount when the original price is higher (same or unstated currency)."""
    now, was = price.amount, original.amount
    if not (_is_number(now) and _is_number(was)):
        return None
    assert isinstance(now, (int, float)) and isinstance(was, (int, float))
    if was <= 0 or now < 0 or was <= now:
        return None
    if price.currency and original.currency and price.currency != original.currency:
        return None
    percent = round((was - now) / was * 100)
    return percent if percent >= 1 else None


def expiry_note(expires_at: str | None, now: datetime | None = None) -> str:
    """'expired 2026-09-01 12:00 UTC' / 'link valid until …' / '' (no expiry given)."""
    expiry = parse_time(expires_at)
    if expiry is None:
        return ""
    stamp = expiry.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if expiry <= (now or datetime.now(UTC)):
        return f"link expired {stamp}"
    return f"link valid until {stamp}"


# ---------------------------------------------------------------------------------------------
# Rich text


def spans_text(spans: Sequence[Span]) -> str:
    """Inline text. A link reads as its text (its URL when it has none): the same words as
    the reply streamed to a terminal and as the saved record's text."""
    kept = [span for span in spans if span.type in ("text", "bold", "strike", "link")]
    out: list[str] = []
    # Sanitized as one text: an emoji sequence split between a plain and a bold span keeps
    # its joiner.
    for span, text in zip(kept, sanitize_pieces([span.text for span in kept]), strict=True):
        if span.type == "link" and not text and span.url:
            out.append(sanitize_line(span.url))
        else:
            out.append(text)
    return "".join(out)


def blocks_text(blocks: Sequence[Block]) -> str:
    out: list[str] = []
    for block in blocks:
        if block.type == "paragraph":
            out.append(spans_text(block.spans))
        elif block.type == "bullet_list":
            out.append("\n".join(BULLET + spans_text(item.spans) for item in block.items))
        elif block.type == "image" and block.url:
            out.append(_cell_image(block))
    return "\n\n".join(chunk for chunk in out if chunk)


def _cell_image(block: Block) -> str:
    alt = sanitize_line(block.alt or "").strip()
    where = "inline data" if is_data_url(block.url) else sanitize_line(block.url or "")
    return f"[image{': ' + alt if alt else ''}] {where}"


# ---------------------------------------------------------------------------------------------
# Products, tables, attachments, markers


@dataclass(frozen=True)
class CardText:
    """A product card's words, made safe, decided once for the plain text and the Markdown."""

    title: str
    badge: str
    price: str  # '' when the card has none
    was: str  # the original price when it differs from `price`, else ''
    percent: int | None  # the discount, when both prices are numbers
    description: str
    url: str
    cart: str  # 'SKU url' (the add-to-cart link), or ''


def card_text(product: Product) -> CardText:
    price = was = ""
    percent = None
    if product.price is not None:
        price = format_price(product.price)
        original = product.original_price
        if original is not None and format_price(original) != price:
            was = format_price(original)
            percent = discount_percent(product.price, original)
    cart = ""
    if product.add_to_cart is not None:
        cart = sanitize_line(product.add_to_cart.sku)
        if product.add_to_cart.url:
            cart += f" {sanitize_line(product.add_to_cart.url)}"
    return CardText(
        title=sanitize_line(product.title).strip() or "(untitled product)",
        badge=sanitize_line(product.splash or "").strip(),
        price=price,
        was=was,
        percent=percent,
        description=" ".join(sanitize(product.description or "").split()),
        url=sanitize_line(product.url or ""),
        cart=cart,
    )


def product_text(product: Product, *, open_label: str | None = None) -> str:
    """A product card as a few lines: title and badge, price (with the old one and the
    discount), description, the product link and the add-to-cart link."""
    card = card_text(product)
    head = f"* {card.title}"
    if card.badge:
        head += f" [{card.badge}]"
    lines = [head]
    if card.price:
        price = card.price
        if card.was:
            price += f" (was {card.was}"
            price += f", -{card.percent} %)" if card.percent is not None else ")"
        lines.append(f"  {price}")
    if card.description:
        lines.append("  " + card.description)
    if card.url:
        label = sanitize_line(open_label or "").strip()
        lines.append(f"  {label + ': ' if label else ''}{card.url}")
    if card.cart:
        lines.append(f"  Add to cart: {card.cart}")
    return "\n".join(lines)


def product_markdown(product: Product) -> str:
    """The same card as a Markdown list item (the export and a copied reply): the title in
    bold, the old price struck through, the links as autolinks."""
    card = card_text(product)
    head = f"- **{card.title}**"
    if card.badge:
        head += f" [{card.badge}]"
    if card.price:
        head += f" — {card.price}"
        if card.was:
            head += f" ~~{card.was}~~"
        if card.percent is not None:
            head += f" -{card.percent} %"
    if card.url:
        head += f" <{card.url}>"
    lines = [head]
    if card.description:
        lines.append("  " + card.description)
    if card.cart:
        sku, _, url = card.cart.partition(" ")
        lines.append(f"  Add to cart: {sku}" + (f" <{url}>" if url else ""))
    return "\n".join(lines)


def cell_text(cell: str | Cell) -> str:
    """A table cell on one line: blocks joined by ' / ', images as '[image: alt] url'."""
    if isinstance(cell, str):
        return " ".join(sanitize(cell).split())
    if not cell.blocks:
        return " ".join(sanitize(cell.text or "").split())
    pieces: list[str] = []
    for block in cell.blocks:
        if block.type == "paragraph":
            pieces.append(spans_text(block.spans))
        elif block.type == "bullet_list":
            pieces.extend(BULLET + spans_text(item.spans) for item in block.items)
        elif block.type == "image" and block.url:
            pieces.append(_cell_image(block))
    return " / ".join(" ".join(piece.split()) for piece in pieces if piece.strip())


def table_text(part: TablePart) -> str:
    """A table with aligned columns ('|' between them), the caption below."""
    header = [cell_text(cell) for cell in part.headers]
    rows = [[cell_text(cell) for cell in row] for row in part.rows]
    columns = max([len(header), *(len(row) for row in rows)], default=0)
    if columns == 0:
        return sanitize(part.caption or "")
    grid = [row + [""] * (columns - len(row)) for row in ([header] if header else []) + rows]
    widths = [max(len(row[i]) for row in grid) for i in range(columns)]
    alignments = [a.lower() for a in (part.alignments or [])]

    def line(row: list[str]) -> str:
        cells = []
        for i, text in enumerate(row):
            align = alignments[i] if i < len(alignments) else "left"
            cells.append(
                text.rjust(widths[i])
                if align == "right"
                else text.center(widths[i])
                if align in ("center", "centre")
                else text.ljust(widths[i])
            )
        return ("| " + " | ".join(cells) + " |").rstrip()

    lines = [line(row) for row in grid]
    if header:
        lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    if part.caption:
        lines.append(sanitize(part.caption))
    return "\n".join(lines)


def attachment_text(part: ImagePart | FilePart, now: datetime | None = None) -> str:
    """'[image] Receipt (image/png, 14.2 KB, link valid until …)' and the URL on the next line;
    an expired link is marked; a `data:` URL is described, never printed."""
    if isinstance(part, ImagePart):
        kind, name = "image", part.caption
    else:
        kind, name = "file", part.filename
    mime, size = part.mime_type, part.size_bytes
    inline = is_data_url(part.url)
    if inline:
        data_mime, data_size = data_url_facts(part.url)
        mime, size = mime or data_mime, size if size is not None else data_size
    facts = [sanitize_line(mime or ""), format_size(size)]
    if inline:
        facts.append("sent inline, not shown")
    else:
        facts.append(expiry_note(part.url_expires_at, now))
    details = ", ".join(fact for fact in facts if fact)
    head = f"[{kind}] {sanitize_line(name or '').strip() or kind}"
    if details:
        head += f" ({details})"
    if inline or not part.url:
        return head
    return f"{head}\n  {sanitize_line(part.url)}"


def field_summary(fields: Sequence[FormField]) -> str:
    """'Name*, E-mail*, Claim details* (when distributor is postnord)'."""
    out: list[str] = []
    for field in fields:
        label = sanitize_line(field.label or field.key).strip()
        if field.required:
            label += "*"
        if field.visible_when:
            conditions = " and ".join(
                f"{sanitize_line(c.field)} is {sanitize_line(c.value)}" for c in field.visible_when
            )
            label += f" (when {conditions})"
        out.append(label)
    return ", ".join(out)


def marker_text(part: ContactFormPart | FormPart | SupportTicketPart) -> str:
    if isinstance(part, FormPart):
        title = f"Form: {sanitize_line(part.name).strip() or 'form'}"
    elif isinstance(part, SupportTicketPart):
        title = "Support ticket form"
    else:
        title = "Contact form"
    text = f"[form] {title}"
    fields = field_summary(part.fields)
    if fields:
        text += f" — {fields}"
    if isinstance(part, FormPart) and part.min_filled_fields > 1:
        text += f" (fill at least {part.min_filled_fields})"
    if isinstance(part, SupportTicketPart) and part.attachments_accepted:
        text += f" (attachments up to {format_limit(part.max_attachment_size_bytes)})"
    return text


def _type_name(mime: str) -> str:
    subtype = mime.partition("/")[2] or mime
    return {"jpeg": "JPEG", "png": "PNG", "webp": "WebP", "gif": "GIF", "heic": "HEIC"}.get(
        subtype.lower(), sanitize_line(subtype).upper()
    )


def upload_prompt_text(part: ImageUploadPart) -> str:
    """'[upload] The bot asks for a photo: PNG, JPEG or WebP, up to 5 MiB'."""
    names = [_type_name(mime) for mime in part.accepted_types]
    kinds = ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else "".join(names)
    return f"[upload] The bot asks for a photo: {kinds}, up to {format_limit(part.max_size_bytes)}"


# ---------------------------------------------------------------------------------------------
# Any part, any message


def part_text(part: Part, *, now: datetime | None = None, open_label: str | None = None) -> str:
    """One part as plain text (no trailing newline); '' for a part with nothing to show."""
    if isinstance(part, TextPart):
        return sanitize(part.text)
    if isinstance(part, RichTextPart):
        return blocks_text(part.blocks)
    if isinstance(part, ProductsPart):
        return "\n".join(product_text(p, open_label=open_label) for p in part.products)
    if isinstance(part, SuggestionsPart):
        return "\n".join(
            CHOICE + sanitize_line(s.title or s.prompt_text).strip() for s in part.suggestions
        )
    if isinstance(part, QuickRepliesPart):
        return "\n".join(CHOICE + sanitize_line(reply).strip() for reply in part.replies)
    if isinstance(part, TablePart):
        return table_text(part)
    if isinstance(part, (ImagePart, FilePart)):
        return attachment_text(part, now)
    if isinstance(part, (ContactFormPart, FormPart, SupportTicketPart)):
        return marker_text(part)
    if isinstance(part, ImageUploadPart):
        return upload_prompt_text(part)
    if isinstance(part, HumanAgentPart):
        return "[agent] The bot offers to hand over to a human agent."
    if isinstance(part, UnknownPart):
        return f"[unsupported content: {sanitize_line(part.type) or 'unknown'}]"
    return ""  # pragma: no cover  (every known part is handled above)


def parts_text(
    parts: Sequence[Part], *, now: datetime | None = None, open_label: str | None = None
) -> str:
    """Several parts, a blank line between them."""
    chunks = [part_text(part, now=now, open_label=open_label) for part in parts]
    return "\n\n".join(chunk for chunk in chunks if chunk)
