"""Scenario files: a whole system in YAML (or JSON, or a dict), checked before it runs.

::

    sim = ev.load_scenario("data/scenarios/order_flow.yaml")
    result = sim.run(until=sim.duration)

A scenario is a mapping with these keys, all optional:

* ``seed``, ``sample_interval``, ``record``, ``engine``: the arguments of
  :class:`~evsim.Simulation`; ``duration``: how long to run, in seconds (kept as
  ``sim.duration``, read by ``evsim run``; ``sim.run(until=...)`` still decides).
* ``topics``, ``queues``, ``fanouts``, ``producers``, ``consumer_groups``, ``redrives``:
  lists whose entries hold the keyword arguments of ``sim.topic``, ``sim.queue``,
  ``sim.fanout``, ``sim.producer``, ``sim.consumer_group`` and ``sim.redrive``. A fanout
  entry also takes ``subscriptions: [{queue: name, filter_policy: {...},
  filter_policy_scope: MessageBody}]`` (the arguments of ``Fanout.subscribe``; or just
  queue names).
* ``services``, ``load_balancers``, ``caches``, ``clients``: the request-response side,
  lists whose entries hold the keyword arguments of ``sim.service``,
  ``sim.load_balancer``, ``sim.cache`` and ``sim.client``. A service's ``calls`` is a
  list of the arguments of :class:`~evsim.Call` (``[{target: payment, timeout: 0.5,
  retry: {max_attempts: 3}}]``; or just target names).

Values are plain YAML. A distribution, arrival process, key chooser, fault or retry
budget is a one-key mapping naming its kind, a distribution may be a plain number of
seconds, and a retry, a circuit breaker, a throttle or a load latency is a plain mapping
of its class's arguments (see :mod:`evsim.scenario.specs`)::

    seed: 1
    duration: 60
    topics:
      - {name: order-events, partitions: 6, latency: 0.002}
    producers:
      - name: orders-service
        target: order-events
        arrivals: {poisson: {rate: 50}}
        event_type: OrderCreated
        keys: {uniform_keys: {n: 10000}}
    consumer_groups:
      - name: inventory-service
        source: order-events
        consumers: 3
        service_time: {exponential: {mean: 0.02}}
        faults: [{transient_errors: {p: 0.05}}]
        retry: {max_attempts: 4, backoff: {base: 0.1, cap: 10, jitter: full}}
        dead_letter: order-events-dlt
    services:
      - name: payment
        workers: 8
        service_time: {exponential: {mean: 0.01}}
        faults: [{capacity_loss: {start: 60, end: 90, workers: 4}}]
      - name: orders
        workers: 16
        calls:
          - target: payment
            timeout: 0.5
            retry: {max_attempts: 3, backoff: {base: 0.05, jitter: full}}
            breaker: {minimum_calls: 20, wait_in_open: 10}
            budget: {token_bucket: {}}
    clients:
      - {name: web, target: orders, arrivals: {poisson: {rate: 50}}, timeout: 2}

Names may be referenced before they are defined: brokers are built first (a queue's
dead-letter queue before the queue), then fanout subscriptions, consumer groups,
producers and redrives, then services, load balancers, caches and clients, whose
targets (and calls') are then looked up among the services, load balancers and caches.
Handlers and other functions cannot come from a file.

The whole file is checked before anything is returned: it is built, entry by entry,
into a fresh Simulation with the checks of the ``sim.*`` methods themselves; an argument
they refuse is noted with its path and line and left at its default, so the rest of the
entry is still checked. Any problem raises one :class:`ScenarioError` listing them all.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from evsim import _check
from evsim._check import did_you_mean
from evsim.actors.request import Call
from evsim.scenario import specs as scenario_specs
from evsim.scenario.export import scenario_dict
from evsim.scenario.problems import ERRORS, FAILED, Failed, Problems
from evsim.scenario.source import ScenarioError, Source, read_source
from evsim.scenario.specs import CONVERTERS, SECTIONS, parameters, unknown_field
from evsim.simulation import Simulation
from evsim.workload.arrivals import Periodic

__all__ = ["SECTIONS", "ScenarioError", "build", "load_scenario", "scenario_dict"]

SETTINGS = ("seed", "duration", "sample_interval", "record", "engine")
KEYS = [*SETTINGS, *SECTIONS]
BUILT_AFTER_BROKERS = (
    "consumer_groups", "producers", "redrives", "services", "load_balancers", "caches", "clients",
)  # fmt: skip
CALLEES = ("services", "load_balancers", "caches")  # what calls and clients may target
TARGETS = {"clients": "target", "caches": "target", "load_balancers": "targets"}
CALL_EXAMPLE = "{target: payment, timeout: 0.5}"
HANDLER = (
    "a handler is a Python function and cannot come from a scenario file; load the "
    "scenario, then add this {what} in Python with sim.{method}(..., handler=fn)"
)
HANDLED = {"consumer_groups": ("group", "consumer_group"), "services": ("service", "service")}
STAND_INS = {"arrivals": Periodic(interval=1.0)}  # keep checking a producer's other fields


def load_scenario(source: Any, *, seed: int | None = None) -> Simulation:
    """A :class:`~evsim.Simulation` built from a scenario, ready to ``run``.

    ``source`` is a path (``.yaml``, ``.yml``, ``.json``), a YAML or JSON text, or a
    dict. ``seed`` overrides the file's seed. The file's ``duration`` (seconds, or None)
    is kept as ``sim.duration``. Raises :class:`ScenarioError` listing every problem.
    """
    return build(read_source(source), seed)


def build(source: Source, seed: int | None = None) -> Simulation:
    """Check and build a :class:`~evsim.scenario.source.Source` (see :func:`load_scenario`)."""
    loader = _Loader(source)
    sim = loader.load(seed)
    loader.raise_found()
    return sim


class _Loader(Problems):
    """Builds a scenario into a Simulation, collecting problems instead of stopping."""

    def __init__(self, source: Source) -> None:
        super().__init__(source)
        self.cut: set[int] = set()  # queues whose dead_letter closes a redrive cycle
        self.targets: list[tuple[str, str]] = []  # (path, name) of a callee, for check_targets

    # --- the document ---------------------------------------------------------------

    def load(self, seed: int | None) -> Simulation:
        document = self.source.document
        if not isinstance(document, Mapping):
            what = "nothing" if document is None else f"{type(document).__name__} {document!r}"
            self.problem("", f"expected a mapping of sections ({', '.join(KEYS)}), got {what}")
            return Simulation()
        for key in document:
            if key not in KEYS:
                close = did_you_mean(key, KEYS)
                listed = ", ".join(KEYS)
                self.problem(str(key), f"unknown section;{close} expected one of: {listed}")
        sim = self.simulation(document, seed)
        entries = {section: self.entries(document, section) for section in SECTIONS}
        for index, entry in entries["topics"]:
            self.broker(sim, "topics", index, entry)
        queues = dict(entries["queues"])
        for index in self.queue_order(queues):
            self.broker(sim, "queues", index, queues[index])
        for index, entry in entries["fanouts"]:
            self.broker(sim, "fanouts", index, entry)
        for section in BUILT_AFTER_BROKERS:
            for index, entry in entries[section]:
                self.component(sim, section, index, entry)
        self.check_targets(sim)
        return sim

    def component(self, sim: Simulation, section: str, index: int, entry: Mapping) -> None:
        """Build one entry of a section other than the brokers'."""
        path = f"{section}[{index}]"
        method = getattr(sim, SECTIONS[section])
        kwargs = self.prepare(section, path, entry, method)
        if kwargs is not None:
            required = {k for k, p in parameters(method).items() if p.default is p.empty}
            if not isinstance(self.call(path, method, kwargs, required), Failed):
                if section in TARGETS:
                    self.target(path, TARGETS[section], kwargs[TARGETS[section]])
                return
        if section in CALLEES:  # a stand-in, so that calls to it are still checked
            with contextlib.suppress(*ERRORS):
                sim.service(entry.get("name"))

    def target(self, path: str, field: str, names: Any) -> None:
        """Note the callee name(s) at ``path.field``, looked up once all are built."""
        if isinstance(names, str):
            self.targets.append((f"{path}.{field}", names))
        else:
            self.targets.extend((f"{path}.{field}[{i}]", name) for i, name in enumerate(names))

    def check_targets(self, sim: Simulation) -> None:
        """Each noted target names a service, load balancer or cache of the scenario."""
        for path, name in self.targets:
            try:
                sim.world.callee(name, path)
            except ERRORS as err:
                self.error("", err, set(SECTIONS))

    def simulation(self, document: Mapping, seed: int | None) -> Simulation:
        settings = ("seed", "sample_interval", "record", "engine")
        kwargs = {k: document[k] for k in settings if k in document}
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        if seed is not None:
            kwargs["seed"] = seed
        sim = self.call("", Simulation, kwargs, set())
        sim = Simulation() if isinstance(sim, Failed) else sim
        duration = document.get("duration")
        if duration is not None:
            try:
                duration = _check.positive("duration", duration)
            except ERRORS as err:
                self.error("", err, {"duration"})
                duration = None
        sim.duration = duration
        return sim

    def entries(self, document: Mapping, section: str) -> list[tuple[int, Mapping]]:
        value = document.get(section)
        if value is None:
            return []
        what = SECTIONS[section].replace("_", " ")
        if not isinstance(value, list):
            self.problem(
                section,
                f"expected a list of {what}s, each an item such as '- name: ...', got {value!r}",
            )
            return []
        found = []
        for index, entry in enumerate(value):
            if isinstance(entry, Mapping):
                found.append((index, entry))
            else:
                self.problem(
                    f"{section}[{index}]",
                    f"expected a mapping of the {what}'s arguments (name: ...), got {entry!r}",
                )
        return found

    def prepare(
        self,
        section: str,
        path: str,
        entry: Mapping,
        method: Callable[..., Any],
        extra: tuple[str, ...] = (),
    ) -> dict | None:
        """The entry's keyword arguments with specs built; None if a required one is missing."""
        params = parameters(method)
        options = [*params, *extra]
        kwargs = {}
        for key, value in entry.items():
            if key == "handler" and section in HANDLED:
                if value is not None:
                    what, method_name = HANDLED[section]
                    self.problem(f"{path}.handler", HANDLER.format(what=what, method=method_name))
            elif key not in options:
                self.problem(f"{path}.{key}", unknown_field(key, options))
            else:
                kwargs[key] = value
        missing = [k for k, p in params.items() if p.default is p.empty and k not in kwargs]
        for key in missing:
            self.problem(f"{path}.{key}", "missing; this field is required")
        if missing:
            return None
        for key, convert in CONVERTERS[section].items():
            if key in kwargs:
                try:
                    kwargs[key] = convert(kwargs[key], key)
                except ERRORS as err:
                    self.error(path, err, {key})
                    if key in STAND_INS:
                        kwargs[key] = STAND_INS[key]
                    else:
                        del kwargs[key]
        if "faults" in kwargs:
            kwargs["faults"] = self.faults(path, kwargs["faults"])
        if "calls" in kwargs:
            kwargs["calls"] = self.calls(path, kwargs["calls"])
        return kwargs

    def faults(self, path: str, value: Any) -> list:
        built = []
        for argument, item in self.items(path, "faults", value, "{transient_errors: {p: 0.05}}"):
            try:
                built.append(scenario_specs.fault(item, argument))
            except ERRORS as err:
                self.error(path, err, {"faults"})
        return built

    def calls(self, path: str, value: Any) -> list[Call]:
        """A service's calls, each checked as an entry of :class:`~evsim.Call`'s arguments
        (a name alone is a call to it with the defaults)."""
        built = []
        for argument, item in self.items(path, "calls", value, CALL_EXAMPLE):
            where = f"{path}.{argument}"
            if isinstance(item, str):
                item = {"target": item}
            elif isinstance(item, Mapping) and set(item) == {Call.kind}:  # as spec() writes it
                where, item = f"{where}.{Call.kind}", item[Call.kind]
            if not isinstance(item, Mapping):
                expected = f"a service's name or a mapping such as {CALL_EXAMPLE}"
                self.problem(where, f"expected {expected}, got {item!r}")
                continue
            kwargs = self.prepare("calls", where, item, Call)
            call = FAILED if kwargs is None else self.call(where, Call, kwargs, {"target"})
            if isinstance(call, Call):
                built.append(call)
                self.target(where, "target", call.target)
        return built

    # --- brokers --------------------------------------------------------------------

    def broker(self, sim: Simulation, section: str, index: int, entry: Mapping) -> None:
        path = f"{section}[{index}]"
        method = getattr(sim, SECTIONS[section])
        extra = ("subscriptions",) if section == "fanouts" else ()
        kwargs = self.prepare(section, path, entry, method, extra)
        if kwargs is None:
            return
        subscriptions = kwargs.pop("subscriptions", None)
        if section == "queues" and index in self.cut:
            kwargs.pop("dead_letter", None)
            kwargs.pop("max_receive_count", None)
        built = self.call(path, method, kwargs, {"name"})
        if isinstance(built, Failed):  # a stand-in, so that references to it are still checked
            try:
                name = kwargs.get("name")
                built = method(name, fifo=True) if str(name).endswith(".fifo") else method(name)
            except ERRORS:
                return
        if section == "fanouts" and subscriptions is not None:
            self.subscriptions(f"{path}.subscriptions", built, subscriptions)

    def queue_order(self, queues: dict[int, Mapping]) -> list[int]:
        """Queue indices with each dead-letter queue before the queues that use it."""
        by_name = {e.get("name"): i for i, e in queues.items() if isinstance(e.get("name"), str)}
        order: list[int] = []

        def visit(index: int, chain: tuple[int, ...]) -> None:
            if index in order:
                return
            target = by_name.get(queues[index].get("dead_letter"))
            if target in chain:
                names = [queues[i]["name"] for i in (*chain, index, target)]
                self.problem(f"queues[{index}].dead_letter", f"redrive cycle: {' → '.join(names)}")
                self.cut.add(index)
            elif target is not None and target != index:
                visit(target, (*chain, index))
            if index not in order:
                order.append(index)

        for index in queues:
            visit(index, ())
        return order

    def subscriptions(self, path: str, fanout: Any, value: Any) -> None:
        if not isinstance(value, list):
            self.problem(
                path,
                "expected a list such as [{queue: NotificationQueue, filter_policy: "
                f"{{eventType: [OrderCreated]}}}}], got {value!r}",
            )
            return
        options = list(parameters(fanout.subscribe))
        for index, item in enumerate(value):
            where = f"{path}[{index}]"
            item = {"queue": item} if isinstance(item, str) else item
            if not isinstance(item, Mapping):
                self.problem(where, f"expected a queue name or {{queue: name}}, got {item!r}")
                continue
            unknown = [key for key in item if key not in options]
            for key in unknown:
                self.problem(f"{where}.{key}", unknown_field(key, options))
            if "queue" not in item:
                self.problem(f"{where}.queue", "missing; this field is required")
            elif not unknown:
                self.call(where, fanout.subscribe, dict(item), {"queue"})
