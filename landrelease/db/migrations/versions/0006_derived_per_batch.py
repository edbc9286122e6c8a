"""Derived rows cost the same per event however large the ledger, and carry no row-by-row keys.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

Two costs of 0004's flush grew with the ledger or with the rows written:

- The pending events were found by joining ``ledger_events`` to ``derived_pending``. Measured
  once at commit that is one pass, but an import that settles its derived rows batch by batch
  (so that they are written while the next batch is being checked) met a plan that scanned the
  spatial index of the whole ledger for every region: each batch cost more than the one before.
  The flush now reads the pending ids once into an array and fetches exactly those events by
  primary key, fenced off (``OFFSET 0``) so the planner cannot turn it into a ledger-wide scan.
- ``event_regions`` and ``stock_spans`` rows referenced their region through a foreign key with
  ``ON DELETE CASCADE``; checking it cost about 2.5 s per 100,000 hazards recorded (two rows
  each), for rows the trigger itself makes from existing regions. A statement trigger on
  ``regions`` now deletes derived rows with their region (and on TRUNCATE), which is all the
  keys were for.
"""

from collections.abc import Callable, Sequence

from alembic import op

from landrelease.db.revisions import load_revision, replaceable

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVENTS = "(SELECT e.* FROM ledger_events e WHERE e.id = ANY(pending) OFFSET 0)"
_HAZARDS = "SELECT e.hazard_id FROM ledger_events e WHERE e.id = ANY(pending)"


def _flush(
    revised: bool, measure: str | None = None, done: Callable[[str], str] | None = None
) -> str:
    """0004's flush, finding the pending events by id (``revised``) or as 0004 did; later
    revisions pass their own ``measure`` statement (0008) and statements ``done`` after each
    step (0011)."""
    m0002 = load_revision("0002_indicator_tables.py")
    m0004 = load_revision("0004_derived_at_commit.py")
    if not revised:
        return replaceable(m0004._flush_function(m0002))
    return replaceable(
        m0004._flush_function(
            m0002,
            events=_EVENTS,
            hazards=_HAZARDS,
            none_pending="cardinality(pending) = 0",
            declare="DECLARE pending bigint[]; ",
            first=("pending := ARRAY(SELECT event_id FROM derived_pending)",),
            measure=measure,
            done=done,
        )
    )


_KEYS = (
    ("event_regions", "event_regions_region_id_fkey"),
    ("stock_spans", "stock_spans_region_id_fkey"),
)

_REGIONS_DELETED = """
CREATE FUNCTION lr_regions_deleted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
DELETE FROM event_regions WHERE region_id IN (SELECT id FROM old_regions);
DELETE FROM stock_spans WHERE region_id IN (SELECT id FROM old_regions);
RETURN NULL; END $$
"""
_REGIONS_TRUNCATED = """
CREATE FUNCTION lr_regions_truncated() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
DELETE FROM event_regions; DELETE FROM stock_spans WHERE region_id IS NOT NULL;
RETURN NULL; END $$
"""


def upgrade() -> None:
    op.execute(_flush(revised=True))
    for table, constraint in _KEYS:
        op.drop_constraint(constraint, table, type_="foreignkey")
    op.execute(_REGIONS_DELETED)
    op.execute(_REGIONS_TRUNCATED)
    op.execute(
        "CREATE TRIGGER regions_deleted AFTER DELETE ON regions REFERENCING OLD TABLE AS "
        "old_regions FOR EACH STATEMENT EXECUTE FUNCTION lr_regions_deleted()"
    )
    op.execute(
        "CREATE TRIGGER regions_truncated AFTER TRUNCATE ON regions "
        "FOR EACH STATEMENT EXECUTE FUNCTION lr_regions_truncated()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS regions_truncated ON regions")
    op.execute("DROP TRIGGER IF EXISTS regions_deleted ON regions")
    op.execute("DROP FUNCTION IF EXISTS lr_regions_truncated()")
    op.execute("DROP FUNCTION IF EXISTS lr_regions_deleted()")
    for table, constraint in _KEYS:
        op.create_foreign_key(
            constraint, table, "regions", ["region_id"], ["id"], ondelete="CASCADE"
        )
    op.execute(_flush(revised=False))
