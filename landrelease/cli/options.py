"""Options shared by several commands, each defined once so a flag means the same everywhere."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from landrelease.vocabulary import ItemType


def parse_date(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD") from None


def _parse_items(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[ItemType, tuple[int, int]]:
    items: dict[ItemType, tuple[int, int]] = {}
    known = ", ".join(t.value for t in ItemType)
    for value in values:
        name, sep, count = value.partition("=")
        try:
            item_type = ItemType(name.strip().upper())
        except ValueError:
            raise click.BadParameter(f"unknown item type {name!r}; one of {known}") from None
        found, _, destroyed = count.partition("/")
        if not sep or not found.strip().isdigit() or (destroyed and not destroyed.isdigit()):
            raise click.BadParameter(f"{value!r}: use TYPE=DESTROYED or TYPE=FOUND/DESTROYED")
        items[item_type] = (int(found), int(destroyed or found))
    return items


date = click.option(
    "--date",
    "effective_date",
    required=True,
    callback=parse_date,
    help="Effective date in the field (YYYY-MM-DD).",
)
as_of = click.option(
    "--as-of", callback=parse_date, help="Show the state as of this date (YYYY-MM-DD)."
)
geometry = click.option(
    "--geometry",
    "geometry_source",
    required=True,
    metavar="FILE|WKT",
    help="Polygon file (GeoJSON, shapefile, GeoPackage, KML...) or WKT; features are united.",
)
optional_geometry = click.option(
    "--geometry",
    "geometry_source",
    metavar="FILE|WKT",
    help="Polygon file or WKT (omit for the whole hazard).",
)
crs = click.option(
    "--crs", help="CRS of the geometry (e.g. EPSG:32634); required when the file has none."
)
layer = click.option(
    "--layer",
    help="Layer of a multi-layer file (GeoPackage, KML), or dataset of an archive of several "
    "(its path inside; DATASET:LAYER for a GeoPackage's layer).",
)
organisation = click.option("--organisation", help="Organisation that did the work.")
activity = click.option(
    "--activity",
    "activity_reference",
    metavar="REF",
    help="Report or task reference; the activity is created on first use.",
)
items = click.option(
    "--items",
    multiple=True,
    callback=_parse_items,
    metavar="TYPE=N",
    help="Items destroyed by type, e.g. SUBMUNITION=12 or AP_MINE=3/2 (found/destroyed). "
    "Repeatable.",
)
note = click.option("--note", help="Free-text note kept on the ledger event.")
report = click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the per-feature report to this .csv or .json file.",
)
