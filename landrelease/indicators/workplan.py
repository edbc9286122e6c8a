"""Action 19 of the Lausanne Action Plan: work plans, and how reality compares with them.

A work plan holds annual targets of land to release (m², per region or for the whole country,
optionally by method) up to the Article 4 deadline. The report compares each target with the
land actually released (from the ledger, never typed), and looks ahead from what remains:

- the **required rate**: remaining area / years left to the deadline;
- the **recent rate**: land released per year, the mean of the last complete years (3 by
  default), and the completion date it projects;
- a **capacity scenario**: teams x m² per team-year, and the completion date it gives;
- a **burndown**: remaining area at each year end against the plan's remaining area (the
  remaining area when the plan starts, minus the cumulative targets).

Remaining area counts overlapping hazards once (Σ − overlap). A target with no method counts
land released by any method. For one year and region, targets are either by method or for
any method, never both (they would count the same land twice).
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, text

from landrelease.db.derived import settle
from landrelease.errors import LandReleaseError
from landrelease.indicators.annual import ALL_CLASSES, CLASSES, overlaps, stocks, year_bounds
from landrelease.indicators.regions import NATIONAL, RegionRef, region_by_code
from landrelease.models import CheckMethod, ReleaseMethod
from landrelease.units import M2_PER_HA, M2_PER_KM2
from landrelease.vocabulary import RELEASE_KINDS

#: Mean of this many complete years gives the recent rate of release.
RECENT_YEARS = 3
DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class Plan:
    """A named work plan and its deadline."""

    id: int
    name: str
    deadline: dt.date
    note: str | None


@dataclass(frozen=True)
class Target:
    """Land a plan means to release in a year, in a region (or the country), by a method."""

    year: int
    region: RegionRef
    method: str | None
    target_m2: float


_UNITS = {"m2": 1.0, "m²": 1.0, "ha": M2_PER_HA, "km2": M2_PER_KM2, "km²": M2_PER_KM2}


def parse_area(value: str) -> float:
    """An area typed by a user, in m²: ``12000``, ``12000 m2``, ``1.2 ha``, ``0.012 km2``."""
    match = re.fullmatch(r"\s*([0-9][0-9_,]*(?:\.[0-9]*)?)\s*([a-zA-Z²0-9]*)\s*", value or "")
    if not match:
        raise LandReleaseError(f"{value!r} is not an area; e.g. 150000, 15 ha or 0.15 km2")
    number = float(match.group(1).replace(",", "").replace("_", ""))
    unit = match.group(2).lower() or "m2"
    if unit not in _UNITS:
        raise LandReleaseError(f"{value!r}: unknown unit {unit!r}; use m2, ha or km2")
    return number * _UNITS[unit]


# -- plans and targets -----------------------------------------------------------------------


def get_plan(connection: Connection, name: str) -> Plan:
    """The plan of this name; an error lists the plans there are."""
    row = connection.execute(
        text("SELECT id, name, deadline, note FROM work_plans WHERE name = :n"), {"n": name}
    ).first()
    if row is None:
        names = connection.execute(text("SELECT name FROM work_plans ORDER BY name")).scalars()
        known = ", ".join(names) or "none yet"
        raise LandReleaseError(f"no work plan {name!r}; plans: {known}")
    return Plan(row.id, row.name, row.deadline, row.note)


def plans(connection: Connection) -> list[Plan]:
    """Every work plan, by name."""
    rows = connection.execute(
        text("SELECT id, name, deadline, note FROM work_plans ORDER BY name")
    ).all()
    return [Plan(row.id, row.name, row.deadline, row.note) for row in rows]


def ensure_plan(
    connection: Connection, name: str, *, deadline: dt.date | None = None, note: str | None = None
) -> Plan:
    """The plan of this name, created if new (a deadline is then required) or re-dated.

    Giving a different deadline for an existing plan records an extension of the deadline;
    targets beyond the new deadline are refused, so shortening it below a target is an error.
    """
    if not name or not name.strip():
        raise LandReleaseError("a work plan needs a name")
    existing = connection.execute(
        text("SELECT id FROM work_plans WHERE name = :n"), {"n": name}
    ).first()
    if existing is None:
        if deadline is None:
            raise LandReleaseError(f"work plan {name!r} is new: give its deadline")
        connection.execute(
            text("INSERT INTO work_plans (name, deadline, note) VALUES (:n, :d, :note)"),
            {"n": name, "d": deadline, "note": note},
        )
    elif deadline is not None:
        late = connection.execute(
            text("SELECT max(year) FROM work_plan_targets WHERE plan_id = :p"),
            {"p": existing.id},
        ).scalar()
        if late is not None and late > deadline.year:
            raise LandReleaseError(
                f"work plan {name!r} has targets for {late}, after the deadline {deadline}"
            )
        connection.execute(
            text("UPDATE work_plans SET deadline = :d WHERE id = :p"),
            {"d": deadline, "p": existing.id},
        )
    return get_plan(connection, name)


def _method(method: str | None) -> str | None:
    if method is None or not str(method).strip():
        return None
    try:
        return ReleaseMethod(str(method).strip().lower()).value
    except ValueError:
        known = ", ".join(m.value for m in ReleaseMethod)
        raise LandReleaseError(f"unknown method {method!r}; one of {known}, or none") from None


def set_target(
    connection: Connection,
    plan: Plan,
    year: int,
    target_m2: float,
    *,
    region_code: str | None = None,
    method: str | None = None,
) -> Target:
    """Enter (or replace) one annual target; entering the same target twice changes nothing."""
    method = _method(method)
    region = region_by_code(connection, region_code) if region_code else NATIONAL
    label = f"target {year} {region.code} {method or 'any method'}"
    if year > plan.deadline.year:
        raise LandReleaseError(f"{label}: after the plan's deadline {plan.deadline}")
    if year < 1990:
        raise LandReleaseError(f"{label}: year {year} is not plausible")
    if not math.isfinite(target_m2) or target_m2 < 0:
        raise LandReleaseError(f"{label}: the target must be a non-negative area")
    clash = connection.execute(
        text(
            """
            SELECT method FROM work_plan_targets
            WHERE plan_id = :p AND year = :y AND region_id IS NOT DISTINCT FROM :r
              AND ((CAST(:m AS text) IS NULL) <> (method IS NULL))
            LIMIT 1
            """
        ),
        {"p": plan.id, "y": year, "r": region.id, "m": method},
    ).first()
    if clash is not None:
        have = "by method" if method is None else "for any method"
        raise LandReleaseError(
            f"{label}: this year and region already has targets {have}; "
            "give targets either by method or for any method"
        )
    connection.execute(
        text(
            """
            INSERT INTO work_plan_targets (plan_id, year, region_id, method, target_m2)
            VALUES (:p, :y, :r, :m, :t)
            ON CONFLICT ON CONSTRAINT work_plan_target_once
            DO UPDATE SET target_m2 = EXCLUDED.target_m2,
                          entered_at = CASE WHEN work_plan_targets.target_m2 = EXCLUDED.target_m2
                                            THEN work_plan_targets.entered_at ELSE now() END
            """
        ),
        {"p": plan.id, "y": year, "r": region.id, "m": method, "t": target_m2},
    )
    return Target(year, region, method, target_m2)


_AREA_COLUMNS = {"target_m2": 1.0, "target_ha": M2_PER_HA, "target_km2": M2_PER_KM2}


def import_targets(connection: Connection, plan: Plan, path: str | Path) -> list[Target]:
    """Enter the targets of a CSV file, all or none.

    Columns: ``year``, ``region`` (a region code; empty for the whole country), ``method``
    (cancelled, reduced, cleared or empty) and one of ``target_m2``, ``target_ha``,
    ``target_km2``. One error lists every bad line.
    """
    source = Path(path)
    if not source.is_file():
        raise LandReleaseError(f"targets file {source} not found")
    with source.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip().lower() for h in reader.fieldnames or []]
        area_column = next((c for c in _AREA_COLUMNS if c in header), None)
        if "year" not in header or area_column is None:
            raise LandReleaseError(
                f"{source.name}: needs columns year and one of {', '.join(_AREA_COLUMNS)}; "
                f"found {', '.join(header) or 'none'}"
            )
        lines = [{k.strip().lower(): (v or "").strip() for k, v in r.items() if k} for r in reader]
    problems: list[str] = []
    entered: list[Target] = []
    with connection.begin_nested() as savepoint:
        for number, line in enumerate(lines, start=2):
            try:
                year = int(line["year"])
                area = float(line[area_column].replace(",", "")) * _AREA_COLUMNS[area_column]
                entered.append(
                    set_target(
                        connection,
                        plan,
                        year,
                        area,
                        region_code=line.get("region") or None,
                        method=line.get("method") or None,
                    )
                )
            except ValueError as exc:
                problems.append(f"line {number}: {exc}")
            except LandReleaseError as exc:
                problems.append(f"line {number}: {exc}")
        if problems:
            savepoint.rollback()
            raise LandReleaseError(
                f"{source.name}: {len(problems)} line(s) refused, nothing entered:\n  "
                + "\n  ".join(problems)
            )
    return entered


def targets(connection: Connection, plan: Plan) -> list[Target]:
    """The plan's targets by year, then region code, then method."""
    rows = connection.execute(
        text(
            """
            SELECT t.year, t.method, t.target_m2, r.id, r.code, r.name, r.admin_level
            FROM work_plan_targets t LEFT JOIN regions r ON r.id = t.region_id
            WHERE t.plan_id = :p
            ORDER BY t.year, r.admin_level NULLS FIRST, r.code NULLS FIRST, t.method NULLS FIRST
            """
        ),
        {"p": plan.id},
    ).all()
    return [
        Target(
            row.year,
            RegionRef(row.id, row.code, row.name, row.admin_level) if row.id else NATIONAL,
            row.method,
            float(row.target_m2),
        )
        for row in rows
    ]


# -- the report ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanVsActual:
    """One target against the land released."""

    target: Target
    actual_m2: float | None  # None for years not begun
    partial: bool  # the year is not over yet

    @property
    def achieved(self) -> float | None:
        if self.actual_m2 is None or not self.target.target_m2:
            return None
        return self.actual_m2 / self.target.target_m2


@dataclass(frozen=True)
class Outlook:
    """What remains in one region (or the country), and when it will be done at which rate."""

    region: RegionRef
    remaining_m2: float
    years_left: float
    required_m2_per_year: float | None  # None once the deadline has passed
    recent_m2_per_year: float
    projected: dt.date | None  # None when nothing was released recently
    deadline: dt.date

    @property
    def on_track(self) -> bool | None:
        if self.remaining_m2 <= 0:
            return True
        return None if self.projected is None else self.projected <= self.deadline


@dataclass(frozen=True)
class Capacity:
    """A capacity scenario: so many teams releasing so much each per year."""

    teams: int
    m2_per_team_year: float
    remaining_m2: float
    as_of: dt.date
    deadline: dt.date

    @property
    def m2_per_year(self) -> float:
        return self.teams * self.m2_per_team_year

    @property
    def years_needed(self) -> float | None:
        return self.remaining_m2 / self.m2_per_year if self.m2_per_year > 0 else None

    @property
    def completion(self) -> dt.date | None:
        return _after(self.as_of, self.years_needed)

    @property
    def meets_deadline(self) -> bool | None:
        return None if self.completion is None else self.completion <= self.deadline


@dataclass(frozen=True)
class Burndown:
    """National remaining area at year ends: actual, planned and the path the deadline needs."""

    years: list[int]
    actual_m2: list[float | None]
    planned_m2: list[float | None]
    required_m2: list[float | None]


@dataclass(frozen=True)
class WorkPlanReport:
    """Everything the Action 19 report shows for one plan."""

    plan: Plan
    as_of: dt.date
    rows: list[PlanVsActual]
    outlook: list[Outlook]
    capacity: Capacity | None
    burndown: Burndown
    recent_years: list[int]


def _after(start: dt.date, years: float | None) -> dt.date | None:
    if years is None or not math.isfinite(years):
        return None
    try:
        return start + dt.timedelta(days=round(years * DAYS_PER_YEAR))
    except OverflowError:
        return None


_RELEASED_REGIONAL = text(
    """
    SELECT CAST(extract(year FROM effective_date) AS int) AS yr, region_id, kind,
           sum(area_m2) AS area
    FROM event_regions
    WHERE kind = ANY(:kinds) AND region_id = ANY(:regions)
      AND effective_date BETWEEN :start AND :end
    GROUP BY 1, 2, 3
    """
)
_RELEASED_NATIONAL = text(
    """
    SELECT CAST(extract(year FROM e.effective_date) AS int) AS yr, NULL AS region_id, e.kind,
           sum(e.area_m2) AS area
    FROM ledger_events e
    WHERE e.kind = ANY(:kinds) AND e.effective_date BETWEEN :start AND :end
    GROUP BY 1, 3
    """
)


def _released(
    connection: Connection, regions: Sequence[RegionRef], first: int, last: int
) -> dict[tuple[int, int | None, str], float]:
    """Land released per (year, region id or None, method) from ``first`` to ``last``."""
    params = {
        "kinds": [k.value for k in RELEASE_KINDS],
        "regions": [r.id for r in regions if r.id is not None],
        "start": year_bounds(first)[0],
        "end": year_bounds(last)[1],
    }
    found: dict[tuple[int, int | None, str], float] = defaultdict(float)
    for query in (_RELEASED_REGIONAL, _RELEASED_NATIONAL):
        for row in connection.execute(query, params):
            found[(row.yr, row.region_id, row.kind)] += float(row.area)
    return found


def remaining_union(
    connection: Connection, regions: Sequence[RegionRef], as_of: dt.date
) -> dict[int | None, float]:
    """Remaining area on a date per region (and None: the country), overlaps counted once."""
    result: dict[int | None, float] = {}
    # With no regions asked for, level 0 stands in: the national rows come with any level.
    levels = sorted({r.admin_level for r in regions if r.admin_level is not None}) or [0]
    for level in levels:
        stock = stocks(connection, level, as_of, CheckMethod.LEDGER)
        excess = overlaps(connection, level, as_of).excess
        for region in [*regions, NATIONAL]:
            if region.admin_level not in (level, None):
                continue
            total = sum(stock[(region.id, c)].area_m2 for c in CLASSES if (region.id, c) in stock)
            result[region.id] = total - excess.get((region.id, ALL_CLASSES), 0.0)
    return result


def work_plan_report(
    connection: Connection,
    name: str,
    *,
    as_of: dt.date | None = None,
    recent_years: int = RECENT_YEARS,
    teams: int | None = None,
    m2_per_team_year: float | None = None,
) -> WorkPlanReport:
    """Plan vs actual, outlook per region and nationally, capacity scenario and burndown."""
    settle(connection)
    as_of = as_of or dt.date.today()
    plan = get_plan(connection, name)
    entered = targets(connection, plan)
    if not entered:
        raise LandReleaseError(f"work plan {plan.name!r} has no targets yet")
    last_complete = as_of.year if as_of >= year_bounds(as_of.year)[1] else as_of.year - 1
    recent = list(range(last_complete - recent_years + 1, last_complete + 1))
    regions = list({t.region for t in entered if t.region.is_region})
    regions.sort(key=lambda r: (r.admin_level or 0, r.code))
    first_year = min(min(t.year for t in entered), recent[0])
    released = _released(connection, regions, first_year, as_of.year)

    def actual(year: int, region: RegionRef, method: str | None) -> float:
        kinds = [method] if method else [k.value for k in RELEASE_KINDS]
        return sum(released.get((year, region.id, k), 0.0) for k in kinds)

    rows = [
        PlanVsActual(
            target=t,
            actual_m2=actual(t.year, t.region, t.method) if t.year <= as_of.year else None,
            partial=t.year > last_complete,
        )
        for t in entered
    ]
    remaining = remaining_union(connection, regions, as_of)
    years_left = (plan.deadline - as_of).days / DAYS_PER_YEAR
    outlook = []
    for region in [*regions, NATIONAL]:
        left = max(remaining.get(region.id, 0.0), 0.0)
        rate = sum(actual(y, region, None) for y in recent) / len(recent)
        outlook.append(
            Outlook(
                region=region,
                remaining_m2=left,
                years_left=years_left,
                required_m2_per_year=left / years_left if years_left > 0 else None,
                recent_m2_per_year=rate,
                projected=as_of if left <= 0 else _after(as_of, left / rate if rate else None),
                deadline=plan.deadline,
            )
        )
    national_left = outlook[-1].remaining_m2
    capacity = (
        Capacity(teams, m2_per_team_year, national_left, as_of, plan.deadline)
        if teams is not None and m2_per_team_year is not None
        else None
    )
    burndown = _burndown(connection, plan, entered, regions, as_of, last_complete, national_left)
    return WorkPlanReport(plan, as_of, rows, outlook, capacity, burndown, recent)


def _national_targets(entered: Sequence[Target]) -> dict[int, float]:
    """The plan's national total per year: national targets, else the top regional level's."""
    by_year: dict[int, dict[int | None, float]] = defaultdict(lambda: defaultdict(float))
    for t in entered:
        by_year[t.year][t.region.admin_level] += t.target_m2
    totals = {}
    for year, per_level in by_year.items():
        if None in per_level:
            totals[year] = per_level[None]
        else:
            totals[year] = per_level[min(k for k in per_level if k is not None)]
    return totals


def _burndown(
    connection: Connection,
    plan: Plan,
    entered: Sequence[Target],
    regions: Sequence[RegionRef],
    as_of: dt.date,
    last_complete: int,
    remaining_now: float,
) -> Burndown:
    planned_per_year = _national_targets(entered)
    start = min(planned_per_year) - 1
    years = list(range(start, max(plan.deadline.year, max(planned_per_year)) + 1))
    actual: list[float | None] = []
    for year in years:
        if year <= last_complete:
            left = remaining_union(connection, [], year_bounds(year)[1])
            actual.append(max(left[None], 0.0))
        else:
            actual.append(None)
    # The plan starts from what remained when it began (or from today, for a plan to come).
    base = actual[0] if actual[0] is not None else remaining_now
    planned: list[float | None] = []
    cumulative = 0.0
    for year in years:
        cumulative += planned_per_year.get(year, 0.0) if year > start else 0.0
        planned.append(max(base - cumulative, 0.0))
    required: list[float | None] = []
    deadline_years = (plan.deadline - as_of).days / DAYS_PER_YEAR
    for year in years:
        at = (year_bounds(year)[1] - as_of).days / DAYS_PER_YEAR
        if at < 0 or deadline_years <= 0:
            required.append(None)
        else:
            required.append(max(remaining_now * (1 - at / deadline_years), 0.0))
    return Burndown(years, actual, planned, required)


__all__ = [
    "RECENT_YEARS",
    "Burndown",
    "Capacity",
    "Outlook",
    "Plan",
    "PlanVsActual",
    "Target",
    "WorkPlanReport",
    "ensure_plan",
    "get_plan",
    "import_targets",
    "parse_area",
    "plans",
    "remaining_union",
    "set_target",
    "targets",
    "work_plan_report",
]
