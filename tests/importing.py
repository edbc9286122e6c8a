"""Shared by the import tests: a database with the BiH entities loaded, and independent checks.

Loading the boundaries takes seconds, so the ``imports_db`` fixture keeps them between tests
(the other tables, ``imports`` included, are emptied before each test) and reloads them only
when another test's ``db`` fixture has emptied them.

Expected areas are computed here from the source files with pyproj alone (``Transformer`` and
``Geod`` on oriented rings), never with landrelease's own functions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import CRS, Geod, Transformer
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Engine, text

from landrelease.regions import gis_data_dir, load_regions

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "gis_data" / "samples"
BAD = ROOT / "tests" / "data" / "bad"
GEOD = Geod(ellps="WGS84")

_EMPTY = (
    "TRUNCATE stock_spans, event_overlaps, event_regions, ledger_events, activity_items, "
    "activities, hazards, organisations, imports RESTART IDENTITY CASCADE"
)


def empty(engine: Engine) -> None:
    """Empty every table an import writes (the regions stay)."""
    with engine.begin() as connection:
        connection.execute(text(_EMPTY))


@pytest.fixture
def imports_db(engine: Engine) -> Engine:
    """The test database with no data but the level-1 regions of Bosnia and Herzegovina."""
    empty(engine)
    with engine.begin() as connection:
        entities = connection.execute(
            text("SELECT count(*) FROM regions WHERE admin_level = 1")
        ).scalar_one()
        if entities != 3:
            connection.execute(text("TRUNCATE regions RESTART IDENTITY CASCADE"))
            load_regions(connection, gis_data_dir() / "bih_admin" / "bih_adm1.geojson", level=1)
    return engine


def fingerprint(engine: Engine) -> tuple[object, ...]:
    """Everything an import could change, summed up."""
    with engine.connect() as connection:
        return tuple(
            connection.execute(
                text(
                    """
                    SELECT (SELECT count(*) FROM hazards), (SELECT count(*) FROM ledger_events),
                           (SELECT coalesce(sum(area_m2), 0) FROM hazards),
                           (SELECT count(*) FROM activities),
                           (SELECT count(*) FROM activity_items),
                           (SELECT count(*) FROM organisations),
                           (SELECT count(*) FROM imports)
                    """
                )
            ).one()
        )


def refusal(engine: Engine, path: Path, **options: str) -> str:
    """Import ``path`` with ``options``, which must refuse the whole file and write nothing;
    returns the refusal's message."""
    from landrelease.errors import LandReleaseError
    from landrelease.ingest import import_file

    before = fingerprint(engine)
    with pytest.raises(LandReleaseError) as refused:
        import_file(engine, path, **options)  # type: ignore[arg-type]
    assert fingerprint(engine) == before
    return str(refused.value)


def geod_area(geom: BaseGeometry) -> float:
    """Geodesic area of a lon/lat polygon, rings oriented as pyproj.Geod needs them."""
    area, _ = GEOD.geometry_area_perimeter(shapely.orient_polygons(geom))
    return abs(area)


def source_areas(
    path: Path, id_field: str, layer: str | None = None, rows: slice | None = None
) -> dict[str, float]:
    """Geodesic area of the features of a file (``rows``: which), by ID, with pyproj alone."""
    frame = pyogrio.read_dataframe(path, layer=layer)
    if rows is not None:
        frame = frame.iloc[rows]
    crs = CRS.from_user_input(frame.crs)
    to_wgs84 = Transformer.from_crs(crs, 4326, always_xy=True)

    def project(coords: np.ndarray) -> np.ndarray:
        x, y = to_wgs84.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return {
        str(hid): geod_area(shapely.transform(shapely.force_2d(geom), project))
        for hid, geom in zip(frame[id_field], frame.geometry, strict=True)
    }


def stored_areas(engine: Engine) -> dict[str, float]:
    """The area of each hazard's ``recorded`` event, by national ID."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT h.national_id, e.area_m2 FROM ledger_events e "
                "JOIN hazards h ON h.id = e.hazard_id WHERE e.kind = 'recorded'"
            )
        )
        return {row.national_id: row.area_m2 for row in rows}
