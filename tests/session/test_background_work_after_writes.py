"""Background work runs right after a turn's socket writes: the store's applier is nudged
then (not on its own timer), the message logs are handed over then, and both still happen
when the traffic stops."""
from __future__ import annotations

import asyncio
import pathlib
import sqlite3
import time

from fixgw.session.store import SqliteStore
from fixgw.session.store_journal import (SeqnumEntry, decode_payload,
                                         encode_record, encode_turn)
from fixgw.transport.server import OutputPump

KEY = "FIX.4.4:ISLD->TW44"


def stored_seqs(path) -> list[int]:
    db = sqlite3.connect(path)
    try:
        return [s for (s,) in db.execute("SELECT seq FROM fix_outgoing ORDER BY seq")]
    finally:
        db.close()


def wait_for(predicate, timeout: float) -> float:
    """Seconds until ``predicate()`` held (raises after ``timeout``)."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError("condition not reached in time")
        time.sleep(0.002)
    return time.monotonic() - started


def test_encode_turn_writes_the_same_record_as_encode_record():
    turn = (["B"], [(KEY, 1, b"8=FIX\x01one"), ("B", 7, b"")], [(KEY, 2, 5, 12.5), ("B", 8, 1, 0.0)])
    record = encode_turn(*turn)
    assert record == encode_record(turn[0], turn[1], [SeqnumEntry(*s) for s in turn[2]])
    assert decode_payload(record[8:]).as_turn() == turn


def test_a_woken_writer_applies_at_once_and_an_idle_one_on_its_slow_timer(tmp_path):
    path = tmp_path / "fixgw.db"
    store = SqliteStore(path)
    try:
        store.start_background_writer(apply_interval_s=0.4)   # idle announce: 5 x 0.4 = 2 s
        store.load(KEY)
        store.save_message(KEY, 1, b"one")
        store.commit()
        store.nudge_applier()
        assert wait_for(lambda: stored_seqs(path) == [1], timeout=1.0) < 1.0
        # Within the interval a second wake is ignored: the writer batches.
        store.save_message(KEY, 2, b"two")
        store.commit()
        store.nudge_applier()
        time.sleep(0.1)
        assert stored_seqs(path) == [1]
        # Nobody wakes it any more: the slow timer still applies the batch.
        waited = wait_for(lambda: stored_seqs(path) == [1, 2], timeout=4.0)
        assert waited > 0.5
    finally:
        store.close()
    assert stored_seqs(path) == [1, 2]


def test_nothing_new_is_not_announced_and_the_loop_never_writes_to_the_applier(tmp_path):
    import threading
    store = SqliteStore(tmp_path / "fixgw.db")
    try:
        store.start_background_writer(apply_interval_s=0.05)   # idle announce: 0.25 s
        announced = []
        real_announce = store._applier.announce
        store._applier.announce = lambda position: (
            announced.append((position, threading.current_thread().name)),
            real_announce(position))
        store.load(KEY)
        store.save_message(KEY, 1, b"one")
        store.commit()
        committed = store._position()
        store.nudge_applier()
        # The idle timer may already have announced load()'s record before the commit.
        wait_for(lambda: announced and announced[-1][0] == committed, timeout=5.0)
        before = len(announced)
        time.sleep(0.1)
        store.nudge_applier()                        # no commit in between: nothing to say
        time.sleep(0.6)                              # nor on the idle timer
        assert len(announced) == before
        assert {thread for _, thread in announced} == {"fixgw-store-spare"}  # not the caller's
        assert wait_for(lambda: stored_seqs(tmp_path / "fixgw.db") == [1], timeout=5.0) < 5.0
    finally:
        store.close()


def test_logs_are_handed_over_after_the_writes_at_most_every_interval_and_after_the_last_turn():
    events: list[str] = []

    async def run() -> None:
        pump = OutputPump(lambda: events.append("commit"), lambda: events.append("logs"),
                          lambda: events.append("format"), lambda: events.append("after"))
        pump.attach(asyncio.get_running_loop())
        pump.flush()
        assert events == ["commit", "format", "logs", "after"]
        events.clear()
        pump.flush()                       # within LOG_INTERVAL_S: formatted, not handed over
        assert events == ["commit", "format", "after"]
        events.clear()
        await asyncio.sleep(3 * OutputPump.LOG_INTERVAL_S)   # no more turns: the timer does it
        assert events == ["logs"]
        events.clear()
        pump.flush()                       # due again: handed over in the turn itself
        assert events == ["commit", "format", "logs", "after"]

    asyncio.run(run())


def test_no_gc_collection_runs_between_a_message_and_its_reply(tmp_path, monkeypatch):
    """With the collector made to run every few allocations, every collection still falls
    outside the transport's handling of received bytes (where replies are committed and
    written), in the gateway's thread and in any other thread alike."""
    import gc
    import sys

    from fixgw.oms.embedded import GatewayThread
    from fixgw.transport.server import FixConnection

    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    from session_harness import Client, echo_gateway_document, nos

    document = echo_gateway_document(tmp_path / "state")
    inside = {"now": False}
    collections_inside: list[bool] = []
    feed = FixConnection._feed

    def observed_feed(self, data):
        inside["now"] = True
        try:
            return feed(self, data)
        finally:
            inside["now"] = False

    def on_gc(phase, info):
        if phase == "start":
            collections_inside.append(inside["now"])

    monkeypatch.setattr(FixConnection, "_feed", observed_feed)
    threshold = gc.get_threshold()
    with GatewayThread(document, tmp_path / "gw.yaml") as gw:
        client = Client(gw.port, "A", "FIXGW")
        assert client.logon()[35] == "A"
        gc.callbacks.append(on_gc)
        gc.set_threshold(5)
        try:
            for n in range(100):
                client.send("D", nos(f"O{n}"))
                reply = client.recv()
                assert (reply[35], reply[11]) == ("D", f"O{n}")
        finally:
            gc.set_threshold(*threshold)
            gc.callbacks.remove(on_gc)
        client.close()
    assert len(collections_inside) > 50
    assert not any(collections_inside)
