"""The library API: what a run notes about its inputs (log, run.json)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from conftest import CRS, ORIGIN, PIXEL_M, SIZE, TOY_STATISTICS, write_raster

from pipeline.api import run_study, write_outputs

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
