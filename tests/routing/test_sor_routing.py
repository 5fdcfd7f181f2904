"""Smart order router: exact Decimal allocations, checked against brute force."""
from __future__ import annotations

import itertools
from decimal import Decimal as D

import pytest

from fixgw.domain import Side
from fixgw.marketdata.book import BookSnapshot
from fixgw.marketdata.consolidated import ConsolidatedBook, VenueQuote
from fixgw.routing.sor import (Liquidity, RouteRequest, SmartOrderRouter, VenueRules,
                               venue_filters_from_strategy_parameters)
from fixgw.venues.base import VenueFees


def quote(venue, bids, asks, taker="0.001", maker="0.0005"):
    snap = BookSnapshot(venue, "BTC/USDT",
                        tuple((D(p), D(q)) for p, q in bids), tuple((D(p), D(q)) for p, q in asks),
                        0.0, 1)
    return VenueQuote(snap, VenueFees(D(maker), D(taker)))


def book(*quotes, stale=()):
    return ConsolidatedBook("BTC/USDT", tuple(quotes), tuple(stale))


def walk_cost(levels, qty, fee, side):
    """All-in cost of taking qty through levels (None if not enough)."""
    notional, remaining = D(0), qty
    for p, q in levels:
        take = min(q, remaining)
        notional += take * p
        remaining -= take
        if remaining == 0:
            break
    if remaining > 0:
        return None
    return notional * (1 + fee) if side is Side.BUY else notional * (1 - fee)


def brute_force_best(cb, side, qty, step, limit=None):
    """Best total all-in cost over every split of qty (in multiples of step) across venues."""
    venues = cb.venues
    n = int(qty / step)
    best = None
    for split in itertools.product(range(n + 1), repeat=len(venues)):
        if sum(split) != n:
            continue
        total = D(0)
        for k, vq in zip(split, venues):
            if k == 0:
                continue
            levels = vq.book.asks if side is Side.BUY else vq.book.bids
            if limit is not None:
                levels = [lv for lv in levels if (lv[0] <= limit if side is Side.BUY else lv[0] >= limit)]
            c = walk_cost(levels, k * step, vq.fees.taker, side)
            if c is None:
                break
            total += c
        else:
            if best is None or (total < best if side is Side.BUY else total > best):
                best = total
    return best


THREE = (
    quote("A", [("99.9", "1.0"), ("99.5", "2.0")], [("100.0", "0.5"), ("100.4", "1.0"), ("101.0", "3")],
          taker="0.002"),
    quote("B", [("99.8", "0.7"), ("99.7", "1.5")], [("100.1", "0.8"), ("100.2", "0.6"), ("100.9", "2")],
          taker="0.0005"),
    quote("C", [("100.0", "0.3"), ("99.0", "5")], [("99.9", "0.2"), ("100.3", "0.4"), ("102", "5")],
          taker="0.003"),
)


@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
@pytest.mark.parametrize("qty", ["0.1", "0.5", "1.2", "2.0", "2.7"])
def test_split_matches_brute_force_best_all_in(side, qty):
    cb = book(*THREE)
    plan = SmartOrderRouter().route(cb, RouteRequest("BTC/USDT", side, D(qty)))
    assert plan.remainder == 0
    assert plan.allocated == D(qty)
    best = brute_force_best(cb, side, D(qty), D("0.1"))
    assert plan.expected_cost == best
    assert plan.avg_all_in_price == best / D(qty)


def test_order_too_big_for_one_venue_is_split_at_best_average():
    thin = (quote("A", [], [("100.0", "0.5"), ("100.4", "0.5")], taker="0.002"),
            quote("B", [], [("100.1", "0.8"), ("100.2", "0.6")], taker="0.0005"),
            quote("C", [], [("99.9", "0.2"), ("100.3", "0.4")], taker="0.003"))
    cb = book(*thin)
    qty = D("2.0")
    plan = SmartOrderRouter().route(cb, RouteRequest("BTC/USDT", Side.BUY, qty))
    assert all(walk_cost(q.book.asks, qty, q.fees.taker, Side.BUY) is None for q in thin)
    assert len(plan.allocations) >= 2 and plan.allocated == qty and plan.remainder == 0
    assert plan.expected_cost == brute_force_best(cb, Side.BUY, qty, D("0.1"))
    # each child's limit price is the worst level it must reach at that venue
    for a in plan.allocations:
        assert a.liquidity is Liquidity.TAKER
        assert a.avg_price <= a.price


def test_limit_price_is_never_crossed_and_remainder_reported():
    cb = book(*THREE)
    plan = SmartOrderRouter().route(cb, RouteRequest("BTC/USDT", Side.BUY, D("5"), limit_price=D("100.2")))
    assert all(a.price <= D("100.2") for a in plan.allocations)
    # available at or below 100.2: A 0.5, B 0.8+0.6, C 0.2
    assert plan.allocated == D("2.1")
    assert plan.remainder == D("2.9")
    assert plan.expected_cost == brute_force_best(cb, Side.BUY, D("2.1"), D("0.1"), limit=D("100.2"))


def test_fee_can_make_a_worse_price_the_better_venue():
    a = quote("A", [], [("100.00", "1")], taker="0.005")   # all-in 100.5
    b = quote("B", [], [("100.20", "1")], taker="0.001")   # all-in 100.3002
    plan = SmartOrderRouter().route(book(a, b), RouteRequest("BTC/USDT", Side.BUY, D("1")))
    assert [(x.venue, x.quantity) for x in plan.allocations] == [("B", D("1"))]
    assert plan.expected_cost == D("100.20") * D("1.001")


def test_include_exclude_per_order_and_config_and_stale():
    cb = book(*THREE, stale=("D",))
    plan = SmartOrderRouter(exclude=["C"]).route(
        cb, RouteRequest("BTC/USDT", Side.BUY, D("1"), include=frozenset({"A", "C"})))
    assert {a.venue for a in plan.allocations} == {"A"}
    reasons = dict(plan.excluded)
    assert reasons["D"] == "stale book"
    assert reasons["C"] == "excluded by config"
    assert reasons["B"] == "not included by order"


def test_lot_sizes_and_min_clip():
    a = quote("A", [], [("100", "1.05")], taker="0.001")
    b = quote("B", [], [("100.1", "5")], taker="0.001")
    rules = {"A": VenueRules(lot_size=D("0.1")), "B": VenueRules(lot_size=D("0.01"), min_qty=D("0.5"))}
    plan = SmartOrderRouter(rules).route(book(a, b), RouteRequest("BTC/USDT", Side.BUY, D("1.2")))
    alloc = {x.venue: x.quantity for x in plan.allocations}
    # B's share (0.2) is below its min clip 0.5: B is dropped, A takes what its lots allow
    assert alloc == {"A": D("1.0")}
    assert plan.remainder == D("0.2")
    assert ("B", "share 0.20 below min clip") in plan.excluded
    for venue, qty in alloc.items():
        step = rules[venue].lot_size
        assert (qty / step) == (qty / step).to_integral_value()


def test_lot_topup_goes_to_next_cheapest():
    a = quote("A", [], [("100", "0.75")], taker="0")
    b = quote("B", [], [("101", "5")], taker="0")
    rules = {"A": VenueRules(lot_size=D("0.5")), "B": VenueRules(lot_size=D("0.25"))}
    plan = SmartOrderRouter(rules).route(book(a, b), RouteRequest("BTC/USDT", Side.BUY, D("1")))
    alloc = {x.venue: x.quantity for x in plan.allocations}
    assert alloc == {"A": D("0.5"), "B": D("0.5")}
    assert plan.remainder == 0


def test_passive_rests_at_best_maker_fee_without_crossing():
    a = quote("A", [("99", "1")], [("100", "1")], maker="0.001")
    b = quote("B", [("99", "1")], [("100", "1")], maker="-0.0001")   # rebate
    c = quote("C", [("99", "1")], [("99.5", "1")], maker="-0.0005")  # would take at 99.5
    plan = SmartOrderRouter().route(book(a, b, c),
                                    RouteRequest("BTC/USDT", Side.BUY, D("2"), limit_price=D("99.5"),
                                                 passive=True))
    assert len(plan.allocations) == 1
    alloc = plan.allocations[0]
    assert (alloc.venue, alloc.quantity, alloc.price, alloc.liquidity) == ("B", D("2"), D("99.5"), Liquidity.MAKER)
    assert alloc.expected_cost == D("99.5") * D("0.9999") * 2
    assert ("C", "resting price would take") in plan.excluded


def test_passive_without_price_joins_consolidated_touch():
    a = quote("A", [("99", "1")], [("100", "1")], maker="0.001")
    b = quote("B", [("98.5", "1")], [("100.5", "1")], maker="0.001")
    plan = SmartOrderRouter().route(book(a, b), RouteRequest("BTC/USDT", Side.SELL, D("1"), passive=True))
    assert plan.allocations[0].price == D("100")
    # equal fees: the venue with nothing queued ahead at 100 wins
    assert plan.allocations[0].venue == "B"


def test_marketable_limit_rests_remainder():
    a = quote("A", [("99", "1")], [("100", "0.4"), ("102", "1")], maker="0.0002")
    b = quote("B", [("99", "1")], [("100.5", "0.3"), ("103", "1")], maker="0.0001")
    plan = SmartOrderRouter().route(book(a, b), RouteRequest(
        "BTC/USDT", Side.BUY, D("1"), limit_price=D("101"), rest_remainder=True))
    takers = [x for x in plan.allocations if x.liquidity is Liquidity.TAKER]
    makers = [x for x in plan.allocations if x.liquidity is Liquidity.MAKER]
    assert sum(x.quantity for x in takers) == D("0.7")
    assert len(makers) == 1 and makers[0].quantity == D("0.3") and makers[0].venue == "B"
    assert plan.remainder == 0


def test_empty_book_reports_everything_as_remainder():
    plan = SmartOrderRouter().route(book(), RouteRequest("BTC/USDT", Side.BUY, D("1")))
    assert plan.allocations == () and plan.remainder == D("1") and plan.avg_all_in_price is None


def test_bad_request_names_field():
    with pytest.raises(ValueError, match="quantity"):
        RouteRequest("BTC/USDT", Side.BUY, D("0"))
    with pytest.raises(ValueError, match="limit_price"):
        RouteRequest("BTC/USDT", Side.BUY, D("1"), limit_price=D("-1"))


def test_strategy_parameters():
    inc, exc, clip = venue_filters_from_strategy_parameters(
        {"IncludeVenues": "A, B", "ExcludeVenues": "C", "MinClip": "0.01"})
    assert inc == frozenset({"A", "B"}) and exc == frozenset({"C"}) and clip == D("0.01")
    with pytest.raises(ValueError, match="MinClip"):
        venue_filters_from_strategy_parameters({"MinClip": "abc"})
