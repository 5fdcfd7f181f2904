"""Build venue adapters and the router from config: the OMS-facing entry points."""
from __future__ import annotations

import asyncio
from typing import Any, Iterable, Mapping

from fixgw.clock import Clock
from fixgw.routing.sor import SmartOrderRouter, VenueRules
from fixgw.venues.ccxt_adapter import CcxtVenueAdapter
from fixgw.venues.config import VenueConfig, venue_configs_from_mapping


def build_venues(config: Mapping[str, Any] | Iterable[VenueConfig], *, clock: Clock | None = None,
                 environ: Mapping[str, str] | None = None) -> dict[str, CcxtVenueAdapter]:
    """Adapters (not yet connected) from the YAML ``venues:`` section, the whole document
    (which has a ``venues:`` key), or already-built :class:`VenueConfig` objects."""
    if isinstance(config, Mapping):
        section = config.get("venues", config) if "venues" in config else config
        configs = list(venue_configs_from_mapping(section).values())
    else:
        configs = list(config)
    env = dict(environ) if environ is not None else None
    return {c.name: CcxtVenueAdapter(c, clock=clock, environ=env) for c in configs}


async def connect_all(adapters: Mapping[str, CcxtVenueAdapter]) -> None:
    await asyncio.gather(*(a.connect() for a in adapters.values()))


async def close_all(adapters: Mapping[str, CcxtVenueAdapter]) -> None:
    await asyncio.gather(*(a.close() for a in adapters.values()), return_exceptions=True)


def build_router(adapters: Mapping[str, CcxtVenueAdapter], *, include: Iterable[str] | None = None,
                 exclude: Iterable[str] = ()) -> SmartOrderRouter:
    """A router that knows each connected venue's lot size / min qty / min notional per symbol
    (from the venue's exchangeInfo); ``include``/``exclude`` are the config-level venue lists."""
    rules: dict[str, VenueRules] = {}
    for name, adapter in adapters.items():
        for symbol in adapter.symbols:
            try:
                rules[f"{name}|{symbol}"] = adapter.market_rules(symbol)
            except Exception:
                continue
    return SmartOrderRouter(rules, include=include, exclude=exclude)
