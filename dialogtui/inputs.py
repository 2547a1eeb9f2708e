"""The one rule for input files and arguments: bounded reads, bounded nesting, strict UTF-8.

Every message, script, export or stdin the CLI takes goes through here before anything else
happens, so a refused input leaves nothing behind (no turn recorded, no request sent). Errors
are `InputError`s carrying one safe sentence that names the argument, or the file and the line.
`cli.main` turns them into exit code 2 (usage).
"""

from __future__ import annotations

import re
import sys
from typing import Any, BinaryIO, Final

MAX_INPUT_BYTES: Final = 32 * 1024 * 1024
"""Largest script, export or message read (from a file or stdin)."""
MAX_JSON_DEPTH: Final = 64
"""Deepest nesting of arrays and objects accepted in a JSON input (an export is 5 deep)."""

# Patterns, not compiled regexes: compiled on first use (re caches them), not at `--help`.
_SURROGATE: Final = "[\ud800-\udfff]"
_LONE_SURROGATE_ESCAPE: Final = (
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})|\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


class InputError(Exception):
    """An input was refused; `safe_message` says which and why, fit to print."""

    def __init__(self, safe_message: str) -> None:
        super().__init__(safe_message)
        self.safe_message = safe_message


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit} bytes"


def check_text(value: str, what: str) -> str:
    """An argument as text: refused if it held bytes that are not UTF-8.

    Python keeps such argv bytes as lone surrogates (U+DC80..U+DCFF); they could be neither
    sent nor saved, so they are refused up front, naming the argument.
    """
    found = re.search(_SURROGATE, value)
    if found is not None:
        code = ord(found.group())
        detail = f"byte 0x{code - 0xDC00:02X}" if code >= 0xDC80 else f"U+{code:04X}"
        raise InputError(
            f"{what} is not valid UTF-8 text ({detail} at character {found.start() + 1})."
        )
    return value


def check_token(value: str, what: str) -> str:
    """A visitor token or API key as the client can send it: visible ASCII, no spaces (the
    client's own rule, `api.client._valid_token`, checked here before anything is sent)."""
    token = value.strip()
    if not token or not all("!" <= char <= "~" for char in token):
        raise InputError(f"{what} is not valid: it must be visible ASCII characters only.")
    return token


def decode_utf8(data: bytes, where: str) -> str:
    """Strict UTF-8, naming `where` and the line of the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(f"{where} is not UTF-8 text (line {line}).") from None


def _read_bounded(stream: BinaryIO, where: str, limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while total <= limit:
        chunk = stream.read(min(1024 * 1024, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    if total > limit:
        raise InputError(f"{where} is larger than {_size(limit)}, the most dialogtui reads.")
    return b"".join(chunks)


def _label(path: str, what: str) -> str:
    from .text import sanitize_line

    return f"stdin ({what})" if path == "-" else sanitize_line(path)


def read_input(path: str, what: str, *, limit: int = MAX_INPUT_BYTES) -> str:
    """The whole text of file `path` (`-`: stdin), at most `limit` bytes, strict UTF-8."""
    where = _label(path, what)
    if path == "-":
        return decode_utf8(_read_bounded(sys.stdin.buffer, where, limit), where)
    try:
        with open(path, "rb") as stream:
            data = _read_bounded(stream, where, limit)
    except OSError as exc:
        reason = (exc.strerror or type(exc).__name__).lower()
        raise InputError(f"Cannot read {where}: {reason}.") from None
    return decode_utf8(data, where)


def read_binary(path: str, what: str, *, limit: int) -> bytes:
    """The bytes of file `path`, at most `limit` (a file to attach: `dialogtui.attachments`)."""
    where = _label(path, what)
    try:
        with open(path, "rb") as stream:
            return _read_bounded(stream, where, limit)
    except OSError as exc:
        reason = (exc.strerror or type(exc).__name__).lower()
        raise InputError(f"Cannot read {where}: {reason}.") from None


def read_message(text: str, *, limit: int = MAX_INPUT_BYTES) -> str:
    """A message given as an argument, or read from stdin when it is `-`."""
    if text == "-":
        return read_input("-", "the message", limit=limit)
    check_text(text, "The message")
    if len(text.encode("utf-8")) > limit:
        raise InputError(f"The message is larger than {_size(limit)}, the most dialogtui sends.")
    return text


MAX_LINE_CHARS: Final = 64 * 1024
"""Longest line read from stdin for a key, a token or a prompt's answer."""


def read_line(what: str, prompt: str | None = None) -> str:
    """One line of stdin without its line end, strict UTF-8, at most `MAX_LINE_CHARS`; "" at
    the end of input. `prompt` is written first; on a terminal `input` reads the answer (line
    editing; the terminal's own line limit holds), anywhere else it is read bounded too."""
    stdin = sys.stdin
    if stdin is None:  # no stdin at all (pythonw): nothing to read
        return ""
    try:
        if prompt is not None and stdin.isatty():
            line = input(prompt)
        else:
            if prompt is not None:
                sys.stdout.write(prompt)
                sys.stdout.flush()
            # One more than allowed: a longer line is refused without reading the rest of it.
            line = stdin.readline(MAX_LINE_CHARS + 1)
    except EOFError:
        return ""
    except UnicodeDecodeError:
        raise InputError(f"stdin ({what}) is not UTF-8 text.") from None
    line = line.removesuffix("\n")
    if len(line) > MAX_LINE_CHARS:
        raise InputError(f"stdin ({what}) is a line longer than {MAX_LINE_CHARS:,} characters.")
    return line


def terminal_available() -> bool:
    """Whether `getpass` can ask on a terminal (typing hidden). Without one it falls back to
    reading stdin, unbounded and echoed: callers read stdin with `read_line` instead."""
    import os

    if os.name != "posix":
        return True  # Windows' getpass reads the console itself, never stdin
    try:
        descriptor = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return False
    os.close(descriptor)
    return True


def load_json(path: str, what: str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """JSON from file `path`: bounded read, strict UTF-8, at most `max_depth` levels deep,
    and no lone surrogate escapes (text that could be neither sent nor saved)."""
    import json

    text = read_input(path, what)
    where = _label(path, what)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where} is not JSON (line {exc.lineno}: {exc.msg}).") from None
    except RecursionError:
        raise InputError(
            f"{where} is nested more than {max_depth} levels deep; not a conversation export."
        ) from None
    _check_tree(data, text, where, max_depth)
    return data


def _check_tree(data: Any, text: str, where: str, max_depth: int) -> None:
    """Depth and lone surrogates, walked without recursion."""
    pending: list[tuple[Any, int]] = [(data, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, str):
            if re.search(_SURROGATE, node):
                raise InputError(
                    f"{where} holds a lone surrogate escape, which is not valid Unicode "
                    f"(line {_surrogate_line(text)})."
                )
            continue
        if not isinstance(node, (list, dict)):
            continue
        if depth > max_depth:
            raise InputError(
                f"{where} is nested more than {max_depth} levels deep; not a conversation export."
            )
        items = [*node.keys(), *node.values()] if isinstance(node, dict) else node
        pending.extend((item, depth + 1) for item in items)


def _surrogate_line(text: str) -> int:
    found = re.search(_LONE_SURROGATE_ESCAPE, text) or re.search(_SURROGATE, text)
    return text.count("\n", 0, found.start()) + 1 if found is not None else 1


# --- argparse types: checked while parsing, before any command runs --------------------


def port_number(value: str) -> int:
    """A TCP port, 0..65535 (0: pick a free one)."""
    import argparse

    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a whole number from 0 to 65535") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError("must be a whole number from 0 to 65535")
    return port


def record_id(value: str) -> int:
    """A saved conversation's id: a positive whole number SQLite can hold."""
    import argparse

    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            "must be a conversation id (a positive whole number)"
        ) from None
    if not 1 <= number < 2**63:
        raise argparse.ArgumentTypeError(
            "no such conversation id (ids are positive whole numbers below 2^63)"
        )
    return number


def seconds(value: str) -> float:
    """A delay in seconds: a finite number from 0 to 60."""
    import argparse
    import math

    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a number of seconds") from None
    if not math.isfinite(number) or not 0 <= number <= 60:
        raise argparse.ArgumentTypeError("must be a number of seconds from 0 to 60")
    return number
