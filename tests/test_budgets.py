"""Retry budgets: the AWS SDKs' retry quota and gRPC's retry throttling, with their numbers."""

from __future__ import annotations

import pytest

from evsim.actors.budgets import FAILURE_REASONS, RetryThrottle, TokenBucket
from evsim.errors import ConfigError, ConfigTypeError
from evsim.workload.specs import build_from_spec

# --- TokenBucket: the AWS SDKs' retry quota -------------------------------------------------


def test_token_bucket_defaults_are_the_aws_sdks():
    bucket = TokenBucket()
    assert bucket.spec() == {
        "token_bucket": {
            "capacity": 500, "retry_cost": 5, "timeout_retry_cost": 10, "success_refund": 1,
        }
    }  # fmt: skip
    assert bucket.state().tokens == 500


def test_100_error_retries_empty_500_tokens_and_the_101st_is_refused():
    state = TokenBucket().state()
    for retry in range(100):
        assert state.can_retry("error"), retry
    assert state.tokens == 0
    assert not state.can_retry("error")
    assert state.tokens == 0
    assert state.refused == 1


def test_a_timeout_retry_costs_10():
    state = TokenBucket().state()
    assert state.can_retry("timeout")
    assert state.tokens == 490
    for _ in range(49):
        assert state.can_retry("timeout")
    assert state.tokens == 0
    assert not state.can_retry("timeout")


@pytest.mark.parametrize("reason", ["error", "rejected", "short_circuited"])
def test_other_failures_cost_5(reason):
    state = TokenBucket().state()
    assert state.can_retry(reason)
    assert state.tokens == 495


def test_too_few_tokens_for_a_timeout_retry_still_allow_an_error_retry():
    state = TokenBucket(capacity=5).state()
    assert not state.can_retry("timeout")  # 10 > 5: refused, nothing taken
    assert state.tokens == 5
    assert state.can_retry("error")
    assert state.tokens == 0


def test_a_success_without_retries_refunds_1_up_to_the_capacity():
    state = TokenBucket().state()
    state.on_success()
    assert state.tokens == 500  # never above capacity
    state.can_retry("error")
    state.can_retry("error")
    assert state.tokens == 490
    state.on_success()
    assert state.tokens == 491


def test_a_retried_success_refunds_the_cost_of_its_last_retry():
    state = TokenBucket().state()
    state.can_retry("timeout")
    state.can_retry("error")  # a call retried twice: 15 tokens taken
    assert state.tokens == 485
    state.on_success(last_retry="error")  # botocore refunds the last amount acquired
    assert state.tokens == 490
    state.can_retry("timeout")
    state.on_success(last_retry="timeout")
    assert state.tokens == 490


def test_failures_refund_nothing():
    state = TokenBucket().state()
    state.can_retry("error")
    state.on_failure()
    assert state.tokens == 495


def test_zero_costs_never_run_out():
    state = TokenBucket(capacity=0, retry_cost=0, timeout_retry_cost=0).state()
    assert all(state.can_retry("timeout") for _ in range(1000))


@pytest.mark.parametrize(
    ("argument", "value", "error", "expected"),
    [
        ("capacity", -1, ConfigError, "must be >= 0, got -1"),
        ("capacity", 500.0, ConfigTypeError, "expected a whole number, got 500.0"),
        ("retry_cost", -5, ConfigError, "must be >= 0, got -5"),
        ("timeout_retry_cost", "10", ConfigTypeError, "expected a whole number, got '10'"),
        ("success_refund", -1, ConfigError, "must be >= 0, got -1"),
    ],
)
def test_bad_token_bucket_arguments_name_the_argument(argument, value, error, expected):
    with pytest.raises(error, match=f"^{argument}: {expected}"):
        TokenBucket(**{argument: value})


@pytest.mark.parametrize("budget", [TokenBucket(), RetryThrottle(10, 0.1)])
def test_an_unknown_reason_names_the_reasons(budget):
    state = budget.state()
    with pytest.raises(ConfigError, match=r"^reason: expected one of 'error', 'timeout'"):
        state.can_retry("ok")
    with pytest.raises(ConfigError, match=r"^reason: "):
        TokenBucket().state().on_success(last_retry="slow")


def test_reasons_are_the_failed_call_statuses():
    assert FAILURE_REASONS == ("error", "timeout", "rejected", "short_circuited")


# --- RetryThrottle: gRPC's retry throttling (gRFC A6) ---------------------------------------


def test_throttle_starts_full_and_allows_retries():
    state = RetryThrottle(max_tokens=10, token_ratio=0.1).state()
    assert state.tokens == 10
    assert state.can_retry("error")


def test_retries_stop_once_tokens_fall_to_half_of_max_tokens():
    state = RetryThrottle(max_tokens=10, token_ratio=0.1).state()
    for _ in range(4):
        state.on_failure()
    assert state.tokens == 6
    assert state.can_retry("error")  # 6 > 5
    state.on_failure()
    assert state.tokens == 5
    assert not state.can_retry("error")  # 5 <= 5: at the threshold already throttled
    state.on_failure()
    assert state.tokens == 4
    assert not state.can_retry("timeout")  # 4 <= 5
    assert state.tokens == 4  # checking takes nothing


def test_successes_refill_by_token_ratio_until_above_the_threshold():
    state = RetryThrottle(max_tokens=10, token_ratio=0.1).state()
    for _ in range(6):
        state.on_failure()
    for _ in range(10):
        state.on_success()
    assert state.tokens == 5.0  # exact: tokens are kept in thousandths
    assert not state.can_retry("error")
    state.on_success()
    assert state.tokens == 5.1
    assert state.can_retry("error")


def test_throttle_tokens_stay_between_0_and_max_tokens():
    state = RetryThrottle(max_tokens=3, token_ratio=0.5).state()
    state.on_success()
    assert state.tokens == 3
    for _ in range(10):
        state.on_failure()
    assert state.tokens == 0
    state.on_success(last_retry="error")
    assert state.tokens == 0.5


def test_throttle_ignores_decimal_places_beyond_3():
    assert RetryThrottle(10, 0.5466).token_ratio == 0.546
    assert RetryThrottle(10, 0.5466) == RetryThrottle(10, 0.546)


@pytest.mark.parametrize(
    ("argument", "value", "error", "expected"),
    [
        ("max_tokens", 0, ConfigError, r"must be in \(0, 1000\] \(gRPC's maxTokens\), got 0"),
        ("max_tokens", 1001, ConfigError, r"must be in \(0, 1000\]"),
        ("max_tokens", 10.5, ConfigTypeError, "expected a whole number, got 10.5"),
        ("token_ratio", 0, ConfigError, "must be > 0, got 0"),
        ("token_ratio", -0.1, ConfigError, "must be > 0, got -0.1"),
        ("token_ratio", 0.0004, ConfigError, "must be >= 0.001 .* got 0.0004"),
        ("token_ratio", "0.1", ConfigTypeError, "expected a number, got '0.1'"),
    ],
)
def test_bad_throttle_arguments_name_the_argument(argument, value, error, expected):
    arguments = {"max_tokens": 10, "token_ratio": 0.1, argument: value}
    with pytest.raises(error, match=f"^{argument}: {expected}"):
        RetryThrottle(**arguments)


def test_throttle_needs_both_settings_as_grpc_does():
    with pytest.raises(ConfigError, match="missing parameter 'token_ratio'"):
        build_from_spec({"retry_throttle": {"max_tokens": 10}}, KINDS, "budget")


# --- both ------------------------------------------------------------------------------------

KINDS = {"token_bucket": TokenBucket, "retry_throttle": RetryThrottle}


@pytest.mark.parametrize(
    "budget",
    [TokenBucket(), TokenBucket(100, 2, 7, 0), RetryThrottle(10, 0.1), RetryThrottle(1000, 2.5)],
)
def test_spec_round_trips(budget):
    assert type(budget)(**budget.spec()[budget.kind]) == budget
    assert build_from_spec(budget.spec(), KINDS, "budget") == budget
    assert hash(type(budget)(**budget.spec()[budget.kind])) == hash(budget)


@pytest.mark.parametrize("budget", [TokenBucket(), RetryThrottle(10, 0.1)])
def test_states_of_one_spec_are_independent(budget):
    first, second = budget.state(), budget.state()
    first.on_failure()
    first.can_retry("error")
    assert first.tokens < second.tokens
