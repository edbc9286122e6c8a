"""The product demo: years of land release in Bosnia and Herzegovina, through the real ledger.

A demo is only convincing if it takes the same path as a centre's data. So nothing here writes
tables directly: generated hazards are recorded with :meth:`Ledger.record_many`, and each field
year's results go through the same transitions an importer uses (confirmations, bulk releases,
reopenings, corrections, marking). Released area is never computed here; it comes back from
the ledger, and the closing summary is the national stock-flow balance, which must balance.

The data are invented but plausible and reproducible: a seeded :class:`numpy.random.Generator`
places clustered, irregular SHA/CHA polygons inside the bundled municipalities (built in a UTM
zone, as survey teams draw them, then transformed), so the same seed gives the same totals.
The operators are fictional; the boundaries are real (geoBoundaries, see ``gis_data/SOURCES.md``).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import shapely
from pyproj import Transformer
from shapely import affinity
from shapely.geometry import MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, Engine, text

from landrelease.db.statistics import refresh_statistics
from landrelease.errors import LandReleaseError
from landrelease.geometry import geodesic_area_m2, polygons_only
from landrelease.indicators.balance import ClassBalance, items_destroyed, national_balance
from landrelease.regions import (
    RegionShape,
    bundled_region_files,
    insert_regions,
    read_regions,
    regions_per_level,
)
from landrelease.release import HazardInput, Ledger, ReleaseRequest, transaction
from landrelease.vocabulary import ActivityKind, Contamination, EventKind, HazardClass, ItemType

#: Fictional operators: the demo must never put a real organisation's name on invented results.
ORGANISATIONS = (
    "Javor Demining (demo)",
    "Kestrel Survey Teams (demo)",
    "Bistrica Clearance Group (demo)",
    "Lipa Field Services (demo)",
    "Orlovac Mine Action (demo)",
)

#: Contamination mix, weighted toward what BiH reports most (mines, cluster munitions, ERW).
CONTAMINATION_WEIGHTS = {
    Contamination.AP_MINE: 0.36,
    Contamination.CMR: 0.26,
    Contamination.ERW: 0.20,
    Contamination.AT_MINE: 0.08,
    Contamination.MIXED: 0.08,
    Contamination.IED: 0.02,
}

#: Items found and destroyed per hectare cleared, by contamination (Poisson means).
ITEMS_PER_HA: dict[Contamination, dict[ItemType, float]] = {
    Contamination.CMR: {ItemType.SUBMUNITION: 4.0, ItemType.CLUSTER_BOMB: 0.03, ItemType.UXO: 0.3},
    Contamination.AP_MINE: {ItemType.AP_MINE: 3.0, ItemType.UXO: 0.2},
    Contamination.AT_MINE: {ItemType.AT_MINE: 1.0, ItemType.AP_MINE: 0.5},
    Contamination.ERW: {ItemType.UXO: 2.0, ItemType.AXO: 0.5},
    Contamination.IED: {ItemType.IED: 0.6, ItemType.UXO: 0.3},
    Contamination.MIXED: {ItemType.AP_MINE: 1.5, ItemType.AT_MINE: 0.5, ItemType.UXO: 1.0},
}

#: Recorded areas are drawn log-uniform between these bounds (0.1 ha and 50 ha).
MIN_AREA_M2 = 1_000.0
MAX_AREA_M2 = 500_000.0
SHA_SHARE = 0.65
MULTIPART_SHARE = 0.10
HOLE_SHARE = 0.10
RECORDING_YEARS = (2015, 2018)
RECORD_BATCH = 500

#: Longest straight edge (m) of a polygon drawn in a UTM zone, before it goes to lon/lat.
MAX_EDGE_M = 20.0

#: Yearly chance that an active hazard gets a release, by class and method. Tuned so that
#: about half of the recorded area is released over seven field years.
RELEASE_ODDS: dict[str, tuple[tuple[float, EventKind], ...]] = {
    "SHA": ((0.12, EventKind.CANCELLED), (0.03, EventKind.REDUCED)),
    "CHA": ((0.10, EventKind.REDUCED), (0.11, EventKind.CLEARED)),
}
#: Chance that a release takes the whole hazard rather than a part.
WHOLE_ODDS = {EventKind.CANCELLED: 0.30, EventKind.REDUCED: 0.10, EventKind.CLEARED: 0.35}
CONFIRM_ODDS = 0.05
CONFIRM_WHOLE_ODDS = 0.35
MARK_ODDS = 0.02
REOPEN_ODDS = 0.7

_ACTIVITY_OF = {
    EventKind.CANCELLED: ActivityKind.NTS,
    EventKind.REDUCED: ActivityKind.TS,
    EventKind.CLEARED: ActivityKind.CLEARANCE,
}


@dataclass(frozen=True)
class DemoResult:
    """What the demo left in the database, read back from it (areas in m²)."""

    regions: dict[int, int]
    hazards_recorded: int
    recorded_m2: float
    active_hazards: dict[str, int]
    remaining_m2: dict[str, float]
    releases: dict[str, int]
    released_m2: dict[str, float]
    confirmations: int
    confirmed_m2: float
    reopened: int
    reopened_m2: float
    corrected_hazards: int
    corrected_net_m2: float
    marked: int
    fenced: int
    items_destroyed: dict[str, int]
    balance: list[ClassBalance]
    today: dt.date
    elapsed_s: float

    @property
    def released_total_m2(self) -> float:
        return sum(self.released_m2.values())

    @property
    def released_share(self) -> float:
        """Share of the recorded area released so far (0 when nothing was recorded)."""
        return self.released_total_m2 / self.recorded_m2 if self.recorded_m2 else 0.0

    @property
    def balanced(self) -> bool:
        return all(row.balances for row in self.balance)


@dataclass(frozen=True)
class _Municipality:
    """A level-3 region, where hazards are placed (prepared for fast point tests)."""

    code: str
    name: str
    geom: MultiPolygon
    area_m2: float


@dataclass(frozen=True)
class _Hazard:
    """An active hazard as the database holds it at one moment of a field year."""

    national_id: str
    hazard_class: str
    contamination: str
    area_m2: float
    floor: dt.date
    marked: bool

    @property
    def base_id(self) -> str:
        """The generated ID it descends from (``BA-000123`` for ``BA-000123-C1``)."""
        return "-".join(self.national_id.split("-")[:2])


@dataclass(frozen=True)
class _Plan:
    """One release to request: the land (in a UTM zone), the method, date and items."""

    hazard: _Hazard
    method: EventKind
    geometry: BaseGeometry
    epsg: int
    when: dt.date
    items: dict[ItemType, int]


@dataclass(frozen=True)
class _Choice:
    """A hazard drawn for a release this year, before its polygon is fetched."""

    hazard: _Hazard
    method: EventKind
    low: dt.date


@dataclass
class _State:
    """What the simulation remembers between years (generation facts, not ledger results)."""

    rng: np.random.Generator
    today: dt.date
    municipality_of: dict[str, str]
    municipalities: dict[str, _Municipality]
    entities: list[MultiPolygon]
    reopened: set[str] = field(default_factory=set)


# -- time ------------------------------------------------------------------------------------


def default_today(end_year: int) -> dt.date:
    """The demo's 'today': the end of its last field year, unless that is still to come."""
    end = dt.date(end_year, 12, 31)
    return end if end <= dt.date.today() else dt.date.today()


def _date_between(rng: np.random.Generator, low: dt.date, high: dt.date) -> dt.date:
    return low + dt.timedelta(days=int(rng.integers(0, (high - low).days + 1)))


# -- coordinates -----------------------------------------------------------------------------


def _utm_epsg(geom: BaseGeometry) -> int:
    """UTM 33N west of 18°E, 34N east of it: the zones BiH surveyors use."""
    west, _, east, _ = geom.bounds
    return 32633 if (west + east) / 2 < 18.0 else 32634


@lru_cache(maxsize=4)
def _to_utm(epsg: int) -> Transformer:
    return Transformer.from_crs(4326, epsg, always_xy=True)


@lru_cache(maxsize=4)
def _from_utm(epsg: int) -> Transformer:
    return Transformer.from_crs(epsg, 4326, always_xy=True)


def _transformed(geom: BaseGeometry, transformer: Transformer) -> BaseGeometry:
    def _apply(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, _apply)


def _project(geom: BaseGeometry, epsg: int) -> BaseGeometry:
    """A lon/lat geometry in metres of a UTM zone."""
    return _transformed(geom, _to_utm(epsg))


def _unproject(geom: BaseGeometry, epsg: int) -> BaseGeometry:
    """A geometry drawn in a UTM zone, in lon/lat (the ledger gets these with crs=4326)."""
    return _transformed(geom, _from_utm(epsg))


def _densify(geom: BaseGeometry, max_edge: float) -> BaseGeometry:
    """Split edges longer than ``max_edge`` metres of a polygon drawn in a UTM zone.

    A line a team walks straight in the field is straight in UTM, not in lon/lat: transforming
    only its end points would move the land between them. (The ledger then puts vertices on
    the geodesic of any longer lon/lat edge itself, so cuts and geodesic areas agree.)
    """
    return shapely.segmentize(geom, max_edge)


# -- hazard shapes ---------------------------------------------------------------------------


def _star(rng: np.random.Generator, low: float, high: float) -> np.ndarray:
    """Ring of a unit star-shaped polygon: 8-24 vertices, irregular radii in [low, high].

    Angles are stratified so no gap reaches 180°, which keeps the ring simple (valid).
    """
    n = int(rng.integers(8, 25))
    angles = 2 * math.pi * (np.arange(n) + rng.uniform(0.1, 0.9, n)) / n
    radii = rng.uniform(low, high, n)
    return np.column_stack([radii * np.cos(angles), radii * np.sin(angles)])


def _shape(rng: np.random.Generator, area_m2: float) -> MultiPolygon:
    """An irregular hazard of ``area_m2`` (planar, metres) around the origin.

    Some have a hole (an orchard or a house left out), some several parts (separate fields);
    secondary parts sit beyond the bounding circle of the first, so parts never overlap.
    """
    with_hole = rng.random() < HOLE_SHARE
    shell = _star(rng, 0.55, 1.0)
    # Every edge of the shell stays at least 0.42 from the centre, so a hole below 0.3 fits.
    main = Polygon(shell, [_star(rng, 0.15, 0.3)] if with_hole else None)
    parts = [main]
    if rng.random() < MULTIPART_SHARE:
        for _ in range(int(rng.integers(1, 3))):
            size = rng.uniform(0.3, 0.7)
            angle = rng.uniform(0, 2 * math.pi)
            # Bounding circles: the main part's is 1, the first outlier's ends within 3.9.
            reach = 1.0 + size + rng.uniform(0.2, 1.5) + (len(parts) - 1) * 3.5
            offset = reach * np.array([math.cos(angle), math.sin(angle)])
            parts.append(Polygon(_star(rng, 0.55, 1.0) * size + offset))
    unit = MultiPolygon(parts)
    return affinity.scale(unit, *(2 * [math.sqrt(area_m2 / unit.area)]), origin=(0, 0))


def _random_point_in(
    rng: np.random.Generator, geom: BaseGeometry, tries: int = 200
) -> tuple[float, float]:
    """A uniform random point inside a polygon (rejection sampling in its bounds)."""
    west, south, east, north = geom.bounds
    for _ in range(tries):
        x = rng.uniform(west, east, 32)
        y = rng.uniform(south, north, 32)
        inside = np.flatnonzero(shapely.contains_xy(geom, x, y))
        if inside.size:
            return float(x[inside[0]]), float(y[inside[0]])
    point = geom.representative_point()
    return point.x, point.y


def _clip(geom: BaseGeometry, to: BaseGeometry) -> MultiPolygon:
    return polygons_only(geom) if to.contains(geom) else polygons_only(geom.intersection(to))


def _within_bih(
    geom: BaseGeometry, muni: _Municipality, entities: list[MultiPolygon]
) -> MultiPolygon:
    """``geom`` clipped to its municipality, then to the country as the level-1 units draw it.

    geoBoundaries digitised the levels separately: a municipality overshoots its entity by up
    to a few m² in places, so clipping to the municipality alone can leave a hazard sticking
    out of the country.
    """
    local = _clip(geom, muni.geom)
    if not any(entity.contains(local) for entity in entities):
        local = polygons_only(
            shapely.union_all([local.intersection(e) for e in entities if e.intersects(local)])
        )
    return local


def _place(
    rng: np.random.Generator,
    muni: _Municipality,
    entities: list[MultiPolygon],
    centre: tuple[float, float],
) -> MultiPolygon | None:
    """A hazard around ``centre``, clipped to its municipality and the country, or None if unfit.

    Unfit means its area left the 0.1-50 ha range (clipping at a border can shrink it).
    """
    area = math.exp(rng.uniform(math.log(MIN_AREA_M2), math.log(MAX_AREA_M2)))
    epsg = _utm_epsg(Point(centre))
    cx, cy = _to_utm(epsg).transform(*centre)
    shape = affinity.translate(_shape(rng, area), cx, cy)
    lonlat = _unproject(_densify(shape, MAX_EDGE_M), epsg)
    geom = _within_bih(lonlat, muni, entities)
    if geom.is_empty or not MIN_AREA_M2 <= geodesic_area_m2(geom) <= MAX_AREA_M2:
        return None
    return geom


def _cluster_centres(
    rng: np.random.Generator, municipalities: Sequence[_Municipality]
) -> list[list[tuple[float, float]]]:
    """A few cluster centres per municipality: hazards gather along old front lines."""
    return [
        [_random_point_in(rng, m.geom) for _ in range(int(rng.integers(1, 5)))]
        for m in municipalities
    ]


def _near(
    rng: np.random.Generator, muni: _Municipality, centre: tuple[float, float]
) -> tuple[float, float]:
    """A point a few km from a cluster centre, inside the municipality."""
    lon, lat = centre
    for _ in range(20):
        dx, dy = rng.normal(0.0, 2_000.0, 2)
        x = lon + dx / (111_320.0 * math.cos(math.radians(lat)))
        y = lat + dy / 110_574.0
        if shapely.contains_xy(muni.geom, x, y):
            return float(x), float(y)
    return _random_point_in(rng, muni.geom)


def _generate_hazards(
    municipalities: Sequence[_Municipality],
    entities: list[MultiPolygon],
    count: int,
    rng: np.random.Generator,
    today: dt.date,
) -> tuple[list[HazardInput], dict[str, str]]:
    """``count`` hazards (and each one's municipality code), recorded 2015-2018, no overlaps."""
    weights = rng.gamma(0.6, 1.0, len(municipalities)) * [m.area_m2 for m in municipalities]
    chosen = rng.choice(len(municipalities), size=count, p=weights / weights.sum())
    centres = _cluster_centres(rng, municipalities)
    placed: dict[int, list[MultiPolygon]] = defaultdict(list)
    drafts: list[tuple[dt.date, MultiPolygon, int, str]] = []
    first = dt.date(RECORDING_YEARS[0], 1, 1)
    last = min(dt.date(RECORDING_YEARS[1], 12, 31), today)
    if last < first:
        raise LandReleaseError(f"the demo records hazards from {first}; today is {today}")
    for index in chosen:
        muni = municipalities[index]
        geom = _draw_hazard(rng, muni, entities, centres[index], placed[index])
        placed[index].append(geom)
        drafts.append((_date_between(rng, first, last), geom, int(index), muni.name))
    drafts.sort(key=lambda d: d[0])
    return _inputs(rng, drafts, municipalities)


def _draw_hazard(
    rng: np.random.Generator,
    muni: _Municipality,
    entities: list[MultiPolygon],
    centres: list[tuple[float, float]],
    taken: list[MultiPolygon],
) -> MultiPolygon:
    for _ in range(200):
        centre = _near(rng, muni, centres[int(rng.integers(len(centres)))])
        geom = _place(rng, muni, entities, centre)
        if geom is not None and not (taken and shapely.intersects(taken, geom).any()):
            return geom
    raise LandReleaseError(f"could not place a hazard in {muni.name} after 200 tries")


def _inputs(
    rng: np.random.Generator,
    drafts: list[tuple[dt.date, MultiPolygon, int, str]],
    municipalities: Sequence[_Municipality],
) -> tuple[list[HazardInput], dict[str, str]]:
    """National IDs in recording order, class, contamination, recording organisation."""
    kinds = list(CONTAMINATION_WEIGHTS)
    odds = np.array(list(CONTAMINATION_WEIGHTS.values()))
    inputs: list[HazardInput] = []
    municipality_of: dict[str, str] = {}
    per_municipality: dict[int, int] = defaultdict(int)
    for number, (recorded, geom, index, muni_name) in enumerate(drafts, start=1):
        national_id = f"BA-{number:06d}"
        per_municipality[index] += 1
        inputs.append(
            HazardInput(
                national_id=national_id,
                hazard_class=HazardClass.SHA if rng.random() < SHA_SHARE else HazardClass.CHA,
                geometry=geom,
                crs=4326,
                recorded_date=recorded,
                contamination=kinds[int(rng.choice(len(kinds), p=odds / odds.sum()))],
                organisation=ORGANISATIONS[int(rng.integers(len(ORGANISATIONS)))],
                name=f"{muni_name} {per_municipality[index]}",
            )
        )
        municipality_of[national_id] = municipalities[index].code
    return inputs, municipality_of


# -- reading the database --------------------------------------------------------------------


def _require_empty(connection: Connection) -> None:
    """The summary is the whole ledger's balance, so the demo must start with no hazards."""
    if connection.execute(text("SELECT EXISTS (SELECT 1 FROM ledger_events)")).scalar_one():
        raise LandReleaseError(
            "the demo needs a database without hazards (it reports the whole ledger); "
            "use a database of its own, e.g. `landrelease demo`"
        )


def _municipalities(shapes: Sequence[RegionShape]) -> list[_Municipality]:
    """Municipalities in code order (so a seed always draws the same ones), prepared."""
    result = []
    for shape in sorted(shapes, key=lambda s: s.code):
        shapely.prepare(shape.geom)
        result.append(
            _Municipality(shape.code, shape.name, shape.geom, geodesic_area_m2(shape.geom))
        )
    return result


def _entities(shapes: Sequence[RegionShape]) -> list[MultiPolygon]:
    """The level-1 units, prepared: together they draw the country hazards must stay in."""
    for shape in shapes:
        shapely.prepare(shape.geom)
    return [shape.geom for shape in sorted(shapes, key=lambda s: s.code)]


_ACTIVE = text(
    """
    SELECT h.national_id, h.hazard_class, h.contamination, h.area_m2,
           h.marked_date IS NOT NULL AS marked,
           (SELECT max(e.effective_date) FROM ledger_events e
            WHERE e.hazard_id = h.id AND (e.sign = 1 OR e.kind = 'confirmed')) AS floor
    FROM hazards h WHERE h.status = 'active' ORDER BY h.national_id
    """
)


def _active(connection: Connection) -> list[_Hazard]:
    """Active hazards now, with the floor date the ledger enforces (last land added).

    Without polygons: most hazards see no field work in a year, so only the polygons of
    those drawn are fetched (:func:`_geometries`).
    """
    return [
        _Hazard(
            national_id=row.national_id,
            hazard_class=row.hazard_class,
            contamination=row.contamination,
            area_m2=row.area_m2,
            floor=row.floor,
            marked=row.marked,
        )
        for row in connection.execute(_ACTIVE)
    ]


def _geometries(connection: Connection, national_ids: Sequence[str]) -> dict[str, BaseGeometry]:
    """The current (lon/lat) polygons of the named hazards."""
    rows = connection.execute(
        text(
            "SELECT national_id, ST_AsBinary(geom) AS geom FROM hazards WHERE national_id = ANY(:n)"
        ),
        {"n": list(national_ids)},
    )
    return {row.national_id: shapely.from_wkb(row.geom) for row in rows}


# -- field results ---------------------------------------------------------------------------


def _half_plane(rng: np.random.Generator, geom: BaseGeometry, fraction: float) -> Polygon:
    """A rectangle covering one side of a random line across ``geom`` (metres).

    The line cuts the extent along a random bearing at ``fraction``, so the piece is a real
    part of the hazard, as a survey team walking in from one side would report it.
    """
    angle = rng.uniform(0, 2 * math.pi)
    u = np.array([math.cos(angle), math.sin(angle)])
    v = np.array([-u[1], u[0]])
    coords = shapely.get_coordinates(geom)
    along, across = coords @ u, coords @ v
    cut = along.min() + fraction * (along.max() - along.min())
    a0, b0, b1 = along.min() - 50.0, across.min() - 50.0, across.max() + 50.0
    corners = [a * u + b * v for a, b in ((a0, b0), (cut, b0), (cut, b1), (a0, b1))]
    return Polygon(corners)


def _disc(rng: np.random.Generator, geom: BaseGeometry, area_m2: float, scale: float) -> Polygon:
    """A disc centred inside ``geom`` (metres), of radius ``scale`` × the hazard's radius."""
    x, y = _random_point_in(rng, geom, tries=20)
    disc = Point(x, y).buffer(scale * math.sqrt(area_m2 / math.pi), quad_segs=8)
    return _densify(disc, MAX_EDGE_M)


def _items(rng: np.random.Generator, contamination: str, hectares: float) -> dict[ItemType, int]:
    """Items destroyed on ``hectares`` of clearance, drawn from the contamination's density."""
    rates = ITEMS_PER_HA[Contamination(contamination)]
    counts = {kind: int(rng.poisson(rate * hectares)) for kind, rate in rates.items()}
    return {kind: n for kind, n in counts.items() if n > 0}


def _choose(
    rng: np.random.Generator, hazard: _Hazard, window: tuple[dt.date, dt.date]
) -> _Choice | None:
    """Whether a hazard gets a release this year, and by which method (at most one a year)."""
    low = max(hazard.floor, window[0])
    draw = rng.random()
    if low > window[1]:
        return None
    for odds, kind in RELEASE_ODDS[hazard.hazard_class]:
        if draw < odds:
            return _Choice(hazard, kind, low)
        draw -= odds
    return None


def _plan_release(
    rng: np.random.Generator, choice: _Choice, geom: BaseGeometry, window_end: dt.date
) -> _Plan:
    """The land one release takes: the whole hazard, a disc of it, or one side of a line."""
    hazard, method = choice.hazard, choice.method
    epsg = _utm_epsg(geom)
    local = _project(geom, epsg)
    whole = rng.random() < WHOLE_ODDS[method]
    share = 1.0 if whole else float(rng.uniform(0.2, 0.8))
    if whole:
        piece: BaseGeometry = shapely.box(*local.bounds).buffer(100.0, join_style="mitre")
    elif method is EventKind.REDUCED and rng.random() < 0.5:
        piece = _disc(rng, local, hazard.area_m2, rng.uniform(0.4, 0.9))
    else:
        piece = _half_plane(rng, local, share)
    piece = _densify(piece, MAX_EDGE_M)
    items = (
        _items(rng, hazard.contamination, share * hazard.area_m2 / 10_000.0)
        if method is EventKind.CLEARED
        else {}
    )
    return _Plan(hazard, method, piece, epsg, _date_between(rng, choice.low, window_end), items)


def _confirm(ledger: Ledger, state: _State, window: tuple[dt.date, dt.date]) -> int:
    """Confirm some SHAs into CHAs, wholly or the disc around direct evidence; count them."""
    chosen = [
        hazard
        for hazard in _active(ledger.connection)
        if hazard.hazard_class == "SHA"
        and state.rng.random() < CONFIRM_ODDS
        and max(hazard.floor, window[0]) <= window[1]
    ]
    geoms = _geometries(ledger.connection, [h.national_id for h in chosen])
    for hazard in chosen:
        when = _date_between(state.rng, max(hazard.floor, window[0]), window[1])
        if state.rng.random() < CONFIRM_WHOLE_ODDS:
            ledger.confirm(hazard.national_id, effective_date=when, note="direct evidence (demo)")
        else:
            epsg = _utm_epsg(geoms[hazard.national_id])
            local = _project(geoms[hazard.national_id], epsg)
            disc = _disc(state.rng, local, hazard.area_m2, 0.5)
            ledger.confirm(
                hazard.national_id,
                disc,
                crs=epsg,
                effective_date=when,
                note="evidence of mines found in part of the area (demo)",
            )
    return len(chosen)


def _activities(
    ledger: Ledger, state: _State, plans: list[_Plan], year: int
) -> dict[tuple[EventKind, str], int]:
    """One activity per method and municipality for the year: the survey or clearance task.

    Its dates span the releases it reports and its items are theirs summed.
    """
    groups: dict[tuple[EventKind, str], list[_Plan]] = defaultdict(list)
    for plan in plans:
        groups[(plan.method, state.municipality_of[plan.hazard.base_id])].append(plan)
    ids: dict[tuple[EventKind, str], int] = {}
    for number, key in enumerate(sorted(groups, key=lambda k: (k[0].value, k[1])), start=1):
        members = groups[key]
        items: dict[ItemType, int] = defaultdict(int)
        for plan in members:
            for kind, n in plan.items.items():
                items[kind] += n
        ids[key] = ledger.add_activity(
            _ACTIVITY_OF[key[0]],
            reference=f"{_ACTIVITY_OF[key[0]].value}-{year}-{number:04d}",
            organisation=ORGANISATIONS[int(state.rng.integers(len(ORGANISATIONS)))],
            start_date=min(p.when for p in members),
            end_date=max(p.when for p in members),
            items=dict(items) or None,
        )
    return ids


def _release(
    ledger: Ledger, state: _State, window: tuple[dt.date, dt.date], year: int
) -> dict[EventKind, int]:
    """Plan this year's releases, open their activities, apply them in one bulk call."""
    chosen = [
        choice
        for hazard in _active(ledger.connection)
        if (choice := _choose(state.rng, hazard, window)) is not None
    ]
    geoms = _geometries(ledger.connection, [c.hazard.national_id for c in chosen])
    plans = [_plan_release(state.rng, c, geoms[c.hazard.national_id], window[1]) for c in chosen]
    activity = _activities(ledger, state, plans, year)
    ledger.release_many(
        [
            ReleaseRequest(
                national_id=p.hazard.national_id,
                method=p.method,
                geometry=p.geometry,
                crs=p.epsg,
                effective_date=p.when,
                activity_id=activity[(p.method, state.municipality_of[p.hazard.base_id])],
            )
            for p in plans
        ]
    )
    counts: dict[EventKind, int] = defaultdict(int)
    for plan in plans:
        counts[plan.method] += 1
    return counts


def _mark(ledger: Ledger, state: _State, window: tuple[dt.date, dt.date]) -> int:
    """Mark (and sometimes fence) a few CHAs not yet marked, as Action 18 asks."""
    done = 0
    for hazard in _active(ledger.connection):
        if hazard.hazard_class != "CHA" or hazard.marked or state.rng.random() >= MARK_ODDS:
            continue
        low = max(hazard.floor, window[0])
        if low > window[1]:
            continue
        marked = _date_between(state.rng, low, window[1])
        fenced = _date_between(state.rng, marked, window[1]) if state.rng.random() < 0.4 else None
        ledger.mark(hazard.national_id, marked=marked, fenced=fenced)
        done += 1
    return done


def _reopen(ledger: Ledger, state: _State, window: tuple[dt.date, dt.date]) -> int:
    """Residual contamination found in land released in an earlier year (a small disc of it)."""
    if state.rng.random() >= REOPEN_ODDS:
        return 0
    rows = ledger.connection.execute(
        text(
            """
            SELECT h.national_id, ST_AsBinary(ST_PointOnSurface(e.piece)) AS point
            FROM ledger_events e JOIN hazards h ON h.id = e.hazard_id
            WHERE e.kind IN ('cleared', 'reduced') AND e.effective_date < :start
              AND e.area_m2 > 2000 AND NOT h.national_id = ANY(:done)
            ORDER BY e.id
            """
        ),
        {"start": window[0], "done": sorted(state.reopened)},
    ).all()
    if not rows:
        return 0
    row = rows[int(state.rng.integers(len(rows)))]
    point = shapely.from_wkb(row.point)
    epsg = _utm_epsg(point)
    radius = float(state.rng.uniform(10.0, 25.0))
    disc = _densify(_project(point, epsg).buffer(radius, quad_segs=8), MAX_EDGE_M / 2)
    # One reopening per hazard, so no land is counted twice as residual contamination.
    state.reopened.add(row.national_id)
    ledger.reopen(
        row.national_id,
        disc,
        crs=epsg,
        effective_date=window[1],
        new_national_id=f"{row.national_id}-R1",
        note="item found by a farmer in released land; residual hazard recorded (demo)",
    )
    return 1


def _untouched(connection: Connection) -> set[str]:
    """Active hazards nothing was ever taken out of (no release, no confirmation out).

    The ledger refuses a correction that takes back land already released or confirmed out
    (that is a reopening), so a missed corner is added to a hazard nobody has worked on yet.
    """
    return set(
        connection.execute(
            text(
                "SELECT h.national_id FROM hazards h WHERE h.status = 'active' AND NOT EXISTS"
                " (SELECT 1 FROM ledger_events e WHERE e.hazard_id = h.id AND e.sign = -1)"
            )
        ).scalars()
    )


def _correct(ledger: Ledger, state: _State, window: tuple[dt.date, dt.date], grow: bool) -> int:
    """Correct one hazard's polygon with a reason: a corner dropped, or a missed piece added.

    The change is built in lon/lat from the stored polygon, so untouched vertices stay exact
    and the ledger records only the real difference.
    """
    hazards = [h for h in _active(ledger.connection) if h.area_m2 > 20_000]
    if grow:
        untouched = _untouched(ledger.connection)
        hazards = [h for h in hazards if h.national_id in untouched]
    if not hazards:
        return 0
    hazard = hazards[int(state.rng.integers(len(hazards)))]
    old = _geometries(ledger.connection, [hazard.national_id])[hazard.national_id]
    epsg = _utm_epsg(old)
    x, y = shapely.get_coordinates(_project(old, epsg))[0]
    radius = 0.4 * math.sqrt(hazard.area_m2 / math.pi)
    patch = _unproject(_densify(Point(x, y).buffer(radius, quad_segs=8), MAX_EDGE_M), epsg)
    if grow:
        muni = state.municipalities[state.municipality_of[hazard.base_id]]
        geom = _within_bih(old.union(patch), muni, state.entities)
        reason = "turning point misread on the field sheet; missed corner added (demo)"
    else:
        geom = polygons_only(old.difference(patch))
        reason = "perimeter re-walked with GNSS; corner digitised outside the hazard (demo)"
    ledger.correct(hazard.national_id, geom, crs=4326, effective_date=window[1], reason=reason)
    return 1


def _field_year(
    ledger: Ledger, state: _State, year: int, *, reopen: bool, corrections: Sequence[bool]
) -> str:
    """Apply one year of field results; returns the year's line for the progress log.

    Confirmations come first (they move the floor date of what they touch), then the bulk
    releases, marking, and last the reopenings and corrections dated at the year's end.
    """
    window = (dt.date(year, 1, 1), min(dt.date(year, 12, 31), state.today))
    confirmed = _confirm(ledger, state, window)
    released = _release(ledger, state, window, year)
    marked = _mark(ledger, state, window)
    reopened = _reopen(ledger, state, window) if reopen else 0
    corrected = sum(_correct(ledger, state, window, grow) for grow in corrections)
    return (
        f"{year}: {confirmed} confirmed, {released[EventKind.CANCELLED]} cancelled (NTS), "
        f"{released[EventKind.REDUCED]} reduced (TS), {released[EventKind.CLEARED]} cleared, "
        f"{marked} marked, {reopened} reopened, {corrected} corrected"
    )


def _correction_plan(start_year: int, end_year: int) -> dict[int, list[bool]]:
    """Two corrections: one shrink midway, one growth in the last year."""
    plan: dict[int, list[bool]] = defaultdict(list)
    plan[start_year + (end_year - start_year) // 2].append(False)
    plan[end_year].append(True)
    return plan


# -- the demo --------------------------------------------------------------------------------


def run_demo(
    engine: Engine,
    *,
    hazards: int = 3000,
    seed: int = 7,
    start_year: int = 2019,
    end_year: int = 2025,
    echo: Callable[[str], None] = print,
    today: dt.date | None = None,
) -> DemoResult:
    """Record generated hazards, apply field years, load regions, print and return the summary.

    The database must hold no hazards yet: the summary is the balance of the whole ledger.

    The bundled boundaries are read, validated and stored first, as a centre loads its
    boundaries before its data (hazards are placed with them): every transition of the field
    years is then measured into the regions its piece reaches, when its transaction commits.
    """
    started = time.perf_counter()
    if hazards < 1 or end_year < start_year:
        raise LandReleaseError("the demo needs at least one hazard and start_year <= end_year")
    today = today or default_today(end_year)
    rng = np.random.default_rng(seed)
    with engine.begin() as connection:
        _require_empty(connection)
    shapes = {level: read_regions(path) for level, path in bundled_region_files().items()}
    municipalities, entities = _municipalities(shapes[3]), _entities(shapes[1])
    inputs, municipality_of = _generate_hazards(municipalities, entities, hazards, rng, today)
    with engine.begin() as connection:
        for level, level_shapes in shapes.items():
            insert_regions(connection, level_shapes, level=level)
    with transaction(engine, today=today) as ledger:
        for first in range(0, len(inputs), RECORD_BATCH):
            ledger.record_many(inputs[first : first + RECORD_BATCH])
    refresh_statistics(engine)  # as an import of that many hazards does
    echo(f"recorded {len(inputs)} hazards ({RECORDING_YEARS[0]}-{RECORDING_YEARS[1]})")
    state = _State(rng, today, municipality_of, {m.code: m for m in municipalities}, entities)
    corrections = _correction_plan(start_year, end_year)
    for year in range(start_year, end_year + 1):
        if dt.date(year, 1, 1) > today:
            echo(f"{year}: skipped, it has not started yet (today is {today})")
            continue
        with transaction(engine, today=today) as ledger:
            echo(
                _field_year(
                    ledger,
                    state,
                    year,
                    reopen=year > start_year,
                    corrections=corrections.get(year, []),
                )
            )
    with engine.connect() as connection:
        result = collect(connection, today=today, started=started)
    for line in summary_lines(result, seed=seed, years=(start_year, end_year)):
        echo(line)
    return result


# -- the summary -----------------------------------------------------------------------------


def collect(connection: Connection, *, today: dt.date, started: float) -> DemoResult:
    """Read the demo's figures back from the database: the ledger, not the simulation.

    ``started`` is the :func:`time.perf_counter` reading when the run began.
    """
    flows: dict[tuple[str, int], tuple[int, float]] = {
        (row.kind, row.sign): (int(row.n), float(row.area))
        for row in connection.execute(
            text(
                "SELECT kind, sign, count(*) AS n, COALESCE(sum(area_m2), 0) AS area"
                " FROM ledger_events GROUP BY kind, sign"
            )
        )
    }
    corrected = connection.execute(
        text(
            "SELECT count(DISTINCT hazard_id) AS n, COALESCE(sum(sign * area_m2), 0) AS net"
            " FROM ledger_events WHERE kind = 'corrected'"
        )
    ).one()
    marks = connection.execute(
        text("SELECT count(marked_date) AS marked, count(fenced_date) AS fenced FROM hazards")
    ).one()
    balance = national_balance(connection)
    methods = ("cancelled", "reduced", "cleared")
    return DemoResult(
        regions=regions_per_level(connection),
        hazards_recorded=flows.get(("recorded", 1), (0, 0.0))[0],
        recorded_m2=flows.get(("recorded", 1), (0, 0.0))[1],
        active_hazards={row.hazard_class: row.active_hazards for row in balance},
        remaining_m2={row.hazard_class: row.remaining for row in balance},
        releases={m: flows.get((m, -1), (0, 0.0))[0] for m in methods},
        released_m2={m: flows.get((m, -1), (0, 0.0))[1] for m in methods},
        confirmations=flows.get(("confirmed", -1), (0, 0.0))[0],
        confirmed_m2=flows.get(("confirmed", -1), (0, 0.0))[1],
        reopened=flows.get(("reopened", 1), (0, 0.0))[0],
        reopened_m2=flows.get(("reopened", 1), (0, 0.0))[1],
        corrected_hazards=int(corrected.n),
        corrected_net_m2=float(corrected.net),
        marked=int(marks.marked),
        fenced=int(marks.fenced),
        items_destroyed=items_destroyed(connection),
        balance=balance,
        today=today,
        elapsed_s=time.perf_counter() - started,
    )


def _area(m2: float) -> str:
    """km² with 3 decimals for reading, the exact m² beside it for checking."""
    return f"{m2 / 1e6:,.3f} km² ({m2:,.0f} m²)"


def _balance_line(row: ClassBalance) -> str:
    verdict = "balanced" if row.balances else "GAP"
    gap = row.gap if round(row.gap, 3) else 0.0  # no "-0.000" for a gap that rounds away
    return (
        f"  {row.hazard_class}: {row.recorded:,.0f} + {row.confirmed_in:,.0f} + "
        f"{row.reopened:,.0f} {row.corrected:+,.0f} - {row.confirmed_out:,.0f} - "
        f"{row.released:,.0f} = {row.remaining:,.0f} m²; gap {gap:+.3f} m² {verdict}"
    )


def summary_lines(result: DemoResult, *, seed: int, years: tuple[int, int]) -> list[str]:
    """The printed summary: stock, flows by method, items, and the balance per class."""
    labels = {
        "cancelled": "cancelled through NTS",
        "reduced": "reduced through TS",
        "cleared": "cleared",
    }
    lines = [
        f"landrelease demo (seed {seed}, field years {years[0]}-{years[1]}, as of {result.today})",
        "regions loaded: "
        + ", ".join(f"level {lvl}: {n}" for lvl, n in sorted(result.regions.items())),
        f"hazards recorded: {result.hazards_recorded}, {_area(result.recorded_m2)}",
    ]
    for cls in ("SHA", "CHA"):
        lines.append(
            f"remaining {cls}: {result.active_hazards.get(cls, 0)} hazards, "
            f"{_area(result.remaining_m2.get(cls, 0.0))}"
        )
    lines.append(
        f"released: {_area(result.released_total_m2)}, "
        f"{result.released_share:.1%} of the recorded area"
    )
    for method, label in labels.items():
        lines.append(
            f"  {label}: {_area(result.released_m2[method])} in {result.releases[method]} releases"
        )
    lines += [
        f"confirmed SHA→CHA: {result.confirmations} confirmations, {_area(result.confirmed_m2)}",
        f"reopened: {result.reopened} hazards, {_area(result.reopened_m2)}",
        f"corrections: {result.corrected_hazards} hazards, net {result.corrected_net_m2:+,.0f} m²",
        f"marked: {result.marked} hazards, fenced: {result.fenced}",
        "items destroyed: "
        + (", ".join(f"{k} {v:,}" for k, v in result.items_destroyed.items()) or "none"),
        "balance (recorded + confirmed in + reopened ± corrected - confirmed out - released"
        " = remaining):",
        *(_balance_line(row) for row in result.balance),
        f"done in {result.elapsed_s:.1f} s",
    ]
    return lines


__all__ = [
    "ORGANISATIONS",
    "DemoResult",
    "collect",
    "default_today",
    "run_demo",
    "summary_lines",
]
