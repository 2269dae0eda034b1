"""The context a handler gets: the clock, waiting, and publishing follow-up events.

A handler is ``fn(event, ctx)``: a plain function, or one whose call returns a generator
(a generator function, decorated or not, or a callable object), recognised by what the
call returns. A generator handler waits with ``yield ctx.timeout(seconds)``; any handler
publishes with ``ctx.publish(target, event_type, key=..., payload=...)`` so services chain
(OrderCreated → PaymentProcessed → a notification), and a generator handler calls a
request-response service with ``response = yield ctx.call("payment-api", timeout=0.5)``:
a hybrid system. A failed call raises :class:`~evsim.actors.request.CallFailed` at that
``yield`` (catch it for a fallback, or let it fail the attempt).

Two kinds of trouble are told apart. An exception the handler's own logic raises is a
failed attempt, retried or dead-lettered by the group's rules, as a real consumer sees
it. Misuse of evsim (a handler that does not take ``(event, ctx)``, an ``async def``
handler, a yielded event of another simulation or something that is not an event, bad
``ctx.publish`` arguments) is a mistake in the program: the run stops with a
:class:`~evsim.errors.HandlerError` naming the group and the handler.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from typing import Any

import numpy as np
import simpy

from evsim import _check
from evsim.actors.breaker import CircuitBreaker
from evsim.actors.budgets import RetryThrottle, TokenBucket
from evsim.actors.caller import Caller
from evsim.actors.delivery import NO_FAILURE, Failure, failure
from evsim.actors.producer import DEFAULT_EVENT_BYTES, send
from evsim.actors.request import Call, CallFailed, CallResponse
from evsim.actors.retry import Retry
from evsim.brokers.world import World
from evsim.errors import ConfigTypeError, EvsimError, HandlerError
from evsim.records.codes import CallStatus


class HandlerContext:
    """One worker's view of the simulation while it handles an event."""

    __slots__ = ("_callers", "_publisher", "_world", "consumer", "event_id", "group", "rng")

    def __init__(self, world: World, group: str, consumer: str, rng: np.random.Generator) -> None:
        self._world = world
        self._publisher = world.records.names.code(group)
        self.group = group
        self.consumer = consumer
        self.rng = rng
        self.event_id = -1
        self._callers: dict[tuple[Any, ...], Caller] = {}

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
    ) -> simpy.Event:
        """An event to ``yield`` that fires when a call to service ``target`` ends: its
        value is a :class:`CallResponse`; a call that failed (after its ``retry``
        attempts, each waited on up to ``timeout`` seconds) raises
        :class:`~evsim.actors.request.CallFailed` at the ``yield``. Its rows in
        ``result.calls`` have the group as caller and request_id -1 (no client request).
        """
        # checks the arguments; ``breaker`` and ``budget`` are per distinct call: the
        # same objects given again share one state (one edge, as a client library's)
        settings = Call(target, timeout, retry, cancel_on_timeout, breaker, budget)
        caller = self._caller(settings)
        done = self._world.env.event()
        done.defused = True  # a call nobody waits for fails quietly, as a dropped future

        def ended(status: CallStatus, attempts: int) -> None:
            if status == CallStatus.OK:
                done.succeed(CallResponse(target, attempts))
            else:
                done.fail(CallFailed(target, status))

        caller.start(-1, None, ended)
        return done

    def _caller(self, call: Call) -> Caller:
        """One caller per distinct call, so each keeps its own jitter stream."""
        key = (call.target, call.timeout, call.retry, call.cancel_on_timeout,
               id(call.breaker), id(call.budget))  # fmt: skip
        caller = self._callers.get(key)
        if caller is None:
            world = self._world
            callee = world.callee(call.target, "ctx.call(target)")
            path = ("group", self.group, "calls", self.consumer, str(len(self._callers)))
            caller = self._callers[key] = Caller(
                world, self._publisher, callee, call.timeout, call.retry,
                call.cancel_on_timeout, path, call.breaker, call.budget,
            )  # fmt: skip
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
        """Publish a follow-up event (caused by the one being handled); returns its id.

        The group is the producer; publishing does not block the handler (Kafka's
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
            world, broker, self._publisher, code, key, payload, cause=self.event_id,
            schema_version=version, attributes=attributes, size_bytes=size,
        )  # fmt: skip


def handler_runner(
    world: World, group: str, handler: Callable[..., Any], consumer: str, worker: int
) -> Callable[[int], Generator[Any, Any, Failure]]:
    """A generator function that runs group ``group``'s handler on one event for one worker
    of ``consumer``.

    It returns the attempt's :data:`~evsim.actors.delivery.Failure` (:data:`NO_FAILURE`
    when the handler returned normally); misuse of evsim raises :class:`HandlerError`.
    """
    rng = world.streams.generator("group", group, "handler", consumer, str(worker))
    ctx = HandlerContext(world, group, consumer, rng)
    events = world.records.events
    mistake = _Mistakes(group, handler)

    def run(event_id: int) -> Generator[Any, Any, Failure]:
        ctx.event_id = event_id
        event = events.event(event_id)
        try:
            returned = handler(event, ctx)
            if isinstance(returned, Generator):
                yield from _drive(returned, world.env, mistake)
            elif isinstance(returned, Awaitable | AsyncGenerator):
                _close(returned)
                raise mistake("is async; evsim runs generators: write it as a plain def that "
                              "waits with 'yield ctx.timeout(seconds)'")  # fmt: skip
        except (HandlerError, simpy.Interrupt):
            raise
        except EvsimError as err:  # a bad ctx.publish or ctx.timeout: evsim misused
            raise mistake.restated(err) from err
        except TypeError as err:
            if not _accepts(handler, event, ctx):
                raise mistake(f"must accept (event, ctx): {err}") from err
            return failure(type(err), str(err))
        except Exception as err:  # the handler signals a failed attempt by raising
            return failure(type(err), str(err))
        return NO_FAILURE

    return run


class _Mistakes:
    """Builds the HandlerError of one group's handler."""

    def __init__(self, group: str, handler: Any) -> None:
        self.where = f"handler: in consumer group {group!r}, {_name(handler)}"

    def __call__(self, problem: str) -> HandlerError:
        return HandlerError(f"{self.where} {problem}")

    def restated(self, error: EvsimError) -> EvsimError:
        """``error`` (raised by evsim inside the handler) of the same class, naming where."""
        try:
            return type(error)(f"{self.where}: {error}")
        except TypeError:  # an error class built from other arguments
            return self(str(error))


def _drive(
    steps: Generator[Any, Any, Any], env: simpy.Environment, mistake: _Mistakes
) -> Generator[Any, Any, None]:
    """Run a generator handler, checking that it yields only events of this simulation."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            request = steps.send(value) if error is None else steps.throw(error)
        except StopIteration:
            return
        if not isinstance(request, simpy.Event):
            steps.close()
            raise mistake(
                f"yielded {request!r}; a handler may only yield ctx.timeout(seconds) "
                "(or another event of this simulation)"
            )
        if request.env is not env:
            steps.close()
            raise mistake(
                f"yielded {request!r}, an event of another SimPy environment; yield "
                "ctx.timeout(seconds) or events made with sim.env"
            )
        value, error = None, None
        try:
            value = yield request
        except simpy.Interrupt:
            steps.close()
            raise
        except Exception as exc:  # a failed event the handler waited on: its problem
            error = exc


def _accepts(handler: Callable[..., Any], event: Any, ctx: HandlerContext) -> bool:
    """Whether ``handler(event, ctx)`` binds to the handler's signature (True when the
    signature cannot be read: then the TypeError is the handler's own)."""
    try:
        signature = inspect.signature(handler)
    except (TypeError, ValueError):
        return True
    try:
        signature.bind(event, ctx)
    except TypeError:
        return False
    return True


def _close(returned: Any) -> None:
    """Close a coroutine or async generator that will never run (no 'never awaited')."""
    close = getattr(returned, "close", None) or getattr(returned, "aclose", None)
    if close is None:
        return
    leftover = close()
    if inspect.iscoroutine(leftover):  # aclose() of an async generator is a coroutine
        leftover.close()


def _name(handler: Any) -> str:
    return getattr(handler, "__qualname__", None) or repr(handler)
