"""What the spatial-autocorrelation stage costs: contiguity, imports, the tests, the LISA maps.

    python benchmarks/spatial.py                      # the 88 counties of whole_run's guizhou
    python benchmarks/spatial.py --rounds 5 --json out.json
    python benchmarks/spatial.py --units units.gpkg --balance carbon_balance.csv
    python benchmarks/spatial.py --base /work/base-394b026 --rounds 4   # A/B, alternating

Inputs: by default the ``units`` layer and ``carbon_balance.csv`` of a finished run of
``benchmarks/whole_run.py``'s ``guizhou`` case (88 real counties, SYNTHETIC rasters and
statistics; ``carbon-zoning run`` it once first). Each round, in a fresh process so the
imports count: the import of libpysal's weights and esda's Moran (``load_pysal``), the Queen
contiguity, the 12 tests (6 indicators × 2 years, 999 permutations) and, per year, the
``lisa_<year>`` figure drawn and saved as PNG (300 dpi) and SVG. Prints one line per round
and the medians; ``--json`` writes every round. ``--base`` times an earlier checkout's
``pipeline`` (put first on the path of its processes) in alternating rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUN = HERE / "cache" / "whole_run" / "inputs" / "guizhou" / "data" / "processed"


def one_round(units_path: Path, balance_path: Path, out: Path) -> dict[str, float]:
    """Seconds per part of the stage, in this (fresh) process."""
    import geopandas as gpd
    import pandas as pd

    from pipeline.model import spatial

    timings: dict[str, float] = {}
    start = time.perf_counter()
    spatial.load_pysal()
    timings["import_s"] = time.perf_counter() - start
    from pipeline.inputs.contiguity import queen_neighbours

    units = gpd.read_file(units_path, layer="units")
    balance = pd.read_csv(balance_path, encoding="utf-8-sig")
    start = time.perf_counter()
    neighbours = queen_neighbours(units)
    timings["contiguity_s"] = time.perf_counter() - start
    start = time.perf_counter()
    result = spatial.spatial_autocorrelation(balance, neighbours, seed=0, permutations=999)
    timings["tests_s"] = time.perf_counter() - start
    timings.update(_figures(units, result, out))
    return timings


def _figures(units, result, out: Path) -> dict[str, float]:
    import matplotlib as mpl

    from pipeline.outputs.fonts import cjk_rc
    from pipeline.outputs.maps import prepare_units
    from pipeline.outputs.render import save_figure
    from pipeline.outputs.spatial import lisa_figure

    frame = prepare_units(units)
    mpl.rcParams.update(cjk_rc())
    timings = {"draw_s": 0.0, "png_s": 0.0, "svg_s": 0.0}
    out.mkdir(parents=True, exist_ok=True)
    for year, rows in result.lisa.groupby("year", sort=True):
        moran = result.global_moran[result.global_moran["year"] == year]
        start = time.perf_counter()
        figure = lisa_figure(frame, rows, moran, title=f"88 counties {year}: LISA")
        timings["draw_s"] += time.perf_counter() - start
        start = time.perf_counter()
        save_figure(figure, out / f"lisa_{year}.png", "png")
        timings["png_s"] += time.perf_counter() - start
        start = time.perf_counter()
        save_figure(figure, out / f"lisa_{year}.svg", "svg")
        timings["svg_s"] += time.perf_counter() - start
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=Path, default=RUN / "carbon_balance.gpkg")
    parser.add_argument("--balance", type=Path, default=RUN / "carbon_balance.csv")
    parser.add_argument("--out", type=Path, default=HERE / "cache" / "spatial")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--base", type=Path, help="an earlier checkout, timed in alternation")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.base is not None:  # this process times the earlier checkout's code
            sys.path.insert(0, str(args.base.resolve()))
        print(json.dumps(one_round(args.units, args.balance, args.out)))
        return
    versions = {"current": None} if args.base is None else {"base": args.base, "current": None}
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in versions}
    for k in range(args.rounds):
        for name in list(versions) if k % 2 == 0 else list(versions)[::-1]:
            rounds[name].append(_timed_child(args, versions[name], name))
            line = " ".join(f"{key}={value:.2f}" for key, value in rounds[name][-1].items())
            print(k, name, line, flush=True)
    medians = {
        name: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        for name, runs in rounds.items()
    }
    for name, values in medians.items():
        print("median", name, " ".join(f"{key}={value:.2f}" for key, value in values.items()))
    if args.json:
        args.json.write_text(json.dumps({"rounds": rounds, "median": medians}, indent=1))


def _timed_child(args: argparse.Namespace, base: Path | None, name: str) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", "--units", str(args.units),
               "--balance", str(args.balance), "--out", str(args.out / name)]  # fmt: skip
    if base is not None:
        command += ["--base", str(base)]
    load = os.getloadavg()[0]
    start = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    timings = json.loads(done.stdout.strip().splitlines()[-1])
    timings["process_s"] = time.perf_counter() - start
    timings["load_1min"] = load
    return timings


if __name__ == "__main__":
    main()
