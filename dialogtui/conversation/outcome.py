"""How a turn stands: the one place the outcome words are spelled.

A leaf module (no imports of ours): the store, the session, the core and every view read it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Outcome(StrEnum):
    """A turn's state: two while it runs, four once it has ended. The values are what the
    store writes and what `--json` prints, so they never change."""

    WAITING = "waiting"
    """Sent; nothing of the reply yet."""
    STREAMING = "streaming"
    """Part of the reply has arrived."""
    DONE = "done"
    """The server said `done`: the reply is whole and saved on its side."""
    ERROR = "error"
    """Failed with nothing (or only an error event) to show."""
    INCOMPLETE = "incomplete"
    """Part of a reply arrived and the rest did not."""
    CANCELLED = "cancelled"
    """Stopped here (Esc, Ctrl-C); whatever arrived stays."""

    @property
    def final(self) -> bool:
        return self not in _RUNNING

    @classmethod
    def settled(cls, value: str, *, failed: bool = False) -> Outcome:
        """`value` as a final outcome: a running or unknown one becomes `error` (if the turn
        failed) or `incomplete`."""
        try:
            outcome = cls(value)
        except ValueError:
            outcome = cls.WAITING
        if outcome.final:
            return outcome
        return cls.ERROR if failed else cls.INCOMPLETE


_RUNNING: Final = frozenset({Outcome.WAITING, Outcome.STREAMING})
FINAL_OUTCOMES: Final = frozenset(o for o in Outcome if o.final)
