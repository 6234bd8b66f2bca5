"""Benchmark: tabulating two years with transitions against tabulating them without.

    python benchmarks/transitions.py --pixels 8000 --units 90 --rounds 3

Two seeded uint8 land-use rasters on one grid (tiled DEFLATE GeoTIFF, 30 m): the later year
is the earlier one with ``--changed`` of its 40-pixel patches given another code (a realistic
change), and, as the worst case, a raster of another seed (almost every pixel changes). Each
configuration (``transitions=False`` / ``True``, centre and exact modes) is timed ``--rounds``
times in this process, alternating, after a warm-up call that compiles the numba kernels;
medians are reported with the ratio and the 1-minute load average. Writes
``results/transitions_<pixels>px_<units>u.json`` and prints a Markdown table for
``RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

import synthetic_inputs  # noqa: E402

from pipeline import zonal  # noqa: E402

PATCH_PX = 40


def changed_copy(source: Path, target: Path, share: float, seed: int) -> Path:
    """``source`` with ``share`` of its patches set to another code, written as ``target``."""
    rng = np.random.default_rng(seed)
    with rasterio.open(source) as src:
        profile, height, width = src.profile, src.height, src.width
        with rasterio.open(target, "w", **profile) as dst:
            for row in range(0, height, 1024):
                window = Window(0, row, width, min(1024, height - row))
                data = src.read(1, window=window)
                patches = rng.random((-(-data.shape[0] // PATCH_PX), -(-width // PATCH_PX)))
                mask = (patches < share).repeat(PATCH_PX, 0).repeat(PATCH_PX, 1)
                mask = mask[: data.shape[0], :width] & (data != profile["nodata"])
                codes = synthetic_inputs.RESDC_CODES
                data[mask] = codes[rng.integers(0, len(codes), int(mask.sum()))]
                dst.write(data, 1, window=window)
    return target


def timed(units, rasters, mode: str, transitions: bool) -> float:
    started = time.perf_counter()
    zonal.tabulate(units, rasters, mode=mode, transitions=transitions, progress=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pixels", type=int, default=8000)
    parser.add_argument("--units", type=int, default=90)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--changed", type=float, default=0.05)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--work", type=Path, default=HERE / "cache")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    transform = synthetic_inputs.grid_transform(args.pixels)
    first = args.work / f"transitions_{args.pixels}_2015.tif"
    if not first.is_file():
        synthetic_inputs.write_landuse(first, args.pixels, seed=0)
    realistic = args.work / f"transitions_{args.pixels}_2020_changed.tif"
    if not realistic.is_file():
        changed_copy(first, realistic, args.changed, seed=1)
    worst = args.work / f"transitions_{args.pixels}_2020_other.tif"
    if not worst.is_file():
        synthetic_inputs.write_landuse(worst, args.pixels, seed=5)
    units = synthetic_inputs.irregular_units(args.units, transform, args.pixels)
    tiny = synthetic_inputs.write_landuse(args.work / "transitions_tiny.tif", 64)
    tiny_units = synthetic_inputs.irregular_units(3, synthetic_inputs.grid_transform(64), 64)
    for mode in ("centre", "exact"):  # compile (or load) every kernel before timing
        zonal.tabulate(tiny_units, {2015: tiny, 2020: tiny}, mode=mode, progress=False)
    rows = []
    for label, later in (("5 % of patches changed", realistic), ("other seed", worst)):
        rasters = {2015: first, 2020: later}
        for mode in ("centre", "exact"):
            times: dict[bool, list[float]] = {False: [], True: []}
            load = os.getloadavg()[0]
            for _ in range(args.rounds):
                for transitions in (False, True):
                    times[transitions].append(timed(units, rasters, mode, transitions))
            without, with_ = (statistics.median(times[t]) for t in (False, True))
            rows.append(
                {
                    "later_year": label,
                    "mode": mode,
                    "without_s": round(without, 3),
                    "with_s": round(with_, 3),
                    "ratio": round(with_ / without, 3),
                    "load_1min_before": round(load, 2),
                    "runs_s": {str(k): [round(t, 3) for t in v] for k, v in times.items()},
                }
            )
            print(rows[-1], flush=True)
    report = {
        "pixels": args.pixels,
        "units": args.units,
        "rounds": args.rounds,
        "cpu_count": os.cpu_count(),
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"transitions_{args.pixels}px_{args.units}u.json"
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\n{args.pixels} × {args.pixels} px, {args.units} units, two years, medians of "
          f"{args.rounds} rounds:\n")  # fmt: skip
    print("| later year | mode | without (s) | with transitions (s) | ratio | load (1 min) |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        cells = (
            row["later_year"],
            row["mode"],
            f"{row['without_s']:.2f}",
            f"{row['with_s']:.2f}",
            f"{row['ratio']:.2f}",
            f"{row['load_1min_before']:.1f}",
        )
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
