"""Derived tables written once per transaction, at commit, instead of once per statement.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

0002 measured new ledger events (``event_regions``, ``event_overlaps``, ``stock_spans``) at the
end of every statement. An import of a hundred thousand hazards writes its events in fifty
statements, and each rewrite of the stock spans scans tables that grow with the import: the
last statements cost seconds each. Now a statement only notes its events in
``derived_pending``, and the first note of a transaction enters a row in ``derived_flush``,
whose deferred constraint trigger measures every pending event in one set-based pass just
before the transaction commits. Between the two the derived tables lag behind the ledger
within that transaction only; a reader that needs them current in the same transaction
runs ``SET CONSTRAINTS derived_flushed IMMEDIATE`` (:func:`landrelease.db.derived.settle`).

Rows of ``derived_flush`` are keyed by transaction, so concurrent transactions never wait for
one another here, and each sees only its own pending events (the others' are uncommitted, and
every transaction empties its own before it commits).
"""

from collections.abc import Callable, Sequence
from types import ModuleType

import sqlalchemy as sa
from alembic import op

from landrelease.db.revisions import function_statement, load_revision, replaceable

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _revision_0002() -> ModuleType:
    """0002's statements, reused as they were written: the measurements do not change."""
    return load_revision("0002_indicator_tables.py")


# The events of this transaction not yet measured, standing in for 0002's transition table.
_PENDING = "(SELECT e.* FROM ledger_events e JOIN derived_pending p ON p.event_id = e.id)"

_NOTE_PENDING = (
    "CREATE OR REPLACE FUNCTION lr_ledger_events_inserted() RETURNS trigger LANGUAGE plpgsql "
    "AS $$ BEGIN "
    "INSERT INTO derived_pending (event_id) SELECT id FROM new_events; "
    "INSERT INTO derived_flush (xact) VALUES (txid_current()) ON CONFLICT DO NOTHING; "
    "RETURN NULL; END $$"
)


# Two added pieces of this transaction that overlap are measured once, from the older one
# (0002 met such a pair from both sides and kept it once, measuring it twice).
_ONCE = """ AND NOT (o.sign = 1 AND o.id < n.id
                  AND EXISTS (SELECT 1 FROM derived_pending q WHERE q.event_id = o.id))"""


_PENDING_HAZARDS = (
    "SELECT e.hazard_id FROM ledger_events e JOIN derived_pending p ON p.event_id = e.id"
)
_NONE_PENDING = "NOT EXISTS (SELECT 1 FROM derived_pending)"


def _flush_function(
    m0002: ModuleType,
    *,
    events: str = _PENDING,
    hazards: str = _PENDING_HAZARDS,
    none_pending: str = _NONE_PENDING,
    declare: str = "",
    first: tuple[str, ...] = (),
    measure: str | None = None,
    done: Callable[[str], str] | None = None,
) -> str:
    """Measure every pending event; a region entered in the same transaction may have
    measured some of them already (hence ON CONFLICT), and spans are rewritten whole.

    ``events`` selects the pending events and ``hazards`` their hazards; a later revision
    (0006) passes other ways to find them, with a ``declare`` block and ``first`` statements,
    and another (0008) its own ``measure`` statement, whole. ``done`` (0011) gives a statement
    to run after each step ("regions", "overlaps", "spans").
    """
    if measure is None:
        measure = m0002._MEASURE_IN_REGIONS.format(regions="regions", events=events)

    def after(step: str) -> list[str]:
        return [done(step)] if done is not None else []

    body = "; ".join(
        [
            *first,
            f"IF {none_pending} THEN DELETE FROM derived_flush; RETURN NULL; END IF",  # noqa: S608
            measure.rstrip() + "\nON CONFLICT DO NOTHING",
            *after("regions"),
            m0002._FIND_OVERLAPS.format(events=events, which=m0002._ADDED + _ONCE),
            m0002._FIND_OVERLAPS.format(events=events, which=m0002._REMOVED_FROM_OVERLAPPING),
            *after("overlaps"),
            m0002._spans_of_hazards(hazards),
            *after("spans"),
            "DELETE FROM derived_pending",
            "DELETE FROM derived_flush",
        ]
    )
    return (
        "CREATE FUNCTION lr_flush_derived() RETURNS trigger LANGUAGE plpgsql SET jit = off "
        f"AS $$ {declare}BEGIN {body}; RETURN NULL; END $$"
    )


def _refresh_function(m0002: ModuleType) -> str:
    """0002's full rebuild, which also settles whatever is pending (it is rebuilt anyway)."""
    return replaceable(function_statement(m0002, "lr_refresh_derived")).replace(
        "BEGIN ", "BEGIN DELETE FROM derived_pending; DELETE FROM derived_flush; ", 1
    )


# Foreign keys of derived rows to the very rows they are computed from, in the same
# transaction, from an append-only ledger whose hazards are never deleted: they can never fail,
# and checking them cost about 2 s per 100,000 events. The keys to regions stay (they delete
# derived rows with their region). stock_spans' own index on hazard_id repeats the leading
# column of its unique key.
_REDUNDANT_KEYS = (
    ("event_regions", "event_regions_event_id_fkey"),
    ("stock_spans", "stock_spans_hazard_id_fkey"),
)


# Without those keys, TRUNCATE ledger_events ... CASCADE (a test, a reset) would no longer reach
# the rows derived from the ledger; this trigger takes them along.
_TRUNCATE_DERIVED = (
    "CREATE FUNCTION lr_ledger_truncated() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "DELETE FROM event_regions; DELETE FROM stock_spans; DELETE FROM derived_pending; "
    "DELETE FROM derived_flush; RETURN NULL; END $$"
)


def upgrade() -> None:
    m0002 = _revision_0002()
    op.create_table(
        "derived_pending",
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
        comment="Ledger events of the current transaction not yet in the derived tables",
    )
    op.create_table(
        "derived_flush",
        sa.Column("xact", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("xact"),
        comment="One row per transaction with pending events; its trigger measures them",
    )
    for table, constraint in _REDUNDANT_KEYS:
        op.drop_constraint(constraint, table, type_="foreignkey")
    op.drop_index("ix_stock_spans_hazard_id", table_name="stock_spans")
    op.execute(_NOTE_PENDING)
    op.execute(_flush_function(m0002))
    op.execute(_refresh_function(m0002))
    op.execute(_TRUNCATE_DERIVED)
    op.execute(
        "CREATE TRIGGER ledger_events_truncated AFTER TRUNCATE ON ledger_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION lr_ledger_truncated()"
    )
    op.execute(
        "CREATE CONSTRAINT TRIGGER derived_flushed AFTER INSERT ON derived_flush "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION lr_flush_derived()"
    )


def downgrade() -> None:
    m0002 = _revision_0002()
    op.execute("DROP TRIGGER IF EXISTS derived_flushed ON derived_flush")
    op.execute("DROP TRIGGER IF EXISTS ledger_events_truncated ON ledger_events")
    op.execute("DROP FUNCTION IF EXISTS lr_ledger_truncated()")
    op.execute("DROP FUNCTION IF EXISTS lr_flush_derived()")
    for name in ("lr_ledger_events_inserted", "lr_refresh_derived"):
        op.execute(replaceable(function_statement(m0002, name)))
    op.drop_table("derived_flush")
    op.drop_table("derived_pending")
    op.create_index("ix_stock_spans_hazard_id", "stock_spans", ["hazard_id"])
    op.create_foreign_key(
        "event_regions_event_id_fkey", "event_regions", "ledger_events", ["event_id"], ["id"]
    )
    op.create_foreign_key(
        "stock_spans_hazard_id_fkey", "stock_spans", "hazards", ["hazard_id"], ["id"]
    )
