"""ev.from_aws: the seed's SNS/SQS configuration, and clear errors for malformed ones."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

import evsim as ev

SEED_CONFIG = Path(__file__).resolve().parents[1] / "data" / "aws" / "order-events.json"


@pytest.fixture
def seed_config() -> dict:
    return json.loads(SEED_CONFIG.read_text(encoding="utf-8"))


def test_the_seed_config_builds_the_fanout_queue_dlq_and_subscription():
    sim = ev.from_aws(SEED_CONFIG, seed=1)
    assert list(sim.fanouts) == ["OrderEvents"]
    queue = sim.queues["NotificationQueue"]
    dlq = sim.queues["NotificationDLQ"]
    assert (queue.visibility_timeout, queue.retention) == (30, 86400)
    assert queue.dead_letter is dlq and queue.max_receive_count == 5
    assert dlq.retention == 1209600 and dlq.dead_letter is None
    [subscription] = sim.fanouts["OrderEvents"].subscriptions
    assert subscription.queue is queue
    assert subscription.filter_policy == {"eventType": ["OrderCreated"]}
    assert sim.seed == 1


def test_the_subscription_passes_order_created_and_not_payment_processed():
    sim = ev.from_aws(SEED_CONFIG, seed=1)
    for event_type in ("OrderCreated", "PaymentProcessed"):
        sim.producer(event_type, "OrderEvents", ev.Periodic(interval=1.0), event_type=event_type)
    result = sim.run(until=10.5)
    queue = sim.queues["NotificationQueue"]
    assert queue.depth() == 10
    queued = {result.events.loc[m.event_id, "event_type"] for m in queue.messages()}
    assert queued == {"OrderCreated"}
    assert result.events["event_type"].value_counts().to_dict() == {
        "OrderCreated": 10,
        "PaymentProcessed": 10,
    }
    depth = result.timeseries.query("metric == 'queue_depth' and entity == 'NotificationQueue'")
    assert depth["value"].iloc[-1] == 10
    assert set(result.timeseries.query("metric == 'dlq_depth'")["entity"]) == {"NotificationDLQ"}


def test_keys_not_simulated_are_reported(seed_config):
    sim = ev.from_aws(seed_config)
    assert sim.not_simulated == [
        "SNSTopic.TopicArn",
        "SNSTopic.Attributes.DisplayName",
        "SNSTopic.Attributes.KmsMasterKeyId",
        "SQSQueue.Policy",
    ]
    assert sim.config["not_simulated"] == sim.not_simulated


def test_a_json_string_and_aws_style_strings_are_accepted(seed_config):
    attributes = seed_config["SQSQueue"]["Attributes"]
    attributes["RedrivePolicy"] = json.dumps(attributes["RedrivePolicy"])  # as AWS returns it
    attributes.update(DelaySeconds="5", ReceiveMessageWaitTimeSeconds=10, MaximumMessageSize="1024")
    seed_config["SNSSubscription"]["Attributes"]["RawMessageDelivery"] = "true"
    sim = ev.from_aws(json.dumps(seed_config))
    queue = sim.queues["NotificationQueue"]
    assert (queue.delay, queue.wait_time, queue.max_receive_count) == (5, 10, 5)
    assert "SQSQueue.Attributes.MaximumMessageSize" in sim.not_simulated
    assert "SNSSubscription.Attributes.RawMessageDelivery" in sim.not_simulated


def test_lists_of_objects_and_fifo_queues():
    config = {
        "SNSTopic": [
            {"TopicName": "A"},
            {"TopicArn": "arn:aws:sns:eu-west-1:1:B.fifo", "Attributes": {"FifoTopic": "true"}},
        ],
        "SQSQueue": [
            {"QueueName": "q1"},
            {
                "QueueName": "q2.fifo",
                "Attributes": {
                    "FifoQueue": "true",
                    "ContentBasedDeduplication": True,
                    "RedrivePolicy": {"deadLetterTargetArn": "arn:x:d.fifo", "maxReceiveCount": 2},
                },
            },
        ],
        "SQSDeadLetterQueue": {"QueueName": "d.fifo", "Attributes": {"FifoQueue": "true"}},
        "SNSSubscription": [
            {"TopicArn": "arn:aws:sns:eu-west-1:1:A", "Protocol": "sqs", "Endpoint": "arn:x:q1"},
            {
                "TopicArn": "arn:aws:sns:eu-west-1:1:B.fifo",
                "Protocol": "sqs",
                "Endpoint": "q2.fifo",
            },
        ],
    }
    sim = ev.from_aws(config)
    assert list(sim.fanouts) == ["A", "B.fifo"]
    assert sim.fanouts["B.fifo"].fifo and not sim.fanouts["A"].fifo
    assert sim.queues["q2.fifo"].fifo and sim.queues["q2.fifo"].content_based_deduplication
    assert sim.queues["q2.fifo"].dead_letter is sim.queues["d.fifo"]
    assert [s.queue.name for s in sim.fanouts["B.fifo"].subscriptions] == ["q2.fifo"]


def test_fifo_topics_body_filters_and_the_fifo_subscription_rule():
    """Issue 12: FifoTopic/ContentBasedDeduplication on SNSTopic, FilterPolicyScope
    MessageBody on SNSSubscription, and SNS's refusal of a FIFO queue on a standard topic."""
    config = {
        "SNSTopic": [
            {
                "TopicName": "orders.fifo",
                "Attributes": {"FifoTopic": "true", "ContentBasedDeduplication": "true"},
            },
            {"TopicName": "plain"},
        ],
        "SQSQueue": [
            {"QueueName": "big.fifo", "Attributes": {"FifoQueue": "true", "DelaySeconds": "0"}},
            {"QueueName": "audit.fifo", "Attributes": {"FifoQueue": "true"}},
        ],
        "SNSSubscription": {
            "TopicArn": "arn:aws:sns:us-east-1:1:orders.fifo",
            "Protocol": "sqs",
            "Endpoint": "arn:aws:sqs:us-east-1:1:big.fifo",
            "Attributes": {
                "FilterPolicyScope": "MessageBody",
                "FilterPolicy": json.dumps({"order": {"total": [{"numeric": [">", 100]}]}}),
            },
        },
    }
    sim = ev.from_aws(config)
    topic = sim.fanouts["orders.fifo"]
    assert topic.fifo and topic.content_based_deduplication
    [subscription] = topic.subscriptions
    assert subscription.filter_policy_scope == "MessageBody"
    totals = iter([50, 150, 150, 300])  # the second 150 is a duplicate body: not delivered
    sim.producer(
        "shop", "orders.fifo", ev.Periodic(interval=1.0), keys=ev.UniformKeys(3),
        payload=lambda i: {"order": {"total": next(totals)}}, stop=4.5,
    )  # fmt: skip
    sim.run(until=10)
    queue = sim.queues["big.fifo"]
    assert [m.event_id for m in queue.messages()] == [1, 3]
    assert topic.duplicates_dropped == 1 and queue.duplicates_dropped == 0
    config["SNSSubscription"]["TopicArn"] = "arn:aws:sns:us-east-1:1:plain"
    config["SNSSubscription"]["Endpoint"] = "audit.fifo"
    with pytest.raises(
        ev.ConfigError, match=r"^SNSSubscription\.Endpoint: 'audit\.fifo' is a FIFO"
    ):
        ev.from_aws(config)


def test_a_dlq_the_config_does_not_define_gets_sqs_defaults(seed_config):
    del seed_config["SQSDeadLetterQueue"]
    sim = ev.from_aws(seed_config)
    assert sim.queues["NotificationDLQ"].retention == 345600


def broken(seed_config, where, value):
    config = copy.deepcopy(seed_config)
    *parents, last = where
    target = config
    for key in parents:
        target = target[key]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return config


QUEUE_ATTRIBUTES = ("SQSQueue", "Attributes")
QA = r"^SQSQueue\.Attributes\."


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        ((*QUEUE_ATTRIBUTES, "VisibilityTimeout"), "thirty",
         QA + r"VisibilityTimeout: expected a whole number of seconds, got 'thirty'$"),
        ((*QUEUE_ATTRIBUTES, "VisibilityTimeout"), "50000",
         r"^SQSQueue\.Attributes\.VisibilityTimeout: must be between 0 and 43200 seconds \(SQS\)"),
        ((*QUEUE_ATTRIBUTES, "MessageRetentionPeriod"), "30.5",
         r"^SQSQueue\.Attributes\.MessageRetentionPeriod: expected a whole number"),
        ((*QUEUE_ATTRIBUTES, "MessageRetentionPeriod"), 10,
         r"^SQSQueue\.Attributes\.MessageRetentionPeriod: must be between 60 and 1209600"),
        ((*QUEUE_ATTRIBUTES, "FifoQueue"), "maybe",
         r"^SQSQueue\.Attributes\.FifoQueue: expected true or false, got 'maybe'"),
        ((*QUEUE_ATTRIBUTES, "FifoQueue"), "true",
         r"^SQSQueue\.QueueName: a FIFO queue's name must end in '\.fifo'"),
        ((*QUEUE_ATTRIBUTES, "RedrivePolicy", "maxReceiveCount"), "five",
         QA + r"RedrivePolicy\.maxReceiveCount: expected a whole number, got 'five'"),
        ((*QUEUE_ATTRIBUTES, "RedrivePolicy", "maxReceiveCount"), 0,
         r"^SQSQueue\.Attributes\.RedrivePolicy\.maxReceiveCount: must be between 1 and 1000"),
        ((*QUEUE_ATTRIBUTES, "RedrivePolicy", "maxReceiveCount"), KeyError,
         r"^SQSQueue\.Attributes\.RedrivePolicy\.maxReceiveCount: missing"),
        ((*QUEUE_ATTRIBUTES, "RedrivePolicy", "deadLetterTargetArn"), "arn:aws:sqs:x:",
         r"^SQSQueue\.Attributes\.RedrivePolicy\.deadLetterTargetArn: expected an ARN"),
        ((*QUEUE_ATTRIBUTES, "RedrivePolicy"), "{not json",
         r"^SQSQueue\.Attributes\.RedrivePolicy: not valid JSON"),
        ((*QUEUE_ATTRIBUTES, "RedrivePolicy"), 5,
         r"^SQSQueue\.Attributes\.RedrivePolicy: expected an object"),
        (("SQSQueue", "QueueName"), KeyError, r"^SQSQueue\.QueueName: expected the queue's name"),
        (("SQSQueue", "QueueName"), "A Queue", r"^SQSQueue\.QueueName: an SQS queue name"),
        (("SQSDeadLetterQueue", "QueueName"), "NotificationQueue", r"defined twice"),
        (("SNSTopic", "TopicName"), 5, r"^SNSTopic\.TopicName: expected the topic's name, got 5"),
        (("SNSSubscription", "Protocol"), "lambda",
         r"^SNSSubscription\.Protocol: only 'sqs' subscriptions are simulated, got 'lambda'"),
        (("SNSSubscription", "Endpoint"), "arn:aws:sqs:us-east-1:account-id:Missing",
         r"^SNSSubscription\.Endpoint: no SQS queue named 'Missing'"),
        (("SNSSubscription", "TopicArn"), "arn:aws:sns:us-east-1:account-id:Other",
         r"^SNSSubscription\.TopicArn: no SNSTopic named 'Other'"),
        (("SNSSubscription", "Attributes", "FilterPolicy"), {"eventType": "OrderCreated"},
         r"^SNSSubscription\.Attributes\.FilterPolicy\.eventType: expected a list"),
        (("SNSSubscription", "Attributes", "FilterPolicyScope"), "Body",
         r"^SNSSubscription\.Attributes\.FilterPolicyScope: expected one of 'MessageAttributes'"),
        (("SNSTopic", "Attributes", "FifoTopic"), "true",
         r"^SNSTopic\.TopicName: a FIFO fanout's name must end in '\.fifo' \(SNS\)"),
        (("SNSTopic", "Attributes", "ContentBasedDeduplication"), "true",
         r"^SNSTopic\.Attributes\.ContentBasedDeduplication: only FIFO topics deduplicate"),
        (("SNSTopic", "Attributes", "FifoTopic"), "perhaps",
         r"^SNSTopic\.Attributes\.FifoTopic: expected true or false, got 'perhaps'"),
        (("SQSQueue",), [42], r"^SQSQueue\[0\]: expected an object, got 42"),
    ],
)  # fmt: skip
def test_malformed_values_name_the_key(seed_config, where, value, message):
    config = broken(seed_config, where, value)
    with pytest.raises(ev.EvsimError, match=message):
        ev.from_aws(config)


def test_bad_documents_and_paths(tmp_path):
    with pytest.raises(ev.ConfigError, match=r"^config: not valid JSON \(.* line 1"):
        ev.from_aws("{nope")
    with pytest.raises(ev.ConfigError, match="config: cannot read"):
        ev.from_aws(tmp_path / "missing.json")
    with pytest.raises(ev.ConfigTypeError, match="config: expected a mapping"):
        ev.from_aws(["SNSTopic"])
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"SNSTopic": {"TopicName": "T"}, "Outputs": {}}))
    sim = ev.from_aws(str(path))
    assert list(sim.fanouts) == ["T"] and sim.not_simulated == ["Outputs"]


def test_the_data_file_is_the_seeds_example():
    seed = Path("/work/shared/seed/event-driven-architecture-seed.txt")
    if not seed.exists():
        pytest.skip("the seed text is outside this checkout")
    text = seed.read_text(encoding="utf-8")
    start = text.index('{\n  "SNSTopic"')
    example = json.JSONDecoder().raw_decode(text[start:])[0]
    assert json.loads(SEED_CONFIG.read_text(encoding="utf-8")) == example
