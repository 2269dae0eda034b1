"""The chart of the backoff-and-jitter comparison: work and completion time against the
number of contending clients, one line per jitter, as in the AWS Architecture Blog's
"Exponential Backoff And Jitter" (data: :func:`evsim.analysis.backoff.backoff_comparison`).

Each line is the mean over the seeds with a shaded Student-t confidence interval. An axis
whose means span more than ``LOG_SPAN`` times (:func:`evsim.views.chart_style.wide_span`),
as completion times do once exponential backoff without jitter is in, is logarithmic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from evsim.analysis.backoff import backoff_summary
from evsim.errors import ConfigTypeError
from evsim.views.chart_style import add_legend, distinct_colours, wide_span

if TYPE_CHECKING:
    from matplotlib.axes import Axes

PANELS = {  # metric: (title, axis label)
    "calls": ("Work: write calls, all clients", "calls"),
    "completion_time": ("Time until every client has succeeded", "completion time (s)"),
}
MARKERS = {"none": "o", "full": "s", "equal": "^", "decorrelated": "D"}
LABELS = {"none": "no jitter", "full": "full jitter", "equal": "equal jitter",
          "decorrelated": "decorrelated jitter"}  # fmt: skip


def backoff_chart(
    table: pd.DataFrame, level: float = 0.95, axes: tuple[Axes, Axes] | None = None
) -> tuple[Axes, Axes]:
    """Draw a :func:`~evsim.analysis.backoff.backoff_comparison` table: work (calls) on
    the first axes, completion time (seconds) on the second, both against the clients,
    one line per jitter with its ``level`` confidence interval over the seeds.

    ``axes`` is two matplotlib Axes to draw on (a new 12 x 4.5 inch figure when None);
    returns them.
    """
    summary = backoff_summary(table, level)
    if axes is None:
        import matplotlib.pyplot as plt

        figure, pair = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
        figure.suptitle(f"Exponential backoff and jitter under contention (mean, {level:.0%} CI)")
        axes = (pair[0], pair[1])
    elif len(axes) != 2:
        raise ConfigTypeError(f"axes: expected two matplotlib Axes, got {axes!r}")
    jitters = list(dict.fromkeys(summary["jitter"]))
    for ax, (metric, (title, label)) in zip(axes, PANELS.items(), strict=True):
        distinct_colours(ax, len(jitters))
        part = summary[summary["metric"] == metric]
        for jitter in jitters:
            line = part[part["jitter"] == jitter].sort_values("clients")
            (drawn,) = ax.plot(
                line["clients"],
                line["mean"],
                marker=MARKERS.get(jitter, "o"),
                label=LABELS.get(jitter, jitter),
            )
            ax.fill_between(
                line["clients"], line["low"], line["high"], color=drawn.get_color(), alpha=0.2
            )
        if wide_span(part["mean"]):
            ax.set_yscale("log")
            label = f"{label} (log scale)"
        ax.set_title(title)
        ax.set_xlabel("clients contending (each writes once)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        add_legend(ax, len(jitters))
    return axes
