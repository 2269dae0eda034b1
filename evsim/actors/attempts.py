"""A consumer group's attempt policy: what the injected faults do to an attempt, how long
it takes under a slowdown, and how long a worker backs off before retrying.

Rules modelled: a transient error fails an attempt with probability ``p``, drawn from the
group's own random stream, so another group's faults do not shift it; a poison event
fails every attempt (the same events for a given seed: the choice is a hash of the seed
and the event); a ``Slowdown`` multiplies the service time of the attempts that start in
its window; a ``Contention`` fault makes attempts race for one resource under optimistic
concurrency (:mod:`evsim.actors.contention`); a retry waits the backoff's delay (with its
jitter, drawn per worker, as each client of the AWS "Exponential Backoff and Jitter"
article draws its own).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from evsim.actors.contention import ContendedResource
from evsim.actors.delivery import NO_FAILURE, Failure, failure
from evsim.actors.faults import (
    Contention,
    Fault,
    PoisonEventError,
    PoisonEvents,
    Slowdown,
    TransientError,
    TransientErrors,
)
from evsim.actors.retry import Retry
from evsim.errors import ConfigError
from evsim.records.event import Event
from evsim.workload.rng import Streams

POISON = failure(PoisonEventError, "the event cannot be processed")


class AttemptPolicy:
    """The faults, retries and backoff of one consumer group's attempts."""

    __slots__ = ("_draw", "_event", "_poison", "_slowdowns", "_streams", "_transient",
                 "contention", "group", "has_failures", "has_slowdowns", "retry")  # fmt: skip

    def __init__(
        self,
        streams: Streams,
        group: str,
        faults: Iterable[Fault],
        retry: Retry,
        event: Callable[[int], Event],
    ) -> None:
        """``event(event_id)`` reads an event (a poison rule or a per-key contention may
        look at it). ``contention`` is the group's contended resource (None without a
        ``Contention`` fault; at most one is allowed)."""
        faults = list(faults)
        self.group = group
        self.retry = retry
        self._streams = streams
        self._event = event
        self._transient = [f for f in faults if isinstance(f, TransientErrors)]
        self._poison = [f for f in faults if isinstance(f, PoisonEvents)]
        self._slowdowns = [f for f in faults if isinstance(f, Slowdown)]
        self.has_slowdowns = bool(self._slowdowns)
        self.has_failures = bool(self._transient or self._poison)
        self._draw = streams.generator("group", group, "faults").random if self._transient else None
        contended = [f for f in faults if isinstance(f, Contention)]
        if len(contended) > 1:
            raise ConfigError(
                f"faults: at most one ev.Contention per consumer group, got {len(contended)}; "
                "scope='key' gives each event key its own resource"
            )
        self.contention = (
            ContendedResource(contended[0], streams, group, event) if contended else None
        )

    def injected_failure(self, event_id: int, attempt: int) -> Failure:
        """The error an injected fault causes on this attempt (NO_FAILURE if none)."""
        for poison in self._poison:
            if poison.is_poison(event_id, self._streams.seed, lambda: self._event(event_id)):
                return POISON
        if self._draw is not None:
            for transient in self._transient:
                if self._draw() < transient.p:
                    return failure(TransientError, f"attempt {attempt} failed")
        return NO_FAILURE

    def slowdown(self, now: float) -> float:
        """How many times longer service takes at ``now`` (1 outside any Slowdown)."""
        factor = 1.0
        for window in self._slowdowns:
            if window.start <= now < window.end:
                factor *= window.factor
        return factor

    def backoff_delays(self, consumer: str, worker: int) -> Callable[[int], float]:
        """A function giving the delay (seconds) before retry n (0-based) for one worker."""
        backoff = self.retry.backoff
        if backoff.jitter == "none":
            return backoff.nominal
        draw = self._streams.generator("group", self.group, "backoff", consumer, str(worker))
        previous = [backoff.base]

        def delay(retry: int) -> float:
            previous[0] = backoff.delay(retry, previous[0], float(draw.random()))
            return previous[0]

        return delay
