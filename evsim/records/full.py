"""Recording in ``record="full"`` mode: a row per event, attempt, outcome and gauge sample.

The hot path appends primitives to columns (no per-event dicts, no pandas): the event log
keeps one list per field, and attempts, outcomes and gauge samples are packed rows of bytes;
:mod:`evsim.result` turns them into DataFrames only when they are read. Strings (names,
event types, outcomes) are interned to small integer codes. Fields that almost every row
leaves at a default (an event's payload, cause, attributes; an attempt's error) are kept
sparsely, and fields written after the row (an event's partition and offset) are padded on
demand, so a row costs only the appends it needs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from evsim.records.codes import NAN, NOT_YET, Interner, PeakLag
from evsim.records.columns import Columns, PackedRows, PaddedColumn, Rows, SparseColumn
from evsim.records.event import Event


class EventFields:
    """What both event logs offer by event id: its fields (names as interned codes, times
    in seconds, -1 for no cause or original) and the :class:`Event` built from them.
    :class:`EventLog` keeps every event, :class:`~evsim.records.summary.SparseEventLog`
    those still held."""

    names: Interner
    event_type: Rows[int]
    key: Rows[str | None]
    producer: Rows[int]
    target: Rows[int]
    partition: Rows[int]
    offset: Rows[int]
    published_at: Rows[float]
    appended_at: Rows[float]
    payload: Rows[Any]
    schema_version: Rows[int]
    cause: Rows[int]
    original: Rows[int]
    attributes: Rows[Any]  # a mapping of message attributes, or None

    def reached(self, event_id: int, broker: int, time: float) -> None:
        """A copy of the event reached ``broker`` (a queue or fanout code) at ``time``: if
        it was published there, that is when its row's ``appended_at`` says it arrived."""
        if self.target[event_id] == broker:
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


class EventLog(Columns, EventFields):
    """Every published event, one row each; the row number is the event id.

    ``add(event_type, key, producer, target, published_at, payload, schema_version, cause,
    attributes, original=-1)`` records a newly published event and returns its id. ``cause``
    is the event whose handler published this one; ``original`` the event this one is a
    copy of (in a retry topic or a dead-letter queue); -1 for none.
    """

    # the list columns Columns.__init__ creates
    event_type: list[int]
    key: list[str | None]
    producer: list[int]
    target: list[int]
    published_at: list[float]
    appended_at: list[float]
    # and those it sets itself
    partition: PaddedColumn
    offset: PaddedColumn
    payload: SparseColumn
    schema_version: SparseColumn
    cause: SparseColumn
    original: SparseColumn
    attributes: SparseColumn

    def __init__(self, names: Interner) -> None:
        super().__init__(
            event_type="i",
            key="O",
            producer="i",
            target="i",
            published_at="d",
            appended_at="d",
        )
        self.names = names
        self.partition = PaddedColumn("i", NOT_YET)
        self.offset = PaddedColumn("q", NOT_YET)
        self.payload = SparseColumn("O", None)
        self.schema_version = SparseColumn("i", 1)
        self.cause = SparseColumn("q", -1)
        self.original = SparseColumn("q", -1)
        self.attributes = SparseColumn("O", None)
        self.add = self._adder()

    def _adder(self) -> Callable[..., int]:
        published_times = self.published_at  # its length is the next row number
        type_, key_, producer_, target_, published_, appended_ = self._appends(
            "event_type", "key", "producer", "target", "published_at", "appended_at"
        )
        payloads, versions = self.payload.values, self.schema_version.values
        causes, originals, attribute_sets = (
            self.cause.values,
            self.original.values,
            self.attributes.values,
        )

        def add(
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
            event_id = len(published_times)
            type_(event_type)
            key_(key)
            producer_(producer)
            target_(target)
            published_(published_at)
            appended_(NAN)
            if payload is not None:
                payloads[event_id] = payload
            if schema_version != 1:
                versions[event_id] = schema_version
            if cause >= 0:
                causes[event_id] = cause
            if original >= 0:
                originals[event_id] = original
            if attributes is not None:
                attribute_sets[event_id] = attributes
            return event_id

        return add

    def hold(self, event_id: int) -> None:
        """Full recording keeps every event: nothing to count (see SparseEventLog)."""

    def release(self, event_id: int) -> None:
        """Full recording keeps every event: nothing to forget (see SparseEventLog)."""

    def place(self, event_id: int, partition: int, offset: int, time: float) -> None:
        """Note where and when the broker appended the event."""
        self.partition[event_id] = partition
        self.offset[event_id] = offset
        self.appended_at[event_id] = time


class AttemptLog(PackedRows):
    """One row per processing attempt of an event by a consumer.

    ``add(event, group, consumer, attempt, started_at, finished_at, status, error=None)``.
    """

    FIELDS: ClassVar[dict[str, str]] = {
        "event": "q",
        "group": "i",
        "consumer": "i",
        "attempt": "i",
        "started_at": "d",
        "finished_at": "d",
        "status": "b",
    }

    def __init__(self) -> None:
        super().__init__()
        self.error = SparseColumn("O", None)
        self.add = self._adder()

    def _adder(self) -> Callable[..., None]:
        extend, pack = self._packer()
        rows, row_size, errors = self._rows, self._row.size, self.error.values

        def add(
            event: int,
            group: int,
            consumer: int,
            attempt: int,
            started_at: float,
            finished_at: float,
            status: int,
            error: str | None = None,
        ) -> None:
            if error is not None:
                errors[len(rows) // row_size] = error
            extend(pack(event, group, consumer, attempt, started_at, finished_at, status))

        return add


class OutcomeLog(PackedRows):
    """One row per event and consumer group that reached a final outcome.

    ``add(event, group, consumer, outcome, attempts, first_attempt_at, completed_at,
    published_at)``; the event's ``published_at`` is in its own log already, so the row
    leaves it out (summary mode, which forgets events, measures latency with it).
    """

    FIELDS: ClassVar[dict[str, str]] = {
        "event": "q",
        "group": "i",
        "consumer": "i",
        "outcome": "b",
        "attempts": "i",
        "first_attempt_at": "d",
        "completed_at": "d",
    }

    def __init__(self) -> None:
        super().__init__()
        self.add = self._adder()

    def _adder(self) -> Callable[..., None]:
        extend, pack = self._packer()

        def add(
            event: int,
            group: int,
            consumer: int,
            outcome: int,
            attempts: int,
            first_attempt_at: float,
            completed_at: float,
            published_at: float = NAN,
        ) -> None:
            extend(pack(event, group, consumer, outcome, attempts, first_attempt_at, completed_at))

        return add


class GaugeLog(PackedRows, PeakLag):
    """Samples of gauges (lag, depth, consumers up) taken on a fixed interval.

    ``add(time, metric, entity, value)``.
    """

    FIELDS: ClassVar[dict[str, str]] = {"time": "d", "metric": "i", "entity": "i", "value": "d"}

    def __init__(self) -> None:
        PackedRows.__init__(self)
        PeakLag.__init__(self)
        self.add = self._adder()

    def _adder(self) -> Callable[[float, int, int, float], None]:
        extend, pack = self._packer()

        def add(time: float, metric: int, entity: int, value: float) -> None:
            extend(pack(time, metric, entity, value))

        return add
