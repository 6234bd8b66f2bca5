"""Zonal tabulation: land-use rasters × reporting units → hectares per (unit, year, code).

Rasterize once, count once. For each distinct raster grid (CRS + transform + shape) the units
are reprojected to the grid's CRS and processed strip by strip (a few rows, aligned to the
file's blocks, only the columns the units span). For each strip the units are burnt once, as
runs of pixels per row, and every year sharing the grid is counted against them, so memory is
bounded by the strip size, not the raster size, and no id raster is ever kept whole.

Two ways of assigning pixels to units:

* ``centre``: a pixel belongs to the unit holding its centre (GDAL's rasterize rule,
  ``all_touched=False``, reimplemented in numba on the same arithmetic), identical to
  ``rasterstats.zonal_stats(..., categorical=True)``.
* ``exact``: every pixel is weighted by the share of it the unit covers, computed analytically
  from the polygon edges (signed-area accumulation along each row), like ``exactextract``.

``auto`` picks ``exact`` when boundary pixels exceed :data:`AUTO_EXACT_BOUNDARY_SHARE` of
some unit's pixels (coarse rasters such as RESDC's 1 km product), ``centre`` otherwise.
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from pipeline.errors import InputError
from pipeline.inputs.rasters import RasterInfo, read_info
from pipeline.model.constants import SQUARE_M_PER_HA
from pipeline.study.settings import scheduler_problem
from pipeline.zonal.counting import start_loading_kernels
from pipeline.zonal.geometry import prepare_job
from pipeline.zonal.jobs import (
    AREA_COLUMNS,
    MODES,
    NODATA_CODE,
    TRANSITION_COLUMNS,
    Counts,
    GridJob,
    Layer,
    Mode,
    ZonalResult,
    compact_pairs,
)
from pipeline.zonal.schedulers import run_grid


def tabulate(
    units: gpd.GeoDataFrame,
    rasters: Mapping[int, Path | str],
    *,
    nodata: int | None = None,
    mode: Mode = "auto",
    scheduler: str = "single",
    progress: bool | None = None,
    zero_is_code: bool = False,
    transitions: bool | None = None,
) -> ZonalResult:
    """Hectares of each land-use code in each unit, for each year's raster.

    Parameters
    ----------
    units
        Columns ``unit`` (str) and ``geometry``, in any CRS; reprojected to each raster's CRS
        (the categorical rasters are never resampled). Overlapping units each count the
        pixels they share, as rasterstats does.
    rasters
        Year → raster path (GeoTIFF, ``.img``, ArcInfo GRID folder, or one of these zipped).
    nodata
        Nodata code for rasters that declare none (the study's ``[landuse] nodata``).
    mode
        ``"centre"``, ``"exact"`` or ``"auto"`` (see the module docstring).
    scheduler
        ``"single"`` (this process, a thread per core), ``"threads"``, ``"processes"`` (Dask
        local schedulers) or ``"tcp://host:port"`` (a Dask distributed scheduler).
    progress
        A progress bar per grid pass; ``None`` shows it when stderr is a terminal.
    zero_is_code
        0 is a class of the scheme (MODIS MCD12C1 water), so pixels of value 0 in a raster
        declaring no nodata are land, not an undeclared nodata.
    transitions
        Count the transitions between consecutive years (and first -> last) in the same
        pass: ``True`` requires every such pair on one grid, ``None`` counts the pairs on
        one grid and lists the others as skipped, ``False`` counts none.

    Raises
    ------
    InputError
        Unknown format, no CRS, fractional codes in a float raster, only nodata inside the
        units, units outside the raster, or pixels of value 0 with no nodata declared;
        ``transitions=True`` with the two years of a pair on different grids.
    """
    _check_arguments(units, rasters, mode, scheduler)
    if scheduler in ("single", "threads"):  # the strips are counted in this process
        start_loading_kernels()  # meanwhile: headers, preparation, first reads
    infos = {int(year): read_info(path) for year, path in rasters.items()}
    show_progress = sys.stderr.isatty() if progress is None else progress
    groups = group_by_grid(infos)
    pairs, skipped = grid_pairs(infos, groups, transitions)
    collected = _Collected(skipped=skipped)
    names = units["unit"].astype(str).tolist()
    for grid_index, years in enumerate(groups):
        started = time.perf_counter()
        job = prepare_job(units, {y: infos[y] for y in years}, nodata, mode)
        job = replace(job, pairs=tuple(pair for pair in pairs if pair[0] in years))
        counts = run_grid(job, scheduler, show_progress)
        check_counts(job, counts, zero_is_code=zero_is_code)
        seconds = time.perf_counter() - started
        collected.add_transitions(job, counts, names)
        for layer in job.layers:
            collected.add(job, layer, counts[layer.year], names)
            collected.mode_used[layer.year] = job.mode
            collected.seconds[layer.year] = seconds
            collected.grid_of_year[layer.year] = grid_index
        collected.rasterizations += 1
    return collected.result()


def _check_arguments(
    units: gpd.GeoDataFrame, rasters: Mapping[int, Path | str], mode: str, scheduler: str
) -> None:
    problems = []
    if mode not in MODES:
        problems.append(f"mode should be one of {', '.join(MODES)}; got {mode!r}")
    problem = scheduler_problem(scheduler)
    if problem is not None:
        problems.append(f"scheduler {problem}")
    missing = [c for c in ("unit", "geometry") if c not in units.columns]
    if missing:
        problems.append(f"units lack column(s) {', '.join(missing)}")
    elif units.crs is None:
        problems.append("units have no CRS")
    if not rasters:
        problems.append("no rasters given")
    if problems:
        raise InputError("zonal tabulation", problems)


def group_by_grid(infos: Mapping[int, RasterInfo]) -> list[list[int]]:
    """Years grouped by grid, in order of first appearance."""
    groups: dict[tuple, list[int]] = {}
    for year in sorted(infos):
        groups.setdefault(infos[year].grid_key, []).append(year)
    return list(groups.values())


def year_pairs(years: list[int] | set[int]) -> list[tuple[int, int]]:
    """Consecutive study years, then first -> last when there are more than two years."""
    ordered = sorted(years)
    pairs = list(itertools.pairwise(ordered))
    if len(ordered) > 2:
        pairs.append((ordered[0], ordered[-1]))
    return pairs


def grid_pairs(
    infos: Mapping[int, RasterInfo], groups: list[list[int]], transitions: bool | None
) -> tuple[list[tuple[int, int]], tuple[tuple[int, int], ...]]:
    """The year pairs to count (both years on one grid) and those skipped (different grids).

    Raises
    ------
    InputError
        ``transitions=True`` and a pair's rasters on different grids, naming both grids.
    """
    if transitions is False:
        return [], ()
    grid_of = {year: index for index, years in enumerate(groups) for year in years}
    pairs = year_pairs(set(infos))
    counted = [p for p in pairs if grid_of[p[0]] == grid_of[p[1]]]
    skipped = tuple(p for p in pairs if grid_of[p[0]] != grid_of[p[1]])
    if skipped and transitions:
        raise InputError(
            "[landuse] transitions",
            [_different_grids(infos[a], infos[b], a, b) for a, b in skipped],
        )
    return counted, skipped


def _different_grids(first: RasterInfo, second: RasterInfo, year_a: int, year_b: int) -> str:
    return (
        f"transitions {year_a} -> {year_b} need both rasters on one grid; "
        f"{first.path} is on {grid_text(first)}, {second.path} on {grid_text(second)}: "
        "resample one onto the other's grid (nearest neighbour), or set "
        "`[landuse] transitions = false`"
    )


def grid_text(info: RasterInfo) -> str:
    """``EPSG:4547, 30 x 30 m pixels, 1200 x 900 px, origin (x, y)`` for messages."""
    t = info.transform
    crs = info.crs.to_string() if info.crs.to_epsg() else (info.crs.name or "a custom CRS")
    unit = "°" if info.crs.is_geographic else " m"
    return (
        f"{crs}, {abs(t.a):g} x {abs(t.e):g}{unit} pixels, {info.width} x {info.height} px, "
        f"origin ({t.c:g}, {t.f:g})"
    )


def check_counts(job: GridJob, counts: dict[int, Counts], *, zero_is_code: bool = False) -> None:
    """All-nodata rasters and undeclared nodata 0 (unless 0 is a code) are input errors."""
    problems: list[InputError] = []
    for layer in job.layers:
        pixels = counts[layer.year].pixels[1:]
        valid = pixels[:, :-1].sum()
        if pixels.sum() <= 0:
            problems.append(
                InputError(
                    layer.path,
                    f"no pixel centre falls inside any unit (mode = {job.mode!r}); the units "
                    "are smaller than the pixels: use mode = 'exact'",
                )
            )
        elif valid <= 0:
            value = "NaN" if layer.nodata is None and layer.is_float else layer.nodata
            problems.append(
                InputError(layer.path, f"every pixel inside the units is nodata (nodata = {value})")
            )
        elif layer.nodata is None and not zero_is_code and pixels[:, 0].sum() > 0:
            problems.append(
                InputError(
                    layer.path,
                    "raster declares no nodata value and holds pixels of value 0 inside the "
                    "units; if 0 means no data, set `[landuse] nodata = 0` in the study "
                    "(field nodata = None, value 0)",
                )
            )
    if problems:
        raise InputError.combined(problems)


@dataclass
class _Collected:
    """Rows gathered over grid passes."""

    areas: list[pd.DataFrame] = field(default_factory=list)
    nodata: list[pd.DataFrame] = field(default_factory=list)
    mode_used: dict[int, str] = field(default_factory=dict)
    seconds: dict[int, float] = field(default_factory=dict)
    grid_of_year: dict[int, int] = field(default_factory=dict)
    rasterizations: int = 0
    transitions: list[pd.DataFrame] = field(default_factory=list)
    skipped: tuple[tuple[int, int], ...] = ()

    def add_transitions(self, job: GridJob, counts: dict[int, Counts], names: list[str]) -> None:
        """Rows of :data:`TRANSITION_COLUMNS` for the job's year pairs (nodata bin -> -1)."""
        for year_from, year_to in job.pairs:
            rows = compact_pairs(counts[year_from].transitions.get(year_to, []))
            rows = rows[rows[:, 3] > 0]
            unit_ids = rows[:, 0].astype(np.int64) - 1
            codes = rows[:, 1:3].astype(np.int64)
            codes[codes == job.n_bins] = NODATA_CODE
            # geographic grids sum each row's m²; projected ones: pixels × m² per pixel
            area_m2 = rows[:, 4] if job.track_area else rows[:, 3] * job.row_area_m2[0]
            self.transitions.append(
                pd.DataFrame(
                    {
                        "unit": np.asarray(names, dtype=object)[unit_ids],
                        "year_from": year_from,
                        "year_to": year_to,
                        "code_from": codes[:, 0],
                        "code_to": codes[:, 1],
                        "pixels": rows[:, 3],
                        "area_ha": area_m2 / SQUARE_M_PER_HA,
                    }
                )
            )

    def add(self, job: GridJob, layer: Layer, counts: Counts, names: list[str]) -> None:
        area_m2 = (
            counts.area_m2 if job.track_area else counts.pixels * job.row_area_m2[0]
        )  # pixels × m² per pixel = m²
        unit_ids, codes = np.nonzero(counts.pixels[1:, :-1])
        self.areas.append(
            pd.DataFrame(
                {
                    "unit": np.asarray(names, dtype=object)[unit_ids],
                    "year": layer.year,
                    "code": codes.astype(np.int64),
                    "pixels": counts.pixels[1:, :-1][unit_ids, codes],
                    # m² / (10 000 m²/ha) = ha
                    "area_ha": area_m2[1:, :-1][unit_ids, codes] / SQUARE_M_PER_HA,
                }
            )
        )
        self.nodata.append(
            pd.DataFrame(
                {"unit": names, "year": layer.year, "nodata_ha": area_m2[1:, -1] / SQUARE_M_PER_HA}
            )
        )

    def result(self) -> ZonalResult:
        areas = pd.concat(self.areas, ignore_index=True)
        areas = areas.sort_values(["year", "unit", "code"], ignore_index=True)
        nodata = pd.concat(self.nodata, ignore_index=True)
        transitions = pd.DataFrame(columns=TRANSITION_COLUMNS)
        if self.transitions:
            transitions = pd.concat(self.transitions, ignore_index=True).sort_values(
                ["year_from", "year_to", "unit", "code_from", "code_to"], ignore_index=True
            )
        return ZonalResult(
            areas=areas[AREA_COLUMNS],
            nodata_ha=nodata.sort_values(["year", "unit"], ignore_index=True),
            mode_used=dict(sorted(self.mode_used.items())),
            seconds=dict(sorted(self.seconds.items())),
            rasterizations=self.rasterizations,
            grid_of_year=dict(sorted(self.grid_of_year.items())),
            transitions=transitions[TRANSITION_COLUMNS],
            transitions_skipped=self.skipped,
        )
