"""Read a field file into features: attributes, geometry, and what was wrong while reading.

There is one reader path, pyogrio (GDAL), for every format: shapefiles (also zipped), GeoPackage,
GeoJSON under any extension, KML/KMZ (every folder, ExtendedData kept as fields), CSV and XLSX
tables. Geometry is taken as WKB and decoded here rather than by GDAL-to-shapely conversion in
one go, because one broken feature must not stop the file: a ring with fewer than four points or
a ring that is not closed cannot be built by GEOS, so such a feature is decoded by hand, its
problem recorded, and every other feature is still read and checked. GeoJSON features whose
coordinates GDAL silently dropped are looked up in the JSON itself, so the report says "position
2 of ring 1 is not a pair of numbers" instead of "no geometry".

Text is decoded in one place, :func:`_decoded`. GDAL assumes UTF-8 for CSV and GeoJSON and
what the ``.cpg`` says for a shapefile; when ``--encoding`` is given, or when the bytes are not
in the encoding assumed, the text is read byte for byte and decoded here, so that the encoding
means the same for every format and bytes that do not decode are reported with the feature and
field that hold them and the encoding that probably reads them. A CSV or GeoJSON saved as UTF-16
(with a byte-order mark, as Excel's "Unicode text" does) is rewritten as UTF-8 first, since GDAL
reads only byte-oriented encodings.

An archive (zip, KMZ) may hold several datasets: each is named by its path inside the archive
(by its file name without extension when that is unique), they are listed, and one is chosen
with ``--layer``, as for the layers of a GeoPackage; ``--layer DATASET:LAYER`` chooses a layer
of a GeoPackage among them.

Nothing is written here: a file is read, hashed (the import ledger keys on the SHA-256 of the
bytes received) and handed on to validation.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shlex
import shutil
import struct
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pyogrio
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from landrelease.errors import LandReleaseError
from landrelease.geometry import to_crs
from landrelease.ingest.archive import is_archive, unpacked
from landrelease.ingest.encoding import codec_name, region_reading
from landrelease.ingest.nul import refuse_nul_in_table, restore_nul_text

#: Extensions of datasets looked for inside an archive, and what each is called in messages.
_DATASET_KINDS = {
    ".shp": "shapefile",
    ".gpkg": "GeoPackage",
    ".kml": "KML",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".csv": "CSV",
    ".xlsx": "XLSX",
}

#: Drivers whose files are tables: geometry, if any, is built from columns by the profile.
TABLE_DRIVERS = frozenset({"CSV", "XLSX", "ODS"})

#: Drivers whose layers are folders of one file: all of them are read, one after the other.
ALL_LAYER_DRIVERS = frozenset({"LIBKML", "KML"})

#: Drivers whose files state their encoding (UTF-8 by definition, or an XML declaration):
#: ``--encoding`` does not apply to them.
SELF_DESCRIBED_DRIVERS = frozenset({"GPKG", "XLSX", "ODS", "LIBKML", "KML"})

#: How text is read when it is decoded here: Latin-1 maps each byte to one character, so the
#: bytes come back exactly. GDAL knows the name too, and recodes a shapefile byte for byte.
_BYTES_AS_TEXT = "ISO-8859-1"

#: Byte-order marks of the encodings GDAL cannot read, and the codec each means.
_WIDE_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)

#: Extensions of files that are not plain text: binary, or XML that declares its encoding.
_NOT_PLAIN_TEXT = frozenset({".shp", ".dbf", ".shx", ".gpkg", ".xlsx", ".ods", ".kml", ".kmz"})


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


@dataclass(frozen=True)
class _Dataset:
    """One dataset file: where it is on disk and where it was inside the archive, if any."""

    path: Path
    member: PurePosixPath

    @property
    def kind(self) -> str:
        return _DATASET_KINDS.get(self.path.suffix.lower(), self.path.suffix.lstrip("."))


@contextmanager
def _datasets(path: Path) -> Iterator[list[_Dataset]]:
    """The dataset files to open: the file itself, or every dataset inside an archive."""
    if not is_archive(path):
        yield [_Dataset(path, PurePosixPath(path.name))]
        return
    with unpacked(path) as (folder, files):
        found = [
            f
            for f in files
            if f.suffix.lower() in _DATASET_KINDS
            and not any(part.startswith(("__MACOSX", ".")) for part in f.parts[-3:])
        ]
        if not found:
            raise LandReleaseError(
                f"{path.name}: the archive holds no shapefile, GeoPackage, KML, GeoJSON or CSV"
            )
        yield sorted(
            (_Dataset(f, PurePosixPath(f.relative_to(folder).as_posix())) for f in found),
            key=lambda d: str(d.member).casefold(),
        )


def _dataset_names(datasets: Sequence[_Dataset]) -> list[str]:
    """How each dataset is named: its file name without extension when that is unique, else its
    path inside the archive without extension, else that path whole."""
    stems = [d.member.stem for d in datasets]
    paths = [str(d.member.with_suffix("")) for d in datasets]
    names = []
    for stem, bare, dataset in zip(stems, paths, datasets, strict=True):
        if stems.count(stem) == 1:
            names.append(stem)
        elif paths.count(bare) == 1:
            names.append(bare)
        else:
            names.append(str(dataset.member))
    return names


def _pick_dataset(
    label: str, datasets: Sequence[_Dataset], layer: str | None
) -> tuple[_Dataset, str | None, str]:
    """The dataset to read, the layer left to choose in it, and what ``--layer`` must start
    with to choose one of its layers; refuses an ambiguous choice.

    With several datasets, ``layer`` names one of them: by its listed name, or by its path
    inside the archive with or without extension; ``DATASET:LAYER`` also names a layer of a
    GeoPackage among them.
    """
    if len(datasets) == 1:
        return datasets[0], layer, ""
    names = _dataset_names(datasets)
    listing = ", ".join(
        f"{name} ({dataset.kind}, {_count_label(str(dataset.path), None)})"
        for name, dataset in zip(names, datasets, strict=True)
    )
    if layer is None:
        raise LandReleaseError(
            f"{label} holds {len(datasets)} datasets: {listing}; choose one with --layer"
        )
    wanted = layer.replace("\\", "/").strip("/")
    inner: str | None = None
    for attempt in range(2):
        for name, dataset in zip(names, datasets, strict=True):
            if wanted in (name, str(dataset.member), str(dataset.member.with_suffix(""))):
                return dataset, inner, f"{name}:"
        if attempt or ":" not in wanted:
            break
        wanted, inner = wanted.rsplit(":", 1)
    raise LandReleaseError(f"{label}: no dataset {layer!r}; there are {listing}")


def _check_shapefile(label: str, dataset: _Dataset) -> None:
    """Refuse a shapefile without its index or attribute table, saying which file is missing.

    GDAL opens a ``.shp`` without ``.dbf`` as features with no fields at all, which would be
    reported as "no hazard ID field"; without ``.shx`` its error names a temporary path.
    """
    if dataset.path.suffix.lower() != ".shp":
        return
    present = {p.name.lower() for p in dataset.path.parent.iterdir()}
    for suffix, what, why in (
        (".shx", "the shape index", "GDAL needs it to find the shapes"),
        (".dbf", "the attribute table", "it holds the hazard IDs, classes and dates"),
    ):
        if dataset.path.with_suffix(suffix).name.lower() not in present:
            raise LandReleaseError(
                f"{label}: {dataset.member.with_suffix(suffix)} ({what}) is missing - {why}; "
                "a shapefile is its .shp, .shx, .dbf, .prj and .cpg together: ask for all of "
                "them (zipped, for instance)"
            )


@contextmanager
def _byte_text(path: Path, encoding: str | None) -> Iterator[tuple[Path, str | None]]:
    """``path`` as GDAL can read it, and the encoding left to decode it with.

    A text file in UTF-16 or UTF-32 (a byte-order mark, or ``--encoding`` says so) is rewritten
    as UTF-8 in a temporary folder: GDAL's CSV and GeoJSON readers see only bytes.
    """
    wide = None
    if path.suffix.lower() not in _NOT_PLAIN_TEXT:
        with path.open("rb") as stream:
            head = stream.read(4)
        wide = next((codec for bom, codec in _WIDE_BOMS if head.startswith(bom)), None)
        if wide is None and encoding is not None and encoding.startswith(("utf-16", "utf-32")):
            wide = encoding
    if wide is None:
        yield path, encoding
        return
    with tempfile.TemporaryDirectory(prefix="landrelease-text-") as folder:
        target = Path(folder) / path.name
        try:
            with (
                path.open(encoding=wide, newline="") as source,
                target.open("w", encoding="utf-8", newline="") as sink,
            ):
                shutil.copyfileobj(source, sink)
        except UnicodeDecodeError as exc:
            raise LandReleaseError(
                f"{path.name}: the text is not valid {wide.upper()} ({exc.reason}); give the "
                "encoding it was saved in with --encoding"
            ) from exc
        yield target, None


def _open_name(path: Path) -> str:
    """The name GDAL should open: GeoJSON and CSV are recognised by content whatever the name."""
    if path.suffix.lower() in (".shp", ".gpkg", ".kml", ".kmz", ".geojson", ".csv", ".xlsx"):
        return str(path)
    with path.open("rb") as stream:
        head = stream.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        return f"GeoJSON:{path}"
    if any(separator in head.split(b"\n", 1)[0] for separator in (b",", b";", b"\t")):
        return f"CSV:{path}"
    return str(path)


def _cpg(shp: Path) -> Path | None:
    """The shapefile's ``.cpg`` (which names its encoding), whatever the case of its name."""
    name = shp.with_suffix(".cpg").name.lower()
    return next((p for p in shp.parent.iterdir() if p.name.lower() == name), None)


def _count_label(source: str, layer: str | None) -> str:
    """'12 features' (or '5 rows' for a table without geometry), '? features' if unreadable."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            info = pyogrio.read_info(source, layer=layer, encoding=_BYTES_AS_TEXT)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError):
        return "? features"
    count = info["features"]
    if info["geometry_type"] is None:
        return f"{count} row{'s' if count != 1 else ''}"
    return f"{count} feature{'s' if count != 1 else ''}"


def _layer_summary(source: str, layers: np.ndarray) -> str:
    return ", ".join(
        f"{name} ({kind or 'table'}, {_count_label(source, name)})" for name, kind in layers
    )


def _choose_layers(
    label: str, source: str, layer: str | None, prefix: str = ""
) -> tuple[list[tuple[str, str]], str]:
    """(GDAL source, layer) pairs to read, and the driver; refuses an ambiguous choice.

    ``prefix`` is what ``--layer`` starts with to name this file's layers (its dataset's name
    inside an archive of several)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            layers = pyogrio.list_layers(source)
            driver = (
                pyogrio.read_info(source, layer=layers[0][0], encoding=_BYTES_AS_TEXT)["driver"]
                if len(layers)
                else ""
            )
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
    how = f" {prefix}LAYER (e.g. --layer {shlex.quote(prefix + names[0])})" if prefix else ""
    raise LandReleaseError(
        f"{label}{' dataset ' + prefix[:-1] if prefix else ''} has {len(names)} layers: "
        f"{_layer_summary(source, layers)}; choose one with --layer{how}"
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


def _codec(encoding: str | None) -> str | None:
    """The Python codec ``--encoding`` names, or a clear error for a name nobody knows."""
    if encoding is None:
        return None
    try:
        return codec_name(encoding)
    except LookupError:
        raise LandReleaseError(
            f"unknown encoding {encoding!r}: give one such as UTF-8, cp1250 (Windows Central "
            "European, Excel's default in Bosnia and Herzegovina), cp1252 or latin-1"
        ) from None


def read_features(
    path: str | Path, *, layer: str | None = None, encoding: str | None = None
) -> Features:
    """Read every feature of ``path`` (all KML folders, or the chosen layer of a GeoPackage).

    ``encoding`` says what the attributes are written in, for a shapefile (which otherwise is
    read as its ``.cpg`` says, or as Latin-1), a CSV or a GeoJSON (otherwise UTF-8). Raises
    :class:`LandReleaseError` only when the file as a whole cannot be read, or holds no
    feature; a bad feature is recorded in ``notes`` and reading goes on.
    """
    path = Path(path)
    if not path.is_file():
        raise LandReleaseError(f"no such file: {path}")
    codec = _codec(encoding)
    digest = sha256_of(path)
    with _datasets(path) as datasets:
        dataset, layer, prefix = _pick_dataset(path.name, datasets, layer)
        _check_shapefile(path.name, dataset)
        with _byte_text(dataset.path, codec) as (readable, codec_left):
            pairs, driver = _choose_layers(path.name, _open_name(readable), layer, prefix)
            if driver == "CSV":
                refuse_nul_in_table(path.name, readable)
            if codec_left is not None and driver in SELF_DESCRIBED_DRIVERS:
                raise LandReleaseError(
                    f"{path.name}: --encoding does not apply to {driver} files, which say their "
                    "own encoding; import again without it"
                )
            declared = encoding is not None or driver != "ESRI Shapefile"
            if driver == "ESRI Shapefile" and encoding is None:
                declared = _cpg(readable) is not None
            parts = [
                _read_layer(
                    source,
                    name,
                    codec_left,
                    read_geometry=driver not in TABLE_DRIVERS,
                    label=path.name,
                    assumed=_assumed(driver, readable, codec_left),
                )
                for source, name in pairs
            ]
            if not any(part.count for part in parts):
                what = f"layer {layer}" if layer is not None else "the file"
                raise LandReleaseError(f"{path.name}: {what} has no features")
            json_source = (
                Path(pairs[0][0].removeprefix("GeoJSON:")) if driver == "GeoJSON" else None
            )
            features = _combine(path.name, digest, driver, parts, encoding, declared)
            if json_source is not None:
                restore_nul_text(path.name, json_source, features.values, len(features), codec_left)
            if json_source is not None and any(
                g is None and i not in features.notes for i, g in enumerate(features.geometries)
            ):
                _explain_dropped_geojson(json_source, features)
    return features


def _assumed(driver: str, path: Path, codec: str | None) -> str:
    """Why the text was expected in the encoding it was read with (for the message if not)."""
    if codec is not None:
        return f"--encoding {codec}"
    if driver == "ESRI Shapefile":
        cpg = _cpg(path)
        said = cpg.read_text(encoding="ascii", errors="replace").strip() if cpg else ""
        return f"its .cpg says {said}" if said else "no .cpg"
    return f"{driver} files are read as UTF-8 unless --encoding says otherwise"


@dataclass
class _Layer:
    name: str
    meta: dict[str, object]
    wkb: Sequence[bytes | None] | None
    fields: dict[str, list[object]]
    count: int


def _read_layer(
    source: str,
    layer: str,
    encoding: str | None,
    *,
    read_geometry: bool,
    label: str,
    assumed: str,
) -> _Layer:
    """One layer, its text decoded with ``encoding`` (None: as GDAL assumes, see the module)."""

    def read(as_bytes: bool) -> tuple[dict[str, Any], Any, Any, list[np.ndarray]]:
        return pyogrio.raw.read(
            source,
            layer=layer,
            encoding=_BYTES_AS_TEXT if as_bytes else None,
            read_geometry=read_geometry,
            datetime_as_string=True,
        )

    # GDAL warns per broken feature (e.g. "Non closed ring detected"); those features are
    # diagnosed and reported here, so its warnings are not repeated on the console.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            try:
                meta, _, wkb, field_data = read(as_bytes=encoding is not None)
            except UnicodeDecodeError:
                # Not in the encoding assumed: read the bytes to say where, and in what.
                meta, _, wkb, field_data = read(as_bytes=True)
                encoding = "utf-8"
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
            raise LandReleaseError(
                f"{Path(source).name}: layer {layer} cannot be read ({exc})"
            ) from exc
    names = [str(n) for n in meta["fields"]]
    fields = {name: _python_values(arr) for name, arr in zip(names, field_data, strict=True)}
    if encoding is not None:
        fields = _decoded(fields, encoding, label, assumed)
    count = len(wkb) if wkb is not None else (len(field_data[0]) if field_data else 0)
    return _Layer(layer, meta, wkb, fields, count)


def _decoded(
    fields: dict[str, list[object]], encoding: str, label: str, assumed: str
) -> dict[str, list[object]]:
    """Field names and text values read byte for byte, decoded with ``encoding``.

    Raises :class:`LandReleaseError` at the first value that does not decode, naming its
    feature and field and the encoding that probably reads it.
    """

    def decode(text: str, where: str) -> str:
        data = text.encode(_BYTES_AS_TEXT)
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise LandReleaseError(_undecodable(label, where, data, exc, assumed)) from None

    decoded: dict[str, list[object]] = {}
    for raw_name, values in fields.items():
        name = decode(raw_name, "a field name")
        decoded[name] = [
            decode(v, f"feature {i}, field {name!r},") if isinstance(v, str) else v
            for i, v in enumerate(values, start=1)
        ]
    return decoded


def _undecodable(
    label: str, where: str, data: bytes, error: UnicodeDecodeError, assumed: str
) -> str:
    """The message for text whose bytes are not in the encoding they were read with."""
    shown = data.decode(error.encoding, errors="backslashreplace")
    message = (
        f"{label}: {where} is not {error.encoding.upper()} text ({assumed}): byte "
        f'0x{data[error.start]:02X} in "{shown}"'
    )
    guess = region_reading(data)
    if guess is None or codec_name(guess[0]) == codec_name(error.encoding):
        return f"{message}; give the encoding the file was saved in with --encoding"
    name, reading = guess
    return (
        f'{message}; in {name} it reads "{reading}": import again with --encoding {name} (or '
        "the encoding the file was saved in)"
    )


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


# -- curved geometry ------------------------------------------------------------------------


def linear_wkb(wkt: Sequence[str]) -> list[bytes | None]:
    """WKB of WKT geometries, curves (CURVEPOLYGON, MULTISURFACE, ...) made of straight segments.

    Shapely cannot hold curves; GDAL reads them and pyogrio hands them over as straight
    segments, as it does for a GeoPackage's curved polygons. The text is therefore written to a
    one-column CSV that GDAL reads (a column named WKT is its geometry). None where GDAL cannot
    read the WKT.
    """
    if not wkt:
        return []
    with tempfile.TemporaryDirectory(prefix="landrelease-wkt-") as folder:
        table = Path(folder) / "curves.csv"
        with table.open("w", encoding="utf-8", newline="") as stream:
            writer = csv.writer(stream, quoting=csv.QUOTE_ALL)
            writer.writerow(["row", "WKT"])
            writer.writerows(enumerate(wkt))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Ignoring invalid WKT": reported by the caller
            _, _, wkb, (rows, *_) = pyogrio.raw.read(table)
    linear: list[bytes | None] = [None] * len(wkt)
    for row, geometry in zip(rows.tolist(), wkb, strict=True):
        linear[int(row)] = geometry
    return linear


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
