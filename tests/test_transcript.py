"""The transcript widget and its renderers: what is shown, never how fast.

Widget tests drive a tiny app holding only a `Transcript` at 80x24 and assert on rendered
text (`visible_text`, `entry_text`, `render_line`, the composed screen). Pure renderer
properties (incremental wrapping equals wrapping at once; the fast ASCII wrapper equals
Rich's; the height index) are checked with hypothesis, without an app.
"""

from __future__ import annotations

import random
import re
from collections.abc import Awaitable, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich._wrap import divide_line
from rich.cells import cell_len
from rich.console import Console
from rich.style import Style
from rich.text import Text
from textual._compositor import ChopsUpdate, CompositorUpdate
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.geometry import Offset, Region
from textual.scrollbar import ScrollBar
from textual.strip import Strip
from textual.widget import Widget

from dialogtui.api.assembler import ReplyAssembler
from dialogtui.api.models import (
    Block,
    Cell,
    Delta,
    ContactFormPart,
    FilePart,
    FormPart,
    HumanAgentPart,
    ImagePart,
    ImageUploadPart,
    ListItem,
    PartDeltaEvent,
    Price,
    Product,
    ProductsPart,
    QuickRepliesPart,
    RichTextPart,
    Span,
    Suggestion,
    SuggestionsPart,
    SupportTicketPart,
    TablePart,
    TextPart,
    UnknownPart,
)
from dialogtui.ui.render import (
    JOIN_HARD,
    Fold,
    Frame,
    Line,
    Palette,
    ParagraphLayout,
    RenderStyles,
    discount_percent,
    divide_ascii,
    divide_cells,
    format_price,
    format_size,
    layout_block,
    line_text,
    render_part,
    safe_link_target,
    wrap_lines,
)
from dialogtui.ui.scrollbar import StripScrollBar
from dialogtui.ui.transcript import HeightIndex, Transcript

from .vterm import VirtualTerminal, on_frames, whole_screen

# Any C0/C1 control character, ESC included: none may reach the screen.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
NASTY = "A\x1b[2J\x1b]52;c;ZXZpbA==\x07B\x9b31m\rC\x00D"


class TranscriptApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Transcript()


async def started(pilot: Pilot[None]) -> Transcript:
    transcript = pilot.app.query_one(Transcript)
    await pilot.pause()
    return transcript


def screen_lines(app: App[None]) -> list[str]:
    """The composed screen, as terminal text."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def widget_strips(transcript: Transcript) -> list[Strip]:
    return [transcript.render_line(y) for y in range(transcript.scrollable_content_region.height)]


def paragraph(*spans: Span) -> Block:
    return Block(type="paragraph", spans=list(spans))


# ---------------------------------------------------------------------------
# What each kind of content looks like


async def test_user_and_assistant_rich_text() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(80, 24)) as pilot:
        transcript = await started(pilot)
        transcript.bot_name = "Dialog Bot"
        user = transcript.add_entry("user", [TextPart(text="Hello\nsecond line")])
        reply = transcript.add_entry(
            "assistant",
            [
                RichTextPart(
                    blocks=[
                        paragraph(
                            Span(text="Plain, "),
                            Span(type="bold", text="bold"),
                            Span(text=", "),
                            Span(type="strike", text="gone"),
                            Span(text=" and a "),
                            Span(type="link", text="guide", url="https://example.com/guide"),
                            Span(text=" or "),
                            Span(
                                type="link", text="https://example.com/", url="https://example.com"
                            ),
                            Span(type="sparkle", text=" (kept)"),
                        ),
                        Block(
                            type="bullet_list",
                            items=[
                                ListItem(spans=[Span(text="first " * 20)]),
                                ListItem(spans=[Span(text="second")]),
                            ],
                        ),
                        Block(type="carousel", spans=[Span(text="never shown")]),
                    ]
                )
            ],
        )
        assert transcript.entry_text(user) == "You\nHello\nsecond line"
        text = transcript.entry_text(reply)
        lines = text.splitlines()
        assert lines[0] == "Dialog Bot"
        assert " ".join(lines[1:3]).startswith(
            "Plain, bold, gone and a guide [https://example.com/guide] or "
        )
        # A link whose text is its URL is not repeated; an unknown span keeps its words.
        assert "https://example.com/ (kept)" in text
        assert "[https://example.com]" not in text
        bullets = [line for line in lines if line.startswith(("• ", "  "))]
        assert bullets[0].startswith("• first first")
        assert bullets[1].startswith("  first")  # hanging indent
        assert "• second" in lines
        assert "never shown" not in text  # unknown block types are skipped
        assert lines[lines.index(bullets[0]) - 1] == ""  # one blank line between blocks

        await pilot.pause()
        strips = widget_strips(transcript)
        styles = {seg.text: seg.style for strip in strips for seg in strip if seg.text.strip()}
        assert styles["bold"] is not None and styles["bold"].bold
        assert styles["gone"] is not None and styles["gone"].strike
        link = styles["guide"]
        assert link is not None and link.link == "https://example.com/guide" and link.underline
        screen = "\n".join(screen_lines(app))
        assert "Dialog Bot" in screen and "You" in screen


async def test_user_entries_have_their_own_background() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(80, 24)) as pilot:
        transcript = await started(pilot)
        transcript.add_entry("user", [TextPart(text="hi")])
        transcript.add_entry("assistant", [TextPart(text="hello")])
        transcript.visible_text()
        await pilot.pause()
        strips = widget_strips(transcript)
        user_bg = (strips[1]._segments[0].style or Style()).bgcolor
        assistant_bg = (strips[4]._segments[0].style or Style()).bgcolor
        assert strips[1].text.strip() == "hi" and strips[4].text.strip() == "hello"
        assert user_bg is not None and assistant_bg is not None and user_bg != assistant_bg
        # The band spans the whole line, padding included.
        assert {(seg.style or Style()).bgcolor for seg in strips[1]} == {user_bg}


async def test_products_prices_and_discount() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(80, 24)) as pilot:
        transcript = await started(pilot)
        entry = transcript.add_entry(
            "assistant",
            [
                ProductsPart(
                    products=[
                        Product(
                            title="Blue jacket",
                            description="Warm. " * 40,
                            price=Price(amount=199, currency="DKK"),
                            original_price=Price(amount=249.0, currency="DKK"),
                            url="https://shop.example/p/1",
                        ),
                        Product(title="Scarf", price=Price(amount="fra 99,-", currency="")),
                    ]
                )
            ],
        )
        text = transcript.entry_text(entry)
        assert "199.00 DKK  249.00 DKK  -20 %" in text
        assert "fra 99,-" in text
        assert "https://shop.example/p/1" in text
        assert text.count("╭") == 2 and text.count("╰") == 2
        description = [line for line in text.splitlines() if "Warm." in line]
        assert len(description) == 2 and description[-1].rstrip(" │").endswith("…")
        await pilot.pause()
        styles = {
            seg.text: seg.style or Style() for strip in widget_strips(transcript) for seg in strip
        }
        assert styles["249.00 DKK"].strike


def test_price_rules() -> None:
    assert format_price(Price(amount=199, currency="DKK")) == "199.00 DKK"
    assert format_price(Price(amount=12.5, currency="EUR")) == "12.50 EUR"
    assert format_price(Price(amount="1.299,-", currency="kr.")) == "1.299,- kr."
    assert format_price(Price(amount="\x1b[31m9", currency="")) == "␛[31m9"
    assert discount_percent(Price(160, "DKK"), Price(200, "DKK")) == 20
    assert discount_percent(Price(200, "DKK"), Price(160, "DKK")) is None
    assert discount_percent(Price(100, "DKK"), Price(200, "EUR")) is None
    assert discount_percent(Price("99", "DKK"), Price(200, "DKK")) is None
    assert format_size(999) == "999 B" and format_size(123_456) == "123.5 KB"
    assert format_size(5_300_000) == "5.3 MB" and format_size(None) == ""


async def test_table_with_caption_and_alignment() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(80, 24)) as pilot:
        transcript = await started(pilot)
        entry = transcript.add_entry(
            "assistant",
            [
                TablePart(
                    headers=["Size", Cell(blocks=[paragraph(Span(type="bold", text="Chest"))])],
                    alignments=["left", "right"],
                    caption="Size chart [bold]not markup[/bold]",
                    rows=[
                        [Cell(text="M"), Cell(blocks=[paragraph(Span(text="100"))])],
                        [Cell(text="XXL"), Cell(text="7")],
                        [Cell(text="only one cell")],
                    ],
                )
            ],
        )
        lines = transcript.entry_text(entry).splitlines()
        header = next(line for line in lines if "Size" in line)
        assert "Chest" in header
        row = next(line for line in lines if "XXL" in line)
        chest_column_end = header.index("Chest") + len("Chest")
        assert row.index("7") == chest_column_end - 1  # right-aligned
        assert "only one cell" in "\n".join(lines)
        assert "Size chart [bold]not markup[/bold]" in lines


async def test_attachments_choices_forms_and_placeholders() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(80, 24)) as pilot:
        transcript = await started(pilot)
        entry = transcript.add_entry(
            "assistant",
            [
                ImagePart(
                    url="https://cdn.example/a.png",
                    mime_type="image/png",
                    size_bytes=123_456,
                    caption="A map",
                ),
                FilePart(
                    url="https://cdn.example/b.pdf",
                    mime_type="application/pdf",
                    size_bytes=1200,
                    filename="terms.pdf",
                ),
                SuggestionsPart(
                    suggestions=[Suggestion(title="Track my order", prompt_text="Where is it?")]
                ),
                QuickRepliesPart(replies=["Yes", "No"]),
                ContactFormPart(),
                FormPart(form_id="f1"),
                SupportTicketPart(),
                HumanAgentPart(),
                ImageUploadPart(),
                UnknownPart(type="carousel"),
            ],
        )
        text = transcript.entry_text(entry)
        assert "📷 A map (image/png, 123.5 KB)" in text
        assert "   https://cdn.example/a.png" in text
        assert "📎 terms.pdf (application/pdf, 1.2 KB)" in text
        assert "→ Track my order" in text and "→ Yes" in text and "→ No" in text
        assert "📝 Contact form" in text
        assert "📝 Form: f1" in text, "a form without a name goes by its id"
        assert "📝 Support ticket form (attachments up to 2 MiB)" in text
        assert "👤 The bot offers to hand over to a human agent." in text
        assert "📤 The bot asks for a photo: PNG, JPEG or WebP, up to 5 MiB" in text
        assert "[unsupported content: carousel]" in text


# ---------------------------------------------------------------------------
# Safety


async def test_control_characters_are_inert_everywhere() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(80, 40)) as pilot:
        transcript = await started(pilot)
        transcript.bot_name = f"Bot{NASTY}"
        transcript.add_entry("user", [TextPart(text=NASTY)])
        entry = transcript.add_entry(
            "assistant",
            [
                RichTextPart(
                    blocks=[
                        paragraph(
                            Span(text=NASTY),
                            Span(type="bold", text=NASTY),
                            Span(type="link", text=NASTY, url=f"https://x.example/{NASTY}"),
                        ),
                        Block(type="bullet_list", items=[ListItem(spans=[Span(text=NASTY)])]),
                    ]
                ),
                ProductsPart(
                    products=[
                        Product(
                            title=NASTY, description=NASTY, url=NASTY, price=Price(NASTY, NASTY)
                        )
                    ]
                ),
                TablePart(headers=[NASTY], caption=NASTY, rows=[[Cell(text=NASTY)]]),
                FilePart(url=NASTY, mime_type=NASTY, filename=NASTY),
                QuickRepliesPart(replies=[NASTY]),
                UnknownPart(type=NASTY),
            ],
        )
        transcript.set_footer(entry, NASTY)
        transcript.add_notice(NASTY, variant="error")
        error = transcript.add_entry("assistant", state="error")
        transcript.set_state(error, "error", NASTY)
        transcript.visible_text()
        transcript.scroll_home(animate=False)
        await pilot.pause()

        seen = ""
        for offset in range(0, transcript.virtual_size.height, 30):
            transcript.scroll_to(y=offset, animate=False)
            await pilot.pause()
            for strip in widget_strips(transcript):
                for segment in strip:
                    assert not CONTROL.search(segment.text), repr(segment.text)
                    link = segment.style.link if segment.style else None
                    assert link is None or not CONTROL.search(link)
            for line in screen_lines(app):
                assert not CONTROL.search(line), repr(line)
            seen += transcript.visible_text()
        assert "␛" in seen and "␇" in seen and "␀" in seen and "␍" in seen
        assert "\x1b" not in transcript.entry_text(entry)


def test_only_plain_http_links_become_hyperlinks() -> None:
    assert safe_link_target("https://example.com/a?b=c") == "https://example.com/a?b=c"
    assert safe_link_target("HTTP://example.com") == "HTTP://example.com"
    for url in (
        "javascript:alert(1)",
        "file:///etc/passwd",
        "https://example.com/\x1b]8;;evil\x1b\\",
        "https://exa mple.com",
        "https://example.com/\x9b",
        "https://",
        "",
        None,
    ):
        assert safe_link_target(url) is None, url
    console = Console(width=80)
    frame = Frame(40)
    part = RichTextPart(
        blocks=[paragraph(Span(type="link", text="click", url="javascript:alert(1)"))]
    )
    lines = render_part(part, frame, RenderStyles(), console)
    assert line_text(lines[0]).rstrip() == "click [javascript:alert(1)]"
    assert all(
        seg.style is None or seg.style.link is None for seg in frame.palette.segments(lines[0])
    )


# ---------------------------------------------------------------------------
# Streaming, following, states


async def test_follow_keeps_the_end_visible_until_the_user_scrolls_up() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(80, 24)) as pilot:
        transcript = await started(pilot)
        for number in range(10):
            transcript.add_entry("user", [TextPart(text=f"question {number}")])
        entry = transcript.add_entry("assistant", state="waiting")
        block = paragraph(Span(text=""))
        for number in range(60):
            block.spans[0].text += f"word{number:02d} " * 5
            transcript.set_block(entry, 0, 0, block)
            if number % 7 == 0:
                await pilot.pause()
                assert transcript.follow
                assert f"word{number:02d}" in transcript.visible_text().splitlines()[-1]
        assert "word59" in transcript.visible_text().splitlines()[-1]

        transcript.scroll_up(animate=False)
        await pilot.pause()
        assert not transcript.follow
        before = transcript.visible_text()
        block.spans[0].text += "tail " * 50
        transcript.set_block(entry, 0, 0, block)
        transcript.add_entry("user", [TextPart(text="another question")])
        await pilot.pause()
        assert transcript.visible_text() == before  # the user's place is kept

        # Now, not after the next refresh (Textual's default for `scroll_end`), which a bare
        # pause does not wait for on a busy machine.
        transcript.scroll_end(animate=False, immediate=True)
        await pilot.pause()
        assert transcript.follow
        assert transcript.visible_text().splitlines()[-1].strip() == "another question"
        transcript.add_notice("back at the end")
        await pilot.pause()
        assert "back at the end" in transcript.visible_text().splitlines()[-1]


async def test_a_terminal_applying_each_frame_matches_the_transcript_drawn_whole() -> None:
    """Frames repaint only the lines that changed: a paragraph's last lines as it grows, and,
    when the content shrinks on a screen it does not fill, the lines it left. A terminal that
    applies each frame's update must then hold what the screen drawn whole shows: growing
    in place (scrolled up, so nothing scrolls), a state marker that goes, a clear."""
    app = TranscriptApp()
    async with app.run_test(size=(60, 20)) as pilot:
        transcript = await started(pilot)
        terminal = VirtualTerminal(60, 20)
        terminal.load(app.screen._compositor.render_strips())
        frames: list[CompositorUpdate] = []

        def applied(update: CompositorUpdate) -> None:
            terminal.apply(update, app.console)
            frames.append(update)

        stop = on_frames(app, applied)

        async def settled(label: str) -> None:
            await pilot.pause()
            await pilot.pause()
            assert terminal.text() == whole_screen(app).text(), label
            assert terminal.cells == whole_screen(app).cells, label

        transcript.add_entry("user", [TextPart(text="short question")])
        entry = transcript.add_entry("assistant", state="streaming")
        block = paragraph(Span(text=""))
        for number in range(12):  # grows in place: the screen is far from full
            block.spans[0].text += f"w{number} " * 3
            transcript.set_block(entry, 0, 0, block)
            await settled(f"growth {number}")
        partial = sum(isinstance(frame, ChopsUpdate) for frame in frames)
        transcript.set_state(entry, "done")  # the reply ends (losing lines: see the test below)
        await settled("done")
        transcript.clear()
        await settled("cleared")
        transcript.add_entry("user", [TextPart(text="one line")])
        await settled("after the clear")
        stop()
    assert partial >= 10


async def _frames_into_a_terminal(
    pilot: Pilot[None], app: App[None]
) -> Callable[[str], Awaitable[None]]:
    """Every frame from now on into a terminal; `settled(label)` waits for the frame and
    checks that the terminal holds the screen drawn whole."""
    width, height = app.size
    terminal = VirtualTerminal(width, height)
    terminal.load(app.screen._compositor.render_strips())
    on_frames(app, lambda update: terminal.apply(update, app.console))

    async def settled(label: str) -> None:
        await pilot.pause()
        await pilot.pause()
        shown, whole = terminal.text(), whole_screen(app).text()
        stale = [
            (y, shown[y].rstrip(), whole[y].rstrip()) for y in range(height) if shown[y] != whole[y]
        ]
        assert not stale, (label, stale[:3])
        assert terminal.cells == whole_screen(app).cells, label

    return settled


@pytest.mark.parametrize(
    "change",
    [
        "footer removed",
        "waiting, then done with nothing",
        "last block emptied",
        "footer removed above a notice",
    ],
)
async def test_an_entry_that_only_loses_lines_repaints_them(change: str) -> None:
    """Lines an entry loses at its end (a footer or a state marker gone, its last block now
    empty) are repainted, though nothing before them changed: on a screen the content does not
    fill, no scroll repaints them, and the entries below move up."""
    app = TranscriptApp()
    async with app.run_test(size=(60, 20)) as pilot:
        transcript = await started(pilot)
        settled = await _frames_into_a_terminal(pilot, app)
        transcript.add_entry("user", [TextPart(text="a question")])
        if change == "waiting, then done with nothing":
            entry = transcript.add_entry("assistant", state="waiting")
            await settled("waiting")
            transcript.set_state(entry, "done")
            await settled(change)
            return
        entry = transcript.add_entry(
            "assistant", [RichTextPart(blocks=[paragraph(Span(text="words " * 25))])]
        )
        transcript.set_footer(entry, "1.2 s · 40 events")
        if change == "footer removed above a notice":
            transcript.add_notice("a notice below")
        await settled("before")
        if change == "last block emptied":
            transcript.set_footer(entry, None)
            await settled("footer gone")
            transcript.set_block(entry, 0, 0, Block(type="not_a_known_block"))
        else:
            transcript.set_footer(entry, None)
        await settled(change)


async def test_a_block_that_gets_or_loses_all_its_lines_repaints_the_blank_above_them() -> None:
    """A block gets the blank line between blocks with its first line and loses it with its
    last: that line is repainted too (the footer below moves onto it, or off it)."""
    app = TranscriptApp()
    async with app.run_test(size=(60, 20)) as pilot:
        transcript = await started(pilot)
        settled = await _frames_into_a_terminal(pilot, app)
        entry = transcript.add_entry(
            "assistant", [RichTextPart(blocks=[paragraph(Span(text="first")), paragraph()])]
        )
        transcript.set_footer(entry, "1.2 s · 40 events")
        await settled("before")
        transcript.set_block(entry, 0, 1, paragraph(Span(text="second")))
        await settled("second block")
        transcript.set_block(entry, 0, 1, Block(type="not_a_known_block"))
        await settled("second block gone")


async def test_a_list_item_replaced_by_a_longer_one_is_repainted_whole() -> None:
    """A list item whose text is not an append of what was shown is laid out anew: all its
    lines are repainted, not its last."""
    app = TranscriptApp()
    async with app.run_test(size=(60, 20)) as pilot:
        transcript = await started(pilot)
        settled = await _frames_into_a_terminal(pilot, app)

        def items(*texts: str) -> Block:
            return Block(
                type="bullet_list", items=[ListItem(spans=[Span(text=text)]) for text in texts]
            )

        entry = transcript.add_entry(
            "assistant", [RichTextPart(blocks=[items("alpha", "beta")])], state="streaming"
        )
        await settled("before")
        transcript.set_block(entry, 0, 0, items("alpha", "gamma " * 20))
        await settled("replaced")


async def test_states_show_their_markers() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(80, 24)) as pilot:
        transcript = await started(pilot)
        entry = transcript.add_entry("assistant", state="waiting")
        assert "Thinking…" in transcript.entry_text(entry)
        transcript.set_state(entry, "streaming")
        assert "Thinking…" in transcript.entry_text(entry)
        transcript.set_block(entry, 0, 0, paragraph(Span(text="Partial answer")))
        assert "Thinking" not in transcript.entry_text(entry)
        transcript.set_state(entry, "incomplete")
        assert transcript.entry_text(entry).splitlines()[-1] == "⚠ reply incomplete"
        assert "Partial answer" in transcript.entry_text(entry)
        transcript.set_state(entry, "cancelled")
        assert transcript.entry_text(entry).splitlines()[-1] == "✕ reply cancelled"
        transcript.set_state(entry, "error", "The bot could not answer. Try again.")
        assert (
            transcript.entry_text(entry).splitlines()[-1]
            == "✖ The bot could not answer. Try again."
        )
        transcript.set_state(entry, "done")
        transcript.set_footer(entry, "1.2 s · 5,000 events · 100 KB")
        assert transcript.entry_text(entry).splitlines()[-2:] == [
            "Partial answer",
            "1.2 s · 5,000 events · 100 KB",
        ]
        transcript.set_footer(entry, None)
        assert transcript.entry_text(entry).splitlines() == ["Assistant", "Partial answer"]

        notice = transcript.add_notice("Connection lost", variant="warning")
        assert transcript.entry_text(notice) == "⚠ Connection lost"
        assert "⚠ Connection lost" in transcript.visible_text()


async def test_set_block_growth_matches_the_final_block_rendered_at_once() -> None:
    rng = random.Random(4)
    words = ["lorem", "ipsum", "dolor", "sit", "amet,", "x" * 90, "\n", "界面", "é"]
    spans: list[Span] = []
    app = TranscriptApp()
    async with app.run_test(size=(80, 24)) as pilot:
        transcript = await started(pilot)
        streamed = transcript.add_entry("assistant", state="streaming")
        block = paragraph()
        for _number in range(400):
            roll = rng.random()
            if not block.spans or roll < 0.05:
                kind = rng.choice(["text", "bold", "strike", "link"])
                block.spans.append(
                    Span(type=kind, text="", url="https://e.example" if kind == "link" else None)
                )
            else:
                block.spans[-1].text += " " * rng.randint(0, 2) + rng.choice(words)
            transcript.set_block(streamed, 0, 0, block)
            if rng.random() < 0.2:
                await pilot.pause()
        spans = [Span(type=s.type, text=s.text, url=s.url) for s in block.spans]
        whole = transcript.add_entry(
            "assistant", [RichTextPart(blocks=[paragraph(*spans)])], state="streaming"
        )
        assert transcript.entry_text(streamed) == transcript.entry_text(whole)
        assert (
            transcript._entries[streamed].slots[0].chunks[0].lines
            == transcript._entries[whole].slots[0].chunks[0].lines
        )


async def test_a_followed_block_is_materialized_once_per_layout_and_followed_until_done() -> None:
    assembler = ReplyAssembler()
    fetched: list[tuple[int, int, int]] = []  # (part, block, id of the block returned)
    source = Fetching(assembler, fetched)

    def feed(event: PartDeltaEvent, follow: bool = True) -> None:
        change = assembler.feed(event)
        assert change is not None
        if change.block_index is not None and not change.structural:
            if follow:
                transcript.stream_block(entry, change.part_index, change.block_index, source)
        else:
            transcript.set_part(entry, change.part_index, assembler.part(change.part_index))

    def materialized() -> set[tuple[int, int, int]]:
        return set(fetched)

    app = TranscriptApp()
    async with app.run_test(size=(80, 24)) as pilot:
        transcript = await started(pilot)
        entry = transcript.add_entry("assistant", state="streaming")
        feed(_delta("start_part"))
        feed(_delta("start_block", block_index=0, block_type="paragraph"))
        for number in range(500):
            feed(_delta("append_text", block_index=0, text=f"w{number} "))
        feed(_delta("start_block", block_index=1, block_type="paragraph"))
        feed(_delta("append_text", block_index=1, text="second"))
        assert fetched == [], "nothing is materialized before the layout"
        shown = transcript.entry_text(entry)
        assert [key[:2] for key in sorted(materialized())] == [(0, 0), (0, 1)], (
            "one block each, for 503 calls"
        )
        assert assembler.joined_chunks == 500, "block 0's chunks joined once"
        laid_out_at_once = transcript.add_entry("assistant", [assembler.part(0)])
        assert shown == transcript.entry_text(laid_out_at_once)
        assert "w499" in shown and shown.endswith("second")

        # Named once, a block is followed: growth shows at the next frames with no call at all.
        for number in range(50):
            feed(_delta("append_text", block_index=1, text=f" g{number}"), follow=False)
        await pilot.pause(0.1)
        laid_out = transcript._entries[entry]  # as laid out by the frames, without a flush now
        assert any(
            line_text(laid_out.line(y)).rstrip().endswith("g49") for y in range(laid_out.height)
        )
        assert len({key for key in materialized() if key[:2] == (0, 1)}) == 2, (
            "one more, for 50 deltas"
        )

        # Done: one last fetch, then the block is no longer followed.
        feed(_delta("append_text", block_index=1, text=" last"), follow=False)
        transcript.set_state(entry, "done")
        assert transcript.entry_text(entry).endswith("g49 last")
        assert not transcript._live and not transcript._entries[entry].streaming
        fetched.clear()
        feed(_delta("append_text", block_index=1, text=" late"), follow=False)
        await pilot.pause(0.1)
        assert fetched == [] and not transcript.entry_text(entry).endswith("late")

        # A part replaced meanwhile: its pending growth is dropped, not applied over it.
        transcript.set_state(entry, "streaming")
        transcript.stream_block(entry, 0, 1, source)
        feed(_delta("append_text", block_index=1, text=" more"), follow=False)
        transcript.set_part(entry, 0, TextPart(text="replaced"))
        fetched.clear()
        assert transcript.entry_text(entry) == "Assistant\nreplaced"
        assert fetched == [] and not transcript._live

        # A stale source (the part is no longer rich text, or the block is gone) is dropped
        # before anything changes.
        transcript.stream_block(entry, 0, 0, source)
        transcript.stream_block(entry, 0, 9, Fetching(ReplyAssembler(), fetched))
        await pilot.pause()
        assert transcript.entry_text(entry) == "Assistant\nreplaced"
        assert fetched == [] and not transcript._live


async def test_blocks_added_while_streaming_are_placed_as_a_full_assembly_places_them() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(60, 20)) as pilot:
        transcript = await started(pilot)
        entry = transcript.add_entry("assistant", state="streaming")
        transcript.set_footer(entry, "figures")
        for index in range(12):
            block = paragraph(Span(text=f"block {index} " * (index % 4 + 1)))
            transcript.set_block(entry, 0, index, block)
            if index % 3:
                transcript.entry_text(entry)  # laid out now: the next blocks are appended
        shown = transcript.entry_text(entry)
        laid_out = transcript._entries[entry]
        placed = (
            [chunk.pos for chunk in laid_out.chunks],
            list(laid_out.offsets),
            list(laid_out.seen),
            [chunk.margin for chunk in laid_out.chunks],
            laid_out.height,
        )
        laid_out.assemble()
        assert placed == (
            [chunk.pos for chunk in laid_out.chunks],
            laid_out.offsets,
            laid_out.seen,
            [chunk.margin for chunk in laid_out.chunks],
            laid_out.height,
        )
        assert shown.endswith("figures") and "block 11" in shown
        assert [c.pos for c in laid_out.chunks] == list(range(len(laid_out.chunks)))


class Fetching:
    """A block source that notes each block it hands out: (part, block, id of the block)."""

    def __init__(self, assembler: ReplyAssembler, fetched: list[tuple[int, int, int]]) -> None:
        self._assembler = assembler
        self._fetched = fetched

    def block_version(self, part_index: int, block_index: int) -> int:
        return self._assembler.block_version(part_index, block_index)

    def block(self, part_index: int, block_index: int) -> Block:
        block = self._assembler.block(part_index, block_index)
        self._fetched.append((part_index, block_index, id(block)))
        return block


def _laid_out(transcript: Transcript, entry_id: int) -> str:
    """The entry's lines as the frames laid them out (no flush forced)."""
    entry = transcript._entries[entry_id]
    return "\n".join(line_text(entry.line(y)).rstrip() for y in range(entry.height))


def _delta(action: str, **fields: object) -> PartDeltaEvent:
    return PartDeltaEvent(part_id="r", delta=Delta(action=action, part_type="rich_text", **fields))


async def test_a_followed_block_keeps_reaching_the_frames_and_entry_text() -> None:
    assembler = ReplyAssembler()
    app = TranscriptApp()
    async with app.run_test(size=(80, 24)) as pilot:
        transcript = await started(pilot)
        entry = transcript.add_entry("assistant", state="streaming")
        assembler.feed(_delta("start_part"))
        transcript.set_part(entry, 0, assembler.part(0))
        assembler.feed(_delta("start_block", block_index=0, block_type="paragraph"))
        transcript.stream_block(entry, 0, 0, assembler)
        for number in range(3):
            assembler.feed(_delta("append_text", block_index=0, text=f" g{number}"))
            await pilot.pause(0.1)
            assert _laid_out(transcript, entry).endswith(f"g{number}"), _laid_out(transcript, entry)
        # `entry_text` takes growth the frames have not seen yet, and the frames keep it.
        assembler.feed(_delta("append_text", block_index=0, text=" now"))
        assert transcript.entry_text(entry).endswith("g2 now")
        await pilot.pause(0.1)
        assert _laid_out(transcript, entry).endswith("g2 now")
        # A part replaced by another rich text part is not followed any more.
        calls: list[tuple[int, int, int]] = []
        transcript.stream_block(entry, 0, 0, Fetching(assembler, calls))
        transcript.entry_text(entry)
        transcript.set_part(entry, 0, RichTextPart(blocks=[paragraph(Span(text="whole"))]))
        calls.clear()
        assembler.feed(_delta("append_text", block_index=0, text=" late"))
        await pilot.pause(0.1)
        assert calls == [] and transcript.entry_text(entry) == "Assistant\nwhole"


async def test_a_block_added_to_an_earlier_part_goes_in_that_part() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(60, 20)) as pilot:
        transcript = await started(pilot)
        entry = transcript.add_entry(
            "assistant",
            [RichTextPart(blocks=[paragraph(Span(text="first"))]), TextPart(text="second part")],
            state="streaming",
        )
        transcript.entry_text(entry)  # laid out: the next block is an update
        transcript.set_block(entry, 0, 1, paragraph(Span(text="added")))
        shown = transcript.entry_text(entry)
        assert shown.index("added") < shown.index("second part"), shown


async def test_set_parts_with_equal_content_keeps_the_layout() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(80, 24)) as pilot:
        transcript = await started(pilot)
        entry = transcript.add_entry("assistant", state="streaming")
        text = "a fairly long paragraph " * 30
        transcript.set_block(entry, 0, 0, paragraph(Span(text=text)))
        transcript.set_block(entry, 0, 1, paragraph(Span(text="second")))
        transcript.entry_text(entry)
        first_lines = transcript._entries[entry].slots[0].chunks[0].lines
        transcript.set_parts(
            entry,
            [RichTextPart(blocks=[paragraph(Span(text=text)), paragraph(Span(text="second!"))])],
        )
        shown = transcript.entry_text(entry)
        assert transcript._entries[entry].slots[0].chunks[0].lines is first_lines  # not re-wrapped
        assert shown.endswith("second!")
        transcript.set_parts(entry, [TextPart(text="replaced")])
        assert transcript.entry_text(entry) == "Assistant\nreplaced"


async def test_structural_api_edges() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(80, 24)) as pilot:
        transcript = await started(pilot)
        entry = transcript.add_entry("assistant")
        transcript.set_part(entry, 0, QuickRepliesPart(replies=["one"]))
        transcript.set_block(entry, 1, 0, paragraph(Span(text="rich after")))
        transcript.set_block(entry, 0, 0, paragraph(Span(text="replaces the replies")))
        assert transcript.entry_text(entry) == "Assistant\nreplaces the replies\n\nrich after"
        with pytest.raises(IndexError):
            transcript.set_block(entry, 0, 5, paragraph())
        with pytest.raises(IndexError):
            transcript.set_part(entry, 7, TextPart(text="x"))
        transcript.set_state(999, "done")  # unknown ids are ignored
        with pytest.raises(KeyError):
            transcript.entry_text(999)
        assert transcript.entry_count == 1
        transcript.clear()
        assert transcript.entry_count == 0
        transcript.set_block(entry, 0, 0, paragraph(Span(text="late delta")))  # ignored
        await pilot.pause()
        assert transcript.visible_text() == ""
        fresh = transcript.add_entry("user", [TextPart(text="new conversation")])
        assert fresh != entry, "ids are not reused after clear"
        transcript.set_state(entry, "error", note="late error")  # still ignored
        assert transcript.visible_text() == "You\nnew conversation"


# ---------------------------------------------------------------------------
# Size: resize, long conversations


async def test_resize_rewraps() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(80, 24)) as pilot:
        transcript = await started(pilot)
        words = [f"w{number}" for number in range(120)]
        entry = transcript.add_entry("assistant", [TextPart(text=" ".join(words))])
        wide = transcript.entry_text(entry).splitlines()[1:]
        await pilot.resize_terminal(40, 24)
        await pilot.pause()
        narrow = transcript.entry_text(entry).splitlines()[1:]
        assert len(narrow) > len(wide)
        width = transcript.scrollable_content_region.width
        assert all(cell_len(line) <= width for line in narrow)
        assert " ".join(narrow).split() == words == " ".join(wide).split()
        assert transcript.visible_text().splitlines()[-1] == narrow[-1]


async def test_a_thousand_entries_scroll_top_and_bottom() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(80, 24)) as pilot:
        transcript = await started(pilot)
        for number in range(1000):
            if number % 2:
                transcript.add_entry(
                    "assistant",
                    [RichTextPart(blocks=[paragraph(Span(text=f"answer {number:04d} " * 9))])],
                )
            else:
                transcript.add_entry("user", [TextPart(text=f"question {number:04d}")])
        assert transcript.entry_count == 1000
        await pilot.pause()
        assert transcript.visible_text().splitlines()[-1].startswith("answer 0999")

        transcript.scroll_home(animate=False)
        await pilot.pause()
        top = transcript.visible_text().splitlines()
        assert top[:2] == ["You", "question 0000"]
        assert not transcript.follow

        await pilot.resize_terminal(50, 24)  # a width change while scrolled to the top
        await pilot.pause()
        assert transcript.visible_text().splitlines()[:2] == ["You", "question 0000"]

        transcript.scroll_end(animate=False, immediate=True)  # now, not after a refresh
        await pilot.pause()
        assert transcript.follow
        assert transcript.visible_text().splitlines()[-1].startswith("answer 0999")

        # Once everything is laid out, the scrollable height is exact.
        for entry in transcript._entries:
            if entry.gen != transcript._gen:
                transcript._build(entry)
        transcript.visible_text()
        assert transcript.virtual_size.height == sum(entry.height for entry in transcript._entries)


async def test_lines_drawn_with_their_padding_match_textuals_line_renderer() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(70, 20)) as pilot:
        transcript = await started(pilot)
        for number in range(30):
            transcript.add_entry("user", [TextPart(text=f"question {number} " * 5)])
            transcript.add_entry(
                "assistant",
                [
                    RichTextPart(
                        blocks=[
                            paragraph(
                                Span(text=f"answer {number} "),
                                Span(type="bold", text="bold "),
                                Span(type="link", text="a link", url="https://example.com/"),
                            )
                        ]
                    )
                ],
            )
            transcript.add_notice(f"notice {number}", variant="warning")
        await pilot.pause()

        def stock(crop: Region) -> list[Strip]:
            transcript._styles_cache.clear()
            return Widget.render_lines(transcript, crop)

        def painted(strips: list[Strip]) -> list[list[tuple[str, Style | None, str | None]]]:
            # What reaches the terminal: the stock path also carries the selection offsets
            # `render_line` adds for Textual's hit test, which paint nothing.
            return [
                [
                    (text, style.clear_meta_and_links() if style else None, style and style.link)
                    for text, style, _ in strip
                ]
                for strip in strips
            ]

        def assert_same_as_stock() -> None:
            for crop in (Region(0, 0, *transcript.size), Region(2, 3, 11, 6)):
                assert painted(transcript.render_lines(crop)) == painted(stock(crop))

        assert transcript._plain_box() is not None
        for y in (0, 5, transcript.max_scroll_y):
            transcript.scroll_to(y=y, animate=False)
            await pilot.pause()
            assert_same_as_stock()
        app.theme = "textual-light"
        await pilot.pause()
        assert_same_as_stock()
        await pilot.resize_terminal(50, 16)
        await pilot.pause()
        assert_same_as_stock()

        # A box with more than padding is drawn by Textual.
        transcript.styles.border = ("round", "red")
        await pilot.pause()
        assert transcript._plain_box() is None
        assert_same_as_stock()


async def test_scrollbar_draws_the_same_cells_as_textuals_and_still_drags() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(60, 20)) as pilot:
        transcript = await started(pilot)
        for number in range(60):
            transcript.add_entry("assistant", [TextPart(text=f"line {number}")])
        await pilot.pause()
        bar = transcript.vertical_scrollbar
        assert isinstance(bar, StripScrollBar)

        def stock(crop: Region) -> list[Strip]:
            bar._styles_cache.clear()
            bar.refresh()
            return ScrollBar.render_lines(bar, crop)

        full = Region(0, 0, *bar.size)
        checked = 0
        for y in (0, 7, transcript.max_scroll_y // 2, transcript.max_scroll_y):
            for hovered in (False, True):
                transcript.scroll_to(y=y, animate=False)
                bar.mouse_over = hovered
                await pilot.pause()
                for crop in (full, Region(0, 3, 1, 5)):
                    drawn = bar.render_lines(crop)
                    assert [list(strip) for strip in drawn] == [
                        list(strip) for strip in stock(crop)
                    ]
                    checked += 1
        assert checked == 16
        bar.mouse_over = False

        # The thumb's segments still carry Textual's mouse actions: dragging it scrolls.
        transcript.scroll_end(animate=False, immediate=True)  # now, not after a refresh
        await pilot.pause()
        bottom = transcript.scroll_offset.y
        assert bottom == transcript.max_scroll_y > 20
        thumb = next(
            y
            for y, strip in enumerate(bar.render_lines(full))
            if any(
                segment.style and segment.style.meta.get("@mouse.down") == "grab"
                for segment in strip
            )
        )
        offset = bar.region.offset + Offset(0, thumb)
        top = Offset(offset.x, bar.region.y)
        await pilot.mouse_down(offset=offset)
        await pilot.hover(offset=top)
        await pilot.mouse_up(offset=top)
        await pilot.pause()
        assert transcript.scroll_offset.y < bottom // 4  # the thumb is grabbed at its middle


async def test_theme_change_restyles_laid_out_lines() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(80, 24)) as pilot:
        transcript = await started(pilot)
        transcript.add_entry("user", [TextPart(text="hi")])
        transcript.visible_text()
        await pilot.pause()
        dark = (transcript.render_line(1)._segments[0].style or Style()).bgcolor
        app.theme = "textual-light"
        await pilot.pause()
        transcript.visible_text()
        light = (transcript.render_line(1)._segments[0].style or Style()).bgcolor
        assert transcript.render_line(1).text.strip() == "hi"
        assert dark is not None and light is not None and dark != light


async def test_bot_name_relabels_entries() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(80, 24)) as pilot:
        transcript = await started(pilot)
        entry = transcript.add_entry("assistant", [TextPart(text="hi")])
        assert transcript.entry_text(entry).startswith("Assistant\n")
        transcript.bot_name = "Shop Helper"
        await pilot.pause()
        assert transcript.entry_text(entry).startswith("Shop Helper\n")


# ---------------------------------------------------------------------------
# Pure properties

CONSOLE = Console(width=200, color_system="truecolor")
STYLES = RenderStyles()
SPAN_KINDS = st.sampled_from(["text", "text", "bold", "strike", "link", "unknown"])
PIECE = st.sampled_from([*"ab cd  efg\n\t\r\x1b-界é", "xxxxxxxxxxxxxxxxxx", "\r\n", "     "])
CHUNK = st.lists(PIECE, max_size=8).map("".join)


@st.composite
def growth(draw: st.DrawFn) -> tuple[list[list[Span]], int]:
    """Snapshots of one paragraph as it streams: text appended to the last span, or a new span."""
    spans: list[Span] = []
    snapshots: list[list[Span]] = []
    for _ in range(draw(st.integers(1, 40))):
        if not spans or draw(st.integers(0, 4)) == 0:
            kind = draw(SPAN_KINDS)
            url = (
                draw(st.sampled_from(["https://a.example/x", "https://a.example/x/", "ftp://nope"]))
                if kind == "link"
                else None
            )
            spans.append(Span(type=kind, text=draw(CHUNK), url=url))
        else:
            spans[-1].text += draw(CHUNK)  # mutated in place, as an assembler may do
        snapshots.append(list(spans))
    return snapshots, draw(st.integers(1, 40))


def normalized(lines: list[Line], palette: Palette) -> list[list[tuple[str, Style | None]]]:
    """Lines as runs of (text, style), merging neighbours of equal style."""
    result = []
    for line in lines:
        runs: list[tuple[str, Style | None]] = []
        for segment in palette.segments(line):
            if runs and runs[-1][1] == segment.style:
                runs[-1] = (runs[-1][0] + segment.text, segment.style)
            elif segment.text:
                runs.append((segment.text, segment.style))
        result.append(runs)
    return result


def test_every_part_renders_at_tiny_widths() -> None:
    parts = [
        TextPart(text="hello world 界"),
        RichTextPart(
            blocks=[
                paragraph(Span(text="x" * 30)),
                Block(type="bullet_list", items=[ListItem(spans=[Span(text="item")])]),
            ]
        ),
        ProductsPart(
            products=[
                Product(
                    title="Jacket",
                    description="Warm",
                    price=Price(1, "DKK"),
                    original_price=Price(2, "DKK"),
                    url="https://e.example",
                )
            ]
        ),
        TablePart(headers=["a", "b"], caption="cap", rows=[[Cell(text="1"), Cell(text="2")]]),
        ImagePart(url="https://e.example/i.png", caption="pic"),
        FilePart(url="https://e.example/f.pdf", filename="f.pdf"),
        SuggestionsPart(suggestions=[Suggestion(title="s")]),
        QuickRepliesPart(replies=["q"]),
        FormPart(),
        UnknownPart(type="x"),
    ]
    for width in range(1, 14):
        for left in (0, 1):
            frame = Frame(width, left=left, right=left)
            for part in parts:
                for line in render_part(part, frame, STYLES, CONSOLE):
                    assert cell_len(line_text(line)) == width, (width, part)


@settings(max_examples=300, deadline=None)
@given(growth())
def test_incremental_paragraph_equals_paragraph_laid_out_at_once(
    case: tuple[list[list[Span]], int],
) -> None:
    snapshots, width = case
    frame = Frame(width + 2, left=1, right=1)
    streamed = ParagraphLayout(frame, STYLES, CONSOLE)
    for spans in snapshots:
        before = list(streamed.lines)
        if streamed.extend(spans):
            # What a view repaints from: every line before it is the line it was.
            first = streamed.changed_from
            assert len(before) - 1 <= first <= len(before) and first <= len(streamed.lines)
            assert all(
                new is old for new, old in zip(streamed.lines[:first], before[:first], strict=True)
            )
            if first == len(streamed.lines):
                assert streamed.lines == before
        else:
            streamed = ParagraphLayout(frame, STYLES, CONSOLE)
            assert streamed.extend(spans)
        # How each line follows the one above (the copy reads it): one mark per line.
        assert len(streamed.joins) == len(streamed.lines)
    final = [Span(type=s.type, text=s.text, url=s.url) for s in snapshots[-1]]
    whole = ParagraphLayout(frame, STYLES, CONSOLE)
    whole.extend(final)
    assert normalized(streamed.lines, frame.palette) == normalized(whole.lines, frame.palette)
    assert streamed.joins == whole.joins
    assert not whole.joins or whole.joins[0] == JOIN_HARD
    assert all(cell_len(line_text(line)) == width + 2 for line in whole.lines)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.booleans(), st.sampled_from(["", "ab", " ", "cd ef ", "\n", "界界", "xxxxxxxxxxxx"])
        ),
        min_size=1,
        max_size=15,
    ),
    st.integers(1, 20),
)
def test_a_growing_list_keeps_its_lines_before_the_first_it_changed(
    steps: list[tuple[bool, str]], width: int
) -> None:
    frame = Frame(width + 4)
    items = [""]

    def block() -> Block:
        return Block(
            type="bullet_list", items=[ListItem(spans=[Span(text=text)]) for text in items]
        )

    layout = layout_block(block(), frame, STYLES, CONSOLE)
    for new_item, text in steps:
        if new_item:
            items.append(text)
        else:
            items[-1] += text
        before = list(layout.lines)
        assert layout.update(block())
        first = layout.changed_from
        # Only the last item grew, or one was added: the lines before its last stay.
        assert len(before) - 1 <= first <= len(before), (first, len(before))
        assert all(
            new is old for new, old in zip(layout.lines[:first], before[:first], strict=True)
        )
        fresh = layout_block(block(), frame, STYLES, CONSOLE)
        assert normalized(layout.lines, frame.palette) == normalized(fresh.lines, frame.palette)


ASCII_PIECE = st.tuples(
    st.sampled_from(["ab", " ", "cd  ", "efg", "\n", "xxxxxxxxxxxxxxxxxx", "-", "  \n  ", ""]),
    st.sampled_from([None, Style(), Style(bold=True), Style(strike=True), STYLES.link]),
)


BULLET_STYLED = RenderStyles(bullet=Style(color="magenta"))


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.lists(ASCII_PIECE, max_size=6), min_size=1, max_size=12),
    st.integers(1, 30),
    st.sampled_from(["", "• "]),
    st.sampled_from([None, "界"]),
    st.sampled_from([STYLES, BULLET_STYLED]),
)
def test_ascii_paragraphs_lay_out_without_text_cell_for_cell_as_with_it(
    pushes: list[list[tuple[str, Style | None]]],
    width: int,
    prefix: str,
    late: str | None,
    styles: RenderStyles,
) -> None:
    frame = Frame(width + 3, left=1, right=0)
    fast = ParagraphLayout(frame, styles, CONSOLE, prefix, " " * len(prefix))
    general = ParagraphLayout(frame, styles, CONSOLE, prefix, " " * len(prefix))
    general._runs = None  # the Rich `Text` path throughout
    for pieces in pushes:
        fast._push(list(pieces))
        general._push(list(pieces))
        # The same cells in the same styles (the fast path makes fewer, longer runs).
        assert normalized(fast.lines, frame.palette) == normalized(general.lines, frame.palette)
        assert [line_text(line) for line in fast.lines] == [
            line_text(line) for line in general.lines
        ]
        assert fast._fold == general._fold
        assert fast._runs is not None and fast._runs.text() == general._tail
    if late is not None:  # a wide character: the fast layout continues on the general path
        fast._push([(late + " tail", None)])
        general._push([(late + " tail", None)])
        assert fast._runs is None
        assert normalized(fast.lines, frame.palette) == normalized(general.lines, frame.palette)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab c\n界xx-")), max_size=80), st.integers(2, 30))
def test_wrap_lines_wraps_like_rich(text: str, width: int) -> None:
    # From width 2: at width 1 Rich adds an empty line before a wide character (see _chop).
    rich_text = Text(text)
    ours = wrap_lines(rich_text, width)[0]
    assert [line.plain for line in ours] == [line.plain for line in rich_text.wrap(CONSOLE, width)]


@settings(max_examples=1000, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("ab  cdxxxx-.")), max_size=60),
    st.integers(1, 15),
    st.sampled_from([None, "word", "lead"]),
)
def test_fast_ascii_wrap_breaks_like_the_general_one(text: str, width: int, folding: Fold) -> None:
    assert divide_ascii(text, width, folding) == divide_cells(text, width, folding)
    if folding is None:
        assert divide_ascii(text, width) == divide_line(text, width, fold=True)


@settings(max_examples=500, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("ab  c\u3000界面é\u00a0x")), max_size=50),
    st.integers(1, 12),
)
def test_general_wrap_breaks_like_rich(text: str, width: int) -> None:
    # Rich breaks twice at one place for a wide character at width 1 (an empty line).
    assert divide_cells(text, width) == list(dict.fromkeys(divide_line(text, width, fold=True)))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 9), max_size=60),
    st.lists(st.tuples(st.integers(0, 59), st.integers(0, 9)), max_size=20),
)
def test_height_index_matches_a_plain_list(
    values: list[int], updates: list[tuple[int, int]]
) -> None:
    index = HeightIndex()
    half = len(values) // 2
    index.rebuild(values[:half])
    for value in values[half:]:
        index.append(value)
    heights = list(values)
    for position, value in updates:
        if position < len(heights):
            heights[position] = value
            index.set(position, value)
    assert index.total == sum(heights)
    for count in range(len(heights) + 1):
        assert index.prefix(count) == sum(heights[:count])
    line = 0
    for entry, height in enumerate(heights):
        for offset in range(height):
            assert index.find(line) == (entry, offset)
            line += 1
