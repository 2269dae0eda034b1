"""``evsim run``: run a scenario file, print its summary, write its tables and charts.

``run`` prints the summary table and, with ``--out``, writes the tables (CSV, and
Parquet when pyarrow is installed; ``requests`` and ``calls`` too when the scenario has
services) and the standard charts (PNG).
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path
from typing import Any

from evsim.cli_output import plot_function, table_text, warn
from evsim.cli_usage import check_out, run_until
from evsim.result import Result
from evsim.scenario.loader import build
from evsim.scenario.source import read_source

TABLES = ("events", "deliveries", "attempts", "timeseries")
REQUEST_TABLES = ("requests", "calls")  # written for a run with services only


def run_command(args: argparse.Namespace) -> int:
    """``evsim run SCENARIO``: the exit status (0; errors are raised to :func:`evsim.cli.main`)."""
    check_out(args.out)
    source = read_source(args.scenario)
    sim = build(source, seed=args.seed)
    until = run_until(args.until, sim.duration, source.where)
    result = sim.run(until=until, max_events=args.max_events)
    result.check()
    print(f"{source.where}: {until:g} s simulated, seed {sim.seed}")
    print(table_text(result.summary()))
    if args.out is not None:
        written = write_run(result, args.out)
        print(f"wrote {len(written)} files to {args.out}")
    return 0


def write_run(result: Result, out: Path) -> list[Path]:
    """Write ``result``'s tables (CSV, and Parquet when pyarrow is installed) and the
    standard charts (when :mod:`evsim.views.plot` provides them) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    tables = {"summary": result.summary()}
    if result.config.get("record") == "full":
        has_services = bool(result.config["scenario"].get("services"))
        names = (*TABLES, *REQUEST_TABLES) if has_services else TABLES
        tables.update((name, getattr(result, name)) for name in names)
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
                warn(f"{name}.parquet not written: {err}")
    charts = plot_function("standard_charts")
    if charts is not None:
        try:
            written.extend(Path(p) for p in charts(result, out))
        except Exception as err:  # charts are extras: the tables are written
            warn(f"charts not drawn: {err}")
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
