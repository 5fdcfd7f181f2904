"""Drop-copy sessions can never trade: order-like messages get a BusinessMessageReject."""
from __future__ import annotations

from fixgw.dropcopy import DropCopyGuard
from fixgw.fix.message import FixMessage


class RecordingApp:
    def __init__(self):
        self.events = []

    def on_create(self, session):
        self.events.append(("create", session.session_id.target_comp_id))

    def on_logon(self, session):
        self.events.append(("logon", session.session_id.target_comp_id))

    def on_logout(self, session):
        self.events.append(("logout", session.session_id.target_comp_id))

    def on_message(self, session, message):
        self.events.append(("message", session.session_id.target_comp_id, message.msg_type))


def inbound(*fields):
    return FixMessage(((8, "FIX.4.4"), (35, fields[0]), (34, "7"), (49, "DROPCOPY"), (56, "FIXGW"))
                      + tuple(fields[1:]))


def test_new_order_on_drop_copy_session_is_refused_and_never_reaches_the_oms(make_session):
    oms_app = RecordingApp()
    guard = DropCopyGuard(oms_app)
    dc = make_session("DROPCOPY", role="drop-copy")
    guard.on_create(dc)
    guard.on_logon(dc)
    guard.on_message(dc, inbound("D", (11, "CL1"), (55, "BTC/USDT"), (54, "1"), (38, "1"), (40, "1")))
    assert oms_app.events == []
    (seq, msg_type, body), = dc.delivered
    fields = dict(body)
    assert msg_type == "j"
    assert fields[45] == "7" and fields[372] == "D" and fields[379] == "CL1" and fields[380] == "6"
    assert fields[58] == ("drop-copy session FIX.4.4:FIXGW->DROPCOPY is receive-only: NewOrderSingle "
                          "(35=D) refused, drop-copy sessions can never trade")


def test_cancel_replace_and_mass_cancel_are_refused_too(make_session):
    guard = DropCopyGuard(RecordingApp())
    dc = make_session("DROPCOPY", role="drop-copy")
    guard.on_message(dc, inbound("F", (41, "CL1"), (11, "CL2")))
    guard.on_message(dc, inbound("G", (41, "CL2"), (11, "CL3")))
    guard.on_message(dc, inbound("q", (11, "M1"), (530, "7")))
    guard.on_message(dc, inbound("B", (148, "hello")))          # not order-like: unsupported
    reasons = [(dict(b)[372], dict(b)[380]) for _, _, b in dc.delivered]
    assert reasons == [("F", "6"), ("G", "6"), ("q", "6"), ("B", "3")]
    assert "MsgType 35=B is not accepted" in dict(dc.delivered[-1][2])[58]


def test_order_entry_sessions_pass_through_unchanged(make_session):
    app = RecordingApp()
    guard = DropCopyGuard(app)
    oms = make_session("OMS")
    guard.on_create(oms)
    guard.on_logon(oms)
    guard.on_message(oms, inbound("D", (11, "CL1")))
    guard.on_logout(oms)
    assert app.events == [("create", "OMS"), ("logon", "OMS"), ("message", "OMS", "D"), ("logout", "OMS")]
    assert oms.delivered == []
