"""Kafka's consumer-group assignors, checked against the examples in Kafka's javadocs."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evsim.actors.assignors import STRATEGIES, TopicPartition, assign
from evsim.errors import ConfigError, ConfigTypeError


def tps(*names: str) -> list[TopicPartition]:
    """``tps("t0p1", "t2p0")`` -> ``[("t0", 1), ("t2", 0)]``, the javadocs' notation."""
    result = []
    for name in names:
        topic, partition = name.split("p")
        result.append((topic, int(partition)))
    return result


TWO_TOPICS_OF_3 = {"t0": 3, "t1": 3}
FOUR_TOPICS_OF_2 = {"t0": 2, "t1": 2, "t2": 2, "t3": 2}


def test_range_javadoc_example() -> None:
    # RangeAssignor javadoc: C0, C1; t0 and t1 with 3 partitions each.
    assert assign("range", ["C0", "C1"], TWO_TOPICS_OF_3) == {
        "C0": tps("t0p0", "t0p1", "t1p0", "t1p1"),
        "C1": tps("t0p2", "t1p2"),
    }


def test_roundrobin_javadoc_example() -> None:
    # RoundRobinAssignor javadoc: same group and topics.
    assert assign("roundrobin", ["C0", "C1"], TWO_TOPICS_OF_3) == {
        "C0": tps("t0p0", "t0p2", "t1p1"),
        "C1": tps("t0p1", "t1p0", "t1p2"),
    }


def test_sticky_javadoc_example_1() -> None:
    # StickyAssignor javadoc, example 1: initial assignment (same as round robin) ...
    initial = assign("sticky", ["C0", "C1", "C2"], FOUR_TOPICS_OF_2)
    assert initial == {
        "C0": tps("t0p0", "t1p1", "t3p0"),
        "C1": tps("t0p1", "t2p0", "t3p1"),
        "C2": tps("t1p0", "t2p1"),
    }
    assert initial == assign("roundrobin", ["C0", "C1", "C2"], FOUR_TOPICS_OF_2)
    # ... then C1 leaves: sticky keeps every previous assignment ...
    after = assign("sticky", ["C0", "C2"], FOUR_TOPICS_OF_2, previous=initial)
    assert after == {
        "C0": tps("t0p0", "t1p1", "t3p0", "t2p0"),
        "C2": tps("t1p0", "t2p1", "t0p1", "t3p1"),
    }
    # ... where round robin moves partitions around.
    assert assign("roundrobin", ["C0", "C2"], FOUR_TOPICS_OF_2) == {
        "C0": tps("t0p0", "t1p0", "t2p0", "t3p0"),
        "C2": tps("t0p1", "t1p1", "t2p1", "t3p1"),
    }


def test_consumer_order_is_by_name_not_by_argument_order() -> None:
    for strategy in STRATEGIES:
        a = assign(strategy, ["C1", "C0"], TWO_TOPICS_OF_3)
        b = assign(strategy, ["C0", "C1"], TWO_TOPICS_OF_3)
        assert a == b


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_more_consumers_than_partitions_leaves_extras_idle(strategy: str) -> None:
    consumers = ["a", "b", "c", "d", "e"]
    result = assign(strategy, consumers, {"orders": 3})
    assert list(result) == consumers
    assert result["a"] == [("orders", 0)]
    assert result["b"] == [("orders", 1)]
    assert result["c"] == [("orders", 2)]
    assert result["d"] == []
    assert result["e"] == []


def test_range_gives_the_first_consumers_one_extra_per_topic() -> None:
    result = assign("range", ["a", "b", "c"], {"x": 4, "y": 4})
    assert result == {
        "a": tps("xp0", "xp1", "yp0", "yp1"),
        "b": tps("xp2", "yp2"),
        "c": tps("xp3", "yp3"),
    }


def test_sticky_new_consumer_takes_from_the_largest() -> None:
    before = assign("sticky", ["C0", "C1"], {"t": 6})
    assert before == {"C0": tps("tp0", "tp2", "tp4"), "C1": tps("tp1", "tp3", "tp5")}
    after = assign("sticky", ["C0", "C1", "C2"], {"t": 6}, previous=before)
    assert after == {"C0": tps("tp0", "tp2"), "C1": tps("tp1", "tp3"), "C2": tps("tp4", "tp5")}


def test_sticky_frees_partitions_of_deleted_topics_and_shrunk_counts() -> None:
    previous = {"C0": tps("gonep0", "tp3", "tp0"), "C1": tps("tp1", "tp2")}
    result = assign("sticky", ["C0", "C1"], {"t": 3}, previous=previous)
    assert result == {"C0": tps("tp0"), "C1": tps("tp1", "tp2")}


def test_sticky_partition_claimed_twice_is_kept_by_neither() -> None:
    # AbstractStickyAssignor drops partitions claimed by several members of a generation.
    previous = {"C0": tps("tp0", "tp1"), "C1": tps("tp1", "tp2")}
    result = assign("sticky", ["C0", "C1"], {"t": 4}, previous=previous)
    assert result == {"C0": tps("tp0", "tp1"), "C1": tps("tp2", "tp3")}


def test_sticky_accepts_lists_as_pairs() -> None:
    previous = {"C0": [["t", 1]], "C1": [["t", 0]]}
    result = assign("sticky", ["C0", "C1"], {"t": 2}, previous=previous)  # type: ignore[arg-type]
    assert result == {"C0": [("t", 1)], "C1": [("t", 0)]}


def test_no_consumers_gives_empty_assignment() -> None:
    assert assign("range", [], {"t": 3}) == {}


def test_bad_strategy_names_assignment() -> None:
    with pytest.raises(ConfigError, match="assignment"):
        assign("cooperative-sticky", ["C0"], {"t": 1})


def test_bad_inputs() -> None:
    with pytest.raises(ConfigError, match="consumers"):
        assign("range", ["a", "a"], {"t": 1})
    with pytest.raises(ConfigTypeError, match="consumers"):
        assign("range", "abc", {"t": 1})
    with pytest.raises(ConfigError, match="topics"):
        assign("range", ["a"], {"t": 0})
    with pytest.raises(ConfigTypeError, match="previous"):
        assign("sticky", ["a"], {"t": 1}, previous={"a": ["t0"]})  # type: ignore[dict-item]


# --- properties ----------------------------------------------------------------------------


consumer_counts = st.integers(min_value=1, max_value=9)
topic_maps = st.dictionaries(
    st.sampled_from(["a", "b", "orders", "payments", "z"]),
    st.integers(min_value=1, max_value=12),
    min_size=1,
    max_size=4,
)


def _names(n: int) -> list[str]:
    return [f"c{i}" for i in range(n)]


def _all_partitions(topics: dict[str, int]) -> list[TopicPartition]:
    return sorted((t, p) for t, n in topics.items() for p in range(n))


def _check_complete(result: dict[str, list[TopicPartition]], consumers: list[str], topics) -> None:
    assert sorted(result) == sorted(consumers)
    assigned = [tp for parts in result.values() for tp in parts]
    assert Counter(assigned) == Counter(_all_partitions(topics))  # each exactly once


@given(consumer_counts, topic_maps)
def test_every_strategy_assigns_each_partition_exactly_once(n: int, topics) -> None:
    consumers = _names(n)
    for strategy in STRATEGIES:
        result = assign(strategy, consumers, topics)
        _check_complete(result, consumers, topics)
        if strategy in ("roundrobin", "sticky"):
            counts = [len(parts) for parts in result.values()]
            assert max(counts) - min(counts) <= 1
        if strategy in ("range", "roundrobin"):
            assert all(parts == sorted(parts) for parts in result.values())
        if strategy == "range":
            for topic in topics:
                per_topic = [sum(tp[0] == topic for tp in parts) for parts in result.values()]
                assert max(per_topic) - min(per_topic) <= 1


@st.composite
def sticky_rebalances(draw):
    topics = draw(topic_maps)
    n = draw(consumer_counts)
    consumers = _names(n)
    pool = [*consumers, "gone1", "gone2"]  # members that have left the group
    previous: dict[str, list[TopicPartition]] = {}
    owners = st.none() | st.sampled_from(pool)
    candidates = [*_all_partitions(topics), ("deleted", 0), (next(iter(topics)), 99)]
    for tp in draw(st.permutations(candidates)):
        owner = draw(owners)
        if owner is not None:
            previous.setdefault(owner, []).append(tp)
    return consumers, topics, previous


@given(sticky_rebalances())
def test_sticky_keeps_what_it_can_and_stays_balanced(case) -> None:
    consumers, topics, previous = case
    result = assign("sticky", consumers, topics, previous=previous)
    _check_complete(result, consumers, topics)
    counts = [len(parts) for parts in result.values()]
    assert max(counts) - min(counts) <= 1

    existing = set(_all_partitions(topics))
    min_quota = len(existing) // len(consumers)
    for consumer in consumers:
        owned = [tp for tp in previous.get(consumer, []) if tp in existing]
        kept = [tp for tp in result[consumer] if tp in owned]
        if len(owned) <= min_quota:  # not over quota: keeps every partition it owned
            assert kept == owned
            assert result[consumer][: len(owned)] == owned  # kept ones first, in order
        else:
            assert len(kept) >= min_quota

    # a second rebalance with nothing changed moves nothing
    assert assign("sticky", consumers, topics, previous=result) == result
