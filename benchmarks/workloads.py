"""The workloads of the memory benchmark: a queue, a topic, and a faulty system.

Each ``run(events, seed, record)`` publishes about ``events`` events (Poisson arrivals,
run until ``events / rate`` simulated seconds), reads ``result.summary()`` and returns
(events processed over all groups, their mean latency in seconds).

- ``queue``: the M/M/4 queue of ``mm4.py`` (3.6 events/s, 4 consumers, mean service 1 s).
- ``topic``: 100 events/s keyed over 10,000 keys into a topic of 6 partitions, read by two
  groups: 4 consumers at-least-once (mean service 10 ms), 2 at-most-once (2 ms).
- ``faulty``: the topic above read by one group with transient errors (10 %), poison
  events (1 %), crashes (mean up 60 s, down 5 s, 5 s session timeout), non-blocking
  retries into retry topics and a dead-letter topic, and an idempotency store with a
  10 s window; beside it a queue (25 events/s, visibility 1 s, a DLQ after 3 receives)
  read by 2 consumers with 10 % transient errors. The dead-letter topic and queue keep
  their records an hour (``retention``): what they hold then stays bounded however long
  the run, so the benchmark measures evsim's own memory (with SQS's 4 days or Kafka's 7,
  a dead-letter target's contents grow with the run, in evsim as in the real system).
"""

from __future__ import annotations

from collections.abc import Callable

import mm4

import evsim as ev

Outcome = tuple[int, float]
TOPIC_RATE = 100.0  # events per second
DEAD_LETTER_RETENTION = 3600.0  # seconds


def _totals(result: ev.Result) -> Outcome:
    summary = result.summary()
    processed = int(summary["processed"].sum())
    weighted = (summary["latency_mean"] * summary["processed"]).sum()
    return processed, float(weighted / processed) if processed else float("nan")


def _orders(sim: ev.Simulation, rate: float) -> None:
    sim.topic("orders", partitions=6)
    sim.producer("shop", "orders", ev.Poisson(rate=rate), keys=ev.UniformKeys(10_000))


def topic(events: int, seed: int, record: str = "summary") -> Outcome:
    sim = ev.Simulation(seed=seed, record=record)
    _orders(sim, TOPIC_RATE)
    sim.consumer_group("inventory", "orders", consumers=4, service_time=ev.Exponential(0.01))
    sim.consumer_group(
        "metrics", "orders", consumers=2, service_time=ev.Exponential(0.002), commit="before"
    )
    return _totals(sim.run(until=events / TOPIC_RATE))


def faulty(events: int, seed: int, record: str = "summary") -> Outcome:
    queue_rate = TOPIC_RATE / 4
    sim = ev.Simulation(seed=seed, record=record)
    _orders(sim, TOPIC_RATE)
    sim.topic("orders-dlt", partitions=6, retention=DEAD_LETTER_RETENTION)
    sim.consumer_group(
        "payments", "orders", consumers=4, service_time=ev.Exponential(0.01),
        dead_letter="orders-dlt",
        faults=[ev.TransientErrors(p=0.1), ev.PoisonEvents(p=0.01), ev.Crashes(mttf=60, mttr=5)],
        retry=ev.Retry(3, backoff=0.5, blocking=False), session_timeout=5,
        idempotent=True, idempotency_window=10,
    )  # fmt: skip
    sim.queue("emails-dlq", retention=DEAD_LETTER_RETENTION)
    sim.queue("emails", visibility_timeout=1, dead_letter="emails-dlq", max_receive_count=3)
    sim.producer("notifier", "emails", ev.Poisson(rate=queue_rate))
    sim.consumer_group(
        "mailer", "emails", consumers=2, service_time=ev.Exponential(0.01),
        faults=[ev.TransientErrors(p=0.1)],
    )  # fmt: skip
    return _totals(sim.run(until=events / (TOPIC_RATE + queue_rate)))


def queue(events: int, seed: int, record: str = "summary") -> Outcome:
    return mm4.run_evsim(events, seed, record=record)


WORKLOADS: dict[str, Callable[[int, int, str], Outcome]] = {
    "queue": queue,
    "topic": topic,
    "faulty": faulty,
}
