"""Fidelity: the simulator against queueing theory, through confidence intervals.

With zero latency a consumer takes an event the moment it arrives, so a single stage
with Poisson arrivals is a textbook queue (design.md, "Behaviour the simulator must get
right"):

- one partition, one consumer, exponential service: M/M/1; constant service: M/D/1;
- a queue read by c consumers, exponential service: M/M/c;
- P partitions, P consumers, many uniform keys: P independent M/M/1 queues, each fed
  the share of the keys murmur2 sends to its partition.

Each case runs ``REPLICATIONS`` independent replications (seeds from one SeedSequence
via ``ev.replicate``) of ``EVENTS`` measured events after a warm-up, and the 95%
Student-t interval of the per-run mean latency must contain the analytic mean time in
system W. Little's law (L = λW) is checked on the same runs: the time average of the
sampled ``in_system`` gauge against throughput × mean latency, within a tolerance (see
``LITTLE_TOLERANCE``).

The seed is fixed, so the tests are deterministic; a 95% interval misses the truth 5%
of the time by construction, so a failure after a change to the simulator's random
streams is first a prompt to look at the numbers (the assertion messages print them),
not a licence to pick another seed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import pandas as pd
import pytest

import evsim as ev
from evsim.analysis import theory

pytestmark = pytest.mark.slow

SEED = 20240611
REPLICATIONS = 30
EVENTS = 20_000  # measured events per run (after the warm-up)
MEAN_SERVICE = 1.0  # seconds, far below a queue's 30 s visibility timeout: no redeliveries
RHO = 0.6  # utilisation of every server
WARMUP = 500.0  # seconds (500 mean service times; M/M/1 at ρ = 0.6 relaxes in ~20 s)
SAMPLE_INTERVAL = 0.5  # seconds between samples of the in_system gauge
SERVERS = 3  # consumers on the M/M/c queue
PARTITIONS = 4  # partitions (and consumers) of the keyed topic
KEYS = 100_000
GROUP = "g"


# --- one run ---------------------------------------------------------------------------


def measure(sim: ev.Simulation, arrival_rate: float) -> dict[str, float]:
    """Run ``sim`` for ``EVENTS`` expected arrivals after the warm-up and return the mean
    latency (s), the throughput (events/s) and the time-average number in the system."""
    result = sim.run(until=WARMUP + EVENTS / arrival_rate, warmup=WARMUP)
    row = result.summary().loc[GROUP]
    samples = result.timeseries
    in_system = samples[
        (samples["metric"] == "in_system")
        & (samples["entity"] == GROUP)
        & (samples["time"] >= WARMUP)
    ]
    return {
        "latency_mean": float(row["latency_mean"]),
        "throughput": float(row["throughput"]),
        "in_system_mean": float(in_system["value"].mean()),
        "processed": int(row["processed"]),
    }


def new_simulation(seed: int) -> ev.Simulation:
    return ev.Simulation(seed=seed, sample_interval=SAMPLE_INTERVAL)


def single_partition(seed: int, service: ev.Distribution) -> dict[str, float]:
    """A topic with one partition read by one consumer: a single-server queue."""
    sim = new_simulation(seed)
    sim.topic("t", partitions=1)
    sim.producer("p", "t", ev.Poisson(rate=RHO / MEAN_SERVICE))
    sim.consumer_group(GROUP, "t", consumers=1, service_time=service)
    return measure(sim, RHO / MEAN_SERVICE)


def shared_queue(seed: int) -> dict[str, float]:
    """An SQS-like queue (default settings) read by ``SERVERS`` competing consumers."""
    arrival_rate = RHO * SERVERS / MEAN_SERVICE
    sim = new_simulation(seed)
    sim.queue("q")
    sim.producer("p", "q", ev.Poisson(rate=arrival_rate))
    sim.consumer_group(
        GROUP, "q", consumers=SERVERS, service_time=ev.Exponential(mean=MEAN_SERVICE)
    )
    return measure(sim, arrival_rate)


def keyed_partitions(seed: int) -> dict[str, float]:
    """A topic with ``PARTITIONS`` partitions, one consumer each, ``KEYS`` uniform keys."""
    arrival_rate = RHO * PARTITIONS / MEAN_SERVICE
    sim = new_simulation(seed)
    sim.topic("t", partitions=PARTITIONS)
    sim.producer("p", "t", ev.Poisson(rate=arrival_rate), keys=ev.UniformKeys(KEYS))
    sim.consumer_group(
        GROUP, "t", consumers=PARTITIONS, service_time=ev.Exponential(mean=MEAN_SERVICE)
    )
    return measure(sim, arrival_rate)


# --- theory ----------------------------------------------------------------------------


def key_shares(partitions: int, n_keys: int) -> list[float]:
    """The fraction of ``n_keys`` uniform keys murmur2 sends to each partition."""
    topic = ev.Simulation(seed=0).topic("shares", partitions=partitions)
    keys = ev.UniformKeys(n_keys)
    counts = [0] * partitions
    for i in range(n_keys):
        counts[topic.partition_for(keys.key(i))] += 1
    return [count / n_keys for count in counts]


def partitioned_theory() -> theory.QueueMetrics:
    shares = key_shares(PARTITIONS, KEYS)
    return theory.partitioned_mm1(RHO * PARTITIONS / MEAN_SERVICE, 1 / MEAN_SERVICE, shares)


CASES: dict[str, tuple[Callable[..., dict[str, float]], Callable[[], theory.QueueMetrics]]] = {
    "M/M/1": (
        functools.partial(single_partition, service=ev.Exponential(mean=MEAN_SERVICE)),
        lambda: theory.mm1(RHO / MEAN_SERVICE, 1 / MEAN_SERVICE),
    ),
    "M/D/1": (
        functools.partial(single_partition, service=ev.Constant(MEAN_SERVICE)),
        lambda: theory.md1(RHO / MEAN_SERVICE, MEAN_SERVICE),
    ),
    f"M/M/{SERVERS}": (
        shared_queue,
        lambda: theory.mmc(RHO * SERVERS / MEAN_SERVICE, 1 / MEAN_SERVICE, SERVERS),
    ),
    f"{PARTITIONS}xM/M/1": (keyed_partitions, partitioned_theory),
}


@functools.cache
def replications(case: str) -> pd.DataFrame:
    """One row per replication of ``case`` (run once per test session)."""
    run, _ = CASES[case]
    return ev.replicate(run, replications=REPLICATIONS, seed=SEED)


# --- the tests -------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(CASES))
def test_mean_latency_matches_queueing_theory(case):
    table = replications(case)
    expected = CASES[case][1]()
    ci = ev.confidence_interval(table["latency_mean"], level=0.95)
    assert ci.n >= 20
    assert (table["processed"] > 0.95 * EVENTS).all()
    assert expected.w in ci, f"{case}: theory W = {expected.w:.6g} s, simulated {ci}"


# Little's law per run. The two sides are computed from different things: L from the
# gauge sampled every SAMPLE_INTERVAL s over [WARMUP, until], λW from the events
# published after the warm-up and finished before the end. They differ by
# (a) edge terms: events still in the system at the warm-up (published before it, so
#     left out of λW) and events unfinished at the end (in L, not in λW), each about
#     L·W of area, so a relative bias of about +2W/(until − WARMUP): up to 0.06% here;
# (b) sampling: a grid average of a step function is a noisy estimate of its integral.
# In 600 runs of these cases (seeds other than SEED too) the largest relative gap was
# 0.38%, and for 4 × M/M/1 the mean gap (+0.07% ± 0.03%) matched (a): a CI for
# "gap = 0" would flag that known edge bias, not a fault. A real fault, such as events
# in service missing from in_system or a latency off by a service time, moves the gap
# by λE[S]/L (the mean number in service over L): 40–80% in these cases.
LITTLE_TOLERANCE = 0.01  # relative: 2.5× the worst gap observed


@pytest.mark.parametrize("case", list(CASES))
def test_littles_law_holds_on_every_run(case):
    table = replications(case)
    little = table["throughput"] * table["latency_mean"]  # λW
    gap = (table["in_system_mean"] - little) / little  # (L − λW) / λW, per run
    worst = gap.abs().max()
    assert worst < LITTLE_TOLERANCE, f"{case}: |L − λW| / λW up to {worst:.3%}\n{table}"
