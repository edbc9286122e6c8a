"""A local raster as the basemap: an orthophoto or hillshade GeoTIFF a centre already has.

Offline there are no tile servers, but most centres hold imagery of their own. The raster is
read with rasterio, warped to Web Mercator (the projection Leaflet stretches an image overlay
in, so the pixels land where they belong), reduced to at most ``max_pixels`` on its longer side
and embedded in the page as a PNG ``data:`` URI: the map stays one self-contained file.

One band (hillshade, DEM) is stretched to grey between its 2nd and 98th percentiles; three or
more bands are read as RGB. Nodata and the dataset mask become transparent.
"""

from __future__ import annotations

import base64
import math
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from pyproj import Transformer
from rasterio.warp import Resampling, calculate_default_transform, reproject

from landrelease.errors import LandReleaseError

WEB_MERCATOR = "EPSG:3857"
#: Longest side of the embedded image: enough for a district at working zoom, ~4-8 MB at most.
DEFAULT_MAX_PIXELS = 2048


@dataclass(frozen=True)
class RasterOverlay:
    """An image to lay under the hazards: a PNG ``data:`` URI and its lat/lon bounds."""

    name: str
    url: str
    bounds: tuple[tuple[float, float], tuple[float, float]]  # ((south, west), (north, east))
    opacity: float
    width: int
    height: int

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "url": self.url,
            "bounds": [list(self.bounds[0]), list(self.bounds[1])],
            "opacity": self.opacity,
        }


def png_bytes(rgba: np.ndarray) -> bytes:
    """An RGBA ``uint8`` array (rows, columns, 4) as PNG, with zlib alone (no imaging library)."""
    if rgba.dtype != np.uint8 or rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError("png_bytes needs a (rows, columns, 4) uint8 array")
    height, width, _ = rgba.shape
    rows = np.concatenate([np.zeros((height, 1), dtype=np.uint8), rgba.reshape(height, -1)], axis=1)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
        + chunk(b"IEND", b"")
    )


def _to_bytes(band: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """A band stretched to 0..255 between its 2nd and 98th percentiles of valid pixels."""
    if band.dtype == np.uint8:
        return band
    values = band[valid]
    if values.size == 0:
        return np.zeros(band.shape, dtype=np.uint8)
    low, high = np.percentile(values, [2, 98])
    span = float(high - low) or 1.0
    return (np.clip((band.astype(np.float64) - low) / span, 0, 1) * 255).astype(np.uint8)


def raster_overlay(
    path: str | Path,
    *,
    name: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    opacity: float = 0.85,
) -> RasterOverlay:
    """Read a GeoTIFF (or any raster GDAL reads) as an overlay for the map."""
    source_path = Path(path)
    if not source_path.is_file():
        raise LandReleaseError(f"basemap raster {source_path} not found")
    # rasterio 1.4's warp helpers still multiply affines with `*`, which affine 3 flags as
    # pending deprecation; the warning is theirs, not ours, and says nothing about the data.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Use `@` matmul", PendingDeprecationWarning)
        return _read(source_path, name, max_pixels, opacity)


def _read(source_path: Path, name: str | None, max_pixels: int, opacity: float) -> RasterOverlay:
    with rasterio.open(source_path) as src:
        if src.crs is None:
            raise LandReleaseError(f"{source_path.name}: the raster has no CRS; assign one first")
        transform, width, height = calculate_default_transform(
            src.crs, WEB_MERCATOR, src.width, src.height, *src.bounds
        )
        if width is None or height is None:
            raise LandReleaseError(f"{source_path.name}: cannot place the raster on the map")
        scale = max(width, height) / max_pixels
        if scale > 1:
            width, height = max(1, math.ceil(width / scale)), max(1, math.ceil(height / scale))
            transform = transform @ transform.scale(scale, scale)
        bands = (1, 2, 3) if src.count >= 3 else (1,)
        out = np.zeros((len(bands), height, width), dtype=np.float64)
        for position, band in enumerate(bands):
            reproject(
                rasterio.band(src, band),
                out[position],
                dst_transform=transform,
                dst_crs=WEB_MERCATOR,
                resampling=Resampling.bilinear,
            )
        mask = np.zeros((height, width), dtype=np.uint8)
        reproject(
            src.dataset_mask(),
            mask,
            src_transform=src.transform,
            src_crs=src.crs,
            dst_transform=transform,
            dst_crs=WEB_MERCATOR,
            resampling=Resampling.nearest,
        )
    valid = mask > 0
    layers = [_to_bytes(out[i], valid) for i in range(len(bands))]
    if len(layers) == 1:
        layers = layers * 3
    rgba = np.dstack([*layers, np.where(valid, 255, 0).astype(np.uint8)])
    west, north = transform @ (0, 0)
    east, south = transform @ (width, height)
    to_lonlat = Transformer.from_crs(WEB_MERCATOR, "EPSG:4326", always_xy=True)
    (lon_w, lon_e), (lat_s, lat_n) = to_lonlat.transform([west, east], [south, north])
    data = base64.b64encode(png_bytes(rgba)).decode("ascii")
    return RasterOverlay(
        name=name or source_path.stem,
        url=f"data:image/png;base64,{data}",
        bounds=((lat_s, lon_w), (lat_n, lon_e)),
        opacity=opacity,
        width=width,
        height=height,
    )


__all__ = ["DEFAULT_MAX_PIXELS", "RasterOverlay", "png_bytes", "raster_overlay"]
