"""The transitions of land release: record, confirm, cancel, reduce, clear, reopen, correct.

Every transition runs in PostGIS inside one transaction (a savepoint of the caller's), with the
hazard rows locked (``SELECT ... FOR UPDATE``) so two officers working on the same hazard queue
instead of releasing the same ground twice. A released piece is ``ST_Intersection`` of the
request polygon with what remains, the hazard keeps the ``ST_Difference``, and both areas are
measured geodesically as they are written: released area is derived from polygons, never typed.

Releases are applied set-based (many hazards per SQL statement), so a file of ten thousand
results costs a few statements, not ten thousand round trips; one release is a batch of one.

Usage::

    with transaction(engine) as ledger:
        ledger.record("BA-0001", HazardClass.SHA, polygon, crs=4326, recorded_date=d)
        ledger.cancel("BA-0001", part, crs=4326, effective_date=d2)
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, Engine, text

from landrelease.db.staging import stage_rows
from landrelease.errors import (
    DateError,
    DuplicateHazard,
    GeometryError,
    HazardClosed,
    HazardNotFound,
    LandReleaseError,
    NoOverlap,
    TransitionRefused,
)
from landrelease.geometry import (
    MIN_AREA_M2,
    CleanPolygon,
    CRSLike,
    prepare_polygon,
    prepare_polygons,
)
from landrelease.vocabulary import (
    ActivityKind,
    Contamination,
    EventKind,
    HazardClass,
    HazardStatus,
    ItemType,
)

#: A hazard whose remainder falls below this many m² closes as released (no slivers left).
#: The as-of replay in SQL (``lr_hazard_geom_as_of``, migration 0005) applies the same 1 m².
SLIVER_M2 = MIN_AREA_M2

#: The activity kind that may release land by each method.
METHOD_ACTIVITY = {
    EventKind.CANCELLED: ActivityKind.NTS,
    EventKind.REDUCED: ActivityKind.TS,
    EventKind.CLEARED: ActivityKind.CLEARANCE,
}


@dataclass(frozen=True)
class HazardInput:
    """A new hazard to record."""

    national_id: str
    hazard_class: HazardClass
    geometry: BaseGeometry | CleanPolygon  # a CleanPolygon skips re-checking
    crs: CRSLike | None
    recorded_date: dt.date
    contamination: Contamination = Contamination.ERW
    organisation: str | None = None
    name: str | None = None
    activity_id: int | None = None


@dataclass(frozen=True)
class ActivityInput:
    """A field activity to record (see :meth:`Ledger.add_activity`)."""

    kind: ActivityKind
    reference: str | None = None
    organisation: str | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    items: Mapping[ItemType, int | tuple[int, int]] | None = None
    note: str | None = None


@dataclass(frozen=True)
class ReleaseRequest:
    """Land found free of contamination by one method, to take out of one hazard."""

    national_id: str
    method: EventKind
    geometry: BaseGeometry | CleanPolygon
    crs: CRSLike | None
    effective_date: dt.date
    activity_id: int | None = None
    note: str | None = None


@dataclass(frozen=True)
class Recorded:
    """What recording a hazard stored."""

    national_id: str
    hazard_id: int
    area_m2: float
    repairs: tuple[str, ...]


@dataclass(frozen=True)
class Released:
    """What one release took out of its hazard."""

    national_id: str
    method: EventKind
    event_id: int
    area_m2: float
    remaining_m2: float
    closed: bool


@dataclass(frozen=True)
class Confirmed:
    """What a confirmation moved from SHA to CHA."""

    national_id: str
    cha_national_id: str
    area_m2: float
    remaining_sha_m2: float


@dataclass(frozen=True)
class _Locked:
    id: int
    national_id: str
    hazard_class: str
    status: str
    contamination: str
    organisation_id: int | None
    floor_date: dt.date  # no event may be dated before this (see _lock)


def _wkb(clean: CleanPolygon) -> bytes:
    return shapely.to_wkb(clean.geom, include_srid=False)


_INSERT_ACTIVITIES = text(
    """
    INSERT INTO activities (id, kind, reference, organisation_id, start_date, end_date, note)
    SELECT * FROM unnest(CAST(:id AS bigint[]), CAST(:kind AS text[]), CAST(:ref AS text[]),
                         CAST(:org AS bigint[]), CAST(:start AS date[]), CAST(:end AS date[]),
                         CAST(:note AS text[]))
    """
)
_INSERT_ITEMS = text(
    """
    INSERT INTO activity_items (activity_id, item_type, found, destroyed)
    SELECT * FROM unnest(CAST(:a AS bigint[]), CAST(:t AS text[]), CAST(:f AS int[]),
                         CAST(:d AS int[]))
    """
)

_NEW_HAZARD_COLUMNS = (
    ("national_id", "text"),
    ("name", "text"),
    ("hazard_class", "text"),
    ("contamination", "text"),
    ("wkb", "bytea"),
    ("area_m2", "float8"),
    ("recorded_date", "date"),
    ("organisation_id", "int8"),
    ("activity_id", "int8"),
)

# New hazards and their ``recorded`` events from the staged rows. The area is the one
# prepare_polygons measured (GeographicLib, as PostGIS's geography area: they agree to 1e-4 m²
# on 50 ha), so a recorded polygon is measured once, not again in SQL.
_RECORD_STAGED = text(
    """
    WITH inserted AS (
        INSERT INTO hazards (national_id, name, hazard_class, contamination, status, geom,
                             area_m2, recorded_date, organisation_id)
        SELECT national_id, name, hazard_class, contamination, 'active',
               ST_GeomFromWKB(wkb, 4326), area_m2, recorded_date, organisation_id
        FROM lr_new_hazards
        RETURNING id, national_id, hazard_class, geom, area_m2, recorded_date
    ),
    events AS (
        INSERT INTO ledger_events (hazard_id, activity_id, kind, sign, hazard_class, piece,
                                   area_m2, effective_date)
        SELECT i.id, s.activity_id, 'recorded', 1, i.hazard_class, i.geom, i.area_m2,
               i.recorded_date
        FROM inserted i JOIN lr_new_hazards s USING (national_id)
    )
    SELECT id, national_id FROM inserted
    """
)


def _one_line(items: Sequence[str], limit: int = 10) -> str:
    shown = "; ".join(items[:limit])
    return shown + (f"; and {len(items) - limit} more" if len(items) > limit else "")


# Clip each request polygon against what remains of its hazard (one request per hazard).
# Shared by releases and confirmations so both take out exactly the same piece.
_CUT = """
req AS (
    SELECT r.ord, r.hazard_id, ST_GeomFromWKB(r.wkb, 4326) AS g
    FROM unnest(CAST(:ord AS int[]), CAST(:hazard_id AS bigint[]), CAST(:wkb AS bytea[]))
        AS r(ord, hazard_id, wkb)
),
cut AS MATERIALIZED (
    SELECT r.ord, h.id AS hazard_id, h.hazard_class, h.geom AS old_geom, h.area_m2 AS old_area,
           ST_Multi(ST_CollectionExtract(ST_Intersection(h.geom, r.g), 3)) AS piece,
           ST_Multi(ST_CollectionExtract(ST_Difference(h.geom, r.g), 3)) AS rest
    FROM req r JOIN hazards h ON h.id = r.hazard_id
),
trimmed AS MATERIALIZED (
    -- Parts of what remains below the sliver tolerance go with the piece. A request whose edge
    -- runs along the hazard's on other vertices leaves threads a few micrometres wide (each
    -- geodesic edge bows between its own vertices), which are no land but would keep the
    -- hazard alive in as many parts. A request that takes nothing takes no thread either: it
    -- misses the hazard, and is refused as such.
    SELECT c.ord, c.hazard_id, c.hazard_class, c.old_geom, c.old_area,
           CASE WHEN t.threads IS NOT TRUE OR ST_IsEmpty(c.piece) THEN c.piece
                WHEN t.kept IS NULL THEN c.old_geom
                ELSE ST_Multi(ST_CollectionExtract(ST_Difference(c.old_geom, t.kept), 3))
           END AS piece,
           CASE WHEN t.threads IS NOT TRUE OR ST_IsEmpty(c.piece) THEN c.rest ELSE t.kept END
               AS rest
    FROM cut c
    LEFT JOIN LATERAL (
        SELECT bool_or(lr_area_m2(d.geom) < :sliver) AS threads,
               ST_Multi(ST_Collect(d.geom) FILTER (WHERE lr_area_m2(d.geom) >= :sliver)) AS kept
        FROM ST_Dump(c.rest) d
        WHERE ST_NumGeometries(c.rest) > 1
    ) t ON true
),
measured AS MATERIALIZED (
    -- The piece and what remains tile the hazard along the same (densified) edges, so the
    -- remainder's area is the hazard's less the piece's: measured once, conserved exactly.
    SELECT c.*, a.piece_area, c.old_area - a.piece_area AS rest_area
    FROM trimmed c CROSS JOIN LATERAL (SELECT lr_area_m2(c.piece) AS piece_area) a
),
settled AS MATERIALIZED (
    -- A remainder below the sliver tolerance goes with the piece: the hazard closes.
    SELECT ord, hazard_id, hazard_class,
           rest_area < :sliver AS closes,
           CASE WHEN rest_area < :sliver THEN old_geom ELSE piece END AS piece,
           CASE WHEN rest_area < :sliver THEN old_area ELSE piece_area END AS piece_area,
           CASE WHEN rest_area < :sliver THEN NULL ELSE rest END AS rest,
           CASE WHEN rest_area < :sliver THEN 0 ELSE rest_area END AS rest_area
    FROM measured WHERE piece_area > 0
)
"""

# Only constant SQL fragments are joined here; every value is a bound parameter.
_RELEASE_SQL = text(
    "WITH "  # noqa: S608
    + _CUT
    + """,
meta AS (
    SELECT * FROM unnest(CAST(:ord AS int[]), CAST(:kind AS text[]), CAST(:eff AS date[]),
                         CAST(:activity AS bigint[]), CAST(:note AS text[]))
        AS m(ord, kind, eff, activity_id, note)
),
events AS (
    INSERT INTO ledger_events (hazard_id, activity_id, kind, sign, hazard_class, piece, area_m2,
                               effective_date, note)
    SELECT s.hazard_id, m.activity_id, m.kind, -1, s.hazard_class, s.piece, s.piece_area,
           m.eff, m.note
    FROM settled s JOIN meta m USING (ord)
    RETURNING id, hazard_id
),
updated AS (
    UPDATE hazards h
    SET geom = s.rest, area_m2 = s.rest_area,
        status = CASE WHEN s.closes THEN 'released' ELSE 'active' END,
        version = h.version + 1, updated_at = now()
    FROM settled s WHERE h.id = s.hazard_id
    RETURNING h.id
)
SELECT m.ord, s.piece_area, s.rest_area, s.closes, e.id AS event_id
FROM measured m
LEFT JOIN settled s USING (ord)
LEFT JOIN events e ON e.hazard_id = s.hazard_id
"""
)

_CUT_SQL = text(
    "WITH "
    + _CUT
    + """
SELECT m.ord, s.closes, ST_AsBinary(s.piece) AS piece, s.piece_area,
       ST_AsBinary(s.rest) AS rest, s.rest_area
FROM measured m LEFT JOIN settled s USING (ord)
"""
)

_INSERT_EVENT = text(
    """
    INSERT INTO ledger_events (hazard_id, activity_id, kind, sign, hazard_class, piece, area_m2,
                               effective_date, related_hazard_id, note)
    VALUES (:hazard_id, :activity_id, :kind, :sign, :hazard_class,
            ST_GeomFromWKB(:piece, 4326), :area, :eff, :related, :note)
    RETURNING id
    """
)


class Ledger:
    """Transitions on one open transaction; obtain one with :func:`transaction`.

    Each method runs in a savepoint: if it raises, nothing it did remains, and the caller's
    transaction can go on (an importer reports the problem and rolls back the whole file).
    """

    def __init__(self, connection: Connection, *, today: dt.date | None = None) -> None:
        self.connection = connection
        self.today = today or dt.date.today()

    # -- shared checks -------------------------------------------------------------------

    def _tune_for_batch(self) -> None:
        """Settings for the set-based statements, for this transaction only.

        The planner overestimates unnest() joins by four orders of magnitude, so PostgreSQL
        would JIT-compile every batch statement (about 1 s on 10,000 releases, more than the
        geometry work saved); the clipped pieces also outgrow the default 4 MB work_mem.
        """
        self.connection.execute(text("SET LOCAL jit = off"))
        self.connection.execute(text("SET LOCAL work_mem = '64MB'"))

    def _check_not_future(self, when: dt.date, label: str) -> None:
        if when > self.today:
            raise DateError(f"{label}: date {when} is in the future (today is {self.today})")

    def _lock_one(self, national_id: str) -> _Locked:
        """Lock one hazard, or say it does not exist."""
        locked = self._lock([national_id])
        if national_id not in locked:
            raise HazardNotFound(f"no hazard with national ID {national_id}")
        return locked[national_id]

    def _lock(self, national_ids: Sequence[str]) -> dict[str, _Locked]:
        """Lock the named hazards that exist (in id order, so concurrent batches cannot deadlock).

        The floor date of a hazard is the latest effective date of an event that added land
        to it or changed its class: a release dated earlier would take out land the hazard
        did not yet hold (releases among themselves commute, so back-dating them is fine).
        """
        wanted = sorted(set(national_ids))
        rows = self.connection.execute(
            text(
                """
                SELECT h.id, h.national_id, h.hazard_class, h.status, h.contamination,
                       h.organisation_id
                FROM hazards h WHERE h.national_id = ANY(:ids) ORDER BY h.id FOR UPDATE
                """
            ),
            {"ids": wanted},
        ).all()
        floors = dict(
            self.connection.execute(
                text(
                    """
                    SELECT hazard_id, max(effective_date) FROM ledger_events
                    WHERE hazard_id = ANY(:ids) AND (sign = 1 OR kind = 'confirmed')
                    GROUP BY hazard_id
                    """
                ),
                {"ids": [row.id for row in rows]},
            ).all()
        )
        return {
            row.national_id: _Locked(
                id=row.id,
                national_id=row.national_id,
                hazard_class=row.hazard_class,
                status=row.status,
                contamination=row.contamination,
                organisation_id=row.organisation_id,
                floor_date=floors.get(row.id, dt.date.min),
            )
            for row in rows
        }

    def _check_after_floor(self, hazard: _Locked, when: dt.date, label: str) -> None:
        if when < hazard.floor_date:
            raise DateError(
                f"{label}: date {when} is before {hazard.floor_date}, when land was last added "
                f"to hazard {hazard.national_id} or its class changed; dates out of order"
            )

    def _require_active(self, hazard: _Locked, label: str) -> None:
        if hazard.status != HazardStatus.ACTIVE.value:
            raise HazardClosed(
                f"{label}: hazard {hazard.national_id} is closed: all its land has been released"
            )

    def organisation_id(self, name: str | None) -> int | None:
        """The id of the organisation with this name, created if new."""
        if not name:
            return None
        return self.connection.execute(
            text(
                """
                INSERT INTO organisations (name) VALUES (:name)
                ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id
                """
            ),
            {"name": name.strip()},
        ).scalar_one()

    # -- activities ----------------------------------------------------------------------

    def add_activity(
        self,
        kind: ActivityKind,
        *,
        reference: str | None = None,
        organisation: str | None = None,
        start_date: dt.date | None = None,
        end_date: dt.date | None = None,
        items: Mapping[ItemType, int | tuple[int, int]] | None = None,
        note: str | None = None,
    ) -> int:
        """Record a field activity; ``items`` maps type to destroyed, or (found, destroyed)."""
        activity = ActivityInput(kind, reference, organisation, start_date, end_date, items, note)
        return self.add_activities([activity])[0]

    def check_activity(self, activity: ActivityInput) -> dict[str, tuple[int, int]]:
        """Refuse an activity whose dates are out of order or in the future, or whose item
        counts are negative; its counts by item type, as (found, destroyed)."""
        label = f"activity {activity.reference or ''}".strip()
        start, end = activity.start_date, activity.end_date
        if start and end and end < start:
            raise DateError(f"{label}: ends {end} before it starts {start}; dates out of order")
        for when in (start, end):
            if when:
                self._check_not_future(when, label)
        counts: dict[str, tuple[int, int]] = {}
        for item_type, count in (activity.items or {}).items():
            found, destroyed = count if isinstance(count, tuple) else (count, count)
            if found < 0 or destroyed < 0:
                raise LandReleaseError(f"items {item_type}: counts cannot be negative")
            counts[ItemType(item_type).value] = (found, destroyed)
        return counts

    def add_activities(self, activities: Sequence[ActivityInput]) -> list[int]:
        """Record field activities, all or none, in one statement however many: an import of
        a year's results creates thousands. Returns their ids in the order given."""
        problems: list[LandReleaseError] = []
        counts: list[dict[str, tuple[int, int]]] = []
        for activity in activities:
            try:
                counts.append(self.check_activity(activity))
            except LandReleaseError as exc:
                problems.append(exc)
        if problems:
            raise _combined(problems)
        if not activities:
            return []
        with self.connection.begin_nested():
            org_ids = {
                name: self.organisation_id(name)
                for name in {a.organisation for a in activities if a.organisation}
            }
            ids = list(
                self.connection.execute(
                    text(
                        "SELECT nextval(pg_get_serial_sequence('activities', 'id'))"
                        " FROM generate_series(1, :n)"
                    ),
                    {"n": len(activities)},
                ).scalars()
            )
            self.connection.execute(
                _INSERT_ACTIVITIES,
                {
                    "id": ids,
                    "kind": [ActivityKind(a.kind).value for a in activities],
                    "ref": [a.reference for a in activities],
                    "org": [
                        org_ids.get(a.organisation) if a.organisation else None for a in activities
                    ],
                    "start": [a.start_date for a in activities],
                    "end": [a.end_date for a in activities],
                    "note": [a.note for a in activities],
                },
            )
            items = [
                (activity_id, item_type, found, destroyed)
                for activity_id, by_type in zip(ids, counts, strict=True)
                for item_type, (found, destroyed) in by_type.items()
            ]
            if items:
                self.connection.execute(
                    _INSERT_ITEMS,
                    {
                        name: [row[k] for row in items]
                        for k, name in enumerate(("a", "t", "f", "d"))
                    },
                )
        return ids

    def find_activity(self, reference: str) -> int | None:
        """The id of the activity with this report or task reference, if recorded."""
        return self.connection.execute(
            text("SELECT id FROM activities WHERE reference = :r"), {"r": reference}
        ).scalar()

    def _activity_kinds(self, activity_ids: set[int]) -> dict[int, str]:
        kinds = dict(
            self.connection.execute(
                text("SELECT id, kind FROM activities WHERE id = ANY(:ids)"),
                {"ids": sorted(activity_ids)},
            ).all()
        )
        missing = sorted(activity_ids - set(kinds))
        if missing:
            raise LandReleaseError(f"no activity with id {_one_line([str(m) for m in missing])}")
        return kinds

    # -- record --------------------------------------------------------------------------

    def record(
        self,
        national_id: str,
        hazard_class: HazardClass,
        geometry: BaseGeometry,
        *,
        crs: CRSLike | None,
        recorded_date: dt.date,
        contamination: Contamination = Contamination.ERW,
        organisation: str | None = None,
        name: str | None = None,
        activity_id: int | None = None,
    ) -> Recorded:
        """Record one new hazard (see :meth:`record_many`)."""
        return self.record_many(
            [
                HazardInput(
                    national_id=national_id,
                    hazard_class=hazard_class,
                    geometry=geometry,
                    crs=crs,
                    recorded_date=recorded_date,
                    contamination=contamination,
                    organisation=organisation,
                    name=name,
                    activity_id=activity_id,
                )
            ]
        )[0]

    def record_many(self, hazards: Sequence[HazardInput]) -> list[Recorded]:
        """Record new hazards, all or none: each gets a ``recorded`` event with its polygon."""
        problems: list[LandReleaseError] = []
        cleaned: list[CleanPolygon] = []
        seen: set[str] = set()
        polygons = _prepare_all(
            [(h.geometry, h.crs, f"hazard {i} ({h.national_id})") for i, h in enumerate(hazards, 1)]
        )
        for index, (item, polygon) in enumerate(zip(hazards, polygons, strict=True), start=1):
            label = f"hazard {index} ({item.national_id})"
            try:
                if not item.national_id or not item.national_id.strip():
                    raise LandReleaseError(f"hazard {index}: no national ID")
                if item.national_id in seen:
                    raise DuplicateHazard(f"{label}: national ID given twice")
                seen.add(item.national_id)
                HazardClass(item.hazard_class)
                Contamination(item.contamination)
                self._check_not_future(item.recorded_date, label)
                if isinstance(polygon, LandReleaseError):
                    raise polygon
                cleaned.append(polygon)
            except ValueError as exc:
                problems.append(LandReleaseError(f"{label}: {exc}"))
            except LandReleaseError as exc:
                problems.append(exc)
        if problems:
            raise _combined(problems)
        existing = (
            self.connection.execute(
                text("SELECT national_id FROM hazards WHERE national_id = ANY(:ids)"),
                {"ids": sorted(seen)},
            )
            .scalars()
            .all()
        )
        if existing:
            raise DuplicateHazard(f"hazard already recorded: {_one_line(sorted(existing))}")
        with self.connection.begin_nested():
            self._tune_for_batch()
            org_ids = {
                name: self.organisation_id(name)
                for name in {h.organisation for h in hazards if h.organisation}
            }
            stage_rows(
                self.connection,
                "lr_new_hazards",
                _NEW_HAZARD_COLUMNS,
                zip(
                    [h.national_id for h in hazards],
                    [h.name for h in hazards],
                    [HazardClass(h.hazard_class).value for h in hazards],
                    [Contamination(h.contamination).value for h in hazards],
                    shapely.to_wkb([c.geom for c in cleaned]).tolist(),
                    [c.area_m2 for c in cleaned],
                    [h.recorded_date for h in hazards],
                    [org_ids.get(h.organisation) if h.organisation else None for h in hazards],
                    [h.activity_id for h in hazards],
                    strict=True,
                ),
            )
            rows = self.connection.execute(_RECORD_STAGED).all()
        by_id = {row.national_id: row for row in rows}
        return [
            Recorded(
                national_id=h.national_id,
                hazard_id=by_id[h.national_id].id,
                area_m2=c.area_m2,
                repairs=c.repairs,
            )
            for h, c in zip(hazards, cleaned, strict=True)
        ]

    # -- release -------------------------------------------------------------------------

    def cancel(self, national_id: str, geometry: BaseGeometry, **kwargs: object) -> Released:
        """Cancel land through non-technical survey (no evidence of contamination found)."""
        return self._release_one(national_id, EventKind.CANCELLED, geometry, **kwargs)

    def reduce(self, national_id: str, geometry: BaseGeometry, **kwargs: object) -> Released:
        """Reduce land through technical survey (found free by technical means)."""
        return self._release_one(national_id, EventKind.REDUCED, geometry, **kwargs)

    def clear(self, national_id: str, geometry: BaseGeometry, **kwargs: object) -> Released:
        """Clear land (all ordnance removed); items destroyed belong to the activity."""
        return self._release_one(national_id, EventKind.CLEARED, geometry, **kwargs)

    def _release_one(
        self,
        national_id: str,
        method: EventKind,
        geometry: BaseGeometry,
        *,
        crs: CRSLike | None,
        effective_date: dt.date,
        activity_id: int | None = None,
        note: str | None = None,
    ) -> Released:
        request = ReleaseRequest(
            national_id, method, geometry, crs, effective_date, activity_id, note
        )
        return self.release_many([request])[0]

    def release_many(self, requests: Sequence[ReleaseRequest]) -> list[Released]:
        """Apply releases, all or none, in the order given (several may share a hazard).

        Raises one :class:`LandReleaseError` naming every request that cannot be applied.
        """
        problems: list[LandReleaseError] = []
        cleaned: list[CleanPolygon | None] = []
        polygons = _prepare_all(
            [
                (r.geometry, r.crs, f"release {i} ({r.national_id})")
                for i, r in enumerate(requests, 1)
            ]
        )
        for index, (req, polygon) in enumerate(zip(requests, polygons, strict=True), start=1):
            label = f"release {index} ({req.national_id})"
            try:
                if req.method not in METHOD_ACTIVITY:
                    raise TransitionRefused(f"{label}: {req.method} is not a release method")
                self._check_not_future(req.effective_date, label)
                if isinstance(polygon, LandReleaseError):
                    raise polygon
                cleaned.append(polygon)
            except LandReleaseError as exc:
                problems.append(exc)
                cleaned.append(None)
        if problems:
            raise _combined(problems)
        activity_kinds = self._activity_kinds({r.activity_id for r in requests if r.activity_id})
        with self.connection.begin_nested():
            self._tune_for_batch()
            locked = self._lock([r.national_id for r in requests])
            for index, req in enumerate(requests, start=1):
                label = f"release {index} ({req.national_id})"
                try:
                    hazard = locked.get(req.national_id)
                    if hazard is None:
                        raise HazardNotFound(
                            f"{label}: no hazard with national ID {req.national_id}"
                        )
                    self._require_active(hazard, label)
                    self._check_after_floor(hazard, req.effective_date, label)
                    expected = METHOD_ACTIVITY[req.method].value
                    if req.activity_id and activity_kinds[req.activity_id] != expected:
                        raise TransitionRefused(
                            f"{label}: land is {req.method.value} by a {expected} activity, "
                            f"not {activity_kinds[req.activity_id]}"
                        )
                except LandReleaseError as exc:
                    problems.append(exc)
            if problems:
                raise _combined(problems)
            results: dict[int, Released] = {}
            for batch in _rounds(requests, locked):
                for i in batch:
                    # A hazard closed by an earlier request of this batch refuses later ones.
                    hazard = locked[requests[i].national_id]
                    try:
                        self._require_active(hazard, f"release {i + 1} ({hazard.national_id})")
                    except HazardClosed as exc:
                        problems.append(exc)
                if problems:
                    raise _combined(problems)
                rows = self.connection.execute(
                    _RELEASE_SQL,
                    {
                        "ord": batch,
                        "hazard_id": [locked[requests[i].national_id].id for i in batch],
                        "wkb": [_wkb(cleaned[i]) for i in batch],  # type: ignore[arg-type]
                        "kind": [requests[i].method.value for i in batch],
                        "eff": [requests[i].effective_date for i in batch],
                        "activity": [requests[i].activity_id for i in batch],
                        "note": [requests[i].note for i in batch],
                        "sliver": SLIVER_M2,
                    },
                ).all()
                for row in rows:
                    req = requests[row.ord]
                    if row.event_id is None:
                        problems.append(
                            NoOverlap(
                                f"release {row.ord + 1} ({req.national_id}): the polygon does "
                                f"not overlap what remains of hazard {req.national_id}"
                            )
                        )
                        continue
                    results[row.ord] = Released(
                        national_id=req.national_id,
                        method=req.method,
                        event_id=row.event_id,
                        area_m2=row.piece_area,
                        remaining_m2=row.rest_area,
                        closed=row.closes,
                    )
                if problems:
                    raise _combined(problems)
                for i in batch:
                    if results[i].closed:
                        locked[requests[i].national_id] = _closed(locked[requests[i].national_id])
        return [results[i] for i in range(len(requests))]

    # -- confirm -------------------------------------------------------------------------

    def confirm(
        self,
        national_id: str,
        geometry: BaseGeometry | None = None,
        *,
        crs: CRSLike | None = None,
        effective_date: dt.date,
        cha_national_id: str | None = None,
        activity_id: int | None = None,
        note: str | None = None,
    ) -> Confirmed:
        """Confirm an SHA, wholly (no geometry) or in part, into a CHA.

        Area moves, nothing is released: the SHA loses the piece (``confirmed``, -1, SHA) and a
        CHA gains it (``confirmed``, +1, CHA). A whole confirmation keeps the national ID and
        changes the class; a part becomes a new CHA (``cha_national_id``, by default the SHA's
        ID with a ``-C<n>`` suffix) linked to its parent.
        """
        label = f"confirmation of {national_id}"
        self._check_not_future(effective_date, label)
        clean = prepare_polygon(geometry, crs, label=label) if geometry is not None else None
        with self.connection.begin_nested():
            hazard = self._lock_one(national_id)
            self._require_active(hazard, label)
            if hazard.hazard_class != HazardClass.SHA.value:
                raise TransitionRefused(f"{label}: hazard is already a CHA")
            self._check_after_floor(hazard, effective_date, label)
            if clean is None:
                return self._confirm_whole(hazard, effective_date, activity_id, note)
            row = self.connection.execute(
                _CUT_SQL,
                {"ord": [0], "hazard_id": [hazard.id], "wkb": [_wkb(clean)], "sliver": SLIVER_M2},
            ).one()
            if row.piece is None or row.piece_area < MIN_AREA_M2:
                raise NoOverlap(
                    f"{label}: the polygon does not overlap what remains of hazard {national_id}"
                )
            if row.closes:
                return self._confirm_whole(hazard, effective_date, activity_id, note)
            child_id = cha_national_id or self._child_id(national_id)
            if self.connection.execute(
                text("SELECT 1 FROM hazards WHERE national_id = :n"), {"n": child_id}
            ).first():
                raise DuplicateHazard(f"{label}: hazard {child_id} already exists")
            child = self.connection.execute(
                text(
                    """
                    INSERT INTO hazards (national_id, hazard_class, contamination, status, geom,
                                         area_m2, recorded_date, organisation_id, parent_id)
                    VALUES (:nid, 'CHA', :cont, 'active', ST_GeomFromWKB(:piece, 4326), :area,
                            :eff, :org, :parent)
                    RETURNING id
                    """
                ),
                {
                    "nid": child_id,
                    "cont": hazard.contamination,
                    "piece": row.piece,
                    "area": row.piece_area,
                    "eff": effective_date,
                    "org": hazard.organisation_id,
                    "parent": hazard.id,
                },
            ).scalar_one()
            self.connection.execute(
                text(
                    """
                    UPDATE hazards SET geom = ST_GeomFromWKB(:rest, 4326), area_m2 = :area,
                           version = version + 1, updated_at = now()
                    WHERE id = :id
                    """
                ),
                {"rest": row.rest, "area": row.rest_area, "id": hazard.id},
            )
            for hazard_id, sign, cls, related in (
                (hazard.id, -1, "SHA", child),
                (child, 1, "CHA", hazard.id),
            ):
                self._event(
                    hazard_id,
                    EventKind.CONFIRMED,
                    sign,
                    cls,
                    row.piece,
                    row.piece_area,
                    effective_date,
                    activity_id,
                    related,
                    note,
                )
            return Confirmed(national_id, child_id, row.piece_area, row.rest_area)

    def _confirm_whole(
        self, hazard: _Locked, effective_date: dt.date, activity_id: int | None, note: str | None
    ) -> Confirmed:
        row = self.connection.execute(
            text("SELECT ST_AsBinary(geom) AS geom, area_m2 FROM hazards WHERE id = :id"),
            {"id": hazard.id},
        ).one()
        for sign, cls in ((-1, "SHA"), (1, "CHA")):
            self._event(
                hazard.id,
                EventKind.CONFIRMED,
                sign,
                cls,
                row.geom,
                row.area_m2,
                effective_date,
                activity_id,
                None,
                note,
            )
        self.connection.execute(
            text(
                "UPDATE hazards SET hazard_class = 'CHA', version = version + 1,"
                " updated_at = now() WHERE id = :id"
            ),
            {"id": hazard.id},
        )
        return Confirmed(hazard.national_id, hazard.national_id, row.area_m2, 0.0)

    def _child_id(self, national_id: str) -> str:
        taken = set(
            self.connection.execute(
                text("SELECT national_id FROM hazards WHERE national_id LIKE :p"),
                {"p": national_id.replace("%", r"\%").replace("_", r"\_") + "-C%"},
            ).scalars()
        )
        n = 1
        while f"{national_id}-C{n}" in taken:
            n += 1
        return f"{national_id}-C{n}"

    def _event(
        self,
        hazard_id: int,
        kind: EventKind,
        sign: int,
        hazard_class: str,
        piece: bytes,
        area: float,
        effective_date: dt.date,
        activity_id: int | None,
        related: int | None,
        note: str | None,
    ) -> int:
        return self.connection.execute(
            _INSERT_EVENT,
            {
                "hazard_id": hazard_id,
                "activity_id": activity_id,
                "kind": kind.value,
                "sign": sign,
                "hazard_class": hazard_class,
                "piece": piece,
                "area": area,
                "eff": effective_date,
                "related": related,
                "note": note,
            },
        ).scalar_one()

    # -- reopen --------------------------------------------------------------------------

    def reopen(
        self,
        national_id: str,
        geometry: BaseGeometry,
        *,
        crs: CRSLike | None,
        effective_date: dt.date,
        new_national_id: str,
        hazard_class: HazardClass = HazardClass.CHA,
        contamination: Contamination | None = None,
        note: str | None = None,
    ) -> Recorded:
        """Record residual contamination found in land released from a hazard.

        The new hazard is the polygon clipped to the land released from ``national_id`` (so
        nothing already counted as remaining is counted again), linked to it as parent.
        """
        label = f"reopening of {national_id}"
        self._check_not_future(effective_date, label)
        clean = prepare_polygon(geometry, crs, label=label)
        with self.connection.begin_nested():
            old = self._lock_one(national_id)
            if self.connection.execute(
                text("SELECT 1 FROM hazards WHERE national_id = :n"), {"n": new_national_id}
            ).first():
                raise DuplicateHazard(f"{label}: hazard {new_national_id} already exists")
            row = self.connection.execute(
                text(
                    """
                    WITH released AS (
                        SELECT ST_Union(piece) AS land, max(effective_date) AS latest
                        FROM ledger_events e
                        WHERE e.hazard_id = :id AND e.kind IN ('cancelled', 'reduced', 'cleared')
                          AND ST_Intersects(e.piece, ST_GeomFromWKB(:g, 4326))
                    ),
                    clipped AS (
                        SELECT ST_Multi(ST_CollectionExtract(
                                   ST_Intersection(land, ST_GeomFromWKB(:g, 4326)), 3)) AS geom,
                               latest
                        FROM released
                    )
                    SELECT ST_AsBinary(geom) AS geom, lr_area_m2(geom) AS area, latest
                    FROM clipped
                    """
                ),
                {"id": old.id, "g": _wkb(clean)},
            ).one()
            if row.geom is None or row.area < MIN_AREA_M2:
                raise NoOverlap(
                    f"{label}: the polygon does not overlap land released from hazard {national_id}"
                )
            if effective_date < row.latest:
                raise DateError(
                    f"{label}: date {effective_date} is before {row.latest}, when "
                    "that land was released; dates out of order"
                )
            new_id = self.connection.execute(
                text(
                    """
                    INSERT INTO hazards (national_id, hazard_class, contamination, status, geom,
                                         area_m2, recorded_date, organisation_id, parent_id)
                    VALUES (:nid, :cls, :cont, 'active', ST_GeomFromWKB(:g, 4326), :area, :eff,
                            :org, :parent)
                    RETURNING id
                    """
                ),
                {
                    "nid": new_national_id,
                    "cls": HazardClass(hazard_class).value,
                    "cont": Contamination(contamination or old.contamination).value,
                    "g": row.geom,
                    "area": row.area,
                    "eff": effective_date,
                    "org": old.organisation_id,
                    "parent": old.id,
                },
            ).scalar_one()
            self._event(
                new_id,
                EventKind.REOPENED,
                1,
                HazardClass(hazard_class).value,
                row.geom,
                row.area,
                effective_date,
                None,
                old.id,
                note,
            )
            return Recorded(new_national_id, new_id, row.area, clean.repairs)

    # -- correct -------------------------------------------------------------------------

    def correct(
        self,
        national_id: str,
        geometry: BaseGeometry,
        *,
        crs: CRSLike | None,
        effective_date: dt.date,
        reason: str,
    ) -> tuple[float, float]:
        """Replace a hazard's remaining polygon, with a reason; returns (added, removed) m².

        The change is two explicit ``corrected`` events (land added, land removed), so totals
        for past years stay as they were and the correction shows as such.
        """
        label = f"correction of {national_id}"
        if not reason or not reason.strip():
            raise LandReleaseError(f"{label}: a correction needs a reason")
        self._check_not_future(effective_date, label)
        clean = prepare_polygon(geometry, crs, label=label)
        with self.connection.begin_nested():
            hazard = self._lock_one(national_id)
            latest = self.connection.execute(
                text("SELECT max(effective_date) FROM ledger_events WHERE hazard_id = :id"),
                {"id": hazard.id},
            ).scalar_one()
            if latest and effective_date < latest:
                raise DateError(
                    f"{label}: date {effective_date} is before {latest}, the "
                    "hazard's latest event; dates out of order"
                )
            row = self.connection.execute(
                text(
                    """
                    WITH g AS (SELECT ST_GeomFromWKB(:g, 4326) AS new,
                                      COALESCE(h.geom, 'SRID=4326;MULTIPOLYGON EMPTY'::geometry)
                                          AS old
                               FROM hazards h WHERE h.id = :id),
                    d AS (SELECT new,
                                 ST_Multi(ST_CollectionExtract(ST_Difference(new, old), 3))
                                     AS added,
                                 ST_Multi(ST_CollectionExtract(ST_Difference(old, new), 3))
                                     AS removed
                          FROM g)
                    SELECT ST_AsBinary(added) AS added, lr_area_m2(added) AS added_area,
                           ST_AsBinary(removed) AS removed, lr_area_m2(removed) AS removed_area,
                           lr_area_m2(new) AS new_area,
                           (SELECT lr_area_m2(ST_Intersection(ST_Union(e.piece), d.added))
                            FROM ledger_events e
                            WHERE e.hazard_id = :id AND e.sign = -1 AND e.kind <> 'corrected'
                              AND ST_Intersects(e.piece, d.added)) AS taken_back
                    FROM d
                    """
                ),
                {"g": _wkb(clean), "id": hazard.id},
            ).one()
            if (row.taken_back or 0.0) >= MIN_AREA_M2:
                raise TransitionRefused(
                    f"{label}: the new polygon takes back {row.taken_back:,.1f} m² of land already "
                    f"released or confirmed out of hazard {national_id}; record residual "
                    "contamination with reopen instead"
                )
            if row.removed_area > 0:
                self._event(
                    hazard.id,
                    EventKind.CORRECTED,
                    -1,
                    hazard.hazard_class,
                    row.removed,
                    row.removed_area,
                    effective_date,
                    None,
                    None,
                    reason,
                )
            if row.added_area > 0:
                self._event(
                    hazard.id,
                    EventKind.CORRECTED,
                    1,
                    hazard.hazard_class,
                    row.added,
                    row.added_area,
                    effective_date,
                    None,
                    None,
                    reason,
                )
            self.connection.execute(
                text(
                    """
                    UPDATE hazards SET geom = ST_GeomFromWKB(:g, 4326), area_m2 = :area,
                           status = 'active', version = version + 1, updated_at = now()
                    WHERE id = :id
                    """
                ),
                {"g": _wkb(clean), "area": row.new_area, "id": hazard.id},
            )
            return row.added_area, row.removed_area

    # -- marking -------------------------------------------------------------------------

    def mark(
        self, national_id: str, *, marked: dt.date | None = None, fenced: dt.date | None = None
    ) -> None:
        """Record that a hazard's perimeter was marked and/or fenced on the given dates."""
        label = f"marking of {national_id}"
        for when in (marked, fenced):
            if when:
                self._check_not_future(when, label)
        with self.connection.begin_nested():
            hazard = self._lock_one(national_id)
            self._require_active(hazard, label)
            self.connection.execute(
                text(
                    """
                    UPDATE hazards SET marked_date = COALESCE(:m, marked_date),
                           fenced_date = COALESCE(:f, fenced_date), version = version + 1,
                           updated_at = now()
                    WHERE id = :id
                    """
                ),
                {"m": marked, "f": fenced, "id": hazard.id},
            )


def _prepare_all(
    items: Sequence[tuple[BaseGeometry | CleanPolygon, CRSLike | None, str]],
) -> list[CleanPolygon | GeometryError]:
    """Each polygon through the one validation path, array-wise per CRS.

    A :class:`CleanPolygon` (an importer has already checked it, and reported its repairs)
    passes as it is, so a file's polygons are not checked twice.
    """
    out: list[CleanPolygon | GeometryError | None] = [None] * len(items)
    by_crs: dict[object, list[int]] = defaultdict(list)
    for position, (geometry, crs, _) in enumerate(items):
        if isinstance(geometry, CleanPolygon):
            out[position] = geometry
        else:
            by_crs[crs if crs is None or isinstance(crs, (str, int)) else id(crs)].append(position)
    for positions in by_crs.values():
        crs = items[positions[0]][1]
        results = prepare_polygons(
            [items[p][0] for p in positions],  # type: ignore[misc]
            crs,
            labels=[items[p][2] for p in positions],
        )
        for position, result in zip(positions, results, strict=True):
            out[position] = result
    return out  # type: ignore[return-value]


def _closed(hazard: _Locked) -> _Locked:
    return _Locked(
        hazard.id,
        hazard.national_id,
        hazard.hazard_class,
        HazardStatus.RELEASED.value,
        hazard.contamination,
        hazard.organisation_id,
        hazard.floor_date,
    )


def _rounds(
    requests: Sequence[ReleaseRequest], locked: Mapping[str, _Locked]
) -> Iterator[list[int]]:
    """Split requests into rounds holding at most one request per hazard, in the given order."""
    per_hazard: dict[str, list[int]] = defaultdict(list)
    for index, req in enumerate(requests):
        per_hazard[req.national_id].append(index)
    depth = max((len(v) for v in per_hazard.values()), default=0)
    for k in range(depth):
        batch = [v[k] for v in per_hazard.values() if len(v) > k]
        yield sorted(batch, key=lambda i: locked[requests[i].national_id].id)


def _combined(problems: Sequence[LandReleaseError]) -> LandReleaseError:
    """One error naming every problem, of their common type when they share one."""
    if len(problems) == 1:
        return problems[0]
    kinds = {type(problem) for problem in problems}
    kind = kinds.pop() if len(kinds) == 1 else LandReleaseError
    lines = [str(problem) for problem in problems]
    return kind(f"{len(lines)} problems, nothing applied:\n  " + "\n  ".join(lines))


@contextmanager
def transaction(engine: Engine, *, today: dt.date | None = None) -> Iterator[Ledger]:
    """A :class:`Ledger` on a new transaction, committed on success, rolled back on error."""
    with engine.begin() as connection:
        yield Ledger(connection, today=today)


__all__ = [
    "SLIVER_M2",
    "ActivityInput",
    "Confirmed",
    "GeometryError",
    "HazardInput",
    "Ledger",
    "Recorded",
    "ReleaseRequest",
    "Released",
    "transaction",
]
