"""SNS-like fan-out: one copy per matching subscription, filter policies, latency."""

from __future__ import annotations

import pytest

import evsim as ev


def build(latency=0.0):
    sim = ev.Simulation(seed=1)
    sns = sim.fanout("orders", latency=latency)
    queues = {name: sim.queue(name) for name in ("all", "created", "big")}
    sns.subscribe(queues["all"])
    sns.subscribe("created", filter_policy={"eventType": ["OrderCreated"]})
    sns.subscribe(queues["big"], filter_policy={"amount": [{"numeric": [">=", 100]}]})
    return sim, sns, queues


def produce(sim, event_type, attributes=None, stop=10.5):
    sim.producer(
        f"p-{event_type}", "orders", ev.Periodic(interval=1.0), event_type=event_type,
        attributes=attributes, stop=stop,
    )  # fmt: skip


def test_one_copy_per_matching_subscription_and_no_policy_gets_everything():
    sim, sns, queues = build()
    produce(sim, "OrderCreated", attributes=lambda i: {"amount": 50 * i})
    produce(sim, "OrderCancelled")
    result = sim.run(until=11)
    depths = {name: q.depth() for name, q in queues.items()}
    assert depths == {"all": 20, "created": 10, "big": 8}  # amounts 0, 50, ..., 450
    assert len(result.events) == 20  # copies are not new events
    assert set(result.events["target"]) == {"orders"}
    assert [s.delivered for s in sns.subscriptions] == [20, 10, 8]
    assert sns.published == 20


def test_each_queue_gets_the_same_event_id_under_its_own_message_id():
    sim, _, queues = build()
    produce(sim, "OrderCreated", attributes={"amount": 500}, stop=1.5)
    sim.run(until=2)
    copies = [q.messages()[0] for q in queues.values()]
    assert {m.event_id for m in copies} == {0}
    assert len({m.message_id for m in copies}) == 3


def test_latency_delays_every_copy():
    sim, _, queues = build(latency=0.25)
    seen = []
    queues["all"].listen(lambda kind, m: seen.append((kind, sim.now)))
    produce(sim, "OrderCreated", stop=3.5)
    result = sim.run(until=4)
    assert seen == [("enqueued", 1.25), ("enqueued", 2.25), ("enqueued", 3.25)]
    assert (result.events["appended_at"] - result.events["published_at"]).tolist() == [0.25] * 3


def test_random_latency_uses_its_own_stream():
    latency = ev.Exponential(mean=0.1)
    sim, _, queues = build(latency=latency)
    produce(sim, "OrderCreated")
    result = sim.run(until=20)
    own = latency.sampler(sim.world.streams.generator("fanout", "orders", "latency"))
    delays = result.events["appended_at"] - result.events["published_at"]
    assert delays.tolist() == pytest.approx([own() for _ in range(10)], abs=1e-12)
    assert queues["all"].depth() == 10 and delays.nunique() == 10


def test_attributes_include_the_event_type():
    sim, sns, _ = build()
    sim.producer("p", "orders", ev.Periodic(1.0), event_type="X", attributes={"k": 1}, stop=1.5)
    sim.run(until=2)
    assert sns.attributes(0) == {"eventType": "X", "k": 1}


def test_spec_lists_subscriptions_and_config_has_fanouts():
    sim, sns, _ = build()
    spec = sns.spec()
    assert spec["name"] == "orders" and spec["latency"] == {"constant": {"value": 0.0}}
    assert [s["queue"] for s in spec["subscriptions"]] == ["all", "created", "big"]
    assert spec["subscriptions"][1]["filter_policy"] == {"eventType": ["OrderCreated"]}
    assert sim.config["scenario"]["fanouts"] == [spec]


def test_bad_subscriptions_are_refused():
    sim, sns, _ = build()
    sim.topic("t")
    with pytest.raises(ev.ConfigError, match="'all' is already subscribed to 'orders'"):
        sns.subscribe("all")
    with pytest.raises(
        ev.ConfigTypeError, match="queue: a fanout delivers to queues; 't' is a topic"
    ):
        sns.subscribe("t")
    with pytest.raises(ev.UnknownNameError, match="queue: no topic, queue or fanout named 'nope'"):
        sns.subscribe("nope")
    sim.queue("other")
    with pytest.raises(ev.ConfigError, match=r"filter_policy\.eventType: expected at least one"):
        sns.subscribe("other", filter_policy={"eventType": []})
    with pytest.raises(ev.ConfigError, match="latency"):
        sim.fanout("f", latency=-1)
    with pytest.raises(ev.ConfigError, match="a fanout named 'orders' already exists"):
        sim.fanout("orders")
