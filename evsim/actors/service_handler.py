"""A service's handler: ``handler(request, ctx)``, its logic after its own work.

Rules modelled (a thread-per-request server running application code): a worker does the
request's own work (``service_time``, scaled by load and slowdowns), then runs the
handler, and stays busy until it ends. The handler may wait (``yield
ctx.timeout(seconds)``), call services (``response = yield ctx.call("payment-api",
timeout=0.5)``: a failed call raises :class:`~evsim.actors.request.CallFailed`, which it
may catch for a fallback) and publish events (``ctx.publish(...)``: a hybrid system, such
as an order API that publishes ``OrderCreated`` and answers at once). The request is
answered ``ok`` when the handler returns, ``error`` when it raises (an uncaught
CallFailed included: HTTP 500). Misuse of evsim stops the run with a
:class:`~evsim.errors.HandlerError`, as a consumer group's handler does.

Deadline propagation (gRPC): once the request's caller gave up with
``cancel_on_timeout``, a ``ctx.call`` fails at once with reason ``"timeout"``
(DEADLINE_EXCEEDED) without being sent. A service that goes down stops its handlers
where they wait: the request was answered ``error`` already.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import numpy as np

from evsim.actors.caller import Caller
from evsim.actors.delivery import Failure
from evsim.actors.handler import Mistakes, run_handler
from evsim.actors.handler_context import CallingContext
from evsim.actors.request import Exchange
from evsim.brokers.world import World


@dataclass(frozen=True, slots=True)
class ServiceRequest:
    """What a service's handler is given: the client request's id (-1 for a call that a
    consumer group's handler made), its key (None: unkeyed), the service's name, and when
    the request reached the service (seconds)."""

    request_id: int
    key: str | None
    service: str
    arrived_at: float


class ServiceContext(CallingContext):
    """A service handler's view of the simulation for one request (see
    :class:`~evsim.actors.handler_context.CallingContext`): ``service`` names it, ``rng``
    is the service's handler stream. Its calls carry the request's id and key."""

    def __init__(
        self,
        world: World,
        service: str,
        callers: dict[tuple[Any, ...], Caller],
        exchange: Exchange,
        rng: np.random.Generator,
    ) -> None:
        super().__init__(world, service, ("service", service, "handler", "calls"), callers)
        self.service = service
        self.rng = rng
        self._exchange = exchange
        self._request = exchange.request
        self._key = exchange.key

    def _stopped(self) -> bool:
        return self._exchange.cancelled


def service_handler_runner(
    world: World, service: str, handler: Callable[..., Any]
) -> Callable[[Exchange], Generator[Any, Any, Failure]]:
    """A generator function that runs service ``service``'s handler on one request: it
    returns the :data:`~evsim.actors.delivery.Failure` of what the handler raised."""
    callers: dict[tuple[Any, ...], Caller] = {}  # one edge per distinct call, all requests
    rng = world.streams.generator("service", service, "handler")
    mistake = Mistakes(f"service {service!r}", handler, "(request, ctx)")

    def run(exchange: Exchange) -> Generator[Any, Any, Failure]:
        ctx = ServiceContext(world, service, callers, exchange, rng)
        request = ServiceRequest(exchange.request, exchange.key, service, exchange.arrived_at)
        return (yield from run_handler(handler, request, ctx, world.env, mistake))

    return run
