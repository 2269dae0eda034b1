"""Reading scenario files: a path, a YAML or JSON text, or a dict, with the line of
every field, and the :class:`ScenarioError` that lists every problem found.

Fields are named by paths such as ``consumer_groups[1].retry.max_attempts``;
:class:`Source` maps each path to the line the YAML (or JSON) text gives it, so a problem
reads ``line 12: consumer_groups[1].retry.max_attempts: must be >= 1, got 0``. Input past
the limits of :mod:`evsim.scenario.yaml_guard` (size, nesting, values with aliases expanded) and
files that are not regular files are refused the same way, before they are parsed.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from evsim._check import did_you_mean
from evsim.errors import ConfigError
from evsim.scenario import yaml_guard
from evsim.scenario.yaml_guard import GuardError

Problem = tuple[str, int | None, str]
"""(path, line or None, message): one thing wrong with a scenario."""

SUFFIXES = (".yaml", ".yml", ".json")
_TOKEN = re.compile(r"\[(\d+)\]|\.?([^.\[\]]+)")


class ScenarioError(ConfigError):
    """A scenario that cannot be built; ``problems`` lists (path, line, message) for each
    problem found (all of them, not only the first).

    The message's first line says where and how many (``bad.yaml: 3 problems:``) and,
    when there is only one, the problem itself; then one problem per line, each with
    its line number when the text gives one.
    """

    def __init__(self, where: str, problems: list[Problem]) -> None:
        self.where = where
        self.problems = list(problems)
        super().__init__(format_problems(where, self.problems))

    def __reduce__(self) -> tuple[Any, ...]:  # pickled across process pools (sweeps)
        return (type(self), (self.where, self.problems))


def format_problem(path: str, line: int | None, message: str) -> str:
    """``line 12: consumer_groups[1].retry.max_attempts: must be >= 1, got 0``."""
    text = f"{path}: {message}" if path else message
    return f"line {line}: {text}" if line else text


def format_problems(where: str, problems: list[Problem]) -> str:
    """The message of a :class:`ScenarioError`: a count line, then one line per problem."""
    items = [format_problem(*problem) for problem in problems]
    if len(items) == 1:
        return f"{where}: 1 problem: {items[0]}"
    return f"{where}: {len(items)} problems:\n" + "\n".join(f"  {item}" for item in items)


def path_tokens(path: str) -> tuple[str | int, ...]:
    """``"producers[0].arrivals.poisson.rate"`` → ``("producers", 0, "arrivals", ...)``.

    Anything after a space (``steps[1] time``) is ignored.
    """
    head = path.split(" ", 1)[0]
    return tuple(int(index) if index else name for index, name in _TOKEN.findall(head))


def join_path(tokens: tuple[str | int, ...] | list[str | int]) -> str:
    """The inverse of :func:`path_tokens`."""
    text = ""
    for token in tokens:
        text += f"[{token}]" if isinstance(token, int) else (f".{token}" if text else token)
    return text


def check_path(path: str, document: Any) -> None:
    """Raise ConfigError (naming ``path``) unless ``path`` leads to a field of
    ``document``; its last field may be missing (it was left at its default)."""
    tokens = path_tokens(path)
    if not tokens or join_path(tokens) != path:
        raise ConfigError(f"{path}: expected a path such as consumer_groups[0].consumers")
    node = document
    for index, token in enumerate(tokens):
        where = join_path(tokens[:index]) or "the scenario"
        last = index == len(tokens) - 1
        if isinstance(token, int):
            if not isinstance(node, list):
                raise ConfigError(f"{path}: {where} is not a list")
            if token >= len(node):
                raise ConfigError(f"{path}: {where} has {len(node)} entries, so no [{token}]")
        elif not isinstance(node, Mapping):
            raise ConfigError(f"{path}: {where} is not a mapping with fields")
        elif token not in node and not last:
            fields = [str(key) for key in node]
            hint = did_you_mean(token, fields)
            listed = ", ".join(fields) or "none"
            raise ConfigError(f"{path}: no field {token!r} in {where};{hint} it has: {listed}")
        if not last:
            node = node[token]


def with_values(document: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``document`` with each path of ``values`` set to its value."""
    copied = copy.deepcopy(dict(document))
    for path, value in values.items():
        *parents, last = path_tokens(path)
        node: Any = copied
        for token in parents:
            node = node[token]
        node[last] = value
    return copied


@dataclass
class Source:
    """A scenario document with where it came from and the line of each field."""

    document: Any
    where: str = "scenario"
    lines: dict[tuple[str | int, ...], tuple[int, int]] = field(default_factory=dict)
    """path tokens → (line, column), both from 1"""
    duplicates: list[tuple[str, int]] = field(default_factory=list)  # (path, line)

    def position(self, path: str) -> tuple[int | None, int]:
        """(line, column) of ``path`` or of its nearest enclosing field; (None, 0)."""
        tokens = path_tokens(path)
        while tokens:
            if tokens in self.lines:
                return self.lines[tokens]
            tokens = tokens[:-1]
        return None, 0


def read_source(source: Any) -> Source:
    """The document of ``source``: a mapping, a path (``.yaml``, ``.yml``, ``.json``) or
    a YAML/JSON text. Unreadable files and malformed text raise :class:`ScenarioError`."""
    if isinstance(source, Mapping):
        _guarded("scenario", yaml_guard.check_document, source)
        return Source(copy.deepcopy(dict(source)))
    if isinstance(source, Path) or (isinstance(source, str) and _looks_like_path(source)):
        path = Path(source)
        where = str(path)
        if path.suffix.lower() not in SUFFIXES:
            raise ScenarioError(
                where, [("", None, "expected a .yaml, .yml or .json scenario file")]
            )
        try:
            text = _guarded(where, yaml_guard.read_file, path)
        except OSError as err:
            reason = err.strerror or str(err)
            raise ScenarioError(where, [("", None, f"cannot read the file: {reason}")]) from err
        except UnicodeDecodeError as err:
            raise ScenarioError(
                where, [("", None, "cannot read the file: not UTF-8 text")]
            ) from err
        return parse_text(text, where, json_first=path.suffix.lower() == ".json")
    if isinstance(source, str):
        _guarded("scenario", yaml_guard.check_text, source)
        return parse_text(source, "scenario", json_first=source.lstrip().startswith("{"))
    raise ScenarioError(
        "scenario",
        [("", None, f"expected a file path, a YAML/JSON text or a dict, got {source!r}")],
    )


def _guarded(where: str, guard: Any, value: Any) -> Any:
    """``guard(value)``, a :class:`GuardError` raised as a ScenarioError at ``where``."""
    try:
        return guard(value)
    except GuardError as err:
        raise ScenarioError(where, [("", err.line, str(err))]) from err


def _looks_like_path(text: str) -> bool:
    """A one-line string without YAML structure is a file name; anything else is text."""
    return "\n" not in text and ": " not in text and not text.lstrip().startswith(("{", "["))


def parse_text(text: str, where: str, json_first: bool = False) -> Source:
    """Parse YAML (or JSON, which YAML reads too), keeping every field's line number."""
    if json_first:
        try:
            document = json.loads(text)
        except json.JSONDecodeError as err:
            raise ScenarioError(where, [("", err.lineno, f"not valid JSON: {err.msg}")]) from err
        except RecursionError as err:  # json's decoder nests in Python's stack
            raise ScenarioError(where, [("", None, str(yaml_guard.too_deep(None)))]) from err
        except ValueError as err:  # an integer of more digits than Python converts
            raise ScenarioError(where, [("", None, f"not valid JSON: {err}")]) from err
        _guarded(where, yaml_guard.check_document, document)
        source = Source(document, where)
        with contextlib.suppress(yaml.YAMLError, GuardError):  # line numbers only: JSON is
            _, source.lines, source.duplicates = _compose(text)  # YAML, mostly
        return source
    try:
        document, lines, duplicates = _compose(text)
    except GuardError as err:  # first: it is a ValueError too
        raise ScenarioError(where, [("", err.line, str(err))]) from err
    except yaml.MarkedYAMLError as err:
        line = err.problem_mark.line + 1 if err.problem_mark else None
        detail = err.problem or "malformed"
        context = f" ({err.context})" if err.context else ""
        raise ScenarioError(where, [("", line, f"not valid YAML: {detail}{context}")]) from err
    except (yaml.YAMLError, ValueError) as err:  # ValueError: an integer of 5,000 digits
        raise ScenarioError(where, [("", None, f"not valid YAML: {err}")]) from err
    return Source(document, where, lines, duplicates)


def _compose(text: str) -> tuple[Any, dict, list]:
    """One parse giving the data, the line of each path and duplicated keys, after the
    guard has bounded the nesting and the values (:func:`yaml_guard.check_yaml`)."""
    yaml_guard.check_yaml(text)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        document = None if node is None else loader.construct_document(node)
    finally:
        loader.dispose()
    lines: dict[tuple[str | int, ...], tuple[int, int]] = {}
    duplicates: list[tuple[str, int]] = []
    if node is not None:
        _walk(node, (), lines, duplicates, set())
    return document, lines, duplicates


def _walk(node: yaml.Node, path: tuple, lines: dict, duplicates: list, active: set) -> None:
    if id(node) in active:  # a recursive alias: stop
        return
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else str(key.value)
            child = (*path, name)
            if name in seen:
                duplicates.append((join_path(child), key.start_mark.line + 1))
            seen.add(name)
            lines[child] = (key.start_mark.line + 1, key.start_mark.column + 1)
            _walk(value, child, lines, duplicates, active)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines[child] = (item.start_mark.line + 1, item.start_mark.column + 1)
            _walk(item, child, lines, duplicates, active)
    active.discard(id(node))
