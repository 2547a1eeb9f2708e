"""Cost of recording a streaming reply in the transcript store. Prints figures, asserts nothing.

    .venv/bin/python bench/bench_store.py [ROUNDS]

A `!long` reply (5,000 append_text deltas of 20 characters, 100 KB) streams from the local dev
server over real HTTP with no delay between events, through `ChatSession`, the way `dialogtui
send` runs it. Three ways, interleaved, each ROUNDS times (median shown):

* not recorded;
* recorded as shipped: `ReplyRecorder.update` on every event, which writes the reply's text at
  most every 100 ms (the supplier is `plain_text(assembler.parts)`, as in `send`);
* recorded with `flush_interval=0`: one write and commit per event, to show what batching saves.

"Inside the store" is the time spent in `record_user_turn`, `begin_reply`, `update` and `finish`
together: the recorder's own cost, without the network noise of the wall-clock figure.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dialogtui.api.client import DialogClient
from dialogtui.api.models import plain_text
from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID, DevServer, DevServerConfig
from dialogtui.session import ChatSession, Turn
from dialogtui.store import TranscriptStore

MESSAGE = "bench !long"


async def one_reply(
    client: DialogClient, store: TranscriptStore | None
) -> tuple[float, float, int, int]:
    """(wall seconds, seconds inside the store, events, store writes) for one reply."""
    session = ChatSession(client)
    turn = Turn(text=MESSAGE)
    inside = 0.0
    started = time.perf_counter()
    recorder = None
    if store is not None:
        t = time.perf_counter()
        conversation = store.resume_or_start("bench", DEMO_CHATBOT_ID)
        recorder = store.begin_reply(
            conversation, reply_to=store.record_user_turn(conversation, MESSAGE)
        )
        inside += time.perf_counter() - t

    def supplier() -> str:
        return plain_text(turn.assembler.parts)

    async for _ in session.stream_turn(turn):
        if recorder is not None:
            t = time.perf_counter()
            recorder.update(supplier)
            inside += time.perf_counter() - t
    if recorder is not None:
        t = time.perf_counter()
        recorder.finish(turn.outcome, message=turn.assembler.message, figures=turn.figures)
        inside += time.perf_counter() - t
    wall = time.perf_counter() - started
    assert turn.outcome == "done"
    return wall, inside, turn.figures.events, recorder.writes if recorder is not None else 0


async def run(rounds: int) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        DevServer(DevServerConfig(delta_delay=0.0)) as server,
    ):
        batched = TranscriptStore.open(Path(tmp) / "batched.sqlite3")
        per_event = TranscriptStore.open(Path(tmp) / "per_event.sqlite3", flush_interval=0.0)
        variants: dict[str, TranscriptStore | None] = {
            "not recorded": None,
            "recorded (100 ms batches)": batched,
            "recorded (commit per event)": per_event,
        }
        results: dict[str, list[tuple[float, float, int, int]]] = {name: [] for name in variants}
        async with DialogClient(server.base_url, DEMO_CHATBOT_ID, api_key=DEMO_API_KEY) as client:
            await one_reply(client, None)  # warm-up: token, connection, imports
            for _ in range(rounds):
                for name, store in variants.items():
                    results[name].append(await one_reply(client, store))
        batched.close()
        per_event.close()

    base = statistics.median(r[0] for r in results["not recorded"])
    events = results["not recorded"][0][2]
    print(f"!long reply: {events:,} events, 100 KB of text; median of {rounds} rounds each")
    print(f"{'':30} {'wall':>9} {'ratio':>7} {'in store':>10} {'per event':>10} {'writes':>7}")
    for name, rows in results.items():
        wall = statistics.median(r[0] for r in rows)
        inside = statistics.median(r[1] for r in rows)
        writes = int(statistics.median(r[3] for r in rows))
        print(
            f"{name:30} {wall * 1000:7.0f} ms {wall / base:6.2f}x {inside * 1000:7.1f} ms "
            f"{inside / events * 1e6:7.2f} µs {writes:7,}"
        )


if __name__ == "__main__":
    asyncio.run(run(int(sys.argv[1]) if len(sys.argv) > 1 else 5))
