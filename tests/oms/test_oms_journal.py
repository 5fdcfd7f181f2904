"""The SQLite journal: ids never repeat across restarts, fills dedupe, orders round-trip."""
import sqlite3
from decimal import Decimal

from fixgw.domain import OrdStatus, OrdType, Side, Strategy, TimeInForce
from fixgw.oms.journal import Journal, JournaledFill
from fixgw.oms.order import ChildOrder, ChildState, ClientOrder


def test_counters_never_repeat_across_reopen(tmp_path):
    db = tmp_path / "fixgw.db"
    j = Journal(db)
    first = [j.next_id("exec") for _ in range(5)]
    j.close()
    j2 = Journal(db)  # a "restart" that wasted the rest of the block
    second = [j2.next_id("exec") for _ in range(5)]
    assert len(set(first + second)) == 10 and min(second) > max(first)
    assert j2.instance == Journal(db).instance


def test_order_child_fill_round_trip_and_fill_dedup(tmp_path):
    j = Journal(tmp_path / "fixgw.db")
    o = ClientOrder(order_id="ab-1", session_key="S", cl_ord_id="C1", symbol="BTC/USDT",
                    side=Side.BUY, ord_type=OrdType.LIMIT, quantity=Decimal("2.5"),
                    price=Decimal("30000.01"), tif=TimeInForce.GTC, strategy=Strategy.TWAP,
                    status=OrdStatus.NEW, cum_qty=Decimal("0.1"), notional=Decimal("3000.001"))
    c = ChildOrder(client_order_id="fxab-1-1", order_id="ab-1", venue="sim-a",
                   symbol="BTC/USDT", side=Side.BUY, ord_type=OrdType.LIMIT,
                   quantity=Decimal("1"), price=Decimal("30000"), tif=TimeInForce.IOC,
                   state=ChildState.OPEN)
    with j.transaction():
        assert j.claim_cl_ord_id("S", "C1", "ab-1")
        j.save_order(o)
        j.save_child(c, 1.0)
    assert not j.claim_cl_ord_id("S", "C1", "ab-1")
    f = JournaledFill("sim-a", "T1", "fxab-1-1", "ab-1", "BTC/USDT", Side.BUY,
                      Decimal("30000"), Decimal("0.1"), Decimal("0.0001"), "BTC", False, "x1", 5)
    assert j.record_fill(f, 1.0)
    assert not j.record_fill(f, 2.0)
    back = Journal(tmp_path / "fixgw.db", readonly=True)
    (o2,) = back.orders()
    assert o2.quantity == Decimal("2.5") and o2.notional == Decimal("3000.001")
    assert o2.strategy is Strategy.TWAP and o2.status is OrdStatus.NEW
    assert back.children("ab-1")[0].state is ChildState.OPEN
    assert back.fills("ab-1")[0].price == Decimal("30000")
    assert back.orders(open_only=True)


def test_shares_the_database_file_in_wal_mode(tmp_path):
    db = tmp_path / "fixgw.db"
    other = sqlite3.connect(db)
    other.execute("CREATE TABLE session_store (x)")
    other.commit()
    Journal(db)
    tables = {r[0] for r in other.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    mode = sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal" and "session_store" in tables and "oms_orders" in tables


def test_failed_transaction_rolls_back(tmp_path):
    j = Journal(tmp_path / "fixgw.db")
    try:
        with j.transaction():
            j.claim_cl_ord_id("S", "X", None)
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert not j.cl_ord_id_used("S", "X")
