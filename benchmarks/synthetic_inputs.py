"""Seeded synthetic land-use rasters and irregular county-like polygons.

Shared by the zonal benchmark (``benchmarks/zonal.py``) and the zonal tests
(``tests/conftest.py``), so both measure and check the same kind of input.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from affine import Affine
from rasterio.windows import Window

RESDC_CODES = np.array(
    [11, 12, 21, 22, 23, 24, 31, 32, 33, 41, 42, 43, 46, 51, 52, 53, 61, 63, 65, 66, 99],
    dtype=np.uint8,
)
ALBERS_KRASOVSKY = (
    "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +x_0=0 +y_0=0 +ellps=krass +units=m +no_defs"
)
ORIGIN_XY = (400_000.0, 3_100_000.0)  # Guizhou-ish, in the Albers CRS above


def grid_transform(pixels: int, pixel_m: float = 30.0) -> Affine:
    """North-up transform of a ``pixels`` × ``pixels`` grid at ``pixel_m`` metres."""
    return Affine(pixel_m, 0.0, ORIGIN_XY[0], 0.0, -pixel_m, ORIGIN_XY[1])


def irregular_units(
    n_units: int, transform: Affine, pixels: int, seed: int = 0, margin: float = 0.05
) -> gpd.GeoDataFrame:
    """``n_units`` non-overlapping wiggly polygons (Voronoi cells bent by a smooth field)."""
    rng = np.random.default_rng(seed)
    x0, y1 = transform @ (0, 0)
    x1, y0 = transform @ (pixels, pixels)
    inset = margin * (x1 - x0)
    frame = shapely.box(x0 + inset, y0 + inset, x1 - inset, y1 - inset)
    seeds = shapely.points(
        rng.uniform(x0 + inset, x1 - inset, n_units), rng.uniform(y0 + inset, y1 - inset, n_units)
    )
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=frame))
    cells = shapely.intersection(cells, frame)
    size = x1 - x0
    cells = shapely.segmentize(cells, size / (40 * np.sqrt(n_units)))
    amplitude = 0.15 * size / np.sqrt(n_units)
    phases = rng.uniform(0, 2 * np.pi, 4)

    def bend(coords: np.ndarray) -> np.ndarray:
        u = (coords[:, 0] - x0) / size * 2 * np.pi * 3
        v = (coords[:, 1] - y0) / size * 2 * np.pi * 3
        dx = np.sin(v * 1.7 + phases[0]) * np.cos(u * 0.9 + phases[1])
        dy = np.sin(u * 1.3 + phases[2]) * np.cos(v * 1.1 + phases[3])
        bent = coords.copy()
        bent[:, 0] += amplitude * 0.3 * dx
        bent[:, 1] += amplitude * 0.3 * dy
        return bent

    cells = shapely.transform(cells, bend)
    cells = cells[np.argsort(shapely.area(cells))[::-1]][:n_units]
    names = [f"county_{i:03d}" for i in range(len(cells))]
    return gpd.GeoDataFrame({"unit": names}, geometry=list(cells), crs=ALBERS_KRASOVSKY)


def code_block(rows: int, cols: int, row_offset: int, seed: int, patch: int = 40) -> np.ndarray:
    """Patchy land-use codes for rows ``row_offset ..`` (deterministic per position)."""
    rng = np.random.default_rng([seed, row_offset])
    first_patch = row_offset // patch
    n_patch_rows = (row_offset + rows - 1) // patch - first_patch + 1
    n_patch_cols = -(-cols // patch)
    patches = np.vstack(  # each patch row seeded on its own so strips agree
        [
            np.random.default_rng([seed, 10**9 + first_patch + k]).integers(
                0, len(RESDC_CODES), (1, n_patch_cols), dtype=np.int64
            )
            for k in range(n_patch_rows)
        ]
    )
    row_patch = (np.arange(row_offset, row_offset + rows) // patch) - first_patch
    col_patch = np.arange(cols) // patch
    index = patches[row_patch][:, col_patch]
    speckle = rng.random((rows, cols)) < 0.1
    index[speckle] = rng.integers(0, len(RESDC_CODES), int(speckle.sum()))
    return RESDC_CODES[index]


def write_landuse(
    path: Path,
    pixels: int,
    *,
    transform: Affine | None = None,
    crs: str = ALBERS_KRASOVSKY,
    seed: int = 0,
    nodata: int | None = 255,
    nodata_corner: bool = True,
    driver: str = "GTiff",
    strip_rows: int = 1024,
    height: int | None = None,
    codes_without: tuple[int, ...] = (),
) -> Path:
    """Write a seeded ``pixels`` (wide) × ``height`` (default ``pixels``) uint8 land-use
    raster (tiled DEFLATE GeoTIFF).

    With ``nodata_corner`` the top-left 1/8 × 1/8 corner is nodata (or 0 if none declared);
    codes in ``codes_without`` are replaced by 21 (forest).
    """
    transform = transform or grid_transform(pixels)
    height = pixels if height is None else height
    profile = {
        "driver": driver,
        "width": pixels,
        "height": height,
        "count": 1,
        "dtype": "uint8",
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
    }
    if driver == "GTiff":
        profile |= {"tiled": True, "blockxsize": 256, "blockysize": 256, "compress": "deflate"}
    corner = pixels // 8
    with rasterio.open(path, "w", **profile) as dst:
        for r0 in range(0, height, strip_rows):
            rows = min(strip_rows, height - r0)
            block = code_block(rows, pixels, r0, seed)
            block[np.isin(block, codes_without)] = 21
            if nodata_corner and r0 < corner:
                block[: corner - r0, :corner] = 0 if nodata is None else nodata
            dst.write(block, 1, window=Window(0, r0, pixels, rows))
    return path


# --------------------------------------------------------------------------- province study

# Characters for synthetic county names (SYNTHETIC: no real place is meant).
NAME_CHARS = "安宁平远清江山河源阳溪城桐梓凤冈湄潭余庆习水赤绥正道务川德印思南石阡铜仁万松桃"
LONG_SUFFIXES = ("彝族回族苗族自治县", "布依族苗族自治县", "仡佬族苗族自治县", "侗族自治县")
PROVINCE_SPAN_M = 520_000.0  # about the width of Guizhou


def county_names(count: int, seed: int = 0) -> list[str]:
    """``count`` distinct synthetic Chinese county names, every 6th a long autonomous one."""
    rng = np.random.default_rng(seed)
    names: list[str] = []
    while len(names) < count:
        stem = "".join(rng.choice(list(NAME_CHARS), 2))
        i = len(names)
        name = stem + (LONG_SUFFIXES[i % 4] if i % 6 == 5 else "市市中区" if i % 13 == 7 else "县")
        if name not in names:
            names.append(name)
    return names


def province_study(
    root: Path,
    n_units: int,
    *,
    years: tuple[int, ...] = (2015, 2020),
    rasters: bool = False,
    pixels: int = 1200,
    seed: int = 0,
    maps: bool = True,
    counties: gpd.GeoDataFrame | None = None,
) -> Path:
    """Write a synthetic province-sized study into ``root``; return its study file.

    ``n_units`` wiggly county polygons with long Chinese names (units.gpkg), or the given
    ``counties`` (a ``name`` column, e.g. real boundaries from ``carbon-zoning boundaries``;
    ``n_units`` is then ignored), statistics for ``years``, and either land-use rasters
    (``rasters=True``, ``pixels`` on the long side) or an area table. The statistics, rasters
    and areas are SYNTHETIC and seeded.
    """
    root.mkdir(parents=True, exist_ok=True)
    transform = grid_transform(pixels, PROVINCE_SPAN_M / pixels)
    height = pixels
    if counties is not None:
        transform, pixels, height = covering_grid(counties, pixels)
    if counties is None:
        units = irregular_units(n_units, transform, pixels, seed=seed)
        names = county_names(len(units), seed)
        units = gpd.GeoDataFrame({"name": names}, geometry=units.geometry.values, crs=units.crs)
    else:
        units = counties[["name", "geometry"]].reset_index(drop=True)
        names = list(units["name"])
        n_units = len(units)
    units.to_crs(4326).to_file(root / "units.gpkg", layer="counties")
    rng = np.random.default_rng(seed + 1)
    rows = []
    for k, year in enumerate(years):
        growth = 1.0 + 0.08 * k
        for i, name in enumerate(names):
            big = 6.0 if i % 17 == 0 else 1.0  # a few city districts
            rows.append({"unit": name, "year": year,
                         "population_10k": round(rng.uniform(10, 90) * big * growth, 2),
                         "gdp_100m_yuan": round(rng.uniform(40, 600) * big**1.5 * growth, 1),
                         "energy_tce": round(rng.uniform(2e5, 3e6) * big * growth, 0)})  # fmt: skip
    import pandas as pd

    pd.DataFrame(rows).to_csv(root / "statistics.csv", index=False)
    if rasters:
        entries = []
        for k, year in enumerate(years):
            write_landuse(root / f"landuse_{year}.tif", pixels, transform=transform,
                          seed=seed + k, nodata_corner=False, height=height,
                          codes_without=(99,) if counties is not None else ())  # fmt: skip
            entries.append(f'{year} = "landuse_{year}.tif"')
        landuse = f"rasters = {{ {', '.join(entries)} }}"
    else:
        _area_table(units, years, seed).to_csv(root / "areas.csv", index=False)
        landuse = 'areas = "areas.csv"'
    text = f"""\
[study]
name = "合成省 {n_units} 县 (SYNTHETIC)"
output_dir = "."

[boundaries]
path = "units.gpkg"
layer = "counties"

[landuse]
{landuse}

[statistics]
path = "statistics.csv"

[output]
maps = {"true" if maps else "false"}
xlsx = false
"""
    path = root / "study.toml"
    path.write_text(text, encoding="utf-8")
    return path


def covering_grid(counties: gpd.GeoDataFrame, pixels: int) -> tuple[Affine, int, int]:
    """A north-up grid in RESDC's Albers covering ``counties`` with ``pixels`` on its long
    side (2 % margin): ``(transform, width, height)``."""
    west, south, east, north = counties.to_crs(ALBERS_KRASOVSKY).total_bounds
    margin = 0.02 * max(east - west, north - south)
    size_m = (max(east - west, north - south) + 2 * margin) / pixels
    width = int(np.ceil((east - west + 2 * margin) / size_m))
    height = int(np.ceil((north - south + 2 * margin) / size_m))
    return Affine(size_m, 0.0, west - margin, 0.0, -size_m, north + margin), width, height


def _area_table(units: gpd.GeoDataFrame, years: tuple[int, ...], seed: int):
    """Areas per unit, year and RESDC code: random shares of each unit's area (ha)."""
    import pandas as pd

    rng = np.random.default_rng(seed + 2)
    codes = (11, 21, 31, 41, 51, 61)
    area_ha = units.to_crs(ALBERS_KRASOVSKY).geometry.area.to_numpy() / 10_000.0  # m² -> ha
    rows = []
    for year in years:
        for name, total_ha in zip(units["name"], area_ha, strict=True):
            shares = rng.dirichlet([3, 5, 2, 0.5, 0.5, 0.3])
            rows += [{"unit": name, "year": year, "code": code, "area_ha": total_ha * share}
                     for code, share in zip(codes, shares, strict=True)]  # fmt: skip
    return pd.DataFrame(rows)
