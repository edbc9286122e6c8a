"""New hazards that cover the land of another: the same hazard entered twice, or an overlap.

A national database holds hazards that tile the contaminated land; two that overlap count the
same land twice in the remaining area. A new hazard that shares most of its land with another
(of the file, or already recorded) is the same hazard entered twice, digitised again from
another map sheet or resurveyed, and is refused; a smaller overlap is a warning with the m²
shared, since neighbouring teams often draw a shared edge a little apart.
"""

from __future__ import annotations

import numpy as np
import shapely

from landrelease.geometry import MIN_AREA_M2, geodesic_areas_m2, polygons_only
from landrelease.ingest.findings import REFUSED, WARNING, Action, Checked, Staged

#: Two hazards whose common land is at least this share of the land of both together are one
#: hazard entered twice (digitised again from another map sheet, or resurveyed), not two.
NEAR_DUPLICATE_SHARE = 0.9


def note_overlap(
    checked: Checked,
    staged: Staged,
    other: str,
    shared_m2: float,
    other_m2: float,
    where: str,
) -> None:
    """Refuse a near-duplicate of ``other``, or warn that it overlaps ``other``.

    ``where`` is "" for another feature of the file and "_db" for a hazard in the database.
    Overlapping hazards count the same land twice in the remaining area; a small overlap is
    common where neighbouring teams drew a shared edge, so it is a warning, not a refusal.
    """
    own_m2 = staged.clean.area_m2  # type: ignore[union-attr]
    together = own_m2 + other_m2 - shared_m2
    share = shared_m2 / together if together > 0 else 1.0
    if share >= NEAR_DUPLICATE_SHARE:
        checked.note(
            staged.index,
            staged.hazard_id,
            f"near_duplicate_geometry{where}",
            f"{staged.label}: covers nearly the same land as {other} ({share:.0%} of the two "
            "together); the same hazard entered twice?",
            REFUSED,
        )
    elif shared_m2 >= MIN_AREA_M2:
        checked.note(
            staged.index,
            staged.hazard_id,
            f"overlaps_hazard{where}",
            f"{staged.label}: overlaps {other} by {shared_m2:,.1f} m² ({shared_m2 / own_m2:.1%} "
            "of this hazard); that land would count in both",
            WARNING,
        )


def shared_areas(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Geodesic area (m²) of the land each pair of polygons has in common."""
    common = shapely.intersection(first, second)
    return geodesic_areas_m2([polygons_only(g) for g in common])


def check_new_hazards_overlap(checked: Checked) -> None:
    """New hazards of the file that overlap one another (each pair once, on the later one).

    Candidate pairs come from one STRtree query over every new polygon: a file of hazards that
    tile the land yields next to none, so the cost is the tree's.
    """
    new = [s for s in checked.staged.values() if s.action == Action.RECORD and s.clean]
    if len(new) < 2:
        return
    geoms = np.array([s.clean.geom for s in new], dtype=object)  # type: ignore[union-attr]
    first, second = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    later = first < second
    first, second = first[later], second[later]
    inner = shapely.relate_pattern(geoms[first], geoms[second], "T********")
    first, second = first[inner], second[inner]
    if not len(first):
        return
    shared = shared_areas(geoms[first], geoms[second])
    for a, b, shared_m2 in zip(first.tolist(), second.tolist(), shared.tolist(), strict=True):
        earlier, staged = new[a], new[b]
        if staged.index not in checked.staged or earlier.index not in checked.staged:
            continue  # one of the two is refused already: the other is compared with nothing
        note_overlap(
            checked,
            staged,
            f"feature {earlier.index} ({earlier.hazard_id})",
            shared_m2,
            earlier.clean.area_m2,  # type: ignore[union-attr]
            "",
        )
