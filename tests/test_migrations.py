"""Every migration can be undone and done again, and the schema comes back the same.

A centre upgrades landrelease in place; a migration that cannot be rolled back, or that leaves
the schema different when done again, strands its database. This runs the whole chain down to
nothing and up again on a database of its own, and compares the functions, triggers, tables
and indexes with those of a database migrated once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from alembic import command
from conftest import unavailable
from sqlalchemy import Engine, text

from landrelease.config import load_settings
from landrelease.db import migrate
from landrelease.db.engine import connect, drop_database, recreate_database
from landrelease.db.revisions import load_revision
from landrelease.errors import ConfigurationError

pytestmark = pytest.mark.db

SCHEMA = text(
    """
    SELECT 'function ' || p.proname || ' ' || md5(p.prosrc) FROM pg_proc p
    JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'public' AND p.proname LIKE 'lr\\_%'
    UNION ALL
    SELECT 'trigger ' || tgrelid::regclass || ' ' || tgname FROM pg_trigger WHERE NOT tgisinternal
    UNION ALL
    SELECT 'index ' || indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
    UNION ALL
    SELECT 'constraint ' || conrelid::regclass || ' ' || conname FROM pg_constraint
    WHERE connamespace = 'public'::regnamespace
    ORDER BY 1
    """
)


@pytest.fixture
def scratch() -> Iterator[Engine]:
    settings = load_settings()
    name = f"landrelease_migrations_{os.getpid()}"
    try:
        recreate_database(settings, name)
        engine = connect(settings, database=name)
    except ConfigurationError as exc:
        unavailable(str(exc))
    yield engine
    engine.dispose()
    drop_database(settings, name)


def schema(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(SCHEMA).scalars())


def test_the_chain_goes_down_and_up_to_the_same_schema(scratch: Engine) -> None:
    head = schema(scratch)
    assert any(line.startswith("function lr_flush_derived") for line in head)
    with scratch.begin() as connection:
        command.downgrade(migrate._config(connection), "base")
    assert migrate.current_revision(scratch) is None
    assert not [line for line in schema(scratch) if "ledger_events" in line]
    migrate.upgrade(scratch)
    assert migrate.current_revision(scratch) == migrate.head_revision()
    assert schema(scratch) == head


def test_migration_files_are_named_after_their_revision() -> None:
    """Every command compares the database with the newest file's name (migrate.is_current),
    without loading Alembic: names and Alembic's own chain must agree."""
    files = sorted(migrate.VERSIONS.glob("[0-9]*_*.py"))
    assert files, "no migration files found"
    for path in files:
        assert load_revision(path.name).revision == path.name.split("_", 1)[0], path.name
    assert migrate.newest_file_revision() == migrate.head_revision()


def test_a_database_behind_the_newest_migration_is_not_current(scratch: Engine) -> None:
    assert migrate.is_current(scratch)
    with scratch.begin() as connection:
        command.downgrade(migrate._config(connection), "-1")
    assert not migrate.is_current(scratch)
    with scratch.begin() as connection:
        command.downgrade(migrate._config(connection), "base")
    assert migrate.current_revision(scratch) is None and not migrate.is_current(scratch)
