"""Work plans (Action 19): entering and importing targets, plan against actual, the outlook.

One region, one hazard recorded in 2020 and cleared a strip a year in 2021-2023; every expected
figure is computed here from ``pyproj.Geod`` areas of those rectangles.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pytest
import shapely
from click.testing import CliRunner
from conftest import empty
from pyproj import Geod
from shapely.geometry import Polygon, box
from sqlalchemy import Engine, text

from landrelease.cli import main
from landrelease.errors import LandReleaseError
from landrelease.indicators.workplan import (
    ensure_plan,
    import_targets,
    parse_area,
    set_target,
    targets,
    work_plan_report,
)
from landrelease.release import transaction
from landrelease.reports.build import lap_report, write_report
from landrelease.vocabulary import HazardClass

pytestmark = pytest.mark.db

GEOD = Geod(ellps="WGS84")
TODAY = dt.date(2024, 6, 30)
DEADLINE = dt.date(2026, 12, 31)
H1 = (20.02, 45.02, 20.06, 45.04)
STRIPS = {  # cleared each year
    2021: (20.02, 45.02, 20.03, 45.04),
    2022: (20.03, 45.02, 20.035, 45.04),
    2023: (20.035, 45.02, 20.045, 45.04),
}


def rect(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    return box(x0, y0, x1, y1).segmentize(0.0001)


def g(bounds: tuple[float, float, float, float]) -> float:
    area, _ = GEOD.geometry_area_perimeter(shapely.orient_polygons(rect(*bounds)))
    return area


@pytest.fixture
def cleared(db: Engine) -> Engine:
    empty(db)
    with db.begin() as c:
        c.execute(text("TRUNCATE published_reports, work_plans CASCADE"))
        c.execute(
            text(
                "INSERT INTO regions (code, name, admin_level, geom, area_m2)"
                " SELECT 'A', 'Region A', 1, g, lr_area_m2(g)"
                " FROM (SELECT ST_Multi(ST_GeomFromText(:wkt, 4326)) AS g) s"
            ),
            {"wkt": rect(20.0, 45.0, 20.1, 45.1).wkt},
        )
    with transaction(db, today=TODAY) as ledger:
        ledger.record("H1", HazardClass.SHA, rect(*H1), crs=4326, recorded_date=dt.date(2020, 3, 1))
        for year, strip in STRIPS.items():
            ledger.clear("H1", rect(*strip), crs=4326, effective_date=dt.date(year, 9, 1))
    return db


@pytest.mark.parametrize(
    ("typed", "m2"),
    [("150000", 150_000), ("15 ha", 150_000), ("0.15km2", 150_000), ("1,500 m2", 1500)],
)
def test_parse_area(typed: str, m2: float) -> None:
    assert parse_area(typed) == pytest.approx(m2)


@pytest.mark.parametrize("typed", ["", "ha", "12 acres", "-5 ha"])
def test_parse_area_refuses(typed: str) -> None:
    with pytest.raises(LandReleaseError):
        parse_area(typed)


def test_targets_are_checked_and_idempotent(cleared: Engine, tmp_path: Path) -> None:
    with cleared.begin() as c:
        with pytest.raises(LandReleaseError, match="give its deadline"):
            ensure_plan(c, "P")
        plan = ensure_plan(c, "P", deadline=DEADLINE)
        set_target(c, plan, 2024, 20_000, region_code="A")
        set_target(c, plan, 2024, 20_000, region_code="A")  # the same target again: no change
        with pytest.raises(LandReleaseError, match="after the plan's deadline"):
            set_target(c, plan, 2027, 1, region_code="A")
        with pytest.raises(LandReleaseError, match="either by method or for any method"):
            set_target(c, plan, 2024, 5_000, region_code="A", method="cleared")
        with pytest.raises(LandReleaseError, match="no region with code"):
            set_target(c, plan, 2024, 5_000, region_code="ZZ")
        assert [(t.year, t.region.code, t.method, t.target_m2) for t in targets(c, plan)] == [
            (2024, "A", None, 20_000)
        ]
    good = tmp_path / "plan.csv"
    good.write_text("year,region,method,target_ha\n2025,A,cleared,3\n2025,,,4.5\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("year,region,method,target_ha\n2026,A,,1\n2030,A,,1\n2026,A,burnt,1\n")
    with cleared.begin() as c:
        plan = ensure_plan(c, "P")
        assert len(import_targets(c, plan, good)) == 2
        assert len(import_targets(c, plan, good)) == 2  # again: the same two rows
        with pytest.raises(LandReleaseError, match="2 line\\(s\\) refused") as refused:
            import_targets(c, plan, bad)
        assert "line 3" in str(refused.value) and "line 4" in str(refused.value)
        entered = [(t.year, t.region.code, t.method, t.target_m2) for t in targets(c, plan)]
    assert entered == [
        (2024, "A", None, 20_000),
        (2025, "TOTAL", None, 45_000),
        (2025, "A", "cleared", 30_000),
    ]


def test_plan_against_actual_and_the_outlook(cleared: Engine) -> None:
    with cleared.begin() as c:
        plan = ensure_plan(c, "P", deadline=DEADLINE)
        for year, target in ((2022, 8_000), (2023, 12_000), (2024, 10_000), (2025, 10_000)):
            set_target(c, plan, year, target, region_code="A")
    with cleared.connect() as c:
        report = work_plan_report(c, "P", as_of=TODAY, teams=2, m2_per_team_year=50_000)
    actual = {r.target.year: r for r in report.rows}
    assert actual[2022].actual_m2 == pytest.approx(g(STRIPS[2022]), rel=1e-7)
    assert actual[2023].actual_m2 == pytest.approx(g(STRIPS[2023]), rel=1e-7)
    assert actual[2023].achieved == pytest.approx(g(STRIPS[2023]) / 12_000, rel=1e-7)
    assert actual[2024].actual_m2 == 0 and actual[2024].partial  # 2024 not over on TODAY
    assert actual[2025].actual_m2 is None  # to come

    remaining = g(H1) - sum(g(s) for s in STRIPS.values())
    years_left = (DEADLINE - TODAY).days / 365.25
    rate = sum(g(s) for s in STRIPS.values()) / 3  # recent rate: 2021-2023
    for outlook in report.outlook:  # region A and the country hold the same hazard
        assert outlook.remaining_m2 == pytest.approx(remaining, rel=1e-7)
        assert outlook.required_m2_per_year == pytest.approx(remaining / years_left, rel=1e-7)
        assert outlook.recent_m2_per_year == pytest.approx(rate, rel=1e-7)
        expected = TODAY + dt.timedelta(days=round(remaining / rate * 365.25))
        assert abs((outlook.projected - expected).days) <= 1
        assert outlook.on_track is (expected <= DEADLINE)
    assert report.recent_years == [2021, 2022, 2023]
    capacity = report.capacity
    assert capacity is not None
    assert capacity.years_needed == pytest.approx(remaining / 100_000, rel=1e-7)
    assert capacity.meets_deadline is (remaining / 100_000 <= years_left)

    burndown = report.burndown
    assert burndown.years == list(range(2021, 2027))
    start = g(H1) - g(STRIPS[2021])
    assert burndown.actual_m2[0] == pytest.approx(start, rel=1e-7)
    assert burndown.actual_m2[2] == pytest.approx(remaining, rel=1e-7)
    assert burndown.actual_m2[3:] == [None, None, None]
    assert burndown.planned_m2[:5] == pytest.approx(
        [start, start - 8_000, start - 20_000, start - 30_000, start - 40_000], rel=1e-7
    )
    assert burndown.required_m2[-1] == pytest.approx(0, abs=1e-6)
    assert not any(math.isnan(v) for v in burndown.planned_m2 if v is not None)


def test_plan_cli_and_lap_report_with_burndown(
    cleared: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "LANDRELEASE_DATABASE_URL", cleared.url.render_as_string(hide_password=False)
    )
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    run(
        "plan",
        "add",
        "--plan",
        "P",
        "--deadline",
        "2026-12-31",
        "--year",
        "2022",
        "--region",
        "A",
        "--target",
        "0.8ha",
    )
    targets_file = tmp_path / "targets.csv"
    targets_file.write_text("year,region,target_m2\n2023,A,12000\n2024,A,10000\n")
    assert "2 target(s) entered" in run("plan", "import", str(targets_file), "--plan", "P")
    shown = run("plan", "show", "--plan", "P")
    assert "3 target(s)" in shown and "2022" in shown
    assert "P  deadline 2026-12-31" in run("plan", "show")
    refused = runner.invoke(
        main, ["plan", "add", "--plan", "Q", "--year", "2022", "--target", "1ha"]
    )
    assert refused.exit_code == 1 and "give its deadline" in refused.output

    out = tmp_path / "lap.html"
    run(
        "report",
        "lap",
        "--year",
        "2023",
        "--baseline-date",
        "2020-12-31",
        "--plan",
        "P",
        "--teams",
        "2",
        "--per-team",
        "5ha",
        "--format",
        "html",
        "--out",  # the same flag as the map's, also spelled --output
        str(out),
    )
    page = out.read_text()
    assert "Action 19: work plan" in page and "Burndown" in page
    assert page.count('src="data:image/png;base64,') == 2  # burndown and released by method

    with cleared.connect() as c:
        report = lap_report(c, 2023, baseline_date=dt.date(2020, 12, 31), plan="P")
    chart = next(ch for ch in report.charts if ch.name == "burndown")
    assert chart.png.startswith(b"\x89PNG\r\n\x1a\n")
    written = write_report(report, "csv", tmp_path / "lap")
    assert tmp_path / "lap" / "lap_2023_level1_burndown.png" in written
    assert {p.name for p in written} >= {
        "lap_2023_level1_baseline.csv",
        "lap_2023_level1_plan_vs_actual.csv",
        "lap_2023_level1_outlook.csv",
        "lap_2023_level1_progress.csv",
        "lap_2023_level1_efficiency.csv",
        "lap_2023_level1_completion.csv",
    }
