"""Counting one strip: read the codes, burn the units as pixel runs, add up (numba kernels)."""

from __future__ import annotations

import contextlib
import gc
import math
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import rasterio
from numba import njit
from rasterio.windows import Window

from pipeline.errors import InputError
from pipeline.zonal.jobs import (
    CODE_BINS,
    FLOAT_NODATA,
    LANES,
    MAX_CODE,
    Counts,
    GridJob,
    Layer,
    empty_counts,
    merge_range,
)


def count_rows(
    job: GridJob,
    row_start: int,
    row_stop: int,
    datasets: Mapping[str, rasterio.DatasetReader] | None = None,
) -> dict[int, Counts]:
    """Count rows ``[row_start, row_stop)`` of every year of a grid (one task).

    Only the file blocks holding pixels of the units meeting these rows are read.
    """
    load_kernels()
    owned = datasets is None
    if owned:
        datasets = open_layers(job)
    try:
        strip = read_rows(job, row_start, row_stop, datasets, runs_first=True)
    finally:
        if owned:
            for dataset in datasets.values():
                dataset.close()
    return count_strip(job, strip)


@dataclass(frozen=True)
class ReadStrip:
    """The codes of every year over one strip's window, read and not yet counted."""

    row_start: int
    row_stop: int
    inside: np.ndarray  # indices of the units meeting these rows
    window: Window | None  # None: no unit meets these rows, nothing read
    codes: dict[int, tuple[np.ndarray, int, bool]]  # year -> codes, nodata code, has nodata
    spans: np.ndarray | None = None  # centre mode: the units' runs, when burnt before reading

    @property
    def nbytes(self) -> int:
        return sum(data.nbytes for data, _code, _has in self.codes.values())


def read_rows(
    job: GridJob,
    row_start: int,
    row_stop: int,
    datasets: Mapping[str, rasterio.DatasetReader],
    *,
    runs_first: bool = False,
) -> ReadStrip:
    """Read the codes of rows ``[row_start, row_stop)`` of every year.

    The window spans the block-aligned columns of the units meeting these rows. With
    ``runs_first`` (centre mode, kernels loaded) the units are burnt first and only the
    file blocks their runs touch are read (GDAL decodes every block a read touches; a
    province's corners outside every county are never decoded); the other pixels of the
    window are left unset, as no run covers them. Without, nothing needs the kernels.
    """
    boxes = job.pixel_boxes
    inside = np.flatnonzero((boxes[:, 1] < row_stop) & (boxes[:, 3] > row_start))
    if len(inside) == 0:
        return ReadStrip(row_start, row_stop, inside, None, {})
    window = _window_of(job, inside, row_start, row_stop)
    spans, columns = None, None
    if runs_first and job.mode == "centre":
        spans = _unit_spans(job, window, inside)
        columns = _block_columns(job, window, spans)
    codes = {
        layer.year: _read_codes(datasets[layer.source], window, layer, columns)
        for layer in job.layers
    }
    return ReadStrip(row_start, row_stop, inside, window, codes, spans)


def _block_columns(job: GridJob, window: Window, spans: np.ndarray) -> list[tuple[int, int]]:
    """Column ranges (of the grid, whole file blocks) holding some run of ``spans``."""
    block = job.block_width if job.block_width < job.width else 1
    n_blocks = -(-job.width // block)
    starts = np.bincount(spans[:, 2] // block, minlength=n_blocks + 1)
    stops = np.bincount((spans[:, 3] - 1) // block + 1, minlength=n_blocks + 1)
    touched = np.cumsum(starts - stops)[:n_blocks] > 0
    edges = np.flatnonzero(np.diff(np.concatenate([[False], touched, [False]]).astype(np.int8)))
    col_start = int(window.col_off)
    col_stop = col_start + int(window.width)
    return [
        (max(col_start, int(a) * block), min(col_stop, int(b) * block))
        for a, b in zip(edges[::2], edges[1::2], strict=True)
    ]


def count_strip(job: GridJob, strip: ReadStrip) -> dict[int, Counts]:
    """Burn the units over a read strip and count every year's codes under them."""
    counts = empty_counts(job)
    window, inside = strip.window, strip.inside
    if window is None:
        return counts
    spans = strip.spans
    if spans is None and job.mode == "centre":
        spans = _unit_spans(job, window, inside)
    row_area = job.row_area_m2[strip.row_start : strip.row_stop]
    paired = {year for pair in job.pairs for year in pair}
    for layer in job.layers:
        if layer.year in paired:  # its areas are counted with its first pair
            continue
        data, nodata_code, has_nodata = strip.codes[layer.year]
        c = counts[layer.year]
        if spans is not None:
            found = _count_codes(
                spans, data, int(window.col_off), nodata_code, has_nodata, row_area, c,
                job.track_area,
            )  # fmt: skip
        else:
            found = _count_exact_strip(job, window, inside, data, nodata_code, has_nodata, c)
        if found[0] <= found[1]:
            c.out_of_range = [int(found[0]), int(found[1])]
    counted: set[int] = set()
    for year_from, year_to in job.pairs:
        earlier, later = counts[year_from], counts[year_to]
        areas = (year_from not in counted, year_to not in counted)
        counted |= {year_from, year_to}
        chunk, found = _count_pair(
            job, window, inside, spans, (strip.codes[year_from], strip.codes[year_to]),
            (earlier, later), areas,
        )  # fmt: skip
        earlier.transitions.setdefault(year_to, []).append(chunk)
        for c, low, high in ((earlier, found[0], found[1]), (later, found[2], found[3])):
            if low <= high:
                c.out_of_range = merge_range(c.out_of_range, [int(low), int(high)])
    return counts


def _count_codes(
    spans: np.ndarray, data: np.ndarray, col_start: int, nodata_code: int, has_nodata: bool,
    row_area: np.ndarray, counts: Counts, track_area: bool,
) -> tuple[int, int]:  # fmt: skip
    """Codes under the spans into ``counts``; the out-of-range min, max (min > max if none)."""
    if data.dtype == np.uint8 and counts.pixels.shape[1] == CODE_BINS + 1 and not track_area:
        _count_span_bytes(spans, data, col_start, nodata_code, has_nodata, counts.pixels)
        return _HIGH, _LOW
    return _count_spans(
        spans, data, col_start, nodata_code, has_nodata, row_area, counts.pixels,
        counts.area_m2, track_area,
    )  # fmt: skip


_kernels_loaded = threading.Event()
_loading_lock = threading.Lock()  # one load at a time
_loader_lock = threading.Lock()  # guards _loader
_loader: threading.Thread | None = None


def kernels_loaded() -> bool:
    """Whether the numba kernels are loaded in this process."""
    return _kernels_loaded.is_set()


def start_loading_kernels() -> None:
    """Load the numba kernels in a background thread (once per process); return at once.

    Loading is Python holding the GIL (numba initialising its CPU target, ~0.15 s of CPU on
    the first kernel of a process); started before the units are prepared and the strips
    read, which release the GIL (GEOS, PROJ, GDAL), it runs on another core meanwhile.
    :func:`load_kernels` waits for it.
    """
    global _loader
    with _loader_lock:
        if _kernels_loaded.is_set() or _loader is not None:
            return
        _loader = threading.Thread(target=_load_quietly, name="load-numba-kernels")
        _loader.start()


def load_kernels() -> None:
    """Load the numba kernels from numba's on-disk cache, once per process (waiting for the
    background load if one was started); see :func:`_load`."""
    if _kernels_loaded.is_set():
        return
    with _loader_lock:
        loader = _loader
    if loader is not None:
        loader.join()
    _load()  # returns at once when the background load succeeded; else raises its error here


def _load_quietly() -> None:
    """:func:`_load` in the background thread; a failure is raised again by the caller's
    :func:`load_kernels` (never printed from the thread)."""
    with contextlib.suppress(Exception):
        _load()


def _load() -> None:
    """Call a kernel of each kind once, with numba's BLAS probe skipped and the cyclic GC paused.

    The first kernel call of a process initialises numba's CPU target, which imports all of
    numba's NumPy support; one module of it (``numba.np.arraymath``) probes for a BLAS at
    import by importing ``scipy.linalg`` (a third of the time), although the kernels use no
    linear algebra. The probe is made to fail fast during this one call unless
    ``scipy.linalg`` is already imported (numba then uses its own loop for
    ``np.convolve``/``np.correlate`` inner products, which nothing here calls);
    ``scipy.linalg`` itself imports normally at any time. The cyclic garbage collector is
    paused meanwhile: numba creates some 10⁵ objects while loading, which would trigger full
    collections over everything a run has imported.
    """
    with _loading_lock:
        if _kernels_loaded.is_set():
            return
        collecting = gc.isenabled()
        gc.disable()
        try:
            with _blas_probe_skipped():
                square = np.array(
                    [[0.0, 0.0, 1.0, 0.0], [1.0, 0.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0]]
                )
                spans = _centre_spans(1, square, 0, 1, 0, 1)
                codes = np.zeros((1, 1), np.uint8)
                _count_span_bytes(spans, codes, 0, 0, False, np.zeros((2, CODE_BINS + 1)))
        finally:
            if collecting:
                gc.enable()
        _kernels_loaded.set()


@contextlib.contextmanager
def _blas_probe_skipped() -> Iterator[None]:
    """numba's import-time BLAS probe (``numba.np.arraymath._check_blas``) fails at once."""
    if "scipy.linalg" in sys.modules or "numba.np.arraymath" in sys.modules:
        yield  # the probe is cheap, or done already
        return
    import numba.np.linalg as linalg

    probe = linalg.ensure_blas

    def no_blas() -> None:
        raise ImportError("BLAS probe skipped while loading the counting kernels")

    linalg.ensure_blas = no_blas
    try:
        yield
    finally:
        linalg.ensure_blas = probe
        arraymath = sys.modules.get("numba.np.arraymath")
        if arraymath is not None and getattr(arraymath, "ensure_blas", None) is no_blas:
            arraymath.ensure_blas = probe


def _window_of(job: GridJob, inside: np.ndarray, row_start: int, row_stop: int) -> Window:
    """Columns spanned by the units ``inside``, widened to whole file blocks."""
    block = job.block_width if job.block_width < job.width else 1
    col_start = int(job.pixel_boxes[inside, 0].min()) // block * block
    col_stop = min(job.width, -(-int(job.pixel_boxes[inside, 2].max()) // block) * block)
    return Window(col_start, row_start, col_stop - col_start, row_stop - row_start)


def _unit_spans(job: GridJob, window: Window, inside: np.ndarray) -> np.ndarray:
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
    dataset: rasterio.DatasetReader,
    window: Window,
    layer: Layer,
    columns: list[tuple[int, int]] | None = None,
) -> tuple[np.ndarray, int, bool]:
    """Codes of a window as integers, with the nodata code to skip; with ``columns``, only
    those column ranges are read (float pixels elsewhere are NaN, other pixels unset)."""
    if columns is None:
        data = dataset.read(1, window=window)
    else:
        data = _read_columns(dataset, window, columns, layer.is_float)
    nodata = layer.nodata
    if layer.is_float:
        origin = (int(window.row_off), int(window.col_off))
        return _float_codes(data, nodata, layer, origin), FLOAT_NODATA, True
    if nodata is None or not float(nodata).is_integer():
        return data, 0, False
    return data, int(nodata), True


def _read_columns(
    dataset: rasterio.DatasetReader,
    window: Window,
    columns: list[tuple[int, int]],
    is_float: bool,
) -> np.ndarray:
    """The window's pixels in ``columns`` (grid column ranges), read straight into place."""
    shape = (int(window.height), int(window.width))
    dtype = np.dtype(dataset.dtypes[0])
    data = np.full(shape, np.nan, dtype) if is_float else np.empty(shape, dtype)
    col_off, row_off = int(window.col_off), int(window.row_off)
    for first, stop in columns:
        piece = Window(first, row_off, stop - first, shape[0])
        dataset.read(1, window=piece, out=data[:, first - col_off : stop - col_off])
    return data


FLOAT_CODE_LIMIT = 2.0**62
"""Float pixels at or beyond this magnitude (or infinite) cannot be an int64 code: an error,
never a silent cast (``inf`` and 1e19 would become the nodata sentinel)."""


def _float_codes(
    data: np.ndarray, nodata: float | None, layer: Layer, origin: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """Whole-number float codes as int64; nodata and NaN become a sentinel.

    ``origin`` is the (row, column) of ``data[0, 0]`` in the raster, for messages.
    """
    missing = np.isnan(data)
    if nodata is not None:
        missing |= data == nodata
    _check_finite_codes(data, missing, layer, origin)
    fractional = ~missing & (data != np.floor(np.where(missing, 0, data)))
    if fractional.any():
        example = float(data[fractional][0])
        raise InputError(
            layer.path,
            f"float raster holds fractional land-use codes (e.g. value {example!r}); "
            "land-use codes must be whole numbers",
        )
    return np.where(missing, FLOAT_NODATA, data).astype(np.int64)


def _check_finite_codes(
    data: np.ndarray, missing: np.ndarray, layer: Layer, origin: tuple[int, int]
) -> None:
    """Raise on infinite or huge pixels (not nodata), naming the value and where it is."""
    with np.errstate(invalid="ignore"):
        bad = ~missing & ~(np.abs(data) < FLOAT_CODE_LIMIT)
    if not bad.any():
        return
    rows, columns = np.nonzero(bad)
    row, column = origin[0] + int(rows[0]), origin[1] + int(columns[0])
    value = float(data[rows[0], columns[0]])
    raise InputError(
        layer.path,
        f"float raster holds {int(bad.sum())} pixel(s) that are no land-use code: value "
        f"{value!r} at row {row}, column {column} (0-based); codes must be whole numbers "
        f"0..{MAX_CODE}; if the value means no data, declare it as the raster's nodata",
    )


def _count_exact_strip(
    job: GridJob, window: Window, inside: np.ndarray, data: np.ndarray, nodata_code: int,
    has_nodata: bool, counts: Counts,
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


def _count_pair(
    job: GridJob,
    window: Window,
    inside: np.ndarray,
    spans: np.ndarray | None,
    read: tuple[tuple[np.ndarray, int, bool], tuple[np.ndarray, int, bool]],
    counts: tuple[Counts, Counts],
    areas: tuple[bool, bool],
) -> tuple[np.ndarray, np.ndarray]:
    """Pixel pairs of two years of one strip, and (where ``areas`` says so) each year's areas.

    Returns rows ``unit, bin_from, bin_to, pixels, area_m2`` (bin ``job.n_bins`` is nodata;
    pixels nodata in both years are not rows but count as each year's nodata) and the
    out-of-range ``low, high`` of each year. The same pixels and weights as the areas
    (centre: the spans; exact: the coverage), so each raster window is looked at once.
    """
    row_start, col_start = int(window.row_off), int(window.col_off)
    row_area = job.row_area_m2[row_start : row_start + int(window.height)]
    (data_a, nodata_a, has_a), (data_b, nodata_b, has_b) = read
    width = job.n_bins + 1
    hist = np.zeros(width * width)
    hist_m2 = np.zeros(width * width if job.track_area else 1)
    seen_a, seen_b = np.zeros(width, np.bool_), np.zeros(width, np.bool_)
    found = np.array([_HIGH, _LOW, _HIGH, _LOW], np.int64)
    sums = (counts[0].pixels, counts[0].area_m2, counts[1].pixels, counts[1].area_m2)
    if spans is not None:
        out = _count_pair_spans(
            spans, data_a, data_b, col_start, nodata_a, has_a, nodata_b, has_b, row_area,
            job.n_bins, job.track_area, hist, hist_m2, seen_a, seen_b, found, *sums, *areas,
        )  # fmt: skip
        return out, found
    boxes = job.pixel_boxes
    chunks = [
        _count_exact_pair_unit(
            i + 1,
            job.edges[i],
            int(boxes[i, 0]),
            int(boxes[i, 2]),
            data_a,
            data_b,
            row_start,
            col_start,
            nodata_a,
            has_a,
            nodata_b,
            has_b,
            row_area,
            job.n_bins,
            job.track_area,
            hist,
            hist_m2,
            seen_a,
            seen_b,
            found,
            *sums,
            *areas,
        )
        for i in inside
    ]
    return (np.concatenate(chunks) if chunks else np.zeros((0, 5))), found


_HIGH = np.iinfo(np.int64).max
_LOW = np.iinfo(np.int64).min


@njit(nogil=True, cache=True)
def _flush_pairs(
    unit, hist, hist_m2, seen_a, seen_b, n_bins, track_area, pixels_a, area_a, pixels_b,
    area_b, add_a, add_b,
):  # fmt: skip
    """One unit's (from, to) sums: added to the years' areas where asked, returned as rows
    (pixels nodata in both years only count as nodata), and cleared.

    Only the cells of codes seen in each year are visited (``seen_a`` × ``seen_b``), so the
    cost follows the codes present, not the size of the table.
    """
    width = n_bins + 1
    codes_a = np.flatnonzero(seen_a)
    codes_b = np.flatnonzero(seen_b)
    out = np.empty((codes_a.size * codes_b.size, 5))
    n_out = 0
    for a in codes_a:
        for b in codes_b:
            key = a * width + b
            value = hist[key]
            if value == 0.0:
                continue
            m2 = hist_m2[key] if track_area else 0.0
            hist[key] = 0.0
            if track_area:
                hist_m2[key] = 0.0
            if add_a:
                pixels_a[unit, a] += value
                if track_area:
                    area_a[unit, a] += m2
            if add_b:
                pixels_b[unit, b] += value
                if track_area:
                    area_b[unit, b] += m2
            if a == n_bins and b == n_bins:
                continue
            out[n_out, 0] = unit
            out[n_out, 1] = a
            out[n_out, 2] = b
            out[n_out, 3] = value
            out[n_out, 4] = m2
            n_out += 1
    seen_a[:] = False
    seen_b[:] = False
    return out[:n_out]


@njit(inline="always", cache=True)
def _out_of_range(va, vb, a, b, found):
    """Keep the lowest and highest code out of range of each year in ``found``."""
    if a < 0:
        found[0] = min(found[0], va)
        found[1] = max(found[1], va)
    if b < 0:
        found[2] = min(found[2], vb)
        found[3] = max(found[3], vb)


@njit(nogil=True, cache=True)
def _count_pair_spans(
    spans, data_a, data_b, col_start, nodata_a, has_a, nodata_b, has_b, row_area_m2, n_bins,
    track_area, hist, hist_m2, seen_a, seen_b, found, pixels_a, area_a, pixels_b, area_b,
    add_a, add_b,
):  # fmt: skip
    """Centre mode: (from, to) pixel counts under each unit's spans (spans come unit by unit).

    A dense (from, to) histogram is reused across units; per unit only the cells of the codes
    seen are read back and cleared (:func:`_flush_pairs`).
    """
    width = n_bins + 1
    chunks = []
    unit = -1
    for s in range(spans.shape[0]):
        if spans[s, 0] != unit:
            if unit >= 0:
                chunks.append(_flush_pairs(
                    unit, hist, hist_m2, seen_a, seen_b, n_bins, track_area, pixels_a,
                    area_a, pixels_b, area_b, add_a, add_b,
                ))  # fmt: skip
            unit = spans[s, 0]
        r = spans[s, 1]
        cell_m2 = row_area_m2[r]
        for x in range(spans[s, 2] - col_start, spans[s, 3] - col_start):
            va, vb = np.int64(data_a[r, x]), np.int64(data_b[r, x])
            a = _bin(va, nodata_a, has_a, n_bins)
            b = _bin(vb, nodata_b, has_b, n_bins)
            if a < 0 or b < 0:
                _out_of_range(va, vb, a, b, found)
                continue
            seen_a[a] = True
            seen_b[b] = True
            hist[a * width + b] += 1.0
            if track_area:
                hist_m2[a * width + b] += cell_m2
    if unit >= 0:
        chunks.append(_flush_pairs(
            unit, hist, hist_m2, seen_a, seen_b, n_bins, track_area, pixels_a, area_a,
            pixels_b, area_b, add_a, add_b,
        ))  # fmt: skip
    n = 0
    for chunk in chunks:
        n += chunk.shape[0]
    out = np.empty((n, 5))
    k = 0
    for chunk in chunks:
        out[k : k + chunk.shape[0]] = chunk
        k += chunk.shape[0]
    return out


@njit(nogil=True, cache=True)
def _unit_cover(edges, col_min, col_max, row_start, rows):
    """Signed-area accumulation of one unit's edges over a strip (see :func:`_draw_edge`)."""
    cover = np.zeros((rows, col_max - col_min + 2))
    for i in range(edges.shape[0]):
        _draw_edge(
            cover, edges[i, 0] - col_min, edges[i, 1] - row_start,
            edges[i, 2] - col_min, edges[i, 3] - row_start,
        )  # fmt: skip
    return cover


@njit(nogil=True, cache=True)
def _count_exact_pair_unit(
    unit, edges, col_min, col_max, data_a, data_b, row_start, col_start, nodata_a, has_a,
    nodata_b, has_b, row_area_m2, n_bins, track_area, hist, hist_m2, seen_a, seen_b, found,
    pixels_a, area_a, pixels_b, area_b, add_a, add_b,
):  # fmt: skip
    """Exact mode: coverage-weighted (from, to) sums of one unit over one strip."""
    rows = data_a.shape[0]
    cover = _unit_cover(edges, col_min, col_max, row_start, rows)
    width = n_bins + 1
    for r in range(rows):
        winding = 0.0
        cell_m2 = row_area_m2[r]
        for c in range(col_max - col_min):
            winding += cover[r, c]
            share = min(abs(winding), 1.0)
            if share < 1e-12:
                continue
            x = col_min - col_start + c
            va, vb = np.int64(data_a[r, x]), np.int64(data_b[r, x])
            a = _bin(va, nodata_a, has_a, n_bins)
            b = _bin(vb, nodata_b, has_b, n_bins)
            if a < 0 or b < 0:
                _out_of_range(va, vb, a, b, found)
                continue
            seen_a[a] = True
            seen_b[b] = True
            hist[a * width + b] += share
            if track_area:
                hist_m2[a * width + b] += share * cell_m2
    return _flush_pairs(
        unit,
        hist,
        hist_m2,
        seen_a,
        seen_b,
        n_bins,
        track_area,
        pixels_a,
        area_a,
        pixels_b,
        area_b,
        add_a,
        add_b,
    )


@njit(nogil=True, cache=True)
def _centre_spans(unit, edges, col_min, col_max, row_start, rows):
    """Pixel runs of one unit by GDAL's rasterize rule (``all_touched=False``).

    On each row's centre line ``y = row + 0.5`` the crossings of edges with
    ``y0 <= y < y1`` are sorted and paired (even-odd); pixel ``x`` is in a pair
    ``[a, b)`` when ``floor(a + 0.5) <= x < floor(b + 0.5)``, i.e. its centre is inside.
    A horizontal edge lying exactly on a centre line is burnt too, as GDAL does. This is
    the arithmetic of GDAL's ``GDALdllImageFilledPolygon`` (which rasterstats uses) on
    pixel coordinates computed like GDAL's inverse geotransform (see ``geometry.pixel_edges``).

    Each edge visits only the rows it crosses (its crossings are bucketed by row first), so
    the cost follows the crossings, not edges × rows.
    """
    crossing_offsets, flat_offsets = _row_buckets(edges, row_start, rows)
    crossings = np.empty(crossing_offsets[rows])
    flat_firsts = np.empty(flat_offsets[rows], np.int64)
    flat_ends = np.empty(flat_offsets[rows], np.int64)
    _fill_buckets(
        edges, row_start, rows, crossing_offsets.copy(), flat_offsets.copy(), crossings,
        flat_firsts, flat_ends,
    )  # fmt: skip
    most = 1
    for r in range(rows):
        most = max(most, crossing_offsets[r + 1] - crossing_offsets[r]
                   + flat_offsets[r + 1] - flat_offsets[r] + 1)  # fmt: skip
    firsts = np.empty(most, np.int64)
    ends = np.empty(most, np.int64)
    spans = np.empty((max(16, 4 * rows), 4), np.int64)
    n_spans = 0
    for r in range(rows):
        a, b = crossing_offsets[r], crossing_offsets[r + 1]
        n = b - a
        n_flat = flat_offsets[r + 1] - flat_offsets[r]
        if n < 2 and n_flat == 0:
            continue
        _sort_in_place(crossings, a, b)
        m = 0
        for f in range(flat_offsets[r], flat_offsets[r + 1]):
            firsts[m] = flat_firsts[f]
            ends[m] = flat_ends[f]
            m += 1
        for p in range(a, b - 1, 2):
            firsts[m] = math.floor(crossings[p] + 0.5)
            ends[m] = math.floor(crossings[p + 1] + 0.5)
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
def _rows_of_edge(ya, yb, row_start, rows):
    """Rows (of the strip) whose centre line may meet ``ya <= y < yb``: a range one or two
    rows wider than needed; the caller tests each row exactly."""
    first = max(0, math.floor(ya) - 1 - row_start)
    stop = min(rows, math.floor(yb) + 1 - row_start)
    return first, stop


@njit(inline="always", cache=True)
def _flat_row(y, row_start, rows):
    """The strip row whose centre line a horizontal edge at ``y`` lies on, or -1."""
    r = math.floor(y) - row_start
    if 0 <= r < rows and y == row_start + r + 0.5:
        return r
    return -1


@njit(nogil=True, cache=True)
def _row_buckets(edges, row_start, rows):
    """Offsets of each row's crossings and of its horizontal edges on the centre line."""
    crossing_offsets = np.zeros(rows + 1, np.int64)
    flat_offsets = np.zeros(rows + 1, np.int64)
    for i in range(edges.shape[0]):
        y0, y1 = edges[i, 1], edges[i, 3]
        if y0 == y1:
            r = _flat_row(y0, row_start, rows)
            if r >= 0:
                flat_offsets[r + 1] += 1
            continue
        ya, yb = min(y0, y1), max(y0, y1)
        first, stop = _rows_of_edge(ya, yb, row_start, rows)
        for r in range(first, stop):
            y = row_start + r + 0.5
            if ya <= y < yb:
                crossing_offsets[r + 1] += 1
    for r in range(rows):
        crossing_offsets[r + 1] += crossing_offsets[r]
        flat_offsets[r + 1] += flat_offsets[r]
    return crossing_offsets, flat_offsets


@njit(nogil=True, cache=True)
def _fill_buckets(
    edges, row_start, rows, next_crossing, next_flat, crossings, flat_firsts, flat_ends,
):  # fmt: skip
    """Each row's crossings (edge order) and horizontal runs on its centre line."""
    for i in range(edges.shape[0]):
        if edges[i, 1] < edges[i, 3]:
            ya, xa, yb, xb = edges[i, 1], edges[i, 0], edges[i, 3], edges[i, 2]
        elif edges[i, 1] > edges[i, 3]:
            ya, xa, yb, xb = edges[i, 3], edges[i, 2], edges[i, 1], edges[i, 0]
        else:
            r = _flat_row(edges[i, 1], row_start, rows)
            if r >= 0:  # horizontal edge on the centre line
                flat_firsts[next_flat[r]] = math.floor(min(edges[i, 0], edges[i, 2]) + 0.5)
                flat_ends[next_flat[r]] = math.floor(max(edges[i, 0], edges[i, 2]) + 0.5)
                next_flat[r] += 1
            continue
        first, stop = _rows_of_edge(ya, yb, row_start, rows)
        for r in range(first, stop):
            y = row_start + r + 0.5
            if ya <= y < yb:
                crossings[next_crossing[r]] = (y - ya) * (xb - xa) / (yb - ya) + xa
                next_crossing[r] += 1


@njit(inline="always", cache=True)
def _sort_in_place(values, start, stop):
    """Sort ``values[start:stop]``: insertion sort for the few crossings a row usually has."""
    if stop - start > 32:
        values[start:stop] = np.sort(values[start:stop])
        return
    for i in range(start + 1, stop):
        value = values[i]
        j = i - 1
        while j >= start and values[j] > value:
            values[j + 1] = values[j]
            j -= 1
        values[j + 1] = value


@njit(inline="always", cache=True)
def _bin(value, nodata, has_nodata, n_bins):
    """Histogram bin of a pixel value: the code, ``n_bins`` for nodata, -1 when out of range."""
    if has_nodata and value == nodata:
        return n_bins
    if value < 0 or value >= n_bins:
        return -1
    return value


@njit(inline="always", cache=True)
def _unit_slots(spans, n_units):
    """Unit -> row of the strip's histograms (-1 for units without a run), in order of
    first run, and the number of rows: only the units present in ``spans`` get one."""
    slot = np.full(n_units, -1, np.int64)
    n_slots = 0
    for s in range(spans.shape[0]):
        if slot[spans[s, 0]] < 0:
            slot[spans[s, 0]] = n_slots
            n_slots += 1
    return slot, n_slots


@njit(nogil=True, cache=True)
def _count_spans(
    spans, data, col_start, nodata, has_nodata, row_area_m2, pixels, area_m2, track_area,
):  # fmt: skip
    """Count the codes under each span into ``pixels[unit, code]``; out-of-range min, max.

    Neighbouring pixels mostly share a code, so a single counter would be incremented back
    to back, each add waiting for the previous store. Interleaved integer histograms
    (column mod 4) break that chain; they are summed at the end (one when codes go above
    255, to keep memory small). The histograms hold only the units present in ``spans``
    (a strip of a national grid meets a few dozen of 2,873 units).
    """
    n_bins = pixels.shape[1] - 1
    n_lanes = LANES if n_bins <= CODE_BINS else 1
    slot, n_slots = _unit_slots(spans, pixels.shape[0])
    lanes = np.zeros((n_lanes, n_slots, n_bins + 1), np.int64)
    low = np.iinfo(np.int64).max
    high = np.iinfo(np.int64).min
    for s in range(spans.shape[0]):
        u, r = spans[s, 0], spans[s, 1]
        j = slot[u]
        cell_m2 = row_area_m2[r]
        for x in range(spans[s, 2] - col_start, spans[s, 3] - col_start):
            v = np.int64(data[r, x])
            k = _bin(v, nodata, has_nodata, n_bins)
            if k < 0:
                low = min(low, v)
                high = max(high, v)
                continue
            lanes[x & (n_lanes - 1), j, k] += 1
            if track_area:
                area_m2[u, k] += cell_m2
    for u in range(pixels.shape[0]):
        j = slot[u]
        if j < 0:
            continue
        for k in range(n_bins + 1):
            count = 0
            for lane in range(n_lanes):
                count += lanes[lane, j, k]
            pixels[u, k] += count
    return low, high


@njit(nogil=True, cache=True)
def _count_span_bytes(spans, data, col_start, nodata, has_nodata, pixels):
    """:func:`_count_spans` for byte codes on 256 bins of a projected grid.

    A byte is its own bin and never out of range, so the loop only adds (four interleaved
    histograms, four pixels per step); pixels equal to the nodata code are counted in its
    bin and moved to the nodata column at the end.
    """
    slot, n_slots = _unit_slots(spans, pixels.shape[0])
    lanes = np.zeros((n_slots, LANES, CODE_BINS), np.int64)
    for s in range(spans.shape[0]):
        lane = lanes[slot[spans[s, 0]]]
        row = data[spans[s, 1]]
        x, stop = spans[s, 2] - col_start, spans[s, 3] - col_start
        while x + 4 <= stop:
            lane[0, row[x]] += 1
            lane[1, row[x + 1]] += 1
            lane[2, row[x + 2]] += 1
            lane[3, row[x + 3]] += 1
            x += 4
        while x < stop:
            lane[0, row[x]] += 1
            x += 1
    nodata_bin = nodata if has_nodata and 0 <= nodata < CODE_BINS else -1
    for u in range(pixels.shape[0]):
        j = slot[u]
        if j < 0:
            continue
        for k in range(CODE_BINS):
            count = lanes[j, 0, k] + lanes[j, 1, k] + lanes[j, 2, k] + lanes[j, 3, k]
            pixels[u, CODE_BINS if k == nodata_bin else k] += count


@njit(nogil=True, cache=True)
def _count_exact_unit(
    unit, edges, col_min, col_max, data, row_start, col_start, nodata, has_nodata, row_area_m2,
    pixels, area_m2, track_area,
):  # fmt: skip
    """Coverage-weighted counts of one unit over one strip; returns out-of-range min, max."""
    rows = data.shape[0]
    width = col_max - col_min
    cover = _unit_cover(edges, col_min, col_max, row_start, rows)
    n_bins = pixels.shape[1] - 1
    lanes = np.zeros((LANES, n_bins + 1))  # see _count_spans
    lanes_m2 = np.zeros((LANES, n_bins + 1) if track_area else (1, 1))
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
            lanes[c & (LANES - 1), k] += share
            if track_area:
                lanes_m2[c & (LANES - 1), k] += share * cell_m2
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


def open_layers(job: GridJob) -> dict[str, rasterio.DatasetReader]:
    return {layer.source: rasterio.open(layer.source) for layer in job.layers}
