"""Derived tables written once per transaction, at commit (migration 0004).

Ledger events are measured into ``event_regions``, ``event_overlaps`` and ``stock_spans`` by a
deferred trigger just before commit. These tests check that what it writes is exactly what a
full rebuild from the ledger writes, that a report read inside the writing transaction sees
that transaction's events, that a rollback leaves nothing behind, and that two transactions
writing events at once do not wait for each other.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import shapely
from psycopg.errors import Diagnostic
from pyproj import Geod
from shapely.geometry import Polygon, box
from sqlalchemy import Connection, Engine, text

from landrelease.db.derived import settle
from landrelease.indicators.baseline import baseline
from landrelease.release import HazardInput, ReleaseRequest, transaction
from landrelease.vocabulary import EventKind, HazardClass

pytestmark = pytest.mark.db

GEOD = Geod(ellps="WGS84")
TODAY = dt.date(2025, 6, 30)
STEP = 0.0001
WEST, EAST = (20.0, 45.0, 20.1, 45.1), (20.1, 45.0, 20.2, 45.1)
# A level above both, and a region no hazard reaches.
ABOVE = (("WE", 0, (20.0, 45.0, 20.2, 45.1)), ("FAR", 1, (21.0, 46.0, 21.1, 46.1)))


def rect(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    """A lon/lat rectangle with short edges, so PostGIS cuts where the test measures."""
    return box(x0, y0, x1, y1).segmentize(STEP)


def area(x0: float, y0: float, x1: float, y1: float) -> float:
    """Geodesic area (m²) of a rectangle, from pyproj."""
    measured, _ = GEOD.geometry_area_perimeter(shapely.orient_polygons(rect(x0, y0, x1, y1)))
    return measured


def add_regions(
    engine: Engine, more: tuple[tuple[str, int, tuple[float, float, float, float]], ...] = ()
) -> None:
    """Regions W and E on level 1, and ``more`` as (code, level, bounds)."""
    with engine.begin() as c:
        for code, level, bounds in (("W", 1, WEST), ("E", 1, EAST), *more):
            c.execute(
                text(
                    "INSERT INTO regions (code, name, admin_level, geom, area_m2)"
                    " SELECT :code, :code, :level, g, lr_area_m2(g)"
                    " FROM (SELECT ST_Multi(ST_GeomFromText(:wkt, 4326)) AS g) s"
                ),
                {"code": code, "level": level, "wkt": rect(*bounds).wkt},
            )


def hazard(national_id: str, bounds: tuple[float, float, float, float]) -> HazardInput:
    return HazardInput(
        national_id, HazardClass.SHA, rect(*bounds), 4326, recorded_date=dt.date(2024, 1, 1)
    )


DERIVED = {
    "event_regions": "SELECT event_id, region_id, kind, sign, round(area_m2::numeric, 4)"
    " FROM event_regions",
    "stock_spans": "SELECT hazard_id, region_id, hazard_class, valid_from, valid_until,"
    " round(area_m2::numeric, 4) FROM stock_spans",
    "event_overlaps": "SELECT event_id, other_event_id, round(area_m2::numeric, 4)"
    " FROM event_overlaps",
}


def derived_rows(connection: Connection) -> dict[str, set[tuple[object, ...]]]:
    return {
        name: {tuple(row) for row in connection.execute(text(sql))} for name, sql in DERIVED.items()
    }


@pytest.mark.parametrize("settle_each", [False, True], ids=["at-commit", "batch-by-batch"])
def test_rows_written_at_commit_are_those_of_a_full_rebuild(db: Engine, settle_each: bool) -> None:
    """Measured once at commit, or settled after every statement as a pipelined import does:
    either way the rows are those a full rebuild writes (which measures every event in every
    region, not only in the regions their pieces reach)."""
    add_regions(db, ABOVE)
    with transaction(db, today=TODAY) as ledger:  # several statements, one commit
        ledger.record_many([hazard("A", (20.02, 45.02, 20.04, 45.04))])
        if settle_each:
            settle(ledger.connection)
        ledger.record_many(
            [
                hazard("B", (20.09, 45.05, 20.11, 45.06)),  # across W|E
                hazard("C", (20.035, 45.03, 20.05, 45.035)),  # overlaps A
            ]
        )
        if settle_each:
            settle(ledger.connection)
        ledger.release_many(
            [
                ReleaseRequest(
                    "B", EventKind.CLEARED, rect(20.09, 45.05, 20.105, 45.06), 4326, TODAY
                ),
                ReleaseRequest(
                    "A", EventKind.REDUCED, rect(20.02, 45.02, 20.03, 45.04), 4326, TODAY
                ),
            ]
        )
        ledger.confirm(
            "C", None, crs=4326, effective_date=dt.date(2025, 1, 1), cha_national_id="C-1"
        )
    with db.connect() as c:
        at_commit = derived_rows(c)
        across = dict(
            c.execute(
                text(
                    "SELECT r.code, er.area_m2 FROM event_regions er"
                    " JOIN regions r ON r.id = er.region_id JOIN hazards h ON h.id = er.hazard_id"
                    " WHERE h.national_id = 'B' AND er.kind = 'recorded'"
                )
            ).all()
        )
        pending = c.execute(
            text(
                "SELECT (SELECT count(*) FROM derived_pending),"
                " (SELECT count(*) FROM derived_flush)"
            )
        ).one()
        c.execute(text("SELECT lr_refresh_derived()"))
        rebuilt = derived_rows(c)
        c.rollback()
    assert tuple(pending) == (0, 0)
    assert all(at_commit.values()), (
        at_commit
    )  # every table got rows: the comparison means something
    assert at_commit == rebuilt
    # B lies across W|E: its halves, measured by hand, in W and E; all of it in WE; none in FAR.
    assert set(across) == {"W", "E", "WE"}
    b_west, b_east = area(20.09, 45.05, 20.10, 45.06), area(20.10, 45.05, 20.11, 45.06)
    assert across["W"] == pytest.approx(b_west, rel=1e-6)
    assert across["E"] == pytest.approx(b_east, rel=1e-6)
    assert across["WE"] == pytest.approx(b_west + b_east, rel=1e-6)


def test_a_report_inside_the_writing_transaction_sees_its_events(db: Engine) -> None:
    add_regions(db)
    with transaction(db, today=TODAY) as ledger:
        ledger.record_many([hazard("A", (20.02, 45.02, 20.04, 45.04))])
        ledger.cancel("A", rect(20.02, 45.02, 20.03, 45.04), crs=4326, effective_date=TODAY)
        inside = {r.region.code: r for r in baseline(ledger.connection, TODAY, level=1)}
        ledger.record_many(
            [hazard("B", (20.15, 45.02, 20.16, 45.03))]
        )  # after the report: measured at commit
    with db.connect() as c:
        after = {r.region.code: r for r in baseline(c, TODAY, level=1)}
    assert inside["W"].sha.area_m2 == pytest.approx(area(20.03, 45.02, 20.04, 45.04), rel=1e-7)
    assert inside["W"].sha.count == 1 and inside["E"].sha.count == 0
    assert after["W"].sha.area_m2 == pytest.approx(inside["W"].sha.area_m2, abs=1e-6)
    assert after["E"].sha.area_m2 == pytest.approx(area(20.15, 45.02, 20.16, 45.03), rel=1e-7)


def test_measuring_says_how_far_it_has_got_to_a_session_that_asks(db: Engine) -> None:
    """The flush's notices (migration 0011) reach ``settle``'s caller, step by step, and no
    one else: a transaction committing without asking hears nothing from it."""
    add_regions(db)
    shares: list[int] = []
    with transaction(db, today=TODAY) as ledger:
        ledger.record_many([hazard("A", (20.02, 45.02, 20.04, 45.04))])
        settle(ledger.connection, shares.append)
        settled = ledger.connection.execute(text("SELECT count(*) FROM event_regions"))
        assert settled.scalar_one() == 1  # measured by then, not at the commit
    assert shares == [50, 62, 100]

    heard: list[str] = []

    def hear(notice: Diagnostic) -> None:
        heard.append(notice.message_primary or "")

    with transaction(db, today=TODAY) as ledger:  # measured at its commit
        driver = ledger.connection.connection.driver_connection
        assert driver is not None
        driver.add_notice_handler(hear)
        ledger.record_many([hazard("B", (20.15, 45.02, 20.16, 45.03))])
    driver.remove_notice_handler(hear)
    with db.connect() as c:
        assert c.execute(text("SELECT count(*) FROM event_regions")).scalar_one() == 2
    assert not [m for m in heard if m.startswith("landrelease")]


def test_a_rolled_back_transaction_leaves_nothing_pending(db: Engine) -> None:
    add_regions(db)
    with pytest.raises(RuntimeError), transaction(db, today=TODAY) as ledger:
        ledger.record_many([hazard("A", (20.02, 45.02, 20.04, 45.04))])
        raise RuntimeError("the officer cancels the import")
    with db.connect() as c:
        counts = c.execute(
            text(
                "SELECT (SELECT count(*) FROM derived_pending),"
                " (SELECT count(*) FROM derived_flush),"
                " (SELECT count(*) FROM event_regions), (SELECT count(*) FROM ledger_events)"
            )
        ).one()
    assert tuple(counts) == (0, 0, 0, 0)


def test_two_writing_transactions_do_not_wait_for_each_other(db: Engine) -> None:
    """Each transaction notes its events under its own key: neither blocks on the other's."""
    add_regions(db)
    first_wrote, second_done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with transaction(db, today=TODAY) as ledger:
                ledger.record_many([hazard("A", (20.02, 45.02, 20.04, 45.04))])
                first_wrote.set()
                if not second_done.wait(30):  # stay open until the other has committed
                    raise TimeoutError("the second transaction never finished")
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            first_wrote.set()

    thread = threading.Thread(target=first)
    thread.start()
    assert first_wrote.wait(30)
    with transaction(db, today=TODAY) as ledger:
        ledger.connection.execute(text("SET LOCAL lock_timeout = '5s'"))
        ledger.record_many([hazard("B", (20.15, 45.02, 20.16, 45.03))])
    second_done.set()
    thread.join(60)
    assert not errors, errors
    with db.connect() as c:
        measured = c.execute(
            text("SELECT count(DISTINCT hazard_id) FROM stock_spans WHERE region_id IS NULL")
        ).scalar_one()
    assert measured == 2


def test_truncating_the_ledger_takes_its_derived_rows_along(db: Engine) -> None:
    add_regions(db)
    with transaction(db, today=TODAY) as ledger:
        ledger.record_many([hazard("A", (20.02, 45.02, 20.04, 45.04))])
    with db.begin() as c:
        before = c.execute(text("SELECT count(*) FROM event_regions")).scalar_one()
        c.execute(text("TRUNCATE ledger_events, hazards CASCADE"))
    with db.connect() as c:
        left = c.execute(
            text("SELECT (SELECT count(*) FROM event_regions), (SELECT count(*) FROM stock_spans)")
        ).one()
    assert before == 1
    assert tuple(left) == (0, 0)


def test_deleting_a_region_takes_its_derived_rows_along(db: Engine) -> None:
    """No foreign key ties derived rows to their region (migration 0006); a trigger does."""
    add_regions(db)
    with transaction(db, today=TODAY) as ledger:
        ledger.record_many([hazard("B", (20.09, 45.05, 20.11, 45.06))])  # across W|E
    count = text(
        "SELECT (SELECT count(*) FROM event_regions WHERE region_id = r.id),"
        " (SELECT count(*) FROM stock_spans WHERE region_id = r.id),"
        " (SELECT count(*) FROM stock_spans WHERE region_id IS NULL)"
        " FROM regions r WHERE r.code = :code"
    )
    with db.begin() as c:
        before = {code: tuple(c.execute(count, {"code": code}).one()) for code in ("W", "E")}
        east = c.execute(text("SELECT id FROM regions WHERE code = 'E'")).scalar_one()
        c.execute(text("DELETE FROM regions WHERE code = 'E'"))
    with db.connect() as c:
        west = tuple(c.execute(count, {"code": "W"}).one())
        orphans = c.execute(
            text(
                "SELECT (SELECT count(*) FROM event_regions WHERE region_id = :id)"
                " + (SELECT count(*) FROM stock_spans WHERE region_id = :id)"
            ),
            {"id": east},
        ).scalar_one()
    assert before == {"W": (1, 1, 1), "E": (1, 1, 1)}
    assert west == (1, 1, 1)  # the other region and the whole hazard's span stay
    assert orphans == 0
