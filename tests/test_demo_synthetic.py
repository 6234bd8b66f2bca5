"""Synthetic demo rasters: targets, determinism, format, plausible change, input errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from pyproj import CRS
from scipy import ndimage

from pipeline.demo.synthetic import (
    SYNTHETIC_TAG,
    Grid,
    rasterize_units,
    read_targets,
    render_demo_png,
    target_counts,
    write_demo_rasters,
)
from pipeline.errors import InputError
from pipeline.inputs.boundaries import read_units

REPO = Path(__file__).resolve().parents[1]
BOUNDARIES = REPO / "data" / "raw" / "guiyang_counties.gpkg"
TARGETS = REPO / "data" / "raw" / "demo_landuse_targets.csv"
TEST_PIXEL_M = 300.0  # 100 x fewer pixels than the 30 m demo, same landscape

VectorFile = Callable[..., Path]


@pytest.fixture(scope="module")
def guiyang_rasters(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("demo")
    return write_demo_rasters(out, BOUNDARIES, TARGETS, pixel_size_m=TEST_PIXEL_M)


def read(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1)


def unit_ids_for(path: Path) -> tuple[np.ndarray, list[str]]:
    """Burn the shipped units onto the raster's grid, independently of the generator."""
    with rasterio.open(path) as src:
        grid = Grid(src.transform, src.height, src.width, src.res[0])
        crs = src.crs.to_wkt()
    units = read_units(BOUNDARIES, layer="counties", unit_field="unit").to_crs(crs)
    return rasterize_units(units, grid), units["unit"].tolist()


def test_one_raster_per_year(guiyang_rasters: list[Path]) -> None:
    assert [p.name for p in guiyang_rasters] == ["landuse_2015.tif", "landuse_2020.tif"]


def test_areas_match_the_targets_per_unit_and_code(guiyang_rasters: list[Path]) -> None:
    targets = read_targets(TARGETS)
    ids, names = unit_ids_for(guiyang_rasters[0])
    for path, year in zip(guiyang_rasters, (2015, 2020), strict=True):
        codes = read(path)
        for i, unit in enumerate(names):
            inside = codes[ids == i + 1]
            assert (inside != 0).all()
            got = pd.Series(inside).value_counts()
            rows = targets[(targets["year"] == year) & (targets["unit"] == unit)]
            shares = rows.set_index("code")["area_ha"] / rows["area_ha"].sum()
            for code, share in shares.items():
                expected_px = share * inside.size
                # 0.1 % of the target, or the one pixel any rounding needs at 300 m
                assert abs(got.get(code, 0) - expected_px) <= max(1e-3 * expected_px, 1.0), (
                    f"{year} {unit} code {code}"
                )


def test_raster_format(guiyang_rasters: list[Path]) -> None:
    with rasterio.open(guiyang_rasters[1]) as src:
        assert src.dtypes == ("uint8",)
        assert src.nodata == 0
        assert src.res == (TEST_PIXEL_M, TEST_PIXEL_M)
        assert src.profile["tiled"] and src.block_shapes == [(512, 512)]
        assert src.compression.name == "deflate"
        crs = CRS.from_wkt(src.crs.to_wkt())
        tags = src.tags()
    params = crs.to_dict()
    assert (params["proj"], params["lon_0"], params["lat_1"], params["lat_2"]) == (
        "aea",
        105,
        25,
        47,
    )
    assert crs.ellipsoid.semi_major_metre == 6378245.0
    assert SYNTHETIC_TAG in tags["DESCRIPTION"] and SYNTHETIC_TAG in tags["SOURCE"]
    assert tags["SEED"].isdigit() and "pipeline.demo" in tags["GENERATOR"]


def test_only_the_needed_pixels_change(guiyang_rasters: list[Path]) -> None:
    before, after = read(guiyang_rasters[0]), read(guiyang_rasters[1])
    ids, _ = unit_ids_for(guiyang_rasters[0])
    for unit_id in range(1, ids.max() + 1):
        b, a = before[ids == unit_id], after[ids == unit_id]
        codes = np.union1d(b, a)
        gains = sum(max(0, int((a == c).sum() - (b == c).sum())) for c in codes)
        assert int((a != b).sum()) == gains


def test_built_up_grows_around_existing_built_up(guiyang_rasters: list[Path]) -> None:
    before, after = read(guiyang_rasters[0]), read(guiyang_rasters[1])
    ids, names = unit_ids_for(guiyang_rasters[0])
    city = ids == names.index("市辖区") + 1
    urban_2015 = city & (before == 51)
    assert (after[urban_2015] == 51).all()
    new_urban = city & (after == 51) & (before != 51)
    assert new_urban.sum() > 0
    distance_m = ndimage.distance_transform_edt(~urban_2015) * TEST_PIXEL_M
    assert np.quantile(distance_m[new_urban], 0.9) <= 2000.0


def test_same_seed_same_rasters(tmp_path: Path) -> None:
    runs = [
        write_demo_rasters(tmp_path / name, BOUNDARIES, TARGETS, pixel_size_m=900.0, seed=seed)
        for name, seed in (("a", 1), ("b", 1), ("c", 2))
    ]
    for first, second, other in zip(*runs, strict=True):
        assert read(first).tobytes() == read(second).tobytes()
        assert first.read_bytes() == second.read_bytes()
        assert (read(first) != read(other)).mean() > 0.1


def test_preview_png(tmp_path: Path, guiyang_rasters: list[Path]) -> None:
    png = render_demo_png(guiyang_rasters[1], BOUNDARIES, tmp_path / "img" / "lu.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_largest_remainder_counts_sum_exactly() -> None:
    shares = pd.Series([1.0, 1.0, 1.0], index=[11, 21, 31])
    assert target_counts(shares, 100) == {11: 34, 21: 33, 31: 33}


# --------------------------------------------------------------------------- errors

GOOD_TARGETS = "year,unit,code,area_ha\n2015,甲,11,1\n2015,甲,21,1\n2015,乙,11,2\n"


def write_targets(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "targets.csv"
    path.write_text(text, encoding="utf-8")
    return path


def two_units(vector_file: VectorFile) -> Path:
    features = [
        {"name": "甲", "unit": "甲", "geometry": shapely.box(106.60, 26.60, 106.62, 26.62)},
        {"name": "乙", "unit": "乙", "geometry": shapely.box(106.62, 26.60, 106.64, 26.62)},
    ]
    return vector_file(features, name="two.gpkg", layer="counties", crs="EPSG:4326")


def test_units_without_cores_get_a_map(tmp_path: Path, vector_file: VectorFile) -> None:
    targets = write_targets(tmp_path, GOOD_TARGETS + "2020,甲,11,0\n2020,甲,21,2\n2020,乙,11,2\n")
    paths = write_demo_rasters(tmp_path / "out", two_units(vector_file), targets, pixel_size_m=100)
    codes_2015, codes_2020 = read(paths[0]), read(paths[1])
    assert set(np.unique(codes_2015)) == {0, 11, 21}
    assert set(np.unique(codes_2020)) == {0, 11, 21}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("year,unit,area_ha\n2015,甲,1\n", r"missing columns \['code'\]"),
        (GOOD_TARGETS + "2015,乙,300,1\n", r"code 300 is not in 1\.\.255"),
        (GOOD_TARGETS + "2015,乙,21,-1\n", r"area_ha -1(\.0)? is negative \(乙, 2015, code 21\)"),
        ("year,unit,code,area_ha\n2015,甲,11,0\n", r"unit '甲', year 2015: areas sum to 0"),
    ],
)
def test_bad_targets_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = write_targets(tmp_path, text)
    with pytest.raises(InputError, match=rf"targets\.csv: .*{message}"):
        read_targets(path)


def test_missing_targets_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nothing\.csv: targets file not found"):
        read_targets(tmp_path / "nothing.csv")


def test_targets_unit_not_in_boundaries(tmp_path: Path, vector_file: VectorFile) -> None:
    path = write_targets(tmp_path, GOOD_TARGETS + "2015,丙,11,1\n")
    with pytest.raises(InputError, match=r"targets\.csv: unit '丙' is not in two\.gpkg"):
        write_demo_rasters(tmp_path / "out", two_units(vector_file), path)


def test_unit_without_targets_for_a_year(tmp_path: Path, vector_file: VectorFile) -> None:
    path = write_targets(tmp_path, GOOD_TARGETS + "2020,甲,11,1\n")
    with pytest.raises(InputError, match=r"targets\.csv: year 2020: no targets for unit '乙'"):
        write_demo_rasters(tmp_path / "out", two_units(vector_file), path)


def test_cli_demo(tmp_path: Path, vector_file: VectorFile, capsys) -> None:
    from pipeline.cli import main

    boundaries = two_units(vector_file)
    boundaries.rename(tmp_path / "guiyang_counties.gpkg")
    write_targets(tmp_path, GOOD_TARGETS).rename(tmp_path / "demo_landuse_targets.csv")
    args = ["demo", "--out-dir", str(tmp_path), "--pixel-size", "100"]
    assert main([*args, "--preview", str(tmp_path / "p.png")]) == 0
    assert (tmp_path / "landuse_2015.tif").exists() and (tmp_path / "p.png").exists()
    assert main(["demo", "--out-dir", str(tmp_path / "empty")]) == 2
    assert "boundaries not found" in capsys.readouterr().err


def test_demo_transition_matrix_shows_only_the_target_changes(
    guiyang_rasters: list[Path],
) -> None:
    """Tabulated transitions: no code both loses and gains land in a unit, and the changed
    area of each unit is the sum of the codes' net gains (of the tabulated areas, and of the
    targets to within a pixel per code)."""
    from pipeline import zonal

    units = read_units(BOUNDARIES, layer="counties", unit_field="unit")
    rasters = dict(zip((2015, 2020), guiyang_rasters, strict=True))
    result = zonal.tabulate(units, rasters, mode="centre", transitions=True)
    pairs = result.transitions
    assert not (pairs[["code_from", "code_to"]] == -1).any().any()  # no nodata in the demo
    changed = pairs[pairs["code_from"] != pairs["code_to"]]
    losers = set(zip(changed["unit"], changed["code_from"], strict=True))
    gainers = set(zip(changed["unit"], changed["code_to"], strict=True))
    assert not losers & gainers
    areas = result.areas.pivot_table(
        index=["unit", "code"], columns="year", values="area_ha", fill_value=0.0
    )
    gains = (areas[2020] - areas[2015]).clip(lower=0).groupby("unit").sum()
    moved = changed.groupby("unit")["area_ha"].sum().reindex(gains.index, fill_value=0.0)
    pd.testing.assert_series_equal(moved, gains, check_names=False)
    targets = read_targets(TARGETS).pivot_table(
        index=["unit", "code"], columns="year", values="area_ha", fill_value=0.0
    )
    target_gains = (targets[2020] - targets[2015]).clip(lower=0).groupby("unit").sum()
    pixel_ha = (TEST_PIXEL_M / 100) ** 2
    codes = targets.groupby("unit").size()
    assert ((moved - target_gains).abs() <= codes * pixel_ha).all()
    assert (moved > 0).all()
