"""Contamination maps that work offline and stay fast at national scale.

``build_map`` / ``write_map`` read the ledger as of a date and write one self-contained HTML
page (Leaflet and our code inlined, no network needed); ``write_demo_maps`` writes the demo's
maps. See :mod:`landrelease.maps.build` for the design.
"""

from __future__ import annotations

from landrelease.maps.build import (
    BuiltMap,
    MapOptions,
    build_map,
    map_from_data,
    write_demo_maps,
    write_map,
)
from landrelease.maps.raster import RasterOverlay, raster_overlay

__all__ = [
    "BuiltMap",
    "MapOptions",
    "RasterOverlay",
    "build_map",
    "map_from_data",
    "raster_overlay",
    "write_demo_maps",
    "write_map",
]
