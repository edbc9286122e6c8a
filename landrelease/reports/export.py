"""Write a :class:`~landrelease.reports.model.Report` as CSV, XLSX, HTML or terminal text.

Every format reads the same description, so a figure is the same value everywhere; only its
presentation differs:

- **CSV**: one UTF-8 file per table (with a byte-order mark so spreadsheet programs read "m²"),
  areas in m² and km², percentages as numbers. Text cells that a spreadsheet would evaluate
  (starting with ``= + - @``, tab or carriage return) get a leading apostrophe, the usual
  defence against formula injection: a hazard named ``=HYPERLINK(...)`` stays text.
- **XLSX** (XlsxWriter): one formatted sheet per table, units in the headers, m² and km²,
  totals rows in bold, frozen headers. The workbook is opened with ``strings_to_formulas``,
  ``strings_to_urls`` and ``strings_to_numbers`` off, and data text is written with
  ``write_string``: text from the data never becomes a formula, a link or a number.
- **HTML**: one self-contained file (inline CSS, charts as base64 PNG, no script, nothing
  fetched), every value passed through :func:`html.escape`; it opens offline.
- **Terminal**: the brief columns of each table, areas in hectares.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import html
import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from landrelease.cells import inert_text
from landrelease.reports.model import Cell, Column, Kind, Report, Table
from landrelease.units import ha, km2


@dataclass(frozen=True)
class _OutColumn:
    """A column as the spreadsheet formats write it (an area becomes m² and km² columns)."""

    header: str
    column: Column
    convert: Callable[[Cell], Cell]
    number_format: str


def _identity(value: Cell) -> Cell:
    return value


def _to_km2(value: Cell) -> Cell:
    return km2(value) if isinstance(value, int | float) else value


def _unit(column: Column) -> str | None:
    if column.kind is Kind.INT:
        return column.unit or "count"
    if column.kind is Kind.RATIO:
        return "%"
    return column.unit


def _out_columns(table: Table) -> list[_OutColumn]:
    out: list[_OutColumn] = []
    for column in table.columns:
        if column.kind is Kind.AREA:
            out.append(_OutColumn(f"{column.title} (m²)", column, _identity, "#,##0.00"))
            out.append(_OutColumn(f"{column.title} (km²)", column, _to_km2, "#,##0.000000"))
            continue
        unit = _unit(column)
        header = f"{column.title} ({unit})" if unit else column.title
        number_format = {
            Kind.INT: "#,##0",
            Kind.RATIO: "0.0%",
            Kind.NUMBER: "#,##0.00",
            Kind.DATE: "yyyy-mm-dd",
            Kind.YEAR: "0",
        }.get(column.kind, "@")
        out.append(_OutColumn(header, column, _identity, number_format))
    return out


def _clean_number(value: float) -> float:
    """No negative zero in a report (it reads as a sign error)."""
    return 0.0 if value == 0 else value


# -- CSV -------------------------------------------------------------------------------------


def _csv_cell(value: Cell, column: Column) -> str:
    if value is None:
        return ""
    if column.kind is Kind.TEXT:
        return inert_text(str(value))
    if isinstance(value, dt.date):
        return value.isoformat()
    if column.kind is Kind.RATIO and isinstance(value, int | float):
        return repr(_clean_number(float(value) * 100))
    if isinstance(value, float):
        return repr(_clean_number(value)) if math.isfinite(value) else ""
    return str(value)


def write_csv(report: Report, folder: Path) -> list[Path]:
    """One CSV per table, ``<report>_<table>.csv`` in ``folder``; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for table in report.tables:
        path = folder / f"{report.name}_{table.name}.csv"
        columns = _out_columns(table)
        with path.open("w", newline="", encoding="utf-8-sig") as handle:
            writer = csv.writer(handle)
            writer.writerow([c.header for c in columns])
            for row in [*table.rows, *table.totals]:
                values = _expand(table, row)
                writer.writerow(
                    [
                        _csv_cell(c.convert(v), c.column)
                        for c, v in zip(columns, values, strict=True)
                    ]
                )
        written.append(path)
    return written


def _expand(table: Table, row: Sequence[Cell]) -> list[Cell]:
    """A row's values aligned with the output columns (an area's value twice)."""
    values: list[Cell] = []
    for column, value in zip(table.columns, row, strict=True):
        values.extend([value, value] if column.kind is Kind.AREA else [value])
    return values


# -- XLSX ------------------------------------------------------------------------------------

_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\']")


def _sheet_name(name: str, taken: set[str]) -> str:
    base = _SHEET_NAME_BAD.sub("_", name)[:31] or "table"
    candidate, n = base, 2
    while candidate.lower() in taken:
        suffix = f"_{n}"
        candidate, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(candidate.lower())
    return candidate


def write_xlsx(report: Report, path: Path) -> Path:
    """One formatted sheet per table; text from the data is always written as text."""
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(
        str(path),
        {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False},
    )
    try:
        title = workbook.add_format({"bold": True, "font_size": 14})
        header = workbook.add_format(
            {"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#DDE6EE", "border": 1}
        )
        note = workbook.add_format({"italic": True, "font_color": "#555555"})
        formats: dict[tuple[str, bool], Format] = {}

        def cell_format(number_format: str, bold: bool) -> Format:
            key = (number_format, bold)
            if key not in formats:
                formats[key] = workbook.add_format({"num_format": number_format, "bold": bold})
            return formats[key]

        taken: set[str] = set()
        for table in report.tables:
            sheet = workbook.add_worksheet(_sheet_name(table.name, taken))
            columns = _out_columns(table)
            sheet.write_string(0, 0, table.title, title)
            sheet.write_string(1, 0, report.subtitle, note)
            top = 3
            for j, column in enumerate(columns):
                sheet.write_string(top, j, column.header, header)
                width = max(10, min(40, len(column.header) + 2))
                sheet.set_column(j, j, width)
            line = top + 1
            for bold, rows in ((False, table.rows), (True, table.totals)):
                for row in rows:
                    values = _expand(table, row)
                    for j, (column, value) in enumerate(zip(columns, values, strict=True)):
                        fmt = cell_format(column.number_format, bold)
                        _write_cell(sheet, line, j, column.convert(value), column.column, fmt)
                    line += 1
            if table.rows:
                sheet.autofilter(top, 0, top + len(table.rows), len(columns) - 1)
            text_columns = sum(1 for c in table.columns if c.kind is Kind.TEXT)
            sheet.freeze_panes(top + 1, min(text_columns, 2))
            for k, text in enumerate(table.notes):
                sheet.write_string(line + 1 + k, 0, text, note)
        if report.charts:
            charts_sheet = workbook.add_worksheet(_sheet_name("charts", taken))
            for k, chart in enumerate(report.charts):
                charts_sheet.write_string(26 * k, 0, chart.title, title)
                charts_sheet.insert_image(
                    26 * k + 1, 0, f"{chart.name}.png", {"image_data": io.BytesIO(chart.png)}
                )
    finally:
        workbook.close()
    return path


def _write_cell(
    sheet: Worksheet, row: int, col: int, value: Cell, column: Column, fmt: Format
) -> None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        sheet.write_blank(row, col, None, fmt)
    elif column.kind is Kind.TEXT or isinstance(value, str):
        sheet.write_string(row, col, str(value), fmt)
    elif isinstance(value, dt.date):
        sheet.write_datetime(row, col, dt.datetime.combine(value, dt.time()), fmt)
    else:
        sheet.write_number(row, col, _clean_number(float(value)), fmt)


# -- HTML ------------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
h1 { margin-bottom: 0.2em; } .subtitle { color: #555; margin-top: 0; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; }
th { background: #dde6ee; vertical-align: bottom; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tfoot td { font-weight: bold; background: #f4f4f4; }
td.bad { background: #f8d0d0; font-weight: bold; }
.unit { font-weight: normal; color: #555; }
.note { color: #555; font-size: 0.85em; }
figure { margin: 1em 0; } img { max-width: 100%; }
"""


def _format(value: Cell, column: Column) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if column.kind is Kind.AREA and isinstance(value, int | float):
        return f"{_clean_number(float(value)):,.1f}"
    if column.kind is Kind.RATIO and isinstance(value, int | float):
        return f"{value:.1%}"
    if column.kind is Kind.NUMBER and isinstance(value, int | float):
        return f"{value:,.2f}"
    if column.kind is Kind.INT and isinstance(value, int | float):
        return f"{int(value):,}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _html_header(column: Column) -> str:
    unit = "m²" if column.kind is Kind.AREA else _unit(column)
    label = html.escape(column.title)
    return (
        f"<th>{label}"
        + (f'<br><span class="unit">{html.escape(unit)}</span>' if unit else "")
        + "</th>"
    )


def _html_row(row: Sequence[Cell], columns: Sequence[Column]) -> str:
    cells = []
    for value, column in zip(row, columns, strict=True):
        shown = html.escape(_format(value, column), quote=True)
        classes = [] if column.kind in (Kind.TEXT, Kind.DATE) else ["num"]
        if column.key == "balance" and value not in (None, "ok"):
            classes.append("bad")
        title = ""
        if column.kind is Kind.AREA and isinstance(value, int | float):
            title = f' title="{km2(float(value)):,.6f} km²"'
        cls = f' class="{" ".join(classes)}"' if classes else ""
        cells.append(f"<td{cls}{title}>{shown}</td>")
    return "<tr>" + "".join(cells) + "</tr>"


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(report.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(report.title)}</h1>",
        f'<p class="subtitle">{e(report.subtitle)}</p>',
        "<nav>"
        + "".join(f'<a href="#{e(t.name)}">{e(t.title)}</a>' for t in report.tables)
        + "".join(f'<a href="#{e(c.name)}">{e(c.title)}</a>' for c in report.charts)
        + "</nav>",
    ]
    parts.extend(f'<p class="note">{e(n)}</p>' for n in report.notes)
    for table in report.tables:
        parts.append(f'<section id="{e(table.name)}"><h2>{e(table.title)}</h2>')
        parts.append("<table><thead><tr>")
        parts.extend(_html_header(c) for c in table.columns)
        parts.append("</tr></thead><tbody>")
        parts.extend(_html_row(row, table.columns) for row in table.rows)
        parts.append("</tbody>")
        if table.totals:
            parts.append("<tfoot>")
            parts.extend(_html_row(row, table.columns) for row in table.totals)
            parts.append("</tfoot>")
        parts.append("</table>")
        parts.extend(f'<p class="note">{e(n)}</p>' for n in table.notes)
        parts.append("</section>")
    for chart in report.charts:
        data = base64.b64encode(chart.png).decode("ascii")
        parts.append(
            f'<section id="{e(chart.name)}"><h2>{e(chart.title)}</h2><figure>'
            f'<img alt="{e(chart.title)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{e(chart.title)}</figcaption></figure></section>"
        )
    parts.append("</body></html>")
    return "\n".join(parts)


def write_html(report: Report, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
    return path


def write_charts(report: Report, folder: Path) -> list[Path]:
    """Each chart as ``<report>_<chart>.png`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for chart in report.charts:
        path = folder / f"{report.name}_{chart.name}.png"
        path.write_bytes(chart.png)
        written.append(path)
    return written


# -- terminal --------------------------------------------------------------------------------


def _terminal_cell(value: Cell, column: Column) -> str:
    if column.kind is Kind.AREA and isinstance(value, int | float):
        return f"{_clean_number(ha(float(value))):,.2f}"
    return _format(value, column)


def _align(cells: Sequence[str], widths: Sequence[int], columns: Sequence[Column]) -> str:
    return "  ".join(
        cell.ljust(w) if col.kind is Kind.TEXT else cell.rjust(w)
        for cell, w, col in zip(cells, widths, columns, strict=True)
    ).rstrip()


def render_terminal(report: Report) -> str:
    """The brief columns of every table, aligned, areas in hectares."""
    lines = [report.title, report.subtitle, ""]
    for table in report.tables:
        columns = [c for c in table.columns if c.brief]
        keep = [i for i, c in enumerate(table.columns) if c.brief]
        heads = [
            c.title + (" (ha)" if c.kind is Kind.AREA else f" ({_unit(c)})" if _unit(c) else "")
            for c in columns
        ]
        body = [[_terminal_cell(row[i], table.columns[i]) for i in keep] for row in table.rows]
        foot = [[_terminal_cell(row[i], table.columns[i]) for i in keep] for row in table.totals]
        widths = [max([len(h), *(len(r[j]) for r in [*body, *foot])]) for j, h in enumerate(heads)]

        head = _align(heads, widths, columns)
        lines += [table.title, head, "-" * len(head)]
        lines += [_align(r, widths, columns) for r in body]
        if foot:
            lines += ["=" * len(head), *(_align(r, widths, columns) for r in foot)]
        lines += [f"  {n}" for n in table.notes]
        lines.append("")
    return "\n".join(lines)


__all__ = [
    "render_html",
    "render_terminal",
    "write_charts",
    "write_csv",
    "write_html",
    "write_xlsx",
]
