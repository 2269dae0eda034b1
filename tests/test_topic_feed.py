"""A consumer group reading topics (evsim.actors.topic_feed.TopicFeed): Kafka's rules for
ownership, offsets, commits, lag, rebalances and retry topics, as the feed keeps them.

Rules checked here (Apache Kafka, Spring for Apache Kafka):

* each partition has exactly one owner among the live consumers; consumers beyond the
  partitions own none, and take over when a rebalance has a partition for them;
* ``commit="after"`` commits processed offsets (never more than was processed) every
  ``commit_interval`` seconds and before revoking a partition; ``commit="before"`` commits
  what it fetches; lag = log-end offset − committed offset;
* a crash loses the progress since the last commit: the records processed after it are
  read again (duplicates), while committing before processing never redelivers;
* a crashed consumer keeps its partitions until ``session_timeout``, then the survivors
  read them from the committed offset; a consumer back before then keeps them;
* records of types the group does not handle are read, skipped and committed;
* ``offset_reset="earliest"`` starts at the oldest retained record;
* a retry topic's partition waits until its head record is due (non-blocking retries).
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


def keyed_topic(partitions=2, consumers=2, rate=10.0, seed=3, service=0.02, **group):
    sim = ev.Simulation(seed=seed)
    sim.topic("t", partitions=partitions)
    sim.producer("p", "t", ev.Poisson(rate=rate), keys=ev.UniformKeys(100))
    group = sim.consumer_group("g", "t", consumers=consumers, service_time=service, **group)
    return sim, group


def ok_rows(result: ev.Result):
    attempts = result.attempts.merge(result.events[["event_id", "partition"]], on="event_id")
    return attempts[attempts["status"] == "ok"]


# --- ownership ----------------------------------------------------------------------------


@pytest.mark.parametrize("assignment", ["range", "roundrobin", "sticky"])
@pytest.mark.parametrize("consumers", [1, 3, 4, 6])
def test_every_partition_has_exactly_one_owner_and_extra_consumers_own_none(assignment, consumers):
    partitions = 4
    sim, group = keyed_topic(partitions=partitions, consumers=consumers, assignment=assignment)
    result = sim.run(until=5)
    feed = group.feed
    owned = [tp for member in group.members for tp in member.owned]
    assert sorted(owned) == list(range(partitions))  # each once: one owner per partition
    for member in group.members:
        assert all(feed.owner[tp] is member for tp in member.owned)
    busy = [m for m in group.members if m.owned]
    assert len(busy) == min(consumers, partitions)  # the group's parallelism
    idle = {m.name for m in group.members if not m.owned}
    assert idle.isdisjoint(set(result.attempts["consumer"].astype(str)))


@pytest.mark.parametrize("assignment", ["range", "roundrobin", "sticky"])
def test_an_idle_consumer_takes_over_a_crashed_consumers_partition_after_the_session(
    assignment,
):
    down, timeout = 10.0, 5.0
    sim, group = keyed_topic(
        partitions=2, consumers=3, assignment=assignment, session_timeout=timeout,
        faults=[ev.Outage(down, 1000, consumers=["g-1"])],
    )  # fmt: skip
    feed = group.feed
    owners = probe(sim, [down - 1, down + timeout / 2, down + timeout + 1],
                   lambda: [o.name for o in feed.owner])  # fmt: skip
    result = sim.run(until=40)
    assert owners[down - 1] == ["g-0", "g-1"]  # g-2 idles: no partition left for it
    assert owners[down + timeout / 2] == ["g-0", "g-1"]  # kept by the crashed one
    assert owners[down + timeout + 1] == ["g-0", "g-2"]  # the standby took it
    rows = ok_rows(result)
    standby = rows[rows["consumer"] == "g-2"]
    assert len(standby) > 0 and (standby["partition"] == 1).all()
    assert (standby["started_at"] >= down + timeout).all()


# --- commits and lag ----------------------------------------------------------------------------


def test_at_least_once_commits_only_processed_offsets_and_only_every_commit_interval():
    interval = 2.0
    sim, group = keyed_topic(partitions=2, consumers=1, rate=20, service=0.01,
                             commit_interval=interval)  # fmt: skip
    feed = group.feed
    topic = sim.topics["t"]
    times = [0.1 + 0.2 * k for k in range(95)]  # never on a commit instant

    def state():
        lags = [feed.lag(tp) for tp in range(2)]
        ends = [topic.log_end_offset(p) for p in range(2)]
        return list(feed.committed), list(feed.done), list(feed.position), lags, ends

    seen = probe(sim, times, state)
    result = sim.run(until=20)
    previous = None
    for time in times:
        committed, done, position, lags, ends = seen[time]
        assert lags == [end - c for end, c in zip(ends, committed, strict=True)]
        assert all(c <= d <= p for c, d, p in zip(committed, done, position, strict=True))
        if previous is not None and previous[0] // interval == time // interval:
            assert committed == previous[1]  # no commit between two auto-commits
        previous = (time, committed)
    # the last auto-commit before the last probe committed exactly what was processed by then
    last_commit = (times[-1] // interval) * interval
    processed = (result.attempts["finished_at"] <= last_commit).sum()
    assert sum(seen[times[-1]][0]) == processed > 0


def test_at_most_once_commits_each_record_as_it_is_fetched():
    sim, group = keyed_topic(partitions=2, consumers=1, rate=20, service=0.02,
                             commit="before")  # fmt: skip
    feed = group.feed
    seen = probe(sim, [0.1 + 0.3 * k for k in range(60)],
                 lambda: (list(feed.committed), list(feed.done), list(feed.position)))  # fmt: skip
    sim.run(until=20)
    for committed, done, position in seen.values():
        assert committed == position  # the record in hand is already committed
        assert all(d <= c for c, d in zip(committed, done, strict=True))


def _crash_after_commit(**group) -> tuple[ev.Result, int]:
    """One record every second from 0.5, processed at once; auto-commit every 5 s; the
    consumer is down from 7.2 to 8: returns the result and how many records were
    processed after the last commit before the crash."""
    times, interval, down, up = [0.5 + i for i in range(20)], 5.0, 7.2, 8.0
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    sim.producer("p", "t", ev.Replay(times))
    options = {"commit_interval": interval, **group}
    sim.consumer_group("g", "t", service_time=0.0, faults=[ev.Outage(down, up)], **options)
    last_commit = (down // interval) * interval
    return sim.run(until=30), sum(last_commit < t < down for t in times)


def test_a_crash_redelivers_what_was_processed_since_the_last_commit():
    result, since_commit = _crash_after_commit()
    assert_consistent(result)
    summary = result.summary().loc["g"]
    assert since_commit > 0
    assert summary["duplicates"] == since_commit  # commit-after: at-least-once
    assert summary["processed"] == summary["routed"] and summary["lost"] == 0


@pytest.mark.parametrize("group", [{"commit_interval": 0}, {"commit": "before"}])
def test_committing_each_record_or_before_processing_redelivers_nothing(group):
    result, _ = _crash_after_commit(**group)
    summary = result.summary().loc["g"]
    assert summary["duplicates"] == 0
    assert summary["processed"] == summary["routed"]  # nothing was in hand at the crash


def test_a_rebalance_commits_what_was_processed_before_revoking_a_partition():
    # g-1 is down 10-70 with no auto-commit in the run: after its session, g-0 re-reads
    # partition 1 from offset 0 (g-1's work is lost); when g-1 rejoins, g-0 commits before
    # handing partition 1 back, so g-1 re-reads none of g-0's work
    down, up, timeout = 10.0, 70.0, 5.0
    sim, _ = keyed_topic(
        service=0.001, commit_interval=1000.0, session_timeout=timeout,
        faults=[ev.Outage(down, up, consumers=["g-1"])],
    )  # fmt: skip
    result = sim.run(until=100)
    assert_consistent(result)
    rows = ok_rows(result)
    per_event = rows.groupby("event_id")["consumer"].agg(list)
    twice = per_event[per_event.map(len) > 1]
    before_crash = rows[(rows["consumer"] == "g-1") & (rows["finished_at"] <= down)]
    assert len(twice) == len(before_crash) > 0
    assert all(consumers == ["g-1", "g-0"] for consumers in twice)  # lost, then redone
    redone = rows[rows["event_id"].isin(twice.index) & (rows["consumer"] == "g-0")]
    assert (redone["started_at"] >= down + timeout).all()
    after_rejoin = rows[(rows["consumer"] == "g-1") & (rows["started_at"] >= up)]
    assert len(after_rejoin) > 0
    assert not after_rejoin["event_id"].isin(rows.loc[rows["consumer"] == "g-0", "event_id"]).any()


# --- session timeout --------------------------------------------------------------------------


def test_a_crashed_consumer_keeps_its_partitions_until_the_session_times_out():
    down, timeout, up = 10.0, 20.0, 100.0
    sim, group = keyed_topic(commit_interval=0, session_timeout=timeout,
                             faults=[ev.Outage(down, up, consumers=["g-1"])])  # fmt: skip
    feed = group.feed
    times = [down - 1, down + 1, down + timeout - 1, down + timeout + 1, up + 1]
    seen = probe(sim, times, lambda: ([o.name for o in feed.owner], feed.lag(1)))
    sim.run(until=up + 20)
    owners = {t: o for t, (o, _) in seen.items()}
    lag = {t: lag for t, (_, lag) in seen.items()}
    assert owners[down - 1] == owners[down + 1] == owners[down + timeout - 1] == ["g-0", "g-1"]
    assert owners[down + timeout + 1] == ["g-0", "g-0"]
    assert owners[up + 1] == ["g-0", "g-1"]  # rejoined: range hands it back
    assert lag[down + timeout - 1] > lag[down + 1] > 0  # nobody reads it meanwhile


def test_a_consumer_back_before_its_session_times_out_keeps_its_partitions():
    down, up, timeout = 10.0, 20.0, 45.0
    sim, _ = keyed_topic(commit_interval=0, session_timeout=timeout,
                         faults=[ev.Outage(down, up, consumers=["g-1"])])  # fmt: skip
    result = sim.run(until=down + timeout + 20)
    rows = ok_rows(result)
    assert set(rows.loc[rows["partition"] == 1, "consumer"]) == {"g-1"}
    assert set(rows.loc[rows["partition"] == 0, "consumer"]) == {"g-0"}
    assert result.summary().loc["g", "duplicates"] == 0  # committed after each record


# --- what the group reads -----------------------------------------------------------------------


def test_records_of_unhandled_types_are_read_skipped_and_committed():
    sim = ev.Simulation(seed=1)
    sim.topic("t", partitions=2)
    sim.producer("a", "t", ev.Periodic(1.0), "Wanted", ev.UniformKeys(10))
    sim.producer("b", "t", ev.Periodic(0.5), "Other", ev.UniformKeys(10))
    group = sim.consumer_group("g", "t", service_time=0.0, event_types="Wanted",
                               commit_interval=0)  # fmt: skip
    result = sim.run(until=20.25)
    events = result.events.set_index("event_id")
    wanted = events.index[events["event_type"] == "Wanted"]
    assert sorted(group.routed) == sorted(wanted)
    assert set(result.attempts["event_id"]) == set(wanted)
    assert [group.feed.lag(tp) for tp in range(2)] == [0, 0]  # the skipped ones committed


def test_at_most_once_commits_the_skipped_records_too():
    skipped = 10
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    sim.producer("a", "t", ev.Replay([1.0]), "Wanted")
    sim.producer("b", "t", ev.Replay([2.0 + i for i in range(skipped)]), "Other")
    group = sim.consumer_group("g", "t", event_types=["Wanted"], commit="before")
    result = sim.run(until=skipped + 5)
    assert group.feed.position == [1 + skipped]  # everything was read
    assert group.feed.lag(0) == 0
    assert result.summary().loc["g", "max_lag"] <= 1


@pytest.mark.parametrize(
    "commit",
    [
        "after",
        "before",
    ],
)
def test_a_consumer_skipping_expired_records_commits_past_them(commit):
    # one 8 s record at a time, records kept 5 s: all but the first expire unread
    retention, service, count = 5.0, 8.0, 20
    sim = ev.Simulation(seed=1)
    sim.topic("t", retention=retention)
    sim.producer("p", "t", ev.Replay([0.5 + 0.1 * i for i in range(count)]))
    group = sim.consumer_group("g", "t", service_time=service, commit=commit, commit_interval=0)
    with pytest.warns(UserWarning, match="cannot keep up"):
        result = sim.run(until=5 * service)
    summary = result.summary().loc["g"]
    assert (summary["processed"], summary["expired"]) == (1, count - 1)
    assert group.feed.position == [count]
    assert group.feed.lag(0) == 0


def test_a_late_group_reading_from_the_earliest_offset_starts_at_the_oldest_retained_record():
    retention, join_at, until = 5.0, 20.5, 30.0
    sim = ev.Simulation(seed=1)
    sim.topic("t", retention=retention)
    sim.producer("p", "t", ev.Periodic(1.0))
    group = sim.consumer_group("g", "t", join_at=join_at, offset_reset="earliest")
    result = sim.run(until=until)
    published = result.events.set_index("event_id")["published_at"]
    retained = published[published >= join_at - retention]
    assert sorted(group.routed) == sorted(retained.index)
    assert result.summary().loc["g", "processed"] == len(retained)


# --- retry topics -------------------------------------------------------------------------------


def test_a_retry_topic_holds_its_record_until_due_and_the_source_partition_moves_on():
    publish, behind = 1.0, 1.5
    backoff = ev.Backoff(base=1.0, cap=10.0)
    max_attempts = 4
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    sim.producer("p", "t", ev.Replay([publish, behind]), payload=lambda i: i)
    sim.consumer_group(
        "g", "t", faults=[ev.PoisonEvents(match=lambda e: e.payload == 0)],
        retry=ev.Retry(max_attempts, backoff=backoff, blocking=False),
    )  # fmt: skip
    result = sim.run(until=30)
    assert_consistent(result)
    attempts = result.attempts.sort_values("started_at")
    poisoned = attempts[attempts["event_id"] == 0]
    due = publish + np.cumsum([0.0] + [backoff.nominal(n) for n in range(max_attempts - 1)])
    assert poisoned["started_at"].tolist() == pytest.approx(due.tolist())
    later = attempts[attempts["event_id"] != 0]
    assert later["started_at"].tolist() == [behind]  # not held behind the failing one
    outcomes = result.deliveries[result.deliveries["group"] == "g"].set_index("event_id")
    assert outcomes["outcome"].to_dict() == {
        0: "dead_lettered",
        later["event_id"].iloc[0]: "processed",
    }


# --- bad arguments --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "error", "expected"),
    [
        (["t", "t"], ev.ConfigError, "a topic is listed twice"),
        ([], ev.ConfigError, "expected a topic, a list of topics or a queue, got []"),
        ("f", ev.ConfigTypeError, "expected topics or one queue, got 'f' (fanout)"),
        (["t", "q"], ev.ConfigTypeError, "expected topics or one queue, got 't' (topic), 'q'"),
        (["t", 3], ev.UnknownNameError, "expected the name of a topic, queue or fanout, got 3"),
    ],
)
def test_a_source_a_topic_feed_cannot_read_is_refused_naming_source(
    source, error, expected, bad_argument
):
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    sim.queue("q")
    sim.fanout("f")
    with bad_argument(error, "source", expected):
        sim.consumer_group("g", source)
    assert "g" not in sim.groups


@pytest.mark.parametrize(
    ("option", "value", "error", "expected"),
    [
        ("commit_interval", -1, ev.ConfigError, "must be >= 0, got -1"),
        ("session_timeout", 0, ev.ConfigError, "must be > 0, got 0"),
        ("session_timeout", "45s", ev.ConfigTypeError, "expected a number"),
        ("join_at", -1, ev.ConfigError, "must be >= 0, got -1"),
        ("offset_reset", "none", ev.ConfigError, "expected one of 'latest', 'earliest'"),
    ],
)
def test_bad_offset_and_session_settings_name_the_argument(
    option, value, error, expected, bad_argument
):
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    with bad_argument(error, option, expected):
        sim.consumer_group("g", "t", **{option: value})
