"""Uncertainty of the zoning: coefficient draws through the model, checked against the
deterministic model run once per draw (an independent, scalar path) and by hand."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pytest

from pipeline.model import balance, uncertainty, zoning
from pipeline.model.constants import (
    DEFAULT_EEC_BREAKS,
    DEFAULT_SEC_BREAKS,
    DEFAULT_SINK_T_PER_HA,
    DEFAULT_ZONE_MATRIX,
    ZONES,
)
from pipeline.model.uncertainty import CoefficientSet, interval_columns, probability_column
from tests.conftest import TOY_AREAS, TOY_STATISTICS

RESDC_CLASS = {11: "cropland", 21: "forest", 31: "grassland", 41: "water", 51: "built_up"}
AREAS = TOY_AREAS.assign(**{"class": TOY_AREAS["code"].map(RESDC_CLASS)})
RULE = {"eec_breaks": DEFAULT_EEC_BREAKS, "sec_breaks": DEFAULT_SEC_BREAKS,
        "matrix": DEFAULT_ZONE_MATRIX}  # fmt: skip
BASE = CoefficientSet(3285.0, 2.66, dict(DEFAULT_SINK_T_PER_HA))


def run(
    distributions: Mapping[str, uncertainty.Distribution],
    *,
    basis: str = "mean",
    draws: int = 200,
    seed: int = 7,
    rule: Mapping[str, object] = RULE,
    base: CoefficientSet = BASE,
    by_code: Mapping[int, float] | None = None,
    statistics: pd.DataFrame = TOY_STATISTICS,
    areas: pd.DataFrame = AREAS,
) -> pd.DataFrame:
    zones = deterministic(base, basis, rule, by_code or {}, statistics, areas)[1]
    return uncertainty.zone_uncertainty(
        statistics, areas, base=base, sink_t_per_ha_by_code=by_code or {},
        distributions=distributions, draws=draws, seed=seed,
        eec_definition="gdp_over_emission", basis=basis, rule=rule, zones=zones,
    )  # fmt: skip


def deterministic(
    coefficients: CoefficientSet,
    basis: str,
    rule: Mapping[str, object],
    by_code: Mapping[int, float],
    statistics: pd.DataFrame = TOY_STATISTICS,
    areas: pd.DataFrame = AREAS,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The deterministic model (pandas, one coefficient set): balance and zoning tables."""
    sinks = {k: float(v) for k, v in coefficients.sinks.items() if not k.isdigit()}
    codes = {int(k): float(v) for k, v in coefficients.sinks.items() if k.isdigit()}
    table = balance.carbon_balance(
        statistics, areas,
        respiration_t_per_10k_people=float(coefficients.respiration_t_per_10k_people),
        energy_t_co2_per_tce=float(coefficients.energy_t_co2_per_tce),
        sink_t_per_ha=sinks, sink_t_per_ha_by_code=codes or dict(by_code),
    )  # fmt: skip
    return table, zoning.zoning_table(table, basis=basis, **rule)  # type: ignore[arg-type]


@pytest.mark.parametrize("basis", ["mean", "year"])
def test_zero_width_ranges_give_the_deterministic_zoning_with_probability_one(basis: str) -> None:
    fixed = {"forest": ("uniform", 3.55, 3.55), "respiration": ("normal", 3285.0, 0.0),
             "energy_factor": ("uniform", 2.66, 2.66), "water": ("normal", 2.56, 0.0)}  # fmt: skip
    table = run(fixed, basis=basis, draws=50)
    balance_table, zones = deterministic(BASE, basis, RULE, {})
    on = ["unit", "year"] if basis == "year" else ["unit"]
    merged = table.merge(zones, on=on, suffixes=("", "_table"))
    assert len(merged) == len(table) == 4
    assert (merged["modal_zone"] == merged["zone_table"]).all()
    assert (merged["zone"] == merged["zone_table"]).all()
    assert (merged["modal_probability"] == 1.0).all()
    probabilities = merged[[probability_column(z) for z in ZONES]].to_numpy()
    assert (probabilities.sum(axis=1) == 1.0).all() and set(np.unique(probabilities)) == {0, 1}
    values = table.merge(balance_table, on=["unit", "year"])
    for quantity in uncertainty.INTERVAL_QUANTITIES:
        low, high = interval_columns(quantity)
        np.testing.assert_allclose(values[low], values[quantity], rtol=1e-12)
        np.testing.assert_allclose(values[high], values[quantity], rtol=1e-12)


def test_intervals_by_hand() -> None:
    # A 2015: E = r × 10 + 2.66 × 1000; r uniform on [3000, 4000] -> E uniform on
    # [32660, 42660]: its 5 % and 95 % points are 32660 + 0.05 × 10000 and + 0.95 × 10000.
    table = run({"respiration": ("uniform", 3000.0, 4000.0)}, draws=10_000, seed=1)
    row = table.set_index(["unit", "year"]).loc[("A", 2015)]
    assert row["emission_t_p05"] == pytest.approx(33160.0, rel=2e-3)
    assert row["emission_t_p95"] == pytest.approx(42160.0, rel=2e-3)
    assert row["sink_t_p05"] == row["sink_t_p95"] == pytest.approx(293.5)  # sinks fixed


def near_break_rule() -> dict[str, object]:
    """The default rule with the SEC medium/high break at unit A's mean SEC (2.4172)."""
    return {**RULE, "sec_breaks": (1.0, 2.4172)}


def test_a_unit_near_a_break_has_split_probabilities() -> None:
    table = run({"forest": ("uniform", 2.5, 4.5)}, rule=near_break_rule(), draws=400)
    row = uncertainty.zoning_rows(table, "mean").set_index("unit").loc["A"]
    high, medium = (
        row[probability_column("sink_function")],
        row[probability_column("budget_balance")],
    )  # (medium, high) and (medium, medium)
    assert 0.1 < high < 0.9 and 0.1 < medium < 0.9
    assert high + medium == pytest.approx(1.0)
    assert row["modal_probability"] == max(high, medium) < 1.0
    far = uncertainty.zoning_rows(table, "mean").set_index("unit").loc["B"]
    assert far["modal_probability"] == 1.0  # B's SEC (0.22) is far from every break


def test_seeded_runs_repeat_exactly_and_seeds_differ() -> None:
    spread = {"forest": ("normal", 3.55, 0.8), "respiration": ("uniform", 3000.0, 3600.0)}
    first, again = run(spread, seed=11), run(spread, seed=11)
    pd.testing.assert_frame_equal(first, again, check_exact=True)
    other = run(spread, seed=12)
    assert not np.array_equal(first["emission_t_p05"], other["emission_t_p05"])


def test_each_coefficient_has_its_own_stream() -> None:
    alone = uncertainty.draw_coefficients(BASE, {"forest": ("uniform", 3, 4)}, 30, 5)
    with_other = uncertainty.draw_coefficients(
        BASE, {"forest": ("uniform", 3, 4), "water": ("uniform", 2, 3)}, 30, 5
    )
    np.testing.assert_array_equal(alone.sinks["forest"], with_other.sinks["forest"])
    assert alone.sinks["water"] == 2.56  # not drawn: the deterministic value


def test_truncated_normal_draws_no_negative_value() -> None:
    values = uncertainty.draw(("normal", 0.1, 1.0), 5000, np.random.default_rng(0))
    assert (values >= 0).all()
    assert 0.5 < values.mean() < 1.2  # a normal truncated at 0 has a larger mean than 0.1


def test_uniform_draws_stay_in_their_interval() -> None:
    values = uncertainty.draw(("uniform", 2.0, 3.0), 5000, np.random.default_rng(0))
    assert values.min() >= 2.0 and values.max() < 3.0
    assert values.mean() == pytest.approx(2.5, abs=0.02)


@pytest.mark.parametrize("basis", ["mean", "year"])
def test_against_the_deterministic_model_run_once_per_draw(basis: str) -> None:
    """The vectorised result equals the pandas model run draw by draw (a scalar loop)."""
    spread = {
        "forest": ("uniform", 2.0, 5.0),
        "respiration": ("normal", 3285.0, 600.0),
        "energy_factor": ("uniform", 2.0, 3.3),
        "cropland": ("normal", 1.16, 0.5),
    }
    # a break near A's SEC: its mean (basis mean) or its 2020 value (basis year)
    rule = near_break_rule() if basis == "mean" else {**RULE, "sec_breaks": (1.0, 2.18)}
    draws, seed = 25, 3
    table = run(spread, basis=basis, draws=draws, seed=seed, rule=rule)
    drawn = uncertainty.draw_coefficients(BASE, spread, draws, seed)
    per_draw, zone_rows = [], []
    for i in range(draws):
        one = CoefficientSet(
            float(np.broadcast_to(drawn.respiration_t_per_10k_people, draws)[i]),
            float(np.broadcast_to(drawn.energy_t_co2_per_tce, draws)[i]),
            {k: float(np.broadcast_to(v, draws)[i]) for k, v in drawn.sinks.items()},
        )
        frame, zones = deterministic(one, basis, rule, {})
        per_draw.append(frame.sort_values(["year", "unit"]).reset_index(drop=True))
        zone_rows.append(zones)
    keys = per_draw[0][["unit", "year"]]
    expected = table.merge(keys, on=["unit", "year"])
    for quantity in uncertainty.INTERVAL_QUANTITIES:
        stacked = np.stack([frame[quantity].to_numpy() for frame in per_draw])
        low, high = np.quantile(stacked, [0.05, 0.95], axis=0)
        np.testing.assert_allclose(expected[interval_columns(quantity)[0]], low, rtol=1e-9)
        np.testing.assert_allclose(expected[interval_columns(quantity)[1]], high, rtol=1e-9)
    on = ["unit", "year"] if basis == "year" else ["unit"]
    counts = pd.concat(zone_rows).groupby(on)["zone"].value_counts().unstack(fill_value=0)
    rows = uncertainty.zoning_rows(table, basis).set_index(on)
    for zone in ZONES:
        share = counts.get(zone, pd.Series(0, index=counts.index)).reindex(rows.index) / draws
        np.testing.assert_allclose(rows[probability_column(zone)], share.to_numpy())
    assert rows["modal_probability"].min() < 1.0  # the check exercises a split unit


def test_a_code_with_its_own_coefficient_can_be_drawn() -> None:
    # code 21 (A's forest, 50 ha each year) with its own coefficient: only it moves
    base = CoefficientSet(3285.0, 2.66, {**DEFAULT_SINK_T_PER_HA, "21": 4.0})
    table = run({"21": ("uniform", 2.0, 2.0)}, base=base, by_code={21: 4.0}, draws=20)
    row = table.set_index(["unit", "year"]).loc[("A", 2015)]
    assert row["sink_t_p05"] == row["sink_t_p95"] == pytest.approx(1.16 * 100 + 2.0 * 50)


def test_many_draws_stay_arrays() -> None:
    # Shape check of the vectorised path: (draws, unit-years) throughout.
    drawn = uncertainty.draw_coefficients(BASE, {"forest": ("uniform", 3, 4)}, 64, 0)
    result = uncertainty.propagate(TOY_STATISTICS, AREAS, drawn, {}, "gdp_over_emission")
    for quantity in uncertainty.INTERVAL_QUANTITIES:
        assert getattr(result, quantity).shape == (64, 4)
    assert np.ptp(result.emission_t, axis=0).max() == 0.0  # emission coefficients fixed
