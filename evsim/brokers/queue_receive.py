"""Receiving from an SQS-like queue: long polls, visibility timeouts, receipts, redrive.

:class:`ReceivingQueue` builds on the stored messages (:class:`~evsim.brokers.queue_store.
QueueStore`) the rules of ReceiveMessage, DeleteMessage and ChangeMessageVisibility
(Amazon SQS, with its ranges; a value outside them raises ConfigError):

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
"""

from __future__ import annotations

import itertools
from collections import deque
from functools import partial
from typing import Any

import simpy

from evsim.brokers import sqs_rules as rules
from evsim.brokers.message import IN_FLIGHT, VISIBLE, Message
from evsim.brokers.queue_store import QueueStore
from evsim.brokers.visibility import VisibilityClock
from evsim.brokers.world import World
from evsim.errors import ConfigTypeError

NO_REDRIVE = 1 << 62  # a receive count no message reaches: no redrive policy

Waiting = tuple[simpy.Event, int, bool]  # request, n, snapshots (a receive) or not (a group)


class ReceivingQueue(QueueStore):
    """A queue's messages as receivers take them: ``visibility_timeout`` [VisibilityTimeout],
    ``receive_batch`` [MaxNumberOfMessages], ``wait_time`` [ReceiveMessageWaitTimeSeconds],
    ``dead_letter`` + ``max_receive_count`` [RedrivePolicy]; times are seconds, and the
    settings are checked by :class:`~evsim.brokers.queue.Queue` (the redrive policy here)."""

    __slots__ = (
        "_clock",
        "_receipts",
        "_receive_timeouts",
        "_receives_allowed",
        "_waiting",
        "dead_letter",
        "max_receive_count",
        "receive_batch",
        "visibility_timeout",
        "wait_time",
    )

    def __init__(
        self,
        world: World,
        name: str,
        fifo: bool,
        retention: float,
        visibility_timeout: float,
        receive_batch: int,
        wait_time: float,
        dead_letter: object,
        max_receive_count: int | None,
    ) -> None:
        super().__init__(world, name, fifo, retention)
        self.dead_letter, self.max_receive_count = rules.redrive(
            self, dead_letter, max_receive_count, ReceivingQueue
        )
        # receives before the redrive policy moves a message (none without a policy)
        self._receives_allowed = self.max_receive_count or NO_REDRIVE
        self.visibility_timeout = visibility_timeout
        self.receive_batch = receive_batch
        self.wait_time = wait_time
        self._waiting: deque[Waiting] = deque()
        self._receive_timeouts: dict[simpy.Event, float] = {}  # waiting receives' own
        self._receipts = itertools.count(1)
        self._clock = VisibilityClock(world.env, visibility_timeout, self._on_timeout)

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

    # --- internals --------------------------------------------------------------------

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
        if count >= self._receives_allowed and self.dead_letter is not None:
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
