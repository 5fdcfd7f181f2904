"""ARRIVAL (847=1003): implementation shortfall with the Almgren-Chriss optimal trajectory.

Holdings follow x(t) = X sinh(kappa (T - t)) / sinh(kappa T). kappa comes from the urgency
(848 LOW/MEDIUM/HIGH -> risk aversion in 1/bps, :class:`AlgoSettings.risk_aversion_bps`), the
symbol's volatility and the venue's temporary impact (:class:`ACParams`, measured or the
simulator's own). Higher urgency front-loads the trading: less exposure to price risk, more
impact. Without impact parameters, urgency maps to a fixed kappa*T (LOW 0.5, MEDIUM 2, HIGH 6).
"""
from __future__ import annotations

import random
from decimal import Decimal
from typing import Sequence

from fixgw.algo import almgren_chriss as ac
from fixgw.algo.schedule import even_times
from fixgw.algo.scheduled import ScheduledAlgo
from fixgw.algo.types import AlgoSettings, Instrument, MarketSnapshot, ParentSpec
from fixgw.domain import Urgency

DEFAULT_KAPPA_T = {Urgency.LOW: 0.5, Urgency.MEDIUM: 2.0, Urgency.HIGH: 6.0}


class ArrivalScheduler(ScheduledAlgo):
    def __init__(self, parent: ParentSpec, instrument: Instrument, settings: AlgoSettings,
                 rng: random.Random, impact: ac.ACParams | None = None):
        super().__init__(parent, instrument, settings, rng)
        self.impact = impact
        self.kappa: float | None = None

    def compute_kappa(self, horizon: float, tau: float, market: MarketSnapshot) -> float:
        params = self.impact
        price = market.mid
        if params is not None and params.sigma == 0 and market.volatility and price:
            params = ac.ACParams(sigma=market.volatility * float(price), eta=params.eta,
                                 gamma=params.gamma, epsilon=params.epsilon)
        if params is None or price is None:
            return DEFAULT_KAPPA_T[self.parent.urgency] / horizon
        lam = ac.absolute_risk_aversion(self.settings.risk_aversion_bps[self.parent.urgency],
                                        float(self.leaves), float(price))
        return ac.kappa(lam, params, tau)

    def curve(self, start: float, end: float, market: MarketSnapshot
              ) -> tuple[Sequence[float], Sequence[float | Decimal]]:
        times = even_times(start, end, self.settings.slice_seconds, self.settings.min_slices)
        horizon = end - start
        if self.kappa is None:   # kept across re-plans: the urgency does not change mid-order
            self.kappa = self.compute_kappa(horizon, horizon / len(times), market)
        fractions = [1.0 - ac.remaining_fraction(t - start, horizon, self.kappa) for t in times]
        fractions[-1] = 1.0
        return times, fractions
