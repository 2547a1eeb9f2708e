"""`dialogtui test FILE...`: play conversation test files against a bot and report.

Exit codes: 0 every expectation held, 1 some failed, 2 usage or a bad test file, 3 rejected
credentials, 4 keyring, 5 no connection, 130 interrupted (the report is still written).
Test conversations are not saved locally: they are many, synthetic, and would bury the real ones.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from .. import exitcodes
from ..testing.expect import Failure, TurnResult
from ..testing.report import CaseId, JUnitWriter, Report, json_line, turn_json, turn_text
from ..target import Target
from ..testing.runner import Runner, Stopped
from ..testing.testfile import TestFile, TestFileError, load_test_file
from ..text import sanitize_line
from .common import StartupError, open_target, print_failure


def run_test(args: argparse.Namespace) -> int:
    if getattr(args, "record", None) is not None:
        return run_record(args)
    problem = _usage_problem(args)
    if problem is not None:
        print_failure(problem)
        return exitcodes.USAGE
    try:
        files = [load_test_file(path) for path in args.files]
    except TestFileError as exc:
        print_failure(str(exc))
        return exitcodes.USAGE
    try:
        with open_target(args) as target:
            if not target.api_key and (args.visitors > 1 or args.repeat > 1):
                print_failure(
                    "--visitors and --repeat need an API key: each visitor gets a token of "
                    "its own, and a visitor token alone is one visitor."
                )
                return exitcodes.USAGE
            return _play(args, target, files)
    except StartupError as exc:
        print_failure(exc.safe_message)
        return exc.exit_code


def _usage_problem(args: argparse.Namespace) -> str | None:
    if not args.files:
        return "Give at least one test file (or --record ID to write one)."
    for name in ("visitors", "repeat", "concurrency"):
        if getattr(args, name) < 1:
            return f"--{name} must be at least 1."
    junit = getattr(args, "junit", None)
    if junit is not None:
        # Said now, not after the whole run: a folder cannot be written as the report.
        if junit.endswith(("/", os.sep)) or Path(junit).is_dir():
            return f"--junit: {sanitize_line(junit)} is a folder; give a file name."
        folder = Path(junit).parent
        if not folder.is_dir():
            return f"--junit: there is no folder {sanitize_line(str(folder))}."
    return None


def _play(args: argparse.Namespace, target: Target, files: Sequence[TestFile]) -> int:
    many = args.visitors > 1 or args.repeat > 1
    as_json = bool(args.json)
    junit = JUnitWriter(args.junit) if args.junit else None
    report = Report(many=many, junit=junit)
    out = sys.stdout
    # With many plays only failures are printed: a person at a terminal sees the count move.
    progress = _Progress(sys.stderr) if many and not as_json and sys.stderr.isatty() else None

    def on_turn(case: CaseId, result: TurnResult, failures: Sequence[Failure]) -> None:
        if as_json:
            out.write(json_line(turn_json(case, result, failures)))
        elif failures or not many:
            if progress is not None:
                progress.clear()
            out.write(turn_text(case, result, failures, many=many))
        out.flush()
        if progress is not None:
            progress.show(report.turns, report.failed)

    runner = Runner(
        target,
        report,
        on_turn=on_turn,
        visitors=args.visitors,
        repeat=args.repeat,
        concurrency=args.concurrency,
    )
    stopped: Stopped | None = None
    try:
        asyncio.run(runner.run(files))
    except Stopped as exc:
        stopped = exc
    except KeyboardInterrupt:
        report.interrupted = True
    if progress is not None:
        progress.clear()
    # The summary goes where a person reads it: after the turns, or on stderr beside JSON lines.
    (sys.stderr if as_json else out).write(report.summary(list_failures=many or as_json))
    (sys.stderr if as_json else out).flush()
    if junit is not None:
        try:
            junit.finish()
        except OSError as exc:
            print_failure(
                f"Cannot write {sanitize_line(args.junit)}: {exc.strerror or type(exc).__name__}."
            )
            return exitcodes.USAGE
    if report.interrupted:
        print_failure("Interrupted.")
        return exitcodes.INTERRUPTED
    if stopped is not None:
        print_failure(f"Stopped: {stopped.message}")
        return stopped.exit_code
    return exitcodes.FAILED if report.failed else exitcodes.OK


class _Progress:
    """ "123 turns played, 2 failed" on one terminal line, redrawn at most four times a second."""

    def __init__(self, stream: TextIO, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._clock = clock
        self._shown_at = -1.0
        self._showing = False

    def show(self, turns: int, failed: int) -> None:
        now = self._clock()
        if now - self._shown_at < 0.25:
            return
        self._shown_at = now
        self._stream.write(f"\r{turns:,} turns played, {failed:,} failed ")
        self._stream.flush()
        self._showing = True

    def clear(self) -> None:
        if self._showing:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._showing = False
            self._shown_at = -1.0


# ---------------------------------------------------------------------------------------------
# dialogtui test --record ID


def run_record(args: argparse.Namespace) -> int:
    """Write a test file from saved conversation `args.record`: to stdout, or a new file."""
    import os

    from ..store import StoreError, TranscriptStore
    from ..testing.record import recorded_turns, test_file_text

    if args.files:
        print_failure("--record writes a test file: give no test files with it.")
        return exitcodes.USAGE
    conversation_id = args.record
    try:
        path = TranscriptStore.default_path()
        if not path.exists():
            raise StoreError(f"There is no saved conversation {conversation_id}: nothing is saved.")
        with TranscriptStore.open(path) as store:
            summary = store.conversation(conversation_id)
            if summary is None:
                raise StoreError(
                    f"There is no saved conversation {conversation_id}. See `dialogtui history`."
                )
            turns = recorded_turns(store.messages(conversation_id))
    except StoreError as exc:
        print_failure(exc.safe_message)
        return exitcodes.USAGE
    if not turns:
        print_failure(f"Conversation {conversation_id} has no messages from the visitor to record.")
        return exitcodes.USAGE
    text = test_file_text(
        turns,
        name=f"{summary.title} conversation {conversation_id}",
        source=f"saved conversation {conversation_id} "
        f"({summary.environment}, {summary.started_at})",
    )
    output = getattr(args, "output", None)
    if not output:
        sys.stdout.write(text)
        return exitcodes.OK
    try:
        # A test file is edited by hand: never overwrite one.
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
    except FileExistsError:
        print_failure(f"{sanitize_line(output)} exists already; choose another name.")
        return exitcodes.USAGE
    except OSError as exc:
        print_failure(
            f"Cannot write {sanitize_line(output)}: {exc.strerror or type(exc).__name__}."
        )
        return exitcodes.USAGE
    print(f"Wrote {sanitize_line(output)} ({len(turns)} turns)", file=sys.stderr)
    return exitcodes.OK
