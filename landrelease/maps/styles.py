"""Colours, line styles and the legend of contamination maps.

Officers read maps from several systems side by side, so the hazard classes keep the colours
of the GICHD Land Release Symbology (IMAS 07.11 Annex C, as published on the IMSMA wiki):
CHA fill red ``#FF0000`` and SHA fill orange ``#F4A718``, both at 50 % transparency. Released
land takes the cool side of the palette, one hue per method, so that "still hazardous" (warm)
and "released" (cool) can never be confused: cancelled (NTS, no evidence) pale blue, reduced
(TS) teal, cleared green. Land that was hazardous in a chosen year but released later keeps
its class colour with a dashed outline.

Everything here is data handed to the page as JSON; the legend is the only HTML built in
Python, and every label in it goes through :func:`html.escape`.
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass

from landrelease.units import ha


@dataclass(frozen=True)
class Style:
    """A Leaflet path style (the keys keep Leaflet's option names once serialised)."""

    label: str
    color: str
    fillColor: str
    fillOpacity: float
    weight: float
    dashArray: str | None = None

    def leaflet(self) -> dict[str, object]:
        """The options object for ``L.polygon`` (the label is for the legend only)."""
        options = asdict(self)
        options.pop("label")
        return {k: v for k, v in options.items() if v is not None}


#: Remaining contamination, by hazard class (GICHD Land Release Symbology fills, 50 %).
CLASS_STYLES: dict[str, Style] = {
    "SHA": Style("Suspected hazardous area (SHA)", "#C47F00", "#F4A718", 0.5, 1.5),
    "CHA": Style("Confirmed hazardous area (CHA)", "#B00000", "#FF0000", 0.5, 1.5),
}

#: Released land, by method: the ledger event kinds that take land out of a hazard.
METHOD_STYLES: dict[str, Style] = {
    "cancelled": Style("Cancelled (non-technical survey)", "#2B7BB9", "#9CCBF0", 0.6, 1.0),
    "reduced": Style("Reduced (technical survey)", "#00796B", "#4DB6AC", 0.6, 1.0),
    "cleared": Style("Cleared", "#2E7D32", "#7CC242", 0.6, 1.0),
}

#: Land released after the year shown on the year control: hazardous then, in its class colour.
LATER_DASH = "4 3"

#: Sequential ramp of the regional choropleth (light to dark: little to much remaining area).
CHOROPLETH_COLOURS: tuple[str, ...] = ("#FEF0D9", "#FDCC8A", "#FC8D59", "#E34A33", "#B30000")
#: Fill of regions with no remaining contamination.
CHOROPLETH_ZERO = "#F7F7F7"
CHOROPLETH_OPACITY = 0.65

#: Hazard locations drawn as dots at overview zoom, one colour per class.
DOT_COLOURS: dict[str, str] = {"SHA": "#D98C00", "CHA": "#D00000"}


def choropleth_breaks(values: list[float], classes: int = len(CHOROPLETH_COLOURS)) -> list[float]:
    """Upper bounds (m²) of the ramp's classes: quantiles of the regions that have any.

    Quantiles rather than equal intervals because remaining area per region is skewed (a few
    regions hold most of it); with equal steps nearly every region would share one colour.
    """
    positive = sorted(v for v in values if v > 0)
    if not positive:
        return []
    breaks: list[float] = []
    for k in range(1, classes + 1):
        index = min(len(positive) - 1, max(0, round(k * len(positive) / classes) - 1))
        value = positive[index]
        if not breaks or value > breaks[-1]:
            breaks.append(value)
    return breaks


def choropleth_class(value: float, breaks: list[float]) -> int:
    """Index into :data:`CHOROPLETH_COLOURS` for a value, or -1 for none remaining."""
    if value <= 0 or not breaks:
        return -1
    for index, upper in enumerate(breaks):
        if value <= upper:
            return index
    return len(breaks) - 1


def _swatch(style: Style, dashed: bool = False) -> str:
    border = "dashed" if dashed else "solid"
    return (
        f'<i class="lr-swatch" style="background:{html.escape(style.fillColor)};'
        f"opacity:{max(style.fillOpacity, 0.6)};border:2px {border} "
        f'{html.escape(style.color)}"></i>'
    )


def _area_label(m2: float) -> str:
    return f"{ha(m2):,.1f} ha" if m2 < 1_000_000 else f"{m2 / 1_000_000:,.2f} km²"


def legend_html(breaks: list[float], *, with_regions: bool) -> str:
    """The legend: one entry per class, per release method, and the choropleth's classes.

    Each entry carries ``data-key`` so tests (and people) can find the entry for a style.
    """
    rows = ['<div class="lr-legend-title">Remaining contamination</div>']
    for key, style in CLASS_STYLES.items():
        rows.append(
            f'<div class="lr-legend-row" data-key="{html.escape(key)}">{_swatch(style)}'
            f"{html.escape(style.label)}</div>"
        )
    rows.append(
        '<div class="lr-legend-row" data-key="later">'
        f"{_swatch(CLASS_STYLES['SHA'], dashed=True)}"
        "Hazardous in the chosen year, released later</div>"
    )
    rows.append('<div class="lr-legend-title">Released land (by method)</div>')
    for key, style in METHOD_STYLES.items():
        rows.append(
            f'<div class="lr-legend-row" data-key="{html.escape(key)}">{_swatch(style)}'
            f"{html.escape(style.label)}</div>"
        )
    if with_regions:
        rows.append('<div class="lr-legend-title">Remaining area per region</div>')
        rows.append(
            '<div class="lr-legend-row" data-key="region-none">'
            f'<i class="lr-swatch" style="background:{CHOROPLETH_ZERO}"></i>none</div>'
        )
        lower = 0.0
        for index, upper in enumerate(breaks):
            label = (
                f"up to {_area_label(upper)}"
                if index == 0
                else f"{_area_label(lower)} – {_area_label(upper)}"
            )
            rows.append(
                f'<div class="lr-legend-row" data-key="region-{index}">'
                f'<i class="lr-swatch" style="background:{CHOROPLETH_COLOURS[index]}"></i>'
                f"{html.escape(label)}</div>"
            )
            lower = upper
    return "".join(rows)


def page_styles() -> dict[str, object]:
    """Every style the page needs, as one JSON-ready object."""
    return {
        "classes": {k: s.leaflet() for k, s in CLASS_STYLES.items()},
        "methods": {k: s.leaflet() for k, s in METHOD_STYLES.items()},
        "laterDash": LATER_DASH,
        "choropleth": list(CHOROPLETH_COLOURS),
        "choroplethZero": CHOROPLETH_ZERO,
        "choroplethOpacity": CHOROPLETH_OPACITY,
        "dots": DOT_COLOURS,
    }


__all__ = [
    "CLASS_STYLES",
    "METHOD_STYLES",
    "Style",
    "choropleth_breaks",
    "choropleth_class",
    "legend_html",
    "page_styles",
]
