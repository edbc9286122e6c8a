"""Published reports: an annual table frozen as filed, and restatements of it later.

The ledger lets any year be recomputed, which is exactly why a filed report must be frozen: a
clearance entered in March but dated last December changes last year's figures. Publishing
stores the table's rows as they were filed (``published_reports.figures``); every later report
recomputes each published year and lists, figure by figure, what no longer matches, as a
*restatement* with the filed value, the current value and the reason: the ledger events
recorded after publication and dated within the year (their kind, hazard, date and note).
Nothing is silently changed, and nothing filed is overwritten.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, text

from landrelease.errors import LandReleaseError
from landrelease.indicators.annual import (
    ALL_CLASSES,
    NUMERIC_FIELDS,
    AnnualRow,
    AnnualTable,
    annual_table,
    tolerance_m2,
    year_bounds,
)
from landrelease.indicators.regions import NATIONAL, OUTSIDE
from landrelease.models import CheckMethod


@dataclass(frozen=True)
class Publication:
    """One filed annual table."""

    id: int
    year: int
    admin_level: int
    published_at: dt.datetime
    last_event_id: int | None
    check: CheckMethod
    figures: list[dict[str, Any]]
    note: str | None


@dataclass(frozen=True)
class Restatement:
    """One figure of a filed report that the ledger now gives differently."""

    year: int
    published_at: dt.datetime
    region_code: str
    region_name: str
    hazard_class: str
    figure: str  # a field of AnnualRow, or "items:<TYPE>"
    filed: float
    current: float
    reasons: str

    @property
    def change(self) -> float:
        return self.current - self.filed


def row_figures(row: AnnualRow) -> dict[str, Any]:
    """The stored form of one table row: labels, every numeric field and the items."""
    figures: dict[str, Any] = {
        "region_code": row.region.code,
        "region_name": row.region.name,
        "hazard_class": row.hazard_class,
    }
    figures.update({name: getattr(row, name) for name in NUMERIC_FIELDS})
    figures["items"] = dict(sorted(row.items.items()))
    return figures


_PUBLICATIONS = text(
    """
    SELECT id, year, admin_level, published_at, last_event_id, check_method, figures, note
    FROM published_reports
    WHERE CAST(:level AS smallint) IS NULL OR admin_level = :level
    ORDER BY year, admin_level
    """
)


def _publication(row: Row[Any]) -> Publication:
    return Publication(
        id=row.id,
        year=row.year,
        admin_level=row.admin_level,
        published_at=row.published_at,
        last_event_id=row.last_event_id,
        check=CheckMethod(row.check_method),
        figures=list(row.figures),
        note=row.note,
    )


def publications(connection: Connection, *, level: int | None = None) -> list[Publication]:
    """Filed reports, oldest year first (at one admin level, or all)."""
    rows = connection.execute(_PUBLICATIONS, {"level": level}).all()
    return [_publication(row) for row in rows]


def publish(
    connection: Connection,
    year: int,
    *,
    level: int = 1,
    check: CheckMethod | str = CheckMethod.GEOMETRY,
    note: str | None = None,
    today: dt.date | None = None,
) -> Publication:
    """Freeze the annual table of ``year`` at ``level`` as filed; refused twice or too early."""
    today = today or dt.date.today()
    if year_bounds(year)[1] >= today:
        raise LandReleaseError(
            f"{year} is not over yet (today is {today}); a year is published once it has ended"
        )
    existing = [p for p in publications(connection, level=level) if p.year == year]
    if existing:
        raise LandReleaseError(
            f"the {year} report at admin level {level} was published on "
            f"{existing[0].published_at:%Y-%m-%d %H:%M}; a filed report is never replaced - "
            "later changes show as restatements in the next report"
        )
    with connection.begin_nested():
        table = annual_table(connection, year, level=level, check=check)
        last_event_id = connection.execute(text("SELECT max(id) FROM ledger_events")).scalar()
        row = connection.execute(
            text(
                """
                INSERT INTO published_reports (year, admin_level, last_event_id, check_method,
                                               figures, note)
                VALUES (:year, :level, :last, :check, CAST(:figures AS jsonb), :note)
                RETURNING id, year, admin_level, published_at, last_event_id, check_method,
                          figures, note
                """
            ),
            {
                "year": year,
                "level": level,
                "last": last_event_id,
                "check": table.check.value,
                "figures": json.dumps([row_figures(r) for r in table.rows]),
                "note": note,
            },
        ).one()
    return _publication(row)


# Events that can explain a restatement: dated within (or before the end of) the filed year,
# entered after it was filed, with the codes of the regions of the level they touch.
_LATER_EVENTS = text(
    """
    SELECT e.id, e.kind, e.sign, e.hazard_class, e.area_m2, e.effective_date, e.recorded_at,
           e.note, h.national_id,
           COALESCE(array_agg(r.code) FILTER (WHERE r.code IS NOT NULL), '{}') AS regions
    FROM ledger_events e
    JOIN hazards h ON h.id = e.hazard_id
    LEFT JOIN event_regions er ON er.event_id = e.id
    LEFT JOIN regions r ON r.id = er.region_id AND r.admin_level = :level
    WHERE e.effective_date <= :end
      AND (e.id > COALESCE(:last_id, 0) OR e.recorded_at > :published_at)
    GROUP BY e.id, h.national_id
    ORDER BY e.recorded_at, e.id
    """
)


def _describe(e: Row[Any]) -> str:
    verb = f"corrected ({'+' if e.sign > 0 else '-'})" if e.kind == "corrected" else e.kind
    said = (
        f"{verb} {e.area_m2:,.1f} m² of {e.national_id} ({e.hazard_class}) dated "
        f"{e.effective_date}, entered {e.recorded_at:%Y-%m-%d}"
    )
    return said + (f": {e.note}" if e.note else "")


def _reasons(events: Sequence[Row[Any]], region_code: str, hazard_class: str) -> str:
    matching = [
        e
        for e in events
        if (region_code in (NATIONAL.code, OUTSIDE.code) or region_code in e.regions)
        and hazard_class in (ALL_CLASSES, e.hazard_class)
    ]
    if not matching:
        return "no ledger event entered since publication explains this (regions reloaded?)"
    return "; ".join(_describe(e) for e in matching)


def _compare(
    filed: Mapping[str, Any], current: Mapping[str, Any]
) -> list[tuple[str, float, float]]:
    """Figures that differ beyond the balance tolerance (areas) or at all (counts, items)."""
    changed: list[tuple[str, float, float]] = []
    hazards = max(int(filed.get("closing_count", 0)), int(current.get("closing_count", 0))) + 1
    for name in NUMERIC_FIELDS:
        old = float(filed.get(name, 0.0))
        new = float(current.get(name, 0.0))
        limit = 0.5 if name.endswith("_count") else tolerance_m2(hazards, max(old, new))
        if abs(new - old) > limit:
            changed.append((name, old, new))
    old_items: Mapping[str, int] = filed.get("items", {})
    new_items: Mapping[str, int] = current.get("items", {})
    for item in sorted(set(old_items) | set(new_items)):
        if old_items.get(item, 0) != new_items.get(item, 0):
            changed.append((f"items:{item}", old_items.get(item, 0), new_items.get(item, 0)))
    return changed


def restatements(
    connection: Connection,
    up_to_year: int,
    *,
    level: int = 1,
    tables: Mapping[int, AnnualTable] | None = None,
) -> list[Restatement]:
    """Every figure of reports filed for years up to ``up_to_year`` that has since changed.

    ``tables`` may hold tables already computed (by year, same level and check) to reuse.
    """
    found: list[Restatement] = []
    for pub in publications(connection, level=level):
        if pub.year > up_to_year:
            continue
        table = (tables or {}).get(pub.year)
        if table is None or table.check is not pub.check or table.admin_level != level:
            table = annual_table(connection, pub.year, level=level, check=pub.check)
        current = {(f["region_code"], f["hazard_class"]): f for f in map(row_figures, table.rows)}
        filed = {(f["region_code"], f["hazard_class"]): f for f in pub.figures}
        events = connection.execute(
            _LATER_EVENTS,
            {
                "level": level,
                "end": year_bounds(pub.year)[1],
                "last_id": pub.last_event_id,
                "published_at": pub.published_at,
            },
        ).all()
        for key in sorted(set(filed) | set(current), key=_row_order):
            old = filed.get(key, {})
            new = current.get(key, {})
            label = new or old
            for figure, old_value, new_value in _compare(old, new):
                found.append(
                    Restatement(
                        year=pub.year,
                        published_at=pub.published_at,
                        region_code=str(label["region_code"]),
                        region_name=str(label["region_name"]),
                        hazard_class=str(label["hazard_class"]),
                        figure=figure,
                        filed=old_value,
                        current=new_value,
                        reasons=_reasons(events, str(key[0]), str(key[1])),
                    )
                )
    return found


def _row_order(key: tuple[object, object]) -> tuple[int, str, int]:
    """Regions by code, then the outside row, then the national totals; classes in order."""
    code, cls = str(key[0]), str(key[1])
    rank = {OUTSIDE.code: 1, NATIONAL.code: 2}.get(code, 0)
    return (rank, code, ("SHA", "CHA", ALL_CLASSES).index(cls) if cls in ("SHA", "CHA") else 2)


__all__ = ["Publication", "Restatement", "publications", "publish", "restatements", "row_figures"]
