"""Reading an SQS-like queue: competing consumers, receive, delete, redelivery.

Rules modelled (Amazon SQS): consumers of one queue compete for its messages; each
receives a batch (``receive_batch``, 1–10) with long polling (``wait_time``); a message
received is invisible for the queue's visibility timeout and is deleted after it has been
processed (``commit="after"``, at-least-once). A message not deleted (its processing
failed, took longer than the visibility timeout, or its consumer crashed) becomes
visible again and is received again; the queue moves it to its dead-letter queue once
its receive count passes ``max_receive_count``. ``commit="before"`` deletes messages as
they are received (at-most-once): a failure or crash loses them.

A message that reappears while a consumer still works on it is handed to another: both
deliveries are attempts on the same event, so the event's attempt count and first attempt
span all of them (its ``attempts`` counts every row of ``result.attempts`` that started
before its outcome was decided).
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

import simpy

from evsim.delivery import FAILED, Delivery
from evsim.errors import ConfigError
from evsim.records import DEAD_LETTERED, EXPIRED, LOST, PENDING, PROCESSED

NO_TRIES = (0, float("nan"))

if TYPE_CHECKING:
    from evsim.consumer import Consumer
    from evsim.group import ConsumerGroup
    from evsim.queue import Message, Queue


class QueueFeed:
    """The queue a consumer group reads, and what its consumers hold of it."""

    def __init__(self, group: ConsumerGroup, queue: Queue) -> None:
        if getattr(queue, "reader", None) is not None:
            raise _competing(queue)
        queue.reader = group.name
        self.group = group
        self.world = group.world
        self.queue = queue
        self.name = queue.name
        self.routed = group.world.records.routed_log()
        self.active = False
        self._at_most_once = group.commit == "before"  # delete on receipt
        # event → (attempts, first attempt) of its deliveries that ended without settling it
        self._tries: dict[int, tuple[int, float]] = {}
        self._holders: dict[int, list[Delivery]] = {}  # event → its deliveries in progress
        self._in_hand: dict[int, Consumer] = {}  # deleted on receive, not yet settled
        # each consumer's received messages not yet started, with the receipt each came with
        self._batches: defaultdict[Consumer, deque[tuple[Message, int | None]]] = defaultdict(deque)
        self._polls: defaultdict[Consumer, set[Any]] = defaultdict(set)  # pending long polls

    # --- life cycle -------------------------------------------------------------------

    def join(self) -> None:
        """Start counting the messages that arrive from now on."""
        self.active = True
        self.queue.on_enqueued(self.routed.append)
        self.queue.listen(self._on_queue, kinds=("dead_lettered", "expired"))

    def member_down(self, consumer: Consumer) -> None:
        """A consumer crashed: the messages it had received but not started are dropped
        from its hands (they reappear after the visibility timeout, or are lost if they
        were deleted on receipt)."""
        for poll in self._polls.pop(consumer, set()):
            self.queue.cancel(poll)
        for message, _receipt in self._batches.pop(consumer, deque()):
            if message.event_id in self._in_hand:
                del self._in_hand[message.event_id]
                self._settle_event(message.event_id, LOST, consumer)

    def member_up(self, consumer: Consumer) -> None:
        """Queues have no assignment: a consumer back from a crash just receives again."""

    # --- handing out messages -----------------------------------------------------------

    def take_now(self, consumer: Consumer) -> Delivery | None:
        """The next message in ``consumer``'s hands, receiving a batch if they are empty;
        None if the queue has nothing visible."""
        batch = self._batches.get(consumer)
        if batch:
            message, receipt = batch.popleft()
        else:
            received = self.queue.poll()
            if not received:
                return None
            if len(received) == 1 and not self._at_most_once:  # nothing left in hand
                message = received[0]
                receipt = message.receipt
            else:
                message, receipt = self._receive(consumer, received).popleft()
        event_id = message.event_id
        holders = self._holders.get(event_id)
        if holders is None and event_id not in self._tries:  # its first delivery
            delivery = Delivery(event_id, event_id, (message, receipt, 0))
            self._holders[event_id] = [delivery]
            return delivery
        attempts, first = self._count(event_id)
        # the handle keeps the attempt count at hand-out: what follows is this delivery's own
        delivery = Delivery(event_id, event_id, (message, receipt, attempts), attempts, first)
        if holders is None:
            self._holders[event_id] = [delivery]
        else:  # it reappeared while another consumer still works on it
            holders.append(delivery)
        return delivery

    def wait(self, consumer: Consumer) -> simpy.Event:
        """Long-poll: an event that fires once messages are in ``consumer``'s hands."""
        poll = self.queue.wait()
        self._polls[consumer].add(poll)
        poll.callbacks.append(partial(self._received, consumer))  # before the waiter's
        return poll

    def _received(self, consumer: Consumer, poll: simpy.Event) -> None:
        polls = self._polls.get(consumer)
        if polls is None or poll not in polls:  # the consumer crashed meanwhile
            return
        polls.discard(poll)
        self._receive(consumer, poll.value)

    def _receive(self, consumer: Consumer, received: list[Message]) -> deque:
        """Note each message with the receipt it came with (before a re-receive changes it)."""
        batch = self._batches[consumer]
        for message in received:
            batch.append((message, message.receipt))
            if self._at_most_once:
                self.queue.delete_receipt(message, message.receipt)
                self._in_hand[message.event_id] = consumer
        return batch

    def _on_queue(self, kind: str, message: Message) -> None:
        if kind == "dead_lettered":
            self._settle_event(message.event_id, DEAD_LETTERED, None)
        elif kind == "expired":
            self._settle_event(message.event_id, EXPIRED, None)

    # --- endings ------------------------------------------------------------------------

    def complete(self, delivery: Delivery, result: int, consumer: Consumer) -> None:
        """Delete what was handled; leave a failure to reappear, or dead-letter it."""
        message, receipt, _ = delivery.handle
        if self._at_most_once:  # deleted on receipt: settle it either way
            del self._in_hand[delivery.event_id]
            self._close(delivery)
            if result == FAILED:
                self.group.give_up(delivery, consumer, {"original_queue": self.name})
            else:
                self.group.settle(delivery, PROCESSED, consumer)
            return
        if result != FAILED:
            if self.queue.delete_receipt(message, receipt):  # False: another has it now
                self._close(delivery)
                self.group.settle(delivery, PROCESSED, consumer)
            else:
                self._keep(delivery)
        elif self.group.dead_letter is not None and self.queue.delete_receipt(message, receipt):
            self._close(delivery)
            self.group.give_up(delivery, consumer, {"original_queue": self.name})
        else:  # it reappears after the visibility timeout: count on from here
            self._keep(delivery)

    def abandon(self, delivery: Delivery, consumer: Consumer) -> None:
        """The consumer crashed holding ``delivery``."""
        event_id = delivery.event_id
        if event_id in self._in_hand:  # deleted on receipt: gone for good
            del self._in_hand[event_id]
            self._close(delivery)
            self.group.settle(delivery, LOST, consumer)
        else:
            self._keep(delivery)

    def _count(self, event_id: int) -> tuple[int, float]:
        """The attempts on ``event_id`` so far and the first one's start, over the
        deliveries that ended and those in progress."""
        tally = self._tries.get(event_id, NO_TRIES)
        for holder in self._holders.get(event_id, ()):
            tally = _plus(tally, holder)
        return tally

    def _drop(self, delivery: Delivery) -> None:
        holders = self._holders[delivery.event_id]
        holders.remove(delivery)
        if not holders:
            del self._holders[delivery.event_id]

    def _close(self, delivery: Delivery) -> None:
        """``delivery`` settles its event: give it the attempts of every delivery."""
        event_id = delivery.event_id
        holders = self._holders[event_id]
        if len(holders) == 1 and not delivery.handle[2] and event_id not in self._tries:
            del self._holders[event_id]  # the event's only delivery: its count stands
            return
        delivery.attempts, delivery.first_attempt_at = self._count(event_id)
        self._drop(delivery)
        self._tries.pop(event_id, None)

    def _keep(self, delivery: Delivery) -> None:
        """``delivery`` ended without settling its event: add its attempts to the event's,
        if its message is still in the queue (to be received again)."""
        self._drop(delivery)
        event_id = delivery.event_id
        if not self.queue.holds(delivery.handle[0]):  # settled meanwhile (or moved away)
            return
        self._tries[event_id] = _plus(self._tries.get(event_id, NO_TRIES), delivery)

    def _settle_event(self, event_id: int, outcome: int, consumer: Consumer | None) -> None:
        attempts, first = self._count(event_id)
        self._tries.pop(event_id, None)
        self.group.settle(Delivery(event_id, event_id, None, attempts, first), outcome, consumer)

    # --- reading the state ----------------------------------------------------------------

    def unfinished(self) -> Iterator[tuple[int, int, Consumer | None]]:
        """Messages still in the queue (or in a consumer's hands) without an outcome."""
        now = self.world.env.now
        retention = self.queue.retention
        for event_id, consumer in self._in_hand.items():
            yield event_id, PENDING, consumer
        for message in self.queue.messages():
            expired = now - message.enqueued_at > retention
            yield message.event_id, EXPIRED if expired else PENDING, None


def _plus(tally: tuple[int, float], delivery: Delivery) -> tuple[int, float]:
    """An event's (attempts, first attempt's start) with what ``delivery`` added to them
    since it was handed out (its handle keeps the count at hand-out)."""
    attempts, first = tally
    start = delivery.first_attempt_at
    if start < first or first != first:  # NaN: no attempt yet
        first = start
    return attempts + delivery.attempts - delivery.handle[2], first


def _competing(queue: Queue) -> Exception:
    return ConfigError(
        f"source: queue {queue.name!r} is already read by group {queue.reader!r}; "
        "consumers of one SQS queue compete for its messages: give that group more consumers"
    )
