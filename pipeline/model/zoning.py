"""Levels and zones: EEC and SEC -> low/medium/high -> one of four carbon-balance zones.

A value below the first break is ``low``, from the first break up to (not including) the
second ``medium``, from the second break up ``high``. The zone of a unit is looked up from its
(EEC level, SEC level) pair in the zone matrix.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from pipeline.model.constants import LEVELS, ZONE_NAMES_ZH

Matrix = Mapping[str, tuple[tuple[str, str], ...]]

ZONING_COLUMNS = ["unit", "eec", "sec", "eec_level", "sec_level", "zone", "zone_zh"]


def levels(values: pd.Series, breaks: tuple[float, float]) -> pd.Series:
    """``low`` below ``breaks[0]``, ``medium`` up to ``breaks[1]`` (exclusive), else ``high``."""
    index = np.searchsorted(np.asarray(breaks, dtype=float), values.to_numpy(), side="right")
    names = np.array(LEVELS, dtype=object)
    return pd.Series(names[index], index=values.index, name=values.name)


def zones(eec_level: pd.Series, sec_level: pd.Series, matrix: Matrix) -> pd.Series:
    """Zone id for each (EEC level, SEC level) pair."""
    lookup = {cell: zone for zone, cells in matrix.items() for cell in cells}
    pairs = zip(eec_level, sec_level, strict=True)
    return pd.Series([lookup[pair] for pair in pairs], index=eec_level.index, name="zone")


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
        means = balance.groupby("unit", as_index=False, sort=True)[["eec", "sec"]].mean()
        return classify(means, **rule)[ZONING_COLUMNS]
    per_year = classify(balance[["unit", "year", "eec", "sec"]], **rule)
    columns = ["unit", "year", *ZONING_COLUMNS[1:]]
    return per_year[columns].sort_values(["year", "unit"]).reset_index(drop=True)
