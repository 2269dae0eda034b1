"""A small parser of Prometheus's text format 0.0.4, for the tests of the export.

:func:`parse` checks the layout as it reads (a family's HELP then TYPE lines first, one
line per name and labels, escapes) and each histogram's rules (buckets in increasing
``le``, counts cumulative, ``+Inf`` last and equal to ``_count``).
"""

from __future__ import annotations

import math
import re

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')
UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}
KINDS = ("counter", "gauge", "summary", "histogram")


def parse(text: str) -> tuple[dict, dict, dict]:
    """(types, helps, samples), where samples maps (name, frozenset of label items) to
    the value."""
    types, helps, samples = {}, {}, {}
    family = None
    buckets: dict[frozenset, list[tuple[float, float]]] = {}  # a histogram's, in text order
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            assert name not in helps, f"{name} described twice"
            helps[name] = help_text
            family = name
        elif line.startswith("# TYPE "):
            name, kind = line[7:].split(" ")
            assert name == family and name not in types
            assert kind in KINDS
            types[name] = kind
        else:
            match = SAMPLE.match(line)
            assert match, f"not a sample line: {line!r}"
            name, body, number = match.groups()
            assert family is not None and name.startswith(family), (name, family)
            labels = _labels(body or "", line)
            key = (name, frozenset(labels.items()))
            assert key not in samples, f"duplicate sample {line!r}"
            samples[key] = float(number)
            if name == f"{family}_bucket" and types[family] == "histogram":
                le = float(labels.pop("le"))
                buckets.setdefault(frozenset(labels.items()), []).append((le, float(number)))
            if name == f"{family}_count" and types[family] == "histogram":
                _check_buckets(buckets.pop(frozenset(labels.items())), float(number), line)
    assert not buckets, f"buckets without a _count: {list(buckets)}"
    return types, helps, samples


def _labels(body: str, line: str) -> dict[str, str]:
    labels = {}
    while body:
        label = LABEL.match(body)
        assert label, f"bad labels in {line!r}"
        labels[label[1]] = re.sub(r'\\[\\"n]', lambda m: UNESCAPE[m[0]], label[2])
        body = body[label.end() :]
    return labels


def _check_buckets(buckets: list[tuple[float, float]], count: float, line: str) -> None:
    bounds, counts = [le for le, _ in buckets], [n for _, n in buckets]
    assert bounds == sorted(bounds) and len(set(bounds)) == len(bounds), line
    assert counts == sorted(counts), f"buckets not cumulative before {line!r}"
    assert bounds[-1] == math.inf and counts[-1] == count, f"+Inf bucket != {line!r}"


def value(samples: dict, name: str, **labels) -> float:
    return samples[(name, frozenset(labels.items()))]
