"""``landrelease import`` and ``landrelease profile``: field files in, profiles checked.

The command only parses options, calls :func:`landrelease.ingest.import_file` and prints the
report; a refused file exits with status 1 after listing every problem.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from tqdm import tqdm

from landrelease.cli import options
from landrelease.cli.context import engine
from landrelease.ingest import (
    available_profiles,
    check_profile,
    import_file,
    load_profile,
)
from landrelease.ingest.apply import REFUSED_FILE
from landrelease.ingest.history import imports
from landrelease.ingest.profiles import DEFAULT_PROFILE, profile_path
from landrelease.ingest.report import (
    past_import,
    problems_table,
    report_target,
    summary,
    write_report,
)

#: Files with fewer features than this import without a progress display.
PROGRESS_FROM = 1000


class _Progress:
    """A progress bar per stage on a terminal; plain lines otherwise (logs, pipes)."""

    def __init__(self) -> None:
        self.bars: dict[str, tqdm] = {}
        self.tty = sys.stderr.isatty()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if total < PROGRESS_FROM:
            return
        if not self.tty:
            click.echo(f"{stage}: {done}/{total}", err=True)
            return
        bar = self.bars.get(stage)
        if bar is None:
            bar = self.bars[stage] = tqdm(
                total=total, desc=f"{stage:>8}", unit=" features", file=sys.stderr, leave=False
            )
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--profile",
    default=DEFAULT_PROFILE,
    show_default=True,
    help="Import profile: a name in etl/ or a YAML file.",
)
@options.layer
@click.option(
    "--crs", help="CRS of the file when it has none, or to override it (e.g. EPSG:32634)."
)
@click.option(
    "--encoding",
    help="Encoding of the text of a shapefile, CSV or GeoJSON (e.g. cp1250, UTF-8, utf-16).",
)
@click.option("--dry-run", is_flag=True, help="Check and compute everything; write nothing.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the per-feature report to this .csv or .json file.",
)
@click.pass_context
def import_command(
    ctx: click.Context,
    file: Path,
    profile: str,
    layer: str | None,
    crs: str | None,
    encoding: str | None,
    dry_run: bool,
    report_path: Path | None,
) -> None:
    """Import FILE (shapefile/.zip, GeoPackage, GeoJSON, KML/KMZ, CSV) through the ledger.

    All or nothing: one refused feature and nothing is written. Importing the same file or
    the same activity references again changes nothing.
    """
    if report_path is not None:
        report_target(report_path)  # a bad report name is refused before anything is done
    progress = _Progress()
    try:
        result = import_file(
            engine(ctx),
            file,
            profile=profile,
            layer=layer,
            crs=crs,
            encoding=encoding,
            dry_run=dry_run,
            progress=progress,
        )
    finally:
        progress.close()
    table = problems_table(result.problems)
    if table:
        click.echo(table)
        click.echo()
    click.echo(summary(result))
    if report_path is not None:
        click.echo(f"report: {write_report(result, report_path)}")
    if result.status == REFUSED_FILE:
        ctx.exit(1)


@click.command("imports")
@click.option(
    "--limit", type=click.IntRange(min=1), default=20, show_default=True, help="How many."
)
@click.option("--all", "show_all", is_flag=True, help="Every import, however many.")
@click.pass_context
def imports_command(ctx: click.Context, limit: int, show_all: bool) -> None:
    """List the files imported, newest first, with what each changed in the ledger."""
    with engine(ctx).connect() as connection:
        records = imports(connection, limit=None if show_all else limit)
    if not records:
        click.echo("no file has been imported yet")
        return
    click.echo("\n".join(past_import(record) for record in records))


@click.group()
def profile() -> None:
    """Import profiles (etl/*.yaml): list them, check them against the schema."""


@profile.command("list")
def list_profiles() -> None:
    """List the profiles in etl/ with their descriptions."""
    for name in available_profiles():
        click.echo(f"{name}: {load_profile(name).description}")


@profile.command("validate")
@click.argument("profiles", nargs=-1)
@click.pass_context
def validate(ctx: click.Context, profiles: tuple[str, ...]) -> None:
    """Check PROFILES (names or YAML files; default: every profile in etl/)."""
    failed = 0
    for name in profiles or tuple(available_profiles()):
        path = profile_path(name)
        problems, notes = check_profile(path)
        if problems:
            failed += 1
            click.echo(f"{path}: {len(problems)} problem(s)")
            for problem in problems:
                click.echo(f"  {problem}")
        else:
            click.echo(f"{path}: valid")
            for note in notes:
                click.echo(f"  note: {note}")
    if failed:
        ctx.exit(1)
