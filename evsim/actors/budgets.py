"""Retry budgets: the AWS SDKs' retry quota (:class:`TokenBucket`) and gRPC's retry
throttling (:class:`RetryThrottle`). Each is an immutable spec whose ``state()`` makes the
mutable tokens of one caller edge, a pure state machine the caller consults.

Both states take the same calls, so a caller can use either: ``on_failure()`` after each
failed attempt whose reason is retryable; ``can_retry(reason)`` when the retry policy
would retry it (``True``: go ahead); ``on_success(last_retry)`` when an attempt succeeds,
``last_retry`` being the reason of the call's last retry (``None`` if it was not retried).
Reasons are the failed call statuses: ``"error"``, ``"timeout"``, ``"rejected"``,
``"short_circuited"``. ``tokens`` is the ``retry_tokens`` gauge.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Any

from evsim import _check
from evsim.errors import ConfigError
from evsim.records.codes import CallStatus
from evsim.workload.specs import Specified

FAILURE_REASONS = tuple(
    s.name.lower() for s in CallStatus if s not in (CallStatus.OK, CallStatus.PENDING)
)
_REASONS = frozenset(FAILURE_REASONS)
GRPC_MAX_TOKENS = 1000  # gRFC A6: maxTokens is an integer in (0, 1000]


def _reason(reason: Any) -> str:
    if reason not in _REASONS:
        _check.choice("reason", reason, FAILURE_REASONS)  # raises, naming the reasons
    chosen: str = reason
    return chosen


class TokenBucket(Specified):
    """The AWS SDKs' retry quota of standard retry mode (tokens are whole numbers).

    The bucket starts full at ``capacity`` tokens (500, botocore's
    ``RetryQuota.INITIAL_CAPACITY``; the JS SDK's ``INITIAL_RETRY_TOKENS``) and never holds
    more. A retry takes ``retry_cost`` tokens (5, ``RETRY_COST``), or ``timeout_retry_cost``
    (10, ``TIMEOUT_RETRY_COST``) when the failed attempt timed out; with too few tokens the
    call is not retried and its failure is returned. A call that succeeds returns tokens:
    ``success_refund`` (1, ``NO_RETRY_INCREMENT``) if it needed no retry, else the cost of
    its last retry (botocore keeps the last amount acquired, ``retry_quota_capacity``, and
    releases it on a 2xx response). A failed call returns nothing.

    Sources: the AWS SDKs and Tools Reference Guide, "Retry behavior" (standard mode has a
    retry quota), https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html;
    botocore ``botocore/retries/standard.py`` (``RetryQuotaChecker``) and
    ``botocore/retries/quota.py`` (``RetryQuota``); aws-sdk-js-v3 ``util-retry`` constants.
    These are the costs in force unless ``AWS_NEW_RETRIES_2026=true`` opts in to the SDKs'
    2026 behaviour (botocore: 14 tokens a retry, 5 for a throttling error).
    """

    kind = "token_bucket"

    def __init__(
        self,
        capacity: int = 500,
        retry_cost: int = 5,
        timeout_retry_cost: int = 10,
        success_refund: int = 1,
    ) -> None:
        self.capacity = _check.integer("capacity", capacity, 0)
        self.retry_cost = _check.integer("retry_cost", retry_cost, 0)
        self.timeout_retry_cost = _check.integer("timeout_retry_cost", timeout_retry_cost, 0)
        self.success_refund = _check.integer("success_refund", success_refund, 0)

    def _params(self) -> dict[str, Any]:
        return {
            "capacity": self.capacity,
            "retry_cost": self.retry_cost,
            "timeout_retry_cost": self.timeout_retry_cost,
            "success_refund": self.success_refund,
        }

    def cost(self, reason: str) -> int:
        """Tokens a retry after a failure for ``reason`` costs."""
        return self.timeout_retry_cost if _reason(reason) == "timeout" else self.retry_cost

    def state(self) -> TokenBucketState:
        """A full bucket for one caller edge."""
        return TokenBucketState(self)


class TokenBucketState:
    """One caller edge's retry quota: ``tokens`` left; ``refused`` counts retries refused."""

    __slots__ = ("_tokens", "bucket", "refused")

    def __init__(self, bucket: TokenBucket) -> None:
        self.bucket = bucket
        self._tokens = bucket.capacity
        self.refused = 0

    @property
    def tokens(self) -> int:
        """Tokens in the bucket, 0 to ``capacity``."""
        return self._tokens

    def can_retry(self, reason: str) -> bool:
        """Take the cost of a retry after a failure for ``reason``; ``False`` (nothing
        taken) when the bucket holds fewer tokens than that."""
        cost = self.bucket.cost(reason)
        if cost > self._tokens:
            self.refused += 1
            return False
        self._tokens -= cost
        return True

    def on_success(self, last_retry: str | None = None) -> None:
        """A call succeeded: refund ``success_refund`` if it was not retried
        (``last_retry=None``), else the cost of its last retry, up to ``capacity``."""
        bucket = self.bucket
        refund = bucket.success_refund if last_retry is None else bucket.cost(last_retry)
        self._tokens = min(bucket.capacity, self._tokens + refund)

    def on_failure(self) -> None:
        """A failed attempt returns no tokens (the AWS SDKs release none on a non-2xx)."""


class RetryThrottle(Specified):
    """gRPC's retry throttling (gRFC A6, ``retryThrottling`` in the service config).

    ``max_tokens``: a whole number in (0, 1000] (``maxTokens``); ``token_ratio``: > 0, of
    which gRPC keeps 3 decimal places and ignores the rest (``tokenRatio``: 0.5466 is
    0.546). Neither has a default in gRPC (both MUST be given); the gRFC's example is
    ``maxTokens: 10, tokenRatio: 0.1``, which throttles when failures pass about 10%.

    ``token_count`` starts at ``max_tokens`` and stays between 0 and ``max_tokens``: every
    failed RPC takes 1 token, every successful RPC adds ``token_ratio``. RPCs are not
    retried while ``token_count <= max_tokens / 2``. Only failures with a retryable status
    count (not, say, INVALID_ARGUMENT). Tokens are kept in thousandths, as gRPC's C core
    keeps ``milli_tokens``, so sums are exact.

    Source: https://github.com/grpc/proposal/blob/master/A6-client-retries.md ("Throttling
    Retry Attempts and Hedged RPCs", "Validation of retryThrottling").
    """

    kind = "retry_throttle"

    def __init__(self, max_tokens: int, token_ratio: float) -> None:
        self.max_tokens = _check.integer("max_tokens", max_tokens)
        if not 0 < self.max_tokens <= GRPC_MAX_TOKENS:
            raise ConfigError(
                f"max_tokens: must be in (0, {GRPC_MAX_TOKENS}] (gRPC's maxTokens), "
                f"got {_check.shown(max_tokens)}"
            )
        ratio = _check.positive("token_ratio", token_ratio)
        milli = int(Decimal(repr(ratio)).scaleb(3).to_integral_value(rounding=ROUND_DOWN))
        if milli <= 0:
            raise ConfigError(
                f"token_ratio: must be >= 0.001 (gRPC ignores decimal places beyond 3, "
                f"which leaves 0), got {token_ratio!r}"
            )
        self.token_ratio = float(Decimal(milli).scaleb(-3))
        self._milli_ratio = milli

    def _params(self) -> dict[str, Any]:
        return {"max_tokens": self.max_tokens, "token_ratio": self.token_ratio}

    def state(self) -> RetryThrottleState:
        """Tokens for one caller edge (gRPC keeps them per server name), starting full."""
        return RetryThrottleState(self)


class RetryThrottleState:
    """One caller edge's retry throttle: ``tokens``, from 0 to ``max_tokens``."""

    __slots__ = ("_max", "_milli", "_ratio", "throttle")

    def __init__(self, throttle: RetryThrottle) -> None:
        self.throttle = throttle
        self._max = self._milli = throttle.max_tokens * 1000
        self._ratio = throttle._milli_ratio

    @property
    def tokens(self) -> float:
        """``token_count``: tokens left (in steps of 0.001)."""
        return self._milli / 1000

    def can_retry(self, reason: str) -> bool:
        """Whether a failed RPC may be retried: ``token_count > max_tokens / 2``.

        Takes no tokens: the failure itself costs one (``on_failure``, called first)."""
        _reason(reason)
        return 2 * self._milli > self._max

    def on_success(self, last_retry: str | None = None) -> None:
        """A successful RPC adds ``token_ratio``, up to ``max_tokens`` (``last_retry`` is
        not used: every success adds the same)."""
        self._milli = min(self._max, self._milli + self._ratio)

    def on_failure(self) -> None:
        """A failed RPC (a retryable status) takes 1 token, down to 0."""
        self._milli = max(0, self._milli - 1000)


KINDS: dict[str, type[TokenBucket | RetryThrottle]] = {
    cls.kind: cls for cls in (TokenBucket, RetryThrottle)
}
"""The retry budgets by kind, as scenario files name them."""
