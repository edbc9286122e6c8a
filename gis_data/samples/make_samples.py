"""Write the sample field files in this folder: every format and every shipped profile.

Run from the repository root (``.venv/bin/python gis_data/samples/make_samples.py``); the files
are committed beside this script, and the tests and the demo read them. Everything lies inside
Bosnia and Herzegovina (``gis_data/bih_admin``), away from its borders; the hazards and results
are invented, their places are real. Geometry is made in metres around a centre with
``pyproj.Geod`` so each sample has plausible sizes (1 to 15 ha), and nothing is random, so a
re-run writes the same coordinates.

Dependencies between samples (import in this order):

* ``generic_hazards.geojson`` before ``generic_results.gpkg`` and ``generic_results.kml``;
* ``imsma_hazards.gpkg`` before ``imsma_hazreduc.gpkg``;
* every other file stands alone.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import pyogrio
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import Polygon, box, mapping

HERE = Path(__file__).resolve().parent
GEOD = Geod(ellps="WGS84")


def blob(lon: float, lat: float, radius_m: float, corners: int = 14) -> Polygon:
    """An irregular hazard-like polygon around (lon, lat), roughly ``radius_m`` across."""
    bearings = [360.0 * k / corners for k in range(corners)]
    radii = [
        radius_m * (1 + 0.18 * math.sin(3 * math.radians(b)) + 0.07 * (k % 3))
        for k, b in enumerate(bearings)
    ]
    lons, lats, _ = GEOD.fwd([lon] * corners, [lat] * corners, bearings, radii)
    return Polygon(zip(lons, lats, strict=True))


def part(hazard: Polygon, west: float, east: float) -> Polygon:
    """The band of the hazard's bounding box between two fractions of its width, padded.

    The band reaches beyond the hazard north and south, as survey polygons do: the ledger
    clips the piece to what remains.
    """
    minx, miny, maxx, maxy = hazard.bounds
    width, pad = maxx - minx, (maxy - miny) * 0.1
    return box(minx + west * width, miny - pad, minx + east * width, maxy + pad)


def write_geojson(path: Path, rows: Sequence[dict[str, object]], geoms: Sequence[Polygon]) -> None:
    """GeoJSON in EPSG:4326 (RFC 7946: no crs member)."""
    features = [
        {"type": "Feature", "properties": props, "geometry": mapping(geom)}
        for props, geom in zip(rows, geoms, strict=True)
    ]
    path.write_text(
        json.dumps(
            {"type": "FeatureCollection", "features": features}, ensure_ascii=False, indent=1
        ),
        encoding="utf-8",
    )


def zip_shapefile(
    path: Path,
    frame: gpd.GeoDataFrame,
    *,
    encoding: str = "UTF-8",
    keep_cpg: bool = True,
    keep_prj: bool = True,
) -> None:
    """A zipped shapefile, optionally without its .cpg (encoding) or .prj (CRS)."""
    with tempfile.TemporaryDirectory() as folder:
        shp = Path(folder) / f"{path.stem}.shp"
        pyogrio.write_dataframe(frame, shp, encoding=encoding)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for member in sorted(Path(folder).iterdir()):
                if (member.suffix == ".cpg" and not keep_cpg) or (
                    member.suffix == ".prj" and not keep_prj
                ):
                    continue
                archive.write(member, member.name)


def write_gpkg(path: Path, frame: gpd.GeoDataFrame, layer: str) -> None:
    """A one-layer GeoPackage, replacing any earlier one."""
    path.unlink(missing_ok=True)
    pyogrio.write_dataframe(frame, path, layer=layer)


def kml(folders: dict[str, list[tuple[dict[str, object], Polygon | None]]]) -> str:
    """KML with one Folder per key and ExtendedData for every attribute."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>landrelease sample</name>',
    ]
    for folder, placemarks in folders.items():
        parts.append(f"<Folder><name>{folder}</name>")
        for props, geom in placemarks:
            data = "".join(f'<Data name="{k}"><value>{v}</value></Data>' for k, v in props.items())
            shape = ""
            if geom is not None:
                coords = " ".join(f"{x:.7f},{y:.7f},0" for x, y in geom.exterior.coords)
                shape = (
                    "<Polygon><outerBoundaryIs><LinearRing><coordinates>"
                    f"{coords}</coordinates></LinearRing></outerBoundaryIs></Polygon>"
                )
            parts.append(
                f"<Placemark><name>{props.get('hazard_id', '')}</name>"
                f"<ExtendedData>{data}</ExtendedData>{shape}</Placemark>"
            )
        parts.append("</Folder>")
    parts.append("</Document></kml>")
    return "\n".join(parts)


# -- the generic profile ---------------------------------------------------------------------

GENERIC_HAZARDS = [
    # hazard_id, class, contamination, name, organisation, date, marked, (lon, lat), radius
    (
        "BA-G-001",
        "SHA",
        "cluster",
        "Zenica – Gradišće",
        "NPA",
        "2021-04-12",
        None,
        (17.905, 44.215),
        180,
    ),
    ("BA-G-002", "SHA", "AP", "Travnik – Vlašić", "MAG", "2021-06-03", None, (17.640, 44.260), 220),
    (
        "BA-G-003",
        "CHA",
        "CMR",
        "Olovo – Solun",
        "NPA",
        "2022-03-15",
        "2022-04-01",
        (18.560, 44.120),
        150,
    ),
    (
        "BA-G-004",
        "SHA",
        "AT",
        "Maglaj – Bočinja",
        "BHMAC",
        "2022-05-20",
        None,
        (18.080, 44.520),
        250,
    ),
    (
        "BA-G-005",
        "CHA",
        "mixed",
        "Konjic – Borci",
        "Norwegian People's Aid",
        "2023-02-10",
        None,
        (17.930, 43.640),
        130,
    ),
    (
        "BA-G-006",
        "SHA",
        "UXO",
        "Goražde – Kopači",
        "MAG",
        "2023-07-19",
        None,
        (18.990, 43.680),
        160,
    ),
]


def generic_hazard_polygons() -> dict[str, Polygon]:
    """The generic sample hazards by ID (results are cut from them)."""
    return {row[0]: blob(*row[7], row[8]) for row in GENERIC_HAZARDS}


def make_generic() -> None:
    polygons = generic_hazard_polygons()
    rows = [
        {
            "hazard_id": h,
            "class": c,
            "contamination": t,
            "name": n,
            "organisation": o,
            "date": d,
            "marked_date": m,
        }
        for h, c, t, n, o, d, m, _, _ in GENERIC_HAZARDS
    ]
    write_geojson(HERE / "generic_hazards.geojson", rows, [polygons[r[0]] for r in GENERIC_HAZARDS])

    nts = [
        (
            {
                "hazard_id": "BA-G-001",
                "activity_type": "NTS",
                "activity_ref": "NTS-2023-001",
                "organisation": "NPA",
                "date": "2023-05-10",
            },
            part(polygons["BA-G-001"], -0.1, 0.4),
        ),
        (
            {
                "hazard_id": "BA-G-002",
                "activity_type": "Non-Technical Survey",
                "activity_ref": "NTS-2023-002",
                "organisation": "MAG",
                "date": "2023-06-01",
            },
            part(polygons["BA-G-002"], 0.6, 1.1),
        ),
        (
            {
                "hazard_id": "BA-G-004",
                "activity_type": "confirmation",
                "activity_ref": "NTS-2023-003",
                "organisation": "BHMAC",
                "date": "2023-06-15",
                "cha_id": "BA-G-004-C1",
            },
            part(polygons["BA-G-004"], 0.7, 1.1),
        ),
    ]
    clearance = [
        (
            {
                "hazard_id": "BA-G-003",
                "activity_type": "TS",
                "activity_ref": "TS-2023-011",
                "organisation": "NPA",
                "start_date": "2023-08-14",
                "end_date": "2023-08-20",
            },
            part(polygons["BA-G-003"], -0.1, 0.3),
        ),
        (
            {
                "hazard_id": "BA-G-003",
                "activity_type": "clearance",
                "activity_ref": "CL-2023-021",
                "organisation": "NPA",
                "start_date": "2023-09-01",
                "end_date": "2023-10-15",
                "submunitions_found": 14,
                "submunitions_destroyed": 14,
            },
            part(polygons["BA-G-003"], 0.3, 0.7),
        ),
        (
            {
                "hazard_id": "BA-G-005",
                "activity_type": "clearance",
                "activity_ref": "CL-2024-002",
                "organisation": "Norwegian People's Aid",
                "start_date": "2024-04-01",
                "end_date": "2024-05-30",
                "ap_mines_found": 3,
                "ap_mines_destroyed": 3,
                "uxo_found": 2,
                "uxo_destroyed": 2,
            },
            part(polygons["BA-G-005"], -0.1, 1.1),
        ),
    ]
    gpkg = HERE / "generic_results.gpkg"
    gpkg.unlink(missing_ok=True)
    for layer, rows_geoms in (("nts_results", nts), ("clearance_results", clearance)):
        frame = gpd.GeoDataFrame(
            [r for r, _ in rows_geoms], geometry=[g for _, g in rows_geoms], crs=4326
        )
        pyogrio.write_dataframe(frame, gpkg, layer=layer, append=gpkg.exists())

    (HERE / "generic_results.kml").write_text(
        kml(
            {
                "NTS 2024": [
                    (
                        {
                            "hazard_id": "BA-G-006",
                            "activity_type": "NTS",
                            "activity_ref": "NTS-2024-010",
                            "organisation": "MAG",
                            "date": "2024-03-05",
                        },
                        part(polygons["BA-G-006"], -0.1, 0.5),
                    ),
                ],
                "Marking": [
                    (
                        {
                            "hazard_id": "BA-G-002",
                            "activity_type": "marking",
                            "activity_ref": "MK-2024-001",
                            "organisation": "MAG",
                            "marked_date": "2024-02-01",
                        },
                        None,
                    ),
                ],
            }
        ),
        encoding="utf-8",
    )

    gps = kml(
        {
            "Suspected": [
                (
                    {
                        "hazard_id": "BA-K-001",
                        "class": "SHA",
                        "contamination": "ERW",
                        "date": "2024-01-22",
                        "organisation": "BHMAC",
                    },
                    blob(18.100, 44.720, 120),
                ),
            ],
            "Confirmed": [
                (
                    {
                        "hazard_id": "BA-K-002",
                        "class": "CHA",
                        "contamination": "AP",
                        "date": "2024-01-23",
                        "organisation": "BHMAC",
                    },
                    blob(17.990, 44.610, 90),
                ),
            ],
        }
    )
    with zipfile.ZipFile(HERE / "generic_hazards_gps.kmz", "w", zipfile.ZIP_DEFLATED) as kmz:
        kmz.writestr("doc.kml", gps)

    # UTM zone 34N (EPSG:32634): rectangles and an L-shape laid out in metres on the grid.
    to_utm = Transformer.from_crs(4326, 32634, always_xy=True)
    utm_rows = [
        (
            "BA-U-001",
            "SHA",
            "CMR",
            "Tuzla – Šićki Brod",
            (18.700, 44.530),
            [(0, 0), (400, 0), (400, 250), (0, 250)],
        ),
        (
            "BA-U-002",
            "CHA",
            "AP_MINE",
            "Kalesija – Memići",
            (18.860, 44.430),
            [(0, 0), (300, 0), (300, 100), (120, 100), (120, 280), (0, 280)],
        ),
        (
            "BA-U-003",
            "SHA",
            "ERW",
            "Živinice – Đurđevik",
            (18.620, 44.400),
            [(0, 0), (180, -30), (260, 140), (90, 210), (-20, 120)],
        ),
    ]
    geoms = []
    for *_, (lon, lat), shape in utm_rows:
        x0, y0 = to_utm.transform(lon, lat)
        geoms.append(Polygon([(round(x0 + dx, 2), round(y0 + dy, 2)) for dx, dy in shape]))
    frame = gpd.GeoDataFrame(
        {
            "hazard_id": [r[0] for r in utm_rows],
            "class": [r[1] for r in utm_rows],
            "contaminat": [r[2] for r in utm_rows],
            "name": [r[3] for r in utm_rows],
            "date": ["2022-09-14"] * len(utm_rows),
            "organisati": ["BHMAC"] * len(utm_rows),
        },
        geometry=geoms,
        crs=32634,
    )
    zip_shapefile(HERE / "generic_hazards_utm34n.zip", frame)

    wkt_rows = [
        ("BA-W-001", "SHA", "CMR", "2023-10-02", "NPA", blob(16.670, 44.770, 140)),
        ("BA-W-002", "CHA", "AT_MINE", "2023-10-03", "NPA", blob(16.780, 44.530, 110)),
    ]
    lines = ["hazard_id,class,contamination,date,organisation,wkt"]
    lines += [
        f'{h},{c},{t},{d},{o},"{shapely.to_wkt(g, rounding_precision=7)}"'
        for h, c, t, d, o, g in wkt_rows
    ]
    (HERE / "generic_hazards_wkt.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    make_turning_points()


def make_turning_points() -> None:
    """Two hazards as turning-point tables: legs from a benchmark, and absolute corners."""
    header = (
        "polygon_id,hazard_id,class,contamination,date,organisation,point,lon,lat,"
        "bearing_deg,distance_m,declination_deg"
    )
    first = "P1,BA-T-001,SHA,CMR,2024-02-12,NPA Team 2"
    rows = [
        f"{first},BM,18.330000,44.160000,,,4.5",
        "P1,,,,,,RP1,,,45,150,",
        "P1,,,,,,TP1,,,60,40,",
        "P1,,,,,,TP2,,,90,200,",
        "P1,,,,,,TP3,,,180,150,",
        "P1,,,,,,TP4,,,270,200,",
        "P1,,,,,,TP1,,,0,149.6,",
    ]
    second = "P2,BA-T-002,CHA,AP_MINE,2024-02-13,NPA Team 2"
    corners = [(18.4100, 44.2000), (18.4125, 44.2004), (18.4131, 44.1987), (18.4106, 44.1982)]
    rows.append(f"{second},TP1,{corners[0][0]:.6f},{corners[0][1]:.6f},,,")
    rows += [f"P2,,,,,,TP{n},{x:.6f},{y:.6f},,," for n, (x, y) in enumerate(corners[1:], 2)]
    (HERE / "turning_points.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    make_turning_point_workbook(header, rows)


def make_turning_point_workbook(header: str, rows: Sequence[str]) -> None:
    """The same tables as a surveyor's workbook: numbers as numbers, empty cells left empty,
    hazard IDs changed so both samples can be imported into one database."""
    import xlsxwriter

    book = xlsxwriter.Workbook(str(HERE / "turning_points.xlsx"))
    sheet = book.add_worksheet("turning points")
    for column, name in enumerate(header.split(",")):
        sheet.write_string(0, column, name)
    for number, row in enumerate(rows, start=1):
        for column, cell in enumerate(row.split(",")):
            if not cell:
                continue
            try:
                sheet.write_number(number, column, float(cell))
            except ValueError:
                sheet.write_string(number, column, cell.replace("BA-T-", "BA-X-"))
    book.close()


# -- the IMSMA-style profile -----------------------------------------------------------------


def make_imsma() -> None:
    hazards = [
        (
            "BA-I-001",
            "Kakanj – Bjelavići",
            "Suspected Hazardous Area",
            "Cluster Munitions",
            "14/03/2022",
            (18.120, 44.130),
            200,
        ),
        (
            "BA-I-002",
            "Visoko – Mali Trnovci",
            "Confirmed Hazardous Area",
            "AP Mines",
            "02/06/2022",
            (18.180, 43.990),
            170,
        ),
        (
            "BA-I-003",
            "Breza – Vardište",
            "Suspected Hazardous Area",
            "UXO",
            "21/11/2022",
            (18.260, 44.020),
            140,
        ),
    ]
    polygons = {h[0]: blob(*h[5], h[6]) for h in hazards}
    frame = gpd.GeoDataFrame(
        {
            "HAZARD_LOCALID": [h[0] for h in hazards],
            "HAZARD_NAME": [h[1] for h in hazards],
            "HAZARD_TYPE": [h[2] for h in hazards],
            "CONTAM_TYPE": [h[3] for h in hazards],
            "DATE_OF_RECORD": [h[4] for h in hazards],
            "ORGANISATION": ["BHMAC"] * 3,
        },
        geometry=list(polygons.values()),
        crs=4326,
    )
    write_gpkg(HERE / "imsma_hazards.gpkg", frame, "HAZARD")

    reductions = [
        (
            "HR-2023-0101",
            "BA-I-001",
            "Non-Technical Survey",
            "02/05/2023",
            "04/05/2023",
            "NPA",
            0,
            0,
            0,
            0,
            part(polygons["BA-I-001"], -0.1, 0.45),
        ),
        (
            "HR-2023-0102",
            "BA-I-002",
            "Technical Survey",
            "10/07/2023",
            "28/07/2023",
            "MAG",
            0,
            0,
            1,
            1,
            part(polygons["BA-I-002"], 0.5, 1.1),
        ),
        (
            "HR-2023-0103",
            "BA-I-002",
            "Clearance",
            "01/08/2023",
            "30/09/2023",
            "MAG",
            0,
            0,
            4,
            4,
            part(polygons["BA-I-002"], -0.1, 0.5),
        ),
        (
            "HR-2024-0007",
            "BA-I-003",
            "Clearance",
            "15/04/2024",
            "20/05/2024",
            "NPA",
            6,
            6,
            0,
            0,
            part(polygons["BA-I-003"], 0.2, 0.8),
        ),
    ]
    frame = gpd.GeoDataFrame(
        {
            "HAZREDUC_LOCALID": [r[0] for r in reductions],
            "HAZARD_LOCALID": [r[1] for r in reductions],
            "HAZREDUC_TYPE": [r[2] for r in reductions],
            "HAZREDUC_START_DATE": [r[3] for r in reductions],
            "HAZREDUC_END_DATE": [r[4] for r in reductions],
            "ORG_NAME": [r[5] for r in reductions],
            "SUBMUN_FOUND": [r[6] for r in reductions],
            "SUBMUN_DESTROYED": [r[7] for r in reductions],
            "AP_FOUND": [r[8] for r in reductions],
            "AP_DESTROYED": [r[9] for r in reductions],
        },
        geometry=[r[10] for r in reductions],
        crs=4326,
    )
    write_gpkg(HERE / "imsma_hazreduc.gpkg", frame, "HAZREDUC")


# -- the KoboToolbox / ODK profile -----------------------------------------------------------


def geoshape(polygon: Polygon) -> str:
    """ODK geoshape text: 'lat lon altitude accuracy' per vertex, ';' between, ring closed."""
    return ";".join(f"{y:.7f} {x:.7f} 0 4.5" for x, y in polygon.exterior.coords)


def make_kobo() -> None:
    kb1, kb2 = blob(18.490, 44.700, 150), blob(18.420, 44.620, 100)
    submissions = [
        (
            "new_hazard",
            "BA-KB-001",
            "SHA",
            "cmr",
            "",
            "NPA Team 4",
            "Srebrenik – Tinja",
            "2024-03-08",
            "2024-03-10",
            kb1,
            {},
        ),
        (
            "new_hazard",
            "BA-KB-002",
            "CHA",
            "ap_mine",
            "",
            "NPA Team 4",
            "Gračanica – Lukavica",
            "2024-03-11",
            "2024-03-11",
            kb2,
            {},
        ),
        (
            "nts_cancel",
            "BA-KB-001",
            "",
            "",
            "NTS-KB-2024-07",
            "NPA Team 4",
            "",
            "2024-04-02",
            "2024-04-03",
            part(kb1, -0.1, 0.5),
            {},
        ),
        (
            "clearance",
            "BA-KB-002",
            "",
            "",
            "CL-KB-2024-02",
            "NPA Team 1",
            "",
            "2024-05-06",
            "2024-06-20",
            part(kb2, -0.1, 1.1),
            {"ap_found": 2, "ap_destroyed": 2},
        ),
    ]
    header = [
        "start",
        "end",
        "today",
        "result/activity_type",
        "result/hazard_id",
        "result/hazard_class",
        "result/contamination",
        "result/task_ref",
        "result/team_org",
        "result/place_name",
        "result/date_start",
        "result/date_end",
        "result/boundary",
        "items/submunitions_found",
        "items/submunitions_destroyed",
        "items/ap_found",
        "items/ap_destroyed",
        "_id",
        "_uuid",
        "_submission_time",
    ]
    lines = [",".join(header)]
    for n, (kind, hid, cls, cont, ref, org, place, start, end, geom, items) in enumerate(
        submissions, start=1
    ):
        values = [
            f"{start}T08:02:11.000+01:00",
            f"{end}T15:40:05.000+01:00",
            end,
            kind,
            hid,
            cls,
            cont,
            ref,
            org,
            place,
            start,
            end,
            geoshape(geom),
            "0",
            "0",
            str(items.get("ap_found", 0)),
            str(items.get("ap_destroyed", 0)),
            str(1000 + n),
            f"5b0c9d2e-7f3a-4c1e-9a8b-00000000000{n}",
            f"{end}T16:00:00",
        ]
        lines.append(",".join(f'"{v}"' for v in values))
    (HERE / "kobo_results.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    kg1, kg2 = blob(18.550, 44.650, 130), blob(18.600, 44.590, 120)
    rows = [
        {
            "result/activity_type": "new_hazard",
            "result/hazard_id": "BA-KG-001",
            "result/hazard_class": "SHA",
            "result/contamination": "erw",
            "result/team_org": "MAG Team 2",
            "result/place_name": "Lukavac – Puračić",
            "result/date_end": "2024-05-02",
            "_uuid": "d1f6a3b0-0000-4000-8000-000000000001",
        },
        {
            "result/activity_type": "new_hazard",
            "result/hazard_id": "BA-KG-002",
            "result/hazard_class": "CHA",
            "result/contamination": "cmr",
            "result/team_org": "MAG Team 2",
            "result/place_name": "Tuzla – Husino",
            "result/date_end": "2024-05-03",
            "_uuid": "d1f6a3b0-0000-4000-8000-000000000002",
        },
        {
            "result/activity_type": "ts_reduce",
            "result/hazard_id": "BA-KG-001",
            "result/task_ref": "TS-KG-2024-01",
            "result/team_org": "MAG Team 2",
            "result/date_start": "2024-06-03",
            "result/date_end": "2024-06-12",
            "_uuid": "d1f6a3b0-0000-4000-8000-000000000003",
        },
    ]
    geoms = [kg1, kg2, part(kg1, 0.5, 1.1)]
    features = [
        {
            "type": "Feature",
            "properties": props,
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[round(x, 7), round(y, 7), 212.0] for x, y in g.exterior.coords]],
            },
        }
        for props, g in zip(rows, geoms, strict=True)
    ]
    (HERE / "kobo_results.geojson").write_text(
        json.dumps(
            {"type": "FeatureCollection", "features": features}, ensure_ascii=False, indent=1
        ),
        encoding="utf-8",
    )


def main() -> None:
    make_generic()
    make_imsma()
    make_kobo()
    for leftover in HERE.glob("*.gpkg-*"):
        leftover.unlink()
    shutil.rmtree(HERE / "__pycache__", ignore_errors=True)
    print("\n".join(sorted(p.name for p in HERE.iterdir() if p.name != Path(__file__).name)))


if __name__ == "__main__":
    main()
