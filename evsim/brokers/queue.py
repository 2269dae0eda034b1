"""SQS-like queues: visibility timeout, receive counts, redrive to a DLQ, FIFO groups.

Rules modelled (Amazon SQS, with its ranges; a value outside them raises ConfigError):

* SendMessage: the message is stored after the queue's ``latency`` and stays invisible
  for ``delay`` seconds (``DelaySeconds``, 0–900). On a standard queue a send's own
  ``DelaySeconds`` (the event's attribute of that name, 0–900, which ``send`` hands to
  :meth:`Queue.publish_delayed`) replaces the queue's; a FIFO queue refuses a non-zero
  one (:func:`evsim.brokers.sqs_rules.message_delay`). A copy
  delivered by a fanout (:meth:`Queue.deliver`) gets the queue's delay: SNS has no
  per-message delay.
* ReceiveMessage returns 1–10 messages (``MaxNumberOfMessages``); long polling
  (``WaitTimeSeconds``, 0–20) returns as soon as at least one message is available, else
  an empty list when the wait ends. Waiting receivers are served first come, first
  served; with zero latency a waiting receiver gets an arriving message at that instant.
* A received message is invisible for ``visibility_timeout`` seconds (0–43200), or for the
  receive's own ``visibility_timeout`` (ReceiveMessage's VisibilityTimeout, 0–43200), and
  reappears unless deleted; each receive raises its receive count and gives it a new
  receipt handle. DeleteMessage with an older receipt (the message was received again
  since) does not delete it.
* RedrivePolicy (``dead_letter`` with ``max_receive_count``, 1–1000): when a receive finds
  a message already received ``max_receive_count`` times, the message moves to the
  dead-letter queue instead of being returned. A FIFO queue's DLQ is FIFO and a standard
  queue's is standard.
* Retention (``MessageRetentionPeriod``, 60–1209600 s, default 345600 = 4 days) counts
  from the original enqueue time; a standard queue's message moved to a DLQ keeps that
  time, a FIFO queue's gets a new one (SQS resets it for FIFO queues).
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

import itertools
from collections import deque
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import simpy

from evsim import _check
from evsim.brokers import sqs_rules as rules
from evsim.brokers.message import DELAYED, GONE, IN_FLIGHT, VISIBLE, Message
from evsim.brokers.ordering import FifoOrder, StandardOrder
from evsim.brokers.sqs_rules import (
    DEFAULT_RETENTION,
    DEFAULT_VISIBILITY_TIMEOUT,
    DEFAULT_WAIT_TIME,
    DELAY_SECONDS,
)
from evsim.brokers.visibility import VisibilityClock
from evsim.brokers.world import World
from evsim.errors import ConfigError, ConfigTypeError
from evsim.workload.dist import Distribution, as_distribution

Listener = Callable[[str, Message], None]
"""Called with (kind, message); kind is one of ``LISTEN_KINDS``."""
LISTEN_KINDS = ("enqueued", "dead_lettered", "expired", "deleted")
Waiting = tuple[simpy.Event, int, bool]  # request, n, snapshots (a receive) or not (a group)


class Queue:
    """An SQS-like queue (standard or FIFO). Times are seconds; SQS names in brackets.

    ``visibility_timeout`` [VisibilityTimeout], ``retention`` [MessageRetentionPeriod],
    ``dead_letter`` + ``max_receive_count`` [RedrivePolicy], ``fifo`` [FifoQueue],
    ``receive_batch`` [MaxNumberOfMessages], ``wait_time`` [ReceiveMessageWaitTimeSeconds],
    ``delay`` [DelaySeconds], ``content_based_deduplication`` [ContentBasedDeduplication];
    ``latency`` is the network time of a send (a distribution or a number).
    """

    kind = "queue"
    # Slots: with 30 or more dict attributes, CPython 3.11 stops specializing the method
    # calls on an instance (benchmarks/README.md, "CPython 3.11's fast paths").
    __slots__ = (
        "_clock",
        "_deduplicator",
        "_delayed",
        "_enqueued",
        "_env",
        "_events",
        "_group_order",
        "_latency_sampler",
        "_listeners",
        "_message_ids",
        "_oldest",
        "_order",
        "_receipts",
        "_receive_timeouts",
        "_sequence",
        "_stored",
        "_waiting",
        "code",
        "content_based_deduplication",
        "dead_letter",
        "delay",
        "duplicates_dropped",
        "fifo",
        "latency",
        "max_receive_count",
        "name",
        "reader",
        "receive_batch",
        "retention",
        "visibility_timeout",
        "wait_time",
        "world",
    )

    def __init__(
        self,
        world: World,
        name: str,
        visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT,
        retention: float = DEFAULT_RETENTION,
        dead_letter: Queue | None = None,
        max_receive_count: int | None = None,
        fifo: bool = False,
        latency: Distribution | float = 0.0,
        receive_batch: int = 1,
        wait_time: float = DEFAULT_WAIT_TIME,
        delay: float = 0.0,
        content_based_deduplication: bool = False,
    ) -> None:
        self.world = world
        self.fifo = _check.flag("fifo", fifo)
        self.name = rules.queue_name(name, self.fifo)
        self.visibility_timeout = rules.seconds("visibility_timeout", visibility_timeout, 0, 43200)
        self.retention = rules.seconds("retention", retention, 60, 1209600)
        self.latency = as_distribution(latency, "latency")
        self.receive_batch = rules.batch("receive_batch", receive_batch)
        self.wait_time = rules.seconds("wait_time", wait_time, 0, 20)
        self.delay = rules.seconds("delay", delay, 0, 900)
        self.content_based_deduplication = _check.flag(
            "content_based_deduplication", content_based_deduplication
        )
        if self.content_based_deduplication and not self.fifo:
            raise ConfigError(
                "content_based_deduplication: only FIFO queues deduplicate (SQS); "
                "set fifo=True or leave it False"
            )
        self.dead_letter, self.max_receive_count = rules.redrive(
            self, dead_letter, max_receive_count, Queue
        )
        self.code = world.records.names.code(self.name)
        self._env = world.env
        self._events = world.records.events
        self.duplicates_dropped = 0  # FIFO sends dropped by deduplication
        self.reader: str | None = None  # the consumer group reading it (set by the group)
        self._order = FifoOrder() if self.fifo else StandardOrder()
        self._stored: dict[int, Message] = {}
        self._delayed = 0  # messages in their delay (the others are visible or in flight)
        self._listeners: dict[str, list[Listener]] = {kind: [] for kind in LISTEN_KINDS}
        self._enqueued: list[Callable[[int], None]] = []  # called with the event id
        self._message_ids = world.message_ids
        self._waiting: deque[Waiting] = deque()
        self._receive_timeouts: dict[simpy.Event, float] = {}  # waiting receives' own
        self._receipts = itertools.count(1)
        self._clock = VisibilityClock(world.env, self.visibility_timeout, self._on_timeout)
        self._sequence = itertools.count()
        self._deduplicator = rules.Deduplicator()
        self._group_order = rules.GroupOrder() if self.fifo else None  # for fanout copies
        self._oldest = float("inf")  # a lower bound of visible messages' enqueue times
        self._latency_sampler = world.sampler(self.latency, "queue", self.name, "latency")

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

    # --- ReceiveMessage, DeleteMessage, ChangeMessageVisibility ----------------------

    def receive(
        self,
        max_messages: int | None = None,
        wait_time: float | None = None,
        visibility_timeout: float | None = None,
    ) -> simpy.Event:
        """ReceiveMessage: an event whose value is a list of up to ``max_messages``.

        Defaults are the queue's ``receive_batch``, ``wait_time`` and
        ``visibility_timeout`` (seconds the received messages stay invisible, 0–43200:
        ReceiveMessage's VisibilityTimeout). The list is empty only if no message became
        available within ``wait_time`` seconds.
        """
        n = self.receive_batch
        if max_messages is not None:
            n = rules.batch("max_messages", max_messages)
        wait = self.wait_time if wait_time is None else rules.seconds("wait_time", wait_time, 0, 20)
        hide = None
        if visibility_timeout is not None:
            hide = rules.seconds("visibility_timeout", visibility_timeout, 0, 43200)
        env = self._env
        request = env.event()
        messages = self.poll(n)
        if messages or wait == 0:
            return request.succeed(self._hand_out(messages, hide))
        entry = (request, n, True)
        self._waiting.append(entry)
        if hide is not None:
            self._receive_timeouts[request] = hide
        env.call_later(wait, partial(self._give_up, entry))
        return request

    def poll(self, max_messages: int | None = None) -> list[Message]:
        """The messages a receive would hand out right now (no waiting, no event).

        As a receive, it expires or dead-letters the messages it finds past retention or
        past ``max_receive_count`` on the way, and gives those it hands out a new receipt
        and receive count. Unlike :meth:`receive` it hands out the stored messages
        themselves, for a consumer group that notes each one's receipt and deletes with
        :meth:`delete_receipt`.
        """
        if self._waiting or not self._order.takeable():
            return []
        n = self.receive_batch if max_messages is None else max_messages
        return self._order.take(n, self._admit)

    def wait(self, max_messages: int | None = None) -> simpy.Event:
        """An event that fires with stored messages (as :meth:`poll` hands out) as soon as
        some are available.

        The same as long polls repeated back to back until one returns messages, without
        the empty answers in between (a consumer group's poll loop does just that).
        """
        request = self._env.event()
        n = self.receive_batch if max_messages is None else max_messages
        self._waiting.append((request, n, False))
        self._serve()
        return request

    def cancel(self, request: simpy.Event) -> bool:
        """Close a pending long poll (its receiver is gone); True if it was waiting."""
        for entry in self._waiting:
            if entry[0] is request:
                self._waiting.remove(entry)
                self._receive_timeouts.pop(request, None)
                return True
        return False

    def delete(self, message: Message) -> bool:
        """DeleteMessage: True if deleted; False if the receipt is stale or it is gone."""
        stored = self._current(message)
        return stored is not None and self.delete_receipt(stored, stored.receipt)

    def delete_receipt(self, message: Message, receipt: int | None) -> bool:
        """DeleteMessage for a stored message received with ``receipt``.

        False if the message has left this queue since (deleted, expired, or moved to the
        DLQ, whose own receipts may happen to carry the same number) or was received again.
        """
        if not self.holds(message) or message.receipt != receipt:
            return False  # it left the queue, or was received again
        if message._state == IN_FLIGHT:
            self._order.landed(message)
        else:  # its timeout passed but nobody received it again: the receipt still works
            self._order.remove(message)
        self._leave(message, "deleted")
        if self._waiting:
            self._serve()
        return True

    def holds(self, message: Message) -> bool:
        """Whether ``message`` (a stored message, as :meth:`poll` hands out) is still in
        this queue."""
        return self._stored.get(message.message_id) is message

    def change_visibility(self, message: Message, seconds: float) -> bool:
        """ChangeMessageVisibility: invisible for ``seconds`` (0–43200) from now.

        Returns False if the receipt is stale or the message is no longer in flight.
        0 makes it visible at once.
        """
        seconds = rules.seconds("seconds", seconds, 0, 43200)
        stored = self._current(message)
        if stored is None or stored._state != IN_FLIGHT:
            return False
        self._hide(stored, seconds)
        return True

    # --- observation ----------------------------------------------------------------

    def listen(self, listener: Listener, kinds: tuple[str, ...] = LISTEN_KINDS) -> None:
        """Call ``listener(kind, message)`` when a message is enqueued, dead_lettered,
        expired or deleted (or only on the ``kinds`` given)."""
        for kind in kinds:
            if kind not in self._listeners:
                raise ConfigError(f"kinds: expected some of {LISTEN_KINDS}, got {kind!r}")
            self._listeners[kind].append(listener)

    def on_enqueued(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(event_id)`` for every message stored from now on (a consumer
        group noting the events routed to it)."""
        self._enqueued.append(callback)

    def visible_count(self) -> int:
        """Messages available to a receive (SQS ApproximateNumberOfMessages)."""
        return len(self._order)

    def in_flight_count(self) -> int:
        """Messages received and not yet deleted or visible again (…NotVisible)."""
        return len(self._stored) - len(self._order) - self._delayed

    def delayed_count(self) -> int:
        """Messages still in their delay (ApproximateNumberOfMessagesDelayed)."""
        return self._delayed

    def depth(self) -> int:
        """Visible + in flight + delayed messages."""
        return len(self._stored)

    def messages(self) -> list[Message]:
        """A snapshot of every message still in the queue, oldest first."""
        return [m.snapshot() for m in self._stored.values()]

    def drain(self) -> list[Message]:
        """Remove and return every visible message, in queue order, for a redrive (the
        caller moves them on, so listeners are not told)."""
        drained = self._order.clear()
        for message in drained:
            self._stored.pop(message.message_id, None)
            message._state = GONE
        return drained

    def sweep(self, now: float) -> int:
        """Delete visible messages past retention (reported expired); how many."""
        if now - self._oldest <= self.retention:
            return 0
        expired = self._order.discard(lambda m: now - m.enqueued_at > self.retention)
        for message in expired:
            self._leave(message, "expired")
        self._oldest = min((m.enqueued_at for m in self._order), default=float("inf"))
        return len(expired)

    def __repr__(self) -> str:
        kind = "FIFO " if self.fifo else ""
        return f"<{kind}Queue {self.name!r} depth={self.depth()}>"

    # --- internals --------------------------------------------------------------------

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

    def _store(self, message: Message) -> None:
        if self.fifo:  # the order within a message group
            message._seq = next(self._sequence)
        message._state = DELAYED
        self._stored[message.message_id] = message
        for callback in self._enqueued:
            callback(message.event_id)
        if self._listeners["enqueued"]:
            self._notify("enqueued", message)

    def _undelay(self, message: Message, _event: object) -> None:
        self._delayed -= 1
        self._show(message)

    def _show(self, message: Message) -> None:
        """A stored message becomes visible for the first time."""
        message._state = VISIBLE
        if message.enqueued_at < self._oldest:
            self._oldest = message.enqueued_at
        self._order.push(message)
        if self._waiting:
            self._serve()

    def _admit(self, message: Message) -> bool:
        """A visible message leaves the line: expired, to the DLQ, or received."""
        now = self._env.now
        if now - message.enqueued_at > self.retention:
            self._leave(message, "expired")
            return False
        count = message.receive_count
        if self.dead_letter is not None and count >= self.max_receive_count:
            self._leave(message, "dead_lettered")
            self.dead_letter._accept_dead_letter(message, now)
            return False
        message.receive_count = count + 1
        message.receipt = next(self._receipts)
        if not count:
            message.first_received_at = now
        message._state = IN_FLIGHT
        self._clock.start(message, now)
        return True

    def _accept_dead_letter(self, message: Message, now: float) -> None:
        """Store a message moved here by a source queue's redrive policy."""
        message.receipt = None
        if self.fifo:
            message.enqueued_at = now  # SQS resets the enqueue time for FIFO queues
        self._store(message)
        self._show(message)

    def _received(self, request: simpy.Event, messages: list[Message]) -> list[Message]:
        """What a waiting receive gets (see :meth:`_hand_out`)."""
        return self._hand_out(messages, self._receive_timeouts.pop(request, None))

    def _hand_out(self, messages: list[Message], hide: float | None) -> list[Message]:
        """What a receive returns: snapshots; with its own visibility timeout (``hide``
        seconds) the messages are hidden for that long instead of the queue's timeout."""
        batch = [message.snapshot() for message in messages]
        if hide is not None:
            for message in messages:
                self._hide(message, hide)
        return batch

    def _hide(self, message: Message, seconds: float) -> None:
        """A message in flight stays invisible ``seconds`` from now (0: visible now)."""
        if seconds == 0:
            self._reappear(message)
        else:
            self._clock.start(message, self._env.now, seconds)

    def _on_timeout(self, message: Message, token: int) -> None:
        if message._state == IN_FLIGHT and message._token == token:
            self._reappear(message)

    def _reappear(self, message: Message) -> None:
        """The visibility timeout ended without a delete: visible again, or expired."""
        message._token += 1
        if self._env.now - message.enqueued_at > self.retention:
            self._order.landed(message)
            self._leave(message, "expired")
        else:
            message._state = VISIBLE
            self._oldest = min(self._oldest, message.enqueued_at)
            self._order.returned(message)
        self._serve()

    def _current(self, message: Any) -> Message | None:
        """The stored message whose latest receipt ``message`` carries, if any."""
        if not isinstance(message, Message):
            raise ConfigTypeError(f"message: expected a Message from receive(), got {message!r}")
        stored = self._stored.get(message.message_id)
        if stored is None or message.receipt is None or stored.receipt != message.receipt:
            return None
        return stored

    def _leave(self, message: Message, kind: str) -> None:
        message._state = GONE
        del self._stored[message.message_id]
        if self._listeners[kind]:
            self._notify(kind, message)
        if kind != "dead_lettered":  # a move to the DLQ hands the event over
            self._events.release(message.event_id)

    def _notify(self, kind: str, message: Message) -> None:
        """Tell the listeners on ``kind`` (callers skip the call when there are none: it
        happens twice per message)."""
        for listener in self._listeners[kind]:
            listener(kind, message)

    def _serve(self) -> None:
        """Give available messages to waiting receivers, first come first served."""
        waiting = self._waiting
        while waiting and self._order.takeable():
            request, n, copies = waiting[0]
            batch = self._order.take(n, self._admit)
            if batch:
                waiting.popleft()
                request.succeed(self._received(request, batch) if copies else batch)

    def _give_up(self, entry: Waiting, _event: object) -> None:
        self._receive_timeouts.pop(entry[0], None)
        if not entry[0].triggered and entry in self._waiting:
            self._waiting.remove(entry)
            entry[0].succeed([])
