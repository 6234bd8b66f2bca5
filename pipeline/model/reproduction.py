"""Compare a run with a published reference table and check the reference's own consistency.

The reference table has the columns of the paper's Table 2: ``year, unit, emission_10kt,
sink_10kt, emission_intensity_t_per_ha, sink_intensity_t_per_ha, eec, sec``. A zoning
reference has ``unit, eec_level, sec_level, zone``. Everything here is pure; the reference is
read by :func:`pipeline.inputs.reference.read_reference`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.model.constants import T_PER_10K_T

# reference column -> (our column, factor turning ours into the reference's unit)
INDEX_COLUMNS: dict[str, tuple[str, float]] = {
    "emission_10kt": ("emission_t", T_PER_10K_T),  # t × 1e-4 = 10⁴ t
    "sink_10kt": ("sink_t", T_PER_10K_T),
    "emission_intensity_t_per_ha": ("emission_intensity_t_per_ha", 1.0),
    "sink_intensity_t_per_ha": ("sink_intensity_t_per_ha", 1.0),
    "eec": ("eec", 1.0),
    "sec": ("sec", 1.0),
}
REFERENCE_COLUMNS = ("year", "unit", *INDEX_COLUMNS)
ZONING_REFERENCE_COLUMNS = ("unit", "eec_level", "sec_level", "zone")
# Printed to two decimals: a recomputed index further than this from the print disagrees.
PRINT_TOLERANCE = 0.015


def compare_indices(balance: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Long table ``unit, year, index, paper, ours, difference, difference_pct``."""
    rows = []
    ours = balance.set_index(["unit", "year"])
    for record in reference.itertuples(index=False):
        key = (record.unit, int(record.year))
        for index, (column, factor) in INDEX_COLUMNS.items():
            paper = float(getattr(record, index))
            value = float(ours.at[key, column]) * factor if key in ours.index else float("nan")
            rows.append((record.unit, key[1], index, paper, value))
    table = pd.DataFrame(rows, columns=["unit", "year", "index", "paper", "ours"])
    table["difference"] = table["ours"] - table["paper"]
    table["difference_pct"] = 100 * table["difference"] / table["paper"]
    return table


def compare_zoning(zoning: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """``unit, paper_zone, our_zone, paper_levels, our_levels, same`` per reference unit."""
    ours = zoning.set_index("unit")
    rows = []
    for record in reference.itertuples(index=False):
        found = record.unit in ours.index
        our_zone = ours.at[record.unit, "zone"] if found else ""
        our_levels = (
            f"{ours.at[record.unit, 'eec_level']}/{ours.at[record.unit, 'sec_level']}"
            if found
            else ""
        )
        rows.append(
            (
                record.unit,
                record.zone,
                our_zone,
                f"{record.eec_level}/{record.sec_level}",
                our_levels,
                record.zone == our_zone,
            )
        )
    columns = ["unit", "paper_zone", "our_zone", "paper_levels", "our_levels", "same"]
    return pd.DataFrame(rows, columns=columns)


def reference_sec_check(reference: pd.DataFrame) -> pd.DataFrame:
    """SEC recomputed from the reference's own emission and sink columns, against its print."""
    table = reference[["year", "unit", "emission_10kt", "sink_10kt", "sec"]].copy()
    years = table["year"]
    sink_share = table["sink_10kt"] / table["sink_10kt"].groupby(years).transform("sum")
    emission_share = table["emission_10kt"] / table["emission_10kt"].groupby(years).transform("sum")
    table["sec_from_columns"] = sink_share / emission_share
    table["ratio"] = table["sec_from_columns"] / table["sec"]
    table["consistent"] = (table["sec_from_columns"] - table["sec"]).abs() <= PRINT_TOLERANCE
    return table


def implied_gdp_shares(reference: pd.DataFrame) -> pd.DataFrame:
    """GDP shares the reference's EEC implies under each definition, and their yearly sums.

    Under ``emission_over_gdp`` Gᵢ/G = (Eᵢ/E) / EEC; under ``gdp_over_emission``
    Gᵢ/G = EEC × (Eᵢ/E). Shares of a consistent table sum to 1 in every year.
    """
    table = reference[["year", "unit", "emission_10kt", "eec"]].copy()
    emission_share = table["emission_10kt"] / table["emission_10kt"].groupby(
        table["year"]
    ).transform("sum")
    table["share_emission_over_gdp"] = emission_share / table["eec"]
    table["share_gdp_over_emission"] = emission_share * table["eec"]
    return table


def implied_areas(reference: pd.DataFrame, balance: pd.DataFrame) -> pd.DataFrame:
    """Unit areas the reference implies (emission ÷ emission intensity) beside ours, in ha."""
    table = reference[["year", "unit", "emission_10kt", "emission_intensity_t_per_ha"]].copy()
    # (10⁴ t ÷ 1e-4 t⁻¹·10⁴ t) / (t/ha) = ha
    table["paper_area_ha"] = (
        table["emission_10kt"] / T_PER_10K_T / table["emission_intensity_t_per_ha"]
    )
    ours = balance[["unit", "year", "area_ha"]].rename(columns={"area_ha": "our_area_ha"})
    table = table.merge(ours, on=["unit", "year"], how="left")
    table["difference_pct"] = 100 * (table["our_area_ha"] / table["paper_area_ha"] - 1)
    return table[["year", "unit", "paper_area_ha", "our_area_ha", "difference_pct"]]


def _markdown(frame: pd.DataFrame, floatfmt: str = ".3f") -> str:
    """A Markdown table; years as integers even where a merge made the column float."""
    formats = [".0f" if column == "year" else floatfmt for column in frame.columns]
    return frame.to_markdown(index=False, floatfmt=formats)


def reproduction_markdown(
    *,
    study_name: str,
    reference_path: Path,
    indices: pd.DataFrame,
    sec_check: pd.DataFrame,
    gdp_shares: pd.DataFrame,
    areas: pd.DataFrame,
    zoning: pd.DataFrame | None = None,
    notes: str | None = None,
) -> str:
    """The reproduction report as Markdown: ours against the paper, and the paper's own checks."""
    parts = [
        f"# Reproduction report: {study_name}",
        f"Reference: `{reference_path.name}`. Emission and sink in 10⁴ t CO₂, intensities in "
        "t/ha; `difference_pct` = (ours − paper) / paper × 100.",
        "## Summary",
        _markdown(_summary(indices), ".4f"),
    ]
    if zoning is not None:
        same = int(zoning["same"].sum())
        parts += [f"## Zoning: {same} of {len(zoning)} units as published", _markdown(zoning)]
    parts += [
        "## Every index, unit and year",
        _markdown(indices.sort_values(["index", "year", "unit"])),
        "## The paper's own consistency",
        "### SEC recomputed from the paper's emission and sink columns",
        "`consistent` is false where the printed SEC differs from (Aᵢ/A)/(Eᵢ/E) by more than "
        f"{PRINT_TOLERANCE} (rounding of a two-decimal print).",
        _markdown(sec_check),
        "### GDP shares implied by the printed EEC under each definition",
        "A consistent definition gives shares that sum to 1 in each year.",
        _markdown(gdp_shares),
        _markdown(_share_sums(gdp_shares)),
        "### Unit areas implied by emission ÷ emission intensity",
        _markdown(areas, ".1f"),
    ]
    if notes:
        parts += ["## Notes on the reference", notes.strip()]
    return "\n\n".join(parts) + "\n"


def _summary(indices: pd.DataFrame) -> pd.DataFrame:
    grouped = indices.groupby(["index", "year"])
    return grouped.agg(
        max_abs_difference=("difference", lambda d: d.abs().max()),
        max_abs_difference_pct=("difference_pct", lambda d: d.abs().max()),
    ).reset_index()


def _share_sums(gdp_shares: pd.DataFrame) -> pd.DataFrame:
    columns = ["share_emission_over_gdp", "share_gdp_over_emission"]
    return gdp_shares.groupby("year")[columns].sum().reset_index()
