"""Ledger invariants as properties (DESIGN.md §3), on random hazards and random transitions.

Hypothesis draws hazards (irregular polygons, sometimes holed, sometimes multipart, anywhere
between 60°S and 70°N, sometimes given in their UTM zone's CRS) and sequences of 3-12 transitions
(cancel, reduce, clear, confirm part or whole, correct) on random boxes and circles near them,
some missing them entirely. Every transition runs on real PostGIS. After each sequence:

(a) conservation per hazard, and the stored remaining area is the Geod area of the geometry;
(b) no ground released twice, none released and still remaining, none released that was never
    added (overlaps are allowed only where a later correction explicitly added land back);
(c) the state as of any date equals the state the transitions left on that date;
(d) every row of the national stock-flow balance balances.

Expected areas come from ``pyproj.Geod`` on shapely geometry in this file, not from landrelease.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pytest
import shapely
from conftest import empty
from hypothesis import HealthCheck, Phase, assume, example, given, settings
from hypothesis import strategies as st
from pyproj import Geod, Transformer
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, Engine, text

from landrelease.errors import LandReleaseError, NoOverlap, TransitionRefused
from landrelease.geometry import densify_geodesic, polygons_only
from landrelease.indicators.balance import national_balance
from landrelease.release import SLIVER_M2, Confirmed, Released, transaction
from landrelease.snapshot import hazards_as_of, replayed_geometry
from landrelease.vocabulary import HazardClass

pytestmark = pytest.mark.db

GEOD = Geod(ellps="WGS84")
TODAY = dt.date(2025, 6, 30)
START = dt.date(2020, 1, 1)
ABS_TOL = 0.01  # m²
REL_TOL = 1e-9
RELEASES = ("cancel", "reduce", "clear")
OPS = (*RELEASES, "confirm_part", "confirm_whole", "correct")
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON_EQ = 111_320.0


# -- independent geometry helpers ------------------------------------------------------------


def polygonal(geom: BaseGeometry | None) -> MultiPolygon:
    """The polygonal parts of any geometry (None and empty give an empty MultiPolygon)."""
    if geom is None or geom.is_empty:
        return MultiPolygon()
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    flat: list[Polygon] = []
    for p in parts:
        flat.extend(p.geoms if p.geom_type == "MultiPolygon" else [p])
    return MultiPolygon([p for p in flat if not p.is_empty])


def geod_area(geom: BaseGeometry | None) -> float:
    """Geodesic area (m²) with pyproj.Geod, polygon by polygon on the oriented rings.

    Each polygon counts by magnitude: a spike with no area in the lon/lat plane still encloses
    ground between its geodesic edges, and its planar orientation says nothing about its sign.
    """
    total = 0.0
    for poly in polygonal(geom).geoms:
        area, _ = GEOD.geometry_area_perimeter(shapely.orient_polygons(poly))
        total += abs(area)
    return total


def union(geoms: list[BaseGeometry]) -> BaseGeometry:
    return shapely.union_all(geoms) if geoms else MultiPolygon()


@lru_cache(maxsize=128)
def _to_utm(epsg: int) -> Transformer:
    return Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)


@lru_cache(maxsize=128)
def _from_utm(epsg: int) -> Transformer:
    return Transformer.from_crs(f"EPSG:{epsg}", "EPSG:4326", always_xy=True)


def utm_epsg(lon: float, lat: float) -> int:
    zone = min(int((lon + 180) // 6) + 1, 60)
    return (32600 if lat >= 0 else 32700) + zone


def to_lonlat(geom: BaseGeometry, epsg: int) -> BaseGeometry:
    t = _from_utm(epsg)
    return shapely.transform(geom, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))


@dataclass(frozen=True)
class Frame:
    """Local metres around a hazard's centre, mapped to lon/lat or to its UTM zone."""

    lon: float
    lat: float
    radius: float
    epsg: int

    def lonlat(self, pts: list[tuple[float, float]]) -> list[tuple[float, float]]:
        k = M_PER_DEG_LON_EQ * math.cos(math.radians(self.lat))
        return [(self.lon + dx / k, self.lat + dy / M_PER_DEG_LAT) for dx, dy in pts]

    def utm(self, pts: list[tuple[float, float]]) -> list[tuple[float, float]]:
        e0, n0 = _to_utm(self.epsg).transform(self.lon, self.lat)
        return [(e0 + dx, n0 + dy) for dx, dy in pts]

    def polygon(
        self, shell: list[tuple[float, float]], holes: list[list[tuple[float, float]]], utm: bool
    ) -> Polygon:
        conv = self.utm if utm else self.lonlat
        return Polygon(conv(shell), [conv(h) for h in holes])


# -- strategies ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HazardSpec:
    frame: Frame
    shell: tuple[tuple[float, float], ...]  # (angle jitter, radius factor) per vertex
    hole: float | None  # radius factor of a hexagonal hole, if any
    second: bool  # a second, disjoint part
    utm: bool

    def star(self, scale: float = 1.0, dx: float = 0.0, dy: float = 0.0) -> list:
        n = len(self.shell)
        step = 2 * math.pi / n
        r0 = self.frame.radius * scale
        return [
            (dx + r0 * f * math.cos(step * (k + j)), dy + r0 * f * math.sin(step * (k + j)))
            for k, (j, f) in enumerate(self.shell)
        ]

    def geometry(self) -> tuple[BaseGeometry, int, BaseGeometry]:
        """(geometry as given, its EPSG code, the same in lon/lat computed here)."""
        r = self.frame.radius
        holes = []
        if self.hole is not None:
            holes.append(
                [
                    (r * self.hole * math.cos(a), r * self.hole * math.sin(a))
                    for a in np.linspace(0, 2 * math.pi, 7)[:-1]
                ]
            )
        parts = [self.frame.polygon(self.star(), holes, self.utm)]
        if self.second:
            parts.append(self.frame.polygon(self.star(0.8, 2.5 * r, 0.5 * r), [], self.utm))
        geom = parts[0] if len(parts) == 1 else MultiPolygon(parts)
        epsg = self.frame.epsg if self.utm else 4326
        lonlat = to_lonlat(geom, epsg) if self.utm else geom
        return geom, epsg, lonlat


@st.composite
def hazard_specs(draw: st.DrawFn) -> HazardSpec:
    lat = draw(st.floats(-60.0, 70.0))
    lon = draw(st.floats(-179.0, 179.0))
    radius = draw(st.floats(40.0, 3000.0))
    n = draw(st.integers(5, 12))
    shell = tuple(draw(st.tuples(st.floats(-0.25, 0.25), st.floats(0.4, 1.0))) for _ in range(n))
    hole = draw(st.none() | st.floats(0.05, 0.18))
    frame = Frame(lon, lat, radius, utm_epsg(lon, lat))
    return HazardSpec(frame, shell, hole, draw(st.booleans()), draw(st.booleans()))


@dataclass(frozen=True)
class Step:
    op: str
    target: int
    circle: bool
    cx: float  # centre offset in hazard radii
    cy: float
    size: float  # half-width or radius in hazard radii
    aspect: float
    far: bool
    utm: bool
    days: int


steps = st.builds(
    Step,
    op=st.sampled_from(OPS),
    target=st.integers(0, 7),
    circle=st.booleans(),
    cx=st.floats(-1.5, 1.5),
    cy=st.floats(-1.5, 1.5),
    size=st.floats(0.1, 1.3),
    aspect=st.floats(0.3, 3.0),
    far=st.integers(0, 7).map(lambda k: k == 0),
    utm=st.booleans(),
    days=st.integers(0, 90),
)


def request_geometry(step: Step, spec: HazardSpec) -> tuple[BaseGeometry, int, BaseGeometry]:
    """A box or circle near the hazard (or 12 radii north of it): as given, EPSG, lon/lat."""
    r = spec.frame.radius
    cx, cy = step.cx * r, step.cy * r + (12 * r if step.far else 0.0)
    w, h = step.size * r * step.aspect, step.size * r
    if step.circle:
        pts = [
            (cx + step.size * r * math.cos(a), cy + step.size * r * math.sin(a))
            for a in np.linspace(0, 2 * math.pi, 17)[:-1]
        ]
    else:
        pts = [(cx - w, cy - h), (cx + w, cy - h), (cx + w, cy + h), (cx - w, cy + h)]
    in_utm = step.utm and spec.utm
    geom = spec.frame.polygon(pts, [], in_utm)
    epsg = spec.frame.epsg if in_utm else 4326
    lonlat = to_lonlat(geom, epsg) if in_utm else geom
    # landrelease joins a polygon's vertices with geodesics (vertices added every 20 m): the
    # prediction must cut with the same edges, or km-long edges differ by their bulge.
    return geom, epsg, densify_geodesic(polygons_only(lonlat))


def geodesic_box(*bounds: float) -> BaseGeometry:
    """A lon/lat box whose edges are geodesics, as landrelease stores every polygon."""
    return densify_geodesic(polygons_only(box(*bounds)))


# -- database probes -------------------------------------------------------------------------


def fingerprint(conn: Connection) -> tuple:
    return conn.execute(
        text(
            """
            SELECT (SELECT count(*) FROM hazards), (SELECT count(*) FROM ledger_events),
                   (SELECT count(*) FROM activities), (SELECT count(*) FROM organisations),
                   (SELECT sum(area_m2) FROM hazards), (SELECT sum(area_m2) FROM ledger_events),
                   (SELECT max(version) FROM hazards),
                   (SELECT md5(string_agg(concat_ws('|', id, status, hazard_class, version,
                                                    md5(ST_AsEWKB(geom))), ',' ORDER BY id))
                    FROM hazards)
            """
        )
    ).one()


@dataclass(frozen=True)
class State:
    hazard_id: int
    national_id: str
    hazard_class: str
    status: str
    geom: BaseGeometry | None
    area_m2: float


def current(conn: Connection) -> dict[str, State]:
    rows = conn.execute(
        text(
            "SELECT id, national_id, hazard_class, status, ST_AsBinary(geom) AS wkb, area_m2"
            " FROM hazards ORDER BY id"
        )
    ).all()
    return {
        r.national_id: State(
            r.id,
            r.national_id,
            r.hazard_class,
            r.status,
            shapely.from_wkb(r.wkb) if r.wkb is not None else None,
            r.area_m2,
        )
        for r in rows
    }


def events_of(conn: Connection, hazard_id: int) -> list:
    rows = conn.execute(
        text(
            "SELECT id, kind, sign, area_m2, ST_AsBinary(piece) AS wkb FROM ledger_events"
            " WHERE hazard_id = :h ORDER BY effective_date, id"
        ),
        {"h": hazard_id},
    ).all()
    return [(r.kind, r.sign, r.area_m2, shapely.from_wkb(r.wkb)) for r in rows]


# -- running one step ------------------------------------------------------------------------


def run_step(
    engine: Engine,
    step: Step,
    when: dt.date,
    targets: list[tuple[str, HazardSpec]],
) -> None:
    """Apply one step, checking the outcome against what the current state predicts."""
    national_id, spec = targets[step.target % len(targets)]
    geom, epsg, lonlat = request_geometry(step, spec)
    with engine.connect() as conn:
        before = fingerprint(conn)
        state = current(conn)[national_id]
    overlap = geod_area(state.geom.intersection(lonlat)) if state.geom is not None else 0.0
    disjoint = state.geom is None or not state.geom.intersects(lonlat)
    closed = state.status == "released"

    error: LandReleaseError | None = None
    result: object = None
    try:
        with transaction(engine, today=TODAY) as ledger:
            if step.op in RELEASES:
                result = getattr(ledger, step.op)(
                    national_id, geom, crs=epsg, effective_date=when, note=f"step {step.op}"
                )
            elif step.op == "confirm_part":
                result = ledger.confirm(national_id, geom, crs=epsg, effective_date=when)
            elif step.op == "confirm_whole":
                result = ledger.confirm(national_id, effective_date=when)
            else:
                result = ledger.correct(
                    national_id, geom, crs=epsg, effective_date=when, reason="boundary resurveyed"
                )
    except LandReleaseError as exc:
        error = exc

    if error is not None:
        with engine.connect() as conn:
            assert fingerprint(conn) == before, f"{step.op} failed ({error}) but changed the DB"
        message = str(error)
        assert national_id in message, message
        if step.op == "correct":
            # A correction may not take back land already released or confirmed out.
            assert isinstance(error, TransitionRefused), f"{type(error).__name__}: {message}"
            assert "takes back" in message, message
            return
        possible_failure = step.op != "confirm_whole" or (
            closed or state.hazard_class == HazardClass.CHA.value
        )
        assert possible_failure, f"{step.op} should have succeeded: {error!r}"
        if closed:
            assert "closed" in message, message
        elif step.op.startswith("confirm") and state.hazard_class == HazardClass.CHA.value:
            assert isinstance(error, TransitionRefused), f"{type(error).__name__}: {message}"
        else:
            assert isinstance(error, NoOverlap), f"{type(error).__name__}: {message}"
            assert overlap <= 1.0, f"NoOverlap although {overlap:.3f} m² overlap: {message}"
        return

    # It succeeded: it had to be possible.
    assert not closed or step.op == "correct", f"{step.op} applied to a closed hazard"
    if step.op.startswith("confirm"):
        assert state.hazard_class == HazardClass.SHA.value, "a CHA was confirmed again"
    if step.op in (*RELEASES, "confirm_part"):
        assert not disjoint, f"{step.op} of a polygon disjoint from the hazard succeeded"
    if isinstance(result, Released):
        # Parts of a remainder in several parts that are below the sliver tolerance go with
        # the piece (release.py, "trimmed"): predicted from the parts, each measured here.
        parts = [geod_area(p) for p in polygonal(state.geom.difference(lonlat)).geoms]
        threads = sum(a for a in parts if a < SLIVER_M2) if len(parts) > 1 else 0.0
        rest = sum(parts) - threads
        tol = 1e-5 * state.area_m2 + 1e-3
        if result.closed:
            assert rest < 1.0 + tol, f"closed with {rest:.3f} m² left"
            assert abs(result.area_m2 - state.area_m2) <= tol
            assert result.remaining_m2 == 0
        else:
            assert rest > 1.0 - tol, f"left a sliver of {rest:.3f} m² open"
            assert abs(result.area_m2 - (overlap + threads)) <= tol
            assert abs(result.remaining_m2 - rest) <= tol
    if isinstance(result, Confirmed):
        if step.op == "confirm_part" and result.cha_national_id != national_id:
            assert abs(result.area_m2 - overlap) <= 1e-5 * overlap + 1e-3
            targets.append((result.cha_national_id, spec))
        else:
            assert abs(result.area_m2 - state.area_m2) <= 1e-9 * state.area_m2


# -- the invariants --------------------------------------------------------------------------


def check_invariants(conn: Connection, snapshots: dict[dt.date, dict[str, State]]) -> list[str]:
    """Every violation of (a)-(d), described; empty when all hold."""
    problems: list[str] = []

    def check(ok: bool, message: str) -> None:
        if not ok:
            problems.append(message)

    hazards = current(conn)
    for nid, hazard in hazards.items():
        events = events_of(conn, hazard.hazard_id)
        recorded = sum(area for _, sign, area, _ in events if sign > 0)
        tol = ABS_TOL + REL_TOL * recorded

        # (a) conservation, and geodesic truth of the stored remaining area
        signed = sum(sign * area for _, sign, area, _ in events)
        check(
            abs(signed - hazard.area_m2) <= tol,
            f"(a) {nid}: Σ sign·area = {signed!r} but hazards.area_m2 = {hazard.area_m2!r}"
            f" (gap {signed - hazard.area_m2:+.4f} m², tolerance {tol:.4f})",
        )
        if hazard.status == "released":
            check(hazard.geom is None and hazard.area_m2 == 0, f"(a) {nid}: released, not empty")
        else:
            # The stored area is what was recorded less every piece taken out, so its error
            # comes from those larger areas: a remainder of 1.4 m² left of a 5,000 m² hazard
            # was 4e-5 m² off (3e-5 of itself). Hence a floor of 1e-3 m², as for each step.
            expected = geod_area(hazard.geom)
            check(
                abs(hazard.area_m2 - expected) <= 1e-5 * expected + 1e-3,
                f"(a) {nid}: stored {hazard.area_m2!r} vs Geod {expected!r}",
            )
            if "-C" not in nid:  # a root hazard never stays open below the sliver size
                check(hazard.area_m2 >= 1.0 - 1e-5, f"{nid}: open sliver of {hazard.area_m2} m²")

        # (b) no double release
        added = union([piece for _, sign, _, piece in events if sign > 0])
        released = [
            (pos, piece)
            for pos, (kind, _, _, piece) in enumerate(events)
            if kind in ("cancelled", "reduced", "cleared")
        ]
        readded = [
            (pos, piece)
            for pos, (kind, sign, _, piece) in enumerate(events)
            if sign > 0 and kind in ("corrected", "reopened")
        ]

        def readded_between(lo: int, hi: int, readded: list = readded) -> BaseGeometry:
            return union([p for pos, p in readded if lo < pos < hi])

        remaining = hazard.geom if hazard.geom is not None else MultiPolygon()
        for i, (pos_a, a) in enumerate(released):
            outside = geod_area(a.difference(added))
            check(outside <= ABS_TOL, f"(b) {nid}: {outside} m² released that was never added")
            still = geod_area(
                a.intersection(remaining).difference(readded_between(pos_a, len(events)))
            )
            check(still <= ABS_TOL, f"(b) {nid}: {still} m² released and still remaining")
            for pos_b, b in released[i + 1 :]:
                twice = geod_area(a.intersection(b).difference(readded_between(pos_a, pos_b)))
                check(twice <= ABS_TOL, f"(b) {nid}: {twice} m² released twice")

        # (c) as of today, replayed from the ledger, is the current state
        replay = replayed_geometry(conn, hazard.hazard_id, TODAY)
        gap = geod_area(shapely.symmetric_difference(polygonal(replay), polygonal(hazard.geom)))
        check(gap <= tol, f"(c) {nid}: replay differs from the current geometry by {gap} m²")

    # (c) the snapshot on every date equals the state the transitions left that day
    for day, expected_states in snapshots.items():
        got = {s.national_id: s for s in hazards_as_of(conn, day)}
        check(set(got) == set(expected_states), f"(c) as of {day}: {sorted(got)}")
        for nid, want in expected_states.items():
            if nid not in got:
                continue
            have = got[nid]
            tol = ABS_TOL + REL_TOL * max(want.area_m2, have.area_m2)
            check(have.hazard_class == want.hazard_class, f"(c) {nid} as of {day}: class")
            check(have.status == want.status, f"(c) {nid} as of {day}: status")
            check(
                abs(have.area_m2 - want.area_m2) <= tol,
                f"(c) {nid} as of {day}: area {have.area_m2!r} vs {want.area_m2!r}",
            )
            gap = geod_area(
                shapely.symmetric_difference(polygonal(have.geom), polygonal(want.geom))
            )
            check(gap <= tol, f"(c) {nid} as of {day}: geometry differs by {gap} m²")

    # (d) the national balance balances
    for row in national_balance(conn):
        check(row.balances, f"(d) {row.hazard_class} does not balance: gap {row.gap} m²")
    return problems


# -- the property ----------------------------------------------------------------------------


@settings(
    max_examples=int(os.environ.get("LR_EXAMPLES", "30")),
    deadline=None,
    database=None,
    # Each example is a real PostGIS session; shrinking one takes minutes, so failures are
    # reported as drawn (the deterministic tests below pin down each failure found so far).
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    specs=st.lists(hazard_specs(), min_size=1, max_size=2),
    sequence=st.lists(steps, min_size=3, max_size=12),
)
# Found by this test: a CHA confirmed out of part of a hazard held, beside its land, a thread
# of 0.004 m²; a clearance 23 m away from it then "cleared" that thread instead of being
# refused, because threads of the remainder went with any piece, even an empty one (release.py
# now takes threads only with a piece that is land).
@example(
    specs=[
        HazardSpec(
            frame=Frame(
                lon=177.60502603757453,
                lat=11.230630232581461,
                radius=66.22085790338156,
                epsg=32660,
            ),
            shell=(
                (3.4421231107511834e-260, 0.9113249246485147),
                (-0.17965675559998617, 0.7628742308217165),
                (-0.23855495952401773, 0.42954363741579216),
                (0.0, 0.5766780280458625),
                (0.06127746157224795, 0.48151222125104515),
                (-0.15038059775025567, 0.8611474523896887),
                (-1.1276905900807706e-201, 0.977841836153157),
                (-0.10251912508173475, 0.5723729758410064),
                (1.2787493176212175e-299, 0.9824728329531053),
                (0.07865593788956154, 0.860701776352126),
                (0.01, 0.9382249036173589),
                (0.1525660479183314, 0.45028210804361535),
            ),
            hole=None,
            second=False,
            utm=False,
        )
    ],
    sequence=[
        Step(
            "reduce",
            2,
            False,
            0.07221972079048555,
            0.6976593685017574,
            1.0,
            2.8487826776184115,
            True,
            True,
            33,
        ),
        Step(
            "cancel",
            2,
            False,
            0.05,
            0.10503850082989707,
            0.299984877527824,
            0.40351560127780106,
            False,
            False,
            90,
        ),
        Step(
            "clear",
            3,
            False,
            0.42504513648712017,
            -0.7825633809675465,
            1.2117574449808994,
            0.5454913624973505,
            False,
            False,
            45,
        ),
        Step(
            "confirm_part",
            2,
            False,
            2.225073858507203e-309,
            1.313813074535786,
            0.8939691130834594,
            1.5282025955735876,
            False,
            False,
            51,
        ),
        Step(
            "confirm_whole",
            1,
            True,
            -0.08968528479041771,
            1.1,
            1.0,
            0.8828265153447741,
            False,
            True,
            44,
        ),
        Step(
            "confirm_part",
            4,
            False,
            -1.499340175626461,
            0.6782392342249999,
            0.12649709930339298,
            1.0,
            False,
            True,
            90,
        ),
        Step(
            "clear",
            1,
            False,
            1e-05,
            -1.1956999020562709,
            1.2651589770070626,
            0.49573243217459984,
            False,
            False,
            38,
        ),
    ],
)
# Found by this test: after seven steps a hazard at the equator was left with 1.42 m², stored
# 4e-5 m² off its geodesic area, which a tolerance relative to the remainder alone refused.
@example(
    specs=[
        HazardSpec(
            frame=Frame(lon=-3.435025464954875e-22, lat=1e-09, radius=40.0, epsg=32631),
            shell=(
                (0.10177473167368362, 0.9732256414948248),
                (0.06141648847208153, 0.47503468127833653),
                (6.689930171302545e-166, 0.8990212256033558),
                (0.01, 0.749509041899111),
                (-2.225073858507e-311, 0.5617848837250751),
            ),
            hole=0.14729985426003378,
            second=False,
            utm=True,
        )
    ],
    sequence=[
        Step(
            "confirm_part",
            5,
            False,
            -0.7165516795957017,
            1.0585266241635036,
            0.99999,
            2.289314948567978,
            False,
            False,
            62,
        ),
        Step(
            "clear",
            4,
            True,
            -0.12518974284032147,
            -0.45680062089759477,
            1.1,
            1.0973784696028335,
            False,
            False,
            75,
        ),
        Step(
            "reduce",
            1,
            True,
            0.4577177512548132,
            0.5172816725635947,
            0.37453887494986005,
            0.3410246362471134,
            False,
            True,
            65,
        ),
        Step("clear", 2, False, 1.5, 0.01, 0.16415054841981336, 0.99999, False, False, 68),
        Step(
            "confirm_part",
            3,
            True,
            -0.07023194607363825,
            -0.7093021065520657,
            1.2106474975623172,
            1.0759429183603861,
            False,
            False,
            10,
        ),
        Step(
            "confirm_whole",
            3,
            False,
            -0.1600612925259135,
            -0.5,
            1.233059855355298,
            0.9525370659374621,
            False,
            True,
            26,
        ),
        Step(
            "confirm_whole",
            6,
            False,
            -8.64121805841959e-227,
            0.41083024366270937,
            1.0,
            0.7962441702065637,
            False,
            False,
            50,
        ),
    ],
)
# Found by this test: a circle cancelled over most of a hazard at the equator left the rest in
# two parts, one of 0.83 m², which the ledger released with the piece as it should; the test
# predicted the piece alone (its model was fixed, to count such parts with the piece).
@example(
    specs=[
        HazardSpec(
            frame=Frame(
                lon=1.1754943508222875e-38,
                lat=-4.983580132667306,
                radius=298.257223563,
                epsg=32731,
            ),
            shell=(
                (0.1428261103477989, 0.6603620837107478),
                (-0.19988358337049572, 0.813532879353614),
                (1.192092896e-07, 0.5),
                (-0.1509769928205845, 0.9443885580954361),
                (2.119650067524631e-222, 0.4),
            ),
            hole=None,
            second=False,
            utm=False,
        )
    ],
    sequence=[
        Step(
            "cancel",
            5,
            True,
            -7.320154784373619e-41,
            5.960464477539063e-08,
            0.8261199349938058,
            2.5093703619741996,
            False,
            False,
            78,
        ),
        Step(
            "confirm_whole",
            3,
            False,
            0.0,
            0.10710381896049093,
            1.1,
            0.689397147830483,
            False,
            True,
            40,
        ),
        Step(
            "confirm_whole",
            0,
            False,
            -1.2411213967260515,
            1.0630841496768877,
            1.231684350631521,
            1.5633785387205117,
            False,
            True,
            80,
        ),
    ],
)
# Found by this test: the replay subtracted three pieces and kept a 1.3e-4 m² residue where the
# live release had closed the hazard on its sliver (fixed by migration 0005).
@example(
    specs=[
        HazardSpec(
            frame=Frame(
                lon=1.1255237013020892e-38,
                lat=-47.01192868204777,
                radius=435.0629375018084,
                epsg=32731,
            ),
            shell=(
                (5e-324, 0.40606014113160455),
                (-0.12728336915286884, 0.8876672612737508),
                (0.10610819743746841, 1.0),
                (-0.051954836224367085, 1.0),
                (-0.12424366413143659, 0.6391284017466493),
                (-0.2396270963551148, 0.5),
                (0.25, 0.8005490898160743),
            ),
            hole=None,
            second=False,
            utm=False,
        )
    ],
    sequence=[
        Step(
            "clear",
            6,
            False,
            5.7e-164,
            -1.5,
            0.372736824878675,
            1.5920066386604648,
            True,
            False,
            37,
        ),
        Step(
            "reduce",
            1,
            True,
            0.589376834397827,
            1.032146766401067,
            0.6189490926541963,
            1.5426559985459385,
            False,
            True,
            52,
        ),
        Step(
            "clear",
            5,
            True,
            -0.6644182072883262,
            -0.9526443179372616,
            0.20997581484244032,
            2.8668182059661818,
            False,
            True,
            5,
        ),
        Step(
            "clear",
            7,
            True,
            -1.75e-278,
            -0.701265296643554,
            0.99999,
            1.9808357015615479,
            False,
            False,
            88,
        ),
        Step(
            "reduce",
            3,
            True,
            -5.8e-161,
            -1.1e-39,
            1.161049395335546,
            0.9484174342073093,
            False,
            False,
            68,
        ),
        Step(
            "cancel",
            0,
            True,
            3.4e-44,
            2.1e-176,
            0.8541979644504227,
            1.8254886252991216,
            False,
            False,
            46,
        ),
        Step(
            "confirm_part",
            1,
            True,
            1.9e-210,
            -0.009438216494112694,
            0.3333333333333333,
            2.8297065556738463,
            False,
            True,
            67,
        ),
        Step(
            "correct",
            1,
            False,
            0.12141450770589479,
            1.0,
            0.291980844135476,
            2.065411026152757,
            False,
            False,
            52,
        ),
        Step(
            "correct",
            5,
            True,
            1.49e-158,
            1.0,
            1.2132253741919656,
            1.8023286559492409,
            True,
            False,
            47,
        ),
    ],
)
def test_ledger_invariants(engine: Engine, specs: list[HazardSpec], sequence: list[Step]) -> None:
    geoms = [spec.geometry() for spec in specs]
    assume(all(polygonal(g[2]).is_valid and g[0].is_valid for g in geoms))
    empty(engine)
    targets: list[tuple[str, HazardSpec]] = []
    with transaction(engine, today=TODAY) as ledger:
        for k, (spec, (geom, epsg, lonlat)) in enumerate(zip(specs, geoms, strict=True)):
            national_id = f"H{k}"
            recorded = ledger.record(
                national_id, HazardClass.SHA, geom, crs=epsg, recorded_date=START
            )
            expected = geod_area(lonlat)
            assert abs(recorded.area_m2 - expected) <= 1e-5 * expected
            targets.append((national_id, spec))

    snapshots: dict[dt.date, dict[str, State]] = {}
    when = START
    with engine.connect() as conn:
        snapshots[when] = current(conn)
    for step in sequence:
        when = when + dt.timedelta(days=step.days)
        run_step(engine, step, when, targets)
        with engine.connect() as conn:
            snapshots[when] = current(conn)  # the last step of a day wins

    with engine.connect() as conn:
        snapshots[TODAY] = current(conn)
        problems = check_invariants(conn, snapshots)
    assert not problems, "\n".join(problems)


# -- as of a past date -----------------------------------------------------------------------


def test_as_of_past_dates_returns_the_earlier_state(db: Engine) -> None:
    whole = geodesic_box(17.80, 44.20, 17.82, 44.21)
    west = geodesic_box(17.80, 44.20, 17.81, 44.21)
    east = geodesic_box(17.81, 44.20, 17.82, 44.21)
    with transaction(db, today=TODAY) as ledger:
        ledger.record("BA-1", HazardClass.SHA, whole, crs=4326, recorded_date=START)
        ledger.record("BA-2", HazardClass.SHA, east, crs=4326, recorded_date=START)
    with transaction(db, today=TODAY) as ledger:
        ledger.cancel("BA-1", west, crs=4326, effective_date=dt.date(2021, 6, 1))
    with transaction(db, today=TODAY) as ledger:
        ledger.confirm("BA-2", effective_date=dt.date(2022, 3, 1))
    with transaction(db, today=TODAY) as ledger:
        part = geodesic_box(17.80, 44.200, 17.82, 44.205)
        confirmed = ledger.confirm("BA-1", part, crs=4326, effective_date=dt.date(2023, 2, 1))
    assert confirmed.cha_national_id == "BA-1-C1"

    def state(day: dt.date) -> dict[str, object]:
        with db.connect() as conn:
            return {s.national_id: s for s in hazards_as_of(conn, day)}

    assert state(dt.date(2019, 12, 31)) == {}

    s2021 = state(dt.date(2021, 1, 1))
    assert set(s2021) == {"BA-1", "BA-2"}
    assert s2021["BA-1"].hazard_class == "SHA"
    assert abs(s2021["BA-1"].area_m2 - geod_area(whole)) <= 1e-5 * geod_area(whole)
    assert geod_area(shapely.symmetric_difference(s2021["BA-1"].geom, whole)) <= ABS_TOL

    # What BA-1 keeps is bounded by its own (longer) geodesic edges, not by east's.
    remainder = whole.difference(west)
    s2022 = state(dt.date(2022, 1, 1))
    assert abs(s2022["BA-1"].area_m2 - geod_area(remainder)) <= 1e-5 * geod_area(remainder)
    assert geod_area(shapely.symmetric_difference(s2022["BA-1"].geom, remainder)) <= ABS_TOL
    assert s2022["BA-2"].hazard_class == "SHA"
    assert s2022["BA-2"].status == "active"

    s2022b = state(dt.date(2022, 6, 1))
    assert s2022b["BA-2"].hazard_class == "CHA"
    assert abs(s2022b["BA-2"].area_m2 - geod_area(east)) <= 1e-5 * geod_area(east)
    assert "BA-1-C1" not in s2022b

    s2024 = state(dt.date(2024, 1, 1))
    # The confirmed part's own geodesic edge at 44.205° now bounds both pieces.
    child = remainder.intersection(part)
    rest = remainder.difference(part)
    assert s2024["BA-1-C1"].hazard_class == "CHA"
    assert abs(s2024["BA-1-C1"].area_m2 - geod_area(child)) <= 1e-5 * geod_area(child)
    assert abs(s2024["BA-1"].area_m2 - geod_area(rest)) <= 1e-5 * geod_area(rest)
    assert s2024["BA-1"].hazard_class == "SHA"

    # The as-of state a year back is unchanged by everything recorded since.
    with db.connect() as conn:
        hid = conn.execute(text("SELECT id FROM hazards WHERE national_id = 'BA-1'")).scalar_one()
        past = replayed_geometry(conn, hid, dt.date(2021, 12, 31))
        before = replayed_geometry(conn, hid, dt.date(2020, 6, 1))
    assert geod_area(shapely.symmetric_difference(past, remainder)) <= ABS_TOL
    assert geod_area(shapely.symmetric_difference(before, whole)) <= ABS_TOL


def test_as_of_released_hazard_and_correction(db: Engine) -> None:
    """A wholly cleared hazard is released from its date on; a correction shows from its date."""
    square = geodesic_box(25.00, 60.20, 25.01, 60.205)
    # Grown eastwards only: the old edges stay, so nothing is removed.
    bigger = square.union(geodesic_box(25.01, 60.20, 25.02, 60.205))
    with transaction(db, today=TODAY) as ledger:
        ledger.record("FI-1", HazardClass.CHA, square, crs=4326, recorded_date=START)
        ledger.record("FI-2", HazardClass.SHA, square, crs=4326, recorded_date=START)
    with transaction(db, today=TODAY) as ledger:
        cleared = ledger.clear(
            "FI-1", square.buffer(0.001), crs=4326, effective_date=dt.date(2021, 1, 1)
        )
        added, removed = ledger.correct(
            "FI-2", bigger, crs=4326, effective_date=dt.date(2022, 1, 1), reason="resurvey"
        )
    assert cleared.closed
    assert abs(added - geod_area(bigger.difference(square))) <= 1e-5 * added
    assert removed == 0
    with db.connect() as conn:
        before = {s.national_id: s for s in hazards_as_of(conn, dt.date(2020, 12, 31))}
        after = {s.national_id: s for s in hazards_as_of(conn, dt.date(2022, 1, 1))}
    assert before["FI-1"].status == "active"
    assert abs(before["FI-1"].area_m2 - geod_area(square)) <= 1e-5 * geod_area(square)
    assert after["FI-1"].status == "released"
    assert after["FI-1"].area_m2 == 0
    assert after["FI-1"].geom is None
    assert abs(before["FI-2"].area_m2 - geod_area(square)) <= 1e-5 * geod_area(square)
    assert abs(after["FI-2"].area_m2 - geod_area(bigger)) <= 1e-5 * geod_area(bigger)


# -- deterministic cases the property found ----------------------------------------------------


def test_conservation_after_cutting_a_large_hazard_at_60n(db: Engine) -> None:
    """Recorded − cancelled = remaining (invariant 1) for a 2 km square cut in two at 60°N.

    The cut meets the square's north and south edges at their midpoints; the halves' geodesic
    areas must add up to the whole within 0.01 m² + 1e-9 relative, as the ledger claims.
    """
    whole = geodesic_box(20.0, 60.0, 20.04, 60.02)
    west = geodesic_box(19.9, 59.9, 20.02, 60.1)
    with transaction(db, today=TODAY) as ledger:
        recorded = ledger.record("FI-60", HazardClass.SHA, whole, crs=4326, recorded_date=START)
        released = ledger.cancel("FI-60", west, crs=4326, effective_date=dt.date(2021, 1, 1))
    assert abs(recorded.area_m2 - geod_area(whole)) <= 1e-5 * geod_area(whole)
    gap = recorded.area_m2 - released.area_m2 - released.remaining_m2
    tol = ABS_TOL + REL_TOL * recorded.area_m2
    nonadditive = geod_area(whole) - geod_area(whole & west) - geod_area(whole - west)
    assert abs(gap) <= tol, (
        f"recorded {recorded.area_m2!r} − cancelled {released.area_m2!r} − remaining "
        f"{released.remaining_m2!r} = {gap:+.4f} m² (tolerance {tol:.4f}); Geod gives "
        f"{nonadditive:+.4f} m² for whole − west half − east half: the halves are cut along "
        "straight lon/lat lines but measured along geodesics"
    )
    with db.connect() as conn:
        problems = check_invariants(conn, {})
    assert not problems, "\n".join(problems)


def test_as_of_between_two_releases_is_the_state_then(db: Engine) -> None:
    """As of a date between two releases, the hazard is what the first release left.

    A 2 km diamond at 60°N (slanted edges, so the cut points are rounded off the edges), cut on
    2021-01-01; a small piece of the east tip cancelled on 2022-01-01.
    """
    diamond = Polygon([(25.0, 60.0), (25.02, 60.01), (25.0, 60.02), (24.98, 60.01)])
    cut = box(24.9, 59.9, 25.007, 60.1)
    tip = box(25.018, 60.0, 25.1, 60.1)
    with transaction(db, today=TODAY) as ledger:
        ledger.record("FI-D", HazardClass.SHA, diamond, crs=4326, recorded_date=START)
        first = ledger.cancel("FI-D", cut, crs=4326, effective_date=dt.date(2021, 1, 1))
    with db.connect() as conn:
        then = current(conn)["FI-D"]
    with transaction(db, today=TODAY) as ledger:
        ledger.cancel("FI-D", tip, crs=4326, effective_date=dt.date(2022, 1, 1))
    expected = geod_area(diamond - cut)
    assert abs(first.remaining_m2 - expected) <= 1e-5 * expected
    with db.connect() as conn:
        (state,) = hazards_as_of(conn, dt.date(2021, 6, 1))
        replay_today = replayed_geometry(conn, then.hazard_id, TODAY)
        now = current(conn)["FI-D"]
    tol = ABS_TOL + REL_TOL * geod_area(diamond)
    gap = geod_area(shapely.symmetric_difference(polygonal(state.geom), polygonal(then.geom)))
    assert abs(state.area_m2 - then.area_m2) <= tol and gap <= tol, (
        f"as of 2021-06-01: area {state.area_m2!r}, but the release left {then.area_m2!r} "
        f"(difference {state.area_m2 - then.area_m2:+.3f} m², geometries differ by {gap:.3f} "
        "m² of spikes with no area in the lon/lat plane left by lr_hazard_geom_as_of's "
        "ST_Difference(g, piece))"
    )
    gap_today = geod_area(shapely.symmetric_difference(polygonal(replay_today), now.geom))
    assert gap_today <= tol, f"replay as of today differs from the hazard by {gap_today} m²"


def test_the_replay_closes_on_the_same_sliver_as_a_release(engine: Engine) -> None:
    """The SQL replay cannot import SLIVER_M2: the number written in it must be the same."""
    with engine.connect() as conn:
        source = conn.execute(
            text("SELECT prosrc FROM pg_proc WHERE proname = 'lr_hazard_geom_as_of'")
        ).scalar_one()
    assert f"lr_area_m2(g) < {SLIVER_M2!r}" in source
