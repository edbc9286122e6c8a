"""Every ledger event names a hazard that exists, checked once per statement.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

The foreign key from ``ledger_events.hazard_id`` to ``hazards`` was checked row by row: for
each event, a probe of the hazard's primary key and a share lock written into the hazard's row
(so that a concurrent DELETE of the hazard would wait). Recording 100,000 hazards paid about
1.4 s for it, a third of writing their events. Hazards are never deleted (their land leaves
through the ledger), so what the lock guarded against cannot happen: DELETE on ``hazards`` is now
refused outright, and one statement-level check per INSERT into the ledger finds every event
whose hazard does not exist. (TRUNCATE, an administrator's reset, still cannot empty
``hazards`` without the ledger: ``related_hazard_id`` keeps its key, so it must cascade.)
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = "ledger_events_hazard_id_fkey"

_EVENTS_KEYED = """
CREATE FUNCTION lr_ledger_events_keyed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE missing bigint;
BEGIN
    SELECT n.hazard_id INTO missing FROM new_events n
    WHERE NOT EXISTS (SELECT 1 FROM hazards h WHERE h.id = n.hazard_id) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger event for hazard %, which does not exist', missing
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$
"""

_HAZARDS_KEPT = """
CREATE FUNCTION lr_refuse_hazard_delete() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
    RAISE EXCEPTION 'hazards are never deleted: their land leaves through the ledger'
        USING ERRCODE = 'restrict_violation';
END $$
"""


def upgrade() -> None:
    op.drop_constraint(_KEY, "ledger_events", type_="foreignkey")
    op.execute(_EVENTS_KEYED)
    op.execute(
        "CREATE TRIGGER ledger_events_keyed AFTER INSERT ON ledger_events "
        "REFERENCING NEW TABLE AS new_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION lr_ledger_events_keyed()"
    )
    op.execute(_HAZARDS_KEPT)
    op.execute(
        "CREATE TRIGGER hazards_kept BEFORE DELETE ON hazards "
        "FOR EACH STATEMENT EXECUTE FUNCTION lr_refuse_hazard_delete()"
    )


def downgrade() -> None:
    for trigger, table, function in (
        ("hazards_kept", "hazards", "lr_refuse_hazard_delete"),
        ("ledger_events_keyed", "ledger_events", "lr_ledger_events_keyed"),
    ):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    op.create_foreign_key(_KEY, "ledger_events", "hazards", ["hazard_id"], ["id"])
