"""Config errors name the file, the session and the key; secrets stay out of YAML and errors."""
from __future__ import annotations

import pathlib

import pytest
import yaml

from fixgw.session.auth import ConfigError
from fixgw.session.config import load_config, parse_config

REPO = pathlib.Path(__file__).resolve().parents[2]


def doc(**session):
    return {"listen": {"host": "127.0.0.1", "port": 0},
            "session_defaults": {"begin_string": "FIX.4.4", "sender_comp_id": "GW",
                                 "dictionary": str(REPO / "dictionaries" / "FIX44.xml")},
            "sessions": [{"target_comp_id": "C1", **session}]}


def test_conformance_config_loads_with_its_three_sessions():
    cfg = load_config(REPO / "sessions" / "conformance.yaml", port_override=0)
    assert [s.session_id.target_comp_id for s in cfg.sessions] == \
        ["TW44", "TW", "NO_CHECK_FIELDS_HAVE_VALUES"]
    assert cfg.sessions[2].validation.fields_have_values is False
    assert all(s.reset_on_logon for s in cfg.sessions) and cfg.listen.port == 0


@pytest.mark.parametrize("session, words", [
    ({"role": "trader"}, ["sessions[0]", "role"]),
    ({"validation": {"bogus": True}}, ["validation", "bogus"]),
    ({"schedule": {"type": "daily", "start": "9am", "end": "17:00"}}, ["schedule", "9am"]),
    ({"password_env": "FIXGW_NOT_SET_ANYWHERE"}, ["FIXGW_NOT_SET_ANYWHERE", "not set"]),
    ({"dictionary": "/nonexistent.xml"}, ["dictionary", "does not exist"]),
])
def test_errors_name_the_place(tmp_path, session, words):
    with pytest.raises(ConfigError) as err:
        parse_config(doc(**session), tmp_path / "x.yaml", environ={})
    for word in words:
        assert word in str(err.value)


def test_password_from_env_or_file_never_from_yaml(tmp_path):
    (tmp_path / "pw.txt").write_text("s3cret\n")
    cfg = parse_config(doc(username="u", password_file="pw.txt"), tmp_path / "x.yaml", environ={})
    creds = cfg.sessions[0].credentials
    assert creds.check("u", "s3cret") and not creds.check("u", "nope")
    assert "s3cret" not in repr(cfg.sessions[0])
    cfg = parse_config(doc(password_env="PW"), tmp_path / "x.yaml", environ={"PW": "p"})
    assert cfg.sessions[0].credentials.check(None, "p")
    with pytest.raises(ConfigError) as err:
        parse_config(doc(password="hunter2"), tmp_path / "x.yaml", environ={})
    assert "hunter2" not in str(err.value)


def test_settings_pass_application_keys_through(tmp_path):
    cfg = parse_config(doc(role="drop-copy", level="ALL", scope={"sessions": "all"}),
                       tmp_path / "x.yaml", environ={})
    s = cfg.sessions[0]
    assert s.role == "drop-copy" and s.settings["level"] == "ALL"
    assert s.settings["scope"] == {"sessions": "all"}
    yaml.safe_dump(dict(s.settings))   # plain data
