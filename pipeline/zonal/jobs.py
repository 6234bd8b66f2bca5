"""What a grid pass needs: the modes, the tuning constants, the job and the partial counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from affine import Affine

from pipeline.model.transitions import NODATA_CODE  # noqa: F401  (re-exported)

Mode = Literal["auto", "centre", "exact"]
MODES: tuple[str, ...] = ("auto", "centre", "exact")

AUTO_EXACT_BOUNDARY_SHARE = 0.01
"""``auto`` uses exact mode when boundary pixels exceed this share of a unit's pixels."""

STRIP_TARGET_PIXELS = 4_000_000
"""Pixels per strip (rounded to whole file blocks); bounds memory per worker."""

READ_AHEAD_BYTES = 32_000_000
"""Codes read ahead while the numba kernels load (first pass of a process); bounds memory."""

DASK_STRIPS_PER_TASK = 8
"""Strips per Dask task: fewer, larger tasks cut scheduling and file-opening overhead."""

DASK_CONNECT_TIMEOUT_S = 30
"""How long to try reaching a ``tcp://`` Dask scheduler before giving up."""

GDAL_CACHE_MB = 64
"""GDAL block cache during tabulation, so memory stays flat whatever the raster size."""

CODE_BINS = 256
LANES = 4  # interleaved histograms in the counting kernels (a power of two)
MAX_CODE = 65_535
FLOAT_NODATA = np.iinfo(np.int64).min

AREA_COLUMNS = ["unit", "year", "code", "pixels", "area_ha"]
TRANSITION_COLUMNS = ["unit", "year_from", "year_to", "code_from", "code_to", "pixels", "area_ha"]
MAX_TRANSITION_BINS = 1024
"""Transitions are counted in a dense (from, to) table per strip: codes up to 1023."""


@dataclass(frozen=True)
class Counting:
    """How each year's raster was counted: the mode used (``centre`` or ``exact``) and the
    index of its raster grid (years on one grid share the mode)."""

    mode: dict[int, str]
    grid: dict[int, int]

    def to_json(self) -> dict[str, dict[str, Any]]:
        """``{"mode": {"2015": "centre"}, "grid": {"2015": 0}}`` (run.json, cache sidecar)."""
        return {
            "mode": {str(year): mode for year, mode in sorted(self.mode.items())},
            "grid": {str(year): grid for year, grid in sorted(self.grid.items())},
        }

    @classmethod
    def from_json(cls, data: object) -> Counting:
        """The inverse of :meth:`to_json`; raises ``ValueError`` on anything else."""
        if not isinstance(data, dict) or set(data) != {"mode", "grid"}:
            raise ValueError(f"not a counting record: {data!r}")
        mode, grid = data["mode"], data["grid"]
        if not isinstance(mode, dict) or not isinstance(grid, dict) or set(mode) != set(grid):
            raise ValueError(f"not a counting record: {data!r}")
        if not all(m in ("centre", "exact") for m in mode.values()):
            raise ValueError(f"unknown counting mode in {mode!r}")
        if not all(isinstance(g, int) and not isinstance(g, bool) for g in grid.values()):
            raise ValueError(f"grid indices must be integers: {grid!r}")
        return cls({int(y): str(m) for y, m in mode.items()}, {int(y): g for y, g in grid.items()})


@dataclass(frozen=True)
class ZonalResult:
    """Areas per (unit, year, code) and how they were obtained.

    Attributes
    ----------
    areas
        ``unit, year, code, pixels, area_ha``: one row per unit, year and code present.
        ``pixels`` is a pixel count (centre) or a coverage-weighted pixel sum (exact).
    nodata_ha
        ``unit, year, nodata_ha``: area of nodata pixels inside each unit.
    mode_used
        ``"centre"`` or ``"exact"`` per year.
    seconds
        Wall time per grid pass, reported for each year of the pass.
    rasterizations
        How many times unit ids were rasterized: one per distinct grid.
    grid_of_year
        Index of the grid (0, 1, ...) each year was counted on.
    transitions
        ``unit, year_from, year_to, code_from, code_to, pixels, area_ha``: for each pair of
        consecutive years on one grid (and first -> last), the area that was ``code_from`` in
        ``year_from`` and ``code_to`` in ``year_to``, counted like the areas (same pixels,
        same coverage weights). :data:`NODATA_CODE` marks nodata in one of the two years.
    transitions_skipped
        Year pairs whose rasters lie on different grids (not counted).
    """

    areas: pd.DataFrame
    nodata_ha: pd.DataFrame
    mode_used: dict[int, str]
    seconds: dict[int, float] = field(default_factory=dict)
    rasterizations: int = 0
    grid_of_year: dict[int, int] = field(default_factory=dict)
    transitions: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=TRANSITION_COLUMNS)
    )
    transitions_skipped: tuple[tuple[int, int], ...] = ()  # pairs on different grids

    @property
    def counting(self) -> Counting:
        """The mode used and the grid index per year."""
        return Counting(dict(self.mode_used), dict(self.grid_of_year))


@dataclass(frozen=True)
class Layer:
    """One year's raster within a grid pass."""

    year: int
    path: Path
    source: str
    nodata: float | None
    is_float: bool


@dataclass(frozen=True)
class GridJob:
    """Everything a worker needs to count a range of rows of one grid (picklable)."""

    layers: tuple[Layer, ...]
    width: int
    height: int
    transform: Affine
    mode: str
    geometries: np.ndarray  # unit i has id i + 1; in the grid's CRS, clipped to its extent
    pixel_boxes: np.ndarray  # (K, 4) col_min, row_min, col_max, row_max (ints)
    edges: tuple[np.ndarray, ...]  # per unit (n, 4): x0, y0, x1, y1 in pixels (col, row)
    row_area_m2: np.ndarray
    track_area: bool
    block_height: int = 1
    block_width: int = 1
    n_bins: int = CODE_BINS
    pairs: tuple[tuple[int, int], ...] = ()  # (earlier, later) years whose transitions count

    @property
    def n_units(self) -> int:
        return len(self.geometries)


@dataclass
class Counts:
    """Partial sums for one year: column ``n_bins`` holds nodata."""

    pixels: np.ndarray  # (K + 1, n_bins + 1) float64
    area_m2: np.ndarray  # same shape when the CRS is geographic, else (1, 1)
    out_of_range: list[int] = field(default_factory=list)  # min, max code outside the bins
    # later year -> chunks of rows ``unit, bin_from, bin_to, pixels, area_m2`` (this year first)
    transitions: dict[int, list[np.ndarray]] = field(default_factory=dict)

    def add(self, other: Counts) -> None:
        self.pixels += other.pixels
        self.area_m2 += other.area_m2
        self.out_of_range = merge_range(self.out_of_range, other.out_of_range)
        for year, chunks in other.transitions.items():
            mine = self.transitions.setdefault(year, [])
            mine.extend(chunks)
            if len(mine) > COMPACT_CHUNKS:
                mine[:] = [compact_pairs(mine)]


COMPACT_CHUNKS = 256
"""Partial transition chunks kept before they are summed into one (bounds memory)."""


def compact_pairs(chunks: list[np.ndarray]) -> np.ndarray:
    """Rows ``unit, bin_from, bin_to, pixels, area_m2`` with duplicate keys summed."""
    rows = np.concatenate(chunks) if chunks else np.zeros((0, 5))
    if len(rows) == 0:
        return rows
    ids = rows[:, :3].astype(np.int64)
    width = int(ids[:, 1:].max()) + 1
    keys = (ids[:, 0] * width + ids[:, 1]) * width + ids[:, 2]
    unique, inverse = np.unique(keys, return_inverse=True)
    pixels = np.bincount(inverse, weights=rows[:, 3], minlength=len(unique))
    area_m2 = np.bincount(inverse, weights=rows[:, 4], minlength=len(unique))
    unit, rest = np.divmod(unique, width * width)
    code_from, code_to = np.divmod(rest, width)
    return np.column_stack([unit, code_from, code_to, pixels, area_m2]).astype(np.float64)


def merge_range(a: list[int], b: list[int]) -> list[int]:
    if not a or not b:
        return a or b
    return [min(a[0], b[0]), max(a[1], b[1])]


def empty_counts(job: GridJob) -> dict[int, Counts]:
    shape = (job.n_units + 1, job.n_bins + 1)
    return {
        layer.year: Counts(
            pixels=np.zeros(shape),
            area_m2=np.zeros(shape if job.track_area else (1, 1)),
        )
        for layer in job.layers
    }


def add_all(total: dict[int, Counts], partial: dict[int, Counts]) -> None:
    for year, counts in partial.items():
        total[year].add(counts)
