"""Drop copy at each level, in upstream order, in scope only, stored for catch-up."""
from __future__ import annotations

import pytest

from fixgw.dropcopy import DropCopyConfigError, DropCopyLevel, DropCopyRouter, copy_body


def er(cl: str, exec_type: str, status: str, account: str = "ACC1", **extra) -> list[tuple[int, str]]:
    body = [(37, f"O-{cl}"), (11, cl), (17, f"E-{cl}-{exec_type}"), (150, exec_type), (39, status),
            (1, account), (55, "BTC/USDT"), (54, "1"), (38, "2"), (151, "1"), (14, "1"), (6, "30000")]
    body += [(tag, value) for tag, value in extra.items()]
    return body


def cxl_reject(cl: str, account: str = "ACC1") -> list[tuple[int, str]]:
    return [(37, f"O-{cl}"), (11, f"C-{cl}"), (41, cl), (39, "2"), (1, account), (434, "1"), (102, "0"),
            (58, "too late to cancel: order filled")]


# one order's life as the OMS sends it upstream (msg_type, body)
LIFE = [
    ("8", er("A", "A", "A")),             # pending new
    ("8", er("A", "0", "0")),             # new
    ("8", er("A", "F", "1")),             # partial fill
    ("8", er("A", "F", "2")),             # fill
    ("9", cxl_reject("A")),               # cancel too late
    ("8", er("A", "H", "2")),             # trade cancel (bust)
    ("8", er("B", "8", "8")),             # reject
    ("8", er("C", "0", "0")),
    ("8", er("C", "5", "0")),             # replaced
    ("8", er("C", "C", "C")),             # expired
    ("8", er("C", "I", "C")),             # status reply
]


def build(make_session, **dc_settings):
    oms = make_session("OMS")
    oms2 = make_session("OMS2")
    echo = make_session("ECHO", role="echo")
    dc = make_session("DROPCOPY", role="drop-copy", **dc_settings)
    router = DropCopyRouter({s.session_id: s for s in (oms, oms2, echo, dc)})
    return router, oms, oms2, echo, dc


def sent_types(dc):
    return [(msg_type, dict(body).get(150)) for _, msg_type, body in dc.delivered]


@pytest.mark.parametrize("level,expected", [
    ("ALL", [("8", "A"), ("8", "0"), ("8", "F"), ("8", "F"), ("9", None), ("8", "H"), ("8", "8"),
             ("8", "0"), ("8", "5"), ("8", "C"), ("8", "I")]),
    ("FILLS", [("8", "F"), ("8", "F"), ("8", "H")]),
    ("ORDERS", [("8", "A"), ("8", "0"), ("9", None), ("8", "8"), ("8", "0"), ("8", "5"), ("8", "C"),
                ("8", "I")]),
])
def test_each_level_in_upstream_order(make_session, level, expected):
    router, oms, _, _, dc = build(make_session, level=level)
    for msg_type, body in LIFE:
        router.send_upstream(oms, msg_type, body)
    assert len(oms.delivered) == len(LIFE)          # the upstream send happened
    assert sent_types(dc) == expected
    # every copy is the upstream message with 797=Y in front, in upstream order
    wanted = [(t, list(b)) for _, t, b in oms.delivered if DropCopyLevel(level).includes(t, b)]
    assert [(t, list(b)) for _, t, b in dc.delivered] == [(t, [(797, "Y")] + b) for t, b in wanted]


def test_default_scope_is_all_order_entry_sessions_only(make_session):
    router, oms, oms2, echo, dc = build(make_session)           # level ALL, default scope
    router.send_upstream(oms, "8", er("A", "0", "0"))
    router.send_upstream(oms2, "8", er("B", "0", "0"))
    router.send_upstream(echo, "8", er("E", "0", "0"))           # not order-entry
    router.on_upstream(dc.session_id, None, "8", er("X", "0", "0"))  # never copy a copy
    router.send_upstream(oms, "j", [(372, "D"), (380, "3")])     # not an ER / 35=9
    assert [dict(b)[11] for _, _, b in dc.delivered] == ["A", "B"]


def test_scope_by_session_and_account(make_session):
    oms, oms2 = make_session("OMS"), make_session("OMS2")
    by_session = make_session("DC1", role="drop-copy", level="ALL", scope={"sessions": ["OMS2"]})
    by_account = make_session("DC2", role="drop-copy", level="FILLS", scope={"accounts": ["ACC2"]})
    both = make_session("DC3", role="drop-copy",
                        scope={"sessions": ["FIX.4.4:FIXGW->OMS"], "accounts": ["ACC2"]})
    router = DropCopyRouter([oms, oms2, by_session, by_account, both])
    router.send_upstream(oms, "8", er("A", "F", "1", account="ACC1"))
    router.send_upstream(oms, "8", er("B", "F", "1", account="ACC2"))
    router.send_upstream(oms2, "8", er("C", "F", "1", account="ACC2"))
    router.send_upstream(oms2, "8", er("D", "0", "0", account="ACC2"))
    assert [dict(b)[11] for _, _, b in by_session.delivered] == ["C", "D"]
    assert [dict(b)[11] for _, _, b in by_account.delivered] == ["B", "C"]
    assert [dict(b)[11] for _, _, b in both.delivered] == ["B"]
    # the account may be passed explicitly (e.g. when the body has none)
    router.on_upstream(oms.session_id, "ACC2", "8", [(11, "E"), (150, "F")])
    assert [dict(b)[11] for _, _, b in by_account.delivered][-1] == "E"


def test_copies_are_stored_while_logged_out_and_resent_in_order(make_session):
    router, oms, _, _, dc = build(make_session, level="ALL")
    router.send_upstream(oms, "8", er("A", "0", "0"))
    dc.logged_on = False                                          # compliance client down
    for cl in "BCD":
        router.send_upstream(oms, "8", er(cl, "F", "2"))
    dc.logged_on = True
    router.send_upstream(oms, "8", er("E", "0", "0"))
    assert [dict(b)[11] for _, _, b in dc.delivered] == ["A", "E"]
    # the client's ResendRequest 7=2 16=0 gets exactly what it missed, in order, still 797=Y
    missed = dc.resend(2, 0)
    assert [(seq, dict(b)[11], dict(b)[797]) for seq, _, b in missed] == [
        (2, "B", "Y"), (3, "C", "Y"), (4, "D", "Y"), (5, "E", "Y")]


def test_a_failing_drop_copy_session_does_not_disturb_others(make_session):
    oms = make_session("OMS")
    broken = make_session("DC1", role="drop-copy")
    good = make_session("DC2", role="drop-copy")

    def explode(msg_type, body):
        raise RuntimeError("store full")
    broken.send = explode
    router = DropCopyRouter([oms, broken, good])
    assert router.send_upstream(oms, "8", er("A", "0", "0")) == 1
    assert len(good.delivered) == 1 and len(oms.delivered) == 1


def test_copy_body_replaces_an_existing_indicator():
    assert copy_body([(11, "A"), (797, "N")]) == [(797, "Y"), (11, "A")]


@pytest.mark.parametrize("settings,message", [
    ({"level": "EVERYTHING"}, "level 'EVERYTHING' is not one of FILLS, ORDERS, ALL"),
    ({"scope": {"sessions": ["NOPE"]}}, "scope.sessions names unknown session 'NOPE'"),
    ({"scope": {"accounts": "ACC1"}}, "scope.accounts: expected a non-empty list of names"),
    ({"scope": {"desks": ["X"]}}, "unknown key 'desks'"),
    ({"scope": 5}, "scope: expected a mapping"),
])
def test_bad_settings_name_session_key_and_value(make_session, settings, message):
    dc = make_session("DROPCOPY", role="drop-copy", **settings)
    with pytest.raises(DropCopyConfigError) as err:
        DropCopyRouter([make_session("OMS"), dc])
    assert "session FIX.4.4:FIXGW->DROPCOPY" in str(err.value) and message in str(err.value)


def test_nested_drop_copy_block_and_scope_shorthand(make_session):
    oms = make_session("OMS")
    dc = make_session("DC", role="drop-copy", drop_copy={"level": "fills", "scope": "all order-entry"})
    router = DropCopyRouter([oms, dc])
    router.send_upstream(oms, "8", er("A", "0", "0"))
    router.send_upstream(oms, "8", er("A", "F", "2"))
    assert sent_types(dc) == [("8", "F")]


def test_a_drop_copy_session_that_resets_on_logon_is_flagged(make_session, caplog):
    dc = make_session("DROPCOPY", role="drop-copy", reset_on_logon=True)
    with caplog.at_level("WARNING", logger="fixgw.dropcopy"):
        DropCopyRouter([make_session("OMS"), dc])
    assert "cannot catch up by ResendRequest" in caplog.text and "DROPCOPY" in caplog.text
