"""Load balancers (``sim.load_balancer``): each strategy's choice, and sinkholing."""

from __future__ import annotations

import pytest

import evsim as ev


def balanced(strategy, *, faults_on_a=None, rate=20.0, until=60.0, seed=1):
    """Three servers of 8 workers, 0.5 s per request: at 20 a second each healthy one
    has a few requests open at any time."""
    sim = ev.Simulation(seed=seed)
    for name in ("a", "b", "c"):
        faults = faults_on_a if name == "a" else None
        sim.service(name, workers=8, service_time=ev.Exponential(mean=0.5), faults=faults)
    sim.load_balancer("lb", ["a", "b", "c"], strategy)
    sim.client("web", "lb", ev.Poisson(rate=rate))
    result = sim.run(until=until)
    result.check()
    forwards = result.calls[result.calls["caller"] == "lb"]
    return result, forwards["callee"].value_counts().loc[["a", "b", "c"]]


def test_round_robin_takes_the_targets_in_turn():
    result, _ = balanced("round_robin")
    forwards = result.calls[result.calls["caller"] == "lb"].sort_values("started_at")
    assert forwards["callee"].tolist()[:6] == ["a", "b", "c", "a", "b", "c"]


def test_random_spreads_evenly():
    _, counts = balanced("random", rate=200)
    shares = counts / counts.sum()
    assert (abs(shares - 1 / 3) < 0.02).all()


@pytest.mark.parametrize("strategy", ["least_connections", "power_of_two"])
def test_load_aware_strategies_prefer_the_idle_target(strategy):
    # a is four times slower: the load-aware strategies send it less than a third
    sim = ev.Simulation(seed=2)
    sim.service("a", workers=2, service_time=ev.Exponential(mean=0.16))
    for name in ("b", "c"):
        sim.service(name, workers=2, service_time=ev.Exponential(mean=0.04))
    sim.load_balancer("lb", ["a", "b", "c"], strategy)
    sim.client("web", "lb", ev.Poisson(rate=40))
    calls = sim.run(until=60).calls
    counts = calls[calls["caller"] == "lb"]["callee"].value_counts()
    assert counts["a"] < 0.25 * counts.sum()


def test_least_connections_sinkholes_onto_a_down_target():
    """A down server refuses at once, so it always has the fewest open connections."""
    _, healthy = balanced("least_connections")
    result, during = balanced("least_connections", faults_on_a=[ev.Outage(0.0, 60.0)])
    assert during["a"] > 0.75 * during.sum()  # most of it goes to the dead one
    assert healthy["a"] < 0.5 * healthy.sum()
    requests = result.requests
    assert (requests["outcome"] == "rejected").mean() > 0.75
    # round robin only sends it its third
    _, turns = balanced("round_robin", faults_on_a=[ev.Outage(0.0, 60.0)])
    assert turns["a"] == pytest.approx(
        turns.sum() / 3, abs=5
    )  # rows of requests still open at the stop are missing


def test_each_forward_is_a_row_on_its_own_edge():
    result, _ = balanced("round_robin", until=5)
    calls = result.calls
    client_rows = calls[calls["caller"] == "web"]
    forward_rows = calls[calls["caller"] == "lb"]
    assert len(client_rows) == len(forward_rows) == len(result.requests.dropna(subset=["latency"]))
    assert set(client_rows["callee"]) == {"lb"}


@pytest.mark.parametrize("record", ["full", "summary"])
def test_an_answer_after_the_client_gave_up_is_no_goodput_at_the_target(record):
    """Replayed requests to one slow server: those answered within the client's 1 s
    timeout are ok all the way; the later ones are timeouts at the client and, behind
    the balancer, at the server too, though the server did their work."""
    sim = ev.Simulation(seed=1, record=record)
    sim.service("a", workers=1, service_time=0.4)
    sim.load_balancer("lb", ["a"])
    sim.client("web", "lb", ev.Replay([1.0, 1.0, 1.0, 1.0]), timeout=1.0)
    summary = sim.run(until=10.0).summary()
    # served at 1.4, 1.8, 2.2 and 2.6 s: the first two within the timeout
    assert summary.loc["web", ["ok", "timeouts"]].tolist() == [2, 2]
    assert summary.loc["a", ["ok", "timeouts"]].tolist() == [2, 2]
    assert summary.loc["a", "goodput"] == summary.loc["web", "goodput"] == 2 / 10
    assert summary.loc["a", "throughput"] == 4 / 10  # the work was done all the same


def test_bad_balancer_settings_are_named():
    sim = ev.Simulation(seed=1)
    with pytest.raises(ev.ConfigError, match=r"^strategy: expected one of"):
        sim.load_balancer("lb", ["a"], "fastest")
    with pytest.raises(ev.ConfigError, match=r"^targets: expected a non-empty list"):
        sim.load_balancer("lb", [])
    sim.load_balancer("lb", ["ghost"])
    sim.client("web", "lb", users=1)
    with pytest.raises(ev.UnknownNameError, match=r"^lb: targets\[0\]: no service"):
        sim.run(until=1)
