"""Starting the configured simulated venues: in this process, or as their own detached process.

``fixgw run`` uses :func:`ensure_venues_running` for venues marked simulated: the venues run
as a separate process in a new session (``fixgw sim CONFIG --state-file ...``), so that a
gateway crash leaves the exchange running exactly as a real one would, with the gateway's
resting orders still on it. The child writes ``<state_dir>/sim-venues.json`` (mode 0600) once
its venues answer: pid, endpoints, time scale and epoch, and the demo API key and secret of
each venue. That file is how credentials reach the gateway without ever being written into
YAML or a log. A restarted gateway finds the file, checks the pid and ``GET /api/v3/ping`` on
every venue, and reuses the running venues (same ports, same keys, same market clock); a
different config (or overrides) replaces them. :func:`stop_venues` stops them on a normal
shutdown (the caller does so only if it started them: ``SimVenues.started``).

Tests, benchmarks and the demo use :func:`start_sim_venues` to run the same venues inside the
current event loop instead.
"""
from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from fixgw.clock import Clock, ScaledClock
from fixgw.sim.market import MarketModelFactory
from fixgw.sim.market_config import SimConfig, default_config_path, load_sim_config

log = logging.getLogger(__name__)

STATE_FILE = "sim-venues.json"
LOCK_FILE = "sim-venues.lock"
LOG_FILE = "sim-venues.log"
STATE_VERSION = 1


@dataclass(frozen=True)
class VenueEndpoint:
    """Where one simulated venue listens and the funded demo account to trade it with."""

    name: str
    base_url: str
    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)

    def ccxt_urls(self) -> dict:
        from fixgw.sim.server import ccxt_urls
        return ccxt_urls(self.base_url)


@dataclass(frozen=True)
class SimVenues:
    """The simulated venues a gateway should talk to."""

    endpoints: tuple[VenueEndpoint, ...]
    pid: int
    time_scale: float
    epoch: float
    seed: int
    fingerprint: str
    started: bool = False          # True if this call started the process

    def endpoint(self, name: str) -> VenueEndpoint:
        for e in self.endpoints:
            if e.name == name:
                return e
        raise KeyError(f"no simulated venue {name!r}; have {[e.name for e in self.endpoints]}")

    def clock(self) -> Clock:
        """The market clock the venues run on (the gateway must use the same one)."""
        return ScaledClock(scale=self.time_scale, epoch=self.epoch)


# ---------------------------------------------------------------------------------------------
# In-process venues (tests, benchmarks, demo, and the body of `fixgw sim`)
# ---------------------------------------------------------------------------------------------

@dataclass
class InProcessVenues:
    config: SimConfig
    clock: Clock
    factory: MarketModelFactory
    running: list[Any]              # fixgw.sim.server.RunningVenue

    def endpoints(self) -> tuple[VenueEndpoint, ...]:
        return tuple(VenueEndpoint(r.spec.name, r.base_url, r.spec.api_key, r.spec.api_secret)
                     for r in self.running)

    def venue(self, name: str) -> Any:
        for r in self.running:
            if r.spec.name == name:
                return r
        raise KeyError(name)

    async def stop(self) -> None:
        for r in reversed(self.running):
            try:
                await r.stop()
            except Exception:  # noqa: BLE001 - stopping the others matters more
                log.exception("stopping venue %s failed", r.spec.name)
        self.running.clear()


async def start_sim_venues(config: SimConfig, clock: Clock | None = None,
                           epoch: float | None = None) -> InProcessVenues:
    """Start every venue of ``config`` on the running loop, sharing one market world."""
    from fixgw.sim.server import start_venue
    clock = clock or ScaledClock(scale=config.time_scale,
                                 epoch=epoch if epoch is not None else time.time())
    factory = config.model_factory()
    run = InProcessVenues(config, clock, factory, [])
    try:
        for spec in config.venues:
            run.running.append(await start_venue(spec, clock, factory))
        # the venue builds its model in its own task: wait until every model exists (and has
        # placed its ladder), so callers can use factory.models[name] and trade at once
        deadline = time.monotonic() + 5.0
        while len(factory.models) < len(config.venues) and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.01)
    except BaseException:
        await run.stop()
        raise
    return run


# ---------------------------------------------------------------------------------------------
# The state file
# ---------------------------------------------------------------------------------------------

def write_state(path: Path, *, pid: int, config: SimConfig, fingerprint: str, epoch: float,
                endpoints: tuple[VenueEndpoint, ...]) -> None:
    """Atomically write the state file, readable by the owner only (it holds secrets)."""
    doc = {
        "version": STATE_VERSION, "pid": pid, "fingerprint": fingerprint,
        "config": str(config.path) if config.path else None,
        "time_scale": config.time_scale, "epoch": epoch, "seed": config.seed,
        "written_at": time.time(),
        "venues": [{"name": e.name, "base_url": e.base_url, "api_key": e.api_key,
                    "api_secret": e.api_secret} for e in endpoints],
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(doc, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_state(state_dir: str | os.PathLike) -> SimVenues | None:
    """The recorded venues, or None if there is no (readable, well-formed) state file."""
    path = Path(state_dir) / STATE_FILE
    try:
        doc = json.loads(path.read_text())
        if doc.get("version") != STATE_VERSION:
            log.warning("%s: unknown version %r, ignoring it", path, doc.get("version"))
            return None
        endpoints = tuple(VenueEndpoint(v["name"], v["base_url"], v["api_key"], v["api_secret"])
                          for v in doc["venues"])
        return SimVenues(endpoints, int(doc["pid"]), float(doc["time_scale"]), float(doc["epoch"]),
                         int(doc.get("seed", 0)), str(doc.get("fingerprint", "")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("%s: unreadable simulated-venues state (%s), ignoring it", path, exc)
        return None


def remove_state(state_file: Path, pid: int) -> None:
    """Remove the state file if it still describes process ``pid``."""
    try:
        doc = json.loads(state_file.read_text())
    except (OSError, ValueError):
        return
    if doc.get("pid") == pid:
        with contextlib.suppress(OSError):
            state_file.unlink()


def fingerprint(config_path: str | os.PathLike | None, overrides: dict[str, Any]) -> str:
    """What identifies a venues setup: the config file's bytes and the overrides."""
    p = Path(config_path) if config_path else default_config_path()
    h = hashlib.sha256()
    h.update(str(p.resolve()).encode())
    with contextlib.suppress(OSError):
        h.update(p.read_bytes())
    h.update(json.dumps(overrides, sort_keys=True, default=str).encode())
    return h.hexdigest()[:32]


# ---------------------------------------------------------------------------------------------
# Health and process control
# ---------------------------------------------------------------------------------------------

def ping(base_url: str, timeout: float = 1.0) -> bool:
    """GET /api/v3/ping answers 200."""
    try:
        with urllib.request.urlopen(f"{base_url.rstrip('/')}/api/v3/ping", timeout=timeout) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _reap(pid: int) -> bool:
    """True if ``pid`` is our child and has exited (and is now reaped)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == pid
    except ChildProcessError:
        return False


def pid_alive(pid: int) -> bool:
    if pid <= 0 or _reap(pid):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """An exited process nobody reaped yet (e.g. orphaned under a PID 1 that does not reap)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def _is_sim_process(pid: int) -> bool:
    """Guard against pid reuse: on Linux, check the command line is ``fixgw sim``."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return sys.platform != "linux"        # cannot check elsewhere: trust the state file
    return b"fixgw" in b" ".join(cmdline) and b"sim" in cmdline


def healthy(venues: SimVenues, attempts: int = 3) -> bool:
    """The recorded process is alive and every venue answers a ping (a busy machine gets a
    few tries: declaring live venues dead would throw away the orders resting on them)."""
    if not pid_alive(venues.pid):
        return False
    for e in venues.endpoints:
        if not any(ping(e.base_url) for _ in range(attempts)):
            return False
    return True


def _terminate(pid: int, timeout: float) -> bool:
    if not pid_alive(pid):
        return True
    if not _is_sim_process(pid):
        log.warning("pid %d is not a fixgw sim process: not signalling it", pid)
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    log.warning("simulated venues pid %d ignored SIGTERM for %.1fs: killing it", pid, timeout)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    for _ in range(100):
        if not pid_alive(pid):
            return True
        time.sleep(0.02)
    return False


@contextlib.contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    """One gateway at a time decides whether to start the venues."""
    fd = os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


# ---------------------------------------------------------------------------------------------
# What `fixgw run` calls
# ---------------------------------------------------------------------------------------------

def ensure_venues_running(config_path: str | os.PathLike | None = None,
                          state_dir: str | os.PathLike = "var", *,
                          time_scale: float | None = None, seed: int | None = None,
                          port_base: int | None = None, timeout: float = 30.0,
                          python: str = sys.executable) -> SimVenues:
    """Reuse the simulated venues recorded in ``state_dir`` if they are alive and were started
    from the same config and overrides; otherwise start them as a detached process and wait
    until every venue answers. Raises ValueError for a bad config, RuntimeError if the venues
    do not come up (the message quotes the end of ``sim-venues.log``). Blocking: from async
    code, ``await asyncio.to_thread(ensure_venues_running, ...)``."""
    overrides = {k: v for k, v in (("time_scale", time_scale), ("seed", seed),
                                   ("port_base", port_base)) if v is not None}
    config = load_sim_config(config_path, **overrides)          # fail fast on a bad config
    state = Path(state_dir)
    state.mkdir(parents=True, exist_ok=True)
    fp = fingerprint(config.path, overrides)
    with _locked(state):
        current = read_state(state)
        if current is not None:
            if current.fingerprint == fp and healthy(current):
                log.info("reusing simulated venues (pid %d): %s", current.pid,
                         ", ".join(f"{e.name} {e.base_url}" for e in current.endpoints))
                return current
            if pid_alive(current.pid):
                why = "a different config" if current.fingerprint != fp else "unhealthy"
                log.warning("simulated venues pid %d are %s: replacing them", current.pid, why)
                _terminate(current.pid, timeout=10.0)
            with contextlib.suppress(OSError):
                (state / STATE_FILE).unlink()
        return _spawn(config, state, fp, overrides, timeout, python)


def _spawn(config: SimConfig, state: Path, fp: str, overrides: dict[str, Any], timeout: float,
           python: str) -> SimVenues:
    epoch = time.time()
    cmd = [python, "-m", "fixgw", "sim", str(Path(config.path).resolve()),
           "--state-file", str((state / STATE_FILE).resolve()),
           "--fingerprint", fp, "--epoch", repr(epoch)]
    for key, flag in (("time_scale", "--time-scale"), ("seed", "--seed"), ("port_base", "--port-base")):
        if key in overrides:
            cmd += [flag, str(overrides[key])]
    log_path = state / LOG_FILE
    with open(log_path, "ab") as log_file:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True)
    log.info("started simulated venues: pid %d, log %s", proc.pid, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            raise RuntimeError(f"simulated venues exited with status {code}: {_tail(log_path)}")
        current = read_state(state)
        if current is not None and current.pid == proc.pid and healthy(current, attempts=1):
            return SimVenues(current.endpoints, current.pid, current.time_scale, current.epoch,
                             current.seed, current.fingerprint, started=True)
        time.sleep(0.05)
    _terminate(proc.pid, timeout=5.0)
    raise RuntimeError(f"simulated venues did not come up within {timeout:.0f}s: {_tail(log_path)}")


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_venues(state_dir: str | os.PathLike = "var", timeout: float = 10.0) -> bool:
    """Stop the simulated venues recorded in ``state_dir`` (SIGTERM, then SIGKILL after
    ``timeout``). True if none is left running."""
    state = Path(state_dir)
    current = read_state(state)
    if current is None:
        return True
    stopped = _terminate(current.pid, timeout)
    if stopped:
        remove_state(state / STATE_FILE, current.pid)
    return stopped


async def ensure_venues_running_async(*args: Any, **kwargs: Any) -> SimVenues:
    return await asyncio.to_thread(ensure_venues_running, *args, **kwargs)


async def stop_venues_async(*args: Any, **kwargs: Any) -> bool:
    return await asyncio.to_thread(stop_venues, *args, **kwargs)
