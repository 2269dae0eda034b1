"""Queue messages, the order a queue hands them out in, and their visibility timers.

Driven directly, as a queue drives them: the rules are Amazon SQS's (standard queues:
best-effort order, a message not deleted comes back after its visibility timeout; FIFO
queues: order within a message group, a group held back while one of its messages is in
flight, a receive taking as many of one group as it can).
"""

from __future__ import annotations

import evsim as ev
from evsim.actors.producer import send
from evsim.brokers.message import GONE, IN_FLIGHT, VISIBLE, Message
from evsim.brokers.ordering import FifoOrder, StandardOrder
from evsim.brokers.visibility import VisibilityClock
from evsim.engine import Clock


def messages(*groups: str | None) -> list[Message]:
    """A message per group id, numbered in send order as a queue numbers what it stores."""
    made = []
    for number, group in enumerate(groups):
        message = Message(number, 100 + number, 0.0, group_id=group)
        message._seq = number
        message._state = VISIBLE
        made.append(message)
    return made


def admit_all(message: Message) -> bool:
    message._state = IN_FLIGHT
    return True


def ids(batch: list[Message]) -> list[int]:
    return [message.message_id for message in batch]


# --- Message --------------------------------------------------------------------------


def test_a_new_message_has_not_been_received():
    message = Message(7, 42, 3.5, group_id="customer-1", dedup_id="order-9")
    assert (message.message_id, message.event_id, message.enqueued_at) == (7, 42, 3.5)
    assert (message.group_id, message.dedup_id) == ("customer-1", "order-9")
    assert message.receive_count == 0
    assert message.receipt is None and message.first_received_at is None


def test_a_snapshot_is_a_copy_that_later_receives_do_not_change():
    stored = Message(1, 10, 0.0, group_id="A")
    stored.receive_count, stored.receipt, stored.first_received_at = 1, 5, 2.0
    copy = stored.snapshot()
    assert copy is not stored
    stored.receive_count, stored.receipt = 2, 6  # received again
    assert (copy.message_id, copy.event_id, copy.group_id) == (1, 10, "A")
    assert (copy.receive_count, copy.receipt, copy.first_received_at) == (1, 5, 2.0)


def test_a_message_shows_its_ids_and_its_group():
    assert "group_id='A'" in repr(Message(1, 10, 0.0, group_id="A"))
    assert "group_id" not in repr(Message(1, 10, 0.0))


# --- StandardOrder: one line, best effort ---------------------------------------------


def test_a_standard_queue_hands_out_the_oldest_visible_first():
    order = StandardOrder()
    for message in messages(None, None, None):
        order.push(message)
    assert len(order) == 3 and order.takeable()
    assert ids(order.take(2, admit_all)) == [0, 1]
    assert ids(order.take(10, admit_all)) == [2]
    assert len(order) == 0 and not order.takeable()


def test_a_standard_message_that_reappears_goes_to_the_back():
    order = StandardOrder()
    first, second, third = messages(None, None, None)
    order.push(first)
    order.push(second)
    [received] = order.take(1, admit_all)
    order.push(third)
    order.returned(received)  # its visibility timeout ended
    assert ids(order.take(10, admit_all)) == [1, 2, 0]


def test_messages_the_queue_refuses_on_receive_leave_the_line():
    order = StandardOrder()
    for message in messages(None, None, None):
        order.push(message)
    expired = {0}
    batch = order.take(1, lambda m: m.message_id not in expired and admit_all(m))
    assert ids(batch) == [1]
    assert ids(list(order)) == [2]  # message 0 is gone, not put back


def test_a_standard_line_can_lose_selected_messages_and_keep_taking():
    order = StandardOrder()
    *old, new = messages(None, None, None, None, None)
    for message in old:
        order.push(message)
    assert ids(order.discard(lambda m: m.message_id % 2 == 0)) == [0, 2]
    order.push(new)
    assert ids(order.take(10, admit_all)) == [1, 3, 4]


# --- FifoOrder: one line per message group --------------------------------------------


def test_fifo_keeps_the_send_order_within_a_group():
    order = FifoOrder()
    for message in messages("A", "A", "A"):
        order.push(message)
    taken = []
    while order.takeable():
        [message] = order.take(1, admit_all)
        taken.append(message.message_id)
        order.landed(message)  # deleted: the group may go on
    assert taken == [0, 1, 2]


def test_a_fifo_group_is_held_back_while_one_of_its_messages_is_in_flight():
    order = FifoOrder()
    for message in messages("A", "A", "B"):
        order.push(message)
    [a0] = order.take(1, admit_all)
    assert ids(order.take(1, admit_all)) == [2]  # A waits; B proceeds
    assert not order.takeable() and len(order) == 1  # A's second is visible but held
    order.landed(a0)
    assert ids(order.take(1, admit_all)) == [1]


def test_a_fifo_group_waits_for_every_message_it_has_in_flight():
    order = FifoOrder()
    for message in messages("A", "A", "A"):
        order.push(message)
    a0, a1 = order.take(2, admit_all)
    order.landed(a0)
    assert not order.takeable()  # a1 is still in flight
    order.landed(a1)
    assert ids(order.take(10, admit_all)) == [2]


def test_a_fifo_receive_takes_as_many_of_one_group_as_it_can_then_the_next_group():
    order = FifoOrder()
    for message in messages("A", "B", "A", "B", "A"):
        order.push(message)
    assert ids(order.take(2, admit_all)) == [0, 2]
    assert ids(order.take(10, admit_all)) == [1, 3]  # A is in flight: B's, not A's last


def test_a_fifo_message_that_reappears_goes_back_to_its_place_in_its_group():
    order = FifoOrder()
    for message in messages("A", "A", "A"):
        order.push(message)
    a0, a1 = order.take(2, admit_all)
    order.returned(a1)  # timeouts end in either order
    order.returned(a0)
    assert ids(order.take(10, admit_all)) == [0, 1, 2]


def test_a_fifo_message_refused_on_receive_does_not_hold_its_group():
    order = FifoOrder()
    for message in messages("A", "A"):
        order.push(message)
    batch = order.take(1, lambda m: m.message_id != 0 and admit_all(m))
    assert ids(batch) == [1]  # message 0 expired on the way
    order.landed(batch[0])
    assert len(order) == 0 and not order.takeable()


def test_fifo_discard_and_clear_give_messages_in_queue_order():
    order = FifoOrder()
    for message in messages("B", "A", "B", "A"):
        order.push(message)
    assert ids(order.discard(lambda m: m.message_id >= 2)) == [2, 3]
    assert ids(order.clear()) == [0, 1]
    assert len(order) == 0 and not order.takeable()


# --- VisibilityClock: when a received message is visible again ------------------------


class Receiver:
    """What a queue does when a visibility timer ends: a message still in flight whose
    timer it is becomes visible again (a stale timer is ignored)."""

    def __init__(self, env: Clock, timeout: float) -> None:
        self.env = env
        self.clock = VisibilityClock(env, timeout, self.due)
        self.visible_again: list[tuple[float, int]] = []

    def receive(self, message: Message, seconds: float | None = None) -> None:
        message._state = IN_FLIGHT
        self.clock.start(message, self.env.now, seconds)

    def due(self, message: Message, token: int) -> None:
        if message._state == IN_FLIGHT and message._token == token:
            message._state = VISIBLE
            self.visible_again.append((self.env.now, message.message_id))


def at(env: Clock, time: float, action) -> None:
    env.call_later(time - env.now, lambda _timer: action())


def test_a_received_message_is_invisible_until_its_visibility_timeout_ends():
    env = Clock()
    receiver = Receiver(env, timeout=30)
    first, second = messages(None, None)
    receiver.receive(first)
    at(env, 10, lambda: receiver.receive(second))
    env.run(until=29.999)
    assert receiver.visible_again == []
    env.run(until=100)
    assert receiver.visible_again == [(30, 0), (40, 1)]


def test_a_message_deleted_in_flight_never_becomes_visible_again():
    env = Clock()
    receiver = Receiver(env, timeout=30)
    deleted, kept = messages(None, None)
    receiver.receive(deleted)
    receiver.receive(kept)

    def delete() -> None:
        deleted._state = GONE

    at(env, 5, delete)
    env.run(until=100)
    assert receiver.visible_again == [(30, 1)]


def test_a_restarted_timer_replaces_the_earlier_one():
    env = Clock()
    receiver = Receiver(env, timeout=30)
    [message] = messages(None)
    receiver.receive(message)
    at(env, 10, lambda: receiver.receive(message, 30))  # ChangeMessageVisibility(30)
    env.run(until=100)
    assert receiver.visible_again == [(40, 0)]


def test_a_visibility_timeout_of_its_own_replaces_the_queue_s():
    env = Clock()
    receiver = Receiver(env, timeout=30)
    short, long, same = messages(None, None, None)
    receiver.receive(short, seconds=5)  # ReceiveMessage's VisibilityTimeout
    receiver.receive(long, seconds=600)  # or ChangeMessageVisibility
    receiver.receive(same, seconds=30)
    env.run(until=1000)
    assert receiver.visible_again == [(5, 0), (30, 2), (600, 1)]


# --- the three together, in a queue ---------------------------------------------------


def test_a_polled_message_not_deleted_is_received_again_with_a_higher_count():
    sim = ev.Simulation(seed=1)
    queue = sim.queue("jobs", visibility_timeout=30)
    env, code = sim.world.env, sim.records.names.code
    at(env, 0, lambda: send(sim.world, queue, code("test"), code("Event"), None, None))
    env.run(until=1)
    [first] = queue.poll()
    receipt = first.receipt
    assert (first.receive_count, queue.visible_count(), queue.in_flight_count()) == (1, 0, 1)
    env.run(until=30.9)  # received at 1: invisible for 30 s
    assert queue.poll() == []
    env.run(until=31.1)
    assert (queue.visible_count(), queue.in_flight_count()) == (1, 0)
    [again] = queue.poll()
    assert again is first and again.receive_count == 2 and again.receipt != receipt
    assert queue.delete_receipt(again, receipt) is False  # the old receipt is stale
    assert queue.delete_receipt(again, again.receipt) is True
    assert queue.depth() == 0
