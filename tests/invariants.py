"""Checks every run must pass, shared by the regression and property tests.

:func:`assert_consistent` asserts what a learner relies on when reading a run's tables:
every routed event has exactly one outcome, every attempt row belongs to an event the
group was routed, each attempt of an event in a group has its own number, and an event's
``attempts`` in ``deliveries`` counts the rows begun before its outcome was decided
(``started_at`` before ``completed_at``; an attempt begun at that very instant may fall
either side), with ``first_attempt_at`` the first of them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import evsim as ev

KEY = ["event_id", "group"]


def assert_consistent(result: ev.Result) -> None:
    """Raise AssertionError, with the offending rows, if ``result`` breaks an invariant."""
    result.check()
    deliveries, attempts = result.deliveries, result.attempts
    numbered = attempts.duplicated([*KEY, "attempt"], keep=False)
    assert not numbered.any(), f"attempt numbers repeat:\n{attempts[numbered].head(10)}"
    rows = attempts.merge(
        deliveries[[*KEY, "outcome", "completed_at"]], on=KEY, how="left", validate="m:1"
    )
    assert rows["outcome"].notna().all(), "an attempt of an event that was never routed"
    settled = deliveries[deliveries["outcome"] != "pending"]
    pairs = pd.MultiIndex.from_frame(settled[KEY])
    before = _per_pair(rows[rows["started_at"] < rows["completed_at"]], pairs)
    upto = _per_pair(rows[rows["started_at"] <= rows["completed_at"]], pairs)
    counted = settled["attempts"].to_numpy()
    wrong = (counted < before) | (counted > upto)
    assert not wrong.any(), f"attempts disagree with the rows:\n{settled[wrong].head()}"
    first = (
        rows[rows["started_at"] <= rows["completed_at"]]
        .groupby(KEY, observed=True)["started_at"]
        .min()
        .reindex(pairs)
        .to_numpy()
    )
    recorded = settled["first_attempt_at"].to_numpy()
    agree = (np.isnan(recorded) & np.isnan(first)) | (recorded == first) | (before != upto)
    assert agree.all(), f"first_attempt_at disagrees:\n{settled[~agree].head()}"
    pending = deliveries[deliveries["outcome"] == "pending"]
    made = _per_pair(rows, pd.MultiIndex.from_frame(pending[KEY]))
    assert (pending["attempts"].to_numpy() == made).all(), "a pending event's attempts"


def _per_pair(rows: pd.DataFrame, pairs: pd.MultiIndex) -> np.ndarray:
    """How many of ``rows`` each (event, group) pair of ``pairs`` has."""
    return rows.groupby(KEY, observed=True).size().reindex(pairs, fill_value=0).to_numpy()
