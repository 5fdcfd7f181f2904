"""Pure-scheduler tests with a fake clock and the deterministic market of algo_harness."""
from __future__ import annotations

from decimal import Decimal as D

import pytest
from algo_harness import INSTR, T0, Driver

from fixgw.algo import (ACParams, AlgoSettings, ChildStyle, ParentRejected, ParentSpec,
                        SchedulerStatus, VolumeProfile, make_scheduler)
from fixgw.algo.schedule import Schedule
from fixgw.domain import Side, Strategy, Urgency

CURVES = [Strategy.TWAP, Strategy.VWAP, Strategy.ARRIVAL]


def parent(strategy=Strategy.TWAP, qty="10.007", side=Side.BUY, limit="101.00", end=600.0,
           **kw) -> ParentSpec:
    return ParentSpec("P1", side, D(qty), strategy, start=T0, end=None if end is None else T0 + end,
                      limit_price=None if limit is None else D(limit), **kw)


def filled_children_sum(d: Driver) -> D:
    return sum((f.quantity for f in d.sched.fills), D(0))


@pytest.mark.parametrize("strategy", CURVES)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_slices_sum_exactly_to_the_order_quantity(strategy, seed):
    s = make_scheduler(parent(strategy, qty="7.777"), INSTR, seed,
                       volume_profile=VolumeProfile.from_trades(
                           [(T0 + i * 7.0, D(i % 5)) for i in range(200)], buckets=96))
    d = Driver(s, passive_fill_rate=D("0.3"))
    d.start()
    assert sum(s.schedule.slices()) == D("7.777")
    assert all(x >= 0 and (x / INSTR.lot_size) == int(x / INSTR.lot_size) for x in s.schedule.slices())
    d.run_until(T0 + 700)
    assert s.status is SchedulerStatus.FILLED
    assert s.filled == D("7.777") == filled_children_sum(d)
    assert s.leaves == 0 and not d.open


def test_odd_quantity_remainder_is_carried_to_the_last_slice():
    sched = Schedule.from_fractions(T0, [T0 + 1, T0 + 2, T0 + 3], [D(1) / 3, D(2) / 3, D(1)],
                                    D("1.0005"), INSTR)
    assert sched.slices() == [D("0.333"), D("0.334"), D("0.3335")]
    assert sum(sched.slices()) == D("1.0005")


@pytest.mark.parametrize("strategy", CURVES + [Strategy.POV, Strategy.ICEBERG])
def test_nothing_is_sent_at_or_after_end_and_remainder_expires(strategy):
    # limit below the ask: nothing can cross; passive never fills -> remainder must expire
    p = parent(strategy, limit="100.05", end=300.0, participation_rate=D("0.1")
               if strategy is Strategy.POV else None, max_floor=D(1))
    s = make_scheduler(p, INSTR, 7)
    d = Driver(s)
    d.start()
    d.run_until(T0 + 400, market_volume_per_tick=D("0.5"))
    assert d.sent, "the scheduler should have tried"
    assert max(x.time for x in d.sent) < T0 + 300
    assert s.status is SchedulerStatus.EXPIRED
    assert s.leaves == D("10.007") and not d.open
    assert s.on_timer(T0 + 500, d.market.snapshot(T0 + 500)) == []


@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
@pytest.mark.parametrize("strategy", CURVES + [Strategy.POV, Strategy.ICEBERG])
def test_limit_is_never_crossed_while_the_market_runs_through_it(side, strategy):
    limit = D("101.00") if side is Side.BUY else D("99.10")
    p = parent(strategy, side=side, limit=str(limit), participation_rate=D("0.2")
               if strategy is Strategy.POV else None, max_floor=D("0.5"))
    s = make_scheduler(p, INSTR, 3)
    d = Driver(s, passive_fill_rate=D("0.05"))
    step = D("0.05") * side.sign

    def drift(drv: Driver) -> None:      # the market walks through the limit and beyond
        drv.market.bid += step
        drv.market.ask += step

    d.start()
    d.run_until(T0 + 700, market_volume_per_tick=D(1), on_tick=drift)
    assert d.sent
    for x in d.sent:
        assert side.sign * (x.intent.limit_price - limit) <= 0, x
    for f in s.fills:
        assert side.sign * (f.price - limit) <= 0


def test_twap_catches_up_by_crossing_when_passive_slices_do_not_fill():
    s = make_scheduler(parent(Strategy.TWAP, qty="6", end=600.0), INSTR, 5,
                       AlgoSettings(slice_seconds=60, timing_jitter=0, size_jitter=0))
    d = Driver(s)          # passive children never fill
    d.start()
    first = d.sent[0].intent
    assert first.style is ChildStyle.PASSIVE and first.quantity == s.schedule.cumulative[0]
    assert first.limit_price == d.market.bid
    t1 = s.schedule.times[0]
    d.run_until(t1 + 0.5)
    crosses = [x for x in d.sent if x.intent.style is ChildStyle.CROSS]
    assert crosses and crosses[0].time >= t1 and "catch up" in crosses[0].intent.reason
    assert first.child_id in d.canceled          # the stale passive slice was pulled
    assert s.filled == s.schedule.due(t1)         # back on schedule after the cross
    for t, due in zip(s.schedule.times, s.schedule.cumulative):
        d.run_until(t + 1.5)
        assert s.filled >= due
    assert s.status is SchedulerStatus.FILLED and s.filled == D(6)


def test_passive_child_is_repriced_when_the_touch_moves_away():
    s = make_scheduler(parent(Strategy.TWAP, qty="6"), INSTR, 1,
                       AlgoSettings(slice_seconds=60, refresh_seconds=5))
    d = Driver(s)
    d.start()
    d.market.bid, d.market.ask = D("100.20"), D("100.30")
    d.run_until(T0 + 6)
    assert d.sent[0].intent.child_id in d.canceled
    d.run_until(T0 + 8)
    assert d.sent[-1].intent.style is ChildStyle.PASSIVE
    assert d.sent[-1].intent.limit_price == D("100.20")


@pytest.mark.parametrize("strategy", CURVES)
def test_replace_quantity_up_and_down_and_end_time_mid_schedule(strategy):
    s = make_scheduler(parent(strategy, qty="10"), INSTR, 11)
    d = Driver(s, passive_fill_rate=D("0.2"))
    d.start()
    d.run_until(T0 + 200)
    done = s.filled
    assert D(0) < done < D(10)
    with pytest.raises(ParentRejected, match=r"OrderQty\(38\)"):
        s.on_replace(d.now, d.market.snapshot(d.now), quantity=done - D("0.001"))
    d.execute(s.on_replace(d.now, d.market.snapshot(d.now), quantity=D("12.5"),
                           end=T0 + 900))
    assert s.schedule.total == D("12.5") - done and s.end == T0 + 900
    d.run_until(T0 + 400)
    assert s.filled + s.working <= D("12.5")
    mid = s.filled
    d.execute(s.on_replace(d.now, d.market.snapshot(d.now), quantity=mid + D("1")))
    d.run_until(T0 + 1000)
    assert s.status is SchedulerStatus.FILLED and s.filled == mid + 1
    assert max(x.time for x in d.sent) < T0 + 900


def test_replace_limit_cancels_children_beyond_the_new_limit():
    s = make_scheduler(parent(Strategy.TWAP, qty="10", limit="101"), INSTR, 1)
    d = Driver(s)
    d.start()
    child = d.sent[0].intent
    assert child.limit_price == D("100.00")
    d.execute(s.on_replace(d.now, d.market.snapshot(d.now), limit_price=D("99.50")))
    assert child.child_id in d.canceled
    assert s.next_wakeup() <= d.now          # the freed quantity is re-posted at once
    d.run_until(d.now + 1)
    assert d.sent[-1].intent.limit_price == D("99.50")


def test_replace_down_to_the_filled_quantity_finishes_the_parent():
    s = make_scheduler(parent(Strategy.TWAP, qty="10"), INSTR, 1)
    d = Driver(s, passive_fill_rate=D("0.5"))
    d.start()
    d.run_until(T0 + 100)
    d.execute(s.on_replace(d.now, d.market.snapshot(d.now), quantity=s.filled))
    assert not d.open and s.status is SchedulerStatus.FILLED


def test_pause_cancels_everything_and_resume_replans_the_rest():
    s = make_scheduler(parent(Strategy.TWAP, qty="10"), INSTR, 1)
    d = Driver(s, passive_fill_rate=D("0.2"))
    d.start()
    d.run_until(T0 + 100)
    d.execute(s.pause(d.now))
    assert not d.open and s.status is SchedulerStatus.PAUSED
    n = len(d.sent)
    d.run_until(T0 + 300)
    assert len(d.sent) == n, "nothing sent while paused"
    d.execute(s.resume(d.now, d.market.snapshot(d.now)))
    assert s.schedule.start == T0 + 300 and s.schedule.total == D(10) - s.filled
    assert s.planned_quantity(T0 + 300) == s.filled
    d.run_until(T0 + 700)
    assert s.status is SchedulerStatus.FILLED and s.filled == D(10)


def test_parent_cancel_pulls_children_and_ends_canceled():
    s = make_scheduler(parent(Strategy.TWAP, qty="10"), INSTR, 1)
    d = Driver(s)
    d.start()
    intents = s.cancel(d.now)
    assert s.status is SchedulerStatus.FINISHING
    d.execute(intents)
    assert s.status is SchedulerStatus.CANCELED and not d.open
    assert s.next_wakeup() is None


def test_nothing_before_effective_time():
    p = ParentSpec("P1", Side.BUY, D(5), Strategy.TWAP, start=T0 + 60, end=T0 + 660)
    s = make_scheduler(p, INSTR, 1)
    d = Driver(s)
    d.start()
    assert d.sent == [] and s.status is SchedulerStatus.WAITING and s.next_wakeup() == T0 + 60
    d.run_until(T0 + 61)
    assert d.sent and d.sent[0].time >= T0 + 60


def test_twap_randomisation_is_seeded_and_bounded():
    def sched(seed):
        s = make_scheduler(parent(Strategy.TWAP, qty="10"), INSTR, seed,
                           AlgoSettings(slice_seconds=60))
        Driver(s).start()
        return s.schedule
    a, b, c = sched(1), sched(1), sched(2)
    assert a == b and a != c
    n = len(a.times)
    even = D(10) / n
    for i, (t, cum) in enumerate(zip(a.times, a.cumulative), start=1):
        step = (a.end - T0) / n
        assert abs(t - (T0 + i * step)) <= 0.2 * step + 1e-6
        assert abs(cum - even * i) <= D("0.2") * even + INSTR.lot_size
    assert len(set(a.slices())) > 1


def test_vwap_follows_the_volume_profile():
    # intensity 3x in the first half of each 600 s period
    prof = VolumeProfile((3.0, 1.0), period_seconds=600.0, origin=T0)
    s = make_scheduler(parent(Strategy.VWAP, qty="8", end=600.0), INSTR, 1,
                       AlgoSettings(slice_seconds=30, final_window_fraction=0.0),
                       volume_profile=prof)
    Driver(s).start()
    half = s.schedule.due(T0 + 300)
    assert abs(half - D(6)) <= D("0.01")        # 3/4 of the volume in the first half


def test_min_clip_merges_small_slices():
    s = make_scheduler(parent(Strategy.TWAP, qty="1", min_clip=D("0.3")), INSTR, 1,
                       AlgoSettings(slice_seconds=30))
    d = Driver(s, passive_fill_rate=D(1))
    d.start()
    d.run_until(T0 + 700)
    qtys = [x.intent.quantity for x in d.sent]
    assert s.filled == D(1)
    assert all(q >= D("0.3") for q in qtys[:-1])


def test_pov_tracks_the_market_volume_within_its_band():
    p = parent(Strategy.POV, qty="1000", end=None, limit=None, participation_rate=D("0.1"),
               max_clip=D(5))
    s = make_scheduler(p, INSTR, 1)
    d = Driver(s, passive_fill_rate=D("0.5"))
    d.start()
    v0 = d.market.volume
    checked = 0
    for _ in range(300):
        d.run_until(d.now + 1, market_volume_per_tick=D("3.7"))
        volume = d.market.volume - v0
        if volume > 50:
            share = s.filled / volume
            assert D("0.1") * D("0.75") <= share <= D("0.1") * D("1.25"), (d.now, share)
            checked += 1
    assert checked > 200
    assert all(x.intent.quantity <= D(5) for x in d.sent)


def test_pov_requires_a_rate():
    with pytest.raises(ParentRejected, match=r"ParticipationRate\(849\)"):
        make_scheduler(parent(Strategy.POV, participation_rate=None), INSTR, 1)


def test_iceberg_shows_max_floor_and_refills_as_it_fills():
    p = parent(Strategy.ICEBERG, qty="2.5", limit="100.00", max_floor=D("1"), end=None)
    s = make_scheduler(p, INSTR, 1)
    d = Driver(s)
    d.start()
    assert [x.intent.quantity for x in d.sent] == [D(1)]
    assert d.sent[0].intent.limit_price == D("100.00") and not d.sent[0].intent.post_only
    assert d.sent[0].intent.style is ChildStyle.PASSIVE          # below the ask: it rests
    d.fill_passive(D("0.5"))
    d.run_until(d.now + 2)
    assert len(d.sent) == 1, "no refill while the display is only partly filled"
    d.fill_passive()
    d.run_until(d.now + 1)
    assert [x.intent.quantity for x in d.sent] == [D(1), D(1)]
    d.fill_passive()
    d.run_until(d.now + 1)
    assert [x.intent.quantity for x in d.sent] == [D(1), D(1), D("0.5")]
    d.fill_passive()
    assert s.status is SchedulerStatus.FILLED and s.filled == D("2.5")
    assert len(d.open) == 0


def test_iceberg_requires_limit_and_floor():
    with pytest.raises(ParentRejected, match=r"Price\(44\)"):
        make_scheduler(parent(Strategy.ICEBERG, limit=None, max_floor=D(1)), INSTR, 1)
    with pytest.raises(ParentRejected, match=r"MaxFloor\(111\)"):
        make_scheduler(parent(Strategy.ICEBERG), INSTR, 1)


def test_curve_strategies_require_an_end_time():
    with pytest.raises(ParentRejected, match=r"ExpireTime\(126\)"):
        make_scheduler(parent(Strategy.TWAP, end=None), INSTR, 1)


@pytest.mark.parametrize("strategy", CURVES)
def test_a_horizon_needing_more_than_max_slices_is_refused_naming_expire_time(strategy):
    settings = AlgoSettings(slice_seconds=30.0, max_slices=100)
    make_scheduler(parent(strategy, end=30.0 * 100), INSTR, 1, settings)      # exactly the cap
    with pytest.raises(ParentRejected, match=r"ExpireTime\(126\)=.*101 slices.*max_slices 100"):
        make_scheduler(parent(strategy, end=30.0 * 101), INSTR, 1, settings)
    # ten years at the default 30 s slices: refused by the scheduler itself, not left to the OMS
    with pytest.raises(ParentRejected, match=r"ExpireTime\(126\)"):
        make_scheduler(parent(strategy, end=10 * 365 * 86400.0), INSTR, 1)
    with pytest.raises(ParentRejected, match=r"min_slices 1000"):
        make_scheduler(parent(strategy), INSTR, 1, AlgoSettings(min_slices=1000, max_slices=100))


def test_a_replace_extending_the_horizon_past_max_slices_is_refused_and_keeps_the_plan():
    s = make_scheduler(parent(Strategy.TWAP), INSTR, 1, AlgoSettings(max_slices=100))
    d = Driver(s)
    d.start()
    plan, end = s.schedule, s.end
    with pytest.raises(ParentRejected, match=r"ExpireTime\(126\)"):
        s.on_replace(d.now, d.market.snapshot(d.now), end=d.now + 30.0 * 1000)
    assert s.schedule is plan and s.end == end
    d.execute(s.on_replace(d.now, d.market.snapshot(d.now), end=d.now + 30.0 * 50))
    assert s.end == d.now + 1500 and len(s.schedule.times) <= 100


@pytest.mark.parametrize("impact", [None, ACParams(sigma=0.01, eta=0.05, gamma=0.0001,
                                                   epsilon=0.05)])
def test_arrival_trajectory_is_front_loaded_more_with_urgency(impact):
    done_at_quarter = {}
    for u in Urgency:
        s = make_scheduler(parent(Strategy.ARRIVAL, qty="10", urgency=u), INSTR, 1,
                           AlgoSettings(slice_seconds=10), impact=impact)
        Driver(s).start()
        done_at_quarter[u] = s.schedule.due(T0 + 150)
        assert s.schedule.total == D(10)
        slices = s.schedule.slices()
        assert all(a >= b - INSTR.lot_size for a, b in zip(slices, slices[1:-1]))  # decreasing
    assert D("2.3") < done_at_quarter[Urgency.LOW] < done_at_quarter[Urgency.MEDIUM] \
        < done_at_quarter[Urgency.HIGH]


def test_taker_only_mode_crosses_each_slice_when_due_and_never_rests():
    s = make_scheduler(parent(Strategy.ARRIVAL, qty="5", urgency=Urgency.HIGH), INSTR, 1,
                       AlgoSettings(slice_seconds=30, passive_first=False))
    d = Driver(s, passive_fill_rate=D(1))
    d.start()
    assert d.sent == []                     # nothing is due at the start
    d.run_until(T0 + 700)
    assert s.status is SchedulerStatus.FILLED and s.filled == D(5)
    assert {x.intent.style for x in d.sent} == {ChildStyle.CROSS}
    due_times = set(s.schedule.times)
    assert all(any(abs(x.time - t) <= 1.0 for t in due_times) for x in d.sent)


def test_a_passive_child_refused_by_the_venue_is_not_resent_in_a_tight_loop():
    s = make_scheduler(parent(Strategy.TWAP, qty="6"), INSTR, 1, AlgoSettings(poll_seconds=2))
    d = Driver(s)
    d.start()
    first = d.sent[0].intent
    del d.open[first.child_id]              # the venue rejects it (post-only would take)
    s.on_child_done(first.child_id, d.now)
    assert s.next_wakeup() == d.now + 2     # back off one poll
    d.run_until(d.now + 2)
    assert len(d.sent) == 2 and d.sent[1].time == T0 + 2


def test_measured_impact_parameters():
    import math

    from fixgw.algo.impact import book_density, measured_params, realized_volatility
    mids = [(0.0, D(100)), (1.0, D("100.1")), (2.0, D(100)), (4.0, D(100))]
    vol = realized_volatility(mids)
    assert math.isclose(vol, math.sqrt((math.log(1.001) ** 2 + math.log(100 / 100.1) ** 2) / 4))
    levels = [(D("100.1"), D(2)), (D("100.2"), D(2)), (D("100.3"), D(2)), (D("105"), D(50))]
    assert book_density(levels, D("100.1"), D("0.5")) == 12.0     # 6 units within 0.5
    p = measured_params(D(100), D("0.2"), 12.0, vol, resilience_rate=0.5, taker_fee=D("0.001"))
    assert math.isclose(p.eta, 1 / 6) and math.isclose(p.epsilon, 0.2)
    assert realized_volatility(mids[:2]) is None


def test_fills_announced_at_child_end_are_reserved_so_late_fills_never_overfill():
    s = make_scheduler(parent(Strategy.TWAP, qty="2"), INSTR, 1,
                       AlgoSettings(slice_seconds=300, final_window_fraction=0.01))
    d = Driver(s)
    d.start()
    first = d.sent[0].intent
    # the cancel response says 0.4 filled, but the fill itself is still on its way
    [cancel] = s.cancel_passive("test")
    assert cancel.child_id == first.child_id
    del d.open[first.child_id]
    s.on_child_done(first.child_id, d.now, final_filled=D("0.4"))
    assert s.working == D("0.4") and s.uncommitted == D("1.6")
    d.run_until(T0 + 25)                                      # within the grace period
    assert s.filled + s.working <= D(2) and s.working >= D("0.4")
    s.on_fill(first.child_id, D("0.4"), D(100), d.now)       # the late fill lands
    assert s.working == sum(d.open.values(), D(0))
    d.run_until(T0 + 700)
    assert s.filled == D(2) and s.status is SchedulerStatus.FILLED


def test_a_short_order_is_still_sliced():
    s = make_scheduler(parent(Strategy.TWAP, qty="1", end=6.0), INSTR, 1,
                       AlgoSettings(slice_seconds=30, timing_jitter=0, size_jitter=0))
    Driver(s).start()
    assert len(s.schedule.times) == 5 and s.schedule.slices() == [D("0.2")] * 5


def test_a_marketable_iceberg_display_is_a_plain_limit_order():
    p = parent(Strategy.ICEBERG, qty="2", limit="100.20", max_floor=D("1"), end=None)
    s = make_scheduler(p, INSTR, 1)
    d = Driver(s)
    d.market.volume = D(0)
    s_intents = s.on_start(d.now, d.market.snapshot(d.now))
    [child] = s_intents
    assert child.style is ChildStyle.LIMIT and child.limit_price == D("100.20")
    assert child.tif.value == "1" and not child.post_only          # GTC: the rest rests


def test_volume_profile_learned_from_trade_prints():
    # prints only in the first quarter of a 400 s period: that bucket carries the weight
    prints = [(T0 + t, D("0.5")) for t in range(0, 100, 2)] * 3
    prof = VolumeProfile.from_trades(prints, buckets=4, period_seconds=400.0, origin=T0)
    assert prof.weights[0] == 75.0 and prof.weights[1:] == (0.05 * 75 / 4,) * 3
    assert prof.integral(T0, T0 + 100) / prof.integral(T0, T0 + 400) > 0.95
    assert VolumeProfile.from_trades([], buckets=3).weights == (1.0, 1.0, 1.0)


def test_participation_rate_caps_a_twap_schedule():
    s = make_scheduler(parent(Strategy.TWAP, qty="10", participation_rate=D("0.1")), INSTR, 1,
                       AlgoSettings(size_jitter=0, timing_jitter=0))
    d = Driver(s, passive_fill_rate=D(1))
    d.start()
    d.run_until(T0 + 300, market_volume_per_tick=D("0.1"))    # 30 units + our own prints
    assert s.filled <= D("0.1") * (d.market.volume) + INSTR.lot_size
    assert s.filled < s.schedule.due(T0 + 300)                  # the cap, not the curve, binds


def test_the_default_max_slices_admits_every_horizon_the_oms_accepts():
    from fixgw.oms.algo_host import MAX_HORIZON_S
    for strategy in CURVES:
        make_scheduler(parent(strategy, end=float(MAX_HORIZON_S)), INSTR, 1)
