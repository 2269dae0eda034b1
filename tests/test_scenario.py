"""Scenario files: every shipped file runs, round trips, and bad files list every problem
with its path and line."""

from __future__ import annotations

import json
import pickle
import textwrap
from pathlib import Path

import pytest
import yaml

import evsim as ev
from evsim.scenario.loader import scenario_dict

SCENARIOS = Path(__file__).resolve().parents[1] / "data" / "scenarios"
FILES = sorted(SCENARIOS.glob("*.yaml"))
REQUIRED = {
    "order_flow",
    "partition_scaling",
    "retries_dlq",
    "sns_sqs_fanout",
    "event_storm",
    "order_api",
}


def problems(text: str) -> list[tuple[str, int | None, str]]:
    """The problems of a scenario text (dedented), which must not load."""
    with pytest.raises(ev.ScenarioError) as info:
        ev.load_scenario(textwrap.dedent(text))
    return info.value.problems


def only(text: str) -> tuple[str, int | None, str]:
    [problem] = problems(text)
    return problem


# --- the shipped files --------------------------------------------------------------------


def test_the_required_scenarios_are_shipped():
    assert {f.stem for f in FILES} >= REQUIRED


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_scenario_loads_runs_and_balances(path):
    sim = ev.load_scenario(path)
    assert sim.duration > 0
    assert (sim.groups and sim.producers) or (sim.services and sim.clients)
    result = sim.run(until=min(sim.duration, 20.0))
    result.check()
    summary = result.summary()
    if sim.groups:
        groups = summary.loc[list(sim.groups)]
        assert (groups["routed"] > 0).all()
        assert (groups["processed"] > 0).all()
    if sim.services:
        request_side = summary.loc[[*sim.services, *sim.clients]]
        assert (request_side["requests"] > 0).all()
        assert (request_side["ok"] > 0).all()


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_scenario_round_trips(path):
    sim = ev.load_scenario(path)
    saved = scenario_dict(sim)
    again = ev.load_scenario(yaml.safe_dump(saved, sort_keys=False))
    assert again.config == sim.config
    assert again.duration == sim.duration
    assert scenario_dict(again) == saved


def test_the_seeds_order_flow():
    sim = ev.load_scenario(SCENARIOS / "order_flow.yaml")
    assert {p.name: p.event_type for p in sim.producers.values()} == {
        "orders-service": "OrderCreated",
        "payment-service": "PaymentProcessed",
    }
    assert set(sim.groups["notification-service"].event_types) == {
        "OrderCreated",
        "PaymentProcessed",
    }
    assert sim.groups["inventory-service"].event_types == ("OrderCreated",)


def test_the_seeds_sns_sqs_fanout_matches_its_aws_config():
    sim = ev.load_scenario(SCENARIOS / "sns_sqs_fanout.yaml")
    queue, dlq = sim.queues["NotificationQueue"], sim.queues["NotificationDLQ"]
    assert (queue.visibility_timeout, queue.retention) == (30, 86400)
    assert queue.dead_letter is dlq and queue.max_receive_count == 5
    assert dlq.retention == 1209600
    subscriptions = sim.fanouts["OrderEvents"].subscriptions
    assert subscriptions[0].filter_policy == {"eventType": ["OrderCreated"]}
    assert len(subscriptions) == 2


def test_the_raw_config_loads_with_its_one_key_specs():
    sim = ev.load_scenario(SCENARIOS / "retries_dlq.yaml")
    raw = {"seed": sim.seed, **sim.config["scenario"]}
    raw["topics"] = [t for t in raw["topics"] if "-retry-" not in t["name"]]
    assert raw["consumer_groups"][0]["retry"]["retry"]["backoff"] == {
        "backoff": {"base": 0.1, "cap": 2.0, "jitter": "full"}
    }
    assert ev.load_scenario(raw).config == sim.config


# --- the file format --------------------------------------------------------------------


def test_entries_hold_the_keyword_arguments_of_the_sim_calls():
    sim = ev.load_scenario(
        """
        seed: 4
        duration: 30
        sample_interval: 0.5
        topics: [{name: t, partitions: 3, latency: {uniform: {low: 0.001, high: 0.003}}}]
        producers:
          - {name: p, target: t, arrivals: {periodic: {interval: 0.1}}, event_type: Tick,
             keys: {zipf_keys: {n: 50, s: 1.1}}}
        consumer_groups:
          - name: g
            source: t
            consumers: 2
            service_time: 0.01
            faults: {transient_errors: {p: 0.2}}
            retry: {retry: {max_attempts: 3, backoff: 0.05}}
          - name: h
            source: t
            faults: [{crashes: {mttf: {exponential: {mean: 50}}, mttr: 2}}]
            retry: {max_attempts: 2, backoff: {backoff: {base: 0.1, cap: 1}}}
        """
    )
    assert (sim.seed, sim.duration, sim.sample_interval) == (4, 30, 0.5)
    assert sim.topics["t"].latency == ev.Uniform(0.001, 0.003)
    assert sim.producers["p"].keys == ev.ZipfKeys(50, s=1.1)
    g, h = sim.groups["g"], sim.groups["h"]
    assert g.service_time == ev.Constant(0.01)
    assert g.faults == [ev.TransientErrors(p=0.2)]
    assert g.retry == ev.Retry(max_attempts=3, backoff=0.05)
    assert h.faults == [ev.Crashes(mttf=ev.Exponential(mean=50), mttr=2)]
    assert h.retry == ev.Retry(max_attempts=2, backoff=ev.Backoff(base=0.1, cap=1))
    sim.run(until=5).check()


def test_a_dict_and_json_load_too(tmp_path):
    document = {
        "seed": 2,
        "topics": [{"name": "t"}],
        "producers": [{"name": "p", "target": "t", "arrivals": {"poisson": {"rate": 5}}}],
        "consumer_groups": [{"name": "g", "source": "t"}],
    }
    from_dict = ev.load_scenario(document)
    path = tmp_path / "s.json"
    path.write_text(json.dumps(document, indent=2))
    assert ev.load_scenario(path).config == from_dict.config
    assert ev.load_scenario(json.dumps(document)).config == from_dict.config
    assert document["topics"] == [{"name": "t"}]  # the caller's dict is not changed


def test_seed_argument_overrides_the_files():
    sim = ev.load_scenario(SCENARIOS / "order_flow.yaml", seed=99)
    assert sim.seed == 99


def test_names_may_be_used_before_they_are_defined():
    sim = ev.load_scenario(
        """
        redrives: [{dead_letter: DLQ, at: 5}]
        consumer_groups: [{name: g, source: Q, faults: [{poison_events: {p: 0.5}}]}]
        producers: [{name: p, target: F, arrivals: {periodic: {interval: 0.5}}}]
        fanouts: [{name: F, subscriptions: [Q]}]
        queues:
          - {name: Q, dead_letter: DLQ, max_receive_count: 2, visibility_timeout: 1}
          - {name: DLQ, retention: 1209600}
        """
    )
    assert sim.queues["Q"].dead_letter is sim.queues["DLQ"]
    assert sim.queues["DLQ"].retention == 1209600
    assert sim.redrives[0].to is sim.queues["Q"]
    sim.run(until=20).check()


def test_fifo_fanouts_body_filters_and_per_message_delays_in_a_file():
    """Issue 12: fanout fifo/content_based_deduplication, subscriptions'
    filter_policy_scope, a producer's DelaySeconds attribute; they run and round trip."""
    sim = ev.load_scenario(
        """
        seed: 2
        fanouts:
          - name: orders.fifo
            fifo: true
            content_based_deduplication: true
            subscriptions:
              - queue: big.fifo
                filter_policy: {order: {total: [{numeric: [">", 100]}]}}
                filter_policy_scope: MessageBody
              - plain
        queues:
          - {name: big.fifo, fifo: true}
          - {name: plain}
          - {name: later, delay: 1}
        producers:
          - {name: p, target: orders.fifo, arrivals: {periodic: {interval: 1}},
             keys: {uniform_keys: {n: 3}}, payload: {order: {total: 150}}}
          - {name: q, target: later, arrivals: {periodic: {interval: 1}},
             attributes: {DelaySeconds: 5}}
        """
    )
    [body, _] = sim.fanouts["orders.fifo"].subscriptions
    assert body.filter_policy_scope == "MessageBody"
    sim.run(until=10.5)
    # one body, deduplicated by content at the topic for 5 minutes: one copy each
    assert (sim.queues["big.fifo"].depth(), sim.queues["plain"].depth()) == (1, 1)
    assert sim.fanouts["orders.fifo"].duplicates_dropped == 9
    later = sim.queues["later"]  # sends at 1..10 s, each visible 5 s later
    assert (later.visible_count(), later.delayed_count()) == (5, 5)
    saved = scenario_dict(sim)
    assert saved["fanouts"][0]["fifo"] is True
    assert saved["fanouts"][0]["subscriptions"][0]["filter_policy_scope"] == "MessageBody"
    again = ev.load_scenario(yaml.safe_dump(saved, sort_keys=False))
    assert again.config == sim.config


def test_a_producer_sqs_would_always_refuse_is_a_problem_of_the_file():
    found = problems(
        """
        queues: [{name: q.fifo, fifo: true}]
        producers:
          - {name: p, target: q.fifo, arrivals: {periodic: {interval: 1}},
             keys: {uniform_keys: {n: 2}}, attributes: {DelaySeconds: 5}}
        """
    )
    assert [(path, line) for path, line, _ in found] == [
        ("producers[0]", 4),
        ("producers[0].attributes.DelaySeconds", 5),
    ]
    assert "'q.fifo' is a FIFO queue, which takes no per-message delay" in found[1][2]
    assert "content_based_deduplication=True" in found[0][2]


def test_scenario_dict_refuses_functions_unless_told_to_drop_them():
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    sim.producer("p", "t", ev.Poisson(rate=5), payload=lambda i: {"i": i})
    sim.consumer_group("g", "t", handler=lambda event, ctx: None)
    sim.service("api", handler=lambda request, ctx: None)
    with pytest.raises(
        ev.ConfigError,
        match=r"producers\[0\].payload.*consumer_groups\[0\].handler.*services\[0\].handler",
    ):
        scenario_dict(sim)
    saved = scenario_dict(sim, functions="drop")
    assert "handler" not in saved["consumer_groups"][0]
    assert "handler" not in saved["services"][0]
    assert "payload" not in saved["producers"][0]
    assert scenario_dict(ev.load_scenario(saved)) == saved


def test_non_blocking_retry_topics_are_not_saved():
    sim = ev.Simulation(seed=1)
    sim.topic("t", partitions=2)
    sim.consumer_group("g", "t", retry=ev.Retry(3, backoff=0.1, blocking=False))
    saved = scenario_dict(sim)
    assert [t["name"] for t in saved["topics"]] == ["t", "t-dlt"]
    assert scenario_dict(ev.load_scenario(saved)) == saved


# --- problems ---------------------------------------------------------------------------


def test_an_unknown_field_names_its_path_line_and_close_match():
    path, line, message = only(
        """
        topics:
          - name: t
            partitons: 6
        """
    )
    assert (path, line) == ("topics[0].partitons", 4)
    assert message.startswith("unknown field; did you mean 'partitions'? expected one of: name")


def test_a_value_out_of_range_names_its_path_and_line():
    text = """
        topics: [{name: t}]
        consumer_groups:
          - {name: a, source: t}
          - name: b
            source: t
            retry:
              max_attempts: 0
        """
    assert only(text) == ("consumer_groups[1].retry.max_attempts", 8, "must be >= 1, got 0")
    with pytest.raises(ev.ScenarioError) as info:
        ev.load_scenario(textwrap.dedent(text))
    assert str(info.value) == (
        "scenario: 1 problem: line 8: consumer_groups[1].retry.max_attempts: must be >= 1, got 0"
    )


def test_an_unknown_target_names_the_known_ones():
    path, line, message = only(
        """
        topics: [{name: orders}]
        producers: [{name: p, target: nowhere, arrivals: {poisson: {rate: 1}}}]
        """
    )
    assert (path, line) == ("producers[0].target", 3)
    assert message.startswith("no topic, queue or fanout named 'nowhere'")


def test_wrong_types_and_unknown_kinds():
    found = problems(
        """
        topics: [{name: t, partitions: six}]
        consumer_groups:
          - name: g
            source: t
            service_time: {exponentail: {mean: 0.02}}
            idempotent: maybe
        """
    )
    assert [(p, line) for p, line, _ in found] == [
        ("topics[0].partitions", 2),
        ("consumer_groups[0].service_time", 6),
        ("consumer_groups[0].idempotent", 7),
    ]
    assert "expected a whole number, got 'six'" in found[0][2]
    assert (
        "unknown kind 'exponentail'" in found[1][2] and "did you mean 'exponential'" in found[1][2]
    )


def test_nested_spec_errors_name_the_parameter():
    path, line, message = only(
        """
        topics: [{name: t}]
        producers:
          - name: p
            target: t
            arrivals:
              poisson:
                rate: -5
        """
    )
    assert (path, line, message) == ("producers[0].arrivals.poisson.rate", 8, "must be > 0, got -5")


def test_a_handler_cannot_come_from_a_file():
    path, _, message = only(
        """
        topics: [{name: t}]
        consumer_groups: [{name: g, source: t, handler: my_module.handle}]
        """
    )
    assert path == "consumer_groups[0].handler"
    assert "Python function" in message
    path, _, message = only("services: [{name: api, handler: my_module.handle}]")
    assert path == "services[0].handler"
    assert "Python function" in message and "sim.service(..., handler=fn)" in message


def test_unknown_sections_missing_fields_and_misshapen_entries():
    found = problems(
        """
        topic: [{name: t}]
        queues: {name: q}
        producers:
          - {name: p, arrivals: {poisson: {rate: 1}}}
          - just-a-name
        """
    )
    assert [(p, line) for p, line, _ in found] == [
        ("topic", 2),
        ("queues", 3),
        ("producers[0].target", 5),
        ("producers[1]", 6),
    ]
    assert "did you mean 'topics'" in found[0][2]
    assert found[2][2].startswith("missing")


def test_malformed_yaml_gives_its_line():
    with pytest.raises(ev.ScenarioError) as info:
        ev.load_scenario("topics:\n  - name: x\n   partitions: 2\n")
    [(path, line, message)] = info.value.problems
    assert (path, line) == ("", 3) and message.startswith("not valid YAML")


def test_a_missing_file_and_other_sources(tmp_path):
    with pytest.raises(ev.ScenarioError, match="cannot read the file"):
        ev.load_scenario(tmp_path / "nowhere.yaml")
    with pytest.raises(ev.ScenarioError, match=r"expected a \.yaml"):
        ev.load_scenario(tmp_path / "notes.txt")
    with pytest.raises(ev.ScenarioError, match="expected a mapping of sections"):
        ev.load_scenario("- a\n- b\n")
    with pytest.raises(ev.ScenarioError, match="not valid JSON"):
        ev.load_scenario('{"topics": [}')


def test_duplicate_keys_and_redrive_cycles_are_problems():
    found = problems(
        """
        queues:
          - {name: A, dead_letter: B, max_receive_count: 5}
          - {name: B, dead_letter: A, max_receive_count: 5}
        topics: [{name: t, partitions: 2, partitions: 3}]
        """
    )
    assert [(p, line) for p, line, _ in found] == [
        ("queues[1].dead_letter", 4),
        ("topics[0].partitions", 5),
    ]
    assert found[0][2] == "redrive cycle: A → B → A"
    assert found[1][2] == "duplicate key"


def test_yaml_exponent_numbers_get_a_hint():
    _, _, message = only("topics: [{name: t, retention: 1e3}]\n")
    assert "YAML reads it as text" in message


def test_every_problem_is_reported_at_once_in_line_order():
    text = """
        duration: -1
        consumer_groups:
          - name: g
            source: t
            consumers: 0
            retry: {max_attempts: 2, backoff: {base: 0.1, cap: 10, jitter: ful}}
            faults: [{transient_errors: {p: 2}}, {outage: {start: 5, end: 1}}]
        producers: [{name: p, target: nowhere, arrivals: {posson: {rate: 1}}}]
        topics: [{name: t, partitons: 2}]
        """
    with pytest.raises(ev.ScenarioError) as info:
        ev.load_scenario(textwrap.dedent(text))
    err = info.value
    assert [(p, line) for p, line, _ in err.problems] == [
        ("duration", 2),
        ("consumer_groups[0].consumers", 6),
        ("consumer_groups[0].retry.backoff.jitter", 7),
        ("consumer_groups[0].faults[0].transient_errors.p", 8),
        ("consumer_groups[0].faults[1].outage.end", 8),
        ("producers[0].target", 9),
        ("producers[0].arrivals", 9),
        ("topics[0].partitons", 10),
    ]
    lines = str(err).splitlines()
    assert lines[0] == "scenario: 8 problems:"
    assert lines[1] == "  line 2: duration: must be > 0, got -1"
    assert len(lines) == 9
    assert isinstance(err, ev.ConfigError) and isinstance(err, ValueError)


def test_scenario_errors_pickle():
    with pytest.raises(ev.ScenarioError) as info:
        ev.load_scenario("topics: [{name: t, partitions: 0}]\n")
    copy = pickle.loads(pickle.dumps(info.value))
    assert copy.problems == info.value.problems and str(copy) == str(info.value)
