"""How evsim's charts look: new axes, legends, distinct colours, the metrics' units.

Shared by the charts of a run (:mod:`evsim.views.plot`) and of a sweep
(:mod:`evsim.views.sweep_charts`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

UNITS = {  # units of the summary()/sweep metrics, for axis labels
    "throughput": "events/s", "max_lag": "events", "latency_mean": "s", "latency_p50": "s",
    "latency_p95": "s", "latency_p99": "s", "routed": "events", "processed": "events",
    "dead_lettered": "events", "expired": "events", "lost": "events", "pending": "events",
    "duplicates": "events",
}  # fmt: skip
LEGEND_INSIDE = 12  # more entries than this go beside the axes
LEGEND_ROWS = 28  # entries per column beside the axes (at font size 6)
LOG_SPAN = 100  # an axis is logarithmic when its positive values span more than this


def new_axes(ax: Axes | None) -> Axes:
    """``ax``, or the axes of a new 8 x 4.5 inch figure."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(8, 4.5))[1]


def add_legend(ax: Axes, entries: int) -> None:
    """A legend inside the axes, or beside them in columns when it has many entries."""
    if entries <= 0:
        return
    if entries <= LEGEND_INSIDE:
        ax.legend(fontsize=8)
        return
    ax.legend(
        fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0,
        ncols=math.ceil(entries / LEGEND_ROWS),
    )  # fmt: skip


def distinct_colours(ax: Axes, lines: int) -> None:
    """Give the next ``lines`` lines distinct colours: tab10's up to 10, then tab20's
    (its ten strong colours before their light partners), then evenly spaced along turbo."""
    from matplotlib import colormaps

    if lines <= 10:
        colours = _listed("tab10")
    elif lines <= 20:
        pairs = _listed("tab20")
        colours = [*pairs[0::2], *pairs[1::2]]
    else:
        colours = list(colormaps["turbo"](np.linspace(0.03, 0.97, lines)))
    ax.set_prop_cycle(color=colours[: max(lines, 1)])


def wide_span(values: pd.Series) -> bool:
    """Whether numbers, all positive, span more than ``LOG_SPAN`` times: a log axis shows
    the small ones, which a linear axis flattens to nothing."""
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return False
    values = values.dropna()
    return bool(len(values)) and values.min() > 0 and values.max() > LOG_SPAN * values.min()


def _listed(name: str) -> list[list[float]]:
    """The colours of one of matplotlib's listed (qualitative) colour maps."""
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    colour_map = colormaps[name]
    assert isinstance(colour_map, ListedColormap)
    colours: list[list[float]] = np.asarray(colour_map.colors).tolist()
    return colours
