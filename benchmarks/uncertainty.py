"""What [uncertainty] costs: the draws alone at national size, and a province run with and
without it.

    .venv/bin/python benchmarks/uncertainty.py [--units 3000] [--draws 1000] [--repeats 3]
        [--work benchmarks/cache/uncertainty] [--out benchmarks/results/uncertainty.json]

1. ``pipeline.model.uncertainty.zone_uncertainty`` on ``--units`` synthetic units × two years
   with ``--draws`` draws of every coefficient kind (sinks, respiration, energy factor);
2. the synthetic 88-county, two-year province study (``benchmarks/synthetic_inputs.py``, area
   table, no maps) run and written with and without ``[uncertainty]`` (1000 draws), and the
   zone-stability map drawn on its own.

Medians of ``--repeats`` runs; everything is SYNTHETIC and seeded. The studies are written
under ``--work``; the figures are printed (JSON) and written to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.synthetic_inputs import province_study
from pipeline import run_study, write_outputs
from pipeline.model import uncertainty
from pipeline.model.constants import (
    DEFAULT_EEC_BREAKS,
    DEFAULT_SEC_BREAKS,
    DEFAULT_SINK_T_PER_HA,
    DEFAULT_ZONE_MATRIX,
)

UNCERTAINTY = """
[uncertainty]
forest = [3.0, 4.1]
cropland = { mean = 1.16, sd = 0.3 }
grassland = [0.0, 0.05]
water = [2.0, 3.0]
respiration = [2900, 3700]
energy_factor = { mean = 2.66, sd = 0.1 }
draws = 1000
seed = 1
"""
DISTRIBUTIONS = {
    "forest": ("uniform", 3.0, 4.1),
    "cropland": ("normal", 1.16, 0.3),
    "grassland": ("uniform", 0.0, 0.05),
    "water": ("uniform", 2.0, 3.0),
    "respiration": ("uniform", 2900.0, 3700.0),
    "energy_factor": ("normal", 2.66, 0.1),
}
CLASSES = ("cropland", "forest", "grassland", "water", "built_up", "unused")


def synthetic_tables(n_units: int, years: tuple[int, ...] = (2015, 2020)):
    """Statistics and classified areas of ``n_units`` SYNTHETIC units (no geometry)."""
    rng = np.random.default_rng(0)
    units = [f"U{i:05d}" for i in range(n_units)]
    stats = pd.DataFrame(
        [{"unit": u, "year": y, "population_10k": rng.uniform(10, 90),
          "gdp_100m_yuan": rng.uniform(40, 600), "energy_tce": rng.uniform(2e5, 3e6)}
         for y in years for u in units]
    )  # fmt: skip
    rows = []
    for year in years:
        shares = rng.dirichlet([3, 5, 2, 0.5, 0.5, 0.3], size=n_units) * 1e5
        for k, land_class in enumerate(CLASSES):
            rows.append(pd.DataFrame({"unit": units, "year": year, "code": 10 * (k + 1),
                                      "class": land_class, "area_ha": shares[:, k]}))  # fmt: skip
    return stats, pd.concat(rows, ignore_index=True)


def time_model(n_units: int, draws: int, repeats: int) -> dict[str, float]:
    """Seconds of ``zone_uncertainty`` alone (median, min) at ``n_units`` × 2 years."""
    stats, areas = synthetic_tables(n_units)
    rule = {"eec_breaks": DEFAULT_EEC_BREAKS, "sec_breaks": DEFAULT_SEC_BREAKS,
            "matrix": DEFAULT_ZONE_MATRIX}  # fmt: skip
    zones = pd.DataFrame({"unit": sorted(stats["unit"].unique()), "zone": "budget_balance"})
    base = uncertainty.CoefficientSet(3285.0, 2.66, dict(DEFAULT_SINK_T_PER_HA))
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        uncertainty.zone_uncertainty(
            stats, areas, base=base, sink_t_per_ha_by_code={}, distributions=DISTRIBUTIONS,
            draws=draws, seed=1, eec_definition="gdp_over_emission", basis="mean",
            rule=rule, zones=zones,
        )  # fmt: skip
        seconds.append(time.perf_counter() - start)
    return {"median_s": statistics.median(seconds), "min_s": min(seconds)}


def time_province(root: Path, repeats: int) -> dict[str, float]:
    """The 88-county two-year study, run and written, with and without [uncertainty]."""
    plain = province_study(root / "plain", 88, maps=False)
    drawn = province_study(root / "drawn", 88, maps=False)
    drawn.write_text(drawn.read_text(encoding="utf-8") + UNCERTAINTY, encoding="utf-8")
    result: dict[str, list[float]] = {"plain_s": [], "drawn_s": [], "stage_s": []}
    for _ in range(repeats):
        for key, study in (("plain_s", plain), ("drawn_s", drawn)):
            start = time.perf_counter()
            results = run_study(study)
            write_outputs(results)
            result[key].append(time.perf_counter() - start)
            if key == "drawn_s":
                result["stage_s"].append(results.timer.seconds["uncertainty"])
    out = {key: statistics.median(values) for key, values in result.items()}
    out["added_s"] = out["drawn_s"] - out["plain_s"]
    out["map_s"] = time_map(drawn)
    return out


def time_map(study: Path) -> float:
    """Seconds to draw and save the zone-stability map (300 dpi PNG) of ``study``."""
    import matplotlib as mpl

    from pipeline.api import read_units
    from pipeline.outputs import render
    from pipeline.outputs import uncertainty as stability
    from pipeline.outputs.fonts import cjk_rc

    results = run_study(study)
    units = read_units(results.study)
    start = time.perf_counter()
    with mpl.rc_context(cjk_rc()):
        for stem, rows in stability.stability_rows(results.uncertainty, "mean"):
            ax = stability.plot_zone_stability(units, rows, title=results.study.name)
            render.save_figure(ax.figure, study.parent / f"{stem}.png", "png")
    return time.perf_counter() - start


def main() -> None:
    """Measure and print the figures (JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=3000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("benchmarks/cache/uncertainty"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/uncertainty.json"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    figures = {
        "model": {"units": args.units, "years": 2, "draws": args.draws,
                  **time_model(args.units, args.draws, args.repeats)},
        "province_88": time_province(args.work, args.repeats),
    }  # fmt: skip
    text = json.dumps(figures, indent=2)
    args.out.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
