"""The checks of a file that need the database, run inside the import's own transaction.

Hazard IDs and polygons already recorded, activities already imported (the same result again
is skipped, a different one under the same reference refused), results naming hazards that are
closed, unknown or dated later, release polygons that miss what remains of their hazard, new
hazards overlapping recorded ones (:mod:`landrelease.ingest.overlaps`), and features outside
the territory of the loaded regions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, Row, text

from landrelease.db.staging import number_array, text_array
from landrelease.geometry import MIN_AREA_M2, geodesic_areas_m2, polygons_only
from landrelease.ingest.findings import (
    ACTIVITY_KIND,
    REFUSED,
    RELEASE_KIND,
    SKIPPED,
    WARNING,
    Action,
    Checked,
    Staged,
    activity_items,
    label_of,
)
from landrelease.ingest.overlaps import note_overlap
from landrelease.units import format_area
from landrelease.vocabulary import HazardStatus

_HAZARDS = text(
    """
    SELECT h.national_id, h.hazard_class, h.status,
           (SELECT max(e.effective_date) FROM ledger_events e
            WHERE e.hazard_id = h.id AND (e.sign = 1 OR e.kind = 'confirmed')) AS floor_date
    FROM hazards h WHERE h.national_id = ANY(CAST(:ids AS text[]))
    """
)

# For each polygon of the file: does its hazard exist with the same recorded polygon, does
# another hazard hold the same polygon, and does it reach into what remains of its hazard?
# Only a new hazard's polygon is compared with recorded ones (ST_Equals on dense rings is the
# costly test); only a result's is tested against what remains of its hazard.
_POLYGONS = text(
    """
    WITH f AS MATERIALIZED (
        SELECT f.ord, f.nid, f.rec, ST_GeomFromWKB(f.wkb, 4326) AS g
        FROM unnest(CAST(:ord AS int[]), CAST(:nid AS text[]), CAST(:rec AS boolean[]),
                    CAST(:wkb AS bytea[])) AS f(ord, nid, rec, wkb)
    )
    SELECT f.ord,
           CASE WHEN f.rec THEN
               (SELECT ST_Equals(e.piece, f.g) FROM ledger_events e
                WHERE e.hazard_id = h.id AND e.kind = 'recorded' ORDER BY e.id LIMIT 1)
           END AS same_as_recorded,
           CASE WHEN f.rec THEN
               (SELECT h2.national_id FROM ledger_events e2 JOIN hazards h2 ON h2.id = e2.hazard_id
                WHERE e2.kind = 'recorded' AND e2.piece && f.g AND h2.national_id <> f.nid
                  AND ST_Equals(e2.piece, f.g) LIMIT 1)
           END AS same_polygon_as,
           CASE WHEN f.rec THEN false
                ELSE COALESCE(ST_Relate(h.geom, f.g, 'T********'), false)
           END AS overlaps
    FROM f LEFT JOIN hazards h ON h.national_id = f.nid
    ORDER BY f.ord
    """
)

# The regions of the lowest admin level loaded (the entities, or the country itself): together
# they are the territory features must lie in. Not united in SQL: boundaries are densified, and
# a union of them costs seconds, while testing each feature against each unit costs little.
_TERRITORY = text(
    """
    SELECT ST_AsBinary(geom) FROM regions
    WHERE admin_level = (SELECT min(admin_level) FROM regions) ORDER BY id
    """
)


@dataclass(frozen=True)
class _Known:
    hazard_class: str
    status: str
    floor_date: dt.date | None


def check_database(connection: Connection, checked: Checked) -> None:
    """The checks that need the database, run in the import's own transaction."""
    if not checked.staged:
        return
    _check_imported_activities(connection, checked)
    _check_regions(connection, checked)
    ids = sorted({s.hazard_id for s in checked.staged.values()})
    known = {
        row.national_id: _Known(row.hazard_class, row.status, row.floor_date)
        for row in connection.execute(_HAZARDS, {"ids": text_array(ids)})
    }
    checked.classes.update({nid: hazard.hazard_class for nid, hazard in known.items()})
    checked.classes.update(
        {s.hazard_id: s.hazard_class or "" for s in checked.staged.values() if s.hazard_class}
    )
    for staged in list(checked.staged.values()):
        if staged.action == Action.RECORD:
            continue
        hazard = known.get(staged.hazard_id)
        if hazard is None:
            if staged.hazard_id not in checked.record_ids:
                checked.note(
                    staged.index,
                    staged.hazard_id,
                    "unknown_hazard",
                    f"{staged.label}: names hazard {staged.hazard_id}, which is neither in the "
                    "database nor recorded by this file",
                    REFUSED,
                )
            continue
        if hazard.status != HazardStatus.ACTIVE.value:
            checked.note(
                staged.index,
                staged.hazard_id,
                "hazard_closed",
                f"{staged.label}: hazard {staged.hazard_id} is closed: all its land has been "
                "released",
                REFUSED,
            )
        elif staged.date and hazard.floor_date and staged.date < hazard.floor_date:
            checked.note(
                staged.index,
                staged.hazard_id,
                "dates_out_of_order",
                f"{staged.label}: dated {staged.date}, before {hazard.floor_date}, when land was "
                f"last added to hazard {staged.hazard_id} or its class changed",
                REFUSED,
            )
        elif staged.action == Action.CONFIRM and hazard.hazard_class != "SHA":
            checked.note(
                staged.index,
                staged.hazard_id,
                "already_cha",
                f"{staged.label}: hazard {staged.hazard_id} is already a CHA",
                REFUSED,
            )
    _check_polygons(connection, checked, set(known))


def _check_imported_activities(connection: Connection, checked: Checked) -> None:
    """Results whose activity reference is already in the database: skipped when they are the
    result applied then, refused when they differ from it.

    Skipping is what makes a re-import change nothing. But a team that sends a corrected
    result under the same reference (a smaller cleared polygon, another method, other items)
    must not see it silently skipped: the ledger would keep the old figures with no word.
    """
    references = sorted(
        {s.activity_reference for s in checked.staged.values() if s.activity_reference}
    )
    if not references:
        return
    stored: dict[str, Row[Any]] = {
        row.reference: row
        for row in connection.execute(_STORED_ACTIVITIES, {"refs": text_array(references)})
    }
    again = [
        s
        for s in checked.staged.values()
        if s.action != Action.RECORD and s.activity_reference in stored
    ]
    differences = _differences(connection, checked, again, stored)
    for staged in again:
        reference = staged.activity_reference
        found = differences.get(staged.index)
        if found:
            checked.note(
                staged.index,
                staged.hazard_id,
                "activity_changed",
                f"{staged.label}: activity {reference} is already in the database, and this "
                f"result differs from it: {'; '.join(found)}. A result is applied once: record "
                "a correction with `landrelease release correct`, or give a new result a new "
                "reference",
                REFUSED,
            )
            continue
        checked.note(
            staged.index,
            staged.hazard_id,
            "already_imported",
            f"{label_of(staged.index, staged.hazard_id)}: activity {reference} is already in "
            "the database; skipped",
            SKIPPED,
        )


# Each activity named by a file, with its kind and the items it recorded (type:found:destroyed).
_STORED_ACTIVITIES = text(
    """
    SELECT a.reference, a.kind,
           ARRAY(SELECT i.item_type || ':' || i.found || ':' || i.destroyed
                 FROM activity_items i WHERE i.activity_id = a.id ORDER BY 1) AS items
    FROM activities a WHERE a.reference = ANY(CAST(:refs AS text[]))
    """
)

# For each hazard and activity met again, what the activity took out of the hazard against the
# file's polygons for them (an activity may clear several polygons of one hazard): the m² taken
# then that the polygons do not cover (they shrank or moved), and the m² of the polygons over
# land the hazard still holds (they grew). No pieces: the activity took nothing out of it.
_AGAIN = text(
    """
    WITH f AS MATERIALIZED (
        SELECT f.ref, f.nid, array_agg(f.ord) AS ords,
               ST_Union(ST_GeomFromWKB(f.wkb, 4326)) AS g
        FROM unnest(CAST(:ord AS int[]), CAST(:ref AS text[]), CAST(:nid AS text[]),
                    CAST(:wkb AS bytea[])) AS f(ord, ref, nid, wkb)
        GROUP BY f.ref, f.nid
    )
    SELECT f.ords, t.pieces,
           lr_area_m2(ST_CollectionExtract(ST_Difference(t.taken, f.g), 3)) AS uncovered_m2,
           CASE WHEN h.status = 'active'
                THEN lr_area_m2(ST_CollectionExtract(ST_Intersection(h.geom, f.g), 3))
                ELSE 0 END AS still_held_m2
    FROM f
    JOIN activities a ON a.reference = f.ref
    LEFT JOIN hazards h ON h.national_id = f.nid
    CROSS JOIN LATERAL (
        SELECT count(*) AS pieces, ST_Union(e.piece) AS taken
        FROM ledger_events e
        WHERE e.activity_id = a.id AND e.hazard_id = h.id AND e.sign = -1
    ) t
    """
)


def _differences(
    connection: Connection,
    checked: Checked,
    again: list[Staged],
    stored: dict[str, Row[Any]],
) -> dict[int, list[str]]:
    """How each result met again differs from what its activity did, by feature index.

    Items are compared only where the file states some: a file without item columns says
    nothing about them, which is not a claim that none were found.
    """
    found: dict[int, list[str]] = {}
    members: dict[str, list[Staged]] = {}
    for staged in checked.staged.values():
        if staged.activity_reference in stored and staged.action in RELEASE_KIND:
            members.setdefault(staged.activity_reference, []).append(staged)
    for staged in again:
        reference = staged.activity_reference or ""
        row = stored[reference]
        notes = found.setdefault(staged.index, [])
        kind = ACTIVITY_KIND[staged.action].value
        if row.kind != kind:
            notes.append(f"it was {row.kind}, this file gives {kind}")
        now = {
            item.value: counts
            for item, counts in activity_items(members.get(reference, [])).items()
        }
        before = {
            item: (int(found_count), int(destroyed))
            for item, found_count, destroyed in (entry.split(":") for entry in row.items)
        }
        if now and before != now:
            notes.append(f"items were {_items_text(before)}, this file gives {_items_text(now)}")
    releases = [s for s in again if s.action in RELEASE_KIND and s.clean is not None]
    if releases:
        rows = connection.execute(
            _AGAIN,
            {
                "ord": [s.index for s in releases],
                "ref": [s.activity_reference for s in releases],
                "nid": [s.hazard_id for s in releases],
                "wkb": _wkbs(releases),
            },
        ).all()
        for row in rows:
            notes = []
            if not row.pieces:
                notes.append("it took no land out of this hazard")
            else:
                if row.uncovered_m2 >= MIN_AREA_M2:
                    notes.append(
                        f"{format_area(row.uncovered_m2)} it released lie outside this file's "
                        "polygons"
                    )
                if row.still_held_m2 >= MIN_AREA_M2:
                    notes.append(
                        f"this file's polygons take in {format_area(row.still_held_m2)} that "
                        "the hazard still holds"
                    )
            for index in row.ords:
                found[index].extend(notes)
    return {index: notes for index, notes in found.items() if notes}


def _items_text(items: dict[str, tuple[int, int]]) -> str:
    """Item counts as ``SUBMUNITION 14 found / 12 destroyed``, or ``none``."""
    if not items:
        return "none"
    return ", ".join(
        f"{kind} {found} found / {destroyed} destroyed"
        for kind, (found, destroyed) in sorted(items.items())
    )


# New hazards whose box meets the box of a hazard already recorded: the only ones that can
# repeat a recorded polygon. Boxes travel instead of polygons, so a file of a hundred thousand
# new hazards in an empty area costs one index scan, not a hundred thousand polygon transfers.
_NEAR_RECORDED = text(
    """
    SELECT DISTINCT f.ord
    FROM unnest(CAST(:ord AS int[]), CAST(:x0 AS float8[]), CAST(:y0 AS float8[]),
                CAST(:x1 AS float8[]), CAST(:y1 AS float8[])) AS f(ord, x0, y0, x1, y1)
    JOIN ledger_events e
      ON e.kind = 'recorded' AND e.piece && ST_MakeEnvelope(f.x0, f.y0, f.x1, f.y1, 4326)
    """
)


# Whether any hazard is recorded within a box: when none is within the box of the whole file,
# no box of its features meets one either, and the boxes need not travel at all.
_ANY_RECORDED_IN = text(
    """
    SELECT EXISTS (SELECT 1 FROM ledger_events
                   WHERE kind = 'recorded' AND piece && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326))
    """
)


def _polygons_to_compare(connection: Connection, checked: Checked, known: set[str]) -> list[Staged]:
    """Features whose polygon must be compared with the database: results, hazards whose ID
    is known, and new hazards lying where a hazard has been recorded."""
    with_polygon = [s for s in checked.staged.values() if s.clean is not None]
    new = [s for s in with_polygon if s.action == Action.RECORD and s.hazard_id not in known]
    if not new:
        return with_polygon
    boxes = shapely.bounds([s.clean.geom for s in new])  # type: ignore[union-attr]
    near = _near_recorded(connection, [s.index for s in new], boxes)
    far = {s.index for s in new} - near
    return [s for s in with_polygon if s.index not in far]


def _near_recorded(connection: Connection, indices: list[int], boxes: np.ndarray) -> set[int]:
    """Which of the features (``indices``, with their ``boxes``) meet a recorded hazard's box."""
    extent = [boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max()]
    whole = dict(zip(("x0", "y0", "x1", "y1"), map(float, extent), strict=True))
    if not connection.execute(_ANY_RECORDED_IN, whole).scalar():
        return set()
    return set(
        connection.execute(
            _NEAR_RECORDED,
            {
                "ord": number_array(indices),
                "x0": number_array(boxes[:, 0].tolist()),
                "y0": number_array(boxes[:, 1].tolist()),
                "x1": number_array(boxes[:, 2].tolist()),
                "y1": number_array(boxes[:, 3].tolist()),
            },
        ).scalars()
    )


def _wkbs(staged: list[Staged]) -> list[bytes]:
    """The WKB of each feature's clean polygon, encoded in one call."""
    geoms = np.array([s.clean.geom for s in staged], dtype=object)  # type: ignore[union-attr]
    return shapely.to_wkb(geoms).tolist()


# For each new polygon, the open hazard it shares most land with (what remains of it).
_OVERLAPPING_HAZARD = text(
    """
    WITH f AS MATERIALIZED (
        SELECT f.ord, ST_GeomFromWKB(f.wkb, 4326) AS g
        FROM unnest(CAST(:ord AS int[]), CAST(:wkb AS bytea[])) AS f(ord, wkb)
    )
    SELECT f.ord, o.national_id, o.shared_m2, o.area_m2
    FROM f CROSS JOIN LATERAL (
        SELECT h.national_id, h.area_m2,
               lr_area_m2(ST_CollectionExtract(ST_Intersection(h.geom, f.g), 3)) AS shared_m2
        FROM hazards h
        WHERE h.status = 'active' AND h.geom && f.g AND ST_Relate(h.geom, f.g, 'T********')
        ORDER BY shared_m2 DESC, h.national_id
        LIMIT 1
    ) o
    ORDER BY f.ord
    """
)


def _check_overlaps_with_database(
    connection: Connection, checked: Checked, new: list[Staged]
) -> None:
    """New hazards that overlap an open hazard of the database (see :func:`note_overlap`)."""
    new = [s for s in new if s.index in checked.staged]
    if not new:
        return
    rows = connection.execute(
        _OVERLAPPING_HAZARD,
        {
            "ord": [s.index for s in new],
            "wkb": _wkbs(new),
        },
    ).all()
    by_index = {s.index: s for s in new}
    for row in rows:
        note_overlap(
            checked,
            by_index[row.ord],
            f"hazard {row.national_id}",
            row.shared_m2,
            row.area_m2,
            "_db",
        )


def _check_polygons(connection: Connection, checked: Checked, known: set[str]) -> None:
    with_polygon = _polygons_to_compare(connection, checked, known)
    if not with_polygon:
        return
    rows = connection.execute(
        _POLYGONS,
        {
            "ord": [s.index for s in with_polygon],
            "nid": [s.hazard_id for s in with_polygon],
            "rec": [s.action == Action.RECORD for s in with_polygon],
            "wkb": _wkbs(with_polygon),
        },
    ).all()
    by_index = {s.index: s for s in with_polygon}
    for row in rows:
        staged = by_index[row.ord]
        if staged.action == Action.RECORD:
            if staged.hazard_id in known:
                if row.same_as_recorded:
                    checked.note(
                        staged.index,
                        staged.hazard_id,
                        "already_recorded",
                        f"{staged.label}: hazard {staged.hazard_id} is already recorded with this "
                        "polygon; skipped",
                        SKIPPED,
                    )
                else:
                    checked.note(
                        staged.index,
                        staged.hazard_id,
                        "duplicate_id_db",
                        f"{staged.label}: hazard {staged.hazard_id} is already in the database "
                        "with a different polygon; to change it, use a correction",
                        REFUSED,
                    )
            elif row.same_polygon_as:
                checked.note(
                    staged.index,
                    staged.hazard_id,
                    "duplicate_geometry_db",
                    f"{staged.label}: the same polygon is already recorded as hazard "
                    f"{row.same_polygon_as}",
                    REFUSED,
                )
        elif staged.hazard_id in known and not row.overlaps and staged.index in checked.staged:
            checked.note(
                staged.index,
                staged.hazard_id,
                "no_overlap",
                f"{staged.label}: the polygon does not overlap what remains of hazard "
                f"{staged.hazard_id}",
                REFUSED,
            )
    _check_overlaps_with_database(
        connection,
        checked,
        [s for s in with_polygon if s.action == Action.RECORD and s.hazard_id not in known],
    )


def _check_regions(connection: Connection, checked: Checked) -> None:
    """Features outside the loaded boundaries, and coordinates that are swapped."""
    units = [shapely.from_wkb(bytes(w)) for w in connection.execute(_TERRITORY).scalars()]
    if not units:
        checked.note(
            None,
            None,
            "no_regions",
            "no region boundaries are loaded: features were not checked against the country",
            WARNING,
        )
        return
    shapely.prepare(units)
    staged = [s for s in checked.staged.values() if s.clean is not None]
    geoms = np.array([s.clean.geom for s in staged], dtype=object)  # type: ignore[union-attr]
    inside = _covered(units, geoms)
    touching = _in_any(units, geoms, shapely.intersects, skip=inside)
    policy = REFUSED if checked.profile.limits.partly_outside == "refuse" else WARNING
    uncovered = [(s, bool(t)) for s, t, c in zip(staged, touching, inside, strict=True) if not c]
    partly = [s for s, touches in uncovered if touches]
    beyond = [polygons_only(_beyond(s.clean.geom, units)) for s in partly]  # type: ignore[union-attr]
    outside_m2 = dict(
        zip([s.index for s in partly], geodesic_areas_m2(beyond).tolist(), strict=True)
    )
    for item, touches in uncovered:
        label = label_of(item.index, item.hazard_id)
        clean = item.clean
        if clean is None:  # only features with a polygon are in the list
            continue
        if not touches:
            _outside(checked, item, label, units)
            continue
        outside = outside_m2[item.index]
        if outside >= MIN_AREA_M2:
            checked.note(
                item.index,
                item.hazard_id,
                "partly_outside",
                f"{label}: {outside:,.1f} m² ({outside / clean.area_m2:.1%}) lies outside the "
                "loaded region boundaries",
                policy,
            )


def _in_any(
    units: list[BaseGeometry],
    geoms: np.ndarray,
    predicate: Callable[[BaseGeometry, np.ndarray], np.ndarray],
    *,
    skip: np.ndarray | None = None,
) -> np.ndarray:
    """Which ``geoms`` satisfy ``predicate(unit, geom)`` for some unit (True where ``skip``).

    A geometry is tested against the next unit only while no unit has answered yes, and not at
    all where ``skip`` already decides: testing a hundred thousand polygons against every
    boundary cost a second.
    """
    found = np.zeros(len(geoms), dtype=bool) if skip is None else skip.copy()
    for unit in units:
        rest = ~found
        found[rest] = predicate(unit, geoms[rest])
    return found


def _covered(units: list[BaseGeometry], geoms: np.ndarray) -> np.ndarray:
    """Which ``geoms`` some unit covers.

    A unit that covers a polygon's box covers the polygon, and a box has four corners where a
    densified polygon has dozens of vertices: most polygons are settled by their box, and only
    the others are tested themselves.
    """
    inside = _in_any(units, shapely.box(*shapely.bounds(geoms).T), shapely.covers)
    rest = ~inside
    inside[rest] = _in_any(units, geoms[rest], shapely.covers)
    return inside


def _beyond(geom: BaseGeometry, units: list[BaseGeometry]) -> BaseGeometry:
    """The part of ``geom`` outside every unit.

    Units are cut to the feature's box first: a boundary has tens of thousands of vertices
    and a difference with all of them costs a tenth of a second per feature.
    """
    xmin, ymin, xmax, ymax = geom.bounds
    rest = geom
    for unit in units:
        if not shapely.intersects(unit, rest):
            continue
        near = shapely.clip_by_rect(unit, xmin - 1e-6, ymin - 1e-6, xmax + 1e-6, ymax + 1e-6)
        try:
            rest = shapely.difference(rest, near)
        except shapely.errors.GEOSException:  # a clipped unit can come out invalid
            rest = shapely.difference(rest, unit)
    return rest


def _outside(checked: Checked, item: Staged, label: str, units: list[BaseGeometry]) -> None:
    """A feature wholly outside: say whether swapping longitude and latitude brings it in."""
    geom = item.clean.geom  # type: ignore[union-attr]
    swapped = shapely.transform(geom, lambda xy: xy[:, ::-1])
    x, y = shapely.get_coordinates(geom)[0]
    if any(shapely.intersects(unit, swapped) for unit in units):
        checked.note(
            item.index,
            item.hazard_id,
            "coordinates_swapped",
            f"{label}: lies outside the loaded regions, at ({x:.5f}, {y:.5f}); with longitude "
            "and latitude swapped it falls inside: the columns or axis order are swapped",
            REFUSED,
        )
    else:
        checked.note(
            item.index,
            item.hazard_id,
            "outside_regions",
            f"{label}: lies wholly outside the loaded region boundaries, at ({x:.5f}, {y:.5f})",
            REFUSED,
        )
