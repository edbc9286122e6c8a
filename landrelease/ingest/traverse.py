"""Turning points to a polygon: a benchmark plus bearing/distance legs, computed geodesically.

Survey teams record a hazard or a released area as a fixed benchmark (BM) with known
coordinates, optional reference points (RP) leading to the polygon, and turning points (TP),
each reached from the previous point by a bearing (degrees from north, magnetic unless the
declination is zero) and a distance (metres). Turning points may also be given as absolute
coordinates, leg by leg or all of them.

**How the figure closes.** On a mine action turning-point sheet the last leg comes back to
where the figure started: to TP1 (written ``TP1`` again, ``tp1``, a new number such as ``TP5``,
or nothing at all), or to the point the survey set out from, the benchmark or start point from
which TP1 was measured (a loop traverse, where that point is a corner of the polygon). So:

* when the last row is reached by a bearing and a distance, that leg is the closing leg,
  whatever its label: the point it reaches is not a corner. It closes on the point its label
  names (TP1 or the start point, compared without case or surrounding spaces), else on the
  nearer of the two. The gap between where it lands and that point is the **misclosure**. A
  traverse whose legs never come back (a blunder, 1500 m for 150 m, or a forgotten closing
  leg) shows it as a misclosure of hundreds of metres and is refused, naming both distances,
  instead of silently drawing another polygon;
* when the last row is given by coordinates, it closes the figure only if its label repeats
  TP1's (or the start point's); otherwise the rows are a plain list of corners, closed by a
  straight edge, with no misclosure to measure.

Legs are followed on the WGS84 ellipsoid (``pyproj.Geod.fwd``, GeographicLib), never on a map
projection. The misclosure is reported in metres and as a share of the perimeter (walked from
the point the figure closes on round to the closing point), refused above a limit, and
otherwise distributed over the corners in proportion to the distance travelled (the compass
rule), so the polygon closes exactly where it started.

Bearings must lie in 0-360° (360 is north, as many compasses mark it) and distances must be
positive; every point that breaks a rule is named, with its row, in one message, so the
officer corrects the whole sheet at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from shapely.geometry import Polygon

from landrelease.geometry import GEOD, GeometryProblem

#: Point kinds in a turning-point table.
BENCHMARK, REFERENCE, TURNING = "BM", "RP", "TP"

_KIND_NAMES = {
    "bm": BENCHMARK,
    "benchmark": BENCHMARK,
    "rp": REFERENCE,
    "reference": REFERENCE,
    "sp": REFERENCE,  # a start point off the polygon, as some teams record it
    "tp": TURNING,
    "turning": TURNING,
    "turning point": TURNING,
}

#: Codes of the findings about a traverse (the import report's "problem" column).
INCOMPLETE, BAD_VALUE = "traverse_incomplete", "traverse_bad_value"


def point_kind(raw: object) -> str:
    """BM, RP or TP from the spellings field forms use; raises ``ValueError`` otherwise."""
    text = "" if raw is None else str(raw).strip().casefold()
    if text in _KIND_NAMES:
        return _KIND_NAMES[text]
    raise ValueError(f"point type {raw!r} is not BM (benchmark), RP (reference) or TP (turning)")


def label_kind(label: str) -> str:
    """The kind a point label implies when the table has no type column (BM1, RP, TP4...)."""
    upper = label.strip().upper()
    if upper.startswith("BM"):
        return BENCHMARK
    if upper.startswith(("RP", "SP")):
        return REFERENCE
    return TURNING


def same_point(a: str, b: str) -> bool:
    """True when two labels name the same point: ``TP1``, ``tp1`` and `` TP1 `` all do."""
    return bool(a.strip()) and a.strip().casefold() == b.strip().casefold()


@dataclass(frozen=True)
class Station:
    """One row of a turning-point table: where it is, or how to get there from the last one.

    ``row`` is the table row it came from and ``unreadable`` the cells of that row that are not
    numbers (``"bearing_deg 'north'"``), so that messages point the officer to the cell.
    """

    kind: str
    label: str
    lon: float | None = None
    lat: float | None = None
    bearing_deg: float | None = None
    distance_m: float | None = None
    row: int | None = None
    unreadable: tuple[str, ...] = ()

    @property
    def absolute(self) -> bool:
        """True when the point is given by its coordinates."""
        return self.lon is not None and self.lat is not None

    def name(self, number: int) -> str:
        """How messages name the point: its label (or place in the list) and its row."""
        where = f" (row {self.row})" if self.row is not None else ""
        return (self.label or f"point {number}") + where


@dataclass(frozen=True)
class Closure:
    """Where a traverse's closing leg should have ended, and where it did."""

    #: The point the figure closes on (TP1 or the start point) and the one the last leg reached.
    start: str
    end: str
    #: True when the closing point's label names ``start`` (TP1 written again).
    named: bool
    #: Every point the figure could close on, with the distance from the closing point to it.
    gaps: tuple[tuple[str, float], ...]
    #: True when it closes on the benchmark or start point, which is then a corner.
    on_origin: bool


@dataclass(frozen=True)
class Traverse:
    """A computed polygon and how well the survey closed (``closure`` None: a straight edge)."""

    polygon: Polygon
    misclosure_m: float
    perimeter_m: float
    closure: Closure | None = None

    @property
    def closed_by_leg(self) -> bool:
        """True when a closing leg was measured, so that the misclosure means something."""
        return self.closure is not None

    @property
    def misclosure_percent(self) -> float:
        """The misclosure as a percentage of the perimeter walked."""
        return 100.0 * self.misclosure_m / self.perimeter_m if self.perimeter_m else 0.0


def _problem(label: str, message: str, code: str = INCOMPLETE) -> GeometryProblem:
    return GeometryProblem(f"{label}: {message}", code)


def point_problems(station: Station, number: int) -> list[tuple[str, str]]:
    """What is wrong with one point on its own, as (code, sentence) pairs; empty when nothing.

    ``number`` is the point's place in the traverse, to name a point without a label.
    """
    name = station.name(number)
    if station.unreadable:
        cells = " and ".join(station.unreadable)
        are = "is not a number" if len(station.unreadable) == 1 else "are not numbers"
        return [(BAD_VALUE, f"{name}: {cells} {are}")]
    found: list[tuple[str, str]] = []
    bearing, distance = station.bearing_deg, station.distance_m
    values = {"lon": station.lon, "lat": station.lat, "bearing": bearing, "distance": distance}
    for field, value in values.items():
        if value is not None and not math.isfinite(value):
            found.append((BAD_VALUE, f"{name}: {field} {value:g} is not a finite number"))
    if bearing is not None and math.isfinite(bearing) and not 0 <= bearing <= 360:
        found.append((BAD_VALUE, f"{name}: bearing {bearing:g} is outside 0-360°"))
    if distance is not None and math.isfinite(distance) and distance <= 0:
        found.append((BAD_VALUE, f"{name}: distance {distance:g} m is not positive"))
    if not found and not station.absolute and (bearing is None or distance is None):
        found.append(
            (INCOMPLETE, f"{name} has neither coordinates nor both a bearing and a distance")
        )
    return found


def compute(
    stations: Sequence[Station], *, declination_deg: float = 0.0, label: str = "traverse"
) -> Traverse:
    """Follow the legs from the benchmark and build the polygon of the turning points.

    ``declination_deg`` (east positive) turns magnetic bearings into true ones. How the figure
    closes, and what its misclosure is, follows the rule of the module docstring. Raises
    :class:`GeometryProblem` naming every point that is wrong, or why no polygon can be drawn.
    """
    if not stations:
        raise _problem(label, "no points")
    problems = [p for n, station in enumerate(stations, 1) for p in point_problems(station, n)]
    if not (math.isfinite(declination_deg) and -180 <= declination_deg <= 180):
        problems.insert(0, (BAD_VALUE, f"declination {declination_deg:g} is outside ±180°"))
    if problems:
        raise _problem(label, "; ".join(sentence for _, sentence in problems), problems[0][0])
    positions = _walk(stations, declination_deg, label)
    turning = [i for i, station in enumerate(stations) if station.kind == TURNING]
    first, last = (turning[0], len(stations) - 1) if turning else (0, 0)
    # Where the figure may close: on TP1, or on the point TP1 was measured from.
    starts = [first] if first == 0 or stations[first].absolute else [first, first - 1]
    closure: Closure | None = None
    corners = turning
    if turning and last > first and _closes(stations, starts, last):
        gaps = [float(GEOD.inv(*positions[last], *positions[i])[2]) for i in starts]
        named = [i for i in starts if same_point(stations[last].label, stations[i].label)]
        start = named[0] if named else starts[int(np.argmin(gaps))]  # a tie goes to TP1
        corners = [i for i in turning if i < last]
        if start != first:
            corners = [start, *corners]
        closure = Closure(
            start=stations[start].name(start + 1),
            end=stations[last].name(last + 1),
            named=bool(named),
            gaps=tuple((stations[i].name(i + 1), gap) for i, gap in zip(starts, gaps, strict=True)),
            on_origin=start != first,
        )
    if len(corners) < 3:
        plural = "s" if len(corners) != 1 else ""
        if closure:
            names = ", ".join(stations[i].name(i + 1) for i in corners)
            found = f"corner{plural} ({names}) before {closure.end}, which closes the figure"
        else:
            found = f"turning point{plural}"
        raise _problem(
            label,
            f"{len(corners)} {found}; a polygon needs at least 3",
            "traverse_too_few_points",
        )
    points = [positions[i] for i in corners]
    walked = [*points, positions[last] if closure else points[0]]
    lons, lats = np.array(walked).T
    _, _, legs = GEOD.inv(lons[:-1], lats[:-1], lons[1:], lats[1:])
    perimeter = float(np.sum(legs))
    if closure is None:
        return Traverse(Polygon(walked), 0.0, perimeter)
    azimuth, _, misclosure = GEOD.inv(*positions[last], *points[0])
    points = _compass_rule(points, np.cumsum(legs)[:-1], perimeter, azimuth, misclosure)
    return Traverse(Polygon([*points, points[0]]), float(misclosure), perimeter, closure)


def _walk(
    stations: Sequence[Station], declination_deg: float, label: str
) -> list[tuple[float, float]]:
    """The position of every row: its coordinates, or its leg from the row before.

    Every row has one or the other (:func:`point_problems` has refused those that do not).
    """
    position: tuple[float, float] | None = None
    positions: list[tuple[float, float]] = []
    for number, station in enumerate(stations, start=1):
        bearing, distance = station.bearing_deg, station.distance_m
        if station.lon is not None and station.lat is not None:
            position = (float(station.lon), float(station.lat))
        elif position is None:
            raise _problem(
                label,
                f"{station.name(number)} is given by bearing and distance, but no benchmark "
                "with coordinates comes before it",
                "traverse_no_benchmark",
            )
        elif bearing is not None and distance is not None:
            lon, lat, _ = GEOD.fwd(*position, bearing + declination_deg, distance)
            position = (float(lon), float(lat))
        positions.append(position)
    return positions


def _closes(stations: Sequence[Station], starts: Sequence[int], last: int) -> bool:
    """True when the last row is the survey coming back (see the module docstring)."""
    end = stations[last]
    return not end.absolute or any(same_point(end.label, stations[i].label) for i in starts)


def _compass_rule(
    corners: list[tuple[float, float]],
    travelled: np.ndarray,
    perimeter: float,
    azimuth: float,
    misclosure: float,
) -> list[tuple[float, float]]:
    """Move each corner towards closure in proportion to the distance travelled to it.

    The first corner stays; the closing point would move the whole misclosure onto it.
    """
    if misclosure == 0 or len(corners) < 2:
        return corners
    share = np.concatenate([[0.0], travelled[: len(corners) - 1]]) / perimeter
    lons, lats = np.array(corners).T
    moved_lon, moved_lat, _ = GEOD.fwd(
        lons, lats, np.full(len(corners), azimuth), share * misclosure
    )
    return list(zip(moved_lon.tolist(), moved_lat.tolist(), strict=True))


def check_misclosure(traverse: Traverse, max_percent: float, *, label: str) -> str | None:
    """Refuse a traverse that closes worse than ``max_percent`` of its perimeter.

    Returns the sentence the import report gives an accepted traverse, so that every traverse
    shows how well it closed; None for a figure of coordinates closed by a straight edge, which
    has no misclosure to measure.
    """
    closure = traverse.closure
    if closure is None:
        return None
    measured = (
        f"{traverse.misclosure_m:,.2f} m ({traverse.misclosure_percent:.2f} % of the "
        f"{traverse.perimeter_m:,.1f} m perimeter"
    )
    if traverse.misclosure_percent <= max_percent:
        corner = ", a corner of the polygon," if closure.on_origin else ""
        return (
            f"{label}: closed on {closure.start}{corner} with a misclosure of {measured}, within "
            f"the {max_percent:g} % allowed), distributed over the corners by the compass rule"
        )
    limit = f"more than the {max_percent:g} % allowed - check the bearings and distances"
    if closure.named:
        message = f"the traverse misses its start by {measured}), {limit}"
    else:
        names = " or ".join(name for name, _ in closure.gaps)
        gaps = " and ".join(f"{gap:,.2f} m" for _, gap in closure.gaps)
        them = "them" if len(closure.gaps) > 1 else "it"
        message = (
            f"the last leg, to {closure.end}, should come back to {names} but ends {gaps} from "
            f"{them}: a misclosure of {measured}), {limit}; if {closure.end} is a corner, add "
            "the leg that closes the figure"
        )
    raise GeometryProblem(f"{label}: {message}", "misclosure")
