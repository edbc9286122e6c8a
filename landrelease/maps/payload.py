"""The JSON document a map page decodes: compact geometry and compressed attribute columns.

Layout (see ``landrelease-map.js``, ``init``): plain JSON for what is small (title, date,
styles, labels, bounds, the raster), the three geometry streams as text (coordinates hardly
compress), and every attribute column as one gzip'd, base64 JSON document ("columns"):
repeated IDs, dates and names shrink to a third. Strings that repeat (organisations,
activities, contamination types) are stored once and referred to by index.

Order matters for size: hazards with geometry come first (the geometry stream covers exactly
them), each group sorted along a Z-order curve so consecutive coordinates are close; a wholly
released hazard is placed by its first released piece. Pieces follow their hazard, so their
stream walks the ground too, and the piece → hazard column is non-decreasing (stored as
differences, it compresses to almost nothing).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from landrelease.maps.data import MapData, MapHazard, ReleasedPiece
from landrelease.maps.encode import EncodedGeometry, encode_polygons, gzip_base64, morton_order
from landrelease.maps.options import MAX_ZOOM, MapOptions
from landrelease.maps.styles import (
    CLASS_STYLES,
    METHOD_STYLES,
    choropleth_breaks,
    choropleth_class,
    page_styles,
)
from landrelease.vocabulary import EventKind, HazardClass

#: Region boundaries are context: 10 m simplification and a 1 m grid are plenty.
REGION_TOLERANCE_DEG = 1e-4
REGION_STEP_DEG = 1e-5

_EPOCH = dt.date(1970, 1, 1)


def _days(value: dt.date) -> int:
    return (value - _EPOCH).days


class _Strings:
    """A de-duplicated string table: the page stores indices instead of repeated text."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self._index: dict[str, int] = {}

    def __call__(self, value: str | None) -> int:
        if value is None or value == "":
            return -1
        if value not in self._index:
            self._index[value] = len(self.values)
            self.values.append(value)
        return self._index[value]


def _bounds(data: MapData) -> list[list[float]]:
    geoms = [h.geom for h in data.hazards if h.geom is not None] + [p.geom for p in data.pieces]
    if data.region is not None:
        geoms = [data.region.geom]
    elif not geoms:
        geoms = [r.geom for r in data.regions]
    if not geoms:
        return [[-60.0, -180.0], [75.0, 180.0]]
    box = shapely.total_bounds(np.array(geoms, dtype=object))
    return [[float(box[1]), float(box[0])], [float(box[3]), float(box[2])]]


CLASSES = [c.value for c in HazardClass]
METHODS = [m.value for m in (EventKind.CANCELLED, EventKind.REDUCED, EventKind.CLEARED)]
KINDS = [k.value for k in EventKind]


class _Lookups:
    """The string tables shared by every column."""

    def __init__(self) -> None:
        self.contamination = _Strings()
        self.orgs = _Strings()
        self.activities = _Strings()

    def as_json(self) -> dict[str, object]:
        return {
            "classes": CLASSES,
            "methods": METHODS,
            "kinds": KINDS,
            "contamination": self.contamination.values,
            "orgs": self.orgs.values,
            "activities": self.activities.values,
        }


def _ordered(data: MapData) -> tuple[list[MapHazard], int, list[ReleasedPiece]]:
    """Hazards (those with geometry first, how many) and pieces in stream order."""
    first_piece: dict[int, BaseGeometry] = {}
    for piece in data.pieces:
        first_piece.setdefault(piece.hazard_id, piece.geom)
    drawn = [h for h in data.hazards if h.geom is not None]
    gone = [h for h in data.hazards if h.geom is None]
    gone_geoms = [first_piece.get(h.hazard_id) or Point(0, 0) for h in gone]
    hazards = [drawn[i] for i in morton_order([h.geom for h in drawn])]
    hazards += [gone[i] for i in morton_order(gone_geoms)]
    position = {h.hazard_id: i for i, h in enumerate(hazards)}
    pieces = sorted(
        data.pieces, key=lambda p: (position[p.hazard_id], p.effective_date, p.event_id)
    )
    return hazards, len(drawn), pieces


def _hazard_columns(hazards: list[MapHazard], drawn: int, lookups: _Lookups) -> dict[str, object]:
    return {
        "n": len(hazards),
        "ng": drawn,
        "id": [h.national_id for h in hazards],
        "name": [h.name or "" for h in hazards],
        "cls": [CLASSES.index(h.hazard_class) for h in hazards],
        "cont": [lookups.contamination(h.contamination) for h in hazards],
        "area": [round(h.area_m2 * 10) for h in hazards],  # 0.1 m², as the popup shows
        "org": [lookups.orgs(h.organisation) for h in hazards],
        "rec": [_days(h.recorded) for h in hazards],
        "lk": [KINDS.index(h.last_kind) for h in hazards],
        "ld": [_days(h.last_date) for h in hazards],
        "la": [lookups.activities(h.last_activity) for h in hazards],
        "lo": [lookups.orgs(h.last_organisation) for h in hazards],
    }


def _piece_columns(
    pieces: list[ReleasedPiece], position: dict[int, int], lookups: _Lookups
) -> dict[str, object]:
    return {
        "n": len(pieces),
        "hd": np.diff([position[p.hazard_id] for p in pieces], prepend=0).tolist(),
        "m": [METHODS.index(p.method) for p in pieces],
        "cls": [CLASSES.index(p.hazard_class) for p in pieces],
        "d": [_days(p.effective_date) for p in pieces],
        "area": [round(p.area_m2 * 10) for p in pieces],
        "act": [lookups.activities(p.activity) for p in pieces],
        "org": [lookups.orgs(p.organisation) for p in pieces],
    }


def page_payload(data: MapData, options: MapOptions, title: str) -> tuple[dict[str, object], int]:
    """The JSON document the page decodes, and the number of encoded vertices."""
    hazards, drawn, pieces = _ordered(data)
    position = {h.hazard_id: i for i, h in enumerate(hazards)}
    precision = {"step": options.step_deg, "tolerance": options.tolerance_deg}
    hazard_geom = encode_polygons([h.geom for h in hazards[:drawn]], **precision)
    piece_geom = encode_polygons([p.geom for p in pieces], **precision)
    lookups = _Lookups()
    regions, region_geom = _regions_payload(data)
    columns = {
        "hazards": _hazard_columns(hazards, drawn, lookups),
        "pieces": _piece_columns(pieces, position, lookups),
        "regions": regions,
    }
    columns["lookups"] = lookups.as_json()
    years = [h.recorded.year for h in hazards] + [data.as_of.year]
    payload: dict[str, object] = {
        "v": 1,
        "title": title,
        "asOf": data.as_of.isoformat(),
        "detailZoom": options.detail_zoom,
        "maxZoom": MAX_ZOOM,
        "bounds": _bounds(data),
        "years": [min(years), data.as_of.year],
        "styles": page_styles(),
        "labels": {
            "classes": {k: s.label for k, s in CLASS_STYLES.items()},
            "methods": {k: s.label for k, s in METHOD_STYLES.items()},
        },
        "raster": options.raster.as_json() if options.raster else None,
        "tiles": (
            {"url": options.tiles_url, "attribution": options.tiles_attribution or ""}
            if options.tiles_url
            else None
        ),
        "geom": {
            "hazards": hazard_geom.as_json(),
            "pieces": piece_geom.as_json(),
            "regions": region_geom.as_json() if region_geom else None,
        },
        # Attribute columns compress to a third; coordinates hardly compress, so they stay
        # outside as text.
        "columns": gzip_base64(columns),
    }
    return payload, hazard_geom.vertices + piece_geom.vertices


def _regions_payload(data: MapData) -> tuple[dict[str, object] | None, EncodedGeometry | None]:
    if not data.regions:
        return None, None
    breaks = choropleth_breaks([r.total_m2 for r in data.regions])
    geom = encode_polygons(
        [r.geom for r in data.regions], step=REGION_STEP_DEG, tolerance=REGION_TOLERANCE_DEG
    )
    columns: dict[str, object] = {
        "n": len(data.regions),
        "code": [r.code for r in data.regions],
        "name": [r.name for r in data.regions],
        "sha": [round(r.remaining_m2["SHA"], 1) for r in data.regions],
        "cha": [round(r.remaining_m2["CHA"], 1) for r in data.regions],
        "count": [r.hazards for r in data.regions],
        "k": [choropleth_class(r.total_m2, breaks) for r in data.regions],
        "breaks": breaks,
    }
    return columns, geom


__all__ = ["REGION_STEP_DEG", "REGION_TOLERANCE_DEG", "page_payload"]
