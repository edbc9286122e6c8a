"""Benchmark: apply N releases to N hazards, against a bare ``ST_Difference`` UPDATE.

What it measures, on a throw-away database ``landrelease_bench`` (never the main one):

* ``record_many`` of N irregular hazard polygons (reported on its own line);
* ``release_many`` of N releases, one per hazard, in one transaction: the real path, with
  validation through ``prepare_polygons``, row locks, ``ST_Intersection`` / ``ST_Difference``,
  geodesic areas and the ledger events, timed from the call to the commit;
* the peer: the same hazards in a plain scratch table (same geometry, GiST index), the same
  release polygons in a second scratch table, and one
  ``UPDATE ... SET geom = ST_Multi(ST_Difference(h.geom, r.geom)) FROM ... WHERE r.id = h.id``,
  timed including the commit;
* ``prepare_polygons`` alone over the same release polygons, to split landrelease's time into
  Python validation and the rest (SQL, locks, driver).

Each repeat uses fresh data (seed + repeat) in a freshly created database; the median and every
run are printed. The target is landrelease ≤ 2× the bare UPDATE. Figures only, no assertion.

Usage::

    .venv/bin/python benchmarks/release_benchmark.py [--hazards 10000] [--repeat 3] [--seed 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import shapely
from shapely.geometry import Polygon
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from landrelease.config import Settings, load_settings
from landrelease.db.engine import connect, drop_database, recreate_database
from landrelease.geometry import CleanPolygon, prepare_polygons
from landrelease.release import SLIVER_M2, HazardInput, ReleaseRequest, transaction
from landrelease.vocabulary import Contamination, EventKind, HazardClass

T = TypeVar("T")

DATABASE = "landrelease_bench"

#: Bosnia and Herzegovina, roughly: where the hazard centres are drawn.
LON_RANGE = (16.0, 19.5)
LAT_RANGE = (43.0, 45.0)

#: Hazard areas are drawn log-uniformly in this range, m² (0.1 ha to 50 ha).
AREA_RANGE_M2 = (1_000.0, 500_000.0)

#: Vertices per hazard polygon (inclusive).
VERTEX_RANGE = (20, 40)


TODAY = dt.date(2025, 6, 30)
RECORDED_DATE = dt.date(2023, 3, 1)
RELEASE_METHODS = (EventKind.CANCELLED, EventKind.REDUCED, EventKind.CLEARED)

SCRATCH_DDL = (
    "DROP TABLE IF EXISTS bench_hazards, bench_releases",
    "CREATE TABLE bench_hazards (id bigint PRIMARY KEY, geom geometry(MultiPolygon, 4326))",
    "CREATE TABLE bench_releases (id bigint PRIMARY KEY, geom geometry(MultiPolygon, 4326))",
)

BARE_UPDATE = text(
    """
    UPDATE bench_hazards h SET geom = ST_Multi(ST_Difference(h.geom, r.geom))
    FROM bench_releases r WHERE r.id = h.id
    """
)


@dataclass(frozen=True)
class Dataset:
    """Hazards to record and one partially overlapping release per hazard."""

    hazards: list[HazardInput]
    releases: list[ReleaseRequest]


@dataclass(frozen=True)
class Run:
    """Timings of one repeat, in seconds."""

    seed: int
    record_s: float
    release_s: float
    bare_s: float
    prepare_s: float
    mismatches: int
    area_gap_m2: float
    load: float

    @property
    def ratio(self) -> float:
        """landrelease ``release_many`` time over the bare UPDATE time."""
        return self.release_s / self.bare_s


# -- data ------------------------------------------------------------------------------------


def _to_lonlat(xy: np.ndarray, lon0: float, lat0: float) -> np.ndarray:
    """Local metres (east, north) around (lon0, lat0) to lon/lat degrees (WGS84 series)."""
    phi = math.radians(lat0)
    m_per_deg_lat = 111_132.92 - 559.82 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi)
    m_per_deg_lon = 111_412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi)
    return np.column_stack([lon0 + xy[:, 0] / m_per_deg_lon, lat0 + xy[:, 1] / m_per_deg_lat])


def _hazard_ring(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """A star-shaped ring in metres around (0, 0), and its scale S (vertex radii 0.6-1.0 S).

    Angles are jittered around equal steps and radii stay positive, so the ring is simple.
    """
    n = int(rng.integers(VERTEX_RANGE[0], VERTEX_RANGE[1] + 1))
    step = 2 * math.pi / n
    angles = np.arange(n) * step + rng.uniform(0, 0.8 * step, n)
    radii = rng.uniform(0.6, 1.0, n)
    unit_area = 0.5 * float(
        np.sum(radii * np.roll(radii, -1) * np.sin(np.diff(angles, append=angles[0] + 2 * math.pi)))
    )
    target = math.exp(rng.uniform(*np.log(AREA_RANGE_M2)))
    scale = math.sqrt(target / unit_area)
    xy = np.column_stack([np.cos(angles), np.sin(angles)]) * (radii * scale)[:, None]
    return xy, scale


def _release_ring(rng: np.random.Generator, scale: float) -> np.ndarray:
    """A circle or rotated box over part of a hazard of scale S, in metres.

    Its centre is 0.7 S from the hazard's centre: it always covers some of the hazard (points
    within 0.5 S of the centre are inside every ring of :func:`_hazard_ring`), reaches beyond
    it (past 1.0 S), and never covers the far side (-0.6 S), so the release is partial.
    """
    direction = rng.uniform(0, 2 * math.pi)
    centre = 0.7 * scale * np.array([math.cos(direction), math.sin(direction)])
    if rng.random() < 0.5:
        radius = rng.uniform(0.4, 0.6) * scale
        t = np.linspace(0, 2 * math.pi, 33)[:-1]
        return centre + radius * np.column_stack([np.cos(t), np.sin(t)])
    half_w, half_h = rng.uniform(0.35, 0.6, 2) * scale
    corners = np.array([[-half_w, -half_h], [half_w, -half_h], [half_w, half_h], [-half_w, half_h]])
    rot = rng.uniform(0, math.pi)
    matrix = np.array([[math.cos(rot), -math.sin(rot)], [math.sin(rot), math.cos(rot)]])
    return centre + corners @ matrix.T


def make_dataset(n: int, seed: int) -> Dataset:
    """N seeded hazards in Bosnia (20-40 vertices, 0.1-50 ha) and one partial release each."""
    rng = np.random.default_rng(seed)
    hazards: list[HazardInput] = []
    releases: list[ReleaseRequest] = []
    contaminations = list(Contamination)
    for i in range(n):
        lon0 = float(rng.uniform(*LON_RANGE))
        lat0 = float(rng.uniform(*LAT_RANGE))
        ring, scale = _hazard_ring(rng)
        release = _release_ring(rng, scale)
        national_id = f"BA-B{seed:03d}-{i:06d}"
        hazards.append(
            HazardInput(
                national_id=national_id,
                hazard_class=HazardClass.SHA if i % 3 else HazardClass.CHA,
                geometry=Polygon(_to_lonlat(ring, lon0, lat0)),
                crs=4326,
                recorded_date=RECORDED_DATE,
                contamination=contaminations[i % len(contaminations)],
            )
        )
        releases.append(
            ReleaseRequest(
                national_id=national_id,
                method=RELEASE_METHODS[int(rng.integers(len(RELEASE_METHODS)))],
                geometry=Polygon(_to_lonlat(release, lon0, lat0)),
                crs=4326,
                effective_date=RECORDED_DATE + dt.timedelta(days=int(rng.integers(1, 800))),
            )
        )
    return Dataset(hazards=hazards, releases=releases)


# -- measurements ----------------------------------------------------------------------------


def timed(action: Callable[[], T]) -> tuple[T, float]:
    """The result of ``action()`` and the wall-clock seconds it took."""
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def prepare_all(releases: Sequence[ReleaseRequest]) -> list[CleanPolygon]:
    """``prepare_polygons`` over every release polygon (all EPSG:4326), as ``release_many``
    calls it: the Python share of a release."""
    results = prepare_polygons(
        [r.geometry for r in releases],  # type: ignore[misc]
        4326,
        labels=[f"release {i} ({r.national_id})" for i, r in enumerate(releases, start=1)],
    )
    clean = [r for r in results if isinstance(r, CleanPolygon)]
    if len(clean) != len(results):
        raise RuntimeError("a benchmark release polygon was refused")
    return clean


def checkpoint(engine: Engine) -> None:
    """Flush dirty pages before a timed step, so no checkpoint lands inside one (if allowed)."""
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("CHECKPOINT"))
    except DBAPIError:
        pass  # not a superuser (nor pg_checkpoint): measure with whatever the server does


def load_scratch(
    engine: Engine, hazard_ids: Sequence[int], cleaned: Sequence[CleanPolygon]
) -> None:
    """Copy the recorded hazards into a plain table and the release polygons into another.

    The hazards are copied from the ``hazards`` table (the very geometry landrelease stored);
    the releases are the same cleaned WKB ``release_many`` sends. Both get their index after
    loading, and both are analysed, like the ledger tables.
    """
    with engine.begin() as connection:
        for statement in SCRATCH_DDL:
            connection.execute(text(statement))
        connection.execute(
            text("INSERT INTO bench_hazards (id, geom) SELECT id, geom FROM hazards")
        )
        connection.execute(
            text(
                """
                INSERT INTO bench_releases (id, geom)
                SELECT id, ST_GeomFromWKB(wkb, 4326)
                FROM unnest(CAST(:id AS bigint[]), CAST(:wkb AS bytea[])) AS r(id, wkb)
                """
            ),
            {"id": list(hazard_ids), "wkb": [shapely.to_wkb(c.geom) for c in cleaned]},
        )
        connection.execute(
            text("CREATE INDEX bench_hazards_geom ON bench_hazards USING gist (geom)")
        )
        connection.execute(
            text("CREATE INDEX bench_releases_geom ON bench_releases USING gist (geom)")
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(
            text("VACUUM ANALYZE hazards, ledger_events, bench_hazards, bench_releases")
        )


def release_landrelease(engine: Engine, releases: Sequence[ReleaseRequest]) -> None:
    """The real path: one transaction, ``release_many`` of every request, then commit."""
    with transaction(engine, today=TODAY) as ledger:
        results = ledger.release_many(releases)
    if len(results) != len(releases):
        raise RuntimeError(f"release_many returned {len(results)} results for {len(releases)}")


def release_bare(engine: Engine) -> None:
    """The peer: one plain UPDATE with ST_Difference, then commit."""
    with engine.begin() as connection:
        updated = connection.execute(BARE_UPDATE).rowcount
    if updated <= 0:
        raise RuntimeError("the bare UPDATE changed no row")


def compare(engine: Engine) -> tuple[int, float]:
    """Hazards whose remainder differs between the two paths, and the gap in total area (m²).

    The ledger releases, with the piece, every part of a remainder below the sliver tolerance;
    the bare table's remainders are compared without those parts.
    """
    with engine.connect() as connection:
        row = connection.execute(
            text(
                """
                WITH bare AS (
                    SELECT b.id, ST_Multi(ST_Collect(d.geom)) AS geom
                    FROM bench_hazards b CROSS JOIN LATERAL ST_Dump(b.geom) d
                    WHERE lr_area_m2(d.geom) >= :sliver
                    GROUP BY b.id
                )
                SELECT count(*) FILTER (WHERE NOT ST_Equals(h.geom, b.geom)) AS mismatches,
                       sum(h.area_m2) - sum(lr_area_m2(b.geom)) AS gap
                FROM hazards h JOIN bare b USING (id)
                """
            ),
            {"sliver": SLIVER_M2},
        ).one()
    return int(row.mismatches), float(row.gap)


def run_once(settings: Settings, n: int, seed: int, bare_first: bool) -> Run:
    """One repeat on fresh data in a freshly created database."""
    recreate_database(settings, DATABASE)
    engine = connect(settings, database=DATABASE)
    try:
        data = make_dataset(n, seed)
        checkpoint(engine)

        def record() -> list[int]:
            with transaction(engine, today=TODAY) as ledger:
                return [r.hazard_id for r in ledger.record_many(data.hazards)]

        hazard_ids, record_s = timed(record)
        cleaned, prepare_s = timed(lambda: prepare_all(data.releases))
        load_scratch(engine, hazard_ids, cleaned)

        steps: dict[str, Callable[[], None]] = {
            "landrelease": lambda: release_landrelease(engine, data.releases),
            "bare": lambda: release_bare(engine),
        }
        seconds: dict[str, float] = {}
        for name in ("bare", "landrelease") if bare_first else ("landrelease", "bare"):
            checkpoint(engine)
            seconds[name] = timed(steps[name])[1]
        mismatches, gap = compare(engine)
    finally:
        engine.dispose()
    return Run(
        seed=seed,
        record_s=record_s,
        release_s=seconds["landrelease"],
        bare_s=seconds["bare"],
        prepare_s=prepare_s,
        mismatches=mismatches,
        area_gap_m2=gap,
        load=os.getloadavg()[0],
    )


def server_summary(settings: Settings) -> str:
    """One line naming the server, PostGIS and the settings that move these timings."""
    recreate_database(settings, DATABASE)
    engine = connect(settings, database=DATABASE)
    try:
        with engine.connect() as connection:
            row = connection.execute(
                text(
                    """
                    SELECT current_setting('server_version') AS pg, postgis_lib_version() AS gis,
                           current_setting('jit') AS jit, current_setting('work_mem') AS mem,
                           current_setting('shared_buffers') AS buffers,
                           current_setting('synchronous_commit') AS sync
                    """
                )
            ).one()
    finally:
        engine.dispose()
    return (
        f"PostgreSQL {row.pg}, PostGIS {row.gis}, jit={row.jit}, work_mem={row.mem}, "
        f"shared_buffers={row.buffers}, synchronous_commit={row.sync}; "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}"
    )


# -- report ----------------------------------------------------------------------------------


def report(n: int, runs: Sequence[Run]) -> None:
    """Print the median table, the breakdown and every run."""

    def median(values: Sequence[float]) -> float:
        return statistics.median(values)

    record_s = median([r.record_s for r in runs])
    release_s = median([r.release_s for r in runs])
    bare_s = median([r.bare_s for r in runs])
    prepare_s = median([r.prepare_s for r in runs])
    ratio = median([r.ratio for r in runs])

    print(f"\n{n:,} hazards, {n:,} releases, {len(runs)} run(s); median figures\n")
    print(f"{'step':<38}{'rows':>8}{'seconds':>10}{'rows/s':>10}{'ratio':>8}")
    lines = [
        ("record_many (hazards)", record_s, ""),
        ("release_many (landrelease)", release_s, f"{ratio:.2f}"),
        ("bare UPDATE ST_Difference + commit", bare_s, "1.00"),
        ("prepare_polygons alone (releases)", prepare_s, ""),
    ]
    for label, seconds, shown_ratio in lines:
        print(f"{label:<38}{n:>8,}{seconds:>10.3f}{n / seconds:>10,.0f}{shown_ratio:>8}")
    rest = release_s - prepare_s
    print(
        f"\nrelease_many breakdown: prepare_polygons {prepare_s:.3f} s "
        f"({prepare_s / release_s:.0%}), SQL + locking + driver {rest:.3f} s "
        f"({rest / release_s:.0%}); that rest alone is {rest / bare_s:.2f}x the bare UPDATE"
    )
    verdict = "within" if ratio <= 2 else "ABOVE"
    print(f"target landrelease/bare <= 2x: {ratio:.2f}x, {verdict} target")

    print(
        f"\n{'run':>3}{'seed':>6}{'record':>9}{'release':>9}{'bare':>8}{'ratio':>7}"
        f"{'prepare':>9}{'differ':>8}{'area gap m2':>13}{'load':>7}"
    )
    for index, r in enumerate(runs, start=1):
        print(
            f"{index:>3}{r.seed:>6}{r.record_s:>9.3f}{r.release_s:>9.3f}{r.bare_s:>8.3f}"
            f"{r.ratio:>7.2f}{r.prepare_s:>9.3f}{r.mismatches:>8}{r.area_gap_m2:>13.3f}"
            f"{r.load:>7.2f}"
        )
    print(
        "\n'differ': hazards whose remainder differs between the two paths (expected 0);\n"
        "'area gap': landrelease's stored remaining area minus the bare table's, m²;\n"
        "'load': 1-minute load average after the run (other work on the machine skews timings)."
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments, run the repeats, print the report and drop the bench database."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hazards", type=int, default=10_000, help="hazards (and releases)")
    parser.add_argument("--repeat", type=int, default=3, help="repeats, each on fresh data")
    parser.add_argument("--seed", type=int, default=7, help="seed of the first repeat")
    parser.add_argument(
        "--keep-database", action="store_true", help=f"leave {DATABASE} for inspection"
    )
    args = parser.parse_args(argv)
    if args.hazards < 1 or args.repeat < 1:
        parser.error("--hazards and --repeat must be at least 1")

    settings = load_settings()
    print(server_summary(settings), flush=True)
    runs: list[Run] = []
    for k in range(args.repeat):
        seed = args.seed + k
        run = run_once(settings, args.hazards, seed, bare_first=k % 2 == 1)
        order = "bare first" if k % 2 else "landrelease first"
        print(
            f"run {k + 1}/{args.repeat} (seed {seed}, {order}): record {run.record_s:.3f} s, "
            f"release {run.release_s:.3f} s, bare {run.bare_s:.3f} s, ratio {run.ratio:.2f}",
            flush=True,
        )
        runs.append(run)
    report(args.hazards, runs)
    if not args.keep_database:
        drop_database(settings, DATABASE)


if __name__ == "__main__":
    main()
