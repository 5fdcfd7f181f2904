"""Hostile input over real TCP against ``fixgw run sessions/conformance.yaml``.

Seeded random mutations of valid messages (byte flips, truncations, inserted SOH, huge
BodyLength, overlong numbers, random bytes) are fired from several connections at once, some
logged on, some never logged on; meanwhile a healthy session on another CompID keeps pinging.
Afterwards the process must still be alive, serve a clean Logon/Heartbeat/Logout session, and the
healthy session must have been answered throughout (isolation). A 10 MB line without SOH must
end in a disconnect, not a hang or an out-of-memory process. Every socket read has a timeout.
"""
from __future__ import annotations

import importlib.util
import os
import pathlib
import random
import select
import socket
import sys
import threading
import time
from dataclasses import dataclass, field

import pytest

from fixgw.client import ClientConfig, FixClient, encode, new_order_single, utc_timestamp

HERE = pathlib.Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location(
    "conformance_gateway_process", HERE.parent / "conformance" / "gateway_process.py")
gateway_process = sys.modules.get("conformance_gateway_process")
if gateway_process is None:
    gateway_process = importlib.util.module_from_spec(_spec)
    sys.modules["conformance_gateway_process"] = gateway_process
    _spec.loader.exec_module(gateway_process)

SEED = int(os.environ.get("FIXGW_FUZZ_SEED", "20240607"))   # override to explore other seeds
MUTATIONS_PER_WORKER = 1200          # 3 workers: 3,600 mutated messages in total
PING_DEADLINE_S = 3.0                # the healthy session must answer each TestRequest by then


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    proc = gateway_process.acceptor_under_test(tmp_path_factory.mktemp("fixgw-robustness"))
    proc.start()
    yield proc
    proc.stop()


# ---------------------------------------------------------------------------------------------
# Mutations
# ---------------------------------------------------------------------------------------------

def valid_messages(sender: str, seq: int) -> list[bytes]:
    """A small corpus of valid in-session messages starting at ``seq``."""
    header = lambda n: [(34, str(n)), (49, sender), (52, utc_timestamp()), (56, "ISLD")]  # noqa: E731
    return [
        encode("FIX.4.4", "0", header(seq), []),
        encode("FIX.4.4", "1", header(seq + 1), [(112, "PING")]),
        encode("FIX.4.4", "D", header(seq + 2),
               new_order_single(f"F{seq}", "BTC/USDT", "1", "1.5", price="65000")),
        encode("FIX.4.4", "2", header(seq + 3), [(7, "1"), (16, "0")]),
        encode("FIX.4.4", "4", header(seq + 4), [(36, str(seq + 10)), (123, "Y")]),
    ]


def logon(sender: str, heartbeat: int = 30) -> bytes:
    return encode("FIX.4.4", "A", [(34, "1"), (49, sender), (52, utc_timestamp()),
                                   (56, "ISLD")], [(98, "0"), (108, str(heartbeat)), (141, "Y")])


def mutate(rng: random.Random, message: bytes) -> bytes:
    kind = rng.randrange(9)
    data = bytearray(message)
    if kind == 0:                                    # flip a few bytes
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == 1:                                  # truncate
        data = data[:rng.randrange(1, len(data))]
    elif kind == 2:                                  # insert SOH somewhere
        for _ in range(rng.randint(1, 3)):
            data.insert(rng.randrange(len(data)), 1)
    elif kind == 3:                                  # huge / bogus BodyLength
        bogus = rng.choice([b"99999999", b"2147483648", b"-5", b"0", b"1e9", b"",
                            b"99999999999999999999999"])
        start = data.find(b"\x019=") + 3
        end = data.find(b"\x01", start)
        data[start:end] = bogus
    elif kind == 4:                                  # random bytes
        data = bytearray(rng.randbytes(rng.randint(1, 400)))
    elif kind == 5:                                  # overlong / negative numbers in a field
        tag = rng.choice([b"34=", b"108=", b"36=", b"7=", b"38=", b"44="])
        at = data.find(b"\x01" + tag)
        if at >= 0:
            start = at + 1 + len(tag)
            end = data.find(b"\x01", start)
            data[start:end] = rng.choice([b"-1", b"0", b"99999999999999999999999999", b"1.5.5",
                                          b"NaN", b"\xff\xfe", b""])
    elif kind == 6:                                  # duplicate a field
        fields = bytes(data).split(b"\x01")
        i = rng.randrange(len(fields) - 1)
        fields.insert(i, fields[i])
        data = bytearray(b"\x01".join(fields))
    elif kind == 7:                                  # drop a field
        fields = bytes(data).split(b"\x01")
        if len(fields) > 2:
            del fields[rng.randrange(len(fields) - 1)]
        data = bytearray(b"\x01".join(fields))
    else:                                            # valid message, sent as is
        pass
    return bytes(data)


# ---------------------------------------------------------------------------------------------
# Workers
# ---------------------------------------------------------------------------------------------

@dataclass
class WorkerStats:
    sent: int = 0
    connections: int = 0
    closed_by_gateway: int = 0
    errors: list[str] = field(default_factory=list)


def _drain(sock: socket.socket) -> bool:
    """Read whatever is there without blocking; False once the gateway has closed."""
    while True:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return True
        try:
            if not sock.recv(65536):
                return False
        except OSError:
            return False


def _linger(sock: socket.socket, seconds: float) -> bool:
    """Keep reading for ``seconds``; False as soon as the gateway closes."""
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([sock], [], [], remaining)
        if readable and not _drain(sock):
            return False
    return True


def fuzz_worker(host: str, port: int, sender: str | None, seed: int, budget: int,
                stats: WorkerStats) -> None:
    """Fire ``budget`` mutated messages; reconnect whenever the gateway drops us."""
    rng = random.Random(seed)
    while stats.sent < budget:
        try:
            sock = socket.create_connection((host, port), timeout=5)
        except OSError as exc:
            stats.errors.append(f"connect failed: {exc}")
            return
        stats.connections += 1
        sock.settimeout(5)
        try:
            seq = 2
            if sender is not None:
                sock.sendall(logon(sender))
            alive = True
            for _ in range(rng.randint(20, 150)):
                if stats.sent >= budget:
                    break
                corpus = valid_messages(sender or "TW44", seq)
                payload = mutate(rng, rng.choice(corpus))
                if rng.random() < 0.3:                       # keep the session going sometimes
                    payload += corpus[0]
                    seq += 1
                sock.sendall(payload)
                stats.sent += 1
                if not _drain(sock):
                    alive = False
                    break
            if alive:
                alive = _linger(sock, 0.25)   # let the gateway answer/close this batch
            if not alive:
                stats.closed_by_gateway += 1
        except OSError:
            stats.closed_by_gateway += 1                     # reset/broken pipe: dropped by us
        finally:
            sock.close()


def healthy_client(gw, sender: str) -> FixClient:
    client = FixClient(ClientConfig(gw.host, gw.port, sender, "ISLD", heartbeat=30,
                                    reset_on_logon=True))
    client.logon(timeout=5)
    return client


def ping(client: FixClient, test_req_id: str) -> float:
    """TestRequest -> Heartbeat(112=id); returns the round trip in seconds."""
    started = time.monotonic()
    client.send("1", [(112, test_req_id)])
    reply = client.wait_for(lambda m: m.msg_type == "0" and m.get(112) == test_req_id,
                            PING_DEADLINE_S)
    assert reply is not None, f"healthy session got no Heartbeat for {test_req_id}"
    return time.monotonic() - started


def check_clean_session(gw, sender: str = "TW44") -> None:
    """A brand-new Logon / TestRequest / NewOrderSingle echo / Logout round trip."""
    client = healthy_client(gw, sender)
    try:
        ping(client, "AFTER")
        client.send("D", new_order_single("CLEAN1", "BTC/USDT", "1", "2", price="100"))
        echo = client.wait_for(lambda m: m.msg_type == "D", 3)
        assert echo is not None and echo.get(11) == "CLEAN1"
        reply = client.logout(timeout=3)
        assert reply is not None and reply.msg_type == "5"
    finally:
        client.close()


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------

@pytest.mark.timeout(120)
def test_random_mutations_do_not_crash_or_disturb_other_sessions(gateway):
    healthy = healthy_client(gateway, "TW")
    workers = [("TW44", SEED), ("NO_CHECK_FIELDS_HAVE_VALUES", SEED + 1), (None, SEED + 2)]
    stats = [WorkerStats() for _ in workers]
    threads = [threading.Thread(target=fuzz_worker, daemon=True,
                                args=(gateway.host, gateway.port, sender, seed,
                                      MUTATIONS_PER_WORKER, st))
               for (sender, seed), st in zip(workers, stats)]
    for t in threads:
        t.start()
    round_trips = []
    rejects = []
    healthy.listener = lambda d, m: rejects.append(m) if d == "<-" and m.msg_type in ("3", "j") else None
    n = 0
    while any(t.is_alive() for t in threads):
        n += 1
        round_trips.append(ping(healthy, f"P{n}"))
        time.sleep(0.02)
    for t in threads:
        t.join(60)
        assert not t.is_alive(), "a fuzz worker hung (a socket operation never returned)"

    total = sum(s.sent for s in stats)
    assert total >= 3 * MUTATIONS_PER_WORKER, (total, [s.errors for s in stats])
    assert all(not s.errors for s in stats), [s.errors for s in stats]
    assert gateway.alive(), gateway.tail()
    assert n > 0 and max(round_trips) < PING_DEADLINE_S
    assert not rejects, f"the healthy session got rejects: {rejects[:3]}"
    # The healthy session's inbound sequence stayed gap-free and it still trades.
    healthy.send("D", new_order_single("HEALTHY1", "ETH/USDT", "2", "3", price="10"))
    echo = healthy.wait_for(lambda m: m.msg_type == "D", 3)
    assert echo is not None and echo.get(11) == "HEALTHY1"
    assert healthy.logout(timeout=3) is not None
    check_clean_session(gateway)


@pytest.mark.timeout(60)
def test_ten_megabyte_line_without_soh_is_disconnected(gateway):
    healthy = healthy_client(gateway, "TW")
    sock = socket.create_connection((gateway.host, gateway.port), timeout=5)
    closed = False
    try:
        chunk = b"8=FIX.4.4" + b"A" * (1 << 20)
        try:
            sock.sendall(chunk)
            for _ in range(9):
                sock.sendall(b"B" * (1 << 20))
        except OSError:
            closed = True                       # the gateway stopped reading and closed on us
        deadline = time.monotonic() + 10
        while not closed and time.monotonic() < deadline:
            readable, _, _ = select.select([sock], [], [], 0.5)
            if readable:
                try:
                    closed = not sock.recv(65536)
                except OSError:
                    closed = True
    finally:
        sock.close()
    assert closed, "gateway kept a connection that sent 10 MB without a single SOH"
    ping(healthy, "AFTER10MB")
    healthy.logout(timeout=3)
    assert gateway.alive(), gateway.tail()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("payload", [
    pytest.param(b"8=FIX.4.4\x019=99999999\x0135=A\x01", id="huge-bodylength-before-logon"),
    pytest.param(b"8=FIX.4.4\x019=-1\x0135=A\x0110=000\x01", id="negative-bodylength"),
    pytest.param(bytes(range(256)) * 4, id="all-byte-values"),
    pytest.param(b"\x01" * 5000, id="only-soh"),
])
def test_garbage_before_logon_gets_no_session(gateway, payload):
    """Never-logged-on garbage: answered by silence or a close, and the gateway keeps serving."""
    with socket.create_connection((gateway.host, gateway.port), timeout=5) as sock:
        try:
            sock.sendall(payload)
            readable, _, _ = select.select([sock], [], [], 1.0)
            data = sock.recv(65536) if readable else b""
        except OSError:
            data = b""
        # Not a Logon reply: garbage must never establish a session.
        assert b"\x0135=A\x01" not in data
    check_clean_session(gateway)


@pytest.mark.timeout(60)
def test_idle_unauthenticated_connections_are_bounded_and_timed_out(gateway):
    """sessions/conformance.yaml: at most 64 connections without a Logon (extra ones closed at
    once), and a connection that never logs on is closed after logon_timeout_s (10 s)."""
    healthy = healthy_client(gateway, "TW")
    socks = [socket.create_connection((gateway.host, gateway.port), timeout=5) for _ in range(100)]
    try:
        def closed(sock: socket.socket) -> bool:
            readable, _, _ = select.select([sock], [], [], 0)
            if not readable:
                return False
            try:
                return not sock.recv(4096)
            except OSError:
                return True

        gone: set[int] = set()
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and len(gone) < 100 - 64:
            gone |= {i for i, s in enumerate(socks) if i not in gone and closed(s)}
            time.sleep(0.05)
        assert len(gone) >= 100 - 64, f"only {len(gone)} of 100 idle connections were refused"
        ping(healthy, "DURING-IDLE")                       # the live session is unaffected
        deadline = time.monotonic() + 14                   # logon_timeout_s 10 + slack
        while time.monotonic() < deadline and len(gone) < 100:
            gone |= {i for i, s in enumerate(socks) if i not in gone and closed(s)}
            time.sleep(0.1)
        assert len(gone) == 100, f"{100 - len(gone)} idle connections outlived the logon timeout"
    finally:
        for s in socks:
            s.close()
    ping(healthy, "AFTER-IDLE")
    healthy.logout(timeout=3)
    check_clean_session(gateway)


def _load_runner():
    name = "conformance_runner"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE.parent / "conformance" / "runner.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.mark.timeout(120)
def test_acceptance_scripts_stay_byte_exact_while_garbage_flows(gateway):
    """Isolation at full strictness: the acceptance scripts (all but the two heartbeat-timer
    ones) must still pass byte for byte while another client keeps spraying garbage."""
    runner = _load_runner()
    scripts = [p for p in runner.default_scripts()
               if not p.name.startswith(("4a_", "6_SendTestRequest"))]
    stop = threading.Event()
    sent = []

    def spray():
        seed = SEED + 100
        while not stop.is_set():
            stats = WorkerStats()
            fuzz_worker(gateway.host, gateway.port, None, seed, 300, stats)
            sent.append(stats.sent)
            seed += 1

    thread = threading.Thread(target=spray, daemon=True)
    thread.start()
    try:
        script_runner = runner.ScriptRunner(gateway.host, gateway.port, runner.load_patterns(),
                                            runner.RunnerOptions(read_timeout=10.0,
                                                                 probe_attempts=1))
        failures = [r.describe() for r in map(script_runner.run, scripts) if not r.passed]
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive(), "the garbage sprayer hung"
    assert sum(sent) > 1000, sum(sent)
    assert not failures, "\n".join(failures)
    assert gateway.alive(), gateway.tail()
