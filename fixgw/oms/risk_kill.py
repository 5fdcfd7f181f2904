"""The kill switch: block every new order, then cancel everything open at every venue.

:class:`KillSwitch` is what the admin channel (``fixgw kill``) and an OrderMassCancelRequest
for everything call. :class:`KillSwitchController` implements it from the risk engine's kill
state and one coroutine the OMS supplies that cancels all open orders and says what it
cancelled, so the OMS wires it in one line::

    kill_switch = KillSwitchController(risk, cancel_all=oms.cancel_everything)

Ordering matters: the switch is engaged *before* the cancels go out, so no order can slip in
between the cancel sweep and the block.
"""
from __future__ import annotations

import datetime as _dt
import inspect
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping, Protocol

from fixgw.oms.risk import RiskEngine


@dataclass(frozen=True, slots=True)
class KillReport:
    """What one kill cancelled. Venue order ids are our client order ids of the children."""

    engaged: bool = True
    cancelled: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # venue -> order ids
    failed: Mapping[str, Mapping[str, str]] = field(default_factory=dict)   # venue -> id -> why
    parents: tuple[str, ...] = ()  # client orders (ClOrdID) reported canceled upstream

    @property
    def cancelled_count(self) -> int:
        return sum(len(ids) for ids in self.cancelled.values())

    def to_dict(self) -> dict[str, Any]:
        return {"engaged": self.engaged,
                "cancelled": {v: list(ids) for v, ids in self.cancelled.items()},
                "failed": {v: dict(errs) for v, errs in self.failed.items()},
                "parents": list(self.parents)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "KillReport":
        return cls(engaged=bool(data.get("engaged", True)),
                   cancelled={str(v): tuple(map(str, ids))
                              for v, ids in (data.get("cancelled") or {}).items()},
                   failed={str(v): {str(k): str(e) for k, e in errs.items()}
                           for v, errs in (data.get("failed") or {}).items()},
                   parents=tuple(map(str, data.get("parents") or ())))


@dataclass(frozen=True, slots=True)
class KillStatus:
    engaged: bool
    reason: str | None = None
    since: str | None = None  # ISO-8601 UTC

    def to_dict(self) -> dict[str, Any]:
        return {"engaged": self.engaged, "reason": self.reason, "since": self.since}


class KillSwitch(Protocol):
    async def engage(self, reason: str) -> KillReport:
        """Block new orders, cancel every open order at every venue, report what was cancelled."""

    async def release(self) -> KillStatus: ...

    def status(self) -> KillStatus: ...


CancelAll = Callable[[], Awaitable[KillReport]]


class KillSwitchController:
    """KillSwitch over a :class:`RiskEngine` (the block) and the OMS's cancel-everything."""

    def __init__(self, risk: RiskEngine, cancel_all: CancelAll,
                 on_release: Callable[[], Any] | None = None):
        self._risk = risk
        self._cancel_all = cancel_all
        self._on_release = on_release

    async def engage(self, reason: str) -> KillReport:
        self._risk.engage_kill_switch(reason)
        return await self._cancel_all()

    async def release(self) -> KillStatus:
        self._risk.release_kill_switch()
        if self._on_release is not None:
            result = self._on_release()
            if inspect.isawaitable(result):
                await result
        return self.status()

    def status(self) -> KillStatus:
        state = self._risk.kill_switch
        since = None
        if state.since is not None:
            since = _dt.datetime.fromtimestamp(state.since, _dt.timezone.utc).strftime(
                "%Y-%m-%dT%H:%M:%SZ")
        return KillStatus(engaged=state.engaged, reason=state.reason, since=since)
