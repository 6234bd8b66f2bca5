"""Levels and zones: EEC and SEC -> low/medium/high -> one of four carbon-balance zones.

A value below the first break is ``low``, from the first break up to (not including) the
second ``medium``, from the second break up ``high``. The zone of a unit is looked up from its
(EEC level, SEC level) pair in the zone matrix.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from pipeline.model.constants import LEVELS, ZONE_NAMES_ZH, ZONES

Matrix = Mapping[str, tuple[tuple[str, str], ...]]

ZONING_COLUMNS = ["unit", "eec", "sec", "eec_level", "sec_level", "zone", "zone_zh"]


def level_index(values: np.ndarray, breaks: tuple[float, float]) -> np.ndarray:
    """0 (low) below ``breaks[0]``, 1 (medium) up to ``breaks[1]`` (exclusive), else 2 (high).

    Works on arrays of any shape (one value per unit, or draws × units).
    """
    return np.searchsorted(np.asarray(breaks, dtype=float), values, side="right")


def zone_lookup(matrix: Matrix) -> np.ndarray:
    """3 × 3 table: ``table[eec level index, sec level index]`` = index of the zone in ZONES."""
    table = np.full((len(LEVELS), len(LEVELS)), -1, dtype=np.int64)
    for zone, cells in matrix.items():
        for eec_level, sec_level in cells:
            table[LEVELS.index(eec_level), LEVELS.index(sec_level)] = ZONES.index(zone)
    return table


def zone_index(eec: np.ndarray, sec: np.ndarray, rule: Mapping[str, object]) -> np.ndarray:
    """Zone indices (into ZONES) of EEC and SEC arrays of any shape under ``rule``.

    ``rule`` holds ``eec_breaks``, ``sec_breaks`` and ``matrix`` (see :func:`classify`).
    """
    eec_level = level_index(eec, rule["eec_breaks"])  # type: ignore[arg-type]
    sec_level = level_index(sec, rule["sec_breaks"])  # type: ignore[arg-type]
    return zone_lookup(rule["matrix"])[eec_level, sec_level]  # type: ignore[arg-type]


def levels(values: pd.Series, breaks: tuple[float, float]) -> pd.Series:
    """``low`` below ``breaks[0]``, ``medium`` up to ``breaks[1]`` (exclusive), else ``high``."""
    names = np.array(LEVELS, dtype=object)
    index = level_index(values.to_numpy(dtype=float), breaks)
    return pd.Series(names[index], index=values.index, name=values.name)


def zones(eec_level: pd.Series, sec_level: pd.Series, matrix: Matrix) -> pd.Series:
    """Zone id for each (EEC level, SEC level) pair."""
    table = zone_lookup(matrix)
    rows = [LEVELS.index(level) for level in eec_level]
    columns = [LEVELS.index(level) for level in sec_level]
    names = np.array(ZONES, dtype=object)[table[rows, columns]]
    return pd.Series(names, index=eec_level.index, name="zone")


def classify(
    frame: pd.DataFrame,
    *,
    eec_breaks: tuple[float, float],
    sec_breaks: tuple[float, float],
    matrix: Matrix,
) -> pd.DataFrame:
    """Add ``eec_level, sec_level, zone, zone_zh`` to a frame holding ``eec`` and ``sec``."""
    out = frame.copy()
    out["eec_level"] = levels(out["eec"], eec_breaks)
    out["sec_level"] = levels(out["sec"], sec_breaks)
    out["zone"] = zones(out["eec_level"], out["sec_level"], matrix)
    out["zone_zh"] = out["zone"].map(ZONE_NAMES_ZH)
    return out


def year_mean(values_by_year: np.ndarray) -> np.ndarray:
    """The mean over years of values shaped (..., years, units): the ``basis = "mean"`` rule."""
    return values_by_year.mean(axis=-2)


def by_year(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, list[int], list[str]]:
    """``column`` as a (years × units) array, with its years and units (both ascending)."""
    table = frame.pivot(index="year", columns="unit", values=column).sort_index()
    table = table[sorted(table.columns)]
    return table.to_numpy(dtype=float), list(table.index), list(table.columns)


def zoning_table(
    balance: pd.DataFrame,
    *,
    basis: str,
    eec_breaks: tuple[float, float],
    sec_breaks: tuple[float, float],
    matrix: Matrix,
) -> pd.DataFrame:
    """The zoning on the configured basis.

    ``basis = "mean"`` classifies the mean of each unit's yearly EEC and SEC (one row per
    unit, as the paper's Table 3); ``basis = "year"`` classifies each year on its own (one row
    per unit and year, with a ``year`` column).
    """
    rule = {"eec_breaks": eec_breaks, "sec_breaks": sec_breaks, "matrix": matrix}
    if basis == "mean":
        eec, _, units = by_year(balance, "eec")
        sec = by_year(balance, "sec")[0]
        means = pd.DataFrame({"unit": units, "eec": year_mean(eec), "sec": year_mean(sec)})
        return classify(means, **rule)[ZONING_COLUMNS]
    per_year = classify(balance[["unit", "year", "eec", "sec"]], **rule)
    columns = ["unit", "year", *ZONING_COLUMNS[1:]]
    return per_year[columns].sort_values(["year", "unit"]).reset_index(drop=True)
