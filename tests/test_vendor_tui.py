"""Against a server in the vendor's shapes, the TUI and the saved record name the bot, label a
human agent by name and show system messages as notes; nothing prints as base64."""

from __future__ import annotations

from pathlib import Path

from dialogtui.devserver import DevServer
from dialogtui.store import TranscriptStore

from .test_app import SIZE, all_text, make_app, ready, send, turn_finished, wait_for


async def test_the_bots_name_agents_and_system_notes(server: DevServer, tmp_path: Path) -> None:
    server.config.history_messages = 10  # holds a system note and a human agent's message
    store = TranscriptStore.open(tmp_path / "transcripts.sqlite3")
    app = make_app(server, store=store)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.title == "Demo Bot", "the object avatar/subtitle no longer cost the name"
        text = all_text(app)
        assert "Sofie (agent)\nHi, Sofie here. I can help with that." in text
        assert "ℹ A human agent joined the conversation." in text
        assert "Demo Bot\nEarlier answer #1." in text
        assert "Assistant" not in text
        await send(pilot, "an image please")
        await wait_for(pilot, turn_finished(app))
        reply = all_text(app)
        assert "📷 A tiny demo image (image/png, " in reply and "link valid until" in reply
    (summary,) = store.conversations()
    assert summary.title == "Demo Bot"
    markdown = store.export_markdown(summary.id)
    assert "with Demo Bot" in markdown and "## Demo Bot · " in markdown
    assert "[image] A tiny demo image (image/png" in markdown
    store.close()


async def test_start_prompts_follow_the_page_until_the_first_user_turn(
    server: DevServer,
) -> None:
    from dialogtui.config import Settings
    from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID
    from dialogtui.target import Target
    from dialogtui.ui.app import DialogApp

    from .test_app import FAST_POLICIES, Timeouts

    target = Target(
        server.base_url,
        DEMO_CHATBOT_ID,
        api_key=DEMO_API_KEY,
        environment="test",
        settings=Settings(page="https://shop.test/products/x"),
    )
    app = DialogApp(target, timeouts=Timeouts(read=5, stream_idle=5), policies=FAST_POLICIES)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.action_bar.labels == ["Find a size"], "a matching pattern hides the globals"
        await send(pilot, "hello")
        await wait_for(pilot, turn_finished(app))
        assert "Find a size" not in app.action_bar.labels


async def test_a_history_cap_is_said_on_screen(server: DevServer, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import dialogtui.conversation.core as core

    monkeypatch.setattr(core, "HISTORY_LIMIT", 6)
    server.config.history_messages = 9
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        text = all_text(app)
        assert "ℹ Showing the latest 6 messages; older ones load when you scroll to the top" in text
        older, cursor = await app.client.get_history_page(limit=5, cursor=app.client.history_cursor)
        assert cursor is None and len(older) == 3, "the three left out, one page"
        assert [m.role for m in older][-1] == "user"


async def test_no_cap_notice_when_everything_fits(server: DevServer) -> None:
    server.config.history_messages = 4
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert "Showing the latest" not in all_text(app)
        assert app.client.history_cursor is None


async def test_the_page_can_be_changed_in_the_app(server: DevServer) -> None:
    from textual.widgets import Input

    from dialogtui.ui.forms import PageScreen

    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert "Find a size" not in app.action_bar.labels
        app.main.action_set_page()
        await wait_for(pilot, lambda: isinstance(app.screen, PageScreen) and app.screen.is_mounted)
        await pilot.pause()
        app.screen.query_one("#page", Input).value = "https://shop.test/cart"
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, PageScreen))
        assert app.action_bar.labels == ["Checkout help"], "the prompts follow the new page"
        await send(pilot, "hello")
        await wait_for(pilot, turn_finished(app))
        assert server.stats.context_pages == ["https://shop.test/cart"]


async def test_the_subtitle_and_privacy_link_show_under_the_welcome(server: DevServer) -> None:
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        text = " ".join(all_text(app).split())
        assert (
            "ℹ Local demo server: nothing leaves your machine · Privacy: https://example.com/privacy"
            in text
        )
