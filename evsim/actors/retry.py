"""Retry policies and backoff, as resilience libraries and Spring for Apache Kafka apply them.

Backoff follows the AWS Architecture Blog's "Exponential Backoff and Jitter": the n-th
retry (n = 0 for the first) waits

* ``none``: ``min(cap, base * 2**n)`` (so the first retry waits ``base``),
* ``full``: ``uniform(0, min(cap, base * 2**n))``,
* ``equal``: half of ``min(cap, base * 2**n)`` plus ``uniform(0, that half)``,
* ``decorrelated``: ``min(cap, uniform(base, 3 * previous))``, the previous delay
  starting at ``base``.

Times are in seconds; ``base`` and ``cap`` are at most :data:`evsim.limits.MAX_DELAY` (a
year), so every delay and every retry topic's name is a finite, exact number.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from evsim import _check, limits
from evsim.errors import ConfigError, ConfigTypeError
from evsim.workload.specs import Specified, build_from_spec

JITTERS = ("none", "full", "equal", "decorrelated")
SPRING_MAX_INTERVAL = 30.0  # seconds: ExponentialBackOff's default maxInterval


class Backoff(Specified):
    """Exponential backoff with an optional jitter (seconds)."""

    kind = "backoff"

    def __init__(self, base: float, cap: float = SPRING_MAX_INTERVAL, jitter: str = "none"):
        self.base = _check.non_negative("base", base)
        self.cap = _check.non_negative("cap", cap)
        for argument, value in (("base", base), ("cap", cap)):
            _at_most_a_year(argument, value)
        self.jitter = _check.choice("jitter", jitter, JITTERS)
        if self.cap < self.base:
            raise ConfigError(f"cap: must be >= base ({self.base}), got {cap!r}")

    def _params(self) -> dict[str, Any]:
        return {"base": self.base, "cap": self.cap, "jitter": self.jitter}

    def nominal(self, retry: int) -> float:
        """``min(cap, base * 2**retry)``: the delay before retry ``retry`` without jitter."""
        return min(self.cap, self.base * 2.0 ** min(retry, 1000))

    def delay(self, retry: int, previous: float, u: float) -> float:
        """The delay before retry ``retry`` (0-based) given a uniform draw ``u`` in [0, 1).

        ``previous`` is the delay before the previous retry (``base`` for the first); only
        the decorrelated jitter uses it.
        """
        if self.jitter == "decorrelated":
            upper = 3.0 * (previous if retry > 0 else self.base)
            return min(self.cap, self.base + u * (upper - self.base))
        ceiling = self.nominal(retry)
        if self.jitter == "full":
            return u * ceiling
        if self.jitter == "equal":
            return ceiling / 2 + u * ceiling / 2
        return ceiling

    def bounds(self, retry: int) -> tuple[float, float]:
        """The smallest and largest possible delay before retry ``retry``."""
        if self.jitter == "decorrelated":
            # 3.0 ** 647 overflows; past 600 the cap has long been reached
            return min(self.cap, self.base), min(self.cap, self.base * 3.0 ** min(retry + 1, 600))
        ceiling = self.nominal(retry)
        lowest = {"none": ceiling, "full": 0.0, "equal": ceiling / 2}[self.jitter]
        return lowest, ceiling


class Retry(Specified):
    """Try an event up to ``max_attempts`` times in all, waiting ``backoff`` between tries.

    ``retry_on`` lists the error types that are retried (names such as
    ``"TransientError"``, or exception classes); other errors are not retried (Spring's
    classification of non-retryable exceptions). ``None`` retries every error.

    ``blocking=True`` (Spring's ``DefaultErrorHandler``) retries in place: the partition
    waits, so later events queue behind the failing one. ``blocking=False`` (Spring's
    ``@RetryableTopic``) sends the event to ``<topic>-retry-<delay ms>`` topics, one per
    retry, then to ``<topic>-dlt``; the partition moves on and ordering is lost. Those
    topics are at most :data:`evsim.limits.MAX_RETRY_TOPICS` per source topic.
    """

    kind = "retry"

    def __init__(
        self,
        max_attempts: int = 3,
        backoff: Backoff | float = 0.0,
        retry_on: Iterable[str | type[BaseException]] | None = None,
        blocking: bool = True,
    ) -> None:
        self.max_attempts = _check.integer("max_attempts", max_attempts, minimum=1)
        self.backoff = _as_backoff(backoff)
        self.retry_on = None if retry_on is None else _error_names(retry_on)
        self.blocking = _check.flag("blocking", blocking)
        if not self.blocking and self.max_attempts - 1 > limits.MAX_RETRY_TOPICS:
            raise ConfigError(
                f"max_attempts: non-blocking retries make one retry topic per retry, at most "
                f"{limits.MAX_RETRY_TOPICS} (evsim.limits.MAX_RETRY_TOPICS), so max_attempts "
                f"must be <= {limits.MAX_RETRY_TOPICS + 1} with blocking=False, got "
                f"{self.max_attempts}; blocking retries take any number of attempts"
            )

    def _params(self) -> dict[str, Any]:
        return {
            "max_attempts": self.max_attempts,
            "backoff": self.backoff.spec(),
            "retry_on": None if self.retry_on is None else list(self.retry_on),
            "blocking": self.blocking,
        }

    def retries(self, attempt: int, error_types: tuple[str, ...] | str) -> bool:
        """Whether a failed attempt number ``attempt`` (from 1) is followed by another.

        ``error_types`` names the error's class and its base classes (or is one name):
        an error is retried when any of them is in ``retry_on``.
        """
        if attempt >= self.max_attempts:
            return False
        if self.retry_on is None:
            return True
        names = (error_types,) if isinstance(error_types, str) else error_types
        return any(name in self.retry_on for name in names)


def _as_backoff(value: Any) -> Backoff:
    if isinstance(value, Backoff):
        return value
    if isinstance(value, dict):
        return build_from_spec(value, {"backoff": Backoff}, "backoff")
    delay = _check.non_negative("backoff", value)  # a number: a fixed delay (FixedBackOff)
    _at_most_a_year("backoff", delay)
    return Backoff(base=delay, cap=delay, jitter="none")


def _at_most_a_year(argument: str, seconds: float) -> None:
    limits.at_most(argument, seconds, "MAX_DELAY", "seconds: a year, past any retention")


def _error_names(values: Iterable[str | type[BaseException]]) -> tuple[str, ...]:
    if isinstance(values, str | type):
        values = [values]
    names = []
    for value in values:
        if isinstance(value, type) and issubclass(value, BaseException):
            names.append(value.__name__)
        elif isinstance(value, str) and value:
            names.append(value)
        else:
            raise ConfigTypeError(
                f"retry_on: expected error type names or exception classes, got {value!r}"
            )
    return tuple(names)


NO_RETRY = Retry(max_attempts=1)
