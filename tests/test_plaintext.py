"""Parts and roles as plain text (`dialogtui.plaintext`), and the CLI that prints them.

Unit checks on vendor-shaped parts, then the real CLI (`dialogtui send`, `dialogtui run`) in a
child process against the dev server: tables and product cards print as readable text, nothing
prints as base64, and `--page` / `--client-profile` reach the wire.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dialogtui import exitcodes
from dialogtui.api.models import AgentIdentity, to_message, to_part
from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID, DevServer
from dialogtui.plaintext import part_text, parts_text, product_markdown, role_label

from . import vendor_payloads as vendor

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


def test_roles_are_named_for_who_speaks() -> None:
    assert role_label("user", "Stand-in bot") == "You"
    assert role_label("assistant", "Stand-in bot") == "Stand-in bot"
    assert role_label("assistant", None) == "Assistant"
    assert role_label("agent", "Bot", AgentIdentity(display_name="Sofie")) == "Sofie (agent)"
    assert role_label("agent", "Bot") == "Agent"
    assert role_label("system", "Bot") == "System"


def test_a_product_card_reads_with_price_badge_and_links() -> None:
    text = part_text(to_part(vendor.PRODUCTS), open_label="Se produkt")
    assert text.splitlines()[:6] == [
        "* Classic Tee [60% Deal]",
        "  199.00 DKK (was 299.00 DKK, -33 %)",
        "  Soft cotton.",
        f"  Se produkt: {vendor.BASE}/products/classic-tee",
        "  Add to cart: SKU-TEE-001 https://shop.test/cart/SKU-TEE-001",
        "* Classic Hat",
    ]


def test_a_product_card_as_markdown_says_what_the_plain_card_says() -> None:
    # The export and a copied reply (F4): the same price, discount, badge and links.
    tee = to_part(vendor.PRODUCTS).products[0]  # type: ignore[attr-defined]
    assert product_markdown(tee).splitlines() == [
        f"- **Classic Tee** [60% Deal] — 199.00 DKK ~~299.00 DKK~~ -33 % "
        f"<{vendor.BASE}/products/classic-tee>",
        "  Soft cotton.",
        "  Add to cart: SKU-TEE-001 <https://shop.test/cart/SKU-TEE-001>",
    ]


def test_a_table_has_aligned_columns_and_cell_images() -> None:
    table = to_part(
        {
            "type": "table",
            "part_id": "t",
            "caption": "Plans",
            "headers": ["Plan", "Price"],
            "alignments": ["left", "right"],
            "rows": [
                [
                    {
                        "blocks": [
                            {"type": "paragraph", "spans": [{"type": "text", "text": "Basic"}]}
                        ]
                    },
                    {"blocks": [{"type": "paragraph", "spans": [{"type": "text", "text": "9"}]}]},
                ],
                [
                    {"blocks": [{"type": "image", "url": "https://x.test/p.png", "alt": "Pro"}]},
                    {"blocks": [{"type": "paragraph", "spans": [{"type": "text", "text": "199"}]}]},
                ],
            ],
        }
    )
    assert part_text(table).splitlines() == [
        "| Plan                              | Price |",
        "|-----------------------------------|-------|",
        "| Basic                             |     9 |",
        "| [image: Pro] https://x.test/p.png |   199 |",
        "Plans",
    ]


def test_attachments_name_kind_size_and_expiry_and_never_base64() -> None:
    image = part_text(to_part(vendor.IMAGE, base_url=vendor.BASE), now=NOW)
    assert image.splitlines()[0] == (
        "[image] Receipt from history (image/png, 14.2 KB, link expired 2020-01-01 00:00 UTC)"
    )
    file = part_text(to_part(vendor.FILE), now=NOW)
    assert file.startswith("[file] invoice-history.pdf (application/pdf, 48.2 KB, link valid")
    photo = part_text(to_part(vendor.VISITOR_PHOTO), now=NOW)
    assert photo == "[image] IMG_0001.jpg (image/jpeg, 3.0 KB, sent inline, not shown)"
    assert "AAAA" not in photo


def test_markers_and_the_upload_prompt() -> None:
    assert part_text(to_part(vendor.CUSTOM_FORM)) == (
        "[form] Form: Sales lead — Email*, Distributor*, "
        "Claim details* (when distributor is postnord), Photo, Phone"
    )
    assert part_text(to_part(vendor.SUPPORT_TICKET)) == (
        "[form] Support ticket form — Name*, Email*, Describe your issue* (attachments up to 2 MiB)"
    )
    assert part_text(to_part(vendor.UPLOAD_PROMPT)) == (
        "[upload] The bot asks for a photo: PNG or JPEG, up to 5 MiB"
    )
    assert part_text(to_part({"type": "carousel"})) == "[unsupported content: carousel]"


def test_a_whole_history_message_as_text() -> None:
    message = to_message(vendor.HISTORY_PAGE["messages"][0], base_url=vendor.BASE)
    text = parts_text(message.parts, now=NOW)
    assert text.startswith("Here is the receipt.\n\n[image] Receipt from history")
    assert "[file] invoice-history.pdf" in text


# ---------------------------------------------------------------------------------------------
# The real CLI


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    child = {k: v for k, v in os.environ.items() if not k.startswith("DIALOGTUI_")}
    child.update(
        DIALOGTUI_API_KEY=DEMO_API_KEY,
        DIALOGTUI_CONFIG_DIR=str(tmp_path / "config"),
        DIALOGTUI_DATA_DIR=str(tmp_path / "data"),
        DIALOGTUI_LOG_DIR=str(tmp_path / "logs"),
        PYTHONPATH=str(ROOT),
    )
    return child


def dialogtui(
    server: DevServer, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "dialogtui", "--base-url", server.base_url]
    command += ["--chatbot-id", DEMO_CHATBOT_ID, "--no-save", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def test_send_prints_tables_product_cards_and_attachments_as_text(
    server: DevServer, env: dict[str, str]
) -> None:
    done = dialogtui(server, env, "send", "a table, an image and the upload please")
    assert done.returncode == exitcodes.OK, done.stderr
    out = done.stdout
    assert "[table]" not in out and "| Plan" in out
    assert "* Nordic Wool Blanket [20% Deal]" in out
    assert "  399.00 DKK (was 499.00 DKK, -20 %)" in out
    assert "  Add to cart: SKU-BLANKET-130 https://example.com/cart/add/SKU-BLANKET-130" in out
    assert "[image] A tiny demo image (image/png, " in out and "link valid until" in out
    assert "[upload] The bot asks for a photo: PNG, JPEG or WebP, up to 5 MiB" in out


def test_page_and_client_profile_reach_the_wire_from_the_cli(
    server: DevServer, env: dict[str, str]
) -> None:
    done = dialogtui(
        server,
        env,
        "--page",
        "https://shop.test/products/tee",
        "--client-profile",
        "product-recommendation",
        "send",
        "hello",
    )
    assert done.returncode == exitcodes.OK, done.stderr
    assert server.stats.context_pages == ["https://shop.test/products/tee"]
    assert server.stats.client_profiles == ["product-recommendation"]
    # The environment variables do the same; a flag wins over them.
    env.update(DIALOGTUI_PAGE="https://shop.test/cart", DIALOGTUI_CLIENT_PROFILE="a, b")
    assert dialogtui(server, env, "send", "hi").returncode == exitcodes.OK
    assert dialogtui(server, env, "--page", "/flag", "send", "hi").returncode == exitcodes.OK
    assert server.stats.context_pages[1:] == ["https://shop.test/cart", "/flag"]
    assert server.stats.client_profiles[1:] == ["a, b", "a, b"]


def test_a_bad_client_profile_is_a_usage_error(server: DevServer, env: dict[str, str]) -> None:
    done = dialogtui(server, env, "--client-profile", "bad\u0007value", "send", "hi")
    assert done.returncode == exitcodes.USAGE
    assert "client_profile" in done.stderr and server.stats.count("POST /messages") == 0


def test_a_wrong_key_names_login_and_run_asks_auth_once(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    env["DIALOGTUI_API_KEY"] = "not-the-key"
    done = dialogtui(server, env, "send", "hi")
    assert done.returncode == exitcodes.AUTH
    assert "not accepted" in done.stderr and "dialogtui login" in done.stderr
    assert "expired" not in done.stderr
    script = tmp_path / "script.txt"
    script.write_text("".join(f"turn {i}\n" for i in range(5)), encoding="utf-8")
    server.reset_stats()
    done = dialogtui(server, env, "run", str(script))
    assert done.returncode != exitcodes.OK
    assert server.stats.count("POST /auth") == 1, "a refused key is not sent again"


def test_status_shows_the_page_and_the_client_profile(env: dict[str, str]) -> None:
    import json

    env.update(DIALOGTUI_CLIENT_PROFILE="product-recommendation")
    command = [sys.executable, "-m", "dialogtui", "--page", "https://shop.test/cart", "status"]
    done = subprocess.run([*command, "--json"], env=env, capture_output=True, text=True, timeout=60)
    info = json.loads(done.stdout)
    assert info["page"] == "https://shop.test/cart"
    assert info["client_profile"] == "product-recommendation"
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert "Page:           https://shop.test/cart" in done.stdout
    assert "Client profile: product-recommendation" in done.stdout
