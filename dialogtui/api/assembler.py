"""Builds an assistant reply from stream events, incrementally.

Rules (from the contract): `part_delta` events build parts per `part_id`, in first-seen order;
a `part` event replaces what the deltas built for its `part_id` (or adds a new part); the
`done` message replaces everything (it is the source of truth). Unknown actions, part types
and anything malformed are skipped, never fatal: `feed` never raises.

Versions: every block of a rich_text part carries a version, a number that changes whenever the
block does (`block_version`), and the reply as a whole has one (`version`). A reader that follows
a growing block at its own pace (a UI at its frame rate, a recorder on a clock) compares versions
instead of looking at every delta; the hot path below pays nothing for them.

Cost: `feed` does O(size of the event) work. Text arrives as chunks kept in lists and is only
joined when a part or block is materialized; materialized values are cached until that part or
block changes, so a renderer that reads the block a `Change` names, at its own pace, pays for
each character once.

Unknown block and span types are kept in place (as the models keep them), so block indexes stay
aligned with the server's and the built part matches the authoritative one; renderers skip them.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from .models import (
    Block,
    Cell,
    Delta,
    DoneEvent,
    ListItem,
    Message,
    Part,
    PartDeltaEvent,
    PartEvent,
    Product,
    ProductsPart,
    RichTextPart,
    Span,
    StreamEvent,
    Suggestion,
    SuggestionsPart,
    TablePart,
    TextPart,
)

EVERYTHING: Final = -1
"""`Change.part_index` when the whole reply was replaced (`done`, `reset_to`)."""


class Change(NamedTuple):
    """What one event changed, so a renderer can redo only that.

    * `structural`: a part was added or replaced: re-render the part (all parts when
      `part_index == EVERYTHING`).
    * `block_index` set: only that block of a rich_text part changed: it was added (always
      as the part's last block) or grew (text, a span or an item was appended).
    * neither: the part grew at its end (a product, suggestion or table row was appended).

    Successive `append_text` deltas to one block return a Change equal to the last one (the
    very same object, which makes the comparison cheap); how far the block has grown since is
    told by `ReplyAssembler.block_version`.
    """

    part_index: int
    block_index: int | None = None
    structural: bool = False
    # A NamedTuple, not a frozen dataclass: it builds about twice as fast.

    @property
    def everything(self) -> bool:
        return self.part_index == EVERYTHING


# ---------------------------------------------------------------------------------------------
# Builders: mutable, append-only state of parts that are still streaming


class _TextRun:
    """A plain text span still growing; chunks are joined only when materialized."""

    __slots__ = ("chunks",)

    def __init__(self, text: str) -> None:
        self.chunks: list[str] = [text]

    def materialize(self, counter: _Counter) -> Span:
        chunks = self.chunks
        if len(chunks) > 1:
            counter.joined_chunks += len(chunks)
            # Keep the joined string as the single chunk: the next join starts from it. In the
            # same list: the assembler's hot path appends to it.
            chunks[:] = ["".join(chunks)]
        return Span(type="text", text=chunks[0])


_SpanLike = Span | _TextRun


class _Counter:
    """Work done by materialization: lets tests check that feeding never joins text."""

    __slots__ = ("joined_chunks",)

    def __init__(self) -> None:
        self.joined_chunks = 0


def _add_text(spans: list[_SpanLike], text: str) -> None:
    # Consecutive text grows one plain span, which is what the authoritative part holds.
    last = spans[-1] if spans else None
    if isinstance(last, _TextRun):
        last.chunks.append(text)
    elif isinstance(last, Span) and last.type == "text" and last.url is None:
        run = _TextRun(last.text)
        run.chunks.append(text)
        spans[-1] = run
    else:
        spans.append(_TextRun(text))


def _materialize_spans(spans: list[_SpanLike], counter: _Counter) -> list[Span]:
    return [span.materialize(counter) if isinstance(span, _TextRun) else span for span in spans]


class _BlockBuilder:
    __slots__ = ("cache", "items", "spans", "type", "version")

    def __init__(self, block_type: str, version: int) -> None:
        self.type = block_type
        self.spans: list[_SpanLike] = []
        self.items: list[list[_SpanLike]] = []
        self.cache: Block | None = None
        self.version = version
        """Stamped from the assembler's clock at every change (see `ReplyAssembler.version`)."""

    def append_text(self, text: str) -> bool:
        if self.type != "bullet_list":
            # `_add_text` inlined for a plain text run (the first append of each run of appends
            # to a block comes here; the assembler's hot path takes the rest).
            spans = self.spans
            if spans and type(spans[-1]) is _TextRun:
                spans[-1].chunks.append(text)
                self.cache = None
                return True
            target: list[_SpanLike] | None = spans
        else:
            target = self.inline_target()
        if target is None:
            return False
        _add_text(target, text)
        self.cache = None
        return True

    def append_span(self, span: Span) -> bool:
        target = self.inline_target()
        if target is None:
            return False
        target.append(span)
        self.cache = None
        return True

    def append_item(self, item: ListItem) -> bool:
        if self.type == "paragraph":
            return False
        self.items.append(list(item.spans))
        self.cache = None
        return True

    def inline_target(self) -> list[_SpanLike] | None:
        """Where inline content goes: a list's newest item, any other block's own spans."""
        if self.type == "bullet_list":
            return self.items[-1] if self.items else None
        return self.spans

    def materialize(self, counter: _Counter) -> Block:
        if self.cache is None:
            self.cache = Block(
                type=self.type,
                spans=_materialize_spans(self.spans, counter),
                items=[ListItem(spans=_materialize_spans(item, counter)) for item in self.items],
            )
        return self.cache


class _PartBuilder:
    """A part under construction from deltas. One class for the four streamable kinds."""

    __slots__ = (
        "alignments",
        "blocks",
        "cache",
        "caption",
        "headers",
        "kind",
        "part_id",
        "products",
        "rows",
        "suggestions",
    )

    STREAMABLE: Final = frozenset({"rich_text", "products", "suggestions", "table"})

    def __init__(self, part_id: str, delta: Delta) -> None:
        self.part_id = part_id
        self.kind = delta.part_type or ""
        self.blocks: list[_BlockBuilder] = []
        self.products: list[Product] = []
        self.suggestions: list[Suggestion] = []
        self.rows: list[list[Cell]] = []
        self.headers = list(delta.headers or [])
        self.alignments = list(delta.alignments) if delta.alignments is not None else None
        self.caption = delta.caption
        self.cache: Part | None = None

    def apply(self, index: int, delta: Delta) -> tuple[Change | None, int]:
        """The change and the number of characters of visible text added."""
        action = delta.action
        if self.kind == "rich_text":
            return self._apply_rich(index, delta)
        if action == "append_product" and self.kind == "products" and delta.product is not None:
            self.products.append(delta.product)
        elif (
            action == "append_suggestion"
            and self.kind == "suggestions"
            and delta.suggestion is not None
        ):
            self.suggestions.append(delta.suggestion)
        elif action == "append_row" and self.kind == "table" and delta.row is not None:
            self.rows.append(list(delta.row))
        else:
            return None, 0  # end_part, and anything this client does not know
        self.cache = None
        return Change(index), 0

    def _apply_rich(self, index: int, delta: Delta) -> tuple[Change | None, int]:
        action, block_index = delta.action, delta.block_index
        if action == "start_block":
            if block_index != len(self.blocks):
                return None, 0  # a gap or a repeat: the authoritative part will sort it out
            self.blocks.append(_BlockBuilder(delta.block_type or "paragraph", 0))
            self.cache = None
            return Change(index, block_index=block_index), 0
        if block_index is None or not 0 <= block_index < len(self.blocks):
            return None, 0
        block = self.blocks[block_index]
        if action == "append_text" and delta.text is not None:
            changed, added = block.append_text(delta.text), len(delta.text)
        elif action == "append_span" and delta.span is not None:
            changed, added = block.append_span(delta.span), len(delta.span.text)
        elif action == "append_item" and delta.item is not None:
            added = sum(len(span.text) for span in delta.item.spans)
            changed = block.append_item(delta.item)
        else:
            return None, 0  # end_block, and unknown actions
        if not changed:
            return None, 0
        self.cache = None
        # Positional: keyword arguments cost a NamedTuple more than twice as much.
        return Change(index, block_index, False), added

    def block(self, block_index: int, counter: _Counter) -> Block:
        if self.kind != "rich_text" or not 0 <= block_index < len(self.blocks):
            raise IndexError(block_index)
        return self.blocks[block_index].materialize(counter)

    def materialize(self, counter: _Counter) -> Part:
        if self.cache is None:
            self.cache = self._build(counter)
        return self.cache

    def _build(self, counter: _Counter) -> Part:
        if self.kind == "rich_text":
            return RichTextPart(
                part_id=self.part_id, blocks=[b.materialize(counter) for b in self.blocks]
            )
        if self.kind == "products":
            return ProductsPart(part_id=self.part_id, products=list(self.products))
        if self.kind == "suggestions":
            return SuggestionsPart(part_id=self.part_id, suggestions=list(self.suggestions))
        return TablePart(
            part_id=self.part_id,
            headers=list(self.headers),
            alignments=list(self.alignments) if self.alignments is not None else None,
            caption=self.caption,
            rows=list(self.rows),
        )


# ---------------------------------------------------------------------------------------------
# The assembler


class ReplyAssembler:
    """Feed it every event of one reply; read parts back at any time."""

    def __init__(self) -> None:
        self._entries: list[_PartBuilder | Part] = []
        self._index_of: dict[str, int] = {}
        self._chars: list[int] = []  # visible characters per entry, for `text_length`
        self._text_length = 0
        self._counter = _Counter()
        self._version = 0
        """The clock: advanced by every visible change; blocks and parts keep the time of theirs."""
        self._stamps: list[int] = []  # per entry: the version of its last change
        self.message: Message | None = None
        """`done.message` once received (or what `reset_to` was given)."""
        # The streaming hot path: the text run the last `append_text` grew. While the next
        # delta appends to the same block, `feed` appends to that run's chunks and returns
        # the last delta's Change again; the counts and the caches it leaves stale are
        # settled when anything is read, or another event arrives (`_settle`).
        self._hot_id: str | None = None
        self._hot_index = 0
        self._hot_block = 0
        self._hot_part: _PartBuilder | None = None
        self._hot_builder: _BlockBuilder | None = None
        self._hot_chunks: list[str] = []
        self._hot_change: Change | None = None
        self._hot_added = 0

    # -- reading --------------------------------------------------------------------------------

    @property
    def part_count(self) -> int:
        return len(self._entries)

    @property
    def text_length(self) -> int:
        """Visible characters so far: the text deltas brought, and whole parts as they came."""
        self._settle()
        return self._text_length

    @property
    def version(self) -> int:
        """Changes whenever anything visible in the reply changes (a recorder's cue to save)."""
        self._settle()
        return self._version

    def block_version(self, part_index: int, block_index: int) -> int:
        """Changes whenever block `block_index` of part `part_index` does, or the part is
        replaced: a reader that follows a growing block fetches it (`block`) only when this
        moved. O(1). IndexError if there is no such block."""
        self._settle()
        entry = self._entries[part_index]
        if isinstance(entry, _PartBuilder):
            if entry.kind != "rich_text" or not 0 <= block_index < len(entry.blocks):
                raise IndexError(block_index)
            return entry.blocks[block_index].version
        if not isinstance(entry, RichTextPart) or not 0 <= block_index < len(entry.blocks):
            raise IndexError(block_index)
        return self._stamps[part_index]

    @property
    def joined_chunks(self) -> int:
        """Text chunks joined by materialization so far: a cost figure, for tests and benchmarks."""
        return self._counter.joined_chunks

    def part(self, index: int) -> Part:
        """The part at `index`, materialized and cached until it changes. Treat it as read-only."""
        self._settle()
        entry = self._entries[index]
        return entry.materialize(self._counter) if isinstance(entry, _PartBuilder) else entry

    def block(self, part_index: int, block_index: int) -> Block:
        """One block of a rich_text part: O(size of that block). IndexError if there is none."""
        self._settle()
        entry = self._entries[part_index]
        if isinstance(entry, _PartBuilder):
            return entry.block(block_index, self._counter)
        if not isinstance(entry, RichTextPart) or not 0 <= block_index < len(entry.blocks):
            raise IndexError(block_index)
        return entry.blocks[block_index]

    @property
    def parts(self) -> list[Part]:
        return [self.part(i) for i in range(len(self._entries))]

    # -- writing --------------------------------------------------------------------------------

    def feed(self, event: StreamEvent) -> Change | None:
        """Apply one event. None when nothing visible changed. Never raises for any event."""
        if type(event) is PartDeltaEvent and event.part_id == self._hot_id:
            delta = event.delta
            text = delta.text
            if (
                delta.action == "append_text"
                and delta.block_index == self._hot_block
                and text is not None
            ):
                self._hot_chunks.append(text)
                self._hot_added += len(text)
                return self._hot_change
        self._settle()
        self._hot_id = None
        if self.message is not None:
            return None  # `done` was final; nothing after it can change the reply
        if isinstance(event, PartDeltaEvent):
            return self._on_delta(event)
        if isinstance(event, PartEvent):
            return self._on_part(event.part)
        if isinstance(event, DoneEvent):
            self.reset_to(event.message)
            return Change(EVERYTHING, structural=True)
        return None  # status, error, unknown and malformed events change nothing visible

    def reset_to(self, message: Message) -> None:
        """Replace everything with `message` (the `done` message, or a message from history)."""
        self._settle()
        self._hot_id = None
        self._entries = list(message.parts)
        self._index_of = {}
        for index, part in enumerate(message.parts):
            part_id = getattr(part, "part_id", "")
            if part_id and part_id not in self._index_of:
                self._index_of[part_id] = index
        self._chars = [_visible_chars(part) for part in message.parts]
        self._text_length = sum(self._chars)
        self._version += 1
        self._stamps = [self._version] * len(message.parts)
        self.message = message

    def _on_delta(self, event: PartDeltaEvent) -> Change | None:
        part_id, delta = event.part_id, event.delta
        index = self._index_of.get(part_id)
        if delta.action == "start_part":
            if index is not None or delta.part_type not in _PartBuilder.STREAMABLE:
                return None  # a repeat, or a part type from the future: its deltas are ignored
            return self._add(part_id, _PartBuilder(part_id, delta), 0)
        if index is None:
            return None  # deltas without start_part
        entry = self._entries[index]
        if not isinstance(entry, _PartBuilder):
            return None  # already final: the authoritative part is not edited by late deltas
        change, added = entry.apply(index, delta)
        if change is None:
            return None
        self._chars[index] += added
        self._text_length += added
        self._version = version = self._version + 1
        self._stamps[index] = version
        block_index = change.block_index
        if block_index is not None:
            entry.blocks[block_index].version = version
            if delta.action == "append_text":
                self._heat(part_id, index, entry, change)
        return change

    def _heat(self, part_id: str, index: int, part: _PartBuilder, change: Change) -> None:
        """Make the text run an `append_text` just grew (a block's last span, or a list's
        newest item's) the hot path's target, and `change` what it returns."""
        block_index = change.block_index
        if block_index is None:
            return
        builder = part.blocks[block_index]
        spans = builder.inline_target()
        run = spans[-1] if spans else None
        if isinstance(run, _TextRun):
            self._hot_id, self._hot_index, self._hot_block = part_id, index, block_index
            self._hot_part, self._hot_builder, self._hot_chunks = part, builder, run.chunks
            self._hot_change = change

    def _settle(self) -> None:
        """Count the text the hot path appended since the last settle, and drop the caches
        it made stale (the block's and the part's)."""
        added = self._hot_added
        if added:
            self._hot_added = 0
            index = self._hot_index
            self._chars[index] += added
            self._text_length += added
            # One tick for all the appends since the last read: a version says "changed
            # since you looked", not how often.
            self._version = version = self._version + 1
            self._stamps[index] = version
            self._hot_builder.version = version  # type: ignore[union-attr]
            self._hot_builder.cache = None  # type: ignore[union-attr]
            self._hot_part.cache = None  # type: ignore[union-attr]

    def _on_part(self, part: Part) -> Change:
        part_id = getattr(part, "part_id", "")
        index = self._index_of.get(part_id) if part_id else None
        chars = _visible_chars(part)
        if index is None:
            return self._add(part_id, part, chars)
        self._entries[index] = part
        self._text_length += chars - self._chars[index]
        self._chars[index] = chars
        self._version += 1
        self._stamps[index] = self._version
        return Change(index, structural=True)

    def _add(self, part_id: str, entry: _PartBuilder | Part, chars: int) -> Change:
        index = len(self._entries)
        self._entries.append(entry)
        self._chars.append(chars)
        self._text_length += chars
        self._version += 1
        self._stamps.append(self._version)
        if part_id:
            self._index_of[part_id] = index
        return Change(index, structural=True)


def _visible_chars(part: Part) -> int:
    if isinstance(part, TextPart):
        return len(part.text)
    if isinstance(part, RichTextPart):
        total = 0
        for block in part.blocks:
            total += sum(len(span.text) for span in block.spans)
            total += sum(len(span.text) for item in block.items for span in item.spans)
        return total
    return 0
