"""New hazards recorded while the rest of their file is still being checked (ingest.ahead).

The early records must change nothing an officer can see: the same result and the same rows as
a file checked first and applied after, all or nothing on a refusal found later, and the
ordinary path when a hazard recorded early turns out to be in the database already. Files here
are small, so ``AHEAD_MIN`` is lowered to make them take the early path, and a spy on
:meth:`RecordAhead.finish` shows they did.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from importing import empty, fingerprint, imports_db
from sqlalchemy import Engine, text
from test_import_apply import grid, hazards_geojson

from landrelease.ingest import ahead, import_file
from landrelease.ingest.apply import ImportResult

__all__ = ["imports_db"]

ROWS = """
SELECT h.national_id, h.hazard_class, round(h.area_m2::numeric, 6), e.kind,
       round(e.area_m2::numeric, 6),
       (SELECT string_agg(r.code || ':' || round(er.area_m2::numeric, 6), ',' ORDER BY r.code)
        FROM event_regions er JOIN regions r ON r.id = er.region_id WHERE er.event_id = e.id),
       (SELECT count(*) FROM stock_spans s WHERE s.hazard_id = h.id)
FROM hazards h JOIN ledger_events e ON e.hazard_id = h.id
ORDER BY h.national_id, e.id
"""


@pytest.fixture
def finished(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Every early-recording run of the test: (hazards recorded early, hazards kept)."""
    runs: list[tuple[int, int]] = []
    original = ahead.RecordAhead.finish

    def spy(self: ahead.RecordAhead, checked: object) -> dict[int, object]:
        started = self.started
        kept = original(self, checked)  # type: ignore[arg-type]
        if started:
            runs.append((len(self.recorded), len(kept)))
        return kept  # type: ignore[return-value]

    monkeypatch.setattr(ahead.RecordAhead, "finish", spy)
    return runs


def import_with(engine: Engine, path: Path, early: bool, **kwargs: object) -> ImportResult:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ahead, "AHEAD_MIN", 1 if early else 10**9)
        return import_file(engine, path, **kwargs)  # type: ignore[arg-type]


def rows(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(ROWS))]


def summary(result: ImportResult) -> tuple[object, ...]:
    return (
        result.status,
        result.read,
        result.accepted,
        result.skipped,
        result.refused,
        [(c.kind, c.hazard_class, c.count, round(c.area_m2, 6)) for c in result.changes],
        [(p.index, p.code, p.action) for p in result.problems],
    )


def test_recorded_early_or_after_the_checks_the_result_and_rows_are_the_same(
    imports_db: Engine, tmp_path: Path, finished: list[tuple[int, int]]
) -> None:
    path = hazards_geojson(tmp_path / "new.geojson", grid(60))
    early = import_with(imports_db, path, early=True)
    early_rows = rows(imports_db)
    assert finished == [(60, 60)]  # the early path ran and was kept
    empty(imports_db)
    after = import_with(imports_db, path, early=False)
    assert finished == [(60, 60)]  # the ordinary path did not record early
    assert early.status == "applied"
    assert summary(early) == summary(after)
    assert len(early_rows) == 60 and all(row[5] for row in early_rows)  # measured in regions
    assert early_rows == rows(imports_db)


def test_a_dry_run_recorded_early_writes_nothing(
    imports_db: Engine, tmp_path: Path, finished: list[tuple[int, int]]
) -> None:
    path = hazards_geojson(tmp_path / "new.geojson", grid(30))
    before = fingerprint(imports_db)
    result = import_with(imports_db, path, early=True, dry_run=True)
    assert finished == [(30, 30)]
    assert result.status == "dry-run"
    assert [(c.kind, c.count) for c in result.changes] == [("recorded", 10), ("recorded", 20)]
    assert fingerprint(imports_db) == before


def test_a_refusal_found_after_the_early_records_leaves_nothing(
    imports_db: Engine, tmp_path: Path, finished: list[tuple[int, int]]
) -> None:
    """The repeated polygon is found by the whole-file checks, after every polygon passed on
    its own and was handed to the writer."""
    polygons = grid(40)
    polygons[39] = polygons[1]
    path = hazards_geojson(tmp_path / "twice.geojson", polygons)
    before = fingerprint(imports_db)
    result = import_with(imports_db, path, early=True)
    assert result.status == "refused"
    assert [(p.index, p.code) for p in result.problems] == [(40, "duplicate_geometry")]
    assert finished and finished[0][0] > 0 and finished[0][1] == 0  # written, then undone
    assert fingerprint(imports_db) == before


def test_a_hazard_already_recorded_sends_the_file_the_ordinary_way(
    imports_db: Engine, tmp_path: Path, finished: list[tuple[int, int]]
) -> None:
    """The early writer meets the hazard already in the database and stops; the checks skip
    that feature; the file is then applied as if nothing had been recorded early."""
    polygons = grid(25)
    first = import_file(imports_db, hazards_geojson(tmp_path / "one.geojson", polygons[:1]))
    assert first.status == "applied"
    path = hazards_geojson(tmp_path / "all.geojson", polygons)
    result = import_with(imports_db, path, early=True)
    assert finished == [(0, 0)]  # the writer refused its first batch: nothing kept
    assert result.status == "applied"
    assert (result.read, result.accepted, result.skipped) == (25, 24, 1)
    assert [c.count for c in result.changes if c.kind == "recorded"] == [8, 16]
    with imports_db.connect() as connection:
        hazards = connection.execute(text("SELECT count(*) FROM hazards")).scalar_one()
    assert hazards == 25
