"""Service times that grow with load: garbage-collection pressure, lock contention.

A service's work slows as more of its workers are busy. :class:`LoadLatency` scales each
request's service time by a factor of the utilisation ``u`` = busy workers (counting the
request starting) / workers, read when the request starts:

* ``"linear"``: base · (1 + factor · u)
* ``"polynomial"``: base · (1 + factor · u^exponent)
* ``"exponential"``: base · e^(factor · u)

At u = 0 every mode gives the base time; a busier service serves each request more
slowly, which is what turns a burst into a death spiral once arrivals outrun the slower
service (the AWS Builders' Library, "Using load shedding to avoid overload").
"""

from __future__ import annotations

import math
from typing import Any

from evsim import _check
from evsim.errors import ConfigError
from evsim.workload.specs import Specified

LOAD_MODES = ("linear", "polynomial", "exponential")


class LoadLatency(Specified):
    """Scale service times by load: ``mode`` one of :data:`LOAD_MODES`, ``factor`` >= 0,
    ``exponent`` > 0 (used by ``"polynomial"``; default 2)."""

    kind = "load_latency"

    def __init__(self, mode: str, factor: float, exponent: float = 2.0) -> None:
        self.mode = _check.choice("mode", mode, LOAD_MODES)
        self.factor = _check.non_negative("factor", factor)
        self.exponent = _check.positive("exponent", exponent)
        if self.mode == "exponential" and self.factor > 50:  # e^50 is 5e21 times the base
            raise ConfigError(
                f"factor: at most 50 for the exponential mode (e^factor times the base at "
                f"full load), got {factor!r}"
            )

    def _params(self) -> dict[str, Any]:
        return {"mode": self.mode, "factor": self.factor, "exponent": self.exponent}

    def scale(self, utilisation: float) -> float:
        """The factor service times are multiplied by at ``utilisation`` (0 to 1)."""
        if self.mode == "linear":
            return 1.0 + self.factor * utilisation
        if self.mode == "polynomial":
            return 1.0 + self.factor * float(utilisation**self.exponent)
        return math.exp(self.factor * utilisation)
