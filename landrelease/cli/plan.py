"""``landrelease plan``: work plans (Action 19), annual targets up to the Article 4 deadline."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from landrelease.cli import options
from landrelease.cli.context import engine
from landrelease.indicators import workplan
from landrelease.models import ReleaseMethod
from landrelease.units import format_area

plan_option = click.option("--plan", "name", required=True, help="Name of the work plan.")
deadline_option = click.option(
    "--deadline",
    callback=options.parse_date,
    help="Article 4 deadline (YYYY-MM-DD); required for a new plan, re-dates an existing one.",
)


@click.group()
def plan() -> None:
    """Work plans: annual targets of land to release, per region, up to the deadline."""


@plan.command("add")
@plan_option
@deadline_option
@click.option("--year", type=int, required=True, help="Year of the target.")
@click.option("--region", help="Region code (omit for the whole country).")
@click.option(
    "--method",
    type=click.Choice([m.value for m in ReleaseMethod]),
    help="Release method of the target (omit for any method).",
)
@click.option("--target", required=True, help="Area to release, e.g. 150000, 15ha, 0.15km2.")
@click.pass_context
def add(
    ctx: click.Context,
    name: str,
    deadline: dt.date | None,
    year: int,
    region: str | None,
    method: str | None,
    target: str,
) -> None:
    """Enter (or replace) one annual target."""
    area = workplan.parse_area(target)
    with engine(ctx).begin() as connection:
        found = workplan.ensure_plan(connection, name, deadline=deadline)
        entered = workplan.set_target(
            connection, found, year, area, region_code=region, method=method
        )
    click.echo(
        f"{found.name}: {entered.year} {entered.region.code} {entered.method or 'any method'}"
        f" {format_area(entered.target_m2)}"
    )


@plan.command("import")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@plan_option
@deadline_option
@click.pass_context
def import_(ctx: click.Context, path: Path, name: str, deadline: dt.date | None) -> None:
    """Enter the targets of a CSV file (year, region, method, target_m2|target_ha|target_km2)."""
    with engine(ctx).begin() as connection:
        found = workplan.ensure_plan(connection, name, deadline=deadline)
        entered = workplan.import_targets(connection, found, path)
    click.echo(f"{found.name}: {len(entered)} target(s) entered from {path.name}")


@plan.command("show")
@click.option("--plan", "name", help="Name of the work plan (omit to list the plans).")
@click.pass_context
def show(ctx: click.Context, name: str | None) -> None:
    """Show a plan's targets, or list the plans."""
    with engine(ctx).connect() as connection:
        if name is None:
            plans = workplan.plans(connection)
            if not plans:
                click.echo("no work plan yet")
            for p in plans:
                click.echo(f"{p.name}  deadline {p.deadline}")
            return
        found = workplan.get_plan(connection, name)
        entered = workplan.targets(connection, found)
    click.echo(f"{found.name}, deadline {found.deadline}: {len(entered)} target(s)")
    for t in entered:
        click.echo(
            f"  {t.year}  {t.region.code:<24} {t.method or 'any':<9} {format_area(t.target_m2)}"
        )
    click.echo(f"  total {format_area(sum(t.target_m2 for t in entered))}")
