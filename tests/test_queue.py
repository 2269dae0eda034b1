"""SQS-like queues: each documented SQS rule, driven by small SimPy processes."""

from __future__ import annotations

import hashlib
import itertools

import pytest

import evsim as ev
from evsim.actors.producer import send


def make(name="q", **kwargs):
    sim = ev.Simulation(seed=1)
    queue = sim.queue(name, **kwargs)
    return sim, queue, sim.world.env


def post(sim, target, key=None, payload=None, attributes=None):
    """Publish one event to ``target`` now (as a producer would)."""
    code = sim.records.names.code
    return send(sim.world, target, code("test"), code("Event"), key, payload, attributes=attributes)


_DEDUP_IDS = itertools.count()


def post_fifo(sim, target, key):
    """Publish one event to a FIFO queue, with a deduplication id of its own (SQS needs one
    without content-based deduplication)."""
    attributes = {"MessageDeduplicationId": f"m{next(_DEDUP_IDS)}"}
    return post(sim, target, key=key, attributes=attributes)


def at(env, time, action):
    """Run ``action()`` at simulated ``time``."""

    def process():
        yield env.timeout(time - env.now)
        action()

    env.process(process())


def receiving(env, queue, log, start=0.0, times=1, delete=False, **kwargs):
    """A process receiving ``times`` times from ``start``; log (time, messages)."""

    def process():
        yield env.timeout(start)
        for _ in range(times):
            messages = yield queue.receive(**kwargs)
            log.append((env.now, messages))
            for message in messages if delete else []:
                queue.delete(message)

    return env.process(process())


def kinds(queue):
    seen = []
    queue.listen(lambda kind, message: seen.append((kind, message.event_id)))
    return seen


# --- visibility timeout, receive count, redrive ------------------------------------------


def test_a_message_not_deleted_reappears_after_the_visibility_timeout():
    sim, queue, env = make(visibility_timeout=30)
    at(env, 0, lambda: post(sim, queue))
    log = []
    receiving(env, queue, log, start=0, wait_time=0)
    receiving(env, queue, log, start=1, times=2)  # long polls of 20 s: empty, then at 30
    env.run(until=60)
    (t0, [first]), (t1, empty), (t2, [again]) = log
    assert (t0, t1, t2) == (0, 21, 30)
    assert empty == []
    assert first.message_id == again.message_id
    assert (first.receive_count, again.receive_count) == (1, 2)
    assert first.receipt != again.receipt
    assert first.first_received_at == again.first_received_at == 0


def test_delete_with_a_stale_receipt_fails_and_the_latest_receipt_deletes():
    sim, queue, env = make(visibility_timeout=5)
    at(env, 0, lambda: post(sim, queue))
    log = []
    receiving(env, queue, log, times=2, wait_time=20)  # 2nd receive gets it back at 5
    env.run(until=10)
    (_, [old]), (_, [new]) = log
    assert queue.delete(old) is False
    assert queue.depth() == 1
    assert queue.delete(new) is True
    assert queue.delete(new) is False
    assert queue.depth() == 0


def test_the_receive_after_max_receive_count_receives_moves_the_message_to_the_dlq():
    sim = ev.Simulation(seed=1)
    dlq = sim.queue("dlq")
    queue = sim.queue("q", visibility_timeout=1, dead_letter=dlq, max_receive_count=3)
    env = sim.world.env
    source_seen, dlq_seen = kinds(queue), kinds(dlq)
    at(env, 0, lambda: post(sim, queue))
    log = []
    receiving(env, queue, log, times=4, wait_time=2)
    env.run(until=10)
    counts = [[m.receive_count for m in messages] for _, messages in log]
    assert counts == [[1], [2], [3], []]
    assert source_seen == [("enqueued", 0), ("dead_lettered", 0)]
    assert dlq_seen == [("enqueued", 0)]
    [moved] = dlq.messages()
    assert moved.message_id == log[0][1][0].message_id
    assert moved.enqueued_at == 0  # a standard queue keeps the original enqueue time
    assert (queue.depth(), dlq.depth(), sim.queues["dlq"] is dlq) == (0, 1, True)


def test_retention_counts_from_the_original_enqueue_time_also_in_the_dlq():
    sim = ev.Simulation(seed=1)
    dlq = sim.queue("dlq", retention=100)
    queue = sim.queue("q", visibility_timeout=10, dead_letter=dlq, max_receive_count=1)
    env = sim.world.env
    dlq_seen = kinds(dlq)
    at(env, 0, lambda: post(sim, queue))
    log = []
    receiving(env, queue, log, start=0, wait_time=0)
    receiving(env, queue, log, start=50, wait_time=0)  # moves it to the DLQ at 50
    receiving(env, dlq, log, start=101, wait_time=0)
    env.run(until=99)
    assert [m.enqueued_at for m in dlq.messages()] == [0]
    env.run(until=200)
    assert log[1][1] == [] and log[2][1] == []
    assert dlq_seen == [("enqueued", 0), ("expired", 0)]  # 101 s after the first enqueue
    assert dlq.depth() == 0


def test_a_fifo_dlq_resets_the_enqueue_time():
    sim = ev.Simulation(seed=1)
    queue = sim.queue("q.fifo", fifo=True, visibility_timeout=1, dead_letter="d.fifo",
                      max_receive_count=1)  # fmt: skip
    env = sim.world.env
    at(env, 0, lambda: post_fifo(sim, queue, key="a"))
    log = []
    receiving(env, queue, log, times=2, wait_time=0)
    receiving(env, queue, log, start=5, wait_time=0)
    env.run(until=10)
    [moved] = sim.queues["d.fifo"].messages()
    assert sim.queues["d.fifo"].fifo and moved.enqueued_at == 5


def test_messages_past_retention_expire_on_receive_and_on_sweep():
    sim, queue, env = make(retention=60)
    seen = kinds(queue)
    at(env, 0, lambda: [post(sim, queue), post(sim, queue)])
    log = []
    receiving(env, queue, log, start=61, wait_time=0)
    env.run(until=70)
    assert log == [(61, [])]
    assert seen.count(("expired", 0)) == 1 and seen.count(("expired", 1)) == 1
    sim2, queue2, _ = make(retention=60)
    post(sim2, queue2)
    assert queue2.sweep(60) == 0 and queue2.sweep(61) == 1 and queue2.depth() == 0


# --- batches and long polling -------------------------------------------------------------


def test_batches_return_up_to_max_number_of_messages():
    sim, queue, env = make(receive_batch=4)
    at(env, 0, lambda: [post(sim, queue) for _ in range(25)])
    log = []
    receiving(env, queue, log, start=1)
    receiving(env, queue, log, start=2, max_messages=10)
    receiving(env, queue, log, start=3, max_messages=1)
    receiving(env, queue, log, start=4, max_messages=10, times=2, wait_time=0)
    env.run(until=5)
    assert [len(messages) for _, messages in log] == [4, 10, 1, 10, 0]
    ids = [m.event_id for _, messages in log for m in messages]
    assert sorted(ids) == list(range(25)) and len(set(ids)) == 25


def test_long_polling_returns_at_once_when_a_message_arrives():
    sim, queue, env = make()
    log = []
    receiving(env, queue, log, start=0)  # waits up to 20 s
    at(env, 5, lambda: post(sim, queue))
    env.run(until=30)
    [(time, [message])] = log
    assert time == 5 and message.enqueued_at == 5


def test_long_polling_returns_an_empty_list_after_wait_time():
    _, queue, env = make(wait_time=20)
    log = []
    receiving(env, queue, log, start=0)
    receiving(env, queue, log, start=1, wait_time=0)
    receiving(env, queue, log, start=2, wait_time=7.5)
    env.run(until=30)
    assert sorted(log, key=lambda entry: entry[0]) == [(1, []), (9.5, []), (20, [])]


def test_competing_receivers_get_different_messages_first_come_first_served():
    sim, queue, env = make()
    log = {}
    for name, start in (("a", 0.0), ("b", 0.1), ("c", 0.2)):
        entries = log.setdefault(name, [])
        receiving(env, queue, entries, start=start)
    at(env, 1, lambda: [post(sim, queue) for _ in range(5)])
    env.run(until=2)
    got = {name: [m.event_id for _, ms in entries for m in ms] for name, entries in log.items()}
    assert got == {"a": [0], "b": [1], "c": [2]}
    assert queue.visible_count() == 2 and queue.in_flight_count() == 3


def test_a_delay_hides_new_messages_for_delay_seconds():
    sim, queue, env = make(delay=10)
    at(env, 0, lambda: post(sim, queue))
    log = []
    receiving(env, queue, log, start=0)
    env.run(until=5)
    assert (queue.delayed_count(), queue.visible_count(), queue.depth()) == (1, 0, 1)
    env.run(until=20)
    assert log[0][0] == 10 and len(log[0][1]) == 1


def test_change_visibility_extends_or_ends_the_timeout():
    sim, queue, env = make(visibility_timeout=30)
    at(env, 0, lambda: [post(sim, queue), post(sim, queue)])
    log = []
    receiving(env, queue, log, max_messages=2, wait_time=0)
    env.run(until=1)
    [(_, [first, second])] = log
    assert queue.change_visibility(first, 100) and queue.change_visibility(second, 0)
    assert queue.visible_count() == 1
    env.run(until=50)  # the original 30 s timer of `first` no longer applies
    assert queue.in_flight_count() == 1
    env.run(until=102)
    assert queue.visible_count() == 2


def test_drain_removes_and_returns_the_visible_messages():
    sim, queue, env = make()
    at(env, 0, lambda: [post(sim, queue) for _ in range(3)])
    log = []
    receiving(env, queue, log, start=1, wait_time=0)
    env.run(until=2)
    drained = queue.drain()
    assert [m.event_id for m in drained] == [1, 2]
    assert (queue.visible_count(), queue.in_flight_count()) == (0, 1)


# --- FIFO queues --------------------------------------------------------------------------


def fifo(**kwargs):
    return make("q.fifo", fifo=True, **kwargs)


def test_fifo_keeps_order_within_a_group_and_holds_a_group_in_flight():
    sim, queue, env = fifo(visibility_timeout=30)
    at(env, 0, lambda: [post_fifo(sim, queue, key=k) for k in ("A", "A", "B", "A")])
    log = []
    receiving(env, queue, log, start=1, times=3, wait_time=0)
    env.run(until=2)
    received = [[(m.group_id, m.event_id) for m in ms] for _, ms in log]
    assert received == [[("A", 0)], [("B", 2)], []]  # A is held while event 0 is in flight
    queue.delete(log[0][1][0])
    log.clear()
    receiving(env, queue, log, start=0, wait_time=0)
    env.run(until=3)
    assert [m.event_id for m in log[0][1]] == [1]


def test_fifo_batch_takes_as_many_of_one_group_as_it_can():
    sim, queue, env = fifo()
    at(env, 0, lambda: [post_fifo(sim, queue, key=k) for k in ("A", "B", "A", "B", "A")])
    log = []
    receiving(env, queue, log, start=1, max_messages=10)
    env.run(until=2)
    assert [m.event_id for m in log[0][1]] == [0, 2, 4, 1, 3]


def test_fifo_message_that_reappears_keeps_its_place_at_the_head_of_its_group():
    sim, queue, env = fifo(visibility_timeout=5)
    at(env, 0, lambda: [post_fifo(sim, queue, key="A") for _ in range(3)])
    log = []
    receiving(env, queue, log, start=1, max_messages=2, wait_time=0)  # 0 and 1, not deleted
    receiving(env, queue, log, start=7, max_messages=10, wait_time=0)
    env.run(until=8)
    assert [m.event_id for m in log[1][1]] == [0, 1, 2]
    assert [m.receive_count for m in log[1][1]] == [2, 2, 1]


def test_fifo_drops_a_repeated_deduplication_id_within_five_minutes():
    sim, queue, env = fifo()
    seen = kinds(queue)
    dedup = {"MessageDeduplicationId": "order-1"}
    for time in (0, 299, 301):
        at(env, time, lambda: post(sim, queue, key="A", attributes=dedup))
    env.run(until=400)
    assert [event for kind, event in seen if kind == "enqueued"] == [0, 2]
    assert queue.duplicates_dropped == 1 and queue.depth() == 2


def test_content_based_deduplication_hashes_the_payload():
    sim, queue, env = fifo(content_based_deduplication=True)
    at(
        env,
        0,
        lambda: [post(sim, queue, key="A", payload=p) for p in ({"o": 1}, {"o": 1}, {"o": 2})],
    )
    env.run(until=1)
    assert [m.event_id for m in queue.messages()] == [0, 2]
    assert queue.messages()[0].dedup_id == hashlib.sha256(repr({"o": 1}).encode()).hexdigest()


def test_fifo_send_without_a_key_is_refused():
    sim, queue, _ = fifo()
    with pytest.raises(ev.ConfigError, match=r"q\.fifo.*key.*message group id"):
        post(sim, queue)


# --- the simulation wiring ----------------------------------------------------------------


def test_message_ids_are_deterministic_and_unique_per_simulation():
    def ids():
        sim = ev.Simulation(seed=4)
        a, b = sim.queue("a"), sim.queue("b")
        for target in (a, b, a):
            post(sim, target)
        return [m.message_id for q in (a, b) for m in q.messages()]

    assert ids() == ids() == [0, 2, 1]


def test_producers_target_queues_and_depths_are_sampled():
    sim = ev.Simulation(seed=2, sample_interval=1.0)
    queue = sim.queue("orders", dead_letter="orders-dlq", max_receive_count=2)
    sim.producer("shop", "orders", ev.Periodic(interval=1.0))
    result = sim.run(until=10.5)
    series = result.timeseries
    depth = series[(series["metric"] == "queue_depth") & (series["entity"] == "orders")]
    assert depth["value"].tolist() == [float(n) for n in range(11)]
    dlq = series[series["metric"] == "dlq_depth"]
    assert set(dlq["entity"]) == {"orders-dlq"} and (dlq["value"] == 0).all()
    assert queue.dead_letter is sim.queues["orders-dlq"]
    assert result.events["appended_at"].notna().all()
    names = [q["name"] for q in sim.config["scenario"]["queues"]]
    assert names == ["orders-dlq", "orders"]


# --- SQS's ranges -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "argument", "expected"),
    [
        ({"visibility_timeout": 50000}, ev.ConfigError, "visibility_timeout",
         "must be between 0 and 43200 seconds (SQS), got 50000"),
        ({"visibility_timeout": -1}, ev.ConfigError, "visibility_timeout", "must be between 0"),
        ({"visibility_timeout": "30"}, ev.ConfigTypeError, "visibility_timeout",
         "expected a number, got '30'"),
        ({"retention": 59}, ev.ConfigError, "retention", "must be between 60 and 1209600"),
        ({"retention": 1209601}, ev.ConfigError, "retention", "must be between 60 and 1209600"),
        ({"receive_batch": 0}, ev.ConfigError, "receive_batch", "must be between 1 and 10"),
        ({"receive_batch": 11}, ev.ConfigError, "receive_batch", "must be between 1 and 10"),
        ({"receive_batch": 2.0}, ev.ConfigTypeError, "receive_batch", "expected a whole number"),
        ({"wait_time": 21}, ev.ConfigError, "wait_time", "must be between 0 and 20"),
        ({"wait_time": -0.5}, ev.ConfigError, "wait_time", "must be between 0 and 20"),
        ({"delay": 901}, ev.ConfigError, "delay", "must be between 0 and 900"),
        ({"delay": -1}, ev.ConfigError, "delay", "must be between 0 and 900"),
        ({"latency": -1}, ev.ConfigError, "latency", "must be >= 0, got -1"),
        ({"latency": "fast"}, ev.ConfigTypeError, "latency", "expected a distribution"),
        ({"fifo": "yes"}, ev.ConfigTypeError, "fifo", "expected True or False, got 'yes'"),
        ({"fifo": True}, ev.ConfigError, "name", "a FIFO queue's name must end in '.fifo'"),
        ({"content_based_deduplication": True}, ev.ConfigError, "content_based_deduplication",
         "only FIFO queues deduplicate (SQS)"),
        ({"dead_letter": "d"}, ev.ConfigError, "max_receive_count",
         "a dead-letter queue needs max_receive_count (an SQS RedrivePolicy has both)"),
        ({"max_receive_count": 3}, ev.ConfigError, "dead_letter",
         "max_receive_count needs a dead-letter queue (an SQS RedrivePolicy has both)"),
        ({"dead_letter": "d", "max_receive_count": 0}, ev.ConfigError, "max_receive_count",
         "must be between 1 and 1000 (SQS), got 0"),
        ({"dead_letter": "d", "max_receive_count": 1001}, ev.ConfigError, "max_receive_count",
         "must be between 1 and 1000 (SQS), got 1001"),
        ({"dead_letter": "q", "max_receive_count": 2}, ev.ConfigError, "dead_letter",
         "queue 'q' cannot be its own DLQ"),
        ({"dead_letter": "t", "max_receive_count": 2}, ev.ConfigTypeError, "dead_letter",
         "expected a queue, got the topic 't'"),
        ({"dead_letter": "f.fifo", "max_receive_count": 2}, ev.ConfigError, "dead_letter",
         "a standard queue's dead-letter queue must also be standard"),
    ],
)  # fmt: skip
def test_values_outside_sqs_ranges_are_refused(kwargs, error, argument, expected, bad_argument):
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    sim.queue("f.fifo", fifo=True)
    with bad_argument(error, argument, expected):
        sim.queue("q", **kwargs)
    assert "q" not in sim.queues and "d" not in sim.queues


def test_a_value_outside_an_sqs_range_is_refused_with_the_range_and_the_value_only():
    with pytest.raises(ev.ConfigError) as refused:
        ev.Simulation().queue("q", visibility_timeout=50000)
    assert str(refused.value) == (
        "visibility_timeout: must be between 0 and 43200 seconds (SQS), got 50000"
    )


@pytest.mark.parametrize(
    ("name", "fifo", "message"),
    [
        ("orders.fifo", False, "reserves for FIFO queues"),
        ("bad name", False, "1 to 80 letters"),
        ("x" * 81, False, "1 to 80 letters"),
        ("", False, "non-empty string"),
    ],
)
def test_queue_names_follow_sqs_rules(name, fifo, message):
    with pytest.raises((ev.ConfigError, ev.ConfigTypeError), match=message):
        ev.Simulation().queue(name, fifo=fifo)


def test_receive_and_change_visibility_arguments_are_checked():
    sim, queue, _ = make()
    with pytest.raises(ev.ConfigError, match="max_messages: must be between 1 and 10"):
        queue.receive(max_messages=11)
    with pytest.raises(ev.ConfigError, match="max_messages: must be between 1 and 10"):
        queue.receive(max_messages=0)
    with pytest.raises(ev.ConfigError, match="wait_time: must be between 0 and 20"):
        queue.receive(wait_time=25)
    with pytest.raises(ev.ConfigTypeError, match="message: expected a Message"):
        queue.delete("receipt")
    post(sim, queue)
    [message] = queue.messages()
    with pytest.raises(ev.ConfigError, match="seconds: must be between 0 and 43200"):
        queue.change_visibility(message, 43201)
    assert queue.delete(message) is False  # never received: no receipt


def test_a_fifo_dlq_must_be_fifo_and_named_so():
    sim = ev.Simulation()
    with pytest.raises(ev.ConfigError, match=r"dead_letter: a FIFO queue's DLQ .*'\.fifo'"):
        sim.queue("a.fifo", fifo=True, dead_letter="plain", max_receive_count=2)
    sim.queue("plain")
    with pytest.raises(ev.ConfigError, match="FIFO queue's dead-letter queue must also be FIFO"):
        sim.queue("a.fifo", fifo=True, dead_letter="plain", max_receive_count=2)


def test_a_cancelled_long_poll_takes_no_message():
    sim, queue, env = make()
    request = queue.receive()
    assert queue.cancel(request) is True and queue.cancel(request) is False
    post(sim, queue)
    env.run(until=30)
    assert not request.triggered and queue.visible_count() == 1


def test_standard_queue_messages_have_no_group():
    sim, queue, _ = make()
    post(sim, queue, key="k")
    assert queue.messages()[0].group_id is None


# --- observation ---------------------------------------------------------------------------


def test_depth_counts_visible_in_flight_and_delayed_messages():
    sim, queue, env = make(visibility_timeout=30, delay=5)
    at(env, 0, lambda: [post(sim, queue) for _ in range(3)])
    counts = []
    at(env, 1, lambda: counts.append((queue.visible_count(), queue.in_flight_count(),
                                      queue.delayed_count(), queue.depth())))  # fmt: skip
    at(env, 6, lambda: queue.receive(max_messages=2))
    at(env, 7, lambda: counts.append((queue.visible_count(), queue.in_flight_count(),
                                      queue.delayed_count(), queue.depth())))  # fmt: skip
    env.run(until=8)
    assert counts == [(0, 0, 3, 3), (1, 2, 0, 3)]


def test_listeners_can_ask_for_some_kinds_and_groups_get_event_ids():
    sim, queue, env = make(visibility_timeout=30)
    seen, ids = [], []
    queue.listen(lambda kind, message: seen.append(kind), kinds=("deleted",))
    queue.on_enqueued(ids.append)
    at(env, 0, lambda: post(sim, queue))
    receiving(env, queue, [], start=1, wait_time=0, delete=True)
    env.run(until=2)
    assert seen == ["deleted"] and ids == [0]


def test_listening_for_an_unknown_kind_is_refused():
    _, queue, _ = make()
    with pytest.raises(ev.ConfigError, match="kinds: expected some of"):
        queue.listen(lambda kind, message: None, kinds=("received",))


# --- issue 12: FIFO deduplication ids are required; per-message DelaySeconds -----------------

DEDUP_FIXES = r"'q\.fifo'.*content_based_deduplication=True.*'MessageDeduplicationId'"


def test_a_fifo_send_without_a_deduplication_id_is_refused():
    sim, queue, _ = fifo()
    with pytest.raises(ev.SendRefusedError, match=DEDUP_FIXES):
        post(sim, queue, key="A")
    with pytest.raises(ev.SendRefusedError, match="MessageDeduplicationId"):
        post(sim, queue, key="A", attributes={"MessageDeduplicationId": None, "x": 1})
    assert queue.depth() == 0
    post(sim, queue, key="A", attributes={"MessageDeduplicationId": "o-1"})  # an id: accepted
    sim2, queue2, _ = fifo(content_based_deduplication=True)
    post(sim2, queue2, key="A", payload={"o": 1})  # content-based: no id needed
    assert queue.depth() == queue2.depth() == 1
    assert issubclass(ev.SendRefusedError, ev.ConfigError)


def test_a_producer_every_send_of_which_would_be_refused_is_refused_when_built():
    sim = ev.Simulation(seed=1)
    sim.queue("q.fifo", fifo=True)
    keys = ev.UniformKeys(3)
    with pytest.raises(ev.SendRefusedError, match=DEDUP_FIXES):
        sim.producer("p", "q.fifo", ev.Periodic(1.0), keys=keys)
    with pytest.raises(ev.SendRefusedError, match="MessageDeduplicationId"):
        sim.producer("p", "q.fifo", ev.Periodic(1.0), keys=keys, attributes={"tier": "gold"})
    with pytest.raises(ev.SendRefusedError, match=r"'q\.fifo'.*needs a key.*MessageGroupId"):
        sim.producer("p", "q.fifo", ev.Periodic(1.0), attributes={"MessageDeduplicationId": "x"})
    assert "p" not in sim.producers

    # a function of the event index is checked on each send (one each second from 1 s)
    def ids(i):
        return {"MessageDeduplicationId": f"o{i}"} if i < 3 else {}

    sim.producer("p", "q.fifo", ev.Periodic(1.0), keys=keys, attributes=ids)
    with pytest.raises(ev.SendRefusedError, match=DEDUP_FIXES):
        sim.run(until=10)
    assert sim.queues["q.fifo"].depth() == 3 and sim.now == 4


def test_handlers_and_dead_letters_sending_to_a_fifo_queue_need_a_deduplication_id():
    def run(source_attributes, handler=None, dead_letter_cbd=False):
        sim = ev.Simulation(seed=1)
        sim.queue("in.fifo", fifo=True, content_based_deduplication=True)
        sim.queue("out.fifo", fifo=True, content_based_deduplication=dead_letter_cbd)
        sim.producer("p", "in.fifo", ev.Periodic(1.0), keys=ev.UniformKeys(2),
                     payload=lambda i: i, attributes=source_attributes, stop=3.5)  # fmt: skip
        sim.consumer_group("g", "in.fifo", handler=handler,
                           faults=None if handler else ev.PoisonEvents(p=1.0),
                           dead_letter="out.fifo")  # fmt: skip
        sim.run(until=10)
        return sim.queues["out.fifo"]

    # the group's dead-letter copy carries the original's attributes, id included
    ids = lambda i: {"MessageDeduplicationId": f"o{i}"}  # noqa: E731
    assert run(ids).depth() == 3
    assert [m.dedup_id for m in run(ids).messages()] == ["o0", "o1", "o2"]
    with pytest.raises(ev.SendRefusedError, match=r"queue 'out\.fifo'.*MessageDeduplicationId"):
        run(None)  # the source's ids were content-based: the DLQ has none to go by
    assert run(None, dead_letter_cbd=True).depth() == 3

    def forward(event, ctx):
        ctx.publish("out.fifo", "Forwarded", key=event.key, payload=event.payload)

    with pytest.raises(ev.SendRefusedError, match=r"queue 'out\.fifo'"):
        run(None, handler=forward)

    def forward_with_id(event, ctx):
        ctx.publish("out.fifo", "Forwarded", key=event.key,
                    attributes={"MessageDeduplicationId": f"f{event.event_id}"})  # fmt: skip

    assert run(None, handler=forward_with_id).depth() == 3


def test_a_redrive_policy_move_to_a_fifo_dlq_is_not_a_send():
    sim = ev.Simulation(seed=1)
    queue = sim.queue("q.fifo", fifo=True, content_based_deduplication=True, visibility_timeout=1,
                      dead_letter="d.fifo", max_receive_count=1)  # fmt: skip
    assert not sim.queues["d.fifo"].content_based_deduplication
    env = sim.world.env
    at(env, 0, lambda: post(sim, queue, key="a", payload="p"))  # no id: content-based
    receiving(env, queue, [], times=2, wait_time=0)
    receiving(env, queue, [], start=5, wait_time=0)
    env.run(until=10)
    assert sim.queues["d.fifo"].depth() == 1


def test_a_send_s_delay_seconds_replaces_a_standard_queue_s_delay():
    sim, queue, env = make(delay=10)
    seen = []
    queue.listen(lambda kind, m: seen.append(m.event_id), kinds=("enqueued",))
    at(env, 0, lambda: [post(sim, queue, attributes={"DelaySeconds": d}) for d in (2, 0)])
    at(env, 0, lambda: post(sim, queue))  # no attribute: the queue's 10 s
    log = []
    receiving(env, queue, log, times=3, wait_time=20)
    env.run(until=30)
    assert [(t, [m.event_id for m in ms]) for t, ms in log] == [(0, [1]), (2, [0]), (10, [2])]
    sim2, queue2, env2 = make()  # the queue's delay is 0; the send's own is 900 at most
    at(env2, 0, lambda: post(sim2, queue2, attributes={"DelaySeconds": 900}))
    env2.run(until=899)
    assert queue2.delayed_count() == 1
    env2.run(until=901)
    assert queue2.visible_count() == 1


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (901, ev.ConfigError, r"^attributes\.DelaySeconds: must be between 0 and 900 .*'q'"),
        (-1, ev.ConfigError, r"^attributes\.DelaySeconds: must be between 0 and 900"),
        ("5", ev.ConfigTypeError, r"^attributes\.DelaySeconds: expected a number.*'q'"),
    ],
)
def test_a_delay_seconds_outside_sqs_range_is_refused(value, error, message):
    sim, queue, _ = make()
    with pytest.raises(error, match=message):
        post(sim, queue, attributes={"DelaySeconds": value})
    with pytest.raises(error, match=message):  # a constant one, when the producer is built
        sim.producer("p", "q", ev.Periodic(1.0), attributes={"DelaySeconds": value})


def test_a_fifo_queue_refuses_a_per_message_delay():
    sim, queue, env = fifo(delay=3)
    message = r"^attributes\.DelaySeconds: queue 'q\.fifo' is a FIFO queue.*delay="
    with pytest.raises(ev.SendRefusedError, match=message):
        post(sim, queue, key="A", attributes={"DelaySeconds": 5, "MessageDeduplicationId": "a"})
    with pytest.raises(ev.SendRefusedError, match=message):
        sim.producer("p", "q.fifo", ev.Periodic(1.0), keys=ev.UniformKeys(2),
                     attributes={"DelaySeconds": 5, "MessageDeduplicationId": "a"})  # fmt: skip
    # 0 is accepted (SQS ignores it for a FIFO queue): the queue's own delay applies
    post(sim, queue, key="A", attributes={"DelaySeconds": 0, "MessageDeduplicationId": "b"})
    assert queue.delayed_count() == 1
    env.run(until=3.5)
    assert queue.visible_count() == 1


def test_topics_take_delay_seconds_as_an_ordinary_attribute():
    sim = ev.Simulation(seed=1)
    topic = sim.topic("t")
    event = post(sim, topic, attributes={"DelaySeconds": 5000})
    assert topic.log_end_offset(0) == 1 and sim.records.events.attributes[event]


# --- issue 12: a per-receive visibility timeout --------------------------------------------


def test_a_receive_can_set_its_own_visibility_timeout():
    sim, queue, env = make(visibility_timeout=30)
    at(env, 0, lambda: [post(sim, queue) for _ in range(2)])
    log = []
    receiving(env, queue, log, max_messages=1, wait_time=0, visibility_timeout=5)
    receiving(env, queue, log, start=0, max_messages=1, wait_time=0)  # the queue's 30 s
    receiving(env, queue, log, start=1, times=3, max_messages=10)  # long polls of 20 s
    env.run(until=40)
    got = [(t, [(m.event_id, m.receive_count) for m in ms]) for t, ms in log]
    assert got == [(0, [(0, 1)]), (0, [(1, 1)]), (5, [(0, 2)]), (25, []), (30, [(1, 2)])]


def test_a_waiting_receive_keeps_its_visibility_timeout_and_zero_shows_the_message_at_once():
    sim, queue, env = make(visibility_timeout=30)
    log = []
    receiving(env, queue, log, start=0, visibility_timeout=2)  # waits: no message yet
    at(env, 1, lambda: post(sim, queue))
    receiving(env, queue, log, start=1.5, wait_time=0, visibility_timeout=0)  # nothing: hidden
    receiving(env, queue, log, start=3.5, wait_time=0, visibility_timeout=0)
    receiving(env, queue, log, start=3.5, wait_time=0)
    env.run(until=10)
    got = [(t, [(m.event_id, m.receive_count) for m in ms]) for t, ms in log]
    assert got == [(1, [(0, 1)]), (1.5, []), (3.5, [(0, 2)]), (3.5, [(0, 3)])]
    assert queue._receive_timeouts == {}


def test_a_receive_visibility_timeout_outside_sqs_range_is_refused():
    _, queue, _ = make()
    with pytest.raises(ev.ConfigError, match=r"^visibility_timeout: must be between 0 and 43200"):
        queue.receive(visibility_timeout=43201)
    with pytest.raises(ev.ConfigTypeError, match=r"^visibility_timeout: expected a number"):
        queue.receive(visibility_timeout="5")
