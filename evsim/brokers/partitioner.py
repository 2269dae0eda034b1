"""Kafka's producer-side partitioning: murmur2 for keyed records, sticky for null keys.

Two rules decide which partition a Kafka producer writes a record to (Kafka 3.3+,
``org.apache.kafka.clients.producer.internals.BuiltInPartitioner``, KIP-794):

* a record with a key goes to ``toPositive(murmur2(keyBytes)) % numPartitions``
  (``BuiltInPartitioner.partitionForKey``), so every record with the same key lands on the
  same partition, which is what gives Kafka its per-key ordering;
* a record without a key goes to a "sticky" partition that changes only after a batch's
  worth of bytes has been produced to it (:class:`StickyPartitioner`).

:func:`murmur2` and :func:`to_positive` reproduce ``org.apache.kafka.common.utils.Utils.murmur2``
and ``Utils.toPositive`` bit for bit (checked against Kafka's own ``UtilsTest.testMurmur2``
vectors), so ``partition_for_key("cust-42", 6)`` is the partition a Java producer would pick.
"""

from __future__ import annotations

import struct

import numpy as np

from evsim import _check
from evsim.errors import ConfigTypeError

__all__ = ["StickyPartitioner", "murmur2", "partition_for_key", "to_positive"]

_MASK32 = 0xFFFFFFFF
_SEED = 0x9747B28C
_M = 0x5BD1E995
_R = 24


def murmur2(data: bytes) -> int:
    """Kafka's 32-bit murmur2 hash of ``data``, as the signed Java ``int`` Kafka returns.

    Models ``org.apache.kafka.common.utils.Utils.murmur2``: seed ``0x9747b28c``, mixing
    constants ``m = 0x5bd1e995`` and ``r = 24``; the input is read as little-endian 4-byte
    words, the 1-3 trailing bytes are folded in with the fall-through ``switch`` of the Java
    code, and the result gets the final avalanche ``h ^= h >>> 13; h *= m; h ^= h >>> 15``.
    Java ``int`` arithmetic wraps at 32 bits and ``>>>`` is a logical shift, so the hash is
    computed on unsigned 32-bit values and converted to a signed one at the end (e.g.
    ``murmur2(b"21") == -973932308``, as in Kafka's ``UtilsTest.testMurmur2``).
    """
    length = len(data)
    h = (_SEED ^ length) & _MASK32
    m = _M
    mask = _MASK32
    length4 = length >> 2
    if length4:
        for k in struct.unpack_from(f"<{length4}I", data):
            k = (k * m) & mask
            k ^= k >> _R
            k = (k * m) & mask
            h = ((h * m) & mask) ^ k
    tail = length & 3
    if tail:
        base = length & ~3
        if tail == 3:
            h ^= data[base + 2] << 16
        if tail >= 2:
            h ^= data[base + 1] << 8
        h ^= data[base]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h - 0x100000000 if h & 0x80000000 else h


def to_positive(n: int) -> int:
    """``n & 0x7fffffff``: Kafka's ``org.apache.kafka.common.utils.Utils.toPositive``.

    Kafka clears the sign bit rather than taking ``abs`` (``abs(Integer.MIN_VALUE)`` would
    overflow), so a negative hash maps to ``n + 2**31``, not to ``-n``.
    """
    return n & 0x7FFFFFFF


def partition_for_key(key: str | bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for a record with this key.

    Models ``BuiltInPartitioner.partitionForKey`` (and the ``DefaultPartitioner`` before
    Kafka 3.3): ``Utils.toPositive(Utils.murmur2(serializedKey)) % numPartitions``. A ``str``
    key is serialized as its UTF-8 bytes, as Kafka's ``StringSerializer`` does by default,
    so ``partition_for_key("é", n) == partition_for_key("é".encode(), n)``.

    The hash is pure Python; callers on the hot path should cache the result per key.
    """
    _check.integer("partitions", partitions, minimum=1)
    data = key.encode("utf-8") if isinstance(key, str) else key
    return (murmur2(data) & 0x7FFFFFFF) % partitions


class StickyPartitioner:
    """Kafka's sticky partitioning of records with a null key (KIP-480, then KIP-794).

    Models ``org.apache.kafka.clients.producer.internals.BuiltInPartitioner`` (Kafka 3.3+)
    with adaptive partitioning left out. Its rule, from ``updatePartitionInfo``: each
    record goes to the current sticky partition and its size is added to that partition's
    ``producedBytes``; once ``producedBytes >= stickyBatchSize`` (``batch.size``, default
    16384 bytes) the partitioner switches, so the *next* record goes to a new partition.
    The new partition comes from ``nextPartition``: without load statistics it is
    ``availablePartitions.get(random % availablePartitions.size())``, a uniform draw over all
    partitions **that may pick the current partition again**. (The older
    ``StickyPartitionCache`` of KIP-480, Kafka 2.4-3.2, looped until it drew a partition
    different from the previous one; ``BuiltInPartitioner`` dropped that rule.) The first
    partition is drawn the same way, on the first record.

    Simplified here:

    * ``partitioner.adaptive.partitioning.enable`` is ignored: Kafka weights the draw by
      the inverse of each partition's queued batches when queue sizes differ; here the
      draw is always uniform (Kafka's behaviour when all queues are equal or the option
      is off).
    * Every partition counts as available (Kafka draws only among partitions with a
      leader, and ``partitioner.availability.timeout.ms`` can exclude slow brokers).
    * The switch always happens at ``batch_size`` bytes. Kafka may postpone it while the
      current batch is not yet full (``enableSwitch`` false), up to ``2 * batch.size``
      bytes, to line partition switches up with batch boundaries.
    * ``size_bytes`` is whatever size the caller models for a record; Kafka counts the
      bytes appended to the batch (serialized key, value, headers and record overhead).

    Random partitions are drawn from ``rng`` in blocks, so a call that does not switch
    costs one addition and one comparison.
    """

    __slots__ = (
        "_draws",
        "_next",
        "_partitions",
        "_produced",
        "_rng",
        "batch_size",
        "current",
    )

    _BLOCK = 256

    def __init__(self, partitions: int, rng: np.random.Generator, batch_size: int = 16384) -> None:
        self._partitions = _check.integer("partitions", partitions, minimum=1)
        self.batch_size: int = _check.integer("batch_size", batch_size, minimum=1)
        if not isinstance(rng, np.random.Generator):
            raise ConfigTypeError(f"rng: expected a numpy.random.Generator, got {rng!r}")
        self._rng = rng
        self._draws: list[int] = []
        self._next = 0
        self._produced = 0
        #: the sticky partition the next record goes to (``None`` before the first record)
        self.current: int | None = None

    @property
    def partitions(self) -> int:
        """Number of partitions of the topic."""
        return self._partitions

    def _random_partition(self) -> int:
        """A uniform draw over all partitions (``nextPartition`` without load stats)."""
        if self._next >= len(self._draws):
            self._draws = self._rng.integers(0, self._partitions, size=self._BLOCK).tolist()
            self._next = 0
        partition = self._draws[self._next]
        self._next += 1
        return partition

    def next(self, size_bytes: int) -> int:
        """The partition for a null-key record of ``size_bytes`` bytes.

        The record goes to the current sticky partition; if the bytes produced to it reach
        ``batch_size`` with this record, the following record starts a new sticky
        partition (which may be the same one, drawn again).
        """
        partition = self.current
        if partition is None:
            partition = self.current = self._random_partition()
        produced = self._produced + size_bytes
        if produced >= self.batch_size:
            self.current = self._random_partition()
            produced = 0
        self._produced = produced
        return partition
