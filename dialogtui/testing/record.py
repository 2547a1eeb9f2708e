"""A test file written from a saved conversation (`dialogtui test --record ID`).

Each user message becomes a `[[turns]]` step; the reply that followed gives loose expectations
a person then edits: its outcome (when it was not `done`), the kinds of cards it had, a time
limit with room to spare, and, commented out, the start of its text as a `contains` to adapt.
The old reply is quoted in comments, sanitised, so the file shows what the bot said.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from ..text import FORMAT_CHARACTERS, sanitize_line

_QUOTED_LINES: Final = 6
_QUOTED_CHARS: Final = 100
_HINT_WORDS: Final = 4
# Parts every reply has: demanding them says nothing.
_PLAIN_PARTS: Final = frozenset({"text", "rich_text"})
# What json.dumps leaves raw but must not reach a terminal (surrogates are replaced before).
_ESCAPE_IN_TOML: Final = re.compile(f"[\\x7f-\\x9f{FORMAT_CHARACTERS}]")


@dataclass(frozen=True, slots=True)
class RecordedTurn:
    """A user message and what the bot answered then."""

    text: str
    reply: str = ""
    outcome: str | None = None
    """The reply's saved status (done, error, incomplete, cancelled); None if none followed."""
    error_code: str | None = None
    part_types: tuple[str, ...] = ()
    seconds: float | None = None


def recorded_turns(messages: Sequence[Any]) -> list[RecordedTurn]:
    """The user messages of a saved conversation (`store.messages(id)`), each with the first
    reply that followed it. Replies before the first user message (a welcome) are dropped."""
    from .player import part_type

    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "user":
            if message.text.strip():
                turns.append({"text": message.text})
        elif message.role == "assistant" and turns and "outcome" not in turns[-1]:
            figures = message.figures or {}
            total = figures.get("total")
            error = message.error
            turns[-1].update(
                reply=message.text,
                outcome=message.status,
                error_code=_stored_code(error) if error is not None else None,
                part_types=tuple(sorted({part_type(p) for p in message.parts or []})),
                seconds=float(total) if isinstance(total, (int, float)) else None,
            )
    return [RecordedTurn(**turn) for turn in turns]


def _stored_code(error: Any) -> str:
    """A saved error's code as the runner names codes (`player.error_code`)."""
    if error.code:
        return str(error.code)
    if error.status is not None:
        return "rate_limited" if error.status == 429 else f"http_{error.status}"
    return str(error.kind)


def test_file_text(turns: Sequence[RecordedTurn], *, name: str, source: str) -> str:
    """The TOML of a test file for `turns`; `source` says where it came from (a comment)."""
    lines = [
        f"# Recorded from {sanitize_line(source)}.",
        "# Edit the expectations: they are loose on purpose.",
        f"name = {toml_string(name)}",
    ]
    for turn in turns:
        lines.append("")
        lines.append("[[turns]]")
        lines.append(f"send = {toml_string(turn.text)}")
        if turn.outcome is None:
            lines.append("# No reply was saved for this message.")
            continue
        lines.extend(_quoted_reply(turn))
        lines.append("[turns.expect]")
        if turn.outcome in ("error", "incomplete"):
            lines.append(f"outcome = {toml_string(turn.outcome)}")
            if turn.error_code:
                lines.append(f"error_code = {toml_string(turn.error_code)}")
        cards = [part for part in turn.part_types if part not in _PLAIN_PARTS]
        if cards and turn.outcome == "done":
            lines.append(f"parts = [{', '.join(toml_string(part) for part in cards)}]")
        if turn.seconds is not None and turn.outcome == "done":
            # Room to spare: a limit that fails on an ordinary slow day helps nobody.
            lines.append(f"max_seconds = {max(5, math.ceil(turn.seconds * 3))}")
        hint = " ".join(turn.reply.split()[:_HINT_WORDS])
        if hint and turn.outcome == "done":
            lines.append(f"# contains = [{toml_string(hint)}]")
    return "\n".join(lines) + "\n"


def _quoted_reply(turn: RecordedTurn) -> list[str]:
    said = [line for line in turn.reply.splitlines() if line.strip()]
    quoted = [f"#   {_shorten(sanitize_line(line))}" for line in said[:_QUOTED_LINES]]
    if len(said) > _QUOTED_LINES:
        quoted.append("#   …")
    status = "" if turn.outcome == "done" else f" ({turn.outcome})"
    return [f"# The bot replied{status}:", *quoted] if quoted else [f"# No reply text{status}."]


def _shorten(text: str) -> str:
    return text if len(text) <= _QUOTED_CHARS else text[: _QUOTED_CHARS - 1] + "…"


def toml_string(text: str) -> str:
    """A TOML basic string holding exactly `text` (JSON's escapes are TOML's, but TOML also
    wants DEL escaped, and no surrogate can be written at all). DEL, the C1 controls and the
    invisible format characters are escaped too (TOML allows C1 raw, but the file is printed
    and shown in terminals), so the text stays exact and inert."""
    text = "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    quoted = json.dumps(text, ensure_ascii=False)
    return _ESCAPE_IN_TOML.sub(lambda match: f"\\u{ord(match.group()):04x}", quoted)
