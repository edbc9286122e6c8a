"""Indicator tables: areas per region, stock spans, piece overlaps, work plans, published reports.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

Reports must not measure geography at report time (1.6 s per 100k polygons), nor group the
whole ledger by hazard for every table. So, when events (or regions) are written, triggers
store what reports read:

- ``region_parts``: each region cut into parts of at most 64 vertices, so a piece across a
  boundary is intersected with a few small parts rather than a national boundary;
- ``event_regions``: the area of every ledger piece within every region, with the event's
  immutable attributes copied beside it;
- ``stock_spans``: each hazard's remaining area per region (and in all) as a step function of
  time, rewritten for every hazard an insert touches;
- ``event_overlaps``: pieces of different hazards whose interiors overlap, and by how much.

The triggers are statement-level with transition tables, so one ``INSERT ... SELECT`` handles a
batch of ten thousand events as it handles one.
"""

# ruff: noqa: S608 - the SQL below joins constant fragments only; no value comes from a user.

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The one expression for "area of a piece within a region": a piece wholly inside keeps its
# stored area (no geography measured); only pieces across a boundary are intersected, with the
# region's small parts, never with the whole boundary. The region is the first argument of
# ST_Covers / ST_Intersects: when successive calls share the region, PostGIS prepares its
# geometry once (measured: 9 µs a test instead of 600 µs). lr_area_within_m2 has no sub-query,
# so the planner inlines it and the prepared geometry survives from one call to the next.
# The bits of a piece in the region's parts are united before they are measured: the cut lines
# between parts meet in T-junctions (one part's long edge is two edges in its neighbours), and a
# long edge is a different geodesic from its two halves, so summing the bits' areas would be off
# by up to ~0.1 % of the bits (thousands of m² along a cut of kilometres).
AREA_IN_PARTS = """
CREATE FUNCTION lr_area_in_parts_m2(piece geometry, rid bigint) RETURNS double precision
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT lr_area_m2(ST_CollectionExtract(ST_Union(ST_Intersection(piece, p.geom)), 3))
   FROM region_parts p WHERE p.region_id = rid AND p.geom && piece $$
"""
AREA_WITHIN = """
CREATE FUNCTION lr_area_within_m2(piece geometry, piece_area double precision, rid bigint,
                                  region geometry)
RETURNS double precision
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN ST_Covers(region, piece) THEN piece_area
               WHEN ST_Intersects(region, piece) THEN lr_area_in_parts_m2(piece, rid)
               ELSE 0 END $$
"""

# Trigger and refresh functions plan their statements with JIT off: compiling costs 0.1-2 s a
# statement, far more than the work of a transition.
_TRIGGER = (
    "CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql SET jit = off AS $$ BEGIN "
    "{body}; RETURN NULL; END $$"
)

_CUT_REGIONS = """
INSERT INTO region_parts (region_id, geom)
SELECT id, ST_Multi(ST_Subdivide(geom, 64)) FROM {regions}
"""

# Regions are the outer loop (OFFSET 0 keeps it so): each region's geometry is read once and
# stays the same across the inner calls, so it is prepared once; the inner loop tests bounding
# boxes against the region's envelope (a small geometry) before any exact test.
_MEASURE_IN_REGIONS = """
INSERT INTO event_regions (event_id, region_id, admin_level, hazard_id, hazard_class, kind,
                           sign, effective_date, area_m2)
SELECT x.id, r.id, r.admin_level, x.hazard_id, x.hazard_class, x.kind, x.sign,
       x.effective_date, x.area
FROM (SELECT id, admin_level, geom, ST_Envelope(geom) AS env FROM {regions} OFFSET 0) r
CROSS JOIN LATERAL (
    SELECT e.id, e.hazard_id, e.hazard_class, e.kind, e.sign, e.effective_date,
           lr_area_within_m2(e.piece, e.area_m2, r.id, r.geom) AS area
    FROM {events} e
    WHERE e.piece && r.env
    OFFSET 0
) x
WHERE x.area > 0
"""

# Pieces of other hazards whose interiors meet a new piece (a pair of two new events is met
# from both sides and kept once). A piece taken out (-1) lies within land its hazard held,
# so it can only meet another hazard's piece where one of the hazard's added pieces already
# did: removals are probed only for hazards already in event_overlaps, which spares the
# spatial probe for nearly every release.
_FIND_OVERLAPS = """
INSERT INTO event_overlaps (event_id, other_event_id, area_m2)
SELECT least(n.id, o.id), greatest(n.id, o.id), a.area
FROM {events} n
JOIN ledger_events o
  ON o.piece && n.piece AND o.hazard_id <> n.hazard_id
 AND ST_Relate(n.piece, o.piece, 'T********')
CROSS JOIN LATERAL (
    SELECT lr_area_m2(ST_CollectionExtract(ST_Intersection(n.piece, o.piece), 3)) AS area
) a
WHERE a.area > 0 AND {which}
ON CONFLICT DO NOTHING
"""
_ADDED = "n.sign = 1"
_REMOVED_FROM_OVERLAPPING = """n.sign = -1 AND EXISTS (
    SELECT 1 FROM ledger_events x
    WHERE x.hazard_id = n.hazard_id
      AND (EXISTS (SELECT 1 FROM event_overlaps eo WHERE eo.event_id = x.id)
           OR EXISTS (SELECT 1 FROM event_overlaps eo WHERE eo.other_event_id = x.id)))"""


def _overlaps(events: str) -> str:
    """Both passes, added pieces first: removals then see the pairs the additions found."""
    return (
        _FIND_OVERLAPS.format(events=events, which=_ADDED)
        + "; "
        + _FIND_OVERLAPS.format(events=events, which=_REMOVED_FROM_OVERLAPPING)
    )


# A hazard's remaining area per region and class as a step function: the running signed sum of
# its pieces, one span per date on which it changes. Numerically zero spans are not stored.
_SPANS = """
INSERT INTO stock_spans (hazard_id, region_id, admin_level, hazard_class, valid_from,
                         valid_until, area_m2)
SELECT hazard_id, region_id, admin_level, hazard_class, d, next_d, stock
FROM (
    SELECT hazard_id, region_id, admin_level, hazard_class, d,
           lead(d) OVER w AS next_d, sum(delta) OVER (w ROWS UNBOUNDED PRECEDING) AS stock
    FROM ({daily}) daily
    WINDOW w AS (PARTITION BY hazard_id, region_id, hazard_class ORDER BY d)
) steps
WHERE abs(stock) > 1e-6
"""
_DAILY_IN_REGIONS = """
SELECT hazard_id, region_id, admin_level, hazard_class, effective_date AS d,
       sum(sign * area_m2) AS delta
FROM event_regions WHERE {where} GROUP BY 1, 2, 3, 4, 5
"""
_DAILY_WHOLE = """
SELECT hazard_id, CAST(NULL AS bigint) AS region_id, CAST(NULL AS smallint) AS admin_level,
       hazard_class, effective_date AS d, sum(sign * area_m2) AS delta
FROM ledger_events WHERE {where} GROUP BY 1, 4, 5
"""


def _spans_of_hazards(hazards: str) -> str:
    """Rewrite every span (regional and whole) of the hazards selected by ``hazards``."""
    where = f"hazard_id IN ({hazards})"
    return (
        f"DELETE FROM stock_spans WHERE {where}; "
        + _SPANS.format(daily=_DAILY_IN_REGIONS.format(where=where))
        + "; "
        + _SPANS.format(daily=_DAILY_WHOLE.format(where=where))
    )


def _spans_in_regions(regions: str) -> str:
    """Rewrite the regional spans within the regions selected by ``regions``."""
    where = f"region_id IN ({regions})"
    return f"DELETE FROM stock_spans WHERE {where}; " + _SPANS.format(
        daily=_DAILY_IN_REGIONS.format(where=where)
    )


# A region is measured anew when its boundary or its level changes (linking parents updates
# region rows too, and must not rewrite anything).
_RESHAPED = """(
    SELECT n.id, n.admin_level, n.geom FROM new_regions n JOIN old_regions o ON o.id = n.id
    WHERE NOT (n.geom = o.geom) OR n.admin_level <> o.admin_level
) s"""
_RESHAPED_IDS = f"SELECT id FROM {_RESHAPED}"

FUNCTIONS = [
    AREA_IN_PARTS,
    AREA_WITHIN,
    """
    COMMENT ON FUNCTION lr_area_within_m2(geometry, double precision, bigint, geometry) IS
    'Geodesic area (m2) of a piece within a region: its stored area when wholly inside.'
    """,
    _TRIGGER.format(
        name="lr_ledger_events_inserted",
        body="; ".join(
            [
                _MEASURE_IN_REGIONS.format(regions="regions", events="new_events"),
                _overlaps("new_events"),
                _spans_of_hazards("SELECT hazard_id FROM new_events"),
            ]
        ),
    ),
    """
    CREATE TRIGGER ledger_events_measured AFTER INSERT ON ledger_events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION lr_ledger_events_inserted()
    """,
    _TRIGGER.format(
        name="lr_regions_inserted",
        body="; ".join(
            [
                _CUT_REGIONS.format(regions="new_regions"),
                _MEASURE_IN_REGIONS.format(regions="new_regions", events="ledger_events"),
                _spans_in_regions("SELECT id FROM new_regions"),
            ]
        ),
    ),
    """
    CREATE TRIGGER regions_measured AFTER INSERT ON regions
    REFERENCING NEW TABLE AS new_regions
    FOR EACH STATEMENT EXECUTE FUNCTION lr_regions_inserted()
    """,
    _TRIGGER.format(
        name="lr_regions_updated",
        body="; ".join(
            [
                f"DELETE FROM region_parts WHERE region_id IN ({_RESHAPED_IDS})",
                _CUT_REGIONS.format(regions=_RESHAPED),
                f"DELETE FROM event_regions WHERE region_id IN ({_RESHAPED_IDS})",
                _MEASURE_IN_REGIONS.format(regions=_RESHAPED, events="ledger_events"),
                _spans_in_regions(_RESHAPED_IDS),
            ]
        ),
    ),
    """
    CREATE TRIGGER regions_remeasured AFTER UPDATE ON regions
    REFERENCING OLD TABLE AS old_regions NEW TABLE AS new_regions
    FOR EACH STATEMENT EXECUTE FUNCTION lr_regions_updated()
    """,
    # The repair and backfill path: rebuild every derived table from the ledger and regions.
    "CREATE FUNCTION lr_refresh_derived() RETURNS bigint LANGUAGE plpgsql SET jit = off AS $$ "
    "BEGIN "
    "DELETE FROM stock_spans; DELETE FROM event_overlaps; DELETE FROM event_regions; "
    "DELETE FROM region_parts; "
    + "; ".join(
        [
            _CUT_REGIONS.format(regions="regions"),
            _MEASURE_IN_REGIONS.format(regions="regions", events="ledger_events"),
            _overlaps("ledger_events"),
            _SPANS.format(daily=_DAILY_IN_REGIONS.format(where="true")),
            _SPANS.format(daily=_DAILY_WHOLE.format(where="true")),
        ]
    )
    + "; RETURN (SELECT count(*) FROM event_regions); END $$",
    """
    COMMENT ON FUNCTION lr_refresh_derived() IS
    'Rebuild region_parts, event_regions, event_overlaps and stock_spans; returns event_regions rows.'
    """,
]


def upgrade() -> None:
    op.create_geospatial_table(
        "region_parts",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("region_id", sa.BigInteger(), nullable=False),
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
        sa.ForeignKeyConstraint(["region_id"], ["regions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_geospatial_index(
        "idx_region_parts_geom",
        "region_parts",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_region_parts_region_id"), "region_parts", ["region_id"])
    op.create_table(
        "event_regions",
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("region_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "admin_level", sa.SmallInteger(), nullable=False, comment="The region's admin level"
        ),
        sa.Column("hazard_id", sa.BigInteger(), nullable=False, comment="The event's hazard"),
        sa.Column("hazard_class", sa.Text(), nullable=False, comment="The event's class"),
        sa.Column("kind", sa.Text(), nullable=False, comment="The event's kind"),
        sa.Column("sign", sa.SmallInteger(), nullable=False, comment="The event's sign"),
        sa.Column(
            "effective_date", sa.Date(), nullable=False, comment="The event's effective date"
        ),
        sa.Column(
            "area_m2",
            sa.Double(),
            nullable=False,
            comment="Geodesic area of the piece within the region, m²",
        ),
        sa.CheckConstraint("area_m2 > 0", name="event_region_area_positive"),
        sa.ForeignKeyConstraint(["event_id"], ["ledger_events.id"]),
        sa.ForeignKeyConstraint(["region_id"], ["regions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("event_id", "region_id"),
    )
    op.create_index(op.f("ix_event_regions_region_id"), "event_regions", ["region_id"])
    op.create_index(op.f("ix_event_regions_hazard_id"), "event_regions", ["hazard_id"])
    op.create_index(
        "ix_event_regions_level_date", "event_regions", ["admin_level", "effective_date"]
    )
    op.create_table(
        "event_overlaps",
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("other_event_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "area_m2",
            sa.Double(),
            nullable=False,
            comment="Geodesic area of the intersection of the two pieces, m²",
        ),
        sa.CheckConstraint("event_id < other_event_id", name="event_overlap_ordered"),
        sa.CheckConstraint("area_m2 > 0", name="event_overlap_area_positive"),
        sa.ForeignKeyConstraint(["event_id"], ["ledger_events.id"]),
        sa.ForeignKeyConstraint(["other_event_id"], ["ledger_events.id"]),
        sa.PrimaryKeyConstraint("event_id", "other_event_id"),
    )
    op.create_index(op.f("ix_event_overlaps_other_event_id"), "event_overlaps", ["other_event_id"])
    op.create_table(
        "stock_spans",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("hazard_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "region_id",
            sa.BigInteger(),
            nullable=True,
            comment="NULL: the whole hazard, wherever it lies",
        ),
        sa.Column(
            "admin_level",
            sa.SmallInteger(),
            nullable=True,
            comment="The region's admin level; NULL with region_id",
        ),
        sa.Column("hazard_class", sa.Text(), nullable=False, comment="Class the area counts under"),
        sa.Column("valid_from", sa.Date(), nullable=False, comment="First day the area holds"),
        sa.Column(
            "valid_until",
            sa.Date(),
            nullable=True,
            comment="Day of the next change (exclusive); NULL while it lasts",
        ),
        sa.Column(
            "area_m2", sa.Double(), nullable=False, comment="Remaining area over the span, m²"
        ),
        sa.CheckConstraint(
            "valid_until IS NULL OR valid_from < valid_until", name="stock_span_not_empty"
        ),
        sa.CheckConstraint("(region_id IS NULL) = (admin_level IS NULL)", name="stock_span_level"),
        sa.ForeignKeyConstraint(["hazard_id"], ["hazards.id"]),
        sa.ForeignKeyConstraint(["region_id"], ["regions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "hazard_id",
            "region_id",
            "hazard_class",
            "valid_from",
            name="stock_span_once",
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index(op.f("ix_stock_spans_hazard_id"), "stock_spans", ["hazard_id"])
    op.create_index("ix_stock_spans_level", "stock_spans", ["admin_level"])
    op.create_table(
        "work_plans",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False, comment="e.g. 'Article 4 extension 2023'"),
        sa.Column(
            "deadline",
            sa.Date(),
            nullable=False,
            comment="Article 4 (or Article 5) clearance deadline",
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "work_plan_targets",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("plan_id", sa.BigInteger(), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False, comment="Calendar year of the target"),
        sa.Column("region_id", sa.BigInteger(), nullable=True, comment="NULL: the whole country"),
        sa.Column(
            "method",
            sa.Text(),
            nullable=True,
            comment="cancelled, reduced or cleared; NULL: any method",
        ),
        sa.Column("target_m2", sa.Double(), nullable=False, comment="Area to release, m²"),
        sa.Column(
            "entered_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "method IS NULL OR method IN ('cancelled', 'reduced', 'cleared')",
            name="target_method_known",
        ),
        sa.CheckConstraint("target_m2 >= 0", name="target_not_negative"),
        sa.CheckConstraint("year BETWEEN 1990 AND 2100", name="target_year_plausible"),
        sa.ForeignKeyConstraint(["plan_id"], ["work_plans.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["region_id"], ["regions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "plan_id",
            "year",
            "region_id",
            "method",
            name="work_plan_target_once",
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index(op.f("ix_work_plan_targets_plan_id"), "work_plan_targets", ["plan_id"])
    op.create_table(
        "published_reports",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False, comment="Reporting year"),
        sa.Column(
            "admin_level", sa.SmallInteger(), nullable=False, comment="Admin level of the rows"
        ),
        sa.Column(
            "published_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "last_event_id",
            sa.BigInteger(),
            nullable=True,
            comment="Highest ledger event id when the report was frozen",
        ),
        sa.Column(
            "check_method",
            sa.Text(),
            nullable=False,
            comment="How the closing stock was checked",
        ),
        sa.Column(
            "figures",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=False,
            comment="The frozen rows of the annual table",
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint("check_method IN ('geometry', 'ledger')", name="check_method_known"),
        sa.CheckConstraint("admin_level BETWEEN 0 AND 9", name="published_level_range"),
        sa.CheckConstraint("year BETWEEN 1990 AND 2100", name="published_year_plausible"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("year", "admin_level", name="published_once_per_year_and_level"),
    )
    for statement in FUNCTIONS:
        op.execute(statement)
    # Events and regions already in the database get their rows now (the backfill).
    op.execute("SELECT lr_refresh_derived()")


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS regions_remeasured ON regions")
    op.execute("DROP TRIGGER IF EXISTS regions_measured ON regions")
    op.execute("DROP TRIGGER IF EXISTS ledger_events_measured ON ledger_events")
    for function in (
        "lr_refresh_derived()",
        "lr_regions_updated()",
        "lr_regions_inserted()",
        "lr_ledger_events_inserted()",
        "lr_area_within_m2(geometry, double precision, bigint, geometry)",
        "lr_area_in_parts_m2(geometry, bigint)",
    ):
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
    op.drop_table("published_reports")
    op.drop_index(op.f("ix_work_plan_targets_plan_id"), table_name="work_plan_targets")
    op.drop_table("work_plan_targets")
    op.drop_table("work_plans")
    op.drop_index("ix_stock_spans_level", table_name="stock_spans")
    op.drop_index(op.f("ix_stock_spans_hazard_id"), table_name="stock_spans")
    op.drop_table("stock_spans")
    op.drop_index(op.f("ix_event_overlaps_other_event_id"), table_name="event_overlaps")
    op.drop_table("event_overlaps")
    op.drop_index("ix_event_regions_level_date", table_name="event_regions")
    op.drop_index(op.f("ix_event_regions_hazard_id"), table_name="event_regions")
    op.drop_index(op.f("ix_event_regions_region_id"), table_name="event_regions")
    op.drop_table("event_regions")
    op.drop_index(op.f("ix_region_parts_region_id"), table_name="region_parts")
    op.drop_geospatial_index(
        "idx_region_parts_geom",
        table_name="region_parts",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("region_parts")
