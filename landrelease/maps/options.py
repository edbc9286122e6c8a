"""What a map shows and how: the options shared by the builder, the CLI and the demo."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from landrelease.maps.encode import DEFAULT_STEP_DEG, DEFAULT_TOLERANCE_DEG
from landrelease.maps.raster import RasterOverlay

#: From this zoom on hazards are drawn as polygons (a view of about 30 × 20 km at 1280 px).
DEFAULT_DETAIL_ZOOM = 12
#: Deepest zoom offered: 0.43 m per pixel at 44° N, where the 0.5 m coordinate grid
#: (:data:`landrelease.maps.encode.DEFAULT_STEP_DEG`) is still at most a pixel.
MAX_ZOOM = 18


@dataclass(frozen=True)
class MapOptions:
    """What to map and how. Defaults give an offline page with no basemap."""

    as_of: dt.date | None = None
    region: str | None = None
    title: str | None = None
    detail_zoom: int = DEFAULT_DETAIL_ZOOM
    step_deg: float = DEFAULT_STEP_DEG
    tolerance_deg: float = DEFAULT_TOLERANCE_DEG
    raster: RasterOverlay | None = None
    #: Online tiles (URL template and attribution), only when asked for: the default is none.
    tiles_url: str | None = None
    tiles_attribution: str | None = None
