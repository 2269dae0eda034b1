"""The plain engine (``engine="simpy"``): the same model on SimPy's public API, giving the
fast engine's tables exactly; and ``sim.env``, where a SimPy user adds processes."""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
import pytest
import simpy
import yaml

import evsim as ev
from evsim.errors import SimulationStateError
from evsim.plain_engine import PlainClock

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "data" / "scenarios").glob("*.yaml"))
TABLES = ("events", "deliveries", "attempts", "timeseries", "requests", "calls")
SIMPY_PRIVATE = {"_queue", "_eid", "_now", "_ok", "_value", "_defused", "_active_proc"}


def run_on(engine: str, path: Path, seed: int) -> ev.Result:
    document = yaml.safe_load(path.read_text())
    document.update(engine=engine, seed=seed)
    sim = ev.load_scenario(document)
    return sim.run(until=sim.duration)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_shipped_scenario_gives_identical_tables_on_both_engines(path):
    fast, plain = run_on("fast", path, seed=3), run_on("simpy", path, seed=3)
    assert len(fast.events) + len(fast.requests) > 0
    for table in TABLES:
        pd.testing.assert_frame_equal(getattr(fast, table), getattr(plain, table))
    pd.testing.assert_frame_equal(fast.summary(), plain.summary())
    assert fast.config["engine"] == "fast" and plain.config["engine"] == "simpy"


def test_the_plain_engine_is_a_plain_simpy_environment_and_names_no_private_simpy_name():
    sim = ev.Simulation(seed=1, engine="simpy")
    assert isinstance(sim.env, simpy.Environment) and isinstance(sim.env, PlainClock)
    tree = ast.parse((ROOT / "evsim" / "plain_engine.py").read_text())
    attributes = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    assert not attributes & SIMPY_PRIVATE


def test_only_the_fast_engine_reads_simpy_internals():
    for path in sorted((ROOT / "evsim").rglob("*.py")):
        if path.name == "engine.py":
            continue
        tree = ast.parse(path.read_text())
        used = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        assert not used & {"_queue", "_eid", "_now"}, path


def test_an_unknown_engine_is_refused_naming_the_choices():
    with pytest.raises(ev.ConfigError, match=r"engine.*'fast'.*'simpy'"):
        ev.Simulation(seed=1, engine="salabim")


def test_the_plain_engine_stops_a_zero_time_loop():
    sim = ev.Simulation(seed=1, engine="simpy")

    def forever():
        while True:
            yield sim.env.timeout(0)

    sim.env.process(forever())
    with pytest.raises(SimulationStateError, match="no progress in simulated time"):
        sim.run(until=1, stall_after=1_000)


def shop(engine: str) -> ev.Simulation:
    sim = ev.Simulation(seed=2, engine=engine)
    sim.topic("orders", partitions=2)
    sim.producer("shop", "orders", ev.Periodic(interval=0.5), keys=ev.UniformKeys(10))
    sim.consumer_group(
        "billing", "orders", consumers=2, service_time=ev.Constant(0.1),
        faults=[ev.TransientErrors(p=0.0)],  # not a plain group: its consumers can crash
    )  # fmt: skip
    return sim


@pytest.mark.parametrize("engine", ["fast", "simpy"])
def test_a_user_process_on_sim_env_monitors_the_run(engine):
    sim = shop(engine)
    seen: list[tuple[float, int]] = []

    def monitor():  # an ordinary SimPy process: sample the log end every 10 s
        yield sim.env.timeout(0.25)  # between two arrivals
        while True:
            topic = sim.topics["orders"]
            seen.append((sim.env.now, sum(topic.log_end_offset(p) for p in range(2))))
            yield sim.env.timeout(10)

    sim.env.process(monitor())
    result = sim.run(until=35)
    assert [t for t, _ in seen] == [0.25, 10.25, 20.25, 30.25]
    # a periodic producer publishes every 0.5 s, the first one interval after the start
    assert [n for _, n in seen] == [0, 20, 40, 60]
    assert len(result.events) == 69  # at 0.5, 1, ..., 34.5: the run stops before t = 35


@pytest.mark.parametrize("engine", ["fast", "simpy"])
def test_a_user_chaos_monkey_on_sim_env_crashes_a_consumer(engine):
    sim = shop(engine)
    victim = sim.groups["billing"].members[0]

    def chaos_monkey():
        yield sim.env.timeout(10)
        victim.crash("chaos")
        yield sim.env.timeout(5)
        victim.restart("chaos")

    sim.env.process(chaos_monkey())
    result = sim.run(until=30)
    up = result.timeseries.query("metric == 'consumers_up'").set_index("time")["value"]
    assert up.loc[5] == 2 and up.loc[12] == 1 and up.loc[20] == 2
    result.check()  # every event still ends in exactly one outcome
