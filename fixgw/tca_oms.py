"""The OMS's ``tca`` hook: TargetStrategyPerformance(850) and the saved execution trace.

``OrderManager(tca=OmsTca(TcaStore(database_path)))``: when an algo parent reaches a terminal
state the manager calls ``tca(order, manager)``; this returns the implementation shortfall in
bps (2 decimals) for tag 850 and stores the scheduler's execution trace for ``fixgw tca``.
"""
from __future__ import annotations

import logging
from decimal import Decimal

from fixgw.tca_math import implementation_shortfall
from fixgw.tca_store import TcaStore

log = logging.getLogger(__name__)
CENT = Decimal("0.01")


class OmsTca:
    def __init__(self, store: TcaStore | None = None):
        self.store = store

    def __call__(self, order, manager) -> Decimal | None:
        """The parent just ended: save the scheduler's trace, return the 850 value."""
        scheduler = self._scheduler(order, manager)
        if self.store is not None and scheduler is not None:
            try:
                final = manager.market.snapshot(order.symbol, manager.clock.now())
                self.store.save_trace(order.order_id, scheduler.trace(final))
            except Exception:       # TCA must never disturb the order path
                log.exception("could not save the execution trace of %s", order.order_id)
        return self.shortfall(order, manager)

    def shortfall(self, order, manager) -> Decimal | None:
        """The 850 value from the order record alone, no trace saved: what a late fill (booked
        after the parent ended) recomputes. The scheduler, if still in memory, has stopped and
        does not see that fill, so saving its trace again would only record a stale one.
        None when no arrival price is known."""
        now = manager.clock.now()
        scheduler = self._scheduler(order, manager)
        arrival = order.arrival_price or getattr(scheduler, "arrival_mid", None)
        if arrival is None or arrival <= 0:
            return None
        end_price = None
        if order.cum_qty < order.quantity:
            # the opportunity cost is priced at the mid now: at the end of the order, or for
            # a late fill (fixgw/oms/execution.py) at that fill, the end mid not being kept
            end_price = manager.market.snapshot(order.symbol, now).mid or arrival
        avg = order.notional / order.cum_qty if order.cum_qty else None
        shortfall = implementation_shortfall(order.side, order.quantity, order.cum_qty, avg,
                                             arrival, end_price, order.fees)
        return shortfall.total_bps.quantize(CENT)

    @staticmethod
    def _scheduler(order, manager):
        runtime = getattr(manager, "runtime", {}).get(order.order_id)
        return getattr(getattr(runtime, "algo", None), "scheduler", None)
