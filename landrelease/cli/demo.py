"""``landrelease demo``: the whole product on bundled data, in a database of its own."""

from __future__ import annotations

from pathlib import Path

import click

from landrelease.config import load_settings
from landrelease.db.engine import connect, recreate_database


@click.command()
@click.option("--hazards", default=3000, show_default=True, help="Hazards to generate.")
@click.option("--seed", default=7, show_default=True, help="Seed of the generated data.")
def demo(hazards: int, seed: int) -> None:
    """Generate hazards in Bosnia and Herzegovina, apply years of survey and clearance
    results through the ledger, and print a summary that balances.

    The demo owns the database '<name>_demo' and recreates it on every run; the main
    database is never touched.
    """
    from landrelease.demo import run_demo
    from landrelease.maps import write_demo_maps
    from landrelease.reports.build import write_demo_reports

    settings = load_settings()
    name = f"{settings.database}_demo"
    click.echo(f"demo database: {name} (recreated)")
    recreate_database(settings, name)
    engine = connect(settings, database=name)
    try:
        run_demo(engine, hazards=hazards, seed=seed, echo=click.echo)
        for path in write_demo_maps(engine, Path("maps")):
            click.echo(f"map: {path}")
        for path in write_demo_reports(engine, Path("maps") / "reports"):
            click.echo(f"report: {path}")
    finally:
        engine.dispose()
