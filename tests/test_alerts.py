"""ev.alert_firing: an alerting rule on a gauge with Prometheus's ``for:`` semantics."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import evsim as ev


def gauge(values, interval=1.0):
    return pd.Series(values, index=[i * interval for i in range(len(values))], dtype=float)


def spells(table):
    return [tuple(None if math.isnan(v) else v for v in row) for row in table.to_numpy()]


def test_fires_once_the_condition_has_held_for_the_duration_and_resolves_when_it_fails():
    lag = gauge([0, 5, 5, 5, 5, 0, 0])  # above 1 from t=1 to t=4
    assert spells(ev.alert_firing(lag, 1, for_seconds=2)) == [(1.0, 3.0, 5.0)]
    assert spells(ev.alert_firing(lag, 1, for_seconds=3)) == [(1.0, 4.0, 5.0)]


def test_a_pending_alert_that_breaks_off_before_the_duration_never_fires():
    lag = gauge([5, 5, 0, 5, 5, 5, 0])
    assert spells(ev.alert_firing(lag, 1, for_seconds=2)) == [(3.0, 5.0, 6.0)]
    assert ev.alert_firing(lag, 1, for_seconds=3).empty
    assert list(ev.alert_firing(lag, 1, for_seconds=3).columns) == [
        "active_at",
        "fired_at",
        "resolved_at",
    ]


def test_for_zero_fires_at_the_first_true_evaluation_and_each_spell_is_a_row():
    lag = gauge([0, 2, 0, 2, 2], interval=15)
    assert spells(ev.alert_firing(lag, 1)) == [(15.0, 15.0, 30.0), (45.0, 45.0, None)]


def test_strictly_above_the_threshold_and_a_missing_sample_counts_as_false():
    assert ev.alert_firing(gauge([1, 1, 1]), 1).empty
    assert spells(ev.alert_firing(gauge([2, math.nan, 2]), 1)) == [
        (0.0, 0.0, 1.0),
        (2.0, 2.0, None),
    ]


def test_on_a_run_the_lag_alert_fires_after_the_duration_of_a_storm():
    sim = ev.Simulation(seed=1)
    sim.topic("orders", partitions=2)
    sim.producer("shop", "orders", ev.Schedule([(0, 5), (20, 60), (40, 5)]), "Order")
    sim.consumer_group("billing", "orders", consumers=2, service_time=0.1)
    lag = ev.plot.lag_data(sim.run(until=120), "billing")["billing"]
    fired = ev.alert_firing(lag, 100, for_seconds=10)
    assert len(fired) == 1
    first_above = lag[lag > 100].index[0]
    assert fired.loc[0, "active_at"] == first_above
    assert fired.loc[0, "fired_at"] == first_above + 10
    assert (lag.loc[first_above : fired.loc[0, "resolved_at"] - 1] > 100).all()
    assert lag.loc[fired.loc[0, "resolved_at"]] <= 100


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (([1, 2], 1, 0), ev.ConfigTypeError),
        ((gauge([1]), "high", 0), ev.ConfigTypeError),
        ((gauge([1]), 1, -1), ev.ConfigError),
        ((pd.Series([1.0, 2.0], index=[1.0, 0.0]), 1, 0), ev.ConfigError),
    ],
)
def test_bad_arguments_are_named(args, error):
    with pytest.raises(error):
        ev.alert_firing(*args)
