"""``landrelease regions``: load administrative boundaries and list what is loaded.

Every report is per region, and the import checks features against the loaded boundaries, so
a centre loads its boundaries first: its own files (any format GDAL reads, one file per admin
level), or the bundled Bosnia and Herzegovina boundaries for a trial.
"""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import text

from landrelease.cli.context import engine
from landrelease.db.statistics import refresh_statistics
from landrelease.errors import LandReleaseError
from landrelease.regions import load_bundled_regions, load_regions, regions_per_level
from landrelease.units import km2


@click.group()
def regions() -> None:
    """Load administrative boundaries (one file per level) and list them."""


@regions.command("load")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--level", type=click.IntRange(0, 9), help="Admin level of the file's units.")
@click.option(
    "--code-field",
    default="shapeID",
    show_default=True,
    help="Field holding each unit's stable code (its identity: names repeat).",
)
@click.option("--name-field", default="shapeName", show_default=True, help="Field of names.")
@click.option(
    "--bundled",
    is_flag=True,
    help="Load the shipped Bosnia and Herzegovina boundaries, levels 1 to 3, instead of PATH.",
)
@click.pass_context
def load(
    ctx: click.Context,
    path: Path | None,
    level: int | None,
    code_field: str,
    name_field: str,
    bundled: bool,
) -> None:
    """Load the units of boundary file PATH as regions of --level.

    All or nothing: one unit without a code, with a code given twice or with a boundary that
    cannot be repaired refuses the file. Codes already loaded are skipped, so loading a file
    again changes nothing. Ledger pieces already recorded are measured into the new regions.
    """
    if bundled == (path is not None):
        raise click.UsageError("give either PATH with --level, or --bundled")
    if path is not None and level is None:
        raise click.UsageError("--level is required with PATH")
    with engine(ctx).begin() as connection:
        if bundled:
            new = load_bundled_regions(connection)
        else:
            assert path is not None and level is not None
            new = {
                level: load_regions(
                    connection, path, level=level, code_field=code_field, name_field=name_field
                )
            }
        loaded = regions_per_level(connection)
    refresh_statistics(engine(ctx))  # event areas were written for every new region
    for lvl, count in sorted(new.items()):
        click.echo(f"level {lvl}: {count} new region(s), {loaded.get(lvl, 0)} loaded in all")


_LIST = text(
    """
    SELECT r.code, r.name, r.admin_level, p.code AS parent, r.area_m2
    FROM regions r LEFT JOIN regions p ON p.id = r.parent_id
    WHERE CAST(:level AS int) IS NULL OR r.admin_level = :level
    ORDER BY r.admin_level, r.code
    """
)


@regions.command("list")
@click.option("--level", type=click.IntRange(0, 9), help="Only this admin level.")
@click.pass_context
def list_regions(ctx: click.Context, level: int | None) -> None:
    """List the loaded regions: code, level, parent, area and name."""
    with engine(ctx).connect() as connection:
        rows = connection.execute(_LIST, {"level": level}).all()
    if not rows:
        raise LandReleaseError(
            "no regions are loaded"
            + ("" if level is None else f" at level {level}")
            + "; load them with `landrelease regions load FILE --level N`"
        )
    width = max(len(row.code) for row in rows)
    parent_width = max(len(row.parent or "-") for row in rows)
    for row in rows:
        click.echo(
            f"{row.code:<{width}}  {row.admin_level}  {row.parent or '-':<{parent_width}}  "
            f"{km2(row.area_m2):>10,.1f} km²  {row.name}"
        )
