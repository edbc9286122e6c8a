"""Turning points to polygons: legs followed on the ellipsoid, misclosure measured and refused.

Expected values come from the inverse geodesic problem (``pyproj.Geod.inv``) on the computed
corners: each leg must come out with the bearing and distance it was given, which checks the
forward computation without repeating it.
"""

from __future__ import annotations

import pytest
import shapely
from pyproj import Geod

from landrelease.geometry import GeometryProblem
from landrelease.ingest.traverse import (
    BENCHMARK,
    REFERENCE,
    TURNING,
    Station,
    check_misclosure,
    compute,
    label_kind,
    point_kind,
)

GEOD = Geod(ellps="WGS84")
BM = Station(BENCHMARK, "BM", lon=18.33, lat=44.16)


def rectangle(closing_m: float = 150.0) -> list[Station]:
    """BM, a reference point, then a 200 m x 150 m rectangle closed back on TP1."""
    return [
        BM,
        Station(REFERENCE, "RP1", bearing_deg=45, distance_m=150),
        Station(TURNING, "TP1", bearing_deg=60, distance_m=40),
        Station(TURNING, "TP2", bearing_deg=90, distance_m=200),
        Station(TURNING, "TP3", bearing_deg=180, distance_m=150),
        Station(TURNING, "TP4", bearing_deg=270, distance_m=200),
        Station(TURNING, "TP1", bearing_deg=0, distance_m=closing_m),
    ]


def corners(polygon: shapely.Polygon) -> list[tuple[float, float]]:
    return list(polygon.exterior.coords)[:-1]


def leg(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    azimuth, _, distance = GEOD.inv(a[0], a[1], b[0], b[1])
    return azimuth % 360, distance


def test_closed_traverse_reproduces_its_legs() -> None:
    traverse = compute(rectangle())
    assert traverse.closed_by_leg
    assert traverse.misclosure_m < 0.01  # a geodesic rectangle of this size closes to mm
    tp = corners(traverse.polygon)
    assert len(tp) == 4
    # TP1 lies 150 m at 45° then 40 m at 60° from the benchmark.
    lon, lat, _ = GEOD.fwd(18.33, 44.16, 45, 150)
    assert leg((lon, lat), tp[0]) == pytest.approx((60, 40), abs=1e-6)
    for (a, b), (bearing, distance) in zip(
        [(tp[0], tp[1]), (tp[1], tp[2]), (tp[2], tp[3])],
        [(90, 200), (180, 150), (270, 200)],
        strict=True,
    ):
        azimuth, length = leg(a, b)
        assert length == pytest.approx(distance, abs=0.01)
        assert azimuth == pytest.approx(bearing, abs=0.01)  # 90° forward, 270° back: rhumb-free
    area, _ = GEOD.geometry_area_perimeter(shapely.orient_polygons(traverse.polygon))
    assert abs(area) == pytest.approx(200 * 150, rel=1e-4)
    assert traverse.perimeter_m == pytest.approx(700, abs=0.01)


def test_declination_turns_magnetic_bearings_to_true() -> None:
    traverse = compute(rectangle(), declination_deg=4.5)
    tp = corners(traverse.polygon)
    azimuth, length = leg(tp[0], tp[1])
    assert azimuth == pytest.approx(94.5, abs=0.01)
    assert length == pytest.approx(200, abs=0.01)


def test_misclosure_is_measured_and_spread_by_the_compass_rule() -> None:
    traverse = compute(rectangle(closing_m=140.0))
    assert traverse.misclosure_m == pytest.approx(10.0, abs=0.01)
    assert traverse.perimeter_m == pytest.approx(690.0, abs=0.01)
    assert traverse.misclosure_percent == pytest.approx(100 * 10 / 690, rel=1e-3)
    tp = corners(traverse.polygon)
    unadjusted = corners(compute(rectangle()).polygon)
    assert leg(tp[0], unadjusted[0])[1] < 1e-6  # the first corner does not move
    # TP3 is 350 m of 690 along the walk: it moves about 350/690 of the 10 m misclosure.
    assert leg(tp[2], unadjusted[2])[1] == pytest.approx(10 * 350 / 690, abs=0.05)
    assert traverse.polygon.is_valid and traverse.polygon.exterior.is_closed


def test_misclosure_above_the_limit_is_refused() -> None:
    traverse = compute(rectangle(closing_m=140.0))
    with pytest.raises(GeometryProblem, match=r"misses its start by 10\.0\d m, 1\.45 %") as caught:
        check_misclosure(traverse, 1.0, label="polygon P1")
    assert caught.value.code == "misclosure"
    check_misclosure(traverse, 2.0, label="polygon P1")  # within a looser limit


def test_absolute_turning_points_need_no_benchmark() -> None:
    points = [(18.41, 44.20), (18.4125, 44.2004), (18.4131, 44.1987), (18.4106, 44.1982)]
    traverse = compute(
        [Station(TURNING, f"TP{n}", lon=x, lat=y) for n, (x, y) in enumerate(points, 1)]
    )
    assert corners(traverse.polygon) == points
    assert traverse.misclosure_m == 0 and not traverse.closed_by_leg


@pytest.mark.parametrize(
    ("stations", "code", "words"),
    [
        (
            [Station(TURNING, "TP1", bearing_deg=10, distance_m=5)],
            "traverse_no_benchmark",
            "no benchmark with coordinates comes before it",
        ),
        (
            [
                BM,
                Station(TURNING, "TP1", bearing_deg=10, distance_m=5),
                Station(TURNING, "TP2", bearing_deg=90, distance_m=5),
            ],
            "traverse_too_few_points",
            "2 turning points; a polygon needs at least 3",
        ),
        (
            [BM, Station(TURNING, "TP1", bearing_deg=10)],
            "traverse_incomplete",
            "TP1 has neither coordinates nor both a bearing and a distance",
        ),
        (
            [BM, Station(TURNING, "TP1", bearing_deg=10, distance_m=-3)],
            "traverse_incomplete",
            "distance -3 m is not positive",
        ),
    ],
)
def test_incomplete_traverses_say_why(stations: list[Station], code: str, words: str) -> None:
    with pytest.raises(GeometryProblem, match=words) as caught:
        compute(stations, label="polygon P9")
    assert caught.value.code == code
    assert str(caught.value).startswith("polygon P9: ")


def test_point_kinds_from_types_and_labels() -> None:
    assert [point_kind(v) for v in ("BM", "benchmark", "rp", "TP", "Turning point")] == [
        BENCHMARK,
        BENCHMARK,
        REFERENCE,
        TURNING,
        TURNING,
    ]
    assert [label_kind(v) for v in ("BM1", "RP", "SP", "TP7", "12")] == [
        BENCHMARK,
        REFERENCE,
        REFERENCE,
        TURNING,
        TURNING,
    ]
    with pytest.raises(ValueError, match="point type 'X' is not BM"):
        point_kind("X")
