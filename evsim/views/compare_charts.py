"""The chart of :func:`evsim.analysis.compare.compare`: the seed's comparison table as six
panels, each setting the two architectures side by side on what was measured (one panel
alone: :func:`compare_panel`).

Coupling (the entry's availability and the healthy downstreams' work during the
inventory outage), scalability (the highest rate within the SLO against the slowest
downstream's slowdown), resilience (error rates during the outage and the spike; the
seconds until orders are acknowledged and completed within the SLO again), latency (time
to acknowledge and to complete, log scale) and complexity (components and the failure
modes counted, symmetric log scale). Under each title, the seed's claim for each side.
Bars carry their values; a measure a design does not have (NaN) is marked ``n/a``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from evsim.analysis.compare_models import FAULTY
from evsim.errors import ConfigError, ConfigTypeError
from evsim.views.topology import CONSUMER, SERVICE

if TYPE_CHECKING:
    from matplotlib.axes import Axes

SIDES = {"event_driven": ("event-driven", CONSUMER), "request_response": ("request-response",
         SERVICE)}  # fmt: skip
PANELS = {  # panel: aspect, measures, title, axis label, scale
    "coupling": ("coupling", ("entry_availability", "healthy_work_done"),
                 "Coupling: during the inventory outage", "share of the window's orders",
                 "linear"),
    "scalability": ("scalability", ("max_rate_ack", "max_rate_complete"),
                    "Scalability: highest rate within the SLO", "orders/s", "linear"),
    "errors": ("resilience", ("error_rate",), "Resilience: errors during the fault",
               "share of the window's orders", "linear"),
    "recovery": ("resilience", ("recovery_time", "completion_recovery_time"),
                 "Resilience: recovery after the fault", "seconds after the fault's end",
                 "linear"),
    "latency": ("latency", ("ack_p50", "ack_p99", "complete_p50", "complete_p99"),
                "Latency without faults", "seconds (log scale)", "log"),
    "complexity": ("complexity", ("components", "duplicates", "reordered", "dead_lettered",
                                  "stale_reads", "partial_orders"),
                   "Complexity: what the design must handle", "count (symmetric log scale)",
                   "symlog"),
}  # fmt: skip
LABELS = {
    "entry_availability": "entry available", "healthy_work_done": "healthy work done",
    "error_rate": "error rate", "recovery_time": "acknowledged", "ack_p50": "ack p50",
    "completion_recovery_time": "completed", "ack_p99": "ack p99",
    "complete_p50": "complete p50", "complete_p99": "complete p99",
    "partial_orders": "partial orders", "stale_reads": "stale reads",
    "dead_lettered": "dead-lettered",
}  # fmt: skip
COLUMNS = ("architecture", "aspect", "measure", "condition", "value", "claim")


def compare_chart(table: pd.DataFrame, axes: list[Axes] | None = None) -> list[Axes]:
    """Draw an ``ev.compare`` table: six panels (coupling, scalability, two of
    resilience, latency, complexity), a bar or line per architecture.

    ``axes`` is six matplotlib Axes to draw on (a new 16 x 9 inch figure when None);
    returns them.
    """
    _check_table(table)
    if axes is None:
        import matplotlib.pyplot as plt

        figure, grid = plt.subplots(2, 3, figsize=(16, 9), layout="constrained")
        figure.suptitle("Event-driven against request-response: the seed's table, measured")
        axes = list(grid.flat)
    elif len(axes) != len(PANELS):
        raise ConfigTypeError(f"axes: expected {len(PANELS)} matplotlib Axes, got {axes!r}")
    for ax, panel in zip(axes, PANELS, strict=True):
        _draw(table, ax, *PANELS[panel])
    return axes


def compare_panel(table: pd.DataFrame, panel: str = "coupling", ax: Axes | None = None) -> Axes:
    """Draw one of :func:`compare_chart`'s panels of an ``ev.compare`` table on ``ax`` (a
    new figure when None) and return it: ``panel`` is one of ``"coupling"``,
    ``"scalability"``, ``"errors"``, ``"recovery"``, ``"latency"``, ``"complexity"``.
    A widget draws one with ``chart=functools.partial(ev.compare_panel, panel="errors")``.
    """
    _check_table(table)
    if not isinstance(panel, str) or panel not in PANELS:
        raise ConfigError(f"panel: expected one of {', '.join(map(repr, PANELS))}, got {panel!r}")
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.subplots(figsize=(6, 4.5), layout="constrained")[1]
    _draw(table, ax, *PANELS[panel])
    return ax


def _check_table(table: pd.DataFrame) -> None:
    missing = [column for column in COLUMNS if column not in getattr(table, "columns", ())]
    if missing:
        raise ConfigError(f"table: expected an ev.compare table, missing columns {missing}")


def _draw(
    table: pd.DataFrame, ax: Axes, aspect: str, names: tuple[str, ...], title: str, label: str,
    scale: str,
) -> None:  # fmt: skip
    """One panel: the ``names`` measures of ``aspect``, as bars or (scalability) lines."""
    rows = table[(table["aspect"] == aspect) & table["measure"].isin(names)]
    if aspect == "scalability":
        _rate_lines(ax, rows)
    else:
        _bars(ax, rows, scale)
    ax.set_title(f"{title}\n{_claims(table, aspect)}", fontsize=9)
    ax.set_ylabel(label)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)


def _claims(table: pd.DataFrame, aspect: str) -> str:
    """The seed's claim for each side, as a subtitle."""
    claims = table[table["aspect"] == aspect].drop_duplicates("architecture")
    said = dict(zip(claims["architecture"], claims["claim"], strict=True))
    return "\n".join(f"{SIDES[side][0]}: {said[side]}" for side in SIDES if side in said)


def _bars(ax: Axes, rows: pd.DataFrame, scale: str) -> None:
    """A group of bars per (measure, condition), one bar per architecture, labelled."""
    groups = list(dict.fromkeys(zip(rows["measure"], rows["condition"], strict=True)))
    width = 0.8 / len(SIDES)
    for index, (side, (name, colour)) in enumerate(SIDES.items()):
        mine = rows[rows["architecture"] == side].set_index(["measure", "condition"])["value"]
        values = np.array([mine.get(group, math.nan) for group in groups], dtype=float)
        places = np.arange(len(groups)) + (index - (len(SIDES) - 1) / 2) * width
        drawn = ax.bar(places, np.nan_to_num(values), width, label=name, color=colour)
        ax.bar_label(drawn, labels=[_shown(v) for v in values], fontsize=7, padding=2)
    ax.set_xticks(np.arange(len(groups)), [_group_label(rows, g) for g in groups], fontsize=8)
    if scale == "log":
        ax.set_yscale("log")
    elif scale == "symlog":
        ax.set_yscale("symlog", linthresh=1)
        ax.set_ylim(0, max(10.0, float(np.nanmax(rows["value"], initial=1))) * 5)
    else:
        ax.margins(y=0.15)


def _group_label(rows: pd.DataFrame, group: tuple[str, str]) -> str:
    """A bar group's label: the measure, and its condition when it was measured in more
    than one (the outage and the spike)."""
    name, condition = group
    label = LABELS.get(name, name)
    if rows.loc[rows["measure"] == name, "condition"].nunique() > 1:
        label = f"{label}\n{condition.removeprefix(FAULTY + ' ')}"
    return label


def _rate_lines(ax: Axes, rows: pd.DataFrame) -> None:
    """The highest rate within the SLO against the slowest downstream's slowdown: a
    solid line for acknowledgement, dashed for completion, per architecture."""
    factors = rows["condition"].str.extract(r"^\S+ ([0-9.eE+-]+)x")[0].astype(float)
    for side, (name, colour) in SIDES.items():
        for measure, style in (("max_rate_ack", "-"), ("max_rate_complete", "--")):
            pick = (rows["architecture"] == side) & (rows["measure"] == measure)
            what = "acknowledged" if measure == "max_rate_ack" else "completed"
            ax.plot(factors[pick], rows.loc[pick, "value"], style, marker="o", color=colour,
                    label=f"{name}, {what}")  # fmt: skip
    tried = rows["condition"].str.extract(r"rates \S+-([0-9.eE+]+)/s")[0].astype(float)
    if tried.notna().any():
        ax.axhline(tried.max(), linestyle=":", color="grey", label="highest rate tried")
    slowest = str(rows["condition"].iloc[0]).split()[0] if len(rows) else "slowest"
    ax.set_xlabel(f"{slowest}'s service time, times its default")
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(set(factors)), [f"{f:g}x" for f in sorted(set(factors))])
    ax.set_ylim(bottom=0)


def _shown(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
