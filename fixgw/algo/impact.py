"""Measured Almgren-Chriss parameters for ARRIVAL: volatility from mids, impact from the book.

When the simulator's own parameters are not available (a real venue), the OMS measures them:

- sigma: realised volatility of the consolidated mid, from (time, mid) samples, as price per
  sqrt(second) at the current price;
- eta: a book that shows ``density`` units of quantity per unit of price near the touch and
  refills at ``resilience_rate`` per second keeps ``v/rate`` missing while we trade at rate
  ``v``, which costs ``v/(rate*density)`` per unit: eta = 1/(density*rate) (Obizhaeva-Wang);
- epsilon: half the spread plus the taker fee, per unit;
- gamma: configured (permanent impact cannot be read off a snapshot); 0 by default.
"""
from __future__ import annotations

import math
from decimal import Decimal
from typing import Sequence

from fixgw.algo.almgren_chriss import ACParams


def realized_volatility(samples: Sequence[tuple[float, Decimal]]) -> float | None:
    """Volatility of log mid returns as a fraction per sqrt(second); None with < 3 samples."""
    pts = [(t, float(m)) for t, m in samples if m is not None and m > 0]
    if len(pts) < 3:
        return None
    var_sum = 0.0
    dt_sum = 0.0
    for (t0, m0), (t1, m1) in zip(pts, pts[1:]):
        dt = t1 - t0
        if dt <= 0:
            continue
        r = math.log(m1 / m0)
        var_sum += r * r
        dt_sum += dt
    return math.sqrt(var_sum / dt_sum) if dt_sum > 0 else None


def book_density(levels: Sequence[tuple[Decimal, Decimal]], touch: Decimal,
                 max_distance: Decimal) -> float | None:
    """Quantity per unit of price within ``max_distance`` of the touch on one side."""
    qty = sum((q for p, q in levels if abs(p - touch) <= max_distance), Decimal(0))
    if qty <= 0 or max_distance <= 0:
        return None
    return float(qty / max_distance)


def measured_params(mid: Decimal, spread: Decimal, density: float, volatility: float,
                    resilience_rate: float = 0.5, taker_fee: Decimal = Decimal(0),
                    gamma: float = 0.0) -> ACParams:
    """ACParams from measurements (see the module docstring)."""
    if density <= 0 or resilience_rate <= 0:
        raise ValueError(f"density ({density}) and resilience_rate ({resilience_rate}) must be > 0")
    return ACParams(sigma=volatility * float(mid), eta=1.0 / (density * resilience_rate),
                    gamma=gamma, epsilon=float(spread / 2 + taker_fee * mid),
                    resilience_rate=resilience_rate)
