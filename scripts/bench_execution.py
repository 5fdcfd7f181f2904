#!/usr/bin/env python3
"""Execution-quality benchmark: implementation shortfall of each algo on the simulated venue.

For every (order size, seed) the same parent buy order runs as an immediate sweep, TWAP, VWAP,
POV and ARRIVAL at each urgency, each on a *fresh* simulated venue (fixgw.sim.server
start_venue with the market model, fixed seed, compressed time) reached through the real path:
ccxt adapter (REST orders, websocket user-data and book streams), the market-data hub, the
smart order router, and the pure scheduler driven by a small host loop (what the OMS does).
A fresh venue per run with the same seed means every strategy meets the same latent price path
(common random numbers), so the differences between strategies are not noise from the path.

Output: shortfall mean and standard deviation (bps, Perold, fees included) per strategy and
size, next to the Almgren-Chriss expected cost (and std) computed from the simulator's own
parameters (MarketModel.almgren_chriss) for the very schedule each strategy plans. The
"taker" ARRIVAL variants cross every slice when it falls due (AlgoSettings.passive_first=False),
which is the execution the AC cost model describes; the default variants first rest each slice
at the touch, which AC does not model (it saves the taker fee and the half spread).

    python scripts/bench_execution.py                  # default: 3 sizes x 8 seeds, ~6 min
    python scripts/bench_execution.py --quick          # 1 size x 2 seeds
    python scripts/bench_execution.py --sizes 1 4 --seeds 1 2 3 --horizon 120 --scale 20
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import time
import traceback
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fixgw.algo import (ACParams, AlgoSettings, CancelIntent, ChildIntent, ChildStyle,  # noqa: E402
                        Instrument, MarketSnapshot, ParentSpec, make_scheduler)
from fixgw.algo import almgren_chriss as ac  # noqa: E402
from fixgw.algo.base import BaseScheduler  # noqa: E402
from fixgw.algo.schedule import even_times  # noqa: E402
from fixgw.clock import ScaledClock  # noqa: E402
from fixgw.domain import ZERO, OrdType, Side, Strategy, TimeInForce, Urgency  # noqa: E402
from fixgw.marketdata.hub import MarketDataConfig, MarketDataHub  # noqa: E402
from fixgw.routing.sor import Liquidity, RouteRequest  # noqa: E402
from fixgw.sim.market import MarketModelFactory  # noqa: E402
from fixgw.sim.server import start_venue  # noqa: E402
from fixgw.sim.spec import RateLimitSpec, VenueSpec, default_symbols  # noqa: E402
from fixgw.tca_math import implementation_shortfall  # noqa: E402
from fixgw.venues.base import (VenueError, VenueFill, VenueOrderRequest,  # noqa: E402
                               VenueOrderState, VenueOrderUpdate)
from fixgw.venues.factory import build_router, build_venues, close_all, connect_all  # noqa: E402

SYMBOL = "BTC/USDT"
VENUE = "bench"
STRATEGIES = ["SWEEP", "TWAP", "VWAP", "POV", "ARRIVAL/LOW", "ARRIVAL/MEDIUM", "ARRIVAL/HIGH",
              "ARRIVAL/LOW taker", "ARRIVAL/MEDIUM taker", "ARRIVAL/HIGH taker"]
SWEEP_COLLAR = Decimal("0.02")
# recovering fills the user-data stream did not deliver (see Host._chase_fills): wall seconds
# before the n-th REST look is n * CHASE_STEP_S, so ~2 s in all before giving up
CHASE_STEP_S = 0.05
CHASE_ATTEMPTS = 8


@dataclass
class Outcome:
    strategy: str
    size: Decimal
    seed: int
    shortfall_bps: float
    filled: Decimal
    children: int
    ac_bps: float | None
    ac_std_bps: float | None
    wall_s: float


# --------------------------------------------------------------------------- the host loop
@dataclass
class _Intent:
    intent: ChildIntent
    open: set[str] = field(default_factory=set)
    reported: dict[str, Decimal] = field(default_factory=dict)   # venue cid -> filled per venue
    submitting: int = 0
    cancel_wanted: bool = False
    done: bool = False


class Host:
    """What the OMS does for one parent, minus FIX and the journal: intents -> SOR -> venue."""

    def __init__(self, sched: BaseScheduler | None, adapters, hub: MarketDataHub, router,
                 clock: ScaledClock, instrument: Instrument):
        self.sched = sched
        self.adapter = adapters[VENUE]
        self.hub = hub
        self.router = router
        self.clock = clock
        self.instrument = instrument
        self.intents: dict[str, _Intent] = {}
        self.venue_to_intent: dict[str, str] = {}
        self.terminal: set[str] = set()
        self.seq = 0
        self.fees = ZERO
        self.filled = ZERO
        self.notional = ZERO
        self.poke = asyncio.Event()
        self.tasks: set[asyncio.Task] = set()
        self.children = 0
        self.sent: list[tuple[float, VenueOrderRequest]] = []
        self.notional_traded = ZERO
        self.trade_ids: set[str] = set()              # fills booked, by venue trade id
        self.booked: dict[str, Decimal] = {}          # venue cid -> quantity of fills booked
        self.sent_ms: dict[str, int] = {}             # venue cid -> submit time (venue ms)
        self.chasing: set[str] = set()
        self.fills_recovered = 0
        hub.on_trade(self._on_trade)
        self.adapter.on_event(self._on_event)

    def _on_trade(self, trade) -> None:
        if trade.symbol == SYMBOL:
            self.notional_traded += trade.price * trade.quantity

    def snapshot(self, now: float) -> MarketSnapshot:
        book = self.hub.consolidated(SYMBOL)
        return MarketSnapshot(time=now, bid=book.best_bid(), ask=book.best_ask(),
                              traded_volume=self.hub.cumulative_volume(SYMBOL),
                              traded_notional=self.notional_traded,
                              last_price=self.hub.last_price(SYMBOL))

    # venue events -> scheduler
    def _on_event(self, ev) -> None:
        if ev.client_order_id not in self.venue_to_intent:
            return
        if isinstance(ev, VenueFill):
            self._book_fill(ev)
        elif isinstance(ev, VenueOrderUpdate) and ev.state is not VenueOrderState.OPEN:
            self._venue_done(ev.client_order_id, ev.filled)
        self.poke.set()

    def _book_fill(self, fill: VenueFill) -> None:
        """Book a fill once, whichever path (stream or REST recovery) brought it."""
        if fill.trade_id in self.trade_ids:
            return
        self.trade_ids.add(fill.trade_id)
        iid = self.venue_to_intent[fill.client_order_id]
        self.booked[fill.client_order_id] = self.booked.get(fill.client_order_id, ZERO) + \
            fill.quantity
        fee = fill.fee * fill.price if (fill.fee_currency or "").upper() == "BTC" else fill.fee
        self.fees += fee
        self.filled += fill.quantity
        self.notional += fill.quantity * fill.price
        if self.sched is not None:
            self.sched.on_fill(iid, fill.quantity, fill.price, self.clock.now())
        self.poke.set()

    def _venue_done(self, cid: str, filled: Decimal = ZERO) -> None:
        iid = self.venue_to_intent[cid]
        st = self.intents[iid]
        st.reported[cid] = max(st.reported.get(cid, ZERO), filled)
        if st.reported[cid] > self.booked.get(cid, ZERO) and cid not in self.chasing:
            self.chasing.add(cid)
            self._spawn(self._chase_fills(cid))
        if cid in self.terminal:
            return
        self.terminal.add(cid)
        st.open.discard(cid)
        self._maybe_intent_done(iid)

    def _maybe_intent_done(self, iid: str) -> None:
        st = self.intents[iid]
        if not st.done and not st.open and st.submitting == 0:
            st.done = True
            if self.sched is not None:   # venue-reported fills not seen yet stay reserved
                self.sched.on_child_done(iid, self.clock.now(),
                                         final_filled=sum(st.reported.values(), ZERO))
            self.poke.set()

    # scheduler intents -> venue
    def execute(self, intents) -> None:
        for it in intents:
            if isinstance(it, ChildIntent):
                st = self.intents[it.child_id] = _Intent(it)
                self._spawn(self._route(st))
            elif isinstance(it, CancelIntent):
                st = self.intents.get(it.child_id)
                if st is None or st.done:
                    continue
                st.cancel_wanted = True
                for cid in list(st.open):
                    self._spawn(self._cancel(cid))

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _route(self, st: _Intent) -> None:
        it = st.intent
        passive = it.style is ChildStyle.PASSIVE
        plan = self.router.route(self.hub.consolidated(SYMBOL), RouteRequest(
            symbol=SYMBOL, side=it.side, quantity=it.quantity, limit_price=it.limit_price,
            passive=passive, rest_remainder=it.style is ChildStyle.LIMIT))
        allocations = list(plan.allocations)
        st.submitting = len(allocations)
        for alloc in allocations:
            self.seq += 1
            cid = f"b{self.seq}x{int(time.time() * 1000) % 100000}"
            self.venue_to_intent[cid] = it.child_id
            st.open.add(cid)
            taker = alloc.liquidity is Liquidity.TAKER
            req = VenueOrderRequest(cid, SYMBOL, it.side, OrdType.LIMIT, alloc.quantity,
                                    alloc.price, TimeInForce.IOC if taker else TimeInForce.GTC,
                                    post_only=it.post_only and not taker)
            self.children += 1
            self.sent.append((self.clock.now(), req))
            self.sent_ms[cid] = int(self.clock.now() * 1000)
            try:
                update = await self.adapter.submit(req)
                if update.state is not VenueOrderState.OPEN:
                    self._venue_done(cid, update.filled)
            except VenueError:
                self._venue_done(cid)
            finally:
                st.submitting -= 1
            if st.cancel_wanted and cid in st.open:
                self._spawn(self._cancel(cid))
        self._maybe_intent_done(it.child_id)

    async def _chase_fills(self, cid: str) -> None:
        """Fetch over REST the fills of ``cid`` that the venue reported (a submit or cancel
        answer, an order update) but the user-data stream has not delivered.

        Why they can go missing: a ccxt.pro watch is woken only by a message that arrives
        while the watch is pending (``Client.resolve`` with no future drops the wake-up; the
        data stays in ccxt's cache until the *next* message). On a starved event loop the
        TRADE executionReport can land before the adapter has re-armed ``watch_orders`` /
        ``watch_my_trades`` after the NEW one (seen 30 ms apart under CPU load): it then waits
        for another order event, which never comes for the last resting child of a parent (a
        cancel of a filled order is refused, no event). The scheduler keeps those fills
        reserved as "announced, not seen" and stays FINISHING. The OMS recovers them the same
        way (VenueExecution._chase_fills); this host does what the OMS does."""
        iid = self.venue_to_intent[cid]
        try:
            for attempt in range(1, CHASE_ATTEMPTS + 1):
                await asyncio.sleep(CHASE_STEP_S * attempt)   # the stream's chance first
                if self.booked.get(cid, ZERO) >= self.intents[iid].reported.get(cid, ZERO):
                    return
                try:
                    fills = await self.adapter.fetch_fills(SYMBOL, self.sent_ms[cid] - 60_000)
                except VenueError:
                    continue
                for fill in fills:
                    if fill.client_order_id == cid and fill.trade_id not in self.trade_ids:
                        self.fills_recovered += 1
                        self._book_fill(fill)
        finally:
            self.chasing.discard(cid)

    async def _cancel(self, cid: str) -> None:
        try:
            update = await self.adapter.cancel(cid, SYMBOL)
            if update.state is not VenueOrderState.OPEN:
                self._venue_done(cid, update.filled)
        except VenueError:
            self._venue_done(cid)

    async def run(self, deadline: float) -> None:
        """Drive the scheduler until it is done (or the safety deadline in market time)."""
        assert self.sched is not None
        now = self.clock.now()
        self.execute(self.sched.on_start(now, self.snapshot(now)))
        while not self.sched.is_done and self.clock.now() < deadline:
            now = self.clock.now()
            wake = self.sched.next_wakeup()
            if wake is not None and wake <= now:
                self.execute(self.sched.on_timer(now, self.snapshot(now)))
                continue
            wait = 0.5 if wake is None else self.clock.wall_seconds(wake - now)
            self.poke.clear()
            try:
                await asyncio.wait_for(self.poke.wait(), timeout=max(0.001, min(wait, 0.5)))
            except asyncio.TimeoutError:
                pass

    async def sweep(self, quantity: Decimal, timeout_market_s: float) -> None:
        """The immediate baseline: marketable IOCs for the whole size, SOR-split across the
        book, repeated at once for whatever a moving book left unfilled (a market order)."""
        end = self.clock.now() + timeout_market_s
        n = 0

        def done_qty() -> Decimal:   # the venue's word (IOC acks) may precede the fill events
            reported = sum((q for st in self.intents.values() for q in st.reported.values()),
                           ZERO)
            return max(self.filled, reported)

        while done_qty() < quantity and self.clock.now() < end:
            n += 1
            far = self.hub.consolidated(SYMBOL).best_ask()
            if far is None:
                await asyncio.sleep(0.01)
                continue
            limit = self.instrument.price_inside(far * (1 + SWEEP_COLLAR), Side.BUY)
            iid = f"sweep-{n}"
            self.execute([ChildIntent(iid, Side.BUY, quantity - done_qty(), limit,
                                      ChildStyle.CROSS, TimeInForce.IOC, False, "sweep")])
            while not self.intents[iid].done and self.clock.now() < end:
                await asyncio.sleep(0.005)

    async def drain(self) -> None:
        if self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)


# --------------------------------------------------------------------------- one run
def venue_spec(seed: int) -> VenueSpec:
    btc = next(s for s in default_symbols() if s.market_id == "BTCUSDT")
    return VenueSpec(
        name=VENUE, symbols=(btc,), maker_fee=Decimal("0.0002"), taker_fee=Decimal("0.0004"),
        spot_balances={"USDT": Decimal("100000000"), "BTC": Decimal("1000")},
        rate_limits=RateLimitSpec(weight_per_minute=1_000_000, orders_per_10s=100_000,
                                  orders_per_day=10_000_000),
        market={})


def parent_for(strategy: str, size: Decimal, start: float, horizon: float,
               pov_rate: Decimal) -> ParentSpec:
    name, _, urgency = strategy.split(" ")[0].partition("/")
    return ParentSpec(
        parent_id="P", side=Side.BUY, quantity=size, strategy=Strategy[name], start=start,
        end=start + horizon, urgency=Urgency(urgency) if urgency else Urgency.MEDIUM,
        participation_rate=pov_rate if name == "POV" else None)


def ac_reference(strategy: str, size: float, price: float, horizon: float,
                 settings: AlgoSettings, model_ac) -> tuple[float | None, float | None]:
    """AC expected cost/std (bps) for the schedule the strategy plans, on the sim's parameters."""
    params = ACParams.from_model(model_ac)
    if strategy == "SWEEP":
        return model_ac.to_bps(model_ac.sweep_cost(size), size), 0.0
    if strategy == "POV":
        return None, None
    plan_h = horizon * (1 - settings.final_window_fraction)
    n = len(even_times(0.0, plan_h, settings.slice_seconds, settings.min_slices))
    if strategy.startswith("ARRIVAL"):
        lam = settings.risk_aversion_bps[Urgency(strategy.split(" ")[0].split("/")[1])]
        est = ac.estimate(size, price, plan_h, n, params, lam)
    else:   # TWAP, VWAP: (close to) linear
        est = ac.estimate_for_kappa(size, price, plan_h, n, params, 0.0)
    return est.expected_cost_bps, est.std_bps


@dataclass
class SimEnv:
    """One fresh simulated venue reached through ccxt, with market data and the SOR."""

    clock: ScaledClock
    adapters: dict
    hub: MarketDataHub
    router: object
    instrument: Instrument
    model: object


@asynccontextmanager
async def sim_env(seed: int, scale: float, day: float, warmup: float):
    clock = ScaledClock(scale=scale)
    spec = venue_spec(seed)
    # the volume "day" starts with the run: every run meets the same part of the U-shaped curve
    factory = MarketModelFactory({"volume_profile": {"shape": "u", "period_seconds": day,
                                                     "origin": clock.epoch}}, seed=seed)
    venue = await start_venue(spec, clock, factory)
    env = {"BENCH_KEY": spec.api_key, "BENCH_SECRET": spec.api_secret}
    adapters = build_venues({VENUE: {
        "exchange": "binance", "base_url": venue.base_url, "api_key_env": "BENCH_KEY",
        "secret_env": "BENCH_SECRET", "symbols": [SYMBOL],
        "rate_limits": {"request_weight_per_minute": 1_000_000, "orders_per_10s": 100_000,
                        "orders_per_day": 10_000_000}}}, clock=clock, environ=env)
    hub = None
    try:
        await connect_all(adapters)
        # staleness is judged in market time: allow ~3 wall seconds of event-loop hiccups
        hub = MarketDataHub(adapters, clock=clock,
                            config=MarketDataConfig(stale_after_s=3.0 * scale))
        await hub.start()
        if not await hub.wait_ready([SYMBOL], timeout=20):
            raise RuntimeError("market data not ready")
        # the same warm-up (market time) in every run: the same price path from here on
        origin = factory.world.origin or clock.now()
        start_at = origin + warmup
        while clock.now() < start_at:
            await asyncio.sleep(clock.wall_seconds(min(1.0, start_at - clock.now())))
        rules = adapters[VENUE].market_rules(SYMBOL)
        instrument = Instrument(SYMBOL, adapters[VENUE].tick_size(SYMBOL), rules.lot_size,
                                rules.min_qty)
        yield SimEnv(clock, adapters, hub, build_router(adapters), instrument,
                     factory.models[VENUE])
    finally:
        if hub is not None:
            await hub.stop()
        await close_all(adapters)
        await venue.stop()


async def run_parent(env: SimEnv, parent: ParentSpec | None, settings: AlgoSettings,
                     sweep_size: Decimal | None = None) -> tuple[Host, BaseScheduler | None]:
    """Work ``parent`` (or sweep ``sweep_size`` when parent is None) to the end."""
    model_ac = env.model.almgren_chriss(SYMBOL)
    sched = None
    if parent is not None:
        sched = make_scheduler(parent, env.instrument, 1, settings,
                               volume_profile=env.model.params.profile,
                               impact=ACParams.from_model(model_ac))
    host = Host(sched, env.adapters, env.hub, env.router, env.clock, env.instrument)
    if sched is None:
        await host.sweep(sweep_size, 30.0)
    else:
        assert parent is not None and parent.end is not None
        await host.run(parent.end + 30)
    await asyncio.sleep(env.clock.wall_seconds(1.0))
    await host.drain()
    return host, sched


async def run_one(strategy: str, size: Decimal, seed: int, args) -> Outcome:
    wall0 = time.monotonic()
    async with sim_env(seed, args.scale, args.day, args.warmup) as env:
        # final window 15 % (18 market s, ~1 wall s at x20): room to finish by crossing even
        # when the event loop of a busy machine hiccups
        settings = AlgoSettings(slice_seconds=args.slice, refresh_seconds=args.slice / 2,
                                poll_seconds=1.0, trace_seconds=5.0, final_window_fraction=0.15,
                                passive_first=not strategy.endswith(" taker"))
        model_ac = env.model.almgren_chriss(SYMBOL)
        arrival = env.hub.mid(SYMBOL)
        while arrival is None:
            await asyncio.sleep(0.01)
            arrival = env.hub.mid(SYMBOL)
        now = env.clock.now()
        expected_volume = Decimal(repr(
            env.model.params.symbol(SYMBOL).background_volume * args.horizon))
        pov_rate = min(Decimal("0.5"), (size / (size + expected_volume)).quantize(Decimal("0.01")))
        parent = None if strategy == "SWEEP" else \
            parent_for(strategy, size, now, args.horizon, pov_rate)
        host, _ = await run_parent(env, parent, settings, sweep_size=size)
        end_mid = env.hub.mid(SYMBOL)
        avg = host.notional / host.filled if host.filled else None
        sf = implementation_shortfall(Side.BUY, size, host.filled, avg, arrival, end_mid,
                                      host.fees)
        ac_bps, ac_std = ac_reference(strategy, float(size), float(arrival), args.horizon,
                                      settings, model_ac)
        return Outcome(strategy, size, seed, float(sf.total_bps), host.filled, host.children,
                       ac_bps, ac_std, time.monotonic() - wall0)


# --------------------------------------------------------------------------- report
def table(outcomes: list[Outcome], sizes: list[Decimal], depth_top: Decimal) -> str:
    lines = []
    for size in sizes:
        rows = [o for o in outcomes if o.size == size]
        if not rows:
            continue
        lines.append(f"\nsize {size} BTC = {size / depth_top:.0f}x top-of-book level "
                     f"({len({o.seed for o in rows})} seeds)")
        lines.append("| strategy | IS mean bps | IS std bps | AC expected bps | AC std bps | "
                     "filled % | children |")
        lines.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for s in STRATEGIES:
            rs = [o for o in rows if o.strategy == s]
            if not rs:
                continue
            xs = [o.shortfall_bps for o in rs]
            sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
            acb = rs[0].ac_bps
            acs = rs[0].ac_std_bps
            fill = sum(float(o.filled) for o in rs) / (float(size) * len(rs)) * 100
            lines.append(f"| {s} | {statistics.mean(xs):.2f} | {sd:.2f} | "
                         f"{'n/a' if acb is None else f'{acb:.2f}'} | "
                         f"{'n/a' if acs is None else f'{acs:.2f}'} | {fill:.1f} | "
                         f"{sum(o.children for o in rs) / len(rs):.0f} |")
    return "\n".join(lines)


async def main_async(args) -> int:
    sizes = [Decimal(str(s)) for s in args.sizes]
    strategies = args.strategies or STRATEGIES
    outcomes: list[Outcome] = []
    sem = asyncio.Semaphore(args.parallel)
    t0 = time.monotonic()

    async def one(strategy, size, seed):
        async with sem:
            try:
                o = await run_one(strategy, size, seed, args)
            except Exception as exc:  # a failed run is reported, the others go on
                print(f"  {strategy:<15} size {size} seed {seed}: FAILED {exc!r}", flush=True)
                if args.verbose:
                    traceback.print_exc()
                return
            outcomes.append(o)
            print(f"  {strategy:<15} size {size} seed {seed}: IS {o.shortfall_bps:7.2f} bps, "
                  f"filled {o.filled}, {o.children} children, AC "
                  f"{'n/a' if o.ac_bps is None else f'{o.ac_bps:.2f}'} ({o.wall_s:.1f}s)",
                  flush=True)

    await asyncio.gather(*(one(s, z, seed) for z in sizes for seed in args.seeds
                           for s in strategies))
    depth = Decimal("0.25")
    print(f"\nBUY parent orders, horizon {args.horizon:.0f} market s (time x{args.scale:g}), "
          f"slices {args.slice:.0f} s, BTC/USDT on one simulated venue (taker 4 bps, maker 2 "
          f"bps), through ccxt + SOR; {time.monotonic() - t0:.0f} s wall")
    print(table(outcomes, sizes, depth))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=float, nargs="+", default=[1, 3, 6])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6, 7, 8])
    ap.add_argument("--strategies", nargs="+", choices=STRATEGIES)
    ap.add_argument("--horizon", type=float, default=120.0, help="market seconds")
    ap.add_argument("--slice", type=float, default=10.0, help="schedule spacing, market seconds")
    ap.add_argument("--scale", type=float, default=20.0, help="market seconds per wall second")
    ap.add_argument("--warmup", type=float, default=20.0, help="market seconds before the order")
    ap.add_argument("--day", type=float, default=600.0,
                    help="period of the simulator's U-shaped volume profile, market seconds")
    ap.add_argument("--parallel", type=int, default=4, help="runs at once (separate venues)")
    ap.add_argument("--quick", action="store_true", help="one size, two seeds")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.sizes, args.seeds = [3], [1, 2]
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
