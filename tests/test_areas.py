"""Stored areas are geodesic truth (DESIGN.md §3, invariant 3), against real PostGIS.

Every expected area here is computed in the test itself with ``pyproj.Geod(ellps="WGS84")`` on
the oriented polygon (GeographicLib), independently of landrelease's own ``geodesic_area_m2``,
and compared with what the database stored: ``hazards.area_m2``, ``ledger_events.area_m2`` and
the SQL function ``lr_area_m2``. Polygons given in a UTM CRS are transformed here with our own
``pyproj.Transformer`` so the expected lon/lat polygon does not come from the code under test.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
import shapely
from conftest import empty
from pyproj import CRS, Geod, Transformer
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Engine, text

from landrelease.geometry import prepare_polygon
from landrelease.release import transaction
from landrelease.vocabulary import HazardClass

pytestmark = pytest.mark.db

GEOD = Geod(ellps="WGS84")
TODAY = dt.date(2024, 6, 30)
RECORDED = dt.date(2020, 1, 1)
REL = 1e-5


def geod_area(geom: BaseGeometry) -> float:
    """Geodesic area on WGS84 of a lon/lat (Multi)Polygon, oriented first (CCW shells)."""
    area, _ = GEOD.geometry_area_perimeter(shapely.orient_polygons(geom))
    assert area > 0, "an oriented polygon must have a positive Geod area"
    return area


def star(lon: float, lat: float, radius_m: float, n: int = 9, seed: int = 1) -> Polygon:
    """An irregular, simple polygon around (lon, lat): vertices at increasing angles."""
    pts = []
    for k in range(n):
        step = 2 * math.pi / n
        angle = step * (k + 0.35 * math.sin(seed * (k + 1)))
        r = radius_m * (0.65 + 0.35 * abs(math.cos(seed * 1.7 * (k + 2))))
        dx, dy = r * math.cos(angle), r * math.sin(angle)
        pts.append((lon + dx / (111_320 * math.cos(math.radians(lat))), lat + dy / 110_574))
    poly = Polygon(pts)
    assert poly.is_valid
    return poly


def to_lonlat(geom: BaseGeometry, epsg: int) -> BaseGeometry:
    """Our own vertex-by-vertex transform to lon/lat, independent of landrelease.geometry."""
    transformer = Transformer.from_crs(CRS.from_epsg(epsg), CRS.from_epsg(4326), always_xy=True)
    return shapely.transform(
        geom, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
    )


def stored(engine: Engine, national_id: str) -> dict:
    """What the database holds for a hazard: geometry, areas and its ``recorded`` event."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                """
                SELECT h.id, ST_AsBinary(h.geom) AS wkb, h.area_m2, lr_area_m2(h.geom) AS fn_area,
                       e.area_m2 AS event_area, lr_area_m2(e.piece) AS event_fn_area,
                       ST_AsBinary(e.piece) AS piece_wkb, ST_SRID(h.geom) AS srid
                FROM hazards h JOIN ledger_events e ON e.hazard_id = h.id AND e.kind = 'recorded'
                WHERE h.national_id = :n
                """
            ),
            {"n": national_id},
        ).one()
    return {
        "geom": shapely.from_wkb(row.wkb),
        "piece": shapely.from_wkb(row.piece_wkb),
        "area_m2": row.area_m2,
        "fn_area": row.fn_area,
        "event_area": row.event_area,
        "event_fn_area": row.event_fn_area,
        "srid": row.srid,
    }


def record(engine: Engine, national_id: str, geom: BaseGeometry, crs: object) -> float:
    with transaction(engine, today=TODAY) as ledger:
        result = ledger.record(national_id, HazardClass.SHA, geom, crs=crs, recorded_date=RECORDED)
    return result.area_m2


def assert_close(actual: float, expected: float, rel: float = REL) -> None:
    assert expected > 0
    assert abs(actual - expected) <= rel * expected, (
        f"{actual!r} vs Geod {expected!r}: relative error {abs(actual - expected) / expected:.2e}"
    )


# (national ID, geometry as given, CRS as given, EPSG of the given coordinates)
BOSNIA = star(17.8, 44.2, 1500.0, n=11, seed=2)
NORTH_60 = star(25.0, 60.2, 8000.0, n=13, seed=3)
EQUATOR = Polygon(
    [(32.50, -0.012), (32.53, -0.010), (32.528, 0.004), (32.541, 0.015), (32.49, 0.011)]
)
SOUTH_35 = star(149.1, -35.3, 2500.0, n=10, seed=5)
SOUTH_35_WEST = star(-58.4, -34.9, 900.0, n=7, seed=6)
SHELL = star(102.6, 19.9, 3000.0, n=12, seed=7)
# The hole is wound counter-clockwise like the shell: the Geod trap adds it instead of subtracting.
HOLE = Polygon(list(star(102.6, 19.9, 900.0, n=8, seed=8).exterior.coords))
HOLED = Polygon(
    shapely.orient_polygons(SHELL).exterior.coords,
    [shapely.orient_polygons(HOLE).exterior.coords],
)
MULTI = MultiPolygon([star(103.5, 13.4, 700.0, seed=9), star(103.53, 13.41, 400.0, seed=10)])
# Zone 33 coordinates reaching east of 18°E (the zone 33/34 border) at about 44°N,
# and zone 34 coordinates reaching west of it.
UTM33 = Polygon(
    [(725_000, 4_870_000), (771_000, 4_866_000), (776_000, 4_902_000), (731_000, 4_899_000)]
)
UTM34 = Polygon(
    [(232_000, 4_870_000), (281_000, 4_868_000), (276_000, 4_905_000), (236_000, 4_901_000)]
)

CASES = [
    ("BA-44N", BOSNIA, 4326, 4326),
    ("FI-60N", NORTH_60, "EPSG:4326", 4326),
    ("UG-EQ", EQUATOR, 4326, 4326),
    ("AU-35S", SOUTH_35, 4326, 4326),
    ("AR-35S", SOUTH_35_WEST, CRS.from_epsg(4326), 4326),
    ("LA-HOLE", HOLED, 4326, 4326),
    ("KH-MULTI", MULTI, 4326, 4326),
    ("BA-UTM33", UTM33, 32633, 32633),
    ("BA-UTM34", UTM34, "EPSG:32634", 32634),
]


@pytest.mark.parametrize(("national_id", "geom", "crs", "epsg"), CASES, ids=[c[0] for c in CASES])
def test_stored_areas_agree_with_geod(
    db: Engine, national_id: str, geom: BaseGeometry, crs: object, epsg: int
) -> None:
    expected_geom = geom if epsg == 4326 else to_lonlat(geom, epsg)
    expected = geod_area(expected_geom)

    returned = record(db, national_id, geom, crs)
    got = stored(db, national_id)

    assert got["srid"] == 4326
    # The stored polygon is the given one in lon/lat, re-oriented and with vertices added
    # along its geodesic edges: every original vertex is kept and no point strays further
    # than the geodesic's bulge from the straight lon/lat edge (well under 1e-6°, ~0.1 m).
    original = shapely.get_coordinates(expected_geom)
    kept = shapely.get_coordinates(got["geom"])
    assert all((abs(kept - vertex).max(axis=1) < 1e-12).any() for vertex in original)
    # A geodesic bulges from the straight lon/lat edge by about L² tan(lat) / 8R.
    coords = shapely.get_coordinates(expected_geom)
    _, _, lengths = GEOD.inv(coords[:-1, 0], coords[:-1, 1], coords[1:, 0], coords[1:, 1])
    lat = math.radians(abs(coords[:, 1]).max())
    bulge_m = max(lengths) ** 2 * math.tan(lat) / (8 * 6_371_000)
    bound = 2 * bulge_m / (111_320 * math.cos(lat)) + 1e-9
    assert shapely.hausdorff_distance(got["geom"], expected_geom) < bound
    assert shapely.equals(got["piece"], got["geom"])
    for value in (
        returned,
        got["area_m2"],
        got["fn_area"],
        got["event_area"],
        got["event_fn_area"],
    ):
        assert_close(value, expected)
    # The stored geometry itself measures the same with Geod.
    assert_close(got["area_m2"], geod_area(got["geom"]))


def test_utm_hazards_really_cross_the_zone_border() -> None:
    """The UTM cases are what they claim: given in one zone, extending into the next."""
    lons33 = shapely.get_coordinates(to_lonlat(UTM33, 32633))[:, 0]
    assert lons33.min() < 18.0 < lons33.max()
    lons34 = shapely.get_coordinates(to_lonlat(UTM34, 32634))[:, 0]
    assert lons34.min() < 18.0 < lons34.max()


def test_hole_is_subtracted_and_parts_are_added(db: Engine) -> None:
    """Worked by hand from separate rings: shell − hole, and part 1 + part 2."""
    shell_only = geod_area(Polygon(SHELL.exterior.coords))
    hole_only = geod_area(HOLE)
    assert hole_only > 0.05 * shell_only  # the hole matters at the 1e-5 level many times over
    record(db, "LA-HOLE", HOLED, 4326)
    assert_close(stored(db, "LA-HOLE")["area_m2"], shell_only - hole_only)

    parts = [geod_area(p) for p in MULTI.geoms]
    record(db, "KH-MULTI", MULTI, 4326)
    assert_close(stored(db, "KH-MULTI")["area_m2"], sum(parts))


def test_clockwise_input_gives_positive_area(db: Engine) -> None:
    ccw = shapely.orient_polygons(BOSNIA)
    cw = Polygon(list(ccw.exterior.coords)[::-1])
    assert not cw.exterior.is_ccw
    raw_cw, _ = GEOD.geometry_area_perimeter(cw)
    assert raw_cw < 0  # the trap this guards against: Geod is negative for clockwise rings

    area = record(db, "BA-CW", cw, 4326)
    assert area > 0
    assert_close(area, -raw_cw)
    assert_close(stored(db, "BA-CW")["area_m2"], -raw_cw)
    # A clockwise hole inside a clockwise shell (both wrong) is still subtracted.
    bad_holed = Polygon(
        list(shapely.orient_polygons(SHELL).exterior.coords)[::-1],
        [list(shapely.orient_polygons(HOLE).exterior.coords)],
    )
    area = record(db, "LA-CW-HOLE", bad_holed, 4326)
    assert_close(area, geod_area(Polygon(SHELL.exterior.coords)) - geod_area(HOLE))


def test_lr_area_m2_function(db: Engine) -> None:
    """The SQL function on its own: geodesic, 0 for NULL and empty, orientation-blind."""
    cw = Polygon(list(shapely.orient_polygons(NORTH_60).exterior.coords)[::-1])
    big = box(20.0, 59.0, 22.0, 61.0)  # large enough that planar/spherical shortcuts show
    with db.connect() as conn:
        for geom in (NORTH_60, cw, HOLED, MULTI, EQUATOR, big):
            got = conn.execute(
                text("SELECT lr_area_m2(ST_GeomFromText(:w, 4326))"), {"w": geom.wkt}
            ).scalar_one()
            assert_close(got, geod_area(geom))
        assert conn.execute(text("SELECT lr_area_m2(NULL::geometry)")).scalar_one() == 0
        assert (
            conn.execute(
                text("SELECT lr_area_m2('SRID=4326;MULTIPOLYGON EMPTY'::geometry)")
            ).scalar_one()
            == 0
        )


def test_released_piece_and_remainder_areas_agree_with_geod(db: Engine) -> None:
    """Areas written by a release: the piece's event area and the hazard's new area."""
    record(db, "BA-44N", BOSNIA, 4326)
    cut = box(17.79, 44.19, 17.805, 44.215)
    with transaction(db, today=TODAY) as ledger:
        released = ledger.cancel("BA-44N", cut, crs=4326, effective_date=dt.date(2021, 5, 1))
    expected_piece = geod_area(BOSNIA.intersection(cut))
    expected_rest = geod_area(BOSNIA.difference(cut))
    with db.connect() as conn:
        event = conn.execute(
            text(
                "SELECT area_m2, ST_AsBinary(piece) AS wkb FROM ledger_events"
                " WHERE kind = 'cancelled'"
            )
        ).one()
        hazard = conn.execute(
            text(
                "SELECT area_m2, ST_AsBinary(geom) AS wkb FROM hazards WHERE national_id = 'BA-44N'"
            )
        ).one()
    assert_close(released.area_m2, expected_piece)
    assert_close(event.area_m2, expected_piece)
    assert_close(event.area_m2, geod_area(shapely.from_wkb(event.wkb)))
    assert_close(released.remaining_m2, expected_rest)
    assert_close(hazard.area_m2, expected_rest)
    assert_close(hazard.area_m2, geod_area(shapely.from_wkb(hazard.wkb)))


@pytest.mark.parametrize("crs", [32634, "EPSG:32634", CRS.from_epsg(32634)])
def test_prepare_polygon_transforms_utm_to_lonlat(crs: object) -> None:
    given = UTM34
    clean = prepare_polygon(given, crs)
    transformer = Transformer.from_crs("EPSG:32634", "EPSG:4326", always_xy=True)
    out = shapely.get_coordinates(clean.geom)
    assert ((out[:, 0] > 17.0) & (out[:, 0] < 19.0)).all()  # lon first, not lat
    assert ((out[:, 1] > 43.5) & (out[:, 1] < 44.5)).all()
    for x, y in list(given.exterior.coords)[:-1]:
        lon, lat = transformer.transform(x, y)
        distance = min(math.hypot(lon - u, lat - v) for u, v in out)
        assert distance < 1e-9, f"corner ({x}, {y}) -> ({lon}, {lat}) not among {out}"
    # Long edges gain vertices on their geodesic, so the corners are joined by geodesics:
    # no output point is further from the geodesic-through-corners polygon than rounding.
    assert len(out) > len(given.exterior.coords)
    assert_close(clean.area_m2, geod_area(to_lonlat(given, 32634)))


def test_prepare_polygon_southern_utm() -> None:
    """A southern-hemisphere zone (EPSG:327xx) lands south of the equator."""
    given = box(690_000, 6_090_000, 694_000, 6_093_000)  # zone 55S, near Canberra
    clean = prepare_polygon(given, 32755)
    transformer = Transformer.from_crs("EPSG:32755", "EPSG:4326", always_xy=True)
    lon, lat = transformer.transform(690_000, 6_090_000)
    assert lat < -30
    out = shapely.get_coordinates(clean.geom)
    assert min(math.hypot(lon - u, lat - v) for u, v in out) < 1e-9
    assert_close(clean.area_m2, geod_area(to_lonlat(given, 32755)))


def test_empty_helper_really_empties(engine: Engine) -> None:
    """The helper the property tests rely on between examples."""
    record(engine, "TMP-1", BOSNIA, 4326)
    empty(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM hazards")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM ledger_events")).scalar_one() == 0


def test_a_cut_along_a_shared_meridian_leaves_no_sliver(db: Engine) -> None:
    """A release whose east edge is the hazard's own (same meridian, other vertices) takes the
    hazard's land up to that edge exactly: the remainder stops at the cut's west edge, in one
    piece. A meridian's densified vertices keep its longitude to the last bit."""
    hazard = box(20.08, 45.01, 20.15, 45.02).segmentize(0.0005)
    record(db, "BA-MER", hazard, 4326)
    cut = box(20.10, 45.0, 20.15, 45.03)  # longer than the hazard's edge: vertices differ
    with transaction(db, today=TODAY) as ledger:
        ledger.cancel("BA-MER", cut, crs=4326, effective_date=dt.date(2021, 5, 1))
    with db.connect() as conn:
        parts, east = conn.execute(
            text("SELECT ST_NumGeometries(geom), ST_XMax(geom) FROM hazards")
        ).one()
    assert (parts, east) == (1, 20.1)


def test_a_cut_along_a_shared_parallel_releases_the_threads_it_leaves(db: Engine) -> None:
    """A release whose north and south edges run along the hazard's on other vertices: each
    geodesic edge bows between its own vertices, so the difference keeps threads micrometres
    wide. Those apart from the remainder go with the piece: the hazard keeps one part (a thread
    still joined to it stays, and holds no measurable land), and the areas still add up."""
    recorded = record(db, "BA-PAR", box(20.08, 45.01, 20.15, 45.02).segmentize(0.0005), 4326)
    cut = box(20.10, 45.01, 20.16, 45.02).segmentize(0.0007)
    with transaction(db, today=TODAY) as ledger:
        released = ledger.cancel("BA-PAR", cut, crs=4326, effective_date=dt.date(2021, 5, 1))
    east = "ST_MakeEnvelope(20.1, 45.0, 20.2, 45.1, 4326)"
    with db.connect() as conn:
        parts, beyond, area, measured = conn.execute(
            text(
                "SELECT ST_NumGeometries(geom),"
                f" lr_area_m2(ST_CollectionExtract(ST_Intersection(geom, {east}), 3)),"
                " area_m2, lr_area_m2(geom) FROM hazards"
            )
        ).one()
    assert parts == 1
    assert beyond < 1e-3
    assert abs(released.area_m2 + area - recorded) <= 1e-9 * recorded
    assert abs(measured - area) <= 0.01
