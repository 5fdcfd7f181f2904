"""`fixgw sim` as a real process, and the launcher `fixgw run` uses to keep venues detached."""
from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fixgw.sim.launcher import (STATE_FILE, LOG_FILE, ensure_venues_running, ping, pid_alive,
                                read_state, stop_venues)

REPO = Path(__file__).resolve().parents[2]


def _read_banner(proc: subprocess.Popen, timeout: float = 30.0) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith("ready"):
            return lines
    raise AssertionError(f"no ready line; got {lines!r}, stderr {proc.stderr.read() if proc.poll() is not None else ''}")


def _parse(line: str) -> dict:
    parts = line.split()
    out = {"name": parts[1], "url": parts[2]}
    out.update(p.split("=", 1) for p in parts[3:])
    return out


async def _ccxt_check(url: str, key: str, secret: str) -> tuple[int, float]:
    import ccxt.async_support as ccxt_async
    from fixgw.sim.server import ccxt_options, ccxt_urls
    ex = ccxt_async.binance({"apiKey": key, "secret": secret, "enableRateLimit": False,
                             "options": ccxt_options("spot")})
    ex.urls["api"] = ccxt_urls(url)
    try:
        markets = await ex.load_markets()
        balance = await ex.fetch_balance()          # signed: the printed secret is the right one
        return len(markets), balance["total"]["USDT"]
    finally:
        await ex.close()


def test_fixgw_sim_prints_venues_serves_ccxt_and_stops_on_sigterm():
    proc = subprocess.Popen([sys.executable, "-m", "fixgw", "sim", "--time-scale", "5", "--seed", "3"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        lines = _read_banner(proc)
        venues = [_parse(l) for l in lines if l.startswith("venue ")]
        assert [v["name"] for v in venues] == ["simA", "simB", "simC"]
        assert lines[-1].startswith("ready venues=3 time_scale=5 seed=3")
        for v in venues:
            assert v["url"].startswith("http://127.0.0.1:")
            assert v["rest"].split(",")[:1] == ["/api/v3"] and "/fapi/v1" in v["rest"]
            assert v["ws"].split(",") == ["/stream/ws", "/ws-api/v3", "/fstream/ws"]
            assert len(v["api_key"]) >= 32 and len(v["api_secret"]) >= 32
        assert len({v["url"] for v in venues}) == 3
        n_markets, usdt = asyncio.run(_ccxt_check(venues[0]["url"], venues[0]["api_key"],
                                                  venues[0]["api_secret"]))
        assert n_markets >= 2 and usdt > 0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert "stopped" in proc.stdout.read()
        assert not ping(venues[0]["url"], timeout=0.5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_fixgw_sim_bad_config_is_a_clear_error(tmp_path):
    bad = tmp_path / "venues.yaml"
    bad.write_text("venues:\n  - name: x\n    taker_fee: cheap\n")
    res = subprocess.run([sys.executable, "-m", "fixgw", "sim", str(bad)], capture_output=True,
                         text=True, cwd=REPO, timeout=60)
    assert res.returncode == 2
    assert "taker_fee" in res.stderr and "Traceback" not in res.stderr


def test_launcher_detaches_survives_a_gateway_crash_is_reused_and_stops(tmp_path):
    state = tmp_path / "var"
    # a "gateway" that starts the venues and then crashes hard
    crash = subprocess.run(
        [sys.executable, "-c",
         "import os, sys; from fixgw.sim.launcher import ensure_venues_running as e; "
         "v = e(None, sys.argv[1], time_scale=5); print(v.pid, v.started, flush=True); os._exit(3)",
         str(state)], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert crash.returncode == 3, crash.stderr
    pid_s, started = crash.stdout.split()
    pid = int(pid_s)
    assert started == "True"
    try:
        assert pid_alive(pid)
        path = state / STATE_FILE
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        # the secret never reaches the log
        recorded = read_state(state)
        assert recorded is not None and recorded.pid == pid
        log_text = (state / LOG_FILE).read_text()
        assert all(e.api_secret not in log_text for e in recorded.endpoints)
        assert "api_secret=(in " in log_text
        # the restarted gateway reuses them: same process, same ports, same keys
        again = ensure_venues_running(None, state, time_scale=5)
        assert again.pid == pid and again.started is False
        assert again.endpoints == recorded.endpoints
        assert again.time_scale == 5 and again.clock().now() > time.time()
        # a different setup replaces them
        other = ensure_venues_running(None, state, time_scale=5, seed=99)
        assert other.started and other.pid != pid
        assert not pid_alive(pid)
        pid = other.pid
        assert all(ping(e.base_url) for e in other.endpoints)
        # a normal shutdown stops them
        assert stop_venues(state)
        assert not pid_alive(pid)
        assert not path.exists()
        assert stop_venues(state)               # nothing left: still fine
    finally:
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_in_process_venues_share_one_world_and_have_their_models_at_once():
    from fixgw.sim.launcher import start_sim_venues
    from fixgw.sim.market_config import load_sim_config

    async def main():
        run = await start_sim_venues(load_sim_config(None, time_scale=10))
        try:
            models = run.factory.models
            assert set(models) == {"simA", "simB", "simC"}
            bids, asks = run.venue("simA").exchange.depth("BTCUSDT", 5)
            assert bids and asks
            assert len({id(m.world) for m in models.values()}) == 1   # impact moves them all
            premium = {name: m.fair_price("BTC/USDT") / m.reference_price("BTC/USDT")
                       for name, m in models.items()}
            assert premium["simB"] > premium["simA"] > premium["simC"]  # +0.3 / 0 / -0.3 bps
            assert [e.name for e in run.endpoints()] == ["simA", "simB", "simC"]
            assert run.clock.now() > time.time()           # compressed market time
        finally:
            await run.stop()
    asyncio.run(main())


def test_launcher_reports_a_venue_that_cannot_start(tmp_path):
    import socket
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    taken = blocker.getsockname()[1]
    try:
        with pytest.raises(RuntimeError, match="exited with status 1") as err:
            ensure_venues_running(None, tmp_path, port_base=taken, timeout=30)
        assert "address" in str(err.value).lower() or str(taken) in str(err.value)
        assert read_state(tmp_path) is None
    finally:
        blocker.close()
    with pytest.raises(ValueError, match="time_scale"):
        ensure_venues_running(None, tmp_path, time_scale=-1)
