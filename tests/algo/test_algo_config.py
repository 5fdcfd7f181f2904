"""The algos: config section: values applied, bad values named."""
from __future__ import annotations

from decimal import Decimal

import pytest

from fixgw.algo.config import parse_algo_config
from fixgw.domain import Urgency


def test_defaults_and_overrides():
    assert parse_algo_config(None).settings.slice_seconds == 30.0
    cfg = parse_algo_config({"slice_seconds": 10, "cross_collar_bps": "25", "passive_first": False,
                             "risk_aversion_bps": {"high": 1.0},
                             "volume_profile": {"weights": [3, 1], "period_seconds": 600}})
    assert cfg.settings.slice_seconds == 10.0 and cfg.settings.cross_collar_bps == Decimal(25)
    assert cfg.settings.passive_first is False
    assert parse_algo_config({"max_slices": 50}).settings.max_slices == 50
    assert cfg.settings.risk_aversion_bps[Urgency.HIGH] == 1.0
    assert cfg.settings.risk_aversion_bps[Urgency.LOW] == 0.001
    assert cfg.volume_profile.integral(0, 300) == 900.0


@pytest.mark.parametrize("raw, message", [
    ({"slice_secs": 1}, r"algos: unknown key\(s\) \['slice_secs'\]"),
    ({"slice_seconds": -1}, r"algos.slice_seconds: must be"),
    ({"slice_seconds": "abc"}, r"algos.slice_seconds: expected a number, got 'abc'"),
    ({"timing_jitter": 0.7}, r"algos.timing_jitter: must be below 0.5"),
    ({"max_slices": 0}, r"algos.max_slices: expected an integer >= 1, got 0"),
    ({"passive_first": "yes"}, r"algos.passive_first: expected true or false"),
    ({"risk_aversion_bps": {"EXTREME": 1}}, r"unknown urgency 'EXTREME'"),
    ({"volume_profile": {"weights": []}}, r"algos.volume_profile.weights"),
    ({"volume_profile": {"weights": [0, 0]}}, r"algos.volume_profile: .*not all 0"),
])
def test_bad_values_are_named(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_algo_config(raw)
