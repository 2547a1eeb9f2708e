"""`dialogtui` and `dialogtui --demo`: the chat app."""

from __future__ import annotations

import argparse

from .common import StartupError, open_target, print_failure


def run_chat(args: argparse.Namespace) -> int:
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
    return 0
