"""Test harness: a real ``fixgw run`` subprocess and a minimal blocking FIX client over TCP."""
from __future__ import annotations

import os
import pathlib
import select
import socket
import ssl
import subprocess
import sys
import time

from fixgw.fix.codec import Framer, encode, parse, utc_timestamp

REPO = pathlib.Path(__file__).resolve().parents[2]
DICTS = f"[{REPO / 'dictionaries' / 'FIX44.xml'}, {REPO / 'dictionaries' / 'FIX44-fixgw.xml'}]"


def echo_gateway_document(state_dir: pathlib.Path) -> dict:
    """A config document for an in-process gateway (``GatewayThread``): the echo application,
    one session FIXGW <- A, a free port on loopback."""
    import yaml
    return yaml.safe_load(f"""
state_dir: {state_dir}
application: echo
listen: {{host: 127.0.0.1, port: 0}}
session_defaults: {{begin_string: FIX.4.4, sender_comp_id: FIXGW, dictionary: {DICTS}}}
sessions:
  - {{target_comp_id: A, role: echo}}
""")


class Gateway:
    """``python -m fixgw run CONFIG --port 0`` in ``workdir``; waits for the listening line."""

    def __init__(self, workdir: pathlib.Path, config_text: str, env: dict | None = None) -> None:
        self.workdir = workdir
        self.config = workdir / "gw.yaml"
        self.config.write_text(config_text)
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def start(self, timeout: float = 20.0) -> "Gateway":
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fixgw", "run", str(self.config), "--port", "0"],
            cwd=self.workdir, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                line = self.proc.stdout.readline()
                if "listening on" in line:
                    self.port = int(line.split()[3].rsplit(":", 1)[1])
                    return self
                if not line and self.proc.poll() is not None:
                    break
        raise RuntimeError(f"gateway did not start: {self.proc.stderr.read() if self.proc.poll() is not None else 'timeout'}")

    def run_to_exit(self, timeout: float = 20.0) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "fixgw", "run", str(self.config),
                               "--port", "0"], cwd=self.workdir, env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.terminate()
        return self.proc.wait(15)


class Client:
    """A FIX 4.4 initiator good enough for tests: numbers messages, reads and parses replies."""

    def __init__(self, port: int, sender: str, target: str, seq: int = 1,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        if ssl_context is not None:
            sock = ssl_context.wrap_socket(sock, server_hostname="localhost")
        self.sock = sock
        self.sender, self.target, self.seq = sender, target, seq
        self.framer = Framer(1 << 20)
        self.pending: list[bytes] = []

    def raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def make(self, msg_type: str, body=(), seq: int | None = None, header=()) -> bytes:
        if seq is None:
            seq, self.seq = self.seq, self.seq + 1
        hdr = sorted([(34, str(seq)), (49, self.sender), (52, utc_timestamp(time.time())),
                      (56, self.target), *header])
        return encode("FIX.4.4", msg_type, hdr, list(body))

    def send(self, msg_type: str, body=(), seq: int | None = None, header=()) -> None:
        self.sock.sendall(self.make(msg_type, body, seq, header))

    def logon(self, extra=(), hb: int = 30) -> dict:
        self.send("A", [(98, "0"), (108, str(hb)), *extra])
        return self.recv()

    def recv(self, timeout: float = 10.0) -> dict | None:
        """Next message as {tag: value} (first occurrence), or None when the peer closed."""
        deadline = time.monotonic() + timeout
        while not self.pending:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                raise TimeoutError("no message from the gateway") from None
            except (ConnectionResetError, ssl.SSLError):
                return None
            if not data:
                return None
            self.pending.extend(self.framer.feed(data))
        fields = parse(self.pending.pop(0)).fields
        out: dict = {}
        for tag, value in fields:
            out.setdefault(tag, value)
        return out

    def closed_within(self, timeout: float) -> bool:
        try:
            return self.recv(timeout) is None
        except TimeoutError:
            return False

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def nos(clordid: str) -> list[tuple[int, str]]:
    return [(11, clordid), (21, "1"), (38, "1.5"), (40, "2"), (44, "100"), (54, "1"),
            (55, "BTC/USDT"), (60, utc_timestamp(time.time())[:17])]
