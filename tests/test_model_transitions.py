"""Transitions' classes, sink change and dynamic degrees against hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.model import transitions as model
from pipeline.model.constants import DEFAULT_SINK_T_PER_HA

CLASSES = {11: "cropland", 12: "cropland", 21: "forest", 51: "built_up"}
N = model.NODATA_CODE


def raw(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["unit", "year_from", "year_to", "code_from", "code_to", "area_ha"]
    )


# Unit A, 2015 -> 2020 (T = 5 years), in ha:
#   11->11 80, 11->51 20, 21->21 50, 21->11 10, nodata->21 5 (gained), 12->nodata 4 (lost)
UNIT_A = [
    ("A", 2015, 2020, 11, 11, 80.0),
    ("A", 2015, 2020, 11, 51, 20.0),
    ("A", 2015, 2020, 21, 21, 50.0),
    ("A", 2015, 2020, 21, 11, 10.0),
    ("A", 2015, 2020, N, 21, 5.0),
    ("A", 2015, 2020, 12, N, 4.0),
]


def test_sink_change_uses_the_code_coefficient_over_its_class() -> None:
    table = model.code_transitions(raw(UNIT_A), CLASSES, DEFAULT_SINK_T_PER_HA, {21: 4.0})
    change = table.set_index(["code_from", "code_to"])["sink_change_t"]
    # built-up 0.0 − cropland 1.16 = −1.16 t/ha × 20 ha = −23.2 t
    assert change[(11, 51)] == pytest.approx(-23.2)
    # cropland 1.16 − forest's own code coefficient 4.0 = −2.84 t/ha × 10 ha = −28.4 t
    assert change[(21, 11)] == pytest.approx(-28.4)
    assert change[(11, 11)] == 0.0 and change[(21, 21)] == 0.0
    assert np.isnan(change[(N, 21)]) and np.isnan(change[(12, N)])  # no land-use change
    assert table.set_index(["code_from", "code_to"]).loc[(N, 21), "class_from"] == "nodata"
    assert list(table.columns) == model.TRANSITION_TABLE_COLUMNS


def test_codes_outside_the_scheme_are_left_out() -> None:
    table = model.code_transitions(
        raw([*UNIT_A, ("A", 2015, 2020, 99, 11, 3.0)]), CLASSES, DEFAULT_SINK_T_PER_HA
    )
    assert 99 not in set(table["code_from"])


def test_class_level_sums_the_codes_of_each_class() -> None:
    rows = [*UNIT_A, ("A", 2015, 2020, 12, 51, 6.0)]
    codes = model.code_transitions(raw(rows), CLASSES, DEFAULT_SINK_T_PER_HA)
    classes = model.class_transitions(codes).set_index(["class_from", "class_to"])
    # cropland -> built-up: 11->51 20 ha + 12->51 6 ha = 26 ha; −1.16 t/ha × 26 ha = −30.16 t
    assert classes.loc[("cropland", "built_up"), "area_ha"] == pytest.approx(26.0)
    assert classes.loc[("cropland", "built_up"), "sink_change_t"] == pytest.approx(-30.16)
    assert np.isnan(classes.loc[("nodata", "forest"), "sink_change_t"])


def test_summary_comprehensive_dynamic_degree_and_net_sink_change() -> None:
    codes = model.code_transitions(raw(UNIT_A), CLASSES, DEFAULT_SINK_T_PER_HA, {21: 4.0})
    table = model.summary(model.class_transitions(codes)).set_index("unit")
    a = table.loc["A"]
    # land valid in both years: 80 + 20 + 50 + 10 = 160 ha; changed: 20 + 10 = 30 ha
    assert a["land_ha"] == pytest.approx(160.0)
    assert a["changed_ha"] == pytest.approx(30.0)
    # LC = 30 / (2 × 160) / 5 × 100 = 1.875 % per year
    assert a["comprehensive_dynamic_degree_pct_per_year"] == pytest.approx(1.875)
    assert a["gained_from_nodata_ha"] == 5.0 and a["lost_to_nodata_ha"] == 4.0
    assert a["sink_change_t"] == pytest.approx(-23.2 - 28.4)
    assert a["period_years"] == 5
    assert list(table.reset_index().columns) == model.SUMMARY_COLUMNS


def test_study_totals_apply_the_formulas_to_summed_areas() -> None:
    unit_b = [("B", 2015, 2020, 21, 21, 40.0), ("B", 2015, 2020, 21, 51, 40.0)]
    codes = model.code_transitions(raw(UNIT_A + unit_b), CLASSES, DEFAULT_SINK_T_PER_HA)
    table = model.summary(model.class_transitions(codes))
    assert list(table["unit"]) == ["A", "B", model.STUDY_TOTAL]
    total = table.set_index("unit").loc[model.STUDY_TOTAL]
    # land 160 + 80 = 240 ha; changed 30 + 40 = 70 ha; LC = 70 / 480 / 5 × 100
    assert total["comprehensive_dynamic_degree_pct_per_year"] == pytest.approx(70 / 480 / 5 * 100)
    # −23.2 + (1.16 − 3.55) × 10 + (0 − 3.55) × 40 = −23.2 − 23.9 − 142 = −189.1 t
    assert total["sink_change_t"] == pytest.approx(-189.1)


def test_single_dynamic_degree_per_class_and_study() -> None:
    areas = pd.DataFrame(
        [
            ("A", 2015, "cropland", 100.0), ("A", 2020, "cropland", 90.0),
            ("A", 2015, "forest", 60.0), ("A", 2020, "forest", 55.0),
            ("A", 2020, "built_up", 20.0),
            ("B", 2015, "cropland", 50.0), ("B", 2020, "cropland", 80.0),
        ],
        columns=["unit", "year", "class", "area_ha"],
    )  # fmt: skip
    flat = model.dynamics(areas, [(2015, 2020)])
    assert list(flat.columns) == model.DYNAMICS_COLUMNS
    table = flat.set_index(["unit", "class"])
    k = table["single_dynamic_degree_pct_per_year"]
    assert k[("A", "cropland")] == pytest.approx(-2.0)  # (90 − 100) / 100 / 5 × 100
    assert k[("A", "forest")] == pytest.approx(-5 / 60 / 5 * 100)  # −1.667 % per year
    assert np.isnan(k[("A", "built_up")])  # no area in 2015: undefined
    # study cropland: (170 − 150) / 150 / 5 × 100 = 2.667 % per year
    assert k[(model.STUDY_TOTAL, "cropland")] == pytest.approx(20 / 150 / 5 * 100)
    assert table.loc[("B", "cropland"), "change_ha"] == 30.0


def test_dynamic_degree_formulas() -> None:
    assert model.single_dynamic_degree_pct(200.0, 150.0, 10) == pytest.approx(-2.5)
    assert model.comprehensive_dynamic_degree_pct(10.0, 100.0, 5) == pytest.approx(1.0)
    assert np.isnan(model.comprehensive_dynamic_degree_pct(0.0, 0.0, 5))
