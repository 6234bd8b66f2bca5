"""RESDC raster formats as users receive them: GeoTIFF, .img, ArcInfo GRID, zipped."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from pyproj import CRS, Geod

from pipeline import zonal
from pipeline.errors import InputError
from pipeline.inputs import rasters

PIXELS = 120


@pytest.fixture
def units(irregular_units):
    return irregular_units(5, PIXELS)


def zip_files(archive: Path, *members: Path, folder: str = "") -> Path:
    """Zip ``members`` (with their sidecar files) into ``archive`` under ``folder``."""
    with zipfile.ZipFile(archive, "w") as bundle:
        for member in members:
            for sidecar in member.parent.glob(member.stem + ".*"):
                bundle.write(sidecar, f"{folder}{sidecar.name}")
    return archive


def tables(units, path):
    result = zonal.tabulate(units, {2020: path}, mode="centre")
    return result.areas, result.nodata_ha


def test_img_gives_the_geotiff_table(units, landuse_raster) -> None:
    tif = landuse_raster(PIXELS)
    img = landuse_raster(PIXELS, name="landuse.img", driver="HFA")
    for got, expected in zip(tables(units, img), tables(units, tif), strict=True):
        pd.testing.assert_frame_equal(got, expected)


@pytest.mark.parametrize("kind", ["tif", "img"])
def test_zipped_raster_read_in_place(units, landuse_raster, tmp_path, kind) -> None:
    tif = landuse_raster(PIXELS)
    driver = {"tif": "GTiff", "img": "HFA"}[kind]
    source = landuse_raster(PIXELS, name=f"inner/landuse.{kind}", driver=driver)
    archive = zip_files(tmp_path / "landuse.zip", source, folder="data/")
    assert rasters.gdal_path(archive).startswith("/vsizip/")
    for got, expected in zip(tables(units, archive), tables(units, tif), strict=True):
        pd.testing.assert_frame_equal(got, expected)
    assert not (tmp_path / "data").exists()  # nothing unpacked


def test_zip_with_several_rasters_lists_them(landuse_raster, tmp_path) -> None:
    first = landuse_raster(20, name="a/lu2015.tif")
    second = landuse_raster(20, name="b/lu2020.tif")
    archive = zip_files(tmp_path / "both.zip", first, second)
    with pytest.raises(InputError, match=r"both\.zip.*2 rasters.*lu2015\.tif, lu2020\.tif"):
        rasters.gdal_path(archive)


def test_zip_without_raster_lists_contents(tmp_path) -> None:
    archive = tmp_path / "notes.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("readme.txt", "hello")
    with pytest.raises(InputError, match=r"notes\.zip.*no raster.*readme\.txt.*supported"):
        rasters.gdal_path(archive)


def test_unknown_type_lists_supported(tmp_path) -> None:
    path = tmp_path / "landuse.nc"
    path.write_bytes(b"CDF")
    with pytest.raises(InputError, match=r"landuse\.nc.*'\.nc'.*\.tif.*\.img.*hdr\.adf.*\.zip"):
        rasters.gdal_path(path)


def test_missing_file(tmp_path) -> None:
    with pytest.raises(InputError, match=r"absent\.tif: file not found"):
        rasters.gdal_path(tmp_path / "absent.tif")


def test_arcinfo_grid_paths(tmp_path) -> None:
    """GDAL reads ArcInfo GRID but cannot write it: check the path handling only."""
    grid = tmp_path / "lucc2020"
    grid.mkdir()
    (grid / "hdr.adf").write_bytes(b"")
    assert rasters.gdal_path(grid) == str(grid)
    assert rasters.gdal_path(grid / "hdr.adf") == str(grid)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match=r"empty: folder holds no hdr\.adf"):
        rasters.gdal_path(empty)
    archive = tmp_path / "grid.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("lucc2020/hdr.adf", b"")
        bundle.writestr("lucc2020/w001001.adf", b"")
    assert rasters.gdal_path(archive).endswith("grid.zip/lucc2020")


def test_unreadable_grid_is_an_input_error(tmp_path) -> None:
    grid = tmp_path / "broken"
    grid.mkdir()
    (grid / "hdr.adf").write_bytes(b"not a grid")
    with pytest.raises(InputError, match=r"broken.*GDAL cannot read it"):
        rasters.read_info(grid)


def test_krasovsky_albers_and_int16(units, tmp_path, landuse_raster) -> None:
    tif = landuse_raster(PIXELS)
    with rasterio.open(tif) as src:
        data = src.read(1).astype("int16")
        data[data == 255] = -9999
        profile = src.profile | {"dtype": "int16", "nodata": -9999}
    int16 = tmp_path / "landuse_int16.tif"
    with rasterio.open(int16, "w", **profile) as dst:
        dst.write(data, 1)
    info = rasters.read_info(int16)
    assert info.crs.ellipsoid.name.startswith("Krassovsky")
    assert info.dtype == "int16"
    expected_areas, expected_nodata = tables(units, tif)
    areas, nodata = tables(units, int16)
    pd.testing.assert_frame_equal(areas, expected_areas)
    pd.testing.assert_frame_equal(nodata, expected_nodata)


def test_row_areas_follow_the_ellipsoid(tmp_path) -> None:
    info = rasters.RasterInfo(
        path=tmp_path / "x.tif",
        gdal_path="x.tif",
        crs=CRS.from_epsg(4326),
        transform=Affine(0.5, 0, 100.0, 0, -0.5, 60.0),
        width=4,
        height=120,
        dtype="uint8",
        nodata=None,
        block_height=1,
    )
    areas_m2 = rasters.row_areas_m2(info)
    geod = Geod(ellps="WGS84")
    for row in (0, 40, 119):
        top, bottom = 60.0 - 0.5 * row, 60.0 - 0.5 * (row + 1)
        lons = np.linspace(100.0, 100.5, 200)  # dense edges follow the parallels
        ring_lons = np.concatenate([lons, lons[::-1]])
        ring_lats = np.concatenate([np.full(200, bottom), np.full(200, top)])
        expected_m2, _ = geod.polygon_area_perimeter(ring_lons, ring_lats)
        assert areas_m2[row] == pytest.approx(abs(expected_m2), rel=1e-6)


def test_projected_pixel_area_in_feet(tmp_path) -> None:
    info = rasters.RasterInfo(
        path=tmp_path / "x.tif",
        gdal_path="x.tif",
        crs=CRS.from_epsg(2263),  # US survey feet
        transform=Affine(100.0, 0, 0, 0, -100.0, 0),
        width=1,
        height=1,
        dtype="uint8",
        nodata=None,
        block_height=1,
    )
    # (100 ft × 0.3048006 m/ft)² ≈ 929.03 m²
    assert rasters.pixel_area_m2(info) == pytest.approx(929.0341, rel=1e-5)


def _empty_header(path: Path, width: int, height: int, crs: str = "EPSG:4326", **kw) -> Path:
    """A sparse GeoTIFF: a header declaring ``width × height`` pixels and no pixel data."""
    profile = {
        "driver": "GTiff", "width": width, "height": height, "count": 1, "dtype": "uint8",
        "crs": crs, "transform": rasterio.transform.from_origin(100, 30, 1e-4, 1e-4),
        "nodata": 255, "BIGTIFF": "YES", "SPARSE_OK": "TRUE", **kw,
    }  # fmt: skip
    with rasterio.open(path, "w", **profile):
        pass
    return path


def test_a_header_declaring_a_side_of_two_billion_pixels_is_refused(tmp_path) -> None:
    """The issue's 24 KB geographic header (100 × 2·10⁹ px): refused from the header, before
    the per-row cell areas (14.9 GiB) or a row of pixels are allocated."""
    path = _empty_header(tmp_path / "lu.tif", 2_000_000_000, 100, blockysize=1)
    assert path.stat().st_size < 30_000
    with pytest.raises(InputError) as caught:
        rasters.read_info(path)
    assert str(caught.value).startswith(
        f"{path}: declares 2000000000 × 100 = 2e+11 pixels: a side of 2000000000 pixels is "
        "above the limit of 2000000"
    )
    assert "CARBON_ZONING_MAX_RASTER_SIDE" in str(caught.value)


def test_a_header_of_a_million_by_a_million_pixels_is_refused(tmp_path) -> None:
    path = _empty_header(tmp_path / "lu.tif", 1_000_000, 1_000_000, blockysize=10_000)
    with pytest.raises(InputError, match=r"= 1e\+12 pixels, above the limit of 1e\+11") as caught:
        rasters.read_info(path)
    assert "CARBON_ZONING_MAX_RASTER_PIXELS" in str(caught.value)


def test_more_pixels_than_the_file_could_hold_is_refused(tmp_path, monkeypatch) -> None:
    path = _empty_header(tmp_path / "lu.tif", 100_000, 100_000, blockysize=1_000)
    size = path.stat().st_size
    with pytest.raises(InputError) as caught:
        rasters.read_info(path)
    assert str(caught.value).startswith(
        f"{path}: declares 100000 × 100000 = 1e+10 pixels in a file of {size} bytes: "
        f"{1e10 / size:.3g} pixels a byte, above the limit of 100000"
    )
    monkeypatch.setenv("CARBON_ZONING_MAX_PIXELS_PER_BYTE", str(10**10 // size + 1))
    assert rasters.read_info(path).width == 100_000  # a sound sparse raster: raise the cap


def test_a_national_30_m_raster_passes_the_caps() -> None:
    """China's bounding box at 30 m (RESDC's national grid: about 167,000 × 133,000 pixels,
    2.2·10¹⁰) in a compressed file of 1.5 GB, and a single-code tile set compressed with
    ZSTD at its best (7,600 pixels a byte, measured on 8192² pixels in 512² tiles)."""
    rasters._check_dimensions(Path("china_30m.tif"), 167_000, 133_000, 1_500_000_000)
    rasters._check_dimensions(Path("china_30m_zstd.tif"), 167_000, 133_000, 22_210_000_000 // 7_600)


def test_a_real_compressed_single_code_raster_is_read(tmp_path) -> None:
    path = tmp_path / "one_code.tif"
    profile = {
        "driver": "GTiff", "width": 4096, "height": 4096, "count": 1, "dtype": "uint8",
        "crs": "EPSG:32648", "transform": rasterio.transform.from_origin(0, 0, 30, 30),
        "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "zstd",
        "zstd_level": 22, "nodata": 255,
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as dataset:
        dataset.write(np.full((4096, 4096), 21, np.uint8), 1)
    assert rasters.read_info(path).width == 4096
