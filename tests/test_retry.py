"""Retry policies and backoff: the AWS jitter formulas, attempt counts, blocking or not."""

from __future__ import annotations

import numpy as np
import pytest
from invariants import assert_consistent

import evsim as ev
from evsim.actors.faults import PoisonEvents, TransientErrors
from evsim.actors.retry import Backoff, Retry


@pytest.mark.parametrize("retry", range(6))
def test_no_jitter_doubles_from_base_up_to_the_cap(retry):
    backoff = Backoff(base=0.1, cap=2.0, jitter="none")
    assert backoff.delay(retry, 0.0, 0.7) == pytest.approx(min(2.0, 0.1 * 2**retry))
    assert backoff.delay(0, 0.0, 0.3) == 0.1  # the first retry waits base


@pytest.mark.parametrize("jitter", ["full", "equal", "decorrelated"])
def test_jittered_delays_stay_within_the_formula_bounds(jitter):
    backoff = Backoff(base=0.1, cap=5.0, jitter=jitter)
    rng = np.random.default_rng(1)
    for retry in range(8):
        ceiling = min(5.0, 0.1 * 2**retry)
        low = {"full": 0.0, "equal": ceiling / 2, "decorrelated": 0.1}[jitter]
        previous = 0.1
        delays = []
        for u in rng.random(2000):
            delay = backoff.delay(retry, previous, u)
            high = ceiling if jitter != "decorrelated" else min(5.0, 3 * previous)
            assert low - 1e-12 <= delay <= high + 1e-12
            delays.append(delay)
        assert backoff.bounds(retry)[0] <= min(delays)
        if jitter != "decorrelated":
            assert max(delays) == pytest.approx(ceiling, rel=0.01)  # the bound is reached


def test_decorrelated_jitter_grows_from_the_previous_delay():
    backoff = Backoff(base=1.0, cap=100.0, jitter="decorrelated")
    assert backoff.delay(1, 4.0, 0.0) == 1.0
    assert backoff.delay(1, 4.0, 1.0) == pytest.approx(12.0)
    assert backoff.delay(1, 50.0, 1.0) == 100.0  # capped


@pytest.mark.parametrize(
    ("kwargs", "error", "argument"),
    [
        ({"base": -1}, ev.ConfigError, "base"),
        ({"base": 1, "cap": 0.5}, ev.ConfigError, "cap"),
        ({"base": 1, "jitter": "some"}, ev.ConfigError, "jitter"),
    ],
)
def test_bad_backoff_arguments_name_the_argument(kwargs, error, argument):
    with pytest.raises(error, match=argument):
        Backoff(**kwargs)


def test_bad_retry_arguments_name_the_argument():
    with pytest.raises(ev.ConfigError, match="max_attempts"):
        Retry(max_attempts=0)
    with pytest.raises(ev.ConfigTypeError, match="retry_on"):
        Retry(retry_on=[3])
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    with pytest.raises(ev.ConfigTypeError, match="retry"):
        sim.consumer_group("g", "t", retry=3)


def failing_group(retry: Retry, faults, seed: int = 2, until: float = 200.0, **group):
    sim = ev.Simulation(seed=seed)
    sim.topic("t", partitions=2)
    sim.producer("p", "t", ev.Poisson(rate=10), keys=ev.UniformKeys(50))
    sim.consumer_group("g", "t", service_time=0.01, faults=faults, retry=retry, **group)
    return sim.run(until=until)


def test_a_poison_event_is_attempted_max_attempts_times_with_the_backoff_between():
    retry = Retry(max_attempts=4, backoff=Backoff(base=0.5, cap=10))
    result = failing_group(retry, [PoisonEvents(p=0.05)])
    attempts = result.attempts
    settled = result.deliveries.loc[result.deliveries["outcome"] != "pending", "event_id"]
    failed = attempts[(attempts["status"] == "error") & attempts["event_id"].isin(settled)]
    per_event = failed.groupby("event_id").size()
    assert len(per_event) > 20
    assert (per_event == 4).all()
    for _, rows in failed.groupby("event_id"):
        rows = rows.sort_values("attempt")
        assert rows["attempt"].tolist() == [1, 2, 3, 4]
        gaps = rows["started_at"].to_numpy()[1:] - rows["finished_at"].to_numpy()[:-1]
        np.testing.assert_allclose(gaps, [0.5, 1.0, 2.0])


def test_transient_errors_are_mostly_overcome_by_retries():
    retry = Retry(max_attempts=5, backoff=Backoff(base=0.05, jitter="full"))
    result = failing_group(retry, [TransientErrors(p=0.3)])
    summary = result.summary().loc["g"]
    assert summary["lost"] <= 0.3**5 * summary["routed"] * 3 + 3
    errors = (result.attempts["status"] == "error").mean()
    assert errors == pytest.approx(0.3, abs=0.03)
    result.check()


def test_errors_not_in_retry_on_are_not_retried():
    retry = Retry(max_attempts=4, backoff=0.1, retry_on=["TransientError"])
    result = failing_group(retry, [PoisonEvents(p=0.05)])
    failed = result.attempts[result.attempts["status"] == "error"]
    assert (failed["attempt"] == 1).all()
    assert result.summary().loc["g", "lost"] == failed["event_id"].nunique()


def test_blocking_retries_hold_the_partition_so_later_events_wait():
    retry = Retry(max_attempts=4, backoff=Backoff(base=2.0, cap=10))
    blocking = failing_group(retry, [PoisonEvents(p=0.02)]).summary().loc["g"]
    clean = failing_group(Retry(), []).summary().loc["g"]
    assert blocking["latency_p95"] > 10 * clean["latency_p95"]


def test_non_blocking_retries_use_retry_topics_then_the_dlt_and_lose_ordering():
    retry = Retry(max_attempts=3, backoff=Backoff(base=1.0), blocking=False)
    result = failing_group(retry, [PoisonEvents(p=0.03)], until=300.0)
    events = result.events
    targets = set(events["target"])
    assert {"t-retry-1000", "t-retry-2000", "t-dlt"} <= targets
    dlt = events[events["target"] == "t-dlt"]
    assert len(dlt) == result.summary().loc["g", "dead_lettered"] > 10
    # copies wait their topic's delay before being attempted again
    copies = events[events["target"] == "t-retry-2000"].set_index("event_id")
    attempts = result.attempts[result.attempts["attempt"] == 3].set_index("event_id")
    started = attempts.loc[copies["original_id"].astype(int), "started_at"].to_numpy()
    assert (started >= copies["published_at"].to_numpy() + 2.0 - 1e-9).all()
    # dead-lettered events ended; the partition went on without waiting for them
    poisoned = dlt["original_id"].astype(int).tolist()
    outcomes = result.deliveries.set_index("event_id").loc[poisoned, "outcome"]
    assert (outcomes == "dead_lettered").all()
    blocking = failing_group(Retry(3, Backoff(base=1.0)), [PoisonEvents(p=0.03)], until=300.0)
    assert result.summary().loc["g", "latency_p95"] < blocking.summary().loc["g", "latency_p95"]
    result.check()


def test_ordering_is_kept_by_blocking_retries_and_lost_by_retry_topics():
    def first_attempt_order(blocking: bool) -> bool:
        result = failing_group(
            Retry(3, Backoff(base=1.0), blocking=blocking), [TransientErrors(p=0.2)]
        )
        ok = result.attempts[result.attempts["status"] == "ok"]
        rows = ok.merge(result.events[["event_id", "partition", "offset"]], on="event_id")
        return all(
            part.sort_values("finished_at")["offset"].is_monotonic_increasing
            for _, part in rows.groupby("partition")
        )

    assert first_attempt_order(blocking=True)
    assert not first_attempt_order(blocking=False)


def test_a_record_expiring_in_a_retry_topic_keeps_the_attempts_made_before_it():
    # retry topics keep the source topic's retention (5 s): a copy waiting 20 s there is
    # deleted before it is due, and its event ends expired after the one attempt it had
    retry = Retry(max_attempts=3, backoff=Backoff(base=20.0), blocking=False)
    sim = ev.Simulation(seed=4)
    sim.topic("t", partitions=2, retention=5.0)
    sim.producer("p", "t", ev.Poisson(rate=10), keys=ev.UniformKeys(50))
    sim.consumer_group("g", "t", service_time=0.01, faults=[PoisonEvents(p=0.05)], retry=retry)
    result = sim.run(until=100.0)
    deliveries = result.deliveries.set_index("event_id")
    expired = deliveries[deliveries["outcome"] == "expired"]
    assert len(expired) > 10
    attempts = result.attempts.set_index("event_id")
    assert (expired["attempts"] == 1).all()
    np.testing.assert_array_equal(
        expired["first_attempt_at"], attempts.loc[expired.index, "started_at"]
    )
    result.check()


@pytest.mark.parametrize("retry_on", [["ValueError"], [ValueError], ["Exception"]])
def test_retry_on_names_the_errors_a_handler_raises_and_their_base_classes(retry_on):
    def handler(event, ctx):
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad byte")  # a ValueError

    def attempts(retry_on):
        sim = ev.Simulation(seed=1)
        sim.topic("t")
        sim.producer("p", "t", ev.Periodic(1.0))
        sim.consumer_group("g", "t", handler=handler, retry=ev.Retry(3, retry_on=retry_on))
        return sim.run(until=3.5).attempts.groupby("event_id").size().tolist()

    assert attempts(retry_on) == attempts(None) == [3, 3, 3]
    assert attempts(["KeyError"]) == [1, 1, 1]


def test_a_record_read_again_while_its_copy_waits_in_a_retry_topic_numbers_on():
    # g-0 fails event 0 and forwards it to the retry topic (read by g-1); g-0 goes down
    # before committing, so after the session timeout g-1 reads the source record again
    def fail(event, ctx):
        raise RuntimeError("down")

    sim = ev.Simulation(seed=1)
    sim.topic("t")
    sim.producer("p", "t", ev.Replay([1.0]))
    sim.consumer_group(
        "g", "t", consumers=2, handler=fail, service_time=0.1, session_timeout=1,
        assignment="roundrobin", commit_interval=5,
        retry=ev.Retry(4, backoff=ev.Backoff(base=1.0, cap=10), blocking=False),
        faults=[ev.Outage(start=2.5, end=20, consumers=["g-0"])],
    )  # fmt: skip
    result = sim.run(until=30)
    rows = result.attempts.sort_values("started_at")
    assert rows["attempt"].tolist() == [1, 2, 3, 4]
    assert rows["started_at"].tolist() == pytest.approx([1.0, 2.1, 3.5, 4.2])
    assert result.deliveries.loc[0, "attempts"] == 4
    assert_consistent(result)


# --- bounds: delays and retry topics ------------------------------------------------------


def test_backoffs_past_a_year_are_refused_so_retry_topic_names_stay_finite():
    """Before, Backoff(base=1e306, cap=1e308) was accepted and a non-blocking group then
    failed with OverflowError naming its retry topic 'retry-inf'."""
    with pytest.raises(ev.ConfigError, match=r"base: must be <= 31,536,000 \(seconds"):
        Backoff(base=1e306, cap=1e308)
    with pytest.raises(ev.ConfigError, match=r"cap: .*raise evsim\.limits\.MAX_DELAY"):
        Backoff(base=1, cap=1e308)
    with pytest.raises(ev.ConfigError, match="backoff: must be <= 31,536,000"):
        Retry(3, backoff=1e10)
    sim = ev.Simulation()
    sim.topic("t")
    year = ev.limits.MAX_DELAY
    sim.consumer_group("g", "t", retry=Retry(3, Backoff(year, year), blocking=False))
    assert "t-retry-31536000000" in sim.topics


def test_decorrelated_bounds_do_not_overflow_after_many_retries():
    assert Backoff(1, 10, "decorrelated").bounds(10**5) == (1, 10)


def test_non_blocking_retries_make_at_most_max_retry_topics():
    """Before, Retry(max_attempts=10**5, blocking=False) made 99,999 topics per source."""
    with pytest.raises(ev.ConfigError, match=r"max_attempts: .*at most 100 \(evsim.limits"):
        Retry(max_attempts=10**5, blocking=False)
    assert Retry(max_attempts=10**5).max_attempts == 10**5  # blocking: no topics
    sim = ev.Simulation()
    sim.topic("t")
    sim.consumer_group("g", "t", retry=Retry(max_attempts=101, blocking=False))
    assert len(sim.topics) == 1 + 100 + 1  # the source, 100 retry topics, the DLT


def test_a_retry_is_hashable_and_equal_retries_hash_alike():
    # its spec nests the backoff's dict: a call's settings are looked up by them
    a = ev.Retry(3, ev.Backoff(0.1, jitter="full"))
    b = ev.Retry(3, ev.Backoff(0.1, jitter="full"))
    assert a == b and hash(a) == hash(b)
    assert len({a, b, ev.Retry(3, ev.Backoff(0.2, jitter="full"))}) == 2
