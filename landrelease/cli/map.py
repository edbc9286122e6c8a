"""``landrelease map``: write an offline contamination map (one self-contained HTML file)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import click

from landrelease.cli import context, options

DEFAULT_DIR = Path("maps")


def _default_out(region: str | None, as_of: dt.date) -> Path:
    slug = "".join(c if c.isalnum() else "-" for c in region).strip("-").lower() if region else ""
    name = f"contamination-{slug}-{as_of.isoformat()}" if slug else f"contamination-{as_of}"
    return DEFAULT_DIR / f"{name}.html"


@click.command(name="map")
@options.as_of
@click.option("--region", help="Limit the map to one region (code, or name when unique).")
@click.option(
    "--output",
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="HTML file to write [default: maps/contamination[-REGION]-DATE.html].",
)
@click.option("--title", help="Title shown in the legend and the browser tab.")
@click.option(
    "--basemap",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Local raster (orthophoto or hillshade GeoTIFF) embedded as the basemap.",
)
@click.option(
    "--online-tiles",
    metavar="URL",
    help="Tile URL template ({z}/{x}/{y}) offered as a basemap. Needs internet when viewed; "
    "the default map uses no network at all.",
)
@click.option("--tiles-attribution", help="Attribution text for --online-tiles.")
@click.option(
    "--detail-zoom",
    type=click.IntRange(6, 18),
    default=12,
    show_default=True,
    help="Zoom from which hazards are drawn as polygons (below: regions and dots).",
)
@click.pass_context
def map_command(
    ctx: click.Context,
    as_of: dt.date | None,
    region: str | None,
    out: Path | None,
    title: str | None,
    basemap: Path | None,
    online_tiles: str | None,
    tiles_attribution: str | None,
    detail_zoom: int,
) -> None:
    """Write an interactive map of remaining SHA/CHA and released land that opens offline.

    Leaflet and all code are inlined: copy the file to a field laptop and open it in a browser.
    """
    from landrelease.maps import MapOptions, build_map, raster_overlay

    as_of = as_of or dt.date.today()
    if tiles_attribution and not online_tiles:
        raise click.UsageError("--tiles-attribution needs --online-tiles")
    started = time.perf_counter()
    raster = raster_overlay(basemap) if basemap else None
    built = build_map(
        context.engine(ctx),
        MapOptions(
            as_of=as_of,
            region=region,
            title=title,
            detail_zoom=detail_zoom,
            raster=raster,
            tiles_url=online_tiles,
            tiles_attribution=tiles_attribution,
        ),
    )
    path = built.save(out or _default_out(region, as_of))
    seconds = time.perf_counter() - started
    size = path.stat().st_size
    click.echo(
        f"wrote {path} ({size / 1_000_000:,.1f} MB) in {seconds:.1f} s: "
        f"{built.hazards_drawn} hazards remaining, {built.pieces} released pieces, as of {as_of}"
    )
    if online_tiles:
        click.echo("note: the online tiles need internet; everything else works offline")
