"""Gateway config: sessions/default.yaml parses; mistakes are named by file and key."""
from pathlib import Path

import pytest

from fixgw.config import ConfigError, load_gateway_config, parse_gateway_config

REPO = Path(__file__).resolve().parents[2]


def test_default_config_is_valid_and_complete():
    cfg = load_gateway_config(REPO / "sessions" / "default.yaml")
    assert cfg.simulated_venues == ("simA", "simB", "simC")
    assert cfg.simulator_config_path == REPO / "sessions" / "venues.yaml"
    assert cfg.simulator_config_path.is_file()
    assert str(cfg.state_dir) == "var"
    for v in cfg.venues.values():
        assert {"BTC/USDT", "ETH/USDT", "BTC/USDT:USDT"} <= set(v["symbols"])
    from fixgw.oms.risk_config import RiskConfig
    risk = RiskConfig.from_config(cfg.risk)
    assert risk.default.max_qty_for("BTC/USDT") >= 5 and risk.default.max_qty_for("ETH/USDT") >= 50


@pytest.mark.parametrize("doc,key,words", [
    ({"venues": {"x": {"api_key": "abc"}}}, "venues.x.api_key", "secrets never go in YAML"),
    ({"venues": {"x": {"simulated": "yes"}}}, "venues.x.simulated", "true or false"),
    ({"venues": {"x": {"Secret": "abc"}}}, "venues.x", "credentials must not be in the config"),
    ({"venues": {"x": {"poll_interval_s": 0}}}, "venues.x", "poll_interval_s must be"),
    ({"venues": {"x": {"symbols": ["BTCUSDT"]}}}, "venues.x", "symbols must be a list like"),
    ({"venues": {"x": {"fee": {"maker": 0}}}}, "venues.x", "unknown keys ['fee']"),
    ({"oms": {"child_id_prefix": "f-x"}}, "oms.child_id_prefix", "letters/digits"),
    ({"oms": {"cancel_timeout": 3}}, "oms.cancel_timeout", "unknown key"),
    ({"oms": {"cancel_timeout_s": "soon"}}, "oms.cancel_timeout_s", "expected a number"),
    ({"simulator": {"mode": "cloud"}}, "simulator.mode", "detached or in-process"),
    ({"risk": []}, "risk", "expected a mapping"),
    ({"venues": {"a": {}}, "routing": {"exclude": ["b"]}}, "routing.exclude", "configured venues"),
])
def test_errors_name_file_and_key(doc, key, words):
    with pytest.raises(ConfigError) as err:
        parse_gateway_config(doc, "gw.yaml")
    assert str(err.value).startswith(f"gw.yaml: {key}: ") and words in str(err.value)
    assert "abc" not in str(err.value)
