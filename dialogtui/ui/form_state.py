"""Which of the bot's forms can be sent: the vendor's "latest actionable" rule, as state.

Only the form markers of the bot's newest message are current (the server answers an older one
with 409). A newer bot message, with markers or without, makes the current ones stale: they still
open, read-only. A sent marker stays sent. What a person typed into a form and closed with Esc is
kept as a draft until the form is sent. No Textual here: the app holds one of these from its start.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..api.models import ContactFormPart, FormMarker, FormPart, Message, Part, SupportTicketPart


def form_markers(parts: Iterable[Part]) -> list[FormMarker]:
    return [p for p in parts if isinstance(p, (ContactFormPart, FormPart, SupportTicketPart))]


class FormTracker:
    __slots__ = ("_drafts", "_told", "current", "places", "sent", "stale")

    def __init__(self) -> None:
        self.current: list[FormMarker] = []
        """The markers of the bot's newest message: the ones the server accepts."""
        self.stale: list[FormMarker] = []
        """Markers of older messages, newest last: they open read-only."""
        self.sent: set[str] = set()
        self.places: dict[str, tuple[int, int]] = {}
        """Where each marker is shown: part id -> (transcript entry id, part index)."""
        self._drafts: dict[str, dict[str, str]] = {}
        self._told: set[str] = set()  # markers already shown as no longer current

    def clear(self) -> None:
        self.current, self.stale = [], []
        self.sent.clear()
        self.places.clear()
        self._drafts.clear()
        self._told.clear()

    def bot_message(self, parts: Sequence[Part], entry: int | None = None) -> list[FormMarker]:
        """A new bot message (shown as transcript `entry`): its markers become current, the
        older ones stale; returns its markers."""
        markers = form_markers(parts)
        self.stale.extend(self.current)
        self.current = markers
        if entry is not None:
            ids = {m.part_id for m in markers}
            for index, part in enumerate(parts):
                if part.part_id in ids:
                    self.places[part.part_id] = (entry, index)
        return markers

    def history(self, messages: Sequence[Message], entries: Sequence[int | None] = ()) -> None:
        """The conversation as loaded (each message shown as `entries[i]`, if given): the
        newest bot message decides what is current."""
        self.clear()
        for index, message in enumerate(messages):
            if message.role == "assistant":
                self.bot_message(message.parts, entries[index] if index < len(entries) else None)

    def older(self, messages: Sequence[Message], entries: Sequence[int]) -> None:
        """A page of older history shown above (message i as `entries[i]`): the bot's markers
        there are older than any already known, so they are stale from the start."""
        older: list[FormMarker] = []
        for message, entry in zip(messages, entries, strict=True):
            if message.role != "assistant":
                continue
            markers = form_markers(message.parts)
            ids = {m.part_id for m in markers}
            for index, part in enumerate(message.parts):
                if part.part_id in ids:
                    self.places.setdefault(part.part_id, (entry, index))
            older.extend(markers)
        known = {m.part_id for m in (*self.stale, *self.current)}
        self.stale[:0] = [m for m in older if m.part_id not in known]

    def superseded(self) -> list[FormMarker]:
        """Stale markers never sent and not reported yet: to be shown as no longer current."""
        fresh = [m for m in self.stale if m.part_id not in self.sent | self._told]
        self._told.update(m.part_id for m in fresh)
        return fresh

    def openable(self) -> list[FormMarker]:
        """Current markers not sent yet."""
        return [m for m in self.current if m.part_id not in self.sent]

    def is_current(self, marker: FormMarker) -> bool:
        return any(m.part_id == marker.part_id for m in self.current)

    def mark_sent(self, marker: FormMarker) -> None:
        self.sent.add(marker.part_id)
        self._drafts.pop(marker.part_id, None)

    def mark_stale(self, marker: FormMarker) -> None:
        """The server said 409: no longer current, whatever this client thought."""
        self.current = [m for m in self.current if m.part_id != marker.part_id]
        self.stale.append(marker)

    def keep_draft(self, marker: FormMarker, values: dict[str, str]) -> None:
        if any(values.values()):
            self._drafts[marker.part_id] = dict(values)
        else:
            self._drafts.pop(marker.part_id, None)

    def draft(self, marker: FormMarker) -> dict[str, str]:
        return dict(self._drafts.get(marker.part_id, {}))
