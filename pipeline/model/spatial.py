"""Spatial autocorrelation of the balance's indicators: global Moran's I and LISA clusters.

The statistics are esda's (``esda.Moran``, ``esda.Moran_Local``) on libpysal weights; this
module only chooses what they are computed on and names the results:

- weights: the units' Queen contiguity (built from the geometry at the edge, handed in as a
  plain ``unit -> neighbours`` mapping), row-standardised; units without a neighbour
  (islands) are left out of every test and named in a note;
- one global and one local test per indicator and year, each with ``permutations``
  conditional permutations seeded with the study's seed (so any one test repeats alone);
- a unit's LISA cluster is its Moran scatter-plot quadrant where the local pseudo p-value is
  below :data:`SIGNIFICANCE`, else ``ns`` (not significant);
- fewer than :data:`MIN_UNITS` units with neighbours: nothing is computed, a note says why.

Numbers in, data frames out: no I/O, no settings.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import importlib.util
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.errors import PipelineError

if TYPE_CHECKING:
    from esda.moran import Moran, Moran_Local
    from libpysal.weights import W

MIN_UNITS = 10
"""Fewest units with a neighbour for which Moran's I and LISA are computed: below it a
permutation test has too few distinct arrangements and a LISA map too few neighbours to mean
anything (10 is the usual floor of the spatial-statistics literature's rules of thumb)."""
SIGNIFICANCE = 0.05  # LISA: pseudo p-value below which a unit's quadrant is a cluster

# The indicators tested: (id used in the tables, column of the balance table).
SPATIAL_INDICATORS: tuple[tuple[str, str], ...] = (
    ("emission_intensity", "emission_intensity_t_per_ha"),
    ("sink_intensity", "sink_intensity_t_per_ha"),
    ("balance", "balance_t"),
    ("compensation_rate", "compensation_rate"),
    ("eec", "eec"),
    ("sec", "sec"),
)
# esda's quadrant numbers (Moran_Local.q) -> cluster ids.
QUADRANTS: dict[int, str] = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}
NOT_SIGNIFICANT = "ns"
ISLAND = "island"  # a unit without neighbours: no local test
CLUSTERS: tuple[str, ...] = ("HH", "LL", "LH", "HL", NOT_SIGNIFICANT, ISLAND)
CLUSTER_NAMES_ZH: dict[str, str] = {
    "HH": "高-高聚集",
    "LL": "低-低聚集",
    "LH": "低-高异常",
    "HL": "高-低异常",
    NOT_SIGNIFICANT: "不显著",
    ISLAND: "无相邻单元",
}
CLUSTER_NAMES_EN: dict[str, str] = {
    "HH": "High-High cluster",
    "LL": "Low-Low cluster",
    "LH": "Low-High outlier",
    "HL": "High-Low outlier",
    NOT_SIGNIFICANT: "Not significant",
    ISLAND: "No neighbours",
}
GLOBAL_COLUMNS = (
    "indicator",
    "year",
    "column",
    "moran_i",
    "expected_i",
    "z",
    "p_sim",
    "p_norm",
    "permutations",
    "seed",
    "units",
    "islands",
    "significant",
)
LISA_COLUMNS = (
    "unit",
    "year",
    "indicator",
    "value",
    "local_i",
    "p_sim",
    "quadrant",
    "cluster_zh",
    "cluster_en",
)


@dataclass(frozen=True)
class SpatialResult:
    """Global Moran's I per indicator and year, the LISA cluster per unit, and the notes.

    ``global_moran`` and ``lisa`` are empty (with their columns) when nothing was computed;
    ``notes`` then says why.
    """

    global_moran: pd.DataFrame
    lisa: pd.DataFrame
    notes: tuple[str, ...] = ()

    @property
    def computed(self) -> bool:
        """Whether any test was computed."""
        return not self.global_moran.empty


def load_pysal() -> tuple[ModuleType, ModuleType]:
    """``libpysal.weights`` and ``esda.moran``, imported without numba, without scikit-learn
    and without the packages' ``__init__`` (see :func:`load_pysal_modules`)."""
    weights, moran = load_pysal_modules("libpysal.weights", "esda.moran")
    return weights, moran


# Optional accelerators the modules above would import, left out: with numba, esda's
# permutation engine compiles on its first call in every process (about 30 s of CPU, a
# minute on a busy machine) and caches nothing, where plain numpy takes under a second for a
# province; scikit-learn (about 0.4 s to import) only libpysal's graphs, not loaded here.
_LEFT_OUT = ("numba", "sklearn")
# libpysal's own ``__init__`` order (its subpackages import one another), less the example
# datasets: weights need the geometry and file tools loaded first.
_LIBPYSAL_FIRST = ("libpysal.cg", "libpysal.io")


def load_pysal_modules(*names: str) -> list[ModuleType]:
    """The submodules ``names`` of esda and libpysal, imported without :data:`_LEFT_OUT` and
    without their packages' ``__init__``.

    ``import esda`` loads every esda module (scikit-learn among them) and ``import
    libpysal`` its example datasets and ``libpysal.graph`` (scikit-learn again); only the
    named submodules and what they import are loaded (bare package objects stand in for the
    packages meanwhile). A later ``import esda`` or ``import libpysal`` still works and
    reuses the loaded modules.
    """
    missing = [name for name in names if name not in sys.modules]
    if not missing:
        return [sys.modules[name] for name in names]
    packages = sorted({name.split(".")[0] for name in missing} | {"libpysal"})
    stubs = [package for package in packages if package not in sys.modules]
    left_out = {name: sys.modules.get(name) for name in _LEFT_OUT}
    try:
        for package in stubs:  # a bare package object: the submodules' imports resolve
            sys.modules[package] = _bare_package(package)
        for name in _LEFT_OUT:  # import fails (even if loaded): plain numpy, no kernels
            sys.modules[name] = None  # type: ignore[assignment]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name in _LIBPYSAL_FIRST if "libpysal" in stubs else ():
                importlib.import_module(name)
            modules = [importlib.import_module(name) for name in names]
    finally:
        for name, module in left_out.items():  # put back as they were
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
        for package in stubs:  # the real package (its __init__) loads on a later import
            sys.modules.pop(package, None)
    return modules


def _bare_package(name: str) -> ModuleType:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise PipelineError(f"spatial statistics need the {name!r} package (pip install {name})")
    package = importlib.util.module_from_spec(
        importlib.machinery.ModuleSpec(name, None, is_package=True)
    )
    package.__path__ = list(spec.submodule_search_locations)
    return package


def empty_result(notes: Sequence[str] = ()) -> SpatialResult:
    """A result without tests (spatial statistics skipped), carrying ``notes``."""
    return SpatialResult(
        pd.DataFrame(columns=list(GLOBAL_COLUMNS)),
        pd.DataFrame(columns=list(LISA_COLUMNS)),
        tuple(notes),
    )


def islands(neighbours: Mapping[str, Sequence[str]]) -> list[str]:
    """The units without a neighbour, in the mapping's order."""
    return [unit for unit, near in neighbours.items() if not near]


def contiguity_weights(neighbours: Mapping[str, Sequence[str]]) -> W:
    """Row-standardised weights of the units that have neighbours (islands left out).

    ``neighbours`` maps every unit to the units it touches (symmetric, as Queen contiguity
    is); the weights' ``id_order`` follows the mapping's order.
    """
    connected = {unit: list(near) for unit, near in neighbours.items() if near}
    weights = load_pysal()[0].W(connected, id_order=list(connected), silence_warnings=True)
    weights.transform = "r"
    return weights


def skip_note(units: int, minimum: int = MIN_UNITS, what: str = "units with neighbours") -> str:
    """Why the spatial statistics were not computed for ``units`` units."""
    return (
        f"note: spatial autocorrelation (Moran's I, LISA) skipped: {units} {what}, fewer "
        f"than the minimum of {minimum} (a permutation test on so few units means nothing)"
    )


def islands_note(names: Sequence[str]) -> str:
    """The note naming the units left out of the spatial tests for want of a neighbour."""
    listed = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
    return (
        f"note: spatial autocorrelation: {len(names)} unit(s) without neighbours (no shared "
        f"border or corner) left out of Moran's I and LISA: {listed}"
    )


def spatial_autocorrelation(
    balance: pd.DataFrame,
    neighbours: Mapping[str, Sequence[str]],
    *,
    seed: int,
    permutations: int = 999,
    minimum_units: int = MIN_UNITS,
) -> SpatialResult:
    """Global Moran's I and LISA of every indicator and year of ``balance``.

    ``balance`` has one row per unit and year with the columns of
    :data:`SPATIAL_INDICATORS`; ``neighbours`` maps each unit to its Queen neighbours.
    Below ``minimum_units`` units with neighbours nothing is computed (see :func:`skip_note`).
    """
    alone = islands(neighbours)
    notes = [islands_note(alone)] if alone else []
    connected = len(neighbours) - len(alone)
    if connected < minimum_units:
        return empty_result([*notes, skip_note(connected, minimum_units)])
    weights = contiguity_weights(neighbours)
    global_rows, lisa_frames = [], []
    for year, rows in balance.groupby("year", sort=True):
        values = rows.set_index("unit")
        for indicator, column in SPATIAL_INDICATORS:
            y = values[column].reindex(weights.id_order).to_numpy(dtype=float)
            if not np.isfinite(y).all() or np.ptp(y) == 0:
                notes.append(_untestable_note(indicator, int(year), y))
                continue
            moran, local = _tests(y, weights, seed=seed, permutations=permutations)
            global_rows.append(
                _global_row(indicator, column, int(year), moran, seed, len(y), len(alone))
            )
            lisa_frames.append(_lisa_frame(indicator, int(year), weights.id_order, y, local))
            lisa_frames.append(_island_frame(indicator, int(year), alone, values[column]))
    if not global_rows:
        return empty_result(notes)
    lisa = pd.concat([f for f in lisa_frames if not f.empty], ignore_index=True)
    return SpatialResult(
        pd.DataFrame(global_rows, columns=list(GLOBAL_COLUMNS)),
        lisa[list(LISA_COLUMNS)],
        tuple(notes),
    )


def _tests(y: np.ndarray, weights: W, *, seed: int, permutations: int) -> tuple[Moran, Moran_Local]:
    """esda's global and local Moran of ``y``, both seeded with ``seed`` (numpy's global
    generator is put back as it was)."""
    esda_moran = load_pysal()[1]
    with _seeded(seed), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        moran = esda_moran.Moran(y, weights, transformation="r", permutations=permutations)
    with _seeded(seed), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", DeprecationWarning)  # esda's coming two-sided default
        local = esda_moran.Moran_Local(
            y, weights, transformation="r", permutations=permutations, seed=seed,
            keep_simulations=False, n_jobs=1,
        )  # fmt: skip
    return moran, local


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """numpy's global generator seeded for the body (esda's global Moran draws from it), and
    put back as it was afterwards."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _global_row(
    indicator: str, column: str, year: int, moran: Moran, seed: int, units: int, alone: int
) -> dict[str, object]:
    return {
        "indicator": indicator,
        "year": year,
        "column": column,
        "moran_i": float(moran.I),
        "expected_i": float(moran.EI),
        "z": float(moran.z_sim),
        "p_sim": float(moran.p_sim),
        "p_norm": float(moran.p_norm),
        "permutations": int(moran.permutations),
        "seed": seed,
        "units": units,
        "islands": alone,
        "significant": bool(moran.p_sim < SIGNIFICANCE),
    }


def cluster_labels(quadrant: np.ndarray, p_sim: np.ndarray) -> np.ndarray:
    """``HH``/``LH``/``LL``/``HL`` (esda's quadrants 1-4) where ``p_sim`` < 0.05, else ``ns``."""
    names = np.array([QUADRANTS[int(q)] for q in quadrant], dtype=object)
    return np.where(np.asarray(p_sim) < SIGNIFICANCE, names, NOT_SIGNIFICANT)


def _lisa_frame(
    indicator: str, year: int, units: Sequence[str], y: np.ndarray, local: Moran_Local
) -> pd.DataFrame:
    clusters = cluster_labels(local.q, local.p_sim)
    return pd.DataFrame(
        {
            "unit": list(units),
            "year": year,
            "indicator": indicator,
            "value": y,
            "local_i": np.asarray(local.Is, dtype=float),
            "p_sim": np.asarray(local.p_sim, dtype=float),
            "quadrant": clusters,
            "cluster_zh": [CLUSTER_NAMES_ZH[c] for c in clusters],
            "cluster_en": [CLUSTER_NAMES_EN[c] for c in clusters],
        }
    )


def _island_frame(
    indicator: str, year: int, alone: Sequence[str], values: pd.Series
) -> pd.DataFrame:
    """Rows for the units without neighbours: no local statistic, cluster ``island``."""
    return pd.DataFrame(
        {
            "unit": list(alone),
            "year": year,
            "indicator": indicator,
            "value": values.reindex(list(alone)).to_numpy(dtype=float),
            "local_i": np.nan,
            "p_sim": np.nan,
            "quadrant": ISLAND,
            "cluster_zh": CLUSTER_NAMES_ZH[ISLAND],
            "cluster_en": CLUSTER_NAMES_EN[ISLAND],
        }
    )


def _untestable_note(indicator: str, year: int, y: np.ndarray) -> str:
    why = "values missing or not finite" if not np.isfinite(y).all() else "every unit equal"
    return f"note: spatial autocorrelation of {indicator} {year} not computed: {why}"
