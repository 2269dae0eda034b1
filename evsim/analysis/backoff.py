"""Backoff and jitter under contention: the AWS Architecture Blog's comparison, in evsim.

Source: Marc Brooker, "Exponential Backoff And Jitter", AWS Architecture Blog, March
2015, and the simulator behind its charts (github.com/aws-samples/aws-arch-backoff-simulator).
There, N clients start at once and each updates one database row once under optimistic
concurrency control (OCC): it reads the row's version, then writes on condition that the
version is unchanged; a write with a stale version fails, and the client backs off and
tries again (read, then write) until it succeeds. Every message crosses a network of
delay ``abs(normal(10 ms, 2 ms))``; backoff ``base`` is 5 ms and ``cap`` 2000 ms. The
measures are the work (write calls, failed ones included, summed over the clients) and
the completion time (until the last client has its success reply), each the mean of 100
runs per client count (its code runs 10 to 50 clients). Its findings: exponential backoff
without jitter is the clear loser, doing more work and taking far longer than the
jittered ones (the clients stay in step, so each round lets about one of them win); of the
jitters, equal jitter does slightly more work than full jitter and takes much longer;
full jitter does less work than decorrelated jitter but takes slightly more time.
``tests/test_backoff_comparison.py`` holds evsim to those orderings (at 10 clients
decorrelated jitter still does less work than full jitter: its first waits are never
below ``base``) and to an independent event loop of the same rules.

Why a consumer group and not a separate formula or loop: the rule is a race over time (who
read which version, whose write landed first), so it is modelled where evsim models time,
as the fault :class:`~evsim.actors.faults.Contention`, reusable in any group. Here each client is
an event: ``clients`` events published at 0 s (``ev.Replay([0.0] * clients)``) to a queue
read by ``clients`` consumers, so all of them run at once; each attempt is one OCC call
(four network legs of ``latency``, read after the first and the conditional write after
the third) and ``ev.Retry`` with ``ev.Backoff(base, cap, jitter)`` retries it in place
until it wins. One difference from the simulator's code, kept on purpose: its clients
count the first retry as n = 1 (first wait ``2 * base`` without jitter), while
:class:`~evsim.actors.retry.Backoff` follows the article's formulas from n = 0 (first wait
``base``); the decorrelated jitter, which starts from ``base``, is the same in both.
``calls`` here is every attempt (each makes exactly one write), ``completion_time`` the
last event's ``completed_at`` (the last success reply), both per run.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Executor
from typing import Any

import numpy as np
import pandas as pd

from evsim import _check
from evsim.actors.faults import Contention
from evsim.actors.retry import JITTERS, Backoff, Retry
from evsim.analysis.experiment import _run_all, confidence_interval
from evsim.errors import ConfigError, ConfigTypeError, SimulationStateError
from evsim.simulation import Simulation
from evsim.workload.arrivals import Replay
from evsim.workload.dist import Distribution, FoldedNormal

ARTICLE_BASE = 0.005  # seconds: the simulator's Backoff(5, 2000) in milliseconds
ARTICLE_CAP = 2.0  # seconds
ARTICLE_LATENCY = FoldedNormal(0.010, 0.002)  # seconds: Net(10, 2), abs(normal) ms
ARTICLE_CLIENTS = (10, 20, 30, 40, 50)  # the simulator's client counts
VISIBILITY_TIMEOUT = 43_200  # seconds: SQS's most, so no client's message is seen twice
HORIZON = float(VISIBILITY_TIMEOUT)  # seconds a run may last: a client still trying errs
MAX_ATTEMPTS = 1_000_000  # "until it succeeds": far more than any run here needs
METRICS = ("calls", "completion_time")


def contention_simulation(
    clients: int,
    jitter: str = "full",
    base: float = ARTICLE_BASE,
    cap: float = ARTICLE_CAP,
    latency: Distribution | float = ARTICLE_LATENCY,
    seed: int = 0,
) -> Simulation:
    """The article's system, built and not yet run: ``clients`` events published at 0 s to
    the queue ``"requests"``, read by the group ``"clients"`` of ``clients`` consumers
    whose attempts race to write one resource (``ev.Contention(latency)``) and retry with
    ``ev.Backoff(base, cap, jitter)`` until they win.

    ``base``, ``cap`` and the ``latency`` legs are in seconds (defaults: the article's
    5 ms, 2 s and ``abs(normal(10 ms, 2 ms))``); ``jitter`` is one of ``"none"``,
    ``"full"``, ``"equal"``, ``"decorrelated"``. Run it with ``sim.run(until=...)``.
    """
    clients = _check.integer("clients", clients, minimum=1)
    sim = Simulation(seed=seed, sample_interval=HORIZON)  # gauges: nothing to see here
    sim.queue("requests", visibility_timeout=VISIBILITY_TIMEOUT)  # never received twice
    sim.producer("callers", target="requests", arrivals=Replay([0.0] * clients))
    sim.consumer_group(
        "clients",
        source="requests",
        consumers=clients,
        faults=[Contention(latency=latency)],
        retry=Retry(max_attempts=MAX_ATTEMPTS, backoff=Backoff(base, cap, jitter)),
    )
    return sim


def backoff_contention(
    clients: int,
    jitter: str = "full",
    base: float = ARTICLE_BASE,
    cap: float = ARTICLE_CAP,
    latency: Distribution | float = ARTICLE_LATENCY,
    seed: int = 0,
    horizon: float = HORIZON,
) -> dict[str, float]:
    """One run of :func:`contention_simulation`: ``calls`` (write calls, all attempts of
    all clients) and ``completion_time`` (seconds until the last client succeeded).

    Raises :class:`~evsim.errors.SimulationStateError` if a client is still trying after
    ``horizon`` seconds (at most 43,200, the queue's visibility timeout: past it a
    client's message would be received again, a second client for one event).
    """
    horizon = _check.positive("horizon", horizon)
    if horizon > HORIZON:
        raise ConfigError(f"horizon: must be <= {HORIZON:g} s (12 hours), got {horizon!r}")
    sim = contention_simulation(clients, jitter, base, cap, latency, seed)
    result = sim.run(until=horizon)
    result.check()
    deliveries = result.deliveries
    unfinished = int((deliveries["outcome"] != "processed").sum())
    if unfinished:
        raise SimulationStateError(
            f"horizon: {unfinished} of {clients} clients had not succeeded after {horizon} s "
            f"(jitter={jitter!r}); give a longer horizon or a smaller cap"
        )
    return {
        "calls": float(len(result.attempts)),
        "completion_time": float(deliveries["completed_at"].max()),
    }


def backoff_comparison(
    clients: Iterable[int] = (10, 25, 50, 75, 100),
    jitters: Iterable[str] = JITTERS,
    seeds: Iterable[int] = range(10),
    base: float = ARTICLE_BASE,
    cap: float = ARTICLE_CAP,
    latency: Distribution | float = ARTICLE_LATENCY,
    executor: Executor | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """The article's comparison as a tidy table: one row per client count, jitter and
    seed, with columns ``clients``, ``jitter``, ``seed``, ``calls`` (total work, write
    calls) and ``completion_time`` (seconds until every client has succeeded).

    Every jitter runs on the same seeds (common random numbers: the same network legs).
    Runs are made in this process, or on ``executor`` (any
    :class:`concurrent.futures.Executor`, e.g. a process pool). Summarise it with
    :func:`backoff_summary`, draw it with ``ev.plot_backoff_comparison``.
    """
    counts = [_check.integer("clients", n, minimum=1) for n in _listed("clients", clients)]
    kinds = [_check.choice("jitters", j, JITTERS) for j in _listed("jitters", jitters)]
    runs = [_check.integer("seeds", s, minimum=0) for s in _listed("seeds", seeds)]
    Backoff(base, cap)  # check base and cap once, before any run
    points = [
        {"clients": n, "jitter": j, "base": base, "cap": cap, "latency": latency}
        for n in counts
        for j in kinds
    ]
    calls = [(backoff_contention, seed, point) for point in points for seed in runs]
    outputs = _run_all(calls, "serial" if executor is None else executor, progress)
    rows = [
        {"clients": point["clients"], "jitter": point["jitter"], "seed": seed, **output}
        for (_, seed, point), output in zip(calls, outputs, strict=True)
    ]
    table = pd.DataFrame(rows, columns=["clients", "jitter", "seed", *METRICS])
    return table.astype({"clients": int, "seed": int, "calls": int})


def backoff_summary(table: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Mean of each metric per client count and jitter over the seeds, with a Student-t
    ``level`` confidence interval: columns ``metric``, ``jitter``, ``clients``, ``mean``,
    ``low``, ``high``, ``n`` (``calls`` in calls, ``completion_time`` in seconds)."""
    missing = [c for c in ("clients", "jitter", *METRICS) if c not in table.columns]
    if missing:
        raise ConfigError(f"table: expected a backoff_comparison table, missing {missing}")
    rows = []
    for metric in METRICS:
        for (jitter, clients), runs in table.groupby(["jitter", "clients"], sort=False):
            values = runs[metric].to_numpy(dtype=float)
            mean = float(values.mean())
            low = high = mean  # one run, or identical runs: no spread to estimate
            if len(values) >= 2 and np.ptp(values) > 0:
                interval = confidence_interval(values, level)
                low, high = interval.low, interval.high
            rows.append({"metric": metric, "jitter": jitter, "clients": clients,
                         "mean": mean, "low": low, "high": high, "n": len(values)})  # fmt: skip
    summary = pd.DataFrame(
        rows, columns=["metric", "jitter", "clients", "mean", "low", "high", "n"]
    )
    ordered = summary.sort_values(["metric", "jitter", "clients"], kind="stable", key=_order)
    return ordered.reset_index(drop=True)


def _order(column: pd.Series) -> pd.Series:
    """Jitters in the article's order (none, full, equal, decorrelated); others as given."""
    if column.name == "jitter":
        return column.map({name: index for index, name in enumerate(JITTERS)})
    return column


def _listed(argument: str, values: Any) -> list[Any]:
    if isinstance(values, str) and argument == "jitters":
        values = [values]
    try:
        items = list(values)
    except TypeError:
        raise ConfigTypeError(f"{argument}: expected a list, got {values!r}") from None
    if not items:
        raise ConfigError(f"{argument}: expected at least one value, got none")
    return items
