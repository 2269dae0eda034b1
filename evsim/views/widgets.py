"""Sliders over a run (``ev.widgets``): change a knob, the run reruns, the chart redraws.

::

    def run_shop(consumers=3, partitions=6, zipf_s=1.0, seed=1):
        sim = ev.Simulation(seed=seed)
        ...
        return sim.run(until=60)

    ev.widgets.explore(run_shop, consumers=(1, 12), partitions=(1, 24), zipf_s=(0.0, 2.0, 0.1))
    ev.widgets.compare(run_shop, a={"consumers": 2}, b={"consumers": 6}, zipf_s=(0.0, 2.0))

Thin wrappers over plain functions: ``run(seed=..., **values)`` returns anything (an
``ev.Result``, a DataFrame, ...), ``chart(output, ax=...)`` draws it, ``table(output)``
says what to tabulate. The controls come from the knobs (:mod:`evsim.views.widget_controls`
lists the specs). The default values run once when the cell runs, and the chart and table
show in the cell's output then, so a notebook run in CI (nbval) runs them and fails on an
exception; later runs show an exception as one line. ipywidgets (the ``lab`` extra) is
imported only when a widget is built, so ``import evsim`` works without it;
:func:`check` says whether widgets can show here.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from numbers import Integral
from typing import Any

import pandas as pd

from evsim._check import non_negative
from evsim.errors import ConfigError, ConfigTypeError
from evsim.result import Result
from evsim.views.widget_check import WidgetCheck, check, ipywidgets_module
from evsim.views.widget_controls import (
    Knob,
    check_names,
    check_taken,
    default_of,
    parse,
    takes,
    title,
)
from evsim.views.widget_panel import Panel, Shown, stage
from evsim.views.widget_render import (
    Chart,
    as_frame,
    charts_for,
    describe,
    draw_rows,
    table_of,
    table_output,
    table_text,
)

__all__ = ["Comparison", "Explorer", "WidgetCheck", "check", "compare", "explore"]

Charts = Chart | Sequence[Chart] | None
Table = Callable[[Any], Any] | None
PROGRESS_AFTER = 0.5  # seconds a run takes before the progress line shows


def explore(
    run: Callable[..., Any],
    chart: Charts = None,
    table: Table = None,
    *,
    seed: Any = 1,
    progress_after: float = PROGRESS_AFTER,
    **knobs: Any,
) -> Explorer:
    """Controls over ``run``'s keyword arguments; each change reruns it and redraws.

    ``knobs`` name ``run``'s parameters: ``consumers=(1, 12)`` is an int slider,
    ``zipf_s=(0.0, 2.0, 0.1)`` a float slider with step 0.1, ``assignment=["range",
    "sticky"]`` a dropdown, ``idempotent=True`` a checkbox, ``until=600`` a fixed value
    (the full list: :mod:`evsim.views.widget_controls`). ``seed`` is passed to every run
    when ``run`` takes it (None: not passed; a spec such as ``(1, 20)``: a control).
    ``chart`` draws the output on ``ax=`` (a list: one below another); when None and
    ``run`` returns an ``ev.Result``, its latency distribution and throughput
    (``ev.plot``). The table is ``table(output)``, a Result's ``summary()``, or the
    output itself (a DataFrame's first rows). A run longer than ``progress_after``
    seconds shows a progress line.

    Runs the defaults now and displays the widget (in plain Python, prints the table);
    an exception from this first run is raised. Returns the :class:`Explorer`.
    """
    widgets = ipywidgets_module()
    view = Explorer(widgets, run, _knobs(run, seed, knobs), chart, table, progress_after)
    view.refresh(strict=True)
    view.show()
    return view


def compare(
    run: Callable[..., Any],
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    *,
    chart: Charts = None,
    table: Table = None,
    seed: Any = 1,
    labels: tuple[str, str] = ("A", "B"),
    progress_after: float = PROGRESS_AFTER,
    **knobs: Any,
) -> Comparison:
    """Two variants of ``run`` side by side, on the same seed (common random numbers):
    ``run(seed=seed, **shared, **a)`` and ``run(seed=seed, **shared, **b)``.

    ``a`` and ``b`` are the arguments that differ (fixed values); ``knobs`` are shared by
    both and may be controls, as in :func:`explore`. Each chart is drawn for both variants
    on shared axes; the table sets the two tables side by side, under ``labels`` (a
    Result's summary with one row per metric). Returns the :class:`Comparison`.
    """
    widgets = ipywidgets_module()
    variants = _variants(run, a, b, labels, knobs)
    given = set(a) & set(b)
    view = Comparison(
        widgets, run, _knobs(run, seed, knobs, given), variants, chart, table, progress_after
    )
    view.refresh(strict=True)
    view.show()
    return view


class Explorer(Panel):
    """The widget :func:`explore` returns (see :class:`Panel` for its attributes)."""

    kind = "explore"

    def __init__(
        self, widgets: Any, run: Callable[..., Any], knobs: list[Knob], chart: Charts,
        table: Table, progress_after: float,
    ) -> None:  # fmt: skip
        super().__init__(widgets, knobs, non_negative("progress_after", progress_after))
        self.run, self._chart, self._table = run, chart, table

    def compute(self, values: dict[str, Any]) -> Shown:
        """Run once with ``values``; the charts (one per row) and the table."""
        output = self.run(**values)
        charts = charts_for(output, self._chart)
        outputs = [stage("chart", draw_rows, [[(c, output)] for c in charts])] if charts else []
        shown = stage("table", table_of, output, self._table)
        outputs.append(table_output(shown))
        frame = as_frame(shown)
        return Shown(output, outputs, repr(shown) if frame is None else table_text(frame), shown)


class Comparison(Panel):
    """The widget :func:`compare` returns: ``last`` maps each label to its run's output,
    ``table`` is the side-by-side table, ``variants`` each label's arguments."""

    kind = "compare"

    def __init__(
        self, widgets: Any, run: Callable[..., Any], knobs: list[Knob],
        variants: dict[str, dict[str, Any]], chart: Charts, table: Table, progress_after: float,
    ) -> None:  # fmt: skip
        super().__init__(widgets, knobs, non_negative("progress_after", progress_after))
        self.run, self.variants, self._chart, self._table = run, variants, chart, table

    def compute(self, values: dict[str, Any]) -> Shown:
        """Run each variant with ``values``; the charts side by side and the joint table."""
        outputs = {
            label: stage(label, self._run_variant, label, values, variant)
            for label, variant in self.variants.items()
        }
        charts = charts_for(next(iter(outputs.values())), self._chart)
        titles = [f"{label}: {describe(v)}" for label, v in self.variants.items()]
        rows = [[(c, output) for output in outputs.values()] for c in charts]
        shown = [stage("chart", draw_rows, rows, titles)] if charts else []
        joint = stage("table", self._joint_table, outputs)
        shown.append(table_output(joint))
        return Shown(outputs, shown, table_text(joint), joint)

    def _run_variant(self, label: str, values: dict[str, Any], variant: dict[str, Any]) -> Any:
        """One variant's run: the shared values and the variant's own; the warnings it
        raises are raised again under its label (``B: UserWarning: ...``)."""
        with warnings.catch_warnings(record=True) as caught:
            output = self.run(**values, **variant)
        for warning in caught:
            warnings.warn(f"{label}: {warning.message}", warning.category, stacklevel=1)
        return output

    def _joint_table(self, outputs: dict[str, Any]) -> pd.DataFrame:
        """The variants' tables side by side, under their labels (columns label, column)."""
        return pd.concat({label: self._table_of(o) for label, o in outputs.items()}, axis=1)

    def _table_of(self, output: Any) -> pd.DataFrame:
        """One variant's table: ``table(output)``, a Result's summary with a row per metric
        (so the variants' numbers sit side by side), or the output itself."""
        if self._table is None and isinstance(output, Result):
            return output.summary().T
        shown = table_of(output, self._table)
        frame = as_frame(shown)
        return frame if frame is not None else pd.DataFrame({"output": [repr(shown)]})


# --- checking what is given ----------------------------------------------------------------


def _knobs(
    run: Callable[..., Any], seed: Any, knobs: dict[str, Any], given: set[str] | None = None
) -> list[Knob]:
    """The knobs, the seed's among them when passed, checked against ``run``'s parameters
    (``given``: what else supplies an argument, a comparison's shared variant values)."""
    if not callable(run):
        raise ConfigTypeError(f"run: expected a function, got {run!r}")
    specs = dict(knobs)
    if seed is not None and (takes(run, "seed") or not isinstance(seed, Integral)):
        specs["seed"] = seed
    check_names(run, list(specs), set(specs) | (given or set()))
    return [parse(name, spec, default_of(run, name)) for name, spec in specs.items()]


def _variants(
    run: Callable[..., Any], a: Any, b: Any, labels: Any, knobs: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """A comparison's two variants by label, checked: dicts of ``run``'s arguments that
    are not also shared knobs, under two different labels."""
    if not (isinstance(labels, tuple | list) and len(labels) == 2 and labels[0] != labels[1]):
        raise ConfigError(f"labels: expected two different labels, got {labels!r}")
    variants = {}
    for label, name, variant in ((labels[0], "a", a), (labels[1], "b", b)):
        if not isinstance(variant, Mapping):
            raise ConfigTypeError(
                f"{name}: expected a dict of {title(run)} arguments, got {variant!r}"
            )
        both = sorted(set(variant) & set(knobs))
        if both:
            raise ConfigError(f"{name}: {both[0]} is both a shared knob and set in {name}")
        check_taken(run, list(variant))
        variants[str(label)] = dict(variant)
    return variants
