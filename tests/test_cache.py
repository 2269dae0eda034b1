"""Caches (``sim.cache``): hits and misses by key and TTL, eviction, and flushes."""

from __future__ import annotations

import pytest

import evsim as ev


def cached(keys, *, ttl=10.0, capacity=100, eviction="lru", faults=None, until=30.0, rate=20):
    sim = ev.Simulation(seed=1)
    sim.service("db", workers=4, service_time=0.05)
    cache = sim.cache("cache", "db", ttl=ttl, capacity=capacity, eviction=eviction,
                      faults=faults)  # fmt: skip
    sim.client("web", "cache", ev.Periodic(interval=1 / rate), keys=keys)
    result = sim.run(until=until)
    result.check()
    return result, cache


def test_a_hit_answers_at_hit_time_and_a_miss_asks_the_target():
    result, cache = cached(ev.UniformKeys(5))
    requests = result.requests.dropna(subset=["latency"])
    assert set(requests["latency"].round(6)) == {0.0005, 0.05}
    db_calls = result.calls[result.calls["callee"] == "db"]
    # 5 keys, a 10 s TTL, 30 s: each key is fetched about 3 times
    assert len(db_calls) == cache.misses and 10 <= cache.misses <= 20
    assert cache.hit_ratio > 0.95


def test_hit_ratio_follows_the_key_distribution_and_the_capacity():
    _, small = cached(ev.ZipfKeys(1000, s=1.2), capacity=10)
    _, large = cached(ev.ZipfKeys(1000, s=1.2), capacity=1000)
    _, uniform = cached(ev.UniformKeys(1000), capacity=10)
    assert uniform.hit_ratio < small.hit_ratio < large.hit_ratio


def test_lru_keeps_a_hot_key_that_fifo_evicts():
    keys = ev.ZipfKeys(200, s=1.5)
    _, lru = cached(keys, capacity=5, eviction="lru", ttl=1000)
    _, fifo = cached(keys, capacity=5, eviction="fifo", ttl=1000)
    assert lru.hit_ratio > fifo.hit_ratio


def test_a_flush_sends_every_key_to_the_backend_again():
    result, cache = cached(ev.UniformKeys(5), ttl=1000, faults=[ev.CacheFlush(at=15.0)])
    db = result.calls[result.calls["callee"] == "db"]
    assert len(db[db["started_at"] < 15]) == 5 and len(db[db["started_at"] >= 15]) == 5
    assert len(cache.entries) == 5


def test_bad_cache_settings_are_named():
    sim = ev.Simulation(seed=1)
    with pytest.raises(ev.ConfigError, match=r"^ttl: must be > 0"):
        sim.cache("c", "db", ttl=0, capacity=10)
    with pytest.raises(ev.ConfigError, match=r"^eviction: expected one of"):
        sim.cache("c", "db", ttl=1, capacity=10, eviction="random")
    with pytest.raises(ev.ConfigTypeError, match=r"^faults\[0\]: a cache takes ev.CacheFlush"):
        sim.cache("c", "db", ttl=1, capacity=10, faults=[ev.Outage(1, 2)])
    assert "c" not in sim.caches
