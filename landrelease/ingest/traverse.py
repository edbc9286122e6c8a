"""Turning points to a polygon: a benchmark plus bearing/distance legs, computed geodesically.

Survey teams record a hazard or a released area as a fixed benchmark (BM) with known
coordinates, optional reference points (RP) leading to the polygon, and turning points (TP),
each reached from the previous point by a bearing (degrees from north, magnetic unless the
declination is zero) and a distance (metres). The last leg returns to the first turning point;
where it lands is the **misclosure**, the measure of how well the figure was surveyed.

Legs are followed on the WGS84 ellipsoid (``pyproj.Geod.fwd``, GeographicLib), never on a map
projection. The misclosure is reported in metres and as a share of the perimeter, refused above
a limit, and otherwise distributed over the points in proportion to the distance travelled (the
compass rule), so the polygon closes exactly where it started. Turning points may also be given
as absolute coordinates, leg by leg or all of them.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class Station:
    """One row of a turning-point table: where it is, or how to get there from the last one."""

    kind: str
    label: str
    lon: float | None = None
    lat: float | None = None
    bearing_deg: float | None = None
    distance_m: float | None = None

    @property
    def absolute(self) -> bool:
        """True when the point is given by its coordinates."""
        return self.lon is not None and self.lat is not None


@dataclass(frozen=True)
class Traverse:
    """A computed polygon and how well the survey closed."""

    polygon: Polygon
    misclosure_m: float
    perimeter_m: float
    closed_by_leg: bool

    @property
    def misclosure_percent(self) -> float:
        """The misclosure as a percentage of the perimeter walked."""
        return 100.0 * self.misclosure_m / self.perimeter_m if self.perimeter_m else 0.0


def _problem(label: str, message: str, code: str = "traverse_incomplete") -> GeometryProblem:
    return GeometryProblem(f"{label}: {message}", code)


def compute(
    stations: Sequence[Station], *, declination_deg: float = 0.0, label: str = "traverse"
) -> Traverse:
    """Follow the legs from the benchmark and build the polygon of the turning points.

    ``declination_deg`` (east positive) turns magnetic bearings into true ones. The figure is
    closed by a leg when the last turning point repeats the first one's label; without such a
    leg (all points absolute) it closes by a straight edge and the misclosure is zero.
    """
    if not stations:
        raise _problem(label, "no points")
    position: tuple[float, float] | None = None
    points: list[tuple[float, float]] = []
    labels: list[str] = []
    for number, station in enumerate(stations, start=1):
        name = station.label or f"point {number}"
        if station.absolute:
            position = (float(station.lon), float(station.lat))  # type: ignore[arg-type]
        elif station.bearing_deg is not None and station.distance_m is not None:
            if position is None:
                raise _problem(
                    label,
                    f"{name} is given by bearing and distance, but no benchmark with "
                    "coordinates comes before it",
                    "traverse_no_benchmark",
                )
            if station.distance_m <= 0:
                raise _problem(label, f"{name}: distance {station.distance_m:g} m is not positive")
            lon, lat, _ = GEOD.fwd(
                position[0], position[1], station.bearing_deg + declination_deg, station.distance_m
            )
            position = (float(lon), float(lat))
        else:
            raise _problem(
                label, f"{name} has neither coordinates nor both a bearing and a distance"
            )
        if station.kind == TURNING:
            points.append(position)
            labels.append(station.label)
    closed_by_leg = len(points) > 1 and bool(labels[0]) and labels[-1] == labels[0]
    corners = points[:-1] if closed_by_leg else points
    if len(corners) < 3:
        raise _problem(
            label,
            f"{len(corners)} turning point{'s' if len(corners) != 1 else ''}; a polygon needs "
            "at least 3",
            "traverse_too_few_points",
        )
    walked = [*corners, points[-1]] if closed_by_leg else [*corners, corners[0]]
    lons, lats = np.array(walked).T
    _, _, legs = GEOD.inv(lons[:-1], lats[:-1], lons[1:], lats[1:])
    perimeter = float(np.sum(legs))
    misclosure = 0.0
    if closed_by_leg:
        azimuth, _, misclosure = GEOD.inv(points[-1][0], points[-1][1], *corners[0])
        corners = _compass_rule(corners, np.cumsum(legs)[:-1], perimeter, azimuth, misclosure)
    ring = [*corners, corners[0]]
    return Traverse(Polygon(ring), float(misclosure), perimeter, closed_by_leg)


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


def check_misclosure(traverse: Traverse, max_percent: float, *, label: str) -> None:
    """Refuse a traverse that closes worse than ``max_percent`` of its perimeter."""
    if traverse.misclosure_percent > max_percent:
        raise GeometryProblem(
            f"{label}: the traverse misses its start by {traverse.misclosure_m:.2f} m, "
            f"{traverse.misclosure_percent:.2f} % of the {traverse.perimeter_m:.1f} m perimeter, "
            f"more than the {max_percent:g} % allowed - check the bearings and distances",
            "misclosure",
        )
