"""The backoff comparison's chart (evsim.views.backoff_charts.backoff_chart): work and
completion time against the clients, one line per jitter with its confidence band."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import evsim as ev


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return ev.backoff_comparison(clients=(2, 8, 16), seeds=range(3))


def test_two_panels_a_line_and_a_band_per_jitter(table, tmp_path):
    work, time = ev.backoff_chart(table)
    summary = ev.backoff_summary(table)
    for ax, metric in ((work, "calls"), (time, "completion_time")):
        labels = [line.get_label() for line in ax.get_lines()]
        assert labels == ["no jitter", "full jitter", "equal jitter", "decorrelated jitter"]
        assert len(ax.collections) == 4  # the confidence bands
        full = summary[(summary["metric"] == metric) & (summary["jitter"] == "full")]
        line = ax.get_lines()[1]
        np.testing.assert_allclose(line.get_xdata(), [2, 8, 16])
        np.testing.assert_allclose(line.get_ydata(), full["mean"])
        assert ax.get_xlabel().startswith("clients")
    assert time.get_ylabel().startswith("completion time (s)")
    path = tmp_path / "backoff.png"
    work.figure.savefig(path)
    assert path.stat().st_size > 10_000


def test_a_wide_span_gets_a_log_axis_and_given_axes_are_used(table):
    _, pair = plt.subplots(1, 2)
    work, time = ev.backoff_chart(table[table["jitter"] != "none"], axes=(pair[0], pair[1]))
    assert work is pair[0] and time is pair[1]
    assert len(work.get_lines()) == 3
    wide = ev.backoff_comparison(clients=(1, 60), jitters=("none",), seeds=range(2))
    _, time = ev.backoff_chart(wide)  # 0.04 s alone, some 40 s for 60 clients in step
    assert time.get_yscale() == "log" and "log scale" in time.get_ylabel()


def test_axes_must_be_a_pair(table, bad_argument):
    _, ax = plt.subplots()
    with bad_argument(ev.ConfigTypeError, "axes", "expected two matplotlib Axes"):
        ev.backoff_chart(table, axes=(ax,))
