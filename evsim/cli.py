"""The ``evsim`` command: run a scenario file, sweep a parameter, open the lessons.

::

    evsim run data/scenarios/order_flow.yaml --out runs/order_flow
    evsim run data/scenarios/order_api.yaml          # the same flow, request-response
    evsim sweep data/scenarios/partition_scaling.yaml \\
        --param consumer_groups[0].consumers=1,2,4 --replications 3 --out runs/scaling
    evsim lessons

This module parses the arguments and reports errors; each sub-command is a module of its
own (:mod:`evsim.cli_run`, :mod:`evsim.cli_sweep`, :mod:`evsim.cli_lessons`), checks of
the input are in :mod:`evsim.cli_usage` and what is printed in :mod:`evsim.cli_output`.

Bad input (a missing file, malformed YAML, an invalid field, an unknown ``--param``
path, a bad option, an ``--out`` that cannot be written, a run too large or one that
stops making progress) exits with status 2 and one line ``evsim: error: ...`` on
stderr, whatever the error; a ScenarioError lists one problem per line after its first.
Ctrl-C exits with 130, and an accounting error (a bug in evsim) with 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from evsim.cli_lessons import lessons_command
from evsim.cli_output import fail
from evsim.cli_run import run_command
from evsim.cli_sweep import sweep_command
from evsim.cli_usage import Parser, error_line
from evsim.result import ALL_SUMMARY_COLUMNS, AccountingError


def main(argv: list[str] | None = None) -> int:
    """Run the ``evsim`` command with ``argv`` (default ``sys.argv[1:]``); the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        handler: Callable[[argparse.Namespace], int] = args.handler  # set by each sub-command
        return handler(args)
    except SystemExit as exit_:  # argparse's --help and --version (0)
        return exit_.code if isinstance(exit_.code, int) else 2
    except KeyboardInterrupt:
        return fail("interrupted", 130)
    except AccountingError as err:
        return fail(f"{err} (a bug in evsim: please report it)", 1)
    except Exception as err:
        return fail(error_line(err), 2)


def _parser() -> argparse.ArgumentParser:
    from evsim import __version__

    parser = Parser(
        prog="evsim",
        description="Simulate event-driven (and request-response) systems described in "
        "scenario files.",
    )
    parser.add_argument("--version", action="version", version=f"evsim {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    run = commands.add_parser(
        "run",
        help="run a scenario and print its summary",
        description="Run a scenario file (YAML or JSON) and print the summary, a row per "
        "consumer group, service and client; with --out, write its tables (CSV, Parquet "
        "with pyarrow) and charts (PNG).",
    )
    run.add_argument("scenario", metavar="SCENARIO", help="a .yaml, .yml or .json file")
    _common(run)
    run.set_defaults(handler=run_command)

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
        "consumer_groups[0].consumers=1,2,4, producers[0].arrivals.poisson.rate=50,100 or "
        "services[0].workers=4,8 "
        "(repeat for more parameters: all combinations are run)",
    )
    sweep.add_argument(
        "--replications", type=int, default=1, metavar="N", help="runs per point (default 1)"
    )
    sweep.add_argument(
        "--metric",
        default="latency_mean",
        choices=ALL_SUMMARY_COLUMNS,
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
    sweep.set_defaults(handler=sweep_command)

    lessons = commands.add_parser(
        "lessons",
        help="open JupyterLab on the lessons",
        description="Open JupyterLab on the lesson notebooks (needs the 'lab' extra).",
    )
    lessons.add_argument(
        "--dry-run", action="store_true", help="print the command instead of running it"
    )
    lessons.set_defaults(handler=lessons_command)
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


if __name__ == "__main__":
    sys.exit(main())
