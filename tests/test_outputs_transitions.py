"""Land-use transitions through a whole run: a MODIS-like study with a per-code coefficient,
the tables, workbook sheets, GeoPackage tables, figures, report section and the cache."""

from __future__ import annotations

import itertools
from pathlib import Path

import matplotlib as mpl
import openpyxl
import pandas as pd
import pyogrio
import pytest

from pipeline.api import run_study, write_outputs
from pipeline.model.transitions import STUDY_TOTAL
from pipeline.outputs import transitions as outputs
from pipeline.outputs.fonts import cjk_rc
from pipeline.study import load_study
from pipeline.zonal import cache

MODIS_2015 = (0, 1, 8, 12)  # water (MCD12C1), evergreen needleleaf, woody savanna, cropland
MODIS_2020 = (0, 1, 12, 12)  # every woody savanna pixel (code 8) became cropland (12)
STUDY = """\
[study]
name = "modis 转移"
[boundaries]
path = "units.gpkg"
[landuse]
scheme = "modis_igbp"
rasters = {{ 2015 = "lu_2015.tif", 2020 = "lu_2020.tif" }}
[statistics]
path = "statistics.csv"
[coefficients]
sink_t_per_ha = {{ "8" = 2.0 }}
[output]
maps = {maps}
"""


def modis_study(root: Path, *, maps: bool = False) -> Path:
    """Units A and B (10 × 20 pixels of 1 ha each); code 8 -> 12 on 50 ha of each unit."""
    from conftest import TOY_STATISTICS, write_raster, write_vector

    for year, codes in ((2015, MODIS_2015), (2020, MODIS_2020)):
        write_raster(root, {"path": f"lu_{year}.tif", "codes": codes, "nodata": "none"})
    write_vector(root, {"path": "units.gpkg"})
    TOY_STATISTICS.to_csv(root / "statistics.csv", index=False)
    study = root / "study.toml"
    study.write_text(STUDY.format(maps=str(maps).lower()), encoding="utf-8")
    return study


def test_modis_sink_change_with_a_per_code_coefficient(tmp_path: Path) -> None:
    results = run_study(modis_study(tmp_path))
    assert results.transitions is not None
    codes = results.transitions.codes.set_index(["unit", "code_from", "code_to"])
    # code 8 (woody savanna, its own 2.0 t/ha) -> 12 (cropland 1.16 t/ha) on 50 ha:
    # (1.16 − 2.0) × 50 = −42 t CO₂ per unit
    for unit in ("A", "B"):
        row = codes.loc[(unit, 8, 12)]
        assert row["area_ha"] == pytest.approx(50.0)
        assert row["sink_from_t_per_ha"] == 2.0 and row["sink_to_t_per_ha"] == 1.16
        assert row["sink_change_t"] == pytest.approx(-42.0)
        assert codes.loc[(unit, 1, 1), "sink_change_t"] == 0.0
    # the 2020 sink is the 2015 sink (463.5 t) plus the change: 463.5 − 42 = 421.5 t
    sinks = results.balance.set_index(["unit", "year"])["sink_t"]
    assert sinks[("A", 2015)] == pytest.approx(463.5)
    assert sinks[("A", 2020)] == pytest.approx(463.5 - 42.0)
    summary = results.transitions.summary.set_index("unit")
    assert summary.loc["A", "changed_ha"] == pytest.approx(50.0)
    # LC = 50 / (2 × 200) / 5 × 100 = 2.5 % per year
    assert summary.loc["A", "comprehensive_dynamic_degree_pct_per_year"] == pytest.approx(2.5)
    assert summary.loc[STUDY_TOTAL, "sink_change_t"] == pytest.approx(-84.0)
    dynamics = results.transitions.dynamics.set_index(["unit", "class"])
    # MODIS 8 (woody savanna) is forest: 100 ha -> 50 ha, K = −50 / 100 / 5 × 100 = −10 %/a
    assert dynamics.loc[("A", "forest"), "single_dynamic_degree_pct_per_year"] == pytest.approx(
        -10.0
    )


def test_tables_sheets_and_geopackage_hold_the_transitions(tmp_path: Path) -> None:
    results = run_study(modis_study(tmp_path))
    write_outputs(results)
    processed = tmp_path / "data" / "processed"
    for name, (attribute, _) in outputs.SHEETS.items():
        written = pd.read_csv(processed / f"{name}.csv", dtype={"unit": str})
        expected = getattr(results.transitions, attribute)
        assert list(written.columns) == list(expected.columns)
        assert len(written) == len(expected)
    book = openpyxl.load_workbook(processed / "carbon_balance.xlsx", read_only=True)
    assert set(outputs.SHEETS) <= set(book.sheetnames)
    header = next(book["transitions"].iter_rows(max_row=1, values_only=True))
    assert "碳汇变化(t)" in header and "转出地类代码" in header
    layers = {name for name, _ in pyogrio.list_layers(processed / "carbon_balance.gpkg")}
    assert set(outputs.SHEETS) <= layers
    table = pyogrio.read_dataframe(
        processed / "carbon_balance.gpkg", layer="transitions", read_geometry=False
    )
    assert table["sink_change_t"].min() == pytest.approx(-42.0)


def test_transitions_are_cached_and_recomputed_when_their_table_is_damaged(
    tmp_path: Path,
) -> None:
    study = modis_study(tmp_path)
    first = run_study(study)
    write_outputs(first)
    key = cache.areas_key(load_study(study))
    stored = tmp_path / cache.transitions_path(key)
    assert stored.is_file()
    second = run_study(study)
    assert second.inputs.cache_reused
    pd.testing.assert_frame_equal(second.transitions.codes, first.transitions.codes)
    stored.write_text(stored.read_text(encoding="utf-8") + "A,2015,2020,1,1,1,1\n", "utf-8")
    third = run_study(study)
    assert not third.inputs.cache_reused
    assert any("lack verified transitions" in note for note in third.notes)
    pd.testing.assert_frame_equal(third.transitions.codes, first.transitions.codes)


def test_transitions_false_counts_none(tmp_path: Path) -> None:
    study = modis_study(tmp_path)
    text = study.read_text(encoding="utf-8").replace(
        "[statistics]", "transitions = false\n[statistics]"
    )
    study.write_text(text, encoding="utf-8")
    results = run_study(study)
    assert results.transitions is None
    assert results.inputs.transitions is not None and results.inputs.transitions.empty


def test_report_section_and_figures(tmp_path: Path) -> None:
    results = run_study(modis_study(tmp_path, maps=True))
    written = {p.relative_to(tmp_path).as_posix() for p in write_outputs(results)}
    assert "maps/landuse_transitions_2015_2020.png" in written
    assert "maps/transition_sink_change_2015_2020.png" in written
    assert not [path for path in written if not path.endswith(".png") and "maps/" in path]
    report = (tmp_path / "data" / "processed" / "report.html").read_text(encoding="utf-8")
    assert '<section id="transitions">' in report
    assert 'id="figure-landuse_transitions_2015_2020"' in report
    section = report.split('<section id="transitions">')[1].split("</section>")[0]
    assert "林地" in section and "耕地" in section  # forest -> cropland, in Chinese
    assert "-84.0" in section  # the study's net sink change (t CO₂ per year)


def test_flow_figure_labels_do_not_overlap() -> None:
    """Many small flows: node labels of a column are pushed apart, none overlaps the next."""
    classes = ["cropland", "forest", "grassland", "water", "built_up", "unused"]
    rows = [
        ("A", 2015, 2020, a, b, 1000.0 if (a, b) == ("cropland", "built_up") else 1.0, 0.0)
        for a in classes
        for b in classes
        if a != b
    ]
    table = pd.DataFrame(rows, columns=["unit", "year_from", "year_to", "class_from",
                                        "class_to", "area_ha", "sink_change_t"])  # fmt: skip
    with mpl.rc_context(cjk_rc()):
        figure = outputs.plot_class_flows(table, 2015, 2020, language="zh")
        figure.canvas.draw()
        renderer = figure.canvas.get_renderer()
        ax = figure.axes[0]
        for side in (0.0, 1.0):
            texts = [t for t in ax.texts if "hm²" in t.get_text()]
            boxes = sorted(
                (t.get_window_extent(renderer) for t in texts
                 if (t.get_position()[0] > 0.5) == (side > 0.5)),
                key=lambda box: box.y0,
            )  # fmt: skip
            assert len(boxes) == 6
            for lower, upper in itertools.pairwise(boxes):
                assert lower.y1 <= upper.y0 + 0.5  # pixels


def test_maps_command_redraws_the_transition_figures_of_the_last_run(tmp_path: Path) -> None:
    from pipeline.api import render_maps

    study = modis_study(tmp_path, maps=True)
    with study.open("a", encoding="utf-8") as file:  # vector copies besides the PNGs
        file.write('[maps]\nformats = ["png", "svg", "pdf"]\n')
    write_outputs(run_study(study))
    redrawn = {p.relative_to(tmp_path).as_posix() for p in render_maps(study)}
    assert "maps/landuse_transitions_2015_2020.png" in redrawn
    stem = "maps/transition_sink_change_2015_2020"
    assert {f"{stem}.png", f"{stem}.svg", f"{stem}.pdf"} <= redrawn
    assert (tmp_path / f"{stem}.pdf").read_bytes().startswith(b"%PDF")
    report = (tmp_path / "data" / "processed" / "report.html").read_text(encoding="utf-8")
    assert '<section id="transitions">' in report and "-84.0" in report
    text = study.read_text(encoding="utf-8").replace(
        "[statistics]", "transitions = false\n[statistics]"
    )
    study.write_text(text, encoding="utf-8")
    write_outputs(run_study(study))  # the older transition CSVs stay, but are not this run's
    redrawn = {p.relative_to(tmp_path).as_posix() for p in render_maps(study)}
    assert not any("transition" in path for path in redrawn)


def test_class_flows_of_one_unit_or_the_study() -> None:
    """Changed land by class pair (nodata and unchanged land apart), per unit on request."""
    rows = [
        ("A", 2015, 2020, "cropland", "built_up", 20.0, -23.2),
        ("A", 2015, 2020, "cropland", "cropland", 80.0, 0.0),
        ("A", 2015, 2020, "nodata", "forest", 5.0, float("nan")),
        ("B", 2015, 2020, "cropland", "built_up", 6.0, -6.96),
        ("B", 2015, 2020, "forest", "forest", 14.0, 0.0),
    ]
    table = pd.DataFrame(rows, columns=["unit", "year_from", "year_to", "class_from",
                                        "class_to", "area_ha", "sink_change_t"])  # fmt: skip
    flows, unchanged_ha, valid_ha = outputs.class_flows(table, 2015, 2020)
    assert flows.to_dict("records") == [
        {"class_from": "cropland", "class_to": "built_up", "area_ha": 26.0}
    ]
    assert (unchanged_ha, valid_ha) == (94.0, 120.0)  # 80 + 14 of 20 + 80 + 6 + 14
    flows, unchanged_ha, valid_ha = outputs.class_flows(table, 2015, 2020, unit="B")
    assert flows["area_ha"].tolist() == [6.0] and (unchanged_ha, valid_ha) == (14.0, 20.0)
