"""Prometheus's text exposition format (version 0.0.4): metric families written as text.

The rules followed (Prometheus's "Exposition formats" page): a family is one
uninterrupted group of lines, its ``# HELP`` and ``# TYPE`` lines first; a sample is
``name{label="value",...} value``; a label value escapes backslash, double quote and
line feed (``\\\\``, ``\\"``, ``\\n``), a HELP text backslash and line feed; values are
floats, with ``NaN``, ``+Inf`` and ``-Inf`` spelled so; the last line ends in a line feed.
A histogram ``x`` has samples ``x_bucket`` with an ``le`` label (the bucket's upper bound,
cumulative counts in increasing ``le`` order, the last ``le="+Inf"`` equal to ``x_count``),
``x_sum`` and ``x_count``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Sample = tuple[str, dict[str, str], float]
"""(metric name, labels, value): one line of the exposition."""
Family = tuple[str, str, str, list[Sample]]
"""(name, type: counter, gauge, summary or histogram, help text, samples)."""


def render(families: Iterable[Family]) -> str:
    """The exposition of ``families``; a family without samples is left out (e.g. no
    queues: no queue-depth family)."""
    lines = []
    for name, kind, text, samples in families:
        if not samples:
            continue
        lines.append(f"# HELP {name} {_escape_help(text)}")
        lines.append(f"# TYPE {name} {kind}")
        lines += [f"{metric}{_labels(labels)} {_value(value)}" for metric, labels, value in samples]
    return "\n".join(lines) + "\n"


def histogram(
    name: str, labels: dict[str, str], values: Iterable[float], bounds: Sequence[float]
) -> list[Sample]:
    """The samples of one histogram of ``values``: a cumulative ``_bucket`` per upper
    bound in ``bounds`` (increasing; a value equal to a bound is in its bucket, ``le``)
    and ``+Inf``, then ``_sum`` and ``_count``."""
    observed = np.sort(np.fromiter(values, dtype=float))
    below = np.searchsorted(observed, bounds, side="right")  # values <= each bound
    samples: list[Sample] = [
        (f"{name}_bucket", {**labels, "le": _value(bound)}, int(n))
        for bound, n in zip(bounds, below, strict=True)
    ]
    return [
        *samples,
        (f"{name}_bucket", {**labels, "le": "+Inf"}, len(observed)),
        (f"{name}_sum", labels, math.fsum(observed)),
        (f"{name}_count", labels, len(observed)),
    ]


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{escape_label(str(v))}"' for k, v in labels.items()) + "}"


def escape_label(value: str) -> str:
    """A label value escaped for the text format: backslash, double quote, newline."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _value(value: float) -> str:
    """A sample value as Prometheus writes it: integers plainly, NaN, +Inf, -Inf."""
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)
