"""Inbound rate limit (back-pressure, not disconnect) and the store's durability contract."""
from __future__ import annotations

import time

from session_harness import DICTS, Client, Gateway

from fixgw.session.store import SqliteStore

CONFIG = f"""
state_dir: state
application: echo
listen: {{host: 127.0.0.1, port: 0}}
limits: {{max_inbound_messages_per_s: 1000}}
session_defaults: {{begin_string: FIX.4.4, sender_comp_id: FIXGW, dictionary: {DICTS},
                    reset_on_logon: true}}
sessions:
  - {{target_comp_id: FAST, role: echo}}
"""


def test_rate_limit_slows_a_flooding_client_without_dropping_it(tmp_path):
    gw = Gateway(tmp_path, CONFIG).start()
    try:
        c = Client(gw.port, "FAST", "FIXGW")
        assert c.logon()[35] == "A"
        n = 4000
        t0 = time.monotonic()
        c.raw(b"".join(c.make("1", [(112, str(i))]) for i in range(n)))
        replies = [c.recv(20)[112] for _ in range(n)]
        elapsed = time.monotonic() - t0
        assert replies == [str(i) for i in range(n)]       # every one answered, in order
        assert elapsed >= 2.5          # a 1000-message burst, then 1000/s
        c.close()
        # While throttled the gateway does not read, so it sees the close only when the pause
        # ends (< 1.5 s here); until then a new Logon is a duplicate and silently refused.
        deadline = time.monotonic() + 5
        while True:
            again = Client(gw.port, "FAST", "FIXGW")
            reply = again.logon()
            if reply is not None or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert reply is not None and reply[35] == "A"
    finally:
        gw.kill()


def test_sqlite_store_survives_reopen_and_reset_drops_messages(tmp_path):
    path = tmp_path / "s.db"
    store = SqliteStore(path)
    assert store.load("k").next_sender == 1
    store.save_message("k", 1, b"one")
    store.save_message("k", 2, b"two")
    store.set_seqnums("k", 3, 7)
    assert store.messages("k", 1, 5) == [(1, b"one"), (2, b"two")]   # reads see pending writes
    store.commit()
    store.save_message("k", 3, b"uncommitted")
    store._db.close()                                        # crash: no commit
    store.release_lock()
    again = SqliteStore(path)
    state = again.load("k")
    assert (state.next_sender, state.next_target) == (3, 7)
    assert again.messages("k", 1, 10) == [(1, b"one"), (2, b"two")]
    again.reset("k", 123.0)
    again.commit()
    assert again.messages("k", 1, 10) == [] and again.load("k").created == 123.0
    again.close()
