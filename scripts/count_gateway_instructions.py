#!/usr/bin/env python3
"""User-space instructions per NewOrderSingle in the whole gateway, over real sockets.

Where scripts/count_hotpath_instructions.py counts the session hot path in-process, this
runs ``fixgw run`` (the bench configuration of scripts/bench_session.py: conformance
sessions, SQLite store with its journal, message log, echo) under valgrind's callgrind, logs
on over TCP and sends orders one at a time (each after the previous reply, 2 ms apart, as a
lone message arrives). After a warm-up it zeroes the counters, sends ``--messages`` orders,
and dumps. It prints per message:

* all instructions of the gateway process (every thread: event loop, log writer, store
  helper; the journal applier is its own process and not counted);
* the reply's path: everything run from the socket read callback (``uv__stream_io``), i.e.
  framing up to the reply's socket write, plus what ``data_received`` does after it;
* the rest: the turn's end (log formatting, timers, the applier nudge) and the threads.

Instructions, not time: repeatable whatever the load on a shared machine. Needs valgrind.

    python scripts/count_gateway_instructions.py                 # ~30 s
    FIXGW_PURE_PYTHON=1 python scripts/count_gateway_instructions.py   # without the C speedups
"""
from __future__ import annotations

import argparse
import asyncio
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import bench_session  # noqa: E402

READ_CALLBACK = "uv__stream_io"


async def drive(workdir: pathlib.Path, out_dir: pathlib.Path, messages: int, warmup: int) -> int:
    acceptor = bench_session.fixgw_acceptor(workdir, bench_session.DEFAULT_FIXGW_CONFIG)
    acceptor.argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_dir}/cg.%p",
                     "--collect-atstart=yes"] + acceptor.argv
    acceptor.start(timeout=600)
    try:
        session = bench_session.Session(acceptor.host, acceptor.port, acceptor.proc.pid)
        await session.connect()
        protocol = session.protocol

        async def one_at_a_time(count: int) -> None:
            orders, _ = session._prepare(count)
            for order in orders:
                before = len(protocol.arrivals)
                protocol.transport.write(order)
                while len(protocol.arrivals) == before:
                    await asyncio.sleep(0.0005)
                await asyncio.sleep(0.002)

        await one_at_a_time(warmup)
        subprocess.run(["callgrind_control", "-z", str(acceptor.proc.pid)], check=True,
                       stdout=subprocess.DEVNULL)
        await one_at_a_time(messages)
        subprocess.run(["callgrind_control", "-d", str(acceptor.proc.pid)], check=True,
                       stdout=subprocess.DEVNULL)
        await session.close()
        return acceptor.proc.pid
    finally:
        acceptor.stop()


def inclusive(dump: pathlib.Path) -> tuple[int, int]:
    """(program total, inclusive cost of the read callback) from callgrind_annotate."""
    text = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(dump)],
                          capture_output=True, text=True, check=True).stdout
    number = r"([\d,]+)"
    total = int(re.search(number + r"\s+\(100\.0%\)\s+PROGRAM TOTALS", text).group(1).replace(",", ""))
    read = re.search(number + r"\s+\([\d.]+%\)\s+\S*:" + READ_CALLBACK + r"\b", text)
    return total, int(read.group(1).replace(",", "")) if read else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=300)
    args = parser.parse_args()
    for tool in ("valgrind", "callgrind_control", "callgrind_annotate"):
        if shutil.which(tool) is None:
            print(f"{tool} not found: install valgrind", file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory(prefix="count-gateway-") as tmp:
        tmp_path = pathlib.Path(tmp)
        (tmp_path / "gw").mkdir()
        pid = asyncio.run(drive(tmp_path / "gw", tmp_path, args.messages, args.warmup))
        dumps = sorted(tmp_path.glob(f"cg.{pid}.*"))
        if not dumps:
            print("callgrind wrote no dump", file=sys.stderr)
            return 1
        total, read = inclusive(dumps[-1])
    n = args.messages
    print(f"{n} orders, one at a time: per message {total / n:,.0f} instructions in the "
          f"gateway process; reply path ({READ_CALLBACK}) {read / n:,.0f}; "
          f"the rest {(total - read) / n:,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
