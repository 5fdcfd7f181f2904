"""What ``fixgw run`` hosts on top of the session layer: one application service.

``app.py`` (wiring only) reads the YAML, builds every configured session and the store, then
builds the service named by the config's ``application:`` key (``echo`` for the conformance
test mode, or ``module:factory`` for the order gateway) with a :class:`ServiceContext`, starts
it, serves, and on SIGINT/SIGTERM logs every session out, stops the service and flushes the
store.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol

from fixgw.clock import Clock
from fixgw.session.application import Application, SessionHandle, SessionID


@dataclass(frozen=True)
class ServiceContext:
    config: Mapping[str, Any]       # the whole parsed YAML document
    config_path: Path
    state_dir: Path                 # default var/; every durable file lives below it
    database_path: Path             # the SQLite file the session store also uses
    clock: Clock
    sessions: Mapping[SessionID, SessionHandle]


class Service(Protocol):
    application: Application

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


ServiceFactory = Callable[[ServiceContext], Service]
