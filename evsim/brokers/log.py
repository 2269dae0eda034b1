"""The partitioned log: Kafka-like topics with partitions, offsets and retention.

Rules modelled (Apache Kafka):

* A keyed record goes to ``toPositive(murmur2(utf8(key))) % partitions``, the default
  partitioner's rule, so :meth:`Topic.partition_for` agrees with Kafka's Java client.
* A record without a key goes to the producer's current *sticky* partition, which changes
  after a batch's worth of bytes (``batch.size``, KIP-480/KIP-794).
* Offsets start at 0 in each partition and follow append order.
* A record older than ``retention`` seconds (``retention.ms``) is deleted; the log-start
  offset moves past it. Kafka deletes whole segments; deleting record by record is the
  limit of small segments.
* Publishing costs the topic's ``latency`` (seconds) before the record is appended and
  visible to consumers.
* A simulation holds at most :data:`evsim.limits.MAX_PARTITIONS` partitions over all its
  topics (Kafka's recommended maximum per cluster).

With ``record="summary"`` a topic also forgets, a chunk at a time, the records no reader
can come back to: those below the committed offset of every group reading it (and of
every group yet to join with ``offset_reset="earliest"``, and every redrive yet to run),
so memory stays flat however long the run (a group that stops reading, in an outage,
keeps what it has not read, as a real log does within its retention). Readers register
the offsets they still need with :meth:`Topic.keep_partition`; the records below the
smallest are released to the event log. A topic watched for its depth (a dead-letter
topic) keeps the append times of what it forgot, to count what retention still holds.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable
from functools import partial
from typing import Any

from evsim import limits
from evsim.brokers.configs import CLUSTER_LIMIT, TopicConfig
from evsim.brokers.partitioner import StickyPartitioner, partition_for_key
from evsim.brokers.world import World
from evsim.errors import ConfigError

Listener = Callable[[int, int, int], None]
"""Called on append with (partition, offset, event_id)."""

# summary mode looks for records to forget once a partition stores this many more than it
# kept last time, or twice as many: moving the kept records then costs O(1) per append
FORGET_EVERY = 256
NEVER = float("inf")


class Topic:
    """A partitioned, append-only log (a Kafka topic)."""

    kind = "topic"

    def __init__(self, world: World, config: TopicConfig) -> None:
        self.world = world
        self.config = config
        # read on the hot path: plain attributes, not the config's
        self.name, self.partitions = config.name, config.partitions
        self.retention = config.retention
        self.latency = config.latency_distribution
        _check_cluster(world, self.partitions)
        self.code = world.records.names.code(config.name)
        self._event_ids = [array("q") for _ in range(self.partitions)]
        self._append_times = [array("d") for _ in range(self.partitions)]
        self._base = [0] * self.partitions  # the offset of the first record still stored
        self._readers: list[list[tuple[list[int], int]]] = [[] for _ in range(self.partitions)]
        forgets = not world.records.full  # summary mode: drop what nobody will read again
        self._forget_at = [FORGET_EVERY if forgets else NEVER] * self.partitions
        self._forgotten_times: list[TimeLine] | None = None  # kept if depth is watched
        self._release = world.records.events.release
        self._listeners: list[Listener] = []
        self._key_partitions: dict[str | bytes, int] = {}
        self._sticky: dict[int, StickyPartitioner] = {}
        self._latency_sampler = world.sampler(self.latency, "topic", self.name, "latency")

    def spec(self) -> dict[str, Any]:
        """The keyword arguments that rebuild this topic."""
        return self.config.spec()

    def partition_for(self, key: str | bytes) -> int:
        """The partition Kafka's default partitioner picks for ``key`` (murmur2)."""
        partition = self._key_partitions.get(key)
        if partition is None:
            partition = self._key_partitions[key] = partition_for_key(key, self.partitions)
        return partition

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(partition, offset, event_id)`` on every append."""
        self._listeners.append(listener)

    def publish(self, event_id: int, key: str | None, producer: int, size_bytes: int) -> None:
        """Send an event; it is appended after the topic's latency."""
        if key is None:
            partition = self._sticky_for(producer).next(size_bytes)
        else:
            partition = self.partition_for(key)
        delay = self._latency_sampler()
        if delay <= 0:
            self._append(event_id, partition)
        else:
            arrival = self.world.env.timeout(delay)
            arrival.callbacks.append(partial(self._on_arrival, event_id, partition))

    def log_end_offset(self, partition: int) -> int:
        """The offset the next appended record will get."""
        return self._base[partition] + len(self._event_ids[partition])

    def log_start_offset(self, partition: int, now: float) -> int:
        """The first offset not yet deleted by retention at time ``now`` (at most the first
        record still stored: records forgotten in summary mode are read by nobody)."""
        times = self._append_times[partition]
        base = self._base[partition]
        cutoff = now - self.retention
        if not times or times[0] >= cutoff:
            return base
        return base + bisect_left(times, cutoff)

    def depth(self) -> int:
        """Records retained now, over all partitions (a dead-letter topic's depth); counts
        the forgotten ones only if :meth:`watch_depth` was called before they were."""
        now = self.world.env.now
        retained = sum(
            self.log_end_offset(p) - self.log_start_offset(p, now) for p in range(self.partitions)
        )
        if self._forgotten_times is None:
            return retained
        cutoff = now - self.retention
        return retained + sum(times.since(cutoff) for times in self._forgotten_times)

    def watch_depth(self) -> None:
        """Keep counting the records forgotten in summary mode for :meth:`depth`."""
        if self._forgotten_times is None:
            self._forgotten_times = [TimeLine() for _ in range(self.partitions)]

    def keep_partition(self, partition: int, offsets: list[int], index: int) -> None:
        """A reader needs this partition's records from ``offsets[index]`` on; the reader
        moves that offset forward in place (a group's committed offsets)."""
        self._readers[partition].append((offsets, index))

    def release_reader(self, partition: int, offsets: list[int], index: int) -> None:
        """The reader registered with ``offsets[index]`` needs nothing more."""
        readers = self._readers[partition]
        for position, (kept, kept_index) in enumerate(readers):
            # by identity: another reader's offsets may hold equal numbers (== compares lists)
            if kept is offsets and kept_index == index:
                del readers[position]
                return

    def event_at(self, partition: int, offset: int) -> int:
        """The id of the event stored at ``offset``."""
        return self._event_ids[partition][offset - self._base[partition]]

    def appended_at(self, partition: int, offset: int) -> float:
        """When the record at ``offset`` was appended (seconds)."""
        return self._append_times[partition][offset - self._base[partition]]

    def _sticky_for(self, producer: int) -> StickyPartitioner:
        sticky = self._sticky.get(producer)
        if sticky is None:
            producer_name = self.world.records.names.names[producer]
            rng = self.world.streams.generator("producer", producer_name, "sticky", self.name)
            sticky = self._sticky[producer] = StickyPartitioner(self.partitions, rng)
        return sticky

    def _on_arrival(self, event_id: int, partition: int, _event: object) -> None:
        self._append(event_id, partition)

    def _append(self, event_id: int, partition: int) -> None:
        now = self.world.env.now
        event_ids = self._event_ids[partition]
        offset = self._base[partition] + len(event_ids)
        event_ids.append(event_id)
        self._append_times[partition].append(now)
        self.world.records.events.place(event_id, partition, offset, now)
        for listener in self._listeners:
            listener(partition, offset, event_id)
        if len(event_ids) >= self._forget_at[partition]:
            self._forget(partition)

    def _forget(self, partition: int) -> None:
        """Drop the stored records below every reader's offset, releasing their events
        (each record holds its event from its publish on: the sender's hold)."""
        readers = self._readers[partition]
        ids, times = self._event_ids[partition], self._append_times[partition]
        base = self._base[partition]
        upto = min((offsets[i] for offsets, i in readers), default=base + len(ids))
        count = upto - base
        if count > 0:
            release = self._release
            for event_id in ids[:count]:
                release(event_id)
            if self._forgotten_times is not None:
                self._forgotten_times[partition].extend(times[:count])
            del ids[:count], times[:count]
            self._base[partition] = upto
        self._forget_at[partition] = len(ids) + max(FORGET_EVERY, len(ids))


def _check_cluster(world: World, partitions: int) -> None:
    """Refuse partitions past MAX_PARTITIONS, in this topic or in all of the world's."""
    total = partitions + sum(b.partitions for b in world.brokers.values() if isinstance(b, Topic))
    if total > limits.MAX_PARTITIONS:
        raise ConfigError(
            f"partitions: {partitions:,} more would make {total:,} partitions in the "
            f"simulation's topics (retry topics included), over {limits.MAX_PARTITIONS:,} "
            f"({CLUSTER_LIMIT}; to allow more, raise evsim.limits.MAX_PARTITIONS)"
        )


class TimeLine:
    """Non-decreasing times (seconds) in an array, 8 bytes each, dropped from the front."""

    __slots__ = ("_head", "_times")

    def __init__(self) -> None:
        self._times = array("d")
        self._head = 0  # times before it are dropped

    def extend(self, times: array) -> None:
        """Append ``times`` (none earlier than the last one held)."""
        self._times.extend(times)

    def since(self, cutoff: float) -> int:
        """Drop the times before ``cutoff``; how many are left."""
        times = self._times
        self._head = bisect_left(times, cutoff, self._head)
        if self._head > len(times) // 2:  # compact: moving the rest costs O(1) per time
            del times[: self._head]
            self._head = 0
        return len(times) - self._head
