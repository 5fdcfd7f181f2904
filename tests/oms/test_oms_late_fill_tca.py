"""A late fill on an algo parent that already ended recomputes its TargetStrategyPerformance(850).

The venue reports a child fill after the parent was canceled: the fill's ExecutionReport
(150=F, the order still Canceled) and the journaled order carry the shortfall for the new
CumQty/AvgPx, not the one computed when the parent ended. Real parts: the order manager with
its SQLite journal, the real OmsTca hook and TcaStore on the same database, the real iceberg
scheduler, and the in-test venue harness of test_oms_manager.py deciding when fills arrive.
"""
import asyncio
import sqlite3
from decimal import Decimal

from fixgw.algo.config import parse_algo_config
from fixgw.clock import LiveClock
from fixgw.config import OmsConfig
from fixgw.domain import Side
from fixgw.fix.message import FixMessage
from fixgw.oms.algo_host import AlgoRun
from fixgw.oms.algo_inputs import AlgoInputs
from fixgw.oms.journal import Journal
from fixgw.oms.manager import OrderManager
from fixgw.routing.sor import SmartOrderRouter
from fixgw.tca_math import implementation_shortfall
from fixgw.tca_oms import OmsTca
from fixgw.tca_store import TcaStore

from test_oms_manager import HarnessMarket, HarnessSession, HarnessVenue, check_consistent, settle

D = Decimal
CENT = D("0.01")
END_MID = D("99.5")          # HarnessMarket.snapshot: bid 99, ask 100


def build(db, retain=300.0):
    venues = {n: HarnessVenue(n) for n in ("a", "b")}
    inputs = AlgoInputs(parse_algo_config({}))
    oms = OrderManager(journal=Journal(db), clock=LiveClock(), venues=venues,
                       router=SmartOrderRouter(), market=HarnessMarket(venues),
                       config=OmsConfig(retain_terminal_orders_s=retain),
                       algo_factory=lambda order, mgr: AlgoRun.build(order, mgr, inputs),
                       tca=OmsTca(TcaStore(db)))
    s = HarnessSession()
    oms.on_create(s)
    return oms, s, venues


def iceberg(cl):
    """Buy 1, one display of 1 resting at 98 (not marketable on the harness book)."""
    return FixMessage(((35, "D"), (11, cl), (55, "BTC/USDT"), (54, "1"), (38, "1"), (40, "2"),
                       (59, "1"), (44, "98"), (111, "1"), (847, "1002")))


def cancel(cl, orig):
    return FixMessage(((35, "F"), (11, cl), (41, orig), (55, "BTC/USDT"), (54, "1")))


def expected_850(arrival, cum, notional, fees):
    return implementation_shortfall(Side.BUY, D(1), cum, notional / cum, arrival, END_MID,
                                    fees).total_bps.quantize(CENT)


async def canceled_with_a_partial_fill(oms, s, v):
    """The parent works 1 @ 98, 0.4 fills, the parent is canceled: its child is canceled at
    the venue with 0.4 filled, the parent ends Canceled with an 850 on its last report."""
    oms.on_message(s, iceberg("I1"))
    await settle()
    ((venue, req),) = [(x, r) for x in v.values() for r in x.submits]
    venue.fill(req, D("0.4"), D(98))
    await settle()
    oms.on_message(s, cancel("X1", "I1"))
    await settle()
    terminal = s.ers()[-1]
    assert terminal[150] == "4" and terminal[39] == "4" and terminal[14] == "0.4"
    return req, venue, terminal


def test_late_fill_er_and_journal_carry_the_recomputed_850(tmp_path):
    db = tmp_path / "gw.db"

    async def t():
        oms, s, v = build(db)
        req, venue, terminal = await canceled_with_a_partial_fill(oms, s, v)
        oid = terminal[37]
        arrival = oms.orders[oid].arrival_price
        assert arrival is not None
        assert D(terminal[850]) == expected_850(arrival, D("0.4"), D("39.2"), D("0.01"))
        trace_at_end = TcaStore(db, readonly=True).traces()[oid]

        venue.fill(req, D("0.3"), D("97.5"))     # the venue reports it after the cancel ack
        await settle()
        late = s.ers()[-1]
        assert late[150] == "F" and late[39] == "4" and late[14] == "0.7" and late[31] == "97.5"
        want = expected_850(arrival, D("0.7"), D("0.4") * 98 + D("0.3") * D("97.5"), D("0.02"))
        assert D(late[850]) == want and want != D(terminal[850])
        # the scheduler stopped at the end and never saw the fill: its trace is not re-saved
        assert TcaStore(db, readonly=True).traces()[oid] == trace_at_end
        for er in s.ers():
            check_consistent(er)

    asyncio.run(t())


def test_late_fill_recomputed_850_is_journaled(tmp_path):
    db = tmp_path / "gw.db"
    state = {}

    async def t():
        oms, s, v = build(db)
        req, venue, terminal = await canceled_with_a_partial_fill(oms, s, v)
        state["oid"], state["arrival"] = terminal[37], oms.orders[terminal[37]].arrival_price
        venue.fill(req, D("0.3"), D("97.5"))
        await settle()
        state["late_850"] = D(s.ers()[-1][850])
        state["terminal_850"] = D(terminal[850])

    asyncio.run(t())
    journaled = Journal(db).order(state["oid"])      # a fresh journal on the same database
    assert journaled.status.value == "4" and journaled.cum_qty == D("0.7")
    assert journaled.shortfall_bps == state["late_850"] != state["terminal_850"]
    assert journaled.shortfall_bps == expected_850(
        state["arrival"], D("0.7"), D("0.4") * 98 + D("0.3") * D("97.5"), D("0.02"))


def test_late_fill_after_retention_forgot_the_parent_uses_the_journaled_arrival(tmp_path):
    """The scheduler is gone with the runtime: the journaled arrival price is enough."""
    db = tmp_path / "gw.db"

    async def t():
        oms, s, v = build(db, retain=0.0)
        req, venue, terminal = await canceled_with_a_partial_fill(oms, s, v)
        oid = terminal[37]
        arrival = oms.orders[oid].arrival_price
        assert oms.sweep_retention() == 1 and oid not in oms.runtime
        venue.fill(req, D("0.3"), D("97.5"))
        await settle()
        late = s.ers()[-1]
        assert late[150] == "F" and late[37] == oid and oms.revived_orders == 1
        want = expected_850(arrival, D("0.7"), D("0.4") * 98 + D("0.3") * D("97.5"), D("0.02"))
        assert D(late[850]) == want != D(terminal[850])
        assert Journal(db).order(oid).shortfall_bps == want

    asyncio.run(t())


def test_late_fill_without_any_arrival_price_keeps_the_known_850(tmp_path):
    """Neither a journaled arrival price (an order journaled without one) nor a scheduler:
    the 850 cannot be recomputed, and the known one stays on the report and in the journal."""
    db = tmp_path / "gw.db"

    async def t():
        oms, s, v = build(db, retain=0.0)
        req, venue, terminal = await canceled_with_a_partial_fill(oms, s, v)
        oid = terminal[37]
        assert oms.sweep_retention() == 1
        with sqlite3.connect(db) as con:
            con.execute("UPDATE oms_orders SET arrival_price = NULL WHERE order_id = ?", (oid,))
        venue.fill(req, D("0.3"), D("97.5"))
        await settle()
        late = s.ers()[-1]
        assert late[150] == "F" and late[14] == "0.7"
        assert late[850] == terminal[850]
        assert Journal(db).order(oid).shortfall_bps == D(terminal[850])

    asyncio.run(t())
