"""The GeoPackage of the demo run, read back with pyogrio and sqlite3."""

from __future__ import annotations

import itertools
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pyogrio
import pytest

from pipeline.model.constants import T_PER_10K_T, ZONE_NAMES_ZH, ZONES
from pipeline.outputs import classes, geopackage
from pipeline.study import Study
from pipeline.study.settings import MapSettings, ZoningSettings
from tests.conftest import write_demo_tables

SPATIAL_LAYERS = ["units", "balance_2015", "balance_2020"]
ATTRIBUTE_TABLES = ["carbon_balance", "landuse_areas", "statistics", "coefficients"]
BALANCE_FIELDS = [
    "unit", "year", "area_ha", "population_10k", "gdp_100m_yuan", "energy_tce",
    "emission_respiration_t", "emission_energy_t", "emission_t", "sink_t", "balance_t",
    "emission_intensity_t_per_ha", "sink_intensity_t_per_ha", "eec", "sec", "eec_level",
    "sec_level", "zone", "zone_zh", "zone_en", "compensation_rate",
]  # fmt: skip
PLAIN_OGR_TYPES = {"OFTString", "OFTInteger", "OFTInteger64", "OFTReal"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Study:
    return write_demo_tables(tmp_path_factory.mktemp("gpkg_demo"))


@pytest.fixture(scope="module")
def gpkg(demo: Study) -> Path:
    return demo.processed_dir / "carbon_balance.gpkg"


def test_layers_are_the_spatial_layers_and_attribute_tables(gpkg: Path) -> None:
    layers = dict(pyogrio.list_layers(gpkg))
    assert list(layers) == [*SPATIAL_LAYERS, *ATTRIBUTE_TABLES, "layer_styles"]
    assert {layers[name] for name in SPATIAL_LAYERS} == {"MultiPolygon"}
    assert {layers[name] for name in ATTRIBUTE_TABLES} == {None}


def test_spatial_layers_have_the_boundaries_crs_and_one_row_per_unit(gpkg: Path) -> None:
    for layer in SPATIAL_LAYERS:
        info = pyogrio.read_info(gpkg, layer=layer)
        assert info["crs"] == "EPSG:4326"
        assert info["features"] == 5
        assert set(info["ogr_types"]) <= PLAIN_OGR_TYPES, layer


def test_balance_layers_carry_every_index(gpkg: Path, demo: Study) -> None:
    info = pyogrio.read_info(gpkg, layer="balance_2020")
    assert list(info["fields"]) == BALANCE_FIELDS
    types = dict(zip(info["fields"], info["ogr_types"], strict=True))
    assert types["year"] == "OFTInteger" and types["eec"] == "OFTReal"
    layer = pyogrio.read_dataframe(gpkg, layer="balance_2020").sort_values("unit")
    table = pd.read_csv(demo.processed_dir / "carbon_balance.csv", encoding="utf-8-sig")
    expected = table[table["year"] == 2020].sort_values("unit")
    pd.testing.assert_series_equal(
        layer["balance_t"].reset_index(drop=True), expected["balance_t"].reset_index(drop=True)
    )


def test_units_layer_holds_the_zoning(gpkg: Path, demo: Study) -> None:
    layer = pyogrio.read_dataframe(gpkg, layer="units").sort_values("unit")
    zoning = pd.read_csv(demo.processed_dir / "zoning.csv", encoding="utf-8-sig")
    assert list(layer["zone"]) == list(zoning.sort_values("unit")["zone"])
    assert set(layer["zone"]) <= set(ZONES)
    assert {"eec", "sec", "eec_level", "sec_level", "zone_zh", "zone_en"} <= set(layer.columns)


def test_attribute_tables_match_the_csv_outputs(gpkg: Path, demo: Study) -> None:
    for name in ("carbon_balance", "landuse_areas"):
        table = pyogrio.read_dataframe(gpkg, layer=name)
        csv = pd.read_csv(demo.processed_dir / f"{name}.csv", encoding="utf-8-sig")
        assert len(table) == len(csv), name
    coefficients = pyogrio.read_dataframe(gpkg, layer="coefficients")
    forest = coefficients[coefficients["land_class"] == "forest"]["value"]
    assert forest.tolist() == [3.55]
    statistics = pyogrio.read_dataframe(gpkg, layer="statistics")
    assert list(statistics.columns) == [
        "unit", "year", "population_10k", "gdp_100m_yuan", "energy_tce",
    ]  # fmt: skip


def _styles(gpkg: Path) -> dict[str, tuple[str, int, str, str | None]]:
    """``layer -> (f_geometry_column, useAsDefault, styleQML, styleSLD)`` in stored order."""
    with sqlite3.connect(gpkg) as connection:
        rows = connection.execute(
            "SELECT f_table_name, f_geometry_column, useAsDefault, styleQML, styleSLD "
            "FROM layer_styles ORDER BY id"
        ).fetchall()
    connection.close()
    return {row[0]: row[1:] for row in rows}


def test_one_default_qgis_style_per_layer(gpkg: Path) -> None:
    with sqlite3.connect(gpkg) as connection:
        columns = [row[1] for row in connection.execute("PRAGMA table_info(layer_styles)")]
    connection.close()
    assert columns == [
        "id", "f_table_catalog", "f_table_schema", "f_table_name", "f_geometry_column",
        "styleName", "styleQML", "styleSLD", "useAsDefault", "description", "owner", "ui",
        "update_time",
    ]  # fmt: skip
    styles = _styles(gpkg)
    assert list(styles) == [*SPATIAL_LAYERS, *ATTRIBUTE_TABLES]
    for layer, (geometry_column, default, style_qml, style_sld) in styles.items():
        assert default == 1
        root = ET.fromstring(style_qml)
        renderer = root.find("renderer-v2")
        fields = set(pyogrio.read_info(gpkg, layer=layer)["fields"])
        if layer in SPATIAL_LAYERS:
            assert geometry_column == "geom"
            assert renderer is not None and renderer.get("attr") in fields
            ET.fromstring(style_sld)
        else:  # attribute tables: field names and precision, no symbology
            assert (geometry_column, renderer, style_sld) == ("", None, None)
        assert {a.get("field") for a in root.iter("alias")} <= fields


def test_geopackage_is_version_1_2(gpkg: Path) -> None:
    # GDAL 3.6 (QGIS LTR) warns "may only be partially supported" on 1.4 (user_version 10400)
    with sqlite3.connect(gpkg) as connection:
        (application_id,) = connection.execute("PRAGMA application_id").fetchone()
        (user_version,) = connection.execute("PRAGMA user_version").fetchone()
    connection.close()
    assert application_id.to_bytes(4, "big") == b"GPKG"
    assert user_version == 10200


def test_styles_name_fields_in_chinese_with_units_and_a_precision(gpkg: Path) -> None:
    root = ET.fromstring(_styles(gpkg)["balance_2015"][2])
    aliases = {a.get("field"): a.get("name") for a in root.iter("alias")}
    assert aliases["unit"] == "区县" and aliases["balance_t"] == "碳收支(t)"
    assert aliases["area_ha"] == "面积(hm²)" and aliases["zone_zh"] == "碳平衡分区"
    fields = pyogrio.read_info(gpkg, layer="balance_2015")["fields"].tolist()
    assert [int(a.get("index")) for a in root.iter("alias")] == [
        fields.index(a.get("field")) for a in root.iter("alias")
    ]
    precision = {
        f.get("name"): int(o.get("value"))
        for f in root.iter("field")
        for o in f.iter("Option")
        if o.get("name") == "Precision"
    }
    assert precision["area_ha"] == 1 and precision["balance_t"] == 0
    assert precision["eec"] == 3 and precision["emission_intensity_t_per_ha"] == 2
    assert "unit" not in precision and "year" not in precision
    coefficients = ET.fromstring(_styles(gpkg)["coefficients"][2])
    assert {a.get("field"): a.get("name") for a in coefficients.iter("alias")}["unit"] == "单位"


def test_labels_name_the_bundled_cjk_font(gpkg: Path) -> None:
    for layer in SPATIAL_LAYERS:
        text_style = ET.fromstring(_styles(gpkg)[layer][2]).find(".//text-style")
        assert text_style.get("fontFamily") == "Noto Sans CJK SC", layer
        assert text_style.get("fieldName") == "unit"


def test_zone_names_wherever_zone_is(gpkg: Path) -> None:
    for layer in [*SPATIAL_LAYERS, "carbon_balance"]:
        table = pyogrio.read_dataframe(gpkg, layer=layer, read_geometry=False)
        columns = list(table.columns)
        assert columns[columns.index("zone") + 1 : columns.index("zone") + 3] == [
            "zone_zh", "zone_en",
        ], layer  # fmt: skip
        assert set(table["zone_zh"]) <= set(ZONE_NAMES_ZH.values()), layer
        assert table["zone_zh"].tolist() == table["zone"].map(ZONE_NAMES_ZH).tolist()


def test_zone_style_is_categorized_by_zone_colours(gpkg: Path) -> None:
    style = _styles(gpkg)["units"][2]
    renderer = ET.fromstring(style).find("renderer-v2")
    assert renderer.get("type") == "categorizedSymbol" and renderer.get("attr") == "zone"
    assert [c.get("value") for c in renderer.iter("category")] == list(ZONES)
    assert "碳汇功能区" in style


def _ranges(style_qml: str) -> list[tuple[float, float, str]]:
    renderer = ET.fromstring(style_qml).find("renderer-v2")
    assert renderer.get("type") == "graduatedSymbol"
    assert renderer.get("attr") == geopackage.GRADUATED_FIELD
    return [
        (float(r.get("lower")), float(r.get("upper")), r.get("label"))
        for r in renderer.iter("range")
    ]


def test_balance_classes_are_shared_contiguous_and_cover_every_year(gpkg: Path) -> None:
    styles = _styles(gpkg)
    ranges = _ranges(styles["balance_2015"][2])
    assert _ranges(styles["balance_2020"][2]) == ranges
    assert len(ranges) >= 2
    assert all(lower < upper for lower, upper, _ in ranges)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    values = pd.concat(
        pyogrio.read_dataframe(gpkg, layer=layer)["balance_t"] for layer in SPATIAL_LAYERS[1:]
    )
    assert ranges[0][0] <= values.min() and values.max() <= ranges[-1][1]
    # the two years' units do not all fall in the same classes (or the maps look alike)
    classes = {
        layer: [
            next(i for i, (lo, hi, _) in enumerate(ranges) if lo <= v <= hi)
            for v in pyogrio.read_dataframe(gpkg, layer=layer).sort_values("unit")["balance_t"]
        ]
        for layer in SPATIAL_LAYERS[1:]
    }
    assert classes["balance_2015"] != classes["balance_2020"]


def test_balance_class_labels_are_in_the_maps_unit(gpkg: Path) -> None:
    ranges = _ranges(_styles(gpkg)["balance_2015"][2])
    for lower, upper, label in ranges:
        assert label.endswith("万t CO₂"), label
        low, high = (float(n.replace(",", "")) for n in label.split()[0:3:2])
        assert (low, high) == pytest.approx((lower * T_PER_10K_T, upper * T_PER_10K_T))


def test_balance_classes_are_the_maps_classes(gpkg: Path, demo: Study) -> None:
    balance = pd.read_csv(demo.processed_dir / "carbon_balance.csv", encoding="utf-8-sig")
    shared = classes.study_classes(balance, demo.maps, demo.zoning)["balance_t"]
    ranges = _ranges(_styles(gpkg)["balance_2015"][2])
    assert [r[0] for r in ranges] + [ranges[-1][1]] == pytest.approx(shared.column_edges())
    assert [r[2] for r in ranges] == [f"{label} 万t CO₂" for label in shared.labels]


def test_balance_rules_by_hand_with_user_breaks() -> None:
    # values 1.0 .. 9.9 万t, [maps.breaks] balance = [3, 7] (万t); narrowest class 3 - 1 = 2
    # wide -> 1 decimal, so the outer edges are 1.0 and 9.9: edges 1.0 | 3 | 7 | 9.9 万t
    balance = pd.DataFrame({"balance_t": [1.0e4, 5.0e4, 9.0e4, 1.2e4, 5.5e4, 9.9e4]})
    maps = MapSettings(breaks={"balance": (3.0, 7.0)})
    rules = geopackage.graduated_rules(balance, maps, ZoningSettings())
    assert [r.lower for r in rules] == pytest.approx([1.0e4, 3.0e4, 7.0e4])
    assert [r.upper for r in rules] == pytest.approx([3.0e4, 7.0e4, 9.9e4])
    assert [r.label for r in rules] == [
        "1.0 – 3.0 万t CO₂",
        "3.0 – 7.0 万t CO₂",
        "7.0 – 9.9 万t CO₂",
    ]
    assert len({r.colour for r in rules}) == 3


def test_metadata_names_the_study_and_says_synthetic(gpkg: Path) -> None:
    tags = pyogrio.read_info(gpkg, layer="units")["dataset_metadata"]
    assert tags["TITLE"] == "贵阳市碳平衡分区"
    assert tags["SYNTHETIC"] == "yes" and "合成数据" in tags["DATA_NOTE"]
    assert tags["GENERATOR"].startswith("carbon-balance-zoning")
    with sqlite3.connect(gpkg) as connection:
        descriptions = dict(connection.execute("SELECT table_name, description FROM gpkg_contents"))
        (scope,) = connection.execute("SELECT md_scope FROM gpkg_metadata").fetchone()
    connection.close()
    assert scope == "dataset"
    assert "SYNTHETIC" in descriptions["units"]
    assert descriptions["layer_styles"] == "QGIS layer styles"


def test_no_temporary_files_are_left(demo: Study) -> None:
    leftovers = [p.name for p in demo.processed_dir.iterdir() if p.name.startswith(".")]
    assert not [name for name in leftovers if "gpkg" in name]


def test_basis_year_units_layer_takes_the_latest_year() -> None:
    import geopandas as gpd
    from shapely.geometry import box

    units = gpd.GeoDataFrame({"unit": ["A", "B"]}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)],
                             crs="EPSG:4326")  # fmt: skip
    zoning = pd.DataFrame({
        "unit": ["A", "B", "A", "B"], "year": [2015, 2015, 2020, 2020],
        "eec": [1.0, 1.0, 2.0, 0.1], "sec": [1.0, 1.0, 0.1, 3.0],
        "eec_level": ["high"] * 4, "sec_level": ["low"] * 4,
        "zone": ["intensity_control"] * 3 + ["sink_function"], "zone_zh": [""] * 4,
    })  # fmt: skip
    layer = geopackage.units_layer(units, zoning)
    assert list(layer["year"]) == [2020, 2020]
    assert list(layer["zone_en"]) == ["Carbon intensity control", "Carbon sink function"]


def test_style_colours_are_qgis_rgba() -> None:
    assert geopackage._rgba("#d6604d") == "214,96,77,255"  # d6 = 214, 60 = 96, 4d = 77
    assert geopackage._rgba("#FFFFFF") == "255,255,255,255"
    with pytest.raises(ValueError, match="'red' is not of the form #rrggbb"):
        geopackage._rgba("red")


@pytest.mark.parametrize("before", [None, "FULL"])
def test_sqlite_disk_flushes_are_off_only_while_the_geopackage_is_written(
    before: str | None,
) -> None:
    name = geopackage.SQLITE_SYNCHRONOUS
    pyogrio.set_gdal_config_options({name: before})
    try:
        with geopackage._unsynchronised_sqlite():
            assert pyogrio.get_gdal_config_option(name) is False  # pyogrio reads "OFF" so
        assert pyogrio.get_gdal_config_option(name) == before
        with pytest.raises(RuntimeError, match="boom"), geopackage._unsynchronised_sqlite():
            raise RuntimeError("boom")
        assert pyogrio.get_gdal_config_option(name) == before
    finally:
        pyogrio.set_gdal_config_options({name: None})
