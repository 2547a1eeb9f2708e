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

from bisect import bisect_right
from dataclasses import dataclass
from time import monotonic
from typing import ClassVar, Literal, Protocol, TypeAlias
from collections.abc import Sequence

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.reactive import var
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar
from textual.strip import Strip
from textual.style import Style as VisualStyle
from textual.timer import Timer

from dialogtui.api.models import Block, Part, RichTextPart, plain_text
from dialogtui.conversation.outcome import Outcome
from dialogtui.text import sanitize_line
from dialogtui.ui.scrollbar import StripScrollBar
from dialogtui.ui.render import (
    BlockLayout,
    Frame,
    Line,
    Palette,
    RenderStyles,
    estimate_blocks,
    estimate_lines,
    footer_lines,
    label_lines,
    layout_block,
    notice_lines,
    render_part,
    state_lines,
)

EntryState: TypeAlias = Outcome
"""An entry's state is its turn's outcome (`waiting` and `streaming` while it runs)."""
NoticeVariant: TypeAlias = Literal["info", "warning", "error"]


class BlockSource(Protocol):
    """Where a followed block comes from (a `ReplyAssembler`): the block's content, and its
    version, which changes whenever the block does. Both raise IndexError for a block that
    no longer exists."""

    def block(self, part_index: int, block_index: int) -> Block: ...

    def block_version(self, part_index: int, block_index: int) -> int: ...


_IN_PROGRESS = (Outcome.WAITING, Outcome.STREAMING)
_ROLE_LABELS = {"user": "You", "agent": "Agent", "system": "System"}


class HeightIndex:
    """Entry heights with prefix sums (a Fenwick tree): set, prefix and find in O(log n)."""

    __slots__ = ("_tree", "_values", "total")

    def __init__(self) -> None:
        self._tree: list[int] = [0]
        self._values: list[int] = []
        self.total = 0

    def __len__(self) -> int:
        return len(self._values)

    def rebuild(self, values: Sequence[int]) -> None:
        self._values = list(values)
        size = len(self._values)
        tree = [0, *self._values]
        for node in range(1, size + 1):
            parent = node + (node & -node)
            if parent <= size:
                tree[parent] += tree[node]
        self._tree = tree
        self.total = sum(self._values)

    def append(self, value: int) -> None:
        self._values.append(value)
        node = len(self._values)
        # Node `node` covers the values (node - lowbit(node), node].
        covered = self.prefix(node - 1) - self.prefix(node - (node & -node))
        self._tree.append(value + covered)
        self.total += value

    def value(self, index: int) -> int:
        return self._values[index]

    def set(self, index: int, value: int) -> None:
        delta = value - self._values[index]
        if not delta:
            return
        self._values[index] = value
        self.total += delta
        tree, size, node = self._tree, len(self._values), index + 1
        while node <= size:
            tree[node] += delta
            node += node & -node

    def prefix(self, count: int) -> int:
        """Sum of the first `count` heights: the first line of entry `count`."""
        tree, total, node = self._tree, 0, count
        while node > 0:
            total += tree[node]
            node &= node - 1
        return total

    def find(self, line: int) -> tuple[int, int]:
        """(entry index, line within it) for a line in [0, total)."""
        tree, size = self._tree, len(self._values)
        position, remaining = 0, line
        step = 1 << (size.bit_length() - 1) if size else 0
        while step:
            candidate = position + step
            if candidate <= size and tree[candidate] <= remaining:
                position = candidate
                remaining -= tree[candidate]
            step >>= 1
        return position, remaining


class _Chunk:
    """A run of lines in an entry. `spaced` chunks (content) get one blank line between them."""

    __slots__ = ("lines", "margin", "pos", "spaced")

    def __init__(self, lines: Sequence[Line], spaced: bool) -> None:
        # A block's chunk shares its layout's list, which the layout grows in place.
        self.lines = lines
        self.spaced = spaced
        self.margin = 0
        self.pos = 0


class _Slot:
    """One part of an entry, with its layout: per block for rich text, one chunk otherwise."""

    __slots__ = ("blocks", "chunks", "dirty", "dirty_blocks", "layouts", "part")

    def __init__(self, part: Part) -> None:
        self.part = part
        # Our own list: set_block changes it without touching the caller's part.
        self.blocks: list[Block] | None = (
            list(part.blocks) if isinstance(part, RichTextPart) else None
        )
        self.layouts: list[BlockLayout] = []
        self.chunks: list[_Chunk] = []
        self.dirty = True
        self.dirty_blocks: set[int] = set()

    def current(self) -> Part:
        if self.blocks is not None:
            return RichTextPart(part_id=getattr(self.part, "part_id", ""), blocks=self.blocks)
        return self.part


_EMPTY: tuple[Line, ...] = ()


def _plain(line: Line, skip: int = 0) -> str:
    return "".join(text for text, _ in line)[skip:].rstrip()


class _Entry:
    __slots__ = (
        "blank",
        "chunks",
        "fetched",
        "footer",
        "footer_chunk",
        "footer_dirty",
        "frame",
        "gap",
        "gen",
        "header",
        "height",
        "index",
        "note",
        "offsets",
        "role",
        "seen",
        "slots",
        "state",
        "status",
        "status_dirty",
        "streaming",
        "structural",
        "text",
        "variant",
    )

    def __init__(self, index: int, role: str, state: str) -> None:
        self.index = index  # position; the public id adds the count of entries cleared before
        self.role = role
        self.variant = "info"
        self.text = ""  # notices only
        self.state = state
        self.note: str | None = None
        self.footer: str | None = None
        self.slots: list[_Slot] = []
        self.gen = -1  # layout generation the chunks belong to; -1: never laid out
        self.frame = Frame(0)
        self.blank: Line = ()
        self.gap = self.header = self.status = self.footer_chunk = _Chunk(_EMPTY, False)
        self.chunks: list[_Chunk] = []
        self.offsets: list[int] = []
        self.seen: list[bool] = []
        self.height = 0
        self.structural = False
        self.status_dirty = False
        self.footer_dirty = False
        # Blocks followed by `stream_block`: (part, block) -> source, and the version last taken.
        self.streaming: dict[tuple[int, int], BlockSource] = {}
        self.fetched: dict[tuple[int, int], int] = {}

    def forget_streaming(self, part_index: int | None = None) -> None:
        """Stop following the blocks of part `part_index` (of every part if None)."""
        if part_index is None:
            self.streaming.clear()
            self.fetched.clear()
            return
        for key in [key for key in self.streaming if key[0] == part_index]:
            del self.streaming[key]
            self.fetched.pop(key, None)

    def line(self, offset: int) -> Line:
        index = bisect_right(self.offsets, offset) - 1
        if index < 0:
            return self.blank
        chunk = self.chunks[index]
        local = offset - self.offsets[index] - chunk.margin
        if 0 <= local < len(chunk.lines):
            return chunk.lines[local]
        return self.blank

    def has_content(self) -> bool:
        return any(chunk.lines for slot in self.slots for chunk in slot.chunks)

    def relayout(self, start: int) -> None:
        """Recompute chunk offsets and margins from chunk `start` on."""
        chunks, offsets, seen_list = self.chunks, self.offsets, self.seen
        if start == 0:
            line, seen = 0, False
        else:
            previous = chunks[start - 1]
            line = offsets[start - 1] + previous.margin + len(previous.lines)
            seen = seen_list[start - 1] or (previous.spaced and bool(previous.lines))
        for index in range(start, len(chunks)):
            chunk = chunks[index]
            count = len(chunk.lines)
            offsets[index] = line
            seen_list[index] = seen
            chunk.margin = 1 if seen and count and chunk.spaced else 0
            line += chunk.margin + count
            if count and chunk.spaced:
                seen = True
        self.height = line

    def insert_before_status(self, added: list[_Chunk]) -> int:
        """Put `added` (the new last chunks of the last part) before the state marker, as
        `assemble` would; their position. Offsets from there on need a `relayout`."""
        pos = self.status.pos
        self.chunks[pos:pos] = added
        for index in range(pos, len(self.chunks)):
            self.chunks[index].pos = index
        self.offsets.extend([0] * len(added))
        self.seen.extend([False] * len(added))
        return pos

    def assemble(self) -> None:
        chunks = [self.gap, self.header]
        for slot in self.slots:
            chunks.extend(slot.chunks)
        chunks.append(self.status)
        chunks.append(self.footer_chunk)
        for pos, chunk in enumerate(chunks):
            chunk.pos = pos
        self.chunks = chunks
        self.offsets = [0] * len(chunks)
        self.seen = [False] * len(chunks)
        self.relayout(0)


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
    }
    """

    FLUSH_INTERVAL: float = 1 / 30
    """Minimum seconds between two layouts; deltas arriving in between are laid out together.
    Each layout brings a frame: 30 a second is smooth for text, and a reply streaming at a
    reading pace (a delta every 20 ms) costs half the frames it would at 60."""
    BACKGROUND_BUDGET: float = 0.008
    """Seconds of background re-wrapping per tick after a width change."""

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
        self._entries: list[_Entry] = []
        self._id_base = 0  # entries removed by `clear` so far: public ids are never reused
        self._heights = HeightIndex()
        self._gen = 0
        self._width = 0
        self._styles = RenderStyles()
        self._styles_stale = True
        self._labels_stale = False
        self._palette = Palette()
        self._frames: dict[bool, Frame] = {}
        self._gap: Line = ()
        self._blank: Line = ()
        # Strips for lines on screen, keyed by the line itself: equal lines share a Strip,
        # and a re-laid-out line is a new key (so no width or version in the key).
        self._strip_cache: LRUCache[Line, Strip] = LRUCache(512)
        # The same lines inside the widget's padding, for `render_lines`; cleared with the box.
        self._boxed_cache: LRUCache[Line, Strip] = LRUCache(512)
        self._box: _Box | None = None
        self._rich_console: Console | None = None
        self._dirty: dict[int, _Entry] = {}
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
        self._spinning: set[int] = set()
        self._spin_frame = 0
        self._live: dict[int, _Entry] = {}  # entries with followed blocks, by index
        self._poll_timer: Timer | None = None

    # ------------------------------------------------------------------
    # Public API

    @property
    def entry_count(self) -> int:
        return len(self._entries)

    @property
    def entry_ids(self) -> list[int]:
        """Ids of the entries shown, in order (ids are not reused after `clear`)."""
        return [self._id_base + entry.index for entry in self._entries]

    @property
    def follow(self) -> bool:
        """Auto-scroll to the end as content arrives. Scrolling up clears it; reaching the
        bottom (or setting it) restores it."""
        return self._follow

    @follow.setter
    def follow(self, value: bool) -> None:
        self._follow = value
        if value:
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
        entry = _Entry(len(self._entries), role, state)
        entry.text = label or ""  # a message entry's `text` is its speaker label
        entry.slots = [_Slot(part) for part in parts]
        self._append(entry)
        return self._id_base + entry.index

    def add_notice(self, text: str, *, variant: NoticeVariant = "info") -> int:
        entry = _Entry(len(self._entries), "notice", "done")
        entry.text = text
        entry.variant = variant
        self._append(entry)
        return self._id_base + entry.index

    def set_part(self, entry_id: int, part_index: int, part: Part) -> None:
        """Add (at index == count) or replace one part."""
        entry = self._entry(entry_id)
        if entry is None:
            return
        self._stop_following(entry, part_index)  # `part` is the part as it is now, growth included
        self._set_part(entry, part_index, part)
        self._touch(entry)

    def set_parts(self, entry_id: int, parts: Sequence[Part]) -> None:
        """Replace all parts. Blocks equal to what is shown keep their layout."""
        entry = self._entry(entry_id)
        if entry is None:
            return
        self._stop_following(entry)  # everything is replaced by what it is now
        for index, part in enumerate(parts):
            self._set_part(entry, index, part)
        if len(entry.slots) > len(parts):
            del entry.slots[len(parts) :]
            entry.structural = True
        self._touch(entry)

    def set_block(self, entry_id: int, part_index: int, block_index: int, block: Block) -> None:
        """The hot path: the new content of one block of a rich_text part (appends at index
        == count). A part index == count starts a new rich_text part; a non-rich part at that
        index is replaced by a rich_text one."""
        entry = self._entry(entry_id)
        if entry is None:
            return
        entry.streaming.pop((part_index, block_index), None)
        entry.fetched.pop((part_index, block_index), None)
        self._set_block(entry, part_index, block_index, block)
        self._touch(entry)

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
        entry = self._entry(entry_id)
        if entry is None:
            return
        entry.streaming[(part_index, block_index)] = source
        self._live[entry.index] = entry
        if self._poll_timer is not None:
            self._poll_timer.resume()
        if entry.index not in self._dirty:
            self._touch(entry)

    def _set_block(self, entry: _Entry, part_index: int, block_index: int, block: Block) -> None:
        slots = entry.slots
        if part_index == len(slots):
            slots.append(_Slot(RichTextPart()))
            entry.structural = True
        elif not 0 <= part_index < len(slots):
            raise IndexError(f"part index {part_index} out of range ({len(slots)} parts)")
        slot = slots[part_index]
        if slot.blocks is None:
            slot = slots[part_index] = _Slot(RichTextPart())
            entry.structural = True
        assert slot.blocks is not None
        if block_index == len(slot.blocks):
            slot.blocks.append(block)
        elif 0 <= block_index < len(slot.blocks):
            slot.blocks[block_index] = block
        else:
            raise IndexError(f"block index {block_index} out of range ({len(slot.blocks)} blocks)")
        slot.dirty_blocks.add(block_index)

    def _fetch_streaming(self, entry: _Entry) -> bool:
        """Take the current content of the entry's followed blocks (see `stream_block`); True
        if any changed. Once the entry no longer streams, this was the last fetch."""
        streaming, fetched, slots = entry.streaming, entry.fetched, entry.slots
        changed = False
        for key in sorted(streaming):
            part_index, block_index = key
            # Only a block the part can take as it stands: a stale source is dropped before
            # anything changes (`_set_block` would replace a part that is not rich text).
            blocks = slots[part_index].blocks if part_index < len(slots) else None
            source = streaming[key]
            try:
                if blocks is None or block_index > len(blocks):
                    raise IndexError(block_index)
                version = source.block_version(part_index, block_index)
                if fetched.get(key) == version:
                    continue
                block = source.block(part_index, block_index)
            except IndexError:
                del streaming[key]  # replaced meanwhile by something without that block
                fetched.pop(key, None)
                continue
            fetched[key] = version
            self._set_block(entry, part_index, block_index, block)
            changed = True
        if entry.state not in _IN_PROGRESS:
            self._stop_following(entry)
        elif not streaming:
            self._live.pop(entry.index, None)
        return changed

    def _stop_following(self, entry: _Entry, part_index: int | None = None) -> None:
        """No longer follow the entry's blocks of part `part_index` (of every part if None)."""
        if entry.streaming:
            entry.forget_streaming(part_index)
        if not entry.streaming:
            self._live.pop(entry.index, None)

    def set_state(self, entry_id: int, state: EntryState, note: str | None = None) -> None:
        entry = self._entry(entry_id)
        if entry is None:
            return
        entry.state = state
        entry.note = note
        entry.status_dirty = True
        self._touch(entry)

    def set_footer(self, entry_id: int, text: str | None) -> None:
        entry = self._entry(entry_id)
        if entry is None:
            return
        entry.footer = text
        entry.footer_dirty = True
        self._touch(entry)

    def clear(self) -> None:
        """Remove every entry. Ids go on counting: calls for a removed entry are ignored."""
        self._id_base += len(self._entries)
        self._entries = []
        self._dirty.clear()
        self._live.clear()
        self._spinning.clear()
        self._heights = HeightIndex()
        self._follow = True
        self._bg_cursor = -1
        self._repaint_from = 0
        self._schedule(urgent=True)

    def entry_text(self, entry_id: int) -> str:
        """The plain text of an entry as displayed (label and markers included, the side
        padding of a message band left out): for tests and copying."""
        entry = self._entry(entry_id)
        if entry is None:
            raise KeyError(f"no entry {entry_id}")
        if entry.streaming and self._fetch_streaming(entry):
            self._dirty[entry.index] = entry
        if not self._flush_now():
            if entry.role == "notice":
                return entry.text
            return plain_text([slot.current() for slot in entry.slots])
        if entry.gen != self._gen:
            self._build(entry)
            self._schedule()
        skip = entry.frame.left
        lines = [_plain(entry.line(offset), skip) for offset in range(entry.height)]
        return "\n".join(lines[1:] if entry.index else lines)

    def visible_text(self) -> str:
        """The plain text of the lines in the viewport (without band padding, like
        `entry_text`), trailing blank lines dropped."""
        if not self._flush_now():
            return ""
        top = self.scroll_offset.y
        lines = []
        for y in range(self._viewport_height()):
            entry, line = self._entry_line_at(top + y)
            lines.append(_plain(line, entry.frame.left if entry is not None else 0))
        return "\n".join(lines).rstrip("\n")

    # ------------------------------------------------------------------
    # Model bookkeeping (O(1) per call)

    def _entry(self, entry_id: int) -> _Entry | None:
        # Unknown ids are ignored: a late call from a stream that ran during clear().
        index = entry_id - self._id_base
        return self._entries[index] if 0 <= index < len(self._entries) else None

    def _append(self, entry: _Entry) -> None:
        self._entries.append(entry)
        self._heights.append(self._estimate(entry))
        # Its lines are new wherever it lands: on a screen it does not fill, nothing scrolls
        # to repaint them.
        self._mark_repaint(self._heights.prefix(entry.index))
        self._bg_cursor = max(self._bg_cursor, entry.index)
        if self._bg_timer is not None:
            self._bg_timer.resume()
        self._schedule()

    def _set_part(self, entry: _Entry, index: int, part: Part) -> None:
        slots = entry.slots
        if index == len(slots):
            slots.append(_Slot(part))
            entry.structural = True
            return
        if not 0 <= index < len(slots):
            raise IndexError(f"part index {index} out of range ({len(slots)} parts)")
        slot = slots[index]
        if isinstance(part, RichTextPart) and slot.blocks is not None:
            # Keep the block layouts: unchanged blocks cost one comparison to confirm.
            slot.part = part
            slot.blocks = list(part.blocks)
            slot.dirty_blocks.update(range(len(slot.blocks)))
        else:
            slots[index] = _Slot(part)
            entry.structural = True

    def _touch(self, entry: _Entry) -> None:
        self._dirty[entry.index] = entry
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
        anchor = None if self._follow else self._anchor()
        self._rebuilt.clear()
        dirty = list(self._dirty.values())
        self._dirty.clear()
        heights = self._heights
        for entry in dirty:
            if not (entry.index < len(self._entries) and self._entries[entry.index] is entry):
                continue  # cleared meanwhile
            if entry.streaming:
                self._fetch_streaming(entry)
            if entry.gen == self._gen:
                changed = self._apply_updates(entry)
                if changed is not None:
                    self._mark_repaint(heights.prefix(entry.index) + changed)
                heights.set(entry.index, entry.height)
            else:
                heights.set(entry.index, self._estimate(entry))
                self._mark_repaint(heights.prefix(entry.index))
        self._fill_viewport(anchor)
        self._commit(anchor)

    def _sync_generation(self, width: int) -> None:
        """Invalidate every layout when the width, theme or labels change (lazily)."""
        styles = self._styles
        if self._styles_stale:
            self._styles_stale = False
            styles = self._compute_styles()
        if width == self._width and styles == self._styles and not self._labels_stale:
            return
        self._width = width
        self._styles = styles
        self._labels_stale = False
        self._gen += 1
        self._palette = palette = Palette()
        self._frames = {
            False: Frame(width, styles.base, palette=palette),
            True: Frame(width, styles.user, left=1, right=1, palette=palette),
        }
        self._gap = self._blank = self._frames[False].blank()
        self._strip_cache.clear()
        self._boxed_cache.clear()
        self._heights.rebuild([self._estimate(entry) for entry in self._entries])
        self._bg_cursor = len(self._entries) - 1
        self._repaint_from = 0
        if self._bg_timer is not None and self._entries:
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

    def _estimate(self, entry: _Entry) -> int:
        width = self._width or 80
        lines = 1 if entry.index else 0
        if entry.role == "notice":
            return lines + len(entry.text) // max(1, width - 2) + 1
        lines += 1  # label
        inner = width - 2 if entry.role == "user" else width
        content = 0
        for slot in entry.slots:
            if slot.blocks is not None:
                count = estimate_blocks(slot.blocks, inner)
            else:
                count = estimate_lines(slot.part, inner)
            if count:
                content += count + (1 if content else 0)
        lines += content
        if entry.state != "done":
            lines += 1
        if entry.footer:
            lines += 1
        return lines

    def _console_for_render(self) -> Console:
        if self._rich_console is None:
            self._rich_console = self.app.console
        return self._rich_console

    def _build(self, entry: _Entry) -> None:
        """Lay an entry out from scratch at the current width."""
        if entry.streaming:
            self._fetch_streaming(entry)
        frame = self._frames[entry.role == "user"]
        entry.frame = frame
        entry.blank = frame.blank()
        entry.gap = _Chunk([self._gap] if entry.index else [], False)
        entry.header = _Chunk(self._header_lines(entry), False)
        for slot in entry.slots:
            self._layout_slot(entry, slot)
        entry.status = _Chunk(self._state_lines(entry), True)
        entry.footer_chunk = _Chunk(self._footer_lines(entry), False)
        entry.structural = entry.status_dirty = entry.footer_dirty = False
        entry.gen = self._gen
        entry.assemble()
        old = self._heights.value(entry.index)
        self._heights.set(entry.index, entry.height)
        self._rebuilt.add(entry.index)
        if old != entry.height:
            self._mark_repaint(self._heights.prefix(entry.index))

    def _layout_slot(self, entry: _Entry, slot: _Slot) -> None:
        frame, styles, console = entry.frame, self._styles, self._console_for_render()
        if slot.blocks is not None:
            slot.layouts = [layout_block(block, frame, styles, console) for block in slot.blocks]
            slot.chunks = [_Chunk(layout.lines, True) for layout in slot.layouts]
        else:
            slot.layouts = []
            slot.chunks = [_Chunk(render_part(slot.part, frame, styles, console), True)]
        slot.dirty = False
        slot.dirty_blocks.clear()

    def _apply_updates(self, entry: _Entry) -> int | None:
        """Apply recorded changes to a laid-out entry; the first changed line, or None."""
        frame, styles, console = entry.frame, self._styles, self._console_for_render()
        height = entry.height  # lines past both the old and the new end are blank before and after
        structural = entry.structural
        start: int | None = None  # the first chunk whose lines or position changed
        # The first line a growing block changed: a paragraph that grew by a few words
        # changes its last line or two, and repainting it whole would repaint the screen.
        first_line: int | None = None
        appended: list[_Chunk] = []  # new blocks at the end of the last part: the streaming case
        last_slot = entry.slots[-1] if entry.slots else None
        for slot in entry.slots:
            if slot.dirty:
                self._layout_slot(entry, slot)
                structural = True
                continue
            blocks = slot.blocks
            if blocks is None:
                continue
            if len(slot.layouts) > len(blocks):
                del slot.layouts[len(blocks) :]
                del slot.chunks[len(blocks) :]
                structural = True
            for index in sorted(slot.dirty_blocks):
                if index >= len(blocks):
                    continue
                if index < len(slot.layouts):
                    layout = slot.layouts[index]
                    if layout.update(blocks[index]):
                        changed_from = layout.changed_from
                    else:
                        layout = slot.layouts[index] = layout_block(
                            blocks[index], frame, styles, console
                        )
                        changed_from = 0
                    chunk = slot.chunks[index]
                    chunk.lines = layout.lines  # a layout may swap its list
                    start = chunk.pos if start is None else min(start, chunk.pos)
                    # Offsets up to this chunk are still right: a chunk before it that changed
                    # has the smaller first line. Its margin changes only with its first line.
                    line = entry.offsets[chunk.pos] + (
                        chunk.margin + changed_from if changed_from else 0
                    )
                    first_line = line if first_line is None else min(first_line, line)
                    continue
                at_end = slot is last_slot and bool(slot.chunks)
                while len(slot.layouts) <= index:
                    layout = layout_block(blocks[len(slot.layouts)], frame, styles, console)
                    slot.layouts.append(layout)
                    chunk = _Chunk(layout.lines, True)
                    slot.chunks.append(chunk)
                    if at_end:
                        appended.append(chunk)
                structural = structural or not at_end
            slot.dirty_blocks.clear()
        redrawn: int | None = None  # the first chunk redrawn whole
        if entry.status_dirty or entry.state in _IN_PROGRESS:
            lines = self._state_lines(entry)
            if lines or entry.status.lines:
                entry.status.lines = lines
                redrawn = entry.status.pos
        if entry.footer_dirty:
            entry.footer_chunk.lines = self._footer_lines(entry)
            pos = entry.footer_chunk.pos
            redrawn = pos if redrawn is None else min(redrawn, pos)
        entry.structural = entry.status_dirty = entry.footer_dirty = False
        if structural:
            entry.assemble()
            return 0
        if appended:
            # In place: the chunks before them keep their positions (`assemble` is O(blocks)).
            pos = entry.insert_before_status(appended)
            redrawn = pos if redrawn is None else min(redrawn, pos)
        if redrawn is not None:
            start = redrawn if start is None else min(start, redrawn)
        if start is None:
            return None
        entry.relayout(start)
        if redrawn is not None:
            line = entry.offsets[redrawn]
            first_line = line if first_line is None else min(first_line, line)
        # Nothing changed in the blocks that were told of a change, and the entry kept its
        # height (what it lost, e.g. a footer or a marker gone, must be repainted): nothing to
        # repaint.
        return first_line if first_line is None or first_line < max(height, entry.height) else None

    def _header_lines(self, entry: _Entry) -> list[Line]:
        styles, console, frame = self._styles, self._console_for_render(), entry.frame
        if entry.role == "notice":
            return notice_lines(entry.text, entry.variant, frame, styles, console)
        if entry.text:  # a named speaker, e.g. "Sofie (agent)"
            label, style = sanitize_line(entry.text), styles.assistant_label
        elif entry.role == "assistant":
            label, style = sanitize_line(self.bot_name) or "Assistant", styles.assistant_label
        elif entry.role == "user":
            label, style = "You", styles.user_label
        elif entry.role == "system":
            label, style = "System", styles.system_label
        else:
            label = _ROLE_LABELS.get(entry.role) or sanitize_line(entry.role).title() or "?"
            style = styles.assistant_label
        return label_lines(label, style, frame, console)

    def _state_lines(self, entry: _Entry) -> list[Line]:
        waiting = entry.state in _IN_PROGRESS and not entry.has_content()
        if waiting:
            self._spinning.add(entry.index)
            if self._spin_timer is not None and self.app.animation_level != "none":
                self._spin_timer.resume()
        else:
            self._spinning.discard(entry.index)
        return state_lines(
            entry.state,
            entry.note,
            waiting,
            self._spin_frame,
            entry.frame,
            self._styles,
            self._console_for_render(),
        )

    def _footer_lines(self, entry: _Entry) -> list[Line]:
        return footer_lines(entry.footer, entry.frame, self._styles, self._console_for_render())

    # ------------------------------------------------------------------
    # Viewport and scrolling

    def _viewport_height(self) -> int:
        return self.scrollable_content_region.height

    def _anchor(self) -> _Anchor | None:
        total = self._heights.total
        if not total:
            return None
        index, offset = self._heights.find(min(self.scroll_offset.y, total - 1))
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
        if self._vertical_scrollbar is None:
            bar = StripScrollBar(
                vertical=True, name="vertical", thickness=self.scrollbar_size_vertical
            )
            bar.display = False
            self._vertical_scrollbar = bar
            self.app._start_widget(self, bar)
        return self._vertical_scrollbar

    def _set_virtual_height(self, total: int) -> None:
        size = Size(self._width, total)
        if size == self.virtual_size:
            return
        if size.width != self.virtual_size.width or self.styles.overflow_y != "scroll":
            self.virtual_size = size  # may change the layout: let the screen reflow
            return
        # Only the height changed, and the scrollbar is always there: nothing outside this
        # widget moves, so skip the screen-wide reflow that setting `virtual_size` asks for
        # (a third of a streaming frame) and update the scrollbar ourselves.
        self.set_reactive(Transcript.virtual_size, size)
        self._scroll_update(size)

    def _mark_repaint(self, line: int) -> None:
        if self._repaint_from is None or line < self._repaint_from:
            self._repaint_from = line

    def _entry_line_at(self, line: int) -> tuple[_Entry | None, Line]:
        heights = self._heights
        if not 0 <= line < heights.total:
            return None, self._blank
        index, offset = heights.find(line)
        entry = self._entries[index]
        if entry.gen != self._gen:
            # Normally laid out before rendering; this keeps a surprise consistent.
            self._build(entry)
            self._schedule(urgent=True)
        return entry, entry.line(offset)

    def render_line(self, y: int) -> Strip:
        if not self._frames:
            # Asked to paint before the first layout (no width yet): the next flush repaints.
            return Strip.blank(self.size.width, self.rich_style)
        _, line = self._entry_line_at(self.scroll_offset.y + y)
        strip = self._strip_cache.get(line)
        if strip is None:
            strip = Strip(self._palette.segments(line), self._width)
            self._strip_cache.set(line, strip)
        return strip

    def render_lines(self, crop: Region) -> list[Strip]:
        """The lines in `crop`, padding included. When the box is plain padding on the
        background (as this widget's CSS has it) the transcript draws it from its own cache;
        Textual's line renderer (borders, tint, opacity…) would style every visible line
        again at each frame, and a streaming transcript scrolls, so repaints, every frame."""
        if not self._width or not self._frames:
            return super().render_lines(crop)
        self._prepare_render()
        box = self._plain_box()
        if box is None:
            return super().render_lines(crop)
        if box != self._box:
            self._box = box
            self._boxed_cache.clear()
        cache, entry_line_at, top = self._boxed_cache, self._entry_line_at, self.scroll_offset.y
        strips: list[Strip] = []
        for y in crop.line_range:
            line = entry_line_at(top + y)[1]
            strip = cache.get(line)
            if strip is None:
                strip = Strip([*box.left, *self._palette.segments(line), *box.right], box.width)
                cache.set(line, strip)
            strips.append(strip)
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
        extra = self.content_region.width - self._width
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
        if self._programmatic_scroll:
            return
        if new_value >= self.max_scroll_y:
            self._follow = True
        elif new_value < old_value:
            self._follow = False

    # ------------------------------------------------------------------
    # Events and timers

    def on_mount(self) -> None:
        super().on_mount()  # type: ignore[no-untyped-call]
        self._rich_console = self.app.console
        self._bg_timer = self.set_interval(0.02, self._background_layout, pause=True)
        self._spin_timer = self.set_interval(0.1, self._spin, pause=True)
        self._poll_timer = self.set_interval(
            self.FLUSH_INTERVAL, self._poll_followed, pause=not self._live
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
        grown = False
        for entry in list(self._live.values()):
            if entry.index not in self._dirty and self._fetch_streaming(entry):
                self._dirty[entry.index] = entry
                grown = True
        if grown:
            # This clock is the throttle already: lay out now, not by a timer made for it (a
            # timer and its task each frame, for as long as a reply streams).
            self._flush()
        if not self._live and self._poll_timer is not None:
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
        anchor = None if self._follow else self._anchor()
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
        self._spin_frame += 1
        for index in list(self._spinning):
            entry = self._entries[index] if index < len(self._entries) else None
            if entry is None or entry.gen != self._gen:
                self._spinning.discard(index)
                continue
            lines = self._state_lines(entry)
            if len(lines) != len(entry.status.lines):
                self._touch(entry)  # its height changes: let the flush handle it
                entry.status_dirty = True
                continue
            entry.status.lines = lines
            line = self._heights.prefix(entry.index) + entry.offsets[entry.status.pos]
            self.refresh_lines(line, len(lines))
        if not self._spinning and self._spin_timer is not None:
            self._spin_timer.pause()
