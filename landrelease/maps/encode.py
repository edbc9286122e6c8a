"""Compact geometry for a self-contained page, and JSON that is safe inside ``<script>``.

Why not GeoJSON: a national map holds some 100,000 hazards and as many released pieces. As
GeoJSON with full coordinates that is hundreds of megabytes (every coordinate printed with 15
digits, every feature wrapped in keys). Here each polygon is

1. simplified at a tolerance of about a pixel at the deepest zoom, with topology kept: plain
   Douglas-Peucker first (six times faster on the ledger's geodesically densified rings), and
   for any feature it would break (empty, invalid, a part or hole lost) the
   topology-preserving variant (:func:`simplify_keeping_topology`);
2. quantised to a grid of ``step`` degrees (5e-6°: 0.56 m north-south, 0.40 m east-west at
   44° N), closing vertices dropped (Leaflet closes rings itself);
3. written as differences from the previous vertex (continuing across features, which are
   sorted along a Morton curve so neighbours in the stream are neighbours on the ground),
   zig-zag mapped to non-negative integers and written as variable-length digits.

The digits use a mixed radix over printable ASCII that needs no escaping in JSON or HTML: a
value below ``len(TERMINAL)`` is one character; larger values put ``len(CONTINUATION)``-ary
low digits first, each from the continuation alphabet, and end with a terminal digit. The page
decodes the stream once (``landrelease-map.js``, ``decodeValues``), which is our own code.

Structure (parts per feature, rings per part, vertices per ring) goes in a second stream of
the same digits, so the decoder knows where every ring ends.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

# 91 printable ASCII characters: everything from '!' to '~' except '"', '\\', '<', '>'
# (JSON string delimiters and escapes, and the two that could open or close a tag).
_ALPHABET = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"\\<>')
#: Digits that end a value (the most significant digit). The 78/13 split is the best for
#: vertex-to-vertex steps of field polygons on the default grid (measured: 9 % fewer characters
#: than an even split); ``landrelease-map.js`` has the same constant (``N_TERMINAL``).
TERMINAL = _ALPHABET[:78]
#: Digits that are followed by more digits (lower-order digits, least significant first).
CONTINUATION = _ALPHABET[78:]

#: Default quantisation step: 5e-6° is 0.56 m north-south (0.40 m east-west at 44° N): at
#: most a third of a pixel at zoom 17, two thirds at zoom 18 (the deepest offered), and well
#: inside the ±3-5 m of handheld GPS turning points. The 100,000-hazard page of
#: benchmarks/map_benchmark.py is 17.9 MB with this grid; with 1e-6° and a 0.2 m tolerance
#: (and an even digit split) it was 26.7 MB, over the 20 MB budget.
DEFAULT_STEP_DEG = 5e-6
#: Default simplification tolerance: 5e-6°, about half a metre, the same grain as the grid.
DEFAULT_TOLERANCE_DEG = 5e-6


def encode_unsigned(values: np.ndarray) -> str:
    """Non-negative integers as mixed-radix digits (see the module docstring)."""
    remaining = np.asarray(values, dtype=np.int64).copy()
    if remaining.size == 0:
        return ""
    if (remaining < 0).any():
        raise ValueError("encode_unsigned needs non-negative integers")
    n_term, n_cont = len(TERMINAL), len(CONTINUATION)
    term = np.frombuffer(TERMINAL.encode("ascii"), dtype=np.uint8)
    cont = np.frombuffer(CONTINUATION.encode("ascii"), dtype=np.uint8)
    columns: list[np.ndarray] = []
    active = np.ones(remaining.shape, dtype=bool)
    while active.any():
        ends = active & (remaining < n_term)
        goes_on = active & ~ends
        column = np.zeros(remaining.shape, dtype=np.uint8)
        column[ends] = term[remaining[ends]]
        column[goes_on] = cont[remaining[goes_on] % n_cont]
        columns.append(column)
        remaining = np.where(goes_on, remaining // n_cont, remaining)
        active = goes_on
    table = np.stack(columns, axis=1)  # row per value, padded with zeros
    return table[table != 0].tobytes().decode("ascii")


def decode_unsigned(text: str) -> list[int]:
    """The inverse of :func:`encode_unsigned` (the page has the same loop in JavaScript)."""
    term = {c: i for i, c in enumerate(TERMINAL)}
    cont = {c: i for i, c in enumerate(CONTINUATION)}
    values: list[int] = []
    value, scale = 0, 1
    for char in text:
        if char in cont:
            value += cont[char] * scale
            scale *= len(CONTINUATION)
        else:
            values.append(value + term[char] * scale)
            value, scale = 0, 1
    return values


def zigzag(values: np.ndarray) -> np.ndarray:
    """Signed to unsigned integers, small magnitudes staying small (0, -1, 1, -2 → 0, 1, 2, 3)."""
    v = np.asarray(values, dtype=np.int64)
    return np.where(v >= 0, 2 * v, -2 * v - 1)


@dataclass(frozen=True)
class EncodedGeometry:
    """Features encoded for the page: structure and coordinate streams."""

    structure: str
    coordinates: str
    step: float
    vertices: int

    def as_json(self) -> dict[str, object]:
        return {"s": self.structure, "c": self.coordinates, "step": self.step}


def morton_order(geoms: Sequence[BaseGeometry] | np.ndarray) -> np.ndarray:
    """Indices that sort features along a Z-order curve of their bounding-box centres."""
    array = np.asarray(geoms, dtype=object)
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    bounds = shapely.bounds(array)
    x = (bounds[:, 0] + bounds[:, 2]) / 2
    y = (bounds[:, 1] + bounds[:, 3]) / 2

    def scaled(v: np.ndarray) -> np.ndarray:
        span = float(v.max() - v.min()) or 1.0
        return ((v - v.min()) / span * 65535).astype(np.uint64)

    def spread(v: np.ndarray) -> np.ndarray:
        v = (v | (v << np.uint64(8))) & np.uint64(0x00FF00FF)
        v = (v | (v << np.uint64(4))) & np.uint64(0x0F0F0F0F)
        v = (v | (v << np.uint64(2))) & np.uint64(0x33333333)
        return (v | (v << np.uint64(1))) & np.uint64(0x55555555)

    code = spread(scaled(x)) | (spread(scaled(y)) << np.uint64(1))
    return np.argsort(code, kind="stable")


def _rings_per_feature(geoms: np.ndarray) -> np.ndarray:
    parts, owner = shapely.get_parts(geoms, return_index=True)
    rings = 1 + shapely.get_num_interior_rings(parts)
    return np.bincount(owner, weights=rings, minlength=len(geoms)).astype(np.int64)


def simplify_keeping_topology(geoms: np.ndarray, tolerance: float) -> np.ndarray:
    """Simplified polygons, every one valid with all its parts and holes.

    Douglas-Peucker (``preserve_topology=False``) is fast but may drop a small hole or part,
    or make a ring cross itself; those features are simplified again with topology preserved.
    """
    fast = shapely.simplify(geoms, tolerance, preserve_topology=False)
    broken = (
        shapely.is_empty(fast)
        | ~shapely.is_valid(fast)
        | (_rings_per_feature(fast) != _rings_per_feature(geoms))
    )
    if broken.any():
        fast[broken] = shapely.simplify(geoms[broken], tolerance, preserve_topology=True)
    return fast


def encode_polygons(
    geoms: Sequence[BaseGeometry] | np.ndarray,
    *,
    step: float = DEFAULT_STEP_DEG,
    tolerance: float = DEFAULT_TOLERANCE_DEG,
) -> EncodedGeometry:
    """Encode (Multi)Polygons, in the given order, for the page's decoder.

    Every feature keeps at least one ring with its vertices (simplification with topology
    preserved never drops a shell), so every feature stays drawable and clickable.
    """
    array = np.asarray(geoms, dtype=object)
    if array.size == 0:
        return EncodedGeometry("", "", step, 0)
    simple = simplify_keeping_topology(array, tolerance) if tolerance else array
    parts, part_owner = shapely.get_parts(simple, return_index=True)
    rings, ring_owner = shapely.get_rings(parts, return_index=True)
    coords, coord_owner = shapely.get_coordinates(rings, return_index=True)

    parts_per_feature = np.bincount(part_owner, minlength=len(array))
    rings_per_part = np.bincount(ring_owner, minlength=len(parts))
    coords_per_ring = np.bincount(coord_owner, minlength=len(rings))
    # Drop each ring's closing vertex (equal to its first).
    last_of_ring = np.cumsum(coords_per_ring) - 1
    keep = np.ones(len(coords), dtype=bool)
    keep[last_of_ring] = False
    kept = coords[keep]
    vertices_per_ring = coords_per_ring - 1

    grid = np.rint(kept / step).astype(np.int64)
    deltas = np.diff(grid, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
    structure = np.concatenate([parts_per_feature, rings_per_part, vertices_per_ring])
    return EncodedGeometry(
        structure=encode_unsigned(structure),
        coordinates=encode_unsigned(zigzag(deltas.ravel())),
        step=step,
        vertices=len(kept),
    )


def decode_polygons(encoded: EncodedGeometry, features: int) -> list[list[list[list[float]]]]:
    """Decode to lists of parts → rings → flat [x0, y0, x1, y1, ...] (a Python reference for
    the page's decoder, used by tests)."""
    structure = decode_unsigned(encoded.structure)
    raw = decode_unsigned(encoded.coordinates)
    signed = [(v >> 1) if v % 2 == 0 else -((v + 1) >> 1) for v in raw]
    parts_per_feature = structure[:features]
    n_parts = sum(parts_per_feature)
    rings_per_part = structure[features : features + n_parts]
    vertices_per_ring = structure[features + n_parts :]
    x = y = 0
    position = ring = part = 0
    out: list[list[list[list[float]]]] = []
    for n_p in parts_per_feature:
        feature: list[list[list[float]]] = []
        for _ in range(n_p):
            polygon: list[list[float]] = []
            for _ in range(rings_per_part[part]):
                flat: list[float] = []
                for _ in range(vertices_per_ring[ring]):
                    x += signed[position]
                    y += signed[position + 1]
                    position += 2
                    flat.extend((x * encoded.step, y * encoded.step))
                polygon.append(flat)
                ring += 1
            feature.append(polygon)
            part += 1
        out.append(feature)
    return out


def gzip_base64(value: object) -> str:
    """JSON, gzip-compressed, as base64: the page inflates it with ``DecompressionStream``.

    Base64 needs no escaping anywhere in HTML; ``mtime=0`` keeps the output reproducible.
    Level 6, not 9: on 100,000 hazards 9 saves 2 % of the bytes for seven times the time.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    packed = gzip.compress(text.encode("utf-8"), compresslevel=6, mtime=0)
    return base64.b64encode(packed).decode("ascii")


def script_json(value: object) -> str:
    """JSON for a ``<script type="application/json">`` element, inert whatever the data says.

    ``<``, ``>`` and ``&`` become ``\\u003c``/``\\u003e``/``\\u0026`` so no value can close the
    element (``</script>``) or open a comment; U+2028/U+2029 are escaped for old parsers.
    JSON.parse restores them exactly; nothing is ever evaluated.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


__all__ = [
    "CONTINUATION",
    "DEFAULT_STEP_DEG",
    "DEFAULT_TOLERANCE_DEG",
    "TERMINAL",
    "EncodedGeometry",
    "decode_polygons",
    "decode_unsigned",
    "encode_polygons",
    "encode_unsigned",
    "gzip_base64",
    "morton_order",
    "script_json",
    "simplify_keeping_topology",
    "zigzag",
]
