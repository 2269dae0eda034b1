"""A load balancer: spreads calls over services by a strategy.

Rules modelled (NGINX's and Envoy's balancing policies): the balancer forwards each
request to one target, adding no delay, and counts its own open connections per target
(forwarded, not yet answered):

* ``round_robin``: the targets in turn;
* ``random``: one at random, uniformly;
* ``least_connections``: the one with the fewest open connections (ties: the next in
  turn after the last choice);
* ``power_of_two``: two distinct targets at random, the one with fewer connections
  (Mitzenmacher's "power of two choices", Envoy's default LEAST_REQUEST).

A target that is down refuses at once, so its connections close at once and it looks
idle: least-connections then sends it nearly everything (*sinkholing*), which the
balancer's own counts, not the targets' health, decide. Each forward is a row in
``result.calls`` (balancer → target), beside the caller's row (caller → balancer). When
the caller has stopped waiting (its timeout) before the target answers ``ok``, the
balancer drops the answer, as a proxy does once its client has gone (Envoy resets the
upstream request when the downstream disconnects), and the row says ``timeout``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evsim import _check
from evsim.actors.request import Callee, Exchange
from evsim.brokers.world import World
from evsim.errors import ConfigError
from evsim.records.codes import NAN, CallStatus

OK, TIMEOUT = CallStatus.OK, CallStatus.TIMEOUT

STRATEGIES = ("round_robin", "random", "least_connections", "power_of_two")


class LoadBalancer:
    """Forwards calls to one of ``targets`` (service names) by ``strategy``."""

    kind = "load_balancer"

    def __init__(self, world: World, name: str, targets: list[str], strategy: str) -> None:
        self.world = world
        self.name = _check.name("name", name)
        self.code = world.records.names.code(self.name)
        if isinstance(targets, str) or not targets:
            raise ConfigError(
                f"targets: expected a non-empty list of service names, got {targets!r}"
            )
        self.target_names = [_check.name(f"targets[{i}]", t) for i, t in enumerate(targets)]
        if len(set(self.target_names)) != len(self.target_names):
            raise ConfigError(f"targets: each service once, got {self.target_names}")
        self.strategy = _check.choice("strategy", strategy, STRATEGIES)
        self.targets: list[Callee] = []
        self.connections = [0] * len(self.target_names)
        self._turn = 0
        self._rng = world.streams.generator("load_balancer", self.name, "choice")
        self._choose: Callable[[], int] = getattr(self, f"_{self.strategy}")

    def spec(self) -> dict[str, Any]:
        """The keyword arguments that rebuild this balancer."""
        return {"name": self.name, "targets": list(self.target_names), "strategy": self.strategy}

    def launch(self, find: Callable[[str, str], Callee]) -> None:
        """Find the targets (``find(name, argument)``)."""
        self.targets = [
            find(name, f"{self.name}: targets[{i}]") for i, name in enumerate(self.target_names)
        ]

    def accept(self, exchange: Exchange) -> None:
        """Forward ``exchange`` to the chosen target as a new exchange on that edge."""
        index = self._choose()
        target = self.targets[index]
        env = self.world.env
        started = env.now
        self.connections[index] += 1

        def answered(forward: Exchange, status: CallStatus) -> None:
            self.connections[index] -= 1
            taken = forward.started_at
            wait = taken - forward.arrived_at if taken == taken else NAN
            # a proxy whose client gave up drops the answer: the target's work came too
            # late for anyone (so it counts in the target's throughput, not its goodput)
            seen = TIMEOUT if exchange.abandoned and status == OK else status
            self.world.records.calls.add(
                exchange.request, self.code, target.code, 1, started, env.now, seen, wait
            )
            exchange.started_at = taken
            exchange.answer(status)

        target.accept(Exchange(started, exchange.request, exchange.key, answered, exchange))

    # --- strategies -----------------------------------------------------------------------

    def _round_robin(self) -> int:
        index = self._turn
        self._turn = (index + 1) % len(self.targets)
        return index

    def _random(self) -> int:
        return int(self._rng.integers(len(self.targets)))

    def _least_connections(self) -> int:
        n = len(self.targets)
        order = [(self._turn + k) % n for k in range(n)]
        index = min(order, key=self.connections.__getitem__)
        self._turn = (index + 1) % n
        return index

    def _power_of_two(self) -> int:
        if len(self.targets) == 1:
            return 0
        a, b = (int(i) for i in self._rng.choice(len(self.targets), size=2, replace=False))
        return a if self.connections[a] <= self.connections[b] else b
