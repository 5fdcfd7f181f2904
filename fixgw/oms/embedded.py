"""The whole gateway (session layer + order service + simulated venues) inside this process.

``fixgw demo``, the end-to-end tests and the order benchmark need the real thing -- real
sockets, the real session layer, ccxt against the simulated venues -- but started and stopped
from Python, on a free port, with a throwaway state directory. :class:`GatewayThread` runs it
on its own event loop in a background thread, so a blocking FIX client (like an OMS) can talk
to it from the calling thread.
"""
from __future__ import annotations

import asyncio
import copy
import threading
from pathlib import Path
from typing import Any, Mapping

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO_ROOT / "sessions" / "default.yaml"


def gateway_document(config_path: Path = DEFAULT_CONFIG, *, state_dir: Path,
                     overrides: Mapping[str, Any] | None = None) -> dict:
    """The config document with simulated venues in-process, a free port and ``state_dir``."""
    doc = yaml.safe_load(Path(config_path).read_text()) or {}
    doc = copy.deepcopy(doc)
    doc["state_dir"] = str(state_dir)
    doc.setdefault("listen", {})["port"] = 0
    doc.setdefault("simulator", {})["mode"] = "in-process"
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(doc.get(key), dict):
            doc[key] = {**doc[key], **value}
        else:
            doc[key] = value
    return doc


class GatewayThread:
    """Start with :meth:`start` (blocks until listening), stop with :meth:`stop`."""

    def __init__(self, document: Mapping[str, Any], config_path: Path = DEFAULT_CONFIG):
        self.document = dict(document)
        self.config_path = Path(config_path)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.gateway = None
        self.host = "127.0.0.1"
        self.port = 0
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    @property
    def service(self):
        return self.gateway.service

    def start(self, timeout: float = 60.0) -> "GatewayThread":
        self._thread = threading.Thread(target=self._run, name="fixgw-gateway", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("gateway did not start in time")
        if self._error is not None:
            raise RuntimeError(f"gateway failed to start: {self._error}") from self._error
        return self

    def call(self, fn, *args, timeout: float = 30.0):
        """Run ``fn(*args)`` on the gateway's loop (a coroutine function is awaited)."""
        async def wrapper():
            result = fn(*args)
            if asyncio.iscoroutine(result):
                result = await result
            return result
        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        if self.loop is not None and self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> "GatewayThread":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            import uvloop
            runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
        except ImportError:
            runner = asyncio.Runner()
        with runner:
            runner.run(self._main())

    async def _main(self) -> None:
        from fixgw.app import Gateway
        from fixgw.session.config import parse_config
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            config = parse_config(self.document, self.config_path)
            self.gateway = Gateway(config)
            self.host, self.port = await self.gateway.start()
        except BaseException as e:  # reported to the starting thread
            self._error = e
            self._ready.set()
            if self.gateway is not None:
                try:
                    await self.gateway.stop()
                except Exception:
                    pass
            return
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self.gateway.stop()
