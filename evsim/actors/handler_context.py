"""What a handler can do, for a consumer group's and a service's alike: read the clock,
wait, call a request-response service and publish events.

:class:`CallingContext` holds that; :class:`~evsim.actors.handler.HandlerContext` (a
consumer group's) and :class:`~evsim.actors.service_handler.ServiceContext` (a service's)
add whose work it is. The calls a context makes share one :class:`Caller` per distinct
call settings: one edge, whose breaker, budget and bulkhead its workers share, as a
client library's are shared by an application's threads.
"""

from __future__ import annotations

from typing import Any

import simpy

from evsim import _check
from evsim.actors.breaker import CircuitBreaker
from evsim.actors.budgets import RetryThrottle, TokenBucket
from evsim.actors.caller import Caller
from evsim.actors.producer import DEFAULT_EVENT_BYTES, send
from evsim.actors.request import Call, CallFailed, CallResponse
from evsim.actors.retry import Retry
from evsim.brokers.world import World
from evsim.errors import ConfigTypeError
from evsim.records.codes import CallStatus


class CallingContext:
    """A handler's view of the simulation: the clock, waiting, calls and publishing, on
    behalf of ``publisher`` (a group's or service's name); ``streams`` names the random
    streams of its calls (their jitter)."""

    def __init__(
        self,
        world: World,
        publisher: str,
        streams: tuple[str, ...],
        callers: dict[tuple[Any, ...], Caller] | None = None,
    ) -> None:
        self._world = world
        self._publisher = world.records.names.code(publisher)
        self._streams = streams
        self._callers: dict[tuple[Any, ...], Caller] = {} if callers is None else callers
        self._request = -1  # the client request served (-1: none)
        self._key: str | None = None  # its key
        self._cause = -1  # the event being handled (-1: none)

    def _stopped(self) -> bool:
        """Whether the work was cancelled, so that further calls fail at once."""
        return False

    @property
    def now(self) -> float:
        """The simulation clock, in seconds."""
        return self._world.env.now

    def timeout(self, seconds: float) -> simpy.Timeout:
        """An event to ``yield`` that fires after ``seconds`` of simulated time."""
        return self._world.env.timeout(_check.non_negative("ctx.timeout(seconds)", seconds))

    def call(
        self,
        target: str,
        timeout: float | None = None,
        retry: Retry | None = None,
        cancel_on_timeout: bool = False,
        breaker: CircuitBreaker | None = None,
        budget: TokenBucket | RetryThrottle | None = None,
        max_concurrent: int | None = None,
    ) -> simpy.Event:
        """An event to ``yield`` that fires when a call to service ``target`` ends: its
        value is a :class:`CallResponse`; a call that failed (after its ``retry``
        attempts, each waited on up to ``timeout`` seconds) raises
        :class:`~evsim.actors.request.CallFailed` at the ``yield``. Its rows in
        ``result.calls`` have this handler's group or service as caller, and the client
        request it serves (-1 for a consumer group: none). ``max_concurrent`` caps this
        call's attempts in flight from this caller (Resilience4j's semaphore bulkhead).
        """
        # checks the arguments; ``breaker`` and ``budget`` are per distinct call: the
        # same objects given again share one state (one edge, as a client library's)
        settings = Call(target, timeout, retry, cancel_on_timeout, breaker, budget,
                        max_concurrent)  # fmt: skip
        caller = self._caller(settings)
        done = self._world.env.event()
        done.defused = True  # a call nobody waits for fails quietly, as a dropped future

        def ended(status: CallStatus, attempts: int) -> None:
            if status == CallStatus.OK:
                done.succeed(CallResponse(target, attempts))
            else:
                done.fail(CallFailed(target, status))

        if self._stopped():  # the deadline passed (propagated): no further calls
            ended(CallStatus.TIMEOUT, 0)
        else:
            caller.start(self._request, self._key, ended)
        return done

    def _caller(self, call: Call) -> Caller:
        """One caller per distinct call, so each keeps its own jitter stream."""
        key = (call.target, call.timeout, call.retry, call.cancel_on_timeout,
               id(call.breaker), id(call.budget), call.max_concurrent)  # fmt: skip
        caller = self._callers.get(key)
        if caller is None:
            world = self._world
            callee = world.callee(call.target, "ctx.call(target)")
            path = (*self._streams, str(len(self._callers)))
            caller = Caller.for_call(world, self._publisher, callee, call, path)
            self._callers[key] = caller
        return caller

    def publish(
        self,
        target: Any,
        event_type: str,
        key: str | None = None,
        payload: Any = None,
        *,
        attributes: dict[str, Any] | None = None,
        schema_version: int = 1,
        size_bytes: int = DEFAULT_EVENT_BYTES,
    ) -> int:
        """Publish an event (caused by the one being handled, if any); returns its id.

        The group or service is the producer; publishing does not block the handler (Kafka's
        ``send`` is asynchronous) and the event appears after the target's latency.
        ``key`` is a string or None, ``attributes`` a dict with string keys or None,
        ``schema_version`` and ``size_bytes`` (bytes) whole numbers >= 1. Every argument is
        checked before anything is recorded, so a bad one leaves no event behind.
        """
        world = self._world
        broker = world.broker(target, "ctx.publish(target)")
        code = world.records.names.code(_check.name("ctx.publish(event_type)", event_type))
        if key is not None and not isinstance(key, str):
            raise ConfigTypeError(f"ctx.publish(key): expected a string or None, got {key!r}")
        if attributes is not None and not (
            isinstance(attributes, dict) and all(isinstance(k, str) for k in attributes)
        ):
            raise ConfigTypeError(
                f"ctx.publish(attributes): expected a dict with string keys, got {attributes!r}"
            )
        version = _check.integer("ctx.publish(schema_version)", schema_version, minimum=1)
        size = _check.integer("ctx.publish(size_bytes)", size_bytes, minimum=1)
        return send(
            world, broker, self._publisher, code, key, payload, cause=self._cause,
            schema_version=version, attributes=attributes, size_bytes=size,
        )  # fmt: skip
