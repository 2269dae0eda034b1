"""The sizes evsim refuses up front (evsim.limits): errors name the argument, the limit and
how to raise it; raising the constant lets a user past."""

from __future__ import annotations

import bounded
import pytest

import evsim as ev
from evsim import _check, limits
from evsim.errors import ConfigError


def test_a_topic_of_10_to_the_20_partitions_is_refused_at_once():
    """Before, building it allocated two arrays per partition without end."""
    out = bounded.raised(
        """
        import evsim as ev
        ev.Simulation().topic("t", partitions=100000000000000000000)
        """
    )
    assert out == (
        "ConfigError: partitions: must be <= 200,000 (Kafka's recommended maximum per "
        "cluster; to allow more, raise evsim.limits.MAX_PARTITIONS), got "
        "100000000000000000000"
    )


def test_partitions_are_bounded_over_all_topics_retry_topics_included():
    sim = ev.Simulation()
    sim.topic("big", partitions=150_000)
    with pytest.raises(ConfigError, match="60,000 more would make 210,000 partitions"):
        sim.topic("more", partitions=60_000)
    sim.topic("source", partitions=10_000)
    retry = ev.Retry(max_attempts=10, blocking=False)  # 9 retry topics of 10,000
    with pytest.raises(ConfigError, match="partitions: 10,000 more would make"):
        sim.consumer_group("g", "source", retry=retry)


def test_raising_a_limit_lets_a_user_past(monkeypatch):
    monkeypatch.setattr(limits, "MAX_PARTITIONS", 300_000)
    assert ev.Simulation().topic("t", partitions=250_000).partitions == 250_000


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ("consumers=10**9", "consumers: must be <= 100,000 (each worker"),
        ("consumers=1000, concurrency=1000", "make 1,000,000 workers, over 100,000"),
        ("concurrency=10**9", "concurrency: 1 consumers × concurrency 1,000,000,000"),
    ],
)
def test_a_group_of_too_many_workers_is_refused_before_it_is_built(arguments, fragment):
    """Before, building it made a process per worker: a billion of them."""
    out = bounded.raised(
        f"""
        import evsim as ev
        sim = ev.Simulation()
        sim.topic("t")
        try:
            sim.consumer_group("g", "t", {arguments})
        finally:
            assert "g" not in sim.groups
        """
    )
    assert out.startswith("ConfigError: ") and fragment in out


def test_integers_past_float64_are_config_errors_not_overflow_errors():
    with pytest.raises(ConfigError, match="rate: expected a finite number, got an integer"):
        ev.Poisson(rate=10**400)
    with pytest.raises(ConfigError, match="about 5,000 digits"):
        _check.integer("consumers", -(10**5000), minimum=1)
    assert _check.shown(10**20) == "100000000000000000000"


def test_amounts_read_easily():
    assert limits.amount(200_000) == "200,000"
    assert limits.amount(2**53) == "9.0e+15"
    assert limits.amount(365 * 86400.0) == "31,536,000"
    assert limits.amount(0.5) == "0.5"
