"""Running a grid pass: strips over threads in this process, or Dask tasks (optional extra)."""

from __future__ import annotations

import contextlib
import itertools
import os
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import replace
from itertools import islice

import rasterio

from pipeline.errors import InputError
from pipeline.zonal.counting import (
    ReadStrip,
    count_rows,
    count_strip,
    kernels_loaded,
    load_kernels,
    open_layers,
    read_rows,
)
from pipeline.zonal.jobs import (
    DASK_CONNECT_TIMEOUT_S,
    DASK_STRIPS_PER_TASK,
    GDAL_CACHE_MB,
    MAX_CODE,
    MAX_TRANSITION_BINS,
    READ_AHEAD_BYTES,
    STRIP_TARGET_PIXELS,
    Counts,
    GridJob,
    add_all,
    empty_counts,
    merge_range,
)


def _strips(job: GridJob) -> list[tuple[int, int]]:
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


def run_grid(job: GridJob, scheduler: str, show_progress: bool) -> dict[int, Counts]:
    """Count every year of one grid; retried with more bins if codes exceed 255."""
    strips = _strips(job)
    while True:
        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB):
            runner = _run_single if scheduler == "single" else _run_dask
            counts = runner(job, strips, scheduler, show_progress)
        overflow = _merge_all_ranges(counts.values())
        if not overflow:
            return counts
        job = _rebin(job, counts, overflow)


def _merge_all_ranges(counts: Iterator[Counts] | Sequence[Counts]) -> list[int]:
    merged: list[int] = []
    for c in counts:
        merged = merge_range(merged, c.out_of_range)
    return merged


def _rebin(job: GridJob, counts: dict[int, Counts], overflow: list[int]) -> GridJob:
    """The job again with one bin per code up to the highest found (codes above 255)."""
    paired = {year for pair in job.pairs for year in pair}
    for layer in job.layers:
        found = counts[layer.year].out_of_range
        if found and (found[0] < 0 or found[1] > MAX_CODE):
            value = found[0] if found[0] < 0 else found[1]
            raise InputError(
                layer.path,
                f"land-use code {value} inside the units; codes must be 0..{MAX_CODE} "
                "(or declare it as nodata)",
            )
        if found and layer.year in paired and found[1] >= MAX_TRANSITION_BINS:
            raise InputError(
                layer.path,
                f"land-use code {found[1]} inside the units; transitions are counted for "
                f"codes 0..{MAX_TRANSITION_BINS - 1}: set `[landuse] transitions = false`",
            )
    return replace(job, n_bins=int(overflow[1]) + 1)


def _run_single(
    job: GridJob, strips: list[tuple[int, int]], _scheduler: str, show_progress: bool
) -> dict[int, Counts]:
    """This process, one thread per core; GDAL reads and numba kernels release the GIL.

    While the kernels are still loading (the first pass of a process, see
    :func:`~pipeline.zonal.counting.start_loading_kernels`), the threads read strips ahead,
    up to :data:`READ_AHEAD_BYTES` of codes, which are counted once the kernels are there.
    Partial counts are added in strip order, so sums do not depend on thread timing.

    On any exception (Ctrl-C, SIGTERM, an input error in a strip) a stop flag makes the
    queued strips return at once, only the strips being counted finish, and the datasets are
    closed after every thread is done: never under a thread still reading.
    """
    local = threading.local()  # one set of dataset handles per thread
    opened: list[dict[str, rasterio.DatasetReader]] = []
    stop = threading.Event()

    def read(strip: tuple[int, int]) -> ReadStrip | None:
        if stop.is_set():
            return None
        if not hasattr(local, "datasets"):
            local.datasets = open_layers(job)
            opened.append(local.datasets)
        return read_rows(job, *strip, datasets=local.datasets)

    def count(strip: ReadStrip | Future | None) -> dict[int, Counts] | None:
        if isinstance(strip, Future):  # a read submitted earlier: running or done
            strip = strip.result()
        if stop.is_set() or strip is None:
            return None
        load_kernels()
        return count_strip(job, strip)

    def work(strip: tuple[int, int]) -> dict[int, Counts] | None:
        if stop.is_set():
            return None
        load_kernels()
        if not hasattr(local, "datasets"):
            local.datasets = open_layers(job)
            opened.append(local.datasets)
        return count_strip(job, read_rows(job, *strip, datasets=local.datasets, runs_first=True))

    n_threads = max(1, min(os.cpu_count() or 1, len(strips)))
    total = empty_counts(job)
    pool = ThreadPoolExecutor(n_threads)
    try:
        pending = iter(strips)
        held, reading = _read_ahead(pool, read, pending, n_threads)
        tasks = itertools.chain(
            ((count, held.popleft()) for _ in range(len(held))),
            ((count, future) for future in reading),
            ((work, strip) for strip in pending),
        )
        with Progress(job, len(strips), show_progress) as bar:
            # a few strips in flight, each added and dropped in order: memory holds
            # 2 × threads partial counts, not one per strip (527 of 6 MB nationally)
            futures = deque(pool.submit(*task) for task in islice(tasks, 2 * n_threads))
            while futures:
                add_all(total, futures.popleft().result())
                bar(1)
                for task in islice(tasks, 1):
                    futures.append(pool.submit(*task))
    except BaseException:
        stop.set()
        _stop_pool(pool, stop, opened)
        raise
    interrupt = _stop_pool(pool, stop, opened)
    if interrupt is not None:  # arrived while the last strips finished
        raise interrupt
    return total


def _read_ahead(
    pool: ThreadPoolExecutor,
    read: Callable[[tuple[int, int]], ReadStrip | None],
    pending: Iterator[tuple[int, int]],
    n_threads: int,
) -> tuple[deque[ReadStrip], deque[Future]]:
    """While the kernels load, read strips ahead (up to :data:`READ_AHEAD_BYTES`): the
    strips read, in order, and the reads still running (to be counted after them)."""
    held: deque[ReadStrip] = deque()
    reading: deque[Future] = deque()
    if kernels_loaded():
        return held, reading
    reading.extend(pool.submit(read, strip) for strip in islice(pending, n_threads))
    held_bytes = 0
    while reading and not kernels_loaded():
        strip = reading.popleft().result()
        if strip is None:
            break
        held.append(strip)
        held_bytes += strip.nbytes
        if held_bytes + (len(reading) + 1) * strip.nbytes <= READ_AHEAD_BYTES:
            reading.extend(pool.submit(read, s) for s in islice(pending, 1))
    return held, reading


def _stop_pool(
    pool: ThreadPoolExecutor,
    stop: threading.Event,
    opened: list[dict[str, rasterio.DatasetReader]],
) -> KeyboardInterrupt | None:
    """Cancel the queued strips, wait for the running ones whatever interrupts arrive
    meanwhile (a second Ctrl-C must not leave a thread reading a dataset about to close),
    then close the datasets. Returns the interrupt that arrived, if any."""
    caught = None
    while True:
        try:
            pool.shutdown(wait=True, cancel_futures=stop.is_set())
            break
        except KeyboardInterrupt as interrupt:
            caught = caught or interrupt
            stop.set()
    for datasets in opened:
        for dataset in datasets.values():
            dataset.close()
    return caught


def _run_dask(
    job: GridJob, strips: list[tuple[int, int]], scheduler: str, show_progress: bool
) -> dict[int, Counts]:
    """Groups of strips become Dask tasks whose partial (unit, code) tables are summed.

    Every task checks a stop flag between its strips: a file in a new temporary folder,
    created on any exception here (Ctrl-C, SIGTERM), so that threads, worker processes and
    workers of a distributed scheduler on this host all see it. Queued tasks are cancelled
    and the running ones return after their current strip; each task closes the datasets it
    opened itself, so none is closed under a thread still reading it.
    """
    per_task = max(1, min(DASK_STRIPS_PER_TASK, len(strips) // 8))
    chunks = [strips[i : i + per_task] for i in range(0, len(strips), per_task)]
    total = empty_counts(job)
    folder = tempfile.mkdtemp(prefix="carbon-zoning-stop-")
    stop_path = os.path.join(folder, "stop")
    try:
        with Progress(job, len(strips), show_progress) as bar:
            if scheduler.startswith("tcp://"):
                _run_distributed(job, chunks, scheduler, total, bar, stop_path)
            else:
                _run_local_dask(job, chunks, scheduler, total, bar, stop_path)
    finally:
        with contextlib.suppress(OSError):
            os.remove(stop_path)
        with contextlib.suppress(OSError):
            os.rmdir(folder)
    return total


def _raise_stop_flag(stop_path: str) -> None:
    with contextlib.suppress(OSError):
        os.close(os.open(stop_path, os.O_CREAT | os.O_WRONLY, 0o600))


def _local_pool(scheduler: str) -> Executor:
    """The pool Dask's local scheduler runs on, owned here so it can be stopped here."""
    workers = os.cpu_count() or 1
    if scheduler == "processes":
        from concurrent.futures import ProcessPoolExecutor

        from dask.multiprocessing import get_context

        return ProcessPoolExecutor(
            workers,
            mp_context=get_context(),
            initializer=_exit_with_parent,
            initargs=(os.getpid(),),
        )
    return ThreadPoolExecutor(workers)


def _exit_with_parent(parent_pid: int) -> None:
    """In a worker process: end it when the run that started it is gone (a SIGKILL leaves
    no one to stop the pool; the worker would count on as an orphan)."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def _run_local_dask(
    job: GridJob,
    chunks: list[list[tuple[int, int]]],
    scheduler: str,
    total: dict[int, Counts],
    bar: Callable[[int], None],
    stop_path: str,
) -> None:
    """Dask's local ``threads`` or ``processes`` scheduler, on a pool of ours."""
    _require_dask(scheduler)
    import dask
    from dask.callbacks import Callback

    shared = dask.delayed(job, pure=True)
    tasks = [dask.delayed(count_strips, pure=True)(shared, chunk, stop_path) for chunk in chunks]
    sizes = {task.key: len(chunk) for task, chunk in zip(tasks, chunks, strict=True)}

    class _Tick(Callback):
        def _posttask(
            self, key: object, result: object, dsk: object, state: object, worker_id: object
        ) -> None:
            bar(sizes.get(key, 0))

    pool = _local_pool(scheduler)
    try:
        with _Tick():
            partials = dask.compute(*tasks, scheduler=scheduler, pool=pool)
    except BaseException:
        _raise_stop_flag(stop_path)
        _shut_down(pool, cancel=True)
        raise
    interrupt = _shut_down(pool, cancel=False)
    if interrupt is not None:
        raise interrupt
    for partial in partials:
        add_all(total, partial)


def _shut_down(pool: Executor, *, cancel: bool) -> KeyboardInterrupt | None:
    """Wait for the pool's running tasks (after a stop, each returns within one strip),
    whatever interrupts arrive meanwhile; returns the interrupt that arrived, if any."""
    caught = None
    while True:
        try:
            pool.shutdown(wait=True, cancel_futures=cancel)
            return caught
        except KeyboardInterrupt as interrupt:
            caught = caught or interrupt
            cancel = True


def _run_distributed(
    job: GridJob,
    chunks: list[list[tuple[int, int]]],
    address: str,
    total: dict[int, Counts],
    bar: Callable[[int], None],
    stop_path: str,
) -> None:
    """A Dask distributed scheduler at ``address``; partials summed as they arrive. On an
    interrupt the futures are cancelled (and workers on this host see the stop flag)."""
    _require_dask(address)
    from distributed import Client, as_completed

    try:
        client = Client(address, timeout=DASK_CONNECT_TIMEOUT_S)
    except OSError as error:
        problem = f"scheduler = {address!r}: cannot reach the Dask scheduler ({error})"
        raise InputError("[compute] scheduler", problem) from error
    with client:
        shared = client.scatter(job, broadcast=True)
        futures = [
            client.submit(count_strips, shared, chunk, stop_path, pure=False) for chunk in chunks
        ]
        sizes = {future.key: len(chunk) for future, chunk in zip(futures, chunks, strict=True)}
        try:
            for future in as_completed(futures):
                add_all(total, future.result())
                bar(sizes[future.key])
                future.release()
        except BaseException:
            _raise_stop_flag(stop_path)
            with contextlib.suppress(Exception):
                client.cancel(futures)
            raise


def count_strips(
    job: GridJob, strips: Sequence[tuple[int, int]], stop_path: str | None = None
) -> dict[int, Counts]:
    """Count several strips of a grid in one task (datasets opened once); summed tables.

    Returns early (a partial table, which the caller discards) once ``stop_path`` exists.
    """
    total = empty_counts(job)
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB):
        datasets = open_layers(job)
        try:
            for row_start, row_stop in strips:
                if stop_path is not None and os.path.exists(stop_path):
                    break
                add_all(total, count_rows(job, row_start, row_stop, datasets=datasets))
        finally:
            for dataset in datasets.values():
                dataset.close()
    return total


class Progress:
    """A tqdm bar per grid pass, or nothing; called with the number of strips done."""

    def __init__(self, job: GridJob, total: int, show: bool) -> None:
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


DASK_INSTALL_HINT = "pip install 'carbon-balance-zoning[dask]'"


def _require_dask(scheduler: str) -> None:
    """Raise an input error naming the extra to install when Dask is absent."""
    import importlib.util

    missing = [name for name in ("dask", "distributed") if importlib.util.find_spec(name) is None]
    if missing:
        raise InputError(
            "[compute] scheduler",
            f"scheduler = {scheduler!r} needs the optional Dask packages ({', '.join(missing)} "
            f"not installed); install them with {DASK_INSTALL_HINT}, or use scheduler = 'single'",
        )
