"""The OMS hook: 850 value from the order record and the trace saved for `fixgw tca`."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal as D

from fixgw.algo import MarketSnapshot, ParentSpec, make_scheduler
from fixgw.algo.types import Instrument
from fixgw.clock import FakeClock
from fixgw.domain import OrdStatus, OrdType, Side, Strategy, TimeInForce
from fixgw.oms.order import ClientOrder
from fixgw.tca_oms import OmsTca
from fixgw.tca_store import TcaStore

T0 = 1_700_000_000.0


@dataclass
class _Market:
    mid: D

    def snapshot(self, symbol: str, now: float) -> MarketSnapshot:
        return MarketSnapshot(now, self.mid - D("0.05"), self.mid + D("0.05"),
                              traded_volume=D(500), traded_notional=D(50000))


@dataclass
class _Run:
    scheduler: object


@dataclass
class _Runtime:
    algo: object


@dataclass
class _Manager:           # the three attributes of the order manager the hook reads
    market: _Market
    clock: FakeClock = field(default_factory=lambda: FakeClock(t=T0 + 60))
    runtime: dict = field(default_factory=dict)


def order(cum: str, notional: str, fees: str = "0") -> ClientOrder:
    return ClientOrder(order_id="O-9", session_key="s", cl_ord_id="c", symbol="BTC/USDT",
                       side=Side.SELL, ord_type=OrdType.LIMIT, quantity=D(10), price=D(90),
                       tif=TimeInForce.DAY, strategy=Strategy.TWAP, status=OrdStatus.EXPIRED,
                       cum_qty=D(cum), notional=D(notional), fees=D(fees),
                       arrival_price=D(100))


def test_shortfall_for_850_with_opportunity_cost_and_fees(tmp_path):
    # sold 6 at 99.5 (50 bps worse on 60 %), 4 unsold while the market fell to 99 (100 bps on
    # 40 %), fees 1.2 on 1000 notional (12 bps): 30 + 40 + 12 = 82 bps
    hook = OmsTca(None)
    assert hook(order("6", "597", "1.2"), _Manager(_Market(D(99)))) == D("82.00")


def test_trace_is_saved_with_the_final_snapshot(tmp_path):
    db = tmp_path / "gw.db"
    sched = make_scheduler(ParentSpec("O-9", Side.SELL, D(10), Strategy.TWAP, start=T0,
                                      end=T0 + 100), Instrument("BTC/USDT", D("0.01"), D("0.001")),
                           1)
    sched.on_start(T0, MarketSnapshot(T0, D("99.95"), D("100.05"), traded_volume=D(400),
                                      traded_notional=D(40000)))
    manager = _Manager(_Market(D(99)), runtime={"O-9": _Runtime(_Run(sched))})
    assert OmsTca(TcaStore(db))(order("10", "995"), manager) == D("50.00")
    trace = TcaStore(db, readonly=True).traces()["O-9"]
    assert trace.samples[-1].time == T0 + 60 and trace.samples[-1].traded_volume == D(500)
    assert trace.arrival_mid == D(100)
