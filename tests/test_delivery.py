"""Deliveries (evsim.actors.delivery): one event in a consumer's hands, how its handling
ended, and the attempts tally every delivery of an event shares.

The unit rules: an ``Ending`` is an int code; a ``Failure`` names the error's class and its
bases (what ``Retry(retry_on=...)`` matches); a ``Tally`` numbers attempts from 1 and keeps
the first one's start. Through the public API: ``deliveries.attempts`` counts every attempt
of an event over all its deliveries (a crash, a reappearing queue message), and
``first_attempt_at`` is the first of them.
"""

from __future__ import annotations

import json
import math

import pytest
from invariants import assert_consistent

import evsim as ev
from evsim.actors import delivery as delivery_module
from evsim.actors.delivery import Delivery, Ending, PartitionPlace, QueueReceipt, Tally, failure

# --- endings and failures -------------------------------------------------------------------


def test_the_four_endings_are_distinct_int_codes_and_the_aliases_are_the_members():
    assert tuple(Ending) == (
        delivery_module.HANDLED,
        delivery_module.SKIPPED,
        delivery_module.FAILED,
        delivery_module.RETRY_LATER,
    )
    assert len({int(e) for e in Ending}) == len(Ending)
    for ending in Ending:
        assert isinstance(ending, int)  # stored and compared as plain ints on the hot path
        assert Ending(int(ending)) is ending


def test_no_failure_has_no_error_types_and_no_message():
    error_types, message = delivery_module.NO_FAILURE
    assert error_types == () and message is None


def test_a_failure_names_the_class_then_its_bases_without_object():
    names, message = failure(json.JSONDecodeError, "Expecting value")
    expected = tuple(cls.__name__ for cls in json.JSONDecodeError.__mro__[:-1])
    assert names == expected
    assert names[0] == "JSONDecodeError" and "ValueError" in names and "object" not in names
    assert message == "JSONDecodeError: Expecting value"


@pytest.mark.parametrize(
    ("retry_on", "retried"),
    [(["ValueError"], True), (["JSONDecodeError"], True), (["Exception"], True),
     (["KeyError"], False), (None, True)],
)  # fmt: skip
def test_retry_on_matches_a_failure_by_its_class_or_any_base_class(retry_on, retried):
    # Spring's classifier retries the subclasses of a listed exception
    names, _ = failure(json.JSONDecodeError, "bad")
    retry = ev.Retry(max_attempts=3, retry_on=retry_on)
    assert retry.retries(1, names) is retried
    assert retry.retries(retry.max_attempts, names) is False  # none left, whatever the type


# --- the tally of one event's attempts -----------------------------------------------------


def test_a_new_tally_has_no_attempt_and_an_undecided_count():
    tally = Tally(published_at=2.5)
    assert tally.published_at == 2.5
    assert tally.attempts == 0
    assert math.isnan(tally.first_attempt_at)
    assert tally.counted == -1


def test_a_tally_numbers_attempts_from_one_and_keeps_the_first_start():
    tally = Tally(published_at=0.0)
    starts = [1.0, 1.5, 4.0, 9.25]
    numbers = [tally.begin(now) for now in starts]
    assert numbers == list(range(1, len(starts) + 1))
    assert tally.attempts == len(starts)
    assert tally.first_attempt_at == starts[0]


def test_deliveries_of_one_event_share_its_tally():
    tally = Tally(published_at=0.0)
    first = Delivery(7, 7, PartitionPlace(0, 3), tally)
    again = Delivery(7, 7, PartitionPlace(0, 3), tally, settles=False)
    tally.begin(1.0)
    tally.begin(2.0)
    assert first.attempts == again.attempts == 2
    tally.begin(3.0)
    assert first.attempts == again.attempts == 3


def test_a_delivery_defaults_to_settling_from_the_source_without_an_error():
    delivery = Delivery(3, 3, None, Tally(0.0))
    assert delivery.settles is True
    assert delivery.stage == 0
    assert delivery.error is None
    assert delivery.handle is None
    copy = Delivery(3, 11, PartitionPlace(2, 0), Tally(0.0), stage=2)
    assert (copy.event_id, copy.record_id, copy.stage) == (3, 11, 2)


def test_a_delivery_and_a_tally_have_no_per_instance_dict():
    # one of each per delivered event: __slots__ (ARCHITECTURE.md, the hot path)
    tally = Tally(0.0)
    for obj in (tally, Delivery(0, 0, None, tally)):
        assert not hasattr(obj, "__dict__")
        with pytest.raises(AttributeError):
            obj.unexpected = 1


def test_the_handles_unpack_into_their_coordinates():
    tp, offset = PartitionPlace(tp=4, offset=17)
    assert (tp, offset) == (4, 17)
    message, receipt = QueueReceipt(message=None, receipt=3)
    assert message is None and receipt == 3


# --- through the public API ------------------------------------------------------------------


def test_a_queue_message_redelivered_after_a_crash_counts_both_attempts():
    # received at `publish`, crashes at `down` mid-attempt, reappears a visibility timeout
    # after the receive, processed then: one outcome, two attempts, the first one's start
    publish, visibility, service, down, up = 1.0, 5.0, 3.0, 2.0, 3.0
    sim = ev.Simulation(seed=1)
    sim.queue("q", visibility_timeout=visibility)
    sim.producer("p", "q", ev.Replay([publish]))
    sim.consumer_group("g", "q", service_time=service, faults=[ev.Outage(down, up)])
    result = sim.run(until=publish + visibility + 2 * service)
    assert_consistent(result)
    attempts = result.attempts.sort_values("started_at")
    assert attempts["status"].tolist() == ["crashed", "ok"]
    assert attempts["attempt"].tolist() == [1, 2]
    assert attempts["started_at"].tolist() == [publish, publish + visibility]
    [row] = result.deliveries.itertuples()
    assert row.outcome == "processed"
    assert row.attempts == len(attempts)
    assert row.first_attempt_at == publish
    assert row.completed_at == publish + visibility + service
    assert row.latency == row.completed_at - publish


def one_poison_event(until: float, **group) -> ev.Result:
    """One event, published at 1 s to topic ``t``, that fails every attempt of group ``g``."""
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    sim.producer("p", "t", ev.Replay([1.0]))
    sim.consumer_group("g", "t", faults=[ev.PoisonEvents(p=1.0)], **group)
    return sim.run(until=until)


def test_blocking_retries_count_into_one_tally_and_the_last_error_is_dead_lettered():
    max_attempts = 3
    retry = ev.Retry(max_attempts=max_attempts, backoff=0.25)
    result = one_poison_event(10, service_time=0.5, retry=retry, dead_letter="t-dlt")
    assert_consistent(result)
    [row] = result.deliveries[result.deliveries["group"] == "g"].itertuples()
    assert (row.outcome, row.attempts, row.first_attempt_at) == ("dead_lettered", 3, 1.0)
    errors = result.attempts.sort_values("attempt")
    last_error = errors["error"].iloc[-1]
    assert last_error.startswith("PoisonEventError: ")
    dead = result.events[result.events["target"] == "t-dlt"]
    [attributes] = dead["attributes"]
    assert attributes["attempts"] == max_attempts
    assert attributes["last_error"] == last_error
    assert attributes["dlq_reason"] == "retries exhausted"


def test_a_failure_that_is_not_retried_ends_the_delivery_at_once():
    retry = ev.Retry(max_attempts=5, retry_on=["TransientError"])
    result = one_poison_event(5, retry=retry, dead_letter="t-dlt")
    [row] = result.deliveries[result.deliveries["group"] == "g"].itertuples()
    assert (row.outcome, row.attempts) == ("dead_lettered", 1)
    [attributes] = result.events.loc[result.events["target"] == "t-dlt", "attributes"]
    assert attributes["dlq_reason"] == "not retryable"


def test_a_retry_later_ending_forwards_a_copy_carrying_the_attempts_so_far():
    # non-blocking retries: each failed attempt ends the delivery as RETRY_LATER and the
    # copy in the next retry topic carries the attempts made (Spring's retry headers)
    max_attempts = 3
    retry = ev.Retry(max_attempts=max_attempts, backoff=1.0, blocking=False)
    result = one_poison_event(20, retry=retry)
    assert_consistent(result)
    events = result.events
    copies = events[events["target"].astype(str).str.contains("-retry-")].sort_values(
        "published_at"
    )
    assert len(copies) == max_attempts - 1
    carried = [a["retry_topic_attempts"] for a in copies["attributes"]]
    assert carried == list(range(1, max_attempts))
    assert (copies["original_id"] == 0).all()
    [row] = result.deliveries[result.deliveries["group"] == "g"].itertuples()
    assert (row.outcome, row.attempts) == ("dead_lettered", max_attempts)
