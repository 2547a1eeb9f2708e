"""Where each key of a TOML document is defined: the line numbers `tomllib` does not give.

A test file's unknown key or bad value must be reported with its line. `tomllib` returns plain
dicts, so this scans the source once more, after `tomllib` has accepted it: the scanner may
then assume valid TOML and stays small. It follows table headers, arrays of tables, dotted
keys, inline tables and arrays (so `turns = [{ send = "hi" }]` works too), and skips strings
and comments, so a `key = ...` inside a multi-line string is never taken for a key.

Paths are tuples of keys and array indexes: `("turns", 2, "expect", "contains")` is the
`contains` of the third turn's `expect` table.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping

Path = tuple[str | int, ...]

_BARE_KEY = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def key_lines(source: str) -> dict[Path, int]:
    """Each defined key's path -> its 1-based line. Empty if the scanner cannot follow the
    source (it is only ever a help for messages: never a reason to fail)."""
    scanner = _Scanner(source)
    try:
        scanner.document()
    except (IndexError, ValueError, tomllib.TOMLDecodeError):
        return scanner.lines  # what was found before the scanner lost its way
    return scanner.lines


def line_of(lines: Mapping[Path, int], path: Path) -> int | None:
    """The line of `path`, else of its nearest ancestor that has one."""
    while path:
        line = lines.get(path)
        if line is not None:
            return line
        path = path[:-1]
    return None


class _Scanner:
    def __init__(self, source: str) -> None:
        self.text = source
        self.pos = 0
        self.line = 1
        self.lines: dict[Path, int] = {}
        self._tables: dict[Path, int] = {}
        """Array-of-tables paths -> how many elements headers have opened so far."""

    # -- the document -------------------------------------------------------------------------

    def document(self) -> None:
        table: Path = ()
        while True:
            self._skip_blank(newlines=True)
            if self.pos >= len(self.text):
                return
            if self.text.startswith("[[", self.pos):
                self.pos += 2
                keys = self._key()
                self._expect("]]")
                parent = (*self._resolve(keys[:-1]), keys[-1])
                count = self._tables.get(parent, 0)
                self._tables[parent] = count + 1
                table = (*parent, count)
                self._record(table)
            elif self.text[self.pos] == "[":
                self.pos += 1
                table = self._resolve(self._key())
                self._expect("]")
                self._record(table)
            else:
                self._key_value(table)

    def _resolve(self, keys: list[str]) -> Path:
        """A header's keys as a path: each array of tables on the way means its last element."""
        path: Path = ()
        for key in keys:
            path = (*path, key)
            count = self._tables.get(path)
            if count:
                path = (*path, count - 1)
        return path

    def _record(self, path: Path) -> None:
        self.lines.setdefault(path, self.line)

    # -- keys and values ----------------------------------------------------------------------

    def _key_value(self, table: Path) -> None:
        keys = self._key()
        line = self.line
        for depth in range(1, len(keys) + 1):
            self.lines.setdefault((*table, *keys[:depth]), line)
        self._skip_blank()
        self._expect("=")
        self._value((*table, *keys))

    def _key(self) -> list[str]:
        keys: list[str] = []
        while True:
            self._skip_blank()
            char = self.text[self.pos]
            if char in "\"'":
                start = self.pos
                self._string()
                # A quoted key is decoded by tomllib itself: escapes and all, exactly.
                keys.append(tomllib.loads(f"k = {self.text[start : self.pos]}")["k"])
            else:
                start = self.pos
                while self.pos < len(self.text) and self.text[self.pos] in _BARE_KEY:
                    self.pos += 1
                if self.pos == start:
                    raise ValueError("no key here")
                keys.append(self.text[start : self.pos])
            self._skip_blank()
            if self.pos < len(self.text) and self.text[self.pos] == ".":
                self.pos += 1
                continue
            return keys

    def _value(self, path: Path) -> None:
        self._skip_blank()
        char = self.text[self.pos]
        if char in "\"'":
            self._string()
        elif char == "[":
            self.pos += 1
            index = 0
            while True:
                self._skip_blank(newlines=True)
                if self.text[self.pos] == "]":
                    self.pos += 1
                    return
                self._record((*path, index))
                self._value((*path, index))
                self._skip_blank(newlines=True)
                if self.text[self.pos] == ",":
                    self.pos += 1
                    index += 1
        elif char == "{":
            self.pos += 1
            while True:
                self._skip_blank()
                if self.text[self.pos] == "}":
                    self.pos += 1
                    return
                self._key_value(path)
                self._skip_blank()
                if self.text[self.pos] == ",":
                    self.pos += 1
        else:
            # Numbers, booleans, dates: up to whatever may follow a value.
            while self.pos < len(self.text) and self.text[self.pos] not in ",]}\n#":
                self.pos += 1

    def _string(self) -> None:
        quote = self.text[self.pos]
        if self.text.startswith(quote * 3, self.pos):
            self.pos += 3
            end = self._find_closing(quote * 3, escapes=quote == '"')
            # Up to two quotes may sit right before the closing delimiter: `""""x"""""`.
            extra = 0
            while extra < 2 and self.text.startswith(quote, end + 3):
                end += 1
                extra += 1
            self._advance_to(end + 3)
        else:
            self.pos += 1
            self._advance_to(self._find_closing(quote, escapes=quote == '"') + 1)

    def _find_closing(self, delimiter: str, *, escapes: bool) -> int:
        index = self.pos
        while True:
            if escapes and self.text[index] == "\\":
                index += 2
                continue
            if self.text.startswith(delimiter, index):
                return index
            index += 1

    # -- moving -------------------------------------------------------------------------------

    def _advance_to(self, end: int) -> None:
        self.line += self.text.count("\n", self.pos, end)
        self.pos = end

    def _skip_blank(self, *, newlines: bool = False) -> None:
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char in " \t\r":
                self.pos += 1
            elif char == "#":
                while self.pos < len(text) and text[self.pos] != "\n":
                    self.pos += 1
            elif char == "\n" and newlines:
                self.pos += 1
                self.line += 1
            else:
                return

    def _expect(self, token: str) -> None:
        self._skip_blank()
        if not self.text.startswith(token, self.pos):
            raise ValueError(f"expected {token!r}")
        self.pos += len(token)
