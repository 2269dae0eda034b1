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
deliveries are attempts on the same event, counted in one tally
(:class:`~evsim.actors.delivery.Tally`), so the event's ``attempts`` counts every row of
``result.attempts`` written before its outcome was decided, whichever consumer made it.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterator
from functools import partial
from typing import Any

import simpy

from evsim.actors import headers
from evsim.actors.delivery import FAILED, Delivery, Ending, QueueReceipt, Tally
from evsim.actors.roles import GroupServices, Unfinished
from evsim.actors.roles import Member as Consumer
from evsim.brokers.message import Message
from evsim.brokers.queue import Queue
from evsim.errors import ConfigError
from evsim.records import DEAD_LETTERED, EXPIRED, LOST, PENDING, PROCESSED


class QueueFeed:
    """The queue a consumer group reads, and what its consumers hold of it."""

    def __init__(self, group: GroupServices, queue: Queue) -> None:
        if getattr(queue, "reader", None) is not None:
            raise _competing(queue)
        queue.reader = group.name
        self.group = group
        self.world = group.world
        self.queue = queue
        self.name = queue.name
        self.routed = group.world.records.routed_log()
        self.active = False
        self._at_most_once = group.config.commit == "before"  # delete on receipt
        self.queued: list[bool] = []  # a queue has no partitions to queue
        events = group.world.records.events
        self._hold, self._let_go = events.hold, events.release
        self._in_hand: dict[int, Consumer] = {}  # deleted on receive, not yet settled
        # each consumer's received messages not yet started, each with the receipt it came
        # with and its event's tally (taken on receipt: the consumer holds it from then on)
        self._batches: defaultdict[Consumer, deque[tuple[Message, int | None, Tally]]] = (
            defaultdict(deque)
        )
        self._polls: defaultdict[Consumer, set[Any]] = defaultdict(set)  # pending long polls

    # --- life cycle -------------------------------------------------------------------

    def join(self) -> None:
        """Start reading: the messages already in the queue (a group that joins late finds
        them waiting) and those that arrive from now on are routed to the group."""
        self.active = True
        self.routed.extend(message.event_id for message in self.queue.messages())
        self.queue.on_enqueued(self.routed.append)
        self.queue.listen(self._on_queue, kinds=("dead_lettered", "expired"))

    def member_down(self, consumer: Consumer) -> None:
        """A consumer crashed: the messages it had received but not started are dropped
        from its hands (they reappear after the visibility timeout, or are lost if they
        were deleted on receipt)."""
        for poll in self._polls.pop(consumer, set()):
            self.queue.cancel(poll)
        for message, _receipt, _tally in self._batches.pop(consumer, deque()):
            self._let_go(message.event_id)
            if message.event_id in self._in_hand:
                del self._in_hand[message.event_id]
                self.group.settle_unheld(message.event_id, LOST, consumer)

    def member_up(self, consumer: Consumer) -> None:
        """Queues have no assignment: a consumer back from a crash just receives again."""

    # --- handing out messages -----------------------------------------------------------

    def take_now(self, consumer: Consumer) -> Delivery[QueueReceipt] | None:
        """The next message in ``consumer``'s hands, receiving a batch if they are empty;
        None if the queue has nothing visible."""
        batch = self._batches.get(consumer)
        if batch:
            message, receipt, tally = batch.popleft()
        else:
            received = self.queue.poll()
            if not received:
                return None
            if len(received) == 1 and not self._at_most_once:  # nothing left in hand
                message = received[0]
                receipt, tally = message.receipt, self.group.tally(message.event_id)
                self._hold(message.event_id)
            else:
                message, receipt, tally = self._receive(consumer, received).popleft()
        # a message that left the queue while it waited in the consumer's batch (expired,
        # moved to the DLQ) is processed all the same, as a real consumer would: its delete
        # then fails and settles nothing (complete), and its tally, taken on receipt,
        # numbers the attempt on
        return Delivery(message.event_id, message.event_id, QueueReceipt(message, receipt), tally)

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
        self._receive(consumer, poll.value or [])  # a fired wait holds >= 1 message

    def _receive(self, consumer: Consumer, received: list[Message]) -> deque:
        """Note each message with the receipt it came with (before a re-receive changes it)."""
        batch, tally, hold = self._batches[consumer], self.group.tally, self._hold
        for message in received:
            hold(message.event_id)  # the consumer has the message (see evsim.records)
            batch.append((message, message.receipt, tally(message.event_id)))
            if self._at_most_once:
                self.queue.delete_receipt(message, message.receipt)
                self._in_hand[message.event_id] = consumer
        return batch

    def _on_queue(self, kind: str, message: Message) -> None:
        if kind == "dead_lettered":
            self.group.settle_unheld(message.event_id, DEAD_LETTERED)
        elif kind == "expired":
            self.group.settle_unheld(message.event_id, EXPIRED)

    # --- endings ------------------------------------------------------------------------

    def complete(
        self, delivery: Delivery[QueueReceipt], result: Ending, consumer: Consumer
    ) -> None:
        """Delete what was handled; leave a failure to reappear, or dead-letter it.

        A delete that fails (the message was received again since, or has left the
        queue) settles nothing: the message's current holder, or its expiry or move to the
        dead-letter queue, decides the outcome."""
        message, receipt = delivery.handle
        group = self.group
        self._let_go(delivery.event_id)
        if self._at_most_once:  # deleted on receipt: settle it either way
            del self._in_hand[delivery.event_id]
            if result == FAILED:
                group.give_up(delivery, consumer, {headers.ORIGINAL_QUEUE: self.name})
            else:
                group.settle(delivery, PROCESSED, consumer)
        elif result != FAILED:
            if self.queue.delete_receipt(message, receipt):
                group.settle(delivery, PROCESSED, consumer)
        elif group.config.dead_letter is not None and self.queue.delete_receipt(message, receipt):
            group.give_up(delivery, consumer, {headers.ORIGINAL_QUEUE: self.name})
        # otherwise it reappears after the visibility timeout, its tally counting on

    def abandon(self, delivery: Delivery[QueueReceipt], consumer: Consumer) -> None:
        """The consumer crashed holding ``delivery``: a message deleted on receipt is gone
        for good; any other reappears after its visibility timeout."""
        self._let_go(delivery.event_id)
        if self._in_hand.pop(delivery.event_id, None) is not None:
            self.group.settle(delivery, LOST, consumer)

    # --- reading the state ----------------------------------------------------------------

    def unfinished(self) -> Iterator[Unfinished]:
        """Messages still in the queue (or in a consumer's hands) without an outcome."""
        now = self.world.env.now
        retention = self.queue.retention
        for event_id, consumer in self._in_hand.items():
            yield event_id, PENDING, consumer
        for message in self.queue.messages():
            expired = now - message.enqueued_at > retention
            yield message.event_id, EXPIRED if expired else PENDING, None


class ScaledQueueFeed(QueueFeed):
    """The feed of an autoscaled group reading a queue, whose consumers may leave.

    A consumer that leaves (scaled in) receives no more messages: its pending long poll is
    closed, and once it has handled what it holds (the message in hand, the rest of its
    batch) it takes nothing more. A shutting-down SQS consumer stops polling and
    finishes its work. The checks cost a set lookup per delivery, so only an autoscaled
    group has them.
    """

    def __init__(self, group: GroupServices, queue: Queue) -> None:
        super().__init__(group, queue)
        self._left: set[Consumer] = set()

    def member_left(self, consumer: Consumer) -> None:
        """``consumer`` left the group: it receives no more."""
        self._left.add(consumer)
        for poll in self._polls.pop(consumer, set()):
            self.queue.cancel(poll)

    def take_now(self, consumer: Consumer) -> Delivery[QueueReceipt] | None:
        """As :meth:`QueueFeed.take_now`; a consumer that left takes only what it holds."""
        if consumer in self._left and not self._batches.get(consumer):
            return None
        return super().take_now(consumer)

    def wait(self, consumer: Consumer) -> simpy.Event:
        """As :meth:`QueueFeed.wait`; for a consumer that left, an event that never fires."""
        if consumer in self._left:
            return self.world.env.event()
        return super().wait(consumer)


def _competing(queue: Queue) -> Exception:
    return ConfigError(
        f"source: queue {queue.name!r} is already read by group {queue.reader!r}; "
        "consumers of one SQS queue compete for its messages: give that group more consumers"
    )
