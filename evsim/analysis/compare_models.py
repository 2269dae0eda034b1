"""The seed's order flow built both ways, for :func:`evsim.analysis.compare.compare`.

Both systems take orders from one client, ``web`` (Poisson arrivals at ``rate`` orders a
second, each for one of 1,000 customers), into one entry service, ``orders`` (32 workers,
5 ms of its own work on average), and get each order handled by three downstreams:
``payment`` (8 workers, 50 ms: the slowest), ``inventory`` (4 workers, 20 ms) and
``notification`` (2 workers, 10 ms); each downstream attempt fails with probability
``errors`` (a transient error) and is retried ``retries`` times with the AWS full-jitter
backoff (50 ms base, 1 s cap).

* **Event-driven**: ``orders``'s handler publishes ``OrderCreated`` (keyed by customer,
  its payload the order's request id) to the Kafka-like topic ``order-events`` (8
  partitions, 2 ms to append) and answers at once: HTTP 202, acknowledged at publish
  (Kafka's ``send`` is asynchronous). ``payment``, ``inventory`` and ``notification`` are
  consumer groups of that topic with as many consumers as the request-response side has
  workers; blocking retries in place, then the dead-letter topic ``order-events-dlt``
  (Spring's ``DefaultErrorHandler`` with a ``DeadLetterPublishingRecoverer``); commits
  every 5 s (Kafka's ``auto.commit.interval.ms``), so a crash delivers again (duplicates).
* **Request-response**: ``orders`` calls ``payment``, then ``inventory``, then
  ``notification``, holding its worker throughout (a thread per request), each attempt
  waited on up to ``timeout`` seconds; a call that fails after its retries fails the
  order (HTTP 500). With ``breaker`` each call has a circuit breaker on Resilience4j's
  rules, with a window of 50 calls, ``minimum_calls=20`` and ``wait_in_open=5`` s instead
  of its defaults (100, 100, 60 s) so that it reacts within seconds at these rates.

The same component names give both the same random streams (:mod:`evsim.workload.rng`):
the client's arrivals and customer keys, and ``orders``'s own work, are the same draw for
draw in both systems (common random numbers: identical load). The downstreams' work has
the same distributions on both sides, drawn on each side's own streams (a consumer group
draws per consumer worker, a service in the order its requests start), so it matches in
distribution rather than draw for draw. Inventory is the downstream that fails: down for
the ``outage`` window (a group's consumers are down, a service refuses calls), or
``factor`` times slower for the ``spike`` window.
"""

from __future__ import annotations

from dataclasses import dataclass

from evsim.actors.breaker import CircuitBreaker
from evsim.actors.faults import Fault, Outage, Slowdown, TransientErrors
from evsim.actors.request import Call
from evsim.actors.retry import Backoff, Retry
from evsim.actors.service_handler import ServiceContext, ServiceRequest
from evsim.simulation import Simulation
from evsim.workload.arrivals import Poisson
from evsim.workload.dist import Exponential
from evsim.workload.keys import UniformKeys

EVENT_DRIVEN, REQUEST_RESPONSE = "event_driven", "request_response"
ARCHITECTURES = (EVENT_DRIVEN, REQUEST_RESPONSE)
CLIENT, ENTRY, TOPIC, DEAD_LETTER = "web", "orders", "order-events", "order-events-dlt"
DOWNSTREAMS = {"payment": (8, 0.05), "inventory": (4, 0.02), "notification": (2, 0.01)}
"""Each downstream's workers (consumers) and mean service time in seconds, in the order
the request-response ``orders`` calls them."""
FAULTY = "inventory"  # the downstream the outage and the spike hit
SLOWEST = "payment"  # the downstream whose service time the scalability sweep stretches
ENTRY_WORKERS, ENTRY_WORK = 32, 0.005  # orders's workers and mean own work (seconds)
CUSTOMERS, PARTITIONS, APPEND_LATENCY = 1_000, 8, 0.002  # keys; partitions; seconds
BACKOFF = Backoff(base=0.05, cap=1.0, jitter="full")  # seconds
SAMPLE_INTERVAL = 5.0  # seconds between gauge samples: the comparison reads no gauge


@dataclass(frozen=True)
class OrderFlow:
    """What both systems share: ``rate`` (orders per second), ``timeout`` (seconds a
    request-response call attempt is waited on), ``client_timeout`` (seconds the client
    waits for its answer, both systems), ``retries`` (after the first attempt, per
    downstream), ``breaker`` (request-response calls), ``errors`` (probability that a
    downstream attempt fails), ``slowest`` (factor on payment's mean service time),
    ``outage`` ((start, end) seconds inventory is down, or None) and ``spike`` ((start,
    end, factor): inventory's service times that many times longer, or None). Checked
    by :func:`~evsim.analysis.compare.compare`; plain values, so it travels to workers."""

    rate: float
    timeout: float
    client_timeout: float
    retries: int
    breaker: bool
    errors: float
    slowest: float = 1.0
    outage: tuple[float, float] | None = None
    spike: tuple[float, float, float] | None = None


def build(architecture: str, flow: OrderFlow, seed: int) -> Simulation:
    """The order flow as ``architecture`` (``"event_driven"`` or ``"request_response"``),
    built on ``seed`` and not yet run."""
    sim = Simulation(seed=seed, sample_interval=SAMPLE_INTERVAL)
    if architecture == EVENT_DRIVEN:
        _event_driven(sim, flow)
    else:
        _request_response(sim, flow)
    sim.client(CLIENT, ENTRY, Poisson(rate=flow.rate), timeout=flow.client_timeout,
               keys=UniformKeys(CUSTOMERS, prefix="customer-"))  # fmt: skip
    return sim


def build_all(flow: OrderFlow, seed: int) -> dict[str, Simulation]:
    """Both systems, by architecture, built on ``seed`` and not yet run."""
    return {architecture: build(architecture, flow, seed) for architecture in ARCHITECTURES}


def publish_order(request: ServiceRequest, ctx: ServiceContext) -> None:
    """The event-driven ``orders``: publish ``OrderCreated`` for the order (its payload
    the request id, which ties the events back to the order) and answer at once."""
    ctx.publish(TOPIC, "OrderCreated", key=request.key, payload=request.request_id)


def _event_driven(sim: Simulation, flow: OrderFlow) -> None:
    sim.topic(TOPIC, partitions=PARTITIONS, latency=APPEND_LATENCY)
    for name, (workers, mean) in DOWNSTREAMS.items():
        sim.consumer_group(
            name, TOPIC, consumers=workers, service_time=Exponential(mean=_mean(name, mean, flow)),
            retry=_retry(flow), dead_letter=DEAD_LETTER, faults=_faults(name, flow),
        )  # fmt: skip
    sim.service(ENTRY, ENTRY_WORKERS, Exponential(mean=ENTRY_WORK), handler=publish_order)


def _request_response(sim: Simulation, flow: OrderFlow) -> None:
    calls = []
    for name, (workers, mean) in DOWNSTREAMS.items():
        sim.service(name, workers, Exponential(mean=_mean(name, mean, flow)),
                    faults=_faults(name, flow))  # fmt: skip
        calls.append(Call(name, timeout=flow.timeout, retry=_retry(flow), breaker=_breaker(flow)))
    sim.service(ENTRY, ENTRY_WORKERS, Exponential(mean=ENTRY_WORK), calls=calls)


def _mean(name: str, mean: float, flow: OrderFlow) -> float:
    """A downstream's mean service time (seconds): payment's stretched by ``slowest``."""
    return mean * flow.slowest if name == SLOWEST else mean


def _breaker(flow: OrderFlow) -> CircuitBreaker | None:
    """A call's own breaker (one per edge), on a smaller window than Resilience4j's."""
    if not flow.breaker:
        return None
    return CircuitBreaker(sliding_window_size=50, minimum_calls=20, wait_in_open=5.0)


def _retry(flow: OrderFlow) -> Retry:
    return Retry(max_attempts=flow.retries + 1, backoff=BACKOFF)


def _faults(name: str, flow: OrderFlow) -> list[Fault]:
    """A downstream's faults: transient errors, and inventory's outage and spike."""
    faults: list[Fault] = [TransientErrors(p=flow.errors)] if flow.errors > 0 else []
    if name == FAULTY and flow.outage is not None:
        faults.append(Outage(*flow.outage))
    if name == FAULTY and flow.spike is not None:
        faults.append(Slowdown(*flow.spike))
    return faults
