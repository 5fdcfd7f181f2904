"""`fixgw run` with no CONFIG finds sessions/default.yaml from any directory."""
from pathlib import Path

from fixgw.app import DEFAULT_CONFIG, SHIPPED_SESSIONS, resolve_default_config


def test_outside_a_checkout_the_shipped_default_config_is_used(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    resolved = resolve_default_config(None)
    assert Path(resolved) == SHIPPED_SESSIONS / "default.yaml" and Path(resolved).is_file()
    assert resolve_default_config(DEFAULT_CONFIG) == resolved


def test_a_local_default_config_wins_and_an_explicit_one_is_taken_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sessions").mkdir()
    (tmp_path / DEFAULT_CONFIG).write_text("sessions: []\n")
    assert resolve_default_config(None) == DEFAULT_CONFIG
    assert resolve_default_config("other.yaml") == "other.yaml"
