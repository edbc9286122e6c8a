"""The reports landrelease writes: the annual report, the Lausanne Action Plan report, the demo's.

- :func:`annual_report`: the annual area table of a year (region x class), items destroyed,
  overlapping hazards and restatements of filed reports, with a chart of what remains.
- :func:`lap_report`: the Action Plan indicators: baseline and marking (18), work plan (19),
  remaining and released by year (24), efficiency (21), completion (25), with a burndown and a
  chart of land released by method.
- :func:`write_report` writes either in a format; :func:`write_demo_reports` writes the set the
  demo leaves behind.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from pathlib import Path

from sqlalchemy import Connection, Engine, text

from landrelease.errors import LandReleaseError
from landrelease.indicators import baseline as baseline_
from landrelease.indicators import completion as completion_
from landrelease.indicators import efficiency as efficiency_
from landrelease.indicators import progress as progress_
from landrelease.indicators import publish as publish_
from landrelease.indicators import workplan as workplan_
from landrelease.indicators.annual import CLASSES, AnnualTable, annual_table, year_bounds
from landrelease.indicators.regions import NATIONAL, regions_at_level
from landrelease.models import CheckMethod
from landrelease.reports import charts, export, tables
from landrelease.reports.model import Chart, Report, Table


class Format(str, Enum):
    """Where a report goes."""

    TERMINAL = "terminal"
    CSV = "csv"
    XLSX = "xlsx"
    HTML = "html"


def _remaining_chart(table: AnnualTable) -> Chart:
    rows = [r for r in table.rows if r.region.is_region and r.hazard_class in CLASSES]
    labels = list(dict.fromkeys(r.region.name for r in rows))
    stacks = {
        cls: [
            next(r.closing_m2 for r in rows if r.region.name == name and r.hazard_class == cls)
            for name in labels
        ]
        for cls in CLASSES
    }
    return Chart(
        "remaining",
        f"Remaining at the end of {table.year} by region (km²)",
        charts.stacked_bars_png(labels, stacks, f"Remaining at the end of {table.year}", "km²"),
    )


def annual_report(
    connection: Connection,
    year: int,
    *,
    level: int = 1,
    check: CheckMethod | str = CheckMethod.GEOMETRY,
) -> Report:
    """The annual report of ``year`` at admin ``level``, with restatements of filed years."""
    table = annual_table(connection, year, level=level, check=check)
    restated = publish_.restatements(connection, year, level=level, tables={year: table})
    unbalanced = len(table.unbalanced)
    return Report(
        name=f"annual_{year}_level{level}",
        title=f"Land release {year}: annual area table",
        subtitle=(
            f"Admin level {level}; areas in m² (km² beside in spreadsheets); check: "
            f"{table.check.value}; computed {dt.datetime.now():%Y-%m-%d %H:%M}"
        ),
        tables=[
            tables.annual(table),
            tables.items(table),
            tables.overlaps(table),
            tables.restatements(restated),
        ],
        charts=[_remaining_chart(table)],
        notes=["Every row balances." if not unbalanced else f"{unbalanced} row(s) do NOT balance."],
    )


def lap_report(
    connection: Connection,
    year: int,
    *,
    level: int = 1,
    baseline_date: dt.date,
    first_year: int | None = None,
    milestone: dt.date = baseline_.MILESTONE_2022,
    plan: str | None = None,
    teams: int | None = None,
    m2_per_team_year: float | None = None,
    recent_years: int = workplan_.RECENT_YEARS,
    check: CheckMethod | str = CheckMethod.LEDGER,
) -> Report:
    """Lausanne Action Plan indicators up to the end of ``year`` (Actions 18, 19, 21, 24, 25)."""
    regions_at_level(connection, level)  # a clear error before any work when the level is empty
    as_of = min(year_bounds(year)[1], dt.date.today())
    first = first_year if first_year is not None else year - 4
    if first > year:
        raise LandReleaseError(f"first year {first} is after {year}")
    years = list(range(first, year + 1))
    progress_rows = progress_.progress(connection, years, level=level, check=check)
    out: list[Table] = [
        tables.baseline(baseline_.baseline(connection, baseline_date, level=level), baseline_date),
        tables.marking(baseline_.marking(connection, [milestone, as_of], level=level)),
    ]
    chart_list: list[Chart] = []
    if plan is not None:
        report = workplan_.work_plan_report(
            connection,
            plan,
            as_of=as_of,
            recent_years=recent_years,
            teams=teams,
            m2_per_team_year=m2_per_team_year,
        )
        out.extend(tables.work_plan(report))
        chart_list.append(
            Chart(
                "burndown",
                f"Burndown: work plan {report.plan.name!r}",
                charts.burndown_png(report.burndown, f"Remaining area - {report.plan.name}"),
            )
        )
    out.append(tables.progress(progress_rows))
    out.append(tables.efficiency(efficiency_.efficiency(connection, years, level=level)))
    out.append(tables.completion(completion_.completion(connection, as_of, level=level)))
    national = [r for r in progress_rows if r.region == NATIONAL and r.hazard_class == "all"]
    chart_list.append(
        Chart(
            "released",
            "Land released by method per year (km²)",
            charts.stacked_bars_png(
                [str(r.year) for r in national],
                {
                    "cancelled": [r.cancelled_m2 for r in national],
                    "reduced": [r.reduced_m2 for r in national],
                    "cleared": [r.cleared_m2 for r in national],
                },
                "Land released by method",
                "km²",
            ),
        )
    )
    return Report(
        name=f"lap_{year}_level{level}",
        title=f"Lausanne Action Plan indicators, {first}-{year}",
        subtitle=f"Admin level {level}; as of {as_of}; baseline {baseline_date}",
        tables=out,
        charts=chart_list,
    )


def write_report(report: Report, fmt: Format | str, output: Path | None = None) -> list[Path]:
    """Write ``report`` as ``fmt`` to ``output`` (a folder for CSV, a file otherwise)."""
    fmt = Format(fmt)
    if fmt is Format.TERMINAL:
        raise LandReleaseError("the terminal view is printed, not written")
    if fmt is Format.CSV:
        folder = output or Path(report.name)
        return [*export.write_csv(report, folder), *export.write_charts(report, folder)]
    path = output or Path(f"{report.name}.{fmt.value}")
    if fmt is Format.XLSX:
        return [export.write_xlsx(report, path)]
    return [export.write_html(report, path)]


# -- the demo --------------------------------------------------------------------------------

DEMO_PLAN = "Demo work plan (invented targets)"
DEMO_DEADLINE = dt.date(2027, 3, 1)


def _demo_plan(connection: Connection, start: int) -> None:
    """An invented plan: what remained at the end of ``start - 1`` spread evenly to the deadline,
    per level-1 region, so the demo can show plan against actual and a burndown."""
    plan = workplan_.ensure_plan(connection, DEMO_PLAN, deadline=DEMO_DEADLINE)
    if workplan_.targets(connection, plan):
        return
    regions = regions_at_level(connection, 1)
    remaining = workplan_.remaining_union(connection, regions, year_bounds(start - 1)[1])
    years = list(range(start, DEMO_DEADLINE.year + 1))
    for region in regions:
        for year in years:
            share = max(remaining.get(region.id, 0.0), 0.0) / len(years)
            workplan_.set_target(connection, plan, year, round(share), region_code=region.code)


def write_demo_reports(engine: Engine, out_dir: Path) -> list[Path]:
    """The demo's reports for its data: annual tables (XLSX, CSV, HTML; the finest admin level
    too, as XLSX) and the Action Plan indicators (HTML, XLSX, charts as PNG).

    The last year with events is reported; the year before it is published first (so the
    report shows a filed year and would list its restatements), and an invented work plan is
    entered when the database has none, so Action 19 has something to compare.
    """
    with engine.begin() as connection:
        last = connection.execute(text("SELECT max(effective_date) FROM ledger_events")).scalar()
        first = connection.execute(text("SELECT min(effective_date) FROM ledger_events")).scalar()
        if last is None or first is None:
            raise LandReleaseError("the ledger is empty: nothing to report")
        year = last.year
        _demo_plan(connection, max(first.year + 1, year - 3))
        published = {p.year for p in publish_.publications(connection, level=1)}
        if year - 1 >= first.year and year - 1 not in published:
            publish_.publish(connection, year - 1, level=1, note="demo")
    written: list[Path] = []
    with engine.connect() as connection:
        annual = annual_report(connection, year, level=1)
        written += write_report(annual, Format.XLSX, out_dir / f"{annual.name}.xlsx")
        written += write_report(annual, Format.HTML, out_dir / f"{annual.name}.html")
        written += write_report(annual, Format.CSV, out_dir / annual.name)
        finest = connection.execute(text("SELECT max(admin_level) FROM regions")).scalar()
        if finest is not None and finest > 1:  # municipalities, in BiH: level 3
            detail = annual_report(connection, year, level=finest, check=CheckMethod.LEDGER)
            written += write_report(detail, Format.XLSX, out_dir / f"{detail.name}.xlsx")
        lap = lap_report(
            connection,
            year,
            level=1,
            baseline_date=dt.date(max(first.year, year - 7), 12, 31),
            first_year=min(year, max(first.year + 1, year - 6)),
            plan=DEMO_PLAN,
            teams=12,
            m2_per_team_year=150_000.0,
        )
        written += write_report(lap, Format.HTML, out_dir / f"{lap.name}.html")
        written += write_report(lap, Format.XLSX, out_dir / f"{lap.name}.xlsx")
        written += export.write_charts(lap, out_dir)
    return written


__all__ = [
    "DEMO_PLAN",
    "Format",
    "annual_report",
    "lap_report",
    "write_demo_reports",
    "write_report",
]
