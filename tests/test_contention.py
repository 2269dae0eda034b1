"""The Contention fault (evsim.actors.faults.Contention, evsim.actors.contention): attempts
race to write one resource under optimistic concurrency control, as in the AWS
Architecture Blog's "Exponential Backoff And Jitter" and its simulator.

Rule: an attempt reads the resource's version and writes on condition it is unchanged; the
write fails with ConflictError (a TransientError) when another attempt's write landed
between this one's read and its write. With ``latency`` the attempt is four network legs:
read after the first, write after the third (and the service time), reply after the
fourth. ``scope="key"``: one resource per event key.
"""

from __future__ import annotations

import pytest

import evsim as ev
from evsim.actors.attempts import AttemptPolicy
from evsim.actors.contention import ContendedResource
from evsim.actors.delivery import NO_FAILURE
from evsim.actors.retry import NO_RETRY
from evsim.records.event import Event
from evsim.scenario import specs
from evsim.workload.rng import Streams


def resource(scope: str = "group", keys: dict[int, str | None] | None = None):
    def event(event_id: int) -> Event:
        assert keys is not None, "a group-wide resource needs no event"
        return Event(event_id=event_id, event_type="e", key=keys[event_id], payload=None,
                     producer="p", target="t", published_at=0.0)  # fmt: skip

    return ContendedResource(ev.Contention(scope=scope), Streams(1), "g", event)


# --- the rule, on the resource itself --------------------------------------------------------


def test_of_two_attempts_that_read_one_version_the_first_to_write_wins():
    row = resource()
    first, second = row.read(None), row.read(None)  # both read before either writes
    assert row.write(None, first) == NO_FAILURE
    names, message = row.write(None, second)
    assert names[:2] == ("ConflictError", "TransientError")
    assert message == "ConflictError: the resource was written since it was read (version 0, now 1)"
    assert (row.writes, row.conflicts) == (1, 1)


def test_an_attempt_that_reads_after_a_write_races_over_the_new_version():
    row = resource()
    assert row.write(None, row.read(None)) == NO_FAILURE
    assert row.write(None, row.read(None)) == NO_FAILURE  # read after the first write
    assert row.read(None) == 2 and row.conflicts == 0


def test_per_key_resources_race_only_within_a_key():
    keys = {1: "a", 2: "b", 3: "a", 4: None, 5: None}
    rows = resource("key", keys)
    assert [rows.row(i) for i in keys] == ["a", "b", "a", None, None]
    read = {i: rows.read(rows.row(i)) for i in keys}  # every one reads first
    outcomes = {i: rows.write(rows.row(i), read[i]) == NO_FAILURE for i in keys}
    assert outcomes == {1: True, 2: True, 3: False, 4: True, 5: False}  # keyless share one
    _, message = rows.write("a", 0)
    assert "key 'a' was written since it was read" in message


def test_conflict_error_is_a_transient_error():
    assert issubclass(ev.ConflictError, ev.TransientError)


# --- the rule in a consumer group ------------------------------------------------------------


def run_clients(
    times, service=1.0, latency=0.0, retry=None, scope="group", keys=None, seed=1, until=60
):
    sim = ev.Simulation(seed=seed)
    sim.queue("q", visibility_timeout=43_200)
    sim.producer("p", target="q", arrivals=ev.Replay(times), keys=keys)
    sim.consumer_group("g", source="q", consumers=len(times), service_time=service,
                       faults=[ev.Contention(latency=latency, scope=scope)],
                       retry=retry)  # fmt: skip
    result = sim.run(until=until)
    result.check()  # every event ends in exactly one outcome
    return result


def statuses(result):
    attempts = result.attempts.sort_values(["event_id", "attempt"])
    return [(row.event_id, row.attempt, row.status) for row in attempts.itertuples()]


def test_an_attempt_that_starts_within_another_ones_read_to_write_span_fails():
    # the first reads at 0 s and writes at 1 s; the second reads at 0.5 s, writes at 1.5 s
    result = run_clients([0.0, 0.5], retry=ev.Retry(max_attempts=2))
    first, second = sorted(result.events["event_id"])
    assert statuses(result) == [(first, 1, "ok"), (second, 1, "error"), (second, 2, "ok")]
    error = result.attempts.set_index(["event_id", "attempt"]).loc[(second, 1), "error"]
    assert error.startswith("ConflictError: the resource was written since it was read")
    assert set(result.deliveries["outcome"]) == {"processed"}


def test_attempts_whose_spans_do_not_overlap_both_succeed():
    result = run_clients([0.0, 1.5])
    assert [status for *_, status in statuses(result)] == ["ok", "ok"]


def test_attempts_on_different_keys_do_not_race():
    sim = ev.Simulation(seed=1)
    sim.queue("q", visibility_timeout=43_200)
    for prefix in ("a-", "b-"):
        sim.producer(f"p{prefix}", target="q", arrivals=ev.Replay([0.0]),
                     keys=ev.UniformKeys(1, prefix=prefix))  # fmt: skip
    sim.consumer_group("g", source="q", consumers=2, service_time=1.0,
                       faults=[ev.Contention(scope="key")])  # fmt: skip
    result = sim.run(until=10)
    result.check()
    assert list(result.attempts["status"]) == ["ok", "ok"]


def test_without_retries_the_losers_end_in_one_outcome_each():
    sim = ev.Simulation(seed=1)
    sim.queue("q", visibility_timeout=1, dead_letter="dlq", max_receive_count=1)
    sim.producer("p", target="q", arrivals=ev.Replay([0.0] * 5))
    sim.consumer_group("g", source="q", consumers=5, service_time=0.5,
                       faults=[ev.Contention()])  # fmt: skip
    result = sim.run(until=10)  # all read at 0 s; one write wins, the queue redrives the rest
    result.check()
    outcomes = result.deliveries["outcome"].value_counts()
    assert outcomes[outcomes > 0].to_dict() == {"dead_lettered": 4, "processed": 1}


def test_latency_makes_an_attempt_four_legs_read_after_one_write_after_three():
    # legs of 10 ms: A reads at 0.01 s and writes at 0.03 s; its attempt ends at 0.04 s
    late = run_clients([0.0, 0.025], service=0.0, latency=0.01)  # B reads at 0.035 s
    assert [status for *_, status in statuses(late)] == ["ok", "ok"]
    durations = late.attempts["finished_at"] - late.attempts["started_at"]
    assert durations.tolist() == pytest.approx([0.04, 0.04])
    early = run_clients([0.0, 0.015], service=0.0, latency=0.01)  # B reads at 0.025 s
    assert [status for *_, status in statuses(early)] == ["ok", "error"]


def test_the_service_time_counts_between_the_read_and_the_write():
    # A: read 0.01 s, service 0.1 s + two legs, write 0.13 s; B starts at 0.1 s: reads at 0.11 s
    result = run_clients([0.0, 0.1], service=0.1, latency=0.01)
    assert [status for *_, status in statuses(result)] == ["ok", "error"]
    durations = result.attempts["finished_at"] - result.attempts["started_at"]
    assert durations.tolist() == pytest.approx([0.14, 0.14])


def test_many_clients_retrying_all_succeed_once_and_the_same_seed_replays():
    retry = ev.Retry(max_attempts=10_000, backoff=ev.Backoff(0.005, 2.0, jitter="full"))
    latency = ev.FoldedNormal(0.010, 0.002)
    first = run_clients([0.0] * 20, service=0.0, latency=latency, retry=retry, until=600)
    assert (first.deliveries["outcome"] == "processed").all()
    assert (first.attempts["status"] == "ok").sum() == 20  # one successful write each
    again = run_clients([0.0] * 20, service=0.0, latency=latency, retry=retry, until=600)
    assert first.attempts.equals(again.attempts)


def test_crashes_mid_attempt_still_leave_one_outcome_per_event():
    sim = ev.Simulation(seed=3)
    sim.queue("q", visibility_timeout=1)
    sim.producer("p", target="q", arrivals=ev.Replay([0.0] * 10))
    sim.consumer_group(
        "g", source="q", consumers=3, service_time=0.05,
        faults=[ev.Contention(latency=0.01), ev.Crashes(mttf=0.5, mttr=0.2)],
        retry=ev.Retry(max_attempts=50, backoff=ev.Backoff(0.01, 0.5, jitter="full")),
    )  # fmt: skip
    result = sim.run(until=120)
    result.check()
    assert "crashed" in set(result.attempts["status"])


def test_contention_with_transient_errors_writes_only_attempts_that_got_that_far():
    retry = ev.Retry(max_attempts=1_000, backoff=ev.Backoff(0.01, 0.1, jitter="full"))
    sim = ev.Simulation(seed=2)
    sim.queue("q", visibility_timeout=43_200)
    sim.producer("p", target="q", arrivals=ev.Replay([0.0] * 8))
    sim.consumer_group("g", source="q", consumers=8, service_time=0.02, retry=retry,
                       faults=[ev.Contention(), ev.TransientErrors(p=0.3)])  # fmt: skip
    result = sim.run(until=600)
    result.check()
    errors = result.attempts["error"].dropna()
    assert errors.str.startswith("TransientError").any()
    assert errors.str.startswith("ConflictError").any()
    assert (result.attempts["status"] == "ok").sum() == 8


# --- settings --------------------------------------------------------------------------------


def test_spec_round_trips_through_a_scenario_fault():
    fault = ev.Contention(latency=ev.FoldedNormal(0.01, 0.002), scope="key")
    spec = fault.spec()
    assert spec == {"contention": {"latency": {"folded_normal": {"loc": 0.01, "scale": 0.002}},
                                   "scope": "key"}}  # fmt: skip
    assert specs.fault(spec, "faults[0]") == fault
    assert specs.fault({"contention": {"latency": 0.01}}, "faults[0]") == ev.Contention(0.01)


def test_a_scenario_file_runs_a_contended_group():
    sim = ev.load_scenario({
        "seed": 1,
        "queues": [{"name": "q"}],
        "producers": [{"name": "p", "target": "q", "arrivals": {"replay": {"times": [0, 0]}}}],
        "consumer_groups": [{"name": "g", "source": "q", "consumers": 2, "service_time": 0.1,
                             "faults": [{"contention": {"latency": 0.01}}]}],
    })  # fmt: skip
    result = sim.run(until=5)
    assert sorted(result.attempts["status"]) == ["error", "ok"]


@pytest.mark.parametrize(
    ("build", "error", "argument", "expected"),
    [
        (
            lambda: ev.Contention(scope="row"),
            ev.ConfigError,
            "scope",
            "expected one of 'group', 'key', got 'row'",
        ),
        (lambda: ev.Contention(latency=-1), ev.ConfigError, "latency", "must be >= 0"),
        (
            lambda: ev.Contention(latency="fast"),
            ev.ConfigTypeError,
            "latency",
            "expected a distribution",
        ),
        (
            lambda: AttemptPolicy(
                Streams(1), "g", [ev.Contention(), ev.Contention()], NO_RETRY, lambda i: None
            ),
            ev.ConfigError,
            "faults",
            "at most one ev.Contention",
        ),
    ],
)
def test_bad_settings_name_the_argument(build, error, argument, expected, bad_argument):
    with bad_argument(error, argument, expected):
        build()
