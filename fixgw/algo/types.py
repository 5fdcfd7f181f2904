"""The boundary types between the OMS and the pure execution schedulers.

A scheduler never talks to a venue, a socket or a clock. The OMS (its host) feeds it the time,
market snapshots, child fills and child terminal states, and executes what it returns: a list of
:class:`ChildIntent` (send a child order through the smart order router and pre-trade risk) and
:class:`CancelIntent` (cancel a working child). Everything at this boundary is a frozen
dataclass; quantities and prices are :class:`~decimal.Decimal`. Times are float seconds since
the epoch, exactly what :meth:`fixgw.clock.Clock.now` returns (possibly scaled market time).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import Enum

from fixgw.domain import ZERO, Side, Strategy, TimeInForce, Urgency


@dataclass(frozen=True, slots=True)
class Instrument:
    """Trading increments of the symbol (the strictest across the venues the parent may use)."""

    symbol: str
    tick_size: Decimal
    lot_size: Decimal
    min_qty: Decimal = ZERO

    def floor_lot(self, qty: Decimal) -> Decimal:
        return (qty / self.lot_size).to_integral_value(rounding=ROUND_FLOOR) * self.lot_size

    def price_inside(self, price: Decimal, side: Side) -> Decimal:
        """Round a price to the tick on the side that never makes it more aggressive."""
        rounding = ROUND_FLOOR if side is Side.BUY else ROUND_CEILING
        return (price / self.tick_size).to_integral_value(rounding=rounding) * self.tick_size


@dataclass(frozen=True, slots=True)
class ParentSpec:
    """A parent (algo) order as accepted by the OMS; the FIX tag each field comes from in ().

    ``start``/``end`` are EffectiveTime(168)/ExpireTime(126) in epoch seconds. ``limit_price``
    (44) is a hard limit no child ever trades through. ``participation_rate`` (849) is the POV
    target and a volume cap for the other strategies. ``max_floor`` (111) is the iceberg display.
    ``min_clip``/``max_clip``/``post_only``/venue lists come from StrategyParametersGrp(957-960);
    the venue lists are not used by the schedulers (the SOR applies them) but travel with the
    parent so that the OMS has one object to read.
    """

    parent_id: str
    side: Side
    quantity: Decimal
    strategy: Strategy
    start: float
    end: float | None = None
    limit_price: Decimal | None = None
    urgency: Urgency = Urgency.MEDIUM
    participation_rate: Decimal | None = None
    max_floor: Decimal | None = None
    min_clip: Decimal = ZERO
    max_clip: Decimal | None = None
    post_only: bool = True
    venues_include: tuple[str, ...] = ()
    venues_exclude: tuple[str, ...] = ()


class ChildStyle(str, Enum):
    """How the OMS routes a child (SOR ``RouteRequest`` in brackets)."""

    PASSIVE = "passive"   # rests at the touch, never takes (passive=True; GTC, post-only)
    CROSS = "cross"       # takes now: IOC at the far touch plus a collar, capped by the limit
    LIMIT = "limit"       # a plain limit order: takes what is marketable at its price, rests the
    #                       rest (rest_remainder=True; GTC) - the iceberg display


@dataclass(frozen=True, slots=True)
class ChildIntent:
    """Send one child order. The OMS may split it across venues (SOR) but must attribute every
    resulting fill to ``child_id`` (``on_fill``) and report ``on_child_done`` once all of its
    venue orders are terminal."""

    child_id: str
    side: Side
    quantity: Decimal
    limit_price: Decimal
    style: ChildStyle
    tif: TimeInForce
    post_only: bool
    reason: str


@dataclass(frozen=True, slots=True)
class CancelIntent:
    child_id: str
    reason: str


Intent = ChildIntent | CancelIntent


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """Consolidated view of the symbol at ``time``.

    ``traded_volume`` is the cumulative market volume (all venues, our own fills included) since
    any fixed origin, ``traded_notional`` the same for price*quantity (interval VWAP for TCA):
    schedulers only use differences. ``volatility`` is the measured price
    volatility as a fraction per sqrt(second) (only ARRIVAL may use it).
    """

    time: float
    bid: Decimal | None
    ask: Decimal | None
    bid_size: Decimal = ZERO
    ask_size: Decimal = ZERO
    traded_volume: Decimal = ZERO
    traded_notional: Decimal = ZERO
    last_price: Decimal | None = None
    volatility: float | None = None

    @property
    def mid(self) -> Decimal | None:
        if self.bid is None or self.ask is None:
            return None
        return (self.bid + self.ask) / 2

    def near_touch(self, side: Side) -> Decimal | None:
        return self.bid if side is Side.BUY else self.ask

    def far_touch(self, side: Side) -> Decimal | None:
        return self.ask if side is Side.BUY else self.bid


class SchedulerStatus(str, Enum):
    WAITING = "waiting"       # before start (168)
    WORKING = "working"
    PAUSED = "paused"
    FINISHING = "finishing"   # end reached or parent canceled: waiting for children to finish
    FILLED = "filled"         # terminal: the whole quantity is done
    EXPIRED = "expired"       # terminal: end time passed with a remainder (OMS: Expired or DoneForDay)
    CANCELED = "canceled"     # terminal: the parent was canceled

    @property
    def terminal(self) -> bool:
        return self in (SchedulerStatus.FILLED, SchedulerStatus.EXPIRED, SchedulerStatus.CANCELED)


@dataclass(frozen=True, slots=True)
class AlgoSettings:
    """Tuning knobs shared by the strategies (defaults are sane for minutes-long schedules).

    slice_seconds: target spacing of schedule points (TWAP/VWAP/ARRIVAL).
    min_slices: at least this many points, however short the horizon.
    timing_jitter / size_jitter: fraction of a slice by which TWAP randomises each point.
    refresh_seconds: a passive child older than this, or no longer at the touch, is replaced.
    cross_collar_bps: how far beyond the far touch a crossing child may walk (then capped by 44).
    final_window_fraction: the last part of the horizon kept free to finish by crossing.
    pov_band: POV keeps its fill within rate*(1 +/- band) of the volume.
    poll_seconds: upper bound on the time between two wake-ups while working, and the minimum
        time between two crossing children (both at most 1/50 of the horizon).
    trace_seconds: spacing of the market/progress samples kept for TCA and charts (at most
        1/100 of the horizon, so that a short order still has a useful trace).
    max_slices: most schedule points one plan may hold; a horizon (or min_slices) that would need
        more is refused with ParentRejected, because every point is kept in memory and walked.
    passive_first: work the next slice passively at the touch before crossing (default); False
        crosses each slice when it falls due, exactly the execution Almgren-Chriss models.
    """

    slice_seconds: float = 30.0
    min_slices: int = 5
    max_slices: int = 25_000     # 7 days (the OMS limit) of 30 s slices is 20 160
    timing_jitter: float = 0.2
    size_jitter: float = 0.2
    refresh_seconds: float = 15.0
    cross_collar_bps: Decimal = Decimal(50)
    final_window_fraction: float = 0.05
    pov_band: Decimal = Decimal("0.2")
    poll_seconds: float = 1.0
    trace_seconds: float = 5.0
    passive_first: bool = True
    risk_aversion_bps: dict[Urgency, float] = field(default_factory=lambda: {
        Urgency.LOW: 0.001, Urgency.MEDIUM: 0.01, Urgency.HIGH: 0.1})


@dataclass(frozen=True, slots=True)
class MarketSample:
    """One point of a parent's execution trace: market state and progress at ``time``."""

    time: float
    mid: Decimal | None
    traded_volume: Decimal
    traded_notional: Decimal
    filled: Decimal
    planned: Decimal | None     # the schedule's cumulative target (None: event-driven strategy)


@dataclass(frozen=True, slots=True)
class TraceFill:
    time: float
    child_id: str
    quantity: Decimal
    price: Decimal


@dataclass(frozen=True, slots=True)
class ExecutionTrace:
    """What TCA needs beyond the journal: market path, schedule and fills of one parent."""

    parent_id: str
    strategy: Strategy
    arrival_mid: Decimal | None
    samples: tuple[MarketSample, ...]
    fills: tuple[TraceFill, ...]
