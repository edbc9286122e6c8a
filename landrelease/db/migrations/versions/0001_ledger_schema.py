"""Ledger schema: regions, organisations, hazards, activities, items and the append-only ledger.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# SQL that autogenerate cannot see: the one geodesic area function, the as-of rebuild and the
# trigger that keeps the ledger append-only.
FUNCTIONS = [
    """
    CREATE FUNCTION lr_area_m2(g geometry) RETURNS double precision
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
    $$ SELECT COALESCE(ST_Area(g::geography, true), 0) $$
    """,
    """
    COMMENT ON FUNCTION lr_area_m2(geometry) IS
    'Geodesic area in m2 on the WGS84 ellipsoid; 0 for NULL or empty. The only area in SQL.'
    """,
    """
    CREATE FUNCTION lr_hazard_geom_as_of(hid bigint, as_of date) RETURNS geometry
    LANGUAGE plpgsql STABLE AS
    $$
    DECLARE
        g geometry;
        e record;
    BEGIN
        FOR e IN
            SELECT sign, piece FROM ledger_events
            WHERE hazard_id = hid AND effective_date <= as_of
            ORDER BY effective_date, id
        LOOP
            IF e.sign > 0 THEN
                g := CASE WHEN g IS NULL THEN e.piece ELSE ST_Union(g, e.piece) END;
            ELSIF g IS NOT NULL THEN
                g := ST_Difference(g, e.piece);
            END IF;
        END LOOP;
        IF g IS NULL OR ST_IsEmpty(g) THEN
            RETURN NULL;
        END IF;
        RETURN ST_Multi(ST_CollectionExtract(g, 3));
    END
    $$
    """,
    """
    COMMENT ON FUNCTION lr_hazard_geom_as_of(bigint, date) IS
    'Geometry of a hazard as of a date, replayed from its ledger events in effective-date order.'
    """,
    """
    CREATE FUNCTION lr_refuse_ledger_change() RETURNS trigger
    LANGUAGE plpgsql AS
    $$
    BEGIN
        RAISE EXCEPTION 'the ledger is append-only: % of event % refused', TG_OP, OLD.id
            USING ERRCODE = 'integrity_constraint_violation',
                  HINT = 'record a correction event instead';
    END
    $$
    """,
    """
    CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON ledger_events
    FOR EACH ROW EXECUTE FUNCTION lr_refuse_ledger_change()
    """,
]


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "organisations",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_geospatial_table(
        "regions",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("code", sa.Text(), nullable=False, comment="Stable key, e.g. a P-code"),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "admin_level", sa.SmallInteger(), nullable=False, comment="0 = country, 1, 2, 3 ..."
        ),
        sa.Column("parent_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("area_m2", sa.Double(), nullable=False, comment="Geodesic area on WGS84, m²"),
        sa.CheckConstraint("admin_level BETWEEN 0 AND 9", name="admin_level_range"),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["regions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_geospatial_index(
        "idx_regions_geom",
        "regions",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_regions_parent_id"), "regions", ["parent_id"], unique=False)
    op.create_table(
        "activities",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column(
            "reference",
            sa.Text(),
            nullable=True,
            comment="Report or task number; makes re-imports idempotent",
        ),
        sa.Column("organisation_id", sa.BigInteger(), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('NTS', 'TS', 'CLEARANCE', 'MARKING', 'FENCING', 'OTHER')",
            name="activity_kind_known",
        ),
        sa.CheckConstraint(
            "start_date IS NULL OR end_date IS NULL OR start_date <= end_date",
            name="dates_in_order",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reference"),
    )
    op.create_geospatial_table(
        "hazards",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("national_id", sa.Text(), nullable=False, comment="National hazard ID"),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("hazard_class", sa.Text(), nullable=False, comment="SHA or CHA"),
        sa.Column("contamination", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="active", nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
            comment="What remains; NULL once released",
        ),
        sa.Column("area_m2", sa.Double(), nullable=False, comment="Remaining geodesic area, m²"),
        sa.Column("recorded_date", sa.Date(), nullable=False),
        sa.Column("organisation_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "parent_id",
            sa.BigInteger(),
            nullable=True,
            comment="Confirmed or reopened from",
        ),
        sa.Column("marked_date", sa.Date(), nullable=True, comment="Perimeter marked on"),
        sa.Column("fenced_date", sa.Date(), nullable=True, comment="Fenced on"),
        sa.Column(
            "version",
            sa.Integer(),
            server_default="1",
            nullable=False,
            comment="Incremented by every transition",
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("(status = 'active') = (geom IS NOT NULL)", name="active_iff_geometry"),
        sa.CheckConstraint(
            "contamination IN ('CMR', 'AP_MINE', 'AT_MINE', 'ERW', 'IED', 'MIXED')",
            name="contamination_known",
        ),
        sa.CheckConstraint("hazard_class IN ('SHA', 'CHA')", name="hazard_class_known"),
        sa.CheckConstraint("status IN ('active', 'released')", name="status_known"),
        sa.CheckConstraint("area_m2 >= 0", name="area_not_negative"),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["hazards.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("national_id"),
    )
    op.create_geospatial_index(
        "idx_hazards_geom",
        "hazards",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_hazards_parent_id"), "hazards", ["parent_id"], unique=False)
    op.create_table(
        "activity_items",
        sa.Column("activity_id", sa.BigInteger(), nullable=False),
        sa.Column("item_type", sa.Text(), nullable=False),
        sa.Column("found", sa.Integer(), server_default="0", nullable=False),
        sa.Column("destroyed", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "item_type IN ('SUBMUNITION', 'CLUSTER_BOMB', 'AP_MINE', 'AT_MINE', 'UXO', 'AXO', 'IED', 'OTHER')",
            name="item_type_known",
        ),
        sa.CheckConstraint("found >= 0 AND destroyed >= 0", name="counts_not_negative"),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
        ),
        sa.PrimaryKeyConstraint("activity_id", "item_type"),
    )
    op.create_geospatial_table(
        "ledger_events",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("hazard_id", sa.BigInteger(), nullable=False),
        sa.Column("activity_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column(
            "sign", sa.SmallInteger(), nullable=False, comment="+1 adds the piece, -1 removes it"
        ),
        sa.Column("hazard_class", sa.Text(), nullable=False, comment="Class the area counts under"),
        sa.Column(
            "piece",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("area_m2", sa.Double(), nullable=False, comment="Geodesic area of the piece, m²"),
        sa.Column("effective_date", sa.Date(), nullable=False, comment="In the field"),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
            comment="Entered in landrelease",
        ),
        sa.Column(
            "related_hazard_id",
            sa.BigInteger(),
            nullable=True,
            comment="The other hazard of a confirmation or reopening",
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "(kind IN ('recorded', 'reopened') AND sign = 1) OR (kind IN ('cancelled', 'reduced', 'cleared') AND sign = -1) OR (kind = 'confirmed' AND ((sign = -1 AND hazard_class = 'SHA') OR (sign = 1 AND hazard_class = 'CHA'))) OR (kind = 'corrected' AND sign IN (-1, 1) AND note IS NOT NULL)",
            name="event_sign_fits_kind",
        ),
        sa.CheckConstraint("hazard_class IN ('SHA', 'CHA')", name="event_class_known"),
        sa.CheckConstraint(
            "kind IN ('recorded', 'confirmed', 'cancelled', 'reduced', 'cleared', 'reopened', 'corrected')",
            name="event_kind_known",
        ),
        sa.CheckConstraint("area_m2 >= 0", name="event_area_not_negative"),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
        ),
        sa.ForeignKeyConstraint(
            ["hazard_id"],
            ["hazards.id"],
        ),
        sa.ForeignKeyConstraint(
            ["related_hazard_id"],
            ["hazards.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_geospatial_index(
        "idx_ledger_events_piece",
        "ledger_events",
        ["piece"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("ix_ledger_events_activity_id"), "ledger_events", ["activity_id"], unique=False
    )
    op.create_index(
        op.f("ix_ledger_events_effective_date"), "ledger_events", ["effective_date"], unique=False
    )
    op.create_index(
        op.f("ix_ledger_events_hazard_id"), "ledger_events", ["hazard_id"], unique=False
    )
    op.create_index(op.f("ix_regions_admin_level"), "regions", ["admin_level"], unique=False)
    for statement in FUNCTIONS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS ledger_append_only ON ledger_events")
    op.execute("DROP FUNCTION IF EXISTS lr_refuse_ledger_change()")
    op.execute("DROP FUNCTION IF EXISTS lr_hazard_geom_as_of(bigint, date)")
    op.execute("DROP FUNCTION IF EXISTS lr_area_m2(geometry)")
    op.drop_index(op.f("ix_regions_admin_level"), table_name="regions")
    op.drop_index(op.f("ix_ledger_events_hazard_id"), table_name="ledger_events")
    op.drop_index(op.f("ix_ledger_events_effective_date"), table_name="ledger_events")
    op.drop_index(op.f("ix_ledger_events_activity_id"), table_name="ledger_events")
    op.drop_geospatial_index(
        "idx_ledger_events_piece",
        table_name="ledger_events",
        postgresql_using="gist",
        column_name="piece",
    )
    op.drop_geospatial_table("ledger_events")
    op.drop_table("activity_items")
    op.drop_index(op.f("ix_hazards_parent_id"), table_name="hazards")
    op.drop_geospatial_index(
        "idx_hazards_geom", table_name="hazards", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("hazards")
    op.drop_table("activities")
    op.drop_index(op.f("ix_regions_parent_id"), table_name="regions")
    op.drop_geospatial_index(
        "idx_regions_geom", table_name="regions", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("regions")
    op.drop_table("organisations")
