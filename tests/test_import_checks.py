"""Checks an officer relies on beyond the geometry: names and IDs, dates, results met again,
releases drawn beside their hazard, and the report file itself.

Each test builds its own small file, so the expected figures are worked out here, with
pyproj.Geod for areas.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from importing import fingerprint, geod_area, imports_db
from pyproj import Geod
from shapely.geometry import Polygon, box, mapping
from sqlalchemy import Engine

from landrelease.ingest import import_file
from landrelease.ingest.report import problems_table, write_report

__all__ = ["imports_db"]

GEOD = Geod(ellps="WGS84")


def square(lon: float, lat: float, side_m: float) -> Polygon:
    """A square of ``side_m`` metres with its south-west corner at lon/lat, walked on the
    ellipsoid."""
    corners = [(lon, lat)]
    for azimuth in (90.0, 0.0, 270.0):
        lon, lat, _ = GEOD.fwd(lon, lat, azimuth, side_m)
        corners.append((lon, lat))
    return Polygon(corners)


def write(path: Path, rows: list[tuple[dict[str, object], Polygon | None]]) -> Path:
    """A GeoJSON file of features with these properties and polygons."""
    features = [
        {
            "type": "Feature",
            "properties": properties,
            "geometry": None if polygon is None else mapping(polygon),
        }
        for properties, polygon in rows
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), "utf-8")
    return path


def hazard(hazard_id: str, polygon: Polygon | None = None, **extra: object) -> tuple:
    properties = {"hazard_id": hazard_id, "class": "SHA", "date": "2023-03-01", **extra}
    return properties, polygon if polygon is not None else square(17.9, 44.2, 100)


def codes(result: object) -> set[tuple[int | None, str, str]]:
    return {(p.index, p.code, p.action) for p in result.problems}  # type: ignore[attr-defined]


# -- names and IDs ------------------------------------------------------------------------------


def test_ids_and_names_with_control_characters_or_too_long_are_refused(
    imports_db: Engine, tmp_path: Path
) -> None:
    before = fingerprint(imports_db)
    path = write(
        tmp_path / "texts.geojson",
        [
            hazard("BA-CR\r\nLF", square(17.90, 44.2, 100)),
            hazard("BA-" + "7" * 98, square(17.91, 44.2, 100)),  # 101 characters
            hazard("BA-TAB", square(17.92, 44.2, 100), name="Gornji\tVakuf"),
            hazard("BA-ESC", square(17.93, 44.2, 100), organisation="NPA \x1b[31m"),
            hazard("BA-" + "7" * 97, square(17.94, 44.2, 100)),  # 100 characters: accepted
        ],
    )
    result = import_file(imports_db, path)
    assert result.status == "refused"
    assert codes(result) == {
        (1, "control_character", "refused"),
        (2, "text_too_long", "refused"),
        (3, "control_character", "refused"),
        (4, "control_character", "refused"),
    }
    messages = {p.index: p.message for p in result.problems}
    assert "U+000D" in messages[1] and "hazard ID" in messages[1]
    assert "101 characters long, more than 100" in messages[2]
    assert "name" in messages[3] and "U+0009" in messages[3]
    assert "organisation" in messages[4] and "U+001B" in messages[4]
    table = problems_table(result.problems)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", table), (
        "a control character reached the table"
    )
    assert len(table.splitlines()) == 2 + 4  # header, rule, one line per problem
    assert fingerprint(imports_db) == before


# -- dates --------------------------------------------------------------------------------------


def test_a_date_must_be_a_date_from_its_first_character_to_its_last(
    imports_db: Engine, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "dates.geojson",
        [
            hazard("BA-D1", square(17.90, 44.2, 100), date="2024-03-123"),
            hazard("BA-D2", square(17.91, 44.2, 100), date="2024-03-12 not sure"),
            hazard("BA-D3", square(17.92, 44.2, 100), date="2024-03-12T99:99"),
            hazard("BA-D4", square(17.93, 44.2, 100), date="45300"),
            hazard("BA-D5", square(17.94, 44.2, 100), date="2024-03-12T10:15:00.000+01:00"),
            hazard("BA-D6", square(17.95, 44.2, 100), date="2024-03-12T10:15:00Z"),
            hazard("BA-D7", square(17.96, 44.2, 100), date="2024/03/12"),
        ],
    )
    result = import_file(imports_db, path, dry_run=True, today=dt.date(2025, 1, 1))
    assert codes(result) == {(n, "date_unparseable", "refused") for n in (1, 2, 3, 4)}
    serial = next(p.message for p in result.problems if p.index == 4)
    # Spreadsheets count 1900-01-01 as day 1 and keep a 29 February 1900 that never was.
    as_date = dt.date(1900, 1, 1) + dt.timedelta(days=45300 - 2)
    assert f"spreadsheet day number ({as_date})" in serial
    assert as_date == dt.date(2024, 1, 9)


# -- results met again ----------------------------------------------------------------------------


@pytest.fixture
def cleared_once(imports_db: Engine, tmp_path: Path) -> tuple[Engine, Path, list[tuple]]:
    """Two hazards, then a file of results applied once: an NTS on the first and a clearance
    with items on the second. Returns the engine, a folder, and the results' rows."""
    first, second = square(17.90, 44.2, 200), square(17.92, 44.2, 200)
    hazards = write(tmp_path / "hazards.geojson", [hazard("BA-R1", first), hazard("BA-R2", second)])
    assert import_file(imports_db, hazards).status == "applied"
    results = [
        (
            {
                "hazard_id": "BA-R1",
                "activity_type": "NTS",
                "activity_ref": "NTS-1",
                "date": "2024-05-01",
            },
            square(17.90, 44.2, 100),
        ),
        (
            {
                "hazard_id": "BA-R2",
                "activity_type": "clearance",
                "activity_ref": "CL-1",
                "date": "2024-06-01",
                "submunitions_found": 3,
                "submunitions_destroyed": 3,
            },
            square(17.92, 44.2, 120),
        ),
    ]
    assert import_file(imports_db, write(tmp_path / "results.geojson", results)).status == "applied"
    return imports_db, tmp_path, results


def test_a_result_met_again_unchanged_is_skipped(cleared_once: tuple) -> None:
    engine, folder, results = cleared_once
    before = fingerprint(engine)
    again = import_file(engine, write(folder / "again.geojson", list(reversed(results))))
    assert again.status == "unchanged"
    assert codes(again) == {(1, "already_imported", "skipped"), (2, "already_imported", "skipped")}
    assert fingerprint(engine) == before


def test_a_result_met_again_in_parts_is_still_the_same_result(cleared_once: tuple) -> None:
    """An activity may clear several polygons of one hazard: they are compared together."""
    engine, folder, results = cleared_once
    before = fingerprint(engine)
    (nts, nts_polygon), clearance = results
    west, south, east, north = nts_polygon.bounds
    middle = (west + east) / 2
    halves = [
        (nts, nts_polygon.intersection(box(west - 1, south - 1, middle, north + 1))),
        (nts, nts_polygon.intersection(box(middle, south - 1, east + 1, north + 1))),
    ]
    again = import_file(engine, write(folder / "halves.geojson", [*halves, clearance]))
    assert again.status == "unchanged"
    assert {p.code for p in again.problems} == {"already_imported"}
    assert fingerprint(engine) == before


def changed(engine: Engine, folder: Path, row: tuple) -> str:
    """Import ``row`` alone, expect it refused as changed; return the reason."""
    before = fingerprint(engine)
    result = import_file(engine, write(folder / "changed.geojson", [row]))
    assert result.status == "refused"
    assert codes(result) == {(1, "activity_changed", "refused")}
    assert fingerprint(engine) == before
    return result.problems[0].message


def m2_before(phrase: str, message: str) -> float:
    """The m² figure printed just before ``phrase``."""
    figure = re.search(r"\(([\d,.]+) m²\) " + re.escape(phrase), message)
    assert figure, message
    return float(figure.group(1).replace(",", ""))


def test_a_result_met_again_changed_is_refused_with_what_changed(cleared_once: tuple) -> None:
    engine, folder, results = cleared_once
    (nts, nts_polygon), (clearance, clearance_polygon) = results
    released = geod_area(nts_polygon)  # the 100 m square, wholly inside its 200 m hazard

    shrunk = changed(engine, folder, (nts, square(17.90, 44.2, 50)))
    assert (
        abs(
            m2_before("it released lie outside", shrunk)
            - (released - geod_area(square(17.90, 44.2, 50)))
        )
        <= 0.2
    )

    grown = changed(engine, folder, (nts, square(17.90, 44.2, 150)))
    assert (
        abs(
            m2_before("that the hazard still holds", grown)
            - (geod_area(square(17.90, 44.2, 150)) - released)
        )
        <= 0.2
    )

    assert "it was NTS, this file gives TS" in changed(
        engine, folder, ({**nts, "activity_type": "TS"}, nts_polygon)
    )
    assert (
        "items were SUBMUNITION 3 found / 3 destroyed, this file gives SUBMUNITION 3 found / "
        "2 destroyed"
    ) in changed(engine, folder, ({**clearance, "submunitions_destroyed": 2}, clearance_polygon))
    moved = changed(engine, folder, ({**nts, "hazard_id": "BA-R2"}, clearance_polygon))
    assert "it took no land out of this hazard" in moved

    # One changed result refuses the file, the unchanged ones with it.
    before = fingerprint(engine)
    mixed = import_file(
        engine, write(folder / "mixed.geojson", [results[1], (nts, square(17.90, 44.2, 50))])
    )
    assert mixed.status == "refused"
    assert codes(mixed) == {(1, "already_imported", "skipped"), (2, "activity_changed", "refused")}
    assert fingerprint(engine) == before


# -- releases drawn beside their hazard --------------------------------------------------------


def test_a_release_drawn_mostly_beside_its_hazard_is_named(
    imports_db: Engine, tmp_path: Path
) -> None:
    target = square(17.90, 44.2, 100)
    hazards = write(
        tmp_path / "hazards.geojson",
        [hazard("BA-W1", target), hazard("BA-W2", square(17.92, 44.2, 100))],
    )
    assert import_file(imports_db, hazards).status == "applied"
    wide = square(17.90, 44.2, 300)  # the hazard is one ninth of it
    near = square(17.92, 44.2, 120)  # 100 m hazard, 20 m margin: under half beyond
    results = write(
        tmp_path / "results.geojson",
        [
            (
                {
                    "hazard_id": "BA-W1",
                    "activity_type": "clearance",
                    "activity_ref": "CL-W1",
                    "date": "2024-06-01",
                },
                wide,
            ),
            (
                {
                    "hazard_id": "BA-W2",
                    "activity_type": "clearance",
                    "activity_ref": "CL-W2",
                    "date": "2024-06-01",
                },
                near,
            ),
        ],
    )
    result = import_file(imports_db, results)
    assert result.status == "applied"
    assert codes(result) == {(1, "release_beyond_hazard", "warning")}
    message = result.problems[0].message
    drawn, released, beyond = (
        float(n.replace(",", "")) for n in re.findall(r"\(([\d,.]+) m²\)", message)
    )
    assert abs(drawn - geod_area(wide)) <= 0.2
    assert abs(released - geod_area(target)) <= 0.2
    assert abs(beyond - (geod_area(wide) - geod_area(target))) <= 0.2
    assert f"({beyond / drawn:.0%})" in message


# -- the report file ---------------------------------------------------------------------------


def test_a_report_name_that_cannot_be_written_is_refused_before_the_import(
    cli: Callable[..., Result], db: Engine, tmp_path: Path
) -> None:
    path = write(tmp_path / "hazards.geojson", [hazard("BA-P1")])
    before = fingerprint(db)
    for report, expected in (
        (tmp_path / "report.html", "give a .csv or .json file name"),
        (tmp_path / "no such folder" / "report.csv", "does not exist"),
    ):
        run = cli("import", str(path), "--report", str(report))
        assert run.exit_code == 1
        assert expected in run.output
        assert "applied" not in run.output
        assert fingerprint(db) == before


def test_the_csv_report_holds_no_formula_and_says_when_nothing_was_done(
    imports_db: Engine, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "formulas.geojson",
        [
            hazard('=HYPERLINK("http://x")', None),
            ({"hazard_id": "+cmd|' /C calc'!A0", "class": "SHA", "date": "2023-03-01"}, None),
            ({"hazard_id": "@SUM(1+1)", "class": "SHA", "date": "2023-03-01"}, None),
            ({"hazard_id": "-2+3", "class": "SHA", "date": "2023-03-01"}, None),
        ],
    )
    result = import_file(imports_db, path, dry_run=True)
    report = write_report(result, tmp_path / "report.csv")
    with report.open(newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    ids = [row["source_id"] for row in rows if row["problem"] == "null_geometry"]
    assert ids == ["'+cmd|' /C calc'!A0", "'@SUM(1+1)", "'-2+3"]
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row.values())
    first = import_file(imports_db, write(tmp_path / "one.geojson", [hazard("BA-ONCE")]))
    assert first.status == "applied"
    again = import_file(imports_db, tmp_path / "one.geojson")
    with write_report(again, tmp_path / "again.csv").open(newline="", encoding="utf-8") as stream:
        (row,) = list(csv.DictReader(stream))
    assert (row["feature"], row["problem"], row["action"]) == (
        "file",
        "already_imported",
        "skipped",
    )
    assert f"import #{first.import_id} of " in row["message"]
