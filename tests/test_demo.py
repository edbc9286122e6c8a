"""The demo and the region loader, checked against computations of their own.

The demo runs once per module (150 hazards, three field years) and every figure it reports is
checked against the database or against pyproj directly, not against the demo's own code.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
import shapely
from conftest import empty
from pyproj import Geod
from sqlalchemy import Engine, text

from landrelease.demo import DemoResult, _balance_line, run_demo
from landrelease.indicators.balance import ClassBalance, national_balance
from landrelease.regions import gis_data_dir, load_bundled_regions, load_regions

pytestmark = pytest.mark.db

GEOD = Geod(ellps="WGS84")
SIZE = {"hazards": 150, "seed": 11, "start_year": 2019, "end_year": 2021}
TODAY = dt.date(2021, 12, 31)


def _run(engine: Engine) -> tuple[DemoResult, list[str]]:
    lines: list[str] = []
    result = run_demo(engine, **SIZE, echo=lines.append)
    return result, lines


@pytest.fixture(scope="module")
def demo(engine: Engine) -> Iterator[tuple[DemoResult, list[str]]]:
    """One demo run on an emptied database, shared by the tests of this module."""
    empty(engine)
    yield _run(engine)
    empty(engine)


def _geodesic_area(wkb: bytes) -> float:
    """Area on WGS84 straight from pyproj, rings oriented first (Geod needs CCW shells)."""
    area, _ = GEOD.geometry_area_perimeter(shapely.orient_polygons(shapely.from_wkb(wkb)))
    return area


def test_every_hazard_lies_within_bih(demo: tuple[DemoResult, list[str]], engine: Engine) -> None:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                """
                WITH bih AS (SELECT ST_Union(geom) AS g FROM regions WHERE admin_level = 1),
                shapes AS (
                    SELECT national_id AS label, geom FROM hazards WHERE geom IS NOT NULL
                    UNION ALL
                    SELECT 'event ' || id, piece FROM ledger_events WHERE sign = 1
                )
                SELECT label, ST_Area(ST_Difference(s.geom, bih.g)::geography) AS outside
                FROM shapes s, bih
                """
            )
        ).all()
    assert len(rows) > SIZE["hazards"]
    outside = {row.label: row.outside for row in rows if row.outside >= 1.0}
    assert outside == {}


def test_recorded_areas_are_geodesic_and_between_0_1_and_50_ha(
    demo: tuple[DemoResult, list[str]], engine: Engine
) -> None:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT area_m2, ST_AsBinary(piece) AS wkb FROM ledger_events"
                " WHERE kind = 'recorded'"
            )
        ).all()
    assert len(rows) == SIZE["hazards"]
    for row in rows:
        area = _geodesic_area(row.wkb)
        assert 1_000.0 <= area <= 500_000.0
        assert row.area_m2 == pytest.approx(area, rel=1e-6)


def test_some_hazards_have_holes_or_several_parts(
    demo: tuple[DemoResult, list[str]], engine: Engine
) -> None:
    with engine.connect() as connection:
        holes, multi = connection.execute(
            text(
                """
                SELECT count(*) FILTER (WHERE ST_NRings(piece) > ST_NumGeometries(piece)),
                       count(*) FILTER (WHERE ST_NumGeometries(piece) > 1)
                FROM ledger_events WHERE kind = 'recorded'
                """
            )
        ).one()
    assert holes > 0
    assert multi > 0


def test_balance_rows_balance(demo: tuple[DemoResult, list[str]], engine: Engine) -> None:
    result, lines = demo
    with engine.connect() as connection:
        rows = national_balance(connection)
    assert [row.hazard_class for row in rows] == ["SHA", "CHA"]
    for row in rows:
        scale = row.recorded + row.confirmed_in + row.reopened
        assert abs(row.gap) <= 0.01 + 1e-9 * scale, row
    assert result.balanced
    assert sum(" balanced" in line and "gap" in line for line in lines) == 2
    assert not any("GAP" in line for line in lines)


def test_each_hazard_conserves_its_area(demo: tuple[DemoResult, list[str]], engine: Engine) -> None:
    """Invariant 1: signed event areas add up to what remains, hazard by hazard."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                """
                SELECT h.national_id, h.area_m2,
                       sum(e.sign * e.area_m2) AS flows, sum(e.area_m2) AS scale
                FROM hazards h JOIN ledger_events e ON e.hazard_id = h.id
                GROUP BY h.id
                """
            )
        ).all()
    off = {r.national_id: r.flows - r.area_m2 for r in rows if abs(r.flows - r.area_m2) > 0.01}
    assert off == {}


def test_released_by_each_method(demo: tuple[DemoResult, list[str]], engine: Engine) -> None:
    result, _ = demo
    with engine.connect() as connection:
        ledger = dict(
            connection.execute(
                text(
                    "SELECT kind, sum(area_m2) FROM ledger_events"
                    " WHERE kind IN ('cancelled', 'reduced', 'cleared') GROUP BY kind"
                )
            ).all()
        )
        items = connection.execute(
            text("SELECT COALESCE(sum(destroyed), 0) FROM activity_items")
        ).scalar_one()
    for method in ("cancelled", "reduced", "cleared"):
        assert ledger[method] > 0
        assert result.released_m2[method] == pytest.approx(ledger[method], abs=1e-6)
    assert result.confirmations > 0
    assert items == sum(result.items_destroyed.values()) > 0
    assert 0.05 < result.released_share < 0.9


def test_dates_are_neither_future_nor_before_recording(
    demo: tuple[DemoResult, list[str]], engine: Engine
) -> None:
    with engine.connect() as connection:
        latest, early = connection.execute(
            text(
                """
                SELECT max(e.effective_date),
                       count(*) FILTER (WHERE e.effective_date < h.recorded_date)
                FROM ledger_events e JOIN hazards h ON h.id = e.hazard_id
                """
            )
        ).one()
        recorded = connection.execute(
            text("SELECT min(recorded_date), max(recorded_date) FROM hazards")
        ).one()
    assert latest <= TODAY
    assert early == 0
    assert recorded[0] >= dt.date(2015, 1, 1)


def test_summary_prints_remaining_from_the_hazards_table(
    demo: tuple[DemoResult, list[str]], engine: Engine
) -> None:
    _, lines = demo
    with engine.connect() as connection:
        stock = {
            row.hazard_class: (row.n, row.area)
            for row in connection.execute(
                text(
                    "SELECT hazard_class, count(*) AS n, sum(area_m2) AS area FROM hazards"
                    " WHERE status = 'active' GROUP BY hazard_class"
                )
            )
        }
    assert set(stock) == {"SHA", "CHA"}
    for cls, (n, area) in stock.items():
        pattern = rf"^remaining {cls}: (\d+) hazards, ([\d,]+\.\d{{3}}) km² \(([\d,]+) m²\)$"
        found = [m for line in lines if (m := re.match(pattern, line))]
        assert len(found) == 1, lines
        count, km2, m2 = found[0].groups()
        assert int(count) == n
        assert float(m2.replace(",", "")) == pytest.approx(area, abs=0.5)
        assert km2 == f"{area / 1e6:,.3f}"
    assert any(
        line.startswith("regions loaded: level 1: 3, level 2: 12, level 3: 142") for line in lines
    )


def test_same_seed_gives_the_same_totals(
    demo: tuple[DemoResult, list[str]], engine: Engine
) -> None:
    first, first_lines = demo
    empty(engine)
    second, second_lines = _run(engine)
    assert second.recorded_m2 == pytest.approx(first.recorded_m2, abs=1e-6)
    assert second.remaining_m2 == pytest.approx(first.remaining_m2, abs=1e-6)
    assert second.released_m2 == pytest.approx(first.released_m2, abs=1e-6)
    assert (second.active_hazards, second.releases, second.items_destroyed) == (
        first.active_hazards,
        first.releases,
        first.items_destroyed,
    )
    assert (second.confirmations, second.reopened, second.corrected_hazards) == (
        first.confirmations,
        first.reopened,
        first.corrected_hazards,
    )
    # Everything but the timing line is the same text.
    assert first_lines[:-1] == second_lines[:-1]


def test_demo_refuses_a_database_with_hazards(
    demo: tuple[DemoResult, list[str]], engine: Engine
) -> None:
    from landrelease.errors import LandReleaseError

    with pytest.raises(LandReleaseError, match="without hazards"):
        run_demo(engine, hazards=5, echo=lambda _line: None)


# -- regions ---------------------------------------------------------------------------------


def _regions(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                text(
                    "SELECT id, code, name, admin_level, parent_id, area_m2, md5(ST_AsBinary(geom))"
                    " FROM regions ORDER BY id"
                )
            )
        ]


def _parent_names(engine: Engine) -> dict[str, str | None]:
    with engine.connect() as connection:
        return {
            row.code: row.parent
            for row in connection.execute(
                text(
                    "SELECT c.code, p.name AS parent FROM regions c"
                    " LEFT JOIN regions p ON p.id = c.parent_id"
                )
            )
        }


def test_load_regions_counts_parents_and_idempotence(db: Engine) -> None:
    folder = gis_data_dir() / "bih_admin"
    with db.begin() as connection:
        counts = [
            load_regions(connection, folder / f"bih_adm{level}.geojson", level=level)
            for level in (1, 2, 3)
        ]
    assert counts == [3, 12, 142]
    before = _regions(db)
    with db.connect() as connection:
        orphans = connection.execute(
            text(
                """
                SELECT c.admin_level, count(*) FROM regions c
                LEFT JOIN regions p ON p.id = c.parent_id
                WHERE c.admin_level > 1 AND (p.id IS NULL OR p.admin_level <> c.admin_level - 1)
                GROUP BY 1
                """
            )
        ).all()
        area = connection.execute(
            text("SELECT sum(area_m2) FROM regions WHERE admin_level = 3")
        ).scalar_one()
    assert orphans == []
    # BiH is about 51,200 km²; the geodesic area of the municipalities must say so.
    assert 51_000e6 < area < 51_500e6
    parents = _parent_names(db)
    assert parents["43093233B64626551405892"] == "Republika Srpska"  # Banja Luka
    assert parents["43093233B67623280303241"] == "Herzegovina-Neretva Canton"  # Mostar
    # Two municipalities named Novi Grad, keyed apart by shapeID, in different units.
    assert {parents["43093233B49947296698025"], parents["43093233B94913651340481"]} == {
        "Republika Srpska",
        "Sarajevo Canton",
    }
    with db.begin() as connection:
        again = load_bundled_regions(connection)
    assert again == {1: 0, 2: 0, 3: 0}
    assert _regions(db) == before


def test_parents_follow_the_nearest_level_whatever_the_order(db: Engine) -> None:
    """Municipalities loaded before the cantons move to them when the cantons arrive."""
    folder = gis_data_dir() / "bih_admin"
    with db.begin() as connection:
        load_regions(connection, folder / "bih_adm1.geojson", level=1)
        load_regions(connection, folder / "bih_adm3.geojson", level=3)
    assert _parent_names(db)["43093233B67623280303241"] == "Federation of Bosnia and Herzegovina"
    with db.begin() as connection:
        assert load_regions(connection, folder / "bih_adm2.geojson", level=2) == 12
    assert _parent_names(db)["43093233B67623280303241"] == "Herzegovina-Neretva Canton"


def test_load_regions_refuses_a_missing_field(db: Engine) -> None:
    from landrelease.errors import LandReleaseError

    folder = gis_data_dir() / "bih_admin"
    with db.begin() as connection, pytest.raises(LandReleaseError, match="no field pcode"):
        load_regions(connection, folder / "bih_adm1.geojson", level=1, code_field="pcode")
    assert _regions(db) == []


@pytest.mark.parametrize(
    ("remaining", "shown"),
    [(100.0001, "gap +0.000 m² balanced"), (101.5, "gap -1.500 m² GAP")],
    ids=["rounds-away", "real-gap"],
)
def test_a_gap_that_rounds_away_reads_plus_zero(remaining: float, shown: str) -> None:
    """Float noise just below zero must not print as "-0.000"; a real gap keeps its sign.

    By hand: 100 recorded, nothing moved, so the remaining area should be 100 m².
    """
    row = ClassBalance("SHA", 1, 100.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, remaining)
    assert _balance_line(row).endswith(shown)
