"""Offline assets: Leaflet and landrelease's map code, inlined into the page.

A field laptop has no internet, so a map page may not name a single URL it has to fetch:
folium's defaults (Leaflet, jQuery, Bootstrap and Font Awesome from CDNs) give a blank page
offline ("L is not defined"). Here everything is inlined in the HTML, so the page is one file
that can be copied to a USB stick and opened anywhere:

* Leaflet 1.9.3 (the version folium targets) from the PyPI package ``xstatic-leaflet``; the
  images its stylesheet refers to (the layer-control icon, marker icons) become ``data:`` URIs
  and the source-map comment is dropped, so nothing is ever requested;
* ``assets/landrelease-map.js`` and ``.css``: our own code (decoder, layers, controls, popups,
  measuring tool), written for this project.

Sources and licences are in ``assets/SOURCES.md``.
"""

from __future__ import annotations

import base64
import re
from functools import lru_cache
from pathlib import Path

import xstatic.pkg.leaflet as xstatic_leaflet

from landrelease.errors import ConfigurationError

#: The Leaflet version the map code is written and tested against (folium's, too).
LEAFLET_VERSION = "1.9.3"

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
MAP_JS = ASSETS_DIR / "landrelease-map.js"
MAP_CSS = ASSETS_DIR / "landrelease-map.css"

_CSS_URL = re.compile(r"url\((images/[A-Za-z0-9_.-]+\.png)\)")
_SOURCE_MAP = re.compile(r"//# sourceMappingURL=\S+")


def _leaflet_dir() -> Path:
    folder = Path(xstatic_leaflet.BASE_DIR)
    if xstatic_leaflet.VERSION != LEAFLET_VERSION:
        raise ConfigurationError(
            f"xstatic-leaflet ships Leaflet {xstatic_leaflet.VERSION}; the maps need "
            f"{LEAFLET_VERSION} (pip install 'xstatic-leaflet=={LEAFLET_VERSION}.*')"
        )
    return folder


@lru_cache(maxsize=1)
def leaflet_js() -> str:
    """Leaflet's minified script, without its source-map reference."""
    return _SOURCE_MAP.sub("", (_leaflet_dir() / "leaflet.js").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def leaflet_css() -> str:
    """Leaflet's stylesheet with its images inlined as ``data:`` URIs."""
    folder = _leaflet_dir()

    def inline(match: re.Match[str]) -> str:
        data = base64.b64encode((folder / match.group(1)).read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    return _CSS_URL.sub(inline, (folder / "leaflet.css").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def map_js() -> str:
    """landrelease's page script (``window.LandRelease``)."""
    return MAP_JS.read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def map_css() -> str:
    """landrelease's page styles: legend, controls, popups."""
    return MAP_CSS.read_text(encoding="utf-8")


def _script(body: str) -> str:
    # "</script" cannot occur in these files; refuse rather than emit a broken page.
    if "</script" in body.lower():
        raise ConfigurationError("an inlined script contains '</script'")
    return f"<script>{body}</script>"


def _style(body: str) -> str:
    if "</style" in body.lower():
        raise ConfigurationError("an inlined stylesheet contains '</style'")
    return f"<style>{body}</style>"


def head_html() -> str:
    """Every stylesheet and script of the page, inline, for the document head."""
    return "\n".join(
        (_style(leaflet_css()), _style(map_css()), _script(leaflet_js()), _script(map_js()))
    )


__all__ = ["LEAFLET_VERSION", "head_html", "leaflet_css", "leaflet_js", "map_css", "map_js"]
