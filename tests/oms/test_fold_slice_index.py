"""The slice index (slice id -> venue child ids) that replaced scanning every child of a parent:
it agrees with a scan while an algo works, and after a restart (journal reload, reconcile,
resumed scheduler). Real SQLite journal, the in-test venue harness."""
import asyncio
from decimal import Decimal

from fixgw.fix.message import FixMessage
from fixgw.oms.manager import ChildRuntimeTable
from fixgw.oms.recovery import reconcile
from fixgw.oms.runtime import ChildRuntime

from test_oms_algo_resume import MemoryVenue, manager
from test_oms_manager import settle

D = Decimal


def _scan(oms, order, slice_id):
    return [c for c in order.children.values()
            if oms.child_rt[c.client_order_id].slice_id == slice_id]


def _assert_index_agrees(oms):
    slice_ids = {crt.slice_id for crt in oms.child_rt.values() if crt.slice_id is not None}
    for order in oms.orders.values():
        for sid in slice_ids:
            assert oms.slice_children(order, sid) == _scan(oms, order, sid), sid
    indexed = sorted(cid for sid in slice_ids for cid in oms.child_rt.in_slice(sid))
    assert indexed == sorted(cid for cid, crt in oms.child_rt.items() if crt.slice_id is not None)


def _iceberg(cl):
    return FixMessage(((35, "D"), (11, cl), (55, "BTC/USDT"), (54, "1"), (38, "3"), (40, "2"),
                       (44, "98"), (59, "1"), (111, "1"), (60, "20261125-18:00:00.000"),
                       (847, "1002")))


def test_the_table_keeps_its_index_through_replace_delete_and_pop():
    table = ChildRuntimeTable()
    table["c1"] = ChildRuntime(slice_id="P-1")
    table["c2"] = ChildRuntime(slice_id="P-1")
    table["c3"] = ChildRuntime(slice_id="P-2")
    table["c4"] = ChildRuntime()
    assert table.in_slice("P-1") == ["c1", "c2"] and table.in_slice("P-2") == ["c3"]
    table["c2"] = ChildRuntime(slice_id="P-2")          # re-inserted under another slice
    assert table.in_slice("P-1") == ["c1"] and table.in_slice("P-2") == ["c3", "c2"]
    del table["c1"]
    assert table.in_slice("P-1") == []
    assert table.pop("c3").slice_id == "P-2" and table.in_slice("P-2") == ["c2"]
    assert table.pop("nope", None) is None
    table.update({"c5": ChildRuntime(slice_id="P-3")})
    table.setdefault("c6", ChildRuntime(slice_id="P-3"))
    assert table.in_slice("P-3") == ["c5", "c6"] and len(table) == 4


def test_the_slice_index_agrees_with_a_scan_while_working_and_after_a_restart(tmp_path):
    async def t():
        venues = {"a": MemoryVenue("a")}
        oms, s = manager(tmp_path / "db", venues)
        oms.on_message(s, _iceberg("ICE"))
        await settle()
        (order,) = oms.open_orders()
        # two displays filled: three slices, each with its own venue child
        for _ in range(2):
            open_ = [r for r in venues["a"].submits
                     if venues["a"].filled(r.client_order_id) < r.quantity]
            for r in open_:
                venues["a"].fill(r, r.quantity, D(98))
            await settle()
        assert len(venues["a"].submits) == 3
        sids = [oms.child_rt[c].slice_id for c in order.children]
        assert None not in sids and len(set(sids)) == 3
        _assert_index_agrees(oms)
        for sid in sids:
            assert len(oms.slice_children(order, sid)) == 1

        # SIGKILL; a new manager loads the journal (children come back without a slice),
        # reconciles, and the resumed scheduler adds children under its own slices
        venues["a"].downstream = None
        oms2, s2 = manager(tmp_path / "db", venues)
        await reconcile(oms2, oms2.load())
        await settle()
        (order2,) = oms2.open_orders()
        old = set(order.children)
        assert old <= set(order2.children)
        assert all(oms2.child_rt[c].slice_id is None for c in old)
        new = [c for c in order2.children if c not in old]
        assert new and all(oms2.child_rt[c].slice_id is not None for c in new)
        _assert_index_agrees(oms2)
        # and the resumed parent completes through the index
        r = next(r for r in venues["a"].submits if r.client_order_id == new[0])
        venues["a"].fill(r, r.quantity, D(98))
        await settle()
        _assert_index_agrees(oms2)
        assert D(s2.ers()[-1][14]) == D(3) and s2.ers()[-1][39] == "2"
    asyncio.run(t())
