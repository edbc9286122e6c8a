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

Loading is idempotent: codes already in ``regions`` are skipped before any work is done on
them, so re-loading a file inserts and updates nothing, and costs only the reading. Reading
(:func:`read_regions`) and inserting (:func:`insert_regions`) are separate steps so a caller
can use the validated boundaries before they are stored.
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyogrio
import shapely
from shapely.geometry import MultiPolygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, text

from landrelease.errors import ConfigurationError, LandReleaseError
from landrelease.geometry import CRSLike, prepare_polygon

#: Environment variable naming the reference data folder, for installs without the source tree.
GIS_DATA_ENV = "LANDRELEASE_GIS_DATA"

#: The bundled Bosnia and Herzegovina boundaries (geoBoundaries), file name per admin level.
BUNDLED_LEVELS: dict[int, str] = {
    1: "bih_adm1.geojson",
    2: "bih_adm2.geojson",
    3: "bih_adm3.geojson",
}

#: Longest boundary edge kept (m). Boundaries are never cut by a release, only used to
#: group figures, so they need not carry a vertex every 20 m like hazards (which would make
#: them 35 times larger); at 200 m a piece split between two regions adds up to within
#: about 0.1 m².
BOUNDARY_MAX_EDGE_M = 200.0

#: Simplification (degrees, about 1 m) of the boundaries compared to rank parents: see below.
PARENT_RANK_TOLERANCE = 1e-5

# A unit's parent is the unit of the nearest lower level loaded with the largest geodesic
# overlap. The overlaps only rank candidates (the true parent holds ~100 %, a neighbour a
# sliver), so they are measured on boundaries simplified by ~1 m: stored boundaries carry a
# vertex every 200 m along each edge (geometry.prepare_polygon), which makes exact overlays of
# whole municipalities several times slower without changing which parent wins. Douglas-Peucker
# is 40x faster than the topology-preserving simplifier, which is the fallback if a simplified
# shape comes out invalid.
_SIMPLE = (
    "CASE WHEN ST_IsValid(ST_Simplify({g}, :tol, true)) THEN ST_Simplify({g}, :tol, true)"
    " ELSE ST_SimplifyPreserveTopology({g}, :tol) END"
)

# New units get their parent as they are inserted: linking afterwards would be an UPDATE of
# every new row, which rewrites (and re-triggers on) rows holding large boundaries.
_INSERT = text(
    """
    WITH src AS MATERIALIZED (
        SELECT s.code, s.name, s.geom, """  # noqa: S608 - only constant fragments are joined
    + _SIMPLE.format(g="s.geom")
    + """ AS simple
        FROM (SELECT u.code, u.name, ST_GeomFromWKB(u.wkb, 4326) AS geom
              FROM unnest(CAST(:code AS text[]), CAST(:name AS text[]), CAST(:wkb AS bytea[]))
                  AS u(code, name, wkb)) s
    ),
    candidates AS MATERIALIZED (
        SELECT r.id, """
    + _SIMPLE.format(g="r.geom")
    + """ AS simple
        FROM regions r
        WHERE r.admin_level = (SELECT max(admin_level) FROM regions WHERE admin_level < :level)
    ),
    shares AS (
        SELECT s.code, c.id AS parent_id, lr_area_m2(ST_Intersection(c.simple, s.simple)) AS shared
        FROM src s JOIN candidates c ON c.simple && s.simple
    ),
    parents AS (
        SELECT DISTINCT ON (code) code, parent_id FROM shares
        WHERE shared > 0 ORDER BY code, shared DESC, parent_id
    )
    INSERT INTO regions (code, name, admin_level, geom, area_m2, parent_id)
    SELECT s.code, s.name, :level, s.geom, lr_area_m2(s.geom), p.parent_id
    FROM src s LEFT JOIN parents p USING (code)
    ON CONFLICT (code) DO NOTHING
    RETURNING id
    """
)

# Units of higher levels loaded earlier whose parent is missing, or sits further down than
# the level just loaded, move to the unit of that level with the largest overlap. Rows that
# already have the right parent are not touched, so running this again updates nothing.
_ADOPT = text(
    """
    WITH needing AS MATERIALIZED (
        SELECT c.id, """  # noqa: S608 - only constant fragments are joined
    + _SIMPLE.format(g="c.geom")
    + """ AS simple
        FROM regions c LEFT JOIN regions p ON p.id = c.parent_id
        WHERE c.admin_level > :level
          AND NOT EXISTS (SELECT 1 FROM regions m
                          WHERE m.admin_level > :level AND m.admin_level < c.admin_level)
          AND (p.id IS NULL OR p.admin_level < :level)
    ),
    candidates AS MATERIALIZED (
        SELECT r.id, """
    + _SIMPLE.format(g="r.geom")
    + """ AS simple
        FROM regions r WHERE r.admin_level = :level
    ),
    shares AS (
        SELECT n.id, c.id AS parent_id, lr_area_m2(ST_Intersection(c.simple, n.simple)) AS shared
        FROM needing n JOIN candidates c ON c.simple && n.simple
    ),
    best AS (
        SELECT DISTINCT ON (id) id, parent_id FROM shares
        WHERE shared > 0 ORDER BY id, shared DESC, parent_id
    )
    UPDATE regions c SET parent_id = b.parent_id FROM best b WHERE c.id = b.id
    """
)


@dataclass(frozen=True)
class _Unit:
    """One feature of a boundary file, before validation."""

    code: str
    name: str
    geom: BaseGeometry | None
    label: str


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


def _read_units(path: Path, code_field: str, name_field: str) -> tuple[list[_Unit], CRSLike | None]:
    """Every feature of a boundary file with its code and name, and the file's CRS.

    Missing codes and codes given twice are refused here: the code is the region's identity.
    """
    frame = pyogrio.read_dataframe(path)
    missing = [f for f in (code_field, name_field) if f not in frame.columns]
    if missing:
        raise LandReleaseError(
            f"{path.name}: no field {', '.join(missing)}; fields are "
            f"{', '.join(c for c in frame.columns if c != 'geometry')}"
        )
    units: list[_Unit] = []
    problems: list[str] = []
    seen: set[str] = set()
    rows = zip(frame[code_field], frame[name_field], frame.geometry, strict=True)
    for index, (raw_code, raw_name, geom) in enumerate(rows, start=1):
        code, name = _field_text(raw_code), _field_text(raw_name)
        label = f"{path.name} feature {index} ({name or '?'}, {code or 'no code'})"
        if not code:
            problems.append(f"{label}: no {code_field}")
        elif code in seen:
            problems.append(f"{label}: {code_field} {code} given twice")
        else:
            seen.add(code)
            units.append(_Unit(code, name or code, geom, label))
    _refuse(path, problems)
    return units, frame.crs


def _field_text(value: object) -> str:
    """A code or name as text; "" when the field is empty.

    A column with an empty value is read as floats with NaN for the gaps (a code column of
    numbers too): NaN is no code, and a whole number keeps its digits (7, not "7.0").
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


@dataclass(frozen=True)
class RegionShape:
    """One administrative unit read from a file, its boundary already validated.

    ``geom`` is exactly what :func:`insert_regions` stores (EPSG:4326, from ``prepare_polygon``),
    so code that needs the boundaries before they are in the database (the demo places hazards
    with them) works on the very same polygons.
    """

    code: str
    name: str
    geom: MultiPolygon


def read_regions(
    path: str | os.PathLike[str],
    *,
    code_field: str = "shapeID",
    name_field: str = "shapeName",
    skip: Collection[str] = (),
) -> list[RegionShape]:
    """Read a boundary file and validate every unit whose code is not in ``skip``.

    All or nothing: one unit without a code, with a code given twice, or with a boundary
    ``prepare_polygon`` refuses, refuses the file, with every problem named.
    """
    source = Path(path)
    if not source.is_file():
        raise LandReleaseError(f"boundary file {source} not found")
    units, crs = _read_units(source, code_field, name_field)
    shapes: list[RegionShape] = []
    problems: list[str] = []
    for unit in units:
        if unit.code in skip:
            continue
        try:
            clean = prepare_polygon(
                unit.geom, crs, label=unit.label, max_edge_m=BOUNDARY_MAX_EDGE_M
            )
        except LandReleaseError as exc:
            problems.append(str(exc))
            continue
        shapes.append(RegionShape(unit.code, unit.name, clean.geom))
    _refuse(source, problems)
    return shapes


def _refuse(path: Path, problems: list[str]) -> None:
    if problems:
        raise LandReleaseError(
            f"{path.name}: {len(problems)} unit(s) refused, nothing loaded:\n  "
            + "\n  ".join(problems)
        )


def insert_regions(connection: Connection, shapes: Sequence[RegionShape], *, level: int) -> int:
    """Insert regions of ``level`` whose code is new, with their parents; returns how many.

    A code already present is skipped (its row is left as it is). Units of higher levels
    loaded earlier move under the new units where these are now their nearest lower level.
    """
    if not 0 <= level <= 9:
        raise LandReleaseError(f"admin level {level} is outside 0..9")
    if not shapes:
        return 0
    with connection.begin_nested():
        inserted = connection.execute(
            _INSERT,
            {
                "code": [s.code for s in shapes],
                "name": [s.name for s in shapes],
                "wkb": [shapely.to_wkb(s.geom, include_srid=False) for s in shapes],
                "level": level,
                "tol": PARENT_RANK_TOLERANCE,
            },
        ).all()
        higher = connection.execute(
            text("SELECT EXISTS (SELECT 1 FROM regions WHERE admin_level > :level)"),
            {"level": level},
        ).scalar_one()
        if inserted and higher:
            connection.execute(_ADOPT, {"level": level, "tol": PARENT_RANK_TOLERANCE})
    return len(inserted)


def load_regions(
    connection: Connection,
    path: str | os.PathLike[str],
    *,
    level: int,
    code_field: str = "shapeID",
    name_field: str = "shapeName",
) -> int:
    """Load one boundary file as regions of ``level``; returns how many regions were new.

    Idempotent: codes already in ``regions`` are skipped before they are even validated, so
    loading the same file twice inserts and updates nothing. All or nothing: one bad unit
    refuses the file.
    """
    if not 0 <= level <= 9:
        raise LandReleaseError(f"admin level {level} is outside 0..9")
    known = set(connection.execute(text("SELECT code FROM regions")).scalars())
    shapes = read_regions(path, code_field=code_field, name_field=name_field, skip=known)
    return insert_regions(connection, shapes, level=level)


def bundled_region_files() -> dict[int, Path]:
    """The shipped BiH boundary files (geoBoundaries), by admin level, lowest level first."""
    folder = gis_data_dir() / "bih_admin"
    return {level: folder / name for level, name in sorted(BUNDLED_LEVELS.items())}


def load_bundled_regions(connection: Connection) -> dict[int, int]:
    """Load the shipped BiH boundaries, levels 1 to 3; returns new regions per level.

    Lower levels go first so every municipality finds its parent in one pass.
    """
    return {
        level: load_regions(connection, path, level=level)
        for level, path in bundled_region_files().items()
    }


def regions_per_level(connection: Connection) -> dict[int, int]:
    """How many regions the database holds at each admin level."""
    rows = connection.execute(
        text("SELECT admin_level, count(*) AS n FROM regions GROUP BY admin_level ORDER BY 1")
    )
    return {int(row.admin_level): int(row.n) for row in rows}


__all__ = [
    "BUNDLED_LEVELS",
    "GIS_DATA_ENV",
    "RegionShape",
    "bundled_region_files",
    "gis_data_dir",
    "insert_regions",
    "load_bundled_regions",
    "load_regions",
    "read_regions",
    "regions_per_level",
]
