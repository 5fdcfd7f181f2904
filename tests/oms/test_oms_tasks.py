"""Background work the OMS spawns (routing, cancels, fill chases) never fails silently."""
import asyncio
import logging

from fixgw.clock import LiveClock
from fixgw.oms.journal import Journal
from fixgw.oms.manager import OrderManager
from fixgw.routing.sor import SmartOrderRouter

from test_oms_manager import HarnessMarket


def test_an_exception_in_a_spawned_task_is_logged_with_its_traceback_and_the_task_released(
        tmp_path, caplog):
    caplog.set_level(logging.ERROR)

    async def boom():
        await asyncio.sleep(0)
        raise RuntimeError("venue sent garbage")

    async def ok():
        return 1

    async def t():
        oms = OrderManager(journal=Journal(tmp_path / "j.db"), clock=LiveClock(), venues={},
                           router=SmartOrderRouter(), market=HarnessMarket({}))
        bad, good = oms._spawn(boom()), oms._spawn(ok())
        await asyncio.gather(bad, good, return_exceptions=True)
        await asyncio.sleep(0)   # done callbacks run
        assert not oms.tasks
    asyncio.run(t())
    failed = [r for r in caplog.records if "background task" in r.getMessage()]
    assert len(failed) == 1 and "boom" in failed[0].getMessage()
    assert failed[0].exc_info and "venue sent garbage" in str(failed[0].exc_info[1])
