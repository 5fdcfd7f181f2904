"""Replay all 60 QuickFIX FIX 4.4 acceptance scripts, over real TCP, against
``python -m fixgw run sessions/conformance.yaml``, with the strict runner (tests/conformance/runner.py).

One gateway process serves the whole module, as in the upstream setup: scripts run back to
back, each starting with a fresh Logon (ResetOnLogon). Scripts 4a and 6 wait on heartbeat
timers (about 45 s together); nothing else sleeps.
"""
from __future__ import annotations

import importlib.util
import pathlib
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent


def _load(name: str, file: str):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HERE / file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


runner = _load("conformance_runner", "runner.py")
gateway_process = _load("conformance_gateway_process", "gateway_process.py")

SCRIPTS = runner.default_scripts()
OPTIONS = runner.RunnerOptions(read_timeout=20.0, probe_attempts=1)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    proc = gateway_process.acceptor_under_test(tmp_path_factory.mktemp("fixgw-conformance"))
    proc.start()
    yield proc
    code = proc.stop()
    # SIGTERM must log out and flush, then exit cleanly.
    assert code == 0, f"fixgw exited with {code} on SIGTERM:\n{proc.tail()}"


@pytest.fixture(scope="module")
def script_runner(gateway):
    return runner.ScriptRunner(gateway.host, gateway.port, runner.load_patterns(), OPTIONS)


def test_suite_is_complete():
    assert len(SCRIPTS) == 60


@pytest.mark.timeout(120)
@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_acceptance_script(script, gateway, script_runner):
    assert gateway.alive(), f"fixgw is not running:\n{gateway.tail()}"
    result = script_runner.run(script)
    assert result.passed, result.describe() + "\n--- fixgw output tail ---\n" + gateway.tail(15)
    assert gateway.alive(), f"fixgw died during {script.name}:\n{gateway.tail()}"
