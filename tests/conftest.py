"""Scaffolding shared by the test modules, as fixtures (a test asks for one by naming it).

* ``order_flow_core`` and ``fanout_flow_core`` build the seed's two flows, for a test
  module to add the groups and queues it needs: Orders publishes OrderCreated to
  ``order-events`` and the Payment service answers each with PaymentProcessed (a handler
  chain); the SNS/SQS flow fans ``OrderEvents`` out to ``NotificationQueue``.
* ``series(result, metric, entity)`` reads one gauge of one entity.
* ``bad_argument(error, argument, expected)`` checks an error the way evsim promises to
  raise it (:mod:`evsim.errors`): the class, then a message naming the argument at fault
  and what was expected, as in ``rate: must be > 0, got 0``.

The flows and ``series`` are functions that tests call with their own arguments, so their
fixtures hand out the function; they are session-scoped, for module-scoped fixtures too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pandas as pd
import pytest

import evsim as ev

# --- the seed's flows ---------------------------------------------------------------------


def pay(event, ctx):
    """The seed's Payment service: an order comes in, a payment event goes out."""
    ctx.publish("order-events", "PaymentProcessed", key=event.key)


def build_order_flow(seed: int, rate: float = 20.0, **simulation) -> ev.Simulation:
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


def build_fanout_flow(
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


def gauge_series(result: ev.Result, metric: str, entity: str) -> pd.Series:
    """One gauge of one entity from ``result.timeseries``, indexed by sample time."""
    rows = result.timeseries
    rows = rows[(rows["metric"] == metric) & (rows["entity"] == entity)]
    return rows.set_index("time")["value"]


@pytest.fixture(scope="session")
def order_flow_core() -> Callable[..., ev.Simulation]:
    """``order_flow_core(seed, rate=20.0, **simulation)``: the seed's order flow."""
    return build_order_flow


@pytest.fixture(scope="session")
def fanout_flow_core() -> Callable[..., tuple[ev.Simulation, ev.Fanout]]:
    """``fanout_flow_core(seed, max_receive_count=2, failure_p=0.4, only_orders=True)``:
    the seed's SNS/SQS flow and its fan-out."""
    return build_fanout_flow


@pytest.fixture(scope="session")
def series() -> Callable[[ev.Result, str, str], pd.Series]:
    """``series(result, metric, entity)``: one gauge of one entity, indexed by time."""
    return gauge_series


# --- errors that name the argument --------------------------------------------------------


@contextmanager
def raises_naming(
    error: type[ev.EvsimError], argument: str, expected: str
) -> Iterator[pytest.ExceptionInfo]:
    """The block must raise exactly ``error`` (not a subclass) with a message that starts
    ``"<argument>: <expected>"``: it names the argument at fault, then says what was
    expected. ``expected`` is plain text (no regular expression), e.g. ``"must be > 0"``.
    """
    assert issubclass(error, ev.EvsimError), f"{error.__name__} is not an evsim error"
    with pytest.raises(error) as caught:
        yield caught
    raised, message = type(caught.value), str(caught.value)
    assert raised is error, f"raised {raised.__name__}, not {error.__name__}: {message}"
    named = f"{argument}: "
    assert message.startswith(named), f"the message does not name {argument!r} first: {message}"
    assert message[len(named) :].startswith(expected), (
        f"after {named!r} the message does not say {expected!r}: {message}"
    )


@pytest.fixture(scope="session")
def bad_argument() -> Callable[..., AbstractContextManager[pytest.ExceptionInfo]]:
    """``with bad_argument(ev.ConfigError, "rate", "must be > 0"): ev.Poisson(0)``, for
    the tables of bad arguments; see :func:`raises_naming`."""
    return raises_naming
