"""Charts as PNG bytes, drawn with matplotlib's object API (no pyplot: no global state).

Each chart is drawn once and embedded as is in the HTML report (base64, nothing fetched), placed
on a sheet of the XLSX workbook and written beside CSV files. Areas are shown in km².
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from landrelease.indicators.workplan import Burndown
from landrelease.units import km2

_COLOURS = {
    "SHA": "#f2b134",
    "CHA": "#d1495b",
    "cancelled": "#8fb996",
    "reduced": "#4f9da6",
    "cleared": "#2d4059",
}


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def burndown_png(burndown: Burndown, title: str) -> bytes:
    """Remaining area at each year end: actual, the plan, and the path the deadline needs."""
    figure = Figure(figsize=(7.5, 4.2))
    axes = figure.add_subplot()

    def series(values: Sequence[float | None]) -> tuple[list[int], list[float]]:
        points = [(y, km2(v)) for y, v in zip(burndown.years, values, strict=True) if v is not None]
        return [p[0] for p in points], [p[1] for p in points]

    axes.plot(*series(burndown.actual_m2), marker="o", color="#2d4059", label="remaining (actual)")
    axes.plot(*series(burndown.planned_m2), linestyle="--", color="#d1495b", label="work plan")
    axes.plot(
        *series(burndown.required_m2), linestyle=":", color="#4f9da6", label="needed by deadline"
    )
    axes.set_title(title)
    axes.set_xlabel("end of year")
    axes.set_ylabel("remaining area (km²)")
    axes.set_ylim(bottom=0)
    axes.set_xticks(burndown.years)
    axes.tick_params(axis="x", labelrotation=45)
    axes.grid(alpha=0.3)
    axes.legend()
    return _png(figure)


def stacked_bars_png(
    labels: Sequence[str],
    stacks: Mapping[str, Sequence[float]],
    title: str,
    ylabel: str,
) -> bytes:
    """Bars per label, stacked by series (values in m², drawn in km²)."""
    figure = Figure(figsize=(max(6.0, 0.5 * len(labels) + 2), 4.2))
    axes = figure.add_subplot()
    bottom = [0.0] * len(labels)
    positions = list(range(len(labels)))
    for name, values in stacks.items():
        heights = [km2(v) for v in values]
        axes.bar(positions, heights, bottom=bottom, label=name, color=_COLOURS.get(name))
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    axes.set_xticks(positions, labels, rotation=45, ha="right")
    axes.set_title(title)
    axes.set_ylabel(ylabel)
    axes.grid(axis="y", alpha=0.3)
    axes.legend()
    return _png(figure)


__all__ = ["burndown_png", "stacked_bars_png"]
