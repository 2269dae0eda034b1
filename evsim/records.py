"""Columnar, append-only records of what happened in a run.

The hot path appends primitives to ``array.array`` columns (8 bytes a number, no per-event
dicts, no pandas); :mod:`evsim.result` turns them into DataFrames only when they are read.
Strings (names, event types, outcomes) are interned to small integer codes.
"""

from __future__ import annotations

from array import array
from typing import Any

import numpy as np

from evsim.event import Event

OUTCOMES = ("processed", "dead_lettered", "expired", "lost", "pending")
PROCESSED, DEAD_LETTERED, EXPIRED, LOST, PENDING = range(len(OUTCOMES))

STATUSES = ("ok", "error", "crashed", "duplicate")
OK, ERROR, CRASHED, DUPLICATE = range(len(STATUSES))

NOT_YET = -1  # partition/offset of an event still travelling to its broker


class Interner:
    """Maps names to small integer codes and back."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}
        self.names: list[str] = []

    def code(self, name: str) -> int:
        """The code of ``name``, assigned on first use."""
        code = self._codes.get(name)
        if code is None:
            code = self._codes[name] = len(self.names)
            self.names.append(name)
        return code

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Names for an array of codes (object array)."""
        lookup = np.array([*self.names, ""], dtype=object)
        return lookup[codes]


class Columns:
    """Named append-only columns: numbers in ``array.array``, anything else in lists."""

    def __init__(self, **typecodes: str) -> None:
        self._typecodes = typecodes
        for column, typecode in typecodes.items():
            setattr(self, column, [] if typecode == "O" else array(typecode))

    def __len__(self) -> int:
        return len(getattr(self, next(iter(self._typecodes))))

    def numpy(self, column: str) -> np.ndarray:
        """A column as a numpy array (zero-copy for numeric columns)."""
        values = getattr(self, column)
        if isinstance(values, array):
            return (
                np.frombuffer(values, dtype=values.typecode)
                if len(values)
                else np.array([], dtype=values.typecode)
            )
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out


class EventLog(Columns):
    """Every published event, one row each; the row number is the event id."""

    def __init__(self, names: Interner) -> None:
        super().__init__(
            event_type="i",
            key="O",
            producer="i",
            target="i",
            partition="i",
            offset="q",
            published_at="d",
            appended_at="d",
            payload="O",
            schema_version="i",
            cause="q",
            original="q",
            attributes="O",
        )
        self.names = names

    def add(
        self,
        event_type: int,
        key: str | None,
        producer: int,
        target: int,
        published_at: float,
        payload: Any,
        schema_version: int,
        cause: int,
        attributes: dict[str, Any] | None,
        original: int = -1,
    ) -> int:
        """Record a newly published event and return its id.

        ``cause`` is the event whose handler published this one; ``original`` the event
        this one is a copy of (in a retry topic or a dead-letter queue); -1 for none.
        """
        event_id = len(self.published_at)
        self.event_type.append(event_type)
        self.key.append(key)
        self.producer.append(producer)
        self.target.append(target)
        self.partition.append(NOT_YET)
        self.offset.append(NOT_YET)
        self.published_at.append(published_at)
        self.appended_at.append(float("nan"))
        self.payload.append(payload)
        self.schema_version.append(schema_version)
        self.cause.append(cause)
        self.original.append(original)
        self.attributes.append(attributes)
        return event_id

    def hold(self, event_id: int) -> None:
        """Full recording keeps every event: nothing to count (see SparseEventLog)."""

    def release(self, event_id: int) -> None:
        """Full recording keeps every event: nothing to forget (see SparseEventLog)."""

    def place(self, event_id: int, partition: int, offset: int, time: float) -> None:
        """Note where and when the broker appended the event."""
        self.partition[event_id] = partition
        self.offset[event_id] = offset
        self.appended_at[event_id] = time

    def event(self, event_id: int) -> Event:
        """The event as an immutable :class:`Event` object."""
        names = self.names.names
        cause = self.cause[event_id]
        partition = self.partition[event_id]
        return Event(
            event_id=event_id,
            event_type=names[self.event_type[event_id]],
            key=self.key[event_id],
            payload=self.payload[event_id],
            producer=names[self.producer[event_id]],
            target=names[self.target[event_id]],
            published_at=self.published_at[event_id],
            schema_version=self.schema_version[event_id],
            partition=None if partition == NOT_YET else partition,
            offset=None if partition == NOT_YET else self.offset[event_id],
            cause_id=None if cause < 0 else cause,
            original_id=None if self.original[event_id] < 0 else self.original[event_id],
            attributes=self.attributes[event_id] or {},
        )


class AttemptLog(Columns):
    """One row per processing attempt of an event by a consumer."""

    def __init__(self) -> None:
        super().__init__(
            event="q",
            group="i",
            consumer="i",
            attempt="i",
            started_at="d",
            finished_at="d",
            status="b",
            error="O",
        )

    def add(
        self,
        event: int,
        group: int,
        consumer: int,
        attempt: int,
        started_at: float,
        finished_at: float,
        status: int,
        error: str | None = None,
    ) -> None:
        self.event.append(event)
        self.group.append(group)
        self.consumer.append(consumer)
        self.attempt.append(attempt)
        self.started_at.append(started_at)
        self.finished_at.append(finished_at)
        self.status.append(status)
        self.error.append(error)


class OutcomeLog(Columns):
    """One row per event and consumer group that reached a final outcome."""

    def __init__(self) -> None:
        super().__init__(
            event="q",
            group="i",
            consumer="i",
            outcome="b",
            attempts="i",
            first_attempt_at="d",
            completed_at="d",
        )

    def add(
        self,
        event: int,
        group: int,
        consumer: int,
        outcome: int,
        attempts: int,
        first_attempt_at: float,
        completed_at: float,
    ) -> None:
        self.event.append(event)
        self.group.append(group)
        self.consumer.append(consumer)
        self.outcome.append(outcome)
        self.attempts.append(attempts)
        self.first_attempt_at.append(first_attempt_at)
        self.completed_at.append(completed_at)


class GaugeLog(Columns):
    """Samples of gauges (lag, depth, consumers up) taken on a fixed interval."""

    def __init__(self) -> None:
        super().__init__(time="d", metric="i", entity="i", value="d")

    def add(self, time: float, metric: int, entity: int, value: float) -> None:
        self.time.append(time)
        self.metric.append(metric)
        self.entity.append(entity)
        self.value.append(value)

    def group_lag(self, time: float, group: int, total: float) -> None:
        """A group's total lag: the rows per partition already say it."""


RECORD_MODES = ("full", "summary")


class Records:
    """All the logs of one run, sharing one name interner.

    ``record="full"`` keeps a row per event, attempt, outcome and gauge sample;
    ``record="summary"`` keeps aggregates only (:mod:`evsim.aggregates`).
    """

    def __init__(self, record: str = "full") -> None:
        self.names = Interner()
        self.full = record == "full"
        if self.full:
            self.events: Any = EventLog(self.names)
            self.attempts: Any = AttemptLog()
            self.outcomes: Any = OutcomeLog()
            self.gauges: Any = GaugeLog()
        else:
            from evsim import aggregates  # it builds on this module

            self.events = aggregates.SparseEventLog(self.names)
            self.attempts = aggregates.AttemptTally()
            self.outcomes = aggregates.OutcomeTally(self.events)
            self.gauges = aggregates.GaugeTally()

    def routed_log(self) -> Any:
        """Where a group notes the events routed to it: their ids, or just a count."""
        if self.full:
            return array("q")
        from evsim.aggregates import Counter

        return Counter()
