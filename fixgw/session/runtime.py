"""The live session object applications hold: a :class:`SessionHandle` over a :class:`SessionCore`.

It adapts the core's listener callbacks to the :class:`Application` protocol (passing itself as
the handle), stamps ``send()`` calls with the clock, and tells the transport that output is
pending (the transport commits the store and writes once per event-loop turn).
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Mapping, Sequence

from fixgw.clock import Clock
from fixgw.fix.message import FixMessage
from fixgw.session.application import Application, SessionID
from fixgw.session.core import SessionCore, State

log = logging.getLogger("fixgw.session")


class SessionRuntime:
    """Implements ``fixgw.session.application.SessionHandle``."""

    def __init__(self, core: SessionCore, role: str, settings: Mapping[str, Any], clock: Clock,
                 output_pending: Callable[[], None] = lambda: None) -> None:
        self.core = core
        self.session_id: SessionID = core.session_id
        self.role = role
        self.settings: dict = dict(settings)
        self._clock = clock
        self._output_pending = output_pending
        self._app: Application | None = None
        core.listener = self

    def bind(self, application: Application, output_pending: Callable[[], None] | None = None) -> None:
        self._app = application
        if output_pending is not None:
            self._output_pending = output_pending

    # ---- SessionHandle
    @property
    def logged_on(self) -> bool:
        return self.core.connected and self.core.state is State.LOGGED_ON \
            and not self.core.close_requested

    def send(self, msg_type: str, body: Sequence[tuple[int, str]]) -> int:
        seq = self.core.send_app(msg_type, body, self._clock.now())
        self._output_pending()
        return seq

    # ---- SessionListener (called by the core)
    def on_logon(self) -> None:
        if self._app is not None:
            self._app.on_logon(self)

    def on_logout(self) -> None:
        if self._app is not None:
            self._app.on_logout(self)

    def on_app_message(self, message: FixMessage) -> None:
        if self._app is not None:
            try:
                self._app.on_message(self, message)
            except Exception:
                log.exception("application error on %s message %s of %s", message.msg_type,
                              message.get(34), self.session_id)
                raise  # the core records it in the session log and carries on

    def __repr__(self) -> str:
        return f"SessionRuntime({self.session_id}, role={self.role})"
