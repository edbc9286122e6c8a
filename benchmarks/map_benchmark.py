"""Benchmark: a national contamination map of N hazards, against a plain folium.GeoJson map.

What it measures, on a throw-away database ``landrelease_mapbench`` (never the main one):

* data: N seeded hazards (star-shaped, 20-40 vertices, 0.1-50 ha, lon 16-19.5 / lat 43-45,
  recorded 2015-2018) recorded through the ledger, then field years 2019-2025 of releases
  through ``release_many``: about 80 % of hazards get a partial release, 30 % a second one,
  10 % are cancelled whole, so the map shows some 1.1 N released pieces besides the
  remaining hazards; the bundled BiH boundaries give the choropleth;
* landrelease: ``build_map`` + save (build time), the HTML size (Leaflet and every asset are
  inlined: there are no other files), and in headless Chromium (Debian's /usr/bin/chromium,
  every non-file request blocked and counted): first contentful paint, the time until the
  data are decoded and drawn (``landrelease-ready``), the load event, and at working zoom the
  densest view's number of drawn polygons and the time to draw them;
* plain folium: the same remaining hazards and released pieces as two ``folium.GeoJson``
  layers with ``GeoJsonPopup`` (what a folium user writes), Leaflet inlined the same way so it
  can load offline at all: build time, HTML size, first contentful paint and load event.

Figures only, no assertion. Targets (issue 5): HTML + assets ≤ 20 MB and first paint ≤ 3 s at
100,000 hazards.

Usage::

    .venv/bin/python benchmarks/map_benchmark.py [--hazards 100000] [--seed 7] [--reuse]
        [--out-dir maps] [--skip-plain] [--keep-database]

The two pages are written to ``maps/benchmark-*.html`` (git-ignored, like every map).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import folium
import geopandas as gpd
import numpy as np
from shapely.geometry import Polygon
from sqlalchemy import Engine, text

from landrelease.config import load_settings
from landrelease.db.engine import connect, drop_database, recreate_database
from landrelease.maps import MapOptions, build_map
from landrelease.maps.assets import leaflet_css, leaflet_js
from landrelease.maps.build import RawHtml
from landrelease.maps.data import MapData
from landrelease.regions import load_bundled_regions
from landrelease.release import HazardInput, ReleaseRequest, transaction
from landrelease.vocabulary import ActivityKind, Contamination, EventKind, HazardClass

T = TypeVar("T")

DATABASE = "landrelease_mapbench"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LON_RANGE = (16.0, 19.5)
LAT_RANGE = (43.0, 45.0)
AREA_RANGE_M2 = (1_000.0, 500_000.0)
VERTEX_RANGE = (20, 40)
RECORDED_YEARS = (2015, 2018)
FIELD_YEARS = (2019, 2025)
TODAY = dt.date(2025, 12, 31)
ORGANISATIONS = ("Javor Demining (bench)", "Kestrel Survey (bench)", "Lipa Field Services (bench)")
METHOD_ACTIVITY = {
    EventKind.CANCELLED: ActivityKind.NTS,
    EventKind.REDUCED: ActivityKind.TS,
    EventKind.CLEARED: ActivityKind.CLEARANCE,
}
BATCH = 5_000


def timed(action: Callable[[], T]) -> tuple[T, float]:
    """The result of ``action()`` and the wall-clock seconds it took."""
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


# -- data ------------------------------------------------------------------------------------


def _to_lonlat(xy: np.ndarray, lon0: float, lat0: float) -> np.ndarray:
    """Local metres around (lon0, lat0) to degrees (series for the WGS84 ellipsoid)."""
    phi = math.radians(lat0)
    per_lat = 111_132.92 - 559.82 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi)
    per_lon = 111_412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi)
    return np.column_stack([lon0 + xy[:, 0] / per_lon, lat0 + xy[:, 1] / per_lat])


def _star(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """A simple star-shaped ring in metres (radii 0.6-1.0 of its scale) and the scale."""
    n = int(rng.integers(VERTEX_RANGE[0], VERTEX_RANGE[1] + 1))
    step = 2 * math.pi / n
    angles = np.arange(n) * step + rng.uniform(0, 0.8 * step, n)
    radii = rng.uniform(0.6, 1.0, n)
    turn = np.diff(angles, append=angles[0] + 2 * math.pi)
    unit_area = 0.5 * float(np.sum(radii * np.roll(radii, -1) * np.sin(turn)))
    scale = math.sqrt(math.exp(rng.uniform(*np.log(AREA_RANGE_M2))) / unit_area)
    return np.column_stack([np.cos(angles), np.sin(angles)]) * (radii * scale)[:, None], scale


def _part(rng: np.random.Generator, scale: float, direction: float) -> np.ndarray:
    """A disc or rotated box 0.7 of the scale off centre towards ``direction``: always a
    partial release, and two in opposite directions never overlap."""
    centre = 0.7 * scale * np.array([math.cos(direction), math.sin(direction)])
    if rng.random() < 0.5:
        t = np.linspace(0, 2 * math.pi, 33)[:-1]
        return centre + rng.uniform(0.4, 0.6) * scale * np.column_stack([np.cos(t), np.sin(t)])
    half_w, half_h = rng.uniform(0.35, 0.6, 2) * scale
    corners = np.array([[-half_w, -half_h], [half_w, -half_h], [half_w, half_h], [-half_w, half_h]])
    rot = rng.uniform(0, math.pi)
    matrix = np.array([[math.cos(rot), -math.sin(rot)], [math.sin(rot), math.cos(rot)]])
    return centre + corners @ matrix.T


def _date(rng: np.random.Generator, years: tuple[int, int]) -> dt.date:
    start, end = dt.date(years[0], 1, 1), dt.date(years[1], 12, 31)
    return start + dt.timedelta(days=int(rng.integers(0, (end - start).days + 1)))


def populate(engine: Engine, hazards: int, seed: int) -> None:
    """Record the hazards and apply the field years' releases through the ledger."""
    rng = np.random.default_rng(seed)
    with engine.begin() as connection:
        load_bundled_regions(connection)
    inputs: list[HazardInput] = []
    plans: list[tuple[str, float, float, float, str]] = []
    contaminations = list(Contamination)
    for i in range(hazards):
        lon0, lat0 = float(rng.uniform(*LON_RANGE)), float(rng.uniform(*LAT_RANGE))
        ring, scale = _star(rng)
        national_id = f"BA-{i + 1:06d}"
        cls = HazardClass.SHA if rng.random() < 0.65 else HazardClass.CHA
        inputs.append(
            HazardInput(
                national_id=national_id,
                hazard_class=cls,
                geometry=Polygon(_to_lonlat(ring, lon0, lat0)),
                crs=4326,
                recorded_date=_date(rng, RECORDED_YEARS),
                contamination=contaminations[int(rng.integers(len(contaminations)))],
                organisation=ORGANISATIONS[i % len(ORGANISATIONS)],
                name=f"Site {i + 1}",
            )
        )
        plans.append((national_id, lon0, lat0, scale, cls.value))
    _, seconds = timed(lambda: _record(engine, inputs))
    print(f"recorded {hazards:,} hazards in {seconds:.1f} s")

    requests: list[ReleaseRequest] = []
    for national_id, lon0, lat0, scale, cls in plans:
        draws = rng.random(3)
        methods = (
            (EventKind.CANCELLED, EventKind.REDUCED)
            if cls == "SHA"
            else (EventKind.REDUCED, EventKind.CLEARED)
        )
        dates = sorted(_date(rng, FIELD_YEARS) for _ in range(2))
        if draws[0] < 0.10 and cls == "SHA":
            square = np.array([[-3, -3], [3, -3], [3, 3], [-3, 3]]) * scale
            whole = Polygon(_to_lonlat(square, lon0, lat0))
            requests.append(ReleaseRequest(national_id, EventKind.CANCELLED, whole, 4326, dates[0]))
            continue
        direction = rng.uniform(0, 2 * math.pi)
        if draws[1] < 0.8:
            part = Polygon(_to_lonlat(_part(rng, scale, direction), lon0, lat0))
            method = methods[int(rng.integers(2))]
            requests.append(ReleaseRequest(national_id, method, part, 4326, dates[0]))
        if draws[2] < 0.3:
            part = Polygon(_to_lonlat(_part(rng, scale, direction + math.pi), lon0, lat0))
            method = methods[int(rng.integers(2))]
            requests.append(ReleaseRequest(national_id, method, part, 4326, dates[1]))
    _, seconds = timed(lambda: _release(engine, requests, rng))
    print(f"applied {len(requests):,} releases in {seconds:.1f} s")


def _record(engine: Engine, inputs: list[HazardInput]) -> None:
    with transaction(engine, today=TODAY) as ledger:
        for first in range(0, len(inputs), BATCH):
            ledger.record_many(inputs[first : first + BATCH])


def _release(engine: Engine, requests: list[ReleaseRequest], rng: np.random.Generator) -> None:
    with transaction(engine, today=TODAY) as ledger:
        activities: dict[tuple[EventKind, int, str], int] = {}
        staged: list[ReleaseRequest] = []
        for request in requests:
            org = ORGANISATIONS[int(rng.integers(len(ORGANISATIONS)))]
            key = (request.method, request.effective_date.year, org)
            if key not in activities:
                activities[key] = ledger.add_activity(
                    METHOD_ACTIVITY[request.method],
                    reference=f"{METHOD_ACTIVITY[request.method].value}-{key[1]}-{len(activities):03d}",
                    organisation=org,
                )
            staged.append(
                ReleaseRequest(
                    request.national_id,
                    request.method,
                    request.geometry,
                    request.crs,
                    request.effective_date,
                    activity_id=activities[key],
                )
            )
        for first in range(0, len(staged), BATCH):
            ledger.release_many(staged[first : first + BATCH])


def ready_database(hazards: int, seed: int, reuse: bool) -> Engine:
    """The benchmark database, populated (or reused when it already holds N hazards)."""
    settings = load_settings()
    if reuse:
        engine = connect(settings, database=DATABASE)
        with engine.connect() as connection:
            held = connection.execute(text("SELECT count(*) FROM hazards")).scalar()
        if held == hazards:
            print(f"reusing {DATABASE}: {held:,} hazards")
            return engine
        engine.dispose()
    recreate_database(settings, DATABASE)
    engine = connect(settings, database=DATABASE)
    populate(engine, hazards, seed)
    return engine


# -- the plain folium peer ---------------------------------------------------------------------


def plain_folium_map(data: MapData) -> folium.Map:
    """What a folium user writes: GeoJson layers of full geometry with GeoJsonPopup.

    Leaflet is inlined like ours, so the page can load offline at all (with folium's CDN
    links it would be blank); dates are strings (folium cannot serialise them).
    """
    hazards = gpd.GeoDataFrame(
        {
            "hazard": [h.national_id for h in data.hazards if h.geom is not None],
            "class": [h.hazard_class for h in data.hazards if h.geom is not None],
            "area_m2": [round(h.area_m2, 1) for h in data.hazards if h.geom is not None],
            "organisation": [h.organisation or "" for h in data.hazards if h.geom is not None],
            "last": [f"{h.last_kind} {h.last_date}" for h in data.hazards if h.geom is not None],
        },
        geometry=[h.geom for h in data.hazards if h.geom is not None],
        crs=4326,
    )
    pieces = gpd.GeoDataFrame(
        {
            "method": [p.method for p in data.pieces],
            "date": [p.effective_date.isoformat() for p in data.pieces],
            "area_m2": [round(p.area_m2, 1) for p in data.pieces],
        },
        geometry=[p.geom for p in data.pieces],
        crs=4326,
    )
    fmap = folium.Map(location=[44.0, 17.8], zoom_start=8, tiles=None, prefer_canvas=True)
    fmap.default_js = []
    fmap.default_css = []
    fmap.get_root().header.add_child(
        RawHtml(f"<style>{leaflet_css()}</style><script>{leaflet_js()}</script>"), name="leaflet"
    )
    folium.GeoJson(
        pieces, name="released", popup=folium.GeoJsonPopup(["method", "date", "area_m2"])
    ).add_to(fmap)
    folium.GeoJson(
        hazards,
        name="hazards",
        popup=folium.GeoJsonPopup(["hazard", "class", "area_m2", "organisation", "last"]),
    ).add_to(fmap)
    return fmap


# -- the browser ---------------------------------------------------------------------------------


def measure_page(path: Path, *, ours: bool, timeout_s: float = 180.0) -> dict[str, object]:
    """Open the page in headless Chromium with every non-file request blocked."""
    from playwright.sync_api import sync_playwright

    figures: dict[str, object] = {}
    blocked: list[str] = []

    def route(request_route) -> None:  # type: ignore[no-untyped-def]
        if request_route.request.url.startswith("file://"):
            request_route.continue_()
        else:
            blocked.append(request_route.request.url)
            request_route.abort()

    with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 800},
        )
        context.route("**/*", route)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        started = time.perf_counter()
        try:
            page.goto(path.resolve().as_uri(), timeout=timeout_s * 1000, wait_until="load")
            if ours:
                page.wait_for_function(
                    "window.LandRelease && (LandRelease.ready || LandRelease.error)",
                    timeout=timeout_s * 1000,
                )
        except Exception as exc:  # a timeout or a crash is a result here, not a failure
            figures["failed"] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
            context.close()
            return figures
        figures["wall_s"] = time.perf_counter() - started
        paint = page.evaluate(
            "Object.fromEntries(performance.getEntriesByType('paint')"
            ".map(e => [e.name, e.startTime]))"
        )
        figures["first_contentful_paint_s"] = (
            paint.get("first-contentful-paint", float("nan")) / 1000
        )
        figures["load_event_s"] = (
            page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd") / 1000
        )
        if ours:
            figures["ready_s"] = (
                page.evaluate("performance.getEntriesByName('landrelease-ready')[0].startTime")
                / 1000
            )
            figures.update(_working_zoom(page))
        figures["blocked_requests"] = len(blocked)
        figures["errors"] = errors
        context.close()
    return figures


def _working_zoom(page) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Draw the densest view at working zoom and time it."""
    result = page.evaluate(
        """() => {
            const c = LandRelease.current, g = c.hg, cell = 0.25, counts = new Map();
            let best = null, most = 0;
            for (let i = 0; i < g.count; i++) {
                const key = Math.floor(g.bbox[4*i] / cell) + ':' + Math.floor(g.bbox[4*i+1] / cell);
                const n = (counts.get(key) || 0) + 1;
                counts.set(key, n);
                if (n > most) { most = n; best = i; }
            }
            const at = [g.bbox[4*best+1], g.bbox[4*best]];
            const t0 = performance.now();
            c.map.setView(at, c.detailZoom, {animate: false});
            const s = c.stats();
            return {features: s.hazards + s.pieces, ms: performance.now() - t0, zoom: s.zoom};
        }"""
    )
    return {
        "working_zoom": result["zoom"],
        "densest_view_features": result["features"],
        "densest_view_draw_ms": result["ms"],
    }


# -- report ------------------------------------------------------------------------------------


def _row(label: str, figures: dict[str, object], size: int, build_s: float) -> str:
    if "failed" in figures:
        return f"{label:<14} {size / 1e6:>10.1f} {build_s:>9.1f}   browser: {figures['failed']}"

    def sec(key: str) -> str:
        value = figures.get(key)
        return f"{value:>9.2f}" if isinstance(value, float) else f"{'-':>9}"

    return (
        f"{label:<14} {size / 1e6:>10.1f} {build_s:>9.1f} {sec('first_contentful_paint_s')}"
        f" {sec('ready_s')} {sec('load_event_s')} {figures.get('blocked_requests', '-'):>8}"
        f" {len(figures.get('errors', [])):>7}"  # type: ignore[arg-type]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hazards", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reuse", action="store_true", help="Reuse the database if it holds N")
    parser.add_argument("--out-dir", type=Path, default=Path("maps"))
    parser.add_argument("--skip-plain", action="store_true", help="Skip the folium peer")
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args()

    engine = ready_database(args.hazards, args.seed, args.reuse)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    try:
        built, build_s = timed(lambda: build_map(engine, MapOptions(as_of=TODAY)))
        ours_path, save_s = timed(lambda: built.save(args.out_dir / "benchmark-landrelease.html"))
        build_s += save_s
        ours_size = ours_path.stat().st_size  # every asset is inlined: there is no other file
        print(
            f"landrelease map: {built.hazards_drawn:,} remaining hazards + {built.pieces:,} "
            f"released pieces = {built.hazards_drawn + built.pieces:,} polygons, "
            f"{built.vertices:,} vertices after simplification; "
            f"data {built.payload_bytes / 1e6:.1f} MB; assets inlined (no other files)"
        )
        ours = measure_page(ours_path, ours=True)
        print(f"landrelease in the browser: {ours}")
        rows = [_row("landrelease", ours, ours_size, build_s)]
        if not args.skip_plain:
            plain, plain_build_s = timed(lambda: plain_folium_map(built.data))
            plain_path = args.out_dir / "benchmark-plain-folium.html"
            _, plain_save_s = timed(lambda: plain.save(str(plain_path)))
            plain_build_s += plain_save_s
            figures = measure_page(plain_path, ours=False)
            print(f"plain folium in the browser: {figures}")
            rows.append(_row("plain folium", figures, plain_path.stat().st_size, plain_build_s))
    finally:
        engine.dispose()
        if not args.keep_database and not args.reuse:
            drop_database(load_settings(), DATABASE)

    print()
    print(f"{args.hazards:,} hazards (targets: HTML + assets <= 20 MB, first paint <= 3 s)")
    print(
        f"{'map':<14} {'size MB':>10} {'build s':>9} {'FCP s':>9} {'ready s':>9} {'load s':>9}"
        f" {'blocked':>8} {'errors':>7}"
    )
    for row in rows:
        print(row)
    if "densest_view_features" in ours:
        print(
            f"working zoom {ours['working_zoom']}: densest view draws "
            f"{ours['densest_view_features']:,} polygons in {ours['densest_view_draw_ms']:.0f} ms"
        )


if __name__ == "__main__":
    main()
