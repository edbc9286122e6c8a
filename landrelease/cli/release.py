"""``landrelease release``: cancel, reduce, clear, confirm, reopen and correct land."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import click

from landrelease.cli import options
from landrelease.cli.context import engine
from landrelease.geofile import read_polygon
from landrelease.release import METHOD_ACTIVITY, Ledger, Released, ReleaseRequest, transaction
from landrelease.units import format_area
from landrelease.vocabulary import EventKind, HazardClass, ItemType


@click.group()
def release() -> None:
    """Take land out of a hazard, or move it between SHA and CHA."""


def _activity(
    ledger: Ledger,
    method: EventKind,
    reference: str | None,
    organisation: str | None,
    when: dt.date,
    items: Mapping[ItemType, tuple[int, int]],
) -> int | None:
    """The activity behind a release: the one with this reference, or a new one."""
    if reference:
        existing = ledger.find_activity(reference)
        if existing is not None:
            if items:
                raise click.UsageError(
                    f"activity {reference} exists; its items were recorded with it"
                )
            return existing
    if not (reference or organisation or items):
        return None
    return ledger.add_activity(
        METHOD_ACTIVITY[method],
        reference=reference,
        organisation=organisation,
        start_date=when,
        end_date=when,
        items=items,
    )


def _report(result: Released) -> None:
    verb = result.method.value
    click.echo(f"{result.national_id}: {verb} {format_area(result.area_m2)}")
    if result.closed:
        click.echo(f"{result.national_id}: nothing remains; the hazard is closed as released")
    else:
        click.echo(f"{result.national_id}: remaining {format_area(result.remaining_m2)}")


def _release_command(method: EventKind, summary: str) -> click.Command:
    """Build one of cancel / reduce / clear: they differ only by method."""

    @click.argument("national_id")
    @options.geometry
    @options.crs
    @options.layer
    @options.date
    @options.activity
    @options.organisation
    @options.items
    @options.note
    @click.pass_context
    def command(
        ctx: click.Context,
        national_id: str,
        geometry_source: str,
        crs: str | None,
        layer: str | None,
        effective_date: dt.date,
        activity_reference: str | None,
        organisation: str | None,
        items: dict[ItemType, tuple[int, int]],
        note: str | None,
    ) -> None:
        geom, source_crs = read_polygon(geometry_source, crs=crs, layer=layer)
        with transaction(engine(ctx)) as ledger:
            activity_id = _activity(
                ledger, method, activity_reference, organisation, effective_date, items
            )
            result = ledger.release_many(
                [
                    ReleaseRequest(
                        national_id, method, geom, source_crs, effective_date, activity_id, note
                    )
                ]
            )[0]
        _report(result)

    command.__doc__ = summary
    name = {EventKind.CANCELLED: "cancel", EventKind.REDUCED: "reduce"}.get(method, "clear")
    return click.command(name)(command)


release.add_command(
    _release_command(
        EventKind.CANCELLED,
        "Cancel land of NATIONAL_ID through non-technical survey (no evidence found).",
    )
)
release.add_command(
    _release_command(
        EventKind.REDUCED, "Reduce land of NATIONAL_ID through technical survey (found free)."
    )
)
release.add_command(
    _release_command(
        EventKind.CLEARED, "Clear land of NATIONAL_ID (ordnance removed; give --items)."
    )
)


@release.command()
@click.argument("national_id")
@options.optional_geometry
@options.crs
@options.layer
@options.date
@click.option("--cha-id", help="National ID of the new CHA (default: NATIONAL_ID-C<n>).")
@options.note
@click.pass_context
def confirm(
    ctx: click.Context,
    national_id: str,
    geometry_source: str | None,
    crs: str | None,
    layer: str | None,
    effective_date: dt.date,
    cha_id: str | None,
    note: str | None,
) -> None:
    """Confirm SHA NATIONAL_ID as CHA: wholly, or the part given by --geometry."""
    geom, source_crs = (
        read_polygon(geometry_source, crs=crs, layer=layer) if geometry_source else (None, None)
    )
    with transaction(engine(ctx)) as ledger:
        result = ledger.confirm(
            national_id,
            geom,
            crs=source_crs,
            effective_date=effective_date,
            cha_national_id=cha_id,
            note=note,
        )
    if result.cha_national_id == national_id:
        click.echo(f"{national_id}: confirmed as CHA, {format_area(result.area_m2)}")
    else:
        click.echo(
            f"{national_id}: {format_area(result.area_m2)} confirmed as CHA "
            f"{result.cha_national_id}; SHA remaining {format_area(result.remaining_sha_m2)}"
        )


@release.command()
@click.argument("national_id")
@options.geometry
@options.crs
@options.layer
@options.date
@click.option("--new-id", required=True, help="National ID of the reopened hazard.")
@click.option(
    "--class",
    "hazard_class",
    default="CHA",
    show_default=True,
    type=click.Choice(["SHA", "CHA"], case_sensitive=False),
)
@options.note
@click.pass_context
def reopen(
    ctx: click.Context,
    national_id: str,
    geometry_source: str,
    crs: str | None,
    layer: str | None,
    effective_date: dt.date,
    new_id: str,
    hazard_class: str,
    note: str | None,
) -> None:
    """Record residual contamination found in land released from NATIONAL_ID."""
    geom, source_crs = read_polygon(geometry_source, crs=crs, layer=layer)
    with transaction(engine(ctx)) as ledger:
        result = ledger.reopen(
            national_id,
            geom,
            crs=source_crs,
            effective_date=effective_date,
            new_national_id=new_id,
            hazard_class=HazardClass(hazard_class.upper()),
            note=note,
        )
    click.echo(f"{result.national_id}: reopened from {national_id}, {format_area(result.area_m2)}")


@release.command()
@click.argument("national_id")
@options.geometry
@options.crs
@options.layer
@options.date
@click.option("--reason", required=True, help="Why the polygon is corrected (kept in the ledger).")
@click.pass_context
def correct(
    ctx: click.Context,
    national_id: str,
    geometry_source: str,
    crs: str | None,
    layer: str | None,
    effective_date: dt.date,
    reason: str,
) -> None:
    """Replace the remaining polygon of NATIONAL_ID, as an explicit correction."""
    geom, source_crs = read_polygon(geometry_source, crs=crs, layer=layer)
    with transaction(engine(ctx)) as ledger:
        added, removed = ledger.correct(
            national_id, geom, crs=source_crs, effective_date=effective_date, reason=reason
        )
    click.echo(
        f"{national_id}: corrected, {format_area(added)} added, {format_area(removed)} removed"
    )
