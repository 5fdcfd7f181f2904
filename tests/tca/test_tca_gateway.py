"""`fixgw tca` on the journal of a real gateway run: FIX client -> fixgw (OMS hosting a TWAP
scheduler) -> ccxt -> the embedded simulated venues. The report reads the orders and fills the
OMS journaled and the trace the OMS saved through OmsTca, and its shortfall is the value the
terminal ExecutionReport carried in TargetStrategyPerformance(850)."""
from __future__ import annotations

import argparse
import time
from decimal import Decimal as D

from fixgw.domain import OrdStatus, Side, Strategy, TimeInForce
from fixgw.oms.client import OrderClient
from fixgw.oms.embedded import GatewayThread, gateway_document
from fixgw.tca import configure_parser, load_records, load_traces, tca_command
from fixgw.tca_report import analyze


def test_tca_report_matches_the_850_of_a_real_twap_parent(tmp_path, capsys):
    state = tmp_path / "state"
    doc = gateway_document(state_dir=state, overrides={"admin_socket": False})
    with GatewayThread(doc) as gw:
        mid = gw.call(lambda: gw.service.market.book("BTC/USDT").mid())
        limit = (mid * D("1.003")).quantize(D("0.1"))
        now = time.time()
        with OrderClient(gw.host, gw.port) as client:
            client.new_order("TCA1", "BTC/USDT", Side.BUY, "0.3", price=limit,
                             tif=TimeInForce.GTD, strategy=Strategy.TWAP, effective_time=now,
                             expire_time=now + 6)
            final = client.wait_done("TCA1", timeout=30)
    assert final is not None and final.ord_status in (OrdStatus.FILLED, OrdStatus.EXPIRED)
    assert final.strategy_performance is not None
    db = state / "fixgw.db"

    [(parent, fills)] = [(p, f) for p, f in load_records(db) if p.strategy == "TWAP"]
    trace = load_traces(db).get(parent.order_id)
    assert trace is not None and trace.samples and trace.fills
    result = analyze(parent, fills, trace)
    assert result.filled == final.cum_qty
    assert abs(result.shortfall.total_bps - final.strategy_performance) <= D("0.01")

    parser = argparse.ArgumentParser()
    configure_parser(parser)
    assert tca_command(parser.parse_args(["--db", str(db), "--charts", str(tmp_path / "c")])) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith(parent.order_id[:14]))
    assert "TWAP" in line and f"{float(final.strategy_performance):.2f}" in line
