"""Faults, crashes, delivery guarantees, idempotency and dead-lettering."""

from __future__ import annotations

from collections.abc import Generator

import numpy as np
import pytest
import simpy

import evsim as ev
from evsim.actors.consumer import Consumer
from evsim.actors.faults import Crashes, Outage, PoisonEvents, Slowdown, TransientErrors
from evsim.actors.retry import Backoff, Retry


def group_run(until=200.0, partitions=2, consumers=2, rate=10.0, seed=3, **group):
    sim = ev.Simulation(seed=seed)
    sim.topic("t", partitions=partitions)
    sim.producer("p", "t", ev.Poisson(rate=rate), keys=ev.UniformKeys(100))
    sim.consumer_group("g", "t", consumers=consumers, service_time=0.02, **group)
    return sim.run(until=until)


def owner_of(result, partition, after, before):
    attempts = result.attempts.merge(result.events[["event_id", "partition"]], on="event_id")
    rows = attempts[
        (attempts["partition"] == partition)
        & (attempts["started_at"] > after)
        & (attempts["started_at"] < before)
    ]
    return set(rows["consumer"])


def test_a_crashed_consumers_partitions_move_after_the_session_timeout_and_back():
    result = group_run(faults=[Outage(50, 150, consumers=["g-1"])])
    assert owner_of(result, 1, 0, 50) == {"g-1"}
    assert owner_of(result, 1, 50, 95) == set()  # still assigned to the dead consumer
    assert owner_of(result, 1, 95.5, 150) == {"g-0"}  # 45 s later: rebalanced
    assert owner_of(result, 1, 150.5, 200) == {"g-1"}  # rejoined: range gives it back
    series = result.timeseries
    up = series[series["metric"] == "consumers_up"].set_index("time")["value"]
    assert up.loc[49.0] == 2 and up.loc[100.0] == 1 and up.loc[151.0] == 2
    result.check()


def test_a_custom_session_timeout_is_respected():
    result = group_run(faults=[Outage(50, 150, consumers=["g-1"])], session_timeout=10)
    assert owner_of(result, 1, 50, 60) == set()
    assert owner_of(result, 1, 60.5, 150) == {"g-0"}


def test_a_crash_mid_event_records_a_crashed_attempt_and_the_work_is_redone():
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    sim.producer("p", "t", ev.Replay([1.0]))
    sim.consumer_group("g", "t", service_time=10.0, faults=[Outage(5, 20)], commit_interval=0)
    result = sim.run(until=100)
    attempts = result.attempts.sort_values("started_at")
    assert attempts["status"].tolist() == ["crashed", "ok"]
    assert attempts["finished_at"].iloc[0] == 5.0
    assert attempts["started_at"].iloc[1] == 20.0
    assert attempts["attempt"].tolist() == [1, 2]
    assert result.deliveries["outcome"].tolist() == ["processed"]


def test_at_most_once_loses_the_events_in_hand_at_a_crash():
    result = group_run(faults=[Crashes(mttf=20, mttr=5)], commit="before", rate=40)
    summary = result.summary().loc["g"]
    crashed = result.attempts[result.attempts["status"] == "crashed"]
    assert summary["lost"] == crashed["event_id"].nunique() > 0
    assert summary["duplicates"] == 0
    result.check()


def test_at_least_once_redelivers_uncommitted_work_after_a_crash():
    result = group_run(faults=[Crashes(mttf=20, mttr=5)], commit="after", rate=40)
    summary = result.summary().loc["g"]
    assert summary["lost"] == 0
    assert summary["duplicates"] > 20
    ok = result.attempts[result.attempts["status"] == "ok"]
    assert ok.groupby("event_id").size().max() >= 2
    result.check()


def test_an_idempotent_consumer_skips_what_it_has_processed():
    result = group_run(faults=[Crashes(mttf=20, mttr=5)], commit="after", rate=40, idempotent=True)
    summary = result.summary().loc["g"]
    assert summary["duplicates"] == 0
    skipped = result.attempts[result.attempts["status"] == "duplicate"]
    assert len(skipped) > 20
    assert (skipped["started_at"] == skipped["finished_at"]).all()
    result.check()


def test_an_idempotency_window_forgets_old_ids():
    forever = group_run(faults=[Crashes(mttf=20, mttr=5)], rate=40, idempotent=True)
    short = group_run(
        faults=[Crashes(mttf=20, mttr=5)], rate=40, idempotent=True, idempotency_window=0.5
    )
    assert forever.summary().loc["g", "duplicates"] == 0
    assert short.summary().loc["g", "duplicates"] > 0


def test_crashes_show_in_consumers_up():
    result = group_run(faults=[Crashes(mttf=30, mttr=10)], consumers=3, until=600)
    series = result.timeseries
    up = series[series["metric"] == "consumers_up"]["value"]
    assert up.min() < 3
    # availability of each consumer is mttf / (mttf + mttr) = 0.75
    assert up.mean() / 3 == pytest.approx(0.75, abs=0.1)


def test_a_consumer_down_for_two_reasons_comes_back_only_when_both_are_over():
    # g-1's own crashes overlap the outage: a restart in between must not bring it back
    sim = ev.Simulation(seed=4)
    sim.queue("q")
    sim.producer("p", "q", ev.Poisson(rate=5))
    group = sim.consumer_group(
        "g", "q", consumers=3, service_time=0.1,
        faults=[Crashes(mttf=15, mttr=5), Outage(40, 70, consumers=["g-1"])],
    )  # fmt: skip
    seen: list[tuple[float, bool, bool]] = []
    sim.world.env.process(_watch(sim.world.env, group.members[1], seen))
    result = sim.run(until=300)
    assert any(both for _, _, both in seen)  # a crash of g-1 during the outage
    assert not any(up for t, up, _ in seen if 40 < t < 70)
    assert any(up for t, up, _ in seen if t > 70)
    series = result.timeseries
    sampled = series[series["metric"] == "consumers_up"].set_index("time")["value"]
    assert (sampled.loc[41.0:69.0] <= 2).all()  # the gauge never counts g-1 meanwhile


def _watch(
    env: simpy.Environment, member: Consumer, seen: list[tuple[float, bool, bool]]
) -> Generator[simpy.Event, None, None]:
    """Every 0.5 s: the time, whether ``member`` is up, and whether it is down for two
    reasons at once."""
    while True:
        seen.append((env.now, member.up, len(member._down_for) > 1))
        yield env.timeout(0.5)


def test_an_outage_stops_every_consumer_and_lag_builds_up():
    result = group_run(faults=[Outage(60, 120)], commit_interval=0)
    series = result.timeseries
    lag = series[series["metric"] == "lag"].groupby("time")["value"].sum()
    assert lag.loc[119.0] > 400
    assert lag.loc[199.0] < 20
    assert result.attempts["started_at"].between(60.001, 119.999).sum() == 0


def test_a_slowdown_stretches_service_times_in_its_window():
    result = group_run(faults=[Slowdown(50, 100, factor=4)], rate=5)
    attempts = result.attempts
    took = attempts["finished_at"] - attempts["started_at"]
    inside = attempts["started_at"].between(50, 99.9)
    np.testing.assert_allclose(took[inside], 0.08)
    np.testing.assert_allclose(took[~inside & (attempts["started_at"] < 200)], 0.02)


def test_poison_events_are_the_same_for_every_group_and_nested_by_share():
    sim = ev.Simulation(seed=8)
    sim.topic("t")
    sim.producer("p", "t", ev.Poisson(rate=50))
    sim.consumer_group("a", "t", faults=[PoisonEvents(p=0.05)])
    sim.consumer_group("b", "t", faults=[PoisonEvents(p=0.05)])
    sim.consumer_group("c", "t", faults=[PoisonEvents(p=0.10)])
    result = sim.run(until=100)
    lost = {
        group: set(rows.loc[rows["outcome"] == "lost", "event_id"])
        for group, rows in result.deliveries.groupby("group", observed=True)
    }
    assert lost["a"] == lost["b"]
    assert lost["a"] < lost["c"]
    routed = (result.deliveries["group"] == "a").sum()
    assert len(lost["a"]) / routed == pytest.approx(0.05, abs=0.01)


def test_poison_events_chosen_by_a_function():
    sim = ev.Simulation(seed=8)
    sim.topic("t")
    sim.producer("p", "t", ev.Periodic(1.0), payload=lambda i: {"amount": -1 if i % 4 else 5})
    sim.consumer_group("g", "t", faults=[PoisonEvents(match=lambda e: e.payload["amount"] < 0)])
    result = sim.run(until=40.5)
    assert result.summary().loc["g", "lost"] == 30


def test_dead_letter_records_carry_the_reason_coordinates_attempts_and_last_error():
    result = group_run(
        faults=[PoisonEvents(p=0.05)],
        retry=Retry(max_attempts=3, backoff=0.1),
        dead_letter="t-dead",
    )
    events = result.events
    dead = events[events["target"] == "t-dead"]
    assert len(dead) == result.summary().loc["g", "dead_lettered"] > 10
    assert (dead["producer"] == "g").all()
    originals = events.set_index("event_id").loc[dead["original_id"].astype(int)]
    for attributes, (_, original) in zip(dead["attributes"], originals.iterrows(), strict=True):
        assert attributes["dlq_reason"] == "retries exhausted"
        assert attributes["original_topic"] == "t"
        assert attributes["original_partition"] == original["partition"]
        assert attributes["original_offset"] == original["offset"]
        assert attributes["attempts"] == 3
        assert attributes["last_error"].startswith("PoisonEventError")
    assert (dead["key"].to_numpy() == originals["key"].to_numpy()).all()
    series = result.timeseries
    depth = series[(series["metric"] == "dlq_depth") & (series["entity"] == "t-dead")]
    last = depth["time"].iloc[-1]
    assert depth["value"].iloc[-1] == (dead["appended_at"] <= last).sum()
    assert depth["value"].is_monotonic_increasing


def test_a_non_retryable_error_is_dead_lettered_at_once_with_its_reason():
    result = group_run(
        faults=[PoisonEvents(p=0.05)],
        retry=Retry(max_attempts=3, retry_on=["TransientError"]),
        dead_letter="t-dead",
    )
    dead = result.events[result.events["target"] == "t-dead"]
    assert {a["dlq_reason"] for a in dead["attributes"]} == {"not retryable"}
    assert {a["attempts"] for a in dead["attributes"]} == {1}


def test_without_a_dead_letter_target_exhausted_events_are_lost():
    result = group_run(faults=[PoisonEvents(p=0.05)], retry=Retry(max_attempts=2))
    summary = result.summary().loc["g"]
    assert summary["dead_lettered"] == 0
    assert summary["lost"] > 10


def test_fault_arguments_are_checked():
    with pytest.raises(ev.ConfigError, match="p"):
        TransientErrors(p=1.5)
    with pytest.raises(ev.ConfigError, match="exactly one"):
        PoisonEvents()
    with pytest.raises(ev.ConfigError, match="end"):
        Outage(10, 5)
    with pytest.raises(ev.ConfigError, match="mttf"):
        Crashes(mttf=0, mttr=1)
    with pytest.raises(ev.ConfigError, match="factor"):
        Slowdown(1, 2, factor=0)
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    with pytest.raises(ev.ConfigTypeError, match=r"faults\[0\]"):
        sim.consumer_group("g", "t", faults=["crash"])
    assert "g" not in sim.groups  # a refused group leaves its name free
    with pytest.raises(ev.ConfigError, match=r"faults\[0\].consumers.*'g-7'"):
        sim.consumer_group("g", "t", faults=[Outage(1, 2, consumers=["g-7"])])


def test_backoff_is_drawn_per_worker_and_replays_with_the_seed():
    def run():
        return group_run(
            faults=[TransientErrors(p=0.3)],
            retry=Retry(max_attempts=4, backoff=Backoff(0.2, jitter="decorrelated")),
        ).attempts

    first, second = run(), run()
    assert first.equals(second)


@pytest.mark.parametrize(("join_at", "down"), [(2.5, None), (1.25, 1.25), (0.5, 1.05)])
def test_an_outage_affects_a_late_joining_group_only_for_what_is_left_of_it(join_at, down, series):
    sim = ev.Simulation(seed=1, sample_interval=0.1)
    sim.topic("t")
    sim.producer("p", "t", ev.Periodic(0.5))
    sim.consumer_group(
        "g", "t", join_at=join_at, service_time=0.1, faults=[ev.Outage(start=1.05, end=1.55)]
    )
    result = sim.run(until=4)
    result.check()
    up = series(result, "consumers_up", "g")
    times = up.index.to_numpy()
    outage = (times > down) & (times < 1.55) if down else np.zeros(len(times), dtype=bool)
    np.testing.assert_array_equal(up.to_numpy(), np.where(outage, 0.0, 1.0))
    assert times[0] >= join_at - 1e-9


@pytest.mark.parametrize(
    ("mttf", "mttr"),
    [
        (ev.Constant(0), ev.Constant(0)),
        (ev.Uniform(0, 0), ev.Empirical([0, 0])),
        (ev.Empirical([0.0]), ev.Constant(0)),
    ],
)
def test_crashes_that_would_loop_at_one_instant_are_refused(mttf, mttr):
    """Before, these crashed and restarted the consumers forever at t = 0."""
    with pytest.raises(ev.ConfigError, match=r"mttr: .* at the same instant, forever"):
        Crashes(mttf=mttf, mttr=mttr)
    with pytest.raises(ev.ScenarioError, match=r"faults\[0\].crashes.mttr: with mttf"):
        ev.load_scenario(
            {
                "topics": [{"name": "t"}],
                "consumer_groups": [
                    {"name": "g", "source": "t", "faults": [{"crashes": {"mttf": mttf.spec(),
                                                                        "mttr": mttr.spec()}}]}
                ],
            }
        )  # fmt: skip


def test_a_zero_up_time_or_repair_time_alone_is_a_real_model():
    always_down = Crashes(mttf=ev.Constant(0), mttr=5)  # crashes on every restart
    flapping = Crashes(mttf=1, mttr=ev.Constant(0))  # restarts at once
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    sim.producer("p", "t", ev.Periodic(1))
    sim.consumer_group("down", "t", faults=[always_down])
    sim.consumer_group("flap", "t", faults=[flapping])
    result = sim.run(until=20)
    result.check()
    summary = result.summary()
    assert summary.loc["down", "processed"] < summary.loc["flap", "processed"]
