"""Adding the request-response side to a simulation: ``sim.service``, ``sim.client``,
``sim.load_balancer`` and ``sim.cache``, and starting them when the run starts.

Each component is built on the simulation's world and registered by name; services,
balancers and caches also in ``world.callees``, the directory calls are resolved in when
the run starts (so a service may call one added after it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evsim.actors.cache import Cache, CacheFlush
from evsim.actors.client import Client
from evsim.actors.client_config import ClientConfig
from evsim.actors.load_balancer import LoadBalancer
from evsim.actors.request import Callee
from evsim.actors.request_gauges import RequestGauges
from evsim.actors.service import Service
from evsim.actors.service_config import ServiceConfig
from evsim.brokers.world import World
from evsim.component_config import describe
from evsim.records import Records
from evsim.records.calls import CallTally, RequestTally


class RequestBuilders:
    """The request-response methods of :class:`~evsim.Simulation` (a base class)."""

    world: World
    records: Records
    services: dict[str, Service]
    clients: dict[str, Client]
    load_balancers: dict[str, LoadBalancer]
    caches: dict[str, Cache]

    def _free(self, name: Any) -> None:
        raise NotImplementedError  # Simulation's: refuse a taken or invalid name

    def _claim(self, name: str, kind: str) -> None:
        raise NotImplementedError  # Simulation's: register a component built successfully

    def service(self, *args: Any, **options: Any) -> Service:
        """Add a request-response service.

        Takes the fields of :class:`~evsim.actors.service_config.ServiceConfig` (``name``,
        ``workers`` and ``service_time`` by position or keyword, the rest by keyword);
        each is described there, with its unit and the real system's rule.
        """
        config = ServiceConfig.build(*args, **options)
        self._free(config.name)
        service = Service(self.world, config)
        self._claim(config.name, "service")
        self.world.callees[config.name] = service
        self.services[config.name] = service
        return service

    def client(self, *args: Any, **options: Any) -> Client:
        """Add a client sending requests to a service, open-loop (``arrivals``) or
        closed-loop (``users`` and ``think_time``).

        Takes the fields of :class:`~evsim.actors.client_config.ClientConfig` (``name``,
        ``target`` and ``arrivals`` by position or keyword, the rest by keyword).
        """
        config = ClientConfig.build(*args, **options)
        self._free(config.name)
        client = Client(self.world, config)
        self._claim(config.name, "client")
        self.clients[config.name] = client
        return client

    def load_balancer(
        self, name: str, targets: list[str], strategy: str = "round_robin"
    ) -> LoadBalancer:
        """Add a load balancer spreading calls over ``targets`` (services' names) by
        ``strategy``: ``"round_robin"``, ``"random"``, ``"least_connections"`` or
        ``"power_of_two"`` (see :class:`~evsim.actors.load_balancer.LoadBalancer`)."""
        self._free(name)
        balancer = LoadBalancer(self.world, name, targets, strategy)
        self._claim(name, "load balancer")
        self.world.callees[name] = balancer
        self.load_balancers[name] = balancer
        return balancer

    def cache(
        self, name: str, target: str, ttl: float, capacity: int, *, eviction: str = "lru",
        hit_time: float = 0.0005, timeout: float | None = None,
        faults: list[CacheFlush] | CacheFlush | None = None,
    ) -> Cache:  # fmt: skip
        """Add a read-through cache in front of ``target``: entries live ``ttl`` seconds,
        at most ``capacity`` of them; ``eviction`` "lru" or "fifo", ``hit_time`` (seconds),
        ``timeout`` (of a miss's call, seconds; None: no limit) and ``faults``
        (``ev.CacheFlush(at)``). See :class:`~evsim.actors.cache.Cache`."""
        self._free(name)
        cache = Cache(self.world, name, target, ttl, capacity, eviction, hit_time, timeout, faults)
        self._claim(name, "cache")
        self.world.callees[name] = cache
        self.caches[name] = cache
        return cache

    def _callee(self, name: str, argument: str) -> Callee:
        """The service, load balancer or cache called ``name`` (a call's target)."""
        callee: Callee = self.world.callee(name, argument)
        return callee

    def _launch_request_side(self, warmup: float) -> None:
        """Resolve every call's target and start the clients and faults; summary tallies
        measure after ``warmup`` (seconds)."""
        for service in self.services.values():
            service.measure_from = warmup
            service.launch(self._callee)
        for balancer in self.load_balancers.values():
            balancer.launch(self._callee)
        for cache in self.caches.values():
            cache.launch(self._callee)
        for client in self.clients.values():
            client.launch(self._callee)
        requests, calls = self.records.requests, self.records.calls
        if isinstance(requests, RequestTally) and isinstance(calls, CallTally):
            requests.warmup = calls.warmup = warmup
            requests.timeouts = {
                c.code: c.config.timeout for c in self.clients.values() if c.config.timeout
            }

    def _request_gauges(self) -> Callable[[float], None] | None:
        """The request-response side's gauge sampler (None without services or clients:
        the names of other runs' records stay as they were)."""
        if not (self.services or self.caches or self.clients):
            return None
        gauges = RequestGauges(
            self.records, list(self.services.values()), list(self.caches.values()),
            list(self.clients.values()),
        )  # fmt: skip
        return gauges.sample

    def _request_response_config(self) -> dict[str, Any]:
        """The services and clients, when there are any (older configs stay as they were)."""
        if not (self.services or self.clients or self.load_balancers or self.caches):
            return {}
        return {
            "services": [s.spec() for s in self.services.values()],
            "load_balancers": [b.spec() for b in self.load_balancers.values()],
            "caches": [c.spec() for c in self.caches.values()],
            "clients": [c.spec() for c in self.clients.values()],
        }


describe(RequestBuilders.service, ServiceConfig, "Service")
describe(RequestBuilders.client, ClientConfig, "Client")
