"""Faults to inject into a consumer group: failing attempts, crashes, scheduled trouble.

* :class:`TransientErrors` — each attempt fails with probability ``p`` (timeouts,
  throttling): a retry usually succeeds.
* :class:`PoisonEvents` — some events fail on every attempt (a malformed payload): only
  a dead-letter queue gets them out of the way.
* :class:`Crashes` — each consumer stops after an up-time (mean ``mttf`` seconds) and
  restarts after a repair time (mean ``mttr`` seconds), losing the work in hand.
* :class:`Outage` — every consumer of the group is down from ``start`` to ``end``.
* :class:`Slowdown` — service times are ``factor`` times longer from ``start`` to ``end``.
* :class:`CapacityLoss` — a request-response service has fewer workers for a while (a
  service's fault only: a group loses consumers by :class:`Crashes` or :class:`Outage`).
* :class:`Contention` — attempts write one resource (or one per key) under optimistic
  concurrency control: a write fails with :class:`ConflictError` when another attempt's
  write landed since this one read (the AWS "Exponential Backoff and Jitter" model).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from evsim import _check
from evsim.errors import ConfigError, ConfigTypeError
from evsim.records.event import Event
from evsim.workload.dist import Distribution, Exponential, as_distribution
from evsim.workload.specs import Specified

_MASK64 = (1 << 64) - 1


class TransientError(Exception):
    """A simulated failure that may not happen again (a timeout, a throttled call)."""


class ConflictError(TransientError):
    """A conditional write refused: the resource changed since the attempt read it.

    Optimistic concurrency control's lost race (DynamoDB's
    ``ConditionalCheckFailedException``): a retry, with a fresh read, may win. A subclass
    of :class:`TransientError`, so ``retry_on=["TransientError"]`` retries it too.
    """


class PoisonEventError(Exception):
    """A simulated event that can never be processed (a payload the consumer rejects)."""


class Fault(Specified):
    """Base of the faults a consumer group accepts in ``faults=[...]``."""


class TransientErrors(Fault):
    """Each processing attempt fails with probability ``p``, independently."""

    kind = "transient_errors"

    def __init__(self, p: float) -> None:
        self.p = _check.probability("p", p)

    def _params(self) -> dict[str, Any]:
        return {"p": self.p}


class PoisonEvents(Fault):
    """Events that fail on every attempt: a share ``p`` of them, or those ``match`` picks.

    Which events are poison depends on the simulation's seed and the event id only, so
    every group with the same ``p`` sees the same poison events, and a larger ``p`` keeps
    the poison events of a smaller one.
    """

    kind = "poison_events"

    def __init__(self, p: float | None = None, match: Callable[[Event], bool] | None = None):
        if (p is None) == (match is None):
            raise ConfigError("PoisonEvents: give exactly one of p (a share) or match (fn)")
        if match is not None and not callable(match):
            raise ConfigTypeError(f"match: expected a function fn(event) -> bool, got {match!r}")
        self.p = None if p is None else _check.probability("p", p)
        self.match = match

    def _params(self) -> dict[str, Any]:
        if self.match is not None:
            return {"match": getattr(self.match, "__qualname__", repr(self.match))}
        return {"p": self.p}

    def is_poison(self, event_id: int, salt: int, event: Callable[[], Event]) -> bool:
        """Whether the event is poison (``event`` builds the Event only when needed)."""
        if self.match is not None:
            return bool(self.match(event()))
        assert self.p is not None  # exactly one of p and match is given
        return _unit_hash(event_id, salt) < self.p


class MemberFault(Fault):
    """A fault that takes consumers down: all of the group's, or those named."""

    consumers: tuple[str, ...] | None

    def applies_to(self, consumer: str) -> bool:
        """Whether the consumer called ``consumer`` suffers this fault."""
        return self.consumers is None or consumer in self.consumers


class Crashes(MemberFault):
    """Consumers crash after up-times of mean ``mttf`` s and restart after mean ``mttr`` s.

    A number is the mean of an exponential distribution; a distribution is used as given.
    ``consumers`` names the consumers that crash (all of the group's by default). Up-times
    and repair times that are both always 0 (``ev.Constant(0)``, ``ev.Uniform(0, 0)``) are
    refused: the consumers would crash and restart forever without the clock moving.
    """

    kind = "crashes"

    def __init__(
        self,
        mttf: Distribution | float,
        mttr: Distribution | float,
        consumers: Iterable[str] | None = None,
    ) -> None:
        self.mttf = _as_duration(mttf, "mttf")
        self.mttr = _as_duration(mttr, "mttr")
        if self.mttf.mean + self.mttr.mean <= 0:  # non-negative durations: both always 0
            raise ConfigError(
                f"mttr: with mttf {self.mttf!r} and mttr {self.mttr!r} every crash and "
                "restart would come at the same instant, forever; give mttf or mttr a mean "
                "> 0 seconds"
            )
        self.consumers = _names(consumers)

    def _params(self) -> dict[str, Any]:
        return {
            "mttf": self.mttf.spec(),
            "mttr": self.mttr.spec(),
            "consumers": None if self.consumers is None else list(self.consumers),
        }


class Outage(MemberFault):
    """Consumers are down from ``start`` to ``end`` (seconds): all of the group's, or the
    ``consumers`` named (e.g. ``["inventory-service-1"]``)."""

    kind = "outage"

    def __init__(self, start: float, end: float, consumers: Iterable[str] | None = None):
        self.start, self.end = _window(start, end)
        self.consumers = _names(consumers)

    def _params(self) -> dict[str, Any]:
        names = None if self.consumers is None else list(self.consumers)
        return {"start": self.start, "end": self.end, "consumers": names}


class Slowdown(Fault):
    """Service times are ``factor`` times their usual length from ``start`` to ``end``."""

    kind = "slowdown"

    def __init__(self, start: float, end: float, factor: float) -> None:
        self.start, self.end = _window(start, end)
        self.factor = _check.positive("factor", factor)

    def _params(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "factor": self.factor}


class CapacityLoss(Fault):
    """A service has ``workers`` fewer workers from ``start`` to ``end`` (seconds): hosts
    lost or a pool shrunk. Requests already in progress finish; no new one starts while
    the busy workers are at the reduced count."""

    kind = "capacity_loss"

    def __init__(self, start: float, end: float, workers: int) -> None:
        self.start, self.end = _window(start, end)
        self.workers = _check.integer("workers", workers, minimum=1)

    def _params(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "workers": self.workers}


CONTENTION_SCOPES = ("group", "key")


class Contention(Fault):
    """Attempts contend for a resource under optimistic concurrency control (OCC).

    Each attempt reads the resource's version, does its work, and writes on condition that
    the version is unchanged (DynamoDB's conditional write). The write fails with
    :class:`ConflictError` when another attempt's write succeeded after this one's read:
    of attempts racing over one version, the first to write wins, the others retry.

    ``latency`` is the one-way network delay between a consumer and the resource, in
    seconds (a distribution or a number; default 0). An attempt is then a remote call of
    four legs, each drawn on its own: the read request (then the read), the read's reply
    and, after the service time, the write request (then the write), and the write's
    reply; ``service_time`` and a handler's waits count between the read and the write.
    With ``latency=0`` the read is at the attempt's start and the write at its end.

    ``scope`` says what is contended: ``"group"`` (the default) one resource for all the
    group's events, as the one database row of the AWS article; ``"key"`` one resource per
    event key (events without a key share one), so only events of a key race.

    Source: Marc Brooker, "Exponential Backoff And Jitter", AWS Architecture Blog (2015),
    and its simulator (github.com/aws-samples/aws-arch-backoff-simulator): N clients each
    read the row's version and write it once; a write with a stale version fails, and the
    client backs off and reads again; network legs ``abs(normal(10 ms, 2 ms))``
    (``ev.FoldedNormal(0.010, 0.002)``). A write refused by another fault (a transient
    error, a poison event, a failing handler) is not made; a crash after a write keeps it.
    """

    kind = "contention"

    def __init__(self, latency: Distribution | float = 0.0, scope: str = "group") -> None:
        self.latency = as_distribution(latency, "latency")
        self.scope = _check.choice("scope", scope, CONTENTION_SCOPES)

    def _params(self) -> dict[str, Any]:
        return {"latency": self.latency.spec(), "scope": self.scope}


KINDS: dict[str, type[Fault]] = {
    cls.kind: cls
    for cls in (TransientErrors, PoisonEvents, Crashes, Outage, Slowdown, CapacityLoss, Contention)
}
"""Every fault by its kind, as scenario files name it (each component refuses those it
does not take)."""


def as_faults(value: Iterable[Fault] | Fault | None, argument: str = "faults") -> list[Fault]:
    """A list of faults from a list, a single fault or None."""
    if value is None:
        return []
    items = [value] if isinstance(value, Fault) else list(value)
    for index, item in enumerate(items):
        if not isinstance(item, Fault):
            raise ConfigTypeError(
                f"{argument}[{index}]: expected a fault such as ev.TransientErrors(p=0.05), "
                f"got {item!r}"
            )
    return items


def _names(value: Iterable[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = (value,) if isinstance(value, str) else tuple(value)
    for name in names:
        _check.name("consumers", name)
    return names


def _as_duration(value: Distribution | float, argument: str) -> Distribution:
    if isinstance(value, Distribution):
        return value
    return Exponential(mean=_check.positive(argument, value))


def _window(start: float, end: float) -> tuple[float, float]:
    start = _check.non_negative("start", start)
    end = _check.positive("end", end)
    if end <= start:
        raise ConfigError(f"end: must be after start ({start}), got {end!r}")
    return start, end


def _unit_hash(value: int, salt: int) -> float:
    """A uniform number in [0, 1) from ``value`` and ``salt`` (splitmix64's finaliser)."""
    z = (value + salt * 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return ((z ^ (z >> 31)) >> 11) / float(1 << 53)
