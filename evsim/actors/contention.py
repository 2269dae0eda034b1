"""The resource a :class:`~evsim.actors.faults.Contention` fault makes attempts race for.

Rule modelled (optimistic concurrency control, as in the AWS Architecture Blog's
"Exponential Backoff And Jitter" and its simulator): the resource holds a version, 0 at
first; an attempt reads it, and its write succeeds, bumping the version, only if the
version is still the one it read. So of the attempts that read one version, the first to
write wins and every later one fails with a :class:`~evsim.actors.faults.ConflictError`;
an attempt that reads after a write races over the new version. Two attempts whose
read-to-write spans do not overlap both succeed.
"""

from __future__ import annotations

from collections.abc import Callable

from evsim.actors.delivery import NO_FAILURE, Failure, failure
from evsim.actors.faults import ConflictError, Contention
from evsim.records.event import Event
from evsim.workload.rng import Streams

Row = str | None
"""Which resource an attempt writes: an event's key (``scope="key"``), else None."""


class ContendedResource:
    """The versions of one consumer group's contended resource (one per key, or one).

    ``writes`` counts the writes that succeeded, ``conflicts`` those refused.
    """

    __slots__ = ("_by_key", "_event", "_group", "_streams", "_versions", "conflicts",
                 "fault", "writes")  # fmt: skip

    def __init__(
        self, fault: Contention, streams: Streams, group: str, event: Callable[[int], Event]
    ) -> None:
        """``event(event_id)`` reads an event (its key, with ``scope="key"``)."""
        self.fault = fault
        self._streams = streams
        self._group = group
        self._event = event
        self._by_key = fault.scope == "key"
        self._versions: dict[Row, int] = {}
        self.writes = 0
        self.conflicts = 0

    def row(self, event_id: int) -> Row:
        """The resource event ``event_id``'s attempts write."""
        return self._event(event_id).key if self._by_key else None

    def read(self, row: Row) -> int:
        """The version of ``row`` now (0 before any write)."""
        return self._versions.get(row, 0)

    def write(self, row: Row, version: int) -> Failure:
        """Write ``row`` on condition that it is still at ``version`` (read earlier):
        :data:`~evsim.actors.delivery.NO_FAILURE` and the version bumped, or a conflict."""
        current = self._versions.get(row, 0)
        if current != version:
            self.conflicts += 1
            where = "the resource" if row is None else f"key {row!r}"
            return failure(
                ConflictError,
                f"{where} was written since it was read (version {version}, now {current})",
            )
        self._versions[row] = current + 1
        self.writes += 1
        return NO_FAILURE

    def legs(self, consumer: str, worker: int) -> Callable[[], float]:
        """Network legs (seconds) for one worker, from its own random stream."""
        rng = self._streams.generator("group", self._group, "contention", consumer, str(worker))
        return self.fault.latency.sampler(rng)
