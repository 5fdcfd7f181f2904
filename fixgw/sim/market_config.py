"""The simulated-venues config file (``sessions/venues.yaml``): load, validate, override.

One document describes every simulated venue of a ``fixgw sim`` process and the market model
they share::

    seed: 42                 # market model seed (same seed, same exogenous prices and flow)
    time_scale: 1            # market seconds per wall second (60: an hour in a minute)
    host: 127.0.0.1
    port_base: 0             # 0: free ports; N: venue i listens on N + i
    market: {...}            # the model: fixgw.sim.market_params (step_seconds,
                             #   volume_profile, symbols.<unified symbol>.<parameter>)
    venues:                  # one VenueSpec each (fixgw.sim.spec.venue_from_dict), plus
      - name: simA           #   market: {liquidity_scale, volume_scale, symbols: {...}}
        ...

Secrets never live here: demo credentials are generated per run (or read from the variables
named by ``api_key_env`` / ``api_secret_env``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

import yaml

from fixgw.sim.market import MarketModelFactory, MarketWorld, venue_markets
from fixgw.sim.market_params import market_params
from fixgw.sim.spec import VenueSpec, venue_from_dict

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "sessions" / "venues.yaml"
TOP_KEYS = frozenset({"seed", "time_scale", "host", "port_base", "market", "venues"})
#: model resolution in wall seconds: at time scale S one model step covers 0.1 * S market seconds
WALL_STEP_SECONDS = 0.1


@dataclass(frozen=True)
class SimConfig:
    path: Path | None
    seed: int
    time_scale: float
    host: str
    port_base: int
    market: Mapping[str, Any]
    venues: tuple[VenueSpec, ...]

    @property
    def step_seconds(self) -> float:
        """Market seconds per model step: ``market.step_seconds`` if set, else 0.1 s of wall
        time (so compressed time does not multiply the engine's work)."""
        explicit = self.market.get("step_seconds")
        return float(explicit) if explicit is not None else WALL_STEP_SECONDS * max(1.0, self.time_scale)

    def model_factory(self, world: MarketWorld | None = None) -> MarketModelFactory:
        """The ``model_factory`` to hand to ``start_venue`` for every venue of this config
        (one factory: the venues share one world, so impact on one moves all)."""
        return MarketModelFactory(self.market, seed=self.seed, step_seconds=self.step_seconds,
                                  world=world)

    def venue(self, name: str) -> VenueSpec:
        for v in self.venues:
            if v.name == name:
                return v
        raise KeyError(f"no simulated venue {name!r}; have {[v.name for v in self.venues]}")


def _number(value: Any, where: str, kind: type) -> Any:
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: expected {kind.__name__}, got {value!r}") from None


def sim_config_from_dict(doc: Mapping[str, Any], *, path: Path | None = None,
                         seed: int | None = None, time_scale: float | None = None,
                         port_base: int | None = None, host: str | None = None,
                         env: Mapping[str, str] | None = None) -> SimConfig:
    """Validate a parsed document; keyword arguments override it (command-line options)."""
    where = str(path) if path else "venues config"
    if not isinstance(doc, Mapping):
        raise ValueError(f"{where}: expected a mapping at the top level, got {type(doc).__name__}")
    unknown = set(doc) - TOP_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(TOP_KEYS)}")
    seed = seed if seed is not None else _number(doc.get("seed", 1), f"{where}: seed", int)
    scale = time_scale if time_scale is not None else _number(doc.get("time_scale", 1.0),
                                                              f"{where}: time_scale", float)
    if not (scale > 0):
        raise ValueError(f"{where}: time_scale must be > 0, got {scale!r}")
    base = port_base if port_base is not None else _number(doc.get("port_base", 0),
                                                          f"{where}: port_base", int)
    if not 0 <= base <= 65535:
        raise ValueError(f"{where}: port_base must be 0..65535, got {base}")
    host = host or str(doc.get("host", "127.0.0.1"))
    market = doc.get("market") or {}
    if not isinstance(market, Mapping):
        raise ValueError(f"{where}: market must be a mapping, got {market!r}")
    raw_venues = doc.get("venues")
    if not raw_venues or not isinstance(raw_venues, list):
        raise ValueError(f"{where}: venues must be a non-empty list")
    specs: list[VenueSpec] = []
    for i, raw in enumerate(raw_venues):
        if not isinstance(raw, Mapping):
            raise ValueError(f"{where}: venues[{i}] must be a mapping, got {raw!r}")
        spec = venue_from_dict(raw, env=env, where=f"{where}: venues[{i}]")
        if "host" not in raw:
            spec = replace(spec, host=host)
        if base and "port" not in raw:
            spec = spec.with_port(base + i)
        specs.append(spec)
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"{where}: venue names must be unique, got {names}")
    config = SimConfig(path=path, seed=int(seed), time_scale=float(scale), host=host,
                       port_base=int(base), market=dict(market), venues=tuple(specs))
    # build every venue's model parameters once now, so a bad value fails at load time
    for spec in specs:
        market_params(config.market, spec.market, venue_markets(spec), seed=config.seed,
                      price_offset_bps=float(spec.price_offset_bps), step_seconds=config.step_seconds)
    return config


def default_config_path() -> Path:
    """``sessions/venues.yaml`` of the working directory if there is one, else the one that
    ships beside the package (a source checkout / editable install)."""
    local = Path.cwd() / "sessions" / "venues.yaml"
    return local if local.is_file() else DEFAULT_CONFIG


def load_sim_config(path: str | os.PathLike | None = None, **overrides: Any) -> SimConfig:
    """Read and validate a venues config (default: ``sessions/venues.yaml``)."""
    p = Path(path) if path else default_config_path()
    try:
        text = p.read_text()
    except OSError as exc:
        raise ValueError(f"{p}: cannot read venues config: {exc.strerror}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{p}: invalid YAML: {exc}") from None
    return sim_config_from_dict(doc or {}, path=p, **overrides)
