"""SNS-like fan-out: one copy per matching subscription, filter policies, latency."""

from __future__ import annotations

import hashlib

import pytest

import evsim as ev
from evsim.actors.producer import send


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


# --- issue 12: FIFO fanouts (SNS FIFO topics) ------------------------------------------------


def fifo_fanout(latency=0.0, content_based_deduplication=True, queue_latency=0.0):
    sim = ev.Simulation(seed=3)
    sns = sim.fanout("orders.fifo", latency=latency, fifo=True,
                     content_based_deduplication=content_based_deduplication)  # fmt: skip
    ordered = sim.queue("ordered.fifo", fifo=True, latency=queue_latency)  # no content-based
    plain = sim.queue("plain")
    sns.subscribe(ordered)
    sns.subscribe(plain)
    return sim, sns, ordered, plain


def publish(sim, target, key="A", payload=None, attributes=None):
    code = sim.records.names.code
    return send(sim.world, target, code("test"), code("Order"), key, payload, attributes=attributes)


def test_fifo_fanout_names_and_deduplication_follow_sns():
    sim = ev.Simulation(seed=1)
    with pytest.raises(ev.ConfigError, match=r"^name: a FIFO fanout's name must end in '\.fifo'"):
        sim.fanout("orders", fifo=True)
    with pytest.raises(ev.ConfigError, match=r"^name: 'orders\.fifo' ends in '\.fifo'.*fifo=True"):
        sim.fanout("orders.fifo")
    with pytest.raises(ev.ConfigError, match=r"^content_based_deduplication: only FIFO topics"):
        sim.fanout("orders", content_based_deduplication=True)
    with pytest.raises(ev.ConfigTypeError, match=r"^fifo: expected True or False"):
        sim.fanout("orders.fifo", fifo="yes")
    sns = sim.fanout("orders.fifo", fifo=True)
    assert sns.fifo and not sns.content_based_deduplication and repr(sns).startswith("<FIFO")
    spec = sns.spec()
    assert (spec["fifo"], spec["content_based_deduplication"]) == (True, False)


def test_a_fifo_queue_subscribes_only_to_a_fifo_fanout():
    sim = ev.Simulation(seed=1)
    sim.queue("q.fifo", fifo=True)
    sim.queue("q")
    standard = sim.fanout("standard")
    with pytest.raises(ev.ConfigError, match=r"^queue: 'q\.fifo' is a FIFO queue.*FIFO topics"):
        standard.subscribe("q.fifo")
    assert standard.subscriptions == []
    topic = sim.fanout("t.fifo", fifo=True)
    assert [topic.subscribe(q).queue.name for q in ("q.fifo", "q")] == ["q.fifo", "q"]


def test_a_fifo_fanout_refuses_a_publish_without_a_group_or_a_deduplication_id():
    sim, sns, *_ = fifo_fanout(content_based_deduplication=False)
    with pytest.raises(ev.SendRefusedError, match=r"^fanout 'orders\.fifo': a FIFO fanout.*key"):
        publish(sim, sns, key=None, attributes={"MessageDeduplicationId": "a"})
    fixes = r"^fanout 'orders\.fifo'.*content_based_deduplication=True.*'MessageDeduplicationId'"
    with pytest.raises(ev.SendRefusedError, match=fixes):
        publish(sim, sns)
    with pytest.raises(ev.SendRefusedError, match=fixes):  # when the producer is built
        sim.producer("p", "orders.fifo", ev.Periodic(1.0), keys=ev.UniformKeys(2))
    with pytest.raises(ev.SendRefusedError, match="needs a key"):
        sim.producer("p", "orders.fifo", ev.Periodic(1.0), attributes={"MessageDeduplicationId": 1})
    publish(sim, sns, attributes={"MessageDeduplicationId": "a"})
    assert sns.published == 1


def test_a_fifo_fanout_deduplicates_for_five_minutes_and_passes_its_id_to_fifo_queues():
    sim, sns, ordered, plain = fifo_fanout()
    env = sim.world.env
    for time in (0, 100, 301):
        env.process(_at(env, time, lambda: publish(sim, sns, payload={"order": 1})))
    env.process(_at(env, 5, lambda: publish(sim, sns, payload={"order": 2})))
    env.run(until=400)
    assert sns.duplicates_dropped == 1 and sns.published == 4
    # events 0 (at 0 s), 1 (5 s, another body), 2 (100 s, dropped), 3 (301 s: 5 min later)
    assert [m.event_id for m in ordered.messages()] == [0, 1, 3]
    assert [m.event_id for m in plain.messages()] == [0, 1, 3]
    expected = hashlib.sha256(repr({"order": 1}).encode()).hexdigest()
    assert ordered.messages()[0].dedup_id == expected  # the topic's id, not the queue's own
    assert ordered.duplicates_dropped == 0  # 301 s later: past both intervals


def test_two_fifo_fanouts_sending_one_id_to_a_queue_are_deduplicated_by_the_queue():
    sim = ev.Simulation(seed=1)
    queue = sim.queue("q.fifo", fifo=True)
    for name in ("a.fifo", "b.fifo"):
        sim.fanout(name, fifo=True).subscribe(queue)
    for name in ("a.fifo", "b.fifo"):
        publish(sim, sim.fanouts[name], attributes={"MessageDeduplicationId": "order-1"})
    sim.world.env.run(until=1)  # the second copy queues behind the first of its group
    assert queue.depth() == 1 and queue.duplicates_dropped == 1


@pytest.mark.parametrize("where", ["fanout", "queue"])
def test_a_fifo_fanout_keeps_each_group_in_order_over_a_random_latency(where):
    latency = ev.Uniform(0.0, 2.0)
    kwargs = {"latency": latency} if where == "fanout" else {"queue_latency": latency}
    sim, _, ordered, plain = fifo_fanout(**kwargs)
    sim.producer("p", "orders.fifo", ev.Periodic(0.05), keys=ev.UniformKeys(3),
                 payload=lambda i: i, stop=5)  # fmt: skip
    sim.run(until=20)
    groups = {}
    for message in ordered.messages():  # listed in enqueue order
        groups.setdefault(message.group_id, []).append(message.event_id)
    assert len(groups) == 3 and sum(map(len, groups.values())) == ordered.depth() == 99
    assert all(ids == sorted(ids) for ids in groups.values())
    if where == "fanout":  # the standard queue gets the same copies, each group in order too
        plain_ids = [m.event_id for m in plain.messages()]
        assert sorted(plain_ids) == list(range(99))


def test_a_zero_wait_delivery_behind_a_pending_one_of_its_group_stays_behind():
    sim = ev.Simulation(seed=1)
    sns = sim.fanout("t.fifo", fifo=True, content_based_deduplication=True)
    queue = sim.queue("q.fifo", fifo=True)
    sns.subscribe(queue)
    waits = iter([1.0, 0.0])  # the first waits 1 s; the second, published then, waits none
    sns._latency_sampler = lambda: next(waits)  # a latency with those two draws
    env = sim.world.env
    env.process(_at(env, 0, lambda: publish(sim, sns, payload=1)))
    env.process(_at(env, 1, lambda: publish(sim, sns, payload=2)))
    env.run(until=2)
    assert [m.event_id for m in queue.messages()] == [0, 1]


def test_a_standard_fanout_does_not_order_copies_over_a_random_latency():
    sim = ev.Simulation(seed=3)
    sns = sim.fanout("orders", latency=ev.Uniform(0.0, 2.0))
    queue = sim.queue("q")
    sns.subscribe(queue)
    sim.producer("p", "orders", ev.Periodic(0.05), keys=ev.UniformKeys(3), stop=5)
    sim.run(until=20)
    ids = [m.event_id for m in queue.messages()]
    assert len(ids) == 99 and ids != sorted(ids)  # what the FIFO fanout prevents


def test_fanout_copies_get_their_queue_s_delay_not_a_delay_seconds_attribute():
    sim = ev.Simulation(seed=1)
    sns = sim.fanout("orders")
    queue = sim.queue("q", delay=3)
    sns.subscribe(queue)
    publish(sim, sns, attributes={"DelaySeconds": 60})  # SNS has no per-message delay
    sim.world.env.run(until=3.5)
    assert queue.visible_count() == 1


# --- issue 12: FilterPolicyScope MessageBody -----------------------------------------------


def test_a_message_body_subscription_filters_the_payload_with_nested_keys():
    sim = ev.Simulation(seed=1)
    sns = sim.fanout("orders")
    big, eu = sim.queue("big"), sim.queue("eu")
    sns.subscribe(big, {"order": {"total": [{"numeric": [">", 100]}]}},
                  filter_policy_scope="MessageBody")  # fmt: skip
    sns.subscribe(eu, {"$or": [{"region": [{"prefix": "eu-"}]}, {"vip": ["yes"]}]},
                  filter_policy_scope="MessageBody")  # fmt: skip
    orders = [
        {"order": {"total": 50}, "region": "eu-west-1"},
        {"order": {"total": 150}, "region": "us-east-1"},
        {"order": {"total": 500}, "region": "us-east-1", "vip": "yes"},
        "not a mapping",
    ]
    sim.producer("p", "orders", ev.Periodic(1.0), payload=lambda i: orders[i], stop=4.5,
                 attributes={"order": {"total": 1000}})  # attributes are not the body  # fmt: skip
    sim.run(until=5)
    assert [m.event_id for m in big.messages()] == [1, 2]
    assert [m.event_id for m in eu.messages()] == [0, 2]
    specs = [s["filter_policy_scope"] for s in sns.spec()["subscriptions"]]
    assert specs == ["MessageBody", "MessageBody"]


def test_subscription_scopes_are_checked_and_attributes_stay_flat():
    sim = ev.Simulation(seed=1)
    sns = sim.fanout("orders")
    sim.queue("q")
    with pytest.raises(ev.ConfigError, match=r"^filter_policy_scope: expected one of"):
        sns.subscribe("q", {"a": ["x"]}, filter_policy_scope="Body")
    with pytest.raises(ev.ConfigError, match=r"^filter_policy\.a: nested policies.*MessageBody"):
        sns.subscribe("q", {"a": {"b": ["x"]}})
    subscription = sns.subscribe("q", {"a": ["x"]})
    assert subscription.spec() == {"queue": "q", "filter_policy": {"a": ["x"]}}  # default scope


def _at(env, time, action):
    yield env.timeout(time - env.now)
    action()
