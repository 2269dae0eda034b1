"""The request-response gauges in ``result.timeseries`` (:mod:`evsim.actors.request_gauges`)."""

from __future__ import annotations

import numpy as np
import pytest

import evsim as ev


def gauge(result, metric, entity):
    series = result.timeseries
    rows = series[(series["metric"] == metric) & (series["entity"] == entity)]
    return rows.set_index("time")["value"]


def test_in_flight_and_service_queue_follow_the_backlog():
    sim = ev.Simulation(seed=1, sample_interval=1.0)
    sim.service("api", workers=2, service_time=1.0)
    sim.client("web", "api", ev.Replay([0.5] * 6))  # six at once: 2 served, 4 waiting
    result = sim.run(until=5)
    in_flight, waiting = gauge(result, "in_flight", "api"), gauge(result, "service_queue", "api")
    assert in_flight.loc[[0.0, 1.0, 2.0, 3.0, 4.0]].tolist() == [0, 6, 4, 2, 0]
    assert waiting.loc[[1.0, 2.0, 3.0]].tolist() == [4, 2, 0]


def test_goodput_counts_ok_requests_within_the_timeout_per_second():
    sim = ev.Simulation(seed=1, sample_interval=2.0)
    sim.service("api", workers=1, service_time=0.3)
    sim.client("web", "api", ev.Periodic(interval=0.5), timeout=1.0)  # 2 a second, all ok
    goodput = gauge(sim.run(until=20), "goodput", "web")
    assert np.allclose(goodput.loc[4.0:18.0], 2.0)


def test_cache_hit_ratio_is_per_interval():
    sim = ev.Simulation(seed=1, sample_interval=5.0)
    sim.service("db", workers=4, service_time=0.01)
    sim.cache("cache", "db", ttl=100, capacity=10, faults=[ev.CacheFlush(at=10.0)])
    sim.client("web", "cache", ev.Periodic(interval=0.1), keys=ev.UniformKeys(5))
    ratio = gauge(sim.run(until=30), "cache_hit_ratio", "cache")
    assert np.isnan(ratio.loc[0.0])  # no lookups yet
    # about 50 lookups per 5 s, 5 of them misses (one per key) in the first interval
    assert ratio.loc[5.0] == pytest.approx(0.9, abs=0.01) and ratio.loc[10.0] == 1.0
    assert ratio.loc[15.0] == pytest.approx(0.9, abs=0.01)  # after the flush at 10 s
