"""`dialogtui run FILE` and `dialogtui replay EXPORT.json`: scripted conversations for bot tests.

Both send a list of user turns through one conversation of the core (`conversation.core`), so
the visitor token rotated by each `done` is the one the next turn uses, and each turn is
recorded, exactly as in the app. A failed
turn is reported with the client's safe message only; the server's own error text never
reaches the output. The exit code is 0 only when every turn ended in `done`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from rich.cells import cell_len

from .. import exitcodes
from ..api.errors import DialogError
from .. import plaintext
from ..api.models import plain_text, to_part
from ..conversation.outcome import Outcome
from ..inputs import InputError, load_json, read_input
from ..session import Turn, TurnFigures
from ..target import Target
from ..text import sanitize, sanitize_line
from .common import StartupError, open_target, print_failure

if TYPE_CHECKING:
    from ..attachments import Attachment
    from ..store import Store

_MIN_MESSAGE_COLUMN = 24
"""The summary table's last column (message or safe error) is cut to the terminal, not below."""


class ScriptError(Exception):
    """A script or export that cannot be used; the message is safe to print."""


# ---------------------------------------------------------------------------------------------
# Running turns (shared by run and replay)


@dataclass
class TurnResult:
    number: int
    message: str
    """What was sent."""
    reply: str = ""
    """The reply's plain text: the final one after `done`, else as far as it streamed."""
    outcome: str = "skipped"
    """A `TurnOutcome`, or `skipped` for a turn not sent because an earlier one failed."""
    error: DialogError | None = None
    figures: TurnFigures | None = None
    shown: str = ""
    """The whole reply as a person reads it: text, tables, product cards, attachments."""

    @property
    def ok(self) -> bool:
        return self.outcome == Outcome.DONE

    def error_json(self) -> dict[str, Any] | None:
        error = self.error
        if error is None:
            return None
        return {
            "kind": error.kind,
            "code": _error_code(error),
            "status": getattr(error, "status", None),
            "retryable": error.retryable,
            "message": error.safe_message,
        }

    def figures_json(self) -> dict[str, Any]:
        figures = self.figures
        if figures is None:
            return {
                "to_headers_ms": None,
                "to_first_content_ms": None,
                "total_ms": None,
                "events": 0,
                "chars": 0,
                "retries": 0,
            }
        return {
            "to_headers_ms": _ms(figures.to_headers),
            "to_first_content_ms": _ms(figures.to_first_content),
            "total_ms": _ms(figures.total),
            "events": figures.events,
            "chars": figures.chars,
            "retries": figures.retries,
        }


def _error_code(error: DialogError) -> str | None:
    code = getattr(error, "code", None)
    return code if isinstance(code, str) else None


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)


@dataclass
class ScriptRun:
    """A whole scripted run as one conversation of the core: one client, one saved
    conversation, each turn recorded as every front-end records it."""

    target: Target
    store: Store | None = None
    """Where turns are saved (None: nowhere). Opened and closed by the caller."""
    results: list[TurnResult] = field(default_factory=list)
    """Filled as turns finish, so an interrupted run can still report what it did."""

    async def run(
        self,
        messages: Sequence[str],
        *,
        stop_on_error: bool,
        on_result: Callable[[TurnResult], None],
        attachments: Sequence[tuple[Attachment, ...]] = (),
    ) -> None:
        """`attachments[i]`: the files sent with `messages[i]` (none past its end)."""
        from ..conversation.core import Conversation
        from ..conversation.events import Event, Notice, TurnEnded
        from ..store import NullStore

        store = self.store if self.store is not None else NullStore()
        warned = store.warning
        self.results = [TurnResult(number, text) for number, text in enumerate(messages, start=1)]
        current: list[TurnResult] = []

        def on_event(event: Event) -> None:
            if isinstance(event, TurnEnded) and current:
                _fill(current[0], event.turn)
            elif isinstance(event, Notice):
                print_failure(event.text)

        conversation = Conversation(self.target, store=store, listener=on_event)
        try:
            for index, result in enumerate(self.results):
                current[:] = [result]
                result.outcome = Outcome.WAITING
                files = attachments[index] if index < len(attachments) else ()
                await conversation.send(result.message, files)
                on_result(result)
                if store.warning and store.warning != warned:
                    warned = store.warning  # saving broke mid-run: say so once, and go on
                    print_failure(store.warning)
                if stop_on_error and not result.ok:
                    break
        finally:
            await conversation.close()


def _fill(result: TurnResult, turn: Turn) -> None:
    """A turn's end as the run reports it (also when Ctrl-C stopped it)."""
    result.outcome = turn.outcome
    result.error = turn.error
    result.figures = turn.figures
    message = turn.assembler.message
    parts = message.parts if message is not None else turn.assembler.parts
    result.reply = plain_text(parts)
    # What a person reads: tables, product cards, attachments too (dialogtui.plaintext).
    result.shown = plaintext.parts_text(parts)


def _run_async(
    conversation: ScriptRun,
    messages: Sequence[str],
    *,
    stop_on_error: bool,
    on_result: Callable[[TurnResult], None],
    attachments: Sequence[tuple[Attachment, ...]] = (),
) -> bool:
    """Run the turns; False if Ctrl-C stopped them (the results so far stay in `conversation`)."""
    try:
        asyncio.run(
            conversation.run(
                messages, stop_on_error=stop_on_error, on_result=on_result, attachments=attachments
            )
        )
    except KeyboardInterrupt:
        return False
    return True


@contextmanager
def _opened_store(args: argparse.Namespace) -> Iterator[Store]:
    """The transcript store, honouring --no-save. Opened only once the target is known, so a
    usage error leaves no database behind."""
    from ..store import open_store

    store = open_store(no_save=getattr(args, "no_save", False))
    if store.warning:
        print_failure(store.warning)
    try:
        yield store
    finally:
        store.close()


# ---------------------------------------------------------------------------------------------
# dialogtui run


def run_script(args: argparse.Namespace) -> int:
    try:
        lines = read_script(args.file, stdin_taken=getattr(args, "visitor_token_stdin", False))
        # Files named by `@attach` lines are read and checked now: one refused sends nothing.
        messages, attachments = script_turns(lines, args.file)
    except (ScriptError, InputError) as exc:
        print_failure(str(exc))
        return exitcodes.USAGE
    out = sys.stdout
    as_json = bool(getattr(args, "json", False))
    on_result = (
        (lambda r: _print_json(out, _turn_json(r))) if as_json else (lambda r: _print_turn(out, r))
    )
    try:
        with open_target(args) as target, _opened_store(args) as store:
            conversation = ScriptRun(target, store)
            finished = _run_async(
                conversation,
                messages,
                stop_on_error=bool(getattr(args, "stop_on_error", False)),
                on_result=on_result,
                attachments=attachments,
            )
    except StartupError as exc:
        print_failure(exc.safe_message)
        return exc.exit_code
    results = conversation.results
    if as_json:
        # Turns never sent are listed too, so a machine sees the whole script accounted for.
        for result in results:
            if result.outcome == "skipped":
                _print_json(out, _turn_json(result))
    else:
        # The figures first: the table and its tally stay the last lines, as scripts read them.
        out.write(latency_table(results))
        out.write(summary_table(results, shutil.get_terminal_size((100, 24)).columns))
    out.flush()
    return _exit_code(results, finished)


def latency_table(results: Sequence[TurnResult]) -> str:
    """p50, p95 and max of the turns' times to headers, first text and done; errors by code."""
    from ..testing.player import error_code  # codes named as `dialogtui test` names them
    from ..testing.report import Figures, figures_table

    figures = Figures()
    for result in results:
        if result.figures is None:  # never sent
            continue
        failure = None
        if not result.ok:
            failure = error_code(result.error) or result.outcome
        figures.add_times(
            result.figures.to_headers,
            result.figures.to_first_content,
            result.figures.total,
            failure=failure,
        )
    return figures_table(figures)


def read_script(path: str, *, stdin_taken: bool = False) -> list[str]:
    """The non-empty lines of a script file (`-` for stdin), stripped."""
    if path == "-" and stdin_taken:
        raise ScriptError("The script cannot come from stdin when the visitor token does.")
    text = read_input(path, "the script")  # bounded, strict UTF-8; raises InputError (exit 2)
    messages = [line.strip() for line in text.splitlines() if line.strip()]
    if not messages:
        raise ScriptError(f"Nothing to run: {sanitize_line(path)} has no non-empty lines.")
    return messages


ATTACH_DIRECTIVE = "@attach "
"""A script line `@attach PATH` sends file PATH with the next message line (repeatable;
a relative PATH is taken from the script's folder). `\\@attach` sends the words themselves."""


def script_turns(
    lines: Sequence[str], script_path: str
) -> tuple[list[str], list[tuple[Attachment, ...]]]:
    """The messages of a script's lines and the files each carries, read and checked."""
    import os

    from ..attachments import AttachmentError, check_count, load

    base = "" if script_path == "-" else os.path.dirname(script_path)
    messages: list[str] = []
    attachments: list[tuple[Attachment, ...]] = []
    pending: list[Attachment] = []
    for number, line in enumerate(lines, start=1):
        if line.startswith(ATTACH_DIRECTIVE):
            path = os.path.join(base, os.path.expanduser(line[len(ATTACH_DIRECTIVE) :].strip()))
            try:
                pending.append(load(path))
                check_count(len(pending))
            except AttachmentError as exc:
                raise ScriptError(f"Script line {number}: {exc.safe_message}") from None
            continue
        messages.append(line[1:] if line.startswith("\\@") else line)
        attachments.append(tuple(pending))
        pending = []
    if pending:
        raise ScriptError("The script ends with `@attach` lines but no message to send them with.")
    if not messages:
        raise ScriptError("Nothing to run: the script has only `@attach` lines.")
    return messages, attachments


def _exit_code(results: Sequence[TurnResult], finished: bool) -> int:
    if not finished:
        print_failure("Interrupted.")
        return exitcodes.INTERRUPTED
    failed = [r for r in results if not r.ok]
    if not failed:
        return exitcodes.OK
    first = failed[0]
    print_failure(
        f"{len(failed)} of {len(results)} turns did not end in done "
        f"(first: turn {first.number}, {first.outcome})."
    )
    return exitcodes.FAILED


def _turn_json(result: TurnResult) -> dict[str, Any]:
    return {
        "turn": result.number,
        "message": result.message,
        "text": result.reply,
        "outcome": result.outcome,
        "error_code": _error_code(result.error) if result.error is not None else None,
        "error": result.error_json(),
        "timings": result.figures_json(),
    }


def _print_json(out: TextIO, record: dict[str, Any]) -> None:
    # ensure_ascii: a reply's escape sequences stay escaped even when a person reads the stream.
    out.write(json.dumps(record, ensure_ascii=True) + "\n")
    out.flush()


def _print_turn(out: TextIO, result: TurnResult) -> None:
    """A finished turn as a person reads it: the message, the reply, the safe error if any."""
    out.write(f"[{result.number}] > {sanitize_line(result.message)}\n")
    if result.shown or result.reply:
        out.write(textwrap.indent(sanitize(result.shown or result.reply), "    ") + "\n")
    if result.error is not None:
        out.write(f"    ! {result.error.safe_message}\n")
    elif not result.ok:
        out.write(f"    ! {result.outcome}\n")
    out.write("\n")
    out.flush()


def summary_table(results: Sequence[TurnResult], width: int = 100) -> str:
    """Plain-text columns: #, outcome, total, first text, events, chars, message or safe error.
    The last column is cut to fit `width` (the terminal's)."""
    header = ("#", "outcome", "total", "first text", "events", "chars", "message / error")
    cells = [header]
    notes = []
    for r in results:
        figures = r.figures
        notes.append(sanitize_line(r.error.safe_message if r.error is not None else r.message))
        cells.append(
            (
                str(r.number),
                r.outcome,
                f"{figures.total:.2f} s"
                if figures is not None and figures.total is not None
                else "-",
                f"{figures.to_first_content * 1000:.0f} ms"
                if figures and figures.to_first_content is not None
                else "-",
                f"{figures.events:,}" if figures is not None else "-",
                f"{figures.chars:,}" if figures is not None else "-",
                "",
            )
        )
    widths = [max(cell_len(row[i]) for row in cells) for i in range(len(header) - 1)]
    room = max(_MIN_MESSAGE_COLUMN, width - sum(widths) - 2 * len(widths) - 1)
    right = {0, 2, 3, 4, 5}
    lines = []
    for row, note in zip(cells, [header[-1], *notes], strict=True):
        padded = [
            (" " * (w - cell_len(c)) + c) if i in right else (c + " " * (w - cell_len(c)))
            for i, (c, w) in enumerate(zip(row[:-1], widths, strict=True))
        ]
        lines.append("  ".join([*padded, _shorten(note, room)]).rstrip())
    counts: dict[str, int] = {}
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    tally = ", ".join(f"{n} {outcome}" for outcome, n in counts.items())
    lines.append(f"{len(results)} turn{'s' if len(results) != 1 else ''}: {tally}")
    return "\n".join(lines) + "\n"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------------
# dialogtui replay


@dataclass(frozen=True)
class ExportedTurn:
    text: str
    """The user's message."""
    before: str | None
    """The old reply's text (replies to one message joined), None if the export had none."""
    before_outcome: str | None = None


def load_export(path: str) -> list[ExportedTurn]:
    data = load_json(path, "the export")  # bounded size and depth, strict UTF-8; InputError
    turns = export_turns(data)
    if not turns:
        raise ScriptError(f"Nothing to replay: {sanitize_line(path)} has no user messages.")
    return turns


def export_turns(data: Any) -> list[ExportedTurn]:
    """User messages and the replies that followed each, in order, from either export shape:

    * `dialogtui export --format json`: `{"conversation": {...}, "messages": [{"role", "text",
      "status", ...}]}` (a `"turns"` list of the same records is accepted too);
    * the API's `GET /export` (`dialogtui data-export`), in the vendor's shape:
      `{"conversations": [{"messages": [{"role", "parts": [...]}, ...]}, ...], ...}`, every
      conversation's messages in turn; or an older `{"messages": [...]}`.

    Assistant messages before the first user message (a welcome) have nothing to compare with
    and are dropped. Raises `ScriptError` for anything else.
    """
    records = None
    if isinstance(data, dict):
        records = data.get("messages", data.get("turns"))
        conversations = data.get("conversations")
        if records is None and isinstance(conversations, list):
            records = [
                message
                for conversation in conversations
                if isinstance(conversation, dict) and isinstance(conversation.get("messages"), list)
                for message in conversation["messages"]
            ]
    if not isinstance(records, list):
        raise ScriptError(
            'Not a conversation export: expected a JSON object with a "messages" list '
            "(from `dialogtui export --format json` or the API's /export)."
        )
    turns: list[dict[str, Any]] = []
    for index, record in enumerate(records):
        if not isinstance(record, dict) or not isinstance(record.get("role"), str):
            raise ScriptError(f"Not a conversation export: message {index + 1} has no role.")
        role, text = record["role"], _record_text(record)
        if role == "user":
            turns.append({"text": text, "before": None, "outcome": None})
        elif role != "system" and turns:
            turn = turns[-1]
            turn["before"] = text if turn["before"] is None else f"{turn['before']}\n\n{text}"
            status = record.get("status", record.get("outcome"))
            turn["outcome"] = status if isinstance(status, str) else Outcome.DONE
    return [ExportedTurn(t["text"], t["before"], t["outcome"]) for t in turns if t["text"].strip()]


def _record_text(record: dict[str, Any]) -> str:
    text = record.get("text")
    if isinstance(text, str):
        return text
    parts = record.get("parts")
    if isinstance(parts, list):
        decoded = []
        for part in parts:
            try:
                decoded.append(to_part(part))
            except Exception:  # a part this version cannot read still must not stop a replay
                continue
        return plain_text(decoded)
    return ""


def run_replay(args: argparse.Namespace) -> int:
    try:
        exported = load_export(args.export_file)
    except (ScriptError, InputError) as exc:
        print_failure(str(exc))
        return exitcodes.USAGE
    out = sys.stdout
    as_json = bool(getattr(args, "json", False))
    width = shutil.get_terminal_size((100, 24)).columns

    def on_result(result: TurnResult) -> None:
        before = exported[result.number - 1]
        if as_json:
            _print_json(out, _replay_json(before, result))
        else:
            out.write(side_by_side(before, result, width))
            out.flush()

    try:
        with open_target(args) as target, _opened_store(args) as store:
            conversation = ScriptRun(target, store)
            finished = _run_async(
                conversation, [t.text for t in exported], stop_on_error=False, on_result=on_result
            )
    except StartupError as exc:
        print_failure(exc.safe_message)
        return exc.exit_code
    results = conversation.results
    if not as_json:
        same = sum(
            _same(t.before, r)
            for t, r in zip(exported, results, strict=True)
            if r.outcome != "skipped"
        )
        out.write(f"{len(results)} turns replayed: {same} same, {len(results) - same} different\n")
        out.flush()
    return _exit_code(results, finished)


def _same(before: str | None, result: TurnResult) -> bool:
    # Whitespace differences (wrapping, trailing newlines) are not a different reply.
    return before is not None and " ".join(before.split()) == " ".join(result.reply.split())


def _replay_json(before: ExportedTurn, result: TurnResult) -> dict[str, Any]:
    return {
        "turn": result.number,
        "text": before.text,
        "before": before.before,
        "after": result.reply,
        "same": _same(before.before, result),
        "outcome": result.outcome,
        "before_outcome": before.before_outcome,
        "error": result.error_json(),
        "timings": result.figures_json(),
    }


def side_by_side(before: ExportedTurn, result: TurnResult, width: int) -> str:
    """The user text, then the old and new replies in two columns, with a marker if they differ."""
    width = max(width, 40)
    column = (width - 3) // 2
    marker = "= same" if _same(before.before, result) else "≠ differs"
    title = f"── Turn {result.number} · {marker} "
    lines = [title + "─" * max(0, width - cell_len(title))]
    lines.extend(_wrap("> " + sanitize(before.text), width))
    old = sanitize(before.before) if before.before is not None else "(no reply in the export)"
    new = sanitize(result.reply) if result.reply else ""
    if result.error is not None:
        new += ("\n\n" if new else "") + f"! {result.error.safe_message}"
    elif not result.ok:
        new += ("\n\n" if new else "") + f"! {result.outcome}"
    left = [_pad("before", column), *(_pad(line, column) for line in _wrap(old, column))]
    right = ["after", *_wrap(new, column)]
    for i in range(max(len(left), len(right))):
        lines.append(
            f"{left[i] if i < len(left) else ' ' * column} │ "
            f"{right[i] if i < len(right) else ''}".rstrip()
        )
    return "\n".join(lines) + "\n\n"


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines.extend(
            textwrap.wrap(paragraph, width, replace_whitespace=False, drop_whitespace=True) or [""]
        )
    return lines


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - cell_len(text))
