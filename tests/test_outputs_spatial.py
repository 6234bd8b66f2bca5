"""What users see of the spatial statistics: the LISA figure, its GeoPackage layers, the
report's tables, and the re-render reading them back."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import pandas as pd
import pytest
from conftest import grid_study

from pipeline.api import run_study, write_outputs
from pipeline.model import spatial as model
from pipeline.outputs import render
from pipeline.outputs import spatial as outputs
from pipeline.outputs.fonts import cjk_rc


@pytest.fixture(scope="module")
def grid_run(tmp_path_factory: pytest.TempPathFactory):
    """The SYNTHETIC 6 × 6 grid study (planted high-high block), run and written (no maps)."""
    results = run_study(grid_study(tmp_path_factory.mktemp("grid") / "grid"))
    write_outputs(results)
    return results


def test_lisa_figure_has_a_map_per_indicator_with_its_moran(grid_run) -> None:
    result = grid_run.spatial
    lisa = result.lisa[result.lisa["year"] == 2015]
    moran = result.global_moran[result.global_moran["year"] == 2015]
    with mpl.rc_context(cjk_rc()):
        figure = outputs.lisa_figure(grid_run.units, lisa, moran, title="网格 2015", language="zh")
    visible = [ax for ax in figure.axes if ax.get_visible()]
    assert len(visible) == moran["indicator"].nunique() == 5  # sink intensity: all equal
    titles = [ax.get_title(loc="left") for ax in visible]
    expected = moran.set_index("indicator").loc["emission_intensity", "moran_i"]
    assert f"碳排放强度\nMoran's I = {expected:.3f}" in titles[0]
    legend = [t.get_text() for t in figure.legends[0].get_texts()]
    assert legend == [
        "高-高聚集 High-High cluster", "低-低聚集 Low-Low cluster", "低-高异常 Low-High outlier",
        "高-低异常 High-Low outlier", "不显著 Not significant",
    ]  # fmt: skip
    hh = mpl.colors.to_rgba(outputs.CLUSTER_COLOURS["HH"])
    faces = visible[0].collections[0].get_facecolors()
    assert sum(tuple(face) == hh for face in faces) == (lisa.query(
        "indicator == 'emission_intensity' and quadrant == 'HH'"
    ).shape[0])  # fmt: skip


def test_lisa_layers_hold_a_cluster_field_per_indicator(grid_run) -> None:
    layers = outputs.lisa_layers(grid_run.units, grid_run.spatial.lisa)
    assert list(layers) == ["lisa_2015", "lisa_2020"]
    layer = layers["lisa_2015"]
    fields = ["unit", "lisa_emission_intensity", "lisa_balance", "lisa_compensation_rate"]
    assert list(layer.columns) == [*fields, "lisa_eec", "lisa_sec", "geometry"]
    assert outputs.layer_field(layer) == "lisa_balance"
    assert set(layer["lisa_balance"]) <= set(model.CLUSTERS)


def test_cluster_counts_add_up_to_the_units(grid_run) -> None:
    counts = outputs.cluster_counts(grid_run.spatial.lisa)
    assert len(counts) == 10  # 5 indicators × 2 years
    cluster_columns = [c for c in counts.columns if c not in ("year", "indicator")]
    assert (counts[cluster_columns].sum(axis=1) == 36).all()
    assert counts.iloc[0]["indicator"] == "碳排放强度"


def test_rerender_reads_the_recorded_tables_back(grid_run) -> None:
    recorded = render.recorded_spatial(grid_run.study)
    assert recorded.computed
    pd.testing.assert_frame_equal(
        recorded.global_moran[["indicator", "year", "moran_i", "p_sim"]],
        grid_run.spatial.global_moran[["indicator", "year", "moran_i", "p_sim"]],
        check_dtype=False,
    )
    assert list(recorded.lisa["quadrant"]) == list(grid_run.spatial.lisa["quadrant"])
    assert recorded.notes == grid_run.spatial.notes


def test_rerender_of_a_skipped_run_keeps_the_note(tmp_path: Path) -> None:
    from conftest import demo_study_file

    results = run_study(demo_study_file(tmp_path / "demo", "[output]\nmaps = false\nxlsx = false"))
    write_outputs(results)
    recorded = render.recorded_spatial(results.study)
    assert not recorded.computed
    assert recorded.notes == results.spatial.notes
    assert "skipped: 5 units" in recorded.notes[0]
