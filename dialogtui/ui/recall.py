"""Earlier messages for Up/Down in an empty composer, kept on disk per bot.

One small JSON file per (server, chatbot) under the data directory, readable by its owner
only. A message that looks like a credential (anything `api.redaction.redact` would
change: a bearer token, a JWT, `api_key=…`) is never kept, on disk or in memory.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from dialogtui.api.redaction import redact

LIMIT = 200
"""Messages kept per bot; the oldest go first."""


class InputRecall:
    """The messages typed to one bot, oldest first, and a cursor for browsing them."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path  # None: kept in memory only (saving is off)
        self.items: list[str] = []
        self._cursor: int | None = None  # index into items while browsing
        self._draft = ""
        if path is not None:
            self.items = _load(path)

    @classmethod
    def for_bot(cls, directory: Path | None, base_url: str, chatbot_id: str) -> InputRecall:
        if directory is None:
            return cls()
        digest = hashlib.sha256(f"{base_url}\n{chatbot_id}".encode()).hexdigest()[:24]
        return cls(directory / "recall" / f"{digest}.json")

    def add(self, text: str) -> None:
        """Keep a sent message (not a repeat of the last one, never a credential)."""
        self._cursor = None
        if not text.strip() or redact(text) != text:
            return
        if self.items and self.items[-1] == text:
            return
        self.items.append(text)
        del self.items[:-LIMIT]
        if self.path is not None:
            _save(self.path, self.items)

    @property
    def browsing(self) -> bool:
        return self._cursor is not None

    def previous(self, current: str) -> str | None:
        """The message before the one shown (the newest first); None at the oldest."""
        if not self.items:
            return None
        if self._cursor is None:
            self._draft = current
            self._cursor = len(self.items)
        if self._cursor == 0:
            return None
        self._cursor -= 1
        return self.items[self._cursor]

    def next(self) -> str | None:
        """The message after the one shown; back past the newest gives the draft. None when
        not browsing."""
        if self._cursor is None:
            return None
        self._cursor += 1
        if self._cursor >= len(self.items):
            self._cursor = None
            return self._draft
        return self.items[self._cursor]

    def stop(self) -> None:
        self._cursor = None


def _load(path: Path) -> list[str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []  # missing or damaged: start afresh (it is a convenience, not a record)
    if not isinstance(data, list):
        return []
    return [item for item in data if isinstance(item, str)][-LIMIT:]


def _save(path: Path, items: list[str]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(items, handle, ensure_ascii=False)
        os.replace(temporary, path)
    except OSError:
        pass  # a read-only disk costs the recall, never the message
