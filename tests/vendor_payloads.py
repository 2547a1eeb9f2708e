"""Payloads in the vendor's wire shapes, for decoding tests.

Our own data, shaped after the vendor's public SDK (askdiverge/Diverge-SDK-iOS: its wire models
and the sample payloads of its stand-in servers, `Tests/Standin/servers/*.py`): object avatar and
subtitle, agent and system roles, forms with `visible_when`, tickets with their own fields,
products with splash and add-to-cart, images with ids, thumbnails and expiry, `data:` URLs.
"""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]
BASE = "https://api.example.test"


def rich(part_id: str, text: str) -> JSON:
    return {
        "type": "rich_text",
        "part_id": part_id,
        "blocks": [{"type": "paragraph", "spans": [{"type": "text", "text": text}]}],
    }


CONFIG: JSON = {
    "display": {
        "name": "Stand-in bot",
        "avatar": {"url": f"{BASE}/avatar.png"},
        "welcome_message": "Hello from the stand-in.",
        "subtitle": {"text": "Local stand-in", "link": {"text": "Privacy", "url": f"{BASE}/p"}},
        "privacy_policy_url": "https://example.com/privacy",
    },
    "theme": {
        "brand": {"primary_color": "#4F46E5"},
        "messages": {
            "assistant": {"background_color": "#F3F4F6", "border_color": None},
            "user": {"background_color": "#4F46E5", "text_color": "#FFFFFF"},
        },
        "product_card": {"discount_price_color": "#DC2626"},
        "font": {"ios": {"asset_url": f"{BASE}/font.ttf", "sha256": "0" * 64, "format": "ttf"}},
    },
    "start_prompts": [
        {"prompt_text": "Track my order", "url_pattern": None},
        {"prompt_text": "Find a size", "url_pattern": "/products"},
        {"prompt_text": "Checkout help", "url_pattern": "/cart"},
        {"url_pattern": "/broken"},  # no prompt_text: drops itself only
    ],
    "product_card": {"open_label": "  Se produkt ", "add_to_cart": {"enabled": True}},
    "livechat": {
        "enabled": False,
        "configured": False,
        "availability_status": "offline",
        "availability_reason": "manual_offline",
        "show_livechat_logo": False,
        "attachments_enabled": False,
        "max_attachment_size_bytes": 5242880,
    },
    "forms": [{"form_id": "salesLead", "name": "Sales lead", "trigger": "llm"}, {"name": "x"}],
    "popup_messages": [],
}

CONTACT_FIELDS = [
    {"key": "name", "label": "Name", "type": "text", "required": True},
    {"key": "email", "label": "Email", "type": "email", "required": True},
    {"key": "message", "label": "Message", "type": "textarea", "required": True},
]

CONTACT_FORM: JSON = {
    "type": "show_contact_form",
    "part_id": "part_contact",
    "fields": CONTACT_FIELDS,
}

SUPPORT_TICKET: JSON = {
    "type": "show_support_ticket",
    "part_id": "part_ticket",
    "fields": [
        {"key": "name", "label": "Name", "type": "text", "required": True},
        {"key": "email", "label": "Email", "type": "email", "required": True},
        {"key": "message", "label": "Describe your issue", "type": "textarea", "required": True},
    ],
    "attachments_accepted": True,
    "max_attachment_size_bytes": 2097152,
}

CUSTOM_FORM: JSON = {
    "type": "show_form",
    "part_id": "part_form",
    "form_id": "salesLead",
    "name": "Sales lead",
    "confirmation_text": "Thanks — your lead is in.",
    "fields": [
        {"key": "email", "label": "Email", "type": "email", "required": True},
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
            "placeholder": "What happened?",
            "visible_when": [{"field": "distributor", "operator": "equals", "value": "postnord"}],
        },
        {"key": "photo", "label": "Photo", "type": "file", "required": None},
        {"key": "phone", "label": "Phone", "type": "phone"},
        {"label": "no key: drops itself"},
    ],
    "min_filled_fields": 1,
    "submit_actions": [{"type": "save_lead"}],
}

UPLOAD_PROMPT: JSON = {
    "type": "request_image_upload",
    "part_id": "part_upload",
    "accepted_types": ["image/png", "image/jpeg"],
    "max_size_bytes": 5_242_880,
}

PRODUCTS: JSON = {
    "type": "products",
    "part_id": "part_products",
    "products": [
        {
            "id": "prod_tee",
            "title": "Classic Tee",
            "description": "Soft cotton.",
            "image_url": f"{BASE}/product.png",
            "price": {"amount": 199.0, "currency": "DKK"},
            "original_price": {"amount": 299.0, "currency": "DKK"},
            "splash": "60% Deal",
            "url": f"{BASE}/products/classic-tee",
            "add_to_cart": {"sku": "SKU-TEE-001", "url": " https://shop.test/cart/SKU-TEE-001 "},
        },
        {
            "id": "prod_hat",
            "title": "Classic Hat",
            "image_url": f"{BASE}/product.png",
            "price": {"amount": 99.0, "currency": "DKK"},
            "url": f"{BASE}/products/classic-hat",
        },
        {"id": "prod_bad", "title": ["not", "a", "string"]},  # drops itself only
    ],
}

IMAGE: JSON = {
    "type": "image",
    "attachment_id": "hist-receipt",
    "url": "/api/v1/chat/livechat/attachments/hist-receipt?token=1",
    "mime_type": "image/png",
    "size_bytes": 14200,
    "url_expires_at": "2020-01-01T00:00:00.000Z",
    "caption": "Receipt from history",
    "thumbnail_url": "/api/v1/chat/livechat/attachments/hist-receipt-thumb?token=1",
}

IMAGE_NULL_MIME: JSON = {"type": "image", "url": f"{BASE}/x.png", "mime_type": None}

VISITOR_PHOTO: JSON = {
    "type": "image",
    "url": "data:image/jpeg;base64," + "A" * 4000,
    "caption": "IMG_0001.jpg",
}

FILE: JSON = {
    "type": "file",
    "attachment_id": "hist-invoice",
    "filename": "invoice-history.pdf",
    "url": f"{BASE}/api/v1/chat/livechat/attachments/hist-invoice?token=9999999999",
    "mime_type": "application/pdf",
    "size_bytes": 48231,
    "url_expires_at": "2999-01-01T00:00:00Z",
}

TABLE: JSON = {
    "type": "table",
    "part_id": "part_table",
    "caption": "Plans",
    "headers": [{"blocks": [{"type": "paragraph", "spans": [{"type": "text", "text": "Plan"}]}]}],
    "alignments": ["left"],
    "rows": [
        [
            {
                "blocks": [
                    {"type": "paragraph", "spans": [{"type": "bold", "text": "Basic"}]},
                    {"type": "image", "url": "/img/basic.png", "alt": "Basic plan"},
                ]
            }
        ]
    ],
}

HISTORY_PAGE: JSON = {
    "messages": [  # newest first
        {
            "message_id": "h4",
            "role": "agent",
            "created_at": "2026-09-01T12:04:00.000Z",
            "agent": {"agent_id": "a1", "display_name": "Sofie", "avatar_url": None},
            "parts": [rich("h4p1", "Here is the receipt."), IMAGE, FILE],
        },
        {
            "message_id": "h3",
            "role": "system",
            "created_at": "2026-09-01T12:03:00.000Z",
            "parts": [rich("h3p1", "A human agent joined.")],
        },
        {
            "message_id": "h2",
            "role": "assistant",
            "created_at": "2026-09-01T12:02:00.000Z",
            "parts": [
                rich("h2p1", "Please fill one of the forms below."),
                CONTACT_FORM,
                SUPPORT_TICKET,
                CUSTOM_FORM,
                UPLOAD_PROMPT,
                PRODUCTS,
                TABLE,
                {"type": "carousel", "part_id": "future", "items": []},
            ],
        },
        {
            "message_id": "h1",
            "role": "user",
            "created_at": "2026-09-01T12:01:00.000Z",
            "parts": [rich("h1p1", "Can you send me my receipt?"), VISITOR_PHOTO],
        },
    ],
    "next_cursor": None,
    "has_more": False,
}

EXPORT: JSON = {
    "generated_at": "2026-09-01T12:00:00.000Z",
    "chatbot_id": "stand-in-bot",
    "visitor_id": "visitor-export-test",
    "session": {"values": []},
    "conversations": [],
    "livechat_sessions": [],
    "attachments": [],
    "support_tickets": [],
    "webhook_events": [],
}
