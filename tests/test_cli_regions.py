"""``landrelease regions``: boundaries loaded from the command line, all or nothing.

Small boundary files made here (two 0.1° squares and a municipality inside one) keep the
figures checkable by hand: areas against pyproj's geodesic areas, a hazard recorded before the
boundaries measured into them afterwards.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from importing import geod_area
from shapely.geometry import Polygon, box, mapping
from sqlalchemy import Engine, text

pytestmark = pytest.mark.db

WEST, EAST = box(18.0, 44.0, 18.1, 44.1), box(18.1, 44.0, 18.2, 44.1)
TOWN = box(18.02, 44.02, 18.05, 44.05)  # inside WEST


def boundaries(path: Path, units: list[tuple[str | int | None, str, Polygon]]) -> str:
    """A GeoJSON boundary file in the geoBoundaries layout (shapeID, shapeName)."""
    features = [
        {
            "type": "Feature",
            "properties": {"shapeID": code, "shapeName": name},
            "geometry": mapping(geom),
        }
        for code, name, geom in units
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return str(path)


def regions(engine: Engine) -> dict[str, tuple[int, str | None, float]]:
    with engine.connect() as c:
        rows = c.execute(
            text(
                "SELECT r.code, r.admin_level, p.code AS parent, r.area_m2 FROM regions r"
                " LEFT JOIN regions p ON p.id = r.parent_id"
            )
        ).all()
    return {row.code: (row.admin_level, row.parent, row.area_m2) for row in rows}


def analyze_count(engine: Engine) -> int:
    """Manual ANALYZE runs of region_parts (autovacuum's are counted apart)."""
    with engine.connect() as c:
        return int(
            c.execute(
                text("SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'region_parts'")
            ).scalar_one()
        )


def test_levels_load_with_parents_and_geodesic_areas(cli, db, tmp_path):  # type: ignore[no-untyped-def]
    entities = boundaries(tmp_path / "adm1.geojson", [("W", "West", WEST), ("E", "East", EAST)])
    towns = boundaries(tmp_path / "adm3.geojson", [("T", "Town", TOWN)])
    analyzed = analyze_count(db)
    first = cli("regions", "load", entities, "--level", "1")
    assert first.exit_code == 0, first.output
    assert analyze_count(db) == analyzed + 1  # planned on statistics that include the load
    assert first.output == "level 1: 2 new region(s), 2 loaded in all\n"
    assert cli("regions", "load", towns, "--level", "3").exit_code == 0
    loaded = regions(db)
    assert {code: level_parent for code, (*level_parent, _) in loaded.items()} == {
        "W": [1, None],
        "E": [1, None],
        "T": [3, "W"],
    }
    for code, geom in (("W", WEST), ("E", EAST), ("T", TOWN)):
        assert loaded[code][2] == pytest.approx(geod_area(geom), rel=1e-6)
    again = cli("regions", "load", entities, "--level", "1")
    assert again.output == "level 1: 0 new region(s), 2 loaded in all\n"
    assert regions(db) == loaded
    listed = cli("regions", "list", "--level", "3").output.splitlines()
    assert len(listed) == 1
    assert listed[0].split()[:3] == ["T", "3", "W"] and listed[0].endswith("Town")


def test_a_hazard_recorded_before_its_boundaries_is_measured_into_them(cli, db, tmp_path):  # type: ignore[no-untyped-def]
    hazard = box(18.09, 44.05, 18.11, 44.06)  # half in WEST, half in EAST
    recorded = cli(
        "hazard", "add", "BA-1", "--class", "SHA", "--geometry", hazard.wkt, "--crs", "4326",
        "--date", "2020-01-01",
    )  # fmt: skip
    assert recorded.exit_code == 0, recorded.output
    entities = boundaries(tmp_path / "adm1.geojson", [("W", "West", WEST), ("E", "East", EAST)])
    assert cli("regions", "load", entities, "--level", "1").exit_code == 0
    with db.connect() as c:
        measured = dict(
            c.execute(
                text(
                    "SELECT r.code, er.area_m2 FROM event_regions er"
                    " JOIN regions r ON r.id = er.region_id"
                )
            ).all()
        )
    assert measured["W"] == pytest.approx(geod_area(box(18.09, 44.05, 18.10, 44.06)), rel=1e-5)
    assert measured["E"] == pytest.approx(geod_area(box(18.10, 44.05, 18.11, 44.06)), rel=1e-5)


@pytest.mark.parametrize(
    ("units", "message"),
    [
        ([("W", "West", WEST), (None, "Nowhere", EAST)], "no shapeID"),
        ([("W", "West", WEST), ("W", "West again", EAST)], "shapeID W given twice"),
    ],
    ids=["no-code", "code-twice"],
)
def test_a_bad_unit_refuses_the_whole_file(cli, db, tmp_path, units, message):  # type: ignore[no-untyped-def]
    path = boundaries(tmp_path / "bad.geojson", units)
    result = cli("regions", "load", path, "--level", "1")
    assert result.exit_code == 1
    assert message in result.output and "nothing loaded" in result.output
    assert "Traceback" not in result.output
    assert regions(db) == {}


def test_usage_errors_name_what_is_missing(cli, tmp_path):  # type: ignore[no-untyped-def]
    path = boundaries(tmp_path / "adm1.geojson", [("W", "West", WEST)])
    assert "--level is required" in cli("regions", "load", path).output
    assert "either PATH" in cli("regions", "load").output
    assert "either PATH" in cli("regions", "load", path, "--bundled").output
    nothing = cli("regions", "list")
    assert nothing.exit_code == 1 and "no regions are loaded" in nothing.output


def test_numeric_codes_keep_their_digits(cli, db, tmp_path):  # type: ignore[no-untyped-def]
    """A code column of numbers, as many national gazetteers use: 7 stays "7", not "7.0"."""
    units = [(7, "West", WEST), (12, "East", EAST)]
    path = boundaries(tmp_path / "numbered.geojson", units)
    assert cli("regions", "load", path, "--level", "1").exit_code == 0
    assert set(regions(db)) == {"7", "12"}
    gap = boundaries(tmp_path / "gap.geojson", [(7, "West", WEST), (None, "East", EAST)])
    refused = cli("regions", "load", gap, "--level", "2")
    assert refused.exit_code == 1 and "no shapeID" in refused.output
