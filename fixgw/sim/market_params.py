"""Parameters of the simulator's market model, and the Almgren-Chriss view of them.

The model (``fixgw/sim/market.py``) is built so that its execution costs have a closed form:

* the liquidity provider shows a flat ladder of ``depth_per_level`` every ``level_spacing``
  starting ``half_spread`` beyond the fair price (rounded out to the spacing grid), so walking
  ``X`` through one side at once costs ``epsilon*X + level_spacing/(2*depth) * X**2``;
* consumed depth comes back exponentially at ``resilience_rate`` (an Obizhaeva-Wang book), so
  trading steadily at rate ``v`` keeps ``v/resilience_rate`` missing and pays a temporary impact
  ``eta*v`` with ``eta = level_spacing / (depth_per_level * resilience_rate)``;
* every unit of non-house net aggressive volume moves the fair price by ``gamma`` for good.

That is exactly the Almgren-Chriss (2000) cost model, so :meth:`MarketParams.almgren_chriss`
returns its parameters (:class:`AlmgrenChrissParams`, with the sweep's closed form); the
optimal trajectory and a schedule's expected cost are :mod:`fixgw.algo.almgren_chriss`, fed
with these parameters by the ARRIVAL algo and the execution-quality benchmark.
Random draws are floats; every price or quantity that reaches an order is a Decimal.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, Decimal
from typing import Any, Mapping, Sequence

from fixgw.sim.market_profile import VolumeProfile

BPS = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class SymbolParams:
    """Model parameters of one market (unified ccxt symbol: ``BTC/USDT``, ``BTC/USDT:USDT``)."""

    symbol: str
    market_id: str                # the engine's id: "BTCUSDT", "BTCUSDT_PERP"
    initial_price: Decimal
    fair_key: str                 # markets with the same key share one latent price (spot/perp)
    volatility: float             # of the fair price, fraction per sqrt(second)
    jump_intensity: float         # jumps per second (Poisson)
    jump_size: float              # std of a jump's log return
    half_spread: Decimal          # price: the nearest quote is at least this far from fair
    level_spacing: Decimal        # price between ladder levels (a multiple of the tick)
    levels: int                   # ladder levels per side
    depth_per_level: Decimal      # base quantity per level (before the venue's liquidity scale)
    resilience_rate: float        # per second: consumed depth refills as exp(-rate * t)
    gamma: Decimal                # permanent impact: price move per unit of net aggressive volume
    background_volume: float      # base units per second, both sides together, profile weight 1
    background_clip: float        # mean size of one background trade (base units)
    basis_bps: float = 0.0        # this market's offset from its fair key (perp basis)
    depth_jitter: float = 0.3     # +/- fraction by which a level's size wanders (a living book)
    taker_fee: Decimal = Decimal(0)   # this venue's taker fee rate on this market (for epsilon)

    def validate(self) -> None:
        def bad(name: str, value: Any, why: str) -> ValueError:
            return ValueError(f"market.symbols.{self.symbol}.{name}: {why}, got {value!r}")
        if self.initial_price <= 0:
            raise bad("initial_price", self.initial_price, "must be > 0")
        for name in ("volatility", "jump_intensity", "jump_size", "background_volume"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise bad(name, v, "must be a finite number >= 0")
        if not (self.resilience_rate > 0 and math.isfinite(self.resilience_rate)):
            raise bad("resilience_rate", self.resilience_rate, "must be > 0")
        if not (self.background_clip > 0):
            raise bad("background_clip", self.background_clip, "must be > 0")
        if self.half_spread < 0:
            raise bad("half_spread", self.half_spread, "must be >= 0")
        if self.level_spacing <= 0:
            raise bad("level_spacing", self.level_spacing, "must be > 0")
        if self.levels < 1:
            raise bad("levels", self.levels, "must be >= 1")
        if self.depth_per_level <= 0:
            raise bad("depth_per_level", self.depth_per_level, "must be > 0")
        if self.gamma < 0:
            raise bad("gamma", self.gamma, "must be >= 0")
        if not (0 <= self.depth_jitter < 1):
            raise bad("depth_jitter", self.depth_jitter, "must be in [0, 1)")

    def snapped(self, tick: Decimal) -> "SymbolParams":
        """Spacing and half-spread rounded to whole ticks (at least one), as the book shows them."""
        spacing = max(tick, (self.level_spacing / tick).to_integral_value(ROUND_CEILING) * tick)
        half = (self.half_spread / tick).to_integral_value(ROUND_CEILING) * tick
        return replace(self, level_spacing=spacing, half_spread=half)


@dataclass(frozen=True, slots=True)
class AlmgrenChrissParams:
    """Almgren-Chriss parameters of one market on one venue (or several pooled), in price units.

    sigma: price volatility per sqrt(second) (diffusion plus jumps);
    eta: temporary impact per unit of trading rate (price per base/second), continuous limit;
    gamma: permanent impact (price per base unit);
    epsilon: fixed cost per unit traded (expected distance of the touch from fair + taker fee).
    The ladder terms (spacing, depth, resilience) let :meth:`eta_for_interval` give the exact
    discrete-time value for slices ``tau`` seconds apart.
    """

    symbol: str
    price: float
    sigma: float
    eta: float
    gamma: float
    epsilon: float
    level_spacing: float
    depth_per_level: float
    resilience_rate: float

    def eta_for_interval(self, tau: float) -> float:
        """Discrete temporary-impact coefficient for one trade every ``tau`` seconds.

        Between trades the missing depth decays by ``e = exp(-rho*tau)``; in steady state a
        trade of ``n`` meets ``n*e/(1-e)`` still missing, so it costs
        ``(s/d)*n**2*(1/2 + e/(1-e)) = (eta_tau/tau)*n**2`` with
        ``eta_tau = eta * x/tanh(x)``, ``x = rho*tau/2`` (-> ``eta`` as tau -> 0). The
        trajectory and schedule-cost formulas live in :mod:`fixgw.algo.almgren_chriss`
        (``ACParams.from_model(this)``), which uses the same correction.
        """
        if tau <= 0:
            raise ValueError(f"tau must be > 0, got {tau}")
        x = self.resilience_rate * tau / 2
        return self.eta * x / math.tanh(x)

    def sweep_cost(self, quantity: float) -> float:
        """Expected cost of taking ``quantity`` at once: walking the ladder (no permanent
        impact is paid by the sweep itself; it moves the price afterwards)."""
        return self.epsilon * quantity + self.level_spacing / (2 * self.depth_per_level) * quantity ** 2

    def to_bps(self, cost: float, quantity: float) -> float:
        return cost / (quantity * self.price) * 1e4 if quantity and self.price else 0.0

    @classmethod
    def pooled(cls, venues: Sequence["AlmgrenChrissParams"]) -> "AlmgrenChrissParams":
        """Several venues sharing one fair price, with flow split in proportion to depth:
        depths add (so temporary impact falls), sigma and gamma are common, epsilon is the
        depth-weighted mean."""
        if not venues:
            raise ValueError("pooled: no venues")
        depth = sum(v.depth_per_level for v in venues)
        w = [v.depth_per_level / depth for v in venues]
        spacing = sum(wi * v.level_spacing for wi, v in zip(w, venues))
        rho = sum(wi * v.resilience_rate for wi, v in zip(w, venues))
        return cls(symbol=venues[0].symbol, price=sum(wi * v.price for wi, v in zip(w, venues)),
                   sigma=venues[0].sigma, eta=spacing / (depth * rho), gamma=venues[0].gamma,
                   epsilon=sum(wi * v.epsilon for wi, v in zip(w, venues)),
                   level_spacing=spacing, depth_per_level=depth, resilience_rate=rho)


@dataclass(frozen=True, slots=True)
class MarketParams:
    """Everything the market model of one venue needs; frozen, built once from config."""

    symbols: tuple[SymbolParams, ...]
    seed: int = 1
    step_seconds: float = 0.1            # market-time resolution of the model
    liquidity_scale: float = 1.0         # this venue's depth relative to the reference
    volume_scale: float = 1.0            # this venue's background volume relative to reference
    price_offset_bps: float = 0.0        # this venue's quotes are centred on fair*(1+offset)
    profile: VolumeProfile = field(default_factory=VolumeProfile.u_shaped)

    def __post_init__(self) -> None:
        for s in self.symbols:
            s.validate()
        if not (self.step_seconds > 0):
            raise ValueError(f"market.step_seconds: must be > 0, got {self.step_seconds!r}")
        if not (self.liquidity_scale > 0):
            raise ValueError(f"market.liquidity_scale: must be > 0, got {self.liquidity_scale!r}")
        if not (self.volume_scale >= 0):
            raise ValueError(f"market.volume_scale: must be >= 0, got {self.volume_scale!r}")

    def symbol(self, symbol: str) -> SymbolParams:
        for s in self.symbols:
            if s.symbol == symbol or s.market_id == symbol:
                return s
        raise KeyError(f"no market model for symbol {symbol!r}; have {[s.symbol for s in self.symbols]}")

    def depth_per_level(self, symbol: str) -> Decimal:
        return self.symbol(symbol).depth_per_level * Decimal(repr(self.liquidity_scale))

    def almgren_chriss(self, symbol: str, price: Decimal | float | None = None) -> AlmgrenChrissParams:
        """AC parameters of ``symbol`` on this venue, linearised around ``price`` (default: the
        initial price)."""
        sp = self.symbol(symbol)
        p = float(price if price is not None else sp.initial_price)
        s = float(sp.level_spacing)
        d = float(self.depth_per_level(symbol))
        rho = sp.resilience_rate
        # background flow keeps on average (volume/2)/rho missing at each side's front
        bg_missing = sp.background_volume * self.volume_scale / 2 / rho
        touch = float(sp.half_spread) + s / 2 + s * bg_missing / d
        return AlmgrenChrissParams(
            symbol=symbol, price=p,
            sigma=p * math.sqrt(sp.volatility ** 2 + sp.jump_intensity * sp.jump_size ** 2),
            eta=s / (d * rho), gamma=float(sp.gamma),
            epsilon=touch + float(sp.taker_fee) * p,
            level_spacing=s, depth_per_level=d, resilience_rate=rho)

    def with_ticks(self, ticks: Mapping[str, Decimal]) -> "MarketParams":
        """The same parameters with spacing/half-spread snapped to each symbol's tick."""
        return replace(self, symbols=tuple(s.snapped(ticks[s.market_id]) if s.market_id in ticks else s
                                           for s in self.symbols))


# ---------------------------------------------------------------------------------------------
# Configuration: the ``market:`` section of sessions/venues.yaml (global) and of each venue.
# ---------------------------------------------------------------------------------------------

#: Reference markets (price-unit values assume BTC ~60k, ETH ~3k, the venue's initial prices).
#: Spacing ~0.3 bps, touch ~0.5 bps from fair, a 10 BTC sweep walks ~40 levels (about
#: 6-7 bps), permanent impact ~0.2 bps per BTC-equivalent traded.
DEFAULT_SYMBOLS: dict[str, dict[str, Any]] = {
    "BTC/USDT": dict(fair_key="BTC", volatility=6e-5, jump_intensity=1 / 1800, jump_size=0.001,
                     half_spread="1.5", level_spacing="2", levels=100, depth_per_level="0.25",
                     resilience_rate=0.5, gamma="1.2", background_volume=0.1,
                     background_clip=0.03),
    "ETH/USDT": dict(fair_key="ETH", volatility=8e-5, jump_intensity=1 / 1800, jump_size=0.0012,
                     half_spread="0.08", level_spacing="0.1", levels=100, depth_per_level="5",
                     resilience_rate=0.5, gamma="0.003", background_volume=2.0,
                     background_clip=0.6),
    "BTC/USDT:USDT": dict(fair_key="BTC", volatility=6e-5, jump_intensity=1 / 1800,
                          jump_size=0.001, half_spread="1.5", level_spacing="2", levels=100,
                          depth_per_level="0.4", resilience_rate=0.6, gamma="1.2",
                          background_volume=0.2, background_clip=0.05, basis_bps=0.5),
}

_SYMBOL_KEYS = {f for f in SymbolParams.__dataclass_fields__
                if f not in ("symbol", "market_id", "taker_fee")} | {
    "half_spread_bps", "level_spacing_bps", "gamma_bps"}


def _dec(value: Any, where: str) -> Decimal:
    try:
        d = Decimal(repr(value) if isinstance(value, float) else str(value))
    except Exception:
        raise ValueError(f"{where}: expected a number, got {value!r}") from None
    if not d.is_finite():
        raise ValueError(f"{where}: expected a finite number, got {value!r}")
    return d


def _float(value: Any, where: str) -> float:
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: expected a number, got {value!r}") from None
    if not math.isfinite(f):
        raise ValueError(f"{where}: expected a finite number, got {value!r}")
    return f


@dataclass(frozen=True, slots=True)
class MarketSymbol:
    """What the venue says about one of its markets (from its VenueSpec)."""

    symbol: str              # unified: BTC/USDT, BTC/USDT:USDT
    market_id: str           # engine id: BTCUSDT, BTCUSDT_PERP
    initial_price: Decimal
    taker_fee: Decimal = Decimal(0)


def symbol_params(market: MarketSymbol, cfg: Mapping[str, Any]) -> SymbolParams:
    """One market's parameters from config merged over :data:`DEFAULT_SYMBOLS`.

    Price-like values may be given in price units (``half_spread``, ``level_spacing``,
    ``gamma``) or relative to the initial price (``half_spread_bps``, ``level_spacing_bps``,
    ``gamma_bps`` = bps of price per unit traded); markets without built-in defaults get
    values scaled from the BTC reference by price."""
    symbol = market.symbol
    where = f"market.symbols.{symbol}"
    unknown = set(cfg) - _SYMBOL_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(_SYMBOL_KEYS)}")
    merged = {**DEFAULT_SYMBOLS.get(symbol, {}), **cfg}
    price = _dec(merged.pop("initial_price", market.initial_price), f"{where}.initial_price")
    if price <= 0:
        raise ValueError(f"{where}.initial_price: must be > 0, got {price}")
    for bps_key, key in (("half_spread_bps", "half_spread"), ("level_spacing_bps", "level_spacing"),
                         ("gamma_bps", "gamma")):
        if bps_key in merged:
            merged[key] = price * _dec(merged.pop(bps_key), f"{where}.{bps_key}") * BPS
    ref = Decimal(60000)                        # the BTC reference the defaults are sized for
    fprice = float(price)
    merged.setdefault("half_spread", price * Decimal("0.25") * BPS)
    merged.setdefault("level_spacing", price * Decimal("0.33") * BPS)
    merged.setdefault("gamma", price * price * Decimal("0.2") * BPS / ref)
    merged.setdefault("fair_key", symbol.split("/")[0])
    merged.setdefault("depth_per_level", (ref / 4 / price).quantize(Decimal("0.00001")))
    merged.setdefault("background_volume", 6000 / fprice)
    merged.setdefault("background_clip", 1800 / fprice)
    merged.setdefault("volatility", 6e-5)
    merged.setdefault("jump_intensity", 1 / 1800)
    merged.setdefault("jump_size", 0.001)
    merged.setdefault("levels", 100)
    merged.setdefault("resilience_rate", 0.5)
    try:
        levels = int(merged["levels"])
    except (TypeError, ValueError):
        raise ValueError(f"{where}.levels: expected an integer, got {merged['levels']!r}") from None
    params = SymbolParams(
        symbol=symbol, market_id=market.market_id, initial_price=price,
        fair_key=str(merged["fair_key"]),
        volatility=_float(merged["volatility"], f"{where}.volatility"),
        jump_intensity=_float(merged["jump_intensity"], f"{where}.jump_intensity"),
        jump_size=_float(merged["jump_size"], f"{where}.jump_size"),
        half_spread=_dec(merged["half_spread"], f"{where}.half_spread"),
        level_spacing=_dec(merged["level_spacing"], f"{where}.level_spacing"),
        levels=levels,
        depth_per_level=_dec(merged["depth_per_level"], f"{where}.depth_per_level"),
        resilience_rate=_float(merged["resilience_rate"], f"{where}.resilience_rate"),
        gamma=_dec(merged["gamma"], f"{where}.gamma"),
        background_volume=_float(merged["background_volume"], f"{where}.background_volume"),
        background_clip=_float(merged["background_clip"], f"{where}.background_clip"),
        basis_bps=_float(merged.get("basis_bps", 0.0), f"{where}.basis_bps"),
        depth_jitter=_float(merged.get("depth_jitter", 0.3), f"{where}.depth_jitter"),
        taker_fee=market.taker_fee,
    )
    params.validate()
    return params


GLOBAL_KEYS = frozenset({"step_seconds", "volume_profile", "symbols", "seed"})
VENUE_KEYS = frozenset({"liquidity_scale", "volume_scale", "symbols"})


def market_params(global_cfg: Mapping[str, Any] | None, venue_cfg: Mapping[str, Any] | None,
                  markets: Sequence[MarketSymbol], *, seed: int = 1, price_offset_bps: float = 0.0,
                  step_seconds: float | None = None) -> MarketParams:
    """MarketParams of one venue: the global ``market:`` section, then the venue's own
    ``market:`` overrides (liquidity/volume scale, per-symbol values), for its ``markets``."""
    g = dict(global_cfg or {})
    v = dict(venue_cfg or {})
    bad = set(g) - GLOBAL_KEYS
    if bad:
        raise ValueError(f"market: unknown key(s) {sorted(bad)}; known: {sorted(GLOBAL_KEYS)}")
    bad = set(v) - VENUE_KEYS
    if bad:
        raise ValueError(f"venue market: unknown key(s) {sorted(bad)}; known: {sorted(VENUE_KEYS)}")
    gsyms = dict(g.get("symbols") or {})
    vsyms = dict(v.get("symbols") or {})
    for name, table in (("market.symbols", gsyms), ("venue market.symbols", vsyms)):
        for key, value in table.items():
            if value is not None and not isinstance(value, Mapping):
                raise ValueError(f"{name}.{key}: expected a mapping, got {value!r}")
    built = tuple(symbol_params(m, {**dict(gsyms.get(m.symbol) or {}),
                                    **dict(vsyms.get(m.symbol) or {})}) for m in markets)
    liq = _float(v.get("liquidity_scale", 1.0), "market.liquidity_scale")
    step = step_seconds if step_seconds is not None else _float(g.get("step_seconds", 0.1),
                                                                "market.step_seconds")
    return MarketParams(
        symbols=built, seed=int(seed), step_seconds=float(step), liquidity_scale=liq,
        volume_scale=_float(v.get("volume_scale", liq), "market.volume_scale"),
        price_offset_bps=float(price_offset_bps),
        profile=VolumeProfile.from_config(g.get("volume_profile")))
