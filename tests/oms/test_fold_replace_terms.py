"""One function lands a replace's terms on an order, for direct orders and algo parents alike:
an algo parent's TimeInForce(59) / ExpireTime(126) change takes effect (it used to be dropped),
and the direct-order replace behaves as before (with the in-test venue harness)."""
import asyncio
import time
from decimal import Decimal

from fixgw.domain import TimeInForce
from fixgw.fix.message import FixMessage
from fixgw.fix.messages import format_utc_timestamp
from fixgw.oms.state import OrderEvent

from test_oms_algo_wiring import algo_oms
from test_oms_manager import nos, run, settle

D = Decimal


def _ts(epoch: float) -> str:
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(epoch))


def _twap(cl: str, tif: str, end: float) -> FixMessage:
    return FixMessage(((35, "D"), (11, cl), (55, "BTC/USDT"), (54, "1"), (38, "1"), (40, "2"),
                       (44, "90"), (59, tif), (60, "20261125-18:00:00.000"), (126, _ts(end)),
                       (847, "1001")))


def _replace(cl: str, orig: str, tif: str, end: float | None, price: str = "90") -> FixMessage:
    f = [(35, "G"), (11, cl), (41, orig), (55, "BTC/USDT"), (54, "1"), (38, "1"), (40, "2"),
         (44, price), (59, tif)]
    if end is not None:
        f.append((126, _ts(end)))
    return FixMessage(tuple(f))


def test_an_algo_parent_replaced_from_day_to_gtd_takes_the_new_tif_and_expire_time(tmp_path):
    now = int(time.time())

    async def t():
        oms, s, _ = algo_oms(tmp_path / "db", names=("a",))
        oms.on_message(s, _twap("A1", "0", now + 120))
        await settle()
        assert s.ers()[-1][150] == "0" and s.ers()[-1][59] == "0"
        oms.on_message(s, _replace("A2", "A1", "6", now + 90))
        await settle()
        replaced = s.ers()[-1]
        assert replaced[150] == "5" and replaced[11] == "A2"
        assert replaced[59] == "6"
        assert replaced[126] == format_utc_timestamp(now + 90)
        (order,) = oms.open_orders()
        assert order.tif is TimeInForce.GTD and order.expire_time == now + 90
        run_ = oms.runtime[order.order_id].algo
        assert run_.scheduler.end == now + 90
        # the end of the schedule now expires the parent (GTD), not DoneForDay (Day)
        assert run_.terminal_event() is OrderEvent.EXPIRE
        oms.cancel_all(reason="test over")
        await settle()
    asyncio.run(t())


def test_an_algo_parent_replaced_from_day_to_gtc_keeps_its_end_and_no_longer_ends_for_the_day(
        tmp_path):
    now = int(time.time())

    async def t():
        oms, s, _ = algo_oms(tmp_path / "db", names=("a",))
        oms.on_message(s, _twap("B1", "0", now + 120))
        await settle()
        (order,) = oms.open_orders()
        assert oms.runtime[order.order_id].algo.terminal_event() is OrderEvent.DONE_FOR_DAY
        oms.on_message(s, _replace("B2", "B1", "1", None, price="91"))
        await settle()
        replaced = s.ers()[-1]
        assert replaced[150] == "5" and replaced[59] == "1" and D(replaced[44]) == D(91)
        assert order.tif is TimeInForce.GTC and order.expire_time == now + 120
        assert oms.runtime[order.order_id].algo.terminal_event() is OrderEvent.EXPIRE
        oms.cancel_all(reason="test over")
        await settle()
    asyncio.run(t())


def test_a_direct_order_replaced_to_gtd_reports_the_new_terms_and_expires_at_them(tmp_path):
    async def t(oms, s, v):
        oms.on_message(s, nos("C1", "0.5", "90", tif="1"))       # GTC, rests
        await settle()
        end = time.time() + 0.3
        oms.on_message(s, FixMessage(((35, "G"), (11, "C2"), (41, "C1"), (55, "BTC/USDT"),
                                      (54, "1"), (38, "0.6"), (40, "2"), (44, "91"), (59, "6"),
                                      (126, format_utc_timestamp(end)))))
        await settle()
        replaced = [er for er in s.ers() if er[150] == "5"]
        assert len(replaced) == 1 and replaced[0][11] == "C2" and replaced[0][41] == "C1"
        assert D(replaced[0][38]) == D("0.6") and D(replaced[0][44]) == D(91)
        assert replaced[0][59] == "6" and replaced[0][126] == format_utc_timestamp(end)
        (order,) = oms.open_orders()
        assert order.tif is TimeInForce.GTD
        # the expiry timer follows the new ExpireTime, and the remainder works at the new terms
        assert oms.runtime[order.order_id].timer is not None
        assert sum(r.quantity for r in v["a"].submits[1:] + v["b"].submits) == D("0.6")
        await asyncio.sleep(0.5)
        await settle()
        last = s.ers()[-1]
        assert last[150] == "C" and last[39] == "C" and "GTD" in last[58]
        assert not oms.open_orders()
    asyncio.run(run(t)(tmp_path / "db"))
