"""A client: the load generator of the request-response side.

Rules modelled: an open-loop client sends on its arrival process whatever happens to the
requests already sent (many independent users: load does not drop when the service
slows, which is how overload builds); a closed-loop client has ``users`` that each wait
for their request to end, think, and send the next (load drops as latency grows). Each
request is one :class:`~evsim.actors.caller.Caller` call (attempts, timeout, retries)
and ends in one outcome: ``ok``, ``error``, ``timeout``, ``rejected`` (or
``short_circuited``); one still in flight at the stop is ``pending``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evsim.actors.arrival_timer import start_arrivals
from evsim.actors.caller import Caller
from evsim.actors.client_config import ClientConfig
from evsim.actors.request import Callee
from evsim.brokers.world import World
from evsim.records.codes import CallStatus

INF = float("inf")


class Client:
    """A client built from ``config`` on ``world`` (see the module's rules)."""

    kind = "client"

    def __init__(self, world: World, config: ClientConfig) -> None:
        self.world = world
        self.config = config
        self.name = config.name
        self.code = world.records.names.code(config.name)
        self.sent = 0
        self.useful = 0  # ok requests that came within the timeout (all ok without one)
        self.in_flight: dict[int, tuple[str | None, float]] = {}  # request → key, sent_at
        self.target: Callee | None = None
        self._caller: Caller | None = None
        keys = config.keys
        self._key: Callable[[], str] | None = None
        if keys is not None:
            self._key = keys.chooser(world.streams.generator("client", self.name, "keys"))

    def spec(self) -> dict[str, Any]:
        """The keyword arguments that rebuild this client."""
        config = self.config
        return {
            "name": self.name,
            "target": config.target,
            "arrivals": None if config.arrivals is None else config.arrivals.spec(),
            "users": config.users,
            "think_time": config.think_distribution.spec(),
            "keys": None if config.keys is None else config.keys.spec(),
            "timeout": config.timeout,
            "retry": None if config.retry is None else config.retry.spec(),
            "breaker": None if config.breaker is None else config.breaker.spec(),
            "budget": None if config.budget is None else config.budget.spec(),
            "start": config.start,
            "stop": config.stop,
        }

    @property
    def caller(self) -> Caller | None:
        """Its caller toward the target (made when the run starts)."""
        return self._caller

    def launch(self, find: Callable[[str, str], Callee]) -> None:
        """Find the target (``find(name, argument)``) and start sending."""
        config = self.config
        self.target = find(config.target, f"{self.name}: target")
        self._caller = Caller(
            self.world, self.code, self.target, config.timeout, config.retry, False,
            ("client", self.name), config.breaker, config.budget,
        )  # fmt: skip
        if config.arrivals is not None:
            self._open_loop()
        else:
            think = self.world.sampler(config.think_distribution, "client", self.name, "think")
            for _user in range(config.users or 0):
                self._user(think)

    def _open_loop(self) -> None:
        config = self.config
        assert config.arrivals is not None
        generator = self.world.streams.generator("client", self.name, "arrivals")
        times = iter(config.arrivals.times(generator, config.start))
        stop = INF if config.stop is None else config.stop
        start_arrivals(self.world.env, times, stop, self._send, config.arrivals)

    def _user(self, think: Callable[[], float]) -> None:
        """A user of the closed loop: send, wait for the end, think, send again."""
        env, stop = self.world.env, self.config.stop

        def send(_timer: object = None) -> None:
            if stop is None or env.now < stop:
                self._send(thought)

        def thought(_status: CallStatus) -> None:
            env.call_later(think(), send)

        env.call_later(self.config.start, send)

    def _send(self, then: Callable[[CallStatus], None] | None = None) -> None:
        """Send a request; when it ends, record it and call ``then(status)``."""
        env, records = self.world.env, self.world.records
        assert self._caller is not None and self.target is not None
        request = records.requests.next_id()
        key = self._key() if self._key is not None else None
        sent_at = env.now
        self.sent += 1
        self.in_flight[request] = (key, sent_at)
        timeout, target = self.config.timeout, self.target.code

        def ended(status: CallStatus, attempts: int) -> None:
            del self.in_flight[request]
            now = env.now
            if status == CallStatus.OK and (timeout is None or now - sent_at <= timeout):
                self.useful += 1
            records.requests.add(request, self.code, target, key, sent_at, now, status, attempts)
            if then is not None:
                then(status)

        self._caller.start(request, key, ended)
