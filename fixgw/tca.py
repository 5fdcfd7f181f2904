"""``fixgw tca``: transaction cost analysis of the parent orders in the gateway's journal.

Reads the OMS journal (orders, fills) and the execution traces the OMS saved for algo parents
(:mod:`fixgw.tca_store`) from the gateway database, prints a per-order and a per-strategy
report, and writes one PNG chart per order (fills vs schedule vs market) when matplotlib is
installed. The analysis itself (:mod:`fixgw.tca_report`) works on plain records; this module is
only the adapter from the journal to them.
"""
from __future__ import annotations

import argparse
import sqlite3
import sys
from decimal import Decimal
from pathlib import Path

from fixgw.domain import Strategy
from fixgw.tca_report import (FillRecord, OrderTca, ParentRecord, analyze, format_orders,
                              format_strategies, summarize)

DEFAULT_DB_CANDIDATES = (Path("var/fixgw.db"), Path("var/gateway.db"))
STRATEGY_NAMES = {s: s.name for s in Strategy}


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?",
                        help="the gateway's YAML: its state_dir locates <state_dir>/fixgw.db")
    parser.add_argument("--db", type=Path, default=None,
                        help="gateway SQLite database (default: <state_dir>/fixgw.db of CONFIG, "
                             "else var/fixgw.db, or the only *.db in var/)")
    parser.add_argument("--charts", type=Path, default=Path("var/tca"),
                        help="directory for the per-order PNG charts (default var/tca)")
    parser.add_argument("--no-charts", action="store_true", help="do not write charts")
    parser.add_argument("--order", action="append", default=[],
                        help="only this OrderID (repeatable)")
    parser.add_argument("--algo-only", action="store_true",
                        help="only parents with a TargetStrategy (skip DMA orders)")


def find_database(explicit: Path | None, config: str | None = None) -> Path:
    if explicit is not None:
        if not explicit.is_file():
            raise FileNotFoundError(f"--db {explicit}: no such file")
        return explicit
    if config:
        from fixgw.config import load_yaml   # only when a config is named: keeps the CLI light
        path = Path(str(load_yaml(config).get("state_dir") or "var")) / "fixgw.db"
        if not path.is_file():
            raise FileNotFoundError(f"{config}: its database {path} does not exist (yet)")
        return path
    for p in DEFAULT_DB_CANDIDATES:
        if p.is_file():
            return p
    found = sorted(Path("var").glob("*.db")) if Path("var").is_dir() else []
    if len(found) == 1:
        return found[0]
    raise FileNotFoundError("no gateway database found: pass --db PATH (looked for "
                            + ", ".join(map(str, DEFAULT_DB_CANDIDATES)) + " and var/*.db)")


def base_and_quote(symbol: str) -> tuple[str, str]:
    base, _, rest = symbol.partition("/")
    return base, rest.split(":")[0]


def load_records(db: Path) -> list[tuple[ParentRecord, list[FillRecord]]]:
    """Parents and fills from the OMS journal (read-only)."""
    from fixgw.oms.journal import Journal
    journal = Journal(db, readonly=True)
    try:
        out = []
        for o in journal.orders():
            base, quote = base_and_quote(o.symbol)
            fills = []
            for f in journal.fills(o.order_id):
                fee = f.fee
                if f.fee_currency and f.fee_currency.upper() == base.upper():
                    fee = f.fee * f.price          # fee taken in the asset bought
                elif f.fee_currency and f.fee_currency.upper() != quote.upper():
                    fee = Decimal(0)               # e.g. BNB discounts: not convertible here
                fills.append(FillRecord(o.order_id, f.timestamp_ms / 1000, f.venue, f.price,
                                        f.quantity, fee))
            terminal = o.status.value in ("2", "3", "4", "8", "C")
            out.append((ParentRecord(
                order_id=o.order_id, symbol=o.symbol, side=o.side,
                strategy=STRATEGY_NAMES[o.strategy], urgency=o.urgency.value if o.urgency else None,
                quantity=o.quantity, arrival_price=o.arrival_price,
                start=o.effective_time or o.created_at, end=o.expire_time,
                finished_at=o.updated_at if terminal else None, status=o.status.name,
                limit_price=o.price), fills))
        return out
    finally:
        journal.close()


def load_traces(db: Path):
    from fixgw.tca_store import TcaStore
    store = TcaStore(db, readonly=True)
    try:
        return store.traces()
    finally:
        store.close()


def tca_command(args: argparse.Namespace) -> int:
    try:
        return _tca(args)
    except BrokenPipeError:   # `fixgw tca | head`: the reader left, nothing more to say
        return 0


def _tca(args: argparse.Namespace) -> int:
    try:
        db = find_database(getattr(args, "db", None), getattr(args, "config", None))
        records = load_records(db)
        traces = load_traces(db)
    except (FileNotFoundError, sqlite3.Error, ValueError) as e:
        print(f"fixgw tca: {e}", file=sys.stderr)
        return 2
    wanted = set(getattr(args, "order", []) or [])
    results: list[tuple[OrderTca, list[FillRecord]]] = []
    for parent, fills in records:
        if wanted and parent.order_id not in wanted:
            continue
        if getattr(args, "algo_only", False) and parent.strategy == "DMA":
            continue
        results.append((analyze(parent, fills, traces.get(parent.order_id)), fills))
    if not results:
        print(f"fixgw tca: no orders in {db}")
        return 0
    print(f"TCA of {len(results)} order(s) from {db}\n")
    print(format_orders([r for r, _ in results]))
    print()
    print(format_strategies(summarize(r for r, _ in results)))
    if not getattr(args, "no_charts", False):
        from fixgw.tca_chart import charts_available, write_chart
        if not charts_available():
            print("\ncharts skipped: matplotlib is not installed (pip install matplotlib)")
        else:
            directory = getattr(args, "charts", Path("var/tca"))
            for r, fills in results:
                write_chart(r, fills, traces.get(r.parent.order_id), directory)
            print(f"\n{len(results)} chart(s) written to {directory}/")
    return 0
