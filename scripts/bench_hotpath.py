#!/usr/bin/env python3
"""In-process micro-benchmark of the per-message FIX session hot path, against simplefix.

What is timed is exactly what the transport (``fixgw.transport.server.FixConnection``) asks
the sans-I/O connection for one inbound NewOrderSingle on a logged-on echo session:
``ConnectionCore.data_received`` (framing, parse, dictionary validation, session checks, the
echo application, numbering and encoding of the reply), ``pending``, ``take_output`` and
``next_deadline`` (re-arming the heartbeat timer). No socket and no store commit: the commit and the socket write are the transport's and the
store's, and are measured end to end by scripts/bench_session.py. The gateway is the real one
(``fixgw.app.Gateway`` built from sessions/conformance.yaml: SQLite store, message log, echo).

The clock is a FakeClock advanced by 1 ms per message, so every reply gets a new SendingTime
as it would at 1,000 messages/s (a frozen clock would flatter per-millisecond caches).

Two modes, each reported as microseconds per message:

* ``warm``: a tight loop over ``--count`` pre-encoded messages (best of ``--rounds``);
* ``cold``: each message timed on its own after streaming ``--pollute-mb`` of memory through
  the CPU caches, like a gateway that handles one message per millisecond between other work;
  p50 and p99 of the per-message times. The default, 2 MB, evicts this core's L1 and L2 (the
  interpreter's code and data then come from L3); streaming more also thrashes the L3 that
  other processes share, and the figures then mostly measure them.

Baseline in the same command: simplefix 1.0 (``FixParser.append_buffer`` + ``get_message``)
parsing the same bytes, warm and cold. The ratio ``fixgw full path / simplefix parse only``
compares our *whole* request-reply path with a popular pure-Python parser's parsing alone.

    python scripts/bench_hotpath.py                 # ~30 s
    python scripts/bench_hotpath.py --profile       # plus a cProfile of the warm loop
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import pathlib
import pstats
import sys
import tempfile
import time

import yaml

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fixgw.app import Gateway  # noqa: E402
from fixgw.clock import FakeClock  # noqa: E402
from fixgw.session.config import load_config  # noqa: E402

sys.path.insert(0, str(REPO / "scripts"))
from bench_session import encode  # noqa: E402  (one framing of the TW44 -> ISLD orders)

def fix_text(now: float) -> str:
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}"


def orders(first_seq: int, count: int, start: float) -> list[bytes]:
    """NewOrderSingles whose SendingTime advances 1 ms per message, like a 1,000/s client."""
    return [encode("D", first_seq + i,
                   f"11={100000 + first_seq + i}\x0121=1\x0138=100\x0140=2\x0144=10.5\x0154=1\x01"
                   f"55=BTCUSDT\x0160={fix_text(start + i / 1000)}\x01",
                   fix_text(start + i / 1000))
            for i in range(count)]


def build_gateway(workdir: pathlib.Path, clock: FakeClock) -> Gateway:
    config_path = REPO / "sessions" / "conformance.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["state_dir"] = str(workdir / "state")
    config.setdefault("limits", {})["max_inbound_messages_per_s"] = 10_000_000
    for section in [config.get("session_defaults", {})] + list(config.get("sessions", [])):
        if "dictionary" in section:
            section["dictionary"] = [str((config_path.parent / p).resolve())
                                     for p in section["dictionary"]]
    (workdir / "bench.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    gateway = Gateway(load_config(workdir / "bench.yaml", 0), clock)
    application = gateway.service.application
    for runtime in gateway.runtimes.values():
        runtime.bind(application)
        application.on_create(runtime)
    return gateway


class Polluter:
    """Streams a large buffer through the caches between two timed messages."""

    def __init__(self, megabytes: int) -> None:
        self._data = bytes(range(256)) * (megabytes * 4096)
        self._table = bytes(range(255, -1, -1))

    def __call__(self) -> None:
        if self._data:
            self._data.translate(self._table)


def logged_on_connection(workdir: pathlib.Path, clock, peer: str):
    """The gateway built from the conformance config and one ConnectionCore logged on to it
    (seq 1 used): what both this benchmark and count_hotpath_instructions.py feed."""
    gateway = build_gateway(workdir, clock)
    conn = gateway.acceptor.new_connection(clock.now(), peer)
    conn.data_received(encode("A", 1, "98=0\x01108=30\x01141=Y\x01", fix_text(clock.now())),
                       clock.now())
    out, close = conn.take_output()
    assert out and b"35=A\x01" in out and not close, out
    return gateway, conn


def fixgw_runs(args, workdir: pathlib.Path) -> dict[str, float]:
    clock = FakeClock(t=time.time())
    gateway, conn = logged_on_connection(workdir, clock, "bench")
    seq = 2

    def flush() -> None:
        """What the transport does after each event-loop turn, outside the timed path."""
        gateway.store.commit()
        for msg_log in gateway.logs:
            msg_log.format()
    gc.collect()
    gc.freeze()

    def batch(count: int) -> list[bytes]:
        nonlocal seq
        msgs = orders(seq, count, clock.now())
        seq += count
        return msgs

    def check(reply: bytes) -> None:
        assert reply.count(b"\x0135=D\x01") == 1, reply

    def serve(raw: bytes, now: float) -> bytes:
        """FixConnection._feed, write_pending and _arm, minus the commit and the socket."""
        conn.data_received(raw, now)
        if conn.pending:
            data, close = conn.take_output()
            conn.next_deadline()
            return data
        return b""

    results: dict[str, float] = {}
    best = float("inf")
    advance = clock.advance
    for _ in range(args.rounds):
        msgs = batch(args.count)
        t0 = time.perf_counter()
        for m in msgs:
            advance(0.001)
            serve(m, clock.t)
        best = min(best, (time.perf_counter() - t0) / len(msgs))
        flush()
    results["warm"] = best * 1e6

    pollute = Polluter(args.pollute_mb)
    times = []
    for m in batch(args.cold_count):
        advance(0.001)
        pollute()
        t0 = time.perf_counter_ns()
        reply = serve(m, clock.t)
        times.append(time.perf_counter_ns() - t0)
        check(reply)
    flush()
    times.sort()
    results["cold p50"] = times[len(times) // 2] / 1000
    results["cold p99"] = times[int(len(times) * 0.99)] / 1000

    if args.profile:
        msgs = batch(args.count)
        profiler = cProfile.Profile()
        profiler.enable()
        for m in msgs:
            advance(0.001)
            serve(m, clock.t)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    gc.unfreeze()
    gateway.store.close()
    gateway.log_writer.close()
    for msg_log in gateway.logs:
        msg_log.close()
    return results


def simplefix_runs(args) -> dict[str, float]:
    import simplefix

    start = time.time()
    best = float("inf")
    for _ in range(args.rounds):
        msgs = orders(2, args.count, start)
        t0 = time.perf_counter()
        for m in msgs:
            parser = simplefix.FixParser()
            parser.append_buffer(m)
            parser.get_message()
        best = min(best, (time.perf_counter() - t0) / len(msgs))
    results = {"warm": best * 1e6}
    pollute = Polluter(args.pollute_mb)
    times = []
    for m in orders(2, args.cold_count, start):
        pollute()
        t0 = time.perf_counter_ns()
        parser = simplefix.FixParser()
        parser.append_buffer(m)
        msg = parser.get_message()
        times.append(time.perf_counter_ns() - t0)
        assert msg.get(35) == b"D"
    times.sort()
    results["cold p50"] = times[len(times) // 2] / 1000
    results["cold p99"] = times[int(len(times) * 0.99)] / 1000
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=20000, help="messages per warm round")
    parser.add_argument("--rounds", type=int, default=5, help="warm rounds (best is kept)")
    parser.add_argument("--cold-count", type=int, default=3000, help="individually timed messages")
    parser.add_argument("--pollute-mb", type=int, default=2,
                        help="memory streamed through the caches before each cold message")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of a warm loop")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench_hotpath") as tmp:
        ours = fixgw_runs(args, pathlib.Path(tmp))
    base = simplefix_runs(args)
    print(f"Python {sys.version.split()[0]}, {args.count} msgs x {args.rounds} warm rounds, "
          f"{args.cold_count} cold msgs ({args.pollute_mb} MB streamed before each)")
    print(f"{'us/message':<14}{'fixgw full path':>17}{'simplefix parse':>17}{'ratio':>8}")
    for key in ("warm", "cold p50", "cold p99"):
        print(f"{key:<14}{ours[key]:>17.2f}{base[key]:>17.2f}{ours[key] / base[key]:>8.2f}")
    print("fixgw full path = frame + parse + validate + session checks + echo + encode reply; "
          "simplefix = parse only")


if __name__ == "__main__":
    main()
