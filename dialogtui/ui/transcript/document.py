"""The transcript's model: entries, their parts and blocks, their laid-out chunks, the height
index and version counters. No Textual here: `layout.py` fills the chunks, `widget.py` shows
them; this module only records what changed, in O(1) per call.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from typing import Literal, NamedTuple, Protocol, TypeAlias

from dialogtui.api.models import Block, Part, RichTextPart
from dialogtui.conversation.outcome import Outcome
from dialogtui.ui.render import JOIN_HARD, BlockLayout, Frame, Line

EntryState: TypeAlias = Outcome
"""An entry's state is its turn's outcome (`waiting` and `streaming` while it runs)."""
NoticeVariant: TypeAlias = Literal["info", "warning", "error"]


class BlockSource(Protocol):
    """Where a followed block comes from (a `ReplyAssembler`): the block's content, and its
    version, which changes whenever the block does. Both raise IndexError for a block that
    no longer exists."""

    def block(self, part_index: int, block_index: int) -> Block: ...

    def block_version(self, part_index: int, block_index: int) -> int: ...


IN_PROGRESS = (Outcome.WAITING, Outcome.STREAMING)


class OlderEntry(NamedTuple):
    """An entry to put above the others (`Transcript.prepend`): a finished message, or a
    notice (`role` "notice", with `text` and `variant`)."""

    role: str
    parts: Sequence[Part] = ()
    label: str | None = None
    text: str = ""
    variant: NoticeVariant = "info"


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


class Chunk:
    """A run of lines in an entry. `spaced` chunks (content) get one blank line between them."""

    __slots__ = ("joins", "lines", "margin", "pos", "spaced")

    def __init__(self, lines: Sequence[Line], spaced: bool, joins: bytearray | None = None) -> None:
        # A block's chunk shares its layout's list, which the layout grows in place.
        self.lines = lines
        # How each line follows the one above (`render.JOIN_SPACE` & co., shared with the
        # layout like `lines`); None: every line is one of its own.
        self.joins = joins
        self.spaced = spaced
        self.margin = 0
        self.pos = 0


class Slot:
    """One part of an entry, with its layout: per block for rich text, one chunk otherwise."""

    __slots__ = ("blocks", "chunks", "dirty", "dirty_blocks", "layouts", "part")

    def __init__(self, part: Part) -> None:
        self.part = part
        # Our own list: set_block changes it without touching the caller's part.
        self.blocks: list[Block] | None = (
            list(part.blocks) if isinstance(part, RichTextPart) else None
        )
        self.layouts: list[BlockLayout] = []
        self.chunks: list[Chunk] = []
        self.dirty = True
        self.dirty_blocks: set[int] = set()

    def current(self) -> Part:
        if self.blocks is not None:
            return RichTextPart(part_id=getattr(self.part, "part_id", ""), blocks=self.blocks)
        return self.part


EMPTY: tuple[Line, ...] = ()


def plain(line: Line, skip: int = 0) -> str:
    """A laid-out line's text, `skip` leading characters (a band's padding) and the trailing
    blanks left out."""
    return "".join(text for text, _ in line)[skip:].rstrip()


class Entry:
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
        "version",
        "words",
    )

    def __init__(self, index: int, role: str, state: str) -> None:
        self.index = index  # position; the public id adds the count of entries cleared before
        self.role = role
        self.variant = "info"
        self.text = ""  # a notice's text; a message's speaker when not the role's default
        self.state = state
        self.note: str | None = None
        self.footer: str | None = None
        self.slots: list[Slot] = []
        self.gen = -1  # layout generation the chunks belong to; -1: never laid out
        self.frame = Frame(0)
        self.blank: Line = ()
        self.gap = self.header = self.status = self.footer_chunk = Chunk(EMPTY, False)
        self.chunks: list[Chunk] = []
        self.offsets: list[int] = []
        self.seen: list[bool] = []
        self.height = 0
        self.structural = False
        self.status_dirty = False
        self.footer_dirty = False
        # Blocks followed by `stream_block`: (part, block) -> source, and the version last taken.
        self.streaming: dict[tuple[int, int], BlockSource] = {}
        self.fetched: dict[tuple[int, int], int] = {}
        # Bumped at every change of content or state: readers (search, copy) cache by it.
        self.version = 0
        self.words: tuple[int, str] | None = None  # (version, search text): see the widget

    def forget_streaming(self, part_index: int | None = None) -> None:
        """Stop following the blocks of part `part_index` (of every part if None)."""
        if part_index is None:
            self.streaming.clear()
            self.fetched.clear()
            return
        for key in [key for key in self.streaming if key[0] == part_index]:
            del self.streaming[key]
            self.fetched.pop(key, None)

    def parts(self) -> list[Part]:
        """The entry's parts as they stand (blocks changed by `set_block` included)."""
        return [slot.current() for slot in self.slots]

    def line(self, offset: int) -> Line:
        index = bisect_right(self.offsets, offset) - 1
        if index < 0:
            return self.blank
        chunk = self.chunks[index]
        local = offset - self.offsets[index] - chunk.margin
        if 0 <= local < len(chunk.lines):
            return chunk.lines[local]
        return self.blank

    def join(self, offset: int) -> int:
        """How line `offset` follows the line above it (`render.JOIN_HARD` & co.): copying
        joins a paragraph's wrapped lines back into one."""
        index = bisect_right(self.offsets, offset) - 1
        if index < 0:
            return JOIN_HARD
        chunk = self.chunks[index]
        joins = chunk.joins
        local = offset - self.offsets[index] - chunk.margin
        if joins is None or not 0 <= local < len(joins):
            return JOIN_HARD
        return joins[local]

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

    def insert_before_status(self, added: list[Chunk]) -> int:
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

    def chunk_at(self, offset: int) -> Chunk | None:
        """The chunk holding line `offset` of the entry, if any (gaps between chunks: None)."""
        index = bisect_right(self.offsets, offset) - 1
        if index < 0:
            return None
        chunk = self.chunks[index]
        local = offset - self.offsets[index] - chunk.margin
        return chunk if 0 <= local < len(chunk.lines) else None


PREPEND_ROOM = 1 << 40
"""Ids left free below the first entry after a `clear`, for entries put above it (older
history): they never take the id of an entry cleared before."""


class TranscriptDocument:
    """The entries of one transcript and what changed since the last layout.

    Mutators take an `Entry` (found by `entry(entry_id)`), record the change and mark the
    entry `dirty`: O(1). Ids are positions plus `id_base`: `clear` moves the base past every
    id given so far (and `PREPEND_ROOM` more), `prepend` moves it down by the entries it puts
    on top. So ids are never reused, an entry keeps its id whatever goes above it, and a late
    call for a cleared entry finds nothing."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.id_base = 0  # the id of the first entry
        self.id_floor = -PREPEND_ROOM  # the lowest id a prepended entry may take
        self.heights = HeightIndex()
        self.dirty: dict[int, Entry] = {}  # entries changed since the last layout, by index
        self.live: dict[int, Entry] = {}  # entries with followed blocks, by index
        self.version = 0  # bumped by every change of any entry, and by `clear`

    def entry(self, entry_id: int) -> Entry | None:
        # Unknown ids are ignored: a late call from a stream that ran during clear().
        index = entry_id - self.id_base
        entries = self.entries
        return entries[index] if 0 <= index < len(entries) else None

    def entry_id(self, entry: Entry) -> int:
        return self.id_base + entry.index

    def _changed(self, entry: Entry) -> None:
        entry.version += 1
        self.version += 1
        self.dirty[entry.index] = entry

    def new_entry(
        self, role: str, parts: Sequence[Part], state: str, *, label: str | None = None
    ) -> Entry:
        entry = Entry(len(self.entries), role, state)
        entry.text = label or ""  # e.g. "Sofie (agent)": drawn instead of the role's label
        entry.slots = [Slot(part) for part in parts]
        return entry

    def new_notice(self, text: str, variant: str) -> Entry:
        entry = Entry(len(self.entries), "notice", "done")
        entry.text = text
        entry.variant = variant
        return entry

    def append(self, entry: Entry, estimated_height: int) -> None:
        self.entries.append(entry)
        self.heights.append(estimated_height)
        self.version += 1

    def set_part(self, entry: Entry, part_index: int, part: Part) -> None:
        """Add (at index == count) or replace one part."""
        self.stop_following(entry, part_index)  # `part` is the part as it is now
        self._set_part(entry, part_index, part)
        self._changed(entry)

    def set_parts(self, entry: Entry, parts: Sequence[Part]) -> None:
        """Replace all parts. Blocks equal to what is shown keep their layout."""
        self.stop_following(entry)  # everything is replaced by what it is now
        for index, part in enumerate(parts):
            self._set_part(entry, index, part)
        if len(entry.slots) > len(parts):
            del entry.slots[len(parts) :]
            entry.structural = True
        self._changed(entry)

    def set_block(self, entry: Entry, part_index: int, block_index: int, block: Block) -> None:
        entry.streaming.pop((part_index, block_index), None)
        entry.fetched.pop((part_index, block_index), None)
        self._set_block(entry, part_index, block_index, block)
        self._changed(entry)

    def stream_block(
        self, entry: Entry, part_index: int, block_index: int, source: BlockSource
    ) -> bool:
        """Follow a block (see `Transcript.stream_block`). True if the entry was not already
        waiting for a layout."""
        entry.streaming[(part_index, block_index)] = source
        self.live[entry.index] = entry
        if entry.index in self.dirty:
            return False
        self._changed(entry)
        return True

    def set_state(self, entry: Entry, state: str, note: str | None) -> None:
        entry.state = state
        entry.note = note
        entry.status_dirty = True
        self._changed(entry)

    def set_footer(self, entry: Entry, text: str | None) -> None:
        entry.footer = text
        entry.footer_dirty = True
        self._changed(entry)

    def prepend(self, added: Sequence[Entry], estimate: Callable[[Entry], int]) -> int:
        """Put `added` (made by `new_entry`/`new_notice`, in order) above every entry; the
        number of lines they add (by `estimate`, asked once each in place). Entries already
        there keep their ids; their positions, the height index and the dirty and live tables
        move down with them.
        The entry that was first gets a gap line above it now: it is marked for a new layout
        (`gen` -1), and its height in the index grows by that line. O(n)."""
        count = len(added)
        if not count:
            return 0
        if self.id_base - count < self.id_floor:
            raise OverflowError("no ids left above the first entry")
        old = self.entries
        if old:
            first = old[0]
            first.gen = -1  # its gap (no gap above the very first entry) changes
            first_height = self.heights.value(0) + 1
        heights = []
        for position, entry in enumerate(added):
            entry.index = position  # before estimating: the first entry has no gap above
            heights.append(estimate(entry))
        for entry in old:
            entry.index += count
        self.entries = [*added, *old]
        values = [*heights, *(self.heights.value(i) for i in range(len(old)))]
        if old:
            values[count] = first_height
        self.heights.rebuild(values)
        self.dirty = {index + count: entry for index, entry in self.dirty.items()}
        self.live = {index + count: entry for index, entry in self.live.items()}
        self.id_base -= count
        self.version += 1
        return sum(heights) + (1 if old else 0)

    def clear(self) -> None:
        self.id_base += len(self.entries) + PREPEND_ROOM
        self.id_floor = self.id_base - PREPEND_ROOM
        self.entries = []
        self.dirty.clear()
        self.live.clear()
        self.heights = HeightIndex()
        self.version += 1

    def _set_part(self, entry: Entry, index: int, part: Part) -> None:
        slots = entry.slots
        if index == len(slots):
            slots.append(Slot(part))
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
            slots[index] = Slot(part)
            entry.structural = True

    def _set_block(self, entry: Entry, part_index: int, block_index: int, block: Block) -> None:
        slots = entry.slots
        if part_index == len(slots):
            slots.append(Slot(RichTextPart()))
            entry.structural = True
        elif not 0 <= part_index < len(slots):
            raise IndexError(f"part index {part_index} out of range ({len(slots)} parts)")
        slot = slots[part_index]
        if slot.blocks is None:
            slot = slots[part_index] = Slot(RichTextPart())
            entry.structural = True
        assert slot.blocks is not None
        if block_index == len(slot.blocks):
            slot.blocks.append(block)
        elif 0 <= block_index < len(slot.blocks):
            slot.blocks[block_index] = block
        else:
            raise IndexError(f"block index {block_index} out of range ({len(slot.blocks)} blocks)")
        slot.dirty_blocks.add(block_index)

    def fetch_streaming(self, entry: Entry) -> bool:
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
        if changed:
            entry.version += 1
            self.version += 1
        if entry.state not in IN_PROGRESS:
            self.stop_following(entry)
        elif not streaming:
            self.live.pop(entry.index, None)
        return changed

    def stop_following(self, entry: Entry, part_index: int | None = None) -> None:
        """No longer follow the entry's blocks of part `part_index` (of every part if None)."""
        if entry.streaming:
            entry.forget_streaming(part_index)
        if not entry.streaming:
            self.live.pop(entry.index, None)
