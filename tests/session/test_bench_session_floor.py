"""scripts/bench_session.py's measuring aids: the floor acceptor, the latency it lets us read
as "added by the acceptor", the acceptor CPU that counts child processes, and --dump."""
from __future__ import annotations

import importlib.util
import os
import pathlib
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[2]


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_session",
                                                  REPO / "scripts" / "bench_session.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_session", module)     # its dataclasses look themselves up
    spec.loader.exec_module(sys.modules["bench_session"])
    return sys.modules["bench_session"]


def test_the_acceptors_cpu_includes_its_child_processes():
    bench = load_bench()
    child = subprocess.Popen([sys.executable, "-c",
                              "import time\nend = time.process_time() + 0.6\n"
                              "while time.process_time() < end: pass\n"
                              "time.sleep(60)"])
    try:
        tree_before = bench.process_cpu_seconds(os.getpid())
        child_before = bench.process_cpu_seconds(child.pid)
        deadline = time.monotonic() + 30             # however loaded the machine is
        while bench.process_cpu_seconds(child.pid) < 0.55 and time.monotonic() < deadline:
            time.sleep(0.05)
        child_used = bench.process_cpu_seconds(child.pid) - child_before
        tree_used = bench.process_cpu_seconds(os.getpid()) - tree_before
    finally:
        child.kill()
        child.wait()
    assert child_used >= 0.4
    assert tree_used >= child_used - 0.02          # clock ticks: 10 ms each
    assert bench.process_cpu_seconds(2 ** 22 + 7) is None      # no such process


def test_added_over_the_floor_is_each_acceptors_percentiles_minus_the_floors_same_round():
    bench = load_bench()

    def result(target, round_no, p50, p99):
        return bench.PhaseResult(target, "open 1000/s", 10, 10, 1.0, 10.0, p50, p99, p99, p99,
                                 1.0, 1.0, 0, round=round_no)

    text = bench.format_above_floor([
        result("floor", 1, 0.040, 0.090), result("fixgw", 1, 0.050, 0.120),
        result("quickfix", 1, 0.065, 0.130),
        result("floor", 2, 0.045, 0.120), result("fixgw", 2, 0.056, 0.150),
        result("quickfix", 2, 0.070, 0.150),
        result("floor", 3, 0.038, 0.080), result("fixgw", 3, 0.049, 0.115),
        result("quickfix", 3, 0.064, 0.140)])
    line = text.splitlines()[1]
    assert "fixgw p50 +11  p99 +30" in line          # medians of (10, 11, 11) and (30, 30, 35)
    assert "quickfix p50 +25  p99 +40" in line       # (25, 25, 26) and (40, 30, 60)
    assert "(floor p99 80-120)" in line
    assert bench.format_above_floor([result("fixgw", 1, 0.05, 0.1)]) == ""


def test_a_short_run_against_the_floor_dumps_every_message(tmp_path):
    dump = tmp_path / "dump"
    run = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench_session.py"), "--targets", "fixgw,floor",
         "--rates", "400", "--duration", "0.5", "--window", "0", "--warmup", "50",
         "--dump", str(dump)],
        capture_output=True, text=True, timeout=120, cwd=REPO)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "added over the floor" in run.stdout
    assert "floor: store" not in run.stdout          # the floor keeps nothing
    files = sorted(p.name for p in dump.iterdir())
    assert files == ["fixgw-open-400-s-1.txt", "floor-open-400-s-1.txt"]   # no warm-up
    for name in files:
        rows = [line.split() for line in (dump / name).read_text().splitlines()]
        assert len(rows) == 200
        sent = [float(r[0]) for r in rows]
        assert sent == sorted(sent)
        assert all(0 < float(r[1]) < 1e6 for r in rows)        # microseconds
