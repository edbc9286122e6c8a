"""Administrative regions: loading boundary files into ``regions`` and linking the levels.

Reports group hazards by region, so regions must be as trustworthy as hazards: every boundary
takes the same validation path as a hazard polygon (:func:`landrelease.geometry.prepare_polygon`),
its area is measured by the database's one area function (``lr_area_m2``), and a unit is keyed
on a stable code, never on its name (names repeat: BiH has two municipalities called Novi Grad).

Real administrative data rarely nests cleanly. Bosnia and Herzegovina's level 2 mixes the ten
cantons of one entity with two entity-level units, and the levels were digitised separately, so
a municipality overlaps its neighbours' parents by slivers. A unit's parent is therefore the unit
of the nearest lower level already loaded that holds the largest share of its area, chosen in
PostGIS, whichever order the levels are loaded in.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pyogrio
import shapely
from sqlalchemy import Connection, text

from landrelease.errors import ConfigurationError, LandReleaseError
from landrelease.geometry import prepare_polygon

#: Environment variable naming the reference data folder, for installs without the source tree.
GIS_DATA_ENV = "LANDRELEASE_GIS_DATA"

#: The bundled Bosnia and Herzegovina boundaries (geoBoundaries), file name per admin level.
BUNDLED_LEVELS: dict[int, str] = {
    1: "bih_adm1.geojson",
    2: "bih_adm2.geojson",
    3: "bih_adm3.geojson",
}

_INSERT = text(
    """
    WITH src AS (
        SELECT s.code, s.name, ST_GeomFromWKB(s.wkb, 4326) AS geom
        FROM unnest(CAST(:code AS text[]), CAST(:name AS text[]), CAST(:wkb AS bytea[]))
            AS s(code, name, wkb)
    )
    INSERT INTO regions (code, name, admin_level, geom, area_m2)
    SELECT code, name, :level, geom, lr_area_m2(geom) FROM src
    ON CONFLICT (code) DO NOTHING
    RETURNING id
    """
)

# Rows whose parent is missing, or sits further down than the nearest lower level now loaded,
# take as parent the unit of that level with the largest geodesic overlap. Rows that already
# have the right parent are not touched, so running this again updates nothing.
_LINK_PARENTS = text(
    """
    WITH needing AS (
        SELECT c.id, c.geom, nearest.level AS parent_level
        FROM regions c
        CROSS JOIN LATERAL (
            SELECT max(r.admin_level) AS level FROM regions r WHERE r.admin_level < c.admin_level
        ) nearest
        LEFT JOIN regions p ON p.id = c.parent_id
        WHERE nearest.level IS NOT NULL AND (p.id IS NULL OR p.admin_level < nearest.level)
    ),
    best AS (
        SELECT DISTINCT ON (n.id) n.id, r.id AS parent_id
        FROM needing n
        JOIN regions r ON r.admin_level = n.parent_level AND ST_Intersects(r.geom, n.geom)
        ORDER BY n.id, lr_area_m2(ST_Intersection(r.geom, n.geom)) DESC, r.id
    )
    UPDATE regions c SET parent_id = b.parent_id FROM best b WHERE c.id = b.id
    """
)


def gis_data_dir() -> Path:
    """The folder of reference data shipped with landrelease.

    ``LANDRELEASE_GIS_DATA`` wins when set (an installed package does not carry ``gis_data``);
    otherwise it is ``gis_data`` at the repository root, the parent of the package folder.
    """
    configured = os.environ.get(GIS_DATA_ENV)
    folder = Path(configured) if configured else Path(__file__).resolve().parent.parent / "gis_data"
    if not folder.is_dir():
        raise ConfigurationError(
            f"reference data folder {folder} not found; set {GIS_DATA_ENV} to the folder that "
            "holds bih_admin/"
        )
    return folder


def _read_units(
    path: Path, code_field: str, name_field: str
) -> tuple[list[str], list[str], list[bytes]]:
    """Codes, names and cleaned WKB of every unit in a boundary file, or one error naming all."""
    frame = pyogrio.read_dataframe(path)
    missing = [f for f in (code_field, name_field) if f not in frame.columns]
    if missing:
        raise LandReleaseError(
            f"{path.name}: no field {', '.join(missing)}; fields are "
            f"{', '.join(c for c in frame.columns if c != 'geometry')}"
        )
    codes: list[str] = []
    names: list[str] = []
    wkbs: list[bytes] = []
    problems: list[str] = []
    seen: set[str] = set()
    for index, (code, name, geom) in enumerate(
        zip(frame[code_field], frame[name_field], frame.geometry, strict=True), start=1
    ):
        code = "" if code is None else str(code).strip()
        name = "" if name is None else str(name).strip()
        label = f"{path.name} feature {index} ({name or '?'}, {code or 'no code'})"
        if not code:
            problems.append(f"{label}: no {code_field}")
            continue
        if code in seen:
            problems.append(f"{label}: {code_field} {code} given twice")
            continue
        seen.add(code)
        try:
            clean = prepare_polygon(geom, frame.crs, label=label)
        except LandReleaseError as exc:
            problems.append(str(exc))
            continue
        codes.append(code)
        names.append(name or code)
        wkbs.append(shapely.to_wkb(clean.geom, include_srid=False))
    if problems:
        raise LandReleaseError(
            f"{path.name}: {len(problems)} unit(s) refused, nothing loaded:\n  "
            + "\n  ".join(problems)
        )
    return codes, names, wkbs


def load_regions(
    connection: Connection,
    path: str | os.PathLike[str],
    *,
    level: int,
    code_field: str = "shapeID",
    name_field: str = "shapeName",
) -> int:
    """Load one boundary file as regions of ``level``; returns how many regions were new.

    Idempotent: a code already in ``regions`` is skipped (its row is left as it is), so loading
    the same file twice inserts and updates nothing. All or nothing: one bad unit refuses the
    file. Parents are then linked for this level and for any higher level loaded earlier.
    """
    if not 0 <= level <= 9:
        raise LandReleaseError(f"admin level {level} is outside 0..9")
    source = Path(path)
    if not source.is_file():
        raise LandReleaseError(f"boundary file {source} not found")
    codes, names, wkbs = _read_units(source, code_field, name_field)
    with connection.begin_nested():
        inserted = connection.execute(
            _INSERT, {"code": codes, "name": names, "wkb": wkbs, "level": level}
        ).all()
        connection.execute(_LINK_PARENTS)
    return len(inserted)


def load_bundled_regions(connection: Connection) -> dict[int, int]:
    """Load the shipped BiH boundaries, levels 1 to 3; returns new regions per level.

    Lower levels go first so every municipality finds its parent in one pass.
    """
    folder = gis_data_dir() / "bih_admin"
    return {
        level: load_regions(connection, folder / name, level=level)
        for level, name in sorted(BUNDLED_LEVELS.items())
    }


def regions_per_level(connection: Connection) -> dict[int, int]:
    """How many regions the database holds at each admin level."""
    rows: Sequence[tuple[int, int]] = connection.execute(
        text("SELECT admin_level, count(*) FROM regions GROUP BY admin_level ORDER BY 1")
    ).all()  # type: ignore[assignment]
    return {int(level): int(n) for level, n in rows}


__all__ = [
    "BUNDLED_LEVELS",
    "GIS_DATA_ENV",
    "gis_data_dir",
    "load_bundled_regions",
    "load_regions",
    "regions_per_level",
]
