"""The ``landrelease`` command: one module per command group, options shared in ``options``.

Commands only parse arguments, call the library and print; every :class:`LandReleaseError`
becomes a one-line error message and exit status 1, never a traceback.
"""

from __future__ import annotations

import click
from sqlalchemy.exc import SQLAlchemyError

from landrelease import __version__
from landrelease.errors import LandReleaseError


class LandReleaseGroup(click.Group):
    """A command group that turns library errors into clean CLI errors."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except LandReleaseError as exc:
            raise click.ClickException(str(exc)) from exc
        except SQLAlchemyError as exc:
            detail = getattr(exc, "orig", None) or exc
            raise click.ClickException(f"database error: {detail}") from exc


@click.group(cls=LandReleaseGroup)
@click.version_option(__version__, prog_name="landrelease")
def main() -> None:
    """Land-release information system: hazards, releases and reports from a PostGIS ledger."""


def _register() -> None:
    from landrelease.cli import db, demo, hazard, ingest, plan, release, report
    from landrelease.cli import map as map_cli

    main.add_command(db.db)
    main.add_command(hazard.hazard)
    main.add_command(release.release)
    main.add_command(demo.demo)
    main.add_command(map_cli.map_command)
    main.add_command(ingest.import_command)
    main.add_command(ingest.profile)
    main.add_command(report.report)
    main.add_command(plan.plan)


_register()
