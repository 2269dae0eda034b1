"""Utilisation: ρ = λ·E[S] / c in the summary, and the warning when a group cannot keep up."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import evsim as ev
from evsim import utilisation


def topic_group(record: str = "full", **group) -> ev.Simulation:
    sim = ev.Simulation(seed=3, record=record)
    sim.topic("t", partitions=3)
    sim.producer("p", "t", ev.Poisson(rate=20), keys=ev.UniformKeys(300))
    sim.consumer_group("g", "t", **{"consumers": 2, "service_time": ev.Exponential(0.05), **group})
    return sim


def quiet_run(sim: ev.Simulation, until: float) -> ev.Result:
    """Run, failing on any warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return sim.run(until=until)


def test_utilisation_is_routed_rate_times_mean_attempt_time_over_the_slots():
    result = quiet_run(topic_group(), until=200)
    attempts = result.attempts
    mean_service = (attempts["finished_at"] - attempts["started_at"]).mean()
    routed = result.accounting().loc["g", "routed"]
    expected = routed / 200 * mean_service / 2  # min(2 consumers x 1, 3 partitions)
    assert result.summary().loc["g", "utilisation"] == pytest.approx(expected)
    assert 0.4 < expected < 0.6  # 20/s x 0.05 s / 2


def test_summary_mode_measures_the_same_utilisation():
    full = quiet_run(topic_group(), until=200).summary().loc["g", "utilisation"]
    summary = quiet_run(topic_group(record="summary"), until=200).summary()
    assert summary.loc["g", "utilisation"] == pytest.approx(full)


def test_service_time_typed_in_milliseconds_warns_at_the_users_run_call():
    sim = topic_group(service_time=20)  # meant 20 ms; 20 is 20 seconds
    with pytest.warns(UserWarning, match="cannot keep up") as caught:
        result = sim.run(until=100)  # the line the warning points at
    assert len(caught) == 1
    warning = caught[0]
    assert warning.filename == __file__
    message = str(warning.message)
    rho = result.summary().loc["g", "utilisation"]
    assert rho > 100
    for fragment in ("'g'", f"{rho:.3g}", "20 s measured mean service time", "2 parallel slots",
                     "service_time is in seconds: 20 means 20 s; 20 ms is 0.02"):  # fmt: skip
        assert fragment in message


def test_a_stable_group_near_capacity_does_not_warn():
    sim = ev.Simulation(seed=1)
    sim.queue("q")
    sim.producer("p", "q", ev.Poisson(rate=9))
    sim.consumer_group("g", "q", service_time=ev.Exponential(0.1))  # M/M/1 at rho = 0.9
    rho = quiet_run(sim, until=2000).summary().loc["g", "utilisation"]
    assert rho == pytest.approx(0.9, abs=0.03)


def test_each_overloaded_group_warns_once_per_run():
    sim = topic_group(service_time=0.5)
    sim.consumer_group("h", "t", consumers=3, service_time=0.3)
    sim.consumer_group("ok", "t", consumers=3, service_time=0.01)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sim.run(until=30)
    named = sorted(str(w.message).split("'")[1] for w in caught if w.category is UserWarning)
    assert named == ["g", "h"]


def test_one_partition_is_one_slot_however_many_workers():
    # concurrency=4 never works on two records of one partition: the capacity is 10/s
    sim = ev.Simulation(seed=1)
    sim.topic("t", partitions=1)
    sim.producer("p", "t", ev.Periodic(1 / 15), keys=ev.UniformKeys(10))
    sim.consumer_group("g", "t", consumers=1, concurrency=4, service_time=0.1)
    assert utilisation.slots(sim.groups["g"]) == 1
    with pytest.warns(UserWarning, match="1 parallel slot "):
        result = sim.run(until=60)
    row = result.summary().loc["g"]
    assert row["utilisation"] == pytest.approx(15 * 0.1 / 1, rel=0.02)
    assert row["throughput"] == pytest.approx(10, rel=0.02)  # one event at a time


def test_slots_of_topic_and_queue_groups():
    sim = ev.Simulation(seed=1)
    sim.topic("a", partitions=6)
    sim.topic("b", partitions=2)
    sim.queue("q")
    sim.consumer_group("few", ["a", "b"], consumers=3, concurrency=2)
    sim.consumer_group("many", ["a", "b"], consumers=10)
    sim.consumer_group("queue", "q", consumers=3, concurrency=4)
    assert [utilisation.slots(g) for g in sim.groups.values()] == [6, 8, 12]


def test_handler_waits_count_as_service_time():
    def handler(event, ctx):
        yield ctx.timeout(0.04)

    sim = topic_group(service_time=0.01, handler=handler)
    result = quiet_run(sim, until=100)
    expected = result.accounting().loc["g", "routed"] / 100 * 0.05 / 2
    assert result.summary().loc["g", "utilisation"] == pytest.approx(expected, rel=1e-6)


def test_without_a_finished_attempt_the_service_time_mean_is_used():
    sim = topic_group(service_time=ev.Exponential(mean=1000), join_at=10)
    with pytest.warns(UserWarning, match="1000 s measured mean service time"):
        result = sim.run(until=60)
    assert len(result.attempts) == 0
    routed = result.accounting().loc["g", "routed"]
    expected = routed / 50 * 1000 / 2  # joined for 50 of the 60 s
    assert result.summary().loc["g", "utilisation"] == pytest.approx(expected)


def test_a_group_that_never_joined_has_no_utilisation_and_does_not_warn():
    summary = quiet_run(topic_group(service_time=20, join_at=100), until=50).summary()
    assert math.isnan(summary.loc["g", "utilisation"])
    assert summary.loc["g", "routed"] == 0


def test_loads_are_what_the_warning_reports():
    sim = topic_group()
    result = quiet_run(sim, until=50)
    (load,) = utilisation.loads(result.record)
    assert load.utilisation == result.summary().loc["g", "utilisation"]
    assert load.slots == 2
    assert np.isfinite(load.mean_service) and load.arrival_rate > 0


def test_a_warning_raised_as_an_error_leaves_the_run_complete():
    sim = topic_group(service_time=20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="cannot keep up"):
            sim.run(until=30)
    with pytest.raises(ev.SimulationStateError, match="already run"):  # not "failed"
        sim.run(until=30)
