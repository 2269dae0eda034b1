"""Flows and helpers shared by the test modules: the seed's order flow and its SNS/SQS flow.

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


def fanout_flow_core(
    seed: int, max_receive_count: int = 2, failure_p: float = 0.4, only_orders: bool = True
) -> tuple[ev.Simulation, ev.Fanout]:
    """The seed's SNS/SQS flow: ``OrderEvents`` fans out to ``NotificationQueue``
    (visibility 1 s, dead-letter queue ``NotificationDLQ``), read by a notifier whose
    attempts fail with probability ``failure_p``. Returns the simulation and the fan-out,
    for a test module to subscribe more queues."""
    sim = ev.Simulation(seed=seed)
    sns = sim.fanout("OrderEvents")
    sim.queue(
        "NotificationQueue", visibility_timeout=1, dead_letter="NotificationDLQ",
        max_receive_count=max_receive_count,
    )  # fmt: skip
    policy = {"eventType": ["OrderCreated"]} if only_orders else None
    sns.subscribe("NotificationQueue", filter_policy=policy)
    sim.producer("orders-service", "OrderEvents", ev.Poisson(rate=10), "OrderCreated")
    sim.consumer_group(
        "notifier", "NotificationQueue", service_time=0.01,
        faults=[ev.TransientErrors(p=failure_p)],
    )  # fmt: skip
    return sim, sns


def series(result: ev.Result, metric: str, entity: str):
    """One gauge of one entity from ``result.timeseries``, indexed by sample time."""
    rows = result.timeseries
    rows = rows[(rows["metric"] == metric) & (rows["entity"] == entity)]
    return rows.set_index("time")["value"]
