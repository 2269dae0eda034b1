"""Admission control: a service refusing work before it takes it on.

Rules modelled (the AWS Builders' Library, "Using load shedding to avoid overload"): a
service under more load than it can serve does better refusing the excess cheaply, at
once, than accepting it and serving everyone late. :class:`Throttle` is a token bucket
rate limit (API Gateway's and Envoy's local rate limit): ``rate`` requests a second on
average, bursts of up to ``burst``; a request finding no token is refused (HTTP 429,
status ``rejected``). ``max_in_flight`` on a service caps the requests it holds, served
or waiting; ``shed_after`` drops a queued request that has waited longer than that when
a worker would take it (its caller has likely given up: serving it is wasted work).
"""

from __future__ import annotations

from typing import Any

from evsim import _check
from evsim.errors import ConfigError
from evsim.workload.specs import Specified


class Throttle(Specified):
    """At most ``rate`` requests a second (> 0), in bursts of up to ``burst`` (default:
    one second's worth, at least 1); the bucket starts full."""

    kind = "throttle"

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = _check.positive("rate", rate)
        self.burst = max(1.0, self.rate) if burst is None else _check.positive("burst", burst)
        if self.burst < 1:
            raise ConfigError(f"burst: must be >= 1 (one request), got {burst!r}")

    def _params(self) -> dict[str, Any]:
        return {"rate": self.rate, "burst": self.burst}

    def state(self) -> ThrottleState:
        """A full bucket for one service."""
        return ThrottleState(self)


class ThrottleState:
    """The tokens of one service's throttle."""

    __slots__ = ("_burst", "_last", "_rate", "tokens")

    def __init__(self, throttle: Throttle) -> None:
        self._rate, self._burst = throttle.rate, throttle.burst
        self.tokens = throttle.burst
        self._last = 0.0

    def admit(self, now: float) -> bool:
        """Take a token at ``now`` (seconds) if there is one."""
        self.tokens = min(self._burst, self.tokens + (now - self._last) * self._rate)
        self._last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False
