"""Durable session state: next sequence numbers and outgoing application messages for resend.

Two implementations of one small interface: :class:`SqliteStore` (stdlib sqlite3, WAL) for
the gateway, :class:`MemoryStore` for tests.

Why writes are buffered: a commit per message would cap throughput at the disk's fsync rate.
Mutations are kept in memory and :meth:`commit` makes them durable at once. The transport
calls ``commit()`` once per event-loop turn *before* it writes that turn's bytes to any
socket, so whatever the counterparty has seen is durable first: after a crash no acknowledged
message is lost and no sequence number is reused. Reads (a resend) see pending writes.

In the gateway a commit is one append to the store journal (:mod:`fixgw.session.store_journal`)
and a writer thread moves the records into the SQLite tables: a lone message pays about a
tenth of an SQLite transaction's cost (``python scripts/bench_store.py``). The tables are what
everything reads.

The SQLite file is shared with other components (the OMS journal): they use their own
connection and their own tables; this store never holds a transaction open between turns.
"""
from __future__ import annotations

import fcntl
import functools
import itertools
import logging
import os
import sqlite3
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from fixgw.session.store_journal import (Batch, JournalFile, SeqnumTuple, encode_turn,
                                         journal_files, read_journal)

log = logging.getLogger("fixgw.store")


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


_ROWS_PER_INSERT = 256

# One committed turn as the writer thread gets it: resets, messages, sequence-number tuples.
Turn = tuple[list[str], list[tuple[str, int, bytes]], list[SeqnumTuple]]


@functools.lru_cache(maxsize=64)
def _save_messages_sql(rows: int) -> str:
    """One INSERT for up to :data:`_ROWS_PER_INSERT` messages.

    Why not ``executemany``: sqlite3 takes and releases the GIL around every row's step, and
    this runs on the store's writer thread, so each of those hand-overs can make the event
    loop wait for the GIL while it has a message to answer. One statement per chunk steps
    once."""
    return ("INSERT OR REPLACE INTO fix_outgoing(session_key, seq, raw) VALUES "
            + ",".join(["(?,?,?)"] * rows))

# An upsert, not INSERT OR REPLACE: REPLACE deletes and re-inserts the row under a new rowid,
# dirtying the primary-key index page too; the upsert rewrites only the table row in place, so
# each commit writes one page fewer to the WAL.
_SAVE_SEQNUMS = ("INSERT INTO fix_session(session_key, next_sender, next_target, created) "
                 "VALUES (?, ?, ?, ?) ON CONFLICT(session_key) DO UPDATE SET "
                 "next_sender=excluded.next_sender, next_target=excluded.next_target, "
                 "created=excluded.created")


class StoreInUse(RuntimeError):
    """Another process has the store open (two gateways on one state directory)."""


def _lock_exclusively(database: Path) -> int:
    """Hold ``<database>.lock`` for this process's lifetime (released by the kernel even on
    SIGKILL). Why: a second gateway started on the same state directory would otherwise apply
    and delete the running gateway's journal files before failing to listen."""
    lock_path = database.with_name(database.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise StoreInUse(f"the session store {database} is in use by another fixgw process "
                         f"(pid {holder}); one state_dir serves one gateway") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


class SqliteStore:
    """SQLite (WAL) store; see the module docstring for the batching contract.

    Two ways to make a commit durable:

    * inline (the default): ``commit()`` runs one SQLite transaction;
    * journaled, once :meth:`start_background_writer` has been called (the gateway does):
      ``commit()`` appends one record to the store journal (:mod:`fixgw.session.store_journal`,
      one copy into a memory-mapped file), and a writer thread applies the records to the
      tables in batches.

    Either way a store opened on a database whose journal holds records (a process killed
    before its writer caught up) applies them before anything is read."""

    def __init__(self, path: str | Path, synchronous: str = "normal") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _lock_exclusively(self.path)
        try:
            self._open(synchronous)
        except BaseException:
            self.release_lock()
            raise

    def _open(self, synchronous: str) -> None:
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
        self._seq: dict[str, SeqState] = {}
        self._dirty_seq: set[str] = set()
        self._pending_msgs: list[tuple[str, int, bytes]] = []
        self._pending_resets: list[str] = []
        self.commits = 0
        self._closed = False
        # Journaled mode. _db_lock: whoever uses the connection (the writer thread, or the
        # event loop reading). Committed turns (resets, messages, seqnum tuples: the pending
        # lists as they were) reach the writer through _unapplied, a deque (append and popleft
        # are atomic): the event loop never waits for a lock the writer thread holds, since
        # that thread may be descheduled while holding it. A retired journal file is queued
        # after its last turn and deleted once that turn is applied.
        self._db_lock = threading.Lock()
        self._journal: JournalFile | None = None
        self._rotate_bytes = 4 << 20
        # Generations only grow (replay orders files by them); next() is atomic under the GIL,
        # and the writer thread prepares the next file in _spare_journal ahead of rotation.
        self._generations = itertools.count(0)
        self._spare_journal: JournalFile | None = None
        self._unapplied: deque[Turn | JournalFile] = deque()
        self._writer: threading.Thread | None = None
        self._stop_writer = False
        self._wake_writer = threading.Event()
        self._apply_interval_s = 0.1
        self._writer_due_at = 0.0
        self.replayed_records_from: list[Path] = []
        self._replay_journal_files()

    # ---------------------------------------------------------------- recovery
    def _replay_journal_files(self) -> None:
        files = journal_files(self.path)
        if not files:
            return
        merged = Batch()
        for index, (_, path) in enumerate(files):
            batch, clean = read_journal(path)
            merged.extend(batch)
            if not clean:
                level = logging.WARNING if index == len(files) - 1 else logging.ERROR
                log.log(level, "store journal %s: dropped a torn record at its end (written "
                        "by a process that died mid-write; it never reached a socket)", path)
        self._apply([(merged.resets, merged.messages,
                      [(e.key, e.next_sender, e.next_target, e.created)
                       for e in merged.seqnums.values()])])
        for _, path in files:
            path.unlink()
        self.replayed_records_from = [p for _, p in files]
        self._generations = itertools.count(files[-1][0] + 1)
        log.info("store: applied %d journaled message(s) and %d sequence-number update(s) "
                 "left by the previous process", len(merged.messages), len(merged.seqnums))

    # ---------------------------------------------------------------- SessionStore
    def load(self, key: str) -> SeqState:
        state = self._seq.get(key)
        if state is None:
            with self._db_lock:
                row = self._db.execute(
                    "SELECT next_sender, next_target, created FROM fix_session "
                    "WHERE session_key=?", (key,)).fetchone()
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
        """Stored messages in ``[begin, end]``; sees every write made so far (a resend is rare,
        so it waits for the writer rather than merging the journal's batches)."""
        self.commit()
        with self._db_lock:
            self._apply_unapplied()
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
        """Make every write so far durable (see the class docstring for how)."""
        if self._closed:
            return
        if not (self._dirty_seq or self._pending_msgs or self._pending_resets):
            return
        seq = self._seq
        seqnums = [(key, state.next_sender, state.next_target, state.created)
                   for key in self._dirty_seq for state in (seq[key],)]
        journal = self._journal
        if journal is None:
            with self._db_lock:
                self._apply([(self._pending_resets, self._pending_msgs, seqnums)])
        else:
            record = encode_turn(self._pending_resets, self._pending_msgs, seqnums)
            if not journal.fits(len(record)):
                self._unapplied.append(journal)   # deleted once the turns before it are applied
                journal = self._journal = self._next_journal(len(record))
            journal.append(record)
            self._unapplied.append((self._pending_resets, self._pending_msgs, seqnums))
        self._pending_resets = []
        self._pending_msgs = []
        self._dirty_seq.clear()
        self.commits += 1

    # ---------------------------------------------------------------- applying to the tables
    def _apply(self, turns: list[Turn]) -> None:
        """One SQLite transaction for ``turns``, in order (caller holds ``_db_lock``).

        Messages are collected across turns and inserted in chunks; a reset first inserts
        what was collected, then deletes, so the order of the two is kept. The turns are
        the store's pending lists as committed, used as they are: on the writer thread every
        object built here is GIL time the event loop may be waiting for."""
        db = self._db
        messages: list[tuple[str, int, bytes]] = []
        seqnums: dict[str, SeqnumTuple] = {}
        db.execute("BEGIN IMMEDIATE")
        try:
            for resets, turn_messages, turn_seqnums in turns:
                if resets:
                    self._insert(messages)
                    messages = []
                    for key in resets:
                        db.execute("DELETE FROM fix_outgoing WHERE session_key=?", (key,))
                messages += turn_messages
                for entry in turn_seqnums:
                    seqnums[entry[0]] = entry
            self._insert(messages)
            for entry in seqnums.values():
                db.execute(_SAVE_SEQNUMS, entry)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _insert(self, messages: list[tuple[str, int, bytes]]) -> None:
        for start in range(0, len(messages), _ROWS_PER_INSERT):
            chunk = messages[start:start + _ROWS_PER_INSERT]
            self._db.execute(_save_messages_sql(len(chunk)),
                             [value for row in chunk for value in row])

    def _apply_unapplied(self) -> None:
        """Apply every committed batch not yet in the tables, then delete the journal files
        retired before them (caller holds ``_db_lock``, so turns are applied in order)."""
        queue = self._unapplied
        items: list = []
        while queue:
            items.append(queue.popleft())
        if not items:
            return
        turns = [i for i in items if not isinstance(i, JournalFile)]
        try:
            if turns:
                self._apply(turns)
        except BaseException:
            queue.extendleft(reversed(items))   # in order, for the next attempt
            raise
        for item in items:
            if isinstance(item, JournalFile):
                item.remove()

    def _new_journal(self, capacity: int) -> JournalFile:
        return JournalFile.create(self.path, next(self._generations),
                                  self._synchronous != "NORMAL", capacity)

    def _next_journal(self, record_size: int) -> JournalFile:
        """The file after the current one: the spare the writer thread prepared when it is
        newer and large enough, else one made now (on the caller's thread)."""
        spare, self._spare_journal = self._spare_journal, None
        if spare is not None:
            if spare.generation > self._journal.generation and spare.fits(record_size):
                return spare
            spare.remove()
        return self._new_journal(max(self._rotate_bytes, record_size + 4096))

    def _prepare_spare_journal(self) -> None:
        """Writer thread: have the next journal file reserved, mapped and faulted in."""
        if self._spare_journal is None and not self._closed:
            self._spare_journal = self._new_journal(self._rotate_bytes)

    def wake_writer_if_due(self) -> None:
        """Let the writer thread apply now if its interval has passed (the transport calls
        this right after a turn's socket writes; see :class:`OutputPump`). Without calls the
        writer still applies every ``idle_apply_s``."""
        if self._writer is None or not self._unapplied:
            return
        now = time.monotonic()
        if now >= self._writer_due_at:
            self._writer_due_at = now + self._apply_interval_s
            self._wake_writer.set()

    def start_background_writer(self, apply_interval_s: float = 0.1,
                                checkpoint_interval_s: float = 1.0,
                                rotate_bytes: int = 4 << 20) -> None:
        """Switch to journaled commits, applied to the tables by a daemon thread.

        The thread also runs the WAL checkpoints (the only fsyncs in ``synchronous=normal``),
        which SQLite would otherwise run inside whichever commit crosses 1000 WAL pages.
        sqlite3 releases the GIL while SQLite works, so the event loop keeps running."""
        if self._writer is not None or self._closed:
            return
        self.commit()
        with self._db_lock:
            self._db.execute("PRAGMA wal_autocheckpoint=0")
        self._rotate_bytes = rotate_bytes
        self._journal = self._new_journal(rotate_bytes)
        self._apply_interval_s = apply_interval_s
        thread = threading.Thread(
            target=self._writer_loop, args=(5 * apply_interval_s, checkpoint_interval_s),
            name="fixgw-store-writer", daemon=True)
        self._writer = thread
        thread.start()

    def _writer_loop(self, idle_apply_s: float, checkpoint_interval_s: float) -> None:
        last_checkpoint = time.monotonic()
        failing = spare_failing = False
        wake = self._wake_writer
        while True:
            wake.wait(idle_apply_s)
            wake.clear()
            if self._stop_writer:
                return
            try:
                with self._db_lock:
                    self._apply_unapplied()
                    if time.monotonic() - last_checkpoint >= checkpoint_interval_s:
                        last_checkpoint = time.monotonic()
                        self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                if failing:
                    log.warning("store writer: applying the journal works again")
                    failing = False
            except sqlite3.Error as exc:
                # The records stay in the journal (durable) and in memory: retried next time.
                if not failing:
                    log.error("store writer: cannot apply the journal to %s yet: %s",
                              self.path, exc)
                    failing = True
            try:
                self._prepare_spare_journal()
                spare_failing = False
            except OSError as exc:
                # No room for the next journal file: the event loop tries again itself at
                # rotation, and a commit that fails there closes every connection.
                if not spare_failing:
                    log.error("store writer: cannot prepare the next journal file: %s", exc)
                    spare_failing = True

    def close(self) -> None:
        if self._closed:
            return
        try:
            self.commit()
        finally:
            self._closed = True
            if self._writer is not None:
                self._stop_writer = True
                self._wake_writer.set()
                self._writer.join(10)
                self._writer = None
            with self._db_lock:
                try:
                    if self._journal is not None:
                        self._apply_unapplied()
                        self._journal.remove()
                        self._journal = None
                    if self._spare_journal is not None:
                        self._spare_journal.remove()
                        self._spare_journal = None
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                except sqlite3.Error as exc:
                    log.error("store: closing %s: %s (the journal is kept and is applied "
                              "on the next start)", self.path, exc)
                    if self._journal is not None:
                        self._journal.close()
                self._db.close()
            self.release_lock()

    def release_lock(self) -> None:
        """Let another process open the store (``close`` does it; tests simulating a crash
        call it after closing the connection without a ``close``)."""
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1
