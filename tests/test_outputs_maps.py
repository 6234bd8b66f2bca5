"""Maps: the demo renders in Chinese and English with no missing glyph; classes; errors."""

from __future__ import annotations

import io
import warnings
from dataclasses import replace
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
import PIL.Image
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

from pipeline.api import read_units
from pipeline.cli import main
from pipeline.errors import InputError, StudyError
from pipeline.model import balance
from pipeline.outputs import classes as classification
from pipeline.outputs import figures, labels, maps, render
from pipeline.outputs.fonts import cjk_rc
from pipeline.outputs.provenance import Provenance
from pipeline.study import Study, load_study
from tests.conftest import (
    PNG_MAGIC,
    TEST_DPI,
    demo_study_file,
    expected_stems,
    write_demo_tables,
)


@pytest.fixture(scope="module")
def demo_tables(tmp_path_factory: pytest.TempPathFactory) -> Study:
    return write_demo_tables(tmp_path_factory.mktemp("maps_demo"))


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.filterwarnings("error:Glyph:UserWarning")
def test_demo_maps_render_every_glyph(language: str, demo_tables: Study) -> None:
    study = replace(demo_tables, maps=replace(demo_tables.maps, language=language))
    written = render.render_maps(study, read_units(study), dpi=TEST_DPI, formats=("png",))
    pngs = {path.stem for path in written if path.suffix == ".png"}
    assert pngs == expected_stems([2015, 2020])
    for path in written:
        assert path.is_file()
    maps_dir = study.output_dir / "maps"
    assert (maps_dir / "zoning.png").read_bytes().startswith(PNG_MAGIC)
    assert not list(maps_dir.glob(".*.tmp")), "temporary files left behind"


def test_a_missing_glyph_fails_loudly() -> None:
    """The check above is real: a character the font lacks raises the warning."""
    with mpl.rc_context(cjk_rc()), pytest.warns(UserWarning, match="Glyph"):
        figure = Figure()
        figure.text(0.5, 0.5, "CO\N{SUBSCRIPT TWO}")
        figure.savefig(io.BytesIO(), dpi=10)


def test_default_png_is_300_dpi_and_svg_has_no_font_dependency(
    demo_tables: Study, tmp_path: Path
) -> None:
    tables = render.read_tables(demo_tables, read_units(demo_tables))
    with mpl.rc_context(cjk_rc()):
        ax = maps.plot_zoning(tables.units, tables.zoning, language="zh")
        png, svg = tmp_path / "zoning.png", tmp_path / "zoning.svg"
        render.save_figure(ax.figure, png, "png")
        render.save_figure(ax.figure, svg, "svg")
    width_in, _ = ax.figure.get_size_inches()
    image = mpl.image.imread(png)
    assert image.shape[1] == round(width_in * render.PNG_DPI)
    assert "<text" not in svg.read_text(encoding="utf-8")


def test_png_is_lossless_records_its_dpi_and_the_report_copy_is_1200_px_wide(
    tmp_path: Path,
) -> None:
    rgb = np.random.default_rng(0).integers(0, 256, size=(37, 53, 3), dtype=np.uint8)
    path = tmp_path / "pixels.png"
    with path.open("wb") as file:
        render.write_png(file, rgb, 300)
    with PIL.Image.open(path) as image:
        assert image.mode == "RGB" and image.info["dpi"] == pytest.approx((300, 300), abs=0.01)
        assert np.array_equal(np.asarray(image), rgb)
    # the renderer's RGBA buffer (opaque) is written as the same RGB, a block of rows at a time
    rgba = np.random.default_rng(1).integers(0, 256, size=(300, 7, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    buffer = io.BytesIO()
    render.write_png(buffer, rgba)
    with PIL.Image.open(buffer) as image:
        assert image.mode == "RGB" and np.array_equal(np.asarray(image), rgba[..., :3])
    figure = Figure(figsize=(8.0, 5.0))
    figure.text(0.5, 0.5, "碳汇", color="#2a9d8f", fontsize=40)
    with mpl.rc_context(cjk_rc()):
        report_png = render.save_png_and_report_image(figure, tmp_path / "figure.png", dpi=150)
    with (
        PIL.Image.open(tmp_path / "figure.png") as full,
        PIL.Image.open(io.BytesIO(report_png)) as small,
    ):
        assert full.size == (1200, 750) and small.size == (render.REPORT_IMAGE_PX, 750)
        # 8 in at 150 dpi is 1200 px already: the report's copy is the same pixels
        assert np.array_equal(np.asarray(full), np.asarray(small))
        assert (np.asarray(full) != 255).any()  # something was drawn


def test_svg_text_as_text_keeps_the_labels_editable(demo_tables: Study, tmp_path: Path) -> None:
    tables = render.read_tables(demo_tables, read_units(demo_tables))
    with mpl.rc_context(cjk_rc()):
        ax = maps.plot_zoning(tables.units, tables.zoning, language="zh")
        svg = tmp_path / "zoning.svg"
        render.save_figure(ax.figure, svg, "svg", svg_text="text")
    text = svg.read_text(encoding="utf-8")
    # titles, legends and footnotes are text; labels with a white halo (path effects) stay
    # outlines, as matplotlib draws path effects as paths
    assert "<text" in text and "碳强度控制区" in text and "Noto Sans CJK SC" in text


def test_plot_functions_draw_on_the_given_axes(demo_tables: Study) -> None:
    tables = render.read_tables(demo_tables, read_units(demo_tables))
    rows = tables.balance[tables.balance["year"] == 2020]
    with mpl.rc_context(cjk_rc()):
        for draw in (
            lambda ax: maps.plot_zoning(tables.units, tables.zoning, ax=ax),
            lambda ax: maps.plot_indicator(tables.units, rows, labels.INDICATORS[2], ax=ax),
            lambda ax: figures.plot_eec_sec(
                tables.balance, tables.zoning, demo_tables.zoning, ax=ax
            ),
            lambda ax: figures.plot_landuse_bars(tables.landuse_areas, ax=ax),
            lambda ax: figures.plot_emission_bars(tables.balance, ax=ax),
        ):
            ax = Figure().add_subplot()
            assert draw(ax) is ax


def test_zoning_legend_names_every_zone_in_both_languages(demo_tables: Study) -> None:
    tables = render.read_tables(demo_tables, read_units(demo_tables))
    with mpl.rc_context(cjk_rc()):
        ax = maps.plot_zoning(tables.units, tables.zoning, language="zh")
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == [
        "碳强度控制区\nCarbon intensity control",
        "碳收支平衡区\nCarbon budget balance",
        "碳汇功能区\nCarbon sink function",
        "低碳优化区\nLow-carbon optimisation",
    ]


def test_demo_footnote_says_synthetic(demo_tables: Study) -> None:
    from pipeline.outputs.provenance import study_provenance

    provenance = study_provenance(demo_tables)
    assert provenance.synthetic
    assert "合成" in render.footnote_text(provenance, "zh")
    assert "SYNTHETIC" in render.footnote_text(provenance, "en")
    assert "guiyang_counties.gpkg" in render.footnote_text(provenance, "en")


def test_charts_have_no_projection_note_and_maps_do() -> None:
    provenance = Provenance("units.gpkg", "areas.csv", "statistics.csv", ("areas.csv",))
    for language in ("zh", "en"):
        projection = labels.TEXT[language]["projection"]
        on_map = render.footnote_text(provenance, language, "年鉴", kind="map")
        on_chart = render.footnote_text(provenance, language, "年鉴", kind="chart")
        assert projection in on_map and "units.gpkg" in on_map
        assert projection not in on_chart and "units.gpkg" not in on_chart
        assert "areas.csv" in on_chart and "statistics.csv" in on_chart and "年鉴" in on_chart
        assert labels.TEXT[language]["synthetic"] in on_chart
    kinds = {stem: render.figure_kind(stem) for stem in ("zoning", "balance_2015",
                                                         "eec_sec_scatter", "landuse_composition",
                                                         "emission_sink_bars")}  # fmt: skip
    assert kinds == {"zoning": "map", "balance_2015": "map", "eec_sec_scatter": "chart",
                     "landuse_composition": "chart", "emission_sink_bars": "chart"}  # fmt: skip


def test_footnote_without_synthetic_inputs_has_no_warning() -> None:
    provenance = Provenance("units.gpkg", "areas.csv", "statistics.csv", ())
    text = render.footnote_text(provenance, "zh", extra="统计年鉴 2021")
    assert "合成" not in text
    assert "统计年鉴 2021" in text


def test_wrap_line_counts_cjk_as_two_columns() -> None:
    wrapped = labels.wrap_line("碳" * 30, 20)
    assert [len(line) for line in wrapped.splitlines()] == [10, 10, 10]


# --------------------------------------------------------------------------- classification


def test_unknown_classification_lists_the_valid_schemes() -> None:
    with pytest.raises(InputError, match=r"unknown classification 'Jenks'.*NaturalBreaks"):
        classification.classify_values([1.0, 2.0], scheme="Jenks", k=2, cmap="OrRd")


def test_study_rejects_an_unknown_classification(tmp_path: Path) -> None:
    path = demo_study_file(tmp_path, '[maps]\nclassification = "jenks"\n')
    with pytest.raises(StudyError, match=r"maps\.classification.*'NaturalBreaks'.*'jenks'"):
        load_study(path)


@pytest.mark.parametrize("scheme", classification.CLASSIFICATION_SCHEMES)
def test_every_scheme_caps_classes_at_distinct_values(scheme: str) -> None:
    values = [3.0, 3.0, 7.0, 7.0, 12.0]
    classes = classification.classify_values(values, scheme=scheme, k=5, cmap="OrRd")
    assert classes.count <= 3
    used = set(classes.class_of_value)
    assert used == set(range(classes.count)) or scheme in classification.SCHEMES_WITHOUT_K


def test_values_equal_to_three_decimals_share_a_class() -> None:
    values = [0.35, 0.7220, 0.7222, 1.01, 1.31]
    classes = classification.classify_values(values, scheme="NaturalBreaks", k=5, cmap="PuOr")
    assert classes.class_of_value[1] == classes.class_of_value[2]


def test_natural_breaks_is_reproducible() -> None:
    values = np.random.default_rng(1).gamma(2.0, 3.0, 60)
    first = classification.classify_values(values, scheme="NaturalBreaks", k=5, cmap="OrRd")
    second = classification.classify_values(values, scheme="NaturalBreaks", k=5, cmap="OrRd")
    assert first == second


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=30),
    st.integers(2, 9),
)
def test_diverging_classes_never_straddle_the_centre(values: list[float], k: int) -> None:
    classes = classification.classify_values(
        values, scheme="FisherJenks", k=k, cmap="RdBu_r", centre=0.0
    )
    y = np.asarray(values)
    for index in range(classes.count):
        inside = y[np.asarray(classes.class_of_value) == index]
        assert (inside <= 0).all() or (inside > 0).all()
        assert ((inside >= classes.lower[index]) & (inside <= classes.upper[index])).all()
    assert len(classes.colours) == classes.count


def test_diverging_colours_take_the_hue_of_their_side() -> None:
    classes = classification.classify_values(
        [-5.0, -1.0, 2.0, 10.0], scheme="NaturalBreaks", k=4, cmap="RdBu_r", centre=0.0
    )
    reds = [mpl.colors.to_rgb(c)[0] > mpl.colors.to_rgb(c)[2] for c in classes.colours]
    below = [upper <= 0 for upper in classes.upper]
    assert reds == [not b for b in below]


def test_maps_command_without_processed_tables_names_the_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = demo_study_file(tmp_path / "fresh")
    assert main(["maps", str(path)]) == 2
    error = capsys.readouterr().err
    assert "carbon_balance.csv" in error and "carbon-zoning run" in error


def test_landuse_shares_sum_to_100(demo_tables: Study) -> None:
    shares = balance.landuse_shares(pd.read_csv(demo_tables.processed_dir / "landuse_areas.csv"))
    np.testing.assert_allclose(shares.sum(axis=1), 100.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert maps.label_step(np.array([1.0, 1.0])) == 1.0


def test_study_maps_footnote_setting_reaches_the_footnote(tmp_path: Path) -> None:
    path = demo_study_file(tmp_path, '[maps]\nfootnote = "统计数据：贵阳统计年鉴 2016、2021"\n')
    study = load_study(path)
    assert study.maps.footnote == "统计数据：贵阳统计年鉴 2016、2021"
    provenance = Provenance(None, "areas.csv", "statistics.csv", ())
    assert "贵阳统计年鉴" in render.footnote_text(provenance, "zh", study.maps.footnote)


def test_demo_balance_maps_of_2015_and_2020_differ_where_the_values_differ(
    demo_tables: Study,
) -> None:
    tables = render.read_tables(demo_tables, read_units(demo_tables))
    shared = classification.study_classes(tables.balance, demo_tables.maps, demo_tables.zoning)
    indicator = next(i for i in labels.INDICATORS if i.column == "balance_t")
    colours = {}
    with mpl.rc_context(cjk_rc()):
        units = maps.prepare_units(tables.units)
        for year, rows in tables.balance.groupby("year"):
            ax = maps.plot_indicator(units, rows, indicator, classes=shared["balance_t"])
            colours[year] = dict(zip(units["unit"], ax.collections[0].get_facecolors().tolist(),
                                     strict=True))  # fmt: skip
    values = tables.balance.pivot(index="unit", columns="year", values="balance_t")
    classes = shared["balance_t"]
    for unit, (v2015, v2020) in values[[2015, 2020]].iterrows():
        same_class = classes.value_colours([v2015])[0] == classes.value_colours([v2020])[0]
        assert (colours[2015][unit] == colours[2020][unit]) == same_class, unit
    assert any(colours[2015][u] != colours[2020][u] for u in values.index)  # 市辖区: 4,332 -> 2,704


def test_demo_eec_and_sec_legends_show_the_zoning_breaks(demo_tables: Study) -> None:
    tables = render.read_tables(demo_tables, read_units(demo_tables))
    shared = classification.study_classes(tables.balance, demo_tables.maps, demo_tables.zoning)
    rows = tables.balance[tables.balance["year"] == 2015]
    with mpl.rc_context(cjk_rc()):
        for column, breaks in (("eec", demo_tables.zoning.eec_breaks),
                               ("sec", demo_tables.zoning.sec_breaks)):  # fmt: skip
            indicator = next(i for i in labels.INDICATORS if i.column == column)
            ax = maps.plot_indicator(tables.units, rows, indicator, classes=shared[column])
            legend = [t.get_text() for t in ax.get_legend().get_texts()]
            inner = [b for b in breaks if rows[column].min() < b < rows[column].max()]
            assert inner
            for value in inner:
                assert sum(f"{value:.2f}" in text for text in legend) == 2, (column, legend)
