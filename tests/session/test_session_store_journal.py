"""The session store's journal: a commit is one append, the tables catch up, crashes lose nothing."""
from __future__ import annotations

import os
import pathlib
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from fixgw.session.store import SqliteStore
from fixgw.session.store_journal import (FILE_MAGIC, Batch, SeqnumEntry, decode_payload,
                                         encode_record, encode_turn, encode_turn_c,
                                         journal_files, read_journal)

KEY = "FIX.4.4:ISLD->TW44"
DICTIONARY = pathlib.Path(__file__).resolve().parents[2] / "dictionaries" / "FIX44.xml"


def table_rows(path):
    db = sqlite3.connect(path)
    try:
        msgs = db.execute("SELECT session_key, seq, raw FROM fix_outgoing "
                          "ORDER BY session_key, seq").fetchall()
        seqs = db.execute("SELECT session_key, next_sender, next_target FROM fix_session "
                          "ORDER BY session_key").fetchall()
        return [(k, s, bytes(r)) for k, s, r in msgs], seqs
    finally:
        db.close()


@pytest.mark.skipif(encode_turn_c is None, reason="the optional C extension is not in use")
def test_the_c_encoder_gives_the_python_encoders_bytes_or_hands_over():
    """Same record for every turn a store can commit; None for anything else (a negative or
    huge number, a float seq, a key that is not UTF-8 encodable or too long, an int for the
    creation time, other containers): the store then calls encode_turn, which packs or
    raises as it always did."""
    rng = random.Random(4)
    keys = ["FIX.4.4:ISLD->TW44", "K", "", "cl\u00e9", "\u20ac" * 40, "k" * 65535]

    def number():
        return rng.choice([0, 1, 7, 2 ** 31, 2 ** 32 - 1, 2 ** 63, 2 ** 64 - 1, rng.randrange(10 ** 9)])

    for _ in range(500):
        resets = [rng.choice(keys) for _ in range(rng.randrange(3))]
        messages = [(rng.choice(keys), number(), rng.randbytes(rng.choice([0, 1, 200, 5000])))
                    for _ in range(rng.randrange(4))]
        seqnums = [(rng.choice(keys), number(), number(),
                    rng.choice([0.0, -0.0, 1.5e9, float("inf"), float("nan"), time.time()]))
                   for _ in range(rng.randrange(3))]
        assert encode_turn_c(resets, messages, seqnums) == encode_turn(resets, messages, seqnums)
    for resets, messages, seqnums in [
            ([], [("K", -1, b"")], []), ([], [("K", 2 ** 64, b"")], []),
            ([], [("K", 1.0, b"")], []), ([], [("K", 1, bytearray(b"x"))], []),
            ([], [("K", 1)], []), (["\ud800"], [], []), (["k" * 65536], [], []),
            ([], [], [("K", 1, 2, 3)]), ([], [], [("K", 1, -2, 3.0)]), ((), [], []),
            ([b"K"], [], []), ([], [["K", 1, b""]], [])]:
        assert encode_turn_c(resets, messages, seqnums) is None


def test_record_round_trip_keeps_every_entry():
    record = encode_record(["A"], [("A", 1, b"8=FIX\x01one"), ("B", 7, b"")],
                           [SeqnumEntry("A", 2, 5, 12.5), SeqnumEntry("B", 8, 1, 0.0)])
    batch = decode_payload(record[8:])
    assert batch.resets == ["A"]
    assert batch.messages == [("A", 1, b"8=FIX\x01one"), ("B", 7, b"")]
    assert batch.seqnums == {"A": SeqnumEntry("A", 2, 5, 12.5), "B": SeqnumEntry("B", 8, 1, 0.0)}


def test_a_later_reset_drops_earlier_messages_of_that_key_only():
    first = Batch([], [("A", 1, b"a1"), ("B", 1, b"b1")], {"A": SeqnumEntry("A", 2, 1, 0.0)})
    first.extend(Batch(["A"], [("A", 1, b"a1-after-reset")], {"A": SeqnumEntry("A", 2, 1, 9.0)}))
    assert first.resets == ["A"]
    assert first.messages == [("B", 1, b"b1"), ("A", 1, b"a1-after-reset")]
    assert first.seqnums["A"].created == 9.0


def test_torn_or_corrupt_tail_is_dropped_and_the_rest_kept(tmp_path):
    good = encode_record([], [(KEY, 1, b"one")], [SeqnumEntry(KEY, 2, 2, 0.0)])
    second = encode_record([], [(KEY, 2, b"two")], [SeqnumEntry(KEY, 3, 3, 0.0)])
    torn = tmp_path / "torn"
    torn.write_bytes(FILE_MAGIC + good + second[:-3])
    batch, clean = read_journal(torn)
    assert not clean and batch.messages == [(KEY, 1, b"one")]
    flipped = bytearray(second)
    flipped[-1] ^= 0xFF
    corrupt = tmp_path / "corrupt"
    corrupt.write_bytes(FILE_MAGIC + good + bytes(flipped))
    batch, clean = read_journal(corrupt)
    assert not clean and batch.seqnums[KEY].next_sender == 2
    whole = tmp_path / "whole"
    whole.write_bytes(FILE_MAGIC + good + second)
    batch, clean = read_journal(whole)
    assert clean and [m[1] for m in batch.messages] == [1, 2]


def test_journaled_commits_reach_the_tables_and_reads_see_them_at_once(tmp_path):
    path = tmp_path / "s.db"
    store = SqliteStore(path)
    store.start_background_writer(apply_interval_s=3600)      # the writer never runs by itself
    store.load(KEY)
    for seq in range(1, 4):
        store.save_message(KEY, seq, f"m{seq}".encode())
        store.set_seqnums(KEY, seq + 1, seq)
        store.commit()
    assert table_rows(path)[0] == []                          # only in the journal so far
    assert [s for s, _ in journal_files(path)][:1] == [0]     # (1 may be the prepared spare)
    assert store.messages(KEY, 2, 3) == [(2, b"m2"), (3, b"m3")]   # a resend waits for it
    assert len(table_rows(path)[0]) == 3
    store.close()
    assert journal_files(path) == []                          # applied and removed on close
    assert table_rows(path) == ([(KEY, 1, b"m1"), (KEY, 2, b"m2"), (KEY, 3, b"m3")],
                                [(KEY, 4, 3)])


def test_writer_thread_applies_and_rotates_journal_files(tmp_path):
    path = tmp_path / "s.db"
    store = SqliteStore(path)
    store.start_background_writer(apply_interval_s=0.01, rotate_bytes=2000)
    store.load(KEY)
    for seq in range(1, 301):
        store.save_message(KEY, seq, b"x" * 100)
        store.set_seqnums(KEY, seq + 1, 1)
        store.commit()
        if seq % 50 == 0:
            time.sleep(0.05)
    deadline = time.monotonic() + 5
    while len(table_rows(path)[0]) < 300:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    generations = [g for g, _ in journal_files(path)]
    assert generations and generations[0] > 0                # rotated; old files deleted
    store.close()
    assert table_rows(path)[1] == [(KEY, 301, 1)]


def test_the_applier_is_told_once_a_batch_of_journal_waits_not_before(tmp_path):
    """With the interval out of reach, a nudge announces only once ``apply_batch_bytes`` of
    journal wait since the last announcement (small batches keep the applier's bursts short)."""
    path = tmp_path / "s.db"
    store = SqliteStore(path)
    store.start_background_writer(apply_interval_s=3600, apply_batch_bytes=4000)
    store.load(KEY)

    def send(first, count):
        for seq in range(first, first + count):
            store.save_message(KEY, seq, b"x" * 200)
            store.set_seqnums(KEY, seq + 1, 1)
            store.commit()
            store.nudge_applier()

    def rows_after(seconds):
        time.sleep(seconds)
        return len(table_rows(path)[0])

    send(1, 1)                                   # the first nudge announces what there is
    assert rows_after(0.3) == 1
    send(2, 4)                                   # ~0.9 KB more: under the batch
    assert rows_after(0.3) == 1
    send(6, 20)                                  # past 4,000 bytes: announced (and applied)
    deadline = time.monotonic() + 5
    while len(table_rows(path)[0]) < 16:         # at least up to the crossing message
        assert time.monotonic() < deadline, table_rows(path)[0][-1:]
        time.sleep(0.02)
    applied = len(table_rows(path)[0])
    time.sleep(0.02)                             # past the 10 ms minimum between two
    send(26, 3)                                  # a little more: not a batch yet
    assert rows_after(0.3) == applied
    store.close()
    assert len(table_rows(path)[0]) == 28


def test_reset_then_new_messages_survive_replay_in_order(tmp_path):
    path = tmp_path / "s.db"
    store = SqliteStore(path)
    store.start_background_writer(apply_interval_s=3600)
    store.load(KEY)
    store.save_message(KEY, 1, b"old-1")
    store.save_message(KEY, 2, b"old-2")
    store.commit()
    store.reset(KEY, 50.0)
    store.commit()
    store.save_message(KEY, 1, b"new-1")
    store.set_seqnums(KEY, 2, 1)
    store.commit()
    store.abandon()                            # crash: the writer never applied anything
    for replay in range(2):                    # and a replay applied twice changes nothing
        again = SqliteStore(path)
        assert again.messages(KEY, 1, 9) == [(1, b"new-1")]
        state = again.load(KEY)
        assert (state.next_sender, state.next_target, state.created) == (2, 1, 50.0)
        if replay == 0:
            assert again.replayed_records_from
            # put the same journal back, as if the process died after applying, before unlink
            journal = path.with_name(path.name + ".seqjournal.0")
            journal.write_bytes(FILE_MAGIC + encode_record(
                [], [(KEY, 1, b"old-1"), (KEY, 2, b"old-2")], []) + encode_record(
                [KEY], [(KEY, 1, b"new-1")], [SeqnumEntry(KEY, 2, 1, 50.0)]))
        again._db.close()
        again.release_lock()


CHILD = textwrap.dedent("""
    import sys, time
    from fixgw.session.store import SqliteStore
    store = SqliteStore(sys.argv[1])
    store.start_background_writer(apply_interval_s=float(sys.argv[2]))
    key = "FIX.4.4:ISLD->TW44"
    store.load(key)
    seq = 1
    while True:
        store.save_message(key, seq, b"msg-%d" % seq)
        store.set_seqnums(key, seq + 1, seq)
        store.commit()
        print(seq, flush=True)       # printed only once the commit returned: "on the wire"
        seq += 1
        if seq > 2000:
            time.sleep(0.001)
""")


@pytest.mark.parametrize("apply_interval_s", [3600.0, 0.005])
def test_sigkill_never_loses_a_committed_message_or_seqnum(tmp_path, apply_interval_s):
    """The child reports each seq after its commit; killed at random, every reported seq is in
    the store after restart and the next sender seq is past all of them."""
    path = tmp_path / "s.db"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(apply_interval_s)],
                            stdout=subprocess.PIPE, text=True)
    seen = 0
    try:
        for line in proc.stdout:
            seen = int(line)
            if seen >= 2500:
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    assert seen >= 2500
    store = SqliteStore(path)
    try:
        stored = store.messages(KEY, 1, 10**9)
        assert [s for s, _ in stored][:seen] == list(range(1, seen + 1))
        assert all(raw == b"msg-%d" % s for s, raw in stored)
        assert store.load(KEY).next_sender > seen
        assert store.load(KEY).next_sender == len(stored) + 1
    finally:
        store.close()


def test_a_second_process_cannot_open_a_store_in_use(tmp_path):
    """Two gateways on one state_dir would apply and delete each other's journal files."""
    from fixgw.session.store import StoreInUse
    path = tmp_path / "s.db"
    store = SqliteStore(path)
    store.start_background_writer()
    store.load(KEY)
    store.save_message(KEY, 1, b"live")
    store.commit()
    child = subprocess.run(
        [sys.executable, "-c", "import sys; from fixgw.session.store import SqliteStore\n"
         "try:\n    SqliteStore(sys.argv[1])\nexcept Exception as e:\n    print(type(e).__name__, e)",
         str(path)], capture_output=True, text=True, timeout=30)
    assert child.stdout.startswith("StoreInUse") and f"pid {os.getpid()}" in child.stdout
    assert [g for g, _ in journal_files(path)][:1] == [0]    # the live journal is untouched
    store.close()
    again = SqliteStore(path)                                 # released by close
    assert again.messages(KEY, 1, 1) == [(1, b"live")]
    again.close()


def test_fixgw_run_refuses_a_state_dir_in_use(tmp_path):
    from fixgw.session.store import StoreInUse
    config = tmp_path / "gw.yaml"
    config.write_text("state_dir: state\napplication: echo\nlisten: {host: 127.0.0.1, port: 0}\n"
                      "session_defaults: {begin_string: FIX.4.4, sender_comp_id: ISLD, "
                      f"dictionary: {DICTIONARY}}}\n"
                      "sessions:\n  - {target_comp_id: TW44}\n")
    held = SqliteStore(tmp_path / "state" / "fixgw.db")
    try:
        run = subprocess.run([sys.executable, "-m", "fixgw", "run", str(config)],
                             capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert run.returncode == 2
        assert "in use by another fixgw process" in run.stderr
        assert "Traceback" not in run.stderr
    finally:
        held.close()
    assert issubclass(StoreInUse, RuntimeError)


def test_the_zero_filled_tail_of_a_preallocated_file_is_its_clean_end(tmp_path):
    record = encode_record([], [(KEY, 1, b"one")], [SeqnumEntry(KEY, 2, 2, 0.0)])
    padded = tmp_path / "padded"
    padded.write_bytes(FILE_MAGIC + record + bytes(5000))
    batch, clean = read_journal(padded)
    assert clean and batch.messages == [(KEY, 1, b"one")]
    damaged = tmp_path / "damaged"                  # something after the zeros: not clean
    damaged.write_bytes(FILE_MAGIC + record + bytes(100) + b"\x07" + bytes(100))
    batch, clean = read_journal(damaged)
    assert not clean and batch.messages == [(KEY, 1, b"one")]


def without_spare_thread(store: SqliteStore) -> None:
    """Stop the thread that prepares spare files, and drop its spare: the test plays it."""
    store._stopping = True
    store._spare_wanted.set()
    store._spare_thread.join(10)
    if store._spare_journal is not None:
        store._spare_journal.remove()
        store._spare_journal = None


def test_rotation_never_goes_back_to_an_older_prepared_file(tmp_path):
    """The spare thread prepares the next file ahead; if the event loop had to make one
    itself meanwhile, a spare with a lower generation must be discarded, not used: replay
    orders files by generation, so using it would replay newer records before older ones."""
    path = tmp_path / "s.db"
    store = SqliteStore(path)
    store.start_background_writer(apply_interval_s=3600, rotate_bytes=4096)
    without_spare_thread(store)
    store.load(KEY)
    late_spare = store._new_journal(4096)            # prepared "late"
    seq = 0

    def fill_one_file():
        nonlocal seq
        first = store._journal.generation
        while store._journal.generation == first:
            seq += 1
            store.save_message(KEY, seq, b"m%d" % seq + b"." * 200)
            store.set_seqnums(KEY, seq + 1, 1)
            store.commit()

    fill_one_file()                                   # no spare: the loop made the next one
    assert store._journal.generation == late_spare.generation + 1
    store._spare_journal = late_spare                 # the spare arrives too late
    fill_one_file()
    assert store._journal.generation == late_spare.generation + 2
    assert not late_spare.path.exists()
    store.abandon()                                   # crash before any apply
    again = SqliteStore(path)
    try:
        stored = again.messages(KEY, 1, seq)
        assert [s for s, _ in stored] == list(range(1, seq + 1))
        assert all(raw.startswith(b"m%d." % s) for s, raw in stored)
        assert again.load(KEY).next_sender == seq + 1
    finally:
        again.close()


@pytest.mark.parametrize("synchronous", ["normal", "full"])
def test_prepared_spare_files_are_used_and_everything_replays(tmp_path, synchronous):
    path = tmp_path / "s.db"
    store = SqliteStore(path, synchronous=synchronous)
    store.start_background_writer(apply_interval_s=3600, rotate_bytes=4096)
    without_spare_thread(store)
    store.load(KEY)
    used = [store._journal.generation]
    for seq in range(1, 121):
        store.save_message(KEY, seq, b"y" * 150)
        store.set_seqnums(KEY, seq + 1, 1)
        store.commit()
        if store._journal.generation != used[-1]:
            used.append(store._journal.generation)
        if store._spare_journal is None:
            store._prepare_spare_journal()            # as the spare thread does
    # after the first rotation every file is the spare prepared just before: no gaps
    assert len(used) >= 4 and used[1:] == list(range(used[1], used[1] + len(used) - 1))
    store.abandon()                                   # crash: nothing applied, files remain
    again = SqliteStore(path)
    try:
        assert [s for s, _ in again.messages(KEY, 1, 200)] == list(range(1, 121))
        assert again.load(KEY).next_sender == 121
        assert journal_files(path) == []
    finally:
        again.close()
