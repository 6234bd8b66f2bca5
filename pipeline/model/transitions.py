"""Land-use change: transition matrices, their carbon effect and the dynamic degrees.

Pure pandas on the transitions the zonal pass counted (``unit, year_from, year_to, code_from,
code_to, area_ha``; code :data:`NODATA_CODE` marks a pixel that is nodata in that year):

* the class of each code by the scheme's code -> class mapping; transitions among classes
  are the sums of those among their codes;
* the sink change of a transition, ``(coefficient_to − coefficient_from) × area_ha`` in
  t CO₂, with the coefficient each code gets in the balance (its own per-code coefficient,
  else its class's: :func:`pipeline.model.balance.coefficient_t_per_ha`); pixels nodata in
  one of the years have no sink change (NaN, not a land-use change);
* the single dynamic degree of a class, ``K = (U_b − U_a) / U_a / T × 100`` (% per year),
  ``U_a`` and ``U_b`` its area in the earlier and later year, ``T`` the years between;
* the comprehensive dynamic degree of a unit, ``LC = Σ|ΔLU_i-j| / (2 Σ LU_i) / T × 100``
  (% per year), ``ΔLU_i-j`` the area converted from class ``i`` to another class ``j`` and
  ``Σ LU_i`` the unit's land in the earlier year (pixels valid in both years); the formula
  of 王秀兰, 包玉海 (1999), 土地利用动态变化研究方法探讨, 地理科学进展 18(1): 81–87.

Study totals sum the units' areas first and apply the same formulas to the sums; their rows
carry :data:`STUDY_TOTAL` as ``unit``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from pipeline.model.balance import coefficient_t_per_ha

NODATA_CODE = -1
"""``code_from``/``code_to`` of pixels nodata in that year (gained from / lost to nodata)."""
NODATA_CLASS = "nodata"
STUDY_TOTAL = "(all units)"
"""The ``unit`` of the study-total rows of the dynamics and summary tables."""

PAIR = ["year_from", "year_to"]
TRANSITION_TABLE_COLUMNS = [
    "unit", "year_from", "year_to", "code_from", "class_from", "code_to", "class_to",
    "area_ha", "sink_from_t_per_ha", "sink_to_t_per_ha", "sink_change_t",
]  # fmt: skip
CLASS_TRANSITION_COLUMNS = [
    "unit", "year_from", "year_to", "class_from", "class_to", "area_ha", "sink_change_t",
]  # fmt: skip
DYNAMICS_COLUMNS = [
    "unit", "year_from", "year_to", "period_years", "class", "area_from_ha", "area_to_ha",
    "change_ha", "single_dynamic_degree_pct_per_year",
]  # fmt: skip
SUMMARY_COLUMNS = [
    "unit", "year_from", "year_to", "period_years", "land_ha", "changed_ha",
    "comprehensive_dynamic_degree_pct_per_year", "gained_from_nodata_ha", "lost_to_nodata_ha",
    "sink_change_t",
]  # fmt: skip


def code_transitions(
    transitions: pd.DataFrame,
    classes: Mapping[int, str],
    sink_t_per_ha: Mapping[str, float],
    sink_t_per_ha_by_code: Mapping[int, float] | None = None,
) -> pd.DataFrame:
    """Transitions per code with their classes, coefficients and sink change (t CO₂).

    Rows whose code is not in ``classes`` (codes ignored by ``unknown_codes = "ignore"``)
    are left out, as they are from the areas.
    """
    frame = transitions[["unit", *PAIR, "code_from", "code_to", "area_ha"]].copy()
    lookup = {**{int(code): name for code, name in classes.items()}, NODATA_CODE: NODATA_CLASS}
    frame["class_from"] = frame["code_from"].map(lookup)
    frame["class_to"] = frame["code_to"].map(lookup)
    frame = frame.dropna(subset=["class_from", "class_to"])
    for side in ("from", "to"):
        coefficient = coefficient_t_per_ha(
            frame, sink_t_per_ha, sink_t_per_ha_by_code,
            code=f"code_{side}", land_class=f"class_{side}",
        )  # fmt: skip
        nodata = frame[f"code_{side}"] == NODATA_CODE
        frame[f"sink_{side}_t_per_ha"] = coefficient.where(~nodata, np.nan)
    # (t/ha − t/ha) × ha = t CO₂ per year more (positive) or less (negative) taken up
    frame["sink_change_t"] = (frame["sink_to_t_per_ha"] - frame["sink_from_t_per_ha"]) * frame[
        "area_ha"
    ]
    order = ["unit", *PAIR, "code_from", "code_to"]
    return frame.sort_values(order, ignore_index=True)[TRANSITION_TABLE_COLUMNS]


def class_transitions(code_level: pd.DataFrame) -> pd.DataFrame:
    """Transitions per class (sums over the codes of each class), per unit."""
    keys = ["unit", *PAIR, "class_from", "class_to"]
    grouped = code_level.groupby(keys, sort=True, dropna=False)
    table = grouped.agg(
        area_ha=("area_ha", "sum"),
        sink_change_t=("sink_change_t", lambda s: s.sum(min_count=1)),
    )
    return table.reset_index()[CLASS_TRANSITION_COLUMNS]


def single_dynamic_degree_pct(
    area_from_ha: pd.Series | np.ndarray | float,
    area_to_ha: pd.Series | np.ndarray | float,
    period_years: pd.Series | np.ndarray | float,
) -> np.ndarray:
    """``K = (U_b − U_a) / U_a / T × 100`` (% per year); NaN where ``U_a`` is 0."""
    u_a = np.asarray(area_from_ha, dtype=float)
    u_b = np.asarray(area_to_ha, dtype=float)
    t = np.asarray(period_years, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(u_a > 0, (u_b - u_a) / u_a / t * 100.0, np.nan)


def comprehensive_dynamic_degree_pct(
    changed_ha: pd.Series | np.ndarray | float,
    land_ha: pd.Series | np.ndarray | float,
    period_years: pd.Series | np.ndarray | float,
) -> np.ndarray:
    """``LC = Σ|ΔLU_i-j| / (2 Σ LU_i) / T × 100`` (% per year); NaN without land."""
    changed = np.asarray(changed_ha, dtype=float)
    land = np.asarray(land_ha, dtype=float)
    t = np.asarray(period_years, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(land > 0, changed / (2.0 * land) / t * 100.0, np.nan)


def dynamics(class_areas: pd.DataFrame, pairs: list[tuple[int, int]]) -> pd.DataFrame:
    """Single dynamic degree per unit and class for each year pair, then study totals.

    ``class_areas`` has ``unit, year, class, area_ha`` (the land-use areas, all pixels of
    each year); a class absent in a year has 0 ha there.
    """
    totals = class_areas.groupby(["year", "class"], as_index=False)["area_ha"].sum()
    totals.insert(0, "unit", STUDY_TOTAL)
    areas = pd.concat([class_areas[["unit", "year", "class", "area_ha"]], totals])
    wide = areas.pivot_table(
        index=["unit", "class"], columns="year", values="area_ha", aggfunc="sum", fill_value=0.0
    )
    frames = []
    for year_from, year_to in pairs:
        if year_from not in wide.columns or year_to not in wide.columns:
            continue
        part = pd.DataFrame(
            {
                "area_from_ha": wide[year_from],
                "area_to_ha": wide[year_to],
            }
        ).reset_index()
        part = part[(part["area_from_ha"] > 0) | (part["area_to_ha"] > 0)]
        part.insert(1, "year_from", year_from)
        part.insert(2, "year_to", year_to)
        part.insert(3, "period_years", year_to - year_from)
        part["change_ha"] = part["area_to_ha"] - part["area_from_ha"]
        part["single_dynamic_degree_pct_per_year"] = single_dynamic_degree_pct(
            part["area_from_ha"], part["area_to_ha"], part["period_years"]
        )
        frames.append(part)
    if not frames:
        return pd.DataFrame(columns=DYNAMICS_COLUMNS)
    return _units_then_total(pd.concat(frames, ignore_index=True))[DYNAMICS_COLUMNS]


def summary(class_level: pd.DataFrame) -> pd.DataFrame:
    """Per unit and year pair: land, changed area, LC, nodata changes, net sink change;
    then the study totals."""
    totals = class_level.groupby([*PAIR, "class_from", "class_to"], as_index=False).agg(
        area_ha=("area_ha", "sum"),
        sink_change_t=("sink_change_t", lambda s: s.sum(min_count=1)),
    )
    totals.insert(0, "unit", STUDY_TOTAL)
    frame = pd.concat([class_level, totals], ignore_index=True)
    gained = frame["class_from"] == NODATA_CLASS
    lost = frame["class_to"] == NODATA_CLASS
    valid = ~gained & ~lost
    changed = valid & (frame["class_from"] != frame["class_to"])
    keys = ["unit", *PAIR]
    table = pd.DataFrame(
        {
            "land_ha": frame["area_ha"].where(valid, 0.0),
            "changed_ha": frame["area_ha"].where(changed, 0.0),
            "gained_from_nodata_ha": frame["area_ha"].where(gained, 0.0),
            "lost_to_nodata_ha": frame["area_ha"].where(lost, 0.0),
            "sink_change_t": frame["sink_change_t"].where(valid, 0.0),
        }
    )
    table[keys] = frame[keys]
    table = table.groupby(keys, as_index=False).sum()
    table["period_years"] = table["year_to"] - table["year_from"]
    table["comprehensive_dynamic_degree_pct_per_year"] = comprehensive_dynamic_degree_pct(
        table["changed_ha"], table["land_ha"], table["period_years"]
    )
    return _units_then_total(table)[SUMMARY_COLUMNS]


def _units_then_total(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows by year pair, units in name order, the study total last in each pair."""
    is_total = frame["unit"] == STUDY_TOTAL
    order = frame.assign(_total=is_total).sort_values([*PAIR, "_total", "unit"], kind="stable")
    return order.drop(columns="_total").reset_index(drop=True)


def year_pairs_of(transitions: pd.DataFrame) -> list[tuple[int, int]]:
    """The (earlier, later) year pairs present in a transitions table, in order."""
    pairs = transitions[PAIR].drop_duplicates().itertuples(index=False, name=None)
    return sorted((int(a), int(b)) for a, b in pairs)
