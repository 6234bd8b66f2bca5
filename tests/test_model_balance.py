"""The model's formulas against hand-computed values, and its invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import InputError
from pipeline.model.balance import (
    carbon_balance,
    coefficient_t_per_ha,
    extensions_last,
    share_ratio,
    sinks,
)
from pipeline.model.constants import DEFAULT_SINK_T_PER_HA, DEFAULT_ZONE_MATRIX
from pipeline.model.zoning import zoning_table
from tests.conftest import TOY_AREAS, TOY_STATISTICS

RESDC_CLASS = {11: "cropland", 21: "forest", 31: "grassland", 41: "water", 51: "built_up"}


def toy_balance(**overrides: object) -> pd.DataFrame:
    areas = TOY_AREAS.assign(**{"class": TOY_AREAS["code"].map(RESDC_CLASS)})
    options = {
        "respiration_t_per_10k_people": 3285.0,
        "energy_t_co2_per_tce": 2.66,
        "sink_t_per_ha": DEFAULT_SINK_T_PER_HA,
    } | overrides
    table = carbon_balance(TOY_STATISTICS, areas, **options)  # type: ignore[arg-type]
    return table.set_index(["unit", "year"])


def test_emissions_by_hand() -> None:
    row = toy_balance().loc[("A", 2015)]
    assert row["emission_respiration_t"] == pytest.approx(32850.0)  # 3285 t × 10 (10⁴ people)
    assert row["emission_energy_t"] == pytest.approx(2660.0)  # 2.66 t/tce × 1000 tce
    assert row["emission_t"] == pytest.approx(35510.0)


def test_sink_area_balance_and_intensities_by_hand() -> None:
    row = toy_balance().loc[("A", 2015)]
    assert row["area_ha"] == pytest.approx(200.0)  # 100 cropland + 50 forest + 50 built-up
    assert row["sink_t"] == pytest.approx(293.5)  # 1.16 × 100 + 3.55 × 50 + 0 × 50
    assert row["balance_t"] == pytest.approx(35216.5)  # 35510 − 293.5
    assert row["emission_intensity_t_per_ha"] == pytest.approx(177.55)  # 35510 / 200
    assert row["sink_intensity_t_per_ha"] == pytest.approx(1.4675)  # 293.5 / 200
    other = toy_balance().loc[("B", 2015)]
    assert other["sink_t"] == pytest.approx(46.6)  # 2.56 × 10 water + 0.021 × 1000 grassland


def test_indices_by_hand() -> None:
    # 2015: E = 35510 + 73680 = 109190 t, G = 400 亿元, A = 293.5 + 46.6 = 340.1 t
    table = toy_balance()
    assert table.loc[("A", 2015), "eec"] == pytest.approx(
        0.768727, rel=1e-6
    )  # (100/400)/(35510/109190)
    assert table.loc[("B", 2015), "eec"] == pytest.approx(
        1.111462, rel=1e-6
    )  # (300/400)/(73680/109190)
    assert table.loc[("A", 2015), "sec"] == pytest.approx(
        2.653589, rel=1e-6
    )  # (293.5/340.1)/(35510/109190)
    assert table.loc[("B", 2015), "sec"] == pytest.approx(
        0.2030545, rel=1e-6
    )  # (46.6/340.1)/(73680/109190)


def test_compensation_rate_by_hand() -> None:
    table = toy_balance()
    # sink ÷ emission: 293.5 t / 35510 t (A 2015), 46.6 t / 73680 t (B 2015)
    assert table.loc[("A", 2015), "compensation_rate"] == pytest.approx(0.00826528, rel=1e-6)
    assert table.loc[("B", 2015), "compensation_rate"] == pytest.approx(0.000632465, rel=1e-6)


def test_compensation_rate_comes_after_the_contract_columns() -> None:
    frame = pd.DataFrame(columns=["unit", "compensation_rate", "eec", "zone"])
    assert list(extensions_last(frame).columns) == ["unit", "eec", "zone", "compensation_rate"]


def test_printed_equation_6_is_the_reciprocal_share_ratio() -> None:
    table = toy_balance(eec_definition="emission_over_gdp")
    assert table.loc[("A", 2015), "eec"] == pytest.approx(
        1.300852, rel=1e-6
    )  # (35510/109190)/(100/400)


def test_custom_coefficients_are_used() -> None:
    row = toy_balance(respiration_t_per_10k_people=1000.0, energy_t_co2_per_tce=2.0).loc[
        ("A", 2015)
    ]
    assert row["emission_t"] == pytest.approx(1000.0 * 10 + 2.0 * 1000)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("population_10k", 0.0, "emission_t = 0"),
        ("gdp_100m_yuan", 0.0, "total gdp_100m_yuan = 0"),
    ],
)
def test_undefined_indices_name_the_unit(column: str, value: float, message: str) -> None:
    statistics = TOY_STATISTICS.copy()
    if column == "population_10k":
        statistics.loc[0, ["population_10k", "energy_tce"]] = 0.0
    else:
        statistics.loc[statistics["year"] == 2015, column] = value
    areas = TOY_AREAS.assign(**{"class": TOY_AREAS["code"].map(RESDC_CLASS)})
    with pytest.raises(InputError, match=message) as error:
        carbon_balance(
            statistics,
            areas,
            respiration_t_per_10k_people=3285.0,
            energy_t_co2_per_tce=2.66,
            sink_t_per_ha=DEFAULT_SINK_T_PER_HA,
            source="stats.csv",
        )
    assert "stats.csv" in str(error.value)
    assert "2015" in str(error.value)


def test_unit_without_land_is_an_error() -> None:
    areas = TOY_AREAS.assign(**{"class": TOY_AREAS["code"].map(RESDC_CLASS)})
    areas = areas[~((areas["unit"] == "B") & (areas["year"] == 2020))]
    with pytest.raises(InputError, match=r"unit 'B', year 2020: no land area"):
        carbon_balance(
            TOY_STATISTICS,
            areas,
            respiration_t_per_10k_people=3285.0,
            energy_t_co2_per_tce=2.66,
            sink_t_per_ha=DEFAULT_SINK_T_PER_HA,
        )


positive = st.floats(min_value=0.01, max_value=1e6, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(positive, positive, positive), min_size=1, max_size=12))
def test_weighted_means_of_the_indices_are_one(rows: list[tuple[float, float, float]]) -> None:
    gdp, emission, sink = (pd.Series(column) for column in zip(*rows, strict=True))
    years = pd.Series([2020] * len(rows))
    eec_printed = share_ratio(emission, gdp, years)  # (Eᵢ/E)/(Gᵢ/G), the paper's Eq. 6
    eec_default = share_ratio(gdp, emission, years)  # (Gᵢ/G)/(Eᵢ/E)
    sec = share_ratio(sink, emission, years)
    assert np.average(eec_printed, weights=gdp) == pytest.approx(1.0, rel=1e-9)
    assert np.average(eec_default, weights=emission) == pytest.approx(1.0, rel=1e-9)
    assert np.average(sec, weights=emission) == pytest.approx(1.0, rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.floats(min_value=1e-3, max_value=1e3))
def test_zones_do_not_change_when_every_sink_coefficient_is_scaled(factor: float) -> None:
    scaled = {name: value * factor for name, value in DEFAULT_SINK_T_PER_HA.items()}
    rule = {"basis": "year", "eec_breaks": (0.5, 1.0), "sec_breaks": (1.0, 2.0),
            "matrix": DEFAULT_ZONE_MATRIX}  # fmt: skip
    before = zoning_table(toy_balance().reset_index(), **rule)
    after = zoning_table(toy_balance(sink_t_per_ha=scaled).reset_index(), **rule)
    pd.testing.assert_series_equal(before["zone"], after["zone"])
    np.testing.assert_allclose(before["sec"], after["sec"], rtol=1e-9)


def test_a_per_code_coefficient_replaces_its_class_only_for_that_code() -> None:
    areas = pd.DataFrame(
        {
            "unit": ["A"] * 4,
            "year": [2020] * 4,
            "code": [8, 1, 14, 16],
            "class": ["forest", "forest", "cropland", "unused"],
            "area_ha": [10.0, 20.0, 5.0, 7.0],
        }
    )
    by_class = {"forest": 3.55, "cropland": 1.16}
    coefficient = coefficient_t_per_ha(areas, by_class, {8: 2.0, 16: 0.5})
    assert coefficient.tolist() == [2.0, 3.55, 1.16, 0.5]
    # 10 × 2.0 + 20 × 3.55 + 5 × 1.16 + 7 × 0.5 = 20 + 71 + 5.8 + 3.5 = 100.3 t
    assert sinks(areas, by_class, {8: 2.0, 16: 0.5})["sink_t"].item() == pytest.approx(100.3)
    assert sinks(areas, by_class)["sink_t"].item() == pytest.approx(35.5 + 71 + 5.8)
