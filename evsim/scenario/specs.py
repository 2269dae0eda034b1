"""Scenario-file values → evsim objects: distributions, arrivals, keys, faults, retries,
and the request-response side's breakers, budgets, throttles and load latency.

In a file, a thing of several kinds (a distribution, arrival process, key chooser, fault,
autoscaler or retry budget) is a one-key mapping naming its kind (``{exponential: {mean:
0.02}}``, ``{lag_autoscaler: {lag_threshold: 100}}``, ``{token_bucket: {}}``); a
distribution may also be a plain number of seconds (a constant). A thing of one kind (a
retry, a backoff, a circuit breaker, a throttle, a load latency, a service's call) is a
plain mapping of its class's arguments (``{max_attempts: 4, backoff: {base: 0.1}}``,
``{failure_rate_threshold: 50}``; a backoff may also be a number, a fixed delay), and the
one-key form that ``spec()`` writes (``{retry: {...}}``, ``{circuit_breaker: {...}}``) is
accepted too. Errors name the path inside the entry (``retry.max_attempts: must be >= 1,
got 0``).

:mod:`evsim.scenario.export` goes the other way (:func:`~evsim.scenario.export.scenario_dict`).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from numbers import Real
from typing import Any, TypeVar, cast

from evsim._check import did_you_mean
from evsim.actors import autoscale as autoscalers
from evsim.actors import budgets, faults
from evsim.actors.admission import Throttle
from evsim.actors.breaker import CircuitBreaker
from evsim.actors.cache import CacheFlush
from evsim.actors.load_latency import LoadLatency
from evsim.actors.retry import Backoff, Retry
from evsim.errors import ConfigError, ConfigTypeError
from evsim.workload import arrivals as arrivals_module
from evsim.workload import dist, keys
from evsim.workload.specs import Specified, build_from_spec

SECTIONS = {  # section → Simulation method its entries call
    "topics": "topic",
    "queues": "queue",
    "fanouts": "fanout",
    "producers": "producer",
    "consumer_groups": "consumer_group",
    "redrives": "redrive",
    "services": "service",
    "load_balancers": "load_balancer",
    "caches": "cache",
    "clients": "client",
}
RETRY_EXAMPLE = "{max_attempts: 4, backoff: {base: 0.1, cap: 10, jitter: full}}"
BACKOFF_EXAMPLE = "{base: 0.1, cap: 10, jitter: full}"
EXAMPLES = {  # a plain mapping of each one-kind class's arguments, as errors show it
    LoadLatency: "{mode: polynomial, factor: 4, exponent: 3}",
    Throttle: "{rate: 100, burst: 20}",
    CircuitBreaker: "{failure_rate_threshold: 50, wait_in_open: 30}",
}
FAULT_KINDS: dict[str, type[Specified]] = {**faults.KINDS, CacheFlush.kind: CacheFlush}
"""The faults a file may name: a consumer group's and a service's, and a cache's flush
(each component refuses the kinds it does not take)."""


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


def arguments(
    value: Any, argument: str, cls: type[Specified], expected: str
) -> tuple[str, dict[str, Any]]:
    """A plain mapping of ``cls``'s arguments (or the one-key ``{kind: {...}}`` that
    ``spec()`` writes), checked for unknown and missing fields: the argument its errors
    name and the arguments. ``expected`` words what else was acceptable."""
    if isinstance(value, Mapping) and set(value) == {cls.kind}:
        argument, value = f"{argument}.{cls.kind}", value[cls.kind]
    if not isinstance(value, Mapping):
        raise ConfigTypeError(f"{argument}: expected {expected}, got {value!r}")
    _check_fields(argument, value, cls)
    return argument, dict(value)


One = TypeVar("One", LoadLatency, Throttle, CircuitBreaker)


def _one_kind(value: Any, argument: str, cls: type[One]) -> One | None:
    """``cls`` from a plain mapping of its arguments (see :func:`arguments`); null: None."""
    if value is None or isinstance(value, cls):
        return value
    argument, kwargs = arguments(value, argument, cls, f"a mapping such as {EXAMPLES[cls]}")
    return _renamed(argument, lambda: cls(**kwargs))


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


def open_loop(value: Any, argument: str) -> arrivals_module.Arrivals | None:
    """A client's arrivals (see :func:`arrivals`), or null: a closed loop (``users``)."""
    return None if value is None else arrivals(value, argument)


def key_chooser(value: Any, argument: str) -> keys.KeyChooser | None:
    """``{uniform_keys: {n: 10000}}``, ``{zipf_keys: {n: 10000, s: 1.2}}`` or null."""
    return keys.from_spec(value, argument)


_DURATIONS = {"crashes": ("mttf", "mttr"), "contention": ("latency",)}  # distributions


def fault(value: Any, argument: str) -> Specified:
    """``{transient_errors: {p: 0.05}}``, ``{crashes: {mttf: 60, mttr: 5}}``,
    ``{contention: {latency: {folded_normal: {loc: 0.01, scale: 0.002}}}}``,
    ``{capacity_loss: {start: 60, end: 120, workers: 2}}``, ``{cache_flush: {at: 30}}``, ..."""
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
    return build_from_spec(value, FAULT_KINDS, argument)


def backoff(value: Any, argument: str) -> Backoff | float:
    """A plain mapping of Backoff's arguments, ``{backoff: {...}}``, or a number."""
    if isinstance(value, Backoff):
        return value
    if isinstance(value, Real) and not isinstance(value, bool):
        return cast(float, value)  # Retry checks a number (a fixed delay, FixedBackOff)
    expected = f"a number of seconds (a fixed delay) or a mapping such as {BACKOFF_EXAMPLE}"
    argument, kwargs = arguments(value, argument, Backoff, expected)
    return _renamed(argument, lambda: Backoff(**kwargs))


def retry(value: Any, argument: str) -> Retry | None:
    """A plain mapping of Retry's arguments (or ``{retry: {...}}``); null: no retries."""
    if value is None or isinstance(value, Retry):
        return value
    argument, kwargs = arguments(value, argument, Retry, f"a mapping such as {RETRY_EXAMPLE}")
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


def load_latency(value: Any, argument: str) -> LoadLatency | None:
    """``{mode: polynomial, factor: 4, exponent: 3}`` (LoadLatency's arguments) or null."""
    return _one_kind(value, argument, LoadLatency)


def throttle(value: Any, argument: str) -> Throttle | None:
    """``{rate: 100, burst: 20}`` (Throttle's arguments) or null."""
    return _one_kind(value, argument, Throttle)


def breaker(value: Any, argument: str) -> CircuitBreaker | None:
    """A plain mapping of CircuitBreaker's arguments (``{}``: Resilience4j's defaults) or
    null."""
    return _one_kind(value, argument, CircuitBreaker)


def budget(value: Any, argument: str) -> budgets.TokenBucket | budgets.RetryThrottle | None:
    """``{token_bucket: {}}`` (the AWS SDKs' defaults), ``{retry_throttle: {max_tokens: 10,
    token_ratio: 0.1}}`` or null."""
    if value is None or isinstance(value, budgets.TokenBucket | budgets.RetryThrottle):
        return value
    return build_from_spec(value, budgets.KINDS, argument)


SPEC_FIELDS: dict[str, Callable[[Any, str], Any]] = {  # a client's and a call's
    "retry": retry, "breaker": breaker, "budget": budget,
}  # fmt: skip
CONVERTERS: dict[str, dict[str, Callable[[Any, str], Any]]] = {
    "topics": {"latency": distribution},
    "queues": {"latency": distribution},
    "fanouts": {"latency": distribution},
    "producers": {"arrivals": arrivals, "keys": key_chooser},
    "consumer_groups": {"service_time": distribution, "retry": retry, "autoscale": autoscale},
    "redrives": {},
    "services": {"service_time": distribution, "load_latency": load_latency, "throttle": throttle},
    "load_balancers": {},
    "caches": {},
    "clients": {
        "arrivals": open_loop,
        "keys": key_chooser,
        "think_time": distribution,
        **SPEC_FIELDS,
    },
    "calls": SPEC_FIELDS,
}
"""Per section, the fields holding a spec and the function that builds it; ``calls``: the
fields of a service's call. Faults and calls, lists, are converted item by item by the
loader."""
