"""Retention: finished orders leave the order manager's memory after
``oms.retain_terminal_orders_s`` of quiet, and everything that can still name them is answered
from the journal exactly as before (status, cancel/replace too late, duplicate ClOrdID, a late
venue fill, mass cancel, TCA).

Same in-test venue harness as test_oms_manager.py (real journal on SQLite, real router), with a
FakeClock so the retention is driven by the test, not by waiting.
"""
import asyncio
from decimal import Decimal

from fixgw.clock import FakeClock
from fixgw.config import OmsConfig
from fixgw.fix.message import FixMessage
from fixgw.oms.journal import Journal
from fixgw.oms.manager import OrderManager
from fixgw.routing.sor import SmartOrderRouter
from fixgw.venues.base import VenueFill, VenueOrderState

from test_oms_manager import HarnessMarket, HarnessSession, HarnessVenue, check_consistent, nos

D = Decimal
RETAIN = 60.0
VOLATILE = {17, 60}      # ExecID and TransactTime differ between two status answers


def build(db, clock, retain=RETAIN):
    venues = {"a": HarnessVenue("a"), "b": HarnessVenue("b")}
    oms = OrderManager(journal=Journal(db), clock=clock, venues=venues,
                       router=SmartOrderRouter(), market=HarnessMarket(venues),
                       config=OmsConfig(retain_terminal_orders_s=retain))
    s = HarnessSession()
    oms.on_create(s)
    return oms, s, venues


def run(test, db, retain=RETAIN):
    async def main():
        clock = FakeClock()
        oms, s, venues = build(db, clock, retain)
        await test(oms, s, venues, clock)
        for er in s.ers():
            check_consistent(er)
        ids = [er[17] for er in s.ers()]
        assert len(ids) == len(set(ids))
    asyncio.run(main())


async def settle():
    for _ in range(10):
        await asyncio.sleep(0)


def memory(oms):
    """Every per-order structure the manager keeps."""
    return {"orders": len(oms.orders), "live": len(oms.live), "runtime": len(oms.runtime),
            "children": len(oms.children), "child_rt": len(oms.child_rt),
            "slices": len(oms.child_rt._by_slice), "by_cl_ord_id": len(oms.by_cl_ord_id),
            "used_cl_ord_ids": len(oms.used_cl_ord_ids), "claims": len(oms._claims),
            "terminal_since": len(oms._terminal_since)}


EMPTY = dict.fromkeys(["orders", "live", "runtime", "children", "child_rt", "slices",
                       "by_cl_ord_id", "used_cl_ord_ids", "claims", "terminal_since"], 0)


def cancel(cl, orig):
    return FixMessage(((35, "F"), (11, cl), (41, orig), (55, "BTC/USDT"), (54, "1")))


def replace(cl, orig, qty="3"):
    return FixMessage(((35, "G"), (11, cl), (41, orig), (55, "BTC/USDT"), (54, "1"),
                       (38, qty), (40, "2"), (44, "100")))


def status(cl, req="Q1"):
    return FixMessage(((35, "H"), (11, cl), (55, "BTC/USDT"), (54, "1"), (790, req)))


def last(s, msg_type):
    return [b for t, b in s.sent if t == msg_type][-1]


async def filled_order(oms, s, v, cl="C1"):
    """A limit order split over both venues, filled by two fills: Filled, children done."""
    oms.on_message(s, nos(cl, "2", "101", tif="1"))
    await settle()
    ra, rb = v["a"].submits[-1], v["b"].submits[-1]
    v["a"].fill(ra, D(1), D(100))
    v["b"].fill(rb, D(1), D(101))
    await settle()
    assert s.ers()[-1][39] == "2"
    return s.ers()[-1][37]


async def canceled_partial(oms, s, v, cl="C1", cxl="C2"):
    """A resting order, 0.4 filled at venue a, then canceled by the client: Canceled."""
    oms.on_message(s, nos(cl, "1", "100", tif="1"))
    await settle()
    req = v["a"].submits[-1]
    v["a"].fill(req, D("0.4"), D(100))
    await settle()
    oms.on_message(s, cancel(cxl, cl))
    await settle()
    assert s.ers()[-1][150] == "4" and s.ers()[-1][14] == "0.4"
    return req, s.ers()[-1][37]


def test_finished_orders_leave_memory_after_the_retention_and_not_before(tmp_path):
    async def t(oms, s, v, clock):
        for i in range(5):
            await filled_order(oms, s, v, f"F{i}")
        assert memory(oms)["orders"] == 5 and memory(oms)["children"] == 10
        clock.advance(RETAIN - 1)
        assert oms.sweep_retention() == 0 and len(oms.orders) == 5
        clock.advance(2)
        assert oms.sweep_retention() == 5
        assert memory(oms) == EMPTY
        assert oms.forgotten_orders == 5
    run(t, tmp_path / "db")


def test_retention_counts_from_the_last_activity_and_keeps_working_orders(tmp_path):
    async def t(oms, s, v, clock):
        await filled_order(oms, s, v, "DONE")
        oms.on_message(s, nos("WORK", "0.5", "90", tif="1"))   # rests, never fills
        await settle()
        clock.advance(RETAIN + 1)
        assert oms.sweep_retention() == 1
        assert [o.cl_ord_id for o in oms.orders.values()] == ["WORK"]
        assert len(oms.children) == 1 and len(oms.used_cl_ord_ids) == 1
        clock.advance(10 * RETAIN)
        assert oms.sweep_retention() == 0 and len(oms.orders) == 1   # working: never dropped
        oms.on_message(s, cancel("WORK-X", "WORK"))
        await settle()
        assert s.ers()[-1][39] == "4"
        clock.advance(RETAIN - 1)
        assert oms.sweep_retention() == 0
        clock.advance(2)
        assert oms.sweep_retention() == 1 and memory(oms) == EMPTY
    run(t, tmp_path / "db")


def test_the_sweep_looks_only_at_orders_due(tmp_path):
    async def t(oms, s, v, clock):
        for i in range(3):
            await filled_order(oms, s, v, f"OLD{i}")
        clock.advance(RETAIN / 2)
        for i in range(20):
            await filled_order(oms, s, v, f"NEW{i}")
        looked = []
        real = oms._forgettable
        oms._forgettable = lambda o: looked.append(o.cl_ord_id) or real(o)
        clock.advance(RETAIN / 2 + 1)
        assert oms.sweep_retention() == 3
        assert looked == ["OLD0", "OLD1", "OLD2"]      # the 20 not due were not visited
        looked.clear()
        assert oms.sweep_retention() == 0 and looked == []
    run(t, tmp_path / "db")


def test_status_of_a_forgotten_order_is_the_same_report_from_the_journal(tmp_path):
    async def t(oms, s, v, clock):
        await filled_order(oms, s, v, "C1")
        oms.on_message(s, status("C1"))
        before = dict(s.ers()[-1])
        clock.advance(RETAIN + 1)
        assert oms.sweep_retention() == 1 and not oms.orders
        oms.on_message(s, status("C1"))
        after = dict(s.ers()[-1])
        assert after[150] == "I" and after[39] == "2" and after[14] == "2" \
            and after[151] == "0" and after[6] == "100.5" and after[790] == "Q1"
        assert {k: x for k, x in before.items() if k not in VOLATILE} == \
            {k: x for k, x in after.items() if k not in VOLATILE}
        assert not oms.orders and not oms.runtime          # answering did not reload it
        # by OrderID alone too
        oid = after[37]
        oms.on_message(s, FixMessage(((35, "H"), (37, oid), (11, "NOPE"), (55, "BTC/USDT"),
                                      (54, "1"))))
        assert s.ers()[-1][37] == oid and s.ers()[-1][39] == "2"
    run(t, tmp_path / "db")


def test_status_of_a_forgotten_canceled_order_by_its_cancel_clordid(tmp_path):
    async def t(oms, s, v, clock):
        await canceled_partial(oms, s, v, "C1", "C2")
        oms.on_message(s, status("C2"))
        before = dict(s.ers()[-1])
        clock.advance(RETAIN + 1)
        assert oms.sweep_retention() == 1 and memory(oms) == EMPTY
        for cl in ("C2", "C1"):
            oms.on_message(s, status(cl))
            after = dict(s.ers()[-1])
            assert {k: x for k, x in before.items() if k not in VOLATILE} == \
                {k: x for k, x in after.items() if k not in VOLATILE}
        assert after[39] == "4" and after[14] == "0.4" and after[151] == "0" \
            and after[11] == "C2" and after[41] == "C1"
    run(t, tmp_path / "db")


def test_cancel_and_replace_of_a_forgotten_order_are_too_late_like_in_memory(tmp_path):
    async def t(oms, s, v, clock):
        await filled_order(oms, s, v, "C1")
        oms.on_message(s, cancel("X1", "C1"))
        in_memory = dict(last(s, "9"))
        clock.advance(RETAIN + 1)
        assert oms.sweep_retention() == 1 and not oms.orders
        oms.on_message(s, cancel("X2", "C1"))
        forgotten = dict(last(s, "9"))
        assert forgotten[102] == "0" and forgotten[434] == "1" and forgotten[39] == "2"
        assert "too late" in forgotten[58] and "filled" in forgotten[58]
        same = lambda d: {k: x for k, x in d.items() if k not in (11, 60)}
        assert same(in_memory) == same(forgotten)
        oms.on_message(s, replace("X3", "C1"))
        ocr = dict(last(s, "9"))
        assert ocr[434] == "2" and ocr[102] == "0" and ocr[37] == forgotten[37]
        assert not oms.orders and not v["a"].cancels        # nothing reached a venue
    run(t, tmp_path / "db")


def test_a_forgotten_orders_clordids_are_still_duplicates(tmp_path):
    async def t(oms, s, v, clock):
        await canceled_partial(oms, s, v, "C1", "C2")
        clock.advance(RETAIN + 1)
        assert oms.sweep_retention() == 1 and memory(oms) == EMPTY
        n_orders = len(oms.journal.orders())
        for cl in ("C1", "C2"):           # the order's own and its cancel's ClOrdID
            oms.on_message(s, nos(cl, "1", "100", tif="1"))
            er = s.ers()[-1]
            assert er[150] == "8" and er[103] == "6" and "duplicate ClOrdID" in er[58]
        await settle()
        assert not v["a"].submits[1:] and not v["b"].submits     # no second order worked
        assert len(oms.journal.orders()) == n_orders + 2          # the two rejects only
        # a PossResend of the forgotten order: its status, not a reject, not a new order
        oms.on_message(s, nos("C1", "1", "100", tif="1", extra=((97, "Y"),)))
        er = s.ers()[-1]
        assert er[150] == "I" and er[39] == "4" and er[14] == "0.4"
        # a cancel of a live order reusing a forgotten ClOrdID
        oms.on_message(s, nos("LIVE", "0.5", "90", tif="1"))
        await settle()
        oms.on_message(s, cancel("C1", "LIVE"))
        ocr = last(s, "9")
        assert ocr[102] == "6" and "duplicate ClOrdID" in ocr[58]
        assert oms.orders[s.ers()[-1][37]].status.value == "0"   # LIVE still New
    run(t, tmp_path / "db")


def test_a_late_fill_for_a_forgotten_child_is_booked_once(tmp_path):
    db = tmp_path / "db"

    async def t(oms, s, v, clock):
        req, oid = await canceled_partial(oms, s, v, "C1", "C2")
        clock.advance(RETAIN + 1)
        assert oms.sweep_retention() == 1 and memory(oms) == EMPTY
        late = VenueFill("a", req.client_order_id, None, "a-late-1", req.symbol, req.side,
                         D(99), D("0.1"), D("0.01"), "USDT", 0, False)
        oms.on_venue_event(late)
        await settle()
        er = s.ers()[-1]
        assert er[150] == "F" and er[37] == oid and er[32] == "0.1" and er[31] == "99"
        assert er[39] == "4" and er[14] == "0.5" and er[151] == "0"
        assert D(er[6]) == (D("0.4") * 100 + D("0.1") * 99) / D("0.5")
        assert oms.revived_orders == 1 and oid in oms.orders
        n = len(s.ers())
        oms.on_venue_event(late)                        # the same trade again (REST, replay)
        await settle()
        assert len(s.ers()) == n
        journaled = oms.journal.order(oid)
        assert journaled.cum_qty == D("0.5") and journaled.status.value == "4"
        assert [f.quantity for f in oms.journal.fills(oid)] == [D("0.4"), D("0.1")]
        assert oms.journal.child(req.client_order_id).filled == D("0.5")
        clock.advance(RETAIN + 1)                       # forgotten again after the retention
        assert oms.sweep_retention() == 1 and memory(oms) == EMPTY
        oms.on_venue_event(late)                        # a third copy: not even reloaded
        assert oms.revived_orders == 1 and not oms.orders and len(s.ers()) == n
        oms.on_message(s, status("C1"))
        assert s.ers()[-1][14] == "0.5" and s.ers()[-1][39] == "4"
    run(t, db)


def test_a_late_fill_known_only_by_venue_order_id_is_booked(tmp_path):
    async def t(oms, s, v, clock):
        req, oid = await canceled_partial(oms, s, v, "C1", "C2")
        clock.advance(RETAIN + 1)
        assert oms.sweep_retention() == 1
        oms.on_venue_event(VenueFill("a", "", "v" + req.client_order_id, "a-late-2",
                                     req.symbol, req.side, D(100), D("0.2"), D(0), None, 0))
        await settle()
        er = s.ers()[-1]
        assert er[150] == "F" and er[14] == "0.6" and er[37] == oid
    run(t, tmp_path / "db")


def test_an_order_whose_venue_reports_more_filled_than_booked_is_kept(tmp_path):
    """The late-fill window: the order is Canceled, but its venue then says the child filled
    more than the fills booked (the trade is on its way). It stays in memory, however long,
    until that fill is booked; then it is forgotten one retention after the fill."""
    async def t(oms, s, v, clock):
        req, oid = await canceled_partial(oms, s, v, "C1", "C2")
        v["a"]._filled[req.client_order_id] = D("0.5")
        oms.on_venue_event(v["a"].update(req, VenueOrderState.CANCELED, D("0.5")))
        await settle()
        for _ in range(3):
            clock.advance(RETAIN + 1)
            assert oms.sweep_retention() == 0 and oid in oms.orders
        oms.on_venue_event(VenueFill("a", req.client_order_id, None, "a-t9", req.symbol,
                                     req.side, D(100), D("0.1"), D(0), "USDT", 0, False))
        await settle()
        assert s.ers()[-1][150] == "F" and s.ers()[-1][14] == "0.5"
        clock.advance(RETAIN - 1)
        assert oms.sweep_retention() == 0 and oid in oms.orders
        clock.advance(2)
        assert oms.sweep_retention() == 1 and memory(oms) == EMPTY
    run(t, tmp_path / "db")


def test_an_order_with_a_child_still_open_at_its_venue_is_kept(tmp_path):
    """Filled while a sibling child is still open (its cancel not confirmed): kept."""
    async def t(oms, s, v, clock):
        async def never(cid, symbol):
            await asyncio.sleep(3600)
        v["b"].cancel = never
        oms.on_message(s, nos("C1", "2", "101", tif="1"))
        await settle()
        ra = v["a"].submits[-1]
        v["a"].fill(ra, D(2), D(100))              # venue a overfills its child: order Filled
        await settle()
        assert s.ers()[-1][39] == "2"
        clock.advance(RETAIN * 5)
        assert oms.sweep_retention() == 0 and len(oms.orders) == 1
        rb = v["b"].submits[-1]
        oms.on_venue_event(v["b"].update(rb, VenueOrderState.CANCELED))
        await settle()
        clock.advance(RETAIN + 1)
        assert oms.sweep_retention() == 1 and memory(oms) == EMPTY
        for task in list(oms.tasks):
            task.cancel()
    run(t, tmp_path / "db")


def test_mass_cancel_ignores_forgotten_orders(tmp_path):
    async def t(oms, s, v, clock):
        await filled_order(oms, s, v, "DONE")
        clock.advance(RETAIN + 1)
        assert oms.sweep_retention() == 1
        oms.on_message(s, nos("LIVE", "0.5", "90", tif="1"))
        await settle()
        oms.on_message(s, FixMessage(((35, "q"), (11, "MC1"), (530, "1"), (55, "BTC/USDT"))))
        await settle()
        report = last(s, "r")
        assert report[533] == "1" and report[41] == "LIVE"
        assert [er[11] for er in s.ers() if er[150] == "4"] == ["LIVE"]
    run(t, tmp_path / "db")


def test_rejected_orders_are_forgotten_and_still_answered(tmp_path):
    async def t(oms, s, v, clock):
        bad = FixMessage(tuple((t_, "DOGE/USDT" if t_ == 55 else x)
                               for t_, x in nos("R1", "1").fields))
        oms.on_message(s, bad)
        assert s.ers()[-1][39] == "8"
        clock.advance(RETAIN + 1)
        assert oms.sweep_retention() == 1 and memory(oms) == EMPTY
        oms.on_message(s, FixMessage(((35, "H"), (11, "R1"), (55, "DOGE/USDT"), (54, "1"))))
        er = s.ers()[-1]
        assert er[150] == "I" and er[39] == "8" and er[11] == "R1" and "DOGE/USDT" in er[58]
        oms.on_message(s, nos("R1", "1", "100"))
        assert s.ers()[-1][103] == "6"
    run(t, tmp_path / "db")


def test_a_restart_keeps_only_open_orders_and_still_knows_the_rest(tmp_path):
    db = tmp_path / "db"

    async def first(oms, s, v, clock):
        await filled_order(oms, s, v, "C1")
        oms.on_message(s, nos("OPEN", "0.5", "90", tif="1"))
        await settle()
    run(first, db)

    async def second():
        clock = FakeClock()
        oms, s, v = build(db, clock)
        oms.load()
        assert [o.cl_ord_id for o in oms.orders.values()] == ["OPEN"]
        assert oms.used_cl_ord_ids == {(str(s.session_id), "OPEN")}
        oms.on_message(s, nos("C1", "1", "100"))
        assert s.ers()[-1][103] == "6"
        oms.on_message(s, status("C1"))
        assert s.ers()[-1][39] == "2" and s.ers()[-1][14] == "2"
        oms.on_message(s, cancel("X", "C1"))
        assert last(s, "9")[102] == "0"
    asyncio.run(second())


def test_tca_reads_forgotten_orders_from_the_journal(tmp_path):
    from fixgw.tca import load_records
    db = tmp_path / "db"

    async def t(oms, s, v, clock):
        oid = await filled_order(oms, s, v, "C1")
        clock.advance(RETAIN + 1)
        assert oms.sweep_retention() == 1
        (parent, fills), = load_records(db)
        assert parent.order_id == oid and parent.status == "FILLED"
        assert sorted(f.price for f in fills) == [D(100), D(101)]
    run(t, db)


def test_zero_retention_forgets_at_the_next_sweep(tmp_path):
    async def t(oms, s, v, clock):
        await filled_order(oms, s, v, "C1")
        assert oms.sweep_retention() == 1 and memory(oms) == EMPTY
    run(t, tmp_path / "db", retain=0.0)


def test_the_periodic_sweep_runs_on_the_loop(tmp_path):
    async def main():
        clock = FakeClock()
        venues = {"a": HarnessVenue("a"), "b": HarnessVenue("b")}
        oms = OrderManager(journal=Journal(tmp_path / "db"), clock=clock, venues=venues,
                           router=SmartOrderRouter(), market=HarnessMarket(venues),
                           config=OmsConfig(retain_terminal_orders_s=5, retention_sweep_s=0.02))
        s = HarnessSession()
        oms.on_create(s)
        oms.start_retention()
        await filled_order(oms, s, venues, "C1")
        await asyncio.sleep(0.1)
        assert len(oms.orders) == 1          # fake time has not moved
        clock.advance(6)
        await asyncio.sleep(0.1)
        assert memory(oms) == EMPTY
        oms.stop_retention()
        assert oms._retention_timer is None
    asyncio.run(main())


def test_a_fill_after_the_order_ended_is_booked_not_lost(tmp_path):
    """In memory too: a fill reported after the cancel completed is booked and reported with
    the order's terminal status (there is no way out of Canceled), CumQty counting it."""
    async def t(oms, s, v, clock):
        req, oid = await canceled_partial(oms, s, v, "C1", "C2")
        v["a"].fill(req, D("0.1"), D(100))
        await settle()
        er = s.ers()[-1]
        assert er[150] == "F" and er[39] == "4" and er[14] == "0.5" and er[151] == "0"
        assert oms.journal.order(oid).cum_qty == D("0.5") and oms.revived_orders == 0
        assert len(oms.journal.fills(oid)) == 2
    run(t, tmp_path / "db")


def test_a_venue_answer_arriving_after_the_order_was_forgotten(tmp_path, caplog):
    """A cancel in flight when the stream already ended the child and retention (0 s here)
    forgot the order: the late cancel response is handled like a stream event, quietly
    ignored when it says nothing new (no failed task, no reload)."""
    async def t(oms, s, v, clock):
        release = asyncio.Event()
        original = v["a"].cancel

        async def slow(cid, symbol):
            await release.wait()
            return await original(cid, symbol)
        v["a"].cancel = slow
        oms.on_message(s, nos("C1", "1", "90", tif="1"))
        await settle()
        req = v["a"].submits[-1]
        oms.on_message(s, cancel("C2", "C1"))
        await settle()
        oms.on_venue_event(v["a"].update(req, VenueOrderState.CANCELED))   # the stream first
        await settle()
        assert s.ers()[-1][39] == "4"
        assert oms.sweep_retention() == 1 and memory(oms) == EMPTY
        release.set()
        await settle()
        assert not oms.tasks and oms.revived_orders == 0 and memory(oms) == EMPTY
    with caplog.at_level("WARNING"):
        run(t, tmp_path / "db", retain=0.0)
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
