"""Every format and every shipped profile on its sample file, against a real PostGIS.

Areas are checked against pyproj alone (``tests/importing.py``): the file is read, transformed
and measured independently of landrelease, and every stored ``recorded`` area must agree to
1e-5 relative.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from importing import SAMPLES, fingerprint, imports_db, source_areas, stored_areas
from sqlalchemy import Engine, text

from landrelease.cli import main
from landrelease.errors import LandReleaseError
from landrelease.ingest import import_file, load_profile, validate_profile

__all__ = ["imports_db"]

REL = 1e-5


def _assert_areas(engine: Engine, expected: dict[str, float]) -> None:
    stored = stored_areas(engine)
    for hazard_id, area in expected.items():
        assert stored[hazard_id] == pytest.approx(area, rel=REL), hazard_id


def _changes(result: object) -> set[tuple[str, str, int]]:
    return {(c.kind, c.hazard_class, c.count) for c in result.changes}  # type: ignore[attr-defined]


def test_geojson_hazards_with_value_mapping_and_marking(imports_db: Engine) -> None:
    result = import_file(imports_db, SAMPLES / "generic_hazards.geojson")
    assert result.status == "applied", result.problems
    assert (result.read, result.accepted, result.refused) == (6, 6, 0)
    assert _changes(result) == {("recorded", "SHA", 4), ("recorded", "CHA", 2)}
    _assert_areas(imports_db, source_areas(SAMPLES / "generic_hazards.geojson", "hazard_id"))
    with imports_db.connect() as c:
        rows = dict(c.execute(text("SELECT national_id, contamination FROM hazards")).all())
        marked = c.execute(
            text("SELECT marked_date FROM hazards WHERE national_id = 'BA-G-003'")
        ).scalar()
        name = c.execute(text("SELECT name FROM hazards WHERE national_id = 'BA-G-004'")).scalar()
    # "cluster", "AP", "AT", "mixed", "UXO" translated by the profile's value table.
    assert rows == {
        "BA-G-001": "CMR",
        "BA-G-002": "AP_MINE",
        "BA-G-003": "CMR",
        "BA-G-004": "AT_MINE",
        "BA-G-005": "MIXED",
        "BA-G-006": "ERW",
    }
    assert str(marked) == "2022-04-01"
    assert name == "Maglaj – Bočinja"


def test_utm_shapefile_zip_is_stored_as_wgs84_with_geodesic_areas(imports_db: Engine) -> None:
    path = SAMPLES / "generic_hazards_utm34n.zip"
    result = import_file(imports_db, path)
    assert result.status == "applied", result.problems
    expected = source_areas(path, "hazard_id")
    assert len(expected) == 3
    _assert_areas(imports_db, expected)
    with imports_db.connect() as c:
        srid, xmin, ymin, xmax, ymax = c.execute(
            text(
                "SELECT max(ST_SRID(geom)), min(ST_XMin(geom)), min(ST_YMin(geom)),"
                " max(ST_XMax(geom)), max(ST_YMax(geom)) FROM hazards"
            )
        ).one()
        names = set(c.execute(text("SELECT name FROM hazards")).scalars())
    assert srid == 4326
    assert 18.5 < xmin < xmax < 19.0 and 44.3 < ymin < ymax < 44.6  # lon/lat, not metres
    assert "Živinice – Đurđevik" in names  # .cpg says UTF-8: read as such


def test_plain_shp_without_cpg_is_read_with_given_encoding(
    imports_db: Engine, tmp_path: Path
) -> None:
    with zipfile.ZipFile(SAMPLES / "generic_hazards_utm34n.zip") as archive:
        archive.extractall(tmp_path)
    (tmp_path / "generic_hazards_utm34n.cpg").unlink()
    shp = tmp_path / "generic_hazards_utm34n.shp"
    refused = import_file(imports_db, shp)
    assert refused.status == "refused"
    assert {p.code for p in refused.problems} == {"mojibake"}
    result = import_file(imports_db, shp, encoding="UTF-8")
    assert result.status == "applied", result.problems
    _assert_areas(imports_db, source_areas(SAMPLES / "generic_hazards_utm34n.zip", "hazard_id"))


def test_geopackage_layers_are_listed_then_imported_one_by_one(imports_db: Engine) -> None:
    import_file(imports_db, SAMPLES / "generic_hazards.geojson")
    gpkg = SAMPLES / "generic_results.gpkg"
    with pytest.raises(LandReleaseError, match=r"2 layers: .*nts_results.*clearance_results"):
        import_file(imports_db, gpkg)
    nts = import_file(imports_db, gpkg, layer="nts_results")
    assert nts.status == "applied", nts.problems
    assert _changes(nts) == {("cancelled", "SHA", 2), ("confirmed", "SHA", 1)}
    clearance = import_file(imports_db, gpkg, layer="clearance_results")
    assert clearance.status == "applied", clearance.problems
    assert _changes(clearance) == {("reduced", "CHA", 1), ("cleared", "CHA", 2)}
    with imports_db.connect() as c:
        cha = c.execute(
            text("SELECT hazard_class, parent_id IS NOT NULL FROM hazards WHERE national_id = :n"),
            {"n": "BA-G-004-C1"},
        ).one()
        items = dict(
            c.execute(
                text(
                    "SELECT i.item_type, i.destroyed FROM activity_items i JOIN activities a"
                    " ON a.id = i.activity_id WHERE a.reference = 'CL-2024-002'"
                )
            ).all()
        )
        balance = c.execute(
            text(
                "SELECT max(abs(h.area_m2 - s.total)) FROM hazards h JOIN"
                " (SELECT hazard_id, sum(sign * area_m2) AS total FROM ledger_events"
                "  GROUP BY hazard_id) s ON s.hazard_id = h.id"
            )
        ).scalar()
    assert tuple(cha) == ("CHA", True)
    assert items == {"AP_MINE": 3, "UXO": 2}
    assert balance < 0.01  # every hazard: remaining = signed sum of its events


def test_kml_reads_every_folder_with_extended_data(imports_db: Engine) -> None:
    import_file(imports_db, SAMPLES / "generic_hazards.geojson")
    result = import_file(imports_db, SAMPLES / "generic_results.kml")
    assert result.status == "applied", result.problems
    assert result.layers == "NTS 2024,Marking"
    assert _changes(result) == {("cancelled", "SHA", 1)}
    assert result.marked == 1
    with imports_db.connect() as c:
        refs = dict(c.execute(text("SELECT reference, kind FROM activities")).all())
        marked = c.execute(
            text("SELECT marked_date FROM hazards WHERE national_id = 'BA-G-002'")
        ).scalar()
    assert refs == {"NTS-2024-010": "NTS", "MK-2024-001": "MARKING"}
    assert str(marked) == "2024-02-01"


def test_kmz_from_a_gps_unit(imports_db: Engine) -> None:
    path = SAMPLES / "generic_hazards_gps.kmz"
    result = import_file(imports_db, path)
    assert result.status == "applied", result.problems
    assert _changes(result) == {("recorded", "SHA", 1), ("recorded", "CHA", 1)}
    with zipfile.ZipFile(path) as archive:
        doc = archive.read("doc.kml")
    kml = path.parent / "doc.kml"
    assert not kml.exists()
    expected: dict[str, float] = {}
    try:
        kml.write_bytes(doc)
        for layer in ("Suspected", "Confirmed"):
            expected |= source_areas(kml, "hazard_id", layer=layer)
    finally:
        kml.unlink()
    _assert_areas(imports_db, expected)


def test_geojson_under_another_extension(imports_db: Engine, tmp_path: Path) -> None:
    renamed = tmp_path / "hazards_from_phone.txt"
    shutil.copy(SAMPLES / "generic_hazards.geojson", renamed)
    result = import_file(imports_db, renamed)
    assert result.status == "applied", result.problems
    assert result.read == 6


def test_csv_with_wkt_needs_a_crs(imports_db: Engine) -> None:
    path = SAMPLES / "generic_hazards_wkt.csv"
    before = fingerprint(imports_db)
    refused = import_file(imports_db, path)
    assert refused.status == "refused"
    assert [(p.index, p.code) for p in refused.problems] == [(None, "no_crs")]
    assert refused.problems[0].message == (
        "generic_hazards_wkt.csv: the file has no coordinate reference system; its coordinates "
        "look like longitude and latitude in degrees: --crs EPSG:4326"
    )
    assert fingerprint(imports_db) == before
    result = import_file(imports_db, path, crs="EPSG:4326")
    assert result.status == "applied", result.problems
    assert _changes(result) == {("recorded", "SHA", 1), ("recorded", "CHA", 1)}


@pytest.mark.parametrize(
    ("sample", "prefix"), [("turning_points.csv", "BA-T"), ("turning_points.xlsx", "BA-X")]
)
def test_turning_point_table(imports_db: Engine, sample: str, prefix: str) -> None:
    """The same survey as a CSV export and as a workbook with numeric cells."""
    result = import_file(imports_db, SAMPLES / sample)
    assert result.status == "applied", result.problems
    corners = [(18.4100, 44.2000), (18.4125, 44.2004), (18.4131, 44.1987), (18.4106, 44.1982)]
    from importing import geod_area
    from shapely.geometry import Polygon

    stored = stored_areas(imports_db)
    assert set(stored) == {f"{prefix}-001", f"{prefix}-002"}
    assert stored[f"{prefix}-002"] == pytest.approx(geod_area(Polygon(corners)), rel=REL)
    # BM + RP, then a 200 m x 150 m rectangle walked by bearings, 0.4 m short on closing.
    assert stored[f"{prefix}-001"] == pytest.approx(200 * 150, rel=5e-3)


def test_imsma_hazards_then_hazard_reductions(imports_db: Engine) -> None:
    hazards = import_file(imports_db, SAMPLES / "imsma_hazards.gpkg", profile="imsma")
    assert hazards.status == "applied", hazards.problems
    _assert_areas(imports_db, source_areas(SAMPLES / "imsma_hazards.gpkg", "HAZARD_LOCALID"))
    reductions = import_file(imports_db, SAMPLES / "imsma_hazreduc.gpkg", profile="imsma")
    assert reductions.status == "applied", reductions.problems
    assert _changes(reductions) == {
        ("cancelled", "SHA", 1),
        ("reduced", "CHA", 1),
        ("cleared", "CHA", 1),
        ("cleared", "SHA", 1),
    }
    with imports_db.connect() as c:
        activity = c.execute(
            text(
                "SELECT a.kind, a.start_date, a.end_date, i.found, i.destroyed FROM activities a"
                " JOIN activity_items i ON i.activity_id = a.id"
                " WHERE a.reference = 'HR-2024-0007'"
            )
        ).one()
        classes = dict(c.execute(text("SELECT national_id, hazard_class FROM hazards")).all())
    assert (activity.kind, str(activity.start_date), str(activity.end_date)) == (
        "CLEARANCE",
        "2024-04-15",
        "2024-05-20",
    )
    assert (activity.found, activity.destroyed) == (6, 6)
    assert classes == {"BA-I-001": "SHA", "BA-I-002": "CHA", "BA-I-003": "SHA"}


def test_kobo_csv_export_with_geoshape_and_group_prefixes(imports_db: Engine) -> None:
    result = import_file(imports_db, SAMPLES / "kobo_results.csv", profile="kobo")
    assert result.status == "applied", result.problems
    assert _changes(result) == {
        ("recorded", "SHA", 1),
        ("recorded", "CHA", 1),
        ("cancelled", "SHA", 1),
        ("cleared", "CHA", 1),
    }
    with imports_db.connect() as c:
        status = c.execute(
            text("SELECT status FROM hazards WHERE national_id = 'BA-KB-002'")
        ).scalar()
        org = c.execute(
            text(
                "SELECT o.name FROM activities a JOIN organisations o ON o.id = a.organisation_id"
                " WHERE a.reference = 'NTS-KB-2024-07'"
            )
        ).scalar()
    assert status == "released"  # the clearance polygon covers the whole hazard
    assert org == "NPA Team 4"


def test_kobo_geojson_export_with_altitudes(imports_db: Engine) -> None:
    path = SAMPLES / "kobo_results.geojson"
    result = import_file(imports_db, path, profile="kobo")
    assert result.status == "applied", result.problems
    assert _changes(result) == {
        ("recorded", "SHA", 1),
        ("recorded", "CHA", 1),
        ("reduced", "SHA", 1),
    }
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    assert len(features[0]["geometry"]["coordinates"][0][0]) == 3  # lon, lat, altitude
    _assert_areas(imports_db, source_areas(path, "result/hazard_id", rows=slice(0, 2)))


# -- profiles and the command line ------------------------------------------------------------


def test_shipped_profiles_are_valid() -> None:
    for name in ("generic", "imsma", "kobo"):
        profile = load_profile(name)
        assert validate_profile(profile.path) == []


def test_profile_schema_lists_the_models_enumerations() -> None:
    from landrelease.ingest.profiles import _schema
    from landrelease.models import Contamination, HazardClass, ItemType

    defs = _schema()["$defs"]
    assert defs["hazard_class"]["enum"] == [c.value for c in HazardClass]
    assert defs["contamination"]["enum"] == [c.value for c in Contamination]
    assert defs["item_type"]["enum"] == [c.value for c in ItemType]


def test_profile_validate_command(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "name: broken\ndescription: x\nfields: {hazard_id: id, colour: c}\n"
        "values: {hazard_class: {suspected: SUSPECT}}\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    ok = runner.invoke(main, ["profile", "validate"])
    assert ok.exit_code == 0, ok.output
    assert ok.output.count(": valid") == 3
    bad = runner.invoke(main, ["profile", "validate", str(broken)])
    assert bad.exit_code == 1
    assert "'colour' was unexpected" in bad.output
    assert "values/hazard_class/suspected: 'SUSPECT' is not one of ['SHA', 'CHA']" in bad.output


def test_profile_validate_notes_what_a_valid_profile_will_refuse(tmp_path: Path) -> None:
    """A profile without default activity type or contamination is valid, but the officer is
    told what it means before an import is refused for it."""
    bare = tmp_path / "bare.yaml"
    bare.write_text(
        "name: bare\ndescription: x\nfields: {hazard_id: id, activity_type: [method, kind]}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["profile", "validate", str(bare), "generic", "kobo"])
    assert result.exit_code == 0, result.output
    blocks = result.output.split(".yaml: ")
    assert blocks[1].startswith("valid") and blocks[2].startswith("valid")
    assert (
        "note: defaults/activity_type is not set: every feature of a file with none of its "
        "activity-type fields (method, kind) is refused; set it to HAZARD" in blocks[1]
    )
    assert (
        "note: defaults/contamination is not set: a new hazard with no contamination type is "
        "recorded as ERW" in blocks[1]
    )
    assert "note:" not in blocks[2]  # generic sets both defaults
    assert "defaults/activity_type is not set" in blocks[3]  # kobo: forms always ask for it
    assert "defaults/contamination" not in blocks[3]


def test_import_command_prints_the_report(
    imports_db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "LANDRELEASE_DATABASE_URL", imports_db.url.render_as_string(hide_password=False)
    )
    runner = CliRunner()
    report = tmp_path / "report.json"
    applied = runner.invoke(
        main, ["import", str(SAMPLES / "generic_hazards.geojson"), "--report", str(report)]
    )
    assert applied.exit_code == 0, applied.output
    assert "applied as import #1" in applied.output
    assert "recorded" in applied.output and "SHA" in applied.output
    assert json.loads(report.read_text())["counts"]["accepted"] == 6
    refused = runner.invoke(main, ["import", str(SAMPLES / "generic_hazards_wkt.csv")])
    assert refused.exit_code == 1
    assert "no_crs" in refused.output and "refused: nothing written" in refused.output
    assert "Traceback" not in refused.output
    missing = runner.invoke(main, ["import", str(tmp_path / "nope.shp")])
    assert missing.exit_code == 1
    assert "no such file" in missing.output and "Traceback" not in missing.output


def test_batch_preparation_equals_the_one_by_one_path() -> None:
    """Imports prepare polygons array-wise; each result must be what prepare_polygon gives."""
    import numpy as np
    import shapely
    from pyproj import Transformer

    from landrelease.geometry import GeometryProblem, prepare_polygon, prepare_polygons

    rng = np.random.default_rng(11)
    polygons: list[object] = []
    for n in range(150):
        cx, cy = rng.uniform(17.0, 19.0), rng.uniform(43.5, 44.8)
        k = int(rng.integers(4, 30))
        angles = np.sort(rng.uniform(0, 2 * np.pi, k))
        radius = rng.uniform(0.0002, 0.006) * rng.uniform(0.6, 1.0, k)
        ring = np.column_stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)])
        polygon = shapely.Polygon(ring[::-1] if n % 2 else ring)  # both windings
        if n % 5 == 0:
            hole = shapely.Point(cx, cy).buffer(float(radius.min()) * 0.3)
            polygon = shapely.Polygon(polygon.exterior.coords, [hole.exterior.coords])
        if n % 7 == 0:
            polygon = shapely.MultiPolygon(
                [polygon, shapely.box(cx + 0.02, cy, cx + 0.021, cy + 1e-3)]
            )
        polygons.append(polygon)
    polygons[3] = shapely.Polygon([(18, 44), (18.01, 44.01), (18.01, 44), (18, 44.01)])  # bowtie
    polygons[4] = None
    polygons[5] = shapely.Polygon([(200, 44), (201, 44), (201, 45)])  # longitude out of range
    polygons[6] = shapely.box(18.0, 44.0, 18.000001, 44.000001)  # below the 1 m² minimum
    to_utm = Transformer.from_crs(4326, 32634, always_xy=True)
    utm = [
        None
        if g is None
        else shapely.transform(g, lambda c: np.column_stack(to_utm.transform(c[:, 0], c[:, 1])))
        for g in polygons
    ]
    for crs, batch in ((4326, polygons), (32634, utm)):
        labels = [f"feature {n}" for n in range(len(batch))]
        together = prepare_polygons(batch, crs, labels=labels)  # type: ignore[arg-type]
        for geom, label, result in zip(batch, labels, together, strict=True):
            try:
                alone: object = prepare_polygon(geom, crs, label=label)  # type: ignore[arg-type]
            except GeometryProblem as exc:
                alone = exc
            if isinstance(alone, GeometryProblem):
                assert isinstance(result, GeometryProblem), label
                assert (result.code, str(result)) == (alone.code, str(alone))
                continue
            assert not isinstance(result, GeometryProblem), (label, result)
            assert shapely.equals_exact(result.geom, alone.geom, tolerance=0), label
            assert (result.area_m2, result.repairs, result.area_change_m2) == (
                alone.area_m2,
                alone.repairs,
                alone.area_change_m2,
            )
