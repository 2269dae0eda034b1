"""Scenario files' request-response sections (``services``, ``load_balancers``, ``caches``,
``clients``): they build what the Python API builds, round trip, name the path of every
bad field, and the shipped order API runs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import yaml

import evsim as ev
from evsim.scenario.loader import scenario_dict

ROOT = Path(__file__).resolve().parents[1]
ORDER_API = ROOT / "data" / "scenarios" / "order_api.yaml"

SYSTEM = """
    seed: 7
    services:
      - name: orders
        workers: 4
        service_time: {exponential: {mean: 0.01}}
        queue_limit: 20
        queue_order: lifo
        load_latency: {mode: polynomial, factor: 4, exponent: 3}
        calls:
          - {target: cache, timeout: 0.5}
          - target: payment
            timeout: 0.2
            retry: {max_attempts: 3, backoff: {base: 0.01, cap: 0.1, jitter: full}}
            cancel_on_timeout: true
            breaker: {minimum_calls: 10, sliding_window_size: 20, wait_in_open: 5}
            budget: {token_bucket: {}}
          - target: lb
            retry: {max_attempts: 2}
            max_concurrent: 3
            budget: {retry_throttle: {max_tokens: 10, token_ratio: 0.1}}
        parallel: true
        shed_after: 0.5
        max_in_flight: 50
        throttle: {rate: 80, burst: 10}
        faults:
          - {transient_errors: {p: 0.01}}
          - {capacity_loss: {start: 5, end: 10, workers: 2}}
      - {name: payment, workers: 2, service_time: 0.02, faults: {outage: {start: 12, end: 14}}}
      - name: db-a
        workers: 2
        service_time: {uniform: {low: 0.005, high: 0.015}}
        faults: [{slowdown: {start: 3, end: 6, factor: 4}}]
      - name: db-b
        workers: 2
        service_time: 0.01
        faults: [{crashes: {mttf: {exponential: {mean: 8}}, mttr: 1}}]
    load_balancers:
      - {name: lb, targets: [db-a, db-b], strategy: power_of_two}
    caches:
      - {name: cache, target: lb, ttl: 2, capacity: 50, eviction: fifo, hit_time: 0.001,
         timeout: 0.3, faults: [{cache_flush: {at: 9}}]}
    clients:
      - name: web
        target: orders
        arrivals: {poisson: {rate: 40}}
        keys: {zipf_keys: {n: 200, s: 1.2}}
        timeout: 1.0
        retry: {max_attempts: 2, backoff: 0.05}
        breaker: {}
        budget: {token_bucket: {capacity: 50}}
        start: 1
        stop: 18
      - {name: users, target: cache, users: 5, think_time: {exponential: {mean: 0.2}},
         keys: {uniform_keys: {n: 100}}}
    """


def python_system() -> ev.Simulation:
    """``SYSTEM`` built with the Python API."""
    sim = ev.Simulation(seed=7)
    payment_retry = ev.Retry(3, backoff=ev.Backoff(0.01, cap=0.1, jitter="full"))
    breaker = ev.CircuitBreaker(minimum_calls=10, sliding_window_size=20, wait_in_open=5)
    sim.service(
        "orders", workers=4, service_time=ev.Exponential(mean=0.01), queue_limit=20,
        queue_order="lifo", load_latency=ev.LoadLatency("polynomial", 4, exponent=3),
        calls=[
            ev.Call("cache", timeout=0.5),
            ev.Call("payment", timeout=0.2, retry=payment_retry, cancel_on_timeout=True,
                    breaker=breaker, budget=ev.TokenBucket()),
            ev.Call("lb", retry=ev.Retry(2), budget=ev.RetryThrottle(10, 0.1), max_concurrent=3),
        ],
        parallel=True, shed_after=0.5, max_in_flight=50, throttle=ev.Throttle(80, burst=10),
        faults=[ev.TransientErrors(0.01), ev.CapacityLoss(5, 10, workers=2)],
    )  # fmt: skip
    sim.service("payment", workers=2, service_time=0.02, faults=ev.Outage(12, 14))
    sim.service("db-a", workers=2, service_time=ev.Uniform(0.005, 0.015),
                faults=[ev.Slowdown(3, 6, factor=4)])  # fmt: skip
    sim.service("db-b", workers=2, service_time=0.01,
                faults=[ev.Crashes(mttf=ev.Exponential(mean=8), mttr=1)])  # fmt: skip
    sim.load_balancer("lb", ["db-a", "db-b"], strategy="power_of_two")
    sim.cache("cache", "lb", ttl=2, capacity=50, eviction="fifo", hit_time=0.001, timeout=0.3,
              faults=[ev.CacheFlush(at=9)])  # fmt: skip
    sim.client("web", "orders", arrivals=ev.Poisson(rate=40), keys=ev.ZipfKeys(200, s=1.2),
               timeout=1.0, retry=ev.Retry(2, backoff=0.05), breaker=ev.CircuitBreaker(),
               budget=ev.TokenBucket(capacity=50), start=1, stop=18)  # fmt: skip
    sim.client("users", "cache", users=5, think_time=ev.Exponential(mean=0.2),
               keys=ev.UniformKeys(100))  # fmt: skip
    return sim


def load(text: str) -> ev.Simulation:
    return ev.load_scenario(textwrap.dedent(text))


def problems(text: str) -> list[tuple[str, int | None, str]]:
    """The problems of a scenario text (dedented), which must not load."""
    with pytest.raises(ev.ScenarioError) as info:
        load(text)
    return info.value.problems


def at(found: list[tuple[str, int | None, str]]) -> list[tuple[str, int | None]]:
    return [(path, line) for path, line, _ in found]


# --- the sections build what the Python API builds ------------------------------------


def test_each_section_builds_what_the_python_api_builds():
    loaded, built = load(SYSTEM), python_system()
    assert loaded.config == built.config
    ours, theirs = loaded.run(until=20), built.run(until=20)
    ours.check()
    pd.testing.assert_frame_equal(ours.summary(), theirs.summary())
    pd.testing.assert_frame_equal(ours.calls, theirs.calls)
    summary = ours.summary()
    assert (summary.loc[["orders", "payment", "db-a", "db-b", "web", "users"], "ok"] > 0).all()
    assert set(ours.calls["callee"]) >= {"cache", "payment", "lb", "db-a", "db-b"}


def test_a_call_may_be_a_name_alone_and_one_item_may_stand_without_a_list():
    sim = load(
        """
        services:
          - {name: payment}
          - {name: a, calls: [payment, {target: payment, timeout: 1}]}
          - name: b
            calls: {target: payment}
            faults: {capacity_loss: {start: 1, end: 2, workers: 1}}
        """
    )
    assert sim.services["a"].config.calls == [ev.Call("payment"), ev.Call("payment", timeout=1)]
    assert sim.services["b"].config.calls == [ev.Call("payment")]
    assert sim.services["b"].config.faults == [ev.CapacityLoss(1, 2, workers=1)]


def test_the_raw_config_loads_with_its_one_key_specs():
    built = python_system()
    raw = {"seed": built.seed, **built.config["scenario"]}
    assert (
        raw["services"][0]["calls"][1]["call"]["breaker"]["circuit_breaker"]["minimum_calls"] == 10
    )
    assert raw["services"][0]["throttle"] == {"throttle": {"rate": 80.0, "burst": 10.0}}
    assert ev.load_scenario(raw).config == built.config


# --- round trip -------------------------------------------------------------------------


def test_a_request_response_system_round_trips_through_scenario_dict():
    built = python_system()
    saved = scenario_dict(built)
    again = ev.load_scenario(yaml.safe_dump(saved, sort_keys=False))
    assert again.config == built.config
    assert scenario_dict(again) == saved
    orders, payment = saved["services"][:2]
    assert orders["calls"][0] == {"target": "cache", "timeout": 0.5}  # defaults left out
    assert orders["calls"][2]["budget"] == {
        "retry_throttle": {"max_tokens": 10, "token_ratio": 0.1}
    }
    assert orders["load_latency"] == {"mode": "polynomial", "factor": 4, "exponent": 3}
    assert "calls" not in payment and payment["service_time"] == 0.02
    web = saved["clients"][0]
    assert web["breaker"] == {} and web["budget"] == {"token_bucket": {"capacity": 50}}
    assert saved["caches"][0]["faults"] == [{"cache_flush": {"at": 9}}]


def test_a_system_without_the_request_side_saves_without_its_sections():
    sim = ev.Simulation(seed=2)
    sim.topic("t")
    assert "services" not in sim.config["scenario"]  # configs saved before the sections
    saved = scenario_dict(sim)
    assert not {"services", "load_balancers", "caches", "clients"} & set(saved)
    assert ev.load_scenario(saved).config == sim.config


# --- problems name their path ---------------------------------------------------------


def test_a_bad_call_field_names_its_path_and_line():
    text = """
        services:
          - name: payment
          - name: orders
            calls:
              - {target: payment, timeout: 0.5}
              - {target: payment, timeout: -1}
        """
    [problem] = problems(text)
    assert problem == ("services[1].calls[1].timeout", 7, "must be > 0, got -1")
    with pytest.raises(ev.ScenarioError) as info:
        load(text)
    assert str(info.value) == (
        "scenario: 1 problem: line 7: services[1].calls[1].timeout: must be > 0, got -1"
    )


def test_every_bad_call_is_reported_not_only_the_first():
    found = problems(
        """
        services:
          - name: payment
          - name: orders
            calls:
              - {target: payment, timout: 0.5}
              - {timeout: 1}
              - 5
              - {call: {target: payment, retry: {max_attempts: 0}}}
              - {target: payment, breaker: {minimum_call: 3}, budget: {token_bukcet: {}}}
              - {target: payment, budget: {retry_throttle: {max_tokens: 10}}}
        """
    )
    assert at(found) == [
        ("services[1].calls[0].timout", 6),
        ("services[1].calls[1].target", 7),
        ("services[1].calls[2]", 8),
        ("services[1].calls[3].call.retry.max_attempts", 9),
        ("services[1].calls[4].breaker.minimum_call", 10),
        ("services[1].calls[4].budget", 10),
        ("services[1].calls[5].budget.retry_throttle", 11),
    ]
    messages = [message for _, _, message in found]
    assert "did you mean 'timeout'?" in messages[0]
    assert messages[1] == "missing; this field is required"
    assert messages[2].startswith("expected a service's name or a mapping such as {target:")
    assert "did you mean 'minimum_calls'?" in messages[4]
    assert "did you mean 'token_bucket'?" in messages[5]
    assert "missing parameter 'token_ratio'" in messages[6]


def test_unknown_targets_name_the_known_callees():
    found = problems(
        """
        services:
          - {name: payment}
          - {name: orders, calls: [{target: paymnt}]}
        load_balancers: [{name: lb, targets: [payment, nowhere]}]
        caches: [{name: cache, target: lb2, ttl: 1, capacity: 10}]
        clients: [{name: web, target: order, arrivals: {poisson: {rate: 1}}}]
        topics: [{name: events}]
        """
    )
    assert at(found) == [
        ("services[1].calls[0].target", 4),
        ("load_balancers[0].targets[1]", 5),
        ("caches[0].target", 6),
        ("clients[0].target", 7),
    ]
    assert found[0][2] == (
        "no service, load balancer or cache named 'paymnt' (known: 'payment', 'orders', 'lb', "
        "'cache'); did you mean 'payment'?"
    )
    assert "did you mean 'orders'?" in found[3][2]
    assert "did you mean 'lb'?" in found[2][2]


def test_a_topic_is_not_a_call_target_and_names_are_shared_with_brokers():
    found = problems(
        """
        topics: [{name: events}]
        services: [{name: events}, {name: s}]
        clients: [{name: web, target: events, users: 1}]
        """
    )
    assert at(found) == [("services[0].name", 3), ("clients[0].target", 4)]
    assert found[0][2] == "a topic named 'events' already exists"


def test_wrong_types_bad_values_and_unknown_kinds():
    found = problems(
        """
        services:
          - name: s
            workers: many
            load_latency: {mode: quadratic, factor: 1}
            throttle: {rate: -1}
            queue_order: lilo
            calls: 5
          - {name: t, load_latency: 2}
        load_balancers: [{name: lb, targets: [s], strategy: fastest}]
        caches: [{name: c, target: s, ttl: 1, capacity: 10, eviction: random}]
        clients:
          - {name: web, target: s, arrivals: {poisson: {rate: 5}}, users: 3}
          - {name: api, target: s, users: 2, think_time: {exponential: {mean: -1}}, breaker: yes}
        """
    )
    assert at(found) == [
        ("services[0].workers", 4),
        ("services[0].load_latency.mode", 5),
        ("services[0].throttle.rate", 6),
        ("services[0].queue_order", 7),
        ("services[0].calls", 8),
        ("services[1].load_latency", 9),
        ("load_balancers[0].strategy", 10),
        ("caches[0].eviction", 11),
        ("clients[0].arrivals", 13),
        ("clients[1].think_time.exponential.mean", 14),
        ("clients[1].breaker", 14),
    ]
    messages = [message for _, _, message in found]
    assert "expected a whole number, got 'many'" in messages[0]
    assert "did you mean 'lifo'?" in messages[3]
    assert messages[4].startswith("expected a list of calls such as [{target: payment,")
    assert messages[5].startswith("expected a mapping such as {mode: polynomial, factor: 4")
    assert "give arrivals" in messages[8] and "or users" in messages[8]
    assert messages[10].startswith("expected a mapping such as {failure_rate_threshold: 50")


def test_missing_fields_and_a_failed_callee_is_not_reported_twice():
    found = problems(
        """
        services: [{workers: 2}, {name: s}]
        load_balancers: [{name: lb}]
        caches: [{name: c, target: s, capacity: 10}]
        clients: [{name: web, target: lb, arrivals: {poisson: {rate: 1}}}, {name: api}]
        """
    )
    assert found == [
        ("services[0].name", 2, "missing; this field is required"),
        ("load_balancers[0].targets", 3, "missing; this field is required"),
        ("caches[0].ttl", 4, "missing; this field is required"),
        ("clients[1].target", 5, "missing; this field is required"),
    ]  # web's target lb is not reported: a stand-in takes the failed balancer's name


def test_faults_a_component_does_not_take_are_refused_naming_them():
    found = problems(
        """
        topics: [{name: t}]
        consumer_groups:
          - {name: g, source: t, faults: [{capacity_loss: {start: 1, end: 2, workers: 1}}]}
        services:
          - {name: s, workers: 2, faults: [{poison_events: {p: 0.1}}]}
          - {name: u, workers: 2, faults: [{capacity_loss: {start: 1, end: 2, workers: 3}}]}
        caches: [{name: c, target: s, ttl: 1, capacity: 10, faults: [{outage: {start: 1, end: 2}}]}]
        """
    )
    assert at(found) == [
        ("consumer_groups[0].faults[0]", 4),
        ("services[0].faults[0]", 6),
        ("services[1].faults[0]", 7),
        ("caches[0].faults[0]", 8),
    ]
    messages = [message for _, _, message in found]
    assert messages[0].startswith("ev.CapacityLoss takes workers from a service")
    assert messages[1].startswith("a service takes ev.TransientErrors")
    assert "removes 3 workers, but the service has 2" in messages[2]
    assert messages[3].startswith("a cache takes ev.CacheFlush(at)")


def test_an_unknown_section_suggests_the_request_sections():
    [(path, line, message)] = problems("service: [{name: s}]\n")
    assert (path, line) == ("service", 1)
    assert "did you mean 'services'?" in message and "load_balancers, caches, clients" in message


def test_a_group_in_python_refuses_capacity_loss_too():
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    with pytest.raises(ev.ConfigTypeError, match=r"faults\[0\]: ev.CapacityLoss takes workers"):
        sim.consumer_group("g", source="t", faults=[ev.CapacityLoss(1, 2, workers=1)])


# --- the shipped order API -----------------------------------------------------------


@pytest.fixture(scope="module")
def order_api() -> tuple[ev.Simulation, ev.Result]:
    sim = ev.load_scenario(ORDER_API)
    return sim, sim.run(until=sim.duration)


def test_the_shipped_order_api_runs_and_balances(order_api):
    sim, result = order_api
    result.check()
    assert sim.duration == 600
    assert set(sim.services) == {
        "orders", "payment", "inventory-a", "inventory-b", "notification", "catalog",
    }  # fmt: skip
    assert set(sim.load_balancers) == {"inventory"} and set(sim.caches) == {"catalog-cache"}
    summary = result.summary()
    assert (summary.loc[[*sim.services, *sim.clients], "ok"] > 0).all()
    web = summary.loc["web"]
    assert web["requests"] == pytest.approx(50 * 600, rel=0.05)
    assert 0.9 < web["availability"] < 1.0  # the payment outage costs its 30 s of orders


def test_the_order_api_shows_what_its_comments_say(order_api):
    sim, result = order_api
    requests = result.requests
    during = requests[requests["sent_at"].between(302, 328)]
    assert (during["outcome"] != "ok").all()  # payment is down: no order succeeds
    after = requests[requests["sent_at"].between(360, 600)]
    assert (after["outcome"] == "ok").mean() > 0.97
    assert result.summary().loc["payment", "short_circuited"] > 0  # the breaker opened
    forwards = result.calls[result.calls["caller"] == "inventory"]
    short = forwards[forwards["started_at"].between(130, 240)]["callee"].value_counts()
    assert short["inventory-b"] > 1.3 * short["inventory-a"]  # least connections avoids a
    assert sim.caches["catalog-cache"].hit_ratio > 0.5


def test_python_m_evsim_runs_the_shipped_file_and_writes_its_request_tables(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "evsim", "run", str(ORDER_API), "--until", "30",
         "--out", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].endswith("order_api.yaml: 30 s simulated, seed 1")
    names = {line.split()[0] for line in lines[1:] if line.strip()}
    assert {"orders", "payment", "catalog", "web"} <= names
    requests = pd.read_csv(tmp_path / "requests.csv")
    assert set(requests["client"]) == {"web"} and len(requests) > 1000
    calls = pd.read_csv(tmp_path / "calls.csv")
    assert {"orders", "inventory", "catalog-cache"} <= set(calls["caller"])
