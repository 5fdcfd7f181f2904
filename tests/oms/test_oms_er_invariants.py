"""Randomised (seeded) order lives through the manager: fills, cancels and replaces in random
order and at random moments. On every ExecutionReport, whatever happened: CumQty + LeavesQty =
OrderQty while working and LeavesQty = 0 once done, CumQty never decreases, AvgPx is the
quantity-weighted price of the fills so far, ExecIDs are unique, nothing but status replies
and cancel rejects follows a terminal report, and CumQty ends equal to what the venues filled.
"""
import asyncio
import random
from decimal import Decimal

import pytest

from fixgw.fix.message import FixMessage

from test_oms_manager import D, nos, run, settle  # the in-test venue harness

TERMINAL = {"2", "4", "8", "C", "3"}


def cancel(cl, orig):
    return FixMessage(((35, "F"), (11, cl), (41, orig), (55, "BTC/USDT"), (54, "1")))


def replace(cl, orig, qty, px):
    return FixMessage(((35, "G"), (11, cl), (41, orig), (55, "BTC/USDT"), (54, "1"),
                       (38, str(qty)), (40, "2"), (44, str(px))))


@pytest.mark.parametrize("seed", range(25))
def test_random_order_lives_keep_every_report_consistent(tmp_path, seed):
    rng = random.Random(seed)

    async def t(oms, s, v):
        qty = Decimal(rng.randint(2, 20)) / 4
        oms.on_message(s, nos("C0", str(qty), "100", tif="1"))   # rests (GTC)
        await settle()
        current, n = "C0", 0
        venue_filled = Decimal(0)
        for _ in range(rng.randint(3, 12)):
            action = rng.random()
            live = [r for venue in v.values() for r in venue.submits
                    if venue.filled(r.client_order_id) < r.quantity
                    and r.client_order_id not in venue.cancels]
            if action < 0.5 and live:
                req = rng.choice(live)
                room = req.quantity - [x for x in v.values() if req in x.submits][0].filled(req.client_order_id)
                q = min(room, Decimal(rng.randint(1, 8)) / 8)
                if q > 0:
                    [x for x in v.values() if req in x.submits][0].fill(req, q, D(100))
                    venue_filled += q
            elif action < 0.7:
                n += 1
                oms.on_message(s, cancel(f"X{n}", current))
                if rng.random() < 0.5:
                    await settle()
            else:
                n += 1
                new_qty = max(Decimal("0.25"), qty + Decimal(rng.randint(-4, 4)) / 4)
                oms.on_message(s, replace(f"R{n}", current, new_qty, 100))
            if rng.random() < 0.7:
                await settle()
            last = [er for er in s.ers() if er[150] in ("5", "4")]
            if last and last[-1][11] != current and last[-1].get(41) == current:
                current = last[-1][11]
        await settle()
        await asyncio.sleep(0.05)
        ers = s.ers()
        ids, cum, notional, done = set(), Decimal(0), Decimal(0), False
        for er in ers:
            assert er[17] not in ids
            ids.add(er[17])
            if done:
                assert er[150] == "I", er
            c, leaves, oq = D(er[14]), D(er[151]), D(er[38])
            if er[150] == "F":
                notional += D(er[31]) * D(er[32])
                cum += D(er[32])
                assert c == cum and abs(D(er[6]) - notional / cum) < Decimal("1e-9")
            assert c >= 0 and c == cum or er[150] == "I"
            if er[39] in TERMINAL:
                assert leaves == 0
                done = er[150] != "I"
            else:
                assert c + leaves == oq, er
        assert cum == venue_filled
    asyncio.run(run(t)(tmp_path / "db"))
