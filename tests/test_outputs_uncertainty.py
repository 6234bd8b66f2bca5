"""zone_uncertainty: the table, workbook sheet, GeoPackage layers, report section and the
zone-stability map of a study with [uncertainty]; a study without it writes what it wrote."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import matplotlib as mpl
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from openpyxl import load_workbook

from pipeline import run_study, write_outputs
from pipeline.api import read_units
from pipeline.model.constants import ZONES
from pipeline.model.uncertainty import UNCERTAINTY_COLUMNS, probability_column
from pipeline.outputs import render, report
from pipeline.outputs import uncertainty as stability
from pipeline.outputs.fonts import cjk_rc
from pipeline.study import Study
from tests.conftest import PNG_MAGIC, TEST_DPI, TOY_STUDY, write_demo_tables

# SEC breaks moved next to 息烽县's mean SEC (1.51), so its zone is split between draws.
UNCERTAIN = """\
[output]
maps = false

[zoning]
sec_breaks = [1.5, 2.0]

[uncertainty]
forest = [2.5, 4.5]
cropland = { mean = 1.16, sd = 0.4 }
respiration = [2900, 3700]
energy_factor = [2.4, 2.8]
draws = 400
seed = 1
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Study:
    return write_demo_tables(tmp_path_factory.mktemp("uncertainty_demo"), UNCERTAIN)


@pytest.fixture(scope="module")
def table(demo: Study) -> pd.DataFrame:
    return pd.read_csv(demo.processed_dir / "zone_uncertainty.csv", encoding="utf-8-sig")


def test_table_has_one_row_per_unit_and_year(table: pd.DataFrame, demo: Study) -> None:
    assert list(table.columns) == UNCERTAINTY_COLUMNS
    assert len(table) == 10 and set(table["year"]) == {2015, 2020}
    shares = table[[probability_column(zone) for zone in ZONES]].sum(axis=1)
    np.testing.assert_allclose(shares, 1.0)
    zoning = pd.read_csv(demo.processed_dir / "zoning.csv", encoding="utf-8-sig")
    merged = table.merge(zoning, on="unit", suffixes=("", "_zoning"))
    assert (merged["zone"] == merged["zone_zoning"]).all()  # the deterministic zone beside


def test_the_unit_near_the_break_is_split(table: pd.DataFrame) -> None:
    row = table[table["unit"] == "息烽县"].iloc[0]
    assert 0.3 < row["modal_probability"] < 0.9
    others = table[table["unit"] != "息烽县"]
    assert (others["modal_probability"] == 1.0).all()
    assert (table["emission_t_p05"] < table["emission_t_p95"]).all()


def test_workbook_sheet_in_chinese(demo: Study) -> None:
    book = load_workbook(demo.processed_dir / "carbon_balance.xlsx", read_only=True)
    assert "zone_uncertainty" in book.sheetnames
    header = [cell.value for cell in next(book["zone_uncertainty"].iter_rows(max_row=1))]
    assert header[:2] == ["区县", "年份"]
    assert "众数分区概率" in header and "碳排放总量5%分位(t CO₂)" in header
    notes = [
        row[2] for row in book["说明"].iter_rows(values_only=True) if row[0] == "zone_uncertainty"
    ]
    assert "modal_probability" in notes and "sec_p95" in notes


def test_geopackage_layers(demo: Study, table: pd.DataFrame) -> None:
    path = demo.processed_dir / "carbon_balance.gpkg"
    layer = gpd.read_file(path, layer="zone_stability")
    assert len(layer) == 5
    expected = table.drop_duplicates("unit").set_index("unit")["modal_zone"]
    assert layer.set_index("unit")["modal_zone"].to_dict() == expected.to_dict()
    assert {"modal_zone_zh", "modal_probability", probability_column(ZONES[0])} <= set(layer)
    attributes = gpd.read_file(path, layer="zone_uncertainty")
    assert len(attributes) == len(table)
    with sqlite3.connect(path) as connection:
        style = connection.execute(
            "SELECT styleQML FROM layer_styles WHERE f_table_name = 'zone_stability'"
        ).fetchone()[0]
    assert 'type="categorizedSymbol" attr="modal_zone"' in style


def test_report_section(demo: Study) -> None:
    tables = render.read_tables(demo, read_units(demo))
    assert tables.uncertainty is not None
    page = report.report_html(demo, tables, {})
    assert '<section id="uncertainty">' in page
    assert "400 coefficient sets were drawn (seed 1)" in page
    assert "<code>forest</code> uniform [2.5, 4.5]" in page and "truncated at 0" in page
    assert "uncertainty: draws, seed" in page  # the inputs table


def test_zone_stability_map(demo: Study, tmp_path: Path, table: pd.DataFrame) -> None:
    rows = dict(stability.stability_rows(table, demo.zoning.basis))
    assert list(rows) == ["zone_stability"]
    with mpl.rc_context(cjk_rc()):
        ax = stability.plot_zone_stability(read_units(demo), rows["zone_stability"])
        hatches = {patch.get_hatch() for collection in ax.collections
                   for patch in [collection] if collection.get_hatch()}  # fmt: skip
        assert hatches == {"xxxx"}  # only 息烽县 (58 %) is hatched: < 60 %
        texts = [t.get_text() for legend in _legends(ax.figure) for t in legend.get_texts()]
        assert "不稳定 < 60%" in texts and "碳汇功能区\nCarbon sink function" in texts
        out = tmp_path / "zone_stability.png"
        render.save_figure(ax.figure, out, "png", dpi=TEST_DPI)
    assert out.read_bytes().startswith(PNG_MAGIC)


def _legends(figure: Figure) -> list:
    ax = figure.axes[0]
    return [child for child in ax.get_children() if child.__class__.__name__ == "Legend"]


def test_certainty_classes_by_hand() -> None:
    assert stability.certainty_class(1.0).key == "stable"
    assert stability.certainty_class(0.9).key == "stable"
    assert stability.certainty_class(0.899).key == "likely"
    assert stability.certainty_class(0.6).key == "likely"
    assert stability.certainty_class(0.25).key == "unstable"


def test_without_uncertainty_nothing_changes(toy_study: Callable[..., Path]) -> None:
    plain_text = TOY_STUDY + "\n[output]\nmaps = false\n"
    plain = toy_study(plain_text, folder="plain")
    drawn = toy_study(plain_text + "\n[uncertainty]\nforest = [1, 6]\ndraws = 50\n", folder="u")
    assert run_study(plain).uncertainty is None
    written = {p.name: p for p in write_outputs(run_study(plain))}
    with_draws = {p.name: p for p in write_outputs(run_study(drawn))}
    assert "zone_uncertainty.csv" not in written
    assert set(with_draws) - set(written) == {"zone_uncertainty.csv"}
    for name in ("carbon_balance.csv", "zoning.csv", "landuse_areas.csv"):
        assert written[name].read_bytes() == with_draws[name].read_bytes()
    book = load_workbook(written["carbon_balance.xlsx"], read_only=True)
    assert "zone_uncertainty" not in book.sheetnames
    settings = json.loads(written["run.json"].read_text(encoding="utf-8"))["settings"]
    assert settings["uncertainty"] is None
    assert "uncertainty" not in json.loads(written["run.json"].read_text())["timings_s"]


def test_basis_year_draws_one_stability_map_per_year(tmp_path: Path) -> None:
    extra = UNCERTAIN.replace("[zoning]\n", '[zoning]\nbasis = "year"\n').replace(
        "draws = 400", "draws = 50"
    )
    study = write_demo_tables(tmp_path, extra)
    tables = render.read_tables(study, read_units(study))
    assert tables.uncertainty is not None
    assert len(tables.uncertainty) == 10  # one row per unit and year, each year its own zone
    with mpl.rc_context(cjk_rc()):
        stems = [stem for stem, _ in render.figures(study, tables)]
    assert {"zone_stability_2015", "zone_stability_2020"} <= set(stems)
    assert stems.index("zone_stability_2015") == stems.index("zoning_2020") + 1
    title_zh, title_en = report.figure_titles("zone_stability_2020", study.name)
    assert title_zh == "贵阳市碳平衡分区：分区稳定性 2020" and "Zone stability 2020" in title_en


def test_a_wide_region_keeps_the_map_box_so_legends_do_not_stack() -> None:
    import shapely

    boxes = [shapely.box(105 + i * 0.8, 26, 105.8 + i * 0.8, 26.6) for i in range(8)]
    units = gpd.GeoDataFrame({"unit": [f"测试{i}县" for i in range(8)]}, geometry=boxes, crs=4326)
    rows = pd.DataFrame({"unit": units["unit"], "modal_zone": ZONES[0], "modal_probability": 1.0})
    with mpl.rc_context(cjk_rc()):
        ax = stability.plot_zone_stability(units, rows, labels="none")
        laid_out = ax.get_position(original=True).bounds
        ax.apply_aspect()
        np.testing.assert_allclose(ax.get_position().bounds, laid_out, atol=1e-6)
        first, second = _legends(ax.figure)
        ax.figure.draw_without_rendering()
        upper, lower = (legend.get_window_extent() for legend in (first, second))
        assert lower.y1 < upper.y0  # the certainty legend lies below the zone legend
