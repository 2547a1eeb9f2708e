"""Issue 21: the transcript shows streamed text as it would show the whole text.

An emoji sequence's joiner (U+200D) or a CR LF split across two streamed deltas, or across
two spans (plain, then bold), must not show a stray marker (⟨U+200D⟩, ␍) that `sanitize` of
the whole text would not: while the reply streams, after its final part, and from history.
The layout stays incremental: only a trailing CR or joiner waits for what follows it.
"""

from __future__ import annotations

import pytest
import rich.cells
from hypothesis import given, settings
from hypothesis import strategies as st

from dialogtui.api.models import Block, ListItem, RichTextPart, Span, TextPart
from dialogtui.conversation.outcome import Outcome
from dialogtui.devserver import DevServer
from dialogtui.devserver.content import SPLIT_JOINERS
from dialogtui.plaintext import spans_text as plain_spans_text
from dialogtui.ui import glyph_widths
from dialogtui.ui.glyph_widths import GlyphWidths
from dialogtui.text import HOLD_BACK, sanitize, sanitize_pieces
from dialogtui.ui.render import Frame, ParagraphLayout, line_text, spans_text
from dialogtui.ui.transcript import Transcript

from .test_app import make_app, ready, send, turn_finished, wait_for
from .test_keys_and_copy import TranscriptApp
from .test_transcript import CONSOLE, STYLES

FAMILY = "\U0001f469\u200d\U0001f469\u200d\U0001f467"  # 👩‍👩‍👧
MARKER = "\u27e8U+200D\u27e9"
TRICKY = [
    "\r", "\n", "\u200d", "\ufe0f", "\u200d", "a", " ", "\x1b", "\u202e", "\t",
    "\U0001f469", "\U0001f4bb", "\u2764", "\U0001f3fd", "\U0001f525",
]  # fmt: skip


def _shown(layout: ParagraphLayout) -> str:
    """The laid-out text, on a frame wide enough that only newlines break lines."""
    return "\n".join(line_text(line).rstrip() for line in layout.lines)


def _expected(raw: str) -> str:
    return "\n".join(line.rstrip() for line in sanitize(raw).split("\n")) if raw else ""


@given(st.lists(st.text(alphabet=st.sampled_from(TRICKY), max_size=6), max_size=8))
def test_pieces_sanitized_where_they_stand_read_as_the_whole(pieces: list[str]) -> None:
    assert "".join(sanitize_pieces(pieces)) == sanitize("".join(pieces))


@st.composite
def _stream(draw: st.DrawFn) -> list[list[Span]]:
    """Snapshots of one paragraph as it streams, in plain, bold and struck spans: text
    appended to the last span, or a new span."""
    spans: list[Span] = []
    snapshots: list[list[Span]] = []
    for _ in range(draw(st.integers(1, 12))):
        text = "".join(draw(st.lists(st.sampled_from(TRICKY), min_size=1, max_size=4)))
        if not spans or draw(st.booleans()):
            spans.append(Span(type=draw(st.sampled_from(["text", "bold", "strike"])), text=text))
        else:
            spans[-1] = Span(type=spans[-1].type, text=spans[-1].text + text)
        snapshots.append([Span(type=span.type, text=span.text) for span in spans])
    return snapshots


@settings(max_examples=400, deadline=None)
@given(_stream())
def test_a_streamed_paragraph_shows_the_whole_text_sanitized(snapshots: list[list[Span]]) -> None:
    frame = Frame(400)
    streamed = ParagraphLayout(frame, STYLES, CONSOLE)
    for spans in snapshots:
        assert streamed.extend(spans)  # every step an append: laid out in O(delta)
        raw = "".join(span.text for span in spans)
        # While it streams: all but a trailing CR or joiner, which waits for what follows.
        held = raw[-1] in HOLD_BACK
        assert _shown(streamed) == _expected(raw[:-1] if held else raw)
    streamed.settle()
    whole = ParagraphLayout(frame, STYLES, CONSOLE)
    whole.extend(snapshots[-1])
    whole.settle()
    assert _shown(streamed) == _shown(whole) == _expected(raw)


def test_spans_read_as_one_text_in_plain_text_and_on_screen() -> None:
    # The family split after its first joiner: plain, then bold.
    spans = [Span(text="A family: \U0001f469\u200d"), Span(type="bold", text=FAMILY[2:] + "!")]
    assert plain_spans_text(spans) == f"A family: {FAMILY}!"
    assert spans_text(spans, STYLES).plain == f"A family: {FAMILY}!"  # a table cell's text
    stray = [Span(text="stray\u200d"), Span(type="bold", text="joiner")]
    assert plain_spans_text(stray) == f"stray{MARKER}joiner"


async def test_the_transcript_shows_split_joiners_while_streaming_when_done_and_whole() -> None:
    app = TranscriptApp()
    async with app.run_test(size=(100, 30)) as pilot:
        transcript = app.query_one(Transcript)
        # Streaming: the block grows by deltas split at the joiners, as the scenario's do.
        pieces = ["Coder \U0001f469\u200d", "\U0001f4bb and heart \u2764\ufe0f", "\u200d"]
        reply = transcript.add_entry("assistant", [RichTextPart()], state=Outcome.STREAMING)
        text = ""
        for piece in pieces:
            text += piece
            transcript.set_block(reply, 0, 0, Block(type="paragraph", spans=[Span(text=text)]))
            await pilot.pause()
            assert MARKER not in transcript.entry_text(reply)
        assert transcript.entry_text(reply).endswith(
            "Coder \U0001f469\u200d\U0001f4bb and heart \u2764\ufe0f"
        )
        text += "\U0001f525 end\u200d"  # and a stray joiner at the very end
        transcript.set_block(reply, 0, 0, Block(type="paragraph", spans=[Span(text=text)]))
        transcript.set_block(
            reply,
            0,
            1,
            Block(type="bullet_list", items=[ListItem(spans=[Span(text="item\u200d")])]),
        )
        await pilot.pause()
        assert MARKER not in transcript.entry_text(reply)  # it might still join
        transcript.set_state(reply, Outcome.DONE)
        await pilot.pause()
        assert transcript.entry_text(reply).split("\n")[1:] == [
            sanitize(text),
            "",
            "• item" + MARKER,
        ]
        # History: the same text in two spans, laid out at once; and a text part.
        spans = [Span(text=text[:8]), Span(type="bold", text=text[8:])]
        saved = transcript.add_entry("assistant", [RichTextPart(blocks=[Block(spans=spans)])])
        typed = transcript.add_entry("user", [TextPart(text=text)])
        await pilot.pause()
        assert transcript.entry_text(saved).split("\n")[1:] == [sanitize(text)]
        assert transcript.entry_text(typed).split("\n")[1:] == [sanitize(text)]


async def test_the_app_shows_the_split_joiners_scenario_as_the_whole_text(
    server: DevServer,
) -> None:
    app = make_app(server)
    async with app.run_test(size=(100, 60)) as pilot:
        server.config.delta_delay = 0.05  # a frame or more for each delta
        await ready(pilot)
        transcript = app.transcript
        await send(pilot, "show me !split_joiners")
        await wait_for(pilot, lambda: transcript.last_entry("assistant") is not None)
        reply = transcript.last_entry("assistant")
        assert reply is not None
        seen = set()
        while not turn_finished(app)():
            await pilot.pause(0.02)
            shown_so_far = transcript.entry_text(reply)
            seen.add(shown_so_far)
            # Only the stray joiners show a marker: none inside a sequence split by a delta.
            for joined in ("\U0001f469", "\ufe0f"):
                assert joined + MARKER not in shown_so_far
            assert "\u240d" not in shown_so_far.split("A lone CR")[0]
        assert len(seen) > 5  # it was watched while it streamed
        await pilot.pause()
        assert server.stats.scenario_count("split_joiners") == 1
        shown = transcript.entry_text(reply).split("\n")[1:]
        paragraphs = [sanitize("".join(pieces)) for pieces in SPLIT_JOINERS]
        expected = "\n\n".join(paragraphs).split("\n")
        assert shown[: len(expected)] == expected  # then the reply's footer (timings)
        assert f"A family: {FAMILY}" in shown[0]
        assert any(f"joiner{MARKER}between" in line for line in shown)  # a stray one stays
        # The joiner first in a bold span and in a link's text: the sequence is kept whole.
        fire = "\u2764\ufe0f\u200d\U0001f525"
        assert any(f"Joiner first: {fire} in bold, {fire} linked" in line for line in shown)


# A sequence's second part starting a new span: the joiner, VS16 or a skin tone first in it.
SPLIT_AT_THE_START = [
    [Span(text="Fire \u2764\ufe0f"), Span(type="bold", text="\u200d\U0001f525 fire")],
    [
        Span(text="Link \u2764\ufe0f"),
        Span(type="link", text="\u200d\U0001f525 fire", url="https://example.com/fire"),
    ],
    [Span(text="Heart \u2764"), Span(type="bold", text="\ufe0f red")],
    [Span(text="Thumb \U0001f44d"), Span(type="bold", text="\U0001f3fd up")],
]


@pytest.mark.parametrize("streamed", [False, True], ids=["saved", "streamed"])
async def test_a_sequence_whose_second_span_starts_with_its_joiner_is_drawn_as_measured(
    streamed: bool,
) -> None:
    # The glyph that crosses the change of style is one glyph on the line: the screen drawn
    # whole and the terminal fed frame by frame (conftest) must agree on every cell.
    app = TranscriptApp()
    async with app.run_test(size=(60, 20)) as pilot:
        transcript = app.query_one(Transcript)
        blocks = [Block(spans=spans) for spans in SPLIT_AT_THE_START]
        if streamed:
            reply = transcript.add_entry("assistant", [RichTextPart()], state=Outcome.STREAMING)
            for index, spans in enumerate(SPLIT_AT_THE_START):
                for count in range(1, len(spans) + 1):
                    transcript.set_block(reply, 0, index, Block(spans=spans[:count]))
                    await pilot.pause()
            transcript.set_state(reply, Outcome.DONE)
        else:
            reply = transcript.add_entry("assistant", [RichTextPart(blocks=blocks)])
        await pilot.pause()
        whole = [spans_text(spans, STYLES).plain for spans in SPLIT_AT_THE_START]
        assert "Fire \u2764\ufe0f\u200d\U0001f525 fire" in whole[0]  # the joiner kept
        assert transcript.entry_text(reply).split("\n")[1:8] == "\n\n".join(whole).split("\n")
    _assert_runs_measure_as_drawn()


def _assert_runs_measure_as_drawn() -> None:
    for spans in SPLIT_AT_THE_START:
        layout = ParagraphLayout(Frame(60), STYLES, CONSOLE)
        layout.extend(spans)
        layout.settle()
        (line,) = layout.lines
        # Each run measures as the terminal draws it, a glyph at a time: no run starts inside
        # a glyph (where Rich's `cell_len` and `split_graphemes` differ), so the line fits.
        assert sum(rich.cells.cell_len(text) for text, _ in line) == 60
        for text, _ in line:
            glyphs = rich.cells.split_graphemes(text)[0]
            assert sum(width for _, _, width in glyphs) == rich.cells.cell_len(text)


@pytest.mark.parametrize(
    "widths",
    [
        GlyphWidths(skin_tone=2, vs16_widens=False),  # as tmux draws them
        GlyphWidths(skin_tone=2, vs16_widens=False, zwj_joins=False, regional_indicator=2),
    ],
    ids=["tmux", "codepoint-by-codepoint"],
)
def test_split_sequences_measure_as_drawn_with_a_terminals_own_widths(
    widths: GlyphWidths,
) -> None:
    glyph_widths.apply(widths)
    try:
        _assert_runs_measure_as_drawn()
    finally:
        glyph_widths.apply(GlyphWidths())
