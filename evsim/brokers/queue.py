"""SQS-like queues: visibility timeout, receive counts, redrive to a DLQ, FIFO groups.

A :class:`Queue` is built in three parts, bottom up: what it holds and what observers see
(:mod:`evsim.brokers.queue_store`: retention, the counts SQS reports, listeners); the
receive side (:mod:`evsim.brokers.queue_receive`: ReceiveMessage with long polling, the
visibility timeout and receipts, DeleteMessage, ChangeMessageVisibility, the
RedrivePolicy); and, here, its settings and the send side. Rules modelled here (Amazon SQS,
with its ranges; a value outside them raises ConfigError):

* SendMessage: the message is stored after the queue's ``latency`` and stays invisible
  for ``delay`` seconds (``DelaySeconds``, 0–900). On a standard queue a send's own
  ``DelaySeconds`` (the event's attribute of that name, 0–900, which ``send`` hands to
  :meth:`Queue.publish_delayed`) replaces the queue's; a FIFO queue refuses a non-zero
  one (:func:`evsim.brokers.sqs_rules.message_delay`). A copy
  delivered by a fanout (:meth:`Queue.deliver`) gets the queue's delay: SNS has no
  per-message delay.
* FIFO queues (names end in ``.fifo``): the message group is the event's key; a group
  with a message in flight is held back while other groups proceed. Every send needs a
  deduplication id: the ``MessageDeduplicationId`` attribute, or with
  ``content_based_deduplication`` a SHA-256 of the payload; without one SQS refuses the
  send (InvalidParameterValue) and so does the queue (``SendRefusedError``), when the
  producer is built if its attributes are constant, else on the send. A message whose id
  was accepted less than 5 minutes earlier is accepted but not enqueued. A copy from a
  FIFO fanout carries the fanout's id and keeps its group's order over the queue's
  latency. A move to the DLQ by the redrive policy is not a send: nothing is checked.

A queue knows nothing of consumer groups beyond the name of the one reading it
(``reader``): callers use :meth:`Queue.receive` and :meth:`Queue.delete` (SQS's API, with
snapshots), or, as a consumer group does, :meth:`Queue.poll`/:meth:`Queue.wait` handing out
the stored messages and :meth:`Queue.delete_receipt`; they observe it through
:meth:`Queue.listen` and :meth:`Queue.on_enqueued`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from evsim.brokers import sqs_rules as rules
from evsim.brokers.configs import QueueConfig
from evsim.brokers.message import Message
from evsim.brokers.queue_receive import ReceivingQueue
from evsim.brokers.sqs_rules import (
    DELAY_SECONDS,
)
from evsim.brokers.world import World


class Queue(ReceivingQueue):
    """An SQS-like queue (standard or FIFO). Times are seconds; SQS names in brackets.

    ``visibility_timeout`` [VisibilityTimeout], ``retention`` [MessageRetentionPeriod],
    ``dead_letter`` + ``max_receive_count`` [RedrivePolicy], ``fifo`` [FifoQueue],
    ``receive_batch`` [MaxNumberOfMessages], ``wait_time`` [ReceiveMessageWaitTimeSeconds],
    ``delay`` [DelaySeconds], ``content_based_deduplication`` [ContentBasedDeduplication];
    ``latency`` is the network time of a send (a distribution or a number).
    """

    kind = "queue"
    # Slots, here and in the bases: with 30 or more dict attributes, CPython 3.11 stops
    # specializing the method calls on an instance (benchmarks/README.md, "CPython 3.11's
    # fast paths").
    __slots__ = (
        "_deduplicator",
        "_group_order",
        "_latency_sampler",
        "_message_ids",
        "config",
        "content_based_deduplication",
        "delay",
        "duplicates_dropped",
        "latency",
    )

    def __init__(self, world: World, config: QueueConfig, dead_letter: object = None) -> None:
        """``dead_letter``: the queue ``config.dead_letter`` names, found or made by the
        simulation (checked here: a queue of the same type)."""
        name, fifo, latency = config.name, config.fifo, config.latency_distribution
        super().__init__(
            world,
            name,
            fifo,
            config.retention,
            visibility_timeout=config.visibility_timeout,
            receive_batch=config.receive_batch,
            wait_time=config.wait_time,
            dead_letter=dead_letter,
            max_receive_count=config.max_receive_count,
        )
        self.config = config
        self.latency = latency
        self.delay = config.delay
        self.content_based_deduplication = config.content_based_deduplication
        self.duplicates_dropped = 0  # FIFO sends dropped by deduplication
        self._message_ids = world.message_ids
        self._deduplicator = rules.Deduplicator()
        self._group_order = rules.GroupOrder() if fifo else None  # for fanout copies
        self._latency_sampler = world.sampler(latency, "queue", name, "latency")

    def spec(self) -> dict:
        """The keyword arguments that rebuild this queue (the DLQ by name)."""
        return {
            "name": self.name,
            "visibility_timeout": self.visibility_timeout,
            "retention": self.retention,
            "dead_letter": None if self.dead_letter is None else self.dead_letter.name,
            "max_receive_count": self.max_receive_count,
            "fifo": self.fifo,
            "latency": self.latency.spec(),
            "receive_batch": self.receive_batch,
            "wait_time": self.wait_time,
            "delay": self.delay,
            "content_based_deduplication": self.content_based_deduplication,
        }

    # --- SendMessage ----------------------------------------------------------------

    def publish(self, event_id: int, key: str | None, producer: int, size_bytes: int) -> None:
        """SendMessage: after the latency a message is stored (visible after ``delay``).

        A FIFO queue needs a key (the message group id, ``MessageGroupId``) and a
        deduplication id; a send SQS would refuse raises ``SendRefusedError``.
        """
        if self.fifo:  # SendMessage to a FIFO queue: checked, with its deduplication id
            dedup = rules.fifo_send(self, self._events, event_id, key)
            self._send(event_id, key, dedup, self.delay, self._latency_sampler())
            return
        wait = self._latency_sampler()
        if wait <= 0.0:  # _send's two cases, inlined: this runs once per message
            self._arrive(event_id, key, None, self.delay)
        else:
            self._env.call_later(wait, partial(self._on_arrival, event_id, key, None, self.delay))

    def publish_delayed(
        self, event_id: int, key: str | None, producer: int, size_bytes: int, delay: Any
    ) -> None:
        """SendMessage with its own DelaySeconds (``delay``, 0–900 s: the event's
        attribute), instead of the queue's; a FIFO queue refuses a non-zero one."""
        seconds = rules.message_delay(self.name, self.fifo, delay)
        if seconds is None:  # none given, or a FIFO queue's 0: the queue's delay applies
            self.publish(event_id, key, producer, size_bytes)
        else:
            self._send(event_id, key, None, seconds, self._latency_sampler())

    def deliver(self, event_id: int, key: str | None, dedup_id: str | None) -> None:
        """A fanout's copy (SNS to SQS): stored after the latency, visible after the
        queue's delay; a FIFO queue deduplicates it by the fanout's ``dedup_id`` and keeps
        its message group in the order the fanout delivered it."""
        wait, queued = self._latency_sampler(), False
        if self._group_order is not None:
            wait, queued = self._group_order.schedule(key or "", self._env.now, wait)
        self._send(event_id, key, dedup_id, self.delay, wait, queued)

    def check_sender(self, attributes: Mapping[str, Any] | None, keyed: bool = True) -> None:
        """Refuse now a sender every send of which SQS would refuse: one with these
        (constant) ``attributes``, and without keys unless ``keyed``."""
        if self.fifo and not keyed:
            rules.require_group("queue", self.name, None)
        rules.message_delay(self.name, self.fifo, (attributes or {}).get(DELAY_SECONDS))
        if self.fifo:
            rules.require_dedup_id("queue", self.name, attributes, self.content_based_deduplication)

    def __repr__(self) -> str:
        kind = "FIFO " if self.fifo else ""
        return f"<{kind}Queue {self.name!r} depth={self.depth()}>"

    # --- a send arrives -------------------------------------------------------------

    def _send(
        self,
        event_id: int,
        key: str | None,
        dedup: str | None,
        delay: float,
        wait: float,
        queued: bool = False,
    ) -> None:
        """Store the message after ``wait`` seconds (the send's latency; ``queued``: through
        the schedule even if 0, behind an earlier message of its group)."""
        if wait <= 0.0 and not queued:
            self._arrive(event_id, key, dedup, delay)
        else:
            self._env.call_later(wait, partial(self._on_arrival, event_id, key, dedup, delay))

    def _on_arrival(
        self, event_id: int, key: str | None, dedup: str | None, delay: float, _event: object
    ) -> None:
        self._arrive(event_id, key, dedup, delay)

    def _arrive(self, event_id: int, key: str | None, dedup: str | None, delay: float) -> None:
        now, events = self._env.now, self._events
        if self.fifo:
            if dedup is not None and self._deduplicator.duplicate(dedup, now):
                self.duplicates_dropped += 1
                events.release(event_id)
                return
            message = Message(next(self._message_ids), event_id, now, key, dedup)
        else:
            message = Message(next(self._message_ids), event_id, now)
        events.reached(event_id, self.code, now)
        self._store(message)
        if delay > 0.0:
            self._delayed += 1
            self._env.call_later(delay, partial(self._undelay, message))
        else:
            self._show(message)

    def _undelay(self, message: Message, _event: object) -> None:
        self._delayed -= 1
        self._show(message)
