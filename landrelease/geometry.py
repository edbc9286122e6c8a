"""The one path every polygon takes into landrelease, and the one geodesic area function.

A polygon from a field file or the command line is checked and repaired here, whatever its
source: it must exist, carry a CRS, be a polygon, have plausible coordinates once in EPSG:4326,
and be valid (repaired with the structure-preserving ``make_valid``, keeping polygons, the area
change reported and refused above a limit). Doing this in one place is what lets a report say
exactly why a feature was refused, and lets every other module assume clean MultiPolygons.

Areas are geodesic on the WGS84 ellipsoid: the area enclosed by geodesic edges, measured edge by
edge along those geodesics (:func:`geodesic_areas_m2`). The database uses ``lr_area_m2``
(``ST_Area(geography)``, GeographicLib), which agrees to about 1e-4 m².
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Geod, Transformer
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from landrelease.errors import GeometryError

WGS84 = CRS.from_epsg(4326)
GEOD = Geod(ellps="WGS84")

#: A repair that changes the area by more than this share is refused, not applied silently.
MAX_REPAIR_CHANGE = 0.05

#: Smallest area that counts as land (m²): a polygon below it is a sliver or a collapsed ring,
#: and a hazard whose remainder falls below it closes as released.
MIN_AREA_M2 = 1.0

#: Longest edge kept as it is (m); longer edges get vertices along their geodesic.
MAX_EDGE_M = 20.0

#: Longest edge measured in one step (m); longer edges are split along their geodesic first.
#: The midpoint an edge is measured through is its chord's, brought up to the ellipsoid: over a
#: few kilometres that strays micrometres from the geodesic, which moves a 100 km² polygon's
#: area by about 1e-3 m² (checked against GeographicLib); below 1 km, by under 1e-4 m².
SIMPSON_MAX_EDGE_M = 1000.0

CRSLike = CRS | str | int


class GeometryProblem(GeometryError):
    """A :class:`GeometryError` that also carries a stable code naming the check that failed.

    The message is for the officer; the code (e.g. ``"no_crs"``, ``"coordinates_swapped"``) is
    for import reports and tests, which must say *which* problem a feature has without parsing
    sentences.
    """

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class CleanPolygon:
    """A polygon ready for the database: valid, oriented, MultiPolygon, EPSG:4326."""

    geom: MultiPolygon
    area_m2: float
    repairs: tuple[str, ...] = field(default=())
    area_change_m2: float = 0.0


def to_crs(crs: CRSLike | None) -> CRS | None:
    """Parse a CRS given as EPSG code, string or CRS (None stays None)."""
    if crs is None:
        return None
    if isinstance(crs, CRS):
        return crs
    return _parse_crs(crs)


def crs_hint(geoms: Sequence[BaseGeometry | None]) -> str:
    """Which ``--crs`` to give geometries that came without one, judged from their coordinates.

    Degrees and metres are told apart by range: every coordinate within ±180 and ±90 is taken
    for longitude and latitude (a file with them swapped is caught later, by the swap check);
    anything larger is metres of a projected system, whose zone the numbers alone cannot tell.
    """
    present = [g for g in geoms if g is not None and not g.is_empty]
    if present:
        west, south, east, north = shapely.total_bounds(present)
        if west >= -180 and east <= 180 and south >= -90 and north <= 90:
            return "its coordinates look like longitude and latitude in degrees: --crs EPSG:4326"
    return (
        "its coordinates look like metres of a projected system: give its EPSG code with --crs "
        "(e.g. --crs EPSG:32634 for UTM zone 34N)"
    )


@lru_cache(maxsize=256)
def _parse_crs(crs: str | int) -> CRS:
    try:
        return CRS.from_user_input(crs)
    except Exception as exc:  # pyproj raises CRSError, a bare Exception subclass
        raise GeometryProblem(
            f"unknown coordinate reference system {crs!r}: {exc}", "unknown_crs"
        ) from exc


@lru_cache(maxsize=64)
def _transformer(source: CRS) -> Transformer:
    return Transformer.from_crs(source, WGS84, always_xy=True)


def to_wgs84(geom: BaseGeometry, crs: CRS) -> BaseGeometry:
    """Transform a geometry to EPSG:4326 with (lon, lat) axis order whatever the CRS says."""
    if crs.equals(WGS84, ignore_axis_order=True):
        return geom
    transformer = _transformer(crs)

    def _apply(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, _apply)


def polygons_only(geom: BaseGeometry) -> MultiPolygon:
    """Keep the polygonal parts of a geometry as one MultiPolygon (possibly empty)."""
    if isinstance(geom, MultiPolygon):
        return geom
    if isinstance(geom, Polygon):
        return MultiPolygon([geom]) if not geom.is_empty else MultiPolygon()
    parts: list[Polygon] = []
    for part in getattr(geom, "geoms", []):
        parts.extend(polygons_only(part).geoms)
    return MultiPolygon(parts)


def geodesic_area_m2(geom: BaseGeometry) -> float:
    """Geodesic area in m² of a lon/lat (Multi)Polygon on the WGS84 ellipsoid (non-polygonal
    parts count for nothing); see :func:`geodesic_areas_m2`."""
    return float(geodesic_areas_m2([polygons_only(geom)])[0])


def geodesic_areas_m2(geoms: Sequence[BaseGeometry] | np.ndarray) -> np.ndarray:
    """Geodesic area in m² of each lon/lat Polygon or MultiPolygon on the WGS84 ellipsoid.

    The area enclosed by geodesic edges, as GeographicLib (``pyproj.Geod``) and PostGIS's
    geography area define it, measured array-wise edge by edge (see :func:`_areas_of_rings`),
    equal to GeographicLib's figure within its own rounding (about 1e-4 m²). A polygon and its
    densified copy (:func:`densify_geodesic`) measure the same. Shells add and holes subtract,
    however the rings are wound.
    """
    array = np.asarray(geoms, dtype=object).ravel()
    areas = np.zeros(len(array))
    keep = ~(shapely.is_empty(array) | shapely.is_missing(array))
    if keep.any():
        _, coords, offsets = _multipolygon_layout(array[keep])
        areas[keep] = _areas_of_rings(coords, offsets)
    return areas


def _multipolygon_layout(
    geoms: np.ndarray,
) -> tuple[shapely.GeometryType, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``to_ragged_array`` of non-empty Polygons and MultiPolygons, always in the MultiPolygon
    layout (ring, polygon and geometry offsets), so that it rebuilds MultiPolygons."""
    kind, coords, offsets = shapely.to_ragged_array(geoms)
    if kind == shapely.GeometryType.POLYGON:  # every one a Polygon: one part each
        offsets = (*offsets, np.arange(len(geoms) + 1))
    return shapely.GeometryType.MULTIPOLYGON, coords, offsets  # type: ignore[return-value]


def _areas_of_rings(
    coords: np.ndarray, offsets: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> np.ndarray:
    """Area of each geometry of a MultiPolygon layout of lon/lat rings.

    Each ring is measured in the authalic (equal-area) cylindrical projection of the WGS84
    ellipsoid, where area is exact: the shoelace sum over every ring at once, in numpy, instead
    of one GeographicLib call per ring. A geodesic edge bows a little there; the bow is taken in
    as the parabola through the geodesic's midpoint (Simpson's rule, exact for a cubic); edges
    over ``SIMPSON_MAX_EDGE_M`` are split along their geodesics first. So the vertices that a
    densified copy adds on the same geodesics change the area by rounding only, and a polygon
    is measured from the vertices it came with. Longitude steps are taken the short way, so a
    ring may cross the antimeridian; a ring around a pole, which this sum cannot close, is
    measured by GeographicLib. Every ring is taken by absolute value: shells add, holes subtract.
    """
    rings, polygons, owners = offsets
    ring_of, edge, xyz, chord = _edges(coords, rings)
    if (np.einsum("ij,ij->i", chord, chord) > SIMPSON_MAX_EDGE_M**2).any():
        # Each long edge is split as it would be alone, so a polygon measures the same in any
        # batch; the pieces' chords are within a micrometre of the limit, short enough.
        coords, rings = _densify_rings(coords, rings, SIMPSON_MAX_EDGE_M)
        ring_of, edge, xyz, chord = _edges(coords, rings)
    lam = np.radians(coords[:, 0])
    y = _authalic(coords[:, 1])
    base = y[rings[:-1]][ring_of]  # heights from the ring's first vertex: less cancellation
    step = _turn(lam[edge + 1] - lam[edge])
    # The geodesic's midpoint, and the parabola through it, bound what the chord leaves out.
    mid_lon, mid_lat = _from_ecef(xyz[edge] + chord / 2)
    mid_step = _turn(np.radians(mid_lon) - lam[edge])
    rise, mid_rise = y[edge + 1] - y[edge], _authalic(mid_lat) - y[edge]
    under = step * (y[edge] + y[edge + 1] - 2 * base[edge]) / 2
    bulge = (2 / 3) * (step * mid_rise - rise * mid_step)
    count = len(rings) - 1
    turns = np.bincount(ring_of[edge], weights=step, minlength=count)
    # The area between a parallel and the equator over one radian of longitude is a²·q/2.
    ring_area = np.abs(np.bincount(ring_of[edge], weights=under + bulge, minlength=count)) * (
        _A**2 / 2
    )
    for ring in np.flatnonzero(np.abs(turns) > np.pi):  # encloses a pole
        a, b = rings[ring], rings[ring + 1]
        ring_area[ring] = abs(GEOD.polygon_area_perimeter(coords[a:b, 0], coords[a:b, 1])[0])
    shell = np.zeros(len(ring_area), dtype=bool)
    shell[polygons[:-1]] = True
    signed = np.where(shell, ring_area, -ring_area)
    ring_owner = np.repeat(
        np.repeat(np.arange(len(owners) - 1), np.diff(owners)), np.diff(polygons)
    )
    return np.bincount(ring_owner, weights=signed, minlength=len(owners) - 1)


def _check_coordinates(geom: BaseGeometry, label: str, crs: CRS) -> None:
    """Refuse lon/lat out of range, saying the CRS read with (``--crs`` or the file's) is wrong."""
    coords = shapely.get_coordinates(geom)
    if not np.isfinite(coords).all():
        raise GeometryProblem(
            f"{label}: coordinates are not finite numbers", "coordinates_not_finite"
        )
    lon, lat = coords[:, 0], coords[:, 1]
    if (np.abs(lat) > 90).any() or (np.abs(lon) > 180).any():
        bad = coords[(np.abs(lat) > 90) | (np.abs(lon) > 180)][0]
        swapped = abs(bad[0]) <= 90 and abs(bad[1]) <= 180
        hint = (
            " - longitude and latitude look swapped"
            if swapped
            else " - is the CRS right? The coordinates are not in the range of "
            f"{crs.to_string()} ({crs.name}), the CRS they were read with; projected "
            "coordinates (metres) need theirs given with --crs, e.g. --crs EPSG:32634 for UTM "
            "zone 34N"
        )
        raise GeometryProblem(
            f"{label}: coordinate ({bad[0]:.6f}, {bad[1]:.6f}) is outside longitude -180..180 / "
            f"latitude -90..90{hint}",
            "coordinates_swapped" if swapped else "coordinates_out_of_range",
        )


def prepare_polygon(
    geom: BaseGeometry | None,
    crs: CRSLike | None,
    *,
    label: str = "polygon",
    max_repair_change: float = MAX_REPAIR_CHANGE,
    max_edge_m: float = MAX_EDGE_M,
) -> CleanPolygon:
    """Check, transform and repair one polygon; raise :class:`GeometryError` with the reason.

    ``label`` names the feature in messages (e.g. ``"feature 12 (BA-0042)"``). ``max_edge_m``
    is the longest edge kept (see :func:`densify_geodesic`): hazards and releases, which are cut,
    need the default; reference boundaries, which only group figures, can take coarser edges.
    """
    if geom is None:
        raise GeometryProblem(f"{label}: no geometry", "null_geometry")
    parsed_crs = to_crs(crs)
    if parsed_crs is None:
        raise GeometryProblem(
            f"{label}: no coordinate reference system; {crs_hint([geom])}", "no_crs"
        )
    if geom.is_empty:
        raise GeometryProblem(f"{label}: empty geometry", "empty_geometry")
    if geom.geom_type not in ("Polygon", "MultiPolygon", "GeometryCollection"):
        raise GeometryProblem(f"{label}: a {geom.geom_type} is not a polygon", "not_polygon")
    geom = shapely.force_2d(geom)
    geom = to_wgs84(geom, parsed_crs)
    _check_coordinates(geom, label, parsed_crs)

    repairs: list[str] = []
    before = polygons_only(geom)
    if before.is_empty:
        raise GeometryProblem(f"{label}: contains no polygon", "not_polygon")
    geom = before
    if not before.is_valid:
        reason = shapely.is_valid_reason(before)
        repaired = polygons_only(
            shapely.make_valid(before, method="structure", keep_collapsed=False)
        )
        if repaired.is_empty:
            raise GeometryProblem(
                f"{label}: invalid ({reason}) and nothing is left after repair", "invalid_geometry"
            )
        repairs.append(f"repaired: {reason}")
        geom = repaired
    oriented = polygons_only(shapely.orient_polygons(geom))
    clean = densify_geodesic(oriented, max_edge_m)
    area = geodesic_area_m2(oriented)  # as the batch path measures it: the same, fewer vertices
    if area < MIN_AREA_M2:
        raise GeometryProblem(
            f"{label}: area {area:.2f} m² is below the {MIN_AREA_M2:g} m² minimum "
            "(a sliver or a collapsed polygon)",
            "sliver",
        )
    change = 0.0
    if repairs:
        # The area of an invalid polygon is ill-defined; compare with its shell-only reading.
        # Where that is no area at all, the ring crosses itself into lobes winding opposite
        # ways that cancel out (a figure-8: typically two turning points in the wrong order,
        # the intended shape a quadrilateral twice the lobes' area). The repair would keep the
        # lobes, a guess at the shape, so it is refused as a repair of unknown size.
        reference = _shell_area(before)
        change = area - reference
        if reference < MIN_AREA_M2:
            raise GeometryProblem(
                f"{label}: invalid ({repairs[0].removeprefix('repaired: ')}); the ring crosses "
                "itself into lobes that cancel out (a figure-8, often two corners in the "
                "wrong order), so the area it was meant to have is unknown - fix the polygon "
                "at source",
                "repair_too_large",
            )
        if abs(change) / reference > max_repair_change:
            raise GeometryProblem(
                f"{label}: invalid ({repairs[0].removeprefix('repaired: ')}); the repair would "
                f"change the area by {change:+.1f} m² ({change / reference:+.1%}), more than "
                f"{max_repair_change:.0%} - fix the polygon at source",
                "repair_too_large",
            )
    return CleanPolygon(geom=clean, area_m2=area, repairs=tuple(repairs), area_change_m2=change)


def prepare_polygons(
    geoms: Sequence[BaseGeometry | None],
    crs: CRSLike | None,
    *,
    labels: Sequence[str],
    max_repair_change: float = MAX_REPAIR_CHANGE,
    max_edge_m: float = MAX_EDGE_M,
) -> list[CleanPolygon | GeometryProblem]:
    """:func:`prepare_polygon` over many polygons, each refusal returned instead of raised.

    An importer must check every feature of a file and report all refusals at once, so one
    bad polygon does not stop the others. Files run to a hundred thousand polygons, so the
    common case (valid polygons with plausible coordinates) is done for the whole batch at once
    by the same steps array-wise - transform, coordinate check, validity, orientation, geodesic
    densification - with results identical to :func:`prepare_polygon`'s; every other polygon
    (missing, invalid, out of range) goes through :func:`prepare_polygon` itself.
    """
    parsed = to_crs(crs)
    results: list[CleanPolygon | GeometryProblem | None] = [None] * len(geoms)
    array = np.empty(len(geoms), dtype=object)
    array[:] = list(geoms)
    fast = np.zeros(len(array), dtype=bool)
    if parsed is not None and len(array):
        fast = np.isin(shapely.get_type_id(array), (3, 6)) & ~shapely.is_empty(array)
    if fast.any():
        clean = _in_parallel(array[fast], parsed, max_edge_m)  # type: ignore[arg-type]
        for position, pair in zip(np.flatnonzero(fast).tolist(), clean, strict=True):
            if pair is None:
                fast[position] = False  # not valid or not plausible: the one-by-one path says why
                continue
            dense, area = pair
            if area < MIN_AREA_M2:
                fast[position] = False
                continue
            results[position] = CleanPolygon(geom=dense, area_m2=area)
    for position in np.flatnonzero(~fast).tolist():
        try:
            results[position] = prepare_polygon(
                array[position],
                parsed,
                label=labels[position],
                max_repair_change=max_repair_change,
                max_edge_m=max_edge_m,
            )
        except GeometryProblem as exc:
            results[position] = exc
    return results  # type: ignore[return-value]


#: Threads for the array-wise path: shapely and numpy release the GIL, so a
#: batch split in parts runs on every core; parts below PARALLEL_MIN polygons are not split.
WORKERS = max(1, min(4, os.cpu_count() or 1))
PARALLEL_MIN = 1000


def _in_parallel(
    geoms: np.ndarray, crs: CRS, max_edge_m: float
) -> list[tuple[MultiPolygon, float] | None]:
    """:func:`_prepare_valid` over parts of ``geoms`` in threads, results in order."""
    parts = min(WORKERS, len(geoms) // PARALLEL_MIN)
    if parts < 2:
        return _prepare_valid(geoms, crs, max_edge_m)
    with ThreadPoolExecutor(parts) as pool:
        done = pool.map(
            lambda part: _prepare_valid(part, crs, max_edge_m), np.array_split(geoms, parts)
        )
        return [item for part in done for item in part]


def _prepare_valid(
    geoms: np.ndarray, crs: CRS, max_edge_m: float
) -> list[tuple[MultiPolygon, float] | None]:
    """The clean MultiPolygon of each (Multi)Polygon and its area, or None where it needs the
    full path. The area is measured on the rings as they came, before they are densified: the
    same figure, from half the vertices.

    None marks coordinates that are not finite or not lon/lat once transformed, and invalid
    geometry: :func:`prepare_polygon` reports or repairs those.
    """
    if shapely.has_z(geoms).any():
        geoms = shapely.force_2d(geoms)
    if not crs.equals(WGS84, ignore_axis_order=True):
        transformer = _transformer(crs)

        def _apply(coords: np.ndarray) -> np.ndarray:
            x, y = transformer.transform(coords[:, 0], coords[:, 1])
            return np.column_stack([x, y])

        geoms = shapely.transform(geoms, _apply)
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    implausible = (
        ~np.isfinite(coords).all(axis=1)
        | (np.abs(coords[:, 0]) > 180)
        | (np.abs(coords[:, 1]) > 90)
    )
    plausible = np.bincount(owner[implausible], minlength=len(geoms)) == 0
    ok = plausible & shapely.is_valid(geoms)
    if not ok.any():
        return [None] * len(geoms)
    kind, flat, offsets = _multipolygon_layout(shapely.orient_polygons(geoms[ok]))
    areas = _areas_of_rings(flat, offsets)  # the densified copy measures the same
    dense_coords, rings = _densify_rings(flat, offsets[0], max_edge_m)
    dense = shapely.from_ragged_array(kind, dense_coords, (rings, *offsets[1:]))
    out: list[tuple[MultiPolygon, float] | None] = [None] * len(geoms)
    for position, geom, area in zip(np.flatnonzero(ok), dense, areas.tolist(), strict=True):
        out[position] = (geom, area)
    return out


def _shell_area(geom: MultiPolygon) -> float:
    """Area of the outer rings, each taken alone (defined even for self-touching shells)."""
    shells = [Polygon(poly.exterior.coords) for poly in geom.geoms]
    return float(geodesic_areas_m2(shells).sum())


def densify_geodesic(geom: MultiPolygon, max_edge_m: float = MAX_EDGE_M) -> MultiPolygon:
    """Insert vertices on the geodesic of every edge longer than ``max_edge_m``.

    PostGIS cuts polygons with straight lines in lon/lat, but areas are measured with geodesic
    edges. On a long edge the two differ (about 100 m² along a 2 km east-west edge at 60°N),
    so a piece and its remainder would not add up to the whole. With vertices on the geodesic
    every 20 m the two readings agree to about 1e-4 m² per cut, and the area is unchanged: the
    new vertices lie on the very geodesic the area was measured along.
    """
    if geom.is_empty:
        return geom
    polygons = []
    changed = False
    for polygon in geom.geoms:
        rings = [polygon.exterior, *polygon.interiors]
        dense = [_densify_ring(np.asarray(ring.coords)[:, :2], max_edge_m) for ring in rings]
        changed = changed or any(new is not None for new in dense)
        coords = [
            new if new is not None else np.asarray(ring.coords)[:, :2]
            for ring, new in zip(rings, dense, strict=True)
        ]
        polygons.append(Polygon(coords[0], coords[1:]))
    return MultiPolygon(polygons) if changed else geom


def _densify_ring(coords: np.ndarray, max_edge_m: float) -> np.ndarray | None:
    """A closed ring with geodesic vertices added; None when no edge is too long."""
    dense, _ = _densify_rings(coords, np.array([0, len(coords)]), max_edge_m)
    return None if len(dense) == len(coords) else dense


def _edge_starts(offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For closed rings stored one after another: the ring of each vertex, and the vertices
    that start an edge (all but each ring's last, which is its first again)."""
    ring_of = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    starts = np.ones(offsets[-1], dtype=bool)
    starts[offsets[1:] - 1] = False
    return ring_of, np.flatnonzero(starts)


def _edges(
    coords: np.ndarray, offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For closed rings stored one after another: the ring of each vertex, the vertices that
    start an edge (see :func:`_edge_starts`), every vertex Earth-centred, and each edge's chord
    through the Earth."""
    ring_of, first = _edge_starts(offsets)
    xyz = _to_ecef(coords[:, 0], coords[:, 1])
    return ring_of, first, xyz, np.diff(xyz, axis=0)[first]


def _densify_rings(
    coords: np.ndarray, offsets: np.ndarray, max_edge_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """Closed rings stored one after another (ring k is ``coords[offsets[k]:offsets[k+1]]``)
    with vertices added on every edge longer than ``max_edge_m``; new offsets.

    New vertices are points of the edge's chord through the Earth, brought up to the ellipsoid
    along its normal: over a few kilometres that curve is within a micrometre of the geodesic,
    and it costs numpy arithmetic instead of one GeographicLib call per vertex. Array-wise over
    all rings at once, each ring's result is what it would be alone.
    """
    offsets = np.asarray(offsets)
    ring_of, first, xyz, chord = _edges(coords, offsets)
    length = np.sqrt(np.einsum("ij,ij->i", chord, chord))
    steps = np.maximum(np.ceil(length / max_edge_m).astype(int), 1)
    edge = np.repeat(np.arange(len(steps)), steps)
    within = np.arange(len(edge)) - np.repeat(np.cumsum(steps) - steps, steps)
    # The original vertices stay exactly as they were; only the new ones are computed.
    lon, lat = coords[first[edge], 0], coords[first[edge], 1]
    new = np.flatnonzero(within)
    if len(new):
        along = edge[new]
        fraction = (within[new] / steps[along])[:, None]
        lon[new], lat[new] = _from_ecef(xyz[first[along]] + fraction * chord[along])
        # A meridian is its own geodesic: its new vertices keep its longitude to the last bit,
        # not the round trip's (one unit off), so that two polygons sharing a north-south edge
        # still share it exactly, and cutting one with the other leaves no slivers along it.
        meridian = new[coords[first[along], 0] == coords[first[along] + 1, 0]]
        lon[meridian] = coords[first[edge[meridian]], 0]
    ring_points = np.bincount(ring_of[first], weights=steps, minlength=len(offsets) - 1)
    new_offsets = np.concatenate([[0], np.cumsum(ring_points.astype(int) + 1)])
    dense = np.empty((new_offsets[-1], 2))
    closing = new_offsets[1:] - 1
    dense[closing] = coords[offsets[1:] - 1, :2]  # each ring ends on its first vertex again
    keep = np.ones(len(dense), dtype=bool)
    keep[closing] = False
    dense[keep] = np.column_stack([lon, lat])
    return dense, new_offsets


_A = 6_378_137.0  # WGS84 semi-major axis, m
_F = 1 / 298.257223563
_B = _A * (1 - _F)
_E2 = _F * (2 - _F)  # first eccentricity squared
_EP2 = _E2 / (1 - _E2)  # second eccentricity squared
_E = np.sqrt(_E2)


def _turn(radians: np.ndarray) -> np.ndarray:
    """A longitude step taken the short way round, in -π..π (a ring may cross 180°)."""
    return np.remainder(radians + np.pi, 2 * np.pi) - np.pi


def _authalic(lat: np.ndarray) -> np.ndarray:
    """Snyder's q of geodetic latitude (degrees): the area between the equator and a parallel
    over one radian of longitude is a²·q/2, so (longitude, q) is an equal-area plane."""
    s = np.sin(np.radians(lat))
    return (1 - _E2) * (s / (1 - _E2 * s * s) + np.arctanh(_E * s) / _E)


def _to_ecef(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Earth-centred coordinates (m) of points on the WGS84 ellipsoid."""
    lam, phi = np.radians(lon), np.radians(lat)
    sin_phi = np.sin(phi)
    n = _A / np.sqrt(1 - _E2 * sin_phi * sin_phi)
    across = n * np.cos(phi)
    return np.column_stack([across * np.cos(lam), across * np.sin(lam), n * (1 - _E2) * sin_phi])


def _from_ecef(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and geodetic latitude (degrees) of Earth-centred points (Bowring's formula,
    exact to well under a millimetre for points within kilometres of the surface)."""
    x, y, z = xyz[:, 0], xyz[:, 1], xyz[:, 2]
    p = np.hypot(x, y)
    theta = np.arctan2(z * _A, p * _B)
    sin_t, cos_t = np.sin(theta), np.cos(theta)
    lat = np.arctan2(z + _EP2 * _B * sin_t * sin_t * sin_t, p - _E2 * _A * cos_t * cos_t * cos_t)
    return np.degrees(np.arctan2(y, x)), np.degrees(lat)
