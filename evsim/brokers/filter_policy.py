"""SNS subscription filter policies: on message attributes or on the message body.

Rules modelled (Amazon SNS subscription filter policies; the conditions of one key are in
:mod:`evsim.brokers.filter_operators`):

* A policy maps names to lists of conditions. A message matches when *every* name in the
  policy matches (AND across keys) and, for each name, *at least one* condition matches
  (OR within the list). Names the policy does not mention are ignored.
* ``FilterPolicyScope`` (``scope``): ``"MessageAttributes"`` (the default) matches the
  message attributes, a flat mapping; nested policies are refused there. ``"MessageBody"``
  matches the body (here the event's payload, which must be a mapping, as SNS needs a
  JSON object: any other payload matches no policy but the empty one). A body policy may
  nest: ``{"order": {"total": [{"numeric": [">", 100]}]}}`` matches
  ``payload["order"]["total"]``. Arrays in the body are looked through: a key matches
  when any value reached through them does, and two keys may be matched by different
  elements of an array of objects. Only leaves are values: a key whose value is an
  object is missing (``exists`` works on leaf nodes only).
* ``"$or"``: ``{"source": ["a"], "$or": [{"x": ["1"]}, {"y": ["2"]}]}`` matches when
  ``source`` matches and at least one of the alternatives does; alternatives may nest
  ``$or`` (and, in a body policy, nested keys). SNS reads ``"$or"`` as OR only when its
  value is a list of at least two objects none of whose keys is an operator name;
  otherwise it is an ordinary name, the same as any other.
* With message attributes, an empty attribute set matches no condition, not even
  ``{"exists": false}`` (SNS); an empty policy matches every message.
* Limits: at most 5 top-level keys (``$or`` counts as one; nested keys of a body policy
  do not count); at most 150 combinations: for each alternative of the ``$or``s, the
  product over its keys of the key's number of conditions times the key's nesting depth
  (1 at the top), summed over the alternatives (SNS's worked examples: 3 × 4 × 2 × 3 = 72
  for a 4-value key three levels deep beside a 3-value key two deep; 7 and 32 with
  ``$or``; :func:`complexity` computes it).

:func:`compile_policy` builds the matcher once (closures); :func:`matches` is the
one-off convenience.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from evsim.brokers import filter_operators as operators
from evsim.errors import ConfigError, ConfigTypeError

MAX_KEYS = 5  # SNS: a filter policy can have at most five (top-level) keys
MAX_COMBINATIONS = 150  # SNS: the policy's total combination of values
MESSAGE_ATTRIBUTES, MESSAGE_BODY = "MessageAttributes", "MessageBody"
SCOPES = (MESSAGE_ATTRIBUTES, MESSAGE_BODY)  # SNS FilterPolicyScope
OR = "$or"

Matcher = Callable[[Any], bool]
Node = Callable[[Mapping[str, Any]], bool]


def check_scope(value: Any, argument: str = "filter_policy_scope") -> str:
    """SNS ``FilterPolicyScope``: ``"MessageAttributes"`` or ``"MessageBody"``."""
    if value not in SCOPES:
        listed = ", ".join(repr(s) for s in SCOPES)
        raise ConfigError(
            f"{argument}: expected one of {listed} (SNS FilterPolicyScope), got {value!r}"
        )
    scope: str = value
    return scope


def validate_policy(
    policy: Any, argument: str = "filter_policy", scope: str = MESSAGE_ATTRIBUTES
) -> dict[str, Any]:
    """Check ``policy`` against SNS's structure and limits; return a plain copy.

    Errors name the path at fault, e.g. ``filter_policy.$or[1].price[0].numeric: ...``.
    """
    scope = check_scope(scope)
    if not isinstance(policy, Mapping):
        raise ConfigTypeError(
            f"{argument}: expected a mapping of attribute names to lists of conditions, "
            f"e.g. {{'eventType': ['OrderCreated']}}, got {policy!r}"
        )
    if len(policy) > MAX_KEYS:
        raise ConfigError(
            f"{argument}: SNS allows at most {MAX_KEYS} keys in a filter policy, got {len(policy)}"
        )
    checked = _checked(argument, policy, scope == MESSAGE_BODY)
    combinations = complexity(checked, argument)
    if combinations > MAX_COMBINATIONS:
        raise ConfigError(_too_complex(argument, combinations))
    return checked


def complexity(checked: dict[str, Any], argument: str = "filter_policy") -> int:
    """SNS's "total combination of values" of a checked policy (at most 150 pass)."""
    return sum(_combinations(argument, checked, 1))


def compile_policy(
    policy: Any, argument: str = "filter_policy", scope: str = MESSAGE_ATTRIBUTES
) -> Matcher:
    """A function ``message -> bool`` implementing ``policy`` (validated first).

    The message is the attribute mapping (``scope="MessageAttributes"``) or the body
    (``scope="MessageBody"``).
    """
    checked = validate_policy(policy, argument, scope)
    if not checked:
        return lambda message: True
    if scope == MESSAGE_BODY:
        root = _node(checked, (), _body_leaf)

        def match_body(body: Any) -> bool:
            return isinstance(body, Mapping) and root(body)

        return match_body
    root = _node(checked, (), _attribute_leaf)

    def match_attributes(attributes: Mapping[str, Any]) -> bool:
        if not any(operators.present(value) for value in attributes.values()):
            return False  # SNS: an empty attribute set matches no condition
        return root(attributes)

    return match_attributes


def matches(policy: Any, message: Any, scope: str = MESSAGE_ATTRIBUTES) -> bool:
    """Whether a message with these attributes (or this body) passes ``policy``."""
    return compile_policy(policy, scope=scope)(message)


# --- structure ----------------------------------------------------------------------------


def _is_or(value: Any) -> bool:
    """SNS's test for an ``$or``: at least two objects, none keyed by an operator name."""
    return (
        isinstance(value, list | tuple)
        and len(value) >= 2
        and all(isinstance(v, Mapping) and not set(v) & set(operators.RESERVED) for v in value)
    )


def _checked(path: str, policy: Mapping[Any, Any], nested: bool) -> dict[str, Any]:
    """A plain copy of one level of a policy (``nested``: a body policy may nest)."""
    checked: dict[str, Any] = {}
    for key, value in policy.items():
        where = f"{path}.{_name(path, key)}"
        if key == OR and _is_or(value):
            checked[key] = [_alternative(f"{where}[{i}]", v, nested) for i, v in enumerate(value)]
        elif isinstance(value, Mapping):
            checked[key] = _nested(where, value, nested)
        else:
            if key == OR:
                _refuse_near_or(where, value)
            checked[key] = operators.conditions(where, value)
    return checked


def _name(path: str, key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise ConfigTypeError(f"{path}: attribute names must be non-empty strings, got {key!r}")
    return key


def _alternative(path: str, value: Mapping[str, Any], nested: bool) -> dict[str, Any]:
    if not value:
        raise ConfigError(f"{path}: an $or alternative needs at least one key, got {{}}")
    return _checked(path, value, nested)


def _nested(path: str, value: Mapping[str, Any], nested: bool) -> dict[str, Any]:
    if not nested:
        raise ConfigError(
            f"{path}: nested policies filter the message body (SNS FilterPolicyScope "
            "MessageBody): subscribe with filter_policy_scope='MessageBody', or give a list "
            "of conditions"
        )
    if not value:
        raise ConfigError(f"{path}: expected nested keys or a list of conditions, got {{}}")
    return _checked(path, value, nested)


def _refuse_near_or(path: str, value: Any) -> None:
    """An ``$or`` SNS would read as an attribute name with policies for conditions."""
    items = value if isinstance(value, Sequence) and not isinstance(value, str) else []
    if any(isinstance(v, Mapping) and not set(v) & set(operators.RESERVED) for v in items):
        raise ConfigError(
            f"{path}: SNS reads $or as OR only with a list of at least two policies whose "
            f"keys are not operator names, e.g. [{{'a': ['x']}}, {{'b': ['y']}}]; got {value!r}"
        )


def _combinations(path: str, policy: dict[str, Any], depth: int) -> list[int]:
    """The combinations of each alternative of ``policy`` at nesting ``depth`` (SNS)."""
    totals = [1]
    for key, value in policy.items():
        if key == OR and _is_or(value):
            options = [n for branch in value for n in _combinations(path, branch, depth)]
        elif isinstance(value, dict):
            options = _combinations(path, value, depth + 1)
        else:
            options = [len(value) * depth]
        totals = [a * b for a in totals for b in options]
        if len(totals) > MAX_COMBINATIONS:  # each counts at least 1: over the limit already
            raise ConfigError(_too_complex(path, len(totals)))
    return totals


def _too_complex(path: str, combinations: int) -> str:
    return (
        f"{path}: SNS allows at most {MAX_COMBINATIONS} combinations (the product of the "
        "number of values of each key, times its nesting depth in a body policy, summed over "
        f"$or alternatives), got {combinations}{'+' if combinations > MAX_COMBINATIONS else ''}"
    )


# --- matching -----------------------------------------------------------------------------

Leaf = Callable[[tuple[str, ...], Callable[[Any], bool]], Node]


def _node(policy: dict[str, Any], prefix: tuple[str, ...], leaf: Leaf) -> Node:
    """AND of the keys of one level (``prefix``: the path to it in a body policy)."""
    parts: list[Node] = []
    for key, value in policy.items():
        if key == OR and _is_or(value):
            parts.append(_any([_node(branch, prefix, leaf) for branch in value]))
        elif isinstance(value, dict):
            parts.append(_node(value, (*prefix, key), leaf))
        else:
            parts.append(leaf((*prefix, key), operators.key_test(value)))
    if len(parts) == 1:
        return parts[0]
    return lambda message: all(part(message) for part in parts)


def _any(branches: list[Node]) -> Node:
    return lambda message: any(branch(message) for branch in branches)


def _attribute_leaf(path: tuple[str, ...], test: Callable[[Any], bool]) -> Node:
    [key] = path
    return lambda attributes: test(attributes.get(key))


def _body_leaf(path: tuple[str, ...], test: Callable[[Any], bool]) -> Node:
    return lambda body: test(_collect(body, path))


def _collect(body: Mapping[str, Any], path: tuple[str, ...]) -> list[Any] | None:
    """The present leaf values at ``path`` in ``body``, through arrays (None if none)."""
    found: list[Any] = []
    _gather(body, path, 0, found)
    return found or None


def _gather(value: Any, path: tuple[str, ...], depth: int, found: list[Any]) -> None:
    if isinstance(value, list | tuple):
        for item in value:
            _gather(item, path, depth, found)
    elif depth == len(path):
        if not isinstance(value, Mapping) and operators.present(value):
            found.append(value)
    elif isinstance(value, Mapping) and path[depth] in value:
        _gather(value[path[depth]], path, depth + 1, found)
