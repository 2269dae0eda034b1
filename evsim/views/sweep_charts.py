"""Charts of a sweep: a metric against a parameter, mean and confidence interval.

:func:`sweep_data` reduces an :func:`evsim.sweep` table to one row per parameter value
(and variant); :func:`sweep_comparison` draws it. Parameter values that are numbers, or
read as numbers, are placed by value (1, 2, 10, not "1", "10", "2"), on a log axis when
they span more than 100 times (:func:`evsim.views.chart_style.wide_span`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from evsim.analysis.experiment import confidence_interval
from evsim.errors import ConfigError
from evsim.result import row_label
from evsim.views.chart_style import UNITS, add_legend, distinct_colours, new_axes, wide_span

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def sweep_data(
    table: pd.DataFrame, x: str, metric: str, by: str | None = None, level: float = 0.95
) -> pd.DataFrame:
    """Mean of ``metric`` per value of ``x`` (and of ``by``) over the replications, with a
    Student-t confidence interval: columns [by], x, mean, low, high, n, sorted by ``x``'s
    values (as numbers when they all read as numbers).

    ``by=None`` on a table with several consumer groups uses ``by="group"`` (``"name"``
    when it has services and clients too). Other
    parameters that vary must be named in ``by`` (their runs are not replications)."""
    for argument, column in (("x", x), ("metric", metric), ("by", by)):
        if column is not None and column not in table.columns:
            raise ConfigError(f"{argument}: no column {column!r} in the table")
    by = _variant(table, by)
    table = table.assign(**{x: _numeric(table[x])})  # sorted by value, not as text
    keys = [by, x] if by is not None else [x]
    if "replication" in table.columns:
        parameters = list(table.columns[: list(table.columns).index("replication")])
        varying = [p for p in parameters if p not in keys and table[p].nunique() > 1]
        if varying:
            raise ConfigError(
                f"by: parameters {varying} also vary; pass one as by= or filter the table"
            )
    rows = []
    for key, runs in table.groupby(keys, sort=True):
        values = runs[metric].dropna().to_numpy(dtype=float)
        key = key if isinstance(key, tuple) else (key,)
        if len(values) >= 2 and np.ptp(values) > 0:
            ci = confidence_interval(values, level)
            low, high = ci.low, ci.high
        else:  # one run (or identical runs): no spread to estimate
            low = high = float(values.mean()) if len(values) else np.nan
        mean = float(values.mean()) if len(values) else np.nan
        rows.append({**dict(zip(keys, key, strict=True)), "mean": mean, "low": low,
                     "high": high, "n": len(values)})  # fmt: skip
    return pd.DataFrame(rows, columns=[*keys, "mean", "low", "high", "n"])


def _numeric(values: pd.Series) -> pd.Series:
    """``values`` as numbers when every one is or reads as a number (YAML reads ``1e3``
    from the command line as text), so that they sort and space by value; else as given."""
    numbers = pd.to_numeric(values, errors="coerce")
    return numbers if numbers.notna().sum() == values.notna().sum() else values


def _variant(table: pd.DataFrame, by: str | None) -> str | None:
    """``by``, or the row label when not given and the table holds several groups (or
    services and clients)."""
    label = row_label(table)
    if by is None and label is not None and table[label].nunique() > 1:
        return label
    return by


def sweep_comparison(
    table: pd.DataFrame,
    x: str,
    metric: str,
    ax: Axes | None = None,
    by: str | None = None,
    level: float = 0.95,
) -> Axes:
    """``metric`` against the parameter ``x``, one line per value of ``by``, with
    ``level`` confidence-interval error bars over the replications (see ``sweep_data``)."""
    ax = new_axes(ax)
    data = sweep_data(table, x, metric, by, level)
    by = _variant(table, by)
    variants = list(data.groupby(by, sort=False)) if by is not None else [(None, data)]
    distinct_colours(ax, len(variants))
    for name, part in variants:
        errors = np.vstack([part["mean"] - part["low"], part["high"] - part["mean"]])
        value = name[0] if isinstance(name, tuple) else name
        label = None if by is None else f"{by} = {value!s}"

        ax.errorbar(part[x], part["mean"], yerr=errors, marker="o", capsize=3, label=label)
    log = wide_span(data[x])
    if log:
        ax.set_xscale("log")
    unit = UNITS.get(metric)
    ax.set_xlabel(f"{x} (log scale)" if log else x)
    ax.set_ylabel(f"{metric} ({unit})" if unit else metric)
    ax.set_title(f"{metric} against {x} (mean, {level:.0%} confidence interval)")
    if by is not None:
        add_legend(ax, len(variants))
    return ax
