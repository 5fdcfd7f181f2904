"""TCA formulas against hand-computed numbers."""
from __future__ import annotations

import math
from decimal import Decimal as D

import pytest

from fixgw.algo import almgren_chriss as ac
from fixgw.domain import Side
from fixgw.tca_math import (implementation_shortfall, interval_vwap, participation,
                            schedule_deviation, slippage_bps)


def test_shortfall_parts_for_a_partly_filled_buy():
    # buy 10 @ arrival 100; 8 filled at 100.05; the rest priced at the end 100.20; 0.4 fees
    s = implementation_shortfall(Side.BUY, D(10), D(8), D("100.05"), D(100), D("100.20"), D("0.4"))
    assert s.execution_bps == D("4")          # 5 bps on 80 % of the order
    assert s.opportunity_bps == D("4")        # 20 bps on the missing 20 %
    assert s.fees_bps == D("4")               # 0.4 / 1000 notional
    assert s.total_bps == D("12")


def test_shortfall_sign_for_sells_and_full_fill():
    s = implementation_shortfall(Side.SELL, D(10), D(10), D("99.9"), D(100))
    assert s.total_bps == D("10") and s.opportunity_bps == 0
    better = implementation_shortfall(Side.SELL, D(2), D(2), D("100.3"), D(100))
    assert better.total_bps == D("-30")


def test_shortfall_rejects_bad_input_with_a_clear_message():
    with pytest.raises(ValueError, match="end_price"):
        implementation_shortfall(Side.BUY, D(10), D(5), D(100), D(100))
    with pytest.raises(ValueError, match="arrival"):
        implementation_shortfall(Side.BUY, D(10), D(10), D(100), D(0))


def test_interval_vwap_slippage_and_participation():
    vwap = interval_vwap(D(100), D(10000), D(150), D(15005))
    assert vwap == D("100.1")
    assert slippage_bps(Side.BUY, D("100.05"), vwap) == (D("-0.05") / D("100.1") * 10000)
    assert slippage_bps(Side.SELL, D("100.05"), vwap) > 0
    assert interval_vwap(D(1), D(1), D(1), D(1)) is None
    assert interval_vwap(D(1), D(0), D(5), D(0)) is None     # volume but no notional reported
    assert participation(D(5), D(50)) == D("0.1")
    assert participation(D(5), D(0)) is None


def test_schedule_deviation_mean_and_max():
    mean, mx = schedule_deviation(D(10), [(D(0), D(0)), (D(1), D(2)), (D(5), D(4)), (D(7), D(10))])
    assert mean == (D(0) + D("0.1") + D("0.1") + D("0.3")) / 4
    assert mx == D("0.3")


def test_almgren_chriss_cost_and_variance_by_hand():
    # two slices, kappa=0 (linear): holdings 10, 5, 0; tau = 30
    p = ac.ACParams(sigma=2.0, eta=3.0, gamma=0.1, epsilon=0.5)
    holdings = ac.trajectory(10, 60, 2, 0.0)
    assert holdings == [10, 5, 0]
    eta_t = 3.0 - 0.5 * 0.1 * 30                   # 1.5
    expected = 0.5 * 0.1 * 100 + 0.5 * 10 + eta_t / 30 * (25 + 25)
    assert math.isclose(ac.expected_cost(holdings, 30, p), expected)
    assert math.isclose(ac.variance(holdings, 30, p), 4 * 30 * 25)
    est = ac.estimate_for_kappa(10, 100, 60, 2, p, 0.0)
    assert math.isclose(est.expected_cost_bps, expected / 1000 * 1e4)
    assert math.isclose(est.std_bps, math.sqrt(3000) / 1000 * 1e4)


def test_almgren_chriss_kappa_and_trajectory_shape():
    p = ac.ACParams(sigma=1.0, eta=10.0)
    lam = 0.4
    k = ac.kappa(lam, p, 1e-6)
    assert math.isclose(k, math.sqrt(lam / 10), rel_tol=1e-6)       # continuous limit
    x = ac.trajectory(100, 100, 4, k)
    assert x[0] == 100 and abs(x[-1]) < 1e-9
    assert all(a > b for a, b in zip(x, x[1:]))
    # front-loaded: more than the linear quarter done after the first slice
    assert x[1] < 75
    # more risk aversion: higher kappa, lower variance, higher cost
    lo = ac.estimate(10, 100, 600, 20, ac.ACParams(0.5, 50, 0, 0.01), 0.001)
    hi = ac.estimate(10, 100, 600, 20, ac.ACParams(0.5, 50, 0, 0.01), 0.1)
    assert hi.kappa > lo.kappa and hi.std_bps < lo.std_bps and hi.expected_cost > lo.expected_cost
    assert ac.remaining_fraction(300, 600, 1.0) < 1e-100          # overflow-safe
    assert ac.remaining_fraction(0, 600, 1.0) == 1.0


def test_discrete_impact_with_resilience_matches_the_ladder_formula():
    p = ac.ACParams(sigma=1, eta=2 / (0.25 * 0.5), resilience_rate=0.5)
    tau = 10.0
    ladder = 2 / (2 * 0.25) * tau / math.tanh(0.5 * tau / 2)
    assert math.isclose(p.eta_for_interval(tau), ladder)
