"""Polygons from table columns: WKT, ODK geoshapes, and turning-point tables.

CSV and XLSX exports carry geometry as text or as numbers spread over rows. The profile names
the columns; this module builds the polygons with the same tolerance as the reader: a row whose
WKT or geoshape cannot form a polygon gets a note saying why, and the other rows go on.

* **WKT** column (``POLYGON ((...))``): its CRS is the profile's ``wkt_crs`` or ``--crs``;
  curved types (``CURVEPOLYGON``, ``MULTISURFACE``) are made of straight segments by GDAL.
* **ODK geoshape** column (``lat lon altitude accuracy;lat lon ...``), as KoboToolbox and ODK
  Collect export it: always WGS84 latitude first.
* **Turning points**: rows grouped into one polygon per group key (a row without one belongs to
  the polygon above it), ordered, each a benchmark, a reference point or a turning point given
  by coordinates (in the profile's ``coordinates_crs``) or by bearing and distance
  (:mod:`landrelease.ingest.traverse`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import shapely
from pyproj import CRS, Transformer
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from landrelease.errors import GeometryError, LandReleaseError
from landrelease.geometry import WGS84, GeometryProblem, to_crs
from landrelease.ingest.profiles import Columns, Profile
from landrelease.ingest.read import (
    Features,
    GeometryNote,
    decode_geometries,
    linear_wkb,
    ring_problem,
)
from landrelease.ingest.traverse import (
    BAD_VALUE,
    TURNING,
    Station,
    Traverse,
    compute,
    label_kind,
    point_kind,
)

_RING_TEXT = re.compile(r"\(([^()]*)\)")

#: WKT types with arcs, which shapely cannot hold.
_CURVED = re.compile(
    r"\b(?:CIRCULARSTRING|COMPOUNDCURVE|CURVEPOLYGON|MULTICURVE|MULTISURFACE)\b", re.IGNORECASE
)

#: Misclosure measured for each feature built from turning points (position -> traverse).
Traverses = dict[int, Traverse]


def shape_table(
    features: Features, profile: Profile, crs: str | int | None = None
) -> tuple[Features, Traverses]:
    """Give a table its geometry from the columns the profile names (files with geometry pass).

    ``crs`` (``--crs``) is the CRS of the table's coordinates, over the profile's: a
    benchmark's coordinates are converted before legs leave it, so the polygons of a
    turning-point table come out in WGS84, and the table's CRS says so. Raises
    :class:`LandReleaseError` when a table has no column geometry can come from.
    """
    if not features.is_table:
        return features, {}
    columns = profile.columns(features.values)
    for kind, builder in (("geometry.wkt", _from_wkt), ("geometry.geoshape", _from_geoshape)):
        if columns.has(kind):
            geometries, notes = builder(features.values[columns.chosen[kind]])
            given = profile.wkt_crs if kind == "geometry.wkt" else profile.coordinates_crs
            given = crs if crs is not None else given
            return replace(
                features, geometries=geometries, notes=notes, crs=to_crs(given) if given else None
            ), {}
    coordinates = columns.has("geometry.lon") and columns.has("geometry.lat")
    legs = columns.has("geometry.bearing") and columns.has("geometry.distance")
    if (coordinates or legs) and columns.has("geometry.group"):
        return _from_turning_points(features, profile, columns, crs)
    wanted = ", ".join(
        f"{kind}: {' / '.join(profile.geometry[kind])}"
        for kind in ("wkt", "geoshape", "lon", "lat", "bearing", "distance", "group")
        if kind in profile.geometry
    )
    raise LandReleaseError(
        f"{features.name}: a table needs the polygon in a column; profile {profile.name} looks "
        f"for {wanted or 'nothing'} and the file has {', '.join(features.values)}"
    )


def _from_wkt(
    values: Sequence[object],
) -> tuple[list[BaseGeometry | None], dict[int, GeometryNote]]:
    """Geometries from WKT text; curves are read by GDAL as straight segments (as from a
    GeoPackage), since shapely cannot hold them; a row that cannot be read gets a note."""
    text = np.array([None if v in (None, "") else str(v) for v in values], dtype=object)
    curved = np.array([t is not None and _CURVED.search(t) is not None for t in text], dtype=bool)
    straight = text.copy()
    straight[curved] = None
    try:
        geoms = shapely.from_wkt(straight, on_invalid="ignore")
    except NotImplementedError:  # another type shapely cannot hold: GDAL reads every row
        curved = text != None  # noqa: E711 - elementwise
        geoms = np.full(len(text), None, dtype=object)
    notes: dict[int, GeometryNote] = {}
    if curved.any():
        positions = np.flatnonzero(curved)
        linear, linear_notes = decode_geometries(linear_wkb(text[positions].tolist()))
        for position, geom in zip(positions.tolist(), linear, strict=True):
            geoms[position] = geom
        notes.update({int(positions[k]): note for k, note in linear_notes.items()})
    for i in np.flatnonzero((geoms == None) & (text != None)).tolist():  # noqa: E711 - elementwise
        if i in notes:
            continue
        unreadable = GeometryNote("malformed_geometry", f"the WKT {text[i][:60]!r} is unreadable")
        parsed = [_numbers(ring) for ring in _RING_TEXT.findall(text[i])]
        rings = [ring for ring in parsed if ring is not None]
        if not rings or len(rings) != len(parsed):
            notes[i] = unreadable
        else:
            notes[i] = ring_problem(rings) or unreadable
    return list(geoms), notes


def _numbers(ring_text: str) -> np.ndarray | None:
    try:
        rows = [[float(v) for v in point.split()[:2]] for point in ring_text.split(",")]
        return np.array(rows, dtype=float).reshape(-1, 2)
    except ValueError:
        return None


def _from_geoshape(
    values: Sequence[object],
) -> tuple[list[BaseGeometry | None], dict[int, GeometryNote]]:
    """ODK geoshape: ``lat lon alt acc`` per vertex, ``;`` between vertices, ring closed."""
    geoms: list[BaseGeometry | None] = []
    notes: dict[int, GeometryNote] = {}
    for i, value in enumerate(values):
        text = "" if value is None else str(value).strip()
        if not text:
            geoms.append(None)
            continue
        try:
            latlon = np.array(
                [[float(v) for v in vertex.split()[:2]] for vertex in text.strip(";").split(";")]
            )
        except ValueError:
            latlon = np.empty((0, 2))
        if latlon.ndim != 2 or latlon.shape[1] != 2 or not len(latlon):
            notes[i] = GeometryNote(
                "malformed_geometry", f"geoshape {text[:60]!r} is not 'lat lon alt acc;...'"
            )
            geoms.append(None)
            continue
        ring = latlon[:, ::-1]
        note = ring_problem([ring])
        if note is not None:
            notes[i] = note
            geoms.append(None)
        else:
            geoms.append(Polygon(ring))
    return geoms, notes


def _from_turning_points(
    features: Features, profile: Profile, columns: Columns, crs: str | int | None = None
) -> tuple[Features, Traverses]:
    """One feature per group of rows: the polygon its turning points describe.

    A row with an empty group key belongs to the polygon of the row above, as on a field form
    or a sheet with merged cells where the ID is written once, on the benchmark row. Rows
    before the first key form one feature refused with a single note saying so.
    """
    given = crs if crs is not None else profile.coordinates_crs
    source = to_crs(given) if given else None
    to_wgs84 = _to_wgs84(source)
    groups: dict[str, list[int]] = {}
    above = ""
    for position in range(len(features)):
        raw = columns.get(features.attributes(position), "geometry.group")
        above = ("" if raw is None else str(raw).strip()) or above
        groups.setdefault(above, []).append(position)
    geometries: list[BaseGeometry | None] = []
    notes: dict[int, GeometryNote] = {}
    traverses: Traverses = {}
    origins: list[str] = []
    firsts: list[int] = []
    for number, (key, rows) in enumerate(groups.items()):
        label = f"polygon {key}"
        traverse: Traverse | None = None
        try:
            if not key:
                raise GeometryProblem(
                    f"no {columns.chosen['geometry.group']} on these rows nor on a row above "
                    "them; write it at least on the first row of each polygon",
                    "traverse_no_group_key",
                )
            rows = _ordered(features, columns, rows)
            stations = [to_wgs84(_station(features.attributes(r), columns, r)) for r in rows]
            if not any(s.kind == TURNING for s in stations):
                stations = [replace(s, kind=TURNING) for s in stations]  # a plain vertex list
            declination = _cell(features.attributes(rows[0]), columns, "geometry.declination")
            traverse = compute(stations, declination_deg=declination or 0.0, label=label)
        except (GeometryError, ValueError) as exc:
            code = getattr(exc, "code", "traverse_incomplete")
            notes[number] = GeometryNote(code, str(exc).removeprefix(f"{label}: "))
        else:
            traverses[number] = traverse
        firsts.append(rows[0])
        origins.append(f"rows {', '.join(str(r + 2) for r in rows)}")  # +2: header, 1-based
        geometries.append(None if traverse is None else traverse.polygon)
    grouped = replace(
        features,
        values={name: [column[i] for i in firsts] for name, column in features.values.items()},
        geometries=geometries,
        notes=notes,
        origins=origins,
        crs=None if source is None else WGS84,
    )
    return grouped, traverses


def _to_wgs84(crs: CRS | None) -> Callable[[Station], Station]:
    """A function giving a station's coordinates in WGS84 longitude and latitude.

    Legs are followed on the WGS84 ellipsoid, so a benchmark given in the profile's
    ``coordinates_crs`` (often a UTM zone, in metres) is turned into degrees before the first
    leg leaves it; the polygon comes out in WGS84.
    """
    if crs is None or crs == WGS84:
        return lambda station: station
    transformer = Transformer.from_crs(crs, WGS84, always_xy=True)

    def convert(station: Station) -> Station:
        if not station.absolute:
            return station
        lon, lat = transformer.transform(station.lon, station.lat)
        return replace(station, lon=float(lon), lat=float(lat))

    return convert


def _ordered(features: Features, columns: Columns, rows: list[int]) -> list[int]:
    """The rows by the order column when every row has a number there, else as in the file."""
    if not columns.has("geometry.order"):
        return rows
    keys = [_cell(features.attributes(r), columns, "geometry.order", row=r) for r in rows]
    if any(k is None for k in keys):
        return rows
    return [r for _, r in sorted(zip(keys, rows, strict=True))]


def _number(raw: object) -> float | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, int | float):
        return None if isinstance(raw, float) and math.isnan(raw) else float(raw)  # NaN: empty
    return float(str(raw).strip().replace(",", "."))


def _cell(
    attributes: dict[str, object], columns: Columns, canonical: str, *, row: int | None = None
) -> float | None:
    """A number from one cell; raises a :class:`GeometryProblem` naming the column if not one."""
    raw = columns.get(attributes, canonical)
    try:
        return _number(raw)
    except ValueError:
        where = "" if row is None else f"row {row + 2}: "  # +2: header, 1-based
        column = columns.chosen[canonical]
        raise GeometryProblem(f"{where}{column} {raw!r} is not a number", BAD_VALUE) from None


def _station(attributes: dict[str, object], columns: Columns, row: int) -> Station:
    """A point from its row; cells that are not numbers are kept in ``unreadable`` so that
    :func:`landrelease.ingest.traverse.compute` names them with every other problem at once."""
    raw_label = columns.get(attributes, "geometry.point")
    label = "" if raw_label is None else str(raw_label).strip()
    raw_kind = columns.get(attributes, "geometry.point_type")
    try:
        kind = point_kind(raw_kind if raw_kind not in (None, "") else label_kind(label))
    except ValueError as exc:
        raise ValueError(f"row {row + 2}: {exc}") from exc
    numbers: dict[str, float | None] = {}
    unreadable: list[str] = []
    for name in ("lon", "lat", "bearing", "distance"):
        try:
            numbers[name] = _cell(attributes, columns, f"geometry.{name}")
        except GeometryProblem as exc:
            numbers[name] = None
            unreadable.append(str(exc).removesuffix(" is not a number"))
    return Station(
        kind=kind,
        label=label,
        lon=numbers["lon"],
        lat=numbers["lat"],
        bearing_deg=numbers["bearing"],
        distance_m=numbers["distance"],
        row=row + 2,  # header row, 1-based
        unreadable=tuple(unreadable),
    )
