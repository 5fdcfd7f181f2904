"""Risk limits from config: typed, frozen, and errors that name the key and the value."""
from __future__ import annotations

import dataclasses
from decimal import Decimal as D

import pytest
import yaml

from fixgw.domain import Side
from fixgw.oms.risk_config import RiskConfig, RiskConfigError, RiskLimits


def test_yaml_section_parses_to_exact_decimals_and_frozen_limits():
    doc = yaml.safe_load("""
risk:
  default: {max_order_qty: 0.1, max_notional: "250000.50", price_collar_bps: 75,
            max_open_orders: 10, max_orders_per_second: 5, symbols: [BTC/USDT],
            sides: [BUY, sell], check_venue_balance: false, margin_fraction: 0.25}
  sessions: {OMS: {max_open_orders: 3}}
  accounts: {ACC1: {max_order_qty: {BTC/USDT: 2, "*": 30}}}
""")
    cfg = RiskConfig.from_config(doc["risk"])
    d = cfg.default
    assert d.max_qty_for("BTC/USDT") == D("0.1") and d.max_notional == D("250000.50")
    assert d.price_collar_bps == D(75) and d.margin_fraction == D("0.25")
    assert d.sides == frozenset({Side.BUY, Side.SELL}) and d.check_venue_balance is False
    assert cfg.for_session("OMS").max_open_orders == 3
    assert cfg.for_session("OMS").max_notional == D("250000.50")   # merged over default
    assert cfg.for_session("UNKNOWN") is cfg.default
    assert cfg.for_account("ACC1").max_qty_for("ETH/USDT") == D(30)
    assert cfg.for_account("ACC9") is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.max_notional = D(1)


@pytest.mark.parametrize("section,message", [
    ({"default": {"max_order_qty": -5}}, "risk.default.max_order_qty: -5 must be a positive number"),
    ({"default": {"max_qty": 5}}, "risk.default.max_qty: unknown risk limit"),
    ({"accounts": {"ACC1": {"max_notional": "lots"}}}, "risk.accounts.ACC1.max_notional: 'lots' is not a number"),
    ({"sessions": {"OMS": {"max_open_orders": 2.5}}}, "risk.sessions.OMS.max_open_orders: 2.5 is not a whole number"),
    ({"default": {"max_orders_per_second": 0}}, "risk.default.max_orders_per_second: 0 must be a positive whole number"),
    ({"default": {"sides": ["buy", "short"]}}, "risk.default.sides: 'short' is not a side"),
    ({"default": {"symbols": "BTC/USDT"}}, "risk.default.symbols: expected a non-empty list"),
    ({"default": {"symbols": ["BTCUSDT"]}}, "risk.default.symbols: 'BTCUSDT' is not a ccxt symbol"),
    ({"default": {"check_venue_balance": "yes"}}, "risk.default.check_venue_balance: 'yes' is not true or false"),
    ({"default": {"max_order_qty": {"BTC/USDT": "x"}}}, "risk.default.max_order_qty.BTC/USDT: 'x' is not a number"),
    ({"default": {"margin_fraction": 2}}, "risk.default.margin_fraction: 2 must be at most 1"),
    ({"default": {"max_notional": True}}, "risk.default.max_notional: True is not a number"),
    ({"limits": {}}, "risk.limits: unknown key"),
    ({"accounts": ["ACC1"]}, "risk.accounts: expected a mapping"),
])
def test_bad_values_name_key_and_value(section, message):
    with pytest.raises(RiskConfigError) as err:
        RiskConfig.from_config(section)
    assert message in str(err.value)


def test_empty_config_means_no_limits():
    assert RiskConfig.from_config(None).default == RiskLimits()
