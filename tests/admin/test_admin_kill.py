"""The admin channel over a real Unix socket, and `fixgw kill` as a real subprocess.

The KillSwitch behind it is the real KillSwitchController over a real RiskEngine; the OMS's
cancel-everything is a small in-test implementation over three in-memory venues (the OMS-level
test against the simulated venues comes with the integration).
"""
from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import subprocess
import sys
from decimal import Decimal as D

import pytest

from fixgw import cli
from fixgw.admin import AdminError, AdminServer, admin_request, socket_path
from fixgw.clock import FakeClock
from fixgw.domain import OrdType, Side
from fixgw.oms.risk import OrderRiskRequest, RiskEngine
from fixgw.oms.risk_config import RiskConfig
from fixgw.oms.risk_kill import KillReport, KillSwitchController


class ThreeVenueBook:
    """Open child orders at three venues; cancel_all cancels each one (sim-c refuses one)."""

    def __init__(self):
        self.open = {"sim-a": ["a-1", "a-2"], "sim-b": ["b-1"], "sim-c": ["c-1", "c-stuck"]}
        self.parents = ["CL1", "CL2"]

    async def cancel_all(self) -> KillReport:
        cancelled, failed = {}, {}
        for venue, ids in self.open.items():
            await asyncio.sleep(0)  # a venue round trip
            for oid in list(ids):
                if oid == "c-stuck":
                    failed.setdefault(venue, {})[oid] = "venue unavailable"
                    continue
                ids.remove(oid)
                cancelled.setdefault(venue, []).append(oid)
        parents, self.parents = tuple(self.parents), []
        return KillReport(cancelled={v: tuple(i) for v, i in cancelled.items()}, failed=failed,
                          parents=parents)


def order():
    return OrderRiskRequest(session="OMS", account="ACC1", symbol="BTC/USDT", side=Side.BUY,
                            ord_type=OrdType.LIMIT, quantity=D(1), price=D(30000), mid=D(30000))


def run_cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fixgw", "kill", *argv],
                          capture_output=True, text=True, timeout=60)


def test_kill_status_release_through_the_real_socket_and_cli(tmp_path):
    state = tmp_path / "var"

    async def main():
        risk = RiskEngine(RiskConfig(), FakeClock())
        venues = ThreeVenueBook()
        server = AdminServer(state, KillSwitchController(risk, venues.cancel_all))
        await server.start()
        try:
            path = socket_path(state)
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and stat.S_ISSOCK(os.stat(path).st_mode)

            status = await asyncio.to_thread(run_cli, "--state-dir", str(state), "--status")
            assert status.returncode == 0, status.stderr
            assert status.stdout.strip() == "kill switch released: orders are accepted"

            killed = await asyncio.to_thread(run_cli, "--state-dir", str(state), "--reason", "desk halt")
            out = killed.stdout
            assert "kill switch ENGAGED" in out
            assert "cancelled 4 venue order(s):" in out
            assert "  sim-a: a-1, a-2" in out and "  sim-b: b-1" in out and "  sim-c: c-1" in out
            assert "canceled 2 client order(s): CL1, CL2" in out
            assert "FAILED to cancel 1 venue order(s):" in out and "sim-c: c-stuck: venue unavailable" in out
            assert killed.returncode == 1              # something could not be cancelled
            assert venues.open == {"sim-a": [], "sim-b": [], "sim-c": ["c-stuck"]}

            decision = risk.check(order())
            assert decision.rejected and "kill switch engaged" in decision.text and "desk halt" in decision.text

            status = await asyncio.to_thread(run_cli, "--state-dir", str(state), "--status")
            assert status.stdout.startswith("kill switch ENGAGED since ") and "(desk halt)" in status.stdout

            released = await asyncio.to_thread(run_cli, "--state-dir", str(state), "--release")
            assert released.returncode == 0 and "released" in released.stdout
            assert risk.check(order()).accepted
        finally:
            await server.stop()
        assert not socket_path(state).exists()

    asyncio.run(main())


def test_clean_kill_exits_zero_in_process(tmp_path, capsys):
    async def main():
        risk = RiskEngine(RiskConfig(), FakeClock())

        async def nothing_open():
            return KillReport()
        server = AdminServer(tmp_path, KillSwitchController(risk, nothing_open))
        await server.start()
        try:
            rc = await asyncio.to_thread(cli.main, ["kill", "--state-dir", str(tmp_path)])
        finally:
            await server.stop()
        return rc, risk

    rc, risk = asyncio.run(main())
    assert rc == 0 and risk.kill_switch.engaged
    assert "cancelled 0 venue order(s)" in capsys.readouterr().out


def test_bad_requests_get_clear_errors_and_the_server_keeps_serving(tmp_path):
    async def main():
        risk = RiskEngine(RiskConfig(), FakeClock())
        server = AdminServer(tmp_path, KillSwitchController(risk, ThreeVenueBook().cancel_all))
        await server.start()
        try:
            reader, writer = await asyncio.open_unix_connection(str(socket_path(tmp_path)))
            replies = []
            for line in (b"not json\n", b"[1, 2]\n", b'{"cmd": "explode"}\n', b'{"cmd": "status"}\n'):
                writer.write(line)
                await writer.drain()
                replies.append(json.loads(await reader.readline()))
            writer.close()
            # an oversized request is refused, then the connection is closed
            reader, writer = await asyncio.open_unix_connection(str(socket_path(tmp_path)))
            writer.write(b"x" * (70 * 1024) + b"\n")
            await writer.drain()
            big = json.loads(await reader.readline())
            writer.close()
            status = await asyncio.to_thread(admin_request, socket_path(tmp_path), {"cmd": "status"})
        finally:
            await server.stop()
        return replies, big, status

    replies, big, status = asyncio.run(main())
    assert replies[0]["ok"] is False and replies[0]["error"].startswith("invalid JSON")
    assert "expected a JSON object" in replies[1]["error"]
    assert replies[2]["error"] == "unknown cmd 'explode' (expected kill, release, status)"
    assert replies[3] == {"ok": True, "engaged": False, "reason": None, "since": None}
    assert big == {"ok": False, "error": "request longer than 65536 bytes"}
    assert status["ok"] is True


def test_a_failing_cancel_sweep_still_leaves_the_switch_engaged(tmp_path):
    async def main():
        risk = RiskEngine(RiskConfig(), FakeClock())

        async def broken():
            raise RuntimeError("journal unavailable")
        server = AdminServer(tmp_path, KillSwitchController(risk, broken))
        await server.start()
        try:
            return await asyncio.to_thread(admin_request, socket_path(tmp_path), {"cmd": "kill"}), risk
        finally:
            await server.stop()

    reply, risk = asyncio.run(main())
    assert reply == {"ok": False, "engaged": True, "error": "kill failed: journal unavailable"}
    assert risk.check(order()).limit == "kill_switch"


def test_socket_ownership_stale_socket_and_second_gateway(tmp_path):
    async def main():
        # a stale socket file left by a crashed gateway is replaced
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(str(socket_path(tmp_path)))
        stale.close()
        risk = RiskEngine(RiskConfig(), FakeClock())
        first = AdminServer(tmp_path, KillSwitchController(risk, ThreeVenueBook().cancel_all))
        await first.start()
        try:
            second = AdminServer(tmp_path, KillSwitchController(risk, ThreeVenueBook().cancel_all))
            with pytest.raises(AdminError, match="another gateway is serving"):
                await second.start()
        finally:
            await first.stop()

    asyncio.run(main())
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "admin.sock").write_text("not a socket")
    with pytest.raises(AdminError, match="is not a socket"):
        asyncio.run(AdminServer(tmp_path / "other", None).start())


def test_client_without_a_gateway_says_so(tmp_path, capsys):
    assert cli.main(["kill", "--state-dir", str(tmp_path)]) == 1
    assert "no gateway admin socket at" in capsys.readouterr().err
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(socket_path(tmp_path)))
    stale.close()
    assert cli.main(["kill", "--state-dir", str(tmp_path), "--status"]) == 1
    assert "no gateway is listening" in capsys.readouterr().err


def test_state_dir_is_found_through_the_config_file(tmp_path, capsys):
    state = tmp_path / "state"
    config = tmp_path / "gw.yaml"
    config.write_text(f"state_dir: {state}\n")

    async def main():
        risk = RiskEngine(RiskConfig(), FakeClock())
        server = AdminServer(state, KillSwitchController(risk, ThreeVenueBook().cancel_all))
        await server.start()
        try:
            return await asyncio.to_thread(cli.main, ["kill", str(config), "--status"])
        finally:
            await server.stop()

    assert asyncio.run(main()) == 0
    assert "kill switch released" in capsys.readouterr().out
    assert cli.main(["kill", str(tmp_path / "missing.yaml")]) == 1
    assert "missing.yaml" in capsys.readouterr().err
