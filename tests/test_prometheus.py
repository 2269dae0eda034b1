"""Prometheus export: the text a scrape at the end of a run would see, parsed back."""

from __future__ import annotations

import math

import pytest
from exposition import parse, value

import evsim as ev


@pytest.fixture(scope="module")
def order_flow(order_flow_core):
    """``order_flow(record="full")``: the order flow with an inventory service (failing,
    with a DLT) and an audit service (no DLQ), run."""

    def run(record: str = "full") -> ev.Result:
        sim = order_flow_core(seed=3, rate=30, record=record)
        sim.consumer_group(
            "inventory-service", "order-events", consumers=2, event_types="OrderCreated",
            service_time=ev.Exponential(0.03), faults=[ev.TransientErrors(p=0.2)],
            dead_letter="order-events-dlt",
        )  # fmt: skip
        sim.consumer_group("audit", "order-events", service_time=ev.Exponential(0.01))  # no DLQ
        return sim.run(until=30, warmup=5)

    return run


@pytest.fixture
def fanout_flow(fanout_flow_core) -> ev.Result:
    sim, _ = fanout_flow_core(seed=2, only_orders=False)
    return sim.run(until=30)


@pytest.fixture(scope="module")
def result(order_flow) -> ev.Result:
    return order_flow()


@pytest.fixture(scope="module")
def parsed(result):
    return parse(ev.to_prometheus(result))


def test_families_have_help_and_type_and_counters_end_in_total(parsed):
    types, helps, _ = parsed
    assert types == {
        "evsim_consumer_lag": "gauge",
        "evsim_consumers_up": "gauge",
        "evsim_dlq_depth": "gauge",
        "evsim_events_published_total": "counter",
        "evsim_events_processed_total": "counter",
        "evsim_events_dead_lettered_total": "counter",
        "evsim_events_lost_total": "counter",
        "evsim_events_expired_total": "counter",
        "evsim_event_latency_seconds": "summary",
    }  # no queues in this run: no evsim_queue_depth family
    assert set(helps) == set(types)
    assert all(name.endswith("_total") for name, kind in types.items() if kind == "counter")


def test_counters_match_the_summary(result, parsed):
    _, _, samples = parsed
    summary = result.summary()
    for group in result.groups:
        for outcome in ("processed", "dead_lettered", "lost", "expired"):
            name = f"evsim_events_{outcome}_total"
            assert value(samples, name, group=group) == summary.loc[group, outcome]
    assert value(samples, "evsim_events_dead_lettered_total", group="inventory-service") > 0
    assert value(samples, "evsim_events_lost_total", group="audit") == 0
    counts = result.events["target"].astype(str).value_counts()
    assert (
        value(samples, "evsim_events_published_total", target="order-events")
        == counts["order-events"]
    )
    assert (
        value(samples, "evsim_events_published_total", target="order-events-dlt")
        == counts["order-events-dlt"]
    )


def test_latency_summary_matches_the_summary_after_warmup(result, parsed):
    _, _, samples = parsed
    summary = result.summary()
    deliveries = result.deliveries
    published = result.events["published_at"].to_numpy()
    measured = deliveries[
        (deliveries["outcome"] == "processed")
        & (published[deliveries["event_id"].to_numpy()] >= result.warmup)
    ]
    name = "evsim_event_latency_seconds"
    for group in result.groups:
        for q in ("0.5", "0.95", "0.99"):
            column = f"latency_p{round(float(q) * 100)}"
            assert value(samples, name, group=group, quantile=q) == pytest.approx(
                summary.loc[group, column], rel=1e-12
            )
        latencies = measured.loc[measured["group"] == group, "latency"]
        assert value(samples, f"{name}_count", group=group) == len(latencies)
        assert value(samples, f"{name}_sum", group=group) == pytest.approx(latencies.sum())
        assert len(latencies) < summary.loc[group, "processed"]  # the warmup is left out


def test_gauges_hold_the_last_sampled_value(result, parsed):
    _, _, samples = parsed
    series = result.timeseries
    last_time = series["time"].max()
    last = series[series["time"] == last_time]
    lag = last[last["metric"] == "lag"]
    assert len(lag) == 9  # 3 groups × 3 partitions
    for entity, sampled in zip(lag["entity"].astype(str), lag["value"], strict=True):
        group, _, tp = entity.partition("/")
        topic, _, partition = tp.rpartition("-")
        got = value(samples, "evsim_consumer_lag", group=group, topic=topic, partition=partition)
        assert got == sampled
    up = last[last["metric"] == "consumers_up"]
    for group, sampled in zip(up["entity"].astype(str), up["value"], strict=True):
        assert value(samples, "evsim_consumers_up", group=group) == sampled
    assert value(samples, "evsim_consumers_up", group="inventory-service") == 2
    dlq = last[(last["metric"] == "dlq_depth")]["value"].iloc[0]
    assert value(samples, "evsim_dlq_depth", queue="order-events-dlt") == dlq > 0


def test_queue_and_dlq_depth_of_an_sqs_flow(fanout_flow):
    result = fanout_flow
    types, _, samples = parse(ev.to_prometheus(result))
    assert types["evsim_queue_depth"] == "gauge"
    series = result.timeseries
    for metric, name in (("queue_depth", "NotificationQueue"), ("dlq_depth", "NotificationDLQ")):
        rows = series[(series["metric"] == metric) & (series["entity"] == name)]
        assert value(samples, f"evsim_{metric}", queue=name) == rows["value"].iloc[-1]
    assert value(samples, "evsim_dlq_depth", queue="NotificationDLQ") > 0
    assert ("evsim_consumer_lag", frozenset()) not in samples
    assert "evsim_consumer_lag" not in types  # no topics


def test_label_values_are_escaped():
    name = 'odd "group"\\with\nnewline'
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    sim.producer("p", "t", ev.Periodic(interval=1), "E")
    sim.consumer_group(name, "t")
    text = ev.to_prometheus(sim.run(until=5))
    assert 'group="odd \\"group\\"\\\\with\\nnewline"' in text
    assert all(line.count("\n") == 0 for line in text.splitlines())
    _, _, samples = parse(text)
    assert value(samples, "evsim_consumers_up", group=name) == 1
    assert value(samples, "evsim_events_processed_total", group=name) == 4


def test_prometheus_client_parses_it_too(result):
    parser = pytest.importorskip("prometheus_client.parser")
    families = {f.name: f for f in parser.text_string_to_metric_families(ev.to_prometheus(result))}
    assert families["evsim_events_processed"].type == "counter"
    assert families["evsim_event_latency_seconds"].type == "summary"
    _, _, samples = parse(ev.to_prometheus(result))
    for family in families.values():
        for sample in family.samples:
            mine = samples[(sample.name, frozenset(sample.labels.items()))]
            assert mine == sample.value or (math.isnan(mine) and math.isnan(sample.value))


def test_a_summary_mode_run_exports_counters_and_latency_only(order_flow):
    result = order_flow(record="summary")
    types, _, samples = parse(ev.to_prometheus(result))
    assert set(types) == {
        "evsim_events_processed_total", "evsim_events_dead_lettered_total",
        "evsim_events_lost_total", "evsim_events_expired_total", "evsim_event_latency_seconds",
    }  # fmt: skip
    full = parse(ev.to_prometheus(order_flow()))[2]
    key = ("evsim_events_processed_total", frozenset({"group": "audit"}.items()))
    assert samples[key] == full[key]
    count = ("evsim_event_latency_seconds_count", frozenset({"group": "audit"}.items()))
    assert samples[count] == full[count]


def test_the_result_method_forwards_to_the_exporter(result):
    assert result.to_prometheus() == ev.to_prometheus(result)
