"""Redrive: move a dead-letter queue's contents back to where they came from.

Rules modelled: Amazon SQS's dead-letter queue redrive (``StartMessageMoveTask``) moves
the messages of a DLQ back to their source queue, or to a queue you name, as *new*
messages (new message ids), optionally at ``MaxNumberOfMessagesPerSecond`` (at most 500).
The task counts the DLQ's messages when it starts (``ApproximateNumberOfMessagesToMove``)
and moves that many, each received from the DLQ, sent on and deleted: the DLQ's depth
falls as the task goes, and what is dead-lettered meanwhile stays for a later task. A Kafka
dead-letter topic keeps its records; redriving it republishes them to their original
topic (the ``original_topic`` the dead-letter record carries) and remembers how far it
got, so a second redrive does not send them twice. Use it to fix a bug, then replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evsim import _check
from evsim.actors import headers
from evsim.actors.producer import send
from evsim.brokers.world import World
from evsim.engine import Steps
from evsim.errors import ConfigError

MAX_SQS_MOVE_RATE = 500
"""Messages a second, the most StartMessageMoveTask's MaxNumberOfMessagesPerSecond takes."""


@dataclass(frozen=True, slots=True)
class _Copy:
    """A dead-letter record as it will be sent back: to ``target``, caused by the record,
    with ``root`` (the event first published) as its original."""

    record_id: int
    target: Any
    event_type: int
    key: str | None
    payload: Any
    root: int
    schema_version: int
    attributes: dict[str, Any] | None


class Redrive:
    """At ``at`` seconds, send the contents of ``dead_letter`` back (``rate`` per second)."""

    kind = "redrive"

    def __init__(
        self,
        world: World,
        dead_letter: Any,
        at: float,
        to: Any = None,
        rate: float | None = None,
        sources: list[Any] | None = None,
    ) -> None:
        self.world = world
        self.dead_letter = world.broker(dead_letter, "dead_letter")
        self.at = _check.non_negative("at", at)
        self.to = None if to is None else world.broker(to, "to")
        self.rate = None if rate is None else _check.positive("rate", rate)
        if self.dead_letter.kind == "queue":
            if self.rate is not None and self.rate > MAX_SQS_MOVE_RATE:
                raise ConfigError(
                    f"rate: an SQS message move task moves at most {MAX_SQS_MOVE_RATE} "
                    f"messages a second (MaxNumberOfMessagesPerSecond); got {rate!r}"
                )
            if self.to is None:
                self.to = _source_queue(self.dead_letter, sources or [])
        self.code = world.records.names.code(f"redrive:{self.dead_letter.name}")
        self.moved = 0
        if self.dead_letter.kind == "topic":  # it reads the records not redriven yet
            topic = self.dead_letter
            self._cursor = world.redrive_cursors.setdefault(topic.name, [0] * topic.partitions)
            for partition in range(topic.partitions):
                topic.keep_partition(partition, self._cursor, partition)

    def spec(self) -> dict:
        """The keyword arguments that rebuild this redrive."""
        return {
            "dead_letter": self.dead_letter.name,
            "at": self.at,
            "to": None if self.to is None else self.to.name,
            "rate": self.rate,
        }

    def launch(self) -> None:
        """Schedule the move."""
        self.world.env.process(self._run())

    def _run(self) -> Steps:
        env = self.world.env
        yield env.timeout(max(0.0, self.at - env.now))
        if self.dead_letter.kind == "queue":
            yield from self._move_messages()
            return
        gap = 0.0 if self.rate is None else 1.0 / self.rate
        for copy in self._records():
            self._send(copy)
            if gap:
                yield env.timeout(gap)

    def _move_messages(self) -> Steps:
        """The SQS move task: the messages in the DLQ now, one per ``1 / rate`` seconds
        (all at once without a rate), each taken out of the DLQ as it is sent on."""
        env, dead_letter = self.world.env, self.dead_letter
        events = self.world.records.events
        left = dead_letter.visible_count()
        while left:
            dead_letter.sweep(env.now)  # a message past the DLQ's retention is not moved
            taken = dead_letter.drain(None if self.rate is None else 1)
            if not taken:
                return
            for message in taken:
                self._send(self._copy(message.event_id))
                events.release(message.event_id)  # the DLQ no longer holds it
            left = max(0, left - len(taken))
            if left and self.rate is not None:
                yield env.timeout(1.0 / self.rate)

    def _records(self) -> list[_Copy]:
        """The dead-letter topic's records to send back, in their order: copied before the
        redrive lets go of them (record="summary" forgets a record nobody reads)."""
        dead_letter = self.dead_letter
        now = self.world.env.now
        # shared by every redrive of this topic, so a later one sends only what came since
        cursor = self._cursor
        records: list[int] = []
        for partition in range(dead_letter.partitions):
            start = max(cursor[partition], dead_letter.log_start_offset(partition, now))
            end = dead_letter.log_end_offset(partition)
            records.extend(dead_letter.event_at(partition, o) for o in range(start, end))
        copies = [self._copy(record_id) for record_id in sorted(records)]
        for partition in range(dead_letter.partitions):
            cursor[partition] = dead_letter.log_end_offset(partition)
            dead_letter.release_reader(partition, cursor, partition)  # this redrive is done
        return copies

    def _copy(self, record_id: int) -> _Copy:
        """What resending a record takes: its own fields (a copy has its event's), less
        what the group added to them; the original event may be long forgotten."""
        events = self.world.records.events
        original = events.original[record_id]
        return _Copy(
            record_id, self.to or self._origin(record_id), events.event_type[record_id],
            events.key[record_id], events.payload[record_id],
            record_id if original < 0 else original, events.schema_version[record_id],
            headers.without_added(events.attributes[record_id]),
        )  # fmt: skip

    def _send(self, copy: _Copy) -> None:
        send(
            self.world, copy.target, self.code, copy.event_type, copy.key, copy.payload,
            cause=copy.record_id, original=copy.root, schema_version=copy.schema_version,
            attributes=copy.attributes,
        )  # fmt: skip
        self.moved += 1

    def _origin(self, record_id: int) -> Any:
        """Where a consumer group's dead-letter record came from (its attributes say)."""
        attributes = self.world.records.events.attributes[record_id] or {}
        origin = attributes.get(headers.ORIGINAL_TOPIC) or attributes.get(headers.ORIGINAL_QUEUE)
        if origin is None:
            raise ConfigError(
                f"to: record {record_id} in {self.dead_letter.name!r} does not say where it "
                "came from; name the destination with to="
            )
        return self.world.broker(origin, "to")


def _source_queue(dead_letter: Any, queues: list[Any]) -> Any:
    """The queue whose redrive policy feeds ``dead_letter`` (None if none does)."""
    feeding = [queue for queue in queues if getattr(queue, "dead_letter", None) is dead_letter]
    if len(feeding) > 1:
        names = ", ".join(repr(q.name) for q in feeding)
        raise ConfigError(
            f"to: {dead_letter.name!r} is the dead-letter queue of {names}: name the queue "
            "to redrive to"
        )
    return feeding[0] if feeding else None
