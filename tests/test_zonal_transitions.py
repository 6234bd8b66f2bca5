"""Transitions counted in the area pass, against independent pixel-pair counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from exactextract import exact_extract
from rasterio import features

from pipeline import zonal
from pipeline.errors import InputError
from pipeline.zonal.engine import year_pairs
from pipeline.zonal.jobs import NODATA_CODE, TRANSITION_COLUMNS

PIXELS = 160
NODATA = 255
HA_PER_PIXEL = 0.09  # 30 m × 30 m = 900 m² = 0.09 ha


@pytest.fixture
def two_years(landuse_raster, irregular_units, tmp_path):
    """Units, a 2015 raster with a nodata corner and a 2020 raster with nodata elsewhere."""
    units = irregular_units(6, PIXELS)
    first = landuse_raster(PIXELS, name="lu_2015.tif", seed=0)
    later = landuse_raster(PIXELS, name="lu_2020.tif", seed=3, nodata_corner=False)
    with rasterio.open(later, "r+") as dataset:
        data = dataset.read(1)
        data[-10:, -30:] = NODATA  # lost to nodata at the bottom right
        dataset.write(data, 1)
    return units, {2015: first, 2020: later}


def read(path) -> tuple[np.ndarray, Affine]:
    with rasterio.open(path) as dataset:
        return dataset.read(1), dataset.transform


def independent_centre_pairs(units, rasters) -> pd.DataFrame:
    """``unit, code_from, code_to, pixels`` by GDAL's rasterize and np.unique on stacked codes."""
    earlier, transform = read(rasters[2015])
    later, _ = read(rasters[2020])
    rows = []
    for name, geometry in zip(units["unit"], units.geometry, strict=True):
        inside = features.rasterize(
            [(geometry, 1)], out_shape=earlier.shape, transform=transform, all_touched=False
        ).astype(bool)
        stacked = np.stack([earlier[inside], later[inside]], axis=1).astype(np.int64)
        stacked = stacked[~((stacked[:, 0] == NODATA) & (stacked[:, 1] == NODATA))]
        pairs, counts = np.unique(stacked, axis=0, return_counts=True)
        rows += [(name, int(a), int(b), float(n)) for (a, b), n in zip(pairs, counts, strict=True)]
    return _marked(pd.DataFrame(rows, columns=["unit", "code_from", "code_to", "pixels"]))


def independent_exact_pairs(units, rasters) -> pd.DataFrame:
    """Coverage-weighted pairs from exactextract's cell ids and coverage fractions."""
    earlier, transform = read(rasters[2015])
    later, _ = read(rasters[2020])
    grid = rasters[2015].parent / "grid_only.tif"  # every cell valid: nodata cells too
    profile = {"driver": "GTiff", "width": earlier.shape[1], "height": earlier.shape[0]}
    profile |= {"count": 1, "dtype": "uint8", "transform": transform}
    with rasterio.open(rasters[2015]) as dataset:
        profile["crs"] = dataset.crs
    with rasterio.open(grid, "w", **profile) as dataset:
        dataset.write(np.ones_like(earlier), 1)
    frame = exact_extract(
        str(grid), units, ["cell_id", "coverage"], include_cols=["unit"], output="pandas"
    )
    rows = []
    for name, cells, cover in zip(frame["unit"], frame["cell_id"], frame["coverage"], strict=True):
        cells = np.asarray(cells, dtype=np.int64)
        a, b = earlier.ravel()[cells], later.ravel()[cells]
        keep = ~((a == NODATA) & (b == NODATA))
        table = pd.DataFrame({"a": a[keep], "b": b[keep], "w": np.asarray(cover)[keep]})
        for (code_a, code_b), weight in table.groupby(["a", "b"])["w"].sum().items():
            rows.append((name, int(code_a), int(code_b), float(weight)))
    return _marked(pd.DataFrame(rows, columns=["unit", "code_from", "code_to", "pixels"]))


def _marked(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.replace({"code_from": {NODATA: NODATA_CODE}, "code_to": {NODATA: NODATA_CODE}})
    return frame.sort_values(["unit", "code_from", "code_to"], ignore_index=True)


def pair_table(result) -> pd.DataFrame:
    frame = result.transitions[["unit", "code_from", "code_to", "pixels"]]
    frame = frame.astype({"code_from": "int64", "code_to": "int64", "pixels": "float64"})
    return frame.sort_values(["unit", "code_from", "code_to"], ignore_index=True)


def test_centre_pairs_equal_an_independent_pixel_pair_count(two_years) -> None:
    units, rasters = two_years
    result = zonal.tabulate(units, rasters, mode="centre")
    assert list(result.transitions.columns) == TRANSITION_COLUMNS
    assert set(
        zip(result.transitions["year_from"], result.transitions["year_to"], strict=False)
    ) == {(2015, 2020)}
    pd.testing.assert_frame_equal(pair_table(result), independent_centre_pairs(units, rasters))
    np.testing.assert_allclose(
        result.transitions["area_ha"], result.transitions["pixels"] * HA_PER_PIXEL
    )
    codes = result.transitions[["code_from", "code_to"]]
    assert (codes["code_from"] == NODATA_CODE).any()  # gained from nodata (2015 corner)
    assert (codes["code_to"] == NODATA_CODE).any()  # lost to nodata (2020 bottom right)


def test_exact_pairs_equal_a_coverage_weighted_count(two_years) -> None:
    units, rasters = two_years
    result = zonal.tabulate(units, rasters, mode="exact")
    ours, theirs = pair_table(result), independent_exact_pairs(units, rasters)
    both = ours.merge(theirs, on=["unit", "code_from", "code_to"], how="outer").fillna(0.0)
    assert len(both) <= 1.01 * len(ours)  # pairs only one side has are slivers (below)
    # a sliver of a pixel one counter keeps and the other rounds away: < 1e-3 pixel
    np.testing.assert_allclose(both["pixels_x"], both["pixels_y"], rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("mode", ["centre", "exact"])
def test_row_and_column_sums_are_the_areas_of_each_year(two_years, mode) -> None:
    units, rasters = two_years
    result = zonal.tabulate(units, rasters, mode=mode)
    pairs = result.transitions
    valid = pairs[(pairs["code_from"] != NODATA_CODE) & (pairs["code_to"] != NODATA_CODE)]
    gained = pairs[pairs["code_from"] == NODATA_CODE]
    lost = pairs[pairs["code_to"] == NODATA_CODE]
    areas = result.areas.set_index(["unit", "year", "code"])["area_ha"]
    # every pixel valid in 2015 is either valid in 2020 or lost to nodata
    rows = pd.concat([valid, lost]).groupby(["unit", "code_from"])["area_ha"].sum()
    earlier = areas.xs(2015, level="year").rename_axis(["unit", "code_from"])
    pd.testing.assert_series_equal(rows.sort_index(), earlier.sort_index(), check_names=False)
    columns = pd.concat([valid, gained]).groupby(["unit", "code_to"])["area_ha"].sum()
    later = areas.xs(2020, level="year").rename_axis(["unit", "code_to"])
    pd.testing.assert_series_equal(columns.sort_index(), later.sort_index(), check_names=False)


def test_areas_unchanged_by_counting_transitions(two_years) -> None:
    units, rasters = two_years
    with_pairs = zonal.tabulate(units, rasters, mode="centre")
    without = zonal.tabulate(units, rasters, mode="centre", transitions=False)
    pd.testing.assert_frame_equal(with_pairs.areas, without.areas)
    assert without.transitions.empty
    assert list(without.transitions.columns) == TRANSITION_COLUMNS


def test_three_years_give_consecutive_pairs_and_first_to_last(two_years, landuse_raster) -> None:
    units, rasters = two_years
    rasters = {**rasters, 2010: landuse_raster(PIXELS, name="lu_2010.tif", seed=7)}
    result = zonal.tabulate(units, rasters, mode="centre")
    found = set(zip(result.transitions["year_from"], result.transitions["year_to"], strict=False))
    assert found == {(2010, 2015), (2015, 2020), (2010, 2020)}
    assert year_pairs([2020, 2010, 2015]) == [(2010, 2015), (2015, 2020), (2010, 2020)]
    assert year_pairs([2015]) == []


def test_dask_threads_give_the_same_transitions(two_years) -> None:
    pytest.importorskip("dask")
    units, rasters = two_years
    single = zonal.tabulate(units, rasters, mode="centre")
    threaded = zonal.tabulate(units, rasters, mode="centre", scheduler="threads")
    pd.testing.assert_frame_equal(single.transitions, threaded.transitions)


def test_geographic_grid_transition_areas_are_the_geodesic_areas(
    landuse_raster, irregular_units
) -> None:
    transform = Affine(0.001, 0, 106.0, 0, -0.001, 27.0)
    units = irregular_units(4, 80, transform=transform)
    units = units.set_crs("EPSG:4326", allow_override=True)
    rasters = {
        year: landuse_raster(80, name=f"geo_{year}.tif", transform=transform, crs="EPSG:4326",
                             seed=seed)
        for year, seed in ((2015, 0), (2020, 5))
    }  # fmt: skip
    result = zonal.tabulate(units, rasters, mode="centre")
    pairs = result.transitions
    lost = pairs["code_to"] == NODATA_CODE
    rows = pairs[~lost].groupby(["unit", "code_from"])["area_ha"].sum()
    rows = rows.add(pairs[lost].groupby(["unit", "code_from"])["area_ha"].sum(), fill_value=0)
    rows = rows.drop(index=NODATA_CODE, level="code_from", errors="ignore")
    earlier = result.areas[result.areas["year"] == 2015].set_index(["unit", "code"])["area_ha"]
    np.testing.assert_allclose(rows.sort_index().to_numpy(), earlier.sort_index().to_numpy())


def test_different_grids_name_both_grids_when_transitions_are_required(
    two_years, landuse_raster
) -> None:
    units, rasters = two_years
    moved = Affine(30.0, 0, 400_030.0, 0, -30.0, 3_100_000.0)
    other = landuse_raster(PIXELS + 10, name="lu_2020_moved.tif", transform=moved)
    rasters = {2015: rasters[2015], 2020: other}
    with pytest.raises(InputError) as caught:
        zonal.tabulate(units, rasters, transitions=True)
    message = str(caught.value)
    assert "[landuse] transitions" in message
    assert "lu_2015.tif" in message and "lu_2020_moved.tif" in message
    assert "170 x 170 px" in message and "160 x 160 px" in message
    assert "transitions = false" in message
    by_default = zonal.tabulate(units, rasters)  # counted where possible: none here
    assert by_default.transitions.empty
    assert by_default.transitions_skipped == ((2015, 2020),)


def test_one_year_has_no_transitions(two_years) -> None:
    units, rasters = two_years
    result = zonal.tabulate(units, {2015: rasters[2015]}, transitions=True)
    assert result.transitions.empty


@pytest.mark.parametrize("mode", ["centre", "exact"])
def test_three_years_areas_as_without_transitions(two_years, landuse_raster, mode) -> None:
    """Areas come from the pair tables when transitions are counted: the same numbers."""
    units, rasters = two_years
    rasters = {**rasters, 2010: landuse_raster(PIXELS, name="lu_2010.tif", seed=7)}
    with_pairs = zonal.tabulate(units, rasters, mode=mode)
    without = zonal.tabulate(units, rasters, mode=mode, transitions=False)
    pd.testing.assert_frame_equal(
        with_pairs.areas.drop(columns=["pixels", "area_ha"]),
        without.areas.drop(columns=["pixels", "area_ha"]),
    )
    np.testing.assert_allclose(with_pairs.areas["area_ha"], without.areas["area_ha"], rtol=1e-12)
    np.testing.assert_allclose(
        with_pairs.nodata_ha["nodata_ha"], without.nodata_ha["nodata_ha"], rtol=1e-12
    )


def test_codes_above_255_are_counted_in_pairs(tmp_path, irregular_units) -> None:
    from test_zonal_engine import write_array

    units = irregular_units(3, 100).set_crs("EPSG:32648", allow_override=True)
    earlier = np.where(np.arange(100)[:, None] < 50, 1000, 11).astype("int16")
    earlier = earlier + np.zeros((100, 100), "int16")
    later = earlier.copy()
    later[:, :30] = 700  # the left 30 columns become code 700
    rasters = {
        2015: write_array(tmp_path / "a.tif", earlier, nodata=-1),
        2020: write_array(tmp_path / "b.tif", later, nodata=-1),
    }
    result = zonal.tabulate(units, rasters, mode="centre")
    with rasterio.open(rasters[2015]) as dataset:
        transform = dataset.transform
    expected = []
    for name, geometry in zip(units["unit"], units.geometry, strict=True):
        inside = features.rasterize(
            [(geometry, 1)], out_shape=earlier.shape, transform=transform
        ).astype(bool)
        pairs, counts = np.unique(
            np.stack([earlier[inside], later[inside]], axis=1), axis=0, return_counts=True
        )
        expected += [
            (name, int(a), int(b), float(n)) for (a, b), n in zip(pairs, counts, strict=True)
        ]
    expected = _marked(pd.DataFrame(expected, columns=["unit", "code_from", "code_to", "pixels"]))
    pd.testing.assert_frame_equal(pair_table(result), expected)
    assert {(1000, 700), (11, 700)} <= set(
        zip(expected["code_from"], expected["code_to"], strict=True)
    )
