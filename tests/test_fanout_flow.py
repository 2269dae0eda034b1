"""The seed's SNS/SQS flow end to end: ``ev.from_aws`` on data/aws/order-events.json.

OrderEvents (SNS) fans out to NotificationQueue (SQS) through a filter policy that passes
only ``OrderCreated``; the queue redrives to NotificationDLQ after 5 receives
(``maxReceiveCount``) with a 30 s visibility timeout. SNS delivers one copy per matching
subscription, each carrying the same event id; a message moved to a DLQ is the same
message (same event), not a new publish.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import evsim as ev

SEED_CONFIG = Path(__file__).resolve().parents[1] / "data" / "aws" / "order-events.json"


def seed_flow(seed=21, until=400.0, stop=300.0, faults=None, subscribe=None):
    """The seed's config plus an order service and a payment service publishing to
    OrderEvents, and a notification service reading NotificationQueue."""
    sim = ev.from_aws(SEED_CONFIG, seed=seed)
    sim.producer(
        "orders-service", target="OrderEvents", arrivals=ev.Poisson(rate=2),
        event_type="OrderCreated", attributes=lambda i: {"amount": (i * 37) % 200}, stop=stop,
    )  # fmt: skip
    sim.producer(
        "payments-service", target="OrderEvents", arrivals=ev.Poisson(rate=2),
        event_type="PaymentProcessed", stop=stop,
    )  # fmt: skip
    sim.consumer_group(
        "notification-service", source="NotificationQueue", consumers=2,
        service_time=ev.Exponential(mean=0.2), faults=faults,
    )  # fmt: skip
    for queue, policy, group in subscribe or []:
        sim.queue(queue)
        sim.fanouts["OrderEvents"].subscribe(queue, filter_policy=policy)
        sim.consumer_group(group, source=queue, consumers=2, service_time=0.05)
    result = sim.run(until=until)
    result.check()
    return sim, result


def deliveries_of(result, group):
    deliveries = result.deliveries
    return deliveries[deliveries["group"] == group].set_index("event_id")


def test_only_order_created_reaches_the_notification_queue_each_exactly_once():
    sim, result = seed_flow()
    events = result.events
    assert set(events["event_type"]) == {"OrderCreated", "PaymentProcessed"}
    assert (events["target"] == "OrderEvents").all()  # one row per publish, none per copy
    created = set(events.loc[events["event_type"] == "OrderCreated", "event_id"])
    deliveries = deliveries_of(result, "notification-service")
    assert set(deliveries.index) == created and len(deliveries) == len(created)
    assert (deliveries["outcome"] == "processed").all()
    attempts = result.attempts
    assert attempts["event_id"].is_unique and set(attempts["event_id"]) == created
    assert (attempts["status"] == "ok").all()
    subscription = sim.fanouts["OrderEvents"].subscriptions[0]
    assert subscription.delivered == len(created)
    assert sim.queues["NotificationQueue"].depth() == 0


@pytest.fixture(scope="module")
def poisoned():
    return seed_flow(until=700.0, stop=500.0, faults=[ev.PoisonEvents(p=0.05)])


def test_poison_messages_land_in_the_dlq_after_max_receive_count_receives(poisoned):
    sim, result = poisoned
    queue = sim.queues["NotificationQueue"]
    assert (queue.max_receive_count, queue.visibility_timeout) == (5, 30)  # from the config
    assert queue.dead_letter is sim.queues["NotificationDLQ"]
    deliveries = deliveries_of(result, "notification-service")
    dead = deliveries[deliveries["outcome"] == "dead_lettered"]
    assert len(dead) > 10
    assert (dead["attempts"] == queue.max_receive_count).all()
    # each receive comes at least one visibility timeout after the previous one
    waited = dead["completed_at"] - dead["first_attempt_at"]
    assert (waited >= queue.max_receive_count * queue.visibility_timeout - 1e-9).all()
    attempts = result.attempts
    failing = set(attempts.loc[attempts["status"] == "error", "event_id"])
    assert (attempts.loc[attempts["event_id"].isin(dead.index), "status"] == "error").all()
    # a poison event is dead-lettered, or still going round when the run stops
    unsettled = set(deliveries.index[deliveries["outcome"] == "pending"])
    assert set(dead.index) <= failing <= set(dead.index) | unsettled
    processed = deliveries[deliveries["outcome"] == "processed"]
    assert (processed["attempts"] == 1).all() and not failing & set(processed.index)
    assert set(deliveries["outcome"]) <= {"processed", "dead_lettered", "pending"}


def test_dead_lettered_deliveries_match_the_dlq_depth(poisoned):
    sim, result = poisoned
    deliveries = deliveries_of(result, "notification-service")
    dead = deliveries[deliveries["outcome"] == "dead_lettered"]
    rows = result.timeseries
    depth = rows[(rows["metric"] == "dlq_depth") & (rows["entity"] == "NotificationDLQ")]
    moved = np.sort(dead["completed_at"].to_numpy())
    # at every sample: the messages dead-lettered so far (the ones still in flight are not)
    settled_by = np.searchsorted(moved, depth["time"].to_numpy(), side="right")
    np.testing.assert_array_equal(depth["value"].to_numpy(), settled_by)
    assert depth["value"].iloc[-1] == len(dead)
    dlq = sim.queues["NotificationDLQ"]
    assert sorted(m.event_id for m in dlq.messages()) == sorted(dead.index)
    assert all(m.receive_count == 5 for m in dlq.messages())
    published = result.events.set_index("event_id")["published_at"]
    for message in dlq.messages():  # retention still counts from the original enqueue
        assert message.enqueued_at == published.loc[message.event_id]  # (no latency here)
    assert not (result.events["target"] == "NotificationDLQ").any()  # moved, not published


def test_the_same_poison_events_fail_whatever_else_changes(poisoned):
    """PoisonEvents picks by seed and event id: a larger share keeps the smaller's."""
    _, result = poisoned
    _, more = seed_flow(until=700.0, stop=500.0, faults=[ev.PoisonEvents(p=0.10)])

    def failing(res):
        attempts = res.attempts
        return set(attempts.loc[attempts["status"] == "error", "event_id"])

    assert failing(result) < failing(more)


AUDIT = {"eventType": ["OrderCreated", "PaymentProcessed"]}
BIG_ORDERS = {"eventType": ["OrderCreated"], "amount": [{"numeric": [">=", 150]}]}


def audit_matches(event_type, attributes):
    return event_type in ("OrderCreated", "PaymentProcessed")


def big_order_matches(event_type, attributes):
    return event_type == "OrderCreated" and attributes.get("amount", -1) >= 150


def test_each_matching_subscription_gets_one_copy_of_the_same_event():
    subscribe = [
        ("AuditQueue", AUDIT, "audit-service"),
        ("BigOrdersQueue", BIG_ORDERS, "fraud-service"),
    ]
    sim, result = seed_flow(subscribe=subscribe)
    events = result.events.set_index("event_id")
    wanted = {
        "notification-service": lambda t, a: t == "OrderCreated",
        "audit-service": audit_matches,
        "fraud-service": big_order_matches,
    }
    copies = 0
    for group, matches in wanted.items():
        expected = {
            event_id
            for event_id, row in events.iterrows()
            if matches(row["event_type"], row["attributes"])
        }
        got = deliveries_of(result, group)
        assert set(got.index) == expected and got.index.is_unique
        assert (got["outcome"] == "processed").all()
        copies += len(expected)
    big = set(deliveries_of(result, "fraud-service").index)
    notified = set(deliveries_of(result, "notification-service").index)
    audited = set(deliveries_of(result, "audit-service").index)
    assert big and big < notified < audited  # the same event ids in several groups
    assert len(audited) == len(events)
    delivered = sum(s.delivered for s in sim.fanouts["OrderEvents"].subscriptions)
    assert delivered == copies == len(result.deliveries)
    ok = result.attempts[result.attempts["status"] == "ok"]
    assert not ok.duplicated(["group", "event_id"]).any()  # each copy processed once
