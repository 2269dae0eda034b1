"""The controls of ``ev.widgets``, inferred from knob specs (ipywidgets only when built).

A knob is a keyword argument of the user's ``run`` function and a spec of its values:

=============================  ===============================================
spec                           control
=============================  ===============================================
``(1, 12)``                    IntSlider from 1 to 12, step 1
``(1, 12, 2)``                 IntSlider with step 2
``(0.0, 2.0)``, ``(0, 2, .1)`` FloatSlider (step a hundredth of the span, rounded
                               down to a power of ten, unless given)
``["range", "sticky"]``        Dropdown of those values (any values: ``[1, 2, 4]``)
``{"off": None, "on": 5}``     Dropdown: labels to values
``range(1, 13, 3)``            IntSlider from 1 to 12, step 3
``True`` / ``False``           Checkbox, starting checked or not
a widget (``IntText(...)``)    that widget, as it is
anything else (``600``)        fixed: passed to every run, no control
=============================  ===============================================

A slider starts at the default of ``run``'s parameter when it has one in range (on the
step), else at its minimum; a dropdown at the default when it is one of the options, else
at the first. Sliders and text boxes update on release (``continuous_update=False``), so
a drag is one run. :func:`parse` reads a spec without ipywidgets; :func:`build` makes the
control.
"""

from __future__ import annotations

import inspect
import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from numbers import Real
from typing import Any, Literal

from evsim._check import did_you_mean
from evsim.errors import ConfigError, ConfigTypeError

Kind = Literal["int", "float", "choice", "bool", "fixed", "widget"]
EMPTY = inspect.Parameter.empty
SLIDER_STEPS = 100  # a float slider without a step has about this many steps


@dataclass(frozen=True)
class Knob:
    """One knob, read from its spec: the kind of control and its range or options.

    ``low``, ``high`` and ``step`` are in the parameter's own unit (seconds, events per
    second, ...); ``options`` are (label, value) pairs; ``value`` is the starting value.
    """

    name: str
    kind: Kind
    value: Any
    low: float = 0.0
    high: float = 0.0
    step: float = 1.0
    options: tuple[tuple[str, Any], ...] = ()
    widget: Any = None


def parse(name: str, spec: Any, default: Any = EMPTY) -> Knob:
    """The knob ``name`` from its ``spec``; ``default`` is ``run``'s default for it.

    Raises :class:`~evsim.errors.ConfigError` naming the knob for a malformed spec, as in
    ``zipf_s: expected (min, max) or (min, max, step), got (0.0,)``.
    """
    if _is_widget(spec):
        return Knob(name, "widget", spec.value, widget=spec)
    if _is_fixed(spec):
        return Knob(name, "fixed", spec.value)
    if isinstance(spec, bool):
        return Knob(name, "bool", spec)
    if isinstance(spec, range):
        if len(spec) < 2 or spec.step < 0:
            raise ConfigError(f"{name}: expected a rising range of two values or more, got {spec}")
        return _slider(name, (spec[0], spec[-1], spec.step), default)
    if isinstance(spec, tuple) and spec and all(_is_number(v) for v in spec):
        return _slider(name, spec, default)
    if isinstance(spec, Mapping):
        return _choice(name, _labelled(name, spec), default)
    if isinstance(spec, list | tuple):
        return _choice(name, [(_label(v), v) for v in spec], default)
    return Knob(name, "fixed", spec)


def _slider(name: str, spec: tuple[Any, ...], default: Any) -> Knob:
    """An int or float slider from ``(min, max)`` or ``(min, max, step)``."""
    if len(spec) not in (2, 3):
        raise ConfigError(
            f"{name}: expected (min, max) or (min, max, step), got {spec!r}"
            f" (for a choice of numbers, pass a list: {list(spec)!r})"
        )
    low, high = spec[0], spec[1]
    if not all(math.isfinite(v) for v in spec):
        raise ConfigError(f"{name}: expected finite numbers, got {spec!r}")
    if not low < high:
        raise ConfigError(f"{name}: expected min < max in (min, max[, step]), got {spec!r}")
    whole = all(isinstance(v, int) for v in spec)
    step = spec[2] if len(spec) == 3 else (1 if whole else _round_step((high - low) / SLIDER_STEPS))
    if not 0 < step <= high - low:
        raise ConfigError(f"{name}: expected 0 < step <= max - min, got {spec!r}")
    on_grid = _is_number(default) and low <= default <= high
    if whole:
        on_grid = on_grid and isinstance(default, int) and (default - low) % step == 0
    value = default if on_grid else low
    return Knob(name, "int" if whole else "float", value, low, high, step)


def _choice(name: str, options: list[tuple[str, Any]], default: Any) -> Knob:
    """A dropdown of (label, value) options, starting at ``default`` if it is one."""
    if not options:
        raise ConfigError(f"{name}: expected at least one option, got none")
    values = [value for _, value in options]
    value = default if _among(default, values) else values[0]
    return Knob(name, "choice", value, options=tuple(options))


def _labelled(name: str, spec: Mapping[Any, Any]) -> list[tuple[str, Any]]:
    """The (label, value) pairs of a ``{label: value}`` spec."""
    if not all(isinstance(label, str) for label in spec):
        raise ConfigTypeError(f"{name}: a dict of options needs string labels, got {dict(spec)!r}")
    return list(spec.items())


def _among(value: Any, values: list[Any]) -> bool:
    """Whether ``value`` is one of ``values`` (by equality; True is not 1 here)."""
    return any(type(v) is type(value) and _equal(v, value) for v in values)


def _equal(a: Any, b: Any) -> bool:
    """``a == b`` as a plain bool (False for values that cannot say, as arrays)."""
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _label(value: Any) -> str:
    """A dropdown label: a string as it is, anything else by ``str``."""
    return value if isinstance(value, str) else str(value)


def _round_step(step: float) -> float:
    """``step`` rounded down to a power of ten (0.02 -> 0.01), so readouts stay short."""
    return float(10 ** math.floor(math.log10(step)))


def decimals(step: float) -> int:
    """How many decimals show a value on a grid of ``step`` (0.1 -> 1, 0.25 -> 2)."""
    for places in range(12):
        if abs(round(step, places) - step) < 1e-12:
            return places
    return 12


def _is_number(value: Any) -> bool:
    """A real number that is not a bool."""
    return isinstance(value, Real) and not isinstance(value, bool)


def _is_widget(spec: Any) -> bool:
    """Whether ``spec`` is an ipywidgets control with a value (if ipywidgets is loaded)."""
    ipywidgets = sys.modules.get("ipywidgets")
    return ipywidgets is not None and isinstance(spec, ipywidgets.ValueWidget)


def _is_fixed(spec: Any) -> bool:
    """Whether ``spec`` is ``ipywidgets.fixed(value)``: a value with no control."""
    ipywidgets = sys.modules.get("ipywidgets")
    return ipywidgets is not None and isinstance(spec, ipywidgets.fixed)


# --- the knobs against the function --------------------------------------------------------


def parameters(run: Callable[..., Any]) -> Mapping[str, inspect.Parameter] | None:
    """``run``'s parameters, or None when Python cannot tell (some built-ins)."""
    try:
        return inspect.signature(run).parameters
    except (TypeError, ValueError):
        return None


def takes(run: Callable[..., Any], name: str) -> bool:
    """Whether ``run`` takes the keyword argument ``name``."""
    params = parameters(run)
    if params is None:
        return True
    param = params.get(name)
    if param is not None:
        return param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY)
    return any(p.kind is p.VAR_KEYWORD for p in params.values())


def check_names(run: Callable[..., Any], names: list[str], given: set[str]) -> None:
    """Raise naming the first of ``names`` that ``run`` does not take, or the first
    parameter ``run`` needs that ``given`` (the knobs, the seed, ...) leaves out."""
    check_taken(run, names)
    params = parameters(run) or {}
    for name, param in params.items():
        keyword = param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY)
        if keyword and param.default is EMPTY and name not in given:
            raise ConfigError(
                f"{name}: {title(run)} needs it and it has no default; give it a knob "
                f"({name}=(min, max), a list of choices, or a fixed value)"
            )


def check_taken(run: Callable[..., Any], names: list[str]) -> None:
    """Raise naming the first of ``names`` that ``run`` takes no keyword argument for."""
    for name in names:
        if not takes(run, name):
            have = list(parameters(run) or {})
            raise ConfigError(
                f"{name}: {title(run)} has no keyword parameter {name!r}"
                f"{did_you_mean(name, have)} (it has: {', '.join(have) or 'none'})"
            )


def title(run: Callable[..., Any]) -> str:
    """``run_shop()``: a function's name as error messages show it."""
    return f"{getattr(run, '__name__', type(run).__name__)}()"


def default_of(run: Callable[..., Any], name: str) -> Any:
    """The default of ``run``'s parameter ``name``, or ``inspect.Parameter.empty``."""
    params = parameters(run)
    param = None if params is None else params.get(name)
    return EMPTY if param is None else param.default


# --- controls -----------------------------------------------------------------------------


def build(knob: Knob, widgets: Any) -> Any:
    """The ipywidgets control for ``knob`` (None for a fixed one); ``widgets`` is the
    ipywidgets module."""
    common = {"description": knob.name, "style": {"description_width": "initial"}}
    if knob.kind == "int":
        return widgets.IntSlider(
            value=knob.value, min=knob.low, max=knob.high, step=knob.step,
            continuous_update=False, **common,
        )  # fmt: skip
    if knob.kind == "float":
        return widgets.FloatSlider(
            value=knob.value, min=knob.low, max=knob.high, step=knob.step,
            readout_format=f".{decimals(knob.step)}f", continuous_update=False, **common,
        )  # fmt: skip
    if knob.kind == "choice":
        return widgets.Dropdown(options=list(knob.options), value=knob.value, **common)
    if knob.kind == "bool":
        return widgets.Checkbox(value=knob.value, indent=False, **common)
    if knob.kind == "widget":
        if hasattr(knob.widget, "continuous_update"):
            knob.widget.continuous_update = False
        return knob.widget
    return None


def value_of(control: Any) -> Any:
    """A control's value, a float without the binary noise a browser adds (0.30000000000000004
    is 0.3: 12 significant digits)."""
    value = control.value
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.12g}")
    return value
