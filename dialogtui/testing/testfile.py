"""Conversation test files: TOML read with the standard library, checked key by key.

    name = "Pricing"                  # optional; the file name otherwise

    [[turns]]
    send = "What does the premium plan cost?"
    [turns.expect]
    contains = ["price", "month"]     # case-insensitive, all of them
    parts = ["products"]
    max_seconds = 5

    [[turns]]
    choose = "Talk to sales"          # a suggestion or quick reply of the last reply, by title
                                      # (on the first turn: one of the bot's start prompts)
    expect = { parts = ["show_contact_form"] }

    [[turns]]
    form = { name = "Ada", email = "ada@example.com" }   # submits the open form

Every problem (not UTF-8, not TOML, an unknown key, a value of the wrong type) is a
`TestFileError` whose message names the file, the line and the key.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any, Final, Literal

from ..text import sanitize_line
from .keylines import Path, key_lines, line_of

MAX_FILE_BYTES: Final = 1024 * 1024
"""A conversation test is a page of TOML, not a megabyte: a bigger file is a mistake."""

Outcome = Literal["done", "error", "incomplete"]
OUTCOMES: Final[tuple[Outcome, ...]] = ("done", "error", "incomplete")
ACTIONS: Final = ("send", "choose", "form")
FormValue = str | int | float | bool

_FILE_KEYS: Final = ("name", "turns")
_TURN_KEYS: Final = (*ACTIONS, "expect")
_EXPECT_KEYS: Final = (
    "contains",
    "not_contains",
    "regex",
    "outcome",
    "error_code",
    "parts",
    "max_seconds",
    "max_first_text_seconds",
)


class TestFileError(Exception):
    """A test file that cannot be used; the message is safe to print and says where."""

    __test__ = False  # not a pytest test class, whatever its name


@dataclass(frozen=True)
class Expectations:
    """What one reply must be. Empty lists and None mean "not checked"."""

    contains: tuple[str, ...] = ()
    not_contains: tuple[str, ...] = ()
    regex: re.Pattern[str] | None = None
    outcome: Outcome | None = "done"
    """None when only `error_code` was given: the code then says enough (a 429 or a stream
    error may end as `error` or, with a partial reply, `incomplete`)."""
    error_code: str | None = None
    parts: tuple[str, ...] = ()
    max_seconds: float | None = None
    max_first_text_seconds: float | None = None


@dataclass(frozen=True)
class TestTurn:
    """One step of the conversation: exactly one of `send`, `choose`, `form`."""

    __test__ = False

    number: int
    """1-based, as a person counts the `[[turns]]` of the file."""
    line: int | None
    send: str | None = None
    choose: str | None = None
    form: Mapping[str, FormValue] | None = None
    expect: Expectations = field(default_factory=Expectations)

    @property
    def label(self) -> str:
        """What the step does, in one line: the text sent, or the choice, or the form."""
        if self.send is not None:
            return self.send
        if self.choose is not None:
            return f"(choose) {self.choose}"
        return "(form) " + ", ".join(sorted(self.form or {}))


@dataclass(frozen=True)
class TestFile:
    __test__ = False

    path: str
    name: str
    turns: tuple[TestTurn, ...]


def load_test_file(path: str) -> TestFile:
    """Read and check a test file; `TestFileError` says what is wrong and where."""
    shown = sanitize_line(path)
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise TestFileError(
            f"{shown}: cannot read it: {exc.strerror or type(exc).__name__}."
        ) from None
    if len(data) > MAX_FILE_BYTES:
        raise TestFileError(f"{shown}: too big for a test file (over {MAX_FILE_BYTES // 1024} KB).")
    return parse_test_file(data, path)


def parse_test_file(data: bytes, path: str) -> TestFile:
    shown = sanitize_line(path)
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise TestFileError(
            f"{shown}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); "
            "save the file as UTF-8."
        ) from None
    source = source.removeprefix("\ufeff")  # a BOM some editors write: harmless, so allowed
    try:
        document = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message ends with "(at line N, column M)": the place is in it already.
        raise TestFileError(f"{shown}: not valid TOML: {sanitize_line(str(exc))}.") from None
    return _Checker(shown, source, default_name=FilePath(path).stem).file(document)


class _Checker:
    """Turns the parsed document into a `TestFile`, or raises for the first problem found."""

    def __init__(self, shown: str, source: str, *, default_name: str) -> None:
        self.shown = shown
        self.source = source
        self.default_name = default_name
        self._lines: dict[Path, int] | None = None

    def line(self, path: Path) -> int | None:
        if self._lines is None:
            self._lines = key_lines(self.source)  # only needed for messages and turn lines
        return line_of(self._lines, path)

    def fail(self, path: Path, message: str) -> TestFileError:
        line = self.line(path)
        where = f"{self.shown}:{line}" if line is not None else self.shown
        return TestFileError(f"{where}: {message}")

    def known_keys(self, table: Mapping[str, Any], path: Path, allowed: tuple[str, ...]) -> None:
        for key in table:
            if key not in allowed:
                where = f"in {_describe(path)} " if path else ""
                raise self.fail(
                    (*path, key),
                    f"unknown key {_quote(key)} {where}(allowed: {', '.join(allowed)}).",
                )

    # -- the file -----------------------------------------------------------------------------

    def file(self, document: dict[str, Any]) -> TestFile:
        self.known_keys(document, (), _FILE_KEYS)
        name = document.get("name", self.default_name)
        if not isinstance(name, str) or not name.strip():
            raise self.fail(("name",), "name must be a non-empty string.")
        raw_turns = document.get("turns")
        if raw_turns is None:
            raise self.fail((), 'no turns: add at least one [[turns]] table with send = "...".')
        if not isinstance(raw_turns, list) or not all(isinstance(t, dict) for t in raw_turns):
            raise self.fail(("turns",), "turns must be [[turns]] tables.")
        if not raw_turns:
            raise self.fail(("turns",), "no turns: turns is empty.")
        turns = tuple(self.turn(index, raw) for index, raw in enumerate(raw_turns))
        return TestFile(self.shown, sanitize_line(name.strip()), turns)

    def turn(self, index: int, raw: dict[str, Any]) -> TestTurn:
        path: Path = ("turns", index)
        self.known_keys(raw, path, _TURN_KEYS)
        actions = [key for key in ACTIONS if key in raw]
        if len(actions) != 1:
            what = "none" if not actions else " and ".join(actions)
            raise self.fail(
                path, f"turn {index + 1} needs exactly one of send, choose, form (it has {what})."
            )
        action = actions[0]
        value = raw[action]
        send = choose = None
        form: dict[str, FormValue] | None = None
        if action in ("send", "choose"):
            if not isinstance(value, str) or not value.strip():
                raise self.fail(
                    (*path, action),
                    f"{_describe((*path, action))} must be a "
                    f"non-empty string, not {_type_name(value)}.",
                )
            if action == "send":
                send = value
            else:
                choose = value.strip()
        else:
            form = self.form(value, (*path, "form"))
        expect = self.expect(raw.get("expect", {}), (*path, "expect"))
        return TestTurn(index + 1, self.line(path), send, choose, form, expect)

    def form(self, value: Any, path: Path) -> dict[str, FormValue]:
        if not isinstance(value, dict):
            raise self.fail(
                path,
                f"{_describe(path)} must be a table of field values "
                f'(form = {{ email = "..." }}), not {_type_name(value)}.',
            )
        for key, item in value.items():
            if isinstance(item, (dict, list)) or not isinstance(item, (str, int, float, bool)):
                raise self.fail(
                    (*path, key),
                    f"{_describe((*path, key))} must be a string, "
                    f"number or boolean, not {_type_name(item)}.",
                )
        return dict(value)

    # -- expectations -------------------------------------------------------------------------

    def expect(self, raw: Any, path: Path) -> Expectations:
        if not isinstance(raw, dict):
            raise self.fail(path, f"{_describe(path)} must be a table, not {_type_name(raw)}.")
        self.known_keys(raw, path, _EXPECT_KEYS)
        outcome: Outcome | None = "done"
        if "outcome" in raw:
            value = raw["outcome"]
            if value not in OUTCOMES:
                raise self.fail(
                    (*path, "outcome"),
                    f"{_describe((*path, 'outcome'))} must be "
                    f"one of {', '.join(OUTCOMES)}, not {_shown_value(value)}.",
                )
            outcome = value
        elif "error_code" in raw:
            outcome = None
        error_code = raw.get("error_code")
        if error_code is not None and (not isinstance(error_code, str) or not error_code):
            raise self.fail(
                (*path, "error_code"),
                f"{_describe((*path, 'error_code'))} must "
                f"be a non-empty string, not {_type_name(error_code)}.",
            )
        return Expectations(
            contains=self.strings(raw, path, "contains"),
            not_contains=self.strings(raw, path, "not_contains"),
            regex=self.regex(raw, path),
            outcome=outcome,
            error_code=error_code,
            parts=self.strings(raw, path, "parts"),
            max_seconds=self.seconds(raw, path, "max_seconds"),
            max_first_text_seconds=self.seconds(raw, path, "max_first_text_seconds"),
        )

    def strings(self, raw: Mapping[str, Any], path: Path, key: str) -> tuple[str, ...]:
        """A list of non-empty strings; one string alone is a list of one."""
        if key not in raw:
            return ()
        value = raw[key]
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise self.fail(
                (*path, key),
                f"{_describe((*path, key))} must be a list of strings, not {_type_name(value)}.",
            )
        for index, item in enumerate(items):
            if not isinstance(item, str) or not item:
                where = (*path, key, index) if isinstance(value, list) else (*path, key)
                raise self.fail(
                    where,
                    f"{_describe((*path, key))} must hold non-empty "
                    f"strings, not {_type_name(item)}.",
                )
        return tuple(items)

    def regex(self, raw: Mapping[str, Any], path: Path) -> re.Pattern[str] | None:
        if "regex" not in raw:
            return None
        value = raw["regex"]
        where = (*path, "regex")
        if not isinstance(value, str) or not value:
            raise self.fail(
                where, f"{_describe(where)} must be a non-empty string, not {_type_name(value)}."
            )
        try:
            return re.compile(value)
        except re.error as exc:
            raise self.fail(
                where,
                f"{_describe(where)} is not a valid regular expression: {sanitize_line(str(exc))}.",
            ) from None

    def seconds(self, raw: Mapping[str, Any], path: Path, key: str) -> float | None:
        if key not in raw:
            return None
        value = raw[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise self.fail(
                (*path, key),
                f"{_describe((*path, key))} must be a positive "
                f"number of seconds, not {_shown_value(value)}.",
            )
        return float(value)


def _describe(path: Path) -> str:
    """("turns", 2, "expect", "parts") -> "turn 3's expect.parts"; ("name",) -> "name"."""
    if len(path) >= 2 and path[0] == "turns" and isinstance(path[1], int):
        rest = ".".join(str(key) for key in path[2:] if isinstance(key, str))
        return f"turn {path[1] + 1}" + (f"'s {rest}" if rest else "")
    return ".".join(str(key) for key in path if isinstance(key, str))


def _quote(key: str) -> str:
    return '"' + sanitize_line(key)[:80] + '"'


def _type_name(value: Any) -> str:
    names = {
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        list: "a list",
        dict: "a table",
    }
    return names.get(type(value), "a date or time")


def _shown_value(value: Any) -> str:
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, (bool, int, float)):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return _type_name(value)
