"""A large write leaves the ledger's tables analyzed; a small one leaves them to autovacuum.

A database whose tables have no statistics is planned as if they were empty: right after a
baseline import the map took 94 s instead of 1.5 s (``db/statistics.py``). Manual ANALYZE
is counted apart from autovacuum's (``analyze_count``), so the counts below move only when the
import itself analyzes.
"""

from __future__ import annotations

import pytest
from importing import SAMPLES, imports_db
from sqlalchemy import Engine, text

from landrelease.db.statistics import LEDGER_TABLES
from landrelease.ingest import apply
from landrelease.ingest.apply import import_file

__all__ = ["imports_db"]

pytestmark = pytest.mark.db

COUNTS = text("SELECT relname, analyze_count FROM pg_stat_user_tables WHERE relname = ANY(:tables)")


def analyze_counts(engine: Engine) -> dict[str, int]:
    """Manual ANALYZE runs per ledger table, read on a fresh connection (statistics views
    keep what a transaction first read)."""
    with engine.connect() as connection:
        return dict(connection.execute(COUNTS, {"tables": list(LEDGER_TABLES)}).all())


def test_a_large_import_analyzes_every_table_it_wrote(
    imports_db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample = SAMPLES / "generic_hazards.geojson"
    before = analyze_counts(imports_db)
    monkeypatch.setattr(apply, "ANALYZE_AFTER", 1)  # the sample stands for a large file
    result = import_file(imports_db, sample)
    assert result.status == "applied" and result.accepted >= 1
    after = analyze_counts(imports_db)
    assert set(after) == set(LEDGER_TABLES)
    assert {table: after[table] - before.get(table, 0) for table in after} == dict.fromkeys(
        LEDGER_TABLES, 1
    )


def test_a_small_import_leaves_statistics_to_autovacuum(imports_db: Engine) -> None:
    before = analyze_counts(imports_db)
    result = import_file(imports_db, SAMPLES / "generic_hazards.geojson")
    assert result.status == "applied"
    assert 0 < result.accepted < apply.ANALYZE_AFTER
    assert analyze_counts(imports_db) == before
