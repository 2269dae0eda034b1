"""How much a run will do, checked before it starts, and what to say when a run stops
making progress in simulated time.

Before a run, :func:`check` estimates the events it will schedule from what is known up
front (times in seconds, rates per second):

* each producer's arrivals in ``[start, min(stop, until))``, and each client's requests:
  its arrivals, or for a closed loop users × the span / (mean think time + its target's
  mean service time);
* the gauge samples: ``until / sample_interval + 1`` ticks, each writing one row per gauge
  (a lag per partition and two more per group, a depth per queue and dead-letter target);
* each crashing consumer's or service's crashes and restarts: two per
  ``mean(mttf) + mean(mttr)``;
* each at-least-once topic group's auto-commits: one per ``commit_interval``;
* each autoscaled group's decisions: one per ``polling_interval``.

A run estimated above ``max_events`` is refused, naming the largest parts; follow-up
events of handlers, retries and redeliveries are not counted (they are seldom the bulk).
A run that stops moving the clock is stopped by :class:`~evsim.engine.Clock`'s watchdog;
:func:`stall_hint` words the likely cause from what was published at that instant.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Protocol

from evsim import _check, limits
from evsim.actors.faults import Crashes
from evsim.actors.sampler import dead_letter_targets
from evsim.errors import ConfigError
from evsim.records import Records
from evsim.run_record import System


class Plan(System, Protocol):
    """What the estimate reads of a simulation about to run: its components, how it
    records (``record``, ``records``) and its gauges' ``sample_interval`` (seconds)."""

    @property
    def record(self) -> str: ...
    @property
    def records(self) -> Records: ...
    @property
    def sample_interval(self) -> float: ...


Part = tuple[str, float]
"""(what, estimated events): one part of a run's estimate."""

RECENT_EVENTS = 10_000  # published events read back to see who published at a stalled instant
MANY_EVENTS = 100  # fewer published at that instant say nothing about the stall
CAUSES = (
    "usual causes: a handler with zero service time publishing to a topic or queue its own "
    "group reads; Crashes whose up-times and repair times are (nearly) zero; retries in "
    "place with zero backoff and zero service time; a closed-loop client (users) whose think "
    "time and target's service time are both zero"
)


def max_events(record: str, value: Any) -> float:
    """The limit ``run(max_events=value)`` sets: the record mode's default for None,
    ``math.inf`` for no limit, else a number > 0."""
    if value is None:
        return limits.MAX_EVENTS_FULL if record == "full" else limits.MAX_EVENTS_SUMMARY
    if value == math.inf:
        return math.inf
    return _check.positive("max_events", value)


def check(sim: Plan, until: float, limit: float) -> None:
    """Refuse (ConfigError) a run of ``until`` seconds estimated above ``limit`` events."""
    parts = estimate(sim, until)
    total = sum(count for _, count in parts)
    if total <= limit:
        return
    largest = [
        part for part in sorted(parts, key=lambda part: -part[1])[:3] if part[1] >= total / 100
    ]
    listed = "; ".join(what for what, _ in largest)
    default = (
        ""
        if limit not in (limits.MAX_EVENTS_FULL, limits.MAX_EVENTS_SUMMARY)
        else (f", the default with record={sim.record!r}")
    )
    raise ConfigError(
        f"run: {until:g} s would take about {total:.3g} events ({listed}), over "
        f"max_events={limits.amount(limit)}{default}; shorten until, lower those rates, or "
        "pass run(..., max_events=N) (evsim run --max-events N) to allow more"
    )


def estimate(sim: Plan, until: float) -> list[Part]:
    """The parts of a run's estimated events (see the module's docstring)."""
    return [
        *_arrivals(sim, until), *_requests(sim, until), _samples(sim, until),
        *_group_cycles(sim, until), *_service_cycles(sim, until),
    ]  # fmt: skip


def _arrivals(sim: Plan, until: float) -> list[Part]:
    parts = []
    for producer in sim.producers.values():
        config = producer.config
        end = until if config.stop is None else min(until, config.stop)
        count = config.arrivals.expected_count(config.start, end) if end > config.start else 0
        rate = config.arrivals.rate
        parts.append((f"producer {producer.name!r}: {count:.3g} arrivals at {rate:.3g}/s", count))
    return parts


def _requests(sim: Plan, until: float) -> list[Part]:
    parts = []
    for client in sim.clients.values():
        config = client.config
        end = until if config.stop is None else min(until, config.stop)
        span = max(0.0, end - config.start)
        if config.arrivals is not None:
            count = config.arrivals.expected_count(config.start, end) if span else 0.0
            what = f"client {client.name!r}: {count:.3g} requests at {config.arrivals.rate:.3g}/s"
        else:
            target = sim.services.get(config.target)
            service = target.config.service_distribution.mean if target is not None else 0.0
            cycle = config.think_distribution.mean + service
            users = config.users or 0
            count = users * span / cycle if cycle > 0 else float(users)  # 0: the watchdog's
            what = f"client {client.name!r}: {count:.3g} requests from {users} users"
        parts.append((what, count))
    return parts


def _service_cycles(sim: Plan, until: float) -> list[Part]:
    parts = []
    for service in sim.services.values():
        for fault in service.config.fault_list:
            if isinstance(fault, Crashes):
                cycle = fault.mttf.mean + fault.mttr.mean
                count = 2 * until / cycle
                what = f"service {service.name!r}: {count:.3g} crashes and restarts"
                parts.append((what, count))
    return parts


def _samples(sim: Plan, until: float) -> Part:
    groups, queues = sim.groups.values(), sim.queues.values()
    gauges = sum(len(group.partitions) + 2 for group in groups) + len(queues)
    gauges += len(dead_letter_targets(groups, queues))
    gauges += 2 * len(sim.services) + len(sim.clients)  # (caches, breakers: seldom the bulk)
    ticks = until / sim.sample_interval  # inf past float64, which floor() refuses
    ticks = math.floor(ticks) + 1 if math.isfinite(ticks) else math.inf
    count = ticks * max(gauges, 1)
    what = (
        f"samples: {ticks:.3g} ticks of sample_interval={sim.sample_interval:g} s × {gauges} gauges"
    )
    return what, float(count)


def _group_cycles(sim: Plan, until: float) -> list[Part]:
    parts = []
    for group in sim.groups.values():
        for fault in group.config.fault_list:
            if isinstance(fault, Crashes):
                cycle = fault.mttf.mean + fault.mttr.mean  # > 0: Crashes refuses 0
                members = sum(fault.applies_to(m.name) for m in group.members)
                count = 2 * members * until / cycle
                what = (
                    f"group {group.name!r}: {count:.3g} crashes and restarts, one per {cycle:g} s"
                )
                parts.append((what, count))
        interval = group.config.commit_interval
        if group.partitions and group.config.commit == "after" and interval > 0:
            count = until / interval
            what = f"group {group.name!r}: {count:.3g} auto-commits every {interval:g} s"
            parts.append((what, count))
        autoscale = group.config.autoscale
        if autoscale is not None:
            polling = autoscale.polling_interval
            count = until / polling
            parts.append(
                (f"group {group.name!r}: {count:.3g} autoscaler polls every {polling:g} s", count)
            )
    return parts


def stall_hint(sim: Plan, now: float, steps: Counter[str]) -> str:
    """The likely cause of a run stuck at ``now`` seconds: who published most of the
    events at that instant (and whether to a source of its own group), the groups whose
    configuration allows a loop at one instant, else the usual causes."""
    crashing = any(name.endswith("_crash_loop") for name in steps)
    hints = [_publishers(sim, now), *_suspects(sim, crashing)]
    if len(hints) == 1:
        hints.append(CAUSES)
    hints.append("if so many steps at one instant are expected, pass run(..., stall_after=N)")
    return "; ".join(hint for hint in hints if hint)


def _suspects(sim: Plan, crashing: bool) -> list[str]:
    """Groups configured so that they can loop without the clock moving."""
    found = []
    for group in sim.groups.values():
        config = group.config
        instant = config.service_distribution.mean == 0
        retry, name = config.retry_policy, repr(group.name)
        if instant and config.handler is not None:
            found.append(f"group {name} has a handler and zero service time")
        if instant and retry.blocking and retry.max_attempts > 1 and retry.backoff.cap == 0:
            found.append(
                f"group {name} retries in place (max_attempts={retry.max_attempts:,}) with "
                "zero backoff and zero service time"
            )
        if crashing and any(isinstance(fault, Crashes) for fault in config.fault_list):
            found.append(f"consumers of group {name} crash and restart at this instant")
    return found


def _publishers(sim: Plan, now: float) -> str:
    """``group 'g' published 5,000 events to 't', which it reads`` for the top publisher
    of the last events, all published at ``now``; empty if they are few."""
    events, names = sim.records.events, sim.records.names.names
    tally: Counter[tuple[str, str]] = Counter()
    for event_id in range(len(events) - 1, max(-1, len(events) - 1 - RECENT_EVENTS), -1):
        try:
            if events.published_at[event_id] != now:
                break
            tally[names[events.producer[event_id]], names[events.target[event_id]]] += 1
        except KeyError:  # summary recording has forgotten it
            break
    if not tally or tally.total() < MANY_EVENTS:
        return ""
    (producer, target), count = tally.most_common(1)[0]
    group = sim.groups.get(producer)
    kind = "group" if group is not None else "producer"
    text = f"{kind} {producer!r} published {count:,} events to {target!r} at this instant"
    source = [] if group is None else group.spec()["source"]
    if target in (source if isinstance(source, list) else [source]):
        text += ", which it reads itself"
    return text
