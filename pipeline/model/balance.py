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

G, E and A are totals over all units of the study in the same year.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from pipeline.errors import InputError
from pipeline.model.constants import LAND_CLASSES

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
]


def emissions(
    statistics: pd.DataFrame,
    *,
    respiration_t_per_10k_people: float,
    energy_t_co2_per_tce: float,
) -> pd.DataFrame:
    """E1, E2 and E per (unit, year) from population and energy use."""
    frame = statistics[["unit", "year", "population_10k", "gdp_100m_yuan", "energy_tce"]].copy()
    # (t CO₂ / 10⁴ people) × (10⁴ people) = t CO₂
    frame["emission_respiration_t"] = respiration_t_per_10k_people * frame["population_10k"]
    # (t CO₂ / tce) × tce = t CO₂
    frame["emission_energy_t"] = energy_t_co2_per_tce * frame["energy_tce"]
    frame["emission_t"] = frame["emission_respiration_t"] + frame["emission_energy_t"]
    return frame


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
    if sink_t_per_ha_by_code and code in frame.columns:
        by_code = frame[code].map(lambda c: sink_t_per_ha_by_code.get(int(c), float("nan")))
        by_class = by_code.astype(float).fillna(by_class)
    return by_class.fillna(0.0)


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


def sinks(
    areas: pd.DataFrame,
    sink_t_per_ha: Mapping[str, float],
    sink_t_per_ha_by_code: Mapping[int, float] | None = None,
) -> pd.DataFrame:
    """Total land area and A = Σ coefficient × area per (unit, year)."""
    frame = code_sinks(areas, sink_t_per_ha, sink_t_per_ha_by_code)
    return frame.groupby(["unit", "year"], as_index=False)[["area_ha", "sink_t"]].sum()


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


def share_ratio(numerator: pd.Series, denominator: pd.Series, years: pd.Series) -> pd.Series:
    """(xᵢ / Σx) / (yᵢ / Σy), the totals taken over all units of the same year."""
    numerator_share = numerator / numerator.groupby(years).transform("sum")
    denominator_share = denominator / denominator.groupby(years).transform("sum")
    return numerator_share / denominator_share


def contribution_indices(frame: pd.DataFrame, eec_definition: str) -> pd.DataFrame:
    """Add ``eec`` and ``sec`` to a frame holding ``year, gdp_100m_yuan, emission_t, sink_t``."""
    out = frame.copy()
    years, gdp, emission = out["year"], out["gdp_100m_yuan"], out["emission_t"]
    if eec_definition == "gdp_over_emission":
        out["eec"] = share_ratio(gdp, emission, years)
    elif eec_definition == "emission_over_gdp":
        out["eec"] = share_ratio(emission, gdp, years)
    else:
        raise ValueError(f"unknown eec_definition {eec_definition!r}")
    out["sec"] = share_ratio(out["sink_t"], emission, years)
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
    frame["balance_t"] = frame["emission_t"] - frame["sink_t"]
    frame["emission_intensity_t_per_ha"] = frame["emission_t"] / frame["area_ha"]
    frame["sink_intensity_t_per_ha"] = frame["sink_t"] / frame["area_ha"]
    frame = contribution_indices(frame, eec_definition)
    return frame[BALANCE_COLUMNS].sort_values(["year", "unit"]).reset_index(drop=True)


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
