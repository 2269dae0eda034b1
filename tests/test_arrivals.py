"""Arrival processes: timing statistics, exactness, termination, specs and errors."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from evsim.errors import ConfigError, ConfigTypeError
from evsim.workload.arrivals import (
    Arrivals,
    Periodic,
    Poisson,
    Replay,
    Schedule,
    as_arrivals,
    from_spec,
)


def rng(seed: int = 1) -> np.random.Generator:
    return np.random.default_rng(seed)


def first(arrivals: Arrivals, n: int, start: float = 0.0, seed: int = 1) -> np.ndarray:
    return np.fromiter(itertools.islice(arrivals.times(rng(seed), start), n), dtype=float)


def until(arrivals: Arrivals, end: float, start: float = 0.0, seed: int = 1) -> np.ndarray:
    times = itertools.takewhile(lambda t: t < end, arrivals.times(rng(seed), start))
    return np.fromiter(times, dtype=float)


class CountingGenerator(np.random.Generator):
    """A generator that counts the NumPy calls made on it."""

    calls = 0

    def exponential(self, *args: Any, **kwargs: Any) -> Any:
        CountingGenerator.calls += 1
        return super().exponential(*args, **kwargs)

    def standard_exponential(self, *args: Any, **kwargs: Any) -> Any:
        CountingGenerator.calls += 1
        return super().standard_exponential(*args, **kwargs)


# Poisson


def test_poisson_gaps_have_mean_one_over_rate() -> None:
    rate, n = 50.0, 200_000
    gaps = np.diff(first(Poisson(rate), n + 1))
    assert abs(gaps.mean() - 1 / rate) <= 5 * (1 / rate) / math.sqrt(n)


def test_poisson_gaps_are_exponential() -> None:
    rate = 20.0
    times = first(Poisson(rate), 20_001)
    gaps = np.diff(np.concatenate([[0.0], times]))
    assert scipy.stats.kstest(gaps, "expon", args=(0, 1 / rate)).pvalue > 1e-4


def test_poisson_count_in_an_interval_is_rate_times_length() -> None:
    rate, length = 50.0, 2000.0
    count = len(until(Poisson(rate), length))
    expected = rate * length
    assert abs(count - expected) <= 5 * math.sqrt(expected)


def test_poisson_first_arrival_comes_one_gap_after_start() -> None:
    from_zero = first(Poisson(5), 100)
    from_ten = first(Poisson(5), 100, start=10.0)
    assert from_ten[0] > 10.0
    np.testing.assert_allclose(from_ten - 10.0, from_zero, rtol=1e-9, atol=1e-9)


def test_poisson_draws_random_numbers_in_blocks() -> None:
    CountingGenerator.calls = 0
    times = Poisson(100).times(CountingGenerator(np.random.PCG64(1)))
    for _ in range(5000):
        next(times)
    assert CountingGenerator.calls <= 5


def test_poisson_rate_and_reproducibility() -> None:
    assert Poisson(rate=50).rate == 50.0
    assert first(Poisson(50), 50, seed=3).tolist() == first(Poisson(50), 50, seed=3).tolist()
    assert first(Poisson(50), 50, seed=3).tolist() != first(Poisson(50), 50, seed=4).tolist()


# Periodic


def test_periodic_times_are_exact_multiples_without_drift() -> None:
    times = first(Periodic(interval=0.1), 10_000, start=2.0).tolist()
    assert times == [2.0 + k * 0.1 for k in range(1, 10_001)]
    assert times[-1] == 2.0 + 10_000 * 0.1


def test_periodic_rate_and_no_random_numbers() -> None:
    generator = rng()
    state = generator.bit_generator.state
    times = Periodic(0.25).times(generator)
    assert [next(times) for _ in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert generator.bit_generator.state == state
    assert Periodic(0.25).rate == 4.0


# Schedule

STORM = Schedule([(0, 50), (100, 500), (150, 50), (250, 0)])


def test_schedule_count_in_each_segment_is_rate_times_length() -> None:
    times = np.fromiter(STORM.times(rng()), dtype=float)  # ends: the last rate is 0
    for low, high, rate in [(0, 100, 50), (100, 150, 500), (150, 250, 50)]:
        count = np.count_nonzero((times >= low) & (times < high))
        expected = rate * (high - low)
        assert abs(count - expected) <= 5 * math.sqrt(expected), (low, high)
    assert times[-1] < 250


def test_schedule_ends_when_the_last_rate_is_zero() -> None:
    times = list(Schedule([(0, 10), (5, 0)]).times(rng()))
    assert abs(len(times) - 50) <= 5 * math.sqrt(50)  # 10 a second for 5 s
    assert all(t < 5 for t in times)


def test_schedule_with_only_zero_rates_yields_nothing() -> None:
    assert list(Schedule([(0, 0)]).times(rng())) == []
    assert list(Schedule([(3, 0), (7, 0)]).times(rng())) == []


def test_schedule_has_no_arrivals_before_its_first_step_or_in_zero_rate_steps() -> None:
    schedule = Schedule([(10, 100), (20, 0), (30, 100), (40, 0)])
    times = np.fromiter(schedule.times(rng()), dtype=float)
    assert (times >= 10).all()
    assert not ((times >= 20) & (times < 30)).any()
    assert (times < 40).all()


def test_schedule_started_mid_segment_counts_from_start() -> None:
    times = np.fromiter(STORM.times(rng(), start=120.0), dtype=float)
    assert (times >= 120).all()
    in_storm = np.count_nonzero(times < 150)
    assert abs(in_storm - 500 * 30) <= 5 * math.sqrt(500 * 30)


def test_schedule_with_constant_rate_matches_poisson_statistics() -> None:
    gaps = np.diff(first(Schedule([(0, 40)]), 100_001))
    assert abs(gaps.mean() - 1 / 40) <= 5 * (1 / 40) / math.sqrt(100_000)


def test_schedule_draws_random_numbers_in_blocks() -> None:
    CountingGenerator.calls = 0
    times = Schedule([(0, 100), (10, 200)]).times(CountingGenerator(np.random.PCG64(1)))
    for _ in range(5000):
        next(times)
    assert CountingGenerator.calls <= 6


def test_schedule_rate_rate_at_and_expected_count() -> None:
    assert STORM.rate == 0.0
    assert Schedule([(0, 50), (60, 500)]).rate == 500.0
    assert [STORM.rate_at(t) for t in (-1, 0, 99.9, 100, 150, 249, 250, 1e9)] == [
        0.0,
        50.0,
        50.0,
        500.0,
        50.0,
        50.0,
        0.0,
        0.0,
    ]
    assert STORM.expected_count(0, 300) == 50 * 100 + 500 * 50 + 50 * 100
    assert STORM.expected_count(120, 160) == 500 * 30 + 50 * 10
    assert STORM.steps == ((0.0, 50.0), (100.0, 500.0), (150.0, 50.0), (250.0, 0.0))


steps_strategy = st.lists(
    st.tuples(st.floats(0, 50), st.floats(0, 40)), min_size=1, max_size=6
).map(lambda pairs: sorted({round(t, 3): r for t, r in pairs}.items()))


@settings(max_examples=60, deadline=None)
@given(steps=steps_strategy, start=st.floats(0, 60), seed=st.integers(0, 2**32))
def test_schedule_times_are_ordered_and_only_where_the_rate_is_positive(
    steps: list[tuple[float, float]], start: float, seed: int
) -> None:
    schedule = Schedule([*steps, (100.0, 0.0)])  # ends, so the iterator is finite
    times = list(schedule.times(rng(seed), start))
    assert times == sorted(times)
    assert all(start <= t < 100.0 for t in times)
    assert all(schedule.rate_at(t) > 0 for t in times)


# Replay


def test_replay_gives_the_times_from_start_then_stops() -> None:
    replay = Replay([0.0, 1.0, 1.0, 2.5, 7.0])
    assert list(replay.times(rng())) == [0.0, 1.0, 1.0, 2.5, 7.0]
    assert list(replay.times(rng(), start=1.0)) == [1.0, 1.0, 2.5, 7.0]
    assert list(replay.times(rng(), start=8.0)) == []


def test_replay_rate_is_count_over_span() -> None:
    assert Replay([1.0, 2.0, 4.0, 8.0]).rate == 0.5
    assert Replay([0.0, 0.0]).rate == math.inf


def test_replay_accepts_arrays_and_copies_them() -> None:
    data = np.array([1.0, 2.0, 3.0])
    replay = Replay(data)
    data[0] = 5.0
    assert list(replay.times(rng())) == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("times", [[1.0, 0.5], [0.0, 2.0, 1.0], np.array([3.0, 2.0])])
def test_replay_rejects_unsorted_times(times: Any) -> None:
    with pytest.raises(ConfigError, match="times: must be sorted ascending"):
        Replay(times)


# construction, specs, errors

ALL = [
    Poisson(rate=50),
    Periodic(interval=0.1),
    Schedule([(0, 50), (60, 500), (90, 50)]),
    Replay([0.5, 1.0, 2.0]),
]


@pytest.mark.parametrize("arrivals", ALL, ids=repr)
def test_spec_round_trips_and_is_json_safe(arrivals: Arrivals) -> None:
    spec = arrivals.spec()
    assert list(spec) == [arrivals.kind]
    assert from_spec(json.loads(json.dumps(spec))) == arrivals


@pytest.mark.parametrize("arrivals", ALL, ids=repr)
def test_times_are_non_decreasing_and_after_start(arrivals: Arrivals) -> None:
    times = first(arrivals, 500, start=0.75)
    assert (np.diff(times) >= 0).all()
    assert (times >= 0.75).all()


def test_reprs() -> None:
    assert repr(Poisson(rate=50)) == "Poisson(rate=50.0)"
    assert repr(Periodic(interval=0.1)) == "Periodic(interval=0.1)"
    assert repr(Schedule([(0, 50), (60, 500)])) == "Schedule(steps=[(0.0, 50.0), (60.0, 500.0)])"
    assert repr(Replay([1, 2])) == "Replay(times=[1.0, 2.0])"
    assert repr(Replay(range(10))).endswith("... (10 values)])")


def test_equality_and_hash() -> None:
    assert Poisson(50) == Poisson(rate=50.0)
    assert hash(Schedule([(0, 1)])) == hash(Schedule([[0.0, 1.0]]))
    assert Poisson(50) != Periodic(1 / 50)


def test_as_arrivals() -> None:
    poisson = Poisson(5)
    assert as_arrivals(poisson, "arrivals") is poisson
    assert from_spec(poisson) is poisson
    with pytest.raises(ConfigTypeError) as caught:
        as_arrivals(50, "arrivals")
    assert str(caught.value) == (
        "arrivals: expected an arrival process (e.g. ev.Poisson(rate=50)), got 50"
    )


@pytest.mark.parametrize(
    ("make", "error", "argument", "expected"),
    [
        (lambda: Poisson(0), ConfigError, "rate", "must be > 0, got 0"),
        (lambda: Poisson(-5), ConfigError, "rate", "must be > 0, got -5"),
        (lambda: Poisson("50"), ConfigTypeError, "rate", "expected a number, got '50'"),
        (lambda: Periodic(0), ConfigError, "interval", "must be > 0, got 0"),
        (lambda: Periodic(math.inf), ConfigError, "interval", "expected a finite number"),
        (lambda: Schedule([]), ConfigError, "steps", "expected at least one (time, rate) pair"),
        (lambda: Schedule("0,50"), ConfigTypeError, "steps", "expected a list of (time, rate)"),
        (lambda: Schedule(5), ConfigTypeError, "steps", "expected a list of (time, rate) pairs"),
        (lambda: Schedule([(0, 50), 60]), ConfigTypeError, "steps[1]", "expected a (time, rate)"),
        (lambda: Schedule([(0, 50, 1)]), ConfigError, "steps[0]", "expected a (time, rate) pair"),
        (lambda: Schedule([(-1, 50)]), ConfigError, "steps[0] time", "must be >= 0, got -1"),
        (lambda: Schedule([(0, -50)]), ConfigError, "steps[0] rate", "must be >= 0, got -50"),
        (lambda: Schedule([(0, 50), (0, 60)]), ConfigError, "steps", "times must be strictly"),
        (lambda: Schedule([(10, 50), (5, 60)]), ConfigError, "steps", "times must be strictly"),
        (lambda: Replay([]), ConfigError, "times", "expected at least one value"),
        (lambda: Replay(3.0), ConfigTypeError, "times", "expected a sequence of numbers"),
        (lambda: Replay([1.0, -1.0]), ConfigError, "times[1]", "must be >= 0, got -1.0"),
        (lambda: Replay([1.0, math.nan]), ConfigError, "times[1]", "expected a finite number"),
        (lambda: Poisson(1).times(rng(), start=-1), ConfigError, "start", "must be >= 0"),
        (lambda: Poisson(1).times(rng(), start="0"), ConfigTypeError, "start", "expected a number"),
        (lambda: Poisson(1).times(None), ConfigTypeError, "rng", "expected a numpy.random"),
        (lambda: Schedule([(0, 1)]).rate_at("now"), ConfigTypeError, "t", "expected a number"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(
    make: Callable[[], object],
    error: type[ConfigError],
    argument: str,
    expected: str,
    bad_argument: Callable[..., Any],
) -> None:
    with bad_argument(error, argument, expected):
        make()


@pytest.mark.parametrize(
    ("spec", "error", "fragment"),
    [
        ({"bursty": {"rate": 5}}, ConfigError, "known kinds: poisson, periodic, schedule, replay"),
        ({"poisson": {"mean": 5}}, ConfigError, "arrivals.poisson: unknown parameter 'mean'"),
        ({"poisson": {"rate": 0}}, ConfigError, "arrivals.poisson.rate: must be > 0"),
        ({"schedule": {"steps": []}}, ConfigError, "arrivals.schedule.steps"),
        (50, ConfigTypeError, "arrivals: expected a mapping"),
    ],
)
def test_from_spec_errors(spec: Any, error: type[Exception], fragment: str) -> None:
    with pytest.raises(error) as caught:
        from_spec(spec)
    assert fragment in str(caught.value)
