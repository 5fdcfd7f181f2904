"""A NewOrderSingle whose MinClip/MaxClip StrategyParameter is not a plain decimal ("1E+2",
"Infinity") is rejected with an ExecutionReport naming the parameter and value, for a DMA
order (SOR venue filters) and an algo parent (scheduler spec) alike; nothing reaches a venue."""
import asyncio
import time

import pytest

from fixgw.fix.message import FixMessage

from test_oms_algo_wiring import algo_oms
from test_oms_manager import nos, run, settle


def _end():
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(time.time() + 120))


def _group(name, value):
    return ((957, "1"), (958, name), (959, "6"), (960, value))


@pytest.mark.parametrize("value", ["1E+2", "Infinity", "NaN"])
def test_a_dma_order_with_a_non_plain_min_clip_is_rejected_naming_it(tmp_path, value):
    async def t(oms, s, v):
        oms.on_message(s, nos("C1", "1", "101", tif="3", extra=_group("MinClip", value)))
        await settle()
        rej = s.ers()[-1]
        assert rej[150] == "8" and rej[39] == "8"
        assert "StrategyParameter MinClip" in rej[58] and repr(value) in rej[58]
        assert not v["a"].submits and not v["b"].submits
        assert not oms.open_orders()
    asyncio.run(run(t)(tmp_path / "db"))


@pytest.mark.parametrize("name, value", [("MinClip", "1E+2"), ("MaxClip", "Infinity"),
                                         ("MaxClip", "2e-1")])
def test_an_algo_parent_with_a_non_plain_clip_is_rejected_naming_it(tmp_path, name, value):
    async def t():
        oms, s, v = algo_oms(tmp_path / "db", names=("a",))
        oms.on_message(s, FixMessage(((35, "D"), (11, "A1"), (55, "BTC/USDT"), (54, "1"),
                                      (38, "1"), (40, "2"), (44, "110"), (59, "1"),
                                      (60, "20261125-18:00:00.000"), (126, _end()),
                                      (847, "1001"))
                                     + _group(name, value)))
        await settle()
        rej = s.ers()[-1]
        assert rej[150] == "8" and f"StrategyParameter {name}" in rej[58]
        assert repr(value) in rej[58]
        assert not v["a"].submits and not oms.open_orders()
    asyncio.run(t())


def test_an_algo_parent_with_plain_clips_is_accepted(tmp_path):
    async def t():
        oms, s, v = algo_oms(tmp_path / "db", names=("a",))
        oms.on_message(s, FixMessage(((35, "D"), (11, "A2"), (55, "BTC/USDT"), (54, "1"),
                                      (38, "1"), (40, "2"), (44, "110"), (59, "1"),
                                      (60, "20261125-18:00:00.000"), (126, _end()),
                                      (847, "1001"),
                                      (957, "2"), (958, "MinClip"), (959, "6"), (960, "0.01"),
                                      (958, "MaxClip"), (959, "6"), (960, "0.5"))))
        await settle()
        assert s.ers()[-1][150] == "0"
        (order,) = oms.open_orders()
        spec = oms.runtime[order.order_id].algo.scheduler.parent
        assert (str(spec.min_clip), str(spec.max_clip)) == ("0.01", "0.5")
        oms.cancel_all(reason="test over")
        await settle()
    asyncio.run(t())
