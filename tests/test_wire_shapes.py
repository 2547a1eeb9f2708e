"""The wire models against the vendor's shapes, and our dev server against the wire models.

`vendor_payloads` holds payloads shaped after the vendor's public SDK; every model decodes from
them, leniently where the SDK is lenient. Then the dev server's own payloads (config, history,
stream events, export) decode with the same models the client uses, over a real socket.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
import pytest

from dialogtui.api import DialogClient, DoneEvent, PartEvent
from dialogtui.api.models import (
    ActionResult,
    AgentIdentity,
    Block,
    ContactFormPart,
    FilePart,
    FormPart,
    ImagePart,
    ImageUploadPart,
    Message,
    PartDeltaEvent,
    ProductsPart,
    RichTextPart,
    StartPrompt,
    StatusEvent,
    SupportTicketPart,
    TablePart,
    UnknownPart,
    data_url_facts,
    decode_event,
    is_data_url,
    resolve_url,
    select_start_prompts,
    to_config,
    to_message,
    to_part,
)
from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID, DevServer

from . import vendor_payloads as vendor

# ---------------------------------------------------------------------------------------------
# Config


def test_config_in_the_vendor_shape_keeps_the_bots_identity() -> None:
    config = to_config(vendor.CONFIG)
    display = config.display
    assert display.name == "Stand-in bot" and display.welcome_message == "Hello from the stand-in."
    assert display.avatar is not None and display.avatar.url == f"{vendor.BASE}/avatar.png"
    assert display.subtitle is not None and display.subtitle.text == "Local stand-in"
    assert display.subtitle.link is not None and display.subtitle.link.text == "Privacy"
    assert display.privacy_policy_url == "https://example.com/privacy"
    assert [p.prompt_text for p in config.start_prompts] == [
        "Track my order",
        "Find a size",
        "Checkout help",
    ], "a start prompt without text drops itself only"
    assert config.product_card is not None and config.product_card.open_label == "Se produkt"
    assert config.product_card.add_to_cart.enabled
    assert config.livechat is not None and config.livechat.availability_status == "offline"
    assert config.livechat.max_attachment_size_bytes == 5242880
    assert [f.form_id for f in config.forms] == ["salesLead"]
    assert config.image_enabled, "absent image_enabled is true, as the contract says"
    assert config.theme is not None and config.theme["brand"]["primary_color"] == "#4F46E5"


def test_a_bad_field_costs_only_itself() -> None:
    # Our earlier model had string avatar/subtitle: one such mismatch lost the whole display.
    config = to_config(
        {
            "display": {
                "name": "Bot",
                "avatar": 7,
                "subtitle": "a string",
                "welcome_message": "Hi",
            },
            "start_prompts": "not a list",
            "product_card": {"open_label": "   "},
            "image_enabled": None,
        }
    )
    assert config.display.name == "Bot" and config.display.welcome_message == "Hi"
    assert config.display.avatar is None and config.display.subtitle is None
    assert config.start_prompts == []
    assert config.product_card is not None and config.product_card.open_label is None
    assert not config.product_card.add_to_cart.enabled and config.image_enabled


def test_start_prompts_follow_the_vendors_page_rule() -> None:
    prompts = [
        StartPrompt("Track my order"),
        StartPrompt("Find a size", "/products"),
        StartPrompt("Checkout help", "/cart"),
        StartPrompt("  "),
    ]

    def texts(page: str | None) -> list[str]:
        return [p.prompt_text for p in select_start_prompts(prompts, page)]

    assert texts(None) == ["Track my order"]
    assert texts("https://shop.test/products/tee") == ["Find a size"], "globals hide on a match"
    assert texts("https://shop.test/about") == ["Track my order"]
    assert texts("") == ["Track my order"]


# ---------------------------------------------------------------------------------------------
# Messages and parts


def history() -> list[Message]:
    return [to_message(m, base_url=vendor.BASE) for m in vendor.HISTORY_PAGE["messages"]]


def test_roles_and_the_agents_identity() -> None:
    agent, system, assistant, user = history()
    assert [m.role for m in (agent, system, assistant, user)] == [
        "agent",
        "system",
        "assistant",
        "user",
    ]
    assert agent.agent == AgentIdentity(agent_id="a1", display_name="Sofie")
    assert system.agent is None


def test_images_and_files_keep_ids_thumbnails_and_expiry() -> None:
    agent = history()[0]
    image, file = agent.parts[1], agent.parts[2]
    assert isinstance(image, ImagePart) and isinstance(file, FilePart)
    assert image.attachment_id == "hist-receipt" and image.size_bytes == 14200
    # Relative attachment URLs resolve against the API base.
    assert image.url == f"{vendor.BASE}/api/v1/chat/livechat/attachments/hist-receipt?token=1"
    assert image.thumbnail_url is not None and image.thumbnail_url.startswith(vendor.BASE + "/")
    assert image.expired() and not file.expired()
    assert file.filename == "invoice-history.pdf" and file.attachment_id == "hist-invoice"
    assert not image.expired(now=datetime(2019, 1, 1, tzinfo=UTC))


def test_a_null_mime_type_keeps_the_image() -> None:
    part = to_part(vendor.IMAGE_NULL_MIME)
    assert isinstance(part, ImagePart) and part.mime_type is None


def test_a_visitors_photo_stays_a_data_url_and_is_measured_not_dumped() -> None:
    photo = history()[3].parts[1]
    assert isinstance(photo, ImagePart) and is_data_url(photo.url)
    assert photo.url.startswith("data:image/jpeg;base64,"), "never resolved against the base"
    assert data_url_facts(photo.url) == ("image/jpeg", 3000)


def test_forms_keep_every_field_the_sdk_reads() -> None:
    parts = history()[2].parts
    contact, ticket, custom, upload = parts[1:5]
    assert isinstance(contact, ContactFormPart) and [f.key for f in contact.fields] == [
        "name",
        "email",
        "message",
    ]
    assert isinstance(ticket, SupportTicketPart)
    assert [f.label for f in ticket.fields][-1] == "Describe your issue"
    assert ticket.attachments_accepted and ticket.max_attachment_size_bytes == 2 * 1024 * 1024
    assert isinstance(custom, FormPart)
    assert custom.name == "Sales lead" and custom.confirmation_text == "Thanks — your lead is in."
    assert custom.min_filled_fields == 1
    keys = [f.key for f in custom.fields]
    assert keys == ["email", "distributor", "claim", "photo", "phone"], "a keyless field drops"
    claim = custom.fields[2]
    assert claim.placeholder == "What happened?" and claim.required
    assert [(c.field, c.operator, c.value) for c in claim.visible_when] == [
        ("distributor", "equals", "postnord")
    ]
    assert custom.fields[3].required is False, "a null required reads as not required"
    assert custom.fields[4].type == "tel", "phone is the deprecated alias of tel"
    assert isinstance(upload, ImageUploadPart)
    assert upload.accepted_types == ["image/png", "image/jpeg"]
    assert upload.max_size_bytes == 5_242_880


def test_form_defaults_as_the_sdk_has_them() -> None:
    thin = to_part({"type": "show_form", "part_id": "p", "form_id": "f1", "name": "  "})
    assert isinstance(thin, FormPart) and thin.name == "f1" and thin.fields == []
    ticket = to_part({"type": "show_support_ticket", "part_id": "t"})
    assert isinstance(ticket, SupportTicketPart)
    assert ticket.attachments_accepted and ticket.max_attachment_size_bytes == 2 * 1024 * 1024
    upload = to_part({"type": "request_image_upload", "part_id": "u", "accepted_types": []})
    assert isinstance(upload, ImageUploadPart)
    assert upload.accepted_types == ["image/png", "image/jpeg", "image/webp"]
    assert upload.max_size_bytes == 5 * 1024 * 1024
    # A marker without part_id cannot be answered: unknown, as in the SDK.
    assert isinstance(to_part({"type": "show_contact_form", "fields": []}), UnknownPart)


def test_products_keep_splash_and_add_to_cart_and_lose_only_a_bad_card() -> None:
    products = history()[2].parts[5]
    assert isinstance(products, ProductsPart)
    assert [p.id for p in products.products] == ["prod_tee", "prod_hat"]
    tee, hat = products.products
    assert tee.splash == "60% Deal"
    assert tee.add_to_cart is not None and tee.add_to_cart.sku == "SKU-TEE-001"
    assert tee.add_to_cart.url == "https://shop.test/cart/SKU-TEE-001"
    assert hat.add_to_cart is None and hat.splash is None


def test_table_cells_keep_their_images() -> None:
    table = history()[2].parts[6]
    assert isinstance(table, TablePart) and table.caption == "Plans"
    cell = table.rows[0][0]
    image = cell.blocks[1]
    assert image == Block(type="image", url=f"{vendor.BASE}/img/basic.png", alt="Basic plan")


def test_an_unknown_part_is_kept_not_fatal() -> None:
    assistant = history()[2]
    assert isinstance(assistant.parts[-1], UnknownPart) and assistant.parts[-1].type == "carousel"
    assert len(assistant.parts) == 8


def test_stream_events_decode_in_the_vendor_shapes() -> None:
    delta = decode_event(
        "part_delta",
        json.dumps(
            {
                "part_id": "p",
                "delta": {
                    "action": "append_product",
                    "product": {
                        "id": "x",
                        "title": "T",
                        "splash": "New",
                        "add_to_cart": {"sku": "S"},
                    },
                },
            }
        ),
    )
    assert isinstance(delta, PartDeltaEvent) and delta.delta.product is not None
    assert delta.delta.product.splash == "New"
    part = decode_event("part", json.dumps({"part": vendor.CUSTOM_FORM}))
    assert isinstance(part, PartEvent) and isinstance(part.part, FormPart)
    done = decode_event(
        "done",
        json.dumps({"message": vendor.HISTORY_PAGE["messages"][0], "visitor_token": "bound-1"}),
        base_url=vendor.BASE,
    )
    assert isinstance(done, DoneEvent) and done.visitor_token == "bound-1"
    assert done.message.agent is not None and done.message.agent.display_name == "Sofie"
    image = done.message.parts[1]
    assert isinstance(image, ImagePart) and image.url.startswith(vendor.BASE + "/api/")
    assert isinstance(decode_event("status", '{"status": "connected"}'), StatusEvent)


def test_action_result_and_export() -> None:
    result = msgspec.convert(
        {"submission_id": "sub_1", "confirmation_text": "Thanks", "livechat_session": {"id": 1}},
        ActionResult,
    )
    assert result.confirmation_text == "Thanks" and result.livechat_session == {"id": 1}


def test_resolve_url_leaves_absolute_and_data_urls_alone() -> None:
    assert resolve_url("https://cdn.test/a.png", vendor.BASE) == "https://cdn.test/a.png"
    assert resolve_url("data:image/png;base64,AAAA", vendor.BASE).startswith("data:")
    assert resolve_url("/x/y.png", vendor.BASE + "/") == vendor.BASE + "/x/y.png"
    assert resolve_url("/x/y.png", None) == "/x/y.png"


# ---------------------------------------------------------------------------------------------
# Our dev server speaks the vendor's shapes: its payloads decode with the client's models


def _api(server: DevServer, path: str) -> str:
    return f"{server.base_url}/api/v1/chat{path}"


async def test_dev_server_payloads_decode_with_the_clients_models(server: DevServer) -> None:
    server.config.history_messages = 10
    async with DialogClient(server.base_url, DEMO_CHATBOT_ID, api_key=DEMO_API_KEY) as client:
        config = await client.get_config()
        assert config.display.name == "Demo Bot" and config.display.welcome_message
        assert config.display.avatar is not None and config.display.avatar.url
        assert config.display.subtitle is not None and config.display.subtitle.link is not None
        assert config.product_card is not None and config.product_card.add_to_cart.enabled
        assert {p.prompt_text for p in select_start_prompts(config.start_prompts, None)} == {
            "What can you do?",
            "Show me a table of your plans",
            "I'd like to contact sales",
        }
        seeded = await client.get_history()
        roles = [m.role for m in seeded]
        assert "agent" in roles and "system" in roles
        agent = seeded[roles.index("agent")]
        assert agent.agent is not None and agent.agent.display_name == "Sofie"

        events = [e async for e in client.send_message("forms table image file upload quick")]
        done = events[-1]
        assert isinstance(done, DoneEvent)
        kinds = {type(p) for p in done.message.parts}
        assert {ContactFormPart, SupportTicketPart, FormPart, ImageUploadPart, TablePart} <= kinds
        assert {ImagePart, FilePart, ProductsPart, RichTextPart} <= kinds
        assert not any(isinstance(p, UnknownPart) for p in done.message.parts)
        streamed = [e.part for e in events if isinstance(e, PartEvent)]
        assert not any(isinstance(p, UnknownPart) for p in streamed)
        custom = next(p for p in done.message.parts if isinstance(p, FormPart))
        assert any(f.visible_when for f in custom.fields) and custom.confirmation_text
        image = next(p for p in done.message.parts if isinstance(p, ImagePart))
        assert image.attachment_id and image.thumbnail_url and image.url_expires_at
        assert not image.expired()
        products = next(p for p in done.message.parts if isinstance(p, ProductsPart))
        assert products.products[0].splash and products.products[0].add_to_cart is not None
        export = await client.export()
    assert set(export) >= {"generated_at", "chatbot_id", "visitor_id", "conversations"}
    for message in export["conversations"][0]["messages"]:
        assert not any(isinstance(p, UnknownPart) for p in to_message(message).parts)


def test_a_visitors_photo_comes_back_as_a_data_url(server: DevServer) -> None:
    token = httpx.post(
        _api(server, "/auth"), auth=(DEMO_API_KEY, ""), json={"chatbot_id": DEMO_CHATBOT_ID}
    ).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    body: dict[str, Any] = {
        "message": {
            "parts": [
                {"type": "text", "text": "here"},
                {"type": "image", "data": "iVBORw0KGgo=", "mime": "image/png", "filename": "a.png"},
            ]
        }
    }
    with httpx.stream("POST", _api(server, "/messages"), headers=headers, json=body) as response:
        response.read()
    page = httpx.get(_api(server, "/messages"), headers=headers).json()
    user = to_message(page["messages"][-1], base_url=server.base_url)
    photo = user.parts[1]
    assert isinstance(photo, ImagePart) and photo.url.startswith("data:image/png;base64,")
    assert photo.caption == "a.png"


@pytest.mark.parametrize("raw", [None, [], "x", 5])
def test_non_objects_are_refused_cleanly(raw: Any) -> None:
    with pytest.raises(msgspec.ValidationError):
        to_config(raw)
    with pytest.raises(msgspec.ValidationError):
        to_message(raw)


def test_the_remaining_part_kinds_and_events() -> None:
    from dialogtui.api.models import (
        HumanAgentPart,
        QuickRepliesPart,
        StreamErrorEvent,
        SuggestionsPart,
        TextPart,
    )

    suggestions = to_part(
        {
            "type": "suggestions",
            "part_id": "s",
            "suggestions": [
                {"id": "a", "title": "Track", "prompt_text": "Where is my order?"},
                "not an object",
            ],
        }
    )
    assert isinstance(suggestions, SuggestionsPart) and len(suggestions.suggestions) == 1
    replies = to_part({"type": "quick_replies", "part_id": "q", "replies": ["Dry", "Oily"]})
    assert isinstance(replies, QuickRepliesPart) and replies.replies == ["Dry", "Oily"]
    # Empty quick replies are nothing to show: unknown, as in the SDK.
    assert isinstance(
        to_part({"type": "quick_replies", "part_id": "q", "replies": []}), UnknownPart
    )
    assert isinstance(to_part({"type": "request_human_agent", "part_id": "h"}), HumanAgentPart)
    user = to_part({"type": "text", "part_id": "u", "text": "hello from history"})
    assert isinstance(user, TextPart) and user.text == "hello from history"
    bullets = to_part(
        {
            "type": "rich_text",
            "part_id": "r",
            "blocks": [
                {"type": "bullet_list", "items": [{"spans": [{"type": "bold", "text": "a"}]}]},
                {"type": "quote", "spans": []},
            ],
        }
    )
    assert isinstance(bullets, RichTextPart) and bullets.blocks[0].items[0].spans[0].type == "bold"
    assert bullets.blocks[1].type == "quote", "an unknown block type is kept, not rendered"
    error = decode_event(
        "error", '{"code": "generation_failed", "message": "x", "retryable": true}'
    )
    assert isinstance(error, StreamErrorEvent) and error.retryable


# ---------------------------------------------------------------------------------------------
# Whatever the server sends, decoding never fails the parent: properties over random JSON


def _json_values() -> Any:
    from hypothesis import strategies as st

    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
        ),
        max_leaves=12,
    )


def _vendor_keys_with_random_values() -> Any:
    """Vendor-shaped objects whose values are replaced at random: the nastiest near misses."""
    from hypothesis import strategies as st

    samples = [
        vendor.CONFIG,
        vendor.CUSTOM_FORM,
        vendor.SUPPORT_TICKET,
        vendor.PRODUCTS,
        vendor.IMAGE,
        vendor.FILE,
        vendor.TABLE,
        vendor.UPLOAD_PROMPT,
        *vendor.HISTORY_PAGE["messages"],
    ]

    @st.composite
    def mutated(draw: Any) -> dict[str, Any]:
        sample = dict(draw(st.sampled_from(samples)))
        for key in draw(st.lists(st.sampled_from(sorted(sample)), max_size=3)):
            sample[key] = draw(_json_values())
        return sample

    return mutated()


def test_decoding_never_fails_the_parent() -> None:
    from hypothesis import given, settings

    @settings(max_examples=300, deadline=None)
    @given(_vendor_keys_with_random_values())
    def check(obj: dict[str, Any]) -> None:
        part = to_part(obj, base_url=vendor.BASE)  # never raises
        assert part is not None
        to_config(obj)  # a dict always gives a config
        message = to_message(obj, base_url=vendor.BASE)
        assert isinstance(message.parts, list)
        from dialogtui.plaintext import parts_text

        parts_text([part, *message.parts])  # and every result renders as text

    check()
