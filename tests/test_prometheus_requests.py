"""Prometheus export of the request-response side: request and call counters, and the
request latency histogram, parsed back and held to the tables."""

from __future__ import annotations

import numpy as np
import pytest
from exposition import parse, value

import evsim as ev
from evsim.views.prometheus_requests import BUCKETS, ENDINGS


def bill(event, ctx):
    yield ctx.call("payment-api", timeout=1.0)


def build(record: str = "full") -> ev.Result:
    """Two clients of an overloaded payment API (rejections, timeouts, errors, requests
    in flight at the stop) that calls a flaky fraud API; a consumer group calls it too."""
    sim = ev.Simulation(seed=4, record=record)
    sim.topic("orders")
    sim.producer("shop", "orders", ev.Poisson(rate=5), "OrderCreated")
    sim.consumer_group("billing", "orders", handler=bill)
    sim.service(
        "payment-api", workers=2, service_time=ev.Exponential(0.05), queue_limit=3,
        calls=[ev.Call("fraud-api", timeout=0.05, retry=ev.Retry(2))],
    )  # fmt: skip
    sim.service(
        "fraud-api", workers=2, service_time=ev.Exponential(0.02),
        faults=[ev.TransientErrors(p=0.2)],
    )  # fmt: skip
    sim.client("web", "payment-api", arrivals=ev.Poisson(rate=30), timeout=0.3)
    sim.client("app", "payment-api", users=3, think_time=0.1, retry=ev.Retry(3))
    return sim.run(until=30, warmup=5)


@pytest.fixture(scope="module")
def result() -> ev.Result:
    return build()


@pytest.fixture(scope="module")
def parsed(result):
    return parse(ev.to_prometheus(result))


def test_the_request_families_have_their_types(parsed):
    types, helps, _ = parsed
    assert types["evsim_requests_total"] == "counter"
    assert types["evsim_calls_total"] == "counter"
    assert types["evsim_request_latency_seconds"] == "histogram"
    assert set(helps) == set(types)


def test_request_counters_match_the_requests_table_without_the_pending(result, parsed):
    _, _, samples = parsed
    requests = result.requests
    counted = requests.groupby(["client", "outcome"], observed=True).size()
    for client, target in (("web", "payment-api"), ("app", "payment-api")):
        for outcome in ENDINGS:
            got = value(samples, "evsim_requests_total", client=client, target=target,
                        outcome=outcome)  # fmt: skip
            assert got == counted.get((client, outcome), 0), (client, outcome)
    assert value(samples, "evsim_requests_total", client="web", target="payment-api",
                 outcome="short_circuited") == 0  # fmt: skip  # zeros are written too
    pending = (requests["outcome"] == "pending").sum()
    total = sum(v for (name, _), v in samples.items() if name == "evsim_requests_total")
    assert pending > 0 and total == len(requests) - pending
    assert not any(dict(labels).get("outcome") == "pending" for _, labels in samples)


def test_call_counters_match_the_calls_table_on_every_edge(result, parsed):
    _, _, samples = parsed
    calls = result.calls
    counted = calls.groupby(["caller", "callee", "status"], observed=True).size()
    edges = {(n, dict(labels)["caller"], dict(labels)["callee"])
             for n, labels in samples if n == "evsim_calls_total"}  # fmt: skip
    assert {(c, e) for _, c, e in edges} == {
        ("web", "payment-api"), ("app", "payment-api"), ("billing", "payment-api"),
        ("payment-api", "fraud-api"),
    }  # fmt: skip  # the consumer group's ctx.call included
    for _, caller, callee in edges:
        for status in ENDINGS:
            got = value(samples, "evsim_calls_total", caller=caller, callee=callee, status=status)
            assert got == counted.get((caller, callee, status), 0)
    assert value(samples, "evsim_calls_total", caller="payment-api", callee="fraud-api",
                 status="timeout") > 0  # fmt: skip


def test_latency_histograms_count_ok_requests_after_the_warmup(result, parsed):
    _, _, samples = parsed  # parse checks: le increasing, cumulative, +Inf == _count
    requests = result.requests
    summary = result.summary()
    name = "evsim_request_latency_seconds"
    for client in ("web", "app"):
        mine = requests[(requests["client"] == client) & (requests["outcome"] == "ok")
                        & (requests["sent_at"] >= result.warmup)]["latency"]  # fmt: skip
        assert value(samples, f"{name}_count", client=client) == len(mine) == summary.loc[
            client, "ok"]  # fmt: skip
        assert value(samples, f"{name}_sum", client=client) == pytest.approx(mine.sum())
        for bound in BUCKETS:
            le = f"{bound:g}"
            assert value(samples, f"{name}_bucket", client=client, le=le) == (mine <= bound).sum()
        assert value(samples, f"{name}_bucket", client=client, le="+Inf") == len(mine)
    ok = requests[requests["outcome"] == "ok"]
    assert (ok["sent_at"] < result.warmup).any()  # the warmup's requests are left out


def test_event_counters_have_a_row_per_group_only(result, parsed):
    _, _, samples = parsed
    for metric in ("evsim_events_processed_total", "evsim_event_latency_seconds_count"):
        groups = {dict(labels)["group"] for name, labels in samples if name == metric}
        assert groups == {"billing"}  # not the services' and clients' summary rows
    assert not any(
        np.isnan(v) for (name, _), v in samples.items() if name.startswith("evsim_events")
    )


def test_prometheus_client_reads_the_histogram_and_counters(result):
    parser = pytest.importorskip("prometheus_client.parser")
    text = ev.to_prometheus(result)
    families = {f.name: f for f in parser.text_string_to_metric_families(text)}
    assert families["evsim_request_latency_seconds"].type == "histogram"
    assert families["evsim_requests"].type == families["evsim_calls"].type == "counter"
    _, _, samples = parse(text)
    for name in ("evsim_request_latency_seconds", "evsim_requests", "evsim_calls"):
        for sample in families[name].samples:
            assert samples[(sample.name, frozenset(sample.labels.items()))] == sample.value


def test_a_summary_mode_run_exports_the_request_counters_only():
    summary_run, full_run = build(record="summary"), build()
    types, _, samples = parse(ev.to_prometheus(summary_run))
    assert "evsim_requests_total" in types
    assert "evsim_calls_total" not in types and "evsim_request_latency_seconds" not in types
    full = parse(ev.to_prometheus(full_run))[2]
    requests = {k: v for k, v in full.items() if k[0] == "evsim_requests_total"}
    assert requests == {k: v for k, v in samples.items() if k[0] == "evsim_requests_total"}


def test_a_handler_calling_a_service_without_clients_exports_its_calls():
    sim = ev.Simulation(seed=1)
    sim.service("payment-api", workers=4, service_time=0.2)
    sim.topic("orders")
    sim.producer("web", "orders", ev.Periodic(interval=1.0), event_type="OrderCreated")
    sim.consumer_group("billing", "orders", handler=bill)
    types, _, samples = parse(ev.to_prometheus(sim.run(until=20.5)))
    assert "evsim_requests_total" not in types and "evsim_request_latency_seconds" not in types
    assert value(samples, "evsim_calls_total", caller="billing", callee="payment-api",
                 status="ok") == 20  # fmt: skip
