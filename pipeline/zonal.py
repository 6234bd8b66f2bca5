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

import math
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from affine import Affine
from numba import njit
from rasterio.windows import Window

from pipeline.boundaries import check_raster_coverage, to_crs_of_grid
from pipeline.errors import InputError
from pipeline.rasters import RasterInfo, read_info, row_areas_m2

Mode = Literal["auto", "centre", "exact"]
MODES: tuple[str, ...] = ("auto", "centre", "exact")

AUTO_EXACT_BOUNDARY_SHARE = 0.01
"""``auto`` uses exact mode when boundary pixels exceed this share of a unit's pixels."""

STRIP_TARGET_PIXELS = 4_000_000
"""Pixels per strip (rounded to whole file blocks); bounds memory per worker."""

DASK_STRIPS_PER_TASK = 8
"""Strips per Dask task: fewer, larger tasks cut scheduling and file-opening overhead."""

DASK_CONNECT_TIMEOUT_S = 30
"""How long to try reaching a ``tcp://`` Dask scheduler before giving up."""

GDAL_CACHE_MB = 64
"""GDAL block cache during tabulation, so memory stays flat whatever the raster size."""

_CODE_BINS = 256
_LANES = 4  # interleaved histograms in the counting kernels (a power of two)
_MAX_CODE = 65_535
_SQUARE_M_PER_HA = 10_000.0
_FLOAT_NODATA = np.iinfo(np.int64).min

AREA_COLUMNS = ["unit", "year", "code", "pixels", "area_ha"]


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
    """

    areas: pd.DataFrame
    nodata_ha: pd.DataFrame
    mode_used: dict[int, str]
    seconds: dict[int, float] = field(default_factory=dict)
    rasterizations: int = 0
    grid_of_year: dict[int, int] = field(default_factory=dict)


# --------------------------------------------------------------------------- jobs


@dataclass(frozen=True)
class _Layer:
    """One year's raster within a grid pass."""

    year: int
    path: Path
    source: str
    nodata: float | None
    is_float: bool


@dataclass(frozen=True)
class _GridJob:
    """Everything a worker needs to count a range of rows of one grid (picklable)."""

    layers: tuple[_Layer, ...]
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
    n_bins: int = _CODE_BINS

    @property
    def n_units(self) -> int:
        return len(self.geometries)


@dataclass
class _Counts:
    """Partial sums for one year: column ``n_bins`` holds nodata."""

    pixels: np.ndarray  # (K + 1, n_bins + 1) float64
    area_m2: np.ndarray  # same shape when the CRS is geographic, else (1, 1)
    out_of_range: list[int] = field(default_factory=list)  # min, max code outside the bins

    def add(self, other: _Counts) -> None:
        self.pixels += other.pixels
        self.area_m2 += other.area_m2
        self.out_of_range = _merge_range(self.out_of_range, other.out_of_range)


def _merge_range(a: list[int], b: list[int]) -> list[int]:
    if not a or not b:
        return a or b
    return [min(a[0], b[0]), max(a[1], b[1])]


# --------------------------------------------------------------------------- public API


def tabulate(
    units: gpd.GeoDataFrame,
    rasters: Mapping[int, Path | str],
    *,
    nodata: int | None = None,
    mode: Mode = "auto",
    scheduler: str = "single",
    progress: bool | None = None,
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

    Raises
    ------
    InputError
        Unknown format, no CRS, fractional codes in a float raster, only nodata inside the
        units, units outside the raster, or pixels of value 0 with no nodata declared.
    """
    _check_arguments(units, rasters, mode, scheduler)
    infos = {int(year): read_info(path) for year, path in rasters.items()}
    show_progress = sys.stderr.isatty() if progress is None else progress
    collected = _Collected()
    for grid_index, years in enumerate(_group_by_grid(infos)):
        started = time.perf_counter()
        job = _prepare_job(units, {y: infos[y] for y in years}, nodata, mode)
        counts = _run_grid(job, scheduler, show_progress)
        seconds = time.perf_counter() - started
        for layer in job.layers:
            collected.add(job, layer, counts[layer.year], units["unit"].astype(str).tolist())
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
    if scheduler not in ("single", "threads", "processes") and not scheduler.startswith("tcp://"):
        problems.append(
            f"scheduler should be single, threads, processes or tcp://host:port; got {scheduler!r}"
        )
    missing = [c for c in ("unit", "geometry") if c not in units.columns]
    if missing:
        problems.append(f"units lack column(s) {', '.join(missing)}")
    elif units.crs is None:
        problems.append("units have no CRS")
    if not rasters:
        problems.append("no rasters given")
    if problems:
        raise InputError("zonal tabulation", problems)


def _group_by_grid(infos: Mapping[int, RasterInfo]) -> list[list[int]]:
    """Years grouped by grid, in order of first appearance."""
    groups: dict[tuple, list[int]] = {}
    for year in sorted(infos):
        groups.setdefault(infos[year].grid_key, []).append(year)
    return list(groups.values())


# --------------------------------------------------------------------------- preparation


def _prepare_job(
    units: gpd.GeoDataFrame, infos: Mapping[int, RasterInfo], nodata: int | None, mode: str
) -> _GridJob:
    """Reproject and clip the units to one grid and decide the mode."""
    grid = next(iter(infos.values()))
    projected = to_crs_of_grid(units, grid.crs, raster_path=grid.path)
    bounds = _grid_bounds(grid)
    with warnings.catch_warnings():  # shares of areas in degrees² are still right
        warnings.filterwarnings("ignore", "Geometry is in a geographic CRS", UserWarning)
        check_raster_coverage(projected, bounds, ", ".join(str(i.path) for i in infos.values()))
    geometries = _clip_and_orient(projected.geometry.to_numpy(), bounds)
    chosen = _choose_mode(geometries, grid) if mode == "auto" else mode
    return _GridJob(
        layers=tuple(_layer(year, info, nodata) for year, info in infos.items()),
        width=grid.width,
        height=grid.height,
        transform=grid.transform,
        mode=chosen,
        geometries=geometries,
        pixel_boxes=_pixel_boxes(geometries, grid),
        edges=tuple(_pixel_edges(g, grid) for g in geometries),
        row_area_m2=row_areas_m2(grid),
        track_area=bool(grid.crs.is_geographic),
        block_height=grid.block_height,
        block_width=grid.block_width,
    )


def _layer(year: int, info: RasterInfo, nodata: int | None) -> _Layer:
    declared = info.nodata
    return _Layer(
        year=year,
        path=info.path,
        source=info.gdal_path,
        nodata=declared if declared is not None else nodata,
        is_float=info.is_float,
    )


def _grid_bounds(info: RasterInfo) -> tuple[float, float, float, float]:
    t = info.transform
    xs = (t.c, t.c + t.a * info.width)
    ys = (t.f, t.f + t.e * info.height)
    return (min(xs), min(ys), max(xs), max(ys))


def _clip_and_orient(geometries: np.ndarray, bounds: tuple[float, ...]) -> np.ndarray:
    """Valid polygons inside the raster extent, shells counter-clockwise, holes clockwise."""
    geometries = shapely.make_valid(geometries)
    clipped = shapely.intersection(geometries, shapely.box(*bounds))
    return shapely.orient_polygons(clipped)


def _pixel_boxes(geometries: np.ndarray, info: RasterInfo) -> np.ndarray:
    """Pixel bounding box of each unit: col_min, row_min, col_max, row_max (exclusive)."""
    t = info.transform
    b = shapely.bounds(geometries)
    cols = (b[:, [0, 2]] - t.c) / t.a
    rows = (b[:, [1, 3]] - t.f) / t.e
    boxes = np.column_stack(
        [
            np.floor(cols.min(axis=1)),
            np.floor(rows.min(axis=1)),
            np.ceil(cols.max(axis=1)),
            np.ceil(rows.max(axis=1)),
        ]
    )
    boxes = np.nan_to_num(boxes, nan=0.0)  # empty geometries
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, info.width)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, info.height)
    return boxes.astype(np.int64)


def _pixel_edges(geometry: shapely.Geometry, info: RasterInfo) -> np.ndarray:
    """Polygon edges in pixel coordinates (col, row), as rows of x0, y0, x1, y1."""
    rings = shapely.get_rings(shapely.get_parts(geometry))
    if len(rings) == 0:
        return np.zeros((0, 4))
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    t = info.transform
    # GDAL's inverse geotransform, term for term, so pixel centres lying on an edge fall on
    # the same side as in GDAL's rasterize of the whole grid
    cols = (-t.c / t.a + coords[:, 0] * (1.0 / t.a)).clip(0, info.width)
    rows = (-t.f / t.e + coords[:, 1] * (1.0 / t.e)).clip(0, info.height)
    same_ring = ring_of[:-1] == ring_of[1:]
    return np.column_stack(
        [cols[:-1][same_ring], rows[:-1][same_ring], cols[1:][same_ring], rows[1:][same_ring]]
    )


def _choose_mode(geometries: np.ndarray, info: RasterInfo) -> str:
    """``exact`` when some unit's boundary pixels exceed the auto share of its pixels."""
    pixel_size = min(abs(info.transform.a), abs(info.transform.e))
    pixel_area = abs(info.transform.a * info.transform.e)
    unit_pixels = shapely.area(geometries) / pixel_area
    # a boundary of length L pixels crosses about 1.27 L cells (mean |cos| + |sin|)
    boundary_pixels = 1.27 * shapely.length(geometries) / pixel_size
    keep = unit_pixels > 0
    if not keep.any():
        return "centre"
    share = boundary_pixels[keep] / unit_pixels[keep]
    return "exact" if share.max() > AUTO_EXACT_BOUNDARY_SHARE else "centre"


# --------------------------------------------------------------------------- running


def _strips(job: _GridJob) -> list[tuple[int, int]]:
    """Row ranges of roughly :data:`STRIP_TARGET_PIXELS`, whole file blocks each.

    Blocks taller than four strips (e.g. a GeoTIFF written as one strip) are ignored, so
    memory stays bounded whatever the file layout.
    """
    block_height = job.block_height
    if block_height * job.width > 4 * STRIP_TARGET_PIXELS:
        block_height = 1
    rows = max(1, STRIP_TARGET_PIXELS // max(job.width, 1))
    rows = max(block_height, rows // block_height * block_height)
    return [(r0, min(r0 + rows, job.height)) for r0 in range(0, job.height, rows)]


def _run_grid(job: _GridJob, scheduler: str, show_progress: bool) -> dict[int, _Counts]:
    """Count every year of one grid; retried with more bins if codes exceed 255."""
    strips = _strips(job)
    while True:
        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB):
            runner = _run_single if scheduler == "single" else _run_dask
            counts = runner(job, strips, scheduler, show_progress)
        overflow = _merge_all_ranges(counts.values())
        if not overflow:
            _check_counts(job, counts)
            return counts
        job = _rebin(job, counts, overflow)


def _merge_all_ranges(counts: Iterator[_Counts] | Sequence[_Counts]) -> list[int]:
    merged: list[int] = []
    for c in counts:
        merged = _merge_range(merged, c.out_of_range)
    return merged


def _rebin(job: _GridJob, counts: dict[int, _Counts], overflow: list[int]) -> _GridJob:
    """The job again with one bin per code up to the highest found (codes above 255)."""
    for layer in job.layers:
        found = counts[layer.year].out_of_range
        if found and (found[0] < 0 or found[1] > _MAX_CODE):
            value = found[0] if found[0] < 0 else found[1]
            raise InputError(
                layer.path,
                f"land-use code {value} inside the units; codes must be 0..{_MAX_CODE} "
                "(or declare it as nodata)",
            )
    return replace(job, n_bins=int(overflow[1]) + 1)


def _run_single(
    job: _GridJob, strips: list[tuple[int, int]], _scheduler: str, show_progress: bool
) -> dict[int, _Counts]:
    """This process, one thread per core; GDAL reads and numba kernels release the GIL."""
    local = threading.local()  # one set of dataset handles per thread
    opened: list[dict[str, rasterio.DatasetReader]] = []

    def work(strip: tuple[int, int]) -> dict[int, _Counts]:
        if not hasattr(local, "datasets"):
            local.datasets = _open_layers(job)
            opened.append(local.datasets)
        return count_rows(job, *strip, datasets=local.datasets)

    n_threads = max(1, min(os.cpu_count() or 1, len(strips)))
    total = _empty_counts(job)
    try:
        with (
            _Progress(job, len(strips), show_progress) as bar,
            ThreadPoolExecutor(n_threads) as pool,
        ):
            for partial in pool.map(work, strips):
                _add_all(total, partial)
                bar(1)
    finally:
        for datasets in opened:
            for dataset in datasets.values():
                dataset.close()
    return total


def _run_dask(
    job: _GridJob, strips: list[tuple[int, int]], scheduler: str, show_progress: bool
) -> dict[int, _Counts]:
    """Groups of strips become Dask tasks whose partial (unit, code) tables are summed."""
    per_task = max(1, min(DASK_STRIPS_PER_TASK, len(strips) // 8))
    chunks = [strips[i : i + per_task] for i in range(0, len(strips), per_task)]
    total = _empty_counts(job)
    with _Progress(job, len(strips), show_progress) as bar:
        if scheduler.startswith("tcp://"):
            _run_distributed(job, chunks, scheduler, total, bar)
        else:
            _run_local_dask(job, chunks, scheduler, total, bar)
    return total


def _run_local_dask(
    job: _GridJob,
    chunks: list[list[tuple[int, int]]],
    scheduler: str,
    total: dict[int, _Counts],
    bar: Callable[[int], None],
) -> None:
    """Dask's local ``threads`` or ``processes`` scheduler."""
    import dask
    from dask.callbacks import Callback

    shared = dask.delayed(job, pure=True)
    tasks = [dask.delayed(count_strips, pure=True)(shared, chunk) for chunk in chunks]
    sizes = {task.key: len(chunk) for task, chunk in zip(tasks, chunks, strict=True)}

    class _Tick(Callback):
        def _posttask(
            self, key: object, result: object, dsk: object, state: object, worker_id: object
        ) -> None:
            bar(sizes.get(key, 0))

    with _Tick():
        partials = dask.compute(*tasks, scheduler=scheduler)
    for partial in partials:
        _add_all(total, partial)


def _run_distributed(
    job: _GridJob,
    chunks: list[list[tuple[int, int]]],
    address: str,
    total: dict[int, _Counts],
    bar: Callable[[int], None],
) -> None:
    """A Dask distributed scheduler at ``address``; partials summed as they arrive."""
    from distributed import Client, as_completed

    try:
        client = Client(address, timeout=DASK_CONNECT_TIMEOUT_S)
    except OSError as error:
        problem = f"scheduler = {address!r}: cannot reach the Dask scheduler ({error})"
        raise InputError("[compute] scheduler", problem) from error
    with client:
        shared = client.scatter(job, broadcast=True)
        futures = [client.submit(count_strips, shared, chunk, pure=False) for chunk in chunks]
        sizes = {future.key: len(chunk) for future, chunk in zip(futures, chunks, strict=True)}
        for future in as_completed(futures):
            _add_all(total, future.result())
            bar(sizes[future.key])
            future.release()


def count_strips(job: _GridJob, strips: Sequence[tuple[int, int]]) -> dict[int, _Counts]:
    """Count several strips of a grid in one task (datasets opened once); summed tables."""
    total = _empty_counts(job)
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB):
        datasets = _open_layers(job)
        try:
            for row_start, row_stop in strips:
                _add_all(total, count_rows(job, row_start, row_stop, datasets=datasets))
        finally:
            for dataset in datasets.values():
                dataset.close()
    return total


def _open_layers(job: _GridJob) -> dict[str, rasterio.DatasetReader]:
    return {layer.source: rasterio.open(layer.source) for layer in job.layers}


def _empty_counts(job: _GridJob) -> dict[int, _Counts]:
    shape = (job.n_units + 1, job.n_bins + 1)
    return {
        layer.year: _Counts(
            pixels=np.zeros(shape),
            area_m2=np.zeros(shape if job.track_area else (1, 1)),
        )
        for layer in job.layers
    }


def _add_all(total: dict[int, _Counts], partial: dict[int, _Counts]) -> None:
    for year, counts in partial.items():
        total[year].add(counts)


class _Progress:
    """A tqdm bar per grid pass, or nothing; called with the number of strips done."""

    def __init__(self, job: _GridJob, total: int, show: bool) -> None:
        self._bar = None
        if show:
            from tqdm import tqdm

            years = ", ".join(str(layer.year) for layer in job.layers)
            self._bar = tqdm(total=total, desc=f"land use {years}", unit="block", leave=False)

    def __enter__(self) -> Callable[[int], None]:
        return self._bar.update if self._bar is not None else (lambda _n: None)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()


# --------------------------------------------------------------------------- counting


def count_rows(
    job: _GridJob,
    row_start: int,
    row_stop: int,
    datasets: Mapping[str, rasterio.DatasetReader] | None = None,
) -> dict[int, _Counts]:
    """Count rows ``[row_start, row_stop)`` of every year of a grid (one task).

    Only the columns spanned by units meeting these rows are read (whole file blocks).
    """
    counts = _empty_counts(job)
    boxes = job.pixel_boxes
    inside = np.flatnonzero((boxes[:, 1] < row_stop) & (boxes[:, 3] > row_start))
    if len(inside) == 0:
        return counts
    window = _window_of(job, inside, row_start, row_stop)
    owned = datasets is None
    if owned:
        datasets = _open_layers(job)
    try:
        spans = _unit_spans(job, window, inside) if job.mode == "centre" else None
        row_area = job.row_area_m2[row_start:row_stop]
        for layer in job.layers:
            data, nodata_code, has_nodata = _read_codes(datasets[layer.source], window, layer)
            c = counts[layer.year]
            if spans is not None:
                found = _count_spans(
                    spans, data, int(window.col_off), nodata_code, has_nodata, row_area,
                    c.pixels, c.area_m2, job.track_area,
                )  # fmt: skip
            else:
                found = _count_exact_strip(job, window, inside, data, nodata_code, has_nodata, c)
            if found[0] <= found[1]:
                c.out_of_range = [int(found[0]), int(found[1])]
        return counts
    finally:
        if owned:
            for dataset in datasets.values():
                dataset.close()


def _window_of(job: _GridJob, inside: np.ndarray, row_start: int, row_stop: int) -> Window:
    """Columns spanned by the units ``inside``, widened to whole file blocks."""
    block = job.block_width if job.block_width < job.width else 1
    col_start = int(job.pixel_boxes[inside, 0].min()) // block * block
    col_stop = min(job.width, -(-int(job.pixel_boxes[inside, 2].max()) // block) * block)
    return Window(col_start, row_start, col_stop - col_start, row_stop - row_start)


def _unit_spans(job: _GridJob, window: Window, inside: np.ndarray) -> np.ndarray:
    """Runs of pixels whose centre lies in each unit, over ``window``: the unit ids burnt once.

    Rows of ``unit, row (in the window), first column, end column`` (end exclusive, columns
    of the grid). Computed once per strip and counted against every year of the grid.
    """
    row_start, rows = int(window.row_off), int(window.height)
    boxes = job.pixel_boxes
    pieces = [
        _centre_spans(i + 1, job.edges[i], int(boxes[i, 0]), int(boxes[i, 2]), row_start, rows)
        for i in inside
    ]
    return np.concatenate(pieces) if pieces else np.zeros((0, 4), np.int64)


def _read_codes(
    dataset: rasterio.DatasetReader, window: Window, layer: _Layer
) -> tuple[np.ndarray, int, bool]:
    """Codes of a window as integers, with the nodata code to skip."""
    data = dataset.read(1, window=window)
    nodata = layer.nodata
    if layer.is_float:
        return _float_codes(data, nodata, layer), _FLOAT_NODATA, True
    if nodata is None or not float(nodata).is_integer():
        return data, 0, False
    return data, int(nodata), True


def _float_codes(data: np.ndarray, nodata: float | None, layer: _Layer) -> np.ndarray:
    """Whole-number float codes as int64; nodata and NaN become a sentinel."""
    missing = np.isnan(data)
    if nodata is not None:
        missing |= data == nodata
    fractional = ~missing & (data != np.floor(np.where(missing, 0, data)))
    if fractional.any():
        example = float(data[fractional][0])
        raise InputError(
            layer.path,
            f"float raster holds fractional land-use codes (e.g. value {example!r}); "
            "land-use codes must be whole numbers",
        )
    return np.where(missing, _FLOAT_NODATA, data).astype(np.int64)


def _count_exact_strip(
    job: _GridJob, window: Window, inside: np.ndarray, data: np.ndarray, nodata_code: int,
    has_nodata: bool, counts: _Counts,
) -> tuple[int, int]:  # fmt: skip
    """Coverage-weighted counts of the units ``inside`` over ``window`` (read as ``data``)."""
    row_start, col_start = int(window.row_off), int(window.col_off)
    boxes = job.pixel_boxes
    row_area = job.row_area_m2[row_start : row_start + data.shape[0]]
    low, high = np.iinfo(np.int64).max, np.iinfo(np.int64).min
    for i in inside:
        found = _count_exact_unit(
            i + 1, job.edges[i], int(boxes[i, 0]), int(boxes[i, 2]), data, row_start,
            col_start, nodata_code, has_nodata, row_area, counts.pixels, counts.area_m2,
            job.track_area,
        )  # fmt: skip
        low, high = min(low, found[0]), max(high, found[1])
    return low, high


@njit(nogil=True, cache=True)
def _centre_spans(unit, edges, col_min, col_max, row_start, rows):
    """Pixel runs of one unit by GDAL's rasterize rule (``all_touched=False``).

    On each row's centre line ``y = row + 0.5`` the crossings of edges with
    ``y0 <= y < y1`` are sorted and paired (even-odd); pixel ``x`` is in a pair
    ``[a, b)`` when ``floor(a + 0.5) <= x < floor(b + 0.5)``, i.e. its centre is inside.
    A horizontal edge lying exactly on a centre line is burnt too, as GDAL does. This is
    the arithmetic of GDAL's ``GDALdllImageFilledPolygon`` (which rasterstats uses) on
    pixel coordinates computed like GDAL's inverse geotransform (see ``_pixel_edges``).
    """
    row_stop = row_start + rows
    near = np.empty(edges.shape[0], np.int64)
    n_near = 0
    for i in range(edges.shape[0]):
        y0, y1 = edges[i, 1], edges[i, 3]
        if max(y0, y1) >= row_start and min(y0, y1) <= row_stop:
            near[n_near] = i
            n_near += 1
    crossings = np.empty(n_near)
    firsts = np.empty(n_near + 1, np.int64)
    ends = np.empty(n_near + 1, np.int64)
    spans = np.empty((max(16, 4 * rows), 4), np.int64)
    n_spans = 0
    for r in range(rows):
        y = row_start + r + 0.5
        n = 0
        n_flat = 0
        for j in range(n_near):
            i = near[j]
            if edges[i, 1] < edges[i, 3]:
                ya, xa, yb, xb = edges[i, 1], edges[i, 0], edges[i, 3], edges[i, 2]
            elif edges[i, 1] > edges[i, 3]:
                ya, xa, yb, xb = edges[i, 3], edges[i, 2], edges[i, 1], edges[i, 0]
            else:
                if edges[i, 1] == y:  # horizontal edge on the centre line
                    firsts[n_flat] = math.floor(min(edges[i, 0], edges[i, 2]) + 0.5)
                    ends[n_flat] = math.floor(max(edges[i, 0], edges[i, 2]) + 0.5)
                    n_flat += 1
                continue
            if ya <= y < yb:
                crossings[n] = (y - ya) * (xb - xa) / (yb - ya) + xa
                n += 1
        if n < 2 and n_flat == 0:
            continue
        xs = np.sort(crossings[:n])
        m = n_flat
        for p in range(0, n - 1, 2):
            firsts[m] = math.floor(xs[p] + 0.5)
            ends[m] = math.floor(xs[p + 1] + 0.5)
            m += 1
        if n_flat > 0:  # runs may now overlap: sort by start and merge
            order = np.argsort(firsts[:m])
            firsts[:m] = firsts[:m][order]
            ends[:m] = ends[:m][order]
        k = 0
        while k < m:
            first, end = firsts[k], ends[k]
            k += 1
            while n_flat > 0 and k < m and firsts[k] <= end:
                end = max(end, ends[k])
                k += 1
            first, end = max(col_min, first), min(col_max, end)
            if first >= end:
                continue
            if n_spans == spans.shape[0]:
                grown = np.empty((2 * n_spans, 4), np.int64)
                grown[:n_spans] = spans
                spans = grown
            spans[n_spans, 0] = unit
            spans[n_spans, 1] = r
            spans[n_spans, 2] = first
            spans[n_spans, 3] = end
            n_spans += 1
    return spans[:n_spans]


@njit(inline="always", cache=True)
def _bin(value, nodata, has_nodata, n_bins):
    """Histogram bin of a pixel value: the code, ``n_bins`` for nodata, -1 when out of range."""
    if has_nodata and value == nodata:
        return n_bins
    if value < 0 or value >= n_bins:
        return -1
    return value


@njit(nogil=True, cache=True)
def _count_spans(
    spans, data, col_start, nodata, has_nodata, row_area_m2, pixels, area_m2, track_area,
):  # fmt: skip
    """Count the codes under each span into ``pixels[unit, code]``; out-of-range min, max.

    Neighbouring pixels mostly share a code, so a single counter would be incremented back
    to back, each add waiting for the previous store. Interleaved integer histograms
    (column mod 4) break that chain; they are summed at the end (one when codes go above
    255, to keep memory small).
    """
    n_bins = pixels.shape[1] - 1
    n_lanes = _LANES if n_bins <= _CODE_BINS else 1
    lanes = np.zeros((n_lanes, pixels.shape[0], n_bins + 1), np.int64)
    low = np.iinfo(np.int64).max
    high = np.iinfo(np.int64).min
    for s in range(spans.shape[0]):
        u, r = spans[s, 0], spans[s, 1]
        cell_m2 = row_area_m2[r]
        for x in range(spans[s, 2] - col_start, spans[s, 3] - col_start):
            v = np.int64(data[r, x])
            k = _bin(v, nodata, has_nodata, n_bins)
            if k < 0:
                low = min(low, v)
                high = max(high, v)
                continue
            lanes[x & (n_lanes - 1), u, k] += 1
            if track_area:
                area_m2[u, k] += cell_m2
    pixels += lanes.sum(axis=0)
    return low, high


@njit(nogil=True, cache=True)
def _count_exact_unit(
    unit, edges, col_min, col_max, data, row_start, col_start, nodata, has_nodata, row_area_m2,
    pixels, area_m2, track_area,
):  # fmt: skip
    """Coverage-weighted counts of one unit over one strip; returns out-of-range min, max."""
    rows = data.shape[0]
    width = col_max - col_min
    cover = np.zeros((rows, width + 2))
    for i in range(edges.shape[0]):
        _draw_edge(
            cover, edges[i, 0] - col_min, edges[i, 1] - row_start,
            edges[i, 2] - col_min, edges[i, 3] - row_start,
        )  # fmt: skip
    n_bins = pixels.shape[1] - 1
    lanes = np.zeros((_LANES, n_bins + 1))  # see _count_spans
    lanes_m2 = np.zeros((_LANES, n_bins + 1) if track_area else (1, 1))
    low = np.iinfo(np.int64).max
    high = np.iinfo(np.int64).min
    for r in range(rows):
        winding = 0.0
        cell_m2 = row_area_m2[r]
        for c in range(width):
            winding += cover[r, c]
            share = min(abs(winding), 1.0)
            if share < 1e-12:
                continue
            v = np.int64(data[r, col_min - col_start + c])
            k = _bin(v, nodata, has_nodata, n_bins)
            if k < 0:
                low = min(low, v)
                high = max(high, v)
                continue
            lanes[c & (_LANES - 1), k] += share
            if track_area:
                lanes_m2[c & (_LANES - 1), k] += share * cell_m2
    pixels[unit] += lanes.sum(axis=0)
    if track_area:
        area_m2[unit] += lanes_m2.sum(axis=0)
    return low, high


@njit(nogil=True, cache=True)
def _draw_edge(cover, x0, y0, x1, y1):
    """Add an edge's signed area to ``cover``; a running sum along a row gives coverage.

    The signed-area accumulation of font rasterisers (font-rs): for each row the edge
    crosses, the area between the edge and the row's right end is split over the cells it
    passes. Rows outside ``cover`` are skipped; x must lie in ``[0, cover.shape[1] - 2]``.
    """
    if y0 == y1:
        return
    direction = 1.0
    if y0 > y1:
        direction = -1.0
        x0, y0, x1, y1 = x1, y1, x0, y0
    height = cover.shape[0]
    if y1 <= 0.0 or y0 >= height:
        return
    dxdy = (x1 - x0) / (y1 - y0)
    x = x0
    if y0 < 0.0:
        x -= y0 * dxdy
    y_first = max(0, math.floor(y0))
    y_last = min(height, math.ceil(y1))
    for y in range(y_first, y_last):
        dy = min(y + 1.0, y1) - max(float(y), y0)
        x_next = x + dxdy * dy
        d = dy * direction
        xa, xb = (x, x_next) if x < x_next else (x_next, x)
        xa_floor = math.floor(xa)
        ia = int(xa_floor)
        xb_ceil = math.ceil(xb)
        ib = int(xb_ceil)
        if ib <= ia + 1:
            xmf = 0.5 * (x + x_next) - xa_floor
            cover[y, ia] += d - d * xmf
            cover[y, ia + 1] += d * xmf
        else:
            s = 1.0 / (xb - xa)
            xa_frac = xa - xa_floor
            a0 = 0.5 * s * (1.0 - xa_frac) ** 2
            xb_frac = xb - xb_ceil + 1.0
            am = 0.5 * s * xb_frac**2
            cover[y, ia] += d * a0
            if ib == ia + 2:
                cover[y, ia + 1] += d * (1.0 - a0 - am)
            else:
                a1 = s * (1.5 - xa_frac)
                cover[y, ia + 1] += d * (a1 - a0)
                for xi in range(ia + 2, ib - 1):
                    cover[y, xi] += d * s
                a2 = a1 + (ib - ia - 3) * s
                cover[y, ib - 1] += d * (1.0 - a2 - am)
            cover[y, ib] += d * am
        x = x_next


# --------------------------------------------------------------------------- results


def _check_counts(job: _GridJob, counts: dict[int, _Counts]) -> None:
    """All-nodata rasters and undeclared nodata 0 are input errors."""
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
        elif layer.nodata is None and pixels[:, 0].sum() > 0:
            problems.append(
                InputError(
                    layer.path,
                    "raster declares no nodata value and holds pixels of value 0 inside the "
                    "units; if 0 means no data, set `[landuse] nodata = 0` in the study "
                    "(field nodata = None, value 0)",
                )
            )
    if problems:
        raise problems[0]


@dataclass
class _Collected:
    """Rows gathered over grid passes."""

    areas: list[pd.DataFrame] = field(default_factory=list)
    nodata: list[pd.DataFrame] = field(default_factory=list)
    mode_used: dict[int, str] = field(default_factory=dict)
    seconds: dict[int, float] = field(default_factory=dict)
    grid_of_year: dict[int, int] = field(default_factory=dict)
    rasterizations: int = 0

    def add(self, job: _GridJob, layer: _Layer, counts: _Counts, names: list[str]) -> None:
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
                    "area_ha": area_m2[1:, :-1][unit_ids, codes] / _SQUARE_M_PER_HA,
                }
            )
        )
        self.nodata.append(
            pd.DataFrame(
                {"unit": names, "year": layer.year, "nodata_ha": area_m2[1:, -1] / _SQUARE_M_PER_HA}
            )
        )

    def result(self) -> ZonalResult:
        areas = pd.concat(self.areas, ignore_index=True)
        areas = areas.sort_values(["year", "unit", "code"], ignore_index=True)
        nodata = pd.concat(self.nodata, ignore_index=True)
        return ZonalResult(
            areas=areas[AREA_COLUMNS],
            nodata_ha=nodata.sort_values(["year", "unit"], ignore_index=True),
            mode_used=dict(sorted(self.mode_used.items())),
            seconds=dict(sorted(self.seconds.items())),
            rasterizations=self.rasterizations,
            grid_of_year=dict(sorted(self.grid_of_year.items())),
        )


__all__ = ["AREA_COLUMNS", "MODES", "ZonalResult", "count_rows", "count_strips", "tabulate"]
