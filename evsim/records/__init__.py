"""Layer 2, the records: columnar, append-only logs of what happened in a run.

Two recorders write the same calls: :mod:`evsim.records.full` keeps a row per event,
attempt, outcome and gauge sample; :mod:`evsim.records.summary` keeps aggregates only, in
memory that does not grow with the run. :class:`Records` chooses one (the factory above
both); components write through the :class:`Recorder` protocol and never ask which.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple, Protocol, TypeVar

from evsim.records import calls, full, summary
from evsim.records.codes import (
    CALL_STATUSES,
    CRASHED,
    DEAD_LETTERED,
    DUPLICATE,
    ERROR,
    EXPIRED,
    LOST,
    NAN,
    NOT_YET,
    OK,
    OUTCOMES,
    PENDING,
    PROCESSED,
    STATUSES,
    CallStatus,
    Interner,
    Outcome,
    Status,
)
from evsim.records.event import Event

__all__ = [
    "CALL_STATUSES",
    "CRASHED",
    "DEAD_LETTERED",
    "DUPLICATE",
    "ERROR",
    "EXPIRED",
    "LOST",
    "NAN",
    "NOT_YET",
    "OK",
    "OUTCOMES",
    "PENDING",
    "PROCESSED",
    "RECORD_MODES",
    "STATUSES",
    "CallStatus",
    "Interner",
    "Outcome",
    "Recorder",
    "Records",
    "Status",
]  # fmt: skip

RECORD_MODES = ("full", "summary")


Value = TypeVar("Value", covariant=True)


class Rows(Protocol[Value]):
    """One field of the events, read by event id."""

    def __getitem__(self, event_id: int, /) -> Value: ...


class EventRecorder(Protocol):
    """The events: :class:`~evsim.records.full.EventLog` keeps them all,
    :class:`~evsim.records.summary.SparseEventLog` those a broker still holds. Fields are
    read by event id: names as interned codes, times in seconds, -1 for no original."""

    @property
    def names(self) -> Interner: ...
    @property
    def event_type(self) -> Rows[int]: ...
    @property
    def key(self) -> Rows[str | None]: ...
    @property
    def producer(self) -> Rows[int]: ...
    @property
    def target(self) -> Rows[int]: ...
    @property
    def published_at(self) -> Rows[float]: ...
    @property
    def payload(self) -> Rows[Any]: ...
    @property
    def schema_version(self) -> Rows[int]: ...
    @property
    def original(self) -> Rows[int]: ...
    @property
    def attributes(self) -> Rows[Mapping[str, Any] | None]: ...

    @property
    def add(self) -> Callable[..., int]:
        """``add(event_type, key, producer, target, published_at, payload, schema_version,
        cause, attributes, original=-1)``: record a newly published event, return its id
        (see :class:`~evsim.records.full.EventLog`)."""

    def place(self, event_id: int, partition: int, offset: int, time: float) -> None:
        """Where and when (seconds) a topic appended the event."""

    def reached(self, event_id: int, broker: int, time: float) -> None:
        """A copy of the event reached ``broker`` (a queue or fanout code) at ``time``."""

    def hold(self, event_id: int) -> None:
        """One more broker or consumer holds the event."""

    def release(self, event_id: int) -> None:
        """One holder fewer: summary mode forgets an event nobody holds."""

    def event(self, event_id: int) -> Event:
        """The event as an immutable :class:`~evsim.records.event.Event`."""


class AttemptRecorder(Protocol):
    """Processing attempts: a row each (full) or counts and busy time per group."""

    @property
    def add(self) -> Callable[..., None]:
        """``add(event, group, consumer, attempt, started_at, finished_at, status,
        error=None)``: one attempt (see :class:`~evsim.records.full.AttemptLog`)."""


class OutcomeRecorder(Protocol):
    """Each event's final outcome in each group: a row each, or counts and latencies."""

    @property
    def add(self) -> Callable[..., None]:
        """``add(event, group, consumer, outcome, attempts, first_attempt_at, completed_at,
        published_at)``: one outcome (see :class:`~evsim.records.full.OutcomeLog`)."""


class GaugeRecorder(Protocol):
    """Gauge samples (lag, depth, consumers up): a row each, or count, sum and maximum."""

    def add(self, time: float, metric: int, entity: int, value: float) -> None:
        """One sample at ``time`` (seconds) of gauge ``metric`` for ``entity`` (codes)."""

    def group_lag(self, group: int, total: float) -> None:
        """A group's total lag at a sample (records), for its peak."""


class RoutedLog(Protocol):
    """The events routed to a group: their ids (full) or just a count (summary)."""

    def append(self, event_id: int, /) -> None: ...

    def extend(self, event_ids: Iterable[int], /) -> None: ...

    def __len__(self) -> int: ...


class RequestRecorder(Protocol):
    """Client requests: a row each (full) or counts and latencies per client."""

    @property
    def next_id(self) -> Callable[[], int]:
        """A new request id (0, 1, ...), taken when the request is sent."""

    @property
    def add(self) -> Callable[..., None]:
        """``add(request, client, target, key, sent_at, completed_at, outcome, attempts)``:
        one ended request (see :class:`~evsim.records.calls.RequestLog`)."""


class CallRecorder(Protocol):
    """Call attempts on every edge: a row each (full) or counts per callee and edge."""

    @property
    def add(self) -> Callable[..., None]:
        """``add(request, caller, callee, attempt, started_at, finished_at, status,
        queue_wait)``: one call attempt (see :class:`~evsim.records.calls.CallLog`)."""


class Recorder(Protocol):
    """What components write through: one name interner and six logs (read-only here:
    :class:`Records` chooses them)."""

    @property
    def names(self) -> Interner: ...
    @property
    def full(self) -> bool: ...
    @property
    def events(self) -> EventRecorder: ...
    @property
    def attempts(self) -> AttemptRecorder: ...
    @property
    def outcomes(self) -> OutcomeRecorder: ...
    @property
    def gauges(self) -> GaugeRecorder: ...
    @property
    def requests(self) -> RequestRecorder: ...
    @property
    def calls(self) -> CallRecorder: ...

    def routed_log(self) -> RoutedLog:
        """Where a group notes the events routed to it."""


class Records:
    """All the logs of one run, sharing one name interner.

    ``record="full"`` keeps a row per event, attempt, outcome and gauge sample;
    ``record="summary"`` keeps aggregates only (:mod:`evsim.records.summary`).
    """

    def __init__(self, record: str = "full") -> None:
        self.names = Interner()
        self.full = record == "full"
        self.events: full.EventLog | summary.SparseEventLog
        self.attempts: full.AttemptLog | summary.AttemptTally
        self.outcomes: full.OutcomeLog | summary.OutcomeTally
        self.gauges: full.GaugeLog | summary.GaugeTally
        self.requests: calls.RequestLog | calls.RequestTally
        self.calls: calls.CallLog | calls.CallTally
        if self.full:
            self.events = full.EventLog(self.names)
            self.attempts = full.AttemptLog()
            self.outcomes = full.OutcomeLog()
            self.gauges = full.GaugeLog()
            self.requests = calls.RequestLog()
            self.calls = calls.CallLog()
        else:
            self.events = summary.SparseEventLog(self.names)
            self.attempts = summary.AttemptTally()
            self.outcomes = summary.OutcomeTally()
            self.gauges = summary.GaugeTally()
            self.requests = calls.RequestTally()
            self.calls = calls.CallTally()

    def routed_log(self) -> array[int] | summary.Counter:
        """Where a group notes the events routed to it: their ids, or just a count."""
        return array("q") if self.full else summary.Counter()

    def full_logs(self) -> FullLogs:
        """The logs of ``record="full"``, as their own types (for building tables)."""
        events, attempts, outcomes, gauges = self.events, self.attempts, self.outcomes, self.gauges
        assert isinstance(events, full.EventLog), "full_logs() needs record='full'"
        assert isinstance(attempts, full.AttemptLog) and isinstance(outcomes, full.OutcomeLog)
        assert isinstance(gauges, full.GaugeLog)
        requests, call_log = self.requests, self.calls
        assert isinstance(requests, calls.RequestLog) and isinstance(call_log, calls.CallLog)
        return FullLogs(self.names, events, attempts, outcomes, gauges, requests, call_log)

    def summary_logs(self) -> SummaryLogs:
        """The aggregates of ``record="summary"``, as their own types."""
        events, attempts, outcomes, gauges = self.events, self.attempts, self.outcomes, self.gauges
        assert isinstance(events, summary.SparseEventLog), "summary_logs() needs 'summary'"
        assert isinstance(attempts, summary.AttemptTally)
        assert isinstance(outcomes, summary.OutcomeTally)
        assert isinstance(gauges, summary.GaugeTally)
        requests, call_tally = self.requests, self.calls
        assert isinstance(requests, calls.RequestTally)
        assert isinstance(call_tally, calls.CallTally)
        return SummaryLogs(self.names, events, attempts, outcomes, gauges, requests, call_tally)


class FullLogs(NamedTuple):
    """A full run's logs: a row per event, attempt, outcome and gauge sample."""

    names: Interner
    events: full.EventLog
    attempts: full.AttemptLog
    outcomes: full.OutcomeLog
    gauges: full.GaugeLog
    requests: calls.RequestLog
    calls: calls.CallLog


class SummaryLogs(NamedTuple):
    """A summary run's aggregates."""

    names: Interner
    events: summary.SparseEventLog
    attempts: summary.AttemptTally
    outcomes: summary.OutcomeTally
    gauges: summary.GaugeTally
    requests: calls.RequestTally
    calls: calls.CallTally
