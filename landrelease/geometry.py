"""The one path every polygon takes into landrelease, and the one geodesic area function.

A polygon from a field file or the command line is checked and repaired here, whatever its
source: it must exist, carry a CRS, be a polygon, have plausible coordinates once in EPSG:4326,
and be valid (repaired with the structure-preserving ``make_valid``, keeping polygons, the area
change reported and refused above a limit). Doing this in one place is what lets a report say
exactly why a feature was refused, and lets every other module assume clean MultiPolygons.

Areas are geodesic on the WGS84 ellipsoid (GeographicLib via ``pyproj.Geod``); the database uses
``lr_area_m2`` (``ST_Area(geography)``), which agrees to about 1e-8.
"""

from __future__ import annotations

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

CRSLike = CRS | str | int


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
    try:
        return CRS.from_user_input(crs)
    except Exception as exc:  # pyproj raises CRSError, a bare Exception subclass
        raise GeometryError(f"unknown coordinate reference system {crs!r}: {exc}") from exc


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
    """Geodesic area in m² of a lon/lat (Multi)Polygon on the WGS84 ellipsoid.

    Rings are oriented first: ``Geod`` gives negative areas for clockwise shells and adds holes
    wound like their shell instead of subtracting them.
    """
    if geom.is_empty:
        return 0.0
    area, _ = GEOD.geometry_area_perimeter(shapely.orient_polygons(geom))
    return abs(area)


def _check_coordinates(geom: BaseGeometry, label: str) -> None:
    coords = shapely.get_coordinates(geom)
    if not np.isfinite(coords).all():
        raise GeometryError(f"{label}: coordinates are not finite numbers")
    lon, lat = coords[:, 0], coords[:, 1]
    if (np.abs(lat) > 90).any() or (np.abs(lon) > 180).any():
        bad = coords[(np.abs(lat) > 90) | (np.abs(lon) > 180)][0]
        hint = (
            " - longitude and latitude look swapped"
            if abs(bad[0]) <= 90 and abs(bad[1]) <= 180
            else " - is the CRS right? projected coordinates need --crs"
        )
        raise GeometryError(
            f"{label}: coordinate ({bad[0]:.6f}, {bad[1]:.6f}) is outside longitude -180..180 / "
            f"latitude -90..90{hint}"
        )


def prepare_polygon(
    geom: BaseGeometry | None,
    crs: CRSLike | None,
    *,
    label: str = "polygon",
    max_repair_change: float = MAX_REPAIR_CHANGE,
) -> CleanPolygon:
    """Check, transform and repair one polygon; raise :class:`GeometryError` with the reason.

    ``label`` names the feature in messages (e.g. ``"feature 12 (BA-0042)"``).
    """
    if geom is None:
        raise GeometryError(f"{label}: no geometry")
    parsed_crs = to_crs(crs)
    if parsed_crs is None:
        raise GeometryError(
            f"{label}: no coordinate reference system; say which one (e.g. --crs EPSG:32634)"
        )
    if geom.is_empty:
        raise GeometryError(f"{label}: empty geometry")
    if geom.geom_type not in ("Polygon", "MultiPolygon", "GeometryCollection"):
        raise GeometryError(f"{label}: a {geom.geom_type} is not a polygon")
    geom = shapely.force_2d(geom)
    geom = to_wgs84(geom, parsed_crs)
    _check_coordinates(geom, label)

    repairs: list[str] = []
    before = polygons_only(geom)
    if before.is_empty:
        raise GeometryError(f"{label}: contains no polygon")
    geom = before
    area_before = geodesic_area_m2(before) if before.is_valid else None
    if not before.is_valid:
        reason = shapely.is_valid_reason(before)
        repaired = polygons_only(
            shapely.make_valid(before, method="structure", keep_collapsed=False)
        )
        if repaired.is_empty:
            raise GeometryError(f"{label}: invalid ({reason}) and nothing is left after repair")
        repairs.append(f"repaired: {reason}")
        geom = repaired
    clean = polygons_only(shapely.orient_polygons(geom))
    area = geodesic_area_m2(clean)
    if area <= 0:
        raise GeometryError(f"{label}: polygon has no area")
    change = 0.0
    if repairs:
        # The area of an invalid polygon is ill-defined; compare with its shell-only reading.
        reference = area_before if area_before is not None else _shell_area(before)
        change = area - reference
        if reference > 0 and abs(change) / reference > max_repair_change:
            raise GeometryError(
                f"{label}: invalid ({repairs[0].removeprefix('repaired: ')}); the repair would "
                f"change the area by {change:+.1f} m² ({change / reference:+.1%}), more than "
                f"{max_repair_change:.0%} - fix the polygon at source"
            )
    return CleanPolygon(geom=clean, area_m2=area, repairs=tuple(repairs), area_change_m2=change)


def _shell_area(geom: MultiPolygon) -> float:
    """Area of the outer rings, each taken alone (defined even for self-touching shells)."""
    total = 0.0
    for poly in geom.geoms:
        ring = shapely.Polygon(poly.exterior.coords)
        area, _ = GEOD.geometry_area_perimeter(ring)
        total += abs(area)
    return total
