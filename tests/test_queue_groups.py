"""Consumer groups reading an SQS-like queue: SQS's rules as a group of consumers sees them.

Competing consumers share a queue; a message is deleted once processed; one not deleted
(failed, crashed, or slower than the visibility timeout) reappears after the visibility
timeout, and the receive after ``max_receive_count`` receives moves it to the DLQ, which
keeps its original enqueue time for retention. ``commit="before"`` deletes on receipt
(at-most-once). Every test checks ``result.check()``: each routed event has one outcome.
"""

from __future__ import annotations

import numpy as np
import pytest
from invariants import assert_consistent

import evsim as ev


def run_queue(
    until,
    *,
    seed=7,
    arrivals=None,
    stop=None,
    payload=None,
    queue=None,
    dlq=None,
    consumers=3,
    service_time=0.1,
    **group,
):
    """A producer → queue "q" → group "g" pipeline; returns (sim, result), checked."""
    sim = ev.Simulation(seed=seed)
    if dlq is not None:
        sim.queue("dlq", **dlq)
    sim.queue("q", **(queue or {}))
    sim.producer("p", "q", arrivals or ev.Poisson(rate=5), payload=payload, stop=stop)
    sim.consumer_group("g", source="q", consumers=consumers, service_time=service_time, **group)
    result = sim.run(until=until)
    result.check()
    return sim, result


def by_event(attempts):
    """Attempts in order of start, grouped by event id."""
    ordered = attempts.sort_values(["event_id", "started_at"], kind="stable")
    return ordered.groupby("event_id", sort=True)


# --- delete after processing, competing consumers ---------------------------------------


@pytest.fixture(scope="module")
def healthy():
    return run_queue(
        120, stop=100, arrivals=ev.Poisson(rate=20), service_time=ev.Exponential(mean=0.05)
    )


def test_processed_messages_are_deleted_once_each(healthy):
    sim, result = healthy
    deliveries = result.deliveries
    assert len(deliveries) == len(result.events) > 1000
    assert (deliveries["outcome"] == "processed").all()
    assert (deliveries["attempts"] == 1).all()
    attempts = result.attempts
    assert len(attempts) == len(result.events)
    assert (attempts["status"] == "ok").all()
    assert attempts["event_id"].is_unique
    assert result.summary().loc["g", "duplicates"] == 0
    assert sim.queues["q"].depth() == 0


def test_queue_depth_is_what_was_sent_minus_what_was_deleted(healthy, series):
    _, result = healthy
    depth = series(result, "queue_depth", "q")
    published = np.sort(result.events["published_at"].to_numpy())
    deleted = np.sort(result.deliveries["completed_at"].to_numpy())
    times = depth.index.to_numpy()
    sent = np.searchsorted(published, times, side="right")
    gone = np.searchsorted(deleted, times, side="right")
    np.testing.assert_array_equal(depth.to_numpy(), sent - gone)
    assert depth.loc[110.0] == 0 and depth.max() > 0


def test_competing_consumers_share_the_messages_one_at_a_time(healthy):
    sim, result = healthy
    attempts = result.attempts
    per_consumer = attempts.groupby("consumer", observed=True).size()
    assert set(per_consumer.index) == {m.name for m in sim.groups["g"].members}
    assert per_consumer.min() > 0.1 * len(attempts)  # each takes a fair part, none idles
    for _, rows in attempts.groupby("consumer", observed=True):
        rows = rows.sort_values("started_at")
        # concurrency=1: a consumer starts a message only after finishing the previous one
        assert (rows["started_at"].to_numpy()[1:] >= rows["finished_at"].to_numpy()[:-1]).all()


# --- failures: reappear after the visibility timeout, then the DLQ ------------------------


def test_a_failed_message_reappears_each_visibility_timeout_then_moves_to_the_dlq(series):
    visibility, service, receives = 10.0, 0.5, 4
    sim, result = run_queue(
        80,
        arrivals=ev.Replay([1.0, 2.0, 3.0]),
        payload=lambda i: {"bad": i == 1},
        queue={"visibility_timeout": visibility, "dead_letter": "dlq",
               "max_receive_count": receives},
        consumers=2,
        service_time=service,
        faults=[ev.PoisonEvents(match=lambda e: e.payload["bad"])],
    )  # fmt: skip
    deliveries = result.deliveries.set_index("event_id")
    assert deliveries["outcome"].tolist() == ["processed", "dead_lettered", "processed"]
    poison = result.attempts[result.attempts["event_id"] == 1].sort_values("started_at")
    assert poison["status"].tolist() == ["error"] * receives
    assert poison["attempt"].tolist() == list(range(1, receives + 1))
    # idle consumers long-poll, so each reappearance is received the moment it happens
    gaps = poison["started_at"].to_numpy()[1:] - poison["finished_at"].to_numpy()[:-1]
    np.testing.assert_allclose(gaps, visibility - service)
    row = deliveries.loc[1]
    assert row["attempts"] == receives
    assert row["consumer"] == ""  # the queue moved it, no consumer decided
    # the receive after the last one moves it: one more visibility timeout later
    assert row["completed_at"] == pytest.approx(2.0 + receives * visibility)
    [moved] = sim.queues["dlq"].messages()
    assert moved.event_id == 1 and moved.receive_count == receives
    assert moved.enqueued_at == 2.0  # the original enqueue time, kept in the DLQ
    depth = series(result, "dlq_depth", "dlq")
    assert (depth[depth.index < row["completed_at"]] == 0).all()
    assert (depth[depth.index > row["completed_at"]] == 1).all()
    assert_consistent(result)


@pytest.fixture(scope="module")
def poisoned():
    return run_queue(
        140,
        stop=100,
        queue={"visibility_timeout": 3.0, "dead_letter": "dlq", "max_receive_count": 3},
        consumers=2,
        faults=[ev.PoisonEvents(p=0.1)],
    )


def test_under_load_every_receive_of_a_failing_message_waits_a_visibility_timeout(poisoned):
    sim, result = poisoned
    queue = sim.queues["q"]
    deliveries = result.deliveries.set_index("event_id")
    dead = deliveries[deliveries["outcome"] == "dead_lettered"]
    assert len(dead) > 20
    assert (dead["attempts"] == queue.max_receive_count).all()
    for event_id, rows in by_event(result.attempts[result.attempts["status"] == "error"]):
        starts, ends = rows["started_at"].to_numpy(), rows["finished_at"].to_numpy()
        service = ends - starts
        # receive_batch=1: a message is received as its attempt starts
        assert (starts[1:] - ends[:-1] >= queue.visibility_timeout - service[:-1] - 1e-9).all()
        if event_id in dead.index:
            assert len(rows) == queue.max_receive_count
            moved_at = dead.loc[event_id, "completed_at"]
            assert moved_at - starts[-1] >= queue.visibility_timeout - 1e-9
    failed = set(result.attempts.loc[result.attempts["status"] == "error", "event_id"])
    assert set(dead.index) <= failed
    processed = deliveries[deliveries["outcome"] == "processed"]
    assert (processed["attempts"] == 1).all()  # only the poison events fail here
    assert not failed & set(processed.index)


def test_the_dlq_depth_grows_by_the_dead_lettered_messages_and_keeps_enqueue_times(
    poisoned, series
):
    sim, result = poisoned
    depth = series(result, "dlq_depth", "dlq")
    assert depth.is_monotonic_increasing
    dead = result.deliveries[result.deliveries["outcome"] == "dead_lettered"]
    moved = np.sort(dead["completed_at"].to_numpy())
    expected = np.searchsorted(moved, depth.index.to_numpy(), side="right")
    np.testing.assert_array_equal(depth.to_numpy(), expected)
    published = result.events.set_index("event_id")["published_at"]
    messages = sim.queues["dlq"].messages()
    assert len(messages) == len(dead)
    for message in messages:  # zero latency: enqueued when published, and still so
        assert message.enqueued_at == published.loc[message.event_id]
    assert_consistent(result)


def test_retention_in_the_dlq_counts_from_the_original_enqueue_time(series):
    retention, visibility = 60.0, 20.0
    sim, result = run_queue(
        120,
        arrivals=ev.Replay([1.5]),
        dlq={"retention": retention},
        queue={"visibility_timeout": visibility, "dead_letter": "dlq", "max_receive_count": 2},
        consumers=1,
        faults=[ev.PoisonEvents(p=1.0)],
    )
    moved_at = 1.5 + 2 * visibility
    assert result.deliveries["completed_at"].tolist() == [moved_at]
    depth = series(result, "dlq_depth", "dlq")
    times = depth.index.to_numpy()
    held = (times > moved_at) & (times - 1.5 <= retention)  # not moved_at + retention
    np.testing.assert_array_equal(depth.to_numpy(), held.astype(float))
    assert sim.queues["dlq"].depth() == 0


# --- slower than the visibility timeout: duplicates, and idempotency ----------------------


def slow(idempotent):
    return run_queue(
        160,
        seed=11,
        stop=150,
        arrivals=ev.Poisson(rate=2),
        queue={"visibility_timeout": 1.0},
        consumers=4,
        service_time=ev.Exponential(mean=0.4),  # about 8% take longer than 1 s
        idempotent=idempotent,
    )


def test_processing_longer_than_the_visibility_timeout_is_done_twice():
    _, result = slow(idempotent=False)
    summary = result.summary().loc["g"]
    assert summary["duplicates"] > 0
    assert summary["processed"] == summary["routed"]  # yet one outcome per event
    ok = result.attempts[result.attempts["status"] == "ok"]
    twice = 0
    for _, rows in by_event(ok):
        if len(rows) < 2:
            continue
        twice += 1
        first, second = rows.iloc[0], rows.iloc[1]
        assert first["finished_at"] - first["started_at"] > 1.0  # it outlived its timeout
        assert second["started_at"] >= first["started_at"] + 1.0 - 1e-9
        # received again while the first consumer still worked on it (had nobody received
        # it by then, the first consumer's receipt would still have deleted it)
        assert second["started_at"] < first["finished_at"]
        assert second["consumer"] != first["consumer"]
    assert twice == summary["duplicates"]
    assert_consistent(result)


def test_an_idempotent_group_skips_the_second_copy():
    _, plain = slow(idempotent=False)
    _, result = slow(idempotent=True)
    assert result.summary().loc["g", "duplicates"] == 0
    attempts = result.attempts
    skipped = attempts[attempts["status"] == "duplicate"]
    assert len(skipped) > 0
    assert (skipped["started_at"] == skipped["finished_at"]).all()
    assert (attempts[attempts["status"] == "ok"].groupby("event_id").size() == 1).all()
    # the same arrivals (the producer's own random stream): only the handling differs
    np.testing.assert_array_equal(result.events["published_at"], plain.events["published_at"])
    assert_consistent(result)


# --- delivery guarantees ------------------------------------------------------------------


def test_at_most_once_loses_failed_messages_even_with_a_dlq():
    sim, result = run_queue(
        120,
        stop=100,
        queue={"visibility_timeout": 2.0, "dead_letter": "dlq", "max_receive_count": 2},
        faults=[ev.PoisonEvents(p=0.1)],
        commit="before",
    )
    deliveries = result.deliveries.set_index("event_id")
    attempts = result.attempts
    failed = set(attempts.loc[attempts["status"] == "error", "event_id"])
    lost = set(deliveries.index[deliveries["outcome"] == "lost"])
    assert lost == failed and len(lost) > 20
    assert attempts["event_id"].is_unique  # deleted on receipt: never delivered again
    assert (deliveries["outcome"].isin(["processed", "lost"])).all()
    assert sim.queues["dlq"].depth() == 0 and sim.queues["q"].depth() == 0


CRASHES = [
    pytest.param(ev.Crashes(mttf=20, mttr=5), id="crashes"),
    pytest.param(ev.Outage(40, 50), id="outage"),
]


def crashing(fault, commit):
    return run_queue(
        200,
        stop=150,
        arrivals=ev.Poisson(rate=8),
        queue={"visibility_timeout": 5.0},
        service_time=ev.Exponential(mean=0.3),
        faults=[fault],
        commit=commit,
    )


@pytest.mark.parametrize("fault", CRASHES)
def test_at_most_once_loses_the_messages_in_hand_at_a_crash(fault):
    _, result = crashing(fault, "before")
    attempts = result.attempts
    crashed = set(attempts.loc[attempts["status"] == "crashed", "event_id"])
    deliveries = result.deliveries.set_index("event_id")
    lost = set(deliveries.index[deliveries["outcome"] == "lost"])
    assert crashed and lost == crashed  # receive_batch=1: only the one being processed
    assert attempts["event_id"].is_unique  # never re-delivered
    assert result.summary().loc["g", "duplicates"] == 0


@pytest.mark.parametrize("fault", CRASHES)
def test_at_least_once_redelivers_a_crashed_message_after_the_visibility_timeout(fault):
    _, before = crashing(fault, "before")
    sim, result = crashing(fault, "after")
    summary = result.summary().loc["g"]
    assert summary["lost"] == 0
    assert summary["routed"] == before.summary().loc["g", "routed"]  # same arrivals
    attempts = result.attempts
    crashed = attempts[attempts["status"] == "crashed"]
    assert len(crashed) > 0
    outcome = result.deliveries.set_index("event_id")["outcome"]
    for _, row in crashed.iterrows():
        later = attempts[
            (attempts["event_id"] == row["event_id"]) & (attempts["started_at"] > row["started_at"])
        ]
        if outcome.loc[row["event_id"]] == "processed":
            assert (later["status"] == "ok").any()
        # received as it started; invisible for the visibility timeout from then
        visibility = sim.queues["q"].visibility_timeout
        assert (later["started_at"] >= row["started_at"] + visibility - 1e-9).all()
    assert_consistent(result)


# --- retention ----------------------------------------------------------------------------


def test_messages_nobody_reads_within_retention_expire():
    retention, down, up = 60.0, 9.5, 150.5
    sim, result = run_queue(
        200,
        arrivals=ev.Periodic(interval=1.0),
        stop=100,
        queue={"retention": retention},
        consumers=2,
        faults=[ev.Outage(down, up)],
    )
    deliveries = result.deliveries.merge(result.events[["event_id", "published_at"]])
    published = deliveries["published_at"]
    too_old = (published > down) & (up - published > retention)
    assert too_old.sum() > 50
    outcome = deliveries["outcome"]
    assert (outcome[too_old] == "expired").all()
    assert (outcome[~too_old] == "processed").all()
    expired = deliveries[too_old]
    age = expired["completed_at"] - expired["published_at"]
    # swept at the first gauge sample past retention (or dropped by the receive at `up`)
    assert (age > retention).all()
    assert (age <= retention + sim.sample_interval).all()
    assert (expired["attempts"] == 0).all() and (expired["consumer"] == "").all()
    assert sim.queues["q"].depth() == 0


# --- a group's own dead-letter queue and refusals -----------------------------------------


def test_a_group_dead_letter_queue_takes_exhausted_messages_off_the_source(series):
    backoff = ev.Backoff(base=0.2)
    sim = ev.Simulation(seed=7)
    sim.queue("q")
    sim.producer("p", "q", ev.Poisson(rate=5), stop=100)
    assert "X" not in sim.queues
    sim.consumer_group(
        "g", source="q", consumers=2, service_time=0.05, faults=[ev.PoisonEvents(p=0.1)],
        retry=ev.Retry(max_attempts=3, backoff=backoff), dead_letter="X",
    )  # fmt: skip
    result = sim.run(until=120)
    result.check()
    assert isinstance(sim.queues["X"], ev.Queue)  # created on the fly, as a queue
    deliveries = result.deliveries.set_index("event_id")
    dead = deliveries[deliveries["outcome"] == "dead_lettered"]
    assert len(dead) > 20 and (dead["attempts"] == 3).all()
    for event_id, rows in by_event(result.attempts[result.attempts["event_id"].isin(dead.index)]):
        assert rows["consumer"].nunique() == 1  # all in one receive: blocking retries
        waits = rows["started_at"].to_numpy()[1:] - rows["finished_at"].to_numpy()[:-1]
        np.testing.assert_allclose(waits, [backoff.nominal(0), backoff.nominal(1)])
        assert dead.loc[event_id, "completed_at"] == rows["finished_at"].max()
    events = result.events
    copies = events[events["target"] == "X"]
    assert sorted(copies["original_id"].astype(int)) == sorted(dead.index)
    assert (copies["producer"] == "g").all()
    for attributes in copies["attributes"]:
        assert attributes["original_queue"] == "q"
        assert attributes["dlq_reason"] == "retries exhausted"
        assert attributes["attempts"] == 3
        assert attributes["last_error"].startswith("PoisonEventError")
    assert sim.queues["q"].depth() == 0  # deleted from the source
    assert sim.queues["X"].depth() == len(dead)
    assert series(result, "dlq_depth", "X").iloc[-1] == len(dead)


def test_a_second_group_on_a_queue_is_refused():
    sim = ev.Simulation(seed=1)
    sim.queue("q")
    sim.consumer_group("g", source="q")
    with pytest.raises(ev.ConfigError, match=r"^source: queue 'q' is already read by group 'g'"):
        sim.consumer_group("h", source="q", consumers=2)
    assert list(sim.groups) == ["g"]
    sim.consumer_group("h", source=sim.queue("r"))  # the name stayed free


def test_non_blocking_retries_on_a_queue_are_refused():
    sim = ev.Simulation(seed=1)
    sim.queue("q")
    with pytest.raises(ev.ConfigError, match=r"^retry: non-blocking .* visibility timeout"):
        sim.consumer_group("g", source="q", retry=ev.Retry(max_attempts=3, blocking=False))
    assert not sim.groups and not sim.topics  # no retry topics left behind


def test_a_message_moved_to_the_dlq_while_still_being_processed():
    """A consumer finishing a message that has since moved to the DLQ (where a group
    received it, with a receipt of the DLQ's own) cannot delete it from either queue."""
    sim = ev.Simulation(seed=1)
    sim.queue("q", visibility_timeout=1, dead_letter="dlq", max_receive_count=1)
    sim.producer("p", "q", ev.Replay([0.5]))
    sim.consumer_group("g", source="q", consumers=2, service_time=3)
    sim.consumer_group("h", source="dlq", service_time=5)
    result = sim.run(until=20)
    result.check()
    outcomes = result.deliveries.set_index("group", drop=False)
    assert outcomes.loc["g", "outcome"] == "dead_lettered"
    assert outcomes.loc["g", "attempts"] == 1  # the attempt still running when it moved
    assert outcomes.loc["h", "outcome"] == "processed"
    assert sim.queues["q"].depth() == sim.queues["dlq"].depth() == 0
    assert_consistent(result)


def test_a_crash_while_waiting_for_an_idempotency_claim_is_not_an_attempt():
    """g-1 receives the reappeared message while g-0 still processes it, waits for g-0's
    claim on the event id, and crashes while waiting: it never attempted the event."""
    sim = ev.Simulation(seed=1)
    sim.queue("q", visibility_timeout=2)  # g-0 receives at 0.5, g-1 at 2.5 and 4.5
    sim.producer("p", "q", ev.Replay([0.5]))
    sim.consumer_group(
        "g", source="q", consumers=2, service_time=5, idempotent=True,
        faults=[ev.Outage(3, 4, consumers=["g-1"])],
    )  # fmt: skip
    result = sim.run(until=20)
    result.check()
    attempts = result.attempts.sort_values("started_at")
    assert attempts["status"].tolist() == ["ok", "duplicate"]
    assert attempts["consumer"].tolist() == ["g-0", "g-1"]
    assert attempts["attempt"].tolist() == [1, 2]
    [row] = result.deliveries.itertuples()
    assert (row.outcome, row.attempts, row.first_attempt_at) == ("processed", 2, 0.5)
    assert result.summary().loc["g", "duplicates"] == 0


def test_a_group_joining_a_queue_late_is_routed_the_messages_waiting_there():
    sim = ev.Simulation(seed=1)
    sim.queue("q")
    sim.producer("p", "q", ev.Periodic(0.5))
    sim.consumer_group("g", "q", join_at=2.5, service_time=0.1)
    result = sim.run(until=4)
    assert_consistent(result)
    table = result.accounting().loc["g"]
    assert table["routed"] == 7  # 0.5 ... 3.5: five waiting at the join, two after
    assert result.deliveries["outcome"].eq("processed").all()
    assert result.attempts["started_at"].min() == 2.5


@pytest.mark.parametrize(("keys", "seed"), [(1, 13), (2, 7), (10, 8), (3, 1)])
def test_an_attempt_still_running_at_the_stop_is_not_counted_in_a_decided_outcome(keys, seed):
    # FIFO batches of 5 outlive the 0.5 s visibility timeout while they wait in hand:
    # messages move to the DLQ while another consumer works on them, some at the stop
    sim = ev.Simulation(seed=seed)
    sim.queue(
        "q.fifo", fifo=True, visibility_timeout=0.5, dead_letter="dlq.fifo",
        max_receive_count=1, receive_batch=5, content_based_deduplication=True,
    )  # fmt: skip
    sim.producer("p", "q.fifo", ev.Poisson(8), keys=ev.UniformKeys(keys), payload=lambda i: i)
    sim.consumer_group("g", "q.fifo", consumers=4, service_time=0.3)
    result = sim.run(until=4)
    assert_consistent(result)
    dead = result.deliveries[result.deliveries["outcome"] == "dead_lettered"]
    rows = result.attempts.groupby("event_id").size()
    assert (dead["attempts"].to_numpy() <= rows.reindex(dead["event_id"], fill_value=0)).all()


def test_event_types_on_a_queue_group_are_refused_with_the_sns_way_to_filter():
    sim = ev.Simulation(seed=1)
    sim.queue("q")
    with pytest.raises(ev.ConfigError, match=r"event_types: .*'q'.*filter_policy"):
        sim.consumer_group("g", "q", event_types=["A"])
