"""The annual table and the Lausanne Action Plan indicators on a hand-built scenario.

Four box regions at admin level 1 (A | B side by side, C north of both, D east, empty), and
two years of transitions through the real ledger: a hazard straddling the A|B border, a
partial confirmation across that border, clearances with items, a cancellation that empties
region C, a reduction, a reopening in C, a correction (land removed and added) and two hazards
that overlap. Every expected figure is a sum of areas of rectangles computed here with
``pyproj.Geod``; nothing comes from landrelease's own arithmetic.

Rectangles are segmentized to 0.0001° edges, on a grid every cut falls on, so that the pieces
PostGIS cuts have the same vertices as the rectangles measured here (a long straight edge in
lon/lat is not the geodesic PostGIS and Geod both draw between its ends).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import shapely
from conftest import empty
from pyproj import Geod
from shapely.geometry import Polygon, box
from sqlalchemy import Engine, text

from landrelease.indicators.annual import AnnualTable, annual_table, annual_tables
from landrelease.indicators.baseline import baseline, marking
from landrelease.indicators.completion import CompletionStatus, completion
from landrelease.indicators.efficiency import efficiency
from landrelease.indicators.progress import progress
from landrelease.indicators.regions import refresh_event_regions
from landrelease.models import CheckMethod
from landrelease.release import transaction
from landrelease.vocabulary import ActivityKind, HazardClass, ItemType

pytestmark = pytest.mark.db

GEOD = Geod(ellps="WGS84")
TODAY = dt.date(2025, 6, 30)
STEP = 0.0001


def rect(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    """A lon/lat rectangle with edges of at most 0.0001° (on the shared vertex grid)."""
    return box(x0, y0, x1, y1).segmentize(STEP)


def g(x0: float, y0: float, x1: float, y1: float) -> float:
    """Geodesic area (m²) of a rectangle, from pyproj."""
    area, _ = GEOD.geometry_area_perimeter(shapely.orient_polygons(rect(x0, y0, x1, y1)))
    return area


REGIONS = {
    "A": (20.0, 45.0, 20.1, 45.1),
    "B": (20.1, 45.0, 20.2, 45.1),
    "C": (20.0, 45.1, 20.2, 45.2),
    "D": (20.2, 45.0, 20.3, 45.1),
}

# The hazards and pieces of the scenario (lon0, lat0, lon1, lat1).
H1 = (20.02, 45.02, 20.04, 45.04)  # SHA in A, 2022
H1_WEST = (20.02, 45.02, 20.03, 45.04)  # cleared 2023
H1_EAST = (20.03, 45.02, 20.04, 45.04)
H2 = (20.09, 45.05, 20.11, 45.06)  # SHA across A|B, 2023
H2_A, H2_B = (20.09, 45.05, 20.1, 45.06), (20.1, 45.05, 20.11, 45.06)
C1 = (20.095, 45.05, 20.105, 45.06)  # confirmed into CHA H2-C1, 2023
C1_A, C1_B = (20.095, 45.05, 20.1, 45.06), (20.1, 45.05, 20.105, 45.06)
H2_A_LEFT, H2_B_LEFT = (20.09, 45.05, 20.095, 45.06), (20.105, 45.05, 20.11, 45.06)
C1_CLEAR = (20.095, 45.05, 20.103, 45.06)  # cleared 2024: more in A than in B
C1_CLEAR_B = (20.1, 45.05, 20.103, 45.06)
C1_LEFT = (20.103, 45.05, 20.105, 45.06)
H3 = (20.15, 45.02, 20.17, 45.04)  # CHA in B, 2022
H3_SOUTH, H3_NORTH = (20.15, 45.02, 20.17, 45.03), (20.15, 45.03, 20.17, 45.04)
H3_CORRECTED = (20.155, 45.03, 20.18, 45.04)  # 2024: removes 20.15-20.155, adds 20.17-20.18
H3_REMOVED, H3_ADDED = (20.15, 45.03, 20.155, 45.04), (20.17, 45.03, 20.18, 45.04)
H4 = (20.05, 45.15, 20.07, 45.17)  # SHA in C, recorded and cancelled in 2023
H5 = (20.055, 45.155, 20.06, 45.16)  # CHA reopened in C, 2024
H6 = (20.035, 45.02, 20.045, 45.03)  # SHA in A, 2024, overlapping H1's east half
H6_EAST = (20.04, 45.02, 20.045, 45.03)  # cleared 2024, nothing found
H6_WEST = (20.035, 45.02, 20.04, 45.03)  # = the overlap with H1


def build(engine: Engine) -> None:
    """Regions by SQL, then the two years through the ledger's transitions."""
    with engine.begin() as c:
        for code, bounds in REGIONS.items():
            c.execute(
                text(
                    "INSERT INTO regions (code, name, admin_level, geom, area_m2)"
                    " SELECT :code, :name, 1, g, lr_area_m2(g)"
                    " FROM (SELECT ST_Multi(ST_GeomFromText(:wkt, 4326)) AS g) s"
                ),
                {"code": code, "name": f"Region {code}", "wkt": rect(*bounds).wkt},
            )
    w = {"crs": 4326}
    with transaction(engine, today=TODAY) as ledger:
        ledger.record("H1", HazardClass.SHA, rect(*H1), recorded_date=dt.date(2022, 6, 1), **w)
        ledger.record("H3", HazardClass.CHA, rect(*H3), recorded_date=dt.date(2022, 9, 1), **w)
        ledger.mark("H1", marked=dt.date(2022, 10, 1), fenced=dt.date(2023, 2, 1))
    with transaction(engine, today=TODAY) as ledger:
        ledger.record("H4", HazardClass.SHA, rect(*H4), recorded_date=dt.date(2023, 2, 1), **w)
        ledger.record("H2", HazardClass.SHA, rect(*H2), recorded_date=dt.date(2023, 3, 1), **w)
        ledger.confirm(
            "H2", rect(*C1), effective_date=dt.date(2023, 5, 1), cha_national_id="H2-C1", **w
        )
        cl1 = ledger.add_activity(
            ActivityKind.CLEARANCE,
            reference="CL-2023-1",
            end_date=dt.date(2023, 7, 1),
            items={ItemType.SUBMUNITION: 5, ItemType.UXO: 1},
        )
        ledger.clear("H1", rect(*H1_WEST), effective_date=dt.date(2023, 7, 1), activity_id=cl1, **w)
        ledger.cancel("H4", rect(*H4), effective_date=dt.date(2023, 8, 1), **w)
        ledger.reduce("H3", rect(*H3_SOUTH), effective_date=dt.date(2023, 10, 1), **w)
    with transaction(engine, today=TODAY) as ledger:
        ledger.record("H6", HazardClass.SHA, rect(*H6), recorded_date=dt.date(2024, 2, 1), **w)
        ledger.reopen(
            "H4",
            rect(*H5),
            effective_date=dt.date(2024, 3, 1),
            new_national_id="H5",
            hazard_class=HazardClass.CHA,
            **w,
        )
        ledger.correct(
            "H3", rect(*H3_CORRECTED), effective_date=dt.date(2024, 4, 1), reason="resurvey", **w
        )
        ledger.mark("H3", marked=dt.date(2024, 1, 15))
        cl2 = ledger.add_activity(
            ActivityKind.CLEARANCE,
            reference="CL-2024-1",
            end_date=dt.date(2024, 6, 1),
            items={ItemType.AP_MINE: 2},
        )
        ledger.clear(
            "H2-C1", rect(*C1_CLEAR), effective_date=dt.date(2024, 6, 1), activity_id=cl2, **w
        )
        cl3 = ledger.add_activity(
            ActivityKind.CLEARANCE, reference="CL-2024-2", end_date=dt.date(2024, 9, 1)
        )
        ledger.clear("H6", rect(*H6_EAST), effective_date=dt.date(2024, 9, 1), activity_id=cl3, **w)


@dataclass(frozen=True)
class Scenario:
    tables: dict[tuple[int, str], AnnualTable]  # (year, check) -> table


@pytest.fixture(scope="module")
def scenario(engine: Engine) -> Iterator[Scenario]:
    empty(engine)
    build(engine)
    tables = {}
    with engine.connect() as c:
        for check in ("ledger", "geometry"):
            for table in annual_tables(c, [2023, 2024], level=1, check=check):
                tables[(table.year, check)] = table
    yield Scenario(tables)
    empty(engine)


def row(table: AnnualTable, code: str, cls: str):  # type: ignore[no-untyped-def]
    return next(r for r in table.rows if r.region.code == code and r.hazard_class == cls)


def approx(value: float) -> object:
    return pytest.approx(value, rel=1e-7, abs=0.05)


# What each (region, class) row must say, worked out from the scenario above.
EXPECTED_2023 = {
    ("A", "SHA"): dict(
        opening_count=1,
        opening_m2=g(*H1),
        recorded_m2=g(*H2_A),
        confirmed_out_m2=g(*C1_A),
        cleared_m2=g(*H1_WEST),
        closing_count=2,  # H1, and H2 (which straddles: it counts in B too)
        closing_m2=g(*H1_EAST) + g(*H2_A_LEFT),
    ),
    ("A", "CHA"): dict(confirmed_in_m2=g(*C1_A), closing_count=1, closing_m2=g(*C1_A)),
    ("B", "SHA"): dict(
        recorded_m2=g(*H2_B),
        confirmed_out_m2=g(*C1_B),
        closing_count=1,
        closing_m2=g(*H2_B_LEFT),
    ),
    ("B", "CHA"): dict(
        opening_count=1,
        opening_m2=g(*H3),
        confirmed_in_m2=g(*C1_B),
        reduced_m2=g(*H3_SOUTH),
        closing_count=2,
        closing_m2=g(*H3_NORTH) + g(*C1_B),
    ),
    ("C", "SHA"): dict(recorded_m2=g(*H4), cancelled_m2=g(*H4)),
    ("C", "CHA"): {},
    ("D", "SHA"): {},
    ("D", "CHA"): {},
}

EXPECTED_2024 = {
    ("A", "SHA"): dict(
        opening_count=2,
        opening_m2=g(*H1_EAST) + g(*H2_A_LEFT),
        recorded_m2=g(*H6),
        cleared_m2=g(*H6_EAST),
        closing_count=3,
        closing_m2=g(*H1_EAST) + g(*H2_A_LEFT) + g(*H6_WEST),
        overlap_m2=g(*H6_WEST),  # H6's rest lies wholly on H1's east half
    ),
    ("A", "CHA"): dict(opening_count=1, opening_m2=g(*C1_A), cleared_m2=g(*C1_A), closing_count=0),
    ("B", "SHA"): dict(
        opening_count=1, opening_m2=g(*H2_B_LEFT), closing_count=1, closing_m2=g(*H2_B_LEFT)
    ),
    ("B", "CHA"): dict(
        opening_count=2,
        opening_m2=g(*H3_NORTH) + g(*C1_B),
        corrected_m2=g(*H3_ADDED) - g(*H3_REMOVED),
        cleared_m2=g(*C1_CLEAR_B),
        closing_count=2,
        closing_m2=g(*H3_CORRECTED) + g(*C1_LEFT),
    ),
    ("C", "SHA"): {},
    ("C", "CHA"): dict(reopened_m2=g(*H5), closing_count=1, closing_m2=g(*H5)),
    ("D", "SHA"): {},
    ("D", "CHA"): {},
}

# Hazards open in both A and B: H2 (SHA) from its recording, H2-C1 (CHA) from its confirmation
# until the 2024 clearance took all of its part in A.
STRADDLING = {
    (2023, "opening", "SHA"): 0,
    (2023, "opening", "CHA"): 0,
    (2023, "closing", "SHA"): 1,
    (2023, "closing", "CHA"): 1,
    (2024, "opening", "SHA"): 1,
    (2024, "opening", "CHA"): 1,
    (2024, "closing", "SHA"): 1,
    (2024, "closing", "CHA"): 0,
}

FIELDS = (
    "opening_count",
    "opening_m2",
    "recorded_m2",
    "confirmed_in_m2",
    "confirmed_out_m2",
    "reopened_m2",
    "cancelled_m2",
    "reduced_m2",
    "cleared_m2",
    "corrected_m2",
    "closing_count",
    "closing_m2",
    "overlap_m2",
)


@pytest.mark.parametrize("check", ["ledger", "geometry"])
@pytest.mark.parametrize(("year", "expected"), [(2023, EXPECTED_2023), (2024, EXPECTED_2024)])
def test_every_row_has_the_hand_computed_figures(
    scenario: Scenario, check: str, year: int, expected: dict[tuple[str, str], dict[str, float]]
) -> None:
    table = scenario.tables[(year, check)]
    assert table.check is CheckMethod(check)
    for (code, cls), figures in expected.items():
        got = row(table, code, cls)
        for name in FIELDS:
            want = figures.get(name, 0)
            if name.endswith("_count"):
                assert getattr(got, name) == want, (code, cls, name)
            else:
                assert getattr(got, name) == approx(want), (code, cls, name)
        assert got.balances, (code, cls, got.gap_m2)


@pytest.mark.parametrize("check", ["ledger", "geometry"])
@pytest.mark.parametrize("year", [2023, 2024])
def test_all_rows_national_rows_and_no_outside_row(
    scenario: Scenario, check: str, year: int
) -> None:
    table = scenario.tables[(year, check)]
    expected = EXPECTED_2023 if year == 2023 else EXPECTED_2024
    assert not [r for r in table.rows if r.region.code == "OUTSIDE"]
    assert table.unbalanced == []
    for code in REGIONS:
        both = row(table, code, "all")
        for name in FIELDS:
            if name == "overlap_m2":
                continue
            want = sum(expected[(code, cls)].get(name, 0) for cls in ("SHA", "CHA"))
            assert getattr(both, name) == approx(want), (code, name)
    for cls in ("SHA", "CHA"):
        national = table.national(cls)
        for name in FIELDS:
            want = sum(expected[(code, cls)].get(name, 0) for code in REGIONS)
            if name.endswith("_count"):
                # A hazard across A|B is one hazard nationally but counts in both regions.
                when = name.removesuffix("_count")
                assert getattr(national, name) == want - STRADDLING[(year, when, cls)], (cls, name)
            else:
                assert getattr(national, name) == approx(want), (cls, name)


def test_straddling_hazard_counts_in_each_region_by_its_area(scenario: Scenario) -> None:
    table = scenario.tables[(2023, "ledger")]
    # H2 was recorded across the A|B border: half its area in each region.
    assert row(table, "A", "SHA").recorded_m2 == approx(g(*H2_A))
    assert row(table, "B", "SHA").recorded_m2 == approx(g(*H2_B))
    assert g(*H2_A) + g(*H2_B) == pytest.approx(g(*H2), rel=1e-9)
    # The confirmed part straddles too: H2-C1 counts as one CHA in A and one in B.
    assert row(table, "A", "CHA").closing_count == 1
    assert row(table, "B", "CHA").closing_count == 2
    assert table.national("CHA").closing_count == 2  # H3 and H2-C1


def test_items_by_type_count_where_the_activity_cleared_most(scenario: Scenario) -> None:
    t23, t24 = scenario.tables[(2023, "ledger")], scenario.tables[(2024, "ledger")]
    assert row(t23, "A", "SHA").items == {"SUBMUNITION": 5, "UXO": 1}
    assert row(t23, "A", "all").items == {"SUBMUNITION": 5, "UXO": 1}
    assert t23.national().items == {"SUBMUNITION": 5, "UXO": 1}
    assert row(t23, "B", "all").items == {}
    # The 2024 clearance of H2-C1 took 0.005° in A and 0.003° in B: its mines count in A.
    assert row(t24, "A", "CHA").items == {"AP_MINE": 2}
    assert row(t24, "B", "CHA").items == {}
    assert t24.national("CHA").items == {"AP_MINE": 2}


def test_overlap_is_reported_and_totals_count_it_once(scenario: Scenario) -> None:
    table = scenario.tables[(2024, "geometry")]
    overlap = g(*H6_WEST)
    for code, cls in (("A", "SHA"), ("A", "all"), ("TOTAL", "SHA"), ("TOTAL", "all")):
        got = row(table, code, cls)
        assert got.overlap_m2 == approx(overlap), (code, cls)
        assert got.closing_union_m2 == approx(got.closing_m2 - overlap)
    assert row(table, "B", "all").overlap_m2 == 0
    assert [(p.national_id, p.other_national_id) for p in table.overlaps] == [("H1", "H6")]
    assert table.overlaps[0].overlap_m2 == approx(overlap)
    assert table.overlaps[0].regions == "A"
    # No overlap before H6 was recorded.
    assert scenario.tables[(2023, "geometry")].overlaps == []


def test_opening_is_the_previous_closing_and_both_checks_agree(scenario: Scenario) -> None:
    for check in ("ledger", "geometry"):
        t23, t24 = scenario.tables[(2023, check)], scenario.tables[(2024, check)]
        for before in t23.rows:
            after = row(t24, before.region.code, before.hazard_class)
            assert after.opening_m2 == before.closing_m2
            assert after.opening_count == before.closing_count
    for key in [(2023, "ledger"), (2024, "ledger")]:
        ledger, geometry = scenario.tables[key], scenario.tables[(key[0], "geometry")]
        for a, b in zip(ledger.rows, geometry.rows, strict=True):
            assert (a.region.code, a.hazard_class) == (b.region.code, b.hazard_class)
            assert a.closing_m2 == approx(b.closing_m2)
            assert a.closing_count == b.closing_count


@pytest.mark.parametrize("check", ["ledger", "geometry"])
def test_a_stale_stored_area_shows_as_a_gap(scenario: Scenario, engine: Engine, check: str) -> None:
    """The gap is a real check: tamper with one stored flow and the row stops balancing."""
    with engine.connect() as c:
        c.execute(
            text(
                "UPDATE event_regions SET area_m2 = area_m2 + 500"
                " WHERE kind = 'recorded' AND region_id = (SELECT id FROM regions WHERE code = 'A')"
                "   AND hazard_id = (SELECT id FROM hazards WHERE national_id = 'H6')"
            )
        )
        table = annual_table(c, 2024, level=1, check=check)
        c.rollback()
    got = row(table, "A", "SHA")
    assert not got.balances
    assert got.gap_m2 == pytest.approx(500, abs=0.05)
    assert table.national("SHA").balances  # national flows come from the ledger itself


def test_refresh_rebuilds_the_same_derived_rows(scenario: Scenario, engine: Engine) -> None:
    query = text(
        "SELECT (SELECT count(*) FROM event_regions), (SELECT sum(area_m2) FROM event_regions),"
        " (SELECT count(*) FROM stock_spans), (SELECT sum(area_m2) FROM stock_spans),"
        " (SELECT count(*) FROM event_overlaps)"
    )
    with engine.connect() as c:
        before = c.execute(query).one()
        refresh_event_regions(c)
        after = c.execute(query).one()
        c.rollback()
    assert after[0] == before[0] and after[2] == before[2] and after[4] == before[4]
    assert after[1] == pytest.approx(before[1], rel=1e-12)
    assert after[3] == pytest.approx(before[3], rel=1e-12)


def test_baseline_and_marking(scenario: Scenario, engine: Engine) -> None:
    with engine.connect() as c:
        rows = {r.region.code: r for r in baseline(c, dt.date(2023, 12, 31), level=1)}
        marks = marking(c, [dt.date(2022, 12, 31), TODAY], level=1)
    assert (rows["A"].sha.count, rows["A"].cha.count) == (2, 1)
    assert rows["A"].sha.area_m2 == approx(g(*H1_EAST) + g(*H2_A_LEFT))
    assert rows["B"].cha.area_m2 == approx(g(*H3_NORTH) + g(*C1_B))
    assert rows["TOTAL"].total.count == 4  # H1, H2, H2-C1, H3
    assert rows["TOTAL"].overlap_m2 == 0
    national = {m.as_of: m for m in marks if m.region.code == "TOTAL"}
    milestone = national[dt.date(2022, 12, 31)]
    assert (milestone.hazards, milestone.marked, milestone.fenced) == (2, 1, 0)  # H1, H3
    assert milestone.marked_area_share == pytest.approx(g(*H1) / (g(*H1) + g(*H3)), rel=1e-7)
    now = national[TODAY]
    # Open now: H1, H2, H2-C1, H3, H5, H6; H1 and H3 marked, H1 fenced.
    assert (now.hazards, now.marked, now.fenced) == (6, 2, 1)
    assert now.marked_share == pytest.approx(2 / 6)


def test_efficiency(scenario: Scenario, engine: Engine) -> None:
    with engine.connect() as c:
        rows = {(r.year, r.region.code): r for r in efficiency(c, [2023, 2024], level=1)}
    first = rows[(2023, "TOTAL")]
    assert first.items_destroyed == 6
    assert first.items_per_ha == pytest.approx(6 / (g(*H1_WEST) / 1e4), rel=1e-7)
    assert first.nothing_found_share == 0
    second = rows[(2024, "TOTAL")]
    cleared = g(*C1_CLEAR) + g(*H6_EAST)
    assert second.cleared_m2 == approx(cleared)
    assert second.items_destroyed == 2
    assert second.nothing_found_share == pytest.approx(g(*H6_EAST) / cleared, rel=1e-7)
    assert rows[(2024, "A")].items_destroyed == 2
    assert rows[(2024, "B")].items_destroyed == 0
    assert rows[(2024, "B")].cleared_m2 == approx(g(*C1_CLEAR_B))


def test_completion(scenario: Scenario, engine: Engine) -> None:
    with engine.connect() as c:
        end_2023 = {r.region.code: r for r in completion(c, dt.date(2023, 12, 31), level=1)}
        end_2024 = {r.region.code: r for r in completion(c, dt.date(2024, 12, 31), level=1)}
    assert end_2023["C"].status is CompletionStatus.COMPLETED
    assert end_2023["C"].completed_on == dt.date(2023, 8, 1)
    assert end_2023["C"].recorded_m2 == approx(g(*H4))
    assert end_2023["D"].status is CompletionStatus.NONE_RECORDED
    assert end_2023["A"].status is CompletionStatus.REMAINING
    assert end_2023["TOTAL"].status is CompletionStatus.REMAINING
    # The reopening of 2024 puts region C back among those with land remaining.
    assert end_2024["C"].status is CompletionStatus.REMAINING
    assert end_2024["C"].remaining_m2 == approx(g(*H5))


def test_progress_is_comparable_across_years(scenario: Scenario, engine: Engine) -> None:
    with engine.connect() as c:
        rows = {
            (r.year, r.region.code, r.hazard_class): r for r in progress(c, [2023, 2024], level=1)
        }
    assert rows[(2023, "C", "SHA")].cancelled_m2 == approx(g(*H4))
    assert rows[(2023, "B", "CHA")].reduced_m2 == approx(g(*H3_SOUTH))
    assert rows[(2024, "A", "all")].cleared_m2 == approx(g(*C1_A) + g(*H6_EAST))
    assert rows[(2024, "TOTAL", "all")].remaining_union_m2 == approx(
        g(*H1_EAST) + g(*H2_A_LEFT) + g(*H2_B_LEFT) + g(*C1_LEFT) + g(*H3_CORRECTED) + g(*H5)
    )
