"""What travels on a request-response edge: an exchange, the call that makes it, and the
error a failed call raises.

Rules modelled (HTTP/gRPC servers and clients): a caller sends a request and waits for
the answer, up to its timeout. A callee answers with success or failure, or refuses at
once (down, queue full: HTTP 503). When the caller's timeout fires it stops waiting,
but the callee's work goes on and its answer is discarded (what servers do unless the
deadline is propagated: gRPC's ``cancel_on_timeout``, which drops a request still queued
and stops one in progress before its next downstream call).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from evsim import _check
from evsim.actors.breaker import CircuitBreaker
from evsim.actors.budgets import RetryThrottle, TokenBucket
from evsim.actors.retry import Retry
from evsim.errors import ConfigTypeError
from evsim.records.codes import NAN, CallStatus
from evsim.workload.specs import Specified


class CallFailed(Exception):
    """A call did not succeed: ``reason`` is ``"error"``, ``"timeout"``, ``"rejected"`` or
    ``"short_circuited"``; ``callee`` the service called. A handler may catch it (a
    fallback) or let it fail its own request."""

    def __init__(self, callee: str, status: CallStatus) -> None:
        # args are the constructor's: SimPy rebuilds an exception from them to throw it
        super().__init__(callee, status)
        self.callee = callee
        self.status = CallStatus(status)
        self.reason = self.status.name.lower()

    def __str__(self) -> str:
        return f"call to {self.callee!r} failed: {self.reason}"


@dataclass(frozen=True)
class CallResponse:
    """A successful call's answer, as ``yield ctx.call(...)`` returns it: the service
    called and the attempts it took."""

    callee: str
    attempts: int


class Exchange:
    """One call attempt in the callee's hands: its request (the client request it serves),
    key, when it arrived and when a worker took it (seconds, NaN until then), and
    ``on_answer(exchange, status)``, which the callee's :meth:`answer` calls once, at
    once (the caller's reaction runs within the callee's step, so a callee answers last,
    after its own bookkeeping). ``abandoned``: the caller stopped waiting; ``cancelled``:
    and told the callee (deadline propagation), or the ``parent`` exchange it was
    forwarded for (by a load balancer) was cancelled."""

    __slots__ = (
        "_cancelled", "_on_answer", "abandoned", "answered", "arrived_at", "key", "parent",
        "request", "started_at",
    )  # fmt: skip

    def __init__(
        self,
        now: float,
        request: int,
        key: str | None,
        on_answer: Callable[[Exchange, CallStatus], None],
        parent: Exchange | None = None,
    ) -> None:
        self.request = request
        self.key = key
        self.parent = parent
        self.arrived_at = now
        self.started_at = NAN
        self._on_answer = on_answer
        self.answered = False
        self.abandoned = False
        self._cancelled = False

    @property
    def cancelled(self) -> bool:
        """Whether the caller, or the caller of the exchange it was forwarded for, cancelled."""
        return self._cancelled or (self.parent is not None and self.parent.cancelled)

    @cancelled.setter
    def cancelled(self, value: bool) -> None:
        self._cancelled = value

    def answer(self, status: CallStatus) -> None:
        """Send the answer, unless one was sent already."""
        if not self.answered:
            self.answered = True
            self._on_answer(self, status)


class Callee(Protocol):
    """Anything a call can reach: a service, a load balancer or a cache."""

    name: str
    code: int

    def accept(self, exchange: Exchange) -> None:
        """Take an exchange: answer it now (refused) or later."""


class Call(Specified):
    """A call to ``target`` (a service's name) that a service makes after its own work.

    ``timeout`` is how long the caller waits for each attempt, in seconds (None: for as
    long as it takes); ``retry`` an ``ev.Retry`` (attempts in all and the backoff between
    them; ``retry_on`` may name the reasons ``"error"``, ``"timeout"``, ``"rejected"``;
    default: one attempt). ``cancel_on_timeout=True`` propagates the deadline (gRPC): the
    callee drops the attempt if still queued when the caller gives up. ``breaker`` an
    ``ev.CircuitBreaker()`` (Resilience4j's), ``budget`` an ``ev.TokenBucket()`` (the AWS
    SDKs' retry quota) or ``ev.RetryThrottle(max_tokens, token_ratio)`` (gRPC's): see
    :mod:`evsim.actors.caller`. ``max_concurrent`` is Resilience4j's semaphore bulkhead
    (its ``maxConcurrentCalls``, default 25 there; here None: no bulkhead) with its
    default ``maxWaitDuration`` of 0: an attempt made while that many of this caller's
    attempts to ``target`` are in flight fails at once, ``rejected``, without reaching it.
    """

    kind = "call"

    def __init__(
        self,
        target: str,
        timeout: float | None = None,
        retry: Retry | None = None,
        cancel_on_timeout: bool = False,
        breaker: CircuitBreaker | None = None,
        budget: TokenBucket | RetryThrottle | None = None,
        max_concurrent: int | None = None,
    ) -> None:
        self.target = _check.name("target", target)
        self.breaker = as_breaker(breaker)
        self.budget = as_budget(budget)
        self.timeout = None if timeout is None else _check.positive("timeout", timeout)
        if retry is not None and not isinstance(retry, Retry):
            raise ConfigTypeError(
                f"retry: expected an ev.Retry(max_attempts, backoff) or None, got {retry!r}"
            )
        self.retry = retry
        self.cancel_on_timeout = _check.flag("cancel_on_timeout", cancel_on_timeout)
        self.max_concurrent = (
            None if max_concurrent is None
            else _check.integer("max_concurrent", max_concurrent, minimum=1)
        )  # fmt: skip

    def _params(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "timeout": self.timeout,
            "retry": None if self.retry is None else self.retry.spec(),
            "cancel_on_timeout": self.cancel_on_timeout,
            "breaker": None if self.breaker is None else self.breaker.spec(),
            "budget": None if self.budget is None else self.budget.spec(),
            "max_concurrent": self.max_concurrent,
        }


def as_breaker(value: Any) -> CircuitBreaker | None:
    """``value`` if it is a CircuitBreaker or None; else a ConfigTypeError naming it."""
    if value is None or isinstance(value, CircuitBreaker):
        return value
    raise ConfigTypeError(f"breaker: expected ev.CircuitBreaker(...) or None, got {value!r}")


def as_budget(value: Any) -> TokenBucket | RetryThrottle | None:
    """``value`` if it is a retry budget or None; else a ConfigTypeError naming it."""
    if value is None or isinstance(value, TokenBucket | RetryThrottle):
        return value
    raise ConfigTypeError(
        "budget: expected ev.TokenBucket() or ev.RetryThrottle(max_tokens, token_ratio) or "
        f"None, got {value!r}"
    )
