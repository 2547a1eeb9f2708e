"""SIGTERM, SIGHUP and SIGQUIT end the app the way Ctrl+Q does: the terminal is given back.

Textual (8.x) handles only SIGTSTP and SIGCONT (Ctrl+Z). The default action of these three
ends the process on the spot, leaving the terminal as the app set it: raw mode, the alternate
screen, mouse tracking and bracketed paste on, the cursor hidden. So while the app runs they
ask it to exit, as a quit would: its driver restores the terminal, and a reply that was
streaming is recorded as cancelled. Should that not finish within `GRACE_SECONDS` (a stuck
worker, a terminal gone with SIGHUP), or should a second signal come, the terminal is restored
here directly and the process ends. The exit status is 128 + the signal number, as a shell
reports a process ended by a signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any, Final, Protocol

GRACE_SECONDS: Final = 3.0
"""How long a signalled app may take to exit by itself before the terminal is restored here."""

SIGNALS: Final = (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)

RESTORE_SEQUENCE: Final = (
    "\x1b[<u"  # pop the kitty keyboard mode
    "\x1b[?1000l\x1b[?1003l\x1b[?1015l\x1b[?1006l"  # mouse tracking off
    "\x1b[?2004l"  # bracketed paste off
    "\x1b[?2048l"  # in-band resize reports off
    "\x1b[?1004l"  # focus reports off
    "\x1b[?1049l"  # back to the main screen
    "\x1b[?25h"  # cursor shown
)
"""What Textual's driver writes when it stops, for when it cannot."""


class _Exitable(Protocol):
    def exit(self, result: Any = None, return_code: int = 0, message: Any = None) -> None: ...


class SignalGuard:
    """Which signal ended the app, if one did (see `exit_status`)."""

    def __init__(self) -> None:
        self.received: int | None = None

    @property
    def exit_status(self) -> int | None:
        return None if self.received is None else 128 + self.received


def _terminal_attributes(fd: int) -> list[Any] | None:
    try:
        import termios

        return termios.tcgetattr(fd) if os.isatty(fd) else None
    except (ImportError, OSError):
        return None


def _restore_terminal(input_fd: int, attributes: list[Any] | None, output_fd: int) -> None:
    """Put the terminal back as it was; every step may fail (a terminal gone with SIGHUP)."""
    with contextlib.suppress(OSError):
        if os.isatty(output_fd):
            os.write(output_fd, RESTORE_SEQUENCE.encode())
    if attributes is not None:
        with contextlib.suppress(ImportError, OSError):
            import termios

            termios.tcsetattr(input_fd, termios.TCSANOW, attributes)


@contextlib.contextmanager
def exit_on_signals(app: _Exitable) -> Iterator[SignalGuard]:
    """While the `with` block runs `app`, the three signals make it exit instead of killing it."""
    guard = SignalGuard()
    stdin, stderr = sys.__stdin__, sys.__stderr__
    input_fd = stdin.fileno() if stdin is not None else 0
    # Textual draws on stderr's file (its default); restoring writes there too.
    output_fd = stderr.fileno() if stderr is not None else 2
    attributes = _terminal_attributes(input_fd)
    timer: threading.Timer | None = None

    def restore_and_end(signum: int) -> None:
        _restore_terminal(input_fd, attributes, output_fd)
        os._exit(128 + signum)

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal timer
        if guard.received is not None:  # a second signal: no more waiting
            restore_and_end(signum)
        guard.received = signum
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # the app is not running (yet, or any more)
            restore_and_end(signum)
            return
        loop.call_soon_threadsafe(app.exit, None, 128 + signum)
        timer = threading.Timer(GRACE_SECONDS, restore_and_end, (signum,))
        timer.daemon = True
        timer.start()

    previous = {}
    for number in SIGNALS:
        with contextlib.suppress(ValueError, OSError):  # not the main thread: leave them be
            previous[number] = signal.signal(number, on_signal)
    try:
        yield guard
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if timer is not None:
            timer.cancel()
