"""Guards on scenario input, so that no file or text can hang the loader or exhaust memory.

* :func:`read_file` opens without blocking and reads only a regular file (not a named pipe,
  a device such as ``/dev/zero``, or a directory), at most
  :data:`~evsim.limits.MAX_FILE_BYTES`.
* :func:`check_yaml` reads a YAML text's event stream (libyaml's parser where installed,
  which nests nothing in Python's stack) before anything is composed, and refuses it past
  :data:`~evsim.limits.MAX_DEPTH` levels or :data:`~evsim.limits.MAX_NODES` values,
  counting each use of an alias as all the values it names ("billion laughs").
* :func:`check_document` does the same for a dict or a parsed JSON document, without
  recursion, so a document that contains itself is refused too.

Each raises :class:`GuardError`, whose ``line`` (from 1, or None) says where.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from evsim import limits
from evsim.errors import ConfigError

_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_KINDS = {  # what a path that is not a regular file is, by the test that finds it
    stat.S_ISDIR: "a directory",
    stat.S_ISFIFO: "a named pipe",
    stat.S_ISCHR: "a character device",
    stat.S_ISBLK: "a block device",
    stat.S_ISSOCK: "a socket",
}
LARGE_DATA = "pass large data such as ev.Replay(times) in Python after loading the rest"


class GuardError(ConfigError):
    """Scenario input past a limit or unreadable; ``line`` is where, when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def read_file(path: Path) -> str:
    """The text of the scenario file at ``path`` (UTF-8, newlines as ``\\n``).

    Opened non-blocking, so a named pipe with no writer cannot hang, and checked to be a
    regular file before a byte is read. Raises OSError (missing, unreadable),
    UnicodeDecodeError or :class:`GuardError`.
    """
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            kind = next((name for test, name in _KINDS.items() if test(info.st_mode)), None)
            raise GuardError(f"cannot read the file: not a regular file ({kind or 'special'})")
        data = _read_at_most(descriptor, limits.MAX_FILE_BYTES)
    finally:
        os.close(descriptor)
    text = data.decode("utf-8")
    return text.replace("\r\n", "\n").replace("\r", "\n")  # as text mode's universal newlines


def _read_at_most(descriptor: int, limit: int) -> bytes:
    """The bytes of an open file, refusing it past ``limit`` (the file may grow)."""
    chunks, size = [], 0
    while chunk := os.read(descriptor, min(1 << 20, limit + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise GuardError(
                f"the file is larger than {limit:,} bytes (evsim.limits.MAX_FILE_BYTES); "
                f"{LARGE_DATA}"
            )
    return b"".join(chunks)


def check_text(text: str) -> None:
    """Refuse a scenario text longer than MAX_FILE_BYTES characters."""
    if len(text) > limits.MAX_FILE_BYTES:
        raise GuardError(
            f"the text is longer than {limits.MAX_FILE_BYTES:,} characters "
            f"(evsim.limits.MAX_FILE_BYTES); {LARGE_DATA}"
        )


def check_yaml(text: str) -> None:
    """Refuse a YAML text nested past MAX_DEPTH or past MAX_NODES values, aliases
    expanded. Malformed YAML is left to the composer, which words the error."""
    try:
        _scan(yaml.parse(text, Loader=_FAST_LOADER))
    except yaml.YAMLError:
        if _FAST_LOADER is yaml.SafeLoader:
            return
        try:  # libyaml refused it: scan as far as the pure-Python composer will read
            _scan(yaml.parse(text, Loader=yaml.SafeLoader))
        except yaml.YAMLError:
            return


def _scan(events: Any) -> None:
    """Walk a YAML event stream keeping, per open collection, the values counted when it
    started and the deepest nesting below it; per anchor, the values and nesting its node
    holds, which every alias to it adds again."""
    open_: list[tuple[int, str | None]] = []  # (values counted at its start, its anchor)
    below: list[int] = []  # per open collection: the deepest nesting of its children
    anchors: dict[str, tuple[int, int]] = {}  # anchor → (values, nesting)
    count = 0
    for event in events:
        line = event.start_mark.line + 1 if event.start_mark else None
        if isinstance(event, yaml.CollectionStartEvent):
            count += 1
            open_.append((count - 1, event.anchor))
            below.append(0)
            if len(open_) > limits.MAX_DEPTH:
                raise too_deep(line)
        elif isinstance(event, yaml.CollectionEndEvent):
            start, anchor = open_.pop()
            nesting = below.pop() + 1
            if below:
                below[-1] = max(below[-1], nesting)
            if anchor is not None:
                anchors[anchor] = (count - start, nesting)
        elif isinstance(event, yaml.AliasEvent):
            values, nesting = anchors.get(event.anchor or "", (1, 0))  # an alias names one

            count += values
            if len(open_) + nesting > limits.MAX_DEPTH:
                raise too_deep(line)
            if below:
                below[-1] = max(below[-1], nesting)
        elif isinstance(event, yaml.ScalarEvent):
            count += 1
            if event.anchor is not None:
                anchors[event.anchor] = (1, 0)
        if count > limits.MAX_NODES:
            raise too_many(line)


def check_document(document: Any) -> None:
    """Refuse a dict or JSON document nested past MAX_DEPTH or past MAX_NODES values (a
    value held twice counts twice; one that holds itself is refused as too deep)."""
    stack = [(document, 1)]
    count = 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > limits.MAX_NODES:
            raise too_many(None)
        if isinstance(node, Mapping):
            children = [*node.keys(), *node.values()]
        elif isinstance(node, list | tuple):
            children = list(node)
        else:
            continue
        if depth > limits.MAX_DEPTH:
            raise too_deep(None)
        stack.extend((child, depth + 1) for child in children)


def too_deep(line: int | None) -> GuardError:
    return GuardError(
        f"nested deeper than {limits.MAX_DEPTH} levels (evsim.limits.MAX_DEPTH; a scenario "
        "needs about 7)",
        line,
    )


def too_many(line: int | None) -> GuardError:
    return GuardError(
        f"more than {limits.MAX_NODES:,} values, counting each use of an alias as all it "
        f"names (evsim.limits.MAX_NODES); {LARGE_DATA}",
        line,
    )
