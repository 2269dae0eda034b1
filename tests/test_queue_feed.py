"""A consumer group reading an SQS-like queue (evsim.actors.queue_feed.QueueFeed).

``tests/test_queue_groups.py`` covers the single-message rules (delete once processed,
reappear after the visibility timeout, the DLQ after ``max_receive_count``, at-most-once
losses). This file covers what the feed adds around them: batches received with
``receive_batch`` and what a crash does to the messages of a batch not yet started;
messages whose visibility runs out while they wait in a consumer's batch (received by
another: one event, one tally, one outcome); a failing message with no redrive policy,
received until retention deletes it; blocking retries counted over the receives; who is
named as deciding an outcome; long polling's zero wait; and what is pending at the stop.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from invariants import assert_consistent

import evsim as ev


def probe(sim: ev.Simulation, times: list[float], read: Callable[[], Any]) -> dict[float, Any]:
    """``read()`` at each of ``times`` (seconds) during the run, keyed by the time."""
    seen: dict[float, Any] = {}
    for time in times:
        sim.env.call_later(time, lambda _timer, time=time: seen.__setitem__(time, read()))
    return seen


# --- batches and a crash ----------------------------------------------------------------------

BATCH, MESSAGES, VISIBILITY, SERVICE = 10, 20, 20.0, 1.0
JOIN, DOWN, UP = 1.5, 3.7, 4.0  # every message is waiting when the group joins


def _batch_then_crash(commit: str):
    sim = ev.Simulation(seed=1)
    queue = sim.queue("q", visibility_timeout=VISIBILITY, receive_batch=BATCH)
    sim.producer("p", "q", ev.Replay([0.05 * i for i in range(1, MESSAGES + 1)]))
    sim.consumer_group("g", "q", service_time=SERVICE, join_at=JOIN, commit=commit,
                       faults=[ev.Outage(DOWN, UP)])  # fmt: skip
    after_receive = probe(sim, [JOIN + 0.1], lambda: (queue.depth(), queue.in_flight_count()))
    result = sim.run(until=JOIN + VISIBILITY + 2 * MESSAGES * SERVICE)
    assert_consistent(result)
    return result, after_receive[JOIN + 0.1]


FINISHED_BEFORE_CRASH = math.floor((DOWN - JOIN) / SERVICE)  # of the first batch
IN_HAND_AT_CRASH = BATCH - FINISHED_BEFORE_CRASH  # the one in service and the unstarted


def test_at_most_once_deletes_a_whole_batch_on_receipt_and_a_crash_loses_what_is_left():
    result, (depth, in_flight) = _batch_then_crash("before")
    assert (depth, in_flight) == (MESSAGES - BATCH, 0)  # deleted as received
    summary = result.summary().loc["g"]
    assert summary["lost"] == IN_HAND_AT_CRASH
    assert summary["processed"] == MESSAGES - IN_HAND_AT_CRASH
    lost = result.deliveries[result.deliveries["outcome"] == "lost"]
    assert (lost["completed_at"] == DOWN).all()
    assert (lost["consumer"] == "g-0").all()  # lost from its hands
    # one was in service (a crashed attempt); the rest of the batch was never attempted
    assert sorted(lost["attempts"].tolist()) == [0] * (IN_HAND_AT_CRASH - 1) + [1]


def test_at_least_once_lets_the_unstarted_rest_of_a_batch_reappear_after_the_visibility():
    result, (depth, in_flight) = _batch_then_crash("after")
    assert (depth, in_flight) == (MESSAGES, BATCH)  # received, invisible, still stored
    summary = result.summary().loc["g"]
    assert summary["processed"] == summary["routed"] == MESSAGES
    assert summary["lost"] == summary["duplicates"] == 0
    attempts = result.attempts
    first = attempts.groupby("event_id")["started_at"].min()
    reappear = JOIN + VISIBILITY  # the first batch's messages are visible again
    assert (first < DOWN).sum() == FINISHED_BEFORE_CRASH + 1  # the last one crashed
    # back at UP, the consumer receives and processes the second batch meanwhile
    assert first.between(UP, reappear, inclusive="left").sum() == MESSAGES - BATCH
    # the unstarted rest of the first batch waits out its visibility timeout
    assert (first >= reappear).sum() == IN_HAND_AT_CRASH - 1
    [redone] = set(attempts.loc[attempts["status"] == "crashed", "event_id"])
    again = attempts[(attempts["event_id"] == redone) & (attempts["status"] == "ok")]
    assert len(again) == 1 and (again["started_at"] >= reappear).all()


def test_a_message_whose_visibility_runs_out_in_a_batch_is_received_by_another_consumer():
    # g-0 receives all ten at the join; each waits in its batch for the one before it, so
    # from the visibility timeout on g-1 receives them too: attempts on the same events
    messages, visibility, service, join = 10, 3.0, 1.0, 1.0
    sim = ev.Simulation(seed=1)
    sim.queue("q", visibility_timeout=visibility, receive_batch=messages)
    sim.producer("p", "q", ev.Replay([0.05 * i for i in range(1, messages + 1)]))
    sim.consumer_group("g", "q", consumers=2, service_time=service, join_at=join)
    result = sim.run(until=40)
    assert_consistent(result)
    summary = result.summary().loc["g"]
    assert summary["processed"] == summary["routed"] == messages  # still one outcome each
    ok = result.attempts[result.attempts["status"] == "ok"]
    assert summary["duplicates"] == (ok.groupby("event_id").size() > 1).sum()
    per_event = ok.groupby("event_id")["consumer"].nunique()
    shared = per_event.index[per_event > 1]  # applied by both consumers
    assert len(shared) > 0
    for event_id in shared:  # both consumers' attempts number on in one tally
        rows = result.attempts[result.attempts["event_id"] == event_id]
        assert sorted(rows["attempt"]) == list(range(1, len(rows) + 1))
        row = result.deliveries.set_index("event_id").loc[event_id]
        assert row["attempts"] == len(rows)
        assert row["completed_at"] in set(rows["finished_at"])
    # g-1 found nothing visible until the first visibility timeouts ran out
    attempts = result.attempts
    assert (attempts.loc[attempts["consumer"] == "g-1", "started_at"] >= join + visibility).all()


# --- failures without a redrive, retries over receives ------------------------------------------


def test_without_a_redrive_policy_a_failing_message_is_received_until_retention_deletes_it():
    publish, visibility, retention = 1.0, 7.0, 60.0
    sim = ev.Simulation(seed=1)
    sim.queue("q", visibility_timeout=visibility, retention=retention)
    sim.producer("p", "q", ev.Replay([publish]))
    sim.consumer_group("g", "q", faults=[ev.PoisonEvents(p=1.0)])
    result = sim.run(until=publish + 2 * retention)
    assert_consistent(result)
    receives = [publish + k * visibility for k in range(math.ceil(retention / visibility))]
    assert result.attempts["started_at"].tolist() == receives
    assert (result.attempts["status"] == "error").all()
    [row] = result.deliveries.itertuples()
    assert (row.outcome, row.attempts, row.consumer) == ("expired", len(receives), "")
    assert publish + retention < row.completed_at <= publish + retention + visibility


def test_blocking_retries_count_in_all_over_the_receives_of_a_message():
    # Retry(max_attempts) counts the event's attempts in all: the first receive retries in
    # place up to max_attempts; each later receive gets one attempt, until the redrive
    max_attempts, receives, visibility, service, pause = 3, 3, 10.0, 0.5, 0.5
    assert max_attempts * (service + pause) < visibility  # the retries fit in one receive
    sim = ev.Simulation(seed=1)
    sim.queue("dlq")
    sim.queue("q", visibility_timeout=visibility, dead_letter="dlq", max_receive_count=receives)
    sim.producer("p", "q", ev.Replay([1.0]))
    sim.consumer_group("g", "q", service_time=service, faults=[ev.PoisonEvents(p=1.0)],
                       retry=ev.Retry(max_attempts, backoff=pause))  # fmt: skip
    result = sim.run(until=1.0 + (receives + 1) * visibility)
    assert_consistent(result)
    attempts = result.attempts.sort_values("started_at")
    assert len(attempts) == max_attempts + (receives - 1)
    in_first_receive = attempts[attempts["started_at"] < 1.0 + visibility]
    assert len(in_first_receive) == max_attempts
    [row] = result.deliveries.itertuples()
    assert (row.outcome, row.consumer) == ("dead_lettered", "")  # moved by the queue
    assert row.completed_at == 1.0 + receives * visibility


def test_at_most_once_with_a_group_dead_letter_queue_dead_letters_the_failures():
    sim = ev.Simulation(seed=1)
    sim.queue("q")
    sim.producer("p", "q", ev.Poisson(rate=5))
    sim.consumer_group("g", "q", consumers=2, service_time=0.05, commit="before",
                       faults=[ev.PoisonEvents(p=0.2)], dead_letter="g-dlq")  # fmt: skip
    result = sim.run(until=20)
    assert_consistent(result)
    deliveries = result.deliveries
    failed = set(result.attempts.loc[result.attempts["status"] == "error", "event_id"])
    dead = deliveries[deliveries["outcome"] == "dead_lettered"]
    assert set(dead["event_id"]) == failed and len(failed) > 5
    assert dead["consumer"].isin(["g-0", "g-1"]).all()  # the consumer gave up on it
    assert sim.queues["g-dlq"].depth() == len(dead)
    assert (deliveries["outcome"].isin(["processed", "dead_lettered"])).all()


# --- receiving and the stop ---------------------------------------------------------------------


def test_an_idle_consumer_long_polling_starts_a_message_as_it_arrives():
    latency = 0.003
    sim = ev.Simulation(seed=1)
    sim.queue("q", latency=latency)
    sim.producer("p", "q", ev.Poisson(rate=5))
    sim.consumer_group("g", "q", consumers=3, service_time=0.01)
    result = sim.run(until=20)
    rows = result.attempts.merge(result.events[["event_id", "published_at"]], on="event_id")
    assert len(rows) > 50
    assert (rows["started_at"] - rows["published_at"]).to_numpy() == pytest.approx(latency)


@pytest.mark.parametrize("commit", ["after", "before"])
def test_the_events_pending_at_the_stop_are_those_still_in_the_queue_or_in_hand(commit):
    consumers = 2
    sim = ev.Simulation(seed=2)
    queue = sim.queue("q")
    sim.producer("p", "q", ev.Poisson(rate=10))
    sim.consumer_group("g", "q", consumers=consumers, service_time=ev.Exponential(0.25),
                       commit=commit)  # fmt: skip
    with pytest.warns(UserWarning, match="cannot keep up"):  # 10/s against 8/s
        result = sim.run(until=30)
    result.check()
    pending = result.summary().loc["g", "pending"]
    assert pending > 10
    if commit == "after":  # in flight is still in the queue, until deleted
        assert pending == queue.depth()
    else:  # deleted on receipt: the ones in service are pending outside the queue
        assert queue.depth() <= pending <= queue.depth() + consumers
