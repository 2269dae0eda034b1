"""A Kafka consumer group's membership: who owns which partition, and when that changes.

Rules modelled (Apache Kafka):

* A rebalance assigns the partitions to the members that are up, with the group's
  assignor; with ``commit="after"`` each member first commits what it has processed of
  the partitions it gives up (Kafka commits before revoking), and a partition that moves
  is read on from its committed offset.
* A member that joins (or is back from a crash) triggers a rebalance at once.
* A member that crashes keeps its partitions until ``session_timeout`` passes without
  heartbeats (``session.timeout.ms``, 45 s since Kafka 3.0); its uncommitted progress is
  lost (not a record a previous owner is still finishing: that one is committed when
  done). Then the group rebalances, unless it is back by then.
* A member that leaves (a consumer closed when its group is scaled in) commits what it
  has processed and sends a LeaveGroup request: the group rebalances at once, without
  waiting for the session timeout. A record it is still handling finishes in its hands;
  the partition's new owner reads on once that record is done and committed.

:class:`Membership` is the part of :class:`~evsim.actors.topic_feed.TopicFeed` that
applies these rules; the feed holds the offsets they read and write.
"""

from __future__ import annotations

from evsim.actors.assignors import assign
from evsim.actors.roles import GroupServices
from evsim.actors.roles import Member as Consumer
from evsim.brokers.log import Topic
from evsim.brokers.world import World


class Membership:
    """Assignment and rebalances of a topic feed (the feed sets the state they use)."""

    group: GroupServices
    world: World
    partitions: list[tuple[Topic, int]]
    position: list[int]  # next offset to fetch, per partition
    done: list[int]  # offset after the last record processed since a reset
    committed: list[int]
    busy: list[bool]  # a worker is handling one of its records
    queued: list[bool]  # waiting in its owner's ready list
    owner: list[Consumer | None]
    active: bool
    _after: bool  # at-least-once: commit what was processed

    def release(self, tp: int) -> None:
        """Offer partition ``tp`` to its owner if it has records left to read."""
        raise NotImplementedError

    def rebalance(self) -> None:
        """Assign the partitions to the consumers that are up, with the group's assignor."""
        group = self.group
        live = [m for m in group.members if m.up]
        if self._after:  # Kafka commits what is processed before revoking
            for member in live:
                for tp in member.owned:
                    self.committed[tp] = self.done[tp]
        labels = [(topic.name, p) for topic, p in self.partitions]
        index = {label: tp for tp, label in enumerate(labels)}
        previous = {m.name: [labels[tp] for tp in m.owned] for m in live}
        counts = {topic.name: topic.partitions for topic, _ in self.partitions}
        plan = assign(group.config.assignment, [m.name for m in live], counts, previous)
        by_name = {m.name: m for m in live}
        for member in group.members:
            member.owned = []
            member.reset_ready()
        old_owner, self.owner = self.owner, [None] * len(self.partitions)
        for name, owned in plan.items():
            member = by_name[name]
            member.owned = [index[label] for label in owned]
            for tp in member.owned:
                self.owner[tp] = member
                if old_owner[tp] is not member and not self.busy[tp]:
                    self.position[tp] = self.done[tp] = self.committed[tp]
        for tp in range(len(self.partitions)):
            self.release(tp)

    def member_down(self, consumer: Consumer) -> None:
        """A consumer crashed: its uncommitted progress is lost; rebalance after the
        session timeout unless it is back by then."""
        for tp in consumer.owned:
            self.queued[tp] = False
            # a busy partition is either in this consumer's hands (its abandon resets the
            # offsets) or still in its previous owner's, who commits that record when done
            if not self.busy[tp]:
                self.position[tp] = self.done[tp] = self.committed[tp]
        epoch = consumer.epoch
        timeout = self.world.env.timeout(self.group.config.session_timeout)
        timeout.callbacks.append(lambda _: self._session_expired(consumer, epoch))

    def member_up(self, consumer: Consumer) -> None:
        """A consumer (re)joined: rebalance now."""
        if self.active:
            self.rebalance()

    def member_left(self, consumer: Consumer) -> None:
        """A consumer left the group for good (it is down, still among the members): it
        commits what it has processed of its partitions, and the group rebalances now."""
        if self._after:
            for tp in consumer.owned:
                self.committed[tp] = self.done[tp]
        if self.active:
            self.rebalance()

    def _session_expired(self, consumer: Consumer, epoch: int) -> None:
        if not consumer.up and consumer.epoch == epoch:
            self.rebalance()
