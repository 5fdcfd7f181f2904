"""Durable execution traces (market path, schedule, fills) next to the OMS journal.

The OMS journal (``fixgw/oms/journal.py``) has orders and fills; TCA also needs what the market
did while the order worked and what the schedule said. The OMS hands the scheduler's
:class:`~fixgw.algo.types.ExecutionTrace` to :meth:`TcaStore.save_trace` when a parent ends;
it goes to the ``tca_traces`` table of the same SQLite database.
"""
from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path

from fixgw.algo.types import ExecutionTrace, MarketSample, TraceFill
from fixgw.domain import Strategy

SCHEMA = """CREATE TABLE IF NOT EXISTS tca_traces (
    order_id TEXT PRIMARY KEY, strategy TEXT NOT NULL, trace TEXT NOT NULL)"""


def _s(v: Decimal | None) -> str | None:
    return None if v is None else str(v)


def _d(v: str | None) -> Decimal | None:
    return None if v is None else Decimal(v)


def encode_trace(trace: ExecutionTrace) -> str:
    return json.dumps({
        "parent_id": trace.parent_id, "strategy": trace.strategy.value,
        "arrival_mid": _s(trace.arrival_mid),
        "samples": [[s.time, _s(s.mid), str(s.traded_volume), str(s.traded_notional),
                     str(s.filled), _s(s.planned)] for s in trace.samples],
        "fills": [[f.time, f.child_id, str(f.quantity), str(f.price)] for f in trace.fills],
    })


def decode_trace(text: str) -> ExecutionTrace:
    o = json.loads(text)
    return ExecutionTrace(
        parent_id=o["parent_id"], strategy=Strategy(o["strategy"]),
        arrival_mid=_d(o["arrival_mid"]),
        samples=tuple(MarketSample(t, _d(m), Decimal(v), Decimal(n), Decimal(f), _d(p))
                      for t, m, v, n, f, p in o["samples"]),
        fills=tuple(TraceFill(t, c, Decimal(q), Decimal(p)) for t, c, q, p in o["fills"]))


class TcaStore:
    def __init__(self, path: Path | str, *, readonly: bool = False):
        if readonly:
            self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        else:
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.execute(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def save_trace(self, order_id: str, trace: ExecutionTrace) -> None:
        self._db.execute("INSERT OR REPLACE INTO tca_traces VALUES (?, ?, ?)",
                         (order_id, trace.strategy.value, encode_trace(trace)))

    def traces(self) -> dict[str, ExecutionTrace]:
        try:
            rows = self._db.execute("SELECT order_id, trace FROM tca_traces").fetchall()
        except sqlite3.OperationalError:   # no trace ever saved in this database
            return {}
        return {oid: decode_trace(t) for oid, t in rows}
