"""The AWS Architecture Blog's "Exponential Backoff And Jitter" comparison
(evsim.analysis.backoff): clients contending for one row under optimistic concurrency,
each retrying with exponential backoff and one of four jitters.

What is held here, with numbers derived in the tests over several seeds (paired by seed:
every jitter sees the same network legs), each a 95 % Student-t confidence interval:

* evsim's consumer-group model gives the same work and completion time as an independent
  plain-Python event loop written from the article's rules (:func:`reference_run`);
* no jitter does the most work and takes the longest, at every client count, and its
  work grows faster than linearly with the clients;
* full jitter does less work than equal jitter, and, with many clients, than decorrelated
  jitter (the article: "the Full Jitter approach uses less work, but slightly more time");
* equal jitter takes longer than full and decorrelated jitter, which finish about together.
"""

from __future__ import annotations

import heapq
import itertools
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

import evsim as ev
from evsim.analysis.backoff import ARTICLE_BASE, ARTICLE_CAP

JITTERED = ("full", "equal", "decorrelated")


def paired(table: pd.DataFrame, metric: str, clients: int, a: str, b: str):
    """The confidence interval of ``a - b`` in ``metric`` over the seeds (paired)."""
    part = table[table["clients"] == clients].pivot(index="seed", columns="jitter", values=metric)
    return ev.confidence_interval(part[a] - part[b])


# --- an independent model of the article's simulator ---------------------------------------


def reference_run(clients: int, jitter: str, seed: int, base: float = ARTICLE_BASE,
                  cap: float = ARTICLE_CAP) -> tuple[int, float]:  # fmt: skip
    """(write calls, completion time in s) of one run of the article's rules, on its own
    event loop: every client reads the row, writes it conditionally, and on a conflict
    sleeps the backoff (retries counted from 0, the article's formulas) and reads again;
    each message is one leg of ``abs(normal(10 ms, 2 ms))``."""
    rng = np.random.default_rng(seed)
    order = itertools.count()
    pending: list[tuple[float, int, int, str]] = []
    version, calls, finished = 0, 0, 0.0
    read = [0] * clients
    retries = [0] * clients
    sleep = [base] * clients  # the decorrelated jitter's previous sleep

    def leg() -> float:
        return abs(rng.normal(0.010, 0.002))

    def backoff(client: int) -> float:
        n, retries[client] = retries[client], retries[client] + 1
        if jitter == "decorrelated":
            sleep[client] = min(cap, rng.uniform(base, 3 * sleep[client]))
            return sleep[client]
        ceiling = min(cap, base * 2**n)
        if jitter == "full":
            return rng.uniform(0, ceiling)
        if jitter == "equal":
            return ceiling / 2 + rng.uniform(0, ceiling / 2)
        return ceiling

    def send(at: float, client: int, what: str) -> None:
        heapq.heappush(pending, (at, next(order), client, what))

    for client in range(clients):
        send(leg(), client, "read")
    while pending:
        now, _, client, what = heapq.heappop(pending)
        if what == "read":
            read[client] = version
            send(now + leg() + leg(), client, "write")  # the reply, then the write request
        elif what == "write":
            calls += 1
            won = read[client] == version
            version += won
            send(now + leg(), client, "won" if won else "lost")
        elif what == "lost":
            send(now + backoff(client) + leg(), client, "read")
        else:
            finished = now
    return calls, finished


@pytest.mark.parametrize(("jitter", "base", "cap"), [
    ("none", 0.0, 0.0), ("none", ARTICLE_BASE, ARTICLE_CAP), ("full", ARTICLE_BASE, ARTICLE_CAP),
    ("equal", ARTICLE_BASE, ARTICLE_CAP), ("decorrelated", ARTICLE_BASE, ARTICLE_CAP),
])  # fmt: skip
def test_evsim_matches_an_independent_model_of_the_article(jitter, base, cap):
    seeds, clients = range(30), 20
    ours = pd.DataFrame([ev.backoff_contention(clients, jitter, base, cap, seed=s) for s in seeds])
    theirs = pd.DataFrame(
        [reference_run(clients, jitter, 1000 + s, base, cap) for s in seeds],
        columns=["calls", "completion_time"],
    )
    for metric in ("calls", "completion_time"):
        a, b = ours[metric], theirs[metric]
        error = math.sqrt(a.var() / len(a) + b.var() / len(b))
        assert abs(a.mean() - b.mean()) <= 4 * error, (metric, a.mean(), b.mean(), error)
        assert a.mean() == pytest.approx(b.mean(), rel=0.1)


# --- the article's findings -------------------------------------------------------------------


@pytest.fixture(scope="module")
def comparison() -> pd.DataFrame:
    return ev.backoff_comparison(clients=(10, 50, 100), seeds=range(20))


@pytest.mark.slow
@pytest.mark.parametrize("clients", [10, 50, 100])
@pytest.mark.parametrize("metric", ["calls", "completion_time"])
def test_no_jitter_does_the_most_work_and_takes_the_longest(comparison, metric, clients):
    for other in JITTERED:
        assert paired(comparison, metric, clients, "none", other).low > 0, other


@pytest.mark.slow
def test_without_jitter_work_grows_faster_than_linearly_with_the_clients(comparison):
    summary = ev.backoff_summary(comparison)
    calls = summary[summary["metric"] == "calls"].set_index(["jitter", "clients"])
    none = comparison[comparison["jitter"] == "none"]
    per_client = {  # calls per client: flat if the work grew linearly
        n: ev.confidence_interval(none.loc[none["clients"] == n, "calls"] / n) for n in (10, 100)
    }
    assert per_client[100].low > 2 * per_client[10].high  # linear growth would keep it flat
    growth = {  # the exponent of calls ~ clients ** k, from 10 to 100 clients
        jitter: math.log10(calls.loc[(jitter, 100), "mean"] / calls.loc[(jitter, 10), "mean"])
        for jitter in ("none", *JITTERED)
    }
    assert 1.3 < growth["none"] < 2.0
    assert all(growth["none"] > growth[jitter] for jitter in JITTERED), growth


@pytest.mark.slow
@pytest.mark.parametrize("clients", [10, 50, 100])
def test_full_jitter_does_less_work_than_equal_jitter(comparison, clients):
    assert paired(comparison, "calls", clients, "equal", "full").low > 0


@pytest.mark.slow
def test_with_many_clients_full_jitter_does_less_work_than_decorrelated(comparison):
    # with 10 clients decorrelated jitter does less (its first waits are >= base, full
    # jitter's may be ~0); by 100 its growing sleeps cost more retries than full jitter's
    assert paired(comparison, "calls", 100, "decorrelated", "full").low > 0


@pytest.mark.slow
@pytest.mark.parametrize("clients", [10, 50, 100])
def test_equal_jitter_takes_longer_than_full_and_decorrelated(comparison, clients):
    for other in ("full", "decorrelated"):
        assert paired(comparison, "completion_time", clients, "equal", other).low > 0, other


@pytest.mark.slow
@pytest.mark.parametrize("clients", [10, 50, 100])
def test_full_and_decorrelated_jitter_finish_about_together(comparison, clients):
    gap = paired(comparison, "completion_time", clients, "full", "decorrelated")
    full = comparison.query("jitter == 'full' and clients == @clients")["completion_time"]
    assert max(abs(gap.low), abs(gap.high)) < 0.3 * full.mean()


def test_every_run_ends_with_one_success_per_client():
    for jitter in ("none", *JITTERED):
        sim = ev.contention_simulation(30, jitter, seed=4)
        result = sim.run(until=3600)
        result.check()
        assert (result.deliveries["outcome"] == "processed").all()
        assert (result.attempts["status"] == "ok").sum() == 30
        assert set(result.attempts["status"]) <= {"ok", "error"}


# --- the table and its checks -----------------------------------------------------------------


def test_the_table_has_a_row_per_clients_jitter_and_seed():
    table = ev.backoff_comparison(clients=(1, 4), seeds=range(3))
    assert list(table.columns) == ["clients", "jitter", "seed", "calls", "completion_time"]
    assert len(table) == 2 * 4 * 3
    assert table.groupby(["clients", "jitter"]).size().eq(3).all()
    assert table["calls"].dtype.kind == "i" and table["completion_time"].dtype.kind == "f"
    one = table[table["clients"] == 1]
    assert (one["calls"] == 1).all()  # alone, a client always wins at once
    assert (table["calls"] >= table["clients"]).all()
    assert table.equals(ev.backoff_comparison(clients=(1, 4), seeds=range(3)))


def test_an_executor_gives_the_same_table():
    serial = ev.backoff_comparison(clients=(5,), jitters=("full", "none"), seeds=[0, 7])
    with ThreadPoolExecutor(2) as pool:
        pooled = ev.backoff_comparison(
            clients=(5,), jitters=("full", "none"), seeds=[0, 7], executor=pool
        )
    pd.testing.assert_frame_equal(serial, pooled)


def test_one_client_takes_four_legs():
    run = ev.backoff_contention(1, "none", latency=0.01)
    assert run == {"calls": 1.0, "completion_time": pytest.approx(0.04)}


def test_a_client_still_trying_at_the_horizon_is_an_error(bad_argument):
    with bad_argument(ev.SimulationStateError, "horizon", "4 of 5 clients had not succeeded"):
        ev.backoff_contention(5, "none", base=1.0, cap=10.0, horizon=0.5)


def test_the_summary_has_a_mean_and_interval_per_metric_jitter_and_clients():
    table = ev.backoff_comparison(clients=(3, 6), seeds=range(4))
    summary = ev.backoff_summary(table)
    assert list(summary.columns) == ["metric", "jitter", "clients", "mean", "low", "high", "n"]
    assert len(summary) == 2 * 4 * 2 and (summary["n"] == 4).all()
    assert list(dict.fromkeys(summary["jitter"])) == ["none", "full", "equal", "decorrelated"]
    assert (summary["low"] <= summary["mean"]).all() and (summary["mean"] <= summary["high"]).all()
    row = summary.query("metric == 'calls' and jitter == 'full' and clients == 6").iloc[0]
    assert row["mean"] == table.query("jitter == 'full' and clients == 6")["calls"].mean()


@pytest.mark.parametrize(
    ("call", "error", "argument", "expected"),
    [
        (lambda: ev.backoff_comparison(clients=(0,)), ev.ConfigError, "clients", "must be >= 1"),
        (
            lambda: ev.backoff_contention(3, horizon=50_000),
            ev.ConfigError, "horizon", "must be <= 43200 s",
        ),
        (
            lambda: ev.backoff_comparison(jitters=("fast",)),
            ev.ConfigError, "jitters", "expected one of 'none', 'full'",
        ),
        (lambda: ev.backoff_comparison(seeds=[]), ev.ConfigError, "seeds", "expected at least"),
        (lambda: ev.backoff_comparison(seeds=5), ev.ConfigTypeError, "seeds", "expected a list"),
        (lambda: ev.backoff_comparison(base=1, cap=0.5), ev.ConfigError, "cap", "must be >= base"),
        (
            lambda: ev.backoff_summary(pd.DataFrame({"clients": [1]})),
            ev.ConfigError, "table", "expected a backoff_comparison table",
        ),
    ],
)  # fmt: skip
def test_bad_arguments_are_named(call, error, argument, expected, bad_argument):
    with bad_argument(error, argument, expected):
        call()
