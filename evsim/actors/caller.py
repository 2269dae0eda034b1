"""Making a call: attempts, each waited on up to a timeout, retried with backoff.

One :class:`Caller` serves every caller on one edge, a client or a service calling a
dependency: the same rules and the same rows in ``result.calls``. Rules modelled (HTTP
and gRPC clients): each attempt is a new request to the callee; the caller waits for the
answer up to ``timeout`` seconds, then gives up on it (the callee is not told unless
``cancel_on_timeout``); a failed attempt is retried while ``retry`` allows, after the
backoff's delay (the AWS jitter formulas of :class:`~evsim.actors.retry.Backoff`).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from evsim.actors.request import Callee, Exchange
from evsim.actors.retry import Retry
from evsim.brokers.world import World
from evsim.records.codes import NAN, CallStatus

CALL_FAILED = "CallFailed"  # the error type every failed call has, for Retry.retry_on


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
    ) -> None:
        self.world = world
        self.caller = caller
        self.callee = callee
        self.timeout = timeout
        self.retry = retry
        self.cancel_on_timeout = cancel_on_timeout
        self._uniform: Callable[[], float] | None = None
        if retry is not None and retry.backoff.jitter != "none":
            self._uniform = world.streams.generator(*path, "jitter").random

    def call(self, request: int, key: str | None) -> Generator[Any, Any, tuple[CallStatus, int]]:
        """Make the call for client request ``request``: its final status and attempts."""
        env = self.world.env
        attempt, previous = 0, 0.0
        while True:
            attempt += 1
            status = yield from self._attempt(request, key, attempt)
            if status == CallStatus.OK or not self._retries(attempt, status):
                return status, attempt
            previous = self._delay(attempt - 1, previous)
            if previous > 0:
                yield env.timeout(previous)

    def _attempt(
        self, request: int, key: str | None, attempt: int
    ) -> Generator[Any, Any, CallStatus]:
        env = self.world.env
        exchange = Exchange(env, request, key)
        started = env.now
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
