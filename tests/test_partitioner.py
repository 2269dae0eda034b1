"""Kafka's partitioners: murmur2 for keyed records, sticky partitioning for null keys."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from evsim.brokers.partitioner import StickyPartitioner, murmur2, partition_for_key, to_positive
from evsim.errors import ConfigError, ConfigTypeError

# org.apache.kafka.common.utils.UtilsTest.testMurmur2, all cases as Kafka lists them.
KAFKA_MURMUR2_VECTORS = [
    (b"21", -973932308),
    (b"foobar", -790332482),
    (b"a-little-bit-long-string", -985981536),
    (b"a-little-bit-longer-string", -1486304829),
    (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    (bytes([ord("a"), ord("b"), ord("c")]), 479470107),
]


@pytest.mark.parametrize(("data", "expected"), KAFKA_MURMUR2_VECTORS)
def test_murmur2_matches_kafka_test_vectors(data: bytes, expected: int) -> None:
    assert murmur2(data) == expected


def _int32(x: int) -> int:
    x &= 0xFFFFFFFF
    return x - (1 << 32) if x >= 1 << 31 else x


def _java_murmur2(data: bytes) -> int:
    """A line-by-line port of Utils.murmur2 on signed Java ints (slow, for comparison)."""
    signed = [b - 256 if b > 127 else b for b in data]  # Java bytes are signed
    length = len(signed)
    m, r = 0x5BD1E995, 24
    h = _int32(_int32(0x9747B28C) ^ length)

    def ushr(x: int, n: int) -> int:  # Java >>>
        return (x & 0xFFFFFFFF) >> n

    for i in range(length // 4):
        i4 = i * 4
        k = _int32(
            (signed[i4] & 0xFF)
            + ((signed[i4 + 1] & 0xFF) << 8)
            + ((signed[i4 + 2] & 0xFF) << 16)
            + ((signed[i4 + 3] & 0xFF) << 24)
        )
        k = _int32(k * m)
        k = _int32(k ^ ushr(k, r))
        k = _int32(k * m)
        h = _int32(h * m)
        h = _int32(h ^ k)
    rest = length % 4
    if rest == 3:
        h = _int32(h ^ ((signed[(length & ~3) + 2] & 0xFF) << 16))
    if rest >= 2:
        h = _int32(h ^ ((signed[(length & ~3) + 1] & 0xFF) << 8))
    if rest >= 1:
        h = _int32(h ^ (signed[length & ~3] & 0xFF))
        h = _int32(h * m)
    h = _int32(h ^ ushr(h, 13))
    h = _int32(h * m)
    h = _int32(h ^ ushr(h, 15))
    return h


def test_reference_port_agrees_with_kafka_vectors() -> None:
    for data, expected in KAFKA_MURMUR2_VECTORS:
        assert _java_murmur2(data) == expected


@given(st.binary(max_size=64))
def test_murmur2_matches_literal_java_port(data: bytes) -> None:
    result = murmur2(data)
    assert result == _java_murmur2(data)
    assert -(2**31) <= result < 2**31


def test_to_positive() -> None:
    assert to_positive(0) == 0
    assert to_positive(5) == 5
    assert to_positive(2**31 - 1) == 2**31 - 1
    assert to_positive(-1) == 2**31 - 1
    assert to_positive(-(2**31)) == 0  # Integer.MIN_VALUE: abs() would overflow, this does not
    assert to_positive(-973932308) == -973932308 + 2**31


@pytest.mark.parametrize(("data", "hashed"), KAFKA_MURMUR2_VECTORS)
@pytest.mark.parametrize("partitions", [1, 3, 6, 7, 12, 100])
def test_partition_for_key_is_kafkas_formula(data: bytes, hashed: int, partitions: int) -> None:
    expected = (hashed & 0x7FFFFFFF) % partitions
    assert partition_for_key(data, partitions) == expected
    assert partition_for_key(data.decode("ascii"), partitions) == expected


def test_partition_for_key_known_values() -> None:
    # "21" hashes to -973932308 -> toPositive = 1173551340; 1173551340 % 6 == 0
    assert partition_for_key("21", 6) == 1173551340 % 6
    assert partition_for_key("foobar", 10) == (-790332482 & 0x7FFFFFFF) % 10
    assert partition_for_key("abc", 4) == 479470107 % 4


@pytest.mark.parametrize("key", ["cust-42", "", "é", "ключ-7", "订单-123", "emoji-🙂"])
def test_str_key_hashes_as_its_utf8_bytes(key: str) -> None:
    raw = key.encode("utf-8")
    for partitions in (1, 2, 6, 50):
        assert partition_for_key(key, partitions) == partition_for_key(raw, partitions)
        assert partition_for_key(key, partitions) == to_positive(murmur2(raw)) % partitions


def test_non_ascii_key_is_not_latin1_encoded() -> None:
    key = "é"  # 2 bytes in UTF-8, 1 in Latin-1: the hashes differ
    assert murmur2(key.encode("utf-8")) != murmur2(key.encode("latin-1"))


@pytest.mark.parametrize("partitions", [0, -3])
def test_partition_for_key_rejects_bad_partitions(partitions: int) -> None:
    with pytest.raises(ConfigError, match="partitions"):
        partition_for_key("k", partitions)


def test_partition_for_key_rejects_non_integer_partitions() -> None:
    with pytest.raises(ConfigTypeError, match="partitions"):
        partition_for_key("k", 2.0)  # type: ignore[arg-type]


# --- sticky partitioner (BuiltInPartitioner, null keys) -----------------------------------


def _runs(partitions: list[int]) -> list[tuple[int, int]]:
    """(partition, run length) of consecutive equal values."""
    runs: list[tuple[int, int]] = []
    for p in partitions:
        if runs and runs[-1][0] == p:
            runs[-1] = (p, runs[-1][1] + 1)
        else:
            runs.append((p, 1))
    return runs


def test_sticky_stays_for_a_batch_then_switches() -> None:
    sticky = StickyPartitioner(1000, np.random.default_rng(7), batch_size=1000)
    # 100-byte records: the 10th record brings the partition to 1000 bytes (>= batch_size),
    # so each sticky partition gets exactly 10 records; with 1000 partitions a redraw of the
    # same partition is unlikely, so runs show up as blocks of 10.
    got = [sticky.next(100) for _ in range(200)]
    for i in range(0, 200, 10):
        assert len(set(got[i : i + 10])) == 1
    assert len(set(got)) > 15


def test_sticky_switch_happens_after_the_record_that_reaches_batch_size() -> None:
    sticky = StickyPartitioner(10_000, np.random.default_rng(3), batch_size=16384)
    first = sticky.next(16383)
    assert sticky.next(1) == first  # 16384 bytes reached with this record
    assert sticky.current != first  # next record moves (10k partitions: a repeat is unlikely)
    one_big = sticky.next(50_000)  # a record bigger than a batch fills it alone
    assert sticky.next(10) != one_big


def test_sticky_can_draw_the_same_partition_again() -> None:
    # BuiltInPartitioner.nextPartition draws uniformly over all partitions, including the
    # current one (unlike the older StickyPartitionCache): with 2 partitions and one switch
    # per record, about half the switches land on the same partition.
    sticky = StickyPartitioner(2, np.random.default_rng(11), batch_size=1)
    got = [sticky.next(1) for _ in range(2000)]
    repeats = sum(a == b for a, b in itertools.pairwise(got))
    assert 800 < repeats < 1200


def test_sticky_spreads_over_all_partitions() -> None:
    partitions, batches = 6, 3000
    sticky = StickyPartitioner(partitions, np.random.default_rng(2024), batch_size=1000)
    counts = np.bincount([sticky.next(250) for _ in range(4 * batches)], minlength=partitions)
    share = counts / counts.sum()
    # each batch goes to one partition: the shares are those of `batches` fair draws
    p = 1 / partitions
    assert (abs(share - p) <= 5 * math.sqrt(p * (1 - p) / batches)).all()


def test_sticky_single_partition() -> None:
    sticky = StickyPartitioner(1, np.random.default_rng(0), batch_size=10)
    assert {sticky.next(7) for _ in range(100)} == {0}


def test_sticky_is_deterministic_with_a_seeded_generator() -> None:
    def run(seed: int) -> list[int]:
        sticky = StickyPartitioner(12, np.random.default_rng(seed))
        return [sticky.next(512) for _ in range(5000)]

    assert run(42) == run(42)
    assert run(42) != run(43)


def test_sticky_default_batch_size_is_kafkas_batch_size() -> None:
    sticky = StickyPartitioner(10_000, np.random.default_rng(5))
    assert sticky.batch_size == 16384
    got = [sticky.next(1024) for _ in range(64)]  # 16 records of 1 KiB fill 16384 bytes
    assert [length for _, length in _runs(got)] == [16, 16, 16, 16]


@pytest.mark.parametrize("partitions", [0, -1])
def test_sticky_rejects_bad_partitions(partitions: int) -> None:
    with pytest.raises(ConfigError, match="partitions"):
        StickyPartitioner(partitions, np.random.default_rng(0))


def test_sticky_rejects_bad_batch_size_and_rng() -> None:
    with pytest.raises(ConfigError, match="batch_size"):
        StickyPartitioner(3, np.random.default_rng(0), batch_size=0)
    with pytest.raises(ConfigTypeError, match="rng"):
        StickyPartitioner(3, 42)  # type: ignore[arg-type]
