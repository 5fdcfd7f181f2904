"""The market model of a simulated venue: where prices come from, and why slicing pays.

Participants, all trading on the venue's real matching engine through
:class:`~fixgw.sim.protocol.MatchingVenue` as house accounts:

* a latent **fair price** per fair key (BTC spot and the BTC perpetual share one): a geometric
  random walk with Poisson jumps, drawn on a fixed market-time grid from a seeded stream, so
  the exogenous path is the same for a seed however irregularly ``step(now)`` is called, and
  the same on every venue of one process;
* **permanent impact**: every unit of net aggressive volume by a non-house account moves the
  fair price by ``gamma`` for good (shared by all venues that share a :class:`MarketWorld`);
* a **liquidity provider** per venue that shows a flat ladder of ``depth_per_level`` every
  ``level_spacing`` beyond ``half_spread`` of the venue's fair price (fair x (1 + venue offset
  + basis)), and keeps track of the depth that was taken from it: that deficit is removed from
  the front of the ladder and comes back at ``resilience_rate`` (temporary impact, an
  Obizhaeva-Wang book);
* **background traders** per venue that send market orders whose volume follows the
  intraday :class:`~fixgw.sim.market_profile.VolumeProfile` (so VWAP and POV have a curve to
  follow) and give passive orders someone to trade with.

Every step the LP re-quotes only the levels that changed; level sizes also wander a little
(``depth_jitter``) so that a subscriber sees a living book several times a second. The model
is deterministic for a seed when driven by a deterministic clock. Its parameters, and the
Almgren-Chriss view of them, are :class:`~fixgw.sim.market_params.MarketParams`.
"""
from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from typing import Any, Callable, Mapping

from fixgw.sim.market_params import (
    AlmgrenChrissParams, MarketParams, MarketSymbol, SymbolParams, market_params)
from fixgw.sim.protocol import MatchingVenue, Trade

log = logging.getLogger(__name__)

BUY, SELL = "BUY", "SELL"
ZERO = Decimal(0)
ONE = Decimal(1)
TEN_K = Decimal(10_000)
LP_ACCOUNT = "house-lp"
BG_ACCOUNT = "house-flow"
HOUSE_ACCOUNTS = frozenset({LP_ACCOUNT, BG_ACCOUNT})
_FAIR_QUANTUM = Decimal("0.000001")
BASE_STEP = 0.1              # market seconds: every random draw is made on this grid
_RESYNC_STEPS = 200          # reconcile the LP's view of its orders with the engine this often
_MAX_TRADED_STEPS = 600      # beyond this many grid steps behind, catch up without trading


def _dec(x: float) -> Decimal:
    return Decimal(repr(x))


class FairPath:
    """The exogenous log-price of one fair key, drawn every BASE_STEP from one seeded stream
    per key (so the path is the same whatever the model's step and the time scale)."""

    def __init__(self, key: str, initial_price: Decimal, sp: SymbolParams, seed: int,
                 dt: float = BASE_STEP) -> None:
        self.key = key
        self.initial_price = initial_price
        self._rng = random.Random(f"{seed}:fair:{key}")
        self._diffusion = sp.volatility * math.sqrt(dt)
        self._drift = -0.5 * sp.volatility ** 2 * dt
        self._jump_prob = -math.expm1(-sp.jump_intensity * dt)
        self._jump_size = sp.jump_size
        self.log_return = 0.0
        self.index = 0                   # grid steps taken since the origin
        self._level = initial_price

    def advance(self, steps: int = 1) -> None:
        rng = self._rng
        for _ in range(steps):
            z, u, j = rng.gauss(0.0, 1.0), rng.random(), rng.gauss(0.0, 1.0)   # always three draws
            r = self._drift + self._diffusion * z
            if u < self._jump_prob:
                r += self._jump_size * j
            self.log_return += r
        self.index += steps
        self._level = (self.initial_price * _dec(math.exp(self.log_return))).quantize(_FAIR_QUANTUM)

    @property
    def level(self) -> Decimal:
        return self._level


class MarketWorld:
    """State shared by the models of the venues of one process: the time origin of the grid
    and the permanent impact per fair key, so that trading on one venue moves all of them and
    their exogenous paths line up (each model draws the same seeded path itself)."""

    def __init__(self, origin: float | None = None) -> None:
        self.origin = origin
        self._impact: dict[str, Decimal] = {}

    def impact(self, key: str) -> Decimal:
        return self._impact.get(key, ZERO)

    def add_impact(self, key: str, amount: Decimal) -> None:
        self._impact[key] = self._impact.get(key, ZERO) + amount


@dataclass
class _Side:
    """The LP's side of one book: its resting orders and the depth taken from it."""

    side: str
    targets: list[Decimal]                                   # per level, after jitter
    deficit: Decimal = ZERO                                  # base units missing at the front
    orders: dict[Decimal, list] = field(default_factory=dict)   # price -> [order_id, remaining]


@dataclass
class _Book:
    sp: SymbolParams
    market_id: str
    tick: Decimal
    lot: Decimal
    depth: Decimal                      # per level, scaled by the venue's liquidity, on the lot
    fair: FairPath
    lp_rng: random.Random
    flow_rng: random.Random
    bids: _Side
    asks: _Side
    decay: Decimal = ONE
    offset: Decimal = ONE               # (1 + venue offset) * (1 + basis)
    net_aggressive: Decimal = ZERO      # signed non-house volume (buys positive)
    flow_volume: Decimal = ZERO         # background volume sent
    dirty: bool = True
    requotes: int = 0
    rejections: int = 0
    grid_prices: dict = field(default_factory=dict)   # grid index -> Decimal price (cache)

    def lp_side(self, side: str) -> _Side:
        return self.bids if side == BUY else self.asks


class MarketModel:
    """The market model of one venue. ``step(now)`` is called by the venue every ~100 ms."""

    def __init__(self, exchange: MatchingVenue, params: MarketParams, *, venue: str = "sim",
                 world: MarketWorld | None = None) -> None:
        self.exchange = exchange
        self.venue = venue
        self.world = world or MarketWorld()
        ticks = {s.market_id: exchange.tick_size(s.market_id) for s in params.symbols}
        # the model acts every dt (a whole number of BASE_STEPs); randomness is drawn per BASE_STEP
        self._sub = max(1, int(round(params.step_seconds / BASE_STEP)))
        self.dt = self._sub * BASE_STEP
        self.params = replace(params.with_ticks(ticks), step_seconds=self.dt)
        self._origin: float | None = None
        self._index = 0                                      # last grid step processed
        self._books: dict[str, _Book] = {}
        self._paths: dict[str, FairPath] = {}
        offset = ONE + _dec(params.price_offset_bps) / TEN_K
        scale = _dec(params.liquidity_scale)
        for sp in self.params.symbols:
            path = self._paths.get(sp.fair_key)
            if path is None:
                path = FairPath(sp.fair_key, sp.initial_price / (ONE + _dec(sp.basis_bps) / TEN_K),
                                sp, params.seed)
                self._paths[sp.fair_key] = path
            lot = exchange.step_size(sp.market_id)
            depth = max(lot, (sp.depth_per_level * scale / lot).to_integral_value(ROUND_DOWN) * lot)
            lp_rng = random.Random(f"{params.seed}:lp:{venue}:{sp.market_id}")
            book = _Book(sp=sp, market_id=sp.market_id, tick=ticks[sp.market_id], lot=lot,
                         depth=depth, fair=path, lp_rng=lp_rng,
                         flow_rng=random.Random(f"{params.seed}:flow:{venue}:{sp.market_id}"),
                         bids=_Side(BUY, [depth] * sp.levels), asks=_Side(SELL, [depth] * sp.levels),
                         decay=_dec(math.exp(-sp.resilience_rate * self.dt)),
                         offset=offset * (ONE + _dec(sp.basis_bps) / TEN_K))
            for s in (book.bids, book.asks):
                s.targets = [self._jittered(book, lp_rng) for _ in range(sp.levels)]
            self._books[sp.market_id] = book
        exchange.subscribe_trades(self._on_trade)

    # -- public views ---------------------------------------------------------------------------
    def fair_price(self, symbol: str) -> Decimal:
        """This venue's fair price of ``symbol`` (market id or unified): latent price plus
        permanent impact, times the venue offset and the market's basis."""
        book = self._book(symbol)
        return (self._reference(book) * book.offset).quantize(_FAIR_QUANTUM)

    def exogenous_price(self, symbol: str) -> Decimal:
        """The shared latent price without any permanent impact: what it would have been on
        this seed had nobody traded (``reference_price - exogenous_price`` is the impact;
        benchmarks subtract its drift from costs)."""
        return self._book(symbol).fair.level

    def reference_price(self, symbol: str) -> Decimal:
        """The latent price shared by all venues (no venue offset, no basis)."""
        return self._reference(self._book(symbol))

    def almgren_chriss(self, symbol: str) -> AlmgrenChrissParams:
        """AC parameters of ``symbol`` on this venue, linearised at the current fair price."""
        return self.params.almgren_chriss(self._book(symbol).market_id, self.fair_price(symbol))

    def deficit(self, symbol: str, side: str) -> Decimal:
        """Depth missing from the LP's bid (side BUY) or ask (SELL) ladder, base units."""
        return self._book(symbol).lp_side(side).deficit

    def net_aggressive_volume(self, symbol: str) -> Decimal:
        return self._book(symbol).net_aggressive

    def background_volume(self, symbol: str) -> Decimal:
        """Volume the background traders have sent (what POV participates against)."""
        return self._book(symbol).flow_volume

    @property
    def grid_time(self) -> float | None:
        """Market time of the last grid step processed."""
        return None if self._origin is None else self._origin + self._index * self.dt

    # -- driving --------------------------------------------------------------------------------
    def step(self, now: float) -> None:
        """Advance to market time ``now``: every grid step due (fair price, refill, background
        flow), then one re-quote of what changed."""
        if self._origin is None:
            self._start(now)
        target = int(math.floor((now - self._origin) / self.dt + 1e-3))
        behind = target - self._index
        if behind > 0:
            quiet_until = self._index + max(0, behind - _MAX_TRADED_STEPS)
            while self._index < target:
                self._index += 1
                self._grid_step(trade=self._index > quiet_until)
        for book in self._books.values():
            if book.dirty:
                self._requote(book)

    def _start(self, now: float) -> None:
        if self.world.origin is None:
            self.world.origin = math.floor(now / BASE_STEP) * BASE_STEP
        self._origin = self.world.origin
        # a venue that joins later replays the shared path (without trading) up to now
        behind = int(math.floor((now - self._origin) / self.dt + 1e-3))
        for _ in range(max(0, behind)):
            self._index += 1
            self._grid_step(trade=False)

    def _grid_step(self, trade: bool) -> None:
        for path in self._paths.values():
            path.advance(self._sub)
        t = self._origin + self._index * self.dt
        for book in self._books.values():
            book.dirty = True
            for side in (book.bids, book.asks):
                if side.deficit:
                    side.deficit = (side.deficit * book.decay / book.lot).to_integral_value(ROUND_DOWN) * book.lot
                # one level per side changes size each step: a living book
                i = book.lp_rng.randrange(book.sp.levels)
                side.targets[i] = self._jittered(book, book.lp_rng)
            self._background_flow(book, t, trade)

    def _jittered(self, book: _Book, rng: random.Random) -> Decimal:
        j = book.sp.depth_jitter
        factor = 1.0 + j * (2.0 * rng.random() - 1.0)
        return max(book.lot, (book.depth * _dec(round(factor, 6)) / book.lot).to_integral_value(ROUND_DOWN) * book.lot)

    def _background_flow(self, book: _Book, t: float, trade: bool) -> None:
        """Compound-Poisson buy and sell volume, drawn per BASE_STEP at the profile's weight,
        sent as one market order per side per model step."""
        sp = book.sp
        rng = book.flow_rng
        per_count = BASE_STEP / 2 / sp.background_clip
        base_rate = sp.background_volume * self.params.volume_scale
        buy = sell = 0.0
        for j in range(self._sub):
            weight = self.params.profile.weight_at(t - (self._sub - 1 - j) * BASE_STEP)
            mean_count = base_rate * weight * per_count
            for _ in range(_poisson(rng, mean_count)):
                buy += rng.expovariate(1.0 / sp.background_clip)
            for _ in range(_poisson(rng, mean_count)):
                sell += rng.expovariate(1.0 / sp.background_clip)
        if not trade:
            return
        sides = ((BUY, buy), (SELL, sell)) if self._index % 2 else ((SELL, sell), (BUY, buy))
        for side, volume in sides:
            qty = (_dec(volume) / book.lot).to_integral_value(ROUND_DOWN) * book.lot
            if qty <= ZERO:
                continue
            result = self.exchange.place_house_order(BG_ACCOUNT, book.market_id, side, "MARKET", qty)
            if result.error:
                self._rejected(book, f"background {side} {qty}", result.error)
            else:
                book.flow_volume += result.executed_qty

    # -- liquidity provider ------------------------------------------------------------------------
    def _reference(self, book: _Book) -> Decimal:
        return book.fair.level + self.world.impact(book.sp.fair_key)

    def _ladder(self, book: _Book, side: _Side) -> dict[Decimal, Decimal]:
        """Price -> size the LP wants to show on one side: ``levels`` grid prices beyond
        ``half_spread`` of the venue's fair price, the deficit removed from the front. A
        level's size is keyed by its grid price (index mod levels), so a one-level move of
        the fair price changes two orders, not the whole ladder."""
        sp = book.sp
        fair = self._reference(book) * book.offset
        s = sp.level_spacing
        if side.side == BUY:
            index = int(((fair - sp.half_spread) / s).to_integral_value(ROUND_FLOOR))
            direction = -1
        else:
            index = int(((fair + sp.half_spread) / s).to_integral_value(ROUND_CEILING))
            if sp.half_spread == ZERO and (fair / s) == index:
                index += 1           # never quote the ask at the bid's price
            direction = 1
        missing = side.deficit
        levels = sp.levels
        targets = side.targets
        prices = book.grid_prices
        if len(prices) > 100_000:            # the price wandered far: forget old grid points
            prices.clear()
        out: dict[Decimal, Decimal] = {}
        for _ in range(levels):
            if index <= 0:
                break
            target = targets[index % levels]
            if missing:
                if missing >= target:
                    missing -= target
                    index += direction
                    continue
                target -= missing
                missing = ZERO
            price = prices.get(index)
            if price is None:
                price = prices[index] = s * index
            out[price] = target
            index += direction
        return out

    def _requote(self, book: _Book) -> None:
        book.dirty = False
        book.requotes += 1
        if book.requotes % _RESYNC_STEPS == 0:
            self._resync(book)
        wanted = {BUY: self._ladder(book, book.bids), SELL: self._ladder(book, book.asks)}
        # cancel everything that differs first, so the new ladder never meets the old one
        for side in (book.bids, book.asks):
            want = wanted[side.side]
            for price in [p for p, (oid, qty) in side.orders.items() if want.get(p) != qty]:
                oid, _ = side.orders.pop(price)
                self.exchange.cancel_house_order(LP_ACCOUNT, book.market_id, oid)
        for side in (book.bids, book.asks):
            for price, qty in wanted[side.side].items():
                if price in side.orders:
                    continue
                result = self.exchange.place_house_order(LP_ACCOUNT, book.market_id, side.side,
                                                         "LIMIT", qty, price, "GTC")
                if result.error:
                    self._rejected(book, f"LP {side.side} {qty}@{price}", result.error)
                    continue
                resting = qty - result.executed_qty
                if result.status in ("NEW", "PARTIALLY_FILLED") and resting > ZERO:
                    side.orders[price] = [result.order_id, resting]

    def _rejected(self, book: _Book, what: str, error: str) -> None:
        """The engine refused a house order: a config problem (price filter, tick) worth one
        warning per market, not one per step."""
        book.rejections += 1
        level = logging.WARNING if book.rejections == 1 else logging.DEBUG
        log.log(level, "%s: %s on %s rejected by the engine: %s (%d so far)", self.venue, what,
                book.market_id, error, book.rejections)

    def _resync(self, book: _Book) -> None:
        """Rebuild the LP's order map from the engine (guards against any drift)."""
        bids: dict[Decimal, list] = {}
        asks: dict[Decimal, list] = {}
        for oid, side, price, remaining in self.exchange.house_open_orders(LP_ACCOUNT, book.market_id):
            table = bids if side == BUY else asks
            if price in table:          # a duplicate at one price: keep one, cancel the other
                self.exchange.cancel_house_order(LP_ACCOUNT, book.market_id, oid)
                continue
            table[price] = [oid, remaining]
        book.bids.orders, book.asks.orders = bids, asks

    # -- trades -------------------------------------------------------------------------------------
    def _on_trade(self, trade: Trade) -> None:
        """Bookkeeping only (never trades from inside the engine's callback)."""
        book = self._books.get(trade.symbol)
        if book is None:
            return
        qty = trade.quantity
        if trade.passive_account == LP_ACCOUNT:
            lp = book.asks if trade.aggressor_side == BUY else book.bids
            entry = lp.orders.get(trade.price)
            if entry is not None:
                entry[1] -= qty
                if entry[1] <= ZERO:
                    del lp.orders[trade.price]
            lp.deficit += qty
            book.dirty = True
        elif trade.aggressor_account == LP_ACCOUNT:
            book.lp_side(trade.aggressor_side).deficit += qty
            book.dirty = True
        if trade.aggressor_account not in HOUSE_ACCOUNTS:
            signed = qty if trade.aggressor_side == BUY else -qty
            book.net_aggressive += signed
            self.world.add_impact(book.sp.fair_key, book.sp.gamma * signed)
            for other in self._books.values():
                if other.sp.fair_key == book.sp.fair_key:
                    other.dirty = True

    def _book(self, symbol: str) -> _Book:
        book = self._books.get(symbol)
        if book is not None:
            return book
        for b in self._books.values():
            if b.sp.symbol == symbol:
                return b
        raise KeyError(f"{self.venue}: no market model for {symbol!r}")


def _poisson(rng: random.Random, mean: float) -> int:
    """Poisson draw (Knuth for small means, normal approximation above 30)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, int(round(rng.gauss(mean, math.sqrt(mean)))))
    limit = math.exp(-mean)
    k, p = 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


# ---------------------------------------------------------------------------------------------
# Building models for venues: what start_venue's ``model_factory`` is.
# ---------------------------------------------------------------------------------------------

def unified_symbol(base: str, quote: str, perp: bool) -> str:
    return f"{base}/{quote}:{quote}" if perp else f"{base}/{quote}"


def venue_markets(spec: Any) -> list[MarketSymbol]:
    """The markets of a :class:`fixgw.sim.spec.VenueSpec`, as the market model names them."""
    out = []
    for s in spec.symbols:
        perp = bool(getattr(s, "is_perp", False))
        fee = getattr(spec, "futures_taker_fee" if perp else "taker_fee", ZERO)
        out.append(MarketSymbol(unified_symbol(s.base, s.quote, perp), s.market_id,
                                Decimal(s.initial_price), Decimal(fee)))
    return out


class MarketModelFactory:
    """``model_factory(exchange, spec, clock)`` for :func:`fixgw.sim.server.start_venue`.

    One factory per process shares a :class:`MarketWorld` between its venues. ``market`` is the
    global ``market:`` section of the venues config; each venue's ``spec.market`` holds its
    overrides. The models it built stay reachable (``models[name]``) for tests and benchmarks.
    """

    def __init__(self, market: Mapping[str, Any] | None = None, *, seed: int | None = None,
                 step_seconds: float | None = None, world: MarketWorld | None = None) -> None:
        self.market = dict(market or {})
        self.seed = int(seed if seed is not None else self.market.get("seed", 1))
        self.step_seconds = step_seconds
        self.world = world or MarketWorld()
        self.models: dict[str, MarketModel] = {}

    def params_for(self, spec: Any) -> MarketParams:
        return market_params(self.market, getattr(spec, "market", None) or {}, venue_markets(spec),
                             seed=self.seed, price_offset_bps=float(getattr(spec, "price_offset_bps", 0)),
                             step_seconds=self.step_seconds)

    def __call__(self, exchange: MatchingVenue, spec: Any, clock: Any = None) -> MarketModel:
        model = MarketModel(exchange, self.params_for(spec), venue=spec.name, world=self.world)
        self.models[spec.name] = model
        return model


ModelFactory = Callable[[MatchingVenue, Any, Any], MarketModel]
