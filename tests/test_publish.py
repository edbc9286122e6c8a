"""Publishing freezes a year's table; a later back-dated change shows as a restatement.

The figures expected are areas of rectangles computed here with ``pyproj.Geod``.
"""

from __future__ import annotations

import datetime as dt

import pytest
import shapely
from conftest import empty
from pyproj import Geod
from shapely.geometry import Polygon, box
from sqlalchemy import Engine, text

from landrelease.errors import LandReleaseError
from landrelease.indicators.annual import annual_table
from landrelease.indicators.publish import publications, publish, restatements
from landrelease.release import transaction
from landrelease.reports.build import annual_report
from landrelease.vocabulary import ActivityKind, HazardClass, ItemType

pytestmark = pytest.mark.db

GEOD = Geod(ellps="WGS84")
TODAY = dt.date(2025, 3, 1)
REGION = (20.0, 45.0, 20.1, 45.1)
H1 = (20.02, 45.02, 20.04, 45.04)
FIRST = (20.02, 45.02, 20.025, 45.04)  # cleared 2023-06-01, before publication
LATE = (20.03, 45.02, 20.035, 45.04)  # cleared, dated 2023-11-15, entered after publication
NEXT = (20.035, 45.02, 20.04, 45.04)  # cleared 2024-05-01: not a restatement of 2023


def rect(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    return box(x0, y0, x1, y1).segmentize(0.0001)


def g(bounds: tuple[float, float, float, float]) -> float:
    area, _ = GEOD.geometry_area_perimeter(shapely.orient_polygons(rect(*bounds)))
    return area


@pytest.fixture
def ledger_2023(db: Engine) -> Engine:
    """Region A, hazard H1 recorded and partly cleared in 2023 (with items)."""
    empty(db)
    with db.begin() as c:
        c.execute(text("TRUNCATE published_reports, work_plans CASCADE"))
        c.execute(
            text(
                "INSERT INTO regions (code, name, admin_level, geom, area_m2)"
                " SELECT 'A', 'Region A', 1, g, lr_area_m2(g)"
                " FROM (SELECT ST_Multi(ST_GeomFromText(:wkt, 4326)) AS g) s"
            ),
            {"wkt": rect(*REGION).wkt},
        )
    with transaction(db, today=TODAY) as ledger:
        ledger.record("H1", HazardClass.SHA, rect(*H1), crs=4326, recorded_date=dt.date(2023, 2, 1))
        activity = ledger.add_activity(
            ActivityKind.CLEARANCE, reference="CL-1", items={ItemType.SUBMUNITION: 3}
        )
        ledger.clear(
            "H1", rect(*FIRST), crs=4326, effective_date=dt.date(2023, 6, 1), activity_id=activity
        )
    return db


def test_back_dated_clearance_is_a_restatement_of_the_filed_year(ledger_2023: Engine) -> None:
    db = ledger_2023
    with db.begin() as c:
        filed = publish(c, 2023, level=1, today=dt.date(2024, 2, 1))
    frozen = {(f["region_code"], f["hazard_class"]): f for f in filed.figures}
    assert frozen[("A", "SHA")]["cleared_m2"] == pytest.approx(g(FIRST), rel=1e-7)
    assert frozen[("A", "SHA")]["items"] == {"SUBMUNITION": 3}

    with transaction(db, today=TODAY) as ledger:
        ledger.clear(
            "H1",
            rect(*LATE),
            crs=4326,
            effective_date=dt.date(2023, 11, 15),
            note="late report from team 4",
        )
        ledger.clear("H1", rect(*NEXT), crs=4326, effective_date=dt.date(2024, 5, 1))

    with db.connect() as c:
        found = restatements(c, 2024, level=1)
        report = annual_report(c, 2024, level=1)
        # The filed figures did not move.
        assert publications(c)[0].figures == filed.figures
        opening_2024 = annual_table(c, 2024, level=1).national("SHA").opening_m2

    by_key = {(r.region_code, r.hazard_class, r.figure): r for r in found}
    for code in ("A", "TOTAL"):
        for cls in ("SHA", "all"):
            cleared = by_key[(code, cls, "cleared_m2")]
            assert cleared.year == 2023
            assert cleared.filed == pytest.approx(g(FIRST), rel=1e-7)
            assert cleared.current == pytest.approx(g(FIRST) + g(LATE), rel=1e-7)
            assert cleared.change == pytest.approx(g(LATE), rel=1e-7)
            assert "late report from team 4" in cleared.reasons
            assert "H1" in cleared.reasons and "2023-11-15" in cleared.reasons
            closing = by_key[(code, cls, "closing_m2")]
            assert closing.current == pytest.approx(g(H1) - g(FIRST) - g(LATE), rel=1e-7)
    # Only cleared and closing changed (the hazard stays open, counts are the same), and the
    # 2024 clearance is no restatement of 2023.
    assert {r.figure for r in found} == {"cleared_m2", "closing_m2"}
    assert all("2024-05-01" not in r.reasons for r in found)
    # The next report carries the restatement, and opens 2024 from the current figure.
    table = next(t for t in report.tables if t.name == "restatements")
    assert len(table.rows) == len(found) == 8
    assert opening_2024 == pytest.approx(g(H1) - g(FIRST) - g(LATE), rel=1e-7)


def test_a_filed_report_without_later_changes_has_no_restatements(ledger_2023: Engine) -> None:
    with ledger_2023.begin() as c:
        publish(c, 2023, level=1, today=dt.date(2024, 2, 1))
    with ledger_2023.connect() as c:
        assert restatements(c, 2024, level=1) == []


def test_publishing_twice_or_too_early_is_refused(ledger_2023: Engine) -> None:
    with ledger_2023.begin() as c:
        publish(c, 2023, level=1, today=dt.date(2024, 2, 1))
    with ledger_2023.begin() as c, pytest.raises(LandReleaseError, match="never replaced"):
        publish(c, 2023, level=1, today=dt.date(2024, 3, 1))
    with ledger_2023.begin() as c, pytest.raises(LandReleaseError, match="not over yet"):
        publish(c, 2024, level=1, today=dt.date(2024, 12, 31))
    with ledger_2023.connect() as c:
        assert [(p.year, p.admin_level) for p in publications(c)] == [(2023, 1)]
