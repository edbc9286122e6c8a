"""Action 24 of the Lausanne Action Plan: remaining area and land released, year by year.

Per year, region and class: the area remaining at the end of the year (SHA / CHA, overlap
counted once) and the land released in the year by method (cancelled through non-technical
survey, reduced through technical survey, cleared). Every year is computed the same way from
the ledger, against the same regions, so the series are comparable across years: a
back-dated event changes the year it belongs to, never the definitions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from landrelease.indicators.annual import AnnualRow, annual_tables
from landrelease.indicators.regions import RegionRef
from landrelease.models import CheckMethod


@dataclass(frozen=True)
class ProgressRow:
    """Remaining at the end of one year and released during it, for a region and class."""

    year: int
    region: RegionRef
    hazard_class: str
    remaining_m2: float  # Σ of hazards
    overlap_m2: float
    cancelled_m2: float
    reduced_m2: float
    cleared_m2: float

    @property
    def remaining_union_m2(self) -> float:
        return self.remaining_m2 - self.overlap_m2

    @property
    def released_m2(self) -> float:
        return self.cancelled_m2 + self.reduced_m2 + self.cleared_m2


def _progress(row: AnnualRow) -> ProgressRow:
    return ProgressRow(
        year=row.year,
        region=row.region,
        hazard_class=row.hazard_class,
        remaining_m2=row.closing_m2,
        overlap_m2=row.overlap_m2,
        cancelled_m2=row.cancelled_m2,
        reduced_m2=row.reduced_m2,
        cleared_m2=row.cleared_m2,
    )


def progress(
    connection: Connection,
    years: Sequence[int],
    *,
    level: int = 1,
    check: CheckMethod | str = CheckMethod.LEDGER,
) -> list[ProgressRow]:
    """Remaining and released per year x region x class (the annual tables, condensed)."""
    return [
        _progress(row)
        for table in annual_tables(connection, years, level=level, check=check)
        for row in table.rows
    ]


__all__ = ["ProgressRow", "progress"]
