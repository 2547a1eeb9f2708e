"""In a live chat too, a message the agent did not get comes back whole: its text to the
composer and its files attached again. Pilot against the real local server's live desk."""

from __future__ import annotations

from pathlib import Path

from dialogtui.devserver import DevServer
from dialogtui.devserver.livechat import LiveDesk

from .test_app import SIZE, ready, send, wait_for
from .test_attach_give_back import attach_two, pending_names
from .test_livechat_tui import ask_and_wait_for_the_agent, live_app
from .test_livechat_tui import desk, fast_polling  # noqa: F401 -- fixtures used here


async def test_a_message_the_agent_did_not_get_gives_back_its_files(
    server: DevServer,
    desk: LiveDesk,  # noqa: F811 -- the fixture imported above
    tmp_path: Path,
) -> None:
    app = live_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await ask_and_wait_for_the_agent(pilot, app)
        [session] = desk.sessions.values()
        desk.settings.fault = "send_fails"
        await attach_two(pilot, tmp_path)
        await send(pilot, "for the agent")
        await wait_for(pilot, lambda: app.composer.text == "for the agent")
        assert pending_names(app) == ["photo.jpg", "notes.txt"]
        assert not any(m["role"] == "user" for m in session.messages), "nothing was delivered"
        assert server.stats.count("POST /livechat/messages") >= 1

        # Sent again once the agent's side works: text and files go together.
        desk.settings.fault = None
        app.composer.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: any(m["role"] == "user" for m in session.messages))
        [mine] = [m for m in session.messages if m["role"] == "user"]
        assert [p["type"] for p in mine["parts"]][1:] == ["image", "file"]
        assert pending_names(app) == [] and app.composer.text == ""
