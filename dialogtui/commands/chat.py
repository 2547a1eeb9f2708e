"""`dialogtui` and `dialogtui --demo`: the chat app."""

from __future__ import annotations

import argparse
import gc

from .common import StartupError, open_target, print_failure


def run_chat(args: argparse.Namespace) -> int:
    # No garbage collection until the app's first frame (the app turns it back on): importing
    # Textual and building the screen allocate so much that collections, a full one among them,
    # cost tens of ms before anything shows, and almost nothing of it is garbage.
    gc.disable()
    try:
        with open_target(args) as target:
            from ..store import open_store
            from ..ui.app import DialogApp

            store = open_store(no_save=args.no_save)
            try:
                DialogApp(target, store=store).run()
            finally:
                store.close()
    except StartupError as exc:
        print_failure(exc.safe_message)
        return exc.exit_code
    finally:
        gc.enable()  # if the app never painted
    return 0
