"""What a contamination map shows, read from the ledger as of one date.

The hazards are :func:`landrelease.snapshot.hazards_as_of` (the same replay every report uses,
so a map and a table of the same date agree), completed with what an officer needs in a popup:
the hazard's name, recording organisation and date, and its latest ledger event up to the date.
Released land is the ``cancelled`` / ``reduced`` / ``cleared`` ledger events up to the date:
each is the piece of ground actually taken out of the hazard, with its geodesic area.

Remaining area per region (the choropleth) counts each hazard once, in the region holding its
interior point (:func:`shapely.point_on_surface`), and where hazards of a region overlap it
measures their union, so no m² is counted twice (DESIGN.md, invariant 5).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon
from sqlalchemy import Connection, Row, text

from landrelease.errors import LandReleaseError
from landrelease.geometry import geodesic_area_m2
from landrelease.snapshot import hazards_as_of
from landrelease.vocabulary import RELEASE_KINDS


@dataclass(frozen=True)
class MapHazard:
    """A hazard on the map date: its state (from the snapshot) and what its popup shows."""

    hazard_id: int
    national_id: str
    name: str | None
    hazard_class: str
    contamination: str
    geom: MultiPolygon | None  # None once wholly released
    area_m2: float
    organisation: str | None
    recorded: dt.date
    last_kind: str
    last_date: dt.date
    last_activity: str | None
    last_organisation: str | None


@dataclass(frozen=True)
class ReleasedPiece:
    """A piece of land released by one ledger event."""

    event_id: int
    hazard_id: int
    method: str
    hazard_class: str
    effective_date: dt.date
    area_m2: float
    geom: MultiPolygon
    activity: str | None
    organisation: str | None


@dataclass(frozen=True)
class RegionArea:
    """A region of the choropleth and the contamination remaining in it."""

    code: str
    name: str
    admin_level: int
    geom: MultiPolygon
    remaining_m2: dict[str, float]
    hazards: int

    @property
    def total_m2(self) -> float:
        return sum(self.remaining_m2.values())


@dataclass(frozen=True)
class MapData:
    """Everything one map shows."""

    as_of: dt.date
    hazards: list[MapHazard]
    pieces: list[ReleasedPiece]
    regions: list[RegionArea]
    region: RegionArea | None  # the region the map is limited to, if any


_ATTRIBUTES = text(
    """
    SELECT h.id, h.name, o.name AS organisation, first.effective_date AS recorded,
           last.kind AS last_kind, last.effective_date AS last_date,
           a.reference AS activity, a.kind AS activity_kind, ao.name AS activity_org
    FROM hazards h
    LEFT JOIN organisations o ON o.id = h.organisation_id
    CROSS JOIN LATERAL (
        SELECT min(e.effective_date) AS effective_date FROM ledger_events e
        WHERE e.hazard_id = h.id
    ) first
    CROSS JOIN LATERAL (
        SELECT e.kind, e.effective_date, e.activity_id FROM ledger_events e
        WHERE e.hazard_id = h.id AND e.effective_date <= :d
        ORDER BY e.effective_date DESC, e.id DESC LIMIT 1
    ) last
    LEFT JOIN activities a ON a.id = last.activity_id
    LEFT JOIN organisations ao ON ao.id = a.organisation_id
    WHERE h.id = ANY(CAST(:ids AS bigint[]))
    """
)

_PIECES = text(
    """
    SELECT e.id, e.hazard_id, e.kind, e.hazard_class, e.effective_date, e.area_m2,
           ST_AsBinary(e.piece) AS wkb, a.reference AS activity, ao.name AS organisation
    FROM ledger_events e
    LEFT JOIN activities a ON a.id = e.activity_id
    LEFT JOIN organisations ao ON ao.id = a.organisation_id
    WHERE e.kind = ANY(CAST(:kinds AS text[])) AND e.effective_date <= :d
    ORDER BY e.id
    """
)

_REGIONS = text(
    """
    SELECT id, code, name, admin_level, parent_id, ST_AsBinary(geom) AS wkb FROM regions
    ORDER BY admin_level, code
    """
)

#: The choropleth uses the finest admin level with at most this many regions in view.
MAX_CHOROPLETH_REGIONS = 400


def _activity_label(reference: str | None, kind: str | None) -> str | None:
    """The activity's report reference; its kind only when it has none (the event's kind
    already says NTS, TS or clearance)."""
    return reference or kind


def _find_region(rows: Sequence[Row[Any]], wanted: str) -> Row[Any]:
    """The region row whose code or name is ``wanted`` (codes first: names repeat)."""
    by_code = [r for r in rows if r.code == wanted]
    if by_code:
        return by_code[0]
    by_name = [r for r in rows if r.name.casefold() == wanted.casefold()]
    if len(by_name) == 1:
        return by_name[0]
    if by_name:
        codes = ", ".join(f"{r.code} (level {r.admin_level})" for r in by_name)
        raise LandReleaseError(f"region name {wanted!r} is ambiguous; use a code: {codes}")
    raise LandReleaseError(
        f"no region with code or name {wanted!r}" + ("" if rows else " (no regions are loaded)")
    )


def _choropleth_rows(rows: Sequence[Row[Any]], region_row: Row[Any] | None) -> list[Row[Any]]:
    """Regions to colour: the chosen region's children (or itself), else the finest level
    with at most :data:`MAX_CHOROPLETH_REGIONS` units."""
    if region_row is not None:
        children = [r for r in rows if r.parent_id == region_row.id]
        return children or [region_row]
    per_level: dict[int, list[Row[Any]]] = defaultdict(list)
    for row in rows:
        per_level[row.admin_level].append(row)
    fitting = [level for level, units in per_level.items() if len(units) <= MAX_CHOROPLETH_REGIONS]
    if not fitting:
        return []
    return per_level[max(fitting)]


def _region_of(region_geoms: np.ndarray, geoms: np.ndarray) -> np.ndarray:
    """Index of the region holding each geometry's interior point, -1 for none.

    Each region is prepared once and tested against the points in its bounding box (far
    faster than a tree query per point against detailed boundaries); a point on a boundary
    shared by two regions goes to the first of them only.
    """
    owner = np.full(len(geoms), -1, dtype=np.int64)
    if len(geoms) == 0:
        return owner
    x, y = shapely.get_coordinates(shapely.point_on_surface(geoms)).T
    for index, region in enumerate(region_geoms):
        shapely.prepare(region)
        west, south, east, north = region.bounds
        candidates = np.flatnonzero(
            (owner < 0) & (x >= west) & (x <= east) & (y >= south) & (y <= north)
        )
        inside = shapely.intersects_xy(region, x[candidates], y[candidates])
        owner[candidates[inside]] = index
    return owner


def _overlapping(geoms: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Which geometries share interior with another of the same group (region and class)."""
    involved = np.zeros(len(geoms), dtype=bool)
    if len(geoms) < 2:
        return involved
    left, right = shapely.STRtree(geoms).query(geoms)  # bounding boxes only: cheap
    keep = (left < right) & (group[left] == group[right]) & (group[left] >= 0)
    left, right = left[keep], right[keep]
    overlap = shapely.relate_pattern(geoms[left], geoms[right], "2********")
    involved[left[overlap]] = True
    involved[right[overlap]] = True
    return involved


def _remaining_by_region(
    regions: list[tuple[Row[Any], MultiPolygon]], hazards: list[MapHazard]
) -> list[RegionArea]:
    """Remaining m² per class and hazard count of each region, no m² counted twice.

    Stored areas are summed, except for hazards that overlap another of the same class in the
    same region: those count by the geodesic area of their union.
    """
    if not regions:
        return []
    active = [h for h in hazards if h.geom is not None]
    geoms = np.array([h.geom for h in active], dtype=object)
    areas = np.array([h.area_m2 for h in active], dtype=np.float64)
    classes = ("SHA", "CHA")
    class_index = np.array([classes.index(h.hazard_class) for h in active], dtype=np.int64)
    region = _region_of(np.array([g for _, g in regions], dtype=object), geoms)
    group = np.where(region >= 0, region * len(classes) + class_index, -1)
    involved = _overlapping(geoms, group)
    result = []
    for index, (row, geom) in enumerate(regions):
        remaining: dict[str, float] = {}
        for k, cls in enumerate(classes):
            mine = group == index * len(classes) + k
            plain = float(areas[mine & ~involved].sum())
            tangled = mine & involved
            union = geodesic_area_m2(shapely.union_all(geoms[tangled])) if tangled.any() else 0.0
            remaining[cls] = plain + union
        result.append(
            RegionArea(
                code=row.code,
                name=row.name,
                admin_level=row.admin_level,
                geom=geom,
                remaining_m2=remaining,
                hazards=int((region == index).sum()),
            )
        )
    return result


def load_map_data(connection: Connection, as_of: dt.date, *, region: str | None = None) -> MapData:
    """Read the state as of ``as_of`` (optionally limited to one region by code or name)."""
    region_rows = connection.execute(_REGIONS).all()
    region_geoms = {row.id: shapely.from_wkb(row.wkb) for row in region_rows}
    region_row = _find_region(region_rows, region) if region is not None else None
    limit = region_geoms[region_row.id] if region_row is not None else None

    states = hazards_as_of(connection, as_of)
    if limit is not None:
        shapely.prepare(limit)
        keep = {s.hazard_id for s in states if s.geom is not None and limit.intersects(s.geom)}
    else:
        keep = {s.hazard_id for s in states}

    pieces: list[ReleasedPiece] = []
    for row in connection.execute(_PIECES, {"kinds": [k.value for k in RELEASE_KINDS], "d": as_of}):
        geom = shapely.from_wkb(row.wkb)
        if limit is not None and not limit.intersects(geom):
            continue
        keep.add(row.hazard_id)
        pieces.append(
            ReleasedPiece(
                event_id=row.id,
                hazard_id=row.hazard_id,
                method=row.kind,
                hazard_class=row.hazard_class,
                effective_date=row.effective_date,
                area_m2=float(row.area_m2),
                geom=geom,
                activity=row.activity,
                organisation=row.organisation,
            )
        )
    chosen = [s for s in states if s.hazard_id in keep]
    attributes = {
        row.id: row
        for row in connection.execute(
            _ATTRIBUTES, {"d": as_of, "ids": [s.hazard_id for s in chosen]}
        )
    }
    hazards = []
    for state in chosen:
        extra = attributes[state.hazard_id]
        hazards.append(
            MapHazard(
                hazard_id=state.hazard_id,
                national_id=state.national_id,
                name=extra.name,
                hazard_class=state.hazard_class,
                contamination=state.contamination,
                geom=state.geom,
                area_m2=float(state.area_m2),
                organisation=extra.organisation,
                recorded=extra.recorded,
                last_kind=extra.last_kind,
                last_date=extra.last_date,
                last_activity=_activity_label(extra.activity, extra.activity_kind),
                last_organisation=extra.activity_org,
            )
        )
    shown = _choropleth_rows(region_rows, region_row)
    regions = _remaining_by_region([(row, region_geoms[row.id]) for row in shown], hazards)
    own = None
    if region_row is not None:
        own = _remaining_by_region([(region_row, region_geoms[region_row.id])], hazards)[0]
    return MapData(as_of=as_of, hazards=hazards, pieces=pieces, regions=regions, region=own)


__all__ = [
    "MAX_CHOROPLETH_REGIONS",
    "MapData",
    "MapHazard",
    "RegionArea",
    "ReleasedPiece",
    "load_map_data",
]
