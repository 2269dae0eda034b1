"""SNS filter policies: each operator, AND/OR, missing attributes, arrays, bad policies."""

from __future__ import annotations

import pytest

import evsim as ev
from evsim.filter_policy import compile_policy, matches, validate_policy

ORDER = {"eventType": "OrderCreated", "store": "example_corp", "price": 210.75, "tags": ["a", "b"]}


@pytest.mark.parametrize(
    ("policy", "attributes", "expected"),
    [
        # exact strings, case-sensitive, OR within the list
        ({"eventType": ["OrderCreated"]}, ORDER, True),
        ({"eventType": ["OrderShipped", "OrderCreated"]}, ORDER, True),
        ({"eventType": ["ordercreated"]}, ORDER, False),
        # exact numbers: numeric equality (301.5 == 3.015e2), five decimals
        ({"price": [210.75]}, ORDER, True),
        ({"price": [2.1075e2]}, ORDER, True),
        ({"price": [210.750001]}, ORDER, True),
        ({"price": [210.76]}, ORDER, False),
        ({"price": ["210.75"]}, ORDER, False),  # a string does not equal a number
        ({"store": [5]}, {"store": "5"}, False),
        # prefix, suffix, equals-ignore-case
        ({"store": [{"prefix": "example"}]}, ORDER, True),
        ({"store": [{"prefix": "corp"}]}, ORDER, False),
        ({"store": [{"suffix": "_corp"}]}, ORDER, True),
        ({"store": [{"equals-ignore-case": "EXAMPLE_CORP"}]}, ORDER, True),
        ({"price": [{"prefix": "2"}]}, ORDER, False),  # prefixes match strings only
        # numeric comparisons and ranges
        ({"price": [{"numeric": ["=", 210.75]}]}, ORDER, True),
        ({"price": [{"numeric": [">", 200]}]}, ORDER, True),
        ({"price": [{"numeric": ["<", 200]}]}, ORDER, False),
        ({"price": [{"numeric": [">", 0, "<=", 210.75]}]}, ORDER, True),
        ({"price": [{"numeric": [">", 0, "<", 210.75]}]}, ORDER, False),
        ({"price": [{"numeric": [">=", 210.75, "<", 300]}]}, ORDER, True),
        ({"store": [{"numeric": [">", 0]}]}, ORDER, False),  # numeric matches numbers only
        ({"price": [{"numeric": ["<", 100]}, {"numeric": [">", 200]}]}, ORDER, True),  # OR
        # anything-but: values, a single value, numbers, prefix
        ({"store": [{"anything-but": ["other", "shop"]}]}, ORDER, True),
        ({"store": [{"anything-but": ["example_corp"]}]}, ORDER, False),
        ({"store": [{"anything-but": "example_corp"}]}, ORDER, False),
        ({"price": [{"anything-but": [100, 500]}]}, ORDER, True),
        ({"price": [{"anything-but": [210.75]}]}, ORDER, False),
        ({"store": [{"anything-but": {"prefix": "exa"}}]}, ORDER, False),
        ({"store": [{"anything-but": {"prefix": "zzz"}}]}, ORDER, True),
        # exists
        ({"store": [{"exists": True}]}, ORDER, True),
        ({"coupon": [{"exists": True}]}, ORDER, False),
        ({"coupon": [{"exists": False}]}, ORDER, True),
        ({"store": [{"exists": False}]}, ORDER, False),
        ({"coupon": [{"exists": True}]}, {**ORDER, "coupon": None}, False),
        ({"coupon": [{"exists": True}]}, {**ORDER, "coupon": ""}, False),
        # AND across keys
        ({"eventType": ["OrderCreated"], "store": ["example_corp"]}, ORDER, True),
        ({"eventType": ["OrderCreated"], "store": ["other"]}, ORDER, False),
        ({"eventType": ["OrderCreated"], "price": [{"numeric": [">", 1000]}]}, ORDER, False),
        # attributes the policy does not name are ignored; an empty policy takes all
        ({}, ORDER, True),
    ],
)
def test_operators_follow_sns_semantics(policy, attributes, expected):
    assert matches(policy, attributes) is expected


@pytest.mark.parametrize(
    "condition",
    [
        "OrderCreated",
        210.75,
        {"prefix": "x"},
        {"numeric": [">", 0]},
        {"anything-but": ["x"]},
        {"anything-but": {"prefix": "x"}},
        {"equals-ignore-case": "x"},
    ],
)
def test_a_missing_attribute_matches_only_exists_false(condition):
    assert matches({"coupon": [condition]}, ORDER) is False
    assert matches({"coupon": [condition, {"exists": False}]}, ORDER) is True
    assert matches({"coupon": [condition]}, {**ORDER, "coupon": None}) is False


def test_exists_false_needs_at_least_one_attribute():
    assert matches({"coupon": [{"exists": False}]}, {}) is False
    assert matches({"coupon": [{"exists": False}]}, {"x": None}) is False
    assert matches({}, {}) is True


@pytest.mark.parametrize(
    ("condition", "value", "expected"),
    [
        ("rugby", ["rugby", "tennis"], True),  # each element is matched on its own
        ("baseball", ["rugby", "tennis"], False),
        ({"prefix": "ten"}, ["rugby", "tennis"], True),
        ({"numeric": [">", 10]}, [1, 20], True),
        ({"numeric": [">", 10]}, [1, 2], False),
        (20, (1, 20), True),
        # anything-but on an array: none of the elements may be listed
        ({"anything-but": ["rugby", "tennis"]}, ["baseball", "football"], True),
        ({"anything-but": ["rugby", "tennis"]}, ["rugby", "baseball"], False),
        ({"anything-but": {"prefix": "rug"}}, ["baseball", "rugby"], False),
        ({"exists": True}, [], False),
        ({"exists": False}, [], True),
    ],
)
def test_array_attributes(condition, value, expected):
    assert matches({"interests": [condition]}, {"eventType": "E", "interests": value}) is expected


def test_compiled_policy_is_reusable_and_validated_once():
    match = compile_policy({"eventType": ["OrderCreated", {"prefix": "Payment"}]})
    assert [match({"eventType": t}) for t in ("OrderCreated", "PaymentFailed", "X")] == [
        True,
        True,
        False,
    ]


def test_validate_returns_a_plain_copy():
    policy = {"eventType": ("A", "B"), "n": [{"numeric": (">", 1, "<", 5)}]}
    checked = validate_policy(policy)
    assert checked == {"eventType": ["A", "B"], "n": [{"numeric": [">", 1, "<", 5]}]}
    assert checked["eventType"] is not policy["eventType"]


VALUE, TYPE = ev.ConfigError, ev.ConfigTypeError


@pytest.mark.parametrize(
    ("policy", "error", "message"),
    [
        (["eventType"], TYPE, r"^filter_policy: expected a mapping"),
        ({"eventType": "OrderCreated"}, TYPE, r"^filter_policy\.eventType: expected a list"),
        ({"eventType": []}, VALUE, r"^filter_policy\.eventType: expected at least one"),
        ({"a": {"b": ["c"]}}, VALUE, r"^filter_policy\.a: nested policies"),
        ({"$or": [{"a": ["b"]}]}, VALUE, r"^filter_policy\.\$or: .*not simulated"),
        ({1: ["x"]}, TYPE, "attribute names must be non-empty strings"),
        ({"a": [True]}, TYPE, r"^filter_policy\.a\[0\]: expected a string, a number"),
        ({"a": [None]}, TYPE, r"filter_policy\.a\[0\]"),
        ({"a": [{"regex": "x"}]}, VALUE, r"filter_policy\.a\[0\]: unknown operator 'regex'"),
        ({"a": [{"prefix": "x", "suffix": "y"}]}, VALUE, "one operator per condition"),
        ({"a": [{"prefix": 1}]}, TYPE, r"filter_policy\.a\[0\]\.prefix: expected a string"),
        ({"a": [{"exists": "yes"}]}, TYPE, r"a\[0\]\.exists: expected true or false"),
        (
            {"amount": [{"numeric": [">"]}]},
            VALUE,
            r"^filter_policy\.amount\[0\]\.numeric: expected \[operator",
        ),
        ({"amount": [{"numeric": ["~", 1]}]}, VALUE, r"amount\[0\]\.numeric: expected one of"),
        (
            {"amount": [{"numeric": ["<", 1, ">", 5]}]},
            VALUE,
            r"amount\[0\]\.numeric: expected one of >, >=",
        ),
        ({"amount": [{"numeric": [">", 5, "<", 1]}]}, VALUE, "lower bound exceeds"),
        ({"amount": [{"numeric": [">", "x"]}]}, TYPE, r"amount\[0\]\.numeric: expected a number"),
        ({"amount": [2e9]}, VALUE, r"amount\[0\]: SNS numbers lie between -1e9 and 1e9"),
        ({"a": [{"anything-but": []}]}, VALUE, r"a\[0\]\.anything-but: expected a value"),
        (
            {"a": [{"anything-but": {"suffix": "x"}}]},
            VALUE,
            r"a\[0\]\.anything-but: expected \{'prefix'",
        ),
        ({"a": [{"anything-but": [None]}]}, TYPE, r"a\[0\]\.anything-but\[0\]"),
        ({k: ["x"] for k in "abcdef"}, VALUE, "at most 5 keys"),
        ({"a": list(range(10)), "b": list(range(16))}, VALUE, "at most 150 combinations.*got 160"),
    ],
)
def test_invalid_policies_name_the_path(policy, error, message):
    with pytest.raises(error, match=message):
        validate_policy(policy)


def test_the_argument_name_is_configurable():
    with pytest.raises(ev.ConfigTypeError, match=r"^Sub\.FilterPolicy\.x\[0\]"):
        validate_policy({"x": [True]}, argument="Sub.FilterPolicy")


def test_limits_at_the_boundary_are_accepted():
    validate_policy({k: ["x"] for k in "abcde"})
    validate_policy({"a": list(range(10)), "b": list(range(15))})
    validate_policy({"a": [1e9, -1e9]})
