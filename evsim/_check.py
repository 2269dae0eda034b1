"""Argument checks shared by every layer: one place words the error messages."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from numbers import Real
from typing import Any

from evsim.errors import ConfigError, ConfigTypeError


def shown(value: Any) -> str:
    """``repr(value)``, except for an integer too long to read (or for Python to print)."""
    if isinstance(value, int) and value.bit_length() > 100:  # over 30 digits
        return f"an integer of about {round(value.bit_length() * math.log10(2)):,} digits"
    return repr(value)


def number(argument: str, value: Any) -> float:
    """Return ``value`` as a finite float, or raise naming ``argument``."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ConfigTypeError(f"{argument}: expected a number, got {value!r}")
    try:
        result = float(value)
    except OverflowError:  # an integer beyond float64 (about 1.8e308)
        result = math.inf
    if not math.isfinite(result):
        raise ConfigError(f"{argument}: expected a finite number, got {shown(value)}")
    return result


def positive(argument: str, value: Any) -> float:
    """A number > 0 (rates, means, intervals)."""
    result = number(argument, value)
    if result <= 0:
        raise ConfigError(f"{argument}: must be > 0, got {value!r}")
    return result


def non_negative(argument: str, value: Any) -> float:
    """A number >= 0 (latencies, start times)."""
    result = number(argument, value)
    if result < 0:
        raise ConfigError(f"{argument}: must be >= 0, got {value!r}")
    return result


def integer(argument: str, value: Any, minimum: int | None = None) -> int:
    """An int (not a bool, not a float), optionally >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigTypeError(f"{argument}: expected a whole number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{argument}: must be >= {minimum}, got {shown(value)}")
    return value


def probability(argument: str, value: Any) -> float:
    """A number in [0, 1]."""
    result = number(argument, value)
    if not 0.0 <= result <= 1.0:
        raise ConfigError(f"{argument}: must be between 0 and 1, got {value!r}")
    return result


def choice(argument: str, value: Any, allowed: Iterable[str]) -> str:
    """One of ``allowed`` (strings)."""
    options = tuple(allowed)
    if value not in options:
        listed = ", ".join(repr(o) for o in options)
        raise ConfigError(f"{argument}: expected one of {listed}, got {value!r}")
    chosen: str = value
    return chosen


def name(argument: str, value: Any) -> str:
    """A non-empty string naming a component."""
    if not isinstance(value, str) or not value:
        raise ConfigTypeError(f"{argument}: expected a non-empty string, got {value!r}")
    return value


def flag(argument: str, value: Any) -> bool:
    """True or False (not a truthy value)."""
    if not isinstance(value, bool):
        raise ConfigTypeError(f"{argument}: expected True or False, got {value!r}")
    return value


def did_you_mean(word: Any, options: Iterable[str]) -> str:
    """`` did you mean 'x'?`` for the closest of ``options``, or an empty string."""
    close = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.6)
    return f" did you mean {close[0]!r}?" if close else ""
