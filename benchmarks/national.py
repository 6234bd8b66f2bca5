"""A measured national run on the inputs of ``benchmarks/national_inputs.py``.

    python benchmarks/national.py benchmarks/cache/national/1000m
    python benchmarks/national.py benchmarks/cache/national/30m_limit4e8
    python benchmarks/national.py benchmarks/cache/national/30m          # the full run

Steps, each in its own fresh process (wall time, peak memory), one at a time:

1. ``zonal single``: ``tabulate(units, {2020: raster}, mode=<study mode>)`` on this process's
   thread pool (one thread per core), as ``[compute] scheduler = "single"`` runs it;
2. ``zonal distributed``: the same through a Dask ``distributed.LocalCluster(n_workers=2,
   threads_per_worker=1)`` over ``tcp://`` (cluster start-up timed apart; peak memory of
   the whole process tree, sampled, and each worker's own maximum RSS);
3. ``check``: every county present once in the area table, the table the same on both
   schedulers, and the areas summing to the raster's valid area inside the units within
   1e-9 relative. The reference is computed independently of the engine: centre mode,
   GDAL's ``rasterio.features.rasterize`` with ``MergeAlg.add`` (a pixel inside two units
   counts twice, as in the engine) strip by strip, each strip burning the units that meet
   it clipped to its rectangle, and a count of the valid pixels under the burn; exact
   mode, the sum of exactextract's ``count`` (coverage-weighted valid pixels) over all
   units. Both × the pixel area;
4. ``exact vs exactextract`` (rasters up to ``--exact-max-px``, default 10⁸ px: the 1 km
   set): engine exact mode and exactextract side by side, each in a fresh process, both
   given the WGS84 counties (exactextract's call reprojects them first), with the largest
   relative difference per (unit, code);
5. ``run``: the whole ``carbon-zoning run --force`` with maps, wall time and run.json's
   stage timings; its land-use table is checked like the zonal one.

Writes ``<inputs>/bench/national.json`` and the section ``national:<tag>`` of
``benchmarks/RESULTS.md`` (``--no-results-md`` to skip).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS_MD = HERE / "RESULTS.md"
RELATIVE_TOLERANCE = 1e-9
SQUARE_M_PER_HA = 10_000.0
CHECK_STRIP_ROWS = 256  # the reference burn: GDAL's fill costs rows × clipped vertices


# --------------------------------------------------------------------------- inputs


def study_of(folder: Path) -> dict:
    """Paths and settings of the generated study (``study.toml`` and ``inputs.json``)."""
    study = tomllib.loads((folder / "study.toml").read_text(encoding="utf-8"))
    year, raster = next(iter(study["landuse"]["rasters"].items()))
    return {
        "year": int(year),
        "raster": folder / raster,
        "units": folder / study["boundaries"]["path"],
        "mode": study["landuse"].get("mode", "auto"),
        "output_dir": folder / study["study"].get("output_dir", "."),
        "inputs": json.loads((folder / "inputs.json").read_text(encoding="utf-8")),
    }


def read_units(path: Path):
    """``unit, geometry`` of the generated counties (WGS84), as the study names them."""
    import geopandas as gpd

    return gpd.read_file(path, layer="counties")[["unit", "geometry"]]


def raster_crs(path: Path):
    """The raster's CRS by the engine's route (rasterio WKT → pyproj)."""
    import rasterio
    from pyproj import CRS

    with rasterio.open(path) as dataset:
        crs = CRS.from_user_input(dataset.crs.to_wkt())
    return CRS.from_wkt(crs.to_wkt())


def peak_mb_self() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB → MiB


# --------------------------------------------------------------------------- children


def child_zonal(
    folder: Path, scheduler: str, mode: str | None, save_as: str | None, profile_out: str | None
) -> dict:
    """Time ``tabulate`` on one scheduler; the areas go to ``bench/areas_<save_as>.pkl``."""
    started = time.perf_counter()
    if profile_out:  # cProfile sees one thread: run the strips in this one
        sys.path.insert(0, str(HERE))
        from zonal import serialise_thread_pools

        serialise_thread_pools()
    from pipeline.zonal import tabulate

    import_s = time.perf_counter() - started
    study = study_of(folder)
    units = read_units(study["units"])
    rasters = {study["year"]: study["raster"]}
    mode = mode or study["mode"]
    report: dict = {"import_s": import_s, "scheduler": scheduler, "mode_asked": mode}
    if profile_out:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
        t = time.perf_counter()
        result = tabulate(units, rasters, mode=mode, scheduler="single", progress=False)
        report["tabulate_s"] = time.perf_counter() - t
        profiler.disable()
        from zonal import profile_summary

        report["profile"] = profile_summary(profiler, Path(profile_out), report["tabulate_s"])
    elif scheduler == "distributed":
        from distributed import Client, LocalCluster

        t = time.perf_counter()
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, protocol="tcp://",
            dashboard_address=None,
        )  # fmt: skip
        client = Client(cluster)
        report["cluster_start_s"] = time.perf_counter() - t
        report["address"] = cluster.scheduler_address
        try:
            t = time.perf_counter()
            result = tabulate(
                units, rasters, mode=mode, scheduler=cluster.scheduler_address, progress=False
            )
            report["tabulate_s"] = time.perf_counter() - t
            report["worker_peak_mb"] = sorted(
                v / 1024
                for v in client.run(
                    lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                ).values()
            )
        finally:
            client.close()
            cluster.close()
    else:
        t = time.perf_counter()
        result = tabulate(units, rasters, mode=mode, scheduler=scheduler, progress=False)
        report["tabulate_s"] = time.perf_counter() - t
    report |= {
        "mode_used": result.mode_used[study["year"]],
        "rows": len(result.areas),
        "area_ha": float(result.areas["area_ha"].sum()),
        "pixels": float(result.areas["pixels"].sum()),
        "nodata_ha": float(result.nodata_ha["nodata_ha"].sum()),
        "peak_mb": peak_mb_self(),
    }
    bench = folder / "bench"
    bench.mkdir(exist_ok=True)
    result.areas.to_pickle(bench / f"areas_{save_as or scheduler}.pkl")
    return report


def child_reference(folder: Path, mode: str) -> dict:
    """The valid area inside the units, computed without the engine (see the docstring)."""
    import numpy as np
    import rasterio

    study = study_of(folder)
    units = read_units(study["units"])
    path = study["raster"]
    started = time.perf_counter()
    with rasterio.open(path) as dataset:
        pixel_m2 = abs(dataset.transform.a * dataset.transform.e)
        nodata = dataset.nodata
    if mode == "exact":
        from exactextract import exact_extract

        projected = units.to_crs(raster_crs(path))
        table = exact_extract(str(path), projected, ["count"], output="pandas")
        pixels = float(np.sum(table["count"].to_numpy(dtype=float)))
        method = "sum of exactextract count (coverage-weighted valid pixels)"
    else:
        pixels = float(centre_pixels_inside(units, path, nodata))
        method = (
            "rasterio.features.rasterize(MergeAlg.add) of the units clipped to each strip"
            " × valid pixels"
        )
    return {
        "method": method,
        "pixels": pixels,
        "area_ha": pixels * pixel_m2 / SQUARE_M_PER_HA,
        "pixel_m2": pixel_m2,
        "seconds": time.perf_counter() - started,
        "peak_mb": peak_mb_self(),
    }


def centre_pixels_inside(units, path: Path, nodata: float | None) -> int:
    """Σ over units of valid pixels whose centre the unit holds: GDAL's burn, strip by strip.

    GDAL's polygon fill visits every edge of a polygon on every row it burns, so burning the
    whole counties (4.2 M vertices) into every strip they meet does not finish at 30 m. Each
    strip of 256 rows burns only the units whose box meets it, each clipped by
    GEOS to the strip's rectangle widened by one pixel (no pixel centre lies on the cut),
    over the columns those units span; strips no unit meets are skipped.
    """
    import numpy as np
    import rasterio
    import shapely
    from rasterio.enums import MergeAlg
    from rasterio.features import rasterize
    from rasterio.windows import Window
    from rasterio.windows import transform as window_transform

    geometries = shapely.make_valid(units.to_crs(raster_crs(path)).geometry.to_numpy())
    tree = shapely.STRtree(geometries)
    total = 0
    with rasterio.Env(GDAL_CACHEMAX=256), rasterio.open(path) as dataset:
        grid = dataset.transform
        pixel_w, pixel_h = grid.a, -grid.e
        for row in range(0, dataset.height, CHECK_STRIP_ROWS):
            rows = min(CHECK_STRIP_ROWS, dataset.height - row)
            north = grid.f - row * pixel_h
            south = north - rows * pixel_h
            strip = shapely.box(grid.c, south, grid.c + dataset.width * pixel_w, north)
            hits = tree.query(strip, predicate="intersects")
            if len(hits) == 0:
                continue
            bounds = shapely.bounds(geometries[hits])
            west_m, east_m = bounds[:, 0].min(), bounds[:, 2].max()
            col0 = max(0, int(np.floor((west_m - grid.c) / pixel_w)))
            col1 = min(dataset.width, int(np.ceil((east_m - grid.c) / pixel_w)))
            window = Window(col0, row, col1 - col0, rows)
            transform = window_transform(window, grid)
            west = transform.c
            clipped = shapely.clip_by_rect(
                geometries[hits], west - pixel_w, south - pixel_h,
                west + (col1 - col0 + 1) * pixel_w, north + pixel_h,
            )  # fmt: skip
            shapes = [(g, 1) for g in clipped if not g.is_empty]
            if not shapes:
                continue
            cover = rasterize(
                shapes, out_shape=(rows, col1 - col0), transform=transform, fill=0,
                all_touched=False, merge_alg=MergeAlg.add, dtype="uint8",
            )  # fmt: skip
            if nodata is not None:
                cover[dataset.read(1, window=window) == nodata] = 0
            total += int(cover.sum(dtype=np.int64))
    return total


def child_exactextract(folder: Path) -> dict:
    """exactextract over the study's raster with the WGS84 units (reprojected in the call)."""
    started = time.perf_counter()
    from exactextract import exact_extract

    import_s = time.perf_counter() - started
    study = study_of(folder)
    units = read_units(study["units"])
    path = study["raster"]
    t = time.perf_counter()
    projected = units.to_crs(raster_crs(path))
    output = exact_extract(
        str(path), projected, ["unique", "frac", "count"], include_cols=["unit"], output="pandas"
    )
    seconds = time.perf_counter() - t
    import pandas as pd

    columns = [output[c] for c in ("unit", "unique", "frac", "count")]
    frame = pd.DataFrame(
        [
            (u, int(c), f * n)
            for u, cs, fs, n in zip(*columns, strict=True)
            for c, f in zip(cs, fs, strict=True)
        ],
        columns=["unit", "code", "pixels"],
    )
    frame.to_pickle(folder / "bench" / "exactextract.pkl")
    return {"import_s": import_s, "seconds": seconds, "peak_mb": peak_mb_self()}


# --------------------------------------------------------------------------- parent


class TreeMemory:
    """Samples the RSS of a process and its descendants (sum and largest) every 50 ms."""

    def __init__(self, pid: int) -> None:
        import psutil

        self._root = psutil.Process(pid)
        self.peak_sum_mb = 0.0
        self.peak_one_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                processes = [self._root, *self._root.children(recursive=True)]
                sizes = []
                for process in processes:
                    with contextlib.suppress(psutil.Error):
                        sizes.append(process.memory_info().rss / 2**20)
                if sizes:
                    self.peak_sum_mb = max(self.peak_sum_mb, sum(sizes))
                    self.peak_one_mb = max(self.peak_one_mb, max(sizes))
            except psutil.Error:
                return
            self._stop.wait(0.05)

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        return {"tree_peak_mb": self.peak_sum_mb, "largest_process_peak_mb": self.peak_one_mb}


def run_measured(command: list[str], cwd: Path = REPO) -> tuple[dict, str]:
    """Run ``command``; wall time, sampled tree memory, 1-min load before; its stdout."""
    load = os.getloadavg()[0]
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    memory = TreeMemory(process.pid)
    stdout, stderr = process.communicate()
    wall = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = sum(getattr(cpu_after, f) - getattr(cpu_before, f) for f in ("ru_utime", "ru_stime"))
    # CPU seconds of the child and the descendants it waited for (Dask workers): on a shared
    # machine the load-independent part of the cost
    measured = {"wall_s": wall, "cpu_s": cpu_s, "load_1min_before": load} | memory.stop()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{stderr[-3000:]}")
    return measured, stdout


def child(folder: Path, step: str, *extra: str) -> dict:
    """Run a step of this script in a fresh interpreter and merge its JSON report."""
    command = [sys.executable, __file__, str(folder), "--child", step, *extra]
    measured, stdout = run_measured(command)
    return json.loads(stdout.strip().splitlines()[-1]) | measured


def whole_run(folder: Path) -> dict:
    """``carbon-zoning run --force`` of the study with maps; run.json's stage timings."""
    command = [str(Path(sys.executable).parent / "carbon-zoning"), "run", "study.toml", "--force"]
    measured, _ = run_measured(command, cwd=folder)
    study = study_of(folder)
    processed = study["output_dir"] / "data" / "processed"
    record = json.loads((processed / "run.json").read_text(encoding="utf-8"))
    return measured | {"timings_s": record.get("timings_s", {})}


def check_tables(folder: Path, results: dict) -> dict:
    """Counties present once, schedulers agree, areas sum to the independent reference."""
    import pandas as pd

    study = study_of(folder)
    expected = set(read_units(study["units"])["unit"])
    checks: dict = {"units_expected": len(expected)}
    tables = {
        name: pd.read_pickle(folder / "bench" / f"areas_{name}.pkl")
        for name in ("single", "distributed")
        if (folder / "bench" / f"areas_{name}.pkl").exists()
    }
    processed = study["output_dir"] / "data" / "processed" / "landuse_areas.csv"
    if processed.exists():
        tables["run"] = pd.read_csv(processed)
    reference = results.get("reference", {}).get("area_ha")
    for name, table in tables.items():
        keys = table[["unit", "year", "code"]]
        units = set(table["unit"].astype(str))
        total = float(table["area_ha"].sum())
        entry = {
            "units_present": len(units),
            "every_county_present": units == expected,
            "missing": sorted(expected - units)[:10],
            "unexpected": sorted(units - expected)[:10],
            "duplicate_rows": int(keys.duplicated().sum()),
            "area_ha": total,
        }
        if reference:
            entry["relative_difference"] = abs(total - reference) / reference
            entry["within_1e-9"] = entry["relative_difference"] <= RELATIVE_TOLERANCE
        checks[name] = entry
    if {"single", "distributed"} <= set(tables):
        a, b = (
            tables[n].sort_values(["unit", "code"], ignore_index=True)
            for n in ("single", "distributed")
        )
        checks["single_equals_distributed"] = bool(
            a[["unit", "code", "pixels"]].equals(b[["unit", "code", "pixels"]])
        )
    checks["passed"] = all(
        v.get("every_county_present") and v.get("duplicate_rows") == 0 and v.get("within_1e-9")
        for k, v in checks.items()
        if isinstance(v, dict)
    ) and checks.get("single_equals_distributed", True)
    return checks


def compare_exact(folder: Path) -> dict:
    """Engine exact mode vs exactextract, side by side (each a fresh process)."""
    import numpy as np
    import pandas as pd

    engine = child(
        folder, "zonal", "--scheduler", "single", "--mode", "exact", "--save-as", "exact"
    )
    theirs = child(folder, "exactextract")
    ours = pd.read_pickle(folder / "bench" / "areas_exact.pkl")[["unit", "code", "pixels"]]
    ref = pd.read_pickle(folder / "bench" / "exactextract.pkl")
    merged = ours.merge(ref, on=["unit", "code"], how="outer", suffixes=("", "_ee"))
    relative = np.abs(merged["pixels"] - merged["pixels_ee"]) / merged["pixels_ee"]
    return {
        "engine_exact": engine,
        "exactextract": theirs,
        "rows": len(merged),
        "max_relative_difference": float(relative.max()),
        "rows_missing_on_one_side": int(merged[["pixels", "pixels_ee"]].isna().any(axis=1).sum()),
        "speedup": theirs["seconds"] / engine["tabulate_s"],
    }


def _cpu(step: dict) -> str:
    """CPU seconds of a step's process tree, when measured."""
    return f"{step['cpu_s']:.1f}" if "cpu_s" in step else "—"


def _load(step: dict) -> str:
    """The 1-min load average before a step, as the start of its notes."""
    return f"load {step['load_1min_before']:.1f} before; " if "load_1min_before" in step else ""


def loaded_machine(results: dict) -> bool:
    """Some step started with more runnable processes than cores (1-min load average)."""
    steps = [*results["zonal"].values()]
    steps += [results.get(k) or {} for k in ("reference", "run", "exact_vs_exactextract")]
    loads = [results["load_before"], results.get("load_after", 0.0)]
    loads += [s["load_1min_before"] for s in steps if "load_1min_before" in s]
    return max(loads) > (os.cpu_count() or 1)


def markdown(results: dict) -> str:
    inputs = results["inputs"]
    tag = inputs["tag"]
    trial = "" if tag in ("30m", "30m_islands") else " (TRIAL figures)"
    if loaded_machine(results):
        trial += " (loaded machine: wall times are load-bound, compare CPU s)"
    lines = [
        f"<!-- national:{tag}:begin -->",
        f"## National run `{tag}`{trial}",
        "",
        f"`python benchmarks/national.py {results['folder']}` — {results['when']}, "
        f"{results['machine']}; 1-min load average before {results['load_before']:.2f}, after "
        f"{results['load_after']:.2f}. Inputs (`{inputs['command']}`): {inputs['units']} counties"
        f" over {inputs['grid']['width']} × {inputs['grid']['height']} px at "
        f"{inputs['grid']['pixel_m']:g} m ({inputs['pixels'] / 1e9:.3f} × 10⁹ px), raster "
        f"{inputs['raster_bytes'] / 1e6:.0f} MB, generated in {inputs['write']['seconds']:.0f} s.",
        "",
        "| step | wall s | compute s | CPU s | peak MB (process) | peak MB (tree, sampled) "
        "| notes |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name in ("single", "distributed"):
        r = results["zonal"].get(name)
        if not r:
            continue
        notes = f"{_load(r)}mode {r['mode_used']}; import {r['import_s']:.1f} s"
        if name == "distributed":
            notes += (
                f"; cluster start {r['cluster_start_s']:.1f} s; worker peaks "
                + ", ".join(f"{m:.0f}" for m in r["worker_peak_mb"])
                + " MB"
            )
        lines.append(
            f"| zonal, {name} | {r['wall_s']:.1f} | {r['tabulate_s']:.1f} | {_cpu(r)} "
            f"| {r['peak_mb']:.0f} "
            f"| {r['tree_peak_mb']:.0f} | {notes} |"
        )
    ref = results.get("reference")
    if ref:
        lines.append(
            f"| reference count | {ref['wall_s']:.1f} | {ref['seconds']:.1f} | {_cpu(ref)} | "
            f"{ref['peak_mb']:.0f} | {ref['tree_peak_mb']:.0f} | {_load(ref)}{ref['method']} |"
        )
    run = results.get("run")
    if run:
        stages = ", ".join(f"{k} {v:.1f}" for k, v in run["timings_s"].items())
        wall = f"{run['wall_s']:.1f}" if "wall_s" in run else "—"
        peak = f"{run['tree_peak_mb']:.0f}" if "tree_peak_mb" in run else "—"
        earlier = "; from an earlier invocation's run.json" if run.get("earlier_run") else ""
        lines.append(
            f"| `carbon-zoning run --force` (maps) | {wall} | "
            f"{sum(run['timings_s'].values()):.1f} | {_cpu(run)} | — | {peak} | "
            f"{_load(run)}run.json stages (s): {stages}{earlier} |"
        )
    checks = results.get("checks", {})
    lines += ["", f"Checks: {'**passed**' if checks.get('passed') else '**FAILED**'}."]
    for name in ("single", "distributed", "run"):
        c = checks.get(name)
        if c:
            rel = c.get("relative_difference")
            lines.append(
                f"* {name}: {c['units_present']} / {checks['units_expected']} counties present, "
                f"{c['duplicate_rows']} duplicate rows, Σ area {c['area_ha']:.6f} ha vs "
                f"reference {ref['area_ha'] if ref else float('nan'):.6f} ha "
                f"(relative difference {rel if rel is not None else float('nan'):.2e})"
            )
    if "single_equals_distributed" in checks:
        lines.append(f"* single table equals distributed: {checks['single_equals_distributed']}")
    exact = results.get("exact_vs_exactextract")
    if exact:
        e, x = exact["engine_exact"], exact["exactextract"]
        lines += [
            "",
            "Exact mode vs exactextract, each in a fresh process, same WGS84 counties:",
            "",
            "| engine | wall s | compute s | CPU s (process) | import s | peak MB |",
            "|---|---:|---:|---:|---:|---:|",
            f"| engine exact | {e['wall_s']:.1f} | {e['tabulate_s']:.2f} | {_cpu(e)} "
            f"| {e['import_s']:.1f} | {e['peak_mb']:.0f} |",
            f"| exactextract | {x['wall_s']:.1f} | {x['seconds']:.2f} | {_cpu(x)} "
            f"| {x['import_s']:.1f} | {x['peak_mb']:.0f} |",
            "",
            f"{exact['rows']} (unit, code) rows; max relative difference "
            f"{exact['max_relative_difference']:.2e}; rows on one side only "
            f"{exact['rows_missing_on_one_side']}; exactextract / engine compute "
            f"{exact['speedup']:.1f} ×.",
        ]
    profiled = (results.get("profile") or {}).get("profile")
    if profiled:
        lines += [
            "",
            f"cProfile of one zonal call (strips serialised in one thread, "
            f"{profiled['first_call_s_profiled']:.1f} s profiled), cumulative seconds:",
            "",
            "| part (function) | s |",
            "|---|---:|",
        ]
        lines += [f"| {k} | {v:.2f} |" for k, v in profiled["parts_s"].items() if v >= 0.005]
    lines.append(f"<!-- national:{tag}:end -->")
    return "\n".join(lines)


def update_results_md(section: str, tag: str) -> None:
    """Replace (or append) this tag's section of RESULTS.md (``section`` holds its markers)."""
    sys.path.insert(0, str(HERE))
    from zonal import update_results_md as replace_section

    begin, end = f"<!-- national:{tag}:begin -->", f"<!-- national:{tag}:end -->"
    replace_section(RESULTS_MD, section, begin, end)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a set written by national_inputs.py")
    parser.add_argument("--mode", choices=("auto", "centre", "exact"), help="override the study")
    parser.add_argument("--skip", nargs="*", default=[], choices=("distributed", "run", "exact"))
    parser.add_argument("--exact-max-px", type=float, default=1e8)
    parser.add_argument("--no-results-md", action="store_true")
    parser.add_argument(
        "--resume", action="store_true", help="keep the steps already in bench/national.json"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--scheduler", default="single", help=argparse.SUPPRESS)
    parser.add_argument("--save-as", help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", help=argparse.SUPPRESS)
    parser.add_argument(
        "--profile", action="store_true", help="also cProfile one zonal call (strips serialised)"
    )
    args = parser.parse_args(argv)
    folder = args.folder.resolve()
    if args.child:
        if args.child == "zonal":
            report = child_zonal(folder, args.scheduler, args.mode, args.save_as, args.profile_out)
        elif args.child == "reference":
            report = child_reference(folder, args.mode or "centre")
        else:
            report = child_exactextract(folder)
        print(json.dumps(report))
        return
    study = study_of(folder)
    try:
        shown = str(folder.relative_to(REPO))
    except ValueError:
        shown = str(folder)
    results: dict = {
        "folder": shown,
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}",
        "load_before": os.getloadavg()[0],
        "inputs": study["inputs"],
        "zonal": {},
    }
    out = folder / "bench" / "national.json"
    out.parent.mkdir(exist_ok=True)
    if args.resume and out.exists():  # keep the steps an interrupted invocation measured
        earlier = json.loads(out.read_text(encoding="utf-8"))
        steps = ("zonal", "reference", "exact_vs_exactextract", "run", "profile")
        results |= {k: earlier[k] for k in steps if k in earlier}

    def save() -> None:
        out.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str), "utf-8")

    mode = ["--mode", args.mode] if args.mode else []
    schedulers = ["single"] + ([] if "distributed" in args.skip else ["distributed"])
    for scheduler in schedulers:
        if scheduler in results["zonal"]:
            continue
        print(f"zonal, {scheduler} ...", file=sys.stderr)
        results["zonal"][scheduler] = child(folder, "zonal", "--scheduler", scheduler, *mode)
        save()
    used = results["zonal"]["single"]["mode_used"]
    if "reference" not in results:
        print(f"reference count ({used}) ...", file=sys.stderr)
        results["reference"] = child(folder, "reference", "--mode", used)
        save()
    small = study["inputs"]["pixels"] <= args.exact_max_px
    if "exact" not in args.skip and small and "exact_vs_exactextract" not in results:
        print("exact mode vs exactextract ...", file=sys.stderr)
        results["exact_vs_exactextract"] = compare_exact(folder)
        save()
    if "run" not in args.skip and "run" not in results:
        print("carbon-zoning run ...", file=sys.stderr)
        results["run"] = whole_run(folder)
        save()
    elif "run" not in results:
        record = study["output_dir"] / "data" / "processed" / "run.json"
        if record.exists():  # an earlier run's stage timings, no wall time
            timings = json.loads(record.read_text(encoding="utf-8")).get("timings_s", {})
            results["run"] = {"timings_s": timings, "earlier_run": True}
    if args.profile and "profile" not in results:
        print("profiled zonal call ...", file=sys.stderr)
        listing = folder / "bench" / "profile_zonal.txt"
        results["profile"] = child(
            folder, "zonal", "--save-as", "profiled", "--profile-out", str(listing), *mode
        )
        save()
    # last: the checks load tables here, and a child's ru_maxrss would start from this
    # process's peak (Linux keeps the high-water mark across exec)
    results["checks"] = check_tables(folder, results)
    results["load_after"] = os.getloadavg()[0]
    save()
    section = markdown(results)
    if not args.no_results_md:
        update_results_md(section, study["inputs"]["tag"])
    print(section)


if __name__ == "__main__":
    main()
