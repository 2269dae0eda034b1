"""Running a handler: a consumer group's context, and how a failure is told from a mistake.

A handler is ``fn(event, ctx)`` (a service's: ``fn(request, ctx)``, see
:mod:`~evsim.actors.service_handler`): a plain function, or one whose call returns a generator
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
:class:`~evsim.errors.HandlerError` naming the group (or service) and the handler.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from typing import Any

import numpy as np
import simpy

from evsim.actors.delivery import NO_FAILURE, Failure, failure
from evsim.actors.handler_context import CallingContext
from evsim.brokers.world import World
from evsim.errors import EvsimError, HandlerError


class HandlerContext(CallingContext):
    """One worker's view of the simulation while it handles an event (see
    :class:`~evsim.actors.handler_context.CallingContext`): ``group`` and ``consumer``
    name it, ``event_id`` is the event being handled, ``rng`` its own random stream."""

    def __init__(self, world: World, group: str, consumer: str, rng: np.random.Generator) -> None:
        super().__init__(world, group, ("group", group, "calls", consumer))
        self.group = group
        self.consumer = consumer
        self.rng = rng
        self.event_id = -1

    @property
    def event_id(self) -> int:
        """The id of the event being handled."""
        return self._cause

    @event_id.setter
    def event_id(self, value: int) -> None:
        self._cause = value


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
    mistake = Mistakes(f"consumer group {group!r}", handler, "(event, ctx)")

    def run(event_id: int) -> Generator[Any, Any, Failure]:
        ctx.event_id = event_id
        return (yield from run_handler(handler, events.event(event_id), ctx, world.env, mistake))

    return run


def run_handler(
    handler: Callable[..., Any],
    argument: Any,
    ctx: CallingContext,
    env: simpy.Environment,
    mistake: Mistakes,
) -> Generator[Any, Any, Failure]:
    """Run ``handler(argument, ctx)`` to its end: the :data:`Failure` of the exception its
    own logic raised (:data:`NO_FAILURE` if none); misuse of evsim raises HandlerError."""
    try:
        returned = handler(argument, ctx)
        if isinstance(returned, Generator):
            yield from _drive(returned, env, mistake)
        elif isinstance(returned, Awaitable | AsyncGenerator):
            _close(returned)
            raise mistake("is async; evsim runs generators: write it as a plain def that "
                          "waits with 'yield ctx.timeout(seconds)'")  # fmt: skip
    except (HandlerError, simpy.Interrupt):
        raise
    except EvsimError as err:  # a bad ctx.publish or ctx.timeout: evsim misused
        raise mistake.restated(err) from err
    except TypeError as err:
        if not _accepts(handler, argument, ctx):
            raise mistake(f"must accept {mistake.arguments}: {err}") from err
        return failure(type(err), str(err))
    except Exception as err:  # the handler signals a failed attempt by raising
        return failure(type(err), str(err))
    return NO_FAILURE


class Mistakes:
    """Builds the HandlerError of one handler: ``owner`` names whose it is (``"consumer
    group 'g'"``), ``arguments`` what it must accept (``"(event, ctx)"``)."""

    def __init__(self, owner: str, handler: Any, arguments: str) -> None:
        self.where = f"handler: in {owner}, {handler_name(handler)}"
        self.arguments = arguments

    def __call__(self, problem: str) -> HandlerError:
        return HandlerError(f"{self.where} {problem}")

    def restated(self, error: EvsimError) -> EvsimError:
        """``error`` (raised by evsim inside the handler) of the same class, naming where."""
        try:
            return type(error)(f"{self.where}: {error}")
        except TypeError:  # an error class built from other arguments
            return self(str(error))


def _drive(
    steps: Generator[Any, Any, Any], env: simpy.Environment, mistake: Mistakes
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


def _accepts(handler: Callable[..., Any], argument: Any, ctx: CallingContext) -> bool:
    """Whether ``handler(argument, ctx)`` binds to the handler's signature (True when the
    signature cannot be read: then the TypeError is the handler's own)."""
    try:
        signature = inspect.signature(handler)
    except (TypeError, ValueError):
        return True
    try:
        signature.bind(argument, ctx)
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


def handler_name(handler: Any) -> str:
    """A handler as errors and specs show it: its qualified name."""
    return getattr(handler, "__qualname__", None) or repr(handler)
