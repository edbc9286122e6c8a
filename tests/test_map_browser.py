"""Contamination maps in a real browser: Debian's Chromium, driven by Playwright, offline.

Every request the page makes is routed: ``file://`` is allowed, anything else is recorded,
aborted and fails the test; so does any JavaScript error or dialog. The numbers on screen are
checked against ``pyproj.Geod`` areas of the polygons built here and against counts taken from
the database, never against the map code's own figures. Screenshots go to ``test-artifacts/``.

Without Chromium these tests skip on a laptop, but fail under CI (``CI`` set): CI installs
Debian's ``chromium`` and must run them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from conftest import empty
from pyproj import Geod, Transformer
from shapely.geometry import MultiPolygon, Polygon, box, mapping
from sqlalchemy import Engine, text

from landrelease.maps import MapOptions, build_map, raster_overlay
from landrelease.maps.encode import encode_unsigned
from landrelease.maps.styles import CLASS_STYLES, METHOD_STYLES
from landrelease.regions import load_regions
from landrelease.release import transaction
from landrelease.vocabulary import ActivityKind, HazardClass

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
GEOD = Geod(ellps="WGS84")
AS_OF = dt.date(2025, 6, 30)
EVIL_NAME = (
    '<img src=x onerror="window.__xss=1;alert(1)">${alert(1)}{{ 7*7 }}'
    "</script><script>window.__xss=2</script>"
)
EVIL_ID = "${alert(1)}"
EVIL_ORG = "<b onmouseover=alert(1)>Org & Co</b>"
AREA = re.compile(r"([\d,]+\.\d{4}) ha \(([\d,]+\.\d) m²\)")


def _browser_or_skip() -> None:
    missing = []
    if not Path(CHROMIUM).is_file():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright (pip install playwright)")
    if missing:
        reason = "browser tests need " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run them")
        pytest.skip(reason)


def geod_area(geom: Polygon | MultiPolygon) -> float:
    area, _ = GEOD.geometry_area_perimeter(shapely.orient_polygons(geom))
    return abs(area)


def parse_area(text_: str) -> tuple[float, float]:
    match = AREA.search(text_)
    assert match, f"no area in {text_!r}"
    return float(match.group(1).replace(",", "")), float(match.group(2).replace(",", ""))


# -- the scenario -----------------------------------------------------------------------------


@dataclass(frozen=True)
class HazardSpec:
    national_id: str
    hazard_class: HazardClass
    geom: Polygon
    recorded: dt.date
    name: str | None = None
    organisation: str | None = None


@dataclass(frozen=True)
class ReleaseSpec:
    national_id: str
    method: str
    geom: Polygon
    date: dt.date
    activity: str
    organisation: str


HAZARDS = [
    HazardSpec(
        "BA-0001",
        HazardClass.SHA,
        box(18.400, 43.850, 18.404, 43.853),
        dt.date(2019, 3, 1),
        "Brdo",
        "Kestrel Survey",
    ),
    HazardSpec(
        "BA-0002", HazardClass.CHA, box(18.410, 43.850, 18.413, 43.852), dt.date(2020, 6, 1)
    ),
    HazardSpec(
        "BA-0003", HazardClass.SHA, box(18.416, 43.850, 18.418, 43.851), dt.date(2019, 5, 1)
    ),
    HazardSpec(
        EVIL_ID,
        HazardClass.SHA,
        box(18.420, 43.850, 18.422, 43.8515),
        dt.date(2024, 1, 10),
        EVIL_NAME,
        EVIL_ORG,
    ),
    HazardSpec(
        "BA-0005", HazardClass.CHA, box(18.400, 43.856, 18.403, 43.858), dt.date(2024, 2, 1)
    ),
]
RELEASES = [
    ReleaseSpec(
        "BA-0001",
        "cancelled",
        box(18.399, 43.849, 18.4015, 43.854),
        dt.date(2021, 5, 10),
        "NTS-21-01",
        "Team N",
    ),
    ReleaseSpec(
        "BA-0001",
        "reduced",
        box(18.403, 43.8495, 18.405, 43.8515),
        dt.date(2023, 4, 2),
        "TS-23-02",
        "Team T",
    ),
    ReleaseSpec(
        "BA-0002",
        "cleared",
        box(18.409, 43.849, 18.4115, 43.853),
        dt.date(2022, 8, 15),
        "CL-22-01",
        "Bistrica Clearance",
    ),
    ReleaseSpec(
        "BA-0003",
        "cancelled",
        box(18.415, 43.849, 18.419, 43.852),
        dt.date(2022, 2, 1),
        "NTS-22-01",
        "Team N",
    ),
]
ACTIVITY_KIND = {
    "cancelled": ActivityKind.NTS,
    "reduced": ActivityKind.TS,
    "cleared": ActivityKind.CLEARANCE,
}


def remaining(spec: HazardSpec) -> Polygon:
    """What is left of a hazard after its releases, computed here with shapely."""
    geom = spec.geom
    for release in RELEASES:
        if release.national_id == spec.national_id:
            geom = geom.difference(release.geom)
    return geom


def released_piece(index: int) -> Polygon:
    """The ground one release took out: the request clipped to what remained then."""
    release = RELEASES[index]
    spec = next(h for h in HAZARDS if h.national_id == release.national_id)
    geom = spec.geom
    for earlier in RELEASES[:index]:
        if earlier.national_id == release.national_id:
            geom = geom.difference(earlier.geom)
    return geom.intersection(release.geom)


@dataclass
class Scenario:
    page_path: Path
    active_hazards: int
    release_events: int
    bounds: list[list[float]]
    extra: dict[str, Path] = field(default_factory=dict)


def _regions_file(path: Path) -> Path:
    features = [
        {
            "type": "Feature",
            "properties": {"shapeID": code, "shapeName": name},
            "geometry": mapping(geom),
        }
        for code, name, geom in (
            ("R-IN", "Centar <b>bold</b>", box(18.35, 43.80, 18.45, 43.90)),
            ("R-OUT", "Ilidža", box(18.25, 43.80, 18.35, 43.90)),
        )
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


@pytest.fixture(scope="module")
def scenario(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """The scenario recorded through the ledger, and its map written once for the module."""
    empty(engine)
    folder = tmp_path_factory.mktemp("maps")
    with engine.begin() as connection:
        load_regions(connection, _regions_file(folder / "regions.geojson"), level=1)
    with transaction(engine, today=AS_OF) as ledger:
        for spec in HAZARDS:
            ledger.record(
                spec.national_id,
                spec.hazard_class,
                spec.geom,
                crs=4326,
                recorded_date=spec.recorded,
                name=spec.name,
                organisation=spec.organisation,
            )
        for release in RELEASES:
            activity = ledger.add_activity(
                ACTIVITY_KIND[release.method],
                reference=release.activity,
                organisation=release.organisation,
            )
            method = getattr(
                ledger, {"cancelled": "cancel", "reduced": "reduce"}.get(release.method, "clear")
            )
            method(
                release.national_id,
                release.geom,
                crs=4326,
                effective_date=release.date,
                activity_id=activity,
            )
    with engine.connect() as connection:
        active = connection.execute(text("SELECT count(*) FROM hazards WHERE status = 'active'"))
        events = connection.execute(
            text(
                "SELECT count(*) FROM ledger_events WHERE kind IN ('cancelled','reduced','cleared')"
            )
        )
        active_hazards, release_events = int(active.scalar_one()), int(events.scalar_one())
    built = build_map(engine, MapOptions(as_of=AS_OF, title=f"Test map {EVIL_NAME}"))
    page = built.save(folder / "contamination.html")
    all_geoms = [h.geom for h in HAZARDS] + [r.geom for r in RELEASES]
    west, south, east, north = shapely.total_bounds(np.array(all_geoms, dtype=object))
    return Scenario(page, active_hazards, release_events, [[south, west], [north, east]])


# -- the browser -------------------------------------------------------------------------------


@dataclass
class Watch:
    """What a page did: requests that left the machine, errors, dialogs."""

    requests: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Chromium with a fresh profile; every request routed (file:// only)."""
    _browser_or_skip()
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 800},
        )
        yield context
        context.close()


@pytest.fixture
def page(browser_context):  # type: ignore[no-untyped-def]
    """A new page whose requests, errors and dialogs are watched; checked after the test."""
    watch = Watch()

    def route(request_route) -> None:  # type: ignore[no-untyped-def]
        url = request_route.request.url
        watch.requests.append(url)
        if url.startswith("file://"):
            request_route.continue_()
        else:
            watch.outside.append(url)
            request_route.abort()

    browser_context.route("**/*", route)
    tab = browser_context.new_page()
    tab.on("console", lambda m: watch.errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda exc: watch.errors.append(str(exc)))
    tab.on("websocket", lambda ws: watch.outside.append(ws.url))

    def on_dialog(dialog) -> None:  # type: ignore[no-untyped-def]
        watch.dialogs.append(dialog.message)
        dialog.dismiss()

    tab.on("dialog", on_dialog)
    tab.watch = watch
    yield tab
    tab.close()
    browser_context.unroute("**/*")
    assert watch.outside == [], f"requests left the machine: {watch.outside}"
    assert watch.errors == [], f"JavaScript errors: {watch.errors}"
    assert watch.dialogs == [], f"dialogs opened (script ran): {watch.dialogs}"


def open_map(tab, path: Path) -> None:  # type: ignore[no-untyped-def]
    tab.goto(path.as_uri())
    tab.wait_for_function("window.LandRelease && (LandRelease.ready || LandRelease.error)")
    assert tab.evaluate("LandRelease.error || null") is None


def stats(tab) -> dict:  # type: ignore[no-untyped-def,type-arg]
    return tab.evaluate("LandRelease.current.stats()")


def set_view(tab, lat: float, lng: float, zoom: int) -> None:  # type: ignore[no-untyped-def]
    tab.evaluate(
        "([lat, lng, zoom]) => {"
        " LandRelease.current.map.setView([lat, lng], zoom, {animate: false}); }",
        [lat, lng, zoom],
    )


def click_at(tab, lat: float, lng: float) -> None:  # type: ignore[no-untyped-def]
    """Click the screen pixel where a point is drawn."""
    box_ = tab.locator(".folium-map").bounding_box()
    point = tab.evaluate(
        "([lat, lng]) => { const p = LandRelease.current.map.latLngToContainerPoint([lat, lng]);"
        " return [p.x, p.y]; }",
        [lat, lng],
    )
    tab.mouse.click(box_["x"] + point[0], box_["y"] + point[1])


def click_popup(tab, lat: float, lng: float):  # type: ignore[no-untyped-def]
    """Click a point (any popup closed first: a closing popup fades out for 200 ms) and
    return the popup that opens."""
    tab.evaluate("LandRelease.current.map.closePopup()")
    tab.wait_for_function("document.querySelectorAll('.leaflet-popup').length === 0")
    click_at(tab, lat, lng)
    popup = tab.locator(".leaflet-popup-content")
    popup.wait_for()
    return popup


def screenshot(tab, name: str) -> None:  # type: ignore[no-untyped-def]
    """Keep a picture of the page as a test artifact (after Leaflet's 200 ms fades)."""
    tab.wait_for_timeout(300)
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / name))


# -- tests ----------------------------------------------------------------------------------


def test_page_loads_offline_with_overview_and_no_errors(page, scenario: Scenario) -> None:  # type: ignore[no-untyped-def]
    open_map(page, scenario.page_path)
    assert page.watch.requests == [scenario.page_path.as_uri()], "one file, nothing else"
    paint = page.evaluate("performance.getEntriesByType('paint').map(e => e.name)")
    assert "first-contentful-paint" in paint
    # The page's decoder reads what Python's encoder writes, at every digit-length boundary.
    values = [0, 1, 77, 78, 79, 1013, 1014, 1015, 13_000, 10**9, 2**40]
    assert (
        page.evaluate(
            "(s) => Array.from(LandRelease.decodeValues(s))", encode_unsigned(np.array(values))
        )
        == values
    )
    # Overview: the choropleth's two regions and one dot per remaining hazard.
    page.evaluate("LandRelease.current.map.setZoom(9, {animate: false})")
    counts = stats(page)
    assert counts["zoom"] < page.evaluate("LandRelease.current.detailZoom")
    assert counts["renderer"]["regions"] == 2
    assert counts["dots"] == scenario.active_hazards
    assert counts["hazards"] == counts["renderer"]["hazards"] == 0
    screenshot(page, "map-overview.png")


def test_drawn_hazards_equal_the_database_at_working_zoom(page, scenario: Scenario) -> None:  # type: ignore[no-untyped-def]
    open_map(page, scenario.page_path)
    page.evaluate(
        "(b) => LandRelease.current.map.fitBounds(b, {animate: false}) && null", scenario.bounds
    )
    counts = stats(page)
    assert counts["zoom"] >= page.evaluate("LandRelease.current.detailZoom")
    assert counts["hazards"] == counts["renderer"]["hazards"] == scenario.active_hazards == 4
    assert counts["pieces"] == counts["renderer"]["pieces"] == scenario.release_events == 4
    assert counts["dots"] == 0
    # The decoded outlines are the remaining polygons (to the 0.1 m grid and 0.2 m tolerance).
    outlines = page.evaluate(
        """() => { const c = LandRelease.current, out = {};
        c.shown.forEach((e, key) => { if (key[0] === 'h') out[c.data.hazards.id[+key.slice(1)]] =
            e.layer.getLatLngs().map(ring => ring.map(p => [p.lng, p.lat])); });
        return out; }"""
    )
    assert set(outlines) == {h.national_id for h in HAZARDS if not remaining(h).is_empty}
    for spec in HAZARDS:
        if spec.national_id in outlines:
            shell, *holes = outlines[spec.national_id]
            drawn = Polygon(shell, holes)
            expected = remaining(spec)
            assert drawn.symmetric_difference(expected).area < 1e-4 * expected.area
    screenshot(page, "map-working-zoom.png")


def test_clicking_a_hazard_shows_its_geodesic_area(page, scenario: Scenario) -> None:  # type: ignore[no-untyped-def]
    open_map(page, scenario.page_path)
    spec = HAZARDS[0]
    left = remaining(spec)
    inside = left.point_on_surface()
    set_view(page, inside.y, inside.x, 17)
    popup = click_popup(page, inside.y, inside.x)
    assert popup.locator(".lr-id").inner_text() == "BA-0001"
    hectares, m2 = parse_area(popup.locator("[data-field=area]").inner_text())
    expected = geod_area(left)
    assert m2 == pytest.approx(expected, abs=0.06 + 1e-5 * expected)
    assert hectares == pytest.approx(expected / 10_000, abs=6e-5)
    assert popup.locator("[data-field=class]").inner_text() == CLASS_STYLES["SHA"].label
    assert (
        popup.locator("[data-field=last]").inner_text() == "reduced 2023-04-02 · TS-23-02 · Team T"
    )
    assert popup.locator("[data-field=organisation]").inner_text() == "Kestrel Survey"
    screenshot(page, "map-popup.png")

    # A released piece: the cleared part of BA-0002.
    piece = released_piece(2)
    at = piece.point_on_surface()
    set_view(page, at.y, at.x, 17)
    popup = click_popup(page, at.y, at.x)
    assert popup.locator(".lr-id").inner_text() == METHOD_STYLES["cleared"].label
    _, m2 = parse_area(popup.locator("[data-field=area]").inner_text())
    assert m2 == pytest.approx(geod_area(piece), abs=0.06 + 1e-5 * geod_area(piece))
    assert popup.locator("[data-field=date]").inner_text() == "2022-08-15"


def test_injected_html_renders_as_text_and_runs_nothing(page, scenario: Scenario) -> None:  # type: ignore[no-untyped-def]
    open_map(page, scenario.page_path)
    page.fill(".lr-search input", EVIL_ID)
    page.press(".lr-search input", "Enter")
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert popup.locator(".lr-id").inner_text() == EVIL_ID
    assert popup.locator(".lr-name").inner_text() == EVIL_NAME
    assert popup.locator("[data-field=organisation]").inner_text() == EVIL_ORG
    assert popup.locator("img, script, b").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator(".lr-legend-head").inner_text() == f"Test map {EVIL_NAME}"
    assert page.locator(".lr-legend b, .lr-legend img, .lr-legend script").count() == 0
    assert page.title().startswith("Test map <img src=x")
    screenshot(page, "map-injection.png")


def test_legend_layers_and_drawn_styles_cover_every_class_and_method(
    page, scenario: Scenario
) -> None:  # type: ignore[no-untyped-def]
    open_map(page, scenario.page_path)
    keys = page.eval_on_selector_all(".lr-legend-row", "rows => rows.map(r => r.dataset.key)")
    for key in [*CLASS_STYLES, *METHOD_STYLES, "later", "region-none"]:
        assert key in keys
    legend_text = page.locator(".lr-legend").inner_text()
    control_text = page.locator(".leaflet-control-layers").text_content()
    for style in [*CLASS_STYLES.values(), *METHOD_STYLES.values()]:
        assert style.label in legend_text
        assert style.label in control_text
    page.evaluate(
        "(b) => LandRelease.current.map.fitBounds(b, {animate: false}) && null", scenario.bounds
    )
    drawn = page.evaluate(
        """() => { const out = [];
        LandRelease.current.shown.forEach((e, key) => out.push([key, e.state,
            e.layer.options.fillColor, e.layer.options.dashArray || null]));
        return out; }"""
    )
    hazard_ids = page.evaluate("LandRelease.current.data.hazards.id")
    piece_methods = page.evaluate(
        "Array.from(LandRelease.current.data.pieces.m,"
        " m => LandRelease.current.data.lookups.methods[m])"
    )
    classes = {h.national_id: h.hazard_class.value for h in HAZARDS}
    for key, state, fill, dash in drawn:
        index = int(key[1:])
        if key[0] == "h":
            assert fill == CLASS_STYLES[classes[hazard_ids[index]]].fillColor
        else:
            assert state == "released" and dash is None
            assert fill == METHOD_STYLES[piece_methods[index]].fillColor
    assert {m for m in piece_methods} == set(METHOD_STYLES)


def test_year_control_shows_contamination_shrinking(page, scenario: Scenario) -> None:  # type: ignore[no-untyped-def]
    open_map(page, scenario.page_path)
    page.evaluate(
        "(b) => LandRelease.current.map.fitBounds(b, {animate: false}) && null", scenario.bounds
    )
    by_id = {h.national_id: h for h in HAZARDS}

    def expected(year: int, only: bool) -> tuple[int, int, int]:
        hazards = sum(1 for h in HAZARDS if h.recorded.year <= year and not remaining(h).is_empty)
        released = later = 0
        for release in RELEASES:
            if release.date.year <= year:
                released += not only or release.date.year == year
            elif by_id[release.national_id].recorded.year <= year:
                later += 1
        return hazards, released, later

    for year, only in [(2021, False), (2022, True), (2025, False)]:
        page.fill(".lr-year input[type=range]", str(year))
        page.dispatch_event(".lr-year input[type=range]", "input")
        if page.is_checked(".lr-year-only input") != only:
            page.click(".lr-year-only input")
        counts = stats(page)
        assert (counts["hazards"], counts["released"], counts["laterHazardous"]) == expected(
            year, only
        ), year
        assert counts["renderer"]["hazards"] + counts["renderer"]["pieces"] == (
            counts["hazards"] + counts["pieces"]
        )
        if (year, only) == (2021, False):
            screenshot(page, "map-year-2021.png")
    summary = page.locator(".lr-year-summary").inner_text()
    total = sum(geod_area(released_piece(i)) for i in range(len(RELEASES)))
    assert f"{total / 10_000:,.1f} ha in {len(RELEASES)} releases" in summary


def test_measuring_tool_agrees_with_geographiclib(page, scenario: Scenario) -> None:  # type: ignore[no-untyped-def]
    open_map(page, scenario.page_path)
    set_view(page, 43.851, 18.405, 16)
    page.click(".lr-measure-button")
    box_ = page.locator(".folium-map").bounding_box()
    pixels = [(500, 300), (800, 320), (760, 600), (520, 560)]
    for x, y in pixels:
        page.mouse.click(box_["x"] + x, box_["y"] + y)
    points = page.evaluate(
        "(px) => px.map(([x, y]) => { const p = LandRelease.current.map"
        ".containerPointToLatLng([x, y]); return [p.lat, p.lng]; })",
        pixels,
    )
    polygon = Polygon([(lng, lat) for lat, lng in points])
    _, shown = parse_area(page.locator(".lr-measure-area").inner_text())
    assert shown == pytest.approx(geod_area(polygon), rel=1e-4)
    lats, lngs = [p[0] for p in points], [p[1] for p in points]
    _, _, lengths = GEOD.inv(lngs[:-1], lats[:-1], lngs[1:], lats[1:])
    distance = page.locator(".lr-measure-distance").inner_text()
    value = float(re.search(r"([\d,.]+) (m|km)", distance).group(1).replace(",", ""))
    metres = value * (1000 if distance.strip().endswith("km") else 1)
    assert metres == pytest.approx(sum(lengths), abs=1.0 if metres >= 1000 else 0.1)
    exact = page.evaluate(
        "(pts) => [LandRelease.geodesic.distance(pts[0], pts[1]), LandRelease.geodesic.area(pts)]",
        points,
    )
    assert exact[0] == pytest.approx(lengths[0], abs=1e-3)
    assert exact[1] == pytest.approx(geod_area(polygon), rel=1e-5)
    page.click(".lr-measure-button")
    screenshot(page, "map-measure.png")


def test_local_raster_basemap_is_embedded_and_placed(
    page, scenario: Scenario, engine: Engine, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    # A 1 km × 600 m hillshade-like GeoTIFF in UTM 34N over the scenario.
    x0, y0 = Transformer.from_crs(4326, 32634, always_xy=True).transform(18.398, 43.856)
    tif = tmp_path / "hillshade.tif"
    ramp = np.outer(np.linspace(0, 1, 60), np.linspace(0, 1, 100)).astype(np.float32)
    with rasterio.open(
        tif,
        "w",
        driver="GTiff",
        width=100,
        height=60,
        count=1,
        dtype="float32",
        crs="EPSG:32634",
        transform=Affine(10, 0, x0, 0, -10, y0),
    ) as dst:
        dst.write(ramp, 1)
    overlay = raster_overlay(tif, name="Hillshade <script>")
    path = build_map(engine, MapOptions(as_of=AS_OF, raster=overlay)).save(tmp_path / "r.html")
    open_map(page, path)
    image = page.locator(".leaflet-image-layer")
    assert image.count() == 1
    assert page.evaluate("document.querySelector('.leaflet-image-layer').naturalWidth") > 0
    (south, west), (north, east) = overlay.bounds
    page.evaluate(
        "(b) => LandRelease.current.map.fitBounds(b, {animate: false}) && null",
        [[south, west], [north, east]],
    )
    placed = image.bounding_box()
    corners = page.evaluate(
        "(b) => b.map(p => { const q = LandRelease.current.map.latLngToContainerPoint(p);"
        " return [q.x, q.y]; })",
        [[north, west], [south, east]],
    )
    origin = page.locator(".folium-map").bounding_box()
    assert placed["x"] - origin["x"] == pytest.approx(corners[0][0], abs=1.5)
    assert placed["y"] - origin["y"] == pytest.approx(corners[0][1], abs=1.5)
    assert placed["width"] == pytest.approx(corners[1][0] - corners[0][0], abs=1.5)
    # Leaflet's layer control writes names as HTML: ours arrive escaped, shown as text.
    assert "Basemap: Hillshade <script>" in page.locator(".leaflet-control-layers").text_content()
    assert page.locator(".leaflet-control-layers script").count() == 0
    screenshot(page, "map-raster.png")
