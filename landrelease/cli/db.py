"""``landrelease db``: the database server and its schema."""

from __future__ import annotations

import click

from landrelease.cli.context import engine
from landrelease.config import load_settings
from landrelease.db import migrate
from landrelease.db.server import LocalServer


def _local_server() -> LocalServer | None:
    settings = load_settings()
    if settings.database_url:
        click.echo("LANDRELEASE_DATABASE_URL is set: the database is managed elsewhere.")
        return None
    return LocalServer.from_settings(settings)


@click.group()
def db() -> None:
    """Start, stop and upgrade the database."""


@db.command()
def start() -> None:
    """Create (first time) and start landrelease's own PostgreSQL server."""
    server = _local_server()
    if server:
        server.start()
        click.echo(server.status())


@db.command()
def stop() -> None:
    """Stop landrelease's own PostgreSQL server."""
    server = _local_server()
    if server:
        server.stop()
        click.echo(server.status())


@db.command()
def status() -> None:
    """Say whether the server runs and which schema revision the database has."""
    server = _local_server()
    if server:
        click.echo(f"server: {server.status()}")
        if not server.is_running():
            return
    eng = engine_without_upgrade()
    current = migrate.current_revision(eng)
    head = migrate.head_revision()
    state = "up to date" if current == head else f"needs upgrade to {head}"
    click.echo(f"schema: {current or 'empty'} ({state})")
    eng.dispose()


def engine_without_upgrade():  # type: ignore[no-untyped-def]
    """An engine that leaves the schema as it is, for ``db status``."""
    from landrelease.db.engine import connect

    return connect(upgrade=False)


@db.command()
@click.pass_context
def upgrade(ctx: click.Context) -> None:
    """Bring the schema up to date (also done automatically by every command)."""
    eng = engine(ctx)
    click.echo(f"schema: {migrate.current_revision(eng)} (up to date)")
