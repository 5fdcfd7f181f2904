"""fixgw.client / scripts/fix_client.py: message bodies, session duties, and the CLI end to end
against a real ``fixgw run sessions/conformance.yaml`` (echo application)."""
from __future__ import annotations

import importlib.util
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import threading

import pytest

from fixgw import client as fc

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
gateway_process = sys.modules.get("conformance_gateway_process")
if gateway_process is None:
    _spec = importlib.util.spec_from_file_location("conformance_gateway_process",
                                                   HERE / "gateway_process.py")
    gateway_process = importlib.util.module_from_spec(_spec)
    sys.modules["conformance_gateway_process"] = gateway_process
    _spec.loader.exec_module(gateway_process)

S = b"\x01"


def _fields(data: bytes) -> list[tuple[int, str]]:
    return [(int(t), v.decode()) for t, _, v in (p.partition(b"=") for p in data.split(S) if p)]


def test_encode_has_exact_length_and_checksum():
    data = fc.encode("FIX.4.4", "0", [(34, "2"), (49, "A"), (52, "20240101-00:00:00.000"),
                                      (56, "B")], [(112, "X")])
    fields = _fields(data)
    assert [t for t, _ in fields][:3] == [8, 9, 35] and fields[-1][0] == 10
    body_start = data.index(b"35=")
    body_end = data.index(b"\x0110=") + 1
    assert int(dict(fields)[9]) == body_end - body_start
    assert int(dict(fields)[10]) == sum(data[:body_end]) % 256


def test_new_order_single_keeps_decimal_text_and_builds_strategy_group():
    params = [fc.StrategyParameter.parse("venues=simA,simB"),
              fc.StrategyParameter.parse("min_clip:7=0.010")]
    body = fc.new_order_single("C1", "BTC/USDT", "1", "002.50", price="65000.10",
                               strategy="1001", participation="0.1", params=params)
    d = dict(body)
    assert d[38] == "002.50" and d[44] == "65000.10" and d[847] == "1001"
    group = body[[t for t, _ in body].index(957):]
    assert group == [(957, "2"), (958, "venues"), (959, "14"), (960, "simA,simB"),
                     (958, "min_clip"), (959, "7"), (960, "0.010")]


def test_friendly_codes_and_bad_values():
    assert fc.code(fc.SIDES, "Sell", "side") == "2"
    assert fc.code(fc.STRATEGIES, "twap", "strategy") == "1001"
    with pytest.raises(ValueError, match="unknown side"):
        fc.code(fc.SIDES, "sideways", "side")


def test_describe_names_enums():
    names = fc.FieldNames.load(fc.default_dictionary())
    msg = fc.FixMessage(((8, "FIX.4.4"), (35, "8"), (39, "2"), (55, "X")))
    assert names.describe(msg) == "35=8(ExecutionReport) 39=2(Filled) 55=X"


def test_client_sends_resend_request_on_gap_and_answers_test_request():
    """A scripted peer: Logon reply seq 1, then seq 3 (gap), then a TestRequest seq 4."""
    server = socket.create_server(("127.0.0.1", 0))
    got: list[bytes] = []

    def peer():
        conn, _ = server.accept()
        conn.settimeout(5)
        conn.recv(4096)                                    # client's Logon
        hdr = lambda n: [(34, str(n)), (49, "ISLD"), (52, fc.utc_timestamp()), (56, "C")]  # noqa
        conn.sendall(fc.encode("FIX.4.4", "A", hdr(1), [(98, "0"), (108, "30")]))
        conn.sendall(fc.encode("FIX.4.4", "0", hdr(3), []))
        conn.sendall(fc.encode("FIX.4.4", "1", hdr(4), [(112, "T1")]))
        data = b""
        while data.count(b"\x0110=") < 3:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        got.append(data)
        conn.close()

    thread = threading.Thread(target=peer, daemon=True)
    thread.start()
    client = fc.FixClient(fc.ClientConfig("127.0.0.1", server.getsockname()[1], "C", "ISLD"))
    try:
        client.logon(timeout=5)
        client.drain(1.0)
    finally:
        client.close()
        thread.join(5)
        server.close()
    sent = got[0]
    assert b"\x0135=2\x01" in sent and b"\x017=2\x0116=0\x01" in sent
    assert b"\x0135=0\x01" in sent and b"\x01112=T1\x01" in sent


def test_password_is_never_in_repr():
    cfg = fc.ClientConfig("h", 1, "A", "B", password="s3cret")
    assert "s3cret" not in repr(cfg)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    proc = gateway_process.acceptor_under_test(tmp_path_factory.mktemp("fixgw-client"))
    proc.start()
    yield proc
    proc.stop()


@pytest.mark.timeout(60)
def test_cli_order_round_trip_against_gateway(gateway):
    out = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "fix_client.py"), "--port", str(gateway.port),
         "--host", gateway.host, "--sender", "TW44", "--target", "ISLD", "--reset",
         "--wait", "1", "order", "--symbol", "BTC/USDT", "--side", "buy", "--qty", "002.50",
         "--price", "65000", "--cl-ord-id", "CLI1"],
        capture_output=True, text=True, timeout=45, env=dict(os.environ))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert any(ln.startswith("<- 35=A(Logon)") for ln in lines), out.stdout
    echo = [ln for ln in lines if ln.startswith("<- 35=D(NewOrderSingle)")]
    assert echo and "11=CLI1" in echo[0] and "38=002.50" in echo[0], out.stdout
    assert any(ln.startswith("<- 35=5(Logout)") for ln in lines), out.stdout


@pytest.mark.timeout(60)
def test_cli_unsupported_message_gets_business_reject(gateway):
    out = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "fix_client.py"), "--port", str(gateway.port),
         "--host", gateway.host, "--sender", "TW44", "--target", "ISLD", "--reset",
         "--wait", "1", "status", "--cl-ord-id", "X", "--symbol", "BTC/USDT", "--side", "buy"],
        capture_output=True, text=True, timeout=45)
    assert out.returncode == 0, out.stderr
    assert "35=j(BusinessMessageReject)" in out.stdout and "380=3" in out.stdout, out.stdout


def test_cli_refuses_missing_password_env():
    out = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "fix_client.py"), "--port", "1",
         "--sender", "A", "--target", "B", "--password-env", "FIXGW_NO_SUCH_VAR_H7", "logon"],
        capture_output=True, text=True, timeout=30,
        env={k: v for k, v in os.environ.items() if k != "FIXGW_NO_SUCH_VAR_H7"})
    assert out.returncode == 2 and "FIXGW_NO_SUCH_VAR_H7 is not set" in out.stderr


def test_seq_file_round_trip(tmp_path):
    path = tmp_path / "seq.json"
    fc.SeqNumbers(next_out=17, next_in=42).save(path)
    assert fc.SeqNumbers.load(path) == fc.SeqNumbers(17, 42)
    assert fc.SeqNumbers.load(tmp_path / "missing.json") == fc.SeqNumbers(1, 1)


@pytest.fixture(scope="module")
def tls_gateway(tmp_path_factory):
    """fixgw with TLS and a password-protected echo session (CLI -> ISLD, user alice)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not available to make a test certificate")
    work = tmp_path_factory.mktemp("fixgw-tls")
    cert, key = work / "server.pem", work / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    dictionaries = REPO / "dictionaries"
    config = work / "tls.yaml"
    config.write_text(f"""
state_dir: {work / 'state'}
application: echo
listen:
  host: 127.0.0.1
  port: 9880
  tls: {{cert_file: {cert}, key_file: {key}}}
session_defaults:
  begin_string: FIX.4.4
  sender_comp_id: ISLD
  dictionary: [{dictionaries / 'FIX44.xml'}, {dictionaries / 'FIX44-fixgw.xml'}]
  reset_on_logon: true
sessions:
  - {{target_comp_id: CLI, role: echo, username: alice, password_env: FIXGW_H7_TEST_PW}}
""")
    proc = gateway_process.GatewayProcess(work, config=config,
                                          env={"FIXGW_H7_TEST_PW": "correct horse"})
    proc.start()
    yield proc, cert
    proc.stop()


def _tls_cli(gw, cert, password_var, *extra):
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / "fix_client.py"), "--host", "127.0.0.1",
         "--port", str(gw.port), "--sender", "CLI", "--target", "ISLD", "--tls", "--cafile",
         str(cert), "--server-name", "localhost", "--username", "alice", "--password-env",
         password_var, "--wait", "1", *extra],
        capture_output=True, text=True, timeout=45,
        env=dict(os.environ, H7_GOOD="correct horse", H7_BAD="wrong"))


@pytest.mark.timeout(90)
def test_cli_over_tls_with_password(tls_gateway):
    gw, cert = tls_gateway
    out = _tls_cli(gw, cert, "H7_GOOD", "order", "--symbol", "ETH/USDT", "--side", "sell",
                   "--qty", "1", "--price", "3000", "--cl-ord-id", "TLS1")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "correct horse" not in out.stdout + out.stderr      # 554 is printed as ***
    assert "554=***" in out.stdout
    assert any(ln.startswith("<- 35=D(NewOrderSingle)") and "11=TLS1" in ln
               for ln in out.stdout.splitlines()), out.stdout


@pytest.mark.timeout(90)
def test_cli_wrong_password_is_refused(tls_gateway):
    gw, cert = tls_gateway
    out = _tls_cli(gw, cert, "H7_BAD", "logon")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "logon refused: Authentication failed" in out.stderr, out.stdout + out.stderr


def test_cli_wait_accepted_before_or_after_subcommand():
    spec = importlib.util.spec_from_file_location("fix_client_cli", REPO / "scripts" / "fix_client.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    parser = cli.build_parser()
    base = "--port 1 --sender A --target B".split()
    after = parser.parse_args(base + "order --symbol X --side buy --qty 1 --wait 7".split())
    before = parser.parse_args(base + "--wait 5 order --symbol X --side buy --qty 1".split())
    assert (after.wait, before.wait, parser.parse_args(base + ["logon"]).wait) == (7.0, 5.0, 3.0)
    kind, body = cli.message_for(parser.parse_args(
        base + "order --symbol BTC/USDT --side sell --qty 0.5 --strategy pov "
               "--participation 0.15 --param venues=simA,simB".split()))
    d = dict(body)
    assert kind == "D" and d[54] == "2" and d[40] == "1" and d[847] == "2" and d[849] == "0.15"
    assert d[957] == "1" and d[960] == "simA,simB"
