"""`dialogtui` and `dialogtui --demo`: the chat app."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from typing import TYPE_CHECKING

from .common import StartupError, open_target, print_failure

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from ..store import Store
    from ..target import Target


def run_chat(args: argparse.Namespace) -> int:
    # No garbage collection until the app's first frame (the app turns it back on): importing
    # Textual and building the screen allocate so much that collections, a full one among them,
    # cost tens of ms before anything shows, and almost nothing of it is garbage.
    gc.disable()
    try:
        # The secret is read by the app after its first frame (a keyring costs ~0.2 s), unless
        # a keyring backend might ask for its password on the terminal, which the app owns.
        with open_target(args, defer_secret=not _keyring_may_prompt_on_the_terminal()) as target:
            from ..ui.app import DialogApp

            from ..signals import exit_on_signals

            with _emoji_measured_as_the_terminal_draws(_probe_wanted(target)) as typed_ahead:
                app = DialogApp(
                    target,
                    open_store=partial(_open_store, no_save=args.no_save),
                    typed_ahead=typed_ahead,
                )
                # SIGTERM, SIGHUP and SIGQUIT quit the app as Ctrl+Q does: the terminal
                # comes back.
                with exit_on_signals(app) as signalled:
                    try:
                        app.run()
                    finally:
                        app.close_store()
            if signalled.exit_status is not None:
                return signalled.exit_status
            if app.startup_error is not None:
                raise app.startup_error
    except StartupError as exc:
        print_failure(exc.safe_message)
        return exc.exit_code
    finally:
        gc.enable()  # if the app never painted
    return 0


def _probe_wanted(target: Target) -> bool:
    if target.environment != "demo":
        return target.settings.probe_emoji_widths
    # The demo takes no bot settings from the file, but how the terminal draws is not the bot's.
    from ..config import ConfigError, load_settings

    try:
        return load_settings().probe_emoji_widths
    except ConfigError:
        return True


@contextmanager
def _emoji_measured_as_the_terminal_draws(enabled: bool) -> Iterator[str]:
    """Ask the terminal how wide it draws emoji sequences, and measure them so for the block
    (see `ui/glyph_widths.py`); yields what was typed meanwhile, for the composer. Echo and
    line mode stay off until the block ends, after the app: an answer later than the wait is
    read by the app, which ignores it, and never echoed onto the screen."""
    # Where Textual reads keys and draws: stdin and stderr.
    keys, screen = sys.__stdin__, sys.__stderr__
    if not enabled or os.environ.get("TERM") == "dumb" or keys is None or screen is None:
        yield ""
        return
    try:
        import termios  # not on Windows, whose terminals this probe does not know
    except ImportError:
        yield ""
        return
    from ..ui import glyph_widths

    typed = ""
    with ExitStack() as stack:
        try:
            if keys.isatty() and screen.isatty():
                columns = os.get_terminal_size(screen.fileno()).columns
                if columns >= glyph_widths.MIN_COLUMNS:
                    stack.enter_context(glyph_widths.quiet_terminal(keys.fileno()))
                    result = glyph_widths.probe(
                        keys.fileno(), screen.fileno(), timeout=_probe_timeout()
                    )
                    if result.widths is not None:
                        glyph_widths.apply(result.widths)
                    typed = result.typed
        except (OSError, termios.error) as exc:
            log.warning("could not ask the terminal how wide it draws emoji: %s", exc)
        yield typed


def _probe_timeout() -> float:
    """`DIALOGTUI_PROBE_TIMEOUT`, seconds (for a slow link), else `glyph_widths`' default."""
    from ..ui.glyph_widths import PROBE_TIMEOUT

    try:
        seconds = float(os.environ.get("DIALOGTUI_PROBE_TIMEOUT", PROBE_TIMEOUT))
    except ValueError:
        return PROBE_TIMEOUT
    return min(max(seconds, 0.0), 5.0) if seconds == seconds else PROBE_TIMEOUT


def _keyring_may_prompt_on_the_terminal() -> bool:
    """Whether a third-party keyring backend is installed (the `keyrings` namespace, as
    keyrings.alt and keyrings.cryptfile are): their encrypted files ask for a password with
    `getpass`, on a terminal the app would be drawing on. The OS keyrings ask in a window."""
    from importlib.util import find_spec

    return find_spec("keyrings") is not None


def _open_store(*, no_save: bool) -> Store:
    # Imported here, when the app opens the store after its first frame: sqlite3, json and the
    # store module are not needed to paint.
    from ..store import open_store

    return open_store(no_save=no_save)
