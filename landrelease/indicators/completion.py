"""Action 25 of the Lausanne Action Plan: regions, and the country, with nothing remaining.

A region is *completed* on a date when contamination was recorded in it and none remains
(less than the sliver tolerance of one hazard); its completion date is the date of the last
event that touched it. A region where nothing was ever recorded is reported as such, not as
completed: absence of records is not evidence of clearance. Figures come from the ledger as of
the date, so a completion can be checked for any past date too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import Enum

from sqlalchemy import Connection, text

from landrelease.db.derived import settle
from landrelease.indicators.annual import COUNT_MIN_M2
from landrelease.indicators.regions import NATIONAL, RegionRef, regions_at_level


class CompletionStatus(str, Enum):
    """Where a region stands on the date."""

    COMPLETED = "completed"
    REMAINING = "remaining"
    NONE_RECORDED = "none recorded"


@dataclass(frozen=True)
class CompletionRow:
    """One region (or the country) on the date."""

    region: RegionRef
    as_of: dt.date
    recorded_m2: float  # all land ever added to hazards here (recorded, reopened, corrections)
    remaining_m2: float
    open_hazards: int
    last_event: dt.date | None
    status: CompletionStatus

    @property
    def completed_on(self) -> dt.date | None:
        return self.last_event if self.status is CompletionStatus.COMPLETED else None


# What remains on the date comes from the stock spans; what was ever added, and the last event,
# from the ledger's areas per region (rows without a region: the whole country).
_COMPLETION = text(
    """
    WITH per_hazard AS (
        SELECT region_id, hazard_id, sum(area_m2) AS stock
        FROM stock_spans
        WHERE (admin_level = :level OR admin_level IS NULL)
          AND valid_from <= :d AND (valid_until IS NULL OR valid_until > :d)
        GROUP BY 1, 2
    ),
    remaining AS (
        SELECT region_id, sum(stock) AS area, count(*) FILTER (WHERE stock >= :min_m2) AS open
        FROM per_hazard GROUP BY 1
    ),
    history AS (
        SELECT region_id,
               COALESCE(sum(area_m2) FILTER (WHERE sign = 1 AND kind <> 'confirmed'), 0) AS added,
               max(effective_date) AS last_event
        FROM event_regions WHERE admin_level = :level AND effective_date <= :d
        GROUP BY 1
        UNION ALL
        SELECT NULL,
               COALESCE(sum(area_m2) FILTER (WHERE sign = 1 AND kind <> 'confirmed'), 0),
               max(effective_date)
        FROM ledger_events WHERE effective_date <= :d
        HAVING count(*) > 0
    )
    SELECT h.region_id, h.added, COALESCE(r.area, 0) AS remaining, COALESCE(r.open, 0) AS open,
           h.last_event
    FROM history h LEFT JOIN remaining r ON r.region_id IS NOT DISTINCT FROM h.region_id
    """
)


def completion(connection: Connection, as_of: dt.date, *, level: int = 1) -> list[CompletionRow]:
    """Every region of ``level``, and the country, with its completion status on ``as_of``."""
    settle(connection)
    regions = regions_at_level(connection, level)
    found = {
        row.region_id: row
        for row in connection.execute(
            _COMPLETION, {"level": level, "d": as_of, "min_m2": COUNT_MIN_M2}
        )
    }
    rows: list[CompletionRow] = []
    for region in [*regions, NATIONAL]:
        row = found.get(region.id)
        if row is None:
            status = CompletionStatus.NONE_RECORDED
        elif row.open == 0:
            status = CompletionStatus.COMPLETED
        else:
            status = CompletionStatus.REMAINING
        rows.append(
            CompletionRow(
                region=region,
                as_of=as_of,
                recorded_m2=float(row.added) if row else 0.0,
                remaining_m2=max(float(row.remaining), 0.0) if row and row.open else 0.0,
                open_hazards=int(row.open) if row else 0,
                last_event=row.last_event if row else None,
                status=status,
            )
        )
    return rows


__all__ = ["CompletionRow", "CompletionStatus", "completion"]
