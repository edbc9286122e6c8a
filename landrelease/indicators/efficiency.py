"""Action 21 of the Lausanne Action Plan: how efficiently clearance finds ordnance.

Two indicators per year and region: items destroyed per hectare cleared, and the share of the
cleared area in which no item was found (clearance of land that needed none is what better
survey would have spared).

- The cleared area is the area of ``cleared`` ledger events, per region by geometry.
- Items are those of clearance activities, counted whole where the activity cleared most land
  (:func:`landrelease.indicators.annual.items_destroyed`). The ratio's denominator is the land
  cleared under a clearance activity, since land cleared with no activity report has no item
  count at all.
- "No item found" is land cleared by an activity whose item counts are all zero or absent.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from landrelease.db.derived import settle
from landrelease.indicators.annual import ALL_CLASSES, CLASSES, items_destroyed, year_bounds
from landrelease.indicators.regions import NATIONAL, RegionRef, regions_at_level
from landrelease.units import ha
from landrelease.vocabulary import ActivityKind


@dataclass(frozen=True)
class EfficiencyRow:
    """Clearance of one year in one region (or the country)."""

    year: int
    region: RegionRef
    cleared_m2: float
    reported_m2: float  # cleared under a clearance activity (with an item count)
    nothing_found_m2: float  # cleared by activities that found no item
    items_destroyed: int

    @property
    def items_per_ha(self) -> float | None:
        return self.items_destroyed / ha(self.reported_m2) if self.reported_m2 else None

    @property
    def nothing_found_share(self) -> float | None:
        return self.nothing_found_m2 / self.reported_m2 if self.reported_m2 else None


_CLEARED = text(
    """
    WITH found AS (
        SELECT a.id, a.kind, COALESCE(sum(i.found), 0) AS found
        FROM activities a LEFT JOIN activity_items i ON i.activity_id = a.id
        GROUP BY a.id
    ),
    pieces AS (
        SELECT er.region_id, er.area_m2 AS area, e.activity_id
        FROM ledger_events e
        JOIN event_regions er ON er.event_id = e.id
        JOIN regions r ON r.id = er.region_id AND r.admin_level = :level
        WHERE e.kind = 'cleared' AND e.effective_date BETWEEN :start AND :end
        UNION ALL
        SELECT NULL, e.area_m2, e.activity_id
        FROM ledger_events e
        WHERE e.kind = 'cleared' AND e.effective_date BETWEEN :start AND :end
    )
    SELECT p.region_id, sum(p.area) AS cleared,
           COALESCE(sum(p.area) FILTER (WHERE f.kind = :clearance), 0) AS reported,
           COALESCE(sum(p.area) FILTER (WHERE f.kind = :clearance AND f.found = 0), 0)
               AS nothing_found
    FROM pieces p LEFT JOIN found f ON f.id = p.activity_id
    GROUP BY p.region_id
    """
)


def efficiency(connection: Connection, years: list[int], *, level: int = 1) -> list[EfficiencyRow]:
    """Items per hectare cleared and the share cleared with nothing found, per year and region."""
    settle(connection)
    regions = regions_at_level(connection, level)
    rows: list[EfficiencyRow] = []
    for year in years:
        start, end = year_bounds(year)
        cleared = {
            row.region_id: row
            for row in connection.execute(
                _CLEARED,
                {
                    "level": level,
                    "start": start,
                    "end": end,
                    "clearance": ActivityKind.CLEARANCE.value,
                },
            )
        }
        items = items_destroyed(connection, level, year, [ActivityKind.CLEARANCE.value])
        for region in [*regions, NATIONAL]:
            row = cleared.get(region.id)
            count = sum(
                sum(items.get((region.id, cls), {}).values()) for cls in (*CLASSES, ALL_CLASSES)
            )
            rows.append(
                EfficiencyRow(
                    year=year,
                    region=region,
                    cleared_m2=float(row.cleared) if row else 0.0,
                    reported_m2=float(row.reported) if row else 0.0,
                    nothing_found_m2=float(row.nothing_found) if row else 0.0,
                    items_destroyed=count,
                )
            )
    return rows


__all__ = ["EfficiencyRow", "efficiency"]
