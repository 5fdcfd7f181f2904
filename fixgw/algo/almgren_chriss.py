"""Almgren-Chriss (2000) optimal liquidation: trajectory, expected cost and variance.

This is model mathematics, so it uses floats; the schedulers turn its output into Decimal
quantities rounded to the lot (the sum of slices still equals the order quantity exactly).

Units (all in the quote currency of the symbol, time in seconds, quantity in base units):
  sigma    price volatility, price per sqrt(second)   (arithmetic Brownian motion)
  eta      temporary impact, price per (quantity/second): trading at rate v costs eta*v per unit
  gamma    permanent impact, price per quantity traded
  epsilon  fixed cost per unit traded (half the spread plus the taker fee), price
  resilience_rate  optional (1/second): for a book that refills exponentially (the simulator's
           Obizhaeva-Wang ladder) the temporary impact of one trade every tau seconds is
           eta * x / tanh(x) with x = rate*tau/2 (-> eta as tau -> 0); 0 means plain AC.
Risk aversion is given unit-free, in 1/bps: the objective is E[C_bps] + lambda_bps*Var[C_bps]
where C_bps is the cost in basis points of the arrival notional; :func:`absolute_risk_aversion`
converts it to the model's 1/currency.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ACParams:
    sigma: float
    eta: float
    gamma: float = 0.0
    epsilon: float = 0.0
    resilience_rate: float = 0.0

    @classmethod
    def from_model(cls, params: object) -> "ACParams":
        """From any object with sigma/eta/gamma/epsilon (and optionally resilience_rate)
        attributes, e.g. the simulator's ``MarketParams.almgren_chriss(symbol)``."""
        return cls(sigma=float(params.sigma), eta=float(params.eta),  # type: ignore[attr-defined]
                   gamma=float(params.gamma), epsilon=float(params.epsilon),  # type: ignore[attr-defined]
                   resilience_rate=float(getattr(params, "resilience_rate", 0.0) or 0.0))

    def eta_for_interval(self, tau: float) -> float:
        if self.resilience_rate <= 0 or tau <= 0:
            return self.eta
        x = self.resilience_rate * tau / 2
        return self.eta * x / math.tanh(x)

    def __post_init__(self) -> None:
        if self.sigma < 0 or self.eta <= 0 or self.gamma < 0 or self.epsilon < 0:
            raise ValueError(f"invalid Almgren-Chriss parameters {self}: need sigma>=0, eta>0, "
                             "gamma>=0, epsilon>=0")


@dataclass(frozen=True, slots=True)
class ACEstimate:
    kappa: float
    expected_cost: float      # quote currency
    variance: float           # quote currency squared
    expected_cost_bps: float  # of the arrival notional X*S0
    std_bps: float


def absolute_risk_aversion(lambda_bps: float, quantity: float, price: float) -> float:
    """lambda in 1/currency such that lambda*Var[C] == lambda_bps*Var[C_bps] in bps units."""
    notional = quantity * price
    if notional <= 0:
        raise ValueError(f"notional must be positive, got quantity={quantity} price={price}")
    return lambda_bps * 1e4 / notional


def eta_tilde(params: ACParams, tau: float) -> float:
    """Discrete-time temporary impact, corrected for the permanent impact within one slice."""
    value = params.eta_for_interval(tau) - 0.5 * params.gamma * tau
    if value <= 0:
        raise ValueError(f"slice of {tau}s too long for gamma={params.gamma}, eta={params.eta}")
    return value


def kappa(lam: float, params: ACParams, tau: float) -> float:
    """Urgency kappa (1/second) of the discrete AC solution for absolute risk aversion ``lam``."""
    if lam <= 0 or params.sigma == 0:
        return 0.0
    k2 = lam * params.sigma ** 2 / eta_tilde(params, tau)
    if tau <= 0:
        return math.sqrt(k2)
    # acosh(1 + y) written as 2 asinh(sqrt(y/2)): exact also for short slices (y -> 0)
    return 2 * math.asinh(math.sqrt(0.25 * k2 * tau * tau)) / tau


def remaining_fraction(t: float, horizon: float, kap: float) -> float:
    """x(t)/X = sinh(kappa(T-t))/sinh(kappa T); linear when kappa -> 0. Overflow-safe."""
    if horizon <= 0:
        return 0.0
    t = min(max(t, 0.0), horizon)
    a, b = kap * (horizon - t), kap * horizon
    if b < 1e-9:
        return (horizon - t) / horizon
    if b < 20:
        return math.sinh(a) / math.sinh(b)
    # sinh(a)/sinh(b) = e^(a-b) * (1 - e^-2a) / (1 - e^-2b)
    return math.exp(a - b) * (-math.expm1(-2 * a)) / (-math.expm1(-2 * b))


def trajectory(quantity: float, horizon: float, slices: int, kap: float) -> list[float]:
    """Holdings x_0..x_N at t_k = k*T/N (x_0 = X, x_N = 0)."""
    if slices < 1:
        raise ValueError(f"slices must be >= 1, got {slices}")
    tau = horizon / slices
    return [quantity * remaining_fraction(k * tau, horizon, kap) for k in range(slices + 1)]


def expected_cost(holdings: list[float], tau: float, params: ACParams) -> float:
    """E[C] = 1/2 gamma X^2 + epsilon sum|n_k| + (eta_tilde/tau) sum n_k^2."""
    x0 = holdings[0]
    trades = [holdings[k - 1] - holdings[k] for k in range(1, len(holdings))]
    return (0.5 * params.gamma * x0 * x0 + params.epsilon * sum(abs(n) for n in trades)
            + eta_tilde(params, tau) / tau * sum(n * n for n in trades))


def variance(holdings: list[float], tau: float, params: ACParams) -> float:
    """Var[C] = sigma^2 tau sum_{k=1..N} x_k^2."""
    return params.sigma ** 2 * tau * sum(x * x for x in holdings[1:])


def estimate(quantity: float, price: float, horizon: float, slices: int, params: ACParams,
             lambda_bps: float) -> ACEstimate:
    """Optimal trajectory for ``lambda_bps`` and its expected cost and variance."""
    tau = horizon / slices
    kap = kappa(absolute_risk_aversion(lambda_bps, quantity, price), params, tau)
    return estimate_for_kappa(quantity, price, horizon, slices, params, kap)


def estimate_for_kappa(quantity: float, price: float, horizon: float, slices: int,
                       params: ACParams, kap: float) -> ACEstimate:
    tau = horizon / slices
    holdings = trajectory(quantity, horizon, slices, kap)
    cost = expected_cost(holdings, tau, params)
    var = variance(holdings, tau, params)
    notional = quantity * price
    return ACEstimate(kappa=kap, expected_cost=cost, variance=var,
                      expected_cost_bps=cost / notional * 1e4,
                      std_bps=math.sqrt(var) / notional * 1e4)
