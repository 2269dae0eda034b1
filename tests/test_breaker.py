"""The circuit breaker follows Resilience4j: its defaults, windows, thresholds and states."""

from __future__ import annotations

import pytest

from evsim.actors.breaker import BreakerState, BreakerStatus, CircuitBreaker
from evsim.errors import ConfigError, ConfigTypeError
from evsim.workload.specs import build_from_spec

CLOSED, OPEN, HALF_OPEN = BreakerStatus


def feed(state: BreakerState, outcomes: str, now: float = 0.0, duration: float = 0.01) -> None:
    """Record one call per character: ``F`` failed, ``S`` succeeded (all allowed first)."""
    for outcome in outcomes:
        assert state.allow(now)
        state.record(now, duration, outcome == "F")


def opened_at(now: float, **settings: object) -> BreakerState:
    """A breaker's state that OPENed at ``now`` (small windows, defaults otherwise)."""
    state = CircuitBreaker(sliding_window_size=10, minimum_calls=10, **settings).state()
    feed(state, "F" * 10, now)
    assert state.state == OPEN
    return state


def test_gauge_values_are_closed_0_open_1_half_open_2():
    assert (int(CLOSED), int(OPEN), int(HALF_OPEN)) == (0, 1, 2)


def test_defaults_are_resilience4j_defaults():
    breaker = CircuitBreaker()
    assert breaker.spec() == {
        "circuit_breaker": {
            "sliding_window_type": "count",
            "sliding_window_size": 100,
            "minimum_calls": 100,
            "failure_rate_threshold": 50.0,
            "slow_call_duration_threshold": 60.0,
            "slow_call_rate_threshold": 100.0,
            "wait_in_open": 60.0,
            "permitted_calls_in_half_open": 10,
            "max_wait_in_half_open": 0.0,
        }
    }


def test_99_failures_stay_closed_below_minimum_calls_and_the_100th_opens():
    state = CircuitBreaker().state()
    feed(state, "F" * 99)
    assert state.state == CLOSED
    feed(state, "F")
    assert state.state == OPEN
    assert state.transitions == 1


def test_the_100th_call_opens_at_exactly_50_percent():
    state = CircuitBreaker().state()
    feed(state, "F" * 50 + "S" * 49)
    assert state.state == CLOSED  # 99 calls: below minimum_calls
    feed(state, "S")
    assert state.state == OPEN  # 50 of 100 failed: 50% >= 50%


def test_49_failures_in_100_stay_closed_until_the_window_slides_to_50():
    state = CircuitBreaker().state()
    feed(state, "S" * 51 + "F" * 49)
    assert state.state == CLOSED  # 49%
    feed(state, "F")  # evicts the oldest success: 50 failures in the last 100
    assert state.state == OPEN


def test_count_window_smaller_than_minimum_calls_uses_the_window_size():
    state = CircuitBreaker(sliding_window_size=10, minimum_calls=100).state()
    feed(state, "F" * 5 + "S" * 4)
    assert state.state == CLOSED
    feed(state, "S")  # min(100, 10) = 10 calls recorded, 50% failed
    assert state.state == OPEN


def test_time_window_keeps_minimum_calls_as_given():
    state = CircuitBreaker("time", sliding_window_size=10, minimum_calls=100).state()
    feed(state, "F" * 99, now=1.0)
    assert state.state == CLOSED
    feed(state, "F", now=2.0)
    assert state.state == OPEN


def test_open_short_circuits_until_wait_in_open_has_passed():
    state = opened_at(100.0)
    for now in (100.0, 130.0, 159.999, 160.0):  # Resilience4j: strictly after the wait
        assert not state.allow(now)
        assert state.state == OPEN
    assert state.short_circuited == 4
    assert state.allow(160.001)
    assert state.state == HALF_OPEN  # lazily, on the first call after the wait


def test_open_stays_open_without_calls():
    state = opened_at(0.0)
    assert state.advance(1000.0) == OPEN  # no automatic transition to HALF_OPEN


def test_half_open_lets_exactly_the_permitted_calls_through():
    state = opened_at(0.0)
    allowed = [state.allow(61.0) for _ in range(15)]
    assert allowed == [True] * 10 + [False] * 5


@pytest.mark.parametrize(("failures", "after"), [(5, OPEN), (4, CLOSED), (10, OPEN), (0, CLOSED)])
def test_half_open_trials_reopen_at_half_failed_and_close_below(failures, after):
    state = opened_at(0.0)
    for _ in range(10):
        assert state.allow(61.0)
    outcomes = "F" * failures + "S" * (10 - failures)
    for i, outcome in enumerate(outcomes):
        state.record(62.0, 0.01, outcome == "F")
        if i < 9:
            assert state.state == HALF_OPEN  # evaluated once all 10 are recorded
    assert state.state == after
    assert state.transitions == 3
    if after == OPEN:
        assert not state.allow(62.0 + 60.0)  # a new wait from the re-opening
        assert state.allow(62.0 + 60.001)


def test_closing_after_half_open_starts_a_fresh_window():
    state = opened_at(0.0)
    feed(state, "F" * 4 + "S" * 6, now=61.0)
    assert state.state == CLOSED
    feed(state, "F" * 9, now=62.0)
    assert state.state == CLOSED  # the earlier outcomes were forgotten: 9 < 10 calls
    feed(state, "F", now=62.0)
    assert state.state == OPEN


def test_half_open_evaluates_after_minimum_calls_when_fewer_than_permitted():
    breaker = CircuitBreaker(sliding_window_size=10, minimum_calls=4)
    state = breaker.state()
    feed(state, "FFFF")
    assert state.state == OPEN
    feed(state, "SSSS", now=61.0)  # min(4, 10) trial outcomes suffice
    assert state.state == CLOSED


def test_outcomes_recorded_while_open_are_dropped():
    state = opened_at(0.0)
    for _ in range(20):
        state.record(1.0, 0.01, False)  # calls that started before it opened
    assert state.state == OPEN
    feed(state, "F" * 5 + "S" * 5, now=61.0)
    assert state.state == OPEN  # only the trial calls count


def test_a_call_started_closed_and_ending_half_open_counts_in_the_trial():
    state = opened_at(0.0)
    for _ in range(10):
        assert state.allow(61.0)
    state.record(61.5, 61.0, True)  # a late failure from before the opening
    for _ in range(5):
        state.record(62.0, 0.01, True)
    for _ in range(4):
        state.record(62.0, 0.01, False)
    assert state.state == OPEN  # 6 of 10 failed


def test_slow_calls_open_at_100_percent_slow():
    breaker = CircuitBreaker(
        sliding_window_size=10, minimum_calls=10, slow_call_duration_threshold=2.0
    )
    state = breaker.state()
    feed(state, "S" * 9, duration=3.0)
    feed(state, "S", duration=1.0)
    assert state.state == CLOSED  # 90% slow < 100%
    state = breaker.state()
    feed(state, "S" * 10, duration=2.5)
    assert state.state == OPEN  # every call slow, none failed


def test_a_call_at_exactly_the_slow_threshold_is_not_slow():
    breaker = CircuitBreaker(
        sliding_window_size=10, minimum_calls=10, slow_call_duration_threshold=2.0
    )
    state = breaker.state()
    feed(state, "S" * 10, duration=2.0)  # Resilience4j: slow means duration > threshold
    assert state.state == CLOSED


def test_default_slow_threshold_is_60_seconds():
    state = CircuitBreaker().state()
    feed(state, "S" * 100, duration=60.0)
    assert state.state == CLOSED
    feed(state, "S" * 100, duration=60.5)
    assert state.state == OPEN


def test_slow_rate_threshold_below_100():
    breaker = CircuitBreaker(
        sliding_window_size=10, minimum_calls=10, slow_call_rate_threshold=30.0,
        slow_call_duration_threshold=1.0,
    )  # fmt: skip
    state = breaker.state()
    feed(state, "SSSSSSS", duration=0.5)
    feed(state, "SS", duration=5.0)
    assert state.state == CLOSED
    feed(state, "S", duration=5.0)  # 3 of 10 slow: 30%
    assert state.state == OPEN


def test_time_window_forgets_outcomes_older_than_the_window():
    breaker = CircuitBreaker("time", sliding_window_size=10, minimum_calls=5)
    state = breaker.state()
    feed(state, "FFFF", now=0.5)  # epoch second 0
    feed(state, "F", now=10.2)  # second 10: the window is seconds 1-10, second 0 is gone
    assert state.state == CLOSED
    state = breaker.state()
    feed(state, "FFFF", now=0.5)
    feed(state, "F", now=9.9)  # second 9: seconds 0-9, all 5 failures count
    assert state.state == OPEN


def test_time_window_buckets_by_second_and_sums_across_them():
    state = CircuitBreaker("time", sliding_window_size=3, minimum_calls=6).state()
    feed(state, "SS", now=0.0)
    feed(state, "SF", now=1.0)
    feed(state, "FF", now=2.99)  # 3 of 6 failed over seconds 0-2
    assert state.state == OPEN


def test_time_window_slides_past_successes():
    state = CircuitBreaker("time", sliding_window_size=2, minimum_calls=2).state()
    feed(state, "S" * 50, now=0.0)
    feed(state, "S", now=1.0)
    feed(state, "F", now=2.0)  # seconds 1-2 hold S and F: 50% failed (1 of 52 without sliding)
    assert state.state == OPEN


def test_max_wait_in_half_open_reopens_after_that_wait():
    state = opened_at(0.0, max_wait_in_half_open=5.0)
    assert state.allow(61.0)
    assert state.advance(65.9) == HALF_OPEN
    assert state.advance(66.0) == OPEN  # the timer fired at 61 + 5
    assert not state.allow(126.0)  # open for wait_in_open from 66
    assert state.allow(126.5)
    assert state.state == HALF_OPEN


def test_zero_max_wait_in_half_open_waits_forever():
    state = opened_at(0.0)
    assert state.allow(61.0)
    assert state.advance(1e9) == HALF_OPEN


def test_states_of_one_spec_are_independent():
    breaker = CircuitBreaker(sliding_window_size=2, minimum_calls=2)
    first, second = breaker.state(), breaker.state()
    feed(first, "FF")
    assert (first.state, second.state) == (OPEN, CLOSED)


@pytest.mark.parametrize(
    "breaker",
    [
        CircuitBreaker(),
        CircuitBreaker("time", 30, 20, 25, 2.5, 80, 10, 3, 7.5),
        CircuitBreaker(failure_rate_threshold=100, wait_in_open=0.001),
    ],
)
def test_spec_round_trips(breaker):
    assert type(breaker)(**breaker.spec()[breaker.kind]) == breaker
    assert build_from_spec(breaker.spec(), {"circuit_breaker": CircuitBreaker}, "x") == breaker
    assert hash(CircuitBreaker(**breaker.spec()[breaker.kind])) == hash(breaker)


@pytest.mark.parametrize(
    ("argument", "value", "error", "expected"),
    [
        ("failure_rate_threshold", 0, ConfigError, r"must be in \(0, 100\], got 0"),
        ("failure_rate_threshold", 100.5, ConfigError, r"must be in \(0, 100\], got 100.5"),
        ("failure_rate_threshold", "50", ConfigTypeError, "expected a number, got '50'"),
        ("slow_call_rate_threshold", -1, ConfigError, r"must be in \(0, 100\], got -1"),
        ("sliding_window_type", "sliding", ConfigError, "expected one of 'count', 'time'"),
        ("sliding_window_size", 0, ConfigError, "must be >= 1, got 0"),
        ("sliding_window_size", 10.0, ConfigTypeError, "expected a whole number, got 10.0"),
        ("minimum_calls", 0, ConfigError, "must be >= 1, got 0"),
        ("minimum_calls", True, ConfigTypeError, "expected a whole number, got True"),
        ("slow_call_duration_threshold", 0, ConfigError, "must be > 0, got 0"),
        ("wait_in_open", 0, ConfigError, r"must be >= 0.001 seconds \(Resilience4j's least"),
        ("wait_in_open", float("inf"), ConfigError, "expected a finite number"),
        ("permitted_calls_in_half_open", 0, ConfigError, "must be >= 1, got 0"),
        ("max_wait_in_half_open", -1, ConfigError, "must be >= 0, got -1"),
    ],
)
def test_bad_arguments_name_the_argument(argument, value, error, expected):
    with pytest.raises(error, match=f"^{argument}: {expected}"):
        CircuitBreaker(**{argument: value})
