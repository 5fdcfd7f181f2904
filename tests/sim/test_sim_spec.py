"""VenueSpec from config: decimals, validation errors that name the key, secrets only from the
environment and never in repr."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from fixgw.sim.spec import PERP, VenueSpec, default_symbols, venue_from_dict


def test_defaults_and_secret_hidden_from_repr():
    spec = VenueSpec(name="a", symbols=default_symbols())
    assert len(spec.api_key) == 64 and spec.api_key != spec.api_secret
    assert spec.api_secret not in repr(spec) and spec.api_key not in repr(spec)
    assert VenueSpec(name="b", symbols=default_symbols()).api_key != spec.api_key
    assert spec.symbol_spec("BTCUSDT_PERP").kind == PERP


def test_from_dict_parses_decimals_and_env_credentials():
    spec = venue_from_dict({
        "name": "x", "maker_fee": "0.0002", "taker_fee": 0.0004, "price_offset_bps": 3,
        "api_key_env": "K", "api_secret_env": "S", "spot_balances": {"USDT": "10"},
        "rate_limits": {"orders_per_10s": 5}, "stream_latency_ms": 2, "market": {"seed": 1},
        "symbols": [{"symbol": "SOLUSDT", "base": "SOL", "quote": "USDT", "tick_size": "0.001",
                     "step_size": "0.01", "min_qty": "0.01", "max_qty": "100000", "min_notional": "5",
                     "initial_price": "150"},
                    {"symbol": "SOLUSDT", "kind": "perp", "base": "SOL", "quote": "USDT", "tick_size": "0.01",
                     "step_size": "0.1", "min_qty": "0.1", "max_qty": "100000", "min_notional": "5",
                     "initial_price": "150"}],
    }, env={"K": "key", "S": "secret"})
    assert (spec.api_key, spec.api_secret) == ("key", "secret")
    assert spec.secret_env == "S" and "secret" not in repr(spec).replace("secret_env", "")
    from fixgw.sim.cli import banner_line
    from fixgw.sim.launcher import VenueEndpoint
    ep = VenueEndpoint("x", "http://127.0.0.1:1", spec.api_key, spec.api_secret)
    line = banner_line(ep, show_secret=True, secret_env=spec.secret_env)
    assert "api_secret=(from $S)" in line and "=secret" not in line
    assert "api_secret=gen" in banner_line(VenueEndpoint("y", "http://h:1", "k", "gen"), True)
    assert spec.taker_fee == D("0.0004") and spec.spot_balances == {"USDT": D("10")}
    assert spec.rate_limits.orders_per_10s == 5 and spec.rate_limits.weight_per_minute == 6000
    assert [s.market_id for s in spec.symbols] == ["SOLUSDT", "SOLUSDT_PERP"]
    assert spec.reference_price("SOLUSDT") == D("150.045")     # +3 bps on the tick grid


@pytest.mark.parametrize("raw, message", [
    ({"name": "x", "api_key": "k"}, "environment variables"),
    ({"name": "x", "api_key_env": "MISSING"}, "MISSING is not set"),
    ({"name": "x", "maker_fee": "cheap"}, "venue.maker_fee: not a decimal number: 'cheap'"),
    ({"name": "x", "colour": "red"}, "unknown keys ['colour']"),
    ({"maker_fee": "1"}, "venue.name: missing"),
    ({"name": "x", "symbols": [{"symbol": "A", "kind": "option"}]}, "venue.symbols[0].kind"),
    ({"name": "x", "symbols": [{"symbol": "A", "base": "A"}]}, "venue.symbols[0].quote: missing"),
    ({"name": "x", "rate_limits": {"per_hour": 1}}, "venue.rate_limits: unknown keys"),
])
def test_from_dict_errors_name_the_key(raw, message):
    with pytest.raises(ValueError) as e:
        venue_from_dict(raw, env={})
    assert message in str(e.value)
