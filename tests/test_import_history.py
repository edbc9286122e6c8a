"""``landrelease imports``: the files applied so far, newest first, as their summaries read.

Only applied files leave a row: a refused file (all or nothing) and a second import of the same
file (which changes nothing) leave none.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner, Result
from importing import BAD, SAMPLES, imports_db
from sqlalchemy import Engine

from landrelease.cli import main
from landrelease.ingest import import_file
from landrelease.ingest.history import imports
from landrelease.ingest.report import change_lines

__all__ = ["imports_db"]

pytestmark = pytest.mark.db


def run(engine: Engine, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    monkeypatch.setenv("LANDRELEASE_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_applied_files_are_listed_newest_first(
    imports_db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(imports_db, monkeypatch, "imports").output == "no file has been imported yet\n"
    hazards = import_file(imports_db, SAMPLES / "generic_hazards.geojson")
    results = import_file(imports_db, SAMPLES / "generic_results.kml")
    assert (hazards.status, results.status) == ("applied", "applied")
    assert import_file(imports_db, SAMPLES / "generic_hazards.geojson").status == "unchanged"
    assert import_file(imports_db, BAD / "self_intersection_large.geojson").status == "refused"

    with imports_db.connect() as connection:
        history = imports(connection)
    assert [r.import_id for r in history] == [results.import_id, hazards.import_id]
    newest, oldest = history
    assert (oldest.file_name, oldest.features, oldest.applied) == (
        "generic_hazards.geojson",
        hazards.read,
        hazards.accepted,
    )
    assert oldest.sha256 == hazards.sha256
    assert oldest.changes == hazards.changes and newest.changes == results.changes

    listed = run(imports_db, monkeypatch, "imports").output
    assert f"generic_results.kml, layers {', '.join(results.layers.split(','))} " in listed
    assert "generic_hazards.geojson, layer generic_hazards " in listed
    assert listed.index(f"#{results.import_id} ") < listed.index(f"#{hazards.import_id} ")
    for line in change_lines(hazards.changes) + change_lines(results.changes):
        assert line in listed.splitlines()  # the m² as the import printed them
    one = run(imports_db, monkeypatch, "imports", "--limit", "1").output
    assert f"#{results.import_id} " in one and f"#{hazards.import_id} " not in one
