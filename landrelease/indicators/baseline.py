"""Action 18 of the Lausanne Action Plan: the baseline, and hazards marked and fenced.

The baseline is the evidence-based picture of contamination on a date the user chooses: SHA and
CHA counted and measured per region, from the ledger as of that date (so a baseline of 2019 can
be produced in 2025 and comes out the same as it would have then, unless events were later
back-dated into it). Totals count overlapping ground once: the overlap is shown beside them.

Marking and fencing are read from ``hazards.marked_date`` / ``fenced_date`` (the latest date
recorded): a hazard counts as marked on a date when it was marked on or before it. The shares
are given at the 2022 milestone of the Action Plan and on the report date, by number of
hazards and by area.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, text

from landrelease.db.derived import settle
from landrelease.indicators.annual import (
    ALL_CLASSES,
    COUNT_MIN_M2,
    Stock,
    overlaps,
    stocks,
)
from landrelease.indicators.regions import NATIONAL, RegionRef, regions_at_level
from landrelease.models import CheckMethod
from landrelease.vocabulary import HazardClass

#: The Lausanne Action Plan milestone for marking: the end of 2022.
MILESTONE_2022 = dt.date(2022, 12, 31)


@dataclass(frozen=True)
class BaselineRow:
    """SHA and CHA open on the baseline date in one region (or the country)."""

    region: RegionRef
    sha: Stock
    cha: Stock
    overlap_m2: float  # ground counted twice where open hazards overlap

    @property
    def total(self) -> Stock:
        return Stock(self.sha.count + self.cha.count, self.sha.area_m2 + self.cha.area_m2)

    @property
    def total_union_m2(self) -> float:
        return self.total.area_m2 - self.overlap_m2


@dataclass(frozen=True)
class MarkingRow:
    """Open hazards on a date in one region, and those marked / fenced by then."""

    region: RegionRef
    as_of: dt.date
    hazards: int
    area_m2: float
    marked: int
    marked_m2: float
    fenced: int
    fenced_m2: float

    @staticmethod
    def _share(part: float, whole: float) -> float | None:
        return part / whole if whole else None

    @property
    def marked_share(self) -> float | None:
        return self._share(self.marked, self.hazards)

    @property
    def marked_area_share(self) -> float | None:
        return self._share(self.marked_m2, self.area_m2)

    @property
    def fenced_share(self) -> float | None:
        return self._share(self.fenced, self.hazards)

    @property
    def fenced_area_share(self) -> float | None:
        return self._share(self.fenced_m2, self.area_m2)


def baseline(connection: Connection, as_of: dt.date, *, level: int = 1) -> list[BaselineRow]:
    """SHA / CHA count and area per region of ``level`` and nationally, on ``as_of``."""
    settle(connection)
    regions = regions_at_level(connection, level)
    stock = stocks(connection, level, as_of, CheckMethod.LEDGER)
    excess = overlaps(connection, level, as_of).excess
    return [
        BaselineRow(
            region=region,
            sha=stock.get((region.id, HazardClass.SHA.value), Stock()),
            cha=stock.get((region.id, HazardClass.CHA.value), Stock()),
            overlap_m2=excess.get((region.id, ALL_CLASSES), 0.0),
        )
        for region in [*regions, NATIONAL]
    ]


# Each hazard's land per region on the date (from the stock spans; all classes together, a
# hazard has one class at a time), then those marked / fenced by then. The rows with no region
# are the whole hazards: the national figures.
_MARKING = text(
    """
    WITH open AS (
        SELECT region_id, hazard_id, sum(area_m2) AS stock
        FROM stock_spans
        WHERE (admin_level = :level OR admin_level IS NULL)
          AND valid_from <= :d AND (valid_until IS NULL OR valid_until > :d)
        GROUP BY 1, 2
        HAVING sum(area_m2) >= :min_m2
    )
    SELECT o.region_id, count(*) AS n, sum(o.stock) AS area,
           count(*) FILTER (WHERE h.marked_date <= :d) AS marked,
           COALESCE(sum(o.stock) FILTER (WHERE h.marked_date <= :d), 0) AS marked_area,
           count(*) FILTER (WHERE h.fenced_date <= :d) AS fenced,
           COALESCE(sum(o.stock) FILTER (WHERE h.fenced_date <= :d), 0) AS fenced_area
    FROM open o JOIN hazards h ON h.id = o.hazard_id
    GROUP BY o.region_id
    """
)


def marking(connection: Connection, dates: list[dt.date], *, level: int = 1) -> list[MarkingRow]:
    """Share of open hazards marked and fenced on each date, per region and nationally."""
    regions = regions_at_level(connection, level)
    rows: list[MarkingRow] = []
    for when in dates:
        found = {
            row.region_id: row
            for row in connection.execute(
                _MARKING, {"level": level, "d": when, "min_m2": COUNT_MIN_M2}
            )
        }
        for region in [*regions, NATIONAL]:
            row = found.get(region.id)
            rows.append(
                MarkingRow(
                    region=region,
                    as_of=when,
                    hazards=int(row.n) if row else 0,
                    area_m2=float(row.area) if row else 0.0,
                    marked=int(row.marked) if row else 0,
                    marked_m2=float(row.marked_area) if row else 0.0,
                    fenced=int(row.fenced) if row else 0,
                    fenced_m2=float(row.fenced_area) if row else 0.0,
                )
            )
    return rows


__all__ = ["MILESTONE_2022", "BaselineRow", "MarkingRow", "baseline", "marking"]
