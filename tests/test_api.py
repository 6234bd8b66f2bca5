"""The library API: what a run notes about its inputs (log, run.json) and how it counted."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from conftest import CRS, ORIGIN, PIXEL_M, SIZE, TOY_STATISTICS, TOY_STUDY, write_raster

from pipeline import zonal
from pipeline.api import run_study, write_outputs
from pipeline.study import load_study
from pipeline.zonal import cache

STUDY = """\
[study]
name = "notes"
output_dir = "out"

[boundaries]
path = "units.gpkg"
name_field = "name"
unit_field = "unit"

[landuse]
rasters = {{ {rasters} }}

[statistics]
path = "statistics.csv"

[output]
maps = false
xlsx = false
"""


def columns_box(first: float, last: float) -> shapely.Polygon:
    """Pixel columns ``first``..``last`` of the test grid, all rows."""
    west, north = ORIGIN
    return shapely.box(west + first * PIXEL_M, north - SIZE * PIXEL_M, west + last * PIXEL_M, north)


def write_study(root: Path, rasters: dict[int, str], features: list[tuple]) -> Path:
    """A study of ``features`` (name, unit, first column, last column) on ``rasters``."""
    root.mkdir(parents=True, exist_ok=True)
    for path in sorted(set(rasters.values())):
        write_raster(root, {"path": path})
    units = gpd.GeoDataFrame(
        {"name": [f[0] for f in features], "unit": [f[1] for f in features]},
        geometry=[columns_box(f[2], f[3]) for f in features],
        crs=CRS,
    )
    units.to_file(root / "units.gpkg", layer="units", engine="pyogrio")
    TOY_STATISTICS.to_csv(root / "statistics.csv", index=False)
    text = ", ".join(f'{year} = "{path}"' for year, path in rasters.items())
    study = root / "study.toml"
    study.write_text(STUDY.format(rasters=text), encoding="utf-8")
    return study


HALVES = [("A", "A", 0, SIZE / 2), ("B", "B", SIZE / 2, SIZE)]


def manifest_notes(study: Path) -> list[str]:
    manifest = study.parent / "out" / "data" / "processed" / "run.json"
    return json.loads(manifest.read_text(encoding="utf-8"))["notes"]


def test_two_years_on_one_raster_file_are_noted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    study = write_study(tmp_path, {2015: "lu.tif", 2020: "lu.tif"}, HALVES)
    with caplog.at_level(logging.INFO, logger="pipeline"):
        results = run_study(study)
    expected = (
        f"note: years 2015 and 2020 use the same raster file {tmp_path / 'lu.tif'}: "
        "their land use is identical"
    )
    assert expected in results.notes
    assert expected in caplog.messages
    write_outputs(results)
    assert expected in manifest_notes(study)


def test_two_years_on_identical_copies_are_noted(tmp_path: Path) -> None:
    study = write_study(tmp_path, {2015: "lu_2015.tif", 2020: "lu_2020.tif"}, HALVES)
    shutil.copyfile(tmp_path / "lu_2015.tif", tmp_path / "lu_2020.tif")
    notes = [n for n in run_study(study).notes if "identical" in n]
    assert len(notes) == 1
    assert notes[0].startswith(
        f"note: the rasters of 2015 ({tmp_path / 'lu_2015.tif'}) and 2020 "
        f"({tmp_path / 'lu_2020.tif'}) are identical (SHA-256 "
    )


def test_different_rasters_are_not_noted(tmp_path: Path) -> None:
    study = write_study(tmp_path, {2015: "lu_2015.tif", 2020: "lu_2020.tif"}, HALVES)
    write_raster(tmp_path, {"path": "lu_2020.tif", "codes": [21, 31, 11]})
    assert not [n for n in run_study(study).notes if "identical" in n]


def test_unit_of_features_that_do_not_touch_is_noted(tmp_path: Path) -> None:
    features = [("A west", "A", 0, 5), ("B", "B", 5, 15), ("A east", "A", 15, SIZE)]
    study = write_study(tmp_path, {2015: "lu_2015.tif", 2020: "lu_2020.tif"}, features)
    results = run_study(study)
    expected = (
        "note: unit 'A' is dissolved from 2 groups of features that do not touch: "
        "feature 1 ('A west') | feature 3 ('A east')"
    )
    assert expected in results.notes
    assert not [n for n in results.notes if "'B'" in n]
    write_outputs(results)
    assert expected in manifest_notes(study)


# --------------------------------------------------------------------------- counting mode


def zonal_entry(study: Path) -> dict:
    manifest = study.parent / "out" / "data" / "processed" / "run.json"
    return json.loads(manifest.read_text(encoding="utf-8"))["zonal"]


def test_counting_mode_is_noted_recorded_and_kept_with_the_cache(tmp_path: Path) -> None:
    study = write_study(tmp_path, {2015: "lu_2015.tif", 2020: "lu_2020.tif"}, HALVES)
    text = study.read_text(encoding="utf-8").replace(
        "[statistics]", 'mode = "exact"\n\n[statistics]'
    )
    study.write_text(text, encoding="utf-8")
    expected = "note: land-use counting (mode = 'exact'): 2015, 2020: exact (grid 0)"
    first = run_study(study)
    assert expected in first.notes
    write_outputs(first)
    recorded = {"mode": {"2015": "exact", "2020": "exact"}, "grid": {"2015": 0, "2020": 0}}
    assert zonal_entry(study) == recorded
    sidecar = tmp_path / "out" / cache.counting_path(first.inputs.cache_key)
    assert json.loads(sidecar.read_text(encoding="utf-8")) == recorded

    second = run_study(study)  # from the cache: the mode is still known
    assert second.inputs.cache_reused
    assert expected in second.notes
    write_outputs(second)
    assert zonal_entry(study) == recorded


@pytest.mark.parametrize("damage", ["missing", "not json", "wrong mode", "other years"])
def test_cache_without_a_readable_counting_record_is_recomputed(
    tmp_path: Path, damage: str
) -> None:
    study = write_study(tmp_path, {2015: "lu_2015.tif", 2020: "lu_2020.tif"}, HALVES)
    write_outputs(run_study(study))
    key = cache.areas_key(load_study(study))
    sidecar = tmp_path / "out" / cache.counting_path(key)
    records = {
        "not json": "{",
        "wrong mode": '{"mode": {"2015": "fast", "2020": "centre"}, '
        '"grid": {"2015": 0, "2020": 0}}',
        "other years": '{"mode": {"2015": "centre"}, "grid": {"2015": 0}}',
    }
    if damage == "missing":
        sidecar.unlink()
    else:
        sidecar.write_text(records[damage], encoding="utf-8")
    again = run_study(study)
    assert not again.inputs.cache_reused
    assert [n for n in again.notes if "lack a readable counting record" in n]
    assert [n for n in again.notes if n.startswith("note: land-use counting")]
    write_outputs(again)
    assert cache.load_counting(tmp_path / "out", key) is not None


def test_counting_per_grid_matches_the_engine(tmp_path: Path) -> None:
    study = write_study(tmp_path, {2015: "lu_2015.tif", 2020: "lu_2020.tif"}, HALVES)
    write_raster(tmp_path, {"path": "lu_2020.tif", "size": 4, "pixel": SIZE * PIXEL_M / 4})
    results = run_study(study)
    engine = zonal.tabulate(results.units, load_study(study).landuse.rasters, nodata=None)
    assert engine.grid_of_year == {2015: 0, 2020: 1}
    modes = engine.mode_used
    expected = (
        f"note: land-use counting (mode = 'auto'): 2015: {modes[2015]} (grid 0); "
        f"2020: {modes[2020]} (grid 1)"
    )
    assert expected in results.notes


def test_area_table_studies_have_no_counting(toy_study: Callable[..., Path]) -> None:
    study = toy_study(text=TOY_STUDY + "\n[output]\nmaps = false\nxlsx = false\n")
    results = run_study(study)
    assert results.inputs.counting is None
    assert not [n for n in results.notes if "counting" in n]
    write_outputs(results)
    assert zonal_entry(study) is None


# --- spatial autocorrelation through the API ----------------------------------------------


def test_grid_study_finds_its_planted_cluster_and_writes_the_tables(tmp_path: Path) -> None:
    import pandas as pd
    import pyogrio
    from conftest import grid_study
    from openpyxl import load_workbook

    results = run_study(grid_study(tmp_path / "grid"))
    moran = results.spatial.global_moran.set_index(["indicator", "year"])
    assert moran.loc[("emission_intensity", 2015), "p_sim"] < 0.01
    assert moran.loc[("emission_intensity", 2015), "moran_i"] > 0.3
    lisa = results.spatial.lisa
    hot = lisa[(lisa["indicator"] == "emission_intensity") & (lisa["quadrant"] == "HH")]
    assert "r2c2" in set(hot["unit"])  # the block's centre
    assert set(hot["unit"]) <= {f"r{r}c{c}" for r in range(1, 4) for c in range(1, 4)}
    write_outputs(results)
    processed = tmp_path / "grid" / "out" / "data" / "processed"
    table = pd.read_csv(processed / "spatial_autocorrelation.csv")
    assert list(table.columns[:9]) == ["indicator", "year", "column", "moran_i", "expected_i",
                                       "z", "p_sim", "p_norm", "permutations"]  # fmt: skip
    assert len(table) == 10 and set(table["units"]) == {36}  # sink intensity: all equal
    assert (
        "note: spatial autocorrelation of sink_intensity 2015 not computed: every unit "
        "equal" in results.notes
    )
    clusters = pd.read_csv(processed / "lisa_clusters.csv")
    assert list(clusters.columns) == ["unit", "year", "indicator", "value", "local_i", "p_sim",
                                      "quadrant", "cluster_zh", "cluster_en"]  # fmt: skip
    assert len(clusters) == 36 * 5 * 2
    book = load_workbook(processed / "carbon_balance.xlsx", read_only=True)
    assert {"spatial_autocorrelation", "lisa_clusters"} <= set(book.sheetnames)
    layers = {name for name, _ in pyogrio.list_layers(processed / "carbon_balance.gpkg")}
    assert {"lisa_2015", "lisa_2020", "spatial_autocorrelation", "lisa_clusters"} <= layers
    layer = pyogrio.read_dataframe(processed / "carbon_balance.gpkg", layer="lisa_2015")
    assert layer.set_index("unit").loc["r2c2", "lisa_emission_intensity"] == "HH"
    manifest = json.loads((processed / "run.json").read_text(encoding="utf-8"))
    assert "data/processed/lisa_clusters.csv" in manifest["outputs"]


def test_spatial_false_computes_nothing(tmp_path: Path) -> None:
    from conftest import grid_study

    results = run_study(grid_study(tmp_path / "off", analysis="[analysis]\nspatial = false"))
    assert results.spatial is None
    assert not any("spatial" in note for note in results.notes)


def test_demo_skips_spatial_statistics_with_the_note(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from conftest import demo_study_file

    from pipeline.api import map_tables
    from pipeline.outputs.report import report_html

    with caplog.at_level(logging.INFO, logger="pipeline"):
        results = run_study(demo_study_file(tmp_path / "demo"))
    note = (
        "note: spatial autocorrelation (Moran's I, LISA) skipped: 5 units, fewer than the "
        "minimum of 10 (a permutation test on so few units means nothing)"
    )
    assert note in results.notes
    assert note in caplog.messages
    assert not results.spatial.computed
    report = report_html(results.study, map_tables(results), {})
    assert "Spatial autocorrelation 空间自相关" in report
    assert "skipped: 5 units, fewer than the minimum of 10" in report


def test_counting_kernels_load_during_the_checksums_only_when_the_areas_are_counted(
    tmp_path: Path,
) -> None:
    """A fresh interpreter: a run reusing cached areas never loads the numba kernels; a
    forced one starts loading them before the inputs are checksummed for the cache key."""
    import subprocess
    import sys

    study = write_study(tmp_path, {2020: "lu_2020.tif"}, HALVES)
    write_outputs(run_study(study))
    script = f"""
from pipeline import api
from pipeline.zonal import cache, counting
areas_key = cache.areas_key
def spy(study):
    print("loading at checksums:", counting._loader is not None)
    return areas_key(study)
cache.areas_key = spy
reused = api.run_study({str(study)!r})
print("reused:", reused.inputs.cache_reused, counting.kernels_loaded(), counting._loader)
forced = api.run_study({str(study)!r}, force=True)
print("forced:", forced.inputs.cache_reused, counting.kernels_loaded())
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "loading at checksums: False",
        "reused: True False None",
        "loading at checksums: True",
        "forced: False True",
    ]
