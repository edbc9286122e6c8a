"""An applied import keeps the problems found in its file.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04

A file is applied with its warnings and repairs: a polygon partly outside the boundaries, a
self-intersection repaired and by how many m², a feature skipped as already imported. The
terminal shows the most severe of them and ``--report`` writes them all, but a report not asked
for was lost once the file was applied, and a second import of the file only says it is already
in. The rows are now kept with the import, as the report wrote them, so an officer can list
them later (``landrelease imports --problems ID``) and an auditor can see what each file was
let in with. Imports applied before this keep NULL: their problems were not stored, which is
not the same as none.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "imports",
        sa.Column(
            "problems",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=True,
            comment="Problems found in the file (feature, source ID, code, action, message); "
            "NULL for a file applied before they were kept",
        ),
    )


def downgrade() -> None:
    op.drop_column("imports", "problems")
