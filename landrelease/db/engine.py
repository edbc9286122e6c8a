"""The engine every command uses: the configured server, or the local one started on demand."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from landrelease.config import Settings, load_settings
from landrelease.db import migrate
from landrelease.db.server import LocalServer
from landrelease.errors import ConfigurationError


def database_url(settings: Settings, database: str | None = None) -> str:
    """URL of ``database`` (default: the configured one), starting the local server if needed.

    With ``LANDRELEASE_DATABASE_URL`` set, ``database`` replaces the database name in it, so
    the demo and the tests can keep their data apart from the centre's own.
    """
    if settings.database_url:
        url = make_url(settings.database_url)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        if database:
            url = url.set(database=database)
        return url.render_as_string(hide_password=False)
    server = LocalServer.from_settings(settings)
    name = database or settings.database
    server.ensure_database(name)
    return server.url(name)


def connect(
    settings: Settings | None = None, *, database: str | None = None, upgrade: bool = True
) -> Engine:
    """An engine on a reachable database whose schema is current (unless ``upgrade=False``)."""
    settings = settings or load_settings()
    engine = create_engine(database_url(settings, database), pool_pre_ping=True)
    try:
        if upgrade and not migrate.is_current(engine):
            migrate.upgrade(engine)
    except OperationalError as exc:
        engine.dispose()
        raise ConfigurationError(
            f"cannot reach the database ({exc.orig}); check LANDRELEASE_DATABASE_URL, or unset "
            "it to let landrelease run its own local server"
        ) from exc
    return engine


def drop_database(settings: Settings, database: str) -> None:
    """Drop ``database`` if it exists (never the main one: its ledger is the centre's record)."""
    if database == settings.database:
        raise ConfigurationError(f"refusing to drop the main database {database!r}")
    if settings.database_url:
        admin = create_engine(database_url(settings, "postgres"), isolation_level="AUTOCOMMIT")
        name = admin.dialect.identifier_preparer.quote(database)
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
        return
    LocalServer.from_settings(settings).drop_database(database)


def recreate_database(settings: Settings, database: str) -> None:
    """Drop and create ``database`` empty (the demo and tests own theirs, never the main one)."""
    drop_database(settings, database)
    if settings.database_url:
        admin = create_engine(database_url(settings, "postgres"), isolation_level="AUTOCOMMIT")
        name = admin.dialect.identifier_preparer.quote(database)
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
        admin.dispose()
        return
    LocalServer.from_settings(settings).ensure_database(database)
