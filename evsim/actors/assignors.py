"""Kafka's consumer-group partition assignors: range, round robin and sticky.

When a consumer group rebalances, one member computes which consumer reads which
topic-partition; within a group each partition has exactly one consumer. Kafka ships three
classic strategies (``partition.assignment.strategy``), reproduced here for the case evsim
models, where every consumer of a group subscribes to the same topics:

* ``"range"``: ``org.apache.kafka.clients.consumer.RangeAssignor``
* ``"roundrobin"``: ``org.apache.kafka.clients.consumer.RoundRobinAssignor``
* ``"sticky"``: ``org.apache.kafka.clients.consumer.StickyAssignor`` (the algorithm lives in
  ``org.apache.kafka.clients.consumer.internals.AbstractStickyAssignor``)

Kafka orders consumers by member id; evsim uses the consumer's name instead, in natural
order (``g-2`` before ``g-10``), so results are reproducible and the consumers a group has
beyond its partitions are the last ones, idle: adding them changes nothing. A partition is
a ``(topic, partition)`` tuple.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from collections.abc import Mapping, Sequence

from evsim import _check
from evsim.errors import ConfigError, ConfigTypeError

__all__ = ["STRATEGIES", "TopicPartition", "assign"]

TopicPartition = tuple[str, int]

#: the values ``assignment=`` accepts, as Kafka names the assignors
STRATEGIES: tuple[str, ...] = ("range", "roundrobin", "sticky")
_DIGITS = re.compile(r"(\d+)")


def assign(
    strategy: str,
    consumers: Sequence[str],
    topics: Mapping[str, int],
    previous: Mapping[str, Sequence[TopicPartition]] | None = None,
) -> dict[str, list[TopicPartition]]:
    """Assign every partition of ``topics`` to exactly one of ``consumers``.

    ``topics`` maps a topic name to its partition count; all consumers subscribe to all of
    them. ``previous`` (used by ``"sticky"`` only; the other two are stateless, as in Kafka)
    is the assignment before this rebalance, as returned by an earlier call: entries of
    consumers that have left, and partitions that no longer exist, are ignored.

    Every consumer is a key of the result, possibly with ``[]`` (more consumers than
    partitions: the extra consumers sit idle). Lists are sorted by ``(topic, partition)``
    for ``"range"`` and ``"roundrobin"``; ``"sticky"`` lists keep the partitions a consumer
    kept first, in their previous order, then the ones it gained, as in Kafka's javadoc.
    With no consumers the result is ``{}`` (nothing can read the partitions).
    """
    _check.choice("assignment", strategy, STRATEGIES)
    members = _members(consumers)
    partitions = _partitions(topics)
    if not members:
        return {}
    if strategy == "range":
        return _range(members, topics)
    if strategy == "roundrobin":
        return _roundrobin(members, partitions)
    return _sticky(members, partitions, _previous(previous))


def _members(consumers: Sequence[str]) -> list[str]:
    if isinstance(consumers, str) or not isinstance(consumers, Sequence):
        raise ConfigTypeError(f"consumers: expected a list of names, got {consumers!r}")
    members = [_check.name("consumers", c) for c in consumers]
    duplicates = sorted(c for c, n in Counter(members).items() if n > 1)
    if duplicates:
        raise ConfigError(f"consumers: names must be unique, repeated: {duplicates!r}")
    return sorted(members, key=natural_order)


def natural_order(name: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key reading the runs of digits in ``name`` as numbers: g-2 before g-10."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in _DIGITS.split(name) if part
    )


def _partitions(topics: Mapping[str, int]) -> list[TopicPartition]:
    """All partitions, sorted by (topic, partition); validates the partition counts."""
    if not isinstance(topics, Mapping):
        raise ConfigTypeError(f"topics: expected a mapping of topic to partitions, got {topics!r}")
    result: list[TopicPartition] = []
    for topic in sorted(topics):
        _check.name("topics", topic)
        count = _check.integer(f"topics[{topic!r}]", topics[topic], minimum=1)
        result.extend((topic, p) for p in range(count))
    return result


def _previous(
    previous: Mapping[str, Sequence[TopicPartition]] | None,
) -> dict[str, list[TopicPartition]]:
    if previous is None:
        return {}
    if not isinstance(previous, Mapping):
        raise ConfigTypeError(
            f"previous: expected a mapping of consumer to partitions, got {previous!r}"
        )
    result: dict[str, list[TopicPartition]] = {}
    for consumer, owned in previous.items():
        parts: list[TopicPartition] = []
        for tp in owned:
            if (
                not isinstance(tp, tuple | list)
                or len(tp) != 2
                or not isinstance(tp[0], str)
                or isinstance(tp[1], bool)
                or not isinstance(tp[1], int)
            ):
                raise ConfigTypeError(
                    f"previous[{consumer!r}]: expected (topic, partition) pairs, got {tp!r}"
                )
            parts.append((tp[0], tp[1]))
        result[consumer] = parts
    return result


def _range(members: list[str], topics: Mapping[str, int]) -> dict[str, list[TopicPartition]]:
    """``RangeAssignor``: per topic, contiguous ranges; the first ``P % C`` get one extra.

    Kafka's rule, topic by topic: ``numPartitionsPerConsumer = P / C`` and
    ``consumersWithExtraPartition = P % C``; consumer ``i`` (in sorted order) takes
    ``partitions[start, start + length)`` with ``start = n * i + min(i, extra)`` and
    ``length = n + (i + 1 > extra ? 0 : 1)``. Javadoc example: C0, C1 and topics t0, t1 of
    3 partitions each give C0 [t0p0, t0p1, t1p0, t1p1] and C1 [t0p2, t1p2]. Because each
    topic is split on its own, the first consumers collect one extra partition per topic.
    """
    result: dict[str, list[TopicPartition]] = {c: [] for c in members}
    n_members = len(members)
    for topic in sorted(topics):
        count = topics[topic]
        per, extra = divmod(count, n_members)
        for i, consumer in enumerate(members):
            start = per * i + min(i, extra)
            length = per + (1 if i < extra else 0)
            result[consumer].extend((topic, p) for p in range(start, start + length))
    return result


def _roundrobin(
    members: list[str], partitions: list[TopicPartition]
) -> dict[str, list[TopicPartition]]:
    """``RoundRobinAssignor``: all partitions sorted, dealt to the sorted consumers in turn.

    Kafka walks ``allPartitionsSorted`` (topics in sorted order, partitions ascending) and
    hands each to the next consumer of a ``CircularIterator`` over the sorted member ids.
    Javadoc example: C0, C1 and topics t0, t1 of 3 partitions each give
    C0 [t0p0, t0p2, t1p1] and C1 [t0p1, t1p0, t1p2]. Counts differ by at most one.
    """
    result: dict[str, list[TopicPartition]] = {c: [] for c in members}
    n_members = len(members)
    for i, tp in enumerate(partitions):
        result[members[i % n_members]].append(tp)
    return result


def _sticky(
    members: list[str],
    partitions: list[TopicPartition],
    previous: dict[str, list[TopicPartition]],
) -> dict[str, list[TopicPartition]]:
    """``StickyAssignor``: balanced first, then keep as much of ``previous`` as possible.

    Follows ``AbstractStickyAssignor.constrainedAssign``, the algorithm Kafka uses when all
    members have the same subscription. With ``P`` partitions and ``C`` consumers,
    ``minQuota = floor(P / C)``, ``maxQuota = ceil(P / C)`` and exactly ``P % C`` consumers
    end with ``maxQuota``. Step 1 (Kafka's rule, consumers in name order): a consumer that
    owned fewer than ``minQuota`` still-existing partitions keeps them all; one that owned
    ``maxQuota`` or more keeps its first ``maxQuota`` while fewer than ``P % C`` consumers
    have been allowed that many; any other keeps its first ``minQuota``. Partitions claimed
    by two present consumers are kept by neither (Kafka's ``partitionsWithMultiplePreviousOwners``).

    Step 2 hands out the remaining partitions in ``(topic, partition)`` order, each to the
    consumer with the fewest partitions (ties: name order), which is how the javadoc's
    worked example comes out: C0 [t0p0, t1p1, t3p0], C1 [t0p1, t2p0, t3p1], C2 [t1p0, t2p1];
    after C1 leaves, C0 [t0p0, t1p1, t3p0, t2p0] and C2 [t1p0, t2p1, t0p1, t3p1]. (Kafka's
    current ``constrainedAssign`` instead deals the remaining partitions round-robin over the
    under-quota consumers, which for that example gives t0p1 to C0 and t2p0 to C2: the same
    counts and the same kept partitions, a different home for some moved ones.) With no
    ``previous`` the result equals round robin, as the javadoc says. The rack-aware variant
    and the general algorithm for differing subscriptions are not modelled.
    """
    n_partitions = len(partitions)
    n_members = len(members)
    min_quota, n_over = divmod(n_partitions, n_members)
    max_quota = min_quota + (1 if n_over else 0)
    existing = set(partitions)

    owned: dict[str, list[TopicPartition]] = {}
    claims: Counter[TopicPartition] = Counter()
    for consumer in members:
        mine = list(dict.fromkeys(tp for tp in previous.get(consumer, ()) if tp in existing))
        owned[consumer] = mine
        claims.update(mine)

    result: dict[str, list[TopicPartition]] = {}
    taken: set[TopicPartition] = set()
    over = 0
    for consumer in members:
        mine = [tp for tp in owned[consumer] if claims[tp] == 1]
        if len(mine) < min_quota:
            keep = mine
        elif len(mine) >= max_quota and over < n_over:
            keep = mine[:max_quota]
            over += 1
        else:
            keep = mine[:min_quota]
        result[consumer] = keep
        taken.update(keep)

    heap = [(len(result[c]), rank, c) for rank, c in enumerate(members)]  # ties: name order
    heapq.heapify(heap)
    for tp in partitions:
        if tp in taken:
            continue
        count, rank, consumer = heap[0]
        result[consumer].append(tp)
        heapq.heapreplace(heap, (count + 1, rank, consumer))
    return result
