"""Build contamination maps: one self-contained HTML page per map, fast at national scale.

The page is a folium map (folium gives the page skeleton, the map object, the scale bar and
optional online tiles) with folium's CDN links removed and everything inlined
(:mod:`landrelease.maps.assets`). The contamination itself is not folium GeoJSON: at 100,000
hazards that is hundreds of megabytes and seconds of layer creation. The data travel as one
JSON document with compact geometry (:mod:`landrelease.maps.encode`) that the page decodes
once and draws with Leaflet's canvas renderer:

* below ``detail_zoom`` (the overview): the regional choropleth of remaining area and one dot
  per hazard; a click near a dot zooms to the hazard and opens its popup;
* from ``detail_zoom`` on (working zoom): every hazard and released piece inside the view as a
  clickable polygon, created when it comes into view and dropped when it leaves;
* everywhere: a search box by hazard ID, a layer control, a legend, a year control, the scale
  bar and a measuring tool (geodesic distance and area).

Nothing from the data is ever written into HTML or script source: the data element holds JSON
whose ``<``, ``>`` and ``&`` are escaped (it cannot close its element), the page builds popups
with ``textContent``, and the few labels Python writes into HTML go through ``html.escape``.
Data never passes through a template engine either (see :class:`RawHtml`).
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import folium
from branca.element import Element, MacroElement
from jinja2 import Template
from sqlalchemy import Connection, Engine, text

from landrelease.maps import assets
from landrelease.maps.data import MapData, load_map_data
from landrelease.maps.encode import script_json
from landrelease.maps.options import DEFAULT_DETAIL_ZOOM, MAX_ZOOM, MapOptions
from landrelease.maps.payload import page_payload
from landrelease.maps.styles import choropleth_breaks, legend_html


@dataclass
class BuiltMap:
    """A built map and the figures of what it holds."""

    map: folium.Map
    data: MapData
    hazards_drawn: int
    pieces: int
    vertices: int
    payload_bytes: int
    options: MapOptions = field(default_factory=MapOptions)

    def save(self, path: str | Path) -> Path:
        """Write the page (one self-contained HTML file); returns its path."""
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(self.map.get_root().render(), encoding="utf-8")
        return out


class RawHtml(Element):
    """HTML inserted as it is, never as a Jinja template.

    branca's ``Element(html)`` compiles its argument as a template, so data containing
    ``{{ ... }}`` or ``{% ... %}`` would be evaluated. This element returns its text unchanged.
    """

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text

    def render(self, **kwargs: object) -> str:
        return self._text


class _Init(MacroElement):
    """The page's start-up call; its template holds no data, only the map's variable name."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        LandRelease.init({{ this._parent.get_name() }},
            document.getElementById("lr-data"), document.getElementById("lr-legend"));
        {% endmacro %}
        """
    )


def default_title(data: MapData) -> str:
    """The map's title, plain text (escaped wherever it is written into HTML)."""
    where = f"{data.region.name} ({data.region.code})" if data.region else "National"
    return f"Contamination, {where}"


def map_from_data(data: MapData, options: MapOptions | None = None) -> BuiltMap:
    """Build the page for data already read (see :func:`build_map`)."""
    options = options or MapOptions()
    title = options.title or default_title(data)
    payload, vertices = page_payload(data, options, title)
    bounds = payload["bounds"]
    assert isinstance(bounds, list)
    centre = [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]
    fmap = folium.Map(
        location=centre,
        zoom_start=7,
        tiles=None,
        control_scale=True,
        prefer_canvas=True,
        max_zoom=MAX_ZOOM,
    )
    # No CDN: folium's default links are dropped (instance lists, so the class stays intact).
    fmap.default_js = []
    fmap.default_css = []
    root = fmap.get_root()
    root.title = html.escape(f"{title}, as of {data.as_of.isoformat()}")  # type: ignore[attr-defined]
    root.header.add_child(RawHtml(assets.head_html()), name="landrelease_assets")  # type: ignore[attr-defined]
    breaks = choropleth_breaks([r.total_m2 for r in data.regions]) if data.regions else []
    legend = legend_html(breaks, with_regions=bool(data.regions))
    blob = script_json(payload)
    root.html.add_child(  # type: ignore[attr-defined]
        RawHtml(
            f'<div id="lr-legend" hidden>{legend}</div>\n'
            f'<script type="application/json" id="lr-data">{blob}</script>'
        ),
        name="landrelease_data",
    )
    fmap.add_child(_Init(), name="landrelease_init")
    return BuiltMap(
        map=fmap,
        data=data,
        hazards_drawn=sum(1 for h in data.hazards if h.geom is not None),
        pieces=len(data.pieces),
        vertices=vertices,
        payload_bytes=len(blob.encode("utf-8")),
        options=options,
    )


def build_map(source: Engine | Connection, options: MapOptions | None = None) -> BuiltMap:
    """Read the ledger as of ``options.as_of`` (default today) and build the page."""
    options = options or MapOptions()
    as_of = options.as_of or dt.date.today()
    if isinstance(source, Engine):
        with source.connect() as connection:
            data = load_map_data(connection, as_of, region=options.region)
    else:
        data = load_map_data(source, as_of, region=options.region)
    return map_from_data(data, options)


def write_map(
    source: Engine | Connection, out: str | Path, options: MapOptions | None = None
) -> Path:
    """Build and write one map; returns the path of the HTML file."""
    return build_map(source, options).save(out)


def _latest_date(engine: Engine) -> dt.date:
    with engine.connect() as connection:
        latest = connection.execute(text("SELECT max(effective_date) FROM ledger_events")).scalar()
    return latest or dt.date.today()


def write_demo_maps(engine: Engine, out_dir: Path, *, regions: Sequence[str] = ()) -> list[Path]:
    """The demo's maps: the national map as of the last ledger date, and one per region asked.

    Written to ``out_dir`` (the demo passes ``maps/``); returns the files written.
    """
    as_of = _latest_date(engine)
    written = [write_map(engine, out_dir / "contamination.html", MapOptions(as_of=as_of))]
    for region in regions:
        slug = "".join(c if c.isalnum() else "-" for c in region).strip("-").lower()
        written.append(
            write_map(
                engine,
                out_dir / f"contamination-{slug}.html",
                MapOptions(as_of=as_of, region=region),
            )
        )
    return written


__all__ = [
    "DEFAULT_DETAIL_ZOOM",
    "MAX_ZOOM",
    "BuiltMap",
    "MapOptions",
    "RawHtml",
    "build_map",
    "default_title",
    "map_from_data",
    "write_demo_maps",
    "write_map",
]
