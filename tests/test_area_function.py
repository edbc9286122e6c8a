"""The one area function, ``geodesic_areas_m2``, against independent measures.

Polygons of every size, anywhere between 80°S and 80°N and across the antimeridian, are measured
here with ``pyproj.Geod`` (GeographicLib) and, for the smallest, also as planar areas in PROJ's
ellipsoidal cylindrical equal-area projection (``+proj=cea``, exact in area) of the polygon with
GeographicLib's points every half metre along each geodesic edge. GeographicLib's own rounding
(about 1e-4 m² whatever the size, varying with longitude) matters on polygons of a few m²,
hence the two measures.
No database is needed.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS, Geod, Transformer
from shapely.geometry import MultiPolygon, Polygon, box

from landrelease.geometry import densify_geodesic, geodesic_areas_m2

GEOD = Geod(ellps="WGS84")

#: GeographicLib's polygon areas carry rounding of about 1e-4 m², whatever the polygon's size.
GEOD_ROUNDING_M2 = 1e-3

#: Vertices added along long edges follow the geodesic to micrometres (their chord brought up
#: to the ellipsoid): an area moves by under this share plus this strip along its perimeter.
DENSIFY_REL = 1e-8
DENSIFY_OFFSET_M = 1e-6


def tolerance(polygon: Polygon, area: float) -> float:
    """How far a densified ring's area may be from the geodesic polygon's, m²."""
    return DENSIFY_REL * area + DENSIFY_OFFSET_M * GEOD.geometry_length(polygon)


def geod_area(geom: Polygon | MultiPolygon) -> float:
    """GeographicLib's area of a polygon, oriented first (counter-clockwise shells)."""
    return abs(GEOD.geometry_area_perimeter(shapely.orient_polygons(geom))[0])


def cea_area(geom: Polygon) -> float:
    """Planar area in PROJ's cylindrical equal-area projection of the WGS84 ellipsoid, centred
    on the polygon's longitude."""
    to_plane = Transformer.from_crs(
        CRS.from_epsg(4326),
        CRS.from_proj4(f"+proj=cea +lon_0={geom.centroid.x} +ellps=WGS84"),
        always_xy=True,
    )
    return shapely.transform(
        geom, lambda xy: np.column_stack(to_plane.transform(xy[:, 0], xy[:, 1]))
    ).area


def along_geodesics(polygon: Polygon, spacing_m: float = 0.5) -> Polygon:
    """The polygon with GeographicLib's own points on each edge's geodesic, ``spacing_m`` apart:
    its straight edges in an equal-area plane then follow the geodesics to nanometres."""
    coords = list(polygon.exterior.coords)
    points: list[tuple[float, float]] = []
    for (x0, y0), (x1, y1) in itertools.pairwise(coords):
        length = GEOD.inv(x0, y0, x1, y1)[2]
        points.append((x0, y0))
        if (count := int(length / spacing_m)) > 0:
            points.extend(GEOD.npts(x0, y0, x1, y1, count))
    return Polygon(points)


def star(lon: float, lat: float, radius_deg: float, n: int, seed: int) -> Polygon:
    """A simple polygon: ``n`` vertices at increasing angles, radii between 0.5 and 1."""
    rng = np.random.default_rng(seed)
    angles = np.sort(rng.uniform(0, 2 * math.pi, n))
    radii = radius_deg * rng.uniform(0.5, 1.0, n)
    scale = 1 / math.cos(math.radians(lat))
    return Polygon(
        np.column_stack([lon + scale * radii * np.cos(angles), lat + radii * np.sin(angles)])
    )


@settings(max_examples=150, deadline=None)
@given(
    lon=st.floats(-180, 180),
    lat=st.floats(-80, 80),
    log_radius=st.floats(-3.5, 0),
    n=st.integers(3, 40),
    seed=st.integers(0, 2**16),
    clockwise=st.booleans(),
)
def test_area_agrees_with_geographiclib(
    lon: float, lat: float, log_radius: float, n: int, seed: int, clockwise: bool
) -> None:
    polygon = star(lon, lat, 10**log_radius, n, seed)
    if not polygon.is_valid or polygon.is_empty:
        return
    if clockwise:
        polygon = shapely.orient_polygons(polygon, exterior_cw=True)
    expected = geod_area(polygon)
    (ours,) = geodesic_areas_m2([polygon])
    assert abs(ours - expected) <= tolerance(polygon, expected) + GEOD_ROUNDING_M2


@settings(max_examples=100, deadline=None)
@given(
    lon=st.floats(-179, 179),
    lat=st.floats(-80, 80),
    size_m=st.floats(1.5, 30),
    n=st.integers(3, 12),
    seed=st.integers(0, 2**16),
)
def test_small_polygons_match_an_equal_area_projection_and_geographiclib(
    lon: float, lat: float, size_m: float, n: int, seed: int
) -> None:
    polygon = star(lon, lat, size_m / 111_000, n, seed)
    if not polygon.is_valid:
        return
    (ours,) = geodesic_areas_m2([polygon])
    assert abs(ours - cea_area(along_geodesics(polygon))) <= tolerance(polygon, ours)
    assert abs(ours - geod_area(polygon)) <= GEOD_ROUNDING_M2


def test_a_polygon_across_the_antimeridian() -> None:
    # 0.2° by 0.2° straddling 180°: written with longitudes on both sides of the line.
    across = Polygon([(179.9, 10.0), (-179.9, 10.0), (-179.9, 10.2), (179.9, 10.2)])
    same = box(179.9, 10.0, 180.1, 10.2)  # the same land, longitudes past 180
    (ours,) = geodesic_areas_m2([across])
    assert abs(ours - geod_area(same)) <= 1e-9 * geod_area(same)


def test_a_ring_around_the_pole() -> None:
    # Three vertices on 85°N, 120° apart: the ring encloses the North Pole.
    cap = Polygon([(0.0, 85.0), (120.0, 85.0), (240.0, 85.0)])
    (ours,) = geodesic_areas_m2([cap])
    lon = [0.0, 120.0, 240.0]
    expected = abs(GEOD.polygon_area_perimeter(lon, [85.0] * 3)[0])
    assert expected > 1e11 and abs(ours - expected) <= 1e-9 * expected


def test_holes_subtract_and_parts_add_however_wound() -> None:
    shell = box(17.0, 44.0, 17.1, 44.1)
    hole = box(17.02, 44.02, 17.05, 44.05)
    holed = Polygon(shell.exterior.coords, [hole.exterior.coords])  # hole wound like its shell
    other = box(18.0, 44.0, 18.01, 44.01)
    both = MultiPolygon([holed, other])
    expected = geod_area(shell) - geod_area(hole) + geod_area(other)
    ours = geodesic_areas_m2([holed, both, Polygon(), None])
    assert abs(ours[1] - expected) <= 1e-7 * expected
    assert abs(ours[0] - (geod_area(shell) - geod_area(hole))) <= 1e-7 * expected
    assert ours[2] == 0 and ours[3] == 0


@settings(max_examples=60, deadline=None)
@given(
    lon=st.floats(-179, 179),
    lat=st.floats(-80, 80),
    log_radius=st.floats(-3, -1),
    n=st.integers(3, 30),
    seed=st.integers(0, 2**16),
)
def test_a_polygon_and_its_densified_copy_measure_the_same(
    lon: float, lat: float, log_radius: float, n: int, seed: int
) -> None:
    # Areas are measured on the rings as they come; the stored copy has vertices every 20 m
    # along the same geodesics. The ledger adds the two, so they must agree well within its
    # 0.01 m² + 1e-9 relative. What is left is rounding in the sum over thousands of 20 m
    # edges, up to about 1e-10 of the area (the copy as given is the nearer to GeographicLib).
    polygon = shapely.orient_polygons(star(lon, lat, 10**log_radius, n, seed))
    if not polygon.is_valid:
        return
    dense = densify_geodesic(MultiPolygon([polygon]))
    assert shapely.get_num_coordinates(dense) > shapely.get_num_coordinates(polygon)
    as_given, densified = geodesic_areas_m2([polygon, dense])
    assert abs(as_given - densified) <= 1e-4 + 2e-10 * densified
