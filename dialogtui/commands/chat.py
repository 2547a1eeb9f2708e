"""`dialogtui` and `dialogtui --demo`: the chat app."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from functools import partial
from typing import TYPE_CHECKING

from .common import StartupError, open_target, print_failure

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

            typed_ahead = _measure_emoji_as_the_terminal_draws(_probe_wanted(target))
            app = DialogApp(
                target,
                open_store=partial(_open_store, no_save=args.no_save),
                typed_ahead=typed_ahead,
            )
            # SIGTERM, SIGHUP and SIGQUIT quit the app as Ctrl+Q does: the terminal comes back.
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


def _measure_emoji_as_the_terminal_draws(enabled: bool) -> str:
    """Ask the terminal how wide it draws emoji sequences and measure them so (see
    `ui/glyph_widths.py`). Returns what was typed meanwhile, for the composer."""
    if not enabled or os.environ.get("TERM") == "dumb":
        return ""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return ""
    try:
        import termios  # noqa: F401  (not on Windows, whose terminals this probe does not know)
    except ImportError:
        return ""
    from ..ui import glyph_widths

    result = glyph_widths.probe(sys.stdin.fileno(), sys.stdout.fileno())
    if result.widths is not None:
        glyph_widths.apply(result.widths)
    return result.typed


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
