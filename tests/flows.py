"""The seed's order flow, shared by the tests of what reads a run (plots, topology, export).

Orders publishes OrderCreated to ``order-events``; the Payment service reacts to each with
a PaymentProcessed event (a handler chain). Each test module adds the groups it needs.
"""

from __future__ import annotations

import evsim as ev


def pay(event, ctx):
    """The seed's Payment service: an order comes in, a payment event goes out."""
    ctx.publish("order-events", "PaymentProcessed", key=event.key)


def order_flow_core(seed: int, rate: float = 20.0, **simulation) -> ev.Simulation:
    """A simulation with the order topic, the orders producer and the payment service."""
    sim = ev.Simulation(seed=seed, **simulation)
    sim.topic("order-events", partitions=3, latency=0.002)
    sim.producer(
        "orders-service", "order-events", ev.Poisson(rate=rate), "OrderCreated", ev.UniformKeys(100)
    )
    sim.consumer_group(
        "payment-service", "order-events", event_types="OrderCreated", handler=pay,
        service_time=ev.Exponential(0.01),
    )  # fmt: skip
    return sim
