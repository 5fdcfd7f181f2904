"""One PNG per order: cumulative fills against the schedule, and the market mid with the fills.

matplotlib is an optional dependency: :func:`charts_available` says whether it is installed,
and ``fixgw tca`` prints that charts were skipped when it is not.
"""
from __future__ import annotations

import importlib.util
from decimal import Decimal
from pathlib import Path

from fixgw.algo.types import ExecutionTrace
from fixgw.tca_report import FillRecord, OrderTca


def charts_available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def write_chart(result: OrderTca, fills: list[FillRecord], trace: ExecutionTrace | None,
                directory: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = result.parent
    t0 = p.start
    fig, (ax_qty, ax_px) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True)
    # progress: cumulative fills vs schedule
    cum = Decimal(0)
    xs, ys = [0.0], [0.0]
    for f in fills:
        cum += f.quantity
        xs.append(f.time - t0)
        ys.append(float(cum))
    end_t = max([xs[-1]] + ([s.time - t0 for s in trace.samples] if trace else [])
                + ([p.finished_at - t0] if p.finished_at else []))
    xs.append(end_t)
    ys.append(ys[-1])
    ax_qty.step(xs, ys, where="post", label="filled", color="tab:blue")
    if trace:
        plan = [(s.time - t0, float(s.planned)) for s in trace.samples if s.planned is not None]
        if plan:
            ax_qty.step(*zip(*plan), where="post", label="schedule", color="tab:orange",
                        linestyle="--")
    ax_qty.axhline(float(p.quantity), color="grey", linewidth=0.8)
    ax_qty.set_ylabel("quantity")
    ax_qty.legend(loc="lower right")
    sf = result.shortfall
    ax_qty.set_title(f"{p.order_id} {p.strategy}{'/' + p.urgency if p.urgency else ''} "
                     f"{'BUY' if p.side.sign > 0 else 'SELL'} {p.quantity} {p.symbol}  "
                     f"IS {float(sf.total_bps):.2f} bps" if sf else f"{p.order_id}")
    # prices: market mid, fills, arrival
    if trace:
        mids = [(s.time - t0, float(s.mid)) for s in trace.samples if s.mid is not None]
        if mids:
            ax_px.plot(*zip(*mids), label="market mid", color="tab:grey")
    if fills:
        ax_px.scatter([f.time - t0 for f in fills], [float(f.price) for f in fills],
                      s=[max(4.0, 60 * float(f.quantity / p.quantity)) for f in fills],
                      label="fills", color="tab:blue")
    if p.arrival_price is not None:
        ax_px.axhline(float(p.arrival_price), color="tab:green", linestyle=":", label="arrival")
    seen = [float(f.price) for f in fills] + ([float(s.mid) for s in trace.samples
                                              if s.mid is not None] if trace else [])
    if p.limit_price is not None and seen:
        lo, hi = min(seen), max(seen)
        margin = max(hi - lo, 1e-9) * 3
        if lo - margin <= float(p.limit_price) <= hi + margin:   # else it would flatten the plot
            ax_px.axhline(float(p.limit_price), color="tab:red", linestyle="--", label="limit")
        else:
            ax_px.annotate(f"limit {p.limit_price} (off scale)", xy=(0.01, 0.02),
                           xycoords="axes fraction", color="tab:red", fontsize=8)
    ax_px.ticklabel_format(axis="y", useOffset=False, style="plain")
    ax_px.set_xlabel("seconds since start")
    ax_px.set_ylabel("price")
    ax_px.legend(loc="best")
    fig.tight_layout()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"tca_{''.join(c if c.isalnum() or c in '-_' else '_' for c in p.order_id)}.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
