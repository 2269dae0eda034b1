"""An alerting rule evaluated on a sampled gauge, with Prometheus's ``for:`` semantics.

A Prometheus alerting rule such as::

    - alert: ConsumerLagHigh
      expr: sum by (group) (evsim_consumer_lag) > 1000
      for: 1m

is evaluated at every rule evaluation: while ``expr`` holds the alert is *pending*, from the
first evaluation that found it true (its ``activeAt``); it *fires* at the first evaluation
at which it has been pending for at least the ``for`` duration (Prometheus's rule manager:
``ts.Sub(activeAt) >= holdDuration``), and it *resolves* at the first evaluation that finds
``expr`` false. A pending alert whose condition fails before the duration has passed
never fires; with ``for: 0`` an alert fires at the first evaluation that finds it true.
A missing sample (NaN) counts as false, as a missing series makes ``expr`` return nothing.

:func:`alert_firing` applies that rule to a gauge of a run (e.g. a column of
``ev.plot.lag_data(result)``), taking each sample as one evaluation: at the simulation's
``sample_interval``, or coarser if you pass every n-th sample
(``series.iloc[::15]`` for a 15 s evaluation interval on 1 s samples). Not modelled:
``keep_firing_for``, and the alert's labels and annotations.

Source: the Prometheus documentation, "Alerting rules" (the ``for`` clause) and
prometheus/prometheus ``rules/alerting.go`` (``AlertingRule.Eval``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evsim import _check
from evsim.errors import ConfigError, ConfigTypeError

COLUMNS = ["active_at", "fired_at", "resolved_at"]


def alert_firing(series: pd.Series, threshold: float, for_seconds: float = 0.0) -> pd.DataFrame:
    """When the alert ``series > threshold`` with ``for: for_seconds`` fired and resolved.

    ``series`` is a gauge indexed by time in seconds (increasing), each sample one
    evaluation of the rule; ``threshold`` a number (the condition is strictly above it, as
    ``expr > threshold``); ``for_seconds`` (>= 0) how long the condition must hold, from
    the first evaluation that found it true, before the alert fires.

    Returns one row per firing, in order, with columns ``active_at`` (the evaluation at
    which it became pending), ``fired_at`` and ``resolved_at`` (the first evaluation that
    found the condition false; NaN if still firing at the last sample), all in seconds.
    Pending spells that never fire leave no row. No firing: an empty table.
    """
    if not isinstance(series, pd.Series):
        raise ConfigTypeError(f"series: expected a pandas Series indexed by time, got {series!r}")
    threshold = _check.number("threshold", threshold)
    for_seconds = _check.non_negative("for_seconds", for_seconds)
    times = np.asarray(series.index, dtype=float)
    if len(times) > 1 and not (np.diff(times) > 0).all():
        raise ConfigError("series: its index (time, seconds) must be strictly increasing")
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    above = np.nan_to_num(values, nan=-np.inf) > threshold
    rows = []
    active_at = fired_at = None
    for t, true in zip(times, above, strict=True):
        if not true:
            if fired_at is not None:
                rows.append((active_at, fired_at, t))
            active_at = fired_at = None
            continue
        if active_at is None:
            active_at = t
        if fired_at is None and t - active_at >= for_seconds:
            fired_at = t
    if fired_at is not None:
        rows.append((active_at, fired_at, np.nan))
    return pd.DataFrame(rows, columns=COLUMNS, dtype=float)
