"""Reports written as XLSX, CSV, HTML and text: same figures everywhere, data text stays text.

Hazard names are hostile on purpose: ``=HYPERLINK("x")`` (a spreadsheet formula) and
``<script>alert(1)</script>`` (HTML). The two hazards overlap, so both names appear in the
overlapping-hazards table; the region name carries markup too.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from conftest import empty
from shapely.geometry import Polygon, box
from sqlalchemy import Engine, text

from landrelease.cli import main
from landrelease.indicators.annual import FLOW_FIELDS, annual_table
from landrelease.release import transaction
from landrelease.reports.build import annual_report, write_demo_reports, write_report
from landrelease.reports.export import render_html, render_terminal
from landrelease.reports.tables import FIGURE_TITLES
from landrelease.vocabulary import ActivityKind, HazardClass, ItemType

pytestmark = pytest.mark.db

TODAY = dt.date(2025, 3, 1)
FORMULA = '=HYPERLINK("x")'
SCRIPT = "<script>alert(1)</script>"
REGION_NAME = 'Zone <b>"A"</b> & co'
AREA_FIELDS = ("opening_m2", *FLOW_FIELDS, "closing_m2")


def rect(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    return box(x0, y0, x1, y1).segmentize(0.0005)


@pytest.fixture
def reported(db: Engine) -> Engine:
    empty(db)
    with db.begin() as c:
        c.execute(text("TRUNCATE published_reports, work_plans CASCADE"))
        for code, name, bounds in (
            ("A", REGION_NAME, (20.0, 45.0, 20.1, 45.1)),
            ("B", "Region B", (20.1, 45.0, 20.2, 45.1)),
        ):
            c.execute(
                text(
                    "INSERT INTO regions (code, name, admin_level, geom, area_m2)"
                    " SELECT :code, :name, 1, g, lr_area_m2(g)"
                    " FROM (SELECT ST_Multi(ST_GeomFromText(:wkt, 4326)) AS g) s"
                ),
                {"code": code, "name": name, "wkt": rect(*bounds).wkt},
            )
    with transaction(db, today=TODAY) as ledger:
        w = {"crs": 4326, "recorded_date": dt.date(2023, 5, 1)}
        ledger.record("H1", HazardClass.SHA, rect(20.02, 45.02, 20.05, 45.05), name=FORMULA, **w)
        ledger.record("H2", HazardClass.SHA, rect(20.04, 45.04, 20.07, 45.07), name=SCRIPT, **w)
        ledger.record("H3", HazardClass.CHA, rect(20.09, 45.02, 20.12, 45.04), **w)
        activity = ledger.add_activity(
            ActivityKind.CLEARANCE,
            reference="CL-1",
            items={ItemType.AT_MINE: 4, ItemType.UXO: 7},
        )
        ledger.clear(
            "H3",
            rect(20.09, 45.02, 20.11, 45.03),
            crs=4326,
            effective_date=dt.date(2024, 6, 1),
            activity_id=activity,
        )
        ledger.cancel(
            "H1", rect(20.02, 45.02, 20.03, 45.05), crs=4326, effective_date=dt.date(2024, 7, 1)
        )
    return db


def _sheet_rows(path: Path, sheet: str) -> tuple[list[str], list[tuple[object, ...]], list[bool]]:
    book = openpyxl.load_workbook(path)
    ws = book[sheet]
    header = [c.value for c in ws[4]]
    rows, bold = [], []
    for cells in ws.iter_rows(min_row=5):
        if cells[0].value is None:
            break
        rows.append(tuple(c.value for c in cells))
        bold.append(bool(cells[0].font.bold))
    return header, rows, bold


def test_xlsx_read_back_equals_the_database_figures(reported: Engine, tmp_path: Path) -> None:
    with reported.connect() as c:
        report = annual_report(c, 2024, level=1)
        table = annual_table(c, 2024, level=1)
        recorded = c.execute(
            text("SELECT sum(area_m2) FROM ledger_events WHERE kind = 'cleared'")
        ).scalar_one()
    (path,) = write_report(report, "xlsx", tmp_path / "annual.xlsx")
    header, rows, bold = _sheet_rows(path, "annual")
    assert "Remaining at start (m²)" in header and "Remaining at start (km²)" in header
    assert "Cleared (m²)" in header and "Cleared (km²)" in header
    assert len(rows) == len(table.rows)
    for expected, got, is_bold in zip(table.rows, rows, bold, strict=True):
        cell = dict(zip(header, got, strict=True))
        assert cell["Region code"] == expected.region.code
        assert cell["Region"] == expected.region.name
        assert cell["Class"] == expected.hazard_class
        assert is_bold == (expected.region.code == "TOTAL")  # totals rows in bold
        assert cell["Hazards at end (count)"] == expected.closing_count
        for name in AREA_FIELDS:
            title = FIGURE_TITLES[name]
            # Spreadsheets keep 15 significant digits (Excel's precision); XlsxWriter too.
            assert cell[f"{title} (m²)"] == pytest.approx(getattr(expected, name), rel=1e-14)
            assert cell[f"{title} (km²)"] == pytest.approx(getattr(expected, name) / 1e6, rel=1e-12)
    national = dict(zip(header, rows[-1], strict=True))
    assert national["Cleared (m²)"] == pytest.approx(recorded, rel=1e-12)

    items_header, item_rows, _ = _sheet_rows(path, "items")
    national_items = dict(zip(items_header, item_rows[-1], strict=True))
    assert national_items["AT mines (count)"] == 4 and national_items["UXO (count)"] == 7


def test_hostile_names_stay_text_in_every_format(reported: Engine, tmp_path: Path) -> None:
    with reported.connect() as c:
        report = annual_report(c, 2024, level=1)
    (xlsx,) = write_report(report, "xlsx", tmp_path / "annual.xlsx")
    book = openpyxl.load_workbook(xlsx)
    cells = [c for ws in book.worksheets for row in ws.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]  # no formula anywhere
    overlap = book["overlaps"]
    names = {overlap.cell(row=5, column=2).value, overlap.cell(row=5, column=5).value}
    assert names == {FORMULA, SCRIPT}
    assert all(overlap.cell(row=5, column=k).data_type == "s" for k in (2, 5))
    assert REGION_NAME in [c.value for c in cells]

    files = write_report(report, "csv", tmp_path / "csv")
    by_name = {p.name: p for p in files}
    with by_name["annual_2024_level1_overlaps.csv"].open(encoding="utf-8-sig") as handle:
        header, first = list(csv.reader(handle))[:2]
    row = dict(zip(header, first, strict=True))
    assert {row["Name"], row["Its name"]} == {"'" + FORMULA, SCRIPT}  # the formula is defused
    assert "annual_2024_level1_remaining.png" in by_name

    page = render_html(report)
    assert SCRIPT not in page and "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "=HYPERLINK(&quot;x&quot;)" in page
    assert "Zone &lt;b&gt;&quot;A&quot;&lt;/b&gt; &amp; co" in page
    assert "http://" not in page and "https://" not in page  # opens offline
    assert 'src="data:image/png;base64,' in page


def test_csv_figures_equal_the_table(reported: Engine, tmp_path: Path) -> None:
    with reported.connect() as c:
        report = annual_report(c, 2024, level=1)
        table = annual_table(c, 2024, level=1)
    files = write_report(report, "csv", tmp_path / "csv")
    annual = next(p for p in files if p.name == "annual_2024_level1_annual.csv")
    with annual.open(encoding="utf-8-sig") as handle:
        header, *rows = list(csv.reader(handle))
    assert len(rows) == len(table.rows)
    for expected, got in zip(table.rows, rows, strict=True):
        cell = dict(zip(header, got, strict=True))
        assert float(cell["Cleared (m²)"]) == expected.cleared_m2
        assert float(cell["Remaining at end (m²)"]) == expected.closing_m2
        assert int(cell["Hazards at end (count)"]) == expected.closing_count
        assert cell["Balance"] == "ok"


def test_terminal_view_and_cli(
    reported: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with reported.connect() as c:
        shown = render_terminal(annual_report(c, 2024, level=1))
    assert "Annual area table 2024, admin level 1" in shown
    assert REGION_NAME in shown and "TOTAL" not in shown.split("====")[0].splitlines()[-1]
    monkeypatch.setenv(
        "LANDRELEASE_DATABASE_URL", reported.url.render_as_string(hide_password=False)
    )
    runner = CliRunner()
    out = tmp_path / "cli.xlsx"
    result = runner.invoke(
        main,
        [
            "report",
            "annual",
            "--year",
            "2024",
            "--level",
            "1",
            "--format",
            "xlsx",
            "--output",
            str(out),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert out.is_file() and f"wrote {out}" in result.output
    result = runner.invoke(main, ["report", "annual", "--year", "2024"], catch_exceptions=False)
    assert result.exit_code == 0 and "Every row balances." in result.output
    result = runner.invoke(main, ["report", "annual", "--year", "2024", "--level", "7"])
    assert result.exit_code == 1 and "no regions at admin level 7" in result.output


def test_demo_reports_are_written_for_any_ledger(reported: Engine, tmp_path: Path) -> None:
    written = write_demo_reports(reported, tmp_path)
    names = {p.relative_to(tmp_path).as_posix() for p in written}
    assert {
        "annual_2024_level1.xlsx",
        "annual_2024_level1.html",
        "annual_2024_level1/annual_2024_level1_annual.csv",
        "lap_2024_level1.html",
        "lap_2024_level1.xlsx",
        "lap_2024_level1_burndown.png",
    } <= names
    assert all(p.stat().st_size > 0 for p in written)
    book = openpyxl.load_workbook(tmp_path / "lap_2024_level1.xlsx")
    assert {"baseline", "marking", "plan_vs_actual", "outlook", "progress"} <= set(book.sheetnames)
    with reported.connect() as c:
        filed = c.execute(text("SELECT year, admin_level FROM published_reports")).all()
    assert [tuple(row) for row in filed] == [(2023, 1)]  # the year before the last, filed
    again = write_demo_reports(reported, tmp_path)  # a second run files nothing twice
    assert len(again) == len(written)
