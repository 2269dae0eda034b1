"""Columnar, append-only records of what happened in a run.

The hot path appends primitives to columns (no per-event dicts, no pandas): the event log
keeps one list per field, and attempts, outcomes and gauge samples are packed rows of bytes;
:mod:`evsim.result` turns them into DataFrames only when they are read. Strings (names,
event types, outcomes) are interned to small integer codes. Fields that
almost every row leaves at a default (an event's payload, cause, attributes; an attempt's
error) are kept sparsely, and fields written after the row (an event's partition and
offset) are padded on demand, so a row costs only the appends it needs.
"""

from __future__ import annotations

import struct
from array import array
from collections import defaultdict
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from evsim.event import Event

OUTCOMES = ("processed", "dead_lettered", "expired", "lost", "pending")
PROCESSED, DEAD_LETTERED, EXPIRED, LOST, PENDING = range(len(OUTCOMES))

STATUSES = ("ok", "error", "crashed", "duplicate")
OK, ERROR, CRASHED, DUPLICATE = range(len(STATUSES))

NOT_YET = -1  # partition/offset of an event still travelling to its broker
NAN = float("nan")


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


class SparseColumn:
    """A column whose rows nearly all hold ``default``: only the other values are stored."""

    __slots__ = ("default", "typecode", "values")

    def __init__(self, typecode: str, default: Any) -> None:
        self.typecode = typecode
        self.default = default
        self.values: dict[int, Any] = {}

    def __getitem__(self, row: int) -> Any:
        return self.values.get(row, self.default)

    def __setitem__(self, row: int, value: Any) -> None:
        self.values[row] = value

    def numpy(self, length: int) -> np.ndarray:
        """The first ``length`` rows as a numpy array."""
        if self.typecode == "O":
            out = np.empty(length, dtype=object)
            out[:] = [self.default] * length
        else:
            out = np.full(length, self.default, dtype=self.typecode)
        for row, value in self.values.items():
            out[row] = value
        return out


class PaddedColumn:
    """A numeric column written after its rows exist: unwritten rows hold ``default``."""

    __slots__ = ("default", "values")

    def __init__(self, typecode: str, default: float) -> None:
        self.default = default
        self.values = array(typecode)

    def __getitem__(self, row: int) -> Any:
        values = self.values
        return values[row] if row < len(values) else self.default

    def __setitem__(self, row: int, value: Any) -> None:
        values = self.values
        if row >= len(values):
            values.extend(array(values.typecode, [self.default]) * (row + 1 - len(values)))
        values[row] = value

    def numpy(self, length: int) -> np.ndarray:
        """The first ``length`` rows as a numpy array."""
        out = np.full(length, self.default, dtype=self.values.typecode)
        written = min(length, len(self.values))
        out[:written] = _as_numpy(self.values)[:written]
        return out


class Columns:
    """Named append-only columns, each a list; ``typecodes`` gives each column's numpy type
    when it is read (``"O"``: any object).

    Lists rather than ``array.array``: an array converts every value it stores through
    ``PyArg_Parse``, which makes its append about 2.5 times a list's (~105 ns against
    ~40 ns), and reading ``list[row]`` is specialized by the interpreter. The price is
    memory: a number costs a pointer (8 bytes) plus its object unless that is shared. The
    small integer codes are; a time is the clock's float, kept alive by the row (24 bytes,
    shared by the rows written at the same time). A million fully recorded M/M/4 events
    take about 50 MB more than in arrays (benchmarks/README.md).
    """

    def __init__(self, **typecodes: str) -> None:
        self._typecodes = typecodes
        for column in typecodes:
            setattr(self, column, [])

    def __len__(self) -> int:
        return len(getattr(self, next(iter(self._typecodes))))

    def numpy(self, column: str) -> np.ndarray:
        """A column as a numpy array (a copy)."""
        values = getattr(self, column)
        if isinstance(values, SparseColumn | PaddedColumn):
            return values.numpy(len(self))
        typecode = self._typecodes[column]
        if typecode == "O":
            return _as_numpy(values)
        return np.array(values, dtype=typecode)

    def _appends(self, *columns: str) -> tuple[Callable[[Any], None], ...]:
        """The bound ``append`` of each column, for a closure on the hot path (a closure
        variable is cheaper to reach than ``self.column.append``)."""
        return tuple(getattr(self, column).append for column in columns)


def _as_numpy(values: array | list) -> np.ndarray:
    if isinstance(values, array):
        if not len(values):
            return np.array([], dtype=values.typecode)
        return np.frombuffer(values, dtype=values.typecode)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


class EventLog(Columns):
    """Every published event, one row each; the row number is the event id.

    ``add(event_type, key, producer, target, published_at, payload, schema_version, cause,
    attributes, original=-1)`` records a newly published event and returns its id. ``cause``
    is the event whose handler published this one; ``original`` the event this one is a
    copy of (in a retry topic or a dead-letter queue); -1 for none.
    """

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

    def reached(self, event_id: int, broker: int, time: float) -> None:
        """A copy of the event reached ``broker`` (a queue or fanout code) at ``time``: if
        it was published there, that is when its row's ``appended_at`` says it arrived."""
        if self.target[event_id] == broker:
            self.appended_at[event_id] = time

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


class PackedRows:
    """Append-only rows whose numeric fields are packed one after another in one buffer.

    A row costs one ``struct.pack`` and one buffer extend instead of an append per column
    (about half the time), and writes one contiguous run of bytes instead of one per
    column. numpy reads the buffer as a structured array when a table is built.
    ``FIELDS`` maps each field to its type code (``q``, ``i``, ``b``: 8-, 4-, 1-byte
    integers; ``d``: a float), the same in :mod:`struct` and numpy.
    """

    FIELDS: ClassVar[dict[str, str]] = {}

    def __init__(self) -> None:
        self._rows = bytearray()
        self._row = struct.Struct("=" + "".join(self.FIELDS.values()))  # no padding
        self._dtype = np.dtype(list(self.FIELDS.items()))

    def __len__(self) -> int:
        return len(self._rows) // self._row.size

    def numpy(self, column: str) -> np.ndarray:
        """A column as a numpy array (a copy: the buffer keeps growing)."""
        if column not in self.FIELDS:
            return getattr(self, column).numpy(len(self))
        if not self._rows:
            return np.array([], dtype=self.FIELDS[column])
        return np.frombuffer(self._rows, dtype=self._dtype)[column].copy()

    def _packer(self) -> tuple[Callable[[bytes], None], Callable[..., bytes]]:
        """The buffer's ``extend`` and the row's ``pack``, for a closure on the hot path."""
        return self._rows.extend, self._row.pack


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


class PeakLag:
    """Each group's largest total lag (records, summed over its partitions) at one sample."""

    def __init__(self) -> None:
        self.peak_lag: dict[int, float] = defaultdict(float)

    def group_lag(self, group: int, total: float) -> None:
        """A sample of a group's total lag."""
        self.peak_lag[group] = max(self.peak_lag[group], total)


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
            self.outcomes = aggregates.OutcomeTally()
            self.gauges = aggregates.GaugeTally()

    def routed_log(self) -> Any:
        """Where a group notes the events routed to it: their ids, or just a count."""
        if self.full:
            return array("q")
        from evsim.aggregates import Counter

        return Counter()
