"""A consumer group's attempt policy (evsim.actors.attempts.AttemptPolicy): what injected
faults do to an attempt, how a Slowdown stretches it, and the backoff between retries.

Rules: a transient error fails an attempt with probability ``p``, drawn from the group's
own stream (another group's faults do not shift it); a poison event fails every attempt,
the same events for a given seed whichever group reads them; a ``Slowdown`` multiplies the
service time of attempts that *start* in ``[start, end)``; a retry waits the backoff's
delay, ``min(cap, base * 2**n)`` without jitter and within the AWS formulas' bounds with
one, drawn per worker.
"""

from __future__ import annotations

import math

import pytest

import evsim as ev
from evsim.actors.attempts import POISON, AttemptPolicy
from evsim.actors.delivery import NO_FAILURE
from evsim.actors.faults import PoisonEvents, Slowdown, TransientErrors
from evsim.actors.retry import NO_RETRY, Backoff, Retry
from evsim.records.event import Event
from evsim.workload.rng import Streams


def no_event(event_id: int) -> Event:
    raise AssertionError(f"event {event_id} was read, but no fault needs it")


def policy(faults=(), retry=NO_RETRY, seed=1, group="g", event=no_event) -> AttemptPolicy:
    return AttemptPolicy(Streams(seed), group, faults, retry, event)


def failure_rate(p: AttemptPolicy, n: int) -> float:
    return sum(p.injected_failure(i, 1) != NO_FAILURE for i in range(n)) / n


def within_sigmas(observed: float, p: float, n: int, sigmas: float = 5.0) -> bool:
    return abs(observed - p) <= sigmas * math.sqrt(p * (1 - p) / n)


# --- no faults -------------------------------------------------------------------------------


def test_without_faults_every_attempt_succeeds_at_the_usual_speed():
    plain = policy()
    assert not plain.has_failures and not plain.has_slowdowns
    assert all(plain.injected_failure(i, a) == NO_FAILURE for i in range(50) for a in (1, 2))
    assert plain.slowdown(0.0) == plain.slowdown(1e6) == 1.0
    assert plain.retry is NO_RETRY


# --- transient errors -----------------------------------------------------------------------


def test_transient_errors_with_p_one_fail_every_attempt_naming_the_attempt():
    always = policy([TransientErrors(p=1.0)])
    assert always.has_failures
    for attempt in (1, 2, 7):
        names, message = always.injected_failure(0, attempt)
        assert names[0] == "TransientError" and "Exception" in names
        assert message == f"TransientError: attempt {attempt} failed"


def test_transient_errors_with_p_zero_never_fail():
    never = policy([TransientErrors(p=0.0)])
    assert never.has_failures  # the fault is there, it just never fires
    assert failure_rate(never, 1000) == 0


@pytest.mark.parametrize("p", [0.05, 0.3, 0.7])
def test_transient_errors_fail_a_share_p_of_attempts(p):
    n = 20_000
    assert within_sigmas(failure_rate(policy([TransientErrors(p=p)]), n), p, n)


def test_two_transient_faults_fail_an_attempt_unless_both_spare_it():
    p1, p2, n = 0.2, 0.3, 20_000
    both = policy([TransientErrors(p=p1), TransientErrors(p=p2)])
    assert within_sigmas(failure_rate(both, n), 1 - (1 - p1) * (1 - p2), n)


def test_transient_draws_depend_on_the_seed_and_the_group_only():
    def draws(seed, group):
        p = policy([TransientErrors(p=0.5)], seed=seed, group=group)
        return [p.injected_failure(i, 1) != NO_FAILURE for i in range(200)]

    assert draws(1, "g") == draws(1, "g")  # replays with the seed
    assert draws(1, "g") != draws(1, "h")  # each group its own stream
    assert draws(1, "g") != draws(2, "g")


# --- poison events --------------------------------------------------------------------------


def test_a_poison_event_fails_every_attempt_and_the_others_none():
    poison = policy([PoisonEvents(p=0.2)])
    for event_id in range(200):
        results = {poison.injected_failure(event_id, attempt) for attempt in range(1, 6)}
        assert len(results) == 1  # the same on every attempt
        assert results <= {POISON, NO_FAILURE}
    names, message = POISON
    assert names[0] == "PoisonEventError"
    assert message == "PoisonEventError: the event cannot be processed"


@pytest.mark.parametrize("p", [0.01, 0.1, 0.5])
def test_a_share_p_of_events_is_poison(p):
    n = 20_000
    assert within_sigmas(failure_rate(policy([PoisonEvents(p=p)]), n), p, n)


def test_poison_events_are_the_same_in_every_group_nested_by_share_and_set_by_the_seed():
    def poisoned(p, group="g", seed=1):
        fault = policy([PoisonEvents(p=p)], seed=seed, group=group)
        return {i for i in range(5000) if fault.injected_failure(i, 1) == POISON}

    assert poisoned(0.05, "a") == poisoned(0.05, "b")
    assert poisoned(0.05) < poisoned(0.1)  # a larger share keeps the smaller one's
    assert poisoned(0.05, seed=1) != poisoned(0.05, seed=2)


def test_a_poison_rule_reads_the_event_only_when_it_matches_on_it():
    read: list[int] = []

    def event(event_id: int) -> Event:
        read.append(event_id)
        return Event(event_id, "Order", None, {"ok": event_id % 2 == 0}, "p", "t", 0.0)

    matching = policy([PoisonEvents(match=lambda e: not e.payload["ok"])], event=event)
    assert [matching.injected_failure(i, 1) == POISON for i in range(4)] == [
        False, True, False, True,
    ]  # fmt: skip
    assert read == [0, 1, 2, 3]
    # a share needs no event: the default `no_event` would fail the test if read
    assert policy([PoisonEvents(p=0.5)]).injected_failure(0, 1) in (POISON, NO_FAILURE)


def test_a_poison_event_fails_as_poison_even_when_a_transient_error_would_too():
    both = policy([TransientErrors(p=1.0), PoisonEvents(p=1.0)])
    assert all(both.injected_failure(i, 1) == POISON for i in range(20))


# --- slowdowns ------------------------------------------------------------------------------


def test_a_slowdown_multiplies_service_from_its_start_until_just_before_its_end():
    start, end, factor = 5.0, 10.0, 3.0
    slowed = policy([Slowdown(start, end, factor)])
    assert slowed.has_slowdowns and not slowed.has_failures
    assert slowed.slowdown(start - 1e-9) == 1.0
    assert slowed.slowdown(start) == factor
    assert slowed.slowdown((start + end) / 2) == factor
    assert slowed.slowdown(end) == 1.0


def test_overlapping_slowdowns_multiply():
    slowed = policy([Slowdown(0, 10, 2.0), Slowdown(5, 15, 3.0)])
    assert [slowed.slowdown(t) for t in (1.0, 7.0, 12.0, 20.0)] == [2.0, 6.0, 3.0, 1.0]


def test_a_slowdown_stretches_only_the_attempts_that_start_in_it():
    # 4.98 starts before the window and runs into it: not stretched (public API)
    service, start, end, factor = 0.05, 5.0, 10.0, 3.0
    starts = [1.0, 4.98, 6.0, 10.0]
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    sim.producer("p", "t", ev.Replay(starts))
    sim.consumer_group("g", "t", service_time=service, faults=[ev.Slowdown(start, end, factor)])
    attempts = sim.run(until=20).attempts.sort_values("started_at")
    assert attempts["started_at"].tolist() == starts
    took = (attempts["finished_at"] - attempts["started_at"]).to_numpy()
    expected = [service * (factor if start <= s < end else 1.0) for s in starts]
    assert took == pytest.approx(expected)


# --- backoff --------------------------------------------------------------------------------


def test_without_jitter_the_delays_double_from_base_up_to_the_cap():
    backoff = Backoff(base=0.5, cap=6.0)
    delays = policy(retry=Retry(max_attempts=10, backoff=backoff)).backoff_delays("g-0", 0)
    got = [delays(n) for n in range(6)]
    assert got == [min(backoff.cap, backoff.base * 2**n) for n in range(6)]
    assert got == [0.5, 1.0, 2.0, 4.0, 6.0, 6.0]


@pytest.mark.parametrize("jitter", ["full", "equal"])
def test_jittered_delays_stay_in_the_formulas_bounds_and_replay_per_worker(jitter):
    backoff = Backoff(base=0.1, cap=5.0, jitter=jitter)
    jittered = policy(retry=Retry(max_attempts=10, backoff=backoff))

    def delays(consumer, worker):
        draw = jittered.backoff_delays(consumer, worker)
        return [draw(n) for n in range(8)]

    mine = delays("g-0", 0)
    for n, delay in enumerate(mine):
        low, high = backoff.bounds(n)
        assert low <= delay <= high
    assert mine == delays("g-0", 0)  # the same worker replays its draws
    assert mine != delays("g-0", 1)  # each worker draws its own (AWS: each client)
    assert mine != delays("g-1", 0)


def test_decorrelated_delays_grow_from_the_previous_one_within_the_cap():
    backoff = Backoff(base=0.2, cap=3.0, jitter="decorrelated")
    draw = policy(retry=Retry(max_attempts=30, backoff=backoff)).backoff_delays("g-0", 0)
    previous = backoff.base
    for n in range(25):
        delay = draw(n)
        assert backoff.base <= delay <= min(backoff.cap, 3 * previous)
        previous = delay


# --- the arguments it is built from -----------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "error", "argument", "expected"),
    [
        (lambda: TransientErrors(p=1.5), ev.ConfigError, "p", "must be between 0 and 1"),
        (lambda: TransientErrors(p="often"), ev.ConfigTypeError, "p", "expected a number"),
        (lambda: PoisonEvents(p=-0.1), ev.ConfigError, "p", "must be between 0 and 1"),
        (lambda: PoisonEvents(match=3), ev.ConfigTypeError, "match", "expected a function"),
        (lambda: Slowdown(1, 2, factor=0), ev.ConfigError, "factor", "must be > 0"),
        (lambda: Slowdown(5, 5, factor=2), ev.ConfigError, "end", "must be after start"),
        (lambda: Slowdown(-1, 5, factor=2), ev.ConfigError, "start", "must be >= 0"),
        (lambda: Retry(max_attempts=0), ev.ConfigError, "max_attempts", "must be >= 1"),
        (lambda: Backoff(base=1, jitter="some"), ev.ConfigError, "jitter", "expected one of"),
        (lambda: Backoff(base=2, cap=1), ev.ConfigError, "cap", "must be >= base"),
    ],
)  # fmt: skip
def test_bad_fault_and_retry_arguments_name_the_argument(
    build, error, argument, expected, bad_argument
):
    with bad_argument(error, argument, expected):
        build()


# --- through the public API: the group's own random stream ---------------------------------------


def _attempts_of_g(other_p: float | None):
    sim = ev.Simulation(seed=5)
    sim.topic("t", partitions=2)
    sim.producer("p", "t", ev.Poisson(rate=20), keys=ev.UniformKeys(50))
    sim.consumer_group(
        "g", "t", service_time=0.01, faults=[ev.TransientErrors(p=0.2)],
        retry=ev.Retry(max_attempts=3, backoff=ev.Backoff(0.05, jitter="full")),
    )  # fmt: skip
    if other_p is not None:
        sim.consumer_group("other", "t", service_time=0.02, faults=[ev.TransientErrors(other_p)])
    result = sim.run(until=30)
    attempts = result.attempts
    return attempts[attempts["group"] == "g"].reset_index(drop=True)


def test_another_groups_faults_do_not_shift_a_groups_failures():
    # common random numbers: g's failures and backoffs come from g's streams alone
    alone = _attempts_of_g(None)
    assert (alone["status"] == "error").sum() > 50
    for other_p in (0.1, 0.9):
        got = _attempts_of_g(other_p)
        assert got[["event_id", "attempt", "started_at", "finished_at"]].equals(
            alone[["event_id", "attempt", "started_at", "finished_at"]]
        )
        assert got["status"].astype(str).tolist() == alone["status"].astype(str).tolist()
