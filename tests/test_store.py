"""The transcript store on real SQLite files: durability, migrations, concurrency, corruption,
export."""

from __future__ import annotations

import itertools
import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dialogtui.api.errors import ApiHttpError, StreamError, StreamInterrupted
from dialogtui.api.models import (
    Block,
    FilePart,
    ListItem,
    Message,
    ProductsPart,
    Product,
    Price,
    RichTextPart,
    Span,
    TextPart,
    UnknownPart,
    to_part,
)
from dialogtui.cli import main
from dialogtui.config import Settings
from dialogtui.store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    NullStore,
    StoreError,
    TranscriptStore,
    dumps_json,
    open_store,
)

# Raw control characters a terminal would act on (TAB and LF are fine).
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")
HOSTILE = "\x1b[31mred\x1b[0m \x1b]52;c;aGFjaw==\x07 \u009b2J \x7f bell\x07 cr\rX"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "transcripts.sqlite3"


@pytest.fixture
def store(db_path: Path):
    with TranscriptStore.open(db_path) as s:
        yield s


def raw_rows(path: Path, sql: str) -> list[tuple]:
    """Read with a separate connection: only committed data is visible to it."""
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def all_bytes(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in directory.iterdir() if p.is_file())


# ---------------------------------------------------------------------------------------------
# opening


def test_open_creates_a_private_wal_database_at_the_current_version(db_path: Path) -> None:
    with TranscriptStore.open(db_path) as store:
        assert store.warning is None and store.saving
        assert stat.S_IMODE(db_path.stat().st_mode) == 0o600
        assert stat.S_IMODE(db_path.parent.stat().st_mode) == 0o700
        assert raw_rows(db_path, "PRAGMA journal_mode") == [("wal",)]
        assert raw_rows(db_path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]


def test_default_path_follows_the_data_dir_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIALOGTUI_DATA_DIR", str(tmp_path / "d"))
    with TranscriptStore.open() as store:
        assert store.path == tmp_path / "d" / "transcripts.sqlite3"
        assert store.path.exists()


def test_saving_off_creates_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIALOGTUI_DATA_DIR", str(tmp_path / "d"))
    for store in (open_store(no_save=True), open_store(settings=Settings(save_transcripts=False))):
        assert isinstance(store, NullStore) and not store.saving and store.warning is None
        assert store.status_note == "Not saving this conversation"
        conversation = store.resume_or_start("demo", "bot")
        store.begin_reply(
            conversation, reply_to=store.record_user_turn(conversation, "secret")
        ).finish("done")
        assert store.conversations() == []
    assert not (tmp_path / "d").exists()


# ---------------------------------------------------------------------------------------------
# recording


def test_user_text_is_committed_before_the_send(store: TranscriptStore, db_path: Path) -> None:
    conversation = store.resume_or_start("https://api.example", "bot")
    store.record_user_turn(conversation, "hello")
    # Another connection (another process, or the same one after kill -9) sees it already.
    assert raw_rows(db_path, "SELECT role, status, text FROM messages") == [
        ("user", "sent", "hello")
    ]


def test_reply_row_exists_at_once_as_incomplete_and_streams_durably(
    store: TranscriptStore, db_path: Path
) -> None:
    conversation = store.resume_or_start("https://api.example", "bot")
    recorder = store.begin_reply(conversation, reply_to=store.record_user_turn(conversation, "hi"))
    assert raw_rows(db_path, "SELECT status, text FROM messages WHERE role = 'assistant'") == [
        ("incomplete", "")
    ]
    recorder.update(lambda: "Hel")  # the first update writes at once
    assert raw_rows(db_path, "SELECT status, text FROM messages WHERE role = 'assistant'") == [
        ("incomplete", "Hel")
    ]


def test_update_is_throttled_and_calls_the_supplier_only_when_it_writes(db_path: Path) -> None:
    calls = 0

    def supplier() -> str:
        nonlocal calls
        calls += 1
        return "x" * calls

    with TranscriptStore.open(db_path, flush_interval=60.0) as store:
        conversation = store.resume_or_start("demo", "bot")
        recorder = store.begin_reply(conversation)
        for _ in range(1000):
            recorder.update(supplier)
        assert (recorder.writes, calls) == (1, 1)
        recorder.flush()  # what a quiet-stream timer would do
        assert (recorder.writes, calls) == (2, 2)
        recorder.finish("incomplete")  # the final text comes from the supplier
        assert store.messages(conversation)[0].text == "xxx"


def test_a_done_reply_keeps_its_parts_and_figures_and_drops_url_signatures(
    store: TranscriptStore,
) -> None:
    conversation = store.resume_or_start("demo", "bot")
    message = Message(
        message_id="msg_1",
        parts=[
            RichTextPart(
                part_id="p1",
                blocks=[
                    Block(spans=[Span(text="Hi "), Span(type="bold", text="there")]),
                    Block(type="bullet_list", items=[ListItem(spans=[Span(text="one")])]),
                ],
            ),
            ProductsPart(
                part_id="p2", products=[Product(id="a", title="Mug", price=Price(89.95, "DKK"))]
            ),
            FilePart(
                part_id="p3",
                url="https://cdn.example/f.txt?expires=1&signature=abc123",
                url_expires_at="2030-01-01T00:00:00Z",
                filename="f.txt",
            ),
            to_part({"type": "carousel", "part_id": "p4", "cards": [1, 2]}),
        ],
    )
    recorder = store.begin_reply(conversation)
    recorder.update(lambda: "Hi")
    recorder.finish(
        "done", message=message, figures={"total": 1.5, "events": 12, "note": "no text here"}
    )
    [row] = store.messages(conversation)
    assert (row.status, row.text, row.message_id) == ("done", "Hi there\n\n- one", "msg_1")
    assert row.figures == {"total": 1.5, "events": 12}
    assert row.parts is not None
    assert row.parts[:2] == message.parts[:2]
    assert isinstance(row.parts[2], FilePart) and row.parts[2].url == "https://cdn.example/f.txt"
    assert isinstance(row.parts[3], UnknownPart) and row.parts[3].raw == {
        "type": "carousel",
        "part_id": "p4",
        "cards": [1, 2],
    }
    assert b"abc123" not in all_bytes(store.path.parent)


def test_errors_are_stored_by_class_never_by_server_text(store: TranscriptStore) -> None:
    conversation = store.resume_or_start("demo", "bot")
    failures = [
        (
            "error",
            ApiHttpError(
                500, "internal", request_id="req_42", server_message="stack trace SERVER-SECRET"
            ),
        ),
        (
            "error",
            StreamError("generation_failed", retryable=False, server_message="model SERVER-SECRET"),
        ),
        ("incomplete", StreamInterrupted()),
    ]
    for outcome, error in failures:
        store.begin_reply(conversation).finish(outcome, error=error, text="partial")
    rows = store.messages(conversation)
    assert [
        (
            r.status,
            r.error.kind,
            r.error.code,
            r.error.status,
            r.error.request_id,
            r.error.retryable,
        )
        for r in rows
        if r.error
    ] == [
        ("error", "http", "internal", 500, "req_42", True),
        ("error", "stream", "generation_failed", None, None, False),
        ("incomplete", "interrupted", None, None, None, True),
    ]
    assert rows[0].error.message == "The chatbot had a problem. Please try again."
    store.close()
    assert b"SERVER-SECRET" not in all_bytes(store.path.parent)


def test_conversations_are_kept_per_bot_and_url_with_one_live_each(store: TranscriptStore) -> None:
    a1 = store.resume_or_start("https://api.example", "bot-a")
    assert store.resume_or_start("https://api.example", "bot-a") == a1
    b1 = store.resume_or_start("https://dev.api.example", "bot-a")  # same bot id, other server
    assert b1 != a1
    a2 = store.start_conversation("https://api.example", "bot-a", bot_name="Shop")
    assert store.live_conversation("https://api.example", "bot-a") == a2
    assert store.live_conversation("https://dev.api.example", "bot-a") == b1
    for conversation, text in ((a1, "old"), (b1, "dev"), (a2, "new")):
        store.record_user_turn(conversation, text)
    listed = store.conversations(base_url="https://api.example", chatbot_id="bot-a")
    assert [(s.id, s.live, s.title, s.turns, s.last_text) for s in listed] == [
        (a2, True, "Shop", 1, "new"),
        (a1, False, "bot-a", 1, "old"),
    ]
    store.start_conversation("demo", "x")  # no messages: not listed unless asked
    assert len(store.conversations()) == 3
    assert len(store.conversations(include_empty=True)) == 4


def test_a_failing_write_stops_saving_with_a_warning_and_never_raises(
    store: TranscriptStore,
) -> None:
    warnings: list[str] = []
    store.on_warning = warnings.append
    conversation = store.resume_or_start("demo", "bot")
    recorder = store.begin_reply(conversation)
    store._db.execute("PRAGMA query_only = 1")  # every write now fails inside SQLite
    recorder.update(lambda: "text")
    recorder.finish("done")
    assert store.record_user_turn(conversation, "more") == 0
    assert not store.saving and store.warning and warnings == [store.warning]
    assert store.status_note


# ---------------------------------------------------------------------------------------------
# export and import


def build_conversation(store: TranscriptStore) -> int:
    conversation = store.start_conversation(
        "https://api.example", "bot", bot_name="Shop \x1b]0;t\x07"
    )
    recorder = store.begin_reply(
        conversation, reply_to=store.record_user_turn(conversation, "hi " + HOSTILE)
    )
    recorder.finish(
        "done",
        message=Message(
            message_id="m1",
            parts=[
                RichTextPart(
                    part_id="p",
                    blocks=[
                        Block(
                            spans=[
                                Span(text=HOSTILE),
                                Span(type="link", text="docs", url="https://x.example/\x1b[2J"),
                            ]
                        )
                    ],
                ),
                to_part({"type": "mystery", "part_id": "q", "data": {"k": "v"}}),
            ],
        ),
        figures={"total": 0.5, "events": 3, "chars": 10},
    )
    recorder = store.begin_reply(
        conversation, reply_to=store.record_user_turn(conversation, "again")
    )
    recorder.update(lambda: "half a rep")
    recorder.finish("error", error=ApiHttpError(503, None, request_id="req_1"))
    store.begin_reply(
        conversation, reply_to=store.record_user_turn(conversation, "killed")
    )  # never finished
    return conversation


def test_json_export_round_trips_to_the_same_turns(store: TranscriptStore) -> None:
    original = build_conversation(store)
    exported = store.export_json(original)
    text = dumps_json(exported)
    assert not CONTROL.search(text) and "\u202e" not in text
    imported = store.import_json(json.loads(text))
    assert imported != original
    again = store.export_json(imported)
    assert again["messages"] == exported["messages"]
    assert {k: v for k, v in again["conversation"].items() if k != "id"} == {
        k: v for k, v in exported["conversation"].items() if k != "id"
    }

    def essence(conversation: int) -> list[tuple]:
        return [
            (m.role, m.status, m.text, m.parts, m.message_id, m.error, m.figures, m.created_at)
            for m in store.messages(conversation)
        ]

    assert essence(imported) == essence(original)
    assert [m.text for m in store.messages(imported)][:2] == ["hi " + HOSTILE, HOSTILE + "docs"]
    assert store.conversation(imported).live is False  # an import never takes over the live one


def test_import_rejects_what_is_not_an_export(store: TranscriptStore) -> None:
    with pytest.raises(StoreError):
        store.import_json(
            {"format": "something else", "version": 1, "conversation": {}, "messages": []}
        )
    with pytest.raises(StoreError):
        store.import_json([1, 2, 3])


def test_markdown_export_is_readable_and_free_of_control_characters(store: TranscriptStore) -> None:
    markdown = store.export_markdown(build_conversation(store))
    assert not CONTROL.search(markdown)
    assert "␛[31mred" in markdown  # shown, not obeyed
    assert "## You" in markdown and "[docs](<https://x.example/␛[2J>)" in markdown
    assert (
        "> Reply failed: The chatbot is temporarily unavailable. Please try again. (http, 503, "
        "request req_1" in markdown
    )
    assert "> Reply incomplete: it stopped before the end." in markdown
    assert "half a rep" in markdown and "[unsupported content: mystery]" in markdown


def test_export_of_a_missing_conversation_is_a_clear_error(store: TranscriptStore) -> None:
    with pytest.raises(StoreError, match="no saved conversation 99"):
        store.export_markdown(99)


# ---------------------------------------------------------------------------------------------
# corruption and versions


def test_a_garbage_file_is_moved_aside_with_a_message_and_a_fresh_store_works(
    db_path: Path,
) -> None:
    db_path.parent.mkdir(parents=True)
    garbage = b"this is not a database, it is a shopping list\n" * 200
    db_path.write_bytes(garbage)
    (db_path.parent / (db_path.name + "-wal")).write_bytes(b"stale wal")
    with TranscriptStore.open(db_path) as store:
        assert store.warning and "moved to" in store.warning and "not a database" in store.warning
        [aside] = db_path.parent.glob("transcripts.sqlite3.corrupt-*[0-9Z]")
        assert aside.read_bytes() == garbage  # kept, never deleted
        assert (aside.parent / (aside.name + "-wal")).read_bytes() == b"stale wal"
        assert str(aside) in store.warning
        conversation = store.resume_or_start("demo", "bot")
        store.record_user_turn(conversation, "after")
        assert [m.text for m in store.messages(conversation)] == ["after"]


def test_an_sqlite_file_that_is_not_ours_is_moved_aside(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    other = sqlite3.connect(db_path)
    other.execute("CREATE TABLE recipes (name TEXT)")
    other.commit()
    other.close()
    store = open_store(path=db_path, settings=Settings())
    assert isinstance(store, TranscriptStore) and "not one of dialogtui's" in (store.warning or "")
    store.close()
    assert len(list(db_path.parent.glob("*.corrupt-*"))) == 1


def test_a_database_from_a_newer_version_is_left_alone(db_path: Path) -> None:
    with TranscriptStore.open(db_path):
        pass
    db = sqlite3.connect(db_path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    before = db_path.read_bytes()
    store = open_store(path=db_path, settings=Settings())
    assert isinstance(store, NullStore) and "newer version" in (store.warning or "")
    assert store.status_note.startswith("Not saving")
    assert db_path.read_bytes() == before and not list(db_path.parent.glob("*.corrupt-*"))


def test_an_unusable_data_dir_gives_a_null_store_with_a_warning(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the data dir should be")
    store = open_store(path=blocker / "transcripts.sqlite3", settings=Settings())
    assert isinstance(store, NullStore) and store.warning and "cannot be created" in store.warning
    assert blocker.read_text() == "a file where the data dir should be"


# The v1 schema exactly as shipped. Frozen here on purpose: if MIGRATIONS[0] is ever edited,
# files made by the released version would no longer match, and this test says so.
V1_DDL = """
CREATE TABLE conversations (
    id INTEGER PRIMARY KEY,
    base_url TEXT NOT NULL,
    chatbot_id TEXT NOT NULL,
    bot_name TEXT,
    live INTEGER NOT NULL DEFAULT 0,
    started_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    role TEXT NOT NULL,
    status TEXT NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    parts_json TEXT,
    message_id TEXT,
    error_json TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
PRAGMA user_version = 1;
"""


def test_the_first_migration_is_the_frozen_v1_schema() -> None:
    def normalise(sql: str) -> str:
        return " ".join(sql.replace("(", " ( ").replace(")", " ) ").replace(",", " , ").split())

    frozen = [normalise(s) for s in V1_DDL.split(";") if s.strip() and "PRAGMA" not in s]
    assert [normalise(s) for s in MIGRATIONS[0].statements] == frozen


def test_a_v1_file_is_upgraded_to_the_latest_keeping_every_row(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    v1 = sqlite3.connect(db_path)
    v1.executescript(V1_DDL)
    t = "2024-05-01T12:00:00.000Z"
    v1.executescript(f"""
        INSERT INTO conversations VALUES (1, 'https://api.example', 'bot', 'Shop', 1, '{t}', '{t}');
        INSERT INTO messages (id, conversation_id, role, status, text, created_at, updated_at)
            VALUES (1, 1, 'user', 'sent', 'first', '{t}', '{t}');
        INSERT INTO messages
            (id, conversation_id, role, status, text, parts_json, message_id, created_at,
            updated_at)
            VALUES (2, 1, 'assistant', 'done', 'Hello', '[{{"type":"text","text":"Hello"}}]',
                'm1', '{t}', '{t}');
        INSERT INTO messages (id, conversation_id, role, status, text, created_at, updated_at)
            VALUES (3, 1, 'user', 'sent', 'second', '{t}', '{t}');
        INSERT INTO messages
            (id, conversation_id, role, status, text, error_json, created_at, updated_at)
            VALUES (4, 1, 'assistant', 'error', '',
                '{{"kind":"http","status":500,"code":"internal"}}', '{t}', '{t}');
    """)
    v1.commit()
    v1.close()

    with TranscriptStore.open(db_path) as store:
        assert store.warning is None
        assert raw_rows(db_path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
        rows = store.messages(1)
        assert [(m.id, m.role, m.text, m.reply_to, m.figures) for m in rows] == [
            (1, "user", "first", None, None),
            (2, "assistant", "Hello", 1, None),
            (3, "user", "second", None, None),
            (4, "assistant", "", 3, None),
        ]
        assert rows[1].parts == [TextPart(text="Hello")]
        assert rows[3].error is not None and (rows[3].error.kind, rows[3].error.status) == (
            "http",
            500,
        )
        assert store.live_conversation("https://api.example", "bot") == 1
        # v2 features work on the upgraded file
        store.begin_reply(1, reply_to=store.record_user_turn(1, "third")).finish(
            "done", text="ok", figures={"total": 1.0}
        )
        assert store.messages(1)[-1].figures == {"total": 1.0}
    indexes = {
        r[0] for r in raw_rows(db_path, "SELECT name FROM sqlite_master WHERE type = 'index'")
    }
    assert {"messages_by_conversation", "conversations_by_bot"} <= indexes


@pytest.mark.parametrize("version", range(len(MIGRATIONS) + 1))
def test_every_schema_version_migrates_to_the_latest(db_path: Path, version: int) -> None:
    db_path.parent.mkdir(parents=True)
    db = sqlite3.connect(db_path, isolation_level=None)
    for step in MIGRATIONS[:version]:
        for statement in step.statements:
            db.execute(statement)
        db.execute(f"PRAGMA user_version = {step.version}")
    db.close()
    with TranscriptStore.open(db_path) as store:
        assert store.warning is None
        conversation = store.resume_or_start("demo", "bot")
        store.begin_reply(conversation, reply_to=store.record_user_turn(conversation, "x")).finish(
            "done", text="y"
        )
        assert [m.text for m in store.messages(conversation)] == ["x", "y"]
    assert raw_rows(db_path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]


# ---------------------------------------------------------------------------------------------
# concurrency: two real processes, one file that neither has created yet

WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from dialogtui.store import TranscriptStore
    path, tag, turns, barrier = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    (barrier / tag).touch()  # ready: imports done
    while len([p for p in barrier.iterdir() if len(p.name) == 1]) < 2:  # both ready: go together
        time.sleep(0.001)
    store = TranscriptStore.open(path, flush_interval=0.0)  # write on every update: most contention
    conversation = store.resume_or_start("https://api.example", "bot")
    other = "B" if tag == "A" else "A"
    for i in range(turns):
        if i == turns // 2:  # meet half-way: the two runs overlap however the OS schedules them
            (barrier / f"{tag}-half").touch()
            while not (barrier / f"{other}-half").exists():
                time.sleep(0.001)
        user = store.record_user_turn(conversation, f"{tag}-{i}")
        recorder = store.begin_reply(conversation, reply_to=user)
        for k in range(3):
            recorder.update(lambda: f"{tag}-{i}-{k}")
        recorder.finish("done", text=f"{tag}-{i}-reply")
    print(store.warning or "ok")
    store.close()
""")


def test_two_processes_write_at_once_without_loss(db_path: Path, tmp_path: Path) -> None:
    turns = 200
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db_path), tag, str(turns), str(barrier)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for tag in ("A", "B")
    ]
    results = [p.communicate(timeout=60) for p in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert out.strip() == "ok"
    with TranscriptStore.open(db_path) as store:
        [summary] = store.conversations()  # both resumed the same live conversation
        assert summary.turns == 2 * turns and summary.messages == 4 * turns
        rows = store.messages(summary.id)
        by_id = {m.id: m for m in rows}
        for tag in ("A", "B"):
            users = [m for m in rows if m.role == "user" and m.text.startswith(tag)]
            assert [m.text for m in users] == [f"{tag}-{i}" for i in range(turns)]
        for reply in (m for m in rows if m.role == "assistant"):
            assert reply.status == "done"
            assert reply.text == by_id[reply.reply_to].text + "-reply"
        # the runs overlapped: both first halves come before either second half, so the
        # writers' turns alternate at least twice (A…B…A or B…A…B)
        tags = [m.text[0] for m in rows if m.role == "user"]
        assert sum(1 for a, b in itertools.pairwise(tags) if a != b) >= 2


# ---------------------------------------------------------------------------------------------
# the commands


def test_history_and_export_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("DIALOGTUI_DATA_DIR", str(data))
    monkeypatch.setenv("DIALOGTUI_CONFIG_DIR", str(tmp_path / "config"))

    assert main(["history"]) == 0
    assert capsys.readouterr().out == "No saved conversations yet.\n"
    assert main(["history", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["export", "1"]) == 2
    assert "no saved conversation 1" in capsys.readouterr().err
    assert not data.exists()  # reading never creates the database

    with TranscriptStore.open() as store:
        conversation = build_conversation(store)

    assert main(["history", "--json"]) == 0
    [record] = json.loads(capsys.readouterr().out)
    assert record["id"] == conversation and record["turns"] == 3 and record["live"] is True
    assert record["bot_name"] == "Shop \x1b]0;t\x07"  # JSON keeps the data, escaped ...
    assert (
        record["environment"] == "api.example" and record["last_message"]["status"] == "incomplete"
    )

    assert main(["history"]) == 0
    out = capsys.readouterr().out
    assert not CONTROL.search(out)  # ... the table shows it inert
    assert "Shop ␛]0;t␇" in out and "Bot: [reply incomplete]" in out

    out_file = tmp_path / "export.json"
    assert main(["export", str(conversation), "--format", "json", "-o", str(out_file)]) == 0
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600
    raw = out_file.read_text(encoding="utf-8")
    assert not CONTROL.search(raw)
    with TranscriptStore.open() as store:
        copy = store.import_json(json.loads(raw))
        assert [m.text for m in store.messages(copy)] == [
            m.text for m in store.messages(conversation)
        ]

    assert main(["export", str(conversation)]) == 0
    markdown = capsys.readouterr().out
    assert markdown.startswith(
        f"# Conversation {conversation} with Shop ␛]0;t␇"
    ) and not CONTROL.search(markdown)


def test_a_conversation_has_one_writer_at_a_time_and_claims_leave_no_files(
    store: TranscriptStore, db_path: Path
) -> None:
    """Two opened stores stand for two processes (an flock belongs to an open file, not to
    a process); the thread a conversation records is found again by its fingerprint."""
    conversation = store.start_conversation("demo", "bot", thread="t1")
    assert store.thread_conversations("demo", "bot", "t1") == [conversation]
    assert store.thread_conversations("demo", "other-bot", "t1") == []
    store.bind_thread(conversation, "t2")
    assert store.thread_conversations("demo", "bot", "t1") == []
    assert store.thread_conversations("demo", "bot", "t2") == [conversation]
    with TranscriptStore.open(db_path) as other:
        assert store.claim(conversation)
        assert not store.claim(conversation), "one claim per conversation in a process too"
        assert not other.claim(conversation)
        store.release(conversation)
        assert other.claim(conversation)
        assert not store.claim(conversation)
    # Closing a store gives up its claims.
    assert store.claim(conversation)
    store.release(conversation)
    assert list(db_path.with_name(db_path.name + ".claims").iterdir()) == []
