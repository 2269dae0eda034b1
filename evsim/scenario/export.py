"""A simulation back to a scenario file: :func:`scenario_dict`, with :func:`tidy` for each
entry.

It writes what :mod:`evsim.scenario.specs` reads, the shortest way: arguments left at
their defaults are dropped, constants are numbers, and things of one kind (a retry, a
backoff, a circuit breaker, a throttle, a load latency, a call) are plain mappings of
their arguments, so a saved scenario reads like a hand-written one.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from evsim import _check
from evsim.actors import autoscale as autoscalers
from evsim.actors import budgets, faults
from evsim.actors.admission import Throttle
from evsim.actors.breaker import CircuitBreaker
from evsim.actors.load_latency import LoadLatency
from evsim.actors.request import Call
from evsim.actors.retry import NO_RETRY, Backoff, Retry
from evsim.errors import ConfigError
from evsim.scenario.specs import SECTIONS, parameters
from evsim.simulation import Simulation


def _differs(value: Any, parameter: inspect.Parameter) -> bool:
    default = parameter.default
    if default is inspect.Parameter.empty:
        return True
    return isinstance(value, bool) != isinstance(default, bool) or value != default


def _at_default(value: Any, parameter: inspect.Parameter) -> bool:
    """Whether ``value`` may be left out: its optional parameter's default, or None."""
    if parameter.default is inspect.Parameter.empty:
        return False
    return value is None or not _differs(value, parameter)


def _without_defaults(params: Mapping[str, Any], cls: Callable[..., Any]) -> dict[str, Any]:
    """``params`` (of ``cls``'s constructor) without those equal to its defaults."""
    defaults = parameters(cls)
    return {k: v for k, v in params.items() if k not in defaults or _differs(v, defaults[k])}


def _plain_distribution(spec: Any) -> Any:
    """A constant's spec as its number; other specs unchanged."""
    if isinstance(spec, Mapping) and set(spec) == {"constant"}:
        return spec["constant"]["value"]
    return spec


def _plain_backoff(spec: Mapping[str, Any]) -> Any:
    params = dict(spec["backoff"])
    if params["jitter"] == "none" and params["cap"] == params["base"]:
        return params["base"]  # a fixed delay
    return _without_defaults(params, Backoff)


def _plain_retry(spec: Any) -> Any:
    if not isinstance(spec, Mapping) or set(spec) != {"retry"}:
        return spec
    if spec == NO_RETRY.spec():
        return None
    params = dict(spec["retry"])
    params["backoff"] = _plain_backoff(params["backoff"])
    return _without_defaults(params, Retry)


def _plain_autoscale(spec: Any) -> Any:
    """An autoscaler's spec without its defaults, a constant ``startup`` as its number."""
    [(kind, params)] = spec.items()
    plain = {**params, "startup": _plain_distribution(params["startup"])}
    return {kind: _without_defaults(plain, autoscalers.KINDS[kind])}


def _plain_budget(spec: Any) -> Any:
    """A retry budget's one-key spec without its defaults (``{token_bucket: {}}``)."""
    [(kind, params)] = spec.items()
    return {kind: _without_defaults(params, budgets.KINDS[kind])}


def _plain_of(cls: type[LoadLatency | Throttle | CircuitBreaker]) -> Callable[[Any], Any]:
    """The writer of a one-kind spec: the plain mapping of its arguments, defaults dropped."""
    return lambda spec: _without_defaults(spec[cls.kind], cls)


def _plain_fault(spec: Any) -> Any:
    [(kind, params)] = spec.items()
    return {kind: {k: v for k, v in params.items() if v is not None}}


def _plain_calls(specs: list[Any]) -> list[dict] | None:
    """A service's calls as plain mappings of their arguments (retries, breakers and
    budgets written as in any entry)."""
    return [tidy(spec[Call.kind], parameters(Call)) for spec in specs] or None


PLAIN: dict[str, Callable[[Any], Any]] = {
    "latency": _plain_distribution,
    "service_time": _plain_distribution,
    "think_time": _plain_distribution,
    "retry": _plain_retry,
    "faults": lambda items: [_plain_fault(item) for item in items] or None,
    "autoscale": _plain_autoscale,
    "subscriptions": lambda items: [{k: v for k, v in s.items() if v is not None} for s in items],
    "load_latency": _plain_of(LoadLatency),
    "throttle": _plain_of(Throttle),
    "breaker": _plain_of(CircuitBreaker),
    "budget": _plain_budget,
    "calls": _plain_calls,
}
"""By field name, how a field's spec is written (fields not named are written as they are)."""


def tidy(entry: Mapping[str, Any], defaults: Mapping[str, inspect.Parameter]) -> dict:
    """An entry of ``sim.config["scenario"]`` (or a call's arguments) as a scenario file
    would write it; ``defaults``: the parameters of the method it is the arguments of."""
    out: dict[str, Any] = {}
    for key, value in entry.items():
        if value is not None and key in PLAIN:
            value = PLAIN[key](value)
        parameter = defaults.get(key)
        if parameter is None or not _at_default(value, parameter):
            out[key] = value
    return out


def scenario_dict(sim: Simulation, functions: str = "error") -> dict[str, Any]:
    """``sim``'s configuration as a scenario mapping that :func:`load_scenario` rebuilds.

    Arguments at their defaults are left out, constants are numbers and retries plain
    mappings; the retry topics of non-blocking retries are left out (the group recreates
    them). Handlers, payload and attribute functions and ``PoisonEvents(match=...)``
    cannot be written to a file: ``functions="error"`` raises ConfigError naming them,
    ``functions="drop"`` leaves them out (the rebuilt system then behaves differently).
    Write the result with ``yaml.safe_dump(scenario_dict(sim), sort_keys=False)``.
    """
    _check.choice("functions", functions, ("error", "drop"))
    config = sim.config
    out: dict[str, Any] = {"seed": config["seed"]}
    if sim.duration is not None:
        out["duration"] = sim.duration
    if config["sample_interval"] != 1.0:
        out["sample_interval"] = config["sample_interval"]
    if config["record"] != "full":
        out["record"] = config["record"]
    found = _functions(sim)
    if found and functions == "error":
        raise ConfigError(
            "scenario_dict: these are Python functions and cannot go into a scenario file: "
            f"{', '.join(found)}; pass functions='drop' to leave them out"
        )
    retry_topics = {
        topic.name
        for group in sim.groups.values()
        for chain in getattr(group.feed, "retry_topics", [])
        for topic in chain
    }
    for section, method in SECTIONS.items():
        defaults = parameters(getattr(Simulation, method))
        items = []
        # .get: a configuration without the request-response side has no such sections
        for index, entry in enumerate(config["scenario"].get(section, [])):
            if section == "topics" and entry["name"] in retry_topics:
                continue
            entry = tidy(entry, defaults)
            for field in ("payload", "attributes", "handler"):
                if f"{section}[{index}].{field}" in found:
                    entry.pop(field, None)
            if "faults" in entry:
                entry["faults"] = [f for f in entry["faults"] if not _matches(f)]
            items.append(entry)
        if items:
            out[section] = items
    return out


def _matches(fault: dict) -> bool:
    """Whether a fault's spec holds a match function (by name)."""
    return "match" in next(iter(fault.values()))


def _functions(sim: Simulation) -> list[str]:
    """Paths of the parts of ``sim`` that are functions (``producers[0].payload``)."""
    found = []
    for index, producer in enumerate(sim.producers.values()):
        for field in ("payload", "attributes"):
            if callable(getattr(producer.config, field)):
                found.append(f"producers[{index}].{field}")
    for index, group in enumerate(sim.groups.values()):
        if group.config.handler is not None:
            found.append(f"consumer_groups[{index}].handler")
        for number, item in enumerate(group.config.fault_list):
            if isinstance(item, faults.PoisonEvents) and item.match is not None:
                found.append(f"consumer_groups[{index}].faults[{number}].match")
    for index, service in enumerate(sim.services.values()):
        if service.config.handler is not None:
            found.append(f"services[{index}].handler")
    return found
