"""Hosts one H5 scheduler for one algo parent order on the event loop.

The scheduler is pure; this object is its I/O: it feeds it the clock, consolidated market
snapshots, fills and child completions, arms a loop timer at ``next_wakeup()`` after every
call, and executes the intents it returns through the order manager (each child through the
SOR and pre-trade risk, journaled before it reaches a venue).
"""
from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import TYPE_CHECKING

from fixgw.algo.base import BaseScheduler
from fixgw.algo.factory import make_scheduler
from fixgw.algo.types import AlgoSettings, CancelIntent, ChildIntent, ParentSpec, SchedulerStatus
from fixgw.domain import ZERO, Strategy, TimeInForce, Urgency
from fixgw.oms.algo_inputs import AlgoInputs
from fixgw.oms.order import ClientOrder
from fixgw.oms.state import OrderEvent
from fixgw.routing.sor import parse_quantity_parameter

if TYPE_CHECKING:
    from fixgw.oms.manager import OrderManager

log = logging.getLogger(__name__)

MAX_HORIZON_S = 7 * 86400   # longest algo horizon accepted (start to ExpireTime)


def parent_spec(order: ClientOrder, now: float, *, resume: bool = False) -> ParentSpec:
    """The scheduler's view of a parent order (FIX tags -> ParentSpec); ValueError on bad params.

    ``resume`` (after a restart): the spec of what is left -- quantity = leaves, start = now,
    the same end time, limit and parameters."""
    params = {p.name.lower(): p.value for p in order.strategy_params}

    def quantity(name: str) -> Decimal | None:
        v = params.get(name.lower())
        return None if v is None else parse_quantity_parameter(name, v)

    def venues(name: str) -> tuple[str, ...]:
        return tuple(v.strip() for v in params.get(name, "").split(",") if v.strip())

    post_only = params.get("postonly", "Y").strip().upper() not in ("N", "NO", "FALSE", "0")
    start = order.effective_time if order.effective_time is not None else now
    if resume:
        start = now
    if order.expire_time is not None and order.expire_time - max(start, now) > MAX_HORIZON_S:
        # schedulers plan one point per slice: a horizon of years would stall the event loop
        raise ValueError(f"ExpireTime(126) is more than {MAX_HORIZON_S // 86400} days after the "
                         f"algo's start: horizon too long")
    return ParentSpec(
        parent_id=order.order_id, side=order.side,
        quantity=order.leaves_qty if resume else order.quantity,
        strategy=order.strategy, start=start,
        end=order.expire_time, limit_price=order.price, urgency=order.urgency or Urgency.MEDIUM,
        participation_rate=order.participation_rate, max_floor=order.max_floor,
        min_clip=quantity("MinClip") or ZERO, max_clip=quantity("MaxClip"), post_only=post_only,
        venues_include=venues("includevenues") or venues("venues"),
        venues_exclude=venues("excludevenues"))


class AlgoRun:
    def __init__(self, order: ClientOrder, manager: "OrderManager", scheduler: BaseScheduler,
                 base_filled: Decimal = ZERO):
        self.order = order
        # filled before this scheduler took over (a resumed parent): the scheduler's quantities
        # are the parent's minus this
        self.base_filled = base_filled
        self.manager = manager
        self.scheduler = scheduler
        self._timer: asyncio.TimerHandle | None = None
        self._slices_done: set[str] = set()
        self._stopped = False

    @classmethod
    def build(cls, order: ClientOrder, manager: "OrderManager",
              inputs: "AlgoInputs | AlgoSettings | None" = None, *,
              resume: bool = False) -> "AlgoRun":
        """The scheduler for ``order``, with the volume profile (VWAP) and impact parameters
        (ARRIVAL) that ``inputs`` provides (plain AlgoSettings: neither). ``resume``: for
        what is left of a parent after a restart (see :func:`parent_spec`)."""
        now = manager.clock.now()
        spec = parent_spec(order, now, resume=resume)
        instrument = manager.market.instrument(order.symbol)
        settings, profile, impact = inputs, None, None
        if isinstance(inputs, AlgoInputs):
            settings = inputs.settings
            if spec.strategy is Strategy.VWAP:
                profile = inputs.volume_profile(order.symbol, manager.market)
            if spec.strategy is Strategy.ARRIVAL:
                impact = inputs.impact(order.symbol, order.side, manager.market)
        seed = f"{order.order_id}-resume-{order.cum_qty}" if resume else order.order_id
        scheduler = make_scheduler(spec, instrument, rng_seed=seed, settings=settings,
                                   volume_profile=profile, impact=impact)
        return cls(order, manager, scheduler, order.cum_qty if resume else ZERO)

    # -- lifecycle called by the manager ---------------------------------------------------------

    @property
    def done(self) -> bool:
        return self.scheduler.is_done

    def start(self) -> None:
        now = self.manager.clock.now()
        self._run(self.scheduler.on_start(now, self._snapshot(now)))

    def cancel(self) -> None:
        self._run(self.scheduler.cancel(self.manager.clock.now()))

    def replace(self, req) -> None:
        """A parent cancel/replace: new quantity, limit or end time, and StrategyParameter
        ``Pause=Y`` / ``Pause=N`` to pause (every child pulled) or resume the schedule."""
        now = self.manager.clock.now()
        pause = (req.param("Pause") or "").strip().upper()
        if pause and pause not in ("Y", "N"):
            raise ValueError(f"StrategyParameter Pause: expected Y or N, got '{pause}'")
        quantity = req.quantity - self.base_filled if req.quantity is not None else None
        if quantity is not None and quantity <= 0:
            raise ValueError(f"OrderQty(38)={req.quantity} is not above the filled "
                             f"{self.order.cum_qty}")
        self._run(self.scheduler.on_replace(now, self._snapshot(now), quantity=quantity,
                                            limit_price=req.price, end=req.expire_time))
        if pause == "Y":
            self._run(self.scheduler.pause(now))
        elif pause == "N":
            self._run(self.scheduler.resume(now, self._snapshot(now)))

    @property
    def paused(self) -> bool:
        return self.scheduler.status is SchedulerStatus.PAUSED

    def on_fill(self, slice_id: str | None, quantity: Decimal, price: Decimal) -> None:
        if slice_id is None:
            return
        self.scheduler.on_fill(slice_id, quantity, price, self.manager.clock.now())
        self._run([])

    def slice_done(self, slice_id: str, final_filled: Decimal | None = None) -> None:
        """Every venue order of the slice is terminal. ``final_filled`` (default: what the
        venues last reported as cumulative filled for the slice's orders) tells the scheduler
        about fills still in flight, so a fill arriving after a cancel ack cannot over-fill."""
        if slice_id in self._slices_done:
            return
        self._slices_done.add(slice_id)
        if final_filled is None:
            final_filled = self.manager.slice_venue_filled(self.order, slice_id)
        self.scheduler.on_child_done(slice_id, self.manager.clock.now(),
                                     final_filled=final_filled)
        self._run([])

    def stop(self) -> None:
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def terminal_event(self) -> OrderEvent:
        status = self.scheduler.status
        if status is SchedulerStatus.FILLED:
            return OrderEvent.FILL
        if status is SchedulerStatus.CANCELED:
            return OrderEvent.CANCELED
        return OrderEvent.DONE_FOR_DAY if self.order.tif is TimeInForce.DAY else OrderEvent.EXPIRE

    def terminal_text(self) -> str:
        status = self.scheduler.status
        if status is SchedulerStatus.EXPIRED:
            return "algo end time reached: remainder not executed"
        if status is SchedulerStatus.CANCELED:
            return "algo canceled"
        return "algo complete"

    # -- internals --------------------------------------------------------------------------------

    def _snapshot(self, now: float):
        return self.manager.market.snapshot(self.order.symbol, now)

    def _run(self, intents) -> None:
        for intent in intents:
            if isinstance(intent, ChildIntent):
                self.manager._spawn(self.manager._route(self.order, intent.quantity,
                                                        slice_intent=intent))
            elif isinstance(intent, CancelIntent):
                children = self.manager.slice_children(self.order, intent.child_id)
                for child in children:
                    self.manager._request_child_cancel(child)
                if not children:
                    # not placed yet (routing in flight): it is canceled as soon as it is
                    self._cancel_when_placed(intent.child_id)
        self._arm()
        if self.scheduler.is_done:
            self.manager._maybe_complete(self.order)

    def _cancel_when_placed(self, slice_id: str) -> None:
        loop = asyncio.get_running_loop()

        def retry(attempt: int = 0) -> None:
            children = self.manager.slice_children(self.order, slice_id)
            if children:
                for child in children:
                    self.manager._request_child_cancel(child)
            elif attempt < 50 and slice_id not in self._slices_done:
                loop.call_later(0.05, retry, attempt + 1)
        loop.call_later(0.05, retry)

    def _arm(self) -> None:
        if self._stopped:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        wake = self.scheduler.next_wakeup()
        if wake is None:
            return
        delay = max(0.0, self.manager._wall_seconds(wake - self.manager.clock.now()))
        self._timer = asyncio.get_running_loop().call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._stopped or self.order.terminal:
            return
        try:
            now = self.manager.clock.now()
            self._run(self.scheduler.on_timer(now, self._snapshot(now)))
        except Exception:
            log.exception("algo %s timer failed", self.order.order_id)
            self._arm_later(1.0)

    def _arm_later(self, seconds: float) -> None:
        if not self._stopped:
            self._timer = asyncio.get_running_loop().call_later(seconds, self._on_timer)
