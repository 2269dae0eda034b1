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
Both are states of this one edge (a caller toward a callee), shared by its workers.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from evsim.actors.breaker import BreakerState, CircuitBreaker
from evsim.actors.budgets import RetryThrottle, RetryThrottleState, TokenBucket, TokenBucketState
from evsim.actors.request import Callee, Exchange
from evsim.actors.retry import Retry
from evsim.brokers.world import World
from evsim.records.codes import NAN, CallStatus

CALL_FAILED = "CallFailed"  # the error type every failed call has, for Retry.retry_on
Budget = TokenBucket | RetryThrottle


class Caller:
    """Calls from ``caller`` (a name code) to ``callee``, with ``timeout`` (seconds, or
    None) and ``retry`` (None: one attempt); ``path`` names its random stream (jitter)."""

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
        self._uniform: Callable[[], float] | None = None
        if retry is not None and retry.backoff.jitter != "none":
            self._uniform = world.streams.generator(*path, "jitter").random

    def call(self, request: int, key: str | None) -> Generator[Any, Any, tuple[CallStatus, int]]:
        """Make the call for client request ``request``: its final status and attempts."""
        env = self.world.env
        attempt, previous, last_retry = 0, 0.0, None
        budget = self.budget
        while True:
            attempt += 1
            status = yield from self._attempt(request, key, attempt)
            if status == CallStatus.OK:
                if budget is not None:
                    budget.on_success(last_retry)
                return status, attempt
            reason = status.name.lower()
            if budget is not None:
                budget.on_failure()
            if not self._retries(attempt, status) or (
                budget is not None and not budget.can_retry(reason)
            ):
                return status, attempt
            last_retry = reason
            previous = self._delay(attempt - 1, previous)
            if previous > 0:
                yield env.timeout(previous)

    def _attempt(
        self, request: int, key: str | None, attempt: int
    ) -> Generator[Any, Any, CallStatus]:
        env = self.world.env
        exchange = Exchange(env, request, key)
        started = env.now
        breaker = self.breaker
        if breaker is not None and not breaker.allow(started):
            self._record(request, attempt, started, CallStatus.SHORT_CIRCUITED, exchange)
            return CallStatus.SHORT_CIRCUITED
        self.callee.accept(exchange)
        reply = exchange.reply
        if not reply.triggered:
            if self.timeout is None:
                yield reply
            else:
                yield reply | env.timeout(self.timeout)
        if reply.triggered:
            status = reply.value
            assert isinstance(status, CallStatus)
        else:
            status = CallStatus.TIMEOUT
            exchange.abandoned = True
            exchange.cancelled = self.cancel_on_timeout
        if breaker is not None:
            breaker.record(env.now, env.now - started, failed=status != CallStatus.OK)
        self._record(request, attempt, started, status, exchange)
        return status

    def _record(
        self, request: int, attempt: int, started: float, status: int, exchange: Exchange
    ) -> None:
        taken = exchange.started_at
        wait = taken - exchange.arrived_at if taken == taken else NAN  # NaN: not taken
        self.world.records.calls.add(
            request, self.caller, self.callee.code, attempt, started, self.world.env.now,
            status, wait,
        )  # fmt: skip

    def _retries(self, attempt: int, status: CallStatus) -> bool:
        retry = self.retry
        return retry is not None and retry.retries(attempt, (status.name.lower(), CALL_FAILED))

    def _delay(self, retry: int, previous: float) -> float:
        """Seconds before retry ``retry`` (0-based), given the delay before the last one."""
        assert self.retry is not None
        backoff = self.retry.backoff
        u = self._uniform() if self._uniform is not None else 0.0
        return backoff.delay(retry, previous if retry else backoff.base, u)
