"""A circuit breaker with Resilience4j's rules: a spec (:class:`CircuitBreaker`) and the
mutable state of one caller edge (:class:`BreakerState`), a pure state machine the caller
consults before each attempt (``allow``) and tells after it (``record``).

Rules (Resilience4j 2.x, ``CircuitBreakerConfig``, ``CircuitBreakerStateMachine``,
``CircuitBreakerMetrics``; https://resilience4j.readme.io/docs/circuitbreaker):

* CLOSED records each outcome in a sliding window: the last ``sliding_window_size`` calls
  (``"count"``), or the calls of the last ``sliding_window_size`` seconds (``"time"``) in
  one-second buckets by epoch second (here: ``floor(now)`` of the simulated clock), the
  current second and the ``size - 1`` before it.
* After each recorded outcome the rates are checked, once the window holds at least
  ``minimum_calls`` outcomes (for ``"count"``: ``min(minimum_calls, sliding_window_size)``).
  The breaker OPENs when the failure rate >= ``failure_rate_threshold`` or the slow-call
  rate >= ``slow_call_rate_threshold`` (percentages). A call is slow when its duration is
  *greater than* ``slow_call_duration_threshold`` (Resilience4j: "above which calls are
  considered as slow"; ``duration > threshold`` in ``CircuitBreakerMetrics``); a call
  exactly at the threshold is not slow.
* OPEN short-circuits every call until ``wait_in_open`` seconds have passed; the first call
  strictly after that (Resilience4j's ``isAfter``) moves it to HALF_OPEN, lazily, as
  Resilience4j does by default (``automaticTransitionFromOpenToHalfOpenEnabled=false``):
  the state stays OPEN until a call arrives. Outcomes recorded while OPEN are dropped (they
  go to metrics Resilience4j discards on the next transition).
* HALF_OPEN permits ``permitted_calls_in_half_open`` calls, short-circuiting the rest, and
  records outcomes in a count window of that size. Once ``min(minimum_calls,
  permitted_calls_in_half_open)`` are recorded (with the defaults: all 10) it OPENs again if
  either rate reaches its threshold, else CLOSEs with a fresh window. Outcomes go to the
  current state's window, so a call started while CLOSED and ending in HALF_OPEN counts
  there, as in Resilience4j. ``max_wait_in_half_open`` > 0 moves it to OPEN that many
  seconds after it went HALF_OPEN (Resilience4j's timer, applied here at the next
  ``allow``, ``record`` or ``advance``, dated when the timer would have fired); 0 waits for
  the permitted calls forever.

Error, timeout and rejected (HTTP 503) outcomes are failures; short-circuited calls are
never recorded. Rates are computed in double precision (Resilience4j uses float).
"""

from __future__ import annotations

import math
from enum import IntEnum
from typing import Any

from evsim import _check
from evsim.actors.breaker_window import CountWindow, TimeWindow
from evsim.errors import ConfigError
from evsim.workload.specs import Specified

WINDOW_TYPES = ("count", "time")
LEAST_WAIT_IN_OPEN = 0.001  # seconds: Resilience4j refuses a waitDurationInOpenState < 1 ms


class BreakerStatus(IntEnum):
    """A breaker's state; the numbers are the ``breaker_state`` gauge's values."""

    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


CLOSED, OPEN, HALF_OPEN = BreakerStatus


class CircuitBreaker(Specified):
    """Resilience4j's CircuitBreaker settings, with its defaults (times in seconds).

    ``sliding_window_type``: ``"count"`` (slidingWindowType COUNT_BASED, the default) or
    ``"time"`` (TIME_BASED). ``sliding_window_size``: calls, or seconds for ``"time"``
    (slidingWindowSize, default 100). ``minimum_calls``: outcomes needed before the rates
    are evaluated (minimumNumberOfCalls, default 100). ``failure_rate_threshold`` and
    ``slow_call_rate_threshold``: percentages in (0, 100] (failureRateThreshold, default 50;
    slowCallRateThreshold, default 100). ``slow_call_duration_threshold``: seconds above
    which a call is slow (slowCallDurationThreshold, default 60 s). ``wait_in_open``: seconds
    OPEN before a call may go HALF_OPEN (waitDurationInOpenState, default 60 s, at least
    1 ms). ``permitted_calls_in_half_open``: trial calls (permittedNumberOfCallsInHalfOpenState,
    default 10). ``max_wait_in_half_open``: seconds HALF_OPEN before it OPENs again
    (maxWaitDurationInHalfOpenState, default 0: wait for the trial calls forever).

    The object is an immutable spec; :meth:`state` makes the state of one caller edge.
    """

    kind = "circuit_breaker"

    def __init__(
        self,
        sliding_window_type: str = "count",
        sliding_window_size: int = 100,
        minimum_calls: int = 100,
        failure_rate_threshold: float = 50.0,
        slow_call_duration_threshold: float = 60.0,
        slow_call_rate_threshold: float = 100.0,
        wait_in_open: float = 60.0,
        permitted_calls_in_half_open: int = 10,
        max_wait_in_half_open: float = 0.0,
    ) -> None:
        self.sliding_window_type = _check.choice(
            "sliding_window_type", sliding_window_type, WINDOW_TYPES
        )
        self.sliding_window_size = _check.integer("sliding_window_size", sliding_window_size, 1)
        self.minimum_calls = _check.integer("minimum_calls", minimum_calls, 1)
        self.failure_rate_threshold = _percentage("failure_rate_threshold", failure_rate_threshold)
        self.slow_call_duration_threshold = _check.positive(
            "slow_call_duration_threshold", slow_call_duration_threshold
        )
        self.slow_call_rate_threshold = _percentage(
            "slow_call_rate_threshold", slow_call_rate_threshold
        )
        self.wait_in_open = _check.number("wait_in_open", wait_in_open)
        if self.wait_in_open < LEAST_WAIT_IN_OPEN:
            raise ConfigError(
                f"wait_in_open: must be >= {LEAST_WAIT_IN_OPEN} seconds (Resilience4j's least "
                f"waitDurationInOpenState, 1 ms), got {wait_in_open!r}"
            )
        self.permitted_calls_in_half_open = _check.integer(
            "permitted_calls_in_half_open", permitted_calls_in_half_open, 1
        )
        self.max_wait_in_half_open = _check.non_negative(
            "max_wait_in_half_open", max_wait_in_half_open
        )

    def _params(self) -> dict[str, Any]:
        return {
            "sliding_window_type": self.sliding_window_type,
            "sliding_window_size": self.sliding_window_size,
            "minimum_calls": self.minimum_calls,
            "failure_rate_threshold": self.failure_rate_threshold,
            "slow_call_duration_threshold": self.slow_call_duration_threshold,
            "slow_call_rate_threshold": self.slow_call_rate_threshold,
            "wait_in_open": self.wait_in_open,
            "permitted_calls_in_half_open": self.permitted_calls_in_half_open,
            "max_wait_in_half_open": self.max_wait_in_half_open,
        }

    def state(self) -> BreakerState:
        """A new, CLOSED state for one caller edge."""
        return BreakerState(self)


class BreakerState:
    """One caller edge's breaker: its status, window and timers (times in seconds).

    ``allow(now)`` before each attempt; ``record(now, duration, failed)`` when a permitted
    attempt ends. ``transitions`` counts state changes, ``short_circuited`` refused calls.
    """

    __slots__ = (
        "_closed_minimum", "_half_open_minimum", "_half_open_until", "_open_until", "_permits",
        "_status", "_window", "breaker", "short_circuited", "transitions",
    )  # fmt: skip

    def __init__(self, breaker: CircuitBreaker) -> None:
        self.breaker = breaker
        size = breaker.sliding_window_size
        count = breaker.sliding_window_type == "count"
        self._closed_minimum = min(breaker.minimum_calls, size) if count else breaker.minimum_calls
        self._half_open_minimum = min(breaker.minimum_calls, breaker.permitted_calls_in_half_open)
        self._status = CLOSED
        self._window: CountWindow | TimeWindow = self._closed_window()
        self._open_until = self._half_open_until = math.inf
        self._permits = 0
        self.transitions = 0
        self.short_circuited = 0

    @property
    def state(self) -> BreakerStatus:
        """CLOSED, OPEN or HALF_OPEN, as of the last ``allow``, ``record`` or ``advance``."""
        return self._status

    def allow(self, now: float) -> bool:
        """Whether a call starting at ``now`` may go out (else it is short-circuited).

        OPEN becomes HALF_OPEN here, on the first call after ``wait_in_open``; HALF_OPEN
        hands out its permitted calls."""
        status = self._status
        if status is CLOSED:
            return True
        if status is HALF_OPEN:
            self._expire_half_open(now)
        if self._status is OPEN:
            if now <= self._open_until:
                self.short_circuited += 1
                return False
            self._to_half_open(now)
        if self._permits > 0:
            self._permits -= 1
            return True
        self.short_circuited += 1
        return False

    def record(self, now: float, duration: float, failed: bool) -> None:
        """A permitted call ended at ``now`` after ``duration`` seconds; ``failed``: error,
        timeout or rejected. May OPEN (thresholds reached) or CLOSE (a good half-open trial)."""
        if self._status is HALF_OPEN:
            self._expire_half_open(now)
        status = self._status
        if status is OPEN:
            return
        window = self._window
        window.add(now, failed, duration > self.breaker.slow_call_duration_threshold)
        calls = window.calls
        if calls < (self._closed_minimum if status is CLOSED else self._half_open_minimum):
            return
        breaker = self.breaker
        if (
            window.failed * 100.0 / calls >= breaker.failure_rate_threshold
            or window.slow * 100.0 / calls >= breaker.slow_call_rate_threshold
        ):
            self._to_open(now)
        elif status is HALF_OPEN:
            self._status = CLOSED
            self._window = self._closed_window()
            self.transitions += 1

    def advance(self, now: float) -> BreakerStatus:
        """The state at ``now`` after the timed transition (``max_wait_in_half_open``); OPEN
        stays OPEN until a call comes (``allow``), as in Resilience4j."""
        if self._status is HALF_OPEN:
            self._expire_half_open(now)
        return self._status

    def _closed_window(self) -> CountWindow | TimeWindow:
        size = self.breaker.sliding_window_size
        return TimeWindow(size) if self.breaker.sliding_window_type == "time" else CountWindow(size)

    def _to_open(self, at: float) -> None:
        self._status = OPEN
        self._open_until = at + self.breaker.wait_in_open
        self.transitions += 1

    def _to_half_open(self, now: float) -> None:
        breaker = self.breaker
        self._status = HALF_OPEN
        self._permits = breaker.permitted_calls_in_half_open
        self._window = CountWindow(breaker.permitted_calls_in_half_open)
        wait = breaker.max_wait_in_half_open
        self._half_open_until = now + wait if wait > 0 else math.inf
        self.transitions += 1

    def _expire_half_open(self, now: float) -> None:
        if now >= self._half_open_until:  # Resilience4j's timer fired at _half_open_until
            self._to_open(self._half_open_until)


def _percentage(argument: str, value: Any) -> float:
    result = _check.number(argument, value)
    if not 0.0 < result <= 100.0:
        raise ConfigError(f"{argument}: must be in (0, 100], got {value!r}")
    return result
