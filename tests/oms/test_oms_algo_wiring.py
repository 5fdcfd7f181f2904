"""The OMS hosting H5's schedulers: LIMIT-style children rest their remainder, slice completion
reports the venues' cumulative filled, snapshots carry traded notional, and the `algos:`
config / simulator model reach the schedulers (with the in-test venue harness)."""
import asyncio
import dataclasses
import time
from decimal import Decimal

import pytest

from fixgw.algo.config import parse_algo_config
from fixgw.clock import LiveClock
from fixgw.config import ConfigError, parse_gateway_config
from fixgw.fix.message import FixMessage
from fixgw.marketdata.volume import MarketTrade
from fixgw.oms.algo_host import AlgoRun
from fixgw.oms.algo_inputs import AlgoInputs, measured_impact
from fixgw.oms.journal import Journal
from fixgw.oms.manager import OrderManager
from fixgw.oms.market_view import HubMarketView
from fixgw.oms.order import ChildState
from fixgw.routing.sor import SmartOrderRouter
from fixgw.domain import Side, TimeInForce
from fixgw.venues.base import VenueOrderState

from test_oms_manager import HarnessMarket, HarnessSession, HarnessVenue, nos, settle

D = Decimal


def iceberg(cl, qty, price, floor):
    return FixMessage(((35, "D"), (11, cl), (55, "BTC/USDT"), (54, "1"), (38, qty), (40, "2"),
                       (59, "1"), (60, "20261125-18:00:00.000"), (44, price), (111, floor),
                       (847, "1002")))


def algo_oms(tmp, inputs=None, names=("a", "b")):
    venues = {n: HarnessVenue(n) for n in names}
    inputs = inputs or AlgoInputs(parse_algo_config({}))
    oms = OrderManager(journal=Journal(tmp), clock=LiveClock(), venues=venues,
                       router=SmartOrderRouter(), market=HarnessMarket(venues),
                       algo_factory=lambda order, mgr: AlgoRun.build(order, mgr, inputs))
    s = HarnessSession()
    oms.on_create(s)
    return oms, s, venues


def test_marketable_iceberg_display_takes_then_rests_at_its_limit(tmp_path):
    """Harness book: a asks 1 @ 100, b asks 1 @ 101. A 1.5 display at limit 100.5 takes the
    1 @ 100 (IOC at the limit) and rests 0.5 at 100.5 (GTC, not post-only)."""
    async def t():
        oms, s, v = algo_oms(tmp_path / "db")
        oms.on_message(s, iceberg("I1", "3", "100.5", "1.5"))
        await settle()
        subs = v["a"].submits + v["b"].submits
        takers = [r for r in subs if r.tif is TimeInForce.IOC]
        resting = [r for r in subs if r.tif is TimeInForce.GTC]
        assert [(r.quantity, r.price) for r in takers] == [(D(1), D("100.5"))]
        assert [(r.quantity, r.price, r.post_only) for r in resting] == [(D("0.5"), D("100.5"), False)]
        assert sum(r.quantity for r in subs) == D("1.5")
    asyncio.run(t())


def test_slice_done_reserves_fills_the_venue_reported_but_not_yet_seen(tmp_path):
    """A display canceled at the venue with 0.4 filled per the cancel response, the fill itself
    not yet booked: the next display must leave that 0.4 reserved (no over-fill)."""
    async def t():
        oms, s, v = algo_oms(tmp_path / "db")
        oms.on_message(s, iceberg("I2", "1", "98", "1"))   # not marketable: rests 1 @ 98
        await settle()
        order = next(iter(oms.orders.values()))
        (child,) = order.children.values()
        crt = oms.child_rt[child.client_order_id]
        crt.venue_filled = D("0.4")               # as a cancel response would report it
        child.state = ChildState.CANCELED
        assert oms.slice_venue_filled(order, crt.slice_id) == D("0.4")
        run = oms.runtime[order.order_id].algo
        run.slice_done(crt.slice_id)
        assert run.scheduler.working == D("0.4") and run.scheduler.uncommitted == D("0.6")
        await asyncio.sleep(1.2)     # an unfilled display ended by the venue: one poll back-off
        await settle()
        later = [r for r in v["a"].submits + v["b"].submits
                 if r.client_order_id != child.client_order_id]
        assert later and sum(r.quantity for r in later) == D("0.6")
    asyncio.run(t())


class _Hub:
    def __init__(self):
        self.cb = []
        self.volume = D(0)

    def on_trade(self, cb):
        self.cb.append(cb)

    def trade(self, price, qty, ts):
        self.volume += D(qty)
        for cb in self.cb:
            cb(MarketTrade("a", "BTC/USDT", str(ts), D(price), D(qty), "buy", ts))

    def consolidated(self, symbol):
        return HarnessMarket({"a": HarnessVenue("a")}).book(symbol)

    def cumulative_volume(self, symbol):
        return self.volume

    def last_price(self, symbol):
        return None


def test_snapshot_carries_traded_notional_for_interval_vwap():
    hub = _Hub()
    view = HubMarketView(hub, {})
    first = view.snapshot("BTC/USDT", 0.0)
    hub.trade("100", "2", 1.0)
    hub.trade("103", "1", 2.0)
    last = view.snapshot("BTC/USDT", 3.0)
    vol = last.traded_volume - first.traded_volume
    notional = last.traded_notional - first.traded_notional
    assert (vol, notional) == (D(3), D(303))
    assert notional / vol == D(101)


def test_volatility_from_mid_samples_once_there_are_enough():
    hub = _Hub()
    view = HubMarketView(hub, {})
    for i in range(12):
        snap = view.snapshot("BTC/USDT", float(i))
    # the harness book never moves: realised volatility is exactly zero
    assert snap.volatility == 0.0
    assert HubMarketView(_Hub(), {}).snapshot("BTC/USDT", 0.0).volatility is None


def test_measured_impact_from_the_book():
    book = HarnessMarket({"a": HarnessVenue("a")}).book("BTC/USDT")   # 99 / 100, 1 at the ask
    p = measured_impact(book, Side.BUY, 0.0001)
    assert abs(p.sigma - 0.0001 * 99.5) < 1e-9
    density = 1 / 0.0995            # 1 unit within 10 bps of the mid of the touch
    assert abs(p.eta - 1 / (density * 0.5)) < 1e-9
    assert abs(p.epsilon - (0.5 + 0.001 * 99.5)) < 1e-9      # half spread + taker fee
    crossed = HarnessMarket({"a": HarnessVenue("a"), "b": HarnessVenue("b")}).book("BTC/USDT")
    assert measured_impact(crossed, Side.BUY, None) is None


def test_algos_config_is_parsed_with_errors_naming_the_key(tmp_path):
    base = {"state_dir": str(tmp_path), "venues": {}}
    cfg = parse_gateway_config({**base, "algos": {"slice_seconds": 10,
                                                  "volume_profile": {"weights": [1, 2]}}},
                               tmp_path / "g.yaml")
    assert cfg.algo.settings.slice_seconds == 10.0
    assert cfg.algo.volume_profile.weights == (1.0, 2.0)
    legacy = parse_gateway_config({**base, "algos": {"settings": {"poll_seconds": 2}}},
                                  tmp_path / "g.yaml")
    assert legacy.algo.settings.poll_seconds == 2.0
    with pytest.raises(ConfigError, match=r"g.yaml: algos.slice_seconds: must be .*got -1"):
        parse_gateway_config({**base, "algos": {"slice_seconds": -1}}, tmp_path / "g.yaml")
    with pytest.raises(ConfigError, match=r"unknown key"):
        parse_gateway_config({**base, "algos": {"bogus": 1}}, tmp_path / "g.yaml")


def test_arrival_and_vwap_get_impact_and_profile(tmp_path):
    """ARRIVAL is built with measured impact params, VWAP with the configured profile."""
    cfg = parse_algo_config({"volume_profile": {"weights": [1, 3]}})

    end = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(time.time() + 120))

    async def t():
        oms, s, v = algo_oms(tmp_path / "db", AlgoInputs(cfg), names=("a",))  # uncrossed book
        common = ((35, "D"), (55, "BTC/USDT"), (54, "1"), (38, "1"), (40, "2"), (44, "110"),
                  (59, "6"), (60, "20261125-18:00:00.000"), (126, end))
        oms.on_message(s, FixMessage(common + ((11, "AR"), (847, "1003"))))
        oms.on_message(s, FixMessage(common + ((11, "VW"), (847, "1"))))
        await settle()
        runs = {o.cl_ord_id: oms.runtime[o.order_id].algo for o in oms.orders.values()}
        assert runs["AR"].scheduler.impact is not None
        assert runs["VW"].scheduler.profile is cfg.volume_profile
        oms.cancel_all(reason="test over")
        await settle()
        # a horizon of years would plan millions of slices on the event loop: refused
        oms.on_message(s, FixMessage(common[:-1] + ((126, "20991231-00:00:00"), (11, "FAR"),
                                                     (847, "1001"))))
        await settle()
        er = s.ers()[-1]
        assert er[11] == "FAR" and er[150] == "8" and "ExpireTime(126)" in er[58]
    asyncio.run(t())


def _expire(venue, req):
    """The venue ends an IOC child with what it filled (the rest expired: the book moved)."""
    update = venue.update(req, VenueOrderState.CANCELED, venue.filled(req.client_order_id))
    venue.cb(dataclasses.replace(update, reason="expired"))


def test_market_order_resweeps_what_a_moving_book_left(tmp_path):
    async def t():
        venues = {"a": HarnessVenue("a"), "b": HarnessVenue("b")}
        oms = OrderManager(journal=Journal(tmp_path / "db"), clock=LiveClock(), venues=venues,
                           router=SmartOrderRouter(), market=HarnessMarket(venues))
        s = HarnessSession()
        oms.on_create(s)
        oms.on_message(s, nos("M1", "2"))           # market buy 2
        await settle()
        first = venues["a"].submits + venues["b"].submits
        assert sum(r.quantity for r in first) == D(2)
        for r in first:                             # each fills 0.5, the rest expires
            v = venues["a"] if r in venues["a"].submits else venues["b"]
            v.fill(r, D("0.5"), D(100))
            _expire(v, r)
        await settle()
        second = [r for r in venues["a"].submits + venues["b"].submits if r not in first]
        assert sum(r.quantity for r in second) == D(1), "the remainder is routed again"
        assert not [er for er in s.ers() if er[150] == "4"], "not canceled"
        for r in second:
            v = venues["a"] if r in venues["a"].submits else venues["b"]
            v.fill(r, r.quantity, D(101))
        await settle()
        last = s.ers()[-1]
        assert last[39] == "2" and D(last[14]) == D(2)
    asyncio.run(t())


def test_market_order_resweeps_a_bounded_number_of_times(tmp_path):
    async def t():
        venues = {"a": HarnessVenue("a"), "b": HarnessVenue("b")}   # mid 100: collar 100.5
        oms = OrderManager(journal=Journal(tmp_path / "db"), clock=LiveClock(), venues=venues,
                           router=SmartOrderRouter(), market=HarnessMarket(venues))
        s = HarnessSession()
        oms.on_create(s)
        oms.on_message(s, nos("M2", "1"))
        await settle()
        for _ in range(10):
            open_ = [r for r in venues["a"].submits
                     if not oms.children[r.client_order_id].state.done]
            if not open_:
                break
            for r in open_:
                venues["a"].fill(r, D("0.1"), D(100))
                _expire(venues["a"], r)
            await settle()
        assert len(venues["a"].submits) == 1 + 3           # the first sweep and 3 re-sweeps
        assert not venues["b"].submits                    # b's 101 is outside the collar
        last = s.ers()[-1]
        assert last[150] == "4" and D(last[14]) == D("0.4")
    asyncio.run(t())


def test_resting_limit_order_routes_again_what_its_short_ioc_left(tmp_path):
    """GTC buy 2 @ 100.5 (harness: a asks 1 @ 100): an IOC of 1 at a and 1 resting. The IOC
    fills 0.4 and expires: the 0.6 nobody works any more is routed again, not forgotten."""
    async def t():
        venues = {"a": HarnessVenue("a")}
        oms = OrderManager(journal=Journal(tmp_path / "db"), clock=LiveClock(), venues=venues,
                           router=SmartOrderRouter(), market=HarnessMarket(venues))
        s = HarnessSession()
        oms.on_create(s)
        oms.on_message(s, nos("L1", "2", "100.5", tif="1"))
        await settle()
        ioc = [r for r in venues["a"].submits if r.tif is TimeInForce.IOC]
        rest = [r for r in venues["a"].submits if r.tif is TimeInForce.GTC]
        assert [r.quantity for r in ioc] == [D(1)] and [r.quantity for r in rest] == [D(1)]
        venues["a"].fill(ioc[0], D("0.4"), D(100))
        _expire(venues["a"], ioc[0])
        await settle()
        again = [r for r in venues["a"].submits if r not in ioc + rest]
        assert sum(r.quantity for r in again) == D("0.6")
        assert all(r.price == D("100.5") for r in again)
        assert s.ers()[-1][39] == "1" and D(s.ers()[-1][151]) == D("1.6")
    asyncio.run(t())


def test_a_replace_moving_an_algo_end_years_out_is_refused_and_the_parent_keeps_working(tmp_path):
    """The OMS's 7-day check is on the NewOrderSingle; on a replace the scheduler's own
    max_slices cap refuses the horizon (OrderCancelReject naming ExpireTime), instead of
    planning millions of slices on the event loop."""
    end = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(time.time() + 120))

    async def t():
        oms, s, v = algo_oms(tmp_path / "db", names=("a",))
        common = ((35, "D"), (55, "BTC/USDT"), (54, "1"), (38, "1"), (40, "2"), (44, "110"),
                  (59, "6"), (60, "20261125-18:00:00.000"), (126, end))
        oms.on_message(s, FixMessage(common + ((11, "TW"), (847, "1001"))))
        await settle()
        assert s.ers()[-1][150] == "0"
        oms.on_message(s, FixMessage(((35, "G"), (11, "TW2"), (41, "TW"), (55, "BTC/USDT"),
                                      (54, "1"), (38, "1"), (40, "2"), (44, "110"), (59, "6"),
                                      (126, "20991231-00:00:00"), (847, "1001"))))
        await settle()
        rejects = [b for t_, b in s.sent if t_ == "9"]
        assert len(rejects) == 1 and rejects[0][11] == "TW2" and rejects[0][434] == "2"
        assert "ExpireTime(126)" in rejects[0][58] and "max_slices" in rejects[0][58]
        (order,) = oms.open_orders()
        assert order.cl_ord_id == "TW" and order.expire_time < time.time() + 200
        oms.cancel_all(reason="test over")
        await settle()
    asyncio.run(t())
