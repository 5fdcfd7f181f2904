"""The journal applier process: applies exactly up to announced positions, in order; a dead
applier is replaced without losing anything; a killed gateway's applier lets go of the store."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

from fixgw.session.store import SqliteStore
from fixgw.session.store_applier import JournalApplier, read_records
from fixgw.session.store_journal import FILE_MAGIC, JournalFile, encode_turn, journal_files
from fixgw.session.store_sql import open_connection

KEY = "FIX.4.4:ISLD->TW44"


def stored(path) -> list[tuple[int, bytes]]:
    db = sqlite3.connect(path)
    try:
        return [(s, bytes(r)) for s, r in
                db.execute("SELECT seq, raw FROM fix_outgoing ORDER BY seq")]
    finally:
        db.close()


def commit_messages(store: SqliteStore, seqs) -> None:
    for seq in seqs:
        store.save_message(KEY, seq, b"m%d" % seq)
        store.set_seqnums(KEY, seq + 1, 1)
        store.commit()


def journal_of_three_turns(database):
    """A store with journal generation 0 holding messages a1, a2, a3, one turn each: the
    file (closed) and the position after each turn."""
    open_connection(database, "NORMAL").close()
    journal = JournalFile.create(database, 0, False, capacity=4096)
    positions = []
    for seq in range(1, 4):
        journal.append(encode_turn([], [(KEY, seq, b"a%d" % seq)], [(KEY, seq + 1, 1, 0.0)]))
        positions.append((0, journal.size))
    journal.close()
    return journal, positions


def test_applier_applies_exactly_up_to_each_position_and_deletes_finished_files(tmp_path):
    database = tmp_path / "s.db"
    first, positions = journal_of_three_turns(database)
    second = JournalFile.create(database, 1, False, capacity=4096)
    second.append(encode_turn([KEY], [(KEY, 1, b"after-reset")], [(KEY, 2, 1, 5.0)]))
    end = (1, second.size)
    second.close()
    turns, reached = read_records(first.path, len(FILE_MAGIC), positions[1][1])
    assert [t[1][0][1] for t in turns] == [1, 2] and reached == positions[1][1]

    applier = JournalApplier(database)
    try:
        assert applier.apply_through(positions[0]) == 1
        assert stored(database) == [(1, b"a1")]
        assert applier.apply_through(positions[0]) == 0            # nothing new
        assert applier.apply_through(positions[2]) == 2
        assert stored(database) == [(1, b"a1"), (2, b"a2"), (3, b"a3")]
        assert [g for g, _ in journal_files(database)] == [0, 1]   # 0 may still grow
        assert applier.apply_through(end) == 1                     # rest of 0, then 1
        assert stored(database) == [(1, b"after-reset")]
        assert [g for g, _ in journal_files(database)] == [1]      # 0 is wholly applied
    finally:
        applier.close()


def test_a_damaged_record_stops_the_apply_there_and_is_retried(tmp_path):
    """Within the generation being read (the applier's usual case), a record that fails its
    checksum is not applied, nor anything after it, and the position stays before it."""
    database = tmp_path / "s.db"
    journal, positions = journal_of_three_turns(database)
    applier = JournalApplier(database)
    try:
        assert applier.apply_through(positions[0]) == 1
        with open(journal.path, "r+b") as f:                      # a byte of record 2's payload
            f.seek(positions[1][1] - 2)
            byte = f.read(1)
            f.seek(positions[1][1] - 2)
            f.write(bytes([byte[0] ^ 0xFF]))
        assert applier.apply_through(positions[2]) == 0
        assert stored(database) == [(1, b"a1")]
        assert applier.position == positions[0]
    finally:
        applier.close()


def test_a_killed_applier_is_replaced_and_nothing_is_lost(tmp_path):
    path = tmp_path / "s.db"
    store = SqliteStore(path)
    try:
        store.start_background_writer(apply_interval_s=0.01)
        store.load(KEY)
        commit_messages(store, range(1, 51))
        first_pid = store._applier.pid
        os.kill(first_pid, signal.SIGKILL)
        time.sleep(0.2)
        commit_messages(store, range(51, 101))
        store.nudge_applier()                   # finds the pipe broken: a new applier
        deadline = time.monotonic() + 5
        while store._applier.pid in (None, first_pid):
            assert time.monotonic() < deadline, "no new applier"
            time.sleep(0.01)
        assert [s for s, _ in store.messages(KEY, 1, 200)] == list(range(1, 101))
        os.kill(store._applier.pid, signal.SIGKILL)  # dead while a resend waits for it
        time.sleep(0.2)
        commit_messages(store, range(101, 121))
        assert [s for s, _ in store.messages(KEY, 1, 200)] == list(range(1, 121))
    finally:
        store.close()
    assert [s for s, _ in stored(path)] == list(range(1, 121))
    assert journal_files(path) == []


def test_close_applies_everything_and_leaves_no_journal_file(tmp_path):
    path = tmp_path / "s.db"
    store = SqliteStore(path)
    store.start_background_writer(apply_interval_s=3600, rotate_bytes=4096)
    store.load(KEY)
    commit_messages(store, range(1, 301))           # several files, none announced
    pid = store._applier.pid
    store.close()
    assert [s for s, _ in stored(path)] == list(range(1, 301))
    assert journal_files(path) == []
    assert not os.path.exists(f"/proc/{pid}") or \
        open(f"/proc/{pid}/stat").read().split()[2] == "Z"


GATEWAY = textwrap.dedent("""
    import sys
    from fixgw.session.store import SqliteStore
    store = SqliteStore(sys.argv[1])
    store.start_background_writer()
    store.load("K")
    store.save_message("K", 1, b"one")
    store.commit()
    print(store._applier.pid, flush=True)
    sys.stdin.read()
""")


def test_the_applier_of_a_killed_gateway_exits_and_frees_the_store(tmp_path):
    path = tmp_path / "s.db"
    gateway = subprocess.Popen([sys.executable, "-c", GATEWAY, str(path)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    applier_pid = int(gateway.stdout.readline())
    gateway.kill()
    gateway.wait(10)
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{applier_pid}") and \
            open(f"/proc/{applier_pid}/stat").read().split()[2] != "Z":
        assert time.monotonic() < deadline, "the orphaned applier did not exit"
        time.sleep(0.02)
    store = SqliteStore(path)                         # the lock is free again
    try:
        assert store.messages("K", 1, 9) == [(1, b"one")]
    finally:
        store.close()
