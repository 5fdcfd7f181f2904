"""Order manager logic with an in-test venue harness (the e2e tests use real venues).

The harness venue records submits and lets the test decide when acks, fills and cancels
arrive, which is what makes the races (fill after a cancel request, fill completing an order
whose cancel is pending) reproducible here.
"""
import asyncio
from decimal import Decimal

from fixgw.algo.types import Instrument, MarketSnapshot
from fixgw.clock import LiveClock

from fixgw.fix.message import FixMessage
from fixgw.marketdata.book import BookSnapshot
from fixgw.marketdata.consolidated import ConsolidatedBook, VenueQuote
from fixgw.oms.journal import Journal
from fixgw.oms.manager import OrderManager
from fixgw.oms.recovery import reconcile
from fixgw.oms.state import OrderEvent
from fixgw.routing.sor import SmartOrderRouter
from fixgw.session.application import SessionID
from fixgw.venues.base import (VenueError, VenueErrorKind, VenueFees, VenueFill,
                               VenueOrderState, VenueOrderUpdate)

D = Decimal


class HarnessSession:
    def __init__(self, target="OMS"):
        self.session_id = SessionID("FIX.4.4", "FIXGW", target)
        self.role = "order-entry"
        self.settings = {}
        self.logged_on = True
        self.sent = []

    def send(self, msg_type, body):
        self.sent.append((msg_type, dict(body)))
        return len(self.sent)

    def ers(self):
        return [b for t, b in self.sent if t == "8"]


class HarnessVenue:
    def __init__(self, name, taker="0.001", refuse=None):
        self.name = name
        self.fees = VenueFees(D("0.0005"), D(taker))
        self.refuse = refuse
        self.submits = []
        self.cancels = []
        self.cb = None
        self.trade = 0

    def on_event(self, cb):
        self.cb = cb

    def update(self, req, state, filled=D(0)):
        return VenueOrderUpdate(self.name, req.client_order_id, "v" + req.client_order_id,
                                req.symbol, state, filled, req.quantity - filled, None, 0)

    async def submit(self, req):
        self.submits.append(req)
        if self.refuse:
            raise VenueError(self.name, self.refuse, "Account has insufficient balance")
        return self.update(req, VenueOrderState.OPEN)

    async def cancel(self, cid, symbol):
        self.cancels.append(cid)
        req = next(r for r in self.submits if r.client_order_id == cid)
        return self.update(req, VenueOrderState.CANCELED, self.filled(cid))

    async def fetch_order(self, cid, symbol):
        return None

    async def fetch_fills(self, symbol, since_ms=None):
        return []

    def filled(self, cid):
        return getattr(self, "_filled", {}).get(cid, D(0))

    def fill(self, req, qty, price):
        self.trade += 1
        f = getattr(self, "_filled", {})
        f[req.client_order_id] = f.get(req.client_order_id, D(0)) + qty
        self._filled = f
        self.cb(VenueFill(self.name, req.client_order_id, None, f"{self.name}-t{self.trade}",
                          req.symbol, req.side, price, qty, D("0.01"), "USDT", 0, False))
        if f[req.client_order_id] >= req.quantity:
            self.cb(self.update(req, VenueOrderState.FILLED, f[req.client_order_id]))


class HarnessMarket:
    def __init__(self, venues):
        self.venues = venues

    def symbols(self):
        return {"BTC/USDT"}

    def book(self, symbol):
        quotes = []
        for i, v in enumerate(self.venues.values()):
            px = D(100) + i
            quotes.append(VenueQuote(BookSnapshot(v.name, symbol, ((px - 1, D(5)),),
                                                  ((px, D(1)), (px + 10, D(5))), 0.0, 1), v.fees))
        return ConsolidatedBook(symbol, tuple(quotes))

    def snapshot(self, symbol, now):
        return MarketSnapshot(now, D(99), D(100))

    def instrument(self, symbol):
        return Instrument(symbol, D("0.01"), D("0.001"))

    def balances(self, venue, symbol=None):
        return None


def nos(cl, qty, price=None, tif="1", extra=()):
    f = [(35, "D"), (11, cl), (55, "BTC/USDT"), (54, "1"), (38, qty), (40, "2" if price else "1"),
         (59, tif), (60, "20261125-18:00:00.000")]
    if price:
        f.append((44, price))
    return FixMessage(tuple(f) + tuple(extra))


def check_consistent(er):
    qty, cum, leaves = D(er[38]), D(er[14]), D(er[151])
    if er[39] in ("2", "4", "8", "C", "3"):
        assert leaves == 0, er
    else:
        assert cum + leaves == qty, er
    if cum == 0:
        assert D(er[6]) == 0


def run(test):
    async def main(tmp):
        venues = {"a": HarnessVenue("a"), "b": HarnessVenue("b")}
        journal = Journal(tmp)
        oms = OrderManager(journal=journal, clock=LiveClock(), venues=venues,
                           router=SmartOrderRouter(), market=HarnessMarket(venues))
        s = HarnessSession()
        oms.on_create(s)
        await test(oms, s, venues)
        for er in s.ers():
            check_consistent(er)
        ids = [er[17] for er in s.ers()]
        assert len(ids) == len(set(ids))
    return main


async def settle():
    for _ in range(10):
        await asyncio.sleep(0)


def test_limit_order_split_over_two_venues_fills_with_last_mkt(tmp_path):
    async def t(oms, s, v):
        oms.on_message(s, nos("C1", "2", "101", tif="3"))
        await settle()
        assert [r.quantity for r in v["a"].submits + v["b"].submits] == [D(1), D(1)]
        assert s.ers()[0][150] == "0"
        v["a"].fill(v["a"].submits[0], D(1), D(100))
        v["b"].fill(v["b"].submits[0], D(1), D(101))
        await settle()
        fills = [er for er in s.ers() if er[150] == "F"]
        assert [er[30] for er in fills] == ["a", "b"]
        assert fills[-1][39] == "2" and D(fills[-1][6]) == D("100.5")
    asyncio.run(run(t)(tmp_path / "db"))


def test_duplicate_clordid_and_unknown_symbol_are_er_rejects(tmp_path):
    async def t(oms, s, v):
        oms.on_message(s, nos("C1", "1", "101"))
        await settle()
        oms.on_message(s, nos("C1", "1", "101"))
        bad = FixMessage(tuple((t_, "DOGE/USDT" if t_ == 55 else x) for t_, x in nos("C2", "1").fields))
        oms.on_message(s, bad)
        rejects = [er for er in s.ers() if er[150] == "8"]
        assert rejects[0][103] == "6" and "duplicate ClOrdID" in rejects[0][58]
        assert rejects[1][103] == "1" and "DOGE/USDT" in rejects[1][58]
        assert all(er[39] == "8" for er in rejects)
    asyncio.run(run(t)(tmp_path / "db"))


def test_venue_refusal_rejects_the_order_naming_the_venue(tmp_path):
    async def t(oms, s, v):
        v["a"].refuse = v["b"].refuse = VenueErrorKind.INSUFFICIENT_FUNDS
        oms.on_message(s, nos("C1", "2", "101", tif="3"))
        await settle()
        (er,) = s.ers()
        assert er[150] == "8" and er[103] == "0" and "insufficient funds" in er[58] and "a:" in er[58]
    asyncio.run(run(t)(tmp_path / "db"))


def test_late_fill_after_cancel_request_then_canceled(tmp_path):
    async def t(oms, s, v):
        oms.on_message(s, nos("C1", "1", "100", tif="1"))   # GTC, takes a, rests nothing
        await settle()
        req = v["a"].submits[0]
        oms.on_message(s, FixMessage(((35, "F"), (11, "C2"), (41, "C1"), (55, "BTC/USDT"), (54, "1"))))
        assert s.ers()[-1][150] == "6"
        v["a"].fill(req, D("0.4"), D(100))        # the race: a fill after the cancel request
        await settle()
        trade = [er for er in s.ers() if er[150] == "F"][0]
        assert trade[39] == "6" and trade[14] == "0.4"
        last = s.ers()[-1]
        assert last[150] == "4" and last[11] == "C2" and last[41] == "C1" and last[14] == "0.4"
    asyncio.run(run(t)(tmp_path / "db"))


def test_fill_completing_order_with_cancel_pending_gets_cancel_reject(tmp_path):
    async def t(oms, s, v):
        v["a"].cancel = _never_confirms
        oms.on_message(s, nos("C1", "1", "100", tif="1"))
        await settle()
        req = v["a"].submits[0]
        oms.on_message(s, FixMessage(((35, "F"), (11, "C2"), (41, "C1"), (55, "BTC/USDT"), (54, "1"))))
        v["a"].fill(req, D(1), D(100))
        await settle()
        assert s.ers()[-1][39] == "2"
        ocr = [b for t_, b in s.sent if t_ == "9"][-1]
        assert ocr[102] == "0" and ocr[434] == "1" and ocr[39] == "2" and ocr[11] == "C2"
        oms.on_message(s, FixMessage(((35, "F"), (11, "C3"), (41, "C1"), (55, "BTC/USDT"), (54, "1"))))
        ocr = [b for t_, b in s.sent if t_ == "9"][-1]
        assert ocr[102] == "0" and "already filled" in ocr[58]
    asyncio.run(run(t)(tmp_path / "db"))


async def _never_confirms(cid, symbol):
    await asyncio.sleep(10)


def test_replace_below_filled_rejected_then_valid_replace(tmp_path):
    async def t(oms, s, v):
        oms.on_message(s, nos("C1", "2", "100", tif="1"))
        await settle()
        req = v["a"].submits[0]
        v["a"].fill(req, D(1), D(100))
        await settle()
        repl = lambda cl, orig, q: FixMessage(((35, "G"), (11, cl), (41, orig), (55, "BTC/USDT"),
                                               (54, "1"), (38, q), (40, "2"), (44, "100")))
        oms.on_message(s, repl("C2", "C1", "0.5"))
        ocr = [b for t_, b in s.sent if t_ == "9"][-1]
        assert ocr[434] == "2" and "filled quantity 1" in ocr[58]
        oms.on_message(s, repl("C3", "C1", "3"))
        await settle()
        types = [er[150] for er in s.ers()]
        assert "E" in types and "5" in types
        replaced = [er for er in s.ers() if er[150] == "5"][0]
        assert replaced[38] == "3" and replaced[151] == "2" and replaced[11] == "C3"
        oms.on_message(s, FixMessage(((35, "H"), (11, "C3"), (55, "BTC/USDT"), (54, "1"), (790, "Q1"))))
        status = s.ers()[-1]
        assert status[150] == "I" and status[790] == "Q1" and status[14] == "1"
    asyncio.run(run(t)(tmp_path / "db"))


def test_mass_cancel_reports_affected_orders(tmp_path):
    async def t(oms, s, v):
        oms.on_message(s, nos("C1", "0.5", "90", tif="1"))
        oms.on_message(s, nos("C2", "0.5", "90", tif="1"))
        await settle()
        oms.on_message(s, FixMessage(((35, "q"), (11, "M1"), (530, "7"), (60, "20261125-18:00:00"))))
        await settle()
        report = [b for t_, b in s.sent if t_ == "r"][0]
        assert report[531] == "7" and report[533] == "2"
        assert sorted(er[11] for er in s.ers() if er[150] == "4") == ["C1", "C2"]
    asyncio.run(run(t)(tmp_path / "db"))


def test_possresend_of_known_order_gets_status_not_a_second_order(tmp_path):
    async def t(oms, s, v):
        oms.on_message(s, nos("C1", "1", "100", tif="1"))
        await settle()
        n_submits = len(v["a"].submits) + len(v["b"].submits)
        oms.on_message(s, nos("C1", "1", "100", tif="1", extra=((97, "Y"),)))
        await settle()
        last = s.ers()[-1]
        assert last[150] == "I" and last[39] == "0" and last[11] == "C1"
        assert len(v["a"].submits) + len(v["b"].submits) == n_submits
    asyncio.run(run(t)(tmp_path / "db"))


def test_cancel_on_disconnect_cancels_the_sessions_open_orders(tmp_path):
    async def t(oms, s, v):
        s.settings["cancel_on_disconnect"] = True
        oms.on_message(s, nos("C1", "0.5", "90", tif="1"))
        await settle()
        assert s.ers()[-1][150] == "0"
        oms.on_logout(s)
        await settle()
        assert s.ers()[-1][150] == "4" and "cancel on disconnect" in s.ers()[-2].get(58, "")
        assert v["a"].cancels or v["b"].cancels
    asyncio.run(run(t)(tmp_path / "db"))


def test_cancel_overtaking_the_venue_ack(tmp_path):
    """NewOrderSingle then an immediate cancel, before anything reached a venue: the order ends
    Canceled, no child is ever sent, and no stray New is reported."""
    async def t(oms, s, v):
        oms.on_message(s, nos("C1", "0.5", "90", tif="1"))
        oms.on_message(s, FixMessage(((35, "F"), (11, "C2"), (41, "C1"), (55, "BTC/USDT"), (54, "1"))))
        await settle()
        types = [(er[150], er[39]) for er in s.ers()]
        assert types[0] == ("6", "6") and types[-1] == ("4", "4") and ("0", "0") not in types
        await asyncio.sleep(0.05)
        assert not v["a"].submits and not v["b"].submits
    asyncio.run(run(t)(tmp_path / "db"))


def test_cancel_while_the_submit_is_in_flight(tmp_path):
    async def t(oms, s, v):
        gate = asyncio.Event()
        for venue in v.values():
            original = venue.submit

            async def slow(req, _o=original):
                await gate.wait()
                return await _o(req)
            venue.submit = slow
        oms.on_message(s, nos("C1", "0.5", "90", tif="1"))
        await settle()                      # routed: child journaled, submit waiting
        oms.on_message(s, FixMessage(((35, "F"), (11, "C2"), (41, "C1"), (55, "BTC/USDT"), (54, "1"))))
        gate.set()
        await settle()
        await asyncio.sleep(0.05)
        assert v["a"].cancels or v["b"].cancels     # cancelled as soon as the venue had it
        assert s.ers()[-1][150] == "4" and s.ers()[-1][11] == "C2"
    asyncio.run(run(t)(tmp_path / "db"))


def test_child_is_journaled_before_it_reaches_the_venue(tmp_path):
    seen = []

    async def t(oms, s, v):
        reader = Journal(tmp_path / "db", readonly=True)   # another connection: committed only
        for venue in v.values():
            original = venue.submit

            async def checking(req, _o=original):
                ids = {c.client_order_id for c in reader.children()}
                seen.append(req.client_order_id in ids)
                return await _o(req)
            venue.submit = checking
        oms.on_message(s, nos("C1", "2", "101", tif="3"))
        await settle()
        assert seen and all(seen)
        # ids: <prefix><journal instance>-<order seq>-<n>, unique, valid Binance client ids
        import re
        subs = v["a"].submits + v["b"].submits
        assert len({r.client_order_id for r in subs}) == len(subs)
        assert all(re.fullmatch(r"[.A-Za-z:/0-9_-]{1,36}", r.client_order_id) for r in subs)
    asyncio.run(run(t)(tmp_path / "db"))


def test_restart_knows_finished_orders_and_their_clordids(tmp_path):
    db = tmp_path / "db"

    async def first(oms, s, v):
        oms.on_message(s, nos("C1", "1", "101", tif="3"))
        await settle()
        v["a"].fill(v["a"].submits[0], D(1), D(100))
        await settle()
        assert s.ers()[-1][39] == "2"
    asyncio.run(run(first)(db))

    async def second():
        venues = {"a": HarnessVenue("a"), "b": HarnessVenue("b")}
        oms = OrderManager(journal=Journal(db), clock=LiveClock(), venues=venues,
                           router=SmartOrderRouter(), market=HarnessMarket(venues))
        s = HarnessSession()
        oms.on_create(s)
        assert oms.load() == []                       # nothing open: nothing loaded
        oms.on_message(s, FixMessage(((35, "H"), (11, "C1"), (55, "BTC/USDT"), (54, "1"))))
        st = s.ers()[-1]
        assert st[150] == "I" and st[39] == "2" and st[14] == "1" and D(st[6]) == 100
        oms.on_message(s, nos("C1", "1", "101", tif="3"))   # same ClOrdID after the restart
        assert s.ers()[-1][150] == "8" and s.ers()[-1][103] == "6"
        assert s.ers()[-1][17] not in {st[17]}
    asyncio.run(second())


def test_an_internal_failure_rejects_the_order_and_the_session_lives_on(tmp_path):
    async def t(oms, s, v):
        good_book = oms.market.book

        def broken(symbol):
            raise RuntimeError("market data exploded")
        oms.market.book = broken
        oms.on_message(s, nos("C1", "1", "101", tif="3"))
        rej = s.ers()[-1]
        assert rej[150] == "8" and rej[103] == "99" and "internal error" in rej[58]
        assert not oms.open_orders()
        oms.market.book = good_book
        oms.on_message(s, nos("C2", "1", "101", tif="3"))
        await settle()
        assert s.ers()[-1][11] == "C2" and s.ers()[-1][150] == "0"
    asyncio.run(run(t)(tmp_path / "db"))


def test_expiry_while_a_replace_is_pending_refuses_the_replace_and_expires(tmp_path):
    async def t(oms, s, v):
        slow = asyncio.Event()
        for venue in v.values():
            original = venue.cancel

            async def held(cid, symbol, _o=original):
                await slow.wait()
                return await _o(cid, symbol)
            venue.cancel = held
        oms.on_message(s, nos("C1", "0.5", "90", tif="1"))
        await settle()
        oms.on_message(s, FixMessage(((35, "G"), (11, "C2"), (41, "C1"), (55, "BTC/USDT"),
                                      (54, "1"), (38, "0.7"), (40, "2"), (44, "91"))))
        assert s.ers()[-1][150] == "E"
        order = next(iter(oms.open_orders()))
        oms._expire(order.order_id, OrderEvent.EXPIRE)   # the GTD/Day timer fires now
        slow.set()
        await settle()
        await asyncio.sleep(0.05)
        ocr = [b for t_, b in s.sent if t_ == "9"][-1]
        assert ocr[434] == "2" and ocr[11] == "C2"
        assert s.ers()[-1][150] == "C" and s.ers()[-1][39] == "C"
        assert not oms.open_orders()
    asyncio.run(run(t)(tmp_path / "db"))


def test_a_malformed_venue_filter_parameter_rejects_naming_it_not_as_an_internal_error(tmp_path):
    async def t(oms, s, v):
        group = ((957, "1"), (958, "MinClip"), (959, "6"), (960, "lots"))
        oms.on_message(s, nos("C1", "1", "101", tif="3", extra=group))
        await settle()
        rej = s.ers()[-1]
        assert rej[150] == "8" and "MinClip" in rej[58] and "'lots'" in rej[58]
        assert "internal" not in rej[58]
        assert not v["a"].submits and not v["b"].submits
    asyncio.run(run(t)(tmp_path / "db"))


def test_a_replace_pending_at_a_restart_is_refused_and_the_order_keeps_its_terms(tmp_path):
    db = tmp_path / "db"

    async def first(oms, s, v):
        oms.on_message(s, nos("C1", "0.5", "90", tif="1"))
        await settle()
        for venue in v.values():
            venue.cancel = _never_confirms
        oms.on_message(s, FixMessage(((35, "G"), (11, "C2"), (41, "C1"), (55, "BTC/USDT"),
                                      (54, "1"), (38, "0.4"), (40, "2"), (44, "91"))))
        await settle()
        assert s.ers()[-1][150] == "E"
    asyncio.run(run(first)(db))

    async def second():
        venues = {"a": HarnessVenue("a"), "b": HarnessVenue("b")}
        oms = OrderManager(journal=Journal(db), clock=LiveClock(), venues=venues,
                           router=SmartOrderRouter(), market=HarnessMarket(venues))
        s = HarnessSession()
        oms.on_create(s)
        await reconcile(oms, oms.load())
        rejects = [b for t_, b in s.sent if t_ == "9"]
        assert len(rejects) == 1 and rejects[0][11] == "C2" and rejects[0][41] == "C1"
        assert rejects[0][434] == "2" and "replace lost" in rejects[0][58]
        (order,) = oms.open_orders()
        assert order.cl_ord_id == "C1" and order.quantity == D("0.5") and order.price == D(90)
    asyncio.run(second())
