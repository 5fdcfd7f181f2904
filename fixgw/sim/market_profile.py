"""The intraday volume profile that background traders follow.

VWAP needs a volume curve that is not flat, and POV needs volume that prints when the curve
says so; both are only meaningful if the simulator's flow actually follows a known profile.
The profile is a piecewise-constant weight per bucket of a repeating period (a "day"), with
mean weight 1, so that ``rate * weight_at(t)`` is the instantaneous volume rate and ``rate``
the average one. The default is U-shaped (busy at the open and the close of the period), the
shape equity VWAP algorithms are built around.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence


@dataclass(frozen=True, slots=True)
class VolumeProfile:
    weights: tuple[float, ...]       # one per bucket, mean 1
    period_seconds: float = 86_400.0
    origin: float = 0.0              # epoch seconds where a period starts (0 = UTC midnight)

    def __post_init__(self) -> None:
        if not self.weights:
            raise ValueError("volume profile: weights must not be empty")
        if any(w < 0 or not math.isfinite(w) for w in self.weights):
            raise ValueError(f"volume profile: weights must be finite and >= 0, got {self.weights!r}")
        if sum(self.weights) <= 0:
            raise ValueError("volume profile: at least one weight must be positive")
        if not (self.period_seconds > 0):
            raise ValueError(f"volume profile: period_seconds must be > 0, got {self.period_seconds!r}")

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def normalized(cls, weights: Sequence[float], period_seconds: float = 86_400.0,
                   origin: float = 0.0) -> "VolumeProfile":
        """Scale ``weights`` to mean 1 (so the configured volume rate is the average rate)."""
        ws = [float(w) for w in weights]
        if not ws or sum(ws) <= 0:
            raise ValueError(f"volume profile: weights must have a positive sum, got {ws!r}")
        mean = sum(ws) / len(ws)
        return cls(tuple(w / mean for w in ws), float(period_seconds), float(origin))

    @classmethod
    def flat(cls, period_seconds: float = 86_400.0, origin: float = 0.0) -> "VolumeProfile":
        return cls((1.0,), float(period_seconds), float(origin))

    @classmethod
    def u_shaped(cls, buckets: int = 24, edge_ratio: float = 3.0,
                 period_seconds: float = 86_400.0, origin: float = 0.0) -> "VolumeProfile":
        """A parabola over the period: the first and last buckets carry ``edge_ratio`` times
        the volume of the quietest (middle) one."""
        if buckets < 1:
            raise ValueError(f"volume profile: buckets must be >= 1, got {buckets}")
        if edge_ratio < 1:
            raise ValueError(f"volume profile: edge_ratio must be >= 1, got {edge_ratio}")
        dist = [((i + 0.5) / buckets - 0.5) ** 2 for i in range(buckets)]   # bucket centres
        lo, hi = min(dist), max(dist)
        raw = [1.0 + (edge_ratio - 1.0) * (d - lo) / (hi - lo) if hi > lo else 1.0 for d in dist]
        return cls.normalized(raw, period_seconds, origin)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None) -> "VolumeProfile":
        """``{shape: u|flat, buckets, edge_ratio, period_seconds, origin}`` or
        ``{weights: [...], period_seconds, origin}``."""
        cfg = dict(cfg or {})
        known = {"shape", "buckets", "edge_ratio", "period_seconds", "origin", "weights"}
        unknown = set(cfg) - known
        if unknown:
            raise ValueError(f"volume_profile: unknown key(s) {sorted(unknown)}; known: {sorted(known)}")
        period = float(cfg.get("period_seconds", 86_400.0))
        origin = float(cfg.get("origin", 0.0))
        if "weights" in cfg:
            return cls.normalized(cfg["weights"], period, origin)
        shape = str(cfg.get("shape", "u")).lower()
        if shape == "flat":
            return cls.flat(period, origin)
        if shape in ("u", "u_shaped", "u-shaped"):
            return cls.u_shaped(int(cfg.get("buckets", 24)), float(cfg.get("edge_ratio", 3.0)),
                                period, origin)
        raise ValueError(f"volume_profile.shape: expected 'u', 'flat' or weights, got {shape!r}")

    # -- queries ------------------------------------------------------------------------------
    @property
    def bucket_seconds(self) -> float:
        return self.period_seconds / len(self.weights)

    def phase(self, t: float) -> float:
        """Position of ``t`` within its period, in [0, 1)."""
        return ((t - self.origin) % self.period_seconds) / self.period_seconds

    def weight_at(self, t: float) -> float:
        i = int(self.phase(t) * len(self.weights))
        return self.weights[min(i, len(self.weights) - 1)]

    def integral(self, t0: float, t1: float) -> float:
        """Integral of the weight over [t0, t1] in seconds (mean-1 weights: ~ t1 - t0)."""
        if t1 <= t0:
            return 0.0
        n = len(self.weights)
        width = self.bucket_seconds
        full_periods, rest = divmod(t1 - t0, self.period_seconds)
        total = full_periods * self.period_seconds     # mean weight is 1
        t = t0
        end = t0 + rest
        while t < end - 1e-12:
            i = min(int(self.phase(t) * n), n - 1)
            # end of the bucket that contains t
            start_of_period = t - self.phase(t) * self.period_seconds
            bucket_end = start_of_period + (i + 1) * width
            seg_end = min(end, bucket_end if bucket_end > t else t + width)
            total += self.weights[i] * (seg_end - t)
            t = seg_end
        return total

    def fractions(self, t0: float, t1: float, slices: int) -> list[float]:
        """Expected share of [t0, t1]'s volume falling in each of ``slices`` equal intervals
        (what a VWAP scheduler needs); sums to 1."""
        if slices < 1 or t1 <= t0:
            raise ValueError(f"fractions: need slices >= 1 and t1 > t0, got {slices}, {t0}, {t1}")
        step = (t1 - t0) / slices
        parts = [self.integral(t0 + i * step, t0 + (i + 1) * step) for i in range(slices)]
        total = sum(parts)
        if total <= 0:
            return [1.0 / slices] * slices
        return [p / total for p in parts]
