"""Blocking calls run beside the event loop without holding up quitting.

`asyncio.to_thread` uses the loop's executor, whose threads the interpreter waits for at exit:
a keyring waiting on an unlock prompt would keep the process alive after the app has closed.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any, TypeVar, cast

T = TypeVar("T")


async def in_daemon_thread(
    function: Callable[..., T], *args: Any, name: str = "dialogtui-blocking"
) -> T:
    """`function(*args)` in a daemon thread; its result or exception, awaited. Cancelling the
    wait leaves the thread to finish on its own, its outcome dropped."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def deliver(result: object, error: BaseException | None) -> None:
        if future.done():
            return  # the wait was cancelled
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(cast(T, result))

    def run() -> None:
        try:
            outcome: tuple[object, BaseException | None] = (function(*args), None)
        except BaseException as exc:  # handed to the awaiting task, whatever it is
            outcome = (None, exc)
        with suppress(RuntimeError):  # the loop has closed: nobody is waiting any more
            loop.call_soon_threadsafe(deliver, *outcome)

    threading.Thread(target=run, name=name, daemon=True).start()
    return await future
