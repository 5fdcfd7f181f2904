"""The smart order router: a pure function from a consolidated book to venue allocations.

*Marketable* orders are swept across venues cheapest all-in level first (price plus taker
fee for a buy, price minus taker fee for a sell), never through the limit price. Sweeping
level by level in all-in order is the exact optimum of this problem (every venue's cost curve
is convex: a fractional knapsack), so the average all-in price is the best achievable for the
size; lot sizes are then honoured by rounding each venue down to its step and topping up, one
step at a time, wherever the next step is cheapest. A venue whose share falls below its minimum
clip (or minimum notional) is dropped and the order routed again without it.

*Passive* orders rest whole at one venue: the one where the resting price is best after maker
fees (lowest maker fee or highest rebate), among venues where that price would not cross the
book; ties go to the venue with the least quantity queued ahead.

Everything is Decimal and exact; quantities that cannot be placed (not enough liquidity within
the limit, lot remainders) are reported as ``remainder``, never silently dropped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Iterable, Mapping

from fixgw.domain import Side
from fixgw.marketdata.consolidated import (ConsolidatedBook, VenueQuote, maker_all_in,
                                           taker_all_in)
from fixgw.marketdata.book import Level

ZERO = Decimal(0)


class Liquidity(str, Enum):
    TAKER = "taker"
    MAKER = "maker"


@dataclass(frozen=True, slots=True)
class VenueRules:
    """Per venue (and symbol) order constraints. ``lot_size`` 0 means any quantity."""

    lot_size: Decimal = ZERO
    min_qty: Decimal = ZERO          # min clip: the smallest child worth sending there
    min_notional: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class RouteRequest:
    symbol: str
    side: Side
    quantity: Decimal
    limit_price: Decimal | None = None
    passive: bool = False                     # rest (maker) instead of take
    include: frozenset[str] | None = None     # per order (957-960 IncludeVenues); None = all
    exclude: frozenset[str] = frozenset()     # per order (957-960 ExcludeVenues)
    min_clip: Decimal = ZERO                  # per order floor on every child's size
    rest_remainder: bool = False              # marketable limit: rest what cannot be taken

    def __post_init__(self) -> None:
        if not isinstance(self.quantity, Decimal) or self.quantity <= 0:
            raise ValueError(f"RouteRequest.quantity must be a positive Decimal, got {self.quantity!r}")
        if self.limit_price is not None and (not isinstance(self.limit_price, Decimal)
                                             or self.limit_price <= 0):
            raise ValueError(f"RouteRequest.limit_price must be a positive Decimal, got {self.limit_price!r}")


@dataclass(frozen=True, slots=True)
class Allocation:
    venue: str
    quantity: Decimal
    price: Decimal            # child limit price: worst level to take, or the resting price
    avg_price: Decimal        # expected average venue price (before fees)
    fee_rate: Decimal         # the taker or maker fee applied
    expected_cost: Decimal    # all-in notional: sum(price*qty) * (1 +/- fee)
    liquidity: Liquidity


@dataclass(frozen=True, slots=True)
class RoutePlan:
    request: RouteRequest
    allocations: tuple[Allocation, ...]
    remainder: Decimal                       # quantity not allocated
    excluded: tuple[tuple[str, str], ...] = field(default=())   # (venue, why)

    @property
    def allocated(self) -> Decimal:
        return sum((a.quantity for a in self.allocations), ZERO)

    @property
    def expected_cost(self) -> Decimal:
        return sum((a.expected_cost for a in self.allocations), ZERO)

    @property
    def avg_all_in_price(self) -> Decimal | None:
        qty = self.allocated
        return self.expected_cost / qty if qty else None


def floor_to_step(quantity: Decimal, step: Decimal) -> Decimal:
    if step <= 0:
        return quantity
    return (quantity // step) * step


def _within_limit(side: Side, price: Decimal, limit: Decimal | None) -> bool:
    if limit is None:
        return True
    return price <= limit if side is Side.BUY else price >= limit


def _walk(levels: Iterable[Level], qty: Decimal) -> tuple[Decimal, Decimal] | None:
    """(notional, worst price) to take ``qty`` through ``levels``; None if they run out."""
    notional, remaining, worst = ZERO, qty, ZERO
    for price, level_qty in levels:
        take = min(level_qty, remaining)
        notional += take * price
        remaining -= take
        worst = price
        if remaining == 0:
            return notional, worst
    return None


class SmartOrderRouter:
    """Stateless apart from configuration: venue rules and config-level include/exclude."""

    def __init__(self, rules: Mapping[str, VenueRules] | None = None,
                 default_rules: VenueRules = VenueRules(),
                 include: Iterable[str] | None = None, exclude: Iterable[str] = ()):
        self._rules = dict(rules or {})
        self._default_rules = default_rules
        self._include = frozenset(include) if include is not None else None
        self._exclude = frozenset(exclude)

    def rules_for(self, venue: str, symbol: str) -> VenueRules:
        """Rules keyed by ``(venue, symbol)`` win over rules keyed by venue."""
        return self._rules.get(f"{venue}|{symbol}") or self._rules.get(venue) or self._default_rules

    # -- entry point ---------------------------------------------------------------------
    def route(self, book: ConsolidatedBook, request: RouteRequest) -> RoutePlan:
        eligible, excluded = self._eligible(book, request)
        if request.passive:
            return self._rest(book, request, eligible, excluded, request.quantity, ())
        plan = self._sweep(request, eligible, excluded)
        if request.rest_remainder and plan.remainder > 0 and request.limit_price is not None:
            # what the sweep takes is gone from the book: only levels beyond the limit remain
            return self._rest(book, request, eligible, list(plan.excluded), plan.remainder,
                              plan.allocations, swept=True)
        return plan

    # -- eligibility ---------------------------------------------------------------------
    def _eligible(self, book: ConsolidatedBook, request: RouteRequest
                  ) -> tuple[list[VenueQuote], list[tuple[str, str]]]:
        excluded: list[tuple[str, str]] = [(v, "stale book") for v in book.stale]
        eligible = []
        for quote in book.venues:
            v = quote.venue
            if self._include is not None and v not in self._include:
                excluded.append((v, "not included by config"))
            elif v in self._exclude:
                excluded.append((v, "excluded by config"))
            elif request.include is not None and v not in request.include:
                excluded.append((v, "not included by order"))
            elif v in request.exclude:
                excluded.append((v, "excluded by order"))
            else:
                eligible.append(quote)
        return eligible, excluded

    def _min_qty(self, rules: VenueRules, request: RouteRequest) -> Decimal:
        return max(rules.min_qty, request.min_clip)

    # -- marketable ----------------------------------------------------------------------
    def _sweep(self, request: RouteRequest, eligible: list[VenueQuote],
               excluded: list[tuple[str, str]]) -> RoutePlan:
        venues = list(eligible)
        while True:
            alloc = self._sweep_once(request, venues)
            too_small = []
            for quote in venues:
                qty = alloc.get(quote.venue, ZERO)
                if qty <= 0:
                    continue
                rules = self.rules_for(quote.venue, request.symbol)
                levels = self._taker_side(quote, request)
                notional = _walk(levels, qty)[0]
                if qty < self._min_qty(rules, request):
                    too_small.append((quote.venue, f"share {qty} below min clip"))
                elif notional < rules.min_notional:
                    too_small.append((quote.venue, f"share notional {notional} below min notional"))
            if not too_small:
                break
            excluded = excluded + too_small
            dropped = {v for v, _ in too_small}
            venues = [q for q in venues if q.venue not in dropped]
        allocations = []
        for quote in venues:
            qty = alloc.get(quote.venue, ZERO)
            if qty <= 0:
                continue
            notional, worst = _walk(self._taker_side(quote, request), qty)
            one = taker_all_in(request.side, Decimal(1), quote.fees)
            allocations.append(Allocation(quote.venue, qty, worst, notional / qty,
                                          quote.fees.taker, notional * one, Liquidity.TAKER))
        allocations.sort(key=lambda a: (a.expected_cost / a.quantity * request.side.sign, a.venue))
        remainder = request.quantity - sum((a.quantity for a in allocations), ZERO)
        return RoutePlan(request, tuple(allocations), remainder, tuple(excluded))

    def _taker_side(self, quote: VenueQuote, request: RouteRequest) -> list[Level]:
        side = quote.book.asks if request.side is Side.BUY else quote.book.bids
        return [lv for lv in side if _within_limit(request.side, lv[0], request.limit_price)]

    def _sweep_once(self, request: RouteRequest, venues: list[VenueQuote]) -> dict[str, Decimal]:
        side = request.side
        candidates = []
        for quote in venues:
            for price, qty in self._taker_side(quote, request):
                candidates.append((taker_all_in(side, price, quote.fees), quote.venue, qty))
        candidates.sort(key=lambda c: (c[0] * side.sign, c[1]))
        alloc: dict[str, Decimal] = {}
        remaining = request.quantity
        for _, venue, qty in candidates:
            if remaining <= 0:
                break
            take = min(qty, remaining)
            alloc[venue] = alloc.get(venue, ZERO) + take
            remaining -= take
        # honour lot sizes: round down, then top up one lot at a time where it is cheapest
        by_name = {q.venue: q for q in venues}
        steps = {v: self.rules_for(v, request.symbol).lot_size for v in by_name}
        for v in alloc:
            alloc[v] = floor_to_step(alloc[v], steps[v])
        remaining = request.quantity - sum(alloc.values(), ZERO)
        for _ in range(10_000):
            if remaining <= 0:
                break
            best = None
            for v, quote in by_name.items():
                step = steps[v] if steps[v] > 0 else remaining
                if step > remaining:
                    continue
                levels = self._taker_side(quote, request)
                have = alloc.get(v, ZERO)
                after = _walk(levels, have + step)
                if after is None:
                    continue
                before = _walk(levels, have)[0] if have else ZERO
                unit = (after[0] - before) / step * taker_all_in(side, Decimal(1), quote.fees)
                key = (unit * side.sign, v)
                if best is None or key < best[0]:
                    best = (key, v, step)
            if best is None:
                break
            _, v, step = best
            alloc[v] = alloc.get(v, ZERO) + step
            remaining -= step
        return alloc

    # -- passive -------------------------------------------------------------------------
    def _rest(self, book: ConsolidatedBook, request: RouteRequest, eligible: list[VenueQuote],
              excluded: list[tuple[str, str]], quantity: Decimal,
              taken: tuple[Allocation, ...], swept: bool = False) -> RoutePlan:
        side = request.side
        price = request.limit_price
        if price is None:  # join the consolidated touch
            price = book.best_bid() if side is Side.BUY else book.best_ask()
        excluded = list(excluded)
        best = None
        if price is not None:
            for quote in eligible:
                opposite_side = quote.book.asks if side is Side.BUY else quote.book.bids
                if swept:
                    opposite_side = [lv for lv in opposite_side
                                     if not _within_limit(side, lv[0], request.limit_price)]
                opposite = opposite_side[0][0] if opposite_side else None
                if opposite is not None and (price >= opposite if side is Side.BUY else price <= opposite):
                    excluded.append((quote.venue, "resting price would take"))
                    continue
                rules = self.rules_for(quote.venue, request.symbol)
                qty = floor_to_step(quantity, rules.lot_size)
                if qty <= 0 or qty < self._min_qty(rules, request) or qty * price < rules.min_notional:
                    excluded.append((quote.venue, f"quantity {quantity} below venue minimum"))
                    continue
                same = quote.book.bids if side is Side.BUY else quote.book.asks
                ahead = sum((q for p, q in same if (p >= price if side is Side.BUY else p <= price)), ZERO)
                all_in = maker_all_in(side, price, quote.fees)
                key = (all_in * side.sign, ahead, quote.venue)
                if best is None or key < best[0]:
                    best = (key, quote, qty, all_in)
        allocations = list(taken)
        if best is not None:
            _, quote, qty, all_in = best
            allocations.append(Allocation(quote.venue, qty, price, price, quote.fees.maker,
                                          all_in * qty, Liquidity.MAKER))
        remainder = request.quantity - sum((a.quantity for a in allocations), ZERO)
        return RoutePlan(request, tuple(allocations), remainder, tuple(excluded))


def venue_filters_from_strategy_parameters(params: Mapping[str, str]
                                           ) -> tuple[frozenset[str] | None, frozenset[str], Decimal]:
    """(include, exclude, min_clip) from StrategyParametersGrp (957 name -> 960 value).

    Names (case-insensitive): ``IncludeVenues`` / ``Venues`` and ``ExcludeVenues`` take a
    comma-separated venue list; ``MinClip`` a decimal quantity. Raises ValueError naming the
    parameter and value when a value is malformed.
    """
    include: frozenset[str] | None = None
    exclude: frozenset[str] = frozenset()
    min_clip = ZERO
    for name, value in params.items():
        key = name.strip().lower()
        if key in ("includevenues", "venues"):
            include = frozenset(v.strip() for v in value.split(",") if v.strip())
        elif key == "excludevenues":
            exclude = frozenset(v.strip() for v in value.split(",") if v.strip())
        elif key == "minclip":
            min_clip = parse_quantity_parameter("MinClip", value)
    return include, exclude, min_clip


MAX_PARAMETER_CHARS = 40
_PLAIN_DECIMAL = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")


def parse_quantity_parameter(name: str, value: str) -> Decimal:
    """A quantity given as a StrategyParameter (960), read as a FIX Qty: a plain decimal
    (digits and at most one '.'), zero or more.

    Python's Decimal also takes exponents (``1E+2``), ``NaN``, ``Infinity``, underscores and
    blanks; none of those is a FIX decimal, and an exponent like ``1E+999999`` would become a
    million-digit number on the order path, so they are refused. Raises ValueError naming the
    parameter and the value."""
    if len(value) > MAX_PARAMETER_CHARS:
        raise ValueError(f"StrategyParameter {name}: too long (over {MAX_PARAMETER_CHARS} "
                         f"characters): {value[:MAX_PARAMETER_CHARS] + '...'!r}")
    if not _PLAIN_DECIMAL.fullmatch(value):
        raise ValueError(f"StrategyParameter {name}: not a plain decimal (digits and one '.'; "
                         f"no exponent, NaN or Infinity): {value!r}")
    quantity = Decimal(value)
    if quantity < 0:
        raise ValueError(f"StrategyParameter {name}: must be >= 0: {value!r}")
    return quantity
