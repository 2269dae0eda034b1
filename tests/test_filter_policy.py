"""SNS filter policies: each operator, AND/OR, missing attributes, arrays, bad policies."""

from __future__ import annotations

import pytest

import evsim as ev
from evsim.brokers.filter_policy import compile_policy, complexity, matches, validate_policy

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
        ({"a": {"b": ["c"]}}, VALUE, r"^filter_policy\.a: nested policies .*MessageBody"),
        ({"$or": [{"a": ["b"]}]}, VALUE, r"^filter_policy\.\$or: .*at least two policies"),
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
            {"a": [{"anything-but": {"numeric": [">", 1]}}]},
            VALUE,
            r"a\[0\]\.anything-but: expected values or one of \{'prefix'",
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


# --- issue 12: $or, wildcard, anything-but with suffix/equals-ignore-case/wildcard --------

# SNS's "$or" examples (AND/OR logic page): source && (metricName || namespace), and
# ("source" AND "metricName") OR ("source" AND "metricType" AND ("metricId" OR "spaceId")).
STANDARD_OR = {
    "source": ["aws.cloudwatch"],
    "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}],
}
NESTED_OR = {
    "source": ["aws.cloudwatch"],
    "$or": [
        {"metricName": ["CPUUtilization", "ReadLatency"]},
        {
            "metricType": ["MetricType"],
            "$or": [{"metricId": [1234, 4321]}, {"spaceId": [1000, 2000, 3000]}],
        },
    ],
}


@pytest.mark.parametrize(
    ("policy", "attributes", "expected"),
    [
        (STANDARD_OR, {"source": "aws.cloudwatch", "metricName": "CPUUtilization"}, True),
        (STANDARD_OR, {"source": "aws.cloudwatch", "namespace": "AWS/EC2"}, True),
        (STANDARD_OR, {"source": "aws.cloudwatch", "namespace": "AWS/S3"}, False),
        (STANDARD_OR, {"source": "aws.ec2", "metricName": "CPUUtilization"}, False),
        (
            NESTED_OR,
            {"source": "aws.cloudwatch", "metricType": "MetricType", "spaceId": 1000},
            True,
        ),
        (NESTED_OR, {"source": "aws.cloudwatch", "metricType": "MetricType"}, False),
        (NESTED_OR, {"source": "aws.cloudwatch", "spaceId": 1000}, False),
        # "$or" over operator-keyed objects is an ordinary attribute name (SNS's rule)
        ({"$or": [{"prefix": "ab"}, {"suffix": "yz"}]}, {"$or": "abc"}, True),
        ({"$or": [{"prefix": "ab"}, {"suffix": "yz"}]}, {"x": "abc"}, False),
    ],
)
def test_or_combines_alternatives(policy, attributes, expected):
    assert matches(policy, attributes) is expected


@pytest.mark.parametrize(
    ("condition", "value", "expected"),
    [
        ({"wildcard": "*ball"}, "baseball", True),
        ({"wildcard": "*ball"}, "ballet", False),
        ({"wildcard": "b*e*l"}, "basketball", True),
        ({"wildcard": "b*e*l"}, "bel", True),  # a star matches no character too
        ({"wildcard": "a\\*b"}, "a*b", True),  # \* is a literal star
        ({"wildcard": "a\\*b"}, "axb", False),
        ({"wildcard": "a\\\\b"}, "a\\b", True),  # \\ is a backslash
        ({"wildcard": "a.c"}, "abc", False),  # other characters are literal
        ({"wildcard": "*"}, "", False),  # "" is a missing value
        ({"wildcard": "*"}, 5, False),  # strings only
        ({"wildcard": "*ball"}, ["rugby", "football"], True),
        ({"anything-but": {"suffix": ".png"}}, "photo.png", False),
        ({"anything-but": {"suffix": ".png"}}, "photo.jpg", True),
        ({"anything-but": {"equals-ignore-case": "Initializing"}}, "INITIALIZING", False),
        ({"anything-but": {"equals-ignore-case": ["a", "B"]}}, "b", False),
        ({"anything-but": {"equals-ignore-case": ["a", "B"]}}, "c", True),
        ({"anything-but": {"wildcard": "*/lib/*"}}, "/usr/lib/x", False),
        ({"anything-but": {"wildcard": ["*/lib/*", "*/bin/*"]}}, "/usr/bin/x", False),
        ({"anything-but": {"wildcard": ["*/lib/*", "*/bin/*"]}}, "/etc/x", True),
        ({"anything-but": {"suffix": "ball"}}, ["rugby", "football"], False),  # none excluded
        ({"anything-but": {"suffix": "ball"}}, None, False),  # anything-but needs a value
    ],
)
def test_wildcard_and_anything_but_variants(condition, value, expected):
    assert matches({"k": [condition]}, {"eventType": "E", "k": value}) is expected


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"wildcard": "a**b"}, r"^filter_policy\.k\[0\]\.wildcard: consecutive wildcard"),
        ({"wildcard": "a\\b"}, r"^filter_policy\.k\[0\]\.wildcard: invalid escape at position 1"),
        ({"wildcard": "a\\"}, r"wildcard: invalid escape at position 1"),
        ({"wildcard": 5}, r"^filter_policy\.k\[0\]\.wildcard: expected a string"),
        ({"anything-but": {"suffix": ["a"]}}, r"anything-but\.suffix: expected a string"),
        ({"anything-but": {"wildcard": ["a", "b**"]}}, r"anything-but\.wildcard\[1\]: consec"),
        ({"anything-but": {"equals-ignore-case": []}}, r"equals-ignore-case: expected a string"),
        ({"anything-but": {"prefix": "a", "suffix": "b"}}, r"anything-but: expected values or"),
    ],
)
def test_bad_wildcards_and_exclusions_name_the_path(condition, message):
    with pytest.raises((ev.ConfigError, ev.ConfigTypeError), match=message):
        validate_policy({"k": [condition]})


def test_errors_inside_or_name_the_alternative():
    policy = {"$or": [{"a": ["x"]}, {"price": [{"numeric": [">", "cheap"]}]}]}
    with pytest.raises(ev.ConfigTypeError, match=r"^filter_policy\.\$or\[1\]\.price\[0\]\.numeric"):
        validate_policy(policy)
    with pytest.raises(ev.ConfigError, match=r"^filter_policy\.\$or\[0\]: .*at least one key"):
        validate_policy({"$or": [{}, {"a": ["x"]}]})
    with pytest.raises(ev.ConfigError, match=r"^filter_policy\.\$or\[1\]\.b: nested policies"):
        validate_policy({"$or": [{"a": ["x"]}, {"b": {"c": ["y"]}}]})


def test_complexity_follows_sns_worked_examples():
    # SNS's examples: (1 * 2) + (1 * 1 * 2) + (1 * 1 * 3) = 7, and with nesting
    # (2 * 2 * 2) * 4 = 32 (scope, source and type are two levels deep)
    assert complexity(validate_policy(NESTED_OR)) == 7
    nested = {
        "$or": [{"metricName": ["CPUUtilization", "ReadLatency"]}, {"namespace": ["A", "B"]}],
        "detail": {"scope": ["Service"], "$or": [{"source": ["x"]}, {"type": ["y"]}]},
    }
    assert complexity(validate_policy(nested, scope="MessageBody")) == 32
    # an $or's alternatives add up: 2 * 76 = 152 > 150, while 2 * 75 = 150 passes
    wide = {"a": ["x", "y"], "$or": [{"b": list(range(38))}, {"c": list(range(38))}]}
    with pytest.raises(ev.ConfigError, match=r"at most 150 combinations.*got 152"):
        validate_policy(wide)
    validate_policy({"a": ["x", "y"], "$or": [{"b": list(range(38))}, {"c": list(range(37))}]})
    # "$or" counts as one of the five top-level keys
    validate_policy({**{k: ["x"] for k in "abcd"}, "$or": [{"e": ["x"]}, {"f": ["x"]}]})
    with pytest.raises(ev.ConfigError, match="at most 5 keys"):
        validate_policy({**{k: ["x"] for k in "abcde"}, "$or": [{"e": ["x"]}, {"f": ["x"]}]})


# --- issue 12: FilterPolicyScope MessageBody -----------------------------------------------

BODY = {
    "order": {"total": 120, "lines": [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 1}]},
    "customer": {"tier": "gold", "tags": ["vip", "eu"]},
    "note": "",
}


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ({"order": {"total": [{"numeric": [">", 100]}]}}, True),
        ({"order": {"total": [{"numeric": [">", 200]}]}}, False),
        ({"customer": {"tier": ["gold"], "tags": ["eu"]}}, True),  # AND of nested keys
        ({"order": {"lines": {"sku": [{"prefix": "B-"}]}}}, True),  # through an array
        ({"order": {"lines": {"sku": ["A-1"], "qty": [1]}}}, True),  # different elements
        ({"order": {"lines": {"sku": ["C-3"]}}}, False),
        ({"order": {"missing": [{"exists": False}]}}, True),
        ({"order": [{"exists": True}]}, False),  # an object is not a leaf value
        ({"note": [{"exists": True}]}, False),  # "" is not a value
        ({"$or": [{"order": {"total": [1]}}, {"customer": {"tier": ["gold"]}}]}, True),
        ({"customer": {"$or": [{"tier": ["silver"]}, {"tags": ["vip"]}]}}, True),
        ({"eventType": ["OrderCreated"]}, False),  # attributes are not in the body
        ({}, True),
    ],
)
def test_message_body_policies_match_nested_keys(policy, expected):
    assert matches(policy, BODY, scope="MessageBody") is expected
    assert compile_policy(policy, scope="MessageBody")(BODY) is expected


def test_a_body_that_is_not_a_mapping_matches_only_the_empty_policy():
    for body in (None, "text", ["a"], 5):
        assert matches({"a": [{"exists": False}]}, body, scope="MessageBody") is False
        assert matches({}, body, scope="MessageBody") is True
    assert matches({"a": [{"exists": False}]}, {}, scope="MessageBody") is True


def test_body_policy_limits_count_top_level_keys_and_nesting_depth():
    # nested keys do not count toward the five (SNS: only parent keys are counted)
    validate_policy({"a": {k: ["x"] for k in "bcdefgh"}}, scope="MessageBody")
    # SNS's example: 4 values three levels deep beside 3 values two deep: 3x4 x 2x3 = 72
    deep = {"a": {"b": {"c": list("wxyz")}}, "d": {"e": list("xyz")}}
    assert complexity(validate_policy(deep, scope="MessageBody")) == 72
    # 76 values two levels deep count 152: refused, where at the top they count 76
    with pytest.raises(ev.ConfigError, match=r"at most 150 combinations.*got 152"):
        validate_policy({"a": {"b": list(range(76))}}, scope="MessageBody")
    validate_policy({"b": list(range(76))}, scope="MessageBody")


def test_the_scope_is_checked():
    with pytest.raises(ev.ConfigError, match=r"^filter_policy_scope: expected one of"):
        validate_policy({"a": ["x"]}, scope="Body")
