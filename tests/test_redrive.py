"""Redrive: fix the bug, then send the dead letters back (``sim.redrive``).

Rules checked: SQS's DLQ redrive (StartMessageMoveTask) moves a DLQ's messages back to
their source queue as *new* messages and empties the DLQ; a Kafka dead-letter topic keeps
its records and a redrive republishes them to their original topic (same key, so the same
partition), remembering how far it got, so a later redrive sends only what came since;
``rate`` paces the copies (MaxNumberOfMessagesPerSecond, at most 500), and an SQS DLQ's
depth falls as the move task sends them. A DLQ fed by several queues has
no single source: the destination must be named.
"""

from __future__ import annotations

import numpy as np
import pytest

import evsim as ev

FIXED_AT = 100.0  # the bug is in the code until then


def coupon(i):
    return {"coupon": i % 4 == 0}


def buggy(event):
    """Orders with a coupon crash the handler until the fix is deployed at FIXED_AT."""
    return event.payload["coupon"] and event.published_at < FIXED_AT


def copies_of(result, name):
    events = result.events
    return events[events["producer"] == f"redrive:{name}"]


# --- an SQS dead-letter queue -------------------------------------------------------------


def sqs_redrive(rate):
    sim = ev.Simulation(seed=13)
    sim.queue("orders", visibility_timeout=5, dead_letter="orders-dlq", max_receive_count=3)
    sim.producer("shop", "orders", ev.Poisson(rate=2), payload=coupon, stop=150)
    sim.consumer_group(
        "billing", source="orders", consumers=2, service_time=0.05,
        faults=[ev.PoisonEvents(match=buggy)],
    )  # fmt: skip
    move = sim.redrive("orders-dlq", at=200, rate=rate)
    assert move.to is sim.queues["orders"]  # the queue whose redrive policy feeds the DLQ
    result = sim.run(until=300)
    result.check()
    return sim, move, result


@pytest.mark.parametrize("rate", [None, 4.0])
def test_an_sqs_redrive_sends_the_dlq_back_to_its_source_as_new_messages(rate, series):
    sim, move, result = sqs_redrive(rate)
    events = result.events.set_index("event_id")
    deliveries = result.deliveries.set_index("event_id")
    dead = deliveries.index[deliveries["outcome"] == "dead_lettered"]
    originals = events[events["producer"] == "shop"]
    was_buggy = originals.index[
        originals["payload"].map(lambda p: p["coupon"]) & (originals["published_at"] < FIXED_AT)
    ]
    assert len(dead) > 10 and set(dead) == set(was_buggy)
    assert (deliveries.loc[dead, "completed_at"] < 200).all()  # all moved before the redrive

    copies = copies_of(result, "orders-dlq").set_index("event_id")
    assert len(copies) == len(dead) == move.moved
    assert not set(copies.index) & set(originals.index)  # new ids (new SQS messages)
    assert sorted(copies["original_id"].astype(int)) == sorted(dead)
    assert (copies["cause_id"] == copies["original_id"]).all()  # the DLQ'd event itself
    assert (copies["target"] == "orders").all()
    source = events.loc[copies["original_id"].astype(int)]
    assert copies["payload"].tolist() == source["payload"].tolist()
    assert copies["event_type"].tolist() == source["event_type"].tolist()
    sent = np.sort(copies["published_at"].to_numpy())
    if rate is None:
        assert (sent == 200).all()
    else:
        assert sent[0] == 200
        np.testing.assert_allclose(np.diff(sent), 1 / rate)

    # the bug is fixed: every copy is processed, at the first attempt
    processed = deliveries.loc[copies.index]
    assert (processed["outcome"] == "processed").all() and (processed["attempts"] == 1).all()
    depth = series(result, "dlq_depth", "orders-dlq")
    assert (depth[(depth.index > deliveries.loc[dead, "completed_at"].max())
                  & (depth.index < 200)] == len(dead)).all()  # fmt: skip
    # the move task takes each message out of the DLQ as it sends its copy
    moving = depth[depth.index >= 200]
    at = moving.index.to_numpy()  # a sample at a send's instant may come before or after it
    before, by = np.searchsorted(sent, at, side="left"), np.searchsorted(sent, at, side="right")
    assert ((len(dead) - by <= moving) & (moving <= len(dead) - before)).all()
    if rate is not None:
        assert moving.iloc[0] == len(dead) - 1 and moving.iloc[-1] == 0  # gradual
    assert sim.queues["orders-dlq"].depth() == 0 and sim.queues["orders"].depth() == 0


# --- a Kafka dead-letter topic --------------------------------------------------------------


def twice_buggy(event):
    """A bug until FIXED_AT, fixed, then back from 250 to 300 (a regression)."""
    late = 250 <= event.published_at < 300
    return event.payload["coupon"] and (event.published_at < FIXED_AT or late)


@pytest.fixture(scope="module")
def dead_letter_topic():
    sim = ev.Simulation(seed=17)
    payments = sim.topic("payments", partitions=3)
    sim.producer(
        "checkout", "payments", ev.Poisson(rate=2), keys=ev.UniformKeys(50), payload=coupon,
        stop=350,
    )  # fmt: skip
    sim.consumer_group(
        "ledger", "payments", consumers=2, service_time=0.02,
        retry=ev.Retry(max_attempts=3, backoff=0.1), dead_letter="payments-dlt",
        faults=[ev.PoisonEvents(match=twice_buggy)],
    )  # fmt: skip
    sim.redrive("payments-dlt", at=200)
    sim.redrive("payments-dlt", at=400, rate=2.0)
    result = sim.run(until=500)
    result.check()
    return sim, payments, result


def test_a_dead_letter_topic_is_republished_to_the_original_topic(dead_letter_topic):
    _, payments, result = dead_letter_topic
    events = result.events.set_index("event_id")
    records = events[events["target"] == "payments-dlt"]
    assert (records["producer"] == "ledger").all()
    copies = copies_of(result, "payments-dlt").set_index("event_id")
    first = copies[copies["published_at"] < 400]
    before = records[records["published_at"] < 200]
    assert len(first) == len(before) > 5
    assert (first["published_at"] == 200).all()
    assert sorted(first["cause_id"].astype(int)) == sorted(before.index)  # one per record
    originals = events.loc[first["original_id"].astype(int)]
    assert (originals["target"] == "payments").all() and (first["target"] == "payments").all()
    assert first["key"].tolist() == originals["key"].tolist()
    # the same key: Kafka's partitioner puts the copy in the original's partition
    assert first["partition"].tolist() == originals["partition"].tolist()
    placed = zip(first["key"], first["partition"], strict=True)
    assert all(partition == payments.partition_for(key) for key, partition in placed)
    deliveries = result.deliveries.set_index("event_id")
    assert (deliveries.loc[copies.index, "outcome"] == "processed").all()


def test_a_later_redrive_sends_only_the_records_added_since(dead_letter_topic, series):
    _, _, result = dead_letter_topic
    events = result.events.set_index("event_id")
    records = events[events["target"] == "payments-dlt"]
    copies = copies_of(result, "payments-dlt").set_index("event_id")
    second = copies[copies["published_at"] >= 400]
    since = records[(records["published_at"] > 200) & (records["published_at"] < 400)]
    assert len(since) > 5
    assert sorted(second["cause_id"].astype(int)) == sorted(since.index)
    assert copies["cause_id"].is_unique  # no record is sent back twice
    assert len(copies) == len(records)
    # the dead-letter topic keeps its records: its depth never drops
    depth = series(result, "dlq_depth", "payments-dlt")
    assert depth.is_monotonic_increasing and depth.iloc[-1] == len(records)


def test_rate_paces_the_copies(dead_letter_topic):
    _, _, result = dead_letter_topic
    copies = copies_of(result, "payments-dlt")
    second = np.sort(copies.loc[copies["published_at"] >= 400, "published_at"].to_numpy())
    assert second[0] == 400
    np.testing.assert_allclose(np.diff(second), 1 / 2.0)  # rate=2 per second


@pytest.mark.parametrize("record", ["full", "summary"])
def test_a_paced_redrive_sends_every_record_of_a_topic_nobody_else_reads(record):
    # summary mode forgets, a chunk at a time, the records nobody holds: the redrive
    # copies what it will send before it lets go of them, while more are dead-lettered
    def buggy_spells(event):
        return event.published_at < 4 or 6 <= event.published_at < 8

    sim = ev.Simulation(seed=3, record=record)
    sim.topic("t")
    sim.producer("p", "t", ev.Periodic(interval=0.01), stop=9.995)
    sim.consumer_group("g", "t", dead_letter="t-dlt", faults=[ev.PoisonEvents(match=buggy_spells)])
    redrive = sim.redrive("t-dlt", at=5, rate=100.0)
    result = sim.run(until=12)
    result.check()
    assert redrive.moved == 399  # the events of 0.01 ... 3.99 s, one each 0.01 s from 5 s
    row = result.summary().loc["g"]
    # the bug is back from 6 s to 8 s: 200 events then and the 200 copies sent then fail
    assert row["dead_lettered"] == 399 + 200 + 200
    assert row["processed"] == (999 - 599) + (399 - 200)


# --- a DLQ shared by several queues ---------------------------------------------------------


def two_queues_one_dlq():
    sim = ev.Simulation(seed=19)
    sim.queue("dlq")
    for name in ("eu-orders", "us-orders"):
        sim.queue(name, visibility_timeout=5, dead_letter="dlq", max_receive_count=1)
        sim.producer(f"{name}-shop", name, ev.Poisson(rate=1), payload=coupon, stop=150)
        sim.consumer_group(
            f"{name}-billing", source=name, service_time=0.05,
            faults=[ev.PoisonEvents(match=buggy)],
        )  # fmt: skip
    return sim


def test_a_dlq_fed_by_two_queues_needs_to():
    sim = two_queues_one_dlq()
    message = r"^to: 'dlq' is the dead-letter queue of 'eu-orders', 'us-orders': name the queue"
    with pytest.raises(ev.ConfigError, match=message):
        sim.redrive("dlq", at=200)
    assert sim.redrives == []
    move = sim.redrive("dlq", at=200, to="eu-orders")
    result = sim.run(until=300)
    result.check()
    deliveries = result.deliveries
    dead = deliveries[deliveries["outcome"] == "dead_lettered"]
    assert set(dead["group"]) == {"eu-orders-billing", "us-orders-billing"}
    copies = copies_of(result, "dlq")
    assert len(copies) == len(dead) == move.moved
    assert (copies["target"] == "eu-orders").all()  # all to the queue named
    mine = deliveries[deliveries["event_id"].isin(copies["event_id"])]
    assert (mine["group"] == "eu-orders-billing").all()
    assert (mine["outcome"] == "processed").all()
    assert sim.queues["dlq"].depth() == 0


def test_an_sqs_move_task_moves_at_most_500_messages_a_second():
    sim = ev.Simulation(seed=1)
    sim.queue("orders", dead_letter="orders-dlq", max_receive_count=3)
    message = r"^rate: an SQS message move task moves at most 500 messages a second"
    with pytest.raises(ev.ConfigError, match=message):
        sim.redrive("orders-dlq", at=10, rate=501)
    assert sim.redrives == []
    sim.redrive("orders-dlq", at=10, rate=500)  # the limit itself is allowed


def test_an_sqs_move_task_moves_what_the_dlq_held_when_it_started():
    """ApproximateNumberOfMessagesToMove is counted at the start: a message dead-lettered
    while the task works waits in the DLQ for the next task."""
    sim = ev.Simulation(seed=5)
    sim.queue("orders", visibility_timeout=5, dead_letter="orders-dlq", max_receive_count=3)
    sim.producer("shop", "orders", ev.Poisson(rate=2), payload=coupon, stop=150)
    sim.consumer_group(
        "billing", source="orders", consumers=2, service_time=0.05,
        faults=[ev.PoisonEvents(match=lambda event: event.payload["coupon"])],
    )  # fmt: skip
    move = sim.redrive("orders-dlq", at=80, rate=0.5)
    result = sim.run(until=400)
    result.check()
    deliveries = result.deliveries
    originals = deliveries[
        deliveries["event_id"].isin(result.events.query("producer == 'shop'").event_id)
    ]
    dead_at = originals.loc[originals["outcome"] == "dead_lettered", "completed_at"]
    held_at_start = int((dead_at < 80).sum())
    assert 0 < held_at_start < len(dead_at)
    assert move.moved == held_at_start
    # the copies fail again (the bug is not fixed) and go back to the DLQ, as do later ones
    assert sim.queues["orders-dlq"].depth() == len(dead_at) - held_at_start + move.moved
