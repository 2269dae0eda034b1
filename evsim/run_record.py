"""What a run leaves behind: the frozen record a :class:`~evsim.result.Result` reads.

When a run stops, the simulation captures its records, each group's routed events and
codes, the events without an outcome at the stop, and its configuration, in a
:class:`RunRecord`. The result's tables are built from that alone, so a result never
reaches back into the live simulation, and the layers above (views, analysis) see runs
only through results.

:class:`System` is what a simulation is made of, as the estimate of a run's size
(:mod:`evsim.run_budget`) and the topology view read it; a :class:`~evsim.Simulation`
is one, and so is the :class:`Components` snapshot a run record keeps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol

from evsim.actors.cache import Cache
from evsim.actors.client import Client
from evsim.actors.group import ConsumerGroup
from evsim.actors.load_balancer import LoadBalancer
from evsim.actors.producer import Producer
from evsim.actors.service import Service
from evsim.brokers.fanout import Fanout
from evsim.brokers.log import Topic
from evsim.brokers.queue import Queue
from evsim.records import EXPIRED, NAN, CallStatus, Records
from evsim.records.calls import RequestLog
from evsim.records.full import OutcomeLog


class System(Protocol):
    """The components of a simulated system, by name."""

    @property
    def topics(self) -> Mapping[str, Topic]: ...
    @property
    def queues(self) -> Mapping[str, Queue]: ...
    @property
    def fanouts(self) -> Mapping[str, Fanout]: ...
    @property
    def producers(self) -> Mapping[str, Producer]: ...
    @property
    def groups(self) -> Mapping[str, ConsumerGroup]: ...
    @property
    def services(self) -> Mapping[str, Service]: ...
    @property
    def clients(self) -> Mapping[str, Client]: ...
    @property
    def load_balancers(self) -> Mapping[str, LoadBalancer]: ...
    @property
    def caches(self) -> Mapping[str, Cache]: ...


PARTS = (
    "topics", "queues", "fanouts", "producers", "groups",
    "services", "clients", "load_balancers", "caches",
)  # fmt: skip
"""The parts of a :class:`System`, in the order :class:`Components` holds them."""


@dataclass(frozen=True)
class Components:
    """A read-only view of a system's components (what the topology view draws)."""

    topics: Mapping[str, Topic]
    queues: Mapping[str, Queue]
    fanouts: Mapping[str, Fanout]
    producers: Mapping[str, Producer]
    groups: Mapping[str, ConsumerGroup]
    services: Mapping[str, Service]
    clients: Mapping[str, Client]
    load_balancers: Mapping[str, LoadBalancer]
    caches: Mapping[str, Cache]

    @classmethod
    def of(cls, system: System) -> Components:
        """The components of ``system``, in read-only mappings."""
        return cls(*(MappingProxyType(dict(getattr(system, part))) for part in PARTS))


@dataclass(frozen=True)
class GroupRun:
    """One consumer group's part of a run."""

    name: str
    code: int  # its name's code in the records
    routed: Any  # the ids of the events routed to it (a count in summary mode): len() works
    joined: bool  # whether it joined before the run stopped
    join_at: float  # seconds
    mean_service_time: float  # seconds: its service time distribution's mean
    slots: int  # events it can work on at once (evsim.utilisation.slots)


@dataclass(frozen=True)
class ClientRun:
    """One client's part of a run: its requests sent (each must end in one outcome) and
    its timeout (seconds, None: none), which the summary's goodput reads."""

    name: str
    code: int
    sent: int
    timeout: float | None


@dataclass(frozen=True)
class ServiceRun:
    """One service's part of a run, after the warmup: its workers, the requests whose
    work ended (answered or discarded) and its busy worker-seconds."""

    name: str
    code: int
    workers: int
    finished: int
    busy_seconds: float


@dataclass(frozen=True)
class RunRecord:
    """A finished run: ``until`` seconds, statistics after ``warmup`` seconds."""

    records: Records
    groups: tuple[GroupRun, ...]  # in the order the groups were added
    unfinished: OutcomeLog  # a row per routed event without an outcome at the stop
    uncounted: tuple[tuple[int, int], ...]  # (group code, event id): see ConsumerGroup
    config: Mapping[str, Any]
    until: float
    warmup: float
    components: Components
    clients: tuple[ClientRun, ...] = ()  # in the order the clients were added
    services: tuple[ServiceRun, ...] = ()
    pending_requests: RequestLog | None = None  # a row per request in flight at the stop

    @classmethod
    def capture(
        cls,
        system: System,
        records: Records,
        config: Mapping[str, Any],
        until: float,
        warmup: float,
        slots: dict[str, int],
        clients: Iterable[Client] = (),
        services: Iterable[Service] = (),
    ) -> RunRecord:
        """Freeze what ``system`` leaves at the end of a run (``slots``: each group's;
        ``clients``: the request-response side's load generators)."""
        groups = list(system.groups.values())
        clients = list(clients)
        return cls(
            records=records,
            groups=tuple(_group_run(group, slots[group.name]) for group in groups),
            unfinished=_unfinished_rows(groups, records, until),
            uncounted=tuple(
                (group.code, event_id) for group in groups for event_id in group.uncounted_running()
            ),
            config=MappingProxyType({**config, "until": until, "warmup": warmup}),
            until=until,
            warmup=warmup,
            components=Components.of(system),
            clients=tuple(ClientRun(c.name, c.code, c.sent, c.config.timeout) for c in clients),
            services=tuple(
                ServiceRun(s.name, s.code, s.config.workers, s.finished, s.busy_until(until))
                for s in services
            ),
            pending_requests=_pending_requests(clients, until),
        )

    def group(self, name: str) -> GroupRun:
        """The run of the group called ``name``."""
        for group in self.groups:
            if group.name == name:
                return group
        raise KeyError(name)


def _group_run(group: ConsumerGroup, slots: int) -> GroupRun:
    return GroupRun(
        name=group.name,
        code=group.code,
        routed=group.routed,
        joined=group.active,
        join_at=group.config.join_at,
        mean_service_time=group.config.service_distribution.mean,
        slots=slots,
    )


def _pending_requests(clients: Iterable[Client], until: float) -> RequestLog:
    """A row per request still in flight when the run stopped (``pending``; its attempts
    so far are read from the calls when a table is built)."""
    rows = RequestLog()
    for client in clients:
        target = client.target.code if client.target is not None else -1
        for request, (key, sent_at) in client.in_flight.items():
            rows.add(request, client.code, target, key, sent_at, NAN, CallStatus.PENDING, 0)
    return rows


def _unfinished_rows(groups: Iterable[ConsumerGroup], records: Records, until: float) -> OutcomeLog:
    """A row per event without an outcome when the run stopped: ``pending``, or
    ``expired`` at ``until`` if its broker no longer holds it."""
    rows = OutcomeLog()
    unassigned = records.names.code("")
    for group in groups:
        for event_id, outcome, consumer in group.unfinished():
            rows.add(
                event_id, group.code, unassigned if consumer is None else consumer.code,
                outcome, 0, float("nan"), until if outcome == EXPIRED else float("nan"),
            )  # fmt: skip
    return rows
