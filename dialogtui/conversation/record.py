"""A turn on record: the one path from a turn to the local store.

The user's text is committed before it is sent; the reply's row exists from then on (status
`incomplete`), its text is saved on a clock while it streams (each `flush_interval` in which
it changed, so a kill -9 a moment after the stream goes quiet loses nothing that was shown),
and the final write gives it its outcome, parts, error and figures.
"""

from __future__ import annotations

import asyncio
import hashlib

from ..api.models import plain_text
from ..session import Turn
from ..store import Store


def thread_of(token: str | None) -> str | None:
    """The name under which a server conversation's record is kept: a fingerprint of the
    visitor token bound to it (the token is the thread: the API has no conversation id). The
    token itself is a secret and is never written; this cannot be turned back into it."""
    if not token:
        return None
    return hashlib.sha256(b"dialogtui thread\0" + token.encode()).hexdigest()[:32]


class TurnRecord:
    """Records one turn in conversation `conversation_id`. Make it inside the running loop
    (its clock is an asyncio timer); `finish` it exactly once."""

    def __init__(self, store: Store, conversation_id: int, turn: Turn) -> None:
        self._turn = turn
        self.user_row = store.record_user_turn(conversation_id, turn.text)
        self._recorder = store.begin_reply(conversation_id, reply_to=self.user_row)
        self._interval = store.flush_interval
        self._saved = turn.assembler.version
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = self._loop.call_later(self._interval, self._tick)

    @property
    def rows(self) -> list[int]:
        """The user's row and the reply's (0 for what was not saved)."""
        return [self.user_row, self._recorder.row_id]

    def move_to(self, conversation_id: int) -> None:
        """The rows were moved to `conversation_id` (`Store.move_messages`): finish there."""
        self._recorder.conversation_id = conversation_id

    def reply_text(self) -> str:
        return plain_text(self._turn.assembler.parts)

    def _tick(self) -> None:
        # Growth is read off the reply's version, not reported per delta: thousands of deltas
        # cost the record nothing each. This clock is the throttle: a change is written at the
        # tick after it (`flush` writes what the recorder's own throttle would hold back), so
        # a stream that goes quiet has all it showed on record within one interval.
        version = self._turn.assembler.version
        if version != self._saved:
            self._saved = version
            self._recorder.update(self.reply_text)
            self._recorder.flush()
        self._timer = self._loop.call_later(self._interval, self._tick)

    def finish(self) -> None:
        """The final write, with the turn's outcome (a running one counts as incomplete)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        turn = self._turn
        self._recorder.finish(
            turn.outcome,
            message=turn.assembler.message,
            error=turn.error,
            figures=turn.figures,
            text=self.reply_text(),
        )
