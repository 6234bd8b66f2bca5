"""Yearbook statistics -> a tidy frame (``unit, year, population_10k, gdp_100m_yuan, energy_tce``).

Energy use is given either as a total (``energy_tce``) or as an intensity per GDP
(``energy_intensity_tce_per_10k_yuan``, 万元GDP能耗). Every check collects all problems and
raises one :class:`InputError` naming the file, the column and the value.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import InputError
from pipeline.names import describe_unmatched, normalise_name

REQUIRED_COLUMNS = ("unit", "year", "population_10k", "gdp_100m_yuan")
ENERGY_TOTAL = "energy_tce"
ENERGY_INTENSITY = "energy_intensity_tce_per_10k_yuan"
NUMERIC_COLUMNS = ("population_10k", "gdp_100m_yuan", ENERGY_TOTAL, ENERGY_INTENSITY)
TIDY_COLUMNS = ["unit", "year", "population_10k", "gdp_100m_yuan", "energy_tce"]
# 1 亿元 (10^8 yuan) = 10^4 万元 (10^4 yuan): tce/万元 × 亿元 × 10^4 = tce
TEN_K_YUAN_PER_100M_YUAN = 1e4


def read_statistics(path: Path) -> pd.DataFrame:
    """Read the statistics table as text columns (parsing and checks follow in :func:`tidy`)."""
    try:
        return pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise InputError(path, f"cannot read statistics CSV: {error}") from None
    except UnicodeDecodeError as error:
        raise InputError(
            path, f"is not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None


def tidy(raw: pd.DataFrame, source: str | Path) -> pd.DataFrame:
    """Check and convert a raw statistics table to the tidy frame.

    Units are normalised (NFKC, whitespace), years and values parsed, energy converted to
    ``energy_tce``. Extra columns (e.g. provenance) are dropped.
    """
    raw = raw.rename(columns=lambda column: normalise_name(column))
    _check_columns(raw, source)
    problems: list[str] = []
    frame = pd.DataFrame({"unit": raw["unit"].map(normalise_name)})
    frame["year"] = _parse_years(raw["year"], problems)
    for column in NUMERIC_COLUMNS:
        if column in raw.columns:
            frame[column] = _parse_non_negative(raw, column, problems)
    _check_blank_units(frame, problems)
    _check_duplicates(frame, problems)
    if problems:
        raise InputError(source, problems)
    if ENERGY_INTENSITY in frame.columns:
        # (tce / 10^4 yuan) × (10^8 yuan) × (10^4 [10^4 yuan] / [10^8 yuan]) = tce
        frame[ENERGY_TOTAL] = (
            frame[ENERGY_INTENSITY] * frame["gdp_100m_yuan"] * TEN_K_YUAN_PER_100M_YUAN
        )
    frame["year"] = frame["year"].astype(int)
    return frame[TIDY_COLUMNS].sort_values(["unit", "year"]).reset_index(drop=True)


def _check_columns(raw: pd.DataFrame, source: str | Path) -> None:
    problems = [f"missing column {c!r}" for c in REQUIRED_COLUMNS if c not in raw.columns]
    energy = [c for c in (ENERGY_TOTAL, ENERGY_INTENSITY) if c in raw.columns]
    if not energy:
        problems.append(f"needs an energy column: {ENERGY_TOTAL!r} or {ENERGY_INTENSITY!r}")
    elif len(energy) == 2:
        problems.append(f"give either {ENERGY_TOTAL!r} or {ENERGY_INTENSITY!r}, not both")
    if problems:
        problems.append(f"columns found: {list(raw.columns)}")
        raise InputError(source, problems)


def _row(index: int) -> str:
    return f"row {index + 2}"  # +1 for the header line, +1 for 1-based counting


def _parse_years(years: pd.Series, problems: list[str]) -> pd.Series:
    parsed = pd.to_numeric(years.str.strip(), errors="coerce")
    bad = parsed.isna() | (parsed % 1 != 0)
    for index in np.flatnonzero(bad.to_numpy()):
        problems.append(f"{_row(index)}, column 'year': not a year: {years.iloc[index]!r}")
    return parsed


def _parse_non_negative(raw: pd.DataFrame, column: str, problems: list[str]) -> pd.Series:
    text = raw[column].str.strip().str.replace(",", "", regex=False)
    parsed = pd.to_numeric(text, errors="coerce")
    for index in np.flatnonzero(parsed.isna().to_numpy()):
        value = raw[column].iloc[index]
        problems.append(f"{_row(index)}, column {column!r}: not a number: {value!r}")
    for index in np.flatnonzero((parsed < 0).to_numpy()):
        value = raw[column].iloc[index]
        problems.append(f"{_row(index)}, column {column!r}: negative value {value}")
    return parsed.astype(float)


def _check_blank_units(frame: pd.DataFrame, problems: list[str]) -> None:
    for index in np.flatnonzero((frame["unit"] == "").to_numpy()):
        problems.append(f"{_row(index)}, column 'unit': empty unit name")


def _check_duplicates(frame: pd.DataFrame, problems: list[str]) -> None:
    duplicated = frame.duplicated(["unit", "year"], keep=False) & frame["year"].notna()
    for (unit, year), group in frame[duplicated].groupby(["unit", "year"], sort=True):
        rows = ", ".join(_row(i) for i in group.index)
        problems.append(f"duplicate (unit, year) ({unit!r}, {int(year)}) in {rows}")


def check_coverage(
    statistics: pd.DataFrame,
    units: Iterable[str],
    years: Iterable[int],
    *,
    source: str | Path,
    units_source: str,
) -> pd.DataFrame:
    """Check that every (unit, year) of the study is present; return the study's rows.

    Units in the statistics but not in ``units`` (or the reverse) are errors naming them,
    with near-miss suggestions (``'清镇' (did you mean '清镇市'?)``); names are never
    silently joined. Rows of other years are dropped.
    """
    study_units, study_years = sorted(set(units)), sorted(set(years))
    table_units = sorted(set(statistics["unit"]))
    problems = [
        f"unit {describe_unmatched(unit, table_units)} of {units_source} has no rows"
        for unit in study_units
        if unit not in table_units
    ]
    problems += [
        f"unit {describe_unmatched(unit, study_units)} is not in {units_source}"
        for unit in table_units
        if unit not in study_units
    ]
    present = set(zip(statistics["unit"], statistics["year"], strict=True))
    problems += [
        f"missing row for unit {unit!r}, year {year}"
        for unit in study_units
        if unit in table_units
        for year in study_years
        if (unit, year) not in present
    ]
    if problems:
        raise InputError(source, problems)
    rows = statistics[statistics["year"].isin(study_years)]
    return rows.reset_index(drop=True)


def load_statistics(path: Path) -> pd.DataFrame:
    """Read and tidy a statistics file (see :func:`tidy`)."""
    return tidy(read_statistics(path), path)
