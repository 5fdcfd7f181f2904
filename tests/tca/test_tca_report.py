"""The TCA report and `fixgw tca` against a real journal database."""
from __future__ import annotations

import argparse
from decimal import Decimal as D
from pathlib import Path

from fixgw.algo import MarketSnapshot, ParentSpec, make_scheduler
from fixgw.algo.types import Instrument
from fixgw.domain import OrdStatus, OrdType, Side, Strategy, TimeInForce, Urgency
from fixgw.oms.journal import Journal, JournaledFill
from fixgw.oms.order import ClientOrder
from fixgw.tca import configure_parser, tca_command
from fixgw.tca_report import FillRecord, ParentRecord, analyze, summarize
from fixgw.tca_store import TcaStore, decode_trace, encode_trace

T0 = 1_700_000_000.0
INSTR = Instrument("BTC/USDT", D("0.01"), D("0.001"))


def make_trace(qty: D):
    """A real scheduler trace: TWAP buy, market volume/notional moving, two fills."""
    p = ParentSpec("O-1", Side.BUY, qty, Strategy.TWAP, start=T0, end=T0 + 100)
    s = make_scheduler(p, INSTR, 1)
    snap = lambda t, v, n: MarketSnapshot(t, D(100), D("100.2"), traded_volume=v,
                                          traded_notional=n)
    s.on_start(T0, snap(T0, D(1000), D(100000)))
    s.on_fill("O-1-1", D(4), D("100.1"), T0 + 10)
    s.on_timer(T0 + 50, snap(T0 + 50, D(1040), D(104004)))
    s.on_fill("O-1-2", D(6), D("100.2"), T0 + 60)
    s.on_timer(T0 + 100, snap(T0 + 100, D(1100), D(110010)))
    return s.trace()


def test_trace_roundtrip_and_order_analysis():
    trace = make_trace(D(10))
    assert decode_trace(encode_trace(trace)) == trace
    parent = ParentRecord("O-1", "BTC/USDT", Side.BUY, "TWAP", None, D(10), D("100.1"), T0,
                          T0 + 100, T0 + 100, "FILLED")
    fills = [FillRecord("O-1", T0 + 10, "alpha", D("100.1"), D(4), D("0.2")),
             FillRecord("O-1", T0 + 60, "beta", D("100.2"), D(6), D("0.3"))]
    r = analyze(parent, fills, trace)
    assert r.avg_price == D("100.16")
    assert r.shortfall.execution_bps == D("0.06") / D("100.1") * 10000
    assert r.shortfall.fees_bps == D("0.5") / D("1001") * 10000
    assert r.interval_vwap == D(10010) / D(100)                      # 100.1
    assert r.participation == D(10) / D(100)
    assert r.deviation_mean is not None and r.venues == ("alpha", "beta")
    [summary] = summarize([r])
    assert summary.orders == 1 and summary.fill_rate == 1.0


def test_opportunity_cost_without_trace_uses_last_fill():
    parent = ParentRecord("O-2", "BTC/USDT", Side.SELL, "POV", None, D(10), D(100), T0, None,
                          T0 + 50, "CANCELED")
    r = analyze(parent, [FillRecord("O-2", T0 + 1, "a", D(99), D(5), D(0))])
    assert r.end_price_source == "last fill"
    assert r.shortfall.total_bps == D(50) + D(50)     # 100 bps on half, twice


def _journal_with_orders(db: Path) -> None:
    j = Journal(db)
    o = ClientOrder(order_id="O-1", session_key="FIXGW->OMS", cl_ord_id="c1", symbol="BTC/USDT",
                    side=Side.BUY, ord_type=OrdType.LIMIT, quantity=D(10), price=D(101),
                    tif=TimeInForce.GTD, expire_time=T0 + 100, effective_time=T0,
                    strategy=Strategy.ARRIVAL, urgency=Urgency.HIGH, status=OrdStatus.FILLED,
                    cum_qty=D(10), notional=D("1001.6"), arrival_price=D("100.1"),
                    created_at=T0, updated_at=T0 + 100)
    j.save_order(o)
    for i, (px, q, fee, cur) in enumerate([("100.1", "4", "0.004", "BTC"),
                                           ("100.2", "6", "0.3", "USDT")]):
        j.record_fill(JournaledFill("alpha", f"t{i}", f"c-{i}", "O-1", "BTC/USDT", Side.BUY,
                                    D(px), D(q), D(fee), cur, False, None,
                                    int((T0 + 10 + i) * 1000)), T0 + 10 + i)
    j.close()
    store = TcaStore(db)
    store.save_trace("O-1", make_trace(D(10)))
    store.close()


def test_tca_command_reads_the_journal_and_writes_charts(tmp_path, capsys):
    db = tmp_path / "gw.db"
    _journal_with_orders(db)
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    rc = tca_command(parser.parse_args(["--db", str(db), "--charts", str(tmp_path / "charts")]))
    out = capsys.readouterr().out
    assert rc == 0
    assert "O-1" in out and "ARRIVAL" in out and "ARRIVAL/HIGH" in out
    # fees: 0.004 BTC at 100.1 = 0.4004 USDT + 0.3 USDT -> 0.7004 / 1001 notional
    order_line = next(line for line in out.splitlines() if line.startswith("O-1 "))
    assert " 7.00 " in order_line
    from fixgw.tca_chart import charts_available
    if charts_available():
        assert (tmp_path / "charts" / "tca_O-1.png").stat().st_size > 1000
    else:
        assert "charts skipped" in out


def test_tca_command_without_database_is_a_clear_error(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    assert tca_command(parser.parse_args(["--db", str(tmp_path / "none.db")])) == 2
    assert "no such file" in capsys.readouterr().err


def test_participation_is_not_reported_when_the_trace_misses_our_own_prints():
    trace = make_trace(D(10))
    parent = ParentRecord("O-1", "BTC/USDT", Side.BUY, "TWAP", None, D(200), D("100.1"), T0,
                          T0 + 100, T0 + 100, "FILLED")
    fills = [FillRecord("O-1", T0 + 10, "a", D("100.1"), D(150), D(0))]   # > 100 market volume
    assert analyze(parent, fills, trace).participation is None


def test_tca_command_finds_the_database_through_the_gateway_config(tmp_path, capsys):
    state = tmp_path / "state"
    state.mkdir()
    _journal_with_orders(state / "fixgw.db")
    cfg = tmp_path / "gw.yaml"
    cfg.write_text(f"state_dir: {state}\n")
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    assert tca_command(parser.parse_args([str(cfg), "--no-charts"])) == 0
    assert "O-1" in capsys.readouterr().out
    cfg.write_text(f"state_dir: {tmp_path / 'elsewhere'}\n")
    assert tca_command(parser.parse_args([str(cfg)])) == 2
    assert "does not exist" in capsys.readouterr().err
