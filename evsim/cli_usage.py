"""The ``evsim`` command's input: its argument parser, the checks of ``--until``, ``--out``
and ``--param``, and the one line that reports any error.

Every error reaches the user as ``evsim: error: <one line>``: argparse's usage errors
(without the usage text; ``--help`` shows it), evsim's own errors, OS errors, running out
of memory or of Python's stack, and anything unexpected. Only a ScenarioError takes more
lines: its first, then one per problem.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, NoReturn

import yaml

from evsim.errors import ConfigError, EvsimError
from evsim.scenario import yaml_guard
from evsim.scenario.source import ScenarioError, check_path, path_tokens


class UsageError(Exception):
    """Bad command-line input: reported on one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse, its usage errors raised as one-line UsageErrors (not the usage text)."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("evsim").strip()
        where = f"{command}: " if command else ""
        raise UsageError(f"{where}{message} (see: {self.prog} --help)")


def error_line(err: Exception) -> str:
    """What ``evsim: error:`` says of ``err``: one line (a ScenarioError keeps its list of
    problems, one per line after the first)."""
    if isinstance(err, ScenarioError):
        return str(err)
    if isinstance(err, UsageError | EvsimError):
        text = str(err)
    elif isinstance(err, OSError):
        where = f"{err.filename}: " if err.filename else ""
        text = f"{where}{err.strerror or err}"
    elif isinstance(err, MemoryError):
        text = (
            "out of memory: this run needs more than the machine has; shorten --until, "
            "lower the rates, or set record: summary in the scenario"
        )
    elif isinstance(err, RecursionError):
        text = f"input nested too deeply for Python ({err})"
    else:
        text = (
            f"unexpected {type(err).__name__}: {err} (if the scenario is valid, this is a "
            "bug in evsim: please report it)"
        )
    return " ".join(text.split())


def check_out(out: Path | None) -> None:
    """Refuse an ``--out`` that is not a directory and cannot be made one (an existing
    file, a path under a file, a folder without write permission), before any run."""
    if out is None:
        return
    existing = next(folder for folder in (out, *out.parents) if folder.exists())
    if not existing.is_dir():
        what = "is a file" if existing == out else f"is under {existing}, a file"
        raise UsageError(f"--out {out}: {what}; expected a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"--out {out}: cannot write in {existing} (permission denied)")


def run_until(until: float | None, duration: float | None, where: str) -> float:
    """``--until``, else the scenario's duration (seconds); refused if neither or <= 0."""
    if until is None:
        if duration is None:
            raise UsageError(f"{where}: no duration; set duration in the file or give --until S")
        return duration
    if not until > 0:
        raise UsageError(f"--until: must be > 0 seconds, got {until:g}")
    return until


def parse_param(text: str, document: Any) -> tuple[str, list[Any]]:
    """``"consumer_groups[0].consumers=1,2,4"`` → the path (checked against the scenario
    ``document``) and its values, read as YAML scalars."""
    path, equals, listed = text.partition("=")
    path = path.strip()
    if not equals or not path or not listed.strip():
        raise UsageError(
            f"--param {text!r}: expected PATH=V1,V2,..., e.g. consumer_groups[0].consumers=1,2,4"
        )
    if path_tokens(path)[:1] == ("seed",):
        raise UsageError("--param seed: vary seeds with --seed and --replications")
    try:
        check_path(path, document)
    except ConfigError as err:
        raise UsageError(f"--param {err}") from err
    values = [_scalar(value) if value.strip() else None for value in listed.split(",")]
    return path, values


def _scalar(text: str) -> Any:
    """A ``--param`` value read as YAML, within the scenario files' limits."""
    try:
        yaml_guard.check_yaml(text)
    except yaml_guard.GuardError as err:
        raise UsageError(f"--param value {text[:40]!r}: {err}") from err
    return yaml.safe_load(text)
