"""Experiments: replications, parameter sweeps and confidence intervals.

One simulation run is one sample. To say something about a system, run it several times
with independent seeds (:func:`replicate`), across a grid of parameters (:func:`sweep`),
and report means with Student-t confidence intervals (:func:`confidence_interval`).

Seeds come from one ``numpy.random.SeedSequence``: replication r gets the same seed at
every grid point (common random numbers, so differences between parameter values are
not drowned in noise), and the table does not depend on the executor or on the order in
which runs finish. ``executor`` is any :class:`concurrent.futures.Executor`: a process
pool by default, ``"serial"`` to run in this process, or a Dask ``distributed`` client's
``client.get_executor()`` to spread runs over a cluster.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evsim import _check
from evsim.errors import ConfigError, ConfigTypeError
from evsim.result import Result

RunFunction = Callable[..., Any]


@dataclass(frozen=True)
class ConfidenceInterval:
    """A Student-t confidence interval for a mean: ``low <= mean <= high``."""

    mean: float
    low: float
    high: float
    n: int
    level: float

    @property
    def half_width(self) -> float:
        """Half the interval's width (the ± of ``mean ± half_width``)."""
        return (self.high - self.low) / 2

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high

    def __repr__(self) -> str:
        return (
            f"{self.mean:.6g} ± {self.half_width:.3g} "
            f"({self.level:.0%} CI, n={self.n}: [{self.low:.6g}, {self.high:.6g}])"
        )


def confidence_interval(values: Iterable[float], level: float = 0.95) -> ConfidenceInterval:
    """The Student-t confidence interval of the mean of ``values`` (independent runs)."""
    data = np.asarray(list(values), dtype=float)
    if data.ndim != 1 or len(data) < 2:
        raise ConfigError(f"values: need at least 2 numbers for an interval, got {len(data)}")
    if not np.isfinite(data).all():
        raise ConfigError("values: every value must be a finite number (found NaN or inf)")
    level = _check.number("level", level)
    if not 0 < level < 1:
        raise ConfigError(f"level: must be between 0 and 1, got {level!r}")
    from scipy import stats  # imported on first use: it takes seconds to load

    mean = float(data.mean())
    half = float(
        stats.t.ppf((1 + level) / 2, len(data) - 1) * data.std(ddof=1) / math.sqrt(len(data))
    )
    return ConfidenceInterval(mean, mean - half, mean + half, len(data), level)


def seeds_for(seed: int, replications: int) -> list[int]:
    """``replications`` independent seeds drawn from ``SeedSequence(seed)``."""
    seed = _check.integer("seed", seed, minimum=0)
    replications = _check.integer("replications", replications, minimum=1)
    children = np.random.SeedSequence(seed).spawn(replications)
    return [int(child.generate_state(1, dtype=np.uint64)[0] >> 1) for child in children]


def replicate(
    fn: RunFunction,
    replications: int,
    seed: int = 0,
    executor: Executor | str | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Run ``fn(seed=...)`` ``replications`` times; one row per run (and group).

    ``fn`` returns an :class:`~evsim.result.Result` (each row then holds the run's
    ``summary()`` for one group, with a ``group`` column) or a mapping of metric names to
    numbers (one row per run). Columns ``replication`` and ``seed`` come first.
    """
    return sweep(fn, [{}], replications, seed, executor, progress)


def sweep(
    fn: RunFunction,
    grid: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]],
    replications: int = 1,
    seed: int = 0,
    executor: Executor | str | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Run ``fn(seed=..., **params)`` for every point of ``grid`` and every replication.

    ``grid`` maps parameter names to the values to try (all combinations are run), or is
    a list of parameter dicts. The table has one row per run (and group): the parameters,
    ``replication``, ``seed``, then the metrics.
    """
    if not callable(fn):
        raise ConfigTypeError(f"fn: expected a function fn(seed, **params), got {fn!r}")
    points = _grid_points(grid)
    seeds = seeds_for(seed, replications)
    runs = [(p, r) for p in range(len(points)) for r in range(replications)]
    calls = [(fn, seeds[r], points[p]) for p, r in runs]
    outputs = _run_all(calls, executor, progress)
    frames = [
        _rows(output, {**points[p], "replication": r, "seed": seeds[r]})
        for (p, r), output in zip(runs, outputs, strict=True)
    ]
    return pd.concat(frames, ignore_index=True)


def _grid_points(grid: Any) -> list[dict[str, Any]]:
    if isinstance(grid, Mapping):
        names = list(grid)
        for name in names:
            values = grid[name]
            if isinstance(values, str) or not isinstance(values, Sequence) or not values:
                raise ConfigError(
                    f"grid[{name!r}]: expected a non-empty list of values, got {values!r}"
                )
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*grid.values())]
    points = list(grid)
    for index, point in enumerate(points):
        if not isinstance(point, Mapping):
            raise ConfigTypeError(f"grid[{index}]: expected a dict of parameters, got {point!r}")
    if not points:
        raise ConfigError("grid: expected at least one parameter point, got none")
    return [dict(point) for point in points]


def _call(fn: RunFunction, seed: int, params: dict[str, Any]) -> Any:
    """One run, reduced to plain data so it travels back from a worker process."""
    output = fn(seed=seed, **params)
    if isinstance(output, Result):
        return output.summary().reset_index()
    if isinstance(output, Mapping):
        return dict(output)
    if isinstance(output, pd.DataFrame):
        return output.reset_index() if output.index.name else output
    raise ConfigTypeError(
        f"fn: expected it to return an ev.Result or a dict of metrics, got {type(output).__name__}"
    )


def _run_all(calls: list[tuple], executor: Executor | str | None, progress: bool) -> list[Any]:
    if executor == "serial" or (executor is None and len(calls) == 1):
        return [_call(*call) for call in _progress(calls, progress, len(calls))]
    if isinstance(executor, str):
        raise ConfigError(f"executor: expected an Executor, 'serial' or None, got {executor!r}")
    if executor is not None and not isinstance(executor, Executor):
        raise ConfigTypeError(f"executor: expected a concurrent.futures.Executor, got {executor!r}")
    own = executor is None
    pool: Executor = (
        ProcessPoolExecutor(max_workers=min(len(calls), os.cpu_count() or 1))
        if executor is None
        else executor
    )
    try:
        futures: dict[Future, int] = {pool.submit(_call, *call): i for i, call in enumerate(calls)}
        outputs: list[Any] = [None] * len(calls)
        for future in _progress(as_completed(futures), progress, len(calls)):
            outputs[futures[future]] = future.result()
        return outputs
    finally:
        if own:
            pool.shutdown()


def _progress(items: Iterable[Any], show: bool, total: int) -> Iterable[Any]:
    if not show:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, total=total, desc="runs", unit="run")


def _rows(output: Any, columns: dict[str, Any]) -> pd.DataFrame:
    frame = pd.DataFrame([output]) if isinstance(output, dict) else output.copy()
    for position, (name, value) in enumerate(columns.items()):
        frame.insert(position, name, value)
    return frame
