"""The sans-I/O session core, driven with a fake clock and the memory store."""
from __future__ import annotations

import pathlib

import pytest

from fixgw.clock import FakeClock
from fixgw.fix.codec import encode, parse, utc_timestamp
from fixgw.fix.dictionary import load_dictionary
from fixgw.fix.validation import ValidationSettings, Validator
from fixgw.session.application import SessionID
from fixgw.session.core import SessionCore, SessionRules, State
from fixgw.session.schedule import build_schedule
from fixgw.session.store import MemoryStore

DICT = pathlib.Path(__file__).resolve().parents[2] / "dictionaries"
SID = SessionID("FIX.4.4", "ISLD", "TW44")


@pytest.fixture(scope="module")
def dictionary():
    return load_dictionary([DICT / "FIX44.xml", DICT / "FIX44-fixgw.xml"])


class Peer:
    """The counterparty: numbers its messages, parses what the core sends."""

    def __init__(self, core: SessionCore, clock: FakeClock) -> None:
        self.core, self.clock, self.seq = core, clock, 1

    def make(self, msg_type, body=(), seq=None, header=()):
        if seq is None:
            seq, self.seq = self.seq, self.seq + 1
        hdr = sorted([(34, str(seq)), (49, "TW44"), (52, utc_timestamp(self.clock.now())),
                      (56, "ISLD"), *header])
        return parse(encode("FIX.4.4", msg_type, hdr, list(body)))

    def logon(self, hb=30, extra=()):
        self.core.accept_logon(self.make("A", [(98, "0"), (108, str(hb)), *extra]),
                               self.clock.now())
        return self.out()

    def send(self, msg_type, body=(), seq=None, header=()):
        self.core.receive(self.make(msg_type, body, seq, header), self.clock.now())
        return self.out()

    def out(self):
        return [dict(parse(raw).fields) for raw in self.core.take_output()]


def make_core(dictionary, store=None, clock=None, **rules):
    clock = clock or FakeClock()
    schedule = build_schedule(rules.pop("schedule", None))
    core = SessionCore(SID, dictionary, Validator(dictionary, ValidationSettings()),
                       store or MemoryStore(), SessionRules(**rules), schedule)
    core.connected = True
    return core, Peer(core, clock), clock


class Recorder:
    def __init__(self):
        self.events = []

    def on_logon(self):
        self.events.append("logon")

    def on_logout(self):
        self.events.append("logout")

    def on_app_message(self, message):
        self.events.append(message.msg_type)


NOS = [(11, "A1"), (21, "1"), (38, "1"), (40, "1"), (54, "1"), (55, "X"),
       (60, "20240101-00:00:00")]


def test_logon_reply_and_heartbeat_timing(dictionary):
    core, peer, clock = make_core(dictionary)
    out = peer.logon(hb=6)
    assert [(m[35], m[34], m[98], m[108]) for m in out] == [("A", "1", "0", "6")]
    assert core.state is State.LOGGED_ON
    assert core.next_deadline() == pytest.approx(clock.now() + 6)
    clock.advance(6)
    core.on_timer(clock.now())
    assert [m[35] for m in peer.out()] == ["0"]
    peer.send("0")
    clock.advance(7.2)                          # 1.2 x HeartBtInt of inbound silence
    core.on_timer(clock.now())
    out = peer.out()
    assert [(m[35], m.get(112)) for m in out] == [("1", "TEST")]
    clock.advance(7.2)                          # 2.4 x: give up
    core.on_timer(clock.now())
    assert core.close_requested and core.state is State.DISCONNECTED


def test_gap_queues_messages_and_asks_once(dictionary):
    core, peer, clock = make_core(dictionary)
    rec = Recorder()
    core.listener = rec
    peer.logon()
    out = peer.send("D", NOS, seq=4)
    assert [(m[35], m[7], m[16]) for m in out] == [("2", "2", "0")]
    assert peer.send("D", NOS, seq=5) == []          # no second ResendRequest
    peer.send("D", NOS, seq=2)
    assert rec.events.count("D") == 1
    peer.send("0", seq=3)                            # fills the gap: 4 and 5 now processed
    assert rec.events.count("D") == 3 and core.next_target == 6


def test_resend_sends_app_messages_and_gap_fills_admin_runs(dictionary):
    core, peer, clock = make_core(dictionary)
    peer.logon()                                     # our seq 1 = Logon
    core.send_app("8", [(37, "O1"), (17, "E1"), (150, "0"), (39, "0"), (54, "1"),
                        (151, "1"), (14, "0"), (6, "0")], clock.now())   # seq 2
    peer.send("1", [(112, "x")])                     # our seq 3 = Heartbeat
    core.send_app("8", [(37, "O2"), (17, "E2"), (150, "0"), (39, "0"), (54, "1"),
                        (151, "1"), (14, "0"), (6, "0")], clock.now())   # seq 4
    peer.send("1", [(112, "y")])                     # our seq 5
    peer.out()
    out = peer.send("2", [(7, "1"), (16, "0")])
    assert [(m[35], m[34], m.get(36), m.get(43)) for m in out] == [
        ("4", "1", "2", "Y"), ("8", "2", None, "Y"), ("4", "3", "4", "Y"),
        ("8", "4", None, "Y"), ("4", "5", "6", "Y")]
    assert out[1][122] and out[1][37] == "O1"


def test_send_while_logged_out_is_stored_and_resent(dictionary):
    store = MemoryStore()
    core, peer, clock = make_core(dictionary, store=store)
    core.connected = False
    seq = core.send_app("8", [(37, "O1"), (17, "E1"), (150, "0"), (39, "0"), (54, "1"),
                              (151, "1"), (14, "0"), (6, "0")], clock.now())
    assert seq == 1 and core.take_output() == [] and store.messages(core.key, 1, 1)
    core.connected = True
    out = peer.logon()
    assert out[0][34] == "2"
    out = peer.send("2", [(7, "1"), (16, "0")])
    assert [(m[35], m[34], m[43]) for m in out] == [("8", "1", "Y"), ("4", "2", "Y")]


def test_seq_too_low_without_possdup_logs_out(dictionary):
    core, peer, clock = make_core(dictionary)
    peer.logon()
    peer.send("0")
    out = peer.send("0", seq=2)
    assert out[-1][35] == "5" and out[-1][58] == "MsgSeqNum too low, expecting 3 but received 2"
    assert core.close_requested


def test_reject_reverses_routing_and_counts(dictionary):
    core, peer, clock = make_core(dictionary)
    peer.logon()
    body = [f if f[0] != 40 else (40, "w") for f in NOS]
    out = peer.send("D", body, header=[(115, "JCD")])
    assert out[0][35] == "3" and out[0][128] == "JCD" and out[0][371] == "40"
    assert out[0][373] == "5" and core.next_target == 3


def test_resets_on_logout_and_logon_flags(dictionary):
    store = MemoryStore()
    core, peer, clock = make_core(dictionary, store=store, reset_on_logout=True)
    peer.logon()
    peer.send("0")
    peer.send("5")
    assert core.close_requested and store.load(core.key).next_sender == 1


def test_daily_schedule_resets_at_window_start(dictionary):
    store = MemoryStore()
    clock = FakeClock(t=1_700_000_000.0)   # 2023-11-14 22:13:20 UTC
    core, peer, clock = make_core(dictionary, store=store, clock=clock,
                                  schedule={"type": "daily", "start": "22:00:00",
                                            "end": "23:00:00", "tz": "UTC"})
    store.set_seqnums(core.key, 50, 60)
    core.next_sender, core.next_target = 50, 60
    core._created = clock.now() - 86400          # created in yesterday's window
    core.connected = False
    assert core.can_accept_logon(clock.now())
    peer.logon()
    assert core.next_sender == 2 and core.next_target == 2
    assert not core.can_accept_logon(clock.now() + 3600)   # 23:13: window closed


def test_logged_out_send_in_a_new_window_belongs_to_the_new_window(dictionary):
    store = MemoryStore()
    clock = FakeClock(t=1_700_000_000.0)   # 22:13:20 UTC, inside 22:00-23:00
    core, peer, clock = make_core(dictionary, store=store, clock=clock,
                                  schedule={"type": "daily", "start": "22:00:00",
                                            "end": "23:00:00", "tz": "UTC"})
    core.connected = False
    core.next_sender, core.next_target = 40, 40
    core._created = clock.now() - 86400
    assert core.send_app("8", [(37, "O"), (17, "E"), (150, "0"), (39, "0"), (54, "1"),
                               (151, "1"), (14, "0"), (6, "0")], clock.now()) == 1
    core.connected = True
    out = peer.logon()
    assert out[0][34] == "2"                    # not reset again: the ER (1) is kept
    out = peer.send("2", [(7, "1"), (16, "0")])
    assert (out[0][35], out[0][34]) == ("8", "1")


def test_missing_required_field_gets_the_right_reject(dictionary):
    core, peer, clock = make_core(dictionary)
    peer.logon()
    body = [f for f in NOS if f[0] not in (11, 55)]
    out = peer.send("D", body)
    assert [(m[35], m[45], m[58], m[371], m[372], m[373]) for m in out] == [
        ("3", "2", "Required tag missing", "11", "D", "1")]
