"""``evsim sweep``: run a scenario over a grid of parameter values.

``sweep`` runs every combination of the ``--param`` values (``PATH=V1,V2,...``, PATH a
dotted path into the scenario as written in the file, values read as YAML scalars), prints
the mean metrics per point and writes ``sweep.csv`` (one row per run and group) and a
chart. Every point is checked (its fields, its size) before any run.
"""

from __future__ import annotations

import argparse
import functools
import itertools
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from evsim import run_budget
from evsim.cli_output import plot_function, table_text, warn
from evsim.cli_usage import UsageError, check_out, parse_param, run_until
from evsim.errors import ConfigError
from evsim.result import ALL_SUMMARY_COLUMNS, Result, row_label
from evsim.scenario.loader import build
from evsim.scenario.source import Source, read_source, with_values


def sweep_command(args: argparse.Namespace) -> int:
    """``evsim sweep SCENARIO --param ...``: the exit status (0; errors are raised to
    :func:`evsim.cli.main`)."""
    check_out(args.out)
    source = read_source(args.scenario)
    base = build(source, seed=args.seed)  # the file itself, checked with line numbers
    until = run_until(args.until, base.duration, source.where)
    if args.replications < 1:
        raise UsageError(f"--replications: must be >= 1, got {args.replications}")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs: must be >= 1, got {args.jobs}")
    grid = dict(parse_param(text, source.document) for text in args.param)
    _check_points(source, grid, until, args.max_events)
    table = _run_grid(args, source, grid, until)
    print(f"{source.where}: {until:g} s simulated per run, {args.replications} per point")
    print(table_text(_means(table, list(grid))))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out / "sweep.csv", index=False)
        written = [args.out / "sweep.csv"]
        written.extend(_sweep_charts(table, list(grid), args.metric, args.out))
        print(f"wrote {len(written)} files to {args.out}")
    return 0


def _check_points(
    source: Source, grid: dict[str, list[Any]], until: float, max_events: float | None
) -> None:
    """Build every point of the grid and check its size, before any run."""
    for values in itertools.product(*grid.values()):
        point = dict(zip(grid, values, strict=True))
        where = f"{source.where} with " + ", ".join(f"{k}={v}" for k, v in point.items())
        sim = build(Source(with_values(source.document, point), where))
        try:
            run_budget.check(sim, until, run_budget.max_events(sim.record, max_events))
        except ConfigError as err:
            raise UsageError(f"{where}: {err}") from err


def _run_grid(
    args: argparse.Namespace, source: Source, grid: dict[str, list[Any]], until: float
) -> Any:
    """Every point ``args.replications`` times, in ``args.jobs`` processes: the table of
    :func:`evsim.sweep`."""
    from evsim.analysis.experiment import sweep

    seed = args.seed if args.seed is not None else source.document.get("seed") or 0
    run = functools.partial(
        run_point, document=source.document, until=until, max_events=args.max_events
    )
    pool = None if args.jobs in (None, 1) else ProcessPoolExecutor(max_workers=args.jobs)
    try:
        executor = "serial" if args.jobs == 1 else pool
        return sweep(run, grid, args.replications, seed, executor=executor, progress=True)
    finally:
        if pool is not None:
            pool.shutdown()


def run_point(
    seed: int,
    *,
    document: Mapping[str, Any],
    until: float,
    max_events: float | None = None,
    **params: Any,
) -> Result:
    """One run of a sweep: ``document`` with ``params`` (path → value) applied."""
    from evsim.scenario.loader import load_scenario

    sim = load_scenario(with_values(document, params), seed=seed)
    return sim.run(until=until, max_events=max_events)


def _means(table: Any, params: list[str]) -> Any:
    metrics = [c for c in ALL_SUMMARY_COLUMNS if c in table.columns]
    label = row_label(table)
    keys = [*params, label] if label is not None else params
    if table.empty or not metrics:
        return table
    return table.groupby(keys, sort=False)[metrics].mean()


def _sweep_charts(table: Any, params: list[str], metric: str, out: Path) -> list[Path]:
    """``metric`` against the first parameter: one chart with a line per group (one
    parameter), or a chart per group with a line per value of the second parameter."""
    chart = plot_function("sweep_comparison")
    if chart is None or table.empty:
        return []
    if len(params) > 2:
        warn("charts are drawn for sweeps of one or two parameters; see sweep.csv")
        return []
    import matplotlib.pyplot as plt

    parts: list[tuple[str, Any, dict[str, str]]]
    label = row_label(table)
    if len(params) == 1 or label is None:
        parts = [("sweep", table, {})]
    else:
        groups = list(table[label].unique())
        parts = [
            ("sweep" if len(groups) == 1 else f"sweep_{group}", table[table[label] == group],
             {"by": params[1]})
            for group in groups
        ]  # fmt: skip
    written = []
    for name, part, options in parts:
        try:
            ax = chart(part, params[0], metric, ax=None, **options)
            path = out / f"{name}.png"
            ax.figure.savefig(path, dpi=100, bbox_inches="tight")
            plt.close(ax.figure)
            written.append(path)
        except Exception as err:  # the table is written; charts are extras
            warn(f"chart {name}.png not drawn: {err}")
    return written
