"""Reading field files: encodings, curved WKT, archives of several datasets, profile files.

The files are those of the bad-input corpus (``tests/data/bad``, written by
``make_bad_corpus.py``); ``tests/test_import_bad_input.py`` checks what each reports when
imported as it is. Here: that the way out the report names works (``--encoding``, ``--layer``),
that what is stored is what the file says, and that refusals write nothing.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pyogrio
import pytest
from click.testing import CliRunner
from importing import BAD, SAMPLES, fingerprint, geod_area, imports_db, refusal, stored_areas
from sqlalchemy import Engine, text

from landrelease.cli import main
from landrelease.errors import LandReleaseError
from landrelease.ingest import import_file, load_profile
from landrelease.ingest.encoding import detect, region_reading

__all__ = ["imports_db"]


def _names(engine: Engine) -> dict[str, str]:
    with engine.connect() as c:
        return dict(c.execute(text("SELECT national_id, name FROM hazards")).all())


# -- encodings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "options", "expected"),
    [
        ("cp1250.csv", {"crs": "EPSG:4326"}, {"BA-R-001": "Tuzla", "BA-R-002": "Brčko"}),
        ("cp1250.geojson", {}, {"BA-R-001": "Žepče"}),
        ("cpg_says_utf8.zip", {}, {"BA-R-001": "Doboj", "BA-R-002": "Čelebići"}),
    ],
)
def test_encoding_option_reads_csv_geojson_and_shapefile_alike(
    imports_db: Engine, name: str, options: dict[str, str], expected: dict[str, str]
) -> None:
    """The encoding the refusal suggests reads the file, whatever its format (and a .cpg)."""
    result = import_file(imports_db, BAD / name, encoding="cp1250", **options)  # type: ignore[arg-type]
    assert result.status == "applied", result.problems
    assert _names(imports_db) == expected


def test_encoding_names_python_knows_are_accepted(imports_db: Engine) -> None:
    """windows-1250 is cp1250: GDAL's names for encodings are not asked of the officer."""
    result = import_file(imports_db, BAD / "mojibake_cp1250.zip", encoding="windows-1250")
    assert result.status == "applied", result.problems
    assert _names(imports_db)["BA-B-002"] == "Čelebići"


def test_wrong_encoding_given_names_the_feature_and_the_likely_encoding(
    imports_db: Engine,
) -> None:
    assert refusal(imports_db, BAD / "mojibake_cp1250.zip", encoding="UTF-8") == (
        "mojibake_cp1250.zip: feature 1, field 'name', is not UTF-8 text (--encoding utf-8): "
        'byte 0x9E in "Gora\\x9ede \\x96 Kopa\\xe8i"; in cp1250 it reads "Goražde – Kopači": '
        "import again with --encoding cp1250 (or the encoding the file was saved in)"
    )


@pytest.mark.parametrize(
    ("name", "encoding", "reason"),
    [
        (
            "mojibake_cp1250.zip",
            "bogus",
            "unknown encoding 'bogus': give one such as UTF-8, cp1250 (Windows Central "
            "European, Excel's default in Bosnia and Herzegovina), cp1252 or latin-1",
        ),
        (
            "two_sheets.xlsx",
            "cp1250",
            "two_sheets.xlsx: --encoding does not apply to XLSX files, which say their own "
            "encoding; import again without it",
        ),
    ],
)
def test_encoding_that_cannot_apply_is_refused(
    imports_db: Engine, name: str, encoding: str, reason: str
) -> None:
    assert refusal(imports_db, BAD / name, encoding=encoding, layer="hazards") == reason


@pytest.mark.parametrize(
    ("file_name", "separator", "encoding", "options"),
    [
        ("utf16_bom.csv", ",", "utf-16", {}),  # the corpus file as it is, BOM and all
        ("utf16_bom.csv", ",", "utf-16", {"encoding": "utf-16"}),
        ("unicode_text.txt", "\t", "utf-16", {}),  # Excel's "Unicode text": tabs, UTF-16 LE
        ("no_bom.csv", ",", "utf-16-le", {"encoding": "utf-16-le"}),  # no BOM: must be said
    ],
)
def test_utf16_text_is_read(
    imports_db: Engine,
    tmp_path: Path,
    file_name: str,
    separator: str,
    encoding: str,
    options: dict[str, str],
) -> None:
    source = (BAD / "utf16_bom.csv").read_text(encoding="utf-16")
    path = tmp_path / file_name
    rows = [line.split(",", 4) for line in source.splitlines()]
    path.write_text("\n".join(separator.join(r) for r in rows) + "\n", encoding=encoding)
    result = import_file(imports_db, path, crs="EPSG:4326", **options)  # type: ignore[arg-type]
    assert result.status == "applied", result.problems
    assert _names(imports_db) == {"BA-R-001": "Čelebići - Đurđevik"}


def test_import_command_reports_undecodable_text_without_a_traceback(
    imports_db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "LANDRELEASE_DATABASE_URL", imports_db.url.render_as_string(hide_password=False)
    )
    before = fingerprint(imports_db)
    result = CliRunner().invoke(
        main, ["import", str(BAD / "cp1250.csv"), "--crs", "EPSG:4326"], catch_exceptions=False
    )
    assert result.exit_code == 1
    assert result.output.startswith("Error: cp1250.csv: feature 2, field 'name', is not UTF-8")
    assert "--encoding cp1250" in result.output and "Traceback" not in result.output
    assert fingerprint(imports_db) == before


# -- telling mis-decoded text from real names ----------------------------------------------------

REGION_NAMES = [
    "Čelebići",
    "Đurđevik",
    "Zenica č",
    "Brčko",
    "Općina Tešanj",
    "Kovačević",
    "Ćup",
    "Goražde – Kopači",
]

WESTERN_NAMES = [
    "Père Lachaise",
    "Genève",
    "Agnès",
    "Ardèche",
    "Hélène",
    "Kjæråsen",
    "Ærø",
    "Bærum",
    "Næstved",
    "Øresund",
    "Müller Straße",
    "Café Zürich",
    "Señora",
    "Crème brûlée",
]


@pytest.mark.parametrize("name", REGION_NAMES)
def test_windows_1250_read_as_latin1_is_recognised(name: str) -> None:
    found = detect(name.encode("cp1250").decode("latin-1"), guessed=True)
    assert found is not None
    assert (found.likely, found.encoding) == (name, "cp1250")


@pytest.mark.parametrize("name", WESTERN_NAMES)
def test_western_names_in_latin1_are_left_alone(name: str) -> None:
    assert detect(name.encode("latin-1").decode("latin-1"), guessed=True) is None


@pytest.mark.parametrize("name", [*REGION_NAMES, *WESTERN_NAMES])
def test_text_from_a_unicode_source_is_left_alone(name: str) -> None:
    assert detect(name, guessed=True) is None


def test_latin1_letters_are_weighed_only_when_the_encoding_was_guessed() -> None:
    """A file that says its encoding (a .cpg, UTF-8 GeoJSON) may well say "Zenica è"."""
    assert detect("Zenica è") is None
    assert detect("Zenica è", guessed=True) is not None


def _shown_with(code_page: str, name: str) -> str | None:
    try:
        return name.encode("utf-8").decode(code_page)
    except UnicodeDecodeError:  # cp1252 has no character for some bytes (0x8D of č)
        return None


UTF8_SEEN_AS = [
    (name, code_page, shown)
    for name in ("Goražde", "Općina", "Kopači")
    for code_page in ("latin-1", "cp1252", "cp1250")
    if (shown := _shown_with(code_page, name)) is not None
]


@pytest.mark.parametrize(("name", "code_page", "shown"), UTF8_SEEN_AS)
def test_utf8_read_with_a_code_page_is_recognised(name: str, code_page: str, shown: str) -> None:
    found = detect(shown)
    assert found is not None, code_page
    assert (found.likely, found.encoding) == (name, "UTF-8")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("Brčko".encode("cp1250"), ("cp1250", "Brčko")),
        ("Goražde".encode(), ("UTF-8", "Goražde")),
        ("Café".encode("cp1252"), ("cp1252", "Café")),
    ],
)
def test_the_encoding_suggested_for_bytes_that_do_not_decode(
    data: bytes, expected: tuple[str, str]
) -> None:
    assert region_reading(data) == expected


# -- curved geometry in tables -------------------------------------------------------------------


def test_curved_wkt_is_read_as_gdal_reads_it(imports_db: Engine, tmp_path: Path) -> None:
    """CURVEPOLYGON and MULTISURFACE rows import; areas are those of GDAL's own reading."""
    lines = (BAD / "curved_wkt.csv").read_text(encoding="utf-8").splitlines()
    curves = tmp_path / "curves.csv"
    curves.write_text("\n".join(lines[:4]) + "\n", encoding="utf-8")  # the three good rows
    result = import_file(imports_db, curves, crs="EPSG:4326")
    assert result.status == "applied", result.problems
    frame = pyogrio.read_dataframe(curves, GEOM_POSSIBLE_NAMES="wkt", KEEP_GEOM_COLUMNS="NO")
    expected = {
        str(hid): geod_area(geom) for hid, geom in zip(frame.hazard_id, frame.geometry, strict=True)
    }
    assert set(expected) == {"BA-R-001", "BA-R-002", "BA-R-003"}
    stored = stored_areas(imports_db)
    for hazard_id, area in expected.items():
        assert stored[hazard_id] == pytest.approx(area, rel=1e-5), hazard_id
    assert stored["BA-R-001"] == pytest.approx(geod_area(frame.geometry[0].convex_hull), rel=1e-3)


def test_a_curve_that_cannot_be_read_does_not_stop_the_others(imports_db: Engine) -> None:
    before = fingerprint(imports_db)
    result = import_file(imports_db, BAD / "curved_wkt.csv", crs="EPSG:4326")
    assert (result.read, result.accepted, result.refused) == (4, 3, 1)
    (problem,) = result.problems
    assert problem.message == (
        "feature 4 (BA-R-004): the WKT 'CURVEPOLYGON(CIRCULARSTRING(18.060000 44.126999, "
        "18.062000 4' is unreadable"
    )
    assert fingerprint(imports_db) == before


# -- archives of several datasets ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "layer", "hazard_id"),
    [
        ("same_name.zip", "2023/hazards", "BA-R-023"),
        ("same_name.zip", "2024/hazards.shp", "BA-R-024"),
        ("shp_and_geojson.zip", "hazards", "BA-R-001"),
        ("shp_and_geojson.zip", "more_hazards", "BA-R-002"),
        ("shp_and_geojson.zip", "more_hazards.geojson", "BA-R-002"),
    ],
)
def test_a_dataset_of_an_archive_is_chosen_by_its_path(
    imports_db: Engine, name: str, layer: str, hazard_id: str
) -> None:
    result = import_file(imports_db, BAD / name, layer=layer)
    assert result.status == "applied", result.problems
    assert set(_names(imports_db)) == {hazard_id}


def test_an_ambiguous_dataset_name_is_refused(imports_db: Engine) -> None:
    """Both folders hold a hazards.shp: "hazards" must not pick one of them silently."""
    assert refusal(imports_db, BAD / "same_name.zip", layer="hazards") == (
        "same_name.zip: no dataset 'hazards'; there are 2023/hazards (shapefile, 1 feature), "
        "2024/hazards (shapefile, 1 feature)"
    )


def test_a_layer_of_a_geopackage_among_other_datasets_is_chosen(
    imports_db: Engine, tmp_path: Path
) -> None:
    """A zip holding a two-layer GeoPackage and a GeoJSON: ``--layer survey:LAYER``."""
    import geopandas as gpd

    hazards = gpd.read_file(SAMPLES / "generic_hazards.geojson")
    survey = tmp_path / "survey.gpkg"
    hazards.iloc[0:2].to_file(survey, layer="north", driver="GPKG")
    hazards.iloc[2:4].to_file(survey, layer="south", driver="GPKG")
    loose = tmp_path / "loose.geojson"
    hazards.iloc[4:6].to_file(loose, driver="GeoJSON")
    archive = tmp_path / "sent.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.write(survey, "survey.gpkg")
        bundle.write(loose, "loose.geojson")
    assert refusal(imports_db, archive, layer="survey") == (
        "sent.zip dataset survey has 2 layers: north (Polygon, 2 features), south (Polygon, "
        "2 features); choose one with --layer survey:LAYER (e.g. --layer survey:north)"
    )
    unknown = refusal(imports_db, archive, layer="survey:east")
    assert unknown.startswith("sent.zip: no layer 'east'; layers are north")
    result = import_file(imports_db, archive, layer="survey:south")
    assert result.status == "applied", result.problems
    assert set(_names(imports_db)) == set(hazards["hazard_id"].iloc[2:4])


@pytest.mark.parametrize(("archive", "missing"), [("no_shx.zip", ".shx"), ("no_dbf.zip", ".dbf")])
def test_a_loose_shapefile_missing_a_sidecar_is_refused_the_same_way(
    imports_db: Engine, tmp_path: Path, archive: str, missing: str
) -> None:
    with zipfile.ZipFile(BAD / archive) as files:
        files.extractall(tmp_path)
    shp = tmp_path / f"{Path(archive).stem}.shp"
    refused = refusal(imports_db, shp)
    assert refused.startswith(f"{shp.name}: {shp.stem}{missing} (the ")
    assert str(tmp_path) not in refused
    assert not (tmp_path / f"{shp.stem}{missing}").exists()  # nothing written beside it


def test_a_geopackage_layer_without_features_is_named(imports_db: Engine, tmp_path: Path) -> None:
    gpkg = tmp_path / "results.gpkg"
    frame = pyogrio.read_dataframe(SAMPLES / "generic_results.gpkg", layer="nts_results")
    pyogrio.write_dataframe(frame, gpkg, layer="nts_results")
    pyogrio.write_dataframe(frame.iloc[:0], gpkg, layer="later", append=True)
    with pytest.raises(LandReleaseError, match=r"^results\.gpkg: layer later has no features$"):
        import_file(imports_db, gpkg, layer="later")


# -- profiles ------------------------------------------------------------------------------------


def test_profile_not_in_utf8_is_refused_with_where(tmp_path: Path) -> None:
    profile = tmp_path / "lokalni.yaml"
    profile.write_bytes(
        "name: lokalni\ndescription: x\nfields:\n  hazard_id: id\n# Općina Žepče\n".encode("cp1250")
    )
    reason = (
        "profile lokalni.yaml is not UTF-8 text: byte 0xE6 at line 5, column 5 (byte offset 57), "
        'in "# Op\\xe6ina \\x8eep\\xe8e"; profiles are read as UTF-8: save the file as UTF-8 in '
        "the editor"
    )
    with pytest.raises(LandReleaseError) as refused:
        load_profile(profile)
    assert str(refused.value) == reason
    result = CliRunner().invoke(main, ["profile", "validate", str(profile)])
    assert result.exit_code == 1
    assert reason in result.output and "Traceback" not in result.output
