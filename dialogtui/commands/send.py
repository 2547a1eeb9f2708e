"""`dialogtui send`: one message, one streamed reply on stdout, one exit code per outcome."""

from __future__ import annotations

import argparse
import json
import asyncio
import sys
from typing import TYPE_CHECKING, TextIO

import msgspec

from .. import exitcodes
from ..api.errors import DialogError
from ..api.models import (
    DoneEvent,
    Message,
    Part,
    PartDeltaEvent,
    PartEvent,
    StreamEvent,
    SPAN_TYPES,
    Span,
)
from .. import plaintext
from ..conversation.events import Event, Notice, Streamed, TurnEnded
from ..inputs import read_message
from ..text import StreamSanitizer, sanitize, sanitize_line
from ..target import Target
from .common import StartupError, exit_code_for, open_target, print_failure

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..attachments import Attachment
    from ..store import Store


ROTATED = "[rotated: stored, not shown]"


def run_send(args: argparse.Namespace) -> int:
    if args.text == "-" and getattr(args, "visitor_token_stdin", False):
        print_failure(
            "stdin cannot carry both the message and the visitor token: pass the message as text."
        )
        return exitcodes.USAGE
    text = read_message(args.text)  # bounded, strict UTF-8; raises InputError (exit 2)
    if not text.strip():
        print_failure("Nothing to send: the message is empty.")
        return exitcodes.USAGE
    paths: list[str] = getattr(args, "attach", None) or []
    attachments: tuple[Attachment, ...] = ()
    if paths:
        from ..attachments import load_all

        # Read and checked before anything opens: a refused file sends and records nothing.
        attachments = load_all(paths)  # raises AttachmentError (an InputError: exit 2)
    try:
        with open_target(args) as target:
            from ..store import open_store

            # Opened only once the target is known: a usage error leaves no database behind.
            store = open_store(no_save=getattr(args, "no_save", False))
            if store.warning:
                print_failure(store.warning)
            try:
                return asyncio.run(
                    _send(target, text, as_json=args.json, store=store, attachments=attachments)
                )
            finally:
                store.close()
    except StartupError as exc:
        print_failure(exc.safe_message)
        return exc.exit_code


async def _send(
    target: Target,
    text: str,
    *,
    as_json: bool,
    store: Store | None = None,
    attachments: Sequence[Attachment] = (),
) -> int:
    """One turn through the conversation core, its events printed as they come."""
    from ..conversation.core import Conversation
    from ..store import NullStore

    store = store if store is not None else NullStore()
    warned = store.warning
    printer = _JsonPrinter(sys.stdout) if as_json else _PlainPrinter(sys.stdout)
    conversation = Conversation(target, store=store, listener=printer.on_event, every_event=True)
    try:
        turn = await conversation.send(text, attachments)
    finally:
        printer.close()
        await conversation.close()
    _warn_once(store, warned)
    if turn.error is not None:
        print_failure(turn.error.safe_message)
        return exit_code_for(turn.error)
    return exitcodes.OK


def _warn_once(store: Store, already: str | None) -> None:
    """Saving failed during the run: say so once, on stderr; the exit code stays the reply's."""
    if store.warning and store.warning != already:
        print_failure(store.warning)


class _JsonPrinter:
    """One typed event per line, as the client decoded it; failures as a final line.

    ASCII-only JSON, so no control character reaches a terminal even inside a string, and
    the rotated visitor token in `done` is replaced by a marker: stdout is no place for it.
    """

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def on_event(self, event: Event) -> None:
        if isinstance(event, Streamed):
            self.event(event.event)
        elif isinstance(event, TurnEnded) and event.error is not None:
            self.failure(event.error)
        elif isinstance(event, Notice):
            print_failure(event.text)

    def event(self, event: StreamEvent) -> None:
        if isinstance(event, DoneEvent) and event.visitor_token:
            event = msgspec.structs.replace(event, visitor_token=ROTATED)
        self._write(msgspec.to_builtins(event))

    def failure(self, error: DialogError) -> None:
        self._write(
            {
                "type": "failure",
                "kind": error.kind,
                "code": getattr(error, "code", None),
                "status": getattr(error, "status", None),
                "retryable": error.retryable,
                "message": error.safe_message,
            }
        )

    def _write(self, record: object) -> None:
        self._out.write(json.dumps(record, ensure_ascii=True) + "\n")
        self._out.flush()

    def close(self) -> None:
        self._out.flush()


class _PlainPrinter:
    """Prints rich text as its deltas arrive and every other part once it is whole.

    Text is printed as it streams, so a later `part` event for the same part is not
    printed again; what the deltas built is what the person already read. Only what the
    reply took is printed (a malformed delta the assembler skipped is skipped here too), and
    if the reply as finally sent still differs from what was printed (a `part` that replaced
    the streamed text), it is printed once more, whole, at the end: stdout ends with what
    was said, which is also what is saved.

    Everything streamed passes through one `StreamSanitizer`: a CR LF or an emoji sequence
    split across two deltas is printed as it would be whole.
    """

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._terminal_text = StreamSanitizer()
        self._streamed: set[str] = set()
        self._open_block_has_text = False
        self._printed_anything = False
        self._printed: list[str] = []

    def on_event(self, event: Event) -> None:
        if isinstance(event, Streamed):
            if event.change is not None or not isinstance(event.event, PartDeltaEvent):
                self.event(event.event)
        elif isinstance(event, TurnEnded):
            self._settle(event.turn.assembler.message, event.turn.assembler.parts)
        elif isinstance(event, Notice):
            print_failure(event.text)

    def _settle(self, message: Message | None, built: list[Part]) -> None:
        final = "\n\n".join(
            text for text in map(_part_text, message.parts if message else built) if text
        )
        self._out.write(self._terminal_text.flush())
        # Compared as shown: the parts' text is sanitized already, what was printed not yet.
        if sanitize(final).split() != sanitize("".join(self._printed)).split():
            self._out.flush()
            print_failure("The reply changed after it was printed: as finally sent, it reads:")
            if self._printed_anything:
                self._out.write("\n\n")
            self._out.write(sanitize(final))
            self._out.flush()
            self._printed_anything = bool(final)

    def event(self, event: StreamEvent) -> None:
        if isinstance(event, PartDeltaEvent):
            self._delta(event)
        elif isinstance(event, PartEvent):
            self._whole(event.part)
        elif isinstance(event, DoneEvent):
            # `done` may carry parts never streamed (attachments): those are printed now.
            for part in event.message.parts:
                self._whole(part)

    def _whole(self, part: Part) -> None:
        if part.part_id and part.part_id in self._streamed:
            return
        if part.part_id:
            self._streamed.add(part.part_id)
        self._write_block(_part_text(part))

    def _delta(self, event: PartDeltaEvent) -> None:
        delta = event.delta
        if delta.action == "start_part" and delta.part_type == "rich_text":
            self._streamed.add(event.part_id)
        if event.part_id not in self._streamed:
            return
        if delta.action == "start_block":
            self._separate()
            self._open_block_has_text = False
        elif delta.action == "append_text" and delta.text:
            self._write(delta.text)
        elif delta.action == "append_span" and delta.span is not None:
            # Raw, into the one sanitizer: a span alone cannot see its neighbours (an emoji
            # sequence half plain, half bold keeps its joiner).
            self._write(_span_raw_text(delta.span))
        elif delta.action == "append_item" and delta.item is not None:
            if self._open_block_has_text:
                self._write("\n")
            self._write("- " + plaintext.spans_text(delta.item.spans))

    def _separate(self) -> None:
        if self._printed_anything:
            # Through the sanitizer too: a held CR before it is a CR LF line end.
            self._out.write(self._terminal_text.feed("\n\n"))
            self._printed.append("\n\n")

    def _write(self, text: str) -> None:
        self._printed.append(text)
        self._out.write(self._terminal_text.feed(text))
        self._out.flush()
        self._printed_anything = True
        self._open_block_has_text = True

    def _write_block(self, text: str) -> None:
        if text:
            self._separate()
            self._write(text)

    def failure(self, error: DialogError) -> None:
        pass

    def close(self) -> None:
        self._out.write(self._terminal_text.flush())
        if self._printed_anything:
            self._out.write("\n")
        self._out.flush()


def _span_raw_text(span: Span) -> str:
    """A span's words as `plaintext.spans_text` reads them, not yet sanitized: a link with no
    text reads as its URL (sanitized already: it is one line)."""
    if span.type not in SPAN_TYPES:
        return ""
    if span.type == "link" and not span.text and span.url:
        return sanitize_line(span.url)
    return span.text


def _part_text(part: Part) -> str:
    # Tables, product cards, attachments and markers as readable text: one renderer for
    # send, run, history and the exports (dialogtui.plaintext).
    return plaintext.part_text(part)
