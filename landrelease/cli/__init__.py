"""The ``landrelease`` command: one module per command group, options shared in ``options``.

Commands only parse arguments, call the library and print; every :class:`LandReleaseError`
becomes a one-line error message and exit status 1, never a traceback.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from functools import cache
from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError

from landrelease import __version__
from landrelease.errors import LandReleaseError

#: Command name -> (module, attribute). A command's module is imported only when the command
#: runs (or help lists it): reports pull in matplotlib and maps folium, and an officer importing
#: a monthly file should not wait for them to load.
COMMANDS: dict[str, tuple[str, str]] = {
    "db": ("landrelease.cli.db", "db"),
    "demo": ("landrelease.cli.demo", "demo"),
    "hazard": ("landrelease.cli.hazard", "hazard"),
    "import": ("landrelease.cli.ingest", "import_command"),
    "imports": ("landrelease.cli.ingest", "imports_command"),
    "map": ("landrelease.cli.map", "map_command"),
    "plan": ("landrelease.cli.plan", "plan"),
    "profile": ("landrelease.cli.ingest", "profile"),
    "regions": ("landrelease.cli.regions", "regions"),
    "release": ("landrelease.cli.release", "release"),
    "report": ("landrelease.cli.report", "report"),
}


class LandReleaseGroup(click.Group):
    """A command group that loads its commands on demand and turns library errors into clean
    CLI errors."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        module, attribute = COMMANDS[cmd_name]
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands with the first line of each one's docstring, read from its module's
        source: importing every command to ask it (matplotlib for reports, folium for maps)
        made ``landrelease --help`` take 2 s."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            doc = _docstring(*COMMANDS[name]) if name in COMMANDS else None
            if doc is None:  # not a plain function in its module: ask the command itself
                command = self.get_command(ctx, name)
                doc = command.help if command is not None else None
            rows.append((name, click.Command(name, help=doc).get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except LandReleaseError as exc:
            raise click.ClickException(str(exc)) from exc
        except SQLAlchemyError as exc:
            detail = getattr(exc, "orig", None) or exc
            raise click.ClickException(f"database error: {detail}") from exc


@cache
def _docstring(module: str, attribute: str) -> str | None:
    """The docstring of function ``attribute`` in ``module``, read without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return None
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == attribute:
            return ast.get_docstring(node)
    return None


@click.group(cls=LandReleaseGroup)
@click.version_option(__version__, prog_name="landrelease")
def main() -> None:
    """Land-release information system: hazards, releases and reports from a PostGIS ledger."""
