"""Pure rendering of transcript content: parts and blocks to wrapped lines at a width.

Everything here is a function of its arguments: a part or block, a `Frame` (line width,
side padding, background, and the `Palette` lines refer to), the `RenderStyles` the widget
resolved from its component classes, and a Rich console. Nothing reads widget state. The
block layouts (`ParagraphLayout`, `ListLayout`) are value objects: the wrapped lines of one
block plus just enough bookkeeping to extend them in O(delta) when the block grows by
appends, which is what a streamed reply does thousands of times.

Safety: every string from the server passes through `sanitize` / `sanitize_line` before it
becomes a Rich `Text`, and a URL only becomes a hyperlink (`Style(link=...)`) when
`safe_link_target` accepts it. Rich markup and emoji codes are never interpreted: only
`Text` objects reach Rich, never markup strings.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol, TypeAlias
from collections.abc import Iterable, Sequence

import rich.cells
from rich import box
from rich.cells import cell_len, chop_cells
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text

from dialogtui.api.models import (
    Block,
    Cell,
    ContactFormPart,
    FilePart,
    FormPart,
    HumanAgentPart,
    ImagePart,
    ImageUploadPart,
    Part,
    Product,
    ProductsPart,
    QuickRepliesPart,
    RichTextPart,
    Span,
    SuggestionsPart,
    SupportTicketPart,
    TablePart,
    TextPart,
    data_url_facts,
    is_data_url,
    is_expired,
)
from dialogtui.plaintext import (
    discount_percent,
    expiry_note,
    format_price,
    format_size,
    marker_text,
    upload_prompt_text,
)
from dialogtui.text import HOLD_BACK, sanitize, sanitize_line, sanitize_piece, sanitize_pieces

BULLET: Final = "• "
HANGING: Final = "  "
CARD_MAX_WIDTH: Final = 64
DESCRIPTION_MAX_LINES: Final = 2
SPINNER: Final = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

BOLD: Final = Style(bold=True)
STRIKE: Final = Style(strike=True)

Piece: TypeAlias = tuple[str, Style | None]


@dataclass(frozen=True, slots=True)
class RenderStyles:
    """Rich styles for every visual role, resolved by the widget from its component classes.

    `base` and `user` are full styles (they carry the background every cell is drawn on);
    the others are overlays (foreground and attributes only) combined on top of a line's
    background, so a link inside a user message keeps the message's background.
    Defaults make the functions usable without a running app (tests, exports).
    """

    base: Style = Style()
    user: Style = Style()
    user_label: Style = Style(bold=True)
    assistant_label: Style = Style(bold=True)
    system_label: Style = Style(bold=True, dim=True)
    dim: Style = Style(dim=True)
    link: Style = Style(underline=True)
    notice_info: Style = Style(dim=True)
    notice_warning: Style = Style(color="yellow")
    notice_error: Style = Style(color="red")
    error: Style = Style(color="red")
    warning: Style = Style(color="yellow", dim=True)
    card: Style = Style(dim=True)
    price: Style = Style(bold=True)
    discount: Style = Style(color="green")
    table_header: Style = Style(bold=True)
    bullet: Style = Style()


class Palette:
    """Interns styles as small ints, so a rendered line holds only strings and ints.

    Such tuples are invisible to Python's cyclic garbage collector (it untracks them),
    whereas Segments (which hold Style objects) are scanned at every full collection: a
    1,000-message conversation would otherwise add ~45,000 objects and ~25 ms to each.
    """

    __slots__ = ("_ids", "styles")

    def __init__(self) -> None:
        self.styles: list[Style | None] = []
        self._ids: dict[Style | None, int] = {}

    def id(self, style: Style | None) -> int:
        found = self._ids.get(style)
        if found is None:
            found = self._ids[style] = len(self.styles)
            self.styles.append(style)
        return found

    def segments(self, line: Line) -> list[Segment]:
        styles = self.styles
        return [Segment(text, styles[style]) for text, style in line]


Line: TypeAlias = tuple[tuple[str, int], ...]
"""One rendered line of exactly `Frame.width` cells: (text, palette id) runs. Much lighter
than a `Strip` (seven caches each); the widget makes Strips for the lines on screen only."""


def line_text(line: Line) -> str:
    return "".join(text for text, _ in line)


JOIN_HARD: Final = 0
"""How a line follows the one above it (one byte per line in a `joins` bytearray, beside
the lines): a line of its own. Copying keeps the line break."""
JOIN_SPACE: Final = 1
"""Wrapped at whitespace: the same line of text, copied with one space between."""
JOIN_CHOP: Final = 2
"""A word too long for a line, cut: the same word, copied with nothing between."""


def join_rows(rows: Iterable[tuple[str, int]]) -> str:
    """Laid-out rows back as written: each row's text (band padding left out) and its join.
    A row that goes on from the one above (`JOIN_SPACE`, `JOIN_CHOP`; the first row never
    does) is added to it without its hanging indent, after one space or nothing; every row
    loses its trailing blanks. So a paragraph wrapped at any width reads the same."""
    lines: list[str] = []
    for text, join in rows:
        if join == JOIN_HARD or not lines:
            lines.append(text.rstrip())
            continue
        piece = text.strip(" ").rstrip()
        if piece:
            above = lines[-1]
            lines[-1] = f"{above} {piece}" if join == JOIN_SPACE and above else above + piece
    return "\n".join(lines)


def _break_joins(plain: str, breaks: Sequence[int], joins: bytearray) -> None:
    """Append the join of each line that starts at a break of `plain` (see `JOIN_SPACE`)."""
    for at in breaks:
        # A word starts at a break after whitespace; a folded word's spaces may start a line.
        spaced = plain[at - 1].isspace() or plain[at].isspace()
        joins.append(JOIN_SPACE if spaced else JOIN_CHOP)


@dataclass(frozen=True, slots=True)
class Frame:
    """The line box content is drawn into: every line is exactly `width` cells, on `fill`."""

    width: int
    fill: Style = Style()
    left: int = 0
    right: int = 0
    palette: Palette = field(default_factory=Palette, compare=False)

    @property
    def inner(self) -> int:
        return max(1, self.width - self.left - self.right)

    def blank(self) -> Line:
        return ((" " * self.width, self.palette.id(self.fill)),)


def frame_line(frame: Frame, console: Console, pieces: Iterable[Text | Segment]) -> Line:
    """One line: left padding, the pieces, then fill to the frame width, all on `frame.fill`.

    A Text's own base style is applied here because `Text.render` drops it when the Text has
    no spans, and every cell needs the fill's background or it shows the terminal's.
    """
    fill, intern = frame.fill, frame.palette.id
    out, used, fill_id = _started(frame)
    for piece in pieces:
        if isinstance(piece, Segment):
            text, style, _ = piece
            out.append((text, intern(fill + style) if style else fill_id))
            used += cell_len(text)
            continue
        base = fill + piece.style if isinstance(piece.style, Style) and piece.style else fill
        if piece.spans:
            out.extend(
                (text, intern(base + style if style else base))
                for text, style, _ in piece.render(console)
            )
        elif piece.plain:
            out.append((piece.plain, intern(base)))
        used += piece.cell_len
    return _fitted(frame, _whole_glyphs(out), used, fill_id)


_ZWJ: Final = "\u200d"


def _whole_glyphs(runs: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """`runs` with no glyph split between two: an emoji sequence joined across a change of
    style (👩‍ plain, 💻 bold; ❤️ plain, ‍🔥 bold; ❤ plain, VS16 bold; 👍 plain, 🏽 bold) is one
    glyph in the line's measure, so it is drawn in one run, in the first part's style. A run
    that starts inside a glyph would measure otherwise (Rich's `cell_len` of "‍🔥" is 0, its
    `split_graphemes` 2; "VS16" alone does not widen ❤), and the line would not fit its width;
    a terminal joins such a character to the cell before it anyway."""
    previous = -1  # the last run with text
    emptied = False
    width_of = rich.cells.get_character_cell_size
    for number, (text, style) in enumerate(runs):
        if not text:
            continue
        if previous >= 0:
            before, before_style = runs[previous]
            # Only a joiner before, or a zero-width character (joiner, variation selector,
            # skin tone where it joins, combining mark) first, can join the two runs' glyphs.
            if before.endswith(_ZWJ) or not width_of(text[0]):
                tail = before[-8:]
                cut = len(tail)
                for start, end, _ in rich.cells.split_graphemes(tail + text[:8])[0]:
                    if start < cut < end:
                        runs[previous] = (before + text[: end - cut], before_style)
                        text = text[end - cut :]
                        runs[number] = (text, style)
                        break
                if not text:
                    emptied = True
                    continue
        previous = number
    return [run for run in runs if run[0]] if emptied else runs


def _started(frame: Frame) -> tuple[list[tuple[str, int]], int, int]:
    """A line's left padding: the runs so far, the cells they use, and the fill's palette id."""
    fill_id = frame.palette.id(frame.fill)
    return ([(" " * frame.left, fill_id)] if frame.left else []), frame.left, fill_id


def _fitted(frame: Frame, out: list[tuple[str, int]], used: int, fill_id: int) -> Line:
    """The line `out`, `used` cells wide, filled or cut to exactly the frame width."""
    width = frame.width
    if used < width:
        out.append((" " * (width - used), fill_id))
    elif used > width:
        segments = Segment.adjust_line_length(frame.palette.segments(tuple(out)), width, frame.fill)
        return tuple((text, frame.palette.id(style)) for text, style, _ in segments)
    return tuple(out)


# ---------------------------------------------------------------------------
# Links and spans

_HTTP_URL: Final = re.compile(r"https?://[^/\s]", re.IGNORECASE)
# Controls would break out of an OSC 8 hyperlink; whitespace never belongs in a URL.
_URL_FORBIDDEN: Final = re.compile(r"[\x00-\x20\x7f-\x9f]")
_SCHEME: Final = re.compile(r"^https?://", re.IGNORECASE)


def safe_link_target(url: str | None) -> str | None:
    """The URL if it may become a terminal hyperlink: http(s) and free of control characters."""
    if not url or not _HTTP_URL.match(url) or _URL_FORBIDDEN.search(url):
        return None
    return url


def _url_key(text: str) -> str:
    return _SCHEME.sub("", text.strip()).rstrip("/").lower()


def link_style(base: Style, url: str | None) -> Style:
    target = safe_link_target(url)
    return base + Style(link=target) if target else base


def link_pieces(text: str, url: str | None, styles: RenderStyles) -> list[Piece]:
    """A link's label, then its URL in dim brackets unless the label already is the URL.

    The visible URL keeps links reachable in terminals without hyperlink support.
    An unsafe URL is shown (inert) but never made clickable, and its label is not styled
    as a link, so it does not look clickable either.
    """
    shown = sanitize_line(url or "")
    target = safe_link_target(url)
    label = text or shown
    pieces: list[Piece] = [(label, styles.link + Style(link=target) if target else None)]
    if shown and _url_key(label) != _url_key(shown):
        pieces.append((f" [{shown}]", styles.dim + Style(link=target) if target else styles.dim))
    return pieces


def span_pieces(span: Span, styles: RenderStyles, text: str | None = None) -> list[Piece]:
    """The styled text of one span: `text`, its text sanitized where it stands in the
    paragraph (by default on its own).

    Unknown span types keep their text, unstyled: a future span type (say `italic`) would
    otherwise drop words from the middle of a sentence. (`models.spans_text`, used for
    exports, skips them instead.)
    """
    kind = span.type
    if text is None:
        text = sanitize(span.text)
    if kind == "link":
        return link_pieces(text, span.url, styles)
    if kind == "bold":
        return [(text, BOLD)]
    if kind == "strike":
        return [(text, STRIKE)]
    return [(text, None)]


def spans_text(spans: Sequence[Span], styles: RenderStyles) -> Text:
    text = Text(end="")
    # Sanitized as one text: an emoji sequence split between spans keeps its joiner.
    for span, shown in zip(spans, sanitize_pieces([span.text for span in spans]), strict=True):
        for piece, style in span_pieces(span, styles, shown):
            if piece:
                text.append(piece, style)
    return text


# ---------------------------------------------------------------------------
# Wrapping


Fold: TypeAlias = Literal["lead", "word"] | None
"""Where wrapping resumes: None at a line or word start; "word" inside a folded word (its
non-space part or trailing spaces); "lead" inside the leading spaces of a line's first word."""

_WORD: Final = re.compile(r"\s*\S+\s*")
_NOT_SPACE: Final = re.compile(r"\S")
_NOT_BLANK: Final = re.compile(r"[^ ]")
# The rest of a folded word, by where the fold resumes.
_FOLD_REST: Final = {"word": re.compile(r"\S*\s*"), "lead": re.compile(r"\s*\S*\s*")}
_FOLD_REST_ASCII: Final = {"word": re.compile(r"[^ ]*[ ]*"), "lead": re.compile(r"[ ]*[^ ]*[ ]*")}


def _chop(word: str, width: int) -> list[str]:
    # Rich's chop_cells starts with an empty piece when the first character is wider than
    # the line (width 1, a wide character), and divide_line then breaks twice at the same
    # place (an empty line). Dropping it keeps folding the same wherever it resumes.
    return [piece for piece in chop_cells(word, width) if piece]


def divide_cells(text: str, width: int, folding: Fold = None) -> list[int]:
    """Break offsets for `text` at `width`: Rich's `divide_line(fold=True)`, plus `folding`.

    `folding` says that `text` starts inside a word that was too long for a line and is
    being folded: Rich chops such a word, spaces included, into width-sized pieces, so its
    rest must be chopped too, even where it would fit as a word of its own. That is what
    lets wrapping resume at any line start.
    """
    breaks: list[int] = []
    append = breaks.append
    offset = 0
    position = 0
    if folding is not None:
        rest = _FOLD_REST[folding].match(text)
        if rest is not None and rest.end():
            pieces = _chop(rest.group(), width)
            start = 0
            for piece in pieces[:-1]:
                start += len(piece)
                append(start)
            offset = cell_len(pieces[-1]) if pieces else 0
            position = rest.end()
    match = _WORD.match(text, position)
    while match is not None:
        start, end = match.span()
        word = match.group()
        length = cell_len(word.rstrip())
        if width - offset >= length:
            offset += cell_len(word)
        elif length > width:
            pieces = _chop(word, width)
            for number, piece in enumerate(pieces):
                if start:
                    append(start)
                if number == len(pieces) - 1:
                    offset = cell_len(piece)
                else:
                    start += len(piece)
        elif offset and start:
            append(start)
            offset = cell_len(word)
        match = _WORD.match(text, end)
    return breaks


def divide_ascii(text: str, width: int, folding: Fold = None) -> list[int]:
    """`divide_cells` for printable ASCII, several times faster.

    There every character is one cell and the only whitespace is the space, so the greedy
    rule (a word fits while its end, trailing spaces excluded, is within `width` of the
    line start) finds each line with a few C-level searches instead of a Python step per
    word. Wrapping is most of a layout's cost; the equivalence is tested.
    """
    breaks: list[int] = []
    size = len(text)
    start = 0
    if folding is not None:
        rest = _FOLD_REST_ASCII[folding].match(text)
        end = rest.end() if rest is not None else 0
        if end > width:
            start = (end - 1) // width * width
            breaks.extend(range(width, start + 1, width))
    elif text[:1] == " ":
        # Leading spaces belong to the first word. If that word fits on the first line, every
        # space the loop below can find there comes after it; if not, it is folded.
        first = _NOT_BLANK.search(text)
        if first is None:
            return []
        word_end = text.find(" ", first.start())
        if (word_end if word_end >= 0 else size) > width:
            return divide_cells(text, width)
    while start + width < size:
        limit = start + width
        if text[limit] == " ":
            # Every word ending by `limit` fits; the next line starts at the next word.
            match = _NOT_BLANK.search(text, limit)
            if match is None:
                break
            start = match.start()
            breaks.append(start)
            continue
        space = text.rfind(" ", start, limit)
        if space >= start:
            # The word running past `limit` goes to the next line.
            start = space + 1
            breaks.append(start)
            continue
        # A word longer than a line: fold it (with its trailing spaces) into width pieces.
        end = text.find(" ", limit)
        if end < 0:
            end = size
        else:
            match = _NOT_BLANK.search(text, end)
            end = match.start() if match is not None else size
        last = start + (end - start - 1) // width * width
        breaks.extend(range(start + width, last + 1, width))
        start = last
    return breaks


def divide(text: str, width: int, folding: Fold = None) -> list[int]:
    if text.isascii() and text.isprintable():
        return divide_ascii(text, width, folding)
    return divide_cells(text, width, folding)


def wrap_lines(
    text: Text, width: int, folding: Fold = None, joins: bytearray | None = None
) -> tuple[list[Text], Text, Fold]:
    """Wrap exactly like `Text.wrap` (greedy, folding long words, keeping blank lines) and
    also return the unwrapped text of the last line and where it starts (`Fold`): the
    state from which wrapping can resume. With `joins`, append each line's join there
    (`JOIN_HARD` for the first and after each newline).

    Greedy wrapping never moves a break that lies before the start of the last line when
    text is appended, so `lines[:-1]` are final and only `tail + appended` needs wrapping
    (with the returned `Fold` passed back in).
    """
    width = max(1, width)
    lines: list[Text] = []
    split = text.split("\n", allow_blank=True)
    last = len(split) - 1
    tail = Text(end="")
    tail_fold: Fold = None
    for number, line in enumerate(split):
        plain = line.plain
        fold = folding if number == 0 else None
        breaks = divide(plain, width, fold)
        pieces = list(line.divide(breaks)) if breaks else [line]
        if joins is not None:
            joins.append(JOIN_HARD)
            _break_joins(plain, breaks, joins)
        if number == last:
            tail = pieces[-1].copy()
            tail_fold = _resume_fold(plain, breaks[-1], fold) if breaks else fold
        for piece in pieces:
            piece.rstrip_end(width)
            piece.truncate(width, overflow="fold")
            lines.append(piece)
    return lines, tail, tail_fold


def _resume_fold(plain: str, at: int, fold: Fold) -> Fold:
    """The `Fold` of a line that starts at break `at` of a line that started with `fold`."""
    if fold != "word":
        # The line's first word owns its leading spaces.
        match = _NOT_SPACE.search(plain)
        first = match.start() if match is not None else len(plain)
        if at < first:
            return "lead"
        if at == first:
            return "word"
    # A word start is a non-space after a space; any other break is inside a folded word.
    return None if not plain[at].isspace() and plain[at - 1].isspace() else "word"


def text_lines(
    text: Text,
    frame: Frame,
    console: Console,
    first: str = "",
    rest: str = "",
    prefix_style: Style | None = None,
    joins: bytearray | None = None,
) -> list[Line]:
    """Wrap a whole Text into framed lines, with an optional first-line prefix, hanging indent.
    With `joins`, append each line's join there (see `JOIN_SPACE`)."""
    if not len(text):
        return []
    wrapped = wrap_lines(text, frame.inner - cell_len(first), joins=joins)[0]
    lines: list[Line] = []
    for number, line in enumerate(wrapped):
        prefix = first if number == 0 else rest
        pieces: list[Text | Segment] = [Segment(prefix, prefix_style), line] if prefix else [line]
        lines.append(frame_line(frame, console, pieces))
    return lines


# ---------------------------------------------------------------------------
# Blocks of rich text


class BlockLayout(Protocol):
    """The wrapped lines of one block, updatable in place when the block grows."""

    lines: list[Line]
    joins: bytearray
    """How each line follows the one above (`JOIN_HARD`, `JOIN_SPACE`, `JOIN_CHOP`); a line
    past its end is `JOIN_HARD`."""
    changed_from: int
    """After an `update` that returned True: the first line it replaced or added (the
    length of `lines` if it changed none), so a view repaints that line on, not the block."""

    def update(self, block: Block) -> bool:
        """Take the block's new content. False: not an in-place change, lay it out afresh."""
        ...

    def settle(self) -> bool:
        """The text is complete: show what was held back in case more text would change it
        (a trailing CR or joiner, see `ParagraphLayout`). True if lines changed (from
        `changed_from`)."""
        ...


def _snapshot(span: Span, text: str | None = None) -> Span:
    # Our own copy: the assembler may mutate its span objects in place.
    return Span(type=span.type, text=span.text if text is None else text, url=span.url)


def _plain_ascii(text: str) -> bool:
    """One cell per character, and nothing Rich's `Text.append` would strip."""
    return text.isascii() and (text.isprintable() or text.replace("\n", "").isprintable())


class TailRuns:
    """The unwrapped tail of a paragraph as a string and its style runs: what `Text` holds
    for it, without `Text`. Runs end at `ends[i]` with `styles[i]`; neighbouring unstyled
    runs are one run, as `Text.render` yields one segment for them, and styled runs stay
    apart, as spans do."""

    __slots__ = ("ends", "plain", "styles")

    def __init__(self) -> None:
        self.plain = ""
        self.ends: list[int] = []
        self.styles: list[Style | None] = []

    def extend(self, pieces: list[Piece]) -> bool:
        """Append the pieces; False if they added nothing."""
        plain, ends, styles = self.plain, self.ends, self.styles
        before = len(plain)
        for text, style in pieces:
            if not text:
                continue
            plain += text
            style = style or None
            if style is None and styles and styles[-1] is None:
                ends[-1] = len(plain)
            else:
                ends.append(len(plain))
                styles.append(style)
        self.plain = plain
        return len(plain) != before

    def pieces(self, begin: int, end: int) -> list[Piece]:
        """The text from `begin` to `end`, one (text, style) per run it crosses."""
        out: list[Piece] = []
        if begin >= end:
            return out
        plain, start = self.plain, 0
        for run_end, style in zip(self.ends, self.styles, strict=True):
            if run_end > begin:
                out.append((plain[max(begin, start) : min(end, run_end)], style))
                if run_end >= end:
                    break
            start = run_end
        return out

    def drop_before(self, offset: int) -> None:
        """Keep the text from `offset` on (the new tail)."""
        if not offset:
            return
        kept = [
            (end - offset, style)
            for end, style in zip(self.ends, self.styles, strict=True)
            if end > offset
        ]
        self.plain = self.plain[offset:]
        self.ends = [end for end, _ in kept]
        self.styles = [style for _, style in kept]

    def text(self) -> Text:
        """The same tail as a Rich `Text`, for the general path."""
        text, start = Text(end=""), 0
        for end, style in zip(self.ends, self.styles, strict=True):
            text.append(self.plain[start:end], style)
            start = end
        return text


class ParagraphLayout:
    """A paragraph (or list item) whose wrapped lines grow in O(delta) under appends.

    State: the spans seen so far (copies of all but the last, plus the last one's type, URL
    and text), the wrapped `lines`, and `_tail`: the unwrapped text from the start of the
    last line to the end. `extend` accepts the paragraph's full current spans, checks that
    they only add to what was seen (text appended to the last span, new spans after it),
    and re-wraps only `_tail` plus the new text. Anything else returns False.
    Laying out a paragraph from scratch is the same code with everything "new", so the
    incremental result is the from-scratch result by construction (and tested).
    """

    __slots__ = (
        "_before",
        "_console",
        "_count",
        "_first",
        "_fold",
        "_frame",
        "_frozen",
        "_held",
        "_held_type",
        "_last_raw",
        "_last_type",
        "_last_url",
        "_provisional",
        "_rest",
        "_runs",
        "_styles",
        "_tail",
        "changed_from",
        "joins",
        "lines",
    )

    def __init__(
        self,
        frame: Frame,
        styles: RenderStyles,
        console: Console,
        first: str = "",
        rest: str = "",
    ) -> None:
        self.lines: list[Line] = []
        self.joins = bytearray()  # grown and cut with `lines`
        self.changed_from = 0
        self._frame = frame
        self._styles = styles
        self._console = console
        self._first = first
        self._rest = rest
        self._tail: Text | None = None
        # While every piece is plain ASCII, the tail is kept as `_runs` instead of `_tail`
        # (made only if the general path takes over: most paragraphs never need a `Text`).
        self._runs: TailRuns | None = TailRuns()
        self._fold: Fold = None
        self._count = 0
        self._frozen: list[Span] = []
        self._last_type = ""
        self._last_url: str | None = None
        self._last_raw = ""
        # The text is sanitized as one, as it comes: a CR or joiner at its end shows by what
        # follows it, so it is held back (`_held`, from a span of `_held_type`) until then.
        # `_before`: the two characters before it (or before the end), which a joiner's
        # showing depends on too. `_provisional`: the end was shown as the end (`settle`, a
        # link's text), so more text is not an append.
        self._before = ""
        self._held = ""
        self._held_type = ""
        self._provisional = False

    def update(self, block: Block) -> bool:
        return block.type == "paragraph" and self.extend(block.spans)

    def settle(self) -> bool:
        held = self._held
        if not held:
            return False
        self._held = ""
        self._provisional = True
        shown = sanitize_piece(held, self._before)
        self._before = (self._before + held)[-2:]
        self.changed_from = len(self.lines)
        self._push(span_pieces(Span(type=self._held_type), self._styles, shown))
        return True

    def extend(self, spans: Sequence[Span]) -> bool:
        if not isinstance(spans, list):
            spans = list(spans)  # the frozen-prefix check compares lists
        self.changed_from = len(self.lines)  # until `_push` changes a line
        count = self._count
        if len(spans) < count:
            return False
        added: list[Span] = []
        last_text = self._last_raw
        if count:
            # One C-level list comparison; the copies share the text objects, so unchanged
            # spans compare by identity.
            if count > 1 and spans[: count - 1] != self._frozen:
                return False
            last = spans[count - 1]
            if last.type != self._last_type or last.url != self._last_url:
                return False
            last_text = last.text
            old = self._last_raw
            if last_text != old:
                # A link renders a suffix after its text: not an append.
                if self._last_type == "link" or not last_text.startswith(old):
                    return False
                added.append(Span(type=last.type, text=last_text[len(old) :]))
        new = spans[count:]
        added.extend(new)
        if self._provisional and any(span.text for span in added):
            return False
        pieces = self._sanitized(added) if added else []
        if new:
            if count:
                self._frozen.append(_snapshot(spans[count - 1], last_text))
            for span in new[:-1]:
                self._frozen.append(_snapshot(span))
            final = new[-1]
            self._last_type, self._last_url, self._last_raw = final.type, final.url, final.text
        else:
            self._last_raw = last_text
        self._count = len(spans)
        self._push(pieces)
        return True

    def _sanitized(self, spans: list[Span]) -> list[Piece]:
        """The pieces of `spans`, appended to the paragraph, sanitized as part of its whole
        text (the held character first, now that what follows it is known)."""
        afters: list[str] = []  # the first character of the text after each span
        after = ""
        for span in reversed(spans):
            afters.append(after)
            after = span.text[:1] or after
        afters.reverse()
        pieces: list[Piece] = []
        before, held = self._before, self._held
        if held:
            # Followed by `after` ("" only before empty spans: shown as an end, for good).
            shown = sanitize_piece(held, before, after)
            pieces.extend(span_pieces(Span(type=self._held_type), self._styles, shown))
            before = (before + held)[-2:]
            self._held = ""
            self._provisional = self._provisional or not after
        last = len(spans) - 1
        for number, span in enumerate(spans):
            text, following = span.text, afters[number]
            if text and not following and text[-1] in HOLD_BACK:
                if number == last and span.type != "link":
                    self._held, self._held_type = text[-1], span.type
                    text = text[:-1]
                    following = self._held
                else:
                    self._provisional = True  # shown as the end; a link's text shows whole
            shown = sanitize_piece(text, before, following)
            pieces.extend(span_pieces(span, self._styles, shown))
            before = (before + text)[-2:]
        self._before = before
        return pieces

    def _push(self, pieces: list[Piece]) -> None:
        runs = self._runs
        if runs is not None:
            if all(_plain_ascii(text) for text, _ in pieces):
                self._push_runs(runs, pieces)
                return
            self._tail, self._runs = runs.text(), None  # for good: the general path from here
        tail = self._tail
        if tail is None:
            tail = self._tail = Text(end="")
        before = len(tail)
        for text, style in pieces:
            if text:
                tail.append(text, style)
        if len(tail) == before:
            return
        width = self._frame.inner - cell_len(self._first)
        joins = self.joins
        lines = self.lines
        # The old last line is the rendering of the old tail: replace it (its join stays).
        start = self.changed_from = len(lines) - 1 if lines else 0
        first_join = joins[start] if start < len(joins) else JOIN_HARD
        del joins[start:]
        wrapped, self._tail, self._fold = wrap_lines(tail, width, self._fold, joins)
        joins[start] = first_join
        strips = [self._line((line,), start + number == 0) for number, line in enumerate(wrapped)]
        lines[start:] = strips

    def _push_runs(self, runs: TailRuns, pieces: list[Piece]) -> None:
        """`_push` for plain ASCII text, without Rich `Text`: the same lines, at a third of
        the cost (a character is a cell, so wrapping is string slicing)."""
        if not runs.extend(pieces):
            return
        width = max(1, self._frame.inner - cell_len(self._first))
        plain, fold = runs.plain, self._fold
        lines, joins = self.lines, self.joins
        start = self.changed_from = len(lines) - 1 if lines else 0
        first_join = joins[start] if start < len(joins) else JOIN_HARD
        del lines[start:]
        del joins[start:]
        offset = 0
        split = plain.split("\n")
        last = len(split) - 1
        for number, line_plain in enumerate(split):
            line_fold = fold if number == 0 else None
            breaks = divide(line_plain, width, line_fold)
            ends = [*breaks, len(line_plain)]
            joins.append(JOIN_HARD if number else first_join)
            _break_joins(line_plain, breaks, joins)
            begin = 0
            for index, end in enumerate(ends):
                # `wrap_lines` strips the spaces past the width, then cuts at the width: with
                # a cell per character, that is the first `width` characters.
                stop = min(end, begin + width)
                lines.append(self._run_line(runs, offset + begin, offset + stop, not lines))
                if number == last and index == len(ends) - 1:
                    runs.drop_before(offset + begin)
                    self._fold = (
                        _resume_fold(line_plain, breaks[-1], line_fold) if breaks else line_fold
                    )
                begin = end
            offset += len(line_plain) + 1

    def _line(self, pieces: Sequence[Text | Segment], first: bool) -> Line:
        """One wrapped line, after the bullet (first line) or the hanging indent."""
        prefix = self._first if first else self._rest
        if prefix:
            pieces = [Segment(prefix, self._styles.bullet), *pieces]
        return frame_line(self._frame, self._console, pieces)

    def _run_line(self, runs: TailRuns, begin: int, stop: int, first: bool) -> Line:
        """The line for `runs` from `begin` to `stop`. When that text lies in one unstyled
        run, as most lines of most paragraphs do, the line is one run on the frame's fill
        (padding, prefix, text, filler), made in one step: a third of the general cost."""
        ends = runs.ends
        run = bisect_right(ends, begin)
        if begin < stop and run < len(ends) and ends[run] >= stop and runs.styles[run] is None:
            prefix = self._first if first else self._rest
            if not prefix or not self._styles.bullet:
                frame = self._frame
                text = runs.plain[begin:stop]
                used = frame.left + cell_len(prefix) + len(text)
                if used <= frame.width:
                    filler = " " * (frame.width - used)
                    return (
                        (" " * frame.left + prefix + text + filler, frame.palette.id(frame.fill)),
                    )
        return self._ascii_line(runs.pieces(begin, stop), first)

    def _ascii_line(self, pieces: list[Piece], first: bool) -> Line:
        """`_line` for plain-ASCII pieces (a character is a cell): the same line, built
        straight from (text, style) pairs, without a Segment or a Text for each."""
        frame = self._frame
        fill, intern = frame.fill, frame.palette.id
        out, used, fill_id = _started(frame)
        prefix = self._first if first else self._rest
        if prefix:
            bullet = self._styles.bullet
            out.append((prefix, intern(fill + bullet) if bullet else fill_id))
            used += cell_len(prefix)
        for text, style in pieces:
            out.append((text, intern(fill + style) if style else fill_id))
            used += len(text)
        return _fitted(frame, out, used, fill_id)


class ListLayout:
    """A bullet list: one `ParagraphLayout` per item, so a growing last item stays O(delta)."""

    __slots__ = ("_console", "_frame", "_items", "_styles", "changed_from", "joins", "lines")

    def __init__(self, frame: Frame, styles: RenderStyles, console: Console) -> None:
        self.lines: list[Line] = []
        self.joins = bytearray()
        self.changed_from = 0
        self._items: list[ParagraphLayout] = []
        self._frame = frame
        self._styles = styles
        self._console = console

    def _item(self) -> ParagraphLayout:
        return ParagraphLayout(self._frame, self._styles, self._console, BULLET, HANGING)

    def settle(self) -> bool:
        changed_from: int | None = None
        offset = 0
        for layout in self._items:
            if layout.settle() and changed_from is None:
                changed_from = offset + layout.changed_from
            offset += len(layout.lines)
        if changed_from is None:
            return False
        self.lines = [line for layout in self._items for line in layout.lines]
        self.joins = bytearray().join([layout.joins for layout in self._items])
        self.changed_from = changed_from
        return True

    def update(self, block: Block) -> bool:
        if block.type != "bullet_list":
            return False
        items = block.items
        layouts = self._items
        if len(items) < len(layouts):
            return False
        changed_from: int | None = None
        offset = 0  # the item's first line in `lines`
        for number, item in enumerate(items):
            if number == len(layouts):
                layouts.append(self._item())
            layout = layouts[number]
            before = len(layout.lines)
            if layout.extend(item.spans):
                first = layout.changed_from
            else:
                layout = layouts[number] = self._item()
                layout.extend(item.spans)
                first = 0
            if changed_from is None and first < max(before, len(layout.lines)):
                changed_from = offset + first
            offset += len(layout.lines)
        self.lines = [line for layout in layouts for line in layout.lines]
        self.joins = bytearray().join([layout.joins for layout in layouts])
        self.changed_from = len(self.lines) if changed_from is None else changed_from
        return True


class SkippedLayout:
    """An unknown block type: skipped, as the contract asks."""

    __slots__ = ("_kind", "changed_from", "joins", "lines")

    def __init__(self, kind: str) -> None:
        self.lines: list[Line] = []
        self.joins = bytearray()
        self.changed_from = 0
        self._kind = kind

    def update(self, block: Block) -> bool:
        return block.type == self._kind

    def settle(self) -> bool:
        return False


def layout_block(
    block: Block, frame: Frame, styles: RenderStyles, console: Console, final: bool = True
) -> BlockLayout:
    """A block's layout. `final` False: the block may still grow (it streams), so what its
    end shows may wait for what follows (see `BlockLayout.settle`)."""
    layout: BlockLayout
    if block.type == "paragraph":
        layout = ParagraphLayout(frame, styles, console)
    elif block.type == "bullet_list":
        layout = ListLayout(frame, styles, console)
    else:
        return SkippedLayout(block.type)
    layout.update(block)
    if final:
        layout.settle()
    return layout


def join_sections(sections: Sequence[list[Line]], frame: Frame) -> list[Line]:
    """Sections separated by one blank line; empty sections take no space."""
    lines: list[Line] = []
    for section in sections:
        if not section:
            continue
        if lines:
            lines.append(frame.blank())
        lines.extend(section)
    return lines


def render_blocks(
    blocks: Sequence[Block],
    frame: Frame,
    styles: RenderStyles,
    console: Console,
    joins: bytearray | None = None,
) -> list[Line]:
    layouts = [layout_block(block, frame, styles, console) for block in blocks]
    if joins is not None:
        for number, layout in enumerate([layout for layout in layouts if layout.lines]):
            if number:
                joins.append(JOIN_HARD)  # the blank line between sections
            joins += layout.joins
    return join_sections([layout.lines for layout in layouts], frame)


# ---------------------------------------------------------------------------
# Products


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def price_text(product: Product, styles: RenderStyles) -> Text | None:
    if product.price is None:
        return None
    text = Text(format_price(product.price), style=styles.price, end="")
    original = product.original_price
    if original is not None:
        percent = discount_percent(product.price, original)
        was = format_price(original)
        numeric = _is_number(original.amount) and _is_number(product.price.amount)
        if percent is not None or (not numeric and was != text.plain):
            text.append("  ")
            text.append(was, styles.dim + STRIKE)
        if percent is not None:
            text.append(f"  -{percent} %", styles.discount)
    return text


def _wrap_capped(text: Text, width: int, max_lines: int) -> list[Text]:
    lines = wrap_lines(text, width)[0]
    if len(lines) <= max_lines:
        return lines
    kept = lines[:max_lines]
    last = kept[-1]
    last.rstrip()
    last.truncate(width - 1)
    last.append("…")
    return kept


def product_card(
    product: Product, frame: Frame, styles: RenderStyles, console: Console
) -> list[Line]:
    width = max(8, min(frame.inner, CARD_MAX_WIDTH))
    inner = width - 4
    border = styles.card
    body: list[Text] = []
    title = Text(sanitize_line(product.title) or "(untitled product)", style=BOLD, end="")
    if product.splash:
        title.append(f"  {sanitize_line(product.splash).strip()}", styles.discount)
    body.extend(wrap_lines(title, inner)[0])
    price = price_text(product, styles)
    if price is not None:
        body.extend(wrap_lines(price, inner)[0])
    if product.description:
        description = Text(sanitize(product.description), style=styles.dim, end="")
        body.extend(_wrap_capped(description, inner, DESCRIPTION_MAX_LINES))
    if product.url:
        url = sanitize_line(product.url)
        body.extend(wrap_lines(Text(url, style=link_style(styles.link, product.url)), inner)[0])
    cart = product.add_to_cart
    if cart is not None:
        line = Text(f"🛒 Add to cart ({sanitize_line(cart.sku)})", style=styles.dim, end="")
        if cart.url:
            line = Text("🛒 ", end="")
            line.append(
                f"Add to cart ({sanitize_line(cart.sku)})", link_style(styles.link, cart.url)
            )
        body.extend(wrap_lines(line, inner)[0])
    lines = [frame_line(frame, console, (Segment(f"╭{'─' * (width - 2)}╮", border),))]
    for line in body:
        pad = " " * max(0, inner - line.cell_len)
        lines.append(
            frame_line(
                frame, console, (Segment("│ ", border), line, Segment(pad), Segment(" │", border))
            )
        )
    lines.append(frame_line(frame, console, (Segment(f"╰{'─' * (width - 2)}╯", border),)))
    return lines


def render_products(
    part: ProductsPart, frame: Frame, styles: RenderStyles, console: Console
) -> list[Line]:
    lines: list[Line] = []
    for product in part.products:
        lines.extend(product_card(product, frame, styles, console))
    return lines


# ---------------------------------------------------------------------------
# Tables


def cell_text(cell: str | Cell, styles: RenderStyles) -> Text:
    """A table cell as one Text: paragraphs and list items on their own lines."""
    if isinstance(cell, str):
        return Text(sanitize(cell), end="")
    if not cell.blocks:
        return Text(sanitize(cell.text or ""), end="")
    lines: list[Text] = []
    for block in cell.blocks:
        if block.type == "paragraph":
            lines.append(spans_text(block.spans, styles))
        elif block.type == "bullet_list":
            for item in block.items:
                line = Text(BULLET, end="")
                line.append_text(spans_text(item.spans, styles))
                lines.append(line)
        elif block.type == "image" and block.url:
            label = sanitize_line(block.alt or "").strip() or "image"
            target = None if is_data_url(block.url) else block.url
            lines.append(Text(f"📷 {label}", style=link_style(styles.link, target), end=""))
    return Text("\n", end="").join(lines)


_JUSTIFY: Final = {"left": "left", "center": "center", "centre": "center", "right": "right"}


def render_table(
    part: TablePart,
    frame: Frame,
    styles: RenderStyles,
    console: Console,
    joins: bytearray | None = None,
) -> list[Line]:
    columns = max([len(part.headers), *(len(row) for row in part.rows)], default=0)
    if columns == 0:
        return []
    alignments = part.alignments or []
    table = Table(
        box=box.ROUNDED,
        border_style=styles.card,
        header_style=styles.table_header,
        show_header=bool(part.headers),
        expand=False,
    )
    for index in range(columns):
        header = cell_text(part.headers[index], styles) if index < len(part.headers) else Text("")
        align = alignments[index].lower() if index < len(alignments) else "left"
        table.add_column(header, justify=_JUSTIFY.get(align, "left"), overflow="fold")  # type: ignore[arg-type]
    for row in part.rows:
        cells = [cell_text(cell, styles) for cell in row]
        cells.extend(Text("") for _ in range(columns - len(cells)))
        table.add_row(*cells)
    options = console.options.update(width=frame.inner, highlight=False, markup=False)
    rendered = console.render_lines(table, options, style=frame.fill, pad=False)
    lines = [frame_line(frame, console, line) for line in rendered]
    if joins is not None:
        joins.extend(bytes(len(lines)))  # a table's rows are lines of their own
    if part.caption:
        # Below the table at the full width: Rich would wrap it to the table's width.
        caption = Text(sanitize(part.caption), style=styles.dim, end="")
        lines.extend(text_lines(caption, frame, console, joins=joins))
    return lines


# ---------------------------------------------------------------------------
# Small parts


def attachment_lines(
    part: ImagePart | FilePart,
    frame: Frame,
    styles: RenderStyles,
    console: Console,
    joins: bytearray | None = None,
) -> list[Line]:
    """An image or a file: kind icon, name, type, size and expiry (an expired link in the
    warning style, and not a hyperlink), then the URL. A `data:` URL (a visitor's own photo)
    is described, never printed."""
    if isinstance(part, ImagePart):
        # 📷 rather than 🖼: U+1F5BC is one cell to Rich but two in many terminals.
        icon, label = "📷", sanitize_line(part.caption or "") or "image"
    else:
        icon, label = "📎", sanitize_line(part.filename or "") or "file"
    mime, size = part.mime_type, part.size_bytes
    inline = is_data_url(part.url)
    if inline:
        data_mime, data_size = data_url_facts(part.url)
        mime, size = mime or data_mime, size if size is not None else data_size
    expired = not inline and is_expired(part.url_expires_at)
    facts = [sanitize_line(mime or ""), format_size(size)]
    facts.append("sent inline" if inline else expiry_note(part.url_expires_at))
    details = ", ".join(fact for fact in facts if fact)
    text = Text(label, end="")
    if details:
        text.append(f" ({details})", styles.warning if expired else styles.dim)
    lines = text_lines(text, frame, console, f"{icon} ", "   ", joins=joins)
    if part.url and not inline:
        target = None if expired else part.url
        style = styles.dim + STRIKE if expired else link_style(styles.link, target)
        link = Text(sanitize_line(part.url), style=style, end="")
        lines.extend(text_lines(link, frame, console, "   ", "   ", joins=joins))
    return lines


def choice_lines(
    titles: Sequence[str],
    frame: Frame,
    styles: RenderStyles,
    console: Console,
    joins: bytearray | None = None,
) -> list[Line]:
    lines: list[Line] = []
    for title in titles:
        text = Text(sanitize_line(title), end="")
        lines.extend(text_lines(text, frame, console, "→ ", "  ", styles.dim, joins))
    return lines


def placeholder_lines(
    kind: str,
    frame: Frame,
    styles: RenderStyles,
    console: Console,
    joins: bytearray | None = None,
) -> list[Line]:
    text = Text(f"[unsupported content: {sanitize_line(kind) or 'unknown'}]", style=styles.dim)
    return text_lines(text, frame, console, joins=joins)


def part_type(part: Part) -> str:
    config = getattr(type(part), "__struct_config__", None)
    tag = getattr(config, "tag", None)
    return tag if isinstance(tag, str) else str(getattr(part, "type", "unknown"))


def render_part(
    part: Part,
    frame: Frame,
    styles: RenderStyles,
    console: Console,
    joins: bytearray | None = None,
) -> list[Line]:
    """Every part kind, as framed lines at `frame.width`. Rich text is laid out per block.
    With `joins`, append each line's join there (see `JOIN_SPACE`)."""
    before = len(joins) if joins is not None else 0
    lines = _part_lines(part, frame, styles, console, joins)
    if joins is not None and len(joins) - before != len(lines):
        # A kind whose lines are all lines of their own (cards, tables) records none.
        del joins[before:]
        joins.extend(bytes(len(lines)))
    return lines


def _part_lines(
    part: Part,
    frame: Frame,
    styles: RenderStyles,
    console: Console,
    joins: bytearray | None,
) -> list[Line]:
    if isinstance(part, TextPart):
        layout = ParagraphLayout(frame, styles, console)
        layout.extend([Span(text=part.text)])
        layout.settle()
        if joins is not None:
            joins += layout.joins
        return layout.lines
    if isinstance(part, RichTextPart):
        return render_blocks(part.blocks, frame, styles, console, joins)
    if isinstance(part, ProductsPart):
        return render_products(part, frame, styles, console)
    if isinstance(part, SuggestionsPart):
        return choice_lines(
            [s.title or s.prompt_text for s in part.suggestions], frame, styles, console, joins
        )
    if isinstance(part, QuickRepliesPart):
        return choice_lines(part.replies, frame, styles, console, joins)
    if isinstance(part, TablePart):
        return render_table(part, frame, styles, console, joins)
    if isinstance(part, (ImagePart, FilePart)):
        return attachment_lines(part, frame, styles, console, joins)
    if isinstance(part, (ContactFormPart, FormPart, SupportTicketPart)):
        form = marker_text(part).removeprefix("[form] ")
        return text_lines(Text(form, end=""), frame, console, "📝 ", "   ", joins=joins)
    if isinstance(part, ImageUploadPart):
        prompt = upload_prompt_text(part).removeprefix("[upload] ")
        text = Text(prompt, style=styles.dim, end="")
        return text_lines(text, frame, console, "📤 ", "   ", joins=joins)
    if isinstance(part, HumanAgentPart):
        offer = Text("The bot offers to hand over to a human agent.", style=styles.dim, end="")
        return text_lines(offer, frame, console, "👤 ", "   ", joins=joins)
    return placeholder_lines(part_type(part), frame, styles, console, joins)


# ---------------------------------------------------------------------------
# Entry furniture: labels, notices, state markers, footers

NOTICE_ICONS: Final = {"info": "ℹ ", "warning": "⚠ ", "error": "✖ "}


def label_lines(label: str, style: Style, frame: Frame, console: Console) -> list[Line]:
    return [frame_line(frame, console, (Text(sanitize_line(label), style=style, end=""),))]


def notice_lines(
    text: str,
    variant: str,
    frame: Frame,
    styles: RenderStyles,
    console: Console,
    joins: bytearray | None = None,
) -> list[Line]:
    style = {"warning": styles.notice_warning, "error": styles.notice_error}.get(
        variant, styles.notice_info
    )
    body = Text(sanitize(text), style=style, end="")
    return text_lines(body, frame, console, NOTICE_ICONS.get(variant, "ℹ "), HANGING, style, joins)


def state_lines(
    state: str,
    note: str | None,
    show_waiting: bool,
    spinner_frame: int,
    frame: Frame,
    styles: RenderStyles,
    console: Console,
    joins: bytearray | None = None,
) -> list[Line]:
    """The marker under an entry for its state; done entries have none. With `joins`, each
    line's join is appended there (see `JOIN_SPACE`)."""
    suffix = f" — {sanitize(note)}" if note else ""
    if state in ("waiting", "streaming"):
        if not show_waiting:
            return []
        glyph = SPINNER[spinner_frame % len(SPINNER)]
        return text_lines(
            Text("Thinking…", style=styles.dim, end=""),
            frame,
            console,
            f"{glyph} ",
            "  ",
            styles.dim,
            joins,
        )
    if state == "incomplete":
        text = Text(f"reply incomplete{suffix}", style=styles.warning, end="")
        return text_lines(text, frame, console, "⚠ ", HANGING, styles.warning, joins)
    if state == "cancelled":
        text = Text(f"reply cancelled{suffix}", style=styles.dim, end="")
        return text_lines(text, frame, console, "✕ ", HANGING, styles.dim, joins)
    if state == "error":
        text = Text(sanitize(note) if note else "Something went wrong.", style=styles.error, end="")
        return text_lines(text, frame, console, "✖ ", HANGING, styles.error, joins)
    return []


def footer_lines(
    text: str | None,
    frame: Frame,
    styles: RenderStyles,
    console: Console,
    joins: bytearray | None = None,
) -> list[Line]:
    if not text:
        return []
    return text_lines(Text(sanitize(text), style=styles.dim, end=""), frame, console, joins=joins)


# ---------------------------------------------------------------------------
# Height estimates, for entries not laid out yet at the current width


def _chars(spans: Sequence[Span]) -> int:
    return sum(len(span.text) for span in spans)


def _text_estimate(chars: int, width: int) -> int:
    return chars // max(1, width) + 1 if chars else 0


def estimate_blocks(blocks: Sequence[Block], width: int) -> int:
    total = 0
    for block in blocks:
        if block.type == "paragraph":
            lines = _text_estimate(_chars(block.spans), width)
        elif block.type == "bullet_list":
            lines = sum(_text_estimate(_chars(item.spans), width - 2) for item in block.items)
        else:
            lines = 0
        if lines:
            total += lines + (1 if total else 0)
    return total


def estimate_lines(part: Part, width: int) -> int:
    """A cheap guess of a part's height (O(structure), never O(text)); corrected on layout."""
    width = max(1, width)
    if isinstance(part, TextPart):
        return _text_estimate(len(part.text), width) + part.text.count("\n")
    if isinstance(part, RichTextPart):
        return estimate_blocks(part.blocks, width)
    if isinstance(part, ProductsPart):
        return 6 * len(part.products)
    if isinstance(part, SuggestionsPart):
        return len(part.suggestions)
    if isinstance(part, QuickRepliesPart):
        return len(part.replies)
    if isinstance(part, TablePart):
        return 2 * len(part.rows) + 4 + (1 if part.caption else 0)
    if isinstance(part, (ImagePart, FilePart)):
        return 2
    return 1
