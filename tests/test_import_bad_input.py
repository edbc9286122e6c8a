"""The bad-input corpus (``tests/data/bad``): each file, the exact problem reported.

Every file is imported into a database holding the BiH entities (and, where the problem is a
conflict with data already there, the generic sample hazards). The test names the problems the
report must list, feature by feature, and, where the file is refused, that the database is
exactly as it was. Files with a repairable problem or a warning must be applied, with the
finding reported. Files that cannot be read as a whole (``REFUSED``) must give the exact
reason, naming what to do, and write nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely
import shapely.affinity
from importing import BAD, SAMPLES, fingerprint, geod_area, imports_db
from sqlalchemy import Engine, text

from landrelease.errors import LandReleaseError
from landrelease.ingest import import_file
from landrelease.ingest.nul import nul_at

__all__ = ["imports_db"]

#: file -> (options, needs the generic sample hazards, [(feature, code, action)], applied)
CORPUS: dict[str, tuple[dict[str, str], bool, list[tuple[int | None, str, str]], bool]] = {
    "null_geometry.geojson": ({}, False, [(2, "null_geometry", "refused")], False),
    "empty_geometry.geojson": ({}, False, [(2, "empty_geometry", "refused")], False),
    "self_intersection.geojson": ({}, False, [(1, "self_intersection", "repaired")], True),
    "self_intersection_large.geojson": ({}, False, [(2, "repair_too_large", "refused")], False),
    "ring_self_intersection.geojson": (
        {},
        False,
        [(1, "ring_self_intersection", "repaired")],
        True,
    ),
    "ring_too_few_points.geojson": ({}, False, [(2, "ring_too_few_points", "refused")], False),
    "ring_single_vertex.geojson": ({}, False, [(2, "ring_too_few_points", "refused")], False),
    "ring_too_few_points_multi.geojson": (
        {},
        False,
        [(2, "ring_too_few_points", "refused")],
        False,
    ),
    "ring_not_closed.geojson": ({}, False, [(2, "ring_not_closed", "refused")], False),
    "ring_not_closed_wkt.csv": (
        {"crs": "EPSG:4326"},
        False,
        [(2, "ring_not_closed", "refused")],
        False,
    ),
    "malformed_coordinates.geojson": ({}, False, [(2, "malformed_geometry", "refused")], False),
    "duplicate_geometry.geojson": ({}, False, [(2, "duplicate_geometry", "refused")], False),
    "duplicate_id.geojson": ({}, False, [(2, "duplicate_id", "refused")], False),
    "duplicate_id_db.geojson": ({}, True, [(1, "duplicate_id_db", "refused")], False),
    "duplicate_geometry_db.geojson": ({}, True, [(1, "duplicate_geometry_db", "refused")], False),
    "outside_country.geojson": ({}, False, [(2, "outside_regions", "refused")], False),
    "partly_outside.geojson": ({}, False, [(1, "partly_outside", "warning")], True),
    "sliver.geojson": ({}, False, [(2, "sliver", "refused")], False),
    "no_crs.zip": ({}, False, [(None, "no_crs", "refused")], False),
    "coordinates_out_of_range.geojson": (
        {},
        False,
        [(2, "coordinates_out_of_range", "refused")],
        False,
    ),
    "swapped_lonlat.geojson": ({}, False, [(2, "coordinates_swapped", "refused")], False),
    "date_missing.geojson": ({}, False, [(2, "date_missing", "refused")], False),
    "date_unparseable.geojson": ({}, False, [(2, "date_unparseable", "refused")], False),
    "date_future.geojson": ({}, False, [(2, "date_future", "refused")], False),
    "dates_out_of_order.geojson": ({}, False, [(2, "dates_out_of_order", "refused")], False),
    "release_before_hazard.geojson": ({}, True, [(1, "dates_out_of_order", "refused")], False),
    "unknown_hazard.geojson": ({}, False, [(2, "unknown_hazard", "refused")], False),
    "no_overlap.geojson": ({}, False, [(2, "no_overlap", "refused")], False),
    "unknown_value.geojson": ({}, False, [(2, "unknown_value", "refused")], False),
    "near_duplicate.geojson": ({}, False, [(2, "near_duplicate_geometry", "refused")], False),
    "near_duplicate_db.geojson": ({}, True, [(1, "near_duplicate_geometry_db", "refused")], False),
    "overlapping_hazards.geojson": ({}, False, [(2, "overlaps_hazard", "warning")], True),
    "bad_count.geojson": (
        {},
        False,
        [(2, "bad_count", "refused"), (3, "bad_count", "refused"), (4, "bad_count", "refused")],
        False,
    ),
    "missing_reference.geojson": ({}, False, [(2, "missing_reference", "refused")], False),
    "mojibake_utf8.zip": (
        {},
        False,
        [(1, "mojibake", "refused"), (1, "mojibake", "refused"), (2, "mojibake", "refused")],
        False,
    ),
    "mojibake_cp1250.zip": (
        {},
        False,
        [(1, "mojibake", "refused"), (1, "mojibake", "refused"), (2, "mojibake", "refused")],
        False,
    ),
    "mojibake_cp1250_subtle.zip": ({}, False, [(2, "mojibake", "refused")], False),
    "western_names_latin1.zip": ({}, False, [], True),
    "curved_wkt.csv": ({"crs": "EPSG:4326"}, False, [(4, "malformed_geometry", "refused")], False),
    "utf16_bom.csv": ({"crs": "EPSG:4326"}, False, [], True),
    "misclosure.csv": ({}, False, [(1, "misclosure", "refused")], False),
    "nul_escape.geojson": ({}, False, [(2, "control_character", "refused")], False),
    "nul_byte.geojson": ({}, False, [(2, "control_character", "refused")], False),
}

_SAVED_AS = "(or the encoding the file was saved in)"
_WHOLE = "a shapefile is its .shp, .shx, .dbf, .prj and .cpg together: ask for all of them"

#: file -> (options, the reason the whole file is refused, exactly)
REFUSED: dict[str, tuple[dict[str, str], str]] = {
    "cp1250.csv": (
        {"crs": "EPSG:4326"},
        "cp1250.csv: feature 2, field 'name', is not UTF-8 text (CSV files are read as UTF-8 "
        'unless --encoding says otherwise): byte 0xE8 in "Br\\xe8ko"; in cp1250 it reads '
        f'"Brčko": import again with --encoding cp1250 {_SAVED_AS}',
    ),
    "cp1250.geojson": (
        {},
        "cp1250.geojson: feature 1, field 'name', is not UTF-8 text (GeoJSON files are read as "
        'UTF-8 unless --encoding says otherwise): byte 0x8E in "\\x8eep\\xe8e"; in cp1250 it '
        f'reads "Žepče": import again with --encoding cp1250 {_SAVED_AS}',
    ),
    "cpg_says_utf8.zip": (
        {},
        "cpg_says_utf8.zip: feature 2, field 'name', is not UTF-8 text (its .cpg says UTF-8): "
        'byte 0xC8 in "\\xc8elebi\\xe6i"; in cp1250 it reads "Čelebići": import again with '
        f"--encoding cp1250 {_SAVED_AS}",
    ),
    "same_name.zip": (
        {},
        "same_name.zip holds 2 datasets: 2023/hazards (shapefile, 1 feature), 2024/hazards "
        "(shapefile, 1 feature); choose one with --layer",
    ),
    "shp_and_geojson.zip": (
        {},
        "shp_and_geojson.zip holds 2 datasets: hazards (shapefile, 1 feature), more_hazards "
        "(GeoJSON, 1 feature); choose one with --layer",
    ),
    "no_shx.zip": (
        {},
        "no_shx.zip: no_shx.shx (the shape index) is missing - GDAL needs it to find the "
        f"shapes; {_WHOLE} (zipped, for instance)",
    ),
    "no_dbf.zip": (
        {},
        "no_dbf.zip: no_dbf.dbf (the attribute table) is missing - it holds the hazard IDs, "
        f"classes and dates; {_WHOLE} (zipped, for instance)",
    ),
    "empty_collection.geojson": ({}, "empty_collection.geojson: the file has no features"),
    "nul_in_text.csv": (
        {"crs": "EPSG:4326"},
        "nul_in_text.csv: line 3, column 27 holds a NUL character (code 0), where reading "
        "stops and the rest of its line is lost; remove it and import again",
    ),
    "two_sheets.xlsx": (
        {},
        "two_sheets.xlsx has 2 layers: hazards (table, 2 rows), notes (table, 1 row); choose "
        "one with --layer",
    ),
}


def test_the_corpus_has_a_file_per_problem() -> None:
    files = {p.name for p in BAD.iterdir() if p.suffix != ".py"}
    assert len(files) >= 20
    assert not set(CORPUS) & set(REFUSED)
    assert set(CORPUS) | set(REFUSED) | {"zip_slip.zip"} == files


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_unreadable_file_is_refused_with_the_reason(imports_db: Engine, name: str) -> None:
    options, reason = REFUSED[name]
    before = fingerprint(imports_db)
    with pytest.raises(LandReleaseError) as refused:
        import_file(imports_db, BAD / name, **options)  # type: ignore[arg-type]
    assert str(refused.value) == reason
    assert fingerprint(imports_db) == before


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_bad_file_reports_the_exact_problem(imports_db: Engine, name: str) -> None:
    options, needs_hazards, expected, applied = CORPUS[name]
    if needs_hazards:
        assert import_file(imports_db, SAMPLES / "generic_hazards.geojson").status == "applied"
    before = fingerprint(imports_db)
    result = import_file(imports_db, BAD / name, **options)  # type: ignore[arg-type]
    found = [(p.index, p.code, p.action) for p in result.problems]
    assert found == expected, [p.message for p in result.problems]
    for problem in result.problems:
        if problem.index is not None:
            assert problem.message.startswith(f"feature {problem.index} ("), problem.message
    if applied:
        assert result.status == "applied"
        assert fingerprint(imports_db) != before
    else:
        assert result.status == "refused"
        assert fingerprint(imports_db) == before


def test_a_nul_is_told_from_text_that_only_looks_like_one(tmp_path: Path) -> None:
    """``\\u0000`` in JSON is a backslash and the text "u0000"; ``\\\u0000`` is a backslash
    and then a NUL. Offsets are counted by hand in the bytes written."""
    cases = {
        b'{"id": "BA\\\\u0000"}': None,
        b'{"id": "BA\\\\\\u0000"}': 12,
        b'{"id": "BA\\u0000-1", "x": "\x00"}': 10,
        b'{"id": "BA\x00"}': 10,
    }
    for number, (data, offset) in enumerate(cases.items()):
        path = tmp_path / f"{number}.geojson"
        path.write_bytes(data)
        assert nul_at(path, json_escapes=True) == offset, data
    table = tmp_path / "t.csv"
    table.write_bytes(b"a,b\n1,\x002\n")
    assert nul_at(table) == 6
    assert nul_at(table, json_escapes=True) == 6
    (tmp_path / "empty.csv").write_bytes(b"")
    assert nul_at(tmp_path / "empty.csv") is None


def test_a_nul_outside_the_values_refuses_the_file_saying_where(
    imports_db: Engine, tmp_path: Path
) -> None:
    """A NUL in a field's name cannot be put back in a value: the file is refused, located."""
    text_of = (BAD / "nul_escape.geojson").read_text(encoding="utf-8")
    text_of = text_of.replace("\\u0000", "").replace('"organisation"', '"organi\\u0000sation"', 1)
    path = tmp_path / "nul_in_name.geojson"
    path.write_text(text_of, encoding="utf-8")
    line = next(n for n, row in enumerate(text_of.splitlines(), 1) if "organi\\u0000sation" in row)
    column = text_of.splitlines()[line - 1].index("\\u0000") + 1
    before = fingerprint(imports_db)
    with pytest.raises(LandReleaseError) as refused:
        import_file(imports_db, path)
    assert str(refused.value) == (
        f"nul_in_name.geojson: line {line}, column {column} holds a NUL character (code 0), and "
        "the text holding it cannot be read whole; remove it and import again"
    )
    assert fingerprint(imports_db) == before


def test_messages_say_what_is_wrong(imports_db: Engine) -> None:
    """A few messages in full: the officer must be able to act on each."""

    def message(name: str, **options: str) -> str:
        result = import_file(imports_db, BAD / name, **options)  # type: ignore[arg-type]
        return result.problems[0].message

    assert message("ring_not_closed.geojson").startswith(
        "feature 2 (BA-B-002): ring 1 is not closed: it starts at (18.027493, 44.100000) and "
        "ends at (18.027493, 44.101800)"
    )
    assert message("ring_single_vertex.geojson") == (
        "feature 2 (BA-B-002): ring 1 has 1 point; a ring needs at least 4 (three corners and "
        "the first repeated at the end)"
    )
    assert message("malformed_coordinates.geojson") == (
        "feature 2 (BA-B-002): position 2 of ring 1 is [18.02999109], not a pair of numbers"
    )
    assert "longitude and latitude swapped it falls inside" in message("swapped_lonlat.geojson")
    assert "probably 'Općina Goražde'" in message("mojibake_cp1250.zip")
    assert "--encoding cp1250" in message("mojibake_cp1250.zip")
    assert "the repair would change the area by +" in message("self_intersection_large.geojson")
    assert "more than the 1 % allowed" in message("misclosure.csv")
    out_of_range = (
        "is outside longitude -180..180 / latitude -90..90 - is the CRS right? The coordinates "
        "are not in the range of EPSG:4326 (WGS 84), the CRS they were read with; projected "
        "coordinates (metres) need theirs given with --crs, e.g. --crs EPSG:32634 for UTM zone "
        "34N"
    )
    assert message("coordinates_out_of_range.geojson").endswith(out_of_range)
    # Without a CRS, metres are told from degrees (the file's polygons are in UTM zone 34N).
    assert message("no_crs.zip") == (
        "no_crs.zip: the file has no coordinate reference system; its coordinates look like "
        "metres of a projected system: give its EPSG code with --crs (e.g. --crs EPSG:32634 for "
        "UTM zone 34N)"
    )
    # The same when the wrong CRS was given on the command, not taken from the file.
    assert message("no_crs.zip", crs="EPSG:4326") == (
        f"feature 1 (BA-B-001): coordinate (317548.000000, 4933315.000000) {out_of_range}"
    )
    assert message("mojibake_cp1250_subtle.zip") == (
        "feature 2 (BA-R-002): field name reads 'Zenica è', probably 'Zenica č': the text is "
        "cp1250 read with the wrong encoding; import again with --encoding cp1250"
    )
    repaired = import_file(imports_db, BAD / "self_intersection.geojson").problems[0].message
    assert "area changed by +" in repaired and "m² (+0." in repaired


@pytest.mark.parametrize(
    ("name", "encoding", "expected"),
    [
        ("mojibake_utf8.zip", "UTF-8", "Goražde – Kopači"),
        ("mojibake_cp1250.zip", "cp1250", "Goražde – Kopači"),
    ],
)
def test_mojibake_is_fixed_with_the_encoding_named(
    imports_db: Engine, name: str, encoding: str, expected: str
) -> None:
    result = import_file(imports_db, BAD / name, encoding=encoding)
    assert result.status == "applied", result.problems
    with imports_db.connect() as c:
        stored = c.execute(text("SELECT name FROM hazards WHERE national_id = 'BA-B-001'")).scalar()
        organisations = set(c.execute(text("SELECT name FROM organisations")).scalars())
    assert stored == expected
    assert "Općina Goražde" in organisations


def test_missing_crs_is_given_on_the_command(imports_db: Engine) -> None:
    result = import_file(imports_db, BAD / "no_crs.zip", crs="EPSG:32634")
    assert result.status == "applied", result.problems
    with imports_db.connect() as c:
        lon = c.execute(text("SELECT ST_X(ST_Centroid(geom)) FROM hazards")).scalar()
    assert 18.6 < lon < 18.8


def test_zip_slip_is_refused_before_anything_is_written(
    imports_db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # pick TMPDIR up
    before = fingerprint(imports_db)
    with pytest.raises(LandReleaseError, match="points outside the archive folder; refused"):
        import_file(imports_db, BAD / "zip_slip.zip")
    assert fingerprint(imports_db) == before
    assert not list(tmp_path.rglob("escaped.geojson"))
    assert not list((tmp_path / "tmp").iterdir())  # the unpacking folder is gone too


def _overlap_m2(message: str) -> float:
    found = re.search(r"overlaps .* by ([\d,]+\.\d) m²", message)
    assert found, message
    return float(found.group(1).replace(",", ""))


def test_overlaps_are_measured_in_the_file_and_against_the_database(
    imports_db: Engine, tmp_path: Path
) -> None:
    """The m² a warning names is the geodesic area of the land the two hazards share."""
    path = BAD / "overlapping_hazards.geojson"
    first, second = pyogrio.read_dataframe(path).geometry.values
    result = import_file(imports_db, path)
    assert result.status == "applied"
    (problem,) = result.problems
    assert "feature 1 (BA-B-001)" in problem.message
    assert _overlap_m2(problem.message) == pytest.approx(
        geod_area(first.intersection(second)), abs=0.1
    )

    width = second.bounds[2] - second.bounds[0]
    third = shapely.affinity.translate(second, xoff=0.6 * width)
    later = tmp_path / "later.geojson"
    pyogrio.write_dataframe(
        gpd.GeoDataFrame(
            {"hazard_id": ["BA-B-003"], "class": ["CHA"], "date": ["2023-05-01"]},
            geometry=[third],
            crs=4326,
        ),
        later,
    )
    result = import_file(imports_db, later)
    assert result.status == "applied"
    (problem,) = result.problems
    assert (problem.code, problem.action) == ("overlaps_hazard_db", "warning")
    assert "hazard BA-B-002" in problem.message
    assert _overlap_m2(problem.message) == pytest.approx(
        geod_area(second.intersection(third)), abs=0.1
    )
