"""The import report: every problem per feature, as CSV, JSON, or a table in the terminal.

The officer fixes the file from this report, so each row names the feature (its position in
the file and its source ID), the problem as a stable code and a sentence, and what was done:
refused, repaired, skipped (already imported) or a warning. The summary says what was read,
accepted and refused, and what the ledger moved, in m² by kind and class.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from landrelease.cells import inert_text
from landrelease.errors import LandReleaseError
from landrelease.ingest.apply import (
    APPLIED,
    DRY_RUN,
    REFUSED_FILE,
    UNCHANGED,
    Change,
    ImportResult,
)
from landrelease.ingest.findings import REFUSED, REPAIRED, SKIPPED, WARNING, Problem, shown
from landrelease.ingest.history import ImportRecord
from landrelease.units import format_area

COLUMNS = ("feature", "source_id", "problem", "action", "message")


def _row(problem: Problem) -> tuple[str, str, str, str, str]:
    feature = "file" if problem.index is None else str(problem.index)
    return (feature, problem.source_id or "", problem.code, problem.action, problem.message)


def _rows(result: ImportResult) -> list[tuple[str, ...]]:
    """The CSV rows: every problem, or why nothing was done to a file already imported."""
    rows = [_row(p) for p in result.problems]
    if result.status == UNCHANGED and result.previous and not rows:
        rows.append(
            ("file", "", "already_imported", "skipped", f"already imported: {result.previous}")
        )
    return rows


def report_target(path: str | Path) -> Path:
    """``path`` if a report can be written there: a .csv or .json name in an existing folder.

    Checked before an import starts, so that a mistyped report name never leaves the officer
    with a file applied and no report of it.
    """
    target = Path(path)
    if target.suffix.lower() not in (".csv", ".json"):
        raise LandReleaseError(f"report {target.name}: give a .csv or .json file name")
    if not target.parent.is_dir():
        raise LandReleaseError(f"report {target}: the folder {target.parent} does not exist")
    if target.is_dir():
        raise LandReleaseError(f"report {target}: is a folder; give a file name")
    return target


def write_report(result: ImportResult, path: str | Path) -> Path:
    """Write the report as CSV (one row per problem) or JSON (everything), by extension."""
    return _write(path, _rows(result), result.as_dict())


def write_import_problems(
    record: ImportRecord, problems: Sequence[Problem], path: str | Path
) -> Path:
    """Write the problems kept with an applied import, as its report would have had them."""
    document = {
        "import_id": record.import_id,
        "file": record.file_name,
        "sha256": record.sha256,
        "profile": record.profile,
        "layers": record.layers,
        "problems": [p.__dict__ for p in problems],
    }
    return _write(path, [_row(p) for p in problems], document)


def _write(path: str | Path, rows: Sequence[tuple[str, ...]], document: object) -> Path:
    """The one writer of reports: CSV ``rows`` or the JSON ``document``, by extension.

    Text cells of the CSV are made inert (:func:`landrelease.cells.inert_text`): source IDs
    and messages come from the field file.
    """
    target = report_target(path)
    try:
        if target.suffix.lower() == ".json":
            content = json.dumps(document, indent=2, default=str)
            target.write_text(content, encoding="utf-8")
        else:
            with target.open("w", newline="", encoding="utf-8") as stream:
                writer = csv.writer(stream)
                writer.writerow(COLUMNS)
                writer.writerows(tuple(inert_text(cell) for cell in row) for row in rows)
    except OSError as exc:
        raise LandReleaseError(f"report {target}: {exc.strerror or exc}") from exc
    return target


def _detail(problem: Problem) -> str:
    """The message without the feature label the table already shows in its own columns."""
    head, sep, rest = problem.message.partition(": ")
    return rest if sep and head.startswith("feature ") else problem.message


#: Which problems a shortened table keeps first: those that stop the file, then the changes
#: made to it, then what was only noted.
_SEVERITY = {REFUSED: 0, REPAIRED: 1, WARNING: 2, SKIPPED: 3}


def problems_table(problems: Sequence[Problem], limit: int | None = None) -> str:
    """An aligned text table of the problems, one line each (details are never cut).

    With ``limit``, a longer list shows only that many rows, the most severe first, kept in
    file order, and says how many it left out: a national baseline can carry thousands of
    warnings, and the officer reads the terminal for what stops the file. Every row is in the
    written report.
    """
    if not problems:
        return ""
    shown_problems = list(problems)
    if limit is not None and len(problems) > limit:
        ranked = sorted(range(len(problems)), key=lambda i: _SEVERITY.get(problems[i].action, 4))
        shown_problems = [problems[i] for i in sorted(ranked[:limit])]
    header = ("feature", "ID", "problem", "action", "detail")
    rows = [
        (feature, shown(source), code, action, _detail(p))
        for p in shown_problems
        for feature, source, code, action, _ in [_row(p)]
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    lines = []
    for row in [header, *rows]:
        cells = [row[i].ljust(widths[i]) for i in range(4)]
        lines.append("  ".join([*cells, row[4]]).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * 6)
    if len(shown_problems) < len(problems):
        lines.append(
            f"... {len(problems) - len(shown_problems)} more row(s) not shown: "
            f"{len(shown_problems)} of {len(problems)}, the most severe first"
        )
    return "\n".join(lines)


def problem_counts(problems: Sequence[Problem]) -> str:
    """One line per problem code and action with its count, most frequent first, e.g.
    ``  78  partly_outside  warning``: what a long table adds up to."""
    counts = Counter((p.code, p.action) for p in problems)
    ordered = sorted(counts.items(), key=lambda kv: (_SEVERITY.get(kv[0][1], 4), -kv[1], kv[0]))
    width = max((len(str(n)) for n in counts.values()), default=1)
    code_width = max((len(code) for code, _ in counts), default=0)
    return "\n".join(
        f"  {n:>{width}}  {code:<{code_width}}  {action}" for (code, action), n in ordered
    )


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
        f"(repaired {record.count('repaired')}), skipped {record.count('skipped')}, "
        f"problems {'not kept' if record.problems is None else record.problems}; "
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
