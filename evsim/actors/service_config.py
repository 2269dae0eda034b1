"""A request-response service's description: every setting, checked once.

:class:`ServiceConfig` is the one place a service's keyword arguments are spelled:
``sim.service(...)`` takes its fields (its signature and help are read from here), and
:class:`~evsim.actors.service.Service` is built from one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar

from evsim import _check, limits
from evsim.actors.admission import Throttle
from evsim.actors.faults import (
    CapacityLoss,
    Crashes,
    Fault,
    MemberFault,
    Outage,
    Slowdown,
    TransientErrors,
    as_faults,
)
from evsim.actors.load_latency import LoadLatency
from evsim.actors.request import Call
from evsim.actors.work_config import WorkFields
from evsim.component_config import ComponentConfig
from evsim.errors import ConfigError, ConfigTypeError
from evsim.workload.dist import Distribution, as_distribution

QUEUE_ORDERS = ("fifo", "lifo")
SERVICE_FAULTS = (TransientErrors, Crashes, Outage, Slowdown, CapacityLoss)


@dataclass(frozen=True)
class ServiceConfig(WorkFields, ComponentConfig):
    """A service answering requests with ``workers`` at once.

    ``name``
        unique among the simulation's components (what clients and calls target).
    ``workers``
        requests served at once (threads, or a connection pool's size); default 1.
    ``service_time``
        the seconds one request's own work takes: a distribution or a number (default 0).
    ``queue_limit``
        requests that may wait for a worker; one more is refused at once (HTTP 503,
        status ``rejected``). None (the default): no limit.
    ``queue_order``
        ``"fifo"`` (the default: the oldest waiting request is served next) or
        ``"lifo"`` (the newest first: the AWS Builders' Library's remedy for a backlog,
        whose oldest requests have usually been given up on by their callers already).
    ``load_latency``
        an ``ev.LoadLatency(mode, factor, exponent=2)``: service times grow with the
        share of busy workers (GC pressure, lock contention). None: they do not.
    ``calls``
        ``ev.Call``s to other services, made in order after the service's own work,
        while the worker waits for each (a thread-per-request server); a failed call
        fails the request (status ``error``). ``parallel=True``: all at once.
    ``handler``
        instead of ``calls``: ``fn(request, ctx)``, the service's logic after its own
        work, usually a generator that calls services with ``yield ctx.call(...)`` and
        publishes events with ``ctx.publish(...)``; it answers ``ok`` by returning and
        ``error`` by raising (see :mod:`~evsim.actors.service_handler`).
    ``shed_after``
        seconds: a queued request that has waited longer when a worker would take it is
        dropped (``rejected``) instead of served late. None (the default): never.
    ``max_in_flight``
        requests the service holds at most, served and waiting; one more is refused
        (``rejected``). None: no cap (``queue_limit`` still applies).
    ``throttle``
        an ``ev.Throttle(rate, burst=None)``: admission at most ``rate`` a second,
        the excess refused at once (HTTP 429, ``rejected``). None: no rate limit.
    ``faults``
        ``ev.TransientErrors(p)`` (a request fails after its work, with probability
        ``p``), ``ev.Crashes(mttf, mttr)`` and ``ev.Outage(start, end)`` (a down service
        refuses new requests at once; those it was serving or queuing fail),
        ``ev.Slowdown(start, end, factor)`` (a latency spike), ``ev.CapacityLoss(start,
        end, workers)`` (fewer workers for a while). One or a list; default none.
    """

    METHOD: ClassVar[str] = "service"

    name: str
    workers: int = 1
    service_time: Distribution | float = 0.0
    _: KW_ONLY
    queue_limit: int | None = None
    queue_order: str = "fifo"
    load_latency: LoadLatency | None = None
    calls: Iterable[Call] = ()
    parallel: bool = False
    handler: Callable[..., Any] | None = None
    shed_after: float | None = None
    max_in_flight: int | None = None
    throttle: Throttle | None = None
    faults: Iterable[Fault] | Fault | None = None

    def __post_init__(self) -> None:
        """Check every field (the targets of ``calls`` are found when the run starts)."""
        limits.at_most("workers", self.workers, "MAX_WORKERS", "the limit a consumer group has")
        workers = _check.integer("workers", self.workers, minimum=1)
        queue_limit = self.queue_limit
        if queue_limit is not None:
            queue_limit = _check.integer("queue_limit", queue_limit, minimum=0)
        faults = _service_faults(as_faults(self.faults), workers)
        self._keep(
            {
                "name": _check.name("name", self.name),
                "workers": workers,
                "service_time": as_distribution(self.service_time, "service_time"),
                "queue_limit": queue_limit,
                "queue_order": _check.choice("queue_order", self.queue_order, QUEUE_ORDERS),
                "load_latency": _load_latency(self.load_latency),
                "calls": _calls(self.calls),
                "parallel": _check.flag("parallel", self.parallel),
                "handler": _handler(self.handler, self.calls),
                "shed_after": _optional(self.shed_after, "shed_after", _check.positive),
                "max_in_flight": _optional(self.max_in_flight, "max_in_flight", _at_least_one),
                "throttle": _throttle(self.throttle),
                "faults": faults,
            }
        )

    @property
    def call_list(self) -> list[Call]:
        """``calls`` as a list."""
        calls = self.calls
        assert isinstance(calls, list)
        return calls


def _service_faults(faults: list[Fault], workers: int) -> list[Fault]:
    for index, fault in enumerate(faults):
        if not isinstance(fault, SERVICE_FAULTS):
            names = ", ".join(f"ev.{kind.__name__}" for kind in SERVICE_FAULTS)
            raise ConfigTypeError(
                f"faults[{index}]: a service takes {names}; got {fault!r} (poison events "
                "and contention are consumer-group faults)"
            )
        if isinstance(fault, MemberFault) and fault.consumers is not None:
            raise ConfigError(
                f"faults[{index}]: a service's {type(fault).__name__} takes the whole "
                f"service down: leave consumers unset, got {list(fault.consumers)}"
            )
        if isinstance(fault, CapacityLoss) and fault.workers > workers:
            raise ConfigError(
                f"faults[{index}]: CapacityLoss removes {fault.workers} workers, but the "
                f"service has {workers}"
            )
    return faults


def _handler(value: Any, calls: Any) -> Callable[..., Any] | None:
    if value is None:
        return None
    if not callable(value):
        raise ConfigTypeError(
            f"handler: expected a function fn(request, ctx) or None, got {value!r}"
        )
    if calls:
        raise ConfigError(
            "handler: give calls or a handler, not both (a handler makes its calls with "
            "'yield ctx.call(...)')"
        )
    handler: Callable[..., Any] = value
    return handler


def _optional(value: Any, argument: str, check: Callable[[str, Any], Any]) -> Any:
    return None if value is None else check(argument, value)


def _at_least_one(argument: str, value: Any) -> int:
    return _check.integer(argument, value, minimum=1)


def _throttle(value: Any) -> Throttle | None:
    if value is None or isinstance(value, Throttle):
        return value
    raise ConfigTypeError(
        f"throttle: expected ev.Throttle(rate, burst=None) or None, got {value!r}"
    )


def _load_latency(value: Any) -> LoadLatency | None:
    if value is None or isinstance(value, LoadLatency):
        return value
    raise ConfigTypeError(
        f"load_latency: expected ev.LoadLatency(mode, factor, exponent=2) or None, got {value!r}"
    )


def _calls(value: Any) -> list[Call]:
    items = [value] if isinstance(value, Call) else value
    if isinstance(items, str | bytes) or not isinstance(items, Iterable):
        raise ConfigTypeError(f"calls: expected a list of ev.Call(target, ...), got {value!r}")
    calls = list(items)
    for index, call in enumerate(calls):
        if not isinstance(call, Call):
            raise ConfigTypeError(
                f"calls[{index}]: expected ev.Call(target, timeout=..., retry=...), got {call!r}"
            )
    return calls
