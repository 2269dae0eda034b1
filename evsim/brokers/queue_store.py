"""What an SQS-like queue holds: its messages by state, and what observers see of them.

:class:`QueueStore` is the bottom of a queue (:class:`~evsim.brokers.queue.Queue` builds
on it): every message stored, by message id, and in which state (delayed, visible, in
flight: :mod:`evsim.brokers.message`); the visible ones in their order
(:mod:`evsim.brokers.ordering`); the counts SQS reports (ApproximateNumberOfMessages,
…NotVisible, …Delayed); the listeners told when a message is stored or leaves.

* Retention (``MessageRetentionPeriod``, 60–1209600 s, default 345600 = 4 days) counts
  from the original enqueue time; a standard queue's message moved to a DLQ keeps that
  time, a FIFO queue's gets a new one (SQS resets it for FIFO queues).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from evsim.brokers.message import DELAYED, GONE, Message
from evsim.brokers.ordering import FifoOrder, StandardOrder
from evsim.brokers.world import World
from evsim.errors import ConfigError

Listener = Callable[[str, Message], None]
"""Called with (kind, message); kind is one of ``LISTEN_KINDS``."""
LISTEN_KINDS = ("enqueued", "dead_lettered", "expired", "deleted")


class QueueStore:
    """The messages of a queue named ``name`` (standard or FIFO), kept ``retention``
    seconds from their enqueue time, and the observers told of them."""

    __slots__ = (
        "_delayed",
        "_enqueued",
        "_env",
        "_events",
        "_listeners",
        "_oldest",
        "_order",
        "_sequence",
        "_stored",
        "code",
        "fifo",
        "name",
        "reader",
        "retention",
        "world",
    )

    def __init__(self, world: World, name: str, fifo: bool, retention: float) -> None:
        self.world = world
        self.name = name
        self.fifo = fifo
        self.retention = retention
        self.code = world.records.names.code(name)
        self._env = world.env
        self._events = world.records.events
        self.reader: str | None = None  # the consumer group reading it (set by the group)
        self._order = FifoOrder() if fifo else StandardOrder()
        self._stored: dict[int, Message] = {}
        self._delayed = 0  # messages in their delay (the others are visible or in flight)
        self._listeners: dict[str, list[Listener]] = {kind: [] for kind in LISTEN_KINDS}
        self._enqueued: list[Callable[[int], None]] = []  # called with the event id
        self._sequence = itertools.count()
        self._oldest = float("inf")  # a lower bound of visible messages' enqueue times

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

    def holds(self, message: Message) -> bool:
        """Whether ``message`` (a stored message, as :meth:`poll` hands out) is still in
        this queue."""
        return self._stored.get(message.message_id) is message

    def messages(self) -> list[Message]:
        """A snapshot of every message still in the queue, oldest first."""
        return [m.snapshot() for m in self._stored.values()]

    def drain(self, limit: int | None = None) -> list[Message]:
        """Remove and return the visible messages (the first ``limit`` of them; all if
        None), in queue order, for a redrive (the caller moves them on, so listeners are
        not told)."""
        if limit is None:
            drained = self._order.clear()
        else:
            drained = self._order.front(limit)
            for message in drained:
                self._order.remove(message)
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

    # --- a message comes and goes -----------------------------------------------------

    def _store(self, message: Message) -> None:
        if self.fifo:  # the order within a message group
            message._seq = next(self._sequence)
        message._state = DELAYED
        self._stored[message.message_id] = message
        for callback in self._enqueued:
            callback(message.event_id)
        if self._listeners["enqueued"]:
            self._notify("enqueued", message)

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
