"""What the ``evsim`` command prints, and the charts it draws.

Printed tables wrap to the terminal's width. Errors and warnings are one line each on
stderr (``evsim: error: ...``, ``evsim: warning: ...``). Charts are extras: drawn when
:mod:`evsim.views.plot` can be imported, else a warning, and the tables are written all
the same.
"""

from __future__ import annotations

import importlib
import importlib.util
import shutil
import sys
from collections.abc import Callable
from typing import Any

DIGITS = 4  # decimals shown in printed tables


def table_text(frame: Any) -> str:
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


def fail(message: str, status: int) -> int:
    """Print ``evsim: error: <message>`` on stderr; ``status`` (the exit status)."""
    print(f"evsim: error: {message}", file=sys.stderr)
    return status


def warn(message: str) -> None:
    """Print ``evsim: warning: <message>`` on stderr."""
    print(f"evsim: warning: {message}", file=sys.stderr)


def plot_function(name: str) -> Callable[..., Any] | None:
    """``evsim.views.plot.<name>`` if that module exists and defines it (charts are drawn to
    files with matplotlib's Agg backend), else None."""
    if importlib.util.find_spec("evsim.views.plot") is None:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        module = importlib.import_module("evsim.views.plot")
    except Exception as err:
        warn(f"charts not drawn: evsim.views.plot cannot be imported: {err}")
        return None
    function = getattr(module, name, None)
    return function if callable(function) else None
