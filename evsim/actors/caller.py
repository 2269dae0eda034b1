"""Making a call: attempts, each waited on up to a timeout, retried with backoff.

One :class:`Caller` serves every caller on one edge, a client or a service calling a
dependency: the same rules and the same rows in ``result.calls``. Rules modelled (HTTP
and gRPC clients): each attempt is a new request to the callee; the caller waits for the
answer up to ``timeout`` seconds, then gives up on it (the callee is not told unless
``cancel_on_timeout``); a failed attempt is retried while ``retry`` allows, after the
backoff's delay (the AWS jitter formulas of :class:`~evsim.actors.retry.Backoff`).

A ``breaker`` (:class:`~evsim.actors.breaker.CircuitBreaker`, Resilience4j's) is asked
before each attempt: an open one fails the attempt at once, ``short_circuited``, without
reaching the callee; every attempt that went out is recorded in it. A ``budget`` (the
AWS SDKs' :class:`~evsim.actors.budgets.TokenBucket` or gRPC's
:class:`~evsim.actors.budgets.RetryThrottle`) is told of each failed attempt and each
success, and must allow each retry: with no tokens the call ends with its last failure.
A ``max_concurrent`` bulkhead (Resilience4j's semaphore bulkhead, with no wait) is
asked after the breaker: an attempt made while that many are in flight on the edge is
refused at once, ``rejected``, and the breaker records it as a failure (Resilience4j's
order of decorators: Retry, then CircuitBreaker, then Bulkhead, around the call).
Breaker, budget and bulkhead are states of this one edge (a caller toward a callee),
shared by its workers.

A call runs on callbacks, not as a SimPy process: an attempt is an :class:`Exchange`
handed to the callee, which answers it through a callback; a timeout and a backoff delay
are timers. A call costs no event of its own beyond those timers (the request side's
hot path); :meth:`Caller.event` wraps one in an event for a handler to ``yield``.
"""

from __future__ import annotations

from collections.abc import Callable

import simpy

from evsim.actors.breaker import BreakerState, CircuitBreaker
from evsim.actors.budgets import RetryThrottle, RetryThrottleState, TokenBucket, TokenBucketState
from evsim.actors.request import Call, Callee, Exchange
from evsim.actors.retry import Retry
from evsim.brokers.world import World
from evsim.records.codes import NAN, CallStatus

CALL_FAILED = "CallFailed"  # the error type every failed call has, for Retry.retry_on
Budget = TokenBucket | RetryThrottle
Done = Callable[[CallStatus, int], None]
"""What a call's starter is told when it ends: its final status and attempts made."""

OK, TIMEOUT, REJECTED = CallStatus.OK, CallStatus.TIMEOUT, CallStatus.REJECTED
SHORT_CIRCUITED = CallStatus.SHORT_CIRCUITED
REASONS = {status: status.name.lower() for status in CallStatus}


class Caller:
    """Calls from ``caller`` (a name code) to ``callee``, with ``timeout`` (seconds, or
    None) and ``retry`` (None: one attempt); ``path`` names its random stream (jitter).
    ``in_flight``: its attempts sent and not yet ended for it."""

    def __init__(
        self,
        world: World,
        caller: int,
        callee: Callee,
        timeout: float | None,
        retry: Retry | None,
        cancel_on_timeout: bool,
        path: tuple[str, ...],
        breaker: CircuitBreaker | None = None,
        budget: Budget | None = None,
        max_concurrent: int | None = None,
    ) -> None:
        self.world = world
        self.caller = caller
        self.callee = callee
        self.timeout = timeout
        self.retry = retry
        self.cancel_on_timeout = cancel_on_timeout
        self.breaker: BreakerState | None = None if breaker is None else breaker.state()
        self.budget: TokenBucketState | RetryThrottleState | None = (
            None if budget is None else budget.state()
        )
        self.max_concurrent = max_concurrent
        self.in_flight = 0
        self._uniform: Callable[[], float] | None = None
        if retry is not None and retry.backoff.jitter != "none":
            self._uniform = world.streams.generator(*path, "jitter").random

    @classmethod
    def for_call(
        cls, world: World, caller: int, callee: Callee, call: Call, path: tuple[str, ...]
    ) -> Caller:
        """The caller that makes ``call`` (an ``ev.Call``'s settings) to ``callee``."""
        return cls(
            world, caller, callee, call.timeout, call.retry, call.cancel_on_timeout, path,
            call.breaker, call.budget, call.max_concurrent,
        )  # fmt: skip

    def start(self, request: int, key: str | None, done: Done) -> None:
        """Make the call for client request ``request``; ``done(status, attempts)`` when
        it ends (perhaps at once: a refusal that is not retried)."""
        _Call(self, request, key, done).send()

    def event(self, request: int, key: str | None) -> simpy.Event:
        """The call as an event to ``yield``, whose value is ``(status, attempts)``."""
        ended = self.world.env.event()

        def done(status: CallStatus, attempts: int) -> None:
            ended.succeed((status, attempts))

        self.start(request, key, done)
        return ended

    def record(self, request: int, attempt: int, started: float, status: int, wait: float) -> None:
        """The attempt's row in ``result.calls``."""
        self.world.records.calls.add(
            request, self.caller, self.callee.code, attempt, started, self.world.env.now,
            status, wait,
        )  # fmt: skip

    def retries(self, attempt: int, status: CallStatus) -> bool:
        """Whether ``retry`` allows another attempt after ``attempt`` ended with ``status``."""
        retry = self.retry
        return retry is not None and retry.retries(attempt, (REASONS[status], CALL_FAILED))

    def delay(self, retry: int, previous: float) -> float:
        """Seconds before retry ``retry`` (0-based), given the delay before the last one."""
        assert self.retry is not None
        backoff = self.retry.backoff
        u = self._uniform() if self._uniform is not None else 0.0
        return backoff.delay(retry, previous if retry else backoff.base, u)


class _Call:
    """One call in progress: its attempts, one at a time, each an exchange."""

    __slots__ = (
        "attempt", "caller", "done", "exchange", "key", "last_retry", "previous", "request",
        "started",
    )  # fmt: skip

    def __init__(self, caller: Caller, request: int, key: str | None, done: Done) -> None:
        self.caller = caller
        self.request = request
        self.key = key
        self.done = done
        self.attempt = 0
        self.previous = 0.0  # seconds: the last backoff delay
        self.last_retry: str | None = None  # the reason the last retry was made for
        self.exchange: Exchange | None = None
        self.started = 0.0

    def send(self, _timer: object = None) -> None:
        """Make the next attempt: short-circuited by an open breaker, or to the callee."""
        caller = self.caller
        env = caller.world.env
        self.attempt += 1
        now = self.started = env.now
        breaker = caller.breaker
        if breaker is not None and not breaker.allow(now):
            caller.record(self.request, self.attempt, now, SHORT_CIRCUITED, NAN)
            self._ended(SHORT_CIRCUITED)
            return
        most = caller.max_concurrent
        if most is not None and caller.in_flight >= most:  # the bulkhead is full
            if breaker is not None:
                breaker.record(now, 0.0, failed=True)
            caller.record(self.request, self.attempt, now, REJECTED, NAN)
            self._ended(REJECTED)
            return
        caller.in_flight += 1
        exchange = self.exchange = Exchange(now, self.request, self.key, self._answered)
        caller.callee.accept(exchange)
        if caller.timeout is not None and not exchange.answered:
            env.call_later(caller.timeout, lambda _timer: self._timed_out(exchange))

    def _answered(self, exchange: Exchange, status: CallStatus) -> None:
        if exchange is self.exchange and not exchange.abandoned:  # else: given up on
            self._attempt_ended(exchange, status)

    def _timed_out(self, exchange: Exchange) -> None:
        if exchange is self.exchange and not exchange.answered:
            exchange.abandoned = True
            exchange.cancelled = self.caller.cancel_on_timeout
            self._attempt_ended(exchange, TIMEOUT)

    def _attempt_ended(self, exchange: Exchange, status: CallStatus) -> None:
        caller = self.caller
        caller.in_flight -= 1
        breaker = caller.breaker
        now = caller.world.env.now
        if breaker is not None:
            breaker.record(now, now - self.started, failed=status != OK)
        taken = exchange.started_at
        wait = taken - exchange.arrived_at if taken == taken else NAN  # NaN: not taken
        caller.record(self.request, self.attempt, self.started, status, wait)
        self._ended(status)

    def _ended(self, status: CallStatus) -> None:
        """The attempt ended with ``status``: the call ends, or a retry is scheduled."""
        caller = self.caller
        budget = caller.budget
        if status == OK:
            if budget is not None:
                budget.on_success(self.last_retry)
            self.done(status, self.attempt)
            return
        reason = REASONS[status]
        if budget is not None:
            budget.on_failure()
        if not caller.retries(self.attempt, status) or (
            budget is not None and not budget.can_retry(reason)
        ):
            self.done(status, self.attempt)
            return
        self.last_retry = reason
        self.previous = caller.delay(self.attempt - 1, self.previous)
        # a timer even for no delay: a run of instant refusals does not recurse
        caller.world.env.call_later(self.previous, self.send)
