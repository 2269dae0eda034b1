"""The text exposition format itself: histograms' buckets, empty families, and the
parser the export tests read it back with."""

from __future__ import annotations

import pytest
from exposition import parse

from evsim.views.prometheus_format import histogram, render


def test_a_histogram_bucket_holds_the_values_up_to_and_at_its_bound():
    samples = histogram("x", {"client": "web"}, [0.01, 0.02, 0.5, 0.5, 30.0], (0.01, 0.1, 0.5, 1))
    buckets = [(labels["le"], n) for name, labels, n in samples if name == "x_bucket"]
    assert buckets == [("0.01", 1), ("0.1", 2), ("0.5", 4), ("1", 4), ("+Inf", 5)]
    assert samples[-2] == ("x_sum", {"client": "web"}, pytest.approx(31.03))
    assert samples[-1] == ("x_count", {"client": "web"}, 5)


def test_an_empty_histogram_is_all_zeros_and_parses():
    samples = histogram("x", {}, [], (0.5, 1.0))
    assert [n for _, _, n in samples] == [0, 0, 0, 0.0, 0]
    types, _, parsed = parse(render([("x", "histogram", "An empty one.", samples)]))
    assert types == {"x": "histogram"} and parsed[("x_count", frozenset())] == 0


def test_render_leaves_out_families_without_samples():
    text = render([("a", "counter", "Nothing.", []), ("b", "gauge", "One.", [("b", {}, 1.5)])])
    assert text == "# HELP b One.\n# TYPE b gauge\nb 1.5\n"


@pytest.mark.parametrize(
    "buckets",
    [
        [("1", 3), ("0.5", 1), ("+Inf", 3)],  # le not increasing
        [("0.5", 3), ("1", 1), ("+Inf", 3)],  # not cumulative
        [("0.5", 1), ("+Inf", 2)],  # +Inf differs from _count
    ],
)
def test_the_tests_parser_refuses_a_histogram_that_breaks_the_rules(buckets):
    lines = ["# HELP x A histogram.", "# TYPE x histogram"]
    lines += [f'x_bucket{{le="{le}"}} {n}' for le, n in buckets]
    lines += ["x_sum 1", "x_count 3"]
    with pytest.raises(AssertionError):
        parse("\n".join(lines) + "\n")
