"""Map classes and palettes: values -> class bins -> colours (pure code, no drawing).

Graduated maps classify a column with a :mod:`mapclassify` scheme (natural breaks by default).
With few units the number of classes is capped at the number of distinct values, so no class
is empty. Diverging maps (balance around 0, EEC and SEC around 1) add the centre as a break, so
no class straddles it, and colour each class by its side of the centre and its rank on that side.
The same classes and colours serve the PNG maps and the QGIS styles of the GeoPackage.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import mapclassify
import numpy as np
from matplotlib import colormaps
from matplotlib.colors import to_hex

from pipeline.errors import InputError
from pipeline.study.settings import MAP_CLASSIFICATIONS

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
    if scheme in SCHEMES_WITHOUT_K:
        bins = mapclassify.classify(y, scheme).bins
    else:
        state = np.random.get_state()
        np.random.seed(CLASSIFICATION_SEED)
        try:
            bins = getattr(mapclassify, scheme)(y, k=k).bins
        finally:
            np.random.set_state(state)
    bounds = sorted({float(b) for b in bins if b >= y.min()} | {float(y.max())})
    return [b for b in bounds if b <= y.max()]


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
    palette = colormaps[cmap]
    positions = [0.5] if count == 1 else np.linspace(0.2, 0.9, count)
    return [to_hex(palette(float(p))) for p in positions]


def diverging_colours(
    lower: Sequence[float], upper: Sequence[float], cmap: str, centre: float
) -> list[str]:
    """A colour per class: the side of ``centre`` picks the hue, the rank on it the shade.

    On each side the class nearest the centre is palest and the farthest fully saturated,
    with evenly spaced shades between, so neighbouring classes stay distinguishable.
    """
    middle = [(lo + hi) / 2.0 - centre for lo, hi in zip(lower, upper, strict=True)]
    palette = colormaps[cmap]
    colours = []
    for offset in middle:
        if offset == 0:  # a class holding only the centre value: the neutral colour
            colours.append(to_hex(palette(0.5)))
            continue
        side = sorted(abs(m) for m in middle if (m > 0) == (offset > 0))
        share = side.index(abs(offset)) / (len(side) - 1) if len(side) > 1 else 0.6
        position = 0.5 + math.copysign(0.12 + 0.33 * share, offset)
        colours.append(to_hex(palette(position)))
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
