"""Consumers (evsim.actors.consumer.Consumer): the members of a group that take deliveries
from the feed and attempt them.

Rules (Kafka's poll loop, SQS consumers): a consumer with ``concurrency=1`` handles one
record at a time across all its partitions, taking the ready ones in turn; blocking retries
hold its poll loop, so its other partitions wait too; ``concurrency=k`` gives it k workers.
Each worker draws its service times from its own random stream. A crash stops every worker
at once (an attempt in progress ends ``crashed``; a worker backing off has no attempt to
end) and the consumer is up again only once every reason to be down is over.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from invariants import assert_consistent

import evsim as ev


def probe(sim: ev.Simulation, times: list[float], read: Callable[[], Any]) -> dict[float, Any]:
    """``read()`` at each of ``times`` (seconds) during the run, keyed by the time."""
    seen: dict[float, Any] = {}
    for time in times:
        sim.env.call_later(time, lambda _timer, time=time: seen.__setitem__(time, read()))
    return seen


def two_topics(a_times, b_times, **group) -> tuple[ev.Simulation, ev.Result]:
    """One consumer reading topics "a" and "b" (one partition each): two partitions."""
    sim = ev.Simulation(seed=1)
    for name, times in (("a", a_times), ("b", b_times)):
        sim.topic(name)
        sim.producer(f"p-{name}", name, ev.Replay(times), payload=lambda i, name=name: name)
    sim.consumer_group("g", ["a", "b"], **group)
    result = sim.run(until=60)
    assert_consistent(result)
    return sim, result


def sources(result: ev.Result) -> list[str]:
    """The topic of each attempt's event, in the order the attempts started."""
    rows = result.attempts.merge(result.events[["event_id", "target"]], on="event_id")
    return rows.sort_values("started_at", kind="stable")["target"].astype(str).tolist()


# --- one record at a time, in turn -------------------------------------------------------------


def test_a_consumer_takes_its_ready_partitions_in_turn_one_record_at_a_time():
    n, service = 5, 1.0
    a = [0.1 + 0.01 * i for i in range(n)]  # both backlogged long before the first ends
    b = [0.15 + 0.01 * i for i in range(n)]
    _, result = two_topics(a, b, service_time=service)
    assert sources(result) == ["a", "b"] * n
    rows = result.attempts.sort_values("started_at")
    starts, ends = rows["started_at"].to_numpy(), rows["finished_at"].to_numpy()
    np.testing.assert_allclose(starts[1:], ends[:-1])  # back to back, never overlapping


def test_blocking_retries_hold_the_poll_loop_so_the_other_partitions_wait_too():
    # a's record fails every attempt; b's arrives during a's backoff. With one worker it
    # waits for a's last attempt (Spring's DefaultErrorHandler sleeps on the consumer
    # thread); with two, it is handled as it arrives
    publish_a, publish_b, service, max_attempts = 1.0, 2.0, 0.1, 3
    backoff = ev.Backoff(base=2.0, cap=100)
    group = {
        "service_time": service,
        "faults": [ev.PoisonEvents(match=lambda e: e.payload == "a")],
        "retry": ev.Retry(max_attempts, backoff=backoff),
    }
    last_a_end = (
        publish_a
        + max_attempts * service
        + sum(backoff.nominal(n) for n in range(max_attempts - 1))
    )
    for concurrency, b_starts in ((1, last_a_end), (2, publish_b)):
        _, result = two_topics([publish_a], [publish_b], concurrency=concurrency, **group)
        rows = result.attempts.merge(result.events[["event_id", "target"]], on="event_id")
        assert (rows["target"] == "a").sum() == max_attempts
        [started] = rows.loc[rows["target"] == "b", "started_at"]
        assert started == pytest.approx(b_starts)


def test_a_queue_consumer_with_concurrency_k_handles_k_messages_at_once_never_more():
    concurrency = 3
    sim = ev.Simulation(seed=2)
    sim.queue("q")
    sim.producer("p", "q", ev.Poisson(rate=20))
    sim.consumer_group("g", "q", concurrency=concurrency, service_time=ev.Exponential(0.2))
    with pytest.warns(UserWarning, match="cannot keep up"):  # 20/s against 15/s
        result = sim.run(until=20)
    rows = result.attempts
    starts, ends = rows["started_at"].to_numpy(), rows["finished_at"].to_numpy()
    at_once = [((starts <= t) & (ends > t)).sum() for t in np.linspace(1, 19, 500)]
    assert max(at_once) == concurrency
    assert set(rows["consumer"]) == {"g-0"}


# --- service times ------------------------------------------------------------------------------


def test_each_worker_draws_its_service_times_from_its_own_stream():
    # the arrivals change, the service times of the worker's attempts do not (common
    # random numbers): the n-th attempt of a worker takes the same time in both runs
    def durations(rate: float) -> np.ndarray:
        sim = ev.Simulation(seed=4)
        sim.topic("t")
        sim.producer("p", "t", ev.Poisson(rate=rate))
        sim.consumer_group("g", "t", service_time=ev.Exponential(0.05))
        rows = sim.run(until=30).attempts.sort_values("started_at")
        return (rows["finished_at"] - rows["started_at"]).to_numpy()

    slow, fast = durations(4.0), durations(9.0)
    common = min(len(slow), len(fast))
    assert common > 100
    np.testing.assert_allclose(slow[:common], fast[:common])
    assert len(np.unique(slow)) == len(slow)  # drawn, not a constant


# --- crashes ------------------------------------------------------------------------------------


def test_a_crash_stops_every_worker_at_once_and_their_messages_come_back():
    concurrency, service, down, up, visibility = 3, 10.0, 5.0, 6.0, 20.0
    publish = [1.0, 1.1, 1.2]
    sim = ev.Simulation(seed=1)
    sim.queue("q", visibility_timeout=visibility)
    sim.producer("p", "q", ev.Replay(publish))
    sim.consumer_group("g", "q", concurrency=concurrency, service_time=service,
                       faults=[ev.Outage(down, up)])  # fmt: skip
    result = sim.run(until=publish[-1] + visibility + 2 * service)
    assert_consistent(result)
    attempts = result.attempts
    crashed = attempts[attempts["status"] == "crashed"]
    assert len(crashed) == concurrency
    assert sorted(crashed["started_at"]) == publish
    assert (crashed["finished_at"] == down).all()
    assert not attempts["started_at"].between(down, up, inclusive="neither").any()
    ok = attempts[attempts["status"] == "ok"]
    assert sorted(ok["event_id"]) == sorted(crashed["event_id"])  # at-least-once
    assert (ok["started_at"] >= publish[0] + visibility).all()  # after their visibility
    assert (result.deliveries["attempts"] == 2).all()


def test_a_crash_during_a_backoff_ends_no_attempt_and_the_record_is_read_again():
    publish, service, down, up = 1.0, 0.1, 3.0, 4.0
    backoff = ev.Backoff(base=5.0, cap=100)
    max_attempts = 3
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    sim.producer("p", "t", ev.Replay([publish]))
    sim.consumer_group(
        "g", "t", service_time=service, commit_interval=0,
        faults=[ev.PoisonEvents(p=1.0), ev.Outage(down, up)],
        retry=ev.Retry(max_attempts, backoff=backoff),
    )  # fmt: skip
    assert publish + service < down < publish + service + backoff.nominal(0)  # mid-backoff
    result = sim.run(until=60)
    assert_consistent(result)
    attempts = result.attempts.sort_values("started_at")
    assert attempts["status"].tolist() == ["error"] * max_attempts  # no "crashed" row
    assert attempts["attempt"].tolist() == list(range(1, max_attempts + 1))  # numbered on
    # read again from the committed offset as the consumer comes back
    assert attempts["started_at"].tolist()[:2] == [publish, up]
    [row] = result.deliveries.itertuples()
    assert (row.outcome, row.attempts) == ("lost", max_attempts)


def test_a_consumer_down_for_two_reasons_is_up_only_when_both_are_over():
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    sim.producer("p", "t", ev.Periodic(0.5))
    group = sim.consumer_group("g", "t", faults=[ev.TransientErrors(p=0.0)])  # not plain
    [member] = group.members
    for time, action in (
        (5, lambda: member.crash("a")),
        (6, lambda: member.crash("b")),
        (7, lambda: member.restart("a")),
        (8, lambda: member.restart("b")),
    ):
        sim.env.call_later(time, lambda _timer, action=action: action())  # fmt: skip
    seen = probe(sim, [4.5, 5.5, 6.5, 7.5, 8.5], lambda: (member.up, member.epoch))
    result = sim.run(until=12)
    assert seen == {
        4.5: (True, 0), 5.5: (False, 1), 6.5: (False, 1),  # down once: one epoch
        7.5: (False, 1), 8.5: (True, 1),
    }  # fmt: skip
    starts = result.attempts["started_at"]
    assert not starts.between(5, 8, inclusive="neither").any()
    assert (starts > 8).any()  # reading again once both reasons are over


@pytest.mark.parametrize("faults", [None, [ev.TransientErrors(p=0.0)]], ids=["plain", "general"])
def test_running_lists_the_attempt_in_progress_with_its_number_and_start(faults):
    publish, service = 1.0, 10.0
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    sim.producer("p", "t", ev.Replay([publish]))
    group = sim.consumer_group("g", "t", service_time=service, faults=faults)
    [member] = group.members

    def running():
        return [(d.event_id, number, start) for d, number, start in member.running()]

    seen = probe(sim, [publish / 2, publish + service / 2, publish + 2 * service], running)
    sim.run(until=publish + 3 * service)
    assert group.plain is (faults is None)
    assert seen[publish / 2] == []
    assert seen[publish + service / 2] == [(0, 1, publish)]
    assert seen[publish + 2 * service] == []


def test_crashing_a_consumer_of_a_plain_group_is_refused_naming_the_call(bad_argument):
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    group = sim.consumer_group("g", "t")
    with bad_argument(ev.SimulationStateError, "crash", "consumer 'g-0' is in a group without"):
        group.members[0].crash()
    assert group.members[0].up
