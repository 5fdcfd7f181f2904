"""Durable journal of client orders, child orders and fills (SQLite, WAL).

It lives in the SAME database file as the FIX session store (``ServiceContext.database_path``)
but in its own ``oms_*`` tables and over its own connection, so that one file holds everything
a restarted gateway needs. Why the ordering rules matter:

- a client order is written (and committed) before it is acknowledged upstream;
- a child order is written before it is sent to a venue, so a restart knows every child that
  *may* have reached a venue and asks the venue about it instead of sending it again (child
  client order ids are deterministic: ``<instance>-<order seq>-<child seq>``);
- a fill is keyed by (venue, trade id): the insert fails on a duplicate, which is how a fill
  seen on the stream and again by REST polling or reconciliation is booked exactly once;
- ExecIDs and OrderIDs come from counters reserved here in blocks, so they never repeat across
  restarts (a crash wastes at most the rest of a block).

Commits use ``synchronous=NORMAL`` in WAL mode: a committed write survives a crash of the
process (SIGKILL), which is the failure the gateway is designed for; only an OS crash could
lose the last transactions.
"""
from __future__ import annotations

import json
import secrets
import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Iterator

from fixgw.domain import OrdStatus, OrdType, Side, Strategy, TimeInForce, Urgency
from fixgw.fix.messages import StrategyParameter
from fixgw.oms.order import ChildOrder, ChildState, ClientOrder

SCHEMA = """
CREATE TABLE IF NOT EXISTS oms_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS oms_counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS oms_orders (
    order_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, session TEXT NOT NULL,
    cl_ord_id TEXT NOT NULL, orig_cl_ord_id TEXT, symbol TEXT NOT NULL, side TEXT NOT NULL,
    ord_type TEXT NOT NULL, quantity TEXT NOT NULL, price TEXT, tif TEXT NOT NULL,
    account TEXT, expire_time REAL, effective_time REAL, strategy TEXT NOT NULL,
    urgency TEXT, participation_rate TEXT, max_floor TEXT, params TEXT,
    status TEXT NOT NULL, cum_qty TEXT NOT NULL, notional TEXT NOT NULL, fees TEXT NOT NULL,
    arrival_price TEXT, shortfall_bps TEXT, next_child INTEGER NOT NULL,
    created_at REAL NOT NULL, updated_at REAL NOT NULL, text TEXT, pending_cl_ord_id TEXT);
CREATE INDEX IF NOT EXISTS oms_orders_status ON oms_orders(status);
CREATE TABLE IF NOT EXISTS oms_clordids (
    session TEXT NOT NULL, cl_ord_id TEXT NOT NULL, order_id TEXT,
    PRIMARY KEY (session, cl_ord_id));
CREATE TABLE IF NOT EXISTS oms_children (
    client_order_id TEXT PRIMARY KEY, order_id TEXT NOT NULL, venue TEXT NOT NULL,
    symbol TEXT NOT NULL, side TEXT NOT NULL, ord_type TEXT NOT NULL, quantity TEXT NOT NULL,
    price TEXT, tif TEXT NOT NULL, post_only INTEGER NOT NULL, state TEXT NOT NULL,
    filled TEXT NOT NULL, venue_order_id TEXT, reason TEXT, created_at REAL NOT NULL,
    updated_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS oms_children_order ON oms_children(order_id);
CREATE INDEX IF NOT EXISTS oms_children_venue_oid ON oms_children(venue, venue_order_id);
CREATE TABLE IF NOT EXISTS oms_fills (
    venue TEXT NOT NULL, trade_id TEXT NOT NULL, client_order_id TEXT NOT NULL,
    order_id TEXT NOT NULL, symbol TEXT NOT NULL, side TEXT NOT NULL, price TEXT NOT NULL,
    quantity TEXT NOT NULL, fee TEXT NOT NULL, fee_currency TEXT, is_maker INTEGER,
    exec_id TEXT, timestamp_ms INTEGER NOT NULL, recorded_at REAL NOT NULL,
    PRIMARY KEY (venue, trade_id));
CREATE INDEX IF NOT EXISTS oms_fills_order ON oms_fills(order_id);
CREATE TABLE IF NOT EXISTS oms_reports (
    exec_id TEXT PRIMARY KEY, order_id TEXT NOT NULL, exec_type TEXT NOT NULL,
    ord_status TEXT NOT NULL, cum_qty TEXT NOT NULL, avg_px TEXT NOT NULL,
    leaves_qty TEXT NOT NULL, transact_time REAL NOT NULL);
CREATE INDEX IF NOT EXISTS oms_reports_order ON oms_reports(order_id);
"""

ID_BLOCK = 1000
# OrdStatus values of terminal orders (fixgw.oms.state.TERMINAL), for SQL
_TERMINAL_SQL = "('2','3','4','8','C')"


def _d(v: str | None) -> Decimal | None:
    return None if v is None else Decimal(v)


def _s(v: Decimal | None) -> str | None:
    return None if v is None else str(v)


@dataclass(frozen=True, slots=True)
class JournaledFill:
    venue: str
    trade_id: str
    client_order_id: str
    order_id: str
    symbol: str
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_currency: str | None
    is_maker: bool | None
    exec_id: str | None
    timestamp_ms: int


class Journal:
    """Write side (the OMS) and read side (``fixgw tca``, recovery) of the order journal."""

    def __init__(self, path: Path | str, *, readonly: bool = False):
        self.path = Path(path)
        if readonly:
            self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True,
                                       isolation_level=None, check_same_thread=False)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
        self._depth = 0
        self._id_blocks: dict[str, list[int]] = {}
        self._instance: str | None = None

    def close(self) -> None:
        self._db.close()

    # -- ids -----------------------------------------------------------------------------------

    @property
    def instance(self) -> str:
        """A random token fixed at journal creation: makes child ids unique across journals."""
        if self._instance is None:
            row = self._db.execute("SELECT value FROM oms_meta WHERE key='instance'").fetchone()
            if row is None:
                token = secrets.token_hex(3)
                self._db.execute("INSERT OR IGNORE INTO oms_meta VALUES ('instance', ?)", (token,))
                row = self._db.execute(
                    "SELECT value FROM oms_meta WHERE key='instance'").fetchone()
            self._instance = row[0]
        return self._instance

    def next_id(self, name: str) -> int:
        """The next value of a durable counter (reserved ID_BLOCK at a time)."""
        block = self._id_blocks.get(name)
        if block is None or block[0] >= block[1]:
            with self._tx():
                row = self._db.execute("SELECT value FROM oms_counters WHERE name=?",
                                       (name,)).fetchone()
                start = row[0] if row else 1
                self._db.execute("INSERT OR REPLACE INTO oms_counters VALUES (?, ?)",
                                 (name, start + ID_BLOCK))
            block = self._id_blocks[name] = [start, start + ID_BLOCK]
        value = block[0]
        block[0] += 1
        return value

    # -- writes --------------------------------------------------------------------------------

    class _Tx:
        """Re-entrant: only the outermost ``with`` begins and commits."""

        def __init__(self, journal: "Journal"):
            self.journal = journal

        def __enter__(self):
            if self.journal._depth == 0:
                self.journal._db.execute("BEGIN IMMEDIATE")
            self.journal._depth += 1

        def __exit__(self, exc_type, exc, tb):
            self.journal._depth -= 1
            if self.journal._depth == 0:
                self.journal._db.execute("ROLLBACK" if exc_type else "COMMIT")
            return False

    def _tx(self) -> "Journal._Tx":
        return Journal._Tx(self)

    def claim_cl_ord_id(self, session: str, cl_ord_id: str, order_id: str | None) -> bool:
        """Record a ClOrdID as used on a session; False if it was already used (duplicate)."""
        cur = self._db.execute("INSERT OR IGNORE INTO oms_clordids VALUES (?, ?, ?)",
                               (session, cl_ord_id, order_id))
        return cur.rowcount == 1

    def cl_ord_id_used(self, session: str, cl_ord_id: str) -> bool:
        return self._db.execute("SELECT 1 FROM oms_clordids WHERE session=? AND cl_ord_id=?",
                                (session, cl_ord_id)).fetchone() is not None

    def cl_ord_id_order(self, session: str, cl_ord_id: str) -> str | None:
        """The OrderID a ClOrdID of ``session`` refers to (None: unknown, or claimed without
        an order). Used when the order has left the manager's memory (retention)."""
        row = self._db.execute("SELECT order_id FROM oms_clordids WHERE session=? AND "
                               "cl_ord_id=?", (session, cl_ord_id)).fetchone()
        return row[0] if row else None

    def open_cl_ord_ids(self) -> Iterator[tuple[str, str, str | None]]:
        """(session, ClOrdID, OrderID) of the orders not yet terminal: what a restart keeps
        in memory (every other ClOrdID is checked against the journal on demand)."""
        yield from self._db.execute(
            "SELECT c.session, c.cl_ord_id, c.order_id FROM oms_clordids c "
            "JOIN oms_orders o ON o.order_id = c.order_id "
            f"WHERE o.status NOT IN {_TERMINAL_SQL}")

    def save_order(self, o: ClientOrder) -> None:
        """Insert or update the order's row (commits)."""
        self._db.execute(
            "INSERT OR REPLACE INTO oms_orders VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
            "?,?,?,?,?,?,?,?,?,?)",
            (o.order_id, _order_seq(o.order_id), o.session_key, o.cl_ord_id, o.orig_cl_ord_id,
             o.symbol, o.side.value, o.ord_type.value, str(o.quantity), _s(o.price),
             o.tif.value, o.account, o.expire_time, o.effective_time, o.strategy.value,
             o.urgency.value if o.urgency else None, _s(o.participation_rate),
             _s(o.max_floor),
             json.dumps([[p.name, p.type, p.value] for p in o.strategy_params]),
             o.status.value, str(o.cum_qty), str(o.notional), str(o.fees),
             _s(o.arrival_price), _s(o.shortfall_bps), o.next_child, o.created_at,
             o.updated_at, o.text, o.pending_cl_ord_id))

    def save_child(self, c: ChildOrder, now: float) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO oms_children VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (c.client_order_id, c.order_id, c.venue, c.symbol, c.side.value,
             c.ord_type.value, str(c.quantity), _s(c.price), c.tif.value, int(c.post_only),
             c.state.value, str(c.filled), c.venue_order_id, c.reason, c.created_at, now))

    def record_fill(self, fill: JournaledFill, now: float) -> bool:
        """Insert a fill; False if this (venue, trade id) was already booked."""
        cur = self._db.execute(
            "INSERT OR IGNORE INTO oms_fills VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (fill.venue, fill.trade_id, fill.client_order_id, fill.order_id, fill.symbol,
             fill.side.value, str(fill.price), str(fill.quantity), str(fill.fee),
             fill.fee_currency, None if fill.is_maker is None else int(fill.is_maker),
             fill.exec_id, fill.timestamp_ms, now))
        return cur.rowcount == 1

    def record_report(self, exec_id: str, order_id: str, exec_type: str, ord_status: str,
                      cum_qty: Decimal, avg_px: Decimal, leaves_qty: Decimal,
                      transact_time: float) -> None:
        self._db.execute("INSERT OR REPLACE INTO oms_reports VALUES (?,?,?,?,?,?,?,?)",
                         (exec_id, order_id, exec_type, ord_status, str(cum_qty), str(avg_px),
                          str(leaves_qty), transact_time))

    def transaction(self) -> "Journal._Tx":
        """Group several writes into one commit: ``with journal.transaction(): ...``."""
        return self._tx()

    # -- reads ---------------------------------------------------------------------------------

    def orders(self, *, open_only: bool = False) -> list[ClientOrder]:
        sql = "SELECT * FROM oms_orders"
        if open_only:
            sql += f" WHERE status NOT IN {_TERMINAL_SQL}"
        sql += " ORDER BY seq"
        cur = self._db.execute(sql)
        names = [d[0] for d in cur.description]
        return [_order_from_row(dict(zip(names, r))) for r in cur.fetchall()]

    def order(self, order_id: str) -> ClientOrder | None:
        cur = self._db.execute("SELECT * FROM oms_orders WHERE order_id=?", (order_id,))
        row = cur.fetchone()
        if row is None:
            return None
        return _order_from_row(dict(zip([d[0] for d in cur.description], row)))

    def children(self, order_id: str | None = None) -> list[ChildOrder]:
        if order_id is None:
            cur = self._db.execute("SELECT * FROM oms_children ORDER BY created_at")
        else:
            cur = self._db.execute("SELECT * FROM oms_children WHERE order_id=? "
                                   "ORDER BY created_at", (order_id,))
        names = [d[0] for d in cur.description]
        return [_child_from_row(dict(zip(names, r))) for r in cur.fetchall()]

    def child(self, client_order_id: str) -> ChildOrder | None:
        cur = self._db.execute("SELECT * FROM oms_children WHERE client_order_id=?",
                               (client_order_id,))
        row = cur.fetchone()
        return None if row is None else _child_from_row(dict(zip([d[0] for d in cur.description],
                                                                 row)))

    def child_by_venue_order_id(self, venue: str, venue_order_id: str) -> ChildOrder | None:
        cur = self._db.execute("SELECT * FROM oms_children WHERE venue=? AND venue_order_id=?",
                               (venue, venue_order_id))
        row = cur.fetchone()
        return None if row is None else _child_from_row(dict(zip([d[0] for d in cur.description],
                                                                 row)))

    def fills(self, order_id: str | None = None) -> list[JournaledFill]:
        if order_id is None:
            cur = self._db.execute("SELECT * FROM oms_fills ORDER BY timestamp_ms")
        else:
            cur = self._db.execute("SELECT * FROM oms_fills WHERE order_id=? "
                                   "ORDER BY timestamp_ms", (order_id,))
        names = [d[0] for d in cur.description]
        return [_fill_from_row(dict(zip(names, r))) for r in cur.fetchall()]

    def recent_fills(self, limit: int = 1000) -> list[tuple[JournaledFill, str, float]]:
        """The ``limit`` most recently journaled fills, newest first, each with its order's
        session key and the time it was recorded (recovery: ERs that may not have gone out)."""
        cur = self._db.execute(
            "SELECT f.*, o.session AS order_session FROM oms_fills f "
            "JOIN oms_orders o ON o.order_id = f.order_id ORDER BY f.rowid DESC LIMIT ?",
            (limit,))
        names = [d[0] for d in cur.description]
        out = []
        for r in cur.fetchall():
            row = dict(zip(names, r))
            out.append((_fill_from_row(row), row["order_session"], row["recorded_at"]))
        return out

    def stored_outgoing(self, session_key: str, limit: int) -> list[bytes] | None:
        """The session store's last ``limit`` outgoing messages of ``session_key`` (raw FIX),
        newest first; read-only access to the session layer's ``fix_outgoing`` table, which
        lives in the same database file. None when there is no such table (memory store)."""
        try:
            rows = self._db.execute("SELECT raw FROM fix_outgoing WHERE session_key=? "
                                    "ORDER BY seq DESC LIMIT ?", (session_key, limit)).fetchall()
        except sqlite3.OperationalError:
            return None
        return [bytes(r[0]) for r in rows]

    def stored_sessions(self) -> dict[str, float] | None:
        """Session key -> creation time (last sequence reset) from the session store's
        ``fix_session`` table; None when there is no such table."""
        try:
            rows = self._db.execute("SELECT session_key, created FROM fix_session").fetchall()
        except sqlite3.OperationalError:
            return None
        return {k: float(c) for k, c in rows}

    def has_fill(self, venue: str, trade_id: str) -> bool:
        return self._db.execute("SELECT 1 FROM oms_fills WHERE venue=? AND trade_id=?",
                                (venue, trade_id)).fetchone() is not None

    def session_cl_ord_ids(self) -> Iterator[tuple[str, str, str | None]]:
        yield from self._db.execute("SELECT session, cl_ord_id, order_id FROM oms_clordids")


def _order_seq(order_id: str) -> int:
    digits = "".join(ch for ch in order_id if ch.isdigit())
    return int(digits) if digits else 0


def _order_from_row(r: dict) -> ClientOrder:
    params = tuple(StrategyParameter(n, t, v) for n, t, v in json.loads(r["params"] or "[]"))
    return ClientOrder(
        order_id=r["order_id"], session_key=r["session"], cl_ord_id=r["cl_ord_id"],
        orig_cl_ord_id=r["orig_cl_ord_id"], symbol=r["symbol"], side=Side(r["side"]),
        ord_type=OrdType(r["ord_type"]), quantity=Decimal(r["quantity"]),
        price=_d(r["price"]), tif=TimeInForce(r["tif"]), account=r["account"],
        expire_time=r["expire_time"], effective_time=r["effective_time"],
        strategy=Strategy(r["strategy"]),
        urgency=Urgency(r["urgency"]) if r["urgency"] else None,
        participation_rate=_d(r["participation_rate"]), max_floor=_d(r["max_floor"]),
        strategy_params=params, status=OrdStatus(r["status"]), cum_qty=Decimal(r["cum_qty"]),
        notional=Decimal(r["notional"]), fees=Decimal(r["fees"]),
        arrival_price=_d(r["arrival_price"]), shortfall_bps=_d(r["shortfall_bps"]),
        next_child=r["next_child"], created_at=r["created_at"], updated_at=r["updated_at"],
        text=r["text"], pending_cl_ord_id=r["pending_cl_ord_id"])


def _child_from_row(r: dict) -> ChildOrder:
    return ChildOrder(
        client_order_id=r["client_order_id"], order_id=r["order_id"], venue=r["venue"],
        symbol=r["symbol"], side=Side(r["side"]), ord_type=OrdType(r["ord_type"]),
        quantity=Decimal(r["quantity"]), price=_d(r["price"]), tif=TimeInForce(r["tif"]),
        post_only=bool(r["post_only"]), state=ChildState(r["state"]),
        filled=Decimal(r["filled"]), venue_order_id=r["venue_order_id"], reason=r["reason"],
        created_at=r["created_at"])


def _fill_from_row(r: dict) -> JournaledFill:
    return JournaledFill(
        venue=r["venue"], trade_id=r["trade_id"], client_order_id=r["client_order_id"],
        order_id=r["order_id"], symbol=r["symbol"], side=Side(r["side"]),
        price=Decimal(r["price"]), quantity=Decimal(r["quantity"]), fee=Decimal(r["fee"]),
        fee_currency=r["fee_currency"],
        is_maker=None if r["is_maker"] is None else bool(r["is_maker"]),
        exec_id=r["exec_id"], timestamp_ms=r["timestamp_ms"])
