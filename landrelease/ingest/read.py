"""Read a field file into features: attributes, geometry, and what was wrong while reading.

There is one reader path, pyogrio (GDAL), for every format: shapefiles (also zipped), GeoPackage,
GeoJSON under any extension, KML/KMZ (every folder, ExtendedData kept as fields), CSV and XLSX
tables. Geometry is taken as WKB and decoded here rather than by GDAL-to-shapely conversion in
one go, because one broken feature must not stop the file: a ring with fewer than four points or
a ring that is not closed cannot be built by GEOS, so such a feature is decoded by hand, its
problem recorded, and every other feature is still read and checked. GeoJSON features whose
coordinates GDAL silently dropped are looked up in the JSON itself, so the report says "position
2 of ring 1 is not a pair of numbers" instead of "no geometry".

Nothing is written here: a file is read, hashed (the import ledger keys on the SHA-256 of the
bytes received) and handed on to validation.
"""

from __future__ import annotations

import hashlib
import json
import struct
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyogrio
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from landrelease.errors import LandReleaseError
from landrelease.geometry import to_crs
from landrelease.ingest.archive import is_archive, unpacked

#: Extensions of datasets looked for inside an archive, most specific first.
_DATASET_SUFFIXES = (".shp", ".gpkg", ".kml", ".geojson", ".json", ".csv", ".xlsx")

#: Drivers whose files are tables: geometry, if any, is built from columns by the profile.
TABLE_DRIVERS = frozenset({"CSV", "XLSX", "ODS"})

#: Drivers whose layers are folders of one file: all of them are read, one after the other.
ALL_LAYER_DRIVERS = frozenset({"LIBKML", "KML"})


@dataclass(frozen=True)
class GeometryNote:
    """A problem found while decoding one feature's geometry (the feature has none)."""

    code: str
    message: str


@dataclass
class Features:
    """The features of one file, column-wise (position ``i`` is feature ``i + 1``)."""

    name: str
    sha256: str
    driver: str
    layers: tuple[str, ...]
    crs: CRS | None
    encoding: str | None
    encoding_declared: bool
    values: dict[str, list[object]]
    geometries: list[BaseGeometry | None]
    notes: dict[int, GeometryNote] = field(default_factory=dict)
    origins: list[str] | None = None

    def __len__(self) -> int:
        return len(self.geometries)

    @property
    def is_table(self) -> bool:
        """True when the file carries no geometry of its own (CSV, XLSX)."""
        return self.driver in TABLE_DRIVERS

    def attributes(self, position: int) -> dict[str, object]:
        """The fields of the feature at ``position``, by source field name."""
        return {name: column[position] for name, column in self.values.items()}

    def origin(self, position: int) -> str:
        """Where in the file the feature is (a KML folder, table rows), or ''."""
        return self.origins[position] if self.origins else ""


def sha256_of(path: Path) -> str:
    """SHA-256 of the file's bytes: the identity of an import, whatever its name."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


# -- finding the dataset --------------------------------------------------------------------


@contextmanager
def _dataset(path: Path) -> Iterator[list[Path]]:
    """The dataset files to open: the file itself, or the datasets inside an archive."""
    if not is_archive(path):
        yield [path]
        return
    with unpacked(path) as files:
        found = [
            f
            for f in files
            if f.suffix.lower() in _DATASET_SUFFIXES
            and not any(part.startswith(("__MACOSX", ".")) for part in f.parts[-3:])
        ]
        if not found:
            raise LandReleaseError(
                f"{path.name}: the archive holds no shapefile, GeoPackage, KML, GeoJSON or CSV"
            )
        rank = {suffix: n for n, suffix in enumerate(_DATASET_SUFFIXES)}
        found.sort(key=lambda f: (rank[f.suffix.lower()], str(f)))
        yield [f for f in found if f.suffix.lower() == found[0].suffix.lower()]


def _open_name(path: Path) -> str:
    """The name GDAL should open: GeoJSON and CSV are recognised by content whatever the name."""
    if path.suffix.lower() in (".shp", ".gpkg", ".kml", ".kmz", ".geojson", ".csv", ".xlsx"):
        return str(path)
    with path.open("rb") as stream:
        head = stream.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        return f"GeoJSON:{path}"
    if b"," in head.split(b"\n", 1)[0] or b";" in head.split(b"\n", 1)[0]:
        return f"CSV:{path}"
    return str(path)


def _has_cpg(shp: Path) -> bool:
    return any(p.name.lower() == shp.with_suffix(".cpg").name.lower() for p in shp.parent.iterdir())


def _layer_summary(source: str, layers: np.ndarray) -> str:
    parts = []
    for name, kind in layers:
        try:
            count = pyogrio.read_info(source, layer=name)["features"]
        except pyogrio.errors.DataSourceError:
            count = "?"
        parts.append(f"{name} ({kind}, {count} features)")
    return ", ".join(parts)


def _choose_layers(
    label: str, datasets: Sequence[Path], layer: str | None
) -> tuple[list[tuple[str, str]], str]:
    """(GDAL source, layer) pairs to read, and the driver; refuses an ambiguous choice."""
    if len(datasets) > 1:  # several shapefiles in one zip: each is a layer named by its stem
        by_stem = {d.stem: d for d in datasets}
        if layer is None:
            raise LandReleaseError(
                f"{label} holds {len(datasets)} datasets: {', '.join(sorted(by_stem))}; choose "
                "one with --layer"
            )
        if layer not in by_stem:
            raise LandReleaseError(
                f"{label}: no dataset {layer!r}; there are {', '.join(sorted(by_stem))}"
            )
        datasets = [by_stem[layer]]
        layer = None
    source = _open_name(datasets[0])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            layers = pyogrio.list_layers(source)
            driver = pyogrio.read_info(source, layer=layers[0][0])["driver"] if len(layers) else ""
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise LandReleaseError(
            f"{label}: cannot be read as a shapefile, GeoPackage, GeoJSON, KML/KMZ, CSV or XLSX "
            f"({exc})"
        ) from exc
    names = [str(name) for name, _ in layers]
    if not names:
        raise LandReleaseError(f"{label}: the file holds no layer")
    if layer is not None:
        if layer not in names:
            raise LandReleaseError(
                f"{label}: no layer {layer!r}; layers are {_layer_summary(source, layers)}"
            )
        return [(source, layer)], driver
    if driver in ALL_LAYER_DRIVERS or len(names) == 1:
        return [(source, name) for name in names], driver
    raise LandReleaseError(
        f"{label} has {len(names)} layers: {_layer_summary(source, layers)}; choose one with "
        "--layer"
    )


# -- reading --------------------------------------------------------------------------------


def _python_values(array: np.ndarray) -> list[object]:
    """A field's values as plain Python objects, missing values (NaN, NaT) as None.

    Values are looked at one by one only in a field that can hold a NaN: a text field
    (objects) rarely holds a float at all.
    """
    values = array.tolist()
    if array.dtype.kind == "f" and np.isnan(array).any():
        return [None if v != v else v for v in values]  # NaN is the only value not equal to itself
    if array.dtype.kind == "O" and any(issubclass(t, float) for t in set(map(type, values))):
        return [None if isinstance(v, float) and v != v else v for v in values]
    return values


def read_features(
    path: str | Path, *, layer: str | None = None, encoding: str | None = None
) -> Features:
    """Read every feature of ``path`` (all KML folders, or the chosen layer of a GeoPackage).

    ``encoding`` overrides the encoding GDAL would assume for attributes (a shapefile without
    ``.cpg`` is read as Latin-1). Raises :class:`LandReleaseError` only when the file as a whole
    cannot be read; a bad feature is recorded in ``notes`` and reading goes on.
    """
    path = Path(path)
    if not path.is_file():
        raise LandReleaseError(f"no such file: {path}")
    digest = sha256_of(path)
    with _dataset(path) as datasets:
        pairs, driver = _choose_layers(path.name, datasets, layer)
        declared = encoding is not None or driver != "ESRI Shapefile"
        if driver == "ESRI Shapefile" and encoding is None:
            declared = _has_cpg(Path(pairs[0][0]))
        parts = [
            _read_layer(source, name, encoding, read_geometry=driver not in TABLE_DRIVERS)
            for source, name in pairs
        ]
        json_source = Path(pairs[0][0].removeprefix("GeoJSON:")) if driver == "GeoJSON" else None
        features = _combine(path.name, digest, driver, parts, encoding, declared)
        if json_source is not None and any(
            g is None and i not in features.notes for i, g in enumerate(features.geometries)
        ):
            _explain_dropped_geojson(json_source, features)
    return features


@dataclass
class _Layer:
    name: str
    meta: dict[str, object]
    wkb: Sequence[bytes | None] | None
    fields: dict[str, list[object]]
    count: int


def _read_layer(source: str, layer: str, encoding: str | None, *, read_geometry: bool) -> _Layer:
    # GDAL warns per broken feature (e.g. "Non closed ring detected"); those features are
    # diagnosed and reported here, so its warnings are not repeated on the console.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            meta, _, wkb, field_data = pyogrio.raw.read(
                source,
                layer=layer,
                encoding=encoding,
                read_geometry=read_geometry,
                datetime_as_string=True,
            )
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
            raise LandReleaseError(
                f"{Path(source).name}: layer {layer} cannot be read ({exc})"
            ) from exc
        except LookupError as exc:
            raise LandReleaseError(f"unknown encoding {encoding!r}: {exc}") from exc
    names = [str(n) for n in meta["fields"]]
    fields = {name: _python_values(arr) for name, arr in zip(names, field_data, strict=True)}
    count = len(wkb) if wkb is not None else (len(field_data[0]) if field_data else 0)
    return _Layer(layer, meta, wkb, fields, count)


def _combine(
    name: str,
    digest: str,
    driver: str,
    parts: list[_Layer],
    encoding: str | None,
    declared: bool,
) -> Features:
    """One :class:`Features` from the layers read, fields united, geometry decoded."""
    order: list[str] = []
    for part in parts:
        order.extend(f for f in part.fields if f not in order)
    values: dict[str, list[object]] = {f: [] for f in order}
    wkb: list[bytes | None] = []
    origins: list[str] = []
    for part in parts:
        for f in order:
            values[f].extend(part.fields.get(f, [None] * part.count))
        wkb.extend(part.wkb if part.wkb is not None else [None] * part.count)
        origins.extend([f"layer {part.name}"] * part.count)
    geometries, notes = decode_geometries(wkb)
    crs_text = next((p.meta.get("crs") for p in parts if p.meta.get("crs")), None)
    layer_encoding = next((p.meta.get("encoding") for p in parts if p.meta.get("encoding")), None)
    return Features(
        name=name,
        sha256=digest,
        driver=driver,
        layers=tuple(p.name for p in parts),
        crs=to_crs(str(crs_text)) if crs_text else None,
        encoding=encoding or (str(layer_encoding) if layer_encoding else None),
        encoding_declared=declared,
        values=values,
        geometries=geometries,
        notes=notes,
        origins=origins if len(parts) > 1 else None,
    )


# -- tolerant geometry decoding ---------------------------------------------------------------


def ring_problem(rings: Sequence[np.ndarray]) -> GeometryNote | None:
    """Why these rings cannot form a polygon (unclosed, fewer than 4 points), or None."""
    for number, ring in enumerate(rings, start=1):
        count = len(ring)
        if count >= 2 and not np.array_equal(ring[0, :2], ring[-1, :2]):
            (x0, y0), (x1, y1) = ring[0, :2], ring[-1, :2]
            return GeometryNote(
                "ring_not_closed",
                f"ring {number} is not closed: it starts at ({x0:.6f}, {y0:.6f}) and ends at "
                f"({x1:.6f}, {y1:.6f})",
            )
        if count < 4:
            return GeometryNote(
                "ring_too_few_points",
                f"ring {number} has {count} point{'s' if count != 1 else ''}; a ring needs at "
                "least 4 (three corners and the first repeated at the end)",
            )
    return None


def decode_geometries(
    wkb: Sequence[bytes | None],
) -> tuple[list[BaseGeometry | None], dict[int, GeometryNote]]:
    """Shapely geometries from WKB; features GEOS cannot build get a note instead."""
    if not wkb:
        return [], {}
    array = np.empty(len(wkb), dtype=object)
    array[:] = list(wkb)
    geoms = shapely.from_wkb(array, on_invalid="ignore")
    notes: dict[int, GeometryNote] = {}
    failed = (geoms == None) & (array != None)  # noqa: E711 - elementwise
    for i in np.flatnonzero(failed).tolist():
        notes[i] = _diagnose_wkb(array[i])
    # Rings GEOS accepts but no polygon can have: closed with fewer than four points.
    suspect = _may_have_short_ring(geoms)
    parts, owner = shapely.get_parts(geoms[suspect], return_index=True)
    rings, ring_owner = shapely.get_rings(parts, return_index=True)
    short = shapely.get_num_coordinates(rings) < 4
    owners = np.flatnonzero(suspect)[owner[ring_owner[short]]]
    for position in dict.fromkeys(owners.tolist()):
        polygon_rings = shapely.get_rings(shapely.get_parts(geoms[position]))  # every part's
        note = ring_problem([shapely.get_coordinates(r) for r in polygon_rings])
        if note is not None:
            notes[position] = note
            geoms[position] = None
    return list(geoms), notes


def _may_have_short_ring(geoms: np.ndarray) -> np.ndarray:
    """Which geometries may hold a ring of fewer than four points: the polygonal ones, except
    polygons without holes with four points or more.

    A polygon without holes has one ring, so its number of points settles the question;
    taking a hundred thousand polygons apart into rings costs more than decoding them.
    """
    type_id = shapely.get_type_id(geoms)
    one_ring = (type_id == 3) & (shapely.get_num_interior_rings(geoms) == 0)
    return (type_id >= 3) & ~(one_ring & (shapely.get_num_coordinates(geoms) >= 4))


def _diagnose_wkb(data: bytes) -> GeometryNote:
    """Read the rings of a WKB polygon GEOS refused and say what is wrong with them."""
    try:
        rings, _ = _wkb_rings(memoryview(data), 0)
    except (struct.error, ValueError, IndexError) as exc:
        return GeometryNote("malformed_geometry", f"the geometry cannot be decoded ({exc})")
    note = ring_problem(rings)
    if note is not None:
        return note
    try:
        shapely.from_wkb(data)
    except shapely.errors.GEOSException as exc:
        return GeometryNote("malformed_geometry", f"the geometry cannot be built ({exc})")
    return GeometryNote("malformed_geometry", "the geometry cannot be built")


def _wkb_rings(buf: memoryview, offset: int) -> tuple[list[np.ndarray], int]:
    """The rings of the (Multi)Polygon or collection at ``offset``, and the offset after it.

    Handles ISO and extended (PostGIS) WKB with Z/M; other types contribute no rings.
    """
    endian = "<" if buf[offset] == 1 else ">"
    (code,) = struct.unpack_from(endian + "I", buf, offset + 1)
    offset += 5
    if code & 0x20000000:  # EWKB SRID follows the type
        offset += 4
    flags_z, flags_m = bool(code & 0x80000000), bool(code & 0x40000000)
    code &= 0x0FFFFFFF
    base, iso = code % 1000, code // 1000
    dims = 2 + int(flags_z or iso in (1, 3)) + int(flags_m or iso in (2, 3))
    count_fmt = endian + "I"
    if base == 3:
        (ring_count,) = struct.unpack_from(count_fmt, buf, offset)
        offset += 4
        rings = []
        for _ in range(ring_count):
            (points,) = struct.unpack_from(count_fmt, buf, offset)
            offset += 4
            coords = np.frombuffer(buf, dtype=endian + "f8", count=points * dims, offset=offset)
            rings.append(coords.reshape(points, dims)[:, :2])
            offset += 8 * points * dims
        return rings, offset
    if base in (6, 7):
        (part_count,) = struct.unpack_from(count_fmt, buf, offset)
        offset += 4
        rings = []
        for _ in range(part_count):
            part, offset = _wkb_rings(buf, offset)
            rings.extend(part)
        return rings, offset
    raise ValueError(f"geometry type {code} is not a polygon")


def _explain_dropped_geojson(path: Path, features: Features) -> None:
    """Say why GDAL gave no geometry for GeoJSON features whose JSON does have one."""
    try:
        document = json.loads(path.read_bytes())
        raw = [f.get("geometry") for f in document.get("features", [])]
    except (ValueError, AttributeError, OSError):
        return
    if len(raw) != len(features):
        return
    for position, geom in enumerate(features.geometries):
        if geom is None and raw[position] is not None and position not in features.notes:
            features.notes[position] = geojson_problem(raw[position])


def geojson_problem(geometry: object) -> GeometryNote:
    """What is wrong with a GeoJSON geometry object GDAL could not read."""
    if not isinstance(geometry, dict) or "type" not in geometry:
        return GeometryNote("malformed_geometry", "the geometry is not a GeoJSON geometry object")
    kind = geometry.get("type")
    coordinates = geometry.get("coordinates")
    if kind == "Polygon":
        polygons = [coordinates]
    elif kind == "MultiPolygon":
        polygons = coordinates if isinstance(coordinates, list) else [None]
    else:
        return GeometryNote("malformed_geometry", f"the {kind} geometry cannot be read")
    rings: list[np.ndarray] = []
    for polygon in polygons:
        if not isinstance(polygon, list):
            return GeometryNote("malformed_geometry", "coordinates are not a list of rings")
        for ring in polygon:
            number = len(rings) + 1
            if not isinstance(ring, list):
                return GeometryNote("malformed_geometry", f"ring {number} is not a list")
            for index, position in enumerate(ring, start=1):
                if not (
                    isinstance(position, list)
                    and len(position) >= 2
                    and all(isinstance(v, int | float) for v in position[:2])
                ):
                    return GeometryNote(
                        "malformed_geometry",
                        f"position {index} of ring {number} is {json.dumps(position)}, not a "
                        "pair of numbers",
                    )
            rings.append(np.array([p[:2] for p in ring], dtype=float).reshape(-1, 2))
    return ring_problem(rings) or GeometryNote("malformed_geometry", "the geometry cannot be read")
