"""Write the bad-input corpus beside this script: one small file per problem an import checks.

Run from the repository root (``.venv/bin/python tests/data/bad/make_bad_corpus.py``); the
files are committed and ``tests/test_import_bad_input.py`` says, for each, the exact problem
the report must name. Most files hold a good feature around the bad one, so the tests also show
that one broken feature does not stop the others from being checked. Places are inside Bosnia
and Herzegovina unless being outside is the point; files that must agree with the database
(a hazard ID or polygon already recorded) copy the polygons of ``gis_data/samples``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
import shapely
import shapely.affinity
import shapely.geometry
from pyproj import Geod, Transformer
from shapely.geometry import Polygon, mapping

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
GEOD = Geod(ellps="WGS84")

#: A point in central Bosnia (near Kakanj) the local shapes are laid out from, in metres.
ORIGIN = (18.02, 44.10)


def local(points: list[tuple[float, float]], origin: tuple[float, float] = ORIGIN) -> Polygon:
    """A polygon from (east, north) offsets in metres around ``origin``, in lon/lat."""
    lon0, lat0 = origin
    lons, lats = [], []
    for east, north in points:
        lon, lat, _ = GEOD.fwd(lon0, lat0, 90.0, east)
        lon, lat, _ = GEOD.fwd(lon, lat, 0.0, north)
        lons.append(round(lon, 8))
        lats.append(round(lat, 8))
    return Polygon(zip(lons, lats, strict=True))


def square(east: float, north: float, side: float = 200.0) -> Polygon:
    return local(
        [(east, north), (east + side, north), (east + side, north + side), (east, north + side)]
    )


def hazard(hazard_id: str, geometry: object, **extra: object) -> dict[str, object]:
    """A GeoJSON feature of a new hazard (geometry: shapely, raw dict, or None)."""
    props: dict[str, object] = {
        "hazard_id": hazard_id,
        "class": "SHA",
        "contamination": "CMR",
        "date": "2023-04-01",
        "organisation": "NPA",
    }
    props.update(extra)
    if isinstance(geometry, Polygon):
        geometry = mapping(geometry)
    return {"type": "Feature", "properties": props, "geometry": geometry}


def result(hazard_id: str, geometry: object, **extra: object) -> dict[str, object]:
    """A GeoJSON feature of an NTS result (cancellation)."""
    props: dict[str, object] = {
        "hazard_id": hazard_id,
        "activity_type": "NTS",
        "activity_ref": "NTS-BAD-1",
        "date": "2023-09-01",
        "organisation": "NPA",
    }
    props.update(extra)
    return hazard(hazard_id, geometry) | {"properties": props}


def write(name: str, features: list[dict[str, object]]) -> None:
    collection = {"type": "FeatureCollection", "features": features}
    (HERE / name).write_text(
        json.dumps(collection, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )


def raw_polygon(points: list[tuple[float, float]]) -> dict[str, object]:
    """A GeoJSON polygon written as given: no closing, no checking."""
    return {"type": "Polygon", "coordinates": [[list(p) for p in points]]}


def coords(polygon: Polygon) -> list[tuple[float, float]]:
    return [(x, y) for x, y in polygon.exterior.coords]


def write_zip(name: str, members: dict[str, bytes]) -> None:
    """A zip of ``members`` (path inside the archive -> bytes), the same bytes on every run."""
    with zipfile.ZipFile(HERE / name, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in members.items():
            archive.writestr(zipfile.ZipInfo(member, date_time=(2024, 1, 1, 0, 0, 0)), data)


def shapefile_files(
    frame: gpd.GeoDataFrame,
    stem: str,
    *,
    encoding: str,
    drop: tuple[str, ...] = (),
    cpg: str | None = None,
) -> dict[str, bytes]:
    """The files of a shapefile by name, without those in ``drop`` (e.g. .cpg, .prj);
    ``cpg`` replaces what the .cpg says (a .cpg that lies about the encoding)."""
    with tempfile.TemporaryDirectory() as folder:
        shp = Path(folder) / f"{stem}.shp"
        pyogrio.write_dataframe(frame, shp, encoding=encoding)
        files = {
            member.name: member.read_bytes()
            for member in sorted(Path(folder).iterdir())
            if member.suffix not in drop
        }
    if cpg is not None:
        files[f"{stem}.cpg"] = cpg.encode("ascii")
    return files


def zipped_shapefile(
    name: str, frame: gpd.GeoDataFrame, *, encoding: str, drop: tuple[str, ...], **cpg: str
) -> None:
    """A zipped shapefile without the sidecar files in ``drop`` (e.g. .cpg, .prj)."""
    write_zip(name, shapefile_files(frame, Path(name).stem, encoding=encoding, drop=drop, **cpg))


def sample_hazard(hazard_id: str) -> dict[str, object]:
    """The GeoJSON geometry of a hazard of ``gis_data/samples/generic_hazards.geojson``."""
    sample = json.loads((ROOT / "gis_data/samples/generic_hazards.geojson").read_text("utf-8"))
    return next(
        f["geometry"] for f in sample["features"] if f["properties"]["hazard_id"] == hazard_id
    )


def border_point() -> tuple[float, float]:
    """A point of the Bosnia-Croatia boundary on the Sava, from the bundled boundaries."""
    entities = pyogrio.read_dataframe(ROOT / "gis_data/bih_admin/bih_adm1.geojson")
    outline = shapely.union_all(entities.geometry.values).boundary
    return shapely.get_coordinates(
        outline.interpolate(outline.project(shapely.Point(17.60, 45.15)))
    )[0].tolist()


def make() -> None:
    good = square(0, 0)
    good2 = square(600, 0)

    write(
        "null_geometry.geojson",
        [hazard("BA-B-001", good), hazard("BA-B-002", None), hazard("BA-B-003", good2)],
    )
    write(
        "empty_geometry.geojson",
        [hazard("BA-B-001", good), hazard("BA-B-002", {"type": "Polygon", "coordinates": []})],
    )
    # A square whose last edge crosses its first: a 48 m² lobe (0.2 %), repaired.
    write(
        "self_intersection.geojson",
        [
            hazard(
                "BA-B-001",
                raw_polygon(coords(local([(0, 0), (200, 0), (200, 200), (0, 200), (10, -10)]))),
            )
        ],
    )
    # The same with a 3,300 m² lobe: the repair would change the area by 18 %, refused.
    write(
        "self_intersection_large.geojson",
        [
            hazard("BA-B-001", good),
            hazard(
                "BA-B-002",
                raw_polygon(
                    coords(local([(600, 0), (800, 0), (800, 200), (600, 200), (700, -100)]))
                ),
            ),
        ],
    )
    # A shell that passes twice through one point: two triangles joined at a vertex.
    write(
        "ring_self_intersection.geojson",
        [
            hazard(
                "BA-B-001",
                raw_polygon(
                    coords(local([(0, 0), (200, 0), (100, 100), (200, 200), (0, 200), (100, 100)]))
                ),
            )
        ],
    )
    ring = coords(good2)
    write(
        "ring_too_few_points.geojson",
        [
            hazard("BA-B-001", good),
            hazard("BA-B-002", raw_polygon([ring[0], ring[1], ring[0]])),
            hazard("BA-B-003", square(1200, 0)),
        ],
    )
    # The same short ring as the second part of a MultiPolygon whose first part is sound.
    write(
        "ring_too_few_points_multi.geojson",
        [
            hazard("BA-B-001", good),
            hazard(
                "BA-B-002",
                {
                    "type": "MultiPolygon",
                    "coordinates": [
                        [[list(p) for p in coords(square(1200, 0))]],
                        [[list(ring[0]), list(ring[1]), list(ring[0])]],
                    ],
                },
            ),
        ],
    )
    write(
        "ring_single_vertex.geojson",
        [hazard("BA-B-001", good), hazard("BA-B-002", raw_polygon([ring[0]]))],
    )
    write(
        "ring_not_closed.geojson",
        [
            hazard("BA-B-001", good),
            hazard("BA-B-002", raw_polygon(ring[:-1])),
            hazard("BA-B-003", square(1200, 0)),
        ],
    )
    unclosed = ", ".join(f"{x} {y}" for x, y in ring[:-1])
    (HERE / "ring_not_closed_wkt.csv").write_text(
        "hazard_id,class,date,wkt\n"
        f'BA-B-001,SHA,2023-04-01,"{shapely.to_wkt(good)}"\n'
        f'BA-B-002,SHA,2023-04-01,"POLYGON (({unclosed}))"\n',
        encoding="utf-8",
    )
    write(
        "malformed_coordinates.geojson",
        [
            hazard("BA-B-001", good),
            hazard(
                "BA-B-002",
                {
                    "type": "Polygon",
                    "coordinates": [[list(ring[0]), [ring[1][0]], list(ring[2]), list(ring[0])]],
                },
            ),
        ],
    )
    write(
        "duplicate_geometry.geojson",
        [hazard("BA-B-001", good, sheet="L-34-121"), hazard("BA-B-101", good, sheet="L-34-122")],
    )
    write("duplicate_id.geojson", [hazard("BA-B-001", good), hazard("BA-B-001", good2)])
    write("duplicate_id_db.geojson", [hazard("BA-G-001", good)])
    write("duplicate_geometry_db.geojson", [hazard("BA-B-777", sample_hazard("BA-G-001"))])
    redrawn = local([(1.5, -1.0), (201.0, 0.8), (199.2, 201.3), (-0.7, 199.0)])
    write(
        "near_duplicate.geojson",
        [hazard("BA-B-001", good, sheet="L-34-121"), hazard("BA-B-101", redrawn, sheet="L-34-122")],
    )
    write(
        "near_duplicate_db.geojson",
        [
            hazard(
                "BA-B-778",
                shapely.affinity.translate(shapely.geometry.shape(sample_hazard("BA-G-001")), 1e-5),
            )
        ],
    )
    write(
        "overlapping_hazards.geojson",
        [hazard("BA-B-001", good), hazard("BA-B-002", square(150, 0))],
    )
    write(
        "outside_country.geojson",
        [
            hazard("BA-B-001", good),
            hazard(
                "BA-B-002", local([(0, 0), (200, 0), (200, 200), (0, 200)], origin=(20.46, 44.81))
            ),
        ],
    )
    lon, lat = border_point()
    write(
        "partly_outside.geojson",
        [
            hazard(
                "BA-B-001",
                local([(-150, -150), (150, -150), (150, 150), (-150, 150)], origin=(lon, lat)),
            )
        ],
    )
    write("sliver.geojson", [hazard("BA-B-001", good), hazard("BA-B-002", square(600, 0, 2.0))])
    to_utm = Transformer.from_crs(4326, 32634, always_xy=True)
    x0, y0 = to_utm.transform(18.70, 44.53)
    frame = gpd.GeoDataFrame(
        {"hazard_id": ["BA-B-001"], "class": ["SHA"], "date": ["2023-04-01"]},
        geometry=[shapely.box(round(x0), round(y0), round(x0) + 300, round(y0) + 200)],
        crs=32634,
    )
    zipped_shapefile("no_crs.zip", frame, encoding="UTF-8", drop=(".prj",))
    write(
        "coordinates_out_of_range.geojson",
        [
            hazard("BA-B-001", good),
            hazard(
                "BA-B-002",
                raw_polygon(
                    [(x0, y0), (x0 + 300, y0), (x0 + 300, y0 + 200), (x0, y0 + 200), (x0, y0)]
                ),
            ),
        ],
    )
    write(
        "swapped_lonlat.geojson",
        [
            hazard("BA-B-001", good),
            hazard("BA-B-002", raw_polygon([(y, x) for x, y in coords(good2)])),
        ],
    )
    write("date_missing.geojson", [hazard("BA-B-001", good), hazard("BA-B-002", good2, date="")])
    write(
        "date_unparseable.geojson",
        [hazard("BA-B-001", good), hazard("BA-B-002", good2, date="31/31/2023")],
    )
    write(
        "date_future.geojson",
        [hazard("BA-B-001", good), hazard("BA-B-002", good2, date="2099-01-01")],
    )
    write(
        "dates_out_of_order.geojson",
        [
            hazard("BA-B-001", good),
            result(
                "BA-B-001",
                square(0, 0, 100),
                date="",
                start_date="2023-06-10",
                end_date="2023-06-01",
            ),
        ],
    )
    write(
        "unknown_hazard.geojson",
        [hazard("BA-B-001", good), result("BA-NOPE-1", square(600, 0, 100))],
    )
    write(
        "no_overlap.geojson", [hazard("BA-B-001", good), result("BA-B-001", square(2000, 0, 100))]
    )
    write(
        "release_before_hazard.geojson",
        [result("BA-G-006", sample_hazard("BA-G-006"), date="2020-02-01", activity_ref="NTS-OLD")],
    )
    write(
        "unknown_value.geojson",
        [hazard("BA-B-001", good), hazard("BA-B-002", good2, **{"class": "XYZ"})],
    )
    write(
        "bad_count.geojson",
        [
            hazard("BA-B-001", good),
            *(
                result(
                    "BA-B-001",
                    square(0, 0, 100),
                    activity_type="clearance",
                    activity_ref=f"CL-BAD-{n}",
                    **counts,
                )
                for n, counts in enumerate(
                    [
                        {"submunitions_found": "2", "submunitions_destroyed": "-3"},
                        {"submunitions_found": "nan"},
                        {"submunitions_found": "inf"},
                    ],
                    start=1,
                )
            ),
        ],
    )
    write(
        "missing_reference.geojson",
        [hazard("BA-B-001", good), result("BA-B-001", square(0, 0, 100), activity_ref="")],
    )
    # A NUL inside an ID, escaped as JSON writes it and as a raw byte: GDAL reads "BA-B-0".
    write("nul_escape.geojson", [hazard("BA-B-001", good), hazard("BA-B-0\x0002", good2)])
    (HERE / "nul_byte.geojson").write_bytes(
        (HERE / "nul_escape.geojson").read_bytes().replace(b"\\u0000", b"\x00")
    )
    names = gpd.GeoDataFrame(
        {
            "hazard_id": ["BA-B-001", "BA-B-002"],
            "class": ["SHA", "CHA"],
            "date": ["2023-04-01", "2023-04-02"],
            "name": ["Goražde – Kopači", "Čelebići"],
            "organisati": ["Općina Goražde", "BHMAC"],
        },
        geometry=[good, good2],
        crs=4326,
    )
    zipped_shapefile("mojibake_utf8.zip", names, encoding="UTF-8", drop=(".cpg",))
    zipped_shapefile("mojibake_cp1250.zip", names, encoding="cp1250", drop=(".cpg",))
    (HERE / "misclosure.csv").write_text(
        "polygon_id,hazard_id,class,date,point,lon,lat,bearing_deg,distance_m\n"
        "P1,BA-B-001,SHA,2023-04-01,BM,18.0500,44.1000,,\n"
        "P1,,,,TP1,,,45,50\n"
        "P1,,,,TP2,,,90,200\n"
        "P1,,,,TP3,,,180,150\n"
        "P1,,,,TP4,,,270,200\n"
        "P1,,,,TP1,,,0,140\n",
        encoding="utf-8",
    )
    with zipfile.ZipFile(HERE / "zip_slip.zip", "w") as archive:
        archive.writestr(
            "hazards/../../escaped.geojson",
            json.dumps({"type": "FeatureCollection", "features": [hazard("BA-B-001", good)]}),
        )
    make_reading()
    shutil.rmtree(HERE / "__pycache__", ignore_errors=True)


def hazards_frame(names: list[str], first: int = 1, east: float = 0.0) -> gpd.GeoDataFrame:
    """New SHA hazards named ``names``, 200 m squares 400 m apart, IDs from BA-R-``first``."""
    return gpd.GeoDataFrame(
        {
            "hazard_id": [f"BA-R-{n:03d}" for n in range(first, first + len(names))],
            "class": ["SHA"] * len(names),
            "date": ["2023-04-01"] * len(names),
            "name": names,
        },
        geometry=[square(east + 400 * n, 3000) for n in range(len(names))],
        crs=4326,
    )


def wkt_table(frame: gpd.GeoDataFrame, wkt: list[str] | None = None) -> str:
    """The CSV of ``frame`` with its polygons (or ``wkt``) as a WKT column, lines ending LF."""
    texts = wkt if wkt is not None else [shapely.to_wkt(g) for g in frame.geometry]
    lines = ["hazard_id,class,date,name,wkt"]
    for (_, row), text in zip(frame.iterrows(), texts, strict=True):
        lines.append(f'{row.hazard_id},{row["class"]},{row.date},{row["name"]},"{text}"')
    return "\n".join(lines) + "\n"


def make_reading() -> None:
    """Files that are hard to read rather than wrong: encodings, curves, archives, sidecars."""
    # Windows-1250 read as Latin-1 with only č to show it: è is French too, but not here.
    zipped_shapefile(
        "mojibake_cp1250_subtle.zip",
        hazards_frame(["Brcko", "Zenica č"]),
        encoding="cp1250",
        drop=(".cpg",),
    )
    # Real Western European names in Latin-1 without .cpg: nothing to report.
    zipped_shapefile(
        "western_names_latin1.zip",
        hazards_frame(["Père Lachaise", "Kjæråsen", "Ærø - Genève", "Müller Straße", "Bærum"]),
        encoding="latin1",
        drop=(".cpg",),
    )
    # Arcs: a circle, a curved polygon inside a MULTISURFACE, a half-disc; the fourth is cut off.
    x0, y0 = shapely.get_coordinates(square(0, 3000))[0]

    def at(dx: float, dy: float) -> str:
        """A point ``dx``, ``dy`` thousandths of a degree from the corner of the first square."""
        return f"{x0 + dx / 1000:.6f} {y0 + dy / 1000:.6f}"

    def circle(dx: float) -> str:
        points = ", ".join(at(*p) for p in ((dx, 0), (dx + 2, 2), (dx, 4), (dx - 2, 2), (dx, 0)))
        return f"CIRCULARSTRING({points})"

    curved = [
        f"CURVEPOLYGON({circle(0)})",
        f"MULTISURFACE(CURVEPOLYGON({circle(10)}), (({at(20, 0)}, {at(22, 0)}, {at(22, 2)}, "
        f"{at(20, 0)})))",
        f"CURVEPOLYGON(COMPOUNDCURVE(CIRCULARSTRING({at(30, 0)}, {at(32, 2)}, {at(34, 0)}), "
        f"({at(34, 0)}, {at(30, 0)})))",
        f"CURVEPOLYGON(CIRCULARSTRING({at(40, 0)}, {at(42, 2)}",
    ]
    (HERE / "curved_wkt.csv").write_text(
        wkt_table(hazards_frame(["a", "b", "c", "d"]), curved), encoding="utf-8"
    )
    # Excel's "Unicode text": UTF-16 with a byte-order mark.
    (HERE / "utf16_bom.csv").write_text(
        wkt_table(hazards_frame(["Čelebići - Đurđevik"])), encoding="utf-16"
    )
    # What the reader refuses as a whole (tests/test_import_bad_input.py, REFUSED).
    (HERE / "cp1250.csv").write_bytes(wkt_table(hazards_frame(["Tuzla", "Brčko"])).encode("cp1250"))
    (HERE / "nul_in_text.csv").write_text(
        wkt_table(hazards_frame(["Tuzla", "Br\x00cko"])), encoding="utf-8"
    )
    collection = {
        "type": "FeatureCollection",
        "features": [hazard("BA-R-001", square(0, 3000), name="Žepče")],
    }
    (HERE / "cp1250.geojson").write_bytes(
        (json.dumps(collection, ensure_ascii=False, indent=1) + "\n").encode("cp1250")
    )
    zipped_shapefile(
        "cpg_says_utf8.zip",
        hazards_frame(["Doboj", "Čelebići"]),
        encoding="cp1250",
        drop=(),
        cpg="UTF-8",
    )
    write_zip(
        "same_name.zip",
        {
            f"{year}/{name}": data
            for year, first in (("2023", 23), ("2024", 24))
            for name, data in shapefile_files(
                hazards_frame([year], first), "hazards", encoding="UTF-8"
            ).items()
        },
    )
    write_zip(
        "shp_and_geojson.zip",
        {
            **shapefile_files(hazards_frame(["Tuzla"]), "hazards", encoding="UTF-8"),
            "more_hazards.geojson": hazards_frame(["Doboj"], 2, east=800).to_json().encode(),
        },
    )
    zipped_shapefile("no_shx.zip", hazards_frame(["Tuzla"]), encoding="UTF-8", drop=(".shx",))
    zipped_shapefile("no_dbf.zip", hazards_frame(["Tuzla"]), encoding="UTF-8", drop=(".dbf",))
    write("empty_collection.geojson", [])
    make_two_sheets()


def make_two_sheets() -> None:
    """A workbook of two sheets (layers without geometry): the listing must say so."""
    import datetime as dt

    import xlsxwriter

    book = xlsxwriter.Workbook(str(HERE / "two_sheets.xlsx"))
    book.set_properties({"created": dt.datetime(2024, 1, 1)})
    for sheet_name, rows in (("hazards", 2), ("notes", 1)):
        sheet = book.add_worksheet(sheet_name)
        sheet.write_row(0, 0, ["hazard_id", "class", "date", "area_m2"])
        for row in range(1, rows + 1):  # a number column: GDAL sees the first row is a header
            sheet.write_row(row, 0, [f"BA-R-{row:03d}", "SHA", "2023-04-01", 1000 * row])
    book.close()


if __name__ == "__main__":
    make()
    print(len([p for p in HERE.iterdir() if p.suffix != ".py"]), "files")
