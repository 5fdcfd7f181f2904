"""Algo parents after a restart: the old children are pulled, then a new scheduler works the
leaves quantity to the same end time (or the parent expires if that end has passed). The
journal is real SQLite; the venue is the in-test harness, which remembers its orders."""
import asyncio
import time
from decimal import Decimal

from fixgw.algo.config import parse_algo_config
from fixgw.clock import LiveClock
from fixgw.fix.message import FixMessage
from fixgw.oms.algo_host import AlgoRun
from fixgw.oms.algo_inputs import AlgoInputs
from fixgw.oms.journal import Journal
from fixgw.oms.manager import OrderManager
from fixgw.oms.recovery import reconcile
from fixgw.routing.sor import SmartOrderRouter
from fixgw.venues.base import VenueFill, VenueOrderState

from test_oms_manager import HarnessMarket, HarnessSession, HarnessVenue, check_consistent, settle

D = Decimal


class MemoryVenue(HarnessVenue):
    """Knows its orders across a gateway restart (as a real venue does)."""

    def __init__(self, name):
        super().__init__(name)
        self.done = {}
        self.trades = []
        self.cb = self._record

    def on_event(self, cb):
        self.downstream = cb

    def _record(self, event):
        if isinstance(event, VenueFill):
            self.trades.append(event)
        if self.downstream is not None:
            self.downstream(event)

    async def fetch_fills(self, symbol, since_ms=None):
        return list(self.trades)

    async def fetch_order(self, cid, symbol):
        req = next((r for r in self.submits if r.client_order_id == cid), None)
        if req is None:
            return None
        return self.update(req, self.done.get(cid, VenueOrderState.OPEN), self.filled(cid))

    async def cancel(self, cid, symbol):
        self.done[cid] = VenueOrderState.CANCELED
        return await super().cancel(cid, symbol)


class OffsetClock(LiveClock):
    def __init__(self, offset):
        self.offset = offset

    def now(self):
        return time.time() + self.offset


def manager(db, venues, clock=None):
    inputs = AlgoInputs(parse_algo_config({}))
    oms = OrderManager(journal=Journal(db), clock=clock or LiveClock(), venues=venues,
                       router=SmartOrderRouter(), market=HarnessMarket(venues),
                       algo_factory=lambda o, mgr, **kw: AlgoRun.build(o, mgr, inputs, **kw))
    s = HarnessSession()
    oms.on_create(s)
    return oms, s


def fix_time(t):
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(t))


def test_iceberg_parent_resumes_with_its_leaves_after_a_restart(tmp_path):
    async def t():
        venues = {"a": MemoryVenue("a")}
        oms, s = manager(tmp_path / "db", venues)
        oms.on_message(s, FixMessage(((35, "D"), (11, "ICE"), (55, "BTC/USDT"), (54, "1"),
                                      (38, "3"), (40, "2"), (44, "98"), (59, "1"), (111, "1"),
                                      (60, "20261125-18:00:00.000"), (847, "1002"))))
        await settle()
        (first,) = venues["a"].submits
        venues["a"].fill(first, D("0.4"), D(98))
        await settle()
        assert D(s.ers()[-1][14]) == D("0.4")
        # SIGKILL: the manager is dropped; a new one loads the journal and reconciles
        venues["a"].downstream = None
        venues["a"].fill(first, D("0.1"), D(98))     # a fill while the gateway was down
        oms2, s2 = manager(tmp_path / "db", venues)
        await reconcile(oms2, oms2.load())
        await settle()
        assert first.client_order_id in venues["a"].cancels       # the old display is pulled
        later = [r for r in venues["a"].submits if r is not first]
        assert [r.quantity for r in later] == [D(1)], "a new display of MaxFloor"
        ers = s2.ers()
        assert [er[150] for er in ers] == ["F"]                  # the missed fill, no cancel
        assert D(ers[-1][14]) == D("0.5") and ers[-1][39] == "1"
        # the resumed scheduler works exactly the leaves: 2.5 more, in displays of 1
        for _ in range(5):
            open_ = [r for r in venues["a"].submits
                     if venues["a"].filled(r.client_order_id) < r.quantity
                     and r.client_order_id not in venues["a"].done]
            for r in open_:
                venues["a"].fill(r, r.quantity - venues["a"].filled(r.client_order_id), D(98))
            await settle()
        last = s2.ers()[-1]
        assert last[39] == "2" and D(last[14]) == D(3), last
        assert sum(venues["a"].filled(r.client_order_id) for r in venues["a"].submits) == D(3)
        for er in s2.ers():
            check_consistent(er)
    asyncio.run(t())


def test_algo_parent_whose_end_passed_while_down_expires(tmp_path):
    async def t():
        venues = {"a": MemoryVenue("a")}
        oms, s = manager(tmp_path / "db", venues)
        end = time.time() + 30
        oms.on_message(s, FixMessage(((35, "D"), (11, "TW"), (55, "BTC/USDT"), (54, "1"),
                                      (38, "1"), (40, "2"), (44, "101"), (59, "6"),
                                      (126, fix_time(end)), (60, "20261125-18:00:00.000"),
                                      (847, "1001"))))
        await settle()
        assert s.ers()[-1][150] == "0"
        for r in venues["a"].submits:
            venues["a"].fill(r, D("0.1"), D(99))
        await settle()
        venues["a"].downstream = None
        oms2, s2 = manager(tmp_path / "db", venues, OffsetClock(60))   # back after the end
        await reconcile(oms2, oms2.load())
        await settle()
        last = s2.ers()[-1]
        assert last[150] == "C" and last[39] == "C" and "end time passed" in last[58]
        assert D(last[14]) == D("0.1") * len(venues["a"].submits)
        assert len(venues["a"].submits) >= 1 and not [
            r for r in venues["a"].submits if r.client_order_id not in venues["a"].done]
    asyncio.run(t())
