"""The organisation of a hazard and the activity of an event, checked once per statement.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

``hazards.organisation_id`` and ``ledger_events.activity_id`` were foreign keys, checked row by
row: a probe of the referenced key and a share lock on its row for every hazard or event.
Recording 100,000 hazards that name their organisation paid about 2.6 s for it, half of
inserting the hazards, to check a handful of distinct organisations again and again; releasing
as many pieces paid the same for their activities.

Now one statement-level check per INSERT finds any hazard or event that names an organisation
or activity that does not exist, as 0007 does for the events' hazards. The ledger is append-only,
so its events are checked on INSERT only. A hazard's organisation is set when it is recorded
and no transition changes it; an UPDATE that does is checked row by row (the trigger fires only
when the column is set, so transitions pay nothing). What the keys' locks guarded against, an
organisation or activity deleted while in use, is refused after the DELETE, by one check of the
deleted rows against their users.
"""

from collections.abc import Sequence

from alembic import op

from landrelease.db.revisions import load_revision, replaceable

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEYS = (
    ("hazards", "hazards_organisation_id_fkey", "organisation_id", "organisations"),
    ("ledger_events", "ledger_events_activity_id_fkey", "activity_id", "activities"),
)

# One check: the first row of ``rows`` whose ``column`` names no row of ``referred``.
_MISSING = """
    SELECT n.{column} INTO missing FROM {rows} n
    WHERE n.{column} IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM {referred} r WHERE r.id = n.{column}) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '{what} %, which does not exist', missing
            USING ERRCODE = 'foreign_key_violation';
    END IF;"""

# 0007's check of the events' hazards, with their activities checked after it.
_EVENTS_KEYED = replaceable(
    load_revision("0007_ledger_hazard_key.py")._EVENTS_KEYED.replace(
        "    RETURN NULL;",
        _MISSING.format(
            column="activity_id",
            rows="new_events",
            referred="activities",
            what="ledger event of activity",
        ).lstrip("\n")
        + "\n    RETURN NULL;",
    )
)

_HAZARDS_KEYED = (
    "CREATE FUNCTION lr_hazards_keyed() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "DECLARE missing bigint;\nBEGIN"
    + _MISSING.format(
        column="organisation_id",
        rows="new_hazards",
        referred="organisations",
        what="hazard of organisation",
    )
    + "\n    RETURN NULL;\nEND $$"
)

_HAZARD_REKEYED = """
CREATE FUNCTION lr_hazard_rekeyed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
    IF NEW.organisation_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM organisations o WHERE o.id = NEW.organisation_id) THEN
        RAISE EXCEPTION 'hazard of organisation %, which does not exist', NEW.organisation_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END $$
"""

_STILL_USED = """
CREATE FUNCTION lr_refuse_{table}_in_use() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE used bigint;
BEGIN
    SELECT o.id INTO used FROM old_rows o
    WHERE EXISTS (SELECT 1 FROM {user} u WHERE u.{column} = o.id) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '{noun} % is still named by {user}', used
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$
"""

_TRIGGERS = (
    (
        "hazards_keyed",
        "hazards",
        "AFTER INSERT ON hazards REFERENCING NEW TABLE AS new_hazards "
        "FOR EACH STATEMENT EXECUTE FUNCTION lr_hazards_keyed()",
    ),
    (
        "hazards_rekeyed",
        "hazards",
        "BEFORE UPDATE OF organisation_id ON hazards "
        "FOR EACH ROW EXECUTE FUNCTION lr_hazard_rekeyed()",
    ),
    (
        "organisations_in_use",
        "organisations",
        "AFTER DELETE ON organisations REFERENCING OLD TABLE AS old_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION lr_refuse_organisations_in_use()",
    ),
    (
        "activities_in_use",
        "activities",
        "AFTER DELETE ON activities REFERENCING OLD TABLE AS old_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION lr_refuse_activities_in_use()",
    ),
)

_FUNCTIONS = (
    "lr_hazards_keyed",
    "lr_hazard_rekeyed",
    "lr_refuse_organisations_in_use",
    "lr_refuse_activities_in_use",
)


def upgrade() -> None:
    for table, constraint, _, _ in _KEYS:
        op.drop_constraint(constraint, table, type_="foreignkey")
    op.execute(_EVENTS_KEYED)
    op.execute(_HAZARDS_KEYED)
    op.execute(_HAZARD_REKEYED)
    op.execute(
        _STILL_USED.format(
            table="organisations", user="hazards", column="organisation_id", noun="organisation"
        )
    )
    op.execute(
        _STILL_USED.format(
            table="activities", user="ledger_events", column="activity_id", noun="activity"
        )
    )
    for name, _, definition in _TRIGGERS:
        op.execute(f"CREATE TRIGGER {name} {definition}")


def downgrade() -> None:
    for name, table, _ in _TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    for function in _FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    op.execute(replaceable(load_revision("0007_ledger_hazard_key.py")._EVENTS_KEYED))
    for table, constraint, column, referred in _KEYS:
        op.create_foreign_key(constraint, table, referred, [column], ["id"])
