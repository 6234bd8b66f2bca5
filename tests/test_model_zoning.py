"""Levels from breaks, zones from the matrix, and the two zoning bases."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.model.constants import DEFAULT_EEC_BREAKS, DEFAULT_SEC_BREAKS, DEFAULT_ZONE_MATRIX
from pipeline.model.zoning import levels, zones, zoning_table


def rule(basis: str, **changes: object) -> dict[str, object]:
    """The default zoning rule on ``basis``, with ``changes``."""
    return {"basis": basis, "eec_breaks": DEFAULT_EEC_BREAKS, "sec_breaks": DEFAULT_SEC_BREAKS,
            "matrix": DEFAULT_ZONE_MATRIX} | changes  # fmt: skip


def test_levels_follow_the_contract_at_the_breaks() -> None:
    values = pd.Series([0.0, 0.49999, 0.5, 0.99999, 1.0, 7.0])
    assert list(levels(values, (0.5, 1.0))) == ["low", "low", "medium", "medium", "high", "high"]


@pytest.mark.parametrize(
    ("eec_level", "sec_level", "zone"),
    [
        ("high", "low", "intensity_control"),
        ("medium", "low", "intensity_control"),
        ("high", "medium", "budget_balance"),
        ("high", "high", "budget_balance"),
        ("medium", "medium", "budget_balance"),
        ("medium", "high", "sink_function"),
        ("low", "high", "sink_function"),
        ("low", "low", "low_carbon_optimisation"),
        ("low", "medium", "low_carbon_optimisation"),
    ],
)
def test_default_matrix_cells(eec_level: str, sec_level: str, zone: str) -> None:
    found = zones(pd.Series([eec_level]), pd.Series([sec_level]), DEFAULT_ZONE_MATRIX)
    assert found.iloc[0] == zone


BALANCE = pd.DataFrame(
    {
        "unit": ["A", "A", "B", "B"],
        "year": [2015, 2020, 2015, 2020],
        "eec": [1.2, 0.7, 0.3, 0.45],  # A: mean 0.95 (medium); B: 0.375 (low)
        "sec": [0.8, 1.4, 2.5, 1.9],  # A: mean 1.1 (medium); B: 2.2 (high)
    }
)


def test_mean_basis_classifies_the_mean_of_the_years() -> None:
    table = zoning_table(BALANCE, **rule("mean")).set_index("unit")
    assert table.loc["A", "eec"] == pytest.approx(0.95)
    assert table.loc["A", "zone"] == "budget_balance"  # (medium, medium)
    assert table.loc["B", "zone"] == "sink_function"  # (low, high)
    assert table.loc["B", "zone_zh"] == "碳汇功能区"


def test_year_basis_classifies_each_year() -> None:
    table = zoning_table(BALANCE, **rule("year")).set_index(["unit", "year"])
    assert table.loc[("A", 2015), "zone"] == "intensity_control"  # (high, low)
    assert table.loc[("B", 2020), "zone"] == "low_carbon_optimisation"  # (low, medium)


def test_custom_matrix_and_breaks_are_used() -> None:
    matrix = {zone: cells for zone, cells in DEFAULT_ZONE_MATRIX.items()}
    matrix["sink_function"], matrix["budget_balance"] = (
        matrix["budget_balance"],
        matrix["sink_function"],
    )
    table = zoning_table(BALANCE, **rule("mean", sec_breaks=(1.0, 3.0), matrix=matrix))
    table = table.set_index("unit")
    assert table.loc["B", "sec_level"] == "medium"  # 2.2 < 3.0
    assert table.loc["A", "zone"] == "sink_function"  # (medium, medium) swapped
