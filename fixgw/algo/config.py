"""The ``algos:`` section of the gateway YAML -> :class:`AlgoConfig` (validated once).

```yaml
algos:
  slice_seconds: 30          # any AlgoSettings field, by name
  cross_collar_bps: 50
  risk_aversion_bps: {LOW: 0.001, MEDIUM: 0.01, HIGH: 0.1}
  volume_profile: {weights: [3, 2, 1, 1, 2, 3], period_seconds: 86400, origin: 0}
```

Errors name the key and the bad value: ``algos.slice_seconds: must be > 0, got -1``.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

from fixgw.algo.types import AlgoSettings
from fixgw.algo.vwap import VolumeProfile
from fixgw.domain import Urgency


@dataclass(frozen=True)
class AlgoConfig:
    settings: AlgoSettings
    volume_profile: VolumeProfile | None = None


_POSITIVE = {"slice_seconds", "refresh_seconds", "poll_seconds", "trace_seconds"}
_FRACTIONS = {"timing_jitter", "size_jitter", "final_window_fraction"}


def parse_algo_config(raw: Mapping[str, Any] | None, where: str = "algos") -> AlgoConfig:
    raw = dict(raw or {})
    known = {f.name for f in fields(AlgoSettings)} | {"volume_profile"}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(known)}")
    settings = AlgoSettings()
    changes: dict[str, Any] = {}
    for key, value in raw.items():
        name = f"{where}.{key}"
        if key == "volume_profile":
            continue
        if key == "risk_aversion_bps":
            if not isinstance(value, Mapping):
                raise ValueError(f"{name}: expected a mapping LOW/MEDIUM/HIGH -> number, got {value!r}")
            table = dict(settings.risk_aversion_bps)
            for u, v in value.items():
                try:
                    table[Urgency(str(u).upper())] = _number(v, f"{name}.{u}", minimum=0.0)
                except ValueError as e:
                    raise ValueError(str(e) if str(u).upper() in Urgency.__members__
                                     else f"{name}: unknown urgency {u!r}") from None
            changes[key] = table
        elif key in ("min_slices", "max_slices"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")
            changes[key] = value
        elif key == "passive_first":
            if not isinstance(value, bool):
                raise ValueError(f"{name}: expected true or false, got {value!r}")
            changes[key] = value
        elif key in ("cross_collar_bps", "pov_band"):
            try:
                d = Decimal(str(value))
            except InvalidOperation:
                raise ValueError(f"{name}: expected a number, got {value!r}") from None
            if not d.is_finite() or d < 0:
                raise ValueError(f"{name}: must be >= 0, got {value!r}")
            changes[key] = d
        else:
            v = _number(value, name, minimum=0.0)
            if key in _POSITIVE and v <= 0:
                raise ValueError(f"{name}: must be > 0, got {value!r}")
            if key in _FRACTIONS and not v < 0.5 + (key == "final_window_fraction") * 0.5:
                raise ValueError(f"{name}: must be below {0.5 if key != 'final_window_fraction' else 1}, "
                                 f"got {value!r}")
            changes[key] = v
    profile = None
    if raw.get("volume_profile") is not None:
        profile = _profile(raw["volume_profile"], f"{where}.volume_profile")
    return AlgoConfig(replace(settings, **changes), profile)


def _number(value: Any, name: str, minimum: float) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number, got {value!r}") from None
    if not (v == v and abs(v) != float("inf")) or v < minimum:
        raise ValueError(f"{name}: must be a finite number >= {minimum:g}, got {value!r}")
    return v


def _profile(raw: Any, name: str) -> VolumeProfile:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{name}: expected a mapping with weights, got {raw!r}")
    unknown = set(raw) - {"weights", "period_seconds", "origin"}
    if unknown:
        raise ValueError(f"{name}: unknown key(s) {sorted(unknown)}")
    weights = raw.get("weights")
    if not isinstance(weights, (list, tuple)) or not weights:
        raise ValueError(f"{name}.weights: expected a non-empty list of numbers, got {weights!r}")
    ws = tuple(_number(w, f"{name}.weights[{i}]", 0.0) for i, w in enumerate(weights))
    period = _number(raw.get("period_seconds", 86_400.0), f"{name}.period_seconds", 0.0)
    if period <= 0:
        raise ValueError(f"{name}.period_seconds: must be > 0, got {period!r}")
    try:
        return VolumeProfile(ws, period, _number(raw.get("origin", 0.0), f"{name}.origin", 0.0))
    except ValueError as e:
        raise ValueError(f"{name}: {e}") from None
