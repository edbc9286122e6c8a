"""Ledger areas per region, measured when written, and the regions reports group by.

Reports never measure geography: the area of every ledger piece within every region
(``event_regions``) is written by triggers of migration 0002 when an event or a region is
inserted, and when a region's boundary changes. A hazard straddling two regions therefore
counts in each by the area that lies there, with no intersection at report time.

The triggers keep the table current on their own, so loading regions after the ledger needs no
extra step. :func:`refresh_event_regions` recomputes it, and the other derived tables, from
scratch: a repair tool, and the check that the triggers and a full recomputation agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from landrelease.errors import LandReleaseError


@dataclass(frozen=True)
class RegionRef:
    """A row label of a report: one region, the whole country, or what no region holds."""

    id: int | None
    code: str
    name: str
    admin_level: int | None

    @property
    def is_region(self) -> bool:
        return self.id is not None


#: The whole country: totals come from the ledger itself, never from adding up regions.
NATIONAL = RegionRef(None, "TOTAL", "National total", None)

#: National minus the sum of the regions: land outside every region of the level (or counted
#: in two regions where boundaries overlap). Shown only when it is not zero.
OUTSIDE = RegionRef(None, "OUTSIDE", "Outside the regions (national - sum of regions)", None)


def refresh_event_regions(connection: Connection) -> int:
    """Rebuild every table derived from the ledger and the regions; returns event_regions rows.

    Recuts the regions into parts, remeasures every piece in every region, finds overlapping
    pieces again and rewrites the stock spans (``lr_refresh_derived`` in the database).
    """
    return int(connection.execute(text("SELECT lr_refresh_derived()")).scalar_one())


def regions_at_level(connection: Connection, level: int) -> list[RegionRef]:
    """The regions of one admin level, by code; an error names the levels that exist."""
    rows = connection.execute(
        text(
            "SELECT id, code, name, admin_level FROM regions WHERE admin_level = :level"
            " ORDER BY code"
        ),
        {"level": level},
    ).all()
    if not rows:
        levels = connection.execute(
            text("SELECT DISTINCT admin_level FROM regions ORDER BY 1")
        ).scalars()
        known = ", ".join(str(level) for level in levels) or "none (load regions first)"
        raise LandReleaseError(f"no regions at admin level {level}; levels loaded: {known}")
    return [RegionRef(row.id, row.code, row.name, row.admin_level) for row in rows]


def region_by_code(connection: Connection, code: str) -> RegionRef:
    """One region by its code (a P-code or the boundary file's ID)."""
    row = connection.execute(
        text("SELECT id, code, name, admin_level FROM regions WHERE code = :code"),
        {"code": code},
    ).first()
    if row is None:
        raise LandReleaseError(f"no region with code {code!r}")
    return RegionRef(row.id, row.code, row.name, row.admin_level)


__all__ = [
    "NATIONAL",
    "OUTSIDE",
    "RegionRef",
    "refresh_event_regions",
    "region_by_code",
    "regions_at_level",
]
