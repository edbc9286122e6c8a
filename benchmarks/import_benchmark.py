"""Benchmark: import N hazard polygons from a GeoPackage, against two peers that check nothing.

What it measures, on a throw-away database ``landrelease_import_bench`` (never the main one),
each as a child process so its peak memory is its own (``os.wait4`` rusage):

* **landrelease**: ``landrelease import hazards.gpkg`` - read, validation and repair
  (``prepare_polygons``), region checks, geodesic areas, and the ledger (``record_many``:
  hazards, ``recorded`` events, and at commit the derived tables of 0002/0004/0008) in one
  transaction, then the ANALYZE that follows a large file; stage times from its progress
  lines;
* **(a) ogr2ogr**: ``ogr2ogr -f PostgreSQL`` with ``PG_USE_COPY=YES`` into a scratch table:
  the fastest load GDAL offers, and it checks nothing;
* **(b) geopandas**: ``geopandas.read_file`` + ``make_valid`` + ``to_postgis`` into a scratch
  table: what a script would do.

The database holds the shipped boundaries of all three admin levels (157 regions), as the demo's
and a centre's do: every hazard is measured into a region of each level. ``--regions entities``
loads the three entities alone, as this benchmark did before measuring scaled with the regions.

Then a **monthly file**: 300 results (NTS, TS and clearance in equal parts, each taking out the
middle of one hazard already recorded) imported through the Python API into the database just
filled, timed from the call through the commit, against ogr2ogr loading the same file.

Targets: landrelease faster than (b), at most 2x (a), peak memory under 2 GB; the monthly
file applied in under 1 s. Figures only,
no assertion. The hazards are seeded star-shaped polygons (20-40 vertices, 0.1-50 ha) in
Bosnia and Herzegovina, one per cell of a grid, so that they do not overlap (see
:func:`make_hazards`).

Usage::

    .venv/bin/python benchmarks/import_benchmark.py [--hazards 100000] [--seed 7]
        [--repeat 3] [--regions bundled|entities]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from shapely.geometry import Polygon
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from landrelease.config import load_settings
from landrelease.db.engine import connect, database_url, drop_database, recreate_database
from landrelease.ingest import import_file
from landrelease.regions import gis_data_dir, load_bundled_regions, load_regions
from landrelease.vocabulary import Contamination

sys.path.insert(0, str(Path(__file__).resolve().parent))
from release_benchmark import RECORDED_DATE, _hazard_ring, _to_lonlat

DATABASE = "landrelease_import_bench"
VENV_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Measure:
    """One child process: wall-clock seconds, peak resident memory, and its stage times."""

    name: str
    seconds: float
    peak_mb: float
    stages: dict[str, float]
    began: dict[str, float]  # when each stage was first reported

    def stage_seconds(self, stage: str) -> float:
        """How long ``stage`` ran, from its first report to its last (0 when not reported)."""
        return self.stages.get(stage, 0.0) - self.began.get(stage, 0.0)


def make_hazards(count: int, seed: int) -> list[tuple[str, str, str, Polygon]]:
    """``count`` seeded hazards in Bosnia and Herzegovina that do not overlap one another.

    A national database holds hazards that tile the contaminated land; two that overlap count
    the same ground twice, which is an error of the data. So each hazard gets its own cell of a
    grid laid over the country (cells whose centre lies inside it): a star-shaped ring of
    ``release_benchmark`` (20-40 vertices, 0.1-50 ha drawn log-uniformly), shrunk where needed
    to stay within its cell. Returns (national ID, class, contamination, polygon).
    """
    entities = pyogrio.read_dataframe(gis_data_dir() / "bih_admin" / "bih_adm1.geojson")
    country = shapely.union_all(entities.geometry.values)
    shapely.prepare(country)
    xmin, ymin, xmax, ymax = country.bounds
    # Cells of equal ground size; whole cells fill about 40 % of the country's box.
    step = math.sqrt((xmax - xmin) * (ymax - ymin) * 0.4 / count)
    lons = np.arange(xmin + step / 2, xmax, step)
    lats = np.arange(ymin + step / 2, ymax, step)
    grid = np.array([(x, y) for y in lats for x in lons])
    cells = shapely.box(
        grid[:, 0] - step / 2, grid[:, 1] - step / 2, grid[:, 0] + step / 2, grid[:, 1] + step / 2
    )
    centres = grid[shapely.contains(country, cells)]  # whole cells: no hazard crosses out
    if len(centres) < count:
        raise SystemExit(f"only {len(centres)} cells lie in Bosnia; lower the fill factor")
    rng = np.random.default_rng(seed)
    centres = centres[np.sort(rng.choice(len(centres), count, replace=False))]
    contaminations = [c.value for c in Contamination]
    hazards = []
    for i, (lon0, lat0) in enumerate(centres):
        ring, scale = _hazard_ring(rng)
        cell_m = step * 111_320 * math.cos(math.radians(lat0))
        ring = ring * min(1.0, 0.45 * cell_m / scale)  # vertex radii are at most 1.0 scale
        hazards.append(
            (
                f"BA-I{seed:03d}-{i:06d}",
                "SHA" if i % 3 else "CHA",
                contaminations[i % len(contaminations)],
                Polygon(_to_lonlat(ring, float(lon0), float(lat0))),
            )
        )
    return hazards


def make_file(
    count: int, seed: int, folder: Path
) -> tuple[Path, list[tuple[str, str, str, Polygon]]]:
    """A GeoPackage of ``count`` hazards (see :func:`make_hazards`), as a field office sends,
    and the hazards in it."""
    hazards = make_hazards(count, seed)
    frame = gpd.GeoDataFrame(
        {
            "hazard_id": [h[0] for h in hazards],
            "class": [h[1] for h in hazards],
            "contamination": [h[2] for h in hazards],
            "date": [RECORDED_DATE.isoformat()] * len(hazards),
            "organisation": ["NPA"] * len(hazards),
        },
        geometry=[h[3] for h in hazards],
        crs=4326,
    )
    path = folder / "hazards.gpkg"
    pyogrio.write_dataframe(frame, path, layer="hazards")
    return path, hazards


#: Results in the monthly file, and how many features share one activity reference.
MONTHLY_RESULTS = 300
PER_ACTIVITY = 10


def make_monthly_file(
    hazards: list[tuple[str, str, str, Polygon]], seed: int, folder: Path
) -> Path:
    """A month of field results on recorded hazards: each releases the middle of one hazard
    (a box over the central 60 % of its extent), by NTS, TS or clearance in turn."""
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(hazards), min(MONTHLY_RESULTS, len(hazards)), replace=False)
    kinds = ("NTS", "TS", "CLEARANCE")
    rows, shapes = [], []
    for n, i in enumerate(chosen.tolist()):
        national_id, _, _, polygon = hazards[i]
        xmin, ymin, xmax, ymax = polygon.bounds
        dx, dy = (xmax - xmin) * 0.3, (ymax - ymin) * 0.3
        cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
        shapes.append(shapely.box(cx - dx, cy - dy, cx + dx, cy + dy))
        kind = kinds[n % len(kinds)]
        rows.append((national_id, kind, f"{kind}-{n // (PER_ACTIVITY * len(kinds)):03d}"))
    frame = gpd.GeoDataFrame(
        {
            "hazard_id": [r[0] for r in rows],
            "activity_type": [r[1] for r in rows],
            "activity_ref": [r[2] for r in rows],
            "date": [(RECORDED_DATE + dt.timedelta(days=200)).isoformat()] * len(rows),
            "organisation": ["NPA"] * len(rows),
        },
        geometry=shapes,
        crs=4326,
    )
    path = folder / "monthly.gpkg"
    pyogrio.write_dataframe(frame, path, layer="results")
    return path


def apply_monthly(engine: Engine, path: Path) -> tuple[float, str]:
    """Import the monthly file through the API: seconds from the call through the commit,
    and what was applied."""
    start = time.perf_counter()
    result = import_file(engine, path)
    seconds = time.perf_counter() - start
    if result.status != "applied":
        raise SystemExit(f"the monthly file was not applied: {result.problems[:3]}")
    counts: dict[str, int] = {}
    for change in result.changes:
        counts[change.kind] = counts.get(change.kind, 0) + change.count
    return seconds, ", ".join(f"{kind} {count}" for kind, count in counts.items())


# Peak memory of a child is read by a small launcher that waits for it: a child forked from
# this (large) process would otherwise report this process's peak as its own.
LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_child(name: str, command: list[str], env: dict[str, str], folder: Path) -> Measure:
    """Run one measured child; stage times come from ``stage: done/total`` lines on stderr."""
    start = time.perf_counter()
    stages: dict[str, float] = {}
    began: dict[str, float] = {}
    peak_file = folder / f"{name}.maxrss"
    launched = [str(VENV_BIN / "python"), "-c", LAUNCHER, str(peak_file), *command]
    with subprocess.Popen(
        launched, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stderr is not None
        for line in process.stderr:
            stage, sep, counts = line.strip().partition(": ")
            if sep and "/" in counts and counts.replace("/", "").isdigit():
                stages[stage] = time.perf_counter() - start
                began.setdefault(stage, stages[stage])
            elif line.strip():
                print(f"  [{name}] {line.rstrip()}", file=sys.stderr)
        output = process.stdout.read() if process.stdout else ""
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"{name} failed ({process.returncode}):\n{output}")
    if name == "landrelease":
        print(textwrap.indent(output.strip(), "  | "))
    return Measure(name, seconds, int(peak_file.read_text()) / 1024, stages, began)


def pg_connection_string(url: str) -> str:
    """libpq keywords for ogr2ogr's ``PG:`` datasource, from the SQLAlchemy URL."""
    parsed = make_url(url)
    parts = {"dbname": parsed.database, "user": parsed.username, "password": parsed.password}
    parts["host"] = parsed.host or parsed.query.get("host")  # type: ignore[assignment]
    parts["port"] = str(parsed.port or parsed.query.get("port") or "")
    return "PG:" + " ".join(f"{k}={v}" for k, v in parts.items() if v)


def child_env(url: str) -> dict[str, str]:
    """The environment of every measured child: the throw-away database, COPY for GDAL."""
    return dict(os.environ, LANDRELEASE_DATABASE_URL=url, PG_USE_COPY="YES")


def ogr2ogr_command(url: str, path: Path, table: str) -> list[str]:
    """ogr2ogr loading ``path`` into ``table`` by COPY, the fastest load GDAL offers."""
    return [
        shutil.which("ogr2ogr") or "ogr2ogr",
        "-f",
        "PostgreSQL",
        pg_connection_string(url),
        str(path),
        "-nln",
        table,
        "-lco",
        "GEOMETRY_NAME=geom",
        "-overwrite",
        "--config",
        "PG_USE_COPY",
        "YES",
    ]


GEOPANDAS_PEER = """
import sys
import geopandas as gpd
from sqlalchemy import create_engine
frame = gpd.read_file(sys.argv[1])
frame["geometry"] = frame.geometry.make_valid()
engine = create_engine(sys.argv[2])
frame.to_postgis("bench_geopandas", engine, if_exists="replace", index=False)
engine.dispose()
"""


def fresh_database(regions: str) -> tuple[Engine, str, int, dict[str, str]]:
    """The throw-away database, recreated with its regions: engine, URL, region count and the
    server settings that matter here."""
    settings = load_settings()
    recreate_database(settings, DATABASE)
    engine = connect(settings, database=DATABASE)
    with engine.begin() as connection:
        if regions == "bundled":
            load_bundled_regions(connection)
        else:
            load_regions(connection, gis_data_dir() / "bih_admin" / "bih_adm1.geojson", level=1)
        count = connection.execute(text("SELECT count(*) FROM regions")).scalar_one()
        server = dict(
            connection.execute(
                text(
                    "SELECT name, setting FROM pg_settings WHERE name IN "
                    "('jit', 'work_mem', 'shared_buffers', 'max_wal_size', 'synchronous_commit')"
                )
            ).all()
        )
    return engine, database_url(settings, DATABASE), count, server


def one_round(engine: Engine, url: str, path: Path, folder: Path, turn: int) -> list[Measure]:
    """landrelease and both peers on the same file, the order turned by ``turn`` so that no
    one always runs first (or right after another's checkpoint); landrelease first in the list.
    """
    env = child_env(url)
    commands = {
        "landrelease": [str(VENV_BIN / "landrelease"), "import", str(path)],
        "ogr2ogr": ogr2ogr_command(url, path, "bench_ogr2ogr"),
        "geopandas": [str(VENV_BIN / "python"), "-c", GEOPANDAS_PEER, str(path), url],
    }
    names = list(commands)
    order = names[turn % 3 :] + names[: turn % 3]
    with engine.connect() as connection:
        connection.execute(text("CHECKPOINT"))
    measured = {name: run_child(name, commands[name], env, folder) for name in order}
    return [measured[name] for name in names]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hazards", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds, each on a fresh database; medians shown"
    )
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument(
        "--regions",
        choices=("bundled", "entities"),
        default="bundled",
        help="all three shipped admin levels (default), or the level-1 entities alone",
    )
    args = parser.parse_args()

    engine, url, regions, server = fresh_database(args.regions)
    folder = Path(tempfile.mkdtemp(prefix="landrelease-import-bench-"))
    try:
        start = time.perf_counter()
        path, hazards = make_file(args.hazards, args.seed, folder)
        print(
            f"{args.hazards:,} hazards in {path.name} ({path.stat().st_size / 1e6:.0f} MB), "
            f"made in {time.perf_counter() - start:.1f} s; {regions} regions; "
            f"load {os.getloadavg()[0]:.2f}; "
            f"server {server}"
        )
        rounds = []
        for turn in range(args.repeat):
            if turn:
                engine.dispose()
                engine, url, _, _ = fresh_database(args.regions)
            rounds.append(one_round(engine, url, path, folder, turn))
        with engine.connect() as connection:
            stored = connection.execute(text("SELECT count(*) FROM hazards")).scalar_one()
        print(f"\nhazards stored by landrelease: {stored:,}")
        print(f"{'':<12} {'seconds':>9} {'peak MB':>9}  stages (s from start)")
        for number, measures in enumerate(rounds, start=1):
            if args.repeat > 1:
                print(f"round {number}")
            for measure in measures:
                stages = ", ".join(f"{k} {v:.1f}" for k, v in measure.stages.items())
                print(
                    f"{measure.name:<12} {measure.seconds:>9.1f} {measure.peak_mb:>9.0f}  {stages}"
                )
        to_ogr = statistics.median(ours.seconds / ogr.seconds for ours, ogr, _ in rounds)
        to_gpd = statistics.median(ours.seconds / gpd_.seconds for ours, _, gpd_ in rounds)
        peak = max(ours.peak_mb for ours, _, _ in rounds)
        what = f"median of {args.repeat} rounds' ratios" if args.repeat > 1 else "one round"
        measuring = statistics.median(
            ours.stage_seconds("measure") / ours.seconds for ours, _, _ in rounds
        )
        print(
            f"\n{what}:\n"
            f"landrelease / ogr2ogr   = {to_ogr:.2f}  (target <= 2)\n"
            f"landrelease / geopandas = {to_gpd:.2f}  (target < 1)\n"
            f"landrelease peak memory = {peak:,.0f} MB (target < 2,048)\n"
            f"of landrelease's time, {measuring:.0%} is the stage 'measure': its changes "
            "measured into the per-region tables reports read, which the peers do not write"
        )
        monthly = make_monthly_file(hazards, args.seed, folder)
        ogr_monthly = run_child(
            "ogr2ogr",
            ogr2ogr_command(url, monthly, "bench_ogr2ogr_monthly"),
            child_env(url),
            folder,
        )
        seconds, done = apply_monthly(engine, monthly)
        print(
            f"\nmonthly file ({done}) on {stored:,} hazards: applied in {seconds:.2f} s "
            f"(target < 1 s); ogr2ogr loads it in {ogr_monthly.seconds:.2f} s "
            f"(ratio {seconds / ogr_monthly.seconds:.1f}, ogr2ogr's process start included)"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        engine.dispose()
        if not args.keep_database:
            drop_database(load_settings(), DATABASE)


if __name__ == "__main__":
    main()
