"""Impact calibration of the market model: sweep vs slicing, measured vs Almgren-Chriss.

    python -m fixgw.sim.market_bench [--sizes 1,5,10,20] [--seeds 10] [--horizon 300] [--slices 30]

Runs on the real matching engine with a fake clock (no sockets: it takes seconds): for each
size and seed, one buy as an immediate market sweep and one as ``slices`` equal market orders
over ``horizon`` market seconds, both against the arrival mid on the same seed, with the
default BTC/USDT parameters of ``sessions/venues.yaml`` on venue simA. Prints the mean and
standard deviation of the cost in bps next to the model's own expectation (the ladder walk for
the sweep, the Almgren-Chriss expected cost for the schedule); fees are excluded so that the
figures show impact alone.
"""
from __future__ import annotations

import argparse
import math
import statistics
from dataclasses import replace
from decimal import Decimal

from fixgw.clock import FakeClock
from fixgw.sim.engine import Exchange
from fixgw.sim.market_config import load_sim_config

SYMBOL = "BTCUSDT"


def _venue(seed: int, config_path: str | None):
    config = load_sim_config(config_path, seed=seed)
    base = config.venues[0]
    spec = replace(base, symbols=tuple(s for s in base.symbols if s.market_id == SYMBOL),
                   taker_fee=Decimal(0), maker_fee=Decimal(0), seed_book=False,
                   spot_balances={"USDT": Decimal("100000000"), "BTC": Decimal("10000")})
    clock = FakeClock()
    exchange = Exchange(spec, clock)
    factory = config.model_factory()
    model = factory(exchange, spec, clock)
    model.step(clock.now())
    for _ in range(300):                      # 30 s of warm-up: background flow, a living book
        clock.advance(0.1)
        model.step(clock.now())
    return clock, exchange, model


def _buy(clock, exchange, model, qty: Decimal, slices: int, horizon: float) -> tuple[float, float]:
    """(cost against the arrival mid, the same less the seed's own price drift), in bps."""
    bid, ask = exchange.best_bid_ask(SYMBOL)
    arrival = (bid + ask) / 2
    exo0 = model.exogenous_price(SYMBOL)
    child = (qty / slices).quantize(exchange.step_size(SYMBOL))
    quote = drift = filled = Decimal(0)
    tau = horizon / slices if slices > 1 else 0.0
    for k in range(slices):
        this = child if k < slices - 1 else qty - child * (slices - 1)
        order, _ = exchange.place_order("demo", exchange.markets[SYMBOL], "BUY", "MARKET", this)
        quote += order.cum_quote
        filled += order.executed_qty
        drift += (model.exogenous_price(SYMBOL) - exo0) * order.executed_qty
        for _ in range(int(round(tau / 0.1)) if k < slices - 1 else 0):
            clock.advance(0.1)
            model.step(clock.now())
    if filled != qty:
        raise RuntimeError(f"only {filled} of {qty} filled: the book is not deep enough")
    cost = float((quote / filled - arrival) / arrival) * 1e4
    return cost, cost - float(drift / filled / arrival) * 1e4


def _ms(values: list[float]) -> str:
    return f"{statistics.mean(values):>6.2f} +/- {statistics.pstdev(values):>4.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,5,10,20", help="BTC sizes, comma separated")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--horizon", type=float, default=300.0, help="market seconds of the schedule")
    parser.add_argument("--slices", type=int, default=30)
    parser.add_argument("--config", default=None, help="venues config (default sessions/venues.yaml)")
    args = parser.parse_args(argv)
    from fixgw.algo import almgren_chriss as ac
    sizes = [Decimal(s) for s in args.sizes.split(",")]
    print(f"BTC/USDT on simA, fees excluded, {args.seeds} seeds; schedule: {args.slices} equal "
          f"slices over {args.horizon:g} s")
    print("cost against arrival mid, bps: mean +/- sd over seeds; 'less drift' subtracts the "
          "seed's own price path (what it would have done had nobody traded)")
    print(f"{'size':>5} | {'sweep':>14} {'model':>6} | {'sliced':>14} {'less drift':>14} "
          f"{'AC E[C]':>7} {'AC sd':>6}")
    for size in sizes:
        sweeps, sliced, impact = [], [], []
        for seed in range(1, args.seeds + 1):
            sweeps.append(_buy(*_venue(seed, args.config), size, 1, 0.0)[0])
            cost, less_drift = _buy(*_venue(seed, args.config), size, args.slices, args.horizon)
            sliced.append(cost)
            impact.append(less_drift)
        _, _, model = _venue(1, args.config)
        p = model.almgren_chriss(SYMBOL)
        x = float(size)
        tau = args.horizon / args.slices
        holdings = [x * (1 - k / args.slices) for k in range(args.slices + 1)]
        acp = ac.ACParams.from_model(p)
        expected = p.to_bps(ac.expected_cost(holdings, tau, acp), x)
        sd = math.sqrt(ac.variance(holdings, tau, acp)) / (x * p.price) * 1e4
        print(f"{x:>5g} | {_ms(sweeps)} {p.to_bps(p.sweep_cost(x), x):>6.2f} | {_ms(sliced)} "
              f"{_ms(impact)} {expected:>7.2f} {sd:>6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
