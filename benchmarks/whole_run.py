"""Whole-process timings of ``carbon-zoning run``, this version against an earlier one.

    python benchmarks/whole_run.py --base /work/base-cf7bbd4            # 5 rounds per case
    python benchmarks/whole_run.py --base /work/base-cf7bbd4 --rounds 3 --cases demo

``--base`` is a checkout of the earlier version with its own ``.venv`` (``make
.venv/.installed`` there). Both versions run the same study files on the same inputs, each
``carbon-zoning run --force`` in a fresh process (the land-use areas recomputed every time),
rounds alternating between the versions (A, B, A, B, …) so a change in the machine's load
touches both alike. Per run: wall time from start to exit, and the process's peak RSS
(``os.wait4``). Runs get this process's environment less ``PYTHONDONTWRITEBYTECODE``, so
both versions use compiled bytecode, as an installation does. Cases:

* ``demo``: the bundled 5-unit Guiyang study (its synthetic rasters, 2015 and 2020), maps on;
* ``guizhou``: the 88 real counties of 贵州省 (``carbon-zoning boundaries 贵州省``), two
  years of SYNTHETIC 1 km rasters and SYNTHETIC statistics, maps on;
* ``tiny``: the demo's 5 units on a SYNTHETIC 40 × 40 px raster, one year, maps off.

Inputs go to ``benchmarks/cache/whole_run/``; each version writes its outputs under its
own folder there. Writes ``benchmarks/results/whole_run_<cases>.json`` and the section
``whole_run:<cases>`` of ``benchmarks/RESULTS.md`` (``--no-results-md`` to skip).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CACHE = HERE / "cache" / "whole_run"
RESULTS_MD = HERE / "RESULTS.md"
RESULTS_JSON = HERE / "results" / "whole_run_{cases}.json"
GOALS = {"demo": 4.0, "guizhou": 5.0, "tiny": 3.0}  # speed-up over the base version
PEAK_MB_GOAL = {"guizhou": 600.0}
CASE_TEXT = {
    "demo": "5-unit demo `run` (2 years, maps on)",
    "guizhou": "88 counties of 贵州省, 2 years, 1 km rasters (maps on)",
    "tiny": "5 units, 40 × 40 px raster, 1 year, maps off",
}


# --------------------------------------------------------------------------- inputs


def _synthetic():
    sys.path.insert(0, str(HERE))
    import synthetic_inputs

    return synthetic_inputs


def demo_study(root: Path, *, maps: bool = True, raster: Path | None = None) -> Path:
    """The demo study with absolute input paths, writing into ``root``."""
    raw = REPO / "data" / "raw"
    for year in (2015, 2020):
        if not (raw / f"landuse_{year}.tif").exists():
            subprocess.run([str(REPO / ".venv" / "bin" / "carbon-zoning"), "demo", "--out-dir",
                            str(raw)], check=True, capture_output=True)  # fmt: skip
            break
    if raster is None:
        rasters = ", ".join(
            f'{y} = "{(raw / f"landuse_{y}.tif").as_posix()}"' for y in (2015, 2020)
        )
    else:
        rasters = f'2020 = "{raster.as_posix()}"'
    text = f"""\
[study]
name = "贵阳市碳平衡分区"
output_dir = "."

[boundaries]
path = "{(raw / "guiyang_counties.gpkg").as_posix()}"
layer = "counties"
name_field = "name"
unit_field = "unit"

[landuse]
scheme = "resdc"
rasters = {{ {rasters} }}

[statistics]
path = "{(raw / "statistics.csv").as_posix()}"

[output]
maps = {"true" if maps else "false"}
"""
    root.mkdir(parents=True, exist_ok=True)
    path = root / "study.toml"
    path.write_text(text, encoding="utf-8")
    return path


def tiny_raster(path: Path) -> Path:
    """A SYNTHETIC 40 × 40 px RESDC raster covering the demo's units (codes of both versions'
    scheme: 99 left out)."""
    import geopandas as gpd
    import rasterio

    synthetic = _synthetic()
    if not path.exists():
        units = gpd.read_file(REPO / "data" / "raw" / "guiyang_counties.gpkg", layer="counties")
        transform, width, height = synthetic.covering_grid(units, 40)
        codes = synthetic.code_block(height, width, 0, seed=0, patch=4)
        codes[codes == 99] = 21
        path.parent.mkdir(parents=True, exist_ok=True)
        profile = {"driver": "GTiff", "width": width, "height": height, "count": 1,
                   "dtype": "uint8", "crs": synthetic.ALBERS_KRASOVSKY,
                   "transform": transform, "nodata": 255}  # fmt: skip
        with rasterio.open(path, "w", **profile) as dataset:
            dataset.write(codes, 1)
    return path


def guizhou_study(root: Path) -> Path:
    """88 real counties of 贵州省 with SYNTHETIC 1 km rasters and statistics (cached)."""
    import geopandas as gpd

    study = root / "study.toml"
    if study.exists():
        return study
    boundaries = CACHE / "boundaries_贵州省.gpkg"
    if not boundaries.exists():
        command = [str(REPO / ".venv" / "bin" / "carbon-zoning"), "boundaries", "贵州省",
                   "--out", str(boundaries)]  # fmt: skip
        subprocess.run(command, check=True, capture_output=True)
    counties = gpd.read_file(boundaries, layer="counties")
    synthetic = _synthetic()
    return synthetic.province_study(root, 0, counties=counties, rasters=True, pixels=600)


def prepare(case: str) -> Path:
    """The study file of ``case`` (inputs generated once under ``benchmarks/cache``)."""
    folder = CACHE / "inputs" / case
    if case == "demo":
        return demo_study(folder)
    if case == "tiny":
        return demo_study(folder, maps=False, raster=tiny_raster(CACHE / "inputs" / "tiny.tif"))
    return guizhou_study(folder)


def study_copy(study: Path, version: str) -> Path:
    """``study`` copied beside its inputs into a folder of ``version`` (its own outputs)."""
    target = CACHE / "runs" / version / study.parent.name
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(study.parent, target, ignore=shutil.ignore_patterns("data", "maps"))
    return target / "study.toml"


# --------------------------------------------------------------------------- runs


def run_environment() -> dict[str, str]:
    """This process's environment, less ``PYTHONDONTWRITEBYTECODE``: with it set (some
    sandboxes and containers set it) every run of either version compiles the project's
    modules from source again, which a user's installation does once."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed_run(executable: Path, study: Path) -> dict:
    """Wall time (s) and peak RSS (MB) of ``carbon-zoning run --force study``."""
    command = [str(executable), "run", str(study), "--force"]
    load = os.getloadavg()[0]
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=run_environment()
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall_s = time.perf_counter() - start
    error = process.stderr.read().decode("utf-8", "replace") if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{error[-3000:]}")
    stages = {}
    manifest = study.parent / "data" / "processed" / "run.json"
    if manifest.exists():
        stages = json.loads(manifest.read_text(encoding="utf-8")).get("timings_s", {})
    return {"wall_s": wall_s, "peak_mb": usage.ru_maxrss / 1024.0, "load_1min": load,
            "stages_s": stages}  # fmt: skip


def measure(cases: list[str], versions: dict[str, Path], rounds: int) -> dict:
    """Alternating rounds of every case on every version (one warm-up run each first)."""
    results: dict = {}
    for case in cases:
        study = prepare(case)
        copies = {name: study_copy(study, name) for name in versions}
        for name, root in versions.items():  # warm-up: caches of numba, fonts, the OS
            timed_run(root / ".venv" / "bin" / "carbon-zoning", copies[name])
        runs: dict[str, list[dict]] = {name: [] for name in versions}
        for k in range(rounds):
            order = list(versions) if k % 2 == 0 else list(versions)[::-1]
            for name in order:
                runs[name].append(timed_run(versions[name] / ".venv" / "bin" / "carbon-zoning",
                                            copies[name]))  # fmt: skip
                print(case, name, f"{runs[name][-1]['wall_s']:.2f} s", flush=True)
        results[case] = runs
    return results


def summary(results: dict) -> dict:
    """Medians per case and version, and the speed-up of ``current`` over ``base``."""
    rows = {}
    for case, runs in results.items():
        row = {}
        for name, values in runs.items():
            row[name] = {
                "median_s": statistics.median(r["wall_s"] for r in values),
                "best_s": min(r["wall_s"] for r in values),
                "peak_mb": max(r["peak_mb"] for r in values),
                "maps_s": statistics.median(r["stages_s"].get("maps", 0.0) for r in values),
            }
        row["speedup"] = row["base"]["median_s"] / row["current"]["median_s"]
        row["load"] = [r["load_1min"] for v in runs.values() for r in v]
        rows[case] = row
    return rows


def markdown(rows: dict, meta: dict) -> str:
    """The ``whole_run`` section of RESULTS.md."""
    lines = [
        "## Whole runs: this version against commit " + meta["base_commit"],
        "",
        f"`{meta['command']}` — {meta['when']}, 2 cores, {meta['machine']}, Python "
        f"{meta['python']}; {meta['rounds']} rounds per case and version after one warm-up "
        "run each, alternating (A B, B A, …); each round `carbon-zoning run STUDY --force` in "
        "a fresh process (land-use areas recomputed; bytecode written and reused by both "
        "versions: `PYTHONDONTWRITEBYTECODE` unset); wall time start to exit, medians; peak = "
        "the largest max RSS of the run's process and the figure workers it forks (`os.wait4`; "
        "workers share the parent's pages copy-on-write, each counted in full). `uptime` before: "
        + meta["uptime_before"]
        + "; after: "
        + meta["uptime_after"]
        + ".",
        "",
        "| case | base median s | this median s | speed-up | goal | base peak MB | this peak MB "
        "| base maps s | this maps s | 1-min load during |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for case, row in rows.items():
        base, current = row["base"], row["current"]
        met = "met" if row["speedup"] >= GOALS[case] else "**missed**"
        lines.append(
            f"| {CASE_TEXT[case]} | {base['median_s']:.2f} | {current['median_s']:.2f} | "
            f"{row['speedup']:.1f} × | ≥ {GOALS[case]:g} × ({met}) | {base['peak_mb']:.0f} | "
            f"{current['peak_mb']:.0f} | {base['maps_s']:.2f} | {current['maps_s']:.2f} | "
            f"{min(row['load']):.1f}–{max(row['load']):.1f} |"
        )
    for case, limit in PEAK_MB_GOAL.items():
        if case in rows:
            peak = rows[case]["current"]["peak_mb"]
            verdict = "met" if peak < limit else "**missed**"
            lines.append("")
            lines.append(f"Peak memory of this version, {CASE_TEXT[case]}: {peak:.0f} MB "
                         f"(goal < {limit:g} MB: {verdict}).")  # fmt: skip
    lines += [
        "",
        "Reproduce: `git worktree add --detach /work/base-cf7bbd4 cf7bbd4 && make -C "
        "/work/base-cf7bbd4 .venv/.installed`, then `make .venv/.installed data/raw/"
        "landuse_2015.tif` here and the command above. Inputs of `guizhou` and `tiny` are "
        "SYNTHETIC rasters and statistics (seeded; `benchmarks/synthetic_inputs.py`).",
    ]
    return "\n".join(lines)


def write_section(text: str, tag: str = "whole_run") -> None:
    """Replace (or append) the section between the ``tag`` markers of RESULTS.md."""
    sys.path.insert(0, str(HERE))
    from zonal import update_results_md

    begin, end = f"<!-- {tag}:begin -->", f"<!-- {tag}:end -->"
    update_results_md(RESULTS_MD, f"{begin}\n{text}\n{end}", begin, end)


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=Path, required=True, help="checkout of the base version")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cases", nargs="+", default=list(GOALS), choices=list(GOALS))
    parser.add_argument("--no-results-md", action="store_true")
    args = parser.parse_args()
    versions = {"base": args.base.resolve(), "current": REPO}
    base_commit = subprocess.run(["git", "-C", str(args.base), "rev-parse", "--short", "HEAD"],
                                 capture_output=True, text=True).stdout.strip()  # fmt: skip
    uptime_before = _uptime()
    results = measure(args.cases, versions, args.rounds)
    meta = {
        "base_commit": base_commit,
        "command": "python benchmarks/whole_run.py --base /work/base-cf7bbd4"
        + (f" --rounds {args.rounds}" if args.rounds != 5 else "")
        + (f" --cases {' '.join(args.cases)}" if args.cases != list(GOALS) else ""),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "rounds": args.rounds,
        "uptime_before": uptime_before,
        "uptime_after": _uptime(),
    }
    rows = summary(results)
    results_json = Path(str(RESULTS_JSON).format(cases="_".join(args.cases)))
    results_json.parent.mkdir(parents=True, exist_ok=True)
    results_json.write_text(json.dumps({"meta": meta, "runs": results, "summary": rows},
                                       ensure_ascii=False, indent=1), encoding="utf-8")  # fmt: skip
    text = markdown(rows, meta)
    print(text)
    if not args.no_results_md:
        write_section(text, "whole_run:" + "_".join(args.cases))


if __name__ == "__main__":
    main()
