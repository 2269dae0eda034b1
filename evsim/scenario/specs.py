"""Scenario-file values ↔ evsim objects: distributions, arrivals, keys, faults, retries.

In a file, a distribution, arrival process, key chooser, fault or autoscaler is a one-key
mapping naming its kind (``{exponential: {mean: 0.02}}``, ``{lag_autoscaler:
{lag_threshold: 100}}``); a distribution may also be a plain
number of seconds (a constant). A retry is a plain mapping of :class:`~evsim.Retry`'s
arguments and its backoff a plain mapping of :class:`~evsim.Backoff`'s (or a number, a
fixed delay); the one-key forms ``{retry: {...}}`` and ``{backoff: {...}}`` that
``spec()`` writes are accepted too. Errors name the path inside the entry
(``retry.max_attempts: must be >= 1, got 0``).

:func:`scenario_dict` goes the other way (with :func:`tidy` for each entry): it drops
arguments left at their defaults and writes constants as numbers and retries as plain
mappings, so a saved scenario reads like a hand-written one.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from numbers import Real
from typing import Any, TypeVar, cast

from evsim import _check
from evsim._check import did_you_mean
from evsim.actors import autoscale as autoscalers
from evsim.actors import faults
from evsim.actors.retry import NO_RETRY, Backoff, Retry
from evsim.errors import ConfigError, ConfigTypeError
from evsim.simulation import Simulation
from evsim.workload import arrivals as arrivals_module
from evsim.workload import dist, keys
from evsim.workload.specs import build_from_spec

SECTIONS = {  # section → Simulation method its entries call
    "topics": "topic",
    "queues": "queue",
    "fanouts": "fanout",
    "producers": "producer",
    "consumer_groups": "consumer_group",
    "redrives": "redrive",
}
RETRY_EXAMPLE = "{max_attempts: 4, backoff: {base: 0.1, cap: 10, jitter: full}}"
BACKOFF_EXAMPLE = "{base: 0.1, cap: 10, jitter: full}"


def parameters(fn: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    """The keyword parameters of ``fn`` (a ``Simulation`` method or a class), ``self`` and
    ``*args``/``**kwargs`` left out."""
    return {
        name: p
        for name, p in inspect.signature(fn).parameters.items()
        if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }


def unknown_field(key: Any, options: list[str]) -> str:
    """``unknown field; did you mean 'partitions'? expected one of: name, partitions``."""
    hint = did_you_mean(key, options)
    return f"unknown field;{hint} expected one of: {', '.join(options)}"


_SUGGEST = (
    re.compile(r"unknown kind '([^']*)'; known kinds: (.+)$"),
    re.compile(r"unknown parameter '([^']*)'; expected: (.+)$"),
    re.compile(r"expected one of (.+), got '([^']*)'$"),
    re.compile(r"named '([^']*)' \(known: (.+)\)$"),
)
_NUMBER_TEXT = re.compile(r"expected (?:a|a whole|a finite) number, got '([^']*)'$")


def hint(message: str) -> str:
    """``message`` with a "did you mean" for a near-miss name, or a note on YAML numbers."""
    for index, pattern in enumerate(_SUGGEST):
        match = pattern.search(message)
        if match:
            word, listed = match.groups() if index != 2 else match.groups()[::-1]
            options = [o.strip().strip("'") for o in listed.split(",")]
            hint = did_you_mean(word, options)
            return f"{message};{hint}" if hint else message
    match = _NUMBER_TEXT.search(message)
    if match:
        try:
            float(match.group(1))
        except ValueError:
            return message
        return f"{message} (YAML reads it as text: write 1000 or 1.0e+3, not 1e3)"
    return message


def _check_fields(argument: str, value: Mapping[str, Any], cls: type) -> None:
    options = list(parameters(cls))
    for key in value:
        if key not in options:
            raise ConfigError(f"{argument}.{key}: {unknown_field(key, options)}")
    for key, parameter in parameters(cls).items():
        if parameter.default is inspect.Parameter.empty and key not in value:
            raise ConfigError(f"{argument}: missing field {key!r}")


Built = TypeVar("Built")


def _renamed(argument: str, build: Callable[[], Built]) -> Built:
    """Run ``build``; prefix the argument its errors name with ``argument.``."""
    try:
        return build()
    except (ConfigError, ConfigTypeError) as err:
        raise type(err)(f"{argument}.{err}") from err


# --- file → objects ---------------------------------------------------------------------


def distribution(value: Any, argument: str) -> dist.Distribution:
    """``{kind: {...}}`` or a number of seconds (a constant)."""
    return dist.from_spec(value, argument)


def arrivals(value: Any, argument: str) -> arrivals_module.Arrivals:
    """``{poisson: {rate: 50}}``, ``{schedule: {steps: [[0, 50], [60, 500]]}}``, ..."""
    if isinstance(value, Real) and not isinstance(value, bool):
        raise ConfigTypeError(
            f"{argument}: expected an arrival process such as {{poisson: {{rate: {value}}}}} "
            f"or {{periodic: {{interval: 1}}}}, got the number {value!r}"
        )
    return arrivals_module.from_spec(value, argument)


def key_chooser(value: Any, argument: str) -> keys.KeyChooser | None:
    """``{uniform_keys: {n: 10000}}``, ``{zipf_keys: {n: 10000, s: 1.2}}`` or null."""
    return keys.from_spec(value, argument)


_DURATIONS = {"crashes": ("mttf", "mttr"), "contention": ("latency",)}  # distributions


def fault(value: Any, argument: str) -> faults.Fault:
    """``{transient_errors: {p: 0.05}}``, ``{crashes: {mttf: 60, mttr: 5}}``,
    ``{contention: {latency: {folded_normal: {loc: 0.01, scale: 0.002}}}}``, ..."""
    if isinstance(value, Mapping) and len(value) == 1:
        [(kind, params)] = value.items()
        if isinstance(params, Mapping):
            params = dict(params)
            if kind == "poison_events" and "match" in params:
                raise ConfigTypeError(
                    f"{argument}.poison_events.match: a match function cannot come from a "
                    "scenario file; give p, the share of events that are poison"
                )
            for key in _DURATIONS.get(kind, ()):
                if isinstance(params.get(key), Mapping):
                    params[key] = dist.from_spec(params[key], f"{argument}.{kind}.{key}")
            value = {kind: params}
    return build_from_spec(value, faults.KINDS, argument)


def backoff(value: Any, argument: str) -> Backoff | float:
    """A plain mapping of Backoff's arguments, ``{backoff: {...}}``, or a number."""
    if isinstance(value, Backoff):
        return value
    if isinstance(value, Real) and not isinstance(value, bool):
        return cast(float, value)  # Retry checks a number (a fixed delay, FixedBackOff)

    if isinstance(value, Mapping) and set(value) == {"backoff"}:
        argument, value = f"{argument}.backoff", value["backoff"]
    if not isinstance(value, Mapping):
        raise ConfigTypeError(
            f"{argument}: expected a number of seconds (a fixed delay) or a mapping such as "
            f"{BACKOFF_EXAMPLE}, got {value!r}"
        )
    _check_fields(argument, value, Backoff)
    return _renamed(argument, lambda: Backoff(**value))


def retry(value: Any, argument: str) -> Retry | None:
    """A plain mapping of Retry's arguments (or ``{retry: {...}}``); null: no retries."""
    if value is None or isinstance(value, Retry):
        return value
    if isinstance(value, Mapping) and set(value) == {"retry"}:
        argument, value = f"{argument}.retry", value["retry"]
    if not isinstance(value, Mapping):
        raise ConfigTypeError(
            f"{argument}: expected a mapping such as {RETRY_EXAMPLE}, got {value!r}"
        )
    _check_fields(argument, value, Retry)
    kwargs = dict(value)
    if "backoff" in kwargs:
        kwargs["backoff"] = backoff(kwargs["backoff"], f"{argument}.backoff")
    return _renamed(argument, lambda: Retry(**kwargs))


def autoscale(value: Any, argument: str) -> autoscalers.Autoscale | None:
    """``{lag_autoscaler: {lag_threshold: 100, ...}}``, ``{queue_autoscaler: {...}}`` or
    null; ``startup`` may be a distribution's mapping or a number of seconds."""
    if value is None or isinstance(value, autoscalers.Autoscale):
        return value
    if isinstance(value, Mapping) and len(value) == 1:
        [(kind, params)] = value.items()
        if isinstance(params, Mapping) and isinstance(params.get("startup"), Mapping):
            startup = dist.from_spec(params["startup"], f"{argument}.{kind}.startup")
            value = {kind: {**params, "startup": startup}}
    return build_from_spec(value, autoscalers.KINDS, argument)


CONVERTERS: dict[str, dict[str, Callable[[Any, str], Any]]] = {
    "topics": {"latency": distribution},
    "queues": {"latency": distribution},
    "fanouts": {"latency": distribution},
    "producers": {"arrivals": arrivals, "keys": key_chooser},
    "consumer_groups": {"service_time": distribution, "retry": retry, "autoscale": autoscale},
    "redrives": {},
}
"""Per section, the fields holding a spec and the function that builds it (faults, a
list, are converted item by item by the loader)."""


# --- objects → file ---------------------------------------------------------------------


def _plain_distribution(spec: Any) -> Any:
    """A constant's spec as its number; other specs unchanged."""
    if isinstance(spec, Mapping) and set(spec) == {"constant"}:
        return spec["constant"]["value"]
    return spec


def _plain_backoff(spec: Mapping[str, Any]) -> Any:
    params = dict(spec["backoff"])
    if params["jitter"] == "none" and params["cap"] == params["base"]:
        return params["base"]  # a fixed delay
    defaults = parameters(Backoff)
    return {k: v for k, v in params.items() if k == "base" or v != defaults[k].default}


def _plain_retry(spec: Any) -> Any:
    if not isinstance(spec, Mapping) or set(spec) != {"retry"}:
        return spec
    if spec == NO_RETRY.spec():
        return None
    params = dict(spec["retry"])
    params["backoff"] = _plain_backoff(params["backoff"])
    defaults = parameters(Retry)
    return {k: v for k, v in params.items() if v != defaults[k].default}


def _plain_autoscale(spec: Any) -> Any:
    """An autoscaler's spec without its defaults, a constant ``startup`` as its number."""
    [(kind, params)] = spec.items()
    defaults = parameters(autoscalers.KINDS[kind])
    plain = {**params, "startup": _plain_distribution(params["startup"])}
    return {kind: {k: v for k, v in plain.items() if k not in defaults or _differs(v, defaults[k])}}


def _differs(value: Any, parameter: inspect.Parameter) -> bool:
    default = parameter.default
    if default is inspect.Parameter.empty:
        return True
    return isinstance(value, bool) != isinstance(default, bool) or value != default


def _plain_fault(spec: Any) -> Any:
    [(kind, params)] = spec.items()
    return {kind: {k: v for k, v in params.items() if v is not None}}


def tidy(entry: Mapping[str, Any], defaults: Mapping[str, inspect.Parameter]) -> dict:
    """An entry of ``sim.config["scenario"]`` as a scenario file would write it."""
    out: dict[str, Any] = {}
    for key, value in entry.items():
        if key in ("latency", "service_time"):
            value = _plain_distribution(value)
        elif key == "retry":
            value = _plain_retry(value)
        elif key == "faults":
            value = [_plain_fault(item) for item in value] or None
        elif key == "autoscale" and value is not None:
            value = _plain_autoscale(value)
        elif key == "subscriptions":
            value = [{k: v for k, v in s.items() if v is not None} for s in value]
        parameter = defaults.get(key)
        if parameter is not None and parameter.default is not inspect.Parameter.empty:
            default = parameter.default
            same_kind = isinstance(value, bool) == isinstance(default, bool)
            if value is None or (same_kind and value == default):
                continue
        out[key] = value
    return out


# --- a simulation back to a file ----------------------------------------------------


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
        for index, entry in enumerate(config["scenario"][section]):
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
    return found
