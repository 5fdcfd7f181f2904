"""``fixgw run [CONFIG] [--port N]``: wiring only.

Reads the YAML, builds the store, the sessions and the application service named by
``application:`` (``echo`` built in, or ``package.module:factory`` called with a
:class:`fixgw.service.ServiceContext`), calls ``Application.on_create`` for every session,
listens, prints ``fixgw: listening on HOST:PORT sessions=N`` (flushed: supervisors wait for
it), and serves until SIGINT/SIGTERM. Then it logs out every session, stops the service and
flushes the store.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from fixgw.clock import Clock, LiveClock
from fixgw.fix.dictionary import DataDictionary, DictionaryError, load_dictionary
from fixgw.fix.validation import Validator
from fixgw.service import Service, ServiceContext
from fixgw.session.acceptor import Acceptor, AcceptorSession
from fixgw.session.auth import ConfigError
from fixgw.session.config import GatewayConfig, load_config
from fixgw.session.core import SessionCore, SessionRules
from fixgw.session.msglog import LogWriter, MessageLog
from fixgw.session.runtime import SessionRuntime
from fixgw.session.store import SqliteStore, StoreInUse
from fixgw.transport.server import OutputPump, start_server

DEFAULT_CONFIG = "sessions/default.yaml"
# The configs shipped with fixgw, for `fixgw run` started outside a checkout's top directory.
SHIPPED_SESSIONS = Path(__file__).resolve().parent.parent / "sessions"
log = logging.getLogger("fixgw")


def resolve_default_config(config: str | None) -> str:
    """``sessions/default.yaml`` of the current directory when there is one, else the shipped one.

    An explicit CONFIG is taken as given (a missing file is then an error that names it)."""
    if config and config != DEFAULT_CONFIG:
        return config
    if Path(DEFAULT_CONFIG).is_file():
        return DEFAULT_CONFIG
    shipped = SHIPPED_SESSIONS / "default.yaml"
    return str(shipped) if shipped.is_file() else DEFAULT_CONFIG


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", default=DEFAULT_CONFIG,
                        help=f"YAML config (default {DEFAULT_CONFIG})")
    parser.add_argument("--port", type=int, default=None, help="override listen.port (0 = any)")
    parser.add_argument("--log-level", default="WARNING", help="Python logging level")


def run_command(args: argparse.Namespace) -> int:
    logging.basicConfig(level=getattr(logging, str(getattr(args, "log_level", "WARNING")).upper(),
                                      logging.WARNING),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config_path = resolve_default_config(getattr(args, "config", None))
    try:
        config = load_config(config_path, getattr(args, "port", None))
    except ConfigError as exc:
        print(f"fixgw: {exc}", file=sys.stderr)
        return 2
    try:
        import uvloop  # noqa: F401
        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner:
        try:
            return runner.run(serve(config))
        except (ConfigError, DictionaryError, StoreInUse) as exc:
            print(f"fixgw: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"fixgw: cannot listen on {config.listen.host}:{config.listen.port}: "
                  f"{exc.strerror or exc}", file=sys.stderr)
            return 2


class Gateway:
    """Everything ``fixgw run`` builds from a config; usable in-process (tests, demo)."""

    def __init__(self, config: GatewayConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or LiveClock()
        config.state_dir.mkdir(parents=True, exist_ok=True)
        self.store = SqliteStore(config.database_path, config.store_synchronous)
        self.store.start_background_writer()
        dictionaries: dict[tuple[Path, ...], DataDictionary] = {}
        self.logs: list[MessageLog] = []
        self.log_writer = LogWriter()
        self.pump = OutputPump(self.store.commit, self._flush_logs, self._format_logs,
                               self.store.nudge_applier)
        self.runtimes: dict[Any, SessionRuntime] = {}
        entries = []
        for sc in config.sessions:
            dictionary = dictionaries.get(sc.dictionary)
            if dictionary is None:
                dictionary = dictionaries[sc.dictionary] = load_dictionary(list(sc.dictionary))
            sid = sc.session_id
            msg_log = MessageLog(config.log_dir / f"{sid.sender_comp_id}-{sid.target_comp_id}.log",
                                 self.log_writer)
            self.logs.append(msg_log)
            rules = SessionRules(sc.reset_on_logon, sc.reset_on_logout, sc.reset_on_disconnect,
                                 sc.heartbeat_check, sc.max_latency_s, sc.logout_timeout_s,
                                 config.limits.max_queued_messages)
            core = SessionCore(sid, dictionary, Validator(dictionary, sc.validation), self.store,
                               rules, sc.schedule, msg_log)
            self.runtimes[sid] = SessionRuntime(core, sc.role, sc.settings, self.clock,
                                                self.pump.request)
            entries.append(AcceptorSession(core, sc.credentials))
        self.acceptor = Acceptor(entries, config.limits)
        self.service = self._build_service()
        self.server: asyncio.AbstractServer | None = None
        self._stopped = False

    def _flush_logs(self) -> None:
        for msg_log in self.logs:
            msg_log.flush()

    def _format_logs(self) -> None:
        for msg_log in self.logs:
            msg_log.format()

    def _build_service(self) -> Service:
        ctx = ServiceContext(config=self.config.document, config_path=self.config.path,
                             state_dir=self.config.state_dir,
                             database_path=self.config.database_path, clock=self.clock,
                             sessions=dict(self.runtimes))
        name = self.config.application
        if name == "echo":
            from fixgw.session.echo import echo_service
            return echo_service(ctx)
        module_name, sep, factory_name = name.partition(":")
        if not sep or not module_name or not factory_name:
            raise ConfigError(f"{self.config.path}: application must be 'echo' or "
                              f"'package.module:factory', not {name!r}")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError(f"{self.config.path}: application {name!r}: cannot import "
                              f"{module_name}: {exc}") from None
        factory = getattr(module, factory_name, None)
        if factory is None:
            raise ConfigError(f"{self.config.path}: application {name!r}: {module_name} has no "
                              f"{factory_name}")
        return factory(ctx)

    async def start(self) -> tuple[str, int]:
        application = self.service.application
        for runtime in self.runtimes.values():
            runtime.bind(application)
        for runtime in self.runtimes.values():
            application.on_create(runtime)
        await self.service.start()
        listen = self.config.listen
        try:
            self.server = await start_server(listen.host, listen.port, self.acceptor, self.pump,
                                             self.clock, self.config.limits, listen.tls)
        except BaseException:
            self._stopped = True
            try:
                await self.service.stop()
            finally:
                self.store.close()
            raise
        self.pump.request()
        # Start-up objects (dictionaries, config, imported modules) never die: keep them out of
        # the cyclic collector's way so its pauses stay short on the message path.
        gc.collect()
        gc.freeze()
        sock = self.server.sockets[0].getsockname()
        return sock[0], sock[1]

    async def stop(self) -> None:
        """Log every session out (waiting for the replies briefly), stop the service, flush.

        Idempotent: a second call (or a call after a failed start) does nothing."""
        if self._stopped:
            return
        self._stopped = True
        if self.server is not None:
            self.server.close()
        now = self.clock.now()
        waits = []
        for runtime in self.runtimes.values():
            if runtime.core.connected:
                runtime.core.logout("Gateway shutting down", now)
                waits.append(runtime.core.rules.logout_timeout_s)
        self.pump.flush()
        if waits:
            deadline = asyncio.get_running_loop().time() + max(waits)
            while asyncio.get_running_loop().time() < deadline and any(
                    r.core.connected for r in self.runtimes.values()):
                await asyncio.sleep(0.05)
        for conn in list(self.pump.connections):
            conn.abort()
        await asyncio.sleep(0)
        try:
            await self.service.stop()
        finally:
            self.pump.flush_all()
            self.store.close()
            self.log_writer.close()
            for msg_log in self.logs:
                msg_log.close()


async def serve(config: GatewayConfig) -> int:
    gateway = Gateway(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    host, port = await gateway.start()
    names = ",".join(str(sid.target_comp_id) for sid in gateway.runtimes)
    print(f"fixgw: listening on {host}:{port} sessions={names}", flush=True)
    try:
        await stop.wait()
    finally:
        await gateway.stop()
    print("fixgw: stopped", flush=True)
    return 0
