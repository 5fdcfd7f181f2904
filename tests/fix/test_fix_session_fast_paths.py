"""The session core's shortcuts give exactly what the general code gives.

``SessionCore._build`` without extra header fields (two cached strings around MsgSeqNum and
SendingTime) against ``codec.encode`` with the header spelt out; ``next_deadline`` without a
list against the plain min() of the same deadlines; ``_order_body`` against a stable sort.
"""
from __future__ import annotations

import itertools
import pathlib
import random

import pytest

from fixgw.fix.codec import encode, utc_timestamp
from fixgw.fix.dictionary import load_dictionary
from fixgw.fix.validation import ValidationSettings, Validator
from fixgw.session.application import SessionID
from fixgw.session.core import SessionCore, SessionRules
from fixgw.session.store import MemoryStore

DICT = pathlib.Path(__file__).resolve().parents[2] / "dictionaries"
SID = SessionID("FIX.4.4", "ISLD", "TW44")


@pytest.fixture(scope="module")
def dictionary():
    return load_dictionary([DICT / "FIX44.xml", DICT / "FIX44-fixgw.xml"])


def make_core(dictionary, **rules) -> SessionCore:
    return SessionCore(SID, dictionary, Validator(dictionary, ValidationSettings()),
                       MemoryStore(), SessionRules(**rules))


BODIES = [
    [],
    [(11, "A1"), (21, "1"), (38, "100"), (40, "2"), (44, "10.5"), (54, "1"), (55, "X")],
    [(58, "caf\xe9 = text"), (12345, "user"), (7, "1")],
]


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize("msg_type", ["D", "0", "j"])
def test_build_with_cached_header_equals_general_encode(dictionary, body, msg_type):
    core = make_core(dictionary)
    now = 1_700_000_000.1234
    header = [(34, "4711"), (49, "ISLD"), (52, utc_timestamp(now)), (56, "TW44")]
    assert core._build(msg_type, 4711, now, body) == encode("FIX.4.4", msg_type, header, body)
    extra = [(43, "Y"), (122, "20240101-00:00:00.000"), (50, "DESK")]
    merged = sorted(header + extra, key=lambda f: f[0])
    assert core._build(msg_type, 4711, now, body, extra) == \
        encode("FIX.4.4", msg_type, merged, body)


def reference_deadline(core: SessionCore) -> float | None:
    if not core.connected or core.close_requested:
        return None
    deadlines = []
    if core._logout_deadline is not None:
        deadlines.append(core._logout_deadline)
    if core._window_end is not None:
        deadlines.append(core._window_end)
    hb = core.heartbeat_interval
    if hb > 0:
        if core._test_requests == 0:
            deadlines.append(core._last_sent + hb)
        if core.rules.heartbeat_check:
            deadlines.append(core._last_received + 1.2 * (core._test_requests + 1) * hb)
            deadlines.append(core._last_received + 2.4 * hb)
    return min(deadlines) if deadlines else None


def test_next_deadline_equals_the_min_of_every_deadline(dictionary):
    rng = random.Random(7)
    cores = [make_core(dictionary), make_core(dictionary, heartbeat_check=False)]
    for core, connected, closing, logout, window, hb, tests in itertools.product(
            cores, [True, False], [False, True], [None, 1000.5, 1010.0], [None, 1003.0, 990.0],
            [0, 1, 30], [0, 1, 2]):
        core.connected, core.close_requested = connected, closing
        core._logout_deadline, core._window_end = logout, window
        core.heartbeat_interval, core._test_requests = hb, tests
        core._last_sent = 1000.0 + rng.uniform(-40, 5)
        core._last_received = 1000.0 + rng.uniform(-40, 5)
        assert core.next_deadline() == reference_deadline(core)


def test_order_body_is_a_stable_sort_without_groups_and_keeps_group_entries(dictionary):
    core = make_core(dictionary)
    body = [(55, "X"), (11, "A"), (58, "b"), (38, "1"), (58, "a")]
    assert core._order_body("D", body) == sorted(body, key=lambda f: f[0])
    grouped = [(55, "X"), (957, "2"), (958, "venues"), (959, "14"), (960, "a b"),
               (958, "minclip"), (959, "7"), (960, "5"), (11, "A")]
    assert core._order_body("D", grouped) == [(11, "A"), (55, "X"), *grouped[1:8]]
    assert core._order_body("UNKNOWN", body) == sorted(body, key=lambda f: f[0])
