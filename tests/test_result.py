"""Results: the four tables, summary, accounting, determinism and the config."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import evsim as ev
from evsim.result import SUMMARY_COLUMNS

TABLES = ("events", "deliveries", "attempts", "timeseries")


def order_flow(seed: int, extra_group: bool = False, until: float = 120.0) -> ev.Result:
    sim = ev.Simulation(seed=seed)
    sim.topic("orders", partitions=3, latency=ev.Exponential(mean=0.002))
    sim.producer("shop", "orders", ev.Poisson(rate=30), "OrderCreated", ev.UniformKeys(500))
    sim.consumer_group("inventory", "orders", consumers=2, service_time=ev.Exponential(0.03))
    if extra_group:
        sim.consumer_group("audit", "orders", service_time=ev.LogNormal(mean=0.01, sigma=0.5))
    return sim.run(until=until)


def test_tables_have_the_documented_columns():
    result = order_flow(seed=1)
    expected = {
        "events": [
            "event_id", "event_type", "key", "producer", "target", "partition", "offset",
            "published_at",
        ],
        "deliveries": [
            "event_id", "group", "consumer", "outcome", "attempts", "first_attempt_at",
            "completed_at", "latency",
        ],
        "attempts": [
            "event_id", "group", "consumer", "attempt", "started_at", "finished_at", "status",
        ],
        "timeseries": ["time", "metric", "entity", "value"],
    }  # fmt: skip
    for table, columns in expected.items():
        frame = getattr(result, table)
        assert set(columns) <= set(frame.columns), table
        assert len(frame) > 0, table
    assert list(result.summary().columns) == SUMMARY_COLUMNS == [
        "routed", "processed", "dead_lettered", "expired", "lost", "pending", "duplicates",
        "throughput", "latency_mean", "latency_p50", "latency_p95", "latency_p99", "max_lag",
        "utilisation",
    ]  # fmt: skip
    assert set(result.timeseries["metric"]) >= {"lag", "consumers_up", "in_system"}


def test_latency_is_completed_minus_published_and_summary_percentiles_come_from_it():
    result = order_flow(seed=2)
    deliveries = result.deliveries
    published = result.events.set_index("event_id")["published_at"]
    done = deliveries[deliveries["outcome"] == "processed"]
    np.testing.assert_allclose(
        done["latency"], done["completed_at"] - published.loc[done["event_id"]].to_numpy()
    )
    row = result.summary().loc["inventory"]
    assert row["latency_p95"] == pytest.approx(done["latency"].quantile(0.95))
    assert row["latency_mean"] == pytest.approx(done["latency"].mean())
    assert row["throughput"] == pytest.approx(len(done) / 120.0)
    assert row["routed"] == len(deliveries)
    assert row["processed"] + row["pending"] == row["routed"]


def test_warmup_drops_early_events_from_the_statistics():
    sim = ev.Simulation(seed=3)
    sim.topic("t")
    sim.producer("p", "t", ev.Periodic(1.0))
    sim.consumer_group("g", "t", service_time=0.5)
    summary = sim.run(until=100.7, warmup=50).summary()
    assert summary.loc["g", "throughput"] == pytest.approx(51 / 50.7)


def test_max_lag_is_the_largest_sampled_total_lag_of_the_group():
    result = order_flow(seed=4)
    series = result.timeseries
    lag = series[series["metric"] == "lag"]
    total = lag.groupby("time")["value"].sum()
    assert result.summary().loc["inventory", "max_lag"] == total.max() > 0


def lag_run(record: str) -> ev.Result:
    """A queue group, a topic group and one joining after the last lag sample (at 20 s)."""
    sim = ev.Simulation(seed=6, sample_interval=10, record=record)
    sim.topic("t", partitions=2)
    sim.queue("q")
    sim.producer("p", "t", ev.Poisson(rate=20), keys=ev.UniformKeys(50))
    sim.producer("p2", "q", ev.Poisson(rate=20))
    sim.consumer_group("reader", "q", service_time=ev.Exponential(0.02))
    sim.consumer_group("on-time", "t", service_time=ev.Exponential(0.02))
    sim.consumer_group("late", "t", service_time=ev.Exponential(0.02), join_at=25)
    return sim.run(until=29)


@pytest.mark.parametrize("record", ["full", "summary"])
def test_max_lag_is_nan_for_a_queue_group_and_a_group_never_sampled(record):
    summary = lag_run(record).summary()
    assert np.isnan(summary.loc["reader", "max_lag"])  # a queue has no offsets: no lag
    assert np.isnan(summary.loc["late", "max_lag"])  # joined after the last sample
    assert summary.loc["on-time", "max_lag"] >= 0
    assert summary.loc["late", "routed"] > 0  # it did join and read


def test_summary_routed_is_what_accounting_counts_and_adds_up_to_the_outcomes():
    sim = ev.Simulation(seed=7)
    sim.topic("t", partitions=2)
    sim.producer("p", "t", ev.Poisson(rate=20), keys=ev.UniformKeys(50))
    sim.consumer_group(
        "g", "t", service_time=ev.Exponential(0.04), faults=[ev.PoisonEvents(p=0.05)],
        dead_letter="t-dlt",
    )  # fmt: skip
    sim.consumer_group(
        "h", "t", service_time=ev.Exponential(0.04), faults=[ev.PoisonEvents(p=0.05)]
    )
    result = sim.run(until=60)
    summary, accounting = result.summary(), result.accounting()
    outcomes = ["processed", "dead_lettered", "expired", "lost", "pending"]
    assert (summary["routed"] == accounting["routed"]).all()
    assert (summary["routed"] == summary[outcomes].sum(axis=1)).all()
    assert summary.loc["g", "dead_lettered"] > 0 and summary.loc["h", "lost"] > 0


def test_accounting_balances_and_check_passes():
    result = order_flow(seed=5)
    table = result.accounting()
    assert table["balanced"].all()
    # every event the topic appended was routed to the group, and only those
    assert table.loc["inventory", "routed"] == result.events["offset"].notna().sum()
    assert table.loc["inventory", "outcomes"] == len(result.deliveries)
    result.check()


def test_check_fails_when_an_outcome_is_missing():
    result = order_flow(seed=5)
    result.record.group("inventory").routed.append(10**9)  # an event routed but never seen
    with pytest.raises(ev.AccountingError, match="inventory"):
        result.check()


def test_same_seed_gives_identical_tables():
    first, second = order_flow(seed=11), order_flow(seed=11)
    for table in TABLES:
        pd.testing.assert_frame_equal(getattr(first, table), getattr(second, table))
    pd.testing.assert_frame_equal(first.summary(), second.summary())


def test_different_seeds_give_different_tables():
    first, second = order_flow(seed=11), order_flow(seed=12)
    assert not first.events["published_at"].equals(second.events["published_at"])
    assert not first.deliveries["latency"].equals(second.deliveries["latency"])


def test_adding_a_consumer_group_does_not_change_the_producers_events():
    alone, with_audit = order_flow(seed=13), order_flow(seed=13, extra_group=True)
    columns = ["event_id", "key", "published_at", "partition", "offset"]
    pd.testing.assert_frame_equal(alone.events[columns], with_audit.events[columns])
    inventory = with_audit.deliveries[with_audit.deliveries["group"] == "inventory"]
    np.testing.assert_array_equal(
        alone.deliveries["latency"].to_numpy(), inventory["latency"].to_numpy()
    )


def test_config_records_the_seed_version_and_scenario():
    result = order_flow(seed=21)
    config = result.config
    assert config["seed"] == 21
    assert config["version"] == ev.__version__
    scenario = config["scenario"]
    assert scenario["topics"][0]["partitions"] == 3
    assert scenario["producers"][0]["arrivals"] == {"poisson": {"rate": 30.0}}
    assert scenario["consumer_groups"][0]["service_time"] == {"exponential": {"mean": 0.03}}


def test_a_simulation_runs_once():
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    sim.run(until=1)
    with pytest.raises(ev.SimulationStateError, match="already run"):
        sim.run(until=2)


@pytest.mark.parametrize(
    ("kwargs", "argument", "expected"),
    [
        ({"until": 0}, "until", "must be > 0, got 0"),
        ({"until": -5}, "until", "must be > 0, got -5"),
        ({"until": 10, "warmup": 10}, "warmup", "must be < until (10.0), got 10"),
    ],
)
def test_bad_run_arguments_name_the_argument(kwargs, argument, expected, bad_argument):
    sim = ev.Simulation(seed=1)
    with bad_argument(ev.ConfigError, argument, expected):
        sim.run(**kwargs)


def test_a_hundred_thousand_events_run_in_seconds():
    """Not a timing assertion (machines are noisy): the size a lesson relies on works."""
    sim = ev.Simulation(seed=1)
    sim.topic("t", partitions=6, latency=0.002)
    sim.producer("p", "t", ev.Poisson(rate=1000), keys=ev.UniformKeys(10_000))
    sim.consumer_group("g", "t", consumers=6, service_time=ev.Exponential(mean=0.004))
    result = sim.run(until=100)
    assert len(result.events) > 95_000
    result.check()
