"""Build a simulation from an AWS SNS/SQS configuration (the seed tutorial's JSON form).

::

    sim = ev.from_aws("data/aws/order-events.json", seed=1)

The document has up to four sections, each one object or a list of objects:

* ``SNSTopic``: ``TopicName`` (or the last segment of ``TopicArn``) and ``Attributes``
  (``FifoTopic``, ``ContentBasedDeduplication``) → :class:`Fanout`.
* ``SQSQueue`` and ``SQSDeadLetterQueue``: ``QueueName`` and ``Attributes``
  (``VisibilityTimeout``, ``MessageRetentionPeriod``, ``DelaySeconds``,
  ``ReceiveMessageWaitTimeSeconds``, ``FifoQueue``, ``ContentBasedDeduplication``, and
  ``RedrivePolicy`` with ``deadLetterTargetArn`` and ``maxReceiveCount``) → :class:`Queue`.
  Values may be strings, as AWS writes them (``"30"``, ``"true"``); ``RedrivePolicy`` may
  be an object or the JSON string AWS returns.
* ``SNSSubscription``: ``TopicArn``, ``Protocol`` (must be ``sqs``), ``Endpoint`` (the
  queue's ARN), ``Attributes.FilterPolicy`` and ``Attributes.FilterPolicyScope``
  (``MessageAttributes`` or ``MessageBody``) → :meth:`Fanout.subscribe`. ARNs are
  resolved by their last segment.

Keys evsim does not model (policies, KMS keys, display names, ARNs of topics,
``RawMessageDelivery``...) are accepted and listed, as dotted paths, in
``sim.not_simulated`` and ``sim.config["not_simulated"]``. A malformed value raises
ConfigError naming its path, e.g. ``SQSQueue.Attributes.VisibilityTimeout: expected a
whole number of seconds, got 'thirty'``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from evsim.errors import ConfigError, ConfigTypeError, EvsimError, UnknownNameError
from evsim.simulation import Simulation

SECTIONS = ("SNSTopic", "SQSQueue", "SQSDeadLetterQueue", "SNSSubscription")
_WHOLE = re.compile(r"\s*[+-]?\d+\s*")
_QUEUE_ATTRIBUTES = {  # SQS attribute → Simulation.queue argument
    "VisibilityTimeout": "visibility_timeout",
    "MessageRetentionPeriod": "retention",
    "DelaySeconds": "delay",
    "ReceiveMessageWaitTimeSeconds": "wait_time",
    "FifoQueue": "fifo",
    "ContentBasedDeduplication": "content_based_deduplication",
}
_FLAGS = {"FifoQueue", "ContentBasedDeduplication"}
_TOPIC_ATTRIBUTES = {  # SNS attribute → Simulation.fanout argument (all true/false)
    "FifoTopic": "fifo",
    "ContentBasedDeduplication": "content_based_deduplication",
}


def from_aws(config: Mapping[str, Any] | str | Path, seed: int | None = None) -> Simulation:
    """A :class:`Simulation` with the fanouts, queues, DLQs and subscriptions of ``config``.

    ``config`` is a mapping, a JSON string, or the path of a ``.json`` file.
    """
    document = _load(config)
    sim = Simulation(seed=seed)
    _Builder(sim).build(document)
    return sim


def _load(config: Any) -> Mapping[str, Any]:
    if isinstance(config, str) and config.lstrip().startswith("{"):
        document = _parse_json("config", config)
    elif isinstance(config, str | Path):
        path = Path(config)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise ConfigError(f"config: cannot read {str(path)!r}: {err.strerror}") from err
        document = _parse_json(str(path), text)
    else:
        document = config
    if not isinstance(document, Mapping):
        raise ConfigTypeError(
            "config: expected a mapping with SNSTopic, SQSQueue, SNSSubscription and "
            f"SQSDeadLetterQueue sections, a JSON string or a .json path, got {document!r}"
        )
    return document


def _parse_json(where: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(
            f"{where}: not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})"
        ) from err


class _Builder:
    """Builds one document into ``sim``, collecting the keys it does not model."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.topic_arns: dict[str, str] = {}  # topic ARN → fanout name
        self.queue_entries: dict[str, tuple[str, dict[str, Any], str | None]] = {}

    def build(self, document: Mapping[str, Any]) -> None:
        for key in document:
            if key not in SECTIONS:
                self.skip(str(key))
        for path, entry in self.entries(document, "SNSTopic"):
            self.topic(path, entry)
        for section in ("SQSQueue", "SQSDeadLetterQueue"):
            for path, entry in self.entries(document, section):
                self.queue_entry(path, entry)
        for name in self.queue_entries:
            self.build_queue(name, ())
        for path, entry in self.entries(document, "SNSSubscription"):
            self.subscription(path, entry)

    def skip(self, path: str) -> None:
        if path not in self.sim.not_simulated:
            self.sim.not_simulated.append(path)

    def entries(self, document: Mapping[str, Any], section: str) -> list[tuple[str, Mapping]]:
        value = document.get(section)
        if value is None:
            return []
        items = value if isinstance(value, list) else [value]
        paths = (
            [section]
            if not isinstance(value, list)
            else [f"{section}[{i}]" for i in range(len(items))]
        )
        for path, item in zip(paths, items, strict=True):
            if not isinstance(item, Mapping):
                raise ConfigTypeError(f"{path}: expected an object, got {item!r}")
        return list(zip(paths, items, strict=True))

    def unmodelled(self, path: str, entry: Mapping, modelled: set[str]) -> None:
        for key in entry:
            if key not in modelled:
                self.skip(f"{path}.{key}")

    # --- SNS topics ---------------------------------------------------------------------

    def topic(self, path: str, entry: Mapping) -> None:
        arn = entry.get("TopicArn")
        name = entry.get("TopicName")
        if name is None and arn is not None:
            name = _arn_name(f"{path}.TopicArn", arn)
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{path}.TopicName: expected the topic's name, got {name!r}")
        self.unmodelled(path, entry, {"TopicName", "Attributes"})
        kwargs: dict[str, Any] = {}
        for key, value in _mapping(f"{path}.Attributes", entry.get("Attributes", {})).items():
            where = f"{path}.Attributes.{key}"
            if key in _TOPIC_ATTRIBUTES:
                kwargs[_TOPIC_ATTRIBUTES[key]] = _boolean(where, value)
            else:
                self.skip(where)
        arguments = {"name": f"{path}.TopicName"}
        arguments.update(
            {arg: f"{path}.Attributes.{key}" for key, arg in _TOPIC_ATTRIBUTES.items()}
        )
        build = partial(self.sim.fanout, name, **kwargs)
        _named(f"{path}.TopicName", build, set(arguments), arguments)
        self.topic_arns[name] = name
        if arn is not None:
            self.topic_arns[_arn_name(f"{path}.TopicArn", arn)] = name

    # --- SQS queues ---------------------------------------------------------------------

    def queue_entry(self, path: str, entry: Mapping) -> None:
        name = entry.get("QueueName")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{path}.QueueName: expected the queue's name, got {name!r}")
        if name in self.queue_entries:
            raise ConfigError(f"{path}.QueueName: queue {name!r} is defined twice")
        self.unmodelled(path, entry, {"QueueName", "Attributes"})
        kwargs: dict[str, Any] = {}
        dead_letter = None
        attributes = _mapping(f"{path}.Attributes", entry.get("Attributes", {}))
        for key, value in attributes.items():
            where = f"{path}.Attributes.{key}"
            if key == "RedrivePolicy":
                dead_letter, kwargs["max_receive_count"] = self.redrive(where, value)
            elif key in _QUEUE_ATTRIBUTES:
                convert = _boolean if key in _FLAGS else _whole_seconds
                kwargs[_QUEUE_ATTRIBUTES[key]] = convert(where, value)
            else:
                self.skip(where)
        self.queue_entries[name] = (path, kwargs, dead_letter)

    def redrive(self, path: str, value: Any) -> tuple[str, int]:
        policy = _mapping(path, value)
        self.unmodelled(path, policy, {"deadLetterTargetArn", "maxReceiveCount"})
        for key in ("deadLetterTargetArn", "maxReceiveCount"):
            if key not in policy:
                raise ConfigError(f"{path}.{key}: missing; a RedrivePolicy needs both parts")
        target = _arn_name(f"{path}.deadLetterTargetArn", policy["deadLetterTargetArn"])
        return target, _whole(f"{path}.maxReceiveCount", policy["maxReceiveCount"], "")

    def build_queue(self, name: str, chain: tuple[str, ...]) -> None:
        if name in self.sim.queues or name not in self.queue_entries:
            return  # built already, or a DLQ the document does not define (defaults)
        path, kwargs, dead_letter = self.queue_entries[name]
        if name in chain:
            raise ConfigError(f"{path}.Attributes.RedrivePolicy: redrive cycle {[*chain, name]}")
        if dead_letter is not None:
            self.build_queue(dead_letter, (*chain, name))
        arguments = {"name": f"{path}.QueueName"}
        arguments.update(
            {arg: f"{path}.Attributes.{key}" for key, arg in _QUEUE_ATTRIBUTES.items()}
        )
        redrive = f"{path}.Attributes.RedrivePolicy"
        arguments.update(
            dead_letter=f"{redrive}.deadLetterTargetArn",
            max_receive_count=f"{redrive}.maxReceiveCount",
        )
        build = partial(self.sim.queue, name, dead_letter=dead_letter, **kwargs)
        _named(path, build, set(arguments), arguments)

    # --- SNS subscriptions --------------------------------------------------------------

    def subscription(self, path: str, entry: Mapping) -> None:
        self.unmodelled(path, entry, {"TopicArn", "Protocol", "Endpoint", "Attributes"})
        protocol = entry.get("Protocol")
        if protocol != "sqs":
            raise ConfigError(
                f"{path}.Protocol: only 'sqs' subscriptions are simulated, got {protocol!r}"
            )
        topic = _arn_name(f"{path}.TopicArn", entry.get("TopicArn"))
        if topic not in self.topic_arns:
            raise UnknownNameError(f"{path}.TopicArn: no SNSTopic named {topic!r} in the config")
        queue = _arn_name(f"{path}.Endpoint", entry.get("Endpoint"))
        if queue not in self.sim.queues:
            raise UnknownNameError(f"{path}.Endpoint: no SQS queue named {queue!r} in the config")
        kwargs: dict[str, Any] = {}
        for key, value in _mapping(f"{path}.Attributes", entry.get("Attributes", {})).items():
            where = f"{path}.Attributes.{key}"
            if key == "FilterPolicy":
                kwargs["filter_policy"] = _mapping(where, value)
            elif key == "FilterPolicyScope":
                kwargs["filter_policy_scope"] = value
            else:
                self.skip(where)
        fanout = self.sim.fanouts[self.topic_arns[topic]]
        arguments = {
            "queue": f"{path}.Endpoint",
            "filter_policy": f"{path}.Attributes.FilterPolicy",
            "filter_policy_scope": f"{path}.Attributes.FilterPolicyScope",
        }
        build = partial(fanout.subscribe, queue, **kwargs)
        _named(path, build, set(arguments), arguments)


def _named(
    path: str,
    build: Callable[[], Any],
    arguments: set[str],
    paths: Mapping[str, str] | None = None,
) -> Any:
    """Run ``build``; an evsim error about one of ``arguments`` is renamed to its path."""
    try:
        return build()
    except EvsimError as err:
        message = str(err)
        for argument in arguments:
            if message.startswith(f"{argument}:") or message.startswith(f"{argument}."):
                where = (paths or {}).get(argument, path)
                raise type(err)(where + message[len(argument) :]) from err
        raise


def _mapping(path: str, value: Any) -> Mapping[str, Any]:
    """An object, or a JSON string holding one (as AWS returns policies)."""
    if isinstance(value, str):
        value = _parse_json(path, value)
    if not isinstance(value, Mapping):
        raise ConfigTypeError(f"{path}: expected an object, got {value!r}")
    return value


def _whole(path: str, value: Any, unit: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _WHOLE.fullmatch(value):
        return int(value)
    raise ConfigError(f"{path}: expected a whole number{unit}, got {value!r}")


def _whole_seconds(path: str, value: Any) -> int:
    return _whole(path, value, " of seconds")


def _boolean(path: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ConfigError(f"{path}: expected true or false, got {value!r}")


def _arn_name(path: str, value: Any) -> str:
    """The resource name of an ARN (its last ``:`` segment); a bare name passes."""
    name = value.rsplit(":", 1)[-1] if isinstance(value, str) else ""
    if not name:
        raise ConfigError(
            f"{path}: expected an ARN such as 'arn:aws:sqs:us-east-1:123456789012:MyQueue', "
            f"got {value!r}"
        )
    return name
