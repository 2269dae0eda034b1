"""The ``evsim`` command: run a scenario file, sweep a parameter, open the lessons.

::

    evsim run data/scenarios/order_flow.yaml --out runs/order_flow
    evsim sweep data/scenarios/partition_scaling.yaml \\
        --param consumer_groups[0].consumers=1,2,4 --replications 3 --out runs/scaling
    evsim lessons

``run`` prints the summary table and, with ``--out``, writes the tables (CSV, and
Parquet when pyarrow is installed) and the standard charts (PNG). ``sweep`` runs every
combination of the ``--param`` values (``PATH=V1,V2,...``, PATH a dotted path into the
scenario as written in the file, values read as YAML scalars), prints the mean metrics
per point and writes ``sweep.csv`` (one row per run and group) and a chart. Printed
tables wrap to the terminal's width.

Bad input (a missing file, malformed YAML, an invalid field, an unknown ``--param``
path, a bad option, an ``--out`` that cannot be written, a run too large or one that
stops making progress) exits with status 2 and one line ``evsim: error: ...`` on
stderr, whatever the error; a ScenarioError lists one problem per line after its first.
Ctrl-C exits with 130, and an accounting error (a bug in evsim) with 1.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import importlib.util
import itertools
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from evsim import run_budget
from evsim.cli_usage import Parser, UsageError, check_out, error_line, parse_param, run_until
from evsim.errors import ConfigError
from evsim.result import SUMMARY_COLUMNS, AccountingError, Result
from evsim.scenario.loader import build
from evsim.scenario.source import Source, read_source, with_values

TABLES = ("events", "deliveries", "attempts", "timeseries")
DIGITS = 4  # decimals shown in printed tables


def main(argv: list[str] | None = None) -> int:
    """Run the ``evsim`` command with ``argv`` (default ``sys.argv[1:]``); the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        return args.handler(args)
    except SystemExit as exit_:  # argparse's --help and --version (0)
        return exit_.code if isinstance(exit_.code, int) else 2
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except AccountingError as err:
        return _fail(f"{err} (a bug in evsim: please report it)", 1)
    except Exception as err:
        return _fail(error_line(err), 2)


def _fail(message: str, status: int) -> int:
    print(f"evsim: error: {message}", file=sys.stderr)
    return status


def _parser() -> argparse.ArgumentParser:
    from evsim import __version__

    parser = Parser(
        prog="evsim",
        description="Simulate event-driven systems described in scenario files.",
    )
    parser.add_argument("--version", action="version", version=f"evsim {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    run = commands.add_parser(
        "run",
        help="run a scenario and print its summary",
        description="Run a scenario file (YAML or JSON) and print the summary per consumer "
        "group; with --out, write its tables (CSV, Parquet with pyarrow) and charts (PNG).",
    )
    run.add_argument("scenario", metavar="SCENARIO", help="a .yaml, .yml or .json file")
    _common(run)
    run.set_defaults(handler=_run)

    sweep = commands.add_parser(
        "sweep",
        help="run a scenario over a grid of parameter values",
        description="Run every combination of the --param values, each --replications times "
        "with independent seeds, and print the mean metrics per point.",
    )
    sweep.add_argument("scenario", metavar="SCENARIO", help="a .yaml, .yml or .json file")
    sweep.add_argument(
        "--param",
        metavar="PATH=V1,V2,...",
        action="append",
        required=True,
        help="a dotted path into the scenario and the values to try, e.g. "
        "consumer_groups[0].consumers=1,2,4 or producers[0].arrivals.poisson.rate=50,100 "
        "(repeat for more parameters: all combinations are run)",
    )
    sweep.add_argument(
        "--replications", type=int, default=1, metavar="N", help="runs per point (default 1)"
    )
    sweep.add_argument(
        "--metric",
        default="latency_mean",
        choices=SUMMARY_COLUMNS,
        metavar="NAME",
        help="the metric the chart compares (default latency_mean)",
    )
    sweep.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="processes to run in (default: one per CPU; 1 runs in this process)",
    )
    _common(sweep)
    sweep.set_defaults(handler=_sweep)

    lessons = commands.add_parser(
        "lessons",
        help="open JupyterLab on the lessons",
        description="Open JupyterLab on the lesson notebooks (needs the 'lab' extra).",
    )
    lessons.add_argument(
        "--dry-run", action="store_true", help="print the command instead of running it"
    )
    lessons.set_defaults(handler=_lessons)
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--until", type=float, metavar="S", help="seconds to simulate (default: duration)"
    )
    parser.add_argument("--seed", type=int, metavar="N", help="the seed (default: the file's)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="write tables and charts here")
    parser.add_argument(
        "--max-events",
        type=int,
        metavar="N",
        help="refuse a run estimated above N events (default: 10,000,000, or 100,000,000 "
        "with record: summary)",
    )


# --- evsim run --------------------------------------------------------------------------


def _run(args: argparse.Namespace) -> int:
    check_out(args.out)
    source = read_source(args.scenario)
    sim = build(source, seed=args.seed)
    until = run_until(args.until, sim.duration, source.where)
    result = sim.run(until=until, max_events=args.max_events)
    result.check()
    print(f"{source.where}: {until:g} s simulated, seed {sim.seed}")
    print(_table(result.summary()))
    if args.out is not None:
        written = write_run(result, args.out)
        print(f"wrote {len(written)} files to {args.out}")
    return 0


def _table(frame: Any) -> str:
    """``frame`` rounded to ``DIGITS`` decimals, every row and column, wrapped into blocks
    of columns at the terminal's width (``COLUMNS`` if set, 80 when not a terminal) so
    that no line runs off the screen; each block repeats the index (the group, and in a
    sweep the parameter values)."""
    import pandas as pd

    width = shutil.get_terminal_size().columns
    with pd.option_context(
        "display.width", width, "display.max_columns", None, "display.max_rows", None
    ):
        return str(frame.round(DIGITS))


def write_run(result: Result, out: Path) -> list[Path]:
    """Write ``result``'s tables (CSV, and Parquet when pyarrow is installed) and the
    standard charts (when :mod:`evsim.views.plot` provides them) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    tables = {"summary": result.summary()}
    if result.config.get("record") == "full":
        tables.update((name, getattr(result, name)) for name in TABLES)
    parquet = importlib.util.find_spec("pyarrow") is not None
    written = []
    for name, frame in tables.items():
        keep_index = name == "summary"
        path = out / f"{name}.csv"
        frame.to_csv(path, index=keep_index)
        written.append(path)
        if parquet:
            try:
                path = out / f"{name}.parquet"
                _parquet_ready(frame).to_parquet(path, index=keep_index)
                written.append(path)
            except Exception as err:  # an optional format: keep the CSVs
                _warn(f"{name}.parquet not written: {err}")
    charts = _plot_function("standard_charts")
    if charts is not None:
        try:
            written.extend(Path(p) for p in charts(result, out))
        except Exception as err:  # charts are extras: the tables are written
            _warn(f"charts not drawn: {err}")
    return written


def _parquet_ready(frame: Any) -> Any:
    """Object columns (payloads, attributes) as text, which Parquet stores in any case."""
    import json

    frame = frame.copy()
    for column in frame.select_dtypes(include="object").columns:
        frame[column] = [
            None if v is None else v if isinstance(v, str) else json.dumps(v, default=str)
            for v in frame[column]
        ]
    return frame


def _plot_function(name: str) -> Callable[..., Any] | None:
    """``evsim.views.plot.<name>`` if that module exists and defines it (charts are drawn to
    files with matplotlib's Agg backend), else None."""
    if importlib.util.find_spec("evsim.views.plot") is None:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        module = importlib.import_module("evsim.views.plot")
    except Exception as err:
        _warn(f"charts not drawn: evsim.views.plot cannot be imported: {err}")
        return None
    function = getattr(module, name, None)
    return function if callable(function) else None


def _warn(message: str) -> None:
    print(f"evsim: warning: {message}", file=sys.stderr)


# --- evsim sweep ------------------------------------------------------------------------


def _sweep(args: argparse.Namespace) -> int:
    from evsim.analysis.experiment import sweep

    check_out(args.out)
    source = read_source(args.scenario)
    base = build(source, seed=args.seed)  # the file itself, checked with line numbers
    until = run_until(args.until, base.duration, source.where)
    if args.replications < 1:
        raise UsageError(f"--replications: must be >= 1, got {args.replications}")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs: must be >= 1, got {args.jobs}")
    grid: dict[str, list[Any]] = {}
    for text in args.param:
        path, values = parse_param(text, source.document)
        grid[path] = values
    for values in itertools.product(*grid.values()):  # every point checked before any run
        point = dict(zip(grid, values, strict=True))
        where = f"{source.where} with " + ", ".join(f"{k}={v}" for k, v in point.items())
        sim = build(Source(with_values(source.document, point), where))
        try:
            run_budget.check(sim, until, run_budget.max_events(sim.record, args.max_events))
        except ConfigError as err:
            raise UsageError(f"{where}: {err}") from err
    seed = args.seed if args.seed is not None else source.document.get("seed") or 0
    run = functools.partial(
        run_point, document=source.document, until=until, max_events=args.max_events
    )
    pool = None if args.jobs in (None, 1) else ProcessPoolExecutor(max_workers=args.jobs)
    try:
        executor = "serial" if args.jobs == 1 else pool
        table = sweep(run, grid, args.replications, seed, executor=executor, progress=True)
    finally:
        if pool is not None:
            pool.shutdown()
    print(f"{source.where}: {until:g} s simulated per run, {args.replications} per point")
    print(_table(_means(table, list(grid))))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out / "sweep.csv", index=False)
        written = [args.out / "sweep.csv"]
        written.extend(_sweep_charts(table, list(grid), args.metric, args.out))
        print(f"wrote {len(written)} files to {args.out}")
    return 0


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
    metrics = [c for c in SUMMARY_COLUMNS if c in table.columns]
    keys = [*params, "group"] if "group" in table.columns else params
    if table.empty or not metrics:
        return table
    return table.groupby(keys, sort=False)[metrics].mean()


def _sweep_charts(table: Any, params: list[str], metric: str, out: Path) -> list[Path]:
    """``metric`` against the first parameter: one chart with a line per group (one
    parameter), or a chart per group with a line per value of the second parameter."""
    chart = _plot_function("sweep_comparison")
    if chart is None or table.empty:
        return []
    if len(params) > 2:
        _warn("charts are drawn for sweeps of one or two parameters; see sweep.csv")
        return []
    import matplotlib.pyplot as plt

    if len(params) == 1 or "group" not in table.columns:
        parts = [("sweep", table, {})]
    else:
        groups = list(table["group"].unique())
        parts = [
            ("sweep" if len(groups) == 1 else f"sweep_{group}", table[table["group"] == group],
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
            _warn(f"chart {name}.png not drawn: {err}")
    return written


# --- evsim lessons ----------------------------------------------------------------------


def _lessons(args: argparse.Namespace) -> int:
    folder = find_notebooks()
    if folder is None:
        raise UsageError(
            "cannot find the lessons: no notebooks/ folder beside the evsim package or in "
            "the current directory"
        )
    jupyter = find_jupyter()
    if jupyter is None:
        return _fail(
            "JupyterLab is not installed; install it with: pip install -e '.[lab]' "
            "(or run: make lab)",
            1,
        )
    command = [jupyter, "lab", str(folder)]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # Jupyter refuses root otherwise (containers)
    if args.dry_run:
        print(shlex.join(command))
        return 0
    return subprocess.call(command)


def find_notebooks() -> Path | None:
    """The lessons folder: ``notebooks/`` beside the package (a checkout), or in the
    current directory."""
    import evsim

    for folder in (
        Path(evsim.__file__).resolve().parents[1] / "notebooks",
        Path.cwd() / "notebooks",
    ):
        if folder.is_dir() and any(folder.glob("*.ipynb")):
            return folder
    return None


def find_jupyter() -> str | None:
    """The ``jupyter`` executable beside this Python (a virtualenv) or on PATH, if
    JupyterLab is installed with it."""
    here = Path(sys.executable).parent
    for folder in (here, None):
        jupyter = shutil.which("jupyter", path=str(folder) if folder else None)
        if jupyter and (
            Path(jupyter).with_name("jupyter-lab").exists() or shutil.which("jupyter-lab")
        ):
            return jupyter
    return None


if __name__ == "__main__":
    sys.exit(main())
