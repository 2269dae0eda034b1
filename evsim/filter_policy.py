"""SNS subscription filter policies on message attributes.

Rules modelled (Amazon SNS, ``FilterPolicyScope: MessageAttributes``):

* A policy maps attribute names to lists of conditions. A message matches when *every*
  name in the policy matches (AND across keys) and, for each name, *at least one*
  condition matches (OR within the list). Attributes the policy does not name are
  ignored.
* Conditions: a string (exact, case-sensitive match); a number (numeric equality, so
  ``301.5`` equals ``3.015e2``; five digits after the decimal point count);
  ``{"prefix": "s"}``, ``{"suffix": "s"}``, ``{"equals-ignore-case": "s"}``;
  ``{"numeric": ["=", 5]}`` or ranges such as ``{"numeric": [">", 0, "<=", 150]}``;
  ``{"anything-but": [values]}`` (also a single value) and
  ``{"anything-but": {"prefix": "s"}}``; ``{"exists": true}`` / ``{"exists": false}``.
* String and numeric conditions match only attributes of their type (a number is not
  the string ``"5"``).
* An array attribute (SNS ``String.Array``: a list or tuple here) matches a condition
  when any element does; for ``anything-but`` it matches when *none* of its elements
  is listed (the current SNS documentation; older pages said "contains a value that
  is not listed").
* A missing attribute (absent, ``None``, ``""`` or an empty array) matches only
  ``{"exists": false}``; ``anything-but`` does not match it (SNS: combine it with
  ``{"exists": false}`` for that). ``"exists": true`` needs a non-null, non-empty
  value; ``"exists": false`` matches only if the message has at least one attribute.
* Limits: at most 5 keys; the product of the list lengths (combinations) at most 150;
  numbers between -1e9 and 1e9. Nested policies (message-body filtering) and ``$or``
  are not modelled and are refused.

:func:`compile_policy` builds the matcher once (closures); :func:`matches` is the
one-off convenience.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from numbers import Real
from typing import Any

from evsim.errors import ConfigError, ConfigTypeError

MAX_KEYS = 5  # SNS: a filter policy can have at most five keys
MAX_COMBINATIONS = 150  # SNS: product of the number of values of each key
NUMBER_LIMIT = 1e9  # SNS numeric matching: -10^9 to 10^9
_DIGITS = 5  # SNS: five digits of accuracy after the decimal point
_COMPARE = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_OPERATORS = ("prefix", "suffix", "equals-ignore-case", "numeric", "anything-but", "exists")

Elements = tuple[Any, ...]
Test = Callable[[Elements], bool]
Matcher = Callable[[Mapping[str, Any]], bool]


def validate_policy(policy: Any, argument: str = "filter_policy") -> dict[str, list[Any]]:
    """Check ``policy`` against SNS's structure and limits; return a plain copy.

    Errors name the path at fault, e.g. ``filter_policy.amount[0].numeric: ...``.
    """
    if not isinstance(policy, Mapping):
        raise ConfigTypeError(
            f"{argument}: expected a mapping of attribute names to lists of conditions, "
            f"e.g. {{'eventType': ['OrderCreated']}}, got {policy!r}"
        )
    if len(policy) > MAX_KEYS:
        raise ConfigError(
            f"{argument}: SNS allows at most {MAX_KEYS} keys in a filter policy, got {len(policy)}"
        )
    checked = {_key(argument, key): _conditions(f"{argument}.{key}", policy[key]) for key in policy}
    combinations = math.prod(len(values) for values in checked.values())
    if combinations > MAX_COMBINATIONS:
        raise ConfigError(
            f"{argument}: SNS allows at most {MAX_COMBINATIONS} combinations (the product of "
            f"the number of values of each key), got {combinations}"
        )
    return checked


def compile_policy(policy: Any, argument: str = "filter_policy") -> Matcher:
    """A function ``attributes -> bool`` implementing ``policy`` (validated first)."""
    tests = [(key, _key_test(values)) for key, values in validate_policy(policy, argument).items()]

    def match(attributes: Mapping[str, Any]) -> bool:
        if not any(_present(value) for value in attributes.values()):
            return not tests  # SNS: an empty attribute set matches no condition
        return all(test(attributes.get(key)) for key, test in tests)

    return match


def matches(policy: Any, attributes: Mapping[str, Any]) -> bool:
    """Whether a message with ``attributes`` passes ``policy`` (SNS semantics)."""
    return compile_policy(policy)(attributes)


# --- validation -----------------------------------------------------------------------


def _key(argument: str, key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise ConfigTypeError(f"{argument}: attribute names must be non-empty strings, got {key!r}")
    if key == "$or":
        raise ConfigError(f"{argument}.$or: the $or operator is not simulated; use one policy")
    return key


def _conditions(path: str, values: Any) -> list[Any]:
    if isinstance(values, Mapping):
        raise ConfigError(
            f"{path}: nested policies filter the message body (FilterPolicyScope "
            "MessageBody), which evsim does not simulate; expected a list of conditions"
        )
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise ConfigTypeError(
            f"{path}: expected a list of conditions, e.g. ['a', 'b'], got {values!r}"
        )
    if not values:
        raise ConfigError(f"{path}: expected at least one condition, got an empty list")
    return [_condition(f"{path}[{i}]", value) for i, value in enumerate(values)]


def _condition(path: str, value: Any) -> Any:
    if isinstance(value, str):
        return value
    if _is_number(value):
        return _number(path, value)
    if not isinstance(value, Mapping):
        raise ConfigTypeError(
            f"{path}: expected a string, a number or an operator such as {{'prefix': 'x'}}, "
            f"got {value!r}"
        )
    if len(value) != 1:
        raise ConfigError(f"{path}: expected one operator per condition, got {dict(value)!r}")
    [(name, operand)] = value.items()
    if name not in _OPERATORS:
        listed = ", ".join(repr(o) for o in _OPERATORS)
        raise ConfigError(f"{path}: unknown operator {name!r}; SNS operators: {listed}")
    return {name: _OPERAND_CHECKS[name](f"{path}.{name}", operand)}


def _string(path: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigTypeError(f"{path}: expected a string, got {value!r}")
    return value


def _exists(path: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigTypeError(f"{path}: expected true or false, got {value!r}")
    return value


def _number(path: str, value: Any) -> float | int:
    if not _is_number(value) or not math.isfinite(value):
        raise ConfigTypeError(f"{path}: expected a number, got {value!r}")
    if abs(value) > NUMBER_LIMIT:
        raise ConfigError(f"{path}: SNS numbers lie between -1e9 and 1e9, got {value!r}")
    return value


def _numeric(path: str, value: Any) -> list[Any]:
    if isinstance(value, str) or not isinstance(value, Sequence) or len(value) not in (2, 4):
        raise ConfigError(
            f"{path}: expected [operator, number] or a range such as ['>', 0, '<=', 150], "
            f"got {value!r}"
        )
    ops, bounds = list(value[0::2]), [_number(path, b) for b in value[1::2]]
    allowed = [tuple(_COMPARE)] if len(ops) == 1 else [(">", ">="), ("<", "<=")]
    for op, choices in zip(ops, allowed, strict=True):
        if op not in choices:
            raise ConfigError(f"{path}: expected one of {', '.join(choices)} here, got {op!r}")
    if len(bounds) == 2 and bounds[0] > bounds[1]:
        raise ConfigError(f"{path}: the lower bound exceeds the upper bound in {list(value)!r}")
    return [item for pair in zip(ops, bounds, strict=True) for item in pair]


def _anything_but(path: str, value: Any) -> Any:
    if isinstance(value, Mapping):
        if set(value) != {"prefix"}:
            raise ConfigError(
                f"{path}: expected {{'prefix': 'text'}} or values, got {dict(value)!r}"
            )
        return {"prefix": _string(f"{path}.prefix", value["prefix"])}
    items = [value] if isinstance(value, str) or _is_number(value) else value
    if isinstance(items, str) or not isinstance(items, Sequence) or not items:
        raise ConfigError(f"{path}: expected a value or a non-empty list of values, got {value!r}")
    return [_literal(f"{path}[{i}]", item) for i, item in enumerate(items)]


def _literal(path: str, value: Any) -> Any:
    return value if isinstance(value, str) else _number(path, value)


_OPERAND_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "prefix": _string,
    "suffix": _string,
    "equals-ignore-case": _string,
    "numeric": _numeric,
    "anything-but": _anything_but,
    "exists": _exists,
}


# --- matching -------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _round(value: Any) -> float:
    return round(float(value), _DIGITS)


def _present(value: Any) -> bool:
    """SNS's notion of an attribute that exists: non-null and non-empty."""
    if value is None or value == "":
        return False
    return not (isinstance(value, list | tuple) and not value)


def _elements(value: Any) -> Elements:
    return tuple(value) if isinstance(value, list | tuple) else (value,)


def _key_test(conditions: list[Any]) -> Callable[[Any], bool]:
    """OR of the key's conditions, on the attribute's value (None when missing)."""
    exists = {c["exists"] for c in conditions if isinstance(c, dict) and "exists" in c}
    strings = frozenset(c for c in conditions if isinstance(c, str))
    numbers = frozenset(_round(c) for c in conditions if _is_number(c))
    tests = [_operator_test(c) for c in conditions if isinstance(c, dict) and "exists" not in c]
    if strings or numbers:
        tests.append(_literal_test(strings, numbers))

    def test(value: Any) -> bool:
        if not _present(value):
            return False in exists
        if True in exists:
            return True
        elements = _elements(value)
        return any(t(elements) for t in tests)

    return test


def _literal_test(strings: frozenset[str], numbers: frozenset[float]) -> Test:
    def test(elements: Elements) -> bool:
        return any(_listed(e, strings, numbers) for e in elements)

    return test


def _listed(element: Any, strings: frozenset[str], numbers: frozenset[float]) -> bool:
    if isinstance(element, str):
        return element in strings
    return _is_number(element) and _round(element) in numbers


def _operator_test(condition: dict[str, Any]) -> Test:
    [(name, operand)] = condition.items()
    if name == "anything-but":
        return _anything_but_test(operand)
    if name == "numeric":
        return _numeric_test(operand)
    text = {
        "prefix": lambda e: e.startswith(operand),
        "suffix": lambda e: e.endswith(operand),
        "equals-ignore-case": lambda e: e.casefold() == operand.casefold(),
    }[name]
    return lambda elements: any(isinstance(e, str) and text(e) for e in elements)


def _numeric_test(operand: list[Any]) -> Test:
    pairs = zip(operand[0::2], operand[1::2], strict=True)
    checks = [(_COMPARE[op], _round(bound)) for op, bound in pairs]

    def within(element: Any) -> bool:
        return _is_number(element) and all(cmp(_round(element), b) for cmp, b in checks)

    return lambda elements: any(within(e) for e in elements)


def _anything_but_test(operand: Any) -> Test:
    if isinstance(operand, dict):
        prefix = operand["prefix"]
        return lambda elements: all(
            not (isinstance(e, str) and e.startswith(prefix)) for e in elements
        )
    strings = frozenset(v for v in operand if isinstance(v, str))
    numbers = frozenset(_round(v) for v in operand if _is_number(v))
    return lambda elements: all(not _listed(e, strings, numbers) for e in elements)
