"""Never lose a fill: journaled fills whose ER never reached the session store are found at
start-up (real SQLite: the journal and the session store share one file) and reported with
their original ExecID and the order state just after each of them."""
import asyncio
from decimal import Decimal

from fixgw.clock import LiveClock
from fixgw.domain import OrdStatus, OrdType, Side, TimeInForce
from fixgw.oms.journal import Journal, JournaledFill
from fixgw.oms.manager import OrderManager
from fixgw.oms.order import ClientOrder
from fixgw.oms.unsent import find_unsent_fills, send_unsent_fills
from fixgw.routing.sor import SmartOrderRouter
from fixgw.session.store import SqliteStore

from test_oms_manager import HarnessMarket, HarnessSession

D = Decimal
KEY = "FIX.4.4:FIXGW->OMS"


def setup(tmp_path, reset_at=0.0):
    db = tmp_path / "fixgw.db"
    store = SqliteStore(db)
    j = Journal(db)
    store.load(KEY)
    store.reset(KEY, reset_at)
    x = lambda n: f"{j.instance}-x{n}"
    order = ClientOrder(order_id=f"{j.instance}-1", session_key=KEY, cl_ord_id="C1",
                        symbol="BTC/USDT", side=Side.BUY, ord_type=OrdType.MARKET,
                        quantity=D(3), price=None, tif=TimeInForce.DAY,
                        status=OrdStatus.FILLED, cum_qty=D(3), notional=D(100 + 101 + 102))
    with j.transaction():
        j.save_order(order)
        for n, (px, rec) in enumerate(((100, 10.0), (101, 11.0), (102, 12.0)), start=1):
            j.record_fill(JournaledFill("a", f"t{n}", "c1", order.order_id, "BTC/USDT", Side.BUY,
                                        D(px), D(1), D("0.1"), "USDT", False, x(10 * n), n), rec)
    return db, store, j, order, x


def er(exec_id):
    return f"8=FIX.4.4\x019=50\x0135=8\x0134=1\x0117={exec_id}\x0139=1\x0110=000\x01".encode()


def test_fills_after_the_last_stored_er_are_unsent(tmp_path):
    db, store, j, order, x = setup(tmp_path)
    store.save_message(KEY, 1, er(x(10)))          # the first fill's ER went out
    store.commit()
    unsent = find_unsent_fills(j)
    assert [f.exec_id for f, _ in unsent] == [x(20), x(30)]
    assert all(k == KEY for _, k in unsent)
    store.save_message(KEY, 2, er(x(20)))
    store.save_message(KEY, 3, er(x(30)))
    store.commit()
    assert find_unsent_fills(j) == []


def test_a_fill_older_than_a_stored_er_is_not_resent(tmp_path):
    """x10 is not in the store but x20 is: the store commits every turn at once, so x10's
    report was committed too and later removed (e.g. trimmed): never sent twice."""
    db, store, j, order, x = setup(tmp_path)
    store.save_message(KEY, 1, er(x(20)))
    store.commit()
    assert [f.exec_id for f, _ in find_unsent_fills(j)] == [x(30)]


def test_fills_before_a_sequence_reset_are_not_resent(tmp_path):
    db, store, j, order, x = setup(tmp_path, reset_at=11.5)   # reset after fills 1 and 2
    store.commit()
    assert [f.exec_id for f, _ in find_unsent_fills(j)] == [x(30)]
    assert [f.exec_id for f, _ in find_unsent_fills(j, check_reset_time=False)] == \
        [x(10), x(20), x(30)]


def test_unsent_fills_are_reported_with_the_state_after_each(tmp_path):
    db, store, j, order, x = setup(tmp_path)
    store.save_message(KEY, 1, er(x(10)))
    store.commit()

    async def t():
        oms = OrderManager(journal=j, clock=LiveClock(), venues={}, router=SmartOrderRouter(),
                           market=HarnessMarket({}))
        s = HarnessSession()
        oms.on_create(s)
        assert send_unsent_fills(oms, find_unsent_fills(j)) == 2
        first, second = s.ers()
        assert (first[17], first[150], first[32], first[31], first[14], first[39]) == \
            (x(20), "F", "1", "101", "2", "1")
        assert first[6] == "100.5" and first[151] == "1"
        assert (second[17], second[14], second[39], second[151], second[6]) == \
            (x(30), "3", "2", "0", "101")
    asyncio.run(t())
