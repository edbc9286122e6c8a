"""Imports: one row per field file (or layer of one) applied, keyed on the SHA-256 of its bytes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28

Importing the same file twice must change nothing (DESIGN invariant 6). Activities already carry
a unique reference, which makes re-imported results idempotent one by one; this table makes the
file itself recognisable, so a second run says "already imported as import #n" without
re-validating anything, and keeps who imported what, with which profile, and what it changed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "imports",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False, comment="SHA-256 of the file's bytes, hex"),
        sa.Column("file_name", sa.Text(), nullable=False, comment="Name of the file as received"),
        sa.Column(
            "layers",
            sa.Text(),
            server_default="",
            nullable=False,
            comment="Layers read, comma-separated (a GeoPackage is imported layer by layer)",
        ),
        sa.Column("profile", sa.Text(), nullable=False, comment="Import profile used"),
        sa.Column(
            "imported_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("features", sa.Integer(), nullable=False, comment="Features read from the file"),
        sa.Column(
            "applied",
            sa.Integer(),
            nullable=False,
            comment="Features applied (the rest were already in the database)",
        ),
        sa.Column(
            "activity_references",
            postgresql.ARRAY(sa.Text()),
            server_default="{}",
            nullable=False,
            comment="References of the activities the file created",
        ),
        sa.Column(
            "summary",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=False,
            comment="Counts and m² by kind and class",
        ),
        sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),
        sa.CheckConstraint("applied >= 0 AND applied <= features", name="applied_within_features"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sha256", "layers", name="imported_once"),
    )


def downgrade() -> None:
    op.drop_table("imports")
