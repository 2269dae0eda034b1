"""Simulation.run: a simulation runs once; a failed run leaves nothing to run again."""

from __future__ import annotations

import pytest

import evsim as ev


def small(handler=None) -> ev.Simulation:
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    sim.producer("p", "t", ev.Periodic(1.0))
    sim.consumer_group("g", "t", handler=handler, service_time=0.1)
    return sim


def test_a_second_run_is_refused_and_says_to_build_a_new_simulation():
    sim = small()
    first = sim.run(until=5)
    with pytest.raises(ev.SimulationStateError, match="already run; build a new Simulation"):
        sim.run(until=10)
    assert first.until == 5
    assert first.accounting().loc["g", "routed"] == 4


def test_after_a_failed_run_a_new_run_is_refused_in_one_line():
    def handler(event, ctx):
        ctx.publish("nowhere", "X")

    sim = small(handler)
    with pytest.raises(ev.UnknownNameError, match="'nowhere'"):
        sim.run(until=5)
    with pytest.raises(ev.SimulationStateError) as refused:
        sim.run(until=5)
    message = str(refused.value)
    assert "\n" not in message
    assert "failed with UnknownNameError" in message and "build a new Simulation" in message


def test_bad_run_arguments_do_not_spoil_the_simulation():
    sim = small()
    with pytest.raises(ev.ConfigError, match="until"):
        sim.run(until=-1)
    assert sim.run(until=3).summary().loc["g", "processed"] == 2
