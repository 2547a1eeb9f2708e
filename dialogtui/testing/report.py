"""What a test run reports: each turn as it ends (text or JSON), the figures at the end, JUnit XML.

Memory stays flat however many turns are played: the report keeps three numbers per turn for
the latency figures and a bounded number of failure details; replies are looked at once, when
their turn ends, and dropped. JUnit test cases are written to a temporary file as they come
and wrapped into the final document at the end.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final
from xml.sax.saxutils import escape, quoteattr

from ..text import sanitize, sanitize_line
from .expect import Failure, TurnResult
from .testfile import TestFile, TestTurn

EXCERPT_CHARS: Final = 240
"""A failing turn's reply is shown up to this many characters."""
MAX_FAILURE_DETAILS: Final = 20
"""Kinds of failure kept for the summary at the end; the rest were printed as they came."""
_LABEL_CHARS: Final = 60


@dataclass(frozen=True, slots=True)
class CaseId:
    """Which play of which step: the file's turn `turn`, by visitor `visitor` in round `round`."""

    file: TestFile
    turn: TestTurn
    visitor: int = 1
    round: int = 1

    def name(self, *, many: bool) -> str:
        """`turn 2: what does it cost?`, with visitor and round when there are several."""
        who = f" (visitor {self.visitor}, round {self.round})" if many else ""
        label = _shorten(sanitize_line(self.turn.label), _LABEL_CHARS)
        return f"turn {self.turn.number}{who}: {label}"


def excerpt(reply: str, limit: int = EXCERPT_CHARS) -> str:
    """The reply in one line, sanitised (no control characters), whitespace collapsed, trimmed."""
    # Only the head is looked at: a 100 KB reply costs no more than a short one.
    head = reply[: limit * 8]
    shown = sanitize_line(" ".join(head.split()))
    if len(head) < len(reply) and len(shown) <= limit:
        shown += "…"
    return _shorten(shown, limit)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------------
# Latency figures


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile (`fraction` 0.5 for p50): always a value that was measured."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class Spread:
    count: int
    p50: float | None
    p95: float | None
    max: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(
            len(values),
            percentile(values, 0.50),
            percentile(values, 0.95),
            max(values) if values else None,
        )


class Figures:
    """Per-turn times (seconds, as compact arrays of doubles) and error counts."""

    def __init__(self) -> None:
        self.to_headers = array("d")
        self.to_first_text = array("d")
        self.total = array("d")
        self.errors: Counter[str] = Counter()

    def add(self, result: TurnResult) -> None:
        failure = None
        if result.problem is not None:
            failure = "not_played"
        elif result.outcome != "done":
            failure = result.error_code or result.outcome
        self.add_times(result.to_headers, result.to_first_text, result.total, failure=failure)

    def add_times(
        self,
        to_headers: float | None,
        to_first_text: float | None,
        total: float | None,
        *,
        failure: str | None = None,
    ) -> None:
        """One turn's times; `failure` (an error code, or the outcome) if it did not end done."""
        for values, value in (
            (self.to_headers, to_headers),
            (self.to_first_text, to_first_text),
            (self.total, total),
        ):
            if value is not None:
                values.append(value)
        if failure is not None:
            self.errors[failure] += 1

    def spreads(self) -> dict[str, Spread]:
        return {
            "headers": Spread.of(self.to_headers),
            "first text": Spread.of(self.to_first_text),
            "done": Spread.of(self.total),
        }


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _ms(value: float | None) -> int | None:
    return None if value is None else round(value * 1000)


def figures_table(figures: Figures) -> str:
    spreads = figures.spreads()
    rows = [("latency", "p50", "p95", "max", "turns")]
    rows.extend(
        (name, _seconds(s.p50), _seconds(s.p95), _seconds(s.max), str(s.count))
        for name, s in spreads.items()
    )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [
        "  ".join(
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    ]
    if figures.errors:
        errors = ", ".join(f"{code} {n}" for code, n in figures.errors.most_common())
        lines.append(f"errors by code: {sanitize_line(errors)}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Per turn: the readable line and the JSON object


def turn_text(case: CaseId, result: TurnResult, failures: Sequence[Failure], *, many: bool) -> str:
    """A finished turn for a person: one line, and for a failure what failed (and, for a single
    play, the reply seen)."""
    mark = "FAIL" if failures else "ok  "
    took = f"  {_seconds(result.total)}" if result.total is not None else ""
    lines = [f"{mark} {sanitize_line(case.file.name)} · {case.name(many=many)}{took}"]
    if failures:
        lines.extend(f"     {sanitize_line(str(failure))}" for failure in failures)
        if not many:  # with many plays, the summary shows the reply once per kind of failure
            lines.append(f"     reply: {_reply_shown(result)}")
    return "\n".join(lines) + "\n"


def _reply_shown(result: TurnResult) -> str:
    if result.reply.strip():
        return '"' + excerpt(result.reply) + '"'
    return "(no text)"


def turn_json(case: CaseId, result: TurnResult, failures: Sequence[Failure]) -> dict[str, Any]:
    """One turn for a machine. The reply is there whole: it is written now, not kept."""
    return {
        "file": case.file.path,
        "test": case.file.name,
        "visitor": case.visitor,
        "round": case.round,
        "turn": case.turn.number,
        "sent": case.turn.label,
        "passed": not failures,
        "failures": [{"expectation": f.expectation, "reason": f.reason} for f in failures],
        "outcome": result.outcome,
        "error_code": result.error_code,
        "parts": sorted(result.part_types),
        "reply": result.reply,
        "timings": {
            "to_headers_ms": _ms(result.to_headers),
            "to_first_text_ms": _ms(result.to_first_text),
            "total_ms": _ms(result.total),
        },
    }


def json_line(record: dict[str, Any]) -> str:
    # ensure_ascii: a reply's escape sequences stay escaped even when a person reads the stream.
    return json.dumps(record, ensure_ascii=True) + "\n"


# ---------------------------------------------------------------------------------------------
# The whole run


@dataclass(slots=True)
class FailureGroup:
    """Plays of one step that failed the same way: counted, with the first one's details."""

    name: str
    failures: tuple[Failure, ...]
    reply: str
    """Already an excerpt: a bounded, sanitised line."""
    count: int = 1


class Report:
    """Counts, figures and the first kinds of failure of a run; JUnit XML as it goes."""

    def __init__(self, *, many: bool = False, junit: JUnitWriter | None = None) -> None:
        self.many = many
        """Several visitors or rounds: turn names say which."""
        self.junit = junit
        self.turns = 0
        self.failed = 0
        self.figures = Figures()
        self.groups: dict[tuple[str, int, tuple[str, ...]], FailureGroup] = {}
        """At most `MAX_FAILURE_DETAILS` kinds of failure, by file, step and expectations."""
        self.rate_limit_waits = 0
        self.rate_limit_seconds = 0.0
        self.interrupted = False

    def add(self, case: CaseId, result: TurnResult, failures: Sequence[Failure]) -> None:
        self.turns += 1
        self.figures.add(result)
        if failures:
            self.failed += 1
            key = (case.file.name, case.turn.number, tuple(f.expectation for f in failures))
            group = self.groups.get(key)
            if group is not None:
                group.count += 1
            elif len(self.groups) < MAX_FAILURE_DETAILS:
                self.groups[key] = FailureGroup(
                    f"{case.file.name} · {case.name(many=False)}",
                    tuple(failures),
                    _reply_shown(result),
                )
        if self.junit is not None:
            self.junit.add(case, result, failures, many=self.many)

    def rate_limited(self, seconds: float) -> None:
        self.rate_limit_waits += 1
        self.rate_limit_seconds += seconds

    @property
    def passed(self) -> int:
        return self.turns - self.failed

    def summary(self, *, list_failures: bool = True) -> str:
        """The end of the report: the first failures again (when the turns printed as they
        ended were interleaved or scrolled away), the tally, the back-off and the figures."""
        lines: list[str] = []
        if self.groups and list_failures:
            lines.append("")
            lines.append("Failures:")
            for group in self.groups.values():
                times = f" ({group.count} times)" if group.count > 1 else ""
                lines.append(f"  {sanitize_line(group.name)}{times}")
                lines.extend(f"    {sanitize_line(str(f))}" for f in group.failures)
                lines.append(f"    reply: {group.reply}")
            shown = sum(group.count for group in self.groups.values())
            if self.failed > shown:
                lines.append(f"  ... and {self.failed - shown} more failed turns")
        lines.append("")
        tally = (
            f"{self.turns} turn{'s' if self.turns != 1 else ''}: "
            f"{self.passed} passed, {self.failed} failed"
        )
        if self.interrupted:
            tally += " (interrupted: the rest were not played)"
        lines.append(tally)
        if self.rate_limit_waits:
            lines.append(
                f"rate limited: waited {self.rate_limit_waits} time"
                f"{'s' if self.rate_limit_waits != 1 else ''}, "
                f"{self.rate_limit_seconds:.1f} s in all"
            )
        return "\n".join(lines) + "\n" + figures_table(self.figures)


# ---------------------------------------------------------------------------------------------
# JUnit XML


# What XML 1.0 allows in a document at all, escaped or not: no C0 controls but tab, newline
# and carriage return; no surrogates; no U+FFFE or U+FFFF.
_NOT_XML: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """`text` made safe for XML 1.0 content: controls shown as pictures, the rest replaced."""
    return _NOT_XML.sub("\ufffd", sanitize(text))


class JUnitWriter:
    """JUnit XML as CI servers read it: a suite per test file, a test case per turn played.

    Cases go to a temporary file as they come (so memory stays flat), grouped by suite at the
    end; `finish` writes the document next to `path` and renames it into place, so a reader
    never sees half a report.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._cases: dict[str, tuple[IO[str], _SuiteCounts, str]] = {}
        self._error: OSError | None = None
        """The first failure to write a case (a full disk): the run goes on, `finish` says."""

    def add(
        self, case: CaseId, result: TurnResult, failures: Sequence[Failure], *, many: bool
    ) -> None:
        if self._error is not None:
            return
        try:
            self._add(case, result, failures, many=many)
        except OSError as exc:
            self._error = exc

    def _add(
        self, case: CaseId, result: TurnResult, failures: Sequence[Failure], *, many: bool
    ) -> None:
        key = case.file.path  # two files may share a name: each is a suite of its own
        if key not in self._cases:
            self._cases[key] = (
                tempfile.TemporaryFile("w+", encoding="utf-8"),  # noqa: SIM115 (closed in finish)
                _SuiteCounts(),
                case.file.name,
            )
        stream, counts, suite = self._cases[key]
        seconds = result.total or 0.0
        attributes = (
            f'classname={_attr(suite)} name={_attr(case.name(many=many))} time="{seconds:.3f}"'
        )
        if not failures:
            stream.write(f"    <testcase {attributes}/>\n")
        else:
            message = "; ".join(str(f) for f in failures)
            body = "\n".join([*(str(f) for f in failures), f"reply: {_reply_shown(result)}"])
            stream.write(
                f"    <testcase {attributes}>\n"
                f"      <failure message={_attr(message)} type={_attr(failures[0].expectation)}>"
                f"{escape(xml_text(body))}</failure>\n"
                "    </testcase>\n"
            )
            counts.failures += 1
        counts.tests += 1
        counts.seconds += seconds

    def finish(self) -> None:
        """Write the document (also after an interruption: what was played is in it).
        Raises `OSError` if it, or a case on the way, could not be written."""
        if self._error is not None:
            self.close()
            raise self._error
        target = Path(self.path)
        total = _SuiteCounts()
        for _, counts, _ in self._cases.values():
            total.tests += counts.tests
            total.failures += counts.failures
            total.seconds += counts.seconds
        stamp = datetime.now(UTC).replace(microsecond=0).isoformat()
        fd, temporary = tempfile.mkstemp(prefix=".junit-", dir=target.parent or Path("."))
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
                out.write(
                    f'<testsuites name="dialogtui test" tests="{total.tests}" '
                    f'failures="{total.failures}" errors="0" time="{total.seconds:.3f}">\n'
                )
                for stream, counts, suite in self._cases.values():
                    out.write(
                        f'  <testsuite name={_attr(suite)} tests="{counts.tests}" '
                        f'failures="{counts.failures}" errors="0" skipped="0" '
                        f'time="{counts.seconds:.3f}" timestamp="{stamp}">\n'
                    )
                    stream.seek(0)
                    shutil.copyfileobj(stream, out)
                    out.write("  </testsuite>\n")
                out.write("</testsuites>\n")
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        finally:
            self.close()

    def close(self) -> None:
        for stream, _, _ in self._cases.values():
            stream.close()


@dataclass
class _SuiteCounts:
    tests: int = 0
    failures: int = 0
    seconds: float = 0.0


def _attr(value: str) -> str:
    """A quoted attribute value: escaped, and newlines kept as character references."""
    return quoteattr(xml_text(value), {"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})
