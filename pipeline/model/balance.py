"""The carbon-balance model (pure pandas, no I/O).

For unit *i* in year *t* (the paper's Eqs. 1–7):

- E1 = respiration × P          (t CO₂; P in 10⁴ people, respiration in t per 10⁴ people)
- E2 = energy factor × energy   (t CO₂; energy in tce, factor in t CO₂ per tce)
- E  = E1 + E2
- A  = Σ_k sink_k × S_k          (t CO₂; S_k hectares of land class k, sink_k in t/ha; a
  coefficient given per code replaces its class's for that code's land)
- B  = E − A
- emission and sink intensity = E / area, A / area (t/ha of the unit's total land area)
- EEC = (Gᵢ/G) / (Eᵢ/E)         ("gdp_over_emission", default; see the reference README) or
  EEC = (Eᵢ/E) / (Gᵢ/G)         ("emission_over_gdp", the paper's printed Eq. 6)
- SEC = (Aᵢ/A) / (Eᵢ/E)
- compensation rate (碳补偿率) = A / E   (the share of the emission the unit's sinks offset)

G, E and A are totals over all units of the study in the same year.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pandas as pd

from pipeline.errors import InputError
from pipeline.model.constants import LAND_CLASSES

# A number, an array or a series: the array-level rules serve one coefficient set (the
# deterministic model) and N drawn sets (pipeline.model.uncertainty) alike.
Values = TypeVar("Values", float, np.ndarray, pd.Series)

BALANCE_COLUMNS = [
    "unit",
    "year",
    "area_ha",
    "population_10k",
    "gdp_100m_yuan",
    "energy_tce",
    "emission_respiration_t",
    "emission_energy_t",
    "emission_t",
    "sink_t",
    "balance_t",
    "emission_intensity_t_per_ha",
    "sink_intensity_t_per_ha",
    "eec",
    "sec",
    "compensation_rate",
]
# Columns added after the contract's table: written after the zoning columns (eec_level,
# sec_level, zone) so that every earlier column of carbon_balance.csv keeps its position.
EXTENSION_COLUMNS = ("compensation_rate",)


def respiration_emission_t(population_10k: Values, respiration_t_per_10k_people: Values) -> Values:
    """E1 = respiration × P; broadcasts (a column of coefficient draws against a row of units)."""
    # (t CO₂ / 10⁴ people) × (10⁴ people) = t CO₂
    return respiration_t_per_10k_people * population_10k


def energy_emission_t(energy_tce: Values, energy_t_co2_per_tce: Values) -> Values:
    """E2 = energy factor × energy use; broadcasts like :func:`respiration_emission_t`."""
    # (t CO₂ / tce) × tce = t CO₂
    return energy_t_co2_per_tce * energy_tce


def emissions(
    statistics: pd.DataFrame,
    *,
    respiration_t_per_10k_people: float,
    energy_t_co2_per_tce: float,
) -> pd.DataFrame:
    """E1, E2 and E per (unit, year) from population and energy use."""
    frame = statistics[["unit", "year", "population_10k", "gdp_100m_yuan", "energy_tce"]].copy()
    frame["emission_respiration_t"] = respiration_emission_t(
        frame["population_10k"].to_numpy(dtype=float), respiration_t_per_10k_people
    )
    frame["emission_energy_t"] = energy_emission_t(
        frame["energy_tce"].to_numpy(dtype=float), energy_t_co2_per_tce
    )
    frame["emission_t"] = frame["emission_respiration_t"] + frame["emission_energy_t"]
    return frame


def code_coefficient_t_per_ha(
    frame: pd.DataFrame, sink_t_per_ha_by_code: Mapping[int, float] | None, code: str = "code"
) -> pd.Series:
    """Each row's own per-code coefficient (t/ha), NaN where its code has none."""
    if not sink_t_per_ha_by_code or code not in frame.columns:
        return pd.Series(np.nan, index=frame.index)
    by_code = frame[code].map(lambda c: sink_t_per_ha_by_code.get(int(c), float("nan")))
    return by_code.astype(float)


def coefficient_t_per_ha(
    frame: pd.DataFrame,
    sink_t_per_ha: Mapping[str, float],
    sink_t_per_ha_by_code: Mapping[int, float] | None = None,
    *,
    code: str = "code",
    land_class: str = "class",
) -> pd.Series:
    """The sink coefficient (t/ha) of each row: its code's when given, else its class's.

    The one rule for which coefficient a piece of land gets; classes without a coefficient
    sink nothing. ``code`` and ``land_class`` name the columns (e.g. ``code_to``).
    """
    by_class = frame[land_class].map(sink_t_per_ha).astype(float)
    by_code = code_coefficient_t_per_ha(frame, sink_t_per_ha_by_code, code)
    return by_code.fillna(by_class).fillna(0.0)


def code_sinks(
    areas: pd.DataFrame,
    sink_t_per_ha: Mapping[str, float],
    sink_t_per_ha_by_code: Mapping[int, float] | None = None,
) -> pd.DataFrame:
    """``unit, year, class, area_ha, sink_t`` per row of ``areas``: coefficient × area.

    ``areas`` has columns ``unit, year, class, area_ha`` and (for per-code coefficients)
    ``code``; one row per code or class. See :func:`coefficient_t_per_ha`.
    """
    frame = areas[["unit", "year", "class", "area_ha"]].copy()
    # (t / ha) × ha = t CO₂
    frame["sink_t"] = (
        coefficient_t_per_ha(areas, sink_t_per_ha, sink_t_per_ha_by_code) * (frame["area_ha"])
    )
    return frame


@dataclass(frozen=True)
class SinkDesign:
    """Per unit-year: the hectares that take their class's coefficient, per class, and the sink
    of the land whose code has its own coefficient (``[coefficients]`` per code).

    Rows follow ``keys`` (``unit, year``); columns of ``class_area_ha`` follow ``classes``.
    """

    keys: pd.DataFrame
    area_ha: np.ndarray
    classes: tuple[str, ...]
    class_area_ha: np.ndarray
    own_sink_t: np.ndarray


def sink_design(
    areas: pd.DataFrame, sink_t_per_ha_by_code: Mapping[int, float] | None = None
) -> SinkDesign:
    """Split ``areas`` into land taking its class's coefficient and land with its own."""
    own = code_coefficient_t_per_ha(areas, sink_t_per_ha_by_code)
    has_own = own.notna().to_numpy()
    frame = areas[["unit", "year", "class", "area_ha"]].copy()
    frame["own_sink_t"] = own.fillna(0.0).to_numpy() * frame["area_ha"]  # (t / ha) × ha = t
    frame["class_area_ha"] = np.where(has_own, 0.0, frame["area_ha"])
    table = frame.pivot_table(index=["unit", "year"], columns="class", values="class_area_ha",
                              aggfunc="sum", fill_value=0.0)  # fmt: skip
    classes = tuple(c for c in LAND_CLASSES if c in table.columns)
    totals = frame.groupby(["unit", "year"])[["area_ha", "own_sink_t"]].sum().loc[table.index]
    return SinkDesign(
        keys=table.index.to_frame(index=False),
        area_ha=totals["area_ha"].to_numpy(dtype=float),
        classes=classes,
        class_area_ha=table[list(classes)].to_numpy(dtype=float),
        own_sink_t=totals["own_sink_t"].to_numpy(dtype=float),
    )


def sink_from_class_areas(
    class_area_ha: np.ndarray, sink_t_per_ha: np.ndarray, own_sink_t: np.ndarray | float = 0.0
) -> np.ndarray:
    """A = Σ_k sink_k × S_k (+ the sink of land with its own code coefficient) per unit-year.

    ``class_area_ha`` is (unit-years × classes); ``sink_t_per_ha`` is (classes,) or
    (draws × classes). Returns (unit-years,) or (draws × unit-years). The sum runs class by
    class in a fixed order, so one coefficient set gives the same numbers in either shape.
    """
    coefficients = np.asarray(sink_t_per_ha, dtype=float)
    total = np.zeros(coefficients.shape[:-1] + class_area_ha.shape[:1]) + own_sink_t
    for k in range(class_area_ha.shape[1]):
        # (t / ha) × ha = t CO₂
        total = total + coefficients[..., k, None] * class_area_ha[:, k]
    return total


def sink_vector(sink_t_per_ha: Mapping[str, float], classes: Sequence[str]) -> np.ndarray:
    """The coefficients of ``classes`` in that order (a class without one sinks nothing)."""
    return np.array([float(sink_t_per_ha.get(c, 0.0)) for c in classes])


def sinks(
    areas: pd.DataFrame,
    sink_t_per_ha: Mapping[str, float],
    sink_t_per_ha_by_code: Mapping[int, float] | None = None,
) -> pd.DataFrame:
    """Total land area and A = Σ coefficient × area per (unit, year)."""
    design = sink_design(areas, sink_t_per_ha_by_code)
    frame = design.keys.copy()
    frame["area_ha"] = design.area_ha
    coefficients = sink_vector(sink_t_per_ha, design.classes)
    frame["sink_t"] = sink_from_class_areas(design.class_area_ha, coefficients, design.own_sink_t)
    return frame


def sink_by_class(
    areas: pd.DataFrame,
    sink_t_per_ha: Mapping[str, float],
    sink_t_per_ha_by_code: Mapping[int, float] | None = None,
) -> pd.DataFrame:
    """Sink (t CO₂) per unit-year (rows) and land class (columns, in ``LAND_CLASSES`` order)."""
    frame = code_sinks(areas, sink_t_per_ha, sink_t_per_ha_by_code)
    table = frame.pivot_table(index=["unit", "year"], columns="class", values="sink_t",
                              aggfunc="sum", fill_value=0.0)  # fmt: skip
    return table[[c for c in LAND_CLASSES if c in table.columns]]


def class_areas(areas: pd.DataFrame) -> pd.DataFrame:
    """Hectares per unit-year (rows ``unit, year``) and land class (columns, in order)."""
    table = areas.pivot_table(index=["unit", "year"], columns="class", values="area_ha",
                              aggfunc="sum", fill_value=0.0)  # fmt: skip
    return table[[c for c in LAND_CLASSES if c in table.columns]]


def landuse_shares(areas: pd.DataFrame) -> pd.DataFrame:
    """Percent of each unit-year's area (rows ``unit, year``) per land class (columns)."""
    table = class_areas(areas)
    return table.div(table.sum(axis=1), axis=0) * 100.0  # share × 100 = %


def balance_t(emission_t: Values, sink_t: Values) -> Values:
    """B = E − A (t CO₂): positive where the unit emits more than its land absorbs."""
    return emission_t - sink_t


def compensation_rate(sink_t: Values, emission_t: Values) -> Values:
    """碳补偿率 A / E: 1 when the sinks offset the whole emission, below 1 when they fall short."""
    return sink_t / emission_t  # t / t: a ratio


def group_shares(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """xᵢ / Σx with the sum over the entries of the same group (year) along the last axis."""
    shares = np.empty_like(values, dtype=float)
    for group in np.unique(groups):
        members = np.flatnonzero(groups == group)
        contiguous = members[-1] - members[0] + 1 == len(members)  # rows sorted by group
        index = slice(members[0], members[-1] + 1) if contiguous else members  # a view, no copy
        part = values[..., index]
        shares[..., index] = part / part.sum(axis=-1, keepdims=True)
    return shares


def share_ratio_array(numerator: np.ndarray, denominator: np.ndarray, years: np.ndarray):
    """(xᵢ / Σx) / (yᵢ / Σy) along the last axis, the totals taken within each year."""
    return group_shares(numerator, years) / group_shares(denominator, years)


def share_ratio(numerator: pd.Series, denominator: pd.Series, years: pd.Series) -> pd.Series:
    """(xᵢ / Σx) / (yᵢ / Σy), the totals taken over all units of the same year."""
    ratio = share_ratio_array(
        numerator.to_numpy(dtype=float), denominator.to_numpy(dtype=float), years.to_numpy()
    )
    return pd.Series(ratio, index=numerator.index)


def eec_sec(
    gdp_100m_yuan: np.ndarray,
    emission_t: np.ndarray,
    sink_t: np.ndarray,
    years: np.ndarray,
    eec_definition: str,
) -> tuple[np.ndarray, np.ndarray]:
    """EEC and SEC along the last axis (unit-years; leading axes, e.g. draws, broadcast)."""
    if eec_definition == "gdp_over_emission":
        eec = share_ratio_array(np.broadcast_to(gdp_100m_yuan, emission_t.shape), emission_t, years)
    elif eec_definition == "emission_over_gdp":
        eec = share_ratio_array(emission_t, np.broadcast_to(gdp_100m_yuan, emission_t.shape), years)
    else:
        raise ValueError(f"unknown eec_definition {eec_definition!r}")
    return eec, share_ratio_array(sink_t, emission_t, years)


def contribution_indices(frame: pd.DataFrame, eec_definition: str) -> pd.DataFrame:
    """Add ``eec`` and ``sec`` to a frame holding ``year, gdp_100m_yuan, emission_t, sink_t``."""
    out = frame.copy()
    out["eec"], out["sec"] = eec_sec(
        out["gdp_100m_yuan"].to_numpy(dtype=float),
        out["emission_t"].to_numpy(dtype=float),
        out["sink_t"].to_numpy(dtype=float),
        out["year"].to_numpy(),
        eec_definition,
    )
    return out


def carbon_balance(
    statistics: pd.DataFrame,
    areas: pd.DataFrame,
    *,
    respiration_t_per_10k_people: float,
    energy_t_co2_per_tce: float,
    sink_t_per_ha: Mapping[str, float],
    sink_t_per_ha_by_code: Mapping[int, float] | None = None,
    eec_definition: str = "gdp_over_emission",
    source: str = "study inputs",
) -> pd.DataFrame:
    """The whole model: one row per (unit, year) with the columns of ``BALANCE_COLUMNS``.

    ``statistics`` is the tidy statistics frame, ``areas`` the classified land-use areas.
    Inputs that leave an index undefined (zero emission, zero GDP, zero land area) raise an
    :class:`InputError` naming the unit and year.
    """
    frame = emissions(
        statistics,
        respiration_t_per_10k_people=respiration_t_per_10k_people,
        energy_t_co2_per_tce=energy_t_co2_per_tce,
    ).merge(
        sinks(areas, sink_t_per_ha, sink_t_per_ha_by_code),
        on=["unit", "year"],
        how="left",
        validate="1:1",
    )
    frame[["area_ha", "sink_t"]] = frame[["area_ha", "sink_t"]].fillna(0.0)
    _check_defined(frame, eec_definition, source)
    frame["balance_t"] = balance_t(frame["emission_t"], frame["sink_t"])
    frame["emission_intensity_t_per_ha"] = frame["emission_t"] / frame["area_ha"]
    frame["sink_intensity_t_per_ha"] = frame["sink_t"] / frame["area_ha"]
    frame["compensation_rate"] = compensation_rate(frame["sink_t"], frame["emission_t"])
    frame = contribution_indices(frame, eec_definition)
    return frame[BALANCE_COLUMNS].sort_values(["year", "unit"]).reset_index(drop=True)


def extensions_last(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the ``EXTENSION_COLUMNS`` moved to the end (the contract's order first)."""
    later = [c for c in EXTENSION_COLUMNS if c in frame.columns]
    return frame[[c for c in frame.columns if c not in later] + later]


def _check_defined(frame: pd.DataFrame, eec_definition: str, source: str) -> None:
    problems = [
        f"unit {row.unit!r}, year {row.year}: {what}"
        for row in frame.itertuples()
        for what, zero in (
            ("no land area (area_ha = 0): intensities undefined", row.area_ha <= 0),
            ("emission_t = 0: SEC and EEC undefined", row.emission_t <= 0),
            (
                "gdp_100m_yuan = 0: EEC (emission_over_gdp) undefined",
                eec_definition == "emission_over_gdp" and row.gdp_100m_yuan <= 0,
            ),
        )
        if zero
    ]
    gdp_totals = frame.groupby("year")["gdp_100m_yuan"].sum()
    problems += [
        f"year {year}: total gdp_100m_yuan = 0 over all units: EEC undefined"
        for year, total in gdp_totals.items()
        if total <= 0
    ]
    sink_totals = frame.groupby("year")["sink_t"].sum()
    problems += [
        f"year {year}: total sink_t = 0 over all units: SEC undefined"
        for year, total in sink_totals.items()
        if total <= 0
    ]
    if problems:
        raise InputError(source, problems)
