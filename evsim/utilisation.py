"""Utilisation: a consumer group's offered load per parallel slot, ρ = λ·E[S] / c.

Queueing theory's offered load per server, measured on the run:

* λ, the arrival rate: events routed to the group per second of the time it was joined
  (``until − join_at``);
* E[S], the mean service time: the mean duration of the group's processing attempts
  (``finished_at − started_at``, so the time a handler waits on its calls counts; an
  idempotent consumer's skips of duplicates do not); when no attempt has finished yet,
  the mean of the group's ``service_time`` distribution;
* c, the parallel slots: how many events the group can work on at once. In a Kafka group
  a partition has one owner and is read one record at a time, so a group reading topics
  has min(consumers × concurrency, partitions); one reading a queue, consumers ×
  concurrency. An autoscaled group counts the most consumers it had at once: at ρ ≥ 1
  it could not keep up even at its largest.

Below 1 a group keeps up (its waits grow as ρ nears 1); at 1 or more it cannot: its
backlog and latency grow for as long as the run lasts. ρ is the group's average: with
uneven partition shares one consumer can be overloaded while ρ < 1 (six partitions among
five consumers: the one owning two gets a third of the load), and retries add attempts
per event that λ·E[S] does not count.

:func:`warn_overloaded` issues a ``UserWarning`` for each group at ρ ≥ 1 when a run ends.
Measured after the run rather than predicted from the producers' rates up front, because
what reaches a group depends on event-type filters, fan-out filter policies and the events
handlers publish, and how long an attempt takes depends on handlers' waits and slowdowns.
At 1 rather than a little below, because below 1 a system has a steady state however
long its queues: the stable, heavily loaded systems lessons and theory tests study
(ρ = 0.9) should run without warnings.
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from evsim.actors.group import ConsumerGroup
from evsim.records import DUPLICATE, Records
from evsim.records.full import AttemptLog
from evsim.run_record import GroupRun, RunRecord

OVERLOADED = 1.0  # ρ at which a group cannot keep up


@dataclass(frozen=True)
class Load:
    """A consumer group's measured load: ``utilisation = arrival_rate × mean_service /
    slots`` (NaN for a group that never joined)."""

    group: str
    arrival_rate: float  # events routed per second while joined
    mean_service: float  # seconds per processing attempt
    slots: int  # events it can work on at once

    @property
    def utilisation(self) -> float:
        """ρ = λ·E[S] / c: at 1 or more the group cannot keep up."""
        return self.arrival_rate * self.mean_service / self.slots


def loads(run: RunRecord) -> list[Load]:
    """The load of every consumer group of a finished run."""
    attempts = attempt_time(run.records)
    return [group_load(g, run.until, *attempts.get(g.code, (0, 0.0))) for g in run.groups]


def group_load(group: GroupRun, until: float, attempts: int, seconds: float) -> Load:
    """One group's load, given its processing ``attempts`` and their total ``seconds``."""
    joined = until - group.join_at if group.joined else 0.0
    rate = len(group.routed) / joined if joined > 0 else math.nan
    mean = seconds / attempts if attempts else group.mean_service_time
    return Load(group.name, rate, mean, group.slots)


def slots(group: ConsumerGroup) -> int:
    """How many events ``group`` can work on at once: consumers × concurrency, and no more
    than its source partitions (each read one record at a time by its one owner). An
    autoscaled group counts the most consumers it had at once."""
    workers = group.most_consumers * group.config.concurrency
    partitions = sum(topic.partitions for topic in getattr(group.feed, "topics", ()))
    return min(workers, partitions) if partitions else workers


def attempt_time(records: Records) -> dict[int, tuple[int, float]]:
    """Per group code: its processing attempts (duplicates skipped excluded) and their
    total duration in seconds, from the attempt rows or, with ``record="summary"``, the
    tally."""
    log = records.attempts
    if isinstance(log, AttemptLog):
        kept = log.numpy("status") != DUPLICATE
        groups = log.numpy("group")[kept]
        seconds = (log.numpy("finished_at") - log.numpy("started_at"))[kept]
        per_group, totals = np.bincount(groups), np.bincount(groups, weights=seconds)
        return {int(g): (int(per_group[g]), float(totals[g])) for g in np.flatnonzero(per_group)}
    counts: defaultdict[int, int] = defaultdict(int)
    for (group, status), n in log.counts.items():
        if status != DUPLICATE:
            counts[group] += n
    return {group: (n, log.busy[group]) for group, n in counts.items()}


def warn_overloaded(group_loads: Iterable[Load], stacklevel: int = 2) -> None:
    """A ``UserWarning`` for each group whose utilisation is 1 or more, attributed to the
    line ``stacklevel`` frames up, as :func:`warnings.warn` counts (2: this function's
    caller; :meth:`Simulation.run` passes 3, its own caller: the user's ``sim.run``)."""
    for load in group_loads:
        if load.utilisation >= OVERLOADED:  # NaN (never joined) compares False
            warnings.warn(overload_message(load), UserWarning, stacklevel=stacklevel)


def overload_message(load: Load) -> str:
    """What the warning says: the figures, what they mean, and the unit of service_time."""
    units = "service_time is in seconds"
    if load.mean_service >= 1:  # likely milliseconds typed as seconds
        units += ": 20 means 20 s; 20 ms is 0.02"
    slots = f"{load.slots} parallel slot" + ("" if load.slots == 1 else "s")
    return (
        f"consumer group {load.group!r} cannot keep up: utilisation {load.utilisation:.3g} = "
        f"{load.arrival_rate:.4g} events/s × {load.mean_service:.4g} s measured mean service "
        f"time / {slots} (consumers × concurrency, no more than partitions); at 1 or more "
        f"its backlog and latency grow for as long as the run lasts. {units}."
    )
