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

    @property
    def changes(self) -> list[Change]:
        """What the import moved in the ledger, by kind and class."""
        return [Change(**change) for change in self.summary.get("changes", [])]

    def count(self, name: str) -> int:
        """A count from the stored summary (repaired, skipped, activities, marked)."""
        return int(self.summary.get(name, 0))


_IMPORTS = text(
    """
    SELECT id, imported_at, file_name, layers, profile, features, applied, sha256, summary
    FROM imports ORDER BY id DESC LIMIT :limit
    """
)


def imports(connection: Connection, *, limit: int | None = None) -> list[ImportRecord]:
    """The ``limit`` newest imports (all when None), newest first."""
    rows = connection.execute(_IMPORTS, {"limit": limit})
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
        )
        for row in rows
    ]


__all__ = ["ImportRecord", "imports"]
