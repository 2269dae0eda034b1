"""Reading topics as a Kafka consumer group: assignment, offsets, commits, lag, retry topics.

Rules modelled (Apache Kafka and Spring for Apache Kafka):

* Every group subscribed to a topic gets every record of it; ``event_types`` filters what
  the group handles (the rest are read and skipped).
* Partitions are assigned by the range, round-robin or sticky assignor; a partition has at
  most one owner, so a group's parallelism is min(consumers, partitions). Each partition
  is read in offset order, one record at a time.
* ``commit="after"`` (at-least-once) commits processed offsets every ``commit_interval``
  seconds (``auto.commit.interval.ms``, 5 s by default; 0 commits after each record) and
  when partitions are revoked in a rebalance; ``commit="before"`` (at-most-once) commits
  records as they are fetched.
* Lag of a partition = log-end offset − committed offset.
* A crashed consumer keeps its partitions until ``session_timeout`` passes
  (``session.timeout.ms``, 45 s since Kafka 3.0); then they are rebalanced to the
  survivors, who resume from the committed offset, and again when it rejoins; a consumer
  that leaves the group (scaled in) commits and is rebalanced away at once
  (:mod:`evsim.actors.topic_membership`).
* A group joining late starts at the log end (``auto.offset.reset=latest``) or the log
  start (``earliest``); a consumer behind the log start skips to it and the skipped
  events end as ``expired``.
* Non-blocking retries (Spring's ``@RetryableTopic``): a failed record is published to
  the next ``<topic>-retry-<delay ms>`` topic, whose records are handled once their delay
  has passed (the partition is paused until then), finally to ``<topic>-dlt``.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

import simpy

from evsim.actors import headers
from evsim.actors.delivery import FAILED, RETRY_LATER, Delivery, Ending, PartitionPlace, Tally
from evsim.actors.roles import GroupServices, Unfinished
from evsim.actors.roles import Member as Consumer
from evsim.actors.topic_membership import Membership
from evsim.brokers.log import Topic
from evsim.engine import Steps
from evsim.records import EXPIRED, LOST, PENDING, PROCESSED


class TopicFeed(Membership):
    """The partitions a consumer group reads, and how far it has got in each; who owns
    which is :class:`~evsim.actors.topic_membership.Membership`'s business."""

    def __init__(
        self, group: GroupServices, topics: list[Topic], retry_topics: list[list[Topic]]
    ) -> None:
        self.group = group
        self.config = config = group.config
        self._backoff = config.retry_policy.backoff  # a retry topic's delay: its nominal one
        self.world = group.world
        self.topics = topics
        self.retry_topics = retry_topics
        self.partitions: list[tuple[Topic, int]] = []
        self.stage: list[int] = []  # 0: a source partition; n: the n-th retry topic
        self.source: list[int] = []  # index of the source topic a partition belongs to
        for index, topic in enumerate(topics):
            for stage, subscribed in enumerate([topic, *retry_topics[index]]):
                subscribed.subscribe(partial(self._on_append, len(self.partitions)))
                for p in range(subscribed.partitions):
                    self.partitions.append((subscribed, p))
                    self.stage.append(stage)
                    self.source.append(index)
        size = len(self.partitions)
        self.position = [0] * size  # next offset to fetch
        self.done = [0] * size  # offset after the last record processed since a reset
        self.committed = [0] * size
        self.high_water = [0] * size  # records below it have settled: never settle again
        self.queued = [False] * size  # waiting in its owner's ready list
        self.busy = [False] * size  # a worker is handling one of its records
        self.paused = [False] * size  # a retry partition waiting for its head to be due
        self.owner: list[Consumer | None] = [None] * size
        self.routed = group.world.records.routed_log()
        self._after = config.commit == "after"  # at-least-once: commit what was processed
        self._at_once = self._after and config.commit_interval == 0  # after every event
        self._periodic = self._after and not self._at_once  # auto-commit every interval
        self.in_flight: dict[int, Consumer] = {}  # events in a consumer's hands
        self.in_retry: dict[int, None] = {}  # events whose copy waits in a retry topic
        # the tallies of handled records not yet committed: a crash before the commit has
        # them read again, and their attempts number on
        self._uncommitted: dict[tuple[int, int], Tally] = {}
        self.active = False
        types, names = config.handled_types, group.world.records.names
        self._wanted = None if types is None else frozenset(map(names.code, types))
        events = group.world.records.events
        self._hold, self._let_go = events.hold, events.release
        for tp in range(size):
            if self._reads_history(tp):  # it will read from the log start when it joins
                self._keep_committed(tp)

    def _reads_history(self, tp: int) -> bool:
        return self.stage[tp] == 0 and self.config.offset_reset == "earliest"

    def _keep_committed(self, tp: int) -> None:
        """Have the topic keep partition ``tp``'s records from the committed offset on: a
        crash before the next commit reads them again."""
        topic, partition = self.partitions[tp]
        topic.keep_partition(partition, self.committed, tp)

    # --- life cycle -------------------------------------------------------------------

    def join(self) -> None:
        """Take the starting offsets (``offset_reset``), assign partitions, start."""
        now = self.world.env.now
        reset = self.config.offset_reset
        for tp, (topic, partition) in enumerate(self.partitions):
            end = topic.log_end_offset(partition)
            latest = reset == "latest" or self.stage[tp] > 0
            start = end if latest else topic.log_start_offset(partition, now)
            self.position[tp] = self.done[tp] = self.committed[tp] = self.high_water[tp] = start
            if not self._reads_history(tp):
                self._keep_committed(tp)
            if self.stage[tp] == 0:
                self.routed.extend(self._wanted_ids(tp, start, end))
        self.active = True
        self.rebalance()
        if self._periodic:
            self.world.env.process(self._auto_commit())

    def _auto_commit(self) -> Steps:
        env = self.world.env
        while True:
            yield env.timeout(self.config.commit_interval)
            committed = self.committed
            committed[:] = self.done
            self._uncommitted = {
                key: tally
                for key, tally in self._uncommitted.items()
                if key[1] >= committed[key[0]]
            }

    # --- handing out records ------------------------------------------------------------

    def take_now(self, consumer: Consumer) -> Delivery[PartitionPlace] | None:
        """The next record among the consumer's ready partitions (round-robin), or None."""
        ready = consumer.ready
        queued = self.queued
        while ready:
            tp = ready.popleft()
            queued[tp] = False
            delivery = self._fetch(tp, consumer)
            if delivery is not None:
                return delivery
        return None

    def wait(self, consumer: Consumer) -> simpy.Event:
        """An event that fires when one of the consumer's partitions has a record to read."""
        wake = self.world.env.event()
        consumer.idle.append(wake)
        return wake

    def _on_append(self, base: int, partition: int, offset: int, event_id: int) -> None:
        if not self.active:
            return
        tp = base + partition
        if self.stage[tp] == 0:
            wanted = self._wanted
            if wanted is None or self.world.records.events.event_type[event_id] in wanted:
                self.routed.append(event_id)
        if not self.queued[tp] and not self.busy[tp] and not self.paused[tp]:
            owner = self.owner[tp]
            if owner is not None:
                owner.offer(tp)

    def _fetch(self, tp: int, consumer: Consumer) -> Delivery[PartitionPlace] | None:
        topic, partition = self.partitions[tp]
        position = self.position[tp]
        end = topic.log_end_offset(partition)
        now = self.world.env.now
        if position < end and topic.appended_at(partition, position) < now - topic.retention:
            position = self._expire(tp, position, topic.log_start_offset(partition, now), consumer)
        if self.stage[tp]:
            return self._fetch_retry(tp, position, end, consumer)
        wanted = self._wanted
        event_types = self.world.records.events.event_type
        while position < end:
            event_id = topic.event_at(partition, position)
            position += 1
            if wanted is None or event_types[event_id] in wanted:
                return self._hand_out(tp, position, event_id, event_id, consumer)
            self._mark_done(tp, position)
            self.high_water[tp] = max(self.high_water[tp], position)
        self.position[tp] = position
        return None

    def _fetch_retry(
        self, tp: int, position: int, end: int, consumer: Consumer
    ) -> Delivery[PartitionPlace] | None:
        if position >= end:
            return None
        topic, partition = self.partitions[tp]
        record_id = topic.event_at(partition, position)
        events = self.world.records.events
        due = events.published_at[record_id] + self._backoff.nominal(self.stage[tp] - 1)
        if due > self.world.env.now:  # pause the partition until its head is due
            self.paused[tp] = True
            wake = self.world.env.timeout(due - self.world.env.now)
            wake.callbacks.append(lambda _: self._resume(tp))
            return None
        return self._hand_out(tp, position + 1, events.original[record_id], record_id, consumer)

    def _resume(self, tp: int) -> None:
        self.paused[tp] = False
        self.release(tp)

    def _hand_out(
        self, tp: int, position: int, event_id: int, record_id: int, consumer: Consumer
    ) -> Delivery[PartitionPlace]:
        self.position[tp] = position
        if not self._after:
            self.committed[tp] = position
        self.busy[tp] = True
        offset = position - 1
        settles = offset >= self.high_water[tp]  # below it: read again after a crash
        stage = self.stage[tp]
        # read again (after a crash, before its commit): its attempts number on
        tally = self.group.tally(event_id) if settles else self._uncommitted[tp, offset]
        self._hold(record_id)  # the consumer has the record (see evsim.records)
        delivery = Delivery(event_id, record_id, PartitionPlace(tp, offset), tally, settles, stage)
        if settles:
            if stage:
                del self.in_retry[event_id]
            self.in_flight[event_id] = consumer
        return delivery

    # --- endings ------------------------------------------------------------------------

    def complete(
        self, delivery: Delivery[PartitionPlace], result: Ending, consumer: Consumer
    ) -> None:
        """The consumer is done with a record: settle it once, commit, offer the next."""
        tp, offset = delivery.handle
        self._let_go(delivery.record_id)
        if delivery.settles:
            del self.in_flight[delivery.event_id]
            if result == RETRY_LATER:
                self._forward(delivery, tp)
            elif result == FAILED:
                self.group.give_up(delivery, consumer, self._coordinates(delivery))
            else:
                self.group.settle(delivery, PROCESSED, consumer)
            self.high_water[tp] = offset + 1
            if self._periodic:
                self._uncommitted[tp, offset] = delivery.tally
        self.busy[tp] = False
        self._mark_done(tp, offset + 1)
        if self.owner[tp] is not consumer and self._after:
            self.committed[tp] = self.done[tp]  # revoked while busy: committed on revocation
        self.release(tp)

    def abandon(self, delivery: Delivery[PartitionPlace], consumer: Consumer) -> None:
        """The consumer crashed holding ``delivery``: its work is not done."""
        tp, offset = delivery.handle
        self._let_go(delivery.record_id)
        self.busy[tp] = False
        # its uncommitted progress is lost, also when the partition has already moved to
        # another consumer (a rebalance while this one was busy): read on from the commit
        self.position[tp] = self.done[tp] = self.committed[tp]
        if delivery.settles:
            del self.in_flight[delivery.event_id]
            if not self._after:  # committed on fetch: never delivered again
                self.group.settle(delivery, LOST, consumer)
                self.high_water[tp] = offset + 1
            elif delivery.stage:  # its copy is read again from the committed offset
                self.in_retry[delivery.event_id] = None
        self.release(tp)

    def _forward(self, delivery: Delivery[PartitionPlace], tp: int) -> None:
        target = self.retry_topics[self.source[tp]][delivery.stage]
        self.in_retry[delivery.event_id] = None
        extra = {**self._coordinates(delivery), headers.RETRY_TOPIC_ATTEMPTS: delivery.attempts}
        self.group.republish(delivery, target, extra)

    def _coordinates(self, delivery: Delivery) -> dict[str, Any]:
        """Where the event was first appended (Spring's original-* headers)."""
        topic = self.topics[self.source[delivery.handle.tp]].name
        events, record = self.world.records.events, delivery.record_id
        return headers.original_place(events, record, topic, copy=delivery.stage > 0)

    def release(self, tp: int) -> None:
        """Offer partition ``tp`` to its owner if it has records left to read."""
        owner = self.owner[tp]
        if owner is None or self.queued[tp] or self.busy[tp] or self.paused[tp]:
            return
        topic, partition = self.partitions[tp]
        if self.position[tp] < topic.log_end_offset(partition):
            owner.offer(tp)

    def _mark_done(self, tp: int, offset: int) -> None:
        self.done[tp] = offset
        if self._at_once or not self._after:  # after each record, or at most once: on read
            self.committed[tp] = offset

    def _expire(self, tp: int, position: int, start: int, consumer: Consumer) -> int:
        events = self.world.records.events
        for offset, record_id in self._records(tp, max(position, self.high_water[tp]), start):
            if self.stage[tp]:  # a copy: the outcome is its original event's
                event_id = events.original[record_id]
                del self.in_retry[event_id]
            elif self._is_wanted(record_id):
                event_id = record_id
            else:
                continue
            self.group.settle_unheld(event_id, EXPIRED, consumer, record_id)
            self.high_water[tp] = max(self.high_water[tp], offset + 1)
        self.position[tp] = start
        self._mark_done(tp, start)
        return start

    # --- reading the state ----------------------------------------------------------------

    def lag(self, tp: int) -> int:
        """Log-end offset − committed offset of partition ``tp`` (Kafka's consumer lag)."""
        topic, partition = self.partitions[tp]
        return topic.log_end_offset(partition) - self.committed[tp]

    def unfinished(self) -> Iterator[Unfinished]:
        """(event id, outcome, consumer) of every routed event without an outcome yet,
        read from the live state: in hand, waiting in a retry topic, or not yet read."""
        for event_id, consumer in self.in_flight.items():
            yield event_id, PENDING, consumer
        for event_id in self.in_retry:
            yield event_id, PENDING, None
        if not self.active:
            return
        now = self.world.env.now
        for tp, (topic, partition) in enumerate(self.partitions):
            if self.stage[tp]:
                continue
            first = max(self.position[tp], self.high_water[tp])
            start = max(first, topic.log_start_offset(partition, now))
            end = topic.log_end_offset(partition)
            for event_id in self._wanted_ids(tp, first, start):
                yield event_id, EXPIRED, self.owner[tp]
            for event_id in self._wanted_ids(tp, start, end):
                yield event_id, PENDING, self.owner[tp]

    def _records(self, tp: int, start: int, end: int) -> Iterator[tuple[int, int]]:
        topic, partition = self.partitions[tp]
        for offset in range(start, end):
            yield offset, topic.event_at(partition, offset)

    def _is_wanted(self, event_id: int) -> bool:
        wanted = self._wanted
        return wanted is None or self.world.records.events.event_type[event_id] in wanted

    def _wanted_ids(self, tp: int, start: int, end: int) -> Iterator[int]:
        return (e for _, e in self._records(tp, start, end) if self._is_wanted(e))
