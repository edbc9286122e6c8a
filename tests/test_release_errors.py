"""Every refused transition explains itself and leaves the database exactly as it was.

DESIGN.md §3, invariant 7 (all or nothing). Each refusal is provoked inside a transaction that
catches the error and then *commits*: the Ledger promises that a failing method undoes its own
work (a savepoint) so an importer can report the problem and go on. A fingerprint of the whole
database (row counts of every table, area sums, versions, a digest of every hazard and event)
is compared before and after. Expected areas are computed here with ``pyproj.Geod``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pytest
import shapely
from pyproj import Geod
from shapely.geometry import Polygon, box
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from landrelease.errors import (
    DateError,
    DuplicateHazard,
    GeometryError,
    HazardClosed,
    HazardNotFound,
    LandReleaseError,
    NoOverlap,
    TransitionRefused,
)
from landrelease.geometry import densify_geodesic, polygons_only, prepare_polygon
from landrelease.release import (
    SLIVER_M2,
    ActivityInput,
    HazardInput,
    Ledger,
    ReleaseRequest,
    transaction,
)
from landrelease.vocabulary import ActivityKind, EventKind, HazardClass, ItemType

pytestmark = pytest.mark.db

GEOD = Geod(ellps="WGS84")
TODAY = dt.date(2024, 6, 30)
RECORDED = dt.date(2020, 1, 1)
LATER = dt.date(2021, 1, 1)
WHEN = dt.date(2022, 5, 1)

SHA = box(18.400, 44.100, 18.402, 44.101)
CHA = box(18.410, 44.100, 18.412, 44.101)
DONE = box(18.420, 44.100, 18.422, 44.101)
FAR = box(19.5, 45.5, 19.51, 45.51)
COLLINEAR = Polygon([(18.0, 44.0), (18.5, 44.5), (19.0, 45.0)])
TABLES = ("regions", "organisations", "hazards", "activities", "activity_items", "ledger_events")


def geod_area(geom: BaseGeometry) -> float:
    area, _ = GEOD.geometry_area_perimeter(shapely.orient_polygons(geom))
    assert area > 0
    return area


def fingerprint(engine: Engine) -> tuple:
    counts = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in TABLES)
    with engine.connect() as conn:
        return (
            tuple(conn.execute(text(counts)).all()),
            conn.execute(
                text(
                    """
                    SELECT (SELECT sum(area_m2) FROM hazards),
                           (SELECT sum(area_m2) FROM ledger_events),
                           (SELECT max(version) FROM hazards),
                           (SELECT md5(string_agg(concat_ws('|', id, national_id, status,
                                hazard_class, area_m2, version, marked_date, fenced_date,
                                md5(ST_AsEWKB(geom))), ',' ORDER BY id)) FROM hazards),
                           (SELECT md5(string_agg(concat_ws('|', id, hazard_id, kind, sign,
                                area_m2, effective_date, note, md5(ST_AsEWKB(piece))), ','
                                ORDER BY id)) FROM ledger_events),
                           (SELECT md5(string_agg(concat_ws('|', id, kind, reference),
                                ',' ORDER BY id)) FROM activities)
                    """
                )
            ).one(),
        )


def refused(
    engine: Engine,
    action: Callable[[Ledger], object],
    expected: type[LandReleaseError],
    *patterns: str,
) -> LandReleaseError:
    """Run ``action``, expect a LandReleaseError, commit anyway, and check nothing changed."""
    before = fingerprint(engine)
    with transaction(engine, today=TODAY) as ledger, pytest.raises(LandReleaseError) as info:
        action(ledger)
    error = info.value
    message = str(error)
    assert fingerprint(engine) == before, f"refused ({message}) but the database changed"
    for pattern in patterns:
        assert re.search(pattern, message, re.IGNORECASE), f"{pattern!r} not in {message!r}"
    for internal in ("Traceback", "psycopg", "sqlalchemy", "SELECT ", "INSERT "):
        assert internal not in message, f"internal detail leaked into the message: {message!r}"
    assert isinstance(error, expected), f"expected {expected.__name__}, got {error!r}"
    return error


@pytest.fixture
def world(db: Engine) -> Engine:
    """An SHA with one cancellation, a CHA, a hazard wholly cleared, and one activity per kind."""
    with transaction(db, today=TODAY) as ledger:
        ledger.record(
            "BA-SHA", HazardClass.SHA, SHA, crs=4326, recorded_date=RECORDED, organisation="MAC"
        )
        ledger.record("BA-CHA", HazardClass.CHA, CHA, crs=4326, recorded_date=RECORDED)
        ledger.record("BA-DONE", HazardClass.CHA, DONE, crs=4326, recorded_date=RECORDED)
        ledger.add_activity(ActivityKind.NTS, reference="NTS-1", start_date=LATER)
        ledger.add_activity(ActivityKind.TS, reference="TS-1", start_date=LATER)
        ledger.add_activity(
            ActivityKind.CLEARANCE,
            reference="CLR-1",
            start_date=LATER,
            end_date=WHEN,
            items={ItemType.SUBMUNITION: (12, 11)},
        )
        ledger.cancel(
            "BA-SHA", box(18.3995, 44.0995, 18.4005, 44.1015), crs=4326, effective_date=LATER
        )
        closed = ledger.clear("BA-DONE", DONE.buffer(0.001), crs=4326, effective_date=LATER)
    assert closed.closed
    return db


def activity(engine: Engine, reference: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT id FROM activities WHERE reference = :r"), {"r": reference}
        ).scalar_one()


# -- no overlap ---------------------------------------------------------------------------------


def test_release_that_misses_the_hazard(world: Engine) -> None:
    for method in ("cancel", "reduce", "clear"):
        refused(
            world,
            lambda ledger, m=method: getattr(ledger, m)(
                "BA-SHA", FAR, crs=4326, effective_date=WHEN
            ),
            NoOverlap,
            "does not overlap",
            "BA-SHA",
        )


def test_release_of_land_already_released_is_no_overlap(world: Engine) -> None:
    inside_cancelled = box(18.4, 44.1, 18.4004, 44.1008)
    refused(
        world,
        lambda ledger: ledger.reduce("BA-SHA", inside_cancelled, crs=4326, effective_date=WHEN),
        NoOverlap,
        "does not overlap",
    )


def test_confirmation_that_misses_the_hazard(world: Engine) -> None:
    refused(
        world,
        lambda ledger: ledger.confirm("BA-SHA", FAR, crs=4326, effective_date=WHEN),
        NoOverlap,
        "does not overlap",
        "BA-SHA",
    )


def test_reopening_land_never_released(world: Engine) -> None:
    refused(
        world,
        lambda ledger: ledger.reopen(
            "BA-SHA",
            box(18.401, 44.1002, 18.4015, 44.1008),
            crs=4326,
            effective_date=WHEN,
            new_national_id="BA-R1",
        ),
        NoOverlap,
        "does not overlap",
    )


# -- closed hazards and slivers -----------------------------------------------------------------


def test_clearing_all_of_a_hazard_closes_it(world: Engine) -> None:
    with world.connect() as conn:
        row = conn.execute(
            text(
                "SELECT status, geom IS NULL AS gone, area_m2 FROM hazards"
                " WHERE national_id = 'BA-DONE'"
            )
        ).one()
        cleared = conn.execute(
            text(
                "SELECT e.area_m2 FROM ledger_events e JOIN hazards h ON h.id = e.hazard_id"
                " WHERE h.national_id = 'BA-DONE' AND e.kind = 'cleared'"
            )
        ).scalar_one()
    assert (row.status, row.gone, row.area_m2) == ("released", True, 0)
    assert abs(cleared - geod_area(DONE)) <= 1e-5 * geod_area(DONE)


@pytest.mark.parametrize("method", ["cancel", "reduce", "clear"])
def test_release_of_a_closed_hazard(world: Engine, method: str) -> None:
    refused(
        world,
        lambda ledger: getattr(ledger, method)("BA-DONE", DONE, crs=4326, effective_date=WHEN),
        HazardClosed,
        "closed",
        "BA-DONE",
    )


def test_confirmation_and_marking_of_a_closed_hazard(world: Engine) -> None:
    refused(
        world,
        lambda ledger: ledger.confirm("BA-DONE", effective_date=WHEN),
        HazardClosed,
        "closed",
        "BA-DONE",
    )
    refused(world, lambda ledger: ledger.mark("BA-DONE", marked=WHEN), HazardClosed, "closed")


def _edge_strip(width_deg: float) -> tuple[Polygon, Polygon, Polygon]:
    """A 0.01° square near Bosnia, a release leaving a strip ``width_deg`` wide, and the strip."""
    hazard = box(18.0, 44.0, 18.01, 44.01)
    release = box(17.99, 43.99, 18.01 - width_deg, 44.02)
    strip = box(18.01 - width_deg, 44.0, 18.01, 44.01)
    return hazard, release, strip


def test_remainder_below_one_square_metre_closes_the_hazard(db: Engine) -> None:
    hazard, release, strip = _edge_strip(5e-9)
    sliver = geod_area(strip)
    assert 0.1 < sliver < SLIVER_M2 == 1.0  # worked out: 5e-9° × 111 km × cos 44° × 1.1 km
    with transaction(db, today=TODAY) as ledger:
        recorded = ledger.record("BA-S", HazardClass.SHA, hazard, crs=4326, recorded_date=RECORDED)
        result = ledger.clear("BA-S", release, crs=4326, effective_date=WHEN)
    assert result.closed
    assert result.remaining_m2 == 0
    assert abs(result.area_m2 - recorded.area_m2) <= 1e-9 * recorded.area_m2
    with db.connect() as conn:
        row = conn.execute(
            text(
                "SELECT status, geom IS NULL AS gone, area_m2 FROM hazards"
                " WHERE national_id = 'BA-S'"
            )
        ).one()
        piece = conn.execute(
            text("SELECT ST_AsBinary(piece) FROM ledger_events WHERE kind = 'cleared'")
        ).scalar_one()
    assert (row.status, row.gone, row.area_m2) == ("released", True, 0)
    # The sliver went with the cleared piece: the piece is the whole hazard, nothing is left.
    assert shapely.equals(shapely.from_wkb(piece), densify_geodesic(polygons_only(hazard)))
    refused(
        db,
        lambda ledger: ledger.cancel("BA-S", hazard, crs=4326, effective_date=WHEN),
        HazardClosed,
        "closed",
    )


def test_remainder_above_one_square_metre_stays_open(db: Engine) -> None:
    hazard, release, strip = _edge_strip(5e-8)
    left = geod_area(strip)
    assert SLIVER_M2 < left < 10
    with transaction(db, today=TODAY) as ledger:
        ledger.record("BA-S", HazardClass.SHA, hazard, crs=4326, recorded_date=RECORDED)
        result = ledger.clear("BA-S", release, crs=4326, effective_date=WHEN)
    assert not result.closed
    assert abs(result.remaining_m2 - left) <= 1e-5 * left
    assert abs(result.area_m2 - geod_area(hazard & release)) <= 1e-5 * result.area_m2


# -- dates ----------------------------------------------------------------------------------------


def test_release_dated_before_the_hazard_was_recorded(world: Engine) -> None:
    refused(
        world,
        lambda ledger: ledger.reduce("BA-SHA", SHA, crs=4326, effective_date=dt.date(2019, 6, 1)),
        DateError,
        "out of order",
        "2019-06-01",
    )


def test_confirmation_and_correction_dated_out_of_order(world: Engine) -> None:
    refused(
        world,
        lambda ledger: ledger.confirm("BA-SHA", effective_date=dt.date(2019, 6, 1)),
        DateError,
        "out of order",
    )
    # The latest event of BA-SHA is the cancellation on LATER: a correction must not precede it.
    refused(
        world,
        lambda ledger: ledger.correct(
            "BA-SHA", SHA, crs=4326, effective_date=dt.date(2020, 6, 1), reason="resurvey"
        ),
        DateError,
        "out of order",
    )
    refused(
        world,
        lambda ledger: ledger.add_activity(
            ActivityKind.TS, reference="TS-9", start_date=WHEN, end_date=LATER
        ),
        DateError,
        "out of order",
    )


def test_dates_in_the_future(world: Engine) -> None:
    future = TODAY + dt.timedelta(days=1)
    refused(
        world,
        lambda ledger: ledger.confirm("BA-SHA", effective_date=future),
        DateError,
        "future",
    )
    refused(
        world,
        lambda ledger: ledger.add_activity(ActivityKind.NTS, reference="NTS-9", end_date=future),
        DateError,
        "future",
    )
    refused(
        world,
        lambda ledger: ledger.cancel("BA-SHA", SHA, crs=4326, effective_date=future),
        DateError,
        "future",
        str(future),
    )
    refused(
        world,
        lambda ledger: ledger.record(
            "BA-NEW",
            HazardClass.SHA,
            box(18.5, 44.5, 18.51, 44.51),
            crs=4326,
            recorded_date=future,
        ),
        DateError,
        "future",
    )


# -- unknown and duplicate hazards -------------------------------------------------------------


def test_unknown_hazard(world: Engine) -> None:
    actions: list[Callable[[Ledger], object]] = [
        lambda ledger: ledger.cancel("XX-404", SHA, crs=4326, effective_date=WHEN),
        lambda ledger: ledger.confirm("XX-404", effective_date=WHEN),
        lambda ledger: ledger.correct(
            "XX-404", SHA, crs=4326, effective_date=WHEN, reason="resurvey"
        ),
        lambda ledger: ledger.mark("XX-404", fenced=WHEN),
    ]
    for action in actions:
        refused(world, action, HazardNotFound, "XX-404")


def test_duplicate_national_id(world: Engine) -> None:
    refused(
        world,
        lambda ledger: ledger.record(
            "BA-SHA", HazardClass.SHA, FAR, crs=4326, recorded_date=RECORDED
        ),
        DuplicateHazard,
        "BA-SHA",
        "already",
    )
    refused(
        world,
        lambda ledger: ledger.record_many(
            [
                HazardInput("BA-NEW", HazardClass.SHA, FAR, 4326, RECORDED),
                HazardInput("BA-NEW", HazardClass.SHA, FAR, 4326, RECORDED),
            ]
        ),
        DuplicateHazard,
        "BA-NEW",
        "twice",
    )
    refused(
        world,
        lambda ledger: ledger.confirm(
            "BA-SHA",
            box(18.401, 44.1, 18.4015, 44.101),
            crs=4326,
            effective_date=WHEN,
            cha_national_id="BA-CHA",
        ),
        DuplicateHazard,
        "BA-CHA",
    )


# -- geometry -----------------------------------------------------------------------------------


def test_collinear_polygon_cannot_be_repaired(world: Engine) -> None:
    with pytest.raises(GeometryError, match="nothing is left"):
        prepare_polygon(COLLINEAR, 4326)
    refused(
        world,
        lambda ledger: ledger.record(
            "BA-LINE", HazardClass.SHA, COLLINEAR, crs=4326, recorded_date=RECORDED
        ),
        GeometryError,
        "BA-LINE",
        "invalid",
    )
    refused(
        world,
        lambda ledger: ledger.cancel("BA-SHA", COLLINEAR, crs=4326, effective_date=WHEN),
        GeometryError,
        "invalid",
    )


def test_a_figure_eight_is_refused_not_guessed(world: Engine) -> None:
    # Two corners of a square swapped: the ring crosses itself into two triangles winding
    # opposite ways, whose signed areas cancel. Repairing would keep the triangles, half of the
    # square the team most probably walked, so the polygon is refused with the reason.
    bowtie = Polygon([(18.0, 44.0), (18.01, 44.01), (18.01, 44.0), (18.0, 44.01)])
    assert not bowtie.is_valid
    assert abs(GEOD.geometry_area_perimeter(bowtie)[0]) < 1.0  # the lobes cancel out
    error = refused(
        world,
        lambda ledger: ledger.record(
            "BA-BOW", HazardClass.SHA, bowtie, crs=4326, recorded_date=RECORDED
        ),
        GeometryError,
        "self-intersection",
        "figure-8",
        "fix the polygon at source",
    )
    assert "%" not in str(error)  # no share of an area that is not there


def test_a_ring_with_a_small_reverse_lobe_is_repaired_and_reported(db: Engine) -> None:
    # A 200 m square whose closing edge runs below its first vertex and crosses its first edge:
    # the ring winds back through a small lobe. Its shell reading is the square less the lobe,
    # so the repair (both kept) adds twice the lobe, well within the 5 % a repair may change.
    ring = [(18.0, 44.0), (18.0025, 44.0), (18.0025, 44.0018), (18.0, 44.0018), (18.0001, 43.9999)]
    polygon = Polygon(ring)
    assert not polygon.is_valid
    with transaction(db, today=TODAY) as ledger:
        recorded = ledger.record(
            "BA-LOBE", HazardClass.SHA, polygon, crs=4326, recorded_date=RECORDED
        )
    assert any("self-intersection" in r.lower() for r in recorded.repairs), recorded.repairs
    # Worked out by hand: the edge (18, 44.0018) -> (18.0001, 43.9999) reaches latitude 44
    # after 18/19 of its length, at longitude 18 + 0.0001 * 18/19.
    crossing = (18.0 + 0.0001 * 18 / 19, 44.0)
    main = Polygon([crossing, (18.0025, 44.0), (18.0025, 44.0018), (18.0, 44.0018)])
    lobe = Polygon([crossing, (18.0, 44.0), (18.0001, 43.9999)])
    expected = geod_area(main) + geod_area(lobe)
    assert abs(recorded.area_m2 - expected) <= 1e-5 * expected
    change = prepare_polygon(polygon, 4326).area_change_m2
    assert abs(change - 2 * geod_area(lobe)) <= 1e-3 * geod_area(lobe)


def test_missing_crs(world: Engine) -> None:
    with pytest.raises(GeometryError, match="coordinate reference system"):
        prepare_polygon(FAR, None)
    refused(
        world,
        lambda ledger: ledger.record(
            "BA-NOCRS", HazardClass.SHA, FAR, crs=None, recorded_date=RECORDED
        ),
        GeometryError,
        r"coordinate reference system|\bcrs\b",
    )
    refused(
        world,
        lambda ledger: ledger.clear("BA-SHA", SHA, crs=None, effective_date=WHEN),
        GeometryError,
        r"coordinate reference system|\bcrs\b",
    )


LON_BEYOND = box(200.0, 44.0, 200.01, 44.01)
# Vientiane (102.6°E, 19.9°N) typed as (lat, lon): "latitude" 102.6 is impossible.
SWAPPED = box(19.9, 102.6, 19.91, 102.61)
# UTM metres declared as lon/lat.
UTM_AS_DEGREES = box(740_000, 4_876_000, 741_000, 4_877_000)


@pytest.mark.parametrize(
    ("geom", "hint"),
    [
        (LON_BEYOND, "outside longitude"),
        (SWAPPED, "longitude and latitude look swapped"),
        (UTM_AS_DEGREES, r"is the CRS right\?.*--crs"),
    ],
)
def test_prepare_polygon_explains_impossible_coordinates(geom: Polygon, hint: str) -> None:
    with pytest.raises(GeometryError, match=hint):
        prepare_polygon(geom, 4326, label="feature 7")


def test_coordinates_out_of_range(world: Engine) -> None:
    lon_beyond = LON_BEYOND
    refused(
        world,
        lambda ledger: ledger.record(
            "BA-FAR", HazardClass.SHA, lon_beyond, crs=4326, recorded_date=RECORDED
        ),
        GeometryError,
        "outside longitude",
    )
    swapped = SWAPPED
    refused(
        world,
        lambda ledger: ledger.record(
            "LA-SWAP", HazardClass.SHA, swapped, crs=4326, recorded_date=RECORDED
        ),
        GeometryError,
        "swapped",
    )
    utm_as_degrees = UTM_AS_DEGREES
    refused(
        world,
        lambda ledger: ledger.cancel("BA-SHA", utm_as_degrees, crs=4326, effective_date=WHEN),
        GeometryError,
        r"\bcrs\b",
    )


def test_unknown_crs(world: Engine) -> None:
    refused(
        world,
        lambda ledger: ledger.confirm("BA-SHA", SHA, crs="EPSG:999999", effective_date=WHEN),
        GeometryError,
        "coordinate reference system",
    )


# -- transitions that do not apply --------------------------------------------------------------


def test_confirming_a_cha(world: Engine) -> None:
    refused(
        world,
        lambda ledger: ledger.confirm("BA-CHA", effective_date=WHEN),
        TransitionRefused,
        "already a CHA",
        "BA-CHA",
    )
    refused(
        world,
        lambda ledger: ledger.confirm("BA-CHA", CHA, crs=4326, effective_date=WHEN),
        TransitionRefused,
        "already a CHA",
    )


def test_clearance_with_an_nts_activity(world: Engine) -> None:
    nts = activity(world, "NTS-1")
    refused(
        world,
        lambda ledger: ledger.clear("BA-SHA", SHA, crs=4326, effective_date=WHEN, activity_id=nts),
        TransitionRefused,
        "NTS",
        "CLEARANCE",
    )


def test_correction_without_a_reason(world: Engine) -> None:
    for reason in ("", "   "):
        refused(
            world,
            lambda ledger, r=reason: ledger.correct(
                "BA-SHA", SHA, crs=4326, effective_date=WHEN, reason=r
            ),
            LandReleaseError,
            "reason",
            "BA-SHA",
        )


# -- batches: all or nothing --------------------------------------------------------------------

GOOD = [
    ReleaseRequest("BA-SHA", EventKind.REDUCED, box(18.401, 44.1, 18.4015, 44.101), 4326, WHEN),
    ReleaseRequest("BA-CHA", EventKind.CLEARED, box(18.41, 44.1, 18.411, 44.101), 4326, WHEN),
]
THIRD = {
    # the same ground as request 1: applied first in its own round, then found taken
    "same ground": (
        ReleaseRequest("BA-SHA", EventKind.CANCELLED, GOOD[0].geometry, 4326, WHEN),
        NoOverlap,
        "does not overlap",
    ),
    "misses": (
        ReleaseRequest("BA-CHA", EventKind.CANCELLED, FAR, 4326, WHEN),
        NoOverlap,
        "does not overlap",
    ),
    "future": (
        ReleaseRequest("BA-CHA", EventKind.CANCELLED, CHA, 4326, TODAY + dt.timedelta(days=3)),
        DateError,
        "future",
    ),
    "out of order": (
        ReleaseRequest("BA-CHA", EventKind.CANCELLED, CHA, 4326, dt.date(2019, 1, 1)),
        DateError,
        "out of order",
    ),
    "invalid": (
        ReleaseRequest("BA-CHA", EventKind.CANCELLED, COLLINEAR, 4326, WHEN),
        GeometryError,
        "invalid",
    ),
    "no crs": (
        ReleaseRequest("BA-CHA", EventKind.CANCELLED, CHA, None, WHEN),
        GeometryError,
        "coordinate reference system",
    ),
    "closed": (
        ReleaseRequest("BA-DONE", EventKind.CLEARED, DONE, 4326, WHEN),
        HazardClosed,
        "closed",
    ),
    "unknown": (
        ReleaseRequest("XX-404", EventKind.CLEARED, DONE, 4326, WHEN),
        HazardNotFound,
        "XX-404",
    ),
    "not a release": (
        ReleaseRequest("BA-CHA", EventKind.CONFIRMED, CHA, 4326, WHEN),
        TransitionRefused,
        "not a release method",
    ),
}


@pytest.mark.parametrize("bad", list(THIRD))
def test_batch_with_a_bad_third_request_applies_nothing(world: Engine, bad: str) -> None:
    request, expected, phrase = THIRD[bad]
    error = refused(
        world,
        lambda ledger: ledger.release_many([*GOOD, request]),
        expected,
        phrase,
        r"release 3\b",
    )
    message = str(error)
    assert "release 1" not in message and "release 2" not in message, message


def test_batch_with_a_wrong_activity_in_the_third_request(world: Engine) -> None:
    ts = activity(world, "TS-1")
    request = ReleaseRequest("BA-CHA", EventKind.CLEARED, CHA, 4326, WHEN, activity_id=ts)
    refused(
        world,
        lambda ledger: ledger.release_many([*GOOD, request]),
        TransitionRefused,
        r"release 3\b",
        "TS",
    )


def test_good_batch_is_applied(world: Engine) -> None:
    """The control: the two good requests alone do change the database."""
    before = fingerprint(world)
    with transaction(world, today=TODAY) as ledger:
        done = ledger.release_many(GOOD)
    assert fingerprint(world) != before
    for result, request in zip(done, GOOD, strict=True):
        part = request.geometry
        assert abs(result.area_m2 - geod_area(part)) <= 1e-5 * geod_area(part)


def test_error_propagating_out_of_the_transaction_rolls_back(world: Engine) -> None:
    """Work done before a failure in the same ``transaction`` block is rolled back too."""
    before = fingerprint(world)
    with pytest.raises(NoOverlap), transaction(world, today=TODAY) as ledger:
        ledger.reduce("BA-SHA", GOOD[0].geometry, crs=4326, effective_date=WHEN)
        ledger.cancel("BA-SHA", FAR, crs=4326, effective_date=WHEN)
    assert fingerprint(world) == before


# -- the ledger is append-only ------------------------------------------------------------------


def refused_sql(world: Engine, statement: str, params: dict[str, object] | None = None) -> str:
    """Run ``statement``, which the database must refuse as an integrity violation leaving
    the world as it was; returns the refusal's message."""
    before = fingerprint(world)
    with pytest.raises(DBAPIError) as info, world.begin() as conn:
        conn.execute(text(statement), params or {})
    assert isinstance(info.value, IntegrityError), repr(info.value)
    assert fingerprint(world) == before
    return str(info.value)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_events SET area_m2 = 0",
        "UPDATE ledger_events SET effective_date = '2019-01-01' WHERE kind = 'cancelled'",
        "DELETE FROM ledger_events WHERE kind = 'cancelled'",
        "DELETE FROM ledger_events",
    ],
)
def test_ledger_is_append_only(world: Engine, statement: str) -> None:
    assert "append-only" in refused_sql(world, statement)


def test_hazards_are_never_deleted(world: Engine) -> None:
    assert "never deleted" in refused_sql(world, "DELETE FROM hazards WHERE status = 'released'")


@pytest.mark.parametrize(
    ("column", "table"), [("hazard_id", "hazards"), ("activity_id", "activities")]
)
def test_an_event_naming_a_row_that_does_not_exist_is_refused(
    world: Engine, column: str, table: str
) -> None:
    """Checked once per statement (migrations 0007, 0009): every event of it, not just the
    first. The statement records a real event again, then one naming a missing row."""
    with world.connect() as conn:
        missing = conn.execute(
            text(f"SELECT coalesce(max(id), 0) + 1000 FROM {table}")
        ).scalar_one()
    message = refused_sql(
        world,
        "INSERT INTO ledger_events (hazard_id, activity_id, kind, sign, hazard_class, piece,"
        " area_m2, effective_date) SELECT v.hazard_id, v.activity_id, 'recorded', 1,"
        " h.hazard_class, h.geom, h.area_m2, h.recorded_date"
        " FROM (SELECT * FROM hazards WHERE status = 'active' LIMIT 1) h CROSS JOIN LATERAL"
        " (VALUES (h.id, CAST(NULL AS bigint)), (coalesce(:hazard, h.id), :activity))"
        " v(hazard_id, activity_id)",
        {
            "hazard": missing if column == "hazard_id" else None,
            "activity": missing if column == "activity_id" else None,
        },
    )
    what = "for hazard" if column == "hazard_id" else "of activity"
    assert f"ledger event {what} {missing}, which does not exist" in message


def test_a_hazard_of_an_organisation_that_does_not_exist_is_refused(world: Engine) -> None:
    """Checked once per INSERT, and row by row when an UPDATE sets the organisation."""
    with world.connect() as conn:
        missing = conn.execute(
            text("SELECT coalesce(max(id), 0) + 1000 FROM organisations")
        ).scalar_one()
    inserted = refused_sql(
        world,
        "INSERT INTO hazards (national_id, hazard_class, contamination, status, geom, area_m2,"
        " recorded_date, organisation_id) SELECT 'NEW-' || national_id, hazard_class,"
        " contamination, status, geom, area_m2, recorded_date, :missing FROM hazards"
        " WHERE status = 'active' LIMIT 1",
        {"missing": missing},
    )
    updated = refused_sql(
        world, "UPDATE hazards SET organisation_id = :missing", {"missing": missing}
    )
    for message in (inserted, updated):
        assert f"organisation {missing}, which does not exist" in message


def test_organisations_and_activities_in_use_are_not_deleted(world: Engine) -> None:
    """BA-SHA names its organisation; an event names TS-1 once it reduces land."""
    ts = activity(world, "TS-1")
    with transaction(world, today=TODAY) as ledger:
        ledger.reduce("BA-CHA", CHA, crs=4326, effective_date=WHEN, activity_id=ts)
    assert "is still named by hazards" in refused_sql(world, "DELETE FROM organisations")
    assert f"activity {ts} is still named by ledger_events" in refused_sql(
        world, "DELETE FROM activities WHERE reference = 'TS-1'"
    )


def test_activities_in_one_call_keep_their_order_and_items(db: Engine) -> None:
    activities = [
        ActivityInput(ActivityKind.CLEARANCE, "CL-1", "NPA", items={ItemType.AP_MINE: (3, 2)}),
        ActivityInput(ActivityKind.NTS, "NTS-1", "BHMAC", start_date=WHEN, end_date=WHEN),
        ActivityInput(ActivityKind.TS, "TS-1", "NPA", items={ItemType.UXO: 4}),
    ]
    with transaction(db, today=TODAY) as ledger:
        ids = ledger.add_activities(activities)
        assert ids == [ledger.find_activity(a.reference or "") for a in activities]
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT a.reference, a.kind, o.name, i.item_type, i.found, i.destroyed"
                " FROM activities a JOIN organisations o ON o.id = a.organisation_id"
                " LEFT JOIN activity_items i ON i.activity_id = a.id ORDER BY a.id"
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("CL-1", "CLEARANCE", "NPA", "AP_MINE", 3, 2),
        ("NTS-1", "NTS", "BHMAC", None, None, None),
        ("TS-1", "TS", "NPA", "UXO", 4, 4),
    ]


def test_activities_in_one_call_are_all_refused_for_one_bad_one(db: Engine) -> None:
    before = fingerprint(db)
    bad = [
        ActivityInput(ActivityKind.NTS, "NTS-1"),
        ActivityInput(ActivityKind.NTS, "NTS-2", start_date=WHEN, end_date=LATER),
    ]
    with (
        pytest.raises(DateError, match=r"activity NTS-2: ends .* before it starts"),
        transaction(db, today=TODAY) as ledger,
    ):
        ledger.add_activities(bad)
    assert fingerprint(db) == before
