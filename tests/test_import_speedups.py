"""The column-wise and array-wise shortcuts of import validation give what one-by-one checks give.

Fields are read once per distinct value, polygons are compared by box before their normalised
WKB, rings are taken apart only where a short one can hide, and arrays reach PostgreSQL as
literals. Each shortcut is checked here on the cases where it could go wrong: values that are
equal but read differently, values a feature's check never reaches, polygons that share a box
and a number of vertices, short rings in holes, strings PostgreSQL must unquote.
"""

from __future__ import annotations

import datetime as dt
import struct

import numpy as np
import pytest
import shapely
from sqlalchemy import Engine, text

from landrelease.db.staging import number_array, text_array
from landrelease.geometry import CleanPolygon
from landrelease.ingest import load_profile
from landrelease.ingest.findings import Action, Staged
from landrelease.ingest.in_database import _covered, _in_any
from landrelease.ingest.read import Features, _python_values, decode_geometries
from landrelease.ingest.validate import _polygon_keys, check_features

TODAY = dt.date(2025, 1, 1)


def _features(values: dict[str, list[object]], geometries: list[object] | None = None) -> Features:
    size = len(next(iter(values.values())))
    return Features(
        name="test.gpkg",
        sha256="0" * 64,
        driver="GPKG",
        layers=("test",),
        crs=None,
        encoding=None,
        encoding_declared=True,
        values=values,
        geometries=geometries if geometries is not None else [None] * size,  # type: ignore[arg-type]
    )


def _found(features: Features) -> list[tuple[int | None, str, str]]:
    checked = check_features(features, load_profile("generic"), today=TODAY)
    return [(p.index, p.code, p.message) for p in checked.problems if p.code != "null_geometry"]


def test_equal_values_of_different_types_are_read_apart() -> None:
    features = _features(
        {"hazard_id": ["A", "B", "C", "D"], "class": [1, 1.0, True, 1], "date": ["2020-01-01"] * 4}
    )
    messages = {index: message for index, code, message in _found(features)}
    assert "'1' is not a known hazard class" in messages[1]
    assert "'1.0' is not a known hazard class" in messages[2]
    assert "'True' is not a known hazard class" in messages[3]
    assert "'1' is not a known hazard class" in messages[4]


def test_a_value_is_reported_only_where_a_check_reads_it() -> None:
    features = _features(
        {
            "hazard_id": ["A", "B", "C"],
            "activity_type": ["HAZARD", "NTS", "bogus"],
            "activity_ref": [None, "NTS-1", None],
            "class": ["SHA", None, "nonsense"],
            "date": ["2020-01-01", "2021-01-01", "not a date"],
            "uxo_found": ["x", "x", "x"],
        }
    )
    assert [(index, code) for index, code, _ in _found(features)] == [
        (2, "bad_count"),  # counts are read for results only
        (3, "unknown_value"),  # the activity; its class and date are never read
    ]


def test_mojibake_is_reported_for_each_field_that_holds_it() -> None:
    utf8_as_latin1 = "Gora\u00c5\u00bede"
    features = _features(
        {
            "hazard_id": ["A", "B", "C"],
            "class": ["SHA"] * 3,
            "organisation": [utf8_as_latin1, "NPA", utf8_as_latin1],
            "name": [utf8_as_latin1, None, "Gora\u017ede"],
            "date": ["2020-01-01"] * 3,
        }
    )
    found = [(index, message.split(" reads ")[0]) for index, code, message in _found(features)]
    assert found == [
        (1, "feature 1 (A): field organisation"),
        (1, "feature 1 (A): field name"),
        (3, "feature 3 (C): field organisation"),
    ]


def test_check_progress_is_reported_every_5000_features() -> None:
    calls: list[tuple[str, int, int]] = []
    features = _features({"hazard_id": [f"H{n}" for n in range(10_000)]})
    check_features(
        features, load_profile("generic"), today=TODAY, progress=lambda *a: calls.append(a)
    )
    assert calls == [("check", 5000, 10_000), ("check", 10_000, 10_000)]


def _staged(index: int, geom: shapely.Geometry) -> Staged:
    multi = shapely.MultiPolygon([geom]) if geom.geom_type == "Polygon" else geom
    return Staged(index, Action.RECORD, f"H{index}", clean=CleanPolygon(multi, 1.0))


def test_polygon_keys_are_equal_exactly_for_the_same_polygon() -> None:
    square = shapely.Polygon([(18, 44), (18.01, 44), (18.01, 44.01), (18, 44.01)])
    turned = shapely.Polygon([(18.01, 44.01), (18, 44.01), (18, 44), (18.01, 44)])
    reversed_ = shapely.Polygon(square.exterior.coords[::-1])
    # Same box, same number of vertices, another polygon: a notch on another side.
    notch_south = shapely.Polygon(
        [(18, 44), (18.005, 44.002), (18.01, 44), (18.01, 44.01), (18, 44.01)]
    )
    notch_north = shapely.Polygon(
        [(18, 44), (18.01, 44), (18.01, 44.01), (18.005, 44.008), (18, 44.01)]
    )
    alone = shapely.box(19, 44, 19.01, 44.01)
    polygons = [square, turned, reversed_, notch_south, notch_north, alone]
    keys = _polygon_keys([_staged(n, g) for n, g in enumerate(polygons, start=1)])
    assert keys[1] == keys[2] == keys[3]
    assert len({keys[1], keys[4], keys[5], keys[6]}) == 4


def test_polygon_keys_do_not_depend_on_which_zero_the_box_starts_from() -> None:
    """0.0 and -0.0 are equal: a box's corner can be either, whichever vertex comes first."""
    first = shapely.Polygon([(0.0, 0.0), (0.01, 0.0), (0.01, 0.01), (-0.0, 0.01)])
    turned = shapely.Polygon([(-0.0, 0.01), (0.0, 0.0), (0.01, 0.0), (0.01, 0.01)])
    signed = shapely.Polygon([(-0.0, 0.0), (0.01, 0.0), (0.01, 0.01), (-0.0, 0.01)])
    keys = _polygon_keys([_staged(1, first), _staged(2, turned), _staged(3, signed)])
    wkb = [shapely.to_wkb(shapely.normalize(g)) for g in (first, turned, signed)]
    assert wkb[0] == wkb[1] != wkb[2]
    assert keys[1] == keys[2] != keys[3]


def _wkb_polygon(*rings: list[tuple[float, float]]) -> bytes:
    data = struct.pack("<BII", 1, 3, len(rings))
    for ring in rings:
        data += struct.pack("<I", len(ring)) + b"".join(struct.pack("<dd", *p) for p in ring)
    return data


def test_short_rings_are_found_in_holes() -> None:
    shell = [(18.0, 44.0), (18.01, 44.0), (18.01, 44.01), (18.0, 44.01), (18.0, 44.0)]
    short = [(18.001, 44.001), (18.002, 44.001), (18.001, 44.001)]
    wkb = [_wkb_polygon(shell), _wkb_polygon(shell, short), _wkb_polygon(short), None]
    geometries, notes = decode_geometries(wkb)
    assert [g is None for g in geometries] == [False, True, True, True]
    assert {position: note.code for position, note in notes.items()} == {
        1: "ring_too_few_points",
        2: "ring_too_few_points",
    }
    assert "ring 2 has 3 points" in notes[1].message


def test_missing_numbers_become_none_and_other_values_stay() -> None:
    assert _python_values(np.array([1.5, np.nan])) == [1.5, None]
    assert _python_values(np.array(["a", None, float("nan"), 2.0], dtype=object)) == [
        "a",
        None,
        None,
        2.0,
    ]
    assert _python_values(np.array(["a", None], dtype=object)) == ["a", None]


def test_coverage_tested_by_box_first_agrees_with_the_polygons() -> None:
    west, east = shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)
    geoms = np.array(
        [
            shapely.box(0.2, 0.2, 0.4, 0.4),  # inside, and so is its box
            shapely.Polygon([(0.1, 0.1), (0.9, 0.1), (0.1, 0.9)]),  # inside
            shapely.box(0.8, 0.2, 1.2, 0.4),  # across the two units: no single unit covers it
            shapely.box(0, 0, 1, 1),  # the unit itself, boundary included
            shapely.box(3, 3, 4, 4),  # outside
            shapely.Polygon([(1.5, 0.5), (2.5, 0.5), (1.5, 0.6)]),  # partly outside
        ],
        dtype=object,
    )
    units = [west, east]
    shapely.prepare(units)
    expected = shapely.covers(west, geoms) | shapely.covers(east, geoms)
    assert _covered(units, geoms).tolist() == expected.tolist() == [1, 1, 0, 1, 0, 0]
    touching = shapely.intersects(west, geoms) | shapely.intersects(east, geoms)
    assert _in_any(units, geoms, shapely.intersects).tolist() == touching.tolist()


@pytest.mark.parametrize(
    "values",
    [
        ["a", 'b"c', "d\\e", "NULL", "x,y", "{z}", " spaced ", "Žepče", "", '\\"', "tab\there"],
        [],
    ],
)
def test_text_arrays_reach_postgresql_unchanged(engine: Engine, values: list[str]) -> None:
    with engine.connect() as connection:
        got = connection.execute(
            text("SELECT coalesce(array_agg(v), '{}') FROM unnest(CAST(:a AS text[])) AS v"),
            {"a": text_array(values)},
        ).scalar_one()
    assert got == values


def test_number_arrays_reach_postgresql_unchanged(engine: Engine) -> None:
    values = [0.1, 1e-300, -2.5, 17.123456789012345, 1e22, 5, -0.0, 44.99999999999999, 2**53 + 1]
    with engine.connect() as connection:
        got = connection.execute(
            text("SELECT array_agg(v) FROM unnest(CAST(:a AS float8[])) AS v"),
            {"a": number_array(values)},
        ).scalar_one()
    assert got == [float(v) for v in values]
    assert [str(v) for v in got] == [str(float(v)) for v in values]


def test_item_counts_read_once_per_value_keep_their_messages() -> None:
    features = _features(
        {
            "hazard_id": ["A", "A", "A"],
            "activity_type": ["CLEARANCE"] * 3,
            "activity_ref": ["C-1"] * 3,
            "date": ["2021-01-01"] * 3,
            "uxo_found": ["2", 2, "2.5"],
            "uxo_destroyed": ["1", 3, None],
        }
    )
    found = [(index, message.split(": ", 1)[1]) for index, code, message in _found(features)]
    assert found == [
        (2, "UXO: 3 destroyed but only 2 found"),
        (3, "UXO found '2.5' is not a whole number ≥ 0"),
    ]
