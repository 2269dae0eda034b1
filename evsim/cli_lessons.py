"""``evsim lessons``: open JupyterLab on the lesson notebooks (the ``lab`` extra)."""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from evsim.cli_output import fail
from evsim.cli_usage import UsageError


def lessons_command(args: argparse.Namespace) -> int:
    """``evsim lessons``: JupyterLab's exit status, or 1 if it is not installed."""
    folder = find_notebooks()
    if folder is None:
        raise UsageError(
            "cannot find the lessons: no notebooks/ folder beside the evsim package or in "
            "the current directory"
        )
    jupyter = find_jupyter()
    if jupyter is None:
        return fail(
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
