"""``application: module:factory``: ServiceContext, settings/role pass-through, send() while logged out."""
from __future__ import annotations

import pathlib
import sqlite3
import time

from session_harness import DICTS, Client, Gateway

HERE = pathlib.Path(__file__).resolve().parent

CONFIG = f"""
state_dir: state
application: session_test_service:build
listen: {{host: 127.0.0.1, port: 0}}
session_defaults: {{begin_string: FIX.4.4, sender_comp_id: FIXGW, dictionary: {DICTS}}}
sessions:
  - {{target_comp_id: OMS1, role: order-entry, greeting: hello-oms}}
"""


def test_factory_service_and_message_sent_while_logged_out(tmp_path):
    gw = Gateway(tmp_path, CONFIG, {"PYTHONPATH": str(HERE)}).start()
    try:
        c = Client(gw.port, "OMS1", "FIXGW")
        reply = c.logon()
        assert (reply[35], reply[34]) == ("A", "2")      # seq 1 went to the stored ER
        c.send("2", [(7, "1"), (16, "0")])
        er = c.recv()
        assert (er[35], er[34], er[43], er[58]) == ("8", "1", "Y", "hello-oms")
        assert c.recv()[35] == "4"                       # the Logon (2) as a gap fill
        c.send("D", [(11, "x"), (21, "1"), (40, "1"), (54, "1"), (55, "X"),
                     (60, "20240101-00:00:00")])
        assert c.recv()[58] == "role=order-entry"
        db = sqlite3.connect(tmp_path / "state" / "fixgw.db")
        assert "FIX.4.4:FIXGW->OMS1" in db.execute("SELECT note FROM test_journal").fetchone()[0]
        # The store's applier process moves journaled messages into the table shortly after.
        deadline = time.monotonic() + 5
        while db.execute("SELECT COUNT(*) FROM fix_outgoing").fetchone()[0] < 2:
            assert time.monotonic() < deadline, "stored messages never reached fix_outgoing"
            time.sleep(0.02)
    finally:
        gw.kill()
