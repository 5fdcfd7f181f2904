#!/usr/bin/env python3
"""Interoperability check: the real QuickFIX 1.16.0 engine as the *initiator* against an acceptor
(fixgw in conformance mode, or scripts/quickfix_acceptor.py as a control).

It logs on as TW44 -> ISLD, exchanges heartbeats for ``--idle`` seconds with a short HeartBtInt
(QuickFIX then checks our Heartbeats and TestRequest handling on its own), sends ``--orders``
NewOrderSingles and waits for every echo, then logs out. Any session-level Reject, a Logout it
did not ask for, or a missing echo fails the check (exit code 1). Needs ``import quickfix``
(run it with /work/qfvenv/bin/python).

    /work/qfvenv/bin/python scripts/quickfix_initiator.py --port 9880 --orders 200 --idle 5
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import threading
import time

import quickfix as fix

REPO = pathlib.Path(__file__).resolve().parent.parent
DICTIONARY_CANDIDATES = (REPO.parent / "shared" / "reference" / "FIX44.xml",
                         REPO / "dictionaries" / "FIX44.xml")


class Initiator(fix.Application):
    def __init__(self) -> None:
        super().__init__()
        self.session_id = None
        self.logged_on = threading.Event()
        self.logged_out = threading.Event()
        self.echoes: set[str] = set()
        self.problems: list[str] = []
        self.heartbeats_in = 0
        self.lock = threading.Lock()

    def onCreate(self, session_id):  # noqa: N802
        self.session_id = session_id

    def onLogon(self, session_id):  # noqa: N802
        self.logged_on.set()

    def onLogout(self, session_id):  # noqa: N802
        self.logged_out.set()

    def toAdmin(self, message, session_id):  # noqa: N802
        pass

    def toApp(self, message, session_id):  # noqa: N802
        pass

    def fromAdmin(self, message, session_id):  # noqa: N802
        msg_type = message.getHeader().getField(35)
        if msg_type == "0":
            with self.lock:
                self.heartbeats_in += 1
        elif msg_type == "3":
            self.problems.append("Reject: " + message.toString().replace("\x01", "|"))
        elif msg_type == "5" and not self.logged_out.is_set() and message.isSetField(58):
            self.problems.append("Logout from acceptor: " + message.getField(58))

    def fromApp(self, message, session_id):  # noqa: N802
        msg_type = message.getHeader().getField(35)
        if msg_type == "D":
            with self.lock:
                self.echoes.add(message.getField(11))
        else:
            self.problems.append("unexpected app message: "
                                 + message.toString().replace("\x01", "|"))


def new_order(cl_ord_id: str) -> fix.Message:
    msg = fix.Message()
    msg.getHeader().setField(fix.BeginString("FIX.4.4"))
    msg.getHeader().setField(fix.MsgType("D"))
    msg.setField(fix.ClOrdID(cl_ord_id))
    msg.setField(fix.HandlInst("1"))
    msg.setField(fix.Symbol("BTCUSDT"))
    msg.setField(fix.Side(fix.Side_BUY))
    msg.setField(fix.OrderQty(1.5))
    msg.setField(fix.OrdType(fix.OrdType_LIMIT))
    msg.setField(fix.Price(65000.5))
    transact = fix.TransactTime()
    msg.setField(transact)
    return msg


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--orders", type=int, default=100)
    p.add_argument("--idle", type=float, default=5.0, help="seconds of heartbeats only")
    p.add_argument("--heartbeat", type=int, default=2)
    args = p.parse_args(argv)
    dictionary = next(c for c in DICTIONARY_CANDIDATES if c.is_file())
    work = pathlib.Path(tempfile.mkdtemp(prefix="qf-initiator-"))
    cfg = work / "initiator.cfg"
    cfg.write_text(
        "[DEFAULT]\nConnectionType=initiator\nReconnectInterval=60\nStartTime=00:00:00\n"
        f"EndTime=00:00:00\nFileStorePath={work}/store\nFileLogPath={work}/log\n"
        "ResetOnLogon=Y\n"
        f"[SESSION]\nBeginString=FIX.4.4\nSenderCompID=TW44\nTargetCompID=ISLD\n"
        f"SocketConnectHost={args.host}\nSocketConnectPort={args.port}\n"
        f"HeartBtInt={args.heartbeat}\nDataDictionary={dictionary}\n")
    settings = fix.SessionSettings(str(cfg))
    app = Initiator()
    initiator = fix.SocketInitiator(app, fix.FileStoreFactory(settings), settings,
                                    fix.FileLogFactory(settings))
    initiator.start()
    ok = False
    try:
        if not app.logged_on.wait(10):
            print("FAIL: no Logon within 10 s")
            return 1
        time.sleep(args.idle)
        if app.logged_out.is_set():
            app.problems.append("session dropped while idle (heartbeat handling)")
        ids = [f"QF{i}" for i in range(args.orders)]
        for cl_ord_id in ids:
            fix.Session.sendToTarget(new_order(cl_ord_id), app.session_id)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and len(app.echoes) < len(ids):
            time.sleep(0.05)
        missing = sorted(set(ids) - app.echoes)
        if missing:
            app.problems.append(f"{len(missing)} orders not echoed, e.g. {missing[:3]}")
        fix.Session.lookupSession(app.session_id).logout()
        if not app.logged_out.wait(10):
            app.problems.append("no Logout answer within 10 s")
        ok = not app.problems
    finally:
        initiator.stop()
    print(f"heartbeats received while idle: {app.heartbeats_in}; orders echoed: "
          f"{len(app.echoes)}/{args.orders}; log: {work}/log")
    for problem in app.problems:
        print("PROBLEM:", problem)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
