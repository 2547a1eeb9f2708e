"""Checking one reply against its expectations: a pure function on a small record."""

from __future__ import annotations

from dataclasses import dataclass

from ..text import sanitize_line
from .testfile import Expectations

_QUOTE_LIMIT = 60


@dataclass(frozen=True, slots=True)
class TurnResult:
    """What one turn of a played test file produced: all an expectation may look at."""

    reply: str
    """The reply's plain text (for a form, the confirmation text)."""
    outcome: str
    """done, error, incomplete or cancelled."""
    error_code: str | None = None
    """The server's error code (`rate_limited`, `stream_error`, ...) or, without one, the
    client's error kind (`network`, `timeout`, ...)."""
    part_types: frozenset[str] = frozenset()
    """The `type` of every part of the reply (`rich_text`, `products`, `show_contact_form`)."""
    to_headers: float | None = None
    to_first_text: float | None = None
    total: float | None = None
    """Seconds from sending to the response headers, the first text and the end."""
    problem: Failure | None = None
    """Why the step could not be played at all (no such suggestion, no open form): then
    nothing else is checked."""


@dataclass(frozen=True, slots=True)
class Failure:
    expectation: str
    """The expectation as written, e.g. `contains "price"` or `max_seconds = 3`."""
    reason: str
    """What was seen instead, in one line."""

    def __str__(self) -> str:
        return f"{self.expectation}: {self.reason}"


def evaluate(expect: Expectations, result: TurnResult) -> list[Failure]:
    """The expectations `result` does not meet, in the order of the file format; [] if all hold."""
    if result.problem is not None:
        return [result.problem]
    failures: list[Failure] = []
    if expect.outcome is not None and result.outcome != expect.outcome:
        failures.append(Failure(f"outcome = {expect.outcome}", f"the turn ended {_ended(result)}"))
    if expect.error_code is not None and result.error_code != expect.error_code:
        seen = f"the error code was {result.error_code}" if result.error_code else "no error"
        failures.append(Failure(f"error_code = {_quote(expect.error_code)}", seen))
    folded = result.reply.casefold()
    for wanted in expect.contains:
        if wanted.casefold() not in folded:
            failures.append(Failure(f"contains {_quote(wanted)}", "the reply does not contain it"))
    for unwanted in expect.not_contains:
        if unwanted.casefold() in folded:
            failures.append(Failure(f"not_contains {_quote(unwanted)}", "the reply contains it"))
    if expect.regex is not None and expect.regex.search(result.reply) is None:
        failures.append(
            Failure(f"regex {_quote(expect.regex.pattern)}", "the reply does not match it")
        )
    missing = [part for part in expect.parts if part not in result.part_types]
    if missing:
        seen = ", ".join(sorted(result.part_types)) or "none"
        failures.append(
            Failure(
                "parts " + ", ".join(missing),
                f"{'it is' if len(missing) == 1 else 'they are'} not in the reply "
                f"(its parts: {seen})",
            )
        )
    if expect.max_seconds is not None:
        if result.total is None:
            failures.append(Failure(f"max_seconds = {expect.max_seconds:g}", "no time measured"))
        elif result.total > expect.max_seconds:
            failures.append(
                Failure(f"max_seconds = {expect.max_seconds:g}", f"it took {result.total:.2f} s")
            )
    if expect.max_first_text_seconds is not None:
        expectation = f"max_first_text_seconds = {expect.max_first_text_seconds:g}"
        if result.to_first_text is None:
            failures.append(Failure(expectation, "no text arrived"))
        elif result.to_first_text > expect.max_first_text_seconds:
            failures.append(
                Failure(expectation, f"the first text took {result.to_first_text:.2f} s")
            )
    return failures


def _ended(result: TurnResult) -> str:
    if result.error_code:
        return f"{result.outcome} ({result.error_code})"
    return result.outcome


def _quote(text: str) -> str:
    shown = sanitize_line(text)
    if len(shown) > _QUOTE_LIMIT:
        shown = shown[: _QUOTE_LIMIT - 1] + "…"
    return '"' + shown + '"'
