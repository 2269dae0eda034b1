"""What distributions, arrival processes and key choosers share.

* They round-trip through plain mappings for scenario files: ``spec()`` gives
  ``{"exponential": {"mean": 0.02}}`` and :func:`build_from_spec` builds it back, with
  errors that name the field.
* They hand out random values in the simulator's hot path from blocks drawn with one
  NumPy call each (:func:`blocks`), so a value costs a C-level ``next``.
"""

from __future__ import annotations

import inspect
import itertools
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, TypeVar

import numpy as np

from evsim._check import non_negative
from evsim.errors import ConfigError, ConfigTypeError

NEVER: Any = object()  # sentinel of iter(callable, sentinel): a block list never equals it
BLOCK = 1024  # values drawn per NumPy call on the fast paths


def blocks(draw_block: Callable[[], list[Any]]) -> Callable[[], Any]:
    """A zero-argument function returning successive items of the lists ``draw_block`` makes.

    Each call is a C-level ``next`` on a chained iterator; ``draw_block`` runs once a block.
    """
    return itertools.chain.from_iterable(iter(draw_block, NEVER)).__next__


def _freeze(value: Any) -> Any:
    """A hashable copy of a spec value (lists become tuples, dicts tuples of items)."""
    if isinstance(value, list | tuple):
        return tuple(_freeze(item) for item in value)
    if isinstance(value, dict):
        return tuple((key, _freeze(item)) for key, item in value.items())
    return value


class Specified(ABC):
    """Base of objects that round-trip through scenario files (``spec()`` / ``from_spec``).

    Subclasses set ``kind`` (the snake_case name in scenario files) and implement
    ``_params()`` (the constructor's keyword arguments as plain, YAML-safe values);
    ``__repr__``, ``__eq__`` and ``__hash__`` follow from them.
    """

    kind: ClassVar[str]

    @abstractmethod
    def _params(self) -> dict[str, Any]:
        """The constructor's keyword arguments, as plain values (floats, ints, lists)."""

    def spec(self) -> dict[str, dict[str, Any]]:
        """A one-key mapping ``{kind: {parameter: value}}``, e.g. for a scenario file."""
        return {self.kind: self._params()}

    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self._params().items())
        return f"{type(self).__name__}({arguments})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Specified):
            return NotImplemented
        return type(self) is type(other) and self._params() == other._params()

    def __hash__(self) -> int:
        return hash((self.kind, _freeze(list(self._params().items()))))


def short_list(values: Iterable[float], shown: int = 5) -> str:
    """``[0.1, 0.2, ... (1000 values)]``: a repr that stays readable for long data."""
    items = list(values)
    if len(items) <= shown:
        return repr(items)
    head = ", ".join(repr(item) for item in items[:shown])
    return f"[{head}, ... ({len(items)} values)]"


def _check_parameters(cls: type, kwargs: Mapping[str, Any], where: str) -> None:
    """Raise ConfigError for unknown or missing constructor parameters of ``cls``."""
    parameters = inspect.signature(cls).parameters
    expected = ", ".join(parameters)
    for key in kwargs:
        if key not in parameters:
            raise ConfigError(f"{where}: unknown parameter {key!r}; expected: {expected}")
    for key, parameter in parameters.items():
        if parameter.default is inspect.Parameter.empty and key not in kwargs:
            raise ConfigError(f"{where}: missing parameter {key!r}; expected: {expected}")


SpecifiedT = TypeVar("SpecifiedT", bound=Specified)


def build_from_spec(spec: Any, kinds: Mapping[str, type[SpecifiedT]], argument: str) -> SpecifiedT:
    """Build an object from a one-key mapping ``{kind: {parameter: value}}``.

    ``kinds`` maps the known kind names to classes. Errors name ``argument``, the kind and
    the parameter at fault, e.g. ``service_time.exponential.mean: must be > 0, got -1``.
    """
    known = ", ".join(kinds)
    expected = f"{argument}: expected a mapping with one key, the kind ({known}), got {spec!r}"
    if not isinstance(spec, Mapping):
        raise ConfigTypeError(expected)
    if len(spec) != 1:
        raise ConfigError(expected)
    [(kind, kwargs)] = spec.items()
    if kind not in kinds:
        raise ConfigError(f"{argument}: unknown kind {kind!r}; known kinds: {known}")
    where = f"{argument}.{kind}"
    if not isinstance(kwargs, Mapping):
        raise ConfigTypeError(f"{where}: expected a mapping of parameters, got {kwargs!r}")
    _check_parameters(kinds[kind], kwargs, where)
    try:
        return kinds[kind](**kwargs)
    except (ConfigError, ConfigTypeError) as err:
        raise type(err)(f"{where}.{err}") from err


def non_negative_array(argument: str, values: Any) -> np.ndarray:
    """A non-empty sequence of finite numbers >= 0 as a read-only float64 array (a copy)."""
    if isinstance(values, str | bytes | Mapping) or not isinstance(values, Iterable):
        raise ConfigTypeError(f"{argument}: expected a sequence of numbers, got {values!r}")
    items = values if isinstance(values, np.ndarray) else list(values)
    if len(items) == 0:
        raise ConfigError(f"{argument}: expected at least one value, got an empty sequence")
    if isinstance(items, np.ndarray) and items.ndim == 1 and items.dtype.kind in "iuf":
        bad = np.flatnonzero(~np.isfinite(items) | (items < 0))  # checked all at once
        if bad.size:
            non_negative(f"{argument}[{bad[0]}]", items[bad[0]].item())  # raises
        array = items.astype(np.float64)
    else:
        array = np.array([non_negative(f"{argument}[{i}]", v) for i, v in enumerate(items)])
    array.setflags(write=False)
    return array
