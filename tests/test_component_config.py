"""Config dataclasses (evsim.component_config, brokers.configs, actors.*_config): each
component's fields are spelt once, and the Simulation method, the scenario loader and the
component all read them."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

import evsim as ev
from evsim.actors.group_config import GroupConfig
from evsim.actors.producer_config import ProducerConfig
from evsim.brokers.configs import FanoutConfig, QueueConfig, TopicConfig
from evsim.scenario.specs import parameters

CONFIGS = {
    "topic": TopicConfig,
    "queue": QueueConfig,
    "fanout": FanoutConfig,
    "producer": ProducerConfig,
    "consumer_group": GroupConfig,
}


def field_names(config: type) -> list[str]:
    return [f.name for f in dataclasses.fields(config) if f.name != "_"]


@pytest.mark.parametrize("method, config", CONFIGS.items())
def test_a_simulation_method_takes_exactly_its_configs_fields(method, config):
    signature = inspect.signature(getattr(ev.Simulation(seed=1), method))
    assert list(signature.parameters) == field_names(config)
    defaults = {f.name: f.default for f in dataclasses.fields(config)}
    for name, parameter in signature.parameters.items():
        expected = defaults[name]
        if expected is dataclasses.MISSING:
            assert parameter.default is inspect.Parameter.empty
        else:
            assert parameter.default == expected


@pytest.mark.parametrize("method, config", CONFIGS.items())
def test_the_scenario_loader_checks_entries_against_the_same_fields(method, config):
    assert list(parameters(getattr(ev.Simulation, method))) == field_names(config)


@pytest.mark.parametrize("method, config", CONFIGS.items())
def test_help_shows_every_field_described_once(method, config):
    doc = getattr(ev.Simulation, method).__doc__
    for name in field_names(config):
        assert f"``{name}``" in doc, f"{method}: {name} is not described"
    assert doc == inspect.getdoc(getattr(ev.Simulation(seed=1), method))


@pytest.mark.parametrize(
    "call, misspelt, hint",
    [
        (lambda sim: sim.topic("t", partitons=3), "partitons", "partitions"),
        (
            lambda sim: sim.queue("q", visiblity_timeout=3),
            "visiblity_timeout",
            "visibility_timeout",
        ),
        (lambda sim: sim.fanout("f", fifoo=True), "fifoo", "fifo"),
        (lambda sim: sim.producer("p", "t", ev.Poisson(1), startt=1), "startt", "start"),
        (lambda sim: sim.consumer_group("g", "t", servce_time=1), "servce_time", "service_time"),
    ],
)
def test_a_misspelt_field_is_refused_with_the_closest_one_named(call, misspelt, hint):
    sim = ev.Simulation(seed=1)
    with pytest.raises(ev.ConfigTypeError) as caught:
        call(sim)
    message = str(caught.value)
    assert repr(misspelt) in message and f"did you mean {hint!r}?" in message
    assert "fields: name" in message


@pytest.mark.parametrize(
    "config, kwargs, argument",
    [
        (TopicConfig, {"name": "t", "partitions": 0}, "partitions"),
        (TopicConfig, {"name": "t", "retention": -1}, "retention"),
        (QueueConfig, {"name": "q", "visibility_timeout": 43201}, "visibility_timeout"),
        (QueueConfig, {"name": "q", "max_receive_count": 1001}, "max_receive_count"),
        (
            QueueConfig,
            {"name": "q", "content_based_deduplication": True},
            "content_based_deduplication",
        ),
        (QueueConfig, {"name": "q.fifo"}, "name"),
        (
            FanoutConfig,
            {"name": "f", "content_based_deduplication": True},
            "content_based_deduplication",
        ),
        (
            ProducerConfig,
            {"name": "p", "target": "t", "arrivals": ev.Poisson(1), "start": 5, "stop": 2},
            "stop",
        ),
    ],
)
def test_a_config_checks_its_fields_without_a_simulation(config, kwargs, argument, bad_argument):
    with bad_argument(ev.ConfigError, argument, ""):
        config(**kwargs)


def test_configs_are_frozen_and_keep_the_normal_form():
    config = TopicConfig("t", partitions=3, latency=0.002)
    assert config.latency == ev.Constant(0.002)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.partitions = 4  # type: ignore[misc]


def test_a_component_reads_its_settings_from_its_config():
    sim = ev.Simulation(seed=1)
    topic = sim.topic("t", partitions=2)
    producer = sim.producer("p", "t", ev.Poisson(rate=2), keys=ev.UniformKeys(5))
    group = sim.consumer_group("g", "t", service_time=0.5, commit="before")
    assert topic.config == TopicConfig("t", partitions=2)
    assert (producer.arrivals, producer.keys) == (ev.Poisson(rate=2), ev.UniformKeys(5))
    assert producer.target is topic  # the resolved broker, not the name it was given
    assert (group.service_time, group.commit) == (ev.Constant(0.5), "before")
    assert not hasattr(type(group), "__getattr__")  # properties: attribute reads stay fast
