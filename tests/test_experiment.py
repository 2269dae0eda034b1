"""Replications, sweeps and confidence intervals: seeds, executors, tables."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

import evsim as ev


def small_run(seed: int, rate: float = 20.0, consumers: int = 1) -> ev.Result:
    sim = ev.Simulation(seed=seed)
    sim.topic("t", partitions=2)
    sim.producer("p", "t", ev.Poisson(rate=rate), keys=ev.UniformKeys(100))
    sim.consumer_group("g", "t", consumers=consumers, service_time=ev.Exponential(0.02))
    return sim.run(until=30)


def metrics(seed: int, scale: float = 1.0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    return {"value": float(rng.normal()) * scale}


def test_replicate_gives_one_row_per_run_and_group_with_seed_columns():
    table = ev.replicate(small_run, replications=4, seed=7, executor="serial")
    assert list(table.columns[:3]) == ["replication", "seed", "group"]
    assert table["replication"].tolist() == [0, 1, 2, 3]
    assert table["seed"].is_unique
    assert {"latency_mean", "throughput", "processed"} <= set(table.columns)


def test_results_do_not_depend_on_the_executor():
    serial = ev.replicate(small_run, replications=4, seed=3, executor="serial")
    pooled = ev.replicate(small_run, replications=4, seed=3)  # the default process pool
    threads = ev.replicate(small_run, replications=4, seed=3, executor=ThreadPoolExecutor(3))
    pd.testing.assert_frame_equal(serial, pooled)
    pd.testing.assert_frame_equal(serial, threads)


def test_the_same_seed_gives_the_same_table_and_another_seed_another():
    first = ev.replicate(metrics, replications=5, seed=1, executor="serial")
    again = ev.replicate(metrics, replications=5, seed=1, executor="serial")
    other = ev.replicate(metrics, replications=5, seed=2, executor="serial")
    pd.testing.assert_frame_equal(first, again)
    assert not first["value"].equals(other["value"])


def test_sweep_runs_every_combination_with_common_random_numbers():
    table = ev.sweep(
        small_run, {"rate": [10.0, 20.0], "consumers": [1, 2]}, replications=3, seed=5,
        executor="serial",
    )  # fmt: skip
    assert len(table) == 2 * 2 * 3
    assert list(table.columns[:4]) == ["rate", "consumers", "replication", "seed"]
    # replication r uses the same seed at every grid point
    seeds = table.pivot_table(index="replication", columns=["rate", "consumers"], values="seed")
    assert (seeds.nunique(axis=1) == 1).all()
    busier = table.groupby("rate")["routed"].mean()
    assert busier[20.0] > busier[10.0]


def test_sweep_accepts_a_list_of_points():
    table = ev.sweep(
        metrics, [{"scale": 1.0}, {"scale": 10.0}], replications=2, seed=0, executor="serial"
    )
    assert table["scale"].tolist() == [1.0, 1.0, 10.0, 10.0]
    np.testing.assert_allclose(table["value"].iloc[2:].to_numpy(), 10 * table["value"].iloc[:2])


def test_a_progress_bar_can_be_shown(capsys):
    ev.replicate(metrics, replications=3, seed=0, executor="serial", progress=True)
    assert "3/3" in capsys.readouterr().err


def test_dask_executor_gives_the_same_table_as_a_serial_run():
    distributed = pytest.importorskip("distributed")
    serial = ev.sweep(small_run, {"rate": [10.0, 20.0]}, replications=2, seed=9, executor="serial")
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        table = ev.sweep(
            small_run, {"rate": [10.0, 20.0]}, replications=2, seed=9,
            executor=client.get_executor(),
        )  # fmt: skip
    pd.testing.assert_frame_equal(serial, table)


def test_confidence_interval_matches_the_student_t_formula():
    values = [1.0, 2.0, 3.0, 4.0]
    ci = ev.confidence_interval(values, level=0.95)
    # t(0.975, 3) = 3.182446; s = 1.290994; n = 4
    assert ci.mean == 2.5
    assert ci.half_width == pytest.approx(3.182446 * 1.290994 / 2, rel=1e-5)
    assert 2.5 in ci and 10 not in ci
    assert ci.n == 4


def test_confidence_intervals_cover_the_true_mean_about_as_often_as_their_level():
    rng = np.random.default_rng(0)
    trials = 4000
    covered = sum(0.0 in ev.confidence_interval(rng.normal(size=10)) for _ in range(trials))
    # binomial standard error of the coverage is about 0.0034
    assert covered / trials == pytest.approx(0.95, abs=0.015)


@pytest.mark.parametrize(
    ("call", "error", "argument", "expected"),
    [
        (lambda: ev.confidence_interval([1.0]), ev.ConfigError, "values", "need at least 2"),
        (
            lambda: ev.confidence_interval([1.0, 2.0], level=1.5),
            ev.ConfigError, "level", "must be between 0 and 1, got 1.5",
        ),
        (
            lambda: ev.replicate(metrics, replications=0),
            ev.ConfigError, "replications", "must be >= 1, got 0",
        ),
        (
            lambda: ev.replicate("run", replications=2),
            ev.ConfigTypeError, "fn", "expected a function fn(seed, **params)",
        ),
        (
            lambda: ev.sweep(metrics, {"scale": []}),
            ev.ConfigError, "grid['scale']", "expected a non-empty list of values",
        ),
        (
            lambda: ev.replicate(metrics, 2, executor="gpu"),
            ev.ConfigError, "executor", "expected an Executor, 'serial' or None, got 'gpu'",
        ),
        (
            lambda: ev.replicate(lambda seed: 42, 2, executor="serial"),
            ev.ConfigTypeError, "fn", "expected it to return an ev.Result or a dict of metrics",
        ),
    ],
)  # fmt: skip
def test_bad_arguments_name_the_argument(call, error, argument, expected, bad_argument):
    with bad_argument(error, argument, expected):
        call()
