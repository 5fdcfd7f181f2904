"""The session store's SQLite side: schema, connection settings, and applying turns.

Shared by the gateway's :class:`fixgw.session.store.SqliteStore` (which reads the tables, and
applies inline when it has no journal) and the journal applier process
(:mod:`fixgw.session.store_applier`), so both write the tables the same way.
"""
from __future__ import annotations

import functools
import sqlite3
from pathlib import Path

from fixgw.session.store_journal import SeqnumTuple

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

# One committed turn: resets, messages, sequence-number tuples (key, next sender, next
# target, created), in the order the store's pending lists had them.
Turn = tuple[list[str], list[tuple[str, int, bytes]], list[SeqnumTuple]]


@functools.lru_cache(maxsize=64)
def _save_messages_sql(rows: int) -> str:
    """One INSERT for up to :data:`_ROWS_PER_INSERT` messages.

    Why not ``executemany``: it steps once per row, with a GIL hand-over and a trip through
    the sqlite3 module around each; one statement per chunk steps once."""
    return ("INSERT OR REPLACE INTO fix_outgoing(session_key, seq, raw) VALUES "
            + ",".join(["(?,?,?)"] * rows))

# An upsert, not INSERT OR REPLACE: REPLACE deletes and re-inserts the row under a new rowid,
# dirtying the primary-key index page too; the upsert rewrites only the table row in place, so
# each commit writes one page fewer to the WAL.
_SAVE_SEQNUMS = ("INSERT INTO fix_session(session_key, next_sender, next_target, created) "
                 "VALUES (?, ?, ?, ?) ON CONFLICT(session_key) DO UPDATE SET "
                 "next_sender=excluded.next_sender, next_target=excluded.next_target, "
                 "created=excluded.created")




def open_connection(path: Path, synchronous: str) -> sqlite3.Connection:
    """A connection to the store in WAL mode with the schema in place."""
    sync = synchronous.upper()
    if sync not in ("NORMAL", "FULL", "EXTRA"):
        raise ValueError(f"store.synchronous must be normal or full, not {synchronous!r}")
    db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    # Small pages (only effective when this creates the file): an inline commit rewrites whole
    # pages into the WAL, and a commit per event-loop turn touches two or three.
    db.execute("PRAGMA page_size=1024")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={sync}")
    db.execute("PRAGMA busy_timeout=5000")
    db.executescript(_SCHEMA)
    return db


def apply_turns(db: sqlite3.Connection, turns: list[Turn]) -> None:
    """One SQLite transaction for ``turns``, in order.

    Messages are collected across turns and inserted in chunks; a reset first inserts what
    was collected, then deletes, so the order of the two is kept."""
    messages: list[tuple[str, int, bytes]] = []
    seqnums: dict[str, SeqnumTuple] = {}
    db.execute("BEGIN IMMEDIATE")
    try:
        for resets, turn_messages, turn_seqnums in turns:
            if resets:
                _insert(db, messages)
                messages = []
                for key in resets:
                    db.execute("DELETE FROM fix_outgoing WHERE session_key=?", (key,))
            messages += turn_messages
            for entry in turn_seqnums:
                seqnums[entry[0]] = entry
        _insert(db, messages)
        for entry in seqnums.values():
            db.execute(_SAVE_SEQNUMS, entry)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _insert(db: sqlite3.Connection, messages: list[tuple[str, int, bytes]]) -> None:
    for start in range(0, len(messages), _ROWS_PER_INSERT):
        chunk = messages[start:start + _ROWS_PER_INSERT]
        db.execute(_save_messages_sql(len(chunk)), [value for row in chunk for value in row])
