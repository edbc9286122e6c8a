"""The import report: every problem per feature, as CSV, JSON, or a table in the terminal.

The officer fixes the file from this report, so each row names the feature (its position in
the file and its source ID), the problem as a stable code and a sentence, and what was done:
refused, repaired, skipped (already imported) or a warning. The summary says what was read,
accepted and refused, and what the ledger moved, in m² by kind and class.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

from landrelease.errors import LandReleaseError
from landrelease.ingest.apply import (
    APPLIED,
    DRY_RUN,
    REFUSED_FILE,
    UNCHANGED,
    Change,
    ImportResult,
)
from landrelease.ingest.history import ImportRecord
from landrelease.ingest.validate import Problem
from landrelease.units import format_area

COLUMNS = ("feature", "source_id", "problem", "action", "message")


def _row(problem: Problem) -> tuple[str, str, str, str, str]:
    feature = "file" if problem.index is None else str(problem.index)
    return (feature, problem.source_id or "", problem.code, problem.action, problem.message)


def write_report(result: ImportResult, path: str | Path) -> Path:
    """Write the report as CSV (one row per problem) or JSON (everything), by extension."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".json":
        target.write_text(json.dumps(result.as_dict(), indent=2, default=str), encoding="utf-8")
    elif suffix == ".csv":
        with target.open("w", newline="", encoding="utf-8") as stream:
            writer = csv.writer(stream)
            writer.writerow(COLUMNS)
            writer.writerows(_row(p) for p in result.problems)
    else:
        raise LandReleaseError(f"report {target.name}: give a .csv or .json file name")
    return target


def _detail(problem: Problem) -> str:
    """The message without the feature label the table already shows in its own columns."""
    head, sep, rest = problem.message.partition(": ")
    return rest if sep and head.startswith("feature ") else problem.message


def problems_table(problems: Sequence[Problem]) -> str:
    """An aligned text table of the problems, one line each (details are never cut)."""
    if not problems:
        return ""
    header = ("feature", "ID", "problem", "action", "detail")
    rows = [(*_row(p)[:4], _detail(p)) for p in problems]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    lines = []
    for row in [header, *rows]:
        cells = [row[i].ljust(widths[i]) for i in range(4)]
        lines.append("  ".join([*cells, row[4]]).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * 6)
    return "\n".join(lines)


_HEADLINES = {
    APPLIED: "applied",
    DRY_RUN: "dry run: nothing written; a real import would change this",
    REFUSED_FILE: "refused: nothing written",
    UNCHANGED: "nothing to do",
}


def change_lines(changes: Sequence[Change]) -> list[str]:
    """One line per kind and class: how many features, how many m²."""
    return [
        f"  {c.kind:<10} {c.hazard_class:<4} {c.count:>7}  {format_area(c.area_m2)}"
        for c in changes
    ]


def past_import(record: ImportRecord) -> str:
    """An import of the history, as its summary read when it was applied."""
    names = [name for name in record.layers.split(",") if name]  # stored comma-joined
    layers = f", layer{'s' if len(names) > 1 else ''} {', '.join(names)}" if names else ""
    when = record.imported_at.astimezone()  # the officer's local time
    lines = [
        f"#{record.import_id}  {when:%Y-%m-%d %H:%M %Z}  {record.file_name}{layers} "
        f"(profile {record.profile})",
        f"  read {record.features}, applied {record.applied} "
        f"(repaired {record.count('repaired')}), skipped {record.count('skipped')}; "
        f"sha256 {record.sha256[:12]}",
        *change_lines(record.changes),
    ]
    if record.count("activities") or record.count("marked"):
        lines.append(
            f"  activities {record.count('activities')}, hazards marked {record.count('marked')}"
        )
    return "\n".join(lines)


def summary(result: ImportResult) -> str:
    """The end-of-import summary: counts, then what moved in the ledger."""
    headline = _HEADLINES[result.status]
    if result.status == APPLIED and result.import_id is not None:
        headline += f" as import #{result.import_id}"
    lines = [f"{result.file} (profile {result.profile}): {headline}"]
    if result.status == UNCHANGED and result.previous:
        lines.append(f"already imported: {result.previous}; nothing applied")
    lines.append(
        f"read {result.read}, accepted {result.accepted} (repaired {result.repaired}), "
        f"refused {result.refused}, skipped {result.skipped}"
    )
    lines.extend(change_lines(result.changes))
    if result.activities or result.marked:
        lines.append(f"  activities {result.activities}, hazards marked {result.marked}")
    if result.seconds:
        lines.append(f"({result.seconds:.1f} s)")
    return "\n".join(lines)
