"""Read one polygon from a file or a WKT string given on the command line.

Field teams hand over a release or hazard boundary as a small file (GeoJSON, shapefile,
GeoPackage, KML...). All its polygon features together form the one polygon of the transition;
the file's CRS travels with it, and validation happens later, in ``geometry.prepare_polygon``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyogrio
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from landrelease.errors import GeometryError
from landrelease.geometry import to_crs

_WKT = re.compile(r"^\s*(SRID=\d+;)?\s*(MULTI)?POLYGON\s*(Z|M|ZM)?\s*\(", re.IGNORECASE)


def read_polygon(
    source: str, *, crs: str | int | None = None, layer: str | None = None
) -> tuple[BaseGeometry, CRS | None]:
    """The union of the features in ``source`` (a file path or WKT) and its CRS.

    ``crs`` overrides the file's CRS (or gives one to WKT and to files without any).
    """
    path = Path(source)
    if not path.exists():
        if not _WKT.match(source):
            raise GeometryError(f"no such file: {source}")
        try:
            geom = shapely.from_wkt(source)
        except shapely.errors.GEOSException as exc:
            raise GeometryError(f"the WKT polygon cannot be read: {exc}") from exc
        return geom, to_crs(crs)
    try:
        meta, _, geometries, _ = pyogrio.raw.read(str(path), layer=layer, read_geometry=True)
    except Exception as exc:  # pyogrio raises several DataSourceError subclasses
        raise GeometryError(f"cannot read {path.name}: {exc}") from exc
    parts = [g for g in shapely.from_wkb(geometries) if g is not None and not g.is_empty]
    if not parts:
        raise GeometryError(f"{path.name}: no geometry in the file")
    file_crs = meta.get("crs")
    if len(parts) == 1:
        geom = parts[0]
    elif all(part.is_valid for part in parts):
        geom = shapely.union_all(parts)  # several features are one polygon: their union
    else:
        # An invalid feature is repaired, and reported, by prepare_polygon, not here.
        geom = shapely.GeometryCollection(parts)
    return geom, to_crs(crs) if crs is not None else (to_crs(file_crs) if file_crs else None)
