"""Durable session state: next sequence numbers and outgoing application messages for resend.

Two implementations of one small interface: :class:`SqliteStore` (stdlib sqlite3, WAL) for
the gateway, :class:`MemoryStore` for tests.

Why writes are buffered: a commit per message would cap throughput at the disk's fsync rate.
Mutations are kept in memory and :meth:`commit` makes them durable at once. The transport
calls ``commit()`` once per event-loop turn *before* it writes that turn's bytes to any
socket, so whatever the counterparty has seen is durable first: after a crash no acknowledged
message is lost and no sequence number is reused. Reads (a resend) see pending writes.

In the gateway a commit is one append to the store journal (:mod:`fixgw.session.store_journal`)
and a separate process (:mod:`fixgw.session.store_applier`) moves the records into the SQLite
tables: a lone message pays about a tenth of an SQLite transaction's cost
(``python scripts/bench_store.py``). The tables are what everything reads.

The SQLite file is shared with other components (the OMS journal): they use their own
connection and their own tables; this store never holds a transaction open between turns.
"""
from __future__ import annotations

import fcntl
import itertools
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from fixgw.session.store_applier import ApplierProcess, ApplierUnavailable, JournalApplier
from fixgw.session.store_journal import (Batch, JournalFile, encode_turn, encode_turn_c,
                                         journal_files, read_journal)
from fixgw.session.store_sql import apply_turns, open_connection

log = logging.getLogger("fixgw.store")

APPLY_MIN_INTERVAL_S = 0.01   # the applier is told at most this often (see nudge_applier)
APPLY_BATCH_BYTES = 16 << 10  # ... and as soon as this much journal waits


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


class StoreInUse(RuntimeError):
    """Another process has the store open (two gateways on one state directory)."""


def _lock_exclusively(database: Path, wait_s: float = 2.0) -> int:
    """Hold ``<database>.lock`` for this process's lifetime (released by the kernel even on
    SIGKILL). Why: a second gateway started on the same state directory would otherwise apply
    and delete the running gateway's journal files before failing to listen.

    The journal applier process shares the lock, so after a gateway is killed the lock is
    free only once its applier has noticed and exited (milliseconds): wait ``wait_s`` for
    that before declaring the store in use."""
    lock_path = database.with_name(database.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() < deadline:
                time.sleep(0.02)
                continue
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StoreInUse(f"the session store {database} is in use by another fixgw "
                             f"process (pid {holder}); one state_dir serves one gateway") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


class SqliteStore:
    """SQLite (WAL) store; see the module docstring for the batching contract.

    Two ways to make a commit durable:

    * inline (the default): ``commit()`` runs one SQLite transaction;
    * journaled, once :meth:`start_background_writer` has been called (the gateway does):
      ``commit()`` appends one record to the store journal (:mod:`fixgw.session.store_journal`,
      one copy into a memory-mapped file), and the applier process
      (:mod:`fixgw.session.store_applier`) applies the records to the tables in batches.

    Either way a store opened on a database whose journal holds records (a process killed
    before its applier caught up) applies them before anything is read."""

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
        self._db = open_connection(self.path, synchronous)
        self._synchronous = synchronous.upper()
        # next sender, next target, created: a plain tuple, as set on every message (a frozen
        # SeqState costs ~4k instructions to build); load() hands out a SeqState.
        self._seq: dict[str, tuple[int, int, float]] = {}
        self._dirty_seq: set[str] = set()
        self._pending_msgs: list[tuple[str, int, bytes]] = []
        self._pending_resets: list[str] = []
        self.commits = 0
        self._closed = False
        # Journaled mode. The event loop appends to _journal; the applier process is told how
        # far it may apply (a position announced after an append covers complete records
        # only). Generations only grow (replay orders files by them; next() is atomic under
        # the GIL); the spare thread prepares the next file ahead of rotation and announces
        # the position when the traffic has stopped.
        self._journal: JournalFile | None = None
        self._rotate_bytes = 4 << 20
        self._generations = itertools.count(0)
        self._spare_journal: JournalFile | None = None
        self._applier: ApplierProcess | None = None
        self._apply_interval_s = 0.1
        self._apply_batch_bytes = APPLY_BATCH_BYTES
        self._applier_due_at = 0.0          # no announcement before (batches of bytes)
        self._applier_idle_due_at = 0.0     # an announcement however little (the interval)
        self._announced: tuple[int, int] | None = None
        self._spare_thread: threading.Thread | None = None
        self._spare_wanted = threading.Event()
        self._stopping = False
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
        apply_turns(self._db, [merged.as_turn()])
        for _, path in files:
            path.unlink()
        self.replayed_records_from = [p for _, p in files]
        self._generations = itertools.count(files[-1][0] + 1)
        log.info("store: applied %d journaled message(s) and %d sequence-number update(s) "
                 "left by the previous process", len(merged.messages), len(merged.seqnums))

    # ---------------------------------------------------------------- SessionStore
    def load(self, key: str) -> SeqState:
        return SeqState(*self._numbers(key))

    def _numbers(self, key: str) -> tuple[int, int, float]:
        numbers = self._seq.get(key)
        if numbers is None:
            row = self._db.execute(
                "SELECT next_sender, next_target, created FROM fix_session "
                "WHERE session_key=?", (key,)).fetchone()
            if row is None:
                numbers = (1, 1, time.time())
                self._dirty_seq.add(key)
            else:
                numbers = (int(row[0]), int(row[1]), float(row[2]))
            self._seq[key] = numbers
        return numbers

    def set_seqnums(self, key: str, next_sender: int, next_target: int) -> None:
        old = self._seq.get(key) or self._numbers(key)
        if old[0] != next_sender or old[1] != next_target:
            self._seq[key] = (next_sender, next_target, old[2])
            self._dirty_seq.add(key)

    def save_message(self, key: str, seq: int, raw: bytes) -> None:
        self._pending_msgs.append((key, seq, raw))

    def messages(self, key: str, begin: int, end: int) -> list[tuple[int, bytes]]:
        """Stored messages in ``[begin, end]``; sees every write made so far (a resend is rare,
        so it waits for the applier rather than reading the journal)."""
        self.commit()
        self._apply_everything()
        rows = self._db.execute(
            "SELECT seq, raw FROM fix_outgoing WHERE session_key=? AND seq BETWEEN ? AND ? "
            "ORDER BY seq", (key, begin, end)).fetchall()
        return [(int(s), bytes(r)) for s, r in rows]

    def reset(self, key: str, now: float) -> SeqState:
        self._pending_msgs = [m for m in self._pending_msgs if m[0] != key]
        self._pending_resets.append(key)
        self._seq[key] = (1, 1, now)
        self._dirty_seq.add(key)
        return SeqState(1, 1, now)

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
        seqnums = [(key, *seq[key]) for key in self._dirty_seq]
        journal = self._journal
        if journal is None:
            apply_turns(self._db, [(self._pending_resets, self._pending_msgs, seqnums)])
        else:
            record = None if encode_turn_c is None else \
                encode_turn_c(self._pending_resets, self._pending_msgs, seqnums)
            if record is None:
                record = encode_turn(self._pending_resets, self._pending_msgs, seqnums)
            if not journal.fits(len(record)):
                journal.close()      # the applier deletes it once it is in the tables
                journal = self._journal = self._next_journal(len(record))
                self._spare_wanted.set()
            journal.append(record)
        self._pending_resets = []
        self._pending_msgs = []
        self._dirty_seq.clear()
        self.commits += 1

    # ---------------------------------------------------------------- the journal's files
    def _new_journal(self, capacity: int) -> JournalFile:
        return JournalFile.create(self.path, next(self._generations),
                                  self._synchronous != "NORMAL", capacity)

    def _next_journal(self, record_size: int) -> JournalFile:
        """The file after the current one: the spare the spare thread prepared when it is
        newer and large enough, else one made now (on the caller's thread)."""
        spare, self._spare_journal = self._spare_journal, None
        if spare is not None:
            if spare.generation > self._journal.generation and spare.fits(record_size):
                return spare
            spare.remove()
        return self._new_journal(max(self._rotate_bytes, record_size + 4096))

    def _prepare_spare_journal(self) -> None:
        """Have the next journal file reserved, mapped and faulted in."""
        if self._spare_journal is None and not self._closed:
            self._spare_journal = self._new_journal(self._rotate_bytes)

    def _position(self) -> tuple[int, int]:
        journal = self._journal
        return journal.generation, journal.size

    # ---------------------------------------------------------------- the applier
    def start_background_writer(self, apply_interval_s: float = 0.1,
                                checkpoint_interval_s: float = 1.0,
                                rotate_bytes: int = 4 << 20,
                                apply_batch_bytes: int = APPLY_BATCH_BYTES) -> None:
        """Switch to journaled commits, applied to the tables by the applier process.

        The applier is told to apply every ``apply_interval_s``, and sooner (but at most
        every :data:`APPLY_MIN_INTERVAL_S`) once ``apply_batch_bytes`` of journal wait: see
        :meth:`nudge_applier` for why batches are kept small.

        The applier also runs the WAL checkpoints (the only fsyncs in ``synchronous=normal``),
        which SQLite would otherwise run inside whichever commit crosses 1000 WAL pages."""
        if self._applier is not None or self._closed:
            return
        self.commit()
        self._db.execute("PRAGMA wal_autocheckpoint=0")   # this connection only reads now
        self._rotate_bytes = rotate_bytes
        self._apply_interval_s = apply_interval_s
        self._apply_batch_bytes = apply_batch_bytes
        self._journal = self._new_journal(rotate_bytes)
        self._applier = ApplierProcess(self.path, self._lock_fd, self._synchronous,
                                       apply_interval_s, checkpoint_interval_s)
        self._spare_thread = threading.Thread(
            target=self._spare_loop, args=(5 * apply_interval_s,),
            name="fixgw-store-spare", daemon=True)
        self._spare_wanted.set()
        self._spare_thread.start()

    def nudge_applier(self) -> None:
        """Have the applier told how far it may apply, if its interval has passed (the
        transport calls this right after a turn's socket writes; see :class:`OutputPump`).

        The event loop only wakes the store's helper thread, which writes to the applier's
        pipe: a pipe write takes the pipe's lock, which the applier (a low-priority process)
        holds while it reads, and the event loop must never wait for a process the
        scheduler has put aside (seen: a 2.4 ms stall in this call).

        When: every ``apply_interval_s`` (100 ms), or as soon as ``apply_batch_bytes``
        (16 KB, ~50 orders) of journal wait, but at most every 10 ms. Why batches this
        small: on the 2-core machines of scripts/bench_session.py, the replies that went
        out while the applier worked through a batch came late, in clusters exactly one
        apply interval apart. 100 ms of traffic at 5,000 msg/s (~4 ms of applier work) gave
        clusters of 1-4 ms replies: p99 ~0.3-0.5 ms, p99.9 ~2 ms. Batches of ~50 orders cut
        that to p99 ~0.15-0.19 ms and p99.9 ~0.35-0.56 ms in the same runs; a slow
        session still sends its applier one batch per interval, not one per message."""
        if self._applier is None:
            return
        now = time.monotonic()
        if now < self._applier_due_at:
            return
        position, announced = self._position(), self._announced
        if position == announced:
            return
        if now < self._applier_idle_due_at:
            waiting = position[1] - announced[1] if announced and announced[0] == position[0] \
                else position[1]
            if waiting < self._apply_batch_bytes:
                return
        self._applier_due_at = now + min(APPLY_MIN_INTERVAL_S, self._apply_interval_s)
        self._applier_idle_due_at = now + self._apply_interval_s
        self._spare_wanted.set()

    def _spare_loop(self, idle_announce_s: float) -> None:
        """The store's helper thread: prepares the next journal file after each rotation,
        and tells the applier the position when the event loop asks (:meth:`nudge_applier`)
        or, when the traffic has stopped, every ``idle_announce_s``."""
        failing = False
        while not self._stopping:
            self._spare_wanted.wait(idle_announce_s)
            self._spare_wanted.clear()
            if self._stopping:
                return
            try:
                self._prepare_spare_journal()
                failing = False
            except OSError as exc:
                # No room for the next journal file: the event loop tries again itself at
                # rotation, and a commit that fails there closes every connection.
                if not failing:
                    log.error("store: cannot prepare the next journal file: %s", exc)
                    failing = True
            position = self._position()
            if position != self._announced and self._applier is not None:
                self._announced = position
                self._applier.announce(position)

    def _apply_everything(self) -> None:
        """Wait until the tables hold every committed turn (the applier process does it; if
        it cannot, it is replaced and this process applies the journal itself)."""
        if self._applier is None:
            return
        position = self._position()
        try:
            self._applier.sync(position)
        except ApplierUnavailable as exc:
            log.error("store: the journal applier failed (%s); applying in the gateway and "
                      "starting a new applier", exc)
            self._applier.kill()
            JournalApplier(self.path, connection=self._db).apply_through(position)
            self._applier.restart()

    def close(self) -> None:
        if self._closed:
            return
        try:
            self.commit()
        finally:
            self._closed = True
            self._stopping = True
            self._spare_wanted.set()
            if self._spare_thread is not None:
                self._spare_thread.join(10)
                self._spare_thread = None
            try:
                if self._journal is not None:
                    position = self._position()
                    self._journal.close()
                    try:
                        self._applier.stop(position)
                    except ApplierUnavailable as exc:
                        log.error("store: closing %s: the applier failed (%s); applying in "
                                  "the gateway", self.path, exc)
                        self._applier.kill()
                        JournalApplier(self.path, connection=self._db).apply_through(position)
                        for _, path in journal_files(self.path):
                            if path != getattr(self._spare_journal, "path", None):
                                path.unlink()
                    self._journal = None
                if self._spare_journal is not None:
                    self._spare_journal.remove()
                    self._spare_journal = None
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:
                log.error("store: closing %s: %s (the journal is kept and is applied "
                          "on the next start)", self.path, exc)
            finally:
                self._db.close()
                self.release_lock()

    def abandon(self) -> None:
        """Stop as a crash would (tests): the applier is killed and nothing is applied or
        deleted; the journal files stay for the next store to replay."""
        self._closed = True
        self._stopping = True
        self._spare_wanted.set()
        if self._spare_thread is not None:
            self._spare_thread.join(10)
        if self._applier is not None:
            self._applier.kill()
        for journal in (self._journal, self._spare_journal):
            if journal is not None:
                journal.close()
        self._db.close()
        self.release_lock()

    def release_lock(self) -> None:
        """Let another process open the store (``close`` and ``abandon`` do it)."""
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1
