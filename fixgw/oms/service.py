"""Wiring of the order gateway service (``application: fixgw.oms.service:build_service``).

Builds, from the gateway YAML and the :class:`~fixgw.service.ServiceContext` the session layer
hands over: the venues (H4's ccxt adapters; venues marked ``simulated`` are first made to run by
the simulator, detached or in-process, which also supplies their URLs and demo credentials), the
market-data hub, the smart order router, pre-trade risk and the kill switch with its admin
channel (H8), drop copy (H8), TCA (H5) and the order manager. Wiring only: every decision lives
in the parts.

Start order matters: venues connect and books fill before the first order can be routed, the
journal is loaded and reconciled against the venues before the sessions take new orders, and
the admin channel comes last. Stop reverses it.
"""
from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from typing import Any, Mapping

from fixgw.config import GatewayConfig, parse_gateway_config
from fixgw.dropcopy import DropCopyGuard, DropCopyRouter
from fixgw.algo.config import parse_algo_config
from fixgw.oms.algo_host import AlgoRun
from fixgw.oms.algo_inputs import AlgoInputs, simulated_model
from fixgw.oms.journal import Journal
from fixgw.oms.manager import OrderManager
from fixgw.oms.market_view import HubMarketView
from fixgw.oms.recovery import reconcile
from fixgw.service import ServiceContext

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VenueEndpoint:
    """Where a simulated venue listens and the demo credentials to use there (never logged)."""

    name: str
    base_url: str
    api_key: str
    secret: str
    fees: Any = None            # VenueFees for spot, from the simulator's spec
    linear_fees: Any = None


class _LateBoundApplication:
    """The Application the session layer sees from the start; forwards to the manager."""

    def __init__(self, manager: OrderManager):
        self.manager = manager

    def on_create(self, session) -> None:
        self.manager.on_create(session)

    def on_logon(self, session) -> None:
        self.manager.on_logon(session)

    def on_logout(self, session) -> None:
        self.manager.on_logout(session)

    def on_message(self, session, message) -> None:
        self.manager.on_message(session, message)


class GatewayService:
    def __init__(self, ctx: ServiceContext, config: GatewayConfig, *,
                 endpoints: Mapping[str, VenueEndpoint] | None = None,
                 simulator: Any = None):
        from fixgw.oms.risk import KillSwitchState, RiskEngine
        from fixgw.oms.risk_config import RiskConfig
        self.ctx = ctx
        self.config = config
        self.clock = ctx.clock
        self.journal = Journal(ctx.database_path)
        # The kill switch's state is a file in the state dir: an engaged switch must survive a
        # crash and restart, or a restart would silently release it.
        self.risk = RiskEngine(RiskConfig.from_config(config.risk), ctx.clock,
                               kill_switch=KillSwitchState(ctx.state_dir / "kill-switch.json"))
        self.drop_copy = DropCopyRouter(ctx.sessions)
        self._endpoints = dict(endpoints or {})
        self.simulator = simulator   # the simulated venues we run (in-process: InProcessVenues)
        self.adapters: dict[str, Any] = {}
        self.hub = None
        self.market: HubMarketView | None = None
        self.admin = None
        self.kill_switch = None
        from fixgw.tca_oms import OmsTca
        from fixgw.tca_store import TcaStore
        self.manager = OrderManager(
            journal=self.journal, clock=ctx.clock, venues={}, router=None, market=None,
            config=config.oms, risk=self.risk, drop_copy=self.drop_copy,
            algo_factory=lambda order, mgr, **kw: AlgoRun.build(order, mgr, self.algo_inputs,
                                                                 **kw),
            tca=OmsTca(TcaStore(ctx.database_path)),
            crash_at=os.environ.get("FIXGW_CRASH_AT") or None)
        self.application = DropCopyGuard(_LateBoundApplication(self.manager))
        self.reconciliation: dict[str, int] | None = None
        self.algo_inputs = AlgoInputs(config.algo or parse_algo_config({}))

    async def start(self) -> None:
        from fixgw.marketdata.hub import MarketDataConfig, MarketDataHub
        from fixgw.oms.risk_kill import KillSwitchController
        from fixgw.venues.factory import build_router
        if self.simulator is None and any(self.config.simulated_venues):
            self.simulator, self._endpoints, clock = await ensure_simulated_venues(
                self.config, self.ctx)
            if clock is not self.clock:   # compressed market time: share the venues' clock
                self.clock = self.manager.clock = clock
        self.adapters = build_adapters(self.config, self._endpoints, self.clock)
        await asyncio.gather(*(a.connect() for a in self.adapters.values()))
        for name, a in self.adapters.items():
            ep = self._endpoints.get(name)
            if ep is not None and ep.linear_fees is not None:
                for s in a.symbols:
                    if ":" in s:
                        a.set_fees(s, ep.linear_fees)
        self.hub = MarketDataHub(self.adapters, clock=self.clock,
                                 config=MarketDataConfig(**self.config.market_data))
        await self.hub.start()
        ready = await self.hub.wait_ready(timeout=15.0)
        if not ready:
            log.warning("market data: not every venue book is live yet; stale venues are "
                        "excluded from routing until they are")
        self.market = HubMarketView(self.hub, self.adapters)
        await self.market.start()
        self.manager.venues = dict(self.adapters)
        for a in self.adapters.values():
            a.on_event(self.manager.on_venue_event)
        self.manager.router = build_router(self.adapters, include=self.config.routing_include,
                                           exclude=self.config.routing_exclude)
        self.manager.market = self.market
        self.algo_inputs = _algo_inputs(self.config, self.adapters)
        open_orders = self.manager.load()
        self.unsent_fills_reported = report_unsent_fills(self.manager, self.journal, self.clock)
        if self.config.oms.reconcile_on_start and open_orders:
            self.reconciliation = await reconcile(self.manager, open_orders)
        self.manager.start_retention()     # finished orders leave memory (docs/oms-retention.md)
        self.kill_switch = KillSwitchController(self.risk, cancel_all=self.manager.cancel_everything)
        self.manager.kill_switch = self.kill_switch
        if self.config.admin_socket:
            from fixgw.admin import AdminServer
            self.admin = AdminServer(self.ctx.state_dir, self.kill_switch)
            await self.admin.start()
        log.info("order gateway ready: venues %s, %d open orders recovered",
                 ", ".join(self.adapters), len(open_orders))

    async def stop(self) -> None:
        if self.admin is not None:
            await self.admin.stop()
        self.manager.stop_retention()
        await self.manager.drain(timeout=3.0)
        for run in [rt.algo for rt in self.manager.runtime.values() if rt.algo is not None]:
            run.stop()
        if self.market is not None:
            await self.market.stop()
        if self.hub is not None:
            await self.hub.stop()
        await asyncio.gather(*(a.close() for a in self.adapters.values()), return_exceptions=True)
        if self.simulator is not None:
            await self.simulator.stop()
        self.journal.close()


def report_unsent_fills(manager: OrderManager, journal: Journal, clock) -> int:
    """Fills journaled whose ER never reached the session store (a crash in between): send
    them now, before reconciliation reports anything newer (fixgw/oms/unsent.py)."""
    from fixgw.oms.unsent import find_unsent_fills, send_unsent_fills
    try:
        # reset times are wall clock; a scaled market clock cannot be compared with them
        unsent = find_unsent_fills(journal, check_reset_time=getattr(
            clock, "wall_seconds", None) is None)
    except Exception:
        log.exception("checking for unsent fill reports failed")
        return 0
    if not unsent:
        return 0
    return send_unsent_fills(manager, unsent)


def build_service(ctx: ServiceContext) -> GatewayService:
    """The ``module:factory`` named by ``application:`` in the gateway YAML."""
    config = parse_gateway_config(ctx.config, ctx.config_path, state_dir=ctx.state_dir)
    return GatewayService(ctx, config)


def _algo_inputs(config: GatewayConfig, adapters: Mapping[str, Any]) -> AlgoInputs:
    """Scheduler inputs: the ``algos:`` config, and the simulator's own market model for the
    symbols that only simulated venues list (real venues: measured parameters)."""
    algo = config.algo or parse_algo_config({})
    simulated = set(config.simulated_venues)
    real: dict[str, set[str]] = {}
    for name, a in adapters.items():
        if name not in simulated:
            for s in getattr(a, "symbols", ()) or ():
                real.setdefault(s, set()).add(name)
    model = None
    if simulated and config.simulator_config_path is not None:
        try:
            from fixgw.sim.market_config import load_sim_config
            model = simulated_model(load_sim_config(config.simulator_config_path),
                                    sorted(simulated & set(adapters)))
        except Exception as e:
            log.warning("simulator market model unavailable for algos: %s", e)
    return AlgoInputs(algo, model, {s: frozenset(v) for s, v in real.items()})


def build_adapters(config: GatewayConfig, endpoints: Mapping[str, VenueEndpoint], clock):
    """H4's ccxt adapters; simulated venues get the simulator's URL and credentials."""
    from fixgw.venues.ccxt_adapter import CcxtVenueAdapter
    from fixgw.venues.config import Credentials, venue_config_from_mapping
    adapters = {}
    for name, raw in config.venues.items():
        body = {k: v for k, v in raw.items() if k not in ("simulated", "enabled")}
        if raw.get("enabled", True) is False:
            continue
        ep = endpoints.get(name)
        creds = None
        if raw.get("simulated"):
            if ep is None:
                raise RuntimeError(f"{config.source}: venues.{name}: simulated venue is not "
                                   f"running and could not be started")
            body["base_url"] = ep.base_url
            creds = Credentials(ep.api_key, ep.secret)
            if ep.fees is not None and "fees" not in body:
                body["fees"] = {"maker": str(ep.fees.maker), "taker": str(ep.fees.taker)}
        vc = venue_config_from_mapping(name, body)
        adapters[name] = CcxtVenueAdapter(vc, clock=clock, credentials=creds)
    return adapters


async def ensure_simulated_venues(config: GatewayConfig, ctx: ServiceContext):
    """Make the venues marked ``simulated`` run (H3's launcher); return (handle, endpoints, clock).

    ``simulator.mode: detached`` (``fixgw run``) starts them as their own process, or reuses
    the ones a previous gateway left running; ``in-process`` (demo, tests) starts them on this
    event loop. The handle's ``stop()`` stops them only if this call started them. The clock is
    the venues' market clock (scaled when the simulator runs compressed time).
    """
    from fixgw.sim.launcher import (ensure_venues_running_async, start_sim_venues,
                                    stop_venues_async)
    from fixgw.sim.market_config import load_sim_config
    mode = config.simulator.get("mode", "detached")
    sim_path = config.simulator_config_path
    sim_cfg = load_sim_config(sim_path)
    if mode == "in-process":
        clock = ctx.clock if sim_cfg.time_scale == 1 else None
        run = await start_sim_venues(sim_cfg, clock)
        handle, endpoints, clock = run, run.endpoints(), run.clock
    else:
        venues = await ensure_venues_running_async(sim_path, ctx.state_dir)
        endpoints = venues.endpoints
        clock = ctx.clock if venues.time_scale == 1 else venues.clock()

        class _Detached:
            async def stop(self) -> None:
                if venues.started:
                    await stop_venues_async(ctx.state_dir)
        handle = _Detached()
    result = {}
    for e in endpoints:
        spec = sim_cfg.venue(e.name)
        result[e.name] = VenueEndpoint(e.name, e.base_url, e.api_key, e.api_secret,
                                       _fees(spec.maker_fee, spec.taker_fee),
                                       _fees(spec.futures_maker_fee, spec.futures_taker_fee))
    missing = set(config.simulated_venues) - set(result)
    if missing:
        raise RuntimeError(f"{config.source}: simulated venues {sorted(missing)} are not in "
                           f"{sim_cfg.path}")
    return handle, result, clock


def _fees(maker, taker):
    from fixgw.venues.base import VenueFees
    return VenueFees(maker, taker)
