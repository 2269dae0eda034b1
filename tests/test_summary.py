"""The summary-mode aggregates (evsim.records.summary), class by class.

``tests/test_summary_mode.py`` checks that a ``record="summary"`` run's ``summary()``
matches a full run's. This file checks the parts it is built from: the latency histogram
(log-spaced bins, 200 a decade from 1 µs, quantiles at a bin's geometric middle, the
exact mean), the attempt, outcome and gauge tallies, the routed-event counter, and the
sparse event log that forgets what no broker holds; then, in a real run, that each tally
counts exactly what the full log's rows add up to.
"""

from __future__ import annotations

import math
from collections import Counter as Multiset

import numpy as np
import pytest

import evsim as ev
from evsim.records.codes import DEAD_LETTERED, ERROR, LOST, OK, PROCESSED, Interner
from evsim.records.full import EventLog
from evsim.records.summary import (
    BINS_PER_DECADE,
    DECADES,
    LAST_BIN,
    SMALLEST,
    AttemptTally,
    Counter,
    GaugeTally,
    LatencyHistogram,
    OutcomeTally,
    SparseEventLog,
)

HALF_BIN = 10 ** (0.5 / BINS_PER_DECADE) * (1 + 1e-12)  # a bin's middle to its values
# (1e-12: a value on a bin's edge, such as 1.0 s, is half a bin away up to rounding)

# --- the latency histogram ----------------------------------------------------------------


def test_an_empty_histogram_has_no_mean_and_no_quantiles():
    histogram = LatencyHistogram()
    assert histogram.n == 0
    assert math.isnan(histogram.mean())
    assert all(math.isnan(histogram.quantile(q)) for q in (0.5, 0.99))


def test_the_histogram_covers_one_microsecond_to_ten_million_seconds():
    assert LAST_BIN == BINS_PER_DECADE * DECADES
    assert pytest.approx(1e7) == SMALLEST * 10**DECADES
    assert len(LatencyHistogram().counts) == LAST_BIN + 1


def test_the_mean_is_exact_not_binned():
    values = [0.0123, 0.5, 2.75, 17.0, 1e-3]
    histogram = LatencyHistogram()
    for value in values:
        histogram.add(value)
    assert histogram.n == len(values)
    assert histogram.total == pytest.approx(math.fsum(values), rel=1e-15)
    assert histogram.mean() == pytest.approx(math.fsum(values) / len(values), rel=1e-15)


@pytest.mark.parametrize("seconds", [2e-6, 1e-3, 0.0421, 1.0, 3.3, 86_400.0])
def test_a_single_latency_is_read_back_within_half_a_bin(seconds):
    histogram = LatencyHistogram()
    histogram.add(seconds)
    for q in (0.01, 0.5, 0.95, 1.0):
        assert seconds / HALF_BIN <= histogram.quantile(q) <= seconds * HALF_BIN


def test_latencies_at_or_below_a_microsecond_share_the_first_bin():
    histogram = LatencyHistogram()
    for seconds in (0.0, SMALLEST / 10, SMALLEST):
        histogram.add(seconds)
    assert histogram.counts[0] == 3
    assert histogram.quantile(0.5) == SMALLEST


def test_latencies_past_the_last_decade_are_counted_in_the_last_bin():
    histogram = LatencyHistogram()
    histogram.add(1e9)  # past 1e7 s: kept, not an IndexError
    assert histogram.counts[LAST_BIN] == 1
    assert histogram.mean() == 1e9  # the mean is still exact


def test_quantiles_of_many_latencies_are_within_the_documented_1_2_percent():
    rng = np.random.default_rng(3)
    samples = rng.lognormal(mean=math.log(0.05), sigma=1.0, size=50_000)
    histogram = LatencyHistogram()
    for seconds in samples:
        histogram.add(float(seconds))
    for q in (0.5, 0.9, 0.95, 0.99):
        assert histogram.quantile(q) == pytest.approx(np.quantile(samples, q), rel=0.012)
    got = [histogram.quantile(q) for q in np.linspace(0.01, 1.0, 100)]
    assert got == sorted(got)  # quantiles never decrease with q


def test_the_top_quantile_is_the_largest_latencys_bin():
    histogram = LatencyHistogram()
    for seconds in (0.1, 0.2, 5.0):
        histogram.add(seconds)
    assert 5.0 / HALF_BIN <= histogram.quantile(1.0) <= 5.0 * HALF_BIN


def test_the_zero_quantile_is_the_smallest_latencys_bin():
    histogram = LatencyHistogram()
    for seconds in (1.0, 2.0, 3.0):
        histogram.add(seconds)
    assert 1.0 / HALF_BIN <= histogram.quantile(0.0) <= 1.0 * HALF_BIN


# --- attempts, outcomes, gauges, routed events ------------------------------------------------


def test_attempts_are_counted_per_group_and_status_with_the_time_spent():
    tally = AttemptTally()
    rows = [  # (group, status, started_at, finished_at)
        (1, OK, 0.0, 0.5), (1, ERROR, 1.0, 1.25), (1, OK, 2.0, 3.0), (2, OK, 0.0, 4.0),
    ]  # fmt: skip
    for event, (group, status, start, end) in enumerate(rows):
        tally.add(event, group, 0, 1, start, end, status, None if status == OK else "E: x")
    assert len(tally) == len(rows)
    assert tally.ok(1) == 2 and tally.ok(2) == 1 and tally.ok(3) == 0
    assert tally.counts[1, ERROR] == 1
    for group in (1, 2):
        mine = [end - start for g, _, start, end in rows if g == group]
        assert tally.busy[group] == pytest.approx(sum(mine))


def test_outcomes_are_counted_and_only_processed_events_after_the_warmup_have_a_latency():
    tally = OutcomeTally()
    tally.warmup = 10.0
    rows = [  # (group, outcome, published_at, completed_at)
        (1, PROCESSED, 9.0, 9.5),  # published before the warmup: counted, not measured
        (1, PROCESSED, 10.0, 10.25),  # at the warmup: measured
        (1, PROCESSED, 12.0, 13.0),
        (1, DEAD_LETTERED, 12.0, 20.0),  # not processed: no latency
        (2, LOST, 11.0, 11.5),
    ]
    for event, (group, outcome, published, completed) in enumerate(rows):
        tally.add(event, group, 0, outcome, 1, published, completed, published)
    assert len(tally) == len(rows)
    assert tally.counts[1, PROCESSED] == 3
    assert tally.counts[1, DEAD_LETTERED] == tally.counts[2, LOST] == 1
    measured = tally.latency[1]
    assert measured.n == 2
    assert measured.mean() == pytest.approx((0.25 + 1.0) / 2)
    assert tally.latency[2].n == 0


def test_a_gauge_keeps_its_sample_count_sum_and_maximum_per_entity():
    gauges = GaugeTally()
    samples = {(1, 10): [3.0, 7.0, 5.0], (1, 11): [0.0], (2, 10): [2.0, 2.0]}
    for (metric, entity), values in samples.items():
        for time, value in enumerate(values):
            gauges.add(float(time), metric, entity, value)
    assert len(gauges) == len(samples)
    for key, values in samples.items():
        assert gauges.stats[key] == [len(values), sum(values), max(values)]
        assert gauges.mean(*key) == pytest.approx(sum(values) / len(values))
    assert math.isnan(gauges.mean(3, 10))


def test_a_groups_peak_lag_is_the_largest_total_it_was_sampled_at():
    gauges = GaugeTally()
    totals = [4.0, 19.0, 7.0, 0.0]
    for total in totals:
        gauges.group_lag(5, total)
    assert gauges.peak_lag[5] == max(totals)


def test_the_routed_counter_counts_without_keeping_the_ids():
    routed = Counter()
    routed.append(7)
    routed.extend(i for i in range(5))  # a generator, as a late join routes the history
    routed.extend([])
    assert len(routed) == routed.n == 6
    assert not hasattr(routed, "ids")


# --- the sparse event log ----------------------------------------------------------------------


def _add(log, published_at=0.0, **fields):
    row = {"event_type": 1, "key": None, "producer": 2, "target": 3, "payload": None,
           "schema_version": 1, "cause": -1, "attributes": None, **fields}  # fmt: skip
    return log.add(published_at=published_at, **row)


def test_an_event_released_by_its_last_holder_is_forgotten_at_the_next_publish():
    log = SparseEventLog(Interner())
    first = _add(log, published_at=1.0)
    log.release(first)  # its sender is done with it
    assert log.live() == 1
    assert log.published_at[first] == 1.0  # still readable in the same step
    second = _add(log, published_at=2.0)
    assert log.live() == 1 and len(log) == 2  # len counts every event ever published
    with pytest.raises(KeyError):
        log.published_at[first]
    assert log.published_at[second] == 2.0


def test_an_event_is_kept_until_every_holder_has_released_it():
    log = SparseEventLog(Interner())
    event = _add(log)
    log.hold(event)  # a broker stores it
    log.hold(event)  # a consumer has it in hand
    for _ in range(2):
        log.release(event)
        _add(log)  # a publish forgets what was released for the last time
        assert log.published_at[event] == 0.0
    log.release(event)
    _add(log)
    with pytest.raises(KeyError):
        log.key[event]


def test_placing_an_event_sets_its_partition_offset_and_append_time():
    log = SparseEventLog(Interner())
    event = _add(log, published_at=1.0)
    assert (log.partition[event], log.offset[event]) == (-1, -1)
    assert math.isnan(log.appended_at[event])
    log.place(event, partition=2, offset=41, time=1.5)
    assert (log.partition[event], log.offset[event], log.appended_at[event]) == (2, 41, 1.5)


def test_a_live_event_reads_back_as_the_same_event_object_as_full_recording():
    names = Interner()
    logs = EventLog(names), SparseEventLog(names)
    for log in logs:
        base = _add(log, published_at=0.5, event_type=names.code("OrderCreated"),
                    producer=names.code("shop"), target=names.code("orders"))  # fmt: skip
        copy = _add(log, published_at=0.75, event_type=names.code("OrderCreated"), key="k",
                    producer=names.code("g"), target=names.code("orders-dlt"),
                    payload={"n": 1}, cause=base, attributes={"dlq_reason": "x"},
                    original=base)  # fmt: skip
        log.place(copy, partition=1, offset=0, time=0.8)
    full, sparse = logs
    for event_id in (0, 1):
        assert sparse.event(event_id) == full.event(event_id)
    assert sparse.event(1).original_id == 0 and sparse.event(1).partition == 1


# --- in a real run: each tally counts what the full log's rows add up to ------------------------


def _run(record: str) -> ev.Simulation:
    sim = ev.Simulation(seed=6, record=record)
    sim.topic("t", partitions=3)
    sim.queue("q", visibility_timeout=2, dead_letter="q-dlq", max_receive_count=2)
    sim.producer("p", "t", ev.Poisson(rate=40), keys=ev.UniformKeys(100))
    sim.producer("s", "q", ev.Poisson(rate=10))
    sim.consumer_group(
        "g", "t", consumers=2, service_time=ev.Exponential(0.02),
        faults=[ev.TransientErrors(p=0.1), ev.Crashes(mttf=15, mttr=3)],
        retry=ev.Retry(max_attempts=2), dead_letter="t-dlt",
    )  # fmt: skip
    sim.consumer_group(
        "w", "q", consumers=2, service_time=ev.Exponential(0.1),
        faults=[ev.TransientErrors(p=0.3)],
    )  # fmt: skip
    sim.run(until=40)
    return sim


@pytest.fixture(scope="module")
def both_modes() -> tuple[ev.Simulation, ev.Simulation]:
    return _run("full"), _run("summary")


def test_the_attempt_tally_counts_the_full_logs_rows(both_modes):
    full, summary = both_modes
    log, tally = full.records.attempts, summary.records.attempts
    rows = Multiset(zip(log.numpy("group").tolist(), log.numpy("status").tolist(), strict=True))
    assert {key: n for key, n in tally.counts.items() if n} == dict(rows)
    assert len(tally) == len(log) > 1000
    durations = log.numpy("finished_at") - log.numpy("started_at")
    for group in set(log.numpy("group").tolist()):
        spent = durations[log.numpy("group") == group].sum()
        assert tally.busy[group] == pytest.approx(spent, rel=1e-9)
    assert {s for _, s in rows} >= {OK, ERROR}  # the run exercised failures too


def test_the_outcome_tally_counts_the_full_logs_rows_and_measures_processed_latency(both_modes):
    full, summary = both_modes
    log, tally = full.records.outcomes, summary.records.outcomes
    groups, outcomes = log.numpy("group").tolist(), log.numpy("outcome").tolist()
    assert {key: n for key, n in tally.counts.items() if n} == dict(
        Multiset(zip(groups, outcomes, strict=True))
    )
    published = full.records.events.numpy("published_at")[log.numpy("event")]
    latency = log.numpy("completed_at") - published
    for group in set(groups):
        processed = (log.numpy("group") == group) & (log.numpy("outcome") == PROCESSED)
        assert tally.latency[group].n == processed.sum() > 0
        assert tally.latency[group].mean() == pytest.approx(latency[processed].mean(), rel=1e-9)


def test_the_gauge_tally_keeps_the_count_sum_and_max_of_the_full_logs_samples(both_modes):
    full, summary = both_modes
    log, tally = full.records.gauges, summary.records.gauges
    metric, entity, value = log.numpy("metric"), log.numpy("entity"), log.numpy("value")
    keys = set(zip(metric.tolist(), entity.tolist(), strict=True))
    assert set(tally.stats) == keys and len(tally) == len(keys)
    for key in keys:
        mine = value[(metric == key[0]) & (entity == key[1])]
        count, total, largest = tally.stats[key]
        assert (count, largest) == (len(mine), mine.max())
        assert total == pytest.approx(mine.sum(), rel=1e-9, abs=1e-9)
    assert dict(tally.peak_lag) == dict(log.peak_lag)


def test_the_routed_counters_count_the_ids_full_recording_keeps(both_modes):
    full, summary = both_modes
    for name in ("g", "w"):
        ids, count = full.groups[name].routed, summary.groups[name].routed
        assert isinstance(count, Counter)
        assert len(count) == len(ids) > 100
