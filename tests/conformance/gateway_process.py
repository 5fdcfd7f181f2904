"""Start ``fixgw run CONFIG --port N`` as a real subprocess and wait until it listens.

Shared by the conformance replay and the robustness tests: both talk to the real acceptor over
real TCP, so a crash, a hang or a leaked exception in the gateway shows up as a failed test.
"""
from __future__ import annotations

import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import threading
import time

REPO = pathlib.Path(__file__).resolve().parent.parent.parent
CONFORMANCE_CONFIG = REPO / "sessions" / "conformance.yaml"
READY = re.compile(r"fixgw: listening on (\S+):(\d+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GatewayProcess:
    """One ``python -m fixgw run`` child; cwd is ``workdir`` so its relative state_dir lands there."""

    def __init__(self, workdir: pathlib.Path, config: pathlib.Path = CONFORMANCE_CONFIG,
                 port: int | None = None, extra_args: tuple[str, ...] = (),
                 env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.config = config
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.extra_args = extra_args
        self.extra_env = env or {}
        self.output: list[str] = []
        self.proc: subprocess.Popen[str] | None = None
        self._ready = threading.Event()

    def start(self, timeout: float = 30.0) -> "GatewayProcess":
        env = dict(os.environ, PYTHONUNBUFFERED="1", **self.extra_env)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fixgw", "run", str(self.config), "--port", str(self.port),
             *self.extra_args],
            cwd=self.workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, errors="replace")
        threading.Thread(target=self._drain, daemon=True).start()
        if not self._ready.wait(timeout):
            self.stop()
            raise RuntimeError(f"fixgw did not print its ready line within {timeout}s:\n"
                               + self.tail())
        return self

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            match = READY.search(line)
            if match and not self._ready.is_set():
                self.host = match.group(1)
                self.port = int(match.group(2))
                self._ready.set()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, lines: int = 40) -> str:
        return "".join(self.output[-lines:])

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then wait; SIGKILL only if it does not exit (and report that)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                self.output.append("[test harness: fixgw ignored SIGTERM, killed]\n")
        return self.proc.returncode

    def __enter__(self) -> "GatewayProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_until(predicate, timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


class ExternalAcceptor:
    """An acceptor someone else started (e.g. scripts/quickfix_acceptor.py), named by
    ``FIXGW_TEST_ACCEPTOR=host:port``: lets the same tests check the harness itself against
    the reference engine. Nothing to start or stop."""

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self.host = host or "127.0.0.1"
        self.port = int(port)

    def start(self) -> "ExternalAcceptor":
        return self

    def alive(self) -> bool:
        try:
            socket.create_connection((self.host, self.port), timeout=2).close()
            return True
        except OSError:
            return False

    def tail(self, lines: int = 40) -> str:
        return f"(external acceptor {self.host}:{self.port}: no output captured)\n"

    def stop(self, timeout: float = 0.0) -> int:
        return 0


def acceptor_under_test(workdir: pathlib.Path) -> "GatewayProcess | ExternalAcceptor":
    """fixgw as a subprocess, unless FIXGW_TEST_ACCEPTOR points at an external acceptor."""
    external = os.environ.get("FIXGW_TEST_ACCEPTOR")
    if external:
        return ExternalAcceptor(external)
    return GatewayProcess(workdir)
