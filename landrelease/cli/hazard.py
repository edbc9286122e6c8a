"""``landrelease hazard``: record, list and inspect hazardous areas."""

from __future__ import annotations

import datetime as dt

import click
from sqlalchemy import text

from landrelease.cli import options
from landrelease.cli.context import engine
from landrelease.errors import HazardNotFound
from landrelease.geofile import read_polygon
from landrelease.release import transaction
from landrelease.snapshot import hazards_as_of
from landrelease.units import format_area, ha
from landrelease.vocabulary import Contamination, HazardClass


@click.group()
def hazard() -> None:
    """Record, list and show hazardous areas (SHA / CHA)."""


@hazard.command("add")
@click.argument("national_id")
@click.option(
    "--class",
    "hazard_class",
    required=True,
    type=click.Choice([c.value for c in HazardClass], case_sensitive=False),
    help="SHA (indirect evidence) or CHA (direct evidence).",
)
@options.geometry
@options.crs
@options.layer
@options.date
@click.option(
    "--contamination",
    default=Contamination.ERW.value,
    show_default=True,
    type=click.Choice([c.value for c in Contamination], case_sensitive=False),
)
@options.organisation
@click.option("--name", help="Local name of the area.")
@click.pass_context
def add(
    ctx: click.Context,
    national_id: str,
    hazard_class: str,
    geometry_source: str,
    crs: str | None,
    layer: str | None,
    effective_date: dt.date,
    contamination: str,
    organisation: str | None,
    name: str | None,
) -> None:
    """Record a new hazard NATIONAL_ID from a polygon."""
    geom, source_crs = read_polygon(geometry_source, crs=crs, layer=layer)
    with transaction(engine(ctx)) as ledger:
        recorded = ledger.record(
            national_id,
            HazardClass(hazard_class.upper()),
            geom,
            crs=source_crs,
            recorded_date=effective_date,
            contamination=Contamination(contamination.upper()),
            organisation=organisation,
            name=name,
        )
    click.echo(f"recorded {recorded.national_id}: {format_area(recorded.area_m2)}")
    for repair in recorded.repairs:
        click.echo(f"  note: {repair}")


@hazard.command("list")
@click.option("--class", "hazard_class", type=click.Choice(["SHA", "CHA"], case_sensitive=False))
@click.option("--all", "show_all", is_flag=True, help="Include hazards wholly released.")
@options.as_of
@click.pass_context
def list_(
    ctx: click.Context, hazard_class: str | None, show_all: bool, as_of: dt.date | None
) -> None:
    """List hazards with class, status and remaining area."""
    with engine(ctx).connect() as connection:
        states = hazards_as_of(connection, as_of or dt.date.today())
    shown = [
        s
        for s in states
        if (show_all or s.status == "active")
        and (hazard_class is None or s.hazard_class == hazard_class.upper())
    ]
    click.echo(f"{'national ID':<16} {'class':<5} {'status':<9} {'remaining ha':>14}")
    for state in shown:
        click.echo(
            f"{state.national_id:<16} {state.hazard_class:<5} {state.status:<9} "
            f"{ha(state.area_m2):>14,.4f}"
        )
    total = sum(s.area_m2 for s in shown)
    click.echo(f"{len(shown)} hazard(s), {format_area(total)} remaining")


@hazard.command("show")
@click.argument("national_id")
@click.pass_context
def show(ctx: click.Context, national_id: str) -> None:
    """Show one hazard and its ledger, event by event."""
    with engine(ctx).connect() as connection:
        row = connection.execute(
            text(
                """
                SELECT h.*, o.name AS organisation, p.national_id AS parent
                FROM hazards h LEFT JOIN organisations o ON o.id = h.organisation_id
                LEFT JOIN hazards p ON p.id = h.parent_id
                WHERE h.national_id = :n
                """
            ),
            {"n": national_id},
        ).first()
        if row is None:
            raise HazardNotFound(f"no hazard with national ID {national_id}")
        events = connection.execute(
            text(
                """
                SELECT e.effective_date, e.kind, e.sign, e.hazard_class, e.area_m2,
                       a.reference, r.national_id AS related, e.note, e.recorded_at
                FROM ledger_events e LEFT JOIN activities a ON a.id = e.activity_id
                LEFT JOIN hazards r ON r.id = e.related_hazard_id
                WHERE e.hazard_id = :id ORDER BY e.effective_date, e.id
                """
            ),
            {"id": row.id},
        ).all()
    click.echo(f"{row.national_id}  {row.name or ''}".rstrip())
    click.echo(f"  class {row.hazard_class}, {row.contamination}, {row.status}")
    click.echo(f"  remaining {format_area(row.area_m2)}")
    click.echo(f"  recorded {row.recorded_date} by {row.organisation or 'unknown organisation'}")
    if row.parent:
        click.echo(f"  from hazard {row.parent}")
    if row.marked_date or row.fenced_date:
        click.echo(f"  marked {row.marked_date or '-'}, fenced {row.fenced_date or '-'}")
    click.echo("  ledger:")
    for e in events:
        extra = " ".join(
            part
            for part in (
                f"activity {e.reference}" if e.reference else "",
                f"with {e.related}" if e.related else "",
                e.note or "",
            )
            if part
        )
        click.echo(
            f"    {e.effective_date}  {e.kind:<10} {'+' if e.sign > 0 else '-'}"
            f"{ha(e.area_m2):,.4f} ha {e.hazard_class}  {extra}".rstrip()
        )


@hazard.command("mark")
@click.argument("national_id")
@click.option("--marked", callback=options.parse_date, help="Date the perimeter was marked.")
@click.option("--fenced", callback=options.parse_date, help="Date it was fenced.")
@click.pass_context
def mark(
    ctx: click.Context, national_id: str, marked: dt.date | None, fenced: dt.date | None
) -> None:
    """Record that a hazard was marked and/or fenced."""
    if not marked and not fenced:
        raise click.UsageError("give --marked and/or --fenced")
    with transaction(engine(ctx)) as ledger:
        ledger.mark(national_id, marked=marked, fenced=fenced)
    click.echo(f"{national_id}: marked {marked or '-'}, fenced {fenced or '-'}")
