"""Runs too large to finish are refused before they start; runs that stop moving the clock
are stopped, naming the likely cause. Cases that hang on a build without these checks run
in a child process with a timeout (tests/bounded.py)."""

from __future__ import annotations

import math

import bounded
import pytest

import evsim as ev
from evsim import run_budget
from evsim.errors import ConfigError, SimulationStateError


def small_system(**producer) -> ev.Simulation:
    sim = ev.Simulation(seed=1)
    sim.topic("t", partitions=2)
    sim.producer("p", "t", producer.pop("arrivals", ev.Poisson(rate=100)), **producer)
    sim.consumer_group("g", "t", service_time=0.001)
    return sim


def test_a_producer_too_fast_to_simulate_is_refused_naming_it():
    out = bounded.raised(
        """
        import evsim as ev
        sim = ev.Simulation(seed=1)
        sim.topic("t")
        sim.producer("p", "t", ev.Poisson(rate=1e12))
        sim.run(until=10)
        """
    )
    assert out.startswith("ConfigError: run: 10 s would take about 1e+13 events")
    assert "producer 'p': 1e+13 arrivals at 1e+12/s" in out
    assert "max_events=10,000,000, the default with record='full'" in out
    assert "run(..., max_events=N)" in out


def test_a_sample_interval_too_short_to_simulate_is_refused():
    out = bounded.raised(
        """
        import evsim as ev
        sim = ev.Simulation(seed=1, sample_interval=1e-7)
        sim.topic("t")
        sim.consumer_group("g", "t")
        sim.run(until=10)
        """
    )
    assert out.startswith("ConfigError: run: 10 s would take about 3e+08 events")
    assert "samples: 1e+08 ticks of sample_interval=1e-07 s × 3 gauges" in out


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ("faults=ev.Crashes(mttf=1e-6, mttr=1e-6)", "crashes and restarts, one per 2e-06 s"),
        ("commit_interval=1e-9", "auto-commits every 1e-09 s"),
    ],
)
def test_crash_and_commit_cycles_count_too(arguments, fragment):
    out = bounded.raised(
        f"""
        import evsim as ev
        sim = ev.Simulation(seed=1)
        sim.topic("t")
        sim.consumer_group("g", "t", {arguments})
        sim.run(until=100)
        """
    )
    assert out.startswith("ConfigError: run: 100 s would take about") and fragment in out


def test_max_events_is_the_way_past_and_a_refused_run_can_run_after():
    sim = small_system()  # about 1,000 arrivals, 11 samples × 4 gauges, 2 auto-commits
    with pytest.raises(ConfigError, match=r"about 1.05e\+03 events .*max_events=500;"):
        sim.run(until=10, max_events=500)
    result = sim.run(until=10, max_events=2_000)  # the refusal left nothing launched
    assert len(result.events) > 900
    assert small_system().run(until=10, max_events=math.inf).summary().loc["g", "processed"]
    with pytest.raises(ConfigError, match="max_events: must be > 0"):
        small_system().run(until=10, max_events=0)


def test_record_summary_allows_ten_times_more():
    assert run_budget.max_events("full", None) == ev.limits.MAX_EVENTS_FULL == 10**7
    assert run_budget.max_events("summary", None) == ev.limits.MAX_EVENTS_SUMMARY == 10**8


def test_the_estimate_counts_arrivals_within_start_stop_and_until_exactly_for_replay():
    replay = small_system(arrivals=ev.Replay([0.5, 1, 2, 3, 40]), start=1, stop=30)
    parts = dict((what.split(":")[0], count) for what, count in run_budget.estimate(replay, 10))
    assert parts["producer 'p'"] == 3  # 1, 2 and 3 s
    assert parts["samples"] == 11 * (2 + 2)  # ticks 0..10 × (2 partitions + up + in system)
    periodic = small_system(arrivals=ev.Periodic(interval=0.5), stop=4)
    assert run_budget.estimate(periodic, 10)[0][1] == 8


def test_a_zero_time_handler_publishing_to_its_own_topic_is_stopped_naming_it():
    out = bounded.raised(
        """
        import evsim as ev
        sim = ev.Simulation(seed=1)
        sim.topic("t")
        sim.producer("p", "t", ev.Periodic(interval=1))
        sim.consumer_group("g", "t", handler=lambda event, ctx: ctx.publish("t", "Again"))
        sim.run(until=5)
        """
    )
    assert out.startswith(
        "SimulationStateError: run: no progress in simulated time: 100,000 attempts of zero "
        "service time at t = 1 s"
    )
    assert "group 'g' published 10,000 events to 't' at this instant, which it reads itself" in out
    assert "group 'g' has a handler and zero service time" in out
    assert "run(..., stall_after=N)" in out


def test_retries_in_place_with_zero_backoff_and_service_are_stopped_naming_the_group():
    out = bounded.raised(
        """
        import evsim as ev
        sim = ev.Simulation(seed=1)
        sim.topic("t")
        sim.producer("p", "t", ev.Periodic(interval=1))
        sim.consumer_group(
            "g", "t", faults=[ev.PoisonEvents(p=1)], retry=ev.Retry(max_attempts=10**9)
        )
        sim.run(until=5)
        """
    )
    assert "no progress in simulated time" in out
    assert "group 'g' retries in place (max_attempts=1,000,000,000) with zero backoff" in out


def test_crash_loops_the_checks_cannot_see_are_stopped_by_the_watchdog():
    """A distribution whose mean says 1 s but which draws 0 passes Crashes' check."""
    out = bounded.raised(
        """
        import evsim as ev
        class Lying(ev.Constant):
            @property
            def mean(self):
                return 1.0
        sim = ev.Simulation(seed=1)
        sim.topic("t")
        sim.consumer_group("g", "t", faults=[ev.Crashes(Lying(0), Lying(0))])
        sim.run(until=5)
        """
    )
    assert "100,000 steps at t = 0 s" in out
    assert "ConsumerGroup._crash_loop" in out
    assert "consumers of group 'g' crash and restart at this instant" in out


def test_a_sound_burst_past_stall_after_runs_when_allowed_and_a_stalled_sim_runs_no_more():
    def burst() -> ev.Simulation:
        sim = ev.Simulation(seed=1)
        sim.topic("t")
        sim.producer("p", "t", ev.Replay([1.0] * 3_000))
        return sim

    assert len(burst().run(until=2, stall_after=10_000).events) == 3_000
    stalled = burst()
    with pytest.raises(SimulationStateError, match="stall_after=1,000"):
        stalled.run(until=2, stall_after=1_000)
    with pytest.raises(
        SimulationStateError, match=r"failed with SimulationStateError.*build a new Simulation"
    ):
        stalled.run(until=2, stall_after=10_000)
