"""oms.retain_terminal_orders_s / oms.retention_sweep_s: defaults, values, mistakes named."""
import pytest

from fixgw.config import ConfigError, parse_gateway_config


def test_defaults_keep_finished_orders_five_minutes():
    oms = parse_gateway_config({}, "gw.yaml").oms
    assert oms.retain_terminal_orders_s == 300.0 and oms.retention_sweep_s == 5.0


def test_values_are_read():
    oms = parse_gateway_config({"oms": {"retain_terminal_orders_s": 0,
                                        "retention_sweep_s": 0.5}}, "gw.yaml").oms
    assert oms.retain_terminal_orders_s == 0.0 and oms.retention_sweep_s == 0.5


@pytest.mark.parametrize("doc,key,words", [
    ({"retain_terminal_orders_s": -1}, "oms.retain_terminal_orders_s", ">= 0"),
    ({"retain_terminal_orders_s": float("nan")}, "oms.retain_terminal_orders_s", "finite"),
    ({"retain_terminal_orders_s": "5m"}, "oms.retain_terminal_orders_s", "expected a number"),
    ({"retention_sweep_s": 0}, "oms.retention_sweep_s", "above 0"),
    ({"retention_sweep_s": 7200}, "oms.retention_sweep_s", "at most 3600"),
    ({"retain_terminal_orders": 60}, "oms.retain_terminal_orders", "unknown key"),
])
def test_mistakes_are_named(doc, key, words):
    with pytest.raises(ConfigError) as err:
        parse_gateway_config({"oms": doc}, "gw.yaml")
    assert str(err.value).startswith(f"gw.yaml: {key}: ") and words in str(err.value)
