"""Durable session state: next sequence numbers and outgoing application messages for resend.

Two implementations of one small interface: :class:`SqliteStore` (stdlib sqlite3, WAL) for
the gateway, :class:`MemoryStore` for tests.

Why writes are buffered: a commit per message would cap throughput at the disk's fsync rate.
Mutations are kept in memory and :meth:`commit` writes them in one transaction. The transport
calls ``commit()`` once per event-loop turn *before* it writes that turn's bytes to any
socket, so whatever the counterparty has seen is on disk first: after a crash no acknowledged
message is lost and no sequence number is reused. Reads (a resend) see pending writes.

The SQLite file is shared with other components (the OMS journal): they use their own
connection and their own tables; this store never holds a transaction open between turns.
"""
from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SeqState:
    next_sender: int
    next_target: int
    created: float  # epoch seconds of the last reset (the session "creation time")


class SessionStore(Protocol):
    def load(self, key: str) -> SeqState: ...

    def set_seqnums(self, key: str, next_sender: int, next_target: int) -> None: ...

    def save_message(self, key: str, seq: int, raw: bytes) -> None: ...

    def messages(self, key: str, begin: int, end: int) -> list[tuple[int, bytes]]: ...

    def reset(self, key: str, now: float) -> SeqState: ...

    def commit(self) -> None: ...

    def close(self) -> None: ...


class MemoryStore:
    """In-memory store for tests (same semantics, nothing survives the process)."""

    def __init__(self) -> None:
        self._seq: dict[str, SeqState] = {}
        self._msgs: dict[str, dict[int, bytes]] = {}
        self.commits = 0

    def load(self, key: str) -> SeqState:
        return self._seq.setdefault(key, SeqState(1, 1, time.time()))

    def set_seqnums(self, key: str, next_sender: int, next_target: int) -> None:
        created = self.load(key).created
        self._seq[key] = SeqState(next_sender, next_target, created)

    def save_message(self, key: str, seq: int, raw: bytes) -> None:
        self._msgs.setdefault(key, {})[seq] = raw

    def messages(self, key: str, begin: int, end: int) -> list[tuple[int, bytes]]:
        stored = self._msgs.get(key, {})
        return sorted((s, m) for s, m in stored.items() if begin <= s <= end)

    def reset(self, key: str, now: float) -> SeqState:
        self._msgs.pop(key, None)
        state = self._seq[key] = SeqState(1, 1, now)
        return state

    def commit(self) -> None:
        self.commits += 1

    def close(self) -> None:
        pass


_SCHEMA = """
CREATE TABLE IF NOT EXISTS fix_session (
    session_key TEXT PRIMARY KEY,
    next_sender INTEGER NOT NULL,
    next_target INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS fix_outgoing (
    session_key TEXT NOT NULL,
    seq INTEGER NOT NULL,
    raw BLOB NOT NULL,
    PRIMARY KEY (session_key, seq)
) WITHOUT ROWID;
"""


_SAVE_MESSAGE = "INSERT OR REPLACE INTO fix_outgoing(session_key, seq, raw) VALUES (?, ?, ?)"
# An upsert, not INSERT OR REPLACE: REPLACE deletes and re-inserts the row under a new rowid,
# dirtying the primary-key index page too; the upsert rewrites only the table row in place, so
# each commit writes one page fewer to the WAL.
_SAVE_SEQNUMS = ("INSERT INTO fix_session(session_key, next_sender, next_target, created) "
                 "VALUES (?, ?, ?, ?) ON CONFLICT(session_key) DO UPDATE SET "
                 "next_sender=excluded.next_sender, next_target=excluded.next_target, "
                 "created=excluded.created")


class SqliteStore:
    """SQLite (WAL) store; see the module docstring for the batching contract."""

    def __init__(self, path: str | Path, synchronous: str = "normal") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        # Small pages (only effective when this store creates the file): every commit rewrites
        # whole pages into the WAL, and a commit per event-loop turn touches two or three.
        self._db.execute("PRAGMA page_size=1024")
        self._db.execute("PRAGMA journal_mode=WAL")
        sync = synchronous.upper()
        if sync not in ("NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"store.synchronous must be normal or full, not {synchronous!r}")
        self._db.execute(f"PRAGMA synchronous={sync}")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        self._synchronous = sync
        self._checkpointer: threading.Thread | None = None
        self._stop_checkpoints = threading.Event()
        self._seq: dict[str, SeqState] = {}
        self._dirty_seq: set[str] = set()
        self._pending_msgs: list[tuple[str, int, bytes]] = []
        self._pending_resets: list[str] = []
        self.commits = 0
        self._closed = False

    def load(self, key: str) -> SeqState:
        state = self._seq.get(key)
        if state is None:
            row = self._db.execute(
                "SELECT next_sender, next_target, created FROM fix_session WHERE session_key=?",
                (key,)).fetchone()
            if row is None:
                state = SeqState(1, 1, time.time())
                self._dirty_seq.add(key)
            else:
                state = SeqState(int(row[0]), int(row[1]), float(row[2]))
            self._seq[key] = state
        return state

    def set_seqnums(self, key: str, next_sender: int, next_target: int) -> None:
        old = self._seq.get(key) or self.load(key)
        if old.next_sender != next_sender or old.next_target != next_target:
            self._seq[key] = SeqState(next_sender, next_target, old.created)
            self._dirty_seq.add(key)

    def save_message(self, key: str, seq: int, raw: bytes) -> None:
        self._pending_msgs.append((key, seq, raw))

    def messages(self, key: str, begin: int, end: int) -> list[tuple[int, bytes]]:
        self.commit()
        rows = self._db.execute(
            "SELECT seq, raw FROM fix_outgoing WHERE session_key=? AND seq BETWEEN ? AND ? "
            "ORDER BY seq", (key, begin, end)).fetchall()
        return [(int(s), bytes(r)) for s, r in rows]

    def reset(self, key: str, now: float) -> SeqState:
        self._pending_msgs = [m for m in self._pending_msgs if m[0] != key]
        self._pending_resets.append(key)
        state = self._seq[key] = SeqState(1, 1, now)
        self._dirty_seq.add(key)
        return state

    @property
    def dirty(self) -> bool:
        return bool(self._dirty_seq or self._pending_msgs or self._pending_resets)

    def commit(self) -> None:
        if self._closed:
            return
        if not (self._dirty_seq or self._pending_msgs or self._pending_resets):
            return
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for key in self._pending_resets:
                db.execute("DELETE FROM fix_outgoing WHERE session_key=?", (key,))
            pending = self._pending_msgs
            if len(pending) == 1:   # the common case at low rates: skip executemany's overhead
                db.execute(_SAVE_MESSAGE, pending[0])
            elif pending:
                db.executemany(_SAVE_MESSAGE, pending)
            for key in self._dirty_seq:
                state = self._seq[key]
                db.execute(_SAVE_SEQNUMS, (key, state.next_sender, state.next_target,
                                           state.created))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._pending_resets.clear()
        self._pending_msgs.clear()
        self._dirty_seq.clear()
        self.commits += 1

    def start_background_checkpoints(self, interval_s: float = 1.0) -> None:
        """Move WAL checkpoints (the only fsyncs in ``synchronous=normal``) off the event loop.

        SQLite normally checkpoints inside whichever commit crosses 1000 WAL pages, which puts
        a multi-millisecond fsync on the latency path of one unlucky message. Here the store's
        own connection never checkpoints; a daemon thread with its own connection does it
        every ``interval_s`` (sqlite3 releases the GIL while it works)."""
        if self._checkpointer is not None:
            return
        self._db.execute("PRAGMA wal_autocheckpoint=0")
        thread = threading.Thread(target=self._checkpoint_loop, args=(interval_s,),
                                  name="fixgw-store-checkpoint", daemon=True)
        self._checkpointer = thread
        thread.start()

    def _checkpoint_loop(self, interval_s: float) -> None:
        db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA busy_timeout=1000")
            db.execute(f"PRAGMA synchronous={self._synchronous}")
            while not self._stop_checkpoints.wait(interval_s):
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    pass  # busy: try again next interval
        finally:
            db.close()

    def close(self) -> None:
        if self._closed:
            return
        try:
            self.commit()
        finally:
            self._closed = True
            if self._checkpointer is not None:
                self._stop_checkpoints.set()
                self._checkpointer.join(5)
                self._checkpointer = None
                try:
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                except sqlite3.Error:
                    pass
            self._db.close()
