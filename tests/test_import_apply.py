"""Applying a file: all or nothing, idempotent, a dry run that writes nothing, a kill midway.

All against the real database and, for the kill, a real ``landrelease import`` process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from importing import ROOT, SAMPLES, fingerprint, imports_db
from pyproj import Geod
from shapely.geometry import Polygon, box, mapping, shape
from sqlalchemy import Engine, text

from landrelease.ingest import import_file
from landrelease.ingest.apply import BATCH

__all__ = ["imports_db"]

GEOD = Geod(ellps="WGS84")


def grid(count: int, *, start: tuple[float, float] = (17.30, 43.90)) -> list[Polygon]:
    """``count`` 40 m squares 60 m apart, in rows of 100, well inside Bosnia."""
    squares = []
    for n in range(count):
        row, col = divmod(n, 100)
        lon, lat, _ = GEOD.fwd(start[0], start[1], 90.0, 60.0 * col)
        lon, lat, _ = GEOD.fwd(lon, lat, 0.0, 60.0 * row)
        corners = [(lon, lat)]
        for azimuth in (90.0, 0.0, 270.0):
            lon, lat, _ = GEOD.fwd(lon, lat, azimuth, 40.0)
            corners.append((lon, lat))
        squares.append(Polygon(corners))
    return squares


def hazards_geojson(path: Path, polygons: list[Polygon], *, bad: int | None = None) -> Path:
    """A hazard file; feature ``bad`` (1-based) gets a ring that is not closed."""
    features = []
    for n, polygon in enumerate(polygons, start=1):
        geometry = mapping(polygon)
        if n == bad:
            ring = [list(p) for p in polygon.exterior.coords][:-1]
            geometry = {"type": "Polygon", "coordinates": [ring]}
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "hazard_id": f"BA-L-{n:05d}",
                    "class": "SHA" if n % 3 else "CHA",
                    "contamination": "CMR",
                    "date": "2023-03-01",
                    "organisation": "NPA",
                },
                "geometry": geometry,
            }
        )
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def test_the_thousandth_bad_feature_stops_the_whole_file(
    imports_db: Engine, tmp_path: Path
) -> None:
    path = hazards_geojson(tmp_path / "monthly.geojson", grid(1000), bad=1000)
    before = fingerprint(imports_db)
    result = import_file(imports_db, path)
    assert result.status == "refused"
    assert [(p.index, p.source_id, p.code) for p in result.problems] == [
        (1000, "BA-L-01000", "ring_not_closed")
    ]
    assert result.problems[0].message.startswith("feature 1000 (BA-L-01000): ring 1 is not")
    assert (result.read, result.accepted, result.refused) == (1000, 999, 1)
    assert fingerprint(imports_db) == before


def test_a_refusal_by_the_ledger_rolls_back_everything_before_it(
    imports_db: Engine, tmp_path: Path
) -> None:
    """Validation passes; the ledger refuses the third feature: nothing of the file stays.

    The first release takes the whole hazard, so the second (a later survey of the same
    hazard, in the same file) finds it closed. Activities were already created in the
    transaction when the ledger refused: they must be gone too.
    """
    assert import_file(imports_db, SAMPLES / "generic_hazards.geojson").status == "applied"
    hazard = json.loads((SAMPLES / "generic_hazards.geojson").read_text("utf-8"))["features"][0]
    whole = hazard["geometry"]
    west = mapping(box(*shape(whole).bounds).intersection(box(17.0, 44.0, 17.905, 45.0)))
    results = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "hazard_id": "BA-G-001",
                    "activity_type": method,
                    "activity_ref": ref,
                    "date": when,
                    "organisation": "NPA",
                },
                "geometry": geometry,
            }
            for method, ref, when, geometry in (
                ("NTS", "NTS-X-1", "2023-05-01", whole),
                ("TS", "TS-X-2", "2023-06-01", west),
            )
        ],
    }
    path = tmp_path / "results.geojson"
    path.write_text(json.dumps(results))
    before = fingerprint(imports_db)
    result = import_file(imports_db, path)
    assert result.status == "refused"
    assert [(p.index, p.code) for p in result.problems] == [(2, "hazard_closed")]
    assert result.problems[0].message.startswith("feature 2 (BA-G-001): hazard BA-G-001 is closed")
    assert fingerprint(imports_db) == before


def test_the_same_file_twice_applies_nothing_the_second_time(imports_db: Engine) -> None:
    first = import_file(imports_db, SAMPLES / "kobo_results.csv", profile="kobo")
    assert first.status == "applied"
    after_first = fingerprint(imports_db)
    second = import_file(imports_db, SAMPLES / "kobo_results.csv", profile="kobo")
    assert second.status == "unchanged"
    assert second.previous and second.previous.startswith(f"import #{first.import_id} of ")
    assert second.changes == []
    assert fingerprint(imports_db) == after_first


def test_the_same_activities_in_another_file_are_skipped(
    imports_db: Engine, tmp_path: Path
) -> None:
    """A re-export (different bytes, same content) changes nothing and says why."""
    assert import_file(imports_db, SAMPLES / "generic_hazards.geojson").status == "applied"
    first = import_file(imports_db, SAMPLES / "generic_results.kml")
    assert first.status == "applied"
    after_first = fingerprint(imports_db)
    copy = tmp_path / "results_again.kml"
    copy.write_text(SAMPLES.joinpath("generic_results.kml").read_text("utf-8") + "\n<!-- 2 -->")
    second = import_file(imports_db, copy)
    assert second.status == "unchanged"
    assert {(p.index, p.code, p.action) for p in second.problems} == {
        (1, "already_imported", "skipped"),
        (2, "already_imported", "skipped"),
    }
    assert fingerprint(imports_db) == after_first
    hazards_again = tmp_path / "hazards_again.geojson"
    hazards_again.write_text(
        json.dumps(json.loads(SAMPLES.joinpath("generic_hazards.geojson").read_text("utf-8")))
    )
    third = import_file(imports_db, hazards_again)
    assert third.status == "unchanged"
    assert {p.code for p in third.problems} == {"already_recorded"}
    assert fingerprint(imports_db) == after_first


def test_dry_run_reports_exactly_what_a_real_run_changes(imports_db: Engine) -> None:
    assert import_file(imports_db, SAMPLES / "generic_hazards.geojson").status == "applied"
    gpkg = SAMPLES / "generic_results.gpkg"
    before = fingerprint(imports_db)
    dry = import_file(imports_db, gpkg, layer="clearance_results", dry_run=True)
    assert dry.status == "dry-run"
    assert fingerprint(imports_db) == before
    with imports_db.connect() as c:
        assert c.execute(text("SELECT count(*) FROM imports")).scalar() == 1
    real = import_file(imports_db, gpkg, layer="clearance_results")
    assert real.status == "applied"
    assert [(c.kind, c.hazard_class, c.count) for c in dry.changes] == [
        (c.kind, c.hazard_class, c.count) for c in real.changes
    ]
    for planned, done in zip(dry.changes, real.changes, strict=True):
        assert planned.area_m2 == pytest.approx(done.area_m2, rel=1e-12)
    with imports_db.connect() as c:
        released = c.execute(
            text("SELECT sum(area_m2) FROM ledger_events WHERE kind IN ('reduced', 'cleared')")
        ).scalar()
    assert real.area("reduced") + real.area("cleared") == pytest.approx(released, rel=1e-12)


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GeoPackage of 3 batches of hazards: long enough to be killed in the middle."""
    count = 3 * BATCH
    polygons = grid(count, start=(17.20, 43.80))
    frame = gpd.GeoDataFrame(
        {
            "hazard_id": [f"BA-K-{n:05d}" for n in range(count)],
            "class": ["SHA"] * count,
            "date": ["2023-03-01"] * count,
        },
        geometry=polygons,
        crs=4326,
    )
    path = tmp_path_factory.mktemp("big") / "hazards.gpkg"
    pyogrio.write_dataframe(frame, path)
    return path


def _stopped(stage: str, done: int, total: int) -> bool:
    """Where each signal is sent: halfway through the batches, or as the last stage begins
    (measuring the derived tables, just before the commit)."""
    return (stage == "apply" and 0 < done < total) or (stage == "measure" and done == 0)


@pytest.mark.parametrize(
    ("sent", "at"),
    [(signal.SIGKILL, "apply"), (signal.SIGINT, "apply"), (signal.SIGINT, "measure")],
    ids=["killed-while-applying", "ctrl-c-while-applying", "ctrl-c-while-measuring"],
)
def test_stopped_midway_the_database_is_unchanged(
    imports_db: Engine, big_file: Path, sent: signal.Signals, at: str
) -> None:
    """SIGKILL leaves the server to roll back; Ctrl-C is caught, rolled back and said."""
    before = fingerprint(imports_db)
    env = dict(os.environ)
    env["LANDRELEASE_DATABASE_URL"] = imports_db.url.render_as_string(hide_password=False)
    seen: list[str] = []
    with subprocess.Popen(
        [str(Path(sys.executable).parent / "landrelease"), "import", str(big_file)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as a terminal sends it, whatever the runner's own shell ignores.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    ) as process:
        deadline = time.monotonic() + 120
        assert process.stderr is not None
        for line in process.stderr:
            seen.append(line.strip())
            stage, _, counts = line.strip().partition(": ")
            if stage == at and _stopped(stage, *(int(v) for v in counts.split("/"))):
                os.kill(process.pid, sent)
                break
            assert time.monotonic() < deadline, seen
        rest = process.stderr.read()
        process.kill()  # no-op once stopped; ends the process if the loop failed
        process.wait(timeout=30)
    assert any(s.startswith(f"{at}: ") for s in seen), seen
    if sent == signal.SIGKILL:
        assert process.returncode == -signal.SIGKILL, seen
        assert fingerprint(imports_db) == before
        return
    assert process.returncode == 130, (seen, rest)
    assert "Traceback" not in rest
    if "interrupted after the commit" in rest:  # the signal came late; the message says so
        assert at == "measure", rest
        with imports_db.connect() as connection:
            newest = connection.execute(text("SELECT max(id) FROM imports")).scalar_one()
        assert f"the file was applied as import #{newest}" in rest
        return
    assert "interrupted: nothing was imported (a file applies all or nothing)" in rest
    assert fingerprint(imports_db) == before
