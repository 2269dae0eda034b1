"""Counting what happened per second, in bins of time: the data of charts over time.

A run of ``until`` seconds is cut into bins of ``bin`` seconds from 0; a moment at or
past the last bin's start falls in the last bin (``until`` itself included), and each
bin's count is divided by its length, so a last bin cut short by the run's end is a rate
like the others.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def bin_starts(until: float, bin: float) -> np.ndarray:
    """The bins' start times (seconds): 0, bin, 2·bin, ... before ``until``."""
    return np.arange(0.0, until, bin)


def per_second(times: pd.Series | np.ndarray, until: float, bin: float) -> np.ndarray:
    """How many of ``times`` (seconds, in [0, until]) fall in each bin, per second."""
    starts = bin_starts(until, bin)
    widths = np.minimum(starts + bin, until) - starts
    where = np.minimum((np.asarray(times, dtype=float) // bin).astype(np.int64), len(starts) - 1)
    rates: np.ndarray = np.bincount(where, minlength=len(starts)) / widths
    return rates
