"""Indicator results as report tables: one function per table, columns with their units.

Regions are rows with their code and name (data text: escaped in HTML, never a formula in a
spreadsheet); national figures are the totals rows; areas are m² (the exporters add km²).
"""

from __future__ import annotations

from collections.abc import Sequence

from landrelease.indicators.annual import FLOW_FIELDS, AnnualRow, AnnualTable
from landrelease.indicators.baseline import BaselineRow, MarkingRow
from landrelease.indicators.completion import CompletionRow
from landrelease.indicators.efficiency import EfficiencyRow
from landrelease.indicators.progress import ProgressRow
from landrelease.indicators.publish import Restatement
from landrelease.indicators.regions import NATIONAL, RegionRef
from landrelease.indicators.workplan import WorkPlanReport
from landrelease.models import CheckMethod
from landrelease.reports.model import Cell, Column, Kind, Table

REGION_COLUMNS = (
    Column("region_code", "Region code", Kind.TEXT, brief=False),
    Column("region", "Region", Kind.TEXT),
)

#: How each annual figure is named in a report.
FIGURE_TITLES = {
    "opening_count": "Hazards at start",
    "opening_m2": "Remaining at start",
    "recorded_m2": "Recorded",
    "confirmed_in_m2": "Confirmed in",
    "confirmed_out_m2": "Confirmed out",
    "reopened_m2": "Reopened",
    "cancelled_m2": "Cancelled (NTS)",
    "reduced_m2": "Reduced (TS)",
    "cleared_m2": "Cleared",
    "corrected_m2": "Corrections, net",
    "closing_count": "Hazards at end",
    "closing_m2": "Remaining at end",
    "overlap_m2": "Overlap counted twice",
}

#: Item types as Article 7 forms name them.
ITEM_TITLES = {
    "SUBMUNITION": "Submunitions",
    "CLUSTER_BOMB": "Cluster bombs",
    "AP_MINE": "AP mines",
    "AT_MINE": "AT mines",
    "UXO": "UXO",
    "AXO": "AXO",
    "IED": "IEDs",
    "OTHER": "Other items",
}

CHECK_NOTES = {
    CheckMethod.GEOMETRY: (
        "Remaining at start and end: the hazards' geometry as of each date, intersected with "
        "the regions (independent of the flows); the gap is opening + flows - end."
    ),
    CheckMethod.LEDGER: (
        "Remaining at start and end: each hazard's running remaining area per region kept with "
        "the ledger (a separate computation from the flows; geometry not re-checked)."
    ),
}


def _region(region: RegionRef) -> list[Cell]:
    return [region.code, region.name]


def annual(table: AnnualTable) -> Table:
    """The annual area table: stock-flow balance per region and class, with the gap."""
    flows = [Column(name, FIGURE_TITLES[name], Kind.AREA) for name in FLOW_FIELDS]
    columns = [
        *REGION_COLUMNS,
        Column("class", "Class", Kind.TEXT),
        Column("opening_count", FIGURE_TITLES["opening_count"], Kind.INT),
        Column("opening_m2", FIGURE_TITLES["opening_m2"], Kind.AREA),
        *flows,
        Column("expected_m2", "Start + flows", Kind.AREA, brief=False),
        Column("closing_m2", FIGURE_TITLES["closing_m2"], Kind.AREA),
        Column("closing_count", FIGURE_TITLES["closing_count"], Kind.INT),
        Column("gap_m2", "Gap", Kind.AREA),
        Column("balance", "Balance", Kind.TEXT),
        Column("overlap_m2", FIGURE_TITLES["overlap_m2"], Kind.AREA, brief=False),
        Column("union_m2", "Remaining at end, overlap once", Kind.AREA),
    ]

    def cells(row: AnnualRow) -> list[Cell]:
        return [
            *_region(row.region),
            row.hazard_class,
            row.opening_count,
            row.opening_m2,
            *(getattr(row, name) for name in FLOW_FIELDS),
            row.expected_closing_m2,
            row.closing_m2,
            row.closing_count,
            row.gap_m2,
            "ok" if row.balances else "GAP",
            row.overlap_m2,
            row.closing_union_m2,
        ]

    regional = [row for row in table.rows if row.region != NATIONAL]
    national = [row for row in table.rows if row.region == NATIONAL]
    return Table(
        name="annual",
        title=f"Annual area table {table.year}, admin level {table.admin_level}",
        columns=columns,
        rows=[cells(r) for r in regional],
        totals=[cells(r) for r in national],
        notes=[
            "A hazard across a boundary counts in each region by the area that lies there; "
            "national totals come from the ledger, not from adding regions.",
            CHECK_NOTES[table.check],
            "Overlap: ground counted twice where remaining hazards overlap; the last column "
            "counts it once.",
        ],
    )


def items(table: AnnualTable) -> Table:
    """Items destroyed in the year by type, per region and class."""
    types = table.item_types
    columns = [
        *REGION_COLUMNS,
        Column("class", "Class", Kind.TEXT),
        *(Column(t, ITEM_TITLES.get(t, t), Kind.INT) for t in types),
        Column("total", "Total", Kind.INT),
    ]

    def cells(row: AnnualRow) -> list[Cell]:
        return [
            *_region(row.region),
            row.hazard_class,
            *(row.items.get(t, 0) for t in types),
            row.items_total,
        ]

    return Table(
        name="items",
        title=f"Items destroyed {table.year}, admin level {table.admin_level}",
        columns=columns,
        rows=[cells(r) for r in table.rows if r.region != NATIONAL],
        totals=[cells(r) for r in table.rows if r.region == NATIONAL],
        notes=[
            "An activity's items count whole in the class, year and region where it released "
            "most land."
        ],
    )


def overlaps(table: AnnualTable) -> Table:
    """Pairs of remaining hazards that overlap at the end of the year (a data-quality list)."""
    columns = [
        Column("hazard", "Hazard", Kind.TEXT),
        Column("name", "Name", Kind.TEXT),
        Column("class", "Class", Kind.TEXT),
        Column("other", "Overlaps hazard", Kind.TEXT),
        Column("other_name", "Its name", Kind.TEXT),
        Column("other_class", "Its class", Kind.TEXT),
        Column("overlap_m2", "Overlap", Kind.AREA),
        Column("regions", "Regions", Kind.TEXT),
    ]
    rows: list[list[Cell]] = [
        [
            p.national_id,
            p.name,
            p.hazard_class,
            p.other_national_id,
            p.other_name,
            p.other_class,
            p.overlap_m2,
            p.regions,
        ]
        for p in table.overlaps
    ]
    return Table(
        name="overlaps",
        title=f"Overlapping hazards at the end of {table.year}",
        columns=columns,
        rows=rows,
        notes=["None." if not rows else "Each pair's shared ground is counted once in totals."],
    )


def restatements(found: Sequence[Restatement]) -> Table:
    """Figures of filed reports that the ledger now gives differently, and why."""
    columns = [
        Column("year", "Year restated", Kind.YEAR),
        Column("published", "Filed on", Kind.DATE),
        *REGION_COLUMNS,
        Column("class", "Class", Kind.TEXT),
        Column("figure", "Figure", Kind.TEXT),
        Column("filed", "Filed", Kind.NUMBER),
        Column("current", "Now", Kind.NUMBER),
        Column("change", "Change", Kind.NUMBER),
        Column("reasons", "Reason (events entered since filing)", Kind.TEXT),
    ]

    def figure(name: str) -> str:
        if name.startswith("items:"):
            return f"Items destroyed: {name.removeprefix('items:')} (count)"
        unit = "count" if name.endswith("_count") else "m²"
        return f"{FIGURE_TITLES.get(name, name)} ({unit})"

    rows: list[list[Cell]] = [
        [
            r.year,
            r.published_at.date(),
            r.region_code,
            r.region_name,
            r.hazard_class,
            figure(r.figure),
            r.filed,
            r.current,
            r.change,
            r.reasons,
        ]
        for r in found
    ]
    return Table(
        name="restatements",
        title="Restatements of filed reports",
        columns=columns,
        rows=rows,
        notes=[] if rows else ["None: every filed figure still holds."],
    )


def baseline(rows: Sequence[BaselineRow], as_of: object) -> Table:
    """Action 18: SHA and CHA on the baseline date."""
    columns = [
        *REGION_COLUMNS,
        Column("sha_n", "SHA hazards", Kind.INT),
        Column("sha_m2", "SHA area", Kind.AREA),
        Column("cha_n", "CHA hazards", Kind.INT),
        Column("cha_m2", "CHA area", Kind.AREA),
        Column("all_n", "All hazards", Kind.INT),
        Column("all_m2", "All area", Kind.AREA),
        Column("overlap_m2", "Overlap counted twice", Kind.AREA, brief=False),
        Column("union_m2", "All area, overlap once", Kind.AREA),
    ]

    def cells(r: BaselineRow) -> list[Cell]:
        return [
            *_region(r.region),
            r.sha.count,
            r.sha.area_m2,
            r.cha.count,
            r.cha.area_m2,
            r.total.count,
            r.total.area_m2,
            r.overlap_m2,
            r.total_union_m2,
        ]

    return Table(
        name="baseline",
        title=f"Action 18: baseline on {as_of}",
        columns=columns,
        rows=[cells(r) for r in rows if r.region != NATIONAL],
        totals=[cells(r) for r in rows if r.region == NATIONAL],
        notes=["A hazard across a boundary counts in each region it lies in."],
    )


def marking(rows: Sequence[MarkingRow]) -> Table:
    """Action 18: open hazards marked and fenced, at the milestone and on the report date."""
    columns = [
        *REGION_COLUMNS,
        Column("as_of", "On", Kind.DATE),
        Column("hazards", "Open hazards", Kind.INT),
        Column("area_m2", "Their area", Kind.AREA, brief=False),
        Column("marked", "Marked", Kind.INT),
        Column("marked_share", "Marked", Kind.RATIO),
        Column("marked_area_share", "Marked, by area", Kind.RATIO),
        Column("fenced", "Fenced", Kind.INT),
        Column("fenced_share", "Fenced", Kind.RATIO),
        Column("fenced_area_share", "Fenced, by area", Kind.RATIO),
    ]

    def cells(r: MarkingRow) -> list[Cell]:
        return [
            *_region(r.region),
            r.as_of,
            r.hazards,
            r.area_m2,
            r.marked,
            r.marked_share,
            r.marked_area_share,
            r.fenced,
            r.fenced_share,
            r.fenced_area_share,
        ]

    return Table(
        name="marking",
        title="Action 18: hazards marked and fenced",
        columns=columns,
        rows=[cells(r) for r in rows if r.region != NATIONAL],
        totals=[cells(r) for r in rows if r.region == NATIONAL],
        notes=["Marked / fenced on a date: marked_date / fenced_date on or before it."],
    )


def work_plan(report: WorkPlanReport) -> list[Table]:
    """Action 19: plan against actual, the outlook from what remains, the capacity scenario."""
    plan = report.plan
    versus = Table(
        name="plan_vs_actual",
        title=f"Action 19: work plan {plan.name!r} against land released",
        columns=[
            Column("year", "Year", Kind.YEAR),
            *REGION_COLUMNS,
            Column("method", "Method", Kind.TEXT),
            Column("target_m2", "Target", Kind.AREA),
            Column("actual_m2", "Released", Kind.AREA),
            Column("achieved", "Achieved", Kind.RATIO),
            Column("note", "Note", Kind.TEXT),
        ],
        rows=[
            [
                r.target.year,
                *_region(r.target.region),
                r.target.method or "any",
                r.target.target_m2,
                r.actual_m2,
                r.achieved,
                "year not over"
                if r.partial and r.actual_m2 is not None
                else ("to come" if r.actual_m2 is None else ""),
            ]
            for r in report.rows
        ],
        notes=[f"Deadline {plan.deadline}; figures as of {report.as_of}."],
    )
    outlook = Table(
        name="outlook",
        title="Action 19: what remains, and when it will be done",
        columns=[
            *REGION_COLUMNS,
            Column("remaining_m2", "Remaining", Kind.AREA),
            Column("years_left", "Years to deadline", Kind.NUMBER, unit="years"),
            Column("required_m2", "Needed per year", Kind.AREA),
            Column("recent_m2", "Released per year, recent", Kind.AREA),
            Column("projected", "Done at recent rate", Kind.DATE),
            Column("on_track", "On track", Kind.TEXT),
        ],
        rows=[
            [
                *_region(o.region),
                o.remaining_m2,
                o.years_left,
                o.required_m2_per_year,
                o.recent_m2_per_year,
                o.projected,
                {True: "yes", False: "no", None: "unknown"}[o.on_track],
            ]
            for o in report.outlook
        ],
        notes=[
            "Remaining counts overlapping hazards once. Recent rate: mean land released per "
            f"year in {report.recent_years[0]}-{report.recent_years[-1]}."
        ],
    )
    tables = [versus, outlook]
    if report.capacity is not None:
        c = report.capacity
        tables.append(
            Table(
                name="capacity",
                title="Action 19: capacity scenario",
                columns=[
                    Column("teams", "Teams", Kind.INT),
                    Column("per_team", "Per team and year", Kind.AREA),
                    Column("per_year", "Capacity per year", Kind.AREA),
                    Column("remaining", "Remaining", Kind.AREA),
                    Column("years", "Years needed", Kind.NUMBER, unit="years"),
                    Column("completion", "Done by", Kind.DATE),
                    Column("meets", "Meets deadline", Kind.TEXT),
                ],
                rows=[
                    [
                        c.teams,
                        c.m2_per_team_year,
                        c.m2_per_year,
                        c.remaining_m2,
                        c.years_needed,
                        c.completion,
                        {True: "yes", False: "no", None: "unknown"}[c.meets_deadline],
                    ]
                ],
            )
        )
    return tables


def progress(rows: Sequence[ProgressRow]) -> Table:
    """Action 24: remaining area by class and land released by method, per year and region."""
    columns = [
        Column("year", "Year", Kind.YEAR),
        *REGION_COLUMNS,
        Column("class", "Class", Kind.TEXT),
        Column("remaining_m2", "Remaining at end", Kind.AREA, brief=False),
        Column("overlap_m2", "Overlap counted twice", Kind.AREA, brief=False),
        Column("union_m2", "Remaining, overlap once", Kind.AREA),
        Column("cancelled_m2", "Cancelled (NTS)", Kind.AREA),
        Column("reduced_m2", "Reduced (TS)", Kind.AREA),
        Column("cleared_m2", "Cleared", Kind.AREA),
        Column("released_m2", "Released", Kind.AREA),
    ]

    def cells(r: ProgressRow) -> list[Cell]:
        return [
            r.year,
            *_region(r.region),
            r.hazard_class,
            r.remaining_m2,
            r.overlap_m2,
            r.remaining_union_m2,
            r.cancelled_m2,
            r.reduced_m2,
            r.cleared_m2,
            r.released_m2,
        ]

    return Table(
        name="progress",
        title="Action 24: remaining and released, by year",
        columns=columns,
        rows=[cells(r) for r in rows if r.region != NATIONAL],
        totals=[cells(r) for r in rows if r.region == NATIONAL],
        notes=["Every year computed the same way, from the ledger, against the same regions."],
    )


def efficiency(rows: Sequence[EfficiencyRow]) -> Table:
    """Action 21: items per hectare cleared and clearance that found nothing."""
    columns = [
        Column("year", "Year", Kind.YEAR),
        *REGION_COLUMNS,
        Column("cleared_m2", "Cleared", Kind.AREA),
        Column("reported_m2", "Cleared under a clearance report", Kind.AREA, brief=False),
        Column("items", "Items destroyed", Kind.INT),
        Column("items_per_ha", "Items per hectare cleared", Kind.NUMBER, unit="items/ha"),
        Column("nothing_m2", "Cleared, no item found", Kind.AREA, brief=False),
        Column("nothing_share", "Cleared with no item found", Kind.RATIO),
    ]

    def cells(r: EfficiencyRow) -> list[Cell]:
        return [
            r.year,
            *_region(r.region),
            r.cleared_m2,
            r.reported_m2,
            r.items_destroyed,
            r.items_per_ha,
            r.nothing_found_m2,
            r.nothing_found_share,
        ]

    return Table(
        name="efficiency",
        title="Action 21: clearance efficiency",
        columns=columns,
        rows=[cells(r) for r in rows if r.region != NATIONAL],
        totals=[cells(r) for r in rows if r.region == NATIONAL],
        notes=[
            "Items of clearance activities; per hectare of land cleared under a clearance "
            "report. 'No item found': the activity reported no item found."
        ],
    )


def completion(rows: Sequence[CompletionRow]) -> Table:
    """Action 25: regions, and the country, with nothing remaining."""
    columns = [
        *REGION_COLUMNS,
        Column("status", "Status", Kind.TEXT),
        Column("completed_on", "Completed on", Kind.DATE),
        Column("remaining_m2", "Remaining", Kind.AREA),
        Column("open", "Open hazards", Kind.INT),
        Column("recorded_m2", "Ever recorded", Kind.AREA, brief=False),
        Column("last_event", "Last event", Kind.DATE, brief=False),
    ]

    def cells(r: CompletionRow) -> list[Cell]:
        return [
            *_region(r.region),
            r.status.value,
            r.completed_on,
            r.remaining_m2,
            r.open_hazards,
            r.recorded_m2,
            r.last_event,
        ]

    as_of = rows[0].as_of if rows else ""
    return Table(
        name="completion",
        title=f"Action 25: completion on {as_of}",
        columns=columns,
        rows=[cells(r) for r in rows if r.region != NATIONAL],
        totals=[cells(r) for r in rows if r.region == NATIONAL],
        notes=["'none recorded': no contamination was ever recorded there (not a completion)."],
    )


__all__ = [
    "FIGURE_TITLES",
    "annual",
    "baseline",
    "completion",
    "efficiency",
    "items",
    "marking",
    "overlaps",
    "progress",
    "restatements",
    "work_plan",
]
