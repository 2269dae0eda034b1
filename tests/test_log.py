"""The partitioned log: Kafka's partitioner, offsets, latency and retention."""

from __future__ import annotations

import numpy as np
import pytest

import evsim as ev
from evsim.brokers.partitioner import partition_for_key


def run_topic(partitions=4, latency=0.0, retention=7 * 86400.0, keys=None, until=20.0, **prod):
    sim = ev.Simulation(seed=3)
    topic = sim.topic("t", partitions=partitions, latency=latency, retention=retention)
    sim.producer("p", target="t", arrivals=ev.Poisson(rate=20), keys=keys, **prod)
    return sim, topic, sim.run(until=until)


def test_keyed_events_go_where_kafkas_default_partitioner_sends_them():
    _, topic, result = run_topic(partitions=6, keys=ev.UniformKeys(50))
    events = result.events.dropna(subset=["partition"])
    assert len(events) > 300
    for key, partition in zip(events["key"], events["partition"], strict=True):
        assert partition == partition_for_key(key, 6) == topic.partition_for(key)


def test_offsets_start_at_zero_per_partition_and_follow_append_order():
    _, _, result = run_topic(partitions=3, latency=ev.Exponential(mean=0.05))
    events = result.events.dropna(subset=["offset"])
    for _, part in events.groupby("partition"):
        ordered = part.sort_values("appended_at", kind="stable")
        assert ordered["offset"].tolist() == list(range(len(part)))


def test_publishing_costs_the_topics_latency_before_the_event_is_visible():
    _, _, result = run_topic(latency=0.25)
    placed = result.events.dropna(subset=["offset"])
    np.testing.assert_allclose(placed["appended_at"] - placed["published_at"], 0.25)
    in_transit = result.events[result.events["offset"].isna()]
    assert (in_transit["published_at"] > 20.0 - 0.25).all()


def test_random_latency_can_reorder_events_but_offsets_follow_arrival_at_the_broker():
    _, _, result = run_topic(partitions=1, latency=ev.Exponential(mean=0.5))
    placed = result.events.dropna(subset=["offset"]).sort_values("offset")
    assert placed["appended_at"].is_monotonic_increasing
    assert not placed["published_at"].is_monotonic_increasing


def test_null_keys_stick_to_one_partition_for_a_batch_then_move():
    _, _, result = run_topic(partitions=8, size_bytes=1024, until=60.0)
    partitions = result.events["partition"].dropna().to_numpy()
    # batch.size 16384 / 1024-byte records: the first 16 records share a partition
    assert len(set(partitions[:16])) == 1
    runs = np.flatnonzero(np.diff(partitions)) + 1
    assert len(runs) > 10
    assert set(partitions) == set(range(8))


def test_retention_moves_the_log_start_offset():
    sim, topic, _ = run_topic(partitions=1, retention=5.0, until=20.0)
    start = topic.log_start_offset(0, sim.now)
    end = topic.log_end_offset(0)
    assert 0 < start < end
    assert topic.appended_at(0, start) >= sim.now - 5.0
    assert topic.appended_at(0, start - 1) < sim.now - 5.0


@pytest.mark.parametrize(
    ("kwargs", "error", "argument", "expected"),
    [
        ({"partitions": 0}, ev.ConfigError, "partitions", "must be >= 1, got 0"),
        ({"partitions": 2.5}, ev.ConfigTypeError, "partitions", "expected a whole number"),
        ({"latency": -1}, ev.ConfigError, "latency", "must be >= 0, got -1"),
        ({"latency": "slow"}, ev.ConfigTypeError, "latency", "expected a distribution"),
        ({"retention": 0}, ev.ConfigError, "retention", "must be > 0, got 0"),
    ],
)
def test_bad_topic_arguments_name_the_argument(kwargs, error, argument, expected, bad_argument):
    sim = ev.Simulation(seed=1)
    with bad_argument(error, argument, expected):
        sim.topic("t", **kwargs)


def test_a_summary_run_forgets_only_what_every_reader_has_passed_and_releases_by_identity():
    sim = ev.Simulation(seed=1, record="summary")
    topic = sim.topic("t")
    sim.producer("p", "t", ev.Periodic(0.01))
    first, second = [0], [0]  # two readers' offsets: equal numbers, different readers
    topic.keep_partition(0, second, 0)
    topic.keep_partition(0, first, 0)
    topic.release_reader(0, first, 0)  # by value (==) it would take second's, registered first
    first[0] = 10**9  # the released reader's offsets no longer hold anything back
    sim.run(until=30)  # 3,000 records, far past the partition's forgetting threshold
    assert topic.log_end_offset(0) == 2_999
    assert topic.event_at(0, 0) == 0  # the remaining reader still needs offset 0
    second[0] = 2_000
    sim.env.run(until=45)  # it moved on: the records below 2,000 are forgotten
    assert topic.log_start_offset(0, sim.now) == 2_000  # the first record still stored
    assert topic.event_at(0, 2_000) == 2_000
