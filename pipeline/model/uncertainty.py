"""How certain is each zone? Coefficient draws propagated through the model and the zoning.

The study gives a distribution for some coefficients (``[uncertainty]``): a sink coefficient
(by land class or scheme code), the respiration coefficient or the energy emission factor;
every other coefficient keeps its value. ``draws`` coefficient sets are drawn and pushed,
all at once as arrays of shape (draws, unit-years), through the same array-level rules the
deterministic model uses (:mod:`pipeline.model.balance`, :mod:`pipeline.model.zoning`):

- E = respiration × P + energy factor × energy use, A = Σ coefficient × area, B = E − A;
- EEC and SEC with the study's totals per year *of that draw*;
- levels and zones with the study's breaks and matrix, on its basis (``mean`` of the years,
  or each ``year``).

Per zoning row the result gives the share of draws falling in each zone, the modal zone (the
most frequent; a tie goes to the zone listed first in ``ZONES``) with its share, and per unit
and year the 5 % and 95 % points of E, A, B, EEC and SEC (``numpy.quantile``, linear).

Distributions: ``("uniform", low, high)`` (every value in [low, high] equally likely) or
``("normal", mean, sd)`` truncated at 0 (a negative draw is drawn again: no coefficient is
negative). Each coefficient has its own random stream from ``(seed, name)``, so a seeded run
repeats exactly and adding a distribution for one coefficient leaves the others' draws alone.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.model import balance, zoning
from pipeline.model.constants import (
    ENERGY_FACTOR_KEY,
    RESPIRATION_KEY,
    UNCERTAINTY_QUANTILES,
    ZONE_NAMES_EN,
    ZONE_NAMES_ZH,
    ZONES,
)

Distribution = tuple[str, float, float]  # ("uniform", low, high) or ("normal", mean, sd)
MAX_REDRAWS = 200  # truncated normal: rounds of drawing negatives again (each halves them)
# The quantities whose 5 % and 95 % points the table gives, by column stem.
INTERVAL_QUANTITIES = ("emission_t", "sink_t", "balance_t", "eec", "sec")


def probability_column(zone: str) -> str:
    """The column holding the share of draws in ``zone`` (``probability_sink_function``)."""
    return f"probability_{zone}"


def interval_columns(quantity: str) -> tuple[str, str]:
    """The columns of the 5 % and 95 % points of ``quantity`` (``emission_t_p05``, ``_p95``)."""
    low, high = (round(q * 100) for q in UNCERTAINTY_QUANTILES)
    return f"{quantity}_p{low:02d}", f"{quantity}_p{high:02d}"


UNCERTAINTY_COLUMNS = [
    "unit",
    "year",
    "zone",
    "modal_zone",
    "modal_zone_zh",
    "modal_zone_en",
    "modal_probability",
    *(probability_column(zone) for zone in ZONES),
    *(column for quantity in INTERVAL_QUANTITIES for column in interval_columns(quantity)),
    "draws",
]


@dataclass(frozen=True)
class CoefficientSet:
    """The model's coefficients by ``[uncertainty]`` name: one value each, or (draws,) arrays.

    ``sinks`` holds land classes (``forest``) and codes with their own coefficient (``"21"``).
    """

    respiration_t_per_10k_people: float | np.ndarray
    energy_t_co2_per_tce: float | np.ndarray
    sinks: Mapping[str, float | np.ndarray]


def coefficient_names(
    sink_t_per_ha: Mapping[str, float], sink_t_per_ha_by_code: Mapping[int, float]
) -> list[str]:
    """Every name a distribution may be given for: respiration, energy factor, the sink
    classes, the codes with their own coefficient."""
    return [RESPIRATION_KEY, ENERGY_FACTOR_KEY, *sink_t_per_ha, *map(str, sink_t_per_ha_by_code)]


def stream(seed: int, name: str) -> np.random.Generator:
    """The random generator of coefficient ``name``: its own stream of ``seed``."""
    return np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])


def draw(distribution: Distribution, draws: int, rng: np.random.Generator) -> np.ndarray:
    """``draws`` values of one distribution (see the module docstring)."""
    kind, first, second = distribution
    if kind == "uniform":
        return first + (second - first) * rng.random(draws)  # exactly ``first`` when equal
    if kind != "normal":
        raise ValueError(f"unknown distribution {kind!r}")
    values = rng.normal(first, second, draws)
    for _ in range(MAX_REDRAWS):
        negative = values < 0
        if not negative.any():
            return values
        values[negative] = rng.normal(first, second, int(negative.sum()))
    raise ValueError(f"normal(mean={first}, sd={second}): too many negative draws")


def draw_coefficients(
    base: CoefficientSet, distributions: Mapping[str, Distribution], draws: int, seed: int
) -> CoefficientSet:
    """``base`` with the coefficients named in ``distributions`` replaced by ``draws`` values."""

    def value(name: str, fixed: float | np.ndarray) -> float | np.ndarray:
        if name not in distributions:
            return fixed
        return draw(distributions[name], draws, stream(seed, name))

    return CoefficientSet(
        respiration_t_per_10k_people=value(RESPIRATION_KEY, base.respiration_t_per_10k_people),
        energy_t_co2_per_tce=value(ENERGY_FACTOR_KEY, base.energy_t_co2_per_tce),
        sinks={name: value(name, fixed) for name, fixed in base.sinks.items()},
    )


@dataclass(frozen=True)
class Draws:
    """The model's quantities for every draw: arrays (draws, unit-years), rows as ``keys``."""

    keys: pd.DataFrame  # unit, year: sorted by year, then unit
    emission_t: np.ndarray
    sink_t: np.ndarray
    balance_t: np.ndarray
    eec: np.ndarray
    sec: np.ndarray


def land_design(
    areas: pd.DataFrame, keys: pd.DataFrame, sink_t_per_ha_by_code: Mapping[int, float]
) -> tuple[list[str], np.ndarray]:
    """Hectares per unit-year (rows of ``keys``) and coefficient name (columns): the land
    taking each class's coefficient, then the land of each code with its own."""
    design = balance.sink_design(areas, sink_t_per_ha_by_code)
    index = pd.MultiIndex.from_frame(keys[["unit", "year"]])
    by_class = pd.DataFrame(design.class_area_ha, columns=list(design.classes),
                            index=pd.MultiIndex.from_frame(design.keys))  # fmt: skip
    codes = sorted(sink_t_per_ha_by_code)
    own = areas[areas["code"].isin(codes)] if codes and "code" in areas.columns else areas[:0]
    by_code = own.pivot_table(index=["unit", "year"], columns="code", values="area_ha",
                              aggfunc="sum", fill_value=0.0)  # fmt: skip
    by_code = by_code.reindex(columns=codes, fill_value=0.0)
    by_code.columns = [str(code) for code in codes]
    table = pd.concat([by_class, by_code], axis=1).reindex(index).fillna(0.0)
    return list(table.columns), table.to_numpy(dtype=float)


def propagate(
    statistics: pd.DataFrame,
    areas: pd.DataFrame,
    coefficients: CoefficientSet,
    sink_t_per_ha_by_code: Mapping[int, float],
    eec_definition: str,
) -> Draws:
    """E, A, B, EEC and SEC of every unit-year under every coefficient draw (vectorised).

    ``coefficients`` holds numbers or (draws,) arrays; the result's arrays are (draws,
    unit-years) (a single draw when nothing is an array).
    """
    stats = statistics.sort_values(["year", "unit"]).reset_index(drop=True)
    keys = stats[["unit", "year"]]
    names, land_ha = land_design(areas, keys, sink_t_per_ha_by_code)
    column = lambda value: np.atleast_1d(np.asarray(value, dtype=float))[:, None]  # noqa: E731
    emission_t = balance.respiration_emission_t(
        stats["population_10k"].to_numpy(dtype=float),
        column(coefficients.respiration_t_per_10k_people),
    ) + balance.energy_emission_t(
        stats["energy_tce"].to_numpy(dtype=float), column(coefficients.energy_t_co2_per_tce)
    )
    sink_coefficients = np.stack(
        np.broadcast_arrays(*(np.atleast_1d(coefficients.sinks.get(n, 0.0)) for n in names)),
        axis=-1,
    )  # (draws, names)
    sink_t = balance.sink_from_class_areas(land_ha, sink_coefficients)
    draws = max(len(emission_t), len(sink_t))
    emission_t = np.broadcast_to(emission_t, (draws, len(keys)))
    sink_t = np.broadcast_to(sink_t, (draws, len(keys)))
    eec, sec = balance.eec_sec(
        stats["gdp_100m_yuan"].to_numpy(dtype=float),
        emission_t,
        sink_t,
        stats["year"].to_numpy(),
        eec_definition,
    )
    return Draws(keys, emission_t, sink_t, balance.balance_t(emission_t, sink_t), eec, sec)


def zone_draws(
    result: Draws, basis: str, rule: Mapping[str, object]
) -> tuple[pd.DataFrame, np.ndarray]:
    """The zone index (into ``ZONES``) of every draw and zoning row: (draws, rows).

    ``basis = "mean"``: one row per unit (units ascending), classified from the mean of its
    yearly EEC and SEC; ``"year"``: one row per unit-year (the rows of ``result.keys``).
    """
    if basis == "year":
        return result.keys, zoning.zone_index(result.eec, result.sec, rule)
    years = result.keys["year"].unique()
    units = result.keys["unit"].iloc[: len(result.keys) // len(years)].to_numpy()
    if not (result.keys["unit"].to_numpy() == np.tile(units, len(years))).all():
        raise ValueError("basis 'mean' needs every unit in every year")
    shape = (len(result.eec), len(years), len(units))
    eec = zoning.year_mean(result.eec.reshape(shape))
    sec = zoning.year_mean(result.sec.reshape(shape))
    return pd.DataFrame({"unit": units}), zoning.zone_index(eec, sec, rule)


def zone_probabilities(zone_index: np.ndarray) -> np.ndarray:
    """Share of draws in each zone: (zones, rows) from zone indices (draws, rows)."""
    return np.stack([(zone_index == z).mean(axis=0) for z in range(len(ZONES))])


def intervals(values: np.ndarray) -> np.ndarray:
    """The 5 % and 95 % points over the draws (axis 0): (2, rows)."""
    return np.quantile(values, UNCERTAINTY_QUANTILES, axis=0)


def zone_uncertainty(
    statistics: pd.DataFrame,
    areas: pd.DataFrame,
    *,
    base: CoefficientSet,
    sink_t_per_ha_by_code: Mapping[int, float],
    distributions: Mapping[str, Distribution],
    draws: int,
    seed: int,
    eec_definition: str,
    basis: str,
    rule: Mapping[str, object],
    zones: pd.DataFrame,
) -> pd.DataFrame:
    """The table ``zone_uncertainty`` (``UNCERTAINTY_COLUMNS``): one row per unit and year.

    ``zones`` is the deterministic zoning table (its ``zone`` is repeated beside the modal
    zone). With ``basis = "mean"`` the zone columns are the unit's (the same in each of its
    years' rows); the intervals are always the year's own.
    """
    drawn = draw_coefficients(base, distributions, draws, seed)
    result = propagate(statistics, areas, drawn, sink_t_per_ha_by_code, eec_definition)
    rows, zone_index = zone_draws(result, basis, rule)
    zone_table = zone_summary(rows, zone_index)
    table = result.keys.copy()
    for quantity in INTERVAL_QUANTITIES:
        low, high = intervals(getattr(result, quantity))
        table[interval_columns(quantity)[0]], table[interval_columns(quantity)[1]] = low, high
    on = ["unit", "year"] if basis == "year" else ["unit"]
    table = table.merge(zone_table, on=on, how="left", validate="many_to_one")
    table = table.merge(zones[[*on, "zone"]], on=on, how="left", validate="many_to_one")
    table["draws"] = draws
    return table[UNCERTAINTY_COLUMNS].sort_values(["year", "unit"]).reset_index(drop=True)


def zone_summary(rows: pd.DataFrame, zone_index: np.ndarray) -> pd.DataFrame:
    """``rows`` with the modal zone (names zh/en), its share and each zone's share."""
    probabilities = zone_probabilities(zone_index)
    modal = np.argmax(probabilities, axis=0)  # a tie: the zone listed first in ZONES
    table = rows.reset_index(drop=True).copy()
    table["modal_zone"] = np.array(ZONES, dtype=object)[modal]
    table["modal_zone_zh"] = table["modal_zone"].map(ZONE_NAMES_ZH)
    table["modal_zone_en"] = table["modal_zone"].map(ZONE_NAMES_EN)
    table["modal_probability"] = probabilities[modal, np.arange(len(table))]
    for number, zone in enumerate(ZONES):
        table[probability_column(zone)] = probabilities[number]
    return table


def zoning_rows(table: pd.DataFrame, basis: str) -> pd.DataFrame:
    """One row per zoning row (per unit for ``basis = "mean"``, else per unit and year)."""
    if basis == "year" or "year" not in table.columns:
        return table
    return table.drop_duplicates("unit").drop(columns="year").reset_index(drop=True)
