#!/usr/bin/env python3
"""Instructions per inbound NewOrderSingle on the session hot path, counted by callgrind.

Why instructions: the build machine is a shared, noisy VM where wall-clock A/B runs of a few
seconds mislead; ``valgrind --tool=callgrind`` counts executed instructions (Ir)
deterministically, whatever the load. The figure is a difference of two runs::

    instructions/message = (Ir(N2 messages) - Ir(N1 messages)) / (N2 - N1)

so start-up (imports, the gateway, the logon) cancels out.

Each run builds the same in-process setup as scripts/bench_hotpath.py: the real gateway
(``fixgw.app.Gateway`` from sessions/conformance.yaml: SQLite store, message log, echo), a
logon, then pre-encoded NewOrderSingles fed through ``ConnectionCore`` exactly as the
transport's ``FixConnection`` does (``data_received``, ``pending``, ``take_output``,
``next_deadline``), with a FakeClock advanced 1 ms per message. Input is deterministic (fixed
start time, ``PYTHONHASHSEED=0``). Only the message loop is collected: it is called
through ``operator.call`` (used nowhere else) and callgrind runs with ``--collect-atstart=no
--toggle-collect=_operator_call``; the store commit and the message-log formatting after
every 500 messages (what the transport does after its writes) run outside it, as do the
message encoding and the setup.

    python scripts/count_hotpath_instructions.py                  # 2,000 and 6,000 messages
    python scripts/count_hotpath_instructions.py --counts 1000 3000 --keep /tmp/cg
    python scripts/count_hotpath_instructions.py --run 2000       # one run, no valgrind

With ``--keep DIR`` the callgrind.out files stay there for ``callgrind_annotate``.
"""
from __future__ import annotations

import argparse
import gc
import operator
import os
import pathlib
import re
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO))

START = 1_790_000_000.0     # a fixed epoch second: the same timestamps on every run
CHUNK = 500                 # messages between two commits/log formats (outside the count)



def run(count: int) -> None:
    """Build the gateway, log on, and serve ``count`` NewOrderSingles (the collected part)."""
    from bench_hotpath import logged_on_connection, orders
    from fixgw.clock import FakeClock

    with tempfile.TemporaryDirectory(prefix="count_hotpath") as tmp:
        clock = FakeClock(t=START)
        gateway, conn = logged_on_connection(pathlib.Path(tmp), clock, "count")
        # a warm-up outside the count: shape caches, timestamp caches, first allocations
        seq = 2
        advance = clock.advance

        def serve(msgs: list[bytes]) -> None:
            """What FixConnection does per message, minus the commit and the socket."""
            for m in msgs:
                advance(0.001)
                conn.data_received(m, clock.t)
                if conn.pending:
                    conn.take_output()
                    conn.next_deadline()

        for m in orders(seq, 50, clock.now()):
            clock.advance(0.001)
            conn.data_received(m, clock.t)
            conn.take_output()
        seq += 50

        def flush() -> None:
            gateway.store.commit()
            for msg_log in gateway.logs:
                msg_log.format()

        flush()
        gc.collect()
        gc.freeze()
        done = 0
        while done < count:
            n = min(CHUNK, count - done)
            msgs = orders(seq, n, clock.now())
            seq += n
            operator.call(serve, msgs)      # the collected region (see the module docstring)
            flush()
            done += n
        gc.unfreeze()
        reply_check = conn.session.next_sender
        assert reply_check == seq, (reply_check, seq)   # every message answered
        gateway.store.close()
        gateway.log_writer.close()
        for msg_log in gateway.logs:
            msg_log.close()


def callgrind_ir(count: int, keep: pathlib.Path | None) -> int:
    out_dir = keep or pathlib.Path(tempfile.mkdtemp(prefix="count_hotpath_cg"))
    out_dir.mkdir(parents=True, exist_ok=True)
    out_file = out_dir / f"callgrind.out.{count}"
    env = dict(os.environ, PYTHONHASHSEED="0")
    cmd = ["valgrind", "--tool=callgrind", "--collect-atstart=no",
           "--toggle-collect=_operator_call", f"--callgrind-out-file={out_file}",
           sys.executable, __file__, "--run", str(count)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"callgrind run of {count} messages failed ({proc.returncode})")
    text = out_file.read_text()
    match = re.search(r"^(?:summary|totals):\s+(\d+)", text, re.M)
    if match is None:
        raise SystemExit(f"no Ir total in {out_file}")
    if keep is None:
        out_file.unlink()
        out_dir.rmdir()
    return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--counts", type=int, nargs=2, default=(2000, 6000),
                        metavar=("N1", "N2"), help="message counts of the two runs")
    parser.add_argument("--keep", type=pathlib.Path, help="keep the callgrind.out files here")
    parser.add_argument("--run", type=int, help=argparse.SUPPRESS)   # the child process
    args = parser.parse_args()
    if args.run is not None:
        run(args.run)
        return
    n1, n2 = args.counts
    ir1 = callgrind_ir(n1, args.keep)
    ir2 = callgrind_ir(n2, args.keep)
    print(f"Python {sys.version.split()[0]}; Ir({n1}) = {ir1:,}; Ir({n2}) = {ir2:,}")
    print(f"instructions/message = {(ir2 - ir1) / (n2 - n1):,.0f}")


if __name__ == "__main__":
    main()
