"""SNS filter-policy conditions: checking one key's list of conditions and matching it.

A key's conditions are a list; the key matches when *at least one* condition matches
(:mod:`evsim.brokers.filter_policy` combines the keys). The rules of each condition (Amazon SNS
subscription filter policies, with AWS Event Ruler's rules where SNS refers to them):

* a string: exact, case-sensitive match; a number: numeric equality (``301.5`` equals
  ``3.015e2``) to five digits after the decimal point, between -1e9 and 1e9. A string
  condition matches only strings and a number only numbers (``5`` is not ``"5"``);
  booleans and ``null`` are not modelled and are refused.
* ``{"prefix": "s"}``, ``{"suffix": "s"}``, ``{"equals-ignore-case": "s"}``;
  ``{"wildcard": "a*b"}``: ``*`` stands for any run of characters (none included),
  ``\\*`` for a literal star and ``\\\\`` for a backslash; another escape, or two stars
  in a row, is refused (Event Ruler's parse errors). SNS publishes no limit on the
  number of stars, so none is modelled.
* ``{"numeric": ["=", 5]}`` or a range such as ``{"numeric": [">", 0, "<=", 150]}``.
* ``{"anything-but": ...}`` with a value or a list of values, or with one of
  ``{"prefix": "s"}``, ``{"suffix": "s"}``, ``{"equals-ignore-case": "s" or [...]}``,
  ``{"wildcard": "a*b" or [...]}``: it matches a present value that the inner condition
  does not match.
* ``{"exists": true}`` (a non-null, non-empty value) / ``{"exists": false}``.
* An array value (SNS ``String.Array``; a list or tuple here) matches a condition when any
  element does, and ``anything-but`` when *none* of its elements is excluded.
* A missing value (absent, ``None``, ``""`` or an empty array) matches only
  ``{"exists": false}``.

:func:`conditions` checks a list and returns a plain copy; :func:`key_test` builds the
matcher once (closures) for the hot path.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from numbers import Real
from typing import Any

from evsim.errors import ConfigError, ConfigTypeError

NUMBER_LIMIT = 1e9  # SNS numeric matching: -10^9 to 10^9
_DIGITS = 5  # SNS: five digits of accuracy after the decimal point
_COMPARE = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
OPERATORS = (
    "prefix",
    "suffix",
    "equals-ignore-case",
    "wildcard",
    "numeric",
    "anything-but",
    "exists",
)
RESERVED = (*OPERATORS, "cidr")
"""SNS's operator keywords (``cidr`` is reserved by SNS but not modelled)."""
_EXCLUSIONS = ("prefix", "suffix", "equals-ignore-case", "wildcard")  # inside anything-but
_LISTS_ALLOWED = ("equals-ignore-case", "wildcard")  # may exclude several strings at once

Elements = tuple[Any, ...]
Test = Callable[[Elements], bool]
StringTest = Callable[[str], bool]


# --- checking -----------------------------------------------------------------------------


def conditions(path: str, values: Any) -> list[Any]:
    """Check one key's list of conditions; return a plain copy. ``path`` names the key
    in errors, e.g. ``filter_policy.amount``."""
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
    name, operand = _one_operator(path, value)
    if name not in _OPERAND_CHECKS:
        listed = ", ".join(repr(o) for o in OPERATORS)
        raise ConfigError(f"{path}: unknown operator {name!r}; SNS operators: {listed}")
    return {name: _OPERAND_CHECKS[name](f"{path}.{name}", operand)}


def _one_operator(path: str, value: Mapping[str, Any]) -> tuple[str, Any]:
    if len(value) != 1:
        raise ConfigError(f"{path}: expected one operator per condition, got {dict(value)!r}")
    [(name, operand)] = value.items()
    return name, operand


def _string(path: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigTypeError(f"{path}: expected a string, got {value!r}")
    return value


def _strings(path: str, value: Any) -> str | list[str]:
    """A string, or a non-empty list of strings."""
    if isinstance(value, str):
        return value
    if not isinstance(value, Sequence) or not value:
        raise ConfigTypeError(
            f"{path}: expected a string or a non-empty list of strings, got {value!r}"
        )
    return [_string(f"{path}[{i}]", item) for i, item in enumerate(value)]


def _wildcard(path: str, value: Any) -> str:
    """A wildcard pattern, checked as Event Ruler parses it."""
    pattern = _string(path, value)
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            if pattern[index + 1 : index + 2] not in ("*", "\\"):
                raise ConfigError(
                    f"{path}: invalid escape at position {index} of {pattern!r}; only \\* (a "
                    "literal star) and \\\\ (a backslash) are escapes"
                )
            index += 1
        elif char == "*" and pattern[index + 1 : index + 2] == "*":
            raise ConfigError(
                f"{path}: consecutive wildcard characters at position {index} of {pattern!r} "
                "(AWS refuses '**'; one '*' already matches any run of characters)"
            )
        index += 1
    return pattern


def _wildcards(path: str, value: Any) -> str | list[str]:
    items = _strings(path, value)
    if isinstance(items, str):
        return _wildcard(path, items)
    return [_wildcard(f"{path}[{i}]", item) for i, item in enumerate(items)]


def _exists(path: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigTypeError(f"{path}: expected true or false, got {value!r}")
    return value


def _number(path: str, value: Any) -> float | int:
    if not _is_number(value) or not math.isfinite(value):
        raise ConfigTypeError(f"{path}: expected a number, got {value!r}")
    if abs(value) > NUMBER_LIMIT:
        raise ConfigError(f"{path}: SNS numbers lie between -1e9 and 1e9, got {value!r}")
    number: float | int = value
    return number


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
        return _exclusion(path, value)
    items = [value] if isinstance(value, str) or _is_number(value) else value
    if isinstance(items, str) or not isinstance(items, Sequence) or not items:
        raise ConfigError(f"{path}: expected a value or a non-empty list of values, got {value!r}")
    return [_literal(f"{path}[{i}]", item) for i, item in enumerate(items)]


def _exclusion(path: str, value: Mapping[str, Any]) -> dict[str, Any]:
    """The inner operator of ``anything-but``: prefix, suffix, equals-ignore-case, wildcard."""
    if len(value) != 1 or next(iter(value)) not in _EXCLUSIONS:
        forms = ", ".join(f"{{{name!r}: ...}}" for name in _EXCLUSIONS)
        raise ConfigError(f"{path}: expected values or one of {forms}, got {dict(value)!r}")
    [(name, operand)] = value.items()
    where = f"{path}.{name}"
    if name == "wildcard":
        return {name: _wildcards(where, operand)}
    check = _strings if name in _LISTS_ALLOWED else _string
    return {name: check(where, operand)}


def _literal(path: str, value: Any) -> Any:
    return value if isinstance(value, str) else _number(path, value)


_OPERAND_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "prefix": _string,
    "suffix": _string,
    "equals-ignore-case": _string,
    "wildcard": _wildcard,
    "numeric": _numeric,
    "anything-but": _anything_but,
    "exists": _exists,
}


# --- matching -----------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _round(value: Any) -> float:
    return round(float(value), _DIGITS)


def present(value: Any) -> bool:
    """SNS's notion of a value that exists: non-null and non-empty."""
    if value is None or value == "":
        return False
    return not (isinstance(value, list | tuple) and not value)


def _elements(value: Any) -> Elements:
    return tuple(value) if isinstance(value, list | tuple) else (value,)


def key_test(checked: list[Any]) -> Callable[[Any], bool]:
    """OR of a key's checked conditions, on the key's value (None when missing)."""
    exists = {c["exists"] for c in checked if isinstance(c, dict) and "exists" in c}
    strings = frozenset(c for c in checked if isinstance(c, str))
    numbers = frozenset(_round(c) for c in checked if _is_number(c))
    tests = [_operator_test(c) for c in checked if isinstance(c, dict) and "exists" not in c]
    if strings or numbers:
        tests.append(_literal_test(strings, numbers))

    def test(value: Any) -> bool:
        if not present(value):
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
    text = _string_test(name, operand)
    return lambda elements: any(isinstance(e, str) and text(e) for e in elements)


def _string_test(name: str, operand: str | list[str]) -> StringTest:
    """A test of one string for prefix, suffix, equals-ignore-case or wildcard."""
    operands = [operand] if isinstance(operand, str) else operand
    affixes = tuple(operands)
    if name == "prefix":
        return lambda e: e.startswith(affixes)
    if name == "suffix":
        return lambda e: e.endswith(affixes)
    if name == "equals-ignore-case":
        folded = frozenset(o.casefold() for o in operands)
        return lambda e: e.casefold() in folded
    pattern = re.compile("|".join(_wildcard_regex(o) for o in operands), re.DOTALL)
    return lambda e: pattern.fullmatch(e) is not None


def _wildcard_regex(pattern: str) -> str:
    """A checked wildcard pattern as a regular expression (in a group of its own)."""
    parts, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            parts.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        parts.append(".*" if char == "*" else re.escape(char))
        index += 1
    return f"(?:{''.join(parts)})"


def _numeric_test(operand: list[Any]) -> Test:
    pairs = zip(operand[0::2], operand[1::2], strict=True)
    checks = [(_COMPARE[op], _round(bound)) for op, bound in pairs]

    def within(element: Any) -> bool:
        return _is_number(element) and all(cmp(_round(element), b) for cmp, b in checks)

    return lambda elements: any(within(e) for e in elements)


def _anything_but_test(operand: Any) -> Test:
    if isinstance(operand, dict):
        [(name, inner)] = operand.items()
        excluded = _string_test(name, inner)
        return lambda elements: all(not (isinstance(e, str) and excluded(e)) for e in elements)
    strings = frozenset(v for v in operand if isinstance(v, str))
    numbers = frozenset(_round(v) for v in operand if _is_number(v))
    return lambda elements: all(not _listed(e, strings, numbers) for e in elements)
