"""The idempotent consumer's store (evsim.actors.idempotency): processed ids, their window
(a TTL), and the per-id lock a second delivery waits on.

Rules: an id is "seen" from when it was processed until ``window`` seconds later (for
ever without a window); re-processing an id restarts its window; a windowed store drops
the ids past the window as time goes on, so it holds only the window's ids; while one
worker processes an id, another delivery of it waits for the lock, then finds it
processed and skips it (status ``duplicate``), so at-least-once delivery applies each
event once within the window.
"""

from __future__ import annotations

import pytest
import simpy
from invariants import assert_consistent

import evsim as ev
from evsim.actors.idempotency import IdempotencyStore

# --- the window --------------------------------------------------------------------------


def test_an_id_is_not_seen_before_it_is_processed():
    store = IdempotencyStore()
    assert not store.seen(1, 0.0)
    assert len(store) == 0


def test_without_a_window_a_processed_id_is_seen_for_ever():
    store = IdempotencyStore()
    store.remember(1, 2.0)
    for later in (2.0, 3.0, 1e6):
        assert store.seen(1, later)
    assert not store.seen(2, 3.0)


@pytest.mark.parametrize("window", [0.5, 10.0, 3600.0])
def test_a_windowed_id_is_seen_up_to_window_seconds_after_it_was_processed(window):
    processed_at = 100.0
    store = IdempotencyStore(window=window)
    store.remember(7, processed_at)
    assert store.seen(7, processed_at)
    assert store.seen(7, processed_at + window)  # the window's end is inside it
    assert not store.seen(7, processed_at + window * 1.001)


def test_processing_an_id_again_restarts_its_window():
    window = 4.0
    store = IdempotencyStore(window=window)
    store.remember(1, 0.0)
    store.remember(2, 1.0)
    store.remember(1, 5.0)  # processed again: its window now runs from 5
    store.remember(3, 6.0)  # prunes what is older than 6 - window = 2: only id 2
    assert store.seen(1, 5.0 + window)
    assert not store.seen(2, 6.0)
    assert len(store) == 2


def test_a_windowed_store_holds_only_the_ids_of_its_window():
    window, spacing, count = 10.0, 1.0, 100
    store = IdempotencyStore(window=window)
    for i in range(count):
        store.remember(i, i * spacing)
    now = (count - 1) * spacing
    kept = [i for i in range(count) if i * spacing >= now - window]
    assert len(store) == len(kept) == window / spacing + 1
    assert all(store.seen(i, now) for i in kept)
    assert not any(store.seen(i, now) for i in range(count) if i not in kept)


def test_a_store_without_a_window_keeps_every_id():
    store = IdempotencyStore()
    for i in range(50):
        store.remember(i, float(i))
    store.remember(0, 60.0)  # again: still one entry per id
    assert len(store) == 50


# --- the lock on an id being processed -----------------------------------------------------


def test_the_first_claim_takes_the_lock_and_a_second_waits_for_its_release():
    env = simpy.Environment()
    store = IdempotencyStore()
    assert store.claim(5, env) is None  # taken
    held = store.claim(5, env)
    assert isinstance(held, simpy.Event) and not held.triggered
    assert store.claim(6, env) is None  # another id: its own lock
    store.unclaim(5)
    assert held.triggered
    assert store.claim(5, env) is None  # free again: the waiter claims it now


def test_releasing_a_lock_nobody_holds_does_nothing():
    store = IdempotencyStore()
    store.unclaim(42)
    assert len(store) == 0


def test_a_lock_is_not_a_processed_id():
    env = simpy.Environment()
    store = IdempotencyStore()
    store.claim(1, env)
    store.unclaim(1)  # the attempt failed or its consumer crashed: nothing remembered
    assert not store.seen(1, 0.0)
    assert len(store) == 0


# --- through the public API ------------------------------------------------------------------


PUBLISH, SERVICE, DOWN, UP = 1.0, 1.0, 5.0, 10.0
GAP = UP - (PUBLISH + SERVICE)  # from its processing to its redelivery


def _redelivered_after_a_crash(window: float | None) -> ev.Result:
    """One record, processed from `publish` for `service` s, not yet committed when the
    consumer goes down at `down`; back at `up`, it reads the record again."""
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    sim.producer("p", "t", ev.Replay([PUBLISH]))
    sim.consumer_group(
        "g", "t", service_time=SERVICE, commit_interval=100.0, idempotent=True,
        idempotency_window=window, faults=[ev.Outage(DOWN, UP)],
    )  # fmt: skip
    return sim.run(until=UP + 10 * SERVICE)


@pytest.mark.parametrize(
    ("window", "skipped"), [(None, True), (GAP + 0.5, True), (GAP - 0.5, False)]
)
def test_a_redelivery_is_skipped_within_the_window_and_applied_again_after_it(window, skipped):
    result = _redelivered_after_a_crash(window)
    assert_consistent(result)
    attempts = result.attempts.sort_values("started_at")
    assert attempts["status"].tolist() == ["ok", "duplicate" if skipped else "ok"]
    assert attempts["started_at"].tolist() == [PUBLISH, UP]
    summary = result.summary().loc["g"]
    assert summary["processed"] == summary["routed"] == 1  # one outcome either way
    assert summary["duplicates"] == (0 if skipped else 1)
    if skipped:  # a skip is instantaneous: nothing was processed
        assert attempts["finished_at"].iloc[-1] == attempts["started_at"].iloc[-1]


def test_a_second_delivery_waits_for_the_lock_then_skips_the_processed_event():
    # the message reappears (visibility 2 s) while g-0 still processes it (5 s): g-1
    # receives it at 2.5 but its attempt starts only when g-0's lock is released
    publish, visibility, service = 0.5, 2.0, 5.0
    sim = ev.Simulation(seed=1)
    sim.queue("q", visibility_timeout=visibility)
    sim.producer("p", "q", ev.Replay([publish]))
    sim.consumer_group("g", "q", consumers=2, service_time=service, idempotent=True)
    result = sim.run(until=20)
    assert_consistent(result)
    attempts = result.attempts
    ok = attempts[attempts["status"] == "ok"]
    assert len(ok) == 1
    [done] = ok["finished_at"]
    assert done == publish + service
    skipped = attempts[attempts["status"] == "duplicate"]
    assert len(skipped) >= 1
    assert (skipped["started_at"] >= done).all()  # none ran alongside the first
    assert "g-1" in set(skipped["consumer"])
    summary = result.summary().loc["g"]
    assert (summary["processed"], summary["duplicates"]) == (1, 0)


def test_the_store_of_a_windowed_group_stays_within_its_window():
    window = 1.0
    sim = ev.Simulation(seed=1)
    sim.topic("t", partitions=2)
    sim.producer("p", "t", ev.Poisson(rate=50), keys=ev.UniformKeys(100))
    group = sim.consumer_group(
        "g", "t", consumers=2, service_time=0.001, idempotent=True, idempotency_window=window
    )
    result = sim.run(until=30)
    ok = result.attempts[result.attempts["status"] == "ok"]
    last = ok["finished_at"].max()
    assert len(ok) > 20 * len(group.store)  # far fewer ids kept than processed
    # the store prunes at each write: what it keeps is the window before the last write
    assert len(group.store) == ok.loc[ok["finished_at"] >= last - window, "event_id"].nunique()


def test_a_group_that_is_not_idempotent_has_no_store_and_applies_redeliveries():
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    sim.producer("p", "t", ev.Replay([PUBLISH]))
    group = sim.consumer_group(
        "g", "t", service_time=SERVICE, commit_interval=100.0, faults=[ev.Outage(DOWN, UP)]
    )
    result = sim.run(until=UP + 10 * SERVICE)
    assert group.store is None
    assert result.attempts["status"].tolist() == ["ok", "ok"]
    assert result.summary().loc["g", "duplicates"] == 1


# --- bad arguments --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "error", "expected"),
    [
        ("idempotency_window", 0, ev.ConfigError, "must be > 0, got 0"),
        ("idempotency_window", -5, ev.ConfigError, "must be > 0, got -5"),
        ("idempotency_window", "1h", ev.ConfigTypeError, "expected a number"),
        ("idempotent", "yes", ev.ConfigTypeError, "expected True or False, got 'yes'"),
        ("idempotent", 1, ev.ConfigTypeError, "expected True or False, got 1"),
    ],
)
def test_bad_idempotency_settings_name_the_argument(option, value, error, expected, bad_argument):
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    with bad_argument(error, option, expected):
        sim.consumer_group("g", "t", **{option: value})
