"""What the officer reads after an import: the problem table, cut when long, and the problems
kept with an applied file (``landrelease imports --problems ID``)."""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from importing import BAD, SAMPLES, imports_db
from sqlalchemy import Engine, text

from landrelease.cli import main
from landrelease.cli.ingest import REDRAW_S, _Progress
from landrelease.ingest import import_file
from landrelease.ingest.findings import REFUSED, REPAIRED, WARNING, Problem
from landrelease.ingest.history import problems_of
from landrelease.ingest.report import problem_counts, problems_table, write_report

__all__ = ["imports_db"]

PROBLEMS = [
    Problem(1, "A", "partly_outside", "feature 1 (A): 12 m² lies outside", WARNING),
    Problem(2, "B", "null_geometry", "feature 2 (B): no geometry", REFUSED),
    Problem(3, "C", "partly_outside", "feature 3 (C): 40 m² lies outside", WARNING),
    Problem(4, "D", "self_intersection", "feature 4 (D): repaired, area +0.0%", REPAIRED),
]


def table_features(table: str) -> list[str]:
    """The feature column of a problem table's rows (below the header and its rule)."""
    return [line.split()[0] for line in table.splitlines()[2:] if not line.startswith("...")]


def test_a_long_table_keeps_the_most_severe_rows_in_file_order() -> None:
    assert table_features(problems_table(PROBLEMS)) == ["1", "2", "3", "4"]
    cut = problems_table(PROBLEMS, limit=2)
    assert table_features(cut) == ["2", "4"]  # refused, then repaired; not warnings
    assert cut.splitlines()[-1] == "... 2 more row(s) not shown: 2 of 4, the most severe first"
    assert problems_table(PROBLEMS, limit=4) == problems_table(PROBLEMS)


def test_problem_counts_add_up_by_code_and_action_most_severe_first() -> None:
    assert problem_counts(PROBLEMS).splitlines() == [
        "  1  null_geometry      refused",
        "  1  self_intersection  repaired",
        "  2  partly_outside     warning",
    ]


def test_a_stage_reported_only_at_its_start_keeps_its_time_running(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Measuring reports its start and its end only; its bar is redrawn meanwhile."""
    terminal = io.StringIO()
    monkeypatch.setattr(sys, "stderr", terminal)
    progress = _Progress()
    progress.tty = True  # as on a terminal
    progress("measure", 0, 5000)
    drawn = terminal.getvalue().count("measure")
    deadline = time.monotonic() + 30
    while terminal.getvalue().count("measure") == drawn and time.monotonic() < deadline:
        time.sleep(0.05)
    redrawn = terminal.getvalue().count("measure")
    progress("measure", 5000, 5000)
    progress.close()
    assert drawn >= 1 and redrawn > drawn  # drawn again with no update in between
    assert "0/5000" in terminal.getvalue() and "5000/5000" in terminal.getvalue()
    settled = terminal.getvalue()
    time.sleep(2 * REDRAW_S)  # a closed display is not drawn again
    assert terminal.getvalue() == settled


def run(engine: Engine, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    monkeypatch.setenv("LANDRELEASE_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.mark.db
def test_a_cut_table_counts_every_problem_and_says_where_the_rest_is(
    imports_db: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    mixed = tmp_path / "mixed.geojson"
    collection = json.loads((BAD / "null_geometry.geojson").read_text(encoding="utf-8"))
    outside = json.loads((BAD / "partly_outside.geojson").read_text(encoding="utf-8"))
    for feature in outside["features"]:
        feature["properties"]["hazard_id"] += "-OUT"  # not an ID of the other file
    collection["features"].extend(outside["features"])
    mixed.write_text(json.dumps(collection), encoding="utf-8")
    whole = import_file(imports_db, mixed, dry_run=True).problems
    assert {p.action for p in whole} == {REFUSED, WARNING}

    result = run(imports_db, monkeypatch, "import", str(mixed), "--problem-rows", "1")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    refused = [p for p in whole if p.action == REFUSED]
    shown = [line for line in lines if "  refused  " in line or "  warning  " in line]
    assert len(shown) == 1 and refused[0].code in shown[0]  # the refusal, not the warning
    assert f"... {len(whole) - 1} more row(s) not shown: 1 of {len(whole)}" in result.output
    counted = lines[lines.index("problems by kind:") + 1 :][: len({p.code for p in whole})]
    assert sum(int(line.split()[0]) for line in counted) == len(whole)
    assert "every row: run the import again with --report FILE.csv (or .json)" in lines


@pytest.mark.db
def test_an_applied_import_keeps_its_problems(
    imports_db: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    result = import_file(imports_db, BAD / "partly_outside.geojson")
    assert result.status == "applied" and result.problems
    with imports_db.connect() as connection:
        assert problems_of(connection, result.import_id) == result.problems

    listed = run(imports_db, monkeypatch, "imports").output
    assert f", problems {len(result.problems)}; sha256 " in listed
    shown = run(imports_db, monkeypatch, "imports", "--problems", str(result.import_id))
    assert shown.exit_code == 0
    for problem in result.problems:
        assert problem.message.partition(": ")[2] in shown.output

    # Written later, the report has the rows the import's own report had.
    at_import = write_report(result, tmp_path / "at_import.csv")
    later = tmp_path / "later.csv"
    args = ("imports", "--problems", str(result.import_id), "--report", str(later))
    assert run(imports_db, monkeypatch, *args).exit_code == 0
    with at_import.open(encoding="utf-8") as a, later.open(encoding="utf-8") as b:
        assert list(csv.reader(a)) == list(csv.reader(b))
    as_json = tmp_path / "later.json"
    run(
        imports_db,
        monkeypatch,
        "imports",
        "--problems",
        str(result.import_id),
        "--report",
        str(as_json),
    )
    document = json.loads(as_json.read_text(encoding="utf-8"))
    assert (document["import_id"], document["sha256"]) == (result.import_id, result.sha256)
    assert document["problems"] == [p.__dict__ for p in result.problems]


@pytest.mark.db
def test_an_import_from_before_problems_were_kept_says_so(
    imports_db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows written before migration 0010 hold NULL: unknown, which is not the same as none."""
    result = import_file(imports_db, BAD / "partly_outside.geojson")
    with imports_db.begin() as connection:
        connection.execute(
            text("UPDATE imports SET problems = NULL WHERE id = :id"), {"id": result.import_id}
        )
    assert ", problems not kept; sha256 " in run(imports_db, monkeypatch, "imports").output
    shown = run(imports_db, monkeypatch, "imports", "--problems", str(result.import_id))
    assert shown.exit_code == 1
    assert (
        f"import #{result.import_id} was applied before imports kept their problems; its "
        "report was not stored"
    ) in shown.output


@pytest.mark.db
def test_problems_of_an_import_that_does_not_exist_are_refused_clearly(
    imports_db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = run(imports_db, monkeypatch, "imports", "--problems", "999")
    assert missing.exit_code == 1
    assert "there is no import #999; see landrelease imports" in missing.output
    alone = run(imports_db, monkeypatch, "imports", "--report", "x.csv")
    assert alone.exit_code == 2 and "give --problems ID" in alone.output


@pytest.mark.db
def test_the_import_reports_measuring_as_its_last_stage(imports_db: Engine) -> None:
    """Measuring is named before the commit and follows the flush's steps; a dry run skips it."""
    calls: list[tuple[str, int, int]] = []
    sample = SAMPLES / "generic_hazards.geojson"
    dry = import_file(imports_db, sample, dry_run=True, progress=lambda *a: calls.append(a))
    assert dry.status == "dry-run" and calls and "measure" not in {c[0] for c in calls}
    calls.clear()
    result = import_file(imports_db, sample, progress=lambda *a: calls.append(a))
    applied = result.accepted
    assert result.status == "applied" and applied == 6
    stages = [c[0] for c in calls]
    first = stages.index("measure")
    assert stages.index("database") < first and set(stages[first:]) == {"measure"}
    # 0, then after each step of the flush (50 %, 62 %, all): 6 features make 3, 3, 6.
    assert [done for _, done, _ in calls[first:]] == [0, 3, 3, 6]
    assert {total for _, _, total in calls[first:]} == {applied}
