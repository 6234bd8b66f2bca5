"""The GeoPackage of the demo run, read back with pyogrio and sqlite3."""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pyogrio
import pytest

from pipeline.model.constants import ZONES
from pipeline.outputs import geopackage
from pipeline.study import Study
from tests.conftest import write_demo_tables

SPATIAL_LAYERS = ["units", "balance_2015", "balance_2020"]
ATTRIBUTE_TABLES = ["carbon_balance", "landuse_areas", "statistics", "coefficients"]
BALANCE_FIELDS = [
    "unit", "year", "area_ha", "population_10k", "gdp_100m_yuan", "energy_tce",
    "emission_respiration_t", "emission_energy_t", "emission_t", "sink_t", "balance_t",
    "emission_intensity_t_per_ha", "sink_intensity_t_per_ha", "eec", "sec", "eec_level",
    "sec_level", "zone", "zone_zh", "zone_en",
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


def test_one_default_qgis_style_per_spatial_layer(gpkg: Path) -> None:
    with sqlite3.connect(gpkg) as connection:
        rows = connection.execute(
            "SELECT f_table_name, f_geometry_column, useAsDefault, styleQML, styleSLD "
            "FROM layer_styles ORDER BY id"
        ).fetchall()
        columns = [row[1] for row in connection.execute("PRAGMA table_info(layer_styles)")]
    connection.close()
    assert columns == [
        "id", "f_table_catalog", "f_table_schema", "f_table_name", "f_geometry_column",
        "styleName", "styleQML", "styleSLD", "useAsDefault", "description", "owner", "ui",
        "update_time",
    ]  # fmt: skip
    assert [row[0] for row in rows] == SPATIAL_LAYERS
    for layer, geometry_column, default, style_qml, style_sld in rows:
        assert default == 1
        assert geometry_column == "geom"
        renderer = ET.fromstring(style_qml).find("renderer-v2")
        assert renderer is not None
        fields = set(pyogrio.read_info(gpkg, layer=layer)["fields"])
        assert renderer.get("attr") in fields
        ET.fromstring(style_sld)


def test_zone_style_is_categorized_by_zone_colours(gpkg: Path) -> None:
    with sqlite3.connect(gpkg) as connection:
        (style,) = connection.execute(
            "SELECT styleQML FROM layer_styles WHERE f_table_name = 'units'"
        ).fetchone()
    connection.close()
    renderer = ET.fromstring(style).find("renderer-v2")
    assert renderer.get("type") == "categorizedSymbol" and renderer.get("attr") == "zone"
    assert [c.get("value") for c in renderer.iter("category")] == list(ZONES)
    assert "碳汇功能区" in style


def test_balance_style_is_graduated_and_covers_every_value(gpkg: Path) -> None:
    values = pyogrio.read_dataframe(gpkg, layer="balance_2015")["balance_t"]
    with sqlite3.connect(gpkg) as connection:
        (style,) = connection.execute(
            "SELECT styleQML FROM layer_styles WHERE f_table_name = 'balance_2015'"
        ).fetchone()
    connection.close()
    renderer = ET.fromstring(style).find("renderer-v2")
    assert renderer.get("type") == "graduatedSymbol"
    assert renderer.get("attr") == geopackage.GRADUATED_FIELD
    ranges = [(float(r.get("lower")), float(r.get("upper"))) for r in renderer.iter("range")]
    for value in values:
        assert any(low <= value <= high for low, high in ranges), value


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
