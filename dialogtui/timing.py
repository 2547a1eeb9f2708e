"""The clock behind every duration shown to a person: a turn's figures (headers, first text,
total) and the inspector's times. Nothing is decided by it: timeouts, retries and frame pacing
keep their own clocks.

One seam, so that a picture of the screen can be repeatable: inside `frozen()` every duration
measured reads zero (the screen snapshot tests use it). Code that shows a duration measures it
with `now()`, not `time.perf_counter()`, or those pictures change from run to run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_clock: Callable[[], float] = time.perf_counter


def now() -> float:
    """Seconds on a monotonic clock, for measuring a duration that is shown."""
    return _clock()


@contextmanager
def frozen() -> Iterator[None]:
    """Every duration measured inside (in this process) is zero."""
    global _clock
    previous, _clock = _clock, lambda: 0.0
    try:
        yield
    finally:
        _clock = previous
