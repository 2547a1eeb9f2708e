"""The local transcript store: every turn on disk as it happens, in one SQLite file.

What is kept, per conversation (one bot on one base URL): the user's text (committed before it
is sent), each assistant reply (a row that exists from the moment the request starts, with status
`incomplete`, and whose text is rewritten as it streams), the final `done` message as parts, each
error as kind/code/status/request id/retryable/safe message, and the turn's figures. Never a
secret: no API key, no visitor token, no Authorization header, no server-sent error text, and the
signature of pre-signed file URLs is dropped.

Durability: WAL mode with `synchronous=NORMAL`. A commit is then a write into the WAL without an
fsync, so it survives `kill -9` of the process (the data is in the OS) though not a power cut,
and costs tens of microseconds. Streaming text is written at most every `flush_interval`
(100 ms) by `ReplyRecorder.update`, which is cheap to call per delta.

Concurrency: many processes may write at once. Every write is one short transaction, waiting up
to `busy_timeout` (5 s) for a lock; in WAL mode readers never block and writers hold the lock for
well under a millisecond.

Failure policy: the store never breaks a chat. A file that is not a database, or is damaged or
unreadable, is renamed to `<name>.corrupt-<UTC time>` (never deleted) and a fresh one started;
`store.warning` then says so in one safe sentence. If even that fails, `open_store` returns a
`NullStore` carrying the warning. A write that fails later turns saving off for the rest of the
run, with a warning, instead of raising into the caller. A damaged page met later, by a read or
a write (SQLITE_CORRUPT), also moves the file aside: that run stops saving (its ids point into
the old file), and the next starts fresh. A healthy file this process may not write is opened
read-only (`read_only`): history reads work, writes are skipped, `warning` says so.

Schema versions live in `PRAGMA user_version`; `MIGRATIONS` holds every step from an empty file
on. A shipped step is never edited: a change is a new step appended to the tuple.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol
from urllib.parse import urlsplit, urlunsplit

import msgspec

from .api.models import (
    Block,
    ContactFormPart,
    FilePart,
    FormPart,
    HumanAgentPart,
    ImagePart,
    ImageUploadPart,
    Message,
    Part,
    ProductsPart,
    QuickRepliesPart,
    RichTextPart,
    Span,
    SuggestionsPart,
    SupportTicketPart,
    TablePart,
    TextPart,
    UnknownPart,
    plain_text,
    to_part,
)
from . import plaintext
from .conversation.outcome import Outcome
from .text import FORMAT_CHARACTERS, sanitize, sanitize_line, sanitize_pieces

if TYPE_CHECKING:
    from .api.errors import DialogError
    from .config import Settings
    from .target import Target

DB_FILENAME: Final = "transcripts.sqlite3"
DEMO_BASE_URL: Final = "demo"
"""The base URL under which `--demo` conversations are kept: the demo server's port changes."""
FLUSH_INTERVAL: Final = 0.1
"""Seconds between two writes of a streaming reply."""
BUSY_TIMEOUT_MS: Final = 5000
EXPORT_FORMAT: Final = "dialogtui-transcript"
EXPORT_VERSION: Final = 1

USER_SENT: Final = "sent"
"""Status of a user message: recorded before it was sent (whether it arrived, the reply tells)."""


# ---------------------------------------------------------------------------------------------
# Schema and migrations


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: Final[tuple[Migration, ...]] = (
    Migration(
        1,
        "conversations and messages",
        (
            """CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            base_url TEXT NOT NULL,
            chatbot_id TEXT NOT NULL,
            bot_name TEXT,
            live INTEGER NOT NULL DEFAULT 0,
            started_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
            """CREATE TABLE messages (
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
        )""",
        ),
    ),
    Migration(
        2,
        "turn figures, reply-to links, indexes for listing",
        (
            "ALTER TABLE messages ADD COLUMN figures_json TEXT",
            "ALTER TABLE messages ADD COLUMN reply_to INTEGER REFERENCES messages(id)",
            # v1 rows: a reply answers the latest user message before it in its conversation.
            """UPDATE messages SET reply_to = (
            SELECT max(u.id) FROM messages AS u
            WHERE u.conversation_id = messages.conversation_id AND u.role = 'user'
                AND u.id < messages.id
        ) WHERE role = 'assistant'""",
            "CREATE INDEX messages_by_conversation ON messages(conversation_id, id)",
            "CREATE INDEX conversations_by_bot ON conversations(base_url, chatbot_id, live)",
        ),
    ),
    Migration(
        3,
        "conversations bound to the server's conversation (a fingerprint of its visitor token)",
        (
            # NULL for older rows: they are never resumed by a token, only listed and read.
            "ALTER TABLE conversations ADD COLUMN thread TEXT",
            "CREATE INDEX conversations_by_thread ON conversations(base_url, chatbot_id, thread)",
        ),
    ),
)
SCHEMA_VERSION: Final = MIGRATIONS[-1].version

_EXPECTED_COLUMNS: Final = {
    "conversations": {
        "id",
        "base_url",
        "chatbot_id",
        "bot_name",
        "live",
        "started_at",
        "updated_at",
        "thread",
    },
    "messages": {
        "id",
        "conversation_id",
        "role",
        "status",
        "text",
        "parts_json",
        "message_id",
        "error_json",
        "created_at",
        "updated_at",
        "figures_json",
        "reply_to",
    },
}

# Primary SQLite result codes (extended codes carry them in the low byte).
_SQLITE_PERM, _SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 3, 5, 6, 8
_SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 10, 11, 14, 26
_BAD_FILE_CODES: Final = frozenset(
    {
        _SQLITE_CORRUPT,
        _SQLITE_NOTADB,
        _SQLITE_CANTOPEN,
        _SQLITE_PERM,
        _SQLITE_READONLY,
        _SQLITE_IOERR,
    }
)


class StoreError(Exception):
    """The store cannot do what was asked; `safe_message` is fit to show a person."""

    def __init__(self, safe_message: str) -> None:
        super().__init__(safe_message)
        self.safe_message = safe_message


class _BadFile(Exception):
    """The file at the store's path is not a usable transcript database: move it aside."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.identity: tuple[int, int] | None = None
        """(device, inode) of the file found bad, so a fresh file made meanwhile is not moved."""


def _primary_code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def _is_busy(exc: sqlite3.Error) -> bool:
    return _primary_code(exc) in (_SQLITE_BUSY, _SQLITE_LOCKED)


def _user_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite3.Connection) -> int:
    """Bring `db` to `SCHEMA_VERSION`, a step at a time in one transaction. Returns the old version.

    Safe against a second process migrating at the same moment: the version is re-read under
    the write lock, so each step runs once.
    """
    version = _user_version(db)
    if version > SCHEMA_VERSION:
        raise StoreError(
            "The transcript database was written by a newer version of dialogtui; "
            "this version will not change it, so nothing is saved. Update dialogtui."
        )
    if version == SCHEMA_VERSION:
        return version
    db.execute("BEGIN IMMEDIATE")
    try:
        version = _user_version(db)
        if version == 0:
            tables = db.execute(
                "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
            ).fetchone()[0]
            if tables:
                raise _BadFile("it is an SQLite database, but not one of dialogtui's")
        for step in MIGRATIONS:
            if step.version <= version:
                continue
            for statement in step.statements:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {int(step.version)}")
        db.execute("COMMIT")
    except BaseException:
        _rollback(db)
        raise
    return version


def _check_schema(db: sqlite3.Connection) -> None:
    for table, expected in _EXPECTED_COLUMNS.items():
        columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if not expected <= columns:
            raise _BadFile(f"its '{table}' table is not what this version expects")


# ---------------------------------------------------------------------------------------------
# Records


class StoredError(msgspec.Struct, omit_defaults=True):
    """What is kept of a failure: classification only, never the server's own text."""

    kind: str
    message: str = ""
    """The client's safe message (chosen by code and status, never server-sent)."""
    code: str | None = None
    status: int | None = None
    request_id: str | None = None
    retryable: bool = False

    @classmethod
    def from_error(cls, error: DialogError) -> StoredError:
        code = getattr(error, "code", None)
        status = getattr(error, "status", None)
        request_id = getattr(error, "request_id", None)
        return cls(
            kind=error.kind,
            message=error.safe_message,
            code=code if isinstance(code, str) else None,
            status=status if isinstance(status, int) else None,
            request_id=request_id if isinstance(request_id, str) else None,
            retryable=bool(error.retryable),
        )


@dataclass(frozen=True)
class ConversationSummary:
    id: int
    base_url: str
    chatbot_id: str
    bot_name: str | None
    live: bool
    started_at: str
    updated_at: str
    turns: int
    """User messages in the conversation."""
    messages: int
    last_role: str | None
    last_text: str
    last_status: str | None

    @property
    def environment(self) -> str:
        if self.base_url == DEMO_BASE_URL:
            return "demo"
        from .target import environment_label

        return environment_label(self.base_url)

    @property
    def title(self) -> str:
        return self.bot_name or self.chatbot_id


@dataclass(frozen=True)
class StoredMessage:
    """One row: a user message or an assistant reply (done, or partial with its outcome)."""

    id: int
    conversation_id: int
    role: str
    status: str
    text: str
    """Plain text: what the user typed, or the reply's text (as far as it streamed)."""
    parts: list[Part] | None
    """The `done` message's parts; None for user messages and unfinished replies."""
    message_id: str | None
    created_at: str
    updated_at: str
    error: StoredError | None
    figures: dict[str, Any] | None
    reply_to: int | None

    @property
    def display_parts(self) -> list[Part]:
        """What to render: the final parts, else the text as one part."""
        if self.parts:
            return self.parts
        return [TextPart(text=self.text)] if self.text else []


# ---------------------------------------------------------------------------------------------
# Encoding parts: as the wire has them, so `to_part` reads them back exactly


_SIGNED_URL_PARTS: Final = ("image", "file")


def _wire_part(part: Part) -> dict[str, Any]:
    if isinstance(part, UnknownPart):
        return dict(part.raw) if part.raw else {"type": part.type, "part_id": part.part_id}
    obj: dict[str, Any] = msgspec.to_builtins(part)
    if (
        obj.get("type") in _SIGNED_URL_PARTS
        and obj.get("url_expires_at")
        and isinstance(obj.get("url"), str)
    ):
        # A pre-signed URL is a bearer credential until it expires: keep where it pointed, not
        # the key.
        obj["url"] = _strip_query(obj["url"])
    return obj


def _strip_query(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _encode_parts(parts: list[Part]) -> str:
    return msgspec.json.encode([_wire_part(p) for p in parts]).decode()


def _decode_parts(raw: str | None) -> list[Part] | None:
    if raw is None:
        return None
    try:
        items = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None
    return [to_part(item) for item in items] if isinstance(items, list) else None


def _decode_error(raw: str | None) -> StoredError | None:
    if raw is None:
        return None
    try:
        return msgspec.json.decode(raw, type=StoredError)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return StoredError(kind="unknown")


def _decode_dict(raw: str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None
    return value if isinstance(value, dict) else None


def _figures_dict(figures: Any) -> dict[str, Any] | None:
    if figures is None:
        return None
    if is_dataclass(figures) and not isinstance(figures, type):
        figures = asdict(figures)
    if not isinstance(figures, dict):
        return None
    # Only plain numbers: figures are timings and counts, never content.
    return {str(k): v for k, v in figures.items() if v is None or isinstance(v, (int, float))}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------------------------------------
# The store


class TextSupplier(Protocol):
    def __call__(self) -> str: ...


class TranscriptStore:
    """The transcript database. Open with `TranscriptStore.open()` (or `open_store()`)."""

    saving: bool = True

    def __init__(
        self,
        db: sqlite3.Connection,
        path: Path,
        *,
        flush_interval: float = FLUSH_INTERVAL,
        warning: str | None = None,
        read_only: bool = False,
    ) -> None:
        self._db = db
        self.path = path
        self.flush_interval = flush_interval
        self.read_only = read_only
        """The file may be read but not written: history works, nothing new is saved."""
        if read_only:
            self.saving = False
            warning = warning or (
                f"The transcript database {path} is read-only: saved conversations can be "
                "read, but nothing new is saved."
            )
        self.warning = warning
        """One safe sentence about a problem (file moved aside, saving stopped), or None."""
        self.on_warning: Callable[[str], None] | None = None
        """Called with a warning raised after opening (saving stopped mid-run)."""
        self._lock = threading.RLock()
        self._broken = False
        self._closed = False
        self._identity = _identity(path)
        """The file opened, so a damaged one found later is moved aside only if still there."""
        self._claims: dict[int, int] = {}  # conversation id -> the descriptor holding its lock

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def default_path(cls) -> Path:
        from .config import data_dir

        return data_dir() / DB_FILENAME

    @classmethod
    def open(
        cls, path: Path | None = None, *, flush_interval: float = FLUSH_INTERVAL
    ) -> TranscriptStore:
        """Open (creating, migrating, or replacing a bad file as needed). Raises `StoreError`."""
        path = Path(path) if path is not None else cls.default_path()
        try:
            db, read_only = _open_db(path)
            return cls(db, path, flush_interval=flush_interval, read_only=read_only)
        except _BadFile as bad:
            aside = _move_aside(path, bad)
            warning = (
                None
                if aside is None
                else (
                    f"The transcript database could not be used ({bad.reason}). It was moved to "
                    f"{aside} and a new one was started."
                )
            )
            try:
                db, read_only = _open_db(path)
            except (_BadFile, sqlite3.Error, OSError) as exc:
                reason = exc.reason if isinstance(exc, _BadFile) else _describe(exc)
                raise StoreError(
                    f"{warning or 'The transcript database could not be used.'} "
                    f"A new one could not be created either ({reason}); nothing is saved."
                ) from None
            return cls(
                db, path, flush_interval=flush_interval, warning=warning, read_only=read_only
            )

    def close(self) -> None:
        with self._lock:
            for conversation_id in list(self._claims):
                self.release(conversation_id)
            if not self._closed:
                self._closed = True
                with suppress(sqlite3.Error):
                    self._db.close()

    def __enter__(self) -> TranscriptStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def status_note(self) -> str | None:
        """For a status line: None while saving works, else why nothing is saved."""
        if self.read_only:
            return "Not saving: the transcript database is read-only"
        return "Not saving: the transcript database failed" if self._broken else None

    # -- writing ---------------------------------------------------------------------------

    def _fail(self, exc: BaseException) -> None:
        if self._broken:
            return
        self._broken = True
        self.saving = False
        aside = self._set_aside_if_damaged(exc)
        if aside is not None:
            self.warning = (
                f"Saving the transcript stopped: the database is damaged ({_describe(exc)}). "
                f"It was moved to {aside}; the next run starts a new one. "
                "The chat goes on, unsaved."
            )
        else:
            self.warning = (
                f"Saving the transcript stopped: {_describe(exc)}. The chat goes on, unsaved."
            )
        if self.on_warning is not None:
            self.on_warning(self.warning)

    def _set_aside_if_damaged(self, exc: BaseException) -> Path | None:
        """A damaged page found while reading or writing: the file is closed and moved aside
        (never deleted), so that the next run starts a fresh one instead of failing again."""
        if not isinstance(exc, sqlite3.Error) or _primary_code(exc) not in (
            _SQLITE_CORRUPT,
            _SQLITE_NOTADB,
        ):
            return None
        self._broken = True
        self.saving = False
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        self._closed = True
        bad = _BadFile(_bad_reason(exc))
        bad.identity = self._identity
        try:
            return _move_aside(self.path, bad)
        except StoreError:
            return None

    @contextmanager
    def _writing(self, *, skippable: bool = False) -> Iterator[sqlite3.Connection | None]:
        """One short write transaction; on failure, saving stops and the caller carries on.

        BEGIN IMMEDIATE takes the write lock first (waiting up to the busy timeout), so no
        transaction ever has to upgrade a read snapshot, which SQLite may refuse without waiting.
        `skippable`: a database still busy after the timeout skips this write only.
        """
        with self._lock:
            if self._broken or self._closed or self.read_only:
                yield None
                return
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                if not (skippable and _is_busy(exc)):
                    self._fail(exc)
                yield None
                return
            try:
                yield db
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                _rollback(db)
                self._fail(exc)
            except BaseException:
                _rollback(db)
                raise

    def live_conversation(self, base_url: str, chatbot_id: str) -> int | None:
        """The conversation last started for this bot, if there is one. (Not how the app and
        the commands choose where a turn goes: see `thread_conversations` and the core.)"""
        row = self._read(
            "SELECT id FROM conversations WHERE base_url = ? AND chatbot_id = ? AND live = 1 "
            "ORDER BY id DESC LIMIT 1",
            (base_url, chatbot_id),
        )
        return int(row[0][0]) if row else None

    def start_conversation(
        self,
        base_url: str,
        chatbot_id: str,
        *,
        bot_name: str | None = None,
        thread: str | None = None,
    ) -> int:
        """A new conversation, which becomes the live one for this bot. 0 if saving is off.
        `thread`: the server conversation it records (see `thread_conversations`)."""
        with self._writing() as db:
            if db is None:
                return 0
            now = _now()
            db.execute(
                "UPDATE conversations SET live = 0 "
                "WHERE base_url = ? AND chatbot_id = ? AND live = 1",
                (base_url, chatbot_id),
            )
            cursor = db.execute(
                "INSERT INTO conversations (base_url, chatbot_id, bot_name, live, started_at, "
                "updated_at, thread) VALUES (?, ?, ?, 1, ?, ?, ?)",
                (base_url, chatbot_id, bot_name, now, now, thread),
            )
            return int(cursor.lastrowid or 0)
        return 0

    def thread_conversations(self, base_url: str, chatbot_id: str, thread: str) -> list[int]:
        """The conversations that record server conversation `thread` (a fingerprint of its
        visitor token, never the token), newest first."""
        rows = self._read(
            "SELECT id FROM conversations WHERE base_url = ? AND chatbot_id = ? AND thread = ? "
            "ORDER BY id DESC",
            (base_url, chatbot_id, thread),
        )
        return [int(row[0]) for row in rows]

    def bind_thread(self, conversation_id: int, thread: str | None) -> None:
        """The server conversation `conversation_id` records goes on under `thread` now (its
        token rotated), or is no longer known (None)."""
        with self._writing() as db:
            if db is not None:
                db.execute(
                    "UPDATE conversations SET thread = ? WHERE id = ?", (thread, conversation_id)
                )

    def move_messages(self, message_ids: list[int], conversation_id: int) -> None:
        """Move rows to another conversation: a turn recorded before the server said it
        began a new conversation goes with that one."""
        ids = [i for i in message_ids if i]
        with self._writing() as db:
            if db is not None and ids:
                db.executemany(
                    "UPDATE messages SET conversation_id = ? WHERE id = ?",
                    [(conversation_id, i) for i in ids],
                )

    def claim(self, conversation_id: int) -> bool:
        """Make this process the one writer of `conversation_id` until `release` (or the
        process ends, however: the claim is an flock on a file beside the database, which
        the system drops with the process). False if another process, or another claim in
        this one, holds it."""
        if conversation_id in self._claims:
            return False  # claimed already, for another view of this process
        if not conversation_id or self._broken or self._closed:
            return True  # nothing is written to it anyway
        try:
            import fcntl
        except ImportError:  # not a POSIX system: no claims, as before them
            return True
        path = self.path.with_name(self.path.name + ".claims") / str(conversation_id)
        for _ in range(3):
            try:
                path.parent.mkdir(mode=0o700, exist_ok=True)
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                return True  # a claim that cannot be made must not stop the chat
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                return False
            # A releaser unlinks the file while it holds the lock: a lock taken on a file
            # already unlinked is no claim, and the next try makes the file anew.
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except OSError:
                same = False
            if same:
                self._claims[conversation_id] = fd
                return True
            os.close(fd)
        return True  # files that keep vanishing: let the chat go on

    def release(self, conversation_id: int) -> None:
        fd = self._claims.pop(conversation_id, None)
        if fd is not None:
            # Unlinked while still locked, so no file is left per conversation ever opened.
            path = self.path.with_name(self.path.name + ".claims") / str(conversation_id)
            with suppress(OSError):
                path.unlink()
            os.close(fd)  # closing the descriptor drops the lock

    def resume_or_start(
        self, base_url: str, chatbot_id: str, *, bot_name: str | None = None
    ) -> int:
        """The conversation last started for this bot, started if there is none (atomically).
        For tests and benchmarks that need a conversation; the core chooses by thread."""
        with self._writing() as db:
            if db is None:
                return 0
            row = db.execute(
                "SELECT id FROM conversations WHERE base_url = ? AND chatbot_id = ? AND live = 1 "
                "ORDER BY id DESC LIMIT 1",
                (base_url, chatbot_id),
            ).fetchone()
            if row is not None:
                if bot_name:
                    db.execute(
                        "UPDATE conversations SET bot_name = ? WHERE id = ?", (bot_name, row[0])
                    )
                return int(row[0])
            now = _now()
            cursor = db.execute(
                "INSERT INTO conversations "
                "(base_url, chatbot_id, bot_name, live, started_at, updated_at) "
                "VALUES (?, ?, ?, 1, ?, ?)",
                (base_url, chatbot_id, bot_name, now, now),
            )
            return int(cursor.lastrowid or 0)
        return 0

    def set_bot_name(self, conversation_id: int, bot_name: str) -> None:
        """The bot's display name, once the app has read it from the config."""
        with self._writing() as db:
            if db is not None:
                db.execute(
                    "UPDATE conversations SET bot_name = ? WHERE id = ?",
                    (bot_name, conversation_id),
                )

    def record_user_turn(self, conversation_id: int, text: str) -> int:
        """Store what the user typed, committed before it is sent. The row id (0 if not saved)."""
        with self._writing() as db:
            if db is None:
                return 0
            now = _now()
            cursor = db.execute(
                "INSERT INTO messages "
                "(conversation_id, role, status, text, created_at, updated_at) "
                "VALUES (?, 'user', ?, ?, ?, ?)",
                (conversation_id, USER_SENT, text, now, now),
            )
            db.execute(
                "UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id)
            )
            return int(cursor.lastrowid or 0)
        return 0

    def begin_reply(self, conversation_id: int, *, reply_to: int | None = None) -> Recorder:
        """The reply's row, committed at once with status `incomplete`: a kill leaves it so."""
        with self._writing() as db:
            if db is not None:
                now = _now()
                cursor = db.execute(
                    "INSERT INTO messages "
                    "(conversation_id, role, status, text, reply_to, created_at, updated_at) "
                    "VALUES (?, 'assistant', 'incomplete', '', ?, ?, ?)",
                    (conversation_id, reply_to or None, now, now),
                )
                return ReplyRecorder(self, int(cursor.lastrowid or 0), conversation_id)
        return NullRecorder()

    def _write_reply_text(self, row_id: int, text: str) -> bool:
        """The streamed text so far. A database busy past the timeout skips this write, no other."""
        with self._writing(skippable=True) as db:
            if db is None:
                return False
            db.execute(
                "UPDATE messages SET text = ?, updated_at = ? WHERE id = ?", (text, _now(), row_id)
            )
            return True
        return False

    def _finish_reply(
        self,
        row_id: int,
        conversation_id: int,
        outcome: str,
        text: str,
        message: Message | None,
        error: DialogError | None,
        figures: dict[str, Any] | None,
    ) -> None:
        with self._writing() as db:
            if db is None:
                return
            now = _now()
            db.execute(
                "UPDATE messages SET status = ?, text = ?, parts_json = ?, message_id = ?, "
                "error_json = ?, figures_json = ?, updated_at = ? WHERE id = ?",
                (
                    outcome,
                    text,
                    _encode_parts(message.parts) if message is not None else None,
                    (message.message_id or None) if message is not None else None,
                    msgspec.json.encode(StoredError.from_error(error)).decode()
                    if error is not None
                    else None,
                    msgspec.json.encode(figures).decode() if figures is not None else None,
                    now,
                    row_id,
                ),
            )
            db.execute(
                "UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id)
            )

    # -- reading ---------------------------------------------------------------------------

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            if self._closed:
                raise StoreError("The transcript database is closed.")
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                aside = self._set_aside_if_damaged(exc)
                if aside is not None:
                    raise StoreError(
                        f"The transcript database is damaged ({_describe(exc)}). It was moved "
                        f"to {aside}, never deleted; the next run starts a new one."
                    ) from None
                raise StoreError(
                    f"The transcript database could not be read ({_describe(exc)})."
                ) from None

    def conversations(
        self,
        *,
        base_url: str | None = None,
        chatbot_id: str | None = None,
        limit: int | None = None,
        include_empty: bool = False,
    ) -> list[ConversationSummary]:
        """Newest activity first. Conversations without a message are left out unless asked for."""
        return self._summaries(
            base_url=base_url, chatbot_id=chatbot_id, limit=limit, include_empty=include_empty
        )

    def conversation(self, conversation_id: int) -> ConversationSummary | None:
        found = self._summaries(conversation_id=conversation_id, include_empty=True)
        return found[0] if found else None

    def _summaries(
        self,
        *,
        conversation_id: int | None = None,
        base_url: str | None = None,
        chatbot_id: str | None = None,
        limit: int | None = None,
        include_empty: bool = False,
    ) -> list[ConversationSummary]:
        where: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("c.id", conversation_id),
            ("c.base_url", base_url),
            ("c.chatbot_id", chatbot_id),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if not include_empty:
            where.append("EXISTS (SELECT 1 FROM messages AS m WHERE m.conversation_id = c.id)")
        sql = (
            "SELECT c.id, c.base_url, c.chatbot_id, c.bot_name, c.live, c.started_at, "
            "c.updated_at, "
            "(SELECT count(*) FROM messages AS m "
            "WHERE m.conversation_id = c.id AND m.role = 'user'), "
            "(SELECT count(*) FROM messages AS m WHERE m.conversation_id = c.id), "
            "l.role, l.text, l.status "
            "FROM conversations AS c "
            "LEFT JOIN messages AS l ON l.id = "
            "(SELECT max(m.id) FROM messages AS m WHERE m.conversation_id = c.id)"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY c.updated_at DESC, c.id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [
            ConversationSummary(
                id=int(r[0]),
                base_url=r[1],
                chatbot_id=r[2],
                bot_name=r[3],
                live=bool(r[4]),
                started_at=r[5],
                updated_at=r[6],
                turns=int(r[7]),
                messages=int(r[8]),
                last_role=r[9],
                last_text=r[10] or "",
                last_status=r[11],
            )
            for r in self._read(sql, tuple(params))
        ]

    def messages(self, conversation_id: int) -> list[StoredMessage]:
        rows = self._read(
            "SELECT id, conversation_id, role, status, text, parts_json, message_id, "
            "created_at, updated_at, error_json, figures_json, reply_to "
            "FROM messages WHERE conversation_id = ? ORDER BY id",
            (conversation_id,),
        )
        return [
            StoredMessage(
                id=int(r[0]),
                conversation_id=int(r[1]),
                role=r[2],
                status=r[3],
                text=r[4] or "",
                parts=_decode_parts(r[5]),
                message_id=r[6],
                created_at=r[7],
                updated_at=r[8],
                error=_decode_error(r[9]),
                figures=_decode_dict(r[10]),
                reply_to=r[11],
            )
            for r in rows
        ]

    # -- export and import -------------------------------------------------------------------

    def _require(self, conversation_id: int) -> ConversationSummary:
        summary = self.conversation(conversation_id)
        if summary is None:
            raise StoreError(
                f"There is no saved conversation {conversation_id}. See `dialogtui history`."
            )
        return summary

    def export_json(self, conversation_id: int) -> dict[str, Any]:
        """The conversation as plain data (see `dumps_json` to write it safely)."""
        summary = self._require(conversation_id)
        rows = self.messages(conversation_id)
        index_of = {row.id: i for i, row in enumerate(rows)}
        return {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "conversation": {
                "id": summary.id,
                "base_url": summary.base_url,
                "chatbot_id": summary.chatbot_id,
                "bot_name": summary.bot_name,
                "started_at": summary.started_at,
                "updated_at": summary.updated_at,
            },
            "messages": [
                {
                    "role": row.role,
                    "status": row.status,
                    "text": row.text,
                    "parts": [_wire_part(p) for p in row.parts] if row.parts is not None else None,
                    "message_id": row.message_id,
                    "created_at": row.created_at,
                    "updated_at": row.updated_at,
                    "error": msgspec.to_builtins(row.error) if row.error is not None else None,
                    "figures": row.figures,
                    "reply_to": index_of.get(row.reply_to) if row.reply_to is not None else None,
                }
                for row in rows
            ],
        }

    def import_json(self, data: Any) -> int:
        """Add an exported conversation as a new, not-live one; its id. Raises `StoreError`."""
        try:
            doc = msgspec.convert(data, _ExportDoc)
        except msgspec.ValidationError as exc:
            raise StoreError(f"Not a dialogtui transcript export: {exc}.") from None
        if doc.format != EXPORT_FORMAT or doc.version > EXPORT_VERSION:
            raise StoreError("Not a dialogtui transcript export this version can read.")
        new_ids: list[int] = []
        with self._writing() as db:
            if db is None:
                raise StoreError(self.warning or "Saving is off.")
            conv = doc.conversation
            cursor = db.execute(
                "INSERT INTO conversations "
                "(base_url, chatbot_id, bot_name, live, started_at, updated_at) "
                "VALUES (?, ?, ?, 0, ?, ?)",
                (conv.base_url, conv.chatbot_id, conv.bot_name, conv.started_at, conv.updated_at),
            )
            conversation_id = int(cursor.lastrowid or 0)
            for m in doc.messages:
                reply_to = (
                    new_ids[m.reply_to]
                    if m.reply_to is not None and 0 <= m.reply_to < len(new_ids)
                    else None
                )
                parts = (
                    _encode_parts([to_part(p) for p in m.parts]) if m.parts is not None else None
                )
                cursor = db.execute(
                    "INSERT INTO messages "
                    "(conversation_id, role, status, text, parts_json, message_id, "
                    "error_json, figures_json, reply_to, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        conversation_id,
                        m.role,
                        m.status,
                        m.text,
                        parts,
                        m.message_id,
                        msgspec.json.encode(m.error).decode() if m.error is not None else None,
                        msgspec.json.encode(_figures_dict(m.figures)).decode()
                        if m.figures is not None
                        else None,
                        reply_to,
                        m.created_at,
                        m.updated_at,
                    ),
                )
                new_ids.append(int(cursor.lastrowid or 0))
            return conversation_id
        raise StoreError(self.warning or "The conversation could not be imported.")

    def export_markdown(self, conversation_id: int) -> str:
        return render_markdown(self._require(conversation_id), self.messages(conversation_id))


def _rollback(db: sqlite3.Connection) -> None:
    with suppress(sqlite3.Error):
        db.execute("ROLLBACK")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, StoreError):
        return exc.safe_message
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    if isinstance(exc, sqlite3.Error):
        return str(exc) or type(exc).__name__  # SQLite's own text names no content
    return type(exc).__name__


# ---------------------------------------------------------------------------------------------
# Opening the file


def _prepare_file(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # created private; an existing file is kept
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
    except OSError:
        pass
    finally:
        os.close(fd)


_SQLITE_HEADER: Final = b"SQLite format 3\x00"


def _open_db(path: Path) -> tuple[sqlite3.Connection, bool]:
    """Connect, configure, migrate and check; also whether the file is read-only.
    `_BadFile` for a file to move aside."""
    try:
        _prepare_file(path)
    except PermissionError as exc:
        if path.exists():
            # A healthy file one may not write (chmod, a read-only mount) is not damaged:
            # it is read as it is, and nothing new is saved.
            return _open_read_only(path), True
        raise StoreError(
            f"The transcript database cannot be created in {path.parent} ({_describe(exc)})."
        ) from None
    except OSError as exc:
        raise StoreError(
            f"The transcript database cannot be created in {path.parent} ({_describe(exc)})."
        ) from None
    identity = _identity(path)
    # Checked before SQLite opens it: SQLite would delete the WAL file beside a bad main file.
    try:
        with open(path, "rb") as fh:
            header = fh.read(len(_SQLITE_HEADER))
    except OSError as exc:
        bad = _BadFile("it cannot be read")
        bad.identity = identity
        raise bad from exc
    if header and header != _SQLITE_HEADER:
        bad = _BadFile("it is not a database")
        bad.identity = identity
        raise bad
    try:
        db = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise StoreError(
            f"The transcript database could not be opened ({_describe(exc)})."
        ) from None
    try:
        _prepare_connection(db)
    except sqlite3.DatabaseError as exc:
        db.close()
        if _is_busy(exc):
            raise StoreError(
                "The transcript database is busy (another dialogtui holds it); nothing is saved."
            ) from None
        if _primary_code(exc) in (_SQLITE_CANTOPEN, _SQLITE_READONLY, _SQLITE_PERM):
            # The file could be opened but not written beside (a read-only directory holds no
            # log): a healthy database is read as it is, not taken for a damaged one.
            try:
                return _open_read_only(path), True
            except StoreError:
                pass
        if _primary_code(exc) in _BAD_FILE_CODES or type(exc) is sqlite3.DatabaseError:
            bad = _BadFile(_bad_reason(exc))
            bad.identity = identity
            raise bad from exc
        raise StoreError(
            f"The transcript database could not be opened ({_describe(exc)})."
        ) from None
    except _BadFile as bad:
        db.close()
        bad.identity = identity
        raise
    except BaseException:
        db.close()
        raise
    return db, False


def _open_read_only(path: Path) -> sqlite3.Connection:
    """A database this process may read but not write: opened read-only, never migrated.

    `_BadFile` if it is not a transcript database at all; `StoreError` if it is one that
    cannot be read without writing (an older schema, a write-ahead log it cannot share).
    """
    identity = _identity(path)
    try:
        with open(path, "rb") as fh:
            header = fh.read(len(_SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(
            f"The transcript database {path} can be neither written nor read "
            f"({_describe(exc)}); nothing is saved."
        ) from None
    if header != _SQLITE_HEADER:
        bad = _BadFile("it is not a database")
        bad.identity = identity
        raise bad
    try:
        return _read_only_connection(path, identity, "mode=ro")
    except _NeedsSharedMemory:
        # A write-ahead-log database needs its shared-memory file, which a read-only directory
        # cannot hold. With no log file beside it, the main file is the whole database, and no
        # one can write it in WAL mode there: reading it as immutable is then exact.
        if path.with_name(path.name + "-wal").exists():
            raise StoreError(
                f"The transcript database {path} is read-only, and its write-ahead log cannot "
                "be read without writing; nothing is saved."
            ) from None
        return _read_only_connection(path, identity, "mode=ro&immutable=1")


class _NeedsSharedMemory(Exception):
    """A read-only open failed for want of the WAL's shared-memory file."""


def _read_only_connection(
    path: Path, identity: tuple[int, int] | None, options: str
) -> sqlite3.Connection:
    try:
        db = sqlite3.connect(
            f"{path.resolve().as_uri()}?{options}",
            uri=True,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
    except sqlite3.Error as exc:
        raise StoreError(
            f"The transcript database {path} is read-only and could not be opened "
            f"({_describe(exc)}); nothing is saved."
        ) from None
    try:
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        version = _user_version(db)
        if version != SCHEMA_VERSION:
            newer = version > SCHEMA_VERSION
            raise StoreError(
                f"The transcript database {path} is read-only and was written by "
                f"{'a newer' if newer else 'an older'} version of dialogtui, so it cannot be "
                "read as it is; nothing is saved."
            )
        _check_schema(db)
        db.execute("SELECT count(*) FROM conversations").fetchone()
    except _BadFile as bad:
        db.close()
        bad.identity = identity
        raise
    except sqlite3.Error as exc:
        db.close()
        code = _primary_code(exc)
        if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
            damaged = _BadFile(_bad_reason(exc))
            damaged.identity = identity
            raise damaged from exc
        # SQLITE_READONLY_DIRECTORY, or SQLITE_CANTOPEN in older SQLite versions.
        if code in (_SQLITE_CANTOPEN, _SQLITE_READONLY) and "immutable" not in options:
            raise _NeedsSharedMemory() from exc
        raise StoreError(
            f"The transcript database {path} is read-only and could not be read "
            f"({_describe(exc)}); nothing is saved."
        ) from None
    except BaseException:
        db.close()
        raise
    return db


def _prepare_connection(db: sqlite3.Connection) -> None:
    """Pragmas, WAL, migrations and the schema check, retried while another process holds a lock.

    SQLite answers some lock conflicts with SQLITE_BUSY at once instead of calling the busy
    handler (switching a fresh file to WAL while another process does the same, to avoid a
    deadlock). Every step here is idempotent, so the whole is simply tried again.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if str(db.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
            migrate(db)
            _check_schema(db)
            return
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _bad_reason(exc: sqlite3.Error) -> str:
    code = _primary_code(exc)
    if code == _SQLITE_NOTADB:
        return "it is not a database"
    if code == _SQLITE_CORRUPT:
        return "it is damaged"
    return "it cannot be read or written"


def _move_aside(path: Path, bad: _BadFile) -> Path | None:
    """Rename the bad file (and its WAL and shared-memory files) to `<name>.corrupt-<UTC time>`.

    None if the file is no longer the one found bad: another process moved it first.
    """
    if bad.identity is not None and _identity(path) != bad.identity:
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while aside.exists():
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return None  # another process moved it first; its fresh file is the one to use
    except OSError as exc:
        raise StoreError(
            f"The transcript database could not be used ({bad.reason}) "
            f"and could not be moved aside ({_describe(exc)}); nothing is saved."
        ) from None
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        with suppress(OSError):
            os.rename(side, aside.with_name(aside.name + suffix))
    return aside


# ---------------------------------------------------------------------------------------------
# Recording a reply


class ReplyRecorder:
    """Writes one streaming reply: `update` per delta (cheap), then `finish` once."""

    def __init__(
        self,
        store: TranscriptStore,
        row_id: int,
        conversation_id: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self.row_id = row_id
        self.conversation_id = conversation_id
        self._clock = clock
        self._interval = store.flush_interval
        self._last_write = float("-inf")
        self._supplier: TextSupplier | None = None
        self._pending = False
        self.finished = False
        self.writes = 0
        """Text writes made while streaming (for benchmarks and tests)."""

    def update(self, text_supplier: TextSupplier) -> None:
        """Note that the text changed. Writes at most every `flush_interval`, asking the supplier
        for the text only then."""
        if self.finished:
            return
        self._supplier = text_supplier
        now = self._clock()
        if now - self._last_write < self._interval:
            self._pending = True
            return
        self._last_write = now
        self._pending = False
        if self._store._write_reply_text(self.row_id, text_supplier()):
            self.writes += 1

    def flush(self) -> None:
        """Write a pending update now (for a timer while the stream is quiet)."""
        if self._pending and self._supplier is not None and not self.finished:
            self._last_write = float("-inf")
            self.update(self._supplier)

    def finish(
        self,
        outcome: str,
        *,
        message: Message | None = None,
        error: DialogError | None = None,
        figures: Any = None,
        text: str | None = None,
    ) -> None:
        """The final write. `text` defaults to the done message's text, else the last supplier's."""
        if self.finished:
            return
        self.finished = True
        outcome = Outcome.settled(outcome, failed=error is not None)
        if text is None:
            if message is not None:
                text = plain_text(message.parts)
            elif self._supplier is not None:
                text = self._supplier()
            else:
                text = ""
        self._store._finish_reply(
            self.row_id,
            self.conversation_id,
            outcome,
            text,
            message if outcome is Outcome.DONE else None,
            error,
            _figures_dict(figures),
        )

    def __enter__(self) -> ReplyRecorder:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        if not self.finished:
            cancelled = exc_type is not None and not issubclass(exc_type, Exception)
            self.finish(Outcome.CANCELLED if cancelled else Outcome.INCOMPLETE)


class NullRecorder:
    """A recorder that records nothing."""

    row_id = 0
    conversation_id = 0
    writes = 0
    finished = False

    def update(self, text_supplier: TextSupplier) -> None:
        pass

    def flush(self) -> None:
        pass

    def finish(
        self,
        outcome: str,
        *,
        message: Message | None = None,
        error: DialogError | None = None,
        figures: Any = None,
        text: str | None = None,
    ) -> None:
        self.finished = True

    def __enter__(self) -> NullRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class NullStore:
    """Same interface as `TranscriptStore`; writes nothing, lists nothing. For `--no-save`."""

    saving = False
    path: Path | None = None
    flush_interval = FLUSH_INTERVAL

    def __init__(self, *, warning: str | None = None) -> None:
        self.warning = warning
        self.on_warning: Callable[[str], None] | None = None

    @property
    def status_note(self) -> str:
        return (
            "Not saving: transcript database unavailable"
            if self.warning
            else "Not saving this conversation"
        )

    def close(self) -> None:
        pass

    def __enter__(self) -> NullStore:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def live_conversation(self, base_url: str, chatbot_id: str) -> int | None:
        return None

    def start_conversation(
        self,
        base_url: str,
        chatbot_id: str,
        *,
        bot_name: str | None = None,
        thread: str | None = None,
    ) -> int:
        return 0

    def thread_conversations(self, base_url: str, chatbot_id: str, thread: str) -> list[int]:
        return []

    def bind_thread(self, conversation_id: int, thread: str | None) -> None:
        pass

    def move_messages(self, message_ids: list[int], conversation_id: int) -> None:
        pass

    def claim(self, conversation_id: int) -> bool:
        return True

    def release(self, conversation_id: int) -> None:
        pass

    def resume_or_start(
        self, base_url: str, chatbot_id: str, *, bot_name: str | None = None
    ) -> int:
        return 0

    def set_bot_name(self, conversation_id: int, bot_name: str) -> None:
        pass

    def record_user_turn(self, conversation_id: int, text: str) -> int:
        return 0

    def begin_reply(self, conversation_id: int, *, reply_to: int | None = None) -> NullRecorder:
        return NullRecorder()

    def conversations(
        self,
        *,
        base_url: str | None = None,
        chatbot_id: str | None = None,
        limit: int | None = None,
        include_empty: bool = False,
    ) -> list[ConversationSummary]:
        return []

    def conversation(self, conversation_id: int) -> ConversationSummary | None:
        return None

    def messages(self, conversation_id: int) -> list[StoredMessage]:
        return []

    def export_json(self, conversation_id: int) -> dict[str, Any]:
        raise StoreError(self.warning or "Saving is off: there are no saved conversations.")

    def export_markdown(self, conversation_id: int) -> str:
        raise StoreError(self.warning or "Saving is off: there are no saved conversations.")

    def import_json(self, data: Any) -> int:
        raise StoreError(self.warning or "Saving is off.")


Store = TranscriptStore | NullStore
Recorder = ReplyRecorder | NullRecorder


def write_private(path: Path, text: str) -> None:
    """A transcript is personal: a new file is created readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def open_store(
    *, no_save: bool = False, settings: Settings | None = None, path: Path | None = None
) -> Store:
    """The store for a command or the app. Never raises: problems come back as `store.warning`.

    Nothing is opened or created when saving is off (`--no-save`, or `save_transcripts = false`).
    """
    if no_save:
        return NullStore()
    if settings is None:
        from .config import ConfigError, load_settings

        try:
            settings = load_settings()
        except ConfigError:
            return NullStore(
                warning="The config file could not be read, so this conversation is not saved."
            )
    if not settings.save_transcripts:
        return NullStore()
    try:
        return TranscriptStore.open(path)
    except StoreError as exc:
        return NullStore(warning=exc.safe_message)
    except (sqlite3.Error, OSError) as exc:
        return NullStore(
            warning=f"The transcript database could not be opened ({_describe(exc)}); nothing "
            "is saved."
        )


def conversation_key(target: Target) -> tuple[str, str]:
    """(base_url, chatbot_id) under which a target's conversations are kept; demo runs: 'demo'."""
    base_url = DEMO_BASE_URL if target.environment == "demo" else target.base_url
    return base_url, target.chatbot_id


# ---------------------------------------------------------------------------------------------
# Export formats


class _ExportConversation(msgspec.Struct):
    base_url: str
    chatbot_id: str
    started_at: str
    updated_at: str
    bot_name: str | None = None
    id: int | None = None


class _ExportMessage(msgspec.Struct):
    role: str
    status: str
    text: str
    created_at: str
    updated_at: str
    parts: list[dict[str, Any]] | None = None
    message_id: str | None = None
    error: StoredError | None = None
    figures: dict[str, Any] | None = None
    reply_to: int | None = None


class _ExportDoc(msgspec.Struct):
    format: str
    version: int
    conversation: _ExportConversation
    messages: list[_ExportMessage]


# Characters a terminal or editor may act on: C0 (json escapes those itself), DEL, C1, bidi
# overrides and isolates, and the Unicode line/paragraph separators.
# DEL, C1, and the invisible format characters of `text` (bidi, zero-width, lone surrogates).
_JSON_UNSAFE: Final = re.compile(f"[\x7f-\x9f{FORMAT_CHARACTERS}]")


def dumps_json(data: Any, *, indent: int | None = 2) -> str:
    """JSON with every control character escaped: no raw control byte reaches a file or terminal.

    Escaping happens only inside strings (the only place such characters can be), so the
    document decodes to exactly the same data.
    """
    text = json.dumps(data, ensure_ascii=False, indent=indent)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


_STATUS_NOTE: Final[dict[str, str]] = {
    Outcome.INCOMPLETE: "Reply incomplete: it stopped before the end.",
    Outcome.CANCELLED: "Reply cancelled.",
    Outcome.ERROR: "Reply failed.",
}
_STATUS_PREFIX: Final[dict[str, str]] = {
    Outcome.INCOMPLETE: "Reply incomplete",
    Outcome.CANCELLED: "Reply cancelled",
    Outcome.ERROR: "Reply failed",
}


def _md_line(text: str) -> str:
    return sanitize_line(text).strip()


def _md_time(stamp: str) -> str:
    """'2024-05-01T12:00:03.123Z' -> '2024-05-01 12:00:03 UTC'."""
    if len(stamp) >= 19 and stamp.endswith("Z"):
        return _md_line(stamp[:19].replace("T", " ") + " UTC")
    return _md_line(stamp)


def render_markdown(summary: ConversationSummary, messages: list[StoredMessage]) -> str:
    """Readable Markdown; every piece of text passes `sanitize`, so no control characters remain."""
    bot = _md_line(summary.title) or "Assistant"
    sections = [
        "\n".join(
            [
                f"# Conversation {summary.id} with {bot}",
                "",
                f"- Bot: `{_md_line(summary.chatbot_id)}` on {_md_line(summary.environment)}",
                f"- Started: {_md_time(summary.started_at)}",
                f"- Last activity: {_md_time(summary.updated_at)}",
                f"- Turns: {summary.turns}",
            ]
        )
    ]
    for message in messages:
        label = plaintext.role_label(message.role, bot)
        section = [f"## {label} · {_md_time(message.created_at)}"]
        body = markdown_parts(message.parts) if message.parts else sanitize(message.text).strip()
        if body:
            section.append(body)
        if message.role != "user":
            if message.error is not None:
                prefix = _STATUS_PREFIX.get(message.status, "Error")
                section.append(f"> {prefix}: {_md_error(message.error)}")
            elif message.status in _STATUS_NOTE:
                section.append(f"> {_STATUS_NOTE[message.status]}")
        sections.append("\n\n".join(section))
    return "\n\n".join(sections) + "\n"


def _md_error(error: StoredError) -> str:
    facts = [error.kind]
    if error.status is not None:
        facts.append(str(error.status))
    if error.code:
        facts.append(error.code)
    if error.request_id:
        facts.append(f"request {error.request_id}")
    facts.append("retryable" if error.retryable else "not retryable")
    return _md_line(f"{error.message} ({', '.join(facts)})")


def _md_spans(spans: list[Span]) -> str:
    kept = [span for span in spans if span.type in ("text", "bold", "strike", "link")]
    out: list[str] = []
    # Sanitized as one text, then marked up: an emoji sequence split between a plain and a
    # bold span keeps its joiner, a CR LF split between two spans is one line end.
    for span, text in zip(kept, sanitize_pieces([span.text for span in kept]), strict=True):
        if span.type == "bold" and text.strip():
            out.append(f"**{text}**")
        elif span.type == "strike" and text.strip():
            out.append(f"~~{text}~~")
        elif span.type == "link" and span.url:
            url = _md_line(span.url)
            out.append(f"[{text or url}](<{url}>)")  # a link with no text reads as its URL
        else:
            out.append(text)
    return "".join(out)


def _md_blocks(blocks: list[Block]) -> str:
    out: list[str] = []
    for block in blocks:
        if block.type == "paragraph":
            out.append(_md_spans(block.spans))
        elif block.type == "bullet_list":
            out.append("\n".join(f"- {_md_spans(item.spans)}" for item in block.items))
    return "\n\n".join(chunk for chunk in out if chunk)


def _md_cell(cell: Any) -> str:
    # Images in cells read '[image: alt] url', never a data: URL.
    return _md_line(plaintext.cell_text(cell)).replace("|", "\\|")


def markdown_parts(parts: list[Part]) -> str:
    """Parts as Markdown (also what the app copies to the clipboard)."""
    chunks: list[str] = []
    for part in parts:
        chunks.append(_markdown_part(part))
    return "\n\n".join(chunk for chunk in chunks if chunk).strip()


def _markdown_part(part: Part) -> str:
    if isinstance(part, TextPart):
        return sanitize(part.text)
    if isinstance(part, RichTextPart):
        return _md_blocks(part.blocks)
    if isinstance(part, ProductsPart):
        # The card's words (price, struck old price, discount, badge, links) from plaintext,
        # which also writes them for send, run and history.
        return "\n".join(plaintext.product_markdown(p) for p in part.products)
    if isinstance(part, SuggestionsPart):
        return "\n".join(f"- → {_md_line(s.title or s.prompt_text)}" for s in part.suggestions)
    if isinstance(part, QuickRepliesPart):
        return "\n".join(f"- → {_md_line(r)}" for r in part.replies)
    if isinstance(part, TablePart):
        if not part.headers:
            return ""
        rows = [
            "| " + " | ".join(_md_cell(h) for h in part.headers) + " |",
            "|" + "---|" * len(part.headers),
        ]
        rows += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in part.rows]
        if part.caption:
            rows.append(f"\n*{_md_line(part.caption)}*")
        return "\n".join(rows)
    if isinstance(part, (ImagePart, FilePart)):
        # Kind, name, type, size and expiry; a `data:` URL is described, never dumped.
        head, _, url = plaintext.attachment_text(part).partition("\n")
        return f"{head}\n<{_md_line(url.strip())}>" if url else head
    if isinstance(part, (ContactFormPart, FormPart, SupportTicketPart)):
        return f"*{_md_line(plaintext.marker_text(part))}*"
    if isinstance(part, HumanAgentPart):
        return f"*{_md_line(plaintext.part_text(part))}*"
    if isinstance(part, ImageUploadPart):
        return f"*{_md_line(plaintext.upload_prompt_text(part))}*"
    if isinstance(part, UnknownPart):
        return f"*[unsupported content: {_md_line(part.type)}]*"
    return ""
