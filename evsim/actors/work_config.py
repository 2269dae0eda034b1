"""The typed reads two configs share: what a worker's work takes, and the faults on it.

:class:`~evsim.actors.group_config.GroupConfig` and
:class:`~evsim.actors.service_config.ServiceConfig` both keep ``service_time`` as a
Distribution and ``faults`` as a list once checked; these properties give the checker
those types (a field's own type is what a caller may give: a number for a constant, one
fault for a list of one).
"""

from __future__ import annotations

from typing import Any

from evsim.actors.faults import Fault
from evsim.workload.dist import Distribution


class WorkFields:
    """``service_distribution`` and ``fault_list`` for a config with those two fields."""

    service_time: Any
    faults: Any

    @property
    def service_distribution(self) -> Distribution:
        """``service_time`` as a Distribution (seconds)."""
        service_time = self.service_time
        assert isinstance(service_time, Distribution)
        return service_time

    @property
    def fault_list(self) -> list[Fault]:
        """``faults`` as a list (empty for none)."""
        faults = self.faults
        assert isinstance(faults, list)
        return faults
