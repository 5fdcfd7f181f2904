"""Transaction cost formulas (Perold 1988 implementation shortfall and friends), in Decimal.

Sign convention: positive basis points are a cost (worse than the benchmark) for buys and
sells alike. Shortfall is measured against the paper portfolio "the whole order at the arrival
price", so its three parts add up:

  execution   = side * (AvgPx - arrival) / arrival * 1e4 * filled / quantity
  opportunity = side * (end price - arrival) / arrival * 1e4 * unfilled / quantity
  fees        = fees / (quantity * arrival) * 1e4
  total       = execution + opportunity + fees

For a completely filled order without fees this is side*(AvgPx - arrival)/arrival*1e4, the
TargetStrategyPerformance(850) value of the terminal ExecutionReport.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Sequence

from fixgw.domain import ZERO, Side

BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class Shortfall:
    execution_bps: Decimal
    opportunity_bps: Decimal
    fees_bps: Decimal
    total_bps: Decimal


def implementation_shortfall(side: Side, quantity: Decimal, filled: Decimal,
                             avg_price: Decimal | None, arrival: Decimal,
                             end_price: Decimal | None = None, fees: Decimal = ZERO) -> Shortfall:
    """Perold shortfall in bps of the arrival notional (see the module docstring).

    ``end_price`` prices the unfilled part (the market at the end); ignored when all filled.
    ``fees`` are in the quote currency."""
    if quantity <= 0:
        raise ValueError(f"quantity must be positive, got {quantity}")
    if arrival <= 0:
        raise ValueError(f"arrival price must be positive, got {arrival}")
    if filled > 0 and avg_price is None:
        raise ValueError("avg_price is required when something is filled")
    unfilled = max(quantity - filled, ZERO)
    sign = side.sign
    execution = ZERO if filled <= 0 else \
        sign * (avg_price - arrival) / arrival * BPS * filled / quantity  # type: ignore[operator]
    if unfilled > 0:
        if end_price is None:
            raise ValueError("end_price is required for the opportunity cost of the unfilled part")
        opportunity = sign * (end_price - arrival) / arrival * BPS * unfilled / quantity
    else:
        opportunity = ZERO
    fee_bps = fees / (quantity * arrival) * BPS
    return Shortfall(execution, opportunity, fee_bps, execution + opportunity + fee_bps)


def slippage_bps(side: Side, price: Decimal, benchmark: Decimal) -> Decimal:
    """side * (price - benchmark) / benchmark in bps: e.g. against the interval VWAP."""
    if benchmark <= 0:
        raise ValueError(f"benchmark price must be positive, got {benchmark}")
    return side.sign * (price - benchmark) / benchmark * BPS


def interval_vwap(volume_start: Decimal, notional_start: Decimal, volume_end: Decimal,
                  notional_end: Decimal) -> Decimal | None:
    """Market VWAP between two readings of cumulative volume and notional (None: no trades, or
    a market-data source that does not report notional)."""
    dv = volume_end - volume_start
    dn = notional_end - notional_start
    return dn / dv if dv > 0 and dn > 0 else None


def participation(filled: Decimal, market_volume: Decimal) -> Decimal | None:
    """Our share of the market volume over the order's life (our fills are part of it)."""
    return filled / market_volume if market_volume > 0 else None


def schedule_deviation(quantity: Decimal,
                       points: Sequence[tuple[Decimal, Decimal]]) -> tuple[Decimal, Decimal] | None:
    """(mean, max) of |filled - planned| / quantity over (filled, planned) samples, as fractions."""
    if not points or quantity <= 0:
        return None
    devs = [abs(f - p) / quantity for f, p in points]
    return sum(devs, ZERO) / len(devs), max(devs)
