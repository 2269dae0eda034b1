"""Fidelity of the request-response side: a service against queueing theory.

A service with ``c`` workers fed by an open-loop Poisson client, with exponential
service, no timeouts and no load latency, is an M/M/c queue; with a ``queue_limit`` of
``K − c`` it is M/M/c/K, whose arrivals that find K in the system are refused
(``rejected``). Each case runs ``REPLICATIONS`` independent replications of
``REQUESTS`` measured requests after a warm-up; the 99% Student-t interval of the
per-run figure must contain the analytic one: the mean latency of the served requests
(W), and for M/M/c/K the share refused (the blocking probability).

The seed is fixed, so the tests are deterministic; a 99% interval misses the truth 1% of
the time by construction (see tests/test_fidelity.py on what a failure means).
"""

from __future__ import annotations

import functools

import pandas as pd
import pytest

import evsim as ev
from evsim.analysis import theory

pytestmark = pytest.mark.slow

SEED = 20261203
REPLICATIONS = 30
REQUESTS = 10_000  # measured per run
MEAN_SERVICE = 1.0  # seconds
WORKERS = 4
WARMUP = 300.0  # seconds: 300 mean service times
CASES = {  # name: (utilisation offered per worker, queue_limit)
    "M/M/4": (0.7, None),
    "M/M/4/10": (0.9, 6),  # K = 4 workers + 6 waiting
}


def one_run(seed: int, rho: float, queue_limit: int | None) -> dict[str, float]:
    arrival_rate = rho * WORKERS / MEAN_SERVICE
    sim = ev.Simulation(seed=seed)
    sim.service(
        "api", workers=WORKERS, service_time=ev.Exponential(mean=MEAN_SERVICE),
        queue_limit=queue_limit,
    )  # fmt: skip
    sim.client("web", "api", ev.Poisson(rate=arrival_rate))
    requests = sim.run(until=WARMUP + REQUESTS / arrival_rate).requests
    measured = requests[requests["sent_at"] >= WARMUP]
    ended = measured[measured["outcome"] != "pending"]
    served = ended[ended["outcome"] == "ok"]
    return {
        "latency_mean": float(served["latency"].mean()),
        "refused": float((ended["outcome"] == "rejected").mean()),
        "ended": len(ended),
    }


@functools.cache
def replications(case: str) -> pd.DataFrame:
    rho, queue_limit = CASES[case]
    run = functools.partial(one_run, rho=rho, queue_limit=queue_limit)
    return ev.replicate(run, replications=REPLICATIONS, seed=SEED)


def expected(case: str) -> theory.MMcMetrics:
    rho, queue_limit = CASES[case]
    arrival_rate = rho * WORKERS / MEAN_SERVICE
    if queue_limit is None:
        return theory.mmc(arrival_rate, 1 / MEAN_SERVICE, WORKERS)
    return theory.mmck(arrival_rate, 1 / MEAN_SERVICE, WORKERS, WORKERS + queue_limit)


@pytest.mark.parametrize("case", list(CASES))
def test_a_services_mean_latency_matches_queueing_theory(case):
    table = replications(case)
    assert (table["ended"] > 0.95 * REQUESTS).all()
    ci = ev.confidence_interval(table["latency_mean"], level=0.99)
    assert expected(case).w in ci, f"{case}: theory W = {expected(case).w:.6g} s, simulated {ci}"


def test_a_full_queue_refuses_the_share_erlang_predicts():
    table = replications("M/M/4/10")
    metrics = expected("M/M/4/10")
    assert isinstance(metrics, theory.MMcKMetrics)
    ci = ev.confidence_interval(table["refused"], level=0.99)
    assert metrics.p_block in ci, f"theory p_block = {metrics.p_block:.5f}, simulated {ci}"
    assert metrics.p_block > 0.05  # the case is one where refusals matter


def test_without_a_queue_limit_nothing_is_refused():
    assert (replications("M/M/4")["refused"] == 0).all()
