"""Shared fixtures: a real PostGIS database for the whole run, emptied before each test.

The database is the configured server (``LANDRELEASE_DATABASE_URL``) or landrelease's own local
cluster, with a database named after this test process so parallel runs do not collide. Without
PostgreSQL the database tests skip on a laptop, but fail under CI (``CI`` set): CI must never
pass by skipping them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, text

from landrelease.cli import main
from landrelease.config import load_settings
from landrelease.db.engine import connect, recreate_database
from landrelease.errors import ConfigurationError

TABLES = (
    "published_reports, work_plans, imports, stock_spans, event_overlaps, event_regions,"
    " ledger_events, activity_items, activities, hazards, organisations, regions"
)


def unavailable(reason: str) -> None:
    """Skip a database test on a laptop without PostGIS; fail it in CI, which must run it."""
    if os.environ.get("CI"):
        pytest.fail(f"PostGIS is required in CI: {reason}")
    pytest.skip(f"no PostGIS: {reason}")


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    """An engine on a fresh, migrated test database, dropped at the end of the run."""
    settings = load_settings()
    name = f"landrelease_test_{os.getpid()}"
    try:
        recreate_database(settings, name)
        eng = connect(settings, database=name)
    except ConfigurationError as exc:
        unavailable(str(exc))
    yield eng
    eng.dispose()
    admin_drop(settings, name)


def admin_drop(settings: object, name: str) -> None:
    """Drop the test database (errors ignored: a leftover is harmless)."""
    from landrelease.db.engine import drop_database

    try:
        drop_database(settings, name)  # type: ignore[arg-type]
    except Exception as exc:  # pragma: no cover - best effort cleanup
        print(f"could not drop {name}: {exc}")


@pytest.fixture
def db(engine: Engine) -> Engine:
    """The test database, emptied: every test starts from no data."""
    empty(engine)
    return engine


def empty(engine: Engine) -> None:
    """Remove all rows (TRUNCATE is an administrator's tool; the app cannot delete events)."""
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))


@pytest.fixture
def cli(db: Engine, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run landrelease commands on the (emptied) test database, as a user types them."""
    monkeypatch.setenv("LANDRELEASE_DATABASE_URL", db.url.render_as_string(hide_password=False))
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(main, list(args), catch_exceptions=False)

    return run
