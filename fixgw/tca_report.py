"""Per-order and per-strategy TCA from plain records (the journal loader is a thin adapter).

Input: one :class:`ParentRecord` per parent, its :class:`FillRecord` list and, when the OMS
saved one, its :class:`~fixgw.algo.types.ExecutionTrace` (market path and schedule). Without a
trace, the interval VWAP, participation and schedule deviation are reported as n/a and the
unfilled part is priced at the last fill (or the arrival price), which the report says.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Sequence

from fixgw.algo.types import ExecutionTrace
from fixgw.domain import ZERO, Side
from fixgw.tca_math import (Shortfall, implementation_shortfall, interval_vwap, participation,
                            schedule_deviation, slippage_bps)


@dataclass(frozen=True, slots=True)
class ParentRecord:
    order_id: str
    symbol: str
    side: Side
    strategy: str              # display name: TWAP, VWAP, POV, ICEBERG, ARRIVAL, DMA, SWEEP...
    urgency: str | None
    quantity: Decimal
    arrival_price: Decimal | None
    start: float
    end: float | None          # ExpireTime, if any
    finished_at: float | None
    status: str
    limit_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class FillRecord:
    order_id: str
    time: float
    venue: str
    price: Decimal
    quantity: Decimal
    fee_quote: Decimal         # fee in the quote currency


@dataclass(frozen=True, slots=True)
class OrderTca:
    parent: ParentRecord
    filled: Decimal
    avg_price: Decimal | None
    fees: Decimal
    end_price: Decimal | None
    end_price_source: str      # "market", "last fill", "arrival"
    shortfall: Shortfall | None
    interval_vwap: Decimal | None
    vwap_slippage_bps: Decimal | None
    participation: Decimal | None
    deviation_mean: Decimal | None
    deviation_max: Decimal | None
    venues: tuple[str, ...]


def analyze(parent: ParentRecord, fills: Sequence[FillRecord],
            trace: ExecutionTrace | None = None) -> OrderTca:
    filled = sum((f.quantity for f in fills), ZERO)
    notional = sum((f.quantity * f.price for f in fills), ZERO)
    fees = sum((f.fee_quote for f in fills), ZERO)
    avg = notional / filled if filled else None
    samples = trace.samples if trace else ()
    mids = [s.mid for s in samples if s.mid is not None]
    if mids:
        end_price, source = mids[-1], "market"
    elif fills:
        end_price, source = fills[-1].price, "last fill"
    else:
        end_price, source = parent.arrival_price, "arrival"
    arrival = parent.arrival_price or (trace.arrival_mid if trace else None)
    shortfall = None
    if arrival is not None and arrival > 0:
        shortfall = implementation_shortfall(parent.side, parent.quantity, filled, avg, arrival,
                                             end_price, fees)
    vwap = slip = part = None
    if len(samples) >= 2:
        first, last = samples[0], samples[-1]
        vwap = interval_vwap(first.traded_volume, first.traded_notional, last.traded_volume,
                             last.traded_notional)
        if vwap is not None and avg is not None:
            slip = slippage_bps(parent.side, avg, vwap)
        market_volume = last.traded_volume - first.traded_volume
        # our prints are market volume too: less than our fill means the trace ends before
        # the trade stream caught up, so the share would be meaningless
        part = participation(filled, market_volume) if market_volume >= filled else None
    dev = schedule_deviation(parent.quantity, [(s.filled, s.planned) for s in samples
                                               if s.planned is not None])
    return OrderTca(parent, filled, avg, fees, end_price, source, shortfall, vwap, slip, part,
                    dev[0] if dev else None, dev[1] if dev else None,
                    tuple(sorted({f.venue for f in fills})))


@dataclass(frozen=True, slots=True)
class StrategySummary:
    strategy: str
    orders: int
    mean_bps: float | None
    std_bps: float | None
    mean_vwap_slippage_bps: float | None
    fill_rate: float


def summarize(results: Iterable[OrderTca]) -> list[StrategySummary]:
    groups: dict[str, list[OrderTca]] = {}
    for r in results:
        key = r.parent.strategy + (f"/{r.parent.urgency}" if r.parent.urgency and
                                   r.parent.strategy == "ARRIVAL" else "")
        groups.setdefault(key, []).append(r)
    out = []
    for key, rs in groups.items():
        sf = [float(r.shortfall.total_bps) for r in rs if r.shortfall is not None]
        vs = [float(r.vwap_slippage_bps) for r in rs if r.vwap_slippage_bps is not None]
        qty = sum(float(r.parent.quantity) for r in rs)
        out.append(StrategySummary(key, len(rs), mean(sf), stdev(sf), mean(vs),
                                   sum(float(r.filled) for r in rs) / qty if qty else 0.0))
    return sorted(out, key=lambda s: s.strategy)


def mean(xs: Sequence[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def stdev(xs: Sequence[float]) -> float | None:
    if len(xs) < 2:
        return 0.0 if xs else None
    m = sum(xs) / len(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def _f(v: Decimal | float | None, fmt: str = "{:.2f}") -> str:
    return "n/a" if v is None else fmt.format(float(v))


def format_orders(results: Sequence[OrderTca]) -> str:
    head = (f"{'order':<14} {'strategy':<9} {'urg':<6} {'side':<4} {'qty':>10} {'filled':>10} "
            f"{'avg px':>12} {'arrival':>12} {'IS bps':>8} {'exec':>7} {'opp':>7} {'fees':>6} "
            f"{'vs VWAP':>8} {'part%':>6} {'dev%':>6} venues")
    lines = [head, "-" * len(head)]
    for r in results:
        p, s = r.parent, r.shortfall
        lines.append(
            f"{p.order_id:<14.14} {p.strategy:<9} {(p.urgency or '-'):<6} "
            f"{'BUY' if p.side is Side.BUY else 'SELL':<4} {p.quantity:>10} {r.filled:>10} "
            f"{_f(r.avg_price, '{:.4f}'):>12} {_f(p.arrival_price, '{:.4f}'):>12} "
            f"{_f(s.total_bps if s else None):>8} {_f(s.execution_bps if s else None):>7} "
            f"{_f(s.opportunity_bps if s else None):>7} {_f(s.fees_bps if s else None):>6} "
            f"{_f(r.vwap_slippage_bps):>8} "
            f"{_f(None if r.participation is None else r.participation * 100, '{:.1f}'):>6} "
            f"{_f(None if r.deviation_mean is None else r.deviation_mean * 100, '{:.1f}'):>6} "
            f"{','.join(r.venues) or '-'}")
    notes = {r.end_price_source for r in results if r.filled < r.parent.quantity}
    if notes - {"market"}:
        lines.append("note: without a market trace the unfilled part is priced at the last "
                     "fill or the arrival price")
    return "\n".join(lines)


def format_strategies(summaries: Sequence[StrategySummary]) -> str:
    head = (f"{'strategy':<16} {'orders':>6} {'IS mean bps':>12} {'IS std bps':>11} "
            f"{'vs VWAP bps':>12} {'filled %':>9}")
    lines = [head, "-" * len(head)]
    for s in summaries:
        lines.append(f"{s.strategy:<16} {s.orders:>6} {_f(s.mean_bps):>12} {_f(s.std_bps):>11} "
                     f"{_f(s.mean_vwap_slippage_bps):>12} {s.fill_rate * 100:>8.1f}")
    return "\n".join(lines)
