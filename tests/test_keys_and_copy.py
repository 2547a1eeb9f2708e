"""Issue 21: no keystroke lost, selection and copy, search, help: driven as a person would,
through Pilot, against the real app and the real dev server where the app is involved."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Input

from dialogtui.api.models import (
    Block,
    Cell,
    Price,
    Product,
    ProductsPart,
    RichTextPart,
    Span,
    TablePart,
    TextPart,
)
from dialogtui.devserver import DevServer
from dialogtui.ui.clipboard import (
    ENV_CLIPBOARD,
    CopyResult,
    candidate_tools,
    copy_message,
    copy_text,
    osc52,
)
from dialogtui.store import TranscriptStore
from dialogtui.ui.app import DialogApp
from dialogtui.ui.composer import Composer
from dialogtui.ui.forms import RateScreen
from dialogtui.ui.help import HelpScreen, help_text
from dialogtui.ui.history import ConversationPicker, SavedConversationScreen
from dialogtui.ui.recall import InputRecall
from dialogtui.ui.search import SearchBar
from dialogtui.ui.transcript import Transcript

from .test_app import SIZE, make_app, ready, turn_finished, wait_for


class TranscriptApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Transcript()


@pytest.fixture(autouse=True)
def _osc52_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # No system clipboard tool is touched by the tests unless one asks for it.
    monkeypatch.setenv(ENV_CLIPBOARD, "osc52")


def _user_line(transcript: Transcript, entry_id: int) -> int:
    """The screen line of an entry's first content line (below its label)."""
    entry = transcript.document.entry(entry_id)
    assert entry is not None
    return transcript.document.heights.prefix(entry.index) + entry.offsets[2] + 1


async def test_drag_across_two_entries_copies_exactly_that_text() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(60, 20)) as pilot:
        transcript = app.query_one(Transcript)
        first = transcript.add_entry("assistant", [TextPart(text="alpha beta gamma")])
        second = transcript.add_entry("assistant", [TextPart(text="delta epsilon zeta")])
        await pilot.pause()
        assert "alpha beta gamma" in transcript.visible_text()
        y1 = _user_line(transcript, first) - 1
        y2 = _user_line(transcript, second) - 1
        # From "beta" in the first reply to the end of "epsilon" in the second.
        left = transcript.gutter.left
        await pilot.mouse_down(Transcript, offset=(left + 6, y1))
        await pilot.hover(Transcript, offset=(left + 10, y2))
        await pilot.mouse_up(Transcript, offset=(left + 12, y2))
        await pilot.pause()
        selected = app.screen.get_selected_text()
        assert selected is not None
        assert selected.startswith("beta gamma")
        assert selected.endswith("delta epsilon")
        assert selected.splitlines()[0] == "beta gamma"
        assert "Assistant" in selected  # the second entry's label lies between them
        # Drawn as selected, in the screen's selection style.
        style = app.screen.get_component_rich_style("screen--selection", partial=True)
        strips = transcript.render_lines(transcript.region.reset_offset)
        shown = "".join(
            text for strip in strips for text, st, _ in strip if st and st.bgcolor == style.bgcolor
        )
        assert shown.startswith("beta gamma") and "delta epsilon" in shown
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert app.clipboard == selected


async def test_double_click_selects_a_word_and_triple_click_a_block() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(60, 20)) as pilot:
        transcript = app.query_one(Transcript)
        entry = transcript.add_entry(
            "assistant",
            [RichTextPart(blocks=[Block(type="paragraph", spans=[Span(text="one two three")])])],
        )
        await pilot.pause()
        y = _user_line(transcript, entry) - 1
        left = transcript.gutter.left
        await pilot.click(Transcript, offset=(left + 5, y), times=2)
        await pilot.pause()
        assert app.screen.get_selected_text() == "two"
        await pilot.click(Transcript, offset=(left + 5, y), times=3)
        await pilot.pause()
        assert app.screen.get_selected_text() == "one two three"


async def test_selection_survives_streaming_below_it() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(60, 20)) as pilot:
        transcript = app.query_one(Transcript)
        entry = transcript.add_entry("assistant", [TextPart(text="keep this selected")])
        await pilot.pause()
        y = _user_line(transcript, entry) - 1
        left = transcript.gutter.left
        await pilot.click(Transcript, offset=(left + 1, y), times=2)
        await pilot.pause()
        assert app.screen.get_selected_text() == "keep"
        streaming = transcript.add_entry("assistant", state="streaming")
        for number in range(5):
            transcript.set_part(streaming, 0, TextPart(text=f"grows {number} " * 5))
            await pilot.pause()
        assert app.screen.get_selected_text() == "keep"


REPLY_PARTS = [
    RichTextPart(
        blocks=[
            Block(
                type="paragraph",
                spans=[
                    Span(text="Prices are "),
                    Span(type="strike", text="real"),
                    Span(text=" made up, see "),
                    Span(type="link", text="the shop", url="https://shop.example/"),
                ],
            )
        ]
    ),
    TablePart(headers=["Model", "Price"], rows=[["X1", Cell(text="399.00 DKK")]]),
    ProductsPart(
        products=[
            Product(
                title="Kettle",
                price=Price(amount=399.0, currency="DKK"),
                original_price=Price(amount=499, currency="DKK"),
                url="https://shop.example/kettle",
            )
        ]
    ),
]


async def test_copying_a_reply_keeps_its_markdown() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(80, 30)) as pilot:
        transcript = app.query_one(Transcript)
        transcript.add_entry("user", [TextPart(text="what kettles?")])
        transcript.add_entry("assistant", REPLY_PARTS)
        await pilot.pause()
        copy_message(app, transcript, markdown=True)
        copied = app.clipboard
        assert "~~real~~ made up" in copied
        assert "[the shop](<https://shop.example/>)" in copied
        assert "| Model | Price |" in copied and "| X1 | 399.00 DKK |" in copied
        assert (
            "**Kettle** — 399.00 DKK ~~499.00 DKK~~ -20 % <https://shop.example/kettle>" in copied
        )
        # The message cursor picks another message: the question, as typed.
        transcript.move_cursor(-2)
        copy_message(app, transcript, markdown=True)
        assert app.clipboard == "what kettles?"
        copy_message(app, transcript, markdown=False)
        assert app.clipboard == "what kettles?"


async def test_search_finds_a_word_in_history_and_moves_between_matches() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(80, 24)) as pilot:
        transcript = app.query_one(Transcript)
        for number in range(1000):
            word = "needle" if number in (3, 700) else "hay"
            transcript.add_entry("assistant", [TextPart(text=f"message {number} {word}")])
        await pilot.pause()
        assert "needle" not in transcript.visible_text()
        assert transcript.search("NEEDLE") == 2
        await pilot.pause()
        assert "message 700 needle" in transcript.visible_text()  # the newest first
        # Highlighted where drawn: the match's cells carry the current-match style.
        current = transcript.get_component_rich_style("transcript--match-current", partial=True)
        strips = transcript.render_lines(transcript.region.reset_offset)
        marked = [
            text
            for strip in strips
            for text, style, _ in strip
            if style is not None and style.bgcolor == current.bgcolor
        ]
        assert marked == ["needle"]
        transcript.goto_match(-1)
        await pilot.pause()
        assert "message 3 needle" in transcript.visible_text()
        transcript.end_search()
        assert transcript.search_matches == 0


async def test_click_in_transcript_then_typing_and_enter_sends(server: DevServer) -> None:
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.click(Transcript, offset=(5, 2))
        await pilot.pause()
        assert app.screen.focused is app.transcript
        await pilot.press(*"hello there")
        assert app.screen.focused is app.composer
        assert app.composer.text == "hello there"
        await pilot.press("enter")
        await wait_for(pilot, turn_finished(app))
        texts = [app.transcript.entry_text(i) for i in app.transcript.entry_ids]
        assert any("hello there" in text for text in texts if text.startswith("You"))


async def test_up_recalls_earlier_messages_and_escape_cancel_gives_the_text_back(
    server: DevServer,
) -> None:
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        app.composer.focus()
        for text in ("first", "second"):
            app.composer.load_text(text)
            await pilot.press("enter")
            await wait_for(pilot, turn_finished(app))
        assert app.composer.text == ""
        await pilot.press("up")
        assert app.composer.text == "second"
        await pilot.press("up")
        assert app.composer.text == "first"
        await pilot.press("down", "down")
        assert app.composer.text == ""
        app.composer.load_text("slowly !slow")
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: "You said" in app.transcript.entry_text(app.transcript.entry_ids[-1])
        )
        await pilot.press("escape")
        await wait_for(pilot, turn_finished(app))
        assert app.composer.text == "slowly !slow"


def test_recall_is_kept_per_bot_and_never_keeps_a_credential(tmp_path: Path) -> None:
    recall = InputRecall.for_bot(tmp_path, "https://api.example", "bot-1")
    recall.add("hello")
    recall.add("my key is api_key=sk_live_1234567890")
    recall.add("Authorization: Bearer abcdefghijkl")
    again = InputRecall.for_bot(tmp_path, "https://api.example", "bot-1")
    assert again.items == ["hello"]
    other = InputRecall.for_bot(tmp_path, "https://api.example", "bot-2")
    assert other.items == []
    stored = list((tmp_path / "recall").iterdir())
    assert len(stored) == 1 and (stored[0].stat().st_mode & 0o077) == 0


async def test_f1_and_question_mark_show_every_key_from_the_bindings(server: DevServer) -> None:
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        text = help_text(app.screen)
        for binding in [*app.BINDINGS, *type(app.screen).BINDINGS]:
            assert not isinstance(binding, tuple)
            if binding.description:
                assert (binding.tooltip or binding.description) in text, binding
        assert "Ctrl+F" in text and "Find" in text
        assert all(f"  {key}  " in text for key in ("F5", "F8", "F9"))  # attach, live chat
        assert "Paste a path" in text  # the composer's own attach, handled in code
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        app.composer.focus()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)


async def test_new_messages_marker_while_reading_history() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(60, 12)) as pilot:
        transcript = app.query_one(Transcript)
        for number in range(40):
            transcript.add_entry("assistant", [TextPart(text=f"line {number}")])
        await pilot.pause()
        transcript.scroll_to(y=0, animate=False)
        await pilot.pause()
        assert not transcript.follow and not transcript.new_messages_below
        transcript.add_entry("assistant", [TextPart(text="fresh")])
        await pilot.pause()
        assert transcript.new_messages_below
        last_row = transcript.render_line(transcript.scrollable_content_region.height - 1)
        assert "New messages below" in last_row.text
        transcript.focus()
        await pilot.press("end")
        # End glides there, from after the next refresh: wait for it to arrive, not for time.
        await wait_for(pilot, lambda: transcript.scroll_y == transcript.max_scroll_y)
        assert not transcript.new_messages_below
        assert "fresh" in transcript.visible_text()


def test_clipboard_ways() -> None:
    assert candidate_tools({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, "linux") == [
        "wl-copy",
        "xclip",
        "xsel",
    ]
    assert candidate_tools({}, "darwin") == ["pbcopy"]
    assert candidate_tools({ENV_CLIPBOARD: "osc52"}, "linux") == []
    plain, way = osc52("hi", {})
    assert plain == "\x1b]52;c;aGk=\x07" and way == "OSC 52"
    wrapped, way = osc52("hi", {"TMUX": "/tmp/tmux-1/default,1,0"})
    assert wrapped == plain + "\x1bPtmux;\x1b\x1b]52;c;aGk=\x07\x1b\\" and way == "OSC 52 via tmux"
    assert "set-clipboard" in CopyResult(way, 2).notice()
    assert CopyResult("xclip", 1).notice() == "Copied 1 character to the system clipboard (xclip)."


async def test_a_system_tool_gets_the_text_when_reachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real executable on PATH standing for wl-copy: it keeps what it is given.
    out = tmp_path / "clipboard.txt"
    tool = tmp_path / "wl-copy"
    tool.write_text(f"#!/bin/sh\ncat > {out}\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-test")
    monkeypatch.delenv(ENV_CLIPBOARD)
    app = TranscriptApp()
    async with app.run_test() as pilot:
        result = copy_text(app, "zwölf")
        await pilot.pause()
        assert result.way == "wl-copy" and result.characters == 5
        assert out.read_text(encoding="utf-8") == "zwölf"


async def test_ctrl_f_in_the_app_finds_a_product_and_esc_closes(server: DevServer) -> None:
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        app.composer.load_text("show me a table please")
        app.composer.focus()
        await pilot.press("enter")
        await wait_for(pilot, turn_finished(app))
        width = app.transcript.size.width
        await pilot.press("ctrl+f")
        await pilot.press(*"wool")
        await pilot.pause()
        bar = app.screen.query_one(SearchBar)
        # Above the transcript, which keeps its width (its pane lays children side by side).
        assert bar.region.bottom <= app.transcript.region.y
        assert app.transcript.size.width == width
        assert app.transcript.search_matches >= 1
        assert "wool" in app.transcript.visible_text().casefold()
        assert "match" in str(bar.border_subtitle)
        await pilot.press("enter")
        await pilot.press("escape")
        await pilot.pause()
        assert not app.screen.query(SearchBar)
        assert app.transcript.search_matches == 0
        assert app.screen.focused is app.composer


async def test_a_saved_conversation_copies_what_is_on_screen_and_refuses_rating(
    server: DevServer, tmp_path: Path
) -> None:
    store = TranscriptStore.open(tmp_path / "transcripts.sqlite3")
    app = make_app(server, store=store)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        app.composer.focus()
        app.composer.load_text("the saved one")
        await pilot.press("enter")
        await wait_for(pilot, turn_finished(app))
        app.action_saved_conversations()
        await wait_for(pilot, lambda: isinstance(app.screen, ConversationPicker))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SavedConversationScreen))
        await pilot.press("alt+up")  # the saved reply, then the question before it
        await pilot.press("alt+up")
        await pilot.press("f4")
        await pilot.pause()
        assert app.clipboard == "the saved one"
        await pilot.press("f2")
        await pilot.pause()
        assert isinstance(app.screen, SavedConversationScreen)  # no rating dialog
        assert any("read-only" in str(n.message) for n in app._notifications)
    store.close()


async def test_enter_in_the_rating_dialog_sends_the_rating(server: DevServer) -> None:
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("f2")
        assert isinstance(app.screen, RateScreen)
        app.screen.query_one("#feedback", Input).focus()
        await pilot.press("enter")  # no stars yet: it says so and stays
        await pilot.pause()
        assert isinstance(app.screen, RateScreen)
        await pilot.click("#star-4")
        app.screen.query_one("#feedback", Input).focus()
        await pilot.press(*"good", "enter")
        await wait_for(pilot, lambda: server.stats.count("POST /rate") == 1)
        assert not isinstance(app.screen, RateScreen)


def test_prices_read_the_same_on_screen_in_send_and_in_the_export() -> None:
    from dialogtui.commands.send import _part_text
    from dialogtui.plaintext import format_price, product_markdown
    from dialogtui.ui.render import format_price as screen_price

    price = Price(amount=399.0, currency="DKK")
    kettle = Product(title="Kettle", price=price)
    assert screen_price is format_price, "one spelling of a price, owned by plaintext"
    assert format_price(price) == "399.00 DKK"
    assert _part_text(ProductsPart(products=[kettle])) == "* Kettle\n  399.00 DKK"
    assert product_markdown(kettle) == "- **Kettle** — 399.00 DKK"
    as_sent = Price(amount="from 99", currency="DKK")
    assert format_price(as_sent) == "from 99 DKK"


async def test_a_selection_survives_a_resize() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(60, 20)) as pilot:
        transcript = app.query_one(Transcript)
        words = " ".join(f"word{number}" for number in range(30))
        entry = transcript.add_entry("assistant", [TextPart(text=words)])
        await pilot.pause()
        y = _user_line(transcript, entry) - 1
        left = transcript.gutter.left
        # From "word2" on the first line to the end of the second.
        await pilot.mouse_down(Transcript, offset=(left + 12, y))
        await pilot.hover(Transcript, offset=(left + 30, y + 1))
        await pilot.mouse_up(Transcript, offset=(left + 40, y + 1))
        await pilot.pause()
        before = app.screen.get_selected_text()
        assert before is not None and before.startswith("word2 ")
        placed = transcript.text_selection
        await pilot.resize_terminal(40, 20)
        await pilot.pause()
        after = app.screen.get_selected_text()
        assert after is not None
        assert transcript.text_selection != placed  # the same words, wrapped anew
        assert after == before  # wrapped lines are copied as the one line they are


def test_a_validation_error_without_fields_does_not_point_at_fields() -> None:
    from dialogtui.api.errors import ApiHttpError
    from dialogtui.api.models import FieldError

    assert "highlighted" not in ApiHttpError(422, "validation").safe_message
    with_fields = ApiHttpError(422, "validation", params=[FieldError(field="email")])
    assert "highlighted fields" in with_fields.safe_message


async def test_an_unreachable_server_at_start_is_said_once_and_not_called_ready() -> None:
    from dialogtui.target import Target

    from .test_app import FAST_POLICIES

    target = Target("http://127.0.0.1:9", "demo", api_key="dk_test", environment="test")
    app = DialogApp(target, policies=FAST_POLICIES)
    async with app.run_test(size=SIZE) as pilot:
        status = app.main.query_one("#status")
        await wait_for(pilot, lambda: "Not connected" in str(status.render()))
        await pilot.pause(0.3)
        assert "Not connected" in str(status.render())
        shown = [app.transcript.entry_text(i) for i in app.transcript.entry_ids]
        assert len([text for text in shown if "reach" in text]) == 1, shown


async def test_search_follows_a_resize_and_clear_forgets_it() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(80, 24)) as pilot:
        transcript = app.query_one(Transcript)
        words = " ".join(f"w{number}" for number in range(60))
        transcript.add_entry("assistant", [TextPart(text=f"{words} target {words}")])
        await pilot.pause()
        assert transcript.search("target") == 1
        await pilot.resize_terminal(40, 24)
        await pilot.pause()
        entry_index, line, start, end = transcript._search.matches[0]
        entry = transcript.document.entries[entry_index]
        text = "".join(piece for piece, _ in entry.line(line))
        assert text[start:end] == "target"  # found again where the new wrapping put it
        transcript.move_cursor(-1)
        transcript.clear()
        await pilot.pause()
        assert transcript.search_matches == 0 and transcript.cursor_entry is None


async def test_a_focused_transcript_shows_it() -> None:
    class WithComposer(App[None]):
        def compose(self) -> ComposeResult:
            yield Transcript()
            yield Composer()

    app = WithComposer()
    async with app.run_test(size=(60, 16)) as pilot:
        transcript = app.query_one(Transcript)
        app.query_one(Composer).focus()
        await pilot.pause()
        unfocused = transcript.styles.scrollbar_color
        transcript.focus()
        await pilot.pause()
        assert transcript.styles.scrollbar_color != unfocused


async def test_the_theme_is_remembered_for_the_next_start(server: DevServer) -> None:
    from dialogtui.config import load_settings

    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        before = app.theme
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.theme != before
        assert load_settings().theme == app.theme
