"""Collecting a scenario's problems instead of stopping at the first: each noted at its
path and line, and calls retried without the argument they refused.

:class:`Problems` is the base of the loader: an entry is built with the checks of the
``sim.*`` method itself (:meth:`Problems.call`); an argument it refuses is noted at its
path and left at its default, so the rest of the entry is still checked, and
:meth:`Problems.raise_found` raises one :class:`ScenarioError` listing them all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from evsim.errors import EvsimError
from evsim.scenario.source import Problem, ScenarioError, Source
from evsim.scenario.specs import hint, parameters

ERRORS = (EvsimError, TypeError, ValueError, LookupError)
"""What evsim's checks raise for bad input (anything else is a bug, not the file's)."""


class Failed:
    """What :meth:`Problems.call` returns for a call that could not be made."""


FAILED = Failed()
Returned = TypeVar("Returned")


class Problems:
    """The problems found in ``source`` so far, in the order of their lines."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.problems: list[Problem] = []
        self.positions: list[tuple[int, int, int]] = []  # (line, column, found): the order
        for path, line in source.duplicates:
            self.problem(path, "duplicate key", line)

    def raise_found(self) -> None:
        """Raise a :class:`ScenarioError` listing every problem by line, if there is one."""
        if self.problems:
            order = sorted(range(len(self.problems)), key=self.positions.__getitem__)
            raise ScenarioError(self.source.where, [self.problems[i] for i in order])

    def problem(self, path: str, message: str, line: int | None = None) -> None:
        found, column = self.source.position(path) if path else (None, 0)
        line = line or found
        self.problems.append((path, line, message))
        self.positions.append((line or 0, column if line == found else 0, len(self.positions)))

    def error(self, path: str, err: Exception, arguments: set[str]) -> str | None:
        """Note ``err`` at the field it names (one of ``arguments``) or at ``path``;
        return that argument."""
        message = hint(str(err))
        head, colon, tail = message.partition(": ")
        match = re.match(r"[A-Za-z_]\w*", head)
        if colon and match and match.group() in arguments and head[match.end() :][:1] in ".[ ":
            self.problem(f"{path}.{head}" if path else head, tail)
            return match.group()
        self.problem(path, message)
        return None

    def call(
        self, path: str, fn: Callable[..., Returned], kwargs: dict, required: set[str]
    ) -> Returned | Failed:
        """``fn(**kwargs)``; an argument it refuses is noted, dropped, and the call retried."""
        kwargs, dropped = dict(kwargs), set()
        arguments = set(parameters(fn)) | set(kwargs)
        while True:
            try:
                return fn(**kwargs)
            except ERRORS as err:
                if _argument(str(err)) in dropped:  # a consequence of a value already noted
                    return FAILED
                argument = self.error(path, err, arguments)
                if argument is None or argument in required or argument not in kwargs:
                    return FAILED
                del kwargs[argument]
                dropped.add(argument)

    def items(self, path: str, field: str, value: Any, example: str) -> list[tuple[str, Any]]:
        """``(argument, item)`` for each item of the list at ``path.field``, named
        ``field[index]``; one item alone (not in a list) is named ``field``; null: none."""
        if value is None:
            return []
        if isinstance(value, Mapping | str):
            return [(field, value)]
        if not isinstance(value, list):
            self.problem(
                f"{path}.{field}", f"expected a list of {field} such as [{example}], got {value!r}"
            )
            return []
        return [(f"{field}[{index}]", item) for index, item in enumerate(value)]


def _argument(message: str) -> str | None:
    match = re.match(r"([A-Za-z_]\w*)[.\[ :]", message)
    return match.group(1) if match else None
