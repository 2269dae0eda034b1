"""Consumer groups: assignment, one event at a time, offset order, commits, lag, joins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import evsim as ev


def build(partitions=4, consumers=2, rate=20.0, service=0.01, keys=100, seed=7, **group):
    sim = ev.Simulation(seed=seed)
    sim.topic("t", partitions=partitions)
    sim.producer(
        "p", "t", ev.Poisson(rate=rate), keys=None if keys is None else ev.UniformKeys(keys)
    )
    sim.consumer_group("g", "t", consumers=consumers, service_time=service, **group)
    return sim


def handled(result: ev.Result) -> pd.DataFrame:
    """Attempts joined with the partition and offset of their event."""
    where = result.events[["event_id", "partition", "offset"]]
    return result.attempts.merge(where, on="event_id")


def test_range_assignment_over_two_topics_follows_kafkas_example():
    sim = ev.Simulation(seed=1)
    for name in ("t0", "t1"):
        sim.topic(name, partitions=3)
        sim.producer(f"p-{name}", name, ev.Poisson(rate=30), keys=ev.UniformKeys(1000))
    sim.consumer_group("g", ["t0", "t1"], consumers=2, service_time=0.001)
    result = sim.run(until=20)
    rows = handled(result).merge(result.events[["event_id", "target"]], on="event_id")
    owned = rows.groupby("consumer", observed=True)[["target", "partition"]].apply(
        lambda f: sorted({(t, int(p)) for t, p in zip(f["target"], f["partition"], strict=True)})
    )
    assert owned["g-0"] == [("t0", 0), ("t0", 1), ("t1", 0), ("t1", 1)]
    assert owned["g-1"] == [("t0", 2), ("t1", 2)]


@pytest.mark.parametrize("assignment", ["range", "roundrobin", "sticky"])
def test_a_partition_has_one_owner_and_extra_consumers_stay_idle(assignment):
    result = build(partitions=2, consumers=5, assignment=assignment).run(until=30)
    rows = handled(result)
    owners = rows.groupby("partition")["consumer"].nunique()
    assert (owners == 1).all()
    assert rows["consumer"].nunique() == 2


def test_a_consumer_handles_one_event_at_a_time_across_its_partitions():
    result = build(partitions=4, consumers=1, rate=80, service=ev.Exponential(0.01)).run(20)
    rows = result.attempts.sort_values("started_at")
    assert len(rows) > 1000
    assert (rows["started_at"].to_numpy()[1:] >= rows["finished_at"].to_numpy()[:-1]).all()


def test_concurrency_overlaps_events_but_never_two_of_one_partition():
    result = build(
        partitions=4, consumers=1, rate=150, service=ev.Exponential(0.02), concurrency=3
    ).run(20)
    rows = handled(result)
    starts, ends = rows["started_at"].to_numpy(), rows["finished_at"].to_numpy()
    overlap = max(((starts <= t) & (ends > t)).sum() for t in np.linspace(1, 19, 400))
    assert overlap == 3
    for _, part in rows.groupby("partition"):
        part = part.sort_values("started_at")
        assert (part["started_at"].to_numpy()[1:] >= part["finished_at"].to_numpy()[:-1]).all()


def test_each_partition_is_processed_in_offset_order():
    result = build(partitions=3, consumers=2, rate=60, service=ev.Exponential(0.02)).run(30)
    for _, part in handled(result).groupby("partition"):
        assert part.sort_values("started_at")["offset"].is_monotonic_increasing


def test_parallelism_is_min_of_consumers_and_partitions():
    """Throughput of a saturated group grows with consumers only up to the partitions."""
    throughput = {}
    for consumers in (1, 2, 4, 8):
        sim = build(partitions=4, consumers=consumers, rate=400, service=0.01, keys=10_000)
        throughput[consumers] = sim.run(until=20).summary().loc["g", "throughput"]
    assert throughput[1] == pytest.approx(100, rel=0.05)
    assert throughput[2] == pytest.approx(200, rel=0.05)
    assert throughput[4] == pytest.approx(throughput[8], rel=0.02)


def lag_at(result: ev.Result, time: float) -> float:
    series = result.timeseries
    lag = series[(series["metric"] == "lag") & (series["time"] == time)]
    return lag["value"].sum()


def periodic_group(**group) -> ev.Simulation:
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    sim.producer("p", "t", ev.Periodic(interval=0.1))
    sim.consumer_group("g", "t", service_time=0.0, **group)
    return sim


def test_auto_commit_every_five_seconds_makes_lag_a_sawtooth():
    result = periodic_group().run(until=12)
    # committed offsets move only at 5 s and 10 s (Kafka's auto.commit.interval.ms)
    assert lag_at(result, 4.0) == pytest.approx(39, abs=1)
    assert lag_at(result, 6.0) == pytest.approx(10, abs=1)
    assert lag_at(result, 9.0) == pytest.approx(40, abs=1)


def test_commit_interval_zero_commits_after_each_event():
    result = periodic_group(commit_interval=0).run(until=12)
    assert max(lag_at(result, t) for t in (4.0, 6.0, 9.0)) <= 1


def test_at_most_once_commits_on_fetch_and_at_least_once_after_processing():
    def lag_while_busy(commit: str) -> float:
        sim = ev.Simulation(seed=1)
        sim.topic("t")
        sim.producer("p", "t", ev.Replay([0.5]))
        sim.consumer_group("g", "t", service_time=100.0, commit=commit, commit_interval=0)
        return lag_at(sim.run(until=10), 5.0)

    assert lag_while_busy("before") == 0
    assert lag_while_busy("after") == 1


def test_every_group_gets_every_event_and_event_types_filter_what_it_handles():
    sim = ev.Simulation(seed=4)
    sim.topic("orders", partitions=2)
    sim.producer("o", "orders", ev.Poisson(rate=10), event_type="OrderCreated")
    sim.producer("pay", "orders", ev.Poisson(rate=5), event_type="PaymentProcessed")
    sim.consumer_group("all", "orders", service_time=0.001, commit_interval=0)
    sim.consumer_group(
        "inv", "orders", service_time=0.001, event_types=["OrderCreated"], commit_interval=0
    )
    result = sim.run(until=60)
    events = result.events.set_index("event_id")
    mine = result.deliveries[result.deliveries["group"] == "inv"]
    assert set(events.loc[mine["event_id"], "event_type"]) == {"OrderCreated"}
    assert len(mine) == (events["event_type"] == "OrderCreated").sum()
    everything = result.deliveries[result.deliveries["group"] == "all"]
    assert len(everything) == len(events)
    # skipped events are still consumed: the filtering group's lag returns to zero
    series = result.timeseries
    final = series[(series["metric"] == "lag") & (series["time"] == series["time"].max())]
    assert final["value"].sum() <= 4


@pytest.mark.parametrize(("reset", "expect_history"), [("latest", False), ("earliest", True)])
def test_a_group_joining_late_starts_at_the_log_end_or_replays_history(reset, expect_history):
    sim = ev.Simulation(seed=2)
    sim.topic("t")
    sim.producer("p", "t", ev.Periodic(interval=1.0))
    sim.consumer_group("late", "t", service_time=0.0, join_at=10.5, offset_reset=reset)
    result = sim.run(until=20)
    got = result.deliveries["event_id"].map(result.events.set_index("event_id")["published_at"])
    assert bool(got.min() < 10) == expect_history
    assert len(result.deliveries) == (19 if expect_history else 9)
    result.check()


def test_a_consumer_behind_retention_skips_ahead_and_the_skipped_events_expire():
    sim = ev.Simulation(seed=3)
    sim.topic("t", retention=5.0)
    sim.producer("p", "t", ev.Periodic(interval=0.5))
    sim.consumer_group("slow", "t", service_time=2.0)
    result = sim.run(until=120)
    summary = result.summary()
    # always busy from the first arrival (0.5 s), one event per 2 s: 59 done by 120 s
    assert summary.loc["slow", "processed"] == (120 - 0.5) // 2.0
    # the rest of the 239 arrivals expired (past retention) or still wait: only those
    # published in the last 5 s of retention (10) and the one in service can still wait
    assert summary.loc["slow", "pending"] <= 5.0 / 0.5 + 1
    assert summary.loc["slow", ["processed", "expired", "pending"]].sum() == 239
    result.check()
    expired = result.deliveries[result.deliveries["outcome"] == "expired"]
    assert (expired["attempts"] == 0).all()


def test_handlers_chain_services_through_follow_up_events():
    def pay(event, ctx):
        yield ctx.timeout(0.05)
        ctx.publish("payments", "PaymentProcessed", key=event.key, payload={"order": event.key})

    sim = ev.Simulation(seed=9)
    sim.topic("orders", partitions=2)
    sim.topic("payments", partitions=2)
    sim.producer("shop", "orders", ev.Poisson(rate=5), "OrderCreated", ev.UniformKeys(20))
    sim.consumer_group("payment-service", "orders", service_time=0.01, handler=pay)
    sim.consumer_group("notifications", "payments", service_time=0.01)
    result = sim.run(until=60)
    events = result.events
    follow = events[events["event_type"] == "PaymentProcessed"]
    causes = events.set_index("event_id").loc[follow["cause_id"].astype(int)]
    assert (causes["event_type"] == "OrderCreated").all()
    assert (follow["key"].to_numpy() == causes["key"].to_numpy()).all()
    assert (follow["producer"] == "payment-service").all()
    attempts = result.attempts[result.attempts["group"] == "payment-service"]
    assert (attempts["finished_at"] - attempts["started_at"] >= 0.06 - 1e-9).all()
    result.check()


def test_a_raising_handler_marks_the_attempt_failed_and_the_event_lost():
    def picky(event, ctx):
        if event.payload % 3 == 0:
            raise ValueError("cannot handle")
        assert event.attributes["eventType"] == "Job"

    sim = ev.Simulation(seed=1)
    sim.topic("t")
    sim.producer("p", "t", ev.Periodic(1.0), "Job", payload=lambda i: i)
    sim.consumer_group("g", "t", handler=picky)
    result = sim.run(until=9.5)
    attempts = result.attempts
    assert (attempts["status"] == "error").sum() == 3
    assert attempts.loc[attempts["status"] == "error", "error"].iloc[0] == (
        "ValueError: cannot handle"
    )
    assert result.summary().loc["g", "lost"] == 3


@pytest.mark.parametrize(
    ("kwargs", "error", "argument", "expected"),
    [
        ({"source": "nowhere"}, ev.UnknownNameError, "source", "no topic, queue or fanout named"),
        ({"consumers": 0}, ev.ConfigError, "consumers", "must be >= 1, got 0"),
        ({"service_time": "fast"}, ev.ConfigTypeError, "service_time", "expected a distribution"),
        ({"service_time": ev.Exponential}, ev.ConfigTypeError,
         "service_time", "expected a distribution"),  # the class, not an instance
        ({"concurrency": 0}, ev.ConfigError, "concurrency", "must be >= 1, got 0"),
        ({"commit": "sometimes"}, ev.ConfigError, "commit", "expected one of 'after', 'before'"),
        ({"assignment": "random"}, ev.ConfigError, "assignment", "expected one of 'range'"),
        ({"offset_reset": "none"}, ev.ConfigError, "offset_reset", "expected one of 'latest'"),
        ({"handler": 42}, ev.ConfigTypeError, "handler", "expected a function fn(event, ctx)"),
        ({"event_types": []}, ev.ConfigError, "event_types", "expected event type names or None"),
    ],
)  # fmt: skip
def test_bad_group_arguments_name_the_argument(kwargs, error, argument, expected, bad_argument):
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    arguments = {"name": "g", "source": "t", **kwargs}
    with bad_argument(error, argument, expected):
        sim.consumer_group(**arguments)


def test_a_negative_mean_is_refused_with_the_argument_named():
    with pytest.raises(ev.ConfigError, match="mean"):
        ev.Exponential(mean=-0.1)


def test_a_handler_sees_an_immutable_event_with_its_attributes():
    seen = []

    def look(event, ctx):
        seen.append((event.event_type, dict(event.attributes), event.partition, event.offset))
        with pytest.raises(AttributeError):
            event.key = "changed"

    sim = ev.Simulation(seed=1)
    sim.topic("t")
    sim.producer("p", "t", ev.Periodic(1.0), "Job", attributes={"tier": "gold"})
    sim.consumer_group("g", "t", handler=look)
    sim.run(until=2.5)
    assert seen == [
        ("Job", {"eventType": "Job", "tier": "gold"}, 0, 0),
        ("Job", {"eventType": "Job", "tier": "gold"}, 0, 1),
    ]


def test_a_handler_that_yields_something_else_gets_a_clear_error():
    def wrong(event, ctx):
        yield 0.5  # should be ctx.timeout(0.5)

    sim = ev.Simulation(seed=1)
    sim.topic("t")
    sim.producer("p", "t", ev.Periodic(1.0))
    sim.consumer_group("g", "t", handler=wrong)
    with pytest.raises(ev.ConfigTypeError, match=r"handler: .*wrong yielded 0.5.*ctx.timeout"):
        sim.run(until=3)


def test_publishing_to_an_unknown_target_from_a_handler_is_a_scenario_error():
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    sim.producer("p", "t", ev.Periodic(1.0))
    sim.consumer_group("g", "t", handler=lambda event, ctx: ctx.publish("nowhere", "X"))
    with pytest.raises(ev.UnknownNameError, match=r"ctx.publish\(target\).*'nowhere'"):
        sim.run(until=3)


@pytest.mark.parametrize("source", ["queue", "topic"])
@pytest.mark.parametrize("service", [ev.Exponential(mean=0.4), 0.0])
def test_a_plain_group_writes_the_rows_of_a_group_whose_fault_never_fires(source, service):
    # a plain group's consumers work on callbacks; a fault (even one with p = 0) puts them
    # back on SimPy processes: the two must write the same tables
    def run(faults):
        sim = ev.Simulation(seed=3)
        if source == "queue":
            sim.queue("in")
        else:
            sim.topic("in", partitions=3)
        sim.producer("p", "in", ev.Poisson(rate=8.0), keys=ev.UniformKeys(50))
        sim.consumer_group("g", "in", consumers=2, concurrency=2, service_time=service,
                           faults=faults)  # fmt: skip
        return sim.groups["g"], sim.run(until=300)

    plain_group, plain = run(None)
    general_group, general = run([ev.TransientErrors(p=0.0)])
    assert plain_group.plain and not general_group.plain
    assert len(plain.attempts) > 2000
    for table in ("events", "attempts", "deliveries", "timeseries"):
        pd.testing.assert_frame_equal(getattr(plain, table), getattr(general, table))


def test_crashing_a_consumer_of_a_plain_group_is_refused():
    sim = ev.Simulation(seed=1)
    sim.queue("in")
    sim.consumer_group("g", "in", consumers=1)
    sim.run(until=1)
    with pytest.raises(ev.SimulationStateError, match=r"crash: consumer 'g-0'.*faults"):
        sim.groups["g"].members[0].crash()


def test_consumer_names_do_not_depend_on_the_group_size():
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    group = sim.consumer_group("g", "t", consumers=12)
    assert [m.name for m in group.members][:3] == ["g-0", "g-1", "g-2"]
    assert group.members[-1].name == "g-11"


@pytest.mark.parametrize("assignment", ["range", "roundrobin", "sticky"])
def test_consumers_beyond_the_partitions_stay_idle_and_change_no_table(assignment):
    def run(consumers):
        sim = ev.Simulation(seed=4)
        sim.topic("t", partitions=6)
        sim.producer("p", "t", ev.Poisson(rate=100), keys=ev.UniformKeys(1000))
        sim.consumer_group(
            "g", "t", consumers=consumers, assignment=assignment,
            service_time=ev.Exponential(mean=0.05),
        )  # fmt: skip
        return sim.run(until=30)

    few, many = run(6), run(12)
    for table in ("events", "deliveries", "attempts"):
        pd.testing.assert_frame_equal(getattr(few, table), getattr(many, table))
    lag = [
        r.timeseries[r.timeseries["metric"] == "lag"].reset_index(drop=True) for r in (few, many)
    ]
    pd.testing.assert_frame_equal(*lag)
    assert set(many.attempts["consumer"]) == {f"g-{i}" for i in range(6)}
    pd.testing.assert_series_equal(few.summary().loc["g"], many.summary().loc["g"])
