"""Two officers at once: real concurrent transactions on one PostGIS database.

Each thread opens its own ``transaction(engine)`` (its own connection). A barrier starts both
together; the first holds its lock by sleeping in PostgreSQL after its release and before its
commit, and the second starts a moment later, so it really waits on the hazard row. The design
(DESIGN.md §2, invariant 2) says the second then releases only what the first left, or is
refused with a clear error, and the ledger conserves area either way.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import shapely
from pyproj import Geod
from shapely.geometry import MultiPolygon, box
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Engine, text

from landrelease.errors import HazardClosed, LandReleaseError, NoOverlap
from landrelease.release import Released, ReleaseRequest, transaction
from landrelease.vocabulary import EventKind, HazardClass

pytestmark = pytest.mark.db

GEOD = Geod(ellps="WGS84")
TODAY = dt.date(2024, 6, 30)
RECORDED = dt.date(2020, 1, 1)
WHEN = dt.date(2023, 3, 1)
HOLD_S = 0.5
# About 160 m × 110 m near Sarajevo: small enough that cutting it along lon/lat lines changes
# its geodesic area by far less than the 0.01 m² tolerance (test_release_properties covers that).
HAZARD = box(18.400, 44.100, 18.402, 44.101)


def geod_area(geom: BaseGeometry | None) -> float:
    if geom is None or geom.is_empty:
        return 0.0
    total = 0.0
    for poly in shapely.get_parts(geom):
        if poly.geom_type == "Polygon":
            area, _ = GEOD.geometry_area_perimeter(shapely.orient_polygons(poly))
            total += abs(area)
    return total


def record(engine: Engine, national_id: str, geom: BaseGeometry) -> float:
    with transaction(engine, today=TODAY) as ledger:
        return ledger.record(
            national_id, HazardClass.SHA, geom, crs=4326, recorded_date=RECORDED
        ).area_m2


def run_two(
    first: Callable[..., object], second: Callable[..., object], *, stagger: float = 0.1
) -> tuple[object, object, float]:
    """Run both at once (barrier); the second starts ``stagger`` s later. Returns the results
    (or the exceptions raised) and how long the second took."""
    barrier = threading.Barrier(2, timeout=10)
    elapsed: list[float] = []

    def go_first() -> object:
        barrier.wait()
        return first()

    def go_second() -> object:
        barrier.wait()
        time.sleep(stagger)
        start = time.monotonic()
        try:
            return second()
        finally:
            elapsed.append(time.monotonic() - start)

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(go_first), pool.submit(go_second)]
        outcomes = []
        for future in futures:
            exc = future.exception(timeout=60)
            outcomes.append(exc if exc is not None else future.result())
    return outcomes[0], outcomes[1], elapsed[0]


def holding_release(engine: Engine, method: str, geom: BaseGeometry) -> Callable[[], Released]:
    """A release that keeps its transaction (and row lock) open ``HOLD_S`` after releasing."""

    def run() -> Released:
        with transaction(engine, today=TODAY) as ledger:
            released = getattr(ledger, method)("BA-C", geom, crs=4326, effective_date=WHEN)
            ledger.connection.execute(text("SELECT pg_sleep(:s)"), {"s": HOLD_S})
            return released

    return run


def plain_release(engine: Engine, method: str, geom: BaseGeometry) -> Callable[[], Released]:
    def run() -> Released:
        with transaction(engine, today=TODAY) as ledger:
            return getattr(ledger, method)("BA-C", geom, crs=4326, effective_date=WHEN)

    return run


def ledger_state(engine: Engine) -> dict:
    with engine.connect() as conn:
        hazard = conn.execute(
            text("SELECT id, area_m2, status, ST_AsBinary(geom) AS wkb FROM hazards")
        ).one()
        events = conn.execute(
            text(
                "SELECT kind, sign, area_m2, ST_AsBinary(piece) AS wkb FROM ledger_events"
                " WHERE hazard_id = :h ORDER BY id"
            ),
            {"h": hazard.id},
        ).all()
    return {
        "area_m2": hazard.area_m2,
        "status": hazard.status,
        "geom": shapely.from_wkb(hazard.wkb) if hazard.wkb is not None else MultiPolygon(),
        "events": [(e.kind, e.sign, e.area_m2, shapely.from_wkb(e.wkb)) for e in events],
    }


def check_ledger(engine: Engine, recorded: float) -> list:
    """Conservation and no double release; returns the released events."""
    state = ledger_state(engine)
    events = state["events"]
    released = [e for e in events if e[0] in ("cancelled", "reduced", "cleared")]
    total = sum(area for _, _, area, _ in released)
    tol = 0.01 + 1e-9 * recorded
    assert total <= recorded + tol
    signed = sum(sign * area for _, sign, area, _ in events)
    assert abs(signed - state["area_m2"]) <= tol, f"Σ sign·area {signed} vs {state['area_m2']}"
    assert abs(recorded + sum(-a for _, _, a, _ in released) - state["area_m2"]) <= tol
    for i, (_, _, _, a) in enumerate(released):
        assert geod_area(a & state["geom"]) <= 0.01, "released land still remains"
        for _, _, _, b in released[i + 1 :]:
            assert geod_area(a & b) <= 0.01, "the same ground was released twice"
    return released


def test_overlapping_releases_second_gets_only_the_remainder(db: Engine) -> None:
    recorded = record(db, "BA-C", HAZARD)
    west = box(18.399, 44.099, 18.4012, 44.102)  # west 60 %
    middle = box(18.4005, 44.099, 18.4017, 44.102)  # overlaps the west part by a quarter of it
    first, second, waited = run_two(
        holding_release(db, "clear", west), plain_release(db, "reduce", middle)
    )
    assert isinstance(first, Released), first
    assert isinstance(second, Released), second
    assert waited >= HOLD_S - 0.2, f"the second release did not wait for the first ({waited:.2f}s)"

    expected_first = geod_area(HAZARD & west)
    expected_second = geod_area((HAZARD & middle) - west)
    assert abs(first.area_m2 - expected_first) <= 1e-5 * expected_first
    assert abs(second.area_m2 - expected_second) <= 1e-5 * expected_second
    assert second.area_m2 < geod_area(HAZARD & middle) * 0.9  # it did not take the overlap

    released = check_ledger(db, recorded)
    assert [e[0] for e in released] == [EventKind.CLEARED.value, EventKind.REDUCED.value]
    remaining = ledger_state(db)["area_m2"]
    expected_rest = geod_area(HAZARD - west - middle)
    assert abs(remaining - expected_rest) <= 1e-5 * expected_rest


def test_second_release_inside_the_first_is_refused_cleanly(db: Engine) -> None:
    recorded = record(db, "BA-C", HAZARD)
    west = box(18.399, 44.099, 18.4012, 44.102)
    inside = box(18.4002, 44.1002, 18.4008, 44.1008)  # wholly within the west part
    first, second, waited = run_two(
        holding_release(db, "clear", west), plain_release(db, "cancel", inside)
    )
    assert isinstance(first, Released), first
    assert isinstance(second, NoOverlap), repr(second)
    assert "does not overlap" in str(second) and "BA-C" in str(second)
    assert waited >= HOLD_S - 0.2
    released = check_ledger(db, recorded)
    assert len(released) == 1


def test_second_release_of_a_closed_hazard_is_refused_cleanly(db: Engine) -> None:
    recorded = record(db, "BA-C", HAZARD)
    everything = HAZARD.buffer(0.001)
    part = box(18.4005, 44.1002, 18.401, 44.1008)
    first, second, waited = run_two(
        holding_release(db, "clear", everything), plain_release(db, "reduce", part)
    )
    assert isinstance(first, Released) and first.closed, first
    assert isinstance(second, LandReleaseError), repr(second)
    assert "closed" in str(second) and "BA-C" in str(second), str(second)
    assert isinstance(second, HazardClosed), f"{type(second).__name__}: {second}"
    assert waited >= HOLD_S - 0.2
    released = check_ledger(db, recorded)
    assert len(released) == 1
    assert abs(released[0][2] - recorded) <= 1e-9 * recorded
    assert ledger_state(db)["status"] == "released"


def test_opposite_order_batches_on_two_hazards_do_not_deadlock(db: Engine) -> None:
    east_hazard = box(18.500, 44.100, 18.502, 44.101)
    rec_a = record(db, "BA-A", HAZARD)
    rec_b = record(db, "BA-B", east_hazard)
    a1, a2 = box(18.400, 44.100, 18.4005, 44.101), box(18.4015, 44.100, 18.402, 44.101)
    b1, b2 = box(18.500, 44.100, 18.5005, 44.101), box(18.5015, 44.100, 18.502, 44.101)

    def batch(order: list[tuple[str, BaseGeometry]]) -> Callable[[], list[Released]]:
        def run() -> list[Released]:
            with transaction(db, today=TODAY) as ledger:
                ledger.connection.execute(text("SET LOCAL lock_timeout = '20s'"))
                done = ledger.release_many(
                    [
                        ReleaseRequest(nid, EventKind.REDUCED, geom, 4326, WHEN)
                        for nid, geom in order
                    ]
                )
                ledger.connection.execute(text("SELECT pg_sleep(:s)"), {"s": HOLD_S})
                return done

        return run

    first, second, _ = run_two(
        batch([("BA-A", a1), ("BA-B", b1)]), batch([("BA-B", b2), ("BA-A", a2)]), stagger=0.0
    )
    assert isinstance(first, list), repr(first)
    assert isinstance(second, list), repr(second)
    with db.connect() as conn:
        rows = dict(conn.execute(text("SELECT national_id, area_m2 FROM hazards ORDER BY 1")).all())
    for nid, geom, parts, rec in (
        ("BA-A", HAZARD, (a1, a2), rec_a),
        ("BA-B", east_hazard, (b1, b2), rec_b),
    ):
        expected = geod_area(geom - parts[0] - parts[1])
        assert abs(rows[nid] - expected) <= 1e-5 * expected
        assert rows[nid] < rec
    expected_pieces = [("BA-A", a1), ("BA-B", b1), ("BA-B", b2), ("BA-A", a2)]
    for result, (nid, part) in zip([*first, *second], expected_pieces, strict=True):
        assert result.national_id == nid
        assert abs(result.area_m2 - geod_area(part)) <= 1e-5 * geod_area(part)
