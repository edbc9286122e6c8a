"""The command line against a real database: output, exit codes, and clean errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import Polygon, box, mapping
from sqlalchemy import Engine, text

from landrelease.cli import main
from landrelease.db import migrate

GEOD = Geod(ellps="WGS84")


def geod_area(geom: Polygon) -> float:
    area, _ = GEOD.geometry_area_perimeter(shapely.orient_polygons(geom))
    return abs(area)


def geojson(path: Path, geom: Polygon, epsg: int | None = 4326) -> str:
    collection: dict[str, object] = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {}, "geometry": mapping(geom)}],
    }
    if epsg is not None and epsg != 4326:
        collection["crs"] = {
            "type": "name",
            "properties": {"name": f"urn:ogc:def:crs:EPSG::{epsg}"},
        }
    path.write_text(json.dumps(collection))
    return str(path)


def fingerprint(engine: Engine) -> tuple[object, ...]:
    with engine.connect() as c:
        return tuple(
            c.execute(
                text(
                    "SELECT (SELECT count(*) FROM hazards), (SELECT count(*) FROM ledger_events),"
                    " (SELECT coalesce(sum(area_m2), 0) FROM hazards),"
                    " (SELECT count(*) FROM activities)"
                )
            ).one()
        )


def test_add_hazard_from_utm_file_stores_geodesic_area(cli, db, tmp_path):  # type: ignore[no-untyped-def]
    # A 400 m x 250 m rectangle in UTM 34N near Tuzla: 10 ha on the grid.
    utm = box(400_000, 4_930_000, 400_400, 4_930_250)
    path = geojson(tmp_path / "sha.geojson", utm, epsg=32634)
    result = cli(
        "hazard",
        "add",
        "BA-1",
        "--class",
        "SHA",
        "--geometry",
        path,
        "--date",
        "2020-05-01",
        "--contamination",
        "CMR",
        "--organisation",
        "Team 3",
    )
    assert result.exit_code == 0, result.output
    to_lonlat = Transformer.from_crs(32634, 4326, always_xy=True)
    lonlat = shapely.transform(
        utm.segmentize(10),
        lambda c: shapely.get_coordinates(shapely.points(*to_lonlat.transform(c[:, 0], c[:, 1]))),
    )
    expected = geod_area(lonlat)
    with db.connect() as c:
        stored = c.execute(text("SELECT area_m2 FROM hazards WHERE national_id = 'BA-1'")).scalar()
    assert stored == pytest.approx(expected, rel=1e-5)
    shown_m2 = float(result.output.split("(")[1].split(" m²")[0].replace(",", ""))
    assert shown_m2 == pytest.approx(expected, abs=0.1)


def test_release_commands_and_show(cli, db, tmp_path):  # type: ignore[no-untyped-def]
    hazard = box(18.0, 44.0, 18.01, 44.01)
    assert (
        cli(
            "hazard",
            "add",
            "BA-2",
            "--class",
            "SHA",
            "--geometry",
            geojson(tmp_path / "h.geojson", hazard),
            "--date",
            "2020-01-01",
        ).exit_code
        == 0
    )
    west = box(18.0, 44.0, 18.004, 44.01)
    result = cli(
        "release",
        "cancel",
        "BA-2",
        "--geometry",
        west.wkt,
        "--crs",
        "EPSG:4326",
        "--date",
        "2021-03-01",
        "--activity",
        "NTS-7",
        "--organisation",
        "Team 3",
    )
    assert result.exit_code == 0, result.output
    # The piece is bounded by the hazard's own (longer) geodesic edges, so it measures a few
    # m² less than the west box alone: equal to 1e-5.
    shown_m2 = float(
        result.output.split("cancelled ")[1].split("(")[1].split(" m²")[0].replace(",", "")
    )
    assert shown_m2 == pytest.approx(geod_area(west), rel=1e-5)

    part = box(18.004, 44.0, 18.007, 44.01)
    result = cli(
        "release",
        "confirm",
        "BA-2",
        "--geometry",
        part.wkt,
        "--crs",
        "4326",
        "--date",
        "2021-04-01",
    )
    assert result.exit_code == 0, result.output
    assert "BA-2-C1" in result.output

    result = cli(
        "release",
        "clear",
        "BA-2-C1",
        "--geometry",
        box(17.99, 43.99, 18.1, 44.1).wkt,
        "--crs",
        "4326",
        "--date",
        "2022-01-10",
        "--activity",
        "CL-1",
        "--items",
        "SUBMUNITION=12",
        "--items",
        "UXO=3/2",
    )
    assert result.exit_code == 0, result.output
    assert "closed as released" in result.output
    with db.connect() as c:
        items = dict(
            c.execute(
                text(
                    "SELECT item_type, destroyed FROM activity_items i JOIN activities a"
                    " ON a.id = i.activity_id WHERE a.reference = 'CL-1'"
                )
            ).all()
        )
        kind = c.execute(text("SELECT kind FROM activities WHERE reference = 'CL-1'")).scalar()
    assert items == {"SUBMUNITION": 12, "UXO": 2}
    assert kind == "CLEARANCE"

    shown = cli("hazard", "show", "BA-2")
    assert shown.exit_code == 0
    for word in ("recorded", "cancelled", "confirmed", "activity NTS-7", "with BA-2-C1"):
        assert word in shown.output
    listed = cli("hazard", "list", "--all")
    assert "BA-2-C1" in listed.output and "released" in listed.output
    active = cli("hazard", "list")
    assert "BA-2-C1" not in active.output and "BA-2 " in active.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [
                "hazard",
                "add",
                "BA-9",
                "--class",
                "SHA",
                "--geometry",
                "POLYGON((18 44, 18.01 44, 18.01 44.01, 18 44))",
                "--date",
                "2020-01-01",
            ],
            "no coordinate reference system",
        ),
        (
            [
                "release",
                "cancel",
                "NOPE",
                "--geometry",
                "POLYGON((18 44, 18.01 44, 18.01 44.01, 18 44))",
                "--crs",
                "4326",
                "--date",
                "2021-01-01",
            ],
            "no hazard with national ID NOPE",
        ),
        (
            [
                "release",
                "reduce",
                "BA-3",
                "--geometry",
                "POLYGON((19 44, 19.01 44, 19.01 44.01, 19 44))",
                "--crs",
                "4326",
                "--date",
                "2021-01-01",
            ],
            "does not overlap",
        ),
        (
            [
                "release",
                "clear",
                "BA-3",
                "--geometry",
                "POLYGON((18 44, 18.01 44, 18.01 44.01, 18 44))",
                "--crs",
                "4326",
                "--date",
                "2019-01-01",
            ],
            "out of order",
        ),
        (
            [
                "release",
                "clear",
                "BA-3",
                "--geometry",
                "POLYGON((18 44, 18.01 44, 18.01 44.01, 18 44))",
                "--crs",
                "4326",
                "--date",
                "2999-01-01",
            ],
            "in the future",
        ),
        (
            ["release", "cancel", "BA-3", "--geometry", "missing.geojson", "--date", "2021-01-01"],
            "no such file",
        ),
        (
            [
                "release",
                "confirm",
                "BA-3",
                "--geometry",
                "POLYGON((18 44, 18.01 44, 18.02 44, 18 44))",
                "--crs",
                "4326",
                "--date",
                "2021-01-01",
            ],
            "nothing is left after repair",
        ),
    ],
)
def test_errors_are_one_line_and_change_nothing(cli, db, args, message):  # type: ignore[no-untyped-def]
    cli(
        "hazard",
        "add",
        "BA-3",
        "--class",
        "SHA",
        "--geometry",
        box(18, 44, 18.01, 44.01).wkt,
        "--crs",
        "4326",
        "--date",
        "2020-01-01",
    )
    before = fingerprint(db)
    result = cli(*args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert fingerprint(db) == before


def test_bad_date_is_a_usage_error(cli):  # type: ignore[no-untyped-def]
    result = cli("release", "cancel", "BA-1", "--geometry", "x", "--date", "31/12/2020")
    assert result.exit_code == 2
    assert "use YYYY-MM-DD" in result.output


def test_db_status_reports_schema(cli):  # type: ignore[no-untyped-def]
    result = cli("db", "status")
    assert result.exit_code == 0, result.output
    assert f"schema: {migrate.head_revision()} (up to date)" in result.output


def test_the_command_list_is_what_click_would_print() -> None:
    """``--help`` reads each command's docstring from its source; Click, asked the usual way,
    imports every command and must print exactly the same list."""
    ctx = click.Context(main)
    ours, clicks = click.HelpFormatter(), click.HelpFormatter()
    main.format_commands(ctx, ours)
    click.Group.format_commands(main, ctx, clicks)
    assert ours.getvalue() == clicks.getvalue()
    assert "regions" in ours.getvalue() and "imports" in ours.getvalue()


def test_help_loads_no_command_module() -> None:
    """In a fresh interpreter: --help imports neither maps, reports nor the readers."""
    probe = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from landrelease.cli import main\n"
        "assert CliRunner().invoke(main, ['--help']).exit_code == 0\n"
        "heavy = ('folium', 'matplotlib', 'pyogrio', 'pandas')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
