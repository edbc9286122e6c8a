"""The annual table on 100,000 hazards and 300,000 ledger events, against on-the-fly areas.

Target: the full annual table of one year at admin level 1 in **< 0.5 s** (the ``ledger``
check: flows from ``event_regions``, stocks from ``stock_spans``, overlaps, items). The same
table is then computed the obvious way, measuring every piece's geodesic area within every
region at report time (``ST_Area(piece::geography)``, intersections for pieces across a
boundary), and the ratio is printed. Both must give the same figures.

Data (seeded by construction, generated in SQL with ``generate_series``; it does not go through
the transitions, which is what makes 300,000 events quick to build):

- the bundled BiH regions (levels 1-3); a grid of 640 m x 667 m cells over the country, one
  rectangular hazard of 30-500 m a side in each of the first ``--hazards`` cells (in a hashed
  order, so they spread over the country); 1 % are stretched east into the next cell, so some
  hazards overlap; cells on the country's edge give hazards partly outside every region;
- events: ``recorded`` (65 % SHA, 35 % CHA), a whole confirmation (-SHA, +CHA) of 31 % of the
  SHA, then up to two releases per hazard (cancelled / reduced / cleared) on disjoint strips,
  10 % of second releases taking all that is left; about 3 events per hazard, dated 2015-2025;
- a clearance activity with items for every first clearance.

It works in a throw-away database ``landrelease_annual_bench`` (dropped at the end unless
``--keep-database``; ``--reuse`` skips generation when that database already holds the data).
The script prints figures and asserts nothing about time.

    .venv/bin/python benchmarks/annual_table_benchmark.py
    .venv/bin/python benchmarks/annual_table_benchmark.py --hazards 20000 --year 2022 --repeat 7
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time
from collections.abc import Callable

from sqlalchemy import Connection, Engine, text

from landrelease.config import load_settings
from landrelease.db.engine import connect, drop_database, recreate_database
from landrelease.indicators.annual import (
    CLASSES,
    COUNT_MIN_M2,
    FLOW_OF_EVENT,
    AnnualTable,
    annual_table,
    items_destroyed,
    overlaps,
    year_bounds,
)
from landrelease.models import CheckMethod
from landrelease.regions import load_bundled_regions

DATABASE = "landrelease_annual_bench"

_GENERATE = [
    "SET work_mem = '256MB'",
    """
    CREATE TEMP TABLE bench_cells AS
    WITH country AS (SELECT ST_Union(geom) AS g FROM regions WHERE admin_level = 1),
    grid AS (
        SELECT i, j, 15.72 + i * 0.008 AS x0, 42.55 + j * 0.006 AS y0
        FROM generate_series(0, 490) i, generate_series(0, 455) j
    )
    SELECT row_number() OVER (ORDER BY hashint4(i * 1000 + j)) AS n, x0, y0
    FROM grid, country
    WHERE ST_Intersects(country.g, ST_SetSRID(ST_MakePoint(x0 + 0.004, y0 + 0.003), 4326))
    """,
    """
    CREATE TEMP TABLE bench_plan AS
    WITH u AS (
        SELECT n, x0, y0,
               exp(ln(30) + (ln(500) - ln(30)) * (hashint4(n::int * 7) / 4294967296.0 + 0.5))
                   AS side,
               hashint4(n::int * 13) / 4294967296.0 + 0.5 AS u1,
               hashint4(n::int * 17) / 4294967296.0 + 0.5 AS u2,
               hashint4(n::int * 19) / 4294967296.0 + 0.5 AS u3,
               hashint4(n::int * 23) / 4294967296.0 + 0.5 AS u4,
               hashint4(n::int * 29) / 4294967296.0 + 0.5 AS u5
        FROM bench_cells WHERE n <= :n
    ),
    boxed AS (
        SELECT *, x0 + u1 * (0.008 - side / 80000) AS bx, y0 + u2 * (0.006 - side / 111000) AS by
        FROM u
    )
    SELECT n,
           ST_Multi(ST_MakeEnvelope(bx, by,
                    bx + side / 80000 + CASE WHEN n % 100 = 0 THEN 0.006 ELSE 0 END,
                    by + side / 111000, 4326)) AS geom,
           CASE WHEN u3 < 0.65 THEN 'SHA' ELSE 'CHA' END AS cls0,
           (u3 < 0.65 AND u5 < 0.31) AS confirm,
           DATE '2015-01-01' + (u4 * 1460)::int AS rec_date,
           DATE '2019-01-01' + (u5 * 150)::int AS conf_date,
           (hashint4(n::int * 31) / 4294967296.0 + 0.5) < 0.8 AS rel1,
           (hashint4(n::int * 37) / 4294967296.0 + 0.5) < 0.8 AS rel2,
           (hashint4(n::int * 41) / 4294967296.0 + 0.5) < 0.1 AS rel2_all,
           0.2 + 0.3 * (hashint4(n::int * 43) / 4294967296.0 + 0.5) AS f1,
           0.2 + 0.25 * (hashint4(n::int * 47) / 4294967296.0 + 0.5) AS f2,
           DATE '2019-06-01' + ((hashint4(n::int * 53) / 4294967296.0 + 0.5) * 2400)::int AS d1,
           DATE '2019-06-01' + ((hashint4(n::int * 59) / 4294967296.0 + 0.5) * 2400)::int AS d2,
           (ARRAY['cancelled', 'reduced', 'cleared', 'cleared'])[1 + (hashint4(n::int * 61) & 3)]
               AS k1,
           (ARRAY['cancelled', 'reduced', 'cleared', 'cleared'])[1 + (hashint4(n::int * 67) & 3)]
               AS k2
    FROM boxed
    """,
    """
    ALTER TABLE bench_plan ADD COLUMN p1 geometry, ADD COLUMN p2 geometry,
                           ADD COLUMN rest geometry
    """,
    """
    UPDATE bench_plan SET
      p1 = CASE WHEN rel1 THEN ST_Multi(ST_MakeEnvelope(
               ST_XMin(geom), ST_YMin(geom),
               ST_XMin(geom) + f1 * (ST_XMax(geom) - ST_XMin(geom)), ST_YMax(geom), 4326)) END,
      p2 = CASE WHEN rel2 AND rel2_all AND rel1 THEN ST_Multi(ST_MakeEnvelope(
                    ST_XMin(geom) + f1 * (ST_XMax(geom) - ST_XMin(geom)), ST_YMin(geom),
                    ST_XMax(geom), ST_YMax(geom), 4326))
                WHEN rel2 THEN ST_Multi(ST_MakeEnvelope(
                    ST_XMax(geom) - f2 * (ST_XMax(geom) - ST_XMin(geom)), ST_YMin(geom),
                    ST_XMax(geom), ST_YMax(geom), 4326)) END
    """,
    """
    UPDATE bench_plan SET rest = CASE WHEN p1 IS NULL AND p2 IS NULL THEN geom
        ELSE ST_Multi(ST_CollectionExtract(ST_Difference(geom, ST_Collect(p1, p2)), 3)) END
    """,
    """
    INSERT INTO hazards (id, national_id, hazard_class, contamination, status, geom, area_m2,
                         recorded_date)
    SELECT n, 'BM-' || n, CASE WHEN confirm THEN 'CHA' ELSE cls0 END, 'ERW',
           CASE WHEN ST_IsEmpty(rest) THEN 'released' ELSE 'active' END,
           CASE WHEN ST_IsEmpty(rest) THEN NULL ELSE rest END, lr_area_m2(rest), rec_date
    FROM bench_plan
    """,
    """
    INSERT INTO activities (id, kind, reference, end_date)
    SELECT n, 'CLEARANCE', 'BM-CL-' || n, d1 FROM bench_plan WHERE rel1 AND k1 = 'cleared'
    """,
    """
    INSERT INTO activity_items (activity_id, item_type, found, destroyed)
    SELECT n, 'SUBMUNITION', hashint4(n::int) & 7, hashint4(n::int) & 7
    FROM bench_plan WHERE rel1 AND k1 = 'cleared' AND hashint4(n::int * 3) > 0
    """,
    # Within a date a hazard's removals come first (as the transitions write them), so the
    # date-ordered replay of a whole confirmation takes the SHA out before the CHA comes in.
    """
    INSERT INTO ledger_events (hazard_id, activity_id, kind, sign, hazard_class, piece,
                               area_m2, effective_date)
    SELECT hazard_id, activity_id, kind, sign, cls, piece, lr_area_m2(piece), d FROM (
        SELECT n AS hazard_id, NULL::bigint AS activity_id, 'recorded' AS kind, 1 AS sign,
               cls0 AS cls, geom AS piece, rec_date AS d FROM bench_plan
        UNION ALL SELECT n, NULL, 'confirmed', -1, 'SHA', geom, conf_date
                  FROM bench_plan WHERE confirm
        UNION ALL SELECT n, NULL, 'confirmed', 1, 'CHA', geom, conf_date
                  FROM bench_plan WHERE confirm
        UNION ALL SELECT n, CASE WHEN k1 = 'cleared' THEN n END, k1, -1,
                         CASE WHEN confirm THEN 'CHA' ELSE cls0 END, p1, d1
                  FROM bench_plan WHERE p1 IS NOT NULL
        UNION ALL SELECT n, NULL, k2, -1, CASE WHEN confirm THEN 'CHA' ELSE cls0 END, p2, d2
                  FROM bench_plan WHERE p2 IS NOT NULL
    ) ev ORDER BY d, hazard_id, sign
    """,
    "SELECT setval(pg_get_serial_sequence('hazards', 'id'), (SELECT max(id) FROM hazards))",
    "SELECT setval(pg_get_serial_sequence('activities', 'id'), (SELECT max(id) FROM activities))",
    "RESET work_mem",
]


def generate(engine: Engine, hazards: int) -> None:
    """Regions, hazards, activities and events, in one transaction; prints the timings."""
    with engine.begin() as connection:
        started = time.perf_counter()
        load_bundled_regions(connection)
        print(
            f"  regions loaded (cut into parts by trigger): {time.perf_counter() - started:.1f} s"
        )
        for statement in _GENERATE:
            started = time.perf_counter()
            connection.execute(text(statement), {"n": hazards})
            if statement.lstrip().startswith("INSERT INTO ledger_events"):
                print(
                    "  ledger events inserted (event_regions, overlaps and stock spans written"
                    f" by trigger): {time.perf_counter() - started:.1f} s"
                )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))


def counts(connection: Connection) -> dict[str, int]:
    return {
        table: int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608 - constant names
        for table in ("hazards", "ledger_events", "event_regions", "stock_spans", "event_overlaps")
    }


# The same table computed the obvious way: every piece measured within every region of the
# level at report time, ST_Area(geography) (pieces across a boundary intersected with the
# region's small parts, as landrelease does when it stores them), hazards grouped to count.
_NAIVE_REGIONAL = text(
    """
    WITH pieces AS MATERIALIZED (
        SELECT r.id AS region_id, x.*
        FROM (SELECT id, geom, ST_Envelope(geom) AS env FROM regions
              WHERE admin_level = :level OFFSET 0) r
        CROSS JOIN LATERAL (
            SELECT e.hazard_id, e.hazard_class, e.kind, e.sign, e.effective_date,
                   CASE WHEN ST_Covers(r.geom, e.piece) THEN ST_Area(e.piece::geography, true)
                        WHEN ST_Intersects(r.geom, e.piece)
                        THEN lr_area_in_parts_m2(e.piece, r.id) ELSE 0 END AS area
            FROM ledger_events e WHERE e.piece && r.env AND e.effective_date <= :end
            OFFSET 0
        ) x
        WHERE x.area > 0
    ),
    per_hazard AS (
        SELECT region_id, hazard_id, hazard_class,
               COALESCE(sum(sign * area) FILTER (WHERE effective_date < :start), 0) AS opening,
               sum(sign * area) AS closing
        FROM pieces GROUP BY 1, 2, 3
    )
    SELECT 'flow' AS what, region_id, hazard_class, kind, sign, sum(area) AS area, 0 AS n
    FROM pieces WHERE effective_date >= :start GROUP BY 2, 3, 4, 5
    UNION ALL
    SELECT 'opening', region_id, hazard_class, NULL, NULL, sum(opening),
           count(*) FILTER (WHERE opening >= :min_m2)
    FROM per_hazard GROUP BY 2, 3
    UNION ALL
    SELECT 'closing', region_id, hazard_class, NULL, NULL, sum(closing),
           count(*) FILTER (WHERE closing >= :min_m2)
    FROM per_hazard GROUP BY 2, 3
    """
)
_NAIVE_NATIONAL = text(
    """
    WITH pieces AS MATERIALIZED (
        SELECT hazard_id, hazard_class, kind, sign, effective_date,
               ST_Area(piece::geography, true) AS area
        FROM ledger_events WHERE effective_date <= :end
    ),
    per_hazard AS (
        SELECT hazard_id, hazard_class,
               COALESCE(sum(sign * area) FILTER (WHERE effective_date < :start), 0) AS opening,
               sum(sign * area) AS closing
        FROM pieces GROUP BY 1, 2
    )
    SELECT 'flow' AS what, NULL AS region_id, hazard_class, kind, sign, sum(area) AS area,
           0 AS n
    FROM pieces WHERE effective_date >= :start GROUP BY 3, 4, 5
    UNION ALL
    SELECT 'opening', NULL, hazard_class, NULL, NULL, sum(opening),
           count(*) FILTER (WHERE opening >= :min_m2)
    FROM per_hazard GROUP BY 3
    UNION ALL
    SELECT 'closing', NULL, hazard_class, NULL, NULL, sum(closing),
           count(*) FILTER (WHERE closing >= :min_m2)
    FROM per_hazard GROUP BY 3
    """
)

Figures = dict[tuple[object, ...], float]


def naive_table(connection: Connection, year: int, level: int) -> Figures:
    """Flows, stocks and counts per (region, class), with areas measured now; plus the rest."""
    start, end = year_bounds(year)
    params = {"level": level, "start": start, "end": end, "min_m2": COUNT_MIN_M2}
    figures: Figures = {}
    for query in (_NAIVE_REGIONAL, _NAIVE_NATIONAL):
        for row in connection.execute(query, params):
            if row.what == "flow":
                name = FLOW_OF_EVENT[(row.kind, row.sign)]
                value = row.area * row.sign if row.kind == "corrected" else row.area
                key = (row.region_id, row.hazard_class, name)
                figures[key] = figures.get(key, 0.0) + value
            else:
                figures[(row.region_id, row.hazard_class, f"{row.what}_m2")] = row.area
                figures[(row.region_id, row.hazard_class, f"{row.what}_count")] = row.n
    # Overlaps and items do not measure areas; they are the same work in both versions.
    overlaps(connection, level, end)
    items_destroyed(connection, level, year)
    return figures


def stored_figures(table: AnnualTable) -> Figures:
    figures: Figures = {}
    for row in table.rows:
        if row.hazard_class not in CLASSES or row.region.code == "OUTSIDE":
            continue
        for name in {*FLOW_OF_EVENT.values(), "opening_m2", "closing_m2"}:
            figures[(row.region.id, row.hazard_class, name)] = getattr(row, name)
        figures[(row.region.id, row.hazard_class, "opening_count")] = row.opening_count
        figures[(row.region.id, row.hazard_class, "closing_count")] = row.closing_count
    return figures


def timed(repeat: int, run: Callable[[], object]) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hazards", type=int, default=100_000)
    parser.add_argument("--year", type=int, default=2023)
    parser.add_argument("--level", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="reuse a database kept before")
    parser.add_argument(
        "--geometry", action="store_true", help="also time the geometry check (slow at 100k)"
    )
    args = parser.parse_args()

    settings = load_settings()
    engine = None
    try:
        if not args.reuse:
            recreate_database(settings, DATABASE)
        engine = connect(settings, database=DATABASE)
        with engine.connect() as connection:
            have = counts(connection)
        if have["hazards"] == 0:
            print(f"generating {args.hazards:,} hazards in {DATABASE} ...")
            started = time.perf_counter()
            generate(engine, args.hazards)
            print(f"  generated in {time.perf_counter() - started:.1f} s")
        with engine.connect() as connection:
            have = counts(connection)
            settings_line = ", ".join(
                f"{name}={connection.execute(text(f'SHOW {name}')).scalar()}"
                for name in ("jit", "work_mem", "max_parallel_workers_per_gather")
            )
        print(", ".join(f"{k}: {v:,}" for k, v in have.items()))
        print(f"server: {settings_line}; load average {os.getloadavg()[0]:.2f}")

        with engine.connect() as connection:
            table = annual_table(connection, args.year, level=args.level, check="ledger")
            times = timed(
                args.repeat,
                lambda: annual_table(connection, args.year, level=args.level, check="ledger"),
            )
            started = time.perf_counter()
            naive = naive_table(connection, args.year, args.level)
            naive_s = time.perf_counter() - started
            stored = stored_figures(table)
            worst = max(abs(stored.get(k, 0.0) - v) / max(abs(v), 1.0) for k, v in naive.items())
            unbalanced = len(table.unbalanced)
            geometry_s = None
            if args.geometry:
                started = time.perf_counter()
                checked = annual_table(
                    connection, args.year, level=args.level, check=CheckMethod.GEOMETRY
                )
                geometry_s = time.perf_counter() - started
                unbalanced_geometry = len(checked.unbalanced)

        best, median = min(times), statistics.median(times)
        total = table.national()
        print(
            f"annual table {args.year}, admin level {args.level}: {len(table.rows)} rows, "
            f"closing {total.closing_count:,} hazards, {total.closing_m2 / 1e6:,.3f} km² "
            f"(overlap {total.overlap_m2:,.0f} m²), {len(table.overlaps)} overlapping pairs, "
            f"{unbalanced} unbalanced rows"
        )
        print(
            f"  landrelease (stored areas, ledger check): best {best:.3f} s, median "
            f"{median:.3f} s over {args.repeat} runs  (target < 0.5 s)"
        )
        print(f"  on-the-fly ST_Area(geography), same table: {naive_s:.3f} s")
        print(f"  ratio on-the-fly / stored: {naive_s / median:.1f}x (median)")
        print(f"  largest difference between the two: {worst:.2e} (relative)")
        if geometry_s is not None:
            print(
                f"  geometry check (snapshot intersected with regions): {geometry_s:.3f} s, "
                f"{unbalanced_geometry} unbalanced rows"
            )
        if args.year < dt.date.today().year and unbalanced:
            print("  WARNING: rows that do not balance")
    finally:
        if engine is not None:
            engine.dispose()
        if not args.keep_database:
            drop_database(settings, DATABASE)


if __name__ == "__main__":
    main()
