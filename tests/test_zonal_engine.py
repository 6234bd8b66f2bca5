"""The zonal engine against rasterstats, exactextract and geodesic areas; its error paths."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine
from exactextract import exact_extract
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from pyproj import Geod
from rasterstats import zonal_stats

from pipeline import zonal
from pipeline.errors import InputError, PipelineWarning
from pipeline.zonal import schedulers
from pipeline.zonal.jobs import Counting

PIXELS = 240


def rasterstats_table(units, path, nodata=255) -> pd.DataFrame:
    """``unit, code, pixels`` from rasterstats' categorical counts (centre rule)."""
    stats = zonal_stats(units, str(path), categorical=True, nodata=nodata)
    pairs = zip(units["unit"], stats, strict=True)
    rows = [(u, c, float(n)) for u, d in pairs for c, n in d.items()]
    return pd.DataFrame(rows, columns=["unit", "code", "pixels"])


def exactextract_table(units, path) -> pd.DataFrame:
    """``unit, code, pixels`` as exactextract's coverage-weighted cell counts."""
    frame = exact_extract(
        str(path), units, ["unique", "frac", "count"], include_cols=["unit"], output="pandas"
    )
    columns = [frame[name] for name in ("unit", "unique", "frac", "count")]
    rows = [
        (u, int(c), f * n)
        for u, cs, fs, n in zip(*columns, strict=True)
        for c, f in zip(cs, fs, strict=True)
    ]
    return pd.DataFrame(rows, columns=["unit", "code", "pixels"])


def sorted_pixels(frame: pd.DataFrame) -> pd.DataFrame:
    table = frame[["unit", "code", "pixels"]].astype({"code": "int64", "pixels": "float64"})
    return table.sort_values(["unit", "code"], ignore_index=True)


@pytest.fixture
def inputs(landuse_raster, irregular_units):
    return irregular_units(9, PIXELS), landuse_raster(PIXELS)


def test_centre_equals_rasterstats(inputs) -> None:
    units, path = inputs
    result = zonal.tabulate(units, {2020: path}, mode="centre")
    expected = rasterstats_table(units, path)
    pd.testing.assert_frame_equal(sorted_pixels(result.areas), sorted_pixels(expected))
    assert result.mode_used == {2020: "centre"}
    # 30 m pixels: 900 m² = 0.09 ha each
    np.testing.assert_allclose(result.areas["area_ha"], result.areas["pixels"] * 0.09)


def test_exact_equals_exactextract(inputs) -> None:
    units, path = inputs
    result = zonal.tabulate(units, {2020: path}, mode="exact")
    ours = sorted_pixels(result.areas)
    theirs = sorted_pixels(exactextract_table(units, path))
    assert ours[["unit", "code"]].equals(theirs[["unit", "code"]])
    np.testing.assert_allclose(ours["pixels"], theirs["pixels"], rtol=1e-4)


def test_exact_areas_add_up_to_polygon_areas(inputs) -> None:
    units, path = inputs
    result = zonal.tabulate(units, {2020: path}, mode="exact")
    valid_ha = result.areas.groupby("unit")["area_ha"].sum()
    total_ha = valid_ha + result.nodata_ha.set_index("unit")["nodata_ha"]
    polygon_ha = units.set_index("unit").geometry.area / 10_000  # m² → ha
    np.testing.assert_allclose(total_ha.sort_index(), polygon_ha.sort_index(), rtol=1e-9)


def test_nodata_is_excluded_and_reported(inputs) -> None:
    units, path = inputs
    result = zonal.tabulate(units, {2020: path}, mode="centre")
    assert 255 not in set(result.areas["code"])
    assert result.nodata_ha["nodata_ha"].sum() > 0
    with rasterio.open(path) as dataset:
        nodata_px = (dataset.read(1) == 255).sum()
    assert result.nodata_ha["nodata_ha"].sum() <= nodata_px * 0.09 + 1e-9


def test_auto_picks_exact_on_coarse_and_centre_on_fine(landuse_raster, irregular_units) -> None:
    coarse = landuse_raster(60, name="coarse.tif")
    units = irregular_units(9, 60)
    assert zonal.tabulate(units, {2020: coarse}).mode_used == {2020: "exact"}
    fine_transform = Affine(1.0, 0, 400_000.0, 0, -1.0, 3_100_000.0)
    fine = landuse_raster(1200, name="fine.tif", transform=fine_transform, nodata_corner=False)
    big_units = irregular_units(2, 1200, transform=fine_transform)
    assert zonal.tabulate(big_units, {2020: fine}).mode_used == {2020: "centre"}


def test_geographic_raster_areas_match_geodesic_areas(landuse_raster, irregular_units) -> None:
    transform = Affine(0.01, 0, 104.0, 0, -0.01, 29.0)  # 300 × 300 cells of 0.01°
    path = landuse_raster(300, transform=transform, crs="EPSG:4326", nodata_corner=False)
    units = irregular_units(6, 300, transform=transform).set_crs("EPSG:4326", allow_override=True)
    units["geometry"] = shapely.segmentize(units.geometry.to_numpy(), 0.005)
    result = zonal.tabulate(units, {2020: path}, mode="exact")
    ours_ha = result.areas.groupby("unit")["area_ha"].sum().sort_index()
    geod = Geod(ellps="WGS84")
    geodesic_m2 = [abs(geod.geometry_area_perimeter(g)[0]) for g in units.geometry]
    expected_ha = pd.Series(geodesic_m2, index=units["unit"]).sort_index() / 10_000  # m² → ha
    np.testing.assert_allclose(ours_ha, expected_ha, rtol=1e-3)


def test_years_on_one_grid_share_one_rasterization(inputs, landuse_raster) -> None:
    units, path_2015 = inputs
    path_2020 = landuse_raster(PIXELS, name="lu2020.tif", seed=7)
    path_2025 = landuse_raster(PIXELS, name="lu2025.tif", seed=8)
    rasters = {2015: path_2015, 2020: path_2020, 2025: path_2025}
    result = zonal.tabulate(units, rasters, mode="centre")
    assert result.rasterizations == 1
    assert set(result.grid_of_year.values()) == {0}
    for year, path in rasters.items():
        one_year = result.areas[result.areas["year"] == year]
        pd.testing.assert_frame_equal(
            sorted_pixels(one_year), sorted_pixels(rasterstats_table(units, path))
        )


def test_two_grids_each_rasterized_and_right(inputs, landuse_raster) -> None:
    units, path_fine = inputs
    coarse_transform = Affine(60.0, 0, 400_000.0, 0, -60.0, 3_100_000.0)
    path_coarse = landuse_raster(PIXELS // 2, name="coarse.tif", transform=coarse_transform)
    result = zonal.tabulate(units, {2015: path_fine, 2020: path_coarse}, mode="centre")
    assert result.rasterizations == 2
    assert result.grid_of_year == {2015: 0, 2020: 1}
    for year, path in ((2015, path_fine), (2020, path_coarse)):
        one_year = result.areas[result.areas["year"] == year]
        pd.testing.assert_frame_equal(
            sorted_pixels(one_year), sorted_pixels(rasterstats_table(units, path))
        )


def test_units_in_another_crs_are_reprojected(inputs) -> None:
    units, path = inputs
    in_albers = zonal.tabulate(units, {2020: path}, mode="exact").areas
    in_wgs84 = zonal.tabulate(units.to_crs("EPSG:4326"), {2020: path}, mode="exact").areas
    np.testing.assert_allclose(
        sorted_pixels(in_wgs84)["pixels"], sorted_pixels(in_albers)["pixels"], rtol=1e-6
    )


def test_progress_bar_does_not_change_results(inputs) -> None:
    units, path = inputs
    quiet = zonal.tabulate(units, {2020: path}, mode="centre", progress=False)
    shown = zonal.tabulate(units, {2020: path}, mode="centre", progress=True)
    pd.testing.assert_frame_equal(quiet.areas, shown.areas)


def test_int16_codes_above_255(tmp_path, small_units) -> None:
    units = small_units
    data = np.where(np.arange(100)[:, None] < 50, 1000, 11).astype("int16") + np.zeros(
        (100, 100), "int16"
    )
    path = write_array(tmp_path / "codes.tif", data, nodata=-1)
    result = zonal.tabulate(units, {2020: path}, mode="centre")
    assert set(result.areas["code"]) == {11, 1000}
    expected = rasterstats_table(units, path, nodata=-1)
    pd.testing.assert_frame_equal(sorted_pixels(result.areas), sorted_pixels(expected))


# --------------------------------------------------------------------------- errors


def test_negative_code_is_an_input_error(tmp_path, small_units) -> None:
    data = np.full((100, 100), 11, "int16")
    data[40:60, 40:60] = -5
    path = write_array(tmp_path / "negative.tif", data, nodata=-9999)
    with pytest.raises(InputError, match=r"negative\.tif: land-use code -5 inside the units"):
        zonal.tabulate(small_units, {2020: path})


def write_array(path, data, crs="EPSG:32648", nodata=None, transform=None):
    """A one-band GeoTIFF of ``data`` on the synthetic grid."""
    transform = transform or Affine(30.0, 0, 400_000.0, 0, -30.0, 3_100_000.0)
    profile = {"driver": "GTiff", "width": data.shape[1], "height": data.shape[0], "count": 1}
    profile |= {"dtype": data.dtype.name, "transform": transform, "nodata": nodata}
    if crs is not None:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
    return path


@pytest.fixture
def small_units(irregular_units):
    return irregular_units(3, 100).set_crs("EPSG:32648", allow_override=True)


def test_raster_without_crs(tmp_path, small_units) -> None:
    path = write_array(tmp_path / "nocrs.tif", np.full((100, 100), 11, "uint8"), crs=None)
    with pytest.raises(InputError, match=r"nocrs\.tif.*no CRS.*CRS = None"):
        zonal.tabulate(small_units, {2020: path})


def test_float_raster_with_fractional_codes(tmp_path, small_units) -> None:
    data = np.full((100, 100), 11.0, "float32")
    data[50, 50] = 21.5
    path = write_array(tmp_path / "float.tif", data)
    with pytest.raises(InputError, match=r"float\.tif.*fractional.*21\.5"):
        zonal.tabulate(small_units, {2020: path})


def test_float_raster_with_whole_codes_is_fine(tmp_path, small_units) -> None:
    data = np.full((100, 100), 11.0, "float32")
    data[:10] = np.nan
    path = write_array(tmp_path / "float.tif", data)
    result = zonal.tabulate(small_units, {2020: path}, mode="centre")
    assert set(result.areas["code"]) == {11}


def test_all_nodata_raster(tmp_path, small_units) -> None:
    path = write_array(tmp_path / "empty.tif", np.full((100, 100), 255, "uint8"), nodata=255)
    with pytest.raises(InputError, match=r"empty\.tif.*nodata.*255"):
        zonal.tabulate(small_units, {2020: path})


def test_raster_not_overlapping_names_units(tmp_path, small_units) -> None:
    far = Affine(30.0, 0, 900_000.0, 0, -30.0, 3_100_000.0)
    path = write_array(tmp_path / "far.tif", np.full((100, 100), 11, "uint8"), transform=far)
    with pytest.raises(InputError, match=r"far\.tif.*outside.*'county_000'"):
        zonal.tabulate(small_units, {2020: path})


def test_units_partly_covered_warn_with_share(tmp_path, small_units) -> None:
    data = np.full((50, 100), 11, "uint8")  # the grid's top half only
    path = write_array(tmp_path / "half.tif", data)
    with pytest.warns(PipelineWarning, match=r"half\.tif.*partly.*%"):
        result = zonal.tabulate(small_units, {2020: path}, mode="centre")
    assert set(result.areas["unit"]) <= set(small_units["unit"])


def test_units_smaller_than_a_pixel(tmp_path) -> None:
    path = write_array(tmp_path / "coarse.tif", np.full((10, 10), 11, "uint8"))
    speck = shapely.box(400_031.0, 3_099_931.0, 400_044.0, 3_099_944.0)  # inside one pixel
    units = gpd.GeoDataFrame({"unit": ["speck"]}, geometry=[speck], crs="EPSG:32648")
    with pytest.raises(InputError, match=r"coarse\.tif: no pixel centre.*use mode = 'exact'"):
        zonal.tabulate(units, {2020: path}, mode="centre")
    exact = zonal.tabulate(units, {2020: path}, mode="auto")
    assert exact.mode_used == {2020: "exact"}
    assert exact.areas["area_ha"].sum() == pytest.approx(13.0 * 13.0 / 10_000)  # m² → ha


def test_zero_without_declared_nodata(tmp_path, small_units) -> None:
    data = np.full((100, 100), 11, "uint8")
    data[:20] = 0
    path = write_array(tmp_path / "zeros.tif", data)
    with pytest.raises(InputError, match=r"zeros\.tif.*no nodata.*value 0.*\[landuse\] nodata"):
        zonal.tabulate(small_units, {2020: path})
    result = zonal.tabulate(small_units, {2020: path}, nodata=0, mode="centre")
    assert set(result.areas["code"]) == {11}
    assert result.nodata_ha["nodata_ha"].sum() > 0


def test_unknown_mode_lists_modes(inputs) -> None:
    units, path = inputs
    with pytest.raises(InputError, match=r"mode should be one of auto, centre, exact; got 'fast'"):
        zonal.tabulate(units, {2020: path}, mode="fast")


def test_unknown_raster_type_lists_supported(tmp_path, small_units) -> None:
    path = tmp_path / "landuse.asc"
    path.write_text("ncols 1\n")
    with pytest.raises(InputError, match=r"landuse\.asc.*'\.asc'.*supported: \.tif"):
        zonal.tabulate(small_units, {2020: path})


# --------------------------------------------------------------------------- Dask


def test_dask_threads_equal_single(inputs, landuse_raster) -> None:
    units, path = inputs
    rasters = {2015: path, 2020: landuse_raster(PIXELS, name="lu2020.tif", seed=3)}
    single = zonal.tabulate(units, rasters, mode="centre")
    threaded = zonal.tabulate(units, rasters, mode="centre", scheduler="threads")
    pd.testing.assert_frame_equal(threaded.areas, single.areas)
    pd.testing.assert_frame_equal(threaded.nodata_ha, single.nodata_ha)


def test_dask_local_cluster_equals_single(inputs) -> None:
    from distributed import LocalCluster

    units, path = inputs
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        address = cluster.scheduler_address
        centre = zonal.tabulate(units, {2020: path}, mode="centre", scheduler=address)
        exact = zonal.tabulate(units, {2020: path}, mode="exact", scheduler=address)
    pd.testing.assert_frame_equal(
        centre.areas, zonal.tabulate(units, {2020: path}, mode="centre").areas
    )
    pd.testing.assert_frame_equal(
        exact.areas, zonal.tabulate(units, {2020: path}, mode="exact").areas, rtol=1e-12
    )


def test_unreachable_scheduler_is_an_input_error(inputs, monkeypatch) -> None:
    units, path = inputs
    monkeypatch.setattr(schedulers, "DASK_CONNECT_TIMEOUT_S", 1)
    with pytest.raises(InputError, match=r"scheduler = 'tcp://127\.0\.0\.1:1'"):
        zonal.tabulate(units, {2020: path}, scheduler="tcp://127.0.0.1:1")


def test_unknown_scheduler_lists_choices(inputs) -> None:
    units, path = inputs
    with pytest.raises(InputError, match=r"scheduler must be 'single', 'threads'.*got 'gpu'"):
        zonal.tabulate(units, {2020: path}, scheduler="gpu")


# --------------------------------------------------------------------------- invariants


@pytest.fixture(scope="module")
def uniform_raster(tmp_path_factory) -> object:
    """A 20 × 20 raster of code 11 (30 m pixels) with a nodata pixel."""
    data = np.full((20, 20), 11, "uint8")
    data[3, 4] = 255
    return write_array(tmp_path_factory.mktemp("uniform") / "uniform.tif", data, nodata=255)


coordinate = st.floats(min_value=0.0, max_value=600.0, allow_nan=False)


@settings(max_examples=25, deadline=None)
@given(points=st.lists(st.tuples(coordinate, coordinate), min_size=3, max_size=7))
def test_exact_areas_add_up_to_the_polygon_area(uniform_raster, points) -> None:
    """Exact mode: code areas + nodata area = the polygon's area, for any valid polygon."""
    polygon = shapely.make_valid(shapely.Polygon([(400_000 + x, 3_099_400 + y) for x, y in points]))
    polygon = shapely.union_all(
        shapely.get_parts(polygon)[shapely.area(shapely.get_parts(polygon)) > 0]
    )
    assume(polygon.area > 100.0)  # m²
    units = gpd.GeoDataFrame({"unit": ["u"]}, geometry=[polygon], crs="EPSG:32648")
    result = zonal.tabulate(units, {2020: uniform_raster}, mode="exact")
    total_ha = result.areas["area_ha"].sum() + result.nodata_ha["nodata_ha"].sum()
    assert total_ha == pytest.approx(polygon.area / 10_000, rel=1e-9)  # m² → ha


@pytest.mark.parametrize("offset_m", [0.0, 15.0, 7.5])  # on corners, on centres, between
def test_centre_ties_and_overlapping_units_as_rasterstats(tmp_path, offset_m) -> None:
    """Edges along pixel boundaries or through pixel centres, overlapping units."""
    data = np.arange(400, dtype="uint8").reshape(20, 20) % 7 + 1
    path = write_array(tmp_path / "ties.tif", data)
    x0, y0 = 400_000.0 + offset_m, 3_099_400.0 + offset_m
    squares = [
        shapely.box(x0 + 60, y0 + 60, x0 + 300, y0 + 330),
        shapely.box(x0 + 240, y0 + 90, x0 + 510, y0 + 480),  # overlaps the first
        shapely.Polygon([(x0 + 30, y0 + 450), (x0 + 300, y0 + 570), (x0 + 90, y0 + 360)]),
    ]
    units = gpd.GeoDataFrame({"unit": ["a", "b", "c"]}, geometry=squares, crs="EPSG:32648")
    result = zonal.tabulate(units, {2020: path}, mode="centre")
    expected = rasterstats_table(units, path, nodata=255)  # no 255 in the data
    pd.testing.assert_frame_equal(sorted_pixels(result.areas), sorted_pixels(expected))


def test_holes_and_multipolygons(tmp_path) -> None:
    """A unit with a hole and a two-part unit, centre and exact, against the references."""
    data = (np.arange(900, dtype="uint8").reshape(30, 30) * 7) % 5 + 1
    path = write_array(tmp_path / "holes.tif", data, nodata=255)
    # near the grid's bottom-left corner, off round metres so no edge runs exactly
    # through a pixel centre (see test_centre_axis_aligned_and_overlapping_units...)
    x0, y0 = 400_000.37, 3_099_100.61
    ring = shapely.Polygon(
        [(x0 + 40, y0 + 40), (x0 + 860, y0 + 70), (x0 + 820, y0 + 500), (x0 + 50, y0 + 470)],
        holes=[[(x0 + 200, y0 + 150), (x0 + 500, y0 + 160), (x0 + 450, y0 + 380)]],
    )
    parts = shapely.MultiPolygon(
        [
            shapely.Polygon([(x0 + 20, y0 + 560), (x0 + 400, y0 + 540), (x0 + 300, y0 + 880)]),
            shapely.Polygon([(x0 + 500, y0 + 600), (x0 + 880, y0 + 620), (x0 + 700, y0 + 870)]),
        ]
    )
    units = gpd.GeoDataFrame({"unit": ["ring", "parts"]}, geometry=[ring, parts], crs="EPSG:32648")
    centre = zonal.tabulate(units, {2020: path}, mode="centre")
    pd.testing.assert_frame_equal(
        sorted_pixels(centre.areas), sorted_pixels(rasterstats_table(units, path))
    )
    exact = sorted_pixels(zonal.tabulate(units, {2020: path}, mode="exact").areas)
    reference = sorted_pixels(exactextract_table(units, path))
    np.testing.assert_allclose(exact["pixels"], reference["pixels"], rtol=1e-4)


def test_rotated_and_multiband_rasters_are_refused(tmp_path, small_units) -> None:
    rotated = Affine(30.0, 1.0, 400_000.0, 1.0, -30.0, 3_100_000.0)
    path = write_array(tmp_path / "rotated.tif", np.full((10, 10), 11, "uint8"), transform=rotated)
    with pytest.raises(InputError, match=r"rotated\.tif: rotated grids are not supported"):
        zonal.tabulate(small_units, {2020: path})
    profile = {"driver": "GTiff", "width": 10, "height": 10, "count": 2, "dtype": "uint8"}
    profile |= {"crs": "EPSG:32648", "transform": Affine(30.0, 0, 400_000.0, 0, -30.0, 3.1e6)}
    with rasterio.open(tmp_path / "rgb.tif", "w", **profile) as dst:
        dst.write(np.ones((2, 10, 10), "uint8"))
    with pytest.raises(InputError, match=r"rgb\.tif: expected one band.*found 2 bands"):
        zonal.tabulate(small_units, {2020: tmp_path / "rgb.tif"})


lattice = st.integers(min_value=0, max_value=40)  # half-pixel steps over a 20-pixel grid


@settings(max_examples=30, deadline=None)
@given(corners=st.lists(st.tuples(lattice, lattice), min_size=3, max_size=8))
def test_centre_equals_gdal_on_tie_heavy_polygons(uniform_raster, corners) -> None:
    """Vertices on pixel corners and centres: the engine burns what GDAL burns."""
    import rasterio.features

    outline = [(400_000 + 15.0 * i, 3_099_400 + 15.0 * j) for i, j in corners]
    parts = shapely.get_parts(shapely.make_valid(shapely.Polygon(outline)))
    polygon = shapely.union_all(parts[shapely.area(parts) > 0])
    assume(not polygon.is_empty)
    with rasterio.open(uniform_raster) as dataset:
        burnt = rasterio.features.rasterize([(polygon, 1)], (20, 20), transform=dataset.transform)
    valid = burnt.astype(bool) & (dataset_codes(uniform_raster) != 255)
    assume(valid.any())
    units = gpd.GeoDataFrame({"unit": ["u"]}, geometry=[polygon], crs="EPSG:32648")
    result = zonal.tabulate(units, {2020: uniform_raster}, mode="centre")
    assert result.areas["pixels"].sum() == valid.sum()
    # 30 m pixels: 0.09 ha each
    assert result.nodata_ha["nodata_ha"].sum() == pytest.approx(0.09 * (burnt.sum() - valid.sum()))


def dataset_codes(path) -> np.ndarray:
    with rasterio.open(path) as dataset:
        return dataset.read(1)


def test_missing_dask_names_the_extra(inputs, monkeypatch) -> None:
    units, path = inputs
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name in ("dask", "distributed") else real_find_spec(name, *a),
    )
    with pytest.raises(InputError, match=r"carbon-balance-zoning\[dask\]"):
        zonal.tabulate(units, {2020: path}, scheduler="threads")


def test_counting_record_round_trip_and_refusals() -> None:
    counting = Counting({2015: "centre", 2020: "exact"}, {2015: 0, 2020: 1})
    record = counting.to_json()
    assert record == {"mode": {"2015": "centre", "2020": "exact"}, "grid": {"2015": 0, "2020": 1}}
    assert Counting.from_json(json.loads(json.dumps(record))) == counting
    bad = [
        [],
        {"mode": {"2015": "centre"}},
        {"mode": {"2015": "centre"}, "grid": {"2020": 0}},
        {"mode": {"2015": "fast"}, "grid": {"2015": 0}},
        {"mode": {"2015": "centre"}, "grid": {"2015": "0"}},
        {"mode": {"2015": "centre"}, "grid": {"2015": True}},
    ]
    for record in bad:
        with pytest.raises(ValueError, match=r"counting|mode|grid"):
            Counting.from_json(record)


def test_kernels_load_without_scipy_linalg_which_still_imports_after() -> None:
    """A fresh interpreter: the kernels load with scipy.linalg hidden, then it imports."""
    import subprocess
    import sys

    script = (
        "import sys, gc\n"
        "from pipeline.zonal.counting import load_kernels, _centre_spans\n"
        "load_kernels()\n"
        "assert 'scipy.linalg' not in sys.modules, 'scipy.linalg was imported'\n"
        "assert gc.isenabled()\n"
        "import numpy as np\n"
        "edges = np.array([[0.0, 0.0, 3.0, 0.0], [3.0, 0.0, 3.0, 2.0], [3.0, 2.0, 0.0, 0.0]])\n"
        "print(_centre_spans(7, edges, 0, 3, 0, 2).tolist())\n"
        "import scipy.linalg\n"
        "print(float(scipy.linalg.det(np.eye(2) * 2)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    # row 0 (centre line y = 0.5): the edge (0,0)-(3,2) is at x = 0.75, the right side at 3:
    # centres 1.5 and 2.5 are inside -> columns 1, 2; row 1 (y = 1.5): x = 2.25 -> column 2
    assert done.stdout.split("\n")[:2] == ["[[7, 0, 1, 3], [7, 1, 2, 3]]", "4.0"]


def test_byte_codes_counted_with_nodata_moved_to_its_column() -> None:
    """Row 0, columns 0..4 of unit 1: codes 1, 1, nodata 255, 2, 1 -> 3 × code 1, 1 × code
    2, 1 nodata (column 256); row 1, columns 1..2 of unit 2: codes 7, 7."""
    from pipeline.zonal.counting import _count_codes
    from pipeline.zonal.jobs import Counts

    data = np.array([[9, 1, 1, 255, 2, 1], [9, 7, 7, 9, 9, 9]], np.uint8)
    spans = np.array([[1, 0, 10, 15], [2, 1, 10, 12]], np.int64)  # columns of the grid
    counts = Counts(pixels=np.zeros((3, 257)), area_m2=np.zeros((1, 1)))
    found = _count_codes(spans, data[:, 1:], 10, 255, True, np.ones(2), counts, False)
    assert found[0] > found[1]  # nothing out of range
    expected = np.zeros((3, 257))
    expected[1, 1], expected[1, 2], expected[1, 256] = 3, 1, 1
    expected[2, 7] = 2
    np.testing.assert_array_equal(counts.pixels, expected)


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    nodata=st.sampled_from([None, 0, 3, 255, -1, 300]),
)
def test_byte_kernel_counts_as_the_general_kernel(seed, nodata) -> None:
    from pipeline.zonal.counting import _count_codes, _count_spans
    from pipeline.zonal.jobs import Counts

    rng = np.random.default_rng(seed)
    data = rng.integers(0, 6, (8, 40)).astype(np.uint8)
    data[rng.random(data.shape) < 0.2] = 3
    starts = rng.integers(0, 40, 30)
    spans = np.column_stack(
        [rng.integers(1, 4, 30), rng.integers(0, 8, 30), starts, starts + rng.integers(0, 13, 30)]
    ).clip(0, 40)
    spans = spans[np.lexsort((spans[:, 1], spans[:, 0]))].astype(np.int64)
    has_nodata, code = nodata is not None, 0 if nodata is None else nodata
    fast = Counts(pixels=np.zeros((4, 257)), area_m2=np.zeros((1, 1)))
    _count_codes(spans, data, 0, code, has_nodata, np.ones(8), fast, False)
    general = np.zeros((4, 257))
    _count_spans(spans, data, 0, code, has_nodata, np.ones(8), general, np.zeros((1, 1)), False)
    np.testing.assert_array_equal(fast.pixels, general)


@settings(max_examples=40, deadline=None)
@given(
    corners=st.lists(st.tuples(lattice, lattice), min_size=3, max_size=8),
    rows_per_strip=st.integers(1, 7),
)
@example(corners=[(1, 1), (3, 1), (3, 3), (1, 3)], rows_per_strip=1)  # a flat edge burnt
def test_centre_spans_strip_by_strip_burn_what_gdal_burns(corners, rows_per_strip) -> None:
    """Half-pixel lattice vertices (edges through centres, horizontal edges on centre
    lines): the runs of each strip of a few rows, put together, are GDAL's burn of the
    whole grid."""
    import types

    import rasterio.features

    from pipeline.zonal.counting import _centre_spans
    from pipeline.zonal.geometry import pixel_edges

    grid = types.SimpleNamespace(transform=Affine(1.0, 0, 0, 0, -1.0, 20.0), width=20, height=20)
    outline = shapely.Polygon([(i / 2, j / 2) for i, j in corners])
    parts = shapely.get_parts(shapely.make_valid(outline))
    polygon = shapely.orient_polygons(shapely.union_all(parts[shapely.area(parts) > 0]))
    assume(not polygon.is_empty)
    (edges,) = pixel_edges(np.array([polygon]), grid)
    burnt = rasterio.features.rasterize([(polygon, 1)], (20, 20), transform=grid.transform)
    mask = np.zeros((20, 20), np.uint8)
    for row_start in range(0, 20, rows_per_strip):
        rows = min(rows_per_strip, 20 - row_start)
        for _unit, row, first, end in _centre_spans(1, edges, 0, 20, row_start, rows):
            mask[row_start + row, first:end] += 1
    np.testing.assert_array_equal(mask, burnt)


@pytest.mark.parametrize("mode", ["centre", "exact"])
def test_strips_read_while_the_kernels_load_count_as_after(
    tmp_path, landuse_raster, irregular_units, mode
) -> None:
    """A fresh interpreter: the kernels load in the background (slowed here so that the
    strips are surely read ahead); areas and transitions equal a second pass's, whose
    kernels are loaded before any strip is read."""
    import subprocess
    import sys

    units_path = tmp_path / "units.gpkg"
    irregular_units(9, PIXELS).to_file(units_path)
    years = {2015: landuse_raster(PIXELS, "a.tif", seed=1), 2020: landuse_raster(PIXELS, "b.tif")}
    script = f"""
import time, geopandas as gpd
from pipeline.zonal import counting, schedulers, tabulate
schedulers.STRIP_TARGET_PIXELS = 2000  # 30 strips of 8 rows
load = counting._load
counting._load = lambda: (time.sleep(0.5), load())
held = []
read_ahead = schedulers._read_ahead
def spy(*args):
    strips, reading = read_ahead(*args)
    held.append(len(strips) + len(reading))
    return strips, reading
schedulers._read_ahead = spy
units = gpd.read_file({str(units_path)!r})
rasters = {{2015: {str(years[2015])!r}, 2020: {str(years[2020])!r}}}
first = tabulate(units, rasters, mode={mode!r}, progress=False)
second = tabulate(units, rasters, mode={mode!r}, progress=False)
print(held, first.areas.equals(second.areas), first.transitions.equals(second.transitions),
      len(first.transitions) > 0)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    held, *same = done.stdout.strip().rsplit(" ", 3)
    assert same == ["True", "True", "True"]
    first_pass, second_pass = json.loads(held)
    assert first_pass >= 2 and second_pass == 0  # strips read ahead only while loading
