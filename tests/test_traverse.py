"""Turning points to polygons: legs followed on the ellipsoid, misclosure measured and refused.

Expected values come from the inverse geodesic problem (``pyproj.Geod.inv``) on the computed
corners: each leg must come out with the bearing and distance it was given, which checks the
forward computation without repeating it. Where a misclosure is expected, the legs are walked
here with ``pyproj.Geod.fwd`` alone and the gap measured with ``Geod.inv``, and the value is
checked against the figure worked out by hand.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
import shapely
from importing import SAMPLES, geod_area, imports_db, stored_areas
from pyproj import Geod, Transformer
from sqlalchemy import Engine, text

from landrelease.geometry import GeometryProblem
from landrelease.ingest import import_file, load_profile
from landrelease.ingest.report import problems_table, write_report
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

__all__ = ["imports_db"]

GEOD = Geod(ellps="WGS84")
HEADER = "polygon_id,hazard_id,class,date,point,lon,lat,bearing_deg,distance_m"
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
    with pytest.raises(GeometryProblem, match=r"misses its start by 10\.0\d m \(1\.45 %") as caught:
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
            r"1 corner \(TP1\) before TP2, which closes the figure; a polygon needs at least 3",
        ),
        (
            [Station(TURNING, "A", lon=18.0, lat=44.0), Station(TURNING, "B", lon=18.1, lat=44.0)],
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
            "traverse_bad_value",
            "TP1: distance -3 m is not positive",
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


# -- how the figure closes ------------------------------------------------------------------


def walk(
    start: tuple[float, float], legs: list[tuple[float, float]], declination: float = 0.0
) -> list[tuple[float, float]]:
    """``start`` and the points reached by following ``legs`` (bearing, distance), pyproj only."""
    points = [start]
    for bearing, distance in legs:
        lon, lat, _ = GEOD.fwd(*points[-1], bearing + declination, distance)
        points.append((lon, lat))
    return points


def flat(points: list[tuple[float, float]]) -> list[float]:
    return [value for point in points for value in point]


def gap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(GEOD.inv(*a, *b)[2])


def survey(legs: list[tuple[float, float]], labels: list[str]) -> list[Station]:
    """A benchmark on row 2 and one turning point per leg on the rows below it."""
    return [
        Station(BENCHMARK, "BM", lon=18.05, lat=44.10, row=2),
        *(
            Station(TURNING, label, bearing_deg=bearing, distance_m=distance, row=row)
            for row, (label, (bearing, distance)) in enumerate(zip(labels, legs, strict=True), 3)
        ),
    ]


#: A 200 m x 150 m rectangle 50 m north-east of the benchmark, its closing leg 10 m short.
SHORT = [(45, 50), (90, 200), (180, 150), (270, 200), (0, 140)]


@pytest.mark.parametrize("closing", ["TP1", "tp1", " Tp1 "])
def test_the_closing_label_is_compared_without_case_or_spaces(closing: str) -> None:
    traverse = compute(survey(SHORT, ["TP1", "TP2", "TP3", "TP4", closing]))
    points = walk((18.05, 44.10), SHORT)
    expected = gap(points[5], points[1])
    assert expected == pytest.approx(10.0, abs=0.01)  # 150 m walked back north, 140 m given
    assert traverse.closure is not None and traverse.closure.named
    assert traverse.closure.start == "TP1 (row 3)"
    assert traverse.misclosure_m == pytest.approx(expected, abs=1e-6)
    assert len(corners(traverse.polygon)) == 4
    with pytest.raises(GeometryProblem, match=r"misses its start by 10\.01 m \(1\.45 % of the "):
        check_misclosure(traverse, 1.0, label="polygon P1")


def test_a_closing_leg_without_a_label_still_closes_and_is_measured() -> None:
    traverse = compute(survey(SHORT, ["TP1", "TP2", "TP3", "TP4", ""]))
    points = walk((18.05, 44.10), SHORT)
    to_tp1, to_bm = gap(points[5], points[1]), gap(points[5], points[0])
    # By hand: 10 m south of TP1; the benchmark is 50 m south-west of TP1, so about
    # hypot(35.36, 25.36) = 43.5 m away: the leg comes back to TP1, the nearer.
    assert to_bm == pytest.approx(math.hypot(50 / math.sqrt(2), 50 / math.sqrt(2) - 10), abs=0.05)
    assert traverse.closure is not None and not traverse.closure.named
    assert traverse.closure.start == "TP1 (row 3)" and not traverse.closure.on_origin
    assert traverse.misclosure_m == pytest.approx(to_tp1, abs=1e-6)
    assert traverse.perimeter_m == pytest.approx(690.0, abs=0.01)
    assert len(corners(traverse.polygon)) == 4  # the unlabelled point is not a fifth corner
    with pytest.raises(GeometryProblem) as caught:
        check_misclosure(traverse, 1.0, label="polygon P1")
    assert caught.value.code == "misclosure"
    assert (
        f"the last leg, to point 6 (row 7), should come back to TP1 (row 3) or BM (row 2) but "
        f"ends {to_tp1:,.2f} m and {to_bm:,.2f} m from them: a misclosure of {to_tp1:,.2f} m "
        f"({100 * to_tp1 / 690:.2f} % of the 690.0 m perimeter), more than the 1 % allowed"
    ) in str(caught.value)


def test_a_blunder_that_never_comes_back_is_refused_with_its_gap() -> None:
    """One leg of 1500 m for 150 m and no leg back to TP1: before, a polygon ten times too big."""
    legs = [(45, 50), (90, 200), (180, 1500), (270, 200), (0, 150)]
    traverse = compute(survey(legs, ["TP1", "TP2", "TP3", "TP4", "TP5"]))
    points = walk((18.05, 44.10), legs)
    to_tp1, to_bm = gap(points[5], points[1]), gap(points[5], points[0])
    # By hand: TP5 is 1500 - 150 = 1350 m south of TP1, and the benchmark 50 m south-west of
    # TP1, so TP5 is hypot(35.36, 1314.64) = 1315.1 m from it: the nearer point to close on.
    assert to_tp1 == pytest.approx(1350, abs=0.1)
    assert to_bm == pytest.approx(math.hypot(50 / math.sqrt(2), 1350 - 50 / math.sqrt(2)), abs=0.5)
    assert traverse.misclosure_m == pytest.approx(to_bm, abs=1e-6)
    assert traverse.perimeter_m == pytest.approx(50 + 200 + 1500 + 200 + 150, abs=0.01)
    with pytest.raises(GeometryProblem) as caught:
        check_misclosure(traverse, 1.0, label="polygon P1")
    assert caught.value.code == "misclosure"
    assert str(caught.value) == (
        f"polygon P1: the last leg, to TP5 (row 7), should come back to TP1 (row 3) or BM "
        f"(row 2) but ends {to_tp1:,.2f} m and {to_bm:,.2f} m from them: a misclosure of "
        f"{to_bm:,.2f} m ({100 * to_bm / 2100:.2f} % of the 2,100.0 m perimeter), more than the "
        "1 % allowed - check the bearings and distances; if TP5 (row 7) is a corner, add the "
        "leg that closes the figure"
    )


@pytest.mark.parametrize("closing", ["TP4", "BM"])
def test_a_loop_back_to_the_benchmark_closes_on_it(closing: str) -> None:
    """BM, then a 100 m square whose last leg lands on the benchmark: the BM is a corner."""
    legs = [(0, 100), (90, 100), (180, 100), (270, 100)]
    stations = survey(legs, ["TP1", "TP2", "TP3", closing])
    if closing == "BM":  # written as the benchmark again, a row of the benchmark kind
        stations[-1] = replace(stations[-1], kind=BENCHMARK)
    traverse = compute(stations)
    points = walk((18.05, 44.10), legs)
    assert traverse.closure is not None and traverse.closure.on_origin
    assert traverse.closure.start == "BM (row 2)"
    assert traverse.closure.named == (closing == "BM")
    assert traverse.misclosure_m == pytest.approx(gap(points[4], points[0]), abs=1e-6)
    assert traverse.misclosure_m < 0.01  # N, E, S, W 100 m: closes to a few mm
    assert flat(corners(traverse.polygon)) == pytest.approx(flat(points[:4]), abs=1e-7)
    assert geod_area(traverse.polygon) == pytest.approx(100 * 100, rel=1e-4)
    assert check_misclosure(traverse, 1.0, label="polygon P1") == (
        f"polygon P1: closed on BM (row 2), a corner of the polygon, with a misclosure of "
        f"{traverse.misclosure_m:,.2f} m (0.00 % of the 400.0 m perimeter, within the 1 % "
        "allowed), distributed over the corners by the compass rule"
    )


def test_a_list_of_coordinates_has_no_misclosure_to_report() -> None:
    points = [(18.41, 44.20), (18.4125, 44.2004), (18.4131, 44.1987), (18.4106, 44.1982)]
    stations = [Station(TURNING, f"TP{n}", lon=x, lat=y) for n, (x, y) in enumerate(points, 1)]
    traverse = compute(stations)
    assert check_misclosure(traverse, 1.0, label="polygon P2") is None
    closed = compute([*stations, Station(TURNING, "tp1", lon=18.4101, lat=44.2)])
    assert closed.closure is not None  # the first label again: a closure, measured
    assert closed.misclosure_m == pytest.approx(gap((18.4101, 44.2), points[0]), abs=1e-6)


# -- bearings and distances -----------------------------------------------------------------


def square_with(bearing: float = 90, distance: float = 100) -> list[Station]:
    """A 100 m square whose second leg is given ``bearing`` and ``distance``."""
    legs = [(0, 100), (bearing, distance), (180, 100), (270, 100), (0, 100)]
    return survey(legs, ["TP1", "TP2", "TP3", "TP4", "TP1"])


@pytest.mark.parametrize("bearing", [450, -90, 360.5, math.nan, math.inf])
def test_a_bearing_off_the_compass_is_refused(bearing: float) -> None:
    with pytest.raises(GeometryProblem) as caught:
        compute(square_with(bearing=bearing), label="polygon B")
    assert caught.value.code == "traverse_bad_value"
    reason = "is outside 0-360°" if math.isfinite(bearing) else "is not a finite number"
    assert str(caught.value) == f"polygon B: TP2 (row 4): bearing {bearing:g} {reason}"


def test_360_is_north() -> None:
    north = compute(square_with())
    stations = square_with()
    stations[1] = replace(stations[1], bearing_deg=360)
    turned = compute(stations).polygon
    assert flat(corners(turned)) == pytest.approx(flat(corners(north.polygon)), abs=1e-12)


@pytest.mark.parametrize(
    ("distance", "reason"),
    [
        (0, "distance 0 m is not positive"),
        (-100, "distance -100 m is not positive"),
        (math.inf, "distance inf is not a finite number"),
    ],
)
def test_a_distance_that_is_not_a_length_is_refused(distance: float, reason: str) -> None:
    with pytest.raises(GeometryProblem) as caught:
        compute(square_with(distance=distance), label="polygon D")
    assert caught.value.code == "traverse_bad_value"
    assert str(caught.value) == f"polygon D: TP2 (row 4): {reason}"


def test_every_bad_point_is_named_at_once() -> None:
    stations = survey([(0, 100), (90, -5), (400, 100), (270, 100)], ["TP1", "TP2", "TP3", "TP4"])
    stations[1] = replace(stations[1], bearing_deg=None, unreadable=("bearing_deg 'north'",))
    stations.append(Station(TURNING, "TP1", bearing_deg=0, row=7))
    with pytest.raises(GeometryProblem) as caught:
        compute(stations, label="polygon P1")
    assert str(caught.value) == (
        "polygon P1: TP1 (row 3): bearing_deg 'north' is not a number; "
        "TP2 (row 4): distance -5 m is not positive; TP3 (row 5): bearing 400 is outside 0-360°; "
        "TP1 (row 7) has neither coordinates nor both a bearing and a distance"
    )


# -- through an import: the report, the group key, the CRS ----------------------------------


def table(tmp_path: Path, name: str, rows: list[str], header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_an_accepted_traverse_reports_its_misclosure(imports_db: Engine, tmp_path: Path) -> None:
    result = import_file(imports_db, SAMPLES / "turning_points.csv")
    assert result.status == "applied", result.problems
    # The sample: BM, RP1, then TP1..TP4 and back to TP1 with 149.6 m for 150, declination 4.5°.
    legs = [(45, 150), (60, 40), (90, 200), (180, 150), (270, 200), (0, 149.6)]
    points = walk((18.33, 44.16), legs, declination=4.5)
    misclosure = gap(points[6], points[2])
    assert misclosure == pytest.approx(0.4, abs=0.01)  # by hand: the leg back is 0.4 m short
    percent = 100 * misclosure / 699.6  # 200 + 150 + 200 + 149.6 m walked from TP1
    detail = (
        f"closed on TP1 (row 4) with a misclosure of {misclosure:.2f} m ({percent:.2f} % of the "
        "699.6 m perimeter, within the 1 % allowed), distributed over the corners by the compass "
        "rule"
    )
    label = "feature 1 (BA-T-001), rows 2, 3, 4, 5, 6, 7, 8"
    assert [(p.index, p.source_id, p.code, p.action, p.message) for p in result.problems] == [
        (1, "BA-T-001", "misclosure", "accepted", f"{label}: {detail}")
    ]  # the second polygon, of coordinates, has no misclosure to report
    assert detail in problems_table(result.problems).splitlines()[2]
    with write_report(result, tmp_path / "report.csv").open(newline="", encoding="utf-8") as f:
        assert list(csv.reader(f))[1] == [
            "1",
            "BA-T-001",
            "misclosure",
            "accepted",
            f"{label}: {detail}",
        ]
    report = json.loads(write_report(result, tmp_path / "report.json").read_text("utf-8"))
    assert report["problems"][0]["action"] == "accepted"
    assert report["problems"][0]["message"].endswith(detail)


def test_a_blunder_is_refused_by_the_import(imports_db: Engine, tmp_path: Path) -> None:
    rows = [
        "P1,AU-BL-001,SHA,2023-04-01,BM,18.05,44.10,,",
        *(
            f"P1,,,,TP{n},,,{b},{d}"
            for n, (b, d) in enumerate([(45, 50), (90, 200), (180, 1500), (270, 200), (0, 150)], 1)
        ),
    ]
    result = import_file(imports_db, table(tmp_path, "blunder.csv", rows))
    assert result.status == "refused"
    assert [(p.index, p.code, p.action) for p in result.problems] == [(1, "misclosure", "refused")]
    assert "ends 1,350.01 m and 1,315.1" in result.problems[0].message
    assert stored_areas(imports_db) == {}


def test_the_id_is_filled_down_from_the_benchmark_row(imports_db: Engine, tmp_path: Path) -> None:
    """The ID written once, on the benchmark row, with no polygon column: two hazards."""
    square = [",,,TP1,,,0,100", ",,,TP2,,,90,100", ",,,TP3,,,180,100", ",,,TP4,,,270,100"]
    rows = [
        "AU-NG-001,SHA,2023-04-01,BM,18.05,44.10,,",
        *square,
        ",,,TP1,,,0,100",
        "AU-NG-002,SHA,2023-04-01,BM,18.06,44.10,,",
        *square,
        "   ,,,TP1,,,0,100",
    ]
    header = "hazard_id,class,date,point,lon,lat,bearing_deg,distance_m"
    result = import_file(imports_db, table(tmp_path, "nogroup.csv", rows, header))
    assert result.status == "applied", result.problems
    assert [(p.index, p.source_id, p.action) for p in result.problems] == [
        (1, "AU-NG-001", "accepted"),
        (2, "AU-NG-002", "accepted"),
    ]
    areas = stored_areas(imports_db)
    for hazard_id, lon in (("AU-NG-001", 18.05), ("AU-NG-002", 18.06)):
        square_corners = walk((lon, 44.10), [(0, 100), (90, 100), (180, 100)])[1:]
        square_corners.append(walk(square_corners[-1], [(270, 100)])[1])
        expected = geod_area(shapely.Polygon(square_corners))
        assert expected == pytest.approx(100 * 100, rel=1e-3)
        assert areas[hazard_id] == pytest.approx(expected, rel=1e-5)


def test_rows_before_any_polygon_key_get_one_message(imports_db: Engine, tmp_path: Path) -> None:
    rows = [
        ",AU-K-001,SHA,2024-02-12,BM,18.33,44.16,,",
        ",,,,TP1,,,0,100",
        "P2,AU-K-002,SHA,2024-02-12,BM,18.34,44.16,,",
        *(f",,,,TP{n},,,{b},100" for n, b in enumerate([0, 90, 180, 270], 1)),
        ",,,,TP1,,,0,100",
    ]
    result = import_file(imports_db, table(tmp_path, "nokey.csv", rows))
    assert [(p.index, p.code, p.action, p.message) for p in result.problems] == [
        (
            1,
            "traverse_no_group_key",
            "refused",
            "feature 1 (AU-K-001), rows 2, 3: no polygon_id on these rows nor on a row above "
            "them; write it at least on the first row of each polygon",
        ),
        (2, "misclosure", "accepted", result.problems[1].message),
    ]


def test_unreadable_cells_are_named_with_their_rows(imports_db: Engine, tmp_path: Path) -> None:
    rows = [
        "P1,AU-TP-002,SHA,2024-02-12,BM,18.33,44.16,,",
        "P1,,,,TP1,,,north,100",
        "P1,,,,TP2,,,90,-100",
        "P1,,,,TP3,,,450,100",
        "P1,,,,TP4,,,270,",
    ]
    result = import_file(imports_db, table(tmp_path, "badlegs.csv", rows))
    assert [(p.code, p.message.partition(": ")[2]) for p in result.problems] == [
        (
            "traverse_bad_value",
            "TP1 (row 3): bearing_deg 'north' is not a number; TP2 (row 4): distance -100 m is "
            "not positive; TP3 (row 5): bearing 450 is outside 0-360°; TP4 (row 6) has neither "
            "coordinates nor both a bearing and a distance",
        )
    ]


@pytest.mark.parametrize("given_by", ["profile", "--crs"])
def test_a_benchmark_in_utm_is_followed_on_the_ellipsoid(
    imports_db: Engine, tmp_path: Path, given_by: str
) -> None:
    """The benchmark in a UTM zone, said by the profile's ``coordinates_crs`` or by ``--crs``:
    it turns into degrees before the first leg, and the polygon is not read in UTM again."""
    to_utm = Transformer.from_crs(4326, 32634, always_xy=True)
    easting, northing = to_utm.transform(18.33, 44.16)
    legs = [(0, 100), (90, 200), (180, 150), (270, 200), (0, 150)]
    rows = [
        f"P1,AU-U-001,SHA,2024-02-12,BM,{easting:.3f},{northing:.3f},,",
        *(f"P1,,,,TP{n},,,{b},{d}" for n, (b, d) in enumerate(legs[:4], 1)),
        "P1,,,,TP1,,,0,150",
    ]
    path = table(tmp_path, "utm.csv", rows)
    if given_by == "profile":
        profile = replace(load_profile("generic"), coordinates_crs="EPSG:32634")
        result = import_file(imports_db, path, profile=profile)
    else:
        result = import_file(imports_db, path, crs="EPSG:32634")
    assert result.status == "applied", result.problems
    with imports_db.connect() as connection:
        corner = connection.execute(
            text("SELECT ST_XMin(geom), ST_YMin(geom) FROM hazards WHERE national_id = 'AU-U-001'")
        ).one()
    # TP1 is 100 m north of the benchmark and TP3 150 m south of TP2: the south-west corner
    # is 50 m south of the benchmark, on its meridian.
    _, south, _ = Geod(ellps="WGS84").fwd(18.33, 44.16, 180.0, 50.0)
    assert corner == pytest.approx((18.33, south), abs=1e-6)  # within 0.1 m
    # A geodesic 200 m x 150 m rectangle closes to mm; the compass rule makes it exact.
    assert stored_areas(imports_db)["AU-U-001"] == pytest.approx(200 * 150, rel=1e-6)
