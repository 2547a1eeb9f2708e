"""`in_daemon_thread`: a blocking call beside the event loop that never holds up quitting."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time

import pytest

from dialogtui.background import in_daemon_thread


async def test_the_result_and_the_exception_come_back_to_the_awaiting_task() -> None:
    caller = threading.get_ident()
    assert await in_daemon_thread(lambda a, b: (a + b, threading.get_ident() != caller), 2, 3) == (
        5,
        True,
    )
    with pytest.raises(KeyError, match="missing"):
        await in_daemon_thread(lambda: {}["missing"])


async def test_the_loop_keeps_running_while_the_call_blocks() -> None:
    release = threading.Event()
    waiting = asyncio.ensure_future(in_daemon_thread(release.wait, 10))
    ticks = 0
    while ticks < 5:
        await asyncio.sleep(0.01)
        ticks += 1
    assert not waiting.done()
    release.set()
    assert await waiting is True


async def test_a_cancelled_wait_drops_the_late_outcome() -> None:
    release = threading.Event()
    waiting = asyncio.ensure_future(in_daemon_thread(release.wait, 10, name="test-blocking"))
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    (thread,) = [t for t in threading.enumerate() if t.name == "test-blocking"]
    assert thread.daemon
    release.set()
    thread.join(5)
    await asyncio.sleep(0.01)  # the late outcome reaches a future already done: nothing raises


def test_a_call_still_blocked_does_not_keep_the_process_alive() -> None:
    """What `asyncio.to_thread` would do here: the interpreter waits for its thread at exit."""
    code = (
        "import asyncio, threading\n"
        "from dialogtui.background import in_daemon_thread\n"
        "async def main():\n"
        "    waiting = asyncio.ensure_future(in_daemon_thread(threading.Event().wait))\n"
        "    await asyncio.sleep(0.05)\n"
        "    waiting.cancel()\n"
        "asyncio.run(main())\n"
        "print('exited')\n"
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    assert done.returncode == 0 and done.stdout.strip() == "exited", done.stderr
    assert time.monotonic() - started < 15
