"""``landrelease report``: annual tables and Lausanne Action Plan indicators, and publishing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from landrelease.cli import options
from landrelease.cli.context import engine
from landrelease.indicators import publish as publish_
from landrelease.indicators.workplan import parse_area
from landrelease.models import CheckMethod
from landrelease.reports import build, export
from landrelease.reports.model import Report

year_option = click.option("--year", type=int, required=True, help="Reporting year.")
level_option = click.option(
    "--level", type=int, default=1, show_default=True, help="Admin level of the region rows."
)
format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice([f.value for f in build.Format]),
    default=build.Format.TERMINAL.value,
    show_default=True,
    help="terminal (printed), csv (a folder of files), xlsx or html (one file).",
)
output_option = click.option(
    "--output",
    "--out",
    "output",
    type=click.Path(path_type=Path),
    help="File (xlsx, html) or folder (csv); default: the report's name in this folder.",
)


_F = TypeVar("_F", bound=Callable[..., object])


def check_option(default: CheckMethod) -> Callable[[_F], _F]:
    """The ``--check`` option, with the default that suits the command."""
    return click.option(
        "--check",
        type=click.Choice([c.value for c in CheckMethod]),
        default=default.value,
        show_default=True,
        help="How remaining area is computed, independently of the flows: geometry (the "
        "hazards as of each date, intersected with the regions) or ledger (fast).",
    )


def _emit(report: Report, fmt: str, output: Path | None) -> None:
    if fmt == build.Format.TERMINAL.value:
        click.echo(export.render_terminal(report))
        for note in report.notes:
            click.echo(note)
        return
    for path in build.write_report(report, fmt, output):
        click.echo(f"wrote {path}")


@click.group()
def report() -> None:
    """Annual tables and Lausanne Action Plan indicators, computed from the ledger."""


@report.command("annual")
@year_option
@level_option
@check_option(CheckMethod.GEOMETRY)
@format_option
@output_option
@click.pass_context
def annual(
    ctx: click.Context, year: int, level: int, check: str, fmt: str, output: Path | None
) -> None:
    """The annual area table of a year: region x class, flows, balance, items, restatements."""
    with engine(ctx).connect() as connection:
        made = build.annual_report(connection, year, level=level, check=CheckMethod(check))
    _emit(made, fmt, output)


@report.command("lap")
@year_option
@level_option
@click.option(
    "--baseline-date",
    required=True,
    callback=options.parse_date,
    help="Date of the Action 18 baseline (YYYY-MM-DD).",
)
@click.option("--first-year", type=int, help="First year of the series (default: year - 4).")
@click.option(
    "--milestone",
    callback=options.parse_date,
    default="2022-12-31",
    show_default=True,
    help="Marking and fencing milestone.",
)
@click.option("--plan", "plan_name", help="Work plan to compare (Action 19).")
@click.option("--teams", type=int, help="Capacity scenario: number of teams.")
@click.option(
    "--per-team",
    help="Capacity scenario: area one team releases in a year, e.g. 15ha or 150000.",
)
@click.option(
    "--recent-years", type=int, default=3, show_default=True, help="Years of the recent rate."
)
@check_option(CheckMethod.LEDGER)
@format_option
@output_option
@click.pass_context
def lap(
    ctx: click.Context,
    year: int,
    level: int,
    baseline_date: dt.date,
    first_year: int | None,
    milestone: dt.date,
    plan_name: str | None,
    teams: int | None,
    per_team: str | None,
    recent_years: int,
    check: str,
    fmt: str,
    output: Path | None,
) -> None:
    """Lausanne Action Plan indicators: Actions 18, 19, 21, 24 and 25."""
    if (teams is None) != (per_team is None):
        raise click.UsageError("a capacity scenario needs both --teams and --per-team")
    with engine(ctx).connect() as connection:
        made = build.lap_report(
            connection,
            year,
            level=level,
            baseline_date=baseline_date,
            first_year=first_year,
            milestone=milestone,
            plan=plan_name,
            teams=teams,
            m2_per_team_year=parse_area(per_team) if per_team else None,
            recent_years=recent_years,
            check=CheckMethod(check),
        )
    _emit(made, fmt, output)


@report.command("publish")
@year_option
@level_option
@check_option(CheckMethod.GEOMETRY)
@click.option("--note", help="A note kept with the filed report.")
@click.pass_context
def publish(ctx: click.Context, year: int, level: int, check: str, note: str | None) -> None:
    """Freeze a year's annual table as filed; later back-dated changes show as restatements."""
    with engine(ctx).begin() as connection:
        filed = publish_.publish(connection, year, level=level, check=CheckMethod(check), note=note)
    click.echo(
        f"published {filed.year} at admin level {filed.admin_level} "
        f"({len(filed.figures)} rows) on {filed.published_at:%Y-%m-%d %H:%M}"
    )


@report.command("published")
@click.option("--level", type=int, help="Only this admin level.")
@click.pass_context
def published(ctx: click.Context, level: int | None) -> None:
    """List the filed reports."""
    with engine(ctx).connect() as connection:
        filed = publish_.publications(connection, level=level)
    if not filed:
        click.echo("no report published yet")
    for p in filed:
        click.echo(
            f"{p.year}  level {p.admin_level}  filed {p.published_at:%Y-%m-%d %H:%M}  "
            f"check {p.check.value}  {p.note or ''}".rstrip()
        )
