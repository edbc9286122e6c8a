"""``landrelease import`` and ``landrelease profile``: field files in, profiles checked.

The command only parses options, calls :func:`landrelease.ingest.import_file` and prints the
report; a refused file exits with status 1 after listing every problem.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import click
from tqdm import tqdm

from landrelease.cli import options
from landrelease.cli.context import engine
from landrelease.errors import LandReleaseError
from landrelease.ingest import (
    available_profiles,
    check_profile,
    import_file,
    load_profile,
)
from landrelease.ingest.apply import REFUSED_FILE
from landrelease.ingest.history import (
    applied_since,
    imported,
    imports,
    newest_import,
    problems_of,
)
from landrelease.ingest.profiles import DEFAULT_PROFILE, profile_path
from landrelease.ingest.read import sha256_of
from landrelease.ingest.report import (
    past_import,
    problem_counts,
    problems_table,
    report_target,
    summary,
    write_import_problems,
    write_report,
)

#: Files with fewer features than this import without a progress display.
PROGRESS_FROM = 1000

#: Problem rows the terminal shows by default; a longer list is cut, the most severe kept.
PROBLEM_ROWS = 50

#: Exit status of an import stopped by Ctrl-C (128 + SIGINT, as a shell reports it).
INTERRUPTED = 130

#: Seconds between redraws of the progress bars on a terminal.
REDRAW_S = 0.5


class _Progress:
    """A progress bar per stage on a terminal; plain lines otherwise (logs, pipes).

    Open bars are redrawn every :data:`REDRAW_S` seconds by a background thread, so a stage
    that reports only its start and its end (measuring at the commit) still shows its time
    running rather than a frozen bar.
    """

    def __init__(self) -> None:
        self.bars: dict[str, tqdm] = {}
        self.tty = sys.stderr.isatty()
        self.closed = threading.Event()
        self.redrawing: threading.Thread | None = None
        self.drawing = threading.Lock()  # a bar is never redrawn while it is updated or closed

    def __call__(self, stage: str, done: int, total: int) -> None:
        if total < PROGRESS_FROM:
            return
        if not self.tty:
            click.echo(f"{stage}: {done}/{total}", err=True)
            return
        with self.drawing:
            bar = self.bars.get(stage)
            if bar is None:
                bar = self.bars[stage] = tqdm(
                    total=total, desc=f"{stage:>8}", unit=" features", file=sys.stderr, leave=False
                )
                self._start_redrawing()
            bar.update(done - bar.n)
            if done >= total:
                bar.close()

    def _start_redrawing(self) -> None:
        if self.redrawing is None:
            self.redrawing = threading.Thread(target=self._redraw, daemon=True)
            self.redrawing.start()

    def _redraw(self) -> None:
        while not self.closed.wait(REDRAW_S):
            with self.drawing:
                for bar in self.bars.values():
                    bar.refresh()  # nothing for a closed bar

    def close(self) -> None:
        self.closed.set()
        if self.redrawing is not None:
            self.redrawing.join()
        with self.drawing:
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
@options.report
@click.option(
    "--problem-rows",
    type=click.IntRange(min=0),
    default=PROBLEM_ROWS,
    show_default=True,
    help="Problem rows shown in the terminal, the most severe first (0: all). "
    "The --report file has every row.",
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
    problem_rows: int,
) -> None:
    """Import FILE (shapefile/.zip, GeoPackage, GeoJSON, KML/KMZ, CSV) through the ledger.

    All or nothing: one refused feature and nothing is written. Importing the same file or
    the same activity references again changes nothing.
    """
    if report_path is not None:
        report_target(report_path)  # a bad report name is refused before anything is done
    with engine(ctx).connect() as connection:
        newest = newest_import(connection)
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
    except KeyboardInterrupt:
        result = None
    finally:
        progress.close()
    if result is None:
        click.echo(_interrupted(ctx, file, newest), err=True)
        ctx.exit(INTERRUPTED)
    table = problems_table(result.problems, limit=problem_rows or None)
    if table:
        click.echo(table)
        if problem_rows and len(result.problems) > problem_rows:
            click.echo(f"problems by kind:\n{problem_counts(result.problems)}")
            if report_path is None:
                click.echo(f"every row: {_where_every_row_is(result.import_id)}")
        click.echo()
    click.echo(summary(result))
    if report_path is not None:
        click.echo(f"report: {write_report(result, report_path)}")
    if result.status == REFUSED_FILE:
        ctx.exit(1)


def _interrupted(ctx: click.Context, file: Path, newest: int) -> str:
    """What an interrupted import left: nothing, unless Ctrl-C came as the commit finished
    (the interrupt is only seen once the commit returns), and then the import it made."""
    try:
        digest = sha256_of(file)
    except OSError:
        return "interrupted: see landrelease imports for whether the file was applied"
    with engine(ctx).connect() as connection:
        made = applied_since(connection, digest, newest)
    if made is not None:
        return f"interrupted after the commit: the file was applied as import #{made}"
    return "interrupted: nothing was imported (a file applies all or nothing)"


def _where_every_row_is(import_id: int | None) -> str:
    """How to see a cut table whole: an applied file kept its problems; others can run again."""
    if import_id is not None:
        return f"landrelease imports --problems {import_id} (--report FILE.csv to write them)"
    return "run the import again with --report FILE.csv (or .json)"


@click.command("imports")
@click.option(
    "--limit", type=click.IntRange(min=1), default=20, show_default=True, help="How many."
)
@click.option("--all", "show_all", is_flag=True, help="Every import, however many.")
@click.option(
    "--problems",
    "import_id",
    type=click.IntRange(min=1),
    metavar="ID",
    help="Show every problem kept with import ID (its warnings, repairs and skips).",
)
@options.report
@click.pass_context
def imports_command(
    ctx: click.Context,
    limit: int,
    show_all: bool,
    import_id: int | None,
    report_path: Path | None,
) -> None:
    """List the files imported, newest first, with what each changed in the ledger."""
    if import_id is not None:
        _show_problems(ctx, import_id, report_path)
        return
    if report_path is not None:
        raise click.UsageError("--report writes the problems of one import: give --problems ID")
    with engine(ctx).connect() as connection:
        records = imports(connection, limit=None if show_all else limit)
    if not records:
        click.echo("no file has been imported yet")
        return
    click.echo("\n".join(past_import(record) for record in records))


def _show_problems(ctx: click.Context, import_id: int, report_path: Path | None) -> None:
    """Print (or write to ``report_path``) the problems kept with one applied import."""
    if report_path is not None:
        report_target(report_path)
    with engine(ctx).connect() as connection:
        record = imported(connection, import_id)
        if record is None:
            raise LandReleaseError(f"there is no import #{import_id}; see landrelease imports")
        problems = problems_of(connection, import_id)
    click.echo(past_import(record))
    if problems is None:
        raise LandReleaseError(
            f"import #{import_id} was applied before imports kept their problems; its report "
            "was not stored"
        )
    if report_path is not None:
        click.echo(f"report: {write_import_problems(record, problems, report_path)}")
    elif problems:
        click.echo(problems_table(problems))
    else:
        click.echo("no problem was found in this file")


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
