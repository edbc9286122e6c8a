"""Display units. Areas are stored and computed in m²; km² and ha exist only on screen."""

from __future__ import annotations

M2_PER_HA = 10_000.0
M2_PER_KM2 = 1_000_000.0


def ha(m2: float) -> float:
    """Square metres to hectares."""
    return m2 / M2_PER_HA


def km2(m2: float) -> float:
    """Square metres to square kilometres."""
    return m2 / M2_PER_KM2


def format_area(m2: float) -> str:
    """An area as officers read it: hectares with the exact m² beside."""
    return f"{ha(m2):,.4f} ha ({m2:,.1f} m²)"
