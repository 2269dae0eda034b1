"""Autoscaling a consumer group (evsim.actors.autoscale) against KEDA's rules and numbers.

KEDA's Apache Kafka scaler: desired = ceil(total lag / lagThreshold), no more than the
partitions unless allowIdleConsumers; its AWS SQS queue scaler: desired =
ceil(messages / queueLength), messages = visible + in flight (scaleOnInFlight, default
true); both clamped to [minReplicaCount, maxReplicaCount]. Scale up at once, the new
consumers joining after their startup (a rebalance); scale down to the highest
recommendation of the last ``cooldown`` seconds (the HPA's stabilization window).
"""

from __future__ import annotations

import math

import hypothesis.strategies as st
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

import evsim as ev
from evsim.scenario.export import scenario_dict

# a backlog is more than the first consumers can handle: that is what scaling is for
pytestmark = pytest.mark.filterwarnings("ignore:consumer group 'g' cannot keep up")

JOIN = 10.0  # the group joins here, with a backlog produced in [0, 1)


def backlog(records, partitions, autoscale, *, service_time=1.0, consumers=1, **group):
    """A topic holding ``records`` records when the group joins at JOIN (earliest)."""
    sim = ev.Simulation(seed=1)
    sim.topic("t", partitions=partitions)
    sim.producer(
        "p", "t", ev.Replay([i / records for i in range(records)]), keys=ev.UniformKeys(500)
    )
    sim.consumer_group(
        "g", "t", consumers=consumers, service_time=service_time, join_at=JOIN,
        offset_reset="earliest", autoscale=autoscale, **group,
    )  # fmt: skip
    return sim


def queue_backlog(messages, autoscale, *, service_time=1.0, consumers=1, **group):
    """A queue holding ``messages`` visible messages when the group joins at JOIN."""
    sim = ev.Simulation(seed=1)
    sim.queue("q", visibility_timeout=3600)
    sim.producer("p", "q", ev.Replay([i / messages for i in range(messages)]))
    sim.consumer_group(
        "g", "q", consumers=consumers, service_time=service_time, join_at=JOIN,
        autoscale=autoscale, **group,
    )  # fmt: skip
    return sim


def at(series: pd.Series, time: float) -> float:
    """The gauge's sample at ``time`` seconds."""
    return float(series.loc[time])


# --- the rule, with KEDA's numbers --------------------------------------------------------


@pytest.mark.parametrize(
    "rule, lag, partitions, expected",
    [
        (ev.LagAutoscaler(100), 1000, 20, 10),  # ceil(1000 / 100)
        (ev.LagAutoscaler(100), 1001, 20, 11),  # a ceiling
        (ev.LagAutoscaler(100), 5000, 8, 8),  # no more than the partitions
        (ev.LagAutoscaler(100, allow_idle_consumers=True), 5000, 8, 50),
        (ev.LagAutoscaler(100, allow_idle_consumers=True), 10**6, 8, 100),  # maxReplicaCount
        (ev.LagAutoscaler(100, max_consumers=4), 1000, 20, 4),
        (ev.LagAutoscaler(100, min_consumers=3), 0, 20, 3),
        (ev.LagAutoscaler(100), 0, 20, 1),  # the HPA's minReplicas
        (ev.LagAutoscaler(100, min_consumers=0), 0, 20, 0),  # KEDA: to zero
        (ev.LagAutoscaler(100, min_consumers=0), 1, 20, 1),  # and back
        (ev.LagAutoscaler(100, min_consumers=10), 5000, 8, 10),  # min over the partitions
    ],
)
def test_the_lag_rule_is_kedas_kafka_scaler(rule, lag, partitions, expected):
    assert rule.desired_consumers(lag, partitions) == expected


@pytest.mark.parametrize(
    "rule, counts, expected",
    [
        (ev.QueueAutoscaler(), {"visible": 23}, 5),  # ceil(23 / 5), queueLength default 5
        (ev.QueueAutoscaler(queue_length=10), {"visible": 30}, 3),  # KEDA's own example
        (ev.QueueAutoscaler(), {"visible": 20, "in_flight": 6}, 6),  # scaleOnInFlight: true
        (ev.QueueAutoscaler(scale_on_in_flight=False), {"visible": 20, "in_flight": 6}, 4),
        (ev.QueueAutoscaler(), {"visible": 20, "delayed": 6}, 4),  # scaleOnDelayed: false
        (ev.QueueAutoscaler(scale_on_delayed=True), {"visible": 20, "delayed": 6}, 6),
        (ev.QueueAutoscaler(max_consumers=3), {"visible": 100}, 3),
        (ev.QueueAutoscaler(min_consumers=0), {"visible": 0}, 0),
    ],
)
def test_the_queue_rule_is_kedas_sqs_scaler(rule, counts, expected):
    assert rule.desired_consumers(**counts) == expected


def test_the_defaults_are_kedas_and_the_hpas():
    rule = ev.LagAutoscaler(100)
    assert (rule.polling_interval, rule.cooldown, rule.min_consumers) == (30.0, 300.0, 1)
    assert rule.max_consumers is None and rule.max_replicas == 100
    assert rule.startup == ev.Constant(30.0) and rule.allow_idle_consumers is False
    queue = ev.QueueAutoscaler()
    assert queue.queue_length == 5  # KEDA's queueLength
    assert queue.scale_on_in_flight is True and queue.scale_on_delayed is False


# --- scaling up ---------------------------------------------------------------------------


def test_a_lag_of_1000_over_20_partitions_at_threshold_100_scales_to_10(series):
    sim = backlog(1000, 20, ev.LagAutoscaler(100, startup=5))
    result = sim.run(until=30)
    result.check()
    assert at(series(result, "desired_consumers", "g"), 11) == 10
    up = series(result, "consumers_up", "g")
    assert at(up, 11) == at(up, 14) == 1  # the nine new consumers are starting
    assert at(up, 16) == 10
    assert result.loads[0].slots == 10  # the most consumers it had at once


def test_a_new_consumer_consumes_only_after_startup_and_its_join_rebalances():
    sim = backlog(1000, 20, ev.LagAutoscaler(100, startup=5))
    result = sim.run(until=30)
    attempts = result.attempts.merge(result.events[["event_id", "partition"]], on="event_id")
    first = attempts.groupby("consumer", observed=True)["started_at"].min()
    assert first["g-0"] == JOIN
    assert (first.drop("g-0") >= JOIN + 5).all() and len(first) == 10
    before = attempts[attempts["started_at"] < JOIN + 5]
    assert set(before["consumer"]) == {"g-0"}  # g-0 alone owned all 20 partitions
    after = attempts[attempts["started_at"] > JOIN + 5 + 1]  # the one in hand has finished
    owners = after.groupby("partition")["consumer"].unique()
    assert owners.map(len).eq(1).all() and len(owners) == 20  # one owner per partition
    assert after.groupby("consumer", observed=True)["partition"].nunique().eq(2).all()


@pytest.mark.parametrize("idle, expected", [(False, 8), (True, 50)])
def test_a_lag_of_5000_over_8_partitions_is_capped_unless_idle_consumers(idle, expected, series):
    rule = ev.LagAutoscaler(100, startup=5, allow_idle_consumers=idle)
    result = backlog(5000, 8, rule, service_time=10.0).run(until=30)
    assert at(series(result, "desired_consumers", "g"), 11) == expected
    assert at(series(result, "consumers_up", "g"), 16) == expected


def test_max_and_min_consumers_clamp_the_group(series):
    result = backlog(1000, 20, ev.LagAutoscaler(100, max_consumers=4, startup=5)).run(until=30)
    assert at(series(result, "consumers_up", "g"), 16) == 4
    idle = backlog(0 + 1, 20, ev.LagAutoscaler(1000, min_consumers=3, startup=5)).run(until=30)
    assert at(series(idle, "desired_consumers", "g"), 11) == 3
    assert at(series(idle, "consumers_up", "g"), 16) == 3


def test_sqs_23_visible_messages_at_target_5_scale_to_5_consumers(series):
    result = queue_backlog(23, ev.QueueAutoscaler(queue_length=5, startup=5)).run(until=30)
    result.check()
    assert at(series(result, "desired_consumers", "g"), 11) == 5
    assert at(series(result, "consumers_up", "g"), 16) == 5


@pytest.mark.parametrize("in_flight, expected", [(True, 10), (False, 8)])
def test_messages_in_flight_count_by_default(in_flight, expected, series):
    rule = ev.QueueAutoscaler(queue_length=1, startup=1000, scale_on_in_flight=in_flight)
    result = queue_backlog(10, rule, consumers=2, service_time=500.0).run(until=50)
    desired = series(result, "desired_consumers", "g")
    assert at(desired, 11) == 10  # at the join: 10 visible
    assert at(desired, 41) == expected  # then 2 of them in the consumers' hands


# --- scaling down -------------------------------------------------------------------------


def test_the_group_scales_down_only_after_the_cooldown(series):
    # 10 consumers drain the backlog in about a second; from the poll at 40 s on the rule
    # recommends 1, but the window holds the 10 of the poll at 10 s until 10 + 300 s
    sim = backlog(1000, 20, ev.LagAutoscaler(100, startup=5), service_time=0.01)
    sim.producer("later", "t", ev.Poisson(rate=5), start=400)
    result = sim.run(until=500)
    result.check()
    desired, up = series(result, "desired_consumers", "g"), series(result, "consumers_up", "g")
    assert at(desired, 41) == 1
    assert up.loc[16:309].eq(10).all()
    assert up.loc[311:].eq(1).all()
    late = result.attempts[result.attempts["started_at"] > 311]
    assert set(late["consumer"]) == {"g-0"}  # the oldest stays; the newest left
    assert late["event_id"].nunique() > 0


@pytest.mark.parametrize("cooldown", [0.0, 60.0])
def test_the_cooldown_sets_when_the_group_scales_down(cooldown, series):
    rule = ev.LagAutoscaler(100, startup=5, cooldown=cooldown)
    result = backlog(1000, 20, rule, service_time=0.01).run(until=200)
    up = series(result, "consumers_up", "g")
    down = JOIN + max(30.0, cooldown)  # the first poll that finds no lag is at 40 s
    assert at(up, down - 1) == 10 and at(up, down + 1) == 1


def test_consumers_that_leave_finish_the_events_in_their_hands():
    # always busy (0.2 s an event at 40 per second) and scaled down at polls: each leaver
    # finishes its attempt in progress (ok, not crashed) and starts no other
    sim = ev.Simulation(seed=2)
    sim.topic("t", partitions=12)
    sim.producer("p", "t", ev.Schedule([(0, 40), (100, 2)]), keys=ev.UniformKeys(500))
    rule = ev.LagAutoscaler(20, startup=3, cooldown=60, polling_interval=10)
    group = sim.consumer_group("g", "t", consumers=2, service_time=0.2, autoscale=rule)
    result = sim.run(until=400)
    result.check()
    assert group.left, "the group never scaled down"
    attempts = result.attempts
    assert set(attempts["status"]) == {"ok"}
    gone = attempts[attempts["consumer"].isin([m.name for m in group.left])]
    polls = set(range(0, 400, 10))
    last_start = gone.groupby("consumer", observed=True)["started_at"].max()
    last_end = gone.groupby("consumer", observed=True)["finished_at"].max()
    crossed = [
        name for name in last_start.index
        if any(last_start[name] < t < last_end[name] for t in polls)
    ]  # fmt: skip
    assert crossed, "no consumer was busy when it left"


def test_a_crashed_consumer_is_removed_before_a_running_one():
    sim = ev.Simulation(seed=1)
    sim.topic("t", partitions=6)
    crash = ev.Crashes(mttf=ev.Constant(5), mttr=ev.Constant(10_000), consumers=["g-2"])
    group = sim.consumer_group(
        "g", "t", consumers=3, faults=[crash],
        autoscale=ev.LagAutoscaler(100, cooldown=60, startup=1),
    )  # fmt: skip
    sim.run(until=200).check()
    assert [m.name for m in group.left] == ["g-2", "g-1"]  # down first, then the newest
    assert [m.name for m in group.members] == ["g-0"]


def test_a_group_scales_to_zero_and_back_with_min_consumers_0(series):
    sim = ev.Simulation(seed=1)
    sim.topic("t", partitions=4)
    sim.producer("p", "t", ev.Schedule([(0, 20), (50, 0), (700, 20)]), keys=ev.UniformKeys(99))
    rule = ev.LagAutoscaler(10, min_consumers=0, startup=5)
    sim.consumer_group("g", "t", consumers=1, service_time=0.01, commit_interval=0, autoscale=rule)
    result = sim.run(until=800)
    result.check()
    up = series(result, "consumers_up", "g")
    assert up.loc[400:700].eq(0).all()  # no backlog for 300 s: none left
    assert at(up, 724) == 0 and up.loc[726:].gt(0).all()  # polled at 720, joined at 725
    row = result.summary().loc["g"]
    assert row["processed"] + row["pending"] == len(result.events)  # none lost or expired


# --- the gauge, the config, the scenario file ----------------------------------------------


def test_the_desired_consumers_gauge_is_written_for_autoscaled_groups_only():
    sim = backlog(1000, 20, ev.LagAutoscaler(100))
    sim.consumer_group("plain", "t", consumers=2)
    gauges = sim.run(until=20).timeseries
    desired = gauges[gauges["metric"] == "desired_consumers"]
    assert set(desired["entity"]) == {"g"}
    assert desired["time"].tolist() == list(map(float, range(10, 20)))  # from the join
    none = backlog(10, 2, None).run(until=20).timeseries
    assert "desired_consumers" not in set(none["metric"])


def test_the_autoscaler_round_trips_through_spec_and_scenario_files():
    rule = ev.LagAutoscaler(50, max_consumers=9, startup=ev.Uniform(5, 15), cooldown=120)
    sim = backlog(100, 4, rule)
    assert sim.groups["g"].spec()["autoscale"] == rule.spec()
    saved = scenario_dict(sim)
    assert saved["consumer_groups"][0]["autoscale"] == {
        "lag_autoscaler": {
            "lag_threshold": 50.0, "max_consumers": 9, "cooldown": 120.0,
            "startup": {"uniform": {"low": 5.0, "high": 15.0}},
        }
    }  # fmt: skip
    rebuilt = ev.load_scenario(saved)
    assert rebuilt.config == sim.config
    assert rebuilt.groups["g"].config.autoscale == rule
    assert "autoscale" not in backlog(10, 2, None).groups["g"].spec()  # as before


def test_a_scenario_file_takes_autoscale(tmp_path):
    path = tmp_path / "scaled.yaml"
    path.write_text(
        "seed: 1\nqueues: [{name: q}]\n"
        "producers: [{name: p, target: q, arrivals: {poisson: {rate: 20}}}]\n"
        "consumer_groups:\n"
        "  - {name: g, source: q, service_time: 0.5,\n"
        "     autoscale: {queue_autoscaler: {queue_length: 2, startup: 10, max_consumers: 20}}}\n"
    )
    sim = ev.load_scenario(path)
    assert sim.groups["g"].config.autoscale == ev.QueueAutoscaler(
        queue_length=2, startup=10, max_consumers=20
    )
    result = sim.run(until=300)
    result.check()
    assert result.timeseries.query("metric == 'consumers_up'")["value"].max() > 5


# --- bad arguments ----------------------------------------------------------------------


Lag, Queue = ev.LagAutoscaler, ev.QueueAutoscaler
ERROR, TYPE = ev.ConfigError, ev.ConfigTypeError


@pytest.mark.parametrize(
    "rule, kwargs, error, argument, expected",
    [
        (Lag, {"lag_threshold": 0}, ERROR, "lag_threshold", "must be > 0"),
        (Lag, {"lag_threshold": "100"}, TYPE, "lag_threshold", "expected a number"),
        (Lag, {"lag_threshold": 1, "min_consumers": -1}, ERROR, "min_consumers", "must be >= 0"),
        (Lag, {"lag_threshold": 1, "min_consumers": 1.5}, TYPE, "min_consumers", "expected a"),
        (Lag, {"lag_threshold": 1, "max_consumers": 0}, ERROR, "max_consumers", "must be >= 1"),
        (
            Lag, {"lag_threshold": 1, "min_consumers": 3, "max_consumers": 2},
            ERROR, "max_consumers", "must be >= min_consumers (3), got 2",
        ),
        (
            Lag, {"lag_threshold": 1, "min_consumers": 101},  # over KEDA's default 100
            ERROR, "max_consumers", "must be >= min_consumers (101), got None",
        ),
        (
            Lag, {"lag_threshold": 1, "max_consumers": 10**6},
            ERROR, "max_consumers", "must be <= 100,000",
        ),
        (Lag, {"lag_threshold": 1, "polling_interval": 0}, ERROR, "polling_interval", "must be >"),
        (Lag, {"lag_threshold": 1, "cooldown": -1}, ERROR, "cooldown", "must be >= 0"),
        (Lag, {"lag_threshold": 1, "startup": -1}, ERROR, "startup", "must be >= 0"),
        (Lag, {"lag_threshold": 1, "startup": "soon"}, TYPE, "startup", "expected a distribution"),
        (
            Lag, {"lag_threshold": 1, "allow_idle_consumers": "yes"},
            TYPE, "allow_idle_consumers", "expected True or False",
        ),
        (Queue, {"queue_length": 0}, ERROR, "queue_length", "must be > 0"),
        (Queue, {"scale_on_in_flight": 1}, TYPE, "scale_on_in_flight", "expected True or False"),
        (Queue, {"scale_on_delayed": None}, TYPE, "scale_on_delayed", "expected True or False"),
    ],
)  # fmt: skip
def test_bad_arguments_are_named(rule, kwargs, error, argument, expected, bad_argument):
    with bad_argument(error, argument, expected):
        rule(**kwargs)


def test_a_group_refuses_an_autoscaler_that_does_not_fit_its_source(bad_argument):
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    sim.queue("q")
    with bad_argument(ev.ConfigError, "autoscale", "ev.LagAutoscaler scales on a topic's lag"):
        sim.consumer_group("a", "q", autoscale=ev.LagAutoscaler(10))
    with bad_argument(ev.ConfigError, "autoscale", "ev.QueueAutoscaler scales on a queue's"):
        sim.consumer_group("b", "t", autoscale=ev.QueueAutoscaler())
    with bad_argument(ev.ConfigTypeError, "autoscale", "expected ev.LagAutoscaler"):
        sim.consumer_group("c", "t", autoscale={"lag_threshold": 10})


def test_the_run_budget_counts_the_autoscaler_polls():
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    sim.consumer_group("g", "t", autoscale=ev.LagAutoscaler(10, polling_interval=0.001))
    with pytest.raises(ev.ConfigError, match=r"autoscaler polls every 0\.001 s"):
        sim.run(until=10_000, max_events=1_000_000)


# --- every event one outcome, however the group scales ------------------------------------


@st.composite
def scaled_systems(draw):
    return {
        "topic": draw(st.booleans()),
        "partitions": draw(st.integers(1, 6)),
        "steps": draw(st.lists(st.integers(0, 60), min_size=1, max_size=4)),
        "service": draw(st.sampled_from([0.0, 0.05, 0.3])),
        "concurrency": draw(st.integers(1, 2)),
        "consumers": draw(st.integers(1, 4)),
        "threshold": draw(st.sampled_from([1, 5, 50])),
        "min": draw(st.integers(0, 2)),
        "max": draw(st.integers(2, 8)),
        "polling": draw(st.sampled_from([1.0, 7.5, 30.0])),
        "cooldown": draw(st.sampled_from([0.0, 5.0, 40.0])),
        "startup": draw(st.sampled_from([0.0, 2.0, ev.Exponential(5.0)])),
        "idle": draw(st.booleans()),
        "commit": draw(st.sampled_from(["after", "before"])),
        "crashes": draw(st.booleans()),
        "errors": draw(st.sampled_from([0.0, 0.2])),
        "seed": draw(st.integers(0, 1000)),
    }


def build_scaled(s):
    sim = ev.Simulation(seed=s["seed"])
    source = "t" if s["topic"] else "q"
    if s["topic"]:
        sim.topic("t", partitions=s["partitions"], retention=60)
    else:
        sim.queue("q", visibility_timeout=2, retention=60, dead_letter="dlq", max_receive_count=3)
    steps = [(20.0 * i, float(rate)) for i, rate in enumerate(s["steps"])]
    sim.producer("p", source, ev.Schedule(steps), keys=ev.UniformKeys(50))
    faults = []
    if s["crashes"]:
        faults.append(ev.Crashes(mttf=15, mttr=3))
    if s["errors"]:
        faults.append(ev.TransientErrors(p=s["errors"]))
    if s["topic"]:
        rule = ev.LagAutoscaler(
            s["threshold"], min_consumers=s["min"], max_consumers=s["max"],
            polling_interval=s["polling"], cooldown=s["cooldown"], startup=s["startup"],
            allow_idle_consumers=s["idle"],
        )  # fmt: skip
    else:
        rule = ev.QueueAutoscaler(
            s["threshold"], min_consumers=s["min"], max_consumers=s["max"],
            polling_interval=s["polling"], cooldown=s["cooldown"], startup=s["startup"],
        )  # fmt: skip
    sim.consumer_group(
        "g", source, consumers=s["consumers"], service_time=ev.Exponential(s["service"])
        if s["service"] else 0.0, concurrency=s["concurrency"], commit=s["commit"],
        faults=faults, retry=ev.Retry(2), autoscale=rule, commit_interval=1.0,
    )  # fmt: skip
    return sim


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scaled_systems())
def test_every_event_ends_in_exactly_one_outcome_however_the_group_scales(s):
    result = build_scaled(s).run(until=120)
    result.check()  # routed == the sum of outcomes, one row per event
    deliveries = result.deliveries
    assert deliveries["event_id"].is_unique
    up = result.timeseries.query("metric == 'consumers_up'")["value"]
    assert up.max() <= max(s["max"], s["consumers"])
    assert math.isfinite(result.summary().loc["g", "routed"])


def test_prometheus_text_and_the_topology_show_the_autoscaler():
    sim = backlog(1000, 20, ev.LagAutoscaler(100, max_consumers=12, startup=5))
    assert ev.topology(sim).nodes["g"]["detail"] == "1 consumer, autoscaled 1–12"
    text = ev.to_prometheus(sim.run(until=30))
    assert "# TYPE evsim_desired_consumers gauge" in text
    assert 'evsim_desired_consumers{group="g"} 10' in text
    assert "evsim_desired_consumers" not in ev.to_prometheus(backlog(10, 2, None).run(until=20))


def test_initial_consumers_over_max_consumers_go_at_the_first_poll(series):
    result = backlog(10, 8, ev.LagAutoscaler(100, max_consumers=2), consumers=5).run(until=20)
    up = series(result, "consumers_up", "g")
    assert at(up, 11) == 2  # clamped at the join's poll, without waiting for the cooldown
