"""A ``module:factory`` service for test_session_service.py (loaded by ``fixgw run``)."""
from __future__ import annotations

import json
import sqlite3

from fixgw.service import ServiceContext


class _App:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def on_create(self, session) -> None:
        # Sent before anyone is connected: must be numbered, stored and resent later.
        session.send("8", [(37, "O-start"), (17, "E-start"), (150, "0"), (39, "0"), (54, "1"),
                           (151, "1"), (14, "0"), (6, "0"), (58, session.settings["greeting"])])

    def on_logon(self, session) -> None:
        pass

    def on_logout(self, session) -> None:
        pass

    def on_message(self, session, message) -> None:
        session.send("j", [(45, message.get(34)), (58, f"role={session.role}"),
                           (372, message.msg_type), (380, "3")])


class _Service:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.application = _App(ctx)

    async def start(self) -> None:
        db = sqlite3.connect(self.ctx.database_path)   # the journal shares the store's file
        db.execute("CREATE TABLE IF NOT EXISTS test_journal (note TEXT)")
        db.execute("INSERT INTO test_journal VALUES (?)", (json.dumps(
            sorted(str(s) for s in self.ctx.sessions)),))
        db.commit()
        db.close()

    async def stop(self) -> None:
        pass


def build(ctx: ServiceContext) -> _Service:
    return _Service(ctx)
