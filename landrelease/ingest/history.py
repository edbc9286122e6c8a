"""The files imported so far, newest first, each with what it changed.

Every applied import leaves a row in ``imports`` (migration 0003): the file's SHA-256, which is
what makes a second import of it change nothing, and the summary printed when it was applied.
An officer asking "did we already load the March results, and what did they do?" reads it here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from landrelease.ingest.apply import Change
from landrelease.ingest.findings import Problem


@dataclass(frozen=True)
class ImportRecord:
    """One applied import, as stored when it committed."""

    import_id: int
    imported_at: dt.datetime
    file_name: str
    layers: str
    profile: str
    features: int
    applied: int
    sha256: str
    summary: dict[str, Any]
    problems: int | None = None  # how many were kept with it; None: applied before 0010

    @property
    def changes(self) -> list[Change]:
        """What the import moved in the ledger, by kind and class."""
        return [Change(**change) for change in self.summary.get("changes", [])]

    def count(self, name: str) -> int:
        """A count from the stored summary (repaired, skipped, activities, marked)."""
        return int(self.summary.get(name, 0))


# ``where`` is one of this module's constants; values are bound.
_IMPORTS = """
    SELECT id, imported_at, file_name, layers, profile, features, applied, sha256, summary,
           jsonb_array_length(problems) AS problems
    FROM imports {where} ORDER BY id DESC LIMIT :limit
"""


def _records(connection: Connection, where: str, params: dict[str, object]) -> list[ImportRecord]:
    rows = connection.execute(text(_IMPORTS.format(where=where)), params)
    return [
        ImportRecord(
            row.id,
            row.imported_at,
            row.file_name,
            row.layers,
            row.profile,
            row.features,
            row.applied,
            row.sha256,
            row.summary,
            row.problems,
        )
        for row in rows
    ]


def imports(connection: Connection, *, limit: int | None = None) -> list[ImportRecord]:
    """The ``limit`` newest imports (all when None), newest first."""
    return _records(connection, "", {"limit": limit})


def imported(connection: Connection, import_id: int) -> ImportRecord | None:
    """Import number ``import_id``, or None when there is none."""
    found = _records(connection, "WHERE id = :id", {"id": import_id, "limit": 1})
    return found[0] if found else None


def newest_import(connection: Connection) -> int:
    """The number of the newest import (0 when there is none): an import that commits after
    this was read has a larger one."""
    return connection.execute(text("SELECT COALESCE(max(id), 0) FROM imports")).scalar_one()


def applied_since(connection: Connection, sha256: str, after: int) -> int | None:
    """The import of the file with this SHA-256 numbered after ``after``, if there is one."""
    return connection.execute(
        text("SELECT max(id) FROM imports WHERE sha256 = :sha AND id > :after"),
        {"sha": sha256, "after": after},
    ).scalar_one()


def problems_of(connection: Connection, import_id: int) -> list[Problem] | None:
    """The problems kept with import ``import_id``, in the order its report listed them; None
    for an import applied before problems were kept (migration 0010), whose are unknown."""
    stored = connection.execute(
        text("SELECT problems FROM imports WHERE id = :id"), {"id": import_id}
    ).scalar_one()
    return None if stored is None else [Problem(**problem) for problem in stored]


__all__ = ["ImportRecord", "applied_since", "imported", "imports", "newest_import", "problems_of"]
