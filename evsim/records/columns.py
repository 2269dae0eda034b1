"""Append-only columns: the storage the full records are made of.

Lists of primitives, sparse columns for fields nearly every row leaves at a default, padded
columns for fields written after the row, and packed rows (one ``struct.pack`` per row)
for the logs written once per attempt, outcome or sample. numpy reads them when a table is
built.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Callable
from typing import Any, ClassVar, Protocol, TypeVar

import numpy as np

Value = TypeVar("Value")


class Rows(Protocol[Value]):
    """One field of a log, read and written by row number (an event id)."""

    def __getitem__(self, row: int, /) -> Value: ...

    def __setitem__(self, row: int, value: Value, /) -> None: ...


class SparseColumn:
    """A column whose rows nearly all hold ``default``: only the other values are stored."""

    __slots__ = ("default", "typecode", "values")

    def __init__(self, typecode: str, default: Any) -> None:
        self.typecode = typecode
        self.default = default
        self.values: dict[int, Any] = {}

    def __getitem__(self, row: int) -> Any:
        return self.values.get(row, self.default)

    def __setitem__(self, row: int, value: Any) -> None:
        self.values[row] = value

    def numpy(self, length: int) -> np.ndarray:
        """The first ``length`` rows as a numpy array."""
        if self.typecode == "O":
            out = np.empty(length, dtype=object)
            out[:] = [self.default] * length
        else:
            out = np.full(length, self.default, dtype=self.typecode)
        for row, value in self.values.items():
            out[row] = value
        return out


class PaddedColumn:
    """A numeric column written after its rows exist: unwritten rows hold ``default``."""

    __slots__ = ("default", "values")

    def __init__(self, typecode: str, default: float) -> None:
        self.default = default
        self.values: array[Any] = array(typecode)

    def __getitem__(self, row: int) -> Any:
        values = self.values
        return values[row] if row < len(values) else self.default

    def __setitem__(self, row: int, value: Any) -> None:
        values = self.values
        if row >= len(values):
            values.extend(array(values.typecode, [self.default]) * (row + 1 - len(values)))
        values[row] = value

    def numpy(self, length: int) -> np.ndarray:
        """The first ``length`` rows as a numpy array."""
        out = np.full(length, self.default, dtype=self.values.typecode)
        written = min(length, len(self.values))
        out[:written] = _as_numpy(self.values)[:written]
        return out


class Columns:
    """Named append-only columns, each a list; ``typecodes`` gives each column's numpy type
    when it is read (``"O"``: any object).

    Lists rather than ``array.array``: an array converts every value it stores through
    ``PyArg_Parse``, which makes its append about 2.5 times a list's (~105 ns against
    ~40 ns), and reading ``list[row]`` is specialized by the interpreter. The price is
    memory: a number costs a pointer (8 bytes) plus its object unless that is shared. The
    small integer codes are; a time is the clock's float, kept alive by the row (24 bytes,
    shared by the rows written at the same time). A million fully recorded M/M/4 events
    take about 50 MB more than in arrays (benchmarks/README.md).
    """

    def __init__(self, **typecodes: str) -> None:
        self._typecodes = typecodes
        for column in typecodes:
            setattr(self, column, [])

    def __len__(self) -> int:
        return len(getattr(self, next(iter(self._typecodes))))

    def numpy(self, column: str) -> np.ndarray:
        """A column as a numpy array (a copy)."""
        values = getattr(self, column)
        if isinstance(values, SparseColumn | PaddedColumn):
            return values.numpy(len(self))
        typecode = self._typecodes[column]
        if typecode == "O":
            return _as_numpy(values)
        return np.array(values, dtype=typecode)

    def _appends(self, *columns: str) -> tuple[Callable[[Any], None], ...]:
        """The bound ``append`` of each column, for a closure on the hot path (a closure
        variable is cheaper to reach than ``self.column.append``)."""
        return tuple(getattr(self, column).append for column in columns)


def _as_numpy(values: array | list) -> np.ndarray:
    if isinstance(values, array):
        if not len(values):
            return np.array([], dtype=values.typecode)
        return np.frombuffer(values, dtype=values.typecode)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


class PackedRows:
    """Append-only rows whose numeric fields are packed one after another in one buffer.

    A row costs one ``struct.pack`` and one buffer extend instead of an append per column
    (about half the time), and writes one contiguous run of bytes instead of one per
    column. numpy reads the buffer as a structured array when a table is built.
    ``FIELDS`` maps each field to its type code (``q``, ``i``, ``b``: 8-, 4-, 1-byte
    integers; ``d``: a float), the same in :mod:`struct` and numpy.
    """

    FIELDS: ClassVar[dict[str, str]] = {}

    def __init__(self) -> None:
        self._rows = bytearray()
        self._row = struct.Struct("=" + "".join(self.FIELDS.values()))  # no padding
        self._dtype = np.dtype(list(self.FIELDS.items()))

    def __len__(self) -> int:
        return len(self._rows) // self._row.size

    def numpy(self, column: str) -> np.ndarray:
        """A column as a numpy array (a copy: the buffer keeps growing)."""
        if column not in self.FIELDS:
            extra: SparseColumn | PaddedColumn = getattr(self, column)
            return extra.numpy(len(self))

        if not self._rows:
            return np.array([], dtype=self.FIELDS[column])
        return np.frombuffer(self._rows, dtype=self._dtype)[column].copy()

    def _packer(self) -> tuple[Callable[[bytes], None], Callable[..., bytes]]:
        """The buffer's ``extend`` and the row's ``pack``, for a closure on the hot path."""
        return self._rows.extend, self._row.pack
