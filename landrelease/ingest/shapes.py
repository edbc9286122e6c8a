"""Polygons from table columns: WKT, ODK geoshapes, and turning-point tables.

CSV and XLSX exports carry geometry as text or as numbers spread over rows. The profile names
the columns; this module builds the polygons with the same tolerance as the reader: a row whose
WKT or geoshape cannot form a polygon gets a note saying why, and the other rows go on.

* **WKT** column (``POLYGON ((...))``): its CRS is the profile's ``wkt_crs`` or ``--crs``.
* **ODK geoshape** column (``lat lon altitude accuracy;lat lon ...``), as KoboToolbox and ODK
  Collect export it: always WGS84 latitude first.
* **Turning points**: rows grouped into one polygon per group key, ordered, each a benchmark,
  a reference point or a turning point given by coordinates or by bearing and distance
  (:mod:`landrelease.ingest.traverse`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from landrelease.errors import GeometryError, LandReleaseError
from landrelease.geometry import to_crs
from landrelease.ingest.profiles import Columns, Profile
from landrelease.ingest.read import Features, GeometryNote, ring_problem
from landrelease.ingest.traverse import (
    TURNING,
    Station,
    Traverse,
    compute,
    label_kind,
    point_kind,
)

_RING_TEXT = re.compile(r"\(([^()]*)\)")

#: Misclosure measured for each feature built from turning points (position -> traverse).
Traverses = dict[int, Traverse]


def shape_table(features: Features, profile: Profile) -> tuple[Features, Traverses]:
    """Give a table its geometry from the columns the profile names (files with geometry pass).

    Raises :class:`LandReleaseError` when a table has no column geometry can come from.
    """
    if not features.is_table:
        return features, {}
    columns = profile.columns(features.values)
    for kind, builder in (("geometry.wkt", _from_wkt), ("geometry.geoshape", _from_geoshape)):
        if columns.has(kind):
            geometries, notes = builder(features.values[columns.chosen[kind]])
            crs = profile.wkt_crs if kind == "geometry.wkt" else profile.coordinates_crs
            return replace(
                features, geometries=geometries, notes=notes, crs=to_crs(crs) if crs else None
            ), {}
    coordinates = columns.has("geometry.lon") and columns.has("geometry.lat")
    legs = columns.has("geometry.bearing") and columns.has("geometry.distance")
    if (coordinates or legs) and columns.has("geometry.group"):
        return _from_turning_points(features, profile, columns)
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
    text = np.array([None if v in (None, "") else str(v) for v in values], dtype=object)
    geoms = shapely.from_wkt(text, on_invalid="ignore")
    notes: dict[int, GeometryNote] = {}
    for i in np.flatnonzero((geoms == None) & (text != None)).tolist():  # noqa: E711 - elementwise
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
    features: Features, profile: Profile, columns: Columns
) -> tuple[Features, Traverses]:
    """One feature per group of rows: the polygon its turning points describe."""
    groups: dict[str, list[int]] = {}
    for position in range(len(features)):
        key = columns.get(features.attributes(position), "geometry.group")
        groups.setdefault("" if key is None else str(key).strip(), []).append(position)
    geometries: list[BaseGeometry | None] = []
    notes: dict[int, GeometryNote] = {}
    traverses: Traverses = {}
    origins: list[str] = []
    firsts: list[int] = []
    for number, (key, rows) in enumerate(groups.items()):
        rows = _ordered(features, columns, rows)
        firsts.append(rows[0])
        origins.append(
            f"rows {', '.join(str(r + 2) for r in rows)}"  # +2: header row, 1-based
        )
        label = f"polygon {key or '(no group key)'}"
        try:
            stations = [_station(features.attributes(r), columns, r) for r in rows]
            if not any(s.kind == TURNING for s in stations):
                stations = [replace(s, kind=TURNING) for s in stations]  # a plain vertex list
            declination = _number(columns.get(features.attributes(rows[0]), "geometry.declination"))
            traverse = compute(stations, declination_deg=declination or 0.0, label=label)
        except (GeometryError, ValueError) as exc:
            code = getattr(exc, "code", "traverse_incomplete")
            notes[number] = GeometryNote(code, str(exc).removeprefix(f"{label}: "))
            geometries.append(None)
            continue
        traverses[number] = traverse
        geometries.append(traverse.polygon)
    crs = profile.coordinates_crs
    grouped = replace(
        features,
        values={name: [column[i] for i in firsts] for name, column in features.values.items()},
        geometries=geometries,
        notes=notes,
        origins=origins,
        crs=to_crs(crs) if crs else None,
    )
    return grouped, traverses


def _ordered(features: Features, columns: Columns, rows: list[int]) -> list[int]:
    if not columns.has("geometry.order"):
        return rows
    keys = [_number(columns.get(features.attributes(r), "geometry.order")) for r in rows]
    if any(k is None for k in keys):
        return rows
    return [r for _, r in sorted(zip(keys, rows, strict=True))]


def _number(raw: object) -> float | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, int | float):
        return float(raw)
    return float(str(raw).strip().replace(",", "."))


def _station(attributes: dict[str, object], columns: Columns, row: int) -> Station:
    raw_label = columns.get(attributes, "geometry.point")
    label = "" if raw_label is None else str(raw_label).strip()
    raw_kind = columns.get(attributes, "geometry.point_type")
    try:
        kind = point_kind(raw_kind if raw_kind not in (None, "") else label_kind(label))
        return Station(
            kind=kind,
            label=label,
            lon=_number(columns.get(attributes, "geometry.lon")),
            lat=_number(columns.get(attributes, "geometry.lat")),
            bearing_deg=_number(columns.get(attributes, "geometry.bearing")),
            distance_m=_number(columns.get(attributes, "geometry.distance")),
        )
    except ValueError as exc:
        raise ValueError(f"row {row + 2}: {exc}") from exc
