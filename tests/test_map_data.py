"""Contamination maps without a browser: encoding, escaping, data, regions, raster, CLI.

Areas are checked against ``pyproj.Geod`` on polygons built here, never against the code's own
numbers; the page's encoding is checked by decoding it again.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.errors
import shapely
from affine import Affine
from click.testing import CliRunner
from pyproj import Geod, Transformer
from shapely.geometry import MultiPolygon, Polygon, box, mapping
from sqlalchemy import Engine

from landrelease.cli import main
from landrelease.errors import LandReleaseError
from landrelease.maps import MapOptions, build_map, raster_overlay, write_demo_maps
from landrelease.maps.data import load_map_data
from landrelease.maps.encode import (
    decode_polygons,
    decode_unsigned,
    encode_polygons,
    encode_unsigned,
    script_json,
    simplify_keeping_topology,
)
from landrelease.maps.raster import png_bytes
from landrelease.maps.styles import CLASS_STYLES, METHOD_STYLES, choropleth_breaks
from landrelease.regions import load_regions
from landrelease.release import transaction
from landrelease.vocabulary import ActivityKind, HazardClass

GEOD = Geod(ellps="WGS84")
TODAY = dt.date(2025, 6, 30)


def geod_area(geom: Polygon | MultiPolygon) -> float:
    area, _ = GEOD.geometry_area_perimeter(shapely.orient_polygons(geom))
    return abs(area)


def write_regions(path: Path, regions: list[tuple[str, str, Polygon]]) -> Path:
    features = [
        {"type": "Feature", "properties": {"shapeID": c, "shapeName": n}, "geometry": mapping(g)}
        for c, n, g in regions
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


# -- encoding -----------------------------------------------------------------------------------


def test_unsigned_digits_round_trip_at_every_length_boundary() -> None:
    values = np.array([0, 1, 77, 78, 79, 1013, 1014, 1015, 13_000, 10**9, 2**40])
    text = encode_unsigned(values)
    assert decode_unsigned(text) == values.tolist()
    assert not set(text) & set('"\\<>'), "digits must need no escaping in JSON or HTML"


def test_polygons_decode_to_their_vertices_within_half_a_grid_step() -> None:
    rng = np.random.default_rng(3)
    shapes = []
    for _ in range(50):
        x, y = rng.uniform(16, 19), rng.uniform(43, 45)
        outer = box(x, y, x + rng.uniform(1e-4, 1e-2), y + rng.uniform(1e-4, 1e-2))
        hole = shapely.affinity.scale(outer, 0.3, 0.3)
        shapes.append(
            MultiPolygon([outer.difference(hole), box(x - 0.02, y, x - 0.019, y + 0.001)])
        )
    step = 1e-6
    encoded = encode_polygons(shapes, step=step, tolerance=0)
    decoded = decode_polygons(encoded, len(shapes))
    for shape, feature in zip(shapes, decoded, strict=True):
        parts = list(shape.geoms)
        assert len(feature) == len(parts)
        for part, rings in zip(parts, feature, strict=True):
            expected = [part.exterior, *part.interiors]
            assert len(rings) == len(expected)
            for ring, flat in zip(expected, rings, strict=True):
                original = np.asarray(ring.coords)[:-1]
                got = np.asarray(flat).reshape(-1, 2)
                assert got.shape == original.shape
                assert np.abs(got - original).max() <= step / 2 + 1e-12


def test_simplification_never_loses_a_hole_a_part_or_validity() -> None:
    outer = box(18.0, 44.0, 18.01, 44.01)
    tiny_hole = box(18.005, 44.005, 18.005002, 44.005002)  # smaller than the tolerance
    holed = outer.difference(tiny_hole)
    two_parts = MultiPolygon([box(18, 44, 18.001, 44.001), box(18.1, 44, 18.100003, 44.000003)])
    zigzag_ring = Polygon(
        [(18, 44), (18.002, 44.000004), (18.004, 44), (18.004, 44.003), (18, 44.003)]
    )
    geoms = np.array([holed, two_parts, zigzag_ring], dtype=object)
    fast = shapely.simplify(geoms, 5e-6, preserve_topology=False)
    assert len(fast[0].interiors) == 0 or fast[1].is_empty or len(fast[1].geoms) < 2  # DP breaks
    kept = simplify_keeping_topology(geoms, 5e-6)
    assert shapely.is_valid(kept).all()
    assert len(kept[0].interiors) == 1
    assert len(kept[1].geoms) == 2
    assert kept[2].area == pytest.approx(zigzag_ring.area, rel=1e-2)


def test_script_json_cannot_close_its_element_and_parses_back() -> None:
    evil = "</script><script>alert(1)</script><!-- ${alert(1)} {{7*7}} &amp; \u2028"
    text = script_json({"name": evil})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"name": evil}


def test_choropleth_breaks_are_increasing_quantiles_of_positive_values() -> None:
    values = [0.0, 0.0, 5.0, 1.0, 100.0, 7.0, 3.0, 50.0, 9.0, 2.0, 4.0, 6.0]
    breaks = choropleth_breaks(values)
    assert breaks == sorted(set(breaks))
    assert breaks[-1] == 100.0 and breaks[0] >= 1.0
    assert choropleth_breaks([0.0, 0.0]) == []


def test_every_class_and_method_has_its_own_style() -> None:
    assert set(CLASS_STYLES) == {c.value for c in HazardClass}
    assert set(METHOD_STYLES) == {"cancelled", "reduced", "cleared"}
    fills = [s.fillColor for s in [*CLASS_STYLES.values(), *METHOD_STYLES.values()]]
    assert len(set(fills)) == len(fills)
    assert CLASS_STYLES["CHA"].fillColor == "#FF0000" and CLASS_STYLES["SHA"].fillColor == "#F4A718"


# -- data from the ledger -------------------------------------------------------------------------


def test_map_data_follows_the_ledger_as_of_a_date(db: Engine, tmp_path: Path) -> None:
    west, east = box(18.0, 44.0, 18.01, 44.01), box(18.02, 44.0, 18.03, 44.01)
    overlap = box(18.005, 44.005, 18.015, 44.012)  # overlaps `west`: same region, counted once
    cancelled = box(17.99, 43.99, 18.004, 44.02)
    with db.begin() as c:
        load_regions(
            c,
            write_regions(
                tmp_path / "r.geojson",
                [
                    ("R1", "Inner", box(17.9, 43.9, 18.019, 44.1)),
                    ("R2", "Outer", box(18.019, 43.9, 18.2, 44.1)),
                ],
            ),
            level=1,
        )
    with transaction(db, today=TODAY) as ledger:
        ledger.record(
            "A",
            HazardClass.SHA,
            west,
            crs=4326,
            recorded_date=dt.date(2020, 1, 1),
            organisation="Org A",
        )
        ledger.record("B", HazardClass.CHA, east, crs=4326, recorded_date=dt.date(2020, 1, 1))
        ledger.record("C", HazardClass.SHA, overlap, crs=4326, recorded_date=dt.date(2021, 1, 1))
        nts = ledger.add_activity(ActivityKind.NTS, reference="NTS-1", organisation="Team N")
        ledger.cancel("A", cancelled, crs=4326, effective_date=dt.date(2022, 5, 1), activity_id=nts)

    with db.connect() as c:
        before = load_map_data(c, dt.date(2020, 12, 31))
        after = load_map_data(c, dt.date(2024, 1, 1))
    assert [h.national_id for h in before.hazards] == ["A", "B"] and before.pieces == []
    a_then = next(h for h in before.hazards if h.national_id == "A")
    assert a_then.area_m2 == pytest.approx(geod_area(west), rel=1e-6)
    assert a_then.organisation == "Org A" and a_then.last_kind == "recorded"

    a_now = next(h for h in after.hazards if h.national_id == "A")
    remaining = west.difference(cancelled)
    assert a_now.area_m2 == pytest.approx(geod_area(remaining), rel=1e-6)
    assert (a_now.last_kind, a_now.last_date, a_now.last_activity) == (
        "cancelled",
        dt.date(2022, 5, 1),
        "NTS-1",
    )
    (piece,) = after.pieces
    assert piece.method == "cancelled" and piece.organisation == "Team N"
    assert piece.area_m2 == pytest.approx(geod_area(west.intersection(cancelled)), rel=1e-6)

    regions = {r.code: r for r in after.regions}
    union = remaining.union(overlap)
    assert regions["R1"].remaining_m2["SHA"] == pytest.approx(geod_area(union), rel=1e-5)
    assert regions["R1"].remaining_m2["SHA"] < geod_area(remaining) + geod_area(overlap) - 1000
    assert regions["R2"].remaining_m2 == pytest.approx(
        {"SHA": 0.0, "CHA": geod_area(east)}, rel=1e-6
    )
    assert (regions["R1"].hazards, regions["R2"].hazards) == (2, 1)

    with db.connect() as c:
        only = load_map_data(c, dt.date(2024, 1, 1), region="Outer")
        with pytest.raises(LandReleaseError, match="no region"):
            load_map_data(c, dt.date(2024, 1, 1), region="Nowhere")
    assert [h.national_id for h in only.hazards] == ["B"] and only.region is not None


def test_page_is_self_contained_and_escapes_data(db: Engine) -> None:
    evil = '<img src=x onerror="alert(1)">${alert(1)}{{ 7*7 }}</script>'
    with transaction(db, today=TODAY) as ledger:
        ledger.record(
            "E-1",
            HazardClass.SHA,
            box(18, 44, 18.001, 44.001),
            crs=4326,
            recorded_date=dt.date(2020, 1, 1),
            name=evil,
            organisation=evil,
        )
    page = build_map(db, MapOptions(as_of=TODAY, title=evil)).map.get_root().render()
    # Nothing to fetch: no element refers to a file or URL.
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)\s*=", page, re.I)
    assert not re.search(r"https?://[^\s\"']*\.(js|css|woff2?|ttf|png)", page, re.I)
    # The data cannot open or close elements, and no tag carries an event handler.
    assert "<img src=x" not in page
    assert page.count("</script>") == page.count("<script")
    assert not re.search(r"<[a-z][^<>]*\sonerror\s*=", page, re.I)
    # Python-written HTML is escaped, and never evaluated as a template.
    assert '"tiles":null' in page  # no online tiles unless asked for
    (title,) = re.findall(r"<title>(.*?)</title>", page, re.S)
    assert title.startswith("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;${alert(1)}{{ 7*7 }}")


# -- raster basemap -----------------------------------------------------------------------------


def test_png_encoder_writes_a_png_rasterio_reads_back(tmp_path: Path) -> None:
    rgba = np.zeros((3, 5, 4), dtype=np.uint8)
    rgba[..., 0] = np.arange(5) * 50
    rgba[..., 3] = 255
    path = tmp_path / "x.png"
    path.write_bytes(png_bytes(rgba))
    with pytest.warns(rasterio.errors.NotGeoreferencedWarning), rasterio.open(path) as src:
        assert (src.width, src.height, src.count) == (5, 3, 4)
        assert np.array_equal(src.read(1), rgba[..., 0])


def test_raster_overlay_is_placed_where_the_geotiff_is(tmp_path: Path) -> None:
    # A 2 km × 1 km hillshade-like gradient in UTM 34N, 10 m pixels.
    path = tmp_path / "hillshade.tif"
    data = np.tile(np.linspace(0, 4000, 200), (100, 1)).astype(np.float32)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=200,
        height=100,
        count=1,
        dtype="float32",
        crs="EPSG:32634",
        transform=Affine(10, 0, 400_000, 0, -10, 4_930_000),
        nodata=-1,
    ) as dst:
        dst.write(data, 1)
    overlay = raster_overlay(path, max_pixels=120)
    assert max(overlay.width, overlay.height) <= 120
    to_lonlat = Transformer.from_crs(32634, 4326, always_xy=True)
    lons, lats = to_lonlat.transform(
        [400_000, 402_000, 400_000, 402_000], [4_929_000, 4_929_000, 4_930_000, 4_930_000]
    )
    (south, west), (north, east) = overlay.bounds
    assert west == pytest.approx(min(lons), abs=2e-4) and east == pytest.approx(max(lons), abs=2e-4)
    assert south == pytest.approx(min(lats), abs=2e-4) and north == pytest.approx(
        max(lats), abs=2e-4
    )
    assert overlay.url.startswith("data:image/png;base64,")


# -- command line --------------------------------------------------------------------------------


def test_map_command_writes_the_page_and_refuses_unknown_regions(
    db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANDRELEASE_DATABASE_URL", db.url.render_as_string(hide_password=False))
    with transaction(db, today=TODAY) as ledger:
        ledger.record(
            "M-1",
            HazardClass.CHA,
            box(18, 44, 18.01, 44.01),
            crs=4326,
            recorded_date=dt.date(2021, 3, 1),
        )
    out = tmp_path / "maps" / "national.html"
    runner = CliRunner()
    result = runner.invoke(
        main, ["map", "--as-of", "2024-12-31", "--output", str(out)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert (
        out.is_file() and f"wrote {out}" in result.output and "1 hazards remaining" in result.output
    )
    assert 'id="lr-data"' in out.read_text(encoding="utf-8")

    tiles = "https://tiles.invalid/{z}/{x}/{y}.png"
    result = runner.invoke(
        main,
        ["map", "--out", str(out), "--online-tiles", tiles, "--tiles-attribution", "© Tiles"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0 and "online tiles need internet" in result.output
    assert f'"url":"{tiles}"' in out.read_text(encoding="utf-8")
    result = runner.invoke(main, ["map", "--tiles-attribution", "© Tiles"])
    assert result.exit_code == 2 and "--tiles-attribution needs --online-tiles" in result.output

    result = runner.invoke(main, ["map", "--region", "Atlantis", "--out", str(tmp_path / "x.html")])
    assert result.exit_code == 1 and "no region with code or name 'Atlantis'" in result.output
    assert not (tmp_path / "x.html").exists()


def test_demo_maps_are_written_into_the_folder_given(db: Engine, tmp_path: Path) -> None:
    with db.begin() as c:
        load_regions(
            c, write_regions(tmp_path / "r.geojson", [("R1", "One", box(17, 43, 19, 45))]), level=1
        )
    with transaction(db, today=TODAY) as ledger:
        ledger.record(
            "D-1",
            HazardClass.SHA,
            box(18, 44, 18.01, 44.01),
            crs=4326,
            recorded_date=dt.date(2021, 3, 1),
        )
    written = write_demo_maps(db, tmp_path / "maps", regions=["R1"])
    assert written == [
        tmp_path / "maps" / "contamination.html",
        tmp_path / "maps" / "contamination-r1.html",
    ]
    assert all(p.stat().st_size > 100_000 for p in written)  # Leaflet inlined
