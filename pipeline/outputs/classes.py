"""Map classes and palettes: values -> class bins -> colours (pure code, no drawing).

Two entry points:

* :func:`study_classes` is what maps and the GeoPackage's QGIS styles use: per indicator one
  set of classes shared by every year of the study, so maps of different years compare.
  Classes are computed on the pooled values of all years, in the map's unit (万t CO₂ for
  totals), as contiguous left-closed ranges ``[edge_i, edge_i+1)`` (the last one closed) whose
  inner breaks are round numbers between neighbouring classes. EEC and SEC default to the
  zoning breaks; ``[maps.breaks]`` sets any indicator's breaks. A centred indicator (balance
  around 0, EEC/SEC around 1) gets a diverging ramp only when its values straddle the centre
  (the centre is then a break); otherwise one side of that ramp.
* :func:`classify_values` classes one set of values on its own (kept for callers that class a
  single layer).

With few units the number of classes is capped at the number of distinct values, so no class
is empty. mapclassify is imported only when a data-driven scheme is actually needed.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.machinery
import importlib.util
import itertools
import math
import sys
import warnings
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import pandas as pd

from pipeline.errors import InputError
from pipeline.outputs.labels import INDICATORS, Indicator
from pipeline.outputs.palettes import colour_at
from pipeline.study.settings import MAP_CLASSIFICATIONS, MapSettings, ZoningSettings

# The names of ``[maps] classification``; these three choose their own number of classes.
CLASSIFICATION_SCHEMES: tuple[str, ...] = MAP_CLASSIFICATIONS
SCHEMES_WITHOUT_K: tuple[str, ...] = ("HeadTailBreaks", "StdMean", "BoxPlot")

ZONE_COLOURS: dict[str, str] = {
    "intensity_control": "#d6604d",
    "budget_balance": "#f2c14e",
    "sink_function": "#4d9a4f",
    "low_carbon_optimisation": "#4a7fb5",
}
LAND_CLASS_COLOURS: dict[str, str] = {
    "cropland": "#e9c46a",
    "forest": "#2d6a4f",
    "grassland": "#95c561",
    "water": "#4ea8de",
    "built_up": "#c44536",
    "unused": "#b8b8b8",
    "other": "#8d6e63",
}
# Seed for the random starts of NaturalBreaks/JenksCaspall, so reruns draw the same map.
CLASSIFICATION_SEED = 20230215


@dataclass(frozen=True)
class Classes:
    """Classes of one column: upper bounds, the class of each value, one colour per class."""

    lower: tuple[float, ...]
    upper: tuple[float, ...]
    class_of_value: tuple[int, ...]
    colours: tuple[str, ...]

    @property
    def count(self) -> int:
        """Number of classes."""
        return len(self.upper)

    def member_ranges(self, values: Sequence[float]) -> list[tuple[float, float] | None]:
        """(smallest, largest) of the values in each class; ``None`` for an empty class."""
        y = np.asarray(values, dtype=float)
        members = np.asarray(self.class_of_value)
        ranges: list[tuple[float, float] | None] = []
        for index in range(self.count):
            inside = y[members == index]
            ranges.append((float(inside.min()), float(inside.max())) if len(inside) else None)
        return ranges

    def value_colours(self) -> list[str]:
        """The colour of each classified value, in input order."""
        return [self.colours[index] for index in self.class_of_value]


def check_scheme(scheme: str, source: str = "[maps] classification") -> str:
    """Return ``scheme`` if it is a known classification, else raise listing the valid ones."""
    if scheme not in CLASSIFICATION_SCHEMES:
        valid = ", ".join(CLASSIFICATION_SCHEMES)
        raise InputError(source, f"unknown classification {scheme!r} (valid: {valid})")
    return scheme


def class_count(values: Sequence[float], requested: int) -> int:
    """``requested`` capped at the number of distinct finite values (at least 1).

    Values closer than 1/1000 of the range count as one, so no two classes show the same
    rounded value in a legend.
    """
    y = np.asarray(values, dtype=float)
    y = y[np.isfinite(y)]
    if len(y) == 0:
        return 1
    resolution = float(np.ptp(y)) / 1000.0 or 1.0
    distinct = len(np.unique(np.round(y / resolution)))
    return max(1, min(requested, distinct))


def upper_bounds(values: Sequence[float], scheme: str, k: int) -> list[float]:
    """Class upper bounds of ``values`` under ``scheme`` with at most ``k`` classes."""
    check_scheme(scheme)
    y = np.asarray(values, dtype=float)
    k = class_count(y, k)
    if k == 1:
        return [float(y.max())]
    bins = _classifier(y, scheme, k).bins
    bounds = sorted({float(b) for b in bins if b >= y.min()} | {float(y.max())})
    return [b for b in bounds if b <= y.max()]


@dataclass(frozen=True)
class DistinctValueClasses:
    """One class per distinct value: what mapclassify's ``NaturalBreaks`` finds when there
    are at most ``k`` distinct values (its ``bins`` the sorted distinct values, ``yb`` the
    class of each value), found without mapclassify and its scikit-learn."""

    bins: np.ndarray
    yb: np.ndarray

    @classmethod
    def of(cls, y: np.ndarray) -> DistinctValueClasses:
        """The classes of the finite values ``y``."""
        distinct = np.unique(y)
        return cls(bins=distinct, yb=np.searchsorted(distinct, y))


def _classifier(y: np.ndarray, scheme: str, k: int):
    """The fitted mapclassify classifier (seeded: reruns draw the same map).

    ``NaturalBreaks`` of at most ``k`` distinct values gives every distinct value its own
    class (mapclassify does so below ``k``; at ``k`` its k-means puts one centre on each
    value): :class:`DistinctValueClasses`, without importing scikit-learn (about 1 s).
    """
    if scheme == "NaturalBreaks" and np.isfinite(y).all() and len(np.unique(y)) <= k:
        return DistinctValueClasses.of(y)
    classifiers = mapclassify_classifiers(numba=scheme == "FisherJenks" and len(y) > 2000)
    state = np.random.get_state()
    np.random.seed(CLASSIFICATION_SEED)
    try:
        # One OpenMP thread for scikit-learn's KMeans (NaturalBreaks): a few hundred values
        # need no more, and an OpenMP team started here would hang the figure workers that
        # render.drawn_jobs forks (libgomp is not fork-safe).
        with warnings.catch_warnings(), _one_openmp_thread():
            # FisherJenks says it runs without numba: on purpose
            warnings.filterwarnings("ignore", "Numba not installed", UserWarning)
            if scheme in SCHEMES_WITHOUT_K:
                return getattr(classifiers, scheme)(y)
            return getattr(classifiers, scheme)(y, k=k)
    finally:
        np.random.set_state(state)


def _one_openmp_thread() -> contextlib.AbstractContextManager[object]:
    try:
        from threadpoolctl import threadpool_limits  # scikit-learn's own dependency
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="openmp")


def mapclassify_classifiers(*, numba: bool = False) -> ModuleType:
    """``mapclassify.classifiers``, imported without what makes ``import mapclassify`` slow.

    ``import mapclassify`` costs about 2 s per run: its package imports plotting and pooling
    helpers, and ``classifiers`` compiles its one numba function (FisherJenks' inner loop)
    eagerly, at import. The classifiers module is loaded on its own (the package's
    ``__init__`` is not run; a later ``import mapclassify`` still works and reuses it) and,
    unless ``numba``, with numba hidden, so mapclassify uses its pure-Python loop: the same
    breaks, fast for a few thousand values. Classifier names are mapclassify's.
    """
    loaded = sys.modules.get("mapclassify.classifiers")
    if loaded is not None:
        return loaded
    package_spec = importlib.util.find_spec("mapclassify")
    if package_spec is None or not package_spec.submodule_search_locations:
        raise InputError("[maps] classification", "needs the 'mapclassify' package")
    hidden = {} if numba else {"numba": sys.modules.get("numba")}
    stub = "mapclassify" not in sys.modules
    if stub:  # a bare package object, so the relative imports of classifiers resolve
        package = importlib.util.module_from_spec(
            importlib.machinery.ModuleSpec("mapclassify", None, is_package=True)
        )
        package.__path__ = list(package_spec.submodule_search_locations)
        sys.modules["mapclassify"] = package
    try:
        if hidden:
            sys.modules["numba"] = None  # type: ignore[assignment]  # import fails: no njit
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = importlib.import_module("mapclassify.classifiers")
    finally:
        for name, previous in hidden.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
        if stub:  # the real package (its __init__) loads on a later `import mapclassify`
            del sys.modules["mapclassify"]
    return module


def split_at_centre(
    lower: list[float], upper: list[float], values: Sequence[float], centre: float
) -> tuple[list[float], list[float]]:
    """Cut the class that straddles ``centre`` so that every class lies on one side of it.

    A class ``(lower, upper]`` holding values on both sides becomes two classes; holding
    values on one side only, it shrinks to that side (leaving an empty gap at the centre).
    """
    y = np.asarray(values, dtype=float)
    for index, (lo, hi) in enumerate(zip(lower, upper, strict=True)):
        if not lo <= centre < hi:
            continue
        inside = y[(y >= lo) & (y <= hi)] if index == 0 else y[(y > lo) & (y <= hi)]
        below, above = inside[inside <= centre], inside[inside > centre]
        if len(below) and len(above):
            return (
                [*lower[: index + 1], centre, *lower[index + 1 :]],
                [*upper[:index], centre, *upper[index:]],
            )
        if len(above):
            return [*lower[:index], centre, *lower[index + 1 :]], upper
        return lower, [*upper[:index], float(below.max()), *upper[index + 1 :]]
    return lower, upper


def assign(values: Sequence[float], bounds: Sequence[float]) -> tuple[int, ...]:
    """Class index of each value: the first class whose upper bound is >= the value."""
    index = np.searchsorted(np.asarray(bounds, dtype=float), np.asarray(values, dtype=float))
    return tuple(int(i) for i in np.minimum(index, len(bounds) - 1))


def sequential_colours(cmap: str, count: int) -> list[str]:
    """``count`` colours from light to dark along ``cmap`` (skipping its palest end)."""
    positions = [0.5] if count == 1 else np.linspace(0.2, 0.9, count)
    return [colour_at(cmap, float(p)) for p in positions]


def diverging_colours(
    lower: Sequence[float], upper: Sequence[float], cmap: str, centre: float
) -> list[str]:
    """A colour per class: the side of ``centre`` picks the hue, the rank on it the shade.

    On each side the class nearest the centre is palest and the farthest fully saturated,
    with evenly spaced shades between, so neighbouring classes stay distinguishable.
    """
    middle = [(lo + hi) / 2.0 - centre for lo, hi in zip(lower, upper, strict=True)]
    colours = []
    for offset in middle:
        if offset == 0:  # a class holding only the centre value: the neutral colour
            colours.append(colour_at(cmap, 0.5))
            continue
        side = sorted(abs(m) for m in middle if (m > 0) == (offset > 0))
        share = side.index(abs(offset)) / (len(side) - 1) if len(side) > 1 else 0.6
        position = 0.5 + math.copysign(0.12 + 0.33 * share, offset)
        colours.append(colour_at(cmap, position))
    return colours


def classify_values(
    values: Sequence[float],
    *,
    scheme: str,
    k: int,
    cmap: str,
    centre: float | None = None,
) -> Classes:
    """Classify ``values`` and colour the classes (diverging when ``centre`` is given)."""
    raw = np.asarray(values, dtype=float)
    y = snap(raw, centre)
    upper = upper_bounds(y, scheme, k)
    lower = [float(y.min()), *upper[:-1]]
    if centre is not None:
        lower, upper = split_at_centre(lower, upper, y, centre)
    members = assign(y, upper)
    lower, upper = raw_bounds(raw, members, lower, upper)
    if centre is not None:
        colours = diverging_colours(lower, upper, cmap, centre)
    else:
        colours = sequential_colours(cmap, len(upper))
    return Classes(tuple(lower), tuple(upper), members, tuple(colours))


def raw_bounds(
    raw: np.ndarray, members: Sequence[int], lower: list[float], upper: list[float]
) -> tuple[list[float], list[float]]:
    """Bounds moved onto the unrounded values, so ``(lower, upper]`` holds each class's members.

    Each upper bound becomes the largest value of its class; the first lower bound the
    smallest value; other lower bounds the previous upper bound (or a centre cut above it).
    """
    index = np.asarray(members)
    new_upper = [
        float(raw[index == i].max()) if (index == i).any() else bound
        for i, bound in enumerate(upper)
    ]
    new_lower = [float(raw.min())]
    for i in range(1, len(upper)):
        new_lower.append(max(new_upper[i - 1], lower[i]))
    return new_lower, new_upper


def snap(values: np.ndarray, centre: float | None = None) -> np.ndarray:
    """``values`` rounded to 1/1000 of their range, so near-equal values share a class.

    A value is never rounded onto or across ``centre``.
    """
    resolution = float(np.ptp(values)) / 1000.0 if len(values) else 0.0
    if resolution == 0.0 or not np.isfinite(resolution):
        return values
    snapped = np.round(values / resolution) * resolution
    if centre is None:
        return snapped
    same_side = np.sign(values - centre) == np.sign(snapped - centre)
    return np.where(same_side, snapped, values)


# --------------------------------------------------------------------------- shared classes

# Outer edges and breaks are printed with at most this many decimals.
MAX_DECIMALS = 6


@dataclass(frozen=True)
class SharedClasses:
    """One indicator's classes, shared by every year of a study, in the map's unit.

    Class ``i`` holds the values ``v`` (in map units: column value x ``scale``) with
    ``edges[i] <= v < edges[i + 1]``; the last class also holds ``edges[-1]``. ``labels`` are
    the legend texts (``"1,000 – 2,000"``), ``colours`` one hex colour per class; ``centre`` is
    set when the ramp diverges there. ``source`` says where the breaks come from:
    ``"breaks"`` (``[maps.breaks]``), ``"zoning"`` (the EEC/SEC zoning breaks) or the scheme.
    """

    column: str
    stem: str
    scale: float
    edges: tuple[float, ...]
    labels: tuple[str, ...]
    colours: tuple[str, ...]
    centre: float | None
    source: str

    @property
    def count(self) -> int:
        """Number of classes."""
        return len(self.colours)

    @property
    def breaks(self) -> tuple[float, ...]:
        """The inner breaks (map units)."""
        return self.edges[1:-1]

    def column_edges(self) -> tuple[float, ...]:
        """``edges`` in the column's unit (e.g. t CO₂ for ``balance_t``): edges / ``scale``."""
        return tuple(edge / self.scale for edge in self.edges)

    def classify(self, column_values: Sequence[float]) -> np.ndarray:
        """Class index of each value given in the column's unit; -1 where not finite."""
        shown = np.asarray(column_values, dtype=float) * self.scale
        index = np.searchsorted(np.asarray(self.breaks), shown, side="right")
        return np.where(np.isfinite(shown), index, -1)

    def value_colours(self, column_values: Sequence[float], missing: str = "#ffffff") -> list[str]:
        """The class colour of each value (``missing`` where not finite)."""
        return [self.colours[i] if i >= 0 else missing for i in self.classify(column_values)]


def study_classes(
    balance: pd.DataFrame,
    maps: MapSettings,
    zoning: ZoningSettings,
    columns: Collection[str] | None = None,
) -> dict[str, SharedClasses]:
    """Per mapped indicator (keyed by column, e.g. ``"balance_t"``), classes for all years.

    ``balance`` is the carbon-balance table (``carbon_balance.csv``: one row per unit and year,
    the indicator columns in their own units). Values of every year are pooled. Breaks come
    from ``maps.breaks[stem]`` when given (map units), else for ``eec``/``sec`` from
    ``zoning.eec_breaks``/``sec_breaks``, else from ``maps.classification`` with at most
    ``maps.classes`` classes. Breaks outside the values' range are dropped (no empty class).
    Use :meth:`SharedClasses.column_edges` for bounds in the column's unit (QGIS styles).
    ``columns`` limits the indicators to those columns (default: every mapped column).
    """
    zoning_breaks = {"eec": zoning.eec_breaks, "sec": zoning.sec_breaks}
    shared = {}
    for indicator in INDICATORS:
        if indicator.column not in balance.columns:
            continue
        if columns is not None and indicator.column not in columns:
            continue
        given = maps.breaks.get(indicator.stem)
        source = "breaks" if given is not None else maps.classification
        if given is None and indicator.stem in zoning_breaks:
            given, source = zoning_breaks[indicator.stem], "zoning"
        values = balance[indicator.column].to_numpy(dtype=float) * indicator.scale
        shared[indicator.column] = indicator_classes(
            values, indicator, scheme=maps.classification, k=maps.classes,
            breaks=given, source=source,
        )  # fmt: skip
    return shared


def indicator_classes(
    shown: Sequence[float],
    indicator: Indicator,
    *,
    scheme: str = "NaturalBreaks",
    k: int = 5,
    breaks: Sequence[float] | None = None,
    source: str | None = None,
) -> SharedClasses:
    """Classes of ``shown`` (values in map units, all years pooled) for ``indicator``.

    With ``breaks`` those inner breaks are used (those outside the values' range dropped);
    otherwise ``scheme`` finds at most ``k`` classes and each break is the roundest number
    between the largest value of one class and the smallest of the next. The same arguments
    give the same classes, found once per process (the GeoPackage's styles and the maps
    share them).
    """
    values = np.ascontiguousarray(shown, dtype=float)
    given = None if breaks is None else tuple(float(b) for b in breaks)
    return _indicator_classes(values.tobytes(), indicator, scheme, k, given, source)


@functools.lru_cache(maxsize=128)
def _indicator_classes(
    shown: bytes,
    indicator: Indicator,
    scheme: str,
    k: int,
    breaks: tuple[float, ...] | None,
    source: str | None,
) -> SharedClasses:
    y = np.frombuffer(shown, dtype=float)
    y = y[np.isfinite(y)]
    if len(y) == 0:
        y = np.zeros(1)
    centre = indicator.centre
    straddles = centre is not None and bool((y < centre).any() and (y > centre).any())
    if breaks is not None:
        inner = [float(b) for b in breaks if y.min() < b <= y.max()]
        decimals = max((_decimals_of(b) for b in inner), default=0)
    else:
        inner, decimals = data_breaks(y, scheme, k, centre if straddles else None)
    decimals = max(decimals, _range_decimals(y, inner))
    edges = (_round_down(float(y.min()), decimals), *inner, _round_up(float(y.max()), decimals))
    if centre is None:
        colours = sequential_colours(indicator.cmap, len(edges) - 1)
    else:
        colours = diverging_colours(edges[:-1], edges[1:], indicator.cmap, centre)
    return SharedClasses(
        column=indicator.column, stem=indicator.stem, scale=indicator.scale,
        edges=tuple(edges), labels=tuple(range_labels(edges, decimals)),
        colours=tuple(colours), centre=centre if straddles and centre in inner else None,
        source=source or scheme,
    )  # fmt: skip


def data_breaks(
    y: np.ndarray, scheme: str, k: int, centre: float | None = None
) -> tuple[list[float], int]:
    """Inner breaks of ``y`` under ``scheme`` (at most ``k`` classes) and their decimals.

    A class holding values on both sides of ``centre`` is cut there, and ``centre`` itself is
    the break between the two sides.
    """
    check_scheme(scheme)
    k = class_count(y, k)
    if k == 1 or float(np.ptp(y)) < 10.0**-MAX_DECIMALS:  # a legend could not tell them apart
        members = np.zeros(len(y), dtype=int)
    else:
        members = np.asarray(_classifier(snap(y, centre), scheme, k).yb)
    groups = [np.sort(y[members == i]) for i in np.unique(members)]
    if centre is not None:
        groups = [part for g in groups for part in (g[g < centre], g[g >= centre]) if len(part)]
    inner, decimals = [], 0
    for below, above in itertools.pairwise(groups):
        low, high = float(below.max()), float(above.min())
        if centre is not None and low < centre <= high:
            inner.append(float(centre))
            decimals = max(decimals, _decimals_of(centre))
            continue
        value, places = round_between(low, high)
        inner.append(value)
        decimals = max(decimals, places)
    return inner, decimals


def round_between(low: float, high: float) -> tuple[float, int]:
    """The roundest number ``b`` with ``low < b < high`` (else ``high``) and its decimals.

    Tries steps 10^p from coarse to fine, and 5, 2 and 1 times each: 1,234 and 1,890 give
    1,500; 0 and 1 give 0.5; 0.72 and 0.73 give 0.725.
    """
    spread = max(abs(low), abs(high), high - low, 1e-12)
    for power in range(math.ceil(math.log10(spread)) + 1, -MAX_DECIMALS - 1, -1):
        for factor in (5, 2, 1):
            step = factor * 10.0**power
            places = max(0, -power)
            # the next multiple of step above low (the tolerance absorbs 0.72 / 0.01 = 71.999…)
            candidate = round((math.floor(low / step + 1e-9) + 1) * step, places)
            if low < candidate < high:
                return candidate, places
    return high, _decimals_of(high)


def range_labels(edges: Sequence[float], decimals: int) -> list[str]:
    """``"low – high"`` per class with ``decimals`` decimals (one value when low == high)."""
    labels = []
    for low, high in itertools.pairwise(edges):
        low_text, high_text = f"{low:,.{decimals}f}", f"{high:,.{decimals}f}"
        labels.append(low_text if low_text == high_text else f"{low_text} – {high_text}")
    return labels


def _decimals_of(value: float) -> int:
    """Decimals needed to print ``value`` exactly (at most MAX_DECIMALS)."""
    for places in range(MAX_DECIMALS + 1):
        if abs(round(value, places) - value) <= 1e-9 * max(1.0, abs(value)):
            return places
    return MAX_DECIMALS


def _range_decimals(y: np.ndarray, inner: Sequence[float]) -> int:
    """Decimals that show about three significant digits of the smallest class's width."""
    edges = [float(y.min()), *inner, float(y.max())]
    widths = [b - a for a, b in itertools.pairwise(edges) if b > a]
    if not widths:
        magnitude = abs(edges[0]) or 1.0
        return min(MAX_DECIMALS, max(0, 2 - math.floor(math.log10(magnitude))))
    return min(MAX_DECIMALS, max(0, 1 - math.floor(math.log10(min(widths)))))


def _round_down(value: float, decimals: int) -> float:
    factor = 10.0**decimals
    return math.floor(value * factor + 1e-9) / factor


def _round_up(value: float, decimals: int) -> float:
    factor = 10.0**decimals
    return math.ceil(value * factor - 1e-9) / factor
