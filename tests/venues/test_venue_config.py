"""Venue config validation, credentials from env / secrets file, build_venues."""
from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from fixgw.venues.config import (VenueConfigError, load_credentials, venue_config_from_mapping,
                                 venue_configs_from_mapping)
from fixgw.venues.factory import build_venues


def test_full_mapping_parses_to_frozen_config():
    cfg = venue_config_from_mapping("sim-a", {
        "exchange": "binance", "base_url": "http://127.0.0.1:9000/", "api_key_env": "K", "secret_env": "S",
        "fees": {"maker": "0.0008", "taker": 0.001}, "linear_fees": {"maker": "0.0002", "taker": "0.0005"},
        "symbols": ["BTC/USDT", "BTC/USDT:USDT"],
        "rate_limits": {"orders_per_10s": 50}, "order_transport": "ws"})
    assert cfg.base_url == "http://127.0.0.1:9000" and cfg.fees.taker == D("0.001")
    assert cfg.linear_fees.maker == D("0.0002")
    assert cfg.spot_symbols == ("BTC/USDT",) and cfg.linear_symbols == ("BTC/USDT:USDT",)
    assert cfg.linear_id == "binanceusdm"
    assert cfg.rate_limits.orders_per_10s == 50 and cfg.rate_limits.request_weight_per_minute == 6000
    with pytest.raises(Exception):
        cfg.name = "x"


@pytest.mark.parametrize("raw, words", [
    ({"api_key": "abc"}, ["credentials must not be in the config"]),
    ({"fees": {"maker": "x", "taker": "0.001"}}, ["fees.maker", "'x'"]),
    ({"linear_fees": {"taker": "2"}}, ["linear_fees"]),
    ({"symbols": "BTC/USDT"}, ["symbols"]),
    ({"order_transport": "fix"}, ["order_transport", "'fix'"]),
    ({"base_url": "127.0.0.1:80"}, ["base_url"]),
    ({"rate_limits": {"orders_per_10s": -1}}, ["rate_limits.orders_per_10s"]),
    ({"rate_limits": {"orders_per_10s": "nan"}}, ["rate_limits.orders_per_10s", "'nan'"]),
    ({"colour": "blue"}, ["unknown keys", "colour"]),
    ({"timeout_ms": "abc"}, ["timeout_ms", "'abc'"]),
    ({"timeout_ms": 0}, ["timeout_ms", "0"]),
    ({"poll_interval_s": 0}, ["poll_interval_s", "0"]),        # would spin the poll loop
    ({"poll_interval_s": ".inf"}, ["poll_interval_s", "'.inf'"]),
    ({"stream_settle_s": -1}, ["stream_settle_s", "-1"]),
    ({"submit_retries": 1.5}, ["submit_retries", "1.5"]),
    ({"submit_retries": -1}, ["submit_retries", "-1"]),
])
def test_bad_config_names_venue_field_and_value(raw, words):
    with pytest.raises(VenueConfigError) as err:
        venue_config_from_mapping("sim-x", raw)
    assert "sim-x" in str(err.value)
    for w in words:
        assert w in str(err.value)


def test_secret_value_never_echoed():
    with pytest.raises(VenueConfigError) as err:
        venue_config_from_mapping("v", {"secret": "TOPSECRET-123"})
    assert "TOPSECRET-123" not in str(err.value)


def test_credentials_from_env_and_file(tmp_path):
    cfg = venue_config_from_mapping("v", {"api_key_env": "MY_KEY", "secret_env": "MY_SECRET"})
    creds = load_credentials(cfg, {"MY_KEY": "k1", "MY_SECRET": "s1"})
    assert (creds.api_key, creds.secret) == ("k1", "s1")
    assert "k1" not in repr(creds) and "s1" not in repr(creds)
    with pytest.raises(VenueConfigError, match="MY_SECRET"):
        load_credentials(cfg, {"MY_KEY": "k1"})
    f = tmp_path / "secrets.json"
    f.write_text(json.dumps({"api_key": "k2", "secret": "s2"}))
    creds = load_credentials(venue_config_from_mapping("v", {"secrets_file": str(f)}), {})
    assert (creds.api_key, creds.secret) == ("k2", "s2")
    y = tmp_path / "secrets.yaml"
    y.write_text("api_key: k3\nsecret: s3\n")
    assert load_credentials(venue_config_from_mapping("v", {"secrets_file": str(y)}), {}).secret == "s3"
    with pytest.raises(VenueConfigError, match="cannot read secrets_file"):
        load_credentials(venue_config_from_mapping("v", {"secrets_file": str(tmp_path / "nope")}), {})
    assert load_credentials(venue_config_from_mapping("v", {}), {}) is None


def test_build_venues_from_document():
    adapters = build_venues({"venues": {
        "a": {"base_url": "http://127.0.0.1:1", "api_key_env": "AK", "secret_env": "AS", "symbols": ["BTC/USDT"]},
        "b": {"base_url": "http://127.0.0.1:2", "fees": {"maker": "0", "taker": "0.0005"}}}},
        environ={"AK": "key", "AS": "secret"})
    assert sorted(adapters) == ["a", "b"]
    assert adapters["a"].name == "a" and adapters["b"].fees.taker == D("0.0005")
    with pytest.raises(VenueConfigError):
        venue_configs_from_mapping({})
