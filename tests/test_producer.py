"""Producers: arrival times, keys, payloads, start/stop, and bad targets."""

from __future__ import annotations

import numpy as np
import pytest

import evsim as ev


def test_periodic_producer_publishes_at_exact_times_between_start_and_stop():
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    sim.producer("p", "t", ev.Periodic(interval=0.5), start=2.0, stop=5.0)
    events = sim.run(until=10).events
    np.testing.assert_allclose(events["published_at"], [2.5, 3.0, 3.5, 4.0, 4.5])


def test_events_carry_type_producer_target_schema_and_payload():
    sim = ev.Simulation(seed=1)
    sim.topic("orders")
    sim.producer(
        "shop", "orders", ev.Periodic(1.0), event_type="OrderCreated",
        payload=lambda i: {"order": i}, schema_version=2,
    )  # fmt: skip
    events = sim.run(until=3.5).events
    assert events["event_type"].tolist() == ["OrderCreated"] * 3
    assert events["producer"].tolist() == ["shop"] * 3
    assert events["target"].tolist() == ["orders"] * 3
    assert events["schema_version"].tolist() == [2, 2, 2]
    assert events["payload"].tolist() == [{"order": 0}, {"order": 1}, {"order": 2}]
    assert events["event_id"].is_unique


def test_poisson_rate_is_respected():
    sim = ev.Simulation(seed=5)
    sim.topic("t")
    sim.producer("p", "t", ev.Poisson(rate=40))
    count = len(sim.run(until=500).events)
    expected = 40 * 500
    assert abs(count - expected) < 5 * np.sqrt(expected)


def test_zipf_keys_make_hot_keys():
    sim = ev.Simulation(seed=2)
    sim.topic("t", partitions=4)
    sim.producer("p", "t", ev.Poisson(rate=100), keys=ev.ZipfKeys(1000, s=1.2))
    keys = sim.run(until=60).events["key"].value_counts()
    assert keys.index[0] == "key-0"
    assert keys.iloc[0] > 10 * keys.median()


def test_unknown_target_names_the_argument_and_the_known_names():
    sim = ev.Simulation(seed=1)
    sim.topic("orders")
    with pytest.raises(ev.UnknownNameError, match=r"target: no topic.*'nowhere'.*'orders'"):
        sim.producer("p", "nowhere", ev.Poisson(rate=1))


@pytest.mark.parametrize(
    ("kwargs", "error", "argument", "expected"),
    [
        ({"arrivals": 5}, ev.ConfigTypeError, "arrivals", "expected an arrival process"),
        (
            {"arrivals": ev.Poisson(rate=1), "keys": 10},
            ev.ConfigTypeError, "keys", "expected a key chooser",
        ),
        (
            {"arrivals": ev.Poisson(rate=1), "event_type": ""},
            ev.ConfigTypeError, "event_type", "expected a non-empty string, got ''",
        ),
        ({"arrivals": ev.Poisson(rate=1), "stop": -1}, ev.ConfigError, "stop", "must be > 0"),
    ],
)  # fmt: skip
def test_bad_producer_arguments_name_the_argument(kwargs, error, argument, expected, bad_argument):
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    with bad_argument(error, argument, expected):
        sim.producer("p", "t", **kwargs)


@pytest.mark.parametrize("bad", [lambda: ev.Poisson(rate=0), lambda: ev.Poisson(rate=-3)])
def test_non_positive_rates_are_refused(bad):
    with pytest.raises(ev.ConfigError, match="rate"):
        bad()


def test_names_are_unique_across_components():
    sim = ev.Simulation(seed=1)
    sim.topic("orders")
    with pytest.raises(ev.ConfigError, match="topic named 'orders' already exists"):
        sim.producer("orders", "orders", ev.Poisson(rate=1))


def test_attributes_always_carry_the_event_type_and_any_extra_ones():
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    sim.producer(
        "p", "t", ev.Periodic(1.0), "OrderCreated", attributes=lambda i: {"amount": 10 * i}
    )
    events = sim.run(until=2.5).events
    assert events["attributes"].tolist() == [
        {"eventType": "OrderCreated", "amount": 0},
        {"eventType": "OrderCreated", "amount": 10},
    ]


def test_attributes_must_be_a_dict_or_a_function():
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    with pytest.raises(ev.ConfigTypeError, match="attributes"):
        sim.producer("p", "t", ev.Periodic(1.0), attributes=["amount"])


class _Backwards(ev.Arrivals):
    """A user's arrival process with a bug: its second time is before its first."""

    kind = "backwards"

    @property
    def rate(self) -> float:
        return 1.0

    def _params(self) -> dict:
        return {}

    def _times(self, rng, start):
        return iter([2.0, 1.0])


def test_arrival_times_that_go_backwards_are_refused_with_the_argument_named():
    sim = ev.Simulation(seed=1)
    sim.queue("q")
    sim.producer("p", "q", _Backwards())
    with pytest.raises(ev.ConfigError, match=r"arrivals: .* at 1.0 s after one at 2.0 s"):
        sim.run(until=10)


@pytest.mark.parametrize(("start", "stop"), [(5, 2), (3, 3)])
def test_a_stop_not_after_start_is_refused_naming_both(start, stop):
    """Before, such a producer silently published nothing."""
    sim = ev.Simulation()
    sim.topic("t")
    with pytest.raises(ev.ConfigError, match=rf"stop: must be after start \({start} s\), got"):
        sim.producer("p", "t", ev.Poisson(rate=10), start=start, stop=stop)
