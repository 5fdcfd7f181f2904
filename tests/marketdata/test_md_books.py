"""L2 book, consolidated book, staleness transitions and the volume counter (pure)."""
from __future__ import annotations

import logging
from decimal import Decimal as D

from fixgw.clock import FakeClock
from fixgw.domain import Side
from fixgw.marketdata.book import L2Book
from fixgw.marketdata.hub import MarketDataConfig, MarketDataHub
from fixgw.marketdata.volume import MarketTrade, VolumeCounter
from fixgw.venues.base import VenueFees


def lv(*pairs):
    return [(D(p), D(q)) for p, q in pairs]


def test_l2_book_sorted_best_first_and_deletes_on_zero():
    b = L2Book("A", "BTC/USDT")
    b.replace(lv(("99", "1"), ("100", "2"), ("98", "3")), lv(("102", "1"), ("101", "2")), now=1.0)
    assert b.bids() == tuple(lv(("100", "2"), ("99", "1"), ("98", "3")))
    assert b.asks() == tuple(lv(("101", "2"), ("102", "1")))
    b.apply(lv(("100", "0"), ("99.5", "4")), lv(("101", "0")), now=2.0)
    assert b.best_bid == (D("99.5"), D("4")) and b.best_ask == (D("102"), D("1"))
    snap = b.snapshot(depth=1)
    assert snap.bids == ((D("99.5"), D("4")),) and snap.asks == ((D("102"), D("1")),)
    assert snap.mid == D("100.75") and snap.updated_at == 2.0 and snap.sequence == 2
    assert not b.crossed


class _Src:
    def __init__(self, name, fees):
        self.name, self._fees = name, fees

    def exchange_for(self, symbol):  # not used without start()
        raise AssertionError

    def fees_for(self, symbol):
        return self._fees


def _hub(clock, stale_after=2.0):
    srcs = [_Src("A", VenueFees(D("0.0002"), D("0.001"))), _Src("B", VenueFees(D("0"), D("0.0004")))]
    return MarketDataHub(srcs, {"A": ["BTC/USDT"], "B": ["BTC/USDT"]}, clock=clock, wall_clock=clock,
                         config=MarketDataConfig(stale_after_s=stale_after))


def test_consolidated_applies_taker_fees_and_mid():
    clock = FakeClock()
    hub = _hub(clock)
    hub.feed_book("A", "BTC/USDT", lv(("99.9", "1")), lv(("100.0", "1"), ("100.5", "2")))
    hub.feed_book("B", "BTC/USDT", lv(("100.0", "2")), lv(("100.05", "3")))
    cb = hub.consolidated("BTC/USDT")
    assert [q.venue for q in cb.venues] == ["A", "B"] and cb.stale == ()
    assert cb.best_bid() == D("100.0") and cb.best_ask() == D("100.0")
    assert hub.mid("BTC/USDT") == D("100.0")
    levels = cb.taker_levels(Side.BUY)
    # A 100.0*1.001 = 100.1 ; B 100.05*1.0004 = 100.09002 -> B first although its price is higher
    assert (levels[0].venue, levels[0].all_in_price) == ("B", D("100.05") * D("1.0004"))
    assert (levels[1].venue, levels[1].all_in_price) == ("A", D("100.100"))
    sells = cb.taker_levels(Side.SELL)
    assert sells[0].venue == "B" and sells[0].all_in_price == D("100.0") * D("0.9996")


def test_stale_book_is_excluded_and_logged_once_per_transition(caplog):
    clock = FakeClock()
    hub = _hub(clock, stale_after=2.0)
    caplog.set_level(logging.INFO, logger="fixgw.marketdata")
    hub.feed_book("A", "BTC/USDT", lv(("99", "1")), lv(("101", "1")))
    hub.feed_book("B", "BTC/USDT", lv(("99", "1")), lv(("101", "1")))
    clock.advance(1.5)
    hub.feed_book("B", "BTC/USDT", lv(("99", "1")), lv(("100.5", "1")))
    clock.advance(1.0)  # A last updated 2.5 s ago -> stale; B 1.0 s ago
    for _ in range(3):
        cb = hub.consolidated("BTC/USDT")
        for key in list(hub._books):
            hub._check(key)
    assert [q.venue for q in cb.venues] == ["B"] and cb.stale == ("A",)
    assert hub.is_stale("A", "BTC/USDT") and not hub.is_stale("B", "BTC/USDT")
    stale_msgs = [r for r in caplog.records if "A BTC/USDT book stale" in r.getMessage()]
    assert len(stale_msgs) == 1 and "excluded from routing" in stale_msgs[0].getMessage()
    hub.feed_book("A", "BTC/USDT", lv(("99", "1")), lv(("101", "1")))
    hub.feed_book("A", "BTC/USDT", lv(("99", "1")), lv(("101", "1")))
    recovered = [r for r in caplog.records if "A BTC/USDT book recovered" in r.getMessage()]
    assert len(recovered) == 1
    assert [q.venue for q in hub.consolidated("BTC/USDT").venues] == ["A", "B"]


def test_resync_marks_stale_immediately_until_next_snapshot(caplog):
    clock = FakeClock()
    hub = _hub(clock)
    caplog.set_level(logging.INFO, logger="fixgw.marketdata")
    hub.feed_book("A", "BTC/USDT", lv(("99", "1")), lv(("101", "1")))
    hub.mark_resyncing("A", "BTC/USDT", "ChecksumError: gap")
    assert hub.consolidated("BTC/USDT").stale == ("A",)
    assert any("ChecksumError: gap" in r.getMessage() for r in caplog.records)
    hub.feed_book("A", "BTC/USDT", lv(("99", "1")), lv(("101", "1")))
    assert hub.consolidated("BTC/USDT").stale == ()


def test_volume_since_across_venues_with_dedup():
    vc = VolumeCounter()
    for venue, tid, ts, q in [("A", "1", 100.0, "1"), ("A", "2", 105.0, "2"), ("B", "9", 103.0, "0.5"),
                              ("B", "9", 103.0, "0.5"), ("B", "10", 110.0, "4")]:
        vc.add(MarketTrade(venue, "BTC/USDT", tid, D("100"), D(q), "buy", ts))
    assert vc.volume_since("BTC/USDT", 0) == D("7.5")
    assert vc.volume_since("BTC/USDT", 103.0) == D("6.5")
    assert vc.volume_since("BTC/USDT", 104.0) == D("6")
    assert vc.volume_since("BTC/USDT", 104.0, venue="A") == D("2")
    assert vc.volume_since("ETH/USDT", 0) == 0
    assert vc.cumulative("BTC/USDT") == D("7.5")


def test_volume_counter_prunes_but_keeps_totals():
    vc = VolumeCounter(horizon_s=10)
    for i in range(3000):
        vc.add(MarketTrade("A", "X/Y", str(i), D("1"), D("0.1"), None, float(i)))
    assert vc.cumulative("X/Y") == D("300.0")
    assert vc.volume_since("X/Y", 2990.0) == D("1.0")
    assert len(vc._series[("A", "X/Y")].times) < 3000


def test_staleness_runs_on_the_wall_clock_not_scaled_market_time():
    market, wall = FakeClock(), FakeClock()
    srcs = [_Src("A", VenueFees(D("0"), D("0.001")))]
    hub = MarketDataHub(srcs, {"A": ["BTC/USDT"]}, clock=market, wall_clock=wall,
                        config=MarketDataConfig(stale_after_s=2.0))
    hub.feed_book("A", "BTC/USDT", lv(("99", "1")), lv(("101", "1")))
    market.advance(60.0)   # a minute of compressed market time, 0.1 s of real time
    wall.advance(0.1)
    assert not hub.is_stale("A", "BTC/USDT")
    wall.advance(2.0)
    assert hub.is_stale("A", "BTC/USDT")


def test_a_garbage_ccxt_book_is_excluded_and_logged_not_raised_into_routing(caplog):
    """ccxt's websocket book holds floats: a NaN/inf/non-number level from a misbehaving venue
    must not raise out of consolidated() (the router's call), only take that venue out."""
    clock = FakeClock()
    hub = _hub(clock)
    caplog.set_level(logging.WARNING, logger="fixgw.marketdata")
    hub.feed_ccxt_book("A", "BTC/USDT", {"bids": [[99.9, 1.0]], "asks": [[100.1, 2.0]]})
    hub.feed_ccxt_book("B", "BTC/USDT", {"bids": [[99.8, 1.0]], "asks": [[100.2, 1.0]]})
    assert hub.book("A", "BTC/USDT").asks == ((D("100.1"), D("2.0")),)   # exact, via repr
    for garbage in ([[float("nan"), 1.0]], [[100.0, float("inf")]], [["abc", 1.0]], [[100.0]]):
        hub.feed_ccxt_book("A", "BTC/USDT", {"bids": garbage, "asks": [[100.1, 2.0]]})
        cb = hub.consolidated("BTC/USDT")
        assert [q.venue for q in cb.venues] == ["B"] and cb.stale == ("A",)
        assert hub.is_stale("A", "BTC/USDT") and hub.mid("BTC/USDT") == D("100.0")
    assert "A BTC/USDT book stale (unusable levels from the venue" in caplog.text
    hub.feed_ccxt_book("A", "BTC/USDT", {"bids": [[99.95, 1.0]], "asks": [[100.1, 2.0]]})
    assert [q.venue for q in hub.consolidated("BTC/USDT").venues] == ["A", "B"]
    assert hub.book("A", "BTC/USDT").best_bid == D("99.95")
