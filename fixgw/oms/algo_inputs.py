"""What a scheduler needs beyond its parent order: settings, a volume profile, impact parameters.

Built once per service from the ``algos:`` config section (:func:`fixgw.algo.config.
parse_algo_config`) and, when venues are simulated, from the simulator's own market model.

- **VWAP volume profile**, first found of: the configured ``algos.volume_profile``; the
  simulator's profile when every venue listing the symbol is simulated (the model's intensity
  is exactly what its background flow follows); a profile learned from the market prints the
  hub has seen, only once they span a whole profile period (a few minutes of prints say
  nothing about the rest of a day); else None (flat, i.e. TWAP-like).
- **ARRIVAL impact** (Almgren-Chriss), first found of: the simulator's own parameters, pooled
  over the simulated venues that list the symbol and linearised at the current mid; parameters
  measured from the consolidated book (density near the touch, spread, taker fee) and the
  realised volatility of the consolidated mid (``fixgw/algo/impact.py``); else None (the
  scheduler's urgency defaults).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Mapping

from fixgw.algo.almgren_chriss import ACParams
from fixgw.algo.config import AlgoConfig
from fixgw.algo.impact import book_density, measured_params
from fixgw.algo.vwap import VolumeProfile
from fixgw.domain import Side

log = logging.getLogger(__name__)

DENSITY_BAND_BPS = Decimal(10)   # book depth counted within this distance of the touch
DEFAULT_RESILIENCE = 0.5         # 1/s: a venue's book refill rate is not observable cheaply


@dataclass(frozen=True)
class SimulatedModel:
    """The simulator's market model as the OMS needs it: AC params per (symbol, price) and
    the volume profile (``integral(t0, t1)``), for the symbols of the simulated venues."""

    ac: Callable[[str, Decimal], ACParams | None]
    profile: Any
    symbols: frozenset[str]


@dataclass
class AlgoInputs:
    config: AlgoConfig
    simulated: SimulatedModel | None = None
    real_venues_by_symbol: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @property
    def settings(self):
        return self.config.settings

    def _simulated_only(self, symbol: str) -> bool:
        return (self.simulated is not None and symbol in self.simulated.symbols
                and not self.real_venues_by_symbol.get(symbol))

    def volume_profile(self, symbol: str, market) -> Any:
        if self.config.volume_profile is not None:
            return self.config.volume_profile
        if self._simulated_only(symbol):
            return self.simulated.profile
        prints = market.prints(symbol) if hasattr(market, "prints") else []
        period = 86_400.0
        if prints and prints[-1][0] - prints[0][0] >= period:
            return VolumeProfile.from_trades(prints, period_seconds=period)
        return None

    def impact(self, symbol: str, side: Side, market) -> ACParams | None:
        book = market.book(symbol)
        mid = book.mid() if book is not None else None
        if mid is None:
            return None
        if self._simulated_only(symbol):
            try:
                params = self.simulated.ac(symbol, mid)
                if params is not None:
                    return params
            except Exception:
                log.exception("simulator AC parameters for %s unavailable", symbol)
        return measured_impact(book, side, market.volatility(symbol)
                               if hasattr(market, "volatility") else None)


def measured_impact(book, side: Side, volatility: float | None) -> ACParams | None:
    """AC parameters measured from a consolidated book (the side ``side`` would take)."""
    bid, ask = book.best_bid(), book.best_ask()
    if bid is None or ask is None or ask <= bid:
        return None
    mid = (bid + ask) / 2
    touch = ask if side is Side.BUY else bid
    band = mid * DENSITY_BAND_BPS / Decimal(10_000)
    levels = [(lv.price, lv.quantity) for lv in book.taker_levels(side)]
    density = book_density(levels, touch, band)
    if density is None:
        return None
    fees = [q.fees.taker for q in book.venues]
    taker = min(fees) if fees else Decimal(0)
    try:
        return measured_params(mid, ask - bid, density, volatility or 0.0,
                               resilience_rate=DEFAULT_RESILIENCE, taker_fee=taker)
    except ValueError:
        return None


def simulated_model(sim_cfg, venue_names) -> SimulatedModel | None:
    """The simulator's model for the simulated venues ``venue_names`` of a gateway config."""
    from fixgw.sim.market_params import AlmgrenChrissParams
    factory = sim_cfg.model_factory()
    params = {}
    for name in venue_names:
        try:
            params[name] = factory.params_for(sim_cfg.venue(name))
        except Exception as e:
            log.warning("simulator model of %s unavailable: %s", name, e)
    if not params:
        return None
    symbols: set[str] = set()
    for p in params.values():
        symbols.update(s.symbol for s in p.symbols)

    def ac(symbol: str, price: Decimal) -> ACParams | None:
        per_venue = []
        for p in params.values():
            try:
                per_venue.append(p.almgren_chriss(symbol, price))
            except KeyError:
                continue
        if not per_venue:
            return None
        return ACParams.from_model(AlmgrenChrissParams.pooled(per_venue))

    profile = next(iter(params.values())).profile
    return SimulatedModel(ac, profile, frozenset(symbols))
