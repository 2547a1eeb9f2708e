"""The chat transcript: one Line API widget for the whole conversation.

Why not one `Markdown` widget per reply: Textual re-lays-out every child on each change, so
a streamed 100 KB reply costs hundreds of milliseconds per delta. Here the conversation is
a model (entries → parts → blocks) whose rendering is cached as wrapped lines (compact
`render.Line` tuples; only lines on screen become `Strip`s, through an LRU), and
`render_line` only looks lines up.

Cost model:

* Mutators (`set_block` & co.) only record the new content and mark the entry dirty: O(1).
  Layout happens in `_flush`, at most once per `FLUSH_INTERVAL`, so a burst of deltas
  between two frames is wrapped once. `stream_block` goes further for the streaming hot
  path: it names a growing block's source once, and while the entry streams a timer looks
  at the block every `FLUSH_INTERVAL` and lays the entry out when the source gives a new
  one. The thousands of deltas between two frames cost the transcript nothing each, and
  one materialization per frame; a stalled stream costs a look per frame.
* A dirty paragraph that grew by appends re-wraps only its last line plus the new text
  (`render.ParagraphLayout`): O(delta), however long the paragraph.
* Each entry keeps its chunks (header, one per block or part, state marker, footer) with
  cumulative line offsets, recomputed only from the changed chunk onward: changing the last
  block is O(1) chunks. Entry heights live in a Fenwick tree, so mapping a scroll position
  to a line and updating one entry's height are O(log n).
* Layout is lazy: an entry is laid out when it becomes visible; until then its height is an
  estimate. A width or theme change just bumps a generation counter; visible entries are
  re-wrapped at once and the rest in small background slices, keeping the line at the top
  of the viewport in place while heights above it settle.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from time import monotonic
from typing import ClassVar, Literal

import msgspec
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.cache import LRUCache
from textual.geometry import Offset, Region, Size
from textual.message import Message
from textual.reactive import var
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar
from textual.selection import Selection
from textual.strip import Strip
from textual.style import Style as VisualStyle
from textual.timer import Timer

from dialogtui.api.models import Block, Part, TextPart, plain_text
from dialogtui.conversation.outcome import Outcome
from dialogtui.ui.pictures import Picture
from dialogtui.ui.render import (
    JOIN_CHOP,
    JOIN_HARD,
    JOIN_SPACE,
    Frame,
    Line,
    RenderStyles,
    join_rows,
    line_text,
    notice_lines,
    render_part,
)
from dialogtui.ui.scrollbar import StripScrollBar
from dialogtui.ui.textual_hooks import install_vertical_scrollbar, set_virtual_height_quietly

from .document import (
    BlockSource,
    Entry,
    EntryState,
    HeightIndex,
    NoticeVariant,
    OlderEntry,
    TranscriptDocument,
    plain,
)
from .layout import EntryLayout


@dataclass(frozen=True, slots=True)
class _Box:
    """What `Transcript.render_lines` puts around each line: the padding, and the width."""

    left: tuple[Segment, ...]  # empty without padding: Textual rejects empty segments
    right: tuple[Segment, ...]
    width: int


def _pad(width: int, style: Style) -> tuple[Segment, ...]:
    return (Segment(" " * width, style),) if width else ()


@dataclass(slots=True)
class _Anchor:
    """The line at the top of the viewport, as (entry, line in entry), to keep it in place."""

    index: int
    offset: int
    height: int


COPY_WIDTH = 1000
"""The width a message is laid out at for copying (`copy_text`): wider than any window, so
its text breaks only where it does, and tables and cards take their own width."""


class Transcript(ScrollView, can_focus=True):
    """The whole conversation on the Line API. See the module docstring for the design."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "transcript--user",
        "transcript--user-label",
        "transcript--assistant",
        "transcript--system",
        "transcript--dim",
        "transcript--link",
        "transcript--notice-info",
        "transcript--notice-warning",
        "transcript--notice-error",
        "transcript--error",
        "transcript--warning",
        "transcript--card",
        "transcript--price",
        "transcript--discount",
        "transcript--table-header",
        "transcript--bullet",
        "transcript--match",
        "transcript--match-current",
        "transcript--cursor",
        "transcript--new-below",
    }

    DEFAULT_CSS = """
    Transcript {
        background: $surface;
        color: $foreground;
        padding: 0 1;
        overflow-x: hidden;
        /* Always reserve the scrollbar: a scrollbar appearing would change the width and
           re-wrap everything just as the first long reply arrives. */
        overflow-y: scroll;
        scrollbar-size-vertical: 1;
        & > .transcript--user { background: $primary 12%; color: $foreground; }
        & > .transcript--user-label { color: $text-accent; text-style: bold; }
        & > .transcript--assistant { color: $text-primary; text-style: bold; }
        & > .transcript--system { color: $text-muted; text-style: bold; }
        & > .transcript--dim { color: $text-muted; }
        & > .transcript--link { color: $text-primary; text-style: underline; }
        & > .transcript--notice-info { color: $text-muted; }
        & > .transcript--notice-warning { color: $text-warning; }
        & > .transcript--notice-error { color: $text-error; }
        & > .transcript--error { color: $text-error; }
        & > .transcript--warning { color: $text-warning; }
        & > .transcript--card { color: $foreground 35%; }
        & > .transcript--price { color: $text-success; text-style: bold; }
        & > .transcript--discount { color: $text-success; }
        & > .transcript--table-header { color: $text-primary; text-style: bold; }
        & > .transcript--bullet { color: $text-accent; }
        & > .transcript--match { background: $warning 40%; }
        & > .transcript--match-current { background: $warning; color: $background; }
        & > .transcript--cursor { background: $accent 35%; }
        & > .transcript--new-below { background: $accent; color: $background; text-style: bold; }
    }
    /* Where the keys go must be visible: a focused transcript shows it in its scrollbar. */
    Transcript:focus {
        scrollbar-color: $accent;
        scrollbar-background: $accent 25%;
    }
    """

    FLUSH_INTERVAL: float = 1 / 30
    """Minimum seconds between two layouts; deltas arriving in between are laid out together.
    Each layout brings a frame: 30 a second is smooth for text, and a reply streaming at a
    reading pace (a delta every 20 ms) costs half the frames it would at 60."""
    BACKGROUND_BUDGET: float = 0.008
    """Seconds of background re-wrapping per tick after a width change."""

    class NearTop(Message):
        """The person scrolled up to within a screen of the top: time for older history.
        `at_top`: up to the very first line."""

        def __init__(self, at_top: bool) -> None:
            super().__init__()
            self.at_top = at_top

    class LeftTop(Message):
        """The first line is no longer at the top of the view (scrolled, or older entries
        went above it)."""

    bot_name: var[str] = var("Assistant")
    """The label of assistant entries (the chatbot's display name)."""

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._doc = TranscriptDocument()
        self._layout = layout = EntryLayout(self._console_for_render)
        layout.on_waiting = self._resume_spinner
        self._styles_stale = True
        self._labels_stale = False
        # Strips for lines on screen, keyed by the line itself: equal lines share a Strip,
        # and a re-laid-out line is a new key (so no width or version in the key).
        self._strip_cache: LRUCache[Line, Strip] = LRUCache(512)
        # The same lines inside the widget's padding, for `render_lines`; cleared with the box.
        self._boxed_cache: LRUCache[Line, Strip] = LRUCache(512)
        self._box: _Box | None = None
        self._rich_console: Console | None = None
        self._follow = True
        self._flush_state: Literal["idle", "queued", "timer"] = "idle"
        self._flush_timer: Timer | None = None
        self._last_flush = 0.0
        self._programmatic_scroll = False
        self._repaint_from: int | None = None
        self._committed_height = 0  # the content's height at the last `_commit`
        self._rebuilt: set[int] = set()
        self._bg_cursor = -1
        self._bg_timer: Timer | None = None
        self._spin_timer: Timer | None = None
        self._poll_timer: Timer | None = None
        # "New messages below": shown while the person reads history and the end changes.
        self._new_below = False
        self._away_from: tuple[int, int] | None = None  # the end when following stopped
        # Highlights over the lines: the mouse selection, search matches, the message cursor.
        self._marking = False
        self._selection_style = Style(reverse=True)
        self._search = _Search()
        self._cursor: int | None = None  # entry index of the message cursor
        self._held_selection: tuple[tuple[int, int], tuple[int, int]] | None = None
        # Where the reader was before entries went on top (`prepend`): the next layout keeps
        # that line in place rather than the line now at the old scroll offset.
        self._pinned: _Anchor | None = None

    # The model's parts, by the names the widget (and its tests) always used.

    @property
    def document(self) -> TranscriptDocument:
        """The entries shown (see `document.py`): read it, change it through this widget."""
        return self._doc

    @property
    def _entries(self) -> list[Entry]:
        return self._doc.entries

    @property
    def _heights(self) -> HeightIndex:
        return self._doc.heights

    @property
    def _live(self) -> dict[int, Entry]:
        return self._doc.live

    @property
    def _dirty(self) -> dict[int, Entry]:
        return self._doc.dirty

    @property
    def _gen(self) -> int:
        return self._layout.gen

    @property
    def _width(self) -> int:
        return self._layout.width

    # ------------------------------------------------------------------
    # Public API

    @property
    def entry_count(self) -> int:
        return len(self._doc.entries)

    @property
    def entry_ids(self) -> list[int]:
        """Ids of the entries shown, in order (ids are not reused after `clear`)."""
        base = self._doc.id_base
        return [base + entry.index for entry in self._doc.entries]

    @property
    def follow(self) -> bool:
        """Auto-scroll to the end as content arrives. Scrolling up clears it; reaching the
        bottom (or setting it) restores it."""
        return self._follow

    @follow.setter
    def follow(self, value: bool) -> None:
        if self._follow and not value:
            self._away_from = self._last_version()
        self._follow = value
        if value:
            self._set_new_below(False)
            self._schedule(urgent=True)

    def add_entry(
        self,
        role: str,
        parts: Sequence[Part] = (),
        *,
        state: EntryState = Outcome.DONE,
        label: str | None = None,
    ) -> int:
        """Append an entry and return its id. Ids are never reused, not even after `clear`, so a
        late update from a stream that ran across a `clear` is ignored, never misplaced.
        `label` names the speaker instead of the role's default (a human agent's name)."""
        entry = self._doc.new_entry(role, parts, state, label=label)
        self._append(entry)
        return self._doc.entry_id(entry)

    def add_notice(self, text: str, *, variant: NoticeVariant = "info") -> int:
        entry = self._doc.new_notice(text, variant)
        self._append(entry)
        return self._doc.entry_id(entry)

    def prepend(self, items: Sequence[OlderEntry]) -> list[int]:
        """Put entries above every entry (older history), in order; their ids. The lines the
        reader is looking at stay where they are on screen; the selection, the search
        matches and the message cursor stay on the text they were on."""
        doc = self._doc
        added = [
            doc.new_notice(item.text, item.variant)
            if item.role == "notice"
            else doc.new_entry(item.role, item.parts, Outcome.DONE, label=item.label)
            for item in items
        ]
        if not added:
            return []
        count = len(added)
        mounted = self.is_mounted and self._flush_now()
        # Where everything is before it moves, in places that survive the move.
        anchor = None
        if mounted and not self._follow:
            # Where the reader is going, if a scroll is under way (Home glides to the top):
            # the glide stops there, and the page goes above that line.
            line = round(self.scroll_target_y)
            animator = self.app.animator
            if animator.is_being_animated(self, "scroll_y"):
                self._programmatic_scroll = True  # not the person scrolling: no NearTop
                try:
                    animator.force_stop_animation(self, "scroll_y")
                finally:
                    self._programmatic_scroll = False
            anchor = self._anchor(line)
        held = self._hold_selection() if mounted else None
        search = self._search
        current = search.matches[search.current] if search.query and search.matches else None
        doc.prepend(added, self._layout.estimate)

        def moved(index: int, line: int) -> tuple[int, int]:
            # The entry that was first gets the gap line that separates entries.
            return index + count, line + (1 if index == 0 else 0)

        if anchor is not None:
            index, offset = moved(anchor.index, anchor.offset)
            grown = offset - anchor.offset  # the gap line, if it was the first entry
            self._pinned = _Anchor(index, offset, anchor.height + grown)
        if held is not None:
            (start, start_count), (end, end_count) = held
            self._held_selection = ((start + count, start_count), (end + count, end_count))
        spinning = self._layout.spinning
        shifted = {index + count for index in spinning}
        spinning.clear()
        spinning.update(shifted)
        if self._cursor is not None:
            self._cursor += count
        if self._away_from is not None:
            self._away_from = (self._away_from[0] + count, self._away_from[1])
        self._bg_cursor = max(self._bg_cursor + count, count)
        if self._bg_timer is not None:
            self._bg_timer.resume()
        self._mark_repaint(0)
        if mounted:
            self._flush()
        else:
            self._schedule(urgent=True)
        if current is not None:
            self._search.run(self, self._search.query)
            index, line = moved(current[0], current[1])
            place = (index, line, current[2], current[3])
            matches = self._search.matches
            self._search.current = matches.index(place) if place in matches else len(matches) - 1
            self._update_marking()
        return [doc.entry_id(entry) for entry in added]

    def set_part(self, entry_id: int, part_index: int, part: Part) -> None:
        """Add (at index == count) or replace one part."""
        entry = self._doc.entry(entry_id)
        if entry is not None:
            self._doc.set_part(entry, part_index, part)
            self._schedule()

    def show_picture(self, entry_id: int, part_index: int, url: str, picture: Picture) -> None:
        """Draw `picture` above an image part's text line, if the part still shows `url`."""
        entry = self._doc.entry(entry_id)
        if entry is None or entry.role == "notice":
            return
        parts = entry.parts()
        if part_index >= len(parts) or getattr(parts[part_index], "url", None) != url:
            return
        self._layout.pictures[url] = picture
        self._doc.set_part(entry, part_index, parts[part_index])  # laid out again, with it
        self._schedule()

    def set_parts(self, entry_id: int, parts: Sequence[Part]) -> None:
        """Replace all parts. Blocks equal to what is shown keep their layout."""
        entry = self._doc.entry(entry_id)
        if entry is not None:
            self._doc.set_parts(entry, parts)
            self._schedule()

    def set_block(self, entry_id: int, part_index: int, block_index: int, block: Block) -> None:
        """The hot path: the new content of one block of a rich_text part (appends at index
        == count). A part index == count starts a new rich_text part; a non-rich part at that
        index is replaced by a rich_text one."""
        entry = self._doc.entry(entry_id)
        if entry is not None:
            self._doc.set_block(entry, part_index, block_index, block)
            self._schedule()

    def stream_block(
        self, entry_id: int, part_index: int, block_index: int, source: BlockSource
    ) -> None:
        """Follow block `block_index` of rich_text part `part_index`, new or growing: while the
        entry is waiting or streaming, each layout takes the block from `source` when its
        `block_version` has moved since the last one taken; a timer looks every
        `FLUSH_INTERVAL`. So a block is named once, not once per delta (calling again is
        harmless: O(1)).

        Following ends, after one last fetch, when the entry leaves the streaming states
        (`set_state`), and for a part replaced by `set_part` or `set_parts`. The part must
        already be rich text (`set_part` puts it there); a source for anything else, or one
        that raises IndexError, is dropped before anything changes."""
        entry = self._doc.entry(entry_id)
        if entry is None:
            return
        touched = self._doc.stream_block(entry, part_index, block_index, source)
        if self._poll_timer is not None:
            self._poll_timer.resume()
        if touched:
            self._schedule()

    def set_state(self, entry_id: int, state: EntryState, note: str | None = None) -> None:
        entry = self._doc.entry(entry_id)
        if entry is not None:
            self._doc.set_state(entry, state, note)
            self._schedule()

    def set_footer(self, entry_id: int, text: str | None) -> None:
        entry = self._doc.entry(entry_id)
        if entry is not None:
            self._doc.set_footer(entry, text)
            self._schedule()

    def clear(self) -> None:
        """Remove every entry. Ids go on counting: calls for a removed entry are ignored."""
        self._doc.clear()
        self._layout.spinning.clear()
        self._layout.pictures.clear()
        self._follow = True
        self._bg_cursor = -1
        self._repaint_from = 0
        # What pointed into the old entries goes with them.
        self._new_below = False
        self._cursor = None
        self._held_selection = None
        if self._search.query:
            self._search = _Search()
        if self.is_mounted:
            if self.text_selection is not None:
                self.screen.selections = {
                    widget: selection
                    for widget, selection in self.screen.selections.items()
                    if widget is not self
                }
            self._update_marking()
        self._schedule(urgent=True)

    def _laid_out(self, entry_id: int) -> tuple[Entry, bool]:
        """The entry, laid out at the current width as it stands; False with it if the widget
        cannot lay out yet."""
        entry = self._doc.entry(entry_id)
        if entry is None:
            raise KeyError(f"no entry {entry_id}")
        if entry.streaming and self._doc.fetch_streaming(entry):
            self._doc.dirty[entry.index] = entry
        if not self._flush_now():
            return entry, False
        if entry.gen != self._layout.gen:
            self._build(entry)
            self._schedule()
        return entry, True

    def entry_text(self, entry_id: int) -> str:
        """The plain text of an entry as displayed (label and markers included, the side
        padding of a message band left out): for tests."""
        entry, laid_out = self._laid_out(entry_id)
        if not laid_out:
            return entry.text if entry.role == "notice" else plain_text(entry.parts())
        skip = entry.frame.left
        lines = [plain(entry.line(offset), skip) for offset in range(entry.height)]
        return "\n".join(lines[1:] if entry.index else lines)

    def copy_text(self, entry_id: int) -> str:
        """An entry's content as written, for copying: a message's parts (a notice's text;
        no label, state marker or footer), laid out wider than any window and joined back
        where they were wrapped as a selection's copy joins them (`join_rows`): paragraphs
        and list items one line each, tables and product cards as their lines. So the same
        at any window width."""
        role, parts = self.entry_parts(entry_id)
        entry = self._doc.entry(entry_id)
        assert entry is not None  # entry_parts raised KeyError otherwise
        if not self.is_mounted:
            return entry.text if role == "notice" else plain_text(parts)
        frame, styles, console = Frame(COPY_WIDTH), RenderStyles(), self._console_for_render()
        laid_out: list[tuple[list[Line], bytearray]] = []
        if role == "notice":
            joins = bytearray()
            laid_out.append(
                (notice_lines(entry.text, entry.variant, frame, styles, console, joins), joins)
            )
        else:
            for part in parts:
                joins = bytearray()
                laid_out.append((render_part(part, frame, styles, console, joins), joins))
        sections = [
            join_rows(zip(map(line_text, lines), joins, strict=True)) for lines, joins in laid_out
        ]
        return "\n\n".join(section for section in sections if section.strip()).strip("\n")

    def visible_text(self) -> str:
        """The plain text of the lines in the viewport (without band padding, like
        `entry_text`), trailing blank lines dropped."""
        if not self._flush_now():
            return ""
        top = self.scroll_offset.y
        lines = []
        for y in range(self._viewport_height()):
            entry, line = self._entry_line_at(top + y)
            lines.append(plain(line, entry.frame.left if entry is not None else 0))
        return "\n".join(lines).rstrip("\n")

    # ------------------------------------------------------------------
    # Model bookkeeping (O(1) per call)

    def _append(self, entry: Entry) -> None:
        self._doc.append(entry, self._layout.estimate(entry))
        # Its lines are new wherever it lands: on a screen it does not fill, nothing scrolls
        # to repaint them.
        self._mark_repaint(self._doc.heights.prefix(entry.index))
        self._bg_cursor = max(self._bg_cursor, entry.index)
        if self._bg_timer is not None:
            self._bg_timer.resume()
        self._schedule()

    def _schedule(self, urgent: bool = False) -> None:
        """Arrange one flush: right away if the last was long enough ago, else by a timer."""
        state = self._flush_state
        if state == "queued" or (state == "timer" and not urgent):
            return
        if not self.is_mounted:
            return  # on_mount flushes
        delay = 0.0 if urgent else self.FLUSH_INTERVAL - (monotonic() - self._last_flush)
        if delay <= 0:
            if self._flush_timer is not None:
                self._flush_timer.stop()
                self._flush_timer = None
            self._flush_state = "queued"
            self.call_later(self._flush)
        else:
            self._flush_state = "timer"
            self._flush_timer = self.set_timer(delay, self._flush)

    # ------------------------------------------------------------------
    # Layout

    def _flush_now(self) -> bool:
        """Flush synchronously (for readers); False if the widget cannot lay out yet."""
        if self._flush_state != "idle" or self._dirty or self._width == 0:
            self._flush()
        return self._width > 0

    def _flush(self) -> None:
        self._flush_state = "idle"
        if self._flush_timer is not None:
            self._flush_timer.stop()
            self._flush_timer = None
        self._last_flush = monotonic()
        if not self.is_mounted:
            return
        width = self.scrollable_content_region.width
        if width <= 0:
            return
        self._sync_generation(width)
        anchor = self._reader_anchor()
        self._rebuilt.clear()
        doc, layout = self._doc, self._layout
        entries, heights = doc.entries, doc.heights
        dirty = list(doc.dirty.values())
        doc.dirty.clear()
        for entry in dirty:
            if not (entry.index < len(entries) and entries[entry.index] is entry):
                continue  # cleared meanwhile
            if entry.streaming:
                doc.fetch_streaming(entry)
            if entry.gen == layout.gen:
                changed = layout.apply_updates(entry)
                if changed is not None:
                    self._mark_repaint(heights.prefix(entry.index) + changed)
                heights.set(entry.index, entry.height)
            else:
                heights.set(entry.index, layout.estimate(entry))
                self._mark_repaint(heights.prefix(entry.index))
        self._fill_viewport(anchor)
        if self._held_selection is not None:
            self._restore_selection(self._held_selection)
        if self._search.query and self._search.gen != self._layout.gen:
            self._search.rerun(self)  # matches are lines, and the lines were wrapped anew
        self._commit(anchor)

    def _sync_generation(self, width: int) -> None:
        """Invalidate every layout when the width, theme or labels change (lazily)."""
        layout = self._layout
        styles = layout.styles
        if self._styles_stale:
            self._styles_stale = False
            styles = self._compute_styles()
        layout.bot_name = self.bot_name
        # The selection, as places in the text that survive re-wrapping (a new width).
        held = self._hold_selection() if self.is_mounted and self._marking else None
        if not layout.sync(width, styles, self._labels_stale):
            return
        self._held_selection = held
        self._labels_stale = False
        self._strip_cache.clear()
        self._boxed_cache.clear()
        entries = self._doc.entries
        self._doc.heights.rebuild([layout.estimate(entry) for entry in entries])
        self._bg_cursor = len(entries) - 1
        self._repaint_from = 0
        if self._bg_timer is not None and entries:
            self._bg_timer.resume()

    def _compute_styles(self) -> RenderStyles:
        def overlay(name: str) -> Style:
            # Foreground and attributes only, so overlays keep the line's background.
            # (The partial style would lose the alpha blending of colours like $text-muted.)
            full = self.get_component_rich_style(name)
            return Style(
                color=full.color,
                bold=full.bold,
                dim=full.dim,
                italic=full.italic,
                underline=full.underline,
                strike=full.strike,
                reverse=full.reverse,
            )

        base = self.rich_style
        return RenderStyles(
            base=base,
            user=base + self.get_component_rich_style("transcript--user"),
            user_label=overlay("transcript--user-label"),
            assistant_label=overlay("transcript--assistant"),
            system_label=overlay("transcript--system"),
            dim=overlay("transcript--dim"),
            link=overlay("transcript--link"),
            notice_info=overlay("transcript--notice-info"),
            notice_warning=overlay("transcript--notice-warning"),
            notice_error=overlay("transcript--notice-error"),
            error=overlay("transcript--error"),
            warning=overlay("transcript--warning"),
            card=overlay("transcript--card"),
            price=overlay("transcript--price"),
            discount=overlay("transcript--discount"),
            table_header=overlay("transcript--table-header"),
            bullet=overlay("transcript--bullet"),
        )

    def _console_for_render(self) -> Console:
        if self._rich_console is None:
            self._rich_console = self.app.console
        return self._rich_console

    def _build(self, entry: Entry) -> None:
        """Lay an entry out from scratch at the current width."""
        if entry.streaming:
            self._doc.fetch_streaming(entry)
        self._layout.build(entry)
        heights = self._doc.heights
        old = heights.value(entry.index)
        heights.set(entry.index, entry.height)
        self._rebuilt.add(entry.index)
        if old != entry.height:
            self._mark_repaint(heights.prefix(entry.index))

    def _resume_spinner(self) -> None:
        if self._spin_timer is not None and self.app.animation_level != "none":
            self._spin_timer.resume()

    # ------------------------------------------------------------------
    # Viewport and scrolling

    def _viewport_height(self) -> int:
        return self.scrollable_content_region.height

    def _reader_anchor(self) -> _Anchor | None:
        """The line to keep in place in this layout: None while following the end."""
        pinned, self._pinned = self._pinned, None
        if self._follow:
            return None
        return pinned if pinned is not None else self._anchor()

    def _anchor(self, line: int | None = None) -> _Anchor | None:
        """The entry line at the top of the view (or at `line`)."""
        total = self._heights.total
        if not total:
            return None
        top = self.scroll_offset.y if line is None else line
        index, offset = self._heights.find(max(0, min(top, total - 1)))
        return _Anchor(index, offset, self._heights.value(index))

    def _anchor_offset(self, anchor: _Anchor) -> int:
        height = self._heights.value(anchor.index)
        offset = anchor.offset
        if anchor.index in self._rebuilt and anchor.height and height != anchor.height:
            # Re-wrapped (e.g. a width change): keep the same fraction of the entry on top.
            offset = offset * height // anchor.height
        return max(0, min(offset, height - 1))

    def _fill_viewport(self, anchor: _Anchor | None) -> None:
        """Lay out every not-yet-laid-out entry that will be on screen."""
        entries, gen = self._entries, self._gen
        if not entries:
            return
        height = self._viewport_height()
        if self._follow:
            needed, index = height, len(entries) - 1
            while index >= 0 and needed > 0:
                entry = entries[index]
                if entry.gen != gen:
                    self._build(entry)
                needed -= entry.height
                index -= 1
            return
        index = anchor.index if anchor is not None else 0
        if entries[index].gen != gen:
            self._build(entries[index])
        line = -(self._anchor_offset(anchor) if anchor is not None else 0)
        while index < len(entries) and line < height:
            entry = entries[index]
            if entry.gen != gen:
                self._build(entry)
            line += entry.height
            index += 1

    def _commit(self, anchor: _Anchor | None) -> None:
        """Publish the new geometry once: virtual size, scroll position, repaint."""
        total = self._heights.total
        height = self._viewport_height()
        self._set_virtual_height(total)
        if self._follow:
            target: int | None = max(0, total - height)
        elif anchor is not None and anchor.index < len(self._entries):
            target = self._heights.prefix(anchor.index) + self._anchor_offset(anchor)
        else:
            target = None
        if not self._follow and not self._new_below and self._last_version() != self._away_from:
            self._set_new_below(True)
        top = self.scroll_offset.y
        # Below the content, old and new, every line is blank, before and after.
        content_end, self._committed_height = max(total, self._committed_height), total
        if target is not None and target != top:
            self._programmatic_scroll = True
            try:
                self.scroll_to(y=target, animate=False)
            finally:
                self._programmatic_scroll = False
            # The scroll watcher repaints the whole viewport.
            self._repaint_from = None
            return
        repaint_from, self._repaint_from = self._repaint_from, None
        end = min(top + height, content_end)
        if repaint_from is not None and repaint_from < end:
            start = max(repaint_from, top)
            self.refresh_lines(start, end - start)

    @property
    def vertical_scrollbar(self) -> ScrollBar:
        """Textual's own property, creating a `StripScrollBar` instead of a `ScrollBar`."""
        bar = self._vertical_scrollbar
        if bar is None:
            bar = StripScrollBar(
                vertical=True, name="vertical", thickness=self.scrollbar_size_vertical
            )
            install_vertical_scrollbar(self, bar)
        return bar

    def _set_virtual_height(self, total: int) -> None:
        size = Size(self._layout.width, total)
        if size == self.virtual_size:
            return
        if size.width != self.virtual_size.width or self.styles.overflow_y != "scroll":
            self.virtual_size = size  # may change the layout: let the screen reflow
            return
        # Only the height changed, and the scrollbar is always there: nothing outside this
        # widget moves, so skip the screen-wide reflow that setting `virtual_size` asks for
        # (a third of a streaming frame) and update the scrollbar ourselves.
        set_virtual_height_quietly(self, size)

    def _mark_repaint(self, line: int) -> None:
        if self._repaint_from is None or line < self._repaint_from:
            self._repaint_from = line

    def _entry_line_at(self, line: int) -> tuple[Entry | None, Line]:
        doc = self._doc
        heights = doc.heights
        if not 0 <= line < heights.total:
            return None, self._layout.blank
        index, offset = heights.find(line)
        entry = doc.entries[index]
        if entry.gen != self._layout.gen:
            # Normally laid out before rendering; this keeps a surprise consistent.
            self._build(entry)
            self._schedule(urgent=True)
        return entry, entry.line(offset)

    def render_line(self, y: int) -> Strip:
        """One line without the padding, its cells tagged with their (column, line) offsets:
        what Textual's text selection reads (`Compositor.get_widget_and_offset_at`) to map
        the mouse to the text. Painting goes through `render_lines`, which skips the tags."""
        layout = self._layout
        if not layout.frames:
            # Asked to paint before the first layout (no width yet): the flush repaints after.
            return Strip.blank(self.size.width, self.rich_style)
        number = self.scroll_offset.y + y
        _, line = self._entry_line_at(number)
        marks = self._marks_at(number) if self._marking else None
        if self._new_below and y == self._viewport_height() - 1:
            return Strip(self._new_below_strip(layout.width), layout.width)
        if marks:
            return Strip(self._marked_segments(line, marks), layout.width).apply_offsets(0, number)
        cached = self._strip_cache.get(line)
        if cached is None:
            cached = Strip(layout.palette.segments(line), layout.width)
            self._strip_cache.set(line, cached)
        return cached.apply_offsets(0, number)

    def render_lines(self, crop: Region) -> list[Strip]:
        """The lines in `crop`, padding included. When the box is plain padding on the
        background (as this widget's CSS has it) the transcript draws it from its own cache;
        Textual's line renderer (borders, tint, opacity…) would style every visible line
        again at each frame, and a streaming transcript scrolls, so repaints, every frame."""
        layout = self._layout
        if not layout.width or not layout.frames:
            return super().render_lines(crop)
        self._prepare_render()
        box = self._plain_box()
        if box is None:
            return super().render_lines(crop)
        if box != self._box:
            self._box = box
            self._boxed_cache.clear()
        cache, entry_line_at, top = self._boxed_cache, self._entry_line_at, self.scroll_offset.y
        palette = layout.palette
        strips: list[Strip] = []
        marking, marks_at = self._marking, self._marks_at
        for y in crop.line_range:
            line = entry_line_at(top + y)[1]
            marks = marks_at(top + y) if marking else None
            if marks:
                segments = self._marked_segments(line, marks)
                strips.append(Strip([*box.left, *segments, *box.right], box.width))
                continue
            strip = cache.get(line)
            if strip is None:
                strip = Strip([*box.left, *palette.segments(line), *box.right], box.width)
                cache.set(line, strip)
            strips.append(strip)
        if self._new_below:
            last = self._viewport_height() - 1
            if crop.y <= last < crop.bottom:
                marker = self._new_below_strip(layout.width)
                strips[last - crop.y] = Strip([*box.left, *marker, *box.right], box.width)
        filters = self.get_line_filters()
        if filters:
            background = self.background_colors[1]
            for line_filter in filters:
                strips = [strip.apply_filter(line_filter, background) for strip in strips]
        if crop.column_span != (0, box.width):
            x1, x2 = crop.column_span
            strips = [strip.crop(x1, x2) for strip in strips]
        if self.auto_links:  # as Textual does: an action link under the mouse is highlighted
            hover = self.hover_style
            if hover.link_id and "@click" in hover.meta and self.link_style_hover:
                strips = [
                    strip.style_links(hover.link_id, self.link_style_hover) for strip in strips
                ]
        return strips

    def _plain_box(self) -> _Box | None:
        """The padding around the lines, if that is all the box has; else None."""
        styles = self.styles
        top, right, bottom, left = styles.padding
        if (
            top
            or bottom
            or self.opacity != 1
            or styles.text_opacity != 1
            or styles.tint.a
            or any(edge for edge, _ in styles.border)
            or any(edge for edge, _ in styles.outline)
            or (styles.has_rule("hatch") and styles.hatch != "none")
        ):
            return None
        base_background, background = self.background_colors
        fill = VisualStyle(background=base_background + background).rich_style
        # Laid out as Textual lays a line: the content filled to the content width, the
        # padding, the whole region wide (the crop cuts off what the scrollbar covers).
        extra = self.content_region.width - self._layout.width
        if extra < 0:
            return None
        return _Box(_pad(left, fill), _pad(extra, fill) + _pad(right, fill), self.region.width)

    def _prepare_render(self) -> None:
        """Lay out entries scrolled into view before their lines are asked for."""
        heights, entries, gen = self._heights, self._entries, self._gen
        top, height = self.scroll_offset.y, self._viewport_height()
        if not heights.total or top >= heights.total:
            return
        index, offset = heights.find(top)
        line, built = -offset, False
        while index < len(entries) and line < height:
            entry = entries[index]
            if entry.gen != gen:
                self._build(entry)
                built = True
            line += entry.height
            index += 1
        if built:
            self._schedule(urgent=True)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if old_value < 1 <= new_value:
            self.post_message(self.LeftTop())
        if self._programmatic_scroll:
            return
        if new_value < old_value and new_value < self._viewport_height():
            self.post_message(self.NearTop(at_top=new_value < 1))
        if new_value >= self.max_scroll_y:
            self._follow = True
            self._set_new_below(False)
        elif new_value < old_value:
            if self._follow:
                self._away_from = self._last_version()
            self._follow = False

    # ------------------------------------------------------------------
    # Events and timers

    def on_mount(self) -> None:
        super().on_mount()  # type: ignore[no-untyped-call]
        self._rich_console = self.app.console
        self._bg_timer = self.set_interval(0.02, self._background_layout, pause=True)
        self._spin_timer = self.set_interval(0.1, self._spin, pause=True)
        self._poll_timer = self.set_interval(
            self.FLUSH_INTERVAL, self._poll_followed, pause=not self._doc.live
        )
        self._schedule(urgent=True)

    def on_resize(self) -> None:
        self._schedule(urgent=True)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles_stale = True
        if self.is_mounted:
            self._schedule(urgent=True)

    def watch_bot_name(self) -> None:
        self._labels_stale = True
        if self.is_mounted:
            self._schedule(urgent=True)

    def _poll_followed(self) -> None:
        """Followed blocks grow without telling (see `stream_block`): look at them once a
        frame, and lay out only an entry whose block the source now gives anew."""
        doc = self._doc
        dirty, fetch, grown = doc.dirty, doc.fetch_streaming, False
        for entry in list(doc.live.values()):
            if entry.index not in dirty and fetch(entry):
                dirty[entry.index] = entry
                grown = True
        if grown:
            # This clock is the throttle already: lay out now, not by a timer made for it (a
            # timer and its task each frame, for as long as a reply streams).
            self._flush()
        if not doc.live and self._poll_timer is not None:
            self._poll_timer.pause()

    def _background_layout(self) -> None:
        """After a width change, lay out off-screen entries a slice at a time (newest first)."""
        if self._width == 0:
            return
        entries, gen = self._entries, self._gen
        index = min(self._bg_cursor, len(entries) - 1)
        if index < 0:
            if self._bg_timer is not None:
                self._bg_timer.pause()
            return
        anchor = self._reader_anchor()
        self._rebuilt.clear()
        deadline = monotonic() + self.BACKGROUND_BUDGET
        built = False
        while index >= 0 and monotonic() < deadline:
            entry = entries[index]
            if entry.gen != gen:
                self._build(entry)
                built = True
            index -= 1
        self._bg_cursor = index
        if built:
            self._commit(anchor)

    def _spin(self) -> None:
        layout, entries = self._layout, self._doc.entries
        layout.spin_frame += 1
        for index in list(layout.spinning):
            entry = entries[index] if index < len(entries) else None
            if entry is None or entry.gen != layout.gen:
                layout.spinning.discard(index)
                continue
            lines = layout.state_lines(entry)
            if len(lines) != len(entry.status.lines):
                self._doc.dirty[entry.index] = entry  # its height changes: the flush handles it
                self._schedule()
                entry.status_dirty = True
                continue
            entry.status.lines = lines
            line = self._heights.prefix(entry.index) + entry.offsets[entry.status.pos]
            self.refresh_lines(line, len(lines))
        if not layout.spinning and self._spin_timer is not None:
            self._spin_timer.pause()

    # ------------------------------------------------------------------
    # Highlights: the "new messages below" marker, the selection, search, the message cursor

    def _last_version(self) -> tuple[int, int]:
        entries = self._doc.entries
        return (entries[-1].index, entries[-1].version) if entries else (-1, 0)

    def _set_new_below(self, value: bool) -> None:
        if value == self._new_below:
            return
        self._new_below = value
        if self.is_mounted:
            self.refresh_lines(self.scroll_offset.y + self._viewport_height() - 1)

    @property
    def new_messages_below(self) -> bool:
        """The marker is shown: the end changed while the person read history."""
        return self._new_below

    def _new_below_strip(self, width: int) -> list[Segment]:
        text = " ↓ New messages below · End or click to go down "
        style = self.rich_style + self.get_component_rich_style("transcript--new-below")
        text = text[:width]
        pad = max(0, width - len(text))
        return [
            Segment(" " * (pad // 2), self.rich_style),
            Segment(text, style),
            Segment(" " * (pad - pad // 2), self.rich_style),
        ]

    def _update_marking(self) -> None:
        was, self._marking = (
            self._marking,
            bool(
                self.text_selection is not None or self._search.matches or self._cursor is not None
            ),
        )
        if was or self._marking:
            self.refresh()

    def _marks_at(self, number: int) -> list[tuple[int, int, Style]] | None:
        """The highlighted character ranges of line `number`: (start, end, style)."""
        heights = self._doc.heights
        if not 0 <= number < heights.total:
            return None
        marks: list[tuple[int, int, Style]] = []
        index, offset = heights.find(number)
        if index == self._cursor and self.is_mounted:
            style = self.get_component_rich_style("transcript--cursor", partial=True)
            marks.append((0, 1 << 30, style))
        search = self._search
        if search.matches:
            for position, (_, _, start, end) in search.on_line(index, offset):
                current = position == search.current
                name = "transcript--match-current" if current else "transcript--match"
                marks.append((start, end, self.get_component_rich_style(name, partial=True)))
        selection = self.text_selection
        if selection is not None:
            span = selection.get_span(number)
            if span is not None:
                start, end = span
                marks.append((start, 1 << 30 if end == -1 else end, self._selection_style))
        return marks

    def _marked_segments(self, line: Line, marks: list[tuple[int, int, Style]]) -> list[Segment]:
        """The line's segments with `marks` applied (a mark's style over the line's)."""
        styles = self._layout.palette.styles
        cuts = sorted({edge for start, end, _ in marks for edge in (start, end)})
        out: list[Segment] = []
        position = 0
        for text, style_id in line:
            base = styles[style_id]
            end_of_text = position + len(text)
            start = position
            for cut in [*[c for c in cuts if position < c < end_of_text], end_of_text]:
                piece = text[start - position : cut - position]
                if piece:
                    style = base
                    for mark_start, mark_end, mark_style in marks:
                        if mark_start <= start < mark_end:
                            style = mark_style if style is None else style + mark_style
                    out.append(Segment(piece, style))
                start = cut
            position = end_of_text
        return out

    # -- selection (Textual's own machinery: offsets from `render_line`) --

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        """The text under a selection, as written rather than as wrapped: the lines a
        paragraph was wrapped into are one line again (joined by the space they were wrapped
        at, or by nothing inside a word cut to fit), so the copy is the same at any width.
        Line breaks of the text (paragraphs, list items, table rows, card lines, entries)
        stay. The band padding, the hanging indent of wrapped lines and trailing blanks are
        left out."""
        if not self._flush_now():
            return None
        total = self._doc.heights.total
        if not total:
            return None
        start, end = selection
        first = 0 if start is None else max(0, start.y)
        last = total - 1 if end is None else min(end.y, total - 1)
        rows: list[tuple[str, int]] = []
        for number in range(first, last + 1):
            entry, line = self._entry_line_at(number)
            text = "".join(piece for piece, _ in line)
            begin = start.x if start is not None and number == first else 0
            stop = end.x if end is not None and number == last else len(text)
            join = JOIN_HARD
            if entry is not None:
                pad = entry.frame.left
                begin = max(begin, pad)
                stop = min(stop, len(text) - entry.frame.right)
                join = entry.join(number - self._doc.heights.prefix(entry.index))
                if join != JOIN_HARD:
                    # A wrapped line starts at its text: before it, only the hanging indent.
                    begin = max(begin, len(text) - len(text[pad:].lstrip(" ")))
            rows.append((text[begin:stop] if stop > begin else "", join))
        return join_rows(rows), "\n"

    def _text_place(self, offset: Offset) -> tuple[int, int] | None:
        """A place in the text as (entry index, visible characters before it in the entry):
        the same after the entry is wrapped at another width (whitespace does not count)."""
        heights, entries = self._doc.heights, self._doc.entries
        if not 0 <= offset.y < heights.total:
            return None
        index, line_number = heights.find(offset.y)
        entry = entries[index]
        if entry.gen != self._layout.gen:
            return None
        count = 0
        for number in range(line_number + 1):
            text = "".join(piece for piece, _ in entry.line(number))
            if number == line_number:
                text = text[: offset.x]
            count += len(text) - text.count(" ")
        return index, count

    def _line_place(self, place: tuple[int, int], end: bool) -> Offset | None:
        """The screen place of a `_text_place` in the current layout."""
        index, wanted = place
        entries = self._doc.entries
        if index >= len(entries):
            return None
        entry = entries[index]
        if entry.gen != self._layout.gen:
            self._build(entry)
        first = self._doc.heights.prefix(index)
        count = 0
        for number in range(entry.height):
            text = "".join(piece for piece, _ in entry.line(number))
            for column, char in enumerate(text):
                if char == " ":
                    continue
                if count == wanted and not end:
                    return Offset(column, first + number)
                count += 1
                if count == wanted and end:
                    return Offset(column + 1, first + number)
        return Offset(1 << 30, first + max(0, entry.height - 1))

    def _hold_selection(self) -> tuple[tuple[int, int], tuple[int, int]] | None:
        selection = self.text_selection
        if selection is None or selection.start is None or selection.end is None:
            return None
        start, end = self._text_place(selection.start), self._text_place(selection.end)
        return None if start is None or end is None else (start, end)

    def _restore_selection(self, held: tuple[tuple[int, int], tuple[int, int]]) -> None:
        self._held_selection = None
        if self.text_selection is None:
            return
        start, end = self._line_place(held[0], end=False), self._line_place(held[1], end=True)
        if start is not None and end is not None:
            self.screen.selections = {self: Selection(start, end)}

    def selection_updated(self, selection: Selection | None) -> None:
        style = self.screen.get_component_rich_style("screen--selection", partial=True)
        self._selection_style = style if style else Style(reverse=True)
        self._update_marking()

    async def _on_click(self, event: events.Click) -> None:
        # Textual selects the whole widget on a double click; here a word, and a block on a
        # triple click. Textual calls this, then Widget._on_click unless the default is
        # prevented (see textual_hooks.PRIVATE_NAMES): that one also brokers the click.
        if event.widget is not self:
            return
        if self._new_below and event.y == self._viewport_height() - 1:
            self.follow = True
        elif event.chain in (2, 3) and self.allow_select:
            number = self.scroll_offset.y + event.y
            column = event.x - self.gutter.left
            picked = self._word_at(number, column) if event.chain == 2 else self._block_at(number)
            if picked is not None:
                self.screen.selections = {self: picked}
        else:
            return
        event.prevent_default()
        await self.broker_event("click", event)

    def _word_at(self, number: int, column: int) -> Selection | None:
        """The word at a place. A word cut to fit the width (a long URL) is taken whole,
        over the lines it was cut into."""
        entry, line = self._entry_line_at(number)
        text = "".join(piece for piece, _ in line)
        if not 0 <= column < len(text) or text[column].isspace():
            return None
        start = column
        while start > 0 and not text[start - 1].isspace():
            start -= 1
        end = column
        while end < len(text) and not text[end].isspace():
            end += 1
        first = last = number
        if entry is not None:
            top = self._doc.heights.prefix(entry.index)
            # While the piece starts its line and the line goes on from a word cut above.
            shown = text
            while not shown[:start].strip() and entry.join(first - top) == JOIN_CHOP:
                first -= 1
                shown = plain(entry.line(first - top))
                start = len(shown)
                while start > 0 and not shown[start - 1].isspace():
                    start -= 1
            # While the piece ends its line and the line below goes on with the word.
            shown = text
            while not shown[end:].strip() and entry.join(last + 1 - top) == JOIN_CHOP:
                last += 1
                shown = "".join(piece for piece, _ in entry.line(last - top))
                end = len(shown) - len(shown.lstrip())
                while end < len(shown) and not shown[end].isspace():
                    end += 1
        return Selection(Offset(start, first), Offset(end, last))

    def _block_at(self, number: int) -> Selection | None:
        """The chunk (a paragraph, list, table, card…) holding line `number`."""
        heights = self._doc.heights
        if not 0 <= number < heights.total:
            return None
        index, offset = heights.find(number)
        entry = self._doc.entries[index]
        chunk = entry.chunk_at(offset)
        if chunk is None:
            return None
        first = heights.prefix(index) + entry.offsets[chunk.pos] + chunk.margin
        return Selection(Offset(0, first), Offset(1 << 30, first + len(chunk.lines) - 1))

    # -- the message cursor --

    @property
    def cursor_entry(self) -> int | None:
        """The id of the entry under the message cursor, if one is shown."""
        return None if self._cursor is None else self._doc.id_base + self._cursor

    def move_cursor(self, step: int) -> int | None:
        """Move the message cursor by `step` messages (notices skipped), starting from the
        end; scroll it into view. Its entry id, or None with nothing to point at."""
        entries = self._doc.entries
        candidates = [entry.index for entry in entries if entry.role != "notice"]
        if not candidates:
            return None
        if self._cursor is None or self._cursor not in candidates:
            position = len(candidates) if step < 0 else -1
        else:
            position = candidates.index(self._cursor)
        position = max(0, min(len(candidates) - 1, position + step))
        self._cursor = candidates[position]
        self._update_marking()
        self.scroll_to_entry(self._doc.id_base + self._cursor)
        return self._doc.id_base + self._cursor

    def clear_cursor(self) -> None:
        if self._cursor is not None:
            self._cursor = None
            self._update_marking()

    def scroll_to_entry(self, entry_id: int, line: int = 0) -> None:
        entry = self._doc.entry(entry_id)
        if entry is None or not self._flush_now():
            return
        if entry.gen != self._layout.gen:
            self._build(entry)
            self._schedule(urgent=True)
        top = self._doc.heights.prefix(entry.index) + line
        view = self._viewport_height()
        if self.scroll_offset.y <= top < self.scroll_offset.y + view - 1:
            return
        self.follow = False
        self.scroll_to(y=max(0, top - view // 3), animate=False)

    def entry_parts(self, entry_id: int) -> tuple[str, list[Part]]:
        """(role, parts) of an entry as it stands; notices come as one text part."""
        entry = self._doc.entry(entry_id)
        if entry is None:
            raise KeyError(f"no entry {entry_id}")
        if entry.streaming:
            self._doc.fetch_streaming(entry)
        if entry.role == "notice":
            return "notice", [TextPart(text=entry.text)]
        return entry.role, entry.parts()

    def last_entry(self, role: str) -> int | None:
        for entry in reversed(self._doc.entries):
            if entry.role == role:
                return self._doc.id_base + entry.index
        return None

    # -- search --

    def search(self, query: str) -> int:
        """Highlight every match of `query` (case-insensitive) in the whole transcript; the
        number of matches. The current match is the last one (the newest)."""
        count = self._search.run(self, query)
        self._update_marking()
        if count:
            self.goto_match(0)
        return count

    def goto_match(self, step: int) -> tuple[int, int] | None:
        """Move to the next (`step` 1) or previous (-1) match, wrapping; (position, count)."""
        search = self._search
        if not search.matches:
            return None
        if step == 0:
            search.current = len(search.matches) - 1
        else:
            search.current = (search.current + step) % len(search.matches)
        entry_index, line, _, _ = search.matches[search.current]
        self.scroll_to_entry(self._doc.id_base + entry_index, line)
        self.refresh()
        return search.current + 1, len(search.matches)

    def end_search(self) -> None:
        self._search = _Search()
        self._update_marking()

    @property
    def search_matches(self) -> int:
        return len(self._search.matches)


class _Search:
    """Matches of one query, as (entry index, line in entry, start, end): a match the layout
    wrapped onto more lines has more such pieces, highlighted with it. Entries whose text
    does not contain the query are never laid out: the model's plain text decides first,
    cached per entry version, so a search over 1,000 messages lays out only the hits."""

    def __init__(self) -> None:
        self.query = ""
        self.matches: list[tuple[int, int, int, int]] = []
        self.current = -1
        self._by_entry: dict[int, list[tuple[int, tuple[int, int, int, int]]]] = {}
        self.gen = -1

    def run(self, transcript: Transcript, query: str) -> int:
        self.query = needle = query.casefold()
        squeezed = _squeeze(needle)
        # Labels are drawn, not held by the entries: a query in one looks at every line.
        in_labels = squeezed in _squeeze(f"{transcript.bot_name} You System Agent")
        self.matches = []
        self.current = -1
        self._by_entry = {}
        if not needle or not transcript._flush_now():
            return 0
        doc, layout = transcript.document, transcript._layout
        self.gen = layout.gen
        pieces: dict[int, list[tuple[int, int, int, int]]] = {}
        for entry in doc.entries:
            if not in_labels and squeezed not in _entry_words(entry):
                continue
            if entry.gen != layout.gen:
                transcript._build(entry)
            self._search_entry(entry, needle, pieces)
        transcript._schedule(urgent=True)
        for position, match in enumerate(self.matches):
            by_line = self._by_entry.setdefault(match[0], [])
            by_line.append((position, match))
            by_line.extend((position, more) for more in pieces.get(position, ()))
        return len(self.matches)

    def _search_entry(
        self, entry: Entry, needle: str, pieces: dict[int, list[tuple[int, int, int, int]]]
    ) -> None:
        """Add the matches in `entry`. The lines a paragraph was wrapped into are searched
        as the one line they were (joined by the space wrapped at, or by nothing inside a
        word cut to fit, as a copy joins them): a phrase the layout split is found once, its
        first line in `matches`, the pieces on the lines below in `pieces`."""
        height, pad = entry.height, entry.frame.left
        offset = 0
        while offset < height:
            text = "".join(piece for piece, _ in entry.line(offset))
            below = offset + 1
            if below >= height or entry.join(below) == JOIN_HARD:
                # One line of its own, as most are: searched as drawn.
                folded = text.casefold()
                start = folded.find(needle)
                while start != -1:
                    self.matches.append((entry.index, offset, start, start + len(needle)))
                    start = folded.find(needle, start + len(needle))
                offset = below
                continue
            # (start in the joined text, line, column of that start) for each line's text;
            # what lies between two (the space wrapped at) is on no line.
            spans = [(0, offset, 0)]
            ends: list[int] = []
            joined = text.rstrip()
            while below < height and (join := entry.join(below)) != JOIN_HARD:
                line = "".join(piece for piece, _ in entry.line(below))
                begin = len(line) - len(line[pad:].lstrip(" "))  # after the hanging indent
                ends.append(len(joined))
                joined += " " if join == JOIN_SPACE else ""
                spans.append((len(joined), below, begin))
                joined += line[begin:].rstrip()
                below += 1
            ends.append(len(joined))
            folded = joined.casefold()
            start = folded.find(needle)
            while start != -1:
                end = start + len(needle)
                found = []
                for (at, line_number, column), stop in zip(spans, ends, strict=True):
                    if at < end and start < stop:
                        first, last = max(start, at) - at, min(end, stop) - at
                        if last > first:
                            found.append((entry.index, line_number, column + first, column + last))
                if found:
                    if len(found) > 1:
                        pieces[len(self.matches)] = found[1:]
                    self.matches.append(found[0])
                start = folded.find(needle, end)
            offset = below

    def rerun(self, transcript: Transcript) -> None:
        """The same query at the current layout, staying near the current match."""
        current = self.current
        count = self.run(transcript, self.query)
        self.current = min(max(current, 0), count - 1) if count else -1

    def on_line(self, index: int, offset: int) -> list[tuple[int, tuple[int, int, int, int]]]:
        return [item for item in self._by_entry.get(index, ()) if item[1][1] == offset]


_SPACE = re.compile(r"\s+")


def _squeeze(text: str) -> str:
    return _SPACE.sub("", text.casefold())


def _strings(value: object, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, bool):
        return
    elif isinstance(value, (int, float)):
        out.append(f"{value} {value:.2f}")  # prices are shown with two decimals
    elif isinstance(value, dict):
        for item in value.values():
            _strings(item, out)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _strings(item, out)


def _entry_words(entry: Entry) -> str:
    """Every string the entry holds (content, label, state note, footer), case-folded and
    without whitespace: a line that shows a query holds it too, whatever the wrapping, so
    an entry without it need not be laid out to be searched. Cached by version."""
    cached = entry.words
    if cached is not None and cached[0] == entry.version:
        return cached[1]
    pieces: list[str] = [entry.role, entry.text, entry.state, entry.note or "", entry.footer or ""]
    _strings(msgspec.to_builtins(entry.parts()), pieces)
    folded = _squeeze("".join(pieces))
    entry.words = (entry.version, folded)
    return folded
