"""The annual area table: per region x class x year, the stock-flow balance of the ledger.

For year Y, each row (a region of the chosen admin level, and a class: SHA, CHA or all) reads

    opening + recorded + confirmed in - confirmed out + reopened - cancelled - reduced - cleared
    ± corrections = closing,

with the number of hazards open at the start and the end, items destroyed by type, and the
area where the remaining hazards of the row overlap each other (invariant 5).

Where each figure comes from, and why:

- **Flows** are sums of the areas stored per region when each event was written
  (``event_regions``), grouped by the event's kind and sign: no geography is measured here.
- **Opening and closing** stocks are computed separately from the flows, by one of two checks
  (:class:`~landrelease.models.CheckMethod`):

  - ``geometry`` (the default for reports and publishing): the as-of snapshot of every hazard
    (:func:`landrelease.snapshot.stage_snapshot`, the current-state cache or a replay of the
    ledger) intersected with the regions in PostGIS. It shares nothing with the flows but the
    ledger's geometry, so the gap column is a real check: a lost event, a piece outside its
    hazard, a wrong sign or class, an ``event_regions`` row gone stale all show as a gap.
  - ``ledger`` (fast; what the 100k-hazard benchmark times): ``stock_spans``, each hazard's
    remaining area per region as a step function of time, rewritten by the ledger trigger for
    every hazard an insert touches. It is computed apart from the flows (running sums per
    hazard rather than the year's events), so a lost or stale stored row shows as a gap; but it
    does not re-measure geometry, since both sides come from areas stored with the events.

- **National totals** come from the ledger and the snapshot directly, never by adding up
  regions, so land outside every region still counts; when the national figures differ from
  the sum of the regions an extra row says by how much.
- **Overlap**: the area counted twice where remaining hazards of the row overlap, i.e.
  Σ areas − area of their union. Candidate pairs come from ``event_overlaps`` (written with the
  ledger): a hazard's land on a date is the signed sum of its pieces, so a pair's overlap on
  that date is the signed sum of their pieces' overlaps, with no spatial self-join. Only the
  hazards of pairs that still overlap are replayed and unioned, cluster by cluster.
- **Items destroyed** belong to activities, not to land: an activity's items count whole in
  the class and year where it moved most land, and in the region of that class and year where
  it moved most land (an Article 7 report counts items, it does not split them).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace

import shapely
from sqlalchemy import Connection, text

from landrelease.db.derived import settle
from landrelease.indicators.balance import ABS_TOLERANCE_M2, REL_TOLERANCE
from landrelease.indicators.regions import NATIONAL, OUTSIDE, RegionRef, regions_at_level
from landrelease.models import CheckMethod
from landrelease.release import SLIVER_M2
from landrelease.snapshot import SNAPSHOT_TABLE, HazardState, stage_snapshot
from landrelease.vocabulary import HazardClass, ItemType

#: Row label for both classes together.
ALL_CLASSES = "all"
CLASSES: tuple[str, ...] = (HazardClass.SHA.value, HazardClass.CHA.value)
ROW_CLASSES: tuple[str, ...] = (*CLASSES, ALL_CLASSES)

#: A hazard counts in a region when at least this much of it lies there (the sliver tolerance
#: of the transitions: a hazard with less left is closed).
COUNT_MIN_M2 = SLIVER_M2

#: Flow columns, keyed by (kind, sign) of the ledger events that feed them.
FLOW_OF_EVENT: dict[tuple[str, int], str] = {
    ("recorded", 1): "recorded_m2",
    ("confirmed", 1): "confirmed_in_m2",
    ("confirmed", -1): "confirmed_out_m2",
    ("reopened", 1): "reopened_m2",
    ("cancelled", -1): "cancelled_m2",
    ("reduced", -1): "reduced_m2",
    ("cleared", -1): "cleared_m2",
    ("corrected", 1): "corrected_m2",
    ("corrected", -1): "corrected_m2",
}
FLOW_FIELDS: tuple[str, ...] = tuple(dict.fromkeys(FLOW_OF_EVENT.values()))
#: Flows that take land out of a row (shown positive, subtracted in the balance).
OUTFLOWS = frozenset({"confirmed_out_m2", "cancelled_m2", "reduced_m2", "cleared_m2"})


@contextmanager
def without_jit(connection: Connection) -> Iterator[None]:
    """Plan the report's queries with JIT off, then restore the setting.

    A server's JIT compiles a statement once its estimated cost passes ``jit_above_cost``;
    compiling costs 0.1-2 s, more than these queries take (a 100k-hazard table runs in 0.3 s).
    The setting is local to the transaction and put back as it was (after an error the
    transaction is rolled back, which drops the setting anyway).
    """
    before = connection.execute(text("SELECT current_setting('jit')")).scalar_one()
    connection.execute(text("SELECT set_config('jit', 'off', true)"))
    yield
    connection.execute(text("SELECT set_config('jit', :v, true)"), {"v": before})


def year_bounds(year: int) -> tuple[dt.date, dt.date]:
    """First and last day of a calendar year."""
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


def tolerance_m2(hazards: int, scale_m2: float) -> float:
    """How far a balance may be off: 0.01 m² per hazard involved plus 1e-9 of the area moved.

    Each hazard's own balance holds to 0.01 m² + 1e-9 relative (invariant 1), so a row of many
    hazards may add up their rounding.
    """
    return ABS_TOLERANCE_M2 * max(hazards, 1) + REL_TOLERANCE * abs(scale_m2)


@dataclass(frozen=True)
class AnnualRow:
    """One region (or the nation) x one class (or all) x one year; areas in m²."""

    year: int
    region: RegionRef
    hazard_class: str
    opening_count: int = 0
    opening_m2: float = 0.0
    recorded_m2: float = 0.0
    confirmed_in_m2: float = 0.0
    confirmed_out_m2: float = 0.0
    reopened_m2: float = 0.0
    cancelled_m2: float = 0.0
    reduced_m2: float = 0.0
    cleared_m2: float = 0.0
    corrected_m2: float = 0.0  # net: land added by corrections minus land removed
    closing_count: int = 0
    closing_m2: float = 0.0
    overlap_m2: float = 0.0  # counted twice in closing where remaining hazards overlap
    items: Mapping[str, int] = field(default_factory=dict)
    # For a row derived from others (national - sum of regions): the sum of their tolerances.
    derived_tolerance_m2: float | None = None

    @property
    def released_m2(self) -> float:
        """Land released in the year: cancelled + reduced + cleared."""
        return self.cancelled_m2 + self.reduced_m2 + self.cleared_m2

    @property
    def expected_closing_m2(self) -> float:
        """Opening plus the year's flows: what closing must be if the ledger is sound."""
        total = self.opening_m2
        for name in FLOW_FIELDS:
            value = getattr(self, name)
            total += -value if name in OUTFLOWS else value
        return total

    @property
    def gap_m2(self) -> float:
        """Opening + flows - closing: zero (within tolerance) when the row balances."""
        return self.expected_closing_m2 - self.closing_m2

    @property
    def tolerance_m2(self) -> float:
        if self.derived_tolerance_m2 is not None:
            return self.derived_tolerance_m2
        scale = self.opening_m2 + self.recorded_m2 + self.confirmed_in_m2 + self.reopened_m2
        scale += abs(self.corrected_m2)
        return tolerance_m2(max(self.opening_count, self.closing_count) + 1, scale)

    @property
    def balances(self) -> bool:
        return abs(self.gap_m2) <= self.tolerance_m2

    @property
    def closing_union_m2(self) -> float:
        """Closing stock with overlapping ground counted once (invariant 5)."""
        return self.closing_m2 - self.overlap_m2

    @property
    def items_total(self) -> int:
        return sum(self.items.values())

    def key(self) -> tuple[str, str]:
        """What identifies the row within its year: region code and class."""
        return (self.region.code, self.hazard_class)


NUMERIC_FIELDS: tuple[str, ...] = tuple(
    f.name
    for f in fields(AnnualRow)
    if f.name not in ("year", "region", "hazard_class", "items", "derived_tolerance_m2")
)


@dataclass(frozen=True)
class OverlapPair:
    """Two remaining hazards whose land overlaps on the table's closing date."""

    national_id: str
    name: str | None
    hazard_class: str
    other_national_id: str
    other_name: str | None
    other_class: str
    overlap_m2: float
    regions: str  # codes of the regions (of the table's level) where the overlap lies


@dataclass(frozen=True)
class AnnualTable:
    """The annual table of one year at one admin level, and how it was checked."""

    year: int
    admin_level: int
    check: CheckMethod
    rows: list[AnnualRow]
    overlaps: list[OverlapPair]

    @property
    def region_rows(self) -> list[AnnualRow]:
        return [row for row in self.rows if row.region.is_region]

    def national(self, hazard_class: str = ALL_CLASSES) -> AnnualRow:
        return next(
            row for row in self.rows if row.region == NATIONAL and row.hazard_class == hazard_class
        )

    @property
    def unbalanced(self) -> list[AnnualRow]:
        return [row for row in self.rows if not row.balances]

    @property
    def item_types(self) -> list[str]:
        """Item types that occur in the table, in the order of :class:`ItemType`."""
        present = {name for row in self.rows for name in row.items}
        return [t.value for t in ItemType if t.value in present]


# -- flows ---------------------------------------------------------------------------------

_FLOWS_REGIONAL = text(
    """
    SELECT region_id, hazard_class, kind, sign, sum(area_m2) AS area
    FROM event_regions
    WHERE admin_level = :level AND effective_date BETWEEN :start AND :end
    GROUP BY 1, 2, 3, 4
    """
)

_FLOWS_NATIONAL = text(
    """
    SELECT e.hazard_class, e.kind, e.sign, sum(e.area_m2) AS area
    FROM ledger_events e
    WHERE e.effective_date BETWEEN :start AND :end
    GROUP BY 1, 2, 3
    """
)

Key = tuple[int | None, str]  # (region id or None for national, hazard class)


def _flows(connection: Connection, level: int, year: int) -> dict[Key, dict[str, float]]:
    start, end = year_bounds(year)
    flows: dict[Key, dict[str, float]] = defaultdict(lambda: dict.fromkeys(FLOW_FIELDS, 0.0))
    params = {"level": level, "start": start, "end": end}
    regional = connection.execute(_FLOWS_REGIONAL, params).all()
    national = connection.execute(_FLOWS_NATIONAL, params).all()
    for region_id, cls, kind, sign, area in [*regional, *((None, *row) for row in national)]:
        name = FLOW_OF_EVENT[(kind, sign)]
        # Corrections are net (added minus removed); every other flow is a positive amount.
        flows[(region_id, cls)][name] += area * sign if kind == "corrected" else area
    return flows


# -- stocks --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stock:
    """Hazards open and their area on a date, for one region (or the nation) and class."""

    count: int = 0
    area_m2: float = 0.0


# Stocks come from ``stock_spans``: each hazard's remaining area per region (and whole) as a
# step function of time, kept by the ledger trigger, read here for both dates in one scan. It
# is a separate computation from the flows (running sums per hazard, not sums of the year's
# events), so a span left stale by a lost rewrite shows as a gap; it checks the bookkeeping,
# not the geometry, because both sides come from the same stored areas.
_LEDGER_STOCKS = text(
    """
    SELECT region_id, hazard_class,
           count(*) FILTER (WHERE valid_from <= :d_open AND area_m2 >= :min_m2) AS n_open,
           COALESCE(sum(area_m2) FILTER (WHERE valid_from <= :d_open), 0) AS opening,
           count(*) FILTER (WHERE (valid_until IS NULL OR valid_until > :d_close)
                                  AND area_m2 >= :min_m2) AS n_close,
           COALESCE(sum(area_m2) FILTER (WHERE valid_until IS NULL OR valid_until > :d_close), 0)
               AS closing
    FROM stock_spans
    WHERE (admin_level = :level OR admin_level IS NULL)
      AND valid_from <= :d_close AND (valid_until IS NULL OR valid_until > :d_open)
    GROUP BY 1, 2
    """
)


def _ledger_stocks(
    connection: Connection, level: int, opening: dt.date, closing: dt.date
) -> tuple[dict[Key, Stock], dict[Key, Stock]]:
    params = {"level": level, "d_open": opening, "d_close": closing, "min_m2": COUNT_MIN_M2}
    at_open: dict[Key, Stock] = {}
    at_close: dict[Key, Stock] = {}
    for row in connection.execute(_LEDGER_STOCKS, params):
        key = (row.region_id, row.hazard_class)
        at_open[key] = Stock(int(row.n_open), float(row.opening))
        at_close[key] = Stock(int(row.n_close), float(row.closing))
    return at_open, at_close


# The snapshot's open hazards (staged by snapshot.stage_snapshot) measured in the regions of
# the level, as the ledger's own events are (migration 0008): each hazard finds the regions it
# reaches through the spatial index of region_parts, and each region, the outer loop with its
# geometry prepared once, measures only those. Testing every hazard's box against every region
# cost a pass over the snapshot per region (16.8 s for 100,000 hazards at level 3; now 3.6 s).
_GEOMETRY_STOCKS_REGIONAL = text(
    f"""
    WITH reached AS (
        SELECT p.region_id, array_agg(DISTINCT s.hazard_id) AS ids
        FROM {SNAPSHOT_TABLE} s JOIN region_parts p ON p.geom && s.geom
        GROUP BY p.region_id
    ),
    within AS (
        SELECT r.id AS region_id, x.hazard_id, x.hazard_class, x.area
        FROM (SELECT r.id, r.geom, reached.ids FROM regions r
              JOIN reached ON reached.region_id = r.id
              WHERE r.admin_level = :level OFFSET 0) r
        CROSS JOIN LATERAL (
            SELECT s.hazard_id, s.hazard_class,
                   lr_area_within_m2(s.geom, s.area_m2, r.id, r.geom) AS area
            FROM {SNAPSHOT_TABLE} s WHERE s.hazard_id = ANY(r.ids) OFFSET 0
        ) x
        WHERE x.area > 0
    )
    SELECT region_id, hazard_class,
           count(*) FILTER (WHERE area >= :min_m2) AS n, sum(area) AS area
    FROM within GROUP BY 1, 2
    """  # noqa: S608 - the table name is a constant
)

_GEOMETRY_STOCKS_NATIONAL = text(
    f"""
    SELECT hazard_class, count(*) FILTER (WHERE area_m2 >= :min_m2) AS n, sum(area_m2) AS area
    FROM {SNAPSHOT_TABLE} GROUP BY 1
    """  # noqa: S608 - the table name is a constant
)


def _geometry_stocks(connection: Connection, level: int, as_of: dt.date) -> dict[Key, Stock]:
    stage_snapshot(connection, as_of)
    params = {"level": level, "min_m2": COUNT_MIN_M2}
    stocks: dict[Key, Stock] = {(None, cls): Stock(0, 0.0) for cls in CLASSES}
    for row in connection.execute(_GEOMETRY_STOCKS_REGIONAL, params):
        stocks[(row.region_id, row.hazard_class)] = Stock(int(row.n), float(row.area))
    for row in connection.execute(_GEOMETRY_STOCKS_NATIONAL, params):
        stocks[(None, row.hazard_class)] = Stock(int(row.n), float(row.area))
    return stocks


def stocks(
    connection: Connection, level: int, as_of: dt.date, check: CheckMethod | str
) -> dict[Key, Stock]:
    """Open hazards and remaining area per (region of ``level``, class) and nationally."""
    settle(connection)
    if CheckMethod(check) is CheckMethod.GEOMETRY:
        return _geometry_stocks(connection, level, as_of)
    return _ledger_stocks(connection, level, as_of, as_of)[1]


def _stock_pair(
    connection: Connection,
    level: int,
    opening: dt.date,
    closing: dt.date,
    check: CheckMethod,
    known_opening: Mapping[Key, Stock] | None,
) -> tuple[Mapping[Key, Stock], Mapping[Key, Stock]]:
    if check is CheckMethod.LEDGER:
        ledger_open, ledger_close = _ledger_stocks(connection, level, opening, closing)
        return (known_opening if known_opening is not None else ledger_open), ledger_close
    if known_opening is None:
        known_opening = _geometry_stocks(connection, level, opening)
    return known_opening, _geometry_stocks(connection, level, closing)


# -- overlaps ------------------------------------------------------------------------------

# Pairs of hazards that overlap on the date: the signed sum of their pieces' overlaps.
_OVERLAPPING_PAIRS = text(
    """
    SELECT least(a.hazard_id, b.hazard_id) AS h1, greatest(a.hazard_id, b.hazard_id) AS h2
    FROM event_overlaps o
    JOIN ledger_events a ON a.id = o.event_id
    JOIN ledger_events b ON b.id = o.other_event_id
    WHERE a.effective_date <= :d AND b.effective_date <= :d
    GROUP BY 1, 2
    HAVING sum(a.sign * b.sign * o.area_m2) > :min_m2
    """
)

# The few hazards of overlapping pairs, replayed from the ledger (lr_hazard_geom_as_of, the
# replay snapshot.py uses) with the class of their latest added piece.
_REPLAYED = text(
    """
    SELECT h.id, h.national_id, h.name, h.contamination, ST_AsBinary(g.geom) AS wkb,
           lr_area_m2(g.geom) AS area,
           (SELECT e.hazard_class FROM ledger_events e
            WHERE e.hazard_id = h.id AND e.sign = 1 AND e.effective_date <= :d
            ORDER BY e.effective_date DESC, e.id DESC LIMIT 1) AS hazard_class
    FROM hazards h CROSS JOIN LATERAL (SELECT lr_hazard_geom_as_of(h.id, :d) AS geom) g
    WHERE h.id = ANY(:ids) AND g.geom IS NOT NULL
    """
)

# Shapes of weight +1 (each hazard of a cluster) and -1 (the cluster's union), measured within
# each region of the level and as a whole: the weighted sum is Σ areas − area of the union,
# the ground counted more than once. Clusters are connected groups of overlapping hazards, so
# every union stays local and small.
_EXCESS = text(
    """
    WITH members AS MATERIALIZED (
        SELECT u.set_key, u.cluster, ST_GeomFromWKB(u.wkb, 4326) AS geom, u.area
        FROM unnest(CAST(:keys AS text[]), CAST(:clusters AS int[]), CAST(:wkbs AS bytea[]),
                    CAST(:areas AS double precision[])) AS u(set_key, cluster, wkb, area)
    ),
    unions AS MATERIALIZED (
        SELECT set_key, ST_Multi(ST_CollectionExtract(ST_Union(geom), 3)) AS geom
        FROM members GROUP BY set_key, cluster
    ),
    shapes AS MATERIALIZED (
        SELECT set_key, geom, area, 1 AS weight FROM members
        UNION ALL
        SELECT set_key, geom, lr_area_m2(geom), -1 FROM unions
    ),
    regional AS (
        SELECT r.id AS region_id, x.set_key, sum(x.weight * x.area) AS excess
        FROM (SELECT id, geom, ST_Envelope(geom) AS env FROM regions
              WHERE admin_level = :level OFFSET 0) r
        CROSS JOIN LATERAL (
            SELECT s.set_key, s.weight, lr_area_within_m2(s.geom, s.area, r.id, r.geom) AS area
            FROM shapes s WHERE s.geom && r.env OFFSET 0
        ) x
        GROUP BY 1, 2
    )
    SELECT region_id, set_key, excess FROM regional
    UNION ALL
    SELECT NULL, set_key, sum(weight * area) FROM shapes GROUP BY set_key
    """
)

# Each pair's overlap and the regions of the level it lies in.
_PAIR_DETAILS = text(
    """
    WITH states AS MATERIALIZED (
        SELECT u.hazard_id, ST_GeomFromWKB(u.wkb, 4326) AS geom
        FROM unnest(CAST(:ids AS bigint[]), CAST(:wkbs AS bytea[])) AS u(hazard_id, wkb)
    ),
    pairs AS MATERIALIZED (
        SELECT p.h1, p.h2, ST_Multi(ST_CollectionExtract(ST_Intersection(a.geom, b.geom), 3))
                   AS geom
        FROM unnest(CAST(:h1 AS bigint[]), CAST(:h2 AS bigint[])) AS p(h1, h2)
        JOIN states a ON a.hazard_id = p.h1
        JOIN states b ON b.hazard_id = p.h2
    ),
    measured AS MATERIALIZED (
        SELECT h1, h2, geom, lr_area_m2(geom) AS area FROM pairs
    )
    SELECT m.h1, m.h2, m.area, NULL AS region
    FROM measured m
    UNION ALL
    SELECT x.h1, x.h2, x.area, r.code
    FROM (SELECT id, code, geom, ST_Envelope(geom) AS env FROM regions
          WHERE admin_level = :level OFFSET 0) r
    CROSS JOIN LATERAL (
        SELECT m.h1, m.h2, lr_area_within_m2(m.geom, m.area, r.id, r.geom) AS area
        FROM measured m WHERE m.geom && r.env AND m.area > 0 OFFSET 0
    ) x
    WHERE x.area > 0
    """
)


@dataclass(frozen=True)
class Overlaps:
    """Double-counted ground on one date: per (region or None, class or all), and the pairs."""

    excess: dict[Key, float]
    pairs: list[OverlapPair]


def _clusters(pairs: Sequence[tuple[int, int]]) -> dict[int, int]:
    """Connected groups of hazards linked by the pairs (union-find): hazard -> cluster number."""
    parent: dict[int, int] = {}

    def root(h: int) -> int:
        parent.setdefault(h, h)
        while parent[h] != h:
            parent[h] = parent[parent[h]]
            h = parent[h]
        return h

    for a, b in pairs:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    roots = sorted({root(h) for h in parent})
    number = {r: i for i, r in enumerate(roots)}
    return {h: number[root(h)] for h in parent}


def _replayed_states(
    connection: Connection, ids: Sequence[int], as_of: dt.date
) -> tuple[dict[int, HazardState], dict[int, str | None]]:
    """States (and names) of a few hazards on a date, without a whole-ledger snapshot."""
    states: dict[int, HazardState] = {}
    names: dict[int, str | None] = {}
    for row in connection.execute(_REPLAYED, {"ids": list(ids), "d": as_of}):
        states[row.id] = HazardState(
            hazard_id=row.id,
            national_id=row.national_id,
            hazard_class=row.hazard_class,
            contamination=row.contamination,
            status="active",
            geom=shapely.from_wkb(row.wkb),
            area_m2=float(row.area),
        )
        names[row.id] = row.name
    return states, names


def overlaps(connection: Connection, level: int, as_of: dt.date) -> Overlaps:
    """Where remaining hazards overlap each other on ``as_of``, per region of ``level``."""
    settle(connection)
    pairs = [
        (int(row.h1), int(row.h2))
        for row in connection.execute(_OVERLAPPING_PAIRS, {"d": as_of, "min_m2": ABS_TOLERANCE_M2})
    ]
    if not pairs:
        return Overlaps({}, [])
    states, names = _replayed_states(connection, sorted({h for p in pairs for h in p}), as_of)
    live = [(a, b) for a, b in pairs if a in states and b in states]
    if not live:
        return Overlaps({}, [])
    keys: list[str] = []
    clusters: list[int] = []
    members: list[HazardState] = []
    for key in ROW_CLASSES:
        linked = [
            (a, b)
            for a, b in live
            if key == ALL_CLASSES or states[a].hazard_class == states[b].hazard_class == key
        ]
        for hazard, cluster in sorted(_clusters(linked).items()):
            keys.append(key)
            clusters.append(cluster)
            members.append(states[hazard])
    excess: dict[Key, float] = {}
    for row in connection.execute(
        _EXCESS,
        {
            "level": level,
            "keys": keys,
            "clusters": clusters,
            "wkbs": [shapely.to_wkb(s.geom) for s in members],
            "areas": [s.area_m2 for s in members],
        },
    ):
        excess[(row.region_id, row.set_key)] = float(row.excess)
    area: dict[tuple[int, int], float] = {}
    where: dict[tuple[int, int], list[str]] = defaultdict(list)
    for row in connection.execute(
        _PAIR_DETAILS,
        {
            "level": level,
            "ids": list(states),
            "wkbs": [shapely.to_wkb(s.geom) for s in states.values()],
            "h1": [a for a, _ in live],
            "h2": [b for _, b in live],
        },
    ):
        if row.region is None:
            area[(row.h1, row.h2)] = float(row.area)
        else:
            where[(row.h1, row.h2)].append(row.region)
    listed = [
        OverlapPair(
            national_id=states[a].national_id,
            name=names[a],
            hazard_class=states[a].hazard_class,
            other_national_id=states[b].national_id,
            other_name=names[b],
            other_class=states[b].hazard_class,
            overlap_m2=overlap,
            regions=", ".join(sorted(where[(a, b)])),
        )
        for (a, b), overlap in area.items()
        if overlap > ABS_TOLERANCE_M2
    ]
    listed.sort(key=lambda p: (-p.overlap_m2, p.national_id, p.other_national_id))
    return Overlaps(excess, listed)


# -- items -----------------------------------------------------------------------------------

# Each activity counts whole in the (class, year) where it moved most land, then in the region
# of the level where it moved most land within that class and year. Activities with no ledger
# event count nationally only, in the year they ended (or started), under "all".
_ITEMS = text(
    """
    WITH candidates AS MATERIALIZED (
        SELECT DISTINCT e.activity_id AS id
        FROM ledger_events e JOIN activities a ON a.id = e.activity_id
        WHERE e.effective_date BETWEEN :start AND :end
          AND (CAST(:kinds AS text[]) IS NULL OR a.kind = ANY(:kinds))
          AND EXISTS (SELECT 1 FROM activity_items i
                      WHERE i.activity_id = a.id AND i.destroyed > 0)
    ),
    per_key AS MATERIALIZED (
        SELECT e.activity_id, e.hazard_class,
               CAST(extract(year FROM e.effective_date) AS int) AS yr, sum(e.area_m2) AS area
        FROM candidates c JOIN ledger_events e ON e.activity_id = c.id
        GROUP BY 1, 2, 3
    ),
    in_year AS MATERIALIZED (
        SELECT activity_id, hazard_class FROM (
            SELECT DISTINCT ON (activity_id) activity_id, hazard_class, yr
            FROM per_key ORDER BY activity_id, area DESC, yr, hazard_class
        ) picked
        WHERE yr = :year
    ),
    placed AS MATERIALIZED (
        SELECT DISTINCT ON (p.activity_id) p.activity_id, p.hazard_class, er.region_id
        FROM in_year p
        LEFT JOIN (ledger_events e
                   JOIN event_regions er ON er.event_id = e.id AND er.admin_level = :level)
          ON e.activity_id = p.activity_id AND e.hazard_class = p.hazard_class
         AND e.effective_date BETWEEN :start AND :end
        GROUP BY p.activity_id, p.hazard_class, er.region_id
        ORDER BY p.activity_id, sum(er.area_m2) DESC NULLS LAST, er.region_id
    ),
    counted AS MATERIALIZED (
        SELECT p.region_id, p.hazard_class, i.item_type, i.destroyed
        FROM placed p JOIN activity_items i ON i.activity_id = p.activity_id
    )
    SELECT region_id, hazard_class, item_type, sum(destroyed) AS n
    FROM counted WHERE region_id IS NOT NULL GROUP BY 1, 2, 3
    UNION ALL
    SELECT NULL, hazard_class, item_type, sum(destroyed) FROM counted GROUP BY 2, 3
    UNION ALL
    SELECT NULL, :all_classes, i.item_type, sum(i.destroyed)
    FROM activities a
    JOIN activity_items i ON i.activity_id = a.id
    WHERE COALESCE(a.end_date, a.start_date) BETWEEN :start AND :end
      AND (CAST(:kinds AS text[]) IS NULL OR a.kind = ANY(:kinds))
      AND NOT EXISTS (SELECT 1 FROM ledger_events e WHERE e.activity_id = a.id)
    GROUP BY 3
    """
)


def items_destroyed(
    connection: Connection,
    level: int,
    year: int,
    activity_kinds: Sequence[str] | None = None,
) -> dict[Key, dict[str, int]]:
    """Items destroyed in ``year`` by (region or None for national, class), by item type.

    ``activity_kinds`` restricts to activities of those kinds (e.g. ``["CLEARANCE"]``).
    Activities without ledger events count nationally only, under :data:`ALL_CLASSES`.
    """
    start, end = year_bounds(year)
    items: dict[Key, dict[str, int]] = defaultdict(dict)
    params = {
        "level": level,
        "year": year,
        "start": start,
        "end": end,
        "all_classes": ALL_CLASSES,
        "kinds": list(activity_kinds) if activity_kinds is not None else None,
    }
    for row in connection.execute(_ITEMS, params):
        if row.n:
            cell = items[(row.region_id, row.hazard_class)]
            cell[row.item_type] = cell.get(row.item_type, 0) + int(row.n)
    return items


# -- the table -------------------------------------------------------------------------------


def _row(
    year: int,
    region: RegionRef,
    cls: str,
    flows: Mapping[str, float],
    opening: Stock,
    closing: Stock,
    overlap: float,
    items: Mapping[str, int],
) -> AnnualRow:
    return AnnualRow(
        year=year,
        region=region,
        hazard_class=cls,
        opening_count=opening.count,
        opening_m2=opening.area_m2,
        closing_count=closing.count,
        closing_m2=closing.area_m2,
        overlap_m2=overlap,
        items=dict(items),
        **flows,
    )


def _sum_rows(year: int, region: RegionRef, cls: str, rows: Iterable[AnnualRow]) -> AnnualRow:
    rows = list(rows)
    items: dict[str, int] = defaultdict(int)
    for row in rows:
        for name, n in row.items.items():
            items[name] += n
    totals = {name: sum(getattr(row, name) for row in rows) for name in NUMERIC_FIELDS}
    totals = {k: (int(v) if k.endswith("_count") else v) for k, v in totals.items()}
    return AnnualRow(year=year, region=region, hazard_class=cls, items=dict(items), **totals)


def _difference(national: AnnualRow, regional: Sequence[AnnualRow]) -> AnnualRow:
    """National minus the sum of the regions, field by field (counts too)."""
    summed = _sum_rows(national.year, OUTSIDE, national.hazard_class, regional)
    values = {name: getattr(national, name) - getattr(summed, name) for name in NUMERIC_FIELDS}
    items = {
        name: national.items.get(name, 0) - summed.items.get(name, 0)
        for name in set(national.items) | set(summed.items)
    }
    return replace(
        summed,
        items={k: v for k, v in items.items() if v},
        derived_tolerance_m2=national.tolerance_m2 + sum(r.tolerance_m2 for r in regional),
        **values,
    )


def _is_nil(row: AnnualRow, national: AnnualRow) -> bool:
    """No land outside the regions: every area within rounding of the national figures."""
    scale = max(abs(getattr(national, name)) for name in NUMERIC_FIELDS if name.endswith("_m2"))
    areas = [abs(getattr(row, name)) for name in NUMERIC_FIELDS if name.endswith("_m2")]
    limit = ABS_TOLERANCE_M2 + REL_TOLERANCE * scale
    return max(areas) <= limit and not any(row.items.values())


def annual_table(
    connection: Connection,
    year: int,
    *,
    level: int = 1,
    check: CheckMethod | str = CheckMethod.GEOMETRY,
    opening: Mapping[Key, Stock] | None = None,
) -> AnnualTable:
    """The annual table of ``year`` at admin ``level``, checked by ``check``.

    ``opening`` may pass the stocks of the previous year's closing (same level and check) to
    spare computing them again when tables of consecutive years are built together.
    """
    settle(connection)
    check = CheckMethod(check)
    regions = regions_at_level(connection, level)
    start, end = year_bounds(year)
    with without_jit(connection):
        flows = _flows(connection, level, year)
        opening_stocks, closing_stocks = _stock_pair(
            connection, level, start - dt.timedelta(days=1), end, check, opening
        )
        overlap = overlaps(connection, level, end)
        items = items_destroyed(connection, level, year)
    empty_flows = dict.fromkeys(FLOW_FIELDS, 0.0)

    def build(region: RegionRef) -> list[AnnualRow]:
        built = [
            _row(
                year,
                region,
                cls,
                flows.get((region.id, cls), empty_flows),
                opening_stocks.get((region.id, cls), Stock()),
                closing_stocks.get((region.id, cls), Stock()),
                overlap.excess.get((region.id, cls), 0.0),
                items.get((region.id, cls), {}),
            )
            for cls in CLASSES
        ]
        both = _sum_rows(year, region, ALL_CLASSES, built)
        extra = items.get((region.id, ALL_CLASSES), {})
        merged = {k: both.items.get(k, 0) + extra.get(k, 0) for k in set(both.items) | set(extra)}
        both = replace(
            both, overlap_m2=overlap.excess.get((region.id, ALL_CLASSES), 0.0), items=merged
        )
        return [*built, both]

    rows: list[AnnualRow] = []
    for region in regions:
        rows.extend(build(region))
    national = build(NATIONAL)
    for nat in national:
        outside = _difference(nat, [r for r in rows if r.hazard_class == nat.hazard_class])
        if not _is_nil(outside, nat):
            rows.append(outside)
    rows.extend(national)
    return AnnualTable(year, level, check, rows, overlap.pairs)


def annual_tables(
    connection: Connection,
    years: Sequence[int],
    *,
    level: int = 1,
    check: CheckMethod | str = CheckMethod.GEOMETRY,
) -> list[AnnualTable]:
    """Tables for consecutive years, each closing stock reused as the next year's opening."""
    tables: list[AnnualTable] = []
    carried: dict[Key, Stock] | None = None
    for year in sorted(years):
        if tables and tables[-1].year != year - 1:
            carried = None
        table = annual_table(connection, year, level=level, check=check, opening=carried)
        carried = {
            (row.region.id, row.hazard_class): Stock(row.closing_count, row.closing_m2)
            for row in table.rows
            if row.region.id is not None or row.region == NATIONAL
        }
        tables.append(table)
    return tables


__all__ = [
    "ALL_CLASSES",
    "CLASSES",
    "COUNT_MIN_M2",
    "FLOW_FIELDS",
    "NUMERIC_FIELDS",
    "ROW_CLASSES",
    "AnnualRow",
    "AnnualTable",
    "OverlapPair",
    "Overlaps",
    "Stock",
    "annual_table",
    "annual_tables",
    "items_destroyed",
    "overlaps",
    "stocks",
    "tolerance_m2",
    "without_jit",
    "year_bounds",
]
