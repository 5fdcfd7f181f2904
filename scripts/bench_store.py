#!/usr/bin/env python3
"""Session-store commit cost: the journaled commit the gateway uses vs an SQLite transaction.

Each commit is what one lone NewOrderSingle's echo makes durable before its reply is written:
one outgoing message (a 260-byte ER-sized blob) and the session's sequence numbers. Both
stores are the real :class:`fixgw.session.store.SqliteStore` on a temporary directory:

* baseline: ``commit()`` inline, one SQLite (WAL, synchronous=normal) transaction per commit;
* journaled: after ``start_background_writer()``, ``commit()`` appends one record to the store
  journal (a copy into a memory-mapped file) and the applier process applies it to the tables
  (its work is not on this path).

Rounds alternate between the two; the median per-commit time of each and their ratio is printed.

    python scripts/bench_store.py               # ~10 s
    python scripts/bench_store.py --commits 50000 --rounds 7
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from fixgw.session.store import SqliteStore

KEY = "FIX.4.4:ISLD->TW44"
RAW = b"8=FIX.4.4\x01" + b"x" * 250


def per_commit_us(store: SqliteStore, commits: int, first_seq: int) -> float:
    started = time.perf_counter()
    for seq in range(first_seq, first_seq + commits):
        store.save_message(KEY, seq, RAW)
        store.set_seqnums(KEY, seq + 1, seq)
        store.commit()
    return (time.perf_counter() - started) / commits * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--commits", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        inline = SqliteStore(Path(tmp) / "inline.db")
        journaled = SqliteStore(Path(tmp) / "journaled.db")
        journaled.start_background_writer()
        for store in (inline, journaled):
            store.load(KEY)
        results: dict[str, list[float]] = {"sqlite transaction": [], "journal append": []}
        seq = 1
        for _ in range(args.rounds):
            results["sqlite transaction"].append(per_commit_us(inline, args.commits, seq))
            results["journal append"].append(per_commit_us(journaled, args.commits, seq))
            seq += args.commits
        inline.close()
        journaled.close()
    medians = {name: statistics.median(values) for name, values in results.items()}
    for name, value in medians.items():
        print(f"{name:20s} {value:6.2f} us per commit (median of {args.rounds} rounds of "
              f"{args.commits})")
    print(f"journal / sqlite: x{medians['journal append'] / medians['sqlite transaction']:.2f}")


if __name__ == "__main__":
    main()
