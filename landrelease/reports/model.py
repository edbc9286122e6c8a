"""What a report is, independent of its format: titled tables of typed columns, and charts.

A column's kind decides how every format shows it: an ``AREA`` is a value in m² that the
spreadsheet formats give in m² and km² (two columns, units in the headers) and the screen
formats in a readable unit; a ``TEXT`` cell is data (a hazard or region name) that is escaped
in HTML and never becomes a formula in a spreadsheet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum


class Kind(str, Enum):
    """How a column's values are typed and shown."""

    TEXT = "text"
    INT = "int"
    AREA = "area"  # m²; also shown in km²
    RATIO = "ratio"  # 0..1, shown as a percentage
    NUMBER = "number"  # a plain decimal with its own unit (e.g. items/ha)
    DATE = "date"
    YEAR = "year"


Cell = str | int | float | dt.date | None


@dataclass(frozen=True)
class Column:
    """One column: key, title (without unit), kind, unit of NUMBER columns, terminal flag."""

    key: str
    title: str
    kind: Kind
    unit: str | None = None
    brief: bool = True  # shown in the terminal view


@dataclass(frozen=True)
class Table:
    """A titled table; ``totals`` rows are emphasised (bold) at the bottom."""

    name: str  # short identifier: file name part, sheet name
    title: str
    columns: Sequence[Column]
    rows: Sequence[Sequence[Cell]]
    totals: Sequence[Sequence[Cell]] = ()
    notes: Sequence[str] = ()

    def __post_init__(self) -> None:
        width = len(self.columns)
        for row in [*self.rows, *self.totals]:
            if len(row) != width:
                raise ValueError(f"table {self.name}: a row has {len(row)} cells, not {width}")


@dataclass(frozen=True)
class Chart:
    """A chart as PNG bytes (drawn once, embedded in HTML or written beside the tables)."""

    name: str
    title: str
    png: bytes


@dataclass(frozen=True)
class Report:
    """A titled set of tables and charts."""

    name: str  # file name stem
    title: str
    subtitle: str
    tables: Sequence[Table]
    charts: Sequence[Chart] = ()
    notes: Sequence[str] = field(default_factory=tuple)


__all__ = ["Cell", "Chart", "Column", "Kind", "Report", "Table"]
