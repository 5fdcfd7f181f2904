"""End to end over real sockets: FIX client -> fixgw (session layer + OMS) -> ccxt -> the
embedded simulated venues (real matching engines on loopback) and back.

One gateway per module (in a background thread, free port, throwaway state dir). Where a test
needs a counterparty at a precise moment (a partial fill, a fill racing a cancel) it trades
against our resting child as a *house* account of the simulated exchange, on the gateway's
event loop: the fill then reaches fixgw the way any venue fill does (user-data stream).
"""
from __future__ import annotations

import itertools
import time
from pathlib import Path
from decimal import Decimal

import pytest

from fixgw.domain import ExecType, OrdStatus, OrdType, Side, TimeInForce
from fixgw.fix import messages as m
from fixgw.oms.client import OrderClient
from fixgw.oms.embedded import GatewayThread, gateway_document

D = Decimal
_ids = itertools.count(1)


def cl(prefix="E"):
    return f"{prefix}{next(_ids)}-{int(time.time() * 1000) % 100000}"


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    doc = gateway_document(state_dir=tmp_path_factory.mktemp("e2e"), overrides={
        "admin_socket": False,
        # the venue's own balance check is what the venue-refusal test exercises
        "risk": {"default": {"max_order_qty": 200, "max_notional": 50_000_000,
                             "price_collar_bps": 1000, "check_venue_balance": False}},
    })
    with GatewayThread(doc) as g:
        yield g


@pytest.fixture(scope="module")
def validators():
    """Strict QuickFIX-style validation: stock FIX 4.4, and FIX 4.4 + fixgw's overlay."""
    from fixgw.fix.dictionary import load_dictionary
    from fixgw.fix.validation import ValidationSettings, Validator
    root = Path(__file__).resolve().parents[2] / "dictionaries"
    stock = Validator(load_dictionary(root / "FIX44.xml"), ValidationSettings())
    ours = Validator(load_dictionary([root / "FIX44.xml", root / "FIX44-fixgw.xml"]),
                     ValidationSettings())
    return stock, ours


@pytest.fixture()
def client(gw, validators):
    with OrderClient(gw.host, gw.port) as c:
        yield c
        assert_valid(c, *validators)


def assert_valid(client, stock, ours):
    """Every application message the gateway sent passes full dictionary validation; the
    order-entry ExecutionReports use stock FIX 4.4 tags only."""
    for msg in client.inbox.messages:
        fields = list(msg.fields)
        assert ours.validate(fields) is None, (ours.validate(fields), fields)
        if msg.msg_type == "8":
            assert stock.validate(fields) is None, (stock.validate(fields), fields)


def book(gw, symbol):
    return gw.call(lambda: gw.service.market.book(symbol))


def venue_exchange(gw, name):
    return gw.service.simulator.venue(name).exchange


def house_trade(gw, venue, market_id, side, qty, price):
    """A house account trades at the venue (on the gateway's loop): our resting order's
    counterparty."""
    ex = venue_exchange(gw, venue)
    price = D(price)

    def trade():
        # liquidity priced better than ours trades first: take it too, so ours gets ``qty``
        bids, asks = ex.depth(market_id, 200)
        levels = bids if side == "SELL" else asks
        ahead = sum((q for p, q in levels if (p > price if side == "SELL" else p < price)), D(0))
        return ex.place_house_order("house-e2e", market_id, side, "LIMIT", D(qty) + ahead,
                                    price, "IOC")
    return gw.call(trade)


def assert_consistent(reports):
    """Every ER: CumQty + LeavesQty = OrderQty while working, LeavesQty 0 when done, AvgPx the
    quantity-weighted fill price, ExecIDs unique."""
    notional, cum = D(0), D(0)
    ids = set()
    for r in reports:
        assert r.exec_id not in ids
        ids.add(r.exec_id)
        if r.exec_type is ExecType.TRADE:
            notional += r.last_px * r.last_qty
            cum += r.last_qty
            assert r.cum_qty == cum
            assert abs(r.avg_px - notional / cum) <= D("1e-9")
            assert r.last_mkt
        if r.ord_status in (OrdStatus.FILLED, OrdStatus.CANCELED, OrdStatus.REJECTED,
                            OrdStatus.EXPIRED):
            assert r.leaves_qty == 0
        elif r.order_qty is not None and r.exec_type is not ExecType.ORDER_STATUS:
            assert r.cum_qty + r.leaves_qty == r.order_qty


def test_market_order_fills_across_several_venues(client):
    c = cl()
    client.new_order(c, "BTC/USDT", Side.BUY, "4")
    final = client.wait_done(c, timeout=20)
    assert final is not None and final.ord_status is OrdStatus.FILLED and final.cum_qty == 4
    reports = client.reports(c)
    assert reports[0].exec_type is ExecType.NEW
    venues = {r.last_mkt for r in reports if r.exec_type is ExecType.TRADE}
    assert len(venues) >= 2 and venues <= {"simA", "simB", "simC"}
    assert all(r.commission is not None for r in reports if r.exec_type is ExecType.TRADE)
    assert_consistent(reports)


def test_split_matches_best_consolidated_all_in_price(gw, client):
    """An order bigger than any one venue's visible book: the realised average all-in price
    (price x (1 + that venue's taker fee)) equals the best achievable over the consolidated
    book for that size. The market model is held still for the test so the book it is compared
    with is the book it traded against."""
    models = gw.service.simulator.factory.models
    saved = {n: mdl.step for n, mdl in models.items()}
    gw.call(lambda: [setattr(mdl, "step", lambda now: None) for mdl in models.values()])
    try:
        time.sleep(0.4)  # let the venues' depth streams settle into the hub
        cb = book(gw, "BTC/USDT")
        biggest = max(sum(q for _, q in v.book.asks) for v in cb.venues)
        qty = (biggest * D("1.3")).quantize(D("0.00001"))
        fees = {v.venue: v.fees.taker for v in cb.venues}
        expected, left = D(0), qty
        for lv in cb.taker_levels(Side.BUY):
            take = min(lv.quantity, left)
            expected += take * lv.all_in_price
            left -= take
            if left == 0:
                break
        assert left == 0, "the consolidated book is too thin for the test size"
        c = cl("SPLIT")
        client.new_order(c, "BTC/USDT", Side.BUY, qty)
        final = client.wait_done(c, timeout=20)
        assert final is not None and final.ord_status is OrdStatus.FILLED
        trades = [r for r in client.reports(c) if r.exec_type is ExecType.TRADE]
        assert len({t.last_mkt for t in trades}) >= 2
        realised = sum((t.last_px * t.last_qty * (1 + fees[t.last_mkt]) for t in trades), D(0))
        assert abs(realised / qty - expected / qty) <= D("1e-8") * (expected / qty)
    finally:
        gw.call(lambda: [setattr(models[n], "step", f) for n, f in saved.items()])


def resting_buy(gw, client, venue="simC", qty="1", at_touch=True):
    """A GTC buy at ``venue``: improving the touch by one tick (the best bid there, which a
    house trade can then hit), or, with ``at_touch=False``, well behind it (out of reach of the
    market's own flow, for tests that must not be filled)."""
    q = book(gw, "BTC/USDT").quote(venue)
    tick = D("0.1")
    price = q.book.best_bid + tick if at_touch else q.book.best_bid - 40
    if price >= q.book.best_ask:
        price = q.book.best_bid
    c = cl("REST")
    client.new_order(c, "BTC/USDT", Side.BUY, qty, price=price, tif=TimeInForce.GTC,
                     params={"IncludeVenues": venue})
    ack = client.wait_report(c, lambda r: r.exec_type in (ExecType.NEW, ExecType.REJECTED))
    assert ack is not None and ack.exec_type is ExecType.NEW, ack
    return c, price


def test_partial_fill_then_cancel(gw, client):
    c, price = resting_buy(gw, client)
    house_trade(gw, "simC", "BTCUSDT", "SELL", "0.3", price)
    fill = client.wait_report(c, lambda r: r.exec_type is ExecType.TRADE, timeout=10)
    assert fill is not None and fill.ord_status is OrdStatus.PARTIALLY_FILLED
    assert fill.last_mkt == "simC" and fill.last_px == price
    client.cancel(c + "-X", c, "BTC/USDT", Side.BUY)
    done = client.wait_done(c + "-X", timeout=10)
    assert done is not None and done.ord_status is OrdStatus.CANCELED
    assert done.orig_cl_ord_id == c and done.cum_qty >= D("0.3") and done.leaves_qty == 0
    assert_consistent(client.reports(c) + client.reports(c + "-X"))


def test_late_fill_after_cancel_request(gw, client):
    """The race: a fill is on its way from the venue (its user-data stream is a few ms behind)
    when the client's cancel request arrives. The fill is reported with OrdStatus still
    PendingCancel, then the cancel of the remainder, with CumQty counting the late fill."""
    c, price = resting_buy(gw, client)
    house_trade(gw, "simC", "BTCUSDT", "SELL", "0.4", price)
    client.cancel(c + "-X", c, "BTC/USDT", Side.BUY)
    done = client.wait_done(c + "-X", timeout=10)
    assert done is not None and done.ord_status is OrdStatus.CANCELED, client.reports(c + "-X")
    reports = client.reports(c) + client.reports(c + "-X")
    pending = [r for r in reports if r.exec_type is ExecType.PENDING_CANCEL]
    late = [r for r in reports if r.exec_type is ExecType.TRADE
            and r.ord_status is OrdStatus.PENDING_CANCEL]
    assert pending and late, [(r.exec_type, r.ord_status) for r in reports]
    assert done.cum_qty >= D("0.4")


def test_cancel_of_filled_order_is_rejected_too_late(client):
    c = cl()
    client.new_order(c, "ETH/USDT", Side.SELL, "1")
    assert client.wait_done(c).ord_status is OrdStatus.FILLED
    client.cancel(c + "-X", c, "ETH/USDT", Side.SELL)
    ocr = client.wait_type("9", c + "-X")
    assert ocr is not None and ocr.get(102) == "0" and ocr.get(434) == "1" and ocr.get(39) == "2"


def test_replace_quantity_and_price_then_fill(gw, client):
    c, price = resting_buy(gw, client, venue="simB", qty="0.5", at_touch=False)
    client.replace(c + "-R1", c, "BTC/USDT", Side.BUY, "0.8", price - 5, TimeInForce.GTC)
    rep = client.wait_report(c + "-R1", lambda r: r.exec_type is ExecType.REPLACED)
    assert rep is not None and rep.order_qty == D("0.8") and rep.price == price - 5
    assert rep.orig_cl_ord_id == c and rep.ord_status is OrdStatus.NEW
    ask = book(gw, "BTC/USDT").best_ask()
    client.replace(c + "-R2", c + "-R1", "BTC/USDT", Side.BUY, "0.8", ask + 50, TimeInForce.GTC)
    done = client.wait_done(c + "-R2", timeout=15)
    assert done is not None and done.ord_status is OrdStatus.FILLED and done.cum_qty == D("0.8")
    # replace below what is filled: refused
    client.replace(c + "-R3", c + "-R2", "BTC/USDT", Side.BUY, "0.1", ask, TimeInForce.GTC)
    ocr = client.wait_type("9", c + "-R3")
    assert ocr is not None and ocr.get(434) == "2"


def test_replace_below_filled_quantity_rejected(gw, client):
    c, price = resting_buy(gw, client, qty="1")
    house_trade(gw, "simC", "BTCUSDT", "SELL", "0.6", price)
    assert client.wait_report(c, lambda r: r.exec_type is ExecType.TRADE) is not None
    client.replace(c + "-R", c, "BTC/USDT", Side.BUY, "0.5", price, TimeInForce.GTC)
    ocr = client.wait_type("9", c + "-R")
    assert ocr.get(434) == "2" and "filled quantity" in ocr.get(58)
    client.cancel(c + "-X", c, "BTC/USDT", Side.BUY)
    assert client.wait_done(c + "-X").ord_status is OrdStatus.CANCELED


def test_status_request_echoes_ord_status_req_id(gw, client):
    c, _ = resting_buy(gw, client, qty="0.2", at_touch=False)
    client.status(c, "BTC/USDT", Side.BUY, "Q-1")
    st = client.wait_report(c, lambda r: r.exec_type is ExecType.ORDER_STATUS)
    assert st.ord_status_req_id == "Q-1" and st.ord_status is OrdStatus.NEW and st.leaves_qty == D("0.2")
    client.status("NOPE", "BTC/USDT", Side.BUY, "Q-2")
    unknown = client.wait_report("NOPE", lambda r: r.exec_type is ExecType.ORDER_STATUS)
    assert unknown.ord_status is OrdStatus.REJECTED and unknown.ord_status_req_id == "Q-2"
    client.cancel(c + "-X", c, "BTC/USDT", Side.BUY)
    assert client.wait_done(c + "-X").ord_status is OrdStatus.CANCELED


def test_mass_cancel_by_symbol_then_all_is_the_kill_switch(gw, client):
    a, _ = resting_buy(gw, client, qty="0.1", at_touch=False)
    b, _ = resting_buy(gw, client, venue="simA", qty="0.1", at_touch=False)
    eth = book(gw, "ETH/USDT")
    e = cl("ETH")
    client.new_order(e, "ETH/USDT", Side.BUY, "1", price=(eth.best_bid() - 5).quantize(D("0.01")),
                     tif=TimeInForce.GTC)
    assert client.wait_report(e, lambda r: r.exec_type is ExecType.NEW) is not None
    client.mass_cancel("MC1", "BTC/USDT")
    report = client.wait_type("r", "MC1")
    assert report.get(531) == "1" and report.get(533) == "2"
    assert client.wait_done(a).ord_status is OrdStatus.CANCELED
    assert client.wait_done(b).ord_status is OrdStatus.CANCELED
    client.status(e, "ETH/USDT", Side.BUY)
    assert client.wait_report(e, lambda r: r.exec_type is ExecType.ORDER_STATUS).ord_status is OrdStatus.NEW
    try:
        client.mass_cancel("MC2")               # 530=7: the kill switch
        report = client.wait_type("r", "MC2", timeout=15)
        assert report.get(531) == "7" and "kill switch engaged" in report.get(58)
        assert client.wait_done(e).ord_status is OrdStatus.CANCELED
        blocked = cl()
        client.new_order(blocked, "BTC/USDT", Side.BUY, "0.01")
        rej = client.wait_done(blocked)
        assert rej.ord_status is OrdStatus.REJECTED and "kill switch" in rej.text
    finally:
        gw.call(gw.service.kill_switch.release)


def test_every_kind_of_new_order_reject(gw, client):
    first = cl()
    client.new_order(first, "BTC/USDT", Side.BUY, "0.01")
    client.wait_done(first)
    client.new_order(first, "BTC/USDT", Side.BUY, "0.01")   # duplicate ClOrdID
    dup = client.wait_report(first, lambda r: r.exec_type is ExecType.REJECTED)
    assert dup.ord_rej_reason == 6 and "duplicate ClOrdID" in dup.text

    bad_sym = cl()
    client.new_order(bad_sym, "DOGE/USDT", Side.BUY, "1")
    r = client.wait_done(bad_sym)
    assert r.ord_rej_reason == 1 and "DOGE/USDT" in r.text and r.exec_type is ExecType.REJECTED

    bad_qty = cl()
    nos = m.NewOrderSingle(bad_qty, "BTC/USDT", Side.BUY, OrdType.MARKET, D(1))
    body = [(t, "0" if t == 38 else v) for t, v in m.new_order_single_body(nos, time.time())]
    client.send_raw("D", body)
    r = client.wait_done(bad_qty)
    assert r is not None and r.ord_rej_reason == 13 and "38" in r.text

    risky = cl()
    client.new_order(risky, "BTC/USDT", Side.BUY, "500")     # above max_order_qty 200
    r = client.wait_done(risky)
    assert r.ord_rej_reason == 3 and "max order quantity" in r.text

    refused = cl()   # the venue refuses: selling more BTC than the account holds there
    ask = book(gw, "BTC/USDT").best_ask()
    client.new_order(refused, "BTC/USDT", Side.SELL, "120", price=ask + 2000, tif=TimeInForce.GTC,
                     params={"IncludeVenues": "simC"})
    r = client.wait_done(refused, timeout=15)
    assert r is not None and r.exec_type is ExecType.REJECTED
    assert "venue refusal" in r.text and "simC" in r.text and "insufficient" in r.text.lower()
    for rej in (dup, r):
        assert rej.ord_status is OrdStatus.REJECTED and rej.leaves_qty == 0


def test_drop_copy_session_receives_copies_and_cannot_trade(gw, client):
    with OrderClient(gw.host, gw.port, sender="DROPCOPY") as dc:
        dc.inbox.messages.clear()
        c = cl()
        client.new_order(c, "ETH/USDT", Side.BUY, "0.5")
        assert client.wait_done(c).ord_status is OrdStatus.FILLED
        copy = dc.wait(lambda x: x.msg_type == "8" and x.get(11) == c and x.get(39) == "2", 10)
        assert copy is not None and copy.get(797) == "Y"
        dc.new_order(cl(), "ETH/USDT", Side.BUY, "0.5")
        bmr = dc.wait_type("j")
        assert bmr is not None and bmr.get(380) == "6"


def test_algo_parents_of_every_strategy_work_and_report_shortfall(gw, client):
    """The OMS hosts H5's schedulers: every child through the SOR to the venues, child fills as
    parent ERs (LastMkt on each), nothing through the hard limit, and the terminal ER carries
    TargetStrategyPerformance(850)."""
    from fixgw.domain import Strategy, Urgency
    mid = book(gw, "BTC/USDT").mid()
    limit = (mid * D("1.003")).quantize(D("0.1"))
    now = time.time()
    specs = {"TWAP": (Strategy.TWAP, {}), "VWAP": (Strategy.VWAP, {}),
             "POV": (Strategy.POV, {"participation_rate": D("0.3")}),
             "ICEBERG": (Strategy.ICEBERG, {"max_floor": D("0.05")}),
             "ARRIVAL": (Strategy.ARRIVAL, {"urgency": Urgency.HIGH})}
    ids = {}
    for name, (strategy, extra) in specs.items():
        ids[name] = cl(name)
        client.new_order(ids[name], "BTC/USDT", Side.BUY, "0.2", price=limit,
                         tif=TimeInForce.GTD, strategy=strategy, effective_time=now,
                         expire_time=now + 6, **extra)
    for name, c in ids.items():
        final = client.wait_done(c, timeout=25)
        assert final is not None, name
        assert final.ord_status in (OrdStatus.FILLED, OrdStatus.EXPIRED), (name, final)
        assert final.strategy_performance is not None, name
        reports = client.reports(c)
        assert reports[0].exec_type is ExecType.NEW
        trades = [r for r in reports if r.exec_type is ExecType.TRADE]
        assert trades, name
        assert all(t.last_px <= limit and t.last_mkt in ("simA", "simB", "simC") for t in trades)
        assert_consistent(reports)


def test_gtd_order_expires_at_expire_time(gw, client):
    q = book(gw, "BTC/USDT")
    c = cl("GTD")
    client.new_order(c, "BTC/USDT", Side.BUY, "0.3", price=(q.best_bid() - 50).quantize(D("0.1")),
                     tif=TimeInForce.GTD, expire_time=time.time() + 1.5)
    assert client.wait_report(c, lambda r: r.exec_type is ExecType.NEW) is not None
    done = client.wait_done(c, timeout=10)
    assert done.exec_type is ExecType.EXPIRED and done.ord_status is OrdStatus.EXPIRED
    assert done.leaves_qty == 0 and "ExpireTime" in done.text


def test_fill_or_kill_all_or_nothing(gw, client):
    ask = book(gw, "ETH/USDT").best_ask()
    too_big = cl("FOK")   # far more than the book holds within 1 tick of the ask
    client.new_order(too_big, "ETH/USDT", Side.BUY, "150", price=ask, tif=TimeInForce.FOK)
    done = client.wait_done(too_big)
    assert done.ord_status is OrdStatus.CANCELED and done.cum_qty == 0
    assert "fill-or-kill" in done.text
    ok = cl("FOK")
    client.new_order(ok, "ETH/USDT", Side.BUY, "0.5", price=ask + 5, tif=TimeInForce.FOK)
    assert client.wait_done(ok).ord_status is OrdStatus.FILLED


def test_algo_pause_and_resume_by_cancel_replace(gw, client):
    """StrategyParameter Pause=Y on an OrderCancelReplaceRequest pauses the schedule (every
    child pulled, nothing traded meanwhile); Pause=N resumes it."""
    from fixgw.domain import Strategy
    mid = book(gw, "BTC/USDT").mid()
    limit = (mid * D("1.003")).quantize(D("0.1"))
    now = time.time()
    c = cl("PAUSE")
    client.new_order(c, "BTC/USDT", Side.BUY, "0.3", price=limit, tif=TimeInForce.GTD,
                     strategy=Strategy.TWAP, effective_time=now, expire_time=now + 7)
    assert client.wait_report(c, lambda r: r.exec_type is ExecType.NEW) is not None
    client.replace(c + "-P", c, "BTC/USDT", Side.BUY, "0.3", limit, TimeInForce.GTD,
                   params={"Pause": "Y"})
    rep = client.wait_report(c + "-P", lambda r: r.exec_type is ExecType.REPLACED)
    assert rep is not None and rep.ord_status in (OrdStatus.NEW, OrdStatus.PARTIALLY_FILLED)
    time.sleep(0.5)   # children being pulled may still report
    client.pump(0.1)
    before = rep.cum_qty if not client.reports(c + "-P") else client.reports(c + "-P")[-1].cum_qty
    time.sleep(1.5)
    client.wait(lambda x: False, timeout=0.2)
    during = [r for r in client.reports(c + "-P") if r.exec_type is ExecType.TRADE]
    assert all(r.cum_qty == before for r in during[-1:]), "traded while paused"
    client.replace(c + "-R", c + "-P", "BTC/USDT", Side.BUY, "0.3", limit, TimeInForce.GTD,
                   params={"Pause": "N"})
    assert client.wait_report(c + "-R", lambda r: r.exec_type is ExecType.REPLACED) is not None
    done = client.wait_done(c + "-R", timeout=15)
    assert done is not None and done.cum_qty > before
    assert done.ord_status in (OrdStatus.FILLED, OrdStatus.EXPIRED)


def test_venue_stream_outage_mid_order_fills_reported_once(gw, client):
    """The venue drops its user-data websocket while our order rests there; a fill made while
    it is down is picked up by REST polling, the stream comes back, a second fill arrives on
    it: each is reported upstream exactly once, CumQty right."""
    c, price = resting_buy(gw, client, qty="1")
    venue = gw.service.simulator.venue("simC")
    adapter = gw.service.adapters["simC"]

    async def drop_streams():
        conns = [x for users in venue.server.user_streams.spot_users.values() for x in users]
        for x in conns:
            await x.ws.close()
        return len(conns)
    downs = adapter.stats.stream_downs
    assert gw.call(drop_streams) >= 1
    deadline = time.monotonic() + 5
    while gw.call(lambda: adapter.stream_up("spot")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert adapter.stats.stream_downs > downs, "the adapter never saw the stream drop"
    house_trade(gw, "simC", "BTCUSDT", "SELL", "0.25", price)     # while the stream is down
    # (the market's own flow may also trade with our order, which rests at the best bid)
    first = client.wait_report(c, lambda r: r.exec_type is ExecType.TRADE
                               and r.last_qty == D("0.25"), timeout=20)
    assert first is not None, [(r.exec_type, r.last_qty, r.cum_qty, r.ord_status)
                               for r in client.reports(c)]
    deadline = time.monotonic() + 10
    while not gw.call(lambda: adapter.stream_up("spot")) and time.monotonic() < deadline:
        time.sleep(0.05)
    house_trade(gw, "simC", "BTCUSDT", "SELL", "0.35", price)     # on the recovered stream
    second = client.wait_report(c, lambda r: r.exec_type is ExecType.TRADE
                                and r.last_qty == D("0.35"), timeout=20)
    assert second is not None
    client.cancel(c + "-X", c, "BTC/USDT", Side.BUY)
    done = client.wait_done(c + "-X", timeout=10)
    trades = [r for r in client.reports(c) + client.reports(c + "-X")
              if r.exec_type is ExecType.TRADE]
    quantities = [t.last_qty for t in trades]
    assert quantities.count(D("0.25")) == 1 and quantities.count(D("0.35")) == 1
    assert len({t.exec_id for t in trades}) == len(trades)
    assert done.cum_qty == sum(quantities, D(0)) and done.ord_status is OrdStatus.CANCELED


def test_algo_inputs_reach_the_schedulers(gw, client):
    """Against the embedded venues: ARRIVAL is planned with the simulator's own Almgren-Chriss
    parameters (pooled over the venues listing the symbol), and a marketable ICEBERG display
    takes what is at its limit and rests the rest there (GTC at exactly the limit)."""
    from fixgw.algo.almgren_chriss import ACParams
    from fixgw.domain import Strategy, Urgency
    from fixgw.sim.market_config import load_sim_config
    from fixgw.sim.market_params import AlmgrenChrissParams
    now = time.time()
    mid = book(gw, "BTC/USDT").mid()
    arrival = cl("AR")
    client.new_order(arrival, "BTC/USDT", Side.BUY, "0.05", price=(mid * D("1.003")).quantize(D("0.1")),
                     tif=TimeInForce.GTD, strategy=Strategy.ARRIVAL, urgency=Urgency.HIGH,
                     effective_time=now, expire_time=now + 6)
    client.wait_report(arrival, lambda r: r.exec_type is ExecType.NEW)

    def impact_of(cl_ord_id):
        mgr = gw.service.manager
        order = next(o for o in mgr.orders.values() if o.cl_ord_id == cl_ord_id)
        return mgr.runtime[order.order_id].algo.scheduler.impact
    impact = gw.call(lambda: impact_of(arrival))
    sim = load_sim_config(gw.service.config.simulator_config_path)
    factory = sim.model_factory()
    expected = ACParams.from_model(AlmgrenChrissParams.pooled(
        [factory.params_for(v).almgren_chriss("BTC/USDT", mid) for v in sim.venues
         if v.name in gw.service.adapters]))
    assert impact is not None
    assert impact.eta == pytest.approx(expected.eta) and impact.gamma == expected.gamma
    assert impact.resilience_rate == expected.resilience_rate > 0

    eth = book(gw, "ETH/USDT")
    limit = eth.best_ask()
    ice = cl("ICE")
    client.new_order(ice, "ETH/USDT", Side.BUY, "20", price=limit, tif=TimeInForce.GTC,
                     strategy=Strategy.ICEBERG, max_floor=D("20"))
    client.wait_report(ice, lambda r: r.exec_type is ExecType.NEW)

    def children_of(cl_ord_id):
        mgr = gw.service.manager
        order = next(o for o in mgr.orders.values() if o.cl_ord_id == cl_ord_id)
        return [(c.tif, c.price, c.quantity, c.post_only) for c in order.children.values()]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        kids = gw.call(lambda: children_of(ice))
        if any(tif is TimeInForce.GTC for tif, *_ in kids):
            break
        time.sleep(0.05)
    resting = [k for k in kids if k[0] is TimeInForce.GTC]
    assert resting and all(price == limit and not post_only for _, price, _, post_only in resting)
    assert sum(q for *_, q, _ in kids) == D(20)
    cancel = cl("ICEX")
    client.cancel(cancel, ice, "ETH/USDT", Side.BUY)
    final = client.wait_done(cancel, timeout=15)
    assert final is not None and final.ord_status in (OrdStatus.CANCELED, OrdStatus.FILLED), \
        [(r.exec_type, r.ord_status, r.cum_qty, r.text) for r in client.reports(cancel)]
    assert all(t.last_px <= limit for t in client.reports(ice) if t.exec_type is ExecType.TRADE)
    done = client.wait_done(arrival, timeout=20)
    assert done is not None and done.strategy_performance is not None
