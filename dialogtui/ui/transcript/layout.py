"""Laying the transcript's entries out into lines: wrapping, per-block layouts, state markers.

`EntryLayout` holds what a layout depends on (width, styles, labels: together one
*generation*) and turns an entry of `document.py` into chunks of `render.Line`s, from
scratch (`build`) or by applying the changes the document recorded (`apply_updates`).
No widget here; the console is only Rich's, for measuring.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console

from dialogtui.api.models import ImagePart
from dialogtui.text import sanitize_line
from dialogtui.ui.pictures import Picture, picture_lines
from dialogtui.ui.render import (
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

from .document import IN_PROGRESS, Chunk, Entry, Slot

_ROLE_LABELS = {"user": "You", "agent": "Agent", "system": "System"}


class EntryLayout:
    """Lays entries out at one width with one set of styles. `sync` starts a new generation
    when any of those change; an entry whose `gen` differs must be built again."""

    def __init__(self, console: Callable[[], Console]) -> None:
        self.width = 0
        self.gen = 0
        self.styles = RenderStyles()
        self.palette = Palette()
        self.frames: dict[bool, Frame] = {}
        self.gap: Line = ()
        self.blank: Line = ()
        self.bot_name = "Assistant"
        self.spin_frame = 0
        # Entries showing the waiting spinner, by index; `on_waiting` is told of each.
        self.spinning: set[int] = set()
        self.on_waiting: Callable[[], None] = lambda: None
        # Decoded pictures of image parts, by URL: drawn above the part's text line.
        self.pictures: dict[str, Picture] = {}
        self._console = console

    def sync(self, width: int, styles: RenderStyles, labels_changed: bool) -> bool:
        """Start a new generation if the width, styles or labels changed; True if so."""
        if width == self.width and styles == self.styles and not labels_changed:
            return False
        self.width = width
        self.styles = styles
        self.gen += 1
        self.palette = palette = Palette()
        self.frames = {
            False: Frame(width, styles.base, palette=palette),
            True: Frame(width, styles.user, left=1, right=1, palette=palette),
        }
        self.gap = self.blank = self.frames[False].blank()
        return True

    def estimate(self, entry: Entry) -> int:
        """The entry's height before it is laid out (cheap; from character counts)."""
        width = self.width or 80
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

    def header_lines(self, entry: Entry, joins: bytearray | None = None) -> list[Line]:
        styles, console, frame = self.styles, self._console(), entry.frame
        if entry.role == "notice":
            return notice_lines(entry.text, entry.variant, frame, styles, console, joins)
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

    def state_lines(self, entry: Entry, joins: bytearray | None = None) -> list[Line]:
        waiting = entry.state in IN_PROGRESS and not entry.has_content()
        if waiting:
            self.spinning.add(entry.index)
            self.on_waiting()
        else:
            self.spinning.discard(entry.index)
        return state_lines(
            entry.state,
            entry.note,
            waiting,
            self.spin_frame,
            entry.frame,
            self.styles,
            self._console(),
            joins,
        )

    def footer_lines(self, entry: Entry, joins: bytearray | None = None) -> list[Line]:
        return footer_lines(entry.footer, entry.frame, self.styles, self._console(), joins)

    def build(self, entry: Entry) -> None:
        """Lay an entry out from scratch (its followed blocks fetched already)."""
        frame = self.frames[entry.role == "user"]
        entry.frame = frame
        entry.blank = frame.blank()
        entry.gap = Chunk([self.gap] if entry.index else [], False)
        # Joins only where a line follows another: most entries' furniture is one line or none.
        joins = bytearray()
        entry.header = Chunk(self.header_lines(entry, joins), False, joins or None)
        for slot in entry.slots:
            self.layout_slot(entry, slot)
        joins = bytearray()
        entry.status = Chunk(self.state_lines(entry, joins), True, joins or None)
        joins = bytearray()
        entry.footer_chunk = Chunk(self.footer_lines(entry, joins), False, joins or None)
        entry.structural = entry.status_dirty = entry.footer_dirty = False
        entry.gen = self.gen
        entry.assemble()

    def layout_slot(self, entry: Entry, slot: Slot) -> None:
        frame, styles, console = entry.frame, self.styles, self._console()
        if slot.blocks is not None:
            final = entry.state not in IN_PROGRESS
            slot.layouts = [
                layout_block(block, frame, styles, console, final) for block in slot.blocks
            ]
            slot.chunks = [Chunk(layout.lines, True, layout.joins) for layout in slot.layouts]
        else:
            slot.layouts = []
            joins = bytearray()
            lines = render_part(slot.part, frame, styles, console, joins)
            part = slot.part
            picture = self.pictures.get(part.url) if isinstance(part, ImagePart) else None
            if picture is not None:
                drawn = picture_lines(picture, frame, console)
                lines = drawn + lines
                joins[0:0] = bytes(len(drawn))
            slot.chunks = [Chunk(lines, True, joins)]
        slot.dirty = False
        slot.dirty_blocks.clear()

    def apply_updates(self, entry: Entry) -> int | None:
        """Apply recorded changes to a laid-out entry; the first changed line, or None."""
        frame, styles, console = entry.frame, self.styles, self._console()
        height = entry.height  # lines past both the old and the new end are blank before and after
        structural = entry.structural
        start: int | None = None  # the first chunk whose lines or position changed
        # The first line a growing block changed: a paragraph that grew by a few words
        # changes its last line or two, and repainting it whole would repaint the screen.
        first_line: int | None = None
        appended: list[Chunk] = []  # new blocks at the end of the last part: the streaming case
        last_slot = entry.slots[-1] if entry.slots else None
        # Once the entry is finished, no block grows: the end of each shows what it held
        # back for what might follow (`BlockLayout.settle`).
        final = entry.state not in IN_PROGRESS
        for slot in entry.slots:
            if slot.dirty:
                self.layout_slot(entry, slot)
                structural = True
                continue
            blocks = slot.blocks
            if blocks is None:
                continue
            if len(slot.layouts) > len(blocks):
                del slot.layouts[len(blocks) :]
                del slot.chunks[len(blocks) :]
                structural = True
            settling = range(len(slot.layouts)) if final else ()
            for index in sorted({*slot.dirty_blocks, *settling}):
                if index >= len(blocks):
                    continue
                if index < len(slot.layouts):
                    layout = slot.layouts[index]
                    if index not in slot.dirty_blocks:
                        if not layout.settle():
                            continue
                        changed_from = layout.changed_from
                    elif layout.update(blocks[index]):
                        changed_from = layout.changed_from
                        if final and layout.settle():
                            changed_from = min(changed_from, layout.changed_from)
                    else:
                        layout = slot.layouts[index] = layout_block(
                            blocks[index], frame, styles, console, final
                        )
                        changed_from = 0
                    chunk = slot.chunks[index]
                    chunk.lines = layout.lines  # a layout may swap its list
                    chunk.joins = layout.joins
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
                    layout = layout_block(blocks[len(slot.layouts)], frame, styles, console, final)
                    slot.layouts.append(layout)
                    chunk = Chunk(layout.lines, True, layout.joins)
                    slot.chunks.append(chunk)
                    if at_end:
                        appended.append(chunk)
                structural = structural or not at_end
            slot.dirty_blocks.clear()
        redrawn: int | None = None  # the first chunk redrawn whole
        if entry.status_dirty or entry.state in IN_PROGRESS:
            joins = bytearray()
            lines = self.state_lines(entry, joins)
            if lines or entry.status.lines:
                entry.status.lines = lines
                entry.status.joins = joins or None
                redrawn = entry.status.pos
        if entry.footer_dirty:
            joins = bytearray()
            entry.footer_chunk.lines = self.footer_lines(entry, joins)
            entry.footer_chunk.joins = joins or None
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
        # height (what it lost, e.g. a footer or a marker gone, must be repainted): nothing
        # to repaint.
        return first_line if first_line is None or first_line < max(height, entry.height) else None
